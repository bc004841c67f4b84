/*
 * runner.c - the runner threads: each owns a worker pool, takes the oldest
 * queued job, trains it with the lock released and settles its state.
 *
 * The trainer calls back between steps on the runner's thread:
 *   should_stop  reads the job's pause/cancel requests, its stop_error and
 *                the shutdown flag;
 *   on_step      appends the loss to the curve, updates progress and, every
 *                `snapshot_seconds`, publishes a snapshot; a loss that is
 *                not finite stops the job with an error naming the step;
 *   on_epoch     records the epoch's figures and publishes a snapshot.
 * A snapshot is copied with the lock released (the weights are stable in a
 * hook) and swapped in under it and models_lock; readers take a reference
 * under models_lock alone and predict without it, so a prediction never
 * waits for training (the runner holds the lock for every step's hook).
 *
 * Priority: a runner and its pool's threads run `train_nice` steps below
 * the HTTP threads (the runner is worker 0 of every run, so it lowers its
 * own), so that a prediction arriving while a job trains gets a core at
 * once instead of queueing behind training for a time slice. Processes a
 * runner starts (the ranks' mpirun) inherit it.
 *
 * When trainer_run returns the runner settles the state (completed,
 * paused, cancelled, failed, or queued again at shutdown) through
 * job_set_state, clears `busy` and broadcasts `changed`, on which pause,
 * cancel and delete wait for the runner to let go.
 */
#include "traind/job.h"
#include "traind/learning.h"
#include "traind/pool.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies the weights (lock not held) and swaps the snapshot in. */
static void publish(struct jobs *j, struct job *job, struct trainer *t, long step, double acc)
{
	struct model_snapshot *s = snapshot_new(job->id, trainer_shape(t), trainer_params(t),
						trainer_param_count(t), job->ds, step, NAN);
	if (!s)
		return; /* keep serving the previous one */
	pthread_mutex_lock(&j->lock);
	s->test_accuracy = isnan(acc) && job->snap ? job->snap->test_accuracy : acc;
	struct model_snapshot *old = job->snap;
	pthread_mutex_lock(&j->models_lock);
	job->snap = s;
	pthread_mutex_unlock(&j->models_lock);
	job->snap_time = job_unix_now();
	pthread_mutex_unlock(&j->lock);
	snapshot_release(old);
}

struct hook_ctx {
	struct jobs *j;
	struct job *job;
};

static int hook_should_stop(void *arg)
{
	struct hook_ctx *h = arg;
	pthread_mutex_lock(&h->j->lock);
	int stop = h->j->shutdown || h->job->pause_requested || h->job->cancel_requested ||
		   h->job->stop_error[0];
	pthread_mutex_unlock(&h->j->lock);
	return stop;
}

static void hook_on_step(void *arg, struct trainer *t, long step, double loss)
{
	struct hook_ctx *h = arg;
	struct job *job = h->job;
	double now = job_unix_now();
	pthread_mutex_lock(&h->j->lock);
	curve_add(&job->curve, step, now, loss);
	learning_on_step_locked(job, t, step); /* per-layer statistics */
	long before = job->progress.step;
	trainer_progress(t, &job->progress);
	long samples = (job->progress.step - before) * job->cfg.batch_size;
	job->latest_loss = loss;
	job->rate_samples += samples;
	h->j->samples_total += (double)samples;
	if (now - job->rate_t0 >= 1.0) {
		job->rate = job->rate_samples / (now - job->rate_t0);
		job->rate_t0 = now;
		job->rate_samples = 0;
	}
	if (!isfinite(loss) && !job->stop_error[0])
		snprintf(job->stop_error, sizeof(job->stop_error),
			 "training diverged at step %ld: the loss became %s; try a lower "
			 "learning_rate (this job's is %g)",
			 step, isnan(loss) ? "NaN" : "infinite", job->cfg.learning_rate);
	int diverged = job->stop_error[0] != 0;
	int due = now - job->snap_time >= h->j->cfg.snapshot_seconds;
	int ckpt_due = h->j->cfg.checkpoint_seconds > 0 &&
		       now - job->ckpt_time >= h->j->cfg.checkpoint_seconds;
	pthread_mutex_unlock(&h->j->lock);
	if (diverged)
		return; /* keep the last finite weights and checkpoint */
	if (due)
		publish(h->j, job, t, step, NAN);
	if (ckpt_due)
		jobstore_save_progress(h->j, job, t);
}

static void hook_on_epoch(void *arg, struct trainer *t, const struct epoch_stats *st)
{
	struct hook_ctx *h = arg;
	struct job *job = h->job;
	pthread_mutex_lock(&h->j->lock);
	trainer_progress(t, &job->progress);
	if (job->n_epochs < job->cfg.epochs)
		job->epochs[job->n_epochs++] = (struct epoch_row){*st, job->progress.step};
	int diverged = job->stop_error[0] != 0;
	pthread_mutex_unlock(&h->j->lock);
	if (diverged)
		return;
	learning_on_epoch(h->j, job, t); /* dead units on the test sample */
	publish(h->j, job, t, job->progress.step, st->test_accuracy);
	jobstore_save_progress(h->j, job, t);
}

