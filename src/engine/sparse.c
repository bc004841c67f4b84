/*
 * sparse.c - the first layer over lit pixels only (see sparse.h), with
 * kernels per instruction-set tier (isa.h).
 *
 * sparse_kernels.inc is compiled three times: generic (4-float vectors,
 * the build's baseline: SSE2 or NEON), avx2 (8-float ymm with FMA) and
 * avx512 (16-float zmm), each with a register block sized to its register
 * file. The row gather has an AVX-512 (compress), an AVX2 (permute from a
 * table) and a portable version. Every call dispatches on isa_tier(), which
 * is fixed at start, so the order of additions is fixed by the data and
 * the tier alone.
 */
#include "traind/sparse.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "traind/isa.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <pthread.h>
#define HAVE_X86_TIERS 1
#else
#define HAVE_X86_TIERS 0
#endif

/* The kernels, once per tier (see sparse_kernels.inc for the blocking). */
#define SK_NAME(x) x##_generic
#define SK_ATTR
#define SK_VW 4
#define SK_NACC 8
#include "sparse_kernels.inc"
#undef SK_NAME
#undef SK_ATTR
#undef SK_VW
#undef SK_NACC

#if HAVE_X86_TIERS
#define SK_NAME(x) x##_avx2
#define SK_ATTR __attribute__((target("avx2,fma")))
#define SK_VW 8
#define SK_NACC 8
#include "sparse_kernels.inc"
#undef SK_NAME
#undef SK_ATTR
#undef SK_VW
#undef SK_NACC

#define SK_NAME(x) x##_avx512
#define SK_ATTR __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define SK_VW 16
#define SK_NACC 8
#include "sparse_kernels.inc"
#undef SK_NAME
#undef SK_ATTR
#undef SK_VW
#undef SK_NACC
#endif

int sparse_cols_init(struct sparse_cols *c, int cap_rows, int cols)
{
	memset(c, 0, sizeof(*c));
	if (cap_rows < 1 || cap_rows > 65535 || cols < 1)
		return -1;
	size_t cap = (size_t)cap_rows * (size_t)cols;
	c->start = malloc(sizeof(uint32_t) * ((size_t)cols + 1));
	c->row = malloc(sizeof(uint16_t) * cap);
	c->val = malloc(sizeof(float) * cap);
	c->row_start = malloc(sizeof(uint32_t) * ((size_t)cap_rows + 1));
	/* 16 entries of slack: the compress path stores whole vectors. */
	c->col = malloc(sizeof(uint16_t) * (cap + 16));
	c->row_val = malloc(sizeof(float) * (cap + 16));
	if (!c->start || !c->row || !c->val || !c->row_start || !c->col || !c->row_val) {
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
	free(c->row_start);
	free(c->col);
	free(c->row_val);
	memset(c, 0, sizeof(*c));
}

/* ---- the gather: one row's lit pixels -------------------------------- */

/* Portable: eight bytes at a time skip the dark background. */
static uint32_t gather_row_generic(const uint8_t *src, int F, uint16_t *col, float *val,
				   const float lut[256])
{
	uint32_t k = 0;
	int p = 0;
	for (; p + 8 <= F; p += 8) {
		uint64_t word;
		memcpy(&word, src + p, 8);
		if (!word)
			continue; /* a dark run: most of an image's background */
		for (int q = p; q < p + 8; q++) {
			col[k] = (uint16_t)q;
			val[k] = lut[src[q]];
			k += src[q] != 0; /* written always, kept if lit */
		}
	}
	for (; p < F; p++) {
		col[k] = (uint16_t)p;
		val[k] = lut[src[p]];
		k += src[p] != 0;
	}
	return k;
}

#if HAVE_X86_TIERS
/* The vector gathers compute (float)v / 255.0f, which is what the default
 * table holds; another table takes the generic path. */
static int lut_is_div255(const float lut[256])
{
	for (int v = 0; v < 256; v++)
		if (lut[v] != (float)v / 255.0f)
			return 0;
	return 1;
}

/* AVX-512: 16 pixels a step with compress. col and val need 16 entries of
 * slack past the row's last entry. Compress in registers, then a plain
 * store: compress-to-memory is microcoded and slow on AMD Zen 4. */
__attribute__((target("avx512f,avx512bw,avx512vl,popcnt")))
static uint32_t gather_row_avx512(const uint8_t *src, int F, uint16_t *col, float *val)
{
	const __m512 div = _mm512_set1_ps(255.0f);
	const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	uint32_t k = 0;
	int p = 0;
	for (; p + 16 <= F; p += 16) {
		__m128i bytes = _mm_loadu_si128((const __m128i *)(src + p));
		__mmask16 lit = _mm_test_epi8_mask(bytes, bytes);
		if (!lit)
			continue;
		__m512 v = _mm512_div_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes)), div);
		_mm512_storeu_ps(val + k, _mm512_maskz_compress_ps(lit, v));
		__m512i at = _mm512_maskz_compress_epi32(lit, _mm512_add_epi32(iota, _mm512_set1_epi32(p)));
		_mm256_storeu_si256((__m256i *)(col + k), _mm512_cvtepi32_epi16(at));
		k += (uint32_t)__builtin_popcount(lit);
	}
	for (; p < F; p++) {
		col[k] = (uint16_t)p;
		val[k] = (float)src[p] / 255.0f;
		k += src[p] != 0;
	}
	return k;
}

