/*
 * histseries.c - per-epoch histograms in memory and in hist.bin (see
 * histseries.h).
 */
#include "traind/histseries.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "traind/byteorder.h"

#define HIST_MAGIC "TRDHISTS"
#define HIST_VERSION 1
#define HEADER 20
#define ROW_BYTES (8 + 4 * HIST_BINS)

void hist_row_fill(struct hist_row *r, const float *v, size_t n)
{
	memset(r, 0, sizeof(*r));
	float lo = INFINITY, hi = -INFINITY;
	for (size_t i = 0; i < n; i++)
		if (isfinite(v[i])) {
			lo = v[i] < lo ? v[i] : lo;
			hi = v[i] > hi ? v[i] : hi;
		}
	if (lo > hi)
		return; /* nothing finite */
	r->lo = lo;
	r->hi = hi;
	double scale = hi > lo ? HIST_BINS / ((double)hi - (double)lo) : 0;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(v[i]))
			continue;
		int k = (int)(((double)v[i] - lo) * scale);
		r->count[k >= HIST_BINS ? HIST_BINS - 1 : k]++;
	}
}

void hist_series_init(struct hist_series *s, size_t cap)
{
	memset(s, 0, sizeof(*s));
	s->cap = cap < 2 ? 2 : cap;
}

void hist_series_free(struct hist_series *s)
{
	free(s->e);
	memset(s, 0, sizeof(*s));
}

int hist_series_add(struct hist_series *s, const struct hist_epoch *h)
{
	if (!s->e && !(s->e = malloc(sizeof(*s->e) * s->cap)))
		return TD_ENOMEM;
	if (s->n == s->cap) {
		size_t k = 0;
		for (size_t i = 0; i < s->n - 1; i += 2)
			s->e[k++] = s->e[i];
		s->e[k++] = s->e[s->n - 1];
		s->n = k;
	}
	s->e[s->n++] = *h;
	return 0;
}

int hist_series_encode(const struct hist_series *s, uint8_t **buf, size_t *len,
		       struct td_error *e)
{
	size_t total = HEADER + 4;
	for (size_t i = 0; i < s->n; i++)
		total += 8 + ROW_BYTES * (size_t)s->e[i].rows;
	uint8_t *b = malloc(total), *p = b + HEADER;
	if (!b)
		return td_errorf(e, TD_ENOMEM, "", "out of memory saving %zu histograms", s->n);
	memcpy(b, HIST_MAGIC, 8);
	td_put_le32(b + 8, HIST_VERSION);
	td_put_le32(b + 12, HIST_BINS);
	td_put_le32(b + 16, (uint32_t)s->n);
	for (size_t i = 0; i < s->n; i++) {
		td_put_le32(p, (uint32_t)s->e[i].epoch);
		td_put_le32(p + 4, (uint32_t)s->e[i].rows);
		p += 8;
		for (int r = 0; r < s->e[i].rows; r++, p += ROW_BYTES) {
			const struct hist_row *row = &s->e[i].row[r];
			td_put_lef32(p, row->lo);
			td_put_lef32(p + 4, row->hi);
			for (int k = 0; k < HIST_BINS; k++)
				td_put_le32(p + 8 + 4 * k, row->count[k]);
		}
	}
	uLong crc = crc32(0L, Z_NULL, 0);
	crc = crc32(crc, b, (uInt)(total - 4));
	td_put_le32(b + total - 4, (uint32_t)crc);
	*buf = b;
	*len = total;
	return 0;
}

static int bad(struct td_error *e, const char *why)
{
	return td_errorf(e, TD_EFORMAT, "histograms", "not a traind histogram file: %s", why);
}

int hist_series_decode(struct hist_series *s, const uint8_t *b, size_t len, int max_epoch,
		       struct td_error *e)
{
	if (len < HEADER + 4 || memcmp(b, HIST_MAGIC, 8) != 0)
		return bad(e, "no TRDHISTS header");
	uint32_t version = td_get_le32(b + 8);
	if (version != HIST_VERSION)
		return td_errorf(e, TD_EFORMAT, "histograms",
				 "histogram file version %u; this traind reads 1", version);
	if (td_get_le32(b + 12) != HIST_BINS)
		return bad(e, "its bin count is not this traind's");
	uLong crc = crc32(0L, Z_NULL, 0);
	crc = crc32(crc, b, (uInt)(len - 4));
	if ((uint32_t)crc != td_get_le32(b + len - 4))
		return bad(e, "its CRC-32 does not match its contents (the file is damaged)");
	size_t n = td_get_le32(b + 16), at = HEADER, end = len - 4;
	for (size_t i = 0; i < n; i++) {
		if (end - at < 8)
			return bad(e, "it is cut short");
		struct hist_epoch h;
		memset(&h, 0, sizeof(h));
		h.epoch = (int)td_get_le32(b + at);
		uint32_t rows = td_get_le32(b + at + 4);
		at += 8;
		if (rows > HIST_MAX_ROWS || (end - at) / ROW_BYTES < rows)
			return bad(e, "an epoch's row count does not fit the file");
		h.rows = (int)rows;
		for (uint32_t r = 0; r < rows; r++, at += ROW_BYTES) {
			h.row[r].lo = td_get_lef32(b + at);
			h.row[r].hi = td_get_lef32(b + at + 4);
			for (int k = 0; k < HIST_BINS; k++)
				h.row[r].count[k] = td_get_le32(b + at + 8 + 4 * k);
		}
		if (h.epoch > max_epoch || h.epoch < 1)
			break;
		if (hist_series_add(s, &h))
			return td_errorf(e, TD_ENOMEM, "", "out of memory reading histograms");
	}
	if (at != end && n && s->n == n)
		return bad(e, "its length does not match its epochs");
	return 0;
}
