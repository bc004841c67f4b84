/*
 * oip.c - the Open Inference Protocol's REST routes (see oip.h).
 *
 * An infer body is a JSON header, then (binary tensor extension) the raw
 * bytes of the inputs whose parameters give a binary_data_size, in their
 * order; Inference-Header-Content-Length says where the JSON ends. Tensor
 * data in JSON can be as large as the body, so it never becomes a Jansson
 * tree (one allocation per value): a scan of the header finds the text of
 * each inputs[i].data, a copy of the header with those values blanked to
 * `null` is parsed by Jansson (a few dozen values), and once datatype,
 * shape and parameters are checked the data text is read straight into
 * the model's floats. A request costs its body, its inputs and its
 * outputs.
 *
 * Answers: JSON outputs, or, for an output asked for with
 * "binary_data": true (or every output with the request parameter
 * "binary_data_output": true, as tritonclient sends by default), raw
 * little-endian bytes after the JSON with binary_data_size in the output's
 * parameters and Inference-Header-Content-Length in the reply.
 */
#include "traind/oip.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "traind/image.h"
#include "traind/predict.h"

#define MAX_TENSORS 8          /* inputs whose data text the scan records */
#define MAX_DEPTH 32           /* nesting the scan follows */
#define HEADER_VALUES 4096     /* JSON values besides tensor data */
#define HEADER_LENGTH "Inference-Header-Content-Length"

/* ---- the scan: where each inputs[i].data is ------------------------- */

struct scan {
	const char *s;
	size_t n, i;
	int n_spans;
	size_t start[MAX_TENSORS], end[MAX_TENSORS];
	int input[MAX_TENSORS];
};

static void sc_ws(struct scan *sc)
{
	while (sc->i < sc->n && strchr(" \t\r\n", sc->s[sc->i]) && sc->s[sc->i])
		sc->i++;
}

static int sc_peek(struct scan *sc)
{
	sc_ws(sc);
	return sc->i < sc->n ? (unsigned char)sc->s[sc->i] : -1;
}

/* A string; its raw bytes (escapes as written) to key when they fit. */
static int sc_string(struct scan *sc, char *key, size_t cap)
{
	if (sc_peek(sc) != '"')
		return -1;
	size_t k = 0, i = ++sc->i;
	for (; i < sc->n && sc->s[i] != '"'; i++) {
		if (sc->s[i] == '\\')
			i++;
		if (key && k + 1 < cap)
			key[k++] = sc->s[i];
	}
	if (i >= sc->n)
		return -1;
	if (key)
		key[k < cap ? k : 0] = '\0';
	sc->i = i + 1;
	return 0;
}

static int sc_value(struct scan *sc, int depth);

/* An object or array; for objects, each key goes to `on_key`, which scans
 * its value (or leaves it to the default skip by returning 1). */
static int sc_container(struct scan *sc, int depth, int (*on_key)(struct scan *, const char *,
								   int, int), int arg)
{
	int open = sc_peek(sc), close = open == '{' ? '}' : ']';
	if (depth > MAX_DEPTH || (open != '{' && open != '['))
		return -1;
	sc->i++;
	if (sc_peek(sc) == close) {
		sc->i++;
		return 0;
	}
	for (int idx = 0;; idx++) {
		if (open == '{') {
			char key[16];
			if (sc_string(sc, key, sizeof(key)) || sc_peek(sc) != ':')
				return -1;
			sc->i++;
			int rc = on_key ? on_key(sc, key, arg, depth) : 1;
			if (rc < 0 || (rc == 1 && sc_value(sc, depth + 1)))
				return -1;
		} else {
			int rc = on_key ? on_key(sc, NULL, idx, depth) : 1;
			if (rc < 0 || (rc == 1 && sc_value(sc, depth + 1)))
				return -1;
		}
		int c = sc_peek(sc);
		sc->i++;
		if (c == close)
			return 0;
		if (c != ',')
			return -1;
	}
}

static int sc_value(struct scan *sc, int depth)
{
	int c = sc_peek(sc);
	if (c == '{' || c == '[')
		return sc_container(sc, depth, NULL, 0);
	if (c == '"')
		return sc_string(sc, NULL, 0);
	size_t i = sc->i;
	while (i < sc->n && !strchr(",]} \t\r\n", sc->s[i]) && sc->s[i])
		i++;
	if (i == sc->i)
		return -1;
	sc->i = i;
	return 0;
}

