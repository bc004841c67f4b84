/*
 * check_jobcfg.c - the job option table: defaults, strict JSON, flags,
 * messages that name the field and the allowed values.
 */
#include <jansson.h>
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
	ck_assert_int_eq(json_object_size(o), 18);
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
	suite_add_tcase(s, tc);
	return s;
}
