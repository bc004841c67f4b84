/*
 * curve.h - a job's loss curve: bounded in memory, thinned evenly, read
 * back by cursor, and its file format (curve.bin).
 *
 * A curve keeps at most `cap` points. The newest point is always there;
 * older points stay at least `stride` steps apart, and when the array
 * fills every other one is dropped and the stride doubles. So a curve of
 * any length costs cap points and still spans the whole run.
 *
 * curve.bin, version 2, little-endian:
 *   "TRDCURVE" (8 bytes), u32 0xffffffff (no version-1 file has that many
 *   points), u32 version = 2, u32 count, count x (i64 step, f64 unix time,
 *   f32 loss), u32 CRC-32 (zlib's) of every byte before it.
 * Version 1 ("TRDCURVE", u32 count, the points; no checksum) still reads.
 * The module is pure: no locks, no files (the job store writes the bytes).
 */
#ifndef TRAIND_CURVE_H
#define TRAIND_CURVE_H

#include <stddef.h>
#include <stdint.h>

#include "traind/error.h"

struct curve_point {
	long step;
	double time; /* unix seconds */
	float loss;
};

struct curve {
	struct curve_point *points;
	size_t n, cap;
	long stride; /* kept points are at least this many steps apart */
};

/* cap >= 2; TD_ENOMEM when out of memory. */
int curve_init(struct curve *c, size_t cap);
void curve_free(struct curve *c);
void curve_add(struct curve *c, long step, double time, double loss);

/* The points of step >= since_step, thinned evenly to at most `max`
 * (the first and the newest kept), copied to out; returns the count. */
size_t curve_select(const struct curve *c, long since_step, size_t max, struct curve_point *out);

/* The step after the newest point (0 when empty). */
long curve_next_step(const struct curve *c);

/* curve.bin of the curve: a malloc'd buffer the caller frees. */
int curve_encode(const struct curve *c, uint8_t **buf, size_t *len, struct td_error *e);
/* Adds the points of a curve.bin (either version) of step 0..max_step to
 * c, in order; TD_EFORMAT naming what is wrong with a damaged file. */
int curve_decode(struct curve *c, const uint8_t *buf, size_t len, long max_step,
		 struct td_error *e);

#endif
