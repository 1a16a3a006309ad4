#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/client_fakeagent.h"

#define FA_MAX_LINE (32u * 1024u * 1024u)
#define FA_MAX_DOC  (1024u * 1024u)
/* Sent by fakeagent_stop: connections are served one at a time, so once
 * this is read every earlier one has been logged to its end. */
#define FA_STOP     "FAKEAGENT-STOP"
#define FA_HUGE     (64u * 1024u * 1024u + 1u)

static void
die(const char *what)
{
	fprintf(stderr, "fakeagent: %s: %s\n", what, strerror(errno));
	_exit(2);
}

static void
send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return; /* the client went away; its test decides */
		p += w;
		n -= (size_t)w;
	}
}

static json_t *
read_fd_content(int fd)
{
	char *buf = malloc(FA_MAX_DOC);
	size_t len = 0;
	json_t *s;

	if (buf == NULL)
		die("malloc");
	for (;;) {
		ssize_t n = read(fd, buf + len, FA_MAX_DOC - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == FA_MAX_DOC)
			break;
	}
	s = json_stringn(buf, len);
	free(buf);
	return s != NULL ? s : json_string("<not utf-8>");
}

/* Answers one request according to entry; returns 0 to go on, -1 to
 * close the connection. */
static int
answer(int c, const char *entry, json_t *req)
{
	json_t *rep;
	json_error_t jerr;
	char *s;

	if (strcmp(entry, "CLOSE") == 0)
		return -1;
	if (strcmp(entry, "NOREPLY") == 0)
		return 0;
	if (strncmp(entry, "RAW:", 4) == 0) {
		send_all(c, entry + 4, strlen(entry + 4));
		return 0;
	}
	if (strncmp(entry, "RAWCLOSE:", 9) == 0) {
		send_all(c, entry + 9, strlen(entry + 9));
		return -1;
	}
	if (strcmp(entry, "HUGE") == 0) {
		char *h = malloc(FA_HUGE);
		if (h == NULL)
			die("malloc");
		memset(h, 'x', FA_HUGE);
		send_all(c, h, FA_HUGE);
		free(h);
		return 0;
	}
	if ((rep = json_loads(entry, 0, &jerr)) == NULL) {
		fprintf(stderr, "fakeagent: bad script entry: %s\n", entry);
		_exit(2);
	}
	if (json_object_get(rep, "id") == NULL) {
		json_t *id = json_object_get(req, "id");
		json_object_set(rep, "id", id != NULL ? id : json_null());
	}
	if ((s = json_dumps(rep, JSON_COMPACT)) == NULL)
		die("json_dumps");
	send_all(c, s, strlen(s));
	send_all(c, "\n", 1);
	free(s);
	json_decref(rep);
	return 0;
}

/* Entries that go out on their own, right after the entry before them:
 * events a subscribed client gets while it sends nothing. */
static bool
unsolicited(const char *entry)
{
	return strncmp(entry, "PUSH:", 5) == 0 ||
	    strncmp(entry, "SLEEP:", 6) == 0 || strcmp(entry, "HANGUP") == 0;
}

/* Carries out one unsolicited entry; -1 closes the connection. */
static int
push(int c, const char *entry)
{
	if (strncmp(entry, "PUSH:", 5) == 0) {
		send_all(c, entry + 5, strlen(entry + 5));
		return 0;
	}
	if (strncmp(entry, "SLEEP:", 6) == 0) {
		struct timespec ts;
		long ms = atol(entry + 6);

		ts.tv_sec = ms / 1000;
		ts.tv_nsec = (ms % 1000) * 1000000L;
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		return 0;
	}
	return -1; /* HANGUP */
}

