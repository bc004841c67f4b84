/*
 * check_learning.c - the learning made visible: the trainer's per-layer
 * statistics equal norms computed from checkpoints of consecutive steps;
 * the series stays bounded, thins evenly and survives its file format and
 * a restart, as do the per-epoch histograms; a saturating sigmoid job
 * raises the vanishing warning and a healthy relu job does not.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_suites.h"
#include "testutil.h"
#include "traind/checkpoint.h"
#include "traind/job.h"
#include "traind/jobs.h"
#include "traind/learning.h"
#include "traind/histseries.h"
#include "traind/layerseries.h"
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

/* ---- the trainer's statistics against checkpoints -------------------- */

struct recorder {
	const struct dataset *ds;
	float *prev; /* the previous step's checkpointed weights */
	size_t n;
	int steps, checked;
	double lr;
	int sgd;
};

static double norm_of(const float *a, const float *b, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++) {
		double d = (double)a[i] - (b ? (double)b[i] : 0);
		s += d * d;
	}
	return sqrt(s);
}

static void rel_close(double got, double want, double tol, const char *what, int l)
{
	ck_assert_msg(fabs(got - want) <= tol * fmax(fabs(want), 1e-30), "%s of W%d: %.9g vs %.9g",
		      what, l + 1, got, want);
}

static void record_step(void *arg, struct trainer *t, long step, double loss)
{
	struct recorder *r = arg;
	(void)loss;
	struct checkpoint ck;
	checkpoint_from_trainer(&ck, "", t, r->ds, NAN);
	const struct model_shape *s = trainer_shape(t);
	struct layer_stat st[MODEL_MAX_LAYERS];
	long at;
	ck_assert_int_eq(trainer_layer_stats(t, st, &at), s->n_layers);
	ck_assert_int_eq(at, (step - 1) / TRAIN_LAYER_STATS_EVERY * TRAIN_LAYER_STATS_EVERY + 1);
	if (r->prev && at == step) {
		for (int l = 0; l < s->n_layers; l++) {
			const struct model_layer *L = &s->layer[l];
			const float *w = ck.params + L->w_off, *p = r->prev + L->w_off;
			double wn = norm_of(w, NULL, L->n_w), dn = norm_of(w, p, L->n_w);
			rel_close(st[l].w_norm, wn, 1e-5, "||W||", l);
			rel_close(st[l].update_ratio, dn / wn, 1e-5, "update ratio", l);
			/* SGD moves by lr times the gradient it followed (float steps). */
			if (r->sgd)
				rel_close(r->lr * st[l].grad_norm, dn, 2e-3, "lr * ||dW||", l);
			ck_assert(st[l].grad_norm > 0);
		}
		r->checked++;
	} else if (!r->prev) {
		r->prev = malloc(sizeof(float) * ck.n_params);
		r->n = ck.n_params;
	}
	ck_assert_int_eq(step, ++r->steps);
	memcpy(r->prev, ck.params, sizeof(float) * r->n);
}

static void stats_match_checkpoints(enum optimizer opt, double l2)
{
	struct dataset *ds = bands("bands", 300);
	struct job_config c;
	jobcfg_defaults(&c);
	c.n_hidden = 2;
	c.hidden[0] = 24;
	c.hidden[1] = 12;
	c.batch_size = 4;
	c.epochs = 1;
	c.workers = 2;
	c.optimizer = opt;
	c.learning_rate = opt == OPT_ADAM ? 0.01 : 0.1;
	c.l2 = l2;
	c.augment = AUGMENT_NONE;
	struct pool *pool;
	struct trainer *t;
	struct td_error e;
	ck_assert_int_eq(pool_create(2, &pool, &e), 0);
	ck_assert_msg(trainer_create(&c, ds, pool, &t, &e) == 0, "%s", e.msg);
	struct layer_stat st[MODEL_MAX_LAYERS];
	long at;
	ck_assert_int_eq(trainer_layer_stats(t, st, &at), 0);
	struct recorder r = {.ds = ds, .lr = c.learning_rate, .sgd = opt == OPT_SGD};
	struct train_hooks h = {.arg = &r, .on_step = record_step};
	ck_assert_int_eq(trainer_run(t, &h), 0);
	ck_assert_int_eq(r.checked, 3); /* 75 steps of 4, measured at 21, 41, 61 */
	free(r.prev);
	trainer_free(t);
	pool_free(pool);
	dataset_free(ds);
}

