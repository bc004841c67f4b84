/*
 * optim.c - SGD, momentum (PyTorch's form: v = mu v + g; w -= lr v) and
 * Adam (Kingma and Ba, with bias correction), each one loop over a slice.
 */
#include "traind/optim.h"

#include <math.h>

static const char *const optimizer_names[] = {"sgd", "momentum", "adam"};

const char *optimizer_name(enum optimizer kind)
{
	return optimizer_names[kind];
}

int optim_moments(enum optimizer kind)
{
	return kind == OPT_ADAM ? 2 : kind == OPT_MOMENTUM ? 1 : 0;
}

void optim_update(const struct optim_hparams *h, float *w, const float *grad_sum, float *m,
		  float *v, size_t n, float inv_batch, int decay, long t)
{
	const float lr = h->learning_rate;
	const float l2 = decay ? h->l2 : 0.0f;
	switch (h->kind) {
	case OPT_SGD:
		for (size_t i = 0; i < n; i++)
			w[i] -= lr * (grad_sum[i] * inv_batch + l2 * w[i]);
		break;
	case OPT_MOMENTUM: {
		const float mu = h->momentum;
		for (size_t i = 0; i < n; i++) {
			m[i] = mu * m[i] + grad_sum[i] * inv_batch + l2 * w[i];
			w[i] -= lr * m[i];
		}
		break;
	}
	case OPT_ADAM: {
		const float b1 = h->beta1, b2 = h->beta2, eps = h->eps;
		/* Bias corrections folded into the step size. */
		const float c1 = (float)(1.0 - pow(b1, (double)t));
		const float c2 = (float)(1.0 - pow(b2, (double)t));
		const float step = lr * sqrtf(c2) / c1;
		const float eps_hat = eps * sqrtf(c2);
		for (size_t i = 0; i < n; i++) {
			float g = grad_sum[i] * inv_batch + l2 * w[i];
			m[i] = b1 * m[i] + (1 - b1) * g;
			v[i] = b2 * v[i] + (1 - b2) * g * g;
			w[i] -= step * m[i] / (sqrtf(v[i]) + eps_hat);
		}
		break;
	}
	}
}
