/*
 * check_csv.c - the CSV reader: good files with and without a header,
 * CRLF line ends and trailing blank lines, plain and gzip, and one test per
 * kind of bad line, each checking that the message names the file, the
 * line and the column.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check_suites.h"
#include "testutil.h"
#include "traind/csv.h"

/* Parses text as "t.csv" with 3 pixel columns and 3 classes. */
static int parse3(const char *text, struct csv_data *d, struct td_error *e)
{
	td_error_clear(e);
	return csv_parse(text, strlen(text), "t.csv", 3, 3, d, e);
}

static void expect_bad(const char *text, const char *n1, const char *n2, const char *n3)
{
	struct csv_data d;
	struct td_error err;
	ck_assert_int_eq(parse3(text, &d, &err), TD_EFORMAT);
	ck_assert_msg(strstr(err.msg, "t.csv") != NULL, "no file name: %s", err.msg);
	const char *needles[3] = {n1, n2, n3};
	for (int i = 0; i < 3; i++)
		if (needles[i])
			ck_assert_msg(strstr(err.msg, needles[i]) != NULL,
				      "message lacks \"%s\": %s", needles[i], err.msg);
	ck_assert_ptr_null(d.images);
	ck_assert_ptr_null(d.labels);
	ck_assert_uint_eq(d.n, 0);
}

START_TEST(test_no_header)
{
	struct csv_data d;
	struct td_error err;
	ck_assert_int_eq(parse3("0,1,2,3\n2,255,0,7\n1,10,20,30\n", &d, &err), 0);
	ck_assert_uint_eq(d.n, 3);
	ck_assert_int_eq(d.features, 3);
	const uint8_t x[9] = {1, 2, 3, 255, 0, 7, 10, 20, 30}, y[3] = {0, 2, 1};
	ck_assert_mem_eq(d.images, x, 9);
	ck_assert_mem_eq(d.labels, y, 3);
	csv_free(&d);
	ck_assert_ptr_null(d.images);
}
END_TEST

START_TEST(test_header)
{
	struct csv_data d;
	struct td_error err;
	ck_assert_int_eq(parse3("label,p0,p1,p2\n1,4,5,6\n", &d, &err), 0);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_uint_eq(d.labels[0], 1);
	ck_assert_uint_eq(d.images[2], 6);
	csv_free(&d);
	/* A quoted header, and no newline at the end of the file. */
	ck_assert_int_eq(parse3("\"y\",\"a\",\"b\",\"c\"\n2,0,0,9", &d, &err), 0);
	ck_assert_uint_eq(d.n, 1);
	ck_assert_uint_eq(d.images[2], 9);
	csv_free(&d);
	/* A header only where it is the first line. */
	expect_bad("0,1,2,3\nlabel,p0,p1,p2\n", "line 2, column 1", "\"label\"", NULL);
}
END_TEST

START_TEST(test_crlf_blank_spaces)
{
	struct csv_data d;
	struct td_error err;
	ck_assert_int_eq(parse3("label,a,b,c\r\n0, 1 ,2,3\r\n1,\t4,5,6 \r\n\r\n\n", &d, &err), 0);
	ck_assert_uint_eq(d.n, 2);
	const uint8_t x[6] = {1, 2, 3, 4, 5, 6};
	ck_assert_mem_eq(d.images, x, 6);
	csv_free(&d);
	/* A UTF-8 byte order mark before the header. */
	ck_assert_int_eq(parse3("\xef\xbb\xbflabel,a,b,c\n0,1,2,3\n", &d, &err), 0);
	ck_assert_uint_eq(d.n, 1);
	csv_free(&d);
}
END_TEST

START_TEST(test_many_rows)
{
	/* Enough rows to make the arrays grow several times. */
	size_t n = 1000, cap = n * 20, len = 0;
	char *text = malloc(cap);
	ck_assert_ptr_nonnull(text);
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, cap - len, "%zu,%zu,%zu,%zu\n", i % 3,
					i % 256, (i * 7) % 256, 255 - i % 256);
	struct csv_data d;
	struct td_error err;
	ck_assert_int_eq(csv_parse(text, len, "big.csv", 3, 3, &d, &err), 0);
	ck_assert_uint_eq(d.n, n);
	for (size_t i = 0; i < n; i++) {
		ck_assert_uint_eq(d.labels[i], i % 3);
		ck_assert_uint_eq(d.images[i * 3 + 2], 255 - i % 256);
	}
	csv_free(&d);
	free(text);
}
END_TEST

START_TEST(test_value_256)
{
	expect_bad("0,1,2,3\n1,4,256,6\n", "line 2, column 3", "256 is out of range",
		   "0..255");
}
END_TEST

START_TEST(test_label_out_of_range)
{
	expect_bad("label,a,b,c\n0,1,2,3\n3,4,5,6\n", "line 3, column 1", "label 3",
		   "0..2");
}
END_TEST

START_TEST(test_missing_column)
{
	expect_bad("0,1,2,3\n1,4,5\n", "line 2, column 4", "ends", "4 columns");
	expect_bad("0,1,2,3\r\n1,4,5\r\n", "line 2, column 4", "ends", NULL);
	expect_bad("0,1,,3\n", "line 1, column 3", "empty", NULL);
	expect_bad("0,1,2,\n", "line 1, column 4", "empty", NULL);
}
END_TEST

START_TEST(test_extra_column)
{
	expect_bad("0,1,2,3,4\n", "line 1, column 5", "found more", NULL);
	expect_bad("0,1,2,3,\n", "line 1, column 5", "found more", NULL);
}
END_TEST

