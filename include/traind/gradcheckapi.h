/*
 * gradcheckapi.h - the request and answer of POST /v1/gradcheck: a job's
 * model fields plus the check's own options; the answer lists each
 * tensor's largest relative and absolute error and whether it passed.
 */
#ifndef TRAIND_GRADCHECKAPI_H
#define TRAIND_GRADCHECKAPI_H

#include <jansson.h>

#include "traind/error.h"

/* A gradient check costs about (parameters + inputs) * samples forward
 * passes of flops/2 multiply-adds each (parameters^2 * samples for an
 * MLP); this keeps one request to a second or so on an HTTP thread. */
#define GRADCHECK_HTTP_WORK 4e9

/* Runs the check a request body asks for into *out; a negative code with
 * e naming the field when the body is wrong or asks for too much. */
int gradcheckapi_run(json_t *body, json_t **out, struct td_error *e);

#endif
