/*
 * check_idx.c - the IDX reader and writer: round trips through plain and
 * gzip files, and one test per kind of corrupt file, each checking the
 * error code and that the message names the file. Every fixture is built
 * here, in a temporary directory.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check_suites.h"
#include "testutil.h"
#include "traind/idx.h"

static char *dir;

static void setup(void)
{
	dir = test_tmpdir();
	ck_assert_ptr_nonnull(dir);
}

static void teardown(void)
{
	test_rmtree(dir);
	free(dir);
	dir = NULL;
}

/* Builds an IDX image in memory: header for the given dims, then
 * data_len bytes of a counting pattern (which may disagree with the dims). */
static uint8_t *make_idx(uint8_t type, int ndim, const uint32_t *dims, size_t data_len,
			 size_t *len)
{
	size_t hdr = 4 + 4 * (size_t)ndim;
	uint8_t *b = malloc(hdr + data_len + 1);
	ck_assert_ptr_nonnull(b);
	b[0] = 0;
	b[1] = 0;
	b[2] = type;
	b[3] = (uint8_t)ndim;
	for (int i = 0; i < ndim; i++) {
		b[4 + 4 * i] = (uint8_t)(dims[i] >> 24);
		b[5 + 4 * i] = (uint8_t)(dims[i] >> 16);
		b[6 + 4 * i] = (uint8_t)(dims[i] >> 8);
		b[7 + 4 * i] = (uint8_t)dims[i];
	}
	for (size_t i = 0; i < data_len; i++)
		b[hdr + i] = (uint8_t)(i * 7 + 3);
	*len = hdr + data_len;
	return b;
}

static void write_gz(const char *path, const void *buf, size_t len)
{
	gzFile gz = gzopen(path, "wb");
	ck_assert_ptr_nonnull(gz);
	ck_assert_int_eq(gzwrite(gz, buf, (unsigned)len), (int)len);
	ck_assert_int_eq(gzclose(gz), Z_OK);
}

/* Writes buf to dir/name (gzip when gz), loads it and expects code. */
static void expect_load_error(const char *name, const void *buf, size_t len, int gz,
			      size_t max_bytes, int code, const char *needle)
{
	char *path = test_path(dir, name);
	struct idx_array a;
	struct td_error err;

	td_error_clear(&err);
	if (gz)
		write_gz(path, buf, len);
	else
		ck_assert_int_eq(test_write_file(path, buf, len), 0);
	memset(&a, 0xAB, sizeof(a));
	int rc = idx_load(path, max_bytes, &a, &err);
	ck_assert_int_eq(rc, code);
	ck_assert_msg(strstr(err.msg, path) != NULL, "message does not name the file: %s",
		      err.msg);
	if (needle)
		ck_assert_msg(strstr(err.msg, needle) != NULL, "message lacks \"%s\": %s", needle,
			      err.msg);
	ck_assert_ptr_null(a.data);
	ck_assert_int_eq(a.ndim, 0);
	free(path);
}

static void check_round_trip(const char *name)
{
	const uint32_t dims[3] = {5, 3, 4};
	uint8_t data[60];
	struct idx_array a;
	struct td_error err;
	char *path = test_path(dir, name);

	for (int i = 0; i < 60; i++)
		data[i] = (uint8_t)(i * 37 + 11);
	ck_assert_int_eq(idx_write(path, 3, dims, data, &err), 0);
	ck_assert_int_eq(idx_load(path, 1 << 20, &a, &err), 0);
	ck_assert_int_eq(a.ndim, 3);
	ck_assert_uint_eq(a.dims[0], 5);
	ck_assert_uint_eq(a.dims[1], 3);
	ck_assert_uint_eq(a.dims[2], 4);
	ck_assert_uint_eq(a.count, 60);
	ck_assert_mem_eq(a.data, data, 60);
	idx_free(&a);
	ck_assert_ptr_null(a.data);
	free(path);
}