START_TEST(test_stats_equal_norms_from_consecutive_checkpoints)
{
	stats_match_checkpoints(OPT_SGD, 0);
	stats_match_checkpoints(OPT_SGD, 0.01);
	stats_match_checkpoints(OPT_ADAM, 0.0005);
	stats_match_checkpoints(OPT_MOMENTUM, 0);
}
END_TEST

/* ---- the series ---------------------------------------------------- */

static void point_values(long step, double v[MODEL_MAX_LAYERS][3])
{
	for (int l = 0; l < MODEL_MAX_LAYERS; l++)
		for (int k = 0; k < 3; k++)
			v[l][k] = (double)step * (l + 1) + k;
}

START_TEST(test_series_is_bounded_and_thinned_evenly)
{
	struct layer_series s;
	ck_assert_int_eq(layer_series_init(&s, 64), 0);
	double v[MODEL_MAX_LAYERS][3];
	for (long step = 1; step <= 100000; step++) {
		point_values(step, v);
		layer_series_add(&s, step, (const double (*)[3])v, 3);
		ck_assert_uint_le(s.n, 64);
	}
	ck_assert_int_eq(s.points[0].step, 1);
	ck_assert_int_eq(s.points[s.n - 1].step, 100000);
	ck_assert_float_eq(s.points[s.n - 1].v[2][1], 300001.0f);
	/* Older points are at least half the stride apart: the run is spanned evenly. */
	for (size_t i = 1; i + 1 < s.n; i++)
		ck_assert_int_ge(s.points[i].step - s.points[i - 1].step, s.stride / 2);
	ck_assert_int_eq(layer_series_next_step(&s), 100001);
	/* Another tensor count is not mixed in. */
	layer_series_add(&s, 100001, (const double (*)[3])v, 2);
	ck_assert_int_eq(layer_series_next_step(&s), 100001);
	struct layer_point out[10];
	size_t k = layer_series_select(&s, 50000, 10, out);
	ck_assert_uint_eq(k, 10);
	ck_assert_int_ge(out[0].step, 50000);
	ck_assert_int_eq(out[9].step, 100000);
	ck_assert_uint_eq(layer_series_select(&s, 100001, 10, out), 0);
	layer_series_free(&s);
}
END_TEST

START_TEST(test_series_file_round_trip_and_damage)
{
	struct layer_series s, back;
	ck_assert_int_eq(layer_series_init(&s, 100), 0);
	double v[MODEL_MAX_LAYERS][3];
	for (long step = 1; step <= 50; step++) {
		point_values(step, v);
		layer_series_add(&s, step, (const double (*)[3])v, 2);
	}
	uint8_t *buf;
	size_t len;
	struct td_error e;
	ck_assert_int_eq(layer_series_encode(&s, &buf, &len, &e), 0);
	ck_assert_uint_eq(len, 20 + 50 * (8 + 24) + 4);
	ck_assert_int_eq(memcmp(buf, "TRDLAYER", 8), 0);
	ck_assert_int_eq(layer_series_init(&back, 100), 0);
	ck_assert_int_eq(layer_series_decode(&back, buf, len, 30, &e), 0);
	ck_assert_uint_eq(back.n, 30); /* up to the checkpoint's step */
	ck_assert_int_eq(back.tensors, 2);
	ck_assert_float_eq(back.points[29].v[1][2], s.points[29].v[1][2]);
	buf[40] ^= 1;
	layer_series_free(&back);
	ck_assert_int_eq(layer_series_init(&back, 100), 0);
	ck_assert_int_eq(layer_series_decode(&back, buf, len, 1000, &e), TD_EFORMAT);
	ck_assert_ptr_nonnull(strstr(e.msg, "CRC-32"));
	ck_assert_int_eq(layer_series_decode(&back, buf, len - 7, 1000, &e), TD_EFORMAT);
	buf[8] = 9;
	ck_assert_int_eq(layer_series_decode(&back, buf, len, 1000, &e), TD_EFORMAT);
	ck_assert_ptr_nonnull(strstr(e.msg, "version 9"));
	ck_assert_uint_eq(back.n, 0);
	free(buf);
	layer_series_free(&back);
	layer_series_free(&s);
}
END_TEST

/* ---- histograms ---------------------------------------------------- */

