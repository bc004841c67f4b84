/*
 * conv_direct.c - direct stride-1 convolutions in float for the avx512
 * tier (isa.h): the forward pass, the input gradient (dout convolved with
 * the flipped weights) and the weight gradient (dout correlated with the
 * input) of conv layers, without im2col or GEMM (see conv.h).
 *
 * The input is first copied into a zero-bordered plane per channel whose
 * rows are whole 16-float vectors wide, so every load of the kernels is in
 * bounds and branch-free. Forward: a block of 8 filters x 3 output rows x
 * 16 columns lives in 24 zmm accumulators; each tap (channel, i, j) loads
 * the 3 input rows it needs and broadcasts the 8 filters' weights; each
 * output's sum runs over c, then i, then j, one FMA each. Weight gradient:
 * 4 filters x 5 taps in 20 accumulators over the rows of a chunk of
 * samples, their lanes added up once per chunk. Both orders are fixed by
 * the shapes and B alone, so every worker computes a slot to the same
 * bits. Other tiers and the double path use im2col + GEMM
 * (conv_kernels.inc); the portable loops here serve the tests there.
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
#define DW_FB 4 /* weight gradient: filters per block */
#define DW_JB 5 /* and taps of one kernel row */

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

/* dw[f][c][i][j0 + jj] += the sums over the chunk's samples and rows, at
 * columns x0..x0+15, of dout[f] x the input shifted by (i, j): filters
 * f0..f0+fb-1, taps jj < jb, each in a zmm whose 16 lanes are added up at
 * the end. dout's lanes past the row's end (mask) load as 0. */
AVX512_ATTR __attribute__((always_inline)) static inline void
dw_block(const struct conv_dims *d, float *restrict dw, const float *restrict pads,
	 const float *restrict dout, int n, int f0, int c, int i, int j0, int x0, __mmask16 mask,
	 const int fb, const int jb)
{
	const int k = d->k, pw = pad_w(d), ph = pad_h(d);
	const int oh = d->H + 2 * d->p - k + 1, ow = d->W + 2 * d->p - k + 1;
	const size_t plane = conv_direct_pad_elems(d), out = (size_t)d->F * oh * ow;
	const size_t fstride = (size_t)oh * ow;
	__m512 acc[FB][DW_JB];
	_Pragma("GCC unroll 8")
	for (int ff = 0; ff < fb; ff++)
		_Pragma("GCC unroll 8")
		for (int jj = 0; jj < jb; jj++)
			acc[ff][jj] = _mm512_setzero_ps();
	for (int r = 0; r < n; r++) {
		const float *g = dout + r * out + (size_t)f0 * fstride + x0;
		const float *row = pads + r * plane + ((size_t)c * ph + i) * pw + x0 + j0;
		for (int y = 0; y < oh; y++, g += ow, row += pw) {
			__m512 dv[FB], v[DW_JB];
			_Pragma("GCC unroll 8")
			for (int ff = 0; ff < fb; ff++)
				dv[ff] = _mm512_maskz_loadu_ps(mask, g + ff * fstride);
			_Pragma("GCC unroll 8")
			for (int jj = 0; jj < jb; jj++)
				v[jj] = _mm512_loadu_ps(row + jj);
			_Pragma("GCC unroll 8")
			for (int ff = 0; ff < fb; ff++)
				_Pragma("GCC unroll 8")
				for (int jj = 0; jj < jb; jj++)
					acc[ff][jj] = _mm512_fmadd_ps(dv[ff], v[jj], acc[ff][jj]);
		}
	}
	const size_t taps = (size_t)d->C * k * k;
	_Pragma("GCC unroll 8")
	for (int ff = 0; ff < fb; ff++)
		_Pragma("GCC unroll 8")
		for (int jj = 0; jj < jb; jj++)
			dw[(size_t)(f0 + ff) * taps + ((size_t)c * k + i) * k + j0 + jj] +=
				_mm512_reduce_add_ps(acc[ff][jj]);
}

/* One (filters, channel, row) of taps: j in blocks of DW_JB, column
 * segment by segment. */
