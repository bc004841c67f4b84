/*
 * check_nn.c - the mathematics: the numerical gradient check over every
 * activation x output/loss at depths 1-3, and the pieces a numpy
 * newcomer gets wrong (derivatives, softmax overflow, GEMM orientation).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check_suites.h"
#include "traind/gradcheck.h"
#include "traind/nn.h"

static const char *const acts[] = {"relu", "sigmoid", "tanh"};
static const char *const out_loss[][2] = {
	{"softmax", "cross_entropy"}, {"sigmoid", "mse"}, {"sigmoid", "cross_entropy"}};
static const char *const depths[] = {"5", "5,4", "5,4,3"};

/* _i runs over 3 activations x 3 output/loss pairs x 3 depths x 2 (l2). */
START_TEST(test_gradcheck_every_combination)
{
	int a = _i % 3, o = (_i / 3) % 3, d = (_i / 9) % 3, l2 = _i / 27;
	struct job_config c;
	struct td_error e;
	jobcfg_defaults(&c);
	ck_assert_int_eq(jobcfg_set(&c, "activation", acts[a], &e), 0);
	ck_assert_int_eq(jobcfg_set(&c, "output", out_loss[o][0], &e), 0);
	ck_assert_int_eq(jobcfg_set(&c, "loss", out_loss[o][1], &e), 0);
	ck_assert_int_eq(jobcfg_set(&c, "hidden", depths[d], &e), 0);
	if (l2)
		ck_assert_int_eq(jobcfg_set(&c, "l2", "0.01", &e), 0);
	struct jobcfg_limits lim;
	jobcfg_limits_default(&lim, 1);
	ck_assert_int_eq(jobcfg_finish(&c, &lim, &e), 0);
	struct gradcheck_options opt;
	gradcheck_options_default(&opt);
	struct gradcheck_result r;
	ck_assert_int_eq(gradcheck_run(&c, &opt, &r, &e), 0);
	ck_assert_int_eq(r.n_tensors, 2 * (d + 2) + 1); /* and x */
	for (int t = 0; t < r.n_tensors; t++)
		ck_assert_msg(r.tensor[t].max_rel_error < 1e-6, "%s %s/%s hidden %s l2 %d: %s error %g",
			      acts[a], out_loss[o][0], out_loss[o][1], depths[d], l2,
			      r.tensor[t].name, r.tensor[t].max_rel_error);
	ck_assert(r.passed);
}
END_TEST

START_TEST(test_gradcheck_binary_single_output)
{
	/* Two classes with a sigmoid output: one unit, target = label. */
	struct job_config c;
	struct td_error e;
	jobcfg_defaults(&c);
	jobcfg_set(&c, "hidden", "4", &e);
	jobcfg_set(&c, "activation", "sigmoid", &e);
	jobcfg_set(&c, "output", "sigmoid", &e);
	struct jobcfg_limits lim;
	jobcfg_limits_default(&lim, 1);
	ck_assert_int_eq(jobcfg_finish(&c, &lim, &e), 0);
	struct gradcheck_options opt;
	gradcheck_options_default(&opt);
	opt.inputs = 3;
	opt.classes = 2;
	struct gradcheck_result r;
	ck_assert_int_eq(gradcheck_run(&c, &opt, &r, &e), 0);
	ck_assert_int_eq(r.shape.sizes[2], 1);
	ck_assert(r.passed);
}
END_TEST

