/*
 * nn.h - the mathematics of the network: dense layers, activations,
 * output functions and losses, forward and backward over a batch.
 *
 * Every function exists twice from one source (src/nn_kernels.inc): with
 * suffix _f in float, the training path, and _d in double, which the
 * numerical gradient check runs - so the check verifies the very code that
 * trains, not a second copy of it. GEMMs go through CBLAS.
 *
 * Conventions: outputs first, then inputs, then sizes. A batch is B rows;
 * activations are row-major B x units. Backward functions accumulate
 * parameter gradients with += (so several calls sum) and overwrite input
 * deltas. Gradients are of the SUM of per-sample losses; the caller divides
 * by the batch size once, in the optimizer.
 */
#ifndef TRAIND_NN_H
#define TRAIND_NN_H

#include <stddef.h>
#include <stdint.h>

#include "traind/model.h"

/* Per-batch scratch: activations of every layer and two delta buffers;
 * for conv rows their im2col buffers and for pool rows their argmax (conv.h),
 * all sized once from the shape. `dinput`, NULL unless the caller points
 * it at B x sizes[0] values, receives dL/d(input) in the backward pass. */
struct nn_ws_f {
	int cap; /* rows it can hold */
	float *act[MODEL_MAX_LAYERS + 1]; /* act[0] is the input, B x sizes[0] */
	float *delta[2];                  /* B x max width, ping-pong */
	float *mem;
	float *col[MODEL_MAX_LAYERS];          /* conv rows: im2col of the last forward */
	int32_t *argmax[MODEL_MAX_LAYERS];     /* maxpool rows: B x out */
	float *dinput;
};
struct nn_ws_d {
	int cap;
	double *act[MODEL_MAX_LAYERS + 1];
	double *delta[2];
	double *mem;
	double *col[MODEL_MAX_LAYERS];
	int32_t *argmax[MODEL_MAX_LAYERS];
	double *dinput;
};

#define NN_DECLARE(R, S)                                                                   \
	int nn_ws_init_##S(struct nn_ws_##S *ws, const struct model_shape *s, int cap);   \
	void nn_ws_free_##S(struct nn_ws_##S *ws);                                         \
	/* out[B x n_out] = in[B x n_in] . w[n_in x n_out] + b[n_out] */                                     \
	void dense_forward_##S(R *out, const R *in, const R *w, const R *b, int B, int n_in,  \
			       int n_out);                                                     \
	/* dw[n_in x n_out] += in^T . dout; db[n_out] += column sums of dout;                        \
	 * din[B x n_in] = dout . w^T (skipped when din is NULL) */                           \
	void dense_backward_##S(R *din, R *dw, R *db, const R *dout, const R *in,          \
				const R *w, int B, int n_in, int n_out);                          \
	/* a = f(z), elementwise over n values (a may alias z) */                          \
	void act_forward_##S(enum activation f, R *a, const R *z, size_t n);               \
	/* dz = da * f'(z), with f'(z) written from the output a = f(z):                   \
	 * relu: [a > 0]; sigmoid: a (1 - a); tanh: 1 - a^2. dz may alias da. */           \
	void act_backward_##S(enum activation f, R *dz, const R *da, const R *a, size_t n); \
	/* p = softmax(z) row by row, stable (max subtracted first) */                     \
	void softmax_forward_##S(R *p, const R *z, int B, int C);                          \
	/* Output function, loss and its gradient on the pre-activation in one step:      \
	 * given the outputs a (after softmax or sigmoid) and labels, writes                \
	 * dz = d(sum loss)/dz and returns the loss sum; *correct += hits. */              \
	double output_loss_backward_##S(const struct model_shape *s, R *dz, const R *a,   \
					const uint8_t *labels, int B, long *correct);      \
	/* Loss sum only (evaluation). */                                                  \
	double output_loss_##S(const struct model_shape *s, const R *a,                   \
			       const uint8_t *labels, int B, long *correct);               \
	/* Forward pass: ws->act[0] holds the input; outputs land in                       \
	 * ws->act[n_layers] (probabilities). */                                           \
	void nn_forward_##S(const struct model_shape *s, const R *params,                  \
			    struct nn_ws_##S *ws, int B);                                  \
	/* The same from layer `from` on: ws->act[from] holds its input. */                \
	void nn_forward_from_##S(const struct model_shape *s, const R *params,             \
				 struct nn_ws_##S *ws, int B, int from);                   \
	/* Layer l's activation (or output function) on its z, in place. */                \
	void nn_layer_finish_##S(const struct model_shape *s, int l, R *z, int B);         \
	/* Loss and backward from the output down to layer `to` (inclusive), after a      \
	 * forward pass; *dz_to (if not NULL) receives dL/dz of layer `to`. */            \
	double nn_backward_to_##S(const struct model_shape *s, const R *params, R *grads,  \
				  struct nn_ws_##S *ws, const uint8_t *labels, int B,      \
				  long *correct, int to, R **dz_to);                       \
	/* Forward, loss and backward: grads += d(sum loss)/d(params). */                  \
	double nn_loss_grad_##S(const struct model_shape *s, const R *params, R *grads,    \
				struct nn_ws_##S *ws, const uint8_t *labels, int B,        \
				long *correct);

NN_DECLARE(float, f)
NN_DECLARE(double, d)

#undef NN_DECLARE

/* The class a model predicts from one row of outputs: argmax, or for a
 * single sigmoid output, a > 0.5. */
int nn_predicted_class_f(const float *out, int C);

#endif