AVX512_ATTR __attribute__((always_inline)) static inline void
dw_row(const struct conv_dims *d, float *dw, const float *pads, const float *dout, int n,
       int f0, int c, int i, const int fb)
{
	const int ow = d->W + 2 * d->p - d->k + 1;
	for (int x0 = 0; x0 < ow; x0 += DV) {
		const int m = ow - x0 < DV ? ow - x0 : DV;
		const __mmask16 mask = (__mmask16)((1u << m) - 1);
		int j = 0;
		for (; j + DW_JB <= d->k; j += DW_JB)
			dw_block(d, dw, pads, dout, n, f0, c, i, j, x0, mask, fb, DW_JB);
		switch (d->k - j) {
		case 4: dw_block(d, dw, pads, dout, n, f0, c, i, j, x0, mask, fb, 4); break;
		case 3: dw_block(d, dw, pads, dout, n, f0, c, i, j, x0, mask, fb, 3); break;
		case 2: dw_block(d, dw, pads, dout, n, f0, c, i, j, x0, mask, fb, 2); break;
		case 1: dw_block(d, dw, pads, dout, n, f0, c, i, j, x0, mask, fb, 1); break;
		default: break;
		}
	}
}

AVX512_ATTR
static void weight_grad_avx512(const struct conv_dims *d, float *dw, const float *pads,
			       const float *dout, int n)
{
	int f = 0;
	for (; f + DW_FB <= d->F; f += DW_FB)
		for (int c = 0; c < d->C; c++)
			for (int i = 0; i < d->k; i++)
				dw_row(d, dw, pads, dout, n, f, c, i, DW_FB);
	for (; f < d->F; f++)
		for (int c = 0; c < d->C; c++)
			for (int i = 0; i < d->k; i++)
				dw_row(d, dw, pads, dout, n, f, c, i, 1);
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

/* The portable weight gradient: each weight's sum over samples, rows and
 * columns in that order, in double (one sum of many terms). */
static void weight_grad_scalar(const struct conv_dims *d, float *dw, const float *pads,
			       const float *dout, int n)
{
	const int k = d->k, pw = pad_w(d), ph = pad_h(d);
	const int oh = d->H + 2 * d->p - k + 1, ow = d->W + 2 * d->p - k + 1;
	const size_t plane = conv_direct_pad_elems(d), out = (size_t)d->F * oh * ow;
	for (int f = 0; f < d->F; f++)
		for (int c = 0; c < d->C; c++)
			for (int i = 0; i < k; i++)
				for (int j = 0; j < k; j++) {
					double acc = 0;
					for (int r = 0; r < n; r++)
						for (int y = 0; y < oh; y++)
							for (int x = 0; x < ow; x++)
								acc += (double)dout[r * out + ((size_t)f * oh + y) * ow + x] *
								       pads[r * plane + ((size_t)c * ph + y + i) * pw + x + j];
					dw[((size_t)(f * d->C + c) * k + i) * k + j] += (float)acc;
				}
}

size_t conv_direct_grad_pad_elems(const struct conv_dims *d)
{
	return CONV_DW_CHUNK * conv_direct_pad_elems(d);
}

void conv_direct_weight_grad(const struct conv_dims *d, float *dw, const float *in,
			     const float *dout, int B, float *pads)
{
	const size_t plane = conv_direct_pad_elems(d);
	const size_t in_n = (size_t)d->C * d->H * d->W;
	const size_t out_n = (size_t)d->F * (d->H + 2 * d->p - d->k + 1) * (d->W + 2 * d->p - d->k + 1);
	for (int g = 0; g < B; g += CONV_DW_CHUNK) {
		const int n = B - g < CONV_DW_CHUNK ? B - g : CONV_DW_CHUNK;
		for (int r = 0; r < n; r++)
			pad_input(d, pads + r * plane, in + (size_t)(g + r) * in_n);
		const float *gd = dout + (size_t)g * out_n;
#if HAVE_X86_TIERS
		if (isa_tier() == ISA_AVX512) {
			weight_grad_avx512(d, dw, pads, gd, n);
			continue;
		}
#endif
		weight_grad_scalar(d, dw, pads, gd, n);
	}
}

void conv_direct_flip(float *restrict wt, const float *restrict w, int F, int C, int k)
{
	const int kk = k * k;
	for (int f = 0; f < F; f++)
		for (int c = 0; c < C; c++)
			for (int t = 0; t < kk; t++)
				wt[((size_t)c * F + f) * kk + (kk - 1 - t)] = w[((size_t)f * C + c) * kk + t];
}
