/*
 * rankrun.c - a job across Open MPI ranks, run by the daemon's runner.
 *
 * The runner does not host the training: it launches
 *   mpirun -np R [--hostfile H] [mpi_args] traind train <the job's options>
 *          --config worker.conf --json --progress --checkpoint checkpoint.bin
 *          [--resume checkpoint.bin]
 * in the job's directory (trainrun.h says what the worker prints) and
 * follows its lines into the job: curve points, epoch rows and progress as
 * an in-process job has them, and a snapshot for predictions from each
 * checkpoint the worker writes. Pause, cancel and shutdown send SIGUSR1 to
 * mpirun, which forwards it to every rank; the ranks stop at the same step
 * and checkpoint. A run that ends without "done" or "stopped" - a rank
 * killed, a host gone, or no line for rank_timeout seconds - is restarted
 * from the last checkpoint, up to max_restarts times; resuming is exact,
 * so the job ends with the weights of an uninterrupted run. Whatever the
 * ranks do, only this thread waits on them: the daemon stays up.
 *
 * worker.conf names the daemon's data dir, Fashion-MNIST dir and the job's
 * data set line, so every rank loads the same data set by the same name.
 * mpirun's stderr (every rank's) goes to ranks.log in the job's directory.
 */
#include "traind/job.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "traind/jsonnum.h"

#define MAX_ARGS 256
#define LINE_MAX_BYTES 65536

struct argv_buf {
	char *v[MAX_ARGS + 1];
	int n;
	int overflow;
};

static void arg(struct argv_buf *a, const char *s)
{
	if (a->n < MAX_ARGS)
		a->v[a->n++] = strdup(s);
	else
		a->overflow = 1;
}

static void args_free(struct argv_buf *a)
{
	for (int i = 0; i < a->n; i++)
		free(a->v[i]);
	a->n = 0;
}

/* --key value for every option of the job (lists comma-separated, rows of
 * objects as JSON). */
static void job_flags(struct argv_buf *a, const struct job_config *cfg)
{
	json_t *o = jobcfg_to_json(cfg), *v;
	const char *key;
	json_object_foreach(o, key, v) {
		char flag[80], val[4096] = "";
		if (json_is_null(v))
			continue;
		snprintf(flag, sizeof(flag), "--%s", key);
		for (char *p = flag; *p; p++)
			*p = *p == '_' ? '-' : *p;
		if (json_is_string(v))
			snprintf(val, sizeof(val), "%s", json_string_value(v));
		else if (json_is_integer(v))
			snprintf(val, sizeof(val), "%lld", (long long)json_integer_value(v));
		else if (json_is_real(v))
			snprintf(val, sizeof(val), "%.17g", json_real_value(v));
		else if (json_is_array(v) && json_is_object(json_array_get(v, 0))) {
			char *text = json_dumps(v, JSON_COMPACT); /* layers: rows as JSON */
			snprintf(val, sizeof(val), "%s", text ? text : "none");
			free(text);
		} else if (json_is_array(v)) {
			size_t i, n = 0;
			json_t *x;
			json_array_foreach(v, i, x) n += (size_t)snprintf(
				val + n, sizeof(val) - n, "%s%lld", i ? "," : "",
				(long long)json_integer_value(x));
			if (!json_array_size(v))
				snprintf(val, sizeof(val), "none");
		} else
			continue;
		arg(a, flag);
		arg(a, val);
	}
	json_decref(o);
}

/* worker.conf: the data the ranks load, by the job's data set name. */
static int write_worker_conf(struct jobs *j, struct job *job, const char *path,
			     struct td_error *e)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return td_errorf(e, TD_EIO, "state_dir", "cannot write %s: %s", path,
				 strerror(errno));
	fprintf(f, "# written by the daemon for the ranks of job %s\n", job->id);
	if (j->cfg.data_dir && *j->cfg.data_dir)
		fprintf(f, "data_dir = %s\n", j->cfg.data_dir);
	if (j->cfg.fashion_dir && *j->cfg.fashion_dir)
		fprintf(f, "fashion_dir = %s\n", j->cfg.fashion_dir);
	for (size_t i = 0; i < registry_count(j->cfg.registry); i++) {
		const struct dataset_spec *s = registry_spec(j->cfg.registry, i);
		if (strcmp(s->name, job->cfg.dataset) != 0 || !strcmp(s->name, "digits") ||
		    !strcmp(s->name, "fashion"))
			continue;
		if (s->format == DATASET_IDX)
			fprintf(f, "dataset = %s idx %s %s %s %s", s->name, s->train_images,
				s->train_labels, s->test_images, s->test_labels);
		else
			fprintf(f, "dataset = %s csv %s %s width=%d height=%d", s->name,
				s->train_images, s->test_images, s->width ? s->width : 28,
				s->height ? s->height : 28);
		fprintf(f, "%s%s\n", s->classes[0] ? " classes=" : "", s->classes);
	}
	return fclose(f) ? td_errorf(e, TD_EIO, "state_dir", "cannot write %s", path) : 0;
}

