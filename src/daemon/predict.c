/*
 * predict.c - output units to class probabilities and labels (see
 * predict.h).
 */
#include "traind/predict.h"

int predict_probabilities(const struct model_snapshot *s, const float *out, double *p)
{
	int units = s->shape.sizes[s->shape.n_layers];
	int classes = s->ds->n_classes;
	if (units == 1 && classes == 2) {
		p[1] = out[0];
		p[0] = 1.0 - out[0];
	} else {
		double sum = 0;
		for (int k = 0; k < classes; k++)
			sum += p[k] = k < units ? out[k] : 0.0;
		if (s->shape.out == OUT_SIGMOID && sum > 0)
			for (int k = 0; k < classes; k++)
				p[k] /= sum;
	}
	int best = 0;
	for (int k = 1; k < classes; k++)
		if (p[k] > p[best])
			best = k;
	return best;
}
