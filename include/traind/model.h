/*
 * model.h - the shape of a multilayer perceptron and the layout of its
 * parameters in one buffer.
 *
 * A model is n_layers dense layers: sizes[0] inputs, sizes[1..n_layers-1]
 * hidden units with one activation, sizes[n_layers] outputs with the output
 * function (softmax or sigmoid) and its loss. All parameters live in one
 * contiguous array, layer by layer, each layer's weights W (sizes[l] x
 * sizes[l+1], row-major: W[i * out + j] connects input i to unit j) then its
 * biases b (sizes[l+1]). Gradients, optimizer moments, every worker's
 * gradient buffers, checkpoints and prediction snapshots use this same
 * layout, so averaging, updating and copying are each one loop or memcpy.
 */
#ifndef TRAIND_MODEL_H
#define TRAIND_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "traind/error.h"
#include "traind/rng.h"

#define MODEL_MAX_HIDDEN 8
#define MODEL_MAX_UNITS 4096
#define MODEL_MAX_LAYERS (MODEL_MAX_HIDDEN + 1)
#define MODEL_MAX_INPUTS (1 << 16)

/* Hidden-layer activations. */
enum activation { ACT_RELU, ACT_SIGMOID, ACT_TANH };

/* Output function; each goes with its loss (see model_shape_check). */
enum output_kind { OUT_SOFTMAX, OUT_SIGMOID };

/* Losses, per sample: cross-entropy -log p[label] after softmax (or the
 * binary cross-entropy summed over sigmoid outputs); mse 1/2 * sum (a - t)^2
 * with t one-hot, or t = label for a single sigmoid output. */
enum loss_kind { LOSS_CROSS_ENTROPY, LOSS_MSE };

/* Weight initialisation; biases start at zero. auto = he for relu, xavier
 * otherwise. he: N(0, 2/fan_in); xavier: N(0, 2/(fan_in+fan_out));
 * uniform: U(-r, r), r = sqrt(6/(fan_in+fan_out)). */
enum init_kind { INIT_AUTO, INIT_XAVIER, INIT_HE, INIT_UNIFORM };

struct model_shape {
	int n_layers;                    /* weight layers: hidden + 1 */
	int sizes[MODEL_MAX_LAYERS + 1]; /* sizes[0] inputs ... sizes[n_layers] outputs */
	enum activation act;
	enum output_kind out;
	enum loss_kind loss;
};

/* Builds a shape and validates it (sizes, depth, output/loss pairing). */
int model_shape_make(struct model_shape *s, int inputs, const int *hidden, int n_hidden,
		     int outputs, enum activation act, enum output_kind out, enum loss_kind loss,
		     struct td_error *e);

size_t model_param_count(const struct model_shape *s);
size_t model_w_offset(const struct model_shape *s, int layer); /* W of layer */
size_t model_b_offset(const struct model_shape *s, int layer); /* b of layer */
int model_max_width(const struct model_shape *s);              /* widest layer */

/* Fills params (model_param_count floats) from rng. */
void model_init(const struct model_shape *s, enum init_kind init, struct td_rng *rng,
		float *params);

/* Same in double precision, for the gradient check. */
void model_init_d(const struct model_shape *s, enum init_kind init, struct td_rng *rng,
		  double *params);

/* 64-bit FNV-1a of a float buffer as 16 hex digits: two runs with equal
 * digests have bit-identical weights. */
void model_digest(const float *params, size_t n, char hex[17]);

/* Enum names in enum order: the API's, the CLI's and the checkpoints'. */
#define ACT_COUNT 3
#define OUT_COUNT 2
#define LOSS_COUNT 2
#define INIT_COUNT 4
extern const char *const activation_names[ACT_COUNT];
extern const char *const output_names[OUT_COUNT];
extern const char *const loss_names[LOSS_COUNT];
extern const char *const init_names[INIT_COUNT];

const char *activation_name(enum activation a);
const char *output_name(enum output_kind o);
const char *loss_name(enum loss_kind l);
const char *init_name(enum init_kind i);

#endif