/* Takes the oldest queued job, or NULL at shutdown. Lock held. */
static struct job *next_queued_locked(struct jobs *j)
{
	for (;;) {
		if (j->shutdown)
			return NULL;
		struct job *best = NULL;
		for (int i = 0; i < j->n_jobs; i++) {
			struct job *c = j->list[i];
			if (c->state == JOB_QUEUED && !c->busy &&
			    (!best || c->queue_seq < best->queue_seq))
				best = c;
		}
		if (best)
			return best;
		pthread_cond_wait(&j->work, &j->lock);
	}
}

/* A trainer for the job on this runner's pool: new (restored from the
 * checkpoint read at start, if any), or the paused one rebound. */
static int prepare(struct runner *r, struct job *job, struct td_error *err)
{
	struct jobs *j = r->j;
	int rc;
	if (!job->trainer) {
		rc = trainer_create(&job->cfg, job->ds, r->pool, &job->trainer, err);
		if (rc == 0 && job->resume) {
			struct checkpoint *ck = job->resume;
			rc = trainer_restore(job->trainer, &ck->state, ck->params, ck->n_params,
					     ck->moment, ck->n_moments, err);
			pthread_mutex_lock(&j->lock);
			job->resume = NULL;
			trainer_progress(job->trainer, &job->progress);
			pthread_mutex_unlock(&j->lock);
			checkpoint_free(ck);
			free(ck);
		}
	} else {
		rc = trainer_set_workers(job->trainer, job->cfg.workers, err);
	}
	/* A resumed trainer may have been built on another runner's pool. */
	return rc ? rc : trainer_rebind_pool(job->trainer, r->pool, err);
}

/* Trains until done or stopped; returns trainer_run's result. */
static int train(struct runner *r, struct job *job, struct td_error *err)
{
	struct jobs *j = r->j;
	if (job->cfg.ranks > 1)
		return rankrun_train(j, job, err); /* its ranks hold the trainer */
	int rc = prepare(r, job, err);
	if (rc)
		return rc;
	struct hook_ctx h = {j, job};
	struct train_hooks hooks = {
		.arg = &h,
		.on_step = hook_on_step,
		.on_epoch = hook_on_epoch,
		.should_stop = hook_should_stop,
	};
	rc = trainer_run(job->trainer, &hooks);
	pthread_mutex_lock(&j->lock);
	int cancelled = job->cancel_requested, diverged = job->stop_error[0] != 0;
	pthread_mutex_unlock(&j->lock);
	if (rc >= 0 && !diverged) {
		/* Paused, cancelled, stopped for shutdown, or done: serve the
		 * last weights, and keep where it is unless it was cancelled. */
		struct train_progress pr;
		trainer_progress(job->trainer, &pr);
		publish(j, job, job->trainer, pr.step, NAN);
		if (!cancelled)
			jobstore_save_progress(j, job, job->trainer);
	}
	return rc;
}

/* The state a run ends in (lock held); returns the trainer to free, if
 * the job can no longer train. */
static struct trainer *settle_locked(struct jobs *j, struct job *job, int rc,
				     const struct td_error *err)
{
	enum job_state to;
	if (rc < 0 || job->stop_error[0]) {
		to = JOB_FAILED;
		snprintf(job->error, sizeof(job->error), "%s",
			 job->stop_error[0] ? job->stop_error
					    : err->msg[0] ? err->msg : td_strerror(rc));
	} else if (rc == 0) {
		to = JOB_COMPLETED;
		pthread_mutex_lock(&j->models_lock);
		j->latest_completed = job;
		pthread_mutex_unlock(&j->models_lock);
	} else if (job->cancel_requested) {
		to = JOB_CANCELLED;
	} else if (job->pause_requested) {
		to = JOB_PAUSED;
	} else {
		to = JOB_QUEUED; /* shutdown: resumable */
	}
	struct trainer *done = NULL;
	if (to == JOB_FAILED || to == JOB_COMPLETED || to == JOB_CANCELLED) {
		done = job->trainer;
		job->trainer = NULL;
	}
	job->rate = 0;
	job->busy = 0;
	job->run_seconds += job_unix_now() - job->run_since;
	job->run_since = 0;
	job_set_state(j, job, to, NULL);
	return done;
}

void *runner_main(void *arg)
{
	struct runner *r = arg;
	struct jobs *j = r->j;
	struct td_error perr;
	/* Worker 0 of the pool's runs: as low as its threads (see the top). */
	if (pool_lower_thread_priority(j->cfg.train_nice, &perr))
		fprintf(stderr, "traind: a job runner keeps its priority: %s\n", perr.msg);
	pthread_mutex_lock(&j->lock);
	for (;;) {
		struct job *job = next_queued_locked(j);
		if (!job)
			break;
		job->busy = 1;
		job->pause_requested = 0;
		if (!job->started_at)
			job->started_at = job_unix_now();
		job->rate_t0 = job_unix_now();
		job->rate_samples = 0;
		r->job = job;
		job->run_since = job_unix_now();
		job_set_state(j, job, JOB_RUNNING, NULL);
		pthread_mutex_unlock(&j->lock);

		struct td_error err;
		td_error_clear(&err);
		int rc = train(r, job, &err);

		pthread_mutex_lock(&j->lock);
		struct trainer *done = settle_locked(j, job, rc, &err);
		r->job = NULL;
		pthread_mutex_unlock(&j->lock);
		trainer_free(done);
		pthread_mutex_lock(&j->lock);
	}
	pthread_mutex_unlock(&j->lock);
	return NULL;
}
