/*
 * train_cmd.c - `traind train`: the job options and the command's own
 * (output, data, own files, the worker's progress and checkpoints), the
 * data set it trains on (the daemon's rule and config, or --train/--test
 * files), the ranks it joins under mpirun (dist.h, trainrun.h), the run
 * and its report.
 */
#include "traind/cliargs.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "traind/checkpoint.h"
#include "traind/dataset.h"
#include "traind/dist.h"
#include "traind/isa.h"
#include "traind/pool.h"
#include "traind/srvconf.h"
#include "traind/train.h"
#include "traind/trainrun.h"

enum {
	TR_JSON, TR_QUIET, TR_SAVE, TR_CONFIG, TR_DATA_DIR, TR_FASHION_DIR,
	TR_TRAIN, TR_TEST, TR_CLASSES, TR_WIDTH, TR_HEIGHT,
	TR_PROGRESS, TR_CHECKPOINT, TR_CHECKPOINT_SECONDS, TR_RESUME,
};
static const struct cli_opt train_opts[] = {
	[TR_JSON] = {"json", 0, "one JSON object per epoch, and a final one with \"done\": true"},
	[TR_QUIET] = {"quiet", 0, "print only the final result"},
	[TR_SAVE] = {"save", 1, "write the trained model to this checkpoint file (for traind predict, POST /v1/models)"},
	[TR_CONFIG] = {"config", 1, "read data_dir, fashion_dir and dataset lines from this file (default " SRVCONF_DEFAULT_FILE " when it exists)"},
	[TR_DATA_DIR] = {"data-dir", 1, "where set-up put digits/ (default: the config, $TRAIND_DATA_DIR, ./data of a checkout, then the installed data)"},
	[TR_FASHION_DIR] = {"fashion-dir", 1, "Fashion-MNIST IDX files (default: the config's fashion_dir)"},
	[TR_TRAIN] = {"train", 1, "train on your own files: IMAGES,LABELS (IDX, plain or .gz) or one CSV file"},
	[TR_TEST] = {"test", 1, "the test files of --train, of the same kind"},
	[TR_CLASSES] = {"classes", 1, "class names of --train/--test files, comma-separated (default 0, 1, ...)"},
	[TR_WIDTH] = {"width", 1, "image width of --train/--test CSV files (default 28)"},
	[TR_HEIGHT] = {"height", 1, "image height of --train/--test CSV files (default 28)"},
	[TR_PROGRESS] = {"progress", 0, "a JSON line per step (at most every 0.1 s), for a program that watches the run"},
	[TR_CHECKPOINT] = {"checkpoint", 1, "write a checkpoint to this file each epoch and when stopped (SIGUSR1)"},
	[TR_CHECKPOINT_SECONDS] = {"checkpoint-seconds", 1, "and at least this often (default 0: each epoch only)"},
	[TR_RESUME] = {"resume", 1, "continue the run saved in this checkpoint file"},
	{NULL, 0, NULL},
};

struct train_out {
	int json;
	int quiet;
	long diverged_at; /* the step whose loss was not finite, or 0 */
	struct trainrun run;
};

/* A loss that is not finite stops the run: nothing after it means anything. */
static void train_on_step(void *arg, struct trainer *t, long step, double loss)
{
	struct train_out *o = arg;
	if (!isfinite(loss) && !o->diverged_at)
		o->diverged_at = step;
	trainrun_on_step(&o->run, t, step, loss);
}

static int train_should_stop(void *arg)
{
	return ((struct train_out *)arg)->diverged_at != 0 || trainrun_stop_requested();
}

