/*
 * model.c - the model description: model_describe() turns a job
 * configuration and an input into the layer list, with the parameter
 * layout, initialisation and the weight digest (see model.h).
 */
#include "traind/model.h"

#include "traind/dataset.h"
#include "traind/jobcfg.h"

#include <jansson.h>
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
	s->classes = out == OUT_SIGMOID && outputs == 1 ? 2 : outputs;
	size_t off = 0;
	for (int l = 0; l < s->n_layers; l++) {
		struct model_layer *L = &s->layer[l];
		L->kind = LAYER_DENSE;
		L->in = L->in_c = s->sizes[l];
		L->out = L->out_c = s->sizes[l + 1];
		L->in_h = L->in_w = L->out_h = L->out_w = 1;
		L->w_off = off;
		L->n_w = (size_t)L->in * (size_t)L->out;
		L->b_off = off + L->n_w;
		L->n_b = (size_t)L->out;
		off = L->b_off + L->n_b;
		L->is_output = l == s->n_layers - 1;
		L->act = act;
		s->flops += 2.0 * (double)L->n_w;
	}
	s->n_params = off;
	return 0;
}

/* Row i of `layers` on an input of c x h x w: its shape, or an error
 * naming the field and the input size there. */
static int spec_row(struct model_layer *L, const struct layer_spec *sp, int i, int c, int h,
		    int w, enum activation job_act, struct td_error *e)
{
	char field[48];
	memset(L, 0, sizeof(*L));
	L->kind = sp->kind;
	L->in_c = c;
	L->in_h = h;
	L->in_w = w;
	L->in = c * h * w;
	L->act = sp->act >= 0 ? (enum activation)sp->act : job_act;
	L->kernel = sp->kernel;
	L->stride = sp->stride ? sp->stride : 1;
	L->pad = sp->padding;
	switch (sp->kind) {
	case LAYER_CONV: {
		int ph = h + 2 * L->pad, pw = w + 2 * L->pad;
		if (L->kernel > ph || L->kernel > pw) {
			snprintf(field, sizeof(field), "layers[%d].kernel", i);
			return td_errorf(e, TD_EINVAL, field,
					 "%s %d is larger than its padded input %dx%d (the input "
					 "at layer %d is %dx%dx%d, padding %d): the layer leaves "
					 "no output",
					 field, L->kernel, ph, pw, i, c, h, w, L->pad);
		}
		L->out_c = sp->units;
		L->out_h = (ph - L->kernel) / L->stride + 1;
		L->out_w = (pw - L->kernel) / L->stride + 1;
		L->n_w = (size_t)sp->units * (size_t)c * (size_t)L->kernel * (size_t)L->kernel;
		L->n_b = (size_t)sp->units;
		long long col = (long long)c * L->kernel * L->kernel * L->out_h * L->out_w;
		if (col > MODEL_MAX_COL) { /* bounds each worker's im2col buffer */
			snprintf(field, sizeof(field), "layers[%d].kernel", i);
			return td_errorf(e, TD_EINVAL, field,
					 "layer %d's %dx%d patches of its %dx%dx%d input at %dx%d "
					 "places are %lld values per sample; at most %d",
					 i, L->kernel, L->kernel, c, h, w, L->out_h, L->out_w, col,
					 MODEL_MAX_COL);
		}
		snprintf(field, sizeof(field), "layers[%d].filters", i);
		break;
	}
	case LAYER_MAXPOOL:
		if (L->kernel > h || L->kernel > w) {
			snprintf(field, sizeof(field), "layers[%d].size", i);
			return td_errorf(e, TD_EINVAL, field,
					 "%s %d is larger than its input %dx%d (the input at "
					 "layer %d is %dx%dx%d): the layer leaves no output",
					 field, L->kernel, h, w, i, c, h, w);
		}
		L->out_c = c;
		L->out_h = (h - L->kernel) / L->stride + 1;
		L->out_w = (w - L->kernel) / L->stride + 1;
		snprintf(field, sizeof(field), "layers[%d].size", i);
		break;
	default:
		L->out_c = sp->units;
		L->out_h = L->out_w = 1;
		L->n_w = (size_t)L->in * (size_t)sp->units;
		L->n_b = (size_t)sp->units;
		snprintf(field, sizeof(field), "layers[%d].units", i);
	}
	long long out = (long long)L->out_c * L->out_h * L->out_w;
	if (out > MODEL_MAX_WIDTH)
		return td_errorf(e, TD_EINVAL, field,
				 "layer %d outputs %dx%dx%d = %lld values per sample from its "
				 "%dx%dx%d input; at most %d",
				 i, L->out_c, L->out_h, L->out_w, out, c, h, w, MODEL_MAX_WIDTH);
	L->out = (int)out;
	return 0;
}

