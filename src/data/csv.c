/*
 * csv.c - users' own labelled images as CSV text (see csv.h).
 *
 * The parser walks the text once, line by line, with no copies of lines:
 * an optional header (the first line, when its first field does not start
 * like a number), then one sample a line as a label and exactly `features`
 * integers 0..255, separated by commas, with blanks around fields and a CR
 * before the newline allowed. Blank lines may only end the file. Any other
 * deviation stops the parse with a message naming the file, the line, the
 * column (1 is the label) and what was expected there. The loader reads
 * the whole file through zlib's gzread (plain or gzip) with a size limit
 * checked while reading, so a huge or endless file cannot exhaust memory.
 */
#include "traind/csv.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "traind/atomic_file.h"

#define CSV_MAX_CLASSES 256
#define CSV_SHOW_MAX 24 /* characters of a bad field quoted in a message */

struct csv_line {
	const char *name;
	size_t lineno;
	const char *end; /* one past the last character, CR excluded */
};

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Copies the field starting at p into a printable, bounded quote. */
static void show_field(const char *p, const char *end, char *dst, size_t cap)
{
	size_t n = 0;
	while (p < end && *p != ',' && n + 4 < cap) {
		unsigned char c = (unsigned char)*p++;
		dst[n++] = (c >= 0x20 && c < 0x7f && c != '"') ? (char)c : '?';
	}
	if (p < end && *p != ',' && n + 4 >= cap) {
		memcpy(dst + n, "...", 3);
		n += 3;
	}
	dst[n] = '\0';
}

/* Parses one integer field at *pp for column `col` (1 = label) and leaves
 * *pp after its comma, or at the end of the line. */
static int parse_field(const struct csv_line *ln, const char **pp, int col, unsigned max,
		       const char *what, unsigned *val, struct td_error *e)
{
	const char *p = *pp, *start;
	char shown[CSV_SHOW_MAX + 4];

	while (p < ln->end && is_blank(*p))
		p++;
	start = p;
	unsigned long v = 0;
	while (p < ln->end && is_digit(*p)) {
		if (v <= 100000)
			v = v * 10 + (unsigned long)(*p - '0');
		p++;
	}
	const char *digits_end = p;
	while (p < ln->end && is_blank(*p))
		p++;
	if (digits_end == start || (p < ln->end && *p != ',')) {
		if (start == ln->end || *start == ',')
			return td_errorf(e, TD_EFORMAT, "", "%s line %zu, column %d: the field is "
					 "empty; expected a %s, an integer 0..%u",
					 ln->name, ln->lineno, col, what, max);
		show_field(start, ln->end, shown, sizeof(shown));
		return td_errorf(e, TD_EFORMAT, "", "%s line %zu, column %d: expected a %s, an "
				 "integer 0..%u, found \"%s\"",
				 ln->name, ln->lineno, col, what, max, shown);
	}
	if (v > max)
		return td_errorf(e, TD_EFORMAT, "", "%s line %zu, column %d: %s %s%lu is out of "
				 "range; expected an integer 0..%u",
				 ln->name, ln->lineno, col, what, v > 100000 ? "over " : "",
				 v > 100000 ? 100000ul : v, max);
	if (p < ln->end)
		p++; /* the comma */
	*pp = p;
	*val = (unsigned)v;
	return 0;
}

/* Parses a sample line into label and pixels. */
static int parse_sample(const struct csv_line *ln, const char *p, int features, int n_classes,
			uint8_t *label, uint8_t *pixels, struct td_error *e)
{
	unsigned v;
	int rc;

	if ((rc = parse_field(ln, &p, 1, (unsigned)n_classes - 1, "label", &v, e)) < 0)
		return rc;
	*label = (uint8_t)v;
	for (int i = 0; i < features; i++) {
		int col = i + 2;
		if (p == ln->end && p[-1] != ',')
			return td_errorf(e, TD_EFORMAT, "", "%s line %zu, column %d: the line ends "
					 "but a pixel value was expected; each line needs %d "
					 "columns, the label and %d pixel values",
					 ln->name, ln->lineno, col, features + 1, features);
		if ((rc = parse_field(ln, &p, col, 255, "pixel value", &v, e)) < 0)
			return rc;
		pixels[i] = (uint8_t)v;
	}
	if (p < ln->end || p[-1] == ',')
		return td_errorf(e, TD_EFORMAT, "", "%s line %zu, column %d: expected the line "
				 "to end after %d columns (the label and %d pixel values), "
				 "found more", ln->name, ln->lineno, features + 2, features + 1,
				 features);
	return 0;
}

static int line_is_blank(const char *p, const char *end)
{
	for (; p < end; p++)
		if (!is_blank(*p) && *p != '\r' && *p != '\n')
			return 0;
	return 1;
}

/* A header's first field does not start like a number. */
static int looks_like_header(const char *p, const char *end)
{
	while (p < end && is_blank(*p))
		p++;
	if (p == end || *p == ',')
		return 0;
	return !(is_digit(*p) || *p == '-' || *p == '+' || *p == '.');
}

static int grow(struct csv_data *d, size_t *cap, int features, const char *name,
		struct td_error *e)
{
	size_t ncap = *cap ? *cap * 2 : 64;
	if (ncap > SIZE_MAX / (size_t)features)
		return td_errorf(e, TD_ETOOBIG, "", "%s has too many samples to hold in memory",
				 name);
	uint8_t *x = realloc(d->images, ncap * (size_t)features);
	if (!x)
		return td_errorf(e, TD_ENOMEM, "", "out of memory reading %s", name);
	d->images = x;
	uint8_t *y = realloc(d->labels, ncap);
	if (!y)
		return td_errorf(e, TD_ENOMEM, "", "out of memory reading %s", name);
	d->labels = y;
	*cap = ncap;
	return 0;
}

