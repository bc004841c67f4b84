/*
 * learning.c - a job's training from inside (see learning.h): the runner
 * feeds each step's per-layer statistics into the job's series and each
 * epoch's dead-unit shares into the record; the job view and the layers
 * view read them back, with the warnings derived from them.
 */
#include "traind/learning.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "traind/infer.h"
#include "traind/job.h"
#include "traind/jsonnum.h"
#include "traind/nn.h"

void learning_on_step_locked(struct job *job, struct trainer *t, long step)
{
	struct layer_stat st[MODEL_MAX_LAYERS];
	double v[MODEL_MAX_LAYERS][3];
	long at;
	int n = trainer_layer_stats(t, st, &at);
	if (at != step)
		return; /* not a measured step */
	for (int l = 0; l < n; l++) {
		v[l][0] = st[l].w_norm;
		v[l][1] = st[l].grad_norm;
		v[l][2] = st[l].update_ratio;
	}
	layer_series_add(&job->layers, step, (const double (*)[3])v, n);
}

/* One forward pass over the first test images: every layer's histograms
 * of weights and activations into h (h->rows 0 when it cannot run), and,
 * for a relu model, the share of each hidden layer's units that are 0 on
 * every one of them (-1 otherwise). */
static void epoch_sample(const struct trainer *t, const struct dataset *ds, float *dead,
			 struct hist_epoch *h)
{
	const struct model_shape *s = trainer_shape(t);
	const float *params = trainer_params(t);
	for (int l = 0; l < MODEL_MAX_LAYERS; l++)
		dead[l] = -1;
	h->rows = 0;
	int n = ds->n_test < LEARNING_DEAD_SAMPLES ? (int)ds->n_test : LEARNING_DEAD_SAMPLES;
	if (n < 1 || ds->features != s->sizes[0])
		return;
	struct nn_ws_f ws;
	if (nn_ws_init_f(&ws, s, n))
		return;
	infer_bytes_to_inputs(ds->test_x, (size_t)n * (size_t)ds->features, ws.act[0]);
	nn_forward_f(s, params, &ws, n);
	for (int l = 0; l < s->n_layers; l++) {
		hist_row_fill(&h->row[2 * l], params + s->layer[l].w_off, s->layer[l].n_w);
		hist_row_fill(&h->row[2 * l + 1], ws.act[l + 1], (size_t)n * (size_t)s->sizes[l + 1]);
	}
	h->rows = 2 * s->n_layers;
	for (int l = 1; l < s->n_layers && s->act == ACT_RELU; l++) {
		int units = s->sizes[l], never = 0;
		for (int u = 0; u < units; u++) {
			int fired = 0;
			for (int r = 0; r < n && !fired; r++)
				fired = ws.act[l][(size_t)r * units + u] > 0;
			never += !fired;
		}
		dead[l - 1] = (float)never / (float)units;
	}
	nn_ws_free_f(&ws);
}

void learning_on_epoch(struct jobs *j, struct job *job, struct trainer *t)
{
	float dead[MODEL_MAX_LAYERS];
	struct hist_epoch *h = malloc(sizeof(*h));
	struct train_progress p;
	if (!h)
		return;
	trainer_progress(t, &p);
	h->epoch = p.epoch;
	epoch_sample(t, job->ds, dead, h);
	pthread_mutex_lock(&j->lock);
	memcpy(job->dead, dead, sizeof(dead));
	if (h->rows)
		hist_series_add(&job->hists, h);
	pthread_mutex_unlock(&j->lock);
	free(h);
}

/* ---- warnings ------------------------------------------------------- */

static struct learning_warning *warn(struct learning_warnings *w, const char *kind, int layer)
{
	if (w->n >= LEARNING_MAX_WARNINGS)
		return NULL;
	struct learning_warning *x = &w->w[w->n++];
	snprintf(x->kind, sizeof(x->kind), "%s", kind);
	x->layer = layer;
	return x;
}

/* Is the update ratio of tensor l beyond `limit` (below if `below`) at each
 * of the newest k points? */
