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
 * token file) once everything is set, and finds data_dir and web_dir by
 * the rule of paths.h when neither the file nor a flag set them.
 */
#ifndef TRAIND_SRVCONF_H
#define TRAIND_SRVCONF_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>

#include "traind/dataset.h"
#include "traind/error.h"

#ifndef TRAIND_SYSCONFDIR
#define TRAIND_SYSCONFDIR "/etc"
#endif
/* The configuration file read when none is named. */
#define SRVCONF_DEFAULT_FILE TRAIND_SYSCONFDIR "/traind.conf"

#define SRVCONF_LISTEN_MAX 128
#define SRVCONF_TOKEN_MAX 256
#define SRVCONF_MAX_DATASETS 64

struct srvconf {
	char listen[SRVCONF_LISTEN_MAX]; /* host:port, [v6]:port; port 0 = any free port */
	char data_dir[PATH_MAX];
	char state_dir[PATH_MAX];
	char web_dir[PATH_MAX];
	char fashion_dir[PATH_MAX];
	/* which step of paths.h's rule chose data_dir and web_dir, for logs;
	 * NULL until srvconf_finish */
	const char *data_dir_from, *web_dir_from;
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
	int train_nice; /* nice steps the runners' training threads run below the rest */
	int access_log;
	char mpirun[PATH_MAX];       /* jobs across ranks: the launcher */
	char mpi_hostfile[PATH_MAX]; /* "" = the ranks run on this host */
	char mpi_args[1024];         /* more mpirun arguments, split at blanks */

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

/* Loads `path`, or when it is NULL the default file if it exists; *read is
 * the file read, or NULL when there was none. */
int srvconf_load_default(struct srvconf *c, const char *path, const char **read,
			 struct td_error *e);

/* Cross-key checks after file and flags: reads token_file, refuses a
 * non-loopback listener without a token unless allow_remote is set; then
 * srvconf_resolve_paths. */
int srvconf_finish(struct srvconf *c, struct td_error *e);

/* Finds data_dir and web_dir by the rule of paths.h (a value already set
 * is the configuration's step) and makes the dataset lines' relative paths
 * start at data_dir. For commands that read the configuration's data but
 * serve nothing (traind train). */
int srvconf_resolve_paths(struct srvconf *c, struct td_error *e);

/* Registers the built-in data sets (digits under data_dir, fashion) and
 * the dataset lines, in that order. */
int srvconf_register_datasets(const struct srvconf *c, struct dataset_registry *r,
			      struct td_error *e);

/* The parts of a `dataset` line, each validated as the line is: the name
 * and format ("idx" or "csv"; clears s), the i-th file in the line's order
 * (IDX: train images, train labels, test images, test labels; CSV: train,
 * test), and an option (classes; width and height for CSV). `traind train
 * --train/--test` builds its data set with the same calls. */
int srvconf_dataset_start(struct dataset_spec *s, const char *name, const char *format,
			  struct td_error *e);
int srvconf_dataset_file_count(const struct dataset_spec *s);
int srvconf_dataset_file(struct dataset_spec *s, int i, const char *path, struct td_error *e);
int srvconf_dataset_option(struct dataset_spec *s, const char *key, const char *value,
			   struct td_error *e);
/* s->source: "IDX files from ORIGIN (train images path)". */
void srvconf_dataset_source(struct dataset_spec *s, const char *origin);

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