START_TEST(test_round_trip_plain)
{
	check_round_trip("plain-idx3-ubyte");
	/* The bytes on disk are exactly the big-endian header and the data. */
	char *path = test_path(dir, "plain-idx3-ubyte");
	size_t len;
	uint8_t *b = test_read_file(path, &len);
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(len, 16 + 60);
	const uint8_t hdr[16] = {0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 3, 0, 0, 0, 4};
	ck_assert_mem_eq(b, hdr, 16);
	ck_assert_uint_eq(b[16], 11);
	free(b);
	free(path);
}
END_TEST

START_TEST(test_round_trip_gz)
{
	check_round_trip("gz-idx3-ubyte.gz");
	char *path = test_path(dir, "gz-idx3-ubyte.gz");
	size_t len;
	uint8_t *b = test_read_file(path, &len);
	ck_assert_ptr_nonnull(b);
	ck_assert_msg(len > 2 && b[0] == 0x1f && b[1] == 0x8b, "a .gz name is not gzip");
	free(b);
	free(path);
}
END_TEST

START_TEST(test_gz_and_plain_same_reader)
{
	/* A gzip file without the .gz suffix and a 1-dim label file. */
	const uint32_t dims[1] = {300};
	size_t len;
	uint8_t *b = make_idx(8, 1, dims, 300, &len);
	char *path = test_path(dir, "labels-no-suffix");
	struct idx_array a;
	struct td_error err;
	write_gz(path, b, len);
	ck_assert_int_eq(idx_load(path, 1 << 20, &a, &err), 0);
	ck_assert_int_eq(a.ndim, 1);
	ck_assert_uint_eq(a.count, 300);
	ck_assert_mem_eq(a.data, b + 8, 300);
	idx_free(&a);
	free(path);
	free(b);
}
END_TEST

START_TEST(test_write_replaces_atomically)
{
	const uint32_t d1[1] = {4}, d2[1] = {2};
	const uint8_t v1[4] = {1, 2, 3, 4}, v2[2] = {9, 8};
	char *path = test_path(dir, "l.gz");
	struct idx_array a;
	struct td_error err;
	ck_assert_int_eq(idx_write(path, 1, d1, v1, &err), 0);
	ck_assert_int_eq(idx_write(path, 1, d2, v2, &err), 0);
	ck_assert_int_eq(idx_load(path, 1 << 20, &a, &err), 0);
	ck_assert_uint_eq(a.count, 2);
	ck_assert_mem_eq(a.data, v2, 2);
	idx_free(&a);
	/* No temporary file is left behind. */
	DIR *dh = opendir(dir);
	ck_assert_ptr_nonnull(dh);
	struct dirent *de;
	int files = 0;
	while ((de = readdir(dh)) != NULL)
		if (de->d_name[0] != '.')
			files++;
	closedir(dh);
	ck_assert_int_eq(files, 1);
	free(path);
}
END_TEST

START_TEST(test_write_rejects_bad_args)
{
	const uint32_t zero[2] = {3, 0}, ok[1] = {3};
	const uint8_t v[3] = {0};
	char *path = test_path(dir, "x");
	char *missing = test_path(dir, "no/such/dir/x.gz");
	struct td_error err;
	ck_assert_int_eq(idx_write(path, 0, ok, v, &err), TD_EINVAL);
	ck_assert_int_eq(idx_write(path, 5, ok, v, &err), TD_EINVAL);
	ck_assert_int_eq(idx_write(path, 2, zero, v, &err), TD_EINVAL);
	ck_assert_int_eq(idx_write(missing, 1, ok, v, &err), TD_EIO);
	ck_assert_ptr_nonnull(strstr(err.msg, missing));
	free(path);
	free(missing);
}
END_TEST

