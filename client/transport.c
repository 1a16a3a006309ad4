/*
 * One request line out (with its descriptors), one reply line in, and the
 * reply checked against JSON-RPC 2.0 and the request's id.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "client/conn.h"

int
conn_fail(struct signet_error *err, int status, int code, const char *reason,
    const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return status;
	signet_error_clear(err);
	err->code = code;
	snprintf(err->reason, sizeof(err->reason), "%s", reason);
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return status;
}

/* The most descriptors one sendmsg carries (the kernel's SCM_MAX_FD). */
#define SEND_FDS_MAX 253u

/*
 * Writes all of line. The descriptors ride on the first bytes: each
 * sendmsg carries up to SEND_FDS_MAX of them attached to its first byte
 * (the kernel never splits ancillary data from it); while more remain, a
 * message sends just that one byte, so the next batch gets the next byte
 * (docs/protocol.md, "Passing documents by descriptor"). Returns 0 or an
 * errno value.
 */
static int
send_line(int fd, const char *line, size_t len, const int *fds, size_t nfds)
{
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int) * SEND_FDS_MAX)];
	} cbuf;
	size_t off = 0, fsent = 0;

	if ((nfds + SEND_FDS_MAX - 1) / SEND_FDS_MAX > len)
		return EINVAL; /* not enough bytes to carry them */
	while (off < len) {
		size_t batch = nfds - fsent;
		struct msghdr msg;
		struct iovec iov;
		ssize_t n;

		if (batch > SEND_FDS_MAX)
			batch = SEND_FDS_MAX;
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = (void *)(line + off);
		iov.iov_len = batch > 0 && fsent + batch < nfds ? 1 : len - off;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		if (batch > 0) {
			struct cmsghdr *cm;

			memset(&cbuf, 0, sizeof(cbuf));
			msg.msg_control = cbuf.buf;
			msg.msg_controllen = CMSG_SPACE(sizeof(int) * batch);
			cm = CMSG_FIRSTHDR(&msg);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int) * batch);
			memcpy(CMSG_DATA(cm), fds + fsent, sizeof(int) * batch);
		}
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				/* Someone made the socket non-blocking. */
				struct pollfd pfd = { .fd = fd, .events = POLLOUT };
				(void)poll(&pfd, 1, -1);
				continue;
			}
			return errno;
		}
		/* Any byte sent took the whole batch with it. */
		fsent += batch;
		off += (size_t)n;
	}
	return 0;
}

/* Closes descriptors a (misbehaving) agent passed us. */
static void
close_passed_fds(struct msghdr *msg)
{
	struct cmsghdr *cm;

	for (cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
		size_t i, n;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			int pfd;

			memcpy(&pfd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			(void)close(pfd);
		}
	}
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* recv_line: no complete line arrived within the time given. */
#define RECV_TIMEOUT 1

/*
 * Reads until a '\n', waiting at most timeout_ms (-1: as long as it
 * takes). On success *line points at the NUL-terminated line (without
 * '\n') inside conn->rbuf, valid until the next call. A partial line
 * stays buffered across a timeout.
 */
static int
recv_line(struct signet_conn *conn, int timeout_ms, char **line, size_t *len,
    struct signet_error *err)
{
	int64_t deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	size_t scanned;
	char *nl = NULL;

	/* Drop the line handed out last time. */
	if (conn->roff > 0) {
		memmove(conn->rbuf, conn->rbuf + conn->roff,
		    conn->rlen - conn->roff);
		conn->rlen -= conn->roff;
		conn->roff = 0;
	}
	scanned = 0;
	for (;;) {
		union {
			struct cmsghdr hdr;
			char buf[CMSG_SPACE(sizeof(int) * 8)];
		} cbuf;
		struct pollfd pfd = { .fd = conn->fd, .events = POLLIN };
		struct msghdr msg;
		struct iovec iov;
		ssize_t n;
		int wait;

		if (conn->rlen > scanned && (nl = memchr(conn->rbuf + scanned,
		    '\n', conn->rlen - scanned)) != NULL)
			break;
		scanned = conn->rlen;
		if (conn->rlen >= SIGNET_CLIENT_MAX_REPLY)
			return conn_fail(err, SIGNET_CLIENT_E_PROTOCOL, 0,
			    SIGNET_CLIENT_R_REPLY_TOO_LONG,
			    "reply longer than %u bytes",
			    SIGNET_CLIENT_MAX_REPLY);
		if (conn->rcap - conn->rlen < 4096 &&
		    conn->rcap < SIGNET_CLIENT_MAX_REPLY) {
			size_t ncap = conn->rcap ? conn->rcap * 2 : 16384;
			char *p;

			if (ncap > SIGNET_CLIENT_MAX_REPLY)
				ncap = SIGNET_CLIENT_MAX_REPLY;
			if ((p = realloc(conn->rbuf, ncap + 1)) == NULL)
				return conn_fail(err, SIGNET_CLIENT_E_LOCAL, 0,
				    SIGNET_CLIENT_R_NOMEM, "out of memory");
			conn->rbuf = p;
			conn->rcap = ncap;
		}
		/* Also covers a socket someone made non-blocking. */
		wait = deadline < 0 ? -1 : (int)(deadline > now_ms() ?
		    deadline - now_ms() : 0);
		if ((n = poll(&pfd, 1, wait)) == 0)
			return RECV_TIMEOUT;
		if (n < 0 && errno != EINTR)
			return conn_fail(err, SIGNET_CLIENT_E_TRANSPORT, 0,
			    SIGNET_CLIENT_R_IO_ERROR, "waiting for %s: %s",
			    conn->path, strerror(errno));
		if (n < 0)
			continue;
		memset(&msg, 0, sizeof(msg));
		iov.iov_base = conn->rbuf + conn->rlen;
		iov.iov_len = conn->rcap - conn->rlen;
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = sizeof(cbuf.buf);
		n = recvmsg(conn->fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN ||
			    errno == EWOULDBLOCK)
				continue;
			return conn_fail(err, SIGNET_CLIENT_E_TRANSPORT, 0,
			    SIGNET_CLIENT_R_IO_ERROR, "receiving from %s: %s",
			    conn->path, strerror(errno));
		}
		close_passed_fds(&msg);
		if (n == 0)
			return conn_fail(err, SIGNET_CLIENT_E_TRANSPORT, 0,
			    SIGNET_CLIENT_R_CLOSED,
			    "agent closed the connection without a reply");
		conn->rlen += (size_t)n;
	}
	*nl = '\0';
	*line = conn->rbuf + conn->roff;
	*len = (size_t)(nl - *line);
	conn->roff = (size_t)(nl - conn->rbuf) + 1;
	return SIGNET_CLIENT_OK;
}

