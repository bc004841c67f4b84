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

Suite *suite_error(void)
{
	Suite *s = suite_create("error");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_http_status_per_code);
	tcase_add_test(tc, test_errorf_fills_field_and_message);
	suite_add_tcase(s, tc);
	return s;
}
