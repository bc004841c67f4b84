/*
 * jobcfg.c - the job option table and everything that reads it.
 *
 * One row per option. `min`/`max` bound numbers (and list elements for
 * `hidden`); `names` lists an enum's values in enum order. Defaults that
 * depend on other options (the loss that goes with an output, the learning
 * rate that suits an optimizer, the worker count of the machine) are
 * filled in by jobcfg_finish() only where the user gave no value.
 *
 * The defaults are what `{}` should train: on the 8,000 digits, 256 ReLU
 * units with plain SGD, light L2 and shifted copies of the images reach
 * about 97 % in 30 short epochs; without the shifts the net memorises the
 * small training set and stops near 95 %.
 */
#include "traind/jobcfg.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum opt_type { T_TEXT, T_INT, T_REAL, T_SEED, T_ENUM, T_LIST, T_LAYERS };

struct option_row {
	const char *name;
	enum opt_type type;
	size_t offset;
	double min, max;
	int min_exclusive;
	const char *const *names; /* T_ENUM, NULL-terminated */
	const char *def;          /* default, as text, for help */
	const char *help;
};

static const char *const activation_values[] = {"relu", "sigmoid", "tanh", NULL};
static const char *const output_values[] = {"softmax", "sigmoid", NULL};
static const char *const loss_values[] = {"cross_entropy", "mse", NULL};
static const char *const optimizer_values[] = {"sgd", "momentum", "adam", NULL};
static const char *const init_values[] = {"auto", "xavier", "he", "uniform", NULL};
static const char *const augment_values[] = {"none", "shift", NULL};
static const char *const schedule_values[] = {"constant", "cosine", NULL};

#define OFF(f) offsetof(struct job_config, f)

enum {
	K_NAME, K_DATASET, K_HIDDEN, K_ACTIVATION, K_OUTPUT, K_LOSS,
	K_OPTIMIZER, K_LEARNING_RATE, K_MOMENTUM, K_L2, K_BATCH_SIZE, K_EPOCHS,
	K_WORKERS, K_SEED, K_INIT, K_AUGMENT, K_LR_SCHEDULE, K_LAYERS, K_COUNT
};

