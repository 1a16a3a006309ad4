/*
 * agent/pinentry.c driven through the agent's event loop.
 *
 * usage: pinentry_test FAKE_PINENTRY
 *        pinentry_test --tty PINENTRY_TTY
 *
 * The first form talks to tests/pinentry/fake_pinentry.c, a scripted
 * stand-in for the person at the dialog: the exact lines the program
 * received (escaping, truncation, order), the PIN bytes, every status
 * (cancel, the program's timeout and ours, garbage, over-long lines and
 * PINs, a program that cannot be run), that the program is reaped, with
 * a clean signal mask and no inherited descriptors, and that cancelling
 * or timing out ends it (SIGINT, then SIGKILL).
 *
 * The second form runs the real pinentry-tty on a pty and types at it:
 * the PIN, Ctrl-D (cancel), a CONFIRM button, nothing at all (its own
 * timeout), and a cancel from our side (the terminal gets its echo back).
 * Exit 77 (skipped) when PINENTRY_TTY is not installed.
 *
 * Like signetd, the test blocks SIGINT/SIGTERM/SIGHUP, ignores SIGPIPE
 * and has NOTIFY_SOCKET and LISTEN_FDS set: the program must inherit none
 * of these.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <termios.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/loop.h"
#include "agent/pinentry.h"
#include "signet/protocol.h"

static int failures;

#define CHECK(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: CHECK failed: %s\n",		\
		    __FILE__, __LINE__, #c);				\
		failures++;						\
	}								\
} while (0)

#define CHECK_INT(got, want) do {					\
	long _g = (long)(got), _w = (long)(want);			\
	if (_g != _w) {							\
		fprintf(stderr, "%s:%d: %s = %ld, want %s (%ld)\n",	\
		    __FILE__, __LINE__, #got, _g, #want, _w);		\
		failures++;						\
	}								\
} while (0)

#define CHECK_STR(got, want) do {					\
	const char *_g = (got), *_w = (want);				\
	if (_g == NULL || strcmp(_g, _w) != 0) {			\
		fprintf(stderr, "%s:%d: %s =\n[%s]\nwant\n[%s]\n",	\
		    __FILE__, __LINE__, #got, _g ? _g : "(null)", _w);	\
		failures++;						\
	}								\
} while (0)

#define REQUIRE(c) do {							\
	if (!(c)) {							\
		fprintf(stderr, "%s:%d: REQUIRE failed: %s\n",		\
		    __FILE__, __LINE__, #c);				\
		exit(1);						\
	}								\
} while (0)

/* Nothing here should take this long. */
#define WATCHDOG_MS 20000u

static struct loop *L;
static const char *fake;
static char tmpdir[256];

struct result {
	int calls;
	int status;
	bool pin_null;
	bool pin_secret;
	char pin[SIGNET_MAX_PIN_LEN + 1];
	size_t pinlen;
	uint64_t ms;            /* from start to fn */
	bool move;              /* fn takes the PIN buffer (see pinentry.h) */
	struct buf moved;
};

static uint64_t t0;

static void
on_done(void *arg, int status, struct buf *pin)
{
	struct result *r = arg;

	r->calls++;
	r->status = status;
	r->ms = loop_now_ms() - t0;
	r->pin_null = pin == NULL;
	if (pin != NULL) {
		r->pin_secret = pin->secret;
		REQUIRE(pin->len <= SIGNET_MAX_PIN_LEN);
		if (pin->len > 0)
			memcpy(r->pin, pin->data, pin->len);
		r->pin[pin->len] = '\0';
		r->pinlen = pin->len;
		if (r->move) {
			r->moved = *pin;
			buf_init(pin, 0);
		}
	}
	loop_stop(L);
}

static void
on_watchdog(void *arg)
{
	(void)arg;
	fprintf(stderr, "watchdog: nothing happened in %u ms\n", WATCHDOG_MS);
	exit(1);
}

