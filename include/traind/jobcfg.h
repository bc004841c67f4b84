/*
 * jobcfg.h - a training job's configuration, driven by one option table.
 *
 * Every option of a job - its JSON name in the API, its --flag in the CLI
 * (underscores become dashes), its type, bounds, default and help - is a
 * row of the table in jobcfg.c. Defaults, parsing JSON, parsing flags,
 * validation, `--help`, the effective configuration echoed back and the
 * description GET /v1/job-options serves all read that table, so they
 * cannot disagree.
 */
#ifndef TRAIND_JOBCFG_H
#define TRAIND_JOBCFG_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "traind/error.h"
#include "traind/layerspec.h"
#include "traind/model.h"
#include "traind/optim.h"

#define JOBCFG_NAME_MAX 64
#define JOBCFG_SEED_MAX 9007199254740991ULL /* 2^53 - 1: exact in every JSON client */

/* Training-time augmentation: shift moves each training image by a
 * deterministic pseudo-random offset of -2..2 pixels in x and y (zeros
 * enter at the edge), different every epoch. Evaluation never augments. */
enum augment_kind { AUGMENT_NONE, AUGMENT_SHIFT };
#define AUGMENT_COUNT 2

/* Learning-rate schedule: constant, or cosine decay from learning_rate at
 * the first step to 0 after the last: lr * (1 + cos(pi * step / steps)) / 2. */
enum lr_schedule { LR_CONSTANT, LR_COSINE };
#define LR_SCHEDULE_COUNT 2

struct job_config {
	char name[JOBCFG_NAME_MAX];
	char dataset[JOBCFG_NAME_MAX];
	int n_hidden;
	int hidden[MODEL_MAX_HIDDEN];
	enum activation activation;
	enum output_kind output;
	enum loss_kind loss;
	enum optimizer optimizer;
	double learning_rate;
	double momentum;
	double l2;
	int batch_size;
	int epochs;
	int workers; /* 0 until jobcfg_finish fills in the default */
	int ranks;        /* processes on Open MPI (dist.h); 1: in-process */
	int max_restarts; /* ranks > 1: restarts from the last checkpoint after a lost rank */
	int rank_timeout; /* ranks > 1: seconds without a step that count as a lost rank */
	uint64_t seed;
	enum init_kind init;
	enum augment_kind augment;
	enum lr_schedule lr_schedule;
	int n_layer_specs; /* `layers`: 0 for a dense stack from `hidden` */
	struct layer_spec layer_specs[MODEL_MAX_SPECS];
	unsigned set_mask; /* bit i: option i was given explicitly */
};

/* Bounds that depend on the server (or the machine, for the CLI). */
struct jobcfg_limits {
	int max_workers;     /* the pool's size */
	int max_ranks;       /* 1 without MPI in the build */
	int default_workers; /* used when a job names none */
	int max_batch_size;
	int max_epochs;
	size_t max_params;   /* parameters of the model, at most */
};

void jobcfg_limits_default(struct jobcfg_limits *l, int cores);
void jobcfg_defaults(struct job_config *c);

/* Sets one option from text (the CLI): key with dashes or underscores. */
int jobcfg_set(struct job_config *c, const char *key, const char *value, struct td_error *e);

/* Sets options from a JSON object, strictly: unknown fields, wrong types
 * and out-of-range values are TD_EINVAL naming the field. */
int jobcfg_from_json(struct job_config *c, const json_t *obj, struct td_error *e);

/* Fills the defaults that depend on other options (output/loss pairing,
 * learning rate per optimizer, workers) and checks the limits. */
int jobcfg_finish(struct job_config *c, const struct jobcfg_limits *lim, struct td_error *e);

/* The effective configuration, every option present. */
json_t *jobcfg_to_json(const struct job_config *c);

/* Every option as JSON objects, in table order: name, label, type
 * ("string", "integer", "number", "enum" or "array"), default (what `{}`
 * gets under `lim`), the allowed values or min/max (max lowered by `lim`;
 * "items" and "max_items" for a list), help, and for defaults that depend
 * on something else "default_rule" (words) and, when another option picks
 * it, "default_by": {"option": ..., "values": {value of that option: default}}.
 * A default set outside this module (a job's name: its id) is null.
 * GET /v1/job-options serves it. `lim` must not be NULL. */
json_t *jobcfg_describe(const struct jobcfg_limits *lim);

/* Every option, its default and range, one line each, as `--flag`. */
void jobcfg_print_help(FILE *f);

/* Is `key` (dashes or underscores) a job option? */
int jobcfg_has_option(const char *key);

#endif
