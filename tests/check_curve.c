/*
 * check_curve.c - the loss curve: bounded and evenly thinned with the
 * newest point kept, the cursor's selection, and curve.bin - version 2
 * round-trips and catches damage by its CRC-32, version 1 still reads.
 */
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "traind/byteorder.h"
#include "traind/curve.h"

START_TEST(test_thinning_keeps_the_bound_and_the_newest)
{
	struct curve c;
	ck_assert_int_eq(curve_init(&c, 16), 0);
	for (long s = 1; s <= 1000; s++) {
		curve_add(&c, s, (double)s, 1.0 / (double)s);
		ck_assert_uint_le(c.n, 16);
		ck_assert_int_eq(c.points[c.n - 1].step, s);
	}
	/* Evenly spread over the whole run: the first point survives and
	 * gaps never exceed twice the stride. */
	ck_assert_int_eq(c.points[0].step, 1);
	for (size_t i = 1; i + 1 < c.n; i++)
		ck_assert_int_le(c.points[i].step - c.points[i - 1].step, 2 * c.stride);
	ck_assert_int_eq(curve_next_step(&c), 1001);
	curve_free(&c);
}
END_TEST

START_TEST(test_select_from_a_cursor_thins_to_max)
{
	struct curve c;
	ck_assert_int_eq(curve_init(&c, 100), 0);
	for (long s = 1; s <= 50; s++)
		curve_add(&c, s, 0, 0);
	struct curve_point out[100];
	ck_assert_uint_eq(curve_select(&c, 41, 100, out), 10);
	ck_assert_int_eq(out[0].step, 41);
	ck_assert_uint_eq(curve_select(&c, 1, 5, out), 5);
	ck_assert_int_eq(out[0].step, 1);
	ck_assert_int_eq(out[4].step, 50);
	ck_assert_uint_eq(curve_select(&c, 51, 5, out), 0);
	ck_assert_uint_eq(curve_select(&c, 1, 1, out), 1);
	ck_assert_int_eq(out[0].step, 50); /* one point: the newest */
	curve_free(&c);
}
END_TEST

START_TEST(test_file_round_trips_and_detects_damage)
{
	struct curve c, d;
	ck_assert_int_eq(curve_init(&c, 64), 0);
	for (long s = 1; s <= 40; s++)
		curve_add(&c, s, 1.7e9 + (double)s, 2.0 / (double)s);
	uint8_t *buf;
	size_t len;
	ck_assert_int_eq(curve_encode(&c, &buf, &len, NULL), 0);
	ck_assert_int_eq(memcmp(buf, "TRDCURVE", 8), 0);
	ck_assert_uint_eq(td_get_le32(buf + 12), 2); /* version */
	ck_assert_int_eq(curve_init(&d, 64), 0);
	ck_assert_int_eq(curve_decode(&d, buf, len, 1000, NULL), 0);
	ck_assert_uint_eq(d.n, c.n);
	for (size_t i = 0; i < c.n; i++) {
		ck_assert_int_eq(d.points[i].step, c.points[i].step);
		ck_assert_double_eq(d.points[i].time, c.points[i].time);
		ck_assert_float_eq(d.points[i].loss, c.points[i].loss);
	}
	curve_free(&d);
	/* Only the points up to max_step. */
	ck_assert_int_eq(curve_init(&d, 64), 0);
	ck_assert_int_eq(curve_decode(&d, buf, len, 10, NULL), 0);
	ck_assert_uint_eq(d.n, 10);
	curve_free(&d);
	/* One flipped bit anywhere is caught. */
	struct td_error e;
	buf[len / 2] ^= 4;
	ck_assert_int_eq(curve_init(&d, 64), 0);
	ck_assert_int_eq(curve_decode(&d, buf, len, 1000, &e), TD_EFORMAT);
	ck_assert_ptr_nonnull(strstr(e.msg, "CRC-32"));
	ck_assert_uint_eq(d.n, 0);
	/* A cut file is caught before the checksum. */
	buf[len / 2] ^= 4;
	ck_assert_int_eq(curve_decode(&d, buf, len - 3, 1000, &e), TD_EFORMAT);
	curve_free(&d);
	free(buf);
	curve_free(&c);
}
END_TEST

/* A version-1 file, as an earlier traind wrote it: magic, u32 count,
 * (i64 step, f64 time, f32 loss) each, no checksum. */
START_TEST(test_version_1_files_still_read)
{
	uint8_t b[12 + 20 * 3];
	memcpy(b, "TRDCURVE", 8);
	td_put_le32(b + 8, 3);
	for (int i = 0; i < 3; i++) {
		td_put_le(b + 12 + 20 * i, (uint64_t)(10 * (i + 1)), 8);
		td_put_lef64(b + 12 + 20 * i + 8, 100.5 + i);
		td_put_lef32(b + 12 + 20 * i + 16, 0.25f * (float)(i + 1));
	}
	struct curve d;
	ck_assert_int_eq(curve_init(&d, 16), 0);
	ck_assert_int_eq(curve_decode(&d, b, sizeof(b), 1000, NULL), 0);
	ck_assert_uint_eq(d.n, 3);
	ck_assert_int_eq(d.points[2].step, 30);
	ck_assert_double_eq(d.points[1].time, 101.5);
	ck_assert_float_eq(d.points[2].loss, 0.75f);
	struct td_error e;
	ck_assert_int_eq(curve_decode(&d, b, sizeof(b) - 1, 1000, &e), TD_EFORMAT);
	ck_assert_int_eq(curve_decode(&d, (const uint8_t *)"NOTACURVEFILE", 13, 1000, &e),
			 TD_EFORMAT);
	curve_free(&d);
}
END_TEST

Suite *suite_curve(void)
{
	Suite *s = suite_create("curve");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_thinning_keeps_the_bound_and_the_newest);
	tcase_add_test(tc, test_select_from_a_cursor_thins_to_max);
	tcase_add_test(tc, test_file_round_trips_and_detects_damage);
	tcase_add_test(tc, test_version_1_files_still_read);
	suite_add_tcase(s, tc);
	return s;
}
