/*
 * check_oip.c - the Open Inference Protocol routes (oip.c) and TF
 * Serving's status shapes, end to end against an in-process daemon
 * (testserver.h) driven with libcurl like tritonclient would.
 *
 * Each route; every error the infer route gives, with its status and
 * field; a binary request built byte by byte; and one image giving the
 * same probabilities through v1 JSON, v1 PNG, v2 JSON (UINT8 and FP32) and
 * v2 binary (FP32 and UINT8).
 */
#include <jansson.h>
#include <math.h>
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "testserver.h"
#include "traind/oip.h"

static void setup(void)
{
	static const char *const settings[] = {"max_instances", "4", NULL};
	ts_start(settings);
}

static void teardown(void)
{
	ts_stop();
}

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

/* Asserts an error answer: status, a message containing `text`, the field. */
static void ck_error(const struct ts_resp *r, long status, const char *text, const char *field)
{
	ck_assert_msg(r->status == status, "status %ld, wanted %ld: %s", r->status, status,
		      r->body ? r->body : "");
	ck_assert_msg(r->json != NULL, "not JSON: %s", r->body ? r->body : "");
	const char *msg = jstr(r->json, "error");
	ck_assert_msg(strstr(msg, text), "error \"%s\" lacks \"%s\"", msg, text);
	if (field)
		ck_assert_msg(strcmp(jstr(r->json, "field"), field) == 0, "field \"%s\", wanted "
			      "\"%s\" (%s)", jstr(r->json, "field"), field, msg);
}

static long post(const char *path, const char *body, struct ts_resp *r)
{
	return ts_request("POST", path, "application/json", NULL, body, strlen(body), r);
}

static void step_of(const char *id, char version[32])
{
	struct ts_resp r;
	char path[64];
	snprintf(path, sizeof(path), "/v1/models/%s", id);
	ck_assert_int_eq(ts_get(path, &r), 200);
	snprintf(version, 32, "%lld", (long long)json_integer_value(json_object_get(r.json,
										      "step")));
	ts_resp_free(&r);
}

/* ---- metadata, health, versions -------------------------------------- */

START_TEST(test_v2_server_and_health)
{
	struct ts_resp r;
	ck_assert_int_eq(ts_get("/v2", &r), 200);
	ck_assert_str_eq(jstr(r.json, "name"), "traind");
	ck_assert_str_ne(jstr(r.json, "version"), "");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(r.json, "extensions"),
							  0)), "binary_tensor_data");
	ts_resp_free(&r);
	ck_assert_int_eq(ts_get("/v2/health/live", &r), 200);
	ck_assert(json_is_true(json_object_get(r.json, "live")));
	ts_resp_free(&r);
	ck_assert_int_eq(ts_get("/v2/health/ready", &r), 200);
	ck_assert(json_is_true(json_object_get(r.json, "ready")));
	ts_resp_free(&r);
	ts_request("POST", "/v2/health/live", NULL, NULL, "", 0, &r);
	ck_assert_int_eq(r.status, 405);
	ts_resp_free(&r);
}
END_TEST

START_TEST(test_v2_model_metadata_and_ready)
{
	char id[32], v[32], path[160];
	struct ts_resp r;
	ts_trained_model(id);
	step_of(id, v);
	snprintf(path, sizeof(path), "/v2/models/%s", id);
	ck_assert_int_eq(ts_get(path, &r), 200);
	ck_assert_str_eq(jstr(r.json, "name"), id);
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(r.json, "versions"), 0)),
			 v);
	ck_assert_str_ne(jstr(r.json, "platform"), "");
	json_t *in = json_array_get(json_object_get(r.json, "inputs"), 0);
	ck_assert_str_eq(jstr(in, "name"), "input");
	ck_assert_str_eq(jstr(in, "datatype"), "FP32");
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(in, "shape"), 0)), -1);
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(in, "shape"), 1)), 784);
	json_t *outs = json_object_get(r.json, "outputs");
	ck_assert_int_eq(json_array_size(outs), 2);
	ck_assert_str_eq(jstr(json_array_get(outs, 0), "name"), "probabilities");
	ck_assert_int_eq(json_integer_value(json_array_get(
				 json_object_get(json_array_get(outs, 0), "shape"), 1)), 10);
	ck_assert_str_eq(jstr(json_array_get(outs, 1), "name"), "label");
	ck_assert_str_eq(jstr(json_array_get(outs, 1), "datatype"), "INT64");
	ts_resp_free(&r);

	/* By "latest" too; ready; the versioned routes; wrong versions. */
	ck_assert_int_eq(ts_get("/v2/models/latest", &r), 200);
	ck_assert_str_eq(jstr(r.json, "name"), id);
	ts_resp_free(&r);
	snprintf(path, sizeof(path), "/v2/models/%s/ready", id);
	ck_assert_int_eq(ts_get(path, &r), 200);
	ck_assert(json_is_true(json_object_get(r.json, "ready")));
	ts_resp_free(&r);
	snprintf(path, sizeof(path), "/v2/models/%s/versions/%s", id, v);
	ck_assert_int_eq(ts_get(path, &r), 200);
	ck_assert_str_eq(jstr(r.json, "name"), id);
	ts_resp_free(&r);
	snprintf(path, sizeof(path), "/v2/models/%s/versions/%s/ready", id, v);
	ck_assert_int_eq(ts_get(path, &r), 200);
	ts_resp_free(&r);
	snprintf(path, sizeof(path), "/v2/models/%s/versions/999999/ready", id);
	ts_get(path, &r);
	ck_error(&r, 404, "serves version", "version");
	ts_resp_free(&r);
	snprintf(path, sizeof(path), "/v2/models/%s/versions/999999", id);
	ts_get(path, &r);
	ck_error(&r, 404, "no version \"999999\"", "version");
	ts_resp_free(&r);
	snprintf(path, sizeof(path), "/v2/models/%s/versions/%s/infer", id, v);
	ts_get(path, &r);
	ck_error(&r, 404, "POST infer", NULL);
	ts_resp_free(&r);

	/* Unknown models: 404 on every route. */
	ts_get("/v2/models/nope", &r);
	ck_error(&r, 404, "nope", NULL);
	ts_resp_free(&r);
	ts_get("/v2/models/nope/ready", &r);
	ck_error(&r, 404, "nope", NULL);
	ts_resp_free(&r);
	post("/v2/models/nope/infer", "{}", &r);
	ck_error(&r, 404, "nope", NULL);
	ts_resp_free(&r);
}
END_TEST

