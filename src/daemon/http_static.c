/*
 * http_static.c - the HTTP layer's static file handler (see http.h):
 * the dashboard's files under web_dir, by extension's content type.
 */
#include "traind/http.h"

#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct {
	const char *ext;
	const char *type;
} content_types[] = {
	{".html", "text/html; charset=utf-8"},
	{".htm", "text/html; charset=utf-8"},
	{".js", "text/javascript; charset=utf-8"},
	{".mjs", "text/javascript; charset=utf-8"},
	{".css", "text/css; charset=utf-8"},
	{".json", "application/json; charset=utf-8"},
	{".map", "application/json; charset=utf-8"},
	{".svg", "image/svg+xml"},
	{".png", "image/png"},
	{".jpg", "image/jpeg"},
	{".jpeg", "image/jpeg"},
	{".gif", "image/gif"},
	{".ico", "image/x-icon"},
	{".pgm", "image/x-portable-graymap"},
	{".txt", "text/plain; charset=utf-8"},
	{".woff2", "font/woff2"},
	{".woff", "font/woff"},
	{".wasm", "application/wasm"},
};

static const char *content_type_for(const char *path)
{
	const char *dot = strrchr(path, '.');
	const char *slash = strrchr(path, '/');
	if (dot && (!slash || dot > slash))
		for (size_t i = 0; i < sizeof(content_types) / sizeof(content_types[0]); i++)
			if (strcasecmp(dot, content_types[i].ext) == 0)
				return content_types[i].type;
	return "application/octet-stream";
}

/* A relative path we are willing to look up: no NUL (encoded or not), no
 * control characters or backslashes, no empty, "." or ".." segments and
 * no hidden files. */
static int static_path_ok(const char *rel)
{
	if (!*rel || strstr(rel, "%00"))
		return 0;
	for (const char *c = rel; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '\\')
			return 0;
	for (const char *seg = rel; *seg;) {
		size_t n = strcspn(seg, "/");
		if (n == 0 || seg[0] == '.')
			return 0;
		seg += n + (seg[n] == '/');
	}
	return rel[strlen(rel) - 1] != '/';
}

void http_serve_static(struct http_request *r)
{
	const char *root = http_web_root(r->server);
	const char *rel = strcmp(r->path, "/") == 0 ? "index.html" : r->rest;
	if (!root[0]) {
		http_reply_errorf(r, TD_ENOTFOUND, "", "the dashboard is not installed here: "
				  "web_dir %.200s does not exist", http_web_dir(r->server));
		return;
	}
	if (!static_path_ok(rel)) {
		http_reply_errorf(r, TD_EINVAL, "path", "the path %.200s is not one a static file "
				  "can have", r->path);
		return;
	}
	char full[PATH_MAX], real[PATH_MAX];
	size_t root_len = strlen(root);
	int fd = -1;
	struct stat st;
	if ((size_t)snprintf(full, sizeof(full), "%s/%s", root, rel) >= sizeof(full) ||
	    !realpath(full, real) || strncmp(real, root, root_len) != 0 ||
	    real[root_len] != '/' ||
	    (fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0 || fstat(fd, &st) ||
	    !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		http_reply_errorf(r, TD_ENOTFOUND, "", "no file %.200s", r->path);
		return;
	}
	http_reply_fd(r, 200, content_type_for(real), fd, (size_t)st.st_size);
}
