/*
 * dist.c - data-parallel training across ranks on Open MPI (see dist.h).
 */
#include "traind/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

#ifdef HAVE_MPI
#include <mpi.h>
#endif

#define DIST_VALUE_MAX 256

struct dist {
	int rank, ranks;
	int mpi; /* MPI_Init was called */
	char host[64];
	double seconds, bytes;
	long exchanges;
};

int dist_built_with_mpi(void)
{
#ifdef HAVE_MPI
	return 1;
#else
	return 0;
#endif
}

int dist_launched(void)
{
	const char *size = getenv("OMPI_COMM_WORLD_SIZE");
	return (size && *size) || getenv("PMIX_RANK") != NULL;
}

int dist_init(int *argc, char ***argv, struct dist **out, struct td_error *e)
{
	*out = NULL;
	struct dist *d = calloc(1, sizeof(*d));
	if (!d)
		return td_errorf(e, TD_ENOMEM, "", "out of memory");
	d->ranks = 1;
	if (gethostname(d->host, sizeof(d->host) - 1))
		snprintf(d->host, sizeof(d->host), "unknown");
	if (dist_launched()) {
#ifdef HAVE_MPI
		/* Only the thread that runs the trainer (worker 0) calls MPI. */
		int provided;
		if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
			free(d);
			return td_errorf(e, TD_EIO, "ranks", "MPI_Init failed");
		}
		d->mpi = 1;
		MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
		MPI_Comm_size(MPI_COMM_WORLD, &d->ranks);
#else
		(void)argc;
		(void)argv;
		free(d);
		return td_errorf(e, TD_EINVAL, "ranks",
				 "this traind was built without MPI, so it cannot train across "
				 "ranks: install libopenmpi-dev and rebuild");
#endif
	}
	*out = d;
	return 0;
}

void dist_finish(struct dist *d)
{
	if (!d)
		return;
#ifdef HAVE_MPI
	if (d->mpi)
		MPI_Finalize();
#endif
	free(d);
}

int dist_rank(const struct dist *d)
{
	return d ? d->rank : 0;
}

int dist_ranks(const struct dist *d)
{
	return d ? d->ranks : 1;
}

const char *dist_host(const struct dist *d)
{
	return d ? d->host : "";
}

int dist_agree(struct dist *d, const char *what, const char *value, struct td_error *e)
{
	if (!d || d->ranks == 1)
		return 0;
#ifdef HAVE_MPI
	/* Gather (host, value) of every rank at every rank, fixed width. */
	size_t W = 64 + DIST_VALUE_MAX;
	char *mine = calloc(1, W), *all = calloc((size_t)d->ranks, W);
	if (!mine || !all) {
		free(mine);
		free(all);
		MPI_Abort(MPI_COMM_WORLD, 1);
		return TD_ENOMEM;
	}
	snprintf(mine, 64, "%s", d->host);
	snprintf(mine + 64, DIST_VALUE_MAX, "%s", value);
	MPI_Allgather(mine, (int)W, MPI_CHAR, all, (int)W, MPI_CHAR, MPI_COMM_WORLD);
	int rc = 0;
	for (int r = 1; r < d->ranks && !rc; r++)
		if (strcmp(all + 64, all + (size_t)r * W + 64) != 0)
			rc = td_errorf(e, TD_EINVAL, "ranks",
				       "rank %d on %s has another %s than rank 0 on %s (%.80s, not "
				       "%.80s)",
				       r, all + (size_t)r * W, what, all, all + (size_t)r * W + 64,
				       all + 64);
	free(mine);
	free(all);
	return rc;
#else
	(void)what;
	(void)value;
	(void)e;
	return 0;
#endif
}

char *dist_ranks_json(struct dist *d)
{
	struct rank_id {
		char host[64];
		long pid;
	} mine = {{0}, (long)getpid()}, *all = NULL;
	snprintf(mine.host, sizeof(mine.host), "%s", dist_host(d));
	int n = dist_ranks(d);
#ifdef HAVE_MPI
	if (n > 1) {
		if (d->rank == 0 && !(all = calloc((size_t)n, sizeof(*all))))
			MPI_Abort(MPI_COMM_WORLD, 1);
		MPI_Gather(&mine, (int)sizeof(mine), MPI_BYTE, all, (int)sizeof(mine), MPI_BYTE, 0,
			   MPI_COMM_WORLD);
		if (d->rank != 0)
			return NULL;
	}
#endif
	if (!all) {
		n = 1;
		all = &mine;
	}
	size_t cap = 96 * (size_t)n + 4, len = 0;
	char *s = malloc(cap);
	if (s) {
		len += (size_t)snprintf(s, cap, "[");
		for (int r = 0; r < n; r++) /* host names are letters, digits, '-' and '.' */
			len += (size_t)snprintf(s + len, cap - len,
						"%s{\"rank\": %d, \"host\": \"%.63s\", \"pid\": %ld}",
						r ? ", " : "", r, all[r].host, all[r].pid);
		snprintf(s + len, cap - len, "]");
	}
	if (all != &mine)
		free(all);
	return s;
}

