#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/log.h"
#include "agent/pinentry.h"
#include "signet/protocol.h"

/*
 * The Assuan client of pinentry.h. One command is in flight at a time:
 * a line goes out only after the answer to the previous one came in, so
 * the program's stdin pipe holds at most one of our lines (under
 * PIPE_BUF), and a non-blocking write of it is whole or fails.
 *
 * Lifetime: the object lives until its fn was called (or it was
 * cancelled) AND its program was reaped. Loop callbacks hold it busy, so
 * it is never freed under their feet.
 */

extern char **environ;

#define PE_MAX_CMDS 12
/* After BYE, how long the program may take to exit before SIGINT. SIGINT
 * first, as gpg-agent does: pinentry-tty and -curses restore the terminal
 * on it (pinentry-tty leaves echo off when killed by SIGTERM). */
#define PE_EXIT_WAIT_MS 2000u
/* From SIGINT to SIGKILL. */
#define PE_KILL_GRACE_MS 1000u
/* Reaping without a pidfd: waitpid(WNOHANG) this often. */
#define PE_POLL_MS 100u
/* tty_name, tty_type, display. */
#define PE_MAX_OPTION 512u

/* libgpg-error codes (the low 16 bits of an Assuan ERR code). */
#define GPG_ERR_TIMEOUT 62u
#define GPG_ERR_CANCELED 99u
#define GPG_ERR_NOT_CONFIRMED 114u
#define GPG_ERR_FULLY_CANCELED 198u

struct pe_cmd {
	char *line;     /* with its LF */
	size_t len;
	bool needed;    /* an ERR answer ends the conversation */
};

struct pinentry {
	struct loop *loop;
	pinentry_done_fn fn;
	void *arg;
	bool confirm;
	bool finished;          /* fn called, or cancelled */
	bool greeted;
	int busy;               /* inside one of our callbacks */
	pid_t pid;              /* 0 once reaped */
	int pidfd, to_fd, from_fd;
	struct watch *pid_w, *from_w;
	struct timer *deadline, *kill_t, *poll_t;
	bool interrupted;       /* SIGINT sent */
	struct pe_cmd cmds[PE_MAX_CMDS];
	size_t ncmds, cur;      /* cmds[cur] is in flight once greeted */
	/* Bytes read and not yet a whole line: may hold D lines (the PIN). */
	uint8_t in[PINENTRY_MAX_LINE + 1];
	size_t inlen;
	struct buf pin;         /* secret */
};

static void pe_maybe_free(struct pinentry *p);

/* ---- escaping ---- */

/* Bytes of the UTF-8 character (or stray byte) at s[0], at most n. */
static size_t
pe_unit(const unsigned char *s, size_t n)
{
	size_t want = 1, i;

	if (s[0] >= 0xC0 && s[0] < 0xE0)
		want = 2;
	else if (s[0] >= 0xE0 && s[0] < 0xF0)
		want = 3;
	else if (s[0] >= 0xF0 && s[0] < 0xF8)
		want = 4;
	for (i = 1; i < want && i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			break;
	return i;
}

/* What the unit at s (u bytes) becomes on the wire, in out (<= 4 bytes). */
static size_t
pe_escape_unit(const unsigned char *s, size_t u, char *out)
{
	/* The C1 controls (U+0080..U+009F in UTF-8, or the bare bytes on a
	 * Latin-1 terminal) act like ESC sequences. */
	if ((u == 1 && (s[0] < 0x20 || s[0] == 0x7F) && s[0] != '\n') ||
	    (u == 1 && s[0] >= 0x80 && s[0] < 0xA0) ||
	    (u == 2 && s[0] == 0xC2 && s[1] < 0xA0)) {
		out[0] = '?';
		return 1;
	}
	if (u == 1 && (s[0] == '%' || s[0] == '\n')) {
		/* %25, %0A: Assuan's escapes (not C strings, no NUL) */
		out[0] = '%';
		out[1] = s[0] == '%' ? '2' : '0';
		out[2] = s[0] == '%' ? '5' : 'A';
		return 3;
	}
	memcpy(out, s, u);
	return u;
}

/*
 * "KEYWORD escaped-text\n" into a new line, the whole at most
 * PINENTRY_MAX_LINE bytes before its LF. Text that does not fit is cut
 * at a character boundary and ends in "...".
 */
static char *
pe_text_line(const char *keyword, const char *text, size_t *lenp)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t n = strlen(text), klen = strlen(keyword), room, total = 0;
	size_t i, u, e, len;
	char *line, tmp[4];
	bool cut;

	room = PINENTRY_MAX_LINE - klen - 1;
	for (i = 0; i < n; i += u) {
		u = pe_unit(s + i, n - i);
		total += pe_escape_unit(s + i, u, tmp);
	}
	cut = total > room;
	if ((line = malloc(PINENTRY_MAX_LINE + 2)) == NULL)
		return NULL;
	memcpy(line, keyword, klen);
	line[klen] = ' ';
	len = klen + 1;
	for (i = 0; i < n; i += u) {
		u = pe_unit(s + i, n - i);
		e = pe_escape_unit(s + i, u, tmp);
		if (len + e > PINENTRY_MAX_LINE - (cut ? 3 : 0))
			break;
		memcpy(line + len, tmp, e);
		len += e;
	}
	if (cut) {
		memcpy(line + len, "...", 3);
		len += 3;
	}
	line[len++] = '\n';
	line[len] = '\0';
	*lenp = len;
	return line;
}