struct follow {
	struct jobs *j;
	struct job *job;
	int done, stopped;
	double last_line;
	long last_step;
};

static void on_checkpoint(struct follow *f, const char *path)
{
	struct checkpoint ck;
	struct td_error e;
	if (checkpoint_load(path, &ck, &e)) {
		fprintf(stderr, "traind: job %s: cannot read its ranks' checkpoint: %s\n",
			f->job->id, e.msg);
		return;
	}
	struct model_snapshot *s =
		snapshot_new(f->job->id, &ck.shape, ck.params, ck.n_params, f->job->ds,
			     ck.has_state ? ck.state.global_step : 0, ck.test_accuracy);
	pthread_mutex_lock(&f->j->lock);
	struct model_snapshot *old = f->job->snap;
	if (s) {
		if (isnan(s->test_accuracy) && old)
			s->test_accuracy = old->test_accuracy;
		pthread_mutex_lock(&f->j->models_lock);
		f->job->snap = s;
		pthread_mutex_unlock(&f->j->models_lock);
		f->job->snap_time = f->job->ckpt_time = job_unix_now();
	} else
		old = NULL;
	pthread_mutex_unlock(&f->j->lock);
	snapshot_release(old);
	checkpoint_free(&ck);
	jobstore_save_history(f->j, f->job);
}

/* One line of the worker's output into the job. */
static void on_line(struct follow *f, const char *line)
{
	json_error_t je;
	json_t *o = json_loads(line, 0, &je);
	if (!json_is_object(o)) {
		json_decref(o);
		return; /* not a line of the protocol: ignored */
	}
	struct job *job = f->job;
	json_t *step = json_object_get(o, "step");
	long st = json_is_integer(step) ? (long)json_integer_value(step) : -1;
	pthread_mutex_lock(&f->j->lock);
	if (json_object_get(o, "loss") && st >= 0 && !json_object_get(o, "epoch")) {
		double loss = td_json_num_get(o, "loss"), t = td_json_num_get(o, "time");
		curve_add(&job->curve, st, isfinite(t) ? t : job_unix_now(), loss);
		job->latest_loss = loss;
		long samples = (st - job->progress.step) * job->cfg.batch_size;
		double now = job_unix_now();
		job->rate_samples += samples > 0 ? samples : 0;
		f->j->samples_total += samples > 0 ? (double)samples : 0;
		if (now - job->rate_t0 >= 1.0) {
			job->rate = job->rate_samples / (now - job->rate_t0);
			job->rate_t0 = now;
			job->rate_samples = 0;
		}
		job->progress.step = st;
		if (!isfinite(loss) && !job->stop_error[0])
			snprintf(job->stop_error, sizeof(job->stop_error),
				 "training diverged at step %ld: the loss became NaN; try a lower "
				 "learning_rate (this job's is %g)",
				 st, job->cfg.learning_rate);
	} else if (json_object_get(o, "epoch") && job->n_epochs < job->cfg.epochs) {
		struct epoch_row *r = &job->epochs[job->n_epochs++];
		r->step = st;
		r->st = (struct epoch_stats){
			(int)td_json_num_get(o, "epoch"), td_json_num_get(o, "train_loss"),
			td_json_num_get(o, "train_accuracy"), td_json_num_get(o, "test_loss"),
			td_json_num_get(o, "test_accuracy"), td_json_num_get(o, "seconds"),
			td_json_num_get(o, "samples_per_second")};
		job->progress.epoch = r->st.epoch;
	}
	json_t *who = json_object_get(o, "ranks");
	if (json_is_array(who)) {
		json_decref(job->rank_list);
		job->rank_list = json_incref(who);
	}
	if (json_is_true(json_object_get(o, "done")))
		f->done = 1;
	if (json_is_true(json_object_get(o, "stopped")))
		f->stopped = 1;
	pthread_mutex_unlock(&f->j->lock);
	const char *ck = json_string_value(json_object_get(o, "checkpoint"));
	if (ck)
		on_checkpoint(f, ck);
	if (st >= 0)
		f->last_step = st;
	json_decref(o);
}

