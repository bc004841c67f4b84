/*
 * pool.c - the worker pool (see pool.h).
 *
 * How the threads meet
 * --------------------
 * One mutex guards the pool's shared state; three condition variables hang
 * off it:
 *
 *   work     the caller of pool_run() publishes (fn, arg, n) and bumps
 *            `run_gen`; threads wait on `work` for run_gen to change. A
 *            thread whose index is >= n goes back to sleep.
 *   done     each participating thread decrements `running` when its fn
 *            returns; the last one signals `done`, on which the caller
 *            (worker 0, after running its own share) waits.
 *   barrier  pool_barrier() counts arrivals; the last arrival bumps
 *            `bar_gen` and broadcasts; the others wait for bar_gen to change.
 *            A generation counter (not the count) is what waiters test, so
 *            a fast worker that reaches the next barrier cannot be confused
 *            with one still leaving the previous.
 *
 * Why a barrier first watches for up to POOL_SPIN_NS before it sleeps:
 * training meets at two barriers per minibatch, and a step of batch 64 takes
 * about 150 us on two cores. Waking a thread that sleeps on a condition
 * variable costs 25-30 us on the 2-vCPU virtual machines this was measured on
 * (the host must wake the idle vCPU), a third of the step, while the other
 * worker usually arrives within a few microseconds. So an early arrival
 * first re-reads the generation with a pause instruction between reads for
 * at most POOL_SPIN_NS, then sleeps on the condition variable as before -
 * the bounded spin-then-block of OpenMP runtimes and glibc's adaptive
 * mutexes. The bound keeps it from ever burning a core: a worker that
 * waits longer sleeps, and threads idle between runs always sleep.
 *
 * Ownership: the pool owns its threads and nothing else. Whatever fn
 * touches belongs to the caller of pool_run, who by protocol keeps
 * per-worker data apart (worker w writes only its own buffers) and uses
 * pool_barrier() between phases that read what others wrote. The mutex
 * hand-offs give the happens-before edges that make those writes visible.
 *
 * Priority (pool_create_opts): a pool made with a nice increment has each
 * thread lower its own priority before it first waits for work (Linux
 * nice is per thread: setpriority on the thread's id), and pool_create_opts
 * waits for them, so an error is the creator's to report. The daemon's job
 * runners use it so that training yields the cores to the HTTP threads;
 * the CLI's pool keeps the caller's priority.
 *
 * `run_lock` serialises whole runs, so two jobs sharing a pool take turns.
 * Shutdown: pool_free sets `stop`, broadcasts `work` and joins.
 */
#include "traind/pool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

/* How long a barrier's early arrival watches before sleeping; see above. */
#define POOL_SPIN_NS 50000L

struct pool_thread {
	struct pool *pool;
	int index; /* 1..size-1; worker 0 is the caller */
	pthread_t tid;
};

struct pool {
	int size;
	pthread_mutex_t run_lock; /* one run at a time */
	pthread_mutex_t lock;
	pthread_cond_t work, done, barrier;
	pthread_cond_t started; /* a thread applied its priority (nice > 0 only) */
	int nice;               /* the options' increment */
	int n_started;          /* threads past their priority change */
	int start_err;          /* the first thread's errno, 0 */
	unsigned long run_gen; /* bumped per run */
	unsigned long bar_gen; /* bumped per barrier release; read atomically while spinning */
	int sleepers;          /* threads asleep on `barrier` */
	int running;           /* threads (not the caller) still in fn */
	int arrived;           /* at the current barrier */
	int n;                 /* workers in the current run */
	int stop;
	pool_task_fn fn;
	void *arg;
	struct pool_thread *threads;
};

/* Lowers the calling thread's priority by `inc` nice steps (capped at
 * 19); 0 or an errno. */
static int lower_priority(int inc)
{
#ifdef __linux__
	id_t tid = (id_t)syscall(SYS_gettid);
	errno = 0;
	int now = getpriority(PRIO_PROCESS, tid);
	if (now == -1 && errno)
		return errno;
	int to = now + inc > 19 ? 19 : now + inc;
	return to == now || setpriority(PRIO_PROCESS, tid, to) == 0 ? 0 : errno;
#else
	(void)inc;
	return ENOTSUP; /* no per-thread priority: setpriority would renice the process */
#endif
}

int pool_lower_thread_priority(int nice, struct td_error *e)
{
	if (nice < 0 || nice > POOL_MAX_NICE)
		return td_errorf(e, TD_EINVAL, "nice", "a nice increment is 0..%d, not %d",
				 POOL_MAX_NICE, nice);
	int err = nice ? lower_priority(nice) : 0;
	if (err)
		return td_errorf(e, TD_EINVAL, "nice", "cannot lower a thread's priority "
				 "by %d: %s", nice, strerror(err));
	return 0;
}

