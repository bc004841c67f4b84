/*
 * srvconf.c - the daemon's option table and everything that reads it.
 *
 * One row per key: its name, how its text is parsed (type), where it lands
 * in struct srvconf (offset, size), its bounds, its default as text and a
 * line of help. Defaults are applied by parsing the default text through
 * the same setter as the file and the flags, so a default can never be a
 * value the parser would refuse. `dataset` is the one repeatable key: each
 * line appends a data set specification.
 */
#include "traind/srvconf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "traind/paths.h"
#include "traind/pool.h"
#include "traind/connguard.h"

#ifndef TRAIND_DATADIR
#define TRAIND_DATADIR "/usr/local/share/traind"
#endif
#ifndef TRAIND_STATEDIR
#define TRAIND_STATEDIR "/var/lib/traind"
#endif

enum conf_type {
	C_PATH,    /* a path, up to the field's size */
	C_DIR,     /* a path; "" = found by the rule of paths.h at srvconf_finish */
	C_INT,     /* an integer in [min, max]; "auto" where the row allows it */
	C_SIZE,    /* bytes, with an optional K, M or G suffix (powers of 1024) */
	C_REAL,    /* a finite number in [min, max] */
	C_BOOL,    /* true/false, yes/no, on/off, 1/0 */
	C_LISTEN,  /* host:port or [v6]:port */
	C_TOKEN,   /* a bearer token (token68 characters), "" for none */
	C_DATASET, /* appends a data set; repeatable */
};

struct conf_row {
	const char *name;
	enum conf_type type;
	size_t offset, size;
	double min, max;
	const char *def; /* default as text; "auto" = computed, see `auto_help` */
	const char *help;
};

#define OFF(f) offsetof(struct srvconf, f), sizeof(((struct srvconf *)0)->f)
#define MIB (1024.0 * 1024.0)

