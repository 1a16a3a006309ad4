/*
 * libsignet against a scripted fake agent: socket path choice, request
 * framing and ids, descriptors with the first byte, every way a reply can
 * fail, and the PIN-safe login line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <signet/client.h>

#include "tests/client_fakeagent.h"

#define OK_RESULT(r) "{\"jsonrpc\":\"2.0\",\"result\":" r "}"

static struct signet_conn *
connect_to(const struct fakeagent *fa)
{
	struct signet_error err = { 0 };
	struct signet_conn *c = NULL;

	CHECK(signet_connect(fa->sock, &c, &err) == 0);
	CHECK(c != NULL);
	CHECK(strcmp(signet_conn_path(c), fa->sock) == 0);
	return c;
}

static json_t *
log_line(json_t *log, size_t i)
{
	return json_object_get(json_array_get(log, i), "line");
}

static void
test_socket_path(void)
{
	char *p;

	unsetenv("SIGNET_SOCKET");
	unsetenv("XDG_RUNTIME_DIR");
	CHECK(signet_socket_path(NULL) == NULL);
	p = signet_socket_path("/x/y.sock");
	CHECK(p && strcmp(p, "/x/y.sock") == 0);
	free(p);
	setenv("XDG_RUNTIME_DIR", "/run/user/1000", 1);
	p = signet_socket_path(NULL);
	CHECK(p && strcmp(p, "/run/user/1000/signet/agent.sock") == 0);
	free(p);
	setenv("SIGNET_SOCKET", "", 1); /* empty: as if unset */
	p = signet_socket_path(NULL);
	CHECK(p && strcmp(p, "/run/user/1000/signet/agent.sock") == 0);
	free(p);
	setenv("SIGNET_SOCKET", "/env.sock", 1);
	p = signet_socket_path(NULL);
	CHECK(p && strcmp(p, "/env.sock") == 0);
	free(p);
	p = signet_socket_path("/arg.sock"); /* explicit beats env */
	CHECK(p && strcmp(p, "/arg.sock") == 0);
	free(p);
	unsetenv("SIGNET_SOCKET");
	unsetenv("XDG_RUNTIME_DIR");
}

static void
test_connect_failures(void)
{
	struct signet_error err = { 0 };
	struct signet_conn *c = (struct signet_conn *)1;
	char longp[200];

	CHECK(signet_connect(NULL, &c, &err) == SIGNET_CLIENT_E_CONNECT);
	CHECK(c == NULL);
	CHECK(err.code == 0);
	CHECK(strcmp(err.reason, SIGNET_CLIENT_R_NO_SOCKET) == 0);
	CHECK(strstr(err.message, "XDG_RUNTIME_DIR") != NULL);
	signet_error_clear(&err);

	CHECK(signet_connect("/nonexistent/signet.sock", &c, &err) ==
	    SIGNET_CLIENT_E_CONNECT);
	CHECK(strcmp(err.reason, SIGNET_CLIENT_R_CONNECT_FAILED) == 0);
	CHECK(strstr(err.message, "/nonexistent/signet.sock") != NULL);
	signet_error_clear(&err);

	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	CHECK(signet_connect(longp, &c, &err) == SIGNET_CLIENT_E_CONNECT);
	CHECK(strcmp(err.reason, SIGNET_CLIENT_R_NO_SOCKET) == 0);
	signet_error_clear(&err);
}

static void
test_calls_and_ids(void)
{
	static const char *const replies[] = {
		OK_RESULT("{\"name\":\"signetd\",\"protocol\":1}"),
		OK_RESULT("{\"tokens\":[]}"),
		NULL,
	};
	struct signet_error err = { 0 };
	struct fakeagent fa;
	struct signet_conn *c;
	json_t *res = NULL, *params, *log, *l;

	fakeagent_start(&fa, replies);
	c = connect_to(&fa);
	CHECK(signet_call(c, "agent.info", NULL, NULL, 0, &res, &err) == 0);
	CHECK(strcmp(json_string_value(json_object_get(res, "name")),
	    "signetd") == 0);
	json_decref(res);
	params = json_pack("{s:s}", "token", "pkcs11:serial=\"1\"");
	CHECK(signet_call(c, "certs.list", params, NULL, 0, &res, &err) == 0);
	CHECK(json_is_array(json_object_get(res, "tokens")));
	json_decref(res);
	json_decref(params);
	signet_close(c);
	log = fakeagent_stop(&fa);
	CHECK(json_array_size(log) == 2);
	l = log_line(log, 0);
	CHECK(json_object_size(l) == 3); /* no params member at all */
	CHECK(strcmp(json_string_value(json_object_get(l, "jsonrpc")),
	    "2.0") == 0);
	CHECK(json_integer_value(json_object_get(l, "id")) == 1);
	CHECK(strcmp(json_string_value(json_object_get(l, "method")),
	    "agent.info") == 0);
	l = log_line(log, 1);
	CHECK(json_integer_value(json_object_get(l, "id")) == 2);
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(l,
	    "params"), "token")), "pkcs11:serial=\"1\"") == 0);
	json_decref(log);
}

