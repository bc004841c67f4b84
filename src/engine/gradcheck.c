/*
 * gradcheck.c - central differences against nn_loss_grad_d (see gradcheck.h).
 *
 * The objective is J(w) = (1/N) sum_n loss_n(w) + (l2/2) sum over weights
 * of w^2; its analytic gradient is what the optimizer follows, formed by
 * optim_objective_grad() from the summed gradient nn_loss_grad_d() returns.
 * Everything here is double precision, so a relative error of 1e-6 means
 * the derivative is right, not that float rounding happened to be kind.
 */
#include "traind/gradcheck.h"

#include <jansson.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "traind/nn.h"
#include "traind/optim.h"
#include "traind/rng.h"

void gradcheck_options_default(struct gradcheck_options *o)
{
	o->inputs = 6;
	o->height = 1;
	o->channels = 1;
	o->classes = 3;
	o->samples = 5;
	o->step = 1e-3;
	o->tolerance = GRADCHECK_TOLERANCE;
}

struct problem {
	const struct model_shape *s;
	struct nn_ws_d ws;
	double *x; /* samples x inputs */
	uint8_t *y;
	int n;
	double l2;
	uint64_t pattern;  /* kink_pattern() of the last objective() */
};

/* Where the last forward pass sits among the kinks of the function: each
 * pool's winners and the sign of each ReLU unit, hashed (FNV-1a). Two
 * points with the same pattern lie on one smooth piece. */
static uint64_t kink_pattern(const struct problem *p)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const struct model_shape *s = p->s;
	for (int l = 0; l < s->n_layers; l++) {
		const struct model_layer *L = &s->layer[l];
		size_t n = (size_t)p->n * (size_t)L->out;
		for (size_t i = 0; i < n; i++) {
			uint64_t v;
			if (L->kind == LAYER_MAXPOOL)
				v = (uint64_t)p->ws.argmax[l][i];
			else if (!L->is_output && L->act == ACT_RELU)
				v = p->ws.act[l + 1][i] > 0;
			else
				break;
			h = (h ^ v) * 0x100000001b3ULL;
		}
	}
	return h;
}

/* Is parameter i a weight (decays under L2) rather than a bias? */
static int is_weight(const struct model_shape *s, size_t i)
{
	for (int l = 0; l < s->n_layers; l++)
		if (i >= model_w_offset(s, l) && i < model_b_offset(s, l))
			return 1;
	return 0;
}

static double objective(struct problem *p, const double *w)
{
	memcpy(p->ws.act[0], p->x, sizeof(double) * (size_t)p->n * (size_t)p->s->sizes[0]);
	nn_forward_d(p->s, w, &p->ws, p->n);
	p->pattern = kink_pattern(p);
	double loss = output_loss_d(p->s, p->ws.act[p->s->n_layers], p->y, p->n, NULL) / p->n;
	double reg = 0;
	size_t P = model_param_count(p->s);
	for (size_t i = 0; i < P; i++)
		if (is_weight(p->s, i))
			reg += w[i] * w[i];
	return loss + 0.5 * p->l2 * reg;
}

/* dJ/dw[i] by the fourth-order central difference
 *   (J(w-2h) - 8 J(w-h) + 8 J(w+h) - J(w+2h)) / 12h,
 * whose error is O(h^4): at h = 1e-3 both truncation and rounding stay
 * near 1e-12, so even gradients of 1e-6 are checked to 1e-6 relative.
 * A stencil that crosses a kink (a pool's winner or a ReLU's sign changes
 * between w and a probe, `base` being w's pattern) measures no derivative:
 * it is retaken with a step ten times smaller, up to three times. */
static double central_difference(struct problem *p, double *w, double *v, size_t i, double h,
				 uint64_t base)
{
	/* v is w itself, or the inputs p->x for the input gradient. */
	double saved = v[i], j[4];
	const double at[4] = {-2, -1, 1, 2};
	for (int tries = 0;; tries++, h /= 10) {
		int crossed = 0;
		for (int k = 0; k < 4; k++) {
			v[i] = saved + at[k] * h;
			j[k] = objective(p, w);
			crossed |= p->pattern != base;
		}
		v[i] = saved;
		if (!crossed || tries == 3)
			break;
	}
	return (j[0] - 8 * j[1] + 8 * j[2] - j[3]) / (12 * h);
}

