/*
 * oip_fast.c - the JSON header of a binary infer request read in one pass,
 * without a JSON tree (see oip_internal.h).
 *
 * A binary request's header is a few dozen bytes of JSON that a client
 * such as tritonclient writes the same way every time:
 *
 *   {"inputs":[{"name":"input","shape":[1,784],"datatype":"FP32",
 *     "parameters":{"binary_data_size":3136}}],
 *    "parameters":{"binary_data_output":true}}
 *
 * Building a Jansson tree of it cost more than the forward pass of a
 * small model. This reader recognises exactly the headers that the general
 * path (oip_parse.c) accepts with binary input data and that are written
 * plainly: strings without escapes or bytes above 0x7e, integers without
 * sign, fraction or exponent, no nulls, no duplicate keys, no unknown
 * fields. For those it fills in what the general path would; for anything
 * else - every error included - it answers "not mine" and the general path
 * reads the header and words the error. Being stricter than the general
 * path is always safe here; being looser would not be, and
 * tests/check_oip.c compares the two on headers of every kind.
 */
#include "traind/oip_internal.h"

#include <string.h>

/* ---- the cursor ------------------------------------------------------ */

struct cur {
	const char *s;
	size_t i, n;
};

static void ws(struct cur *c)
{
	while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n' ||
			       c->s[c->i] == '\r'))
		c->i++;
}

/* The next byte after blanks, or -1 at the end. */
static int peek(struct cur *c)
{
	ws(c);
	return c->i < c->n ? (unsigned char)c->s[c->i] : -1;
}

static int expect(struct cur *c, char ch)
{
	if (peek(c) != (unsigned char)ch)
		return -1;
	c->i++;
	return 0;
}

/* A plain string: printable ASCII, no escapes. */
static int str(struct cur *c, const char **p, size_t *len)
{
	if (expect(c, '"'))
		return -1;
	size_t start = c->i;
	while (c->i < c->n && c->s[c->i] != '"') {
		unsigned char ch = (unsigned char)c->s[c->i];
		if (ch < 0x20 || ch > 0x7e || ch == '\\')
			return -1;
		c->i++;
	}
	if (c->i >= c->n)
		return -1;
	*p = c->s + start;
	*len = c->i - start;
	c->i++;
	return 0;
}

static int str_is(const char *p, size_t len, const char *want)
{
	return strlen(want) == len && memcmp(p, want, len) == 0;
}

/* One of `names` (NULL-terminated): its index, or -1. */
static int str_pick(struct cur *c, const char *const *names)
{
	const char *p;
	size_t len;
	if (str(c, &p, &len))
		return -1;
	for (int k = 0; names[k]; k++)
		if (str_is(p, len, names[k]))
			return k;
	return -1;
}

/* An integer of at most 15 digits, no sign, no leading zero, nothing
 * after it but a delimiter. */
static int uint_(struct cur *c, long long *v)
{
	int ch = peek(c);
	if (ch < '0' || ch > '9')
		return -1;
	size_t start = c->i;
	long long x = 0;
	while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9' && c->i - start < 16)
		x = 10 * x + (c->s[c->i++] - '0');
	size_t digits = c->i - start;
	if (digits > 15 || (digits > 1 && c->s[start] == '0'))
		return -1;
	if (c->i < c->n && !strchr(" \t\r\n,]}", c->s[c->i]))
		return -1; /* a fraction, an exponent or junk */
	*v = x;
	return 0;
}

static int boolean(struct cur *c, int *v)
{
	int ch = peek(c);
	const char *word = ch == 't' ? "true" : ch == 'f' ? "false" : NULL;
	size_t len = word ? strlen(word) : 0;
	if (!word || c->n - c->i < len || memcmp(c->s + c->i, word, len))
		return -1;
	c->i += len;
	if (c->i < c->n && !strchr(" \t\r\n,]}", c->s[c->i]))
		return -1;
	*v = ch == 't';
	return 0;
}

/* Members of an object whose '{' was read: 1 with the key's index among
 * `keys` (and the ':' read), 0 at the '}', -1 otherwise. A key not among
 * them, or seen before in *seen, is -1. */
