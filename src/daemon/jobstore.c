/*
 * jobstore.c - the job store: every job's files in the state dir, and
 * recovery from them at start (see job.h).
 *
 * Each job's directory state_dir/jobs/<id>/ holds job.json (its record),
 * curve.bin (its thinned loss curve, curve.h) and checkpoint.bin
 * (checkpoint.h), each replaced atomically. The runner saves progress at
 * every epoch end, every checkpoint_seconds, on pause, at shutdown and at
 * the end, between steps, from its own thread, with the weights stable.
 * Only the runner writes a job's checkpoint and curve; records are written
 * with the lock held, so they land in the order the states changed.
 *
 * At start every job is read back: queued, running or paused jobs resume
 * from their checkpoint, which carries the whole training position, so the
 * rest of the run is the run that was interrupted, bit for bit. Curve
 * points and epochs after the checkpoint are dropped: training repeats
 * them exactly. A write that fails fails the job with the step that
 * failed; the previous checkpoint stays as it was.
 */
#include "traind/job.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "traind/atomic_file.h"
#include "traind/jsonnum.h"

#define RECORD_VERSION 1
#define RECORD_MAX_BYTES (64u << 20)
#define CURVE_MAX_BYTES (64u << 20)

int jobstore_persistent(const struct jobs *j)
{
	return j->cfg.state_dir && j->cfg.state_dir[0];
}

/* state_dir/jobs/<id>/<file>; file "" names the directory. */
static int job_path(const struct jobs *j, const char *id, const char *file, char *out, size_t n)
{
	int k = snprintf(out, n, "%s/jobs/%s%s%s", j->cfg.state_dir, id, file[0] ? "/" : "", file);
	return k > 0 && (size_t)k < n ? 0 : -1;
}

static json_t *record_json_locked(const struct job *job)
{
	json_t *epochs = json_array();
	for (int i = 0; i < job->n_epochs; i++)
		json_array_append_new(epochs, job_epoch_json(&job->epochs[i]));
	json_t *o = json_object();
	json_object_set_new(o, "format", json_string("traind job"));
	json_object_set_new(o, "version", json_integer(RECORD_VERSION));
	json_object_set_new(o, "id", json_string(job->id));
	json_object_set_new(o, "seq", json_integer((json_int_t)job->seq));
	json_object_set_new(o, "config", jobcfg_to_json(&job->cfg));
	json_object_set_new(o, "state", json_string(job_state_name(job->state)));
	json_object_set_new(o, "created_at", td_json_num(job->created_at));
	json_object_set_new(o, "started_at", td_json_num(job->started_at));
	json_object_set_new(o, "finished_at", td_json_num(job->finished_at));
	json_object_set_new(o, "run_seconds", td_json_num(job->run_seconds));
	json_object_set_new(o, "error", json_string(job->error));
	json_object_set_new(o, "imported", json_boolean(job->imported));
	json_object_set_new(o, "restarts", json_integer(job->restarts));
	json_object_set_new(o, "epochs", epochs);
	return o;
}

int jobstore_write_record_locked(struct jobs *j, struct job *job, struct td_error *e)
{
	if (!jobstore_persistent(j))
		return 0;
	char dir[PATH_MAX], path[PATH_MAX];
	if (job_path(j, job->id, "", dir, sizeof(dir)) ||
	    job_path(j, job->id, "job.json", path, sizeof(path)))
		return td_errorf(e, TD_EINVAL, "state_dir", "the state dir's path is too long");
	int rc = make_dirs(dir, e);
	if (rc)
		return rc;
	json_t *rec = record_json_locked(job);
	char *text = rec ? json_dumps(rec, JSON_COMPACT | JSON_REAL_PRECISION(17)) : NULL;
	json_decref(rec);
	if (!text)
		return td_errorf(e, TD_ENOMEM, "", "out of memory writing job %s", job->id);
	struct iovec part = {text, strlen(text)};
	rc = atomic_write(path, &part, 1, e);
	free(text);
	return rc;
}

void jobstore_save_record_locked(struct jobs *j, struct job *job)
{
	struct td_error e;
	if (jobstore_write_record_locked(j, job, &e))
		fprintf(stderr, "traind: job %s: could not save its record: %s\n", job->id, e.msg);
}

