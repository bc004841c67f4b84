/*
 * error.c - names and HTTP statuses for the TD_E* codes (see error.h).
 *
 * The two tables below are indexed by -code, so adding a code is adding a
 * row to each; a code out of range is reported as an internal error rather
 * than read past the table.
 */
#include "traind/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	int http;
} err_table[] = {
	[0] = {"ok", 200},
	[-TD_ENOMEM] = {"out of memory", 503},
	[-TD_EINVAL] = {"invalid value", 400},
	[-TD_EIO] = {"input/output error", 500},
	[-TD_EFORMAT] = {"bad format", 400},
	[-TD_ENOTFOUND] = {"not found", 404},
	[-TD_ESTATE] = {"not allowed in this state", 409},
	[-TD_EFULL] = {"full", 503},
	[-TD_ETOOBIG] = {"too large", 413},
	[-TD_ECANCELLED] = {"cancelled", 409},
	[-TD_EUNSUPPORTED] = {"unsupported media type", 415},
	[-TD_EAUTH] = {"unauthorized", 401},
	[-TD_EINTERNAL] = {"internal error", 500},
};

#define ERR_COUNT (sizeof(err_table) / sizeof(err_table[0]))

static size_t err_index(int code)
{
	if (code > 0 || (size_t)(-code) >= ERR_COUNT)
		return (size_t)(-TD_EINTERNAL);
	return (size_t)(-code);
}

const char *td_strerror(int code)
{
	return err_table[err_index(code)].name;
}

int td_http_status(int code)
{
	return err_table[err_index(code)].http;
}

void td_error_clear(struct td_error *e)
{
	if (e) {
		e->field[0] = '\0';
		e->msg[0] = '\0';
	}
}

int td_errorf(struct td_error *e, int code, const char *field, const char *fmt, ...)
{
	if (!e)
		return code;
	snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}
