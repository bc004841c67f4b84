/* cli.h - placeholder */
#ifndef TRAIND_CLI_H
#define TRAIND_CLI_H
#endif