static const struct conf_row rows[] = {
	{"listen", C_LISTEN, OFF(listen), 0, 65535, "127.0.0.1:8080",
	 "address and port to listen on, host:port or [v6]:port; port 0 picks a free one"},
	{"data_dir", C_DIR, OFF(data_dir), 0, 0, "",
	 "holds digits/ (made by traind convert-digits); relative dataset paths start here"},
	{"state_dir", C_PATH, OFF(state_dir), 0, 0, TRAIND_STATEDIR,
	 "where the daemon keeps its state"},
	{"web_dir", C_DIR, OFF(web_dir), 0, 0, "",
	 "the dashboard's files, served at / and /static/; nothing outside it is served"},
	{"fashion_dir", C_PATH, OFF(fashion_dir), 0, 0, "/usr/share/datasets/fashion-mnist",
	 "Fashion-MNIST IDX files (Debian's dataset-fashion-mnist)"},
	{"workers", C_INT, OFF(workers), 1, 256, "auto",
	 "threads in each runner's pool, and the most a job may ask for (auto: the cores)"},
	{"max_running_jobs", C_INT, OFF(max_running_jobs), 1, 64, "1",
	 "jobs that train at the same time"},
	{"max_queued_jobs", C_INT, OFF(max_queued_jobs), 1, 100000, "64",
	 "jobs waiting to train; more is 503"},
	{"max_jobs", C_INT, OFF(max_jobs), 1, 1000000, "1000",
	 "job records kept, finished ones included; more is 503 until some are deleted"},
	{"body_limit", C_SIZE, OFF(body_limit), 1024, 1024 * MIB, "8M",
	 "largest request body in bytes (K, M, G suffixes); more is 413"},
	{"max_instances", C_INT, OFF(max_instances), 1, 65536, "1024",
	 "instances in one predict request; more is 413"},
	{"connection_timeout", C_INT, OFF(connection_timeout), 1, 3600, "30",
	 "seconds an idle kept-alive connection is kept"},
	{"max_curve_points", C_INT, OFF(max_curve_points), 16, 10000000, "20000",
	 "loss curve points kept per job; older ones are thinned evenly"},
	{"snapshot_seconds", C_REAL, OFF(snapshot_seconds), 0.05, 3600, "2",
	 "how often a training job publishes its weights for prediction"},
	{"checkpoint_seconds", C_REAL, OFF(checkpoint_seconds), 1, 86400, "30",
	 "a running job checkpoints at least this often (and every epoch, on pause, at shutdown)"},
	{"token", C_TOKEN, OFF(token), 0, 0, "",
	 "bearer token that POST and DELETE must present; empty: no authentication"},
	{"token_file", C_PATH, OFF(token_file), 0, 0, "",
	 "file holding the token (keeps it out of ps and the config)"},
	{"allow_remote", C_BOOL, OFF(allow_remote), 0, 1, "false",
	 "allow a non-loopback listen address without a token"},
	{"http_threads", C_INT, OFF(http_threads), 1, 256, "2",
	 "threads answering HTTP requests (predictions run on them)"},
	{"train_nice", C_INT, OFF(train_nice), 0, POOL_MAX_NICE, "10",
	 "nice steps below the HTTP threads that jobs train at, so that predictions are not "
	 "kept waiting for a core (0: the same priority; Linux)"},
	{"mpirun", C_PATH, OFF(mpirun), 0, 0, "mpirun",
	 "jobs with ranks > 1: Open MPI's launcher (a path, or a name on the PATH)"},
	{"mpi_hostfile", C_PATH, OFF(mpi_hostfile), 0, 0, "",
	 "jobs with ranks > 1: mpirun's --hostfile (\"\" = every rank on this host); must exist"},
	{"mpi_args", C_PATH, OFF(mpi_args), 0, 0, "",
	 "jobs with ranks > 1: more mpirun arguments, split at blanks (e.g. --oversubscribe)"},
	{"access_log", C_BOOL, OFF(access_log), 0, 1, "true",
	 "one line per request on stderr: method, path, status, microseconds"},
	/* Connection limits and deadlines against clients that hold
	 * connections without using them (connguard.h). */
	{"max_connections", C_INT, OFF(max_connections), 16, 1000000, "auto",
	 "connections open at once in all (auto: RLIMIT_NOFILE less 128); more are closed"},
	{"max_connections_per_address", C_INT, OFF(max_connections_per_address), 1, 1000000, "32",
	 "connections one client address may hold open; more are closed"},
	{"header_timeout", C_INT, OFF(header_timeout), 1, 3600, "10",
	 "seconds a client has for a request line and headers (from connecting, or from the "
	 "request line on a kept-alive connection)"},
	{"min_body_rate", C_SIZE, OFF(min_body_rate), 0, 1024 * MIB, "1K",
	 "bytes a second a request body must average, from a second after its headers; 0: "
	 "no minimum"},
	{"dataset", C_DATASET, 0, 0, 0, 0, NULL,
	 "repeatable: NAME idx TRAIN_IMAGES TRAIN_LABELS TEST_IMAGES TEST_LABELS "
	 "[classes=a,b,...] or NAME csv TRAIN.csv TEST.csv [width=28 height=28 classes=...]"},
};

#define N_ROWS (sizeof(rows) / sizeof(rows[0]))

/* What "auto" means for a C_INT row: the cores, but for max_connections. */
static int auto_value(const struct conf_row *r)
{
	if (strcmp(r->name, "max_connections") == 0)
		return connguard_auto_max_connections();
	return pool_online_cores();
}

/* The row for a key with dashes or underscores, or NULL. */
static const struct conf_row *row_find(const char *key)
{
	char norm[64];
	if (td_key_norm(key, norm, sizeof(norm)))
		return NULL;
	for (size_t k = 0; k < N_ROWS; k++)
		if (strcmp(rows[k].name, norm) == 0)
			return &rows[k];
	return NULL;
}

int srvconf_has_key(const char *key)
{
	return row_find(key) != NULL;
}

static int unknown_key(const char *key, struct td_error *e)
{
	char list[512] = "";
	for (size_t k = 0; k < N_ROWS; k++) {
		strncat(list, rows[k].name, sizeof(list) - strlen(list) - 1);
		if (k + 1 < N_ROWS)
			strncat(list, ", ", sizeof(list) - strlen(list) - 1);
	}
	return td_errorf(e, TD_EINVAL, key, "unknown key \"%.60s\"; keys are %s", key, list);
}