static void
serve(int lfd, const char *const *replies, FILE *log)
{
	size_t next = 0;

	for (;;) {
		char *buf = malloc(FA_MAX_LINE);
		json_t *fds = json_array();
		size_t len = 0;
		int c;

		if (buf == NULL || fds == NULL)
			die("malloc");
		if ((c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC)) < 0) {
			if (errno == EINTR)
				continue;
			die("accept");
		}
		for (;;) {
			union {
				struct cmsghdr h;
				char b[CMSG_SPACE(sizeof(int) * 253)];
			} cb;
			struct msghdr msg;
			struct iovec iov;
			struct cmsghdr *cm;
			char *nl;
			ssize_t n;

			memset(&msg, 0, sizeof(msg));
			iov.iov_base = buf + len;
			iov.iov_len = FA_MAX_LINE - len;
			msg.msg_iov = &iov;
			msg.msg_iovlen = 1;
			msg.msg_control = cb.b;
			msg.msg_controllen = sizeof(cb.b);
			if ((n = recvmsg(c, &msg, MSG_CMSG_CLOEXEC)) < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			for (cm = CMSG_FIRSTHDR(&msg); cm != NULL;
			    cm = CMSG_NXTHDR(&msg, cm)) {
				size_t i, k;

				if (cm->cmsg_type != SCM_RIGHTS)
					continue;
				k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				for (i = 0; i < k; i++) {
					int fd;

					memcpy(&fd, CMSG_DATA(cm) +
					    i * sizeof(int), sizeof(int));
					json_array_append_new(fds,
					    read_fd_content(fd));
					close(fd);
				}
			}
			if (n == 0)
				break;
			len += (size_t)n;
			/* Every complete line is one request. */
			while ((nl = memchr(buf, '\n', len)) != NULL) {
				size_t ll = (size_t)(nl - buf);
				json_t *req, *ent;
				char *s;
				int r = 0;

				if (ll == strlen(FA_STOP) &&
				    memcmp(buf, FA_STOP, ll) == 0)
					_exit(0);
				req = json_loadb(buf, ll, 0, NULL);

				ent = json_pack("{s:o, s:o}", "line",
				    req ? json_incref(req) :
				    json_stringn(buf, ll), "fds", fds);
				fds = json_array();
				s = json_dumps(ent, JSON_COMPACT);
				fprintf(log, "%s\n", s);
				fflush(log);
				free(s);
				json_decref(ent);
				memmove(buf, nl + 1, len - ll - 1);
				len -= ll + 1;
				if (replies[next] == NULL)
					r = -1;
				else
					r = answer(c, replies[next++], req);
				while (r == 0 && replies[next] != NULL &&
				    unsolicited(replies[next]))
					r = push(c, replies[next++]);
				json_decref(req);
				if (r != 0)
					goto closed;
			}
			if (len == FA_MAX_LINE)
				break;
		}
 closed:
		close(c);
		json_decref(fds);
		free(buf);
	}
}

void
fakeagent_start(struct fakeagent *fa, const char *const *replies)
{
	const char *tmp = getenv("TMPDIR");
	struct sockaddr_un sun;
	FILE *log;
	pid_t parent;
	int lfd;

	memset(fa, 0, sizeof(*fa));
	snprintf(fa->dir, sizeof(fa->dir), "%s/signet-fa.XXXXXX",
	    tmp && *tmp ? tmp : "/tmp");
	CHECK(mkdtemp(fa->dir) != NULL);
	snprintf(fa->sock, sizeof(fa->sock), "%s/agent.sock", fa->dir);
	snprintf(fa->log, sizeof(fa->log), "%s/log", fa->dir);
	CHECK(strlen(fa->sock) < sizeof(sun.sun_path));
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, fa->sock, strlen(fa->sock));
	/* Listening before the fork: the client may connect at once. */
	CHECK((lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0);
	CHECK(bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	CHECK(listen(lfd, 8) == 0);
	CHECK((log = fopen(fa->log, "we")) != NULL);
	fflush(stdout);
	fflush(stderr);
	parent = getpid();
	CHECK((fa->pid = fork()) >= 0);
	if (fa->pid == 0) {
		/* A failed check exits the test: do not outlive it. */
		(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)
			_exit(0);
		signal(SIGPIPE, SIG_IGN);
		serve(lfd, replies, log);
		_exit(0);
	}
	fclose(log);
	close(lfd);
}

json_t *
fakeagent_stop(struct fakeagent *fa)
{
	json_t *out = json_array();
	char *line = malloc(FA_MAX_DOC * 8);
	struct sockaddr_un sun;
	FILE *log;
	int st, s;

	CHECK(out != NULL && line != NULL);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, fa->sock, strlen(fa->sock));
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0 &&
	    connect(s, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		send_all(s, FA_STOP "\n", strlen(FA_STOP) + 1);
	else
		kill(fa->pid, SIGTERM);
	CHECK(waitpid(fa->pid, &st, 0) == fa->pid);
	if (s >= 0)
		close(s);
	CHECK((log = fopen(fa->log, "re")) != NULL);
	while (fgets(line, FA_MAX_DOC * 8, log) != NULL) {
		json_t *e = json_loads(line, 0, NULL);
		CHECK(e != NULL);
		json_array_append_new(out, e);
	}
	fclose(log);
	free(line);
	unlink(fa->log);
	unlink(fa->sock);
	CHECK(rmdir(fa->dir) == 0);
	return out;
}
