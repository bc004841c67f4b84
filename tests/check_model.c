/*
 * check_model.c - the model description (layer list, output rule, limit),
 * the one-buffer layout, initialisation, digests.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "traind/jobcfg.h"
#include "traind/model.h"

START_TEST(test_layout_is_w_then_b_per_layer)
{
	struct model_shape s;
	int hidden[2] = {100, 20};
	ck_assert_int_eq(model_shape_make(&s, 784, hidden, 2, 10, ACT_RELU, OUT_SOFTMAX,
					  LOSS_CROSS_ENTROPY, NULL), 0);
	ck_assert_int_eq(s.n_layers, 3);
	ck_assert_uint_eq(model_w_offset(&s, 0), 0);
	ck_assert_uint_eq(model_b_offset(&s, 0), 784 * 100);
	ck_assert_uint_eq(model_w_offset(&s, 1), 784 * 100 + 100);
	ck_assert_uint_eq(model_b_offset(&s, 1), 785 * 100 + 100 * 20);
	ck_assert_uint_eq(model_param_count(&s), 785 * 100 + 101 * 20 + 21 * 10);
	ck_assert_int_eq(model_max_width(&s), 784);
}
END_TEST

START_TEST(test_shape_validation_names_fields)
{
	struct model_shape s;
	struct td_error e;
	int bad[2] = {10, 0};
	ck_assert_int_eq(model_shape_make(&s, 784, bad, 2, 10, ACT_RELU, OUT_SOFTMAX,
					  LOSS_CROSS_ENTROPY, &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "hidden[1]");
	int ok[1] = {10};
	ck_assert_int_eq(model_shape_make(&s, 784, ok, 1, 10, ACT_RELU, OUT_SOFTMAX, LOSS_MSE, &e),
			 TD_EINVAL);
	ck_assert_str_eq(e.field, "loss");
	ck_assert_int_eq(model_shape_make(&s, 784, ok, 1, 1, ACT_RELU, OUT_SOFTMAX,
					  LOSS_CROSS_ENTROPY, &e), TD_EINVAL);
	ck_assert_int_eq(model_shape_make(&s, 784, ok, 9, 10, ACT_RELU, OUT_SOFTMAX,
					  LOSS_CROSS_ENTROPY, &e), TD_EINVAL);
}
END_TEST

START_TEST(test_init_scales_follow_the_rule)
{
	struct model_shape s;
	int hidden[1] = {400};
	const enum init_kind kinds[3] = {INIT_HE, INIT_XAVIER, INIT_UNIFORM};
	const double want[3] = {sqrt(2.0 / 784), sqrt(2.0 / (784 + 400)), sqrt(6.0 / (784 + 400)) / sqrt(3.0)};
	ck_assert_int_eq(model_shape_make(&s, 784, hidden, 1, 10, ACT_RELU, OUT_SOFTMAX,
					  LOSS_CROSS_ENTROPY, NULL), 0);
	float *p = malloc(sizeof(float) * model_param_count(&s));
	for (int k = 0; k < 3; k++) {
		struct td_rng r;
		rng_seed(&r, 5);
		model_init(&s, kinds[k], &r, p);
		double sq = 0;
		size_t n = 784 * 400;
		for (size_t i = 0; i < n; i++)
			sq += (double)p[i] * p[i];
		ck_assert_double_eq_tol(sqrt(sq / n), want[k], want[k] * 0.02);
		for (int j = 0; j < 400; j++)
			ck_assert_float_eq(p[model_b_offset(&s, 0) + j], 0.0f);
	}
	free(p);
}
END_TEST

START_TEST(test_digest_sees_one_bit)
{
	float a[64], b[64];
	for (int i = 0; i < 64; i++)
		a[i] = b[i] = (float)i * 0.25f;
	char ha[17], hb[17];
	model_digest(a, 64, ha);
	model_digest(b, 64, hb);
	ck_assert_str_eq(ha, hb);
	ck_assert_int_eq(strlen(ha), 16);
	b[17] = nextafterf(b[17], 100.0f);
	model_digest(b, 64, hb);
	ck_assert_str_ne(ha, hb);
}
END_TEST

/* The one description: rows chain, offsets follow the layout, the input
 * keeps its image shape, and the output rule is applied here. */
