/*
 * layerseries.h - a job's per-layer statistics over steps: bounded in
 * memory, thinned evenly like the loss curve (curve.h), read back by
 * cursor, and its file format (layers.bin beside curve.bin).
 *
 * Each point is a step and, for every weight tensor W1..Wn, the three
 * figures of train.h's layer_stat: ||W||, ||dW|| and the update ratio
 * ||dW step|| / ||W||. A series keeps at most `cap` points; the newest is
 * always there, older ones stay at least `stride` steps apart, and when the
 * array fills every other one is dropped and the stride doubles.
 *
 * layers.bin, version 1, little-endian:
 *   "TRDLAYER" (8 bytes), u32 version = 1, u32 tensors, u32 count,
 *   count x (i64 step, tensors x 3 x f32), u32 CRC-32 (zlib's) of every
 *   byte before it.
 * The module is pure: no locks, no files (the job store writes the bytes).
 */
#ifndef TRAIND_LAYERSERIES_H
#define TRAIND_LAYERSERIES_H

#include <stddef.h>
#include <stdint.h>

#include "traind/error.h"
#include "traind/model.h"

#define LAYERS_MAX_POINTS 4096 /* a job's series keeps at most this many */

struct layer_point {
	long step;
	float v[MODEL_MAX_LAYERS][3]; /* w_norm, grad_norm, update_ratio per tensor */
};

struct layer_series {
	struct layer_point *points;
	size_t n, cap;
	long stride;
	int tensors; /* weight tensors per point, 0 until the first point */
};

int layer_series_init(struct layer_series *s, size_t cap);
void layer_series_free(struct layer_series *s);
/* Adds the figures of `tensors` tensors (v[t][0..2]) at `step`; a point
 * with another tensor count than the series' is ignored. */
void layer_series_add(struct layer_series *s, long step, const double (*v)[3], int tensors);

/* Points of step >= since_step, thinned evenly to at most max (the first
 * and the newest kept), copied to out; returns the count. */
size_t layer_series_select(const struct layer_series *s, long since_step, size_t max,
			   struct layer_point *out);
long layer_series_next_step(const struct layer_series *s);

int layer_series_encode(const struct layer_series *s, uint8_t **buf, size_t *len,
			struct td_error *e);
/* Adds the points of a layers.bin of step 0..max_step; TD_EFORMAT naming
 * what is wrong with a damaged file. */
int layer_series_decode(struct layer_series *s, const uint8_t *buf, size_t len, long max_step,
			struct td_error *e);

#endif
