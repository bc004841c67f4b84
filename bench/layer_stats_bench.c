/*
 * layer_stats_bench.c - what the per-layer statistics cost a training
 * step: the same job trained with them measured and not, alternating, in
 * one run; prints the fastest epoch's CPU time per step of each (the
 * least disturbed by other load on the machine) and the difference.
 * Built and run by bench/layer-stats-bench.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "traind/dataset.h"
#include "traind/pool.h"
#include "traind/train.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t); /* CPU time: other load on a shared machine does not count */
	return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Seconds per step of one epoch. */
static double epoch_step_seconds(const struct job_config *c, const struct dataset *ds,
				 struct pool *pool, int every)
{
	struct trainer *t;
	struct td_error e;
	if (trainer_create(c, ds, pool, &t, &e)) {
		fprintf(stderr, "%s\n", e.msg);
		exit(1);
	}
	trainer_measure_layers(t, every);
	double t0 = now();
	trainer_run(t, NULL);
	double s = now() - t0;
	struct train_progress p;
	trainer_progress(t, &p);
	trainer_free(t);
	return s / (double)p.step;
}

int main(int argc, char **argv)
{
	const char *data = argc > 1 ? argv[1] : "data";
	int rounds = argc > 2 ? atoi(argv[2]) : 9;
	if (rounds < 1)
		rounds = 1;
	struct dataset_registry *reg = registry_create();
	const struct dataset *ds;
	struct td_error e;
	registry_add_defaults(reg, data, NULL);
	if (registry_get(reg, "digits", &ds, &e)) {
		fprintf(stderr, "%s\n", e.msg);
		return 1;
	}
	static const struct {
		int hidden[2], n_hidden, batch, workers;
	} cases[] = {
		{{100, 0}, 1, 64, 1}, {{128, 0}, 1, 32, 1}, {{256, 128}, 2, 128, 1}, {{100, 0}, 1, 64, 2},
	};
	printf("CPU time per step, fastest of %d epochs; measured at every step vs never,\n"
	       "and the cost at the daemon's rate (every %d steps)\n", rounds,
	       TRAIN_LAYER_STATS_EVERY);
	printf("%-14s %6s %8s %12s %12s %11s %11s\n", "hidden", "batch", "workers", "never (us)",
	       "every (us)", "per step", "amortised");
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct job_config c;
		jobcfg_defaults(&c);
		c.n_hidden = cases[k].n_hidden;
		memcpy(c.hidden, cases[k].hidden, sizeof(cases[k].hidden));
		c.batch_size = cases[k].batch;
		c.workers = cases[k].workers;
		c.epochs = 1;
		c.optimizer = OPT_SGD;
		c.learning_rate = 0.1;
		struct pool *pool;
		if (pool_create(c.workers, &pool, &e))
			return 1;
		double *on = malloc(sizeof(double) * (size_t)rounds), *off = malloc(sizeof(double) * (size_t)rounds);
		for (int r = 0; r < rounds; r++) {
			off[r] = epoch_step_seconds(&c, ds, pool, 0);
			on[r] = epoch_step_seconds(&c, ds, pool, 1);
		}
		qsort(on, (size_t)rounds, sizeof(double), cmp);
		qsort(off, (size_t)rounds, sizeof(double), cmp);
		/* The fastest round of each: measured at every step, and not. */
		double a = off[0], b = on[0];
		char h[32];
		if (c.n_hidden == 1)
			snprintf(h, sizeof(h), "784-%d-10", c.hidden[0]);
		else
			snprintf(h, sizeof(h), "784-%d-%d-10", c.hidden[0], c.hidden[1]);
		printf("%-14s %6d %8d %12.1f %12.1f %10.2f%% %10.2f%%\n", h, c.batch_size, c.workers,
		       1e6 * a, 1e6 * b, 100 * (b - a) / a,
		       100 * (b - a) / a / TRAIN_LAYER_STATS_EVERY);
		free(on);
		free(off);
		pool_free(pool);
	}
	registry_free(reg);
	return 0;
}
