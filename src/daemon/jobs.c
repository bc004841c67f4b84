/*
 * jobs.c - the job manager (see jobs.h; its files are listed in job.h):
 * its life cycle, submission, the requests that change a job (pause,
 * resume, cancel, delete), models by name, export and import.
 *
 * At most `max_running` jobs train at once, each on a runner thread with
 * its own worker pool (runner.c); the rest wait in submission order. Pause
 * and cancel take effect at the next step boundary: a request on a running
 * job sets a flag the trainer polls and waits (at most ACK_WAIT_SECONDS)
 * for the runner to settle it. Memory is bounded: at most max_jobs records,
 * each with at most max_curve_points points and `epochs` epoch rows.
 */
#include "traind/job.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "traind/pool.h"

#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
#include <cblas.h>
#endif

#define ACK_WAIT_SECONDS 30.0 /* how long pause/cancel wait for a step boundary */

void jobs_recovered(struct jobs *j, int *records, int *resumed)
{
	pthread_mutex_lock(&j->lock);
	*records = j->recovered;
	*resumed = j->resumed;
	pthread_mutex_unlock(&j->lock);
}

/* ---- life cycle ----------------------------------------------------- */

int jobs_create(const struct jobs_config *cfg, struct jobs **out, struct td_error *e)
{
	*out = NULL;
	if (cfg->max_running < 1 || cfg->pool_workers < 1 || cfg->max_curve_points < 16 ||
	    cfg->max_jobs < 1 || cfg->max_queued < 1)
		return td_errorf(e, TD_EINVAL, "max_running_jobs",
				 "the job manager needs at least one runner, one worker, one "
				 "queued job and 16 curve points");
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
	openblas_set_num_threads(1); /* predictions run on the HTTP threads */
#endif
	struct jobs *j = calloc(1, sizeof(*j));
	if (!j)
		return td_errorf(e, TD_ENOMEM, "", "out of memory");
	j->cfg = *cfg;
	pthread_mutex_init(&j->lock, NULL);
	pthread_mutex_init(&j->models_lock, NULL);
	pthread_cond_init(&j->work, NULL);
	pthread_cond_init(&j->changed, NULL);
	rng_seed(&j->id_rng, (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
	j->list = calloc((size_t)cfg->max_jobs, sizeof(*j->list));
	j->runners = calloc((size_t)cfg->max_running, sizeof(*j->runners));
	if (!j->list || !j->runners) {
		jobs_free(j);
		return td_errorf(e, TD_ENOMEM, "", "out of memory");
	}
	if (jobstore_persistent(j)) {
		int rc = jobstore_recover_all(j, e);
		if (rc) {
			jobs_free(j);
			return rc;
		}
	}
	for (int i = 0; i < cfg->max_running; i++) {
		struct runner *r = &j->runners[i];
		r->j = j;
		struct pool_options po = {.nice = cfg->train_nice};
		int rc = pool_create_opts(cfg->pool_workers, &po, &r->pool, e);
		if (rc) {
			jobs_free(j);
			return rc;
		}
		if (pthread_create(&r->tid, NULL, runner_main, r)) {
			jobs_free(j);
			return td_errorf(e, TD_ENOMEM, "max_running_jobs",
					 "could not start runner thread %d", i);
		}
		r->started = 1;
		j->n_runners++;
	}
	*out = j;
	return 0;
}

void jobs_shutdown(struct jobs *j)
{
	if (!j)
		return;
	pthread_mutex_lock(&j->lock);
	j->shutdown = 1;
	pthread_cond_broadcast(&j->work);
	pthread_mutex_unlock(&j->lock);
	for (int i = 0; i < j->cfg.max_running; i++)
		if (j->runners && j->runners[i].started) {
			pthread_join(j->runners[i].tid, NULL);
			j->runners[i].started = 0;
		}
}

void jobs_free(struct jobs *j)
{
	if (!j)
		return;
	jobs_shutdown(j);
	for (int i = 0; i < j->n_jobs; i++)
		job_free(j->list[i]);
	if (j->runners)
		for (int i = 0; i < j->cfg.max_running; i++)
			pool_free(j->runners[i].pool);
	free(j->runners);
	free(j->list);
	pthread_cond_destroy(&j->work);
	pthread_cond_destroy(&j->changed);
	pthread_mutex_destroy(&j->models_lock);
	pthread_mutex_destroy(&j->lock);
	free(j);
}

/* ---- submission and transitions ------------------------------------- */

int jobs_check(struct jobs *j, const struct job_config *cfg, struct model_shape *shape,
	       const struct dataset **ds_out, struct td_error *e)
{
	const struct dataset *ds;
	struct td_error le;
	int rc = registry_get(j->cfg.registry, cfg->dataset, &ds, &le);
	if (rc)
		return td_errorf(e, TD_EINVAL, "dataset", "%s", le.msg);
	if (cfg->workers > j->cfg.pool_workers)
		return td_errorf(e, TD_EINVAL, "workers",
				 "workers must be an integer from 1 to %d, not %d",
				 j->cfg.pool_workers, cfg->workers);
	/* The model must fit the data set and the server's limits. */
	rc = model_describe_dataset(shape, cfg, ds, j->cfg.limits.max_params, e);
	if (rc)
		return rc;
	if (cfg->ranks > 1 && !jobstore_persistent(j))
		return td_errorf(e, TD_EINVAL, "ranks", "ranks is %d, but a job across ranks needs "
				 "the server's state_dir, where its ranks write their checkpoints",
				 cfg->ranks);
	if (ds_out)
		*ds_out = ds;
	return 0;
}

int jobs_submit(struct jobs *j, const struct job_config *cfg, char id_out[JOB_ID_MAX],
		struct td_error *e)
{
	const struct dataset *ds;
	struct model_shape shape;
	int rc = jobs_check(j, cfg, &shape, &ds, e);
	if (rc)
		return rc;

	struct job *job = job_alloc(cfg, j->cfg.max_curve_points);
	if (!job)
		return td_errorf(e, TD_ENOMEM, "", "out of memory for a new job");
	job->ds = ds;
	job->created_at = job_unix_now();

	pthread_mutex_lock(&j->lock);
	int queued = 0;
	for (int i = 0; i < j->n_jobs; i++)
		queued += j->list[i]->state == JOB_QUEUED;
	if (queued >= j->cfg.max_queued || j->n_jobs >= j->cfg.max_jobs) {
		pthread_mutex_unlock(&j->lock);
		job_free(job);
		return queued >= j->cfg.max_queued
			       ? td_errorf(e, TD_EFULL, "", "%d jobs are already queued, the most "
					   "the server allows; try again when one has started", queued)
			       : td_errorf(e, TD_EFULL, "", "the server keeps at most %d jobs; "
					   "delete finished ones first", j->cfg.max_jobs);
	}
	job_new_id_locked(j, job->id);
	if (!job->cfg.name[0])
		snprintf(job->cfg.name, sizeof(job->cfg.name), "%s", job->id);
	job->seq = job->queue_seq = j->next_seq++;
	struct td_error we;
	if (jobstore_write_record_locked(j, job, &we)) {
		pthread_mutex_unlock(&j->lock);
		job_free(job);
		return td_errorf(e, TD_EIO, "", "could not save the new job: %s", we.msg);
	}
	pthread_mutex_lock(&j->models_lock);
	j->list[j->n_jobs++] = job;
	pthread_mutex_unlock(&j->models_lock);
	snprintf(id_out, JOB_ID_MAX, "%s", job->id);
	fprintf(stderr, "traind: job %s (%s) queued\n", job->id, job->cfg.name);
	pthread_cond_broadcast(&j->work);
	pthread_mutex_unlock(&j->lock);
	return 0;
}

static int illegal(const struct job *job, const char *action, struct td_error *e)
{
	return td_errorf(e, TD_ESTATE, "state", "cannot %s job %s: it is %s", action, job->id,
			 job_state_name(job->state));
}

/* Waits (lock held) until the runner lets go of `job` or time runs out. */
static void wait_settled_locked(struct jobs *j, struct job *job)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += (time_t)ACK_WAIT_SECONDS;
	while (job->busy)
		if (pthread_cond_timedwait(&j->changed, &j->lock, &until))
			break;
}

int jobs_pause(struct jobs *j, const char *id, struct td_error *e)
{
	pthread_mutex_lock(&j->lock);
	struct job *job = job_find_locked(j, id);
	int rc = 0;
	if (!job)
		rc = job_not_found(id, e);
	else if (job->state == JOB_QUEUED && !job->busy)
		job_set_state(j, job, JOB_PAUSED, NULL);
	else if (job->state == JOB_RUNNING) {
		job->pause_requested = 1;
		wait_settled_locked(j, job);
	} else if (job->state != JOB_PAUSED)
		rc = illegal(job, "pause", e);
	pthread_mutex_unlock(&j->lock);
	return rc;
}

int jobs_resume(struct jobs *j, const char *id, struct td_error *e)
{
	pthread_mutex_lock(&j->lock);
	struct job *job = job_find_locked(j, id);
	int rc = 0;
	if (!job)
		rc = job_not_found(id, e);
	else if (job->state == JOB_PAUSED) {
		job->pause_requested = 0;
		job->queue_seq = j->next_seq++;
		job_set_state(j, job, JOB_QUEUED, "resumed");
	} else if (job->state == JOB_RUNNING && job->pause_requested) {
		job->pause_requested = 0; /* resumed before the pause took hold */
	} else if (job->state != JOB_RUNNING && job->state != JOB_QUEUED)
		rc = illegal(job, "resume", e);
	pthread_mutex_unlock(&j->lock);
	return rc;
}

int jobs_cancel(struct jobs *j, const char *id, struct td_error *e)
{
	struct trainer *drop = NULL;
	pthread_mutex_lock(&j->lock);
	struct job *job = job_find_locked(j, id);
	int rc = 0;
	if (!job)
		rc = job_not_found(id, e);
	else if ((job->state == JOB_QUEUED || job->state == JOB_PAUSED) && !job->busy) {
		if (job->resume) {
			checkpoint_free(job->resume);
			free(job->resume);
			job->resume = NULL;
		}
		drop = job->trainer;
		job->trainer = NULL;
		job_set_state(j, job, JOB_CANCELLED, NULL);
	} else if (job->state == JOB_RUNNING || job->busy) {
		job->cancel_requested = 1;
		wait_settled_locked(j, job);
	} else if (job->state != JOB_CANCELLED)
		rc = illegal(job, "cancel", e);
	pthread_mutex_unlock(&j->lock);
	trainer_free(drop);
	return rc;
}

int jobs_delete(struct jobs *j, const char *id, struct td_error *e)
{
	int rc = jobs_cancel(j, id, NULL);
	(void)rc; /* a finished job cannot be cancelled, and need not be */
	pthread_mutex_lock(&j->lock);
	struct job *job = job_find_locked(j, id);
	if (!job) {
		pthread_mutex_unlock(&j->lock);
		return job_not_found(id, e);
	}
	wait_settled_locked(j, job);
	if (job->busy) {
		pthread_mutex_unlock(&j->lock);
		return td_errorf(e, TD_ESTATE, "state",
				 "job %s did not stop in time to be deleted; try again", id);
	}
	int i = 0;
	while (j->list[i] != job)
		i++;
	pthread_mutex_lock(&j->models_lock);
	memmove(&j->list[i], &j->list[i + 1], sizeof(*j->list) * (size_t)(j->n_jobs - i - 1));
	j->n_jobs--;
	if (j->latest_completed == job)
		j->latest_completed = NULL;
	pthread_mutex_unlock(&j->models_lock);
	fprintf(stderr, "traind: job %s (%s) deleted\n", job->id, job->cfg.name);
	jobstore_remove(j, job->id);
	pthread_mutex_unlock(&j->lock);
	job_free(job);
	return 0;
}

/* ---- models --------------------------------------------------------- */

/* The job a model name means: id, unique name, or "latest". Lock held. */
struct job *jobs_model_job_locked(struct jobs *j, const char *name, struct td_error *e)
{
	if (strcmp(name, "latest") == 0) {
		if (!j->latest_completed)
			td_errorf(e, TD_ENOTFOUND, "name",
				  "no job has completed yet, so there is no latest model");
		return j->latest_completed;
	}
	struct job *job = job_find_locked(j, name);
	if (job)
		return job;
	int matches = 0;
	for (int i = 0; i < j->n_jobs; i++)
		if (strcmp(j->list[i]->cfg.name, name) == 0) {
			job = j->list[i];
			matches++;
		}
	if (matches == 1)
		return job;
	if (matches > 1)
		td_errorf(e, TD_ENOTFOUND, "name",
			  "%d jobs are named \"%.40s\"; name the model by its job id", matches, name);
	else
		td_errorf(e, TD_ENOTFOUND, "name", "no model named \"%.40s\"", name);
	return NULL;
}

int jobs_snapshot(struct jobs *j, const char *name, struct model_snapshot **out,
		  struct td_error *e)
{
	*out = NULL;
	/* The model under models_lock alone (job.h): a runner holding `lock`
	 * for its step never delays a prediction. */
	struct td_error quiet;
	pthread_mutex_lock(&j->models_lock);
	struct job *found = jobs_model_job_locked(j, name, &quiet);
	if (found && found->snap) {
		snapshot_retain(found->snap);
		*out = found->snap;
	}
	pthread_mutex_unlock(&j->models_lock);
	if (*out)
		return 0;
	/* No weights to serve: the error names the job's state, read under
	 * `lock`, where it changes. */
	pthread_mutex_lock(&j->lock);
	struct job *job = jobs_model_job_locked(j, name, e);
	int rc = 0;
	if (!job)
		rc = TD_ENOTFOUND;
	else if (!job->snap)
		rc = td_errorf(e, TD_ESTATE, "name",
			       "model %s has no weights yet: its job is %s and has not trained "
			       "long enough to publish any", job->id, job_state_name(job->state));
	else {
		snapshot_retain(job->snap);
		*out = job->snap;
	}
	pthread_mutex_unlock(&j->lock);
	return rc;
}

/* ---- export and import ---------------------------------------------- */

int jobs_export(struct jobs *j, const char *name, void **buf, size_t *len, struct td_error *e)
{
	*buf = NULL;
	*len = 0;
	pthread_mutex_lock(&j->lock);
	struct job *job = jobs_model_job_locked(j, name, e);
	if (!job) {
		pthread_mutex_unlock(&j->lock);
		return TD_ENOTFOUND;
	}
	/* A finished job's last checkpoint is exactly what it serves. */
	if (job->state == JOB_COMPLETED && !job->busy &&
	    jobstore_read_checkpoint_locked(j, job, buf, len) == 0) {
		pthread_mutex_unlock(&j->lock);
		return 0;
	}
	struct model_snapshot *snap = job->snap;
	if (!snap) {
		pthread_mutex_unlock(&j->lock);
		return td_errorf(e, TD_ESTATE, "name", "model %s has no weights yet: its job is %s",
				 job->id, job_state_name(job->state));
	}
	snapshot_retain(snap);
	struct checkpoint ck = {.cfg = job->cfg, .shape = snap->shape, .width = job->ds->width,
				.height = job->ds->height, .n_classes = job->ds->n_classes,
				.class_names = job->ds->class_names, .n_params = snap->n_params,
				.params = snap->params, .test_accuracy = snap->test_accuracy};
	snprintf(ck.job_id, sizeof(ck.job_id), "%s", job->id);
	snprintf(ck.dataset, sizeof(ck.dataset), "%s", job->ds->name);
	pthread_mutex_unlock(&j->lock);
	int rc = checkpoint_encode(&ck, buf, len, e);
	snapshot_release(snap);
	return rc;
}

int jobs_import(struct jobs *j, const void *buf, size_t len, char id_out[JOB_ID_MAX],
		struct td_error *e)
{
	struct checkpoint ck;
	int rc = checkpoint_parse(buf, len, &ck, e);
	if (rc)
		return rc;
	if (ck.n_params > j->cfg.limits.max_params) {
		checkpoint_free(&ck);
		return td_errorf(e, TD_EINVAL, "parameters",
				 "the model has %zu parameters; the server allows at most %zu",
				 ck.n_params, j->cfg.limits.max_params);
	}
	struct job_config cfg = ck.cfg;
	cfg.epochs = 1; /* an imported model has no epochs of its own here */
	struct job *job = job_alloc(&cfg, j->cfg.max_curve_points);
	if (job)
		job->own_ds = dataset_from_memory(ck.dataset, ck.width, ck.height, ck.n_classes,
						  (const char *const *)ck.class_names, NULL, NULL, 0,
						  NULL, NULL, 0);
	if (job && job->own_ds)
		job->snap = snapshot_new("", &ck.shape, ck.params, ck.n_params, job->own_ds, 0,
					 ck.test_accuracy);
	if (!job || !job->own_ds || !job->snap) {
		if (job)
			job_free(job);
		checkpoint_free(&ck);
		return td_errorf(e, TD_ENOMEM, "", "out of memory importing a model");
	}
	job->cfg = ck.cfg;
	job->ds = job->own_ds;
	job->imported = 1;
	job->state = JOB_COMPLETED; /* created completed: not a transition */
	job->created_at = job->started_at = job->finished_at = job_unix_now();
	job->progress.epoch = job->cfg.epochs; /* shown as trained to the end */

	pthread_mutex_lock(&j->lock);
	if (j->n_jobs >= j->cfg.max_jobs) {
		pthread_mutex_unlock(&j->lock);
		job_free(job);
		checkpoint_free(&ck);
		return td_errorf(e, TD_EFULL, "", "the server keeps at most %d jobs; delete "
				 "finished ones first", j->cfg.max_jobs);
	}
	job_new_id_locked(j, job->id);
	snprintf(job->snap->job_id, sizeof(job->snap->job_id), "%s", job->id);
	job->seq = job->queue_seq = j->next_seq++;
	rc = jobstore_write_checkpoint_locked(j, job, buf, len, e);
	if (rc) {
		jobstore_remove(j, job->id);
		pthread_mutex_unlock(&j->lock);
		job_free(job);
		checkpoint_free(&ck);
		return rc;
	}
	pthread_mutex_lock(&j->models_lock);
	j->list[j->n_jobs++] = job;
	j->latest_completed = job;
	pthread_mutex_unlock(&j->models_lock);
	snprintf(id_out, JOB_ID_MAX, "%s", job->id);
	fprintf(stderr, "traind: job %s (%s) imported\n", job->id, job->cfg.name);
	pthread_mutex_unlock(&j->lock);
	checkpoint_free(&ck);
	return 0;
}

void jobs_stats(struct jobs *j, struct jobs_stats *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&j->lock);
	for (int i = 0; i < j->n_jobs; i++) {
		st->by_state[j->list[i]->state]++;
		if (j->list[i]->state == JOB_RUNNING)
			st->samples_per_second += j->list[i]->rate;
	}
	st->samples_total = j->samples_total;
	pthread_mutex_unlock(&j->lock);
}
