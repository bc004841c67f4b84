/*
 * connguard.c - connection limits and deadlines (see connguard.h).
 *
 * One mutex guards the list of open connections, the per-address counts
 * (a small chained hash of the addresses that hold connections now) and
 * every record's state; the HTTP threads take it a few times a request,
 * the watchdog once every WATCH_PERIOD to walk the list. The watchdog
 * shuts a socket down while it holds the mutex, and the HTTP library
 * calls connguard_close (which takes it) before it closes the socket, so
 * the descriptor it shuts down is always still the connection's own.
 */
#include "traind/connguard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define WATCH_PERIOD_NS 100000000L /* 0.1 s */
#define BUCKETS 1024
#define BODY_GRACE 1.0             /* seconds before min_body_rate counts */
/* Descriptors kept for everything but connections: the listener, epoll
 * sets, data sets, checkpoints and job records being written. */
#define FD_RESERVE 128

enum conn_state { CS_HEADERS, CS_BODY, CS_BUSY, CS_IDLE, CS_CLOSING };
enum refuse_cause { R_TOTAL, R_PER_ADDRESS, N_REFUSE };
enum timeout_cause { T_HEADER, T_BODY_RATE, T_IDLE, N_TIMEOUT };
static const char *const refuse_names[N_REFUSE] = {"total", "per_address"};
static const char *const timeout_names[N_TIMEOUT] = {"header", "body_rate", "idle"};

struct addr_count {
	struct addr_count *next;
	unsigned char key[17]; /* family byte, then 4 or 16 address bytes */
	int count;
};

struct conn {
	struct conn *prev, *next;
	struct addr_count *ac; /* NULL when refused */
	int fd;
	enum conn_state state;
	double since;          /* when the state began */
	size_t body;           /* body bytes of the request in progress */
};

struct connguard {
	struct connguard_limits lim;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t watchdog;
	int stopping;
	struct conn head;      /* the list of open connections */
	int open;
	struct addr_count *buckets[BUCKETS];
	atomic_ulong refused[N_REFUSE];
	atomic_ulong timed_out[N_TIMEOUT];
};

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int connguard_auto_max_connections(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY)
		return 1000000;
	long n = (long)rl.rlim_cur - FD_RESERVE;
	return n < 16 ? 16 : n > 1000000 ? 1000000 : (int)n;
}

/* The address as a hash key; 0 for an address that is not IP. */
static size_t addr_key(const struct sockaddr *a, unsigned char key[17])
{
	memset(key, 0, 17);
	if (a && a->sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)(const void *)a)->sin_addr, 4);
		return 5;
	}
	if (a && a->sa_family == AF_INET6) {
		key[0] = 6;
		memcpy(key + 1, &((const struct sockaddr_in6 *)(const void *)a)->sin6_addr, 16);
		return 17;
	}
	return 1;
}

static struct addr_count **bucket(struct connguard *g, const unsigned char *key, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ key[i]) * 16777619u;
	return &g->buckets[h % BUCKETS];
}

/* The count of connections from `a` now (0 when none); under the lock. */
static struct addr_count *addr_find(struct connguard *g, const struct sockaddr *a, int create)
{
	unsigned char key[17];
	size_t n = addr_key(a, key);
	struct addr_count **b = bucket(g, key, n);
	for (struct addr_count *c = *b; c; c = c->next)
		if (memcmp(c->key, key, sizeof(key)) == 0)
			return c;
	if (!create)
		return NULL;
	struct addr_count *c = calloc(1, sizeof(*c));
	if (c) {
		memcpy(c->key, key, sizeof(key));
		c->next = *b;
		*b = c;
	}
	return c;
}

static void addr_release(struct connguard *g, struct addr_count *ac)
{
	if (--ac->count > 0)
		return;
	struct addr_count **p = bucket(g, ac->key, ac->key[0] == 6 ? 17 : ac->key[0] == 4 ? 5 : 1);
	while (*p != ac)
		p = &(*p)->next;
	*p = ac->next;
	free(ac);
}

/* Over a limit? The cause, or -1; under the lock. */
static int over_limit(struct connguard *g, const struct sockaddr *addr)
{
	if (g->open >= g->lim.max_connections)
		return R_TOTAL;
	struct addr_count *ac = addr_find(g, addr, 0);
	if (ac && ac->count >= g->lim.per_address)
		return R_PER_ADDRESS;
	return -1;
}

int connguard_check(struct connguard *g, const struct sockaddr *addr)
{
	pthread_mutex_lock(&g->lock);
	int cause = over_limit(g, addr);
	pthread_mutex_unlock(&g->lock);
	if (cause < 0)
		return 0;
	atomic_fetch_add_explicit(&g->refused[cause], 1, memory_order_relaxed);
	return -1;
}

struct conn *connguard_open(struct connguard *g, int fd, const struct sockaddr *addr)
{
	struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->fd = fd;
	c->state = CS_HEADERS;
	c->since = now();
	pthread_mutex_lock(&g->lock);
	/* connguard_check ran without holding the lock since, so several
	 * threads may have let connections past it at once: check again. */
	int cause = over_limit(g, addr);
	if (cause < 0 && (c->ac = addr_find(g, addr, 1))) {
		c->ac->count++;
		g->open++;
		c->next = g->head.next;
		c->prev = &g->head;
		c->next->prev = c;
		g->head.next = c;
	}
	pthread_mutex_unlock(&g->lock);
	if (!c->ac) {
		atomic_fetch_add_explicit(&g->refused[cause < 0 ? R_TOTAL : cause], 1,
					  memory_order_relaxed);
		shutdown(fd, SHUT_RDWR);
	}
	return c;
}

