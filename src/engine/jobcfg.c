/*
 * jobcfg.c - the job option table and everything that reads it.
 *
 * One row per option: its name (the JSON field; the CLI flag with dashes),
 * a label for forms, its type, bounds, default and help. The defaults
 * (jobcfg_defaults), JSON in (jobcfg_from_json) and out (jobcfg_to_json),
 * flags (jobcfg_set), `--help` (jobcfg_print_help) and the description
 * that GET /v1/job-options serves (jobcfg_describe) all walk this table,
 * so none of them can list an option, a default or a range the others do
 * not. Enum names come from the module that owns the enum (model.c,
 * optim.c; augment and lr_schedule are this module's).
 *
 * A default is of one of three kinds: fixed (`def`, or `def_text` for text
 * and lists; `layers` is JSON text, parsed by layerspec.c); picked by another option's value where the user gave none
 * (`by`/`by_value`: the loss that goes with an output, the learning rate
 * that suits an optimizer); or the server's (`from_server`: workers).
 * jobcfg_finish() fills in the last two. The job manager names a job
 * without a name after its id (`rule`: described, not set, here).
 *
 * The defaults are what `{}` should train: on the 8,000 digits, 256 ReLU
 * units with plain SGD, light L2 and shifted copies of the images reach
 * about 97 % in 30 short epochs; without the shifts the net memorises the
 * small training set and stops near 95 %.
 */
#include "traind/jobcfg.h"

#include "traind/dist.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum opt_type { T_TEXT, T_INT, T_REAL, T_SEED, T_ENUM, T_LIST, T_LAYERS };

/* A limit of the server (struct jobcfg_limits) that lowers an option's max. */
enum server_limit { L_NONE, L_WORKERS, L_BATCH_SIZE, L_EPOCHS, L_RANKS };

struct option_row {
	const char *name;
	const char *label;           /* a short name for people, for forms */
	enum opt_type type;
	size_t offset;
	double min, max;             /* numbers, text lengths, list elements */
	int min_exclusive;
	int max_items;               /* T_LIST */
	const char *const *names;    /* T_ENUM: its names in enum order */
	int n_names;
	double def;                  /* the default of numbers and enums (the index) */
	const char *def_text;        /* the default of text and lists, as a flag's value */
	int from_server;             /* the default is the server's (`limit`) */
	const char *rule;            /* a default set outside this table, in words */
	int by;                      /* with by_value: the option that picks the default */
	const double *by_value;      /* the default for each value of option `by` */
	enum server_limit limit;
	const char *help;
};

static const char *const augment_names[AUGMENT_COUNT] = {"none", "shift"};
static const char *const schedule_names[LR_SCHEDULE_COUNT] = {"constant", "cosine"};
_Static_assert(AUGMENT_SHIFT + 1 == AUGMENT_COUNT && LR_COSINE + 1 == LR_SCHEDULE_COUNT,
	       "a name for every value");

/* Defaults that follow another option (indexed by its value). */
static const double loss_by_output[OUT_COUNT] = {[OUT_SOFTMAX] = LOSS_CROSS_ENTROPY,
						 [OUT_SIGMOID] = LOSS_MSE};
static const double output_by_loss[LOSS_COUNT] = {[LOSS_CROSS_ENTROPY] = OUT_SOFTMAX,
						  [LOSS_MSE] = OUT_SIGMOID};
static const double rate_by_optimizer[OPT_COUNT] = {[OPT_SGD] = 0.1, [OPT_MOMENTUM] = 0.01,
						    [OPT_ADAM] = 0.001};

#define OFF(f) .offset = offsetof(struct job_config, f)
#define NAMES(a) .names = (a), .n_names = (int)(sizeof(a) / sizeof((a)[0]))

enum {
	K_NAME, K_DATASET, K_HIDDEN, K_ACTIVATION, K_OUTPUT, K_LOSS,
	K_OPTIMIZER, K_LEARNING_RATE, K_MOMENTUM, K_L2, K_BATCH_SIZE, K_EPOCHS,
	K_WORKERS, K_RANKS, K_MAX_RESTARTS, K_RANK_TIMEOUT, K_SEED, K_INIT, K_AUGMENT, K_LR_SCHEDULE,
	K_LAYERS, K_COUNT
};
_Static_assert(K_COUNT <= 32, "set_mask has a bit per option");

