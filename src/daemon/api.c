/*
 * api.c - the HTTP API v1: the route table and its handlers (see api.h);
 * the table also routes the Open Inference Protocol's /v2 to oip.c.
 *
 * Every handler runs on an HTTP thread (http.c) with the whole body in
 * hand, validates what it was sent, calls the job manager (thread-safe,
 * jobs.c) and answers with one http_reply_*. Nothing here holds a lock:
 * shared state is behind jobs.h, the registry (loads once, then
 * immutable) and http.c's atomic counters.
 *
 * A predict body is read straight into floats (instances.c). Other
 * bodies are parsed by Jansson after a cheap scan that bounds how many
 * values they can hold (a few thousand), so a small body cannot make a
 * large tree.
 */
#include "traind/api.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "traind/csvexport.h"
#include "traind/explainapi.h"
#include "traind/gradcheckapi.h"
#include "traind/gradcheck.h"
#include "traind/image.h"
#include "traind/instances.h"
#include "traind/isa.h"
#include "traind/jobcfg.h"
#include "traind/layerseries.h"
#include "traind/oip.h"
#include "traind/predict.h"

#define LIST_LIMIT_DEFAULT 50
#define LIST_LIMIT_MAX 1000
#define METRICS_POINTS_DEFAULT 1000
#define METRICS_POINTS_MAX 100000
#define SMALL_BODY_VALUES 4096 /* values in a job or gradcheck body, at most */
#define IMAGE_MAX_PIXELS (4096u * 4096u)

struct api {
	const struct srvconf *c;
	struct jobs *jobs;
	struct dataset_registry *registry;
	struct jobcfg_limits limits;
	struct timespec started;
};

int api_create(const struct srvconf *c, struct jobs *jobs, struct dataset_registry *registry,
	       struct api **out, struct td_error *e)
{
	struct api *a = calloc(1, sizeof(*a));
	if (!a)
		return td_errorf(e, TD_ENOMEM, "", "out of memory");
	a->c = c;
	a->jobs = jobs;
	a->registry = registry;
	jobcfg_limits_default(&a->limits, c->workers);
	a->limits.max_workers = c->workers;
	a->limits.default_workers = c->workers;
	clock_gettime(CLOCK_MONOTONIC, &a->started);
	*out = a;
	return 0;
}

void api_free(struct api *a)
{
	free(a);
}

static double now_monotonic(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* ---- request helpers ------------------------------------------------ */

/* Replies with e when rc < 0; returns rc. */
static int fail(struct http_request *r, int rc, const struct td_error *e)
{
	if (rc < 0) {
		http_reply_error(r, rc, e);
		if (rc == TD_EFULL)
			http_set_header(r, "Retry-After", "5");
	}
	return rc;
}

/* An integer query parameter in [min, max], `def` when absent. */
static int query_long(struct http_request *r, const char *name, long min, long max, long def,
		      long *out)
{
	const char *v = http_query(r, name);
	*out = def;
	if (!v)
		return 0;
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (end == v || *end || errno || n < min || n > max) {
		http_reply_errorf(r, TD_EINVAL, name, "%s must be an integer from %ld to %ld, "
				  "not \"%.40s\"", name, min, max, v);
		return TD_EINVAL;
	}
	*out = n;
	return 0;
}

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER:
	case JSON_REAL: return "a number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "a value";
}

/* Only application/json (or no Content-Type) is JSON. */
static int require_json(struct http_request *r, const char *accepted)
{
	const char *mt = http_media_type(r);
	/* `curl -d '{...}'` labels its body x-www-form-urlencoded unless told
	 * otherwise; the body is parsed as JSON all the same (strictly), so
	 * the contract's own examples work as typed. */
	if (!*mt || strcmp(mt, "application/json") == 0 ||
	    strcmp(mt, "application/x-www-form-urlencoded") == 0)
		return 0;
	http_reply_errorf(r, TD_EUNSUPPORTED, "Content-Type",
			  "Content-Type %.60s is not supported here; send %s (with curl: "
			  "-H 'Content-Type: application/json')", mt, accepted);
	return TD_EUNSUPPORTED;
}

/* An upper bound of the values a JSON text holds: each value but the
 * first is preceded by ',' or opens with '['/'{' ... counting those
 * characters anywhere (strings included) never undercounts. */
