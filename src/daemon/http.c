/*
 * http.c - the HTTP layer on libmicrohttpd (see http.h).
 *
 * Threads
 * -------
 * We open the listening socket ourselves (so a busy port is an error with
 * its errno) and hand it to one MHD daemon that runs `http_threads` polling
 * threads (MHD_OPTION_THREAD_POOL_SIZE), each with its own epoll set (or
 * select where epoll is missing) over its share of the connections. Every
 * callback below - the access handler, the completion callback, the
 * unescaper - runs on one of those threads; a route handler runs there too,
 * so a prediction is computed on the thread that received it and blocks
 * only the connections of that thread. Training never runs here: the job
 * manager's runner threads own it (jobs.c).
 *
 * Per-request state lives in *req_cls (struct http_request_priv): created
 * on the first call for a request, it holds the route, the body buffer
 * and the reply, and is freed in the completion callback, which MHD calls
 * exactly once per request whatever happened to the connection. Nothing
 * else is shared between threads but the counters (C11 atomics) and the
 * body budget (an atomic byte count), so the layer takes no locks.
 *
 * Memory: a body is buffered up to body_limit bytes, growing by doubling;
 * the bytes reserved for all bodies together are capped at `budget`, so a
 * flood of slow uploads is answered 503 instead of exhausting memory. A
 * request whose Content-Length is over the limit is answered 413 before
 * any of its body is read.
 *
 * Connections: the guard (connguard.c) is told of every connection's
 * opening, request line, headers, body and close through MHD's accept
 * policy, connection notification, URI log and access callbacks, and
 * refuses or closes the ones over its limits or deadlines (those callbacks
 * are in connguard_mhd.c). Static files are served by http_static.c.
 */
#include "traind/http.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "traind/connguard.h" /* after microhttpd.h: the guard's MHD callbacks */

#ifndef TRAIND_DOCDIR
#define TRAIND_DOCDIR "/usr/local/share/doc/traind"
#endif

/* MHD's per-connection pool holds the headers and the read buffer, and a
 * body reaches us in pieces the size of what is left of it. It is also
 * zeroed whole for every request: a 256 KiB pool was 7% of a single-image
 * predict in perf, 64 KiB still 5% of a v2 binary infer. 32 KiB reads a
 * batch of predictions (about 3 KiB an image) in pieces of over ten KiB -
 * a 1024-image body in a few hundred calls, next to milliseconds of
 * parsing - and holds headers of up to about 16 KiB. */
#define CONNECTION_MEMORY (32 * 1024)
#define MAX_STATUS 600

/* Upper bounds of the predict latency histogram, in seconds. */
static const double predict_buckets[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
};
#define N_BUCKETS (sizeof(predict_buckets) / sizeof(predict_buckets[0]))

struct http_server {
	struct MHD_Daemon *daemon;
	int listen_fd;       /* closed by MHD_stop_daemon */
	/* Set by http_quiesce: every connection accepted after it is closed at
	 * once (accept_policy). Not MHD_quiesce_daemon: on an epoll daemon
	 * with worker threads it races with the workers taking the listening
	 * socket out of their epoll sets and aborts the process now and then
	 * ("Failed to remove listen FD from epoll set", libmicrohttpd 0.9.75),
	 * and a worker may still accept one connection after it returns. */
	atomic_int closing;
	int port;
	const struct http_route *routes;
	void *app;
	size_t body_limit;
	size_t budget;               /* bytes all buffered bodies may reserve together */
	atomic_size_t buffered;      /* bytes reserved now */
	char token[SRVCONF_TOKEN_MAX];
	size_t token_len;
	char web_root[PATH_MAX];     /* realpath of web_dir, "" when it does not exist */
	char web_dir[PATH_MAX];
	int access_log;
	struct connguard *guard;     /* connection limits and deadlines */

	atomic_ulong by_status[MAX_STATUS];
	atomic_ulong predict_bucket[N_BUCKETS + 1]; /* the last is +Inf */
	atomic_ullong predict_ns;
	atomic_ulong predictions;
};

struct http_request_priv {
	struct http_request req;
	struct http_server *s;
	struct MHD_Connection *conn;
	struct conn *track;  /* the connection's record in the guard */
	const struct http_route *route;
	char method[16];
	char *path;
	struct timespec t0;
	char media[96];

