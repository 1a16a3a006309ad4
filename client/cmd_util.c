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

/* What each refusal of the signing policy means, for the user. */
static const struct {
	const char *reason, *text;
} refusals[] = {
	{ SIGNET_R_POLICY_DENIED, "this client may not make this request" },
	{ SIGNET_R_INPUT_NOT_ALLOWED, "documents may not be passed this way" },
	{ SIGNET_R_DIGEST_NOT_ALLOWED, "this digest is not allowed" },
	{ SIGNET_R_CERT_NOT_ALLOWED, "this certificate is not allowed" },
	{ SIGNET_R_BATCH_TOO_LARGE, "too many documents in one request" },
	{ SIGNET_R_DOCUMENT_TOO_LARGE, "the document is larger than allowed" },
	{ SIGNET_R_RATE_LIMITED, "the rate limit is reached" },
	{ SIGNET_R_CERT_EXPIRED, "the certificate has expired" },
	{ SIGNET_R_CERT_NOT_YET_VALID, "the certificate is not valid yet" },
	{ SIGNET_R_CERT_KEY_USAGE, "the certificate's key usage does not "
	    "allow signing" },
	{ SIGNET_R_CERT_UNTRUSTED, "the certificate does not chain to a "
	    "trusted CA" },
	{ SIGNET_R_PIN_SOURCE_NOT_ALLOWED, "this client may not send a PIN" },
};

/* A non-negative integer member of data, or -1. */
static json_int_t
data_uint(const struct signet_error *err, const char *key)
{
	json_t *v = json_object_get(err->data, key);

	return json_is_integer(v) && json_integer_value(v) >= 0 ?
	    json_integer_value(v) : -1;
}

/*
 * The line for a refusal (-32001): the deciding rule, what the reason
 * means, and the limit or the wait the agent reported. The agent's own
 * message says only that policy refused; its reason and data say why.
 */
static void
refusal_text(const char *sub, const struct signet_error *err, char *buf,
    size_t len)
{
	const char *rule = json_string_value(json_object_get(err->data,
	    "rule"));
	const char *text = NULL;
	json_int_t n;
	size_t i, o;

	if (strcmp(err->reason, SIGNET_R_AUDIT_UNAVAILABLE) == 0) {
		snprintf(buf, len, "the agent's audit log cannot be written; "
		    "%s", strcmp(sub, "sign") == 0 ? "nothing was signed" :
		    "nothing was done");
		return;
	}
	for (i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++)
		if (strcmp(err->reason, refusals[i].reason) == 0)
			text = refusals[i].text;
	if (text == NULL) {
		/* peer_refused, or a reason newer than this client. */
		snprintf(buf, len, "%s", err->message[0] ? err->message :
		    "refused");
		return;
	}
	if (rule != NULL)
		snprintf(buf, len, "refused by policy rule '%s': %s", rule, text);
	else
		snprintf(buf, len, "refused by the signing policy: %s", text);
	o = strlen(buf);
	if (strcmp(err->reason, SIGNET_R_RATE_LIMITED) == 0 &&
	    (n = data_uint(err, "retry_after")) >= 0)
		snprintf(buf + o, len - o, "; retry in %lld s", (long long)n);
	else if (strcmp(err->reason, SIGNET_R_DOCUMENT_TOO_LARGE) == 0 &&
	    (n = data_uint(err, "max_size")) >= 0)
		snprintf(buf + o, len - o, "; the limit is %lld bytes",
		    (long long)n);
	else if (strcmp(err->reason, SIGNET_R_BATCH_TOO_LARGE) == 0 &&
	    strcmp(sub, "sign") == 0)
		snprintf(buf + o, len - o, "; sign fewer files at once, or "
		    "use --one-by-one");
}

int
cmd_fail(const char *sub, const char *what, int status,
    const struct signet_error *err)
{
	char code[32], refused[512];
	const char *reason = err->reason, *msg;

	if (reason[0] == '\0') {
		snprintf(code, sizeof(code), "error %d", err->code);
		reason = code;
	}
	msg = err->message[0] ? err->message : "failed";
	if (status == SIGNET_CLIENT_E_RPC && err->code == SIGNET_E_REFUSED) {
		refusal_text(sub, err, refused, sizeof(refused));
		msg = refused;
	}
	cmd_error(sub, reason, "%s%s%s", what ? what : "", what ? ": " : "",
	    msg);
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
