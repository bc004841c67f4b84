/*
 * check_instances.c - the predict body reader: numbers read exactly as
 * strtod reads them, flat and nested instances alike, the limits, and
 * every prefix and thousands of corruptions of a valid body answered
 * with an error rather than a crash (run it under ASan).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "traind/instances.h"

#define W 4
#define H 3

/* n instances of W*H values from `vals` (cycled), flat or nested. */
static char *body_of(int n, int nested, const char *const *vals, int nvals, const char *extra)
{
	char *s = malloc(65536), *p = s;
	int v = 0;
	p += sprintf(p, "{%s\"instances\": [", extra ? extra : "");
	for (int i = 0; i < n; i++) {
		p += sprintf(p, "%s[", i ? ", " : "");
		for (int y = 0; y < H; y++) {
			if (nested)
				p += sprintf(p, "%s[", y ? ", " : "");
			for (int x = 0; x < W; x++)
				p += sprintf(p, "%s%s", (x || (y && !nested)) ? ", " : "",
					     vals[v++ % nvals]);
			if (nested)
				*p++ = ']';
		}
		*p++ = ']';
	}
	strcpy(p, "]}");
	return s;
}

START_TEST(test_numbers_exact)
{
	const char *vals[] = {"0", "1", "0.5", "0.0784313725490196", "1e-3", "2.5E-1", "0.1",
			      "0.30000000000000004", "1.0", "0.999999999999999999", "5e-1", "-0",
			      "0.000001", "1E0", "0.333333333333333314829616256247"};
	int nv = (int)(sizeof(vals) / sizeof(vals[0]));
	char *b = body_of(2, 0, vals, nv, NULL);
	struct instances in;
	struct td_error e;
	ck_assert_msg(instances_parse(b, strlen(b), W, H, 8, &in, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(in.n, 2);
	ck_assert(in.pixel_range == 1);
	for (int k = 0; k < 2 * W * H; k++) {
		float want = (float)strtod(vals[k % nv], NULL);
		ck_assert_msg(in.x[k] == want, "%s read as %.9g, not %.9g", vals[k % nv], in.x[k],
			      want);
	}
	instances_free(&in);
	free(b);
}
END_TEST

START_TEST(test_nested_and_range)
{
	const char *vals[] = {"0", "17", "255", "128", "3", "254"};
	struct instances flat, nested;
	struct td_error e;
	char *a = body_of(3, 0, vals, 6, "\"pixel_range\": 255, \"preprocess\": \"mnist\", ");
	char *b = body_of(3, 1, vals, 6, NULL);
	strcpy(b + strlen(b) - 1, ", \"pixel_range\": 255}");
	ck_assert_msg(instances_parse(a, strlen(a), W, H, 3, &flat, &e) == 0, "%s", e.msg);
	ck_assert_msg(instances_parse(b, strlen(b), W, H, 3, &nested, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(flat.mnist, 1);
	ck_assert_int_eq(nested.mnist, 0);
	ck_assert_int_eq(memcmp(flat.x, nested.x, sizeof(float) * 3 * W * H), 0);
	ck_assert(flat.x[2] == 1.0f && flat.x[1] == (float)(17.0f / 255.0));
	instances_free(&flat);
	instances_free(&nested);

	/* 255 without pixel_range 255 names the first value over 1. */
	a[strlen("{\"pixel_range\": 25")] = '6';
	ck_assert_int_eq(instances_parse(a, strlen(a), W, H, 3, &flat, &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "pixel_range");
	free(a);
	char *c = body_of(3, 0, vals, 6, NULL);
	ck_assert_int_eq(instances_parse(c, strlen(c), W, H, 3, &flat, &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "instances[0][1]");
	ck_assert(strstr(e.msg, "not 17"));
	ck_assert_ptr_null(flat.x);
	free(c);
	/* Too many: counted to the end, then refused. */
	ck_assert_int_eq(instances_parse(b, strlen(b), W, H, 2, &nested, &e), TD_ETOOBIG);
	ck_assert(strstr(e.msg, "3 instances are more than the 2"));
	free(b);
}
END_TEST

/* xorshift, for the corruptions */
static unsigned rnd(unsigned *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

START_TEST(test_fuzz)
{
	const char *vals[] = {"0", "0.25", "1", "1e-2"};
	char *b = body_of(2, _i & 1, vals, 4, "\"preprocess\": \"none\", ");
	size_t len = strlen(b);
	struct instances in;
	struct td_error e;
	/* Every proper prefix is an error. */
	for (size_t n = 0; n < len; n++) {
		char *cut = malloc(n ? n : 1); /* exactly n bytes: ASan sees any overread */
		memcpy(cut, b, n);
		int rc = instances_parse(cut, n, W, H, 4, &in, &e);
		ck_assert_msg(rc == TD_EINVAL, "prefix of %zu bytes: %d", n, rc);
		ck_assert_ptr_null(in.x);
		free(cut);
	}
	/* Random corruptions: an answer, never a crash or a leak. */
	unsigned seed = 12345u + (unsigned)_i;
	const char alphabet[] = "{}[],:\"\\-+.eE0123456789 tfnu\x01\xff";
	for (int t = 0; t < 3000; t++) {
		char *m = malloc(len);
		memcpy(m, b, len);
		int edits = 1 + (int)(rnd(&seed) % 4);
		for (int k = 0; k < edits; k++)
			m[rnd(&seed) % len] = alphabet[rnd(&seed) % (sizeof(alphabet) - 1)];
		int rc = instances_parse(m, len, W, H, 4, &in, &e);
		ck_assert(rc == 0 || rc == TD_EINVAL || rc == TD_ETOOBIG);
		if (rc == 0)
			ck_assert(in.n >= 1 && in.n <= 4);
		else
			ck_assert(e.msg[0]);
		instances_free(&in);
		free(m);
	}
	free(b);
}
END_TEST

Suite *suite_instances(void)
{
	Suite *s = suite_create("instances");
	TCase *tc = tcase_create("instances");
	tcase_add_test(tc, test_numbers_exact);
	tcase_add_test(tc, test_nested_and_range);
	tcase_add_loop_test(tc, test_fuzz, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