	char *buf;          /* the body, NUL-terminated */
	size_t len, cap;
	size_t reserved;    /* bytes counted against the budget */
	size_t discarded;   /* body bytes thrown away after an early reply */

	struct MHD_Response *resp;
	int status;
	int queued;
};

/* ---- small helpers -------------------------------------------------- */

static double elapsed_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + 1e-9 * (double)(t.tv_nsec - t0->tv_nsec);
}

static int reserve(struct http_request_priv *p, size_t total)
{
	if (total <= p->reserved)
		return 0;
	size_t delta = total - p->reserved;
	size_t before = atomic_fetch_add(&p->s->buffered, delta);
	if (before + delta > p->s->budget) {
		atomic_fetch_sub(&p->s->buffered, delta);
		return -1;
	}
	p->reserved = total;
	return 0;
}

static void release_body(struct http_request_priv *p)
{
	free(p->buf);
	p->buf = NULL;
	p->len = p->cap = 0;
	if (p->reserved)
		atomic_fetch_sub(&p->s->buffered, p->reserved);
	p->reserved = 0;
}

/* ---- replies -------------------------------------------------------- */

static int set_reply(struct http_request *r, int status, struct MHD_Response *resp)
{
	struct http_request_priv *p = r->priv;
	if (!resp) {
		/* Out of memory: a static 500 needs no allocation of ours. */
		static const char oom[] = "{\"error\": \"the server is out of memory\"}";
		resp = MHD_create_response_from_buffer(sizeof(oom) - 1, (void *)oom,
						       MHD_RESPMEM_PERSISTENT);
		status = 500;
		if (!resp)
			return TD_ENOMEM;
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					"application/json; charset=utf-8");
	}
	if (p->resp)
		MHD_destroy_response(p->resp); /* a handler replied twice: the last wins */
	p->resp = resp;
	p->status = status;
	return 0;
}

int http_reply_buffer(struct http_request *r, int status, const char *content_type, char *buf,
		      size_t len)
{
	struct MHD_Response *resp =
		buf ? MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE) : NULL;
	if (!resp) {
		free(buf);
		set_reply(r, 500, NULL);
		return TD_ENOMEM;
	}
	if (content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return set_reply(r, status, resp);
}

static int reply_json_flags(struct http_request *r, int status, json_t *body, size_t flags)
{
	char *s = body ? json_dumps(body, flags) : NULL;
	json_decref(body);
	if (!s) {
		set_reply(r, 500, NULL);
		return TD_ENOMEM;
	}
	size_t n = strlen(s);
	/* A trailing newline keeps curl output tidy; dumps left room for none,
	 * so grow the buffer by one byte. */
	char *t = realloc(s, n + 2);
	if (t) {
		t[n++] = '\n';
		t[n] = '\0';
		s = t;
	}
	return http_reply_buffer(r, status, "application/json; charset=utf-8", s, n);
}

int http_reply_json(struct http_request *r, int status, json_t *body)
{
	return reply_json_flags(r, status, body, JSON_REAL_PRECISION(15));
}

int http_reply_json_digits(struct http_request *r, int status, json_t *body, int digits)
{
	return reply_json_flags(r, status, body, JSON_COMPACT | JSON_REAL_PRECISION(digits));
}

int http_reply_error(struct http_request *r, int code, const struct td_error *e)
{
	int status = td_http_status(code);
	json_t *o = json_object();
	const char *msg = e && e->msg[0] ? e->msg : td_strerror(code);
	json_object_set_new(o, "error", json_string(msg));
	if (e && e->field[0])
		json_object_set_new(o, "field", json_string(e->field));
	return http_reply_json(r, status, o);
}

int http_reply_errorf(struct http_request *r, int code, const char *field, const char *fmt, ...)
{
	struct td_error e;
	va_list ap;
	va_start(ap, fmt);
	td_verrorf(&e, code, field, fmt, ap); /* valid UTF-8 for the JSON reply */
	va_end(ap);
	return http_reply_error(r, code, &e);
}

