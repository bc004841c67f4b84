/*
 * conv_pool.c - the 2 x 2, stride-2 max pool of one float channel plane on
 * the avx512 tier (isa.h): 16 outputs at a time, the even and odd columns
 * of each row pair split with permutes, the window's first maximum kept by
 * masked compares in the general loop's order (conv_kernels.inc), which
 * the other tiers run.
 */
#include "traind/conv.h"

#include <stddef.h>

#include "traind/isa.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(TRAIND_PORTABLE_ONLY)
#include <immintrin.h>

#define AVX512_ATTR __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))

/* Columns 2x and 2x + 1 of a row for 16 outputs x (n of them valid). */
AVX512_ATTR static inline void pairs(const float *row, int n, __m512 *even, __m512 *odd)
{
	const __m512i ie = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
					     28, 30);
	const __m512i io = _mm512_add_epi32(ie, _mm512_set1_epi32(1));
	const int m = 2 * n; /* floats to read */
	const __mmask16 lo = m >= 16 ? 0xffff : (__mmask16)((1u << m) - 1);
	const __mmask16 hi = m > 16 ? (__mmask16)((1u << (m - 16)) - 1) : 0;
	__m512 a = _mm512_maskz_loadu_ps(lo, row), b = _mm512_maskz_loadu_ps(hi, row + 16);
	*even = _mm512_permutex2var_ps(a, ie, b);
	*odd = _mm512_permutex2var_ps(a, io, b);
}

/* m, best = v and its offset where v > m (ordered: NaN never wins). */
AVX512_ATTR static inline void keep(__m512 *m, __m512i *best, __m512 v, int off)
{
	__mmask16 k = _mm512_cmp_ps_mask(v, *m, _CMP_GT_OQ);
	*m = _mm512_mask_mov_ps(*m, k, v);
	*best = _mm512_mask_mov_epi32(*best, k, _mm512_set1_epi32(off));
}

AVX512_ATTR
static void plane_avx512(float *o, int32_t *a, const float *x, int base, int W, int oh, int ow)
{
	const __m512i twice = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
						28, 30);
	for (int y = 0; y < oh; y++) {
		const float *r0 = x + (size_t)(2 * y) * W, *r1 = r0 + W;
		for (int x0 = 0; x0 < ow; x0 += 16) {
			const int n = ow - x0 < 16 ? ow - x0 : 16;
			const __mmask16 out = (__mmask16)((1u << n) - 1);
			__m512 e0, o0, e1, o1;
			pairs(r0 + 2 * x0, n, &e0, &o0);
			pairs(r1 + 2 * x0, n, &e1, &o1);
			__m512 m = e0;
			__m512i best = _mm512_setzero_si512();
			keep(&m, &best, o0, 1);
			keep(&m, &best, e1, W);
			keep(&m, &best, o1, W + 1);
			__m512i at = _mm512_set1_epi32(base + 2 * y * W + 2 * x0);
			at = _mm512_add_epi32(_mm512_add_epi32(at, twice), best);
			_mm512_mask_storeu_ps(o + (size_t)y * ow + x0, out, m);
			_mm512_mask_storeu_epi32(a + (size_t)y * ow + x0, out, at);
		}
	}
}

int maxpool2_plane_fast(float *o, int32_t *a, const float *x, int base, int W, int oh, int ow)
{
	if (isa_tier() != ISA_AVX512)
		return 0;
	plane_avx512(o, a, x, base, W, oh, ow);
	return 1;
}
#else
int maxpool2_plane_fast(float *o, int32_t *a, const float *x, int base, int W, int oh, int ow)
{
	(void)o, (void)a, (void)x, (void)base, (void)W, (void)oh, (void)ow;
	return 0;
}
#endif
