/*
 * check_http.c - the daemon end to end: a server started in-process on a
 * free loopback port, driven with libcurl like any client.
 *
 * Each test starts its own server (Check forks every test, and threads do
 * not survive a fork) on a small synthetic data set written as IDX files:
 * ten classes, each a bright 6x6 square at its own place over faint noise,
 * which a tiny model learns in a fraction of a second. With the real
 * digits at $TRAIND_TEST_DATA/digits, one test also trains on them and
 * checks real test images come back with their labels.
 *
 * The cases follow the API reference (docs/api.md, one section a route):
 * the job life cycle, the metrics cursor and CSV export, paging of the job
 * list, predictions in JSON, PNG and PGM, the confusion matrix, every
 * error status
 * with its message and field, authentication, static files and many
 * clients at once while a job trains (also run under ThreadSanitizer).
 */
#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <png.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check_suites.h"
#include "config.h"
#include "testutil.h"
#include "traind/idx.h"
#include "traind/isa.h"
#include "traind/serve.h"
#include "traind/srvconf.h"

#define SIDE 28
#define PIXELS (SIDE * SIDE)
#define N_TRAIN 600
#define N_TEST 200
#define TOKEN "s3cret-Token_42"

/* ---- the synthetic data set ----------------------------------------- */

static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s >> 8;
}

/* Class c: a 6x6 square of 255 at its own place, noise 0..39 elsewhere. */
static void synth_image(int c, uint32_t *seed, uint8_t *img)
{
	int top = 2 + (c % 5) * 5, left = 3 + (c / 5) * 13;
	for (int i = 0; i < PIXELS; i++)
		img[i] = (uint8_t)(lcg(seed) % 40);
	for (int y = top; y < top + 6; y++)
		for (int x = left; x < left + 6; x++)
			img[y * SIDE + x] = 255;
}

static void write_split(const char *dir, const char *prefix, int n, uint32_t seed)
{
	uint8_t *x = malloc((size_t)n * PIXELS), *y = malloc((size_t)n);
	ck_assert(x && y);
	for (int i = 0; i < n; i++) {
		y[i] = (uint8_t)(i % 10);
		synth_image(y[i], &seed, x + (size_t)i * PIXELS);
	}
	char path[512];
	uint32_t dims[3] = {(uint32_t)n, SIDE, SIDE};
	struct td_error e;
	snprintf(path, sizeof(path), "%s/%s-images.idx", dir, prefix);
	ck_assert_msg(idx_write(path, 3, dims, x, &e) == 0, "%s", e.msg);
	snprintf(path, sizeof(path), "%s/%s-labels.idx", dir, prefix);
	ck_assert_msg(idx_write(path, 1, dims, y, &e) == 0, "%s", e.msg);
	free(x);
	free(y);
}

/* ---- one server per test --------------------------------------------- */

static char *tmp;
static struct server *srv;
static char base[64];

struct opts {
	const char *token;
	size_t body_limit;
	int max_instances;
	int http_threads;
	int no_web;
};

