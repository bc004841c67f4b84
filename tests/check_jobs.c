/*
 * check_jobs.c - the job manager: the life cycle and its illegal moves,
 * the queue, the loss-curve cursor and its bound, predictions from
 * snapshots, and durability - a manager killed with SIGKILL mid-training
 * is restarted and finishes with the weights of an uninterrupted run; a
 * failing disk fails the job and keeps the previous checkpoint. Jobs train
 * on threads `train_nice` steps below the rest (as `traind serve` sets it),
 * with the same weights. A prediction finds its model while a runner holds
 * the manager's lock (as it does in every step's hook).
 */
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check_suites.h"
#include "testserver.h"
#include "testutil.h"
#include "traind/checkpoint.h"
#include "traind/job.h"
#include "traind/jobs.h"
#include "traind/train.h"

/* 7x7 images of 3 classes, each lighting its own band. */
static struct dataset *bands(const char *name, size_t n_train)
{
	size_t n = n_train + 90;
	uint8_t *x = calloc(n, 49), *y = malloc(n);
	struct td_rng r;
	rng_seed(&r, 8);
	for (size_t i = 0; i < n; i++) {
		int c = (int)rng_below(&r, 3);
		y[i] = (uint8_t)c;
		for (int k = 0; k < 10; k++)
			x[i * 49 + (size_t)(c * 14 + (int)rng_below(&r, 21))] =
				(uint8_t)(90 + rng_below(&r, 166));
	}
	struct dataset *d = dataset_from_memory(name, 7, 7, 3, NULL, x, y, n_train,
						x + n_train * 49, y + n_train, 90);
	free(x);
	free(y);
	return d;
}

/* 28x28 images of 10 classes, every pixel lit: large gradients, so a
 * learning rate far too high makes the weights overflow. */
static struct dataset *bright(const char *name)
{
	size_t n = 400 + 40, F = 784;
	uint8_t *x = malloc(n * F), *y = malloc(n);
	struct td_rng r;
	rng_seed(&r, 9);
	for (size_t i = 0; i < n; i++) {
		y[i] = (uint8_t)rng_below(&r, 10);
		for (size_t k = 0; k < F; k++)
			x[i * F + k] = (uint8_t)(128 + rng_below(&r, 128));
	}
	struct dataset *d = dataset_from_memory(name, 28, 28, 10, NULL, x, y, 400, x + 400 * F,
						y + 400, 40);
	free(x);
	free(y);
	return d;
}

struct fixture {
	struct dataset_registry *reg;
	struct jobs *jobs;
	char *state;
};

static struct jobs_config manager_config(struct fixture *f, int max_running, size_t curve)
{
	struct jobs_config c = {
		.registry = f->reg,
		.max_running = max_running,
		.max_queued = 8,
		.max_jobs = 16,
		.pool_workers = 2,
		.max_curve_points = curve,
		.snapshot_seconds = 0.05,
		.state_dir = f->state,
		.checkpoint_seconds = 0.2,
	};
	jobcfg_limits_default(&c.limits, 2);
	return c;
}

static void start_nice(struct fixture *f, int persistent, int max_running, size_t curve,
		       int train_nice)
{
	memset(f, 0, sizeof(*f));
	f->reg = registry_create();
	ck_assert_int_eq(registry_add_loaded(f->reg, bands("bands", 600), NULL), 0);
	ck_assert_int_eq(registry_add_loaded(f->reg, bright("bright"), NULL), 0);
	if (persistent)
		f->state = test_tmpdir();
	struct jobs_config c = manager_config(f, max_running, curve);
	c.train_nice = train_nice;
	struct td_error e;
	ck_assert_msg(jobs_create(&c, &f->jobs, &e) == 0, "%s", e.msg);
}

static void start(struct fixture *f, int persistent, int max_running, size_t curve)
{
	start_nice(f, persistent, max_running, curve, 0);
}

static void stop(struct fixture *f)
{
	jobs_free(f->jobs);
	registry_free(f->reg);
	if (f->state) {
		test_rmtree(f->state);
		free(f->state);
	}
}

static struct job_config small_job(int epochs)
{
	struct job_config c;
	jobcfg_defaults(&c);
	snprintf(c.dataset, sizeof(c.dataset), "bands");
	c.hidden[0] = 16;
	c.epochs = epochs;
	c.batch_size = 20;
	c.workers = 2;
	c.augment = AUGMENT_NONE;
	return c;
}