static int
memfd_with(const char *content)
{
	char path[] = "/tmp/signet-ct.XXXXXX";
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	unlink(path);
	CHECK(write(fd, content, strlen(content)) == (ssize_t)strlen(content));
	CHECK(lseek(fd, 0, SEEK_SET) == 0);
	return fd;
}

static void
test_fds(void)
{
	static const char *const replies[] = {
		OK_RESULT("{}"), OK_RESULT("{}"), NULL,
	};
	struct signet_error err = { 0 };
	struct fakeagent fa;
	struct signet_conn *c;
	json_t *res = NULL, *log, *fds;
	int fd[2];

	fd[0] = memfd_with("first document");
	fd[1] = memfd_with("second");
	fakeagent_start(&fa, replies);
	c = connect_to(&fa);
	CHECK(signet_call(c, "sign", NULL, fd, 2, &res, &err) == 0);
	json_decref(res);
	/* The caller keeps its descriptors. */
	CHECK(fcntl(fd[0], F_GETFD) >= 0 && fcntl(fd[1], F_GETFD) >= 0);
	CHECK(signet_call(c, "sign", NULL, NULL, 0, &res, &err) == 0);
	json_decref(res);
	signet_close(c);
	log = fakeagent_stop(&fa);
	CHECK(json_array_size(log) == 2);
	fds = json_object_get(json_array_get(log, 0), "fds");
	CHECK(json_array_size(fds) == 2);
	CHECK(strcmp(json_string_value(json_array_get(fds, 0)),
	    "first document") == 0);
	CHECK(strcmp(json_string_value(json_array_get(fds, 1)), "second") == 0);
	CHECK(json_array_size(json_object_get(json_array_get(log, 1),
	    "fds")) == 0);
	json_decref(log);
	close(fd[0]);
	close(fd[1]);
}

/* More descriptors than one sendmsg carries: they go in batches of 253,
 * in order, all with the one request. */
static void
test_many_fds(void)
{
	static const char *const replies[] = { OK_RESULT("{}"), NULL };
	struct signet_error err = { 0 };
	struct fakeagent fa;
	struct signet_conn *c;
	json_t *res = NULL, *log, *fds;
	int fd[SIGNET_CLIENT_MAX_FDS];
	char text[32];
	size_t i;

	CHECK(SIGNET_CLIENT_MAX_FDS > 253);
	for (i = 0; i < SIGNET_CLIENT_MAX_FDS; i++) {
		snprintf(text, sizeof(text), "document %zu", i);
		fd[i] = memfd_with(text);
	}
	fakeagent_start(&fa, replies);
	c = connect_to(&fa);
	CHECK(signet_call(c, "sign", NULL, fd, SIGNET_CLIENT_MAX_FDS, &res,
	    &err) == 0);
	json_decref(res);
	signet_close(c);
	log = fakeagent_stop(&fa);
	CHECK(json_array_size(log) == 1);
	fds = json_object_get(json_array_get(log, 0), "fds");
	CHECK(json_array_size(fds) == SIGNET_CLIENT_MAX_FDS);
	for (i = 0; i < SIGNET_CLIENT_MAX_FDS; i++) {
		snprintf(text, sizeof(text), "document %zu", i);
		CHECK(strcmp(json_string_value(json_array_get(fds, i)),
		    text) == 0);
		close(fd[i]);
	}
	json_decref(log);
}