START_TEST(test_histogram_bins_and_series_bound)
{
	float v[101];
	for (int i = 0; i < 100; i++)
		v[i] = (float)i;
	v[100] = NAN;
	struct hist_row r;
	hist_row_fill(&r, v, 101);
	ck_assert_float_eq(r.lo, 0);
	ck_assert_float_eq(r.hi, 99);
	uint32_t sum = 0;
	for (int k = 0; k < HIST_BINS; k++) {
		sum += r.count[k];
		ck_assert_uint_ge(r.count[k], 3); /* 100 values in 32 equal bins: 3 or 4 each */
		ck_assert_uint_le(r.count[k], 4);
	}
	ck_assert_uint_eq(sum, 100);
	float same[5] = {2, 2, 2, 2, 2};
	hist_row_fill(&r, same, 5);
	ck_assert_uint_eq(r.count[0], 5);
	struct hist_series s, back;
	hist_series_init(&s, HIST_MAX_EPOCHS);
	struct hist_epoch h;
	memset(&h, 0, sizeof(h));
	h.rows = 2;
	for (int e = 1; e <= 1000; e++) {
		h.epoch = e;
		hist_row_fill(&h.row[0], v, 100);
		h.row[1].count[3] = (uint32_t)e;
		ck_assert_int_eq(hist_series_add(&s, &h), 0);
		ck_assert_uint_le(s.n, HIST_MAX_EPOCHS);
	}
	ck_assert_int_eq(s.e[0].epoch, 1);
	ck_assert_int_eq(s.e[s.n - 1].epoch, 1000);
	uint8_t *buf;
	size_t len;
	struct td_error e;
	ck_assert_int_eq(hist_series_encode(&s, &buf, &len, &e), 0);
	hist_series_init(&back, HIST_MAX_EPOCHS);
	ck_assert_int_eq(hist_series_decode(&back, buf, len, 1000, &e), 0);
	ck_assert_uint_eq(back.n, s.n);
	ck_assert_int_eq(memcmp(back.e, s.e, sizeof(*s.e) * s.n), 0);
	hist_series_free(&back);
	hist_series_init(&back, HIST_MAX_EPOCHS);
	ck_assert_int_eq(hist_series_decode(&back, buf, len, 500, &e), 0);
	ck_assert_int_le(back.e[back.n - 1].epoch, 500);
	buf[30] ^= 4;
	ck_assert_int_eq(hist_series_decode(&back, buf, len, 1000, &e), TD_EFORMAT);
	ck_assert_ptr_nonnull(strstr(e.msg, "CRC-32"));
	free(buf);
	hist_series_free(&back);
	hist_series_free(&s);
}
END_TEST

/* ---- jobs: warnings, the view, restarts ----------------------------- */

struct fixture {
	struct dataset_registry *reg;
	struct jobs *jobs;
	char *state;
};

static void start(struct fixture *f, char *state)
{
	memset(f, 0, sizeof(*f));
	f->reg = registry_create();
	ck_assert_int_eq(registry_add_loaded(f->reg, bands("bands", 600), NULL), 0);
	f->state = state;
	struct jobs_config c = {
		.registry = f->reg,
		.max_running = 2,
		.max_queued = 8,
		.max_jobs = 16,
		.pool_workers = 1,
		.max_curve_points = 1000,
		.snapshot_seconds = 0.05,
		.state_dir = state,
		.checkpoint_seconds = 0.2,
	};
	jobcfg_limits_default(&c.limits, 2);
	struct td_error e;
	ck_assert_msg(jobs_create(&c, &f->jobs, &e) == 0, "%s", e.msg);
}

static void stop(struct fixture *f)
{
	jobs_free(f->jobs);
	registry_free(f->reg);
}

static int wait_completed(struct jobs *j, const char *id)
{
	for (int i = 0; i < 6000; i++) {
		json_t *o = jobs_get_json(j, id, NULL);
		const char *st = json_string_value(json_object_get(o, "state"));
		int done = st && strcmp(st, "completed") == 0, bad = st && strcmp(st, "failed") == 0;
		json_decref(o);
		if (done || bad)
			return done;
		usleep(10000);
	}
	return 0;
}

/* The kinds of warning a job's view carries, as "kind@layer,..." */
static void warning_kinds(struct jobs *j, const char *id, char *buf, size_t len)
{
	json_t *o = jobs_get_json(j, id, NULL), *w;
	size_t i;
	buf[0] = '\0';
	json_array_foreach(json_object_get(o, "warnings"), i, w) {
		size_t n = strlen(buf);
		snprintf(buf + n, len - n, "%s@%d,", json_string_value(json_object_get(w, "kind")),
			 (int)json_integer_value(json_object_get(w, "layer")));
	}
	json_decref(o);
}