START_TEST(test_parse_memory)
{
	const uint32_t dims[2] = {2, 3};
	size_t len;
	uint8_t *b = make_idx(8, 2, dims, 6, &len);
	struct idx_array a;
	struct td_error err;
	ck_assert_int_eq(idx_parse(b, len, "mem", &a, &err), 0);
	ck_assert_int_eq(a.ndim, 2);
	ck_assert_uint_eq(a.count, 6);
	ck_assert_mem_eq(a.data, b + 12, 6);
	ck_assert_ptr_ne(a.data, b + 12);
	idx_free(&a);
	/* One byte short and one byte over, in memory. */
	ck_assert_int_eq(idx_parse(b, len - 1, "mem", &a, &err), TD_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err.msg, "truncated"));
	ck_assert_ptr_nonnull(strstr(err.msg, "mem"));
	ck_assert_ptr_null(a.data);
	b[len] = 0;
	ck_assert_int_eq(idx_parse(b, len + 1, "mem", &a, &err), TD_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err.msg, "trailing"));
	ck_assert_int_eq(idx_parse(b, 3, "mem", &a, &err), TD_EFORMAT);
	ck_assert_int_eq(idx_parse(NULL, 0, "mem", &a, &err), TD_EFORMAT);
	free(b);
}
END_TEST

START_TEST(test_bad_magic)
{
	const uint32_t dims[1] = {4};
	size_t len;
	uint8_t *b = make_idx(8, 1, dims, 4, &len);
	b[0] = 0x1f;
	expect_load_error("magic", b, len, 0, 1 << 20, TD_EFORMAT, "two zero bytes");
	b[0] = 0;
	b[1] = 1;
	expect_load_error("magic2.gz", b, len, 1, 1 << 20, TD_EFORMAT, "two zero bytes");
	free(b);
}
END_TEST

START_TEST(test_wrong_type)
{
	const uint32_t dims[1] = {8};
	size_t len;
	uint8_t *b = make_idx(0x0D, 1, dims, 8, &len);
	expect_load_error("float", b, len, 0, 1 << 20, TD_EFORMAT, "0x0d (32-bit float)");
	b[2] = 0x0B;
	expect_load_error("short.gz", b, len, 1, 1 << 20, TD_EFORMAT, "16-bit integer");
	free(b);
}
END_TEST

START_TEST(test_bad_ndim)
{
	const uint32_t dims[5] = {1, 1, 1, 1, 1};
	size_t len;
	uint8_t *b = make_idx(8, 5, dims, 1, &len);
	expect_load_error("ndim5", b, len, 0, 1 << 20, TD_EFORMAT, "5 dimensions");
	b[3] = 0;
	expect_load_error("ndim0", b, 4, 0, 1 << 20, TD_EFORMAT, "0 dimensions");
	free(b);
}
END_TEST

START_TEST(test_zero_dim)
{
	const uint32_t dims[3] = {3, 0, 28};
	size_t len;
	uint8_t *b = make_idx(8, 3, dims, 0, &len);
	expect_load_error("zero", b, len, 0, 1 << 20, TD_EFORMAT, "zero size in dimension 2");
	free(b);
}
END_TEST

START_TEST(test_truncated)
{
	const uint32_t dims[3] = {10, 28, 28};
	size_t len;
	uint8_t *b = make_idx(8, 3, dims, 7840, &len);
	/* Data cut short: expected 7856 bytes in all, the file has 7000. */
	expect_load_error("short", b, 7000, 0, 1 << 20, TD_EFORMAT,
			  "7840 data bytes (7856 in all) but the file has 7000");
	/* Cut inside the header. */
	expect_load_error("hdr", b, 10, 0, 1 << 20, TD_EFORMAT, "inside its IDX header");
	expect_load_error("tiny", b, 2, 0, 1 << 20, TD_EFORMAT, "2 bytes");
	expect_load_error("empty", b, 0, 0, 1 << 20, TD_EFORMAT, "not an IDX file");
	/* The same through gzip: a complete gzip stream of too few bytes. */
	expect_load_error("short.gz", b, 7855, 1, 1 << 20, TD_EFORMAT,
			  "but the file has 7855");
	free(b);
}
END_TEST

