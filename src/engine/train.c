/*
 * train.c - data-parallel minibatch training (see train.h).
 *
 * One step, on W workers of the pool:
 *
 *   phase 1  the minibatch is cut into S slots (S and the cut depend on the
 *            batch size only); each worker takes the next slot not yet
 *            taken (an atomic counter), gathers its pixels in its own
 *            workspace and writes the slot's summed gradient into the
 *            slot's own buffer.
 *   barrier
 *   phase 2  worker w owns the slice [lo_w, hi_w) of the parameter vector:
 *            it adds the S slot buffers in slot order 0..S-1 and applies the
 *            optimizer to its slice with 1/batch, in one pass.
 *   barrier
 *
 * Because each slot's gradient and each element's sum are computed the same
 * way whoever computes them, the weights are bit-identical for any W. The
 * gradient of the batch is the sum over its samples divided by its size, so
 * uneven slots (batch 65) weigh each sample equally - by construction.
 *
 * Worker 0 is the thread that called trainer_run(). Between the barriers it
 * also decides whether another step follows (polling should_stop), and
 * after the second barrier, with every slice updated and nobody writing
 * weights until the next phase 2, it runs the on_step hook. The decision
 * lives in go[step & 1] so that writing the next one can never race with a
 * slow worker still reading the current one.
 */
#include "traind/train.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "traind/firstlayer.h"
#include "traind/infer.h"
#include "traind/isa.h"
#include "traind/nn.h"
#include "traind/optim.h"
#include "traind/rng.h"
#include "traind/sparse.h"

#define EVAL_BLOCK INFER_BLOCK /* samples per evaluation block */

struct worker_state {
	struct nn_ws_f ws;
	uint8_t *labels;  /* cap labels */
	uint8_t *shifted; /* cap * features bytes: augmented images */
	uint32_t *order;  /* cap: 0, 1, 2, ... */
	float *chunk;     /* FIRST_LAYER_CHUNK x units: a chunk of W's gradient */
};

struct trainer {
	struct job_config cfg;
	const struct dataset *ds;
	struct pool *pool;
	int workers;
	struct model_shape shape;
	struct optim_hparams hp;
	size_t n_params;

	float *params;  /* n_params */
	float *moments; /* n_moments * n_params: m then v */
	float *slot_grads; /* TRAIN_MAX_SLOTS * n_params, slot s at s * stride */
	size_t stride;     /* n_params rounded up to 16 floats */
	struct sparse_cols slot_cols[TRAIN_MAX_SLOTS]; /* each slot's lit pixels */
	int n_slot_cols;
	/* A dense first layer (the fused path, firstlayer.h): the batch's dL/dz
	 * of that layer and, when its inputs go dense, the batch's inputs. */
	float *batch_dz; /* batch_size x sizes[1] */
	float *batch_in; /* batch_size x features */
	struct worker_state *wk;
	int ws_cap;

	uint32_t *perm;  /* this epoch's order of the training set */
	int perm_epoch;  /* epoch perm was shuffled for, -1 none */
	float lut[256];  /* byte -> [0,1] */

	/* progress */
	int epoch;          /* 0-based epoch in progress (== epochs when done) */
	long step_in_epoch; /* steps done in this epoch */
	long global_step;   /* steps done in all */
	long steps_per_epoch;
	double epoch_loss_sum;  /* sum of per-step mean losses */
	long epoch_correct, epoch_samples;
	double epoch_seconds;

	/* per-step scratch written in phase 1, read in phase 2 */
	double slot_loss[TRAIN_MAX_SLOTS];
	long slot_correct[TRAIN_MAX_SLOTS];
	int slot_next[2];  /* next slot to take, per step parity (dynamic sharing) */
	int chunk_next[2]; /* next chunk of the first layer's W, the same way */
	double step_loss; /* mean loss of the step just done */
	long step_correct;
	int step_batch;
	int go[2];

	const struct train_hooks *hooks;
	int error;

	/* per-layer statistics (see "layer statistics" below) */
	double *lsum;      /* per worker: LSTAT_STRIDE doubles of sums of squares */
	struct layer_stat lstat[MODEL_MAX_LAYERS];
	int lstat_n;
	long lstat_step;   /* the step they were measured at */
	int lstat_every;   /* measure every this many steps, 0 never */
	struct train_exchange xch; /* ranks > 1: the other ranks' slots */
	int xch_failed;
};