static const char *state_of(struct jobs *j, const char *id)
{
	static char buf[32];
	json_t *o = jobs_get_json(j, id, NULL);
	snprintf(buf, sizeof(buf), "%s", o ? json_string_value(json_object_get(o, "state")) : "none");
	json_decref(o);
	return buf;
}

static int wait_state(struct jobs *j, const char *id, const char *want, double seconds)
{
	for (double t = 0; t < seconds; t += 0.01) {
		if (strcmp(state_of(j, id), want) == 0)
			return 1;
		usleep(10000);
	}
	return 0;
}

START_TEST(test_life_cycle_and_illegal_moves)
{
	struct fixture f;
	start(&f, 0, 1, 1000);
	struct job_config c = small_job(400);
	char id[JOB_ID_MAX];
	struct td_error e;
	ck_assert_int_eq(jobs_submit(f.jobs, &c, id, &e), 0);
	ck_assert(wait_state(f.jobs, id, "running", 5));
	ck_assert_int_eq(jobs_pause(f.jobs, id, &e), 0);
	ck_assert_str_eq(state_of(f.jobs, id), "paused");
	ck_assert_int_eq(jobs_pause(f.jobs, id, &e), 0); /* idempotent */
	ck_assert_int_eq(jobs_resume(f.jobs, id, &e), 0);
	ck_assert(wait_state(f.jobs, id, "running", 5));
	ck_assert_int_eq(jobs_cancel(f.jobs, id, &e), 0);
	ck_assert_str_eq(state_of(f.jobs, id), "cancelled");
	ck_assert_int_eq(jobs_cancel(f.jobs, id, &e), 0);
	ck_assert_int_eq(jobs_pause(f.jobs, id, &e), TD_ESTATE);
	ck_assert_ptr_nonnull(strstr(e.msg, "cancelled"));
	ck_assert_int_eq(jobs_resume(f.jobs, id, &e), TD_ESTATE);
	/* A cancelled job still serves the weights it had. */
	struct model_snapshot *s;
	ck_assert_int_eq(jobs_snapshot(f.jobs, id, &s, &e), 0);
	snapshot_release(s);
	ck_assert_int_eq(jobs_delete(f.jobs, id, &e), 0);
	ck_assert_int_eq(jobs_pause(f.jobs, id, &e), TD_ENOTFOUND);
	ck_assert_int_eq(jobs_snapshot(f.jobs, "latest", &s, &e), TD_ENOTFOUND);
	stop(&f);
}
END_TEST

START_TEST(test_queue_runs_in_order_and_completes)
{
	struct fixture f;
	start(&f, 0, 1, 1000);
	struct job_config c = small_job(3);
	char a[JOB_ID_MAX], b[JOB_ID_MAX];
	struct td_error e;
	ck_assert_int_eq(jobs_submit(f.jobs, &c, a, &e), 0);
	ck_assert_int_eq(jobs_submit(f.jobs, &c, b, &e), 0);
	ck_assert(wait_state(f.jobs, a, "completed", 30));
	ck_assert(wait_state(f.jobs, b, "completed", 30));
	json_t *ja = jobs_get_json(f.jobs, a, NULL), *jb = jobs_get_json(f.jobs, b, NULL);
	ck_assert_str_le(json_string_value(json_object_get(ja, "finished_at")),
			 json_string_value(json_object_get(jb, "started_at")));
	json_t *latest = json_object_get(ja, "latest");
	ck_assert_double_gt(json_real_value(json_object_get(latest, "test_accuracy")), 0.9);
	/* The best epoch's accuracy, and the time spent running. */
	json_t *m = jobs_metrics_json(f.jobs, a, 0, 10, &e);
	double best = 0;
	json_t *row;
	size_t k;
	json_array_foreach(json_object_get(m, "epochs"), k, row) {
		double acc = json_real_value(json_object_get(row, "test_accuracy"));
		best = acc > best ? acc : best;
	}
	json_decref(m);
	ck_assert_double_eq(json_real_value(json_object_get(latest, "best_test_accuracy")), best);
	double elapsed = json_real_value(json_object_get(ja, "elapsed_seconds"));
	ck_assert_double_gt(elapsed, 0);
	ck_assert_double_lt(elapsed, 30);
	json_decref(ja);
	json_decref(jb);
	/* "latest" is the most recently completed; it predicts distributions. */
	struct model_snapshot *s;
	ck_assert_int_eq(jobs_snapshot(f.jobs, "latest", &s, &e), 0);
	ck_assert_str_eq(s->job_id, b);
	float x[49] = {0}, probs[3];
	for (int i = 0; i < 14; i++)
		x[i] = 1.0f;
	ck_assert_int_eq(snapshot_predict(s, x, 1, probs, &e), 0);
	ck_assert_float_eq_tol(probs[0] + probs[1] + probs[2], 1.0f, 1e-5f);
	ck_assert(probs[0] > probs[1] && probs[0] > probs[2]);
	snapshot_release(s);
	stop(&f);
}
END_TEST

