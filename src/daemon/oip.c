/*
 * oip.c - the Open Inference Protocol's REST routes (see oip.h); the
 * infer body is read by oip_parse.c.
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
#include "traind/predict.h"

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

/* A count in decimal, without printf (a small answer's JSON is mostly these). */
static void sb_uint(struct sbuf *b, unsigned long long v)
{
	char tmp[24];
	size_t i = sizeof(tmp);
	do
		tmp[--i] = (char)('0' + v % 10);
	while (v /= 10);
	sb_put(b, tmp + i, sizeof(tmp) - i);
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
	sb_str(b, probs ? "{\"name\":\"" OIP_OUT_PROBS "\",\"datatype\":\"FP32\",\"shape\":["
		   : "{\"name\":\"" OIP_OUT_LABEL "\",\"datatype\":\"INT64\",\"shape\":[");
	sb_uint(b, n);
	if (probs) {
		sb_put(b, ",", 1);
		sb_uint(b, (unsigned)C);
	}
	if (binary) {
		sb_str(b, "],\"parameters\":{\"binary_data_size\":");
		sb_uint(b, count * (probs ? 4 : 8));
		sb_str(b, "}}");
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
			const struct oip_request *q, const double *p, const int *labels)
{
	int C = snap->ds->n_classes;
	size_t n = (size_t)q->n;
	int any_binary = 0;
	struct sbuf b = {0};
	sb_str(&b, "{\"model_name\":");
	sb_json_string(&b, snap->job_id);
	sb_str(&b, ",\"model_version\":\"");
	if (snap->step < 0)
		sb_put(&b, "-", 1);
	sb_uint(&b, snap->step < 0 ? -(unsigned long long)snap->step : (unsigned long long)snap->step);
	sb_str(&b, "\",\"id\":");
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
	char hl[24];
	size_t i = sizeof(hl);
	hl[--i] = '\0';
	do
		hl[--i] = (char)('0' + hlen % 10);
	while (hlen /= 10);
	if (http_reply_buffer(r, 200, any_binary ? "application/octet-stream"
				      : "application/json; charset=utf-8", b.p, b.len) == 0 &&
	    any_binary)
		http_set_header(r, OIP_HEADER_LENGTH, hl + i);
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
	if (version && (snprintf(now, sizeof(now), "%ld", s->step), strcmp(version, now)))
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
				  "octet-stream with " OIP_HEADER_LENGTH " for binary tensors", mt);
		return;
	}
	struct model_snapshot *snap;
	struct td_error e;
	int rc = jobs_snapshot(jobs, r->id, &snap, &e);
	if (rc) {
		reply_error(r, rc, &e);
		return;
	}
	struct oip_request q = {0};
	size_t units = (size_t)snap->shape.sizes[snap->shape.n_layers], C = (size_t)snap->ds->n_classes;
	double *p = NULL; /* one block: p[n x C], out[n x units], labels[n] */
	float *out = NULL;
	int *labels = NULL;
	rc = check_version(snap, version, &e);
	if (!rc)
		rc = oip_parse_infer(r->body, r->body_len, http_header(r, OIP_HEADER_LENGTH),
				     snap->ds->width, snap->ds->height, max_instances, &q, &e);
	size_t n = (size_t)q.n;
	if (!rc && !(p = malloc(n * (sizeof(double) * C + sizeof(float) * units + sizeof(int)))))
		rc = td_errorf(&e, TD_ENOMEM, "", "out of memory for %d instances", q.n);
	if (!rc) {
		out = (float *)(p + n * C);
		labels = (int *)(out + n * units);
	}
	if (!rc)
		rc = snapshot_predict(snap, q.x, q.n, out, &e);
	if (!rc) {
		for (size_t i = 0; i < n; i++)
			labels[i] = predict_probabilities(snap, out + i * units, p + i * C);
		infer_reply(r, snap, &q, p, labels);
		http_observe_predict(r->server, now_seconds() - t0, q.n);
	} else {
		reply_error(r, rc, &e);
	}
	free(p);
	oip_request_free(&q);
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