static void train_on_epoch(void *arg, struct trainer *t, const struct epoch_stats *st)
{
	struct train_out *o = arg;
	struct train_progress p;
	trainer_progress(t, &p);
	if (o->json) {
		printf("{\"epoch\": %d, \"epochs\": %d, \"step\": %ld, \"train_loss\": %.9g, "
		       "\"train_accuracy\": %.9g, \"test_loss\": %.9g, \"test_accuracy\": %.9g, "
		       "\"samples_per_second\": %.1f, \"seconds\": %.6f}\n",
		       st->epoch, p.epochs, p.step, st->train_loss, st->train_accuracy,
		       st->test_loss, st->test_accuracy, st->samples_per_second, st->seconds);
	} else if (!o->quiet) {
		printf("epoch %3d/%d  train loss %.4f acc %6.2f%%  test loss %.4f acc %6.2f%%  "
		       "%9.0f samples/s  %.2f s\n",
		       st->epoch, p.epochs, st->train_loss, 100 * st->train_accuracy, st->test_loss,
		       100 * st->test_accuracy, st->samples_per_second, st->seconds);
	}
	fflush(stdout);
	trainrun_on_epoch(&o->run, t, st->test_accuracy);
}

/* Is --NAME (or --NAME=...) among the arguments? */
static int has_flag(int argc, char **argv, int first, const char *name)
{
	size_t n = strlen(name);
	for (int i = first; i < argc; i++)
		if (strncmp(argv[i], "--", 2) == 0 && strncmp(argv[i] + 2, name, n) == 0 &&
		    (argv[i][2 + n] == '\0' || argv[i][2 + n] == '='))
			return 1;
	return 0;
}

/* One of --train/--test into files first, first + 1 of s: "IMAGES,LABELS"
 * for IDX, one file for CSV. */
static int own_split(struct dataset_spec *s, int first, const char *flag, const char *v,
		     struct td_error *e)
{
	char buf[2 * PATH_MAX];
	if (strlen(v) >= sizeof(buf))
		return td_errorf(e, TD_EINVAL, flag, "--%s is too long", flag);
	memcpy(buf, v, strlen(v) + 1);
	char *comma = strchr(buf, ',');
	if (s->format == DATASET_CSV)
		return srvconf_dataset_file(s, first / 2, buf, e);
	*comma = '\0';
	if (strchr(comma + 1, ','))
		return td_errorf(e, TD_EINVAL, flag, "--%s takes IMAGES,LABELS (one comma), not "
				 "\"%.200s\"", flag, v);
	int rc = srvconf_dataset_file(s, first, buf, e);
	return rc ? rc : srvconf_dataset_file(s, first + 1, comma + 1, e);
}

/* --train and --test (and --classes, --width, --height) as the dataset_spec
 * a `dataset` line with the same files would make, validated by the same
 * code (srvconf.h); relative paths start at the working directory. */
static int own_files_spec(const struct cli_args *a, const char *name, struct dataset_spec *s,
			  struct td_error *e)
{
	const char *train = a->values[TR_TRAIN], *test = a->values[TR_TEST];
	if (!train || !test)
		return td_errorf(e, TD_EINVAL, train ? "test" : "train",
				 "--train and --test go together: --train IMAGES,LABELS --test "
				 "IMAGES,LABELS (IDX) or --train TRAIN.csv --test TEST.csv");
	int idx = strchr(train, ',') != NULL;
	if (idx != (strchr(test, ',') != NULL))
		return td_errorf(e, TD_EINVAL, "test",
				 "--train and --test must both be IDX pairs (IMAGES,LABELS) or both "
				 "CSV files");
	int rc = srvconf_dataset_start(s, name, idx ? "idx" : "csv", e);
	if (!rc)
		rc = own_split(s, 0, "train", train, e);
	if (!rc)
		rc = own_split(s, 2, "test", test, e);
	const int opt[] = {TR_CLASSES, TR_WIDTH, TR_HEIGHT};
	for (int i = 0; i < 3 && !rc; i++)
		if (a->values[opt[i]])
			rc = srvconf_dataset_option(s, train_opts[opt[i]].name, a->values[opt[i]], e);
	if (!rc)
		srvconf_dataset_source(s, "the command line");
	return rc;
}

/* The data sets `traind train` can name, by the rules of `traind serve`:
 * the configuration (file, then --data-dir and --fashion-dir over it, then
 * paths.h for data_dir), and the user's --train/--test files, registered
 * as the job's data set. */
