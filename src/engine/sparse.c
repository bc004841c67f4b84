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
#define SK_QV 2
#include "sparse_kernels.inc"
#undef SK_NAME
#undef SK_ATTR
#undef SK_VW
#undef SK_NACC
#undef SK_QV

#if HAVE_X86_TIERS
#define SK_NAME(x) x##_avx2
#define SK_ATTR __attribute__((target("avx2,fma")))
#define SK_VW 8
#define SK_NACC 8
#define SK_QV 2
#include "sparse_kernels.inc"
#undef SK_NAME
#undef SK_ATTR
#undef SK_VW
#undef SK_NACC
#undef SK_QV

#define SK_NAME(x) x##_avx512
#define SK_ATTR __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define SK_VW 16
#define SK_NACC 8
#define SK_QV 4
#include "sparse_kernels.inc"
#undef SK_NAME
#undef SK_ATTR
#undef SK_VW
#undef SK_NACC
#undef SK_QV
#endif

int sparse_cols_init(struct sparse_cols *c, int cap_rows, int cols)
{
	memset(c, 0, sizeof(*c));
	if (cap_rows < 1 || cap_rows > 65535 || cols < 1)
		return -1;
	size_t cap = (size_t)cap_rows * (size_t)cols;
	int ld = (cap_rows + 15) / 16 * 16, tiles = (cap_rows + SPARSE_TILE - 1) / SPARSE_TILE;
	c->start = malloc(sizeof(uint32_t) * ((size_t)cols + 1));
	/* Slack of 16 entries: the gathers write past the last they keep. */
	c->row = malloc(sizeof(uint16_t) * (cap + 16));
	c->val = malloc(sizeof(float) * (cap + 16));
	c->mask = malloc(sizeof(uint64_t) * (size_t)tiles * (size_t)cols);
	c->dval = aligned_alloc(64, sizeof(float) * (size_t)ld * (size_t)cols);
	c->tbuf = malloc((size_t)ld * 16);
	c->zero = calloc((size_t)cols + 16, 1);
	c->src = malloc(sizeof(*c->src) * (size_t)ld);
	if (!c->start || !c->row || !c->val || !c->mask || !c->dval || !c->tbuf || !c->zero ||
	    !c->src) {
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
	free(c->start);
	free(c->row);
	free(c->val);
	free(c->mask);
	free(c->dval);
	free(c->tbuf);
	free(c->zero);
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
 * entry written past the last kept), with the tiles' masks and values.
 * Runs pixel by pixel over the slot's rows, which stay in L1 (a 64-byte
 * line of each row serves 64 pixels); no by-rows list and no sort. */
static uint32_t gather_scalar(struct sparse_cols *c, const uint8_t *const *src, int n)
{
	const int F = c->cols, ld = c->ld;
	float lut[256];
	for (int v = 0; v < 256; v++)
		lut[v] = infer_pixel((uint8_t)v);
	uint32_t k = 0;
	uint32_t *restrict start = c->start;
	uint16_t *restrict row = c->row;
	float *restrict val = c->val;
	for (int p = 0; p < F; p++) {
		start[p] = k;
		float *restrict dv = c->dval + (size_t)p * (size_t)ld;
		for (int t = 0; t < c->tiles; t++) {
			const int r0 = t * SPARSE_TILE;
			const int r1 = n < r0 + SPARSE_TILE ? n : r0 + SPARSE_TILE;
			uint64_t m = 0;
			for (int r = r0; r < r1; r++) {
				const uint8_t v = src[r][p];
				row[k] = (uint16_t)r;
				val[k] = dv[r] = lut[v];
				m |= (uint64_t)(v != 0) << (r - r0);
				k += v != 0; /* written always, kept if lit */
			}
			c->mask[(size_t)t * (size_t)F + (size_t)p] = m;
		}
	}
	return k;
}

#if HAVE_X86_TIERS
#define AVX512_ATTR __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))

/* t[q] = byte q of each of the 16 rows a[0..15] (a 16 x 16 transpose):
 * four rounds of interleaving row k with row k + 8. */
AVX512_ATTR
static void transpose16(__m128i a[16])
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

