/*
 * Client connections: accept and identify the peer, assemble request lines
 * (capped before buffering) and the descriptors passed with them, and send
 * replies in request order.
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/audit.h"
#include "agent/audited.h"
#include "agent/authorize.h"
#include "agent/facts.h"
#include "agent/log.h"

#define CONN_READ_CHUNK (256u * 1024u)

static void conn_on_event(void *arg, uint32_t events);
static bool conn_lines(struct conn *conn);
static void conn_line_timer(struct conn *conn, bool progressed);

static void
conn_close_fds(int *fds, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static void
call_free(struct call *c)
{
	if (c->state_free != NULL && c->state != NULL)
		c->state_free(c->state);
	if (c->fds != NULL) {
		conn_close_fds(c->fds, c->nfds);
		free(c->fds);
	}
	json_decref(c->id);
	free(c->reply);
	free(c->exe);
	free(c);
}

/* Frees now, or marks for freeing when a dispatch is running on it. */
static void
conn_free(struct conn *conn)
{
	struct call *c, *next;
	struct agent *a;

	if (conn->busy > 0) {
		conn->dead = true;
		return;
	}

	loop_unwatch(conn->watch);
	loop_timer_cancel(conn->line_timer);
	close(conn->fd);
	if (conn->fds != NULL) {
		conn_close_fds(conn->fds, conn->nfds);
		free(conn->fds);
	}
	for (c = conn->head; c != NULL; c = next) {
		next = c->next;
		if (c->done)
			call_free(c);
		else {
			c->conn = NULL; /* orphaned: freed when it finishes */
			if (c->on_gone != NULL)
				c->on_gone(c);
		}
	}
	buf_free(&conn->in);
	buf_free(&conn->out);
	free(conn->exe);
	a = conn->agent;
	if (conn->prev != NULL)
		conn->prev->next = conn->next;
	else
		conn->agent->conns = conn->next;
	if (conn->next != NULL)
		conn->next->prev = conn->prev;
	conn->agent->nconns--;
	free(conn);
	/* A burst of clients is over: give the heap's free pages back, or a
	 * long-running agent keeps its largest burst's memory for ever. */
	if (a->nconns == 0)
		malloc_trim(0);
}

void
conn_close_all(struct agent *a)
{
	while (a->conns != NULL)
		conn_free(a->conns);
}

/* Reading pauses while the client has too much in flight or unread. */
static void
conn_update_watch(struct conn *conn)
{
	uint32_t ev = 0;

	if (!conn->close_after_flush && conn->inflight < AGENT_MAX_INFLIGHT &&
	    buf_remaining(&conn->out) < AGENT_MAX_OUT / 2)
		ev |= EPOLLIN;
	if (buf_remaining(&conn->out) > 0)
		ev |= EPOLLOUT;
	if (loop_watch_set(conn->watch, ev) != 0)
		log_warn("epoll_ctl on a client failed");
}

void
conn_want_write(struct conn *conn)
{
	if (conn->out.failed) {
		/* A subscriber that does not read its events. */
		conn->close_after_flush = true;
		buf_reset(&conn->out);
	}
	conn_update_watch(conn);
}

/* Returns false when the connection was freed. */
static bool
conn_flush(struct conn *conn)
{
	ssize_t n;

	while (buf_remaining(&conn->out) > 0) {
		n = send(conn->fd, conn->out.data + conn->out.off,
		    buf_remaining(&conn->out), MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			conn_free(conn);
			return false;
		}
		conn->out.off += (size_t)n;
	}
	if (buf_remaining(&conn->out) == 0) {
		buf_reset(&conn->out);
		if (conn->close_after_flush) {
			conn_free(conn);
			return false;
		}
	}
	conn_update_watch(conn);
	return !conn->dead;
}

void
conn_call_done(struct call *c)
{
	struct conn *conn = c->conn;
	struct call *h;

	if (conn == NULL) {
		call_free(c);
		return;
	}
	while ((h = conn->head) != NULL && h->done) {
		conn->head = h->next;
		if (conn->head == NULL)
			conn->tail = NULL;
		conn->inflight--;
		if (h->reply != NULL) {
			buf_put(&conn->out, h->reply, h->reply_len);
			if (conn->out.failed) {
				/* The client does not read its replies. */
				log_warn("client pid %d: reply queue over %u bytes, closing",
				    (int)conn->peer.pid, AGENT_MAX_OUT);
				call_free(h);
				conn_free(conn);
				return;
			}
		}
		call_free(h);
	}
	if (!conn_flush(conn))
		return;
	/* Lines that waited for a free slot in the in-flight window. */
	if (conn->busy == 0 && buf_remaining(&conn->in) > 0 &&
	    conn->inflight < AGENT_MAX_INFLIGHT && conn_lines(conn))
		conn_update_watch(conn);
}