static int member(struct cur *c, int *count, unsigned *seen, const char *const *keys, int *key)
{
	int ch = peek(c);
	if (ch == '}' || (*count && ch != ',')) {
		if (ch != '}')
			return -1;
		c->i++;
		return 0;
	}
	if (*count)
		c->i++;
	(*count)++;
	*key = str_pick(c, keys);
	if (*key < 0 || (*seen & (1u << *key)) || expect(c, ':'))
		return -1;
	*seen |= 1u << *key;
	return 1;
}

/* Elements of an array whose '[' was read: 1 before each, 0 at the ']'. */
static int element(struct cur *c, int *count)
{
	int ch = peek(c);
	if (ch == ']') {
		c->i++;
		return 0;
	}
	if (*count) {
		if (ch != ',')
			return -1;
		c->i++;
	} else if (ch < 0) {
		return -1;
	}
	(*count)++;
	return 1;
}

/* ---- the request's parts -------------------------------------------- */

/* What the header said, before defaults are resolved. */
struct seen_request {
	int has_outputs, n_out, out[2], has_binary[2], binary[2];
};

static int request_parameters(struct cur *c, struct oip_request *q)
{
	static const char *const keys[] = {"pixel_range", "preprocess", "binary_data_output",
					   "priority", "timeout", NULL};
	static const char *const modes[] = {"none", "mnist", NULL};
	int count = 0, key, rc, mode;
	unsigned seen = 0;
	long long v;
	if (expect(c, '{'))
		return -1;
	while ((rc = member(c, &count, &seen, keys, &key)) == 1) {
		if (key == 0) {
			if (uint_(c, &v) || (v != 1 && v != 255))
				return -1;
			q->range = (double)v;
		} else if (key == 1) {
			if ((mode = str_pick(c, modes)) < 0)
				return -1;
			q->mnist = mode == 1;
		} else if (key == 2) {
			if (boolean(c, &q->binary_all))
				return -1;
		} else if (uint_(c, &v)) { /* priority, timeout: taken, not used */
			return -1;
		}
	}
	return rc;
}

static int output_parameters(struct cur *c, int *binary)
{
	static const char *const keys[] = {"binary_data", NULL};
	int count = 0, key, rc;
	unsigned seen = 0;
	if (expect(c, '{'))
		return -1;
	while ((rc = member(c, &count, &seen, keys, &key)) == 1)
		if (boolean(c, binary))
			return -1;
	return rc ? -1 : count == 1 ? 0 : -1; /* {} means no binary_data: keep it simple */
}

static int output(struct cur *c, struct seen_request *r, int o)
{
	static const char *const keys[] = {"name", "parameters", NULL};
	static const char *const names[] = {OIP_OUT_PROBS, OIP_OUT_LABEL, NULL};
	int count = 0, key, rc;
	unsigned seen = 0;
	if (expect(c, '{'))
		return -1;
	while ((rc = member(c, &count, &seen, keys, &key)) == 1) {
		if (key == 0 && (r->out[o] = str_pick(c, names)) < 0)
			return -1;
		if (key == 1 && output_parameters(c, &r->binary[o]))
			return -1;
		r->has_binary[o] |= key == 1;
	}
	if (rc || !(seen & 1) || (o == 1 && r->out[0] == r->out[1]))
		return -1;
	return 0;
}

static int outputs(struct cur *c, struct seen_request *r)
{
	int count = 0, rc;
	if (expect(c, '['))
		return -1;
	while ((rc = element(c, &count)) == 1)
		if (count > 2 || output(c, r, count - 1))
			return -1;
	r->has_outputs = 1;
	r->n_out = count;
	return rc || count < 1 ? -1 : 0;
}

static int shape(struct cur *c, long long dims[4], int *rank)
{
	int count = 0, rc;
	if (expect(c, '['))
		return -1;
	while ((rc = element(c, &count)) == 1)
		if (count > 4 || uint_(c, &dims[count - 1]) || dims[count - 1] > 1LL << 40)
			return -1;
	*rank = count;
	return rc;
}

