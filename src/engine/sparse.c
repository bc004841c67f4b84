/*
 * sparse.c - the first layer over lit pixels only (see sparse.h), with
 * kernels per instruction-set tier (isa.h).
 *
 * sparse_kernels.inc is compiled three times: generic (4-float vectors,
 * the build's baseline: SSE2 or NEON), avx2 (8-float ymm with FMA) and
 * avx512 (16-float zmm), each with a register block sized to its register
 * file. The gather that fills a slot's masks and values exists three
 * times too: a portable loop (generic, and every CPU off x86-64), 16 x 16
 * byte transposes in SSE2 with AVX2 and FMA conversions (avx2) and the
 * same with AVX-512's (avx512); all give the same masks and values. Every
 * call dispatches on isa_tier(), which is fixed at start, so
 * the order of additions is fixed by the data and the tier alone (and the
 * avx2 and avx512 kernels, both FMA, add in the same order: their results
 * are the same bits).
 */
#include "traind/sparse.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "traind/infer.h"
#include "traind/isa.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(TRAIND_PORTABLE_ONLY)
#include <immintrin.h>
#endif

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
#define SK_FP 4
#define SK_QV 2
#define SK_GP 3
#define SK_GQ 4
#include "sparse_kernels.inc"
#undef SK_NAME
#undef SK_ATTR
#undef SK_VW
#undef SK_NACC
#undef SK_QV
#undef SK_FP
#undef SK_GP
#undef SK_GQ

#if HAVE_X86_TIERS
#define SK_NAME(x) x##_avx2
#define SK_ATTR __attribute__((target("avx2,fma")))
#define SK_VW 8
#define SK_NACC 8
#define SK_FP 3
#define SK_QV 4
#define SK_GP 3
#define SK_GQ 4
#include "sparse_kernels.inc"
#undef SK_NAME
#undef SK_ATTR
#undef SK_VW
#undef SK_NACC
#undef SK_QV
#undef SK_FP
#undef SK_GP
#undef SK_GQ

#define SK_NAME(x) x##_avx512
#define SK_ATTR __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define SK_VW 16
#define SK_NACC 8
#define SK_FP 4
#define SK_QV 4
#define SK_GP 4
#define SK_GQ 4
#include "sparse_kernels.inc"
#undef SK_NAME
#undef SK_ATTR
#undef SK_VW
#undef SK_NACC
#undef SK_QV
#undef SK_FP
#undef SK_GP
#undef SK_GQ
#endif

int sparse_cols_init(struct sparse_cols *c, int cap_rows, int cols)
{
	memset(c, 0, sizeof(*c));
	if (cap_rows < 1 || cap_rows > 65535 || cols < 1)
		return -1;
	int ld = (cap_rows + 15) / 16 * 16, tiles = (cap_rows + SPARSE_TILE - 1) / SPARSE_TILE;
	c->mask = malloc(sizeof(uint64_t) * (size_t)tiles * (size_t)cols);
	c->dval = aligned_alloc(64, sizeof(float) * (size_t)ld * (size_t)cols);
	c->tbuf = malloc((size_t)ld * 16);
	c->zero = calloc((size_t)cols + 16, 1);
	c->src = malloc(sizeof(*c->src) * (size_t)ld);
	if (!c->mask || !c->dval || !c->tbuf || !c->zero || !c->src) {
		sparse_cols_free(c);
		return -1;
	}
	c->cap_rows = cap_rows;
	c->cols = cols;
	c->ld = ld;
	return 0;
}

void sparse_cols_free(struct sparse_cols *c)
{
	free(c->mask);
	free(c->dval);
	free(c->tbuf);
	free(c->zero);
	free(c->src);
	memset(c, 0, sizeof(*c));
}

/* ---- the gather -------------------------------------------------------- */

