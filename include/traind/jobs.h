/*
 * jobs.h - the job manager: job records, the queue, the scheduler, the
 * runners, loss curves and the model snapshots that predictions read
 * (snapshot.h). Its files: jobs.c (life cycle, submission, transitions,
 * models, export and import), job.c (the record and the state machine),
 * runner.c (training), jobstore.c (the state dir and recovery), jobviews.c
 * (the JSON views the API serves); their shared internals are in job.h.
 *
 * A job moves queued -> running <-> paused -> completed | failed |
 * cancelled. At most `max_running` jobs train at once, each on its own
 * runner thread with its own worker pool; the rest wait in submission
 * order. Pause and cancel take effect at the next step boundary.
 *
 * Every job is also a model. A running job publishes a snapshot of its
 * weights (each epoch and every `snapshot_seconds`) by swapping a
 * reference-counted pointer; a prediction takes a reference and never
 * blocks training or sees a half-copied buffer.
 *
 * All functions are thread-safe. Functions returning json_t* return a new
 * reference (the caller decrefs) or NULL with `e` filled.
 */
#ifndef TRAIND_JOBS_H
#define TRAIND_JOBS_H

#include <jansson.h>
#include <stddef.h>

#include "traind/dataset.h"
#include "traind/error.h"
#include "traind/jobcfg.h"
#include "traind/model.h"
#include "traind/snapshot.h"

enum job_state {
	JOB_QUEUED,    /* waiting for a runner */
	JOB_RUNNING,   /* training */
	JOB_PAUSED,    /* stopped at a step boundary; resume continues it */
	JOB_COMPLETED, /* all epochs done: final weights served */
	JOB_FAILED,    /* an error stopped it: `error` says which */
	JOB_CANCELLED, /* stopped on request; its last weights are still served */
	JOB_STATE_COUNT
};

const char *job_state_name(enum job_state s);
/* Parses a state name; -1 when unknown. */
int job_state_parse(const char *name);

struct jobs_config {
	struct dataset_registry *registry;
	struct jobcfg_limits limits;
	int max_running;        /* jobs training at once */
	int max_queued;         /* jobs waiting; more is TD_EFULL */
	int max_jobs;           /* records kept, finished included; more is TD_EFULL */
	int pool_workers;       /* threads per runner's pool */
	int train_nice;         /* nice steps runners and their pools run below the creator */
	size_t max_curve_points; /* per job; older points are thinned evenly */
	double snapshot_seconds;
	/* Durability: NULL or "" keeps everything in memory. Otherwise every
	 * job lives in state_dir/jobs/<id>/ (job.json, curve.bin,
	 * checkpoint.bin), written atomically; jobs_create recovers them. */
	const char *state_dir;
	double checkpoint_seconds; /* checkpoint at least this often, and every epoch */
	/* Jobs across ranks (rankrun.c): how to start them and the data their
	 * ranks load. NULL or "" for mpirun means "mpirun" on the PATH. */
	const char *mpirun, *mpi_hostfile, *mpi_args;
	const char *data_dir, *fashion_dir;
};

struct jobs;

int jobs_create(const struct jobs_config *cfg, struct jobs **out, struct td_error *e);
/* Stops every runner at its next step boundary (running jobs become
 * queued again and are checkpointed, so a restarted daemon resumes them)
 * and joins them. */
void jobs_shutdown(struct jobs *j);
void jobs_free(struct jobs *j);

/* Queues a job whose config jobcfg_finish() accepted; checks the data set
 * exists and the model fits it. Writes the new id to id_out. */
/* Every check jobs_submit makes (the data set, the worker count, the model
 * against the data and the server's limits, ranks), without queueing:
 * fills *shape (and *ds_out unless NULL). */
int jobs_check(struct jobs *j, const struct job_config *cfg, struct model_shape *shape,
	       const struct dataset **ds_out, struct td_error *e);
int jobs_submit(struct jobs *j, const struct job_config *cfg, char id_out[JOB_ID_MAX],
		struct td_error *e);

