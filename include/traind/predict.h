/*
 * predict.h - what a model's output units mean to a client: one
 * probability per class and the predicted label.
 *
 * Shared by every predict route (v1 JSON and images, the Open Inference
 * Protocol's infer), so the same image gives the same numbers whichever
 * way it was sent: a softmax is taken as is; one sigmoid unit of a binary
 * model is [1 - p, p]; several sigmoid units are normalised to sum to 1.
 */
#ifndef TRAIND_PREDICT_H
#define TRAIND_PREDICT_H

#include "traind/jobs.h"

/* Writes s->ds->n_classes probabilities for one instance's output units
 * `out` (snapshot_predict's row) to p, and returns the label: the first
 * class with the highest probability. */
int predict_probabilities(const struct model_snapshot *s, const float *out, double *p);

#endif