int srvconf_listen_split(const char *listen, char *host, size_t host_len, int *port,
			 struct td_error *e)
{
	const char *colon, *h = listen;
	size_t hlen;
	if (listen[0] == '[') {
		const char *close = strchr(listen, ']');
		if (!close || close[1] != ':')
			goto bad;
		h = listen + 1;
		hlen = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(listen, ':');
		if (!colon || memchr(listen, ':', (size_t)(colon - listen)))
			goto bad;
		hlen = (size_t)(colon - listen);
	}
	if (hlen == 0 || hlen >= host_len)
		goto bad;
	char *end;
	errno = 0;
	long p = strtol(colon + 1, &end, 10);
	if (end == colon + 1 || *end || errno || p < 0 || p > 65535)
		goto bad;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	*port = (int)p;
	return 0;
bad:
	return td_errorf(e, TD_EINVAL, "listen",
			 "listen must be host:port or [v6]:port with a port from 0 to 65535, "
			 "like 127.0.0.1:8080, not \"%.60s\"", listen);
}

static int token_ok(const char *s)
{
	/* RFC 6750's b64token: letters, digits, -._~+/ and trailing '='. */
	size_t n = strlen(s), i = 0;
	while (i < n && (isalnum((unsigned char)s[i]) || strchr("-._~+/", s[i])))
		i++;
	while (i < n && s[i] == '=')
		i++;
	return i == n && n > 0;
}

static int parse_size(const char *v, double *out)
{
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	if (end == v || errno || !isfinite(d) || d < 0)
		return -1;
	double mult = 1;
	if (*end) {
		switch (toupper((unsigned char)*end)) {
		case 'K': mult = 1024.0; break;
		case 'M': mult = MIB; break;
		case 'G': mult = 1024.0 * MIB; break;
		default: return -1;
		}
		end++;
		if (*end == 'i' && end[1] == 'B')
			end += 2;
		else if (*end == 'B')
			end++;
	}
	if (*end)
		return -1;
	d *= mult;
	if (d != floor(d))
		return -1;
	*out = d;
	return 0;
}

static int parse_bool(const char *v, int *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1", NULL};
	static const char *const no[] = {"false", "no", "off", "0", NULL};
	for (int i = 0; yes[i]; i++)
		if (strcasecmp(v, yes[i]) == 0)
			return *out = 1, 0;
	for (int i = 0; no[i]; i++)
		if (strcasecmp(v, no[i]) == 0)
			return *out = 0, 0;
	return -1;
}

/* Copies a whitespace-separated word of `s` into buf; returns the rest. */
static const char *next_word(const char *s, char *buf, size_t len)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = 0;
	while (*s && !isspace((unsigned char)*s)) {
		if (n + 1 < len)
			buf[n] = *s;
		n++;
		s++;
	}
	buf[n < len ? n : len - 1] = '\0';
	return n < len ? s : NULL;
}

/* ---- data set specifications ---------------------------------------
 * The parts of a `dataset` line, each validated once here; the line's
 * parser below and `traind train --train/--test` (cli.c) build a
 * dataset_spec with them, so both accept and refuse the same things. */

int srvconf_dataset_start(struct dataset_spec *s, const char *name, const char *format,
			  struct td_error *e)
{
	memset(s, 0, sizeof(*s));
	if (!name[0] || strlen(name) >= sizeof(s->name))
		return td_errorf(e, TD_EINVAL, "dataset",
				 "a dataset name must be 1..%zu characters", sizeof(s->name) - 1);
	for (const char *q = name; *q; q++)
		if (!isalnum((unsigned char)*q) && !strchr("_.-", *q))
			return td_errorf(e, TD_EINVAL, "dataset",
					 "dataset name \"%.60s\" may only hold letters, digits, '_', "
					 "'-' and '.'", name);
	memcpy(s->name, name, strlen(name) + 1);
	if (strcmp(format, "idx") == 0)
		s->format = DATASET_IDX;
	else if (strcmp(format, "csv") == 0)
		s->format = DATASET_CSV;
	else
		return td_errorf(e, TD_EINVAL, "dataset",
				 "dataset %s: the format must be idx or csv, not \"%.20s\"", s->name,
				 format);
	return 0;
}

