#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/log.h"
#include "pkcs11/p11client.h"
#include "pkcs11/wire.h"

#define P11C_READ_CHUNK 65536
/* Restart back-off after a helper died, so a module that crashes at start
 * does not spin the agent. */
#define P11C_BACKOFF_MIN_MS 100
#define P11C_BACKOFF_MAX_MS 5000

struct pending {
	uint32_t id;
	uint8_t type;
	p11c_done_fn fn;
	void *arg;
	struct timer *deadline;
	struct p11c *owner;
	struct pending *next;
};

struct p11c {
	struct loop *loop;
	char *helper_path;
	char *module_path;
	pid_t pid;             /* 0 when no helper runs */
	int fd;                /* our end of the socketpair, -1 when none */
	int pidfd;
	struct watch *fd_watch;
	struct watch *pid_watch;
	struct buf out;        /* secret: may hold a PIN */
	struct buf in;
	struct pending *pending;
	uint32_t next_id;
	uint64_t generation;
	uint64_t not_before_ms; /* earliest next start */
	uint32_t backoff_ms;
	bool stopped;          /* shut down: never start again */
	p11c_lost_fn lost_fn;
	void *lost_arg;
};

void
p11c_set_lost_cb(struct p11c *c, p11c_lost_fn fn, void *arg)
{
	c->lost_fn = fn;
	c->lost_arg = arg;
}

static void p11c_lost(struct p11c *c, const char *why);

