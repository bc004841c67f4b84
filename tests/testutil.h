/*
 * testutil.h - small helpers shared by the Check suites: temporary
 * directories that clean themselves up, and whole-file reads.
 */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <stddef.h>

/* Creates a fresh directory under $TMPDIR (or /tmp) and returns its path
 * (static storage per call site is not assumed: the caller frees it). */
char *test_tmpdir(void);

/* Removes a directory tree made by test_tmpdir. */
void test_rmtree(const char *path);

/* Joins dir and name into a new string. */
char *test_path(const char *dir, const char *name);

/* Writes len bytes to path; returns 0 on success. */
int test_write_file(const char *path, const void *buf, size_t len);

/* Reads a whole file; returns NULL on failure. *len receives its size. */
void *test_read_file(const char *path, size_t *len);

#endif