static int on_input_key(struct scan *sc, const char *key, int input, int depth)
{
	if (!key || strcmp(key, "data") || sc->n_spans >= MAX_TENSORS)
		return 1;
	sc_ws(sc);
	size_t start = sc->i;
	if (sc_value(sc, depth + 1))
		return -1;
	sc->start[sc->n_spans] = start;
	sc->end[sc->n_spans] = sc->i;
	sc->input[sc->n_spans++] = input;
	return 0;
}

static int on_inputs_element(struct scan *sc, const char *key, int idx, int depth)
{
	(void)key;
	if (sc_peek(sc) != '{')
		return 1;
	return sc_container(sc, depth + 1, on_input_key, idx);
}

static int on_root_key(struct scan *sc, const char *key, int arg, int depth)
{
	(void)arg;
	if (!key || strcmp(key, "inputs") || sc_peek(sc) != '[')
		return 1;
	return sc_container(sc, depth + 1, on_inputs_element, 0);
}

/* ---- the request ----------------------------------------------------- */

enum dtype { DT_FP32, DT_UINT8 };

struct infer {
	json_t *root;
	const char *id;
	double range;         /* pixel_range; 0 until known */
	int mnist;
	int binary_all;       /* parameters.binary_data_output */
	int n;                /* instances */
	float *x;             /* n * features inputs in [0, 1] */
	/* the outputs to answer, in order: 0 probabilities, 1 label */
	int n_out, out[2], out_binary[2];
};

static int json_int_in(const json_t *v, long long min, long long max, long long *out)
{
	double d = json_is_integer(v) ? (double)json_integer_value(v)
		   : json_is_real(v)  ? json_real_value(v)
				      : NAN;
	if (!(d == floor(d) && d >= (double)min && d <= (double)max))
		return -1;
	*out = (long long)d;
	return 0;
}

static int request_parameters(struct infer *q, json_t *params, struct td_error *e)
{
	if (!params)
		return 0;
	if (!json_is_object(params))
		return td_errorf(e, TD_EINVAL, "parameters", "parameters must be an object");
	const char *key;
	json_t *v;
	json_object_foreach(params, key, v) {
		if (strcmp(key, "pixel_range") == 0) {
			long long n;
			if (json_int_in(v, 1, 255, &n) || (n != 1 && n != 255))
				return td_errorf(e, TD_EINVAL, "parameters.pixel_range",
						 "pixel_range must be 1 (values in [0,1]) or 255 "
						 "(values in [0,255])");
			q->range = (double)n;
		} else if (strcmp(key, "preprocess") == 0) {
			const char *s = json_string_value(v);
			if (!s || (strcmp(s, "none") && strcmp(s, "mnist")))
				return td_errorf(e, TD_EINVAL, "parameters.preprocess",
						 "preprocess must be \"none\" or \"mnist\"");
			q->mnist = strcmp(s, "mnist") == 0;
		} else if (strcmp(key, "binary_data_output") == 0) {
			if (!json_is_boolean(v))
				return td_errorf(e, TD_EINVAL, "parameters.binary_data_output",
						 "binary_data_output must be true or false");
			q->binary_all = json_is_true(v);
		} else if (strcmp(key, "priority") && strcmp(key, "timeout")) {
			return td_errorf(e, TD_EINVAL, "parameters", "unknown request parameter "
					 "\"%.60s\"; parameters are pixel_range, preprocess, "
					 "binary_data_output, priority, timeout", key);
		}
	}
	return 0;
}

