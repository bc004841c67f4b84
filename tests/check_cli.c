/*
 * check_cli.c - the command line as a person uses it: train on the real
 * digits, save the model, and predict a held-out digit from an image file
 * offline; bad arguments are refused with a status, not a crash.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_suites.h"
#include "testutil.h"
#include "traind/cli.h"
#include "traind/dataset.h"
#include "traind/isa.h"

/* Runs `traind ARGS...` in-process with stdout captured to a file. */
static int run_cli(const char *out_path, int argc, char **argv)
{
	fflush(stdout);
	int saved = dup(1);
	FILE *f = fopen(out_path, "w");
	dup2(fileno(f), 1);
	int rc = cli_main(argc, argv);
	fflush(stdout);
	dup2(saved, 1);
	close(saved);
	fclose(f);
	return rc;
}

/* --version names the kernels' tier and first-layer mode. */
START_TEST(test_version_names_the_isa_tier)
{
	char *dir = test_tmpdir(), *out = test_path(dir, "out");
	char *argv[] = {"traind", "--version"};
	ck_assert_int_eq(run_cli(out, 2, argv), 0);
	char line[256] = "", want[64];
	FILE *f = fopen(out, "r");
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	fclose(f);
	snprintf(want, sizeof(want), " isa %s ", isa_tier_name(isa_tier()));
	ck_assert_msg(strstr(line, want) != NULL, "%s", line);
	ck_assert_ptr_nonnull(strstr(line, "first-layer "));
	free(out);
	test_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_train_save_then_predict_a_digit_image)
{
	const char *data = getenv("TRAIND_TEST_DATA");
	char *dir = test_tmpdir(), *model = test_path(dir, "m.ckpt"), *out = test_path(dir, "out");
	char data_dir[4200];
	snprintf(data_dir, sizeof(data_dir), "%s", data ? data : "data");
	char *train[] = {"traind", "train", "--hidden", "64", "--epochs", "3", "--workers", "2",
			 "--data-dir", data_dir, "--save", model, "--quiet"};
	ck_assert_int_eq(run_cli(out, 13, train), 0);

	/* Three held-out digits as PGM files (white ink on black, 28x28). */
	struct dataset_registry *reg = registry_create();
	registry_add_defaults(reg, data_dir, NULL);
	const struct dataset *d;
	ck_assert_int_eq(registry_get(reg, "digits", &d, NULL), 0);
	char *files[3];
	int labels[3];
	for (int k = 0; k < 3; k++) {
		char name[32];
		snprintf(name, sizeof(name), "d%d.pgm", k);
		files[k] = test_path(dir, name);
		size_t i = (size_t)k * 7;
		labels[k] = d->test_y[i];
		char header[32];
		int h = snprintf(header, sizeof(header), "P5\n28 28\n255\n");
		unsigned char buf[32 + 784];
		memcpy(buf, header, (size_t)h);
		memcpy(buf + h, d->test_x + i * 784, 784);
		ck_assert_int_eq(test_write_file(files[k], buf, (size_t)h + 784), 0);
	}
	char *predict[] = {"traind", "predict", "--model", model, "--json", files[0], files[1], files[2]};
	ck_assert_int_eq(run_cli(out, 8, predict), 0);
	json_error_t je;
	json_t *o = json_load_file(out, 0, &je);
	ck_assert_ptr_nonnull(o);
	json_t *preds = json_object_get(o, "predictions");
	ck_assert_int_eq(json_array_size(preds), 3);
	int right = 0;
	for (int k = 0; k < 3; k++) {
		json_t *p = json_array_get(preds, (size_t)k);
		right += json_integer_value(json_object_get(p, "label")) == labels[k];
		double sum = 0;
		json_t *probs = json_object_get(p, "probabilities");
		ck_assert_int_eq(json_array_size(probs), 10);
		for (size_t c = 0; c < 10; c++)
			sum += json_real_value(json_array_get(probs, c));
		ck_assert_double_eq_tol(sum, 1.0, 1e-5);
	}
	ck_assert_int_ge(right, 2);
	json_decref(o);

	/* A damaged model file and a missing image are refused. */
	test_write_file(model, "TRAINDCK junk", 13);
	ck_assert_int_eq(run_cli(out, 8, predict), 1);
	char *bad_args[] = {"traind", "train", "--batch-size", "0"};
	ck_assert_int_eq(run_cli(out, 4, bad_args), 2);
	char *unknown[] = {"traind", "fly"};
	ck_assert_int_eq(run_cli(out, 2, unknown), 2);
	for (int k = 0; k < 3; k++)
		free(files[k]);
	registry_free(reg);
	test_rmtree(dir);
	free(dir);
	free(model);
	free(out);
}
END_TEST

Suite *suite_cli(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_version_names_the_isa_tier);
	tcase_add_test(tc, test_train_save_then_predict_a_digit_image);
	suite_add_tcase(s, tc);
	return s;
}
