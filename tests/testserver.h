/*
 * testserver.h - a daemon in-process for the suites that talk HTTP to it
 * (check_oip.c, check_connguard.c): the synthetic ten-class data set of
 * check_http.c written as IDX files, a server on a free 127.0.0.1 port,
 * a libcurl client and a trained model.
 */
#ifndef TESTSERVER_H
#define TESTSERVER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define TS_SIDE 28
#define TS_PIXELS (TS_SIDE * TS_SIDE)

/* Configuration keys and values set after the defaults, NULL-terminated
 * pairs (e.g. {"header_timeout", "1", NULL}); NULL for none. */
void ts_start(const char *const *settings);
void ts_stop(void);
int ts_port(void);

/* Class c: a bright 6x6 square at its own place over faint noise. */
void ts_synth_image(int c, uint32_t *seed, uint8_t *img);

struct ts_resp {
	long status;
	char *body;
	size_t len;
	char headers[4096];
	size_t hlen;
	json_t *json; /* the body parsed, when it is JSON */
};

/* The local address requests come from from now on ("127.0.0.2"), or
 * NULL for the system's choice. */
void ts_set_source(const char *ip);

/* One request; extra headers are "Name: value" lines, NULL-terminated. */
long ts_request(const char *method, const char *path, const char *ctype,
		const char *const *headers, const void *body, size_t len, struct ts_resp *r);
long ts_get(const char *path, struct ts_resp *r);
void ts_resp_free(struct ts_resp *r);
/* A response header's value (case-insensitive name), or "". */
const char *ts_header(const struct ts_resp *r, const char *name, char *buf, size_t len);
/* A trained synthetic model (a completed job); writes its id. */
void ts_trained_model(char id[32]);

#endif