/* ---- slots ---------------------------------------------------------- */

/* Slots in a batch of B: up to 4 of at least 16 samples for B <= 256 (two
 * workers share them out dynamically, which evens out slots that cost
 * different amounts), then slots of about 64, at most 16. A function of B
 * alone: the worker count never changes how a batch is cut. */
static int slot_count(int batch)
{
	if (batch <= 256) {
		int s = (batch + 15) / 16;
		return s > 4 ? 4 : s;
	}
	int s = (batch + 63) / 64;
	return s > TRAIN_MAX_SLOTS ? TRAIN_MAX_SLOTS : s;
}

/* First sample of slot s of S in a batch of B: sizes differ by at most 1. */
static int slot_start(int s, int S, int B)
{
	return (int)((long)s * B / S);
}

/* ---- layer statistics ---------------------------------------------- */

/* Each worker's sums for each layer: sum W^2, sum dW^2, sum (dW step)^2,
 * padded to whole cache lines so workers never share one. */
#define LSTAT_STRIDE ((MODEL_MAX_LAYERS * 3 + 7) / 8 * 8)

/* Worker 0, after the step: the workers' sums into norms and ratios. */
static void layer_stats_finish(struct trainer *t)
{
	int L = t->shape.n_layers, W = t->workers;
	for (int l = 0; l < L; l++) {
		double s[3] = {0, 0, 0};
		for (int w = 0; w < W; w++)
			for (int k = 0; k < 3; k++)
				s[k] += t->lsum[(size_t)w * LSTAT_STRIDE + (size_t)l * 3 + (size_t)k];
		double wn = sqrt(s[0]);
		t->lstat[l] = (struct layer_stat){wn, sqrt(s[1]), wn > 0 ? sqrt(s[2]) / wn : 0};
	}
	t->lstat_n = L;
	t->lstat_step = t->global_step;
}

/* Is step (1-based) one whose statistics are measured? */
static int measured_step(const struct trainer *t, long step)
{
	return t->lstat_every > 0 && (step - 1) % t->lstat_every == 0;
}

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
	if (wk->order)
		for (int i = 0; i < t->ws_cap; i++)
			wk->order[i] = (uint32_t)i;
	if (!wk->labels || !wk->shifted || !wk->order || !wk->chunk ||
	    nn_ws_init_f(&wk->ws, &t->shape, t->ws_cap))
		return td_errorf(e, TD_ENOMEM, "batch_size", "out of memory for the workers' buffers");
	return 0;
}

/* The slots' buffers: lit pixels per slot and, for a dense first layer,
 * the batch's dz and inputs (firstlayer.h). */
static int slot_buffers_init(struct trainer *t, int slots, int slot_cap, struct td_error *e)
{
	const size_t B = (size_t)t->cfg.batch_size, F = (size_t)t->ds->features;
	for (int s = 0; s < slots; s++, t->n_slot_cols++)
		if (sparse_cols_init(&t->slot_cols[s], slot_cap, (int)F))
			return td_errorf(e, TD_ENOMEM, "batch_size",
					 "out of memory for the slots' buffers");
	if (t->shape.layer[0].kind != LAYER_DENSE)
		return 0;
	t->batch_dz = alloc_floats(B * (size_t)t->shape.sizes[1]);
	t->batch_in = alloc_floats(B * F);
	if (!t->batch_dz || !t->batch_in)
		return td_errorf(e, TD_ENOMEM, "batch_size", "out of memory for the batch's buffers");
	return 0;
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
	for (int i = 0; i < 256; i++)
		t->lut[i] = infer_pixel((uint8_t)i);
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
		}
	}
	free(t->wk);
	for (int s = 0; s < t->n_slot_cols; s++)
		sparse_cols_free(&t->slot_cols[s]);
	free(t->batch_dz);
	free(t->batch_in);
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

/* ---- the step ------------------------------------------------------- */

/* The shift of sample `index` in `epoch`: a hash of (seed, epoch, index),
 * so it is the same whichever worker loads the sample. */
static void shift_of(const struct trainer *t, uint32_t index, int *dx, int *dy)
{
	uint64_t h = t->cfg.seed ^ ((uint64_t)(t->epoch + 1) << 40) ^ index;
	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
	h ^= h >> 31;
	*dx = (int)(h % 5) - 2;
	*dy = (int)((h >> 8) % 5) - 2;
}

