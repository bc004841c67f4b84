/*
 * jobs.c - the job manager (see jobs.h).
 *
 * Threads and who owns what
 * -------------------------
 * One mutex, `lock`, guards every job record and the manager's lists.
 * `max_running` runner threads each own a worker pool. A runner sleeps on
 * `work` until a job is queued, takes the oldest (lowest `queue_seq`), marks
 * it running and `busy`, and trains it with the lock released. While `busy`
 * the runner alone touches the job's trainer; everything else about the job
 * (state, curve, progress, snapshot pointer) changes only under `lock`.
 *
 * The trainer calls back between steps on the runner's thread:
 *   should_stop  reads the job's pause/cancel requests and the shutdown flag;
 *   on_step      appends the loss to the curve, updates progress and, every
 *                `snapshot_seconds`, publishes a snapshot;
 *   on_epoch     records the epoch's figures and publishes a snapshot.
 * A snapshot is copied with the lock released (the weights are stable in a
 * hook) and swapped in under it; readers take a reference under the lock
 * and predict without it, so a prediction never waits for training.
 *
 * When trainer_run returns the runner settles the state (completed,
 * paused, cancelled, or queued again at shutdown), clears `busy` and
 * broadcasts `changed`, on which pause/cancel/delete wait for the runner to
 * acknowledge. Memory is bounded: at most max_jobs records, each with at
 * most max_curve_points points (thinned evenly) and `epochs` epoch rows.
 *
 * Durability (when a state dir is set): each job's directory holds
 * job.json (its record), curve.bin (its thinned loss curve) and
 * checkpoint.bin, each replaced atomically. The runner checkpoints at every
 * epoch end, every checkpoint_seconds, on pause, at shutdown and at the
 * end; it writes between steps, from its own thread, with the weights
 * stable. Only the runner writes a job's checkpoint and curve; records are
 * written with `lock` held, so they land in the order the states changed
 * (transitions are rare: a few milliseconds of fsync there is cheap). At start
 * the manager reads every job back: queued, running or paused jobs resume
 * from their checkpoint, which carries the whole training position, so the
 * rest of the run is the run that was interrupted, bit for bit. Curve
 * points and epochs after the checkpoint are dropped: training repeats
 * them exactly. A write that fails fails the job with the step that failed;
 * the previous checkpoint stays as it was.
 */
#include "traind/jobs.h"

#include <cblas.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "traind/atomic_file.h"
#include "traind/checkpoint.h"
#include "traind/nn.h"
#include "traind/pool.h"
#include "traind/rng.h"
#include "traind/train.h"

#define ACK_WAIT_SECONDS 30.0 /* how long pause/cancel wait for a step boundary */

static const char *const state_names[JOB_STATE_COUNT] = {
	"queued", "running", "paused", "completed", "failed", "cancelled",
};

const char *job_state_name(enum job_state s)
{
	return (unsigned)s < JOB_STATE_COUNT ? state_names[s] : "unknown";
}

int job_state_parse(const char *name)
{
	for (int i = 0; i < JOB_STATE_COUNT; i++)
		if (strcmp(state_names[i], name) == 0)
			return i;
	return -1;
}

/* ---- snapshots ------------------------------------------------------ */

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
	struct nn_ws_f ws;
	if (n < 1)
		return td_errorf(e, TD_EINVAL, "instances", "instances must not be empty");
	if (nn_ws_init_f(&ws, &s->shape, n))
		return td_errorf(e, TD_ENOMEM, "instances", "out of memory for %d instances", n);
	memcpy(ws.act[0], x, sizeof(float) * (size_t)n * (size_t)s->shape.sizes[0]);
	nn_forward_f(&s->shape, s->params, &ws, n);
	int L = s->shape.n_layers, C = s->shape.sizes[L];
	memcpy(probs, ws.act[L], sizeof(float) * (size_t)n * (size_t)C);
	nn_ws_free_f(&ws);
	return 0;
}

/* The trainer evaluates in blocks of this many samples (train.c); the
 * same blocks give the same GEMMs, hence bit-for-bit the same outputs. */
#define CONFUSION_BLOCK 64

int snapshot_confusion(const struct model_snapshot *s, long *matrix, double *accuracy,
		       struct td_error *e)
{
	const struct dataset *ds = s->ds;
	size_t C = (size_t)ds->n_classes, F = (size_t)ds->features;
	int units = s->shape.sizes[s->shape.n_layers];
	if (!ds->n_test)
		return td_errorf(e, TD_EINVAL, "dataset", "data set %s has no test samples",
				 ds->name);
	struct nn_ws_f ws;
	if (nn_ws_init_f(&ws, &s->shape, CONFUSION_BLOCK))
		return td_errorf(e, TD_ENOMEM, "", "out of memory for the test set's evaluation");
	memset(matrix, 0, sizeof(*matrix) * C * C);
	long hits = 0;
	for (size_t lo = 0; lo < ds->n_test; lo += CONFUSION_BLOCK) {
		size_t n = ds->n_test - lo < CONFUSION_BLOCK ? ds->n_test - lo : CONFUSION_BLOCK;
		const uint8_t *x = ds->test_x + lo * F; /* [n x F] bytes */
		for (size_t i = 0; i < n * F; i++)
			ws.act[0][i] = (float)x[i] / 255.0f; /* as the trainer converts */
		nn_forward_f(&s->shape, s->params, &ws, (int)n);
		const float *out = ws.act[s->shape.n_layers]; /* [n x units] */
		for (size_t r = 0; r < n; r++) {
			size_t truth = ds->test_y[lo + r];
			size_t guess = (size_t)nn_predicted_class_f(out + r * (size_t)units, units);
			matrix[truth * C + guess]++;
			hits += truth == guess;
		}
	}
	nn_ws_free_f(&ws);
	*accuracy = (double)hits / (double)ds->n_test;
	return 0;
}