static const struct option_row options[K_COUNT] = {
	[K_NAME] = {"name", T_TEXT, OFF(name), 0, JOBCFG_NAME_MAX - 1, 0, NULL, "\"\"",
		      "a label for people; the job id names it when empty"},
	[K_DATASET] = {"dataset", T_TEXT, OFF(dataset), 1, JOBCFG_NAME_MAX - 1, 0, NULL,
			 "digits", "a data set registered in the server configuration"},
	[K_HIDDEN] = {"hidden", T_LIST, OFF(hidden), 1, MODEL_MAX_UNITS, 0, NULL, "256",
			"hidden layer sizes, comma-separated, 0..8 layers"},
	[K_ACTIVATION] = {"activation", T_ENUM, OFF(activation), 0, 0, 0, activation_values,
			    "relu", "hidden-layer activation"},
	[K_OUTPUT] = {"output", T_ENUM, OFF(output), 0, 0, 0, output_values, "softmax",
			"output function (softmax goes with cross_entropy; sigmoid with mse or "
			"cross_entropy); defaults to match loss"},
	[K_LOSS] = {"loss", T_ENUM, OFF(loss), 0, 0, 0, loss_values, "cross_entropy",
		      "loss; defaults to match output (softmax: cross_entropy, sigmoid: mse)"},
	[K_OPTIMIZER] = {"optimizer", T_ENUM, OFF(optimizer), 0, 0, 0, optimizer_values, "sgd",
			   "update rule"},
	[K_LEARNING_RATE] = {"learning_rate", T_REAL, OFF(learning_rate), 0, 10, 1, NULL,
			       "0.1", "step size; default 0.1 for sgd, 0.01 for momentum, "
			       "0.001 for adam"},
	[K_MOMENTUM] = {"momentum", T_REAL, OFF(momentum), 0, 0.999, 0, NULL, "0.9",
			  "momentum coefficient (optimizer momentum)"},
	[K_L2] = {"l2", T_REAL, OFF(l2), 0, 1, 0, NULL, "0.0005", "L2 penalty on weights (l2/2 * sum of squares)"},
	[K_BATCH_SIZE] = {"batch_size", T_INT, OFF(batch_size), 1, 1 << 20, 0, NULL, "64",
			    "samples per minibatch"},
	[K_EPOCHS] = {"epochs", T_INT, OFF(epochs), 1, 1 << 20, 0, NULL, "30",
			"passes over the training set"},
	[K_WORKERS] = {"workers", T_INT, OFF(workers), 1, 1 << 20, 0, NULL, "cores",
			 "threads that share each minibatch; results do not depend on it"},
	[K_SEED] = {"seed", T_SEED, OFF(seed), 0, (double)JOBCFG_SEED_MAX, 0, NULL, "1",
		      "seeds the weights and the shuffles"},
	[K_INIT] = {"init", T_ENUM, OFF(init), 0, 0, 0, init_values, "auto",
		      "weight init: auto (he for relu, xavier otherwise), xavier, he, uniform"},
	[K_AUGMENT] = {"augment", T_ENUM, OFF(augment), 0, 0, 0, augment_values, "shift",
		       "training images moved by up to 2 pixels each way (shift), or not"},
	[K_LR_SCHEDULE] = {"lr_schedule", T_ENUM, OFF(lr_schedule), 0, 0, 0, schedule_values,
			   "constant", "learning rate over the run: constant, or cosine decay to 0"},
	[K_LAYERS] = {"layers", T_LAYERS, OFF(layer_specs), 0, MODEL_MAX_SPECS, 0, NULL, "[]",
		      "layer rows (JSON), input first, the output implicit; instead of hidden: "
		      "[{\"type\": \"conv\", \"filters\": 32, \"kernel\": 5, \"padding\": 2}, "
		      "{\"type\": \"maxpool\", \"size\": 2}, {\"type\": \"dense\", "
		      "\"units\": 256}]; conv takes stride (1), padding (0), activation"},
};

void jobcfg_limits_default(struct jobcfg_limits *l, int cores)
{
	if (cores < 1)
		cores = 1;
	l->max_workers = cores > 64 ? cores : 64;
	l->default_workers = cores;
	l->max_batch_size = 8192;
	l->max_epochs = 1000;
	l->max_params = 50u * 1000u * 1000u;
}

void jobcfg_defaults(struct job_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->dataset, sizeof(c->dataset), "digits");
	c->n_hidden = 1;
	c->hidden[0] = 256;
	c->activation = ACT_RELU;
	c->output = OUT_SOFTMAX;
	c->loss = LOSS_CROSS_ENTROPY;
	c->optimizer = OPT_SGD;
	c->learning_rate = 0.1;
	c->momentum = 0.9;
	c->l2 = 0.0005;
	c->batch_size = 64;
	c->epochs = 30;
	c->workers = 0;
	c->seed = 1;
	c->init = INIT_AUTO;
	c->augment = AUGMENT_SHIFT;
}

/* Option index for a key with dashes or underscores, or -1. */
static int option_find(const char *key)
{
	char norm[64];
	size_t i;
	for (i = 0; key[i] && i < sizeof(norm) - 1; i++)
		norm[i] = key[i] == '-' ? '_' : key[i];
	if (key[i])
		return -1;
	norm[i] = '\0';
	for (int k = 0; k < K_COUNT; k++)
		if (strcmp(options[k].name, norm) == 0)
			return k;
	return -1;
}

int jobcfg_has_option(const char *key)
{
	return option_find(key) >= 0;
}

/* Edit distance, to suggest the option a typo meant. */
static int edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 63 || lb > 63)
		return 99;
	int d[64][64];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
			d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
	return d[la][lb];
}

