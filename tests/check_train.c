/*
 * check_train.c - the trainer: bit-identical weights for 1-4 workers,
 * uneven shards weighted right, pause/resume that changes nothing, and the
 * seed networks every backprop tutorial trains, trained here.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "traind/dataset.h"
#include "traind/isa.h"
#include "traind/nn.h"
#include "traind/train.h"

/* 8x8 images of 4 classes: class c lights rows 2c..2c+1, plus noise; about
 * half the pixels are 0, so training takes the sparse first layer. */
static struct dataset *stripes(size_t n_train, size_t n_test, uint64_t seed)
{
	size_t n = n_train + n_test;
	uint8_t *x = malloc(n * 64), *y = malloc(n);
	struct td_rng r;
	rng_seed(&r, seed);
	for (size_t i = 0; i < n; i++) {
		int c = (int)rng_below(&r, 4);
		y[i] = (uint8_t)c;
		for (int p = 0; p < 64; p++) {
			int row = p / 8;
			int v = (int)rng_below(&r, 90);
			if (row / 2 == c)
				v += 140;
			x[i * 64 + (size_t)p] = (uint8_t)(rng_below(&r, 2) == 0 ? 0 : v);
		}
	}
	struct dataset *d = dataset_from_memory("stripes", 8, 8, 4, NULL, x, y, n_train,
						x + n_train * 64, y + n_train, n_test);
	free(x);
	free(y);
	return d;
}

static struct job_config base_config(void)
{
	struct job_config c;
	jobcfg_defaults(&c);
	c.n_hidden = 2;
	c.hidden[0] = 16;
	c.hidden[1] = 12;
	c.batch_size = 65; /* uneven: 4 slots of 16, 16, 16, 17 */
	c.epochs = 3;
	c.workers = 1;
	c.seed = 11;
	c.l2 = 0;
	c.augment = AUGMENT_NONE; /* shifting 8x8 stripes would move the class */
	return c;
}

