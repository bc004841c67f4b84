/*
 * explainapi.h - the request of POST /v1/explain: a job's model fields,
 * plus which training sample(s) of its data set ("sample", "count") or an
 * explicit small input ("input", "labels", "classes"), and optionally the
 * starting "weights"; the answer is explain_to_json's trace.
 */
#ifndef TRAIND_EXPLAINAPI_H
#define TRAIND_EXPLAINAPI_H

#include <jansson.h>

#include "traind/dataset.h"
#include "traind/error.h"

/* Work one request may ask for: gradient entries checked x the cost of
 * the four forward passes of each (multiply-adds). */
#define EXPLAINAPI_MAX_WORK 2e9

/* Runs the explanation a request body asks for into *out; a negative code
 * with e naming the field when the body is wrong. */
int explainapi_run(const json_t *body, struct dataset_registry *reg, json_t **out,
		   struct td_error *e);

#endif
