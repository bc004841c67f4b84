/*
 * pool.h - a persistent pool of worker threads that run one task together.
 *
 * pool_run(pool, n, fn, arg) calls fn(arg, w, n) once for each worker
 * w = 0..n-1 and returns when all have returned. Worker 0 is the calling
 * thread, so a run of one worker involves no other thread at all. Inside a
 * task, pool_barrier() makes all n workers of the run meet. Threads sleep
 * on condition variables between runs and at barriers: nothing spins.
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

/* A pool of n_workers (>= 1): n_workers - 1 threads plus the caller. */
int pool_create(int n_workers, struct pool **out, struct td_error *e);
void pool_free(struct pool *p);

int pool_size(const struct pool *p);

/* The cores online (1..POOL_MAX_WORKERS): the default worker count. */
int pool_online_cores(void);

/* Runs fn on n_workers (1..pool_size) workers and waits for all of them. */
void pool_run(struct pool *p, int n_workers, pool_task_fn fn, void *arg);

/* Within a task: waits until all workers of the current run arrive. */
void pool_barrier(struct pool *p);

#endif