/* A job with no weights yet is not ready (400) and LOADING in TF's shape. */
START_TEST(test_not_ready_and_tf_status)
{
	char id[32], v[32], path[160];
	struct ts_resp r;
	ts_trained_model(id);
	step_of(id, v);
	static const char longjob[] = "{\"dataset\": \"synth\", \"hidden\": [16], \"epochs\": 1000, "
				      "\"augment\": \"none\", \"workers\": 1}";
	char running[32], queued[32];
	ck_assert_int_eq(post("/v1/jobs", longjob, &r), 201);
	snprintf(running, sizeof(running), "%s", jstr(r.json, "id"));
	ts_resp_free(&r);
	ck_assert_int_eq(post("/v1/jobs", longjob, &r), 201);
	snprintf(queued, sizeof(queued), "%s", jstr(r.json, "id"));
	ts_resp_free(&r);
	snprintf(path, sizeof(path), "/v2/models/%s/ready", queued);
	ts_get(path, &r);
	ck_error(&r, 400, "is not ready", NULL);
	ts_resp_free(&r);
	snprintf(path, sizeof(path), "/v1/models/%s", queued);
	ck_assert_int_eq(ts_get(path, &r), 200);
	json_t *st = json_array_get(json_object_get(r.json, "model_version_status"), 0);
	ck_assert_str_eq(jstr(st, "state"), "LOADING");
	ts_resp_free(&r);

	/* The trained model: AVAILABLE at its step, with TF's status object. */
	snprintf(path, sizeof(path), "/v1/models/%s", id);
	ck_assert_int_eq(ts_get(path, &r), 200);
	st = json_array_get(json_object_get(r.json, "model_version_status"), 0);
	ck_assert_str_eq(jstr(st, "version"), v);
	ck_assert_str_eq(jstr(st, "state"), "AVAILABLE");
	ck_assert_str_eq(jstr(json_object_get(st, "status"), "error_code"), "OK");
	ts_resp_free(&r);

	/* TF's metadata: the predict signature. */
	snprintf(path, sizeof(path), "/v1/models/%s/metadata", id);
	ck_assert_int_eq(ts_get(path, &r), 200);
	json_t *spec = json_object_get(r.json, "model_spec");
	ck_assert_str_eq(jstr(spec, "name"), id);
	ck_assert_str_eq(jstr(spec, "version"), v);
	json_t *sig = json_object_get(json_object_get(json_object_get(json_object_get(r.json,
				"metadata"), "signature_def"), "signature_def"), "serving_default");
	ck_assert_str_eq(jstr(sig, "method_name"), "tensorflow/serving/predict");
	json_t *in = json_object_get(json_object_get(sig, "inputs"), "instances");
	ck_assert_str_eq(jstr(in, "dtype"), "DT_FLOAT");
	json_t *dims = json_object_get(json_object_get(in, "tensor_shape"), "dim");
	ck_assert_str_eq(jstr(json_array_get(dims, 0), "size"), "-1");
	ck_assert_str_eq(jstr(json_array_get(dims, 1), "size"), "784");
	json_t *probs = json_object_get(json_object_get(sig, "outputs"), "probabilities");
	dims = json_object_get(json_object_get(probs, "tensor_shape"), "dim");
	ck_assert_str_eq(jstr(json_array_get(dims, 1), "size"), "10");
	ck_assert_str_eq(jstr(json_object_get(json_object_get(sig, "outputs"), "label"), "dtype"),
			 "DT_INT64");
	ts_resp_free(&r);
	snprintf(path, sizeof(path), "/v1/models/%s/metadata", queued);
	ts_get(path, &r);
	ck_assert_int_eq(r.status, 409); /* no weights yet, as for v1 predict */
	ts_resp_free(&r);
	snprintf(path, sizeof(path), "/v2/models/%s", queued);
	ts_get(path, &r);
	ck_error(&r, 400, "no weights yet", NULL);
	ts_resp_free(&r);
	snprintf(path, sizeof(path), "/v2/models/%s/infer", queued);
	post(path, "{}", &r);
	ck_error(&r, 400, "no weights yet", NULL);
	ts_resp_free(&r);

	char action[96];
	snprintf(action, sizeof(action), "/v1/jobs/%s:cancel", queued);
	ck_assert_int_eq(post(action, "{}", &r), 200);
	ts_resp_free(&r);
	snprintf(action, sizeof(action), "/v1/jobs/%s:cancel", running);
	ck_assert_int_eq(post(action, "{}", &r), 200);
	ts_resp_free(&r);
}
END_TEST