/* One element's analytic (a) and numeric (num) derivative into its tensor's maxima. */
static void tally(struct gradcheck_tensor *tt, double a, double num, size_t at)
{
	double abs_err = fabs(a - num);
	double scale = fmax(fmax(fabs(a), fabs(num)), GRADCHECK_FLOOR);
	double rel = abs_err / scale;
	if (rel > tt->max_rel_error || at == 0) {
		tt->max_rel_error = rel;
		tt->worst = at;
	}
	if (abs_err > tt->max_abs_error)
		tt->max_abs_error = abs_err;
}

int gradcheck_describe(const struct job_config *cfg, const struct gradcheck_options *opt,
		       struct model_shape *s, struct td_error *e)
{
	if (opt->inputs < 1 || opt->inputs > GRADCHECK_MAX_INPUTS)
		return td_errorf(e, TD_EINVAL, "inputs", "inputs must be an integer from 1 to %d, not %d",
				 GRADCHECK_MAX_INPUTS, opt->inputs);
	if (opt->height < 1 || opt->channels < 1 ||
	    (long)opt->inputs * opt->height * opt->channels > GRADCHECK_MAX_INPUTS)
		return td_errorf(e, TD_EINVAL, "height", "inputs x height x channels must be from 1 "
				 "to %d, not %d x %d x %d", GRADCHECK_MAX_INPUTS, opt->inputs,
				 opt->height, opt->channels);
	if (opt->classes < 2 || opt->classes > 256)
		return td_errorf(e, TD_EINVAL, "classes",
				 "classes must be an integer from 2 to 256, not %d", opt->classes);
	if (opt->samples < 1 || opt->samples > GRADCHECK_MAX_SAMPLES)
		return td_errorf(e, TD_EINVAL, "samples",
				 "samples must be an integer from 1 to %d, not %d",
				 GRADCHECK_MAX_SAMPLES, opt->samples);
	struct model_input in = {.width = opt->inputs, .height = opt->height, .channels = opt->channels,
				 .classes = opt->classes};
	return model_describe(s, cfg, &in, 0, e);
}

int gradcheck_run(const struct job_config *cfg, const struct gradcheck_options *opt,
		  struct gradcheck_result *res, struct td_error *e)
{
	memset(res, 0, sizeof(*res));
	struct model_shape *s = &res->shape;
	int rc = gradcheck_describe(cfg, opt, s, e);
	if (rc)
		return rc;
	if (!(opt->step > 0 && opt->step <= 0.1))
		return td_errorf(e, TD_EINVAL, "step", "step must be a number > 0 and <= 0.1");
	size_t P = model_param_count(s);
	if (P > GRADCHECK_MAX_PARAMS)
		return td_errorf(e, TD_EINVAL, "hidden",
				 "the model has %zu parameters; a gradient check takes at most %d",
				 P, GRADCHECK_MAX_PARAMS);
	res->n_params = P;
	res->tolerance = opt->tolerance;

	struct problem p = {.s = s, .n = opt->samples, .l2 = cfg->l2};
	size_t X = (size_t)opt->samples * (size_t)s->sizes[0];
	double *w = malloc(sizeof(double) * P);
	double *g = calloc(P, sizeof(double));
	double *gx = calloc(X, sizeof(double));
	p.x = malloc(sizeof(double) * X);
	p.y = malloc((size_t)opt->samples);
	if (!w || !g || !gx || !p.x || !p.y || nn_ws_init_d(&p.ws, s, opt->samples)) {
		rc = td_errorf(e, TD_ENOMEM, "", "out of memory for the gradient check");
		goto out;
	}
	struct td_rng rng;
	rng_seed_stream(&rng, cfg->seed, 0);
	model_init_d(s, cfg->init, &rng, w);
	/* Biases start at zero; perturb them so their gradients are generic. */
	for (int l = 0; l < s->n_layers; l++)
		for (size_t j = 0; j < s->layer[l].n_b; j++)
			w[model_b_offset(s, l) + j] = 0.1 * rng_normal(&rng);
	for (size_t i = 0; i < X; i++)
		p.x[i] = rng_uniform(&rng);
	for (int i = 0; i < opt->samples; i++)
		p.y[i] = (uint8_t)rng_below(&rng, (uint64_t)opt->classes);