/* ---- records -------------------------------------------------------- */

struct curve_point {
	long step;
	double time;
	float loss;
};

struct epoch_row {
	struct epoch_stats st;
	long step; /* global step at the epoch's end */
};

struct job {
	char id[JOB_ID_MAX];
	struct job_config cfg;
	const struct dataset *ds;
	enum job_state state;
	unsigned long queue_seq; /* order among queued jobs */
	int pause_requested, cancel_requested;
	int busy; /* a runner holds it */
	double created_at, started_at, finished_at; /* unix seconds, 0 = never */
	char error[512];

	struct trainer *trainer; /* while it can still train */
	struct train_progress progress;
	double latest_loss;
	double rate; /* samples/s, recent */
	double rate_t0;
	long rate_samples;

	struct curve_point *points;
	size_t n_points;
	long stride; /* kept points are at least this many steps apart */
	struct epoch_row *epochs;
	int n_epochs;

	struct model_snapshot *snap;
	double snap_time;

	unsigned long seq;         /* creation order, kept across restarts */
	double ckpt_time;          /* last checkpoint, unix seconds */
	struct checkpoint *resume; /* read at start; the runner restores it */
	struct dataset *own_ds;    /* an imported model's class names and size */
	int imported;
	char io_error[512];        /* a failed write: fails the job */
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
	pthread_cond_t work;    /* a job was queued, or shutdown */
	pthread_cond_t changed; /* a runner settled a job */
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

static double unix_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void job_free(struct job *job)
{
	trainer_free(job->trainer);
	snapshot_release(job->snap);
	if (job->resume) {
		checkpoint_free(job->resume);
		free(job->resume);
	}
	dataset_free(job->own_ds);
	free(job->points);
	free(job->epochs);
	free(job);
}

/* A new record with its buffers; NULL when out of memory. */
static struct job *job_alloc(const struct job_config *cfg, size_t max_points)
{
	struct job *job = calloc(1, sizeof(*job));
	if (!job)
		return NULL;
	job->points = malloc(sizeof(*job->points) * max_points);
	job->epochs = calloc((size_t)cfg->epochs, sizeof(*job->epochs));
	if (!job->points || !job->epochs) {
		job_free(job);
		return NULL;
	}
	job->cfg = *cfg;
	job->stride = 1;
	job->latest_loss = NAN;
	return job;
}

static struct job *find_locked(struct jobs *j, const char *id)
{
	for (int i = 0; i < j->n_jobs; i++)
		if (strcmp(j->list[i]->id, id) == 0)
			return j->list[i];
	return NULL;
}

static int not_found(const char *id, struct td_error *e)
{
	return td_errorf(e, TD_ENOTFOUND, "id", "no job with id \"%.40s\"", id);
}

/* ---- the curve ------------------------------------------------------ */

/* Appends a point, keeping at most cap points: the newest is always there;
 * older points keep at least `stride` steps between them, and when the
 * array fills every other one is dropped and the stride doubles. */
static void curve_add(struct job *job, size_t cap, long step, double time, double loss)
{
	struct curve_point p = {step, time, (float)loss};
	size_t n = job->n_points;
	if (n >= 2 && job->points[n - 1].step - job->points[n - 2].step < job->stride) {
		job->points[n - 1] = p; /* the newest replaces a provisional newest */
		return;
	}
	if (n == cap) {
		size_t k = 0;
		for (size_t i = 0; i < n - 1; i += 2)
			job->points[k++] = job->points[i];
		job->points[k++] = job->points[n - 1];
		job->n_points = n = k;
		job->stride *= 2;
	}
	job->points[job->n_points++] = p;
}


/* ---- the state dir -------------------------------------------------- */

#define RECORD_VERSION 1
#define CURVE_MAGIC "TRDCURVE"
#define RECORD_MAX_BYTES (64u << 20)

static int persistent(const struct jobs *j)
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
	for (int i = 0; i < job->n_epochs; i++) {
		const struct epoch_row *r = &job->epochs[i];
		json_array_append_new(epochs, json_pack("{s:i, s:I, s:f, s:f, s:f, s:f, s:f, s:f}",
						"epoch", r->st.epoch, "step", (json_int_t)r->step,
						"train_loss", r->st.train_loss, "train_accuracy",
						r->st.train_accuracy, "test_loss", r->st.test_loss,
						"test_accuracy", r->st.test_accuracy, "seconds",
						r->st.seconds, "samples_per_second",
						r->st.samples_per_second));
	}
	return json_pack("{s:s, s:i, s:s, s:I, s:o, s:s, s:f, s:f, s:f, s:s, s:b, s:o}", "format",
			 "traind job", "version", RECORD_VERSION, "id", job->id, "seq",
			 (json_int_t)job->seq, "config", jobcfg_to_json(&job->cfg), "state",
			 job_state_name(job->state), "created_at", job->created_at, "started_at",
			 job->started_at, "finished_at", job->finished_at, "error", job->error,
			 "imported", job->imported, "epochs", epochs);
}