static void train_digest(const struct job_config *c, const struct dataset *d, char hex[17],
			 double *acc)
{
	struct pool *p;
	struct trainer *t;
	struct td_error e;
	ck_assert_int_eq(pool_create(c->workers, &p, &e), 0);
	ck_assert_msg(trainer_create(c, d, p, &t, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(trainer_run(t, NULL), 0);
	model_digest(trainer_params(t), trainer_param_count(t), hex);
	if (acc) {
		double loss;
		trainer_evaluate(t, 1, &loss, acc);
	}
	trainer_free(t);
	pool_free(p);
}

/* Same seed, workers 1..4, three optimizers: bit-identical weights. */
START_TEST(test_weights_bit_identical_for_1_to_4_workers)
{
	struct dataset *d = stripes(1000, 200, 1);
	const enum optimizer opts[3] = {OPT_SGD, OPT_MOMENTUM, OPT_ADAM};
	for (int o = 0; o < 3; o++) {
		struct job_config c = base_config();
		c.optimizer = opts[o];
		c.learning_rate = o == 2 ? 0.01 : 0.1;
		c.l2 = 1e-4;
		c.lr_schedule = o == 1 ? LR_COSINE : LR_CONSTANT;
		char ref[17], got[17];
		double acc;
		train_digest(&c, d, ref, &acc);
		ck_assert_msg(acc > 0.9, "the stripes problem should train (accuracy %.3f)", acc);
		for (int w = 2; w <= 4; w++) {
			c.workers = w;
			train_digest(&c, d, got, NULL);
			ck_assert_msg(strcmp(ref, got) == 0, "%s: %d workers gave %s, 1 gave %s",
				      optimizer_name(opts[o]), w, got, ref);
		}
	}
	dataset_free(d);
}
END_TEST

/* A batch of 65 cut into uneven slots (16, 16, 16, 17): the summed gradient equals the
 * whole batch's gradient computed at once in double precision. */
START_TEST(test_uneven_shards_weigh_every_sample_equally)
{
	struct dataset *d = stripes(200, 10, 2);
	struct job_config c = base_config();
	struct pool *p;
	struct trainer *t;
	ck_assert_int_eq(pool_create(2, &p, NULL), 0);
	c.workers = 2;
	ck_assert_int_eq(trainer_create(&c, d, p, &t, NULL), 0);
	size_t P = trainer_param_count(t);
	uint32_t idx[65];
	for (int i = 0; i < 65; i++)
		idx[i] = (uint32_t)(i * 3 % 200);
	float *g2 = calloc(P, sizeof(float)), *g1 = calloc(P, sizeof(float));
	trainer_batch_gradient(t, idx, 65, g2);
	trainer_set_workers(t, 1, NULL);
	trainer_batch_gradient(t, idx, 65, g1);
	ck_assert_int_eq(memcmp(g1, g2, sizeof(float) * P), 0);

	/* Reference: all 65 samples in one double-precision pass. */
	const struct model_shape *s = trainer_shape(t);
	struct nn_ws_d ws;
	ck_assert_int_eq(nn_ws_init_d(&ws, s, 65), 0);
	double *wd = malloc(sizeof(double) * P), *gd = calloc(P, sizeof(double));
	for (size_t i = 0; i < P; i++)
		wd[i] = trainer_params(t)[i];
	uint8_t labels[65];
	for (int r = 0; r < 65; r++) {
		for (int f = 0; f < 64; f++)
			ws.act[0][r * 64 + f] = (double)((float)d->train_x[idx[r] * 64 + (size_t)f] / 255.0f);
		labels[r] = d->train_y[idx[r]];
	}
	nn_loss_grad_d(s, wd, gd, &ws, labels, 65, NULL);
	double num = 0, den = 0;
	for (size_t i = 0; i < P; i++) {
		num += (g2[i] - gd[i]) * (g2[i] - gd[i]);
		den += gd[i] * gd[i];
	}
	ck_assert_msg(sqrt(num / den) < 1e-6, "relative difference %g", sqrt(num / den));
	nn_ws_free_d(&ws);
	free(wd);
	free(gd);
	free(g1);
	free(g2);
	trainer_free(t);
	pool_free(p);
	dataset_free(d);
}
END_TEST

struct stopper {
	long stop_at;
	long steps;
	int stops;
};

static int stop_hook(void *arg)
{
	struct stopper *s = arg;
	if (s->steps == s->stop_at) {
		s->stop_at = -1;
		s->stops++;
		return 1;
	}
	return 0;
}

static void count_hook(void *arg, struct trainer *t, long step, double loss)
{
	struct stopper *s = arg;
	(void)t;
	ck_assert(isfinite(loss));
	ck_assert_int_eq(step, s->steps + 1);
	s->steps = step;
}

/* A hook between steps reads the weights and moments of the step just
 * done, whatever the worker count: with workers sharing the first layer by
 * columns (train.c) the latest columns are in their own buffers until
 * something asks for the weights. */
struct peek {
	int n;
	char w[8][17], m[8][17];
};

static void peek_hook(void *arg, struct trainer *t, long step, double loss)
{
	struct peek *pk = arg;
	(void)loss;
	if (step % 5 || pk->n >= 8)
		return;
	model_digest(trainer_params(t), trainer_param_count(t), pk->w[pk->n]);
	model_digest(trainer_moment(t, 0), trainer_param_count(t), pk->m[pk->n]);
	pk->n++;
}

START_TEST(test_hooks_see_the_latest_weights_for_any_worker_count)
{
	isa_force_first_layer(FIRST_LAYER_SPARSE);
	struct dataset *d = stripes(700, 50, 3);
	struct job_config c = base_config();
	c.hidden[0] = 40;
	c.epochs = 4; /* 44 steps: the hook looks at steps 5, 10, ..., 40 */
	c.optimizer = OPT_MOMENTUM;
	c.learning_rate = 0.05;
	struct peek ref = {0};
	for (int w = 1; w <= 3; w++) {
		struct peek pk = {0};
		struct pool *p;
		struct trainer *t;
		c.workers = w;
		ck_assert_int_eq(pool_create(w, &p, NULL), 0);
		ck_assert_int_eq(trainer_create(&c, d, p, &t, NULL), 0);
		struct train_hooks h = {.arg = &pk, .on_step = peek_hook};
		ck_assert_int_eq(trainer_run(t, &h), 0);
		ck_assert_int_eq(pk.n, 8);
		for (int i = 0; i < 8 && w > 1; i++) {
			ck_assert_msg(strcmp(ref.w[i], pk.w[i]) == 0,
				      "%d workers, step %d: weights %s, 1 worker's %s", w, 5 * (i + 1),
				      pk.w[i], ref.w[i]);
			ck_assert_msg(strcmp(ref.m[i], pk.m[i]) == 0,
				      "%d workers, step %d: moments %s, 1 worker's %s", w, 5 * (i + 1),
				      pk.m[i], ref.m[i]);
		}
		if (w == 1)
			ref = pk;
		trainer_free(t);
		pool_free(p);
	}
	dataset_free(d);
	isa_force_first_layer(FIRST_LAYER_AUTO);
}
END_TEST

/* Stopping mid-epoch and continuing (on another worker count) gives the
 * uninterrupted run's weights exactly. */
START_TEST(test_pause_and_resume_change_nothing)
{
	struct dataset *d = stripes(700, 50, 3);
	struct job_config c = base_config();
	c.workers = 2;
	char ref[17];
	train_digest(&c, d, ref, NULL);
	struct pool *p;
	struct trainer *t;
	ck_assert_int_eq(pool_create(2, &p, NULL), 0);
	ck_assert_int_eq(trainer_create(&c, d, p, &t, NULL), 0);
	/* should_stop is polled while a step runs and stops after that step. */
	struct stopper st = {.stop_at = 5};
	struct train_hooks h = {.arg = &st, .on_step = count_hook, .should_stop = stop_hook};
	ck_assert_int_eq(trainer_run(t, &h), 1);
	struct train_progress pr;
	trainer_progress(t, &pr);
	ck_assert_int_eq(pr.step, 6);
	ck_assert_int_eq(pr.epoch, 0);
	trainer_set_workers(t, 1, NULL);
	st.stop_at = 13; /* the boundary in epoch 2 */
	ck_assert_int_eq(trainer_run(t, &h), 1);
	trainer_set_workers(t, 2, NULL);
	ck_assert_int_eq(trainer_run(t, &h), 0);
	ck_assert_int_eq(st.stops, 2);
	trainer_progress(t, &pr);
	ck_assert_int_eq(pr.step, 3 * 11);
	ck_assert(trainer_done(t));
	char got[17];
	model_digest(trainer_params(t), trainer_param_count(t), got);
	ck_assert_str_eq(ref, got);
	trainer_free(t);
	pool_free(p);
	dataset_free(d);
}
END_TEST

static double train_accuracy_on(struct dataset *d, struct job_config *c, int on_test)
{
	struct pool *p;
	struct trainer *t;
	struct td_error e;
	ck_assert_int_eq(pool_create(c->workers, &p, NULL), 0);
	ck_assert_msg(trainer_create(c, d, p, &t, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(trainer_run(t, NULL), 0);
	double loss, acc;
	trainer_evaluate(t, on_test, &loss, &acc);
	trainer_free(t);
	pool_free(p);
	return acc;
}

/* The 3-4-1 network of the numpy tutorials on XOR (third input a bias). */
START_TEST(test_xor_3_4_1_learns_all_four_points)
{
	const uint8_t x[12] = {0, 0, 255, 0, 255, 255, 255, 0, 255, 255, 255, 255};
	const uint8_t y[4] = {0, 1, 1, 0};
	struct dataset *d = dataset_from_memory("xor", 3, 1, 2, NULL, x, y, 4, x, y, 4);
	struct job_config c;
	jobcfg_defaults(&c);
	c.augment = AUGMENT_NONE;
	c.l2 = 0;
	c.n_hidden = 1;
	c.hidden[0] = 4;
	c.activation = ACT_SIGMOID;
	c.output = OUT_SIGMOID;
	c.loss = LOSS_MSE;
	c.learning_rate = 2.0;
	c.batch_size = 4;
	c.epochs = 3000;
	c.workers = 1;
	c.seed = 1;
	ck_assert_double_eq(train_accuracy_on(d, &c, 0), 1.0);
	dataset_free(d);
}
END_TEST

/* 4-3-3-1: a two-hidden-layer binary classifier, x0 + x1 > x2 + x3. */
START_TEST(test_4_3_3_1_learns_a_linear_rule)
{
	size_t n = 600;
	uint8_t *x = malloc(n * 4), *y = malloc(n);
	struct td_rng r;
	rng_seed(&r, 9);
	for (size_t i = 0; i < n; i++) {
		for (int f = 0; f < 4; f++)
			x[i * 4 + (size_t)f] = (uint8_t)rng_below(&r, 256);
		y[i] = x[i * 4] + x[i * 4 + 1] > x[i * 4 + 2] + x[i * 4 + 3];
	}
	struct dataset *d = dataset_from_memory("rule", 4, 1, 2, NULL, x, y, 500, x + 2000, y + 500, 100);
	struct job_config c;
	jobcfg_defaults(&c);
	c.augment = AUGMENT_NONE;
	c.l2 = 0;
	c.n_hidden = 2;
	c.hidden[0] = 3;
	c.hidden[1] = 3;
	c.activation = ACT_TANH;
	c.output = OUT_SIGMOID;
	c.loss = LOSS_CROSS_ENTROPY;
	c.optimizer = OPT_ADAM;
	c.learning_rate = 0.02;
	c.batch_size = 16;
	c.epochs = 60;
	c.workers = 2;
	double acc = train_accuracy_on(d, &c, 1);
	ck_assert_msg(acc >= 0.93, "4-3-3-1 test accuracy %.3f", acc);
	free(x);
	free(y);
	dataset_free(d);
}
END_TEST

static const struct dataset *real_digits(struct dataset_registry **reg)
{
	const char *dir = getenv("TRAIND_TEST_DATA");
	*reg = registry_create();
	registry_add_defaults(*reg, dir ? dir : "data", "/usr/share/datasets/fashion-mnist");
	const struct dataset *d = NULL;
	struct td_error e;
	int rc = registry_get(*reg, "digits", &d, &e);
	ck_assert_msg(rc == 0, "the digits data set is needed (set-up fetches it): %s", e.msg);
	return d;
}

/* Nielsen's textbook network: 784-100-10, sigmoid everywhere, quadratic
 * cost, plain SGD. It must get past 90 % on the held-out digits. */
START_TEST(test_784_100_10_sigmoid_mse_on_digits)
{
	struct dataset_registry *reg;
	const struct dataset *d = real_digits(&reg);
	struct job_config c;
	jobcfg_defaults(&c);
	c.augment = AUGMENT_NONE;
	c.l2 = 0;
	c.hidden[0] = 100;
	c.activation = ACT_SIGMOID;
	c.output = OUT_SIGMOID;
	c.loss = LOSS_MSE;
	c.learning_rate = 3.0;
	c.batch_size = 10;
	c.epochs = 8;
	c.workers = 2;
	double acc = train_accuracy_on((struct dataset *)d, &c, 1);
	ck_assert_msg(acc > 0.90, "784-100-10 sigmoid/mse test accuracy %.4f", acc);
	registry_free(reg);
}
END_TEST

/* The 400-25-10 network of the classic course exercise, with L2: digits
 * cropped to their central 20x20 box (where MNIST puts the ink). */
START_TEST(test_400_25_10_with_l2_on_cropped_digits)
{
	struct dataset_registry *reg;
	const struct dataset *full = real_digits(&reg);
	size_t n = full->n_train + full->n_test;
	uint8_t *x = malloc(n * 400), *y = malloc(n);
	for (size_t i = 0; i < n; i++) {
		int tr = i < full->n_train;
		size_t k = tr ? i : i - full->n_train;
		const uint8_t *src = (tr ? full->train_x : full->test_x) + k * 784;
		for (int r = 0; r < 20; r++)
			memcpy(x + i * 400 + (size_t)r * 20, src + (size_t)(r + 4) * 28 + 4, 20);
		y[i] = (tr ? full->train_y : full->test_y)[k];
	}
	struct dataset *d = dataset_from_memory("digits20", 20, 20, 10, NULL, x, y, full->n_train,
						x + full->n_train * 400, y + full->n_train,
						full->n_test);
	struct job_config c;
	jobcfg_defaults(&c);
	c.augment = AUGMENT_NONE;
	c.hidden[0] = 25;
	c.activation = ACT_SIGMOID;
	c.output = OUT_SIGMOID;
	c.loss = LOSS_CROSS_ENTROPY;
	c.l2 = 1e-4;
	c.learning_rate = 0.5;
	c.batch_size = 32;
	c.epochs = 15;
	c.workers = 2;
	double acc = train_accuracy_on(d, &c, 1);
	ck_assert_msg(acc > 0.88, "400-25-10 test accuracy %.4f", acc);
	free(x);
	free(y);
	dataset_free(d);
	registry_free(reg);
}
END_TEST

Suite *suite_train(void)
{
	Suite *s = suite_create("train");
	TCase *tc = tcase_create("sharding");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_weights_bit_identical_for_1_to_4_workers);
	tcase_add_test(tc, test_uneven_shards_weigh_every_sample_equally);
	tcase_add_test(tc, test_pause_and_resume_change_nothing);
	tcase_add_test(tc, test_hooks_see_the_latest_weights_for_any_worker_count);
	suite_add_tcase(s, tc);
	TCase *seeds = tcase_create("seed_networks");
	tcase_set_timeout(seeds, 600);
	tcase_add_test(seeds, test_xor_3_4_1_learns_all_four_points);
	tcase_add_test(seeds, test_4_3_3_1_learns_a_linear_rule);
	tcase_add_test(seeds, test_784_100_10_sigmoid_mse_on_digits);
	tcase_add_test(seeds, test_400_25_10_with_l2_on_cropped_digits);
	suite_add_tcase(s, seeds);
	return s;
}
