/*
 * fake_pinentry: a scripted stand-in for the PERSON at a pinentry dialog
 * (and for the dialog program itself), for tests/pinentry_test.c. A real
 * pinentry needs someone at a terminal or a desktop to type the PIN or
 * press Cancel; this program speaks the pinentry side of the Assuan
 * protocol on stdin/stdout and answers the way the script in
 * FAKE_PINENTRY_MODE says a person (or a broken program) would. The real
 * program is tested too: pinentry_test --tty drives /usr/bin/pinentry-tty
 * through a pty.
 *
 * Environment:
 *   FAKE_PINENTRY_LOG   file to append to: "pid N", "argv ...", every
 *                       DISPLAY=, NOTIFY_SOCKET= and LISTEN_* in its
 *                       environment, "sigmask clean" or
 *                       "sigmask blocked", "fds ..." (open descriptors),
 *                       then "> LINE" for every line received and notes
 *                       ("signal INT", "INT ignored", "EOF")
 *   FAKE_PINENTRY_PIN   the PIN the person types (default "1234")
 *   FAKE_PINENTRY_MODE  what happens at GETPIN / CONFIRM (default pin):
 *     pin            the PIN in D lines (after a comment and a status
 *                    line; cut into pieces of 7 bytes), then OK; CONFIRM: OK
 *     empty          OK without data (Enter on an empty field)
 *     cancel         ERR 83886179 Operation cancelled
 *     not_confirmed  ERR 83886194 Not confirmed
 *     timeout        the program's own timeout: S ERROR, ERR 83886142
 *     hang           nobody answers; SIGINT is logged and ends it
 *     hang_hard      nobody answers; SIGINT is ignored (SIGKILL ends it)
 *     garbage        a line that is no Assuan answer
 *     inquire        INQUIRE QUALITY (a pinentry asking back)
 *     long_line      a D line of 1500 bytes (Assuan allows 1000)
 *     long_pin       a PIN of 300 bytes, in D lines of 100
 *     bad_escape     D 12%G4
 *     nul            D 12%004 (a NUL byte in the PIN)
 *     exit_early     exits right after its greeting
 *     bad_greeting   greets with ERR
 *     opt_unknown    refuses OPTION and SETTITLE (unknown settings), then pin
 *     desc_refused   refuses SETDESC
 *     data_early     answers the first command with a D line
 *     slow           as pin, every byte of every answer written alone
 *     exit_after_pin as pin, then exits without waiting for BYE
 *     bye_stall      as pin, then ignores BYE and EOF and waits (SIGINT
 *                    is logged and ends it)
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static FILE *logfile;
static const char *mode = "pin";
static int logfiled = -1;

/* One line into the log. */
static void
note(const char *s)
{
	if (logfile == NULL)
		return;
	fprintf(logfile, "%s\n", s);
	fflush(logfile);
}

static void
on_int(int sig)
{
	static const char msg[] = "signal INT\n";

	(void)sig;
	if (logfiled >= 0)
		(void)write(logfiled, msg, sizeof(msg) - 1);
	_exit(0);
}

static void
say(const char *line)
{
	size_t i, n = strlen(line);

	if (strcmp(mode, "slow") == 0) {
		for (i = 0; i < n; i++) {
			fputc(line[i], stdout);
			fflush(stdout);
			usleep(1000);
		}
		fputc('\n', stdout);
	} else
		printf("%s\n", line);
	fflush(stdout);
}

/* The PIN as libassuan sends it: '%', CR and LF escaped. */
static void
say_pin(const char *pin)
{
	char line[64];
	size_t n = 0, i;

	say("# the person typed something");
	say("S PROGRESS typing");
	for (i = 0; pin[i] != '\0'; i++) {
		if (n == 0) {
			line[0] = 'D';
			line[1] = ' ';
			n = 2;
		}
		if (pin[i] == '%' || pin[i] == '\r' || pin[i] == '\n')
			n += (size_t)snprintf(line + n, sizeof(line) - n,
			    "%%%02X", (unsigned char)pin[i]);
		else
			line[n++] = pin[i];
		if (n >= 2 + 7 || pin[i + 1] == '\0') {
			line[n] = '\0';
			say(line);
			n = 0;
		}
	}
}

static void
wait_forever(void)
{
	for (;;)
		pause();
}