static int
pidfd_open_compat(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

const char *
p11c_module(const struct p11c *c)
{
	return c->module_path;
}

uint64_t
p11c_generation(const struct p11c *c)
{
	return c->generation;
}

pid_t
p11c_pid(const struct p11c *c)
{
	return c->pid;
}

static void
p11c_update_watch(struct p11c *c)
{
	uint32_t ev = EPOLLIN;

	if (c->fd_watch == NULL)
		return;
	if (buf_remaining(&c->out) > 0)
		ev |= EPOLLOUT;
	if (loop_watch_set(c->fd_watch, ev) != 0)
		p11c_lost(c, "epoll_ctl failed");
}

static void
p11c_flush(struct p11c *c)
{
	ssize_t n;

	while (buf_remaining(&c->out) > 0) {
		n = send(c->fd, c->out.data + c->out.off, buf_remaining(&c->out),
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			p11c_lost(c, "write to helper failed");
			return;
		}
		c->out.off += (size_t)n;
	}
	if (buf_remaining(&c->out) == 0)
		buf_reset(&c->out); /* wipes what was sent */
	p11c_update_watch(c);
}

static void
p11c_complete(struct p11c *c, uint32_t id, uint8_t type, struct buf *body)
{
	struct pending **pp, *p;
	uint64_t rv;

	for (pp = &c->pending; (p = *pp) != NULL; pp = &p->next)
		if (p->id == id)
			break;
	if (p == NULL || p->type != type) {
		p11c_lost(c, "helper answered a request it was not sent");
		return;
	}
	*pp = p->next;
	loop_timer_cancel(p->deadline);
	c->backoff_ms = P11C_BACKOFF_MIN_MS; /* it works again */
	rv = buf_get_u64(body);
	if (body->failed) {
		/* Put it back so it fails with the rest. */
		p->next = c->pending;
		c->pending = p;
		p11c_lost(c, "short response from helper");
		return;
	}
	p->fn(p->arg, 0, rv, body);
	free(p);
}

/* Takes every complete frame out of c->in. */
static void
p11c_parse(struct p11c *c)
{
	struct buf body;
	uint32_t len, id;
	uint8_t type;
	const uint8_t *d;
	uint64_t gen = c->generation;

	for (;;) {
		if (buf_remaining(&c->in) < 4)
			break;
		d = c->in.data + c->in.off;
		len = (uint32_t)d[0] << 24 | (uint32_t)d[1] << 16 |
		    (uint32_t)d[2] << 8 | d[3];
		if (len < 5 || len > P11W_MAX_MSG) {
			p11c_lost(c, "bad frame length from helper");
			return;
		}
		if (buf_remaining(&c->in) - 4 < len)
			break;
		buf_view(&body, d + 4, len);
		c->in.off += 4 + (size_t)len;
		id = buf_get_u32(&body);
		type = buf_get_u8(&body);
		p11c_complete(c, id, type, &body);
		if (c->generation != gen || c->fd < 0)
			return; /* lost while completing */
	}
	/* Compact: keep the partial frame at the front. */
	if (c->in.off > 0) {
		size_t rest = buf_remaining(&c->in);

		memmove(c->in.data, c->in.data + c->in.off, rest);
		c->in.len = rest;
		c->in.off = 0;
	}
}

static void
p11c_on_fd(void *arg, uint32_t events)
{
	struct p11c *c = arg;
	uint8_t *p;
	ssize_t n;

	if (events & EPOLLOUT)
		p11c_flush(c);
	if (c->fd < 0 || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		size_t room = c->in.max - c->in.len;

		if (room == 0) {
			p11c_lost(c, "helper frame too large");
			return;
		}
		if (room > P11C_READ_CHUNK)
			room = P11C_READ_CHUNK;
		if ((p = buf_reserve(&c->in, room)) == NULL) {
			p11c_lost(c, "out of memory reading helper");
			return;
		}
		n = recv(c->fd, p, room, MSG_DONTWAIT);
		c->in.len -= room - (n > 0 ? (size_t)n : 0);
		if (n == 0) {
			p11c_lost(c, "helper closed its socket");
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			p11c_lost(c, "read from helper failed");
			return;
		}
		p11c_parse(c);
		if (c->fd < 0)
			return;
		if ((size_t)n < room)
			break;
	}
}

static void
p11c_on_exit(void *arg, uint32_t events)
{
	struct p11c *c = arg;

	(void)events;
	p11c_lost(c, "helper exited");
}

/* Kills and reaps the helper, fails every pending request. */
static void
p11c_lost(struct p11c *c, const char *why)
{
	struct pending *list, *p;
	int status = 0;
	bool was_running = c->pid > 0 || c->fd >= 0;

	if (c->pid > 0) {
		kill(c->pid, SIGKILL);
		if (waitpid(c->pid, &status, 0) == c->pid) {
			if (WIFSIGNALED(status))
				log_warn("pkcs11 helper for %s (pid %d): %s; killed by signal %d",
				    c->module_path, (int)c->pid, why, WTERMSIG(status));
			else
				log_warn("pkcs11 helper for %s (pid %d): %s; exit status %d",
				    c->module_path, (int)c->pid, why, WEXITSTATUS(status));
		}
	}
	loop_unwatch(c->fd_watch);
	loop_unwatch(c->pid_watch);
	c->fd_watch = c->pid_watch = NULL;
	if (c->fd >= 0)
		close(c->fd);
	if (c->pidfd >= 0)
		close(c->pidfd);
	c->fd = c->pidfd = -1;
	c->pid = 0;
	buf_reset(&c->out);
	buf_reset(&c->in);
	c->not_before_ms = loop_now_ms() + c->backoff_ms;
	c->backoff_ms = c->backoff_ms * 2 > P11C_BACKOFF_MAX_MS ?
	    P11C_BACKOFF_MAX_MS : c->backoff_ms * 2;
	/* Bump first: completions that look at the generation see it is gone. */
	c->generation++;
	list = c->pending;
	c->pending = NULL;
	while ((p = list) != NULL) {
		list = p->next;
		loop_timer_cancel(p->deadline);
		p->fn(p->arg, P11C_LOST, 0, NULL);
		free(p);
	}
	if (was_running && c->lost_fn != NULL && !c->stopped)
		c->lost_fn(c->lost_arg, c);
}

static int
p11c_start(struct p11c *c)
{
	int sv[2], devnull;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return SIGNET_ERR_IO;
	if ((pid = fork()) < 0) {
		close(sv[0]);
		close(sv[1]);
		return SIGNET_ERR_IO;
	}
	if (pid == 0) {
		/* Child: only async-signal-safe calls until exec. */
		if (dup2(sv[1], P11W_FD) != P11W_FD)
			_exit(127);
		if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) >= 0)
			dup2(devnull, STDIN_FILENO);
		dup2(STDERR_FILENO, STDOUT_FILENO);
		syscall(SYS_close_range, P11W_FD + 1, ~0U, 0);
		execl(c->helper_path, "signet-pkcs11-helper", c->module_path,
		    (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	c->fd = sv[0];
	c->pid = pid;
	if (fcntl(c->fd, F_SETFL, O_NONBLOCK) != 0)
		goto fail;
	/* The pidfd tells of a helper that died while its socket lives on
	 * (a grandchild holding it); without pidfd_open (kernels before 5.3,
	 * valgrind 3.19) the socket's end of file alone says it died. */
	c->pidfd = pidfd_open_compat(pid);
	c->fd_watch = loop_watch(c->loop, c->fd, EPOLLIN, p11c_on_fd, c);
	if (c->pidfd >= 0)
		c->pid_watch = loop_watch(c->loop, c->pidfd, EPOLLIN, p11c_on_exit, c);
	if (c->fd_watch == NULL || (c->pidfd >= 0 && c->pid_watch == NULL))
		goto fail;
	c->generation++;
	log_info("pkcs11 helper for %s started (pid %d)", c->module_path, (int)pid);
	return 0;
fail:
	p11c_lost(c, "could not watch the helper");
	return SIGNET_ERR_IO;
}

int
p11c_new(struct p11c **out, struct loop *l, const char *helper_path,
    const char *module_path)
{
	struct p11c *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return SIGNET_ERR_NOMEM;
	c->loop = l;
	c->fd = c->pidfd = -1;
	c->backoff_ms = P11C_BACKOFF_MIN_MS;
	c->helper_path = strdup(helper_path);
	c->module_path = strdup(module_path);
	buf_init(&c->out, P11W_MAX_MSG * 4u);
	c->out.secret = true;
	buf_init(&c->in, P11W_MAX_MSG + 4u);
	if (c->helper_path == NULL || c->module_path == NULL) {
		p11c_free(c);
		return SIGNET_ERR_NOMEM;
	}
	*out = c;
	return 0;
}

void
p11c_restart(struct p11c *c, const char *why)
{
	if (c->pid == 0 || c->stopped)
		return;
	p11c_lost(c, why);
	c->not_before_ms = 0; /* a deliberate restart waits for nothing */
	c->backoff_ms = P11C_BACKOFF_MIN_MS;
}

#define P11C_SHUTDOWN_WAIT_MS 2000

void
p11c_shutdown(struct p11c *c)
{
	uint64_t until = loop_now_ms() + P11C_SHUTDOWN_WAIT_MS;
	int status;

	c->stopped = true;
	if (c->pid > 0) {
		shutdown(c->fd, SHUT_RDWR); /* EOF: the helper logs out and exits */
		while (loop_now_ms() < until) {
			if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
				c->pid = 0;
				break;
			}
			usleep(10000);
		}
	}
	p11c_lost(c, "agent is stopping");
}

void
p11c_free(struct p11c *c)
{
	if (c == NULL)
		return;
	if (!c->stopped)
		p11c_shutdown(c);
	buf_free(&c->out);
	buf_free(&c->in);
	free(c->helper_path);
	free(c->module_path);
	free(c);
}

static void
p11c_on_deadline(void *arg)
{
	struct pending *p = arg;

	p->deadline = NULL; /* the loop frees a timer that fired */
	p11c_lost(p->owner, "no answer in time (hung), killing it");
}

int
p11c_call(struct p11c *c, uint8_t type, const struct buf *payload,
    uint32_t timeout_ms, p11c_done_fn fn, void *arg)
{
	struct pending *p, **tail;
	size_t body_len = 5 + payload->len;
	int r;

	if (body_len > P11W_MAX_MSG)
		return SIGNET_ERR_LIMIT;
	if (c->pid == 0) {
		if (c->stopped || loop_now_ms() < c->not_before_ms)
			return P11C_LOST;
		if ((r = p11c_start(c)) != 0)
			return P11C_LOST;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return SIGNET_ERR_NOMEM;
	p->id = ++c->next_id;
	p->type = type;
	p->fn = fn;
	p->arg = arg;
	p->owner = c;
	if ((p->deadline = loop_timer(c->loop, timeout_ms, p11c_on_deadline, p)) == NULL) {
		free(p);
		return SIGNET_ERR_NOMEM;
	}
	buf_put_u32(&c->out, (uint32_t)body_len);
	buf_put_u32(&c->out, p->id);
	buf_put_u8(&c->out, type);
	buf_put(&c->out, payload->data, payload->len);
	if (c->out.failed) {
		/* Cannot unwind a half-written frame: start afresh. */
		loop_timer_cancel(p->deadline);
		free(p);
		p11c_lost(c, "request queue overflow");
		return SIGNET_ERR_LIMIT;
	}
	for (tail = &c->pending; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = p;
	/* A helper answering quickly may fail the socket from inside flush;
	 * then p already completed with P11C_LOST: still a success here. */
	p11c_flush(c);
	return 0;
}
