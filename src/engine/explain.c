/*
 * explain.c - one training step traced quantity by quantity (see
 * explain.h). Each step is one call of the double-precision kernels on
 * the previous steps' values; the formulas beside them are chosen from the
 * model's activation, output function, loss and optimizer, so what a
 * person reads is what the numbers were made with.
 */
#include "traind/explain.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "traind/dataset.h"
#include "traind/gradcheck.h"
#include "traind/infer.h"
#include "traind/jsonnum.h"
#include "traind/nn.h"
#include "traind/optim.h"
#include "traind/rng.h"

#define CHECK_STEP 1e-3 /* h of the central difference, as gradcheck's default */

static const char *const phase_names[] = {"forward", "loss", "backward", "update"};

const char *explain_phase_name(enum explain_phase p)
{
	return phase_names[p];
}

const struct explain_step *explain_find(const struct explain_trace *tr, const char *name)
{
	for (int i = 0; i < tr->n_steps; i++)
		if (strcmp(tr->step[i].name, name) == 0)
			return &tr->step[i];
	return NULL;
}

void explain_free(struct explain_trace *tr)
{
	for (int i = 0; i < tr->n_steps; i++)
		free(tr->step[i].values);
	tr->n_steps = 0;
}

int explain_describe(const struct job_config *cfg, const struct model_input *in, int n,
		     struct model_shape *s, struct td_error *e)
{
	if (n < 1 || n > EXPLAIN_MAX_SAMPLES)
		return td_errorf(e, TD_EINVAL, "input",
				 "an explanation takes 1 to %d samples, not %d", EXPLAIN_MAX_SAMPLES,
				 n);
	int rc = model_describe(s, cfg, in, 0, e);
	if (rc)
		return rc;
	/* The trace spells out dense layers' formulas; a convolution or a
	 * pooling row has none here (the gradient check covers them). */
	for (int l = 0; l < s->n_layers; l++)
		if (s->layer[l].kind != LAYER_DENSE) {
			char field[32];
			snprintf(field, sizeof(field), "layers[%d]", l);
			return td_errorf(e, TD_EINVAL, field,
					 "an explanation traces dense layers only, and %s is a %s "
					 "layer; use hidden, or POST /v1/gradcheck for this model",
					 field, layer_kind_name(s->layer[l].kind));
		}
	if (s->n_params > EXPLAIN_MAX_PARAMS)
		return td_errorf(e, TD_EINVAL, "hidden",
				 "this model has %zu parameters; an explanation traces at most %d "
				 "(use fewer or smaller hidden layers)",
				 s->n_params, EXPLAIN_MAX_PARAMS);
	return 0;
}

int explain_dataset_samples(const struct dataset *ds, long first, int n, double *x,
			    uint8_t *y, struct model_input *in, struct td_error *e)
{
	if (first < 0 || n < 1 || (size_t)first + (size_t)n > ds->n_train)
		return td_errorf(e, TD_EINVAL, "sample",
				 "sample must be an integer from 0 to %zu (data set %s has %zu "
				 "training samples), not %ld",
				 ds->n_train >= (size_t)n ? ds->n_train - (size_t)n : 0, ds->name,
				 ds->n_train, first);
	size_t F = (size_t)ds->features;
	for (int r = 0; r < n; r++) {
		const uint8_t *src = ds->train_x + ((size_t)first + (size_t)r) * F;
		for (size_t i = 0; i < F; i++)
			x[(size_t)r * F + i] = infer_pixel(src[i]);
		y[r] = ds->train_y[(size_t)first + (size_t)r];
	}
	*in = (struct model_input){.width = ds->width, .height = ds->height, .channels = 1,
				   .classes = ds->n_classes};
	return 0;
}

/* ---- building the list ---------------------------------------------- */

