/*
 * fuzz_instances.c - libFuzzer harness for the predict body the daemon
 * reads (instances.h): instances_parse on 28x28 inputs with a limit of 64
 * instances, then the MNIST preprocessing on what it accepted.
 *
 * Beyond the sanitizers it checks what the handler relies on: success
 * gives 1..64 instances of finite values in [0, 1], and failure is
 * TD_EINVAL or TD_ETOOBIG with a message.
 *
 * fuzz-sources: src/daemon/instances.c src/data/image.c src/core/error.c
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz.h"
#include "traind/image.h"
#include "traind/instances.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct instances in;
	struct td_error e = {"", ""};
	int rc = instances_parse((const char *)data, size, 28, 28, 64, &in, &e);
	if (rc != 0) {
		FUZZ_CHECK(rc == TD_EINVAL || rc == TD_ETOOBIG || rc == TD_ENOMEM,
			   "unexpected code %d", rc);
		FUZZ_CHECK(e.msg[0] != '\0', "an error without a message");
		return 0;
	}
	FUZZ_CHECK(in.n >= 1 && in.n <= 64, "%d instances", in.n);
	for (size_t i = 0; i < (size_t)in.n * 784; i++)
		FUZZ_CHECK(isfinite(in.x[i]) && in.x[i] >= 0 && in.x[i] <= 1,
			   "input %zu is %g", i, (double)in.x[i]);
	if (in.mnist)
		for (int i = 0; i < in.n; i++)
			image_preprocess_mnist(in.x + (size_t)i * 784, 28, 28);
	instances_free(&in);
	return 0;
}