/* Threads of this process whose nice value is `nice` (Linux: per thread,
 * field 19 of /proc/self/task/TID/stat). */
static int threads_at_nice(int nice)
{
	DIR *d = opendir("/proc/self/task");
	ck_assert_ptr_nonnull(d);
	int count = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		char path[300], line[1024];
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/stat", de->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue; /* a thread that just ended */
		size_t n = fread(line, 1, sizeof(line) - 1, f);
		fclose(f);
		line[n] = '\0';
		const char *c = strrchr(line, ')'); /* past the command name: field 2 */
		int field = 2, v;
		while (c && *c && field < 19)
			field += *c++ == ' ';
		if (c && sscanf(c, "%d", &v) == 1 && v == nice)
			count++;
	}
	closedir(d);
	return count;
}

/* A runner and its pool's threads train at train_nice; the weights are
 * those of a job trained at the daemon's own priority. */
START_TEST(test_jobs_train_at_train_nice)
{
#ifdef __linux__
	int base = getpriority(PRIO_PROCESS, 0);
	ck_assert_int_le(base, 19 - 4);
	struct model_snapshot *s[2];
	for (int k = 0; k < 2; k++) {
		struct fixture f;
		int nice = k ? 4 : 0;
		start_nice(&f, 0, 1, 1000, nice);
		struct job_config c = small_job(2);
		char id[JOB_ID_MAX];
		struct td_error e;
		ck_assert_int_eq(jobs_submit(f.jobs, &c, id, &e), 0);
		ck_assert(wait_state(f.jobs, id, "completed", 60));
		/* the runner lowered itself before it took the job */
		ck_assert_int_eq(threads_at_nice(base + 4), nice ? 2 : 0);
		ck_assert_int_eq(jobs_snapshot(f.jobs, id, &s[k], &e), 0);
		stop(&f);
	}
	ck_assert_uint_eq(s[0]->n_params, s[1]->n_params);
	ck_assert_int_eq(memcmp(s[0]->params, s[1]->params, sizeof(float) * s[0]->n_params), 0);
	snapshot_release(s[0]);
	snapshot_release(s[1]);
#endif
}
END_TEST

/* The daemon's setting reaches them: `traind serve --train-nice 7`. */
START_TEST(test_serve_applies_train_nice)
{
#ifdef __linux__
	int base = getpriority(PRIO_PROCESS, 0);
	ck_assert_int_le(base, 19 - 7);
	static const char *const settings[] = {"train_nice", "7", NULL};
	ts_start(settings);
	char id[32];
	ts_trained_model(id); /* the test server has 2 workers: a runner and one thread */
	ck_assert_int_eq(threads_at_nice(base + 7), 2);
	ts_stop();
#endif
}
END_TEST