static int requested_outputs(struct infer *q, json_t *outputs, struct td_error *e)
{
	if (!outputs) {
		q->n_out = 2;
		q->out[0] = 0, q->out[1] = 1;
		q->out_binary[0] = q->out_binary[1] = q->binary_all;
		return 0;
	}
	if (!json_is_array(outputs) || json_array_size(outputs) < 1 ||
	    json_array_size(outputs) > 2)
		return td_errorf(e, TD_EINVAL, "outputs", "outputs must be an array of 1 or 2 "
				 "outputs, of \"" OIP_OUT_PROBS "\" and \"" OIP_OUT_LABEL "\"");
	size_t i;
	json_t *o;
	json_array_foreach(outputs, i, o) {
		char field[48];
		snprintf(field, sizeof(field), "outputs[%zu].name", i);
		const char *name = json_string_value(json_object_get(o, "name"));
		int which = !name ? -1 : strcmp(name, OIP_OUT_PROBS) == 0 ? 0
				 : strcmp(name, OIP_OUT_LABEL) == 0 ? 1 : -1;
		if (!json_is_object(o) || which < 0)
			return td_errorf(e, TD_EINVAL, field, "output %zu must name \"" OIP_OUT_PROBS
					 "\" or \"" OIP_OUT_LABEL "\", not %s%.60s%s", i,
					 name ? "\"" : "", name ? name : "nothing", name ? "\"" : "");
		if (i == 1 && q->out[0] == which)
			return td_errorf(e, TD_EINVAL, field, "output \"%s\" is asked for twice",
					 name);
		int binary = q->binary_all;
		const char *key;
		json_t *v;
		json_object_foreach(o, key, v) {
			snprintf(field, sizeof(field), "outputs[%zu].%.20s", i, key);
			if (strcmp(key, "name") == 0)
				continue;
			if (strcmp(key, "parameters") || !json_is_object(v))
				return td_errorf(e, TD_EINVAL, field, "output \"%s\": unknown field "
						 "\"%.40s\"; an output has name and parameters", name, key);
			const char *pk;
			json_t *pv;
			json_object_foreach(v, pk, pv) {
				snprintf(field, sizeof(field), "outputs[%zu].parameters.%.20s", i, pk);
				if (strcmp(pk, "binary_data") || !json_is_boolean(pv))
					return td_errorf(e, TD_EINVAL, field, "output \"%s\": the one "
							 "output parameter is binary_data (true or "
							 "false), not \"%.40s\"", name, pk);
				binary = json_is_true(pv);
			}
		}
		q->out[i] = which;
		q->out_binary[i] = binary;
		q->n_out = (int)i + 1;
	}
	return 0;
}

/* The input tensor's name, datatype, shape and where its data is. */
struct tensor {
	enum dtype dt;
	int n;
	long long binary_size; /* -1: data in JSON */
};

static int tensor_head(json_t *in, const struct dataset *ds, int max_instances,
		       struct tensor *t, struct td_error *e)
{
	if (!json_is_object(in))
		return td_errorf(e, TD_EINVAL, "inputs[0]", "inputs[0] must be an object with name, "
				 "datatype, shape and data");
	const char *key;
	json_t *v;
	json_object_foreach(in, key, v)
		if (strcmp(key, "name") && strcmp(key, "datatype") && strcmp(key, "shape") &&
		    strcmp(key, "data") && strcmp(key, "parameters"))
			return td_errorf(e, TD_EINVAL, "inputs[0]", "unknown field \"%.40s\" in "
					 "inputs[0]; an input has name, datatype, shape, parameters "
					 "and data", key);
	const char *name = json_string_value(json_object_get(in, "name"));
	if (!name || strcmp(name, OIP_INPUT))
		return td_errorf(e, TD_EINVAL, "inputs[0].name", "the model's input is \""
				 OIP_INPUT "\", not %s%.60s%s", name ? "\"" : "",
				 name ? name : "a missing name", name ? "\"" : "");
	const char *dt = json_string_value(json_object_get(in, "datatype"));
	if (!dt || (strcmp(dt, "FP32") && strcmp(dt, "UINT8")))
		return td_errorf(e, TD_EINVAL, "inputs[0].datatype", "input \"" OIP_INPUT "\": "
				 "datatype must be FP32 or UINT8, not %s%.20s%s", dt ? "\"" : "",
				 dt ? dt : "a missing one", dt ? "\"" : "");
	t->dt = strcmp(dt, "FP32") == 0 ? DT_FP32 : DT_UINT8;
	json_t *shape = json_object_get(in, "shape");
	size_t rank = json_array_size(shape);
	long long dims[4] = {0};
	int ok = json_is_array(shape) && rank >= 2 && rank <= 4;
	for (size_t k = 0; ok && k < rank; k++)
		ok = json_int_in(json_array_get(shape, k), 0, 1LL << 40, &dims[k]) == 0;
	if (ok)
		ok = (rank == 2 && dims[1] == ds->features) ||
		     (rank == 3 && dims[1] == ds->height && dims[2] == ds->width) ||
		     (rank == 4 && dims[1] == 1 && dims[2] == ds->height && dims[3] == ds->width);
	if (!ok || dims[0] < 1)
		return td_errorf(e, TD_EINVAL, "inputs[0].shape", "input \"" OIP_INPUT "\": shape "
				 "must be [N, %d], [N, %d, %d] or [N, 1, %d, %d] with N >= 1",
				 ds->features, ds->height, ds->width, ds->height, ds->width);
	if (dims[0] > max_instances)
		return td_errorf(e, TD_ETOOBIG, "inputs[0].shape", "input \"" OIP_INPUT "\": %lld "
				 "instances are more than the %d one request may hold", dims[0],
				 max_instances);
	t->n = (int)dims[0];
	t->binary_size = -1;
	json_t *params = json_object_get(in, "parameters");
	if (params) {
		json_object_foreach(params, key, v) {
			if (strcmp(key, "binary_data_size") ||
			    json_int_in(v, 0, 1LL << 40, &t->binary_size))
				return td_errorf(e, TD_EINVAL, "inputs[0].parameters", "input \""
						 OIP_INPUT "\": the one input parameter is "
						 "binary_data_size, a byte count");
		}
	}
	return 0;
}

