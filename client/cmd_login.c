/*
 * signet login: log a token in. The PIN goes from the terminal (or a
 * descriptor) into locked memory, from there into a request line in
 * locked memory (signet_token_login), and is wiped from both.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "client/cmd.h"
#include "client/secmem.h"

#define LOGIN_USAGE \
	"signet login [--token SEL] [--pin-fd N] [--allow-final-try]"

/* The serial= attribute of a pkcs11: URI, %XX-decoded; NULL if none. */
static char *
uri_serial(const char *uri)
{
	const char *p, *end;
	char *out, *o;

	if (strncmp(uri, "pkcs11:", 7) != 0)
		return NULL;
	p = uri + 7;
	end = p + strcspn(p, "?");
	while (p < end) {
		size_t n = strcspn(p, ";?");
		if (n > 7 && strncmp(p, "serial=", 7) == 0)
			break;
		p += n;
		if (*p == ';')
			p++;
		else
			return NULL;
	}
	if (p >= end)
		return NULL;
	p += 7;
	end = p + strcspn(p, ";?");
	if ((out = o = malloc((size_t)(end - p) + 1)) == NULL)
		return NULL;
	while (p < end) {
		unsigned int v;

		if (*p == '%' && end - p >= 3 &&
		    sscanf(p + 1, "%2x", &v) == 1) {
			*o++ = (char)v;
			p += 3;
		} else
			*o++ = *p++;
	}
	*o = '\0';
	return out;
}

/*
 * The token in the list that sel names (by serial or a URI's serial), or
 * the only token when sel is NULL. NULL when it cannot be told here; *n
 * is how many tokens matched.
 */
static json_t *
find_token(json_t *toks, const char *sel, size_t *n)
{
	json_t *t, *found = NULL;
	char *serial = NULL;
	const char *want;
	size_t i;

	*n = 0;
	if (sel == NULL) {
		*n = json_array_size(toks);
		return *n == 1 ? json_array_get(toks, 0) : NULL;
	}
	want = strncmp(sel, "pkcs11:", 7) == 0 ?
	    (serial = uri_serial(sel)) : sel;
	if (want == NULL)
		return NULL;
	json_array_foreach(toks, i, t) {
		if (strcmp(jstr(t, "serial"), want) == 0) {
			found = t;
			(*n)++;
		}
	}
	free(serial);
	return *n == 1 ? found : NULL;
}

/* "label (serial)" for messages; cleaned of control characters. */
static void
token_name(json_t *t, const char *sel, char *buf, size_t len)
{
	char *c;

	if (t != NULL)
		snprintf(buf, len, "%s (%s)", jstr(t, "label"),
		    jstr(t, "serial"));
	else
		snprintf(buf, len, "%s", sel != NULL ? sel : "token");
	if ((c = cmd_clean_text(buf)) != NULL) {
		snprintf(buf, len, "%s", c);
		free(c);
	}
}

static int
pin_failure(int st)
{
	switch (st) {
	case PIN_E_NOTTY:
		cmd_error("login", "usage", "no terminal to ask for the PIN "
		    "on; use --pin-fd");
		return SIGNET_EXIT_USAGE;
	case PIN_E_TOOLONG:
		cmd_error("login", SIGNET_R_PIN_LEN_RANGE,
		    "PIN longer than %u bytes", SIGNET_MAX_PIN_LEN);
		return SIGNET_EXIT_AUTH;
	case PIN_E_EOF:
		cmd_error("login", SIGNET_R_PIN_LEN_RANGE, "no PIN given");
		return SIGNET_EXIT_AUTH;
	case PIN_E_INTR:
		cmd_error("login", "interrupted", "PIN entry interrupted");
		return SIGNET_EXIT_INTERNAL;
	default:
		cmd_error("login", SIGNET_CLIENT_R_IO_ERROR,
		    "reading the PIN: %s", strerror(errno));
		return SIGNET_EXIT_INTERNAL;
	}
}

/* A wrong PIN: say what the token's counters now say. */
static int
login_failed(const char *name, int st, struct signet_error *err)
{
	json_t *pin = json_object_get(err->data, "pin");
	size_t o = strlen(err->message);

	if (st == SIGNET_CLIENT_E_RPC &&
	    strcmp(err->reason, SIGNET_R_PIN_INCORRECT) == 0) {
		const char *more = jbool(pin, "pin_locked") ?
		    "; the PIN is now locked" : jbool(pin, "pin_final_try") ?
		    "; the next wrong PIN locks the token" :
		    jbool(pin, "pin_count_low") ? "; few tries left" : "";
		snprintf(err->message + o, sizeof(err->message) - o, "%s",
		    more);
	} else if (st == SIGNET_CLIENT_E_RPC &&
	    strcmp(err->reason, SIGNET_R_PIN_FINAL_TRY) == 0)
		snprintf(err->message + o, sizeof(err->message) - o, "%s",
		    "; use --allow-final-try to try anyway");
	return cmd_fail("login", name, st, err);
}

