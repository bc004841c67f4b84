/*
 * paths.c - the one rule for where the data and the page are (paths.h).
 *
 * paths_resolve_in is the rule itself, a pure function of its inputs but
 * for the two existence checks that recognise a checkout, so tests can pin
 * the order with folders of their own. paths_resolve fills the inputs from
 * the process: getenv, /proc/self/exe, getcwd and the configured
 * $(pkgdatadir) (TRAIND_DATADIR, set by the build).
 */
#include "traind/paths.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef TRAIND_DATADIR
#define TRAIND_DATADIR "/usr/local/share/traind"
#endif

const char *paths_env_name(enum paths_kind kind)
{
	return kind == PATHS_WEB ? "TRAIND_WEB_DIR" : "TRAIND_DATA_DIR";
}

static int file_exists(const char *dir, const char *name)
{
	char p[PATH_MAX];
	if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, name) >= sizeof(p))
		return 0;
	return access(p, F_OK) == 0;
}

int paths_is_checkout(const char *dir)
{
	return dir && *dir && file_exists(dir, "configure.ac") && file_exists(dir, "web/index.html");
}

static const char *take(const char *path, const char *why, char *out, size_t len)
{
	if ((size_t)snprintf(out, len, "%s", path) >= len)
		return NULL;
	return why;
}

static const char *take_checkout(const char *dir, enum paths_kind kind, const char *why,
				 char *out, size_t len)
{
	const char *sub = kind == PATHS_WEB ? "web" : "data";
	if ((size_t)snprintf(out, len, "%s/%s", dir, sub) >= len)
		return NULL;
	return why;
}

const char *paths_resolve_in(enum paths_kind kind, const struct paths_inputs *in, char *out,
			     size_t len)
{
	if (in->flag && *in->flag)
		return take(in->flag, "the flag", out, len);
	if (in->config && *in->config)
		return take(in->config, "the configuration", out, len);
	if (in->env && *in->env)
		return take(in->env, paths_env_name(kind), out, len);
	if (paths_is_checkout(in->exe_dir))
		return take_checkout(in->exe_dir, kind, "the checkout that holds the binary", out,
				     len);
	if (paths_is_checkout(in->cwd))
		return take_checkout(in->cwd, kind, "the checkout in the working directory", out,
				     len);
	return take(in->installed, "the installed location", out, len);
}

/* The folder of the running binary, or "" when the system does not say. */
static void exe_dir(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	if (n <= 0) {
		buf[0] = '\0';
		return;
	}
	buf[n] = '\0';
	char *slash = strrchr(buf, '/');
	if (!slash)
		buf[0] = '\0';
	else if (slash == buf)
		buf[1] = '\0';
	else
		*slash = '\0';
}

const char *paths_resolve(enum paths_kind kind, const char *flag, const char *config, char *out,
			  size_t len)
{
	char exe[PATH_MAX], cwd[PATH_MAX];
	exe_dir(exe, sizeof(exe));
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = '\0';
	struct paths_inputs in = {
		.flag = flag,
		.config = config,
		.env = getenv(paths_env_name(kind)),
		.exe_dir = exe,
		.cwd = cwd,
		.installed = kind == PATHS_WEB ? TRAIND_DATADIR "/web" : TRAIND_DATADIR,
	};
	return paths_resolve_in(kind, &in, out, len);
}