static struct explain_step *step_new(struct explain_trace *tr, enum explain_phase ph, int rows,
				     int cols, const char *fmt, ...)
{
	if (tr->n_steps >= EXPLAIN_MAX_STEPS)
		return NULL;
	double *v = calloc((size_t)rows * (size_t)cols, sizeof(double));
	if (!v)
		return NULL;
	struct explain_step *st = &tr->step[tr->n_steps++];
	memset(st, 0, sizeof(*st));
	st->phase = ph;
	st->rows = rows;
	st->cols = cols;
	st->values = v;
	st->check_error = NAN;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(st->name, sizeof(st->name), fmt, ap);
	va_end(ap);
	return st;
}

#define SAY(st, field, ...) snprintf((st)->field, sizeof((st)->field), __VA_ARGS__)

static const char *act_formula(enum activation a)
{
	return a == ACT_RELU ? "relu(z) = max(0, z)"
	       : a == ACT_SIGMOID ? "sigmoid(z) = 1 / (1 + exp(-z))"
				  : "tanh(z)";
}

/* f'(z) written on the layer's output a = f(z), for layer index k. */
static void act_derivative(enum activation a, int k, char *buf, size_t n)
{
	if (a == ACT_RELU)
		snprintf(buf, n, "[a%d > 0]", k);
	else if (a == ACT_SIGMOID)
		snprintf(buf, n, "a%d * (1 - a%d)", k, k);
	else
		snprintf(buf, n, "(1 - a%d^2)", k);
}

/* The starting weights, then a0 = x and z, a of every layer. */
static int trace_forward(struct explain_trace *tr, const double *w, const double *x,
			 double **act)
{
	const struct model_shape *s = &tr->shape;
	int B = tr->batch, L = s->n_layers;
	for (int l = 0; l < L; l++) {
		const struct model_layer *ly = &s->layer[l];
		struct explain_step *W = step_new(tr, EXPLAIN_FORWARD, ly->in, ly->out, "W%d", l + 1);
		struct explain_step *b = W ? step_new(tr, EXPLAIN_FORWARD, 1, ly->out, "b%d", l + 1) : NULL;
		if (!b)
			return TD_ENOMEM;
		memcpy(W->values, w + ly->w_off, sizeof(double) * ly->n_w);
		memcpy(b->values, w + ly->b_off, sizeof(double) * ly->n_b);
		SAY(W, words, "layer %d's weights at the start: W%d[i][j] connects input i to unit j",
		    l + 1, l + 1);
		SAY(W, formula, "W%d: %d inputs x %d units", l + 1, ly->in, ly->out);
		SAY(b, words, "layer %d's biases at the start, one per unit", l + 1);
		SAY(b, formula, "b%d: 1 x %d units", l + 1, ly->out);
	}
	struct explain_step *a0 = step_new(tr, EXPLAIN_FORWARD, B, s->sizes[0], "a0");
	if (!a0)
		return TD_ENOMEM;
	memcpy(a0->values, x, sizeof(double) * (size_t)B * (size_t)s->sizes[0]);
	SAY(a0, words, "the input: one row per sample, one column per feature");
	SAY(a0, formula, "a0 = x");
	SAY(a0, from, "x (%dx%d)", B, s->sizes[0]);
	act[0] = a0->values;
	for (int l = 0; l < L; l++) {
		int n_in = s->sizes[l], n_out = s->sizes[l + 1], k = l + 1;
		struct explain_step *z = step_new(tr, EXPLAIN_FORWARD, B, n_out, "z%d", k);
		struct explain_step *a = z ? step_new(tr, EXPLAIN_FORWARD, B, n_out, "a%d", k) : NULL;
		if (!a)
			return TD_ENOMEM;
		dense_forward_d(z->values, act[l], w + s->layer[l].w_off, w + s->layer[l].b_off, B,
				n_in, n_out);
		SAY(z, words, "layer %d's weighted input: each unit adds up its inputs times their "
		    "weights, plus its bias (one row per sample)", k);
		SAY(z, formula, "z%d = a%d . W%d + b%d", k, l, k, k);
		SAY(z, from, "a%d (%dx%d) . W%d (%dx%d) + b%d (1x%d) -> %dx%d", l, B, n_in, k, n_in,
		    n_out, k, n_out, B, n_out);
		memcpy(a->values, z->values, sizeof(double) * (size_t)B * (size_t)n_out);
		nn_layer_finish_d(s, l, a->values, B);
		if (l < L - 1) {
			SAY(a, words, "layer %d's output: its activation %s on each z", k,
			    activation_name(s->act));
			SAY(a, formula, "a%d = %s", k, act_formula(s->act));
		} else if (s->out == OUT_SOFTMAX) {
			SAY(a, words, "the prediction: softmax turns each row of z into probabilities "
			    "that sum to 1");
			SAY(a, formula, "a%d = softmax(z%d) = exp(z%d) / sum_j exp(z%d_j)", k, k, k, k);
		} else {
			SAY(a, words, "the prediction: a sigmoid on each output unit, between 0 and 1");
			SAY(a, formula, "a%d = sigmoid(z%d) = 1 / (1 + exp(-z%d))", k, k, k);
		}
		SAY(a, from, "z%d (%dx%d) -> %dx%d", k, B, n_out, B, n_out);
		act[l + 1] = a->values;
	}
	return 0;
}