int
login_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "token", required_argument, NULL, 't' },
		{ "pin-fd", required_argument, NULL, 'p' },
		{ "allow-final-try", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct rlimit nocore = { 0, 0 };
	struct signet_error err = { 0 };
	struct signet_conn *conn = NULL;
	struct secbuf pin = { 0 };
	json_t *list = NULL, *res = NULL, *toks, *tok;
	const char *sel = NULL, *send_sel;
	char name[512], prompt[600], *end;
	bool final_ok = false, have_pin = true;
	size_t pin_len = 0, n;
	long pin_fd = -1;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			sel = optarg;
			break;
		case 'p':
			errno = 0;
			pin_fd = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    pin_fd < 0 || pin_fd > INT_MAX)
				return cmd_usage_error("login", LOGIN_USAGE,
				    "bad descriptor '%s'", optarg);
			break;
		case 'f':
			final_ok = true;
			break;
		case 'h':
			printf("usage: %s\n", LOGIN_USAGE);
			return SIGNET_EXIT_OK;
		default:
			return cmd_usage_error("login", LOGIN_USAGE,
			    "bad option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cmd_usage_error("login", LOGIN_USAGE,
		    "unexpected argument '%s'", argv[optind]);
	if (pin_fd >= 0 && fcntl((int)pin_fd, F_GETFD) < 0)
		return cmd_usage_error("login", LOGIN_USAGE,
		    "descriptor %ld is not open", pin_fd);
	/* The PIN will be in this process: no core dumps, no ptrace by
	 * other processes of this user. */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)setrlimit(RLIMIT_CORE, &nocore);

	if ((r = cmd_connect("login", &conn)) != 0)
		goto out;
	/* Look first, so that no PIN is asked for a token that cannot
	 * take it. The agent checks all of this again. */
	if ((r = cmd_call_list("login", conn, SIGNET_M_TOKENS_LIST, NULL,
	    "tokens", &list, &toks)) != 0)
		goto out;
	tok = find_token(toks, sel, &n);
	if (sel == NULL && n != 1) {
		cmd_error("login", n == 0 ? SIGNET_R_TOKEN_NOT_FOUND :
		    SIGNET_R_TOKEN_AMBIGUOUS, n == 0 ? "no token present" :
		    "%zu tokens present; choose one with --token", n);
		r = SIGNET_EXIT_TOKEN;
		goto out;
	}
	token_name(tok, sel, name, sizeof(name));
	if (tok != NULL) {
		if (jbool(tok, "logged_in")) {
			printf("%s: already logged in\n", name);
			r = SIGNET_EXIT_OK;
			goto out;
		}
		if (jbool(tok, "pin_locked")) {
			cmd_error("login", SIGNET_R_PIN_LOCKED, "%s: the user "
			    "PIN is locked; only the security officer can "
			    "unlock it", name);
			r = SIGNET_EXIT_AUTH;
			goto out;
		}
		if (jbool(tok, "pin_final_try") && !final_ok) {
			cmd_error("login", SIGNET_R_PIN_FINAL_TRY, "%s: the "
			    "next wrong PIN locks the token; use "
			    "--allow-final-try to try anyway", name);
			r = SIGNET_EXIT_AUTH;
			goto out;
		}
		if (jbool(tok, "pin_final_try"))
			cmd_warn("login", "warning: final PIN try: a wrong PIN "
			    "locks %s", name);
		else if (jbool(tok, "pin_count_low"))
			cmd_warn("login", "warning: a wrong PIN was entered "
			    "on %s before; few tries left", name);
	}
	/* Name the token exactly as listed, so a token plugged in
	 * meanwhile cannot make the login ambiguous or go elsewhere. */
	send_sel = sel;
	if (sel == NULL)
		send_sel = strncmp(jstr(tok, "uri"), "pkcs11:", 7) == 0 ?
		    jstr(tok, "uri") : jstr(tok, "serial");

	if (secbuf_alloc(&pin, SIGNET_MAX_PIN_LEN + 2) != 0) {
		cmd_error("login", SIGNET_CLIENT_R_NOMEM, "out of memory");
		r = SIGNET_EXIT_INTERNAL;
		goto out;
	}
	if (pin_fd >= 0)
		c = pin_read_fd((int)pin_fd, &pin, &pin_len);
	else if (tok != NULL && jbool(tok, "protected_auth_path")) {
		have_pin = false;
		fprintf(stderr, "Enter the PIN on the reader's PIN pad\n");
		c = PIN_OK;
	} else {
		snprintf(prompt, sizeof(prompt), "PIN for %s: ", name);
		c = pin_read_tty(prompt, &pin, &pin_len);
	}
	if (c != PIN_OK) {
		r = pin_failure(c);
		goto out;
	}
	if (have_pin && pin_len == 0) {
		cmd_error("login", SIGNET_R_PIN_LEN_RANGE, "empty PIN");
		r = SIGNET_EXIT_AUTH;
		goto out;
	}
	c = signet_token_login(conn, send_sel, have_pin ? pin.p : NULL,
	    have_pin ? pin_len : 0, final_ok, &res, &err);
	secbuf_free(&pin);
	if (c != 0) {
		r = login_failed(name, c, &err);
		goto out;
	}
	printf("%s: logged in\n", name);
	r = SIGNET_EXIT_OK;
 out:
	secbuf_free(&pin);
	signet_error_clear(&err);
	json_decref(res);
	json_decref(list);
	signet_close(conn);
	return r;
}