int srvconf_dataset_file_count(const struct dataset_spec *s)
{
	return s->format == DATASET_IDX ? 4 : 2;
}

/* The i-th file in a line's order: IDX train images, train labels, test
 * images, test labels; CSV train, test. */
static char *spec_file(struct dataset_spec *s, int i)
{
	char *idx[4] = {s->train_images, s->train_labels, s->test_images, s->test_labels};
	char *csv[2] = {s->train_images, s->test_images};
	return s->format == DATASET_IDX ? idx[i] : csv[i];
}

int srvconf_dataset_file(struct dataset_spec *s, int i, const char *path, struct td_error *e)
{
	static const char *const idx[] = {"train images", "train labels", "test images",
					  "test labels"};
	static const char *const csv[] = {"train CSV", "test CSV"};
	if (i < 0 || i >= srvconf_dataset_file_count(s))
		return td_errorf(e, TD_EINVAL, "dataset", "dataset %s: too many files", s->name);
	const char *what = s->format == DATASET_IDX ? idx[i] : csv[i];
	if (!path[0])
		return td_errorf(e, TD_EINVAL, "dataset", "dataset %s: the %s file is missing",
				 s->name, what);
	if (strlen(path) >= PATH_MAX)
		return td_errorf(e, TD_EINVAL, "dataset",
				 "dataset %s: the %s path is longer than %d characters", s->name,
				 what, PATH_MAX - 1);
	memcpy(spec_file(s, i), path, strlen(path) + 1);
	return 0;
}

int srvconf_dataset_option(struct dataset_spec *s, const char *key, const char *v,
			   struct td_error *e)
{
	if (strcmp(key, "classes") == 0) {
		if (strlen(v) >= sizeof(s->classes) || !*v)
			return td_errorf(e, TD_EINVAL, "dataset",
					 "dataset %s: classes must be 1..%zu characters of "
					 "comma-separated names", s->name, sizeof(s->classes) - 1);
		memcpy(s->classes, v, strlen(v) + 1);
		return 0;
	}
	if (s->format == DATASET_CSV && (strcmp(key, "width") == 0 || strcmp(key, "height") == 0)) {
		char *end;
		long n = strtol(v, &end, 10);
		if (end == v || *end || n < 1 || n > 256)
			return td_errorf(e, TD_EINVAL, "dataset",
					 "dataset %s: %s must be an integer from 1 to 256, not "
					 "\"%.20s\"", s->name, key, v);
		*(key[0] == 'w' ? &s->width : &s->height) = (int)n;
		return 0;
	}
	return td_errorf(e, TD_EINVAL, "dataset",
			 "dataset %s: unknown option \"%.40s\"; options are classes%s", s->name,
			 key, s->format == DATASET_CSV ? ", width, height" : " (IDX files carry "
			 "their width and height)");
}

void srvconf_dataset_source(struct dataset_spec *s, const char *origin)
{
	snprintf(s->source, sizeof(s->source), "%s files from %s (%.200s)",
		 s->format == DATASET_IDX ? "IDX" : "CSV", origin, s->train_images);
}

