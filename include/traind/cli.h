/*
 * cli.h - the command line: `traind train`, `traind gradcheck`,
 * `traind convert-digits`, `traind serve` ... one table of commands.
 */
#ifndef TRAIND_CLI_H
#define TRAIND_CLI_H

/* Runs the command named by argv[1]; returns the process exit status. */
int cli_main(int argc, char **argv);

#endif
