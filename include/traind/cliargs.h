/*
 * cliargs.h - what the files of the traind command share: a command's own
 * options (a small table per command, beside the job options of
 * jobcfg.h), their parsing and help, and the commands that live in files
 * of their own (traind train: train_cmd.c).
 */
#ifndef TRAIND_CLIARGS_H
#define TRAIND_CLIARGS_H

#include <stdio.h>

#include "traind/jobcfg.h"

/* A command's own options: name (without --), takes a value?, help. */
struct cli_opt {
	const char *name;
	int has_value;
	const char *help;
};

struct cli_args {
	int help;
	/* values of the command's own options, parallel to its table */
	const char *values[16];
};

/* Parses argv[first..] into the command's options and (if cfg) job
 * options; prints what is wrong and returns nonzero on a bad argument. */
int cli_parse_args(int argc, char **argv, int first, const struct cli_opt *opts,
		   struct job_config *cfg, struct cli_args *a);
/* One line per option, as --help shows them. */
void cli_print_opts(FILE *f, const struct cli_opt *opts);
/* A finite number for --flag; prints the error and returns -1 otherwise. */
int cli_parse_number(const char *flag, const char *v, double *out);

/* traind train (train_cmd.c). */
int cli_cmd_train(int argc, char **argv);

#endif
