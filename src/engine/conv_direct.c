/*
 * conv_direct.c - a direct stride-1 convolution in float for the avx512
 * tier (isa.h): the forward pass and, on flipped weights, the input
 * gradient of conv layers, without im2col (see conv.h).
 *
 * The input is first copied into a zero-bordered plane per channel whose
 * rows are whole 16-float vectors wide, so every load of the kernel is in
 * bounds and branch-free. A block of 8 filters x 3 output rows x 16
 * columns lives in 24 zmm accumulators; each tap (channel, i, j) loads the
 * 3 input rows it needs and broadcasts the 8 filters' weights. The sum of
 * each output runs over c, then i, then j, one FMA each: fixed by the
 * shapes alone, so every worker computes a slot to the same bits.
 * Other tiers and the double path use im2col + GEMM (conv_kernels.inc).
 */
#include "traind/conv.h"

#include <math.h>
#include <string.h>

#include "traind/isa.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(TRAIND_PORTABLE_ONLY)
#define HAVE_X86_TIERS 1
#include <immintrin.h>
#else
#define HAVE_X86_TIERS 0
#endif

#define DV 16 /* floats per vector */
#define FB 8  /* filters per block */
#define YB 3  /* output rows per block */

static int segs_of(int ow)
{
	return (ow + DV - 1) / DV;
}

/* The padded plane: rows of pw floats, ph rows per channel. */
static int pad_w(const struct conv_dims *d)
{
	return segs_of(d->W + 2 * d->p - d->k + 1) * DV + d->k - 1;
}

static int pad_h(const struct conv_dims *d)
{
	return d->H + 2 * d->p;
}

size_t conv_direct_pad_elems(const struct conv_dims *d)
{
	return (size_t)d->C * (size_t)pad_h(d) * (size_t)pad_w(d);
}

int conv_direct_ok(const struct model_layer *L)
{
#if HAVE_X86_TIERS
	return L->kind == LAYER_CONV && L->stride == 1 && L->pad < L->kernel &&
	       isa_tier() == ISA_AVX512;
#else
	(void)L;
	return 0;
#endif
}

/* pad[c][p + y][p + x] = in[c][y][x], 0 on the border and to the row's end. */
static void pad_input(const struct conv_dims *d, float *restrict pad, const float *restrict in)
{
	const int pw = pad_w(d), ph = pad_h(d);
	memset(pad, 0, sizeof(float) * conv_direct_pad_elems(d));
	for (int c = 0; c < d->C; c++)
		for (int y = 0; y < d->H; y++)
			memcpy(pad + ((size_t)c * ph + d->p + y) * pw + d->p,
			       in + ((size_t)c * d->H + y) * d->W, sizeof(float) * d->W);
}

#if HAVE_X86_TIERS
#define AVX512_ATTR __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))

/* One block: filters f0..f0+fb-1, rows y0..y0+yb-1, columns x0..x0+15
 * (the last `mask` lanes of a short segment are not stored). fb and yb
 * are constants at each call, so the accumulators stay in registers. */
AVX512_ATTR __attribute__((always_inline)) static inline void
block(const struct conv_dims *d, float *restrict out, const float *restrict pad,
      const float *restrict w, const float *restrict b, int f0, int y0, int x0, __mmask16 mask,
      const int fb, const int yb)
{
	const int k = d->k, pw = pad_w(d), ph = pad_h(d);
	const int oh = d->H + 2 * d->p - k + 1, ow = d->W + 2 * d->p - k + 1;
	const size_t taps = (size_t)d->C * k * k;
	__m512 acc[FB][YB];
	for (int ff = 0; ff < fb; ff++)
		for (int yy = 0; yy < yb; yy++)
			acc[ff][yy] = _mm512_set1_ps(b ? b[f0 + ff] : 0.0f);
	const float *wf = w + (size_t)f0 * taps;
	for (int c = 0; c < d->C; c++)
		for (int i = 0; i < k; i++) {
			const float *row = pad + ((size_t)c * ph + y0 + i) * pw + x0;
			const float *wt = wf + ((size_t)c * k + i) * k;
			for (int j = 0; j < k; j++) {
				__m512 v[YB];
				for (int yy = 0; yy < yb; yy++)
					v[yy] = _mm512_loadu_ps(row + (size_t)yy * pw + j);
				for (int ff = 0; ff < fb; ff++) {
					__m512 wv = _mm512_set1_ps(wt[(size_t)ff * taps + j]);
					for (int yy = 0; yy < yb; yy++)
						acc[ff][yy] = _mm512_fmadd_ps(wv, v[yy], acc[ff][yy]);
				}
			}
		}
	for (int ff = 0; ff < fb; ff++)
		for (int yy = 0; yy < yb; yy++)
			_mm512_mask_storeu_ps(out + ((size_t)(f0 + ff) * oh + y0 + yy) * ow + x0, mask,
					      acc[ff][yy]);
}

