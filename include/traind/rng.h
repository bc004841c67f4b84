/*
 * rng.h - traind's own seeded pseudo-random generator (xoshiro256**,
 * seeded through splitmix64).
 *
 * Written here rather than taken from libc so that a seed means the same
 * weights, the same shuffles and the same data split on every machine and
 * every libc. The state is four words and can be saved in a checkpoint.
 */
#ifndef TRAIND_RNG_H
#define TRAIND_RNG_H

#include <stddef.h>
#include <stdint.h>

struct td_rng {
	uint64_t s[4];
};

/* Seeds from one 64-bit value; distinct seeds give unrelated streams. */
void rng_seed(struct td_rng *r, uint64_t seed);

/* Seeds a stream derived from (seed, stream): e.g. the shuffle of epoch 7. */
void rng_seed_stream(struct td_rng *r, uint64_t seed, uint64_t stream);

uint64_t rng_next(struct td_rng *r);

/* Uniform double in [0, 1), 53 random bits. */
double rng_uniform(struct td_rng *r);

/* Uniform integer in [0, n) without modulo bias; n > 0. */
uint64_t rng_below(struct td_rng *r, uint64_t n);

/* Standard normal (Box-Muller on two uniforms). */
double rng_normal(struct td_rng *r);

/* Fisher-Yates shuffle of idx[0..n). */
void rng_shuffle_u32(struct td_rng *r, uint32_t *idx, size_t n);

#endif
