/*
 * oip_parse.c - an Open Inference Protocol infer body read (see oip.h).
 *
 * The body is a JSON header, then (binary tensor extension) the raw bytes
 * of the inputs whose parameters give a binary_data_size, in their order;
 * Inference-Header-Content-Length says where the JSON ends. Tensor data in
 * JSON can be as large as the body, so it never becomes a Jansson tree (an
 * allocation per value): a scan of the header finds the text of each
 * inputs[i].data, a copy of the header with those values blanked to `null`
 * is parsed by Jansson (a few dozen values), and once datatype, shape and
 * parameters are checked the data text is read straight into the model's
 * floats. A request costs its body and its inputs.
 *
 * A binary request's header, when plainly written, is first offered to
 * oip_fast.c, which reads it in one pass without a tree; what that one
 * does not recognise comes here.
 */
#include "traind/oip_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "traind/image.h"

#define MAX_TENSORS 8          /* inputs whose data text the scan records */
#define MAX_DEPTH 32           /* nesting the scan follows */
#define HEADER_VALUES 4096     /* JSON values besides tensor data */

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
		if (sc->s[i] == '\\' && ++i >= sc->n)
			break; /* a backslash that ends the header */
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

static int request_parameters(struct oip_request *q, json_t *params, struct td_error *e)
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

static int requested_outputs(struct oip_request *q, json_t *outputs, struct td_error *e)
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
		char field[96];
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

