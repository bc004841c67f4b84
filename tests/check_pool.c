/*
 * check_pool.c - the worker pool: every worker runs once per run, barriers
 * order phases, runs from two threads take turns, pools are reusable, and
 * a pool made with a nice increment runs its threads that much lower.
 */
#include <pthread.h>
#include <string.h>
#include <sys/resource.h>
#ifdef __linux__
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "check_suites.h"
#include "traind/pool.h"

struct count_task {
	int calls[8];
	int n_seen[8];
};

static void count_fn(void *arg, int w, int n)
{
	struct count_task *t = arg;
	__atomic_add_fetch(&t->calls[w], 1, __ATOMIC_RELAXED);
	t->n_seen[w] = n;
}

START_TEST(test_each_worker_runs_once_per_run)
{
	struct pool *p;
	ck_assert_int_eq(pool_create(4, &p, NULL), 0);
	ck_assert_int_eq(pool_size(p), 4);
	for (int n = 1; n <= 4; n++) {
		struct count_task t;
		memset(&t, 0, sizeof(t));
		pool_run(p, n, count_fn, &t);
		for (int w = 0; w < 4; w++) {
			ck_assert_int_eq(t.calls[w], w < n ? 1 : 0);
			if (w < n)
				ck_assert_int_eq(t.n_seen[w], n);
		}
	}
	pool_free(p);
}
END_TEST

/* Phase 1 writes slot w; after the barrier each worker reads all slots. */
struct phase_task {
	struct pool *p;
	int round;
	int slots[4];
	int sums[4];
};

static void phase_fn(void *arg, int w, int n)
{
	struct phase_task *t = arg;
	for (int r = 0; r < 50; r++) {
		t->slots[w] = r * 10 + w;
		pool_barrier(t->p);
		int sum = 0;
		for (int i = 0; i < n; i++)
			sum += t->slots[i];
		if (sum != r * 10 * n + n * (n - 1) / 2)
			t->sums[w] = -1;
		pool_barrier(t->p);
	}
	if (t->sums[w] != -1)
		t->sums[w] = 1;
}

START_TEST(test_barrier_separates_phases)
{
	struct pool *p;
	ck_assert_int_eq(pool_create(4, &p, NULL), 0);
	for (int n = 1; n <= 4; n++) {
		struct phase_task t;
		memset(&t, 0, sizeof(t));
		t.p = p;
		pool_run(p, n, phase_fn, &t);
		for (int w = 0; w < n; w++)
			ck_assert_int_eq(t.sums[w], 1);
	}
	pool_free(p);
}
END_TEST

struct shared_run {
	struct pool *p;
	long total;
	int inside;
	int overlap;
};

static void serial_fn(void *arg, int w, int n)
{
	struct shared_run *s = arg;
	(void)n;
	if (w == 0 && __atomic_add_fetch(&s->inside, 1, __ATOMIC_SEQ_CST) != 1)
		__atomic_store_n(&s->overlap, 1, __ATOMIC_SEQ_CST);
	pool_barrier(s->p);
	__atomic_add_fetch(&s->total, 1, __ATOMIC_RELAXED);
	pool_barrier(s->p);
	if (w == 0)
		__atomic_sub_fetch(&s->inside, 1, __ATOMIC_SEQ_CST);
}

static void *runs_thread(void *arg)
{
	struct shared_run *s = arg;
	for (int i = 0; i < 200; i++)
		pool_run(s->p, 2, serial_fn, s);
	return NULL;
}

START_TEST(test_runs_from_two_threads_take_turns)
{
	struct shared_run s;
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(pool_create(2, &s.p, NULL), 0);
	pthread_t a, b;
	pthread_create(&a, NULL, runs_thread, &s);
	pthread_create(&b, NULL, runs_thread, &s);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	ck_assert_int_eq(s.overlap, 0);
	ck_assert_int_eq(s.total, 2 * 200 * 2);
	pool_free(s.p);
}
END_TEST

START_TEST(test_bad_sizes_and_clean_stop)
{
	struct pool *p;
	struct td_error e;
	ck_assert_int_eq(pool_create(0, &p, &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "workers");
	ck_assert_ptr_null(p);
	/* Created and freed without ever running: threads must still join. */
	for (int i = 0; i < 20; i++) {
		ck_assert_int_eq(pool_create(3, &p, NULL), 0);
		pool_free(p);
	}
}
END_TEST

#ifdef __linux__
/* This thread's nice value (per thread on Linux). */
static int thread_nice(void)
{
	return getpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid));
}

struct nice_task {
	int nice[8];
};

static void nice_fn(void *arg, int w, int n)
{
	(void)n;
	((struct nice_task *)arg)->nice[w] = thread_nice();
}

/* Runs on a thread of its own, so that the test's thread keeps its nice. */
static void *lower_self(void *arg)
{
	int *got = arg;
	struct td_error e;
	got[0] = thread_nice();
	got[1] = pool_lower_thread_priority(3, &e);
	got[2] = thread_nice();
	got[3] = pool_lower_thread_priority(POOL_MAX_NICE, &e); /* capped at 19 */
	got[4] = thread_nice();
	return NULL;
}
#endif

START_TEST(test_nice_lowers_only_the_pool_threads)
{
	struct pool *p;
	struct td_error e;
	struct pool_options o = {.nice = POOL_MAX_NICE + 1};
	ck_assert_int_eq(pool_create_opts(2, &o, &p, &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "nice");
	ck_assert_int_eq(pool_lower_thread_priority(-1, &e), TD_EINVAL);
#ifdef __linux__
	int base = thread_nice();
	ck_assert_int_le(base, 19 - 5);
	for (int nice = 0; nice <= 5; nice += 5) {
		o.nice = nice;
		ck_assert_int_eq(pool_create_opts(3, &o, &p, &e), 0);
		struct nice_task t;
		memset(&t, 0, sizeof(t));
		pool_run(p, 3, nice_fn, &t);
		ck_assert_int_eq(t.nice[0], base); /* the caller is not touched */
		ck_assert_int_eq(t.nice[1], base + nice);
		ck_assert_int_eq(t.nice[2], base + nice);
		pool_free(p);
	}
	/* pool_create is the pool of no options. */
	ck_assert_int_eq(pool_create(2, &p, NULL), 0);
	struct nice_task t;
	pool_run(p, 2, nice_fn, &t);
	ck_assert_int_eq(t.nice[1], base);
	pool_free(p);
	int got[5];
	pthread_t th;
	pthread_create(&th, NULL, lower_self, got);
	pthread_join(th, NULL);
	ck_assert_int_eq(got[0], base);
	ck_assert_int_eq(got[1], 0);
	ck_assert_int_eq(got[2], base + 3);
	ck_assert_int_eq(got[3], 0);
	ck_assert_int_eq(got[4], 19);
	ck_assert_int_eq(thread_nice(), base);
#else
	o.nice = 1;
	ck_assert_int_eq(pool_create_opts(2, &o, &p, &e), TD_EINVAL);
#endif
}
END_TEST

Suite *suite_pool(void)
{
	Suite *s = suite_create("pool");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_each_worker_runs_once_per_run);
	tcase_add_test(tc, test_barrier_separates_phases);
	tcase_add_test(tc, test_runs_from_two_threads_take_turns);
	tcase_add_test(tc, test_bad_sizes_and_clean_stop);
	tcase_add_test(tc, test_nice_lowers_only_the_pool_threads);
	suite_add_tcase(s, tc);
	return s;
}