static int
bad_reply(struct signet_error *err, const char *what)
{
	return conn_fail(err, SIGNET_CLIENT_E_PROTOCOL, 0,
	    SIGNET_CLIENT_R_BAD_REPLY, "malformed reply from agent: %s", what);
}

/* The next line as a JSON-RPC 2.0 object, or RECV_TIMEOUT. */
static int
recv_message(struct signet_conn *conn, int timeout_ms, json_t **msg,
    struct signet_error *err)
{
	json_error_t jerr;
	json_t *m, *v;
	char *line = NULL;
	size_t len = 0;
	int r;

	*msg = NULL;
	if ((r = recv_line(conn, timeout_ms, &line, &len, err)) != 0)
		return r;
	if ((m = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		return bad_reply(err, jerr.text);
	if (!json_is_object(m)) {
		json_decref(m);
		return bad_reply(err, "not an object");
	}
	v = json_object_get(m, "jsonrpc");
	if (!json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0) {
		json_decref(m);
		return bad_reply(err, "jsonrpc is not \"2.0\"");
	}
	*msg = m;
	return SIGNET_CLIENT_OK;
}

/* A notification (events.subscribe): a method and no id. */
static bool
is_notification(json_t *m)
{
	return json_object_get(m, "id") == NULL &&
	    json_is_string(json_object_get(m, "method"));
}

/* Keeps a notification for signet_next_notification; past the cap the
 * oldest goes, so a client that never reads them stays bounded. */
static int
queue_notification(struct signet_conn *conn, json_t *m,
    struct signet_error *err)
{
	if (conn->notes == NULL && (conn->notes = json_array()) == NULL)
		return conn_fail(err, SIGNET_CLIENT_E_LOCAL, 0,
		    SIGNET_CLIENT_R_NOMEM, "out of memory");
	if (json_array_size(conn->notes) >= SIGNET_CLIENT_MAX_NOTIFICATIONS)
		(void)json_array_remove(conn->notes, 0);
	if (json_array_append(conn->notes, m) != 0)
		return conn_fail(err, SIGNET_CLIENT_E_LOCAL, 0,
		    SIGNET_CLIENT_R_NOMEM, "out of memory");
	return SIGNET_CLIENT_OK;
}

/* The error member of a reply into err; always SIGNET_CLIENT_E_RPC on a
 * well-formed error object. */
static int
parse_error_obj(json_t *e, struct signet_error *err)
{
	json_t *code = json_object_get(e, "code");
	json_t *msg = json_object_get(e, "message");
	json_t *data = json_object_get(e, "data");
	json_t *reason;
	json_int_t c;

	if (!json_is_object(e) || !json_is_integer(code) ||
	    !json_is_string(msg) || (data != NULL && !json_is_object(data) &&
	    !json_is_null(data)))
		return bad_reply(err, "error object");
	c = json_integer_value(code);
	if (c < -2147483647 || c > 2147483647)
		return bad_reply(err, "error code out of range");
	reason = json_object_get(data, "reason");
	conn_fail(err, SIGNET_CLIENT_E_RPC, (int)c,
	    json_is_string(reason) ? json_string_value(reason) : "",
	    "%s", json_string_value(msg));
	if (err != NULL && json_is_object(data))
		err->data = json_incref(data);
	return SIGNET_CLIENT_E_RPC;
}

/* reply answers request id: its result, or its error into err. */
static int
check_reply(json_t *reply, int64_t id, json_t **result,
    struct signet_error *err)
{
	json_t *jid = json_object_get(reply, "id");
	json_t *res = json_object_get(reply, "result");
	json_t *e = json_object_get(reply, "error");

	if ((res == NULL) == (e == NULL))
		return bad_reply(err, "not exactly one of result and error");
	/* An error the agent could not tie to a request (parse_error,
	 * peer_refused) carries id null; it is still the answer to ours,
	 * since we have only one request outstanding. */
	if (!(json_is_integer(jid) && json_integer_value(jid) == id) &&
	    !(e != NULL && json_is_null(jid)))
		return bad_reply(err, "id does not match the request");
	if (e != NULL)
		return parse_error_obj(e, err);
	*result = json_incref(res);
	return SIGNET_CLIENT_OK;
}

/* Reads up to the reply to request id, queueing notifications met on
 * the way. */
static int
await_reply(struct signet_conn *conn, int64_t id, json_t **result,
    struct signet_error *err)
{
	json_t *m;
	int r;

	for (;;) {
		if ((r = recv_message(conn, -1, &m, err)) != 0)
			return r;
		if (!is_notification(m))
			break;
		r = queue_notification(conn, m, err);
		json_decref(m);
		if (r != 0)
			return r;
	}
	r = check_reply(m, id, result, err);
	json_decref(m);
	return r;
}

/* A transport or framing failure leaves the stream out of step. */
static int
maybe_break(struct signet_conn *conn, int r)
{
	if ((r == SIGNET_CLIENT_E_TRANSPORT || r == SIGNET_CLIENT_E_PROTOCOL) &&
	    conn->fd >= 0) {
		(void)close(conn->fd);
		conn->fd = -1;
	}
	return r;
}

int
conn_roundtrip(struct signet_conn *conn, const char *line, size_t len,
    int64_t id, const int *fds, size_t nfds, json_t **result,
    struct signet_error *err)
{
	int serr;

	*result = NULL;
	if (conn->fd < 0)
		return conn_fail(err, SIGNET_CLIENT_E_TRANSPORT, 0,
		    SIGNET_CLIENT_R_CLOSED, "connection is no longer usable");
	if ((serr = send_line(conn->fd, line, len, fds, nfds)) == 0)
		return maybe_break(conn, await_reply(conn, id, result, err));
	/* The agent may have answered and closed before reading us
	 * (peer_refused): that answer says more than EPIPE. */
	if (serr == EPIPE || serr == ECONNRESET) {
		struct signet_error tmp = { 0 };
		int r = await_reply(conn, id, result, &tmp);

		if (r == SIGNET_CLIENT_OK || r == SIGNET_CLIENT_E_RPC) {
			if (err != NULL)
				*err = tmp;
			else
				signet_error_clear(&tmp);
			return r;
		}
		signet_error_clear(&tmp);
	}
	(void)maybe_break(conn, SIGNET_CLIENT_E_TRANSPORT);
	return conn_fail(err, SIGNET_CLIENT_E_TRANSPORT, 0,
	    serr == EPIPE || serr == ECONNRESET ? SIGNET_CLIENT_R_CLOSED :
	    SIGNET_CLIENT_R_IO_ERROR, "sending to %s: %s", conn->path,
	    strerror(serr));
}

int
signet_next_notification(struct signet_conn *conn, int timeout_ms,
    json_t **notification, struct signet_error *err)
{
	json_t *m;
	int r;

	if (notification != NULL)
		*notification = NULL;
	if (conn == NULL || notification == NULL)
		return conn_fail(err, SIGNET_CLIENT_E_LOCAL, 0,
		    SIGNET_CLIENT_R_INVALID_ARG, "invalid argument");
	if (json_array_size(conn->notes) > 0) {
		*notification = json_incref(json_array_get(conn->notes, 0));
		(void)json_array_remove(conn->notes, 0);
		return SIGNET_CLIENT_OK;
	}
	if (conn->fd < 0)
		return conn_fail(err, SIGNET_CLIENT_E_TRANSPORT, 0,
		    SIGNET_CLIENT_R_CLOSED, "connection is no longer usable");
	if ((r = recv_message(conn, timeout_ms, &m, err)) == RECV_TIMEOUT)
		return SIGNET_CLIENT_OK;
	if (r != 0)
		return maybe_break(conn, r);
	if (!is_notification(m)) {
		json_decref(m);
		return maybe_break(conn, bad_reply(err,
		    "a reply with no request outstanding"));
	}
	*notification = m;
	return SIGNET_CLIENT_OK;
}
