/*
 * job.c - the job record and its state machine (see job.h).
 *
 *   queued -> running <-> paused -> completed | failed | cancelled
 *
 * Every change of state goes through job_set_state(), which checks it
 * against the table below, logs it, saves the record (so records land in
 * the order the states changed) and wakes the threads that wait on it.
 */
#include "traind/job.h"

#include "traind/jsonnum.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const state_names[JOB_STATE_COUNT] = {
	"queued", "running", "paused", "completed", "failed", "cancelled",
};

/* allowed[from][to]. Finished states are final. A running job goes back
 * to queued at shutdown (a restarted daemon resumes it); queued, running
 * and paused jobs fail when their data set is gone after a restart. */
static const unsigned char allowed[JOB_STATE_COUNT][JOB_STATE_COUNT] = {
	/*              queued running paused completed failed cancelled */
	[JOB_QUEUED] = {0, 1, 1, 0, 1, 1},
	[JOB_RUNNING] = {1, 0, 1, 1, 1, 1},
	[JOB_PAUSED] = {1, 0, 0, 0, 1, 1},
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

double job_unix_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void job_free(struct job *job)
{
	trainer_free(job->trainer);
	snapshot_release(job->snap);
	if (job->resume) {
		checkpoint_free(job->resume);
		free(job->resume);
	}
	dataset_free(job->own_ds);
	curve_free(&job->curve);
	json_decref(job->rank_list);
	free(job->epochs);
	free(job);
}

struct job *job_alloc(const struct job_config *cfg, size_t max_points)
{
	struct job *job = calloc(1, sizeof(*job));
	if (!job)
		return NULL;
	int rc = curve_init(&job->curve, max_points);
	job->epochs = calloc((size_t)cfg->epochs, sizeof(*job->epochs));
	if (rc || !job->epochs) {
		job_free(job);
		return NULL;
	}
	job->cfg = *cfg;
	job->state = JOB_QUEUED;
	job->latest_loss = NAN;
	return job;
}

struct job *job_find_locked(struct jobs *j, const char *id)
{
	for (int i = 0; i < j->n_jobs; i++)
		if (strcmp(j->list[i]->id, id) == 0)
			return j->list[i];
	return NULL;
}

int job_not_found(const char *id, struct td_error *e)
{
	return td_errorf(e, TD_ENOTFOUND, "id", "no job with id \"%.40s\"", id);
}

void job_new_id_locked(struct jobs *j, char id[JOB_ID_MAX])
{
	do
		snprintf(id, JOB_ID_MAX, "j-%06llx",
			 (unsigned long long)(rng_next(&j->id_rng) & 0xffffff));
	while (job_find_locked(j, id));
}

int job_transition_allowed(enum job_state from, enum job_state to)
{
	return (unsigned)from < JOB_STATE_COUNT && (unsigned)to < JOB_STATE_COUNT &&
	       allowed[from][to];
}

int job_set_state(struct jobs *j, struct job *job, enum job_state to, const char *how)
{
	if (!job_transition_allowed(job->state, to)) {
		fprintf(stderr, "traind: bug: job %s: no transition from %s to %s\n", job->id,
			job_state_name(job->state), job_state_name(to));
		return TD_ESTATE;
	}
	job->state = to;
	if (to == JOB_COMPLETED || to == JOB_FAILED || to == JOB_CANCELLED)
		job->finished_at = job_unix_now();
	fprintf(stderr, "traind: job %s (%s) %s%s%s%s\n", job->id, job->cfg.name,
		job_state_name(to), how ? " (" : "", how ? how : "", how ? ")" : "");
	jobstore_save_record_locked(j, job);
	if (to == JOB_QUEUED)
		pthread_cond_broadcast(&j->work);
	pthread_cond_broadcast(&j->changed);
	return 0;
}

json_t *job_epoch_json(const struct epoch_row *r)
{
	json_t *x = json_object();
	json_object_set_new(x, "epoch", json_integer(r->st.epoch));
	json_object_set_new(x, "step", json_integer(r->step));
	json_object_set_new(x, "train_loss", td_json_num(r->st.train_loss));
	json_object_set_new(x, "train_accuracy", td_json_num(r->st.train_accuracy));
	json_object_set_new(x, "test_loss", td_json_num(r->st.test_loss));
	json_object_set_new(x, "test_accuracy", td_json_num(r->st.test_accuracy));
	json_object_set_new(x, "seconds", td_json_num(r->st.seconds));
	json_object_set_new(x, "samples_per_second", td_json_num(r->st.samples_per_second));
	return x;
}