/* Copies one image moved by (dx, dy), zeros entering at the edges. */
static void shift_bytes(const struct trainer *t, uint8_t *dst, const uint8_t *src, int dx, int dy)
{
	int W = t->ds->width, H = t->ds->height;
	for (int r = 0; r < H; r++) {
		int sr = r - dy;
		for (int c = 0; c < W; c++) {
			int sc = c - dx;
			dst[r * W + c] = (sr >= 0 && sr < H && sc >= 0 && sc < W) ? src[sr * W + sc] : 0;
		}
	}
}

/* The pixels of samples idx[0..n) as bytes: the data set's own rows, or,
 * for an augmented training batch, shifted copies in the worker's buffer.
 * *rows receives the row indices into the returned array. Labels are
 * copied to wk->labels. */
static const uint8_t *stage_samples(struct trainer *t, struct worker_state *wk,
				    const uint8_t *x, const uint8_t *y, const uint32_t *idx,
				    int n, int augment, const uint32_t **rows)
{
	size_t F = (size_t)t->ds->features;
	for (int r = 0; r < n; r++)
		wk->labels[r] = y[idx[r]];
	if (!augment) {
		*rows = idx;
		return x;
	}
	for (int r = 0; r < n; r++) {
		int dx, dy;
		shift_of(t, idx[r], &dx, &dy);
		shift_bytes(t, wk->shifted + (size_t)r * F, x + (size_t)idx[r] * F, dx, dy);
	}
	*rows = wk->order;
	return wk->shifted;
}

/* Converts byte rows to floats, n rows of features into dst. */
static void bytes_to_input(const struct trainer *t, float *dst, const uint8_t *x,
			   const uint32_t *rows, int n)
{
	size_t F = (size_t)t->ds->features;
	for (int r = 0; r < n; r++) {
		const uint8_t *src = x + (size_t)rows[r] * F;
		float *d = dst + (size_t)r * F;
		for (size_t i = 0; i < F; i++)
			d[i] = infer_pixel(src[i]);
	}
}

/* db[H] = column sums of dz[n x H] (overwritten), rows in order. */
static void column_sums(float *restrict db, const float *restrict dz, int n, int H)
{
	memset(db, 0, sizeof(float) * (size_t)H);
	for (int r = 0; r < n; r++)
		for (int j = 0; j < H; j++)
			db[j] += dz[(size_t)r * (size_t)H + j];
}

/* A dense first layer's z for a slot of n rows: on the slot's lit pixels
 * (gathered into its columns), or as a GEMM on its rows of floats - the
 * batch's rows when the whole batch goes dense (TRAIND_FIRST_LAYER=dense),
 * else the worker's. Sparse up to a density measured per tier (isa.h): a
 * function of the data, the slot size and the tier, the same for any
 * worker count. Returns 1 if the slot's columns were gathered. */
static int first_forward(struct trainer *t, struct worker_state *wk, int s, int lo,
			 const uint8_t *bytes, const uint32_t *rows, int n)
{
	const struct model_shape *sh = &t->shape;
	const int F = t->ds->features, H = sh->sizes[1];
	const float *W = t->params, *b = t->params + model_b_offset(sh, 0);
	float *in = wk->ws.act[0];
	int gathered = 0;
	if (isa_first_layer() == FIRST_LAYER_DENSE)
		in = t->batch_in + (size_t)lo * (size_t)F;
	else {
		struct sparse_cols *c = &t->slot_cols[s];
		gathered = 1;
		if (isa_first_layer_sparse(sparse_cols_gather(c, bytes, rows, n, t->lut), n)) {
			sparse_dense_forward(wk->ws.act[1], c, W, b, H);
			return gathered;
		}
	}
	bytes_to_input(t, in, bytes, rows, n);
	dense_forward_f(wk->ws.act[1], in, W, b, n, F, H);
	return gathered;
}

/* Phase 1 for one slot with a dense first layer: the forward, the layers
 * above it forward and back (their gradients into g), and the slot's rows
 * of the first layer's dz. With `fused` that is all (phase 2 makes W's
 * gradient from the whole batch, firstlayer.h); otherwise the slot's own
 * gradient of W goes into g too (ranks > 1 exchange whole slot gradients,
 * and trainer_batch_gradient returns them). */