/* y, then J. */
static int trace_loss(struct explain_trace *tr, const double *w, const uint8_t *labels,
		      double **act)
{
	const struct model_shape *s = &tr->shape;
	int B = tr->batch, L = s->n_layers, C = s->sizes[L];
	struct explain_step *y = step_new(tr, EXPLAIN_LOSS, B, C, "y");
	struct explain_step *J = y ? step_new(tr, EXPLAIN_LOSS, 1, 1, "J") : NULL;
	if (!J)
		return TD_ENOMEM;
	for (int r = 0; r < B; r++)
		for (int j = 0; j < C; j++)
			y->values[(size_t)r * C + j] = C == 1 ? labels[r] : (double)(j == labels[r]);
	if (C == 1)
		SAY(y, words, "the target: the label itself (0 or 1), since one sigmoid unit "
		    "answers a two-class question");
	else
		SAY(y, words, "the target: one row per sample, 1 in the label's column, 0 elsewhere "
		    "(one-hot)");
	SAY(y, formula, "y = %s", C == 1 ? "label" : "onehot(label)");
	double reg = 0;
	for (int l = 0; l < L; l++)
		for (size_t i = 0; i < s->layer[l].n_w; i++)
			reg += w[s->layer[l].w_off + i] * w[s->layer[l].w_off + i];
	tr->loss = output_loss_d(s, act[L], labels, B, NULL) / B + 0.5 * tr->cfg.l2 * reg;
	J->values[0] = tr->loss;
	char l2[64] = "";
	if (tr->cfg.l2 > 0)
		snprintf(l2, sizeof(l2), " + l2/2 * sum W^2 (l2 = %g)", tr->cfg.l2);
	if (s->loss == LOSS_MSE)
		SAY(J, formula, "J = (1/B) * sum over samples of 1/2 * sum_j (a%d - y)^2%s", L, l2);
	else if (s->out == OUT_SOFTMAX)
		SAY(J, formula, "J = -(1/B) * sum over samples of log a%d[label]%s", L, l2);
	else
		SAY(J, formula, "J = -(1/B) * sum (y * log a%d + (1 - y) * log(1 - a%d))%s", L, L, l2);
	SAY(J, words, "the loss: how wrong the predictions are, averaged over the %d samples "
	    "(%s)", B, loss_name(s->loss));
	SAY(J, from, "a%d (%dx%d), y (%dx%d) -> 1x1", L, B, C, B, C);
	return 0;
}

/* Compares a gradient's entries (all, or EXPLAIN_MAX_CHECKED spread
 * evenly) with the gradient check's central differences. */
struct checker {
	const struct model_shape *s;
	struct nn_ws_d ws;
	const double *x;
	const uint8_t *y;
	int n;
	double l2;
	double *w;
};

static void check_gradient(struct checker *c, struct explain_step *st, size_t off)
{
	size_t count = (size_t)st->rows * (size_t)st->cols;
	size_t k = count < EXPLAIN_MAX_CHECKED ? count : EXPLAIN_MAX_CHECKED;
	st->is_gradient = 1;
	st->check_error = 0;
	for (size_t j = 0; j < k; j++) {
		size_t i = k == 1 ? 0 : j * (count - 1) / (k - 1);
		double num = gradcheck_numeric(c->s, &c->ws, c->x, c->y, c->n, c->l2, c->w, off + i,
					       CHECK_STEP);
		double rel = gradcheck_rel_error(st->values[i], num);
		if (rel > st->check_error || rel != rel)
			st->check_error = rel;
	}
	st->checked = k;
}

