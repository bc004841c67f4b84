/*
 * model.c - model shapes, the one-buffer parameter layout, initialisation
 * and the weight digest (see model.h).
 */
#include "traind/model.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The names of the enums, the one copy (the job options read them). */
const char *const activation_names[ACT_COUNT] = {"relu", "sigmoid", "tanh"};
const char *const output_names[OUT_COUNT] = {"softmax", "sigmoid"};
const char *const loss_names[LOSS_COUNT] = {"cross_entropy", "mse"};
const char *const init_names[INIT_COUNT] = {"auto", "xavier", "he", "uniform"};
_Static_assert(ACT_TANH + 1 == ACT_COUNT && OUT_SIGMOID + 1 == OUT_COUNT &&
		       LOSS_MSE + 1 == LOSS_COUNT && INIT_UNIFORM + 1 == INIT_COUNT,
	       "a name for every enum value");

const char *activation_name(enum activation a)
{
	return activation_names[a];
}

const char *output_name(enum output_kind o)
{
	return output_names[o];
}

const char *loss_name(enum loss_kind l)
{
	return loss_names[l];
}

const char *init_name(enum init_kind i)
{
	return init_names[i];
}

int model_shape_make(struct model_shape *s, int inputs, const int *hidden, int n_hidden,
		     int outputs, enum activation act, enum output_kind out, enum loss_kind loss,
		     struct td_error *e)
{
	memset(s, 0, sizeof(*s));
	if (inputs < 1 || inputs > MODEL_MAX_INPUTS)
		return td_errorf(e, TD_EINVAL, "inputs", "inputs must be 1..%d, not %d",
				 MODEL_MAX_INPUTS, inputs);
	if (n_hidden < 0 || n_hidden > MODEL_MAX_HIDDEN)
		return td_errorf(e, TD_EINVAL, "hidden",
				 "hidden must list 0..%d layer sizes, not %d", MODEL_MAX_HIDDEN,
				 n_hidden);
	for (int i = 0; i < n_hidden; i++)
		if (hidden[i] < 1 || hidden[i] > MODEL_MAX_UNITS) {
			char field[32];
			snprintf(field, sizeof(field), "hidden[%d]", i);
			return td_errorf(e, TD_EINVAL, field, "%s must be 1..%d units, not %d",
					 field, MODEL_MAX_UNITS, hidden[i]);
		}
	if (outputs < 1 || outputs > MODEL_MAX_UNITS)
		return td_errorf(e, TD_EINVAL, "outputs", "outputs must be 1..%d, not %d",
				 MODEL_MAX_UNITS, outputs);
	if (out == OUT_SOFTMAX && loss != LOSS_CROSS_ENTROPY)
		return td_errorf(e, TD_EINVAL, "loss",
				 "loss \"%s\" does not go with output \"softmax\": use "
				 "\"cross_entropy\", or output \"sigmoid\" for mse",
				 loss_name(loss));
	if (out == OUT_SOFTMAX && outputs < 2)
		return td_errorf(e, TD_EINVAL, "output",
				 "a softmax output needs at least 2 classes");
	s->n_layers = n_hidden + 1;
	s->sizes[0] = inputs;
	for (int i = 0; i < n_hidden; i++)
		s->sizes[i + 1] = hidden[i];
	s->sizes[n_hidden + 1] = outputs;
	s->act = act;
	s->out = out;
	s->loss = loss;
	return 0;
}

size_t model_w_offset(const struct model_shape *s, int layer)
{
	size_t off = 0;
	for (int l = 0; l < layer; l++)
		off += (size_t)(s->sizes[l] + 1) * (size_t)s->sizes[l + 1];
	return off;
}

size_t model_b_offset(const struct model_shape *s, int layer)
{
	return model_w_offset(s, layer) + (size_t)s->sizes[layer] * (size_t)s->sizes[layer + 1];
}

size_t model_param_count(const struct model_shape *s)
{
	return model_w_offset(s, s->n_layers);
}

int model_max_width(const struct model_shape *s)
{
	int m = 0;
	for (int l = 0; l <= s->n_layers; l++)
		if (s->sizes[l] > m)
			m = s->sizes[l];
	return m;
}

/* The weight of layer l's element drawn from rng, by the init rule. */
static double init_draw(enum init_kind init, enum activation act, int fan_in, int fan_out,
			struct td_rng *rng)
{
	if (init == INIT_AUTO)
		init = act == ACT_RELU ? INIT_HE : INIT_XAVIER;
	switch (init) {
	case INIT_HE:
		return rng_normal(rng) * sqrt(2.0 / fan_in);
	case INIT_UNIFORM: {
		double r = sqrt(6.0 / (fan_in + fan_out));
		return (2 * rng_uniform(rng) - 1) * r;
	}
	case INIT_XAVIER:
	case INIT_AUTO:
	default:
		return rng_normal(rng) * sqrt(2.0 / (fan_in + fan_out));
	}
}

void model_init_d(const struct model_shape *s, enum init_kind init, struct td_rng *rng,
		  double *params)
{
	for (int l = 0; l < s->n_layers; l++) {
		int I = s->sizes[l], O = s->sizes[l + 1];
		/* The output layer of a sigmoid/softmax net is initialised as the
		 * hidden activation's rule would; what matters is the fan. */
		double *w = params + model_w_offset(s, l);
		for (size_t i = 0; i < (size_t)I * O; i++)
			w[i] = init_draw(init, s->act, I, O, rng);
		memset(params + model_b_offset(s, l), 0, sizeof(double) * (size_t)O);
	}
}

void model_init(const struct model_shape *s, enum init_kind init, struct td_rng *rng,
		float *params)
{
	for (int l = 0; l < s->n_layers; l++) {
		int I = s->sizes[l], O = s->sizes[l + 1];
		float *w = params + model_w_offset(s, l);
		for (size_t i = 0; i < (size_t)I * O; i++)
			w[i] = (float)init_draw(init, s->act, I, O, rng);
		memset(params + model_b_offset(s, l), 0, sizeof(float) * (size_t)O);
	}
}

void model_digest(const float *params, size_t n, char hex[17])
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const unsigned char *p = (const unsigned char *)params;
	for (size_t i = 0; i < n * sizeof(float); i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	snprintf(hex, 17, "%016llx", (unsigned long long)h);
}
