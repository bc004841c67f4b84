/*
 * check_explain.c - the backprop trace: its gradients equal the training
 * code's (nn_loss_grad_d) and the gradient check's central differences, its
 * formulas follow the configured activation, output and loss, its shapes
 * chain, its update is the optimizer's, its starting weights are the job's,
 * and bad requests name their field.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <stdio.h>
#include <unistd.h>

#include "check_suites.h"
#include "traind/jobcfg.h"
#include "testutil.h"
#include "traind/cli.h"
#include "traind/explain.h"
#include "traind/gradcheck.h"
#include "traind/nn.h"
#include "traind/optim.h"

static const double xor_x[12] = {0, 0, 1, 0, 1, 1, 1, 0, 1, 1, 1, 1};
static const uint8_t xor_y[4] = {0, 1, 1, 0};

/* 3-4-1 sigmoid / mse, the classic XOR network. */
static void xor_config(struct job_config *c)
{
	jobcfg_defaults(c);
	c->n_hidden = 1;
	c->hidden[0] = 4;
	c->activation = ACT_SIGMOID;
	c->output = OUT_SIGMOID;
	c->loss = LOSS_MSE;
	c->optimizer = OPT_SGD;
	c->learning_rate = 0.5;
	c->seed = 3;
	c->l2 = 0;
}

static const struct model_input xor_in = {.width = 3, .height = 1, .channels = 1, .classes = 2};

static struct explain_trace *run(const struct job_config *c, const struct model_input *in,
				 const double *x, const uint8_t *y, int n, const double *w)
{
	struct explain_trace *tr = malloc(sizeof(*tr));
	struct td_error e;
	ck_assert_ptr_nonnull(tr);
	int rc = explain_run(c, in, x, y, n, w, tr, &e);
	ck_assert_msg(rc == 0, "explain_run: %s", e.msg);
	return tr;
}

static const struct explain_step *find(const struct explain_trace *tr, const char *name)
{
	const struct explain_step *st = explain_find(tr, name);
	ck_assert_msg(st != NULL, "no step %s", name);
	return st;
}

/* The trace's starting weights as one buffer. */
static double *start_weights(const struct explain_trace *tr)
{
	const struct model_shape *s = &tr->shape;
	double *w = malloc(sizeof(double) * s->n_params);
	for (int l = 0; l < s->n_layers; l++) {
		char n[16];
		snprintf(n, sizeof(n), "W%d", l + 1);
		memcpy(w + s->layer[l].w_off, find(tr, n)->values, sizeof(double) * s->layer[l].n_w);
		snprintf(n, sizeof(n), "b%d", l + 1);
		memcpy(w + s->layer[l].b_off, find(tr, n)->values, sizeof(double) * s->layer[l].n_b);
	}
	return w;
}

/* Every dW and db of the trace equals the training code's gradient and
 * the gradient check's central difference, entry by entry. */
static void assert_gradients_exact(const struct explain_trace *tr, const double *x,
				   const uint8_t *y)
{
	const struct model_shape *s = &tr->shape;
	int B = tr->batch;
	size_t P = s->n_params;
	double *w = start_weights(tr), *g = calloc(P, sizeof(double));
	struct nn_ws_d ws;
	ck_assert_int_eq(nn_ws_init_d(&ws, s, B), 0);
	memcpy(ws.act[0], x, sizeof(double) * (size_t)B * s->sizes[0]);
	nn_loss_grad_d(s, w, g, &ws, y, B, NULL);
	for (int l = 0; l < s->n_layers; l++) {
		for (int k = 0; k < 2; k++) {
			char n[16];
			snprintf(n, sizeof(n), "d%c%d", k ? 'b' : 'W', l + 1);
			const struct explain_step *st = find(tr, n);
			size_t off = k ? s->layer[l].b_off : s->layer[l].w_off;
			size_t cnt = k ? s->layer[l].n_b : s->layer[l].n_w;
			ck_assert_uint_eq((size_t)st->rows * st->cols, cnt);
			ck_assert(st->is_gradient);
			for (size_t i = 0; i < cnt; i++) {
				double want = optim_objective_grad(g[off + i], 1.0 / B, tr->cfg.l2,
								   w[off + i], !k);
				ck_assert_double_eq_tol(st->values[i], want, 1e-14);
				double num = gradcheck_numeric(s, &ws, x, y, B, tr->cfg.l2, w, off + i, 1e-3);
				ck_assert_msg(gradcheck_rel_error(st->values[i], num) < 1e-6,
					      "%s[%zu]: %g vs central difference %g", n, i,
					      st->values[i], num);
			}
			ck_assert_msg(st->check_error < 1e-6, "%s check error %g", n, st->check_error);
		}
	}
	nn_ws_free_d(&ws);
	free(w);
	free(g);
}