static size_t json_values_bound(const char *s, size_t n)
{
	size_t count = 1;
	for (size_t i = 0; i < n; i++)
		count += s[i] == ',' || s[i] == '[' || s[i] == '{';
	return count;
}

/* Parses the body as JSON, refusing more than max_values values. An empty
 * body is `empty_ok` ? {} : an error. Replies on failure. */
static int parse_body(struct http_request *r, size_t max_values, int empty_ok, json_t **out)
{
	*out = NULL;
	const char *p = r->body;
	size_t n = r->body_len;
	while (n && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++, n--;
	if (!n && empty_ok) {
		*out = json_object();
		return 0;
	}
	if (!n) {
		http_reply_errorf(r, TD_EINVAL, "", "the body is empty; send a JSON object");
		return TD_EINVAL;
	}
	if (json_values_bound(p, n) > max_values) {
		http_reply_errorf(r, TD_ETOOBIG, "", "the body holds more values than this request "
				  "may (at most %zu)", max_values);
		return TD_ETOOBIG;
	}
	json_error_t jerr;
	json_t *j = json_loadb(p, n, JSON_REJECT_DUPLICATES, &jerr);
	if (!j) {
		http_reply_errorf(r, TD_EINVAL, "", "the body is not valid JSON: %s (line %d, "
				  "column %d)", jerr.text, jerr.line, jerr.column);
		return TD_EINVAL;
	}
	if (!json_is_object(j)) {
		http_reply_errorf(r, TD_EINVAL, "", "the body must be a JSON object, not %s",
				  json_kind(j));
		json_decref(j);
		return TD_EINVAL;
	}
	*out = j;
	return 0;
}

/* Actions take no fields: an empty body or {}. */
static int require_no_fields(struct http_request *r)
{
	json_t *j;
	if (r->body_len && require_json(r, "application/json or no body"))
		return TD_EUNSUPPORTED;
	if (parse_body(r, SMALL_BODY_VALUES, 1, &j))
		return TD_EINVAL;
	const char *key = NULL;
	json_t *v;
	json_object_foreach(j, key, v) break;
	int rc = 0;
	if (key) {
		http_reply_errorf(r, TD_EINVAL, key, "unknown field \"%.60s\": this action takes "
				  "no fields", key);
		rc = TD_EINVAL;
	}
	json_decref(j);
	return rc;
}

/* ---- health, metrics, data sets ------------------------------------- */

static void h_healthz(struct http_request *r)
{
	struct api *a = r->app;
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	double up = (double)(t.tv_sec - a->started.tv_sec) +
		    1e-9 * (double)(t.tv_nsec - a->started.tv_nsec);
	http_reply_json(r, 200, json_pack("{s:s, s:s, s:f, s:i, s:s}", "status", "ok", "version",
					  PACKAGE_VERSION, "uptime_seconds", up, "workers",
					  a->c->workers, "isa", isa_tier_name(isa_tier())));
}

static void h_metrics(struct http_request *r)
{
	struct api *a = r->app;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f) {
		http_reply_errorf(r, TD_ENOMEM, "", "out of memory");
		return;
	}
	struct jobs_stats st;
	jobs_stats(a->jobs, &st);
	fprintf(f, "# HELP traind_build_info The running version of traind and its kernels' "
		   "instruction-set tier.\n"
		   "# TYPE traind_build_info gauge\n"
		   "traind_build_info{version=\"%s\",isa=\"%s\"} 1\n", PACKAGE_VERSION,
		isa_tier_name(isa_tier()));
	fprintf(f, "# HELP traind_jobs Jobs by state.\n# TYPE traind_jobs gauge\n");
	for (int s = 0; s < JOB_STATE_COUNT; s++)
		fprintf(f, "traind_jobs{state=\"%s\"} %d\n", job_state_name(s), st.by_state[s]);
	fprintf(f, "# HELP traind_train_samples_total Samples trained on since start, all jobs.\n"
		   "# TYPE traind_train_samples_total counter\n"
		   "traind_train_samples_total %.0f\n"
		   "# HELP traind_train_samples_per_second Current training rate, all running jobs.\n"
		   "# TYPE traind_train_samples_per_second gauge\n"
		   "traind_train_samples_per_second %.1f\n",
		st.samples_total, st.samples_per_second);
	json_t *cl = jobs_cluster_json(a->jobs), *job;
	size_t i;
	fprintf(f, "# HELP traind_job_ranks Ranks of each running job across ranks.\n"
		   "# TYPE traind_job_ranks gauge\n"
		   "# HELP traind_job_restarts Restarts after a lost rank, per running job.\n"
		   "# TYPE traind_job_restarts counter\n");
	json_array_foreach(json_object_get(cl, "jobs"), i, job) {
		const char *id = json_string_value(json_object_get(job, "id"));
		fprintf(f, "traind_job_ranks{job=\"%s\"} %lld\ntraind_job_restarts{job=\"%s\"} %lld\n",
			id, (long long)json_integer_value(json_object_get(job, "ranks")), id,
			(long long)json_integer_value(json_object_get(job, "restarts")));
	}
	json_decref(cl);
	http_write_metrics(r->server, f);
	if (fclose(f) || !buf) {
		free(buf);
		http_reply_errorf(r, TD_ENOMEM, "", "out of memory");
		return;
	}
	http_reply_buffer(r, 200, "text/plain; version=0.0.4; charset=utf-8", buf, len);
}

