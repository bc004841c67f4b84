/*
 * instances.h - the body of a JSON predict request, parsed straight into
 * model inputs.
 *
 *   {"instances": [[784 numbers], [[28 numbers], ... 28 rows], ...],
 *    "pixel_range": 1 | 255, "preprocess": "none" | "mnist"}
 *
 * A general JSON parser would build a tree of one allocation per pixel
 * before a single input is known; this one reads the text once and writes
 * floats, so a request costs its body and its inputs and nothing more. It
 * is strict JSON (RFC 8259) and strict about the request: an unknown or
 * repeated field, a value of the wrong type or an instance of the wrong
 * shape is an error naming the field or the pixel ("instances[3][17]").
 */
#ifndef TRAIND_INSTANCES_H
#define TRAIND_INSTANCES_H

#include <stddef.h>

#include "traind/error.h"

struct instances {
	float *x;       /* n * width * height inputs in [0, 1]; owned */
	int n;
	double pixel_range;
	int mnist;      /* "preprocess": "mnist" (not yet applied) */
};

/* Parses `len` bytes. TD_EINVAL for malformed JSON or a bad field or
 * value, TD_ETOOBIG for more than max_instances instances, TD_ENOMEM. On
 * failure *out is empty. */
int instances_parse(const char *buf, size_t len, int width, int height, int max_instances,
		    struct instances *out, struct td_error *e);

void instances_free(struct instances *in);

#endif
