/*
 * optim.h - the update rules: SGD, momentum and Adam, with L2 weight decay.
 *
 * An update works on a slice [0, n) of the one parameter buffer, so each
 * worker of the pool can update its own slice in parallel after summing
 * the gradients of that slice. The gradient it is given is the SUM over the
 * batch; it is scaled by 1/batch here, once. L2 (l2/2 * ||W||^2, on weights,
 * not biases) adds l2 * w to the gradient.
 */
#ifndef TRAIND_OPTIM_H
#define TRAIND_OPTIM_H

#include <stddef.h>

enum optimizer { OPT_SGD, OPT_MOMENTUM, OPT_ADAM };

struct optim_hparams {
	enum optimizer kind;
	float learning_rate;
	float momentum;        /* momentum: v = momentum * v + g */
	float l2;
	float beta1, beta2, eps; /* adam */
};

/* How many moment buffers (each the size of the parameters) a rule keeps. */
int optim_moments(enum optimizer kind);

/* The rules' names in enum order (the job option "optimizer"). */
#define OPT_COUNT 3
extern const char *const optimizer_names[OPT_COUNT];
const char *optimizer_name(enum optimizer kind);

/* One step on n parameters. The batch's gradient sum is the sum of
 * `n_parts` partial sums parts[0][i] + parts[1][i] + ... added in that
 * order (the slots of a minibatch); inv_batch = 1/batch; decay says whether
 * L2 applies (weights yes, biases no). m and v are the moment slices (NULL
 * when the rule has none); t is the 1-based step count (Adam's bias
 * correction). Summing and updating in one pass reads each gradient once. */
#define OPTIM_MAX_PARTS 16
void optim_update(const struct optim_hparams *h, float *w, const float *const *parts,
		  int n_parts, float *m, float *v, size_t n, float inv_batch, int decay, long t);

/* The gradient optim_update follows for one parameter: the mean loss
 * gradient plus the L2 term. The gradient check uses it to check L2. */
static inline double optim_objective_grad(double grad_sum, double inv_batch, double l2,
					  double w, int decay)
{
	return grad_sum * inv_batch + (decay ? l2 * w : 0.0);
}

#endif
