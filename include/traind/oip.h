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

#include "traind/http.h"
#include "traind/jobs.h"

/* The one input and the two outputs. */
#define OIP_INPUT "input"
#define OIP_OUT_PROBS "probabilities"
#define OIP_OUT_LABEL "label"

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