static int ratio_run(const struct layer_series *s, int l, size_t k, double limit, int below)
{
	if (s->n < k || l >= s->tensors)
		return 0;
	for (size_t i = s->n - k; i < s->n; i++) {
		double r = s->points[i].v[l][2];
		if (below ? !(r < limit) : !(r > limit))
			return 0;
	}
	return 1;
}

static void ratio_warnings(const struct job *job, struct learning_warnings *out)
{
	const struct layer_series *s = &job->layers;
	const char *hint = job->cfg.activation == ACT_RELU
				   ? "dead units or a learning rate far too low? try a higher "
				     "learning_rate or he init"
				   : "sigmoid saturation? try relu or a smaller init";
	if (job->cfg.activation == ACT_TANH)
		hint = "tanh saturation? try relu or a smaller init";
	struct model_shape shape;
	int have_shape = model_describe_dataset(&shape, &job->cfg, job->ds, 0, NULL) == 0;
	for (int l = 0; l < s->tensors; l++) {
		struct learning_warning *x;
		if (have_shape && l < shape.n_layers && shape.layer[l].n_w == 0)
			continue; /* a pooling row: no weights, so no update to judge */
		if (ratio_run(s, l, LEARNING_VANISH_POINTS, LEARNING_VANISH_RATIO, 1) &&
		    (x = warn(out, "vanishing", l + 1))) {
			const struct layer_point *first = &s->points[s->n - LEARNING_VANISH_POINTS];
			snprintf(x->message, sizeof(x->message),
				 "layer %d has almost stopped learning: its update ratio "
				 "||dW||/||W|| has stayed below %.0e since step %ld (%.1e now); %s",
				 l + 1, LEARNING_VANISH_RATIO, first->step,
				 (double)s->points[s->n - 1].v[l][2], hint);
		}
		if (ratio_run(s, l, LEARNING_EXPLODE_POINTS, LEARNING_EXPLODE_RATIO, 0) &&
		    (x = warn(out, "exploding", l + 1)))
			snprintf(x->message, sizeof(x->message),
				 "layer %d's weights change by %.0f %% of their size at every step: "
				 "the updates are exploding; lower learning_rate (now %g) ten-fold",
				 l + 1, 100 * (double)s->points[s->n - 1].v[l][2],
				 job->cfg.learning_rate);
	}
}

void learning_warnings_locked(const struct job *job, struct learning_warnings *out)
{
	out->n = 0;
	ratio_warnings(job, out);
	for (int l = 0; l < MODEL_MAX_HIDDEN; l++) {
		struct learning_warning *x;
		if (job->dead[l] >= LEARNING_DEAD_SHARE && (x = warn(out, "dead_relu", l + 1)))
			snprintf(x->message, sizeof(x->message),
				 "layer %d: %.0f %% of its units never fire on %d test images (dead "
				 "ReLUs); lower learning_rate, or use he init", l + 1,
				 100 * (double)job->dead[l], LEARNING_DEAD_SAMPLES);
	}
	int n = job->n_epochs, classes = job->ds ? job->ds->n_classes : 0;
	if (n >= 3 && classes >= 2) {
		double before = job->epochs[n - 2].st.train_loss, now = job->epochs[n - 1].st.train_loss;
		double acc = job->epochs[n - 1].st.test_accuracy, chance = 1.0 / classes;
		struct learning_warning *x;
		if (now > 0.99 * before && acc < 1.5 * chance && (x = warn(out, "stalled", 0)))
			snprintf(x->message, sizeof(x->message),
				 "the loss has stopped falling (%.4g, then %.4g) while test accuracy "
				 "stays at chance (%.1f %%; chance is %.1f %%): the network is not "
				 "learning - check the learning_rate, the output/loss pairing and "
				 "the depth", before, now, 100 * acc, 100 * chance);
	}
}

json_t *learning_warnings_json(const struct learning_warnings *w)
{
	json_t *arr = json_array();
	for (int i = 0; i < w->n; i++)
		json_array_append_new(arr, json_pack("{s:s, s:i, s:s}", "kind", w->w[i].kind,
						     "layer", w->w[i].layer, "message",
						     w->w[i].message));
	return arr;
}

/* ---- the histograms view -------------------------------------------- */