/* All rows of filters f0.. (fb of them) for one column segment. */
AVX512_ATTR __attribute__((always_inline)) static inline void
filters(const struct conv_dims *d, float *out, const float *pad, const float *w, const float *b,
	int f0, int x0, __mmask16 mask, const int fb)
{
	const int oh = d->H + 2 * d->p - d->k + 1;
	int y = 0;
	for (; y + YB <= oh; y += YB)
		block(d, out, pad, w, b, f0, y, x0, mask, fb, YB);
	if (oh - y == 2)
		block(d, out, pad, w, b, f0, y, x0, mask, fb, 2);
	else if (oh - y == 1)
		block(d, out, pad, w, b, f0, y, x0, mask, fb, 1);
}

AVX512_ATTR
static void forward_avx512(const struct conv_dims *d, float *out, const float *pad,
			   const float *w, const float *b)
{
	const int ow = d->W + 2 * d->p - d->k + 1;
	for (int s = 0; s < segs_of(ow); s++) {
		const int x0 = s * DV, n = ow - x0 < DV ? ow - x0 : DV;
		const __mmask16 mask = (__mmask16)((1u << n) - 1);
		int f = 0;
		for (; f + FB <= d->F; f += FB)
			filters(d, out, pad, w, b, f, x0, mask, FB);
		for (; f < d->F; f++)
			filters(d, out, pad, w, b, f, x0, mask, 1);
	}
}
#endif

/* The same sums in the same order, one output at a time: the kernel of
 * the tiers without one of their own (where conv_direct_ok is 0, so it
 * only runs when called directly, as the tests do). */
static void forward_scalar(const struct conv_dims *d, float *out, const float *pad,
			   const float *w, const float *b)
{
	const int k = d->k, pw = pad_w(d), ph = pad_h(d);
	const int oh = d->H + 2 * d->p - k + 1, ow = d->W + 2 * d->p - k + 1;
	for (int f = 0; f < d->F; f++)
		for (int y = 0; y < oh; y++)
			for (int x = 0; x < ow; x++) {
				float acc = b ? b[f] : 0.0f;
				const float *wf = w + (size_t)f * d->C * k * k;
				for (int c = 0; c < d->C; c++)
					for (int i = 0; i < k; i++)
						for (int j = 0; j < k; j++)
							acc = fmaf(wf[(c * k + i) * k + j],
								   pad[((size_t)c * ph + y + i) * pw + x + j],
								   acc);
				out[((size_t)f * oh + y) * ow + x] = acc;
			}
}

void conv_direct_forward(const struct conv_dims *d, float *out, const float *in, const float *w,
			 const float *b, float *pad)
{
	pad_input(d, pad, in);
#if HAVE_X86_TIERS
	if (isa_tier() == ISA_AVX512) {
		forward_avx512(d, out, pad, w, b);
		return;
	}
#endif
	forward_scalar(d, out, pad, w, b);
}

void conv_direct_flip(float *restrict wt, const float *restrict w, int F, int C, int k)
{
	const int kk = k * k;
	for (int f = 0; f < F; f++)
		for (int c = 0; c < C; c++)
			for (int t = 0; t < kk; t++)
				wt[((size_t)c * F + f) * kk + (kk - 1 - t)] = w[((size_t)f * C + c) * kk + t];
}
