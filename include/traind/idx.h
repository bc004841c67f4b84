/*
 * idx.h - the IDX file format of MNIST and Fashion-MNIST, read and written.
 *
 * An IDX file is a big-endian header (two zero bytes, a type byte, a
 * dimension count, then one uint32 per dimension) followed by the data.
 * traind reads unsigned-byte files (type 0x08) only: images (3 dims) and
 * labels (1 dim). Plain and gzip-compressed files share one path (zlib's
 * gzread reads both), and every reader checks the header against the file
 * size so a truncated or padded file is an error naming the file, never a
 * crash or a short read.
 */
#ifndef TRAIND_IDX_H
#define TRAIND_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "traind/error.h"

#define IDX_MAX_DIMS 4
#define IDX_TYPE_UBYTE 0x08

struct idx_array {
	int ndim;
	uint32_t dims[IDX_MAX_DIMS];
	size_t count;  /* product of dims */
	uint8_t *data; /* count bytes, owned */
};

/* Parses an in-memory IDX file. `name` is used in error messages. On
 * success `out->data` is a fresh copy; on failure `out` is zeroed. */
int idx_parse(const void *buf, size_t len, const char *name, struct idx_array *out,
	      struct td_error *e);

/* Reads `path` (plain or .gz), refusing more than `max_bytes` decompressed. */
int idx_load(const char *path, size_t max_bytes, struct idx_array *out, struct td_error *e);

/* Writes an unsigned-byte IDX file; gzip-compressed when `path` ends in
 * ".gz". Written to a temporary name and renamed, so a reader never sees a
 * half-written file. */
int idx_write(const char *path, int ndim, const uint32_t *dims, const uint8_t *data,
	      struct td_error *e);

void idx_free(struct idx_array *a);

#endif