/* Idempotent transitions; an illegal one is TD_ESTATE naming both states. */
int jobs_pause(struct jobs *j, const char *id, struct td_error *e);
int jobs_resume(struct jobs *j, const char *id, struct td_error *e);
int jobs_cancel(struct jobs *j, const char *id, struct td_error *e);
/* Cancels if needed, waits for its runner to let go, removes the record. */
int jobs_delete(struct jobs *j, const char *id, struct td_error *e);

/* The job object of the API (see api.md). */
json_t *jobs_get_json(struct jobs *j, const char *id, struct td_error *e);
/* A page of the job list, newest first: {"jobs": [...], "next_cursor":
 * the id to pass as `after` for the next page (null at the end), "total":
 * the jobs of that state}. state < 0 for all; after NULL for the first
 * page; limit >= 1. An `after` that names no job is TD_EINVAL ("cursor"). */
json_t *jobs_list_json(struct jobs *j, int state, const char *after, int limit,
		       struct td_error *e);
/* {"points": [[step, unix_time, loss], ...], "epochs": [...], "next_step": N}
 * with points of step >= since_step, thinned evenly to at most max_points
 * (the newest always kept). */
json_t *jobs_metrics_json(struct jobs *j, const char *id, long since_step, int max_points,
			  struct td_error *e);

/* {"tensors": ["W1", ...], "points": [[step, [[w_norm, grad_norm,
 * update_ratio], ...]], ...], "next_step": N, "dead": [share per hidden
 * layer or null], "warnings": [...]}: the per-layer statistics (learning.h)
 * of step >= since_step, thinned evenly to at most max_points. */
json_t *jobs_layers_json(struct jobs *j, const char *id, long since_step, int max_points,
			 struct td_error *e);

/* {"bins": 32, "sample": 256, "epochs": [{"epoch": e, "histograms":
 * [{"name": "W1", "of": "weights", "lo", "hi", "counts": [...]}, {"name":
 * "a1", "of": "activations", ...}, ...]}, ...]}: each layer's weights and
 * its activations on the first test images, per epoch (at most 64 epochs,
 * thinned evenly). */
json_t *jobs_histograms_json(struct jobs *j, const char *id, struct td_error *e);

/* A model by job id, by unique job name, or "latest" (the most recently
 * completed job). The caller releases the snapshot. TD_ENOTFOUND when no
 * such model exists or it has no weights yet. */
int jobs_snapshot(struct jobs *j, const char *name, struct model_snapshot **out,
		  struct td_error *e);
/* A model description as JSON: its layer rows (type, input and output
 * shape as [channels, height, width], activation, parameters), the
 * parameter count, FLOPs per sample and the loss. */
json_t *model_shape_json(const struct model_shape *s);

/* {"models": [...]} and one model object, TF Serving style. */
json_t *jobs_models_json(struct jobs *j);
json_t *jobs_model_json(struct jobs *j, const char *name, struct td_error *e);

/* The model as a checkpoint file (see checkpoint.h): a finished job's last
 * checkpoint, else a weights-only export of what the model serves. */
int jobs_export(struct jobs *j, const char *name, void **buf, size_t *len, struct td_error *e);

/* Imports a checkpoint as a new model: a completed job with those
 * weights, named by the new id written to id_out. */
int jobs_import(struct jobs *j, const void *buf, size_t len, char id_out[JOB_ID_MAX],
		struct td_error *e);

/* Jobs recovered from the state dir at start, and how many resume. */
void jobs_recovered(struct jobs *j, int *records, int *resumed);

/* GET /v1/cluster: {"hosts": [{"host", "slots"}], "jobs": [{"id", "name",
 * "ranks", "launcher_pid", "rank_processes": [{rank, host, pid}],
 * "samples_per_second", "restarts"}]} for the running jobs across ranks.
 * The hosts are the mpi_hostfile's, or this host with its cores. */
json_t *jobs_cluster_json(struct jobs *j);

struct jobs_stats {
	int by_state[JOB_STATE_COUNT];
	double samples_total;      /* trained since start, all jobs */
	double samples_per_second; /* current, summed over running jobs */
};
void jobs_stats(struct jobs *j, struct jobs_stats *st);

#endif