static void h_cluster(struct http_request *r)
{
	struct api *a = r->app;
	http_reply_json(r, 200, jobs_cluster_json(a->jobs));
}

static void h_datasets(struct http_request *r)
{
	struct api *a = r->app;
	json_t *arr = json_array();
	for (size_t i = 0; i < registry_count(a->registry); i++) {
		const struct dataset_spec *spec = registry_spec(a->registry, i);
		const struct dataset *ds;
		struct td_error e;
		json_t *o;
		if (registry_get(a->registry, spec->name, &ds, &e) == 0) {
			json_t *classes = json_array();
			for (int k = 0; k < ds->n_classes; k++)
				json_array_append_new(classes, json_string(ds->class_names[k]));
			o = json_pack("{s:s, s:I, s:I, s:i, s:i, s:o, s:s, s:b}", "name", ds->name,
				      "train", (json_int_t)ds->n_train, "test",
				      (json_int_t)ds->n_test, "width", ds->width, "height",
				      ds->height, "classes", classes, "source", ds->source,
				      "available", 1);
		} else {
			o = json_pack("{s:s, s:s, s:b, s:s}", "name", spec->name, "source",
				      spec->source, "available", 0, "error", e.msg);
		}
		json_array_append_new(arr, o);
	}
	http_reply_json(r, 200, json_pack("{s:o}", "datasets", arr));
}

/* ---- jobs ----------------------------------------------------------- */

/* Every job option with the default `{}` gets from this server, read from
 * the option table (jobcfg.c); the data set's allowed values are the
 * registered names (GET /v1/datasets says which are available). */
static void h_job_options(struct http_request *r)
{
	struct api *a = r->app;
	json_t *opts = jobcfg_describe(&a->limits);
	size_t i;
	json_t *o;
	json_array_foreach(opts, i, o) {
		if (strcmp(json_string_value(json_object_get(o, "name")), "dataset") != 0)
			continue;
		json_t *names = json_array();
		for (size_t k = 0; k < registry_count(a->registry); k++)
			json_array_append_new(names, json_string(registry_spec(a->registry, k)->name));
		json_object_set_new(o, "values", names);
	}
	http_reply_json(r, 200, json_pack("{s:o}", "options", opts));
}

/* A job body (POST /v1/jobs and :validate) into *cfg, defaults filled in
 * and finished against the server's limits. Returns 0, or has answered. */
static int job_body(struct http_request *r, struct job_config *cfg)
{
	struct api *a = r->app;
	json_t *body;
	if ((r->body_len && require_json(r, "application/json")) ||
	    parse_body(r, SMALL_BODY_VALUES, 1, &body))
		return -1;
	struct td_error e;
	jobcfg_defaults(cfg);
	int rc = jobcfg_from_json(cfg, body, &e);
	json_decref(body);
	if (!rc)
		rc = jobcfg_finish(cfg, &a->limits, &e);
	return fail(r, rc, &e) ? -1 : 0;
}

static void h_jobs_create(struct http_request *r)
{
	struct api *a = r->app;
	struct job_config cfg;
	struct td_error e;
	char id[JOB_ID_MAX];
	if (job_body(r, &cfg) || fail(r, jobs_submit(a->jobs, &cfg, id, &e), &e))
		return;
	json_t *job = jobs_get_json(a->jobs, id, &e);
	if (!job) {
		/* Deleted between submit and here: still created. */
		job = json_pack("{s:s}", "id", id);
	}
	char location[64];
	snprintf(location, sizeof(location), "/v1/jobs/%s", id);
	http_reply_json(r, 201, job);
	http_set_header(r, "Location", location);
}