/* dataset = NAME idx TI TL SI SL [classes=...] | NAME csv TRAIN TEST [width= height= classes=] */
static int add_dataset(struct srvconf *c, const char *value, struct td_error *e)
{
	static const char usage[] =
		"dataset must be NAME idx TRAIN_IMAGES TRAIN_LABELS TEST_IMAGES TEST_LABELS "
		"[classes=a,b,...] or NAME csv TRAIN.csv TEST.csv [width=W height=H classes=...]";
	if (c->n_datasets >= SRVCONF_MAX_DATASETS)
		return td_errorf(e, TD_EINVAL, "dataset", "at most %d dataset lines are allowed",
				 SRVCONF_MAX_DATASETS);
	struct dataset_spec s;
	char name[DATASET_NAME_MAX], format[16];
	const char *p = next_word(value, name, sizeof(name));
	if (!p || !name[0])
		return td_errorf(e, TD_EINVAL, "dataset", "%s", usage);
	p = next_word(p, format, sizeof(format));
	if (!p)
		return td_errorf(e, TD_EINVAL, "dataset", "%s", usage);
	int rc = srvconf_dataset_start(&s, name, format, e);
	if (rc)
		return rc;
	char word[PATH_MAX + 8];
	for (int i = 0; i < srvconf_dataset_file_count(&s); i++) {
		p = next_word(p, word, sizeof(word));
		if (!p || !word[0] || strchr(word, '='))
			return td_errorf(e, TD_EINVAL, "dataset", "dataset %s: %s", s.name, usage);
		if ((rc = srvconf_dataset_file(&s, i, word, e)))
			return rc;
	}
	while ((p = next_word(p, word, sizeof(word))) && word[0]) {
		char *eq = strchr(word, '=');
		if (!eq)
			return td_errorf(e, TD_EINVAL, "dataset",
					 "dataset %s: unexpected \"%.60s\"; %s", s.name, word, usage);
		*eq = '\0';
		if ((rc = srvconf_dataset_option(&s, word, eq + 1, e)))
			return rc;
	}
	if (!p)
		return td_errorf(e, TD_EINVAL, "dataset", "dataset %s: a word is too long", s.name);
	for (int i = 0; i < c->n_datasets; i++)
		if (strcmp(c->datasets[i].name, s.name) == 0)
			return td_errorf(e, TD_EINVAL, "dataset", "dataset %s is defined twice",
					 s.name);
	struct dataset_spec *grown =
		realloc(c->datasets, sizeof(*grown) * (size_t)(c->n_datasets + 1));
	if (!grown)
		return td_errorf(e, TD_ENOMEM, "dataset", "out of memory");
	c->datasets = grown;
	c->datasets[c->n_datasets++] = s;
	return 0;
}

static int set_row(struct srvconf *c, const struct conf_row *r, const char *v,
		   struct td_error *e)
{
	char *dst = (char *)c + r->offset;
	switch (r->type) {
	case C_PATH:
	case C_DIR:
		if (strlen(v) >= r->size)
			return td_errorf(e, TD_EINVAL, r->name, "%s is longer than %zu characters",
					 r->name, r->size - 1);
		memcpy(dst, v, strlen(v) + 1);
		return 0;
	case C_LISTEN: {
		char host[SRVCONF_LISTEN_MAX];
		int port;
		if (strlen(v) >= r->size)
			return td_errorf(e, TD_EINVAL, r->name, "listen is longer than %zu characters",
					 r->size - 1);
		int rc = srvconf_listen_split(v, host, sizeof(host), &port, e);
		if (rc)
			return rc;
		memcpy(dst, v, strlen(v) + 1);
		return 0;
	}
	case C_TOKEN:
		if (*v && (strlen(v) >= r->size || !token_ok(v)))
			return td_errorf(e, TD_EINVAL, r->name,
					 "token must be 1..%zu characters of letters, digits and "
					 "-._~+/ (then '=' padding)", r->size - 1);
		memcpy(dst, v, strlen(v) + 1);
		return 0;
	case C_BOOL:
		if (parse_bool(v, (int *)dst))
			return td_errorf(e, TD_EINVAL, r->name,
					 "%s must be true or false (yes/no, on/off, 1/0), not \"%.40s\"",
					 r->name, v);
		return 0;
	case C_INT: {
		if (strcmp(r->def, "auto") == 0 && strcmp(v, "auto") == 0) {
			*(int *)dst = auto_value(r);
			return 0;
		}
		char *end;
		errno = 0;
		long n = strtol(v, &end, 10);
		if (end == v || *end || errno || n < r->min || n > r->max)
			return td_errorf(e, TD_EINVAL, r->name,
					 "%s must be an integer from %.0f to %.0f%s, not \"%.40s\"",
					 r->name, r->min, r->max,
					 strcmp(r->def, "auto") == 0 ? " or auto" : "", v);
		*(int *)dst = (int)n;
		return 0;
	}
	case C_SIZE: {
		double d;
		if (parse_size(v, &d) || d < r->min || d > r->max)
			return td_errorf(e, TD_EINVAL, r->name,
					 "%s must be a whole number of bytes from %.0f to %.0f (K, M "
					 "and G suffixes allowed), not \"%.40s\"", r->name, r->min,
					 r->max, v);
		*(size_t *)dst = (size_t)d;
		return 0;
	}
	case C_REAL: {
		char *end;
		errno = 0;
		double d = strtod(v, &end);
		if (end == v || *end || errno || !isfinite(d) || d < r->min || d > r->max)
			return td_errorf(e, TD_EINVAL, r->name,
					 "%s must be a number from %g to %g, not \"%.40s\"", r->name,
					 r->min, r->max, v);
		*(double *)dst = d;
		return 0;
	}
	case C_DATASET:
		return add_dataset(c, v, e);
	}
	return td_errorf(e, TD_EINTERNAL, r->name, "key %s has no parser", r->name);
}

