/*
 * check_srvconf.c - the daemon's configuration: the option table read
 * from files and flags, its ranges and error messages, the data set
 * lines, the checks across keys, and etc/traind.conf against the table.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_suites.h"
#include "testutil.h"
#include "traind/serve.h"
#include "traind/srvconf.h"

static char *tmp;

static void setup(void)
{
	tmp = test_tmpdir();
	ck_assert_ptr_nonnull(tmp);
}

static void teardown(void)
{
	test_rmtree(tmp);
	free(tmp);
}

/* Writes `text` to a file in tmp and loads it into defaults. */
static int load(const char *text, struct srvconf *c, struct td_error *e, char **path_out)
{
	char *path = test_path(tmp, "traind.conf");
	ck_assert_int_eq(test_write_file(path, text, strlen(text)), 0);
	ck_assert_int_eq(srvconf_defaults(c), 0);
	int rc = srvconf_load_file(c, path, e);
	if (path_out)
		*path_out = path;
	else
		free(path);
	return rc;
}

START_TEST(test_defaults)
{
	struct srvconf c;
	struct td_error e;
	ck_assert_int_eq(srvconf_defaults(&c), 0);
	ck_assert_str_eq(c.listen, "127.0.0.1:8080");
	ck_assert_str_eq(c.fashion_dir, "/usr/share/datasets/fashion-mnist");
	ck_assert_int_eq(c.workers, (int)sysconf(_SC_NPROCESSORS_ONLN) > 256
					    ? 256 : (int)sysconf(_SC_NPROCESSORS_ONLN));
	ck_assert_int_eq(c.max_running_jobs, 1);
	ck_assert_int_eq(c.max_queued_jobs, 64);
	ck_assert_int_eq(c.max_jobs, 1000);
	ck_assert_uint_eq(c.body_limit, 8u << 20);
	ck_assert_int_eq(c.max_instances, 1024);
	ck_assert_int_eq(c.connection_timeout, 30);
	ck_assert_int_eq(c.max_curve_points, 20000);
	ck_assert(c.snapshot_seconds == 2);
	ck_assert_str_eq(c.token, "");
	ck_assert_int_eq(c.allow_remote, 0);
	ck_assert_int_eq(c.http_threads, 2);
	ck_assert_int_eq(c.train_nice, 10);
	ck_assert_int_eq(srvconf_finish(&c, &e), 0);
	srvconf_free(&c);
}
END_TEST

START_TEST(test_file)
{
	struct srvconf c;
	struct td_error e;
	const char *text = "# a comment\n"
			   "\n"
			   "listen = 127.0.0.1:0   # inline comment\n"
			   "  workers=3\n"
			   "body_limit = 64K\n"
			   "max_running_jobs = 2\n"
			   "snapshot_seconds = 0.5\n"
			   "allow_remote = yes\n"
			   "token = abc-DEF_1.2~3+4/5==\n"
			   "web_dir = /srv/traind web\n";
	ck_assert_msg(load(text, &c, &e, NULL) == 0, "%s", e.msg);
	ck_assert_str_eq(c.listen, "127.0.0.1:0");
	ck_assert_int_eq(c.workers, 3);
	ck_assert_uint_eq(c.body_limit, 64 * 1024);
	ck_assert_int_eq(c.max_running_jobs, 2);
	ck_assert(c.snapshot_seconds == 0.5);
	ck_assert_int_eq(c.allow_remote, 1);
	ck_assert_str_eq(c.token, "abc-DEF_1.2~3+4/5==");
	ck_assert_str_eq(c.web_dir, "/srv/traind web");
	/* Flags come after the file and win. */
	ck_assert_int_eq(srvconf_set(&c, "max-running-jobs", "4", &e), 0);
	ck_assert_int_eq(c.max_running_jobs, 4);
	ck_assert_int_eq(srvconf_set(&c, "body-limit", "2MiB", &e), 0);
	ck_assert_uint_eq(c.body_limit, 2u << 20);
	ck_assert_int_eq(srvconf_set(&c, "workers", "auto", &e), 0);
	ck_assert_int_gt(c.workers, 0);
	ck_assert_int_eq(srvconf_set(&c, "train-nice", "0", &e), 0);
	ck_assert_int_eq(c.train_nice, 0);
	ck_assert_int_eq(srvconf_set(&c, "train_nice", "20", &e), TD_EINVAL);
	ck_assert_int_eq(c.train_nice, 0);
	srvconf_free(&c);
}
END_TEST