START_TEST(test_gradcheck_rejects_large_models)
{
	struct job_config c;
	struct td_error e;
	jobcfg_defaults(&c);
	jobcfg_set(&c, "hidden", "4096", &e);
	struct gradcheck_options opt;
	gradcheck_options_default(&opt);
	opt.inputs = 1024;
	struct gradcheck_result r;
	ck_assert_int_eq(gradcheck_run(&c, &opt, &r, &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "hidden");
	opt.inputs = 0;
	ck_assert_int_eq(gradcheck_run(&c, &opt, &r, &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "inputs");
}
END_TEST

/* Each activation's derivative, as written from its output, against a
 * central difference of the activation itself. */
START_TEST(test_activation_derivatives_match_differences)
{
	const double zs[] = {-3.0, -0.7, -0.1, 0.2, 0.9, 2.5};
	for (int f = 0; f < 3; f++)
		for (size_t i = 0; i < sizeof(zs) / sizeof(zs[0]); i++) {
			double z = zs[i], h = 1e-6, a, ap, am, one = 1, dz;
			act_forward_d((enum activation)f, &a, &z, 1);
			double zp = z + h, zm = z - h;
			act_forward_d((enum activation)f, &ap, &zp, 1);
			act_forward_d((enum activation)f, &am, &zm, 1);
			act_backward_d((enum activation)f, &dz, &one, &a, 1);
			ck_assert_double_eq_tol(dz, (ap - am) / (2 * h), 1e-8);
		}
}
END_TEST

START_TEST(test_softmax_is_stable_for_huge_logits)
{
	float z[6] = {1000, 1001, 999, -1000, 0, 88.8f}, p[6];
	softmax_forward_f(p, z, 2, 3);
	for (int r = 0; r < 2; r++) {
		float sum = 0;
		for (int j = 0; j < 3; j++) {
			ck_assert(isfinite(p[r * 3 + j]));
			sum += p[r * 3 + j];
		}
		ck_assert_float_eq_tol(sum, 1.0f, 1e-6f);
	}
	ck_assert_float_eq_tol(p[1], 0.66524f, 1e-4f);
	/* Cross-entropy of a probability that underflowed is large, not inf. */
	struct model_shape s;
	int hidden[1] = {2};
	ck_assert_int_eq(model_shape_make(&s, 2, hidden, 1, 3, ACT_RELU, OUT_SOFTMAX,
					  LOSS_CROSS_ENTROPY, NULL), 0);
	uint8_t label = 0;
	float q[3] = {1, 0, 0};
	label = 1;
	ck_assert(isfinite(output_loss_f(&s, q, &label, 1, NULL)));
}
END_TEST

START_TEST(test_dense_forward_and_backward_orientation)
{
	/* in[2x3] . w[3x2] + b: computed by hand. */
	double in[6] = {1, 2, 3, 4, 5, 6}, w[6] = {1, 0, 0, 1, 1, 1}, b[2] = {0.5, -0.5};
	double out[4];
	dense_forward_d(out, in, w, b, 2, 3, 2);
	ck_assert_double_eq(out[0], 1 + 3 + 0.5);
	ck_assert_double_eq(out[1], 2 + 3 - 0.5);
	ck_assert_double_eq(out[2], 4 + 6 + 0.5);
	ck_assert_double_eq(out[3], 5 + 6 - 0.5);
	double dout[4] = {1, 0, 0, 1}, dw[6] = {0}, db[2] = {0}, din[6];
	dense_backward_d(din, dw, db, dout, in, w, 2, 3, 2);
	/* dw = in^T dout: column 0 from row 0, column 1 from row 1. */
	const double want_dw[6] = {1, 4, 2, 5, 3, 6};
	for (int i = 0; i < 6; i++)
		ck_assert_double_eq(dw[i], want_dw[i]);
	ck_assert_double_eq(db[0], 1);
	ck_assert_double_eq(db[1], 1);
	/* din = dout w^T: row 0 is w's column 0, row 1 its column 1. */
	const double want_din[6] = {1, 0, 1, 0, 1, 1};
	for (int i = 0; i < 6; i++)
		ck_assert_double_eq(din[i], want_din[i]);
	/* Backward accumulates into dw. */
	dense_backward_d(NULL, dw, db, dout, in, w, 2, 3, 2);
	ck_assert_double_eq(dw[0], 2);
	ck_assert_double_eq(db[0], 2);
}
END_TEST

/* One row (the single-image path: the rows of w of its nonzero inputs)
 * gives what the same row gives inside a batch, to float rounding. */
START_TEST(test_dense_forward_one_row_matches_batch)
{
	enum { IN = 50, OUT = 7 };
	float w[IN * OUT], b[OUT], x[2 * IN], one[OUT], two[2 * OUT];
	uint32_t seed = 3;
	for (int i = 0; i < IN * OUT; i++) {
		seed = seed * 1664525u + 1013904223u;
		w[i] = (float)((int)(seed >> 9) % 2001 - 1000) / 1000.0f;
	}
	for (int j = 0; j < OUT; j++)
		b[j] = 0.25f * (float)j - 0.5f;
	for (int i = 0; i < IN; i++) /* two thirds of the inputs are 0 */
		x[i] = x[IN + i] = i % 3 == 1 ? (float)i / IN : 0.0f;
	dense_forward_f(one, x, w, b, 1, IN, OUT);
	dense_forward_f(two, x, w, b, 2, IN, OUT);
	for (int j = 0; j < OUT; j++) {
		double want = b[j];
		for (int i = 0; i < IN; i++)
			want += (double)x[i] * w[i * OUT + j];
		ck_assert_msg(fabs(one[j] - want) < 1e-5, "unit %d: %g, not %g", j, one[j], want);
		ck_assert_msg(fabs(one[j] - two[j]) < 1e-5 && fabs(one[j] - two[OUT + j]) < 1e-5,
			      "unit %d: one row %g, in a batch %g", j, one[j], two[j]);
	}
}
END_TEST

Suite *suite_nn(void)
{
	Suite *s = suite_create("nn");
	TCase *tc = tcase_create("gradcheck");
	tcase_add_loop_test(tc, test_gradcheck_every_combination, 0, 54);
	tcase_add_test(tc, test_gradcheck_binary_single_output);
	tcase_add_test(tc, test_gradcheck_rejects_large_models);
	suite_add_tcase(s, tc);
	TCase *k = tcase_create("kernels");
	tcase_add_test(k, test_activation_derivatives_match_differences);
	tcase_add_test(k, test_softmax_is_stable_for_huge_logits);
	tcase_add_test(k, test_dense_forward_and_backward_orientation);
	tcase_add_test(k, test_dense_forward_one_row_matches_batch);
	suite_add_tcase(s, k);
	return s;
}
