/*
 * engine_only.c - the engine as a library of its own: this program links
 * libtraind_engine.a and nothing of the store, daemon or CLI, so the build
 * fails if an engine file calls into a layer above it. It trains a small
 * model on a synthetic data set and checks it learned (exit 0) - the
 * engine's public API used the way an embedding program would.
 */
#include <stdio.h>
#include <stdlib.h>

#include "traind/dataset.h"
#include "traind/jobcfg.h"
#include "traind/pool.h"
#include "traind/rng.h"
#include "traind/train.h"

int main(void)
{
	enum { N_TRAIN = 512, N_TEST = 128, W = 8 };
	size_t n = N_TRAIN + N_TEST;
	uint8_t *x = malloc(n * W * W), *y = malloc(n);
	if (!x || !y)
		return 1;
	struct td_rng r;
	rng_seed(&r, 3);
	for (size_t i = 0; i < n; i++) { /* class c: the left or right half lit */
		int c = (int)rng_below(&r, 2);
		y[i] = (uint8_t)c;
		for (int p = 0; p < W * W; p++)
			x[i * W * W + (size_t)p] =
				(uint8_t)(((p % W < W / 2) == (c == 0)) ? 150 + rng_below(&r, 100)
									: rng_below(&r, 60));
	}
	struct dataset *d = dataset_from_memory("halves", W, W, 2, NULL, x, y, N_TRAIN,
						x + (size_t)N_TRAIN * W * W, y + N_TRAIN, N_TEST);
	free(x);
	free(y);
	struct job_config c;
	jobcfg_defaults(&c);
	c.n_hidden = 1;
	c.hidden[0] = 8;
	c.epochs = 2;
	c.workers = 1;
	c.augment = AUGMENT_NONE;
	struct td_error e = {0};
	struct jobcfg_limits lim;
	jobcfg_limits_default(&lim, 1);
	struct pool *pool = NULL;
	struct trainer *t = NULL;
	if (!d || jobcfg_finish(&c, &lim, &e) || pool_create(1, &pool, &e) ||
	    trainer_create(&c, d, pool, &t, &e)) {
		fprintf(stderr, "engine_only: %s\n", e.msg[0] ? e.msg : "out of memory");
		return 1;
	}
	struct train_hooks hooks = {0};
	int rc = trainer_run(t, &hooks);
	double loss, acc;
	trainer_evaluate(t, 1, &loss, &acc);
	printf("engine_only: trained with the engine library alone: test accuracy %.3f\n", acc);
	trainer_free(t);
	pool_free(pool);
	dataset_free(d);
	return rc == 0 && acc > 0.9 ? 0 : 1;
}
