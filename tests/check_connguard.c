/*
 * check_connguard.c - connection limits and deadlines (connguard.c) as an
 * attacker on the same host would try them: raw sockets from 127.0.0.1
 * that open connections and send a request slowly or not at all, while a
 * client at 127.0.0.2 is served. Loopback addresses only.
 *
 * Each test waits for what the server does (sockets closed, counters in
 * /metrics) with a generous bound that only keeps a broken server from
 * hanging the run; nothing is timed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check_suites.h"
#include "testserver.h"
#include "traind/srvconf.h"

#define BOUND 60.0 /* seconds any wait may take before the test fails */

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* A connection from `src` to the server that has sent `first`. */
static int raw_socket(const char *src, const char *first)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	inet_pton(AF_INET, src, &a.sin_addr);
	ck_assert_msg(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0, "bind %s: %s", src,
		      strerror(errno));
	struct sockaddr_in d = {.sin_family = AF_INET, .sin_port = htons((uint16_t)ts_port())};
	inet_pton(AF_INET, "127.0.0.1", &d.sin_addr);
	ck_assert_msg(connect(fd, (struct sockaddr *)&d, sizeof(d)) == 0, "connect: %s",
		      strerror(errno));
	if (first)
		send(fd, first, strlen(first), MSG_NOSIGNAL);
	return fd;
}

/* Has the server closed it? Reads (and drops) anything it sent. */
static int closed_by_server(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char buf[512];
	while (poll(&p, 1, 0) == 1) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			return 1;
		if (n < 0)
			return 0;
	}
	return 0;
}

static int count_closed(const int *fds, int n)
{
	int closed = 0;
	for (int i = 0; i < n; i++)
		closed += fds[i] < 0 || closed_by_server(fds[i]);
	return closed;
}

/* A value of /metrics, asked from 127.0.0.2. */
static double metric(const char *line_start)
{
	struct ts_resp r;
	ts_set_source("127.0.0.2");
	ck_assert_int_eq(ts_get("/metrics", &r), 200);
	const char *p = strstr(r.body, line_start);
	ck_assert_msg(p != NULL, "no %s in /metrics", line_start);
	double v = strtod(p + strlen(line_start), NULL);
	ts_resp_free(&r);
	return v;
}

/* Waits until `metric(name) == want`; fails past BOUND. */
static void wait_metric(const char *name, double want)
{
	double until = now() + BOUND, v;
	while ((v = metric(name)) != want) {
		ck_assert_msg(now() < until, "%s is %g, not %g, after %.0f s", name, v, want, BOUND);
		usleep(20000);
	}
}

#define REFUSED(cause) "traind_http_connections_refused_total{cause=\"" cause "\"} "
#define TIMED_OUT(cause) "traind_http_connections_timed_out_total{cause=\"" cause "\"} "
#define OPEN "\ntraind_http_connections "

static void close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* The attack of the issue, scaled down: 60 connections from 127.0.0.1
 * that never finish their headers, against a server holding 40 in all.
 * Without the per-address limit they would take every slot; with it,
 * 127.0.0.1 holds 8, the other 52 are closed on arrival, and 127.0.0.2's
 * probes and predictions are answered. When the attacker lets go, the
 * open connections return to what they were. */
START_TEST(test_one_address_cannot_take_every_slot)
{
	static const char *const settings[] = {
		"max_connections", "40", "max_connections_per_address", "8",
		"header_timeout", "3600", NULL,
	};
	ts_start(settings);
	char id[32];
	ts_set_source("127.0.0.2");
	ts_trained_model(id);
	wait_metric(OPEN, 1); /* the metrics request's own connection */

	enum { N = 60, HELD = 8 };
	int fds[N];
	for (int i = 0; i < N; i++)
		fds[i] = raw_socket("127.0.0.1", "POST /v1/jobs HTTP/1.1\r\nHost: x\r\n");
	wait_metric(REFUSED("per_address"), N - HELD);
	double until = now() + BOUND;
	int closed;
	while ((closed = count_closed(fds, N)) < N - HELD) {
		ck_assert_msg(now() < until, "%d of %d refused connections closed", closed,
			      N - HELD);
		usleep(20000);
	}
	ck_assert_int_eq(metric(REFUSED("total")), 0);

	/* 127.0.0.2 is served: the health probe, v2 and v1 predictions. */
	struct ts_resp r;
	ts_set_source("127.0.0.2");
	ck_assert_int_eq(ts_get("/healthz", &r), 200);
	ts_resp_free(&r);
	ck_assert_int_eq(ts_get("/v2/health/ready", &r), 200);
	ts_resp_free(&r);
	char path[96], body[TS_PIXELS * 4 + 64], *w = body;
	w += sprintf(w, "{\"pixel_range\": 255, \"instances\": [[");
	for (int k = 0; k < TS_PIXELS; k++)
		w += sprintf(w, "%s%d", k ? "," : "", k % 7);
	strcpy(w, "]]}");
	snprintf(path, sizeof(path), "/v1/models/%s:predict", id);
	ck_assert_int_eq(ts_request("POST", path, "application/json", NULL, body, strlen(body),
				    &r), 200);
	ts_resp_free(&r);

	/* The eight that got in are held (no deadline passed), and counted
	 * once the server has seen the prediction's connection close (the
	 * client closes first, so the count may lag it for a moment). */
	wait_metric(OPEN, 1 + HELD);
	ck_assert_int_eq(count_closed(fds, N), N - HELD);

	close_all(fds, N);
	wait_metric(OPEN, 1);
	ts_stop();
}
END_TEST

