/*
 * main.c - the traind binary: `traind train`, `traind gradcheck`,
 * `traind serve`, ... Everything lives in the library; this only dispatches,
 * after making sure OpenBLAS runs the kernels of the tier traind uses.
 */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "traind/cli.h"
#include "traind/isa.h"

/* OpenBLAS picks its kernels when it loads, from OPENBLAS_CORETYPE or
 * its own look at the CPU; a build older than the CPU falls back to its
 * SSE3 kernels (0.3.21 on Sapphire and Emerald Rapids: 3-4x slower GEMMs).
 * When the variable is unset and OpenBLAS picked a tier below the one
 * traind's own kernels use, run again with that tier's core. A variable
 * the environment set is never changed; TRAIND_BLAS_CORE=keep keeps
 * OpenBLAS's own choice. */
static void blas_core_match(char **argv)
{
	const char *keep = getenv("TRAIND_BLAS_CORE");
	if (getenv("OPENBLAS_CORETYPE") || (keep && strcmp(keep, "keep") == 0))
		return;
	struct td_error e;
	if (isa_init(&e))
		return; /* cli_main reports the bad TRAIND_ISA */
	enum isa_tier want = isa_tier();
	if (want == ISA_GENERIC || isa_blas_tier() >= want)
		return;
	setenv("OPENBLAS_CORETYPE", want == ISA_AVX512 ? "SkylakeX" : "Haswell", 1);
	execv("/proc/self/exe", argv); /* on failure: go on with the slower kernels */
}

int main(int argc, char **argv)
{
	blas_core_match(argv);
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
	/* The worker pool is the parallelism: BLAS runs one thread per caller. */
	openblas_set_num_threads(1);
#endif
	return cli_main(argc, argv);
}
