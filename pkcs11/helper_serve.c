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

/* Exactly n bytes. *got tells EOF at a frame boundary from a cut frame. */
static int
read_full(int fd, void *p, size_t n, size_t *got)
{
	uint8_t *d = p;
	ssize_t r;

	*got = 0;
	while (*got < n) {
		r = read(fd, d + *got, n - *got);
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
	uint8_t hdr[4], *body = NULL;
	struct job *job = NULL;
	size_t got;
	uint32_t len;
	bool locked;
	int r, status = -1;

	if ((r = read_full(fd, hdr, sizeof(hdr), &got)) != 0) {
		if (r == SIGNET_ERR_CLOSED && got == 0)
			return HELPER_EXIT_OK;
		if (r == SIGNET_ERR_CLOSED) {
			helper_log("frame header cut short");
			return HELPER_EXIT_PROTOCOL;
		}
		helper_log("read from agent: %m");
		return HELPER_EXIT_FATAL;
	}
	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	/* Checked before anything is allocated for the body. */
	if (len < 5 || len > P11W_MAX_MSG) {
		helper_log("frame length %u outside 5..%u", len, P11W_MAX_MSG);
		return HELPER_EXIT_PROTOCOL;
	}
	/* A LOGIN carries a PIN and is small: small bodies go to locked
	 * memory before we know their type. */
	locked = len <= HELPER_LOCKED_MSG;
	body = locked ? secmem_alloc(len) : malloc(len);
	if (body == NULL) {
		helper_log("out of memory for a %u byte message", len);
		return HELPER_EXIT_FATAL;
	}
	if ((r = read_full(fd, body, len, &got)) != 0) {
		if (r == SIGNET_ERR_CLOSED) {
			helper_log("message cut short (%zu of %u bytes)",
			    got, len);
			status = HELPER_EXIT_PROTOCOL;
		} else {
			helper_log("read from agent: %m");
			status = HELPER_EXIT_FATAL;
		}
		goto out;
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
out:
	if (locked)
		secmem_free(body, len);
	else {
		explicit_bzero(body, len);
		free(body);
	}
	return status;
}

int
serve_loop(int fd)
{
	int status;

	serve_fd = fd;
	while ((status = serve_one(fd)) < 0)
		;
	if (status != HELPER_EXIT_OK) {
		/* Unblock workers stuck writing to an agent that is not
		 * reading; their remaining answers are not wanted. */
		atomic_store(&serve_gone, true);
		(void)shutdown(fd, SHUT_RDWR);
	}
	return status;
}
