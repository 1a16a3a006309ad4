/*
 * signet watch: subscribe to the agent's token events and print each one
 * as it comes, a line each, flushed, until a signal or the agent goes.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client/cmd.h"

#define WATCH_USAGE "signet watch [--json]"

/* How often the wait for the next event looks at the stop flag: the
 * library's wait goes on across signals, so a stop is noticed within
 * this much. */
#define WATCH_TICK_MS 200

static volatile sig_atomic_t watch_stop;

static void
watch_on_signal(int sig)
{
	(void)sig;
	watch_stop = 1;
}

static void
watch_catch_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM };
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = watch_on_signal;
	/* The flag is seen within a tick once events are awaited; a
	 * second signal ends a watch still stuck before that (an agent that
	 * never answers the subscription). */
	sa.sa_flags = SA_RESETHAND;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		(void)sigaction(sigs[i], &sa, NULL);
}

/* A value as key=value wants it: quoted when it would not read back as
 * one word (empty, blanks, quotes, '='). Control characters are gone
 * already (cmd_clean_text). */
static void
put_value(FILE *f, const char *v)
{
	const char *p;

	if (v[0] != '\0' && strpbrk(v, " \"=\\") == NULL) {
		fputs(v, f);
		return;
	}
	fputc('"', f);
	for (p = v; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', f);
		fputc(*p, f);
	}
	fputc('"', f);
}

static void
put_field(FILE *f, const char *key, json_t *v)
{
	char num[32], *clean;
	const char *s;

	if (json_is_string(v))
		s = json_string_value(v);
	else if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%lld",
		    (long long)json_integer_value(v));
		s = num;
	} else if (json_is_boolean(v))
		s = json_is_true(v) ? "true" : "false";
	else
		return; /* nothing nested is expected; JSON mode shows it */
	fputc(' ', f);
	cmd_put_text(f, key);
	fputc('=', f);
	if ((clean = cmd_clean_text(s)) == NULL) {
		fputc('?', f);
		return;
	}
	put_value(f, clean);
	free(clean);
}

/* "2026-11-22T10:00:00Z token.removed serial=... label=... reason=...":
 * the time it arrived (the agent sends none), the method, the known
 * params in a fixed order, then any others. */
static void
print_line(json_t *note)
{
	static const char *const known[] = { "serial", "label", "reason" };
	json_t *params = json_object_get(note, "params"), *v;
	const char *key;
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	size_t i;

	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(ts, sizeof(ts), "%lld", (long long)now);
	fputs(ts, stdout);
	fputc(' ', stdout);
	cmd_put_text(stdout, jstr(note, "method"));
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if ((v = json_object_get(params, known[i])) != NULL)
			put_field(stdout, known[i], v);
	json_object_foreach(params, key, v) {
		bool seen = false;

		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			seen |= strcmp(key, known[i]) == 0;
		if (!seen)
			put_field(stdout, key, v);
	}
	fputc('\n', stdout);
}

static int
print_note(json_t *note, bool json)
{
	char *s;

	if (json) {
		/* JSON escapes control characters: safe to print raw. */
		if ((s = json_dumps(note, JSON_COMPACT)) == NULL) {
			cmd_error("watch", SIGNET_CLIENT_R_NOMEM,
			    "cannot print JSON");
			return SIGNET_EXIT_INTERNAL;
		}
		puts(s);
		free(s);
	} else
		print_line(note);
	/* A line at a time: whoever reads us (a pipe, a log) sees each
	 * event when it happens. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cmd_error("watch", SIGNET_CLIENT_R_IO_ERROR,
		    "standard output: %s", strerror(errno));
		return SIGNET_EXIT_INTERNAL;
	}
	return SIGNET_EXIT_OK;
}

int
watch_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct signet_error err = { 0 };
	struct signet_conn *conn = NULL;
	json_t *res = NULL, *note = NULL;
	bool json = false;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			printf("usage: %s\n", WATCH_USAGE);
			return SIGNET_EXIT_OK;
		default:
			return cmd_usage_error("watch", WATCH_USAGE,
			    "bad option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cmd_usage_error("watch", WATCH_USAGE,
		    "unexpected argument '%s'", argv[optind]);
	watch_catch_signals();
	if ((r = cmd_connect("watch", &conn)) != 0)
		goto out;
	if ((r = cmd_call("watch", conn, SIGNET_M_EVENTS_SUBSCRIBE, NULL,
	    &res)) != 0)
		goto out;
	/* Someone at a terminal should know the silence is waiting, and
	 * from when on events are seen. */
	if (isatty(STDERR_FILENO) == 1) {
		fputs("signet: watch: watching ", stderr);
		cmd_put_text(stderr, signet_conn_path(conn));
		fputs(" for token events; interrupt to stop\n", stderr);
	}
	/* Events that came before the reply are kept by the library and
	 * handed out first, in order. */
	while (!watch_stop) {
		if ((c = signet_next_notification(conn, WATCH_TICK_MS, &note,
		    &err)) != 0) {
			if (c == SIGNET_CLIENT_E_TRANSPORT) {
				cmd_error("watch", err.reason, "the agent "
				    "closed the connection");
				r = SIGNET_EXIT_UNREACHABLE;
			} else
				r = cmd_fail("watch", NULL, c, &err);
			goto out;
		}
		if (note == NULL)
			continue; /* nothing happened this tick */
		r = print_note(note, json);
		json_decref(note);
		note = NULL;
		if (r != 0)
			goto out;
	}
	r = SIGNET_EXIT_OK;
 out:
	signet_error_clear(&err);
	json_decref(res);
	signet_close(conn);
	return r;
}
