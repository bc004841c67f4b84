/*
 * trainer.c - the trainer's record (trainer_priv.h): creation with every
 * buffer sized once for the job, freeing, the pool and worker count, the
 * state a checkpoint saves and restores, and the accessors. The steps
 * themselves are train.c's.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "traind/firstlayer.h"
#include "traind/infer.h"
#include "traind/isa.h"
#include "traind/rng.h"
#include "traind/trainer_priv.h"

#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
#include <cblas.h>
#endif

void trainer_measure_layers(struct trainer *t, int every)
{
	t->lstat_every = every > 0 ? every : 0;
	t->lstat_n = 0;
	t->lstat_step = 0;
}

int trainer_layer_stats(const struct trainer *t, struct layer_stat *out, long *step)
{
	memcpy(out, t->lstat, sizeof(struct layer_stat) * (size_t)t->lstat_n);
	*step = t->lstat_step;
	return t->lstat_n;
}

/* ---- creation ------------------------------------------------------- */

static void *alloc_floats(size_t n)
{
	size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
	void *p = aligned_alloc(64, bytes ? bytes : 64);
	if (p)
		memset(p, 0, bytes);
	return p;
}

/* One worker's buffers, sized once for the job's largest slot. */
static int worker_state_init(struct trainer *t, struct worker_state *wk, struct td_error *e)
{
	const struct dataset *ds = t->ds;
	wk->labels = malloc((size_t)t->ws_cap);
	wk->shifted = malloc((size_t)t->ws_cap * (size_t)ds->features);
	wk->order = malloc(sizeof(uint32_t) * (size_t)t->ws_cap);
	const int dense0 = t->shape.layer[0].kind == LAYER_DENSE;
	wk->chunk = alloc_floats((size_t)FIRST_LAYER_CHUNK * (size_t)(dense0 ? t->shape.sizes[1] : 1));
	wk->zhalf = alloc_floats((size_t)t->ws_cap * (size_t)(dense0 ? t->shape.sizes[1] : 1));
	if (wk->order)
		for (int i = 0; i < t->ws_cap; i++)
			wk->order[i] = (uint32_t)i;
	if (!wk->labels || !wk->shifted || !wk->order || !wk->chunk || !wk->zhalf ||
	    nn_ws_init_f(&wk->ws, &t->shape, t->ws_cap))
		return td_errorf(e, TD_ENOMEM, "batch_size", "out of memory for the workers' buffers");
	return 0;
}

/* The tasks of a first layer shared by halves of the pixels and parts of
 * the columns (train.c), and each worker's buffers for them. Parts: half
 * the workers, rounded up, so each task has a worker of its own from two
 * workers on; task i goes to worker i * W / tasks (one worker: both). */
static int split_buffers_init(struct trainer *t, struct td_error *e)
{
	const size_t B = (size_t)t->cfg.batch_size, F = (size_t)t->ds->features;
	const size_t blocks = 1 + (size_t)optim_moments(t->cfg.optimizer);
	const int W = t->workers, T = (W + 1) / 2, P = train_pixel_half(t->ds);
	t->split_task = calloc((size_t)(2 * T), sizeof(*t->split_task));
	if (!t->split_task)
		return td_errorf(e, TD_ENOMEM, "batch_size", "out of memory for the workers' buffers");
	t->split_tasks = 2 * T;
	t->split_parts = T;
	for (int w = 0; w < W; w++)
		t->wk[w].j0 = t->wk[w].j1 = 0;
	for (int i = 0; i < 2 * T; i++) {
		struct split_task *k = &t->split_task[i];
		k->g = i / T;
		k->p0 = k->g ? P : 0;
		k->p1 = k->g ? (int)F : P;
		train_split_columns(t->shape.sizes[1], T, i % T, &k->j0, &k->j1);
		k->owner = i * W / (2 * T);
		const size_t rows = (size_t)(k->p1 - k->p0), cols = (size_t)(k->j1 - k->j0);
		k->w = alloc_floats(blocks * rows * cols);
		k->z = alloc_floats(B * cols);
		if (!k->w || !k->z)
			return td_errorf(e, TD_ENOMEM, "batch_size",
					 "out of memory for the workers' buffers");
		struct worker_state *wk = &t->wk[k->owner];
		if (!wk->has_split_cols[k->g] && cols > 0) {
			if (sparse_cols_init(&wk->split_cols[k->g], (int)B, (int)rows))
				return td_errorf(e, TD_ENOMEM, "batch_size",
						 "out of memory for the workers' buffers");
			wk->has_split_cols[k->g] = 1;
		}
		if (k->g == 0 && cols > 0) { /* the owner's biases: its parts are adjacent */
			if (wk->j0 == wk->j1)
				wk->j0 = k->j0;
			wk->j1 = k->j1;
		}
	}
	for (int w = 0; w < W; w++) {
		struct worker_state *wk = &t->wk[w];
		wk->split_shifted = malloc(B * F);
		wk->split_order = malloc(sizeof(uint32_t) * B);
		if (!wk->split_shifted || !wk->split_order)
			return td_errorf(e, TD_ENOMEM, "batch_size",
					 "out of memory for the workers' buffers");
		for (size_t i = 0; i < B; i++)
			wk->split_order[i] = (uint32_t)i;
	}
	t->split_dz = alloc_floats(B * (size_t)t->shape.sizes[1]);
	if (!t->split_dz)
		return td_errorf(e, TD_ENOMEM, "batch_size", "out of memory for the batch's buffers");
	t->split = t->workers;
	return 0;
}

