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
#include "traind/infer.h"
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
		double density = sparse_cols_gather(&c, x, idx, n);
		ck_assert_double_gt(density, 0.4);
		ck_assert_double_lt(density, 0.5);
		/* The masks and values hold exactly the lit pixels, and the
		 * density returned is their share. */
		uint64_t lit = 0;
		for (int i = 0; i < n * F; i++)
			lit += x[i] != 0;
		ck_assert_uint_eq(c.nnz, lit);
		ck_assert_double_eq(density, (double)lit / ((double)n * F));
		ck_assert_int_eq(c.tiles, 1);
		for (int p = 0; p < F; p++)
			for (int row = 0; row < n; row++) {
				ck_assert_int_eq((int)(c.mask[p] >> row & 1), x[row * F + p] != 0);
				ck_assert_float_eq(c.dval[(size_t)p * c.ld + row], dense_x[row * F + p]);
			}
		memset(dw1, 0x7f, sizeof(float) * F * H); /* every row must be written */
		float *zs = malloc(sizeof(float) * n * H);
		sparse_dense_forward(z1, &c, F / 2, w, b, H, zs);
		free(zs);
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

/* The batch gradient over several slots (sparse_grad_rows, what the
 * trainer's fused first layer sums): slots of 23, 70 (two tiles of 64
 * rows) and 5 samples against X^T . dz in double, on every tier, for any
 * cut of the pixel rows into chunks - each chunk's rows are the same
 * bits as the whole - and the forward on the 70-row slot too, whose two
 * halves of the pixels, each gathered alone, give its bits. */
