/*
 * fuzz_oip.c - libFuzzer harness for an Open Inference Protocol infer body
 * (oip.h): oip_parse_infer on 28x28 inputs with a limit of 8 instances.
 *
 * The input's first byte says whether an Inference-Header-Content-Length
 * is sent (bit 0) and whether it is a number (bit 1); the next two bytes,
 * little-endian, are its value modulo the body's length plus 3 (so it can
 * also be past the end); the rest is the body. Beyond the sanitizers it
 * checks what the handler relies on: success gives 1..8 instances of
 * finite inputs in [0, 1] and one or two distinct outputs, and failure is
 * TD_EINVAL, TD_ETOOBIG or TD_ENOMEM with a message and field in UTF-8.
 *
 * fuzz-sources: src/daemon/oip_parse.c src/daemon/oip_fast.c src/data/image.c src/core/error.c
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "fuzz.h"
#include "traind/oip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	const char *body = (const char *)data + 3;
	size_t len = size - 3;
	char hl[32];
	const char *header = NULL;
	if (data[0] & 1) {
		unsigned v = (unsigned)data[1] | (unsigned)data[2] << 8;
		if (data[0] & 2)
			snprintf(hl, sizeof(hl), "%zu", (size_t)v % (len + 3));
		else
			snprintf(hl, sizeof(hl), "%u-x", v);
		header = hl;
	}
	struct oip_request q;
	struct td_error e = {"", ""};
	int rc = oip_parse_infer(body, len, header, 28, 28, 8, &q, &e);
	if (rc != 0) {
		FUZZ_CHECK(rc == TD_EINVAL || rc == TD_ETOOBIG || rc == TD_ENOMEM,
			   "unexpected code %d", rc);
		FUZZ_CHECK(e.msg[0] != '\0', "an error without a message");
		FUZZ_CHECK_ERROR_TEXT(&e, "oip_parse_infer");
		oip_request_free(&q);
		return 0;
	}
	FUZZ_CHECK(q.n >= 1 && q.n <= 8, "%d instances", q.n);
	FUZZ_CHECK(q.range == 1 || q.range == 255, "pixel_range %g", q.range);
	for (size_t i = 0; i < (size_t)q.n * 784; i++)
		FUZZ_CHECK(isfinite(q.x[i]) && q.x[i] >= 0 && q.x[i] <= 1, "input %zu is %g", i,
			   (double)q.x[i]);
	FUZZ_CHECK(q.n_out == 1 || q.n_out == 2, "%d outputs", q.n_out);
	for (int o = 0; o < q.n_out; o++)
		FUZZ_CHECK(q.out[o] == 0 || q.out[o] == 1, "output %d is %d", o, q.out[o]);
	FUZZ_CHECK(q.n_out == 1 || q.out[0] != q.out[1], "an output twice");
	oip_request_free(&q);
	return 0;
}
