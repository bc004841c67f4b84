/*
 * main.c - the traind binary: `traind train`, `traind gradcheck`,
 * `traind serve`, ... Everything lives in the library; this only dispatches.
 */
#include <cblas.h>

#include "config.h"
#include "traind/cli.h"

int main(int argc, char **argv)
{
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
	/* The worker pool is the parallelism: BLAS runs one thread per caller. */
	openblas_set_num_threads(1);
#endif
	return cli_main(argc, argv);
}