int srvconf_set(struct srvconf *c, const char *key, const char *value, struct td_error *e)
{
	const struct conf_row *r = row_find(key);
	if (!r)
		return unknown_key(key, e);
	return set_row(c, r, value, e);
}

int srvconf_defaults(struct srvconf *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t k = 0; k < N_ROWS; k++) {
		if (!rows[k].def)
			continue;
		int rc = set_row(c, &rows[k], rows[k].def, NULL);
		if (rc)
			return rc;
	}
	return 0;
}

void srvconf_free(struct srvconf *c)
{
	free(c->datasets);
	c->datasets = NULL;
	c->n_datasets = 0;
}

/* Trims leading and trailing whitespace in place. */
static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

int srvconf_load_file(struct srvconf *c, const char *path, struct td_error *e)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return td_errorf(e, TD_EIO, "config", "cannot read %s: %s", path, strerror(errno));
	char line[8192];
	int lineno = 0, rc = 0;
	struct td_error le;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		size_t n = strlen(line);
		if (n == sizeof(line) - 1 && line[n - 1] != '\n' && !feof(f)) {
			rc = td_errorf(e, TD_EINVAL, "", "%s:%d: the line is longer than %zu characters",
				       path, lineno, sizeof(line) - 2);
			break;
		}
		/* '#' starts a comment at the start of a line or after whitespace. */
		for (char *h = line; (h = strchr(h, '#')); h++)
			if (h == line || isspace((unsigned char)h[-1])) {
				*h = '\0';
				break;
			}
		char *s = trim(line);
		if (!*s)
			continue;
		char *eq = strchr(s, '=');
		if (!eq) {
			rc = td_errorf(e, TD_EINVAL, "", "%s:%d: expected key = value, not \"%.60s\"",
				       path, lineno, s);
			break;
		}
		*eq = '\0';
		char *key = trim(s), *value = trim(eq + 1);
		if (strchr(key, '-') || !row_find(key)) {
			unknown_key(key, &le);
		} else if (set_row(c, row_find(key), value, &le) == 0) {
			continue;
		}
		rc = td_errorf(e, TD_EINVAL, le.field, "%s:%d: %s: %s", path, lineno, key, le.msg);
		break;
	}
	if (!rc && ferror(f))
		rc = td_errorf(e, TD_EIO, "config", "cannot read %s: %s", path, strerror(errno));
	fclose(f);
	return rc;
}

int srvconf_load_default(struct srvconf *c, const char *path, const char **read,
			 struct td_error *e)
{
	*read = NULL;
	const char *p = path ? path : SRVCONF_DEFAULT_FILE;
	if (!path && access(p, F_OK) != 0)
		return 0;
	int rc = srvconf_load_file(c, p, e);
	if (!rc)
		*read = p;
	return rc;
}

