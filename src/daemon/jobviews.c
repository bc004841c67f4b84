/*
 * jobviews.c - the JSON the API serves about jobs and models: the job
 * object, the job list, the metrics cursor and the model objects (see
 * jobs.h for the functions, docs/api.md for the shapes).
 *
 * Each view copies what it shows under the manager's lock and builds the
 * JSON without it, so a poll never holds up a training step for longer
 * than a memcpy. Every number goes through td_json_num: NaN and the
 * infinities are null, never a dropped row.
 */
#include "traind/job.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "traind/isa.h"
#include "traind/jsonnum.h"
#include "traind/pool.h"
#include "traind/train.h"
#include "traind/learning.h"

static json_t *time_json(double t)
{
	if (!(t > 0))
		return json_null();
	time_t s = (time_t)t;
	struct tm tm;
	gmtime_r(&s, &tm);
	char buf[32];
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_string(buf);
}

/* What the job object shows. */
struct job_view {
	char id[JOB_ID_MAX];
	struct job_config cfg;
	enum job_state state;
	struct train_progress progress;
	long steps_per_epoch;
	double latest_loss, rate;
	int has_last;
	struct epoch_stats last;
	double best_test_accuracy;
	double elapsed;
	int restarts;
	double created_at, started_at, finished_at;
	char error[512];
	struct learning_warnings warnings; /* learning.h */
	int has_shape;            /* the model summary: layers, shapes, parameters */
	const char *first_path;   /* train_first_layer_path, NULL without a shape */
	struct model_shape shape;
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
	v->best_test_accuracy = NAN;
	for (int i = 0; i < job->n_epochs; i++) {
		double acc = job->epochs[i].st.test_accuracy;
		if (isfinite(acc) && (isnan(v->best_test_accuracy) || acc > v->best_test_accuracy))
			v->best_test_accuracy = acc;
	}
	v->restarts = job->restarts;
	v->elapsed = job->run_seconds + (job->run_since > 0 ? job_unix_now() - job->run_since : 0);
	v->created_at = job->created_at;
	v->started_at = job->started_at;
	v->finished_at = job->finished_at;
	memcpy(v->error, job->error, sizeof(v->error));
	learning_warnings_locked(job, &v->warnings);
	v->has_shape = model_describe_dataset(&v->shape, &job->cfg, job->ds, 0, NULL) == 0;
	v->first_path = v->has_shape ? train_first_layer_path(&job->cfg, job->ds, &v->shape) : NULL;
}

static json_t *job_view_json(const struct job_view *v)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_string(v->id));
	json_object_set_new(o, "name", json_string(v->cfg.name));
	json_object_set_new(o, "state", json_string(job_state_name(v->state)));
	json_object_set_new(o, "config", jobcfg_to_json(&v->cfg));
	if (v->has_shape)
		json_object_set_new(o, "model", model_shape_json(&v->shape));
	json_object_set_new(o, "progress",
			    json_pack("{s:i, s:i, s:I, s:I}", "epoch", v->progress.epoch,
				      "epochs", v->cfg.epochs, "step", (json_int_t)v->progress.step,
				      "steps", (json_int_t)(v->steps_per_epoch * v->cfg.epochs)));
	const struct epoch_stats *last = v->has_last ? &v->last : NULL;
	json_t *latest = json_object();
	json_object_set_new(latest, "loss", td_json_num(v->latest_loss));
	json_object_set_new(latest, "train_accuracy", td_json_num(last ? last->train_accuracy : NAN));
	json_object_set_new(latest, "test_accuracy", td_json_num(last ? last->test_accuracy : NAN));
	json_object_set_new(latest, "test_loss", td_json_num(last ? last->test_loss : NAN));
	json_object_set_new(latest, "best_test_accuracy", td_json_num(v->best_test_accuracy));
	json_object_set_new(latest, "samples_per_second",
			    td_json_num(v->state == JOB_RUNNING
						? v->rate
						: last ? last->samples_per_second : NAN));
	json_object_set_new(o, "latest", latest);
	json_object_set_new(o, "created_at", time_json(v->created_at));
	json_object_set_new(o, "started_at", time_json(v->started_at));
	json_object_set_new(o, "finished_at", time_json(v->finished_at));
	json_object_set_new(o, "elapsed_seconds", td_json_num(v->elapsed));
	json_object_set_new(o, "restarts", json_integer(v->restarts));
	/* The kernels that train it (chosen once at start, isa.h). */
	json_object_set_new(o, "isa", json_string(isa_tier_name(isa_tier())));
	json_object_set_new(o, "first_layer", json_string(first_layer_name(isa_first_layer())));
	json_object_set_new(o, "first_layer_path", v->first_path ? json_string(v->first_path)
								 : json_null());
	json_object_set_new(o, "error", v->error[0] ? json_string(v->error) : json_null());
	json_object_set_new(o, "warnings", learning_warnings_json(&v->warnings));
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
	struct job *job = job_find_locked(j, id);
	if (job)
		job_view_locked(job, v);
	pthread_mutex_unlock(&j->lock);
	json_t *o = job ? job_view_json(v) : NULL;
	free(v);
	if (!job)
		job_not_found(id, e);
	return o;
}