int http_reply_empty(struct http_request *r, int status)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	return set_reply(r, status, resp) ? TD_ENOMEM : 0;
}

void http_set_header(struct http_request *r, const char *name, const char *value)
{
	if (r->priv->resp)
		MHD_add_response_header(r->priv->resp, name, value);
}

/* ---- request accessors ---------------------------------------------- */

const char *http_header(struct http_request *r, const char *name)
{
	return MHD_lookup_connection_value(r->priv->conn, MHD_HEADER_KIND, name);
}

const char *http_query(struct http_request *r, const char *name)
{
	return MHD_lookup_connection_value(r->priv->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_media_type(struct http_request *r)
{
	struct http_request_priv *p = r->priv;
	if (!p->media[0]) {
		const char *ct = http_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
		size_t n = 0;
		if (ct) {
			while (*ct == ' ' || *ct == '\t')
				ct++;
			while (ct[n] && ct[n] != ';' && ct[n] != ' ' && n + 1 < sizeof(p->media)) {
				p->media[n] = (char)tolower((unsigned char)ct[n]);
				n++;
			}
		}
		p->media[n] = '\0';
	}
	return p->media;
}

/* ---- routing -------------------------------------------------------- */

static void methods_text(unsigned m, char *buf, size_t len)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {{HTTP_GET, "GET, HEAD"}, {HTTP_POST, "POST"}, {HTTP_DELETE, "DELETE"}};
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (m & names[i].bit) {
			if (buf[0])
				strncat(buf, ", ", len - strlen(buf) - 1);
			strncat(buf, names[i].name, len - strlen(buf) - 1);
		}
}

/* Picks the route: 0, or a reply (404, 405) is set. */
static int route(struct http_request_priv *p)
{
	struct http_request *r = &p->req;
	unsigned allowed = 0;
	struct http_request tmp = {0};
	for (const struct http_route *rt = p->s->routes; rt->pattern; rt++) {
		if (!http_route_match(rt->pattern, p->path, &tmp))
			continue;
		allowed |= rt->methods;
		if (rt->methods & r->method) {
			/* The first match wins; the rest matter only for a 405. */
			p->route = rt;
			memcpy(r->id, tmp.id, sizeof(r->id));
			r->rest = tmp.rest;
			return 0;
		}
	}
	if (!allowed) {
		http_reply_errorf(r, TD_ENOTFOUND, "", "no route %s %.200s; the routes are "
				  "described in docs/api.md (installed as " TRAIND_DOCDIR
				  "/api.md)", p->method, p->path);
		return -1;
	}
	char allow[64];
	methods_text(allowed, allow, sizeof(allow));
	struct td_error e;
	td_errorf(&e, TD_EINVAL, "", "method %s is not allowed on %.200s; allowed: %s", p->method,
		  p->path, allow);
	http_reply_json(r, 405, json_pack("{s:s}", "error", e.msg));
	http_set_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	return -1;
}

/* Is `name` in the comma-separated list? */
static int in_list(const char *list, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = list; p && *p;) {
		size_t k = strcspn(p, ",");
		if (k == n && memcmp(p, name, n) == 0)
			return 1;
		p += k + (p[k] == ',');
	}
	return 0;
}

struct query_check {
	const char *allowed;
	char bad[64];
};

static enum MHD_Result check_arg(void *cls, enum MHD_ValueKind kind, const char *key,
				 const char *value)
{
	(void)kind;
	(void)value;
	struct query_check *q = cls;
	if (in_list(q->allowed, key))
		return MHD_YES;
	snprintf(q->bad, sizeof(q->bad), "%s", key);
	for (char *c = q->bad; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == '"')
			*c = '?';
	return MHD_NO;
}

static int check_query(struct http_request_priv *p)
{
	struct query_check q = {.allowed = p->route->query};
	MHD_get_connection_values(p->conn, MHD_GET_ARGUMENT_KIND, check_arg, &q);
	if (!q.bad[0])
		return 0;
	if (p->route->query)
		http_reply_errorf(&p->req, TD_EINVAL, q.bad, "unknown query parameter \"%s\"; "
				  "this route takes %s", q.bad, p->route->query);
	else
		http_reply_errorf(&p->req, TD_EINVAL, q.bad, "unknown query parameter \"%s\"; "
				  "this route takes none", q.bad);
	return -1;
}

