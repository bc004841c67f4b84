/*
 * check_isa.c - the instruction-set tier and the first layer's path: the
 * switches' values and errors, the threshold the auto mode applies, and on
 * every tier this CPU supports, with the first layer forced each way,
 * weights bit-identical for 1-4 workers from a model that trains.
 */
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "traind/dataset.h"
#include "traind/isa.h"
#include "traind/layerspec.h"
#include "traind/model.h"
#include "traind/train.h"

START_TEST(test_names_parse_and_bad_values_name_the_variable)
{
	enum isa_tier t;
	enum first_layer f;
	struct td_error e;
	for (int i = 0; i < ISA_TIERS; i++) {
		ck_assert_int_eq(isa_tier_parse(isa_tier_name((enum isa_tier)i), "x", &t, NULL), 0);
		ck_assert_int_eq(t, i);
	}
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(first_layer_parse(first_layer_name((enum first_layer)i), "x", &f, NULL), 0);
		ck_assert_int_eq(f, i);
	}
	ck_assert_int_eq(isa_choose("sse9", NULL, ISA_AVX512, &t, &f, &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "TRAIND_ISA");
	ck_assert_ptr_nonnull(strstr(e.msg, "avx512, avx2 or generic"));
	ck_assert_ptr_nonnull(strstr(e.msg, "sse9"));
	ck_assert_int_eq(isa_choose(NULL, "half", ISA_AVX512, &t, &f, &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "TRAIND_FIRST_LAYER");
	ck_assert_ptr_nonnull(strstr(e.msg, "auto, sparse or dense"));
}
END_TEST

START_TEST(test_choice_defaults_to_the_best_tier_and_refuses_a_missing_one)
{
	enum isa_tier t = ISA_GENERIC;
	enum first_layer f = FIRST_LAYER_DENSE;
	struct td_error e;
	ck_assert_int_eq(isa_choose(NULL, "", ISA_AVX2, &t, &f, &e), 0);
	ck_assert_int_eq(t, ISA_AVX2);
	ck_assert_int_eq(f, FIRST_LAYER_AUTO);
	ck_assert_int_eq(isa_choose("generic", "dense", ISA_AVX2, &t, &f, &e), 0);
	ck_assert_int_eq(t, ISA_GENERIC);
	ck_assert_int_eq(f, FIRST_LAYER_DENSE);
	/* An AVX2-only CPU asked for AVX-512: an error that says what it has. */
	ck_assert_int_eq(isa_choose("avx512", NULL, ISA_AVX2, &t, &f, &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "TRAIND_ISA");
	ck_assert_ptr_nonnull(strstr(e.msg, "lacks the avx512 tier"));
	ck_assert_ptr_nonnull(strstr(e.msg, "avx2 and generic"));
	ck_assert_int_eq(isa_choose("avx2", NULL, ISA_GENERIC, &t, &f, &e), TD_EINVAL);
	/* And this CPU: generic always; the best tier and those below it. */
	ck_assert(isa_supported(ISA_GENERIC));
	ck_assert(isa_supported(isa_best()));
	for (int i = 0; i < ISA_TIERS; i++) {
		ck_assert_int_eq(isa_supported((enum isa_tier)i), i <= (int)isa_best());
		ck_assert_int_eq(isa_force((enum isa_tier)i, NULL) == 0, i <= (int)isa_best());
	}
	ck_assert(!isa_supported((enum isa_tier)ISA_TIERS));
}
END_TEST

START_TEST(test_first_layer_mode_and_threshold)
{
	for (int i = 0; i < ISA_TIERS; i++) {
		enum isa_tier t = (enum isa_tier)i;
		if (!isa_supported(t))
			continue;
		ck_assert_int_eq(isa_force(t, NULL), 0);
		for (int rows = 1; rows <= 256; rows *= 2) {
			double th = isa_sparse_max_density(t, rows);
			ck_assert(th >= 0 && th <= 1);
			isa_force_first_layer(FIRST_LAYER_AUTO);
			ck_assert(isa_first_layer_sparse(th, rows));
			ck_assert(!isa_first_layer_sparse(th + 0.01, rows));
			isa_force_first_layer(FIRST_LAYER_SPARSE);
			ck_assert(isa_first_layer_sparse(1.0, rows));
			isa_force_first_layer(FIRST_LAYER_DENSE);
			ck_assert(!isa_first_layer_sparse(0.0, rows));
		}
	}
	isa_force_first_layer(FIRST_LAYER_AUTO);
}
END_TEST

/* 8x8 images of 4 classes: class c lights rows 2c..2c+1 plus noise; about
 * half the pixels are 0. */
static struct dataset *stripes(size_t n_train, size_t n_test)
{
	size_t n = n_train + n_test;
	uint8_t *x = malloc(n * 64), *y = malloc(n);
	struct td_rng r;
	rng_seed(&r, 5);
	for (size_t i = 0; i < n; i++) {
		int c = (int)rng_below(&r, 4);
		y[i] = (uint8_t)c;
		for (int p = 0; p < 64; p++) {
			int v = (int)rng_below(&r, 90) + (p / 16 == c ? 140 : 0);
			x[i * 64 + (size_t)p] = (uint8_t)(rng_below(&r, 2) == 0 ? 0 : v);
		}
	}
	struct dataset *d = dataset_from_memory("stripes", 8, 8, 4, NULL, x, y, n_train,
						x + n_train * 64, y + n_train, n_test);
	free(x);
	free(y);
	return d;
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

/* _i: tier * 2 + (0 sparse, 1 dense). Hidden widths 130 and 20 cover each
 * tier's full blocks, single vectors and scalar tails. */
START_TEST(test_bit_identical_for_1_to_4_workers_per_tier)
{
	const enum isa_tier tier = (enum isa_tier)(_i / 2);
	const enum first_layer path = _i % 2 ? FIRST_LAYER_DENSE : FIRST_LAYER_SPARSE;
	if (!isa_supported(tier))
		return;
	ck_assert_int_eq(isa_force(tier, NULL), 0);
	isa_force_first_layer(path);
	struct dataset *d = stripes(600, 200);
	struct job_config c;
	jobcfg_defaults(&c);
	c.n_hidden = 2;
	c.hidden[0] = 130;
	c.hidden[1] = 20;
	c.batch_size = 65; /* uneven slots: 16, 16, 16, 17 */
	c.epochs = 2;
	c.seed = 3;
	c.optimizer = OPT_MOMENTUM;
	c.learning_rate = 0.05;
	c.augment = AUGMENT_NONE;
	c.workers = 1;
	char ref[17], got[17];
	double acc;
	train_digest(&c, d, ref, &acc);
	ck_assert_msg(acc > 0.9, "%s/%s: the stripes should train (accuracy %.3f)",
		      isa_tier_name(tier), first_layer_name(path), acc);
	for (int w = 2; w <= 4; w++) {
		c.workers = w;
		train_digest(&c, d, got, NULL);
		ck_assert_msg(strcmp(ref, got) == 0, "%s/%s: %d workers gave %s, 1 gave %s",
			      isa_tier_name(tier), first_layer_name(path), w, got, ref);
	}
	dataset_free(d);
	isa_force_first_layer(FIRST_LAYER_AUTO);
}
END_TEST

/* The path a job's first layer takes: forced either way, by the data
 * set's density under auto, im2col for a convolution. */
START_TEST(test_first_layer_path_of_a_job)
{
	struct dataset *d = stripes(64, 16);
	ck_assert(d->train_density > 0.4 && d->train_density < 0.6);
	struct job_config c;
	jobcfg_defaults(&c);
	c.n_hidden = 1;
	c.hidden[0] = 16;
	c.batch_size = 64;
	struct model_shape s;
	struct td_error e;
	ck_assert_msg(model_describe_dataset(&s, &c, d, 0, &e) == 0, "%s", e.msg);
	isa_force_first_layer(FIRST_LAYER_SPARSE);
	ck_assert_str_eq(train_first_layer_path(&c, d, &s), "sparse");
	isa_force_first_layer(FIRST_LAYER_DENSE);
	ck_assert_str_eq(train_first_layer_path(&c, d, &s), "dense");
	isa_force_first_layer(FIRST_LAYER_AUTO);
	const int sparse = d->train_density <= isa_sparse_max_density(isa_tier(), 16);
	ck_assert_str_eq(train_first_layer_path(&c, d, &s), sparse ? "sparse" : "dense");
	c.n_hidden = 0;
	ck_assert_msg(layerspec_from_text(c.layer_specs, &c.n_layer_specs,
					  "[{\"type\": \"conv\", \"filters\": 2, \"kernel\": 3}]",
					  &e) == 0, "%s", e.msg);
	ck_assert_msg(model_describe_dataset(&s, &c, d, 0, &e) == 0, "%s", e.msg);
	ck_assert_str_eq(train_first_layer_path(&c, d, &s), "im2col");
	dataset_free(d);
}
END_TEST

Suite *suite_isa(void)
{
	Suite *s = suite_create("isa");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_names_parse_and_bad_values_name_the_variable);
	tcase_add_test(tc, test_choice_defaults_to_the_best_tier_and_refuses_a_missing_one);
	tcase_add_test(tc, test_first_layer_mode_and_threshold);
	tcase_add_loop_test(tc, test_bit_identical_for_1_to_4_workers_per_tier, 0, ISA_TIERS * 2);
	tcase_add_test(tc, test_first_layer_path_of_a_job);
	suite_add_tcase(s, tc);
	return s;
}