static void
test_rpc_errors(void)
{
	static const char *const replies[] = {
		"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32002,"
		    "\"message\":\"wrong PIN\",\"data\":{\"reason\":"
		    "\"pin_incorrect\",\"pin\":{\"pin_final_try\":true}}}}",
		OK_RESULT("[1,2]"), /* still usable after an error */
		"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32603,"
		    "\"message\":\"no reason\"}}",
		"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32001,"
		    "\"message\":\"not allowed\",\"data\":{\"reason\":"
		    "\"peer_refused\"}}}",
		NULL,
	};
	struct signet_error err = { 0 };
	struct fakeagent fa;
	struct signet_conn *c;
	json_t *res = (json_t *)1, *log;

	fakeagent_start(&fa, replies);
	c = connect_to(&fa);
	CHECK(signet_call(c, "token.login", NULL, NULL, 0, &res, &err) ==
	    SIGNET_CLIENT_E_RPC);
	CHECK(res == NULL);
	CHECK(err.code == SIGNET_E_AUTH);
	CHECK(strcmp(err.reason, SIGNET_R_PIN_INCORRECT) == 0);
	CHECK(strcmp(err.message, "wrong PIN") == 0);
	CHECK(json_is_true(json_object_get(json_object_get(err.data, "pin"),
	    "pin_final_try")));
	signet_error_clear(&err);
	CHECK(err.data == NULL && err.code == 0);

	CHECK(signet_call(c, "x", NULL, NULL, 0, &res, &err) == 0);
	CHECK(json_array_size(res) == 2);
	json_decref(res);

	CHECK(signet_call(c, "x", NULL, NULL, 0, &res, &err) ==
	    SIGNET_CLIENT_E_RPC);
	CHECK(err.code == SIGNET_E_INTERNAL);
	CHECK(err.reason[0] == '\0' && err.data == NULL);
	signet_error_clear(&err);

	/* id null: an error the agent could not tie to a request. */
	CHECK(signet_call(c, "x", NULL, NULL, 0, &res, &err) ==
	    SIGNET_CLIENT_E_RPC);
	CHECK(err.code == SIGNET_E_REFUSED);
	CHECK(strcmp(err.reason, SIGNET_R_PEER_REFUSED) == 0);
	signet_error_clear(&err);
	signet_close(c);
	log = fakeagent_stop(&fa);
	CHECK(json_array_size(log) == 4);
	json_decref(log);
}

/* A bad reply ends the connection: the next call fails without I/O. */
static void
expect_broken(const char *entry, int want, const char *reason)
{
	const char *replies[] = { entry, OK_RESULT("{}"), NULL };
	struct signet_error err = { 0 };
	struct fakeagent fa;
	struct signet_conn *c;
	json_t *res = (json_t *)1, *log;

	fakeagent_start(&fa, replies);
	c = connect_to(&fa);
	if (signet_call(c, "x", NULL, NULL, 0, &res, &err) != want ||
	    strcmp(err.reason, reason) != 0) {
		fprintf(stderr, "reply %.60s: got %s (%s)\n", entry,
		    err.reason, err.message);
		exit(1);
	}
	CHECK(res == NULL);
	CHECK(err.code == 0);
	signet_error_clear(&err);
	CHECK(signet_call(c, "x", NULL, NULL, 0, &res, &err) ==
	    SIGNET_CLIENT_E_TRANSPORT);
	CHECK(strcmp(err.reason, SIGNET_CLIENT_R_CLOSED) == 0);
	signet_error_clear(&err);
	signet_close(c);
	log = fakeagent_stop(&fa);
	CHECK(json_array_size(log) == 1);
	json_decref(log);
}

