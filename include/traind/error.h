/*
 * error.h - the one error vocabulary of traind.
 *
 * Every function that can fail returns 0 or a negative TD_E* code. Where a
 * person needs to know more than the code (which file, which field, which
 * value and what is allowed), the function also fills a struct td_error:
 * `field` names the offending input ("hidden[1]", "train_images") and `msg`
 * is one sentence a person can act on. Both are valid UTF-8, as API replies
 * carry them in JSON: td_errorf turns every byte that is not part of a
 * whole character (one its buffers or a %.Ns cut in two, or one that never
 * was UTF-8) into '?'. td_strerror() names a code and
 * td_http_status() maps it to the HTTP status the API answers with.
 */
#ifndef TRAIND_ERROR_H
#define TRAIND_ERROR_H

#include <stdarg.h>
#include <stddef.h>

enum td_err {
	TD_OK = 0,
	TD_ENOMEM = -1,     /* out of memory */
	TD_EINVAL = -2,     /* an invalid value: 400 */
	TD_EIO = -3,        /* reading or writing a file failed */
	TD_EFORMAT = -4,    /* a file or body is not in the expected format: 400 */
	TD_ENOTFOUND = -5,  /* no such job, model, data set or file: 404 */
	TD_ESTATE = -6,     /* the transition is not allowed in this state: 409 */
	TD_EFULL = -7,      /* a queue or table is full: 503 */
	TD_ETOOBIG = -8,    /* over a configured size limit: 413 */
	TD_ECANCELLED = -9, /* the operation was stopped on request */
	TD_EUNSUPPORTED = -10, /* unsupported media type: 415 */
	TD_EAUTH = -11,     /* missing or wrong bearer token: 401 */
	TD_EINTERNAL = -12, /* a bug: 500 */
};

struct td_error {
	char field[64]; /* the input at fault, or "" */
	char msg[512];  /* one sentence, no trailing newline */
};

/* Fills `e` (which may be NULL) and returns `code`, so callers can write
 * `return td_errorf(e, TD_EINVAL, "batch_size", "batch_size must be ...");` */
int td_verrorf(struct td_error *e, int code, const char *field, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));
int td_errorf(struct td_error *e, int code, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Clears `e` (field and msg empty). */
void td_error_clear(struct td_error *e);

/* A short constant name for `code` ("invalid value", "not found", ...). */
const char *td_strerror(int code);

/* The HTTP status an API answers with for `code` (200 for TD_OK). */
int td_http_status(int code);

/* An option key as its table spells it: dashes become underscores
 * (--batch-size and batch_size are one key). 0, or -1 when it does not
 * fit in n bytes. Every option table (job, server) reads keys this way. */
int td_key_norm(const char *key, char *out, size_t n);

#endif
