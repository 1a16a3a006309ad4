#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/p11h.h"

int p11h_failures;

int64_t
p11h_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
p11h_start(struct p11h *h, const char *helper, const char *module,
    const char *errpath, bool with_fd3)
{
	int sv[2], nul, err;

	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
	snprintf(h->errpath, sizeof(h->errpath), "%s", errpath);
	h->pid = fork();
	REQUIRE(h->pid >= 0);
	if (h->pid == 0) {
		nul = open("/dev/null", O_RDWR);
		err = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (nul < 0 || err < 0)
			_exit(127);
		dup2(nul, 0);
		dup2(err, 2);
		if (with_fd3)
			dup2(sv[1], 3); /* dup2 clears FD_CLOEXEC */
		else
			close(3);
		execl(helper, helper, module, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	h->fd = sv[0];
}

int
p11h_wait(struct p11h *h, int ms)
{
	int64_t end = p11h_now_ms() + ms;
	int st;
	pid_t r;

	for (;;) {
		r = waitpid(h->pid, &st, WNOHANG);
		if (r == h->pid)
			break;
		if (r < 0 || p11h_now_ms() > end) {
			fprintf(stderr, "helper %d did not exit in %d ms\n",
			    (int)h->pid, ms);
			kill(h->pid, SIGKILL);
			waitpid(h->pid, &st, 0);
			if (h->fd >= 0)
				close(h->fd);
			h->fd = -1;
			return -1;
		}
		usleep(5000);
	}
	if (h->fd >= 0)
		close(h->fd);
	h->fd = -1;
	if (WIFSIGNALED(st))
		fprintf(stderr, "helper died of signal %d\n", WTERMSIG(st));
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

const char *
p11h_stderr(const struct p11h *h)
{
	static char text[8192];
	ssize_t n;
	int fd;

	text[0] = '\0';
	if ((fd = open(h->errpath, O_RDONLY)) < 0)
		return text;
	n = read(fd, text, sizeof(text) - 1);
	text[n > 0 ? n : 0] = '\0';
	close(fd);
	return text;
}

void
p11h_req(struct buf *b, uint32_t id, uint8_t type)
{
	buf_init(b, 4 + P11W_MAX_MSG + 16);
	buf_put_u32(b, 0);
	buf_put_u32(b, id);
	buf_put_u8(b, type);
}

void
p11h_send_raw(struct p11h *h, const void *p, size_t n)
{
	const uint8_t *d = p;
	ssize_t w;

	while (n > 0) {
		w = send(h->fd, d, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		REQUIRE(w > 0);
		d += w;
		n -= (size_t)w;
	}
}

void
p11h_send(struct p11h *h, struct buf *b)
{
	size_t body = b->len - 4;

	REQUIRE(!b->failed);
	b->data[0] = (uint8_t)(body >> 24);
	b->data[1] = (uint8_t)(body >> 16);
	b->data[2] = (uint8_t)(body >> 8);
	b->data[3] = (uint8_t)body;
	p11h_send_raw(h, b->data, b->len);
	buf_free(b);
}

static bool
read_full(int fd, void *p, size_t n, int64_t end)
{
	uint8_t *d = p;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t r;
	int64_t left;

	while (n > 0) {
		left = end - p11h_now_ms();
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return false;
		r = read(fd, d, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		d += r;
		n -= (size_t)r;
	}
	return true;
}

bool
p11h_recv(struct p11h *h, struct buf *b, int ms, uint32_t *id,
    uint8_t *type, uint64_t *rv)
{
	int64_t end = p11h_now_ms() + ms;
	uint8_t hdr[4], *body;
	uint32_t len;

	buf_init(b, P11W_MAX_MSG);
	if (!read_full(h->fd, hdr, 4, end))
		return false;
	len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
	    (uint32_t)hdr[2] << 8 | hdr[3];
	REQUIRE(len >= 13 && len <= P11W_MAX_MSG);
	body = buf_reserve(b, len);
	REQUIRE(body != NULL);
	if (!read_full(h->fd, body, len, end))
		return false;
	*id = buf_get_u32(b);
	*type = buf_get_u8(b);
	*rv = buf_get_u64(b);
	return !b->failed;
}

uint8_t *
p11h_slurp(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *p;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY)) < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || (p = malloc((size_t)st.st_size + 1)) == NULL) {
		close(fd);
		return NULL;
	}
	n = read(fd, p, (size_t)st.st_size);
	close(fd);
	if (n != st.st_size) {
		free(p);
		return NULL;
	}
	p[n] = '\0';
	*len = (size_t)n;
	return p;
}