json_t *jobs_histograms_json(struct jobs *j, const char *id, struct td_error *e)
{
	pthread_mutex_lock(&j->lock);
	struct job *job = job_find_locked(j, id);
	if (!job) {
		pthread_mutex_unlock(&j->lock);
		job_not_found(id, e);
		return NULL;
	}
	size_t n = job->hists.n;
	struct hist_epoch *copy = malloc(sizeof(*copy) * (n ? n : 1));
	if (copy && n)
		memcpy(copy, job->hists.e, sizeof(*copy) * n);
	pthread_mutex_unlock(&j->lock);
	if (!copy) {
		td_errorf(e, TD_ENOMEM, "", "out of memory");
		return NULL;
	}
	json_t *epochs = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *rows = json_array();
		for (int r = 0; r < copy[i].rows; r++) {
			const struct hist_row *h = &copy[i].row[r];
			json_t *counts = json_array();
			for (int k = 0; k < HIST_BINS; k++)
				json_array_append_new(counts, json_integer(h->count[k]));
			char name[16];
			snprintf(name, sizeof(name), "%c%d", r % 2 ? 'a' : 'W', r / 2 + 1);
			json_array_append_new(rows, json_pack("{s:s, s:s, s:o, s:o, s:o}", "name", name,
							      "of", r % 2 ? "activations" : "weights",
							      "lo", td_json_num(h->lo), "hi",
							      td_json_num(h->hi), "counts", counts));
		}
		json_array_append_new(epochs, json_pack("{s:i, s:o}", "epoch", copy[i].epoch,
							"histograms", rows));
	}
	free(copy);
	return json_pack("{s:i, s:i, s:o}", "bins", HIST_BINS, "sample", LEARNING_DEAD_SAMPLES,
			 "epochs", epochs);
}

/* ---- the layers view ------------------------------------------------ */

json_t *jobs_layers_json(struct jobs *j, const char *id, long since_step, int max_points,
			 struct td_error *e)
{
	size_t cap = max_points > 0 ? (size_t)max_points : 1;
	struct layer_point *pts = malloc(sizeof(*pts) * cap);
	struct learning_warnings *w = malloc(sizeof(*w));
	if (!pts || !w) {
		free(pts);
		free(w);
		td_errorf(e, TD_ENOMEM, "", "out of memory");
		return NULL;
	}
	pthread_mutex_lock(&j->lock);
	struct job *job = job_find_locked(j, id);
	if (!job) {
		pthread_mutex_unlock(&j->lock);
		free(pts);
		free(w);
		job_not_found(id, e);
		return NULL;
	}
	size_t take = layer_series_select(&job->layers, since_step, cap, pts);
	long next = layer_series_next_step(&job->layers);
	int tensors = job->layers.tensors, hidden = job->cfg.n_hidden;
	float dead[MODEL_MAX_LAYERS];
	memcpy(dead, job->dead, sizeof(dead));
	learning_warnings_locked(job, w);
	enum job_state st = job->state;
	pthread_mutex_unlock(&j->lock);
	if (next < since_step)
		next = since_step;
	json_t *names = json_array(), *points = json_array(), *dj = json_array();
	for (int l = 0; l < tensors; l++) {
		char n[16];
		snprintf(n, sizeof(n), "W%d", l + 1);
		json_array_append_new(names, json_string(n));
	}
	for (size_t k = 0; k < take; k++) {
		json_t *per = json_array();
		for (int l = 0; l < tensors; l++)
			json_array_append_new(per, json_pack("[o, o, o]",
							     td_json_num(pts[k].v[l][0]),
							     td_json_num(pts[k].v[l][1]),
							     td_json_num(pts[k].v[l][2])));
		json_array_append_new(points, json_pack("[I, o]", (json_int_t)pts[k].step, per));
	}
	for (int l = 0; l < hidden; l++)
		json_array_append_new(dj, dead[l] >= 0 ? td_json_num(dead[l]) : json_null());
	json_t *o = json_pack("{s:o, s:o, s:I, s:o, s:o, s:s}", "tensors", names, "points", points,
			      "next_step", (json_int_t)next, "dead", dj, "warnings",
			      learning_warnings_json(w), "state", job_state_name(st));
	free(pts);
	free(w);
	return o;
}
