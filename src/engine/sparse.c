/*
 * sparse.c - the first layer over lit pixels only (see sparse.h), with
 * kernels per instruction-set tier (isa.h).
 *
 * sparse_kernels.inc is compiled three times: generic (4-float vectors,
 * the build's baseline: SSE2 or NEON), avx2 (8-float ymm with FMA) and
 * avx512 (16-float zmm), each with a register block sized to its register
 * file. Every call dispatches on isa_tier(), which is fixed at start, so
 * the order of additions is fixed by the data and the tier alone (and the
 * avx2 and avx512 kernels, both FMA, add in the same order: their results
 * are the same bits).
 */
#include "traind/sparse.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "traind/isa.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(TRAIND_PORTABLE_ONLY)
#define HAVE_X86_TIERS 1
#else
#define HAVE_X86_TIERS 0
#endif

/* The kernels, once per tier (see sparse_kernels.inc for the blocking). */
#define SK_NAME(x) x##_generic
#define SK_ATTR
#define SK_VW 4
#define SK_NACC 8
#define SK_PAIR_NACC 8
#define SK_HOLD_W 0
#include "sparse_kernels.inc"
#undef SK_NAME
#undef SK_ATTR
#undef SK_VW
#undef SK_NACC
#undef SK_PAIR_NACC
#undef SK_HOLD_W

#if HAVE_X86_TIERS
#define SK_NAME(x) x##_avx2
#define SK_ATTR __attribute__((target("avx2,fma")))
#define SK_VW 8
#define SK_NACC 8
#define SK_PAIR_NACC 8
#define SK_HOLD_W 0
#include "sparse_kernels.inc"
#undef SK_NAME
#undef SK_ATTR
#undef SK_VW
#undef SK_NACC
#undef SK_PAIR_NACC
#undef SK_HOLD_W

#define SK_NAME(x) x##_avx512
#define SK_ATTR __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define SK_VW 16
#define SK_NACC 8
#define SK_PAIR_NACC 8
#define SK_HOLD_W 1
#include "sparse_kernels.inc"
#undef SK_NAME
#undef SK_ATTR
#undef SK_VW
#undef SK_NACC
#undef SK_PAIR_NACC
#undef SK_HOLD_W
#endif

int sparse_cols_init(struct sparse_cols *c, int cap_rows, int cols)
{
	memset(c, 0, sizeof(*c));
	if (cap_rows < 1 || cap_rows > 65535 || cols < 1)
		return -1;
	size_t cap = (size_t)cap_rows * (size_t)cols;
	c->start = malloc(sizeof(uint32_t) * ((size_t)cols + 1));
	/* One entry of slack: the gather writes one past the last it keeps. */
	c->row = malloc(sizeof(uint16_t) * (cap + 1));
	c->val = malloc(sizeof(float) * (cap + 1));
	c->src = malloc(sizeof(*c->src) * (size_t)cap_rows);
	if (!c->start || !c->row || !c->val || !c->src) {
		sparse_cols_free(c);
		return -1;
	}
	c->cap_rows = cap_rows;
	c->cols = cols;
	return 0;
}

void sparse_cols_free(struct sparse_cols *c)
{
	free(c->start);
	free(c->row);
	free(c->val);
	free(c->src);
	memset(c, 0, sizeof(*c));
}

/* ---- the gather -------------------------------------------------------- */

/* Bytes of w that are not 0: each byte's high bit is set by the add when
 * any of its low seven bits is, or by the or when its own high bit is. */
static inline unsigned lit_bytes(uint64_t w)
{
	const uint64_t low7 = 0x7f7f7f7f7f7f7f7fULL;
	/* The high bits moved to the bottom of their bytes, then added up by
	 * one multiply into the top byte (at most 8: no carry between bytes),
	 * rather than a popcount the baseline x86-64 has no instruction for. */
	const uint64_t ones = ((((w & low7) + low7) | w) & ~low7) >> 7;
	return (unsigned)((ones * 0x0101010101010101ULL) >> 56);
}

double sparse_density(const uint8_t *x, const uint32_t *idx, int n, int F)
{
	size_t lit = 0;
	/* The rows are scattered over the data set and this is their first
	 * touch: ask for all their lines at once rather than row by row. */
	for (int r = 0; r < n; r++)
		for (int p = 0; p < F; p += 64)
			__builtin_prefetch(x + (size_t)idx[r] * (size_t)F + p);
	for (int r = 0; r < n; r++) {
		const uint8_t *src = x + (size_t)idx[r] * (size_t)F;
		int p = 0;
		for (; p + 8 <= F; p += 8) {
			uint64_t w;
			memcpy(&w, src + p, 8);
			lit += lit_bytes(w);
		}
		for (; p < F; p++)
			lit += src[p] != 0;
	}
	return (double)lit / ((double)n * (double)F);
}

/* Straight into columns: for each pixel, the rows where it is lit, in
 * row order, appended without a branch (row and val have slack for the
 * one entry written past the last kept). Runs pixel by pixel over the
 * slot's rows, which stay in L1 (a 64-byte line of each row serves 64
 * pixels); no intermediate by-rows list and no sort. */
double sparse_cols_gather(struct sparse_cols *c, const uint8_t *x, const uint32_t *idx, int n,
			  const float lut[256])
{
	const int F = c->cols;
	assert(n >= 1 && n <= c->cap_rows);
	const uint8_t **src = c->src;
	for (int r = 0; r < n; r++)
		src[r] = x + (size_t)idx[r] * (size_t)F;
	uint32_t k = 0;
	uint32_t *restrict start = c->start;
	uint16_t *restrict row = c->row;
	float *restrict val = c->val;
	for (int p = 0; p < F; p++) {
		start[p] = k;
		for (int r = 0; r < n; r++) {
			const uint8_t v = src[r][p];
			row[k] = (uint16_t)r;
			val[k] = lut[v];
			k += v != 0; /* written always, kept if lit */
		}
	}
	start[F] = k;
	c->nnz = k;
	c->rows = n;
	return (double)k / ((double)n * (double)F);
}

/* ---- the kernels, by tier ------------------------------------------- */

void sparse_dense_forward(float *z, const struct sparse_cols *x, const float *w, const float *b,
			  int H)
{
	switch (isa_tier()) {
#if HAVE_X86_TIERS
	case ISA_AVX512:
		forward_avx512(z, x, w, b, H);
		return;
	case ISA_AVX2:
		forward_avx2(z, x, w, b, H);
		return;
#endif
	default:
		forward_generic(z, x, w, b, H);
		return;
	}
}

void sparse_dense_backward(float *dw, float *db, const float *dz, const struct sparse_cols *x,
			   int H)
{
	switch (isa_tier()) {
#if HAVE_X86_TIERS
	case ISA_AVX512:
		backward_avx512(dw, db, dz, x, H);
		return;
	case ISA_AVX2:
		backward_avx2(dw, db, dz, x, H);
		return;
#endif
	default:
		backward_generic(dw, db, dz, x, H);
		return;
	}
}

void sparse_grad_rows(float *g, int p0, int p1, const struct sparse_cols *const *x,
		      const int *row0, int S, const float *dz, int H)
{
	switch (isa_tier()) {
#if HAVE_X86_TIERS
	case ISA_AVX512:
		grad_rows_avx512(g, p0, p1, x, row0, S, dz, H);
		return;
	case ISA_AVX2:
		grad_rows_avx2(g, p0, p1, x, row0, S, dz, H);
		return;
#endif
	default:
		grad_rows_generic(g, p0, p1, x, row0, S, dz, H);
		return;
	}
}