static double dense_slot(struct trainer *t, struct worker_state *wk, int s, int lo, int n,
			 const uint8_t *bytes, const uint32_t *rows, float *g, int fused,
			 long *correct)
{
	const struct model_shape *sh = &t->shape;
	const int F = t->ds->features, H = sh->sizes[1];
	int gathered = first_forward(t, wk, s, lo, bytes, rows, n);
	nn_layer_finish_f(sh, 0, wk->ws.act[1], n);
	nn_forward_from_f(sh, t->params, &wk->ws, n, 1);
	size_t upper = model_w_offset(sh, 1);
	memset(g + upper, 0, sizeof(float) * (t->n_params - upper));
	float *dz0;
	double loss = nn_backward_to_f(sh, t->params, g, &wk->ws, wk->labels, n, correct, 1, &dz0);
	float *gb = g + model_b_offset(sh, 0);
	if (fused) {
		memcpy(t->batch_dz + (size_t)lo * (size_t)H, dz0, sizeof(float) * (size_t)n * (size_t)H);
		column_sums(gb, dz0, n, H);
	} else if (gathered) {
		sparse_dense_backward(g, gb, dz0, &t->slot_cols[s], H);
	} else {
		const float *in = isa_first_layer() == FIRST_LAYER_DENSE
					  ? t->batch_in + (size_t)lo * (size_t)F
					  : wk->ws.act[0];
		memset(g, 0, sizeof(float) * upper);
		dense_backward_f(NULL, g, gb, dz0, in, t->params, n, F, H);
	}
	return loss;
}

/* Phase 1 for one slot: its summed gradient into its buffer (without the
 * first layer's W when `fused`). */
static void slot_gradient(struct trainer *t, int w, int s, int S, const uint32_t *batch,
			  int B, int fused)
{
	struct worker_state *wk = &t->wk[w];
	const struct model_shape *sh = &t->shape;
	int lo = slot_start(s, S, B), hi = slot_start(s + 1, S, B), n = hi - lo;
	float *g = t->slot_grads + (size_t)s * t->stride;
	const uint32_t *rows;
	const uint8_t *bytes = stage_samples(t, wk, t->ds->train_x, t->ds->train_y, batch + lo, n,
					     t->cfg.augment == AUGMENT_SHIFT, &rows);
	long correct = 0;
	if (sh->layer[0].kind == LAYER_DENSE) {
		t->slot_loss[s] = dense_slot(t, wk, s, lo, n, bytes, rows, g, fused, &correct);
	} else { /* a conv first layer: the generic path */
		bytes_to_input(t, wk->ws.act[0], bytes, rows, n);
		memset(g, 0, sizeof(float) * t->n_params);
		t->slot_loss[s] = nn_loss_grad_f(sh, t->params, g, &wk->ws, wk->labels, n, &correct);
	}
	t->slot_correct[s] = correct;
}

/* The rule's settings for a step (1-based): the learning rate decays over
 * the whole run under the cosine schedule, a function of the step alone,
 * so it is the same for every worker and after a resume. */
static struct optim_hparams step_hparams(const struct trainer *t, long step)
{
	struct optim_hparams hp = t->hp;
	if (t->cfg.lr_schedule == LR_COSINE) {
		double total = (double)t->steps_per_epoch * t->cfg.epochs;
		hp.learning_rate = (float)(t->cfg.learning_rate * 0.5 *
					   (1.0 + cos(M_PI * (double)(step - 1) / total)));
	}
	return hp;
}

/* Phase 2, the fused first layer: chunks of W's rows, to whoever asks next
 * (firstlayer.h); after reduce_update, which zeroes the worker's sums. */
static void first_layer_phase(struct trainer *t, int w, long k, int S, int B)
{
	const struct model_shape *sh = &t->shape;
	const struct sparse_cols *cols[TRAIN_MAX_SLOTS];
	int row0[TRAIN_MAX_SLOTS];
	for (int s = 0; s < S; s++) {
		cols[s] = &t->slot_cols[s];
		row0[s] = slot_start(s, S, B);
	}
	const int dense = isa_first_layer() == FIRST_LAYER_DENSE;
	const struct first_layer_batch fb = {
		.F = t->ds->features, .H = sh->sizes[1], .rows = B, .slots = S,
		.cols = dense ? NULL : cols, .row0 = row0, .in = t->batch_in, .dz = t->batch_dz,
	};
	const long step = t->global_step + 1;
	const struct optim_hparams hp = step_hparams(t, step);
	const size_t w0 = model_w_offset(sh, 0);
	const struct first_layer_update u = {
		.hp = &hp,
		.w = t->params + w0,
		.m = optim_moments(hp.kind) >= 1 ? t->moments + w0 : NULL,
		.v = optim_moments(hp.kind) >= 2 ? t->moments + t->stride + w0 : NULL,
		.inv_batch = 1.0f / (float)B,
		.step = step,
		.sums = measured_step(t, step) ? t->lsum + (size_t)w * LSTAT_STRIDE : NULL,
	};
	const int C = first_layer_chunks(fb.F);
	int c;
	while ((c = __atomic_fetch_add(&t->chunk_next[k & 1], 1, __ATOMIC_RELAXED)) < C)
		first_layer_chunk(&fb, &u, c, t->wk[w].chunk);
}