static void
test_bad_replies(void)
{
	const int P = SIGNET_CLIENT_E_PROTOCOL, T = SIGNET_CLIENT_E_TRANSPORT;
	const char *bad = SIGNET_CLIENT_R_BAD_REPLY;

	expect_broken("CLOSE", T, SIGNET_CLIENT_R_CLOSED);
	expect_broken("RAWCLOSE:{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}", T,
	    SIGNET_CLIENT_R_CLOSED); /* no '\n' before EOF */
	expect_broken("RAW:not json\n", P, bad);
	expect_broken("RAW:[1]\n", P, bad);
	expect_broken("{\"jsonrpc\":\"1.0\",\"result\":{}}", P, bad);
	expect_broken("{\"result\":{}}", P, bad);
	expect_broken("{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{}}", P, bad);
	expect_broken("{\"jsonrpc\":\"2.0\",\"id\":\"1\",\"result\":{}}", P,
	    bad);
	expect_broken("{\"jsonrpc\":\"2.0\",\"id\":null,\"result\":{}}", P,
	    bad); /* id null is for errors only */
	expect_broken("{\"jsonrpc\":\"2.0\"}", P, bad);
	expect_broken("{\"jsonrpc\":\"2.0\",\"result\":1,\"error\":"
	    "{\"code\":1,\"message\":\"m\"}}", P, bad);
	expect_broken("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":\"x\","
	    "\"message\":\"m\"}}", P, bad);
	expect_broken("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1}}", P, bad);
	expect_broken("{\"jsonrpc\":\"2.0\",\"error\":{\"code\":1,"
	    "\"message\":\"m\",\"data\":5}}", P, bad);
	expect_broken("RAW:{\"jsonrpc\":\"2.0\",\"id\":1,\"id\":1,"
	    "\"result\":{}}\n", P, bad); /* duplicate key */
	expect_broken("HUGE", P, SIGNET_CLIENT_R_REPLY_TOO_LONG);
}

/* Two replies in one segment: the second waits in the buffer. */
static void
test_buffered_replies(void)
{
	static const char *const replies[] = {
		"RAW:{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"a\"}\n"
		    "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":\"b\"}\n",
		"NOREPLY",
		NULL,
	};
	struct signet_error err = { 0 };
	struct fakeagent fa;
	struct signet_conn *c;
	json_t *res, *log;

	fakeagent_start(&fa, replies);
	c = connect_to(&fa);
	CHECK(signet_call(c, "x", NULL, NULL, 0, &res, &err) == 0);
	CHECK(strcmp(json_string_value(res), "a") == 0);
	json_decref(res);
	CHECK(signet_call(c, "x", NULL, NULL, 0, &res, &err) == 0);
	CHECK(strcmp(json_string_value(res), "b") == 0);
	json_decref(res);
	signet_close(c);
	log = fakeagent_stop(&fa);
	CHECK(json_array_size(log) == 2);
	json_decref(log);
}

#define NOTE(n) "{\"jsonrpc\":\"2.0\",\"method\":\"token.inserted\"," \
	"\"params\":{\"serial\":\"" n "\",\"reason\":\"inserted\"}}\n"

static void
expect_note(struct signet_conn *c, const char *serial)
{
	struct signet_error err = { 0 };
	json_t *n = NULL;

	CHECK(signet_next_notification(c, 5000, &n, &err) == 0);
	CHECK(n != NULL);
	CHECK(strcmp(json_string_value(json_object_get(n, "method")),
	    "token.inserted") == 0);
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(n,
	    "params"), "serial")), serial) == 0);
	json_decref(n);
}

/* Notifications between replies are kept, in order, for
 * signet_next_notification; one after a reply waits in the buffer. */
static void
test_notifications(void)
{
	static const char *const replies[] = {
		"RAW:" NOTE("A") NOTE("B")
		    "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":"
		    "{\"subscribed\":true}}\n" NOTE("C"),
		"RAW:" NOTE("D") "{\"jsonrpc\":\"2.0\",\"id\":2,"
		    "\"result\":1}\n",
		"RAW:{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":2}\n"
		    "{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{}}\n",
		NULL,
	};
	struct signet_error err = { 0 };
	struct fakeagent fa;
	struct signet_conn *c;
	json_t *res = NULL, *n = (json_t *)1;

	fakeagent_start(&fa, replies);
	c = connect_to(&fa);
	CHECK(signet_call(c, SIGNET_M_EVENTS_SUBSCRIBE, NULL, NULL, 0, &res,
	    &err) == 0);
	CHECK(json_is_true(json_object_get(res, "subscribed")));
	json_decref(res);
	expect_note(c, "A");
	expect_note(c, "B");
	expect_note(c, "C"); /* read from the buffer, no new data */
	/* Nothing more: the wait times out with no notification. */
	CHECK(signet_next_notification(c, 0, &n, &err) == 0 && n == NULL);
	n = (json_t *)1;
	CHECK(signet_next_notification(c, 50, &n, &err) == 0 && n == NULL);
	CHECK(signet_call(c, "x", NULL, NULL, 0, &res, &err) == 0);
	CHECK(json_integer_value(res) == 1);
	json_decref(res);
	expect_note(c, "D");
	CHECK(signet_call(c, "x", NULL, NULL, 0, &res, &err) == 0);
	json_decref(res);
	/* A reply nobody asked for breaks the stream. */
	CHECK(signet_next_notification(c, 5000, &n, &err) ==
	    SIGNET_CLIENT_E_PROTOCOL);
	CHECK(n == NULL);
	CHECK(strcmp(err.reason, SIGNET_CLIENT_R_BAD_REPLY) == 0);
	signet_error_clear(&err);
	CHECK(signet_next_notification(c, 0, &n, &err) ==
	    SIGNET_CLIENT_E_TRANSPORT);
	signet_error_clear(&err);
	signet_close(c);
	json_decref(fakeagent_stop(&fa));
}

