/*
 * snapshot.c - model snapshots and inference on them (see snapshot.h).
 * Predictions and the confusion matrix go through infer.h, the path the
 * trainer evaluates with.
 */
#include "traind/snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "traind/infer.h"
#include "traind/nn.h"

struct model_snapshot *snapshot_new(const char *job_id, const struct model_shape *shape,
				    const float *params, size_t n, const struct dataset *ds,
				    long step, double accuracy)
{
	struct model_snapshot *s = calloc(1, sizeof(*s));
	float *copy = malloc(sizeof(float) * (n ? n : 1));
	if (!s || !copy) {
		free(s);
		free(copy);
		return NULL;
	}
	memcpy(copy, params, sizeof(float) * n);
	*s = (struct model_snapshot){.refs = 1, .shape = *shape, .n_params = n, .params = copy,
				     .ds = ds, .step = step, .test_accuracy = accuracy};
	snprintf(s->job_id, sizeof(s->job_id), "%.15s", job_id);
	return s;
}

void snapshot_retain(struct model_snapshot *s)
{
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
}

void snapshot_release(struct model_snapshot *s)
{
	if (s && __atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		free(s->params);
		free(s);
	}
}

int snapshot_classes(const struct model_snapshot *s)
{
	return s->ds->n_classes;
}

int snapshot_predict(const struct model_snapshot *s, const float *x, int n, float *probs,
		     struct td_error *e)
{
	return infer_probs(&s->shape, s->params, x, n, probs, e);
}

int snapshot_confusion(const struct model_snapshot *s, long *matrix, double *accuracy,
		       struct td_error *e)
{
	const struct dataset *ds = s->ds;
	size_t C = (size_t)ds->n_classes, F = (size_t)ds->features;
	if (!ds->n_test)
		return td_errorf(e, TD_EINVAL, "dataset", "data set %s has no test samples",
				 ds->name);
	struct nn_ws_f ws;
	if (nn_ws_init_f(&ws, &s->shape, INFER_BLOCK))
		return td_errorf(e, TD_ENOMEM, "", "out of memory for the test set's evaluation");
	memset(matrix, 0, sizeof(*matrix) * C * C);
	long hits = 0;
	for (size_t lo = 0; lo < ds->n_test; lo += INFER_BLOCK) {
		size_t n = ds->n_test - lo < INFER_BLOCK ? ds->n_test - lo : INFER_BLOCK;
		infer_eval_block(&s->shape, s->params, &ws, ds->test_x + lo * F, ds->test_y + lo,
				 (int)n, &hits, matrix);
	}
	nn_ws_free_f(&ws);
	*accuracy = (double)hits / (double)ds->n_test;
	return 0;
}
