/*
 * serve.c - `traind serve` and the server it runs (see serve.h).
 *
 * Signals: before any thread exists, serve_main blocks SIGINT and SIGTERM
 * in its mask, which every thread it starts inherits, so no thread is ever
 * interrupted by them; the main thread then waits for one in sigwait() and
 * does the whole shutdown itself, in ordinary code. No work happens in a
 * signal handler because there is none. SIGPIPE is ignored: a client that
 * hangs up mid-response is an error return from send(), not a death.
 */
#include "traind/serve.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "traind/api.h"
#include "traind/dataset.h"
#include "traind/http.h"
#include "traind/jobs.h"

#ifndef TRAIND_DOCDIR
#define TRAIND_DOCDIR "/usr/local/share/doc/traind"
#endif

struct server {
	struct srvconf conf; /* our copy; the API reads it */
	struct dataset_registry *registry;
	struct jobs *jobs;
	struct api *api;
	struct http_server *http;
};

static void server_free(struct server *s)
{
	api_free(s->api);
	jobs_free(s->jobs);
	registry_free(s->registry);
	srvconf_free(&s->conf);
	free(s);
}

int server_start(const struct srvconf *c, struct server **out, struct td_error *e)
{
	*out = NULL;
	struct server *s = calloc(1, sizeof(*s));
	if (!s)
		return td_errorf(e, TD_ENOMEM, "", "out of memory");
	s->conf = *c;
	s->conf.datasets = NULL;
	s->conf.n_datasets = 0;
	if (c->n_datasets) {
		s->conf.datasets = malloc(sizeof(*c->datasets) * (size_t)c->n_datasets);
		if (!s->conf.datasets) {
			free(s);
			return td_errorf(e, TD_ENOMEM, "", "out of memory");
		}
		memcpy(s->conf.datasets, c->datasets, sizeof(*c->datasets) * (size_t)c->n_datasets);
		s->conf.n_datasets = c->n_datasets;
	}
	const struct srvconf *conf = &s->conf;
	int rc;
	s->registry = registry_create();
	if (!s->registry) {
		rc = td_errorf(e, TD_ENOMEM, "", "out of memory");
		goto fail;
	}
	if ((rc = srvconf_register_datasets(conf, s->registry, e)))
		goto fail;

	struct jobs_config jc = {
		.registry = s->registry,
		.max_running = conf->max_running_jobs,
		.max_queued = conf->max_queued_jobs,
		.max_jobs = conf->max_jobs,
		.pool_workers = conf->workers,
		.train_nice = conf->train_nice,
		.max_curve_points = (size_t)conf->max_curve_points,
		.snapshot_seconds = conf->snapshot_seconds,
		.state_dir = conf->state_dir,
		.checkpoint_seconds = conf->checkpoint_seconds,
		.mpirun = conf->mpirun,
		.mpi_hostfile = conf->mpi_hostfile,
		.mpi_args = conf->mpi_args,
		.data_dir = conf->data_dir,
		.fashion_dir = conf->fashion_dir,
	};
	if (conf->mpi_hostfile[0] && access(conf->mpi_hostfile, R_OK) != 0) {
		rc = td_errorf(e, TD_EINVAL, "mpi_hostfile", "mpi_hostfile %s cannot be read: %s",
			       conf->mpi_hostfile, strerror(errno));
		goto fail;
	}
	jobcfg_limits_default(&jc.limits, conf->workers);
	jc.limits.max_workers = conf->workers;
	jc.limits.default_workers = conf->workers;
	if ((rc = jobs_create(&jc, &s->jobs, e)))
		goto fail;
	int records, resumed;
	jobs_recovered(s->jobs, &records, &resumed);
	if (records)
		fprintf(stderr, "traind: recovered %d jobs from %s/jobs, %d of them to resume\n",
			records, conf->state_dir, resumed);
	if ((rc = api_create(conf, s->jobs, s->registry, &s->api, e)) ||
	    (rc = http_start(conf, api_routes(), s->api, &s->http, e)))
		goto fail;
	*out = s;
	return 0;
fail:
	server_free(s);
	return rc;
}

int server_port(const struct server *s)
{
	return http_port(s->http);
}

void server_stop(struct server *s)
{
	if (!s)
		return;
	http_quiesce(s->http);  /* no new connections */
	jobs_shutdown(s->jobs); /* runners stop at a step boundary */
	http_stop(s->http);     /* requests in flight finish */
	server_free(s);
}