static const struct option_row options[K_COUNT] = {
	[K_NAME] = {"name", "Name", T_TEXT, OFF(name), .max = JOBCFG_NAME_MAX - 1,
		    .def_text = "", .rule = "the job's id",
		    .help = "a label for people, unique or not"},
	[K_DATASET] = {"dataset", "Data set", T_TEXT, OFF(dataset), .min = 1,
		       .max = JOBCFG_NAME_MAX - 1, .def_text = "digits",
		       .help = "a data set registered in the server configuration"},
	[K_HIDDEN] = {"hidden", "Hidden layers", T_LIST, OFF(hidden), .min = 1,
		      .max = MODEL_MAX_UNITS, .max_items = MODEL_MAX_HIDDEN, .def_text = "256",
		      .help = "units per hidden layer, like 256 or 128,64; none for no hidden layer"},
	[K_ACTIVATION] = {"activation", "Activation", T_ENUM, OFF(activation),
			  NAMES(activation_names), .def = ACT_RELU,
			  .help = "hidden-layer activation"},
	[K_OUTPUT] = {"output", "Output", T_ENUM, OFF(output), NAMES(output_names),
		      .def = OUT_SOFTMAX, .by = K_LOSS, .by_value = output_by_loss,
		      .help = "output function: softmax goes with cross_entropy, sigmoid with "
			      "mse or cross_entropy"},
	[K_LOSS] = {"loss", "Loss", T_ENUM, OFF(loss), NAMES(loss_names),
		    .def = LOSS_CROSS_ENTROPY, .by = K_OUTPUT, .by_value = loss_by_output,
		    .help = "loss minimised in training"},
	[K_OPTIMIZER] = {"optimizer", "Optimizer", T_ENUM, OFF(optimizer),
			 NAMES(optimizer_names), .def = OPT_SGD, .help = "update rule"},
	[K_LEARNING_RATE] = {"learning_rate", "Learning rate", T_REAL, OFF(learning_rate),
			     .min = 0, .max = 10, .min_exclusive = 1, .def = 0.1,
			     .by = K_OPTIMIZER, .by_value = rate_by_optimizer,
			     .help = "step size"},
	[K_MOMENTUM] = {"momentum", "Momentum", T_REAL, OFF(momentum), .max = 0.999,
			.def = 0.9, .help = "momentum coefficient (optimizer momentum)"},
	[K_L2] = {"l2", "L2", T_REAL, OFF(l2), .max = 1, .def = 0.0005,
		  .help = "L2 penalty on weights (l2/2 * sum of squares), not biases"},
	[K_BATCH_SIZE] = {"batch_size", "Batch size", T_INT, OFF(batch_size), .min = 1,
			  .max = 1 << 20, .def = 64, .limit = L_BATCH_SIZE,
			  .help = "samples per minibatch"},
	[K_EPOCHS] = {"epochs", "Epochs", T_INT, OFF(epochs), .min = 1, .max = 1 << 20,
		      .def = 30, .limit = L_EPOCHS, .help = "passes over the training set"},
	[K_WORKERS] = {"workers", "Workers", T_INT, OFF(workers), .min = 1, .max = 1 << 20,
		       .from_server = 1, .limit = L_WORKERS,
		       .rule = "the server's worker count (traind train: the machine's cores)",
		       .help = "threads that share each minibatch; results do not depend on it"},
	[K_RANKS] = {"ranks", "Ranks", T_INT, OFF(ranks), .min = 1, .max = 1024, .def = 1,
		     .limit = L_RANKS,
		     .help = "processes on Open MPI that share each minibatch (1: in the daemon); "
			     "results do not depend on it"},
	[K_MAX_RESTARTS] = {"max_restarts", "Max restarts", T_INT, OFF(max_restarts),
			    .max = 100, .def = 3,
			    .help = "with ranks > 1: restarts from the last checkpoint after a rank "
				    "is lost, before the job fails"},
	[K_RANK_TIMEOUT] = {"rank_timeout", "Rank timeout", T_INT, OFF(rank_timeout),
			    .min = 1, .max = 86400, .def = 60,
			    .help = "with ranks > 1: seconds without a step after which a rank "
				    "counts as lost"},
	[K_SEED] = {"seed", "Seed", T_SEED, OFF(seed), .max = (double)JOBCFG_SEED_MAX, .def = 1,
		    .help = "seeds the weights and the shuffles"},
	[K_INIT] = {"init", "Init", T_ENUM, OFF(init), NAMES(init_names), .def = INIT_AUTO,
		    .help = "weight init: auto (he for relu, xavier otherwise), xavier, he, "
			    "uniform"},
	[K_AUGMENT] = {"augment", "Augment", T_ENUM, OFF(augment), NAMES(augment_names),
		       .def = AUGMENT_SHIFT,
		       .help = "training images moved by up to 2 pixels each way (shift), or not"},
	[K_LR_SCHEDULE] = {"lr_schedule", "LR schedule", T_ENUM, OFF(lr_schedule),
			   NAMES(schedule_names), .def = LR_CONSTANT,
			   .help = "learning rate over the run: constant, or cosine decay to 0"},
	[K_LAYERS] = {"layers", "Layers", T_LAYERS, OFF(layer_specs), .max_items = MODEL_MAX_SPECS,
		      .def_text = "[]",
		      .help = "layer rows as JSON, input first, the output implicit; instead of "
			      "hidden: [{\"type\": \"conv\", \"filters\": 32, \"kernel\": 5, "
			      "\"padding\": 2}, {\"type\": \"maxpool\", \"size\": 2}, "
			      "{\"type\": \"dense\", \"units\": 256}]; conv also takes stride (1), "
			      "padding (0) and activation, maxpool stride (its size)"},
};

