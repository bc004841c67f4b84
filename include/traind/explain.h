/*
 * explain.h - backprop step by step: one forward pass, the loss, the
 * backward pass and the update of one training step of a small network,
 * as an ordered list of named quantities with their formulas.
 *
 * Every step names a quantity (a0, z1, a1, ..., y, J, delta2, dW2, db2,
 * da1, delta1, ..., W1', b1', ...), says in words and in symbols how it is
 * formed - the formula written for the configured activation, output
 * function, loss and optimizer - and carries its shape, the shapes it came
 * from and its values. The values are computed by the training code's own
 * kernels in double precision (nn.h's _d functions), one kernel call per
 * step, so the trace is what training does, not a second implementation.
 * Every gradient also carries its numerical-check error: the entries
 * (all of them, or EXPLAIN_MAX_CHECKED spread evenly over a larger tensor)
 * compared with the gradient check's central differences (gradcheck.h).
 *
 * Gradients here are of the objective the optimizer follows, J = the mean
 * loss over the B samples plus l2/2 times the sum of the squared weights,
 * so dW is (a^T . delta) / B + l2 * W; the deltas are per sample.
 */
#ifndef TRAIND_EXPLAIN_H
#define TRAIND_EXPLAIN_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "traind/error.h"
#include "traind/jobcfg.h"
#include "traind/model.h"

#define EXPLAIN_MAX_PARAMS 250000  /* the default 784-256-10 fits */
#define EXPLAIN_MAX_SAMPLES 16
#define EXPLAIN_MAX_CHECKED 32     /* entries of one gradient checked numerically */
#define EXPLAIN_MAX_STEPS (10 * MODEL_MAX_LAYERS + 4)
#define EXPLAIN_JSON_VALUES 4096   /* values of one step in the JSON, at most */

enum explain_phase { EXPLAIN_FORWARD, EXPLAIN_LOSS, EXPLAIN_BACKWARD, EXPLAIN_UPDATE };

struct explain_step {
	enum explain_phase phase;
	char name[16];     /* "z1", "delta2", "dW2", "W2'" */
	char words[240];   /* what it is, in words */
	char formula[320]; /* how it is formed, in symbols */
	char from[200];    /* the shapes it came from: "a1 (4x4) . W2 (4x1) + b2 (1x1)" */
	int rows, cols;
	double *values;    /* rows x cols, row-major */
	int is_gradient;
	size_t checked;     /* entries compared with central differences (gradients) */
	double check_error; /* the largest relative error among them; NaN if none */
};

struct explain_trace {
	struct model_shape shape;
	struct job_config cfg;
	int batch;         /* samples B */
	double loss;       /* J at the starting weights */
	double max_check_error;
	int n_steps;
	struct explain_step step[EXPLAIN_MAX_STEPS];
};

/* The model an explain of cfg on `in` (inputs = width x height x channels)
 * traces, with its bounds: at most EXPLAIN_MAX_PARAMS parameters (field
 * "hidden"), 1..EXPLAIN_MAX_SAMPLES samples ("input"). */
int explain_describe(const struct job_config *cfg, const struct model_input *in, int n,
		     struct model_shape *s, struct td_error *e);

/* Traces one step of cfg's model on the n samples x (n x inputs values,
 * row-major) with labels y (each < in->classes). weights (n_params values
 * in model.h's layout) are the starting point; NULL means the weights a
 * job with cfg's seed starts from. Free with explain_free. */
int explain_run(const struct job_config *cfg, const struct model_input *in, const double *x,
		const uint8_t *y, int n, const double *weights, struct explain_trace *tr,
		struct td_error *e);
void explain_free(struct explain_trace *tr);

/* Training samples first..first+n-1 of a data set as an explanation's
 * input: x (n x features, scaled as training scales pixels), labels and
 * the input description; TD_EINVAL naming "sample" when out of range. */
struct dataset;
int explain_dataset_samples(const struct dataset *ds, long first, int n, double *x,
			    uint8_t *y, struct model_input *in, struct td_error *e);

const char *explain_phase_name(enum explain_phase p);
/* The step called name, or NULL. */
const struct explain_step *explain_find(const struct explain_trace *tr, const char *name);

/* The trace as a worked example, for people. */
void explain_print(FILE *f, const struct explain_trace *tr);
/* The trace as JSON: {"layers", "activation", ..., "steps": [{"name", "phase",
 * "words", "formula", "from", "shape": [rows, cols], "values": [[...], ...],
 * "truncated", "check_error", "checked"}, ...]}; each step's values are cut
 * after EXPLAIN_JSON_VALUES (then "truncated" is true). */
json_t *explain_to_json(const struct explain_trace *tr);

#endif