/* One layer of the backward pass: dW, db and (below the first layer) da
 * and the delta of the layer beneath. *delta is delta of layer l + 1. */
static int trace_backward_layer(struct explain_trace *tr, struct checker *c, int l,
				double **act, double **delta, double *grads)
{
	const struct model_shape *s = &tr->shape;
	const struct model_layer *ly = &s->layer[l];
	const double *w = c->w;
	int B = tr->batch, n_in = s->sizes[l], n_out = s->sizes[l + 1], k = l + 1;
	struct explain_step *dW = step_new(tr, EXPLAIN_BACKWARD, n_in, n_out, "dW%d", k);
	struct explain_step *db = dW ? step_new(tr, EXPLAIN_BACKWARD, 1, n_out, "db%d", k) : NULL;
	struct explain_step *da = NULL;
	if (db && l > 0)
		da = step_new(tr, EXPLAIN_BACKWARD, B, n_in, "da%d", l);
	if (!db || (l > 0 && !da))
		return TD_ENOMEM;
	dense_backward_d(da ? da->values : NULL, dW->values, db->values, *delta, act[l],
			 w + ly->w_off, B, n_in, n_out);
	for (size_t i = 0; i < ly->n_w; i++)
		dW->values[i] = optim_objective_grad(dW->values[i], 1.0 / B, tr->cfg.l2,
						     w[ly->w_off + i], 1);
	for (size_t i = 0; i < ly->n_b; i++)
		db->values[i] = optim_objective_grad(db->values[i], 1.0 / B, tr->cfg.l2, 0, 0);
	memcpy(grads + ly->w_off, dW->values, sizeof(double) * ly->n_w);
	memcpy(grads + ly->b_off, db->values, sizeof(double) * ly->n_b);
	SAY(dW, words, "the gradient of J with respect to W%d: each input's value times the error "
	    "of the unit it feeds, averaged over the samples", k);
	SAY(dW, formula, "dW%d = a%d^T . delta%d / B%s", k, l, k,
	    tr->cfg.l2 > 0 ? " + l2 * W" : "");
	SAY(dW, from, "a%d^T (%dx%d) . delta%d (%dx%d) -> %dx%d (the shape of W%d)", l, n_in, B, k,
	    B, n_out, n_in, n_out, k);
	SAY(db, words, "the gradient of J with respect to b%d: the errors of layer %d averaged "
	    "over the samples", k, k);
	SAY(db, formula, "db%d = (1/B) * sum over samples of delta%d", k, k);
	SAY(db, from, "delta%d (%dx%d) summed over rows -> 1x%d (the shape of b%d)", k, B, n_out,
	    n_out, k);
	check_gradient(c, dW, ly->w_off);
	check_gradient(c, db, ly->b_off);
	if (!da)
		return 0;
	SAY(da, words, "the error sent back to layer %d's outputs: each unit's share of the "
	    "errors above, through the weights it feeds", l);
	SAY(da, formula, "da%d = delta%d . W%d^T", l, k, k);
	SAY(da, from, "delta%d (%dx%d) . W%d^T (%dx%d) -> %dx%d (the shape of a%d)", k, B, n_out,
	    k, n_out, n_in, B, n_in, l);
	struct explain_step *d = step_new(tr, EXPLAIN_BACKWARD, B, n_in, "delta%d", l);
	if (!d)
		return TD_ENOMEM;
	act_backward_d(s->act, d->values, da->values, act[l], (size_t)B * (size_t)n_in);
	char der[48];
	act_derivative(s->act, l, der, sizeof(der));
	SAY(d, words, "layer %d's error: the error at its output times the derivative of its "
	    "activation %s, written on its output a%d", l, activation_name(s->act), l);
	SAY(d, formula, "delta%d = da%d * %s", l, l, der);
	SAY(d, from, "da%d (%dx%d) * a%d (%dx%d), elementwise -> %dx%d", l, B, n_in, l, B, n_in, B,
	    n_in);
	*delta = d->values;
	return 0;
}

