/*
 * fuzz.h - helpers the libFuzzer harnesses share: a check that aborts
 * with a message (so libFuzzer saves the input as a crash), an in-memory
 * file (memfd) for the readers that take a path, and gzip in memory.
 *
 * Header-only on purpose: scripts/fuzz.sh builds each fuzz/fuzz_NAME.c on
 * its own, with the library sources its "fuzz-sources:" line names.
 */
#ifndef TRAIND_FUZZ_H
#define TRAIND_FUZZ_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

/* A property the code under test must keep: abort when it does not. */
#define FUZZ_CHECK(cond, ...)                                                          \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "fuzz check failed at %s:%d: %s: ", __FILE__,  \
				__LINE__, #cond);                                      \
			fprintf(stderr, __VA_ARGS__);                                  \
			fputc('\n', stderr);                                           \
			abort();                                                       \
		}                                                                      \
	} while (0)

static int fuzz_fd = -1;
static char fuzz_path[64];

static inline void fuzz_file_remove(void)
{
	unlink(fuzz_path);
}

/*
 * Replaces the in-memory file's contents with buf and returns a path that
 * open(2) accepts: /proc/self/fd/N of a memfd (a regular file, as the
 * readers require), or a temporary file where memfd is unavailable.
 */
static inline const char *fuzz_file(const void *buf, size_t len)
{
	if (fuzz_fd < 0) {
		fuzz_fd = memfd_create("fuzz-input", MFD_CLOEXEC);
		if (fuzz_fd >= 0) {
			snprintf(fuzz_path, sizeof(fuzz_path), "/proc/self/fd/%d", fuzz_fd);
			if (access(fuzz_path, R_OK) != 0) {
				close(fuzz_fd);
				fuzz_fd = -1;
			}
		}
		if (fuzz_fd < 0) {
			const char *tmp = getenv("TMPDIR");
			snprintf(fuzz_path, sizeof(fuzz_path), "%s/traind-fuzz-XXXXXX",
				 tmp && strlen(tmp) < 40 ? tmp : "/tmp");
			fuzz_fd = mkstemp(fuzz_path);
			FUZZ_CHECK(fuzz_fd >= 0, "cannot create a temporary file");
			atexit(fuzz_file_remove);
		}
	}
	FUZZ_CHECK(ftruncate(fuzz_fd, 0) == 0, "ftruncate failed");
	const uint8_t *p = buf;
	size_t off = 0;
	while (off < len) {
		ssize_t w = pwrite(fuzz_fd, p + off, len - off, (off_t)off);
		FUZZ_CHECK(w > 0, "pwrite failed");
		off += (size_t)w;
	}
	return fuzz_path;
}

/* A gzip stream (header, deflate, CRC trailer) of buf, malloc'ed; a small
 * window and hash keep deflate's set-up cheap, as it runs every execution. */
static inline uint8_t *fuzz_gzip(const void *buf, size_t len, size_t *out_len)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	FUZZ_CHECK(deflateInit2(&z, 1, Z_DEFLATED, 9 + 16, 1, Z_DEFAULT_STRATEGY) == Z_OK,
		   "deflateInit2 failed");
	size_t cap = deflateBound(&z, (uLong)len) + 32;
	uint8_t *out = malloc(cap);
	FUZZ_CHECK(out != NULL, "out of memory");
	z.next_in = (Bytef *)(uintptr_t)buf;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	FUZZ_CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END, "deflate did not finish");
	*out_len = cap - z.avail_out;
	deflateEnd(&z);
	return out;
}

/*
 * Is s valid UTF-8 (RFC 3629: no overlong forms, surrogates or code points
 * over U+10FFFF)? Error messages must be: the API sends them in JSON, and
 * jansson refuses to make a string of anything else.
 */
static inline int fuzz_utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned c = *p, n;
		uint32_t cp;
		if (c < 0x80) {
			p++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		for (unsigned i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return 0;
		p += n + 1;
	}
	return 1;
}

/* The error's message and field are text the API can send. */
#define FUZZ_CHECK_ERROR_TEXT(e, how)                                                    \
	do {                                                                             \
		FUZZ_CHECK(fuzz_utf8_valid((e)->msg), "%s: message not UTF-8: %s", (how), \
			   (e)->msg);                                                    \
		FUZZ_CHECK(fuzz_utf8_valid((e)->field), "%s: field not UTF-8: %s", (how), \
			   (e)->field);                                                  \
	} while (0)

static inline int fuzz_is_gzip(const uint8_t *data, size_t size)
{
	return size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

#endif
