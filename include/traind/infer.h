/*
 * infer.h - the one inference path: image bytes to network inputs to
 * class probabilities. Training's evaluation, predictions and the
 * confusion matrix all go through it, so the same weights give the same
 * numbers everywhere.
 *
 * Inputs are bytes 0..255 scaled by 1/255 (infer_pixel: the only place the
 * scale is written; the trainer's lookup table is built from it).
 * Evaluation runs in blocks of INFER_BLOCK samples: the same blocks give
 * the same GEMMs, hence bit-for-bit the same outputs, whoever evaluates.
 */
#ifndef TRAIND_INFER_H
#define TRAIND_INFER_H

#include <stddef.h>
#include <stdint.h>

#include "traind/error.h"
#include "traind/model.h"
#include "traind/nn.h"

#define INFER_BLOCK 64

static inline float infer_pixel(uint8_t v)
{
	return (float)v / 255.0f;
}

/* dst[i] = infer_pixel(src[i]) for n values. */
void infer_bytes_to_inputs(const uint8_t *src, size_t n, float *dst);

/* probs[n x outputs] for float inputs x[n x inputs] in [0,1]. */
int infer_probs(const struct model_shape *s, const float *params, const float *x, int n,
		float *probs, struct td_error *e);

/* One evaluation block of n <= ws->cap byte images x[n x inputs] with
 * labels y: returns the loss sum, adds hits to *correct and, when matrix
 * is not NULL, counts matrix[truth * classes + predicted]. */
double infer_eval_block(const struct model_shape *s, const float *params, struct nn_ws_f *ws,
			const uint8_t *x, const uint8_t *y, int n, long *correct, long *matrix);

#endif
