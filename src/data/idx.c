/*
 * idx.c - reading and writing IDX files (see idx.h).
 *
 * One header check serves both the in-memory parser and the file reader:
 * zero magic bytes, type 0x08, 1..4 non-zero dimensions whose product fits
 * in size_t. The file reader goes through zlib's gzread, which reads gzip
 * and plain files alike, and streams: it reads the header, checks the size
 * it declares against the caller's limit, reads exactly that many data
 * bytes and then makes sure nothing follows, so a truncated, padded or
 * corrupt file is an error naming the file and the sizes involved. The
 * writer writes a temporary file in the target's directory and renames it
 * over the target, so readers see the old file or the new one, never half.
 */
#include "traind/idx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "traind/atomic_file.h"
#include "traind/byteorder.h"

/* gzread and gzwrite take an unsigned length; stay well inside it. */
#define IDX_IO_CHUNK ((size_t)1 << 24)


static const char *idx_type_name(int type)
{
	switch (type) {
	case 0x08:
		return "unsigned byte";
	case 0x09:
		return "signed byte";
	case 0x0B:
		return "16-bit integer";
	case 0x0C:
		return "32-bit integer";
	case 0x0D:
		return "32-bit float";
	case 0x0E:
		return "64-bit float";
	default:
		return "unknown";
	}
}

/* Checks the first four header bytes; sets *ndim. */
static int check_magic(const uint8_t *b, const char *name, int *ndim, struct td_error *e)
{
	if (b[0] != 0 || b[1] != 0)
		return td_errorf(e, TD_EFORMAT, "", "%s is not an IDX file: it starts with "
				 "0x%02x 0x%02x where an IDX file has two zero bytes",
				 name, b[0], b[1]);
	if (b[2] != IDX_TYPE_UBYTE)
		return td_errorf(e, TD_EFORMAT, "", "%s holds IDX type 0x%02x (%s); traind reads "
				 "only type 0x08 (unsigned byte)",
				 name, b[2], idx_type_name(b[2]));
	if (b[3] < 1 || b[3] > IDX_MAX_DIMS)
		return td_errorf(e, TD_EFORMAT, "", "%s declares %d dimensions; an IDX file "
				 "traind reads has 1 to %d",
				 name, b[3], IDX_MAX_DIMS);
	*ndim = b[3];
	return 0;
}

/* Reads the dimensions after the magic; fills out->ndim, dims and count. */
static int check_dims(const uint8_t *b, int ndim, const char *name, struct idx_array *out,
		      struct td_error *e)
{
	size_t count = 1;
	for (int i = 0; i < ndim; i++) {
		uint32_t d = td_get_be32(b + 4 * i);
		if (d == 0)
			return td_errorf(e, TD_EFORMAT, "", "%s has a zero size in dimension %d "
					 "of its IDX header, so it holds no data",
					 name, i + 1);
		if (count > SIZE_MAX / d)
			return td_errorf(e, TD_EFORMAT, "", "%s declares dimensions whose "
					 "product does not fit in memory", name);
		count *= d;
		out->dims[i] = d;
	}
	out->ndim = ndim;
	out->count = count;
	return 0;
}

static int size_mismatch(const char *name, size_t hdr, size_t count, size_t actual,
			 int actual_is_lower_bound, struct td_error *e)
{
	if (actual < hdr + count)
		return td_errorf(e, TD_EFORMAT, "", "%s is truncated: its IDX header declares "
				 "%zu data bytes (%zu in all) but the file has %zu",
				 name, count, hdr + count, actual);
	return td_errorf(e, TD_EFORMAT, "", "%s has trailing bytes: its IDX header declares "
			 "%zu data bytes (%zu in all) but the file has %s%zu",
			 name, count, hdr + count, actual_is_lower_bound ? "more than " : "",
			 actual);
}

int idx_parse(const void *buf, size_t len, const char *name, struct idx_array *out,
	      struct td_error *e)
{
	const uint8_t *b = buf;
	int ndim, rc;

	memset(out, 0, sizeof(*out));
	if (!name)
		name = "IDX data";
	if (!b || len < 4)
		return td_errorf(e, TD_EFORMAT, "", "%s is not an IDX file: it has %zu bytes, "
				 "fewer than the 4-byte IDX header start", name, b ? len : 0);
	if ((rc = check_magic(b, name, &ndim, e)) < 0)
		return rc;
	size_t hdr = 4 + 4 * (size_t)ndim;
	if (len < hdr)
		return td_errorf(e, TD_EFORMAT, "", "%s is truncated: it ends inside its IDX "
				 "header (%zu of %zu bytes)", name, len, hdr);
	struct idx_array a;
	memset(&a, 0, sizeof(a));
	if ((rc = check_dims(b + 4, ndim, name, &a, e)) < 0)
		return rc;
	if (a.count > SIZE_MAX - hdr || len - hdr != a.count)
		return size_mismatch(name, hdr, a.count, len, 0, e);
	a.data = malloc(a.count);
	if (!a.data)
		return td_errorf(e, TD_ENOMEM, "", "out of memory reading %zu bytes of %s",
				 a.count, name);
	memcpy(a.data, b + hdr, a.count);
	*out = a;
	return 0;
}

