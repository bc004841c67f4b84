/*
 * fuzz_jobcfg.c - libFuzzer harness for a job's configuration as the API
 * receives it (jobcfg.h): the body parsed as JSON the way the daemon does
 * (json_loadb, duplicate keys rejected), then jobcfg_from_json,
 * jobcfg_finish and jobcfg_to_json.
 *
 * Beyond the sanitizers it checks that a failure is TD_EINVAL with a
 * message and field in valid UTF-8 (the API sends them in JSON), and a
 * round trip: the effective configuration that jobcfg_to_json echoes must
 * itself be accepted, and give the same configuration back. Every string
 * or number member is also offered to jobcfg_set, the CLI's text path for
 * the same option table.
 *
 * fuzz-sources: src/core/ src/data/ src/engine/
 * fuzz-pkg: openblas
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "traind/jobcfg.h"

static char *dump(const struct job_config *c)
{
	json_t *j = jobcfg_to_json(c);
	FUZZ_CHECK(j != NULL, "jobcfg_to_json returned NULL");
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	FUZZ_CHECK(s != NULL, "json_dumps failed");
	json_decref(j);
	return s;
}

/* The CLI's path: each scalar member as text, on a fresh configuration. */
static void set_as_text(const json_t *obj)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)obj, key, v) {
		struct job_config c;
		struct td_error e;
		char *text = NULL;
		jobcfg_defaults(&c);
		td_error_clear(&e);
		if (json_is_string(v))
			text = strdup(json_string_value(v));
		else if (json_is_number(v))
			text = json_dumps(v, JSON_ENCODE_ANY);
		if (!text)
			continue;
		int rc = jobcfg_set(&c, key, text, &e);
		FUZZ_CHECK(rc == 0 || e.msg[0] != '\0', "jobcfg_set failed without a message");
		if (rc != 0)
			FUZZ_CHECK_ERROR_TEXT(&e, "jobcfg_set");
		free(text);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct job_config c, back;
	struct jobcfg_limits lim;
	struct td_error e;
	json_error_t jerr;

	json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		return 0;
	if (json_is_object(j))
		set_as_text(j);

	jobcfg_limits_default(&lim, 2);
	jobcfg_defaults(&c);
	td_error_clear(&e);
	int rc = jobcfg_from_json(&c, j, &e);
	json_decref(j);
	if (rc != 0) {
		FUZZ_CHECK(rc == TD_EINVAL && e.msg[0] != '\0', "jobcfg_from_json %d: %s", rc,
			   e.msg);
		FUZZ_CHECK_ERROR_TEXT(&e, "jobcfg_from_json");
		return 0;
	}
	rc = jobcfg_finish(&c, &lim, &e);
	if (rc != 0) {
		FUZZ_CHECK(rc == TD_EINVAL && e.msg[0] != '\0', "jobcfg_finish %d: %s", rc, e.msg);
		FUZZ_CHECK_ERROR_TEXT(&e, "jobcfg_finish");
		return 0;
	}

	/* The echoed configuration, read again, is the same configuration. */
	char *first = dump(&c);
	json_t *again = json_loads(first, JSON_REJECT_DUPLICATES, &jerr);
	FUZZ_CHECK(again != NULL, "jobcfg_to_json gave unreadable JSON: %s", jerr.text);
	jobcfg_defaults(&back);
	td_error_clear(&e);
	rc = jobcfg_from_json(&back, again, &e);
	FUZZ_CHECK(rc == 0, "the echoed configuration %s is refused: %s", first, e.msg);
	rc = jobcfg_finish(&back, &lim, &e);
	FUZZ_CHECK(rc == 0, "the echoed configuration %s does not finish: %s", first, e.msg);
	char *second = dump(&back);
	FUZZ_CHECK(strcmp(first, second) == 0, "round trip changed %s into %s", first, second);
	json_decref(again);
	free(first);
	free(second);
	return 0;
}