/* Constant-time in the token's content: every byte is compared whatever
 * the first difference, so timing tells an attacker nothing but lengths. */
static int token_equal(const char *given, size_t glen, const char *token, size_t tlen)
{
	unsigned diff = glen != tlen;
	for (size_t i = 0; i < tlen; i++)
		diff |= (unsigned char)token[i] ^ (unsigned char)(i < glen ? given[i] : 0);
	return diff == 0;
}

static int check_auth(struct http_request_priv *p)
{
	struct http_server *s = p->s;
	if (!s->token_len || !(p->req.method & (HTTP_POST | HTTP_DELETE)))
		return 0;
	const char *h = MHD_lookup_connection_value(p->conn, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);
	const char *why = "this server needs \"Authorization: Bearer <token>\" on POST and DELETE";
	const char *challenge = "Bearer realm=\"traind\"";
	if (h) {
		while (*h == ' ')
			h++;
		if (strncasecmp(h, "Bearer ", 7) == 0) {
			h += 7;
			while (*h == ' ')
				h++;
			size_t n = strlen(h);
			while (n && h[n - 1] == ' ')
				n--;
			if (token_equal(h, n, s->token, s->token_len))
				return 0;
			why = "the bearer token is wrong";
			challenge = "Bearer realm=\"traind\", error=\"invalid_token\"";
		}
	}
	http_reply_errorf(&p->req, TD_EAUTH, "Authorization", "%s", why);
	http_set_header(&p->req, MHD_HTTP_HEADER_WWW_AUTHENTICATE, challenge);
	return -1;
}

static int too_big(struct http_request_priv *p)
{
	release_body(p);
	http_reply_errorf(&p->req, TD_ETOOBIG, "", "the request body is over the server's "
			  "limit of %zu bytes", p->s->body_limit);
	return -1;
}

static int busy(struct http_request_priv *p)
{
	release_body(p);
	http_reply_errorf(&p->req, TD_EFULL, "", "the server is receiving too many large "
			  "bodies at once; try again shortly");
	http_set_header(&p->req, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	return -1;
}

/* Everything decided from the request line and headers alone. */
static int begin(struct http_request_priv *p)
{
	if (route(p) || check_query(p) || check_auth(p))
		return -1;
	const char *cl = MHD_lookup_connection_value(p->conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl) {
		char *end;
		errno = 0;
		unsigned long long n = strtoull(cl, &end, 10);
		if (end == cl || *end || errno || n > p->s->body_limit)
			return too_big(p);
		if (n && reserve(p, (size_t)n + 1))
			return busy(p);
	}
	return 0;
}

static int accept_body(struct http_request_priv *p, const char *data, size_t n)
{
	if (n > p->s->body_limit - p->len)
		return too_big(p);
	size_t need = p->len + n + 1;
	if (need > p->cap) {
		/* With a Content-Length, the first buffer is exactly its size. */
		size_t cap = p->cap ? p->cap : p->reserved >= need ? p->reserved : 4096;
		while (cap < need)
			cap *= 2;
		if (cap > p->s->body_limit + 1)
			cap = p->s->body_limit + 1;
		if (cap < need || reserve(p, cap))
			return busy(p);
		char *b = realloc(p->buf, cap);
		if (!b)
			return busy(p);
		p->buf = b;
		p->cap = cap;
	}
	memcpy(p->buf + p->len, data, n);
	p->len += n;
	p->buf[p->len] = '\0';
	return 0;
}

static void dispatch(struct http_request_priv *p)
{
	struct http_request *r = &p->req;
	r->body = p->buf ? p->buf : "";
	r->body_len = p->len;
	p->route->handler(r);
	if (!p->resp)
		http_reply_errorf(r, TD_EINTERNAL, "", "the handler for %s %.200s gave no reply",
				  p->method, p->path);
}

static enum MHD_Result queue(struct http_request_priv *p)
{
	if (p->queued)
		return MHD_YES;
	enum MHD_Result rc = MHD_queue_response(p->conn, (unsigned)p->status, p->resp);
	if (rc == MHD_YES) {
		p->queued = 1;
		MHD_destroy_response(p->resp); /* MHD holds its own reference */
		p->resp = NULL;
	}
	return rc;
}

static struct http_request_priv *request_new(struct http_server *s, struct MHD_Connection *conn,
					     const char *url, const char *method)
{
	struct http_request_priv *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &p->t0);
	p->s = s;
	p->conn = conn;
	p->path = strdup(url);
	if (!p->path) {
		free(p);
		return NULL;
	}
	size_t mlen = strnlen(method, sizeof(p->method) - 1);
	memcpy(p->method, method, mlen); /* calloc'd: NUL-terminated */
	struct http_request *r = &p->req;
	r->priv = p;
	r->path = p->path;
	r->rest = "";
	r->body = "";
	r->app = s->app;
	r->server = s;
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
		r->method = HTTP_GET;
	else if (strcmp(method, "POST") == 0)
		r->method = HTTP_POST;
	else if (strcmp(method, "DELETE") == 0)
		r->method = HTTP_DELETE;
	return p;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_size, void **req_cls)
{
	(void)version;
	struct http_server *s = cls;
	struct http_request_priv *p = *req_cls;
	if (!p) {
		struct conn *track = connguard_mhd_conn(conn);
		if (connguard_refused(track))
			return MHD_NO; /* refused at connection, or the guard ran out of memory */
		connguard_headers_done(s->guard, track);
		p = request_new(s, conn, url, method);
		if (!p)
			return MHD_NO;
		p->track = track;
		*req_cls = p;
		if (begin(p))
			return queue(p);
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;
		*upload_size = 0;
		connguard_body(s->guard, p->track, n);
		if (!p->resp && !p->queued)
			accept_body(p, upload_data, n);
		else if ((p->discarded += n) > s->body_limit)
			return MHD_NO; /* the client ignores our answer: hang up */
		if (p->resp && !p->queued)
			queue(p); /* answer early where MHD allows it; else after the body */
		return MHD_YES;
	}
	connguard_body_done(s->guard, p->track);
	if (!p->resp && !p->queued)
		dispatch(p);
	return queue(p);
}