int dist_share(struct dist *d, int rc, void **buf, size_t *len, struct td_error *e)
{
	if (!d || d->ranks == 1)
		return rc;
#ifdef HAVE_MPI
	long long head[2] = {rc, (long long)*len};
	MPI_Bcast(head, 2, MPI_LONG_LONG, 0, MPI_COMM_WORLD);
	if (head[0])
		return d->rank == 0 ? rc
				    : td_errorf(e, (int)head[0], "resume",
						"rank 0 could not read the file to resume from");
	if (d->rank != 0) {
		*len = (size_t)head[1];
		*buf = malloc(*len ? *len : 1);
		if (!*buf) {
			MPI_Abort(MPI_COMM_WORLD, 1);
			return TD_ENOMEM;
		}
	}
	for (size_t off = 0; off < *len; off += 1u << 30) {
		size_t n = *len - off < (1u << 30) ? *len - off : (1u << 30);
		MPI_Bcast((char *)*buf + off, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD);
	}
	return 0;
#else
	(void)buf;
	(void)len;
	(void)e;
	return rc;
#endif
}

#ifdef HAVE_MPI
static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One MPI_Bcast per slot from its owner, then the losses and hits. */
static int mpi_exchange(void *arg, float *grads, size_t stride, size_t n, int slots,
			double *loss, long *correct, int *stop)
{
	struct dist *d = arg;
	double t0 = now();
	int rc = MPI_SUCCESS;
	for (int s = 0; s < slots && rc == MPI_SUCCESS; s++) {
		float *buf = grads + (size_t)s * stride;
		/* Counts are ints: send a large buffer in pieces. */
		for (size_t off = 0; off < n && rc == MPI_SUCCESS; off += 1u << 30) {
			size_t len = n - off < (1u << 30) ? n - off : (1u << 30);
			rc = MPI_Bcast(buf + off, (int)len, MPI_FLOAT, s % d->ranks, MPI_COMM_WORLD);
		}
		if (s % d->ranks != d->rank)
			d->bytes += (double)n * sizeof(float);
	}
	/* The hits and the stop wishes travel together: one more long. */
	double l[TRAIN_MAX_SLOTS];
	long cin[TRAIN_MAX_SLOTS + 1], c[TRAIN_MAX_SLOTS + 1];
	memcpy(cin, correct, sizeof(long) * (size_t)slots);
	cin[slots] = *stop != 0;
	if (rc == MPI_SUCCESS)
		rc = MPI_Allreduce(loss, l, slots, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
	if (rc == MPI_SUCCESS)
		rc = MPI_Allreduce(cin, c, slots + 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
	if (rc == MPI_SUCCESS) {
		memcpy(loss, l, sizeof(double) * (size_t)slots);
		memcpy(correct, c, sizeof(long) * (size_t)slots);
		*stop = c[slots] > 0;
	}
	d->seconds += now() - t0;
	d->exchanges++;
	return rc == MPI_SUCCESS ? 0 : -1;
}
#endif

#ifdef HAVE_MPI
static int mpi_agree_stop(void *arg, int stop)
{
	(void)arg;
	int any = 0, mine = stop != 0;
	if (MPI_Allreduce(&mine, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD) != MPI_SUCCESS)
		return 1;
	return any;
}
#endif

int dist_attach(struct dist *d, struct trainer *t, struct td_error *e)
{
	struct train_exchange x = {.arg = d, .rank = dist_rank(d), .ranks = dist_ranks(d)};
#ifdef HAVE_MPI
	if (x.ranks > 1) {
		x.exchange = mpi_exchange;
		x.agree_stop = mpi_agree_stop;
	}
#endif
	return trainer_set_exchange(t, &x, e);
}

void dist_stats(const struct dist *d, double *seconds, double *bytes, long *exchanges)
{
	*seconds = d ? d->seconds : 0;
	*bytes = d ? d->bytes : 0;
	*exchanges = d ? d->exchanges : 0;
}