json_t *jobs_list_json(struct jobs *j, int state, const char *after, int limit,
		       struct td_error *e)
{
	struct job_view *v = calloc((size_t)(limit > 0 ? limit : 1), sizeof(*v));
	if (!v) {
		td_errorf(e, TD_ENOMEM, "", "out of memory");
		return NULL;
	}
	int n = 0, more = 0, found = after == NULL;
	long total = 0;
	pthread_mutex_lock(&j->lock);
	/* Newest first; the cursor is placed among all jobs, so one that
	 * changed state since is still a place to continue from. */
	for (int i = j->n_jobs - 1; i >= 0; i--) {
		const struct job *job = j->list[i];
		int match = state < 0 || (int)job->state == state;
		total += match;
		if (!found) {
			found = strcmp(job->id, after) == 0;
			continue;
		}
		if (!match)
			continue;
		if (n < limit)
			job_view_locked(job, &v[n++]);
		else
			more = 1;
	}
	pthread_mutex_unlock(&j->lock);
	if (!found) {
		free(v);
		td_errorf(e, TD_EINVAL, "cursor", "cursor \"%.40s\" names no job (deleted since?); "
			  "start again without a cursor", after);
		return NULL;
	}
	json_t *arr = json_array();
	for (int i = 0; i < n; i++)
		json_array_append_new(arr, job_view_json(&v[i]));
	json_t *next = more && n ? json_string(v[n - 1].id) : json_null();
	free(v);
	return json_pack("{s:o, s:o, s:I}", "jobs", arr, "next_cursor", next, "total",
			 (json_int_t)total);
}

json_t *jobs_metrics_json(struct jobs *j, const char *id, long since_step, int max_points,
			  struct td_error *e)
{
	size_t cap = max_points > 0 ? (size_t)max_points : 1;
	struct curve_point *pts = malloc(sizeof(*pts) * cap);
	struct epoch_row *rows = NULL;
	pthread_mutex_lock(&j->lock);
	struct job *job = job_find_locked(j, id);
	if (!job) {
		pthread_mutex_unlock(&j->lock);
		free(pts);
		job_not_found(id, e);
		return NULL;
	}
	rows = malloc(sizeof(*rows) * (size_t)(job->n_epochs ? job->n_epochs : 1));
	size_t take = 0;
	int n_rows = 0;
	if (pts && rows) {
		take = curve_select(&job->curve, since_step, cap, pts);
		/* An epoch's row is written after its last step's point (the test
		 * set is evaluated in between), so a poll can get that point
		 * before the row exists: rows of the step just below the cursor
		 * are sent again, and clients key epochs by their number. */
		for (int i = 0; i < job->n_epochs; i++)
			if (job->epochs[i].step >= since_step - 1)
				rows[n_rows++] = job->epochs[i];
	}
	long next = curve_next_step(&job->curve);
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
	for (size_t k = 0; k < take; k++) {
		json_t *p = json_array();
		json_array_append_new(p, json_integer((json_int_t)pts[k].step));
		json_array_append_new(p, td_json_num(pts[k].time));
		json_array_append_new(p, td_json_num((double)pts[k].loss));
		json_array_append_new(points, p);
	}
	json_t *epochs = json_array();
	for (int i = 0; i < n_rows; i++)
		json_array_append_new(epochs, job_epoch_json(&rows[i]));
	free(pts);
	free(rows);
	return json_pack("{s:o, s:o, s:I, s:s}", "points", points, "epochs", epochs, "next_step",
			 (json_int_t)next, "state", job_state_name(st));
}