/* The series files beside the record: the loss curve (curve.h) and the
 * learning's per-layer statistics and histograms (layerseries.h,
 * histseries.h), each encoded under the lock and written without it. */
enum series_file { SERIES_CURVE, SERIES_LAYERS, SERIES_HISTS };

static int write_series(struct jobs *j, struct job *job, enum series_file which,
			struct td_error *e)
{
	static const char *const names[] = {"curve.bin", "layers.bin", "hist.bin"};
	char path[PATH_MAX];
	if (job_path(j, job->id, names[which], path, sizeof(path)))
		return td_errorf(e, TD_EINVAL, "state_dir", "the state dir's path is too long");
	uint8_t *buf;
	size_t len;
	pthread_mutex_lock(&j->lock);
	int rc = which == SERIES_CURVE    ? curve_encode(&job->curve, &buf, &len, e)
		 : which == SERIES_LAYERS ? layer_series_encode(&job->layers, &buf, &len, e)
					  : hist_series_encode(&job->hists, &buf, &len, e);
	pthread_mutex_unlock(&j->lock);
	if (rc)
		return rc;
	struct iovec part = {buf, len};
	rc = atomic_write(path, &part, 1, e);
	free(buf);
	return rc;
}

/* Curve, record and checkpoint, in that order: recovery keeps only the
 * history up to the checkpoint's step, so a kill between any two writes
 * loses nothing that training will not repeat exactly (written the other
 * way round, a kill after an epoch's checkpoint but before its record
 * would lose that epoch's row for good). A failure is kept in stop_error,
 * which stops and fails the job. */
int jobstore_save_progress(struct jobs *j, struct job *job, struct trainer *t)
{
	if (!jobstore_persistent(j))
		return 0;
	char dir[PATH_MAX], path[PATH_MAX];
	struct td_error e;
	int rc = 0;
	if (job_path(j, job->id, "", dir, sizeof(dir)) ||
	    job_path(j, job->id, "checkpoint.bin", path, sizeof(path)))
		rc = td_errorf(&e, TD_EINVAL, "state_dir", "the state dir's path is too long");
	if (!rc)
		rc = make_dirs(dir, &e);
	if (!rc)
		rc = write_series(j, job, SERIES_CURVE, &e);
	if (!rc)
		rc = write_series(j, job, SERIES_LAYERS, &e);
	if (!rc)
		rc = write_series(j, job, SERIES_HISTS, &e);
	pthread_mutex_lock(&j->lock);
	if (!rc)
		rc = jobstore_write_record_locked(j, job, &e);
	double acc = job->n_epochs ? job->epochs[job->n_epochs - 1].st.test_accuracy : NAN;
	pthread_mutex_unlock(&j->lock);
	if (!rc) {
		struct checkpoint ck;
		checkpoint_from_trainer(&ck, job->id, t, job->ds, acc);
		rc = checkpoint_save(path, &ck, &e);
	}
	pthread_mutex_lock(&j->lock);
	job->ckpt_time = job_unix_now();
	if (rc && !job->stop_error[0])
		snprintf(job->stop_error, sizeof(job->stop_error), "checkpoint failed: %.400s",
			 e.msg);
	pthread_mutex_unlock(&j->lock);
	return rc;
}

int jobstore_job_dir(struct jobs *j, const struct job *job, char *out, size_t n,
		     struct td_error *e)
{
	if (!jobstore_persistent(j))
		return td_errorf(e, TD_EINVAL, "ranks", "a job across ranks needs the server's "
				 "state_dir, where its ranks write their checkpoints");
	if (job_path(j, job->id, "", out, n))
		return td_errorf(e, TD_EINVAL, "state_dir", "the state dir's path is too long");
	return make_dirs(out, e);
}

int jobstore_has_position(struct jobs *j, const struct job *job)
{
	char path[PATH_MAX];
	struct checkpoint ck;
	if (job_path(j, job->id, "checkpoint.bin", path, sizeof(path)) ||
	    checkpoint_load(path, &ck, NULL))
		return 0;
	int has = ck.has_state;
	checkpoint_free(&ck);
	return has;
}