/* Phase 2 for one worker: sum the slots over its slice, then update it
 * (all but the first layer's W when `fused`: first_layer_phase has it). */
static void reduce_update(struct trainer *t, int w, int W, int S, int B, int fused)
{
	size_t P = t->n_params;
	/* Slices of whole 16-float blocks so no two workers share a line. */
	size_t blocks = (P + 15) / 16;
	size_t lo = blocks * (size_t)w / (size_t)W * 16, hi = blocks * (size_t)(w + 1) / (size_t)W * 16;
	if (hi > P)
		hi = P;
	double *sums = t->lsum + (size_t)w * LSTAT_STRIDE; /* layer statistics */
	memset(sums, 0, sizeof(double) * LSTAT_STRIDE);
	if (lo >= hi)
		return;
	const float *parts[TRAIN_MAX_SLOTS];
	for (int s = 0; s < S; s++)
		parts[s] = t->slot_grads + (size_t)s * t->stride;
	float *m = optim_moments(t->hp.kind) >= 1 ? t->moments : NULL;
	float *v = optim_moments(t->hp.kind) >= 2 ? t->moments + t->stride : NULL;
	float inv_batch = 1.0f / (float)B;
	long step = t->global_step + 1;
	struct optim_hparams hp = step_hparams(t, step);
	/* Weights decay under L2, biases do not: walk the layer segments. */
	for (int l = 0; l < t->shape.n_layers; l++) {
		size_t seg[2][2] = {
			{model_w_offset(&t->shape, l), model_b_offset(&t->shape, l)},
			{model_b_offset(&t->shape, l), model_w_offset(&t->shape, l + 1)},
		};
		for (int k = 0; k < 2; k++) {
			size_t a = seg[k][0] > lo ? seg[k][0] : lo;
			size_t b = seg[k][1] < hi ? seg[k][1] : hi;
			if (a >= b || (fused && l == 0 && k == 0))
				continue;
			const float *from[TRAIN_MAX_SLOTS];
			for (int s = 0; s < S; s++)
				from[s] = parts[s] + a;
			if (k == 0 && measured_step(t, step)) { /* weights: updated and measured */
				optim_update_measured(&hp, t->params + a, from, S, m ? m + a : NULL,
						      v ? v + a : NULL, b - a, inv_batch, step,
						      sums + 3 * l);
				continue;
			}
			optim_update(&hp, t->params + a, from, S, m ? m + a : NULL,
				     v ? v + a : NULL, b - a, inv_batch, k == 0, step);
		}
	}
}

/* Worker 0, ranks > 1: slots this rank did not compute come from their
 * ranks. A failed exchange ends the run (decide_next sees xch_failed). */
static void exchange_slots(struct trainer *t, int S, int *stop)
{
	for (int s = 0; s < S; s++)
		if (s % t->xch.ranks != t->xch.rank) {
			t->slot_loss[s] = 0;
			t->slot_correct[s] = 0;
		}
	if (t->xch.exchange(t->xch.arg, t->slot_grads, t->stride, t->n_params, S, t->slot_loss,
			    t->slot_correct, stop))
		t->xch_failed = 1;
}

static int decide_next(struct trainer *t, long next_step_in_epoch)
{
	if (next_step_in_epoch >= t->steps_per_epoch || t->xch_failed)
		return 0;
	if (t->hooks && t->hooks->should_stop && t->hooks->should_stop(t->hooks->arg))
		return 0;
	return 1;
}

/* Worker 0, after the second barrier: account for the step just done. */
static void finish_step(struct trainer *t)
{
	t->step_in_epoch++;
	t->global_step++;
	t->epoch_loss_sum += t->step_loss;
	t->epoch_correct += t->step_correct;
	t->epoch_samples += t->step_batch;
	if (measured_step(t, t->global_step))
		layer_stats_finish(t);
	if (t->hooks && t->hooks->on_step)
		t->hooks->on_step(t->hooks->arg, t, t->global_step, t->step_loss);
}