void jobcfg_limits_default(struct jobcfg_limits *l, int cores)
{
	if (cores < 1)
		cores = 1;
	l->max_workers = cores > 64 ? cores : 64;
	l->default_workers = cores;
	l->max_batch_size = 8192;
	l->max_epochs = 1000;
	l->max_params = 50u * 1000u * 1000u;
	l->max_ranks = dist_built_with_mpi() ? 64 : 1;
}

/* The largest value the server allows for option o. */
static double max_of(const struct option_row *o, const struct jobcfg_limits *lim)
{
	double m = o->max;
	double l = !lim                     ? m
		   : o->limit == L_WORKERS    ? lim->max_workers
		   : o->limit == L_BATCH_SIZE ? lim->max_batch_size
		   : o->limit == L_EPOCHS     ? lim->max_epochs
		   : o->limit == L_RANKS      ? lim->max_ranks
					      : m;
	return l < m ? l : m;
}

/* ---- reading and writing one field ---------------------------------- */

static void *field(struct job_config *c, const struct option_row *o)
{
	return (char *)c + o->offset;
}

static const void *cfield(const struct job_config *c, const struct option_row *o)
{
	return (const char *)c + o->offset;
}

/* A number or enum field as a double (seeds up to 2^53 are exact). */
static double get_number(const struct job_config *c, const struct option_row *o)
{
	const void *p = cfield(c, o);
	switch (o->type) {
	case T_REAL: return *(const double *)p;
	case T_SEED: return (double)*(const uint64_t *)p;
	case T_INT:
	case T_ENUM: return *(const int *)p;
	default: return 0;
	}
}

static void put_number(struct job_config *c, const struct option_row *o, double v)
{
	void *p = field(c, o);
	switch (o->type) {
	case T_REAL: *(double *)p = v; break;
	case T_SEED: *(uint64_t *)p = (uint64_t)v; break;
	case T_INT:
	case T_ENUM: *(int *)p = (int)v; break;
	default: break;
	}
}

/* One value of option o as JSON: a number, or an enum's name. */
static json_t *value_json(const struct option_row *o, double v)
{
	switch (o->type) {
	case T_REAL: return json_real(v);
	case T_ENUM: return v >= 0 && v < o->n_names ? json_string(o->names[(int)v]) : json_null();
	default: return json_integer((json_int_t)v);
	}
}

static json_t *field_json(const struct job_config *c, const struct option_row *o)
{
	if (o->type == T_TEXT)
		return json_string(cfield(c, o));
	if (o->type == T_LAYERS)
		return layerspec_to_json(c->layer_specs, c->n_layer_specs, c->activation);
	if (o->type == T_LIST) {
		json_t *a = json_array();
		/* With layers, hidden is [] (the rows say it all): this reads back. */
		for (int i = 0; c->n_layer_specs == 0 && i < c->n_hidden; i++)
			json_array_append_new(a, json_integer(c->hidden[i]));
		return a;
	}
	return value_json(o, get_number(c, o));
}