/* Reads up to len bytes into dst, *got of them (fewer only at the end of
 * the stream); returns 0 or a negative TD_E* code. */
static int gz_read_full(gzFile gz, const char *path, uint8_t *dst, size_t len, size_t *got,
			struct td_error *e)
{
	*got = 0;
	while (*got < len) {
		size_t want = len - *got;
		if (want > IDX_IO_CHUNK)
			want = IDX_IO_CHUNK;
		int r = gzread(gz, dst + *got, (unsigned)want);
		if (r < 0) {
			int err = errno, zerr;
			const char *msg = gzerror(gz, &zerr);
			if (zerr == Z_ERRNO)
				return td_errorf(e, TD_EIO, "", "cannot read %s: %s", path,
						 strerror(err));
			return td_errorf(e, TD_EFORMAT, "", "%s is a corrupt gzip file: %s", path,
					 msg ? msg : "unknown zlib error");
		}
		if (r == 0)
			break;
		*got += (size_t)r;
	}
	return 0;
}

/* A gzip stream that ends early makes gzread stop with Z_BUF_ERROR. */
static int gz_cut_short(gzFile gz)
{
	int zerr;
	gzerror(gz, &zerr);
	return zerr == Z_BUF_ERROR;
}

/* After the data: nothing may follow (counted up to the limit), and the
 * gzip stream must end with its trailer. */
static int check_trailer(gzFile gz, const char *path, size_t hdr, size_t count,
			 size_t max_bytes, struct td_error *e)
{
	uint8_t scratch[4096];
	size_t extra = 0, got;
	int over = 0, rc;
	for (;;) {
		if ((rc = gz_read_full(gz, path, scratch, sizeof(scratch), &got, e)) < 0)
			return rc;
		extra += got;
		if (extra > max_bytes - hdr - count) {
			over = 1;
			break;
		}
		if (got < sizeof(scratch))
			break;
	}
	if (extra > 0)
		return size_mismatch(path, hdr, count, hdr + count + extra, over, e);
	if (gz_cut_short(gz))
		return td_errorf(e, TD_EFORMAT, "", "%s is truncated: its gzip stream ends "
				 "before the gzip trailer", path);
	return 0;
}

int idx_load(const char *path, size_t max_bytes, struct idx_array *out, struct td_error *e)
{
	struct idx_array a;
	uint8_t hdrbuf[4 + 4 * IDX_MAX_DIMS];
	size_t got, hdr;
	int ndim, fd = -1, rc;

	memset(out, 0, sizeof(*out));
	memset(&a, 0, sizeof(a));
	if (!path)
		return td_errorf(e, TD_EINVAL, "", "no IDX file name was given");
	if ((rc = open_regular_file(path, &fd, e)) < 0)
		return rc;
	gzFile gz = gzdopen(fd, "rb");
	if (!gz) {
		close(fd);
		return td_errorf(e, TD_ENOMEM, "", "out of memory opening %s", path);
	}
	gzbuffer(gz, 1 << 17);

	if ((rc = gz_read_full(gz, path, hdrbuf, 4, &got, e)) < 0)
		goto fail;
	if (got < 4) {
		rc = td_errorf(e, TD_EFORMAT, "", "%s is not an IDX file: it has %zu bytes, "
			       "fewer than the 4-byte IDX header start", path, got);
		goto fail;
	}
	if ((rc = check_magic(hdrbuf, path, &ndim, e)) < 0)
		goto fail;
	hdr = 4 + 4 * (size_t)ndim;
	if ((rc = gz_read_full(gz, path, hdrbuf + 4, hdr - 4, &got, e)) < 0)
		goto fail;
	if (got < hdr - 4) {
		rc = td_errorf(e, TD_EFORMAT, "", "%s is truncated: it ends inside its IDX "
			       "header (%zu of %zu bytes)", path, 4 + got, hdr);
		goto fail;
	}
	if ((rc = check_dims(hdrbuf + 4, ndim, path, &a, e)) < 0)
		goto fail;
	if (a.count > SIZE_MAX - hdr || hdr + a.count > max_bytes) {
		rc = td_errorf(e, TD_ETOOBIG, "", "%s declares %zu data bytes, over the limit "
			       "of %zu bytes for one file", path, a.count, max_bytes);
		goto fail;
	}
	a.data = malloc(a.count);
	if (!a.data) {
		rc = td_errorf(e, TD_ENOMEM, "", "out of memory reading %zu bytes of %s",
			       a.count, path);
		goto fail;
	}
	if ((rc = gz_read_full(gz, path, a.data, a.count, &got, e)) < 0)
		goto fail;
	if (got < a.count) {
		if (gz_cut_short(gz))
			rc = td_errorf(e, TD_EFORMAT, "", "%s is truncated: its gzip stream ends "
				       "after %zu of the %zu bytes its IDX header declares",
				       path, hdr + got, hdr + a.count);
		else
			rc = size_mismatch(path, hdr, a.count, hdr + got, 0, e);
		goto fail;
	}

	if ((rc = check_trailer(gz, path, hdr, a.count, max_bytes, e)) < 0)
		goto fail;
	if (gzclose(gz) != Z_OK) {
		gz = NULL;
		rc = td_errorf(e, TD_EIO, "", "cannot read %s to its end", path);
		goto fail;
	}
	*out = a;
	return 0;
fail:
	if (gz)
		gzclose(gz);
	free(a.data);
	return rc;
}