/* Past the cap, the oldest notifications go. */
static void
test_notification_cap(void)
{
	size_t total = SIGNET_CLIENT_MAX_NOTIFICATIONS + 5, i, o = 4;
	const char *replies[] = { NULL, NULL };
	struct signet_error err = { 0 };
	struct fakeagent fa;
	struct signet_conn *c;
	json_t *res = NULL, *n;
	char *raw, serial[32];

	CHECK((raw = malloc(total * 120 + 100)) != NULL);
	memcpy(raw, "RAW:", 4);
	for (i = 0; i < total; i++) {
		snprintf(serial, sizeof(serial), "%zu", i);
		o += (size_t)sprintf(raw + o, NOTE("%s"), serial);
	}
	sprintf(raw + o, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":0}\n");
	replies[0] = raw;
	fakeagent_start(&fa, replies);
	c = connect_to(&fa);
	CHECK(signet_call(c, "x", NULL, NULL, 0, &res, &err) == 0);
	json_decref(res);
	for (i = 5; i < total; i++) {
		snprintf(serial, sizeof(serial), "%zu", i);
		expect_note(c, serial);
	}
	CHECK(signet_next_notification(c, 0, &n, &err) == 0 && n == NULL);
	signet_close(c);
	json_decref(fakeagent_stop(&fa));
	free(raw);
}

static void
test_local_errors(void)
{
	static const char *const replies[] = { NULL };
	struct signet_error err = { 0 };
	struct fakeagent fa;
	struct signet_conn *c;
	json_t *res, *params, *log;
	int fds[SIGNET_CLIENT_MAX_FDS + 1] = { 0 };
	char *big;

	fakeagent_start(&fa, replies);
	c = connect_to(&fa);
	CHECK(signet_call(c, "x", NULL, fds, SIGNET_CLIENT_MAX_FDS + 1, &res,
	    &err) == SIGNET_CLIENT_E_LOCAL);
	CHECK(strcmp(err.reason, SIGNET_CLIENT_R_INVALID_ARG) == 0);
	signet_error_clear(&err);
	params = json_array();
	CHECK(signet_call(c, "x", params, NULL, 0, &res, &err) ==
	    SIGNET_CLIENT_E_LOCAL);
	json_decref(params);
	signet_error_clear(&err);
	/* Over SIGNET_MAX_LINE: refused before anything is sent. */
	CHECK((big = malloc(SIGNET_MAX_LINE)) != NULL);
	memset(big, 'A', SIGNET_MAX_LINE - 1);
	big[SIGNET_MAX_LINE - 1] = '\0';
	params = json_pack("{s:s}", "data", big);
	free(big);
	CHECK(signet_call(c, "sign", params, NULL, 0, &res, &err) ==
	    SIGNET_CLIENT_E_LOCAL);
	CHECK(strcmp(err.reason, "request_too_long") == 0);
	json_decref(params);
	signet_error_clear(&err);
	signet_close(c);
	log = fakeagent_stop(&fa);
	CHECK(json_array_size(log) == 0);
	json_decref(log);
}