static int train_registry(int argc, char **argv, const struct cli_args *a,
			  struct job_config *cfg, struct dataset_registry **out)
{
	struct srvconf c;
	struct td_error e;
	const char *read;
	struct dataset_spec own;
	*out = NULL;
	int rc = srvconf_defaults(&c);
	if (!rc)
		rc = srvconf_load_default(&c, a->values[TR_CONFIG], &read, &e);
	if (!rc && a->values[TR_DATA_DIR])
		rc = srvconf_set(&c, "data_dir", a->values[TR_DATA_DIR], &e);
	if (!rc && a->values[TR_FASHION_DIR])
		rc = srvconf_set(&c, "fashion_dir", a->values[TR_FASHION_DIR], &e);
	if (!rc)
		rc = srvconf_resolve_paths(&c, &e);
	if (!rc && !a->values[TR_JSON] && !a->values[TR_QUIET])
		printf("data dir %s (from %s)\n", c.data_dir, c.data_dir_from);
	int own_files = a->values[TR_TRAIN] || a->values[TR_TEST];
	if (!rc && !own_files)
		for (int i = TR_CLASSES; i <= TR_HEIGHT && !rc; i++)
			if (a->values[i])
				rc = td_errorf(&e, TD_EINVAL, train_opts[i].name,
					       "--%s describes --train/--test files; give those too",
					       train_opts[i].name);
	if (!rc && own_files) {
		const char *name = has_flag(argc, argv, 2, "dataset") ? cfg->dataset : "files";
		if (!(rc = own_files_spec(a, name, &own, &e)))
			snprintf(cfg->dataset, sizeof(cfg->dataset), "%s", own.name);
	}
	struct dataset_registry *reg = rc ? NULL : registry_create();
	if (!rc && !reg)
		rc = td_errorf(&e, TD_ENOMEM, "", "out of memory");
	if (!rc)
		rc = srvconf_register_datasets(&c, reg, &e);
	if (!rc && own_files)
		rc = registry_add(reg, &own, &e);
	srvconf_free(&c);
	if (rc) {
		fprintf(stderr, "traind: %s\n", e.msg);
		registry_free(reg);
		return rc;
	}
	*out = reg;
	return 0;
}

/* 64-bit FNV-1a over bytes, continuing from h. */
static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

/* Every rank must train the same job on the same data: rank 0 compares
 * digests of the configuration and the data set (dist.h). */
static int ranks_agree(struct dist *d, const struct job_config *cfg, const struct dataset *ds,
		       struct td_error *e)
{
	const uint64_t basis = 0xcbf29ce484222325ULL;
	json_t *c = jobcfg_to_json(cfg);
	char *text = c ? json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(c);
	char conf[17], data[DATASET_NAME_MAX + 64];
	snprintf(conf, sizeof(conf), "%016llx",
		 (unsigned long long)fnv1a(basis, (const uint8_t *)(text ? text : ""),
					   text ? strlen(text) : 0));
	free(text);
	size_t F = (size_t)ds->features;
	uint64_t h = basis;
	h = fnv1a(h, ds->train_x, ds->n_train * F);
	h = fnv1a(h, ds->train_y, ds->n_train);
	h = fnv1a(h, ds->test_x, ds->n_test * F);
	h = fnv1a(h, ds->test_y, ds->n_test);
	snprintf(data, sizeof(data), "%s %zu/%zu %016llx", ds->name, ds->n_train, ds->n_test,
		 (unsigned long long)h);
	int rc = dist_agree(d, "configuration", conf, e);
	if (!rc)
		rc = dist_agree(d, "data set", data, e);
	/* Another kernel tier computes other (equally right) bits: no mixing. */
	return rc ? rc : dist_agree(d, "kernel tier (TRAIND_ISA)", isa_tier_name(isa_tier()), e);
}

/* The last line of a run: the test figures, the weights' digest and, for
 * several ranks, what the exchanges cost. */