START_TEST(test_describe_builds_the_layer_list)
{
	struct job_config c;
	jobcfg_defaults(&c);
	c.n_hidden = 2;
	c.hidden[0] = 32;
	c.hidden[1] = 16;
	struct model_input in = {.width = 28, .height = 28, .channels = 1, .classes = 10};
	struct model_shape s;
	ck_assert_int_eq(model_describe(&s, &c, &in, 0, NULL), 0);
	ck_assert_int_eq(s.n_layers, 3);
	ck_assert_int_eq(s.layer[0].kind, LAYER_DENSE);
	ck_assert_int_eq(s.layer[0].in_c * s.layer[0].in_h * s.layer[0].in_w, 784);
	ck_assert_int_eq(s.layer[0].in_h, 28);
	size_t off = 0;
	for (int l = 0; l < s.n_layers; l++) {
		ck_assert_int_eq(s.layer[l].in, s.sizes[l]);
		ck_assert_int_eq(s.layer[l].out, s.sizes[l + 1]);
		if (l)
			ck_assert_int_eq(s.layer[l].in, s.layer[l - 1].out);
		ck_assert_uint_eq(s.layer[l].w_off, off);
		ck_assert_uint_eq(s.layer[l].b_off, off + s.layer[l].n_w);
		off = s.layer[l].b_off + s.layer[l].n_b;
		ck_assert_int_eq(s.layer[l].is_output, l == 2);
	}
	ck_assert_uint_eq(model_param_count(&s), off);
	ck_assert_uint_eq(off, 785 * 32 + 33 * 16 + 17 * 10);
	ck_assert_double_eq(s.flops, 2.0 * (784 * 32 + 32 * 16 + 16 * 10));
	ck_assert_int_eq(model_classes(&s), 10);

	/* A sigmoid output on two classes is one unit; on three, three. */
	c.output = OUT_SIGMOID;
	c.loss = LOSS_MSE;
	in.classes = 2;
	ck_assert_int_eq(model_describe(&s, &c, &in, 0, NULL), 0);
	ck_assert_int_eq(s.sizes[s.n_layers], 1);
	ck_assert_int_eq(model_classes(&s), 2);
	in.classes = 3;
	ck_assert_int_eq(model_describe(&s, &c, &in, 0, NULL), 0);
	ck_assert_int_eq(s.sizes[s.n_layers], 3);
}
END_TEST

/* The parameter limit is checked on the real input, naming "hidden". */
START_TEST(test_describe_checks_the_parameter_limit)
{
	struct job_config c;
	jobcfg_defaults(&c);
	c.n_hidden = 1;
	c.hidden[0] = 100;
	struct model_input small = {.width = 8, .height = 8, .channels = 1, .classes = 4};
	struct model_input big = {.width = 28, .height = 28, .channels = 1, .classes = 10};
	struct model_shape s;
	struct td_error e;
	size_t limit = 65u * 100u + 101u * 4u; /* exactly the 8x8 model */
	ck_assert_int_eq(model_describe(&s, &c, &small, limit, &e), 0);
	ck_assert_int_eq(model_describe(&s, &c, &big, limit, &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "hidden");
	ck_assert_ptr_nonnull(strstr(e.msg, "79510 parameters"));
	ck_assert_ptr_nonnull(strstr(e.msg, "28x28"));
	struct model_input none = {.width = 8, .height = 8, .channels = 1, .classes = 1};
	ck_assert_int_eq(model_describe(&s, &c, &none, 0, &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "dataset");
}
END_TEST

Suite *suite_model(void)
{
	Suite *s = suite_create("model");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_layout_is_w_then_b_per_layer);
	tcase_add_test(tc, test_describe_builds_the_layer_list);
	tcase_add_test(tc, test_describe_checks_the_parameter_limit);
	tcase_add_test(tc, test_shape_validation_names_fields);
	tcase_add_test(tc, test_init_scales_follow_the_rule);
	tcase_add_test(tc, test_digest_sees_one_bit);
	suite_add_tcase(s, tc);
	return s;
}
