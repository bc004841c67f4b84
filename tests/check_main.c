/*
 * check_main.c - the one Check runner: every module's suite, one report.
 *
 * CK_RUN_SUITE=name or CK_RUN_CASE=name (Check's own variables) narrow a
 * run to one suite or case while working on it. Run by hand, it takes
 * OpenBLAS at one thread as `make check` does (OPENBLAS_NUM_THREADS set
 * wins): the float-against-double tolerances were set for that summation.
 */
#include <stdlib.h>

#include "check_suites.h"
#include "config.h"

#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
#include <cblas.h>
#endif

int main(void)
{
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
	if (!getenv("OPENBLAS_NUM_THREADS"))
		openblas_set_num_threads(1);
#endif
	Suite *(*const suites[])(void) = {
		suite_error, suite_paths, suite_rng, suite_idx, suite_csv, suite_dataset, suite_digits,
		suite_image, suite_jobcfg, suite_nn, suite_model, suite_sparse, suite_isa, suite_pool,
		suite_train, suite_checkpoint, suite_curve, suite_jobs, suite_cli, suite_srvconf,
		suite_instances, suite_http, suite_apidoc, suite_oip, suite_oip_fast, suite_route,
		suite_validate, suite_connguard, suite_conv,
		suite_explain, suite_learning, suite_shutdown,
	};
	SRunner *sr = srunner_create(suites[0]());
	for (size_t i = 1; i < sizeof(suites) / sizeof(suites[0]); i++)
		srunner_add_suite(sr, suites[i]());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
