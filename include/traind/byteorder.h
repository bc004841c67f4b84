/*
 * byteorder.h - the one place bytes on disk or on the wire become
 * integers and back: big-endian (IDX headers, PNG chunks) and
 * little-endian (checkpoints, curve files), whatever the host's order.
 *
 * layer: core
 */
#ifndef TRAIND_BYTEORDER_H
#define TRAIND_BYTEORDER_H

#include <stdint.h>
#include <string.h>

static inline uint32_t td_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline void td_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* Little-endian, `bytes` of 1..8. */
static inline uint64_t td_get_le(const uint8_t *p, int bytes)
{
	uint64_t v = 0;
	for (int i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static inline void td_put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t td_get_le32(const uint8_t *p)
{
	return (uint32_t)td_get_le(p, 4);
}

static inline void td_put_le32(uint8_t *p, uint32_t v)
{
	td_put_le(p, v, 4);
}

/* IEEE-754 values by their bit patterns. */
static inline float td_get_lef32(const uint8_t *p)
{
	uint32_t u = td_get_le32(p);
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static inline void td_put_lef32(uint8_t *p, float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	td_put_le32(p, u);
}

static inline double td_get_lef64(const uint8_t *p)
{
	uint64_t u = td_get_le(p, 8);
	double d;
	memcpy(&d, &u, 8);
	return d;
}

static inline void td_put_lef64(uint8_t *p, double d)
{
	uint64_t u;
	memcpy(&u, &d, 8);
	td_put_le(p, u, 8);
}

#endif
