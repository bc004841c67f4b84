/*
 * conv.h - the kernels of convolution and max-pooling layers.
 *
 * Like nn.h, every function exists in float (_f, training) and double (_d,
 * the gradient check) from one source (src/engine/conv_kernels.inc).
 * Shapes come from the layer row (model.h): input in_c x in_h x in_w,
 * output out_c x out_h x out_w, window `kernel`, `stride`, zero `pad`.
 * A batch is B samples, each a (channel, row, column) row-major map.
 *
 * A convolution runs as im2col + GEMM over groups of up to CONV_GROUP
 * samples: the k*k*in_c patches of each padded input become the columns of
 * col[in_c*k*k x n*P] (P = out_h * out_w, the group's samples side by side)
 * and
 *   out[F x n*P] = W[F x in_c*k*k] . col + b
 * backward: dW += dout . col^T, db += row sums of dout, and
 *   dcol = W^T . dout, scattered back (col2im) into din.
 * `col` is the caller's buffer of conv_col_elems() values (one per worker,
 * sized once per job: a group's columns and outputs). With after_forward,
 * backward trusts that col still holds the im2col of `in` from the forward
 * pass just before when B fits one group, and does not redo it. Backward accumulates dW and db (+=) and overwrites
 * din (skipped when NULL), as the dense kernels do.
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

#define CONV_GROUP 16 /* samples per GEMM */

/* Scratch values a conv layer needs, for a group (0 for other kinds). */
size_t conv_col_elems(const struct model_layer *L);

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
