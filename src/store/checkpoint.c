/*
 * checkpoint.c - writing and reading checkpoint files (see checkpoint.h).
 *
 * Reading trusts nothing: the magic, the version, the header's length and
 * JSON, every field's type and range, the model's shape against the
 * parameter count, the file's length against header and shape, and the
 * CRC are all checked before a float is used.
 */
#include "traind/checkpoint.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <zlib.h>

#include "config.h"
#include "traind/atomic_file.h"
#include "traind/byteorder.h"
#include "traind/dataset.h"


/* Floats are stored little-endian; a big-endian host swaps. */
static void copy_floats_le(void *dst, const float *src, size_t n)
{
#ifdef WORDS_BIGENDIAN
	unsigned char *d = dst;
	for (size_t i = 0; i < n; i++) {
		uint32_t v;
		memcpy(&v, &src[i], 4);
		td_put_le32(d + 4 * i, v);
	}
#else
	memcpy(dst, src, sizeof(float) * n);
#endif
}

static void read_floats_le(float *dst, const unsigned char *src, size_t n)
{
#ifdef WORDS_BIGENDIAN
	for (size_t i = 0; i < n; i++) {
		uint32_t v = td_get_le32(src + 4 * i);
		memcpy(&dst[i], &v, 4);
	}
#else
	memcpy(dst, src, sizeof(float) * n);
#endif
}

void checkpoint_from_trainer(struct checkpoint *c, const char *job_id, const struct trainer *t,
			     const struct dataset *ds, double test_accuracy)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->job_id, sizeof(c->job_id), "%s", job_id ? job_id : "");
	c->cfg = *trainer_config(t);
	c->shape = *trainer_shape(t);
	snprintf(c->dataset, sizeof(c->dataset), "%s", ds->name);
	c->width = ds->width;
	c->height = ds->height;
	c->n_classes = ds->n_classes;
	c->class_names = ds->class_names;
	c->has_state = 1;
	trainer_get_state(t, &c->state);
	c->n_params = trainer_param_count(t);
	c->n_moments = trainer_moment_count(t);
	c->params = trainer_params(t);
	for (int k = 0; k < c->n_moments; k++)
		c->moment[k] = trainer_moment(t, k);
	c->test_accuracy = test_accuracy;
}

static json_t *header_json(const struct checkpoint *c)
{
	json_t *layers = json_array(), *classes = json_array();
	for (int l = 0; l <= c->shape.n_layers; l++)
		json_array_append_new(layers, json_integer(c->shape.sizes[l]));
	for (int i = 0; i < c->n_classes; i++)
		json_array_append_new(classes, json_string(c->class_names[i]));
	json_t *rows = json_array(); /* version 2: the layer list */
	for (int l = 0; l < c->shape.n_layers; l++)
		json_array_append_new(rows, model_layer_json(&c->shape, l));
	json_t *state = json_null();
	if (c->has_state)
		state = json_pack("{s:i, s:I, s:I, s:f, s:I, s:I, s:f}", "epoch", c->state.epoch,
				  "step_in_epoch", (json_int_t)c->state.step_in_epoch, "global_step",
				  (json_int_t)c->state.global_step, "epoch_loss_sum",
				  c->state.epoch_loss_sum, "epoch_correct",
				  (json_int_t)c->state.epoch_correct, "epoch_samples",
				  (json_int_t)c->state.epoch_samples, "epoch_seconds",
				  c->state.epoch_seconds);
	return json_pack("{s:s, s:s, s:o, s:o, s:o, s:s, s:s, s:s, s:s, s:i, s:i, s:o, s:I, s:i, s:o, s:o}",
			 "format", "traind checkpoint", "job", c->job_id, "config",
			 jobcfg_to_json(&c->cfg), "layers", layers, "model", rows, "activation",
			 activation_name(c->shape.act), "output", output_name(c->shape.out), "loss",
			 loss_name(c->shape.loss), "dataset", c->dataset, "width", c->width, "height",
			 c->height, "classes", classes, "parameters", (json_int_t)c->n_params,
			 "moments", c->n_moments, "state", state, "test_accuracy",
			 isfinite(c->test_accuracy) ? json_real(c->test_accuracy) : json_null());
}