/* The hosts of mpi_hostfile ("host slots=N", # comments), or this one. */
static json_t *hosts_json(const struct jobs *j)
{
	json_t *hosts = json_array();
	FILE *f = j->cfg.mpi_hostfile && *j->cfg.mpi_hostfile ? fopen(j->cfg.mpi_hostfile, "r")
							      : NULL;
	char line[512];
	while (f && fgets(line, sizeof(line), f) && json_array_size(hosts) < 4096) {
		char host[256];
		int slots = 1;
		line[strcspn(line, "#\n")] = '\0';
		if (sscanf(line, "%255s", host) != 1)
			continue;
		const char *sl = strstr(line, "slots=");
		if (sl)
			slots = atoi(sl + 6);
		json_array_append_new(hosts, json_pack("{s:s, s:i}", "host", host, "slots", slots));
	}
	if (f)
		fclose(f);
	else {
		char host[256] = "localhost";
		gethostname(host, sizeof(host) - 1);
		json_array_append_new(hosts, json_pack("{s:s, s:i}", "host", host, "slots",
						       pool_online_cores()));
	}
	return hosts;
}

json_t *jobs_cluster_json(struct jobs *j)
{
	json_t *jobs = json_array();
	pthread_mutex_lock(&j->lock);
	for (int i = 0; i < j->n_jobs; i++) {
		const struct job *job = j->list[i];
		if (job->cfg.ranks < 2 || job->state != JOB_RUNNING)
			continue;
		json_array_append_new(
			jobs, json_pack("{s:s, s:s, s:i, s:I, s:o, s:o, s:i}", "id", job->id, "name",
					job->cfg.name, "ranks", job->cfg.ranks, "launcher_pid",
					(json_int_t)job->launcher_pid, "rank_processes",
					job->rank_list ? json_incref(job->rank_list) : json_array(),
					"samples_per_second", td_json_num(job->rate), "restarts",
					job->restarts));
	}
	pthread_mutex_unlock(&j->lock);
	return json_pack("{s:o, s:o, s:s}", "hosts", hosts_json(j), "jobs", jobs, "mpirun",
			 j->cfg.mpirun && *j->cfg.mpirun ? j->cfg.mpirun : "mpirun");
}

json_t *model_shape_json(const struct model_shape *s)
{
	json_t *rows = json_array();
	for (int l = 0; l < s->n_layers; l++) /* one row form: model.h */
		json_array_append_new(rows, model_layer_json(s, l));
	return json_pack("{s:o, s:I, s:f, s:s}", "layers", rows, "parameters",
			 (json_int_t)s->n_params, "flops_per_sample", s->flops, "loss",
			 loss_name(s->loss));
}

static json_t *model_json_locked(const struct job *job)
{
	const struct dataset *ds = job->ds;
	struct model_shape shape;
	if (job->snap)
		shape = job->snap->shape;
	else if (model_describe_dataset(&shape, &job->cfg, ds, 0, NULL))
		memset(&shape, 0, sizeof(shape));
	json_t *layers = json_array(), *classes = json_array();
	for (int l = 0; shape.n_layers && l <= shape.n_layers; l++)
		json_array_append_new(layers, json_integer(shape.sizes[l]));
	for (int i = 0; i < ds->n_classes; i++)
		json_array_append_new(classes, json_string(ds->class_names[i]));
	const char *state = job->snap ? "AVAILABLE"
			    : (job->state == JOB_QUEUED || job->state == JOB_RUNNING) ? "LOADING"
										  : "END";
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:i, s:i, s:I}",
			      "name", job->id, "job", job->id, "job_name", job->cfg.name,
			      "job_state", job_state_name(job->state), "state", state, "layers",
			      layers, "test_accuracy",
			      td_json_num(job->snap ? job->snap->test_accuracy : NAN), "dataset",
			      ds->name, "classes", classes, "width", ds->width, "height",
			      ds->height, "step", (json_int_t)(job->snap ? job->snap->step : 0));
	if (o && shape.n_layers)
		json_object_set_new(o, "model", model_shape_json(&shape));
	return o;
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
	struct job *job = jobs_model_job_locked(j, name, e);
	json_t *o = job ? model_json_locked(job) : NULL;
	pthread_mutex_unlock(&j->lock);
	return o;
}
