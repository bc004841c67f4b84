/*
 * check_jobcfg.c - the job option table: defaults, strict JSON, flags,
 * messages that name the field and the allowed values, and the description
 * GET /v1/job-options serves held to what the parser does.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "traind/jobcfg.h"

static struct jobcfg_limits limits(void)
{
	struct jobcfg_limits l;
	jobcfg_limits_default(&l, 2);
	return l;
}

/* Parses JSON text into a finished config; returns the error code. */
static int from_text(const char *text, struct job_config *c, struct td_error *e)
{
	json_error_t je;
	json_t *o = json_loads(text, 0, &je);
	ck_assert_ptr_nonnull(o);
	jobcfg_defaults(c);
	int rc = jobcfg_from_json(c, o, e);
	json_decref(o);
	if (rc)
		return rc;
	struct jobcfg_limits l = limits();
	return jobcfg_finish(c, &l, e);
}

START_TEST(test_empty_object_gives_documented_defaults)
{
	struct job_config c;
	struct td_error e;
	ck_assert_int_eq(from_text("{}", &c, &e), 0);
	json_t *o = jobcfg_to_json(&c);
	ck_assert_str_eq(json_string_value(json_object_get(o, "dataset")), "digits");
	ck_assert_int_eq(json_array_size(json_object_get(o, "hidden")), 1);
	ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(o, "hidden"), 0)), 256);
	ck_assert_str_eq(json_string_value(json_object_get(o, "activation")), "relu");
	ck_assert_str_eq(json_string_value(json_object_get(o, "output")), "softmax");
	ck_assert_str_eq(json_string_value(json_object_get(o, "loss")), "cross_entropy");
	ck_assert_str_eq(json_string_value(json_object_get(o, "optimizer")), "sgd");
	ck_assert_double_eq(json_real_value(json_object_get(o, "learning_rate")), 0.1);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "batch_size")), 64);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "epochs")), 30);
	ck_assert_double_eq(json_real_value(json_object_get(o, "l2")), 0.0005);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "workers")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "seed")), 1);
	ck_assert_str_eq(json_string_value(json_object_get(o, "init")), "auto");
	ck_assert_str_eq(json_string_value(json_object_get(o, "augment")), "shift");
	ck_assert_str_eq(json_string_value(json_object_get(o, "lr_schedule")), "constant");
	ck_assert_int_eq(json_array_size(json_object_get(o, "layers")), 0);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "ranks")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "max_restarts")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "rank_timeout")), 60);
	ck_assert_int_eq(json_object_size(o), 21);
	json_decref(o);
}
END_TEST