/* POST /v1/jobs:validate: the body POST /v1/jobs takes, checked the same
 * way, nothing queued: 200 {"config", "model"} (every option as the job
 * would run, each layer's shapes and parameters) or the same 400. The
 * new-job form asks it as the layer list is edited. */
static void h_jobs_validate(struct http_request *r)
{
	struct api *a = r->app;
	struct job_config cfg;
	struct model_shape shape;
	struct td_error e;
	if (job_body(r, &cfg) || fail(r, jobs_check(a->jobs, &cfg, &shape, NULL, &e), &e))
		return;
	http_reply_json(r, 200, json_pack("{s:o, s:o}", "config", jobcfg_to_json(&cfg), "model",
					  model_shape_json(&shape)));
}

/* The index of job `id` in a {"jobs": [...]} list, or -1. */
/* GET /v1/jobs?state=&limit=&cursor=: a page of the jobs, newest first,
 * with "next_cursor" (the id of its last job when more follow, else null)
 * and "total" (the jobs of that state); see jobs_list_json. */
static void h_jobs_list(struct http_request *r)
{
	struct api *a = r->app;
	long limit;
	int state = -1;
	const char *sv = http_query(r, "state"), *cursor = http_query(r, "cursor");
	if (sv && (state = job_state_parse(sv)) < 0) {
		char list[128] = "";
		for (int s = 0; s < JOB_STATE_COUNT; s++) {
			strcat(list, s ? ", " : "");
			strcat(list, job_state_name(s));
		}
		http_reply_errorf(r, TD_EINVAL, "state", "state must be one of %s, not \"%.40s\"",
				  list, sv);
		return;
	}
	if (query_long(r, "limit", 1, LIST_LIMIT_MAX, LIST_LIMIT_DEFAULT, &limit))
		return;
	struct td_error e;
	json_t *page = jobs_list_json(a->jobs, state, cursor, (int)limit, &e);
	if (!page) {
		fail(r, e.field[0] ? TD_EINVAL : TD_ENOMEM, &e);
		return;
	}
	http_reply_json(r, 200, page);
}

static void h_job_get(struct http_request *r)
{
	struct api *a = r->app;
	struct td_error e;
	json_t *job = jobs_get_json(a->jobs, r->id, &e);
	if (!job) {
		fail(r, TD_ENOTFOUND, &e);
		return;
	}
	http_reply_json(r, 200, job);
}

static void job_action(struct http_request *r,
		       int (*action)(struct jobs *, const char *, struct td_error *))
{
	struct api *a = r->app;
	struct td_error e;
	if (require_no_fields(r))
		return;
	int rc = action(a->jobs, r->id, &e);
	if (fail(r, rc, &e))
		return;
	h_job_get(r);
}

static void h_job_pause(struct http_request *r)
{
	job_action(r, jobs_pause);
}

static void h_job_resume(struct http_request *r)
{
	job_action(r, jobs_resume);
}

static void h_job_cancel(struct http_request *r)
{
	job_action(r, jobs_cancel);
}

static void h_job_delete(struct http_request *r)
{
	struct api *a = r->app;
	struct td_error e;
	if (fail(r, jobs_delete(a->jobs, r->id, &e), &e))
		return;
	http_reply_empty(r, 204);
}

/* GET /v1/jobs/{id}/metrics: JSON by default; format=csv gives the same
 * curve as a file (csvexport.h), every point the job keeps by default. */