static int trace_backward(struct explain_trace *tr, struct checker *c, const uint8_t *labels,
			  double **act, double *grads)
{
	const struct model_shape *s = &tr->shape;
	int B = tr->batch, L = s->n_layers, C = s->sizes[L];
	struct explain_step *d = step_new(tr, EXPLAIN_BACKWARD, B, C, "delta%d", L);
	if (!d)
		return TD_ENOMEM;
	output_loss_backward_d(s, d->values, act[L], labels, B, NULL);
	if (s->loss == LOSS_MSE) {
		SAY(d, words, "the error at the output: the loss's derivative (a%d - y) times the "
		    "sigmoid's derivative a%d * (1 - a%d), per sample", L, L, L);
		SAY(d, formula, "delta%d = (a%d - y) * a%d * (1 - a%d)", L, L, L, L);
	} else {
		SAY(d, words, "the error at the output: for %s with cross-entropy the derivative "
		    "of the loss with respect to z%d is the prediction minus the target, per sample",
		    output_name(s->out), L);
		SAY(d, formula, "delta%d = a%d - y", L, L);
	}
	SAY(d, from, "a%d (%dx%d), y (%dx%d) -> %dx%d (the shape of z%d)", L, B, C, B, C, B, C, L);
	double *delta = d->values;
	for (int l = L - 1; l >= 0; l--) {
		int rc = trace_backward_layer(tr, c, l, act, &delta, grads);
		if (rc)
			return rc;
	}
	return 0;
}

/* The update of the first step, as optim.c makes it (t = 1). */
static void update_formula(const struct job_config *cfg, const char *p, char *buf, size_t n)
{
	switch (cfg->optimizer) {
	case OPT_SGD:
		snprintf(buf, n, "%s' = %s - lr * d%s   (lr = %g)", p, p, p, cfg->learning_rate);
		break;
	case OPT_MOMENTUM:
		snprintf(buf, n, "v = momentum * v + d%s = d%s (v starts at 0); %s' = %s - lr * v   "
			 "(lr = %g)", p, p, p, p, cfg->learning_rate);
		break;
	case OPT_ADAM:
		snprintf(buf, n, "m = (1 - b1) d%s, v = (1 - b2) d%s^2; %s' = %s - lr * (m / (1 - b1)) "
			 "/ (sqrt(v / (1 - b2)) + eps)   (lr = %g, b1 = 0.9, b2 = 0.999, eps = 1e-8; "
			 "about %s - lr * sign(d%s) on the first step)",
			 p, p, p, p, cfg->learning_rate, p, p);
		break;
	}
}

static double update_one(const struct job_config *cfg, double w, double g)
{
	if (cfg->optimizer != OPT_ADAM)
		return w - cfg->learning_rate * g; /* momentum's v is g on the first step */
	const double b1 = 0.9, b2 = 0.999, eps = 1e-8;
	double m = (1 - b1) * g, v = (1 - b2) * g * g;
	double step = cfg->learning_rate * sqrt(1 - b2) / (1 - b1), eps_hat = eps * sqrt(1 - b2);
	return w - step * m / (sqrt(v) + eps_hat);
}

