#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/docread.h"

#define DOCREAD_CHUNK (1024u * 1024u) /* bytes read per loop turn */

enum docread_kind { DR_FILE, DR_PIPE, DR_SOCKET };

struct docread {
	int fd;
	enum docread_kind kind;
	EVP_MD_CTX *md;
	uint64_t *size;
	struct watch *watch;
	struct task *task;
	docread_done_fn fn;
	void *arg;
	uint64_t max;            /* 0: none */
	uint8_t chunk[];
};

static void
docread_free(struct docread *r)
{
	loop_unwatch(r->watch);
	loop_task_cancel(r->task);
	if (r->fd >= 0)
		close(r->fd);
	free(r);
}

void
docread_limit(struct docread *r, uint64_t max)
{
	r->max = max;
}

void
docread_cancel(struct docread *r)
{
	if (r != NULL)
		docread_free(r);
}

static void
docread_finish(struct docread *r, int err, const char *why)
{
	docread_done_fn fn = r->fn;
	void *arg = r->arg;

	docread_free(r);
	fn(arg, err, why);
}

/* Reads one chunk; false once finished (r is then freed). */
static bool
docread_step(struct docread *r)
{
	ssize_t n;

	if (r->kind == DR_SOCKET)
		n = recv(r->fd, r->chunk, DOCREAD_CHUNK, MSG_DONTWAIT);
	else
		n = read(r->fd, r->chunk, DOCREAD_CHUNK);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return true;
		docread_finish(r, SIGNET_ERR_IO, "reading the document failed");
		return false;
	}
	if (n == 0) {
		docread_finish(r, 0, NULL);
		return false;
	}
	*r->size += (uint64_t)n;
	if (r->max != 0 && *r->size > r->max) {
		docread_finish(r, SIGNET_ERR_LIMIT, "the document is over the size limit");
		return false;
	}
	if (EVP_DigestUpdate(r->md, r->chunk, (size_t)n) != 1) {
		docread_finish(r, SIGNET_ERR_IO, "digest failed");
		return false;
	}
	return true;
}

static bool
docread_task(void *arg)
{
	struct docread *r = arg;

	if (docread_step(r))
		return true;
	return false; /* r is freed; its task was cancelled with it */
}

static void
docread_ready(void *arg, uint32_t events)
{
	(void)events;
	(void)docread_step(arg);
}

struct docread *
docread_start(struct loop *l, int fd, EVP_MD_CTX *md, uint64_t *size,
    docread_done_fn fn, void *arg, const char **why)
{
	struct docread *r;
	struct stat st;
	char path[64];
	int flags, nfd;

	if (fstat(fd, &st) != 0 || (flags = fcntl(fd, F_GETFL)) < 0 ||
	    (flags & O_ACCMODE) == O_WRONLY) {
		close(fd);
		*why = "the descriptor is not open for reading";
		return NULL;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode) &&
	    !S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode)) {
		close(fd);
		*why = "pass a regular file, a pipe or a socket";
		return NULL;
	}
	if ((r = calloc(1, sizeof(*r) + DOCREAD_CHUNK)) == NULL) {
		close(fd);
		*why = "out of memory";
		return NULL;
	}
	r->fd = fd;
	r->md = md;
	r->size = size;
	r->fn = fn;
	r->arg = arg;
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
		r->kind = DR_FILE;
		if ((r->task = loop_task(l, docread_task, r)) == NULL)
			goto oom;
		return r;
	}
	if (S_ISFIFO(st.st_mode)) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if ((nfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
			*why = "cannot read the pipe";
			docread_free(r);
			return NULL;
		}
		close(fd);
		r->fd = nfd;
		r->kind = DR_PIPE;
	} else
		r->kind = DR_SOCKET;
	if ((r->watch = loop_watch(l, r->fd, EPOLLIN, docread_ready, r)) == NULL)
		goto oom;
	return r;
oom:
	*why = "out of memory";
	docread_free(r);
	return NULL;
}
