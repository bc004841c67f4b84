/*
 * error.c - names and HTTP statuses for the TD_E* codes (see error.h).
 *
 * The two tables below are indexed by -code, so adding a code is adding a
 * row to each; a code out of range is reported as an internal error rather
 * than read past the table. Messages and fields are kept valid UTF-8, as
 * they go out in JSON: whatever td_errorf's buffers or a caller's %.Ns cut
 * in the middle of a character becomes '?'.
 */
#include "traind/error.h"

#include <stdarg.h>
#include <stdint.h>
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

int td_key_norm(const char *key, char *out, size_t n)
{
	size_t i;
	for (i = 0; key[i] && i + 1 < n; i++)
		out[i] = key[i] == '-' ? '_' : key[i];
	if (key[i] || n == 0)
		return -1;
	out[i] = '\0';
	return 0;
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

/* The length of the well-formed UTF-8 character at p (RFC 3629: no
 * overlong forms, surrogates or code points over U+10FFFF), or 0. */
static size_t utf8_char_len(const unsigned char *p)
{
	unsigned c = p[0];
	size_t n;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80) /* the terminating NUL stops here too */
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* Replaces each byte that is not part of a whole character with '?'. */
static void utf8_repair(char *s)
{
	unsigned char *p = (unsigned char *)s;
	while (*p) {
		size_t n = utf8_char_len(p);
		if (n == 0)
			*p++ = '?';
		else
			p += n;
	}
}

int td_verrorf(struct td_error *e, int code, const char *field, const char *fmt, va_list ap)
{
	if (!e)
		return code;
	snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	utf8_repair(e->field);
	utf8_repair(e->msg);
	return code;
}

int td_errorf(struct td_error *e, int code, const char *field, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	td_verrorf(e, code, field, fmt, ap);
	va_end(ap);
	return code;
}