START_TEST(test_batch_gradient_over_slots_matches_dense)
{
	const int sizes[3] = {23, 70, 5}, S = 3, B = 98, F = 789, H = widths[_i % N_WIDTHS];
	const enum isa_tier tier = (enum isa_tier)(_i / N_WIDTHS);
	if (!isa_supported(tier))
		return;
	struct td_rng r;
	rng_seed(&r, (uint64_t)_i + 100);
	uint8_t *x = malloc((size_t)B * F);
	random_bytes(x, B, F, &r);
	float *dz = malloc(sizeof(float) * B * H), *w = malloc(sizeof(float) * F * H);
	float *b = calloc((size_t)H, sizeof(float));
	double *xd = malloc(sizeof(double) * B * F), *dzd = malloc(sizeof(double) * B * H);
	double *wd = malloc(sizeof(double) * F * H), *bd = calloc((size_t)H, sizeof(double));
	double *gd = calloc((size_t)F * H, sizeof(double)), db[256] = {0};
	for (int i = 0; i < B * H; i++)
		dzd[i] = dz[i] = (float)rng_normal(&r);
	for (int i = 0; i < F * H; i++)
		wd[i] = w[i] = (float)(rng_normal(&r) * 0.05);
	for (int i = 0; i < B * F; i++)
		xd[i] = (float)x[i] / 255.0f;
	dense_backward_d(NULL, gd, db, dzd, xd, wd, B, F, H);
	enum isa_tier native = isa_tier();
	ck_assert_int_eq(isa_force(tier, NULL), 0);
	struct sparse_cols cols[3];
	const struct sparse_cols *cp[3];
	const float *dzp[3];
	uint32_t idx[98];
	for (int i = 0; i < B; i++)
		idx[i] = (uint32_t)i;
	for (int s = 0, at = 0; s < S; at += sizes[s], s++) {
		ck_assert_int_eq(sparse_cols_init(&cols[s], 70, F), 0);
		sparse_cols_gather(&cols[s], x, idx + at, sizes[s]);
		cp[s] = &cols[s];
		dzp[s] = dz + (size_t)at * H;
	}
	ck_assert_int_eq(cols[1].tiles, 2);
	float *g = malloc(sizeof(float) * F * H), *g2 = malloc(sizeof(float) * F * H);
	sparse_grad_rows(g, 0, F, cp, dzp, S, H);
	ck_assert_msg(rel_diff(g, gd, (size_t)F * H) < 1e-6, "%s H=%d", isa_tier_name(tier), H);
	for (int t = 0; t < H; t++)
		ck_assert_float_eq(g[5 * H + t], 0.0f); /* the empty column */
	/* Chunks of 16 rows, and an odd cut (3 rows, then 13 at a time). */
	for (int p0 = 0; p0 < F; p0 += 16)
		sparse_grad_rows(g2 + (size_t)p0 * H, p0, p0 + 16 < F ? p0 + 16 : F, cp, dzp, S, H);
	ck_assert_int_eq(memcmp(g, g2, sizeof(float) * F * H), 0);
	sparse_grad_rows(g2, 0, 3, cp, dzp, S, H);
	for (int p0 = 3; p0 < F; p0 += 13)
		sparse_grad_rows(g2 + (size_t)p0 * H, p0, p0 + 13 < F ? p0 + 13 : F, cp, dzp, S, H);
	ck_assert_int_eq(memcmp(g, g2, sizeof(float) * F * H), 0);
	/* The forward over the slot of two tiles. */
	float *z = malloc(sizeof(float) * 70 * H);
	double *zd = malloc(sizeof(double) * 70 * H);
	float *zs = malloc(sizeof(float) * 70 * H);
	const int P = 100 + 4 * (_i % 70); /* any cut: 100..376 */
	sparse_dense_forward(z, &cols[1], P, w, b, H, zs);
	dense_forward_d(zd, xd + (size_t)23 * F, wd, bd, 70, F, H);
	ck_assert_msg(rel_diff(z, zd, (size_t)70 * H) < 1e-6, "%s forward H=%d", isa_tier_name(tier), H);
	/* Each half of the pixels gathered alone (as two workers do) and
	 * joined by one add: the same bits as the whole. */
	{
		struct sparse_cols h0, h1;
		ck_assert_int_eq(sparse_cols_init(&h0, 70, P), 0);
		ck_assert_int_eq(sparse_cols_init(&h1, 70, F - P), 0);
		sparse_cols_gather_from(&h0, x, (size_t)F, idx + 23, 70);
		sparse_cols_gather_from(&h1, x + P, (size_t)F, idx + 23, 70);
		float *za = malloc(sizeof(float) * 70 * H), *zb = malloc(sizeof(float) * 70 * H);
		sparse_dense_forward_part(za, &h0, 0, P, w, b, H);
		sparse_dense_forward_part(zb, &h1, 0, F - P, w + (size_t)P * H, NULL, H);
		for (int i = 0; i < 70 * H; i++)
			za[i] += zb[i];
		ck_assert_int_eq(memcmp(za, z, sizeof(float) * 70 * H), 0);
		sparse_cols_free(&h0), sparse_cols_free(&h1);
		free(za), free(zb);
	}
	free(zs);
	ck_assert_int_eq(isa_force(native, NULL), 0);
	for (int s = 0; s < S; s++)
		sparse_cols_free(&cols[s]);
	free(x), free(dz), free(w), free(b), free(xd), free(dzd), free(wd), free(bd), free(gd);
	free(g), free(g2), free(z), free(zd);
}
END_TEST

/* One row's dense layer (a single-image prediction) over the nonzero
 * inputs, per tier and width: 1,100 inputs, so the list of nonzero ones
 * is made in more than one chunk, the first and last inputs nonzero, runs
 * of zeros between, against the double layer. */