/* One value of option o as a flag's value would write it. */
static void value_text(const struct option_row *o, double v, char *buf, size_t len)
{
	if (o->type == T_ENUM)
		snprintf(buf, len, "%s", v >= 0 && v < o->n_names ? o->names[(int)v] : "?");
	else
		snprintf(buf, len, o->type == T_REAL ? "%g" : "%.0f", v);
}

/* ---- names and messages --------------------------------------------- */

/* Option index for a key with dashes or underscores, or -1. */
static int option_find(const char *key)
{
	char norm[64];
	if (td_key_norm(key, norm, sizeof(norm)))
		return -1;
	for (int k = 0; k < K_COUNT; k++)
		if (strcmp(options[k].name, norm) == 0)
			return k;
	return -1;
}

int jobcfg_has_option(const char *key)
{
	return option_find(key) >= 0;
}

/* Edit distance, to suggest the option a typo meant. */
static int edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 63 || lb > 63)
		return 99;
	int d[64][64];
	for (size_t i = 0; i <= la; i++)
		d[i][0] = (int)i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = (int)j;
	for (size_t i = 1; i <= la; i++)
		for (size_t j = 1; j <= lb; j++) {
			int sub = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
			int del = d[i - 1][j] + 1, ins = d[i][j - 1] + 1;
			d[i][j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
	return d[la][lb];
}

static int unknown_option(const char *key, struct td_error *e)
{
	int best = -1, best_d = 4;
	for (int k = 0; k < K_COUNT; k++) {
		int dist = edit_distance(key, options[k].name);
		if (dist < best_d) {
			best_d = dist;
			best = k;
		}
	}
	char list[512] = "";
	for (int k = 0; k < K_COUNT; k++) {
		strncat(list, options[k].name, sizeof(list) - strlen(list) - 1);
		if (k + 1 < K_COUNT)
			strncat(list, ", ", sizeof(list) - strlen(list) - 1);
	}
	if (best >= 0)
		return td_errorf(e, TD_EINVAL, key,
				 "unknown field \"%.60s\" (did you mean \"%s\"?); fields are %s",
				 key, options[best].name, list);
	return td_errorf(e, TD_EINVAL, key, "unknown field \"%.60s\"; fields are %s", key, list);
}

static void enum_list(const struct option_row *o, char *buf, size_t len)
{
	buf[0] = '\0';
	for (int i = 0; i < o->n_names; i++) {
		if (i)
			strncat(buf, ", ", len - strlen(buf) - 1);
		strncat(buf, o->names[i], len - strlen(buf) - 1);
	}
}

static int range_error(const struct option_row *o, double max, const char *field,
		       const char *got, struct td_error *e)
{
	if (o->type == T_INT || o->type == T_SEED || o->type == T_LIST)
		return td_errorf(e, TD_EINVAL, field,
				 "%s must be an integer from %.0f to %.0f, not %s", field, o->min,
				 max, got);
	return td_errorf(e, TD_EINVAL, field, "%s must be a number %s %g and <= %g, not %s",
			 field, o->min_exclusive ? ">" : ">=", o->min, max, got);
}

/* ---- setting values --------------------------------------------------- */

static int text_ok(const char *s, int is_dataset)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (is_dataset ? !(isalnum(*p) || *p == '_' || *p == '-' || *p == '.')
			       : (*p < 0x20 || *p == 0x7f))
			return 0;
	}
	return 1;
}

static int set_text(struct job_config *c, int k, const char *v, struct td_error *e)
{
	const struct option_row *o = &options[k];
	size_t n = strlen(v);
	int is_dataset = k == K_DATASET;
	if (n < (size_t)o->min || n > (size_t)o->max || !text_ok(v, is_dataset))
		return td_errorf(e, TD_EINVAL, o->name,
				 is_dataset ? "dataset must be a data set name of 1..63 letters, "
					      "digits, '_', '-' or '.'"
					    : "name must be at most 63 characters without "
					      "control characters");
	memcpy(field(c, o), v, n + 1);
	return 0;
}

static int set_enum(struct job_config *c, int k, const char *v, struct td_error *e)
{
	const struct option_row *o = &options[k];
	for (int i = 0; i < o->n_names; i++)
		if (strcmp(o->names[i], v) == 0) {
			put_number(c, o, i);
			return 0;
		}
	char list[128];
	enum_list(o, list, sizeof(list));
	return td_errorf(e, TD_EINVAL, o->name, "%s must be one of %s, not \"%.40s\"", o->name,
			 list, v);
}

