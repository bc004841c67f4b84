/*
 * job.h - the job manager's internals, shared by its files and by no one
 * else (the rest of the daemon uses jobs.h):
 *   jobs.c      life cycle, submission, requests (pause, resume, cancel,
 *               delete), models by name, export and import
 *   job.c       the record, and the state machine: job_set_state() is the
 *               one place a job's state changes
 *   runner.c    the runner threads that train jobs
 *   jobstore.c  the state dir: records, curves, checkpoints, recovery
 *   jobviews.c  the JSON views the API serves
 *
 * Threads and who owns what: one mutex, jobs->lock, guards every record and
 * the manager's lists. A runner that has taken a job (`busy`) alone touches
 * its trainer; everything else about a job changes only under the lock.
 */
#ifndef TRAIND_JOB_H
#define TRAIND_JOB_H

#include <pthread.h>

#include "traind/checkpoint.h"
#include "traind/curve.h"
#include "traind/jobs.h"
#include "traind/histseries.h"
#include "traind/layerseries.h"
#include "traind/rng.h"
#include "traind/train.h"

struct epoch_row {
	struct epoch_stats st;
	long step; /* global step at the epoch's end */
};

struct job {
	char id[JOB_ID_MAX];
	struct job_config cfg;
	const struct dataset *ds;
	enum job_state state;    /* changed by job_set_state only */
	unsigned long queue_seq; /* order among queued jobs */
	int pause_requested, cancel_requested;
	int busy; /* a runner holds it */
	double created_at, started_at, finished_at; /* unix seconds, 0 = never */
	double run_seconds; /* time spent running, pauses excluded, before run_since */
	double run_since;   /* unix seconds this run started, 0 when not running */
	char error[512];

	struct trainer *trainer; /* while it can still train */
	struct train_progress progress;
	double latest_loss;
	double rate; /* samples/s, recent */
	double rate_t0;
	long rate_samples;

	struct curve curve;
	struct layer_series layers; /* per-layer statistics (layerseries.h) */
	struct hist_series hists;   /* per-epoch histograms (histseries.h) */
	float dead[MODEL_MAX_LAYERS]; /* share of each hidden layer's units never
				       * active on the test sample, last epoch; -1 unknown */
	struct epoch_row *epochs;
	int n_epochs;

	struct model_snapshot *snap;
	double snap_time;

	unsigned long seq;         /* creation order, kept across restarts */
	double ckpt_time;          /* last checkpoint, unix seconds */
	struct checkpoint *resume; /* read at start; the runner restores it */
	struct dataset *own_ds;    /* an imported model's class names and size */
	int imported;
	char stop_error[512];      /* set between steps (a failed write, a
				    * non-finite loss): stops and fails the job */
	int restarts;              /* ranks > 1: relaunches after a lost rank */
	json_t *rank_list;         /* ranks > 1, running: [{rank, host, pid}] */
	long launcher_pid;         /* ranks > 1, running: mpirun's pid */
};

struct runner {
	struct jobs *j;
	pthread_t tid;
	struct pool *pool;
	struct job *job; /* the job it trains, or NULL */
	int started;
};

struct jobs {
	struct jobs_config cfg;
	pthread_mutex_t lock;
	/* Predictions find their model holding this alone, never `lock`
	 * (which the runners take every step): whoever changes the list's
	 * members, a listed job's snap or latest_completed holds `lock` and
	 * then this one, for as long as the change takes. */
	pthread_mutex_t models_lock;
	pthread_cond_t work;    /* a job was queued, or shutdown */
	pthread_cond_t changed; /* a job's state changed or a runner let go */
	struct job **list;      /* creation order, oldest first */
	int n_jobs;
	unsigned long next_seq;
	int shutdown;
	struct runner *runners;
	int n_runners;
	struct td_rng id_rng;
	struct job *latest_completed;
	double samples_total;
	int recovered, resumed;
};

double job_unix_now(void);

/* An epoch row as JSON, the same in the record and in the metrics view. */
json_t *job_epoch_json(const struct epoch_row *r);

/* A new record in state queued with its buffers; NULL when out of memory. */
struct job *job_alloc(const struct job_config *cfg, size_t max_points);
void job_free(struct job *job);
/* Lock held. */
struct job *job_find_locked(struct jobs *j, const char *id);
int job_not_found(const char *id, struct td_error *e);
/* A fresh "j-xxxxxx" id no job has; lock held. */
void job_new_id_locked(struct jobs *j, char id[JOB_ID_MAX]);

/* Is from -> to a transition of the state machine? */
int job_transition_allowed(enum job_state from, enum job_state to);
/* The one place a job changes state (lock held): checks the transition
 * against the table, logs it ("how" adds a word: "resumed", "recovered"),
 * saves the record, and wakes whoever waits (runners for queued jobs,
 * requests waiting for a runner to settle). An illegal transition is a bug:
 * it is logged and refused with TD_ESTATE. */
int job_set_state(struct jobs *j, struct job *job, enum job_state to, const char *how);

/* jobs.c: the job a model name means (id, unique name or "latest");
 * lock held. */
struct job *jobs_model_job_locked(struct jobs *j, const char *name, struct td_error *e);

/* jobstore.c: the state dir (each is a no-op without one). */
int jobstore_persistent(const struct jobs *j);
int jobstore_write_record_locked(struct jobs *j, struct job *job, struct td_error *e);
void jobstore_save_record_locked(struct jobs *j, struct job *job);
/* Curve, record and checkpoint, from the job's runner between steps. */
int jobstore_save_progress(struct jobs *j, struct job *job, struct trainer *t);
/* A checkpoint file's bytes as the job's checkpoint (import); lock held. */
int jobstore_write_checkpoint_locked(struct jobs *j, struct job *job, const void *buf,
				     size_t len, struct td_error *e);
/* The job's last checkpoint file, read whole; lock held. */
int jobstore_read_checkpoint_locked(struct jobs *j, const struct job *job, void **buf,
				    size_t *len);
void jobstore_remove(struct jobs *j, const char *id);
/* Reads every job in the state dir back, before the runners start. */
int jobstore_recover_all(struct jobs *j, struct td_error *e);

/* The job's directory in the state dir; TD_EINVAL without a state dir. */
int jobstore_job_dir(struct jobs *j, const struct job *job, char *out, size_t n,
		     struct td_error *e);
/* Does its checkpoint hold a training position to resume from? */
int jobstore_has_position(struct jobs *j, const struct job *job);
/* Curve and record, for a job whose checkpoints its ranks write. */
void jobstore_save_history(struct jobs *j, struct job *job);

/* runner.c */
void *runner_main(void *arg);

/* rankrun.c: trains a job with ranks > 1 under mpirun; 0 when done, 1
 * when stopped on request, or an error (err, or the job's stop_error). */
int rankrun_train(struct jobs *j, struct job *job, struct td_error *err);

#endif
