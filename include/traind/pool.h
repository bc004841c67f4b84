/*
 * pool.h - a persistent pool of worker threads that run one task together.
 *
 * pool_run(pool, n, fn, arg) calls fn(arg, w, n) once for each worker
 * w = 0..n-1 and returns when all have returned. Worker 0 is the calling
 * thread, so a run of one worker involves no other thread at all. Inside a
 * task, pool_barrier() makes all n workers of the run meet. Threads sleep
 * on condition variables between runs; at a barrier an early arrival
 * watches for the last one for a bounded few tens of microseconds, then
 * sleeps (pool.c says why).
 *
 * One run at a time per pool: concurrent pool_run calls from different
 * threads are serialized. A pool is reused by job after job and stopped by
 * pool_free, which wakes every thread with a stop flag and joins it.
 */
#ifndef TRAIND_POOL_H
#define TRAIND_POOL_H

#include "traind/error.h"

#define POOL_MAX_WORKERS 256

struct pool;

typedef void (*pool_task_fn)(void *arg, int worker, int n_workers);

/* The most a pool's threads may lower their priority by (nice's range). */
#define POOL_MAX_NICE 19

/* How a pool's threads run; all zero is what pool_create makes. */
struct pool_options {
	/* 0..POOL_MAX_NICE: each thread lowers its scheduling priority by this
	 * many nice steps from its creator's (capped at 19) before its first
	 * run. Linux only (per-thread nice); elsewhere a non-zero value is
	 * TD_EINVAL. Worker 0 is the caller of pool_run: it applies the
	 * same to itself with pool_lower_thread_priority. */
	int nice;
};

/* A pool of n_workers (>= 1): n_workers - 1 threads plus the caller. */
int pool_create(int n_workers, struct pool **out, struct td_error *e);
/* The same with options (NULL: none); TD_EINVAL when the threads
 * cannot lower their priority. */
int pool_create_opts(int n_workers, const struct pool_options *o, struct pool **out,
		     struct td_error *e);

/* Lowers the calling thread's (not the process's) priority by `nice`
 * (0..POOL_MAX_NICE) steps, capped at 19. A thread cannot raise it back
 * without privilege. TD_EINVAL (a bad value, or the system refused). */
int pool_lower_thread_priority(int nice, struct td_error *e);
void pool_free(struct pool *p);

int pool_size(const struct pool *p);

/* The cores online (1..POOL_MAX_WORKERS): the default worker count. */
int pool_online_cores(void);

/* Runs fn on n_workers (1..pool_size) workers and waits for all of them. */
void pool_run(struct pool *p, int n_workers, pool_task_fn fn, void *arg);

/* Within a task: waits until all workers of the current run arrive. */
void pool_barrier(struct pool *p);

#endif