static int set_number(struct job_config *c, int k, double v, const char *field, int is_integer,
		      const char *shown, struct td_error *e)
{
	const struct option_row *o = &options[k];
	int needs_int = o->type != T_REAL;
	if (!isfinite(v) || (needs_int && !is_integer) || v < o->min || v > o->max ||
	    (o->min_exclusive && v <= o->min))
		return range_error(o, o->max, field, shown, e);
	put_number(c, o, v);
	return 0;
}

/* A list from text: "128", "5,4", or "" / "none" for no hidden layer. */
static int set_list_text(struct job_config *c, int k, const char *value, struct td_error *e)
{
	const struct option_row *o = &options[k];
	int n = 0, vals[MODEL_MAX_HIDDEN];
	const char *p = value;
	if (strcmp(value, "none") != 0 && *value) {
		for (;;) {
			char *end;
			errno = 0;
			long v = strtol(p, &end, 10);
			char fld[32];
			snprintf(fld, sizeof(fld), "%s[%d]", o->name, n);
			if (end == p || (*end && *end != ',') || errno)
				return td_errorf(e, TD_EINVAL, o->name,
						 "%s must be layer sizes separated by commas, like "
						 "128 or 5,4, not \"%.40s\"", o->name, value);
			if (n == o->max_items)
				return td_errorf(e, TD_EINVAL, o->name,
						 "%s may list at most %d layers", o->name,
						 o->max_items);
			if (v < o->min || v > o->max) {
				char got[32];
				snprintf(got, sizeof(got), "%ld", v);
				return range_error(o, o->max, fld, got, e);
			}
			vals[n++] = (int)v;
			if (!*end)
				break;
			p = end + 1;
		}
	}
	c->n_hidden = n;
	memcpy(c->hidden, vals, sizeof(int) * (size_t)n);
	return 0;
}

/* Option k from text, as a flag gives it; does not mark it set. */
static int set_from_text(struct job_config *c, int k, const char *value, struct td_error *e)
{
	const struct option_row *o = &options[k];
	switch (o->type) {
	case T_TEXT:
		return set_text(c, k, value, e);
	case T_ENUM:
		return set_enum(c, k, value, e);
	case T_LIST:
		return set_list_text(c, k, value, e);
	case T_LAYERS:
		return layerspec_from_text(c->layer_specs, &c->n_layer_specs, value, e);
	case T_INT:
	case T_SEED:
	case T_REAL: {
		char *end;
		errno = 0;
		double v = strtod(value, &end);
		if (end == value || *end || errno == ERANGE)
			return td_errorf(e, TD_EINVAL, o->name, "%s must be a number, not \"%.40s\"",
					 o->name, value);
		return set_number(c, k, v, o->name, v == floor(v), value, e);
	}
	}
	return td_errorf(e, TD_EINTERNAL, o->name, "option %s has no type", o->name);
}

void jobcfg_defaults(struct job_config *c)
{
	memset(c, 0, sizeof(*c));
	for (int k = 0; k < K_COUNT; k++) {
		const struct option_row *o = &options[k];
		if (o->from_server)
			continue; /* 0 until jobcfg_finish */
		if (o->type == T_TEXT || o->type == T_LIST || o->type == T_LAYERS)
			set_from_text(c, k, o->def_text, NULL); /* the table's own: valid */
		else
			put_number(c, o, o->def);
	}
}

int jobcfg_set(struct job_config *c, const char *key, const char *value, struct td_error *e)
{
	int k = option_find(key);
	if (k < 0)
		return unknown_option(key, e);
	int rc = set_from_text(c, k, value, e);
	if (rc == 0)
		c->set_mask |= 1u << k;
	return rc;
}

/* ---- JSON in ---------------------------------------------------------- */

static const char *json_type_name(const json_t *v)
{
	if (!v)
		return "nothing";
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a number";
	case JSON_TRUE: return "true";
	case JSON_FALSE: return "false";
	case JSON_NULL: return "null";
	}
	return "a value";
}

