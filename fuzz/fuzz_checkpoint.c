/*
 * fuzz_checkpoint.c - libFuzzer harness for checkpoint files
 * (checkpoint.h): checkpoint_parse on untrusted bytes, as POST /v1/models,
 * `traind predict --model` and recovery read them.
 *
 * Beyond the sanitizers it checks that what parses is consistent (the
 * parameter count matches the layers, class names are there, parameters
 * are finite) and round-trips: encoding it again and parsing that gives
 * the same parameters. So that the fuzzer gets past the CRC, the harness
 * fixes up the CRC of its input before parsing, half of the time.
 *
 * fuzz-pkg: openblas
 * fuzz-sources: src/core/ src/data/ src/engine/ src/store/checkpoint.c
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fuzz.h"
#include "traind/checkpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (4u << 20))
		return 0;
	unsigned char *buf = malloc(size ? size : 1);
	memcpy(buf, data, size);
	/* The last input byte's low bit decides: fix up the CRC (so the
	 * fuzzer explores the header and sizes) or keep it (so the CRC check
	 * itself is fuzzed). */
	if (size >= 4 && (data[size - 1] & 1)) {
		uLong crc = crc32(0L, buf, (uInt)(size - 4));
		for (int i = 0; i < 4; i++)
			buf[size - 4 + (size_t)i] = (unsigned char)(crc >> (8 * i));
	}
	struct checkpoint c;
	struct td_error e = {"", ""};
	int rc = checkpoint_parse(buf, size, &c, &e);
	if (rc != 0) {
		FUZZ_CHECK(rc == TD_EFORMAT || rc == TD_ENOMEM, "unexpected code %d", rc);
		FUZZ_CHECK(e.msg[0] != '\0', "an error without a message");
		free(buf);
		return 0;
	}
	FUZZ_CHECK(c.n_params == model_param_count(&c.shape), "parameter count");
	FUZZ_CHECK(c.width * c.height == c.shape.sizes[0], "inputs");
	FUZZ_CHECK(c.n_classes >= 2 && c.class_names && c.class_names[c.n_classes - 1],
		   "class names");
	for (size_t i = 0; i < c.n_params; i++)
		FUZZ_CHECK(isfinite(c.params[i]), "parameter %zu", i);
	void *again;
	size_t len;
	FUZZ_CHECK(checkpoint_encode(&c, &again, &len, &e) == 0, "re-encoding: %s", e.msg);
	struct checkpoint d;
	FUZZ_CHECK(checkpoint_parse(again, len, &d, &e) == 0, "the re-encoded file: %s", e.msg);
	FUZZ_CHECK(d.n_params == c.n_params &&
			   memcmp(d.params, c.params, sizeof(float) * c.n_params) == 0,
		   "parameters changed in a round trip");
	checkpoint_free(&d);
	free(again);
	checkpoint_free(&c);
	free(buf);
	return 0;
}