static int tensor_head(json_t *in, int width, int height, int max_instances, struct oip_tensor *t,
		       struct td_error *e)
{
	int features = width * height;
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
	t->dt = strcmp(dt, "FP32") == 0 ? OIP_FP32 : OIP_UINT8;
	json_t *shape = json_object_get(in, "shape");
	size_t rank = json_array_size(shape);
	long long dims[4] = {0};
	int ok = json_is_array(shape) && rank >= 2 && rank <= 4;
	for (size_t k = 0; ok && k < rank; k++)
		ok = json_int_in(json_array_get(shape, k), 0, 1LL << 40, &dims[k]) == 0;
	if (ok)
		ok = (rank == 2 && dims[1] == features) ||
		     (rank == 3 && dims[1] == height && dims[2] == width) ||
		     (rank == 4 && dims[1] == 1 && dims[2] == height && dims[3] == width);
	if (!ok || dims[0] < 1)
		return td_errorf(e, TD_EINVAL, "inputs[0].shape", "input \"" OIP_INPUT "\": shape "
				 "must be [N, %d], [N, %d, %d] or [N, 1, %d, %d] with N >= 1",
				 features, height, width, height, width);
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
static int take_value(double v, size_t k, enum oip_dtype dt, double range, float *x,
		      struct td_error *e)
{
	if (!(v >= 0 && v <= range) || (dt == OIP_UINT8 && v != floor(v)))
		return td_errorf(e, TD_EINVAL, "inputs[0].data", "input \"" OIP_INPUT "\": value "
				 "%zu is %g; with pixel_range %g values are %s from 0 to %g", k, v,
				 range, dt == OIP_UINT8 ? "integers" : "numbers", range);
	x[k] = (float)(v / range);
	return 0;
}

/* JSON data: numbers, flat or nested in arrays (row-major), `want` of them. */
static int read_json_data(const char *s, size_t n, enum oip_dtype dt, double range, float *x,
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

/* FP32 binary data in range, in two loops the compiler vectorises: the
 * bytes to floats and one check of them all. Returns -1, with x
 * unspecified, when a value is out of range (read_binary_data then finds
 * and names it). The same floats as take_value makes: v / range in double,
 * and for range 1 that is v itself. */
static int fp32_in_range(const unsigned char *b, double range, float *x, size_t want)
{
	for (size_t k = 0; k < want; k++) {
		const unsigned char *p = b + 4 * k;
		uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
			     (uint32_t)p[3] << 24;
		memcpy(&x[k], &u, sizeof(u));
	}
	float top = (float)range; /* 1 or 255: exact, so the test is the same as in double */
	int bad = 0;
	for (size_t k = 0; k < want; k++)
		bad |= !(x[k] >= 0 && x[k] <= top);
	if (bad)
		return -1;
	if (range != 1)
		for (size_t k = 0; k < want; k++)
			x[k] = (float)((double)x[k] / range);
	return 0;
}

/* Binary data: little-endian FP32, or bytes for UINT8. */
static int read_binary_data(const unsigned char *b, enum oip_dtype dt, double range, float *x,
			    size_t want, struct td_error *e)
{
	if (dt == OIP_FP32 && (range == 1 || range == 255) && fp32_in_range(b, range, x, want) == 0)
		return 0;
	for (size_t k = 0; k < want; k++) {
		double v;
		if (dt == OIP_UINT8) {
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
static int header_length(const char *h, size_t body_len, size_t *out, struct td_error *e)
{
	*out = body_len;
	if (!h)
		return 0;
	char *end;
	unsigned long long n = strtoull(h, &end, 10);
	if (end == h || *end || h[0] == '-' || n < 2 || n > body_len)
		return td_errorf(e, TD_EINVAL, OIP_HEADER_LENGTH, OIP_HEADER_LENGTH " must be the JSON "
				 "header's length in bytes, 2 to the body's %zu, not \"%.30s\"",
				 body_len, h);
	*out = (size_t)n;
	return 0;
}

/* The JSON header with each data value blanked, parsed. */
static int parse_header(const char *body, size_t hlen, struct scan *sc, json_t **out,
			struct td_error *e)
{
	*sc = (struct scan){.s = body, .n = hlen};
	if (sc_container(sc, 0, on_root_key, 0) || sc_peek(sc) >= 0)
		sc->n_spans = 0; /* not JSON: Jansson says where */
	char small[1024]; /* a binary request's header fits: no allocation */
	char *copy = hlen < sizeof(small) ? small : malloc(hlen + 1);
	if (!copy)
		return td_errorf(e, TD_ENOMEM, "", "out of memory");
	memcpy(copy, body, hlen);
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
	if (copy != small)
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

/* The header through Jansson: q's fields and the input's head, and in
 * *data the input's JSON data (NULL when it has none). */
static int read_header(const char *body, size_t hlen, int width, int height, int max_instances,
		       struct oip_request *q, struct oip_tensor *t, struct scan *sc,
		       json_t **data, struct td_error *e)
{
	int rc = parse_header(body, hlen, sc, &q->root, e);
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
	if ((rc = tensor_head(json_array_get(inputs, 0), width, height, max_instances, t, e)))
		return rc;
	*data = json_object_get(json_array_get(inputs, 0), "data");
	return 0;
}

/* The input's data, wherever it is, against what its head says. */
static int read_data(const char *body, size_t len, size_t hlen, int width, int height,
		     const struct scan *sc, json_t *data, const struct oip_tensor *t,
		     struct oip_request *q, struct td_error *e)
{
	size_t features = (size_t)width * (size_t)height;
	if (q->range == 0)
		q->range = t->dt == OIP_UINT8 ? 255 : 1;
	size_t want = (size_t)t->n * features, elem = t->dt == OIP_UINT8 ? 1 : 4;
	size_t binary = len - hlen;
	int in_json = sc->n_spans == 1 && sc->input[0] == 0;
	if (t->binary_size >= 0 && data)
		return td_errorf(e, TD_EINVAL, "inputs[0].data", "input \"" OIP_INPUT "\" has both "
				 "data and parameters.binary_data_size; send one");
	if (t->binary_size < 0 && !data)
		return td_errorf(e, TD_EINVAL, "inputs[0].data", "input \"" OIP_INPUT "\" has no "
				 "data: give data or parameters.binary_data_size");
	if (t->binary_size >= 0 && (size_t)t->binary_size != want * elem)
		return td_errorf(e, TD_EINVAL, "inputs[0].parameters", "input \"" OIP_INPUT "\": "
				 "binary_data_size is %lld; shape and datatype make it %zu bytes",
				 t->binary_size, want * elem);
	if ((size_t)(t->binary_size < 0 ? 0 : t->binary_size) != binary)
		return td_errorf(e, TD_EINVAL, OIP_HEADER_LENGTH, "%zu bytes follow the JSON header "
				 "but the inputs' binary_data_size add up to %lld", binary,
				 t->binary_size < 0 ? 0 : t->binary_size);
	if (data && !in_json)
		return td_errorf(e, TD_EINVAL, "inputs[0].data", "input \"" OIP_INPUT "\": data "
				 "must be an array of numbers");
	if (!(q->x = malloc(sizeof(float) * want)))
		return td_errorf(e, TD_ENOMEM, "", "out of memory for %d instances", t->n);
	q->n = t->n;
	int rc;
	if (data)
		rc = read_json_data(body + sc->start[0], sc->end[0] - sc->start[0], t->dt, q->range,
				    q->x, want, e);
	else
		rc = read_binary_data((const unsigned char *)body + hlen, t->dt, q->range, q->x,
				      want, e);
	for (int i = 0; !rc && q->mnist && i < q->n; i++)
		image_preprocess_mnist(q->x + (size_t)i * features, width, height);
	return rc;
}

static int parse_infer(const char *body, size_t len, const char *header_length_value, int width,
		       int height, int max_instances, int one_pass, struct oip_request *q,
		       struct td_error *e)
{
	memset(q, 0, sizeof(*q));
	size_t hlen;
	struct scan sc = {0};
	struct oip_tensor t = {0};
	json_t *data = NULL;
	int rc = header_length(header_length_value, len, &hlen, e);
	if (rc)
		return rc;
	/* Only a header that says where it ends can be followed by binary data. */
	if (!(one_pass && header_length_value &&
	      oip_fast_header(body, hlen, width, height, max_instances, q, &t)) &&
	    (rc = read_header(body, hlen, width, height, max_instances, q, &t, &sc, &data, e)))
		return rc;
	return read_data(body, len, hlen, width, height, &sc, data, &t, q, e);
}

int oip_parse_infer(const char *body, size_t len, const char *header_length_value, int width,
		    int height, int max_instances, struct oip_request *q, struct td_error *e)
{
	return parse_infer(body, len, header_length_value, width, height, max_instances, 1, q, e);
}

int oip_parse_infer_general(const char *body, size_t len, const char *header_length_value,
			    int width, int height, int max_instances, struct oip_request *q,
			    struct td_error *e)
{
	return parse_infer(body, len, header_length_value, width, height, max_instances, 0, q, e);
}

void oip_request_free(struct oip_request *q)
{
	json_decref(q->root);
	free(q->x);
	memset(q, 0, sizeof(*q));
}