static void start_server(const struct opts *o)
{
	tmp = test_tmpdir();
	ck_assert_ptr_nonnull(tmp);
	write_split(tmp, "train", N_TRAIN, 1);
	write_split(tmp, "test", N_TEST, 2);

	char *web = test_path(tmp, "web");
	mkdir(web, 0755);
	char *p = test_path(web, "index.html");
	test_write_file(p, "<h1>traind</h1>\n", 16);
	free(p);
	p = test_path(web, "app.js");
	test_write_file(p, "console.log(1);\n", 16);
	free(p);
	p = test_path(tmp, "secret.txt");
	test_write_file(p, "secret\n", 7);
	free(p);
	p = test_path(web, "escape.txt");
	ck_assert_int_eq(symlink("../secret.txt", p), 0);
	free(p);

	struct srvconf c;
	struct td_error e;
	ck_assert_int_eq(srvconf_defaults(&c), 0);
	const char *data = getenv("TRAIND_TEST_DATA");
	char line[2048];
	snprintf(line, sizeof(line), "synth idx %s/train-images.idx %s/train-labels.idx "
		 "%s/test-images.idx %s/test-labels.idx", tmp, tmp, tmp, tmp);
	ck_assert(srvconf_set(&c, "listen", "127.0.0.1:0", &e) == 0);
	ck_assert(srvconf_set(&c, "data_dir", data && *data ? data : tmp, &e) == 0);
	ck_assert(srvconf_set(&c, "web_dir", o && o->no_web ? "/nonexistent/web" : web, &e) == 0);
	ck_assert(srvconf_set(&c, "workers", "2", &e) == 0);
	char state[4200];
	snprintf(state, sizeof(state), "%s/state", tmp);
	ck_assert(srvconf_set(&c, "state_dir", state, &e) == 0);
	ck_assert(srvconf_set(&c, "access_log", getenv("HTTP_TEST_LOG") ? "true" : "false", &e) == 0);
	ck_assert(srvconf_set(&c, "snapshot_seconds", "0.05", &e) == 0);
	ck_assert_msg(srvconf_set(&c, "dataset", line, &e) == 0, "%s", e.msg);
	if (o && o->token)
		ck_assert(srvconf_set(&c, "token", o->token, &e) == 0);
	if (o && o->body_limit)
		c.body_limit = o->body_limit;
	if (o && o->max_instances)
		c.max_instances = o->max_instances;
	c.http_threads = o && o->http_threads ? o->http_threads : 2;
	ck_assert_msg(srvconf_finish(&c, &e) == 0, "%s", e.msg);
	ck_assert_msg(server_start(&c, &srv, &e) == 0, "%s", e.msg);
	srvconf_free(&c);
	free(web);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", server_port(srv));
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void setup(void)
{
	start_server(NULL);
}

static void teardown(void)
{
	server_stop(srv);
	srv = NULL;
	test_rmtree(tmp);
	free(tmp);
	curl_global_cleanup();
}

/* ---- a small HTTP client --------------------------------------------- */

struct resp {
	long status;
	char *body;
	size_t len;
	char headers[4096];
	size_t hlen;
	json_t *json; /* the body parsed, when it is JSON */
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	char *b = realloc(r->body, r->len + size * n + 1);
	ck_assert_ptr_nonnull(b);
	memcpy(b + r->len, p, size * n);
	r->body = b;
	r->len += size * n;
	b[r->len] = '\0';
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t k = size * n;
	if (r->hlen + k < sizeof(r->headers)) {
		memcpy(r->headers + r->hlen, p, k);
		r->hlen += k;
		r->headers[r->hlen] = '\0';
	}
	return k;
}

struct req {
	const char *method;
	const char *path;
	const char *ctype;
	const void *body;
	size_t len;
	const char *auth; /* the whole Authorization header value */
	int chunked;
};

static void resp_free(struct resp *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

static void request(const struct req *q, struct resp *r)
{
	memset(r, 0, sizeof(*r));
	CURL *c = curl_easy_init();
	ck_assert_ptr_nonnull(c);
	char url[1024], h1[256], h2[256];
	struct curl_slist *hdrs = NULL;
	snprintf(url, sizeof(url), "%s%s", base, q->path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (strcmp(q->method, "HEAD") == 0)
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	if (q->body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->len);
	}
	if (q->ctype) {
		snprintf(h1, sizeof(h1), "Content-Type: %s", q->ctype);
		hdrs = curl_slist_append(hdrs, h1);
	} else if (q->body) {
		hdrs = curl_slist_append(hdrs, "Content-Type:"); /* none at all */
	}
	if (q->auth) {
		snprintf(h2, sizeof(h2), "Authorization: %s", q->auth);
		hdrs = curl_slist_append(hdrs, h2);
	}
	if (q->chunked)
		hdrs = curl_slist_append(hdrs, "Transfer-Encoding: chunked");
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	CURLcode rc = curl_easy_perform(c);
	/* A body the server refuses early (413) may still be on its way when
	 * the server answers and closes: TCP can then reset the connection
	 * before the answer is read. Sent again, the answer wins the race. */
	for (int tries = 0; rc == CURLE_SEND_ERROR && q->len > 65536 && tries < 5; tries++) {
		free(r->body);
		json_decref(r->json);
		memset(r, 0, sizeof(*r));
		rc = curl_easy_perform(c);
	}
	ck_assert_msg(rc == CURLE_OK, "%s %s: %s", q->method, q->path, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	if (r->body)
		r->json = json_loads(r->body, 0, NULL);
}

static long get(const char *path, struct resp *r)
{
	struct req q = {.method = "GET", .path = path};
	request(&q, r);
	return r->status;
}

static long post_json(const char *path, const char *body, struct resp *r)
{
	struct req q = {.method = "POST", .path = path, .ctype = "application/json",
			.body = body, .len = strlen(body)};
	request(&q, r);
	return r->status;
}

/* The value of a response header (case-insensitive name), or "". */
static const char *header(const struct resp *r, const char *name, char *buf, size_t len)
{
	size_t n = strlen(name);
	buf[0] = '\0';
	for (const char *l = r->headers; *l;) {
		const char *end = strstr(l, "\r\n");
		size_t ll = end ? (size_t)(end - l) : strlen(l);
		if (ll > n && strncasecmp(l, name, n) == 0 && l[n] == ':') {
			const char *v = l + n + 1;
			while (*v == ' ')
				v++;
			size_t vl = ll - (size_t)(v - l);
			snprintf(buf, len, "%.*s", (int)vl, v);
			return buf;
		}
		l += ll + (end ? 2 : 0);
	}
	return buf;
}

/* Asserts an error response: status, a message containing `text`, and the field. */
#define ck_error(r, code, text, fld)                                                            \
	do {                                                                                    \
		ck_assert_msg((r)->status == (code), "status %ld, wanted %d: %s", (r)->status,   \
			      (code), (r)->body ? (r)->body : "");                               \
		ck_assert_msg((r)->json != NULL, "not JSON: %s", (r)->body ? (r)->body : "");   \
		const char *msg_ = json_string_value(json_object_get((r)->json, "error"));      \
		ck_assert_msg(msg_ && strstr(msg_, (text)), "error \"%s\" lacks \"%s\"",        \
			      msg_ ? msg_ : "(none)", (text));                                  \
		if (fld) {                                                                      \
			const char *f_ = json_string_value(json_object_get((r)->json, "field")); \
			ck_assert_msg(f_ && strcmp(f_, (fld) ? (fld) : "") == 0,                 \
				      "field \"%s\", wanted \"%s\"", f_ ? f_ : "(none)",         \
				      (fld) ? (fld) : "");                                       \
		}                                                                               \
	} while (0)

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Creates a job from `body`; writes its id. */
static void create_job(const char *body, char id[32])
{
	struct resp r;
	ck_assert_msg(post_json("/v1/jobs", body, &r) == 201, "%s", r.body);
	snprintf(id, 32, "%s", jstr(r.json, "id"));
	char loc[128], want[128];
	snprintf(want, sizeof(want), "/v1/jobs/%s", id);
	ck_assert_str_eq(header(&r, "Location", loc, sizeof(loc)), want);
	resp_free(&r);
}

static const char *job_state(const char *id, char *buf, size_t len)
{
	char path[128];
	struct resp r;
	snprintf(path, sizeof(path), "/v1/jobs/%s", id);
	ck_assert_int_eq(get(path, &r), 200);
	snprintf(buf, len, "%s", jstr(r.json, "state"));
	resp_free(&r);
	return buf;
}

static void wait_state(const char *id, const char *state, double seconds)
{
	char s[32];
	double until = now() + seconds;
	while (strcmp(job_state(id, s, sizeof(s)), state) != 0) {
		ck_assert_msg(now() < until, "job %s is %s, not %s, after %.0f s", id, s, state,
			      seconds);
		usleep(2000);
	}
}

#define SMALL_JOB "{\"dataset\": \"synth\", \"hidden\": [16], \"epochs\": 4, \"batch_size\": 32, " \
		  "\"augment\": \"none\", \"workers\": 2}"

/* A trained synthetic model; returns its id. */
static void trained_model(char id[32])
{
	create_job(SMALL_JOB, id);
	wait_state(id, "completed", 300);
}

/* ---- health, metrics, data sets -------------------------------------- */

START_TEST(test_healthz_metrics_datasets)
{
	struct resp r;
	char ct[128];
	ck_assert_int_eq(get("/healthz", &r), 200);
	ck_assert_str_eq(header(&r, "Content-Type", ct, sizeof(ct)),
			 "application/json; charset=utf-8");
	ck_assert_str_eq(jstr(r.json, "status"), "ok");
	ck_assert_str_eq(jstr(r.json, "version"), PACKAGE_VERSION);
	ck_assert(json_is_number(json_object_get(r.json, "uptime_seconds")));
	ck_assert_int_eq(json_integer_value(json_object_get(r.json, "workers")), 2);
	ck_assert_str_eq(jstr(r.json, "isa"), isa_tier_name(isa_tier()));
	resp_free(&r);

	ck_assert_int_eq(get("/v1/datasets", &r), 200);
	json_t *sets = json_object_get(r.json, "datasets");
	int found = 0;
	for (size_t i = 0; i < json_array_size(sets); i++) {
		json_t *d = json_array_get(sets, i);
		if (strcmp(jstr(d, "name"), "synth") != 0)
			continue;
		found = 1;
		ck_assert_int_eq(json_integer_value(json_object_get(d, "train")), N_TRAIN);
		ck_assert_int_eq(json_integer_value(json_object_get(d, "test")), N_TEST);
		ck_assert_int_eq(json_integer_value(json_object_get(d, "width")), 28);
		ck_assert_int_eq(json_array_size(json_object_get(d, "classes")), 10);
	}
	ck_assert(found);
	resp_free(&r);

	/* One prediction so the histogram has a sample. */
	char id[32], path[128];
	trained_model(id);
	snprintf(path, sizeof(path), "/v1/models/%s:predict", id);
	char body[8192] = "{\"instances\": [[0";
	for (int i = 1; i < PIXELS; i++)
		strcat(body, ",0");
	strcat(body, "]]}");
	ck_assert_int_eq(post_json(path, body, &r), 200);
	resp_free(&r);

	ck_assert_int_eq(get("/metrics", &r), 200);
	ck_assert_str_eq(header(&r, "Content-Type", ct, sizeof(ct)),
			 "text/plain; version=0.0.4; charset=utf-8");
	char build_info[128];
	snprintf(build_info, sizeof(build_info), "traind_build_info{version=\"%s\",isa=\"%s\"} 1",
		 PACKAGE_VERSION, isa_tier_name(isa_tier()));
	const char *names[] = {
		build_info,
		"traind_jobs{state=\"running\"} ",
		"traind_jobs{state=\"completed\"} 1",
		"traind_train_samples_total ",
		"traind_train_samples_per_second ",
		"traind_http_requests_total{code=\"200\"} ",
		"traind_http_requests_total{code=\"201\"} 1",
		"traind_predict_duration_seconds_bucket{le=\"+Inf\"} 1",
		"traind_predict_duration_seconds_sum ",
		"traind_predict_duration_seconds_count 1",
		"traind_predictions_total 1",
		"# TYPE traind_predict_duration_seconds histogram",
		"traind_http_body_bytes ",
		"traind_http_body_budget_bytes 67108864", /* 8 MiB x (4 + 2 x 2) */
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ck_assert_msg(strstr(r.body, names[i]), "/metrics lacks \"%s\":\n%s", names[i], r.body);
	resp_free(&r);
}
END_TEST

/* ---- routing and query errors ---------------------------------------- */

START_TEST(test_routing_errors)
{
	struct resp r;
	char allow[64];
	get("/v1/nope", &r);
	ck_error(&r, 404, "no route GET /v1/nope", NULL);
	resp_free(&r);

	struct req q = {.method = "PUT", .path = "/v1/jobs"};
	request(&q, &r);
	ck_assert_int_eq(r.status, 405);
	ck_assert_str_eq(header(&r, "Allow", allow, sizeof(allow)), "GET, HEAD, POST");
	ck_error(&r, 405, "not allowed", NULL);
	resp_free(&r);

	q = (struct req){.method = "GET", .path = "/v1/jobs/j-1:pause"};
	request(&q, &r);
	ck_assert_int_eq(r.status, 405);
	ck_assert_str_eq(header(&r, "Allow", allow, sizeof(allow)), "POST");
	resp_free(&r);

	get("/v1/jobs/j-nope", &r);
	ck_error(&r, 404, "j-nope", NULL);
	resp_free(&r);
	get("/v1/jobs/j-nope/metrics", &r);
	ck_error(&r, 404, "j-nope", NULL);
	resp_free(&r);
	get("/v1/models/nope", &r);
	ck_error(&r, 404, "nope", NULL);
	resp_free(&r);
	post_json("/v1/models/nope:predict", "{\"instances\": [[0]]}", &r);
	ck_error(&r, 404, "nope", NULL);
	resp_free(&r);
	q = (struct req){.method = "DELETE", .path = "/v1/jobs/j-nope"};
	request(&q, &r);
	ck_error(&r, 404, "j-nope", NULL);
	resp_free(&r);

	/* Every query parameter is checked, and named when wrong. */
	const struct {
		const char *path, *text, *field;
	} bad[] = {
		{"/v1/jobs?limit=0", "limit must be an integer from 1 to 1000", "limit"},
		{"/v1/jobs?limit=1001", "not \"1001\"", "limit"},
		{"/v1/jobs?limit=ten", "limit must be", "limit"},
		{"/v1/jobs?state=sleeping", "state must be one of queued, running", "state"},
		{"/v1/jobs?stat=running", "unknown query parameter \"stat\"", "stat"},
		{"/healthz?verbose=1", "this route takes none", "verbose"},
		{"/v1/jobs/x/metrics?since_step=-1", "since_step must be an integer from 0", "since_step"},
		{"/v1/jobs/x/metrics?max_points=0", "max_points must be an integer from 1 to 100000",
		 "max_points"},
		{"/v1/jobs/x/metrics?max_points=100001", "max_points", "max_points"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		get(bad[i].path, &r);
		ck_error(&r, 400, bad[i].text, bad[i].field);
		resp_free(&r);
	}
	ck_assert_int_eq(get("/v1/jobs?state=running&limit=1000", &r), 200);
	ck_assert(json_is_array(json_object_get(r.json, "jobs")));
	resp_free(&r);
}
END_TEST

/* ---- job creation errors --------------------------------------------- */

START_TEST(test_job_validation)
{
	struct resp r;
	post_json("/v1/jobs", "{\"learning_rte\": 0.1}", &r);
	ck_error(&r, 400, "unknown field \"learning_rte\" (did you mean \"learning_rate\"?)",
		 "learning_rte");
	resp_free(&r);
	post_json("/v1/jobs", "{\"batch_size\": 0}", &r);
	ck_error(&r, 400, "batch_size must be an integer from 1", "batch_size");
	resp_free(&r);
	post_json("/v1/jobs", "{\"hidden\": [64, -3]}", &r);
	ck_error(&r, 400, "hidden[1]", "hidden[1]");
	resp_free(&r);
	post_json("/v1/jobs", "{\"learning_rate\": 1e999}", &r);
	ck_error(&r, 400, "not valid JSON", NULL);
	resp_free(&r);
	post_json("/v1/jobs", "{\"epochs\": 2, \"epochs\": 3}", &r);
	ck_error(&r, 400, "duplicate", NULL);
	resp_free(&r);
	post_json("/v1/jobs", "{\"epochs\": ", &r);
	ck_error(&r, 400, "not valid JSON", NULL);
	resp_free(&r);
	post_json("/v1/jobs", "[1, 2]", &r);
	ck_error(&r, 400, "must be a JSON object", NULL);
	resp_free(&r);
	post_json("/v1/jobs", "{\"dataset\": \"nope\"}", &r);
	ck_error(&r, 400, "nope", "dataset");
	resp_free(&r);
	post_json("/v1/jobs", "{\"dataset\": \"../etc/passwd\"}", &r);
	ck_error(&r, 400, "dataset must be a data set name", "dataset");
	resp_free(&r);
	post_json("/v1/jobs", "{\"workers\": 3}", &r);
	ck_error(&r, 400, "workers must be an integer from 1 to 2", "workers");
	resp_free(&r);

	struct req q = {.method = "POST", .path = "/v1/jobs", .ctype = "text/plain",
			.body = "{}", .len = 2};
	request(&q, &r);
	ck_error(&r, 415, "Content-Type text/plain is not supported", "Content-Type");
	resp_free(&r);

	/* A body with many values is refused before it is parsed into a tree. */
	size_t n = 100000;
	char *big = malloc(n * 2 + 16), *bp = big;
	bp += sprintf(bp, "{\"hidden\": [1");
	for (size_t i = 1; i < n; i++)
		bp += sprintf(bp, ",1");
	strcpy(bp, "]}");
	post_json("/v1/jobs", big, &r);
	ck_error(&r, 413, "more values", NULL);
	resp_free(&r);
	free(big);

	/* An empty body is the defaults: the digits, when they are here. */
	q = (struct req){.method = "POST", .path = "/v1/jobs"};
	request(&q, &r);
	if (r.status == 201) {
		json_t *cfg = json_object_get(r.json, "config");
		ck_assert_str_eq(jstr(cfg, "dataset"), "digits");
		ck_assert_int_eq(json_integer_value(json_object_get(cfg, "workers")), 2);
	} else {
		ck_error(&r, 400, "digits", "dataset");
	}
	resp_free(&r);
}
END_TEST

/* ---- the job options -------------------------------------------------- */

static void delete_job(const char *id)
{
	char path[128];
	struct resp r;
	struct req q = {.method = "DELETE", .path = path};
	snprintf(path, sizeof(path), "/v1/jobs/%s", id);
	request(&q, &r);
	ck_assert_msg(r.status == 204, "DELETE %s: %ld %s", path, r.status, r.body);
	resp_free(&r);
}

/* GET /v1/job-options lists exactly the fields POST /v1/jobs takes, each
 * with the default a `{}` job gets from this server (its two workers). */
START_TEST(test_job_options)
{
	struct resp opt, r;
	ck_assert_int_eq(get("/v1/job-options", &opt), 200);
	json_t *opts = json_object_get(opt.json, "options");
	ck_assert_int_gt(json_array_size(opts), 0);

	/* A `{}` job; without the digits here, the same on synth. */
	post_json("/v1/jobs", "{}", &r);
	int digits = r.status == 201;
	if (!digits) {
		ck_error(&r, 400, "digits", "dataset");
		resp_free(&r);
		ck_assert_int_eq(post_json("/v1/jobs", "{\"dataset\": \"synth\"}", &r), 201);
	}
	json_t *cfg = json_object_get(r.json, "config");
	ck_assert_int_eq(json_object_size(cfg), json_array_size(opts));
	json_t *every = json_object(); /* every listed field at its default */
	size_t i;
	json_t *o;
	json_array_foreach(opts, i, o) {
		const char *name = jstr(o, "name");
		json_t *def = json_object_get(o, "default");
		ck_assert_msg(def != NULL, "%s has no default", name);
		if (strcmp(name, "dataset") == 0) {
			/* Its values are the registered data sets. */
			json_t *vals = json_object_get(o, "values");
			int synth = 0;
			for (size_t k = 0; k < json_array_size(vals); k++)
				synth |= strcmp(json_string_value(json_array_get(vals, k)), "synth") == 0;
			ck_assert(synth);
			if (!digits) {
				ck_assert_str_eq(json_string_value(def), "digits");
				json_object_set_new(every, name, json_string("synth"));
				continue;
			}
		}
		if (json_is_null(def)) {
			/* Set when the job is created, as the rule says: the name. */
			ck_assert_ptr_nonnull(json_object_get(o, "default_rule"));
			ck_assert_str_eq(name, "name");
			ck_assert_str_eq(jstr(cfg, "name"), jstr(r.json, "id"));
			continue;
		}
		char *want = json_dumps(def, JSON_ENCODE_ANY);
		char *got = json_dumps(json_object_get(cfg, name), JSON_ENCODE_ANY);
		ck_assert_msg(json_equal(def, json_object_get(cfg, name)),
			      "%s: listed default %s, a {} job got %s", name, want, got ? got : "none");
		free(want);
		free(got);
		json_object_set(every, name, def);
	}
	ck_assert_int_eq(json_integer_value(json_object_get(cfg, "workers")), 2);
	delete_job(jstr(r.json, "id"));
	resp_free(&r);

	/* Every listed field is accepted, all at once, and echoed as sent. */
	char *body = json_dumps(every, 0);
	ck_assert_msg(post_json("/v1/jobs", body, &r) == 201, "%s", r.body);
	json_object_set_new(every, "name", json_string(jstr(r.json, "id")));
	ck_assert(json_equal(json_object_get(r.json, "config"), every));
	delete_job(jstr(r.json, "id"));
	resp_free(&r);
	free(body);
	json_decref(every);

	/* A field the list does not name is refused, naming it. */
	json_array_foreach(opts, i, o)
		ck_assert_str_ne(jstr(o, "name"), "dropout");
	post_json("/v1/jobs", "{\"dropout\": 0.5}", &r);
	ck_error(&r, 400, "unknown field \"dropout\"", "dropout");
	resp_free(&r);
	resp_free(&opt);
}
END_TEST

/* ---- the life cycle and the metrics cursor --------------------------- */

static json_t *metrics(const char *id, const char *query, struct resp *r)
{
	char path[256];
	snprintf(path, sizeof(path), "/v1/jobs/%s/metrics%s", id, query);
	ck_assert_msg(get(path, r) == 200, "%s", r->body);
	return r->json;
}

START_TEST(test_job_lifecycle)
{
	char id[32], path[128], s[32];
	struct resp r;
	create_job("{\"dataset\": \"synth\", \"hidden\": [8], \"epochs\": 200, \"batch_size\": 16, "
		   "\"augment\": \"none\", \"workers\": 2, \"name\": \"life\"}", id);
	wait_state(id, "running", 60);
	/* Pause once it has taken a step, so there is a curve to read. */
	snprintf(path, sizeof(path), "/v1/jobs/%s", id);
	for (double until = now() + 60;; usleep(1000)) {
		ck_assert_int_eq(get(path, &r), 200);
		long done = json_integer_value(
			json_object_get(json_object_get(r.json, "progress"), "step"));
		resp_free(&r);
		if (done > 0)
			break;
		ck_assert(now() < until);
	}

	snprintf(path, sizeof(path), "/v1/jobs/%s:pause", id);
	ck_assert_int_eq(post_json(path, "", &r), 200);
	ck_assert_str_eq(jstr(r.json, "state"), "paused");
	long step = json_integer_value(json_object_get(json_object_get(r.json, "progress"), "step"));
	resp_free(&r);
	/* Pausing a paused job is fine; actions take no fields. */
	ck_assert_int_eq(post_json(path, "{}", &r), 200);
	resp_free(&r);
	post_json(path, "{\"force\": true}", &r);
	ck_error(&r, 400, "unknown field \"force\"", "force");
	resp_free(&r);

	/* The cursor: while paused nothing is new. */
	json_t *m = metrics(id, "", &r);
	long next = json_integer_value(json_object_get(m, "next_step"));
	json_t *pts = json_object_get(m, "points");
	ck_assert_int_gt(json_array_size(pts), 0);
	ck_assert_int_le(next, step + 1);
	json_t *last = json_array_get(pts, json_array_size(pts) - 1);
	ck_assert_int_eq(json_integer_value(json_array_get(last, 0)) + 1, next);
	resp_free(&r);
	char q[64];
	snprintf(q, sizeof(q), "?since_step=%ld", next);
	m = metrics(id, q, &r);
	ck_assert_int_eq(json_array_size(json_object_get(m, "points")), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(m, "next_step")), next);
	resp_free(&r);
	ck_assert_str_eq(job_state(id, s, sizeof(s)), "paused");

	snprintf(path, sizeof(path), "/v1/jobs/%s:resume", id);
	ck_assert_int_eq(post_json(path, "", &r), 200);
	ck_assert(strcmp(jstr(r.json, "state"), "running") == 0 ||
		  strcmp(jstr(r.json, "state"), "queued") == 0 ||
		  strcmp(jstr(r.json, "state"), "completed") == 0);
	resp_free(&r);
	wait_state(id, "completed", 600);

	/* Only points from the cursor on come back, and the cursor moves. */
	m = metrics(id, q, &r);
	pts = json_object_get(m, "points");
	ck_assert_int_gt(json_array_size(pts), 0);
	for (size_t i = 0; i < json_array_size(pts); i++)
		ck_assert_int_ge(json_integer_value(json_array_get(json_array_get(pts, i), 0)), next);
	long next2 = json_integer_value(json_object_get(m, "next_step"));
	ck_assert_int_gt(next2, next);
	ck_assert_int_gt(json_array_size(json_object_get(m, "epochs")), 0);
	resp_free(&r);
	/* max_points thins but keeps the newest. */
	m = metrics(id, "?max_points=3", &r);
	pts = json_object_get(m, "points");
	ck_assert_int_le(json_array_size(pts), 3);
	last = json_array_get(pts, json_array_size(pts) - 1);
	ck_assert_int_eq(json_integer_value(json_array_get(last, 0)) + 1, next2);
	resp_free(&r);

	/* The finished job: its record, a 409 for pausing, then gone. */
	snprintf(path, sizeof(path), "/v1/jobs/%s", id);
	ck_assert_int_eq(get(path, &r), 200);
	ck_assert_str_eq(jstr(r.json, "name"), "life");
	ck_assert(json_is_string(json_object_get(r.json, "finished_at")));
	json_t *prog = json_object_get(r.json, "progress");
	ck_assert_int_eq(json_integer_value(json_object_get(prog, "epoch")), 200);
	resp_free(&r);
	snprintf(path, sizeof(path), "/v1/jobs/%s:pause", id);
	post_json(path, "", &r);
	ck_error(&r, 409, "cannot pause", "state");
	resp_free(&r);
	snprintf(path, sizeof(path), "/v1/jobs/%s:cancel", id);
	post_json(path, "", &r);
	ck_error(&r, 409, "cannot cancel", "state");
	resp_free(&r);

	snprintf(path, sizeof(path), "/v1/jobs/%s", id);
	struct req d = {.method = "DELETE", .path = path};
	request(&d, &r);
	ck_assert_int_eq(r.status, 204);
	ck_assert_uint_eq(r.len, 0);
	resp_free(&r);
	get(path, &r);
	ck_error(&r, 404, id, NULL);
	resp_free(&r);
}
END_TEST

START_TEST(test_cancel_and_delete_running)
{
	char id[32], id2[32], path[128];
	struct resp r;
	create_job("{\"dataset\": \"synth\", \"hidden\": [8], \"epochs\": 1000, \"augment\": \"none\"}",
		   id);
	create_job("{\"dataset\": \"synth\", \"hidden\": [8], \"epochs\": 1000, \"augment\": \"none\"}",
		   id2);
	wait_state(id, "running", 60);
	ck_assert_int_eq(get("/v1/jobs?state=queued", &r), 200);
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "jobs")), 1);
	resp_free(&r);
	snprintf(path, sizeof(path), "/v1/jobs/%s:cancel", id);
	ck_assert_int_eq(post_json(path, "", &r), 200);
	ck_assert_str_eq(jstr(r.json, "state"), "cancelled");
	resp_free(&r);
	/* The queued one starts; deleting it while it trains cancels it first. */
	wait_state(id2, "running", 60);
	snprintf(path, sizeof(path), "/v1/jobs/%s", id2);
	struct req d = {.method = "DELETE", .path = path};
	request(&d, &r);
	ck_assert_int_eq(r.status, 204);
	resp_free(&r);
	ck_assert_int_eq(get("/v1/jobs?limit=10", &r), 200);
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "jobs")), 1);
	resp_free(&r);
}
END_TEST