static int trace_update(struct explain_trace *tr, const double *w, const double *grads)
{
	const struct model_shape *s = &tr->shape;
	for (int l = 0; l < s->n_layers; l++) {
		const struct model_layer *ly = &s->layer[l];
		for (int k = 0; k < 2; k++) {
			size_t off = k == 0 ? ly->w_off : ly->b_off, cnt = k == 0 ? ly->n_w : ly->n_b;
			struct explain_step *st = step_new(tr, EXPLAIN_UPDATE, k == 0 ? ly->in : 1,
							   ly->out, "%c%d'", k == 0 ? 'W' : 'b', l + 1);
			if (!st)
				return TD_ENOMEM;
			for (size_t i = 0; i < cnt; i++)
				st->values[i] = update_one(&tr->cfg, w[off + i], grads[off + i]);
			char p[16];
			snprintf(p, sizeof(p), "%c%d", k == 0 ? 'W' : 'b', l + 1);
			update_formula(&tr->cfg, p, st->formula, sizeof(st->formula));
			SAY(st, words, "%s after the step: a move against its gradient (%s, in double "
			    "precision; training does the same in float)", p,
			    optimizer_name(tr->cfg.optimizer));
			SAY(st, from, "%s (%dx%d) - lr * d%s (%dx%d) -> %dx%d", p, st->rows, st->cols, p,
			    st->rows, st->cols, st->rows, st->cols);
		}
	}
	return 0;
}

int explain_run(const struct job_config *cfg, const struct model_input *in, const double *x,
		const uint8_t *y, int n, const double *weights, struct explain_trace *tr,
		struct td_error *e)
{
	memset(tr, 0, sizeof(*tr));
	int rc = explain_describe(cfg, in, n, &tr->shape, e);
	if (rc)
		return rc;
	for (int i = 0; i < n; i++)
		if (y[i] >= in->classes)
			return td_errorf(e, TD_EINVAL, "labels",
					 "label %d of sample %d is not a class (0 to %d)", y[i], i,
					 in->classes - 1);
	tr->cfg = *cfg;
	tr->batch = n;
	const struct model_shape *s = &tr->shape;
	size_t P = s->n_params;
	struct checker c = {.s = s, .x = x, .y = y, .n = n, .l2 = cfg->l2};
	c.w = malloc(sizeof(double) * P);
	double *grads = calloc(P, sizeof(double));
	float *wf = weights ? NULL : malloc(sizeof(float) * P);
	if (!c.w || !grads || (!weights && !wf) || nn_ws_init_d(&c.ws, s, n)) {
		rc = td_errorf(e, TD_ENOMEM, "", "out of memory for the explanation");
		goto out;
	}
	if (weights) {
		memcpy(c.w, weights, sizeof(double) * P);
	} else {
		/* The weights the job starts from: drawn exactly as the trainer does. */
		struct td_rng rng;
		rng_seed_stream(&rng, cfg->seed, 0);
		model_init(s, cfg->init, &rng, wf);
		for (size_t i = 0; i < P; i++)
			c.w[i] = wf[i];
	}
	double *act[MODEL_MAX_LAYERS + 1];
	rc = trace_forward(tr, c.w, x, act);
	if (!rc)
		rc = trace_loss(tr, c.w, y, act);
	if (!rc)
		rc = trace_backward(tr, &c, y, act, grads);
	if (!rc)
		rc = trace_update(tr, c.w, grads);
	if (rc) {
		rc = td_errorf(e, TD_ENOMEM, "", "out of memory for the explanation");
		goto out;
	}
	for (int i = 0; i < tr->n_steps; i++)
		if (tr->step[i].is_gradient && !(tr->step[i].check_error <= tr->max_check_error))
			tr->max_check_error = tr->step[i].check_error;
out:
	if (rc)
		explain_free(tr);
	if (c.ws.mem)
		nn_ws_free_d(&c.ws);
	free(c.w);
	free(grads);
	free(wf);
	return rc;
}

/* ---- output --------------------------------------------------------- */

#define PRINT_ROWS 6
#define PRINT_COLS 8

static void print_values(FILE *f, const struct explain_step *st)
{
	for (int r = 0; r < st->rows && r < PRINT_ROWS; r++) {
		fprintf(f, "      [");
		for (int c = 0; c < st->cols && c < PRINT_COLS; c++)
			fprintf(f, "%s%10.6g", c ? " " : "", st->values[(size_t)r * st->cols + c]);
		fprintf(f, "%s]\n", st->cols > PRINT_COLS ? " ..." : "");
	}
	if (st->rows > PRINT_ROWS)
		fprintf(f, "      ... (%d rows in all)\n", st->rows);
}

