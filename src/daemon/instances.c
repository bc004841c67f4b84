/*
 * instances.c - a predict body read in one pass (see instances.h).
 *
 * A small recursive-descent reader over the JSON grammar, specialised to
 * the one object it accepts. Pixel values are kept as read and checked
 * against pixel_range once the whole object is known (the range may come
 * after the instances); the first value over 1 and the first over 255 are
 * remembered by place so the error can name it. Instances past
 * max_instances are still read, into nothing, so the error can say how
 * many there were; the input buffer is sized from the body length, which
 * body_limit bounds.
 */
#include "traind/instances.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where a value sits, for messages: instances[i][k] or [i][row][k]. */
struct place {
	size_t i;
	int row; /* -1 for a flat instance */
	size_t k;
};

struct reader {
	const char *start, *p, *end;
	struct td_error *e;
	int w, h;
	size_t features;
	float *x;        /* where instance i goes: x + i * features */
	size_t cap;      /* instances x holds */
	int over1, over255; /* a value over 1 / over 255 was seen at ... */
	struct place at1, at255;
	double val1, val255;
};

static int syntax(struct reader *r, const char *what)
{
	if (r->p >= r->end)
		return td_errorf(r->e, TD_EINVAL, "", "the body is not valid JSON: it ends where "
				 "%s was expected", what);
	unsigned char c = (unsigned char)*r->p;
	if (c >= 0x20 && c < 0x7f)
		return td_errorf(r->e, TD_EINVAL, "", "the body is not valid JSON: %s expected at "
				 "byte %zu, not '%c'", what, (size_t)(r->p - r->start), c);
	return td_errorf(r->e, TD_EINVAL, "", "the body is not valid JSON: %s expected at byte "
			 "%zu, not byte 0x%02x", what, (size_t)(r->p - r->start), c);
}

