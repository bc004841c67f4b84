/*
 * check_paths.c - the one rule for the data dir and the web dir (paths.h):
 * each step wins over every later one, a folder is a checkout only with
 * its marks, and srvconf_finish applies the rule to what neither the file
 * nor a flag set.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_suites.h"
#include "testutil.h"
#include "traind/paths.h"
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

/* tmp/NAME made into a checkout: configure.ac and web/index.html. */
static char *make_checkout(const char *name)
{
	char *dir = test_path(tmp, name), *web = test_path(dir, "web");
	ck_assert_int_eq(mkdir(dir, 0755), 0);
	ck_assert_int_eq(mkdir(web, 0755), 0);
	char *p = test_path(dir, "configure.ac");
	ck_assert_int_eq(test_write_file(p, "AC_INIT\n", 8), 0);
	free(p);
	p = test_path(web, "index.html");
	ck_assert_int_eq(test_write_file(p, "<h1>\n", 5), 0);
	free(p);
	free(web);
	return dir;
}

static void expect(enum paths_kind kind, const struct paths_inputs *in, const char *path,
		   const char *why)
{
	char out[PATH_MAX];
	const char *from = paths_resolve_in(kind, in, out, sizeof(out));
	ck_assert_ptr_nonnull(from);
	ck_assert_str_eq(out, path);
	ck_assert_msg(strstr(from, why), "chosen by \"%s\", not by \"%s\"", from, why);
}

/* Every step is set, then removed from the top: each time the next one
 * answers, for the data dir and the web dir alike. */
START_TEST(test_resolution_order)
{
	char *exe = make_checkout("exe"), *cwd = make_checkout("cwd");
	char exe_data[PATH_MAX], cwd_data[PATH_MAX], exe_web[PATH_MAX], cwd_web[PATH_MAX];
	snprintf(exe_data, sizeof(exe_data), "%s/data", exe);
	snprintf(cwd_data, sizeof(cwd_data), "%s/data", cwd);
	snprintf(exe_web, sizeof(exe_web), "%s/web", exe);
	snprintf(cwd_web, sizeof(cwd_web), "%s/web", cwd);
	struct paths_inputs in = {"/flag", "/config", "/env", exe, cwd, "/installed"};
	for (int k = 0; k < 2; k++) {
		enum paths_kind kind = k ? PATHS_WEB : PATHS_DATA;
		struct paths_inputs i = in;
		expect(kind, &i, "/flag", "flag");
		i.flag = "";
		expect(kind, &i, "/config", "configuration");
		i.config = NULL;
		expect(kind, &i, "/env", k ? "TRAIND_WEB_DIR" : "TRAIND_DATA_DIR");
		i.env = "";
		expect(kind, &i, k ? exe_web : exe_data, "binary");
		i.exe_dir = NULL;
		expect(kind, &i, k ? cwd_web : cwd_data, "working directory");
		i.cwd = NULL;
		expect(kind, &i, "/installed", "installed");
	}
	free(exe);
	free(cwd);
}
END_TEST

/* A folder without both marks is not a checkout, whatever else it holds:
 * an installed binary's folder with a data/ beside it is skipped. */
START_TEST(test_checkout_marks)
{
	char *bin = test_path(tmp, "bin"), *data = test_path(tmp, "bin/data");
	ck_assert_int_eq(mkdir(bin, 0755), 0);
	ck_assert_int_eq(mkdir(data, 0755), 0);
	ck_assert(!paths_is_checkout(bin));
	struct paths_inputs in = {.exe_dir = bin, .cwd = bin, .installed = "/usr/share/traind"};
	expect(PATHS_DATA, &in, "/usr/share/traind", "installed");
	char *p = test_path(bin, "configure.ac");
	test_write_file(p, "x", 1);
	ck_assert(!paths_is_checkout(bin)); /* no web/index.html yet */
	free(p);
	char *co = make_checkout("co");
	ck_assert(paths_is_checkout(co));
	in.cwd = co;
	char want[PATH_MAX];
	snprintf(want, sizeof(want), "%s/data", co);
	expect(PATHS_DATA, &in, want, "working directory");
	/* A path that does not fit is refused, not cut. */
	char out[8];
	struct paths_inputs longer = {.flag = "/a/long/path"};
	ck_assert_ptr_null(paths_resolve_in(PATHS_DATA, &longer, out, sizeof(out)));
	free(co);
	free(bin);
	free(data);
}
END_TEST

/* The process's own inputs: the environment, then (in this build's
 * checkout or elsewhere) whatever the rule finds; a configured value
 * wins over the environment. */
START_TEST(test_environment_and_srvconf)
{
	char out[PATH_MAX];
	setenv("TRAIND_DATA_DIR", "/from/env", 1);
	setenv("TRAIND_WEB_DIR", "/web/env", 1);
	ck_assert_str_eq(paths_resolve(PATHS_DATA, NULL, NULL, out, sizeof(out)),
			 "TRAIND_DATA_DIR");
	ck_assert_str_eq(out, "/from/env");
	ck_assert_str_eq(paths_resolve(PATHS_DATA, NULL, "/conf", out, sizeof(out)),
			 "the configuration");
	ck_assert_str_eq(paths_resolve(PATHS_DATA, "/flag", "/conf", out, sizeof(out)), "the flag");

	struct srvconf c;
	struct td_error e;
	ck_assert_int_eq(srvconf_defaults(&c), 0);
	ck_assert_str_eq(c.data_dir, "");
	ck_assert_int_eq(srvconf_set(&c, "web_dir", "/srv/web", &e), 0);
	ck_assert_int_eq(srvconf_set(&c, "dataset", "mine csv a.csv /abs/b.csv", &e), 0);
	ck_assert_int_eq(srvconf_finish(&c, &e), 0);
	ck_assert_str_eq(c.data_dir, "/from/env");
	ck_assert_str_eq(c.data_dir_from, "TRAIND_DATA_DIR");
	ck_assert_str_eq(c.web_dir, "/srv/web");
	ck_assert_str_eq(c.web_dir_from, "the configuration");
	ck_assert_str_eq(c.datasets[0].train_images, "/from/env/a.csv");
	ck_assert_str_eq(c.datasets[0].test_images, "/abs/b.csv");
	srvconf_free(&c);

	/* Without the environment, in a checkout as the working directory. */
	unsetenv("TRAIND_DATA_DIR");
	unsetenv("TRAIND_WEB_DIR");
	char *co = make_checkout("co"), was[PATH_MAX];
	ck_assert_ptr_nonnull(getcwd(was, sizeof(was)));
	ck_assert_int_eq(chdir(co), 0);
	const char *from = paths_resolve(PATHS_WEB, NULL, NULL, out, sizeof(out));
	ck_assert_int_eq(chdir(was), 0);
	/* The test binary's folder (tests/) is no checkout, so the working
	 * directory answers. */
	ck_assert_str_eq(from, "the checkout in the working directory");
	char want[PATH_MAX];
	snprintf(want, sizeof(want), "%s/web", co);
	ck_assert_str_eq(out, want);
	free(co);
}
END_TEST

Suite *suite_paths(void)
{
	Suite *s = suite_create("paths");
	TCase *tc = tcase_create("paths");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_resolution_order);
	tcase_add_test(tc, test_checkout_marks);
	tcase_add_test(tc, test_environment_and_srvconf);
	suite_add_tcase(s, tc);
	return s;
}