static int unknown_option(const char *key, struct td_error *e)
{
	int best = -1, best_d = 4;
	for (int k = 0; k < K_COUNT; k++) {
		int dist = edit_distance(key, options[k].name);
		if (dist < best_d) {
			best_d = dist;
			best = k;
		}
	}
	char list[512] = "";
	for (int k = 0; k < K_COUNT; k++) {
		strncat(list, options[k].name, sizeof(list) - strlen(list) - 1);
		if (k + 1 < K_COUNT)
			strncat(list, ", ", sizeof(list) - strlen(list) - 1);
	}
	if (best >= 0)
		return td_errorf(e, TD_EINVAL, key,
				 "unknown field \"%.60s\" (did you mean \"%s\"?); fields are %s",
				 key, options[best].name, list);
	return td_errorf(e, TD_EINVAL, key, "unknown field \"%.60s\"; fields are %s", key, list);
}

static void enum_list(const struct option_row *o, char *buf, size_t len)
{
	buf[0] = '\0';
	for (int i = 0; o->names[i]; i++) {
		if (i)
			strncat(buf, ", ", len - strlen(buf) - 1);
		strncat(buf, o->names[i], len - strlen(buf) - 1);
	}
}

static int range_error(const struct option_row *o, const char *field, const char *got,
		       struct td_error *e)
{
	if (o->type == T_INT || o->type == T_SEED || o->type == T_LIST)
		return td_errorf(e, TD_EINVAL, field,
				 "%s must be an integer from %.0f to %.0f, not %s", field, o->min,
				 o->max, got);
	return td_errorf(e, TD_EINVAL, field, "%s must be a number %s %g and <= %g, not %s",
			 field, o->min_exclusive ? ">" : ">=", o->min, o->max, got);
}

static int text_ok(const char *s, int is_dataset)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (is_dataset ? !(isalnum(*p) || *p == '_' || *p == '-' || *p == '.')
			       : (*p < 0x20 || *p == 0x7f))
			return 0;
	}
	return 1;
}

static int set_text(struct job_config *c, int k, const char *v, struct td_error *e)
{
	const struct option_row *o = &options[k];
	size_t n = strlen(v);
	int is_dataset = k == K_DATASET;
	if (n < (size_t)o->min || n > (size_t)o->max || !text_ok(v, is_dataset))
		return td_errorf(e, TD_EINVAL, o->name,
				 is_dataset ? "dataset must be a data set name of 1..63 letters, "
					      "digits, '_', '-' or '.'"
					    : "name must be at most 63 characters without "
					      "control characters");
	char *dst = (char *)c + o->offset;
	memcpy(dst, v, n + 1);
	return 0;
}

static int set_enum(struct job_config *c, int k, const char *v, struct td_error *e)
{
	const struct option_row *o = &options[k];
	for (int i = 0; o->names[i]; i++)
		if (strcmp(o->names[i], v) == 0) {
			*(int *)((char *)c + o->offset) = i;
			return 0;
		}
	char list[128];
	enum_list(o, list, sizeof(list));
	return td_errorf(e, TD_EINVAL, o->name, "%s must be one of %s, not \"%.40s\"", o->name,
			 list, v);
}

static int set_number(struct job_config *c, int k, double v, const char *field, int is_integer,
		      const char *shown, struct td_error *e)
{
	const struct option_row *o = &options[k];
	int needs_int = o->type != T_REAL;
	if (!isfinite(v) || (needs_int && !is_integer) || v < o->min || v > o->max ||
	    (o->min_exclusive && v <= o->min))
		return range_error(o, field, shown, e);
	char *dst = (char *)c + o->offset;
	switch (o->type) {
	case T_INT:
		*(int *)dst = (int)v;
		break;
	case T_SEED:
		*(uint64_t *)dst = (uint64_t)v;
		break;
	case T_REAL:
		*(double *)dst = v;
		break;
	default:
		return td_errorf(e, TD_EINTERNAL, field, "option %s is not a number", field);
	}
	return 0;
}

