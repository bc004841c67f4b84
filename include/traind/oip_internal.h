/*
 * oip_internal.h - what the Open Inference Protocol's two body readers
 * share: oip_parse.c (any request, through a Jansson tree of its header)
 * and oip_fast.c (a binary request's plainly written header in one pass).
 * Nothing outside src/daemon/oip*.c and their tests includes it.
 *
 * layer: daemon
 */
#ifndef TRAIND_OIP_INTERNAL_H
#define TRAIND_OIP_INTERNAL_H

#include "traind/oip.h"

enum oip_dtype { OIP_FP32, OIP_UINT8 };

/* The input tensor's datatype, instance count and where its data is. */
struct oip_tensor {
	enum oip_dtype dt;
	int n;
	long long binary_size; /* -1: data in JSON */
};

/* Reads the JSON header h[hlen] of a request whose input comes as binary
 * data, for a model of width x height inputs: 1 with q's id, range (0
 * when not given), mnist, binary_all and outputs and t filled in exactly
 * as the general reader would fill them; 0, touching nothing, for any
 * header it does not recognise, errors included, which the general
 * reader then reads. */
int oip_fast_header(const char *h, size_t hlen, int width, int height, int max_instances,
		    struct oip_request *q, struct oip_tensor *t);

/* oip_parse_infer without the one-pass reader: every header through
 * Jansson. For tests that compare the two. */
int oip_parse_infer_general(const char *body, size_t len, const char *header_length,
			    int width, int height, int max_instances, struct oip_request *q,
			    struct td_error *e);

#endif