int csv_parse(const char *buf, size_t len, const char *name, int features, int n_classes,
	      struct csv_data *out, struct td_error *e)
{
	struct csv_data d;
	size_t cap = 0, pos = 0;
	struct csv_line ln;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&d, 0, sizeof(d));
	if (!name)
		name = "CSV data";
	if (features < 1)
		return td_errorf(e, TD_EINVAL, "", "cannot read %s with %d pixel columns; "
				 "at least 1 is needed", name, features);
	if (n_classes < 1 || n_classes > CSV_MAX_CLASSES)
		return td_errorf(e, TD_EINVAL, "", "cannot read %s for %d classes; 1 to %d "
				 "are allowed", name, n_classes, CSV_MAX_CLASSES);
	if (!buf)
		len = 0;
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		pos = 3; /* a UTF-8 byte order mark */
	d.features = features;
	ln.name = name;
	ln.lineno = 0;
	while (pos < len) {
		const char *start = buf + pos;
		const char *nl = memchr(start, '\n', len - pos);
		const char *end = nl ? nl : buf + len;
		size_t next = (size_t)(end - buf) + (nl ? 1 : 0);
		ln.lineno++;
		ln.end = end;
		if (ln.end > start && ln.end[-1] == '\r')
			ln.end--;
		if (line_is_blank(start, ln.end)) {
			if (line_is_blank(start, buf + len))
				break;
			rc = td_errorf(e, TD_EFORMAT, "", "%s line %zu is empty; expected a sample "
				       "(the label and %d pixel values), blank lines are allowed "
				       "only at the end", name, ln.lineno, features);
			goto fail;
		}
		if (ln.lineno == 1 && looks_like_header(start, ln.end)) {
			pos = next;
			continue;
		}
		if (d.n == cap && (rc = grow(&d, &cap, features, name, e)) < 0)
			goto fail;
		rc = parse_sample(&ln, start, features, n_classes, &d.labels[d.n],
				  d.images + d.n * (size_t)features, e);
		if (rc < 0)
			goto fail;
		d.n++;
		pos = next;
	}
	if (d.n == 0) {
		rc = td_errorf(e, TD_EFORMAT, "", "%s holds no samples; expected lines of the "
			       "label and %d pixel values", name, features);
		goto fail;
	}
	*out = d;
	return 0;
fail:
	csv_free(&d);
	return rc;
}

/* Reads a whole plain or gzip file, refusing more than max_bytes of text. */
static int read_text(const char *path, size_t max_bytes, char **buf_out, size_t *len_out,
		     struct td_error *e)
{
	int fd;
	int open_rc = open_regular_file(path, &fd, e);
	if (open_rc)
		return open_rc;
	gzFile gz = gzdopen(fd, "rb");
	if (!gz) {
		close(fd);
		return td_errorf(e, TD_ENOMEM, "", "out of memory opening %s", path);
	}
	gzbuffer(gz, 1 << 17);

	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	int rc = 0;
	if (!buf) {
		rc = td_errorf(e, TD_ENOMEM, "", "out of memory reading %s", path);
		goto out;
	}
	for (;;) {
		if (n == cap) {
			if (n > max_bytes) {
				rc = td_errorf(e, TD_ETOOBIG, "", "%s is larger than the limit of "
					       "%zu bytes for one file", path, max_bytes);
				goto out;
			}
			size_t ncap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
			if (max_bytes < SIZE_MAX && ncap > max_bytes + 1)
				ncap = max_bytes + 1;
			char *nb = realloc(buf, ncap);
			if (!nb) {
				rc = td_errorf(e, TD_ENOMEM, "", "out of memory reading %s", path);
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		size_t want = cap - n;
		if (want > (1u << 24))
			want = 1u << 24;
		int r = gzread(gz, buf + n, (unsigned)want);
		if (r < 0) {
			int err = errno, zerr;
			const char *msg = gzerror(gz, &zerr);
			if (zerr == Z_ERRNO)
				rc = td_errorf(e, TD_EIO, "", "cannot read %s: %s", path,
					       strerror(err));
			else
				rc = td_errorf(e, TD_EFORMAT, "", "%s is a corrupt gzip file: %s",
					       path, msg ? msg : "unknown zlib error");
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > max_bytes) {
			rc = td_errorf(e, TD_ETOOBIG, "", "%s is larger than the limit of %zu "
				       "bytes for one file", path, max_bytes);
			goto out;
		}
	}
	int zerr;
	gzerror(gz, &zerr);
	if (zerr == Z_BUF_ERROR) {
		rc = td_errorf(e, TD_EFORMAT, "", "%s is truncated: its gzip stream ends "
			       "unexpectedly after %zu bytes", path, n);
		goto out;
	}
out:
	gzclose(gz);
	if (rc < 0) {
		free(buf);
		return rc;
	}
	*buf_out = buf;
	*len_out = n;
	return 0;
}

int csv_load(const char *path, size_t max_bytes, int features, int n_classes,
	     struct csv_data *out, struct td_error *e)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!path)
		return td_errorf(e, TD_EINVAL, "", "no CSV file name was given");
	if ((rc = read_text(path, max_bytes, &buf, &len, e)) < 0)
		return rc;
	rc = csv_parse(buf, len, path, features, n_classes, out, e);
	free(buf);
	return rc;
}

void csv_free(struct csv_data *d)
{
	if (d) {
		free(d->images);
		free(d->labels);
		memset(d, 0, sizeof(*d));
	}
}