int checkpoint_encode(const struct checkpoint *c, void **buf, size_t *len, struct td_error *e)
{
	*buf = NULL;
	*len = 0;
	json_t *h = header_json(c);
	char *text = h ? json_dumps(h, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
	json_decref(h);
	if (!text)
		return td_errorf(e, TD_ENOMEM, "", "out of memory encoding a checkpoint header");
	size_t H = strlen(text), P = c->n_params, K = (size_t)c->n_moments;
	size_t total = 16 + H + 4 * P * (1 + K) + 4;
	unsigned char *b = malloc(total);
	if (!b) {
		free(text);
		return td_errorf(e, TD_ENOMEM, "", "out of memory for a checkpoint of %zu bytes", total);
	}
	memcpy(b, CHECKPOINT_MAGIC, 8);
	td_put_le32(b + 8, CHECKPOINT_VERSION);
	td_put_le32(b + 12, (uint32_t)H);
	memcpy(b + 16, text, H);
	free(text);
	unsigned char *p = b + 16 + H;
	copy_floats_le(p, c->params, P);
	p += 4 * P;
	for (size_t k = 0; k < K; k++, p += 4 * P)
		copy_floats_le(p, c->moment[k], P);
	uLong crc = crc32(0L, Z_NULL, 0);
	for (size_t off = 0; off < total - 4; off += 1u << 30) {
		size_t n = total - 4 - off < (1u << 30) ? total - 4 - off : (1u << 30);
		crc = crc32(crc, b + off, (uInt)n);
	}
	td_put_le32(b + total - 4, (uint32_t)crc);
	*buf = b;
	*len = total;
	return 0;
}

int checkpoint_save(const char *path, const struct checkpoint *c, struct td_error *e)
{
	void *buf;
	size_t len;
	int rc = checkpoint_encode(c, &buf, &len, e);
	if (rc)
		return rc;
	struct iovec part = {buf, len};
	rc = atomic_write(path, &part, 1, e);
	free(buf);
	return rc;
}

/* ---- reading -------------------------------------------------------- */

static int bad(struct td_error *e, const char *field, const char *what)
{
	return td_errorf(e, TD_EFORMAT, field, "not a valid traind checkpoint: %s", what);
}

static int get_int(json_t *o, const char *key, long long lo, long long hi, long long *out)
{
	json_t *v = json_object_get(o, key);
	if (!json_is_integer(v))
		return -1;
	long long x = json_integer_value(v);
	if (x < lo || x > hi)
		return -1;
	*out = x;
	return 0;
}

static int enum_index(const char *name, const char *(*namer)(int), int count)
{
	for (int i = 0; i < count; i++)
		if (strcmp(namer(i), name) == 0)
			return i;
	return -1;
}

static const char *act_namer(int i) { return activation_name((enum activation)i); }
static const char *out_namer(int i) { return output_name((enum output_kind)i); }
static const char *loss_namer(int i) { return loss_name((enum loss_kind)i); }

void checkpoint_free(struct checkpoint *c)
{
	if (!c)
		return;
	if (c->owns_names && c->class_names) {
		for (int i = 0; i < c->n_classes; i++)
			free(c->class_names[i]);
		free(c->class_names);
	}
	free(c->owned);
	memset(c, 0, sizeof(*c));
}

/* Version 2: the model is what the config describes for the stored input
 * (model_describe); the stored sizes and rows must be exactly that. */
static int shape_from_config(json_t *h, int a, int o, int loss, struct checkpoint *c, int n_classes,
			     struct td_error *e)
{
	struct model_input in = {.width = c->width, .height = c->height, .channels = 1,
				 .classes = n_classes};
	struct td_error se;
	if (model_describe(&c->shape, &c->cfg, &in, 0, &se))
		return bad(e, "config", se.msg);
	json_t *sizes = json_array(), *rows = json_array();
	for (int l = 0; l <= c->shape.n_layers; l++)
		json_array_append_new(sizes, json_integer(c->shape.sizes[l]));
	for (int l = 0; l < c->shape.n_layers; l++)
		json_array_append_new(rows, model_layer_json(&c->shape, l));
	int same = json_equal(sizes, json_object_get(h, "layers")) &&
		   json_equal(rows, json_object_get(h, "model")) &&
		   (int)c->shape.act == a && (int)c->shape.out == o && (int)c->shape.loss == loss;
	json_decref(sizes);
	json_decref(rows);
	return same ? 0 : bad(e, "model", "its layer list does not match its config");
}

/* Version 1: a dense stack from the stored widths. */
static int shape_from_sizes(json_t *h, int a, int o, int l, struct checkpoint *c,
			    struct td_error *e)
{
	json_t *layers = json_object_get(h, "layers");
	size_t nl = json_array_size(layers);
	if (!json_is_array(layers) || nl < 2 || nl > MODEL_MAX_LAYERS + 1)
		return bad(e, "layers", "layers must list 2 to 10 sizes");
	int sizes[MODEL_MAX_LAYERS + 1];
	for (size_t i = 0; i < nl; i++) {
		json_t *x = json_array_get(layers, i);
		if (!json_is_integer(x) || json_integer_value(x) < 1 ||
		    json_integer_value(x) > MODEL_MAX_INPUTS)
			return bad(e, "layers", "a layer size is not a number from 1 to 65536");
		sizes[i] = (int)json_integer_value(x);
	}
	struct td_error se;
	if (model_shape_make(&c->shape, sizes[0], sizes + 1, (int)nl - 2, sizes[nl - 1],
			     (enum activation)a, (enum output_kind)o, (enum loss_kind)l, &se))
		return bad(e, "layers", se.msg);
	return 0;
}

/* The class names (their count is checked against the outputs). */
static int parse_class_names(json_t *classes, struct checkpoint *c, struct td_error *e)
{
	size_t nc = json_array_size(classes);
	c->n_classes = (int)nc;
	c->owns_names = 1;
	c->class_names = calloc(nc, sizeof(char *));
	if (!c->class_names)
		return td_errorf(e, TD_ENOMEM, "", "out of memory");
	for (size_t i = 0; i < nc; i++) {
		const char *name = json_string_value(json_array_get(classes, i));
		if (!name || !*name || strlen(name) > 63 || !(c->class_names[i] = strdup(name)))
			return bad(e, "classes", "a class name is not a string of 1 to 63 bytes");
	}
	return 0;
}

/* The training position of a checkpoint that has one ("state"). */
static int parse_state(json_t *h, struct checkpoint *c, struct td_error *e)
{
	json_t *st = json_object_get(h, "state");
	c->has_state = json_is_object(st);
	if (c->has_state) {
		long long ep, sie, gs, ec, es;
		json_t *ls = json_object_get(st, "epoch_loss_sum"), *sec = json_object_get(st, "epoch_seconds");
		if (get_int(st, "epoch", 0, 1 << 20, &ep) || get_int(st, "step_in_epoch", 0, (long long)1 << 40, &sie) ||
		    get_int(st, "global_step", 0, (long long)1 << 50, &gs) ||
		    get_int(st, "epoch_correct", 0, (long long)1 << 50, &ec) ||
		    get_int(st, "epoch_samples", 0, (long long)1 << 50, &es) || !json_is_number(ls) ||
		    !json_is_number(sec))
			return bad(e, "state", "its training state is incomplete");
		c->state = (struct trainer_state){(int)ep, (long)sie, (long)gs, json_number_value(ls),
						  (long)ec, (long)es, json_number_value(sec)};
		if (c->n_moments != optim_moments(c->cfg.optimizer))
			return bad(e, "moments", "the moment count does not match the optimizer");
	}
	return 0;
}

static int parse_header(json_t *h, int version, struct checkpoint *c, struct td_error *e)
{
	long long v;
	if (!json_is_object(h))
		return bad(e, "header", "its header is not a JSON object");
	const char *job = json_string_value(json_object_get(h, "job"));
	const char *dataset = json_string_value(json_object_get(h, "dataset"));
	const char *act = json_string_value(json_object_get(h, "activation"));
	const char *out = json_string_value(json_object_get(h, "output"));
	const char *loss = json_string_value(json_object_get(h, "loss"));
	if (!job || !dataset || !act || !out || !loss || strlen(job) >= sizeof(c->job_id) ||
	    strlen(dataset) >= sizeof(c->dataset))
		return bad(e, "header", "job, dataset, activation, output or loss is missing");
	snprintf(c->job_id, sizeof(c->job_id), "%s", job);
	snprintf(c->dataset, sizeof(c->dataset), "%s", dataset);
	int a = enum_index(act, act_namer, 3), o = enum_index(out, out_namer, 2),
	    l = enum_index(loss, loss_namer, 2);
	if (a < 0 || o < 0 || l < 0)
		return bad(e, "header", "unknown activation, output or loss");
	if (version < 2 && shape_from_sizes(h, a, o, l, c, e))
		return TD_EFORMAT;
	json_t *cfg = json_object_get(h, "config");
	jobcfg_defaults(&c->cfg);
	struct td_error ce;
	if (jobcfg_from_json(&c->cfg, cfg, &ce))
		return td_errorf(e, TD_EFORMAT, "config", "not a valid traind checkpoint: its "
				 "config is invalid: %s", ce.msg);
	struct jobcfg_limits lim;
	jobcfg_limits_default(&lim, 1);
	lim.max_workers = lim.default_workers = POOL_MAX_WORKERS;
	lim.max_params = (size_t)-1;
	lim.max_batch_size = 1 << 20;
	lim.max_epochs = 1 << 20;
	if (jobcfg_finish(&c->cfg, &lim, &ce))
		return td_errorf(e, TD_EFORMAT, "config", "not a valid traind checkpoint: its "
				 "config is invalid: %s", ce.msg);
	if (version < 2 &&
	    (c->cfg.n_hidden != c->shape.n_layers - 1 || c->cfg.activation != c->shape.act ||
	     c->cfg.output != c->shape.out || c->cfg.loss != c->shape.loss))
		return bad(e, "config", "its config does not describe its layers");
	for (int i = 0; version < 2 && i < c->cfg.n_hidden; i++)
		if (c->cfg.hidden[i] != c->shape.sizes[i + 1])
			return bad(e, "config", "its config does not describe its layers");
	long long w, hgt;
	if (get_int(h, "width", 1, MODEL_MAX_INPUTS, &w) || get_int(h, "height", 1, MODEL_MAX_INPUTS, &hgt) ||
	    (version < 2 && w * hgt != c->shape.sizes[0]))
		return bad(e, "width", "width x height is not the number of inputs");
	c->width = (int)w;
	c->height = (int)hgt;
	if (version < 2) { /* the input's image shape, as model_describe gives it */
		c->shape.layer[0].in_c = 1;
		c->shape.layer[0].in_h = (int)hgt;
		c->shape.layer[0].in_w = (int)w;
	}
	json_t *classes = json_object_get(h, "classes");
	size_t nc = json_array_size(classes);
	if (version >= 2 && (nc < 2 || nc > DATASET_MAX_CLASSES))
		return bad(e, "classes", "the class names do not match the outputs");
	if (version >= 2 && shape_from_config(h, a, o, l, c, (int)nc, e))
		return TD_EFORMAT;
	int outputs = c->shape.sizes[c->shape.n_layers];
	if (!json_is_array(classes) || nc < 2 || nc > DATASET_MAX_CLASSES ||
	    !((int)nc == outputs || (outputs == 1 && nc == 2)))
		return bad(e, "classes", "the class names do not match the outputs");
	if (get_int(h, "parameters", 1, (long long)1 << 40, &v) ||
	    (size_t)v != model_param_count(&c->shape))
		return bad(e, "parameters", "the parameter count does not match the layers");
	c->n_params = (size_t)v;
	if (get_int(h, "moments", 0, 2, &v))
		return bad(e, "moments", "moments must be 0, 1 or 2");
	c->n_moments = (int)v;
	json_t *acc = json_object_get(h, "test_accuracy");
	c->test_accuracy = json_is_number(acc) ? json_number_value(acc) : NAN;
	if (parse_state(h, c, e))
		return TD_EFORMAT;
	return parse_class_names(classes, c, e);
}

int checkpoint_parse(const void *buf, size_t len, struct checkpoint *out, struct td_error *e)
{
	const unsigned char *b = buf;
	memset(out, 0, sizeof(*out));
	if (len < 8 || memcmp(b, CHECKPOINT_MAGIC, 8) != 0)
		return bad(e, "magic", "it does not start with \"TRAINDCK\"");
	if (len < 20)
		return td_errorf(e, TD_EFORMAT, "header", "not a valid traind checkpoint: it has %zu "
				 "bytes, fewer than its fixed header", len);
	uint32_t version = td_get_le32(b + 8), H = td_get_le32(b + 12);
	if (version < 1 || version > CHECKPOINT_VERSION)
		return td_errorf(e, TD_EFORMAT, "version",
				 "checkpoint format version %u is not one this traind reads (1 to %d)",
				 version, CHECKPOINT_VERSION);
	if (H < 2 || H > CHECKPOINT_MAX_HEADER || (size_t)H > len - 20)
		return bad(e, "header", "its header length is out of range");
	uLong crc = crc32(0L, Z_NULL, 0);
	for (size_t off = 0; off < len - 4; off += 1u << 30) {
		size_t n = len - 4 - off < (1u << 30) ? len - 4 - off : (1u << 30);
		crc = crc32(crc, b + off, (uInt)n);
	}
	if ((uint32_t)crc != td_get_le32(b + len - 4))
		return bad(e, "crc", "its CRC-32 does not match its contents (the file is damaged)");
	json_error_t je;
	json_t *h = json_loadb((const char *)b + 16, H, JSON_REJECT_DUPLICATES, &je);
	if (!h)
		return bad(e, "header", "its header is not valid JSON");
	int rc = parse_header(h, (int)version, out, e);
	json_decref(h);
	if (rc)
		goto fail;
	size_t P = out->n_params, K = (size_t)out->n_moments;
	if (P > (len - 20 - H) / 4 / (1 + K) || 16 + (size_t)H + 4 * P * (1 + K) + 4 != len) {
		rc = bad(e, "parameters", "its length does not match its header");
		goto fail;
	}
	float *store = malloc(sizeof(float) * P * (1 + K));
	if (!store) {
		rc = td_errorf(e, TD_ENOMEM, "", "out of memory for %zu parameters", P);
		goto fail;
	}
	out->owned = store;
	read_floats_le(store, b + 16 + H, P * (1 + K));
	for (size_t i = 0; i < P * (1 + K); i++)
		if (!isfinite(store[i])) {
			rc = bad(e, "parameters", "it holds a parameter that is not a finite number");
			goto fail;
		}
	out->params = store;
	for (size_t k = 0; k < K; k++)
		out->moment[k] = store + P * (1 + k);
	return 0;
fail:
	checkpoint_free(out);
	return rc;
}

int checkpoint_load(const char *path, struct checkpoint *out, struct td_error *e)
{
	void *buf;
	size_t len;
	memset(out, 0, sizeof(*out));
	int rc = read_file(path, CHECKPOINT_MAX_BYTES, &buf, &len, e);
	if (rc)
		return rc;
	rc = checkpoint_parse(buf, len, out, e);
	free(buf);
	return rc;
}
