/*
 * check_validate.c - POST /v1/jobs:validate against an in-process daemon
 * (testserver.h): a good body answers its configuration and model (each
 * layer's shapes and parameters) and queues nothing; a bad one answers the
 * very 400 POST /v1/jobs gives, field and message.
 */
#include <jansson.h>
#include <string.h>

#include "check_suites.h"
#include "testserver.h"

static void setup(void)
{
	ts_start(NULL);
}

static void teardown(void)
{
	ts_stop();
}

static long post(const char *path, const char *body, struct ts_resp *r)
{
	return ts_request("POST", path, "application/json", NULL, body, strlen(body), r);
}

static long total_jobs(void)
{
	struct ts_resp r;
	ck_assert_int_eq(ts_get("/v1/jobs", &r), 200);
	long n = (long)json_integer_value(json_object_get(r.json, "total"));
	ts_resp_free(&r);
	return n;
}

static void ck_shape(json_t *layer, int c, int h, int w)
{
	json_t *o = json_object_get(layer, "output");
	ck_assert_int_eq(json_integer_value(json_array_get(o, 0)), c);
	ck_assert_int_eq(json_integer_value(json_array_get(o, 1)), h);
	ck_assert_int_eq(json_integer_value(json_array_get(o, 2)), w);
}

START_TEST(test_validate_answers_the_model_and_queues_nothing)
{
	const char *body = "{\"dataset\": \"synth\", \"layers\": [{\"type\": \"conv\", \"filters\": 8, \"kernel\": 5, "
			   "\"padding\": 2}, {\"type\": \"maxpool\", \"size\": 2}, "
			   "{\"type\": \"dense\", \"units\": 32}], \"epochs\": 3}";
	long before = total_jobs();
	struct ts_resp r;
	ck_assert_msg(post("/v1/jobs:validate", body, &r) == 200, "%s", r.body);
	json_t *model = json_object_get(r.json, "model");
	json_t *layers = json_object_get(model, "layers");
	ck_assert_int_eq(json_array_size(layers), 4); /* the output layer too */
	ck_shape(json_array_get(layers, 0), 8, 28, 28);
	ck_shape(json_array_get(layers, 1), 8, 14, 14);
	ck_shape(json_array_get(layers, 2), 32, 1, 1);
	ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(layers, 0), "parameters")),
			 8 * 25 + 8);
	ck_assert_int_eq(json_integer_value(json_object_get(model, "parameters")),
			 208 + 8 * 14 * 14 * 32 + 32 + 32 * 10 + 10);
	json_t *cfg = json_object_get(r.json, "config");
	ck_assert_int_eq(json_integer_value(json_object_get(cfg, "epochs")), 3);
	ck_assert_ptr_nonnull(json_object_get(cfg, "learning_rate")); /* defaults filled in */
	ts_resp_free(&r);
	ck_assert_int_eq(total_jobs(), before);
}
END_TEST

/* The same bodies through both routes: the same status, field, message. */
START_TEST(test_validate_gives_the_errors_of_a_submit)
{
	static const char *const bodies[] = {
		"{\"dataset\": \"synth\", \"layers\": [{\"type\": \"conv\", \"filters\": 8, "
		"\"kernel\": 40}]}",
		"{\"dataset\": \"synth\", \"layers\": [{\"type\": \"maxpool\", \"size\": 2}, {\"type\": \"maxpool\", "
		"\"size\": 2}, {\"type\": \"conv\", \"filters\": 4, \"kernel\": 9}]}",
		"{\"learning_rte\": 0.1}",
		"{\"hidden\": [64], \"layers\": [{\"type\": \"dense\", \"units\": 8}]}",
		"{\"dataset\": \"nope\"}",
		"{\"dataset\": \"synth\", \"workers\": 99}",
	};
	static const char *const fields[] = {"layers[0].kernel", "layers[2].kernel",
					     "learning_rte", "layers", "dataset", "workers"};
	long before = total_jobs();
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		struct ts_resp v, s;
		ck_assert_int_eq(post("/v1/jobs:validate", bodies[i], &v), 400);
		ck_assert_int_eq(post("/v1/jobs", bodies[i], &s), 400);
		const char *fv = json_string_value(json_object_get(v.json, "field"));
		const char *fs = json_string_value(json_object_get(s.json, "field"));
		ck_assert_msg(fv && strcmp(fv, fields[i]) == 0, "body %zu: field %s", i, fv ? fv : "-");
		ck_assert_str_eq(fv, fs);
		ck_assert_str_eq(json_string_value(json_object_get(v.json, "error")),
				 json_string_value(json_object_get(s.json, "error")));
		ts_resp_free(&v);
		ts_resp_free(&s);
	}
	ck_assert_int_eq(total_jobs(), before);
}
END_TEST

Suite *suite_validate(void)
{
	Suite *s = suite_create("validate");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_validate_answers_the_model_and_queues_nothing);
	tcase_add_test(tc, test_validate_gives_the_errors_of_a_submit);
	suite_add_tcase(s, tc);
	return s;
}
