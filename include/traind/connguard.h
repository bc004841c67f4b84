/*
 * connguard.h - what keeps hostile clients from taking the HTTP server's
 * connections: limits per client address and in all, deadlines, and the
 * counters /metrics reports of what they refused and closed.
 *
 * The HTTP layer tells the guard of each connection's life - opened,
 * request line seen, headers done, body bytes, answered, closed - and the
 * guard's watchdog thread closes (shutdown(2), so the HTTP library sees the
 * end of the stream and cleans up as for any client that hung up) the
 * connections that are past a deadline:
 *
 *   header    the request line and headers not complete `header_timeout`
 *             seconds after the connection opened, or after the request
 *             line of a request on a kept-alive connection;
 *   body_rate a body arriving slower than `min_body_rate` bytes a second
 *             on average, counted from one second after its headers;
 *   idle      a kept-alive connection with no new request for
 *             `idle_timeout` seconds.
 *
 * A connection is refused (closed at once) when its address already holds
 * `per_address` connections, or the server `max_connections`. All
 * functions are thread-safe.
 */
#ifndef TRAIND_CONNGUARD_H
#define TRAIND_CONNGUARD_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

struct connguard_limits {
	int max_connections;
	int per_address;
	double header_timeout; /* seconds */
	double idle_timeout;   /* seconds */
	double min_body_rate;  /* bytes per second; 0 = none */
};

struct connguard;
struct conn;

/* Starts the watchdog thread. 0, or -1 (out of memory or threads). */
int connguard_create(const struct connguard_limits *lim, struct connguard **out);
/* Stops the watchdog; every connection must have been closed. */
void connguard_free(struct connguard *g);

/* Before a connection is set up: 0 to take it, -1 to refuse (counted). */
int connguard_check(struct connguard *g, const struct sockaddr *addr);
/* A connection was set up on socket `fd`. NULL when out of memory; else
 * its record, refused (counted, its socket shut down) when over a limit. */
struct conn *connguard_open(struct connguard *g, int fd, const struct sockaddr *addr);
int connguard_refused(const struct conn *c);
void connguard_close(struct connguard *g, struct conn *c);

/* A request's progress. */
void connguard_request_line(struct connguard *g, struct conn *c);
void connguard_headers_done(struct connguard *g, struct conn *c);
void connguard_body(struct connguard *g, struct conn *c, size_t bytes);
void connguard_body_done(struct connguard *g, struct conn *c);
void connguard_request_done(struct connguard *g, struct conn *c);

/* traind_http_connections{,_limit}, _refused_total{cause} and
 * _timed_out_total{cause} in Prometheus text format. */
void connguard_write_metrics(struct connguard *g, FILE *f);

/* max_connections from RLIMIT_NOFILE: the soft limit less the descriptors
 * the rest of the daemon may hold, within [16, 1000000]. */
int connguard_auto_max_connections(void);

#ifdef MHD_VERSION
/* libmicrohttpd's callbacks (connguard_mhd.c), each with the guard as its
 * closure, for a file that includes <microhttpd.h> first (http.c): the
 * accept policy, the connection notification (STARTED opens, CLOSED
 * closes), the URI log (the request line), and a logger that drops the
 * messages of connections closed mid-request. connguard_mhd_conn is a
 * connection's record (NULL when it has none). */
enum MHD_Result connguard_mhd_accept(void *guard, const struct sockaddr *addr, socklen_t len);
void connguard_mhd_connection(void *guard, struct MHD_Connection *conn, void **socket_context,
			      enum MHD_ConnectionNotificationCode code);
void *connguard_mhd_request_line(void *guard, const char *uri, struct MHD_Connection *conn);
void connguard_mhd_log(void *guard, const char *fmt, va_list ap);
struct conn *connguard_mhd_conn(struct MHD_Connection *conn);
#endif

#endif