/* The answer to GETPIN or CONFIRM. */
static void
final(int confirm)
{
	const char *pin = getenv("FAKE_PINENTRY_PIN");
	char big[1600];
	int i;

	if (pin == NULL)
		pin = "1234";
	if (strcmp(mode, "cancel") == 0)
		say("ERR 83886179 Operation cancelled <Pinentry>");
	else if (strcmp(mode, "not_confirmed") == 0)
		say("ERR 83886194 Not confirmed <Pinentry>");
	else if (strcmp(mode, "timeout") == 0) {
		say("S ERROR tty.? 83886142 ");
		say("ERR 83886142 Timeout <Pinentry>");
	} else if (strcmp(mode, "hang") == 0) {
		signal(SIGINT, on_int);
		wait_forever();
	} else if (strcmp(mode, "hang_hard") == 0) {
		signal(SIGINT, SIG_IGN);
		note("INT ignored");
		wait_forever();
	} else if (strcmp(mode, "garbage") == 0)
		say("HELLO there");
	else if (strcmp(mode, "inquire") == 0)
		say("INQUIRE QUALITY");
	else if (strcmp(mode, "long_line") == 0) {
		memset(big, 'x', 1500);
		big[0] = 'D';
		big[1] = ' ';
		big[1500] = '\0';
		say(big);
	} else if (strcmp(mode, "long_pin") == 0) {
		memset(big, '5', 102);
		big[0] = 'D';
		big[1] = ' ';
		big[102] = '\0';
		for (i = 0; i < 3; i++)
			say(big);
		say("OK");
	} else if (strcmp(mode, "bad_escape") == 0)
		say("D 12%G4");
	else if (strcmp(mode, "nul") == 0)
		say("D 12%004");
	else {
		if (!confirm && strcmp(mode, "empty") != 0)
			say_pin(pin);
		say("OK");
		if (strcmp(mode, "exit_after_pin") == 0)
			exit(0);
	}
}

static void
log_start(int argc, char **argv)
{
	const char *path = getenv("FAKE_PINENTRY_LOG");
	struct dirent *d;
	sigset_t set;
	DIR *dir;
	int i, s, blocked = 0;

	if (path == NULL || (logfile = fopen(path, "a")) == NULL)
		return;
	logfiled = fileno(logfile);
	fprintf(logfile, "pid %d\nargv", (int)getpid());
	for (i = 1; i < argc; i++)
		fprintf(logfile, " %s", argv[i]);
	fputc('\n', logfile);
	for (i = 0; environ[i] != NULL; i++)
		if (strncmp(environ[i], "DISPLAY=", 8) == 0 ||
		    strncmp(environ[i], "NOTIFY_SOCKET=", 14) == 0 ||
		    strncmp(environ[i], "LISTEN_", 7) == 0)
			fprintf(logfile, "%s\n", environ[i]);
	sigprocmask(SIG_SETMASK, NULL, &set);
	for (s = 1; s < NSIG; s++)
		if (sigismember(&set, s) == 1)
			blocked = 1;
	fprintf(logfile, "sigmask %s\n", blocked ? "blocked" : "clean");
	/* What it inherited (the log itself is ours, not inherited). */
	fputs("fds", logfile);
	if ((dir = opendir("/proc/self/fd")) != NULL) {
		while ((d = readdir(dir)) != NULL) {
			if (d->d_name[0] == '.' || atoi(d->d_name) == logfiled ||
			    atoi(d->d_name) == dirfd(dir))
				continue;
			fprintf(logfile, " %s", d->d_name);
		}
		closedir(dir);
	}
	fputc('\n', logfile);
	fflush(logfile);
}

int
main(int argc, char **argv)
{
	char line[4096];
	size_t n;
	int first = 1;

	if (getenv("FAKE_PINENTRY_MODE") != NULL)
		mode = getenv("FAKE_PINENTRY_MODE");
	log_start(argc, argv);
	if (strcmp(mode, "bad_greeting") == 0) {
		say("ERR 83886080 not today");
		return 0;
	}
	say("OK Pleased to meet you");
	if (strcmp(mode, "exit_early") == 0)
		return 0;
	while (fgets(line, sizeof(line), stdin) != NULL) {
		n = strcspn(line, "\n");
		line[n] = '\0';
		if (logfile != NULL) {
			fprintf(logfile, "> %s\n", line);
			fflush(logfile);
		}
		if (first && strcmp(mode, "data_early") == 0) {
			say("D abc");
			say("OK");
		} else if (strcmp(line, "GETPIN") == 0)
			final(0);
		else if (strcmp(line, "CONFIRM") == 0)
			final(1);
		else if (strcmp(line, "BYE") == 0) {
			if (strcmp(mode, "bye_stall") == 0) {
				signal(SIGINT, on_int);
				continue;
			}
			say("OK closing connection");
			return 0;
		} else if (strcmp(mode, "opt_unknown") == 0 &&
		    (strncmp(line, "OPTION ", 7) == 0 ||
		    strncmp(line, "SETTITLE ", 9) == 0))
			say("ERR 83886254 Unknown option <Pinentry>");
		else if (strcmp(mode, "desc_refused") == 0 &&
		    strncmp(line, "SETDESC ", 8) == 0)
			say("ERR 83886080 General error <Pinentry>");
		else
			say("OK");
		first = 0;
	}
	note("EOF");
	if (strcmp(mode, "bye_stall") == 0) {
		signal(SIGINT, on_int);
		wait_forever();
	}
	return 0;
}