/* ---- prediction ------------------------------------------------------ */

/* {"instances": [...]} with `n` synthetic images of classes 0..9, flat
 * (or nested when `nested`), values in [0, range]; pixel bad_k of
 * instance bad_i is written as the text `bad` instead. */
static char *instances_bad(int n, int nested, int range, const char *extra, int bad_i,
			   int bad_k, const char *bad)
{
	size_t cap = (size_t)n * PIXELS * 12 + 256;
	char *s = malloc(cap), *p = s;
	uint32_t seed = 99;
	uint8_t img[PIXELS];
	p += sprintf(p, "{%s\"instances\": [", extra ? extra : "");
	for (int i = 0; i < n; i++) {
		synth_image(i % 10, &seed, img);
		*p++ = i ? ',' : '[';
		if (i)
			*p++ = '[';
		for (int k = 0; k < PIXELS; k++) {
			if (nested && k % SIDE == 0)
				p += sprintf(p, "%s[", k ? "," : "");
			else if (k)
				*p++ = ',';
			if (i == bad_i && k == bad_k)
				p += sprintf(p, "%s", bad);
			else if (range == 255)
				p += sprintf(p, "%d", img[k]);
			else
				p += sprintf(p, "%.4f", img[k] / 255.0);
			if (nested && k % SIDE == SIDE - 1)
				*p++ = ']';
		}
		*p++ = ']';
	}
	strcpy(p, "]}");
	return s;
}

