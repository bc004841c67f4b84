/*
 * serve.h - `traind serve`: the daemon, and the same server in-process
 * for tests.
 *
 * A server is the data set registry, the job manager, the API and the
 * HTTP layer, started in that order and stopped in reverse: stop
 * accepting connections, stop the job runners at a step boundary, finish
 * the requests in flight, free.
 */
#ifndef TRAIND_SERVE_H
#define TRAIND_SERVE_H

#include "traind/error.h"
#include "traind/srvconf.h"

struct server;

/* Starts a server for a finished configuration (see srvconf_finish); the
 * configuration is copied. */
int server_start(const struct srvconf *c, struct server **out, struct td_error *e);
/* The port it listens on. */
int server_port(const struct server *s);
/* Graceful stop; frees everything. */
void server_stop(struct server *s);

/* `traind serve [--config FILE] [--key value ...]`; returns the exit status. */
int serve_main(int argc, char **argv);

#endif