static void mark_set(struct job_config *c, int k)
{
	c->set_mask |= 1u << k;
}

int jobcfg_set(struct job_config *c, const char *key, const char *value, struct td_error *e)
{
	int k = option_find(key);
	if (k < 0)
		return unknown_option(key, e);
	const struct option_row *o = &options[k];
	int rc = 0;
	switch (o->type) {
	case T_TEXT:
		rc = set_text(c, k, value, e);
		break;
	case T_ENUM:
		rc = set_enum(c, k, value, e);
		break;
	case T_INT:
	case T_SEED:
	case T_REAL: {
		char *end;
		errno = 0;
		double v = strtod(value, &end);
		if (end == value || *end || errno == ERANGE)
			return td_errorf(e, TD_EINVAL, o->name, "%s must be a number, not \"%.40s\"",
					 o->name, value);
		rc = set_number(c, k, v, o->name, v == floor(v), value, e);
		break;
	}
	case T_LIST: {
		/* "128", "5,4", or "" / "none" for no hidden layer. */
		int n = 0, vals[MODEL_MAX_HIDDEN];
		const char *p = value;
		if (strcmp(value, "none") != 0 && *value) {
			for (;;) {
				char *end;
				errno = 0;
				long v = strtol(p, &end, 10);
				char field[32];
				snprintf(field, sizeof(field), "hidden[%d]", n);
				if (end == p || (*end && *end != ',') || errno)
					return td_errorf(e, TD_EINVAL, "hidden",
							 "hidden must be layer sizes separated by "
							 "commas, like 128 or 5,4, not \"%.40s\"",
							 value);
				if (n == MODEL_MAX_HIDDEN)
					return td_errorf(e, TD_EINVAL, "hidden",
							 "hidden may list at most %d layers",
							 MODEL_MAX_HIDDEN);
				if (v < o->min || v > o->max) {
					char got[32];
					snprintf(got, sizeof(got), "%ld", v);
					return range_error(o, field, got, e);
				}
				vals[n++] = (int)v;
				if (!*end)
					break;
				p = end + 1;
			}
		}
		c->n_hidden = n;
		memcpy(c->hidden, vals, sizeof(int) * (size_t)n);
		break;
	}
	case T_LAYERS:
		rc = layerspec_from_text(c->layer_specs, &c->n_layer_specs, value, e);
		break;
	}
	if (rc == 0)
		mark_set(c, k);
	return rc;
}

static const char *json_type_name(const json_t *v)
{
	if (!v)
		return "nothing";
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE: return "true";
	case JSON_FALSE: return "false";
	case JSON_NULL: return "null";
	}
	return "a value";
}

