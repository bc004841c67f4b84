/*
 * histseries.h - a job's histograms per epoch: for every layer, the
 * values of its weights W and of its activations a on a fixed sample of
 * the test set, each in HIST_BINS equal bins over [lo, hi] of that
 * epoch's values; bounded in memory and thinned evenly, and its file
 * format (hist.bin beside curve.bin).
 *
 * A series keeps at most `cap` epochs; when full, every other one is
 * dropped (the first and the newest kept), so a long run stays spanned.
 *
 * hist.bin, version 1, little-endian:
 *   "TRDHISTS" (8 bytes), u32 version = 1, u32 bins, u32 count,
 *   count x (u32 epoch, u32 rows, rows x (f32 lo, f32 hi, bins x u32)),
 *   u32 CRC-32 (zlib's) of every byte before it.
 * The module is pure: no locks, no files.
 */
#ifndef TRAIND_HISTSERIES_H
#define TRAIND_HISTSERIES_H

#include <stddef.h>
#include <stdint.h>

#include "traind/error.h"
#include "traind/model.h"

#define HIST_BINS 32
#define HIST_MAX_EPOCHS 64
#define HIST_MAX_ROWS (2 * MODEL_MAX_LAYERS) /* W1, a1, W2, a2, ... */

struct hist_row {
	float lo, hi;                 /* the values' range; bin k covers lo + k (hi - lo) / bins */
	uint32_t count[HIST_BINS];
};

struct hist_epoch {
	int epoch; /* 1-based */
	int rows;  /* 2 per layer: row 2l is W(l+1), row 2l+1 is a(l+1) */
	struct hist_row row[HIST_MAX_ROWS];
};

struct hist_series {
	struct hist_epoch *e; /* allocated at the first epoch */
	size_t n, cap;
};

/* The histogram of v[0..n) (non-finite values left out). */
void hist_row_fill(struct hist_row *r, const float *v, size_t n);

void hist_series_init(struct hist_series *s, size_t cap);
void hist_series_free(struct hist_series *s);
/* TD_ENOMEM when the first allocation fails. */
int hist_series_add(struct hist_series *s, const struct hist_epoch *h);

int hist_series_encode(const struct hist_series *s, uint8_t **buf, size_t *len,
		       struct td_error *e);
/* Adds the epochs of a hist.bin up to max_epoch; TD_EFORMAT naming what is
 * wrong with a damaged file. */
int hist_series_decode(struct hist_series *s, const uint8_t *buf, size_t len, int max_epoch,
		       struct td_error *e);

#endif
