/*
 * learning.h - what a job's training looks like from inside, for people:
 * its per-layer statistics as a view, the share of dead units, and the
 * warnings a person can act on. Part of the job manager (job.h).
 *
 * Warnings, each with its kind, the layer (1-based; 0 for the whole
 * model) and a sentence that says what to try:
 *   vanishing  a layer's update ratio ||dW step|| / ||W|| below 1e-7 at each
 *              of the last LEARNING_VANISH_POINTS recorded points
 *   exploding  above 0.1 at each of the last LEARNING_EXPLODE_POINTS
 *   dead_relu  at least half of a relu layer's units never active on the
 *              first LEARNING_DEAD_SAMPLES test images (measured each epoch)
 *   stalled    after 3 epochs or more, the training loss fell by less than
 *              1 % in the last epoch while test accuracy stays below 1.5 x
 *              chance
 */
#ifndef TRAIND_LEARNING_H
#define TRAIND_LEARNING_H

#include <jansson.h>

#include "traind/train.h"

#define LEARNING_VANISH_RATIO 1e-7
#define LEARNING_EXPLODE_RATIO 0.1
#define LEARNING_VANISH_POINTS 10
#define LEARNING_EXPLODE_POINTS 5
#define LEARNING_DEAD_SAMPLES 256
#define LEARNING_DEAD_SHARE 0.5
#define LEARNING_MAX_WARNINGS 8 /* the first few say what to do; the job list holds one set per job */

struct learning_warning {
	char kind[16];
	int layer;
	char message[320];
};

struct learning_warnings {
	int n;
	struct learning_warning w[LEARNING_MAX_WARNINGS];
};

struct job;
struct jobs;

/* The runner's hooks: the step's statistics into the job's series (lock
 * held), and the dead units of the weights after an epoch (lock not held:
 * it runs a forward pass, then stores the shares under the lock). */
void learning_on_step_locked(struct job *job, struct trainer *t, long step);
void learning_on_epoch(struct jobs *j, struct job *job, struct trainer *t);

/* The warnings of a job as it stands (lock held; reads the newest points). */
void learning_warnings_locked(const struct job *job, struct learning_warnings *out);
json_t *learning_warnings_json(const struct learning_warnings *w);

#endif