/* The slots' buffers: lit pixels per slot and, for a dense first layer,
 * the batch's inputs (firstlayer.h). */
static int slot_buffers_init(struct trainer *t, int slots, int slot_cap, struct td_error *e)
{
	const size_t B = (size_t)t->cfg.batch_size, F = (size_t)t->ds->features;
	for (int s = 0; s < slots; s++, t->n_slot_cols++)
		if (sparse_cols_init(&t->slot_cols[s], slot_cap, (int)F))
			return td_errorf(e, TD_ENOMEM, "batch_size",
					 "out of memory for the slots' buffers");
	if (t->shape.layer[0].kind != LAYER_DENSE)
		return 0;
	/* Fused when a slot's dz fits where its W gradient would be. */
	t->fused = (size_t)slot_cap <= F;
	t->dense_first = strcmp(train_first_layer_path(&t->cfg, t->ds, &t->shape), "dense") == 0;
	t->batch_in = alloc_floats(B * F);
	if (!t->batch_in)
		return td_errorf(e, TD_ENOMEM, "batch_size", "out of memory for the batch's buffers");
	/* Up to batches of 256, where a step is short enough for moving W
	 * between the cores' caches to weigh, the workers share a fused
	 * sparse first layer in blocks, halves of the pixels by parts of the
	 * columns (train.c); one worker takes that path too, for its
	 * whole-batch gather. Images too small to halve take the slots. */
	if (t->fused && !t->dense_first && B <= TRAIN_SPLIT_MAX_BATCH && t->ds->train_half)
		return split_buffers_init(t, e);
	return 0;
}

const char *train_first_layer_path(const struct job_config *cfg, const struct dataset *ds,
				   const struct model_shape *s)
{
	if (s->layer[0].kind != LAYER_DENSE)
		return "im2col";
	const int full_slot = cfg->batch_size / slot_count(cfg->batch_size);
	return isa_first_layer_sparse(ds->train_density, full_slot) ? "sparse" : "dense";
}