static void train_task(void *arg, int w, int W)
{
	struct trainer *t = arg;
	const long B_full = t->cfg.batch_size;
	const size_t n = t->ds->n_train;
	/* One rank, a dense first layer: its gradient fused with its update. */
	const int fused = t->shape.layer[0].kind == LAYER_DENSE && t->xch.ranks == 1;
	for (long k = t->step_in_epoch;; k++) {
		size_t first = (size_t)k * (size_t)B_full;
		int B = (int)(n - first < (size_t)B_full ? n - first : (size_t)B_full);
		int S = slot_count(B);
		const uint32_t *batch = t->perm + first;
		/* Slots go to whichever worker asks next; who computes a slot does
		 * not change its gradient. */
		int slot;
		while ((slot = __atomic_fetch_add(&t->slot_next[k & 1], 1, __ATOMIC_RELAXED)) < S)
			if (slot % t->xch.ranks == t->xch.rank)
				slot_gradient(t, w, slot, S, batch, B, fused);
		if (w == 0)
			t->go[(k + 1) & 1] = decide_next(t, k + 1);
		pool_barrier(t->pool);
		if (t->xch.ranks > 1) {
			/* The other ranks' slots, before anyone reduces; a stop any
			 * rank asked for holds for all (go is read after the next
			 * barrier but one). */
			if (w == 0) {
				int *go = &t->go[(k + 1) & 1];
				int stop = !*go && k + 1 < t->steps_per_epoch;
				exchange_slots(t, S, &stop);
				if (stop)
					*go = 0;
			}
			pool_barrier(t->pool);
		}
		if (w == 0) {
			/* The next step's counter was last used two steps ago. */
			__atomic_store_n(&t->slot_next[(k + 1) & 1], 0, __ATOMIC_RELAXED);
			__atomic_store_n(&t->chunk_next[(k + 1) & 1], 0, __ATOMIC_RELAXED);
			double loss = 0;
			long correct = 0;
			for (int s = 0; s < S; s++) {
				loss += t->slot_loss[s];
				correct += t->slot_correct[s];
			}
			t->step_loss = loss / B;
			t->step_correct = correct;
			t->step_batch = B;
		}
		reduce_update(t, w, W, S, B, fused);
		if (fused)
			first_layer_phase(t, w, k, S, B);
		pool_barrier(t->pool);
		if (w == 0)
			finish_step(t);
		if (!t->go[(k + 1) & 1])
			break;
	}
}

/* ---- evaluation ----------------------------------------------------- */

struct eval_job {
	struct trainer *t;
	const uint8_t *x, *y;
	size_t n;
	double *loss;  /* per block */
	long *correct; /* per block */
};

static void eval_task(void *arg, int w, int W)
{
	struct eval_job *j = arg;
	struct trainer *t = j->t;
	struct worker_state *wk = &t->wk[w];
	size_t blocks = (j->n + EVAL_BLOCK - 1) / EVAL_BLOCK;
	size_t F = (size_t)t->ds->features;
	for (size_t b = (size_t)w; b < blocks; b += (size_t)W) {
		size_t lo = b * EVAL_BLOCK;
		int cnt = (int)(j->n - lo < EVAL_BLOCK ? j->n - lo : EVAL_BLOCK);
		long correct = 0;
		j->loss[b] = infer_eval_block(&t->shape, t->params, &wk->ws, j->x + lo * F,
					      j->y + lo, cnt, &correct, NULL);
		j->correct[b] = correct;
	}
}

void trainer_evaluate(struct trainer *t, int on_test, double *loss, double *accuracy)
{
	struct eval_job j = {
		.t = t,
		.x = on_test ? t->ds->test_x : t->ds->train_x,
		.y = on_test ? t->ds->test_y : t->ds->train_y,
		.n = on_test ? t->ds->n_test : t->ds->n_train,
	};
	*loss = NAN;
	*accuracy = NAN;
	if (!j.n)
		return;
	size_t blocks = (j.n + EVAL_BLOCK - 1) / EVAL_BLOCK;
	j.loss = calloc(blocks, sizeof(double));
	j.correct = calloc(blocks, sizeof(long));
	if (j.loss && j.correct) {
		pool_run(t->pool, t->workers, eval_task, &j);
		double sum = 0;
		long hits = 0;
		for (size_t b = 0; b < blocks; b++) { /* block order: the same for any W */
			sum += j.loss[b];
			hits += j.correct[b];
		}
		*loss = sum / (double)j.n;
		*accuracy = (double)hits / (double)j.n;
	}
	free(j.loss);
	free(j.correct);
}