static struct job_config job_of(enum activation act, int depth, int width)
{
	struct job_config c;
	jobcfg_defaults(&c);
	snprintf(c.dataset, sizeof(c.dataset), "bands");
	c.n_hidden = depth;
	for (int i = 0; i < depth; i++)
		c.hidden[i] = width;
	c.activation = act;
	c.epochs = 7;
	c.batch_size = 20;
	c.workers = 1;
	c.augment = AUGMENT_NONE;
	return c;
}

START_TEST(test_saturating_sigmoid_warns_and_healthy_relu_does_not)
{
	struct fixture f;
	start(&f, NULL);
	/* Eight sigmoid layers with mse: each multiplies the error by at most
	 * 1/4 on its way down, so the first layer hardly moves. */
	struct job_config sat = job_of(ACT_SIGMOID, 8, 16);
	sat.output = OUT_SIGMOID;
	sat.loss = LOSS_MSE;
	sat.optimizer = OPT_SGD;
	sat.learning_rate = 0.01;
	sat.l2 = 0; /* weight decay alone would move W1 by lr * l2 a step */
	struct job_config ok = job_of(ACT_RELU, 1, 32);
	char a[JOB_ID_MAX], b[JOB_ID_MAX], kinds[512];
	struct td_error e;
	ck_assert_msg(jobs_submit(f.jobs, &sat, a, &e) == 0, "%s", e.msg);
	ck_assert_msg(jobs_submit(f.jobs, &ok, b, &e) == 0, "%s", e.msg);
	ck_assert(wait_completed(f.jobs, a));
	ck_assert(wait_completed(f.jobs, b));
	warning_kinds(f.jobs, a, kinds, sizeof(kinds));
	ck_assert_msg(strstr(kinds, "vanishing@1,") != NULL, "sigmoid job's warnings: %s", kinds);
	warning_kinds(f.jobs, b, kinds, sizeof(kinds));
	ck_assert_msg(kinds[0] == '\0', "relu job's warnings: %s", kinds);
	/* The message says what to try. */
	json_t *o = jobs_get_json(f.jobs, a, NULL);
	const char *msg = json_string_value(
		json_object_get(json_array_get(json_object_get(o, "warnings"), 0), "message"));
	ck_assert_ptr_nonnull(strstr(msg, "layer 1 has almost stopped learning"));
	ck_assert_ptr_nonnull(strstr(msg, "try relu or a smaller init"));
	json_decref(o);
	/* The layers view: one name per weight tensor, three figures each. */
	o = jobs_layers_json(f.jobs, b, 0, 5, &e);
	ck_assert_ptr_nonnull(o);
	ck_assert_uint_eq(json_array_size(json_object_get(o, "tensors")), 2);
	json_t *pts = json_object_get(o, "points");
	ck_assert_uint_eq(json_array_size(pts), 5);
	json_t *last = json_array_get(pts, 4);
	ck_assert_int_eq(json_integer_value(json_array_get(last, 0)), 201); /* of 7 x 600/20 */
	json_t *w2 = json_array_get(json_array_get(last, 1), 1);
	ck_assert_uint_eq(json_array_size(w2), 3);
	ck_assert(json_number_value(json_array_get(w2, 2)) > 1e-7);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "next_step")), 202);
	ck_assert(json_is_number(json_array_get(json_object_get(o, "dead"), 0)));
	json_decref(o);
	/* Histograms per epoch: W1, a1, W2, a2, over the 90 test images. */
	o = jobs_histograms_json(f.jobs, b, &e);
	json_t *ep = json_object_get(o, "epochs");
	ck_assert_uint_eq(json_array_size(ep), 7);
	json_t *rows = json_object_get(json_array_get(ep, 6), "histograms");
	ck_assert_uint_eq(json_array_size(rows), 4);
	const size_t want[4] = {49 * 32, 90 * 32, 32 * 3, 90 * 3};
	for (size_t k = 0; k < 4; k++) {
		json_t *c, *counts = json_object_get(json_array_get(rows, k), "counts");
		size_t idx, total = 0;
		ck_assert_uint_eq(json_array_size(counts), HIST_BINS);
		json_array_foreach(counts, idx, c) total += (size_t)json_integer_value(c);
		ck_assert_uint_eq(total, want[k]);
	}
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(rows, 1), "name")), "a1");
	json_decref(o);
	ck_assert_ptr_null(jobs_layers_json(f.jobs, "j-nope00", 0, 5, &e));
	ck_assert_str_eq(e.field, "id");
	stop(&f);
}
END_TEST

