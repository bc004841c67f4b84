/*
 * check_cli.c - the command line as a person uses it: train on the real
 * digits, save the model, and predict a held-out digit from an image file
 * offline; bad arguments are refused with a status, not a crash; train on
 * a user's own IDX or CSV files (--train/--test), refused with the very
 * errors a `dataset` line of the server configuration gets.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_suites.h"
#include "testutil.h"
#include "traind/checkpoint.h"
#include "traind/cli.h"
#include "traind/dataset.h"
#include "traind/srvconf.h"
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

/* The last line of `train --json` names the kernels' tier and the first
 * layer's path the run took, as TRAIND_FIRST_LAYER forces it. */
START_TEST(test_train_json_names_the_tier_and_first_layer_path)
{
	const char *data = getenv("TRAIND_TEST_DATA");
	char *dir = test_tmpdir(), *out = test_path(dir, "out");
	char data_dir[4200];
	snprintf(data_dir, sizeof(data_dir), "%s", data ? data : "data");
	const enum first_layer saved = isa_first_layer();
	static const enum first_layer modes[2] = {FIRST_LAYER_SPARSE, FIRST_LAYER_DENSE};
	for (int k = 0; k < 2; k++) {
		isa_force_first_layer(modes[k]);
		char *train[] = {"traind", "train", "--hidden", "16", "--epochs", "1",
				 "--workers", "1", "--data-dir", data_dir, "--json"};
		ck_assert_int_eq(run_cli(out, 11, train), 0);
		char line[1024] = "", last[1024] = "";
		FILE *f = fopen(out, "r");
		ck_assert_ptr_nonnull(f);
		while (fgets(line, sizeof(line), f))
			memcpy(last, line, sizeof(last));
		fclose(f);
		json_error_t je;
		json_t *o = json_loads(last, 0, &je);
		ck_assert_msg(o != NULL, "not JSON: %s", last);
		ck_assert(json_is_true(json_object_get(o, "done")));
		ck_assert_str_eq(json_string_value(json_object_get(o, "isa")),
				 isa_tier_name(isa_tier()));
		ck_assert_str_eq(json_string_value(json_object_get(o, "first_layer")),
				 k == 0 ? "sparse" : "dense");
		json_decref(o);
	}
	isa_force_first_layer(saved);
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

/* Runs `traind ARGS...` with stdout and stderr each captured to a file;
 * the error text (stderr) is returned, malloc'ed. */
static int run_cli_err(const char *out_path, const char *err_path, int argc, char **argv,
		       char **err_text)
{
	fflush(stderr);
	int saved = dup(2);
	FILE *f = fopen(err_path, "w");
	dup2(fileno(f), 2);
	int rc = run_cli(out_path, argc, argv);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	fclose(f);
	size_t len;
	char *text = test_read_file(err_path, &len);
	char *z = text ? realloc(text, len + 1) : NULL;
	ck_assert_ptr_nonnull(z);
	z[len] = '\0';
	*err_text = z;
	return rc;
}

/* n samples of a w x h, three-class problem: class k lights row band k. */
static void make_samples(int n, int w, int h, unsigned char *x, unsigned char *y)
{
	for (int i = 0; i < n; i++) {
		y[i] = (unsigned char)(i % 3);
		for (int p = 0; p < w * h; p++)
			x[i * w * h + p] = (p / w) * 3 / h == y[i] ? 200 + (i * 7 + p) % 50 : (i + p) % 20;
	}
}

static void be32(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* dir/PREFIX-images.idx and dir/PREFIX-labels.idx; label `bad_label` (if
 * >= 0) replaces the last label. */
static void write_idx(const char *dir, const char *prefix, int n, int bad_label)
{
	enum { W = 6, H = 6 };
	unsigned char *img = malloc(16 + (size_t)n * W * H), lbl[8 + 64];
	ck_assert(n <= 64 && img);
	be32(img, 0x803), be32(img + 4, (unsigned)n), be32(img + 8, H), be32(img + 12, W);
	be32(lbl, 0x801), be32(lbl + 4, (unsigned)n);
	make_samples(n, W, H, img + 16, lbl + 8);
	if (bad_label >= 0)
		lbl[8 + n - 1] = (unsigned char)bad_label;
	char name[64];
	snprintf(name, sizeof(name), "%s/%s-images.idx", dir, prefix);
	ck_assert_int_eq(test_write_file(name, img, 16 + (size_t)n * W * H), 0);
	snprintf(name, sizeof(name), "%s/%s-labels.idx", dir, prefix);
	ck_assert_int_eq(test_write_file(name, lbl, 8 + (size_t)n), 0);
	free(img);
}

/* dir/NAME: a CSV of n samples of w x h with a header line. */
static void write_csv(const char *dir, const char *name, int n, int w, int h)
{
	unsigned char x[64 * 100], y[64];
	ck_assert(n <= 64 && w * h <= 100);
	make_samples(n, w, h, x, y);
	char *path = test_path(dir, name);
	FILE *f = fopen(path, "w");
	fprintf(f, "label");
	for (int p = 0; p < w * h; p++)
		fprintf(f, ",p%d", p);
	for (int i = 0; i < n; i++) {
		fprintf(f, "\n%d", y[i]);
		for (int p = 0; p < w * h; p++)
			fprintf(f, ",%d", x[i * w * h + p]);
	}
	fprintf(f, "\n");
	fclose(f);
	free(path);
}

/* A line "training NAME: P parameters, N train / M test ..." after the
 * "data dir ..." line. */
static void expect_training_line(const char *out, const char *name, int n_train, int n_test)
{
	size_t len;
	char *text = test_read_file(out, &len), want[128];
	ck_assert_ptr_nonnull(text);
	snprintf(want, sizeof(want), "\ntraining %s: ", name);
	ck_assert_msg(strncmp(text, "data dir ", 9) == 0 && memmem(text, len, want, strlen(want)),
		      "output: %.*s", (int)len, text);
	snprintf(want, sizeof(want), ", %d train / %d test samples", n_train, n_test);
	ck_assert_msg(memmem(text, len, want, strlen(want)), "output lacks \"%s\"", want);
	free(text);
}

START_TEST(test_train_on_own_idx_and_csv_files)
{
	char *dir = test_tmpdir(), *out = test_path(dir, "out"), *err = test_path(dir, "err");
	char *model = test_path(dir, "m.ckpt"), *e_text;
	write_idx(dir, "train", 48, -1);
	write_idx(dir, "test", 12, -1);
	char train[512], test[512];
	snprintf(train, sizeof(train), "%s/train-images.idx,%s/train-labels.idx", dir, dir);
	snprintf(test, sizeof(test), "%s/test-images.idx,%s/test-labels.idx", dir, dir);
	char *idx[] = {"traind", "train", "--train", train, "--test", test, "--hidden", "8",
		       "--epochs", "2", "--workers", "1", "--config", "/dev/null"};
	ck_assert_int_eq(run_cli_err(out, err, 14, idx, &e_text), 0);
	free(e_text);
	expect_training_line(out, "files", 48, 12);

	/* CSV with a size and class names of its own, named by --dataset,
	 * saved: the checkpoint carries the name, the size and the classes. */
	write_csv(dir, "train.csv", 30, 5, 4);
	write_csv(dir, "test.csv", 9, 5, 4);
	char *tr = test_path(dir, "train.csv"), *te = test_path(dir, "test.csv");
	char *csv[] = {"traind", "train", "--dataset", "shapes", "--train", tr, "--test", te,
		       "--width", "5", "--height=4", "--classes", "top,middle,bottom", "--hidden",
		       "4", "--epochs", "1", "--save", model, "--config", "/dev/null"};
	ck_assert_int_eq(run_cli_err(out, err, 21, csv, &e_text), 0);
	free(e_text);
	expect_training_line(out, "shapes", 30, 9);
	struct checkpoint ck;
	struct td_error e;
	ck_assert_msg(checkpoint_load(model, &ck, &e) == 0, "%s", e.msg);
	ck_assert_str_eq(ck.dataset, "shapes");
	ck_assert_int_eq(ck.width, 5);
	ck_assert_int_eq(ck.height, 4);
	ck_assert_int_eq(ck.n_classes, 3);
	ck_assert_str_eq(ck.class_names[2], "bottom");
	checkpoint_free(&ck);
	free(tr);
	free(te);
	test_rmtree(dir);
	free(dir);
	free(out);
	free(err);
	free(model);
}
END_TEST

/* What the server's configuration says of a `dataset` line, loaded as the
 * daemon loads it: the spec's error, or the registry's when it loads. */
static void config_error(const char *line, char *msg, size_t len)
{
	struct srvconf c;
	struct td_error e;
	ck_assert_int_eq(srvconf_defaults(&c), 0);
	int rc = srvconf_set(&c, "dataset", line, &e);
	if (!rc) {
		ck_assert_int_eq(srvconf_resolve_paths(&c, &e), 0);
		struct dataset_registry *reg = registry_create();
		const struct dataset *ds;
		rc = srvconf_register_datasets(&c, reg, &e);
		if (!rc)
			rc = registry_get(reg, "files", &ds, &e);
		registry_free(reg);
	}
	ck_assert_msg(rc != 0, "the configuration took \"%s\"", line);
	snprintf(msg, len, "traind: %s\n", e.msg);
	srvconf_free(&c);
}

START_TEST(test_own_files_errors_match_the_config)
{
	char *dir = test_tmpdir(), *out = test_path(dir, "out"), *err = test_path(dir, "err");
	write_idx(dir, "train", 12, 7); /* label 7 of 3 classes */
	write_idx(dir, "test", 6, -1);
	write_csv(dir, "a.csv", 6, 4, 4);
	char ti[256], tl[256], si[256], sl[256], csv[256];
	snprintf(ti, sizeof(ti), "%s/train-images.idx", dir);
	snprintf(tl, sizeof(tl), "%s/train-labels.idx", dir);
	snprintf(si, sizeof(si), "%s/test-images.idx", dir);
	snprintf(sl, sizeof(sl), "%s/test-labels.idx", dir);
	snprintf(csv, sizeof(csv), "%s/a.csv", dir);
	char train[600], test[600], line[1400], want[2048], *got;
	snprintf(train, sizeof(train), "%s,%s", ti, tl);
	snprintf(test, sizeof(test), "%s,%s", si, sl);
	struct {
		const char *line_opts; /* the dataset line's options, after its files */
		int csv;
		const char *opt, *value; /* the CLI's extra option */
		int status;
	} cases[] = {
		/* a label beyond the classes: the loader's error, status 1 */
		{"classes=a,b,c", 0, "--classes", "a,b,c", 1},
		/* one class name is not a classification */
		{"classes=a", 0, "--classes", "a", 2},
		/* width is for CSV: IDX files carry their size */
		{"width=6", 0, "--width", "6", 2},
		/* a width out of range */
		{"width=300", 1, "--width", "300", 2},
		/* a CSV of 16 pixels read as 28 x 28 */
		{"", 1, NULL, NULL, 1},
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		if (cases[k].csv)
			snprintf(line, sizeof(line), "files csv %s %s %s", csv, csv,
				 cases[k].line_opts);
		else
			snprintf(line, sizeof(line), "files idx %s %s %s %s %s", ti, tl, si, sl,
				 cases[k].line_opts);
		config_error(line, want, sizeof(want));
		char *argv[] = {"traind", "train", "--train", cases[k].csv ? csv : train, "--test",
				cases[k].csv ? csv : test, "--epochs", "1", "--config", "/dev/null",
				(char *)cases[k].opt, (char *)cases[k].value};
		int argc = cases[k].opt ? 12 : 10;
		ck_assert_int_eq(run_cli_err(out, err, argc, argv, &got), cases[k].status);
		ck_assert_msg(strcmp(got, want) == 0, "case %zu: the CLI said \"%s\", the "
			      "configuration \"%s\"", k, got, want);
		free(got);
	}
	/* The CLI's own syntax: both or neither, of one kind, one comma. */
	char *mixed[] = {"traind", "train", "--train", train, "--test", csv};
	ck_assert_int_eq(run_cli_err(out, err, 6, mixed, &got), 2);
	ck_assert(strstr(got, "both be IDX pairs"));
	free(got);
	char *alone[] = {"traind", "train", "--train", train};
	ck_assert_int_eq(run_cli_err(out, err, 4, alone, &got), 2);
	ck_assert(strstr(got, "--train and --test go together"));
	free(got);
	char *commas[] = {"traind", "train", "--train", "a,b,c", "--test", "d,e"};
	ck_assert_int_eq(run_cli_err(out, err, 6, commas, &got), 2);
	ck_assert(strstr(got, "one comma"));
	free(got);
	char *stray[] = {"traind", "train", "--classes", "a,b"};
	ck_assert_int_eq(run_cli_err(out, err, 4, stray, &got), 2);
	ck_assert(strstr(got, "--classes describes --train/--test files"));
	free(got);
	test_rmtree(dir);
	free(dir);
	free(out);
	free(err);
}
END_TEST

Suite *suite_cli(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_version_names_the_isa_tier);
	tcase_add_test(tc, test_train_json_names_the_tier_and_first_layer_path);
	tcase_add_test(tc, test_train_save_then_predict_a_digit_image);
	tcase_add_test(tc, test_train_on_own_idx_and_csv_files);
	tcase_add_test(tc, test_own_files_errors_match_the_config);
	suite_add_tcase(s, tc);
	return s;
}