static int set_json_number(struct job_config *c, int k, const json_t *v, const char *field,
			   struct td_error *e)
{
	const struct option_row *o = &options[k];
	char shown[64];
	if (json_is_integer(v)) {
		snprintf(shown, sizeof(shown), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return set_number(c, k, (double)json_integer_value(v), field, 1, shown, e);
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		snprintf(shown, sizeof(shown), "%g", d);
		/* 64.0 is an integer; 64.5 is not. */
		return set_number(c, k, d, field, d == floor(d), shown, e);
	}
	snprintf(shown, sizeof(shown), "%s", json_type_name(v));
	return range_error(o, field, shown, e);
}

int jobcfg_from_json(struct job_config *c, const json_t *obj, struct td_error *e)
{
	if (!json_is_object(obj))
		return td_errorf(e, TD_EINVAL, "", "the job must be a JSON object, not %s",
				 json_type_name(obj));
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)obj, key, v) {
		int k = option_find(key);
		if (k < 0 || strchr(key, '-'))
			return unknown_option(key, e);
		const struct option_row *o = &options[k];
		int rc = 0;
		switch (o->type) {
		case T_TEXT:
		case T_ENUM:
			if (!json_is_string(v)) {
				if (o->type == T_ENUM) {
					char list[128];
					enum_list(o, list, sizeof(list));
					return td_errorf(e, TD_EINVAL, o->name,
							 "%s must be one of %s, not %s", o->name,
							 list, json_type_name(v));
				}
				return td_errorf(e, TD_EINVAL, o->name, "%s must be a string, not %s",
						 o->name, json_type_name(v));
			}
			rc = o->type == T_TEXT ? set_text(c, k, json_string_value(v), e)
					       : set_enum(c, k, json_string_value(v), e);
			break;
		case T_INT:
		case T_SEED:
		case T_REAL:
			rc = set_json_number(c, k, v, o->name, e);
			break;
		case T_LIST: {
			if (!json_is_array(v))
				return td_errorf(e, TD_EINVAL, "hidden",
						 "hidden must be an array of layer sizes like [128], "
						 "not %s", json_type_name(v));
			size_t n = json_array_size(v);
			if (n > MODEL_MAX_HIDDEN)
				return td_errorf(e, TD_EINVAL, "hidden",
						 "hidden may list at most %d layers, not %zu",
						 MODEL_MAX_HIDDEN, n);
			struct job_config tmp = *c;
			for (size_t i = 0; i < n; i++) {
				char field[32];
				snprintf(field, sizeof(field), "hidden[%zu]", i);
				const json_t *x = json_array_get(v, i);
				char shown[64];
				double d = json_is_integer(x) ? (double)json_integer_value(x)
					   : json_is_real(x)  ? json_real_value(x)
							      : NAN;
				if (json_is_number(x))
					snprintf(shown, sizeof(shown), "%g", d);
				else
					snprintf(shown, sizeof(shown), "%s", json_type_name(x));
				if (!isfinite(d) || d != floor(d) || d < o->min || d > o->max)
					return range_error(o, field, shown, e);
				tmp.hidden[i] = (int)d;
			}
			memcpy(c->hidden, tmp.hidden, sizeof(c->hidden));
			c->n_hidden = (int)n;
			break;
		}
		case T_LAYERS:
			rc = layerspec_from_json(c->layer_specs, &c->n_layer_specs, v, e);
			break;
		}
		if (rc)
			return rc;
		mark_set(c, k);
	}
	return 0;
}

int jobcfg_finish(struct job_config *c, const struct jobcfg_limits *lim, struct td_error *e)
{
	int out_set = c->set_mask & (1u << K_OUTPUT);
	int loss_set = c->set_mask & (1u << K_LOSS);
	if (out_set && !loss_set)
		c->loss = c->output == OUT_SOFTMAX ? LOSS_CROSS_ENTROPY : LOSS_MSE;
	if (loss_set && !out_set)
		c->output = c->loss == LOSS_MSE ? OUT_SIGMOID : OUT_SOFTMAX;
	if (c->output == OUT_SOFTMAX && c->loss != LOSS_CROSS_ENTROPY)
		return td_errorf(e, TD_EINVAL, "loss",
				 "loss \"%s\" does not go with output \"softmax\": use "
				 "\"cross_entropy\", or output \"sigmoid\" for mse",
				 loss_name(c->loss));
	if (c->n_layer_specs > 0 && (c->set_mask & (1u << K_HIDDEN)) && c->n_hidden > 0)
		return td_errorf(e, TD_EINVAL, "layers",
				 "give either hidden (a stack of dense layers) or layers (any "
				 "rows), not both");
	if (!(c->set_mask & (1u << K_LEARNING_RATE)))
		c->learning_rate = c->optimizer == OPT_ADAM     ? 0.001
				   : c->optimizer == OPT_MOMENTUM ? 0.01
								  : 0.1;
	if (c->workers == 0)
		c->workers = lim->default_workers < lim->max_workers ? lim->default_workers
								     : lim->max_workers;
	if (c->workers < 1 || c->workers > lim->max_workers)
		return td_errorf(e, TD_EINVAL, "workers",
				 "workers must be an integer from 1 to %d, not %d", lim->max_workers,
				 c->workers);
	if (c->batch_size > lim->max_batch_size)
		return td_errorf(e, TD_EINVAL, "batch_size",
				 "batch_size must be an integer from 1 to %d, not %d",
				 lim->max_batch_size, c->batch_size);
	if (c->epochs > lim->max_epochs)
		return td_errorf(e, TD_EINVAL, "epochs",
				 "epochs must be an integer from 1 to %d, not %d", lim->max_epochs,
				 c->epochs);
	/* The parameter limit needs the data set's shape: model_describe
	 * checks it against lim->max_params. */
	return 0;
}