static void print_header(FILE *f, const struct explain_trace *tr)
{
	const struct model_shape *s = &tr->shape;
	fprintf(f, "one training step of layers");
	for (int l = 0; l <= s->n_layers; l++)
		fprintf(f, "%s%d", l ? "-" : " ", s->sizes[l]);
	fprintf(f, ": %s hidden, %s output, %s loss, %s (lr %g", activation_name(s->act),
		output_name(s->out), loss_name(s->loss), optimizer_name(tr->cfg.optimizer),
		tr->cfg.learning_rate);
	if (tr->cfg.l2 > 0)
		fprintf(f, ", l2 %g", tr->cfg.l2);
	fprintf(f, "), %zu parameters, B = %d sample%s\n", s->n_params, tr->batch,
		tr->batch == 1 ? "" : "s");
}

void explain_print(FILE *f, const struct explain_trace *tr)
{
	print_header(f, tr);
	int phase = -1;
	for (int i = 0; i < tr->n_steps; i++) {
		const struct explain_step *st = &tr->step[i];
		if ((int)st->phase != phase) {
			phase = (int)st->phase;
			fprintf(f, "\n== %s ==\n", explain_phase_name(st->phase));
		}
		fprintf(f, "\n  %s  (%dx%d)\n    %s\n    %s\n", st->name, st->rows, st->cols,
			st->words, st->formula);
		if (st->from[0])
			fprintf(f, "    shapes: %s\n", st->from);
		print_values(f, st);
		if (st->is_gradient)
			fprintf(f, "    numerical check: largest relative error %.2e over %zu of %d "
				"entries\n", st->check_error, st->checked, st->rows * st->cols);
	}
	fprintf(f, "\nJ = %.10g; every gradient matches central differences to %.2e "
		"(relative)\n", tr->loss, tr->max_check_error);
}

static json_t *step_json(const struct explain_step *st)
{
	json_t *rows = json_array();
	size_t shown = 0;
	int truncated = 0;
	for (int r = 0; r < st->rows && !truncated; r++) {
		if (shown + (size_t)st->cols > EXPLAIN_JSON_VALUES && r > 0) {
			truncated = 1;
			break;
		}
		json_t *row = json_array();
		for (int c = 0; c < st->cols && shown < EXPLAIN_JSON_VALUES; c++, shown++)
			json_array_append_new(row, td_json_num(st->values[(size_t)r * st->cols + c]));
		truncated |= shown >= EXPLAIN_JSON_VALUES && (r + 1 < st->rows);
		json_array_append_new(rows, row);
	}
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:[i, i], s:o, s:b}", "name", st->name,
			      "phase", explain_phase_name(st->phase), "words", st->words,
			      "formula", st->formula, "from", st->from, "shape", st->rows,
			      st->cols, "values", rows, "truncated", truncated);
	if (o && st->is_gradient) {
		json_object_set_new(o, "check_error", td_json_num(st->check_error));
		json_object_set_new(o, "checked", json_integer((json_int_t)st->checked));
	}
	return o;
}

json_t *explain_to_json(const struct explain_trace *tr)
{
	const struct model_shape *s = &tr->shape;
	json_t *layers = json_array(), *steps = json_array();
	for (int l = 0; l <= s->n_layers; l++)
		json_array_append_new(layers, json_integer(s->sizes[l]));
	for (int i = 0; i < tr->n_steps; i++)
		json_array_append_new(steps, step_json(&tr->step[i]));
	json_t *o = json_pack("{s:o, s:s, s:s, s:s, s:s, s:f, s:f, s:I, s:i, s:o, s:o}", "layers",
			      layers, "activation", activation_name(s->act), "output",
			      output_name(s->out), "loss", loss_name(s->loss), "optimizer",
			      optimizer_name(tr->cfg.optimizer), "learning_rate",
			      tr->cfg.learning_rate, "l2", tr->cfg.l2, "parameters",
			      (json_int_t)s->n_params, "batch", tr->batch, "objective",
			      td_json_num(tr->loss), "max_check_error",
			      td_json_num(tr->max_check_error));
	if (o)
		json_object_set_new(o, "steps", steps);
	else
		json_decref(steps);
	return o;
}