/* The layer list of the job field `layers`, then the output layer. */
static int describe_specs(struct model_shape *s, const struct job_config *cfg,
			  const struct model_input *in, int outputs, struct td_error *e)
{
	/* The dense builder validates the output and loss pairing. */
	int rc = model_shape_make(s, in->width * in->height * in->channels, NULL, 0, outputs,
				  cfg->activation, cfg->output, cfg->loss, e);
	if (rc)
		return rc;
	int c = in->channels, h = in->height, w = in->width, n = cfg->n_layer_specs;
	size_t off = 0;
	s->flops = 0;
	for (int i = 0; i <= n; i++) {
		struct model_layer *L = &s->layer[i];
		if (i < n) {
			rc = spec_row(L, &cfg->layer_specs[i], i, c, h, w, cfg->activation, e);
			if (rc)
				return rc;
		} else {
			struct layer_spec out = {.kind = LAYER_DENSE, .units = outputs, .act = -1};
			spec_row(L, &out, i, c, h, w, cfg->activation, e);
			L->is_output = 1;
		}
		L->w_off = off;
		L->b_off = off + L->n_w;
		off = L->b_off + L->n_b;
		s->flops += 2.0 * (double)L->n_w * L->out_h * L->out_w;
		s->sizes[i] = L->in;
		c = L->out_c;
		h = L->out_h;
		w = L->out_w;
	}
	s->n_layers = n + 1;
	s->sizes[n + 1] = outputs;
	s->n_params = off;
	long long acts = 0;
	for (int l = 0; l <= s->n_layers; l++)
		acts += s->sizes[l];
	if (acts > MODEL_MAX_ACTS) /* bounds each worker's activations */
		return td_errorf(e, TD_EINVAL, "layers",
				 "this model's layers output %lld values per sample for %dx%dx%d "
				 "inputs; at most %d",
				 acts, in->width, in->height, in->channels, MODEL_MAX_ACTS);
	if (s->flops > MODEL_MAX_FLOPS)
		return td_errorf(e, TD_EINVAL, "layers",
				 "this model takes %.3g flops per sample for %dx%dx%d inputs; "
				 "at most %.3g",
				 s->flops, in->width, in->height, in->channels, MODEL_MAX_FLOPS);
	return 0;
}

int model_describe(struct model_shape *s, const struct job_config *cfg,
		   const struct model_input *in, size_t max_params, struct td_error *e)
{
	if (in->width < 1 || in->height < 1 || in->channels < 1)
		return td_errorf(e, TD_EINVAL, "dataset", "the input must be at least 1x1x1, not "
				 "%dx%dx%d", in->width, in->height, in->channels);
	if (in->classes < 2)
		return td_errorf(e, TD_EINVAL, "dataset",
				 "a data set needs at least 2 classes, not %d", in->classes);
	/* The output rule: a sigmoid output on two classes is one unit whose
	 * target is the label; otherwise one unit per class. */
	int outputs = cfg->output == OUT_SIGMOID && in->classes == 2 ? 1 : in->classes;
	int rc;
	if (cfg->n_layer_specs > 0) {
		rc = describe_specs(s, cfg, in, outputs, e);
	} else {
		rc = model_shape_make(s, in->width * in->height * in->channels, cfg->hidden,
				      cfg->n_hidden, outputs, cfg->activation, cfg->output,
				      cfg->loss, e);
		if (!rc) {
			s->layer[0].in_c = in->channels;
			s->layer[0].in_h = in->height;
			s->layer[0].in_w = in->width;
		}
	}
	if (rc)
		return rc;
	if (max_params && s->n_params > max_params)
		return td_errorf(e, TD_EINVAL, cfg->n_layer_specs > 0 ? "layers" : "hidden",
				 "this model has %zu parameters for %dx%d inputs and %d classes; the "
				 "server allows at most %zu",
				 s->n_params, in->width, in->height, in->classes, max_params);
	return 0;
}

int model_describe_dataset(struct model_shape *s, const struct job_config *cfg,
			   const struct dataset *ds, size_t max_params, struct td_error *e)
{
	struct model_input in = {.width = ds->width, .height = ds->height, .channels = 1,
				 .classes = ds->n_classes};
	return model_describe(s, cfg, &in, max_params, e);
}

