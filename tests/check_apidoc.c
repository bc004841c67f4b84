/*
 * check_apidoc.c - docs/api.md against the route table the daemon serves
 * (api_routes()): every method of every row has its "### METHOD PATH"
 * heading, and every such heading is a row, so a route added, renamed or
 * removed without its reference fails here. Placeholders compare by
 * position only ({id} in the table may be {name} in the text).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "testutil.h"
#include "traind/api.h"

#define MAX_HEADINGS 256

static const struct {
	unsigned bit;
	const char *name;
} methods[] = {{HTTP_GET, "GET"}, {HTTP_POST, "POST"}, {HTTP_DELETE, "DELETE"}};

/* "METHOD /path/{x}:y" with every {...} written as {}. */
static void route_key(const char *method, const char *pattern, char *out, size_t len)
{
	size_t n = (size_t)snprintf(out, len, "%s ", method);
	for (const char *p = pattern; *p && n + 3 < len; p++) {
		if (*p == '{') {
			const char *close = strchr(p, '}');
			if (close) {
				out[n++] = '{';
				out[n++] = '}';
				p = close;
				continue;
			}
		}
		out[n++] = *p;
	}
	out[n] = '\0';
}

/* The "### METHOD PATH" headings of the reference, as route keys. */
static int doc_headings(char keys[][160], int max)
{
	const char *src = getenv("TRAIND_SRCDIR");
	char path[4096];
	snprintf(path, sizeof(path), "%s/docs/api.md", src && *src ? src : ".");
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "cannot read %s", path);
	char line[512], method[16], pattern[256];
	int n = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "### %15[A-Z] %255s", method, pattern) == 2) {
			ck_assert_int_lt(n, max);
			route_key(method, pattern, keys[n++], sizeof(keys[0]));
		}
	fclose(f);
	return n;
}

START_TEST(test_every_route_is_documented)
{
	static char keys[MAX_HEADINGS][160];
	int n = doc_headings(keys, MAX_HEADINGS);
	char missing[4096] = "", key[160];
	int rows = 0;
	for (const struct http_route *r = api_routes(); r->pattern; r++)
		for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++) {
			if (!(r->methods & methods[m].bit))
				continue;
			rows++;
			route_key(methods[m].name, r->pattern, key, sizeof(key));
			int found = 0;
			for (int i = 0; i < n && !found; i++)
				found = strcmp(keys[i], key) == 0;
			if (!found) {
				size_t used = strlen(missing);
				snprintf(missing + used, sizeof(missing) - used, "\n  ### %s %s",
					 methods[m].name, r->pattern);
			}
		}
	ck_assert_int_ge(rows, 20);
	ck_assert_msg(!missing[0], "docs/api.md has no heading for these routes:%s", missing);
}
END_TEST

START_TEST(test_every_heading_is_a_route)
{
	static char keys[MAX_HEADINGS][160];
	int n = doc_headings(keys, MAX_HEADINGS);
	char key[160];
	for (int i = 0; i < n; i++) {
		int found = 0;
		for (const struct http_route *r = api_routes(); r->pattern && !found; r++)
			for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]) && !found; m++) {
				if (!(r->methods & methods[m].bit))
					continue;
				route_key(methods[m].name, r->pattern, key, sizeof(key));
				found = strcmp(keys[i], key) == 0;
			}
		ck_assert_msg(found, "docs/api.md documents \"%s\", which the route table "
			      "(src/daemon/api.c) does not have", keys[i]);
	}
}
END_TEST

Suite *suite_apidoc(void)
{
	Suite *s = suite_create("apidoc");
	TCase *tc = tcase_create("apidoc");
	tcase_add_test(tc, test_every_route_is_documented);
	tcase_add_test(tc, test_every_heading_is_a_route);
	suite_add_tcase(s, tc);
	return s;
}