static void h_job_metrics(struct http_request *r)
{
	struct api *a = r->app;
	struct td_error e;
	long since, max_points;
	const char *format = http_query(r, "format");
	if (format && strcmp(format, "json") && strcmp(format, "csv")) {
		http_reply_errorf(r, TD_EINVAL, "format", "format must be json or csv, not "
				  "\"%.40s\"", format);
		return;
	}
	int csv = format && strcmp(format, "csv") == 0;
	if (query_long(r, "since_step", 0, LONG_MAX - 1, 0, &since) ||
	    query_long(r, "max_points", 1, METRICS_POINTS_MAX,
		       csv ? METRICS_POINTS_MAX : METRICS_POINTS_DEFAULT, &max_points))
		return;
	json_t *o = jobs_metrics_json(a->jobs, r->id, since, (int)max_points, &e);
	if (!o) {
		fail(r, TD_ENOTFOUND, &e);
		return;
	}
	if (!csv) {
		http_reply_json(r, 200, o);
		return;
	}
	json_t *job = jobs_get_json(a->jobs, r->id, &e);
	char *buf = NULL;
	size_t len = 0;
	const char *name = json_string_value(json_object_get(job, "name"));
	int rc = job ? csvexport_metrics(o, r->id, name ? name : "", &buf, &len, &e)
		     : TD_ENOTFOUND; /* deleted since */
	json_decref(o);
	json_decref(job);
	if (fail(r, rc, &e))
		return;
	char disposition[HTTP_ID_MAX + 48];
	snprintf(disposition, sizeof(disposition), "attachment; filename=\"%s-metrics.csv\"", r->id);
	if (http_reply_buffer(r, 200, "text/csv; charset=utf-8; header=present", buf, len) == 0)
		http_set_header(r, "Content-Disposition", disposition);
}

/* GET /v1/jobs/{id}/layers: per-layer statistics, like the metrics cursor. */
static void h_job_layers(struct http_request *r)
{
	struct api *a = r->app;
	struct td_error e;
	long since, max_points;
	if (query_long(r, "since_step", 0, LONG_MAX - 1, 0, &since) ||
	    query_long(r, "max_points", 1, LAYERS_MAX_POINTS, METRICS_POINTS_DEFAULT, &max_points))
		return;
	json_t *o = jobs_layers_json(a->jobs, r->id, since, (int)max_points, &e);
	if (!o) {
		fail(r, TD_ENOTFOUND, &e);
		return;
	}
	http_reply_json(r, 200, o);
}

/* GET /v1/jobs/{id}/histograms: weights and activations per epoch. */
static void h_job_histograms(struct http_request *r)
{
	struct api *a = r->app;
	struct td_error e;
	json_t *o = jobs_histograms_json(a->jobs, r->id, &e);
	if (!o) {
		fail(r, TD_ENOTFOUND, &e);
		return;
	}
	http_reply_json(r, 200, o);
}

/* ---- models and prediction ------------------------------------------ */

static void h_models(struct http_request *r)
{
	struct api *a = r->app;
	http_reply_json(r, 200, jobs_models_json(a->jobs));
}

/* One model, with TF Serving's model_version_status beside our fields:
 * the version is the training step of the weights served now. */
static void h_model_get(struct http_request *r)
{
	struct api *a = r->app;
	struct td_error e;
	json_t *o = jobs_model_json(a->jobs, r->id, &e);
	if (!o) {
		fail(r, TD_ENOTFOUND, &e);
		return;
	}
	char version[32];
	snprintf(version, sizeof(version), "%" JSON_INTEGER_FORMAT,
		 json_integer_value(json_object_get(o, "step")));
	json_object_set_new(o, "model_version_status",
			    json_pack("[{s:s, s:O, s:{s:s, s:s}}]", "version", version, "state",
				      json_object_get(o, "state"), "status", "error_code", "OK",
				      "error_message", ""));
	http_reply_json(r, 200, o);
}

/* A TF Serving tensor_info: dtype and shape, -1 for the batch. */
static json_t *tf_tensor(const char *name, const char *dtype, int d1)
{
	json_t *dims = json_pack("[{s:s, s:s}]", "size", "-1", "name", "");
	if (d1 > 0) {
		char size[16];
		snprintf(size, sizeof(size), "%d", d1);
		json_array_append_new(dims, json_pack("{s:s, s:s}", "size", size, "name", ""));
	}
	return json_pack("{s:s, s:{s:o, s:b}, s:s}", "dtype", dtype, "tensor_shape", "dim", dims,
			 "unknown_rank", 0, "name", name);
}