static char *instances_json(int n, int nested, int range, const char *extra)
{
	return instances_bad(n, nested, range, extra, -1, -1, NULL);
}

/* Asserts a prediction is a distribution over the 10 classes; returns its label. */
static int check_prediction(json_t *pred)
{
	json_t *probs = json_object_get(pred, "probabilities");
	ck_assert_int_eq(json_array_size(probs), 10);
	double sum = 0, best = -1;
	int arg = -1;
	for (int k = 0; k < 10; k++) {
		double p = json_number_value(json_array_get(probs, (size_t)k));
		ck_assert(p >= 0 && p <= 1);
		sum += p;
		if (p > best)
			best = p, arg = k;
	}
	ck_assert_msg(fabs(sum - 1) < 1e-4, "probabilities sum to %g", sum);
	int label = (int)json_integer_value(json_object_get(pred, "label"));
	ck_assert_int_eq(label, arg);
	char cls[16];
	snprintf(cls, sizeof(cls), "%d", label);
	ck_assert_str_eq(jstr(pred, "class"), cls);
	return label;
}

static unsigned char *png_of(const uint8_t *gray, int w, int h, size_t *len)
{
	png_image img;
	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	img.width = (png_uint_32)w;
	img.height = (png_uint_32)h;
	img.format = PNG_FORMAT_GRAY;
	png_alloc_size_t n = 0;
	ck_assert(png_image_write_to_memory(&img, NULL, &n, 0, gray, 0, NULL));
	unsigned char *buf = malloc(n);
	ck_assert(png_image_write_to_memory(&img, buf, &n, 0, gray, 0, NULL));
	*len = n;
	return buf;
}

/* ---- model files ---------------------------------------------------- */

/* Download a model, import it as a new one, and both predict alike;
 * damaged files and wrong types are refused by name. */
START_TEST(test_model_download_and_import)
{
	char id[32], path[160];
	struct resp r, imp;
	trained_model(id);
	snprintf(path, sizeof(path), "/v1/models/%s/download", id);
	ck_assert_int_eq(get(path, &r), 200);
	char ct[128];
	ck_assert_str_eq(header(&r, "Content-Type", ct, sizeof(ct)), "application/octet-stream");
	ck_assert_int_gt(r.len, 1000);
	ck_assert_int_eq(memcmp(r.body, "TRAINDCK", 8), 0);

	struct req q = {.method = "POST", .path = "/v1/models",
			.ctype = "application/octet-stream", .body = r.body, .len = r.len};
	request(&q, &imp);
	ck_assert_msg(imp.status == 201, "%s", imp.body);
	char new_id[32];
	snprintf(new_id, sizeof(new_id), "%s", jstr(imp.json, "name"));
	ck_assert_str_ne(new_id, id);
	char loc[128];
	snprintf(path, sizeof(path), "/v1/models/%s", new_id);
	ck_assert_str_eq(header(&imp, "Location", loc, sizeof(loc)), path);
	resp_free(&imp);

	/* Both models give the same probabilities for the same image. */
	char *body = instances_json(5, 0, 1, NULL);
	struct resp a, b;
	snprintf(path, sizeof(path), "/v1/models/%s:predict", id);
	ck_assert_int_eq(post_json(path, body, &a), 200);
	snprintf(path, sizeof(path), "/v1/models/%s:predict", new_id);
	ck_assert_int_eq(post_json(path, body, &b), 200);
	ck_assert_str_eq(a.body, b.body);
	free(body);
	resp_free(&a);
	resp_free(&b);

	/* A flipped byte fails the CRC; a wrong type is 415. */
	r.body[r.len / 2] ^= 0x40;
	request(&q, &imp);
	ck_error(&imp, 400, "CRC", "crc");
	resp_free(&imp);
	q.ctype = "application/json";
	request(&q, &imp);
	ck_error(&imp, 415, "application/octet-stream", "Content-Type");
	resp_free(&imp);
	resp_free(&r);
	ck_assert_int_eq(get("/v1/models/j-000000/download", &r), 404);
	resp_free(&r);
}
END_TEST

START_TEST(test_predict)
{
	char id[32], path[128];
	struct resp r;
	trained_model(id);
	snprintf(path, sizeof(path), "/v1/models/%s:predict", id);

	/* Flat and nested instances, [0,1] and [0,255]: the model knows them. */
	for (int form = 0; form < 3; form++) {
		char *body = instances_json(20, form == 1, form == 2 ? 255 : 1,
					    form == 2 ? "\"pixel_range\": 255, \"preprocess\": \"none\", "
						      : NULL);
		ck_assert_msg(post_json(path, body, &r) == 200, "%s", r.body);
		free(body);
		json_t *preds = json_object_get(r.json, "predictions");
		ck_assert_int_eq(json_array_size(preds), 20);
		int right = 0;
		for (int i = 0; i < 20; i++)
			right += check_prediction(json_array_get(preds, (size_t)i)) == i % 10;
		ck_assert_msg(right >= 18, "only %d of 20 right", right);
		resp_free(&r);
	}
	/* The model by its name and as "latest". */
	ck_assert_int_eq(get("/v1/models/latest", &r), 200);
	ck_assert_str_eq(jstr(r.json, "name"), id);
	ck_assert_str_eq(jstr(r.json, "state"), "AVAILABLE");
	resp_free(&r);
	ck_assert_int_eq(get("/v1/models", &r), 200);
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "models")), 1);
	resp_free(&r);

	/* PNG and PGM bodies of one image of class 7. */
	uint8_t img[PIXELS];
	uint32_t seed = 5;
	synth_image(7, &seed, img);
	size_t len;
	unsigned char *png = png_of(img, SIDE, SIDE, &len);
	struct req q = {.method = "POST", .path = "/v1/models/latest:predict",
			.ctype = "image/png", .body = png, .len = len};
	request(&q, &r);
	ck_assert_msg(r.status == 200, "%s", r.body);
	json_t *preds = json_object_get(r.json, "predictions");
	ck_assert_int_eq(json_array_size(preds), 1);
	ck_assert_int_eq(check_prediction(json_array_get(preds, 0)), 7);
	resp_free(&r);
	free(png);

	char pgm[64 + PIXELS];
	int hl = sprintf(pgm, "P5\n# a comment\n%d %d\n255\n", SIDE, SIDE);
	memcpy(pgm + hl, img, PIXELS);
	q = (struct req){.method = "POST", .path = path, .ctype = "image/x-portable-graymap",
			 .body = pgm, .len = (size_t)hl + PIXELS};
	request(&q, &r);
	ck_assert_msg(r.status == 200, "%s", r.body);
	ck_assert_int_eq(check_prediction(json_array_get(json_object_get(r.json, "predictions"), 0)), 7);
	resp_free(&r);
	/* ?preprocess= is checked, and a corrupt image is a 400. */
	char qpath[160];
	snprintf(qpath, sizeof(qpath), "%s?preprocess=mnist", path);
	q.path = qpath;
	request(&q, &r);
	ck_assert_msg(r.status == 200, "%s", r.body);
	resp_free(&r);
	snprintf(qpath, sizeof(qpath), "%s?preprocess=magic", path);
	request(&q, &r);
	ck_error(&r, 400, "preprocess must be none or mnist", "preprocess");
	resp_free(&r);
	q = (struct req){.method = "POST", .path = path, .ctype = "image/png", .body = pgm,
			 .len = 40};
	request(&q, &r);
	ck_assert_int_eq(r.status, 400);
	resp_free(&r);
	q = (struct req){.method = "POST", .path = path, .ctype = "text/plain", .body = "7",
			 .len = 1};
	request(&q, &r);
	ck_error(&r, 415, "image/png", "Content-Type");
	resp_free(&r);
}
END_TEST

/* A CNN job: shape errors at submission name the field and the input
 * size; the job and model views show the rows; it trains, predicts a PNG,
 * and its download imports to a model that predicts the same. */
#define CNN_LAYERS "[{\"type\": \"conv\", \"filters\": 4, \"kernel\": 5, \"stride\": 2, " \
		   "\"padding\": 2}, {\"type\": \"maxpool\", \"size\": 2}, " \
		   "{\"type\": \"dense\", \"units\": 16}]"
