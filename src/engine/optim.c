/*
 * optim.c - SGD, momentum (PyTorch's form: v = mu v + g; w -= lr v) and
 * Adam (Kingma and Ba, with bias correction), each one loop over a slice.
 */
#include "traind/optim.h"

#include <math.h>
#include <string.h>

const char *const optimizer_names[OPT_COUNT] = {"sgd", "momentum", "adam"};
_Static_assert(OPT_ADAM + 1 == OPT_COUNT, "a name for every optimizer");

const char *optimizer_name(enum optimizer kind)
{
	return optimizer_names[kind];
}

int optim_moments(enum optimizer kind)
{
	return kind == OPT_ADAM ? 2 : kind == OPT_MOMENTUM ? 1 : 0;
}

/* g[0..n) = sum of the parts, in part order. */
static void sum_parts(float *restrict g, const float *const *parts, int n_parts, size_t n)
{
	const float *restrict p0 = parts[0];
	if (n_parts == 1) {
		memcpy(g, p0, sizeof(float) * n);
		return;
	}
	const float *restrict p1 = parts[1];
	for (size_t i = 0; i < n; i++)
		g[i] = p0[i] + p1[i];
	for (int k = 2; k < n_parts; k++) {
		const float *restrict pk = parts[k];
		for (size_t i = 0; i < n; i++)
			g[i] += pk[i];
	}
}

#define BLOCK 512 /* floats summed at a time: stays in L1 for the update */

void optim_update(const struct optim_hparams *h, float *w, const float *const *parts,
		  int n_parts, float *m, float *v, size_t n, float inv_batch, int decay, long t)
{
	float g[BLOCK];
	const float *blk[OPTIM_MAX_PARTS] = {0};
	if (n_parts < 1 || n_parts > OPTIM_MAX_PARTS)
		return;
	const float lr = h->learning_rate;
	const float l2 = decay ? h->l2 : 0.0f;
	/* Adam's bias corrections folded into the step size. */
	const float c1 = (float)(1.0 - pow(h->beta1, (double)t));
	const float c2 = (float)(1.0 - pow(h->beta2, (double)t));
	const float step = lr * sqrtf(c2) / c1;
	const float eps_hat = h->eps * sqrtf(c2);
	for (size_t at = 0; at < n; at += BLOCK) {
		size_t len = n - at < BLOCK ? n - at : BLOCK;
		for (int k = 0; k < n_parts; k++)
			blk[k] = parts[k] + at;
		sum_parts(g, blk, n_parts, len);
		float *restrict wb = w + at;
		switch (h->kind) {
		case OPT_SGD:
			for (size_t i = 0; i < len; i++)
				wb[i] -= lr * (g[i] * inv_batch + l2 * wb[i]);
			break;
		case OPT_MOMENTUM: {
			float *restrict mb = m + at;
			const float mu = h->momentum;
			for (size_t i = 0; i < len; i++) {
				mb[i] = mu * mb[i] + g[i] * inv_batch + l2 * wb[i];
				wb[i] -= lr * mb[i];
			}
			break;
		}
		case OPT_ADAM: {
			float *restrict mb = m + at, *restrict vb = v + at;
			const float b1 = h->beta1, b2 = h->beta2;
			for (size_t i = 0; i < len; i++) {
				float gi = g[i] * inv_batch + l2 * wb[i];
				mb[i] = b1 * mb[i] + (1 - b1) * gi;
				vb[i] = b2 * vb[i] + (1 - b2) * gi * gi;
				wb[i] -= step * mb[i] / (sqrtf(vb[i]) + eps_hat);
			}
			break;
		}
		}
	}
}
