/*
 * paths.h - the one rule for where the data and the page are.
 *
 * Every command that needs the data dir (the digits and the relative paths
 * of `dataset` lines) or the web dir (the dashboard) asks here, and the
 * first of these that applies wins:
 *
 *   1. a flag (--data-dir, --web-dir),
 *   2. the configuration file (data_dir, web_dir),
 *   3. the environment (TRAIND_DATA_DIR, TRAIND_WEB_DIR),
 *   4. a checkout: ./data or ./web of the folder that holds the binary,
 *      then of the working directory, when that folder is a traind
 *      checkout (it holds configure.ac and web/index.html),
 *   5. the installed location, $(pkgdatadir) and $(pkgdatadir)/web.
 *
 * A path given by 1-3 is taken as it is, whether it exists or not: loading
 * the data names it when it does not.
 */
#ifndef TRAIND_PATHS_H
#define TRAIND_PATHS_H

#include <stddef.h>

enum paths_kind { PATHS_DATA, PATHS_WEB };

/* Where each step of the rule looks; NULL or "" skips a step. */
struct paths_inputs {
	const char *flag;      /* 1 */
	const char *config;    /* 2 */
	const char *env;       /* 3: the variable's value */
	const char *exe_dir;   /* 4: the folder of the running binary */
	const char *cwd;       /* 4: the working directory */
	const char *installed; /* 5 */
};

/* Applies the rule to `in`: writes the path to out (len bytes) and returns
 * the step that chose it, as words for logs ("the flag or configuration",
 * "TRAIND_DATA_DIR", "the checkout next to the binary", ...), or NULL when
 * the path does not fit in `len`. */
const char *paths_resolve_in(enum paths_kind kind, const struct paths_inputs *in, char *out,
			     size_t len);

/* The same with this process's environment, binary, working directory and
 * installed location; `flag` and `config` may be NULL or "". */
const char *paths_resolve(enum paths_kind kind, const char *flag, const char *config, char *out,
			  size_t len);

/* The environment variable of a kind: "TRAIND_DATA_DIR" or "TRAIND_WEB_DIR". */
const char *paths_env_name(enum paths_kind kind);

/* Is `dir` a traind checkout (configure.ac and web/index.html)? */
int paths_is_checkout(const char *dir);

#endif