START_TEST(test_metrics_cursor_and_bound)
{
	struct fixture f;
	start(&f, 0, 1, 16);
	struct job_config c = small_job(8); /* 30 steps an epoch, 240 in all */
	char id[JOB_ID_MAX];
	ck_assert_int_eq(jobs_submit(f.jobs, &c, id, NULL), 0);
	ck_assert(wait_state(f.jobs, id, "completed", 30));
	json_t *m = jobs_metrics_json(f.jobs, id, 0, 1000, NULL);
	json_t *pts = json_object_get(m, "points");
	ck_assert_int_le(json_array_size(pts), 16);
	json_int_t last = json_integer_value(json_array_get(json_array_get(pts, json_array_size(pts) - 1), 0));
	ck_assert_int_eq(last, 240); /* the newest is always kept */
	for (size_t i = 1; i < json_array_size(pts); i++)
		ck_assert_int_lt(json_integer_value(json_array_get(json_array_get(pts, i - 1), 0)),
				 json_integer_value(json_array_get(json_array_get(pts, i), 0)));
	ck_assert_int_eq(json_array_size(json_object_get(m, "epochs")), 8);
	ck_assert_int_eq(json_integer_value(json_object_get(m, "next_step")), 241);
	json_decref(m);
	/* A poll from next_step gets no new point; the epoch that ended on
	 * the step just below the cursor comes again (its row is written
	 * after that step's point), and nothing older; max_points thins. */
	m = jobs_metrics_json(f.jobs, id, 241, 1000, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(m, "points")), 0);
	ck_assert_int_eq(json_array_size(json_object_get(m, "epochs")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(json_object_get(m, "epochs"), 0), "epoch")), 8);
	json_decref(m);
	m = jobs_metrics_json(f.jobs, id, 242, 1000, NULL);
	ck_assert_int_eq(json_array_size(json_object_get(m, "epochs")), 0);
	json_decref(m);
	m = jobs_metrics_json(f.jobs, id, 0, 3, NULL);
	pts = json_object_get(m, "points");
	ck_assert_int_eq(json_array_size(pts), 3);
	ck_assert_int_eq(json_integer_value(json_array_get(json_array_get(pts, 2), 0)), 240);
	json_decref(m);
	ck_assert_ptr_null(jobs_metrics_json(f.jobs, "j-nope00", 0, 10, NULL));
	stop(&f);
}
END_TEST

/* The digest of a job's final weights, trained without interruption. */
static void reference_digest(const struct job_config *c, char hex[17])
{
	struct dataset *d = bands("bands", 600);
	struct pool *p;
	struct trainer *t;
	ck_assert_int_eq(pool_create(2, &p, NULL), 0);
	ck_assert_int_eq(trainer_create(c, d, p, &t, NULL), 0);
	ck_assert_int_eq(trainer_run(t, NULL), 0);
	model_digest(trainer_params(t), trainer_param_count(t), hex);
	trainer_free(t);
	pool_free(p);
	dataset_free(d);
}

/* Waits until the job's directory holds a checkpoint past epoch 1. */
static int wait_checkpoint(const char *state, const char *id, int min_epoch, double seconds)
{
	char path[4200];
	snprintf(path, sizeof(path), "%s/jobs/%s/checkpoint.bin", state, id);
	for (double t = 0; t < seconds; t += 0.02) {
		struct checkpoint ck;
		if (checkpoint_load(path, &ck, NULL) == 0) {
			int ok = ck.has_state && ck.state.epoch >= min_epoch;
			checkpoint_free(&ck);
			if (ok)
				return 1;
		}
		usleep(20000);
	}
	return 0;
}