static int set_json_number(struct job_config *c, int k, const json_t *v, const char *field,
			   struct td_error *e)
{
	const struct option_row *o = &options[k];
	char shown[64];
	if (json_is_integer(v)) {
		snprintf(shown, sizeof(shown), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return set_number(c, k, (double)json_integer_value(v), field, 1, shown, e);
	}
	if (json_is_real(v)) {
		double d = json_real_value(v);
		snprintf(shown, sizeof(shown), "%g", d);
		/* 64.0 is an integer; 64.5 is not. */
		return set_number(c, k, d, field, d == floor(d), shown, e);
	}
	snprintf(shown, sizeof(shown), "%s", json_type_name(v));
	return range_error(o, o->max, field, shown, e);
}

static int set_json_list(struct job_config *c, int k, const json_t *v, struct td_error *e)
{
	const struct option_row *o = &options[k];
	if (!json_is_array(v))
		return td_errorf(e, TD_EINVAL, o->name,
				 "%s must be an array of layer sizes like [128], not %s", o->name,
				 json_type_name(v));
	size_t n = json_array_size(v);
	if (n > (size_t)o->max_items)
		return td_errorf(e, TD_EINVAL, o->name, "%s may list at most %d layers, not %zu",
				 o->name, o->max_items, n);
	int vals[MODEL_MAX_HIDDEN];
	for (size_t i = 0; i < n; i++) {
		char fld[32], shown[64];
		snprintf(fld, sizeof(fld), "%s[%zu]", o->name, i);
		const json_t *x = json_array_get(v, i);
		double d = json_is_integer(x) ? (double)json_integer_value(x)
			   : json_is_real(x)  ? json_real_value(x)
					      : NAN;
		if (json_is_number(x))
			snprintf(shown, sizeof(shown), "%g", d);
		else
			snprintf(shown, sizeof(shown), "%s", json_type_name(x));
		if (!isfinite(d) || d != floor(d) || d < o->min || d > o->max)
			return range_error(o, o->max, fld, shown, e);
		vals[i] = (int)d;
	}
	memcpy(c->hidden, vals, sizeof(int) * n);
	c->n_hidden = (int)n;
	return 0;
}

static int set_json(struct job_config *c, int k, const json_t *v, struct td_error *e)
{
	const struct option_row *o = &options[k];
	switch (o->type) {
	case T_TEXT:
		if (!json_is_string(v))
			return td_errorf(e, TD_EINVAL, o->name, "%s must be a string, not %s",
					 o->name, json_type_name(v));
		return set_text(c, k, json_string_value(v), e);
	case T_ENUM:
		if (!json_is_string(v)) {
			char list[128];
			enum_list(o, list, sizeof(list));
			return td_errorf(e, TD_EINVAL, o->name, "%s must be one of %s, not %s",
					 o->name, list, json_type_name(v));
		}
		return set_enum(c, k, json_string_value(v), e);
	case T_LIST:
		return set_json_list(c, k, v, e);
	case T_LAYERS: /* the rows, or the same rows as JSON text (a form's text field) */
		if (json_is_string(v))
			return layerspec_from_text(c->layer_specs, &c->n_layer_specs,
						   json_string_value(v), e);
		return layerspec_from_json(c->layer_specs, &c->n_layer_specs, v, e);
	case T_INT:
	case T_SEED:
	case T_REAL:
		return set_json_number(c, k, v, o->name, e);
	}
	return td_errorf(e, TD_EINTERNAL, o->name, "option %s has no type", o->name);
}

int jobcfg_from_json(struct job_config *c, const json_t *obj, struct td_error *e)
{
	if (!json_is_object(obj))
		return td_errorf(e, TD_EINVAL, "", "the job must be a JSON object, not %s",
				 json_type_name(obj));
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)obj, key, v) {
		int k = option_find(key);
		if (k < 0 || strchr(key, '-'))
			return unknown_option(key, e);
		int rc = set_json(c, k, v, e);
		if (rc)
			return rc;
		c->set_mask |= 1u << k;
	}
	return 0;
}

/* ---- the defaults that depend, and the server's limits ---------------- */

static double server_default(const struct option_row *o, const struct jobcfg_limits *lim)
{
	double d = o->limit == L_WORKERS ? lim->default_workers : o->min;
	double m = max_of(o, lim);
	return d < m ? d : m;
}