START_TEST(test_unknown_field_is_rejected_with_suggestion)
{
	struct job_config c;
	struct td_error e;
	ck_assert_int_eq(from_text("{\"learning_rte\": 0.5}", &c, &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "learning_rte");
	ck_assert_ptr_nonnull(strstr(e.msg, "did you mean \"learning_rate\""));
	/* The CLI spelling is not a JSON field. */
	ck_assert_int_eq(from_text("{\"batch-size\": 5}", &c, &e), TD_EINVAL);
}
END_TEST

START_TEST(test_out_of_range_values_name_field_and_range)
{
	struct job_config c;
	struct td_error e;
	ck_assert_int_eq(from_text("{\"batch_size\": 0}", &c, &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "batch_size");
	ck_assert_ptr_nonnull(strstr(e.msg, "from 1 to"));
	ck_assert_int_eq(from_text("{\"batch_size\": 64.5}", &c, &e), TD_EINVAL);
	ck_assert_int_eq(from_text("{\"batch_size\": \"64\"}", &c, &e), TD_EINVAL);
	ck_assert_int_eq(from_text("{\"batch_size\": 100000}", &c, &e), TD_EINVAL);
	ck_assert_ptr_nonnull(strstr(e.msg, "8192"));
	ck_assert_int_eq(from_text("{\"hidden\": [128, 0]}", &c, &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "hidden[1]");
	ck_assert_int_eq(from_text("{\"hidden\": [1,1,1,1,1,1,1,1,1]}", &c, &e), TD_EINVAL);
	ck_assert_int_eq(from_text("{\"learning_rate\": 0}", &c, &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "learning_rate");
	ck_assert_int_eq(from_text("{\"learning_rate\": -1}", &c, &e), TD_EINVAL);
	ck_assert_int_eq(from_text("{\"momentum\": 1}", &c, &e), TD_EINVAL);
	ck_assert_int_eq(from_text("{\"activation\": \"relux\"}", &c, &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "activation");
	ck_assert_ptr_nonnull(strstr(e.msg, "relu, sigmoid, tanh"));
	ck_assert_int_eq(from_text("{\"workers\": 65}", &c, &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "workers");
	ck_assert_int_eq(from_text("{\"seed\": -1}", &c, &e), TD_EINVAL);
	ck_assert_int_eq(from_text("{\"dataset\": \"../etc/passwd\"}", &c, &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "dataset");
	ck_assert_int_eq(from_text("[]", &c, &e), TD_EINVAL);
	/* No value at all (a record or checkpoint without "config"). */
	ck_assert_int_eq(jobcfg_from_json(&c, NULL, &e), TD_EINVAL);
	ck_assert_ptr_nonnull(strstr(e.msg, "not nothing"));
}
END_TEST

START_TEST(test_output_and_loss_pair_by_default)
{
	struct job_config c;
	struct td_error e;
	ck_assert_int_eq(from_text("{\"output\": \"sigmoid\"}", &c, &e), 0);
	ck_assert_int_eq(c.loss, LOSS_MSE);
	ck_assert_int_eq(from_text("{\"loss\": \"mse\"}", &c, &e), 0);
	ck_assert_int_eq(c.output, OUT_SIGMOID);
	ck_assert_int_eq(from_text("{\"output\": \"sigmoid\", \"loss\": \"cross_entropy\"}", &c, &e), 0);
	ck_assert_int_eq(from_text("{\"output\": \"softmax\", \"loss\": \"mse\"}", &c, &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "loss");
	ck_assert_int_eq(from_text("{\"optimizer\": \"adam\"}", &c, &e), 0);
	ck_assert_double_eq(c.learning_rate, 0.001);
	ck_assert_int_eq(from_text("{\"optimizer\": \"adam\", \"learning_rate\": 0.01}", &c, &e), 0);
	ck_assert_double_eq(c.learning_rate, 0.01);
}
END_TEST

START_TEST(test_flags_use_the_same_table)
{
	struct job_config c;
	struct td_error e;
	jobcfg_defaults(&c);
	ck_assert_int_eq(jobcfg_set(&c, "batch-size", "32", &e), 0);
	ck_assert_int_eq(c.batch_size, 32);
	ck_assert_int_eq(jobcfg_set(&c, "hidden", "5,4", &e), 0);
	ck_assert_int_eq(c.n_hidden, 2);
	ck_assert_int_eq(c.hidden[1], 4);
	ck_assert_int_eq(jobcfg_set(&c, "hidden", "none", &e), 0);
	ck_assert_int_eq(c.n_hidden, 0);
	ck_assert_int_eq(jobcfg_set(&c, "hidden", "5,x", &e), TD_EINVAL);
	ck_assert_int_eq(jobcfg_set(&c, "learning-rate", "abc", &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "learning_rate");
	ck_assert_int_eq(jobcfg_set(&c, "epochz", "3", &e), TD_EINVAL);
	ck_assert_ptr_nonnull(strstr(e.msg, "epochs"));
	ck_assert(jobcfg_has_option("batch-size"));
	ck_assert(!jobcfg_has_option("json"));
}
END_TEST

/* Can the API send s in a JSON reply? jansson makes strings of UTF-8 only. */
static int json_text_ok(const char *s)
{
	json_t *j = json_string(s);
	json_decref(j);
	return j != NULL;
}

/* One string member, {key: value}, through jobcfg_from_json. */
static int from_member(const char *key, const char *value, struct td_error *e)
{
	struct job_config c;
	json_t *o = json_object();
	ck_assert_int_eq(json_object_set_new(o, key, json_string(value)), 0);
	jobcfg_defaults(&c);
	int rc = jobcfg_from_json(&c, o, e);
	json_decref(o);
	return rc;
}

/*
 * Errors quote the user's key or value, cut to fit: the cut must not split
 * a character, or the reply loses its message. Found by fuzz/fuzz_jobcfg.c:
 * an unknown key whose 63-byte field ended inside U+0351 ("\xcd\x91").
 */
START_TEST(test_errors_quoting_user_text_stay_utf8)
{
	struct job_config c;
	struct td_error e;
	char key[80], value[80];

	/* The field (63 bytes) ends inside the character. */
	memset(key, 'x', 62);
	strcpy(key + 62, "\xcd\x91y");
	ck_assert_int_eq(from_member(key, "v", &e), TD_EINVAL);
	ck_assert(json_text_ok(e.field));
	ck_assert(json_text_ok(e.msg));
	ck_assert_int_eq(strncmp(e.field, key, 62), 0);

	/* The message's "%.60s" of the key ends inside it. */
	memset(key, 'x', 59);
	strcpy(key + 59, "\xcd\x91");
	ck_assert_int_eq(from_member(key, "v", &e), TD_EINVAL);
	ck_assert(json_text_ok(e.field));
	ck_assert(json_text_ok(e.msg));

	/* An enum value quoted with "%.40s", from JSON and from the CLI. */
	memset(value, 'r', 39);
	strcpy(value + 39, "\xc3\xa9");
	ck_assert_int_eq(from_member("activation", value, &e), TD_EINVAL);
	ck_assert(json_text_ok(e.msg));
	jobcfg_defaults(&c);
	ck_assert_int_eq(jobcfg_set(&c, "activation", value, &e), TD_EINVAL);
	ck_assert(json_text_ok(e.msg));
	ck_assert_int_eq(jobcfg_set(&c, "epochs", value, &e), TD_EINVAL);
	ck_assert(json_text_ok(e.msg));
}
END_TEST

/* ---- the description (GET /v1/job-options) -------------------------- */

static json_t *option_named(json_t *opts, const char *name)
{
	size_t i;
	json_t *o;
	json_array_foreach(opts, i, o)
		if (strcmp(json_string_value(json_object_get(o, "name")), name) == 0)
			return o;
	return NULL;
}

/* {key: value} through jobcfg_from_json and jobcfg_finish; steals value. */
static int from_pair(const char *key, json_t *value, struct job_config *c, struct td_error *e)
{
	json_t *o = json_object();
	json_object_set_new(o, key, value);
	jobcfg_defaults(c);
	int rc = jobcfg_from_json(c, o, e);
	json_decref(o);
	struct jobcfg_limits l = limits();
	return rc ? rc : jobcfg_finish(c, &l, e);
}

/* The described options are exactly the fields of the effective
 * configuration, their defaults are what `{}` gets, and each default sent
 * back as that field is accepted. */
START_TEST(test_description_defaults_are_what_empty_object_gets)
{
	struct jobcfg_limits l = limits();
	json_t *opts = jobcfg_describe(&l);
	struct job_config c;
	struct td_error e;
	ck_assert_int_eq(from_text("{}", &c, &e), 0);
	json_t *cfg = jobcfg_to_json(&c);
	ck_assert_int_eq(json_array_size(opts), json_object_size(cfg));
	json_t *all = json_object(); /* every option at its described default */
	size_t i;
	json_t *o;
	json_array_foreach(opts, i, o) {
		const char *name = json_string_value(json_object_get(o, "name"));
		json_t *def = json_object_get(o, "default");
		if (json_is_null(def)) {
			/* Filled in by the job manager (the name: the job id); the
			 * rule says so, and here the field is empty. */
			ck_assert_ptr_nonnull(json_object_get(o, "default_rule"));
			ck_assert_str_eq(json_string_value(json_object_get(cfg, name)), "");
			continue;
		}
		ck_assert_msg(json_equal(def, json_object_get(cfg, name)),
			      "%s: described default differs from what {} gets", name);
		ck_assert_msg(from_pair(name, json_deep_copy(def), &c, &e) == 0, "%s: %s", name,
			      e.msg);
		ck_assert(json_string_value(json_object_get(o, "help"))[0]);
		ck_assert(json_string_value(json_object_get(o, "label"))[0]);
		json_object_set(all, name, def);
	}
	/* All at once, and the echo is the same object. */
	jobcfg_defaults(&c);
	ck_assert_int_eq(jobcfg_from_json(&c, all, &e), 0);
	ck_assert_int_eq(jobcfg_finish(&c, &l, &e), 0);
	json_t *back = jobcfg_to_json(&c);
	json_object_set_new(all, "name", json_string(""));
	ck_assert(json_equal(back, all));
	/* A name the description does not list is refused. */
	ck_assert_ptr_null(option_named(opts, "learning_rte"));
	ck_assert_int_eq(from_pair("learning_rte", json_real(0.1), &c, &e), TD_EINVAL);
	json_decref(back);
	json_decref(all);
	json_decref(cfg);
	json_decref(opts);
}
END_TEST

/* The server's limits are the described maxima and the workers default. */
START_TEST(test_description_follows_the_server_limits)
{
	struct jobcfg_limits l = limits();
	l.max_workers = 3;
	l.default_workers = 3;
	l.max_epochs = 40;
	json_t *opts = jobcfg_describe(&l);
	json_t *w = option_named(opts, "workers");
	ck_assert_int_eq(json_integer_value(json_object_get(w, "default")), 3);
	ck_assert_int_eq(json_integer_value(json_object_get(w, "max")), 3);
	ck_assert_ptr_nonnull(json_object_get(w, "default_rule"));
	json_t *ep = option_named(opts, "epochs");
	ck_assert_int_eq(json_integer_value(json_object_get(ep, "max")), 40);
	struct job_config c;
	struct td_error e;
	jobcfg_defaults(&c);
	ck_assert_int_eq(jobcfg_finish(&c, &l, &e), 0);
	ck_assert_int_eq(c.workers, 3);
	jobcfg_defaults(&c);
	c.epochs = 41;
	ck_assert_int_eq(jobcfg_finish(&c, &l, &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "epochs");
	ck_assert_ptr_nonnull(strstr(e.msg, "from 1 to 40"));
	json_decref(opts);
}
END_TEST

/* "default_by": giving the named option (and not this one) gets the
 * listed default; the rule's plain default is its entry for the other
 * option's own default. */
START_TEST(test_description_dependent_defaults_hold)
{
	struct jobcfg_limits l = limits();
	json_t *opts = jobcfg_describe(&l);
	int seen = 0;
	size_t i;
	json_t *o;
	json_array_foreach(opts, i, o) {
		json_t *by = json_object_get(o, "default_by");
		if (!by)
			continue;
		seen++;
		const char *name = json_string_value(json_object_get(o, "name"));
		const char *other = json_string_value(json_object_get(by, "option"));
		json_t *other_def = json_object_get(option_named(opts, other), "default");
		ck_assert(json_equal(json_object_get(o, "default"),
				     json_object_get(json_object_get(by, "values"),
						     json_string_value(other_def))));
		ck_assert_ptr_nonnull(json_object_get(o, "default_rule"));
		const char *v;
		json_t *want;
		json_object_foreach(json_object_get(by, "values"), v, want) {
			struct job_config c;
			struct td_error e;
			ck_assert_msg(from_pair(other, json_string(v), &c, &e) == 0, "%s", e.msg);
			json_t *cfg = jobcfg_to_json(&c);
			ck_assert_msg(json_equal(json_object_get(cfg, name), want),
				      "%s given %s: %s is not the described default", other, v, name);
			json_decref(cfg);
		}
	}
	ck_assert_int_eq(seen, 3); /* output, loss, learning_rate */
	json_decref(opts);
}
END_TEST

/* One option's described bounds against the parser: the edges are
 * accepted, one step past them refused, naming the field. */
static void check_bounds(json_t *o)
{
	const char *name = json_string_value(json_object_get(o, "name"));
	const char *type = json_string_value(json_object_get(o, "type"));
	struct job_config c;
	struct td_error e;
	if (strcmp(type, "enum") == 0) {
		size_t i;
		json_t *v;
		json_array_foreach(json_object_get(o, "values"), i, v) {
			int rc = from_pair(name, json_deep_copy(v), &c, &e);
			/* softmax/mse is refused as a pair, not as a value. */
			ck_assert_msg(rc == 0 || strcmp(e.field, name) != 0, "%s", e.msg);
		}
		ck_assert_int_eq(from_pair(name, json_string("no-such-value"), &c, &e), TD_EINVAL);
		ck_assert_str_eq(e.field, name);
	} else if (strcmp(type, "integer") == 0 || strcmp(type, "number") == 0) {
		double min = json_number_value(json_object_get(o, "min"));
		double max = json_number_value(json_object_get(o, "max"));
		int integer = strcmp(type, "integer") == 0;
		double step = integer ? 1 : 1e-9;
		ck_assert_msg(from_pair(name, json_real(max), &c, &e) == 0, "%s", e.msg);
		if (!(max > 1e15)) { /* past 2^53 a step is lost */
			ck_assert_int_eq(from_pair(name, json_real(max + step), &c, &e), TD_EINVAL);
			ck_assert_str_eq(e.field, name);
		}
		if (json_is_true(json_object_get(o, "min_exclusive"))) {
			ck_assert_int_eq(from_pair(name, json_real(min), &c, &e), TD_EINVAL);
		} else {
			ck_assert_msg(from_pair(name, json_real(min), &c, &e) == 0, "%s", e.msg);
			ck_assert_int_eq(from_pair(name, json_real(min - step), &c, &e), TD_EINVAL);
			ck_assert_str_eq(e.field, name);
		}
	} else if (strcmp(type, "array") == 0) {
		json_t *items = json_object_get(o, "items");
		json_int_t lo = json_integer_value(json_object_get(items, "min"));
		json_int_t hi = json_integer_value(json_object_get(items, "max"));
		json_int_t n = json_integer_value(json_object_get(o, "max_items"));
		json_t *a = json_array();
		for (json_int_t i = 0; i < n; i++)
			json_array_append_new(a, json_integer(lo));
		ck_assert_msg(from_pair(name, json_deep_copy(a), &c, &e) == 0, "%s", e.msg);
		json_array_append_new(a, json_integer(lo));
		ck_assert_int_eq(from_pair(name, a, &c, &e), TD_EINVAL);
		ck_assert_int_eq(from_pair(name, json_pack("[I]", hi), &c, &e), 0);
		ck_assert_int_eq(from_pair(name, json_pack("[I]", hi + 1), &c, &e), TD_EINVAL);
		ck_assert_int_eq(from_pair(name, json_pack("[I]", lo - 1), &c, &e), TD_EINVAL);
		ck_assert_ptr_nonnull(strstr(e.field, name));
	} else if (strcmp(type, "layers") == 0) {
		json_int_t n = json_integer_value(json_object_get(o, "max_items"));
		json_t *a = json_array();
		for (json_int_t i = 0; i < n; i++)
			json_array_append_new(a, json_pack("{s:s, s:i}", "type", "dense", "units", 1));
		ck_assert_msg(from_pair(name, json_deep_copy(a), &c, &e) == 0, "%s", e.msg);
		json_array_append_new(a, json_pack("{s:s, s:i}", "type", "dense", "units", 1));
		ck_assert_int_eq(from_pair(name, a, &c, &e), TD_EINVAL);
		ck_assert_str_eq(e.field, name);
		ck_assert_ptr_nonnull(json_object_get(json_object_get(o, "rows"), "conv"));
	} else {
		ck_assert_str_eq(type, "string");
		json_int_t lo = json_integer_value(json_object_get(o, "min_length"));
		json_int_t hi = json_integer_value(json_object_get(o, "max_length"));
		char text[256];
		memset(text, 'a', sizeof(text));
		text[hi] = '\0';
		ck_assert_msg(from_pair(name, json_string(text), &c, &e) == 0, "%s", e.msg);
		text[hi] = 'a';
		text[hi + 1] = '\0';
		ck_assert_int_eq(from_pair(name, json_string(text), &c, &e), TD_EINVAL);
		if (lo > 0) {
			ck_assert_int_eq(from_pair(name, json_string(""), &c, &e), TD_EINVAL);
			ck_assert_str_eq(e.field, name);
		}
	}
}

START_TEST(test_description_bounds_are_the_parsers)
{
	struct jobcfg_limits l = limits();
	json_t *opts = jobcfg_describe(&l);
	size_t i;
	json_t *o;
	json_array_foreach(opts, i, o)
		check_bounds(o);
	json_decref(opts);
}
END_TEST

/* --help lists every described option as its flag. */
START_TEST(test_help_lists_every_option)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(f);
	jobcfg_print_help(f);
	ck_assert_int_eq(fclose(f), 0);
	struct jobcfg_limits l = limits();
	json_t *opts = jobcfg_describe(&l);
	size_t i;
	json_t *o;
	json_array_foreach(opts, i, o) {
		char flag[80];
		snprintf(flag, sizeof(flag), "  --%s ", json_string_value(json_object_get(o, "name")));
		for (char *p = flag + 4; *p; p++)
			if (*p == '_')
				*p = '-';
		ck_assert_msg(strstr(buf, flag), "--help lacks %s", flag);
	}
	ck_assert_ptr_nonnull(strstr(buf, "adam: 0.001"));
	json_decref(opts);
	free(buf);
}
END_TEST

Suite *suite_jobcfg(void)
{
	Suite *s = suite_create("jobcfg");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_empty_object_gives_documented_defaults);
	tcase_add_test(tc, test_unknown_field_is_rejected_with_suggestion);
	tcase_add_test(tc, test_out_of_range_values_name_field_and_range);
	tcase_add_test(tc, test_output_and_loss_pair_by_default);
	tcase_add_test(tc, test_flags_use_the_same_table);
	tcase_add_test(tc, test_errors_quoting_user_text_stay_utf8);
	tcase_add_test(tc, test_description_defaults_are_what_empty_object_gets);
	tcase_add_test(tc, test_description_follows_the_server_limits);
	tcase_add_test(tc, test_description_dependent_defaults_hold);
	tcase_add_test(tc, test_description_bounds_are_the_parsers);
	tcase_add_test(tc, test_help_lists_every_option);
	suite_add_tcase(s, tc);
	return s;
}