/* ---- the same image every way ---------------------------------------- */

static unsigned char *png_of(const uint8_t *gray, size_t *len)
{
	png_image img;
	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	img.width = TS_SIDE;
	img.height = TS_SIDE;
	img.format = PNG_FORMAT_GRAY;
	png_alloc_size_t n = 0;
	ck_assert(png_image_write_to_memory(&img, NULL, &n, 0, gray, 0, NULL));
	unsigned char *buf = malloc(n);
	ck_assert(png_image_write_to_memory(&img, buf, &n, 0, gray, 0, NULL));
	*len = n;
	return buf;
}

/* Reads probabilities (10) and the label of a v1 predict answer. */
static int v1_probs(const struct ts_resp *r, double *p)
{
	ck_assert_msg(r->status == 200, "%s", r->body);
	json_t *pred = json_array_get(json_object_get(r->json, "predictions"), 0);
	json_t *probs = json_object_get(pred, "probabilities");
	ck_assert_int_eq(json_array_size(probs), 10);
	for (size_t k = 0; k < 10; k++)
		p[k] = json_number_value(json_array_get(probs, k));
	return (int)json_integer_value(json_object_get(pred, "label"));
}

/* The output named `name` of a v2 answer's JSON. */
static json_t *v2_output(json_t *o, const char *name)
{
	size_t i;
	json_t *out;
	json_array_foreach(json_object_get(o, "outputs"), i, out)
		if (strcmp(jstr(out, "name"), name) == 0)
			return out;
	ck_abort_msg("no output %s", name);
	return NULL;
}

static int v2_json_probs(const struct ts_resp *r, const char *id, double *p)
{
	ck_assert_msg(r->status == 200, "%s", r->body);
	ck_assert_str_eq(jstr(r->json, "model_name"), id);
	json_t *probs = v2_output(r->json, "probabilities"), *label = v2_output(r->json, "label");
	ck_assert_str_eq(jstr(probs, "datatype"), "FP32");
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(probs, "shape"), 0)), 1);
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(probs, "shape"), 1)), 10);
	ck_assert_str_eq(jstr(label, "datatype"), "INT64");
	json_t *data = json_object_get(probs, "data");
	ck_assert_int_eq(json_array_size(data), 10);
	for (size_t k = 0; k < 10; k++)
		p[k] = json_number_value(json_array_get(data, k));
	return (int)json_integer_value(json_array_get(json_object_get(label, "data"), 0));
}