/* GET /v1/models/{name}/metadata: TF Serving's signature_def of predict. */
static void h_model_metadata(struct http_request *r)
{
	struct api *a = r->app;
	struct model_snapshot *snap;
	struct td_error e;
	if (fail(r, jobs_snapshot(a->jobs, r->id, &snap, &e), &e))
		return;
	const struct dataset *ds = snap->ds;
	char version[32];
	snprintf(version, sizeof(version), "%ld", snap->step);
	json_t *sig = json_pack(
		"{s:{s:o}, s:{s:o, s:o, s:o}, s:s}", "inputs", "instances",
		tf_tensor("instances", "DT_FLOAT", ds->features), "outputs", "probabilities",
		tf_tensor("probabilities", "DT_FLOAT", ds->n_classes), "label",
		tf_tensor("label", "DT_INT64", 0), "class", tf_tensor("class", "DT_STRING", 0),
		"method_name", "tensorflow/serving/predict");
	http_reply_json(r, 200, json_pack("{s:{s:s, s:s, s:s}, s:{s:{s:{s:o}}}}", "model_spec",
					  "name", snap->job_id, "signature_name", "", "version",
					  version, "metadata", "signature_def", "signature_def",
					  "serving_default", sig));
	snapshot_release(snap);
}

/* {"model", "step", "dataset", "classes", "matrix", "accuracy", "samples"}:
 * matrix[true][predicted] over the test set, for the weights served now. */
static void h_model_confusion(struct http_request *r)
{
	struct api *a = r->app;
	struct model_snapshot *snap;
	struct td_error e;
	if (fail(r, jobs_snapshot(a->jobs, r->id, &snap, &e), &e))
		return;
	const struct dataset *ds = snap->ds;
	size_t C = (size_t)ds->n_classes;
	long *m = malloc(sizeof(*m) * C * C);
	double accuracy = 0;
	int rc = m ? snapshot_confusion(snap, m, &accuracy, &e)
		   : td_errorf(&e, TD_ENOMEM, "", "out of memory");
	if (!rc) {
		json_t *classes = json_array(), *matrix = json_array();
		for (size_t t = 0; t < C; t++) {
			json_t *row = json_array();
			for (size_t p = 0; p < C; p++)
				json_array_append_new(row, json_integer(m[t * C + p]));
			json_array_append_new(matrix, row);
			json_array_append_new(classes, json_string(ds->class_names[t]));
		}
		http_reply_json(r, 200, json_pack("{s:s, s:I, s:s, s:o, s:o, s:f, s:I}", "model",
						  snap->job_id, "step", (json_int_t)snap->step,
						  "dataset", ds->name, "classes", classes, "matrix",
						  matrix, "accuracy", accuracy, "samples",
						  (json_int_t)ds->n_test));
	} else {
		fail(r, rc, &e);
	}
	free(m);
	snapshot_release(snap);
}

/* A PNG or PGM body: one instance. */
static int parse_predict_image(struct http_request *r, int png, const struct dataset *ds,
			       float **x_out, struct td_error *e)
{
	const char *pre = http_query(r, "preprocess");
	if (pre && strcmp(pre, "none") && strcmp(pre, "mnist"))
		return td_errorf(e, TD_EINVAL, "preprocess",
				 "preprocess must be none or mnist, not \"%.40s\"", pre);
	struct gray_image img = {0};
	int rc = png ? image_decode_png(r->body, r->body_len, IMAGE_MAX_PIXELS, &img, e)
		     : image_decode_pgm(r->body, r->body_len, IMAGE_MAX_PIXELS, &img, e);
	if (rc)
		return rc;
	float *x = malloc(sizeof(float) * (size_t)ds->width * (size_t)ds->height);
	if (!x)
		rc = td_errorf(e, TD_ENOMEM, "", "out of memory");
	else
		rc = image_to_input(&img, ds->width, ds->height, x, e);
	image_free(&img);
	if (rc) {
		free(x);
		return rc;
	}
	if (pre && strcmp(pre, "mnist") == 0)
		image_preprocess_mnist(x, ds->width, ds->height);
	*x_out = x;
	return 0;
}

/* {"label", "class", "probabilities"} for one instance (predict.h). */
static json_t *prediction_json(const struct model_snapshot *s, const float *out)
{
	const struct dataset *ds = s->ds;
	double p[DATASET_MAX_CLASSES];
	int best = predict_probabilities(s, out, p);
	json_t *probs = json_array();
	for (int k = 0; k < ds->n_classes; k++)
		json_array_append_new(probs, json_real(p[k]));
	return json_pack("{s:i, s:s, s:o}", "label", best, "class", ds->class_names[best],
			 "probabilities", probs);
}