/* AVX2 has no compress: for each 8-bit mask of lit pixels, a table gives
 * the positions of its set bits, in order, as 8 bytes (filled once). */
static uint64_t compress8[256];
static pthread_once_t compress8_once = PTHREAD_ONCE_INIT;

static void compress8_fill(void)
{
	for (int m = 0; m < 256; m++) {
		uint64_t t = 0;
		int n = 0;
		for (int b = 0; b < 8; b++)
			if (m >> b & 1)
				t |= (uint64_t)b << (8 * n++);
		compress8[m] = t;
	}
}

/* AVX2: 8 pixels a step; col and val need 8 entries of slack. */
__attribute__((target("avx2,fma,popcnt")))
static uint32_t gather_row_avx2(const uint8_t *src, int F, uint16_t *col, float *val)
{
	const __m256 div = _mm256_set1_ps(255.0f);
	const __m128i zero = _mm_setzero_si128();
	uint32_t k = 0;
	int p = 0;
	for (; p + 8 <= F; p += 8) {
		__m128i bytes = _mm_loadl_epi64((const __m128i *)(const void *)(src + p));
		unsigned lit = ~(unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(bytes, zero)) & 0xff;
		if (!lit)
			continue;
		__m128i pos = _mm_cvtsi64_si128((long long)compress8[lit]);
		__m256 v = _mm256_div_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(bytes)), div);
		_mm256_storeu_ps(val + k, _mm256_permutevar8x32_ps(v, _mm256_cvtepu8_epi32(pos)));
		__m128i at = _mm_add_epi16(_mm_cvtepu8_epi16(pos), _mm_set1_epi16((short)p));
		_mm_storeu_si128((__m128i *)(void *)(col + k), at);
		k += (uint32_t)__builtin_popcount(lit);
	}
	for (; p < F; p++) {
		col[k] = (uint16_t)p;
		val[k] = (float)src[p] / 255.0f;
		k += src[p] != 0;
	}
	return k;
}
#endif

/* The rows' lit pixels (by rows) with the tier's row gather; returns nnz. */
static uint32_t gather_rows(struct sparse_cols *c, const uint8_t *x, const uint32_t *idx, int n,
			    const float lut[256])
{
	const int F = c->cols;
	enum isa_tier tier = isa_tier();
	uint32_t k = 0;
#if HAVE_X86_TIERS
	if (tier != ISA_GENERIC && !lut_is_div255(lut))
		tier = ISA_GENERIC;
	if (tier == ISA_AVX2)
		pthread_once(&compress8_once, compress8_fill);
#endif
	for (int r = 0; r < n; r++) {
		const uint8_t *src = x + (size_t)idx[r] * (size_t)F;
		c->row_start[r] = k;
		switch (tier) {
#if HAVE_X86_TIERS
		case ISA_AVX512:
			k += gather_row_avx512(src, F, c->col + k, c->row_val + k);
			break;
		case ISA_AVX2:
			k += gather_row_avx2(src, F, c->col + k, c->row_val + k);
			break;
#endif
		default:
			k += gather_row_generic(src, F, c->col + k, c->row_val + k, lut);
			break;
		}
	}
	c->row_start[n] = k;
	return k;
}

/* Bytes of w that are not 0: each byte's high bit is set by the add when
 * any of its low seven bits is, or by the or when its own high bit is. */
static inline unsigned lit_bytes(uint64_t w)
{
	const uint64_t low7 = 0x7f7f7f7f7f7f7f7fULL;
	return (unsigned)__builtin_popcountll((((w & low7) + low7) | w) & ~low7);
}

double sparse_density(const uint8_t *x, const uint32_t *idx, int n, int F)
{
	size_t lit = 0;
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

double sparse_cols_gather(struct sparse_cols *c, const uint8_t *x, const uint32_t *idx, int n,
			  const float lut[256])
{
	const int F = c->cols;
	assert(n >= 1 && n <= c->cap_rows);
	/* By rows: one pass over the bytes. */
	uint32_t k = gather_rows(c, x, idx, n, lut);
	c->nnz = k;
	/* By columns: counting sort of the entries by pixel. */
	uint32_t *start = c->start;
	memset(start, 0, sizeof(uint32_t) * ((size_t)F + 1));
	for (uint32_t e = 0; e < k; e++)
		start[c->col[e] + 1]++;
	for (int p = 0; p < F; p++)
		start[p + 1] += start[p];
	for (int r = 0; r < n; r++)
		for (uint32_t e = c->row_start[r]; e < c->row_start[r + 1]; e++) {
			uint32_t d = start[c->col[e]]++;
			c->row[d] = (uint16_t)r;
			c->val[d] = c->row_val[e];
		}
	for (int p = F; p > 0; p--)
		start[p] = start[p - 1];
	start[0] = 0;
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