/* The same gather, 16 rows x 16 pixels at a time: a block of bytes is
 * transposed into pixel-major order (tbuf), then each pixel's 16 rows give
 * their mask, values and (compressed) entries in a few instructions. */
AVX512_ATTR
static uint32_t gather_avx512(struct sparse_cols *c, const uint8_t *const *src, int n)
{
	const int F = c->cols, ld = c->ld, G = (n + 15) / 16;
	const __m512 scale = _mm512_set1_ps(255.0f);
	const __m512i ids0 = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	uint8_t *tb = c->tbuf;
	uint32_t k = 0;
	for (int p0 = 0; p0 < F; p0 += 16) {
		const int w = F - p0 < 16 ? F - p0 : 16;
		const __mmask16 cm = (__mmask16)((1u << w) - 1);
		for (int g = 0; g < G; g++) {
			__m128i a[16];
			for (int r = 0; r < 16; r++)
				a[r] = _mm_maskz_loadu_epi8(cm, src[g * 16 + r] + p0);
			transpose16(a);
			for (int q = 0; q < w; q++)
				_mm_storeu_si128((__m128i *)(void *)(tb + (size_t)q * (size_t)ld + 16 * g), a[q]);
		}
		for (int q = 0; q < w; q++) {
			const int p = p0 + q;
			c->start[p] = k;
			float *dv = c->dval + (size_t)p * (size_t)ld;
			for (int g = 0; g < G; g++) {
				const __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(tb + (size_t)q * (size_t)ld + 16 * g));
				const __mmask16 lit = _mm_test_epi8_mask(b, b);
				const __m512 v = _mm512_div_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(b)), scale);
				_mm512_store_ps(dv + 16 * g, v);
				uint64_t *m = &c->mask[(size_t)(g / 4) * (size_t)F + (size_t)p];
				const uint64_t bits = (uint64_t)lit << (16 * (g % 4));
				*m = g % 4 ? *m | bits : bits;
				_mm512_storeu_ps(c->val + k, _mm512_maskz_compress_ps(lit, v));
				const __m512i ids = _mm512_add_epi32(ids0, _mm512_set1_epi32(16 * g));
				_mm256_storeu_si256((__m256i *)(void *)(c->row + k),
						    _mm512_cvtepi32_epi16(_mm512_maskz_compress_epi32(lit, ids)));
				k += (uint32_t)__builtin_popcount(lit);
			}
		}
	}
	return k;
}
#undef AVX512_ATTR
#endif

double sparse_cols_gather(struct sparse_cols *c, const uint8_t *x, const uint32_t *idx, int n)
{
	const int F = c->cols;
	assert(n >= 1 && n <= c->cap_rows);
	for (int r = 0; r < n; r++)
		c->src[r] = x + (size_t)idx[r] * (size_t)F;
	/* The rows are scattered over the data set and this is their first
	 * touch: ask for all their lines at once rather than row by row. */
	for (int r = 0; r < n; r++)
		for (int p = 0; p < F; p += 64)
			__builtin_prefetch(c->src[r] + p);
	for (int r = n; r < c->ld; r++) /* a 16-row block's missing rows read as 0 */
		c->src[r] = c->zero;
	c->tiles = (n + SPARSE_TILE - 1) / SPARSE_TILE;
	uint32_t k;
#if HAVE_X86_TIERS
	if (isa_tier() == ISA_AVX512)
		k = gather_avx512(c, c->src, n);
	else
#endif
		k = gather_scalar(c, c->src, n);
	c->start[F] = k;
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
		forward4_avx512(z, x, w, b, H);
		return;
	case ISA_AVX2:
		forward4_avx2(z, x, w, b, H);
		return;
#endif
	default:
		forward4_generic(z, x, w, b, H);
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
		grad_rows4_avx512(g, p0, p1, x, dz, S, H);
		return;
	case ISA_AVX2:
		grad_rows4_avx2(g, p0, p1, x, dz, S, H);
		return;
#endif
	default:
		grad_rows4_generic(g, p0, p1, x, dz, S, H);
		return;
	}
}