/* Run the loop until fn is called. */
static void
run_until_done(struct result *r)
{
	struct timer *wd = loop_timer(L, WATCHDOG_MS, on_watchdog, NULL);

	REQUIRE(wd != NULL);
	while (r->calls == 0)
		REQUIRE(loop_run(L) == 0);
	loop_timer_cancel(wd);
}

/*
 * A pinentry object outlives its callback until its program is reaped
 * (pinentry.h); a test that ends right after the last callback would see
 * LeakSanitizer report the object whose child a busy machine had not yet
 * ended. Turn the loop until every child of this test is gone.
 */
static void
on_settle_tick(void *arg)
{
	(void)arg;
	loop_stop(L);
}

static void
settle(void)
{
	uint64_t until = loop_now_ms() + 5000;

	while (loop_now_ms() < until && waitpid(-1, NULL, WNOHANG) >= 0) {
		REQUIRE(loop_timer(L, 20, on_settle_tick, NULL) != NULL);
		REQUIRE(loop_run(L) == 0);
	}
	/* And one more turn, for the object freed by the last reap. */
	REQUIRE(loop_timer(L, 20, on_settle_tick, NULL) != NULL);
	REQUIRE(loop_run(L) == 0);
}

struct reapwait {
	pid_t pid;
	uint64_t until;
	bool gone;
	struct timer *t;
};

static void
on_reapcheck(void *arg)
{
	struct reapwait *w = arg;

	/* A zombie still answers kill(pid, 0): gone means reaped. */
	if (kill(w->pid, 0) != 0 && errno == ESRCH) {
		w->gone = true;
		loop_stop(L);
		return;
	}
	if (loop_now_ms() > w->until) {
		loop_stop(L);
		return;
	}
	w->t = loop_timer(L, 10, on_reapcheck, w);
	REQUIRE(w->t != NULL);
}

/* Run the loop until pid is reaped (by pinentry.c); ms it took, or -1. */
static long
wait_reaped(pid_t pid, unsigned max_ms)
{
	struct reapwait w = { .pid = pid, .until = loop_now_ms() + max_ms };
	uint64_t start = loop_now_ms();

	REQUIRE(pid > 0);
	w.t = loop_timer(L, 0, on_reapcheck, &w);
	REQUIRE(w.t != NULL);
	REQUIRE(loop_run(L) == 0);
	if (!w.gone)
		fprintf(stderr, "pid %d not reaped in %u ms\n", (int)pid,
		    max_ms);
	return w.gone ? (long)(loop_now_ms() - start) : -1;
}