static uint32_t le32(const unsigned char *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* A binary answer: its JSON header parsed, and where the raw bytes start. */
static json_t *v2_binary_answer(const struct ts_resp *r, const unsigned char **raw, size_t *n)
{
	char hl[32];
	ck_assert_msg(r->status == 200, "%s", r->body);
	ts_header(r, "Inference-Header-Content-Length", hl, sizeof(hl));
	size_t h = (size_t)strtoul(hl, NULL, 10);
	ck_assert_msg(h > 0 && h < r->len, "Inference-Header-Content-Length \"%s\"", hl);
	json_t *o = json_loadb(r->body, h, 0, NULL);
	ck_assert_ptr_nonnull(o);
	*raw = (const unsigned char *)r->body + h;
	*n = r->len - h;
	return o;
}

/* {"inputs": [{"name": "input", "datatype": DT, "shape": SHAPE, "data": [...]}]}
 * with the image as UINT8 integers or FP32 fractions. */
static char *v2_json_body(const uint8_t *img, int n, int fp32, const char *shape,
			  const char *extra)
{
	char *s = malloc((size_t)n * TS_PIXELS * 16 + 512), *p = s;
	p += sprintf(p, "{%s\"inputs\": [{\"name\": \"input\", \"datatype\": \"%s\", \"shape\": "
		     "%s, \"data\": [", extra ? extra : "", fp32 ? "FP32" : "UINT8", shape);
	for (int i = 0; i < n * TS_PIXELS; i++) {
		int v = img[i % TS_PIXELS];
		if (i % TS_SIDE == 0)
			p += sprintf(p, "%s[", i ? "," : "");
		else
			*p++ = ',';
		if (fp32)
			p += sprintf(p, "%.9g", (double)(float)(v / 255.0));
		else
			p += sprintf(p, "%d", v);
		if (i % TS_SIDE == TS_SIDE - 1)
			*p++ = ']';
	}
	strcpy(p, "]}]}");
	return s;
}

START_TEST(test_same_probabilities_every_way)
{
	char id[32], path[160], v1[160];
	struct ts_resp r;
	ts_trained_model(id);
	snprintf(path, sizeof(path), "/v2/models/%s/infer", id);
	snprintf(v1, sizeof(v1), "/v1/models/%s:predict", id);
	uint8_t img[TS_PIXELS];
	uint32_t seed = 12345;
	ts_synth_image(3, &seed, img);
	double p[7][10];
	int label[7];

	/* v1 JSON, 0..255 */
	char *body = malloc(TS_PIXELS * 4 + 64), *w = body;
	w += sprintf(w, "{\"pixel_range\": 255, \"instances\": [[");
	for (int k = 0; k < TS_PIXELS; k++)
		w += sprintf(w, "%s%d", k ? "," : "", img[k]);
	strcpy(w, "]]}");
	post(v1, body, &r);
	label[0] = v1_probs(&r, p[0]);
	ts_resp_free(&r);
	free(body);
	/* v1 PNG */
	size_t png_len;
	unsigned char *png = png_of(img, &png_len);
	ts_request("POST", v1, "image/png", NULL, png, png_len, &r);
	label[1] = v1_probs(&r, p[1]);
	ts_resp_free(&r);
	free(png);
	/* v2 JSON, UINT8 [1, 28, 28] */
	body = v2_json_body(img, 1, 0, "[1, 28, 28]", "\"id\": \"u8\", ");
	post(path, body, &r);
	label[2] = v2_json_probs(&r, id, p[2]);
	ck_assert_str_eq(jstr(r.json, "id"), "u8");
	ts_resp_free(&r);
	free(body);
	/* v2 JSON, FP32 [1, 1, 28, 28] */
	body = v2_json_body(img, 1, 1, "[1, 1, 28, 28]", NULL);
	post(path, body, &r);
	label[3] = v2_json_probs(&r, id, p[3]);
	ts_resp_free(&r);
	free(body);

	/* v2 binary FP32, built byte by byte: the JSON header, then 784
	 * little-endian floats; probabilities asked for in binary, the label
	 * in JSON. */
	static const char head[] =
		"{\"inputs\":[{\"name\":\"input\",\"shape\":[1,784],\"datatype\":\"FP32\","
		"\"parameters\":{\"binary_data_size\":3136}}],\"outputs\":[{\"name\":"
		"\"probabilities\",\"parameters\":{\"binary_data\":true}},{\"name\":\"label\"}]}";
	size_t hlen = sizeof(head) - 1, len = hlen + TS_PIXELS * 4;
	unsigned char *bin = malloc(len);
	memcpy(bin, head, hlen);
	for (int k = 0; k < TS_PIXELS; k++) {
		float f = (float)(img[k] / 255.0);
		uint32_t u;
		memcpy(&u, &f, 4);
		for (int b = 0; b < 4; b++)
			bin[hlen + 4 * (size_t)k + (size_t)b] = (unsigned char)(u >> (8 * b));
	}
	char hl[64];
	snprintf(hl, sizeof(hl), "Inference-Header-Content-Length: %zu", hlen);
	const char *hdrs[] = {hl, NULL};
	ts_request("POST", path, "application/octet-stream", hdrs, bin, len, &r);
	const unsigned char *raw;
	size_t raw_len;
	json_t *o = v2_binary_answer(&r, &raw, &raw_len);
	json_t *po = v2_output(o, "probabilities");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(po, "parameters"),
							    "binary_data_size")), 40);
	ck_assert_ptr_null(json_object_get(po, "data"));
	ck_assert_uint_eq(raw_len, 40);
	for (int k = 0; k < 10; k++) {
		uint32_t u = le32(raw + 4 * k);
		float f;
		memcpy(&f, &u, 4);
		p[4][k] = f;
	}
	label[4] = (int)json_integer_value(json_array_get(json_object_get(v2_output(o, "label"),
									 "data"), 0));
	json_decref(o);
	ts_resp_free(&r);
	free(bin);

	/* v2 binary UINT8 with binary_data_output: both outputs raw. */
	static const char head8[] =
		"{\"parameters\":{\"binary_data_output\":true},\"inputs\":[{\"name\":\"input\","
		"\"shape\":[1,28,28],\"datatype\":\"UINT8\",\"parameters\":{\"binary_data_size\":"
		"784}}]}";
	hlen = sizeof(head8) - 1;
	bin = malloc(hlen + TS_PIXELS);
	memcpy(bin, head8, hlen);
	memcpy(bin + hlen, img, TS_PIXELS);
	snprintf(hl, sizeof(hl), "Inference-Header-Content-Length: %zu", hlen);
	ts_request("POST", path, NULL, hdrs, bin, hlen + TS_PIXELS, &r);
	o = v2_binary_answer(&r, &raw, &raw_len);
	ck_assert_uint_eq(raw_len, 40 + 8);
	ck_assert_str_eq(jstr(json_array_get(json_object_get(o, "outputs"), 0), "name"),
			 "probabilities");
	for (int k = 0; k < 10; k++) {
		uint32_t u = le32(raw + 4 * k);
		float f;
		memcpy(&f, &u, 4);
		p[5][k] = f;
	}
	uint64_t l = 0;
	for (int b = 7; b >= 0; b--)
		l = l << 8 | raw[40 + b];
	label[5] = (int)l;
	json_decref(o);
	ts_resp_free(&r);
	free(bin);

	/* FP32 0..255 with pixel_range 255 is the same input again. */
	body = v2_json_body(img, 1, 0, "[1, 784]", "\"parameters\": {\"pixel_range\": 255}, ");
	memcpy(strstr(body, "UINT8"), "FP32\" ", 6);
	post(path, body, &r);
	label[6] = v2_json_probs(&r, id, p[6]);
	ts_resp_free(&r);
	free(body);

	for (int w2 = 0; w2 < 7; w2++) {
		ck_assert_msg(label[w2] == 3, "way %d: label %d, wanted 3", w2, label[w2]);
		for (int k = 0; k < 10; k++)
			ck_assert_msg(fabs(p[w2][k] - p[4][k]) <= 1e-6, "way %d class %d: %.9g vs "
				      "binary %.9g", w2, k, p[w2][k], p[4][k]);
	}
	/* v2 JSON prints floats exactly (9 digits): equal to the binary's. */
	for (int k = 0; k < 10; k++) {
		ck_assert((float)p[2][k] == (float)p[4][k]);
		ck_assert((float)p[5][k] == (float)p[4][k]);
	}
}
END_TEST