static int write_plain(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, p, len > IDX_IO_CHUNK ? IDX_IO_CHUNK : len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int write_gz(gzFile gz, const uint8_t *p, size_t len)
{
	while (len > 0) {
		size_t n = len > IDX_IO_CHUNK ? IDX_IO_CHUNK : len;
		if (gzwrite(gz, p, (unsigned)n) != (int)n)
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

int idx_write(const char *path, int ndim, const uint32_t *dims, const uint8_t *data,
	      struct td_error *e)
{
	uint8_t hdr[4 + 4 * IDX_MAX_DIMS];
	size_t count = 1;

	if (!path || !*path)
		return td_errorf(e, TD_EINVAL, "", "no IDX file name was given");
	if (ndim < 1 || ndim > IDX_MAX_DIMS || !dims)
		return td_errorf(e, TD_EINVAL, "", "cannot write %s with %d dimensions; IDX "
				 "files traind writes have 1 to %d", path, ndim, IDX_MAX_DIMS);
	hdr[0] = 0;
	hdr[1] = 0;
	hdr[2] = IDX_TYPE_UBYTE;
	hdr[3] = (uint8_t)ndim;
	for (int i = 0; i < ndim; i++) {
		if (dims[i] == 0)
			return td_errorf(e, TD_EINVAL, "", "cannot write %s: dimension %d is zero",
					 path, i + 1);
		if (count > SIZE_MAX / dims[i])
			return td_errorf(e, TD_EINVAL, "", "cannot write %s: the product of its "
					 "dimensions does not fit in memory", path);
		count *= dims[i];
		td_put_be32(hdr + 4 + 4 * i, dims[i]);
	}
	if (!data)
		return td_errorf(e, TD_EINVAL, "", "cannot write %s: no data was given", path);

	size_t plen = strlen(path);
	const char *sfx = ".tmp-XXXXXX";
	char *tmp = malloc(plen + strlen(sfx) + 1);
	if (!tmp)
		return td_errorf(e, TD_ENOMEM, "", "out of memory writing %s", path);
	memcpy(tmp, path, plen);
	strcpy(tmp + plen, sfx);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		int err = errno;
		free(tmp);
		return td_errorf(e, TD_EIO, "", "cannot create a temporary file next to %s: %s",
				 path, strerror(err));
	}
	int ok = fchmod(fd, 0644) == 0;
	size_t hlen = 4 + 4 * (size_t)ndim;
	if (ok && ends_with(path, ".gz")) {
		int gfd = dup(fd);
		gzFile gz = gfd >= 0 ? gzdopen(gfd, "wb6") : NULL;
		if (!gz) {
			if (gfd >= 0)
				close(gfd);
			ok = 0;
		} else {
			ok = write_gz(gz, hdr, hlen) == 0 && write_gz(gz, data, count) == 0;
			if (gzclose(gz) != Z_OK)
				ok = 0;
		}
	} else if (ok) {
		ok = write_plain(fd, hdr, hlen) == 0 && write_plain(fd, data, count) == 0;
	}
	int err = errno;
	if (ok && fsync(fd) != 0) {
		ok = 0;
		err = errno;
	}
	if (close(fd) != 0 && ok) {
		ok = 0;
		err = errno;
	}
	if (ok && rename(tmp, path) != 0) {
		ok = 0;
		err = errno;
	}
	if (!ok) {
		unlink(tmp);
		free(tmp);
		return td_errorf(e, TD_EIO, "", "cannot write %s: %s", path,
				 err ? strerror(err) : "write failed");
	}
	free(tmp);
	return 0;
}

void idx_free(struct idx_array *a)
{
	if (a) {
		free(a->data);
		memset(a, 0, sizeof(*a));
	}
}
