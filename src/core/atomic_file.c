/*
 * atomic_file.c - temp file, fsync, rename, fsync of the directory (see
 * atomic_file.h). One clean-up path: whichever step fails, the temporary is
 * unlinked and the error says which step it was.
 */
#include "traind/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int atomic_write(const char *path, const struct iovec *parts, int n_parts, struct td_error *e)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	const char *step = "create a temporary file for";
	int fd = -1, dfd = -1, saved;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp) ||
	    snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return td_errorf(e, TD_EINVAL, "", "path too long: %.100s", path);
	fd = mkstemp(tmp);
	if (fd < 0)
		goto fail;
	step = "set the mode of";
	if (fchmod(fd, 0644)) /* mkstemp makes it private; a model file is not */
		goto fail;
	step = "write";
	for (int i = 0; i < n_parts; i++)
		if (write_all(fd, parts[i].iov_base, parts[i].iov_len))
			goto fail;
	step = "fsync";
	if (fsync(fd))
		goto fail;
	step = "close";
	if (close(fd)) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	step = "rename the temporary over";
	if (rename(tmp, path))
		goto fail;
	tmp[0] = '\0'; /* nothing to unlink any more */
	step = "fsync the directory of";
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || fsync(dfd))
		goto fail;
	close(dfd);
	return 0;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	if (tmp[0])
		unlink(tmp);
	return td_errorf(e, TD_EIO, "", "could not %s %s: %s", step, path, strerror(saved));
}

int make_dirs(const char *path, struct td_error *e)
{
	char buf[PATH_MAX];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return td_errorf(e, TD_EINVAL, "", "path too long: %.100s", path);
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, 0750) && errno != EEXIST)
				return td_errorf(e, TD_EIO, "", "could not create directory %s: %s",
						 buf, strerror(errno));
			*p = c;
			if (!c)
				break;
		}
	}
	return 0;
}

int open_regular_file(const char *path, int *fd_out, struct td_error *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return td_errorf(e, errno == ENOENT ? TD_ENOTFOUND : TD_EIO, "", "cannot open %s: %s",
				 path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return td_errorf(e, TD_EIO, "", "%s is not a regular file", path);
	}
	*fd_out = fd;
	return 0;
}

int read_file(const char *path, size_t max, void **out, size_t *len, struct td_error *e)
{
	*out = NULL;
	*len = 0;
	int fd;
	int rc = open_regular_file(path, &fd, e);
	if (rc)
		return rc;
	struct stat st;
	if (fstat(fd, &st)) {
		close(fd);
		return td_errorf(e, TD_EIO, "", "cannot read %s: %s", path, strerror(errno));
	}
	if ((size_t)st.st_size > max) {
		close(fd);
		return td_errorf(e, TD_ETOOBIG, "", "%s has %lld bytes, over the limit of %zu", path,
				 (long long)st.st_size, max);
	}
	size_t n = (size_t)st.st_size;
	char *buf = malloc(n ? n : 1);
	if (!buf) {
		close(fd);
		return td_errorf(e, TD_ENOMEM, "", "out of memory reading %s", path);
	}
	size_t got = 0;
	while (got < n) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int err = r < 0 ? errno : EIO;
			free(buf);
			close(fd);
			return td_errorf(e, TD_EIO, "", "cannot read %s: %s", path, strerror(err));
		}
		got += (size_t)r;
	}
	close(fd);
	*out = buf;
	*len = n;
	return 0;
}