/* Three images of classes 1, 4, 7 as UINT8 [3, 784]; `outputs` as given. */
static char *batch_body(const char *outputs)
{
	uint8_t img[TS_PIXELS];
	uint32_t seed = 7;
	char *s = malloc(3 * TS_PIXELS * 5 + 512), *p = s;
	p += sprintf(p, "{\"inputs\": [{\"name\": \"input\", \"datatype\": \"UINT8\", \"shape\": "
		     "[3, 784], \"data\": [");
	for (int i = 0; i < 3; i++) {
		ts_synth_image(i * 3 + 1, &seed, img);
		p += sprintf(p, "%s[", i ? "," : "");
		for (int k = 0; k < TS_PIXELS; k++)
			p += sprintf(p, "%s%d", k ? "," : "", img[k]);
		*p++ = ']';
	}
	sprintf(p, "]}], \"outputs\": %s, \"parameters\": {\"preprocess\": \"none\", "
		"\"priority\": 1}}", outputs);
	return s;
}

/* Several images at once; only the outputs asked for, in their order. */
START_TEST(test_batch_and_requested_outputs)
{
	char id[32], path[160];
	struct ts_resp r;
	ts_trained_model(id);
	snprintf(path, sizeof(path), "/v2/models/%s/infer", id);
	char *s = batch_body("[{\"name\": \"label\"}]");
	post(path, s, &r);
	free(s);
	ck_assert_msg(r.status == 200, "%s", r.body);
	json_t *outs = json_object_get(r.json, "outputs");
	ck_assert_int_eq(json_array_size(outs), 1);
	json_t *label = json_array_get(outs, 0);
	ck_assert_str_eq(jstr(label, "name"), "label");
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(label, "shape"), 0)), 3);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(label, "data"),
								   (size_t)i)), i * 3 + 1);
	ck_assert_str_ne(jstr(r.json, "model_version"), "");
	ts_resp_free(&r);

	s = batch_body("[{\"name\": \"label\", \"parameters\": {\"binary_data\": false}}, "
		       "{\"name\": \"probabilities\"}]");
	post(path, s, &r);
	free(s);
	ck_assert_msg(r.status == 200, "%s", r.body);
	outs = json_object_get(r.json, "outputs");
	ck_assert_int_eq(json_array_size(outs), 2);
	ck_assert_str_eq(jstr(json_array_get(outs, 0), "name"), "label");
	json_t *probs = json_array_get(outs, 1);
	ck_assert_str_eq(jstr(probs, "name"), "probabilities");
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(probs, "shape"), 0)), 3);
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(probs, "shape"), 1)), 10);
	ck_assert_int_eq(json_array_size(json_object_get(probs, "data")), 30);
	ts_resp_free(&r);
}
END_TEST

/* ---- errors ---------------------------------------------------------- */

struct bad {
	const char *body; /* %s: 784 valid FP32 values */
	long status;
	const char *field;
	const char *text;
};

#define IN(fields) "{\"inputs\": [{\"name\": \"input\", " fields "}]}"
#define OK_IN "\"datatype\": \"FP32\", \"shape\": [1, 784], \"data\": [%s]"