	memcpy(p.ws.act[0], p.x, sizeof(double) * X);
	p.ws.dinput = gx;
	nn_loss_grad_d(s, w, g, &p.ws, p.y, p.n, NULL);
	p.ws.dinput = NULL;

	objective(&p, w);
	uint64_t base = p.pattern;
	/* Every layer's W and b, then the input ("x", tensor index 2L). */
	for (int t = 0; t <= 2 * s->n_layers; t++) {
		int l = t / 2, k = t % 2, is_x = t == 2 * s->n_layers;
		size_t lo = is_x ? 0 : k == 0 ? model_w_offset(s, l) : model_b_offset(s, l);
		size_t hi = is_x ? X : k == 0 ? model_b_offset(s, l) : model_w_offset(s, l + 1);
		if (hi == lo)
			continue; /* a pool's W and b */
		struct gradcheck_tensor *tt = &res->tensor[res->n_tensors++];
		if (is_x)
			snprintf(tt->name, sizeof(tt->name), "x");
		else
			snprintf(tt->name, sizeof(tt->name), "%c%d", k == 0 ? 'W' : 'b', l + 1);
		tt->count = hi - lo;
		for (size_t i = lo; i < hi; i++) {
			double a = is_x ? gx[i] / p.n
					: optim_objective_grad(g[i], 1.0 / p.n, p.l2, w[i], k == 0);
			double num = central_difference(&p, w, is_x ? p.x : w, i, opt->step, base);
			tally(tt, a, num, i - lo);
		}
		if (tt->max_rel_error > res->max_rel_error)
			res->max_rel_error = tt->max_rel_error;
	}
	res->passed = res->max_rel_error < opt->tolerance;
out:
	if (p.ws.mem)
		nn_ws_free_d(&p.ws);
	free(w);
	free(g);
	free(gx);
	free(p.x);
	free(p.y);
	return rc;
}

/* ---- for callers with their own problem (see gradcheck.h) ----------- */

double gradcheck_numeric(const struct model_shape *s, struct nn_ws_d *ws, const double *x,
			 const uint8_t *y, int n, double l2, double *w, size_t i, double h)
{
	struct problem p = {.s = s, .ws = *ws, .x = (double *)x, .y = (uint8_t *)y, .n = n,
			    .l2 = l2};
	objective(&p, w); /* the pooling winners and ReLU signs at w itself */
	return central_difference(&p, w, w, i, h, p.pattern);
}

double gradcheck_rel_error(double analytic, double numeric)
{
	return fabs(analytic - numeric) / fmax(fmax(fabs(analytic), fabs(numeric)), GRADCHECK_FLOOR);
}

json_t *gradcheck_result_json(const struct job_config *cfg, const struct gradcheck_result *res)
{
	json_t *tensors = json_array(), *layers = json_array();
	for (int l = 0; l <= res->shape.n_layers; l++)
		json_array_append_new(layers, json_integer(res->shape.sizes[l]));
	for (int i = 0; i < res->n_tensors; i++)
		json_array_append_new(
			tensors, json_pack("{s:s, s:I, s:f, s:f}", "name", res->tensor[i].name,
					   "count", (json_int_t)res->tensor[i].count,
					   "max_relative_error", res->tensor[i].max_rel_error,
					   "max_absolute_error", res->tensor[i].max_abs_error));
	return json_pack("{s:o, s:s, s:s, s:s, s:I, s:o, s:f, s:f, s:b}", "layers", layers,
			 "activation", activation_name(cfg->activation), "output",
			 output_name(cfg->output), "loss", loss_name(cfg->loss), "parameters",
			 (json_int_t)res->n_params, "tensors", tensors, "max_relative_error",
			 res->max_rel_error, "tolerance", res->tolerance, "passed", res->passed);
}
