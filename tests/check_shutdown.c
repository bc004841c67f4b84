/*
 * check_shutdown.c - stopping the HTTP server (http_quiesce, then
 * http_stop, as server_stop does) while clients keep requests coming on
 * keep-alive connections: the requests in flight are answered, no new
 * connection is served after the quiesce, and the process never aborts.
 *
 * libmicrohttpd's own MHD_quiesce_daemon on an epoll daemon with worker
 * threads races with the workers removing the listening socket from
 * their epoll sets and aborts the process now and then ("Failed to remove
 * listen FD from epoll set"); many rounds of start, load, quiesce and stop
 * catch that. Loopback only; the waits are bounded, nothing is timed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check_suites.h"
#include "traind/http.h"
#include "traind/srvconf.h"

#define ROUNDS 200
#define CLIENTS 6

static void h_ping(struct http_request *r)
{
	http_reply_json(r, 200, json_pack("{s:b}", "ok", 1));
}

static const struct http_route routes[] = {
	{HTTP_GET, "/ping", NULL, h_ping},
	{0, NULL, NULL, NULL},
};

struct client {
	int port;
	atomic_int *stop;
	int keep_alive;
	long answered;
};

static int dial(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One answer on fd within 200 ms: 1, or 0 when the server closed it or
 * said nothing. */
static int one_request(int fd)
{
	static const char req[] = "GET /ping HTTP/1.1\r\nHost: t\r\n\r\n";
	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(req) - 1))
		return 0;
	char buf[1024];
	size_t got = 0;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	while (poll(&p, 1, 200) == 1) {
		ssize_t n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (n <= 0)
			return 0;
		got += (size_t)n;
		buf[got] = 0;
		char *end = strstr(buf, "\r\n\r\n");
		if (end && strstr(end, "}")) /* the whole small body is in */
			return strncmp(buf, "HTTP/1.1 200", 12) == 0;
	}
	return 0;
}

/* Until told to stop: requests back to back, on one keep-alive
 * connection (odd clients) or each on a new one (even clients: the
 * listening socket busy too). */
static void *client_main(void *arg)
{
	struct client *c = arg;
	while (!atomic_load(c->stop)) {
		int fd = dial(c->port);
		if (fd < 0)
			continue;
		do {
			if (!one_request(fd))
				break;
			c->answered++;
		} while (c->keep_alive && !atomic_load(c->stop));
		close(fd);
	}
	return NULL;
}

static struct http_server *start(struct srvconf *c)
{
	struct td_error e;
	ck_assert_int_eq(srvconf_defaults(c), 0);
	ck_assert(srvconf_set(c, "listen", "127.0.0.1:0", &e) == 0);
	ck_assert(srvconf_set(c, "access_log", "false", &e) == 0);
	c->http_threads = 4;
	ck_assert_msg(srvconf_finish(c, &e) == 0, "%s", e.msg);
	struct http_server *s;
	ck_assert_msg(http_start(c, routes, NULL, &s, &e) == 0, "%s", e.msg);
	return s;
}

START_TEST(test_stop_under_load_never_aborts)
{
	long answered = 0;
	for (int round = 0; round < ROUNDS; round++) {
		struct srvconf c;
		struct http_server *s = start(&c);
		const int port = http_port(s);
		atomic_int stop = 0;
		struct client cl[CLIENTS];
		pthread_t th[CLIENTS];
		for (int i = 0; i < CLIENTS; i++) {
			cl[i] = (struct client){.port = port, .stop = &stop, .keep_alive = i % 2};
			ck_assert_int_eq(pthread_create(&th[i], NULL, client_main, &cl[i]), 0);
		}
		struct timespec d = {0, 5000000}; /* let the requests flow */
		nanosleep(&d, NULL);
		http_quiesce(s);
		/* A connection opened now is not served. */
		int fd = dial(port);
		if (fd >= 0) {
			ck_assert_msg(!one_request(fd), "round %d: a request after the quiesce was answered",
				      round);
			close(fd);
		}
		atomic_store(&stop, 1);
		http_stop(s);
		for (int i = 0; i < CLIENTS; i++) {
			pthread_join(th[i], NULL);
			answered += cl[i].answered;
		}
		srvconf_free(&c);
	}
	ck_assert_msg(answered > ROUNDS, "only %ld requests answered in %d rounds", answered,
		      ROUNDS);
}
END_TEST

Suite *suite_shutdown(void)
{
	Suite *s = suite_create("shutdown");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_stop_under_load_never_aborts);
	suite_add_tcase(s, tc);
	return s;
}