/* A whole request from `src` on a fresh connection: answered 200? */
static int probe_ok(const char *src)
{
	int fd = raw_socket(src, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
	char buf[64];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return strstr(buf, " 200 ") != NULL;
}

/* The limit in all: 30 connections against 16 slots; once they let go,
 * another address is served. */
START_TEST(test_total_limit)
{
	static const char *const settings[] = {
		"max_connections", "16", "max_connections_per_address", "1000", NULL,
	};
	ts_start(settings);
	enum { N = 30, SLOTS = 16 };
	int fds[N];
	for (int i = 0; i < N; i++)
		fds[i] = raw_socket("127.0.0.1", "GET /healthz HTTP/1.1\r\n");
	double until = now() + BOUND;
	int closed;
	while ((closed = count_closed(fds, N)) < N - SLOTS) {
		ck_assert_msg(now() < until, "%d of %d connections over the limit closed", closed,
			      N - SLOTS);
		usleep(20000);
	}
	ck_assert_int_eq(probe_ok("127.0.0.2"), 0); /* every slot is taken */
	ck_assert_int_eq(count_closed(fds, N), N - SLOTS);
	close_all(fds, N);
	until = now() + BOUND;
	while (!probe_ok("127.0.0.2")) {
		ck_assert_msg(now() < until, "127.0.0.2 is not served after %.0f s", BOUND);
		usleep(20000);
	}
	ck_assert_int_ge(metric(REFUSED("total")), N - SLOTS + 1);
	ck_assert_int_eq(metric(REFUSED("per_address")), 0);
	ts_stop();
}
END_TEST

/* Slow headers: a header line every 50 ms keeps the idle timeout (30 s)
 * from ever firing; the header deadline (1 s) closes them all. */
START_TEST(test_header_deadline)
{
	static const char *const settings[] = {"header_timeout", "1", NULL};
	ts_start(settings);
	enum { N = 5 };
	int fds[N];
	for (int i = 0; i < N; i++)
		fds[i] = raw_socket("127.0.0.1", "GET /healthz HTTP/1.1\r\nHost: x\r\n");
	double until = now() + BOUND;
	while (count_closed(fds, N) < N) {
		ck_assert_msg(now() < until, "slow-header connections still open after %.0f s",
			      BOUND);
		for (int i = 0; i < N; i++)
			send(fds[i], "X-Slow: 1\r\n", 11, MSG_NOSIGNAL);
		usleep(50000);
	}
	close_all(fds, N);
	ck_assert_int_eq(metric(TIMED_OUT("header")), N);
	ck_assert_int_eq(metric(TIMED_OUT("idle")), 0);

	/* A prompt request is answered, and its kept-alive connection is
	 * not closed by the header deadline while it stays idle. */
	int fd = raw_socket("127.0.0.1", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
	char buf[256];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);
	ck_assert_int_gt(n, 0);
	buf[n] = '\0';
	ck_assert_msg(strstr(buf, "200 OK"), "%s", buf);
	usleep(2500000); /* past the header deadline: idle is not "headers" */
	ck_assert_int_eq(closed_by_server(fd), 0);
	ck_assert_int_eq(metric(TIMED_OUT("header")), N);
	close(fd);
	ts_stop();
}
END_TEST

/* A body at 100 bytes a second is closed under min_body_rate 1K; a body
 * sent at once is not. */
START_TEST(test_min_body_rate)
{
	static const char *const settings[] = {"min_body_rate", "1K", NULL};
	ts_start(settings);
	int fd = raw_socket("127.0.0.1", "POST /v1/gradcheck HTTP/1.1\r\nHost: x\r\n"
				       "Content-Type: application/json\r\n"
				       "Content-Length: 100000\r\n\r\n");
	double until = now() + BOUND;
	while (!closed_by_server(fd)) {
		ck_assert_msg(now() < until, "a slow body is still read after %.0f s", BOUND);
		send(fd, "          ", 10, MSG_NOSIGNAL);
		usleep(100000);
	}
	close(fd);
	ck_assert_int_eq(metric(TIMED_OUT("body_rate")), 1);
	ck_assert_int_eq(metric(TIMED_OUT("header")), 0);

	char *big = malloc(100000);
	memset(big, ' ', 100000);
	big[0] = '{';
	big[99999] = '}';
	struct ts_resp r;
	ts_request("POST", "/v1/gradcheck", "application/json", NULL, big, 100000, &r);
	ck_assert_msg(r.status == 200 || r.status == 400, "%ld %s", r.status, r.body);
	ts_resp_free(&r);
	free(big);
	ck_assert_int_eq(metric(TIMED_OUT("body_rate")), 1);
	ts_stop();
}
END_TEST

/* A kept-alive connection with no new request for connection_timeout. */
START_TEST(test_idle_timeout)
{
	static const char *const settings[] = {"connection_timeout", "1", NULL};
	ts_start(settings);
	int fd = raw_socket("127.0.0.1", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
	double until = now() + BOUND;
	while (!closed_by_server(fd)) {
		ck_assert_msg(now() < until, "an idle connection is open after %.0f s", BOUND);
		usleep(20000);
	}
	close(fd);
	ck_assert_int_eq(metric(TIMED_OUT("idle")), 1);
	ck_assert_int_eq(metric(TIMED_OUT("header")), 0);
	ts_stop();
}
END_TEST

/* The configuration rows: ranges named in errors, auto from RLIMIT_NOFILE. */
START_TEST(test_config_rows)
{
	struct srvconf c;
	struct td_error e;
	ck_assert_int_eq(srvconf_defaults(&c), 0);
	ck_assert_int_eq(c.max_connections_per_address, 32);
	ck_assert_int_eq(c.header_timeout, 10);
	ck_assert_uint_eq(c.min_body_rate, 1024);
	struct rlimit rl;
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	long want = rl.rlim_cur == RLIM_INFINITY ? 1000000 : (long)rl.rlim_cur - 128;
	want = want < 16 ? 16 : want > 1000000 ? 1000000 : want;
	ck_assert_int_eq(c.max_connections, want);
	ck_assert_int_eq(srvconf_set(&c, "max-connections", "100", &e), 0);
	ck_assert_int_eq(c.max_connections, 100);
	ck_assert_int_eq(srvconf_set(&c, "max_connections", "auto", &e), 0);
	ck_assert_int_eq(c.max_connections, want);
	ck_assert_int_ne(srvconf_set(&c, "max_connections", "15", &e), 0);
	ck_assert_str_eq(e.field, "max_connections");
	ck_assert_ptr_nonnull(strstr(e.msg, "from 16 to 1000000 or auto"));
	ck_assert_int_ne(srvconf_set(&c, "max_connections_per_address", "0", &e), 0);
	ck_assert_str_eq(e.field, "max_connections_per_address");
	ck_assert_int_ne(srvconf_set(&c, "max_connections_per_address", "auto", &e), 0);
	ck_assert_int_ne(srvconf_set(&c, "header_timeout", "0", &e), 0);
	ck_assert_ptr_nonnull(strstr(e.msg, "from 1 to 3600"));
	ck_assert_int_eq(srvconf_set(&c, "min_body_rate", "0", &e), 0);
	ck_assert_uint_eq(c.min_body_rate, 0);
	ck_assert_int_eq(srvconf_set(&c, "min_body_rate", "4K", &e), 0);
	ck_assert_uint_eq(c.min_body_rate, 4096);
	ck_assert_int_ne(srvconf_set(&c, "min_body_rate", "-1", &e), 0);
	ck_assert_str_eq(e.field, "min_body_rate");
	srvconf_free(&c);
}
END_TEST

Suite *suite_connguard(void)
{
	Suite *s = suite_create("connguard");
	TCase *tc = tcase_create("hostile");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_one_address_cannot_take_every_slot);
	tcase_add_test(tc, test_total_limit);
	tcase_add_test(tc, test_header_deadline);
	tcase_add_test(tc, test_min_body_rate);
	tcase_add_test(tc, test_idle_timeout);
	tcase_add_test(tc, test_config_rows);
	suite_add_tcase(s, tc);
	return s;
}