/* ---- the command ---------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f, "usage: traind serve [--config FILE] [--key value ...]\n\n"
		   "Runs the HTTP daemon; docs/api.md (installed as " TRAIND_DOCDIR "/api.md)\n"
		   "describes every route. Settings come from the built-in\n"
		   "defaults, then the config file (default %s when it\n"
		   "exists), then these flags, which are the file's keys with dashes:\n\n",
		SRVCONF_DEFAULT_FILE);
	fprintf(f, "  %-22s %s\n", "--config FILE", "read this file instead of the default");
	srvconf_print_help(f);
}

/* Splits "--key=value" / "--key value"; returns the index of the last
 * argument used, or -1 after printing why. */
static int flag_at(int argc, char **argv, int i, char *key, size_t key_len, const char **value)
{
	const char *arg = argv[i];
	if (strncmp(arg, "--", 2) != 0) {
		fprintf(stderr, "traind: unexpected argument \"%s\" (options start with --)\n", arg);
		return -1;
	}
	const char *eq = strchr(arg + 2, '=');
	size_t n = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
	if (n == 0 || n >= key_len) {
		fprintf(stderr, "traind: unknown option %s (see traind serve --help)\n", arg);
		return -1;
	}
	memcpy(key, arg + 2, n);
	key[n] = '\0';
	if (eq) {
		*value = eq + 1;
		return i;
	}
	int is_bool = strcmp(key, "allow-remote") == 0 || strcmp(key, "access-log") == 0;
	if (is_bool && (i + 1 >= argc || strncmp(argv[i + 1], "--", 2) == 0)) {
		*value = "true";
		return i;
	}
	if (i + 1 >= argc) {
		fprintf(stderr, "traind: --%s needs a value\n", key);
		return -1;
	}
	*value = argv[i + 1];
	return i + 1;
}

static int configure(int argc, char **argv, struct srvconf *c)
{
	const char *config = NULL;
	char key[64];
	const char *value;
	struct td_error e;
	memset(c, 0, sizeof(*c));
	/* First pass: --help and --config, so flags can override the file. */
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 1;
		}
		int last = flag_at(argc, argv, i, key, sizeof(key), &value);
		if (last < 0)
			return -1;
		if (strcmp(key, "config") == 0)
			config = value;
		i = last;
	}
	if (srvconf_defaults(c)) {
		fprintf(stderr, "traind: the built-in defaults are invalid\n");
		return -1;
	}
	const char *read;
	if (srvconf_load_default(c, config, &read, &e)) {
		fprintf(stderr, "traind: %s\n", e.msg);
		return -1;
	}
	if (read)
		fprintf(stderr, "traind: read %s\n", read);
	for (int i = 2; i < argc; i++) {
		int last = flag_at(argc, argv, i, key, sizeof(key), &value);
		if (strcmp(key, "config") != 0 && srvconf_set(c, key, value, &e)) {
			fprintf(stderr, "traind: --%s: %s\n", key, e.msg);
			return -1;
		}
		i = last;
	}
	if (srvconf_finish(c, &e)) {
		fprintf(stderr, "traind: %s\n", e.msg);
		return -1;
	}
	return 0;
}

/* The likeliest first failure of a new install, said at start rather than
 * at the first job. */
static void note_missing_digits(const struct srvconf *c)
{
	char p[PATH_MAX + 64];
	snprintf(p, sizeof(p), "%s/digits/train-images-idx3-ubyte.gz", c->data_dir);
	if (access(p, R_OK) != 0)
		fprintf(stderr, "traind: note: %s is missing, so jobs on \"digits\" will fail: "
			"make install-digits (installed) or scripts/fetch-digits.sh (a checkout) puts "
			"the digits there, or set data_dir or TRAIND_DATA_DIR\n", p);
}

int serve_main(int argc, char **argv)
{
	struct srvconf c;
	int rc = configure(argc, argv, &c);
	if (rc) {
		srvconf_free(&c);
		return rc > 0 ? 0 : 2;
	}
	srvconf_log(&c, stderr);
	note_missing_digits(&c);

	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct server *s;
	struct td_error e;
	if (server_start(&c, &s, &e)) {
		fprintf(stderr, "traind: %s\n", e.msg);
		srvconf_free(&c);
		return 1;
	}
	char host[SRVCONF_LISTEN_MAX];
	int port;
	srvconf_listen_split(c.listen, host, sizeof(host), &port, NULL);
	printf("traind: listening on http://%s%s%s:%d/\n", strchr(host, ':') ? "[" : "", host,
	       strchr(host, ':') ? "]" : "", server_port(s));
	fflush(stdout);

	int sig = 0;
	while (sigwait(&stop, &sig) != 0)
		;
	fprintf(stderr, "traind: %s: stopping (jobs in training stop at the next step)\n",
		strsignal(sig));
	server_stop(s);
	srvconf_free(&c);
	fprintf(stderr, "traind: stopped\n");
	return 0;
}
