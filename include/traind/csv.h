/*
 * csv.h - users' own data as CSV: one sample a line, `label,p0,...,pN-1`,
 * pixel values 0..255, an optional header line (detected: its first field
 * is not a number). Bad lines are errors naming the file, the line and the
 * column; never a crash.
 */
#ifndef TRAIND_CSV_H
#define TRAIND_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "traind/error.h"

struct csv_data {
	size_t n;        /* samples */
	int features;    /* values per sample after the label */
	uint8_t *images; /* n * features bytes, owned */
	uint8_t *labels; /* n bytes, owned */
};

/* Parses CSV text. `features` is the required number of pixel columns,
 * `n_classes` bounds the labels (0 <= label < n_classes). */
int csv_parse(const char *buf, size_t len, const char *name, int features, int n_classes,
	      struct csv_data *out, struct td_error *e);

/* Reads and parses a file (plain or .gz), at most `max_bytes` of text. */
int csv_load(const char *path, size_t max_bytes, int features, int n_classes,
	     struct csv_data *out, struct td_error *e);

void csv_free(struct csv_data *d);

#endif