static int read_token_file(struct srvconf *c, struct td_error *e)
{
	FILE *f = fopen(c->token_file, "r");
	if (!f)
		return td_errorf(e, TD_EIO, "token_file", "cannot read token_file %s: %s",
				 c->token_file, strerror(errno));
	char buf[SRVCONF_TOKEN_MAX + 2];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *t = trim(buf);
	if (!*t || strlen(t) >= sizeof(c->token) || !token_ok(t))
		return td_errorf(e, TD_EINVAL, "token_file",
				 "token_file %s must hold one token of 1..%zu characters of "
				 "letters, digits and -._~+/", c->token_file, sizeof(c->token) - 1);
	memcpy(c->token, t, strlen(t) + 1);
	return 0;
}

/* Is every address `host` resolves to a loopback address? */
static int host_is_loopback(const char *host)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res;
	if (getaddrinfo(host, NULL, &hints, &res))
		return 0;
	int all = 1;
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		if (a->ai_family == AF_INET) {
			const struct sockaddr_in *in = (const void *)a->ai_addr;
			all &= (ntohl(in->sin_addr.s_addr) >> 24) == 127;
		} else if (a->ai_family == AF_INET6) {
			const struct sockaddr_in6 *in6 = (const void *)a->ai_addr;
			all &= IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
		} else {
			all = 0;
		}
	}
	freeaddrinfo(res);
	return all;
}

static int resolve_relative(char *path, const char *base, struct td_error *e)
{
	if (path[0] == '/' || !path[0])
		return 0;
	char joined[PATH_MAX];
	if ((size_t)snprintf(joined, sizeof(joined), "%s/%s", base, path) >= sizeof(joined))
		return td_errorf(e, TD_EINVAL, "dataset", "the path %s/%s is too long", base, path);
	memcpy(path, joined, strlen(joined) + 1);
	return 0;
}

/* data_dir and web_dir by the rule of paths.h (a value from the file or a
 * flag is step 2), then the dataset lines' relative paths from data_dir. */
int srvconf_resolve_paths(struct srvconf *c, struct td_error *e)
{
	char dir[PATH_MAX];
	c->data_dir_from = paths_resolve(PATHS_DATA, NULL, c->data_dir, dir, sizeof(dir));
	if (!c->data_dir_from)
		return td_errorf(e, TD_EINVAL, "data_dir", "the data dir's path is too long");
	memcpy(c->data_dir, dir, strlen(dir) + 1);
	c->web_dir_from = paths_resolve(PATHS_WEB, NULL, c->web_dir, dir, sizeof(dir));
	if (!c->web_dir_from)
		return td_errorf(e, TD_EINVAL, "web_dir", "the web dir's path is too long");
	memcpy(c->web_dir, dir, strlen(dir) + 1);
	for (int i = 0; i < c->n_datasets; i++) {
		struct dataset_spec *s = &c->datasets[i];
		char *files[4] = {s->train_images, s->train_labels, s->test_images, s->test_labels};
		for (int k = 0; k < 4; k++) {
			int rc = resolve_relative(files[k], c->data_dir, e);
			if (rc)
				return rc;
		}
		srvconf_dataset_source(s, "the configuration");
	}
	return 0;
}

int srvconf_register_datasets(const struct srvconf *c, struct dataset_registry *r,
			      struct td_error *e)
{
	int rc = registry_add_defaults(r, c->data_dir, c->fashion_dir);
	if (rc)
		return td_errorf(e, rc, "", "cannot register the default data sets");
	for (int i = 0; i < c->n_datasets; i++)
		if ((rc = registry_add(r, &c->datasets[i], e)))
			return rc;
	return 0;
}

int srvconf_finish(struct srvconf *c, struct td_error *e)
{
	if (c->token_file[0]) {
		if (c->token[0])
			return td_errorf(e, TD_EINVAL, "token_file",
					 "set token or token_file, not both");
		int rc = read_token_file(c, e);
		if (rc)
			return rc;
	}
	char host[SRVCONF_LISTEN_MAX];
	int port;
	int rc = srvconf_listen_split(c->listen, host, sizeof(host), &port, e);
	if (rc)
		return rc;
	if (!c->token[0] && !c->allow_remote && !host_is_loopback(host))
		return td_errorf(e, TD_EINVAL, "listen",
				 "listen %s is not a loopback address and no token is set: set "
				 "token or token_file, or allow_remote = true to serve anyone who "
				 "can reach it", c->listen);
	return srvconf_resolve_paths(c, e);
}