/* One value of the input: in [0, range] (an integer for UINT8). */
static int take_value(double v, size_t k, enum dtype dt, double range, float *x,
		      struct td_error *e)
{
	if (!(v >= 0 && v <= range) || (dt == DT_UINT8 && v != floor(v)))
		return td_errorf(e, TD_EINVAL, "inputs[0].data", "input \"" OIP_INPUT "\": value "
				 "%zu is %g; with pixel_range %g values are %s from 0 to %g", k, v,
				 range, dt == DT_UINT8 ? "integers" : "numbers", range);
	x[k] = (float)(v / range);
	return 0;
}

/* JSON data: numbers, flat or nested in arrays (row-major), `want` of them. */
static int read_json_data(const char *s, size_t n, enum dtype dt, double range, float *x,
			  size_t want, struct td_error *e)
{
	size_t k = 0, i = 0;
	int depth = 0;
	char buf[48];
	while (i < n) {
		char c = s[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ',') {
			i++; /* commas: the scan and Jansson checked the grammar */
		} else if (c == '[') {
			if (++depth > 8)
				break;
			i++;
		} else if (c == ']') {
			depth--;
			i++;
		} else if (c == '-' || (c >= '0' && c <= '9')) {
			size_t j = i;
			while (j < n && j - i < sizeof(buf) - 1 && strchr("0123456789+-.eE", s[j]))
				j++;
			memcpy(buf, s + i, j - i);
			buf[j - i] = '\0';
			i = j;
			if (k >= want)
				return td_errorf(e, TD_EINVAL, "inputs[0].data", "input \"" OIP_INPUT
						 "\": data holds more than the %zu values its shape "
						 "says", want);
			char *end;
			double v = strtod(buf, &end);
			if (end == buf || *end)
				return td_errorf(e, TD_EINVAL, "inputs[0].data", "input \"" OIP_INPUT
						 "\": value %zu (\"%s\") is not a number", k, buf);
			int rc = take_value(v, k, dt, range, x, e);
			if (rc)
				return rc;
			k++;
		} else {
			break;
		}
	}
	if (i < n)
		return td_errorf(e, TD_EINVAL, "inputs[0].data", "input \"" OIP_INPUT "\": data "
				 "must be numbers, flat or in nested arrays (at most 8 deep)");
	if (k != want)
		return td_errorf(e, TD_EINVAL, "inputs[0].data", "input \"" OIP_INPUT "\": data "
				 "holds %zu values; its shape says %zu", k, want);
	return 0;
}

/* Binary data: little-endian FP32, or bytes for UINT8. */
static int read_binary_data(const unsigned char *b, enum dtype dt, double range, float *x,
			    size_t want, struct td_error *e)
{
	for (size_t k = 0; k < want; k++) {
		double v;
		if (dt == DT_UINT8) {
			v = b[k];
		} else {
			const unsigned char *p = b + 4 * k;
			uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
				     (uint32_t)p[3] << 24;
			float f;
			memcpy(&f, &u, sizeof(f));
			v = f;
		}
		int rc = take_value(v, k, dt, range, x, e);
		if (rc)
			return rc;
	}
	return 0;
}

