/*
 * connguard_mhd.c - the connection guard wired to libmicrohttpd's
 * callbacks (see connguard.h): what MHD tells of a connection's life, told
 * to the guard.
 */
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "traind/connguard.h"

struct conn *connguard_mhd_conn(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *i =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return i ? i->socket_context : NULL;
}

enum MHD_Result connguard_mhd_accept(void *guard, const struct sockaddr *addr, socklen_t len)
{
	(void)len;
	return connguard_check(guard, addr) ? MHD_NO : MHD_YES;
}

/* MHD calls CLOSED for every STARTED, before it closes the socket. */
void connguard_mhd_connection(void *guard, struct MHD_Connection *conn, void **socket_context,
			      enum MHD_ConnectionNotificationCode code)
{
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fd =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *addr =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		*socket_context = fd ? connguard_open(guard, fd->connect_fd,
						      addr ? addr->client_addr : NULL)
				     : NULL;
	} else {
		connguard_close(guard, *socket_context);
		*socket_context = NULL;
	}
}

/* The request line is in. Returning NULL leaves the request's *req_cls
 * empty, as the access handler expects it. */
void *connguard_mhd_request_line(void *guard, const char *uri, struct MHD_Connection *conn)
{
	(void)uri;
	connguard_request_line(guard, connguard_mhd_conn(conn));
	return NULL;
}

/* MHD's messages go to stderr, but for the connections clients (or the
 * guard) closed mid-request: an attack would write a line for each. */
void connguard_mhd_log(void *guard, const char *fmt, va_list ap)
{
	(void)guard;
	if (strncmp(fmt, "Connection was closed by remote side", 36) == 0 ||
	    strncmp(fmt, "Connection socket is closed", 27) == 0)
		return;
	fputs("traind: libmicrohttpd: ", stderr);
	vfprintf(stderr, fmt, ap);
}
