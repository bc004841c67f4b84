/*
 * model.h - the one description of a model: its layer list, the layout of
 * its parameters in one buffer, initialisation and the weight digest.
 *
 * model_describe() is the only place that works out a model from a job's
 * configuration and the input it trains on (the trainer, the job manager,
 * the API's model view, the gradient check, checkpoints and the server's
 * parameter limit all call it). The result is a layer list: each row has
 * its kind, its input and output shapes (channels x height x width; a dense
 * layer's are C x 1 x 1), its parameter offsets and its activation. Every
 * layer today is dense; a convolution or a pooling layer is a new kind of
 * row with its own shapes and offsets, not a special case elsewhere:
 * LAYER_CONV (filters x k x k over a padded input, with a stride) and
 * LAYER_MAXPOOL (k x k windows, a stride, no parameters, no activation)
 * are built from the job field `layers` (see layerspec.h).
 *
 * The rows chain: layer[l].out == layer[l+1].in, and sizes[l] is the
 * flattened width between layers (sizes[0] inputs ... sizes[n_layers]
 * outputs), which is what the kernels walk. The last layer is the output
 * layer: one unit per class with the output function (softmax or sigmoid)
 * and its loss - except a sigmoid output on two classes, which gets one
 * unit whose target is the label (model_describe's rule, nowhere else).
 *
 * All parameters live in one contiguous array, layer by layer, each layer's
 * weights W then its biases b. A dense layer's W is in x out, row-major:
 * W[i * out + j] connects input i to unit j. Gradients, optimizer moments,
 * every worker's gradient buffers, checkpoints and prediction snapshots use
 * this same layout, so averaging, updating and copying are one loop each.
 * A convolution's W is [filters][in_channels][k][k] row-major and its b
 * [filters] - PyTorch's Conv2d layout; a map's activations are (channel,
 * row, column) row-major, so a dense layer after a map reads it flattened
 * as torch.nn.Flatten does (its W is still in x out, as above).
 */
#ifndef TRAIND_MODEL_H
#define TRAIND_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "traind/error.h"
#include "traind/rng.h"

#define MODEL_MAX_HIDDEN 8
#define MODEL_MAX_UNITS 4096
#define MODEL_MAX_SPECS 16 /* rows of the job field `layers` */
#define MODEL_MAX_LAYERS (MODEL_MAX_SPECS + 1)
#define MODEL_MAX_INPUTS (1 << 16)
#define MODEL_MAX_WIDTH (1 << 17)    /* values one layer outputs per sample */
#define MODEL_MAX_FLOPS 2e10         /* flops of one forward pass of one sample */
#define MODEL_MAX_COL (1 << 21)      /* a conv's im2col values per sample (k*k*in_c x positions) */
#define MODEL_MAX_ACTS (1 << 19)     /* values all layers output per sample, together */

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

/* The kinds of layer row. */
enum layer_kind { LAYER_DENSE, LAYER_CONV, LAYER_MAXPOOL, LAYER_KIND_COUNT };

struct model_layer {
	enum layer_kind kind;
	int in_c, in_h, in_w;    /* input shape: channels x height x width */
	int out_c, out_h, out_w; /* output shape */
	int in, out;             /* flattened: in_c * in_h * in_w, out_c * out_h * out_w */
	size_t w_off, n_w;       /* weights: offset in the parameter buffer, count */
	size_t b_off, n_b;       /* biases */
	int is_output;           /* the output layer: shape.out applies, not act */
	enum activation act;     /* hidden layers' activation (none for maxpool) */
	int kernel, stride, pad; /* conv and maxpool: window k x k, stride, zero padding */
};

struct model_shape {
	int n_layers;                    /* rows, the output layer included */
	struct model_layer layer[MODEL_MAX_LAYERS];
	int sizes[MODEL_MAX_LAYERS + 1]; /* flattened widths: sizes[l] = layer[l].in */
	enum activation act;
	enum output_kind out;
	enum loss_kind loss;
	int classes;                     /* classes of the data; outputs may be 1 (see above) */
	size_t n_params;
	double flops;                    /* multiply-adds x 2 of one forward pass */
};

/* What a model is trained on: an image of width x height x channels and
 * the number of classes. */
struct model_input {
	int width, height, channels;
	int classes;
};

/* The model a job configuration describes for that input: the layer
 * list, with the output rule above - from `hidden` (a dense stack) or
 * from `layers` (any rows; shapes checked here, errors naming the field,
 * e.g. "layers[2].kernel", and the input size at that layer). With
 * `max_params` nonzero, a model with more parameters is an error naming
 * the field "hidden" (or "layers"). */
struct job_config;
int model_describe(struct model_shape *s, const struct job_config *cfg,
		   const struct model_input *in, size_t max_params, struct td_error *e);

/* The same for a data set's images and classes (one channel). */
struct dataset;
int model_describe_dataset(struct model_shape *s, const struct job_config *cfg,
			   const struct dataset *ds, size_t max_params, struct td_error *e);

/* The lower-level builder model_describe uses, also for checkpoints,
 * which store the widths themselves: a dense stack inputs - hidden... -
 * outputs, validated (sizes, depth, output/loss pairing). */
int model_shape_make(struct model_shape *s, int inputs, const int *hidden, int n_hidden,
		     int outputs, enum activation act, enum output_kind out, enum loss_kind loss,
		     struct td_error *e);

/* Number of classes a shape predicts (2 for a one-unit sigmoid output). */
int model_classes(const struct model_shape *s);
/* The name of a layer kind ("dense", "conv", "maxpool"). */
const char *layer_kind_name(enum layer_kind k);

/* Row l as JSON: type, input and output [c, h, w], activation (the output
 * function on the last row; none on a pool), parameters, and for conv and
 * maxpool their window: {"kernel"|"size", "stride"[, "padding"]}. The job
 * view, the model view and checkpoints show this one form. */
typedef struct json_t json_t;
json_t *model_layer_json(const struct model_shape *s, int l);
/* "1x28x28 conv 32x28x28, maxpool 32x14x14, dense 10": for people. */
void model_summary(const struct model_shape *s, char *buf, size_t len);

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