START_TEST(test_one_row_matches_dense)
{
	const int n_in = 1100, H = widths[_i % N_WIDTHS];
	const enum isa_tier tier = (enum isa_tier)(_i / N_WIDTHS);
	if (!isa_supported(tier))
		return;
	const enum isa_tier native = isa_tier();
	ck_assert_int_eq(isa_force(tier, NULL), 0);
	struct td_rng r;
	rng_seed(&r, (uint64_t)_i + 7);
	float *x = malloc(sizeof(float) * n_in), *w = malloc(sizeof(float) * n_in * H);
	float *out = malloc(sizeof(float) * H), *b = malloc(sizeof(float) * H);
	double *xd = malloc(sizeof(double) * n_in), *wd = malloc(sizeof(double) * n_in * H);
	double *outd = malloc(sizeof(double) * H), *bd = malloc(sizeof(double) * H);
	for (int p = 0; p < n_in; p++) {
		int zero = (p / 37) % 3 == 1 || rng_below(&r, 2);
		x[p] = zero && p != 0 && p != n_in - 1 ? 0.0f : (float)rng_uniform(&r) * 2 - 1;
		xd[p] = x[p];
	}
	for (int i = 0; i < n_in * H; i++)
		wd[i] = w[i] = (float)rng_uniform(&r) - 0.5f;
	for (int j = 0; j < H; j++)
		bd[j] = b[j] = out[j] = (float)rng_uniform(&r);
	sparse_row_forward(out, x, w, n_in, H);
	dense_forward_d(outd, xd, wd, bd, 1, n_in, H);
	ck_assert_msg(rel_diff(out, outd, (size_t)H) < 1e-6, "%s one row H=%d: %g",
		      isa_tier_name(tier), H, rel_diff(out, outd, (size_t)H));
	/* and through the float layer, as predictions call it */
	dense_forward_f(out, x, w, b, 1, n_in, H);
	ck_assert_msg(rel_diff(out, outd, (size_t)H) < 1e-6, "%s dense_forward_f H=%d",
		      isa_tier_name(tier), H);
	ck_assert_int_eq(isa_force(native, NULL), 0);
	free(x), free(w), free(out), free(b), free(xd), free(wd), free(outd), free(bd);
}
END_TEST

/* Every byte value, gathered on every tier, is the bits of infer_pixel
 * (the scalar conversion predictions and the dense path use): the vector
 * gathers convert without a divide. 20 rows x 256 pixels, row r holding
 * the values rotated by r, so each value sits in every lane position. */
START_TEST(test_gather_is_infer_pixel_for_every_byte)
{
	const enum isa_tier tier = (enum isa_tier)_i;
	if (!isa_supported(tier))
		return;
	const enum isa_tier native = isa_tier();
	ck_assert_int_eq(isa_force(tier, NULL), 0);
	enum { N = 20, F = 256 };
	uint8_t *x = malloc((size_t)N * F);
	uint32_t idx[N];
	for (int r = 0; r < N; r++) {
		idx[r] = (uint32_t)r;
		for (int p = 0; p < F; p++)
			x[r * F + p] = (uint8_t)(p + 7 * r);
	}
	struct sparse_cols c;
	ck_assert_int_eq(sparse_cols_init(&c, N, F), 0);
	sparse_cols_gather(&c, x, idx, N);
	for (int p = 0; p < F; p++)
		for (int r = 0; r < N; r++) {
			const float want = infer_pixel(x[r * F + p]), got = c.dval[(size_t)p * c.ld + r];
			ck_assert_msg(memcmp(&want, &got, sizeof(float)) == 0,
				      "%s: byte %d gathered as %a, not %a", isa_tier_name(tier),
				      x[r * F + p], (double)got, (double)want);
		}
	sparse_cols_free(&c);
	free(x);
	ck_assert_int_eq(isa_force(native, NULL), 0);
}
END_TEST

Suite *suite_sparse(void)
{
	Suite *s = suite_create("sparse");
	TCase *tc = tcase_create("core");
	tcase_add_loop_test(tc, test_sparse_matches_dense, 0, ISA_TIERS * N_WIDTHS);
	tcase_add_loop_test(tc, test_batch_gradient_over_slots_matches_dense, 0, ISA_TIERS * N_WIDTHS);
	tcase_add_loop_test(tc, test_one_row_matches_dense, 0, ISA_TIERS * N_WIDTHS);
	tcase_add_loop_test(tc, test_gather_is_infer_pixel_for_every_byte, 0, ISA_TIERS);
	suite_add_tcase(s, tc);
	return s;
}