/* Bits set in m, without the popcount instruction baseline x86-64 lacks. */
static inline unsigned bits_set(uint64_t m)
{
	m = m - ((m >> 1) & 0x5555555555555555ULL);
	m = (m & 0x3333333333333333ULL) + ((m >> 2) & 0x3333333333333333ULL);
	m = (m + (m >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (unsigned)((m * 0x0101010101010101ULL) >> 56);
}

/* Pixel by pixel over the slot's rows, which stay in L1 (a 64-byte line of
 * each row serves 64 pixels): each pixel's values and the tiles' masks. */
static uint64_t gather_scalar(struct sparse_cols *c, const uint8_t *const *src, int n)
{
	const int F = c->cols, ld = c->ld;
	float lut[256];
	for (int v = 0; v < 256; v++)
		lut[v] = infer_pixel((uint8_t)v);
	uint64_t lit = 0;
	for (int p = 0; p < F; p++) {
		float *restrict dv = c->dval + (size_t)p * (size_t)ld;
		for (int t = 0; t < c->tiles; t++) {
			const int r0 = t * SPARSE_TILE;
			const int r1 = n < r0 + SPARSE_TILE ? n : r0 + SPARSE_TILE;
			uint64_t m = 0;
			for (int r = r0; r < r1; r++) {
				const uint8_t v = src[r][p];
				dv[r] = lut[v];
				m |= (uint64_t)(v != 0) << (r - r0);
			}
			c->mask[(size_t)t * (size_t)F + (size_t)p] = m;
			lit += bits_set(m);
		}
	}
	return lit;
}

#if HAVE_X86_TIERS
/* t[q] = byte q of each of the 16 rows a[0..15] (a 16 x 16 transpose):
 * four rounds of interleaving row k with row k + 8. SSE2: every tier. */
static inline __attribute__((always_inline)) void transpose16(__m128i a[16])
{
	for (int round = 0; round < 4; round++) {
		__m128i b[16];
		for (int k = 0; k < 8; k++) {
			b[2 * k] = _mm_unpacklo_epi8(a[k], a[k + 8]);
			b[2 * k + 1] = _mm_unpackhi_epi8(a[k], a[k + 8]);
		}
		memcpy(a, b, sizeof(b));
	}
}

/* Bytes p0..p0+w (w <= 16) of 16 rows, transposed into tbuf (pixel q's 16
 * rows of group g at tbuf[q * ld + 16 g]). */
static inline __attribute__((always_inline)) void
transpose_block(uint8_t *tb, int ld, const uint8_t *const *src16, int p0, int w)
{
	__m128i a[16];
	if (w == 16)
		for (int r = 0; r < 16; r++)
			a[r] = _mm_loadu_si128((const __m128i *)(const void *)(src16[r] + p0));
	else
		for (int r = 0; r < 16; r++) { /* the last, short block */
			uint8_t tmp[16] = {0};
			memcpy(tmp, src16[r] + p0, (size_t)w);
			a[r] = _mm_loadu_si128((const __m128i *)(const void *)tmp);
		}
	transpose16(a);
	for (int q = 0; q < w; q++)
		_mm_storeu_si128((__m128i *)(void *)(tb + (size_t)q * (size_t)ld), a[q]);
}

/* v / 255 for the bytes v without a divide, the same bits as infer_pixel:
 * q = v * (1/255) is one unit in the last place off for half of the
 * values; q + (v - 255 q) * (1/255), the residual exact in an FMA, puts
 * each right (check_sparse tries every byte on every tier). Vectors of
 * any width: the tier's fnmadd and fmadd. */
#define DIV255_FIX(q, v, inv, c255, fnmadd, fmadd) \
	((q) = fmadd(fnmadd((q), (c255), (v)), (inv), (q)))

#define AVX2_ATTR __attribute__((target("avx2,fma")))

/* One group of 16 rows of pixel p: its mask bits into the tile's mask, its
 * values (v / 255, as infer_pixel) into dval, eight at a time. */
AVX2_ATTR
static inline __attribute__((always_inline)) unsigned
emit_avx2(struct sparse_cols *c, const uint8_t *tb, float *dv, int p, int g)
{
	const __m128i b = _mm_loadu_si128((const __m128i *)(const void *)tb);
	const unsigned lit =
		~(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(b, _mm_setzero_si128())) & 0xffffu;
	const __m256 r = _mm256_set1_ps(1.0f / 255.0f), k = _mm256_set1_ps(255.0f);
	for (int h = 0; h < 2; h++) {
		const __m256 f = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(h ? _mm_srli_si128(b, 8) : b));
		__m256 q = _mm256_mul_ps(f, r);
		DIV255_FIX(q, f, r, k, _mm256_fnmadd_ps, _mm256_fmadd_ps);
		_mm256_store_ps(dv + 16 * g + 8 * h, q);
	}
	uint64_t *m = &c->mask[(size_t)(g / 4) * (size_t)c->cols + (size_t)p];
	const uint64_t bits = (uint64_t)lit << (16 * (g % 4));
	*m = g % 4 ? *m | bits : bits;
	return lit;
}

/* The gather 16 rows x 16 pixels at a time: a block of bytes transposed
 * into pixel-major order (SSE2), then each pixel's 16 rows give their mask
 * and values in a few instructions. */
AVX2_ATTR
static uint64_t gather_avx2(struct sparse_cols *c, const uint8_t *const *src, int n)
{
	const int F = c->cols, ld = c->ld, G = (n + 15) / 16;
	uint64_t lit = 0;
	for (int p0 = 0; p0 < F; p0 += 16) {
		const int w = F - p0 < 16 ? F - p0 : 16;
		for (int g = 0; g < G; g++)
			transpose_block(c->tbuf + 16 * g, ld, src + 16 * g, p0, w);
		for (int q = 0; q < w; q++) {
			float *dv = c->dval + (size_t)(p0 + q) * (size_t)ld;
			for (int g = 0; g < G; g++)
				lit += bits_set(emit_avx2(c, c->tbuf + (size_t)q * (size_t)ld + 16 * g,
								dv, p0 + q, g));
		}
	}
	return lit;
}
#undef AVX2_ATTR

#define AVX512_ATTR __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))

/* The same with AVX-512: the mask from one test, 16 values in one zmm. */
AVX512_ATTR
static uint64_t gather_avx512(struct sparse_cols *c, const uint8_t *const *src, int n)
{
	const int F = c->cols, ld = c->ld, G = (n + 15) / 16;
	const __m512 r = _mm512_set1_ps(1.0f / 255.0f), k = _mm512_set1_ps(255.0f);
	uint8_t *tb = c->tbuf;
	uint64_t lit = 0;
	for (int p0 = 0; p0 < F; p0 += 16) {
		const int w = F - p0 < 16 ? F - p0 : 16;
		for (int g = 0; g < G; g++)
			transpose_block(tb + 16 * g, ld, src + 16 * g, p0, w);
		for (int q = 0; q < w; q++) {
			const int p = p0 + q;
			float *dv = c->dval + (size_t)p * (size_t)ld;
			for (int g = 0; g < G; g++) {
				const __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(tb + (size_t)q * (size_t)ld + 16 * g));
				const __mmask16 m16 = _mm_test_epi8_mask(b, b);
				const __m512 f = _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b));
				__m512 v = _mm512_mul_ps(f, r);
				DIV255_FIX(v, f, r, k, _mm512_fnmadd_ps, _mm512_fmadd_ps);
				_mm512_store_ps(dv + 16 * g, v);
				uint64_t *m = &c->mask[(size_t)(g / 4) * (size_t)F + (size_t)p];
				const uint64_t bits = (uint64_t)m16 << (16 * (g % 4));
				*m = g % 4 ? *m | bits : bits;
				lit += bits_set(m16);
			}
		}
	}
	return lit;
}
#undef AVX512_ATTR
#undef DIV255_FIX
#endif

