/*
 * Asking a person for a PIN through a pinentry program (pinentry-curses,
 * -tty, -gtk, -qt, -gnome3), the way gpg-agent does: the program is run
 * with pipes on its stdin and stdout and spoken to in the Assuan protocol,
 * without blocking the agent's loop.
 *
 * The conversation: the program greets ("OK ..."); we send OPTION
 * ttyname=/ttytype= (when given), SETTIMEOUT, SETTITLE, SETDESC,
 * SETPROMPT, SETERROR, SETOK, SETCANCEL (each only when given, each
 * answered "OK" or "ERR code text"), then GETPIN (answered with "D <PIN,
 * percent-escaped>" lines and "OK") or CONFIRM (answered "OK" or ERR),
 * then BYE. "#" comments and "S" status lines are skipped.
 *
 * Text from the request reaches the program only escaped: '%' and LF are
 * percent-escaped (LF is a line break in the dialog), every other control
 * character (CR, ESC, DEL, the C1 range) becomes '?', so neither a
 * second Assuan command nor a terminal escape sequence can be injected by
 * a client-chosen string (a program path, a certificate subject), and each
 * line is cut to fit PINENTRY_MAX_LINE (at a character boundary, ending in
 * "..."). Put what matters first in a long description.
 *
 * The program gets the pipes as stdin and stdout, the agent's stderr, no
 * other descriptor, default signal dispositions and an empty signal mask,
 * and the agent's environment without NOTIFY_SOCKET, LISTEN_* and
 * WATCHDOG_* (DISPLAY replaced when the request has one).
 *
 * Never offered to the program: OPTION allow-external-password-cache (a
 * desktop pinentry would otherwise offer to store the PIN in a keyring).
 *
 * SIGPIPE must be ignored in the calling process (signetd ignores it): the
 * program may exit while we write to it.
 */
#ifndef SIGNET_PINENTRY_H
#define SIGNET_PINENTRY_H

#include <stdbool.h>

#include "agent/loop.h"
#include "common/buf.h"
#include "common/err.h"

/* Statuses besides 0 and the negative SIGNET_ERR_* values. */
#define PINENTRY_CANCELLED 1   /* the person cancelled (or refused CONFIRM) */
#define PINENTRY_TIMEOUT   2   /* nobody answered in time */

/* An Assuan line, without its LF (libassuan's limit). */
#define PINENTRY_MAX_LINE 1000u
/* timeout_s 0 means this; larger ones are cut to PINENTRY_MAX_TIMEOUT_S. */
#define PINENTRY_DEFAULT_TIMEOUT_S 60u
#define PINENTRY_MAX_TIMEOUT_S 3600u
/* Past timeout_s, the time the program has to report its own timeout
 * before we end it. */
#define PINENTRY_GRACE_S 3u

struct pinentry_req {
	const char *program;      /* absolute path, run directly (no shell) */
	const char *title;        /* SETTITLE; NULL: not sent */
	const char *description;  /* SETDESC; NULL: not sent */
	const char *prompt;       /* SETPROMPT ("PIN:"); NULL: not sent */
	const char *error;        /* SETERROR: NULL, or "Wrong PIN, N tries left" */
	unsigned timeout_s;       /* SETTIMEOUT, and our own limit (below) */
	const char *tty_name;     /* OPTION ttyname=; may be NULL */
	const char *display;      /* --display and DISPLAY; may be NULL */
	bool confirm_only;        /* CONFIRM instead of GETPIN: consent for a
	                           * final PIN try */
	/* Additions to the first draft; NULL when not wanted. */
	const char *tty_type;     /* OPTION ttytype= (TERM): curses needs it
	                           * when the agent has no TERM of its own */
	const char *ok;           /* SETOK: the OK button ("Sign") */
	const char *cancel;       /* SETCANCEL: the Cancel button */
};

/*
 * Called once, from the loop, unless pinentry_cancel() came first:
 *   0                   GETPIN: pin holds the PIN (it may be empty);
 *                       CONFIRM: the person agreed, pin is NULL
 *   PINENTRY_CANCELLED  cancelled / not confirmed (pin NULL)
 *   PINENTRY_TIMEOUT    the program's own timeout, or ours (pin NULL)
 *   SIGNET_ERR_LIMIT    the PIN was over SIGNET_MAX_PIN_LEN bytes
 *   SIGNET_ERR_IO       the program could not be run, died, or broke the
 *                       protocol (garbage, an over-long line, ERR on a
 *                       needed command)
 *
 * pin (secret = true) is valid only during the call; it is wiped and
 * freed when fn returns. To keep the bytes without copying them, move the
 * buffer out: `*mine = *pin; buf_init(pin, 0);` (then buf_free(mine)
 * wipes them). After fn the pinentry is no longer the caller's: do not
 * pass it to pinentry_cancel(); it finishes with the program by itself.
 */
typedef void (*pinentry_done_fn)(void *arg, int status, struct buf *pin);

struct pinentry;

/*
 * Starts the program and the conversation. NULL when it could not be
 * started at all (bad request: a NULL or relative program path, a
 * tty_name/tty_type/display with control characters or '%'; no memory,
 * no fork, no pipes); fn is then never called. An exec failure in the
 * child shows up later, as SIGNET_ERR_IO.
 *
 * Time limit: the program is told timeout_s (SETTIMEOUT) and normally
 * answers ERR Timeout itself; if it has not finished timeout_s +
 * PINENTRY_GRACE_S seconds after the start, fn gets PINENTRY_TIMEOUT and
 * it is ended.
 *
 * Ending the program (timeout, error, cancel): SIGINT, as gpg-agent does,
 * so curses and tty pinentries restore the terminal (pinentry-tty leaves
 * echo off when killed by SIGTERM), SIGKILL a second later; it is reaped
 * from the loop (pidfd), which must keep running for that. After a normal
 * end it gets BYE and two seconds to exit before that.
 */
struct pinentry *pinentry_start(struct loop *l, const struct pinentry_req *r,
    pinentry_done_fn fn, void *arg);

/* Ends the program (as above); fn is not called. NULL is a no-op. */
void pinentry_cancel(struct pinentry *p);

#endif
