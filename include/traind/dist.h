/*
 * dist.h - one training job across processes and hosts, on Open MPI.
 *
 * `mpirun -np N traind train ...` starts N ranks; each loads the data set
 * itself, runs its own worker pool on its share of every minibatch's slots
 * (slot s belongs to rank s % N) and gets the other slots' gradients from
 * their ranks (train.h, struct train_exchange). Every rank then adds all
 * slots in slot order, as one process does, so the weights are
 * bit-identical for any N and any workers per rank.
 *
 * Why not MPI_Allreduce: its summation order depends on the algorithm Open
 * MPI picks for the communicator and the message size, so the same
 * gradients summed on 2 and on 3 ranks differ in the last bits. Here each
 * slot's gradient travels as it was computed (one MPI_Bcast from its
 * owner) and the sum is taken locally in a fixed order. The cost is S
 * slot buffers per step instead of one reduced buffer: for 784-128-10 at
 * batch 64 (4 slots) that is 4 x 407 KB per step. The losses and hit
 * counts go by one MPI_Allreduce of values that are zero on every rank but
 * the owner, which is exact in any order.
 *
 * Rank 0 also checks that every rank trains the same thing: the job's
 * configuration, a digest of the data set and the kernel tier; a rank
 * that differs stops the job with an error naming it and its host.
 *
 * Without MPI in the build (or outside mpirun) there is one rank and
 * nothing here touches MPI.
 */
#ifndef TRAIND_DIST_H
#define TRAIND_DIST_H

#include <stddef.h>

#include "traind/error.h"
#include "traind/train.h"

/* 1 when this traind was built with Open MPI. */
int dist_built_with_mpi(void);
/* 1 when this process was started by mpirun (its environment says so). */
int dist_launched(void);

struct dist;

/* Joins the ranks when launched by mpirun (MPI_Init), else a world of
 * one. Under mpirun without MPI in the build: TD_EINVAL saying so. */
int dist_init(int *argc, char ***argv, struct dist **out, struct td_error *e);
/* Leaves (MPI_Finalize) and frees; NULL is fine. */
void dist_finish(struct dist *d);

int dist_rank(const struct dist *d);
int dist_ranks(const struct dist *d);
const char *dist_host(const struct dist *d);

/* Every rank passes its own `value` of `what` ("configuration", "data
 * set", ...); all get 0 when they agree, else TD_EINVAL with a message
 * naming the first rank that differs from rank 0, its host and both
 * values. Collective: every rank must call it. */
int dist_agree(struct dist *d, const char *what, const char *value, struct td_error *e);

/* Rank 0's bytes (and its result rc) at every rank: rank 0 passes what
 * it read, the others get a malloc'd copy in *buf. A nonzero rc on rank 0
 * is every rank's error. Collective; a no-op for one rank. */
int dist_share(struct dist *d, int rc, void **buf, size_t *len, struct td_error *e);

/* Every rank's host and pid, at rank 0, as a JSON array text
 * [{"rank": 0, "host": "...", "pid": 123}, ...] (malloc'd; NULL on the
 * other ranks). Collective. */
char *dist_ranks_json(struct dist *d);

/* The exchange for a trainer on this rank (ranks 1: a no-op). */
int dist_attach(struct dist *d, struct trainer *t, struct td_error *e);

/* Time spent in exchanges and bytes received, since dist_init. */
void dist_stats(const struct dist *d, double *seconds, double *bytes, long *exchanges);

#endif