int trainer_create(const struct job_config *cfg, const struct dataset *ds, struct pool *pool,
		   struct trainer **out, struct td_error *e)
{
	*out = NULL;
	if (!ds->n_train)
		return td_errorf(e, TD_EINVAL, "dataset", "data set %s has no training samples",
				 ds->name);
	if (cfg->workers < 1 || cfg->workers > pool_size(pool))
		return td_errorf(e, TD_EINVAL, "workers",
				 "workers must be an integer from 1 to %d, not %d", pool_size(pool),
				 cfg->workers);
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
	/* Our pool is the parallelism; BLAS runs single-threaded inside it. */
	openblas_set_num_threads(1);
#endif
	struct trainer *t = calloc(1, sizeof(*t));
	if (!t)
		return td_errorf(e, TD_ENOMEM, "", "out of memory creating the trainer");
	t->cfg = *cfg;
	t->ds = ds;
	t->pool = pool;
	t->workers = cfg->workers;
	t->perm_epoch = -1;
	t->xch.ranks = 1;
	t->lstat_every = TRAIN_LAYER_STATS_EVERY;
	int rc = model_describe_dataset(&t->shape, cfg, ds, 0, e);
	if (rc)
		goto fail;
	t->n_params = model_param_count(&t->shape);
	t->stride = (t->n_params + 15) / 16 * 16;
	t->hp = (struct optim_hparams){
		.kind = cfg->optimizer,
		.learning_rate = (float)cfg->learning_rate,
		.momentum = (float)cfg->momentum,
		.l2 = (float)cfg->l2,
		.beta1 = 0.9f,
		.beta2 = 0.999f,
		.eps = 1e-8f,
	};
	/* The largest slot of any batch up to batch_size: a short last batch
	 * has fewer slots, so they can be larger than a full batch's (a last
	 * batch of 300 has 5 slots of 60, a full one of 4096 16 of 256). */
	int slots = slot_count(cfg->batch_size);
	int slot_cap = 1;
	for (int b = 1; b <= cfg->batch_size; b++) {
		int c = (b + slot_count(b) - 1) / slot_count(b);
		slot_cap = c > slot_cap ? c : slot_cap;
	}
	t->ws_cap = slot_cap > EVAL_BLOCK ? slot_cap : EVAL_BLOCK;
	t->params = alloc_floats(t->n_params);
	t->moments = alloc_floats((size_t)optim_moments(cfg->optimizer) * t->stride);
	t->slot_grads = alloc_floats((size_t)slots * t->stride);
	t->perm = malloc(sizeof(uint32_t) * ds->n_train);
	t->wk = calloc((size_t)pool_size(pool), sizeof(*t->wk));
	t->lsum = calloc((size_t)pool_size(pool) * LSTAT_STRIDE, sizeof(double));
	if (!t->params || !t->moments || !t->slot_grads || !t->perm || !t->wk || !t->lsum) {
		rc = td_errorf(e, TD_ENOMEM, "hidden",
			       "out of memory for a model of %zu parameters", t->n_params);
		goto fail;
	}
	for (int w = 0; w < pool_size(pool); w++)
		if ((rc = worker_state_init(t, &t->wk[w], e)))
			goto fail;
	if ((rc = slot_buffers_init(t, slots, slot_cap, e)))
		goto fail;
	struct td_rng rng;
	rng_seed_stream(&rng, cfg->seed, 0);
	model_init(&t->shape, cfg->init, &rng, t->params);
	t->steps_per_epoch = (long)((ds->n_train + (size_t)cfg->batch_size - 1) /
				    (size_t)cfg->batch_size);
	*out = t;
	return 0;
fail:
	trainer_free(t);
	return rc;
}

void trainer_free(struct trainer *t)
{
	if (!t)
		return;
	if (t->wk) {
		for (int w = 0; w < pool_size(t->pool); w++) {
			if (t->wk[w].ws.mem)
				nn_ws_free_f(&t->wk[w].ws);
			free(t->wk[w].chunk);
			free(t->wk[w].labels);
			free(t->wk[w].shifted);
			free(t->wk[w].order);
			free(t->wk[w].zhalf);
			free(t->wk[w].split_shifted);
			free(t->wk[w].split_order);
			for (int g = 0; g < 2; g++)
				if (t->wk[w].has_split_cols[g])
					sparse_cols_free(&t->wk[w].split_cols[g]);
		}
	}
	for (int i = 0; i < t->split_tasks; i++) {
		free(t->split_task[i].w);
		free(t->split_task[i].z);
	}
	free(t->split_task);
	free(t->wk);
	for (int s = 0; s < t->n_slot_cols; s++)
		sparse_cols_free(&t->slot_cols[s]);
	free(t->batch_in);
	free(t->split_dz);
	free(t->lsum);
	free(t->perm);
	free(t->slot_grads);
	free(t->moments);
	free(t->params);
	free(t);
}

int trainer_rebind_pool(struct trainer *t, struct pool *pool, struct td_error *e)
{
	if (pool_size(pool) != pool_size(t->pool))
		return td_errorf(e, TD_EINTERNAL, "workers",
				 "a trainer built for a pool of %d cannot move to one of %d",
				 pool_size(t->pool), pool_size(pool));
	t->pool = pool;
	return 0;
}

