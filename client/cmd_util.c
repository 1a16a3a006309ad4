/*
 * What every subcommand shares: error lines, exit statuses, connecting,
 * and printing untrusted text safely.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cmd.h"

const char *cmd_socket;

static void vmsg(const char *, const char *, const char *, va_list)
    __attribute__((format(printf, 3, 0)));

static void
vmsg(const char *sub, const char *reason, const char *fmt, va_list ap)
{
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	fputs("signet: ", stderr);
	if (sub != NULL)
		fprintf(stderr, "%s: ", sub);
	cmd_put_text(stderr, buf);
	if (reason != NULL) {
		/* The agent's reason too is text from a peer. */
		fputs(" (", stderr);
		cmd_put_text(stderr, reason);
		fputc(')', stderr);
	}
	fputc('\n', stderr);
}

void
cmd_error(const char *sub, const char *reason, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(sub, reason, fmt, ap);
	va_end(ap);
}

void
cmd_warn(const char *sub, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(sub, NULL, fmt, ap);
	va_end(ap);
}

int
cmd_usage_error(const char *sub, const char *usage, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(sub, "usage", fmt, ap);
	va_end(ap);
	fprintf(stderr, "usage: %s\n", usage);
	return SIGNET_EXIT_USAGE;
}

static int
exit_for_rpc(const struct signet_error *err)
{
	switch (err->code) {
	case SIGNET_E_REFUSED:
		return SIGNET_EXIT_REFUSED;
	case SIGNET_E_AUTH:
		return SIGNET_EXIT_AUTH;
	case SIGNET_E_NOT_FOUND:
	case SIGNET_E_TOKEN:
		return SIGNET_EXIT_TOKEN;
	case SIGNET_E_INVALID_PARAMS:
		/* What the user typed, versus what this client got wrong. */
		if (strcmp(err->reason, SIGNET_R_BAD_SELECTOR) == 0 ||
		    strcmp(err->reason, SIGNET_R_UNSUPPORTED_DIGEST) == 0)
			return SIGNET_EXIT_USAGE;
		if (strcmp(err->reason, SIGNET_R_UNSUPPORTED_KEY) == 0)
			return SIGNET_EXIT_TOKEN;
		return SIGNET_EXIT_INTERNAL;
	default:
		return SIGNET_EXIT_INTERNAL;
	}
}

int
cmd_exit_status(int status, const struct signet_error *err)
{
	switch (status) {
	case SIGNET_CLIENT_OK:
		return SIGNET_EXIT_OK;
	case SIGNET_CLIENT_E_RPC:
		return exit_for_rpc(err);
	case SIGNET_CLIENT_E_CONNECT:
	case SIGNET_CLIENT_E_TRANSPORT:
		return SIGNET_EXIT_UNREACHABLE;
	case SIGNET_CLIENT_E_LOCAL:
		if (strcmp(err->reason, SIGNET_R_PIN_LEN_RANGE) == 0)
			return SIGNET_EXIT_AUTH;
		return SIGNET_EXIT_INTERNAL;
	default:
		return SIGNET_EXIT_INTERNAL;
	}
}

int
cmd_fail(const char *sub, const char *what, int status,
    const struct signet_error *err)
{
	char code[32];
	const char *reason = err->reason;

	if (reason[0] == '\0') {
		snprintf(code, sizeof(code), "error %d", err->code);
		reason = code;
	}
	cmd_error(sub, reason, "%s%s%s", what ? what : "", what ? ": " : "",
	    err->message[0] ? err->message : "failed");
	return cmd_exit_status(status, err);
}

int
cmd_connect(const char *sub, struct signet_conn **conn)
{
	struct signet_error err = { 0 };
	int r;

	if ((r = signet_connect(cmd_socket, conn, &err)) != 0) {
		r = cmd_fail(sub, NULL, r, &err);
		signet_error_clear(&err);
		return r;
	}
	return SIGNET_EXIT_OK;
}

int
cmd_call(const char *sub, struct signet_conn *conn, const char *method,
    json_t *params, json_t **result)
{
	struct signet_error err = { 0 };
	int r;

	if ((r = signet_call(conn, method, params, NULL, 0, result, &err)) !=
	    0) {
		r = cmd_fail(sub, NULL, r, &err);
		signet_error_clear(&err);
		return r;
	}
	if (!json_is_object(*result)) {
		cmd_error(sub, SIGNET_CLIENT_R_BAD_REPLY,
		    "%s: result is not an object", method);
		json_decref(*result);
		*result = NULL;
		return SIGNET_EXIT_INTERNAL;
	}
	return SIGNET_EXIT_OK;
}

int
cmd_call_list(const char *sub, struct signet_conn *conn, const char *method,
    json_t *params, const char *key, json_t **result, json_t **arr)
{
	int r;

	*arr = NULL;
	if ((r = cmd_call(sub, conn, method, params, result)) != 0)
		return r;
	if (!json_is_array(*arr = json_object_get(*result, key))) {
		cmd_error(sub, SIGNET_CLIENT_R_BAD_REPLY, "%s: reply has no %s "
		    "array", method, key);
		*arr = NULL;
		return SIGNET_EXIT_INTERNAL;
	}
	return SIGNET_EXIT_OK;
}

/* Length of the UTF-8 sequence starting with c, 1 for a stray byte. */
static size_t
utf8_seqlen(unsigned char c)
{
	if (c >= 0xf0 && c <= 0xf4)
		return 4;
	if (c >= 0xe0)
		return c <= 0xef ? 3 : 1;
	if (c >= 0xc2)
		return 2;
	return 1;
}

char *
cmd_clean_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, n = strlen(s);
	char *o;

	if ((o = malloc(n + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		unsigned char c = p[i];

		if (c < 0x20 || c == 0x7f)
			o[i] = '?';
		else if (c == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 &&
		    p[i + 1] <= 0x9f) {
			/* C1 controls (U+0080..U+009F) as UTF-8 */
			o[i] = '?';
			o[++i] = '?';
		} else
			o[i] = (char)c;
	}
	o[n] = '\0';
	return o;
}

void
cmd_put_text(FILE *f, const char *s)
{
	char *c = cmd_clean_text(s);

	fputs(c != NULL ? c : "?", f);
	free(c);
}

size_t
cmd_text_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t w = 0, i = 0, n = strlen(s);

	while (i < n) {
		size_t k = utf8_seqlen(p[i]);

		i += k <= n - i ? k : n - i;
		w++;
	}
	return w;
}

int
cmd_print_json(const char *sub, json_t *v)
{
	char *s;

	if ((s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY)) == NULL) {
		cmd_error(sub, SIGNET_CLIENT_R_NOMEM, "cannot print JSON");
		return SIGNET_EXIT_INTERNAL;
	}
	/* JSON strings escape control characters; safe to print raw. */
	puts(s);
	free(s);
	return SIGNET_EXIT_OK;
}

const char *
jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s != NULL ? s : "";
}

bool
jbool(json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key));
}
