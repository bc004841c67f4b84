/*
 * layerspec.c - parsing and echoing the job field `layers` (layerspec.h).
 * Every error names the row and key ("layers[1].filters") and the values
 * allowed there.
 */
#include "traind/layerspec.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const kind_names[] = {"dense", "conv", "maxpool"};
static const char *const act_names[] = {"relu", "sigmoid", "tanh"};

/* Which keys each kind takes. */
static const char *const dense_keys[] = {"type", "units", "activation", NULL};
static const char *const conv_keys[] = {"type",    "filters",    "kernel", "stride",
					"padding", "activation", NULL};
static const char *const pool_keys[] = {"type", "size", "stride", NULL};

static int has_key(const char *const *keys, const char *k)
{
	for (int i = 0; keys[i]; i++)
		if (strcmp(keys[i], k) == 0)
			return 1;
	return 0;
}

/* An integer key of row i in lo..hi; absent leaves *out (the default) unless required. */
static int get_int(const json_t *row, size_t i, const char *key, int lo, int hi, int required,
		   int *out, struct td_error *e)
{
	char field[48];
	snprintf(field, sizeof(field), "layers[%zu].%s", i, key);
	const json_t *v = json_object_get(row, key);
	if (!v) {
		if (required)
			return td_errorf(e, TD_EINVAL, field, "%s is missing: give an integer from "
					 "%d to %d", field, lo, hi);
		return 0;
	}
	double d = json_is_integer(v) ? (double)json_integer_value(v)
		   : json_is_real(v)  ? json_real_value(v)
				      : NAN;
	if (!isfinite(d) || d != floor(d) || d < lo || d > hi) {
		char shown[48];
		if (json_is_number(v))
			snprintf(shown, sizeof(shown), "%g", d);
		else
			snprintf(shown, sizeof(shown), "%s", json_is_string(v) ? "a string" : "not a number");
		return td_errorf(e, TD_EINVAL, field, "%s must be an integer from %d to %d, not %s",
				 field, lo, hi, shown);
	}
	*out = (int)d;
	return 0;
}

static int name_index(const char *const *names, int n, const char *s)
{
	for (int i = 0; s && i < n; i++)
		if (strcmp(names[i], s) == 0)
			return i;
	return -1;
}

static int parse_row(struct layer_spec *sp, const json_t *row, size_t i, struct td_error *e)
{
	char field[48];
	snprintf(field, sizeof(field), "layers[%zu]", i);
	if (!json_is_object(row))
		return td_errorf(e, TD_EINVAL, field, "%s must be an object like {\"type\": "
				 "\"conv\", \"filters\": 32, \"kernel\": 5}", field);
	snprintf(field, sizeof(field), "layers[%zu].type", i);
	int kind = name_index(kind_names, 3, json_string_value(json_object_get(row, "type")));
	if (kind < 0)
		return td_errorf(e, TD_EINVAL, field, "%s must be one of dense, conv, maxpool",
				 field);
	const char *const *keys = kind == LAYER_DENSE ? dense_keys
				  : kind == LAYER_CONV ? conv_keys
						       : pool_keys;
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)row, key, v) {
		if (!has_key(keys, key)) {
			char list[96] = "";
			for (int k = 0; keys[k]; k++) {
				if (k)
					strncat(list, ", ", sizeof(list) - strlen(list) - 1);
				strncat(list, keys[k], sizeof(list) - strlen(list) - 1);
			}
			snprintf(field, sizeof(field), "layers[%zu].%.20s", i, key);
			return td_errorf(e, TD_EINVAL, field, "unknown field %s: a %s row takes %s",
					 field, kind_names[kind], list);
		}
	}
	*sp = (struct layer_spec){.kind = (enum layer_kind)kind, .act = -1};
	int rc = 0;
	switch (kind) {
	case LAYER_DENSE:
		rc = get_int(row, i, "units", 1, MODEL_MAX_UNITS, 1, &sp->units, e);
		break;
	case LAYER_CONV:
		sp->stride = 1;
		rc = get_int(row, i, "filters", 1, LAYERSPEC_MAX_FILTERS, 1, &sp->units, e);
		if (!rc)
			rc = get_int(row, i, "kernel", 1, LAYERSPEC_MAX_KERNEL, 1, &sp->kernel, e);
		if (!rc)
			rc = get_int(row, i, "stride", 1, LAYERSPEC_MAX_STRIDE, 0, &sp->stride, e);
		if (!rc)
			rc = get_int(row, i, "padding", 0, sp->kernel - 1, 0, &sp->padding, e);
		break;
	default:
		rc = get_int(row, i, "size", 1, LAYERSPEC_MAX_POOL, 1, &sp->kernel, e);
		sp->stride = sp->kernel;
		if (!rc)
			rc = get_int(row, i, "stride", 1, LAYERSPEC_MAX_POOL, 0, &sp->stride, e);
	}
	if (rc)
		return rc;
	const json_t *a = json_object_get(row, "activation");
	if (a) {
		snprintf(field, sizeof(field), "layers[%zu].activation", i);
		sp->act = name_index(act_names, 3, json_string_value(a));
		if (sp->act < 0)
			return td_errorf(e, TD_EINVAL, field,
					 "%s must be one of relu, sigmoid, tanh", field);
	}
	return 0;
}