START_TEST(test_cnn_job)
{
	struct resp r;
	ck_assert_int_eq(post_json("/v1/jobs", "{\"dataset\": \"synth\", \"layers\": ["
				   "{\"type\": \"conv\", \"filters\": 4, \"kernel\": 5}, "
				   "{\"type\": \"maxpool\", \"size\": 4}, "
				   "{\"type\": \"conv\", \"filters\": 4, \"kernel\": 7}]}", &r), 400);
	ck_error(&r, 400, "4x6x6", "layers[2].kernel");
	resp_free(&r);
	ck_assert_int_eq(post_json("/v1/jobs", "{\"dataset\": \"synth\", \"hidden\": [8], "
				   "\"layers\": " CNN_LAYERS "}", &r), 400);
	ck_error(&r, 400, "not both", "layers");
	resp_free(&r);
	/* the gradient-check route takes the same rows on an image */
	ck_assert_int_eq(post_json("/v1/gradcheck", "{\"layers\": [{\"type\": \"conv\", "
				   "\"filters\": 2, \"kernel\": 3, \"padding\": 1}, {\"type\": "
				   "\"maxpool\", \"size\": 2}], \"activation\": \"tanh\", "
				   "\"inputs\": 6, \"height\": 6, \"channels\": 2}", &r), 200);
	ck_assert(json_is_true(json_object_get(r.json, "passed")));
	json_t *tensors = json_object_get(r.json, "tensors");
	ck_assert_str_eq(jstr(json_array_get(tensors, json_array_size(tensors) - 1), "name"), "x");
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(tensors, 0), "count")),
			 2 * 2 * 9);
	resp_free(&r);
	/* few parameters, but a large map to check: its work is bounded too */
	ck_assert_int_eq(post_json("/v1/gradcheck", "{\"layers\": [{\"type\": \"conv\", "
				   "\"filters\": 64, \"kernel\": 5, \"padding\": 2}], \"inputs\": 32, "
				   "\"height\": 32, \"samples\": 64}", &r), 400);
	ck_error(&r, 400, "more work", "layers");
	resp_free(&r);

	char id[32], path[160];
	create_job("{\"dataset\": \"synth\", \"layers\": " CNN_LAYERS ", \"epochs\": 3, "
		   "\"batch_size\": 32, \"augment\": \"none\", \"workers\": 2, "
		   "\"optimizer\": \"momentum\", \"learning_rate\": 0.05}", id);
	snprintf(path, sizeof(path), "/v1/jobs/%s", id);
	ck_assert_int_eq(get(path, &r), 200);
	json_t *rows = json_object_get(json_object_get(r.json, "model"), "layers");
	ck_assert_int_eq(json_array_size(rows), 4);
	ck_assert_str_eq(jstr(json_array_get(rows, 0), "type"), "conv");
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(rows, 0), "parameters")),
			 4 * 25 + 4);
	json_t *out = json_object_get(json_array_get(rows, 1), "output");
	ck_assert_int_eq(json_integer_value(json_array_get(out, 0)), 4);
	ck_assert_int_eq(json_integer_value(json_array_get(out, 1)), 7);
	ck_assert_int_eq(json_array_size(json_object_get(json_object_get(r.json, "config"), "layers")), 3);
	resp_free(&r);
	wait_state(id, "completed", 300);
	snprintf(path, sizeof(path), "/v1/models/%s", id);
	ck_assert_int_eq(get(path, &r), 200);
	rows = json_object_get(json_object_get(r.json, "model"), "layers");
	ck_assert_str_eq(jstr(json_array_get(rows, 1), "type"), "maxpool");
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(rows, 2), "parameters")),
			 4 * 7 * 7 * 16 + 16);
	resp_free(&r);

	uint8_t img[PIXELS];
	uint32_t seed = 9;
	synth_image(3, &seed, img);
	size_t len;
	unsigned char *png = png_of(img, SIDE, SIDE, &len);
	snprintf(path, sizeof(path), "/v1/models/%s:predict", id);
	struct req q = {.method = "POST", .path = path, .ctype = "image/png", .body = png, .len = len};
	request(&q, &r);
	ck_assert_msg(r.status == 200, "%s", r.body);
	ck_assert_int_eq(check_prediction(json_array_get(json_object_get(r.json, "predictions"), 0)), 3);
	char *first = strdup(r.body);
	resp_free(&r);

	struct resp dl, imp;
	snprintf(path, sizeof(path), "/v1/models/%s/download", id);
	ck_assert_int_eq(get(path, &dl), 200);
	struct req iq = {.method = "POST", .path = "/v1/models",
			 .ctype = "application/octet-stream", .body = dl.body, .len = dl.len};
	request(&iq, &imp);
	ck_assert_msg(imp.status == 201, "%s", imp.body);
	snprintf(path, sizeof(path), "/v1/models/%s:predict", jstr(imp.json, "name"));
	q.path = path;
	request(&q, &r);
	ck_assert_str_eq(r.body, first);
	resp_free(&r);
	resp_free(&imp);
	resp_free(&dl);
	free(first);
	free(png);
}
END_TEST

START_TEST(test_predict_errors)
{
	char id[32], path[128];
	struct resp r;
	trained_model(id);
	snprintf(path, sizeof(path), "/v1/models/%s:predict", id);

	/* A pixel out of range is named by its place. */
	char *body = instances_bad(5, 0, 1, NULL, 3, 17, "1.5");
	post_json(path, body, &r);
	ck_error(&r, 400, "instances[3][17] must be a number from 0 to 1", "instances[3][17]");
	resp_free(&r);
	free(body);
	body = instances_bad(5, 0, 1, NULL, 3, 17, "-0.001");
	post_json(path, body, &r);
	ck_error(&r, 400, "not -0.001", "instances[3][17]");
	resp_free(&r);
	free(body);
	body = instances_bad(5, 0, 1, NULL, 4, 783, "\"x\"");
	post_json(path, body, &r);
	ck_error(&r, 400, "not a string", "instances[4][783]");
	resp_free(&r);
	free(body);
	body = instances_bad(2, 1, 255, "\"pixel_range\": 255, ", 1, 2, "256");
	post_json(path, body, &r);
	ck_error(&r, 400, "from 0 to 255", "instances[1][0][2]");
	resp_free(&r);
	free(body);
	body = instances_bad(2, 1, 255, "\"pixel_range\": 255, ", 0, 28 * 3 + 5, "null");
	post_json(path, body, &r);
	ck_error(&r, 400, "not null", "instances[0][3][5]");
	resp_free(&r);
	free(body);

	const struct {
		const char *body, *text, *field;
	} bad[] = {
		{"{\"instances\": [[0, 1]]}", "784 numbers or 28 rows of 28", "instances[0]"},
		{"{\"instances\": []}", "non-empty array", "instances"},
		{"{\"instances\": 5}", "non-empty array", "instances"},
		{"{}", "non-empty array", "instances"},
		{"{\"pixel_rang\": 1, \"instances\": [[0]]}", "unknown field \"pixel_rang\"",
		 "pixel_rang"},
		{"{\"pixel_range\": 2, \"instances\": [[0]]}", "pixel_range must be 1", "pixel_range"},
		{"{\"pixel_range\": \"255\"}", "pixel_range must be 1", "pixel_range"},
		{"{\"preprocess\": \"deskew\", \"instances\": [[0]]}", "preprocess must be",
		 "preprocess"},
		{"{\"preprocess\": \"none\", \"preprocess\": \"none\"}", "given twice", "preprocess"},
		{"{\"instances\": [[[0]]]}", "instances[0][0] must be a row of 28 numbers, not 1",
		 "instances[0][0]"},
		{"{\"instances\": [[[[0]]]]}", "instances[0][0][0] must be a number", "instances[0][0][0]"},
		{"{\"instances\": [{}]}", "not an object", "instances[0]"},
		{"{\"instances\": [[0, 1,]]}", "not valid JSON", NULL},
		{"{\"instances\": [[0, 01]]}", "not valid JSON", NULL},
		{"{\"instances\": [[0, .5]]}", "not valid JSON", NULL},
		{"{\"instances\": [[0, 1.]]}", "not valid JSON", NULL},
		{"{\"instances\": [[0, 1e]]}", "not valid JSON", NULL},
		{"{\"preprocess\": \"none\"} x", "goes on after the object", NULL},
		{"{\"preprocess\": \"none\"", "not valid JSON", NULL},
		{"{\"preprocess\": \"none\" \"instances\": 1}", "not valid JSON", NULL},
		{"{\"inst\\u0061nces\": 5}", "non-empty array", "instances"},
		{"{\"bad\\q\": 5}", "not valid JSON", NULL},
		{"[]", "must be a JSON object", NULL},
		{"{\"instances\": [[0, NaN]]}", "not valid JSON", NULL},
		{"{\"instances\": [[0, Infinity]]}", "not valid JSON", NULL},
		{"", "empty", NULL},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		post_json(path, bad[i].body, &r);
		ck_error(&r, 400, bad[i].text, bad[i].field);
		resp_free(&r);
	}
	char qpath[160];
	snprintf(qpath, sizeof(qpath), "%s?preprocess=mnist", path);
	post_json(qpath, "{\"instances\": [[0]]}", &r);
	ck_error(&r, 400, "for image bodies", "preprocess");
	resp_free(&r);
}
END_TEST

START_TEST(test_predict_limits)
{
	teardown();
	struct opts o = {.max_instances = 4, .body_limit = 200 * 1024};
	start_server(&o);
	char id[32], path[128];
	struct resp r;
	trained_model(id);
	snprintf(path, sizeof(path), "/v1/models/%s:predict", id);
	char *body = instances_json(5, 0, 255, "\"pixel_range\": 255, ");
	post_json(path, body, &r);
	ck_error(&r, 413, "5 instances are more than the 4", "instances");
	resp_free(&r);
	free(body);
	body = instances_json(4, 0, 255, "\"pixel_range\": 255, ");
	ck_assert_int_eq(post_json(path, body, &r), 200);
	resp_free(&r);
	free(body);
	/* Over body_limit: 413 from Content-Length, and from a chunked body. */
	body = instances_json(60, 0, 1, NULL);
	ck_assert_uint_gt(strlen(body), 200 * 1024);
	post_json(path, body, &r);
	ck_error(&r, 413, "over the server's limit of 204800 bytes", NULL);
	resp_free(&r);
	struct req q = {.method = "POST", .path = path, .ctype = "application/json", .body = body,
			.len = strlen(body), .chunked = 1};
	request(&q, &r);
	ck_error(&r, 413, "over the server's limit", NULL);
	resp_free(&r);
	free(body);
	/* The server is still fine. */
	ck_assert_int_eq(get("/healthz", &r), 200);
	resp_free(&r);
}
END_TEST

/* A raw connection that sends a request's headers and then waits. */
static int send_headers(int port, const char *head)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(write(fd, head, strlen(head)), (ssize_t)strlen(head));
	return fd;
}

/* Waits until /metrics shows `bytes` reserved for bodies being received. */
static void wait_body_bytes(long bytes)
{
	double until = now() + 60;
	for (;;) {
		struct resp r;
		ck_assert_int_eq(get("/metrics", &r), 200);
		const char *v = strstr(r.body, "\ntraind_http_body_bytes ");
		ck_assert_ptr_nonnull(v);
		long got = strtol(v + strlen("\ntraind_http_body_bytes "), NULL, 10);
		resp_free(&r);
		if (got == bytes)
			return;
		ck_assert_msg(now() < until, "%ld body bytes reserved, not %ld", got, bytes);
		usleep(2000);
	}
}

/* Bodies on their way in share one budget (body_limit x (4 + 2 x
 * http_threads)): past it the server answers 503 instead of buffering
 * more, and a finished request gives its share back. */
START_TEST(test_body_budget)
{
	teardown();
	struct opts o = {.body_limit = 4096, .http_threads = 2};
	start_server(&o);
	const char *head = "POST /v1/jobs HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
			   "Content-Length: 4000\r\n\r\n";
	enum { HELD = 8 }; /* 8 x 4001 bytes fit in 4096 x 8 */
	int fds[HELD];
	for (int i = 0; i < HELD; i++)
		fds[i] = send_headers(server_port(srv), head);
	/* Once the eight hold their shares, a ninth finds no room. */
	wait_body_bytes(HELD * 4001);
	char body[4001];
	memset(body, ' ', 4000);
	body[0] = '{';
	body[3999] = '}';
	body[4000] = '\0';
	struct resp r;
	post_json("/v1/jobs", body, &r);
	ck_error(&r, 503, "too many large bodies", NULL);
	char retry[16];
	ck_assert_str_eq(header(&r, "Retry-After", retry, sizeof(retry)), "1");
	resp_free(&r);
	/* Their shares come back when MHD reports them done. */
	for (int i = 0; i < HELD; i++)
		close(fds[i]);
	wait_body_bytes(0);
	const char *fields = "{\"dataset\": \"synth\", \"epochs\": 1";
	memcpy(body, fields, strlen(fields));
	ck_assert_int_eq(post_json("/v1/jobs", body, &r), 201);
	resp_free(&r);
}
END_TEST

