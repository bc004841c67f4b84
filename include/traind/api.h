/*
 * api.h - the handlers of the HTTP API v1 (docs/api.md) and the one table
 * that routes to them.
 *
 * The handlers translate between HTTP and the job manager: they validate
 * query parameters and bodies strictly (an unknown field or parameter is a
 * 400 naming it), call jobs.h, and turn TD_E* codes into statuses with
 * td_http_status. Predictions decode and score on the HTTP thread that
 * received them, against a snapshot that training never blocks.
 */
#ifndef TRAIND_API_H
#define TRAIND_API_H

#include "traind/dataset.h"
#include "traind/error.h"
#include "traind/http.h"
#include "traind/jobs.h"
#include "traind/srvconf.h"

struct api;

/* The handlers' shared state; `c`, `jobs` and `registry` must outlive it. */
int api_create(const struct srvconf *c, struct jobs *jobs, struct dataset_registry *registry,
	       struct api **out, struct td_error *e);
void api_free(struct api *a);

/* The route table; pass the api as http_start's `app`. */
const struct http_route *api_routes(void);

#endif