static void
test_login_limits(void)
{
	static const char *const replies[] = { OK_RESULT("{}"), NULL };
	struct signet_error err = { 0 };
	struct fakeagent fa;
	struct signet_conn *c;
	json_t *res, *log, *p;
	char longpin[SIGNET_MAX_PIN_LEN + 1];

	fakeagent_start(&fa, replies);
	c = connect_to(&fa);
	/* Refused locally, nothing sent. */
	CHECK(signet_token_login(c, NULL, "", 0, false, &res, &err) ==
	    SIGNET_CLIENT_E_LOCAL);
	CHECK(strcmp(err.reason, SIGNET_R_PIN_LEN_RANGE) == 0);
	signet_error_clear(&err);
	memset(longpin, '7', sizeof(longpin));
	CHECK(signet_token_login(c, NULL, longpin, sizeof(longpin), false,
	    &res, &err) == SIGNET_CLIENT_E_LOCAL);
	CHECK(strcmp(err.reason, SIGNET_R_PIN_LEN_RANGE) == 0);
	signet_error_clear(&err);
	CHECK(signet_token_login(c, NULL, "\xc0\xaf", 2, false, &res, &err) ==
	    SIGNET_CLIENT_E_LOCAL); /* overlong '/' */
	CHECK(strcmp(err.reason, SIGNET_CLIENT_R_INVALID_ARG) == 0);
	signet_error_clear(&err);
	CHECK(signet_token_login(c, NULL, "\xed\xa0\x80", 3, false, &res,
	    &err) == SIGNET_CLIENT_E_LOCAL); /* surrogate */
	signet_error_clear(&err);
	CHECK(signet_token_login(c, NULL, "\xf0\x9f\x94", 3, false, &res,
	    &err) == SIGNET_CLIENT_E_LOCAL); /* truncated */
	signet_error_clear(&err);
	/* The longest PIN goes. */
	CHECK(signet_token_login(c, NULL, longpin, SIGNET_MAX_PIN_LEN, false,
	    &res, &err) == 0);
	json_decref(res);
	signet_close(c);
	log = fakeagent_stop(&fa);
	CHECK(json_array_size(log) == 1);
	p = json_object_get(log_line(log, 0), "params");
	CHECK(json_string_length(json_object_get(p, "pin")) ==
	    SIGNET_MAX_PIN_LEN);
	json_decref(log);
}

/* The exact request lines of login, checked on a fresh agent. */
static void
test_login_params(void)
{
	static const char *const replies[] = {
		OK_RESULT("{}"), OK_RESULT("{}"), NULL,
	};
	static const char pin[] = "1\"2\\3\x01" "4\xd0\x96\xf0\x9f\x94\x91";
	struct signet_error err = { 0 };
	struct fakeagent fa;
	struct signet_conn *c;
	json_t *res, *log, *p, *l;

	fakeagent_start(&fa, replies);
	c = connect_to(&fa);
	CHECK(signet_token_login(c, "pkcs11:serial=A1", pin, strlen(pin),
	    true, &res, &err) == 0);
	json_decref(res);
	CHECK(signet_token_login(c, NULL, NULL, 0, false, &res, &err) == 0);
	json_decref(res);
	signet_close(c);
	log = fakeagent_stop(&fa);
	CHECK(json_array_size(log) == 2);
	l = log_line(log, 0);
	CHECK(json_is_object(l)); /* the hand-made line is valid JSON */
	CHECK(json_integer_value(json_object_get(l, "id")) == 1);
	CHECK(strcmp(json_string_value(json_object_get(l, "method")),
	    SIGNET_M_TOKEN_LOGIN) == 0);
	p = json_object_get(l, "params");
	CHECK(json_object_size(p) == 3);
	CHECK(strcmp(json_string_value(json_object_get(p, "token")),
	    "pkcs11:serial=A1") == 0);
	CHECK(json_string_length(json_object_get(p, "pin")) == strlen(pin));
	CHECK(memcmp(json_string_value(json_object_get(p, "pin")), pin,
	    strlen(pin)) == 0);
	CHECK(json_is_true(json_object_get(p, "allow_final_try")));
	l = log_line(log, 1);
	CHECK(json_integer_value(json_object_get(l, "id")) == 2);
	p = json_object_get(l, "params");
	CHECK(json_object_size(p) == 1); /* no token, no pin */
	CHECK(json_is_false(json_object_get(p, "allow_final_try")));
	json_decref(log);
}

int
main(void)
{
	test_socket_path();
	test_connect_failures();
	test_calls_and_ids();
	test_fds();
	test_many_fds();
	test_rpc_errors();
	test_bad_replies();
	test_buffered_replies();
	test_notifications();
	test_notification_cap();
	test_local_errors();
	test_login_limits();
	test_login_params();
	printf("client_conn_test: ok\n");
	return 0;
}
