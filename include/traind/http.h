/*
 * http.h - the HTTP layer: libmicrohttpd, one route table, bodies, auth,
 * static files, request logs and the counters /metrics reports.
 *
 * A route is a row: the methods it answers, a path pattern, the query
 * parameters it accepts and a handler. Patterns are literal segments,
 * `{id}` (one segment without ':'), `{id}:action` (a segment ending in
 * ":action") and a final `*` (the rest of the path). Before a handler
 * runs, the layer has answered 404 for an unknown path, 405 with `Allow`
 * for a known path with another method, 400 for an unknown query
 * parameter, 401 for a POST or DELETE without the configured bearer token,
 * 413 for a body over the limit and 503 when the bytes buffered for all
 * requests together would pass their budget. A handler sees a complete,
 * NUL-terminated body and answers with exactly one http_reply_* call.
 */
#ifndef TRAIND_HTTP_H
#define TRAIND_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "traind/error.h"
#include "traind/srvconf.h"

enum http_method {
	HTTP_GET = 1,    /* HEAD is answered as GET without the body */
	HTTP_POST = 2,
	HTTP_DELETE = 4,
};

#define HTTP_ID_MAX 128

struct http_server;
struct http_request;

struct http_route {
	unsigned methods;      /* HTTP_GET | ... */
	const char *pattern;   /* "/v1/jobs/{id}:pause" */
	const char *query;     /* accepted query parameters, comma-separated; NULL none */
	void (*handler)(struct http_request *r);
};

/* What a handler reads. The strings live until the request completes. */
struct http_request {
	enum http_method method;
	const char *path;       /* URL-decoded, without the query */
	char id[HTTP_ID_MAX];   /* what {id} matched, or "" */
	const char *rest;       /* what a trailing * matched, or "" */
	const char *body;       /* NUL-terminated; "" when there is none */
	size_t body_len;
	void *app;              /* given to http_start */
	struct http_server *server;
	struct http_request_priv *priv;
};

/* Starts listening on c->listen with c->http_threads threads and serves
 * `routes` (terminated by a row with a NULL pattern). */
int http_start(const struct srvconf *c, const struct http_route *routes, void *app,
	       struct http_server **out, struct td_error *e);
/* The port it listens on (the one chosen when the configuration said 0). */
int http_port(const struct http_server *s);
/* From now on every new connection is closed at once, unserved; the
 * connections open go on being served until http_stop. */
void http_quiesce(struct http_server *s);
/* Waits for requests in flight, closes everything and frees. */
void http_stop(struct http_server *s);

/* A request header or query parameter, or NULL. */
const char *http_header(struct http_request *r, const char *name);
const char *http_query(struct http_request *r, const char *name);
/* The media type of the body, lowercase, parameters stripped ("" when
 * there is no Content-Type). */
const char *http_media_type(struct http_request *r);

/* Replies. Each returns 0, or TD_ENOMEM after replying 500 itself. */
int http_reply_json(struct http_request *r, int status, json_t *body /* stolen */);
/* The same, compact, with reals to `digits` significant digits (7 is
 * all a float holds). */
int http_reply_json_digits(struct http_request *r, int status, json_t *body, int digits);
/* {"error": e->msg, "field": e->field} with td_http_status(code). */
int http_reply_error(struct http_request *r, int code, const struct td_error *e);
int http_reply_errorf(struct http_request *r, int code, const char *field, const char *fmt,
		      ...) __attribute__((format(printf, 4, 5)));
int http_reply_buffer(struct http_request *r, int status, const char *content_type,
		      char *buf /* malloc'd, stolen */, size_t len);
int http_reply_empty(struct http_request *r, int status);
/* Adds a header to the reply already made. */
void http_set_header(struct http_request *r, const char *name, const char *value);

/* The handler for GET / (web_dir/index.html) and GET /static/ * (the
 * rest of the path under web_dir): regular files only, never outside
 * web_dir, symbolic links included. */
void http_serve_static(struct http_request *r);

/* For http_static.c: a reply of `size` bytes read from fd (taken), and
 * the realpath of web_dir ("" when it does not exist) and web_dir as set. */
int http_reply_fd(struct http_request *r, int status, const char *content_type, int fd,
		  size_t size);
const char *http_web_root(const struct http_server *s);
const char *http_web_dir(const struct http_server *s);

/* Counters for /metrics (atomics; any thread). */
void http_observe_predict(struct http_server *s, double seconds, long instances);
/* Writes traind_http_requests_total, traind_predict_duration_seconds,
 * traind_http_body_bytes (and its budget), traind_predictions_total and
 * the connection guard's gauges and counters (connguard.h) in Prometheus
 * text format 0.0.4. */
void http_write_metrics(struct http_server *s, FILE *f);

/* Does `path` match `pattern` (a route table row's)? Fills r->id and
 * r->rest when it does (http_route.c). */
int http_route_match(const char *pattern, const char *path, struct http_request *r);

#endif
