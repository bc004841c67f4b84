/*
 * oip.h - the Open Inference Protocol (KServe v2) over HTTP/REST, as
 * Triton, KServe, MLServer and their clients (tritonclient.http, the kserve
 * SDK, perf_analyzer) speak it, with its binary tensor extension.
 *
 *   GET  /v2                              server metadata
 *   GET  /v2/health/live, /v2/health/ready
 *   GET  /v2/models/{name}[/versions/{v}]          model metadata
 *   GET  /v2/models/{name}[/versions/{v}]/ready
 *   POST /v2/models/{name}[/versions/{v}]/infer
 *
 * A model is what /v1/models serves (a job id, a unique job name or
 * "latest"); its version is the training step of the weights served now.
 * It has one input, "input" (FP32 or UINT8, shaped [N, features],
 * [N, height, width] or [N, 1, height, width]) and two outputs,
 * "probabilities" (FP32 [N, classes]) and "label" (INT64 [N]).
 *
 * The handlers are called by api.c's route table with the job manager;
 * errors are {"error": "...", "field": "..."} with 400, 404, 413 or 415.
 */
#ifndef TRAIND_OIP_H
#define TRAIND_OIP_H

#include <jansson.h>
#include <stddef.h>

#include "traind/error.h"
#include "traind/http.h"
#include "traind/jobs.h"

/* The one input and the two outputs. */
#define OIP_INPUT "input"
#define OIP_OUT_PROBS "probabilities"
#define OIP_OUT_LABEL "label"
#define OIP_HEADER_LENGTH "Inference-Header-Content-Length"

/* An infer request read (oip_parse.c). */
struct oip_request {
	json_t *root;         /* the JSON header (NULL when read in one pass) */
	const char *id;       /* NULL when the request has none; into root or id_buf */
	char id_buf[128];     /* the id, when the header was read in one pass */
	double range;         /* pixel_range as given or implied by the datatype */
	int mnist;            /* preprocess "mnist" (applied to x) */
	int binary_all;       /* parameters.binary_data_output */
	int n;                /* instances */
	float *x;             /* n * width * height inputs in [0, 1] */
	/* the outputs to answer, in order: 0 probabilities, 1 label */
	int n_out, out[2], out_binary[2];
};

/* Reads `len` bytes of body for a model of width x height inputs;
 * `header_length` is the Inference-Header-Content-Length header or NULL.
 * TD_EINVAL naming the field at fault (e->field: "inputs[0].shape", ...),
 * TD_ETOOBIG (over max_instances, or a header of too many JSON values),
 * TD_ENOMEM. Call oip_request_free whatever it returned. */
int oip_parse_infer(const char *body, size_t len, const char *header_length, int width,
		    int height, int max_instances, struct oip_request *q, struct td_error *e);
void oip_request_free(struct oip_request *q);

void oip_server_metadata(struct http_request *r);
void oip_health_live(struct http_request *r);
void oip_health_ready(struct http_request *r);

/* GET /v2/models/{name}, with r->id the name. */
void oip_model_metadata(struct http_request *r, struct jobs *jobs);
void oip_model_ready(struct http_request *r, struct jobs *jobs);
void oip_infer(struct http_request *r, struct jobs *jobs, int max_instances);
/* GET or POST /v2/models/{name}/versions/ *: r->rest is "V", "V/ready" or
 * "V/infer"; V must be the version served now. */
void oip_versioned(struct http_request *r, struct jobs *jobs, int max_instances);

#endif