/* Whole file (static buffer); "" when missing. */
static const char *
slurp(const char *path)
{
	static char text[65536];
	size_t n = 0;
	FILE *f;

	text[0] = '\0';
	if ((f = fopen(path, "r")) == NULL)
		return text;
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

static char logpath[512];

/* The fake's log, without its first line (the pid). */
static const char *
log_body(pid_t *pid)
{
	const char *t = slurp(logpath);
	const char *nl = strchr(t, '\n');

	*pid = 0;
	if (strncmp(t, "pid ", 4) == 0)
		*pid = (pid_t)atoi(t + 4);
	return nl != NULL ? nl + 1 : t;
}

static void
set_mode(const char *name, const char *mode)
{
	snprintf(logpath, sizeof(logpath), "%s/%s.log", tmpdir, name);
	unlink(logpath);
	REQUIRE(setenv("FAKE_PINENTRY_LOG", logpath, 1) == 0);
	REQUIRE(setenv("FAKE_PINENTRY_MODE", mode, 1) == 0);
}

/* A plain request to the fake. */
static struct pinentry_req
plain_req(void)
{
	struct pinentry_req r = {
		.program = fake,
		.description = "Sign 1 document",
		.prompt = "PIN:",
		.timeout_s = 30,
	};

	return r;
}

/* The next converse() moves the PIN buffer out in fn. */
static bool move_next;

/* Start the fake in mode, run to fn; the fake's pid in *pid. */
static struct result
converse(const char *name, const char *mode, const struct pinentry_req *req,
    pid_t *pid)
{
	struct result r;
	struct pinentry *p;

	memset(&r, 0, sizeof(r));
	r.move = move_next;
	move_next = false;
	set_mode(name, mode);
	t0 = loop_now_ms();
	p = pinentry_start(L, req, on_done, &r);
	REQUIRE(p != NULL);
	run_until_done(&r);
	(void)log_body(pid);
	return r;
}

/* The common case: the fake ends in mode with status, and is reaped. */
static struct result
expect_status(const char *mode, int status)
{
	struct pinentry_req req = plain_req();
	struct result r;
	pid_t pid;

	r = converse(mode, mode, &req, &pid);
	if (r.status != status)
		fprintf(stderr, "mode %s:\n", mode);
	CHECK_INT(r.status, status);
	CHECK_INT(r.calls, 1);
	CHECK(r.status != 0 ? r.pin_null : !r.pin_null);
	CHECK(wait_reaped(pid, 5000) >= 0);
	CHECK_INT(r.calls, 1);
	return r;
}

/* Everything a request can carry, and what the program must receive. */
static void
test_full_conversation(void)
{
	static const char pin[] = "12%34 5\xc3\xa9x";
	struct pinentry_req req = {
		.program = fake,
		.title = "Signet",
		/* A client-chosen path and subject try to inject an Assuan
		 * command and terminal escapes. */
		.description = "Program: /usr/bin/evil\r\nGETPIN\n"
		    "Certificate: CN=A%20B \xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd"
		    "\x1b[31m\x7f\xc2\x9b\x9b\tDocuments: 3",
		.prompt = "PIN:",
		.error = "Wrong PIN, 2 tries left",
		.timeout_s = 30,
		.tty_name = "/dev/pts/77",
		.tty_type = "xterm-256color",
		.display = ":7",
		.ok = "Sign",
		.cancel = "Cancel",
	};
	char want[2048];
	struct result r;
	pid_t pid;

	REQUIRE(setenv("FAKE_PINENTRY_PIN", pin, 1) == 0);
	move_next = true;
	r = converse("full", "pin", &req, &pid);
	CHECK_INT(r.status, 0);
	CHECK(!r.pin_null && r.pin_secret);
	CHECK_INT(r.pinlen, strlen(pin));
	CHECK_STR(r.pin, pin);
	/* Moved out of fn: ours now, still secret, freed (and wiped) here. */
	CHECK(r.moved.secret && r.moved.len == strlen(pin) &&
	    memcmp(r.moved.data, pin, r.moved.len) == 0);
	buf_free(&r.moved);
	CHECK(wait_reaped(pid, 5000) >= 0);
	snprintf(want, sizeof(want),
	    "argv --display :7\n"
	    "DISPLAY=:7\n"
	    "sigmask clean\n"
	    "fds 0 1 2\n"
	    "> OPTION ttyname=/dev/pts/77\n"
	    "> OPTION ttytype=xterm-256color\n"
	    "> SETTIMEOUT 30\n"
	    "> SETTITLE Signet\n"
	    "> SETDESC Program: /usr/bin/evil?%%0AGETPIN%%0ACertificate: "
	    "CN=A%%2520B \xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd?[31m????"
	    "Documents: 3\n"
	    "> SETPROMPT PIN:\n"
	    "> SETERROR Wrong PIN, 2 tries left\n"
	    "> SETOK Sign\n"
	    "> SETCANCEL Cancel\n"
	    "> GETPIN\n"
	    "> BYE\n");
	CHECK_STR(log_body(&pid), want);
	REQUIRE(unsetenv("FAKE_PINENTRY_PIN") == 0);

	/* Without display: the agent's own DISPLAY (set by main) is kept,
	 * no --display; no tty options; CONFIRM. */
	req = plain_req();
	req.confirm_only = true;
	req.description = "Last try";
	r = converse("confirm", "pin", &req, &pid);
	CHECK_INT(r.status, 0);
	CHECK(r.pin_null);
	CHECK(wait_reaped(pid, 5000) >= 0);
	CHECK_STR(log_body(&pid),
	    "argv\n"
	    "DISPLAY=:99\n"
	    "sigmask clean\n"
	    "fds 0 1 2\n"
	    "> SETTIMEOUT 30\n"
	    "> SETDESC Last try\n"
	    "> SETPROMPT PIN:\n"
	    "> CONFIRM\n"
	    "> BYE\n");
}

/* Lines are cut to 1000 bytes at a character or escape boundary. */
static void
test_truncation(void)
{
	static char text[4096], want[2048];
	struct pinentry_req req = plain_req();
	const char *body, *line;
	struct result r;
	size_t n;
	pid_t pid;

	/* ASCII: SETDESC + space + 989 + "..." = 1000 bytes. */
	memset(text, 'a', 2000);
	text[2000] = '\0';
	req.description = text;
	r = converse("cut_ascii", "pin", &req, &pid);
	CHECK_INT(r.status, 0);
	CHECK(wait_reaped(pid, 5000) >= 0);
	body = log_body(&pid);
	REQUIRE((line = strstr(body, "> SETDESC ")) != NULL);
	n = strcspn(line + 2, "\n");
	CHECK_INT(n, PINENTRY_MAX_LINE);
	memcpy(want, "SETDESC ", 8);
	memset(want + 8, 'a', 989);
	memcpy(want + 997, "...", 4);
	CHECK(n == 1000 && memcmp(line + 2, want, 1000) == 0);

	/* Two-byte characters: 494 of them (988 bytes), never half. */
	for (n = 0; n < 1200; n += 2)
		memcpy(text + n, "\xd1\x8f", 2);
	text[1200] = '\0';
	r = converse("cut_utf8", "pin", &req, &pid);
	CHECK(wait_reaped(pid, 5000) >= 0);
	body = log_body(&pid);
	REQUIRE((line = strstr(body, "> SETDESC ")) != NULL);
	CHECK_INT(strcspn(line + 2, "\n"), 8 + 988 + 3);
	CHECK(memcmp(line + 2 + 8 + 986, "\xd1\x8f...\n", 6) == 0);

	/* Escapes: 329 "%25" (987 bytes), never a split escape. */
	memset(text, '%', 400);
	text[400] = '\0';
	r = converse("cut_escape", "pin", &req, &pid);
	CHECK(wait_reaped(pid, 5000) >= 0);
	body = log_body(&pid);
	REQUIRE((line = strstr(body, "> SETDESC ")) != NULL);
	CHECK_INT(strcspn(line + 2, "\n"), 8 + 987 + 3);
	CHECK(memcmp(line + 2 + 8 + 984, "%25...\n", 7) == 0);

	/* Exactly 992 bytes of text fit whole: 1000 bytes, no "...". */
	memset(text, 'b', 992);
	text[992] = '\0';
	r = converse("cut_exact", "pin", &req, &pid);
	CHECK(wait_reaped(pid, 5000) >= 0);
	body = log_body(&pid);
	REQUIRE((line = strstr(body, "> SETDESC ")) != NULL);
	CHECK_INT(strcspn(line + 2, "\n"), 1000);
	CHECK(line[2 + 999] == 'b');
}

static void
test_statuses(void)
{
	struct pinentry_req req;
	struct result r;
	const char *body;
	pid_t pid;

	r = expect_status("cancel", PINENTRY_CANCELLED);
	/* The program answered: it is told BYE, not killed. */
	CHECK(strstr(log_body(&pid), "> GETPIN\n> BYE\n") != NULL);
	req = plain_req();
	req.confirm_only = true;
	r = converse("not_confirmed", "not_confirmed", &req, &pid);
	CHECK_INT(r.status, PINENTRY_CANCELLED);
	CHECK(r.pin_null);
	CHECK(wait_reaped(pid, 5000) >= 0);
	r = converse("confirm_cancel", "cancel", &req, &pid);
	CHECK_INT(r.status, PINENTRY_CANCELLED);
	CHECK(wait_reaped(pid, 5000) >= 0);

	r = expect_status("timeout", PINENTRY_TIMEOUT);
	CHECK(r.ms < 2000);

	r = expect_status("empty", 0);
	CHECK_INT(r.pinlen, 0);
	CHECK_STR(r.pin, "");

	REQUIRE(setenv("FAKE_PINENTRY_PIN", "a%b\r\nc", 1) == 0);
	r = expect_status("slow", 0);
	CHECK_STR(r.pin, "a%b\r\nc");
	r = expect_status("exit_after_pin", 0);
	CHECK_STR(r.pin, "a%b\r\nc");
	REQUIRE(unsetenv("FAKE_PINENTRY_PIN") == 0);

	/* Unknown settings are skipped; the conversation goes on. */
	r = expect_status("opt_unknown", 0);
	CHECK_STR(r.pin, "1234");

	/* Broken programs. */
	expect_status("garbage", SIGNET_ERR_IO);
	expect_status("inquire", SIGNET_ERR_IO);
	expect_status("long_line", SIGNET_ERR_IO);
	expect_status("long_pin", SIGNET_ERR_LIMIT);
	expect_status("bad_escape", SIGNET_ERR_IO);
	expect_status("nul", SIGNET_ERR_IO);
	expect_status("exit_early", SIGNET_ERR_IO);
	expect_status("bad_greeting", SIGNET_ERR_IO);
	expect_status("desc_refused", SIGNET_ERR_IO);
	expect_status("data_early", SIGNET_ERR_IO);
	/* A protocol error ends it at once, with SIGINT (the fake does not
	 * log it: SIGINT's default action). */
	body = log_body(&pid);
	CHECK(strstr(body, "> BYE") == NULL);
}

/* Our own deadline, SIGINT then SIGKILL, and the BYE wait. */
static void
test_ending(void)
{
	struct pinentry_req req = plain_req();
	struct result r;
	const char *body;
	long ms;
	pid_t pid;

	/* A program that never answers: timeout_s + PINENTRY_GRACE_S. */
	req.timeout_s = 1;
	r = converse("hang", "hang", &req, &pid);
	CHECK_INT(r.status, PINENTRY_TIMEOUT);
	CHECK(r.pin_null);
	CHECK(r.ms >= 1000 * (1 + PINENTRY_GRACE_S) - 50 &&
	    r.ms < 1000 * (1 + PINENTRY_GRACE_S) + 1000);
	ms = wait_reaped(pid, 5000);
	CHECK(ms >= 0 && ms < 500);
	body = log_body(&pid);
	CHECK(strstr(body, "> GETPIN\nsignal INT\n") != NULL);

	/* One that ignores SIGINT gets SIGKILL a second later. */
	r = converse("hang_hard", "hang_hard", &req, &pid);
	CHECK_INT(r.status, PINENTRY_TIMEOUT);
	ms = wait_reaped(pid, 5000);
	CHECK(ms >= 900 && ms < 2000);
	CHECK(strstr(log_body(&pid), "INT ignored\n") != NULL);

	/* After the PIN, one that does not exit on BYE: SIGINT after 2 s. */
	req.timeout_s = 30;
	r = converse("bye_stall", "bye_stall", &req, &pid);
	CHECK_INT(r.status, 0);
	CHECK_STR(r.pin, "1234");
	CHECK(r.ms < 1000);
	ms = wait_reaped(pid, 5000);
	CHECK(ms >= 1900 && ms < 3000);
	CHECK(strstr(log_body(&pid), "> BYE\nEOF\nsignal INT\n") != NULL);
}

static void
on_cancel_timer(void *arg)
{
	pinentry_cancel(arg);
	loop_stop(L);
}

static void
on_stop(void *arg)
{
	(void)arg;
	loop_stop(L);
}

/* Let the loop run for ms. */
static void
run_for(unsigned ms)
{
	REQUIRE(loop_timer(L, ms, on_stop, NULL) != NULL);
	REQUIRE(loop_run(L) == 0);
}

/* pinentry_cancel: fn never called, the program ended and reaped. */
static void
test_cancel(void)
{
	struct pinentry_req req = plain_req();
	struct result r;
	struct pinentry *p;
	const char *modes[] = { "hang", "hang_hard" };
	long ms;
	pid_t pid;
	int i;

	for (i = 0; i < 2; i++) {
		memset(&r, 0, sizeof(r));
		set_mode(i == 0 ? "cancel_hang" : "cancel_hang_hard", modes[i]);
		REQUIRE((p = pinentry_start(L, &req, on_done, &r)) != NULL);
		REQUIRE(loop_timer(L, 300, on_cancel_timer, p) != NULL);
		REQUIRE(loop_run(L) == 0);
		(void)log_body(&pid);
		ms = wait_reaped(pid, 5000);
		CHECK(ms >= 0 && ms < (i == 0 ? 500 : 2000));
		CHECK_INT(r.calls, 0);
		if (i == 0)
			CHECK(strstr(log_body(&pid), "signal INT\n") != NULL);
	}
	/* Cancelled before it even greeted. */
	memset(&r, 0, sizeof(r));
	set_mode("cancel_at_once", "pin");
	REQUIRE((p = pinentry_start(L, &req, on_done, &r)) != NULL);
	pinentry_cancel(p);
	pinentry_cancel(NULL);
	run_for(500);
	CHECK_INT(r.calls, 0);
}

/* Requests refused before anything runs, and programs that cannot run. */
static void
test_bad_requests(void)
{
	struct pinentry_req req = plain_req();
	char path[600];
	struct result r;
	int fd;

	memset(&r, 0, sizeof(r));
	req.program = "fake_pinentry";
	CHECK(pinentry_start(L, &req, on_done, &r) == NULL);
	req.program = NULL;
	CHECK(pinentry_start(L, &req, on_done, &r) == NULL);
	req = plain_req();
	req.tty_name = "/dev/pts/1\nGETPIN";
	CHECK(pinentry_start(L, &req, on_done, &r) == NULL);
	req.tty_name = "/dev/pts/%31";
	CHECK(pinentry_start(L, &req, on_done, &r) == NULL);
	req.tty_name = "";
	CHECK(pinentry_start(L, &req, on_done, &r) == NULL);
	req = plain_req();
	req.tty_type = "xterm OPTION";
	CHECK(pinentry_start(L, &req, on_done, &r) == NULL);
	req = plain_req();
	req.display = ":0\x1b";
	CHECK(pinentry_start(L, &req, on_done, &r) == NULL);
	CHECK(pinentry_start(L, &req, NULL, &r) == NULL);
	CHECK_INT(r.calls, 0);

	/* A missing program and a file that is not one: SIGNET_ERR_IO. */
	req = plain_req();
	req.program = "/nonexistent/pinentry";
	REQUIRE(pinentry_start(L, &req, on_done, &r) != NULL);
	run_until_done(&r);
	CHECK_INT(r.status, SIGNET_ERR_IO);
	CHECK(r.pin_null);
	snprintf(path, sizeof(path), "%s/not-a-program", tmpdir);
	REQUIRE((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0700)) >= 0);
	REQUIRE(write(fd, "\x7f" "ELF?", 5) == 5);
	close(fd);
	memset(&r, 0, sizeof(r));
	req.program = path;
	REQUIRE(pinentry_start(L, &req, on_done, &r) != NULL);
	run_until_done(&r);
	CHECK_INT(r.status, SIGNET_ERR_IO);
	CHECK_INT(r.calls, 1);
}