double sparse_cols_gather(struct sparse_cols *c, const uint8_t *x, const uint32_t *idx, int n)
{
	return sparse_cols_gather_from(c, x, (size_t)c->cols, idx, n);
}

double sparse_cols_gather_from(struct sparse_cols *c, const uint8_t *x, size_t stride,
			       const uint32_t *idx, int n)
{
	const int F = c->cols;
	assert(n >= 1 && n <= c->cap_rows && stride >= (size_t)F);
	for (int r = 0; r < n; r++)
		c->src[r] = x + (size_t)idx[r] * stride;
	/* The rows are scattered over the data set and this is their first
	 * touch: ask for all their lines at once rather than row by row. */
	for (int r = 0; r < n; r++)
		for (int p = 0; p < F; p += 64)
			__builtin_prefetch(c->src[r] + p);
	for (int r = n; r < c->ld; r++) /* a 16-row block's missing rows read as 0 */
		c->src[r] = c->zero;
	c->tiles = (n + SPARSE_TILE - 1) / SPARSE_TILE;
	/* generic: the portable loop (the code aarch64 runs, tested here too) */
	switch (isa_tier()) {
#if HAVE_X86_TIERS
	case ISA_AVX512:
		c->nnz = gather_avx512(c, c->src, n);
		break;
	case ISA_AVX2:
		c->nnz = gather_avx2(c, c->src, n);
		break;
#endif
	default:
		c->nnz = gather_scalar(c, c->src, n);
		break;
	}
	c->rows = n;
	return (double)c->nnz / ((double)n * (double)F);
}