/* Appends the descriptors of one control message to the FIFO; false when
 * the client sent more than may wait (they are closed). */
static bool
conn_take_rights(struct conn *conn, struct msghdr *msg)
{
	struct cmsghdr *cm;
	int *fds;
	unsigned i, n;
	bool ok = true;

	for (cm = CMSG_FIRSTHDR(msg); cm != NULL; cm = CMSG_NXTHDR(msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		fds = (int *)CMSG_DATA(cm);
		n = (unsigned)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		if (n > 0 && conn->fds == NULL &&
		    (conn->fds = calloc(SIGNET_MAX_FDS_QUEUED, sizeof(int))) == NULL)
			ok = false;
		for (i = 0; i < n; i++) {
			if (ok && conn->nfds < SIGNET_MAX_FDS_QUEUED)
				conn->fds[conn->nfds++] = fds[i];
			else {
				ok = false;
				close(fds[i]);
			}
		}
	}
	return ok;
}

int
call_take_fd(struct call *c, unsigned i)
{
	int fd;

	if (i >= c->nfds || c->fds[i] < 0)
		return -1;
	fd = c->fds[i];
	c->fds[i] = -1;
	return fd;
}

static void
conn_line_expired(void *arg)
{
	struct conn *conn = arg;

	conn->line_timer = NULL; /* the loop frees a timer that fired */
	log_info("client pid %d: request line not completed in %u ms, closing",
	    (int)conn->peer.pid, conn->agent->line_timeout_ms);
	conn_free(conn);
}

/*
 * A client that starts a line must finish it in time: otherwise a stalled
 * or malicious peer pins up to SIGNET_MAX_LINE bytes for ever. An idle
 * connection with nothing buffered costs little and may stay.
 */
static void
conn_line_timer(struct conn *conn, bool progressed)
{
	/* Lines held back by the in-flight window wait on us, not the peer. */
	bool partial = buf_remaining(&conn->in) > 0 &&
	    conn->inflight < AGENT_MAX_INFLIGHT && !conn->close_after_flush;

	if (progressed && conn->line_timer != NULL) {
		loop_timer_cancel(conn->line_timer);
		conn->line_timer = NULL;
	}
	if (partial && conn->line_timer == NULL)
		conn->line_timer = loop_timer(conn->agent->loop,
		    conn->agent->line_timeout_ms, conn_line_expired, conn);
	else if (!partial && conn->line_timer != NULL) {
		loop_timer_cancel(conn->line_timer);
		conn->line_timer = NULL;
	}
}

/* Hands complete lines to the dispatcher; returns false if conn was freed.
 * A reply finished inside the dispatch may close the connection: busy
 * defers that free until the dispatch has returned. */
static bool
conn_lines(struct conn *conn)
{
	uint8_t *start, *nl;
	size_t len;
	bool progressed = false;

	for (;;) {
		start = conn->in.data + conn->in.off;
		nl = memchr(start + conn->scanned, '\n',
		    buf_remaining(&conn->in) - conn->scanned);
		if (nl == NULL) {
			conn->scanned = buf_remaining(&conn->in);
			break;
		}
		len = (size_t)(nl - start);
		progressed = true;
		conn->in.off += len + 1;
		conn->scanned = 0;
		conn->busy++;
		rpc_dispatch(conn, (char *)start, len);
		conn->busy--;
		/* The line may hold a PIN: it is gone once dispatched. */
		explicit_bzero(start, len + 1);
		if (conn->dead) {
			conn_free(conn);
			return false;
		}
		if (conn->close_after_flush || conn->inflight >= AGENT_MAX_INFLIGHT)
			break;
	}
	/* Keep the partial line at the front. */
	if (conn->in.off > 0) {
		len = buf_remaining(&conn->in);
		memmove(conn->in.data, conn->in.data + conn->in.off, len);
		explicit_bzero(conn->in.data + len, conn->in.off);
		conn->in.len = len;
		conn->in.off = 0;
	}
	conn_line_timer(conn, progressed);
	return true;
}

/*
 * One scratch buffer for every connection's reads: a connection's own
 * buffer then grows by what it really received, not by a read's size (a
 * thousand clients sending short requests must not cost a thousand read
 * chunks). It may hold a PIN: wiped after each read. The loop is single
 * threaded, so one buffer serves all.
 */
static uint8_t conn_scratch[CONN_READ_CHUNK];

static void
conn_read(struct conn *conn)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * SIGNET_MAX_FDS_QUEUED)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov;
	struct msghdr msg;
	size_t room;
	ssize_t n;

	room = SIGNET_MAX_LINE - buf_remaining(&conn->in);
	if (room == 0) {
		/* A whole SIGNET_MAX_LINE and no '\n': refuse, never buffer more. */
		rpc_error_line(conn, NULL, SIGNET_E_INVALID_REQ, SIGNET_R_LINE_TOO_LONG,
		    "request line longer than 16 MiB");
		conn->close_after_flush = true;
		(void)conn_flush(conn);
		return;
	}
	if (room > sizeof(conn_scratch))
		room = sizeof(conn_scratch);
	iov.iov_base = conn_scratch;
	iov.iov_len = room;
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	n = recvmsg(conn->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n > 0) {
		buf_put(&conn->in, conn_scratch, (size_t)n);
		explicit_bzero(conn_scratch, (size_t)n);
		if (conn->in.failed) {
			conn_free(conn);
			return;
		}
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n >= 0 && !conn_take_rights(conn, &msg)) {
		log_warn("client pid %d: more than %u descriptors waiting, closing",
		    (int)conn->peer.pid, SIGNET_MAX_FDS_QUEUED);
		conn_free(conn);
		return;
	}
	if (n <= 0 || (msg.msg_flags & MSG_CTRUNC)) {
		conn_free(conn); /* EOF, error, or descriptors lost */
		return;
	}
	if (conn_lines(conn))
		conn_update_watch(conn);
}