int connguard_refused(const struct conn *c)
{
	return !c || !c->ac;
}

void connguard_close(struct connguard *g, struct conn *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&g->lock);
	if (c->ac) {
		c->prev->next = c->next;
		c->next->prev = c->prev;
		addr_release(g, c->ac);
		g->open--;
	}
	pthread_mutex_unlock(&g->lock);
	free(c);
}

static void set_state(struct connguard *g, struct conn *c, enum conn_state to)
{
	if (!c)
		return;
	pthread_mutex_lock(&g->lock);
	if (c->state != CS_CLOSING) {
		c->state = to;
		c->since = now();
		c->body = 0;
	}
	pthread_mutex_unlock(&g->lock);
}

void connguard_request_line(struct connguard *g, struct conn *c)
{
	/* A fresh connection's deadline runs from its opening; a kept-alive
	 * one's from the request line that ends its idleness. */
	if (!c)
		return;
	pthread_mutex_lock(&g->lock);
	if (c->state == CS_IDLE) {
		c->state = CS_HEADERS;
		c->since = now();
	}
	pthread_mutex_unlock(&g->lock);
}

void connguard_headers_done(struct connguard *g, struct conn *c)
{
	set_state(g, c, CS_BODY);
}

void connguard_body(struct connguard *g, struct conn *c, size_t bytes)
{
	if (!c)
		return;
	pthread_mutex_lock(&g->lock);
	c->body += bytes;
	pthread_mutex_unlock(&g->lock);
}

void connguard_body_done(struct connguard *g, struct conn *c)
{
	set_state(g, c, CS_BUSY);
}

void connguard_request_done(struct connguard *g, struct conn *c)
{
	set_state(g, c, CS_IDLE);
}

/* The cause a connection is past its deadline for, or -1. */
static int overdue(const struct connguard *g, const struct conn *c, double t)
{
	double el = t - c->since;
	switch (c->state) {
	case CS_HEADERS:
		return el > g->lim.header_timeout ? T_HEADER : -1;
	case CS_BODY:
		return g->lim.min_body_rate > 0 && el > BODY_GRACE &&
			       (double)c->body < g->lim.min_body_rate * (el - BODY_GRACE)
			       ? T_BODY_RATE : -1;
	case CS_IDLE:
		return el > g->lim.idle_timeout ? T_IDLE : -1;
	default:
		return -1;
	}
}

static void *watchdog_main(void *arg)
{
	struct connguard *g = arg;
	pthread_mutex_lock(&g->lock);
	while (!g->stopping) {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += WATCH_PERIOD_NS;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&g->wake, &g->lock, &until);
		double t = now();
		for (struct conn *c = g->head.next; c != &g->head; c = c->next) {
			int cause = overdue(g, c, t);
			if (cause < 0)
				continue;
			c->state = CS_CLOSING;
			shutdown(c->fd, SHUT_RDWR);
			atomic_fetch_add_explicit(&g->timed_out[cause], 1, memory_order_relaxed);
		}
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

int connguard_create(const struct connguard_limits *lim, struct connguard **out)
{
	*out = NULL;
	struct connguard *g = calloc(1, sizeof(*g));
	if (!g)
		return -1;
	g->lim = *lim;
	g->head.next = g->head.prev = &g->head;
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&g->watchdog, NULL, watchdog_main, g)) {
		pthread_cond_destroy(&g->wake);
		pthread_mutex_destroy(&g->lock);
		free(g);
		return -1;
	}
	*out = g;
	return 0;
}

void connguard_free(struct connguard *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->stopping = 1;
	pthread_cond_signal(&g->wake);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->watchdog, NULL);
	for (size_t b = 0; b < BUCKETS; b++)
		while (g->buckets[b]) {
			struct addr_count *c = g->buckets[b];
			g->buckets[b] = c->next;
			free(c);
		}
	pthread_cond_destroy(&g->wake);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

void connguard_write_metrics(struct connguard *g, FILE *f)
{
	pthread_mutex_lock(&g->lock);
	int open = g->open;
	pthread_mutex_unlock(&g->lock);
	fprintf(f, "# HELP traind_http_connections Connections open now.\n"
		   "# TYPE traind_http_connections gauge\n"
		   "traind_http_connections %d\n"
		   "# HELP traind_http_connections_limit Connections the server holds at most, in "
		   "all and from one address.\n"
		   "# TYPE traind_http_connections_limit gauge\n"
		   "traind_http_connections_limit{scope=\"total\"} %d\n"
		   "traind_http_connections_limit{scope=\"per_address\"} %d\n"
		   "# HELP traind_http_connections_refused_total Connections closed on arrival, by "
		   "the limit they were over.\n"
		   "# TYPE traind_http_connections_refused_total counter\n",
		open, g->lim.max_connections, g->lim.per_address);
	for (int k = 0; k < N_REFUSE; k++)
		fprintf(f, "traind_http_connections_refused_total{cause=\"%s\"} %lu\n",
			refuse_names[k], atomic_load_explicit(&g->refused[k], memory_order_relaxed));
	fprintf(f, "# HELP traind_http_connections_timed_out_total Connections closed past a "
		   "deadline: header, body_rate or idle.\n"
		   "# TYPE traind_http_connections_timed_out_total counter\n");
	for (int k = 0; k < N_TIMEOUT; k++)
		fprintf(f, "traind_http_connections_timed_out_total{cause=\"%s\"} %lu\n",
			timeout_names[k],
			atomic_load_explicit(&g->timed_out[k], memory_order_relaxed));
}