static void ws(struct reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int peek(struct reader *r)
{
	ws(r);
	return r->p < r->end ? (unsigned char)*r->p : -1;
}

/* After an array element: ']' ends the array (*more = 0), ',' goes on. */
static int after_element(struct reader *r, int *more)
{
	int c = peek(r);
	if (c != ']' && c != ',')
		return syntax(r, "',' or ']'");
	r->p++;
	*more = c == ',';
	return 0;
}

static int hex4(const char *s, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* A string, decoded into buf (cap bytes, NUL-terminated, cut short when
 * longer). Anything but printable ASCII is stored as '?': the text only
 * ever names a field in a message or is compared with ASCII words. */
static int string(struct reader *r, char *buf, size_t cap)
{
	size_t n = 0;
	if (r->p >= r->end || *r->p != '"')
		return syntax(r, "a string");
	r->p++;
	for (;;) {
		if (r->p >= r->end)
			return syntax(r, "the end of the string");
		unsigned char c = (unsigned char)*r->p++;
		unsigned code = c;
		if (c == '"')
			break;
		if (c < 0x20) {
			r->p--;
			return syntax(r, "a printable character");
		}
		if (c == '\\') {
			if (r->p >= r->end)
				return syntax(r, "an escape");
			char esc = *r->p++;
			const char *simple = strchr("\"\\/bfnrt", esc);
			if (esc == 'u') {
				if (r->end - r->p < 4 || hex4(r->p, &code)) {
					r->p--;
					return syntax(r, "\\u and four hex digits");
				}
				r->p += 4;
			} else if (!esc || !simple) {
				r->p--;
				return syntax(r, "an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u)");
			} else {
				code = (unsigned char)"\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
			}
		}
		if (n + 1 < cap)
			buf[n++] = code >= 0x20 && code < 0x7f ? (char)code : '?';
	}
	buf[n] = '\0';
	return 0;
}

/* A JSON number, strictly: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int number(struct reader *r, double *out)
{
	const char *s = r->p, *q = s;
	uint64_t mant = 0;
	int digits = 0, frac = 0, neg = 0;
	if (q < r->end && *q == '-')
		neg = 1, q++;
	if (q >= r->end || *q < '0' || *q > '9')
		return syntax(r, "a number");
	if (*q == '0') {
		q++;
	} else {
		for (; q < r->end && *q >= '0' && *q <= '9'; q++, digits++)
			mant = mant * 10 + (uint64_t)(*q - '0');
	}
	if (q < r->end && *q == '.') {
		q++;
		if (q >= r->end || *q < '0' || *q > '9') {
			r->p = q;
			return syntax(r, "a digit after the decimal point");
		}
		for (; q < r->end && *q >= '0' && *q <= '9'; q++, frac++, digits++)
			mant = mant * 10 + (uint64_t)(*q - '0');
	}
	int has_exp = q < r->end && (*q == 'e' || *q == 'E');
	if (has_exp) {
		q++;
		if (q < r->end && (*q == '+' || *q == '-'))
			q++;
		if (q >= r->end || *q < '0' || *q > '9') {
			r->p = q;
			return syntax(r, "a digit in the exponent");
		}
		while (q < r->end && *q >= '0' && *q <= '9')
			q++;
	}
	r->p = q;
	/* Up to 15 digits and no exponent: mant / 10^frac is one correctly
	 * rounded division of two exact doubles. Otherwise ask strtod. */
	static const double powers_of_ten[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8,
				       1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
	if (!has_exp && digits <= 15) {
		double d = (double)mant / powers_of_ten[frac];
		*out = neg ? -d : d;
		return 0;
	}
	char tmp[64];
	size_t n = (size_t)(q - s);
	if (n >= sizeof(tmp)) {
		*out = neg ? -INFINITY : INFINITY; /* 64 digits is no pixel */
		return 0;
	}
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	*out = strtod(tmp, NULL);
	return 0;
}

/* Can a JSON value start with byte c? */
static int value_start(int c)
{
	return c > 0 && strchr("\"[{tfn-0123456789", c) != NULL;
}

static const char *kind_at(int c)
{
	if (c == '-' || (c >= '0' && c <= '9'))
		return "a number";
	switch (c) {
	case '"': return "a string";
	case '[': return "an array";
	case '{': return "an object";
	case 't':
	case 'f': return "a boolean";
	case 'n': return "null";
	}
	return "a value";
}

static int name_place(char *buf, size_t len, const struct place *at)
{
	if (at->row < 0)
		return snprintf(buf, len, "instances[%zu][%zu]", at->i, at->k);
	return snprintf(buf, len, "instances[%zu][%d][%zu]", at->i, at->row, at->k);
}

static int not_a_number(struct reader *r, const struct place *at, int c)
{
	char field[80];
	name_place(field, sizeof(field), at);
	return td_errorf(r->e, TD_EINVAL, field, "%s must be a number from 0 to 1 (or to 255 "
			 "with pixel_range 255), not %s", field, kind_at(c));
}

/* One pixel at `at`, stored at *dst unless dst is NULL. */
static int pixel(struct reader *r, const struct place *at, float *dst)
{
	int c = peek(r);
	if (!value_start(c))
		return syntax(r, "a number");
	if (c != '-' && (c < '0' || c > '9'))
		return not_a_number(r, at, c);
	double d;
	int rc = number(r, &d);
	if (rc)
		return rc;
	if (!(d >= 0)) {
		char field[80];
		name_place(field, sizeof(field), at);
		return td_errorf(r->e, TD_EINVAL, field, "%s must be a number from 0 to 1 (or to "
				 "255 with pixel_range 255), not %g", field, d);
	}
	if (d > 1 && !r->over1)
		r->over1 = 1, r->at1 = *at, r->val1 = d;
	if (d > 255 && !r->over255)
		r->over255 = 1, r->at255 = *at, r->val255 = d;
	if (dst)
		*dst = (float)d;
	return 0;
}

static int wrong_shape(struct reader *r, size_t i, const char *got)
{
	char field[48];
	snprintf(field, sizeof(field), "instances[%zu]", i);
	return td_errorf(r->e, TD_EINVAL, field,
			 "%s must be %zu numbers or %d rows of %d numbers, not %s", field,
			 r->features, r->h, r->w, got);
}

/* Numbers up to ']' into dst[0..want) (dst may be NULL); *count gets how
 * many there were. */
static int numbers(struct reader *r, struct place *at, float *dst, size_t want, size_t *count)
{
	size_t n = 0;
	r->p++; /* '[' */
	if (peek(r) == ']') {
		r->p++;
		*count = 0;
		return 0;
	}
	for (;;) {
		at->k = n;
		int rc = pixel(r, at, dst && n < want ? dst + n : NULL);
		if (rc)
			return rc;
		n++;
		int more = 0;
		if ((rc = after_element(r, &more)))
			return rc;
		if (!more)
			break;
	}
	*count = n;
	return 0;
}

static int instance(struct reader *r, size_t i, float *dst)
{
	char got[64];
	int c = peek(r);
	if (c != '[') {
		if (!value_start(c))
			return syntax(r, "an instance");
		return wrong_shape(r, i, kind_at(c));
	}
	const char *open = r->p;
	r->p++;
	int nested = peek(r) == '[';
	r->p = open;
	struct place at = {.i = i, .row = -1};
	size_t n;
	if (!nested) {
		int rc = numbers(r, &at, dst, r->features, &n);
		if (rc)
			return rc;
		if (n != r->features) {
			snprintf(got, sizeof(got), "an array of %zu", n);
			return wrong_shape(r, i, got);
		}
		return 0;
	}
	r->p++; /* the instance's '[' */
	int rows = 0;
	for (;;) {
		if (peek(r) != '[') {
			int c2 = r->p < r->end ? (unsigned char)*r->p : -1;
			if (!value_start(c2))
				return syntax(r, "a row");
			char field[48];
			snprintf(field, sizeof(field), "instances[%zu][%d]", i, rows);
			return td_errorf(r->e, TD_EINVAL, field, "%s must be a row of %d numbers, "
					 "not %s", field, r->w, kind_at(c2));
		}
		at.row = rows;
		int rc = numbers(r, &at, dst && rows < r->h ? dst + (size_t)rows * (size_t)r->w : NULL,
				 (size_t)r->w, &n);
		if (rc)
			return rc;
		if (n != (size_t)r->w) {
			char field[48];
			snprintf(field, sizeof(field), "instances[%zu][%d]", i, rows);
			return td_errorf(r->e, TD_EINVAL, field, "%s must be a row of %d numbers, "
					 "not %zu", field, r->w, n);
		}
		rows++;
		int c3 = peek(r);
		if (c3 == ']') {
			r->p++;
			break;
		}
		if (c3 != ',')
			return syntax(r, "',' or ']'");
		r->p++;
	}
	if (rows != r->h) {
		snprintf(got, sizeof(got), "%d rows", rows);
		return wrong_shape(r, i, got);
	}
	return 0;
}

/* "instances": [instance, ...]; *count gets how many. */
static int instance_list(struct reader *r, int max, size_t *count)
{
	size_t n = 0;
	if (peek(r) != '[') {
		if (value_start(peek(r)))
			return td_errorf(r->e, TD_EINVAL, "instances", "instances must be a non-empty "
					 "array of images, each %zu numbers or %d rows of %d",
					 r->features, r->h, r->w);
		return syntax(r, "a value");
	}
	r->p++;
	if (peek(r) == ']') {
		r->p++;
		*count = 0;
		return 0;
	}
	for (;;) {
		if (n >= r->cap && n < (size_t)max) {
			size_t cap = r->cap ? r->cap * 2 : 16;
			if (cap > (size_t)max)
				cap = (size_t)max;
			float *x = realloc(r->x, sizeof(float) * cap * r->features);
			if (!x)
				return td_errorf(r->e, TD_ENOMEM, "instances", "out of memory for %zu "
						 "instances", cap);
			r->x = x;
			r->cap = cap;
		}
		int rc = instance(r, n, n < (size_t)max ? r->x + n * r->features : NULL);
		if (rc)
			return rc;
		n++;
		int more = 0;
		if ((rc = after_element(r, &more)))
			return rc;
		if (!more)
			break;
	}
	*count = n;
	return 0;
}

/* What the body's fields said, as the object is read. */
struct body {
	int seen_instances, seen_range, seen_pre;
	double range;
	size_t count;
	int mnist;
};

/* One "key": value of the body's object. */
static int body_field(struct reader *r, struct body *b, int max_instances)
{
	char key[64], word[16];
	struct td_error *e = r->e;
	int rc;
	ws(r);
	if ((rc = string(r, key, sizeof(key))))
		return rc;
	if (peek(r) != ':')
		return syntax(r, "':'");
	r->p++;
	int *seen = strcmp(key, "instances") == 0     ? &b->seen_instances
		    : strcmp(key, "pixel_range") == 0 ? &b->seen_range
		    : strcmp(key, "preprocess") == 0  ? &b->seen_pre
						      : NULL;
	if (!seen)
		return td_errorf(e, TD_EINVAL, key, "unknown field \"%s\"; fields are "
				 "instances, pixel_range, preprocess", key);
	if (*seen)
		return td_errorf(e, TD_EINVAL, key, "the field \"%s\" is given twice", key);
	*seen = 1;
	if (seen == &b->seen_instances)
		return instance_list(r, max_instances, &b->count);
	if (seen == &b->seen_range) {
		int c = peek(r);
		double d = 0;
		if (c == '-' || (c >= '0' && c <= '9'))
			rc = number(r, &d);
		if (!rc && d != 1 && d != 255)
			rc = td_errorf(e, TD_EINVAL, "pixel_range", "pixel_range must be "
				       "1 (values in [0,1]) or 255 (values in [0,255])");
		b->range = d;
		return rc;
	}
	if (peek(r) != '"' || string(r, word, sizeof(word)) ||
	    (strcmp(word, "none") && strcmp(word, "mnist")))
		return td_errorf(e, TD_EINVAL, "preprocess", "preprocess must be \"none\" or \"mnist\"");
	b->mnist = strcmp(word, "mnist") == 0;
	return 0;
}

/* The body's object, to its closing brace and nothing after it. */
static int body_object(struct reader *r, struct body *b, int max_instances)
{
	struct td_error *e = r->e;
	if (peek(r) < 0)
		return td_errorf(e, TD_EINVAL, "", "the body is empty; send a JSON object");
	if (*r->p != '{')
		return td_errorf(e, TD_EINVAL, "", "the body must be a JSON object");
	r->p++;
	if (peek(r) == '}')
		r->p++;
	else
		for (;;) {
			int rc = body_field(r, b, max_instances);
			if (rc)
				return rc;
			int c = peek(r);
			r->p += c == '}' || c == ',';
			if (c == '}')
				break;
			if (c != ',')
				return syntax(r, "',' or '}'");
		}
	if (peek(r) >= 0)
		return td_errorf(e, TD_EINVAL, "", "the body is not valid JSON: it goes on after the "
				 "object, at byte %zu", (size_t)(r->p - r->start));
	return 0;
}

int instances_parse(const char *buf, size_t len, int width, int height, int max_instances,
		    struct instances *out, struct td_error *e)
{
	memset(out, 0, sizeof(*out));
	struct reader r = {.start = buf, .p = buf, .end = buf + len, .e = e, .w = width,
			   .h = height, .features = (size_t)width * (size_t)height};
	struct body b = {.range = 1};
	int rc = body_object(&r, &b, max_instances);
	if (!rc && (!b.seen_instances || b.count == 0))
		rc = td_errorf(e, TD_EINVAL, "instances", "instances must be a non-empty array of "
			       "images, each %zu numbers or %d rows of %d", r.features, height,
			       width);
	if (!rc && b.count > (size_t)max_instances)
		rc = td_errorf(e, TD_ETOOBIG, "instances", "%zu instances are more than the %d one "
			       "request may hold", b.count, max_instances);
	if (!rc && ((b.range == 1 && r.over1) || r.over255)) {
		const struct place *at = b.range == 1 ? &r.at1 : &r.at255;
		char field[80];
		name_place(field, sizeof(field), at);
		rc = td_errorf(e, TD_EINVAL, field, "%s must be a number from 0 to %g (pixel_range "
			       "%g), not %g", field, b.range, b.range,
			       b.range == 1 ? r.val1 : r.val255);
	}
	if (rc) {
		free(r.x);
		return rc;
	}
	size_t total = b.count * r.features;
	if (b.range != 1)
		for (size_t k = 0; k < total; k++)
			r.x[k] = (float)(r.x[k] / b.range);
	out->x = r.x;
	out->n = (int)b.count;
	out->pixel_range = b.range;
	out->mnist = b.mnist;
	return 0;
}

void instances_free(struct instances *in)
{
	free(in->x);
	memset(in, 0, sizeof(*in));
}