START_TEST(test_sigkill_mid_training_then_resume_bit_identical)
{
	char *state = test_tmpdir();
	struct job_config c = small_job(40);
	c.optimizer = OPT_ADAM;
	c.learning_rate = 0.01;
	char ref[17];
	reference_digest(&c, ref);
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	if (pid == 0) {
		/* The "daemon": trains until it is killed. */
		struct fixture f;
		memset(&f, 0, sizeof(f));
		f.reg = registry_create();
		registry_add_loaded(f.reg, bands("bands", 600), NULL);
		f.state = state;
		struct jobs_config mc = manager_config(&f, 1, 1000);
		char id[JOB_ID_MAX];
		if (jobs_create(&mc, &f.jobs, NULL) || jobs_submit(f.jobs, &c, id, NULL))
			_exit(2);
		if (write(fds[1], id, JOB_ID_MAX) != JOB_ID_MAX)
			_exit(3);
		for (;;)
			pause();
	}
	char id[JOB_ID_MAX];
	ck_assert_int_eq(read(fds[0], id, JOB_ID_MAX), JOB_ID_MAX);
	ck_assert(wait_checkpoint(state, id, 2, 60));
	usleep(30000); /* past the checkpoint, mid-epoch */
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);

	struct fixture f;
	memset(&f, 0, sizeof(f));
	f.reg = registry_create();
	registry_add_loaded(f.reg, bands("bands", 600), NULL);
	f.state = state;
	struct jobs_config mc = manager_config(&f, 1, 1000);
	struct td_error e;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	double restart = (double)now.tv_sec + now.tv_nsec * 1e-9;
	ck_assert_msg(jobs_create(&mc, &f.jobs, &e) == 0, "%s", e.msg);
	/* It continues from the checkpoint, not from the start: its progress
	 * and the curve it had drawn before the kill are back. */
	json_t *before = jobs_get_json(f.jobs, id, NULL);
	ck_assert_int_ge(json_integer_value(json_object_get(json_object_get(before, "progress"), "step")), 60);
	json_decref(before);
	int records, resumed;
	jobs_recovered(f.jobs, &records, &resumed);
	ck_assert_int_eq(records, 1);
	ck_assert_int_eq(resumed, 1);
	ck_assert(wait_state(f.jobs, id, "completed", 60));
	struct model_snapshot *s;
	ck_assert_int_eq(jobs_snapshot(f.jobs, id, &s, &e), 0);
	char got[17];
	model_digest(s->params, s->n_params, got);
	snapshot_release(s);
	ck_assert_str_eq(got, ref);
	/* Its history is whole: epochs 1..40 in order, the curve to the end. */
	json_t *m = jobs_metrics_json(f.jobs, id, 0, 100000, NULL);
	json_t *ep = json_object_get(m, "epochs");
	ck_assert_int_eq(json_array_size(ep), 40);
	for (size_t i = 0; i < 40; i++)
		ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(ep, i), "epoch")),
				 (json_int_t)i + 1);
	ck_assert_int_eq(json_integer_value(json_object_get(m, "next_step")), 40 * 30 + 1);
	json_t *first = json_array_get(json_object_get(m, "points"), 0);
	ck_assert_int_eq(json_integer_value(json_array_get(first, 0)), 1);
	ck_assert_double_lt(json_real_value(json_array_get(first, 1)), restart);
	json_decref(m);
	/* A further restart lists the completed job and serves it. */
	jobs_free(f.jobs);
	ck_assert_int_eq(jobs_create(&mc, &f.jobs, &e), 0);
	ck_assert_str_eq(state_of(f.jobs, id), "completed");
	ck_assert_int_eq(jobs_snapshot(f.jobs, "latest", &s, &e), 0);
	model_digest(s->params, s->n_params, got);
	ck_assert_str_eq(got, ref);
	snapshot_release(s);
	stop(&f);
}
END_TEST

START_TEST(test_export_then_import_serves_the_same_model)
{
	struct fixture f;
	start(&f, 1, 1, 1000);
	struct job_config c = small_job(2);
	char id[JOB_ID_MAX], id2[JOB_ID_MAX];
	struct td_error e;
	ck_assert_int_eq(jobs_submit(f.jobs, &c, id, &e), 0);
	ck_assert(wait_state(f.jobs, id, "completed", 30));
	void *buf;
	size_t len;
	ck_assert_int_eq(jobs_export(f.jobs, id, &buf, &len, &e), 0);
	ck_assert_int_eq(jobs_import(f.jobs, buf, len, id2, &e), 0);
	((unsigned char *)buf)[len / 2] ^= 1;
	ck_assert_int_eq(jobs_import(f.jobs, buf, len, id2 + 0, &e), TD_EFORMAT);
	free(buf);
	struct model_snapshot *a, *b;
	ck_assert_int_eq(jobs_snapshot(f.jobs, id, &a, &e), 0);
	ck_assert_int_eq(jobs_snapshot(f.jobs, "latest", &b, &e), 0);
	ck_assert_str_ne(a->job_id, b->job_id);
	ck_assert_uint_eq(a->n_params, b->n_params);
	ck_assert_int_eq(memcmp(a->params, b->params, sizeof(float) * a->n_params), 0);
	ck_assert_str_eq(b->ds->class_names[2], "2");
	snapshot_release(a);
	snapshot_release(b);
	stop(&f);
}
END_TEST

/* A disk that fills up mid-run: the job fails naming the write, the
 * last good checkpoint stays loadable, the manager carries on. */