/* Where the JSON header ends: Inference-Header-Content-Length, else the body. */
static int header_length(struct http_request *r, size_t *out, struct td_error *e)
{
	const char *h = http_header(r, HEADER_LENGTH);
	*out = r->body_len;
	if (!h)
		return 0;
	char *end;
	unsigned long long n = strtoull(h, &end, 10);
	if (end == h || *end || h[0] == '-' || n < 2 || n > r->body_len)
		return td_errorf(e, TD_EINVAL, HEADER_LENGTH, HEADER_LENGTH " must be the JSON "
				 "header's length in bytes, 2 to the body's %zu, not \"%.30s\"",
				 r->body_len, h);
	*out = (size_t)n;
	return 0;
}

/* The JSON header with each data value blanked, parsed. */
static int parse_header(struct http_request *r, size_t hlen, struct scan *sc, json_t **out,
			struct td_error *e)
{
	*sc = (struct scan){.s = r->body, .n = hlen};
	if (sc_container(sc, 0, on_root_key, 0) || sc_peek(sc) >= 0)
		sc->n_spans = 0; /* not JSON: Jansson says where */
	char *copy = malloc(hlen + 1);
	if (!copy)
		return td_errorf(e, TD_ENOMEM, "", "out of memory");
	memcpy(copy, r->body, hlen);
	copy[hlen] = '\0';
	for (int k = 0; k < sc->n_spans; k++) {
		size_t len = sc->end[k] - sc->start[k];
		if (len >= 4) {
			memset(copy + sc->start[k], ' ', len);
			memcpy(copy + sc->start[k], "null", 4);
		}
	}
	size_t values = 1;
	for (size_t i = 0; i < hlen; i++)
		values += copy[i] == ',' || copy[i] == '[' || copy[i] == '{';
	json_error_t jerr;
	*out = values > HEADER_VALUES ? NULL : json_loadb(copy, hlen, JSON_REJECT_DUPLICATES, &jerr);
	free(copy);
	if (values > HEADER_VALUES)
		return td_errorf(e, TD_ETOOBIG, "", "the request holds more than %d JSON values "
				 "besides tensor data", HEADER_VALUES);
	if (!*out)
		return td_errorf(e, TD_EINVAL, "", "the request is not valid JSON: %s (line %d, "
				 "column %d)", jerr.text, jerr.line, jerr.column);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return td_errorf(e, TD_EINVAL, "", "the request must be a JSON object");
	}
	return 0;
}

/* Everything about the request but the model's answer. */
static int infer_parse(struct http_request *r, const struct dataset *ds, int max_instances,
		       struct infer *q, struct td_error *e)
{
	size_t hlen;
	struct scan sc;
	int rc = header_length(r, &hlen, e);
	if (!rc)
		rc = parse_header(r, hlen, &sc, &q->root, e);
	if (rc)
		return rc;
	const char *key;
	json_t *v, *inputs = NULL;
	json_object_foreach(q->root, key, v) {
		if (strcmp(key, "id") == 0) {
			if (!(q->id = json_string_value(v)))
				return td_errorf(e, TD_EINVAL, "id", "id must be a string");
		} else if (strcmp(key, "inputs") == 0) {
			inputs = v;
		} else if (strcmp(key, "parameters") && strcmp(key, "outputs")) {
			return td_errorf(e, TD_EINVAL, key, "unknown field \"%.40s\"; a request has "
					 "id, parameters, inputs and outputs", key);
		}
	}
	if ((rc = request_parameters(q, json_object_get(q->root, "parameters"), e)) ||
	    (rc = requested_outputs(q, json_object_get(q->root, "outputs"), e)))
		return rc;
	if (!json_is_array(inputs) || json_array_size(inputs) != 1)
		return td_errorf(e, TD_EINVAL, "inputs", "inputs must be an array of one input, \""
				 OIP_INPUT "\" (the model has one)");
	struct tensor t = {0};
	if ((rc = tensor_head(json_array_get(inputs, 0), ds, max_instances, &t, e)))
		return rc;
	if (q->range == 0)
		q->range = t.dt == DT_UINT8 ? 255 : 1;
	size_t want = (size_t)t.n * (size_t)ds->features, elem = t.dt == DT_UINT8 ? 1 : 4;
	size_t binary = r->body_len - hlen;
	int in_json = sc.n_spans == 1 && sc.input[0] == 0;
	json_t *data = json_object_get(json_array_get(inputs, 0), "data");
	if (t.binary_size >= 0 && data)
		return td_errorf(e, TD_EINVAL, "inputs[0].data", "input \"" OIP_INPUT "\" has both "
				 "data and parameters.binary_data_size; send one");
	if (t.binary_size < 0 && !data)
		return td_errorf(e, TD_EINVAL, "inputs[0].data", "input \"" OIP_INPUT "\" has no "
				 "data: give data or parameters.binary_data_size");
	if (t.binary_size >= 0 && (size_t)t.binary_size != want * elem)
		return td_errorf(e, TD_EINVAL, "inputs[0].parameters", "input \"" OIP_INPUT "\": "
				 "binary_data_size is %lld; shape and datatype make it %zu bytes",
				 t.binary_size, want * elem);
	if ((size_t)(t.binary_size < 0 ? 0 : t.binary_size) != binary)
		return td_errorf(e, TD_EINVAL, HEADER_LENGTH, "%zu bytes follow the JSON header "
				 "but the inputs' binary_data_size add up to %lld", binary,
				 t.binary_size < 0 ? 0 : t.binary_size);
	if (data && !in_json)
		return td_errorf(e, TD_EINVAL, "inputs[0].data", "input \"" OIP_INPUT "\": data "
				 "must be an array of numbers");
	if (!(q->x = malloc(sizeof(float) * want)))
		return td_errorf(e, TD_ENOMEM, "", "out of memory for %d instances", t.n);
	q->n = t.n;
	if (data)
		rc = read_json_data(r->body + sc.start[0], sc.end[0] - sc.start[0], t.dt, q->range,
				    q->x, want, e);
	else
		rc = read_binary_data((const unsigned char *)r->body + hlen, t.dt, q->range, q->x,
				      want, e);
	for (int i = 0; !rc && q->mnist && i < q->n; i++)
		image_preprocess_mnist(q->x + (size_t)i * (size_t)ds->features, ds->width,
				       ds->height);
	return rc;
}