/* The command line of one attempt. */
static int build_argv(struct jobs *j, struct job *job, const char *dir, int resume,
		      struct argv_buf *a, struct td_error *e)
{
	char exe[PATH_MAX], path[PATH_MAX + 32], np[16], secs[32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return td_errorf(e, TD_EIO, "ranks", "cannot find this traind's own binary");
	exe[n] = '\0';
	arg(a, j->cfg.mpirun && *j->cfg.mpirun ? j->cfg.mpirun : "mpirun");
	snprintf(np, sizeof(np), "%d", job->cfg.ranks);
	arg(a, "-np");
	arg(a, np);
	if (j->cfg.mpi_hostfile && *j->cfg.mpi_hostfile) {
		arg(a, "--hostfile");
		arg(a, j->cfg.mpi_hostfile);
	}
	if (j->cfg.mpi_args && *j->cfg.mpi_args) {
		char *copy = strdup(j->cfg.mpi_args), *save = NULL;
		for (char *w = copy ? strtok_r(copy, " \t", &save) : NULL; w;
		     w = strtok_r(NULL, " \t", &save))
			arg(a, w);
		free(copy);
	}
	arg(a, exe);
	arg(a, "train");
	job_flags(a, &job->cfg);
	snprintf(path, sizeof(path), "%s/worker.conf", dir);
	arg(a, "--config");
	arg(a, path);
	arg(a, "--json");
	arg(a, "--progress");
	snprintf(path, sizeof(path), "%s/checkpoint.bin", dir);
	arg(a, "--checkpoint");
	arg(a, path);
	snprintf(secs, sizeof(secs), "%g", j->cfg.checkpoint_seconds);
	arg(a, "--checkpoint-seconds");
	arg(a, secs);
	if (resume) {
		arg(a, "--resume");
		arg(a, path);
	}
	if (a->overflow)
		return td_errorf(e, TD_EINVAL, "mpi_args", "too many mpirun arguments");
	a->v[a->n] = NULL;
	return 0;
}

/* Starts mpirun in a process group of its own, stdout to a pipe and
 * stderr to ranks.log; its pid, or -1. */
static pid_t launch(struct argv_buf *a, const char *dir, int *out_fd)
{
	char log[PATH_MAX + 16];
	snprintf(log, sizeof(log), "%s/ranks.log", dir);
	int p[2];
	if (pipe2(p, O_CLOEXEC))
		return -1;
	int err = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		dup2(p[1], 1);
		if (err >= 0)
			dup2(err, 2);
		execvp(a->v[0], a->v);
		fprintf(stderr, "traind: cannot run %s: %s\n", a->v[0], strerror(errno));
		_exit(127);
	}
	close(p[1]);
	if (err >= 0)
		close(err);
	if (pid < 0) {
		close(p[0]);
		return -1;
	}
	setpgid(pid, pid);
	*out_fd = p[0];
	return pid;
}

/* Follows one attempt to its end; returns its wait status, or -1 when it
 * was killed for silence. */
static int follow(struct follow *f, pid_t pid, int fd)
{
	char *buf = malloc(LINE_MAX_BYTES);
	size_t have = 0;
	int signalled = 0, silent = 0;
	f->last_line = job_unix_now();
	for (int open_fd = buf != NULL; open_fd;) {
		struct pollfd pfd = {fd, POLLIN, 0};
		int r = poll(&pfd, 1, 200);
		if (r > 0) {
			ssize_t n = read(fd, buf + have, LINE_MAX_BYTES - 1 - have);
			if (n <= 0) {
				open_fd = 0;
				break;
			}
			have += (size_t)n;
			buf[have] = '\0';
			char *start = buf, *nl;
			while ((nl = strchr(start, '\n'))) {
				*nl = '\0';
				on_line(f, start);
				start = nl + 1;
			}
			have -= (size_t)(start - buf);
			memmove(buf, start, have);
			if (have == LINE_MAX_BYTES - 1)
				have = 0; /* a line too long for the protocol: dropped */
			f->last_line = job_unix_now();
		}
		pthread_mutex_lock(&f->j->lock);
		int stop = f->j->shutdown || f->job->pause_requested || f->job->cancel_requested ||
			   f->job->stop_error[0];
		pthread_mutex_unlock(&f->j->lock);
		if (stop && !signalled) {
			kill(pid, SIGUSR1); /* mpirun forwards it to every rank */
			signalled = 1;
		}
		if (job_unix_now() - f->last_line > f->job->cfg.rank_timeout && !silent) {
			kill(-pid, SIGKILL);
			silent = 1;
		}
	}
	free(buf);
	close(fd);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return silent ? -1 : status;
}