/* ---- real digits ----------------------------------------------------- */

START_TEST(test_real_digits)
{
	const char *data = getenv("TRAIND_TEST_DATA");
	char file[1024];
	snprintf(file, sizeof(file), "%s/digits/t10k-images-idx3-ubyte.gz", data ? data : "");
	if (!data || access(file, R_OK) != 0) {
		fprintf(stderr, "http: no digits under $TRAIND_TEST_DATA; skipping the real-digit "
			"prediction test\n");
		return;
	}
	struct idx_array images, labels;
	struct td_error e;
	ck_assert_msg(idx_load(file, 64u << 20, &images, &e) == 0, "%s", e.msg);
	snprintf(file, sizeof(file), "%s/digits/t10k-labels-idx1-ubyte.gz", data);
	ck_assert_msg(idx_load(file, 1u << 20, &labels, &e) == 0, "%s", e.msg);

	char id[32];
	create_job("{\"hidden\": [64], \"epochs\": 3, \"augment\": \"none\"}", id);
	wait_state(id, "completed", 600);

	/* 100 test images in one request: most come back with their labels. */
	int n = 100;
	char *body = malloc((size_t)n * PIXELS * 4 + 64), *p = body;
	p += sprintf(p, "{\"pixel_range\": 255, \"instances\": [");
	for (int i = 0; i < n; i++) {
		for (int k = 0; k < PIXELS; k++)
			p += sprintf(p, "%s%d", k ? "," : (i ? ",[" : "["),
				     images.data[(size_t)i * PIXELS + (size_t)k]);
		*p++ = ']';
	}
	strcpy(p, "]}");
	struct resp r;
	ck_assert_int_eq(post_json("/v1/models/latest:predict", body, &r), 200);
	json_t *preds = json_object_get(r.json, "predictions");
	int right = 0, first = -1;
	for (int i = 0; i < n; i++) {
		int label = check_prediction(json_array_get(preds, (size_t)i));
		right += label == labels.data[i];
		if (first < 0 && label == labels.data[i])
			first = i;
	}
	ck_assert_msg(right >= 80, "%d of %d test digits right", right, n);
	resp_free(&r);
	free(body);

	/* The same image as a PNG gets the same label. */
	size_t len;
	unsigned char *png = png_of(images.data + (size_t)first * PIXELS, SIDE, SIDE, &len);
	struct req q = {.method = "POST", .path = "/v1/models/latest:predict", .ctype = "image/png",
			.body = png, .len = len};
	request(&q, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_int_eq(check_prediction(json_array_get(json_object_get(r.json, "predictions"), 0)),
			 labels.data[first]);
	resp_free(&r);
	free(png);
	idx_free(&images);
	idx_free(&labels);
}
END_TEST

/* ---- authentication -------------------------------------------------- */

START_TEST(test_auth)
{
	teardown();
	struct opts o = {.token = TOKEN};
	start_server(&o);
	struct resp r;
	char www[128];
	const char *body = "{\"dataset\": \"synth\", \"hidden\": [4], \"epochs\": 1}";
	struct req q = {.method = "POST", .path = "/v1/jobs", .ctype = "application/json",
			.body = body, .len = strlen(body)};
	request(&q, &r);
	ck_error(&r, 401, "Authorization: Bearer", "Authorization");
	ck_assert_str_eq(header(&r, "WWW-Authenticate", www, sizeof(www)), "Bearer realm=\"traind\"");
	resp_free(&r);
	q.auth = "Bearer " TOKEN "x";
	request(&q, &r);
	ck_error(&r, 401, "wrong", "Authorization");
	ck_assert(strstr(header(&r, "WWW-Authenticate", www, sizeof(www)), "invalid_token"));
	resp_free(&r);
	q.auth = "Bearer s3cret";
	request(&q, &r);
	ck_assert_int_eq(r.status, 401);
	resp_free(&r);
	q.auth = "Basic " TOKEN;
	request(&q, &r);
	ck_assert_int_eq(r.status, 401);
	resp_free(&r);
	q.auth = "Bearer " TOKEN;
	request(&q, &r);
	ck_assert_msg(r.status == 201, "%s", r.body);
	char id[32], path[128];
	snprintf(id, sizeof(id), "%s", jstr(r.json, "id"));
	resp_free(&r);
	q.auth = "bearer  " TOKEN;
	request(&q, &r);
	ck_assert_int_eq(r.status, 201);
	resp_free(&r);

	/* DELETE needs it too; reads do not, and never show it. */
	snprintf(path, sizeof(path), "/v1/jobs/%s", id);
	struct req d = {.method = "DELETE", .path = path};
	request(&d, &r);
	ck_assert_int_eq(r.status, 401);
	resp_free(&r);
	const char *reads[] = {"/healthz", "/metrics", "/v1/jobs", "/v1/models", "/v1/datasets",
			       "/v1/job-options",
			       path};
	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
		ck_assert_int_eq(get(reads[i], &r), 200);
		ck_assert_msg(!strstr(r.body, TOKEN), "%s shows the token", reads[i]);
		resp_free(&r);
	}
	d.auth = "Bearer " TOKEN;
	request(&d, &r);
	ck_assert_int_eq(r.status, 204);
	resp_free(&r);
}
END_TEST

/* ---- static files ---------------------------------------------------- */

START_TEST(test_static_files)
{
	struct resp r;
	char ct[128];
	ck_assert_int_eq(get("/", &r), 200);
	ck_assert_str_eq(r.body, "<h1>traind</h1>\n");
	ck_assert_str_eq(header(&r, "Content-Type", ct, sizeof(ct)), "text/html; charset=utf-8");
	resp_free(&r);
	ck_assert_int_eq(get("/static/app.js", &r), 200);
	ck_assert_str_eq(header(&r, "Content-Type", ct, sizeof(ct)),
			 "text/javascript; charset=utf-8");
	resp_free(&r);
	struct req q = {.method = "HEAD", .path = "/static/app.js"};
	request(&q, &r);
	ck_assert_int_eq(r.status, 200);
	resp_free(&r);

	/* Nothing outside web_dir, whatever the spelling. */
	const char *outside[] = {
		"/static/escape.txt",        /* a symlink out of web_dir */
		"/static/../secret.txt",     /* curl squashes this one; the server sees /secret.txt */
		"/static/%2e%2e/secret.txt", /* encoded dots */
		"/static/..%2fsecret.txt",   /* encoded slash */
		"/static/app.js%00.png",     /* NUL */
		"/static/.hidden",
		"/static/nope.js",
		"/static/",
		"/static",
	};
	for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
		get(outside[i], &r);
		ck_assert_msg(r.status == 404 || r.status == 400, "%s: %ld", outside[i], r.status);
		ck_assert_msg(!r.body || !strstr(r.body, "secret\n"), "%s leaked", outside[i]);
		resp_free(&r);
	}
	q = (struct req){.method = "POST", .path = "/static/app.js"};
	request(&q, &r);
	ck_assert_int_eq(r.status, 405);
	resp_free(&r);
}
END_TEST

START_TEST(test_static_missing_web_dir)
{
	teardown();
	struct opts o = {.no_web = 1};
	start_server(&o);
	struct resp r;
	get("/", &r);
	ck_error(&r, 404, "web_dir", NULL);
	resp_free(&r);
}
END_TEST

/* ---- the confusion matrix -------------------------------------------- */

/* {"instances": [...]}: the synthetic test split exactly as write_split
 * made it (seed 2), in 0..255. */
static char *test_split_json(void)
{
	size_t cap = (size_t)N_TEST * PIXELS * 4 + 256;
	char *s = malloc(cap), *p = s;
	uint32_t seed = 2;
	uint8_t img[PIXELS];
	ck_assert_ptr_nonnull(s);
	p += sprintf(p, "{\"pixel_range\": 255, \"instances\": [");
	for (int i = 0; i < N_TEST; i++) {
		synth_image(i % 10, &seed, img);
		for (int k = 0; k < PIXELS; k++)
			p += sprintf(p, "%s%d", k ? "," : i ? "],[" : "[", img[k]);
	}
	strcpy(p, "]]}");
	return s;
}

/* ---- the metrics as CSV, the job list in pages ------------------------ */

/* Splits one CSV record (RFC 4180, no line end) into at most max fields,
 * unquoting in place; returns the count. */
static int csv_split(char *line, char **fields, int max)
{
	int n = 0;
	char *p = line;
	for (;;) {
		ck_assert_int_lt(n, max);
		char *out = p;
		fields[n++] = out;
		if (*p == '"') {
			for (p++;; p++) {
				ck_assert_msg(*p, "unterminated quote in %s", line);
				if (*p == '"' && p[1] == '"')
					*out++ = *p++;
				else if (*p == '"')
					break;
				else
					*out++ = *p;
			}
			p++;
			ck_assert_msg(*p == ',' || !*p, "text after a closing quote");
		} else {
			while (*p && *p != ',')
				*out++ = *p++;
		}
		int end = !*p;
		*out = '\0';
		if (end)
			return n;
		p++;
	}
}

#define CSV_COLS 13

