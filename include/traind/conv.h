/*
 * conv.h - the kernels of convolution and max-pooling layers.
 *
 * Like nn.h, every function exists in float (_f, training) and double (_d,
 * the gradient check) from one source (src/engine/conv_kernels.inc).
 * Shapes come from the layer row (model.h): input in_c x in_h x in_w,
 * output out_c x out_h x out_w, window `kernel`, `stride`, zero `pad`.
 * A batch is B samples, each a (channel, row, column) row-major map.
 *
 * A convolution runs as im2col + GEMM over groups of conv_group(L)
 * samples (as many as keep the group's columns within CONV_COL_BUDGET
 * values, at most CONV_GROUP): the k*k*in_c patches of each padded input
 * become the columns of col[in_c*k*k x n*P] (P = out_h * out_w, the
 * group's samples side by side) and
 *   out[F x n*P] = W[F x in_c*k*k] . col + b
 * backward: dW += dout . col^T, db += row sums of dout, and
 *   dcol = W^T . dout, scattered back (col2im) into din.
 * In float, a stride-1 layer on the avx512 tier (conv_direct_ok) runs as
 * direct convolutions instead (conv_direct.c): the forward pass, din as
 * dout convolved with the flipped weights, and dW as the correlation of
 * dout with the input; the double path always takes im2col + GEMM.
 * `col` is the caller's buffer of conv_col_elems() values (one per worker,
 * sized once per job: a group's columns and outputs, or the direct path's
 * padded inputs and flipped weights). With after_forward, the GEMM path's
 * backward trusts that col still holds the im2col of `in` from the forward
 * pass just before when B fits one group, and does not redo it. Backward
 * accumulates dW and db (+=) and overwrites din (skipped when NULL), as the
 * dense kernels do. The order of every sum depends on the shapes and B
 * alone, so any worker computes a slot to the same bits.
 *
 * Max pooling keeps, per output value, the index of its winner within the
 * sample's input (the first maximum of the window); backward adds dout
 * there and zero elsewhere.
 */
#ifndef TRAIND_CONV_H
#define TRAIND_CONV_H

#include <stddef.h>
#include <stdint.h>

#include "traind/model.h"

#define CONV_GROUP 16 /* samples per GEMM at most */
/* A group's im2col columns, in values, at most (unless one sample's are
 * more): a group stays in the L2 cache from its im2col to its GEMMs. */
#define CONV_COL_BUDGET 65536

/* Samples per GEMM group of a conv layer: a function of its shape only. */
int conv_group(const struct model_layer *L);

/* Scratch values a conv layer needs, for a group (0 for other kinds). */
size_t conv_col_elems(const struct model_layer *L);

/* A stride-1 convolution's sizes: C x H x W in, F filters k x k, zero
 * padding p (< k); out F x (H + 2p - k + 1) x (W + 2p - k + 1). */
struct conv_dims {
	int C, H, W, F, k, p;
};

/* 1 if layer L's float forward pass and gradients run as direct
 * convolutions (conv_direct.c): stride 1, pad < kernel, the avx512 tier.
 * Elsewhere they run as im2col + GEMM. */
int conv_direct_ok(const struct model_layer *L);
/* Floats of the padded copy of the input conv_direct_forward needs. */
size_t conv_direct_pad_elems(const struct conv_dims *d);
/* out[F x oh x ow] = w[F][C][k][k] * in + b (b NULL: 0); `pad` is scratch
 * of conv_direct_pad_elems(d) floats. */
void conv_direct_forward(const struct conv_dims *d, float *out, const float *in, const float *w,
			 const float *b, float *pad);
/* Samples whose padded inputs the weight gradient holds at once. */
#define CONV_DW_CHUNK 8
/* Floats of conv_direct_weight_grad's scratch. */
size_t conv_direct_grad_pad_elems(const struct conv_dims *d);
/* dw[F][C][k][k] += the correlation of dout[B x F x oh x ow] with the B
 * inputs in[B x C x H x W], chunk by chunk of CONV_DW_CHUNK samples. */
void conv_direct_weight_grad(const struct conv_dims *d, float *dw, const float *in,
			     const float *dout, int B, float *pads);
/* wt[C][F][k][k] = w[F][C][k][k] turned by 180 degrees: the weights of the
 * input gradient as a convolution of dout with padding k - 1 - p. */
void conv_direct_flip(float *wt, const float *w, int F, int C, int k);

/* The 2 x 2, stride-2 pool of one float plane (H x W in, oh x ow out, arg
 * offset by base) on the avx512 tier (conv_pool.c), as maxpool_forward_f
 * does it: 1, or 0 having done nothing on other tiers. */
int maxpool2_plane_fast(float *o, int32_t *a, const float *x, int base, int W, int oh, int ow);

#define CONV_DECLARE(R, S)                                                                    \
	void conv_forward_##S(const struct model_layer *L, R *out, const R *in, const R *w,    \
			      const R *b, int B, R *col);                                      \
	void conv_backward_##S(const struct model_layer *L, R *din, R *dw, R *db,               \
			       const R *dout, const R *in, const R *w, int B, R *col,          \
			       int after_forward);                                             \
	void maxpool_forward_##S(const struct model_layer *L, R *out, const R *in,              \
				 int32_t *arg, int B);                                         \
	void maxpool_backward_##S(const struct model_layer *L, R *din, const R *dout,           \
				  const int32_t *arg, int B);

CONV_DECLARE(float, f)
CONV_DECLARE(double, d)

#undef CONV_DECLARE

#endif