void jobstore_save_history(struct jobs *j, struct job *job)
{
	struct td_error e;
	if (!jobstore_persistent(j))
		return;
	int rc = write_series(j, job, SERIES_CURVE, &e);
	pthread_mutex_lock(&j->lock);
	if (!rc)
		rc = jobstore_write_record_locked(j, job, &e);
	pthread_mutex_unlock(&j->lock);
	if (rc)
		fprintf(stderr, "traind: job %s: could not save its history: %s\n", job->id, e.msg);
}

int jobstore_write_checkpoint_locked(struct jobs *j, struct job *job, const void *buf,
				     size_t len, struct td_error *e)
{
	if (!jobstore_persistent(j))
		return 0;
	char path[PATH_MAX];
	struct iovec part = {(void *)buf, len};
	if (job_path(j, job->id, "", path, sizeof(path)) || make_dirs(path, e) ||
	    job_path(j, job->id, "checkpoint.bin", path, sizeof(path)) ||
	    atomic_write(path, &part, 1, e) || jobstore_write_record_locked(j, job, e))
		return e && e->msg[0] ? TD_EIO : td_errorf(e, TD_EIO, "", "could not save the model");
	return 0;
}

int jobstore_read_checkpoint_locked(struct jobs *j, const struct job *job, void **buf,
				    size_t *len)
{
	char path[PATH_MAX];
	if (!jobstore_persistent(j) || job_path(j, job->id, "checkpoint.bin", path, sizeof(path)))
		return TD_ENOTFOUND;
	return read_file(path, CHECKPOINT_MAX_BYTES, buf, len, NULL);
}

void jobstore_remove(struct jobs *j, const char *id)
{
	if (!jobstore_persistent(j))
		return;
	static const char *const files[] = {"job.json", "curve.bin", "layers.bin",
					     "hist.bin", "checkpoint.bin"};
	char path[PATH_MAX];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (!job_path(j, id, files[i], path, sizeof(path)))
			unlink(path);
	if (!job_path(j, id, "", path, sizeof(path))) {
		/* Temporaries of an interrupted write, then the directory. */
		DIR *d = opendir(path);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			char f[PATH_MAX];
			if (strstr(de->d_name, ".tmp.") &&
			    snprintf(f, sizeof(f), "%s/%s", path, de->d_name) < (int)sizeof(f))
				unlink(f);
		}
		if (d)
			closedir(d);
		rmdir(path);
	}
}

/* ---- recovery ------------------------------------------------------- */