static const struct bad bads[] = {
	{"not json", 400, "", "not valid JSON"},
	{"[1, 2]", 400, "", "must be a JSON object"},
	{"{\"inputs\": [{\"name\": \"input\", " OK_IN "}], \"sequence_id\": 3}", 400, "sequence_id",
	 "unknown field \"sequence_id\""},
	{"{\"id\": 5, \"inputs\": [{\"name\": \"input\", " OK_IN "}]}", 400, "id", "id must be a string"},
	{"{\"parameters\": [], \"inputs\": [{\"name\": \"input\", " OK_IN "}]}", 400, "parameters",
	 "must be an object"},
	{"{\"parameters\": {\"temperature\": 1}, \"inputs\": [{\"name\": \"input\", " OK_IN "}]}", 400,
	 "parameters", "unknown request parameter \"temperature\""},
	{"{\"parameters\": {\"pixel_range\": 7}, \"inputs\": [{\"name\": \"input\", " OK_IN "}]}", 400,
	 "parameters.pixel_range", "1 (values in [0,1]) or 255"},
	{"{\"parameters\": {\"preprocess\": \"x\"}, \"inputs\": [{\"name\": \"input\", " OK_IN "}]}",
	 400, "parameters.preprocess", "\"none\" or \"mnist\""},
	{"{\"parameters\": {\"binary_data_output\": 1}, \"inputs\": [{\"name\": \"input\", " OK_IN
	 "}]}", 400, "parameters.binary_data_output", "true or false"},
	{"{\"id\": \"x\"}", 400, "inputs", "array of one input"},
	{"{\"inputs\": [{\"name\": \"input\", " OK_IN "}, {\"name\": \"input\", " OK_IN "}]}", 400,
	 "inputs", "array of one input"},
	{"{\"inputs\": [7]}", 400, "inputs[0]", "must be an object"},
	{IN(OK_IN ", \"layout\": \"NCHW\""), 400, "inputs[0]", "unknown field \"layout\""},
	{"{\"inputs\": [{\"name\": \"x\", " OK_IN "}]}", 400, "inputs[0].name", "not \"x\""},
	{"{\"inputs\": [{" OK_IN "}]}", 400, "inputs[0].name", "a missing name"},
	{IN("\"datatype\": \"INT32\", \"shape\": [1, 784], \"data\": [%s]"), 400, "inputs[0].datatype",
	 "FP32 or UINT8, not \"INT32\""},
	{IN("\"shape\": [1, 784], \"data\": [%s]"), 400, "inputs[0].datatype", "a missing one"},
	{IN("\"datatype\": \"FP32\", \"shape\": [1, 783], \"data\": [%s]"), 400, "inputs[0].shape",
	 "[N, 784], [N, 28, 28] or [N, 1, 28, 28]"},
	{IN("\"datatype\": \"FP32\", \"shape\": [0, 784], \"data\": [%s]"), 400, "inputs[0].shape",
	 "N >= 1"},
	{IN("\"datatype\": \"FP32\", \"shape\": [1, 2, 28, 28], \"data\": [%s]"), 400,
	 "inputs[0].shape", "[N, 1, 28, 28]"},
	{IN("\"datatype\": \"FP32\", \"shape\": \"1x784\", \"data\": [%s]"), 400, "inputs[0].shape",
	 "shape must be"},
	{IN("\"datatype\": \"FP32\", \"shape\": [5, 784], \"data\": [%s]"), 413, "inputs[0].shape",
	 "5 instances are more than the 4"},
	{IN(OK_IN ", \"parameters\": {\"shared_memory_region\": \"r\"}"), 400, "inputs[0].parameters",
	 "binary_data_size"},
	{IN("\"datatype\": \"FP32\", \"shape\": [1, 784]"), 400, "inputs[0].data", "has no data"},
	{IN(OK_IN ", \"parameters\": {\"binary_data_size\": 3136}"), 400, "inputs[0].data",
	 "both data and parameters.binary_data_size"},
	{IN("\"datatype\": \"FP32\", \"shape\": [2, 784], \"data\": [%s]"), 400, "inputs[0].data",
	 "holds 784 values; its shape says 1568"},
	{IN("\"datatype\": \"FP32\", \"shape\": [1, 784], \"data\": [%s, 0]"), 400, "inputs[0].data",
	 "more than the 784 values"},
	{IN("\"datatype\": \"FP32\", \"shape\": [1, 784], \"data\": [2, %s]"), 400, "inputs[0].data",
	 "value 0 is 2; with pixel_range 1"},
	{IN("\"datatype\": \"UINT8\", \"shape\": [1, 784], \"data\": [1.5, %s]"), 400,
	 "inputs[0].data", "values are integers"},
	{IN("\"datatype\": \"UINT8\", \"shape\": [1, 784], \"data\": [256, %s]"), 400,
	 "inputs[0].data", "value 0 is 256"},
	{IN("\"datatype\": \"FP32\", \"shape\": [1, 784], \"data\": [\"a\", %s]"), 400,
	 "inputs[0].data", "must be numbers"},
	{IN("\"datatype\": \"FP32\", \"shape\": [1, 784], \"data\": {\"v\": [%s]}"), 400,
	 "inputs[0].data", "must be numbers"},
	{IN("\"datatype\": \"FP32\", \"shape\": [1, 784], \"data\": [--1, %s]"), 400,
	 "inputs[0].data", "value 0 (\"--1\") is not a number"},
	{IN("\"datatype\": \"FP32\", \"shape\": [1, 784], \"data\": [[1, 2] [3], %s]"), 400, "",
	 "not valid JSON"},
	{IN("\"datatype\": \"FP32\", \"shape\": [1, 784], \"data\": [-1, %s]"), 400,
	 "inputs[0].data", "value 0 is -1"},
	{"{\"inputs\": [{\"name\": \"input\", " OK_IN "}], \"outputs\": [{\"name\": \"logits\"}]}",
	 400, "outputs[0].name", "not \"logits\""},
	{"{\"inputs\": [{\"name\": \"input\", " OK_IN "}], \"outputs\": [{\"name\": \"label\"}, "
	 "{\"name\": \"label\"}]}", 400, "outputs[1].name", "asked for twice"},
	{"{\"inputs\": [{\"name\": \"input\", " OK_IN "}], \"outputs\": [{\"name\": \"label\", "
	 "\"shape\": [1]}]}", 400, "outputs[0].shape", "unknown field \"shape\""},
	{"{\"inputs\": [{\"name\": \"input\", " OK_IN "}], \"outputs\": [{\"name\": \"label\", "
	 "\"parameters\": {\"classification\": 3}}]}", 400, "outputs[0].parameters.classification",
	 "binary_data"},
	{"{\"inputs\": [{\"name\": \"input\", " OK_IN "}], \"outputs\": []}", 400, "outputs",
	 "array of 1 or 2"},
	{"{\"inputs\": [{\"name\": \"input\", " OK_IN "}], \"outputs\": [{}]}", 400,
	 "outputs[0].name", "not nothing"},
};