/* The other rules, on a record made by hand. */
START_TEST(test_exploding_dead_and_stalled_warnings)
{
	struct job_config c = job_of(ACT_RELU, 2, 8);
	c.learning_rate = 3;
	struct job *job = job_alloc(&c, 100);
	struct dataset *ds = bands("bands", 30);
	job->ds = ds;
	struct learning_warnings w;
	learning_warnings_locked(job, &w);
	ck_assert_int_eq(w.n, 0);
	double v[MODEL_MAX_LAYERS][3] = {{1, 1, 0.5}, {1, 1, 0.01}, {1, 1, 0.3}};
	for (long step = 1; step <= LEARNING_EXPLODE_POINTS; step++)
		layer_series_add(&job->layers, step, (const double (*)[3])v, 3);
	job->dead[1] = 0.75f;
	for (int i = 0; i < 3; i++) {
		job->epochs[i].st.train_loss = 1.0986 - 0.0001 * i;
		job->epochs[i].st.test_accuracy = 0.34;
	}
	job->n_epochs = 3;
	learning_warnings_locked(job, &w);
	ck_assert_int_eq(w.n, 4);
	ck_assert_str_eq(w.w[0].kind, "exploding");
	ck_assert_int_eq(w.w[0].layer, 1);
	ck_assert_ptr_nonnull(strstr(w.w[0].message, "lower learning_rate (now 3)"));
	ck_assert_str_eq(w.w[1].kind, "exploding");
	ck_assert_int_eq(w.w[1].layer, 3);
	ck_assert_str_eq(w.w[2].kind, "dead_relu");
	ck_assert_int_eq(w.w[2].layer, 2);
	ck_assert_ptr_nonnull(strstr(w.w[2].message, "75 %"));
	ck_assert_str_eq(w.w[3].kind, "stalled");
	/* One point below the threshold ends the run; a falling loss is not stalled. */
	v[0][2] = 0.05;
	layer_series_add(&job->layers, 6, (const double (*)[3])v, 3);
	job->epochs[2].st.train_loss = 0.9;
	job->dead[1] = 0.25f;
	learning_warnings_locked(job, &w);
	ck_assert_int_eq(w.n, 1);
	ck_assert_int_eq(w.w[0].layer, 3);
	job->ds = NULL;
	job_free(job);
	dataset_free(ds);
}
END_TEST

START_TEST(test_series_is_kept_across_restarts)
{
	char *state = test_tmpdir();
	struct fixture f;
	start(&f, state);
	struct job_config c = job_of(ACT_RELU, 1, 16);
	char id[JOB_ID_MAX];
	struct td_error e;
	ck_assert_int_eq(jobs_submit(f.jobs, &c, id, &e), 0);
	ck_assert(wait_completed(f.jobs, id));
	json_t *before = jobs_layers_json(f.jobs, id, 0, 1000, &e);
	json_t *hb = jobs_histograms_json(f.jobs, id, &e);
	stop(&f);
	start(&f, state);
	json_t *after = jobs_layers_json(f.jobs, id, 0, 1000, &e);
	json_t *ha = jobs_histograms_json(f.jobs, id, &e);
	ck_assert_uint_eq(json_array_size(json_object_get(ha, "epochs")), 7);
	ck_assert(json_equal(hb, ha));
	json_decref(hb);
	json_decref(ha);
	ck_assert_ptr_nonnull(after);
	ck_assert_uint_eq(json_array_size(json_object_get(after, "points")), 11);
	ck_assert(json_equal(json_object_get(before, "points"), json_object_get(after, "points")));
	json_decref(before);
	json_decref(after);
	stop(&f);
	test_rmtree(state);
	free(state);
}
END_TEST

Suite *suite_learning(void)
{
	Suite *s = suite_create("learning");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_stats_equal_norms_from_consecutive_checkpoints);
	tcase_add_test(tc, test_series_is_bounded_and_thinned_evenly);
	tcase_add_test(tc, test_series_file_round_trip_and_damage);
	tcase_add_test(tc, test_histogram_bins_and_series_bound);
	tcase_add_test(tc, test_saturating_sigmoid_warns_and_healthy_relu_does_not);
	tcase_add_test(tc, test_exploding_dead_and_stalled_warnings);
	tcase_add_test(tc, test_series_is_kept_across_restarts);
	suite_add_tcase(s, tc);
	return s;
}
