/*
 * main.c - the traind binary: `traind train`, `traind gradcheck`,
 * `traind serve`, ... Everything lives in the library; this only dispatches.
 */
#include "traind/cli.h"

int main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