START_TEST(test_infer_errors)
{
	char id[32], path[160];
	struct ts_resp r;
	ts_trained_model(id);
	snprintf(path, sizeof(path), "/v2/models/%s/infer", id);
	char ok[TS_PIXELS * 4 + 8], *w = ok;
	for (int k = 0; k < TS_PIXELS; k++)
		w += sprintf(w, "%s0.5", k ? "," : "");
	size_t cap = 2 * sizeof(ok) + 2048;
	char *body = malloc(cap);
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *b = &bads[i];
		/* every %s is the same 784 values */
		const char *fmt = b->body;
		size_t n = 0;
		for (const char *c = fmt; *c; c++) {
			if (c[0] == '%' && c[1] == 's') {
				n += (size_t)snprintf(body + n, cap - n, "%s", ok);
				c++;
			} else {
				body[n++] = *c;
			}
		}
		body[n] = '\0';
		post(path, body, &r);
		ck_assert_msg(r.status == b->status, "case %zu: status %ld, wanted %ld: %s", i,
			      r.status, b->status, r.body);
		ck_error(&r, b->status, b->text, b->field);
		ts_resp_free(&r);
	}
	free(body);

	/* More JSON values besides the data than a header may hold: 413. */
	size_t big = 20000;
	body = malloc(big + 64);
	size_t n = (size_t)sprintf(body, "{\"x\": [");
	while (n < big)
		n += (size_t)sprintf(body + n, "0,");
	strcpy(body + n, "0]}");
	post(path, body, &r);
	ck_error(&r, 413, "more than 4096 JSON values", "");
	ts_resp_free(&r);
	free(body);

	/* A media type that is not JSON or octets: 415. */
	ts_request("POST", path, "text/plain", NULL, "{}", 2, &r);
	ck_error(&r, 415, "text/plain", "Content-Type");
	ts_resp_free(&r);
}
END_TEST

