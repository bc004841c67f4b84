/*
 * snapshot.h - the model snapshots predictions read: an immutable,
 * reference-counted copy of a model's weights with what prediction needs,
 * and inference on it (through infer.h, the engine's one inference path).
 *
 * A running job publishes a snapshot by swapping a pointer under the job
 * manager's lock; a prediction takes a reference and never blocks training
 * or sees a half-copied buffer.
 */
#ifndef TRAIND_SNAPSHOT_H
#define TRAIND_SNAPSHOT_H

#include <stddef.h>

#include "traind/dataset.h"
#include "traind/error.h"
#include "traind/model.h"

#define JOB_ID_MAX 16

/* An immutable copy of a model's weights with what prediction needs. */
struct model_snapshot {
	int refs; /* atomic; use snapshot_retain / snapshot_release */
	char job_id[JOB_ID_MAX];
	struct model_shape shape;
	size_t n_params;
	float *params;
	const struct dataset *ds; /* class names, width, height; lives as long as the registry */
	long step;
	double test_accuracy;     /* NaN until an epoch was evaluated */
};

void snapshot_retain(struct model_snapshot *s);
void snapshot_release(struct model_snapshot *s);

/* probs[n x outputs] for inputs x[n x features] in [0,1]. Thread-safe. */
int snapshot_predict(const struct model_snapshot *s, const float *x, int n, float *probs,
		     struct td_error *e);
/* Number of classes and of output units (1 for a binary sigmoid). */
int snapshot_classes(const struct model_snapshot *s);
/* A snapshot holding a copy of n weights (refs = 1); NULL when out of
 * memory. `ds` must outlive it. */
struct model_snapshot *snapshot_new(const char *job_id, const struct model_shape *shape,
				    const float *params, size_t n, const struct dataset *ds,
				    long step, double accuracy);

/* The confusion matrix of a snapshot on its data set's test set:
 * matrix[true_class * classes + predicted_class] counts test samples
 * (classes = s->ds->n_classes; the caller provides classes^2 longs) and
 * *accuracy is the diagonal's share. It evaluates in the trainer's blocks
 * and with its rule for the predicted class, so for the weights an epoch
 * ended with the accuracy equals that epoch's test_accuracy. Costs one
 * forward pass over the test set on the calling thread. */
int snapshot_confusion(const struct model_snapshot *s, long *matrix, double *accuracy,
		       struct td_error *e);

#endif