static int is_job_id(const char *s)
{
	if (strncmp(s, "j-", 2) != 0 || strlen(s) != 8)
		return 0;
	for (const char *p = s + 2; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return 1;
}

/* Loads curve.bin, keeping the points up to max_step. */
static void read_curve(struct jobs *j, struct job *job, long max_step)
{
	char path[PATH_MAX];
	void *buf;
	size_t len;
	struct td_error e;
	if (job_path(j, job->id, "curve.bin", path, sizeof(path)) ||
	    read_file(path, CURVE_MAX_BYTES, &buf, &len, NULL))
		return;
	if (curve_decode(&job->curve, buf, len, max_step, &e))
		fprintf(stderr, "traind: job %s: its curve is lost: %s\n", job->id, e.msg);
	free(buf);
}

/* Loads layers.bin, keeping the points up to max_step. */
static void read_layers(struct jobs *j, struct job *job, long max_step)
{
	char path[PATH_MAX];
	void *buf;
	size_t len;
	struct td_error e;
	if (job_path(j, job->id, "layers.bin", path, sizeof(path)) ||
	    read_file(path, CURVE_MAX_BYTES, &buf, &len, NULL))
		return;
	if (layer_series_decode(&job->layers, buf, len, max_step, &e))
		fprintf(stderr, "traind: job %s: its layer statistics are lost: %s\n", job->id,
			e.msg);
	free(buf);
}

/* Loads hist.bin, keeping the epochs up to max_epoch. */
static void read_hists(struct jobs *j, struct job *job, int max_epoch)
{
	char path[PATH_MAX];
	void *buf;
	size_t len;
	struct td_error e;
	if (job_path(j, job->id, "hist.bin", path, sizeof(path)) ||
	    read_file(path, CURVE_MAX_BYTES, &buf, &len, NULL))
		return;
	if (hist_series_decode(&job->hists, buf, len, max_epoch, &e))
		fprintf(stderr, "traind: job %s: its histograms are lost: %s\n", job->id, e.msg);
	free(buf);
}

/* The record's fields into a new job in the state it was saved in; NULL
 * (logged) when the file is not a record this traind reads. */
static struct job *read_record(struct jobs *j, const char *id)
{
	char path[PATH_MAX];
	void *text;
	size_t len;
	struct td_error e;
	if (job_path(j, id, "job.json", path, sizeof(path)) ||
	    read_file(path, RECORD_MAX_BYTES, &text, &len, &e))
		return NULL;
	json_error_t je;
	json_t *rec = json_loadb(text, len, 0, &je);
	free(text);
	struct job_config cfg;
	jobcfg_defaults(&cfg);
	const char *state = json_string_value(json_object_get(rec, "state"));
	int st = state ? job_state_parse(state) : -1;
	struct job *job = NULL;
	if (!json_is_object(rec) || st < 0 ||
	    jobcfg_from_json(&cfg, json_object_get(rec, "config"), &e))
		fprintf(stderr, "traind: %s is not a job record this traind reads; skipped\n", path);
	else if ((job = job_alloc(&cfg, j->cfg.max_curve_points))) {
		snprintf(job->id, sizeof(job->id), "%.15s", id);
		job->state = (enum job_state)st; /* as saved: not a transition */
		json_t *seq = json_object_get(rec, "seq");
		job->seq = json_is_integer(seq) ? (unsigned long)json_integer_value(seq) : 0;
		job->created_at = td_json_num_get(rec, "created_at");
		job->started_at = td_json_num_get(rec, "started_at");
		job->finished_at = td_json_num_get(rec, "finished_at");
		job->run_seconds = td_json_num_get(rec, "run_seconds");
		if (!(job->run_seconds >= 0))
			job->run_seconds = 0; /* a record from before it was kept */
		job->imported = json_is_true(json_object_get(rec, "imported"));
		job->restarts = (int)json_integer_value(json_object_get(rec, "restarts"));
		const char *err = json_string_value(json_object_get(rec, "error"));
		snprintf(job->error, sizeof(job->error), "%s", err ? err : "");
		json_t *epochs = json_object_get(rec, "epochs");
		for (size_t i = 0; i < json_array_size(epochs) && job->n_epochs < job->cfg.epochs;
		     i++) {
			json_t *x = json_array_get(epochs, i);
			struct epoch_row *r = &job->epochs[job->n_epochs++];
			r->step = (long)td_json_num_get(x, "step");
			r->st = (struct epoch_stats){
				(int)td_json_num_get(x, "epoch"), td_json_num_get(x, "train_loss"),
				td_json_num_get(x, "train_accuracy"), td_json_num_get(x, "test_loss"),
				td_json_num_get(x, "test_accuracy"), td_json_num_get(x, "seconds"),
				td_json_num_get(x, "samples_per_second")};
		}
	}
	json_decref(rec);
	return job;
}

/* The job's data set: an imported model's own (from its checkpoint), or
 * the registry's; NULL when it is gone. */
static const struct dataset *find_dataset(struct jobs *j, struct job *job,
					  const struct checkpoint *ck)
{
	struct td_error e;
	const struct dataset *ds = NULL;
	if (job->imported && ck) {
		job->own_ds = dataset_from_memory(ck->dataset, ck->width, ck->height,
						  ck->n_classes, (const char *const *)ck->class_names,
						  NULL, NULL, 0, NULL, NULL, 0);
		ds = job->own_ds;
	} else if (registry_get(j->cfg.registry, job->cfg.dataset, &ds, &e)) {
		ds = NULL;
	}
	return ds;
}

/* Rebuilds one job from its directory; NULL when it cannot be read. */
static struct job *recover_job(struct jobs *j, const char *id)
{
	struct job *job = read_record(j, id);
	if (!job)
		return NULL;
	enum job_state saved = job->state;
	/* The checkpoint: weights to serve and, for an unfinished job, where
	 * to continue. */
	char path[PATH_MAX];
	struct td_error e;
	struct checkpoint *ck = calloc(1, sizeof(*ck));
	if (ck && (job_path(j, id, "checkpoint.bin", path, sizeof(path)) ||
		   checkpoint_load(path, ck, &e))) {
		if (access(path, F_OK) == 0)
			fprintf(stderr, "traind: job %s: its checkpoint cannot be used (%s)\n", id,
				e.msg);
		free(ck);
		ck = NULL;
	}
	int unfinished = saved == JOB_QUEUED || saved == JOB_RUNNING || saved == JOB_PAUSED;
	job->ds = find_dataset(j, job, ck);
	long upto = -1; /* last step whose curve point and epoch stand */
	if (!job->ds) {
		/* Without its data set a job can neither train nor say its classes. */
		if (unfinished || !job->error[0])
			snprintf(job->error, sizeof(job->error),
				 "data set %s is not available after the restart", job->cfg.dataset);
		if (unfinished)
			job_set_state(j, job, JOB_FAILED, "recovered");
		unfinished = 0;
		job->own_ds = dataset_from_memory(job->cfg.dataset, 1, 1, 2, NULL, NULL, NULL, 0,
						  NULL, NULL, 0);
		job->ds = job->own_ds;
	} else if (ck) {
		upto = ck->has_state ? ck->state.global_step : LONG_MAX;
		if (job->ds->features == ck->shape.sizes[0])
			job->snap = snapshot_new(id, &ck->shape, ck->params, ck->n_params, job->ds,
						 ck->has_state ? ck->state.global_step : 0,
						 ck->test_accuracy);
		if (ck->has_state) {
			job->progress.epoch = ck->state.epoch;
			job->progress.step = ck->state.global_step;
		}
	}
	if (!unfinished)
		upto = LONG_MAX; /* a finished job's history is all of it */
	int kept = 0;
	while (kept < job->n_epochs && job->epochs[kept].step <= upto)
		kept++;
	job->n_epochs = kept;
	read_curve(j, job, upto);
	read_layers(j, job, upto);
	read_hists(j, job, job->n_epochs);
	if (unfinished) {
		if (saved == JOB_RUNNING)
			job_set_state(j, job, JOB_QUEUED, "recovered");
		if (ck && ck->has_state) {
			job->resume = ck;
			ck = NULL;
		}
		j->resumed++;
	}
	if (ck) {
		checkpoint_free(ck);
		free(ck);
	}
	return job;
}

static int by_seq(const void *a, const void *b)
{
	const struct job *x = *(const struct job *const *)a, *y = *(const struct job *const *)b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int jobstore_recover_all(struct jobs *j, struct td_error *e)
{
	char dir[PATH_MAX];
	if (snprintf(dir, sizeof(dir), "%s/jobs", j->cfg.state_dir) >= (int)sizeof(dir))
		return td_errorf(e, TD_EINVAL, "state_dir", "the state dir's path is too long");
	int rc = make_dirs(dir, e);
	if (rc)
		return rc;
	DIR *d = opendir(dir);
	if (!d)
		return td_errorf(e, TD_EIO, "state_dir", "cannot read %s: %s", dir, strerror(errno));
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!is_job_id(de->d_name))
			continue;
		if (j->n_jobs == j->cfg.max_jobs) {
			fprintf(stderr, "traind: more than max_jobs = %d jobs in %s; the rest are "
				"not loaded\n", j->cfg.max_jobs, dir);
			break;
		}
		struct job *job = recover_job(j, de->d_name);
		if (job) {
			pthread_mutex_lock(&j->models_lock);
			j->list[j->n_jobs++] = job;
			pthread_mutex_unlock(&j->models_lock);
		}
	}
	closedir(d);
	pthread_mutex_lock(&j->models_lock);
	qsort(j->list, (size_t)j->n_jobs, sizeof(*j->list), by_seq);
	for (int i = 0; i < j->n_jobs; i++) {
		struct job *job = j->list[i];
		if (job->seq >= j->next_seq)
			j->next_seq = job->seq + 1;
		job->queue_seq = job->seq;
		if (job->state == JOB_COMPLETED && job->snap &&
		    (!j->latest_completed || job->finished_at >= j->latest_completed->finished_at))
			j->latest_completed = job;
	}
	pthread_mutex_unlock(&j->models_lock);
	j->recovered = j->n_jobs;
	return 0;
}
