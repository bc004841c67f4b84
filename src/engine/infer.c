/*
 * infer.c - the one inference path from image bytes to probabilities
 * (see infer.h): evaluation blocks, predictions and confusion counts.
 */
#include "traind/infer.h"

#include <string.h>

void infer_bytes_to_inputs(const uint8_t *src, size_t n, float *dst)
{
	for (size_t i = 0; i < n; i++)
		dst[i] = infer_pixel(src[i]);
}

int infer_probs(const struct model_shape *s, const float *params, const float *x, int n,
		float *probs, struct td_error *e)
{
	struct nn_ws_f ws;
	if (n < 1)
		return td_errorf(e, TD_EINVAL, "instances", "instances must not be empty");
	if (nn_ws_init_f(&ws, s, n))
		return td_errorf(e, TD_ENOMEM, "instances", "out of memory for %d instances", n);
	memcpy(ws.act[0], x, sizeof(float) * (size_t)n * (size_t)s->sizes[0]);
	nn_forward_f(s, params, &ws, n);
	int L = s->n_layers;
	memcpy(probs, ws.act[L], sizeof(float) * (size_t)n * (size_t)s->sizes[L]);
	nn_ws_free_f(&ws);
	return 0;
}

double infer_eval_block(const struct model_shape *s, const float *params, struct nn_ws_f *ws,
			const uint8_t *x, const uint8_t *y, int n, long *correct, long *matrix)
{
	infer_bytes_to_inputs(x, (size_t)n * (size_t)s->sizes[0], ws->act[0]);
	nn_forward_f(s, params, ws, n);
	const float *out = ws->act[s->n_layers]; /* [n x units] */
	double loss = output_loss_f(s, out, y, n, correct);
	if (matrix) {
		int units = s->sizes[s->n_layers], C = model_classes(s);
		for (int r = 0; r < n; r++) {
			int guess = nn_predicted_class_f(out + (size_t)r * (size_t)units, units);
			matrix[(size_t)y[r] * (size_t)C + (size_t)guess]++;
		}
	}
	return loss;
}