START_TEST(test_metrics_csv)
{
	char id[32], path[160], h[256];
	struct resp r, j;
	/* A name that must be quoted: a comma and quotes. */
	create_job("{\"dataset\": \"synth\", \"hidden\": [8], \"epochs\": 3, \"batch_size\": 64, "
		   "\"augment\": \"none\", \"name\": \"lr 0.1, \\\"wide\\\"\"}", id);
	wait_state(id, "completed", 300);
	json_t *m = metrics(id, "?max_points=100000", &j);
	json_t *pts = json_object_get(m, "points"), *eps = json_object_get(m, "epochs");
	ck_assert_int_eq(json_array_size(eps), 3);

	snprintf(path, sizeof(path), "/v1/jobs/%s/metrics?format=csv", id);
	ck_assert_int_eq(get(path, &r), 200);
	ck_assert_str_eq(header(&r, "Content-Type", h, sizeof(h)),
			 "text/csv; charset=utf-8; header=present");
	char want[128];
	snprintf(want, sizeof(want), "attachment; filename=\"%s-metrics.csv\"", id);
	ck_assert_str_eq(header(&r, "Content-Disposition", h, sizeof(h)), want);
	ck_assert_msg(strstr(r.body, ",\"lr 0.1, \"\"wide\"\"\",point,"), "name not quoted");

	size_t n_points = 0, n_epochs = 0, line_no = 0;
	long last_step = -1;
	char *save = NULL;
	for (char *line = strtok_r(r.body, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t len = strlen(line);
		ck_assert_msg(len && line[len - 1] == '\r', "line %zu does not end in CRLF", line_no);
		line[len - 1] = '\0';
		char *f[CSV_COLS + 1];
		int n = csv_split(line, f, CSV_COLS + 1);
		ck_assert_int_eq(n, CSV_COLS);
		if (line_no++ == 0) {
			ck_assert_str_eq(f[0], "job");
			ck_assert_str_eq(f[2], "kind");
			ck_assert_str_eq(f[5], "loss");
			ck_assert_str_eq(f[10], "test_accuracy");
			continue;
		}
		ck_assert_str_eq(f[0], id);
		ck_assert_str_eq(f[1], "lr 0.1, \"wide\"");
		long step = strtol(f[3], NULL, 10);
		ck_assert_int_ge(step, last_step); /* step order */
		last_step = step;
		if (strcmp(f[2], "point") == 0) {
			json_t *p = json_array_get(pts, n_points++);
			ck_assert_int_eq(step, json_integer_value(json_array_get(p, 0)));
			ck_assert(strtod(f[4], NULL) == json_real_value(json_array_get(p, 1)) ||
				  fabs(strtod(f[4], NULL) - json_real_value(json_array_get(p, 1))) < 1e-4);
			/* 9 digits give the float back exactly. */
			ck_assert((float)strtod(f[5], NULL) == (float)json_real_value(json_array_get(p, 2)));
			ck_assert_str_eq(f[6], "");
			ck_assert_str_eq(f[12], "");
		} else {
			ck_assert_str_eq(f[2], "epoch");
			json_t *e = json_array_get(eps, n_epochs++);
			ck_assert_int_eq(step, json_integer_value(json_object_get(e, "step")));
			ck_assert_str_eq(f[5], "");
			ck_assert_int_eq(strtol(f[6], NULL, 10), (long)n_epochs);
			ck_assert_double_eq_tol(strtod(f[10], NULL),
						json_real_value(json_object_get(e, "test_accuracy")), 1e-12);
			ck_assert_double_eq_tol(strtod(f[7], NULL),
						json_real_value(json_object_get(e, "train_loss")), 1e-12);
			ck_assert_str_ne(f[4], ""); /* its last step's time: no point is thinned */
		}
	}
	ck_assert_uint_eq(n_points, json_array_size(pts));
	ck_assert_uint_eq(n_epochs, 3);
	ck_assert_uint_gt(n_points, 3);
	resp_free(&r);
	resp_free(&j);

	/* since_step and max_points apply as in JSON. */
	snprintf(path, sizeof(path), "/v1/jobs/%s/metrics?format=csv&max_points=2", id);
	ck_assert_int_eq(get(path, &r), 200);
	size_t rows = 0;
	for (char *p = r.body; (p = strstr(p, ",point,")); p++)
		rows++;
	ck_assert_uint_eq(rows, 2);
	resp_free(&r);

	/* Errors: an unknown job, a bad format naming the field. */
	get("/v1/jobs/j-000000/metrics?format=csv", &r);
	ck_error(&r, 404, "j-000000", "id");
	resp_free(&r);
	snprintf(path, sizeof(path), "/v1/jobs/%s/metrics?format=xml", id);
	get(path, &r);
	ck_error(&r, 400, "format must be json or csv, not \"xml\"", "format");
	resp_free(&r);
	snprintf(path, sizeof(path), "/v1/jobs/%s/metrics?format=json", id);
	ck_assert_int_eq(get(path, &r), 200);
	ck_assert(json_is_array(json_object_get(r.json, "points")));
	resp_free(&r);
}
END_TEST

START_TEST(test_jobs_paging)
{
	char ids[5][32], path[160];
	struct resp r;
	for (int i = 0; i < 5; i++)
		create_job("{\"dataset\": \"synth\", \"hidden\": [], \"epochs\": 1, \"batch_size\": 600, "
			   "\"augment\": \"none\"}", ids[i]);
	for (int i = 0; i < 5; i++)
		wait_state(ids[i], "completed", 300);
	/* Pages of two, newest first: 2 + 2 + 1, each job once. */
	char cursor[32] = "";
	int seen = 0;
	for (int page = 0; page < 3; page++) {
		snprintf(path, sizeof(path), "/v1/jobs?limit=2%s%s", *cursor ? "&cursor=" : "", cursor);
		ck_assert_int_eq(get(path, &r), 200);
		json_t *jobs = json_object_get(r.json, "jobs");
		ck_assert_int_eq(json_integer_value(json_object_get(r.json, "total")), 5);
		ck_assert_uint_eq(json_array_size(jobs), page < 2 ? 2 : 1);
		for (size_t k = 0; k < json_array_size(jobs); k++)
			ck_assert_str_eq(jstr(json_array_get(jobs, k), "id"), ids[4 - seen++]);
		json_t *next = json_object_get(r.json, "next_cursor");
		if (page < 2)
			snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
		else
			ck_assert(json_is_null(next));
		resp_free(&r);
	}
	ck_assert_int_eq(seen, 5);
	/* A state filter pages the same way; no job matches "failed". */
	snprintf(path, sizeof(path), "/v1/jobs?state=completed&limit=4&cursor=%s", ids[4]);
	ck_assert_int_eq(get(path, &r), 200);
	ck_assert_uint_eq(json_array_size(json_object_get(r.json, "jobs")), 4);
	ck_assert(json_is_null(json_object_get(r.json, "next_cursor")));
	resp_free(&r);
	ck_assert_int_eq(get("/v1/jobs?state=failed", &r), 200);
	ck_assert_int_eq(json_integer_value(json_object_get(r.json, "total")), 0);
	ck_assert(json_is_null(json_object_get(r.json, "next_cursor")));
	resp_free(&r);
	/* A cursor naming no job, a bad limit. */
	get("/v1/jobs?cursor=j-000000", &r);
	ck_error(&r, 400, "cursor \"j-000000\" names no job", "cursor");
	resp_free(&r);
	get("/v1/jobs?limit=1001", &r);
	ck_error(&r, 400, "limit must be an integer from 1 to 1000", "limit");
	resp_free(&r);
}
END_TEST

START_TEST(test_confusion)
{
	char id[32], path[128];
	struct resp r;
	/* A model that is right only part of the time, so that the rows
	 * (true classes) and the columns (predictions) sum differently. */
	create_job("{\"dataset\": \"synth\", \"hidden\": [2], \"epochs\": 1, \"batch_size\": 64, "
		   "\"learning_rate\": 0.02, \"augment\": \"none\", \"workers\": 2}", id);
	wait_state(id, "completed", 300);

	snprintf(path, sizeof(path), "/v1/models/%s", id);
	ck_assert_int_eq(get(path, &r), 200);
	double reported = json_number_value(json_object_get(r.json, "test_accuracy"));
	resp_free(&r);

	snprintf(path, sizeof(path), "/v1/models/%s/confusion", id);
	ck_assert_msg(get(path, &r) == 200, "%s", r.body);
	json_t *m = json_object_get(r.json, "matrix");
	ck_assert_str_eq(jstr(r.json, "model"), id);
	ck_assert_int_eq(json_array_size(json_object_get(r.json, "classes")), 10);
	ck_assert_int_eq(json_integer_value(json_object_get(r.json, "samples")), N_TEST);
	ck_assert_int_eq(json_array_size(m), 10);
	long cell[10][10], diagonal = 0, col_sum[10] = {0};
	for (int t = 0; t < 10; t++) {
		json_t *row = json_array_get(m, (size_t)t);
		ck_assert_int_eq(json_array_size(row), 10);
		long row_sum = 0;
		for (int p = 0; p < 10; p++) {
			cell[t][p] = (long)json_integer_value(json_array_get(row, (size_t)p));
			row_sum += cell[t][p];
			col_sum[p] += cell[t][p];
		}
		diagonal += cell[t][t];
		ck_assert_int_eq(row_sum, N_TEST / 10); /* rows are the true classes */
	}
	int uneven = 0;
	for (int p = 0; p < 10; p++)
		uneven |= col_sum[p] != N_TEST / 10;
	ck_assert_msg(uneven, "the weak model predicts every class equally often (%ld right)",
		      diagonal);
	double accuracy = json_number_value(json_object_get(r.json, "accuracy"));
	ck_assert(accuracy == (double)diagonal / N_TEST);
	/* The trainer's own evaluation of the same weights, to the bit. */
	ck_assert_msg(accuracy == reported, "confusion accuracy %.17g, job reported %.17g",
		      accuracy, reported);
	resp_free(&r);

	/* Each cell counts what predict says about those test images. */
	char *body = test_split_json();
	snprintf(path, sizeof(path), "/v1/models/%s:predict", id);
	ck_assert_msg(post_json(path, body, &r) == 200, "%s", r.body);
	free(body);
	long seen[10][10] = {{0}};
	json_t *preds = json_object_get(r.json, "predictions");
	ck_assert_int_eq(json_array_size(preds), N_TEST);
	for (int i = 0; i < N_TEST; i++)
		seen[i % 10][check_prediction(json_array_get(preds, (size_t)i))]++;
	resp_free(&r);
	for (int t = 0; t < 10; t++)
		for (int p = 0; p < 10; p++)
			ck_assert_msg(seen[t][p] == cell[t][p], "cell [%d][%d]: %ld by predict, %ld",
				      t, p, seen[t][p], cell[t][p]);

	/* Names and errors as for any model route. */
	ck_assert_int_eq(get("/v1/models/latest/confusion", &r), 200);
	ck_assert_str_eq(jstr(r.json, "model"), id);
	resp_free(&r);
	get("/v1/models/nope/confusion", &r);
	ck_error(&r, 404, "no model named \"nope\"", "name");
	resp_free(&r);
	snprintf(path, sizeof(path), "/v1/models/%s/confusion", id);
	post_json(path, "{}", &r);
	ck_assert_int_eq(r.status, 405);
	resp_free(&r);
	snprintf(path, sizeof(path), "/v1/models/%s/confusion?limit=3", id);
	get(path, &r);
	ck_error(&r, 400, "unknown query parameter \"limit\"", "limit");
	resp_free(&r);
}
END_TEST

/* ---- gradient check -------------------------------------------------- */

START_TEST(test_gradcheck)
{
	struct resp r;
	ck_assert_int_eq(post_json("/v1/gradcheck", "{\"hidden\": [4, 3], \"activation\": \"tanh\", "
				   "\"inputs\": 5, \"classes\": 3, \"samples\": 4}", &r), 200);
	ck_assert(json_is_true(json_object_get(r.json, "passed")));
	json_t *t = json_object_get(r.json, "tensors");
	ck_assert_int_eq(json_array_size(t), 7); /* W1 b1 W2 b2 W3 b3 x */
	ck_assert_str_eq(jstr(json_array_get(t, 0), "name"), "W1");
	ck_assert(json_number_value(json_object_get(json_array_get(t, 0), "max_relative_error")) <
		  1e-6);
	resp_free(&r);
	post_json("/v1/gradcheck", "{\"inputs\": 0}", &r);
	ck_error(&r, 400, "inputs must be an integer from 1", "inputs");
	resp_free(&r);
	post_json("/v1/gradcheck", "{\"inputs\": 2.5}", &r);
	ck_error(&r, 400, "inputs must be an integer", "inputs");
	resp_free(&r);
	post_json("/v1/gradcheck", "{\"hiden\": [3]}", &r);
	ck_error(&r, 400, "unknown field \"hiden\"", "hiden");
	resp_free(&r);
	post_json("/v1/gradcheck", "{\"hidden\": [2000], \"inputs\": 1024}", &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(jstr(r.json, "field"), "hidden");
	resp_free(&r);
}
END_TEST

/* ---- explain (one training step, quantity by quantity) --------------- */

START_TEST(test_explain)
{
	struct resp r;
	/* XOR on 3-4-1 sigmoid / mse: the steps in order, gradients checked. */
	ck_assert_int_eq(post_json("/v1/explain", "{\"hidden\": [4], \"activation\": \"sigmoid\", "
				   "\"output\": \"sigmoid\", \"loss\": \"mse\", \"l2\": 0, "
				   "\"input\": [[0,0,1],[0,1,1],[1,0,1],[1,1,1]], "
				   "\"labels\": [0,1,1,0]}", &r), 200);
	ck_assert_int_eq(json_integer_value(json_object_get(r.json, "parameters")), 21);
	ck_assert(json_number_value(json_object_get(r.json, "max_check_error")) < 1e-6);
	json_t *steps = json_object_get(r.json, "steps"), *st;
	size_t i;
	int seen_delta = 0;
	json_array_foreach(steps, i, st) {
		if (strcmp(jstr(st, "name"), "delta2") == 0) {
			ck_assert_str_eq(jstr(st, "formula"), "delta2 = (a2 - y) * a2 * (1 - a2)");
			ck_assert_str_eq(jstr(st, "phase"), "backward");
			ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(st, "shape"), 0)), 4);
			seen_delta = 1;
		}
		if (strcmp(jstr(st, "name"), "dW1") == 0)
			ck_assert(json_number_value(json_object_get(st, "check_error")) < 1e-6);
	}
	ck_assert(seen_delta);
	resp_free(&r);
	/* A training sample of the data set. */
	ck_assert_int_eq(post_json("/v1/explain", "{\"dataset\": \"synth\", \"hidden\": [8], "
				   "\"sample\": 3, \"count\": 2}", &r), 200);
	ck_assert_int_eq(json_integer_value(json_object_get(r.json, "batch")), 2);
	resp_free(&r);
	post_json("/v1/explain", "{\"input\": [[0,1],[1]], \"labels\": [0,1]}", &r);
	ck_error(&r, 400, "input row 1 must be an array of 2", "input");
	resp_free(&r);
	post_json("/v1/explain", "{\"input\": [[0,1]], \"labels\": [2]}", &r);
	ck_error(&r, 400, "labels[0] must be a class", "labels");
	resp_free(&r);
	post_json("/v1/explain", "{\"dataset\": \"synth\", \"sample\": 100000000}", &r);
	ck_error(&r, 400, "sample must be an integer from 0", "sample");
	resp_free(&r);
	post_json("/v1/explain", "{\"input\": [1,2,3,2.5], \"labels\": [1], \"hidden\": [3,3], \"output\": \"sigmoid\", \"loss\": \"mse\", "
		  "\"weights\": [1,2]}", &r);
	ck_error(&r, 400, "weights must be an array of the model's 31", "weights");
	resp_free(&r);
	post_json("/v1/explain", "{\"hidden\": [4000], \"dataset\": \"synth\"}", &r);
	ck_assert_int_eq(r.status, 400);
	ck_assert_str_eq(jstr(r.json, "field"), "hidden");
	resp_free(&r);
	post_json("/v1/explain", "{\"sampel\": 1}", &r);
	ck_error(&r, 400, "unknown field \"sampel\"", "sampel");
	resp_free(&r);
}
END_TEST