/* ---- the real pinentry-tty on a pty ---- */

struct pty {
	int master;
	int slave_fd;           /* held open: no hangups on the master */
	char slave[128];
	char out[65536];        /* what the program wrote to the terminal */
	size_t outlen;
	const char *wait_for;   /* when this appears in out ... */
	const char *type;       /* ... type this */
	bool typed;
	struct watch *w;
};

static void
on_pty(void *arg, uint32_t events)
{
	struct pty *t = arg;
	ssize_t n;

	(void)events;
	while ((n = read(t->master, t->out + t->outlen,
	    sizeof(t->out) - 1 - t->outlen)) > 0) {
		t->outlen += (size_t)n;
		t->out[t->outlen] = '\0';
	}
	if (!t->typed && t->wait_for != NULL && t->type != NULL &&
	    strstr(t->out, t->wait_for) != NULL) {
		t->typed = true;
		REQUIRE(write(t->master, t->type, strlen(t->type)) ==
		    (ssize_t)strlen(t->type));
	}
}

static void
pty_open(struct pty *t)
{
	const char *name;

	memset(t, 0, sizeof(*t));
	REQUIRE((t->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) >= 0);
	REQUIRE(grantpt(t->master) == 0 && unlockpt(t->master) == 0);
	REQUIRE((name = ptsname(t->master)) != NULL);
	snprintf(t->slave, sizeof(t->slave), "%s", name);
	REQUIRE(fcntl(t->master, F_SETFL, O_NONBLOCK) == 0);
	REQUIRE((t->slave_fd = open(t->slave, O_RDWR | O_NOCTTY |
	    O_CLOEXEC)) >= 0);
	REQUIRE((t->w = loop_watch(L, t->master, EPOLLIN, on_pty, t)) != NULL);
}