START_TEST(test_xor_gradients_equal_the_gradient_check)
{
	struct job_config c;
	xor_config(&c);
	struct explain_trace *tr = run(&c, &xor_in, xor_x, xor_y, 4, NULL);
	assert_gradients_exact(tr, xor_x, xor_y);
	ck_assert(tr->max_check_error < 1e-6);
	ck_assert_uint_eq(find(tr, "dW1")->checked, 12);
	explain_free(tr);
	free(tr);
}
END_TEST

START_TEST(test_deep_tanh_with_l2_gradients_equal_the_gradient_check)
{
	/* 4-3-3-1 on the "1, 2, 3, 2.5" input, tanh, softmax over 3 classes, l2. */
	struct job_config c;
	jobcfg_defaults(&c);
	c.n_hidden = 2;
	c.hidden[0] = c.hidden[1] = 3;
	c.activation = ACT_TANH;
	c.l2 = 0.01;
	c.seed = 11;
	const double x[8] = {1, 2, 3, 2.5, 2, 5, -1, 2};
	const uint8_t y[2] = {2, 0};
	struct model_input in = {.width = 4, .height = 1, .channels = 1, .classes = 3};
	struct explain_trace *tr = run(&c, &in, x, y, 2, NULL);
	assert_gradients_exact(tr, x, y);
	explain_free(tr);
	free(tr);
}
END_TEST

START_TEST(test_formulas_follow_the_configuration)
{
	struct job_config c;
	xor_config(&c);
	struct explain_trace *tr = run(&c, &xor_in, xor_x, xor_y, 4, NULL);
	ck_assert_str_eq(find(tr, "delta2")->formula, "delta2 = (a2 - y) * a2 * (1 - a2)");
	ck_assert_str_eq(find(tr, "delta1")->formula, "delta1 = da1 * a1 * (1 - a1)");
	ck_assert_str_eq(find(tr, "z1")->formula, "z1 = a0 . W1 + b1");
	ck_assert_str_eq(find(tr, "da1")->formula, "da1 = delta2 . W2^T");
	ck_assert_ptr_nonnull(strstr(find(tr, "J")->formula, "1/2 * sum_j (a2 - y)^2"));
	explain_free(tr);
	free(tr);
	c.activation = ACT_RELU;
	c.output = OUT_SOFTMAX;
	c.loss = LOSS_CROSS_ENTROPY;
	tr = run(&c, &xor_in, xor_x, xor_y, 4, NULL);
	ck_assert_str_eq(find(tr, "delta2")->formula, "delta2 = a2 - y");
	ck_assert_str_eq(find(tr, "delta1")->formula, "delta1 = da1 * [a1 > 0]");
	ck_assert_ptr_nonnull(strstr(find(tr, "a2")->formula, "softmax"));
	ck_assert_ptr_nonnull(strstr(find(tr, "J")->formula, "log a2[label]"));
	/* Softmax has one unit per class: the target is one-hot. */
	const struct explain_step *y = find(tr, "y");
	ck_assert_int_eq(y->cols, 2);
	ck_assert_double_eq(y->values[0 * 2 + 0], 1);
	ck_assert_double_eq(y->values[1 * 2 + 1], 1);
	explain_free(tr);
	free(tr);
}
END_TEST

