/*
 * explainapi.c - POST /v1/explain's body into an explanation (see
 * explainapi.h and explain.h). Every field is checked and named when
 * wrong; the work is bounded before it is done.
 */
#include "traind/explainapi.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "traind/explain.h"
#include "traind/jobcfg.h"

struct request {
	struct job_config cfg;
	long sample, count;
	int has_sample;
	const json_t *input, *labels, *weights;
	int classes;
};

static int take_count(const json_t *v, const char *field, long lo, long hi, long *out,
		      struct td_error *e)
{
	double d = json_is_number(v) ? json_number_value(v) : NAN;
	if (!(d == floor(d) && d >= lo && d <= hi))
		return td_errorf(e, TD_EINVAL, field, "%s must be an integer from %ld to %ld", field,
				 lo, hi);
	*out = (long)d;
	return 0;
}

/* Splits the explain fields from the model's and reads the model's. */
static int read_request(const json_t *body, struct request *q, struct td_error *e)
{
	memset(q, 0, sizeof(*q));
	q->count = 1;
	q->classes = 2;
	jobcfg_defaults(&q->cfg);
	json_t *model = json_object();
	const char *key;
	json_t *v;
	int rc = 0;
	long classes = 2;
	json_object_foreach((json_t *)body, key, v) {
		if (strcmp(key, "sample") == 0) {
			rc = take_count(v, key, 0, INT_MAX, &q->sample, e);
			q->has_sample = 1;
		} else if (strcmp(key, "count") == 0) {
			rc = take_count(v, key, 1, EXPLAIN_MAX_SAMPLES, &q->count, e);
		} else if (strcmp(key, "classes") == 0) {
			rc = take_count(v, key, 2, 256, &classes, e);
		} else if (strcmp(key, "input") == 0) {
			q->input = v;
		} else if (strcmp(key, "labels") == 0) {
			q->labels = v;
		} else if (strcmp(key, "weights") == 0) {
			q->weights = v;
		} else {
			json_object_set(model, key, v);
		}
		if (rc)
			break;
	}
	q->classes = (int)classes;
	if (!rc && q->input && q->has_sample)
		rc = td_errorf(e, TD_EINVAL, "input", "give either sample (a training sample of "
			       "the data set) or input (explicit values), not both");
	if (!rc && (rc = jobcfg_from_json(&q->cfg, model, e)) && strstr(e->msg, "unknown field")) {
		size_t n = strlen(e->msg);
		snprintf(e->msg + n, sizeof(e->msg) - n, "; an explanation also takes sample, count, "
			 "input, labels, classes, weights");
	}
	json_decref(model);
	struct jobcfg_limits lim;
	jobcfg_limits_default(&lim, 1);
	return rc ? rc : jobcfg_finish(&q->cfg, &lim, e);
}

/* "input": [[...], ...] (or one row [...]) and "labels": [...]. */
static int read_input(const struct request *q, double *x, uint8_t *y, int *n,
		      struct model_input *in, struct td_error *e)
{
	const json_t *rows = q->input;
	int one_row = json_is_array(rows) && json_array_size(rows) &&
		      json_is_number(json_array_get(rows, 0));
	size_t R = one_row ? 1 : json_array_size(rows);
	if (!json_is_array(rows) || R < 1 || R > EXPLAIN_MAX_SAMPLES)
		return td_errorf(e, TD_EINVAL, "input", "input must be an array of 1 to %d rows of "
				 "numbers (or one row)", EXPLAIN_MAX_SAMPLES);
	size_t C = one_row ? json_array_size(rows) : json_array_size(json_array_get(rows, 0));
	if (C < 1 || C > 4096)
		return td_errorf(e, TD_EINVAL, "input", "each input row needs 1 to 4096 numbers");
	for (size_t r = 0; r < R; r++) {
		const json_t *row = one_row ? rows : json_array_get(rows, r);
		if (!json_is_array(row) || json_array_size(row) != C)
			return td_errorf(e, TD_EINVAL, "input", "input row %zu must be an array of %zu "
					 "numbers, like row 0", r, C);
		for (size_t c = 0; c < C; c++) {
			const json_t *v = json_array_get(row, c);
			if (!json_is_number(v))
				return td_errorf(e, TD_EINVAL, "input", "input[%zu][%zu] must be a "
						 "number", r, c);
			x[r * C + c] = json_number_value(v);
		}
	}
	if (!json_is_array(q->labels) || json_array_size(q->labels) != R)
		return td_errorf(e, TD_EINVAL, "labels", "labels must be an array of %zu classes, "
				 "one per input row", R);
	for (size_t r = 0; r < R; r++) {
		double d = json_number_value(json_array_get(q->labels, r));
		if (!json_is_number(json_array_get(q->labels, r)) || d != floor(d) || d < 0 ||
		    d >= q->classes)
			return td_errorf(e, TD_EINVAL, "labels", "labels[%zu] must be a class from 0 "
					 "to %d (set classes for more)", r, q->classes - 1);
		y[r] = (uint8_t)d;
	}
	*n = (int)R;
	*in = (struct model_input){.width = (int)C, .height = 1, .channels = 1,
				   .classes = q->classes};
	return 0;
}