START_TEST(test_trailing_bytes)
{
	const uint32_t dims[2] = {4, 4};
	size_t len;
	uint8_t *b = make_idx(8, 2, dims, 19, &len);
	expect_load_error("long", b, len, 0, 1 << 20, TD_EFORMAT,
			  "16 data bytes (28 in all) but the file has 31");
	expect_load_error("long.gz", b, len, 1, 1 << 20, TD_EFORMAT, "trailing bytes");
	free(b);
}
END_TEST

START_TEST(test_gz_truncated)
{
	const uint32_t dims[3] = {20, 28, 28};
	size_t len, glen;
	uint8_t *b = make_idx(8, 3, dims, 20 * 784, &len);
	for (size_t i = 16; i < len; i++)
		b[i] = (uint8_t)((i * 2654435761u) >> 13); /* poorly compressible */
	char *full = test_path(dir, "full.gz");
	write_gz(full, b, len);
	uint8_t *g = test_read_file(full, &glen);
	ck_assert_ptr_nonnull(g);
	/* Cut the gzip file in the middle of its deflate data ... */
	expect_load_error("half.gz", g, glen / 2, 0, 1 << 20, TD_EFORMAT, "truncated");
	/* ... and cut only the 8-byte trailer: all data bytes are there. */
	expect_load_error("notrailer.gz", g, glen - 8, 0, 1 << 20, TD_EFORMAT, "truncated");
	/* A flipped byte in the deflate data or the CRC is corrupt, not valid. */
	g[glen - 6] ^= 0x55;
	expect_load_error("badcrc.gz", g, glen, 0, 1 << 20, TD_EFORMAT, NULL);
	free(g);
	free(full);
	free(b);
}
END_TEST

START_TEST(test_over_max_bytes)
{
	const uint32_t dims[3] = {10, 28, 28};
	size_t len;
	uint8_t *b = make_idx(8, 3, dims, 7840, &len);
	expect_load_error("big", b, len, 0, 7855, TD_ETOOBIG, "limit of 7855 bytes");
	expect_load_error("big.gz", b, len, 1, 4000, TD_ETOOBIG, "limit");
	/* Exactly at the limit is fine. */
	char *path = test_path(dir, "big");
	struct idx_array a;
	struct td_error err;
	ck_assert_int_eq(idx_load(path, 7856, &a, &err), 0);
	idx_free(&a);
	free(path);
	free(b);
}
END_TEST

START_TEST(test_missing_file)
{
	char *path = test_path(dir, "nonexistent.gz");
	struct idx_array a;
	struct td_error err;
	ck_assert_int_eq(idx_load(path, 1 << 20, &a, &err), TD_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(err.msg, path));
	ck_assert_int_eq(idx_load(dir, 1 << 20, &a, &err), TD_EIO);
	ck_assert_ptr_nonnull(strstr(err.msg, dir));
	free(path);
}
END_TEST

Suite *suite_idx(void)
{
	Suite *s = suite_create("idx");
	TCase *tc = tcase_create("idx");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_round_trip_plain);
	tcase_add_test(tc, test_round_trip_gz);
	tcase_add_test(tc, test_gz_and_plain_same_reader);
	tcase_add_test(tc, test_write_replaces_atomically);
	tcase_add_test(tc, test_write_rejects_bad_args);
	tcase_add_test(tc, test_parse_memory);
	tcase_add_test(tc, test_bad_magic);
	tcase_add_test(tc, test_wrong_type);
	tcase_add_test(tc, test_bad_ndim);
	tcase_add_test(tc, test_zero_dim);
	tcase_add_test(tc, test_truncated);
	tcase_add_test(tc, test_trailing_bytes);
	tcase_add_test(tc, test_gz_truncated);
	tcase_add_test(tc, test_over_max_bytes);
	tcase_add_test(tc, test_missing_file);
	suite_add_tcase(s, tc);
	return s;
}