/* Writes `path` with control characters and quotes made visible. */
static void log_path(char *out, size_t len, const char *path)
{
	size_t n = 0;
	for (const unsigned char *c = (const unsigned char *)path; *c && n + 4 < len; c++) {
		if (*c < 0x20 || *c == 0x7f || *c == '"')
			n += (size_t)snprintf(out + n, len - n, "%%%02X", *c);
		else
			out[n++] = (char)*c;
	}
	out[n] = '\0';
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *s = cls;
	struct http_request_priv *p = *req_cls;
	connguard_request_done(s->guard, p ? p->track : connguard_mhd_conn(conn));
	if (!p)
		return;
	*req_cls = NULL;
	int status = p->queued ? p->status : 0;
	if (status > 0 && status < MAX_STATUS)
		atomic_fetch_add_explicit(&s->by_status[status], 1, memory_order_relaxed);
	if (s->access_log) {
		char path[256];
		log_path(path, sizeof(path), p->path);
		long us = (long)(elapsed_since(&p->t0) * 1e6);
		if (status)
			fprintf(stderr, "traind: %s %s %d %ldus\n", p->method, path, status, us);
		else
			fprintf(stderr, "traind: %s %s - %ldus (closed: %s)\n", p->method, path, us,
				toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "timeout"
				: toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT  ? "client gone"
									      : "error");
	}
	if (p->resp)
		MHD_destroy_response(p->resp);
	release_body(p);
	free(p->path);
	free(p);
}

/* Decodes %XX escapes in place, except %00: a NUL would cut the string
 * short unseen, so it stays as the three characters "%00" and can match
 * nothing (the static handler refuses it by name). */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	(void)cls;
	(void)conn;
	char *w = s;
	for (const char *r = s; *r;) {
		if (r[0] == '%' && isxdigit((unsigned char)r[1]) && isxdigit((unsigned char)r[2])) {
			char hex[3] = {r[1], r[2], '\0'};
			long v = strtol(hex, NULL, 16);
			if (v) {
				*w++ = (char)v;
				r += 3;
				continue;
			}
		}
		*w++ = *r++;
	}
	*w = '\0';
	return (size_t)(w - s);
}