static int read_weights(const json_t *v, size_t P, double **out, struct td_error *e)
{
	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_array(v) || json_array_size(v) != P)
		return td_errorf(e, TD_EINVAL, "weights", "weights must be an array of the model's "
				 "%zu parameters (each layer's W row by row, then its b)", P);
	double *w = malloc(sizeof(double) * P);
	if (!w)
		return td_errorf(e, TD_ENOMEM, "", "out of memory");
	for (size_t i = 0; i < P; i++) {
		const json_t *x = json_array_get(v, i);
		if (!json_is_number(x)) {
			free(w);
			return td_errorf(e, TD_EINVAL, "weights", "weights[%zu] must be a number", i);
		}
		w[i] = json_number_value(x);
	}
	*out = w;
	return 0;
}

/* Checked entries x four forward passes over n samples. */
static int bound_work(const struct model_shape *s, int n, struct td_error *e)
{
	double checks = 0;
	for (int l = 0; l < s->n_layers; l++)
		checks += fmin((double)s->layer[l].n_w, EXPLAIN_MAX_CHECKED) +
			  fmin((double)s->layer[l].n_b, EXPLAIN_MAX_CHECKED);
	double work = checks * 4 * (double)s->n_params * n;
	if (work > EXPLAINAPI_MAX_WORK)
		return td_errorf(e, TD_EINVAL, "count", "this explanation (%zu parameters, %d "
				 "samples) is more work than one request may ask for; explain "
				 "fewer samples, or run traind explain", s->n_params, n);
	return 0;
}

int explainapi_run(const json_t *body, struct dataset_registry *reg, json_t **out,
		   struct td_error *e)
{
	struct request q;
	*out = NULL;
	int rc = read_request(body, &q, e);
	if (rc)
		return rc;
	double *x = malloc(sizeof(double) * EXPLAIN_MAX_SAMPLES * MODEL_MAX_INPUTS), *w = NULL;
	uint8_t y[EXPLAIN_MAX_SAMPLES];
	struct explain_trace *tr = malloc(sizeof(*tr));
	struct model_input in;
	struct model_shape shape;
	const struct dataset *ds;
	int n = 0;
	if (!x || !tr) {
		rc = td_errorf(e, TD_ENOMEM, "", "out of memory");
		goto done;
	}
	if (q.input)
		rc = read_input(&q, x, y, &n, &in, e);
	else if (q.labels)
		rc = td_errorf(e, TD_EINVAL, "labels", "labels go with input; a data set's samples "
			       "bring their own");
	else if (!(rc = registry_get(reg, q.cfg.dataset, &ds, e)))
		rc = explain_dataset_samples(ds, q.sample, (int)q.count, x, y, &in, e);
	if (!rc)
		rc = explain_describe(&q.cfg, &in, n ? n : (int)q.count, &shape, e);
	if (!n)
		n = (int)q.count;
	if (!rc)
		rc = bound_work(&shape, n, e);
	if (!rc)
		rc = read_weights(q.weights, shape.n_params, &w, e);
	if (!rc && !(rc = explain_run(&q.cfg, &in, x, y, n, w, tr, e))) {
		*out = explain_to_json(tr);
		explain_free(tr);
		if (!*out)
			rc = td_errorf(e, TD_ENOMEM, "", "out of memory");
	}
done:
	free(x);
	free(w);
	free(tr);
	return rc;
}
