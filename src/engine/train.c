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
 *   barrier  (not in a split step: see "the first layer shared by halves
 *            and columns")
 *
 * Because each slot's gradient and each element's sum are computed the same
 * way whoever computes them, the weights are bit-identical for any W. The
 * gradient of the batch is the sum over its samples divided by its size, so
 * uneven slots (batch 65) weigh each sample equally - by construction.
 *
 * With one rank and a dense first layer, phase 2 also makes that layer's
 * weight gradient from the whole batch, chunk by chunk of its rows, and
 * updates each chunk at once (firstlayer.h): the slots leave only their
 * rows of its dz, so the biggest matrix is never summed slot by slot.
 * With one rank, a sparse first layer and batches up to 256, the workers
 * share that layer in blocks (halves of its rows by parts of its columns)
 * instead of chunks of rows, each keeping its block of W in its own cache
 * ("the first layer shared by halves and columns" below; one worker takes
 * that path too, for its whole-batch gather).
 *
 * The record itself and its creation are trainer.c's (trainer_priv.h).
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
#include "traind/trainer_priv.h"

/* ---- layer statistics ---------------------------------------------- */

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

/* Samples idx[0..n) of x, each shifted by its own shift, into dst (n rows). */
static void shift_samples(const struct trainer *t, uint8_t *dst, const uint8_t *x,
			  const uint32_t *idx, int n)
{
	const size_t F = (size_t)t->ds->features;
	for (int r = 0; r < n; r++) {
		int dx, dy;
		shift_of(t, idx[r], &dx, &dy);
		shift_bytes(t, dst + (size_t)r * F, x + (size_t)idx[r] * F, dx, dy);
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
	for (int r = 0; r < n; r++)
		wk->labels[r] = y[idx[r]];
	if (!augment) {
		*rows = idx;
		return x;
	}
	shift_samples(t, wk->shifted, x, idx, n);
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
 * (gathered into its columns), or as a GEMM on its rows of floats (the
 * batch's rows), as the job's path says (t->dense_first). */
static void first_forward(struct trainer *t, struct worker_state *wk, int s, int lo,
			 const uint8_t *bytes, const uint32_t *rows, int n)
{
	const struct model_shape *sh = &t->shape;
	const int F = t->ds->features, H = sh->sizes[1];
	const float *W = t->params, *b = t->params + model_b_offset(sh, 0);
	if (!t->dense_first) {
		struct sparse_cols *c = &t->slot_cols[s];
		sparse_cols_gather(c, bytes, rows, n);
		sparse_dense_forward(wk->ws.act[1], c, train_pixel_half(t->ds), W, b, H, wk->zhalf);
		return;
	}
	float *in = t->batch_in + (size_t)lo * (size_t)F;
	bytes_to_input(t, in, bytes, rows, n);
	dense_forward_f(wk->ws.act[1], in, W, b, n, F, H);
}

/* Phase 1 for one slot with a dense first layer: the forward, the layers
 * above it forward and back (their gradients into g), and the slot's rows
 * of the first layer's dz. With `fused` that is all (phase 2 makes W's
 * gradient from the whole batch, firstlayer.h); otherwise the slot's own
 * gradient of W goes into g too (ranks > 1 exchange whole slot gradients,
 * and trainer_batch_gradient returns them). */
static double upper_slot(struct trainer *t, struct worker_state *wk, int s, int lo, int n,
			 int B, float *g, int fused, long *correct);

static double dense_slot(struct trainer *t, struct worker_state *wk, int s, int lo, int n,
			 const uint8_t *bytes, const uint32_t *rows, float *g, int fused,
			 long *correct)
{
	first_forward(t, wk, s, lo, bytes, rows, n);
	return upper_slot(t, wk, s, lo, n, 0, g, fused, correct);
}

/* A split step's slot (rows lo.. of the batch of B): its dz into the
 * batch's by the column parts (split_dz). */
static void split_store_dz(const struct trainer *t, const float *dz, int lo, int n, int B)
{
	const int H = t->shape.sizes[1];
	for (int v = 0; v < t->split_parts; v++) {
		const int j0 = t->split_task[v].j0, c = t->split_task[v].j1 - j0;
		float *dst = t->split_dz + (size_t)B * (size_t)j0;
		for (int r = 0; r < n; r++)
			memcpy(dst + (size_t)(lo + r) * (size_t)c, dz + (size_t)r * (size_t)H + j0,
			       sizeof(float) * (size_t)c);
	}
}

/* The rest of phase 1 once the slot's z of the first layer is in act[1];
 * `fused` 2: a split step's, its batch B. */
static double upper_slot(struct trainer *t, struct worker_state *wk, int s, int lo, int n,
			 int B, float *g, int fused, long *correct)
{
	const struct model_shape *sh = &t->shape;
	const int F = t->ds->features, H = sh->sizes[1];
	nn_layer_finish_f(sh, 0, wk->ws.act[1], n);
	nn_forward_from_f(sh, t->params, &wk->ws, n, 1);
	size_t upper = model_w_offset(sh, 1);
	memset(g + upper, 0, sizeof(float) * (t->n_params - upper));
	float *dz0;
	double loss = nn_backward_to_f(sh, t->params, g, &wk->ws, wk->labels, n, correct, 1, &dz0);
	float *gb = g + model_b_offset(sh, 0);
	if (fused == 2) {
		split_store_dz(t, dz0, lo, n, B);
		column_sums(gb, dz0, n, H);
	} else if (fused) { /* dz where the slot's W gradient would be */
		memcpy(g + model_w_offset(sh, 0), dz0, sizeof(float) * (size_t)n * (size_t)H);
		column_sums(gb, dz0, n, H);
	} else if (!t->dense_first) {
		sparse_dense_backward(g, gb, dz0, &t->slot_cols[s], H);
	} else {
		const float *in = t->batch_in + (size_t)lo * (size_t)F;
		memset(g, 0, sizeof(float) * upper);
		dense_backward_f(NULL, g, gb, dz0, in, t->params, n, F, H);
	}
	return loss;
}

/* Phase 1 for a slot another rank computes, when the first layer is
 * fused: its inputs, which phase 2 needs beside the dz the exchange
 * brings (every rank has the data set, and a sample's shift is a function
 * of the sample). */
static void remote_slot_inputs(struct trainer *t, int w, int s, int S, const uint32_t *batch,
			       int B)
{
	struct worker_state *wk = &t->wk[w];
	int lo = slot_start(s, S, B), n = slot_start(s + 1, S, B) - lo;
	const uint32_t *rows;
	const uint8_t *bytes = stage_samples(t, wk, t->ds->train_x, t->ds->train_y, batch + lo, n,
					     t->cfg.augment == AUGMENT_SHIFT, &rows);
	if (t->dense_first)
		bytes_to_input(t, t->batch_in + (size_t)lo * (size_t)t->ds->features, bytes, rows, n);
	else
		sparse_cols_gather(&t->slot_cols[s], bytes, rows, n);
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

/* ---- the first layer shared by halves and columns ----------------------
 *
 * With one rank and a fused sparse first layer (batches up to
 * TRAIN_SPLIT_MAX_BATCH; t->split), the first layer is cut into tasks: the
 * two halves of the pixels (train_pixel_half: the cut that halves the
 * kernels' work over the training set; Fashion-MNIST's 784 at 408) by
 * parts of the columns, half as many parts as workers rounded up, so that
 * from two workers on each has a task of its own (one worker has both).
 * A task's owner keeps its block of W, and of the moments, as a matrix of
 * its own for the whole run. Phase 1 comes in two parts:
 *   1a  every worker gathers the whole batch's pixels of the halves it has
 *       tasks in into its own buffers, in tiles of 64 rows whatever the
 *       slots (the kernels hold their registers over a whole tile: at
 *       batch 64, four slots of 16 cost a fifth more), and computes each
 *       task's half of z for its columns (the first half's adds the biases);
 *   1b  a slot to whoever asks next: its rows of z put together, the two
 *       halves added (the order of sparse_dense_forward, so the bits are
 *       those of the path for everything else), the layers above forward
 *       and back, and its dz stored by the column parts;
 * and in phase 2 each worker makes the gradient of its tasks' blocks of W
 * from its own gathers and the parts' blocks of the batch's dz
 * (split_dz), and updates them, and the biases of its first-half columns
 * (reduce_update); the sums run over the batch's rows in order, as over its
 * slots. No barrier ends a split step: what a worker reads before the next
 * step's first barrier (its blocks of W, its biases, its gathers, its
 * halves of z) it wrote itself, and worker 0 accounts for the step
 * (finish_step: the hooks) just after that barrier, when every update is
 * in and no one writes a weight until the second. Two barriers a step
 * instead of three: with 2 workers, batch 32-256, 1-4 % more samples a
 * second (medians of rounds of alternating runs; single rounds -5 to +17 %).
 * The parameters get the blocks back after the run, or when a hook asks
 * for the weights (trainer_split_sync, at that same point).
 * So each block of W, and each worker's gather, is read, differentiated
 * and written by one core, step after step, in that core's cache. Sharing
 * out the rows of W by chunks instead (the path for everything else)
 * moves, every step, the part another core updated (400 KB for 784-128)
 * and the slots' gathers (as much again at batch 64: their values are
 * floats per pixel and row) between the caches. Only z and dz cross here.
 * Halves of the pixels rather than only columns: two workers by columns
 * each gathered every pixel of the batch, the same work twice, 8-10 % of
 * a step; by halves each gathers one half. The kernels sum each output in
 * the same order whatever the number of columns (sparse.h), so the
 * weights are those of one worker. */

/* Task k's blocks of W and of its moments, (p1 - p0) x c each, from
 * (to_params 0) or into the parameters. */
static void split_copy(struct trainer *t, const struct split_task *k, int to_params)
{
	const int H = t->shape.sizes[1], c = k->j1 - k->j0, rows = k->p1 - k->p0;
	const size_t w0 = model_w_offset(&t->shape, 0);
	float *full[3] = {t->params + w0, t->moments + w0, t->moments + t->stride + w0};
	const int blocks = 1 + optim_moments(t->hp.kind);
	for (int b = 0; b < blocks; b++)
		for (int p = k->p0; p < k->p1; p++) {
			float *a = full[b] + (size_t)p * (size_t)H + k->j0;
			float *own = k->w + ((size_t)b * (size_t)rows + (size_t)(p - k->p0)) * (size_t)c;
			memcpy(to_params ? a : own, to_params ? own : a, sizeof(float) * (size_t)c);
		}
}

void trainer_split_sync(struct trainer *t)
{
	if (!t->split_dirty)
		return;
	for (int i = 0; i < t->split_tasks; i++)
		split_copy(t, &t->split_task[i], 1);
	t->split_dirty = 0;
}

/* The batch's images as this worker gathers them in a split step: the
 * data set's rows, or the batch shifted into the worker's buffer. */
static const uint8_t *split_stage(struct trainer *t, struct worker_state *wk,
				  const uint32_t *batch, int B, const uint32_t **rows)
{
	if (t->cfg.augment != AUGMENT_SHIFT) {
		*rows = batch;
		return t->ds->train_x;
	}
	shift_samples(t, wk->split_shifted, t->ds->train_x, batch, B);
	*rows = wk->split_order;
	return wk->split_shifted;
}

static void finish_step(struct trainer *t, int split);

/* Rows lo..lo+n of the batch's z (into out, n x H): each column part's
 * two halves added. */
static void split_join_z(const struct trainer *t, float *out, int lo, int n)
{
	const int H = t->shape.sizes[1], T = t->split_parts;
	for (int v = 0; v < T; v++) {
		const struct split_task *a = &t->split_task[v], *b = &t->split_task[T + v];
		const int c = a->j1 - a->j0;
		for (int r = 0; r < n; r++) {
			const float *za = a->z + (size_t)(lo + r) * (size_t)c;
			const float *zb = b->z + (size_t)(lo + r) * (size_t)c;
			float *o = out + (size_t)r * (size_t)H + a->j0;
			for (int j = 0; j < c; j++)
				o[j] = za[j] + zb[j];
		}
	}
}

/* `done`: worker 0 still has the step before this one to account for
 * (train_task); it does so once everyone has finished it. */
static void split_phase1(struct trainer *t, int w, long k, int S, int B, const uint32_t *batch,
			 int *done)
{
	struct worker_state *wk = &t->wk[w];
	const int F = t->ds->features;
	const float *b1 = t->params + model_b_offset(&t->shape, 0);
	if (wk->has_split_cols[0] || wk->has_split_cols[1]) {
		/* the whole batch at once: its tiles of 64 rows, not the slots' */
		const uint32_t *rows;
		const uint8_t *bytes = split_stage(t, wk, batch, B, &rows);
		for (int g = 0; g < 2; g++)
			if (wk->has_split_cols[g]) {
				const int p0 = g ? train_pixel_half(t->ds) : 0;
				sparse_cols_gather_from(&wk->split_cols[g], bytes + p0, (size_t)F, rows,
							B);
			}
		for (int i = 0; i < t->split_tasks; i++) {
			const struct split_task *q = &t->split_task[i];
			if (q->owner != w || q->j1 == q->j0)
				continue;
			sparse_dense_forward_part(q->z, &wk->split_cols[q->g], 0, q->p1 - q->p0, q->w,
						  q->g ? NULL : b1 + q->j0, q->j1 - q->j0);
		}
	}
	pool_barrier(t->pool);
	if (*done) { /* worker 0: every update of the last step is in */
		finish_step(t, 1);
		*done = 0;
	}
	int s;
	while ((s = __atomic_fetch_add(&t->slot_next[k & 1], 1, __ATOMIC_RELAXED)) < S) {
		int lo = slot_start(s, S, B), n = slot_start(s + 1, S, B) - lo;
		for (int r = 0; r < n; r++)
			wk->labels[r] = t->ds->train_y[batch[lo + r]];
		split_join_z(t, wk->ws.act[1], lo, n);
		long correct = 0;
		t->slot_loss[s] = upper_slot(t, wk, s, lo, n, B, t->slot_grads + (size_t)s * t->stride,
					     2, &correct);
		t->slot_correct[s] = correct;
	}
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
 * (firstlayer.h), or in a split step every chunk of the worker's own
 * columns; after reduce_update, which zeroes the worker's sums. */
static void first_layer_phase(struct trainer *t, int w, long k, int S, int B, int split)
{
	const struct model_shape *sh = &t->shape;
	const struct sparse_cols *cols[TRAIN_MAX_SLOTS];
	const float *in[TRAIN_MAX_SLOTS], *dz[TRAIN_MAX_SLOTS];
	int rows[TRAIN_MAX_SLOTS];
	const size_t F = (size_t)t->ds->features, w0 = model_w_offset(sh, 0);
	for (int s = 0; s < S; s++) {
		int lo = slot_start(s, S, B);
		rows[s] = slot_start(s + 1, S, B) - lo;
		cols[s] = &t->slot_cols[s];
		in[s] = t->batch_in + (size_t)lo * F;
		dz[s] = t->slot_grads + (size_t)s * t->stride + w0;
	}
	const long step = t->global_step + 1;
	const struct optim_hparams hp = step_hparams(t, step);
	double *sums = measured_step(t, step) ? t->lsum + (size_t)w * LSTAT_STRIDE : NULL;
	if (split) { /* each task's block: one "slot", the whole batch as gathered */
		for (int i = 0; i < t->split_tasks; i++) {
			const struct split_task *q = &t->split_task[i];
			const int c = q->j1 - q->j0, n = q->p1 - q->p0;
			if (q->owner != w || c == 0)
				continue;
			const struct sparse_cols *own[1] = {&t->wk[w].split_cols[q->g]};
			const float *dzq[1] = {t->split_dz + (size_t)B * (size_t)q->j0};
			const struct first_layer_batch fb = {
				.F = n, .H = c, .slots = 1, .rows = &B, .cols = own, .dz = dzq,
			};
			float *mt = q->w + (size_t)n * (size_t)c, *vt = mt + (size_t)n * (size_t)c;
			const struct first_layer_update u = {
				.hp = &hp,
				.w = q->w,
				.m = optim_moments(hp.kind) >= 1 ? mt : NULL,
				.v = optim_moments(hp.kind) >= 2 ? vt : NULL,
				.inv_batch = 1.0f / (float)B,
				.step = step,
				.sums = sums,
			};
			const int C = first_layer_chunks(n);
			for (int ch = 0; ch < C; ch++)
				first_layer_chunk(&fb, &u, ch, t->wk[w].chunk);
		}
		return;
	}
	const int dense = t->dense_first;
	const struct first_layer_batch fb = {
		.F = (int)F, .H = sh->sizes[1], .slots = S, .rows = rows,
		.cols = dense ? NULL : cols, .in = in, .dz = dz,
	};
	const struct first_layer_update u = {
		.hp = &hp,
		.w = t->params + w0,
		.m = optim_moments(hp.kind) >= 1 ? t->moments + w0 : NULL,
		.v = optim_moments(hp.kind) >= 2 ? t->moments + t->stride + w0 : NULL,
		.inv_batch = 1.0f / (float)B,
		.step = step,
		.sums = sums,
	};
	const int C = first_layer_chunks(fb.F);
	int ch;
	while ((ch = __atomic_fetch_add(&t->chunk_next[k & 1], 1, __ATOMIC_RELAXED)) < C)
		first_layer_chunk(&fb, &u, ch, t->wk[w].chunk);
}

/* Phase 2 for one worker: sum the slots over its slice, then update it
 * (all but the first layer's W when `fused`: first_layer_phase has it).
 * In a split step the first layer's biases go by the worker's columns,
 * not its slice: its next forward reads them before any barrier. */
static void reduce_update(struct trainer *t, int w, int W, int S, int B, int fused, int split)
{
	size_t P = t->n_params;
	/* Slices of what is left to update here (the first layer's W goes by
	 * first_layer_phase when fused, its biases by the columns when split),
	 * in whole 16-float blocks so no two workers share a line. */
	size_t base = split ? model_w_offset(&t->shape, 1) : fused ? model_b_offset(&t->shape, 0) : 0;
	base -= base % 16;
	size_t blocks = (P - base + 15) / 16;
	size_t lo = base + blocks * (size_t)w / (size_t)W * 16;
	size_t hi = base + blocks * (size_t)(w + 1) / (size_t)W * 16;
	if (hi > P)
		hi = P;
	double *sums = t->lsum + (size_t)w * LSTAT_STRIDE; /* layer statistics */
	memset(sums, 0, sizeof(double) * LSTAT_STRIDE);
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
			if (split && l == 0 && k == 1) {
				a = seg[1][0] + (size_t)t->wk[w].j0;
				b = seg[1][0] + (size_t)t->wk[w].j1;
			}
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
static void finish_step(struct trainer *t, int split)
{
	t->split_dirty |= split;
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
	const int fused = t->fused;
	const int split = t->split == W && t->xch.ranks == 1;
	if (split)
		for (int i = 0; i < t->split_tasks; i++)
			if (t->split_task[i].owner == w)
				split_copy(t, &t->split_task[i], 0);
	int done = 0; /* worker 0, split: a step is updated but not yet accounted for */
	for (long k = t->step_in_epoch;; k++) {
		size_t first = (size_t)k * (size_t)B_full;
		int B = (int)(n - first < (size_t)B_full ? n - first : (size_t)B_full);
		int S = slot_count(B);
		const uint32_t *batch = t->perm + first;
		/* Slots go to whichever worker asks next; who computes a slot does
		 * not change its gradient. */
		int slot;
		if (split)
			split_phase1(t, w, k, S, B, batch, &done);
		else
			while ((slot = __atomic_fetch_add(&t->slot_next[k & 1], 1, __ATOMIC_RELAXED)) < S)
				if (slot % t->xch.ranks == t->xch.rank)
					slot_gradient(t, w, slot, S, batch, B, fused);
				else if (fused)
					remote_slot_inputs(t, w, slot, S, batch, B);
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
		reduce_update(t, w, W, S, B, fused, split);
		if (fused)
			first_layer_phase(t, w, k, S, B, split);
		const int go = t->go[(k + 1) & 1];
		if (split && go) {
			/* No barrier: what this worker reads before the next one
			 * (its columns of W and of the biases, its own buffers) it
			 * has just written itself. */
			done = w == 0;
			continue;
		}
		pool_barrier(t->pool);
		if (w == 0)
			finish_step(t, split);
		if (!go)
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
			trainer_split_sync(t);
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