/* Writes job.json; lock held (so records land in order). */
static int write_record_locked(struct jobs *j, struct job *job, struct td_error *e)
{
	if (!persistent(j))
		return 0;
	char dir[PATH_MAX], path[PATH_MAX];
	if (job_path(j, job->id, "", dir, sizeof(dir)) || job_path(j, job->id, "job.json", path, sizeof(path)))
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

/* A transition's record; a failure is logged (the job itself goes on). */
static void save_record_locked(struct jobs *j, struct job *job)
{
	struct td_error e;
	if (write_record_locked(j, job, &e))
		fprintf(stderr, "traind: job %s: could not save its record: %s\n", job->id, e.msg);
}

static void put_le(unsigned char *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* curve.bin: "TRDCURVE", u32 count, then count x (i64 step, f64 time,
 * f32 loss), little-endian. Written by the job's runner only. */
static int write_curve(struct jobs *j, struct job *job, struct td_error *e)
{
	char path[PATH_MAX];
	if (job_path(j, job->id, "curve.bin", path, sizeof(path)))
		return td_errorf(e, TD_EINVAL, "state_dir", "the state dir's path is too long");
	pthread_mutex_lock(&j->lock);
	size_t n = job->n_points;
	unsigned char *buf = malloc(12 + 20 * n);
	if (buf) {
		memcpy(buf, CURVE_MAGIC, 8);
		put_le(buf + 8, n, 4);
		for (size_t i = 0; i < n; i++) {
			uint64_t t, l = 0;
			uint32_t l32;
			memcpy(&t, &job->points[i].time, 8);
			memcpy(&l32, &job->points[i].loss, 4);
			l = l32;
			put_le(buf + 12 + 20 * i, (uint64_t)job->points[i].step, 8);
			put_le(buf + 12 + 20 * i + 8, t, 8);
			put_le(buf + 12 + 20 * i + 16, l, 4);
		}
	}
	pthread_mutex_unlock(&j->lock);
	if (!buf)
		return td_errorf(e, TD_ENOMEM, "", "out of memory saving job %s's curve", job->id);
	struct iovec part = {buf, 12 + 20 * n};
	int rc = atomic_write(path, &part, 1, e);
	free(buf);
	return rc;
}

/* Curve, record and checkpoint, from the runner between steps, in that
 * order: recovery keeps only the history up to the checkpoint's step, so a
 * kill between any two writes loses nothing that training will not repeat
 * exactly (written the other way round, a kill after an epoch's checkpoint
 * but before its record would lose that epoch's row for good). A failure
 * is kept in io_error, which stops and fails the job. */
static int save_progress(struct jobs *j, struct job *job, struct trainer *t)
{
	if (!persistent(j))
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
		rc = write_curve(j, job, &e);
	pthread_mutex_lock(&j->lock);
	if (!rc)
		rc = write_record_locked(j, job, &e);
	double acc = job->n_epochs ? job->epochs[job->n_epochs - 1].st.test_accuracy : NAN;
	pthread_mutex_unlock(&j->lock);
	if (!rc) {
		struct checkpoint ck;
		checkpoint_from_trainer(&ck, job->id, t, job->ds, acc);
		rc = checkpoint_save(path, &ck, &e);
	}
	pthread_mutex_lock(&j->lock);
	job->ckpt_time = unix_now();
	if (rc && !job->io_error[0])
		snprintf(job->io_error, sizeof(job->io_error), "checkpoint failed: %.400s", e.msg);
	pthread_mutex_unlock(&j->lock);
	return rc;
}

static void remove_job_files(struct jobs *j, const char *id)
{
	if (!persistent(j))
		return;
	static const char *const files[] = {"job.json", "curve.bin", "checkpoint.bin"};
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

/* ---- runners -------------------------------------------------------- */

/* A snapshot holding a copy of n weights; NULL when out of memory. */
static struct model_snapshot *snapshot_new(const char *job_id, const struct model_shape *shape,
					   const float *params, size_t n,
					   const struct dataset *ds, long step, double accuracy)
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

static struct model_snapshot *snapshot_make(struct job *job, struct trainer *t)
{
	return snapshot_new(job->id, trainer_shape(t), trainer_params(t), trainer_param_count(t),
			    job->ds, 0, NAN);
}

/* Copies the weights (lock not held) and swaps the snapshot in. */
static void publish(struct jobs *j, struct job *job, struct trainer *t, long step, double acc)
{
	struct model_snapshot *s = snapshot_make(job, t);
	if (!s)
		return; /* keep serving the previous one */
	s->step = step;
	pthread_mutex_lock(&j->lock);
	s->test_accuracy = isnan(acc) && job->snap ? job->snap->test_accuracy : acc;
	struct model_snapshot *old = job->snap;
	job->snap = s;
	job->snap_time = unix_now();
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
		   h->job->io_error[0];
	pthread_mutex_unlock(&h->j->lock);
	return stop;
}

static void hook_on_step(void *arg, struct trainer *t, long step, double loss)
{
	struct hook_ctx *h = arg;
	struct job *job = h->job;
	double now = unix_now();
	pthread_mutex_lock(&h->j->lock);
	curve_add(job, h->j->cfg.max_curve_points, step, now, loss);
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
	int due = now - job->snap_time >= h->j->cfg.snapshot_seconds;
	int ckpt_due = h->j->cfg.checkpoint_seconds > 0 &&
		       now - job->ckpt_time >= h->j->cfg.checkpoint_seconds;
	pthread_mutex_unlock(&h->j->lock);
	if (due)
		publish(h->j, job, t, step, NAN);
	if (ckpt_due)
		save_progress(h->j, job, t);
}

static void hook_on_epoch(void *arg, struct trainer *t, const struct epoch_stats *st)
{
	struct hook_ctx *h = arg;
	struct job *job = h->job;
	pthread_mutex_lock(&h->j->lock);
	trainer_progress(t, &job->progress);
	if (job->n_epochs < job->cfg.epochs)
		job->epochs[job->n_epochs++] = (struct epoch_row){*st, job->progress.step};
	pthread_mutex_unlock(&h->j->lock);
	publish(h->j, job, t, job->progress.step, st->test_accuracy);
	save_progress(h->j, job, t);
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

static void log_transition(const struct job *job, const char *to)
{
	fprintf(stderr, "traind: job %s (%s) %s\n", job->id, job->cfg.name, to);
}

static void *runner_main(void *arg)
{
	struct runner *r = arg;
	struct jobs *j = r->j;
	pthread_mutex_lock(&j->lock);
	for (;;) {
		struct job *job = next_queued_locked(j);
		if (!job)
			break;
		job->busy = 1;
		job->state = JOB_RUNNING;
		job->pause_requested = 0;
		if (!job->started_at)
			job->started_at = unix_now();
		job->rate_t0 = unix_now();
		job->rate_samples = 0;
		r->job = job;
		log_transition(job, "running");
		pthread_mutex_unlock(&j->lock);

		int rc = 0;
		struct td_error err;
		td_error_clear(&err);
		if (!job->trainer) {
			rc = trainer_create(&job->cfg, job->ds, r->pool, &job->trainer, &err);
			if (rc == 0 && job->resume) {
				/* Recovered at start: continue from the checkpoint. */
				struct checkpoint *ck = job->resume;
				rc = trainer_restore(job->trainer, &ck->state, ck->params,
						     ck->n_params, ck->moment, ck->n_moments, &err);
				pthread_mutex_lock(&j->lock);
				job->resume = NULL;
				trainer_progress(job->trainer, &job->progress);
				pthread_mutex_unlock(&j->lock);
				checkpoint_free(ck);
				free(ck);
			}
		} else {
			rc = trainer_set_workers(job->trainer, job->cfg.workers, &err);
		}
		/* A resumed trainer may have been built on another runner's pool. */
		if (rc == 0)
			rc = trainer_rebind_pool(job->trainer, r->pool, &err);
		if (rc == 0) {
			struct hook_ctx h = {j, job};
			struct train_hooks hooks = {
				.arg = &h,
				.on_step = hook_on_step,
				.on_epoch = hook_on_epoch,
				.should_stop = hook_should_stop,
			};
			rc = trainer_run(job->trainer, &hooks);
			if (rc >= 0) {
				struct train_progress pr;
				trainer_progress(job->trainer, &pr);
				publish(j, job, job->trainer, pr.step, NAN);
				/* Paused, stopped for shutdown, or done: keep where it is. */
				pthread_mutex_lock(&j->lock);
				int cancelled = job->cancel_requested;
				pthread_mutex_unlock(&j->lock);
				if (!cancelled)
					save_progress(j, job, job->trainer);
			}
		}

		pthread_mutex_lock(&j->lock);
		struct trainer *done_trainer = NULL;
		if (rc < 0 || job->io_error[0]) {
			job->state = JOB_FAILED;
			if (job->io_error[0])
				snprintf(job->error, sizeof(job->error), "%s", job->io_error);
			else
				snprintf(job->error, sizeof(job->error), "%s",
					 err.msg[0] ? err.msg : td_strerror(rc));
			done_trainer = job->trainer;
		} else if (rc == 0) {
			job->state = JOB_COMPLETED;
			done_trainer = job->trainer;
			j->latest_completed = job;
		} else if (job->cancel_requested) {
			job->state = JOB_CANCELLED;
			done_trainer = job->trainer;
		} else if (job->pause_requested) {
			job->state = JOB_PAUSED;
		} else {
			job->state = JOB_QUEUED; /* shutdown: resumable */
		}
		if (done_trainer) {
			job->trainer = NULL;
			job->finished_at = unix_now();
		}
		job->rate = 0;
		job->busy = 0;
		r->job = NULL;
		log_transition(job, job_state_name(job->state));
		save_record_locked(j, job);
		pthread_cond_broadcast(&j->changed);
		pthread_mutex_unlock(&j->lock);
		trainer_free(done_trainer);
		pthread_mutex_lock(&j->lock);
	}
	pthread_mutex_unlock(&j->lock);
	return NULL;
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

static double num_field(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* Loads curve.bin, keeping the points up to max_step. */
static void read_curve(struct jobs *j, struct job *job, long max_step)
{
	char path[PATH_MAX];
	void *buf;
	size_t len;
	if (job_path(j, job->id, "curve.bin", path, sizeof(path)) ||
	    read_file(path, 12 + 20 * (size_t)10000000, &buf, &len, NULL))
		return;
	const unsigned char *b = buf;
	if (len >= 12 && memcmp(b, CURVE_MAGIC, 8) == 0) {
		size_t n = (size_t)get_le(b + 8, 4);
		if (len == 12 + 20 * n) {
			for (size_t i = 0; i < n; i++) {
				long step = (long)get_le(b + 12 + 20 * i, 8);
				uint64_t t = get_le(b + 12 + 20 * i + 8, 8);
				uint32_t l = (uint32_t)get_le(b + 12 + 20 * i + 16, 4);
				double time;
				float loss;
				memcpy(&time, &t, 8);
				memcpy(&loss, &l, 4);
				if (step > max_step || step < 0)
					break;
				curve_add(job, j->cfg.max_curve_points, step, time, loss);
			}
		}
	}
	free(buf);
}

/* Rebuilds one job from its directory; NULL when it cannot be read. */
static struct job *recover_job(struct jobs *j, const char *id)
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
	if (!json_is_object(rec) || st < 0 || jobcfg_from_json(&cfg, json_object_get(rec, "config"), &e)) {
		fprintf(stderr, "traind: %s is not a job record this traind reads; skipped\n", path);
		json_decref(rec);
		return NULL;
	}
	struct job *job = job_alloc(&cfg, j->cfg.max_curve_points);
	if (!job) {
		json_decref(rec);
		return NULL;
	}
	snprintf(job->id, sizeof(job->id), "%.15s", id);
	job->state = (enum job_state)st;
	json_t *seq = json_object_get(rec, "seq");
	job->seq = json_is_integer(seq) ? (unsigned long)json_integer_value(seq) : 0;
	job->created_at = num_field(rec, "created_at");
	job->started_at = num_field(rec, "started_at");
	job->finished_at = num_field(rec, "finished_at");
	job->imported = json_is_true(json_object_get(rec, "imported"));
	const char *err = json_string_value(json_object_get(rec, "error"));
	snprintf(job->error, sizeof(job->error), "%s", err ? err : "");

	/* The checkpoint: weights to serve and, for an unfinished job, where
	 * to continue. */
	struct checkpoint *ck = calloc(1, sizeof(*ck));
	int have_ck = ck && !job_path(j, id, "checkpoint.bin", path, sizeof(path)) &&
		      checkpoint_load(path, ck, &e) == 0;
	if (!have_ck && ck && access(path, F_OK) == 0)
		fprintf(stderr, "traind: job %s: its checkpoint cannot be used (%s)\n", id, e.msg);
	int unfinished = st == JOB_QUEUED || st == JOB_RUNNING || st == JOB_PAUSED;
	if (job->imported && have_ck) {
		job->own_ds = dataset_from_memory(ck->dataset, ck->width, ck->height,
						  ck->n_classes, (const char *const *)ck->class_names,
						  NULL, NULL, 0, NULL, NULL, 0);
		job->ds = job->own_ds;
	} else if (registry_get(j->cfg.registry, cfg.dataset, &job->ds, &e)) {
		job->ds = NULL;
	}
	if (!job->ds) {
		/* Without its data set a job can neither train nor say its classes. */
		if (unfinished || !job->error[0])
			snprintf(job->error, sizeof(job->error),
				 "data set %s is not available after the restart", cfg.dataset);
		if (unfinished)
			job->state = JOB_FAILED;
		unfinished = 0;
		job->own_ds = dataset_from_memory(cfg.dataset, 1, 1, 2, NULL, NULL, NULL, 0, NULL,
						  NULL, 0);
		job->ds = job->own_ds;
		have_ck = 0;
	}
	long upto = -1; /* last step whose curve point and epoch stand */
	if (have_ck) {
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
	json_t *epochs = json_object_get(rec, "epochs");
	for (size_t i = 0; i < json_array_size(epochs) && job->n_epochs < job->cfg.epochs; i++) {
		json_t *x = json_array_get(epochs, i);
		long step = (long)num_field(x, "step");
		if (step > upto)
			break;
		struct epoch_row *r = &job->epochs[job->n_epochs++];
		r->step = step;
		r->st = (struct epoch_stats){(int)num_field(x, "epoch"), num_field(x, "train_loss"),
					     num_field(x, "train_accuracy"), num_field(x, "test_loss"),
					     num_field(x, "test_accuracy"), num_field(x, "seconds"),
					     num_field(x, "samples_per_second")};
	}
	read_curve(j, job, upto);
	if (unfinished) {
		if (st == JOB_RUNNING)
			job->state = JOB_QUEUED;
		if (have_ck && ck->has_state) {
			job->resume = ck;
			ck = NULL;
		}
		j->resumed++;
	}
	if (ck) {
		checkpoint_free(ck);
		free(ck);
	}
	json_decref(rec);
	/* Running became queued, or a lost data set failed it: the disk too. */
	if (job->state != (enum job_state)st)
		save_record_locked(j, job);
	return job;
}

static int by_seq(const void *a, const void *b)
{
	const struct job *x = *(const struct job *const *)a, *y = *(const struct job *const *)b;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Reads every job in the state dir back (before the runners start). */
static int recover_all(struct jobs *j, struct td_error *e)
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
		if (job)
			j->list[j->n_jobs++] = job;
	}
	closedir(d);
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
	j->recovered = j->n_jobs;
	return 0;
}

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
	pthread_cond_init(&j->work, NULL);
	pthread_cond_init(&j->changed, NULL);
	rng_seed(&j->id_rng, (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
	j->list = calloc((size_t)cfg->max_jobs, sizeof(*j->list));
	j->runners = calloc((size_t)cfg->max_running, sizeof(*j->runners));
	if (!j->list || !j->runners) {
		jobs_free(j);
		return td_errorf(e, TD_ENOMEM, "", "out of memory");
	}
	if (persistent(j)) {
		int rc = recover_all(j, e);
		if (rc) {
			jobs_free(j);
			return rc;
		}
	}
	for (int i = 0; i < cfg->max_running; i++) {
		struct runner *r = &j->runners[i];
		r->j = j;
		int rc = pool_create(cfg->pool_workers, &r->pool, e);
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
	pthread_mutex_destroy(&j->lock);
	free(j);
}

/* ---- submission and transitions ------------------------------------- */

int jobs_submit(struct jobs *j, const struct job_config *cfg, char id_out[JOB_ID_MAX],
		struct td_error *e)
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
	struct model_shape shape;
	int outputs = cfg->output == OUT_SIGMOID && ds->n_classes == 2 ? 1 : ds->n_classes;
	rc = model_shape_make(&shape, ds->features, cfg->hidden, cfg->n_hidden, outputs,
			      cfg->activation, cfg->output, cfg->loss, e);
	if (rc)
		return rc;
	if (model_param_count(&shape) > j->cfg.limits.max_params)
		return td_errorf(e, TD_EINVAL, "hidden",
				 "this model has %zu parameters on %s; the server allows at most %zu",
				 model_param_count(&shape), ds->name, j->cfg.limits.max_params);

	struct job *job = job_alloc(cfg, j->cfg.max_curve_points);
	if (!job)
		return td_errorf(e, TD_ENOMEM, "", "out of memory for a new job");
	job->ds = ds;
	job->created_at = unix_now();

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
	do
		snprintf(job->id, sizeof(job->id), "j-%06llx",
			 (unsigned long long)(rng_next(&j->id_rng) & 0xffffff));
	while (find_locked(j, job->id));
	if (!job->cfg.name[0])
		snprintf(job->cfg.name, sizeof(job->cfg.name), "%s", job->id);
	job->state = JOB_QUEUED;
	job->seq = job->queue_seq = j->next_seq++;
	struct td_error we;
	if (write_record_locked(j, job, &we)) {
		pthread_mutex_unlock(&j->lock);
		job_free(job);
		return td_errorf(e, TD_EIO, "", "could not save the new job: %s", we.msg);
	}
	j->list[j->n_jobs++] = job;
	snprintf(id_out, JOB_ID_MAX, "%s", job->id);
	log_transition(job, "queued");
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
	struct job *job = find_locked(j, id);
	int rc = 0;
	if (!job)
		rc = not_found(id, e);
	else if (job->state == JOB_QUEUED && !job->busy) {
		job->state = JOB_PAUSED;
		log_transition(job, "paused");
		save_record_locked(j, job);
	}
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
	struct job *job = find_locked(j, id);
	int rc = 0;
	if (!job)
		rc = not_found(id, e);
	else if (job->state == JOB_PAUSED) {
		job->pause_requested = 0;
		job->state = JOB_QUEUED;
		job->queue_seq = j->next_seq++;
		log_transition(job, "queued (resumed)");
		save_record_locked(j, job);
		pthread_cond_broadcast(&j->work);
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
	struct job *job = find_locked(j, id);
	int rc = 0;
	if (!job)
		rc = not_found(id, e);
	else if ((job->state == JOB_QUEUED || job->state == JOB_PAUSED) && !job->busy) {
		job->state = JOB_CANCELLED;
		if (job->resume) {
			checkpoint_free(job->resume);
			free(job->resume);
			job->resume = NULL;
		}
		job->finished_at = unix_now();
		drop = job->trainer;
		job->trainer = NULL;
		log_transition(job, "cancelled");
		save_record_locked(j, job);
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
	struct job *job = find_locked(j, id);
	if (!job) {
		pthread_mutex_unlock(&j->lock);
		return not_found(id, e);
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
	memmove(&j->list[i], &j->list[i + 1], sizeof(*j->list) * (size_t)(j->n_jobs - i - 1));
	j->n_jobs--;
	if (j->latest_completed == job)
		j->latest_completed = NULL;
	log_transition(job, "deleted");
	remove_job_files(j, job->id);
	pthread_mutex_unlock(&j->lock);
	job_free(job);
	return 0;
}

/* ---- JSON views ----------------------------------------------------- */

static json_t *time_json(double t)
{
	if (t <= 0)
		return json_null();
	time_t s = (time_t)t;
	struct tm tm;
	gmtime_r(&s, &tm);
	char buf[32];
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

static json_t *num_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

/* What the job object shows, copied under the lock so the JSON can be
 * built without it: a poll never holds up a training step for longer
 * than a memcpy. */
struct job_view {
	char id[JOB_ID_MAX];
	struct job_config cfg;
	enum job_state state;
	struct train_progress progress;
	long steps_per_epoch;
	double latest_loss, rate;
	int has_last;
	struct epoch_stats last;
	double created_at, started_at, finished_at;
	char error[512];
};

static void job_view_locked(const struct job *job, struct job_view *v)
{
	memcpy(v->id, job->id, sizeof(v->id));
	v->cfg = job->cfg;
	v->state = job->state;
	v->progress = job->progress;
	v->steps_per_epoch = (long)((job->ds->n_train + (size_t)job->cfg.batch_size - 1) /
				    (size_t)job->cfg.batch_size);
	v->latest_loss = job->latest_loss;
	v->rate = job->rate;
	v->has_last = job->n_epochs > 0;
	if (v->has_last)
		v->last = job->epochs[job->n_epochs - 1].st;
	v->created_at = job->created_at;
	v->started_at = job->started_at;
	v->finished_at = job->finished_at;
	memcpy(v->error, job->error, sizeof(v->error));
}

static json_t *job_view_json(const struct job_view *v)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(v->id));
	json_object_set_new(o, "name", json_string(v->cfg.name));
	json_object_set_new(o, "state", json_string(job_state_name(v->state)));
	json_object_set_new(o, "config", jobcfg_to_json(&v->cfg));
	json_object_set_new(o, "progress",
			    json_pack("{s:i, s:i, s:I, s:I}", "epoch", v->progress.epoch,
				      "epochs", v->cfg.epochs, "step", (json_int_t)v->progress.step,
				      "steps", (json_int_t)(v->steps_per_epoch * v->cfg.epochs)));
	const struct epoch_stats *last = v->has_last ? &v->last : NULL;
	json_t *latest = json_object();
	json_object_set_new(latest, "loss", num_or_null(v->latest_loss));
	json_object_set_new(latest, "train_accuracy", num_or_null(last ? last->train_accuracy : NAN));
	json_object_set_new(latest, "test_accuracy", num_or_null(last ? last->test_accuracy : NAN));
	json_object_set_new(latest, "test_loss", num_or_null(last ? last->test_loss : NAN));
	json_object_set_new(latest, "samples_per_second",
			    v->state == JOB_RUNNING ? json_real(v->rate)
						    : num_or_null(last ? last->samples_per_second : NAN));
	json_object_set_new(o, "latest", latest);
	json_object_set_new(o, "created_at", time_json(v->created_at));
	json_object_set_new(o, "started_at", time_json(v->started_at));
	json_object_set_new(o, "finished_at", time_json(v->finished_at));
	json_object_set_new(o, "error", v->error[0] ? json_string(v->error) : json_null());
	return o;
}

json_t *jobs_get_json(struct jobs *j, const char *id, struct td_error *e)
{
	struct job_view *v = malloc(sizeof(*v));
	if (!v) {
		td_errorf(e, TD_ENOMEM, "", "out of memory");
		return NULL;
	}
	pthread_mutex_lock(&j->lock);
	struct job *job = find_locked(j, id);
	if (job)
		job_view_locked(job, v);
	pthread_mutex_unlock(&j->lock);
	json_t *o = job ? job_view_json(v) : NULL;
	free(v);
	if (!job)
		not_found(id, e);
	return o;
}

json_t *jobs_list_json(struct jobs *j, int state, int limit)
{
	json_t *arr = json_array();
	struct job_view *v = calloc((size_t)(limit > 0 ? limit : 1), sizeof(*v));
	int n = 0;
	if (v) {
		pthread_mutex_lock(&j->lock);
		for (int i = j->n_jobs - 1; i >= 0 && n < limit; i--)
			if (state < 0 || (int)j->list[i]->state == state)
				job_view_locked(j->list[i], &v[n++]);
		pthread_mutex_unlock(&j->lock);
	}
	for (int i = 0; i < n; i++)
		json_array_append_new(arr, job_view_json(&v[i]));
	free(v);
	return json_pack("{s:o}", "jobs", arr);
}

json_t *jobs_metrics_json(struct jobs *j, const char *id, long since_step, int max_points,
			  struct td_error *e)
{
	pthread_mutex_lock(&j->lock);
	struct job *job = find_locked(j, id);
	if (!job) {
		pthread_mutex_unlock(&j->lock);
		not_found(id, e);
		return NULL;
	}
	/* Under the lock: pick the points (evenly thinned to max_points, the
	 * newest always in) and the epochs, and copy them out. */
	size_t first = 0;
	while (first < job->n_points && job->points[first].step < since_step)
		first++;
	size_t count = job->n_points - first;
	size_t take = count < (size_t)max_points ? count : (size_t)max_points;
	struct curve_point *pts = malloc(sizeof(*pts) * (take ? take : 1));
	struct epoch_row *rows = malloc(sizeof(*rows) * (size_t)(job->n_epochs ? job->n_epochs : 1));
	int n_rows = 0;
	if (pts && rows) {
		for (size_t k = 0; k < take; k++)
			pts[k] = job->points[first + (take == 1 ? count - 1 : k * (count - 1) / (take - 1))];
		/* An epoch's row is written after its last step's point (the test
		 * set is evaluated in between), so a poll can get that point
		 * before the row exists: rows of the step just below the cursor
		 * are sent again, and clients key epochs by their number. */
		for (int i = 0; i < job->n_epochs; i++)
			if (job->epochs[i].step >= since_step - 1)
				rows[n_rows++] = job->epochs[i];
	}
	long next = job->n_points ? job->points[job->n_points - 1].step + 1 : 0;
	enum job_state st = job->state;
	pthread_mutex_unlock(&j->lock);
	if (!pts || !rows) {
		free(pts);
		free(rows);
		td_errorf(e, TD_ENOMEM, "", "out of memory");
		return NULL;
	}
	if (next < since_step)
		next = since_step;
	json_t *points = json_array();
	for (size_t k = 0; k < take; k++)
		json_array_append_new(points, json_pack("[I, f, f]", (json_int_t)pts[k].step,
							pts[k].time, (double)pts[k].loss));
	json_t *epochs = json_array();
	for (int i = 0; i < n_rows; i++) {
		const struct epoch_row *r = &rows[i];
		json_t *x = json_object();
		json_object_set_new(x, "epoch", json_integer(r->st.epoch));
		json_object_set_new(x, "step", json_integer(r->step));
		json_object_set_new(x, "train_loss", num_or_null(r->st.train_loss));
		json_object_set_new(x, "test_loss", num_or_null(r->st.test_loss));
		json_object_set_new(x, "train_accuracy", num_or_null(r->st.train_accuracy));
		json_object_set_new(x, "test_accuracy", num_or_null(r->st.test_accuracy));
		json_object_set_new(x, "seconds", json_real(r->st.seconds));
		json_object_set_new(x, "samples_per_second", json_real(r->st.samples_per_second));
		json_array_append_new(epochs, x);
	}
	free(pts);
	free(rows);
	return json_pack("{s:o, s:o, s:I, s:s}", "points", points, "epochs", epochs, "next_step",
			 (json_int_t)next, "state", job_state_name(st));
}

/* ---- models --------------------------------------------------------- */

/* The job a model name means: id, unique name, or "latest". Lock held. */
static struct job *model_job_locked(struct jobs *j, const char *name, struct td_error *e)
{
	if (strcmp(name, "latest") == 0) {
		if (!j->latest_completed)
			td_errorf(e, TD_ENOTFOUND, "name",
				  "no job has completed yet, so there is no latest model");
		return j->latest_completed;
	}
	struct job *job = find_locked(j, name);
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
	pthread_mutex_lock(&j->lock);
	struct job *job = model_job_locked(j, name, e);
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

static json_t *model_json_locked(const struct job *job)
{
	const struct dataset *ds = job->ds;
	json_t *layers = json_array(), *classes = json_array();
	int outputs = job->cfg.output == OUT_SIGMOID && ds->n_classes == 2 ? 1 : ds->n_classes;
	json_array_append_new(layers, json_integer(ds->features));
	for (int i = 0; i < job->cfg.n_hidden; i++)
		json_array_append_new(layers, json_integer(job->cfg.hidden[i]));
	json_array_append_new(layers, json_integer(outputs));
	for (int i = 0; i < ds->n_classes; i++)
		json_array_append_new(classes, json_string(ds->class_names[i]));
	const char *state = job->snap ? "AVAILABLE"
			    : (job->state == JOB_QUEUED || job->state == JOB_RUNNING) ? "LOADING"
										  : "END";
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:i, s:i, s:I}", "name",
			 job->id, "job", job->id, "job_name", job->cfg.name, "job_state",
			 job_state_name(job->state), "state", state, "layers", layers,
			 "test_accuracy",
			 num_or_null(job->snap ? job->snap->test_accuracy : NAN), "dataset", ds->name,
			 "classes", classes, "width", ds->width, "height", ds->height, "step",
			 (json_int_t)(job->snap ? job->snap->step : 0));
}

json_t *jobs_models_json(struct jobs *j)
{
	json_t *arr = json_array();
	pthread_mutex_lock(&j->lock);
	for (int i = j->n_jobs - 1; i >= 0; i--)
		json_array_append_new(arr, model_json_locked(j->list[i]));
	pthread_mutex_unlock(&j->lock);
	return json_pack("{s:o}", "models", arr);
}

json_t *jobs_model_json(struct jobs *j, const char *name, struct td_error *e)
{
	pthread_mutex_lock(&j->lock);
	struct job *job = model_job_locked(j, name, e);
	json_t *o = job ? model_json_locked(job) : NULL;
	pthread_mutex_unlock(&j->lock);
	return o;
}


/* ---- export and import ---------------------------------------------- */

int jobs_export(struct jobs *j, const char *name, void **buf, size_t *len, struct td_error *e)
{
	*buf = NULL;
	*len = 0;
	pthread_mutex_lock(&j->lock);
	struct job *job = model_job_locked(j, name, e);
	if (!job) {
		pthread_mutex_unlock(&j->lock);
		return TD_ENOTFOUND;
	}
	char path[PATH_MAX];
	/* A finished job's last checkpoint is exactly what it serves. */
	if (persistent(j) && job->state == JOB_COMPLETED && !job->busy &&
	    !job_path(j, job->id, "checkpoint.bin", path, sizeof(path)) &&
	    read_file(path, CHECKPOINT_MAX_BYTES, buf, len, NULL) == 0) {
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
	job->state = JOB_COMPLETED;
	job->created_at = job->started_at = job->finished_at = unix_now();
	job->progress.epoch = job->cfg.epochs; /* shown as trained to the end */

	pthread_mutex_lock(&j->lock);
	if (j->n_jobs >= j->cfg.max_jobs) {
		pthread_mutex_unlock(&j->lock);
		job_free(job);
		checkpoint_free(&ck);
		return td_errorf(e, TD_EFULL, "", "the server keeps at most %d jobs; delete "
				 "finished ones first", j->cfg.max_jobs);
	}
	do
		snprintf(job->id, sizeof(job->id), "j-%06llx",
			 (unsigned long long)(rng_next(&j->id_rng) & 0xffffff));
	while (find_locked(j, job->id));
	snprintf(job->snap->job_id, sizeof(job->snap->job_id), "%s", job->id);
	job->seq = job->queue_seq = j->next_seq++;
	rc = 0;
	if (persistent(j)) {
		char path[PATH_MAX];
		struct iovec part = {(void *)buf, len};
		if (job_path(j, job->id, "", path, sizeof(path)) || make_dirs(path, e) ||
		    job_path(j, job->id, "checkpoint.bin", path, sizeof(path)) ||
		    atomic_write(path, &part, 1, e) || write_record_locked(j, job, e))
			rc = e && e->msg[0] ? TD_EIO : td_errorf(e, TD_EIO, "", "could not save the model");
	}
	if (rc) {
		remove_job_files(j, job->id);
		pthread_mutex_unlock(&j->lock);
		job_free(job);
		checkpoint_free(&ck);
		return rc;
	}
	j->list[j->n_jobs++] = job;
	j->latest_completed = job;
	snprintf(id_out, JOB_ID_MAX, "%s", job->id);
	log_transition(job, "imported");
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
