/*
 * libsignet internals: the connection, its line framing, error filling.
 * Not installed.
 */
#ifndef SIGNET_CLIENT_CONN_H
#define SIGNET_CLIENT_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <signet/client.h>

struct signet_conn {
	int fd;
	char *path;
	int64_t next_id;  /* ids are 1, 2, 3, ... per connection */
	char *rbuf;       /* received bytes; [roff, rlen) not yet consumed */
	size_t rlen, roff, rcap;
	json_t *notes;    /* notifications not yet taken, oldest first */
};

#define SIGNET_CLIENT_R_REQUEST_TOO_LONG "request_too_long" /* E_LOCAL */

/* Fills err (if not NULL) and returns status. */
int conn_fail(struct signet_error *err, int status, int code,
    const char *reason, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * Sends line (len bytes, ending in '\n', at most SIGNET_MAX_LINE) with
 * fds attached to its first byte, then reads the reply to request id and
 * parses it into *result or err. The caller owns line and wipes it.
 */
SIGNET_MUST_CHECK int conn_roundtrip(struct signet_conn *conn,
    const char *line, size_t len, int64_t id, const int *fds, size_t nfds,
    json_t **result, struct signet_error *err);

#endif