/* An OPTION value, argv word or environment value: printable, no '%'
 * (Assuan option values are not unescaped), not too long. */
static bool
pe_plain(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > PE_MAX_OPTION)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7F || s[i] == '%')
			return false;
	return true;
}

static bool
pe_add(struct pinentry *p, char *line, size_t len, bool needed)
{
	if (line == NULL || p->ncmds == PE_MAX_CMDS) {
		free(line);
		return false;
	}
	p->cmds[p->ncmds].line = line;
	p->cmds[p->ncmds].len = len;
	p->cmds[p->ncmds].needed = needed;
	p->ncmds++;
	return true;
}

/* "<head><v>\n", v already checked (pe_plain) or ours. */
static bool
pe_add_raw(struct pinentry *p, bool needed, const char *head, const char *v)
{
	char *line;
	int n;

	if ((n = asprintf(&line, "%s%s\n", head, v)) < 0)
		return false;
	return pe_add(p, line, (size_t)n, needed);
}

static bool
pe_add_text(struct pinentry *p, bool needed, const char *kw, const char *v)
{
	size_t len = 0;
	char *line;

	if (v == NULL)
		return true;
	line = pe_text_line(kw, v, &len);
	return pe_add(p, line, len, needed);
}

/* The whole conversation, in order. Settings a pinentry may not know
 * (OPTION, SETTIMEOUT, SETTITLE, button labels) may be refused; the
 * text the person decides on may not. */
static bool
pe_build(struct pinentry *p, const struct pinentry_req *r, unsigned timeout)
{
	char num[16];

	snprintf(num, sizeof(num), "%u", timeout);
	return (r->tty_name == NULL ||
	    pe_add_raw(p, false, "OPTION ttyname=", r->tty_name)) &&
	    (r->tty_type == NULL ||
	    pe_add_raw(p, false, "OPTION ttytype=", r->tty_type)) &&
	    pe_add_raw(p, false, "SETTIMEOUT ", num) &&
	    pe_add_text(p, false, "SETTITLE", r->title) &&
	    pe_add_text(p, true, "SETDESC", r->description) &&
	    pe_add_text(p, true, "SETPROMPT", r->prompt) &&
	    pe_add_text(p, true, "SETERROR", r->error) &&
	    pe_add_text(p, false, "SETOK", r->ok) &&
	    pe_add_text(p, false, "SETCANCEL", r->cancel) &&
	    pe_add_raw(p, true, r->confirm_only ? "CONFIRM" : "GETPIN", "");
}

/* ---- the program ---- */

