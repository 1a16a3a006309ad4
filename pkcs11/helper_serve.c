#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pkcs11/helper.h"

/*
 * Framing on fd 3: u32 big-endian body length (5..P11W_MAX_MSG), then the
 * body. The main thread reads; workers write whole responses under one
 * mutex, so frames never interleave.
 */

static int serve_fd = -1;
static pthread_mutex_t serve_wlock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool serve_gone;

bool
serve_peer_gone(void)
{
	return atomic_load(&serve_gone);
}

/*
 * The reading side. Frames of up to HELPER_LOCKED_MSG bytes (every LOGIN
 * and SIGN_AUTH the agent sends, and in practice every request but large
 * SIGNs) are read into one buffer of locked memory (helper_secret.c),
 * allocated once and reused: a PIN never lands in ordinary memory, and
 * requests do not pay for mapping, locking and unmapping pages each time.
 * Each frame's bytes are wiped as soon as they are decoded; bytes read
 * ahead (the start of the next frame) stay in the same locked buffer.
 * Only the main thread reads, so the buffer needs no lock.
 */
#define SERVE_RBUF (4 + HELPER_LOCKED_MSG)

static uint8_t *serve_rbuf;
static size_t serve_rlen;  /* bytes held */
static size_t serve_roff;  /* first byte not yet consumed */

/* At least want (<= SERVE_RBUF) unconsumed bytes buffered; reads as much
 * as fits, so one read usually brings a whole frame. *have is what is
 * buffered when it fails (to tell EOF at a frame boundary). */
static int
rbuf_fill(int fd, size_t want, size_t *have)
{
	size_t held = serve_rlen - serve_roff;
	ssize_t r;

	if (serve_roff + want > SERVE_RBUF) {
		/* Move the tail to the front; wipe where it was. */
		memmove(serve_rbuf, serve_rbuf + serve_roff, held);
		explicit_bzero(serve_rbuf + held, serve_rlen - held);
		serve_roff = 0;
		serve_rlen = held;
	}
	while (held < want) {
		r = read(fd, serve_rbuf + serve_rlen, SERVE_RBUF - serve_rlen);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			*have = held;
			return r < 0 ? SIGNET_ERR_IO : SIGNET_ERR_CLOSED;
		}
		serve_rlen += (size_t)r;
		held += (size_t)r;
	}
	*have = held;
	return 0;
}

/* n bytes consumed: wiped at once. */
static void
rbuf_consume(size_t n)
{
	explicit_bzero(serve_rbuf + serve_roff, n);
	serve_roff += n;
	if (serve_roff == serve_rlen)
		serve_roff = serve_rlen = 0;
}

/* Exactly n bytes into p: what is buffered first, then straight from fd.
 * *got tells how far it came. */