START_TEST(test_full_disk_fails_the_job_and_keeps_the_checkpoint)
{
	pid_t pid = fork();
	if (pid == 0) {
		signal(SIGXFSZ, SIG_IGN);
		struct fixture f;
		start(&f, 1, 1, 1000);
		struct job_config c = small_job(200);
		c.hidden[0] = 200; /* a checkpoint of ~48 KB */
		char id[JOB_ID_MAX];
		if (jobs_submit(f.jobs, &c, id, NULL) || !wait_checkpoint(f.state, id, 1, 60))
			_exit(10);
		struct rlimit lim = {16384, 16384};
		setrlimit(RLIMIT_FSIZE, &lim);
		if (!wait_state(f.jobs, id, "failed", 60))
			_exit(11);
		json_t *o = jobs_get_json(f.jobs, id, NULL);
		const char *err = json_string_value(json_object_get(o, "error"));
		if (!err || !strstr(err, "checkpoint failed") || !strstr(err, "write"))
			_exit(12);
		json_decref(o);
		char path[4200];
		snprintf(path, sizeof(path), "%s/jobs/%s/checkpoint.bin", f.state, id);
		struct checkpoint ck;
		if (checkpoint_load(path, &ck, NULL) || ck.state.epoch < 1)
			_exit(13);
		checkpoint_free(&ck);
		/* The manager still takes and runs small jobs. */
		lim.rlim_cur = lim.rlim_max = RLIM_INFINITY;
		setrlimit(RLIMIT_FSIZE, &lim);
		struct job_config small = small_job(1);
		if (jobs_submit(f.jobs, &small, id, NULL) || !wait_state(f.jobs, id, "completed", 60))
			_exit(14);
		stop(&f);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child step %d failed",
		      WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}
END_TEST

/* A job whose loss stops being finite fails, naming the step and the
 * learning rate; its history up to there is kept, and every view and
 * record still serialises (non-finite numbers are null). */
START_TEST(test_diverging_job_fails_naming_the_step)
{
	struct fixture f;
	start(&f, 1, 1, 1000);
	struct job_config c = small_job(100);
	snprintf(c.dataset, sizeof(c.dataset), "bright");
	c.hidden[0] = 64;
	c.optimizer = OPT_MOMENTUM;
	c.momentum = 0.999;
	c.learning_rate = 10;
	c.batch_size = 4;
	char id[JOB_ID_MAX];
	struct td_error e;
	ck_assert_int_eq(jobs_submit(f.jobs, &c, id, &e), 0);
	ck_assert(wait_state(f.jobs, id, "failed", 120));
	json_t *o = jobs_get_json(f.jobs, id, &e);
	const char *err = json_string_value(json_object_get(o, "error"));
	ck_assert_ptr_nonnull(err);
	ck_assert_msg(strstr(err, "diverged at step ") && strstr(err, "learning_rate"), "%s", err);
	long step = atol(strstr(err, "step ") + 5);
	ck_assert_int_gt(step, 0);
	char *text = json_dumps(o, 0);
	ck_assert_ptr_nonnull(text);
	free(text);
	json_decref(o);
	json_t *m = jobs_metrics_json(f.jobs, id, 0, 1000, &e);
	ck_assert_ptr_nonnull(m);
	json_t *pts = json_object_get(m, "points");
	ck_assert_int_gt(json_array_size(pts), 1);
	json_t *last = json_array_get(pts, json_array_size(pts) - 1);
	ck_assert_int_ge(json_integer_value(json_array_get(last, 0)), step);
	ck_assert(json_is_null(json_array_get(last, 2)));
	ck_assert(json_is_number(json_array_get(json_array_get(pts, 0), 2)));
	json_decref(m);
	/* The record on disk says so too. */
	char path[4200];
	snprintf(path, sizeof(path), "%s/jobs/%s/job.json", f.state, id);
	json_error_t je;
	json_t *rec = json_load_file(path, 0, &je);
	ck_assert_ptr_nonnull(rec);
	ck_assert_str_eq(json_string_value(json_object_get(rec, "state")), "failed");
	json_decref(rec);
	stop(&f);
}
END_TEST

/* The state machine's table: finished states are final, and only the
 * moves the life cycle makes are allowed. */
START_TEST(test_transition_table)
{
	ck_assert(job_transition_allowed(JOB_QUEUED, JOB_RUNNING));
	ck_assert(job_transition_allowed(JOB_RUNNING, JOB_PAUSED));
	ck_assert(job_transition_allowed(JOB_PAUSED, JOB_QUEUED));
	ck_assert(job_transition_allowed(JOB_RUNNING, JOB_QUEUED)); /* shutdown */
	ck_assert(!job_transition_allowed(JOB_PAUSED, JOB_RUNNING));
	ck_assert(!job_transition_allowed(JOB_QUEUED, JOB_COMPLETED));
	for (int to = 0; to < JOB_STATE_COUNT; to++) {
		ck_assert(!job_transition_allowed(JOB_COMPLETED, to));
		ck_assert(!job_transition_allowed(JOB_FAILED, to));
		ck_assert(!job_transition_allowed(JOB_CANCELLED, to));
		ck_assert(!job_transition_allowed(to, to));
	}
}
END_TEST

/* A prediction's lookup on another thread, as an HTTP thread makes it. */
struct lookup {
	struct jobs *jobs;
	const char *name;
	struct model_snapshot *snap;
	int rc, done;
};

static void *lookup_thread(void *arg)
{
	struct lookup *l = arg;
	struct td_error e;
	l->rc = jobs_snapshot(l->jobs, l->name, &l->snap, &e);
	__atomic_store_n(&l->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* The runner holds the manager's lock through every step's hook, at a
 * lower priority than the HTTP threads: a lookup that took it would wait
 * whenever the runner is preempted in its hook. The model is found while
 * the lock is held - by id, by name and as "latest" - and is the model the
 * job published. */
START_TEST(test_prediction_does_not_wait_for_the_runners_lock)
{
	struct fixture f;
	start(&f, 0, 1, 1000);
	struct job_config c = small_job(2);
	snprintf(c.name, sizeof(c.name), "held");
	char id[JOB_ID_MAX];
	struct td_error e;
	ck_assert_int_eq(jobs_submit(f.jobs, &c, id, &e), 0);
	ck_assert(wait_state(f.jobs, id, "completed", 30));
	const char *names[] = {id, "held", "latest"};
	for (int k = 0; k < 3; k++) {
		struct lookup l = {.jobs = f.jobs, .name = names[k]};
		pthread_t th;
		pthread_mutex_lock(&f.jobs->lock); /* what a runner's hook holds */
		ck_assert_int_eq(pthread_create(&th, NULL, lookup_thread, &l), 0);
		int done = 0;
		for (int i = 0; i < 2000 && !done; i++) { /* up to 10 s */
			done = __atomic_load_n(&l.done, __ATOMIC_ACQUIRE);
			if (!done)
				usleep(5000);
		}
		pthread_mutex_unlock(&f.jobs->lock);
		pthread_join(th, NULL);
		ck_assert_msg(done, "the lookup of \"%s\" waited for the manager's lock", names[k]);
		ck_assert_int_eq(l.rc, 0);
		ck_assert_str_eq(l.snap->job_id, id);
		snapshot_release(l.snap);
	}
	/* A name no job has still gets its error. */
	struct model_snapshot *s;
	ck_assert_int_eq(jobs_snapshot(f.jobs, "no-such-model", &s, &e), TD_ENOTFOUND);
	ck_assert_ptr_null(s);
	stop(&f);
}
END_TEST

Suite *suite_jobs(void)
{
	Suite *s = suite_create("jobs");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, test_life_cycle_and_illegal_moves);
	tcase_add_test(tc, test_queue_runs_in_order_and_completes);
	tcase_add_test(tc, test_prediction_does_not_wait_for_the_runners_lock);
	tcase_add_test(tc, test_metrics_cursor_and_bound);
	tcase_add_test(tc, test_export_then_import_serves_the_same_model);
	tcase_add_test(tc, test_transition_table);
	tcase_add_test(tc, test_jobs_train_at_train_nice);
	tcase_add_test(tc, test_serve_applies_train_nice);
	suite_add_tcase(s, tc);
	TCase *d = tcase_create("durability");
	tcase_set_timeout(d, 300);
	tcase_add_test(d, test_sigkill_mid_training_then_resume_bit_identical);
	tcase_add_test(d, test_full_disk_fails_the_job_and_keeps_the_checkpoint);
	tcase_add_test(d, test_diverging_job_fails_naming_the_step);
	suite_add_tcase(s, d);
	return s;
}