static void report_done(const struct train_out *o, const struct trainer *t,
			const struct job_config *cfg, const struct dataset *ds,
			const struct dist *dist, double loss, double acc)
{
	char digest[17];
	model_digest(trainer_params(t), trainer_param_count(t), digest);
	double xs, xb;
	long xn;
	dist_stats(dist, &xs, &xb, &xn);
	if (o->json)
		printf("{\"done\": true, \"test_loss\": %.6f, \"test_accuracy\": %.6f, "
		       "\"weights_digest\": \"%s\", \"parameters\": %zu, \"workers\": %d, "
		       "\"ranks\": %d, \"isa\": \"%s\", \"first_layer\": \"%s\", "
		       "\"exchange_seconds\": %.6f, \"exchange_bytes_per_step\": %.0f}\n",
		       loss, acc, digest, trainer_param_count(t), cfg->workers, dist_ranks(dist),
		       isa_tier_name(isa_tier()),
		       train_first_layer_path(cfg, ds, trainer_shape(t)), xs,
		       xn ? xb / (double)xn : 0.0);
	else if (dist_rank(dist) == 0)
		printf("done: test accuracy %.2f%%, test loss %.4f, weights %s\n", 100 * acc, loss,
		       digest);
}

/* Joins the ranks of this run (dist.h): under mpirun, one of them; with
 * --ranks N outside mpirun, runs this command under it and returns its
 * exit status. -1 when this process goes on to train. */
static int train_ranks(const struct job_config *cfg, int argc, char **argv,
		       struct dist **dist)
{
	struct td_error err;
	if (cfg->ranks > 1 && !dist_launched() && dist_built_with_mpi()) {
		int st = trainrun_launch(cfg->ranks, argc, argv);
		if (st < 0)
			fprintf(stderr, "traind: cannot start mpirun for %d ranks\n", cfg->ranks);
		return st < 0 ? 1 : st;
	}
	if (dist_init(NULL, NULL, dist, &err)) {
		fprintf(stderr, "traind: %s\n", err.msg);
		return 2;
	}
	if (cfg->ranks > 1 && cfg->ranks != dist_ranks(*dist)) {
		fprintf(stderr, "traind: ranks is %d but mpirun started %d\n", cfg->ranks,
			dist_ranks(*dist));
		dist_finish(*dist);
		return 2;
	}
	trainrun_catch_signals();
	return -1;
}

/* Where the run reports to: stdout on rank 0, the worker's lines. */
static void train_out_init(struct train_out *o, const struct cli_args *a,
			   const struct dataset *ds, const struct dist *dist)
{
	int rank0 = dist_rank(dist) == 0;
	*o = (struct train_out){.json = rank0 && a->values[TR_JSON] != NULL,
				.quiet = !rank0 || a->values[TR_QUIET] != NULL,
				.run = {.checkpoint = a->values[TR_CHECKPOINT],
					.progress = a->values[TR_PROGRESS] != NULL, .ds = ds,
					.dist = dist}};
	if (a->values[TR_CHECKPOINT_SECONDS])
		o->run.checkpoint_seconds = atof(a->values[TR_CHECKPOINT_SECONDS]);
}

/* Trains to the end (0, reported), to a stop on request (0, resumable),
 * or to an error (1). */
static int train_run(struct train_out *o, struct trainer *t, const struct job_config *cfg,
		     const struct dataset *ds, const struct dist *dist, const char *save)
{
	struct train_hooks hooks = {.arg = o, .on_step = train_on_step,
				    .on_epoch = train_on_epoch, .should_stop = train_should_stop};
	int rc = trainer_run(t, &hooks);
	if (rc == 1 && !o->diverged_at && trainrun_stop_requested()) {
		trainrun_stopped(&o->run, t);
		return 0;
	}
	if (rc != 0) {
		if (o->diverged_at)
			fprintf(stderr, "traind: training diverged at step %ld: the loss is not "
				"finite; try a lower learning_rate (this run's is %g)\n",
				o->diverged_at, cfg->learning_rate);
		else
			fprintf(stderr, "traind: training stopped early\n");
		return 1;
	}
	double loss, acc;
	struct td_error err;
	trainer_evaluate(t, 1, &loss, &acc);
	if (save) {
		struct checkpoint ck;
		checkpoint_from_trainer(&ck, "", t, ds, acc);
		if (checkpoint_save(save, &ck, &err)) {
			fprintf(stderr, "traind: %s\n", err.msg);
			return 1;
		}
	}
	report_done(o, t, cfg, ds, dist, loss, acc);
	return 0;
}