static int input_parameters(struct cur *c, struct oip_tensor *t)
{
	static const char *const keys[] = {"binary_data_size", NULL};
	int count = 0, key, rc;
	unsigned seen = 0;
	if (expect(c, '{'))
		return -1;
	while ((rc = member(c, &count, &seen, keys, &key)) == 1)
		if (uint_(c, &t->binary_size) || t->binary_size > 1LL << 40)
			return -1;
	return rc || !seen ? -1 : 0;
}

/* The one input: name, datatype, shape and parameters, no data. */
static int input(struct cur *c, int width, int height, int max_instances, struct oip_tensor *t)
{
	static const char *const keys[] = {"name", "datatype", "shape", "parameters", NULL};
	static const char *const names[] = {OIP_INPUT, NULL};
	static const char *const types[] = {"FP32", "UINT8", NULL};
	long long dims[4] = {0};
	int count = 0, key, rc, rank = 0, dt = -1;
	unsigned seen = 0;
	if (expect(c, '{'))
		return -1;
	while ((rc = member(c, &count, &seen, keys, &key)) == 1) {
		if ((key == 0 && str_pick(c, names) < 0) ||
		    (key == 1 && (dt = str_pick(c, types)) < 0) ||
		    (key == 2 && shape(c, dims, &rank)) ||
		    (key == 3 && input_parameters(c, t)))
			return -1;
	}
	if (rc || seen != 0xf)
		return -1;
	long long features = (long long)width * height;
	int ok = (rank == 2 && dims[1] == features) ||
		 (rank == 3 && dims[1] == height && dims[2] == width) ||
		 (rank == 4 && dims[1] == 1 && dims[2] == height && dims[3] == width);
	if (!ok || dims[0] < 1 || dims[0] > max_instances)
		return -1;
	t->dt = dt == 0 ? OIP_FP32 : OIP_UINT8;
	t->n = (int)dims[0];
	return 0;
}

static int inputs(struct cur *c, int width, int height, int max_instances, struct oip_tensor *t)
{
	int count = 0, rc;
	if (expect(c, '['))
		return -1;
	while ((rc = element(c, &count)) == 1)
		if (count > 1 || input(c, width, height, max_instances, t))
			return -1;
	return rc || count != 1 ? -1 : 0;
}

static int id(struct cur *c, struct oip_request *q)
{
	const char *p;
	size_t len;
	if (str(c, &p, &len) || len >= sizeof(q->id_buf))
		return -1;
	memcpy(q->id_buf, p, len);
	q->id_buf[len] = '\0';
	q->id = q->id_buf;
	return 0;
}

/* The outputs to answer, as requested_outputs in oip_parse.c sets them. */
static void resolve_outputs(struct oip_request *q, const struct seen_request *r)
{
	if (!r->has_outputs) {
		q->n_out = 2;
		q->out[0] = 0, q->out[1] = 1;
		q->out_binary[0] = q->out_binary[1] = q->binary_all;
		return;
	}
	q->n_out = r->n_out;
	for (int o = 0; o < r->n_out; o++) {
		q->out[o] = r->out[o];
		q->out_binary[o] = r->has_binary[o] ? r->binary[o] : q->binary_all;
	}
}

int oip_fast_header(const char *h, size_t hlen, int width, int height, int max_instances,
		    struct oip_request *q, struct oip_tensor *t)
{
	static const char *const keys[] = {"id", "inputs", "parameters", "outputs", NULL};
	struct cur c = {.s = h, .n = hlen};
	struct seen_request r = {0};
	struct oip_request fq = {0};
	struct oip_tensor ft = {0};
	int count = 0, key, rc;
	unsigned seen = 0;
	if (expect(&c, '{'))
		return 0;
	while ((rc = member(&c, &count, &seen, keys, &key)) == 1) {
		if ((key == 0 && id(&c, &fq)) ||
		    (key == 1 && inputs(&c, width, height, max_instances, &ft)) ||
		    (key == 2 && request_parameters(&c, &fq)) ||
		    (key == 3 && outputs(&c, &r)))
			return 0;
	}
	if (rc || !(seen & 2) || peek(&c) >= 0)
		return 0;
	resolve_outputs(&fq, &r);
	if (fq.id)
		fq.id = q->id_buf; /* where it will be once copied */
	*q = fq;
	*t = ft;
	return 1;
}