/* The last line mpirun wrote to ranks.log, for an error message. */
static void last_log_line(const char *dir, char *out, size_t n)
{
	char path[PATH_MAX + 16], line[512];
	snprintf(path, sizeof(path), "%s/ranks.log", dir);
	out[0] = '\0';
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (line[0] != '\n' && !strchr("- ", line[0]))
			snprintf(out, n, "%.*s", (int)strcspn(line, "\n"), line);
	if (f)
		fclose(f);
}

int rankrun_train(struct jobs *j, struct job *job, struct td_error *err)
{
	char dir[PATH_MAX], conf[PATH_MAX + 16];
	if (jobstore_job_dir(j, job, dir, sizeof(dir), err))
		return TD_EINVAL;
	snprintf(conf, sizeof(conf), "%s/worker.conf", dir);
	int rc = write_worker_conf(j, job, conf, err);
	if (rc)
		return rc;
	pthread_mutex_lock(&j->lock);
	if (job->resume) { /* recovered at start: the worker reads the file itself */
		checkpoint_free(job->resume);
		free(job->resume);
		job->resume = NULL;
	}
	pthread_mutex_unlock(&j->lock);
	for (;;) {
		struct argv_buf a = {0};
		int resume = jobstore_has_position(j, job);
		int fd = -1;
		pid_t pid = -1;
		rc = build_argv(j, job, dir, resume, &a, err);
		if (!rc && (pid = launch(&a, dir, &fd)) < 0)
			rc = td_errorf(err, TD_EIO, "mpirun", "cannot start %s: %s", a.v[0],
				       strerror(errno));
		args_free(&a);
		if (rc)
			return rc;
		struct follow f = {.j = j, .job = job};
		pthread_mutex_lock(&j->lock);
		job->launcher_pid = pid;
		pthread_mutex_unlock(&j->lock);
		int status = follow(&f, pid, fd);
		pthread_mutex_lock(&j->lock);
		job->launcher_pid = 0;
		json_decref(job->rank_list);
		job->rank_list = NULL;
		pthread_mutex_unlock(&j->lock);
		if (f.done && status == 0)
			return 0;
		pthread_mutex_lock(&j->lock);
		int asked = j->shutdown || job->pause_requested || job->cancel_requested;
		int diverged = job->stop_error[0] != 0;
		pthread_mutex_unlock(&j->lock);
		if (diverged)
			return TD_EINVAL; /* the runner fails it with stop_error */
		if (f.stopped && status == 0)
			return 1;
		if (asked && job->cancel_requested)
			return 1; /* cancelled while it was going down anyway */
		char why[160], last[400];
		if (status < 0)
			snprintf(why, sizeof(why), "no step for %d s (rank_timeout)",
				 job->cfg.rank_timeout);
		else if (WIFSIGNALED(status))
			snprintf(why, sizeof(why), "mpirun was killed by signal %d",
				 WTERMSIG(status));
		else
			snprintf(why, sizeof(why), "mpirun exited with status %d",
				 WEXITSTATUS(status));
		last_log_line(dir, last, sizeof(last));
		if (job->restarts >= job->cfg.max_restarts)
			return td_errorf(err, TD_EIO, "ranks",
					 "the job's ranks failed (%s: %s) after %d restart%s, its "
					 "max_restarts",
					 why, last[0] ? last : "ranks.log says nothing more",
					 job->restarts, job->restarts == 1 ? "" : "s");
		pthread_mutex_lock(&j->lock);
		job->restarts++;
		pthread_mutex_unlock(&j->lock);
		fprintf(stderr, "traind: job %s: a rank was lost (%s%s%s); restart %d of %d from "
			"its last checkpoint\n", job->id, why, last[0] ? ": " : "", last,
			job->restarts, job->cfg.max_restarts);
		if (asked)
			return 1;
	}
}