static void
pty_close(struct pty *t)
{
	loop_unwatch(t->w);
	close(t->slave_fd);
	close(t->master);
}

/* Echo on the pty's terminal (restored after the program)? */
static bool
pty_echo(const struct pty *t)
{
	struct termios tio;

	REQUIRE(tcgetattr(t->slave_fd, &tio) == 0);
	return (tio.c_lflag & ECHO) != 0;
}

/* pinentry-tty, with the terminal answered by t; wait for the reap. */
static struct result
tty_converse(const char *prog, struct pty *t, struct pinentry_req *req)
{
	struct result r;

	memset(&r, 0, sizeof(r));
	req->program = prog;
	req->tty_name = t->slave;
	t0 = loop_now_ms();
	REQUIRE(pinentry_start(L, req, on_done, &r) != NULL);
	run_until_done(&r);
	/* Let it finish with the terminal and exit. */
	run_for(300);
	return r;
}

static int
test_tty(const char *prog)
{
	struct pinentry_req req;
	struct pty t;
	struct result r;
	struct pinentry *p;

	if (access(prog, X_OK) != 0) {
		fprintf(stderr, "SKIP: %s not installed (Debian package "
		    "pinentry-tty)\n", prog);
		return 77;
	}

	/* The PIN, typed at the prompt; the description as pinentry-tty
	 * shows it after unescaping; no echo of the PIN. */
	pty_open(&t);
	memset(&req, 0, sizeof(req));
	req.title = "Signet";
	req.description = "Program: /usr/bin/evil\r\nGETPIN\nDocuments: 3 (100%)";
	req.prompt = "Signet PIN:";
	req.error = "Wrong PIN, 2 tries left";
	req.timeout_s = 30;
	t.wait_for = "Signet PIN: ";
	t.type = "12%3 4x\r";
	r = tty_converse(prog, &t, &req);
	CHECK_INT(r.status, 0);
	CHECK(!r.pin_null && r.pin_secret);
	CHECK_STR(r.pin, "12%3 4x");
	CHECK(strstr(t.out, "Wrong PIN, 2 tries left") != NULL);
	CHECK(strstr(t.out, "Program: /usr/bin/evil?\r\nGETPIN\r\n"
	    "Documents: 3 (100%)\r\nSignet PIN: ") != NULL);
	CHECK(strstr(t.out, "12%3") == NULL);
	CHECK(pty_echo(&t));
	if (failures > 0)
		fprintf(stderr, "terminal:\n%s\n", t.out);
	pty_close(&t);

	/* Ctrl-D at the prompt: cancelled. */
	pty_open(&t);
	memset(&req, 0, sizeof(req));
	req.prompt = "PIN:";
	req.timeout_s = 30;
	t.wait_for = "PIN: ";
	t.type = "\x04";
	r = tty_converse(prog, &t, &req);
	CHECK_INT(r.status, PINENTRY_CANCELLED);
	CHECK(r.pin_null);
	pty_close(&t);

	/* CONFIRM: consent for a final try, by its OK button. */
	pty_open(&t);
	memset(&req, 0, sizeof(req));
	req.description = "Final PIN try. Sign?";
	req.confirm_only = true;
	req.ok = "Sign";
	req.cancel = "Abort";
	req.timeout_s = 30;
	t.wait_for = "[sa]? ";
	t.type = "s";
	r = tty_converse(prog, &t, &req);
	CHECK_INT(r.status, 0);
	CHECK(r.pin_null);
	CHECK(strstr(t.out, "Final PIN try. Sign?") != NULL);
	pty_close(&t);
	/* ... and by its Cancel button. */
	pty_open(&t);
	t.wait_for = "[sa]? ";
	t.type = "a";
	r = tty_converse(prog, &t, &req);
	CHECK_INT(r.status, PINENTRY_CANCELLED);
	pty_close(&t);

	/* Nobody types: its own timeout, well before ours. */
	pty_open(&t);
	memset(&req, 0, sizeof(req));
	req.timeout_s = 1;
	r = tty_converse(prog, &t, &req);
	CHECK_INT(r.status, PINENTRY_TIMEOUT);
	CHECK(r.ms >= 900 && r.ms < 1000 * (1 + PINENTRY_GRACE_S) - 500);
	CHECK(pty_echo(&t));
	pty_close(&t);

	/* Cancelled by us at the prompt: SIGINT, and the terminal gets its
	 * echo back. */
	pty_open(&t);
	memset(&req, 0, sizeof(req));
	req.program = prog;
	req.tty_name = t.slave;
	req.timeout_s = 30;
	memset(&r, 0, sizeof(r));
	REQUIRE((p = pinentry_start(L, &req, on_done, &r)) != NULL);
	REQUIRE(loop_timer(L, 500, on_cancel_timer, p) != NULL);
	REQUIRE(loop_run(L) == 0);
	CHECK(strstr(t.out, "PIN: ") != NULL);
	run_for(500);
	CHECK_INT(r.calls, 0);
	CHECK(pty_echo(&t));
	pty_close(&t);
	return 0;
}

