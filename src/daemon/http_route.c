/*
 * http_route.c - matching a request path against a route pattern of the
 * table (see http.h): literal segments, one {id} segment (with an optional
 * literal suffix, as in "{id}:pause"), and a trailing "*" for the rest.
 * Pure: http.c's router calls it for each row.
 */
#include <string.h>

#include "traind/http.h"

/* Matches one path segment [seg, seg+len) against a pattern segment. */
static int match_segment(const char *pat, size_t plen, const char *seg, size_t len,
			 struct http_request *r)
{
	if (plen >= 4 && memcmp(pat, "{id}", 4) == 0) {
		const char *suffix = pat + 4;
		size_t slen = plen - 4;
		if (len <= slen || memcmp(seg + len - slen, suffix, slen) != 0)
			return 0;
		size_t idlen = len - slen;
		if (idlen >= HTTP_ID_MAX)
			return 0;
		for (size_t i = 0; i < idlen; i++)
			if (seg[i] == ':' || (unsigned char)seg[i] < 0x20)
				return 0;
		memcpy(r->id, seg, idlen);
		r->id[idlen] = '\0';
		return 1;
	}
	return plen == len && memcmp(pat, seg, len) == 0;
}

/* The length of the segment at s: up to a '/' or the end. (strcspn with
 * its set set up anew for every segment of every row was most of the
 * router's time.) */
static size_t segment_length(const char *s)
{
	size_t n = 0;
	while (s[n] && s[n] != '/')
		n++;
	return n;
}

/* Does `path` match `pattern`? Fills r->id and r->rest when it does. */
int http_route_match(const char *pattern, const char *path, struct http_request *r)
{
	const char *p = pattern, *u = path;
	r->id[0] = '\0';
	r->rest = "";
	for (;;) {
		if (*p == '*' && p[1] == '\0') {
			r->rest = u;
			return 1;
		}
		if (*p != '/' || *u != '/')
			return *p == '\0' && *u == '\0';
		p++;
		u++;
		if (*p != '{' && *p != '*') {
			/* A literal segment: most rows fail at their first
			 * differing byte, before any length is taken. */
			while (*p && *p != '/' && *p == *u)
				p++, u++;
			if ((*p && *p != '/') || (*u && *u != '/'))
				return 0;
			continue;
		}
		size_t plen = segment_length(p), ulen = segment_length(u);
		if (*p == '*' && plen == 1) {
			r->rest = u;
			return 1;
		}
		if (!match_segment(p, plen, u, ulen, r))
			return 0;
		p += plen;
		u += ulen;
	}
}