json_t *jobcfg_to_json(const struct job_config *c)
{
	json_t *o = json_object();
	json_t *hidden = json_array();
	for (int i = 0; i < c->n_hidden; i++)
		json_array_append_new(hidden, json_integer(c->hidden[i]));
	json_object_set_new(o, "name", json_string(c->name));
	json_object_set_new(o, "dataset", json_string(c->dataset));
	json_object_set_new(o, "hidden", hidden);
	json_object_set_new(o, "activation", json_string(activation_name(c->activation)));
	json_object_set_new(o, "output", json_string(output_name(c->output)));
	json_object_set_new(o, "loss", json_string(loss_name(c->loss)));
	json_object_set_new(o, "optimizer", json_string(optimizer_name(c->optimizer)));
	json_object_set_new(o, "learning_rate", json_real(c->learning_rate));
	json_object_set_new(o, "momentum", json_real(c->momentum));
	json_object_set_new(o, "l2", json_real(c->l2));
	json_object_set_new(o, "batch_size", json_integer(c->batch_size));
	json_object_set_new(o, "epochs", json_integer(c->epochs));
	json_object_set_new(o, "workers", json_integer(c->workers));
	json_object_set_new(o, "seed", json_integer((json_int_t)c->seed));
	json_object_set_new(o, "init", json_string(init_name(c->init)));
	json_object_set_new(o, "augment", json_string(augment_values[c->augment]));
	json_object_set_new(o, "lr_schedule", json_string(schedule_values[c->lr_schedule]));
	/* With layers, hidden is [] (the rows say it all), so this reads back. */
	if (c->n_layer_specs > 0)
		json_object_set_new(o, "hidden", json_array());
	json_object_set_new(o, "layers",
			    layerspec_to_json(c->layer_specs, c->n_layer_specs, c->activation));
	return o;
}

void jobcfg_print_help(FILE *f)
{
	for (int k = 0; k < K_COUNT; k++) {
		const struct option_row *o = &options[k];
		char flag[64], range[160];
		snprintf(flag, sizeof(flag), "--%s", o->name);
		for (char *p = flag; *p; p++)
			if (*p == '_')
				*p = '-';
		switch (o->type) {
		case T_ENUM:
			enum_list(o, range, sizeof(range));
			break;
		case T_TEXT:
			snprintf(range, sizeof(range), "text, up to %.0f characters", o->max);
			break;
		case T_LIST:
			snprintf(range, sizeof(range), "0..%d sizes of %.0f..%.0f", MODEL_MAX_HIDDEN,
				 o->min, o->max);
			break;
		case T_LAYERS:
			snprintf(range, sizeof(range), "0..%d rows: conv, maxpool, dense",
				 MODEL_MAX_SPECS);
			break;
		case T_REAL:
			snprintf(range, sizeof(range), "%s%g..%g", o->min_exclusive ? ">" : "",
				 o->min, o->max);
			break;
		default:
			snprintf(range, sizeof(range), "%.0f..%.0f", o->min, o->max);
		}
		fprintf(f, "  %-17s %s\n  %-17s default %s; %s\n", flag, o->help, "", o->def, range);
	}
}