START_TEST(test_shapes_chain_and_values_are_the_forward_pass)
{
	struct job_config c;
	xor_config(&c);
	struct explain_trace *tr = run(&c, &xor_in, xor_x, xor_y, 4, NULL);
	const struct explain_step *z1 = find(tr, "z1"), *a1 = find(tr, "a1"), *a2 = find(tr, "a2");
	ck_assert_int_eq(z1->rows, 4);
	ck_assert_int_eq(z1->cols, 4);
	ck_assert_int_eq(a2->rows, 4);
	ck_assert_int_eq(a2->cols, 1);
	ck_assert_int_eq(find(tr, "dW2")->rows, 4);
	ck_assert_int_eq(find(tr, "dW2")->cols, 1);
	ck_assert_int_eq(find(tr, "delta1")->cols, 4);
	const double *W1 = find(tr, "W1")->values, *W2 = find(tr, "W2")->values;
	/* z1 of sample 3 (x = 1 1 1), unit 2, by hand; a1 its sigmoid. */
	double z = W1[0 * 4 + 2] + W1[1 * 4 + 2] + W1[2 * 4 + 2];
	ck_assert_double_eq_tol(z1->values[3 * 4 + 2], z, 1e-15);
	ck_assert_double_eq_tol(a1->values[3 * 4 + 2], 1 / (1 + exp(-z)), 1e-15);
	double z2 = 0;
	for (int j = 0; j < 4; j++)
		z2 += a1->values[3 * 4 + j] * W2[j];
	ck_assert_double_eq_tol(a2->values[3], 1 / (1 + exp(-z2)), 1e-15);
	/* J: the mean of 1/2 (a - y)^2. */
	double J = 0;
	for (int r = 0; r < 4; r++)
		J += 0.5 * (a2->values[r] - xor_y[r]) * (a2->values[r] - xor_y[r]) / 4;
	ck_assert_double_eq_tol(find(tr, "J")->values[0], J, 1e-15);
	ck_assert_str_eq(find(tr, "z2")->from, "a1 (4x4) . W2 (4x1) + b2 (1x1) -> 4x1");
	explain_free(tr);
	free(tr);
}
END_TEST

START_TEST(test_update_is_the_optimizers_first_step)
{
	struct job_config c;
	xor_config(&c);
	struct explain_trace *tr = run(&c, &xor_in, xor_x, xor_y, 4, NULL);
	const struct explain_step *W = find(tr, "W2"), *g = find(tr, "dW2"), *W1 = find(tr, "W2'");
	for (int i = 0; i < 4; i++)
		ck_assert_double_eq_tol(W1->values[i], W->values[i] - 0.5 * g->values[i], 1e-15);
	explain_free(tr);
	free(tr);
	/* Adam's first step moves every weight by about lr. */
	c.optimizer = OPT_ADAM;
	c.learning_rate = 0.01;
	tr = run(&c, &xor_in, xor_x, xor_y, 4, NULL);
	W = find(tr, "W1");
	W1 = find(tr, "W1'");
	g = find(tr, "dW1");
	for (int i = 0; i < 12; i++)
		if (fabs(g->values[i]) > 1e-6)
			ck_assert_double_eq_tol(W1->values[i] - W->values[i],
						g->values[i] > 0 ? -0.01 : 0.01, 1e-4);
	explain_free(tr);
	free(tr);
}
END_TEST

START_TEST(test_starts_from_the_jobs_weights_or_given_ones)
{
	struct job_config c;
	xor_config(&c);
	struct explain_trace *tr = run(&c, &xor_in, xor_x, xor_y, 4, NULL);
	float w[21];
	struct td_rng rng;
	rng_seed_stream(&rng, c.seed, 0);
	model_init(&tr->shape, c.init, &rng, w);
	ck_assert_uint_eq(tr->shape.n_params, 21);
	double *got = start_weights(tr);
	for (int i = 0; i < 21; i++)
		ck_assert_double_eq(got[i], (double)w[i]);
	explain_free(tr);
	free(tr);
	for (int i = 0; i < 21; i++)
		got[i] = 0.05 * i - 0.5;
	tr = run(&c, &xor_in, xor_x, xor_y, 4, got);
	ck_assert_double_eq(find(tr, "W1")->values[5], 0.05 * 5 - 0.5);
	ck_assert_double_eq(find(tr, "b2")->values[0], 0.05 * 20 - 0.5);
	assert_gradients_exact(tr, xor_x, xor_y);
	free(got);
	explain_free(tr);
	free(tr);
}
END_TEST