/* Fills every default that depends on other options or on the server. */
static void fill_dependent(struct job_config *c, const struct jobcfg_limits *lim)
{
	const struct job_config given = *c;
	for (int k = 0; k < K_COUNT; k++) {
		const struct option_row *o = &options[k];
		if (o->by_value && !(given.set_mask & (1u << k))) {
			int i = (int)get_number(&given, &options[o->by]);
			if (i >= 0 && i < options[o->by].n_names)
				put_number(c, o, o->by_value[i]);
		}
		if (o->from_server && get_number(c, o) == 0)
			put_number(c, o, server_default(o, lim));
	}
}

int jobcfg_finish(struct job_config *c, const struct jobcfg_limits *lim, struct td_error *e)
{
	fill_dependent(c, lim);
	if (c->output == OUT_SOFTMAX && c->loss != LOSS_CROSS_ENTROPY)
		return td_errorf(e, TD_EINVAL, "loss",
				 "loss \"%s\" does not go with output \"softmax\": use "
				 "\"cross_entropy\", or output \"sigmoid\" for mse",
				 loss_name(c->loss));
	if (c->n_layer_specs > 0 && (c->set_mask & (1u << K_HIDDEN)) && c->n_hidden > 0)
		return td_errorf(e, TD_EINVAL, "layers",
				 "give either hidden (a stack of dense layers) or layers (any "
				 "rows), not both");
	if (c->ranks > 1 && !dist_built_with_mpi())
		return td_errorf(e, TD_EINVAL, "ranks",
				 "ranks is %d, but this traind was built without MPI, so a job "
				 "trains in one process (ranks 1); rebuild it with libopenmpi-dev",
				 c->ranks);
	for (int k = 0; k < K_COUNT; k++) {
		const struct option_row *o = &options[k];
		double v = get_number(c, o), max = max_of(o, lim);
		if (o->limit != L_NONE && (v < o->min || v > max)) {
			char got[32];
			value_text(o, v, got, sizeof(got));
			return range_error(o, max, o->name, got, e);
		}
	}
	/* The parameter limit needs the data set's shape: model_describe
	 * checks it against lim->max_params. */
	return 0;
}

/* ---- JSON out, the description, --help ------------------------------- */

json_t *jobcfg_to_json(const struct job_config *c)
{
	json_t *j = json_object();
	for (int k = 0; k < K_COUNT; k++)
		json_object_set_new(j, options[k].name, field_json(c, &options[k]));
	return j;
}

static const char *type_name(const struct option_row *o)
{
	switch (o->type) {
	case T_TEXT: return "string";
	case T_ENUM: return "enum";
	case T_LIST: return "array";
	case T_LAYERS: return "layers";
	case T_REAL: return "number";
	default: return "integer";
	}
}

/* How a dependent default is chosen, in words. */
static void default_rule(const struct option_row *o, char *buf, size_t len)
{
	buf[0] = '\0';
	if (o->rule) {
		snprintf(buf, len, "%s", o->rule);
		return;
	}
	if (!o->by_value)
		return;
	const struct option_row *by = &options[o->by];
	snprintf(buf, len, "picked by %s (", by->name);
	for (int i = 0; i < by->n_names; i++) {
		char v[32];
		value_text(o, o->by_value[i], v, sizeof(v));
		size_t n = strlen(buf);
		snprintf(buf + n, len - n, "%s%s: %s", i ? ", " : "", by->names[i], v);
	}
	size_t n = strlen(buf);
	snprintf(buf + n, len - n, ")");
}

/* The bounds of option o for its description. */
static void describe_range(json_t *j, const struct option_row *o,
			   const struct jobcfg_limits *lim)
{
	json_t *names;
	switch (o->type) {
	case T_ENUM:
		names = json_array();
		for (int i = 0; i < o->n_names; i++)
			json_array_append_new(names, json_string(o->names[i]));
		json_object_set_new(j, "values", names);
		break;
	case T_TEXT:
		json_object_set_new(j, "min_length", json_integer((json_int_t)o->min));
		json_object_set_new(j, "max_length", json_integer((json_int_t)o->max));
		break;
	case T_LIST:
		json_object_set_new(j, "items", json_pack("{s:s, s:I, s:I}", "type", "integer",
							  "min", (json_int_t)o->min, "max",
							  (json_int_t)o->max));
		json_object_set_new(j, "max_items", json_integer(o->max_items));
		if (lim)
			json_object_set_new(j, "max_parameters", json_integer((json_int_t)lim->max_params));
		break;
	case T_LAYERS: /* JSON rows; each type's keys */
		json_object_set_new(j, "max_items", json_integer(o->max_items));
		json_object_set_new(j, "rows",
				    json_pack("{s:[s,s,s,s,s], s:[s,s], s:[s,s]}", "conv", "filters",
					      "kernel", "stride", "padding", "activation", "maxpool",
					      "size", "stride", "dense", "units", "activation"));
		if (lim)
			json_object_set_new(j, "max_parameters", json_integer((json_int_t)lim->max_params));
		break;
	case T_REAL:
		json_object_set_new(j, "min", json_real(o->min));
		json_object_set_new(j, "min_exclusive", json_boolean(o->min_exclusive));
		json_object_set_new(j, "max", json_real(max_of(o, lim)));
		break;
	default:
		json_object_set_new(j, "min", json_integer((json_int_t)o->min));
		json_object_set_new(j, "max", json_integer((json_int_t)max_of(o, lim)));
	}
}