int trainer_set_workers(struct trainer *t, int workers, struct td_error *e)
{
	if (workers < 1 || workers > pool_size(t->pool))
		return td_errorf(e, TD_EINVAL, "workers",
				 "workers must be an integer from 1 to %d, not %d",
				 pool_size(t->pool), workers);
	t->workers = workers;
	t->cfg.workers = workers;
	return 0;
}

/* ---- accessors ------------------------------------------------------ */

int trainer_done(const struct trainer *t)
{
	return t->epoch >= t->cfg.epochs;
}

void trainer_progress(const struct trainer *t, struct train_progress *p)
{
	p->epoch = t->epoch;
	p->epochs = t->cfg.epochs;
	p->step = t->global_step;
	p->steps = t->steps_per_epoch * t->cfg.epochs;
	p->steps_per_epoch = t->steps_per_epoch;
	p->step_in_epoch = t->step_in_epoch;
}

const struct model_shape *trainer_shape(const struct trainer *t)
{
	return &t->shape;
}

/* The readers of the weights and moments take them as const; a hook may
 * ask while a split run still holds the latest columns in its workers'
 * buffers, so these two write them back first (the trainer itself is
 * never a const object). */
const float *trainer_params(const struct trainer *t)
{
	trainer_split_sync((struct trainer *)t);
	return t->params;
}

size_t trainer_param_count(const struct trainer *t)
{
	return t->n_params;
}

const struct job_config *trainer_config(const struct trainer *t)
{
	return &t->cfg;
}

void trainer_get_state(const struct trainer *t, struct trainer_state *st)
{
	st->epoch = t->epoch;
	st->step_in_epoch = t->step_in_epoch;
	st->global_step = t->global_step;
	st->epoch_loss_sum = t->epoch_loss_sum;
	st->epoch_correct = t->epoch_correct;
	st->epoch_samples = t->epoch_samples;
	st->epoch_seconds = t->epoch_seconds;
}

int trainer_moment_count(const struct trainer *t)
{
	return optim_moments(t->hp.kind);
}

const float *trainer_moment(const struct trainer *t, int k)
{
	trainer_split_sync((struct trainer *)t);
	return t->moments + (size_t)k * t->stride;
}

int trainer_restore(struct trainer *t, const struct trainer_state *st, const float *params,
		    size_t n_params, const float *const *moments, int n_moments,
		    struct td_error *e)
{
	if (n_params != t->n_params)
		return td_errorf(e, TD_EFORMAT, "parameters",
				 "the checkpoint has %zu parameters; this model has %zu", n_params,
				 t->n_params);
	if (n_moments != optim_moments(t->hp.kind))
		return td_errorf(e, TD_EFORMAT, "optimizer",
				 "the checkpoint has %d moment buffers; optimizer %s keeps %d",
				 n_moments, optimizer_name(t->hp.kind), optim_moments(t->hp.kind));
	if (st->epoch < 0 || st->epoch > t->cfg.epochs || st->step_in_epoch < 0 ||
	    st->step_in_epoch > t->steps_per_epoch || st->global_step < 0 ||
	    st->global_step != (long)st->epoch * t->steps_per_epoch + st->step_in_epoch)
		return td_errorf(e, TD_EFORMAT, "state",
				 "the checkpoint's position (epoch %d, step %ld of %ld, global step "
				 "%ld) does not fit this job",
				 st->epoch, st->step_in_epoch, t->steps_per_epoch, st->global_step);
	memcpy(t->params, params, sizeof(float) * n_params);
	for (int k = 0; k < n_moments; k++)
		memcpy(t->moments + (size_t)k * t->stride, moments[k], sizeof(float) * n_params);
	t->epoch = st->epoch;
	t->step_in_epoch = st->step_in_epoch;
	t->global_step = st->global_step;
	t->epoch_loss_sum = st->epoch_loss_sum;
	t->epoch_correct = st->epoch_correct;
	t->epoch_samples = st->epoch_samples;
	t->epoch_seconds = st->epoch_seconds;
	t->perm_epoch = -1; /* reshuffled for this epoch on the next run */
	return 0;
}