START_TEST(test_large_network_checks_a_spread_of_entries)
{
	/* 784-100-10 sigmoid / mse on one sample. */
	struct job_config c;
	jobcfg_defaults(&c);
	c.n_hidden = 1;
	c.hidden[0] = 100;
	c.activation = ACT_SIGMOID;
	c.output = OUT_SIGMOID;
	c.loss = LOSS_MSE;
	struct model_input in = {.width = 28, .height = 28, .channels = 1, .classes = 10};
	double *x = malloc(sizeof(double) * 784);
	for (int i = 0; i < 784; i++)
		x[i] = (i % 29) / 28.0;
	uint8_t y = 7;
	struct explain_trace *tr = run(&c, &in, x, &y, 1, NULL);
	ck_assert_uint_eq(tr->shape.n_params, 79510);
	ck_assert_uint_eq(find(tr, "dW1")->checked, EXPLAIN_MAX_CHECKED);
	ck_assert_uint_eq(find(tr, "db2")->checked, 10);
	ck_assert(tr->max_check_error < 1e-6);
	json_t *j = explain_to_json(tr);
	json_t *steps = json_object_get(j, "steps");
	ck_assert(json_array_size(steps) == (size_t)tr->n_steps);
	json_t *w1 = json_array_get(steps, 0);
	ck_assert_str_eq(json_string_value(json_object_get(w1, "name")), "W1");
	ck_assert(json_is_true(json_object_get(w1, "truncated")));
	size_t shown = 0, r;
	json_t *row;
	json_array_foreach(json_object_get(w1, "values"), r, row) shown += json_array_size(row);
	ck_assert_uint_le(shown, EXPLAIN_JSON_VALUES);
	json_decref(j);
	free(x);
	explain_free(tr);
	free(tr);
}
END_TEST

