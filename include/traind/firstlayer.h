/*
 * firstlayer.h - the first dense layer's weight gradient and its update,
 * for the whole minibatch in one pass (layer: engine).
 *
 * layer: engine
 *
 * The first layer holds nearly all of an MLP's weights (784 x 128 of
 * 101,770 in the benchmark net). Summing a full gradient per slot and then
 * the slots would write and read that matrix once per slot; instead each
 * slot leaves only its dL/dz of the first layer (its rows x units, where
 * its W gradient would be in its buffer: ranks exchange it unchanged) and
 * its inputs (lit pixels by column, or dense rows), and after the step's
 * first barrier the workers take chunks of FIRST_LAYER_CHUNK input rows of
 * W: for each, the chunk's gradient X^T . dz over the whole batch is
 * computed in L1 and the optimizer applied to it at once.
 *
 * The chunks are fixed by the layer's size and each chunk's arithmetic by
 * the data (slot by slot, each slot's samples in order), so which worker
 * takes which chunk never changes a bit of the weights.
 */
#ifndef TRAIND_FIRSTLAYER_H
#define TRAIND_FIRSTLAYER_H

#include "traind/optim.h"
#include "traind/sparse.h"

/* Input rows of W per chunk: a multiple of the gradient kernels' pixel
 * blocks (3 and 4, sparse_kernels.inc), so only the last chunk has
 * single-pixel leftovers. */
#define FIRST_LAYER_CHUNK 24

/* The batch as the slots left it. */
struct first_layer_batch {
	int F, H;    /* inputs and units of the layer */
	int slots;   /* S */
	const int *rows;                       /* per slot: its samples */
	const struct sparse_cols *const *cols; /* per slot: its lit pixels; NULL: dense */
	const float *const *in;                /* dense (cols NULL): per slot, rows x F */
	const float *const *dz;                /* per slot: rows x H, dL/dz of the layer */
};

/* Where the chunk's update goes. */
struct first_layer_update {
	const struct optim_hparams *hp;
	float *w;       /* W, F x H row-major */
	float *m, *v;   /* its moments (NULL when the rule keeps none) */
	float inv_batch;
	long step;      /* 1-based (Adam's bias correction) */
	double *sums;   /* layer statistics (optim_update_measured), or NULL */
};

/* Chunks of a layer with F inputs. */
int first_layer_chunks(int F);

/* Chunk c: its rows of X^T . dz into scratch (FIRST_LAYER_CHUNK x H
 * floats), then the update of those rows of W. */
void first_layer_chunk(const struct first_layer_batch *b, const struct first_layer_update *u,
		       int c, float *scratch);

#endif