/* ---- the run -------------------------------------------------------- */

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void shuffle_for_epoch(struct trainer *t)
{
	for (size_t i = 0; i < t->ds->n_train; i++)
		t->perm[i] = (uint32_t)i;
	struct td_rng rng;
	rng_seed_stream(&rng, t->cfg.seed, 1000 + (uint64_t)t->epoch);
	rng_shuffle_u32(&rng, t->perm, t->ds->n_train);
	t->perm_epoch = t->epoch;
}

int trainer_run(struct trainer *t, const struct train_hooks *hooks)
{
	t->hooks = hooks;
	while (t->epoch < t->cfg.epochs) {
		if (t->perm_epoch != t->epoch)
			shuffle_for_epoch(t);
		if (t->step_in_epoch < t->steps_per_epoch) {
			int go = decide_next(t, t->step_in_epoch);
			if (t->xch.ranks > 1 && t->xch.agree_stop(t->xch.arg, !go))
				go = 0;
			if (!go) {
				t->hooks = NULL;
				return t->xch_failed ? TD_EIO : 1;
			}
			double t0 = now_seconds();
			t->slot_next[0] = t->slot_next[1] = 0;
			t->chunk_next[0] = t->chunk_next[1] = 0;
			pool_run(t->pool, t->workers, train_task, t);
			t->epoch_seconds += now_seconds() - t0;
			if (t->xch_failed) {
				t->hooks = NULL;
				return TD_EIO; /* another rank is gone */
			}
			if (t->step_in_epoch < t->steps_per_epoch) {
				t->hooks = NULL;
				return 1; /* stopped at a step boundary */
			}
		}
		struct epoch_stats st = {
			.epoch = t->epoch + 1,
			.train_loss = t->epoch_loss_sum / (double)t->steps_per_epoch,
			.train_accuracy = (double)t->epoch_correct / (double)t->epoch_samples,
			.seconds = t->epoch_seconds,
			.samples_per_second = t->epoch_seconds > 0
						      ? (double)t->epoch_samples / t->epoch_seconds
						      : 0,
		};
		trainer_evaluate(t, 1, &st.test_loss, &st.test_accuracy);
		t->epoch++;
		t->step_in_epoch = 0;
		t->epoch_loss_sum = 0;
		t->epoch_correct = t->epoch_samples = 0;
		t->epoch_seconds = 0;
		if (hooks && hooks->on_epoch)
			hooks->on_epoch(hooks->arg, t, &st);
	}
	t->hooks = NULL;
	return 0;
}

int trainer_set_exchange(struct trainer *t, const struct train_exchange *x,
			 struct td_error *e)
{
	if (x->ranks < 1 || x->rank < 0 || x->rank >= x->ranks || (x->ranks > 1 && !x->exchange))
		return td_errorf(e, TD_EINVAL, "ranks", "rank %d of %d is not a rank", x->rank,
				 x->ranks);
	t->xch = *x;
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

const float *trainer_params(const struct trainer *t)
{
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

struct grad_job {
	struct trainer *t;
	const uint32_t *samples;
	int n, S;
};

static void grad_task(void *arg, int w, int W)
{
	struct grad_job *j = arg;
	for (int s = w; s < j->S; s += W)
		slot_gradient(j->t, w, s, j->S, j->samples, j->n, 0);
}

double trainer_batch_gradient(struct trainer *t, const uint32_t *samples, int n, float *grads)
{
	if (n > t->cfg.batch_size)
		n = t->cfg.batch_size;
	struct grad_job j = {.t = t, .samples = samples, .n = n, .S = slot_count(n)};
	pool_run(t->pool, t->workers, grad_task, &j);
	double loss = 0;
	memcpy(grads, t->slot_grads, sizeof(float) * t->n_params);
	for (int s = 1; s < j.S; s++)
		for (size_t i = 0; i < t->n_params; i++)
			grads[i] += t->slot_grads[(size_t)s * t->stride + i];
	for (int s = 0; s < j.S; s++)
		loss += t->slot_loss[s];
	return loss;
}
