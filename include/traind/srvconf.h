/*
 * srvconf.h - the daemon's configuration, driven by one option table.
 *
 * Every setting of `traind serve` - its key in etc/traind.conf, its
 * --flag on the command line (underscores written as dashes), its type,
 * bounds, default and help - is a row of the table in srvconf.c. Reading
 * the file, applying flags, validation, `traind serve --help` and the
 * effective configuration logged at start all read that table.
 *
 * Precedence: built-in defaults, then the file, then flags; srvconf_finish
 * checks what depends on several keys (a token for a remote listener, the
 * token file) once everything is set.
 */
#ifndef TRAIND_SRVCONF_H
#define TRAIND_SRVCONF_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>

#include "traind/dataset.h"
#include "traind/error.h"

#define SRVCONF_LISTEN_MAX 128
#define SRVCONF_TOKEN_MAX 256
#define SRVCONF_MAX_DATASETS 64

struct srvconf {
	char listen[SRVCONF_LISTEN_MAX]; /* host:port, [v6]:port; port 0 = any free port */
	char data_dir[PATH_MAX];
	char state_dir[PATH_MAX];
	char web_dir[PATH_MAX];
	char fashion_dir[PATH_MAX];
	int workers;
	int max_running_jobs;
	int max_queued_jobs;
	int max_jobs;
	size_t body_limit;
	int max_instances;
	int connection_timeout;
	int max_curve_points;
	double snapshot_seconds;
	double checkpoint_seconds;
	char token[SRVCONF_TOKEN_MAX]; /* "" = no authentication */
	char token_file[PATH_MAX];
	int allow_remote;
	int http_threads;
	int access_log;

	/* Connection limits and deadlines (connguard.h). */
	int max_connections;             /* in all; auto: from RLIMIT_NOFILE */
	int max_connections_per_address;
	int header_timeout;              /* seconds for the request line and headers */
	size_t min_body_rate;            /* bytes a second; 0 = none */

	/* `dataset = ...` lines, in order; registered after the defaults. */
	int n_datasets;
	struct dataset_spec *datasets; /* owned; srvconf_free */
};

/* Built-in defaults (workers = the machine's cores). */
int srvconf_defaults(struct srvconf *c);
void srvconf_free(struct srvconf *c);

/* Sets one key (dashes or underscores) from text; `dataset` appends one. */
int srvconf_set(struct srvconf *c, const char *key, const char *value, struct td_error *e);

/* Reads `key = value` lines; `#` starts a comment. An error names the
 * file, the line and the key in e->msg (and the key in e->field). */
int srvconf_load_file(struct srvconf *c, const char *path, struct td_error *e);

/* Cross-key checks after file and flags: reads token_file, refuses a
 * non-loopback listener without a token unless allow_remote is set. */
int srvconf_finish(struct srvconf *c, struct td_error *e);

/* Is `key` (dashes or underscores) a configuration key? */
int srvconf_has_key(const char *key);

/* Every key as `--flag`, its default, range and help. */
void srvconf_print_help(FILE *f);

/* The effective configuration, one `key = value` line each, token redacted. */
void srvconf_log(const struct srvconf *c, FILE *f);

/* Splits c->listen into host (without brackets) and port. */
int srvconf_listen_split(const char *listen, char *host, size_t host_len, int *port,
			 struct td_error *e);

#endif