/* GET /v1/models/{name}/download: the model as a checkpoint file. */
static void h_model_download(struct http_request *r)
{
	struct api *a = r->app;
	struct td_error e;
	void *buf;
	size_t len;
	if (fail(r, jobs_export(a->jobs, r->id, &buf, &len, &e), &e))
		return;
	char disposition[HTTP_ID_MAX + 48];
	snprintf(disposition, sizeof(disposition), "attachment; filename=\"%s.ckpt\"", r->id);
	if (http_reply_buffer(r, 200, "application/octet-stream", buf, len) == 0)
		http_set_header(r, "Content-Disposition", disposition);
}

/* POST /v1/models with a checkpoint file: a new model serving its weights. */
static void h_model_import(struct http_request *r)
{
	struct api *a = r->app;
	struct td_error e;
	const char *mt = http_media_type(r);
	if (strcmp(mt, "application/octet-stream") != 0) {
		http_reply_errorf(r, TD_EUNSUPPORTED, "Content-Type",
				  "Content-Type %.60s is not supported here; send the checkpoint "
				  "file as application/octet-stream (with curl: --data-binary "
				  "@model.ckpt -H 'Content-Type: application/octet-stream')",
				  *mt ? mt : "(none)");
		return;
	}
	char id[JOB_ID_MAX];
	if (fail(r, jobs_import(a->jobs, r->body, r->body_len, id, &e), &e))
		return;
	json_t *model = jobs_model_json(a->jobs, id, &e);
	if (!model)
		model = json_pack("{s:s}", "name", id);
	char location[64];
	snprintf(location, sizeof(location), "/v1/models/%s", id);
	if (http_reply_json(r, 201, model) == 0)
		http_set_header(r, "Location", location);
}

static void h_predict(struct http_request *r)
{
	struct api *a = r->app;
	double t0 = now_monotonic();
	const char *mt = http_media_type(r);
	int png = strcmp(mt, "image/png") == 0;
	int pgm = strcmp(mt, "image/x-portable-graymap") == 0;
	if (!png && !pgm &&
	    require_json(r, "application/json, image/png or image/x-portable-graymap"))
		return;
	if (!png && !pgm && http_query(r, "preprocess")) {
		http_reply_errorf(r, TD_EINVAL, "preprocess", "the preprocess query parameter is "
				  "for image bodies; in JSON put \"preprocess\" in the body");
		return;
	}
	struct model_snapshot *snap;
	struct td_error e;
	if (fail(r, jobs_snapshot(a->jobs, r->id, &snap, &e), &e))
		return;
	const struct dataset *ds = snap->ds;
	float *x = NULL, *out = NULL;
	int n = 1, rc;
	if (png || pgm) {
		rc = parse_predict_image(r, png, ds, &x, &e);
	} else {
		struct instances in;
		rc = instances_parse(r->body, r->body_len, ds->width, ds->height,
				     a->c->max_instances, &in, &e);
		x = in.x;
		n = in.n;
		size_t features = (size_t)ds->width * (size_t)ds->height;
		for (int i = 0; !rc && in.mnist && i < n; i++)
			image_preprocess_mnist(x + (size_t)i * features, ds->width, ds->height);
	}
	int units = snap->shape.sizes[snap->shape.n_layers];
	if (!rc && !(out = malloc(sizeof(float) * (size_t)n * (size_t)units)))
		rc = td_errorf(&e, TD_ENOMEM, "", "out of memory");
	if (!rc)
		rc = snapshot_predict(snap, x, n, out, &e);
	if (!rc) {
		json_t *preds = json_array();
		for (int i = 0; i < n; i++)
			json_array_append_new(preds, prediction_json(snap, out + (size_t)i * (size_t)units));
		http_reply_json_digits(r, 200, json_pack("{s:o}", "predictions", preds), 7);
		http_observe_predict(r->server, now_monotonic() - t0, n);
	} else {
		fail(r, rc, &e);
	}
	free(x);
	free(out);
	snapshot_release(snap);
}

/* ---- gradient check (gradcheckapi.c) -------------------------------- */

static void h_gradcheck(struct http_request *r)
{
	json_t *body, *out;
	if ((r->body_len && require_json(r, "application/json")) ||
	    parse_body(r, SMALL_BODY_VALUES, 1, &body))
		return;
	struct td_error e;
	int rc = gradcheckapi_run(body, &out, &e);
	json_decref(body);
	if (!fail(r, rc, &e))
		http_reply_json(r, 200, out);
}

