/*
 * train.h - data-parallel minibatch training on the worker pool.
 *
 * A trainer owns one job's model: its parameters, optimizer moments and
 * the per-slot gradient buffers, all in the layout of model.h. Each
 * minibatch is cut into slots (up to 4 for batches of up to 256, then
 * slots of about 64 samples, at most TRAIN_MAX_SLOTS); how many slots and
 * where they start depends only on the batch size, never on the number of
 * workers. Workers compute whole slots' gradients into the slots' own
 * buffers, then each worker sums one slice of the parameter vector over the
 * slots in slot order and applies the optimizer to that slice. The result:
 * the same seed gives bit-identical weights with 1, 2, 3 or 4 workers.
 *
 * trainer_run() trains until the job is done or a hook asks it to stop at
 * a step boundary; calling it again continues where it stopped, so pause
 * and resume are a return and a call. Hooks run on the calling thread
 * between steps, when the weights are stable: a hook may copy them.
 */
#ifndef TRAIND_TRAIN_H
#define TRAIND_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "traind/dataset.h"
#include "traind/jobcfg.h"
#include "traind/model.h"
#include "traind/pool.h"

#define TRAIN_MAX_SLOTS 16  /* slots per minibatch, at most */

struct trainer;

struct train_progress {
	int epoch, epochs;     /* epochs completed, of total */
	long step, steps;      /* steps completed, of total (all epochs) */
	long steps_per_epoch;
	long step_in_epoch;
};

struct epoch_stats {
	int epoch;             /* 1-based */
	double train_loss;     /* mean over the epoch's minibatches, as trained */
	double train_accuracy; /* running accuracy over the epoch, as trained */
	double test_loss, test_accuracy;
	double seconds;        /* training time of the epoch, evaluation excluded */
	double samples_per_second;
};

struct train_hooks {
	void *arg;
	/* After each step: its global step number (1-based) and mean loss. */
	void (*on_step)(void *arg, struct trainer *t, long step, double loss);
	/* After each epoch's evaluation. */
	void (*on_epoch)(void *arg, struct trainer *t, const struct epoch_stats *st);
	/* Polled once per step, while that step runs (so the answer reaches
	 * every worker without another barrier); nonzero stops the run at the
	 * end of that step. */
	int (*should_stop)(void *arg);
};

/* Builds the model for `ds` (inputs = ds->features, outputs = classes, or
 * one unit for a two-class sigmoid output) and initialises it from the seed.
 * `pool` must have at least cfg->workers workers. */
int trainer_create(const struct job_config *cfg, const struct dataset *ds, struct pool *pool,
		   struct trainer **out, struct td_error *e);
void trainer_free(struct trainer *t);

/* Trains. Returns 0 when all epochs are done, 1 when should_stop stopped
 * it (call again to continue), or a negative error. */
int trainer_run(struct trainer *t, const struct train_hooks *hooks);

int trainer_done(const struct trainer *t);
void trainer_progress(const struct trainer *t, struct train_progress *p);
const struct model_shape *trainer_shape(const struct trainer *t);
const float *trainer_params(const struct trainer *t);
size_t trainer_param_count(const struct trainer *t);

/* Loss and accuracy of the current weights on the test (or train) set. */
void trainer_evaluate(struct trainer *t, int on_test, double *loss, double *accuracy);

/* The summed gradient of one batch of samples (indices into the training
 * set), computed exactly as a training step does, into grads (param_count
 * floats). For tests of sharding; changes no weights. */
double trainer_batch_gradient(struct trainer *t, const uint32_t *samples, int n, float *grads);

/* Training across processes (dist.h): the ranks of one job each compute
 * the slots s with s % ranks == rank of every minibatch; `exchange`, on
 * worker 0 after that phase, fills in every other slot's gradient (n
 * floats at grads + s * stride), summed loss and hits from the ranks that
 * computed them. Every rank then reduces all slots in slot order, exactly
 * as one process does: the weights are bit-identical for any number of
 * ranks and workers. A nonzero return stops the run with an error.
 *
 * Ranks stop at the same step boundary: *stop is this rank's wish on the
 * way in (should_stop said so) and any rank's on the way out, and
 * agree_stop does the same where a run starts or an epoch ends. */
struct train_exchange {
	void *arg;
	int rank, ranks;
	int (*exchange)(void *arg, float *grads, size_t stride, size_t n, int slots,
			double *loss, long *correct, int *stop);
	int (*agree_stop)(void *arg, int stop);
};
int trainer_set_exchange(struct trainer *t, const struct train_exchange *x,
			 struct td_error *e);

/* The first layer's path a job takes (isa.h): "sparse" (lit pixels),
 * "dense" (GEMMs) or, for a conv first layer, "im2col". A function of the
 * configuration, the data set's density, the tier and TRAIND_FIRST_LAYER. */
const char *train_first_layer_path(const struct job_config *cfg, const struct dataset *ds,
				   const struct model_shape *s);

/* Applies a worker count to later steps (1..pool size). Results do not
 * depend on it. */
int trainer_set_workers(struct trainer *t, int workers, struct td_error *e);

/* Everything besides weights and moments that a resumed run needs to
 * continue bit for bit: the shuffle of an epoch and every augmentation
 * shift derive from (seed, epoch, sample), so position suffices. */
struct trainer_state {
	int epoch;            /* epochs completed */
	long step_in_epoch;   /* steps done in the epoch in progress */
	long global_step;     /* steps done in all (Adam's t) */
	double epoch_loss_sum; /* the epoch-in-progress's running figures */
	long epoch_correct, epoch_samples;
	double epoch_seconds;
};

const struct job_config *trainer_config(const struct trainer *t);
void trainer_get_state(const struct trainer *t, struct trainer_state *st);
/* The optimizer's moment buffers: count (0, 1 or 2), each param_count floats. */
int trainer_moment_count(const struct trainer *t);
const float *trainer_moment(const struct trainer *t, int k);

/* Restores a saved position, weights and moments (n_moments must match the
 * optimizer's); the next trainer_run continues exactly where the saved run
 * would have. */
int trainer_restore(struct trainer *t, const struct trainer_state *st, const float *params,
		    size_t n_params, const float *const *moments, int n_moments,
		    struct td_error *e);

/* Per-layer statistics, measured in the reduce pass of steps 1, 1 + E,
 * 1 + 2E, ... (E = TRAIN_LAYER_STATS_EVERY, so they cost under 2 % of
 * training even for the cheapest steps; bench/layer-stats-bench.sh): for each weight tensor W1..Wn
 * (n = the model's layers), ||W|| after the step, ||dW|| - the gradient the
 * optimizer followed (the mean loss gradient plus the L2 term) - and the
 * update ratio ||W_after - W_before|| / ||W_after||. Returns n and the step
 * they were measured at in *step (0 and 0 before the first). Squares are
 * summed in float per block of 1024 and in double above. */
#define TRAIN_LAYER_STATS_EVERY 20
struct layer_stat {
	double w_norm, grad_norm, update_ratio;
};
int trainer_layer_stats(const struct trainer *t, struct layer_stat *out, long *step);
/* Measures them every `every` steps (TRAIN_LAYER_STATS_EVERY by default)
 * or, with 0, not at all: for the benchmark that prices them,
 * bench/layer-stats-bench.sh. */
void trainer_measure_layers(struct trainer *t, int every);

/* Moves the trainer to another pool of the same size (a paused job may be
 * resumed by another runner). */
int trainer_rebind_pool(struct trainer *t, struct pool *pool, struct td_error *e);

#endif
