/*
 * check_error.c - the error vocabulary: names, HTTP statuses, messages.
 */
#include <string.h>

#include "check_suites.h"
#include "traind/error.h"

START_TEST(test_http_status_per_code)
{
	ck_assert_int_eq(td_http_status(TD_OK), 200);
	ck_assert_int_eq(td_http_status(TD_EINVAL), 400);
	ck_assert_int_eq(td_http_status(TD_EFORMAT), 400);
	ck_assert_int_eq(td_http_status(TD_ENOTFOUND), 404);
	ck_assert_int_eq(td_http_status(TD_ESTATE), 409);
	ck_assert_int_eq(td_http_status(TD_ETOOBIG), 413);
	ck_assert_int_eq(td_http_status(TD_EUNSUPPORTED), 415);
	ck_assert_int_eq(td_http_status(TD_EAUTH), 401);
	ck_assert_int_eq(td_http_status(TD_EFULL), 503);
	ck_assert_int_eq(td_http_status(TD_EINTERNAL), 500);
	/* Unknown codes are bugs, never read past the table. */
	ck_assert_int_eq(td_http_status(-1000), 500);
	ck_assert_int_eq(td_http_status(7), 500);
}
END_TEST

START_TEST(test_errorf_fills_field_and_message)
{
	struct td_error e;
	int rc = td_errorf(&e, TD_EINVAL, "hidden[1]", "hidden[1] must be 1..%d, not %d", 4096, 0);
	ck_assert_int_eq(rc, TD_EINVAL);
	ck_assert_str_eq(e.field, "hidden[1]");
	ck_assert_str_eq(e.msg, "hidden[1] must be 1..4096, not 0");
	ck_assert_int_eq(td_errorf(NULL, TD_EIO, "x", "ignored"), TD_EIO);
	td_error_clear(&e);
	ck_assert_str_eq(e.msg, "");
	ck_assert_str_eq(td_strerror(TD_ENOTFOUND), "not found");
}
END_TEST

/*
 * Messages and fields go out in JSON replies, which hold UTF-8 only: a
 * character that td_errorf's buffers (or a caller's %.Ns) cut in two, and
 * bytes that never were UTF-8, become '?'. Found by fuzz/fuzz_jobcfg.c: a
 * long unknown key whose 63-byte field ended inside a two-byte character.
 */
START_TEST(test_errorf_keeps_text_utf8)
{
	struct td_error e;
	char key[80], want[80];

	/* 62 ASCII bytes, then U+00E9 across the end of the 64-byte field. */
	memset(key, 'k', 62);
	strcpy(key + 62, "\xc3\xa9tail");
	memset(want, 'k', 62);
	strcpy(want + 62, "?");
	td_errorf(&e, TD_EINVAL, key, "unknown field \"%.63s\"", key);
	ck_assert_str_eq(e.field, want);
	ck_assert(strstr(e.msg, want) != NULL);
	ck_assert(strchr(e.msg, '\xc3') == NULL);

	/* A message cut at its 512-byte end, inside a three-byte character. */
	char longer[600];
	memset(longer, 'a', 510);
	strcpy(longer + 510, "\xe2\x91\xa0");
	td_errorf(&e, TD_EINVAL, "", "%s", longer);
	ck_assert_uint_eq(strlen(e.msg), 511);
	ck_assert_str_eq(e.msg + 509, "a?");

	/* Not UTF-8 at all: a stray byte, a lone continuation, an overlong
	 * form, a surrogate, and an incomplete character at the end. */
	td_errorf(&e, TD_EFORMAT, "", "%s", "x\xff y\x80 z\xc0\xaf s\xed\xa0\x80 e\xe2\x82");
	ck_assert_str_eq(e.msg, "x? y? z?? s??? e??");

	/* Whole characters of every length are kept. */
	td_errorf(&e, TD_EINVAL, "n\xc3\xa9", "%s", "\xc3\xa9 \xe2\x91\xa0 \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf");
	ck_assert_str_eq(e.field, "n\xc3\xa9");
	ck_assert_str_eq(e.msg, "\xc3\xa9 \xe2\x91\xa0 \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf");
}
END_TEST

Suite *suite_error(void)
{
	Suite *s = suite_create("error");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_http_status_per_code);
	tcase_add_test(tc, test_errorf_fills_field_and_message);
	tcase_add_test(tc, test_errorf_keeps_text_utf8);
	suite_add_tcase(s, tc);
	return s;
}
