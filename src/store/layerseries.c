/*
 * layerseries.c - per-layer statistics in memory and in layers.bin (see
 * layerseries.h); the thinning is the loss curve's.
 */
#include "traind/layerseries.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "traind/byteorder.h"

#define LAYERS_MAGIC "TRDLAYER"
#define LAYERS_VERSION 1
#define HEADER 20 /* magic, version, tensors, count */

int layer_series_init(struct layer_series *s, size_t cap)
{
	memset(s, 0, sizeof(*s));
	cap = cap < 2 ? 2 : cap;
	s->points = malloc(sizeof(*s->points) * cap);
	if (!s->points)
		return TD_ENOMEM;
	s->cap = cap;
	s->stride = 1;
	return 0;
}

void layer_series_free(struct layer_series *s)
{
	free(s->points);
	memset(s, 0, sizeof(*s));
}

static void add_point(struct layer_series *s, const struct layer_point *p)
{
	size_t n = s->n;
	if (n >= 2 && s->points[n - 1].step - s->points[n - 2].step < s->stride) {
		s->points[n - 1] = *p; /* the newest replaces a provisional newest */
		return;
	}
	if (n == s->cap) {
		size_t k = 0;
		for (size_t i = 0; i < n - 1; i += 2)
			s->points[k++] = s->points[i];
		s->points[k++] = s->points[n - 1];
		s->n = k;
		s->stride *= 2;
	}
	s->points[s->n++] = *p;
}

void layer_series_add(struct layer_series *s, long step, const double (*v)[3], int tensors)
{
	if (tensors < 1 || tensors > MODEL_MAX_LAYERS || (s->tensors && tensors != s->tensors))
		return;
	s->tensors = tensors;
	struct layer_point p;
	memset(&p, 0, sizeof(p));
	p.step = step;
	for (int t = 0; t < tensors; t++)
		for (int k = 0; k < 3; k++)
			p.v[t][k] = (float)v[t][k];
	add_point(s, &p);
}

size_t layer_series_select(const struct layer_series *s, long since_step, size_t max,
			   struct layer_point *out)
{
	size_t first = 0;
	while (first < s->n && s->points[first].step < since_step)
		first++;
	size_t count = s->n - first;
	size_t take = count < max ? count : max;
	for (size_t k = 0; k < take; k++)
		out[k] = s->points[first + (take == 1 ? count - 1 : k * (count - 1) / (take - 1))];
	return take;
}

long layer_series_next_step(const struct layer_series *s)
{
	return s->n ? s->points[s->n - 1].step + 1 : 0;
}

static size_t point_bytes(int tensors)
{
	return 8 + 12 * (size_t)tensors;
}

int layer_series_encode(const struct layer_series *s, uint8_t **buf, size_t *len,
			struct td_error *e)
{
	size_t pb = point_bytes(s->tensors), total = HEADER + pb * s->n + 4;
	uint8_t *b = malloc(total);
	if (!b)
		return td_errorf(e, TD_ENOMEM, "", "out of memory saving %zu layer points", s->n);
	memcpy(b, LAYERS_MAGIC, 8);
	td_put_le32(b + 8, LAYERS_VERSION);
	td_put_le32(b + 12, (uint32_t)s->tensors);
	td_put_le32(b + 16, (uint32_t)s->n);
	for (size_t i = 0; i < s->n; i++) {
		uint8_t *p = b + HEADER + pb * i;
		td_put_le(p, (uint64_t)s->points[i].step, 8);
		for (int t = 0; t < s->tensors; t++)
			for (int k = 0; k < 3; k++)
				td_put_lef32(p + 8 + 12 * t + 4 * k, s->points[i].v[t][k]);
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
	return td_errorf(e, TD_EFORMAT, "layers", "not a traind layer-statistics file: %s", why);
}

int layer_series_decode(struct layer_series *s, const uint8_t *b, size_t len, long max_step,
			struct td_error *e)
{
	if (len < HEADER + 4 || memcmp(b, LAYERS_MAGIC, 8) != 0)
		return bad(e, "no TRDLAYER header");
	uint32_t version = td_get_le32(b + 8), tensors = td_get_le32(b + 12);
	size_t n = td_get_le32(b + 16);
	if (version != LAYERS_VERSION)
		return td_errorf(e, TD_EFORMAT, "layers",
				 "layer-statistics file version %u; this traind reads 1", version);
	if (tensors > MODEL_MAX_LAYERS)
		return bad(e, "it claims more weight tensors than a model has");
	size_t pb = point_bytes((int)tensors);
	if ((len - HEADER - 4) / pb < n || len != HEADER + pb * n + 4)
		return bad(e, "its length does not match its point count");
	uLong crc = crc32(0L, Z_NULL, 0);
	crc = crc32(crc, b, (uInt)(len - 4));
	if ((uint32_t)crc != td_get_le32(b + len - 4))
		return bad(e, "its CRC-32 does not match its contents (the file is damaged)");
	for (size_t i = 0; i < n; i++) {
		const uint8_t *p = b + HEADER + pb * i;
		long step = (long)td_get_le(p, 8);
		if (step > max_step || step < 0)
			break;
		double v[MODEL_MAX_LAYERS][3];
		for (uint32_t t = 0; t < tensors; t++)
			for (int k = 0; k < 3; k++)
				v[t][k] = td_get_lef32(p + 8 + 12 * t + 4 * k);
		layer_series_add(s, step, (const double (*)[3])v, (int)tensors);
	}
	return 0;
}