int model_classes(const struct model_shape *s)
{
	return s->classes;
}

const char *layer_kind_name(enum layer_kind k)
{
	static const char *const names[LAYER_KIND_COUNT] = {"dense", "conv", "maxpool"};
	return names[k];
}

json_t *model_layer_json(const struct model_shape *s, int l)
{
	const struct model_layer *L = &s->layer[l];
	json_t *r = json_object();
	json_object_set_new(r, "type", json_string(layer_kind_name(L->kind)));
	json_object_set_new(r, "input", json_pack("[i, i, i]", L->in_c, L->in_h, L->in_w));
	json_object_set_new(r, "output", json_pack("[i, i, i]", L->out_c, L->out_h, L->out_w));
	if (L->kind == LAYER_CONV) {
		json_object_set_new(r, "kernel", json_integer(L->kernel));
		json_object_set_new(r, "stride", json_integer(L->stride));
		json_object_set_new(r, "padding", json_integer(L->pad));
	} else if (L->kind == LAYER_MAXPOOL) {
		json_object_set_new(r, "size", json_integer(L->kernel));
		json_object_set_new(r, "stride", json_integer(L->stride));
	}
	json_object_set_new(r, "activation",
			    json_string(L->is_output		 ? output_name(s->out)
					: L->kind == LAYER_MAXPOOL ? "none"
								   : activation_name(L->act)));
	json_object_set_new(r, "parameters", json_integer((json_int_t)(L->n_w + L->n_b)));
	return r;
}

void model_summary(const struct model_shape *s, char *buf, size_t len)
{
	const struct model_layer *L0 = &s->layer[0];
	size_t n = (size_t)snprintf(buf, len, "%dx%dx%d", L0->in_c, L0->in_h, L0->in_w);
	for (int l = 0; l < s->n_layers && n < len; l++) {
		const struct model_layer *L = &s->layer[l];
		if (L->kind == LAYER_DENSE)
			n += (size_t)snprintf(buf + n, len - n, "%s dense %d", l ? "," : "", L->out);
		else
			n += (size_t)snprintf(buf + n, len - n, "%s %s%d %dx%dx%d", l ? "," : "",
					      layer_kind_name(L->kind), L->kernel, L->out_c,
					      L->out_h, L->out_w);
	}
}

size_t model_w_offset(const struct model_shape *s, int layer)
{
	return layer < s->n_layers ? s->layer[layer].w_off : s->n_params;
}

size_t model_b_offset(const struct model_shape *s, int layer)
{
	return s->layer[layer].b_off;
}

size_t model_param_count(const struct model_shape *s)
{
	return s->n_params;
}

int model_max_width(const struct model_shape *s)
{
	int m = 0;
	for (int l = 0; l <= s->n_layers; l++)
		if (s->sizes[l] > m)
			m = s->sizes[l];
	return m;
}

/* A layer's fans: a dense unit sees `in` inputs; a conv filter sees
 * in_c * k * k and feeds out_c * k * k (PyTorch's convention). */
static void layer_fans(const struct model_layer *L, int *fan_in, int *fan_out)
{
	if (L->kind == LAYER_CONV) {
		*fan_in = L->in_c * L->kernel * L->kernel;
		*fan_out = L->out_c * L->kernel * L->kernel;
	} else {
		*fan_in = L->in;
		*fan_out = L->out;
	}
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
		const struct model_layer *L = &s->layer[l];
		/* The output layer of a sigmoid/softmax net is initialised as the
		 * hidden activation's rule would; what matters is the fan. */
		double *w = params + L->w_off;
		int fi, fo;
		layer_fans(L, &fi, &fo);
		for (size_t i = 0; i < L->n_w; i++)
			w[i] = init_draw(init, L->act, fi, fo, rng);
		memset(params + L->b_off, 0, sizeof(double) * L->n_b);
	}
}

void model_init(const struct model_shape *s, enum init_kind init, struct td_rng *rng,
		float *params)
{
	for (int l = 0; l < s->n_layers; l++) {
		const struct model_layer *L = &s->layer[l];
		float *w = params + L->w_off;
		int fi, fo;
		layer_fans(L, &fi, &fo);
		for (size_t i = 0; i < L->n_w; i++)
			w[i] = (float)init_draw(init, L->act, fi, fo, rng);
		memset(params + L->b_off, 0, sizeof(float) * L->n_b);
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
