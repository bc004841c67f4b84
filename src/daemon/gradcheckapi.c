/*
 * gradcheckapi.c - POST /v1/gradcheck: a job's model fields plus the
 * check's own (inputs, height, channels, classes, samples, tolerance,
 * step), the work bounded before it is done, and the answer (see
 * gradcheckapi.h).
 */
#include "traind/gradcheckapi.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "traind/gradcheck.h"
#include "traind/jobcfg.h"


static int take_int(const json_t *v, const char *field, int *out, struct td_error *e)
{
	double d = json_is_number(v) ? json_number_value(v) : NAN;
	if (!(d == floor(d) && fabs(d) < 1e9))
		return td_errorf(e, TD_EINVAL, field, "%s must be an integer", field);
	*out = (int)d;
	return 0;
}

static int take_real(const json_t *v, const char *field, double max, double *out,
		     struct td_error *e)
{
	double d = json_is_number(v) ? json_number_value(v) : NAN;
	if (!(d > 0 && d <= max))
		return td_errorf(e, TD_EINVAL, field, "%s must be a number > 0 and <= %g", field, max);
	*out = d;
	return 0;
}

int gradcheckapi_run(json_t *body, json_t **out, struct td_error *e)
{
	*out = NULL;
	struct job_config cfg;
	struct gradcheck_options opt;
	struct jobcfg_limits lim;
	jobcfg_defaults(&cfg);
	cfg.n_hidden = 1;
	cfg.hidden[0] = 5;
	gradcheck_options_default(&opt);
	json_t *model = json_object();
	const char *key;
	json_t *v;
	int rc = 0;
	json_object_foreach(body, key, v) {
		if (strcmp(key, "inputs") == 0)
			rc = take_int(v, key, &opt.inputs, e);
		else if (strcmp(key, "classes") == 0)
			rc = take_int(v, key, &opt.classes, e);
		else if (strcmp(key, "samples") == 0)
			rc = take_int(v, key, &opt.samples, e);
		else if (strcmp(key, "height") == 0)
			rc = take_int(v, key, &opt.height, e);
		else if (strcmp(key, "channels") == 0)
			rc = take_int(v, key, &opt.channels, e);
		else if (strcmp(key, "tolerance") == 0)
			rc = take_real(v, key, 1, &opt.tolerance, e);
		else if (strcmp(key, "step") == 0)
			rc = take_real(v, key, 0.1, &opt.step, e);
		else
			json_object_set(model, key, v);
		if (rc)
			break;
	}
	if (!rc && (rc = jobcfg_from_json(&cfg, model, e)) && strstr(e->msg, "unknown field")) {
		size_t n = strlen(e->msg);
		snprintf(e->msg + n, sizeof(e->msg) - n,
			 "; a gradient check also takes inputs, height, channels, classes, samples, "
			 "tolerance, step");
	}
	json_decref(model);
	jobcfg_limits_default(&lim, 1);
	if (!rc)
		rc = jobcfg_finish(&cfg, &lim, e);
	/* Bound the work before doing it; gradcheck_run checks the rest. */
	struct model_shape shape;
	if (!rc && gradcheck_describe(&cfg, &opt, &shape, NULL) == 0) {
		double p = (double)model_param_count(&shape);
		double probes = p + (double)shape.sizes[0] * opt.samples; /* W, b and x */
		if (probes * opt.samples * (shape.flops / 2) > GRADCHECK_HTTP_WORK)
			rc = td_errorf(e, TD_EINVAL, cfg.n_layer_specs ? "layers" : "hidden",
				       "this check (%.0f parameters, %d samples) is more work than one "
				       "request may ask for; use fewer units or samples, or run "
				       "traind gradcheck", p, opt.samples);
	}
	struct gradcheck_result res;
	if (!rc)
		rc = gradcheck_run(&cfg, &opt, &res, e);
	if (rc)
		return rc;
	*out = gradcheck_result_json(&cfg, &res);
	return 0;
}