static void
conn_on_event(void *arg, uint32_t events)
{
	struct conn *conn = arg;

	if (events & EPOLLOUT) {
		if (!conn_flush(conn))
			return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		if (conn->close_after_flush) {
			if (events & (EPOLLHUP | EPOLLERR))
				conn_free(conn);
			return;
		}
		conn_read(conn);
	}
}

int
conn_accept(struct agent *a, int listen_fd)
{
	struct conn *conn;
	const char *why;
	socklen_t len;
	int fd;

	for (;;) {
		fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EAGAIN)
				return 0;
			log_warn("accept: %s", strerror(errno));
			/* Out of descriptors or memory: the socket stays readable,
			 * so the caller must stop watching it for a while. */
			return SIGNET_ERR_LIMIT;
		}
		if (a->nconns >= AGENT_MAX_CONNS || a->stopping) {
			close(fd);
			continue;
		}
		if ((conn = calloc(1, sizeof(*conn))) == NULL) {
			close(fd);
			continue;
		}
		conn->agent = a;
		conn->fd = fd;
		buf_init(&conn->in, SIGNET_MAX_LINE);
		conn->in.secret = true;
		buf_init(&conn->out, AGENT_MAX_OUT);
		len = sizeof(conn->peer);
		a->nconns++;
		conn->next = a->conns;
		if (a->conns != NULL)
			a->conns->prev = conn;
		a->conns = conn;
		if ((conn->watch = loop_watch(a->loop, fd, EPOLLIN, conn_on_event, conn)) == NULL ||
		    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &conn->peer, &len) != 0) {
			conn_free(conn);
			continue;
		}
		/* Taken once, now: a later exec by the peer does not change
		 * who this connection is (policy and audit use this one). */
		conn->exe = audit_peer_exe(conn->peer.pid);
		conn->ngroups = facts_peer_groups(conn->peer.pid, conn->groups,
		    sizeof(conn->groups) / sizeof(conn->groups[0]));
		/* The kernel says who the peer is (DESIGN.md, principle 8);
		 * the policy says whether it may use the agent at all. */
		if (!authorize_connect(a, &conn->peer, conn->exe, conn->groups,
		    conn->ngroups, &why)) {
			json_t *ev = audit_event_new("connect_refused");

			log_info("refused client uid %u pid %d exe %s: %s",
			    (unsigned)conn->peer.uid, (int)conn->peer.pid,
			    conn->exe != NULL ? conn->exe : "?", why);
			if (ev != NULL && audit_event_client(ev, &conn->peer, conn->exe) == 0) {
				json_object_set_new(ev, "decision", json_string("deny"));
				json_object_set_new(ev, "reason",
				    json_string(SIGNET_R_PEER_REFUSED));
				json_object_set_new(ev, "policy_reason", json_string(why));
				audited_note(a, ev);
			} else
				json_decref(ev);
			rpc_error_line(conn, NULL, SIGNET_E_REFUSED, SIGNET_R_PEER_REFUSED,
			    "the signing policy does not let this client use the agent");
			conn->close_after_flush = true;
			(void)conn_flush(conn);
		}
	}
}