static void *pool_thread_main(void *p_)
{
	struct pool_thread *t = p_;
	struct pool *p = t->pool;
	unsigned long seen = 0;
	int err = p->nice > 0 ? lower_priority(p->nice) : 0;
	pthread_mutex_lock(&p->lock);
	if (p->nice > 0) {
		if (err && !p->start_err)
			p->start_err = err;
		p->n_started++;
		pthread_cond_signal(&p->started);
	}
	for (;;) {
		while (!p->stop && p->run_gen == seen)
			pthread_cond_wait(&p->work, &p->lock);
		if (p->stop)
			break;
		seen = p->run_gen;
		if (t->index >= p->n)
			continue;
		pool_task_fn fn = p->fn;
		void *arg = p->arg;
		int n = p->n;
		pthread_mutex_unlock(&p->lock);
		fn(arg, t->index, n);
		pthread_mutex_lock(&p->lock);
		if (--p->running == 0)
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Waits for the threads started so far to apply their priority; returns
 * the first one's errno, or 0. */
static int wait_started(struct pool *p, int threads)
{
	pthread_mutex_lock(&p->lock);
	while (p->n_started < threads)
		pthread_cond_wait(&p->started, &p->lock);
	int err = p->start_err;
	pthread_mutex_unlock(&p->lock);
	return err;
}

int pool_create_opts(int n_workers, const struct pool_options *o, struct pool **out,
		     struct td_error *e)
{
	*out = NULL;
	int nice = o ? o->nice : 0;
	if (n_workers < 1 || n_workers > POOL_MAX_WORKERS)
		return td_errorf(e, TD_EINVAL, "workers", "workers must be 1..%d, not %d",
				 POOL_MAX_WORKERS, n_workers);
	if (nice < 0 || nice > POOL_MAX_NICE)
		return td_errorf(e, TD_EINVAL, "nice", "a nice increment is 0..%d, not %d",
				 POOL_MAX_NICE, nice);
	struct pool *p = calloc(1, sizeof(*p));
	if (!p)
		return td_errorf(e, TD_ENOMEM, "", "out of memory creating the worker pool");
	p->size = n_workers;
	p->nice = nice;
	pthread_mutex_init(&p->run_lock, NULL);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	pthread_cond_init(&p->barrier, NULL);
	pthread_cond_init(&p->started, NULL);
	p->threads = calloc((size_t)n_workers, sizeof(*p->threads));
	if (!p->threads) {
		p->size = 1; /* no thread to join */
		pool_free(p);
		return td_errorf(e, TD_ENOMEM, "", "out of memory creating the worker pool");
	}
	for (int i = 1; i < n_workers; i++) {
		p->threads[i].pool = p;
		p->threads[i].index = i;
		if (pthread_create(&p->threads[i].tid, NULL, pool_thread_main, &p->threads[i])) {
			p->size = i; /* join only those started */
			pool_free(p);
			return td_errorf(e, TD_ENOMEM, "workers",
					 "could not start worker thread %d of %d", i, n_workers);
		}
	}
	int err = nice > 0 ? wait_started(p, n_workers - 1) : 0;
	if (err) {
		pool_free(p);
		return td_errorf(e, TD_EINVAL, "nice", "cannot lower the worker threads' "
				 "priority by %d: %s", nice, strerror(err));
	}
	*out = p;
	return 0;
}

int pool_create(int n_workers, struct pool **out, struct td_error *e)
{
	return pool_create_opts(n_workers, NULL, out, e);
}

void pool_free(struct pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (int i = 1; i < p->size; i++)
		pthread_join(p->threads[i].tid, NULL);
	free(p->threads);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_cond_destroy(&p->barrier);
	pthread_cond_destroy(&p->started);
	pthread_mutex_destroy(&p->lock);
	pthread_mutex_destroy(&p->run_lock);
	free(p);
}

int pool_online_cores(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > POOL_MAX_WORKERS ? POOL_MAX_WORKERS : (int)n;
}

int pool_size(const struct pool *p)
{
	return p->size;
}

void pool_run(struct pool *p, int n_workers, pool_task_fn fn, void *arg)
{
	if (n_workers < 1)
		n_workers = 1;
	if (n_workers > p->size)
		n_workers = p->size;
	pthread_mutex_lock(&p->run_lock);
	if (n_workers > 1) {
		pthread_mutex_lock(&p->lock);
		p->fn = fn;
		p->arg = arg;
		p->n = n_workers;
		p->running = n_workers - 1;
		p->arrived = 0;
		p->run_gen++;
		pthread_cond_broadcast(&p->work);
		pthread_mutex_unlock(&p->lock);
	} else {
		pthread_mutex_lock(&p->lock);
		p->n = 1;
		pthread_mutex_unlock(&p->lock);
	}
	fn(arg, 0, n_workers);
	if (n_workers > 1) {
		pthread_mutex_lock(&p->lock);
		while (p->running > 0)
			pthread_cond_wait(&p->done, &p->lock);
		pthread_mutex_unlock(&p->lock);
	}
	pthread_mutex_unlock(&p->run_lock);
}

static long elapsed_ns(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000000000L + (t.tv_nsec - t0->tv_nsec);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

void pool_barrier(struct pool *p)
{
	pthread_mutex_lock(&p->lock);
	if (p->n <= 1) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	unsigned long gen = p->bar_gen;
	if (++p->arrived == p->n) {
		p->arrived = 0;
		__atomic_store_n(&p->bar_gen, gen + 1, __ATOMIC_RELEASE);
		if (p->sleepers)
			pthread_cond_broadcast(&p->barrier);
		pthread_mutex_unlock(&p->lock);
		return;
	}
	pthread_mutex_unlock(&p->lock);
	/* Bounded watch for the last arrival (see the top of this file). */
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 1;; i++) {
		if (__atomic_load_n(&p->bar_gen, __ATOMIC_ACQUIRE) != gen)
			return;
		cpu_relax();
		if ((i & 63) == 0 && elapsed_ns(&t0) > POOL_SPIN_NS)
			break;
	}
	pthread_mutex_lock(&p->lock);
	p->sleepers++;
	while (p->bar_gen == gen)
		pthread_cond_wait(&p->barrier, &p->lock);
	p->sleepers--;
	pthread_mutex_unlock(&p->lock);
}
