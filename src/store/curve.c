/*
 * curve.c - loss curves in memory and in curve.bin (see curve.h).
 */
#include "traind/curve.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "traind/byteorder.h"

#define CURVE_MAGIC "TRDCURVE"
#define CURVE_VERSION 2
#define CURVE_V2_MARK 0xffffffffu
#define POINT_BYTES 20
#define V1_HEADER 12 /* magic, count */
#define V2_HEADER 20 /* magic, mark, version, count */

int curve_init(struct curve *c, size_t cap)
{
	memset(c, 0, sizeof(*c));
	c->points = malloc(sizeof(*c->points) * (cap < 2 ? 2 : cap));
	if (!c->points)
		return TD_ENOMEM;
	c->cap = cap < 2 ? 2 : cap;
	c->stride = 1;
	return 0;
}

void curve_free(struct curve *c)
{
	free(c->points);
	memset(c, 0, sizeof(*c));
}

void curve_add(struct curve *c, long step, double time, double loss)
{
	struct curve_point p = {step, time, (float)loss};
	size_t n = c->n;
	if (n >= 2 && c->points[n - 1].step - c->points[n - 2].step < c->stride) {
		c->points[n - 1] = p; /* the newest replaces a provisional newest */
		return;
	}
	if (n == c->cap) {
		size_t k = 0;
		for (size_t i = 0; i < n - 1; i += 2)
			c->points[k++] = c->points[i];
		c->points[k++] = c->points[n - 1];
		c->n = k;
		c->stride *= 2;
	}
	c->points[c->n++] = p;
}

size_t curve_select(const struct curve *c, long since_step, size_t max, struct curve_point *out)
{
	size_t first = 0;
	while (first < c->n && c->points[first].step < since_step)
		first++;
	size_t count = c->n - first;
	size_t take = count < max ? count : max;
	for (size_t k = 0; k < take; k++)
		out[k] = c->points[first + (take == 1 ? count - 1 : k * (count - 1) / (take - 1))];
	return take;
}

long curve_next_step(const struct curve *c)
{
	return c->n ? c->points[c->n - 1].step + 1 : 0;
}

int curve_encode(const struct curve *c, uint8_t **buf, size_t *len, struct td_error *e)
{
	size_t total = V2_HEADER + POINT_BYTES * c->n + 4;
	uint8_t *b = malloc(total);
	if (!b)
		return td_errorf(e, TD_ENOMEM, "", "out of memory saving a curve of %zu points", c->n);
	memcpy(b, CURVE_MAGIC, 8);
	td_put_le32(b + 8, CURVE_V2_MARK);
	td_put_le32(b + 12, CURVE_VERSION);
	td_put_le32(b + 16, (uint32_t)c->n);
	for (size_t i = 0; i < c->n; i++) {
		uint8_t *p = b + V2_HEADER + POINT_BYTES * i;
		td_put_le(p, (uint64_t)c->points[i].step, 8);
		td_put_lef64(p + 8, c->points[i].time);
		td_put_lef32(p + 16, c->points[i].loss);
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
	return td_errorf(e, TD_EFORMAT, "curve", "not a traind curve file: %s", why);
}

int curve_decode(struct curve *c, const uint8_t *b, size_t len, long max_step,
		 struct td_error *e)
{
	if (len < V1_HEADER || memcmp(b, CURVE_MAGIC, 8) != 0)
		return bad(e, "no TRDCURVE header");
	size_t header = V1_HEADER, n;
	if (td_get_le32(b + 8) == CURVE_V2_MARK) {
		if (len < V2_HEADER + 4)
			return bad(e, "its header is cut short");
		uint32_t version = td_get_le32(b + 12);
		if (version != CURVE_VERSION)
			return td_errorf(e, TD_EFORMAT, "curve",
					 "curve file version %u; this traind reads 1 and 2", version);
		n = td_get_le32(b + 16);
		header = V2_HEADER;
		if ((len - header - 4) / POINT_BYTES < n || len != header + POINT_BYTES * n + 4)
			return bad(e, "its length does not match its point count");
		uLong crc = crc32(0L, Z_NULL, 0);
		crc = crc32(crc, b, (uInt)(len - 4));
		if ((uint32_t)crc != td_get_le32(b + len - 4))
			return bad(e, "its CRC-32 does not match its contents (the file is damaged)");
	} else {
		n = td_get_le32(b + 8);
		if ((len - header) / POINT_BYTES < n || len != header + POINT_BYTES * n)
			return bad(e, "its length does not match its point count");
	}
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = b + header + POINT_BYTES * i;
		long step = (long)td_get_le(p, 8);
		if (step > max_step || step < 0)
			break;
		curve_add(c, step, td_get_lef64(p + 8), td_get_lef32(p + 16));
	}
	return 0;
}