static int
read_full(int fd, uint8_t *p, size_t n, size_t *got)
{
	size_t take = serve_rlen - serve_roff;
	ssize_t r;

	if (take > n)
		take = n;
	memcpy(p, serve_rbuf + serve_roff, take);
	rbuf_consume(take);
	*got = take;
	while (*got < n) {
		r = read(fd, p + *got, n - *got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return SIGNET_ERR_IO;
		if (r == 0)
			return SIGNET_ERR_CLOSED;
		*got += (size_t)r;
	}
	return 0;
}

int
serve_send(struct buf *resp)
{
	size_t body, off = 0;
	ssize_t w;
	int r = 0;

	if (resp->failed || resp->len < 4 + 5 || resp->len - 4 > P11W_MAX_MSG)
		return SIGNET_ERR_LIMIT;
	body = resp->len - 4;
	resp->data[0] = (uint8_t)(body >> 24);
	resp->data[1] = (uint8_t)(body >> 16);
	resp->data[2] = (uint8_t)(body >> 8);
	resp->data[3] = (uint8_t)body;
	pthread_mutex_lock(&serve_wlock);
	while (off < resp->len && !atomic_load(&serve_gone)) {
		w = send(serve_fd, resp->data + off, resp->len - off,
		    MSG_NOSIGNAL);
		if (w < 0 && errno == ENOTSOCK)
			w = write(serve_fd, resp->data + off, resp->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			/* Nobody reads our answers any more: stop working. */
			if (w < 0)
				helper_log("write to agent: %m");
			else
				helper_log("write to agent: closed");
			atomic_store(&serve_gone, true);
			break;
		}
		off += (size_t)w;
	}
	if (off < resp->len)
		r = SIGNET_ERR_IO;
	pthread_mutex_unlock(&serve_wlock);
	return r;
}

/* One frame read and queued: -1, or the exit status that ends the loop. */
static int
serve_one(int fd)
{
	uint8_t *hdr, *body = NULL;
	struct job *job = NULL;
	size_t have, got;
	uint32_t len;
	bool big;
	int r, status = -1;

	if ((r = rbuf_fill(fd, 4, &have)) != 0) {
		if (r == SIGNET_ERR_CLOSED && have == 0)
			return HELPER_EXIT_OK;
		if (r == SIGNET_ERR_CLOSED) {
			helper_log("frame header cut short");
			return HELPER_EXIT_PROTOCOL;
		}
		helper_log("read from agent: %m");
		return HELPER_EXIT_FATAL;
	}
	hdr = serve_rbuf + serve_roff;
	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	/* Checked before anything is allocated for the body. */
	if (len < 5 || len > P11W_MAX_MSG) {
		helper_log("frame length %u outside 5..%u", len, P11W_MAX_MSG);
		return HELPER_EXIT_PROTOCOL;
	}
	/* A LOGIN carries a PIN and is small: small bodies stay in the
	 * locked buffer, whatever their type. */
	big = len > HELPER_LOCKED_MSG;
	if (!big) {
		if ((r = rbuf_fill(fd, 4 + (size_t)len, &have)) != 0) {
			got = have > 4 ? have - 4 : 0;
			goto cut;
		}
		rbuf_consume(4);
		body = serve_rbuf + serve_roff;
	} else {
		rbuf_consume(4);
		if ((body = malloc(len)) == NULL) {
			helper_log("out of memory for a %u byte message", len);
			return HELPER_EXIT_FATAL;
		}
		if ((r = read_full(fd, body, len, &got)) != 0)
			goto cut;
	}
	if ((r = req_parse(body, len, &job)) != 0) {
		if (r == SIGNET_ERR_NOMEM) {
			helper_log("out of memory decoding a message");
			status = HELPER_EXIT_FATAL;
		} else {
			helper_log("malformed message (%u bytes)", len);
			status = HELPER_EXIT_PROTOCOL;
		}
		goto out;
	}
	sched_submit(job);
	goto out;
cut:
	if (r == SIGNET_ERR_CLOSED) {
		helper_log("message cut short (%zu of %u bytes)", got, len);
		status = HELPER_EXIT_PROTOCOL;
	} else {
		helper_log("read from agent: %m");
		status = HELPER_EXIT_FATAL;
	}
out:
	if (big) {
		explicit_bzero(body, len);
		free(body);
	} else if (body != NULL)
		rbuf_consume(len);
	return status;
}

int
serve_loop(int fd)
{
	int status;

	serve_fd = fd;
	if ((serve_rbuf = secmem_alloc(SERVE_RBUF)) == NULL) {
		helper_log("out of memory for the read buffer");
		return HELPER_EXIT_FATAL;
	}
	while ((status = serve_one(fd)) < 0)
		;
	/* Whatever was read ahead is wiped with it. */
	secmem_free(serve_rbuf, SERVE_RBUF);
	serve_rbuf = NULL;
	serve_rlen = serve_roff = 0;
	if (status != HELPER_EXIT_OK) {
		/* Unblock workers stuck writing to an agent that is not
		 * reading; their remaining answers are not wanted. */
		atomic_store(&serve_gone, true);
		(void)shutdown(fd, SHUT_RDWR);
	}
	return status;
}