int cli_cmd_train(int argc, char **argv)
{
	struct job_config cfg;
	struct cli_args a;
	jobcfg_defaults(&cfg);
	if (cli_parse_args(argc, argv, 2, train_opts, &cfg, &a))
		return 2;
	if (a.help) {
		printf("usage: traind train [options]\n\nTrains a model and reports every epoch.\n\n"
		       "Job options (the API's job fields):\n");
		jobcfg_print_help(stdout);
		printf("\nOutput and data:\n");
		cli_print_opts(stdout, train_opts);
		return 0;
	}
	struct jobcfg_limits lim;
	jobcfg_limits_default(&lim, pool_online_cores());
	struct td_error err;
	if (jobcfg_finish(&cfg, &lim, &err)) {
		fprintf(stderr, "traind: %s\n", err.msg);
		return 2;
	}
	struct dist *dist = NULL;
	int started = train_ranks(&cfg, argc, argv, &dist);
	if (started >= 0)
		return started;
	struct dataset_registry *reg;
	struct pool *pool = NULL;
	struct trainer *t = NULL;
	const struct dataset *ds;
	int status = 1;
	int rc = train_registry(argc, argv, &a, &cfg, &reg);
	if (rc) {
		dist_finish(dist);
		return rc == TD_EINVAL ? 2 : 1;
	}
	if (registry_get(reg, cfg.dataset, &ds, &err)) {
		fprintf(stderr, "traind: %s\n", err.msg);
		goto out;
	}
	struct model_shape shape;
	if (model_describe_dataset(&shape, &cfg, ds, lim.max_params, &err) ||
	    ranks_agree(dist, &cfg, ds, &err) || pool_create(cfg.workers, &pool, &err) ||
	    trainer_create(&cfg, ds, pool, &t, &err) || dist_attach(dist, t, &err) ||
	    (a.values[TR_RESUME] && trainrun_resume(t, dist, a.values[TR_RESUME], &err))) {
		fprintf(stderr, "traind: %s\n", err.msg);
		goto out;
	}
	struct train_out o;
	train_out_init(&o, &a, ds, dist);
	if (o.run.progress) { /* who trains where, for GET /v1/cluster */
		char *who = dist_ranks_json(dist);
		if (who)
			printf("{\"ranks\": %s}\n", who);
		fflush(stdout);
		free(who);
	}
	if (!o.json && !o.quiet)
		printf("training %s: %zu parameters, %zu train / %zu test samples, %d workers%s; "
		       "kernels %s, first layer %s\n",
		       ds->name, trainer_param_count(t), ds->n_train, ds->n_test, cfg.workers,
		       dist_ranks(dist) > 1 ? " per rank" : "", isa_tier_name(isa_tier()),
		       train_first_layer_path(&cfg, ds, &shape));
	if (!o.json && !o.quiet && dist_ranks(dist) > 1)
		printf("across %d ranks (Open MPI)\n", dist_ranks(dist));
	if (!o.json && !o.quiet && cfg.n_layer_specs > 0) { /* a CNN: its rows and shapes */
		char sum[1024];
		model_summary(&shape, sum, sizeof(sum));
		printf("model: %s\n", sum);
	}
	status = train_run(&o, t, &cfg, ds, dist, a.values[TR_SAVE]);
out:
	dist_finish(dist);
	trainer_free(t);
	pool_free(pool);
	registry_free(reg);
	return status;
}
