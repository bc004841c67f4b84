/*
 * check_sparse.c - the first layer over lit pixels equals the dense layer
 * computed in double precision (the gradient check's reference path),
 * for widths that use every block size and tail, empty rows and columns,
 * on every instruction-set tier this CPU supports (isa_force), each
 * tier's gather and kernels.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "traind/isa.h"
#include "traind/nn.h"
#include "traind/rng.h"
#include "traind/sparse.h"

static const int widths[] = {7, 16, 32, 64, 100, 128, 130, 200, 256};

static void random_bytes(uint8_t *x, int n, int F, struct td_rng *r)
{
	for (int i = 0; i < n * F; i++)
		x[i] = rng_below(r, 2) ? (uint8_t)(1 + rng_below(r, 255)) : 0;
	memset(x, 0, (size_t)F); /* an empty row */
	for (int i = 0; i < n; i++)
		x[i * F + 5] = 0; /* an empty column */
}

/* ||a - b|| / ||b||: the float kernels against the double reference. */
static double rel_diff(const float *a, const double *b, size_t n)
{
	double num = 0, den = 0;
	for (size_t i = 0; i < n; i++) {
		num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
		den += (double)b[i] * b[i];
	}
	return den > 0 ? sqrt(num / den) : sqrt(num);
}

#define N_WIDTHS ((int)(sizeof(widths) / sizeof(widths[0])))

/* _i: tier * N_WIDTHS + width index. A tier the CPU lacks is skipped
 * (isa_force refuses it, which check_isa holds). */
START_TEST(test_sparse_matches_dense)
{
	/* F odd: the AVX-512 forward's last pixel has no pair. */
	const int n = 23, F = 789, H = widths[_i % N_WIDTHS];
	const enum isa_tier tier = (enum isa_tier)(_i / N_WIDTHS);
	if (!isa_supported(tier))
		return;
	struct td_rng r;
	rng_seed(&r, (uint64_t)_i + 1);
	uint8_t *x = malloc((size_t)n * F);
	random_bytes(x, n, F, &r);
	uint32_t idx[23];
	for (int i = 0; i < n; i++)
		idx[i] = (uint32_t)i;
	float lut[256], *dense_x = malloc(sizeof(float) * n * F);
	for (int v = 0; v < 256; v++)
		lut[v] = (float)v / 255.0f;
	for (int i = 0; i < n * F; i++)
		dense_x[i] = lut[x[i]];
	float *w = malloc(sizeof(float) * F * H), *b = malloc(sizeof(float) * H);
	float *dz = malloc(sizeof(float) * n * H);
	for (int i = 0; i < F * H; i++)
		w[i] = (float)(rng_normal(&r) * 0.05);
	for (int i = 0; i < H; i++)
		b[i] = (float)rng_normal(&r);
	for (int i = 0; i < n * H; i++)
		dz[i] = (float)rng_normal(&r);
	float *z1 = malloc(sizeof(float) * n * H), *dw1 = malloc(sizeof(float) * F * H);
	float db1[256];
	/* The reference: the same inputs, widened, through the double layer. */
	double *xd = malloc(sizeof(double) * n * F), *wd = malloc(sizeof(double) * F * H);
	double *bd = malloc(sizeof(double) * H), *dzd = malloc(sizeof(double) * n * H);
	double *z2 = malloc(sizeof(double) * n * H), *dw2 = calloc((size_t)F * H, sizeof(double));
	double db2[256] = {0};
	for (int i = 0; i < n * F; i++)
		xd[i] = dense_x[i];
	for (int i = 0; i < F * H; i++)
		wd[i] = w[i];
	for (int i = 0; i < H; i++)
		bd[i] = b[i];
	for (int i = 0; i < n * H; i++)
		dzd[i] = dz[i];
	dense_forward_d(z2, xd, wd, bd, n, F, H);
	dense_backward_d(NULL, dw2, db2, dzd, xd, wd, n, F, H);
	enum isa_tier native = isa_tier();
	ck_assert_int_eq(isa_force(tier, NULL), 0);
	{
		struct sparse_cols c;
		ck_assert_int_eq(sparse_cols_init(&c, n, F), 0);
		double density = sparse_cols_gather(&c, x, idx, n, lut);
		ck_assert_double_gt(density, 0.4);
		ck_assert_double_lt(density, 0.5);
		/* The count without the gather is the same number. */
		ck_assert_double_eq(sparse_density(x, idx, n, F), density);
		/* The columns hold exactly the lit pixels. */
		uint32_t lit = 0;
		for (int i = 0; i < n * F; i++)
			lit += x[i] != 0;
		ck_assert_uint_eq(c.nnz, lit);
		ck_assert_uint_eq(c.start[F], lit);
		for (int p = 0; p < F; p++)
			for (uint32_t k = c.start[p]; k < c.start[p + 1]; k++) {
				ck_assert_float_eq(c.val[k], dense_x[c.row[k] * F + p]);
				if (k > c.start[p]) /* rows in increasing order */
					ck_assert_uint_lt(c.row[k - 1], c.row[k]);
			}
		memset(dw1, 0x7f, sizeof(float) * F * H); /* every row must be written */
		sparse_dense_forward(z1, &c, w, b, H);
		sparse_dense_backward(dw1, db1, dz, &c, H);
		ck_assert_msg(rel_diff(z1, z2, (size_t)n * H) < 1e-6, "%s forward H=%d",
			      isa_tier_name(tier), H);
		ck_assert_msg(rel_diff(dw1, dw2, (size_t)F * H) < 1e-6, "%s backward H=%d",
			      isa_tier_name(tier), H);
		ck_assert_msg(rel_diff(db1, db2, (size_t)H) < 1e-6, "%s bias H=%d",
			      isa_tier_name(tier), H);
		for (int t = 0; t < H; t++)
			ck_assert_float_eq(dw1[5 * H + t], 0.0f); /* the empty column */
		sparse_cols_free(&c);
	}
	ck_assert_int_eq(isa_force(native, NULL), 0);
	free(x);
	free(dense_x);
	free(w);
	free(b);
	free(dz);
	free(z1);
	free(z2);
	free(dw1);
	free(dw2);
	free(xd);
	free(wd);
	free(bd);
	free(dzd);
}
END_TEST

Suite *suite_sparse(void)
{
	Suite *s = suite_create("sparse");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, test_sparse_matches_dense, 0, ISA_TIERS * N_WIDTHS);
	suite_add_tcase(s, tc);
	return s;
}