int layerspec_from_json(struct layer_spec *specs, int *n, const json_t *arr, struct td_error *e)
{
	if (!json_is_array(arr))
		return td_errorf(e, TD_EINVAL, "layers",
				 "layers must be an array of layer objects like [{\"type\": "
				 "\"conv\", \"filters\": 32, \"kernel\": 5}, {\"type\": "
				 "\"maxpool\", \"size\": 2}]");
	size_t len = json_array_size(arr);
	if (len > MODEL_MAX_SPECS)
		return td_errorf(e, TD_EINVAL, "layers", "layers may list at most %d rows, not %zu",
				 MODEL_MAX_SPECS, len);
	struct layer_spec tmp[MODEL_MAX_SPECS];
	for (size_t i = 0; i < len; i++) {
		int rc = parse_row(&tmp[i], json_array_get(arr, i), i, e);
		if (rc)
			return rc;
	}
	memcpy(specs, tmp, sizeof(tmp[0]) * len);
	*n = (int)len;
	return 0;
}

int layerspec_from_text(struct layer_spec *specs, int *n, const char *text, struct td_error *e)
{
	if (!*text || strcmp(text, "none") == 0) { /* as for hidden: no rows */
		*n = 0;
		return 0;
	}
	json_error_t je;
	json_t *v = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
	if (!v)
		return td_errorf(e, TD_EINVAL, "layers", "layers must be a JSON array of layer "
				 "objects: %.80s (at character %d)", je.text, je.position);
	int rc = layerspec_from_json(specs, n, v, e);
	json_decref(v);
	return rc;
}

json_t *layerspec_to_json(const struct layer_spec *specs, int n, enum activation job_act)
{
	json_t *arr = json_array();
	for (int i = 0; i < n; i++) {
		const struct layer_spec *sp = &specs[i];
		const char *act = act_names[sp->act >= 0 ? sp->act : (int)job_act];
		json_t *r;
		if (sp->kind == LAYER_DENSE)
			r = json_pack("{s:s, s:i, s:s}", "type", "dense", "units", sp->units,
				      "activation", act);
		else if (sp->kind == LAYER_CONV)
			r = json_pack("{s:s, s:i, s:i, s:i, s:i, s:s}", "type", "conv", "filters",
				      sp->units, "kernel", sp->kernel, "stride", sp->stride,
				      "padding", sp->padding, "activation", act);
		else
			r = json_pack("{s:s, s:i, s:i}", "type", "maxpool", "size", sp->kernel,
				      "stride", sp->stride);
		json_array_append_new(arr, r);
	}
	return arr;
}