/* The protocol's statuses: a model without weights yet is a 400 (not
 * ready), not v1's 409. */
static void reply_error(struct http_request *r, int code, const struct td_error *e)
{
	http_reply_error(r, code == TD_ESTATE ? TD_EINVAL : code, e);
}

/* ---- the answer ------------------------------------------------------ */

/* The answer is written straight into one buffer (a Jansson tree and its
 * dump were a fifth of a small binary request's time): the JSON, then the
 * raw bytes of the binary outputs. */
struct sbuf {
	char *p;
	size_t len, cap;
	int oom;
};

static int sb_grow(struct sbuf *b, size_t n)
{
	if (b->oom)
		return -1;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 512;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return -1;
		}
		b->p = p;
		b->cap = cap;
	}
	return 0;
}

static void sb_put(struct sbuf *b, const void *data, size_t n)
{
	if (sb_grow(b, n))
		return;
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[160];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		sb_put(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* A JSON string: quotes, backslashes and control characters escaped (the
 * request's id came through Jansson, so it is valid UTF-8). */
static void sb_json_string(struct sbuf *b, const char *s)
{
	sb_put(b, "\"", 1);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\')
			sb_printf(b, "\\%c", *c);
		else if (*c < 0x20)
			sb_printf(b, "\\u%04x", *c);
		else
			sb_put(b, c, 1);
	}
	sb_put(b, "\"", 1);
}

static void sb_le(struct sbuf *b, uint64_t v, int bytes)
{
	unsigned char le[8];
	for (int i = 0; i < bytes; i++)
		le[i] = (unsigned char)(v >> (8 * i));
	sb_put(b, le, (size_t)bytes);
}

/* One output's JSON; its data inline, or its byte count when binary. */
static void output_json(struct sbuf *b, int probs, int binary, size_t n, int C, const double *p,
			const int *labels)
{
	size_t count = probs ? n * (size_t)C : n;
	sb_printf(b, "{\"name\":\"%s\",\"datatype\":\"%s\",\"shape\":[%zu", probs ? OIP_OUT_PROBS
		  : OIP_OUT_LABEL, probs ? "FP32" : "INT64", n);
	if (probs)
		sb_printf(b, ",%d", C);
	if (binary) {
		sb_printf(b, "],\"parameters\":{\"binary_data_size\":%zu}}", count * (probs ? 4 : 8));
		return;
	}
	sb_str(b, "],\"data\":[");
	for (size_t k = 0; k < count; k++) {
		if (k)
			sb_put(b, ",", 1);
		if (!probs)
			sb_printf(b, "%d", labels[k]);
		else if (isfinite(p[k]))
			sb_printf(b, "%.9g", (double)(float)p[k]);
		else
			sb_str(b, "null");
	}
	sb_str(b, "]}");
}

/* Builds and sends the answer for probabilities p[n x classes], labels. */
static void infer_reply(struct http_request *r, const struct model_snapshot *snap,
			const struct infer *q, const double *p, const int *labels)
{
	int C = snap->ds->n_classes;
	size_t n = (size_t)q->n;
	int any_binary = 0;
	struct sbuf b = {0};
	sb_str(&b, "{\"model_name\":");
	sb_json_string(&b, snap->job_id);
	sb_printf(&b, ",\"model_version\":\"%ld\",\"id\":", snap->step);
	sb_json_string(&b, q->id ? q->id : "");
	sb_str(&b, ",\"outputs\":[");
	for (int o = 0; o < q->n_out; o++) {
		if (o)
			sb_put(&b, ",", 1);
		output_json(&b, q->out[o] == 0, q->out_binary[o], n, C, p, labels);
		any_binary |= q->out_binary[o];
	}
	sb_str(&b, "]}");
	size_t hlen = b.len;
	if (!any_binary)
		sb_put(&b, "\n", 1);
	for (int o = 0; o < q->n_out; o++) {
		if (!q->out_binary[o])
			continue;
		if (q->out[o] == 0) {
			for (size_t k = 0; k < n * (size_t)C; k++) {
				float f = (float)p[k];
				uint32_t u;
				memcpy(&u, &f, sizeof(u));
				sb_le(&b, u, 4);
			}
		} else {
			for (size_t k = 0; k < n; k++)
				sb_le(&b, (uint64_t)(int64_t)labels[k], 8);
		}
	}
	if (b.oom) {
		free(b.p);
		http_reply_errorf(r, TD_ENOMEM, "", "out of memory");
		return;
	}
	char hl[32];
	snprintf(hl, sizeof(hl), "%zu", hlen);
	if (http_reply_buffer(r, 200, any_binary ? "application/octet-stream"
				      : "application/json; charset=utf-8", b.p, b.len) == 0 &&
	    any_binary)
		http_set_header(r, HEADER_LENGTH, hl);
}

static double now_seconds(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The version in the path, when there is one, must be the one served. */
static int check_version(const struct model_snapshot *s, const char *version, struct td_error *e)
{
	char now[32];
	snprintf(now, sizeof(now), "%ld", s->step);
	if (version && strcmp(version, now))
		return td_errorf(e, TD_ENOTFOUND, "version", "model %s has no version \"%.40s\"; it "
				 "serves version %s (its training step)", s->job_id, version, now);
	return 0;
}

static void infer(struct http_request *r, struct jobs *jobs, int max_instances,
		  const char *version)
{
	double t0 = now_seconds();
	const char *mt = http_media_type(r);
	if (*mt && strcmp(mt, "application/json") && strcmp(mt, "application/octet-stream") &&
	    strcmp(mt, "application/x-www-form-urlencoded")) {
		http_reply_errorf(r, TD_EUNSUPPORTED, "Content-Type", "Content-Type %.60s is not "
				  "supported here; send application/json, or application/"
				  "octet-stream with " HEADER_LENGTH " for binary tensors", mt);
		return;
	}
	struct model_snapshot *snap;
	struct td_error e;
	int rc = jobs_snapshot(jobs, r->id, &snap, &e);
	if (rc) {
		reply_error(r, rc, &e);
		return;
	}
	struct infer q = {0};
	int units = snap->shape.sizes[snap->shape.n_layers], C = snap->ds->n_classes;
	float *out = NULL;
	double *p = NULL;
	int *labels = NULL;
	rc = check_version(snap, version, &e);
	if (!rc)
		rc = infer_parse(r, snap->ds, max_instances, &q, &e);
	if (!rc && (!(out = malloc(sizeof(float) * (size_t)q.n * (size_t)units)) ||
		    !(p = malloc(sizeof(double) * (size_t)q.n * (size_t)C)) ||
		    !(labels = malloc(sizeof(int) * (size_t)q.n))))
		rc = td_errorf(&e, TD_ENOMEM, "", "out of memory for %d instances", q.n);
	if (!rc)
		rc = snapshot_predict(snap, q.x, q.n, out, &e);
	if (!rc) {
		for (int i = 0; i < q.n; i++)
			labels[i] = predict_probabilities(snap, out + (size_t)i * (size_t)units,
							  p + (size_t)i * (size_t)C);
		infer_reply(r, snap, &q, p, labels);
		http_observe_predict(r->server, now_seconds() - t0, q.n);
	} else {
		reply_error(r, rc, &e);
	}
	free(out);
	free(p);
	free(labels);
	free(q.x);
	json_decref(q.root);
	snapshot_release(snap);
}

void oip_infer(struct http_request *r, struct jobs *jobs, int max_instances)
{
	infer(r, jobs, max_instances, NULL);
}

/* ---- metadata and health -------------------------------------------- */

void oip_server_metadata(struct http_request *r)
{
	http_reply_json(r, 200, json_pack("{s:s, s:s, s:[s]}", "name", "traind", "version",
					  PACKAGE_VERSION, "extensions", "binary_tensor_data"));
}

void oip_health_live(struct http_request *r)
{
	http_reply_json(r, 200, json_pack("{s:b}", "live", 1));
}

void oip_health_ready(struct http_request *r)
{
	http_reply_json(r, 200, json_pack("{s:b}", "ready", 1));
}

static void model_metadata(struct http_request *r, struct jobs *jobs, const char *version)
{
	struct model_snapshot *snap;
	struct td_error e;
	int rc = jobs_snapshot(jobs, r->id, &snap, &e);
	if (!rc && (rc = check_version(snap, version, &e)))
		snapshot_release(snap);
	if (rc) {
		reply_error(r, rc, &e);
		return;
	}
	const struct dataset *ds = snap->ds;
	char v[32];
	snprintf(v, sizeof(v), "%ld", snap->step);
	http_reply_json(r, 200, json_pack(
		"{s:s, s:[s], s:s, s:[{s:s, s:s, s:[i, i]}], s:[{s:s, s:s, s:[i, i]}, "
		"{s:s, s:s, s:[i]}]}", "name", snap->job_id, "versions", v, "platform",
		"traind_mlp", "inputs", "name", OIP_INPUT, "datatype", "FP32", "shape", -1,
		ds->features, "outputs", "name", OIP_OUT_PROBS, "datatype", "FP32", "shape", -1,
		ds->n_classes, "name", OIP_OUT_LABEL, "datatype", "INT64", "shape", -1));
	snapshot_release(snap);
}

static void model_ready(struct http_request *r, struct jobs *jobs, const char *version)
{
	struct model_snapshot *snap;
	struct td_error e;
	json_t *m = jobs_model_json(jobs, r->id, &e);
	if (!m) {
		http_reply_error(r, TD_ENOTFOUND, &e);
		return;
	}
	const char *name = json_string_value(json_object_get(m, "name"));
	if (jobs_snapshot(jobs, r->id, &snap, &e)) {
		http_reply_errorf(r, TD_EINVAL, "", "model %s is not ready: its job is %s and has "
				  "no weights yet", name, json_string_value(json_object_get(m,
				  "job_state")));
	} else {
		if (check_version(snap, version, &e))
			http_reply_error(r, TD_ENOTFOUND, &e);
		else
			http_reply_json(r, 200, json_pack("{s:s, s:b}", "name", name, "ready", 1));
		snapshot_release(snap);
	}
	json_decref(m);
}

void oip_model_metadata(struct http_request *r, struct jobs *jobs)
{
	model_metadata(r, jobs, NULL);
}

void oip_model_ready(struct http_request *r, struct jobs *jobs)
{
	model_ready(r, jobs, NULL);
}

void oip_versioned(struct http_request *r, struct jobs *jobs, int max_instances)
{
	char version[32];
	size_t n = strcspn(r->rest, "/");
	const char *action = r->rest + n;
	if (n == 0 || n >= sizeof(version)) {
		http_reply_errorf(r, TD_ENOTFOUND, "version", "no route %.200s: a version is the "
				  "model's training step", r->path);
		return;
	}
	memcpy(version, r->rest, n);
	version[n] = '\0';
	int get = r->method == HTTP_GET;
	if (get && !*action)
		model_metadata(r, jobs, version);
	else if (get && strcmp(action, "/ready") == 0)
		model_ready(r, jobs, version);
	else if (!get && strcmp(action, "/infer") == 0)
		infer(r, jobs, max_instances, version);
	else
		http_reply_errorf(r, TD_ENOTFOUND, "", "no route %s %.200s; under a version are "
				  "GET (metadata), GET ready and POST infer",
				  get ? "GET" : "POST", r->path);
}