/* The binary extension's own errors, each request built byte by byte. */
START_TEST(test_binary_errors)
{
	char id[32], path[160], hl[96];
	struct ts_resp r;
	ts_trained_model(id);
	snprintf(path, sizeof(path), "/v2/models/%s/infer", id);
	static const char head[] = "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,784],\"datatype\":"
				   "\"UINT8\",\"parameters\":{\"binary_data_size\":%d}}]}";
	char json[256];
	unsigned char body[1024];
	const char *hdrs[] = {hl, NULL};

	/* binary_data_size that the shape does not make */
	int hlen = snprintf(json, sizeof(json), head, 783);
	memcpy(body, json, (size_t)hlen);
	memset(body + hlen, 7, 783);
	snprintf(hl, sizeof(hl), "Inference-Header-Content-Length: %d", hlen);
	ts_request("POST", path, "application/octet-stream", hdrs, body, (size_t)hlen + 783, &r);
	ck_error(&r, 400, "binary_data_size is 783; shape and datatype make it 784",
		 "inputs[0].parameters");
	ts_resp_free(&r);

	/* fewer bytes after the header than binary_data_size */
	hlen = snprintf(json, sizeof(json), head, 784);
	memcpy(body, json, (size_t)hlen);
	memset(body + hlen, 7, 784);
	snprintf(hl, sizeof(hl), "Inference-Header-Content-Length: %d", hlen);
	ts_request("POST", path, "application/octet-stream", hdrs, body, (size_t)hlen + 700, &r);
	ck_error(&r, 400, "700 bytes follow the JSON header", "Inference-Header-Content-Length");
	ts_resp_free(&r);

	/* a header length that is not a number, or past the body */
	snprintf(hl, sizeof(hl), "Inference-Header-Content-Length: ten");
	ts_request("POST", path, "application/octet-stream", hdrs, body, (size_t)hlen + 784, &r);
	ck_error(&r, 400, "not \"ten\"", "Inference-Header-Content-Length");
	ts_resp_free(&r);
	snprintf(hl, sizeof(hl), "Inference-Header-Content-Length: %d", hlen + 785);
	ts_request("POST", path, "application/octet-stream", hdrs, body, (size_t)hlen + 784, &r);
	ck_error(&r, 400, "the JSON header's length", "Inference-Header-Content-Length");
	ts_resp_free(&r);

	/* binary bytes with no input that claims them */
	static const char json_in[] = "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,784],"
				      "\"datatype\":\"UINT8\",\"data\":[%s]}]}";
	char *jb = malloc(4096), *w = jb;
	char vals[TS_PIXELS * 2 + 4], *v = vals;
	for (int k = 0; k < TS_PIXELS; k++)
		v += sprintf(v, "%s1", k ? "," : "");
	w += sprintf(w, json_in, vals);
	size_t jl = (size_t)(w - jb);
	memcpy(w, "XYZ", 3);
	snprintf(hl, sizeof(hl), "Inference-Header-Content-Length: %zu", jl);
	ts_request("POST", path, "application/octet-stream", hdrs, jb, jl + 3, &r);
	ck_error(&r, 400, "3 bytes follow the JSON header but the inputs' binary_data_size add up "
		 "to 0", "Inference-Header-Content-Length");
	ts_resp_free(&r);
	free(jb);

	/* FP32 NaN and out-of-range values, named by their place */
	static const char headf[] = "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,784],\"datatype\":"
				    "\"FP32\",\"parameters\":{\"binary_data_size\":3136}}]}";
	size_t fl = sizeof(headf) - 1;
	unsigned char *fb = calloc(1, fl + 3136);
	memcpy(fb, headf, fl);
	fb[fl + 4 * 5 + 3] = 0x7f; /* value 5: 0x7fc00000, a NaN */
	fb[fl + 4 * 5 + 2] = 0xc0;
	snprintf(hl, sizeof(hl), "Inference-Header-Content-Length: %zu", fl);
	ts_request("POST", path, "application/octet-stream", hdrs, fb, fl + 3136, &r);
	ck_error(&r, 400, "value 5 is nan", "inputs[0].data");
	ts_resp_free(&r);
	memset(fb + fl, 0, 3136);
	fb[fl + 4 * 9 + 3] = 0x40; /* value 9: 2.0 */
	ts_request("POST", path, "application/octet-stream", hdrs, fb, fl + 3136, &r);
	ck_error(&r, 400, "value 9 is 2", "inputs[0].data");
	ts_resp_free(&r);
	free(fb);
}
END_TEST

/* The parser on its own, on a buffer of exactly the body's size (ASan
 * sees a read past it): a header ending inside a string, in an escape,
 * found by fuzz/fuzz_oip.c. */
START_TEST(test_parse_exact_buffers)
{
	static const char *const bodies[] = {"{\"`}\\", "{\"inputs\": [{\"data\": \"\\", "{\"", "[",
					     "{\"inputs\":[{\"data\":[1,", ""};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		size_t n = strlen(bodies[i]);
		char *b = malloc(n ? n : 1);
		memcpy(b, bodies[i], n);
		struct oip_request q;
		struct td_error e;
		int rc = oip_parse_infer(b, n, NULL, 28, 28, 8, &q, &e);
		ck_assert_msg(rc == TD_EINVAL, "body %zu: %d", i, rc);
		ck_assert_str_ne(e.msg, "");
		oip_request_free(&q);
		free(b);
	}
}
END_TEST

Suite *suite_oip(void)
{
	Suite *s = suite_create("oip");
	TCase *tc = tcase_create("v2");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_v2_server_and_health);
	tcase_add_test(tc, test_v2_model_metadata_and_ready);
	tcase_add_test(tc, test_not_ready_and_tf_status);
	tcase_add_test(tc, test_same_probabilities_every_way);
	tcase_add_test(tc, test_batch_and_requested_outputs);
	tcase_add_test(tc, test_infer_errors);
	tcase_add_test(tc, test_binary_errors);
	suite_add_tcase(s, tc);
	TCase *p = tcase_create("parse");
	tcase_add_test(p, test_parse_exact_buffers);
	suite_add_tcase(s, p);
	return s;
}