START_TEST(test_file_errors)
{
	struct srvconf c;
	struct td_error e;
	char *path;
	/* The error names the file, the line and the key. */
	ck_assert_int_eq(load("listen = 127.0.0.1:0\n\nworkers = many\n", &c, &e, &path), TD_EINVAL);
	char want[1024];
	snprintf(want, sizeof(want), "%s:3: workers: workers must be an integer from 1 to 256 or "
		 "auto, not \"many\"", path);
	ck_assert_str_eq(e.msg, want);
	ck_assert_str_eq(e.field, "workers");
	free(path);
	srvconf_free(&c);

	const struct {
		const char *text, *msg, *field;
	} bad[] = {
		{"wokers = 2\n", ":1: wokers: unknown key \"wokers\"; keys are listen,", "wokers"},
		{"max-jobs = 2\n", "unknown key \"max-jobs\"", "max-jobs"},
		{"workers 2\n", ":1: expected key = value", ""},
		{"max_running_jobs = 0\n", "max_running_jobs must be an integer from 1 to 64", "max_running_jobs"},
		{"max_instances = 1e9\n", "max_instances must be an integer", "max_instances"},
		{"body_limit = 10\n", "body_limit must be a whole number of bytes from 1024", "body_limit"},
		{"body_limit = 8X\n", "not \"8X\"", "body_limit"},
		{"snapshot_seconds = nan\n", "snapshot_seconds must be a number from 0.05 to 3600", "snapshot_seconds"},
		{"allow_remote = maybe\n", "allow_remote must be true or false", "allow_remote"},
		{"listen = 8080\n", "listen must be host:port", "listen"},
		{"listen = 127.0.0.1:70000\n", "listen must be host:port", "listen"},
		{"listen = ::1:80\n", "listen must be host:port", "listen"},
		{"token = has space\n", "token must be", "token"},
		{"dataset = x idx a b c\n", "dataset x: dataset must be NAME idx", "dataset"},
		{"dataset = x tsv a b\n", "the format must be idx or csv", "dataset"},
		{"dataset = ../x idx a b c d\n", "may only hold letters", "dataset"},
		{"dataset = x csv a b width=0\n", "width must be an integer from 1 to 256", "dataset"},
		{"dataset = x idx a b c d width=28\n", "unknown option \"width\"", "dataset"},
		{"dataset = x idx a b c d\ndataset = x csv a b\n", ":2: dataset: dataset x is defined twice", "dataset"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_int_eq(load(bad[i].text, &c, &e, NULL), TD_EINVAL);
		ck_assert_msg(strstr(e.msg, bad[i].msg), "%s: \"%s\" lacks \"%s\"", bad[i].text,
			      e.msg, bad[i].msg);
		ck_assert_str_eq(e.field, bad[i].field);
		srvconf_free(&c);
	}
	ck_assert_int_eq(srvconf_defaults(&c), 0);
	ck_assert_int_eq(srvconf_load_file(&c, "/nonexistent/traind.conf", &e), TD_EIO);
	ck_assert(strstr(e.msg, "/nonexistent/traind.conf"));
	srvconf_free(&c);
}
END_TEST

START_TEST(test_datasets)
{
	struct srvconf c;
	struct td_error e;
	const char *text =
		"data_dir = /data\n"
		"dataset = k49 idx k/tri.gz k/trl.gz /abs/tei.gz k/tel.gz classes=a,b,c\n"
		"dataset = letters csv l/train.csv l/test.csv width=20 height=24 classes=x,y\n";
	ck_assert_msg(load(text, &c, &e, NULL) == 0, "%s", e.msg);
	ck_assert_int_eq(c.n_datasets, 2);
	ck_assert_int_eq(srvconf_finish(&c, &e), 0);
	const struct dataset_spec *k = &c.datasets[0], *l = &c.datasets[1];
	ck_assert_str_eq(k->name, "k49");
	ck_assert_int_eq(k->format, DATASET_IDX);
	ck_assert_str_eq(k->train_images, "/data/k/tri.gz");
	ck_assert_str_eq(k->train_labels, "/data/k/trl.gz");
	ck_assert_str_eq(k->test_images, "/abs/tei.gz");
	ck_assert_str_eq(k->test_labels, "/data/k/tel.gz");
	ck_assert_str_eq(k->classes, "a,b,c");
	ck_assert_str_eq(l->name, "letters");
	ck_assert_int_eq(l->format, DATASET_CSV);
	ck_assert_str_eq(l->train_images, "/data/l/train.csv");
	ck_assert_str_eq(l->test_images, "/data/l/test.csv");
	ck_assert_int_eq(l->width, 20);
	ck_assert_int_eq(l->height, 24);
	srvconf_free(&c);
}
END_TEST

START_TEST(test_remote_and_token)
{
	struct srvconf c;
	struct td_error e;
	ck_assert_int_eq(srvconf_defaults(&c), 0);
	ck_assert_int_eq(srvconf_set(&c, "listen", "0.0.0.0:8080", &e), 0);
	ck_assert_int_eq(srvconf_finish(&c, &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "listen");
	ck_assert(strstr(e.msg, "not a loopback address and no token is set"));
	ck_assert_int_eq(srvconf_set(&c, "allow_remote", "true", &e), 0);
	ck_assert_int_eq(srvconf_finish(&c, &e), 0);
	ck_assert_int_eq(srvconf_set(&c, "allow_remote", "false", &e), 0);
	ck_assert_int_eq(srvconf_set(&c, "token", "t0ken", &e), 0);
	ck_assert_int_eq(srvconf_finish(&c, &e), 0);
	/* Loopback names and addresses need neither. */
	ck_assert_int_eq(srvconf_set(&c, "token", "", &e), 0);
	ck_assert_int_eq(srvconf_set(&c, "listen", "[::1]:0", &e), 0);
	ck_assert_int_eq(srvconf_finish(&c, &e), 0);
	ck_assert_int_eq(srvconf_set(&c, "listen", "localhost:0", &e), 0);
	ck_assert_int_eq(srvconf_finish(&c, &e), 0);

	/* token_file: read and trimmed; not with token; a bad one is named. */
	char *tf = test_path(tmp, "token");
	ck_assert_int_eq(test_write_file(tf, "  fromfile123\n", 14), 0);
	ck_assert_int_eq(srvconf_set(&c, "token_file", tf, &e), 0);
	ck_assert_int_eq(srvconf_finish(&c, &e), 0);
	ck_assert_str_eq(c.token, "fromfile123");
	ck_assert_int_eq(srvconf_finish(&c, &e), TD_EINVAL); /* now both are set */
	ck_assert(strstr(e.msg, "not both"));
	ck_assert_int_eq(srvconf_set(&c, "token", "", &e), 0);
	ck_assert_int_eq(test_write_file(tf, "two words\n", 10), 0);
	ck_assert_int_eq(srvconf_finish(&c, &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "token_file");
	ck_assert_int_eq(srvconf_set(&c, "token_file", "/nonexistent", &e), 0);
	ck_assert_int_eq(srvconf_finish(&c, &e), TD_EIO);
	free(tf);

	/* The log shows every key but never the token. */
	ck_assert_int_eq(srvconf_set(&c, "token_file", "", &e), 0);
	ck_assert_int_eq(srvconf_set(&c, "token", "sup3rsecret", &e), 0);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	srvconf_log(&c, f);
	fclose(f);
	ck_assert(!strstr(buf, "sup3rsecret"));
	ck_assert(strstr(buf, "token = (set, redacted)"));
	ck_assert(strstr(buf, "max_queued_jobs = 64"));
	free(buf);
	srvconf_free(&c);
}
END_TEST

/* etc/traind.conf shows every key of the table, commented out, with a
 * value the parser accepts; uncommented, the file loads. */
START_TEST(test_shipped_config)
{
	const char *src = getenv("TRAIND_SRCDIR");
	char path[4096];
	snprintf(path, sizeof(path), "%s/etc/traind.conf", src && *src ? src : ".");
	size_t len;
	char *text = test_read_file(path, &len);
	ck_assert_msg(text != NULL, "cannot read %s", path);
	char *z = realloc(text, len + 1); /* test_read_file does not terminate */
	ck_assert_ptr_nonnull(z);
	text = z;
	text[len] = '\0';
	/* Every --flag of the help is a key the file documents. */
	char *help = NULL;
	size_t hlen = 0;
	FILE *f = open_memstream(&help, &hlen);
	srvconf_print_help(f);
	fclose(f);
	int keys = 0;
	for (char *p = help; (p = strstr(p, "  --")); p += 4) {
		char key[64], want[80];
		sscanf(p + 4, "%63s", key);
		for (char *k = key; *k; k++)
			if (*k == '-')
				*k = '_';
		snprintf(want, sizeof(want), "\n#%s =", key);
		ck_assert_msg(strstr(text, want), "etc/traind.conf does not document %s", key);
		keys++;
	}
	ck_assert_int_ge(keys, 19);
	free(help);
	/* Uncomment every "#key = value" line and load it. */
	char *out = malloc(len + 1), *o = out;
	for (char *line = text; *line;) {
		char *nl = strchr(line, '\n');
		size_t n = nl ? (size_t)(nl - line + 1) : strlen(line);
		int example = line[0] == '#' && line[1] >= 'a' && line[1] <= 'z' && memchr(line, '=', n);
		memcpy(o, line + example, n - (size_t)example);
		o += n - (size_t)example;
		line += n;
	}
	*o = '\0';
	struct srvconf c;
	struct td_error e;
	int rc = load(out, &c, &e, NULL);
	ck_assert_msg(rc == 0, "%s", e.msg);
	ck_assert_int_eq(c.n_datasets, 2);
	srvconf_free(&c);
	free(out);
	free(text);
}
END_TEST

/* serve_main's own errors, before it starts anything. */
START_TEST(test_serve_args)
{
	char *argv1[] = {"traind", "serve", "--config", "/nonexistent/traind.conf", NULL};
	ck_assert_int_eq(serve_main(4, argv1), 2);
	char *argv2[] = {"traind", "serve", "--workers", "0", NULL};
	ck_assert_int_eq(serve_main(4, argv2), 2);
	char *argv3[] = {"traind", "serve", "--no-such-key", "1", NULL};
	ck_assert_int_eq(serve_main(4, argv3), 2);
	char *argv4[] = {"traind", "serve", "--listen", NULL};
	ck_assert_int_eq(serve_main(3, argv4), 2);
	char *argv5[] = {"traind", "serve", "--listen=0.0.0.0:0", NULL};
	ck_assert_int_eq(serve_main(3, argv5), 2);
	char *argv6[] = {"traind", "serve", "--help", NULL};
	ck_assert_int_eq(serve_main(3, argv6), 0);
}
END_TEST

Suite *suite_srvconf(void)
{
	Suite *s = suite_create("srvconf");
	TCase *tc = tcase_create("srvconf");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_file);
	tcase_add_test(tc, test_file_errors);
	tcase_add_test(tc, test_datasets);
	tcase_add_test(tc, test_remote_and_token);
	tcase_add_test(tc, test_shipped_config);
	tcase_add_test(tc, test_serve_args);
	suite_add_tcase(s, tc);
	return s;
}
