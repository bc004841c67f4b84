/*
 * check_route.c - a request path against a route pattern (http_route.c):
 * literal segments, {id} with and without a suffix, a trailing "*", and
 * paths that differ from a pattern at every place they can.
 */
#include <string.h>

#include "check_suites.h"
#include "traind/http.h"

struct route_case {
	const char *pattern, *path;
	int match;
	const char *id, *rest;
};

static const struct route_case cases[] = {
	{"/healthz", "/healthz", 1, "", ""},
	{"/healthz", "/healthz/", 0, NULL, NULL},
	{"/healthz", "/health", 0, NULL, NULL},
	{"/healthz", "/healthzz", 0, NULL, NULL},
	{"/healthz", "/", 0, NULL, NULL},
	{"/", "/", 1, "", ""},
	{"/", "//", 0, NULL, NULL},
	{"/", "/x", 0, NULL, NULL},
	{"/v1/jobs", "/v1/jobs", 1, "", ""},
	{"/v1/jobs", "/v2/jobs", 0, NULL, NULL},
	{"/v1/jobs", "/v1/job", 0, NULL, NULL},
	{"/v1/jobs", "/v1/jobs/x", 0, NULL, NULL},
	{"/v1/jobs/{id}", "/v1/jobs/j-1a2b3c", 1, "j-1a2b3c", ""},
	{"/v1/jobs/{id}", "/v1/jobs/", 0, NULL, NULL},
	{"/v1/jobs/{id}", "/v1/jobs/a:pause", 0, NULL, NULL},
	{"/v1/jobs/{id}:pause", "/v1/jobs/a:pause", 1, "a", ""},
	{"/v1/jobs/{id}:pause", "/v1/jobs/:pause", 0, NULL, NULL},
	{"/v1/jobs/{id}:pause", "/v1/jobs/a:resume", 0, NULL, NULL},
	{"/v1/jobs/{id}/metrics", "/v1/jobs/j-1/metrics", 1, "j-1", ""},
	{"/v1/jobs/{id}/metrics", "/v1/jobs/j-1/metric", 0, NULL, NULL},
	{"/v1/models/{id}:predict", "/v1/models/latest:predict", 1, "latest", ""},
	{"/v2/models/{id}/infer", "/v2/models/m/infer", 1, "m", ""},
	{"/v2/models/{id}/infer", "/v1/models/m/infer", 0, NULL, NULL},
	{"/v2/models/{id}/infer", "/v2/models/m/infer/", 0, NULL, NULL},
	{"/v2/models/{id}/versions/*", "/v2/models/m/versions/12/infer", 1, "m", "12/infer"},
	{"/v2/models/{id}/versions/*", "/v2/models/m/versions/", 1, "m", ""},
	{"/v2/models/{id}/versions/*", "/v2/models/m/versions", 0, NULL, NULL},
	{"/static/*", "/static/app.js", 1, "", "app.js"},
	{"/static/*", "/static/", 1, "", ""},
	{"/static/*", "/stat/app.js", 0, NULL, NULL},
	{"/static/*", "/staticx/app.js", 0, NULL, NULL},
};

START_TEST(test_patterns)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct route_case *c = &cases[i];
		struct http_request r;
		memset(&r, 0, sizeof(r));
		int got = http_route_match(c->pattern, c->path, &r);
		ck_assert_msg(got == c->match, "%s against %s: %d", c->path, c->pattern, got);
		if (!got)
			continue;
		ck_assert_msg(strcmp(r.id, c->id) == 0, "%s: id \"%s\"", c->path, r.id);
		ck_assert_msg(strcmp(r.rest, c->rest) == 0, "%s: rest \"%s\"", c->path, r.rest);
	}
}
END_TEST

/* An id as long as the buffer allows, and one byte more. */
START_TEST(test_id_length)
{
	char path[HTTP_ID_MAX + 32], id[HTTP_ID_MAX + 1];
	struct http_request r;
	memset(id, 'a', sizeof(id));
	id[HTTP_ID_MAX - 1] = '\0';
	snprintf(path, sizeof(path), "/v1/jobs/%s", id);
	ck_assert_int_eq(http_route_match("/v1/jobs/{id}", path, &r), 1);
	ck_assert_str_eq(r.id, id);
	id[HTTP_ID_MAX - 1] = 'a';
	id[HTTP_ID_MAX] = '\0';
	snprintf(path, sizeof(path), "/v1/jobs/%s", id);
	ck_assert_int_eq(http_route_match("/v1/jobs/{id}", path, &r), 0);
}
END_TEST

Suite *suite_route(void)
{
	Suite *s = suite_create("route");
	TCase *tc = tcase_create("match");
	tcase_add_test(tc, test_patterns);
	tcase_add_test(tc, test_id_length);
	suite_add_tcase(s, tc);
	return s;
}