/* ---- explain (explainapi.c) ---------------------------------------- */

static void h_explain(struct http_request *r)
{
	struct api *a = r->app;
	json_t *body;
	if ((r->body_len && require_json(r, "application/json")) ||
	    parse_body(r, SMALL_BODY_VALUES, 1, &body))
		return;
	struct td_error e;
	json_t *out;
	int rc = explainapi_run(body, a->registry, &out, &e);
	json_decref(body);
	if (!fail(r, rc, &e))
		http_reply_json_digits(r, 200, out, 10);
}

/* ---- the Open Inference Protocol (oip.c) ---------------------------- */

static void h_v2_model(struct http_request *r)
{
	oip_model_metadata(r, ((struct api *)r->app)->jobs);
}

static void h_v2_ready(struct http_request *r)
{
	oip_model_ready(r, ((struct api *)r->app)->jobs);
}

static void h_v2_infer(struct http_request *r)
{
	struct api *a = r->app;
	oip_infer(r, a->jobs, a->c->max_instances);
}

static void h_v2_versioned(struct http_request *r)
{
	struct api *a = r->app;
	oip_versioned(r, a->jobs, a->c->max_instances);
}

/* ---- the table ------------------------------------------------------ */

static const struct http_route routes[] = {
	{HTTP_GET, "/healthz", NULL, h_healthz},
	{HTTP_GET, "/metrics", NULL, h_metrics},
	{HTTP_GET, "/v1/datasets", NULL, h_datasets},
	{HTTP_GET, "/v1/cluster", NULL, h_cluster},
	{HTTP_GET, "/v1/job-options", NULL, h_job_options},
	{HTTP_POST, "/v1/jobs", NULL, h_jobs_create},
	{HTTP_POST, "/v1/jobs:validate", NULL, h_jobs_validate},
	{HTTP_GET, "/v1/jobs", "state,limit,cursor", h_jobs_list},
	{HTTP_GET, "/v1/jobs/{id}", NULL, h_job_get},
	{HTTP_DELETE, "/v1/jobs/{id}", NULL, h_job_delete},
	{HTTP_POST, "/v1/jobs/{id}:pause", NULL, h_job_pause},
	{HTTP_POST, "/v1/jobs/{id}:resume", NULL, h_job_resume},
	{HTTP_POST, "/v1/jobs/{id}:cancel", NULL, h_job_cancel},
	{HTTP_GET, "/v1/jobs/{id}/metrics", "since_step,max_points,format", h_job_metrics},
	{HTTP_GET, "/v1/jobs/{id}/layers", "since_step,max_points", h_job_layers},
	{HTTP_GET, "/v1/jobs/{id}/histograms", NULL, h_job_histograms},
	{HTTP_GET, "/v1/models", NULL, h_models},
	{HTTP_GET, "/v1/models/{id}", NULL, h_model_get},
	{HTTP_POST, "/v1/models", NULL, h_model_import},
	{HTTP_GET, "/v1/models/{id}/download", NULL, h_model_download},
	{HTTP_GET, "/v1/models/{id}/confusion", NULL, h_model_confusion},
	{HTTP_POST, "/v1/models/{id}:predict", "preprocess", h_predict},
	{HTTP_GET, "/v1/models/{id}/metadata", NULL, h_model_metadata},
	{HTTP_POST, "/v1/gradcheck", NULL, h_gradcheck},
	{HTTP_POST, "/v1/explain", NULL, h_explain},
	{HTTP_GET, "/v2", NULL, oip_server_metadata},
	{HTTP_GET, "/v2/health/live", NULL, oip_health_live},
	{HTTP_GET, "/v2/health/ready", NULL, oip_health_ready},
	{HTTP_GET, "/v2/models/{id}", NULL, h_v2_model},
	{HTTP_GET, "/v2/models/{id}/ready", NULL, h_v2_ready},
	{HTTP_POST, "/v2/models/{id}/infer", NULL, h_v2_infer},
	{HTTP_GET | HTTP_POST, "/v2/models/{id}/versions/*", NULL, h_v2_versioned},
	{HTTP_GET, "/", NULL, http_serve_static},
	{HTTP_GET, "/static/*", NULL, http_serve_static},
	{0, NULL, NULL, NULL},
};

const struct http_route *api_routes(void)
{
	return routes;
}