/* ---- the kernels, by tier ------------------------------------------- */

void sparse_dense_forward_part(float *z, const struct sparse_cols *x, int p0, int p1,
			       const float *w, const float *b, int H)
{
	assert(0 <= p0 && p0 <= p1 && p1 <= x->cols);
	switch (isa_tier()) {
#if HAVE_X86_TIERS
	case ISA_AVX512:
		forward_pixels_avx512(z, x, p0, p1, w, b, H);
		return;
	case ISA_AVX2:
		forward_pixels_avx2(z, x, p0, p1, w, b, H);
		return;
#endif
	default:
		forward_pixels_generic(z, x, p0, p1, w, b, H);
		return;
	}
}

void sparse_dense_forward(float *z, const struct sparse_cols *x, int P, const float *w,
			  const float *b, int H, float *scratch)
{
	const int F = x->cols;
	sparse_dense_forward_part(z, x, 0, P, w, b, H);
	sparse_dense_forward_part(scratch, x, P, F, w, NULL, H);
	const size_t n = (size_t)x->rows * (size_t)H;
	for (size_t i = 0; i < n; i++)
		z[i] += scratch[i];
}

int sparse_col_block(void)
{
	switch (isa_tier()) {
#if HAVE_X86_TIERS
	case ISA_AVX512:
		return col_block_avx512();
	case ISA_AVX2:
		return col_block_avx2();
#endif
	default:
		return col_block_generic();
	}
}

void sparse_row_forward(float *out, const float *x, const float *w, int n_in, int n_out)
{
	switch (isa_tier()) {
#if HAVE_X86_TIERS
	case ISA_AVX512:
		row_forward_avx512(out, x, w, n_in, n_out);
		return;
	case ISA_AVX2:
		row_forward_avx2(out, x, w, n_in, n_out);
		return;
#endif
	default:
		row_forward_generic(out, x, w, n_in, n_out);
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
		      const float *const *dz, int S, int H)
{
	switch (isa_tier()) {
#if HAVE_X86_TIERS
	case ISA_AVX512:
		grad_rows_avx512(g, p0, p1, x, dz, S, H);
		return;
	case ISA_AVX2:
		grad_rows_avx2(g, p0, p1, x, dz, S, H);
		return;
#endif
	default:
		grad_rows_generic(g, p0, p1, x, dz, S, H);
		return;
	}
}