json_t *jobcfg_describe(const struct jobcfg_limits *lim)
{
	struct job_config d;
	jobcfg_defaults(&d);
	fill_dependent(&d, lim); /* exactly what jobcfg_finish gives `{}` */
	json_t *arr = json_array();
	for (int k = 0; k < K_COUNT; k++) {
		const struct option_row *o = &options[k];
		/* A default filled in outside this module is not known here. */
		json_t *def = o->rule && !o->from_server ? json_null() : field_json(&d, o);
		json_t *j = json_pack("{s:s, s:s, s:s, s:o}", "name", o->name, "label", o->label,
				      "type", type_name(o), "default", def);
		describe_range(j, o, lim);
		char rule[256];
		default_rule(o, rule, sizeof(rule));
		if (*rule)
			json_object_set_new(j, "default_rule", json_string(rule));
		if (o->by_value) {
			const struct option_row *by = &options[o->by];
			json_t *vals = json_object();
			for (int i = 0; i < by->n_names; i++)
				json_object_set_new(vals, by->names[i], value_json(o, o->by_value[i]));
			json_object_set_new(j, "default_by",
					    json_pack("{s:s, s:o}", "option", by->name, "values", vals));
		}
		json_object_set_new(j, "help", json_string(o->help));
		json_array_append_new(arr, j);
	}
	return arr;
}

void jobcfg_print_help(FILE *f)
{
	struct job_config d;
	struct jobcfg_limits lim;
	jobcfg_defaults(&d);
	jobcfg_limits_default(&lim, 1);
	for (int k = 0; k < K_COUNT; k++) {
		const struct option_row *o = &options[k];
		char flag[64], range[160], def[256];
		snprintf(flag, sizeof(flag), "--%s", o->name);
		for (char *p = flag; *p; p++)
			if (*p == '_')
				*p = '-';
		switch (o->type) {
		case T_ENUM:
			enum_list(o, range, sizeof(range));
			break;
		case T_TEXT:
			snprintf(range, sizeof(range), "text, up to %.0f characters", o->max);
			break;
		case T_LIST:
			snprintf(range, sizeof(range), "0..%d sizes of %.0f..%.0f", o->max_items,
				 o->min, o->max);
			break;
		case T_LAYERS:
			snprintf(range, sizeof(range), "0..%d rows: conv, maxpool, dense",
				 o->max_items);
			break;
		case T_REAL:
			snprintf(range, sizeof(range), "%s%g..%g", o->min_exclusive ? ">" : "",
				 o->min, o->max);
			break;
		default:
			if (o->limit == L_WORKERS)
				snprintf(range, sizeof(range), "%.0f..the pool's size", o->min);
			else
				snprintf(range, sizeof(range), "%.0f..%.0f", o->min, max_of(o, &lim));
		}
		char rule[200];
		default_rule(o, rule, sizeof(rule));
		if (o->rule)
			snprintf(def, sizeof(def), "%s", rule);
		else if (o->type == T_LIST || o->type == T_TEXT || o->type == T_LAYERS)
			snprintf(def, sizeof(def), *o->def_text ? "%s" : "\"%s\"", o->def_text);
		else
			value_text(o, get_number(&d, o), def, sizeof(def));
		if (o->by_value) {
			size_t n = strlen(def);
			snprintf(def + n, sizeof(def) - n, ", %s", rule);
		}
		fprintf(f, "  %-17s %s\n  %-17s default %s; %s\n", flag, o->help, "", def, range);
	}
}