static int
pe_pidfd_open(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Keep our descriptors off 0..2, which the child's dup2s overwrite. */
static int
pe_high_fd(int *fd)
{
	int nfd;

	if (*fd > STDERR_FILENO)
		return 0;
	if ((nfd = fcntl(*fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1)) < 0)
		return SIGNET_ERR_IO;
	close(*fd);
	*fd = nfd;
	return 0;
}

/* The agent's own dealings with systemd: not the program's. */
static bool
pe_env_skip(const char *var, const char *display)
{
	static const char *const skip[] = {
		"NOTIFY_SOCKET=", "LISTEN_PID=", "LISTEN_FDS=",
		"LISTEN_FDNAMES=", "WATCHDOG_PID=", "WATCHDOG_USEC=",
	};
	size_t i;

	for (i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (strncmp(var, skip[i], strlen(skip[i])) == 0)
			return true;
	return display != NULL && strncmp(var, "DISPLAY=", 8) == 0;
}

/* environ with DISPLAY replaced when display is set (NULL on ENOMEM). */
static char **
pe_env(const char *display, char **dispvar)
{
	size_t n = 0, i, j = 0;
	char **env;

	*dispvar = NULL;
	while (environ != NULL && environ[n] != NULL)
		n++;
	if ((env = calloc(n + 2, sizeof(*env))) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if (!pe_env_skip(environ[i], display))
			env[j++] = environ[i];
	if (display != NULL) {
		if (asprintf(dispvar, "DISPLAY=%s", display) < 0) {
			*dispvar = NULL;
			free(env);
			return NULL;
		}
		env[j++] = *dispvar;
	}
	env[j] = NULL;
	return env;
}

/* In the child, before exec: async-signal-safe calls only. */
static void __attribute__((noreturn))
pe_child(const char *prog, char **argv, char **envp, int in, int out)
{
	struct sigaction sa;
	sigset_t none;
	int s, fd, nul;

	if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0)
		_exit(127);
	/* Diagnostics go to the agent's stderr; to /dev/null without one. */
	if (fcntl(STDERR_FILENO, F_GETFD) < 0 &&
	    (nul = open("/dev/null", O_WRONLY)) >= 0 && nul != STDERR_FILENO) {
		dup2(nul, STDERR_FILENO);
		close(nul);
	}
	if (syscall(SYS_close_range, STDERR_FILENO + 1, ~0U, 0) != 0)
		for (fd = STDERR_FILENO + 1; fd < 4096; fd++)
			close(fd);
	/* The agent blocks the signals its signalfd reads and ignores
	 * SIGPIPE; both would survive exec and keep our SIGINT out. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (s = 1; s < NSIG; s++)
		(void)sigaction(s, &sa, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	execve(prog, argv, envp);
	_exit(127);
}

static int
pe_spawn(struct pinentry *p, const struct pinentry_req *r)
{
	int to[2] = { -1, -1 }, from[2] = { -1, -1 };
	char *argv[4], **envp = NULL, *dispvar = NULL;
	int i, err = SIGNET_ERR_IO;
	pid_t pid;

	argv[0] = (char *)r->program;
	argv[1] = r->display != NULL ? (char *)"--display" : NULL;
	argv[2] = (char *)r->display;
	argv[3] = NULL;
	if ((envp = pe_env(r->display, &dispvar)) == NULL) {
		err = SIGNET_ERR_NOMEM;
		goto out;
	}
	if (pipe2(to, O_CLOEXEC) != 0 || pipe2(from, O_CLOEXEC) != 0)
		goto out;
	for (i = 0; i < 2; i++)
		if (pe_high_fd(&to[i]) != 0 || pe_high_fd(&from[i]) != 0)
			goto out;
	/* Only our ends: the program's ends stay blocking. */
	if (fcntl(to[1], F_SETFL, O_NONBLOCK) != 0 ||
	    fcntl(from[0], F_SETFL, O_NONBLOCK) != 0)
		goto out;
	if ((pid = fork()) < 0)
		goto out;
	if (pid == 0)
		pe_child(r->program, argv, envp, to[0], from[1]);
	p->pid = pid;
	p->to_fd = to[1];
	p->from_fd = from[0];
	to[1] = from[0] = -1;
	err = 0;
out:
	for (i = 0; i < 2; i++) {
		if (to[i] >= 0)
			close(to[i]);
		if (from[i] >= 0)
			close(from[i]);
	}
	free(dispvar);
	free(envp);
	return err;
}

static void
pe_reaped(struct pinentry *p)
{
	loop_unwatch(p->pid_w);
	p->pid_w = NULL;
	if (p->pidfd >= 0)
		close(p->pidfd);
	p->pidfd = -1;
	loop_timer_cancel(p->kill_t);
	loop_timer_cancel(p->poll_t);
	p->kill_t = p->poll_t = NULL;
	p->pid = 0;
}

static void
pe_try_reap(struct pinentry *p)
{
	int st;
	pid_t r;

	if (p->pid <= 0)
		return;
	do
		r = waitpid(p->pid, &st, WNOHANG);
	while (r < 0 && errno == EINTR);
	/* ECHILD: someone else reaped it; it is gone either way. */
	if (r == p->pid || (r < 0 && errno == ECHILD))
		pe_reaped(p);
}

static void
pe_on_exit(void *arg, uint32_t events)
{
	struct pinentry *p = arg;

	(void)events;
	p->busy++;
	pe_try_reap(p);
	p->busy--;
	pe_maybe_free(p);
}

static void
pe_on_poll(void *arg)
{
	struct pinentry *p = arg;

	p->poll_t = NULL; /* the loop frees a timer that fired */
	p->busy++;
	pe_try_reap(p);
	if (p->pid > 0 &&
	    (p->poll_t = loop_timer(p->loop, PE_POLL_MS, pe_on_poll, p)) == NULL)
		log_warn("pinentry (pid %d): cannot poll for its exit",
		    (int)p->pid);
	p->busy--;
	pe_maybe_free(p);
}

static void
pe_on_kill(void *arg)
{
	struct pinentry *p = arg;

	p->kill_t = NULL;
	if (p->pid <= 0)
		return;
	if (!p->interrupted) {
		p->interrupted = true;
		(void)kill(p->pid, SIGINT);
		p->kill_t = loop_timer(p->loop, PE_KILL_GRACE_MS, pe_on_kill, p);
		if (p->kill_t != NULL)
			return;
	}
	(void)kill(p->pid, SIGKILL);
}

/* The program is told BYE, or terminated; reaped later either way. */
static void
pe_end_program(struct pinentry *p, bool polite)
{
	ssize_t w;

	if (p->to_fd >= 0) {
		if (polite)
			do
				w = write(p->to_fd, "BYE\n", 4);
			while (w < 0 && errno == EINTR);
		close(p->to_fd);
		p->to_fd = -1;
	}
	if (!polite) {
		loop_unwatch(p->from_w);
		p->from_w = NULL;
		if (p->from_fd >= 0)
			close(p->from_fd);
		p->from_fd = -1;
	}
	if (p->pid <= 0)
		return;
	loop_timer_cancel(p->kill_t);
	p->kill_t = NULL;
	if (!polite && !p->interrupted) {
		p->interrupted = true;
		(void)kill(p->pid, SIGINT);
	}
	p->kill_t = loop_timer(p->loop, polite ? PE_EXIT_WAIT_MS :
	    PE_KILL_GRACE_MS, pe_on_kill, p);
	if (p->kill_t == NULL)
		(void)kill(p->pid, SIGKILL);
}

static void
pe_wipe_input(struct pinentry *p)
{
	explicit_bzero(p->in, sizeof(p->in));
	p->inlen = 0;
}

/* The conversation is over: tell the caller (once). */
static void
pe_finish(struct pinentry *p, int status, bool polite)
{
	if (p->finished)
		return;
	p->finished = true;
	loop_timer_cancel(p->deadline);
	p->deadline = NULL;
	pe_wipe_input(p);
	pe_end_program(p, polite);
	if (status != 0 || p->confirm)
		buf_reset(&p->pin);
	p->fn(p->arg, status, status == 0 && !p->confirm ? &p->pin : NULL);
	/* Wiped whether or not fn moved it out. */
	buf_free(&p->pin);
}

static void
pe_fail(struct pinentry *p, const char *why)
{
	log_warn("pinentry (pid %d): %s", (int)p->pid, why);
	pe_finish(p, SIGNET_ERR_IO, false);
}

/* ---- the protocol ---- */

static void
pe_send_next(struct pinentry *p)
{
	const struct pe_cmd *c = &p->cmds[p->cur];
	ssize_t w;

	do
		w = write(p->to_fd, c->line, c->len);
	while (w < 0 && errno == EINTR);
	/* One line under PIPE_BUF into a pipe holding none of ours: whole,
	 * or the program is gone (EPIPE) or reads nothing (EAGAIN). */
	if (w != (ssize_t)c->len)
		pe_fail(p, w < 0 ? strerror(errno) : "short write");
}

static void
pe_ok(struct pinentry *p)
{
	if (!p->greeted) {
		p->greeted = true;
		p->cur = 0;
		pe_send_next(p);
		return;
	}
	if (p->cur + 1 == p->ncmds) {
		pe_finish(p, 0, true);
		return;
	}
	p->cur++;
	pe_send_next(p);
}

/* "ERR <code> <text>": the code's low 16 bits are a libgpg-error code. */
static void
pe_err(struct pinentry *p, const uint8_t *l, size_t n)
{
	unsigned long code = 0;
	const char *what;
	size_t i = 4;

	while (i < n && l[i] >= '0' && l[i] <= '9' && code < 0xFFFFFFFFul)
		code = code * 10 + (l[i++] - '0');
	if (i == 4 || (i < n && l[i] != ' ') || code > 0xFFFFFFFFul) {
		pe_fail(p, "malformed ERR line");
		return;
	}
	switch (code & 0xFFFF) {
	case GPG_ERR_CANCELED:
	case GPG_ERR_FULLY_CANCELED:
	case GPG_ERR_NOT_CONFIRMED:
		pe_finish(p, PINENTRY_CANCELLED, true);
		return;
	case GPG_ERR_TIMEOUT:
		pe_finish(p, PINENTRY_TIMEOUT, true);
		return;
	}
	if (!p->greeted || p->cmds[p->cur].needed) {
		what = p->greeted ? p->cmds[p->cur].line : "greeting";
		log_warn("pinentry (pid %d): error %lu on %.*s", (int)p->pid,
		    code, (int)strcspn(what, " \n"), what);
		pe_finish(p, SIGNET_ERR_IO, true);
		return;
	}
	/* A setting this pinentry does not know: carry on without it. */
	p->cur++;
	pe_send_next(p);
}

static int
pe_hex(uint8_t c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "D <data>": a piece of the PIN, percent-escaped. */
static void
pe_data(struct pinentry *p, const uint8_t *l, size_t n)
{
	uint8_t c;
	size_t i;
	int hi, lo;

	if (!p->greeted || p->confirm || p->cur + 1 != p->ncmds) {
		pe_fail(p, "data line outside GETPIN");
		return;
	}
	for (i = 2; i < n; i++) {
		c = l[i];
		if (c == '%') {
			if (n - i < 3 || (hi = pe_hex(l[i + 1])) < 0 ||
			    (lo = pe_hex(l[i + 2])) < 0) {
				pe_fail(p, "bad escape in a data line");
				return;
			}
			c = (uint8_t)(hi << 4 | lo);
			i += 2;
		}
		if (c == '\0') {
			pe_fail(p, "NUL in the PIN");
			return;
		}
		if (p->pin.len >= SIGNET_MAX_PIN_LEN) {
			log_warn("pinentry (pid %d): PIN over %u bytes",
			    (int)p->pid, SIGNET_MAX_PIN_LEN);
			pe_finish(p, SIGNET_ERR_LIMIT, false);
			return;
		}
		buf_put_u8(&p->pin, c);
	}
}

static void
pe_line(struct pinentry *p, const uint8_t *l, size_t n)
{
	if (n >= 1 && l[0] == '#')
		return;                         /* comment */
	if (n >= 1 && l[0] == 'S' && (n == 1 || l[1] == ' '))
		return;                         /* status */
	if (n >= 2 && l[0] == 'D' && l[1] == ' ')
		pe_data(p, l, n);
	else if (n >= 2 && l[0] == 'O' && l[1] == 'K' && (n == 2 || l[2] == ' '))
		pe_ok(p);
	else if (n >= 4 && memcmp(l, "ERR ", 4) == 0)
		pe_err(p, l, n);
	else
		pe_fail(p, "unexpected line (INQUIRE, END or garbage)");
}

/* Whole lines out of p->in; what is left moves to the front. */
static void
pe_lines(struct pinentry *p)
{
	uint8_t *nl;
	size_t start = 0, n;

	while (!p->finished && start < p->inlen &&
	    (nl = memchr(p->in + start, '\n', p->inlen - start)) != NULL) {
		n = (size_t)(nl - (p->in + start));
		pe_line(p, p->in + start, n);
		start += n + 1;
	}
	if (p->finished)
		return; /* input wiped */
	if (start > 0) {
		memmove(p->in, p->in + start, p->inlen - start);
		explicit_bzero(p->in + p->inlen - start, start);
		p->inlen -= start;
	}
	if (p->inlen == sizeof(p->in))
		pe_fail(p, "line over 1000 bytes");
}

static void
pe_on_read(void *arg, uint32_t events)
{
	struct pinentry *p = arg;
	uint8_t sink[256];
	ssize_t r;

	(void)events;
	p->busy++;
	while (p->from_fd >= 0) {
		if (p->finished) {
			/* After the answer: drain to EOF, keep nothing. */
			r = read(p->from_fd, sink, sizeof(sink));
			explicit_bzero(sink, sizeof(sink));
		} else
			r = read(p->from_fd, p->in + p->inlen,
			    sizeof(p->in) - p->inlen);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			break;
		if (r <= 0) {
			loop_unwatch(p->from_w);
			p->from_w = NULL;
			close(p->from_fd);
			p->from_fd = -1;
			if (!p->finished)
				pe_fail(p, r == 0 ? "closed its output "
				    "(exited, or could not be run)" :
				    strerror(errno));
			break;
		}
		if (p->finished)
			continue;
		p->inlen += (size_t)r;
		pe_lines(p);
	}
	p->busy--;
	pe_maybe_free(p);
}

static void
pe_on_deadline(void *arg)
{
	struct pinentry *p = arg;

	p->deadline = NULL;
	p->busy++;
	log_warn("pinentry (pid %d): no answer in time", (int)p->pid);
	pe_finish(p, PINENTRY_TIMEOUT, false);
	p->busy--;
	pe_maybe_free(p);
}

static void
pe_free(struct pinentry *p)
{
	size_t i;

	loop_unwatch(p->from_w);
	loop_unwatch(p->pid_w);
	loop_timer_cancel(p->deadline);
	loop_timer_cancel(p->kill_t);
	loop_timer_cancel(p->poll_t);
	if (p->to_fd >= 0)
		close(p->to_fd);
	if (p->from_fd >= 0)
		close(p->from_fd);
	if (p->pidfd >= 0)
		close(p->pidfd);
	for (i = 0; i < p->ncmds; i++)
		free(p->cmds[i].line);
	buf_free(&p->pin);
	explicit_bzero(p, sizeof(*p));
	free(p);
}

static void
pe_maybe_free(struct pinentry *p)
{
	if (p->busy == 0 && p->finished && p->pid <= 0)
		pe_free(p);
}

struct pinentry *
pinentry_start(struct loop *l, const struct pinentry_req *r,
    pinentry_done_fn fn, void *arg)
{
	struct pinentry *p;
	unsigned timeout;

	if (r->program == NULL || r->program[0] != '/' || fn == NULL ||
	    (r->tty_name != NULL && !pe_plain(r->tty_name)) ||
	    (r->tty_type != NULL && !pe_plain(r->tty_type)) ||
	    (r->display != NULL && !pe_plain(r->display)))
		return NULL;
	timeout = r->timeout_s == 0 ? PINENTRY_DEFAULT_TIMEOUT_S :
	    r->timeout_s > PINENTRY_MAX_TIMEOUT_S ? PINENTRY_MAX_TIMEOUT_S :
	    r->timeout_s;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->loop = l;
	p->fn = fn;
	p->arg = arg;
	p->confirm = r->confirm_only;
	p->pidfd = p->to_fd = p->from_fd = -1;
	buf_init(&p->pin, SIGNET_MAX_PIN_LEN);
	p->pin.secret = true;
	/* All the room at once: the PIN is never copied by a regrowth. */
	if (buf_reserve(&p->pin, SIGNET_MAX_PIN_LEN) == NULL ||
	    !pe_build(p, r, timeout))
		goto fail;
	buf_reset(&p->pin);
	if (pe_spawn(p, r) != 0)
		goto fail;
	/* From here on the program runs: failures end it through pe_finish
	 * so that it is reaped. */
	p->from_w = loop_watch(l, p->from_fd, EPOLLIN, pe_on_read, p);
	p->deadline = loop_timer(l, ((uint64_t)timeout + PINENTRY_GRACE_S) * 1000u,
	    pe_on_deadline, p);
	if ((p->pidfd = pe_pidfd_open(p->pid)) >= 0)
		p->pid_w = loop_watch(l, p->pidfd, EPOLLIN, pe_on_exit, p);
	else
		p->poll_t = loop_timer(l, PE_POLL_MS, pe_on_poll, p);
	if (p->from_w == NULL || p->deadline == NULL ||
	    (p->pid_w == NULL && p->poll_t == NULL)) {
		/* Nothing would ever reap it: do it here, it is quick. */
		(void)kill(p->pid, SIGKILL);
		while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
			;
		p->pid = 0;
		goto fail;
	}
	return p;
fail:
	pe_free(p);
	return NULL;
}

void
pinentry_cancel(struct pinentry *p)
{
	if (p == NULL || p->finished)
		return;
	p->finished = true;
	loop_timer_cancel(p->deadline);
	p->deadline = NULL;
	pe_wipe_input(p);
	buf_free(&p->pin);
	pe_end_program(p, false);
	pe_maybe_free(p);
}
