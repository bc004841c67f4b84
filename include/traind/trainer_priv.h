/*
 * trainer_priv.h - the trainer's record, shared by the two files of the
 * training module (layer: engine): train.c runs the steps, trainer.c makes,
 * frees, restores and reads the record. Nothing outside them includes it;
 * the module's interface is train.h.
 *
 * layer: engine
 */
#ifndef TRAIND_TRAINER_PRIV_H
#define TRAIND_TRAINER_PRIV_H

#include "traind/dataset.h"
#include "traind/infer.h"
#include "traind/nn.h"
#include "traind/optim.h"
#include "traind/sparse.h"
#include "traind/train.h"

/* Each worker's sums for each layer: sum W^2, sum dW^2, sum (dW step)^2,
 * padded to whole cache lines so workers never share one. */
#define LSTAT_STRIDE ((MODEL_MAX_LAYERS * 3 + 7) / 8 * 8)

#define EVAL_BLOCK INFER_BLOCK /* samples per evaluation block */

#define TRAIN_SPLIT_MAX_BATCH 256 /* the first layer shared in blocks up to it */

struct worker_state {
	struct nn_ws_f ws;
	uint8_t *labels;  /* cap labels */
	uint8_t *shifted; /* cap * features bytes: augmented images */
	uint32_t *order;  /* cap: 0, 1, 2, ... */
	float *chunk;     /* FIRST_LAYER_CHUNK x units: a chunk of W's gradient */
	/* A split step's own part of the first layer (train.c): the batch's
	 * pixels of each half it has tasks in, as this worker gathered them
	 * (tiles of 64 rows, whatever the slots), the batch's shifted images
	 * when augmented (batch x features) and their order; j0..j1, the
	 * columns of the first layer's biases it updates (those of its tasks
	 * in the first half, whose forward adds them). */
	struct sparse_cols split_cols[2];
	int has_split_cols[2];
	uint8_t *split_shifted;
	uint32_t *split_order;
	int j0, j1;
	float *zhalf; /* cap x units: the second half's z in a slot's forward */
};

/* A split step's share of the first layer (train.c): one half of the
 * pixels (sparse_forward_half) by one part of the columns. */
struct split_task {
	int g;      /* the half: 0 (whose forward adds the biases) or 1 */
	int p0, p1; /* its pixels: rows of W */
	int j0, j1; /* its columns */
	int owner;  /* the worker */
	float *w;   /* its block of W and of its moments, (p1 - p0) x (j1 - j0) each, W first */
	float *z;   /* its half's sum for its columns of z: batch x (j1 - j0) */
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
	/* A dense first layer: its gradient fused with its update (firstlayer.h)
	 * unless a slot's dz (rows x units) would not fit where the slot's W
	 * gradient goes (fewer inputs than rows: the per-slot path then); and,
	 * when its inputs go dense, the batch's inputs. */
	int fused;
	/* The first layer's path for the job: sparse (lit pixels) or dense
	 * (GEMMs), from TRAIND_FIRST_LAYER or, for auto, the training set's
	 * density against the tier's threshold (isa.h): a function of the
	 * data, the batch size and the tier, fixed for the run. */
	int dense_first;
	float *batch_in; /* batch_size x features */
	/* The workers share the first layer by halves of the pixels and parts
	 * of the columns (train.c; one rank, one worker or more, a fused sparse
	 * first layer, batches up to TRAIN_SPLIT_MAX_BATCH): the worker count
	 * the tasks were cut for (a run on another count takes the other
	 * path), 0 never. split_dirty: the parameters (and moments) lack the
	 * tasks' latest blocks, which trainer_split_sync writes. */
	int split;
	int split_dirty;
	/* A split step's dL/dz of the first layer for the whole batch, by the
	 * column parts: part c's (batch x its columns) at batch_size * j0_c. */
	float *split_dz;
	/* The tasks: half g, column part c of split_parts is task g * parts + c. */
	struct split_task *split_task;
	int split_tasks, split_parts;
	struct worker_state *wk;
	int ws_cap;

	uint32_t *perm;  /* this epoch's order of the training set */
	int perm_epoch;  /* epoch perm was shuffled for, -1 none */

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
static inline int slot_count(int batch)
{
	if (batch <= 256) {
		int s = (batch + 15) / 16;
		return s > 4 ? 4 : s;
	}
	int s = (batch + 63) / 64;
	return s > TRAIN_MAX_SLOTS ? TRAIN_MAX_SLOTS : s;
}

/* First sample of slot s of S in a batch of B: sizes differ by at most 1. */
static inline int slot_start(int s, int S, int B)
{
	return (int)((long)s * B / S);
}

/* Writes a split run's columns of W and their moments into the
 * parameters, if they are not there yet: after a run and before anything
 * reads the parameters from a hook (train.c). */
void trainer_split_sync(struct trainer *t);

/* The pixel where the first layer's forward splits its sums (sparse.h):
 * the one that halves its work over the training set (dataset.h), a
 * function of the data alone, so every path and worker count sums in the
 * same order. */
static inline int train_pixel_half(const struct dataset *ds)
{
	return ds->train_half ? ds->train_half : ds->features / 8 * 4;
}

/* Part w of W's columns j0..j1 of a first layer of H units shared by
 * columns (train.c): whole register blocks of the tier's kernels while
 * there are as many as parts, else whole cache lines; a function of H,
 * W and the tier. */
static inline void train_split_columns(int H, int W, int w, int *j0, int *j1)
{
	int u = sparse_col_block();
	if (H / u < W)
		u = 16;
	const int units = (H + u - 1) / u;
	const int a = units * w / W * u, b = units * (w + 1) / W * u;
	*j0 = a < H ? a : H;
	*j1 = b < H ? b : H;
}

#endif
