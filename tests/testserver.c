/*
 * testserver.c - the in-process daemon and client of testserver.h.
 */
#include "testserver.h"

#include <check.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "traind/idx.h"
#include "traind/serve.h"
#include "traind/srvconf.h"

#define N_TRAIN 600
#define N_TEST 200

static char *tmp;
static struct server *srv;
static char base[64];
static char source[64];

static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1664525u + 1013904223u;
	return *s >> 8;
}

void ts_synth_image(int c, uint32_t *seed, uint8_t *img)
{
	int top = 2 + (c % 5) * 5, left = 3 + (c / 5) * 13;
	for (int i = 0; i < TS_PIXELS; i++)
		img[i] = (uint8_t)(lcg(seed) % 40);
	for (int y = top; y < top + 6; y++)
		for (int x = left; x < left + 6; x++)
			img[y * TS_SIDE + x] = 255;
}

static void write_split(const char *dir, const char *prefix, int n, uint32_t seed)
{
	uint8_t *x = malloc((size_t)n * TS_PIXELS), *y = malloc((size_t)n);
	ck_assert(x && y);
	for (int i = 0; i < n; i++) {
		y[i] = (uint8_t)(i % 10);
		ts_synth_image(y[i], &seed, x + (size_t)i * TS_PIXELS);
	}
	char path[512];
	uint32_t dims[3] = {(uint32_t)n, TS_SIDE, TS_SIDE};
	struct td_error e;
	snprintf(path, sizeof(path), "%s/%s-images.idx", dir, prefix);
	ck_assert_msg(idx_write(path, 3, dims, x, &e) == 0, "%s", e.msg);
	snprintf(path, sizeof(path), "%s/%s-labels.idx", dir, prefix);
	ck_assert_msg(idx_write(path, 1, dims, y, &e) == 0, "%s", e.msg);
	free(x);
	free(y);
}

void ts_start(const char *const *settings)
{
	tmp = test_tmpdir();
	ck_assert_ptr_nonnull(tmp);
	write_split(tmp, "train", N_TRAIN, 1);
	write_split(tmp, "test", N_TEST, 2);
	struct srvconf c;
	struct td_error e;
	char line[2048], state[4200];
	ck_assert_int_eq(srvconf_defaults(&c), 0);
	snprintf(line, sizeof(line), "synth idx %s/train-images.idx %s/train-labels.idx "
		 "%s/test-images.idx %s/test-labels.idx", tmp, tmp, tmp, tmp);
	snprintf(state, sizeof(state), "%s/state", tmp);
	const char *const fixed[] = {
		"listen", "127.0.0.1:0", "data_dir", tmp, "web_dir", "/nonexistent/web",
		"workers", "2", "state_dir", state, "snapshot_seconds", "0.05", "http_threads", "2",
		"access_log", getenv("HTTP_TEST_LOG") ? "true" : "false", "dataset", line, NULL,
	};
	for (int i = 0; fixed[i]; i += 2)
		ck_assert_msg(srvconf_set(&c, fixed[i], fixed[i + 1], &e) == 0, "%s", e.msg);
	for (int i = 0; settings && settings[i]; i += 2)
		ck_assert_msg(srvconf_set(&c, settings[i], settings[i + 1], &e) == 0, "%s", e.msg);
	ck_assert_msg(srvconf_finish(&c, &e) == 0, "%s", e.msg);
	ck_assert_msg(server_start(&c, &srv, &e) == 0, "%s", e.msg);
	srvconf_free(&c);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", server_port(srv));
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void ts_stop(void)
{
	server_stop(srv);
	srv = NULL;
	test_rmtree(tmp);
	free(tmp);
	tmp = NULL;
	source[0] = '\0';
	curl_global_cleanup();
}

void ts_set_source(const char *ip)
{
	snprintf(source, sizeof(source), "%s", ip ? ip : "");
}

int ts_port(void)
{
	return server_port(srv);
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct ts_resp *r = arg;
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
	struct ts_resp *r = arg;
	size_t k = size * n;
	if (r->hlen + k < sizeof(r->headers)) {
		memcpy(r->headers + r->hlen, p, k);
		r->hlen += k;
		r->headers[r->hlen] = '\0';
	}
	return k;
}

long ts_request(const char *method, const char *path, const char *ctype,
		const char *const *headers, const void *body, size_t len, struct ts_resp *r)
{
	memset(r, 0, sizeof(*r));
	CURL *c = curl_easy_init();
	ck_assert_ptr_nonnull(c);
	char url[1024], h[256];
	struct curl_slist *hdrs = NULL;
	snprintf(url, sizeof(url), "%s%s", base, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	if (source[0])
		curl_easy_setopt(c, CURLOPT_INTERFACE, source);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	snprintf(h, sizeof(h), "Content-Type:%s%s", ctype ? " " : "", ctype ? ctype : "");
	hdrs = curl_slist_append(hdrs, h);
	for (int i = 0; headers && headers[i]; i++)
		hdrs = curl_slist_append(hdrs, headers[i]);
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	CURLcode rc = curl_easy_perform(c);
	ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(c);
	if (r->body)
		r->json = json_loadb(r->body, r->len, 0, NULL);
	return r->status;
}

long ts_get(const char *path, struct ts_resp *r)
{
	return ts_request("GET", path, NULL, NULL, NULL, 0, r);
}

void ts_resp_free(struct ts_resp *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

const char *ts_header(const struct ts_resp *r, const char *name, char *buf, size_t len)
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
			snprintf(buf, len, "%.*s", (int)(ll - (size_t)(v - l)), v);
			return buf;
		}
		l += ll + (end ? 2 : 0);
	}
	return buf;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void ts_trained_model(char id[32])
{
	static const char job[] = "{\"dataset\": \"synth\", \"hidden\": [16], \"epochs\": 4, "
				  "\"batch_size\": 32, \"augment\": \"none\", \"workers\": 2}";
	struct ts_resp r;
	ck_assert_msg(ts_request("POST", "/v1/jobs", "application/json", NULL, job,
				 sizeof(job) - 1, &r) == 201, "%s", r.body);
	snprintf(id, 32, "%s", json_string_value(json_object_get(r.json, "id")));
	ts_resp_free(&r);
	char path[64];
	snprintf(path, sizeof(path), "/v1/jobs/%s", id);
	double until = now() + 300;
	for (;;) {
		ck_assert_int_eq(ts_get(path, &r), 200);
		const char *s = json_string_value(json_object_get(r.json, "state"));
		int done = s && strcmp(s, "completed") == 0;
		ck_assert_msg(done || now() < until, "job %s is %s after 300 s", id, s);
		ts_resp_free(&r);
		if (done)
			break;
		usleep(5000);
	}
}