START_TEST(test_bad_requests_name_the_field)
{
	struct job_config c;
	xor_config(&c);
	struct explain_trace *tr = malloc(sizeof(*tr));
	struct td_error e;
	ck_assert_int_eq(explain_run(&c, &xor_in, xor_x, xor_y, 0, NULL, tr, &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "input");
	ck_assert_int_eq(explain_run(&c, &xor_in, xor_x, xor_y, EXPLAIN_MAX_SAMPLES + 1, NULL, tr,
				     &e), TD_EINVAL);
	uint8_t bad[4] = {0, 1, 2, 0};
	ck_assert_int_eq(explain_run(&c, &xor_in, xor_x, bad, 4, NULL, tr, &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "labels");
	c.hidden[0] = 4000;
	struct model_input big = {.width = 28, .height = 28, .channels = 1, .classes = 10};
	double x[784] = {0};
	ck_assert_int_eq(explain_run(&c, &big, x, xor_y, 1, NULL, tr, &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "hidden");
	/* A convolution has no dense formulas: refused, named (it crashed). */
	jobcfg_defaults(&c);
	ck_assert_int_eq(jobcfg_set(&c, "layers", "[{\"type\": \"conv\", \"filters\": 2, "
				    "\"kernel\": 3}]", &e), 0);
	ck_assert_int_eq(explain_run(&c, &big, x, xor_y, 1, NULL, tr, &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "layers[0]");
	free(tr);
}
END_TEST

/* `traind ARGS...` in-process, stdout to a file; returns the status. */
static int run_cli(const char *out_path, int argc, char **argv)
{
	fflush(stdout);
	int saved = dup(1);
	FILE *f = fopen(out_path, "w");
	dup2(fileno(f), 1);
	int rc = cli_main(argc, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	fclose(f);
	return rc;
}

START_TEST(test_cli_explains_xor_as_text_and_json)
{
	char *dir = test_tmpdir(), *out = test_path(dir, "out");
	char *json[] = {"traind", "explain", "--hidden", "4", "--activation", "sigmoid", "--output",
			"sigmoid", "--loss", "mse", "--l2", "0", "--optimizer", "sgd",
			"--learning-rate", "0.5", "--seed", "3", "--input", "0,0,1;0,1,1;1,0,1;1,1,1",
			"--labels", "0,1,1,0", "--json"};
	ck_assert_int_eq(run_cli(out, 23, json), 0);
	size_t len;
	char *text = test_read_file(out, &len);
	json_error_t je;
	json_t *o = json_loadb(text, len, 0, &je);
	ck_assert_msg(o != NULL, "not JSON: %s", je.text);
	/* The same numbers as the engine's trace of the same configuration. */
	struct job_config c;
	xor_config(&c);
	struct explain_trace *tr = run(&c, &xor_in, xor_x, xor_y, 4, NULL);
	json_t *st, *steps = json_object_get(o, "steps");
	size_t i;
	ck_assert_uint_eq(json_array_size(steps), (size_t)tr->n_steps);
	json_array_foreach(steps, i, st) {
		const struct explain_step *want = &tr->step[i];
		ck_assert_str_eq(json_string_value(json_object_get(st, "name")), want->name);
		json_t *v = json_array_get(json_array_get(json_object_get(st, "values"), 0), 0);
		ck_assert_double_eq_tol(json_number_value(v), want->values[0],
					1e-9 * fmax(1, fabs(want->values[0])));
	}
	json_decref(o);
	free(text);
	explain_free(tr);
	free(tr);
	/* The worked example, as text. */
	json[22] = "--quiet-not-an-option";
	ck_assert_int_eq(run_cli(out, 23, json), 2);
	ck_assert_int_eq(run_cli(out, 22, json), 0);
	text = test_read_file(out, &len);
	ck_assert_ptr_nonnull(strstr(text, "delta2 = (a2 - y) * a2 * (1 - a2)"));
	ck_assert_ptr_nonnull(strstr(text, "numerical check: largest relative error"));
	ck_assert_ptr_nonnull(strstr(text, "shapes: a1^T (4x4) . delta2 (4x1) -> 4x1 (the shape of W2)"));
	free(text);
	/* Bad input: a status, not a crash. */
	char *bad[] = {"traind", "explain", "--input", "0,1;1", "--labels", "0,1"};
	ck_assert_int_eq(run_cli(out, 6, bad), 2);
	char *bad_label[] = {"traind", "explain", "--input", "0,1", "--labels", "5"};
	ck_assert_int_eq(run_cli(out, 6, bad_label), 2);
	char *no_labels[] = {"traind", "explain", "--input", "0,1"};
	ck_assert_int_eq(run_cli(out, 4, no_labels), 2);
	test_rmtree(dir);
	free(dir);
	free(out);
}
END_TEST

Suite *suite_explain(void)
{
	Suite *s = suite_create("explain");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_xor_gradients_equal_the_gradient_check);
	tcase_add_test(tc, test_deep_tanh_with_l2_gradients_equal_the_gradient_check);
	tcase_add_test(tc, test_formulas_follow_the_configuration);
	tcase_add_test(tc, test_shapes_chain_and_values_are_the_forward_pass);
	tcase_add_test(tc, test_update_is_the_optimizers_first_step);
	tcase_add_test(tc, test_starts_from_the_jobs_weights_or_given_ones);
	tcase_add_test(tc, test_large_network_checks_a_spread_of_entries);
	tcase_add_test(tc, test_bad_requests_name_the_field);
	tcase_add_test(tc, test_cli_explains_xor_as_text_and_json);
	suite_add_tcase(s, tc);
	return s;
}