/* ---- what the static file handler (http_static.c) needs ------------- */

int http_reply_fd(struct http_request *r, int status, const char *content_type, int fd,
		  size_t size)
{
	struct MHD_Response *resp = MHD_create_response_from_fd(size, fd);
	if (!resp) {
		close(fd);
		set_reply(r, 500, NULL);
		return TD_ENOMEM;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	return set_reply(r, status, resp);
}

const char *http_web_root(const struct http_server *s)
{
	return s->web_root;
}

const char *http_web_dir(const struct http_server *s)
{
	return s->web_dir;
}

/* ---- metrics -------------------------------------------------------- */

void http_observe_predict(struct http_server *s, double seconds, long instances)
{
	size_t b = 0;
	while (b < N_BUCKETS && seconds > predict_buckets[b])
		b++;
	atomic_fetch_add_explicit(&s->predict_bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&s->predict_ns, (unsigned long long)(seconds * 1e9),
				  memory_order_relaxed);
	atomic_fetch_add_explicit(&s->predictions, (unsigned long)instances,
				  memory_order_relaxed);
}

void http_write_metrics(struct http_server *s, FILE *f)
{
	fprintf(f, "# HELP traind_http_requests_total HTTP requests answered, by status code.\n"
		   "# TYPE traind_http_requests_total counter\n");
	for (int code = 100; code < MAX_STATUS; code++) {
		unsigned long n = atomic_load_explicit(&s->by_status[code], memory_order_relaxed);
		if (n)
			fprintf(f, "traind_http_requests_total{code=\"%d\"} %lu\n", code, n);
	}
	fprintf(f, "# HELP traind_predict_duration_seconds Time from a predict body received to "
		   "its answer built.\n"
		   "# TYPE traind_predict_duration_seconds histogram\n");
	unsigned long cumulative = 0;
	for (size_t b = 0; b <= N_BUCKETS; b++) {
		cumulative += atomic_load_explicit(&s->predict_bucket[b], memory_order_relaxed);
		if (b < N_BUCKETS)
			fprintf(f, "traind_predict_duration_seconds_bucket{le=\"%g\"} %lu\n",
				predict_buckets[b], cumulative);
		else
			fprintf(f, "traind_predict_duration_seconds_bucket{le=\"+Inf\"} %lu\n",
				cumulative);
	}
	fprintf(f, "traind_predict_duration_seconds_sum %.9f\n",
		1e-9 * (double)atomic_load_explicit(&s->predict_ns, memory_order_relaxed));
	fprintf(f, "traind_predict_duration_seconds_count %lu\n", cumulative);
	fprintf(f, "# HELP traind_http_body_bytes Bytes reserved for request bodies being "
		   "received, of a budget of traind_http_body_budget_bytes.\n"
		   "# TYPE traind_http_body_bytes gauge\n"
		   "traind_http_body_bytes %zu\n"
		   "# HELP traind_http_body_budget_bytes Bytes all bodies being received may hold.\n"
		   "# TYPE traind_http_body_budget_bytes gauge\n"
		   "traind_http_body_budget_bytes %zu\n",
		atomic_load_explicit(&s->buffered, memory_order_relaxed), s->budget);
	fprintf(f, "# HELP traind_predictions_total Instances predicted.\n"
		   "# TYPE traind_predictions_total counter\n"
		   "traind_predictions_total %lu\n",
		atomic_load_explicit(&s->predictions, memory_order_relaxed));
	connguard_write_metrics(s->guard, f);
}

/* ---- life cycle ----------------------------------------------------- */

static int open_listener(const char *listen_addr, int *family, int *port, struct td_error *e)
{
	char host[SRVCONF_LISTEN_MAX], service[16];
	int want_port, rc;
	if ((rc = srvconf_listen_split(listen_addr, host, sizeof(host), &want_port, e)))
		return rc;
	snprintf(service, sizeof(service), "%d", want_port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res;
	int gai = getaddrinfo(host, service, &hints, &res);
	if (gai)
		return td_errorf(e, TD_EINVAL, "listen", "cannot resolve listen host %s: %s", host,
				 gai_strerror(gai));
	int fd = -1, err = 0;
	for (struct addrinfo *a = res; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
			    a->ai_protocol);
		if (fd < 0) {
			err = errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, a->ai_addr, a->ai_addrlen) || listen(fd, 128)) {
			err = errno;
			close(fd);
			fd = -1;
			continue;
		}
		*family = a->ai_family;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return td_errorf(e, TD_EIO, "listen", "cannot listen on %s: %s", listen_addr,
				 strerror(err));
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	*port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					       : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

/* A connection accepted after http_quiesce is closed at once; the others
 * go to the guard (per-address and total limits). */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t len)
{
	struct http_server *s = cls;
	if (atomic_load(&s->closing))
		return MHD_NO;
	return connguard_mhd_accept(s->guard, addr, len);
}

int http_start(const struct srvconf *c, const struct http_route *routes, void *app,
	       struct http_server **out, struct td_error *e)
{
	*out = NULL;
	struct http_server *s = calloc(1, sizeof(*s));
	if (!s)
		return td_errorf(e, TD_ENOMEM, "", "out of memory");
	s->routes = routes;
	s->app = app;
	s->body_limit = c->body_limit;
	s->budget = c->body_limit * (size_t)(4 + 2 * c->http_threads);
	s->access_log = c->access_log;
	snprintf(s->token, sizeof(s->token), "%s", c->token);
	s->token_len = strlen(s->token);
	snprintf(s->web_dir, sizeof(s->web_dir), "%s", c->web_dir);
	if (!realpath(c->web_dir, s->web_root))
		s->web_root[0] = '\0';

	struct connguard_limits lim = {
		.max_connections = c->max_connections,
		.per_address = c->max_connections_per_address,
		.header_timeout = c->header_timeout,
		.idle_timeout = c->connection_timeout,
		.min_body_rate = (double)c->min_body_rate,
	};
	if (connguard_create(&lim, &s->guard)) {
		free(s);
		return td_errorf(e, TD_ENOMEM, "", "out of memory or threads");
	}
	int family = AF_INET;
	int fd = open_listener(c->listen, &family, &s->port, e);
	if (fd < 0) {
		connguard_free(s->guard);
		free(s);
		return fd;
	}
	s->listen_fd = fd;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_USE_ITC;
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	int epoll = MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES;
	/* The guard enforces the limits and deadlines (connguard.h). MHD
	 * shares its connection limit among its threads, so its own is set so
	 * that no thread's share is ever what refuses; its idle timeout, a
	 * second after the guard's, remains for clients that read an answer
	 * too slowly. */
	unsigned mhd_limit = (unsigned)c->max_connections * (unsigned)c->http_threads +
			     (unsigned)c->http_threads;
	for (int attempt = epoll ? 0 : 1; attempt < 2 && !s->daemon; attempt++)
		s->daemon = MHD_start_daemon(
			flags | (attempt == 0 ? MHD_USE_EPOLL : 0), 0, accept_policy, s,
			on_request, s,
			MHD_OPTION_EXTERNAL_LOGGER, connguard_mhd_log, s->guard,
			MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
			MHD_OPTION_THREAD_POOL_SIZE, (unsigned)c->http_threads,
			MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)c->connection_timeout + 1,
			MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
			MHD_OPTION_CONNECTION_LIMIT, mhd_limit,
			MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
			MHD_OPTION_NOTIFY_CONNECTION, connguard_mhd_connection, s->guard,
			MHD_OPTION_URI_LOG_CALLBACK, connguard_mhd_request_line, s->guard,
			MHD_OPTION_UNESCAPE_CALLBACK, unescape, s,
			MHD_OPTION_END);
	if (!s->daemon) {
		close(fd);
		connguard_free(s->guard);
		free(s);
		return td_errorf(e, TD_EIO, "listen", "libmicrohttpd could not start on %s",
				 c->listen);
	}
	*out = s;
	return 0;
}

int http_port(const struct http_server *s)
{
	return s->port;
}

void http_quiesce(struct http_server *s)
{
	if (s)
		atomic_store(&s->closing, 1);
}

void http_stop(struct http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->daemon);
	connguard_free(s->guard);
	free(s);
}
