/*
 * check_suites.h - one Check suite per module; check_main.c runs them all.
 */
#ifndef CHECK_SUITES_H
#define CHECK_SUITES_H

#include <check.h>

Suite *suite_error(void);
Suite *suite_paths(void);
Suite *suite_rng(void);
Suite *suite_idx(void);
Suite *suite_csv(void);
Suite *suite_dataset(void);
Suite *suite_digits(void);
Suite *suite_image(void);
Suite *suite_jobcfg(void);
Suite *suite_nn(void);
Suite *suite_model(void);
Suite *suite_pool(void);
Suite *suite_train(void);
Suite *suite_sparse(void);
Suite *suite_isa(void);
Suite *suite_checkpoint(void);
Suite *suite_jobs(void);
Suite *suite_curve(void);
Suite *suite_cli(void);
Suite *suite_srvconf(void);
Suite *suite_http(void);
Suite *suite_apidoc(void);
Suite *suite_instances(void);
Suite *suite_conv(void);
Suite *suite_oip(void);
Suite *suite_oip_fast(void);
Suite *suite_route(void);
Suite *suite_validate(void);
Suite *suite_connguard(void);
Suite *suite_explain(void);
Suite *suite_learning(void);
Suite *suite_shutdown(void);

#endif
