/*
 * atomic_file.h - files: replacing one so that a reader, or a crash, sees
 * the old contents or the new, never a mix (write a temporary file in the
 * same directory, fsync it, rename it over the target, fsync the
 * directory); and opening and reading regular files only.
 */
#ifndef TRAIND_ATOMIC_FILE_H
#define TRAIND_ATOMIC_FILE_H

#include <stddef.h>

#include "traind/error.h"

/* Writes the concatenation of n_parts buffers to path atomically. On
 * failure the previous file is intact, the temporary is removed, and the
 * message names the step that failed (create, write, fsync, rename, fsync
 * of the directory) and why. */
struct iovec;
int atomic_write(const char *path, const struct iovec *parts, int n_parts, struct td_error *e);

/* Creates a directory and its parents (mode 0750); existing is fine. */
int make_dirs(const char *path, struct td_error *e);

/* Opens a path for reading, refusing anything but a regular file (a
 * directory, a FIFO, a device); the message names the path. */
int open_regular_file(const char *path, int *fd_out, struct td_error *e);

/* Reads a whole file of at most max bytes; *out is malloc'ed. */
int read_file(const char *path, size_t max, void **out, size_t *len, struct td_error *e);

#endif