/* ---- per-layer statistics ------------------------------------------ */

START_TEST(test_job_layers)
{
	char id[32], path[160];
	trained_model(id);
	struct resp r;
	snprintf(path, sizeof(path), "/v1/jobs/%s/layers?since_step=0&max_points=3", id);
	ck_assert_int_eq(get(path, &r), 200);
	json_t *t = json_object_get(r.json, "tensors"), *pts = json_object_get(r.json, "points");
	ck_assert_uint_eq(json_array_size(t), 2);
	ck_assert_str_eq(json_string_value(json_array_get(t, 0)), "W1");
	ck_assert_uint_eq(json_array_size(pts), 3);
	json_t *p0 = json_array_get(pts, 0);
	ck_assert_int_eq(json_integer_value(json_array_get(p0, 0)), 1);
	json_t *w1 = json_array_get(json_array_get(p0, 1), 0);
	ck_assert_uint_eq(json_array_size(w1), 3);
	ck_assert(json_number_value(json_array_get(w1, 0)) > 0);
	ck_assert(json_is_array(json_object_get(r.json, "warnings")));
	long next = (long)json_integer_value(json_object_get(r.json, "next_step"));
	resp_free(&r);
	/* The cursor: nothing new after next_step. */
	snprintf(path, sizeof(path), "/v1/jobs/%s/layers?since_step=%ld", id, next);
	ck_assert_int_eq(get(path, &r), 200);
	ck_assert_uint_eq(json_array_size(json_object_get(r.json, "points")), 0);
	resp_free(&r);
	snprintf(path, sizeof(path), "/v1/jobs/%s", id);
	ck_assert_int_eq(get(path, &r), 200);
	ck_assert(json_is_array(json_object_get(r.json, "warnings")));
	resp_free(&r);
	snprintf(path, sizeof(path), "/v1/jobs/%s/histograms", id);
	ck_assert_int_eq(get(path, &r), 200);
	ck_assert_int_eq(json_integer_value(json_object_get(r.json, "bins")), 32);
	json_t *ep = json_object_get(r.json, "epochs");
	ck_assert_uint_eq(json_array_size(ep), 4);
	ck_assert_uint_eq(json_array_size(json_object_get(json_array_get(ep, 0), "histograms")), 4);
	resp_free(&r);
	snprintf(path, sizeof(path), "/v1/jobs/%s/layers?max_points=0", id);
	get(path, &r);
	ck_error(&r, 400, "max_points must be an integer from 1", "max_points");
	resp_free(&r);
	get("/v1/jobs/j-000000/layers", &r);
	ck_assert_int_eq(r.status, 404);
	resp_free(&r);
}
END_TEST

/* ---- many clients at once -------------------------------------------- */

struct client {
	const char *model;
	const char *job;
	int requests;
	int failures;
	char why[256];
};

static void *client_main(void *arg)
{
	struct client *c = arg;
	char path[160], *body = instances_json(2, 0, 1, NULL);
	long since = 0;
	for (int i = 0; i < c->requests; i++) {
		struct resp r;
		switch (i % 3) {
		case 0:
			snprintf(path, sizeof(path), "/v1/models/%s:predict", c->model);
			post_json(path, body, &r);
			if (r.status == 200 &&
			    json_array_size(json_object_get(r.json, "predictions")) != 2)
				r.status = -1;
			break;
		case 1:
			snprintf(path, sizeof(path), "/v1/jobs/%s", c->job);
			get(path, &r);
			break;
		default:
			snprintf(path, sizeof(path), "/v1/jobs/%s/metrics?since_step=%ld", c->job, since);
			get(path, &r);
			if (r.status == 200) {
				long next = json_integer_value(json_object_get(r.json, "next_step"));
				if (next < since)
					r.status = -2; /* the cursor went back */
				since = next;
			}
		}
		if (r.status != 200) {
			c->failures++;
			snprintf(c->why, sizeof(c->why), "%s: %ld %.100s", path, r.status,
				 r.body ? r.body : "");
		}
		resp_free(&r);
	}
	free(body);
	return NULL;
}

START_TEST(test_concurrency)
{
	teardown();
	struct opts o = {.http_threads = 4};
	start_server(&o);
	char model[32], job[32], path[128];
	trained_model(model);
	create_job("{\"dataset\": \"synth\", \"hidden\": [32], \"epochs\": 1000, \"augment\": \"none\"}",
		   job);
	wait_state(job, "running", 60);
	/* Its model answers once it published weights. */
	double until = now() + 60;
	for (;;) {
		struct resp m;
		snprintf(path, sizeof(path), "/v1/models/%s", job);
		ck_assert_int_eq(get(path, &m), 200);
		int ready = strcmp(jstr(m.json, "state"), "AVAILABLE") == 0;
		resp_free(&m);
		if (ready)
			break;
		ck_assert(now() < until);
		usleep(5000);
	}

	enum { CLIENTS = 6 };
	struct client c[CLIENTS];
	pthread_t t[CLIENTS];
	for (int i = 0; i < CLIENTS; i++) {
		c[i] = (struct client){.model = i % 2 ? model : job, .job = job, .requests = 90};
		ck_assert_int_eq(pthread_create(&t[i], NULL, client_main, &c[i]), 0);
	}
	for (int i = 0; i < CLIENTS; i++) {
		pthread_join(t[i], NULL);
		ck_assert_msg(c[i].failures == 0, "client %d: %d failures, last %s", i, c[i].failures,
			      c[i].why);
	}
	/* The job trained meanwhile and still answers to control. */
	struct resp r;
	snprintf(path, sizeof(path), "/v1/jobs/%s:cancel", job);
	ck_assert_int_eq(post_json(path, "", &r), 200);
	ck_assert_str_eq(jstr(r.json, "state"), "cancelled");
	ck_assert_int_gt(json_integer_value(json_object_get(json_object_get(r.json, "progress"),
							   "step")), 0);
	resp_free(&r);
	ck_assert_int_eq(get("/metrics", &r), 200);
	ck_assert(strstr(r.body, "traind_predictions_total"));
	resp_free(&r);
}
END_TEST

Suite *suite_http(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("api");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_healthz_metrics_datasets);
	tcase_add_test(tc, test_routing_errors);
	tcase_add_test(tc, test_job_validation);
	tcase_add_test(tc, test_job_options);
	tcase_add_test(tc, test_job_lifecycle);
	tcase_add_test(tc, test_cancel_and_delete_running);
	tcase_add_test(tc, test_predict);
	tcase_add_test(tc, test_predict_errors);
	tcase_add_test(tc, test_predict_limits);
	tcase_add_test(tc, test_model_download_and_import);
	tcase_add_test(tc, test_body_budget);
	tcase_add_test(tc, test_real_digits);
	tcase_add_test(tc, test_metrics_csv);
	tcase_add_test(tc, test_jobs_paging);
	tcase_add_test(tc, test_confusion);
	tcase_add_test(tc, test_auth);
	tcase_add_test(tc, test_static_files);
	tcase_add_test(tc, test_static_missing_web_dir);
	tcase_add_test(tc, test_gradcheck);
	tcase_add_test(tc, test_explain);
	tcase_add_test(tc, test_job_layers);
	tcase_add_test(tc, test_cnn_job);
	tcase_add_test(tc, test_concurrency);
	suite_add_tcase(s, tc);
	return s;
}
