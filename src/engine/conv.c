/*
 * conv.c - instantiates the convolution and pooling kernels
 * (conv_kernels.inc) in float for training and in double for the
 * gradient check, as nn.c does for the dense ones; in float, layers that
 * conv_direct_ok() accepts run their forward pass and input gradient as
 * direct convolutions (conv_direct.c) instead.
 */
#include "traind/conv.h"

#include <cblas.h>
#include <string.h>

int conv_group(const struct model_layer *L)
{
	size_t cols = (size_t)L->out_h * L->out_w * ((size_t)L->in_c * L->kernel * L->kernel);
	size_t n = cols ? CONV_COL_BUDGET / cols : CONV_GROUP;
	return n < 1 ? 1 : n > CONV_GROUP ? CONV_GROUP : (int)n;
}

/* The im2col + GEMM path's part of the scratch: a group's columns and,
 * for groups of more than one, its outputs. */
static size_t gemm_elems(const struct model_layer *L)
{
	size_t P = (size_t)L->out_h * (size_t)L->out_w, G = (size_t)conv_group(L);
	return G * P * ((size_t)L->in_c * L->kernel * L->kernel + (G > 1 ? (size_t)L->out_c : 0));
}

/* The forward pass, and the input gradient as a convolution of dout. */
static struct conv_dims dims_forward(const struct model_layer *L)
{
	return (struct conv_dims){L->in_c, L->in_h, L->in_w, L->out_c, L->kernel, L->pad};
}

static struct conv_dims dims_input_grad(const struct model_layer *L)
{
	return (struct conv_dims){L->out_c, L->out_h, L->out_w, L->in_c, L->kernel,
				  L->kernel - 1 - L->pad};
}

/* The direct path's padded inputs (the largest of the three passes'),
 * then its flipped weights; it needs no GEMM part. */
static size_t direct_pad_elems(const struct model_layer *L)
{
	struct conv_dims f = dims_forward(L), g = dims_input_grad(L);
	size_t a = conv_direct_grad_pad_elems(&f), b = conv_direct_pad_elems(&g);
	return a > b ? a : b;
}

size_t conv_col_elems(const struct model_layer *L)
{
	if (L->kind != LAYER_CONV)
		return 0;
	size_t n = gemm_elems(L), d = conv_direct_ok(L) ? direct_pad_elems(L) + L->n_w : 0;
	return n > d ? n : d;
}

/* The direct path, in float: forward sample by sample. */
static void direct_forward(const struct model_layer *L, float *out, const float *in,
			   const float *w, const float *b, int B, float *col)
{
	struct conv_dims d = dims_forward(L);
	for (int r = 0; r < B; r++)
		conv_direct_forward(&d, out + (size_t)r * L->out, in + (size_t)r * L->in, w, b, col);
}

/* din = the convolution of dout with the flipped weights, sample by sample. */
static void direct_input_grad(const struct model_layer *L, float *din, const float *dout,
			      const float *w, int B, float *col)
{
	struct conv_dims d = dims_input_grad(L);
	float *pad = col, *wt = col + direct_pad_elems(L);
	conv_direct_flip(wt, w, L->out_c, L->in_c, L->kernel);
	for (int r = 0; r < B; r++)
		conv_direct_forward(&d, din + (size_t)r * L->in, dout + (size_t)r * L->out, wt,
				    NULL, pad);
}

static void bias_grad_f(float *restrict db, const float *restrict d, size_t ld, size_t cols,
			int F); /* conv_kernels.inc's */

/* dw += the correlation of dout with the inputs; db += dout's sums, sample
 * by sample; din (unless NULL) = dout convolved with the flipped weights. */
static void direct_backward(const struct model_layer *L, float *din, float *dw, float *db,
			    const float *dout, const float *in, const float *w, int B, float *col)
{
	struct conv_dims d = dims_forward(L);
	const int P = L->out_h * L->out_w;
	for (int r = 0; r < B; r++)
		bias_grad_f(db, dout + (size_t)r * L->out, (size_t)P, (size_t)P, L->out_c);
	conv_direct_weight_grad(&d, dw, in, dout, B, col);
	if (din)
		direct_input_grad(L, din, dout, w, B, col);
}


#define R float
#define S f
#define GEMM cblas_sgemm
#define CONV_DIRECT 1
#include "conv_kernels.inc"
#undef R
#undef S
#undef GEMM
#undef CONV_DIRECT

#define R double
#define S d
#define GEMM cblas_dgemm
#define CONV_DIRECT 0
#include "conv_kernels.inc"
