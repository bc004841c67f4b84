/*
 * trainrun.c - `traind train` as a worker: progress lines, checkpoints,
 * resume, a graceful stop, and the launch under mpirun (see trainrun.h).
 */
#include "traind/trainrun.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "traind/atomic_file.h"
#include "traind/checkpoint.h"

#define LINE_SECONDS 0.1

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

void trainrun_catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int trainrun_stop_requested(void)
{
	return stop_flag != 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void write_checkpoint(struct trainrun *r, struct trainer *t, double acc)
{
	if (!r->checkpoint || dist_rank(r->dist) != 0)
		return;
	struct checkpoint ck;
	struct td_error e;
	checkpoint_from_trainer(&ck, "", t, r->ds, acc);
	if (checkpoint_save(r->checkpoint, &ck, &e)) {
		fprintf(stderr, "traind: checkpoint failed: %s\n", e.msg);
		return;
	}
	struct train_progress p;
	trainer_progress(t, &p);
	printf("{\"checkpoint\": \"%s\", \"step\": %ld}\n", r->checkpoint, p.step);
	fflush(stdout);
	r->last_ckpt = now();
}

void trainrun_on_step(struct trainrun *r, struct trainer *t, long step, double loss)
{
	double tm = now();
	struct train_progress p;
	trainer_progress(t, &p);
	int last = p.step_in_epoch == p.steps_per_epoch;
	if (r->progress && dist_rank(r->dist) == 0 && (last || tm - r->last_line >= LINE_SECONDS)) {
		if (isfinite(loss))
			printf("{\"step\": %ld, \"loss\": %.9g, \"time\": %.6f}\n", step, loss, tm);
		else
			printf("{\"step\": %ld, \"loss\": null, \"time\": %.6f}\n", step, tm);
		fflush(stdout);
		r->last_line = tm;
	}
	if (!r->last_ckpt)
		r->last_ckpt = tm;
	if (r->checkpoint_seconds > 0 && tm - r->last_ckpt >= r->checkpoint_seconds && !last)
		write_checkpoint(r, t, NAN);
}

void trainrun_on_epoch(struct trainrun *r, struct trainer *t, double test_accuracy)
{
	write_checkpoint(r, t, test_accuracy);
}

void trainrun_stopped(struct trainrun *r, struct trainer *t)
{
	write_checkpoint(r, t, NAN);
	if (dist_rank(r->dist) == 0) {
		struct train_progress p;
		trainer_progress(t, &p);
		printf("{\"stopped\": true, \"step\": %ld}\n", p.step);
		fflush(stdout);
	}
}

int trainrun_resume(struct trainer *t, struct dist *d, const char *path, struct td_error *e)
{
	void *buf = NULL;
	size_t len = 0;
	int rc = 0;
	if (dist_rank(d) == 0)
		rc = read_file(path, CHECKPOINT_MAX_BYTES, &buf, &len, e);
	rc = dist_share(d, rc, &buf, &len, e);
	if (rc)
		return rc;
	struct checkpoint ck;
	rc = checkpoint_parse(buf, len, &ck, e);
	free(buf);
	if (rc)
		return rc;
	if (!ck.has_state)
		rc = td_errorf(e, TD_EINVAL, "resume", "%s holds weights only, not a training "
			       "position to resume from", path);
	else
		rc = trainer_restore(t, &ck.state, ck.params, ck.n_params, ck.moment, ck.n_moments,
				     e);
	checkpoint_free(&ck);
	return rc;
}

int trainrun_launch(int ranks, int argc, char **argv)
{
	const char *mpirun = getenv("MPIRUN");
	if (!mpirun || !*mpirun)
		mpirun = "mpirun";
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	char np[16];
	snprintf(np, sizeof(np), "%d", ranks);
	char **args = calloc((size_t)argc + 4, sizeof(char *));
	if (!args)
		return -1;
	int k = 0;
	args[k++] = (char *)mpirun;
	args[k++] = "-np";
	args[k++] = np;
	args[k++] = exe;
	for (int i = 1; i < argc; i++)
		args[k++] = argv[i];
	args[k] = NULL;
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		execvp(mpirun, args);
		fprintf(stderr, "traind: cannot run %s: %s\n", mpirun, strerror(errno));
		_exit(127);
	}
	free(args);
	if (pid < 0)
		return -1;
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
