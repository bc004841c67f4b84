/*
 * gradcheck.h - the numerical gradient check, as a test and as a feature.
 *
 * For a small model and a few random samples it compares, parameter by
 * parameter, the analytic gradient of the objective (mean loss plus the L2
 * term) computed by the training code (nn.h in double precision) with
 * central differences (fourth order, see gradcheck.c). It reports, for every
 * tensor (W1, b1, W2, ..., numbered by layer row; a pool has none) and for
 * the gradient of the input ("x", last), the largest relative error
 * |analytic - numeric| / max(|analytic|, |numeric|, GRADCHECK_FLOOR).
 */
#ifndef TRAIND_GRADCHECK_H
#define TRAIND_GRADCHECK_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "traind/error.h"
#include "traind/jobcfg.h"
#include "traind/model.h"

#define GRADCHECK_TOLERANCE 1e-6
#define GRADCHECK_FLOOR 1e-6       /* magnitudes below this compare absolutely */
#define GRADCHECK_MAX_PARAMS 20000 /* bounds the work one check may ask for */
#define GRADCHECK_MAX_INPUTS 1024
#define GRADCHECK_MAX_SAMPLES 64

struct gradcheck_options {
	int inputs;  /* features per sample: the input's width */
	int height;  /* the input's height (1: a vector) */
	int channels; /* the input's channels */
	int classes; /* output classes (a sigmoid output with 2 classes has 1 unit) */
	int samples; /* random samples in the batch */
	double step; /* h */
	double tolerance;
};

struct gradcheck_tensor {
	char name[16]; /* "W1", "b1", ... */
	size_t count;
	double max_rel_error;
	double max_abs_error;
	size_t worst; /* index within the tensor of the largest relative error */
};

struct gradcheck_result {
	struct model_shape shape;
	size_t n_params;
	int n_tensors;
	struct gradcheck_tensor tensor[2 * MODEL_MAX_LAYERS + 1];
	double max_rel_error;
	double tolerance;
	int passed;
};

void gradcheck_options_default(struct gradcheck_options *o);

/* The model a check of cfg on opt's problem checks (opt validated too). */
int gradcheck_describe(const struct job_config *cfg, const struct gradcheck_options *opt,
		       struct model_shape *s, struct td_error *e);

/* Runs the check for the model described by cfg (hidden, activation,
 * output, loss, l2, init, seed) on opt's random problem. */
int gradcheck_run(const struct job_config *cfg, const struct gradcheck_options *opt,
		  struct gradcheck_result *res, struct td_error *e);

/* The check's two halves for a caller with its own problem (explain.c):
 * dJ/dw[i] by the same central difference of the same objective, on the n
 * samples x (n x sizes[0]) with labels y (ws holds n rows; w is restored),
 * and the relative error the check reports for an analytic value. */
struct nn_ws_d;
double gradcheck_numeric(const struct model_shape *s, struct nn_ws_d *ws, const double *x,
			 const uint8_t *y, int n, double l2, double *w, size_t i, double h);
double gradcheck_rel_error(double analytic, double numeric);

/* The result as JSON: layers, activation, output, loss, parameters, each
 * tensor's count and largest relative and absolute errors, the largest
 * relative error, the tolerance and "passed" (the CLI's --json and POST
 * /v1/gradcheck print the same). */
json_t *gradcheck_result_json(const struct job_config *cfg, const struct gradcheck_result *res);

#endif