START_TEST(test_not_a_number)
{
	expect_bad("0,1,2,3\n1,x7,5,6\n", "line 2, column 2", "found \"x7\"", NULL);
	expect_bad("0,1,2.5,3\n", "line 1, column 3", "found \"2.5\"", NULL);
	expect_bad("0,1,-2,3\n", "line 1, column 3", "found \"-2\"", NULL);
	expect_bad("0,1,2 2,3\n", "line 1, column 3", "found \"2 2\"", NULL);
	expect_bad("0,99999999999999999999,2,3\n", "line 1, column 2", "out of range", NULL);
	expect_bad("-1,1,2,3\n", "line 1, column 1", "found \"-1\"", NULL);
}
END_TEST

START_TEST(test_blank_and_empty)
{
	expect_bad("0,1,2,3\n\n1,4,5,6\n", "line 2 is empty", NULL, NULL);
	expect_bad("", "no samples", NULL, NULL);
	expect_bad("label,a,b,c\n\n", "no samples", NULL, NULL);
	struct csv_data d;
	struct td_error err;
	/* A NUL byte is a bad character, not the end of the text. */
	const char nul[] = "0,1,2,3\n1,4,\0,6\n";
	ck_assert_int_eq(csv_parse(nul, sizeof(nul) - 1, "t.csv", 3, 3, &d, &err), TD_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err.msg, "line 2, column 3"));
}
END_TEST

START_TEST(test_bad_arguments)
{
	struct csv_data d;
	struct td_error err;
	ck_assert_int_eq(csv_parse("0,1\n", 4, "t.csv", 0, 3, &d, &err), TD_EINVAL);
	ck_assert_int_eq(csv_parse("0,1\n", 4, "t.csv", 1, 0, &d, &err), TD_EINVAL);
	ck_assert_int_eq(csv_parse("0,1\n", 4, "t.csv", 1, 257, &d, &err), TD_EINVAL);
}
END_TEST

START_TEST(test_load_plain_gz_and_limit)
{
	char *dir = test_tmpdir();
	ck_assert_ptr_nonnull(dir);
	char *plain = test_path(dir, "train.csv");
	char *gzp = test_path(dir, "train.csv.gz");
	char *missing = test_path(dir, "none.csv");
	const char *text = "label,a,b,c\n0,1,2,3\n2,4,5,6\n";
	struct csv_data d;
	struct td_error err;

	ck_assert_int_eq(test_write_file(plain, text, strlen(text)), 0);
	gzFile gz = gzopen(gzp, "wb");
	ck_assert_ptr_nonnull(gz);
	ck_assert_int_eq(gzputs(gz, text), (int)strlen(text));
	ck_assert_int_eq(gzclose(gz), Z_OK);

	ck_assert_int_eq(csv_load(plain, 1 << 20, 3, 3, &d, &err), 0);
	ck_assert_uint_eq(d.n, 2);
	csv_free(&d);
	ck_assert_int_eq(csv_load(gzp, 1 << 20, 3, 3, &d, &err), 0);
	ck_assert_uint_eq(d.n, 2);
	ck_assert_uint_eq(d.images[5], 6);
	csv_free(&d);
	/* Exactly at the limit loads; one byte under it does not. */
	ck_assert_int_eq(csv_load(gzp, strlen(text), 3, 3, &d, &err), 0);
	csv_free(&d);
	ck_assert_int_eq(csv_load(gzp, strlen(text) - 1, 3, 3, &d, &err), TD_ETOOBIG);
	ck_assert_ptr_nonnull(strstr(err.msg, gzp));
	ck_assert_int_eq(csv_load(plain, 10, 3, 3, &d, &err), TD_ETOOBIG);
	ck_assert_int_eq(csv_load(missing, 1 << 20, 3, 3, &d, &err), TD_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(err.msg, missing));
	/* Errors from a file name the file's path. */
	ck_assert_int_eq(csv_load(plain, 1 << 20, 4, 3, &d, &err), TD_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err.msg, plain));
	ck_assert_ptr_nonnull(strstr(err.msg, "line 2, column 5"));
	/* A gzip file cut short is an error, not a short read. */
	size_t glen;
	char *g = test_read_file(gzp, &glen);
	ck_assert_ptr_nonnull(g);
	ck_assert_int_eq(test_write_file(gzp, g, glen - 8), 0);
	ck_assert_int_eq(csv_load(gzp, 1 << 20, 3, 3, &d, &err), TD_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err.msg, "truncated"));
	free(g);
	free(plain);
	free(gzp);
	free(missing);
	test_rmtree(dir);
	free(dir);
}
END_TEST

Suite *suite_csv(void)
{
	Suite *s = suite_create("csv");
	TCase *tc = tcase_create("csv");
	tcase_add_test(tc, test_no_header);
	tcase_add_test(tc, test_header);
	tcase_add_test(tc, test_crlf_blank_spaces);
	tcase_add_test(tc, test_many_rows);
	tcase_add_test(tc, test_value_256);
	tcase_add_test(tc, test_label_out_of_range);
	tcase_add_test(tc, test_missing_column);
	tcase_add_test(tc, test_extra_column);
	tcase_add_test(tc, test_not_a_number);
	tcase_add_test(tc, test_blank_and_empty);
	tcase_add_test(tc, test_bad_arguments);
	tcase_add_test(tc, test_load_plain_gz_and_limit);
	suite_add_tcase(s, tc);
	return s;
}