static void
cleanup(void)
{
	char cmd[300];

	if (tmpdir[0] == '\0' || getenv("PINENTRY_TEST_KEEP") != NULL)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

int
main(int argc, char **argv)
{
	const char *base;
	sigset_t mask;
	int rc = 0;

	if (argc == 3 && strcmp(argv[1], "--tty") == 0)
		fake = NULL;
	else if (argc == 2)
		fake = argv[1];
	else {
		fprintf(stderr, "usage: %s FAKE_PINENTRY | --tty PINENTRY_TTY\n",
		    argv[0]);
		return 2;
	}
	/* As signetd: these would be inherited by the program. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	REQUIRE(sigprocmask(SIG_BLOCK, &mask, NULL) == 0);
	REQUIRE(setenv("DISPLAY", ":99", 1) == 0);
	/* signetd's own, from systemd: never the program's. */
	REQUIRE(setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1) == 0);
	REQUIRE(setenv("LISTEN_FDS", "1", 1) == 0);
	REQUIRE(loop_new(&L) == 0);
	base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(tmpdir, sizeof(tmpdir), "%s/pinentry_test.XXXXXX", base);
	REQUIRE(mkdtemp(tmpdir) != NULL);
	atexit(cleanup);

	if (fake == NULL)
		rc = test_tty(argv[2]);
	else {
		test_full_conversation();
		test_truncation();
		test_statuses();
		test_ending();
		test_cancel();
		test_bad_requests();
	}
	settle();
	loop_free(L);
	if (rc == 77)
		return rc;
	fprintf(stderr, "pinentry_test: %d failure(s)\n", failures);
	return failures == 0 ? 0 : 1;
}
