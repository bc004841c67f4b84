/*
 * cliargs.c - a command's own options: parsing argv into them and the job
 * options, and their --help lines (see cliargs.h).
 */
#include "traind/cliargs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int opt_index(const struct cli_opt *opts, const char *name)
{
	for (int i = 0; opts && opts[i].name; i++)
		if (strcmp(opts[i].name, name) == 0)
			return i;
	return -1;
}

/* Parses argv[first..] into the command's options and (if cfg) job options. */
int cli_parse_args(int argc, char **argv, int first, const struct cli_opt *opts,
		      struct job_config *cfg, struct cli_args *a)
{
	memset(a, 0, sizeof(*a));
	for (int i = first; i < argc; i++) {
		const char *arg = argv[i];
		if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
			a->help = 1;
			continue;
		}
		if (strncmp(arg, "--", 2) != 0) {
			fprintf(stderr, "traind: unexpected argument \"%s\" (options start with --)\n",
				arg);
			return -1;
		}
		char key[64];
		const char *eq = strchr(arg + 2, '=');
		size_t klen = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
		if (klen >= sizeof(key)) {
			fprintf(stderr, "traind: unknown option %s\n", arg);
			return -1;
		}
		memcpy(key, arg + 2, klen);
		key[klen] = '\0';
		int k = opt_index(opts, key);
		int is_job = k < 0 && cfg && jobcfg_has_option(key);
		if (k < 0 && !is_job) {
			fprintf(stderr, "traind: unknown option --%s (see --help)\n", key);
			return -1;
		}
		const char *value = NULL;
		if (k >= 0 && !opts[k].has_value) {
			if (eq) {
				fprintf(stderr, "traind: --%s takes no value\n", key);
				return -1;
			}
			a->values[k] = "1";
			continue;
		}
		if (eq) {
			value = eq + 1;
		} else if (i + 1 < argc) {
			value = argv[++i];
		} else {
			fprintf(stderr, "traind: --%s needs a value\n", key);
			return -1;
		}
		if (k >= 0) {
			a->values[k] = value;
			continue;
		}
		struct td_error err;
		if (jobcfg_set(cfg, key, value, &err)) {
			fprintf(stderr, "traind: --%s: %s\n", key, err.msg);
			return -1;
		}
	}
	return 0;
}

void cli_print_opts(FILE *f, const struct cli_opt *opts)
{
	for (int i = 0; opts[i].name; i++) {
		char flag[64];
		snprintf(flag, sizeof(flag), "--%s%s", opts[i].name, opts[i].has_value ? " X" : "");
		fprintf(f, "  %-17s %s\n", flag, opts[i].help);
	}
}

int cli_parse_number(const char *flag, const char *v, double *out)
{
	char *end;
	double d = strtod(v, &end);
	if (end == v || *end || !isfinite(d)) {
		fprintf(stderr, "traind: --%s must be a number, not \"%s\"\n", flag, v);
		return -1;
	}
	*out = d;
	return 0;
}