static const char *type_range(const struct conf_row *r, char *buf, size_t len)
{
	switch (r->type) {
	case C_INT:
		snprintf(buf, len, "%.0f..%.0f", r->min, r->max);
		break;
	case C_SIZE:
		snprintf(buf, len, "%.0f..%.0f bytes", r->min, r->max);
		break;
	case C_REAL:
		snprintf(buf, len, "%g..%g", r->min, r->max);
		break;
	case C_BOOL:
		snprintf(buf, len, "true or false");
		break;
	case C_LISTEN:
		snprintf(buf, len, "host:port");
		break;
	case C_TOKEN:
		snprintf(buf, len, "letters, digits, -._~+/");
		break;
	default:
		snprintf(buf, len, "a path");
	}
	return buf;
}

static enum paths_kind dir_kind(const struct conf_row *r)
{
	return r->offset == offsetof(struct srvconf, web_dir) ? PATHS_WEB : PATHS_DATA;
}

void srvconf_print_help(FILE *f)
{
	for (size_t k = 0; k < N_ROWS; k++) {
		const struct conf_row *r = &rows[k];
		char flag[64], range[64];
		snprintf(flag, sizeof(flag), "--%s", r->name);
		for (char *p = flag; *p; p++)
			if (*p == '_')
				*p = '-';
		fprintf(f, "  %-22s %s\n", flag, r->help);
		if (r->type == C_DIR)
			fprintf(f, "  %-22s default: $%s, else %s/ of a checkout (the binary's "
				"folder, then the working dir), else %s\n", "",
				paths_env_name(dir_kind(r)), dir_kind(r) == PATHS_WEB ? "web" : "data",
				dir_kind(r) == PATHS_WEB ? TRAIND_DATADIR "/web" : TRAIND_DATADIR);
		else if (r->def)
			fprintf(f, "  %-22s default %s; %s\n", "", r->def[0] ? r->def : "(none)",
				type_range(r, range, sizeof(range)));
	}
}

void srvconf_log(const struct srvconf *c, FILE *f)
{
	for (size_t k = 0; k < N_ROWS; k++) {
		const struct conf_row *r = &rows[k];
		const char *p = (const char *)c + r->offset;
		switch (r->type) {
		case C_PATH:
		case C_LISTEN:
			fprintf(f, "traind: config %s = %s\n", r->name, p);
			break;
		case C_DIR: {
			const char *from =
				dir_kind(r) == PATHS_WEB ? c->web_dir_from : c->data_dir_from;
			fprintf(f, "traind: config %s = %s%s%s%s\n", r->name, p, from ? " (from " : "",
				from ? from : "", from ? ")" : "");
			break;
		}
		case C_TOKEN:
			fprintf(f, "traind: config %s = %s\n", r->name, *p ? "(set, redacted)" : "");
			break;
		case C_INT:
			fprintf(f, "traind: config %s = %d\n", r->name, *(const int *)p);
			break;
		case C_BOOL:
			fprintf(f, "traind: config %s = %s\n", r->name,
				*(const int *)p ? "true" : "false");
			break;
		case C_SIZE:
			fprintf(f, "traind: config %s = %zu\n", r->name, *(const size_t *)p);
			break;
		case C_REAL:
			fprintf(f, "traind: config %s = %g\n", r->name, *(const double *)p);
			break;
		case C_DATASET:
			for (int i = 0; i < c->n_datasets; i++)
				fprintf(f, "traind: config dataset = %s %s %s ...\n", c->datasets[i].name,
					c->datasets[i].format == DATASET_IDX ? "idx" : "csv",
					c->datasets[i].train_images);
			break;
		}
	}
	fflush(f);
}
