/*
 * The signet CLI against a scripted fake agent: what each subcommand
 * sends, what it prints, its exit status, and that `sign` never leaves a
 * partial or stale signature file.
 *
 * usage: client_cli_test PATH-TO-signet
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <signet/client.h>

#include "client/exit.h"
#include "tests/client_fakeagent.h"

static char *signet_bin;
static char work[256];    /* a fresh directory per test */
static char scratch[256]; /* the CLI's stdout and stderr */

struct run {
	int status;
	char out[65536];
	char err[65536];
	size_t out_len;
};

struct run_opts {
	const char *sock;   /* SIGNET_SOCKET, or NULL for none */
	const char *pin;    /* written to a pipe on fd 3, or NULL */
	mode_t umask;
};

static size_t
slurp(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY);
	size_t len = 0;
	ssize_t n;

	CHECK(fd >= 0);
	while ((n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	return len;
}

static void
spit(const char *name, const char *content)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", work, name);
	CHECK((f = fopen(path, "w")) != NULL);
	fputs(content, f);
	CHECK(fclose(f) == 0);
}

static bool
exists(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", work, name);
	return access(path, F_OK) == 0;
}

static void
expect_file(const char *name, const void *content, size_t len)
{
	char path[PATH_MAX], buf[65536];

	snprintf(path, sizeof(path), "%s/%s", work, name);
	if (slurp(path, buf, sizeof(buf)) != len ||
	    memcmp(buf, content, len) != 0) {
		fprintf(stderr, "%s: unexpected content '%s'\n", name, buf);
		exit(1);
	}
}

/* Only the names given (NULL-terminated) are in the work directory:
 * in particular no temporary file survives. */
static void
expect_dir(const char *const *names)
{
	struct dirent *d;
	size_t n = 0, want = 0;
	DIR *dir;

	while (names[want] != NULL)
		want++;
	CHECK((dir = opendir(work)) != NULL);
	while ((d = readdir(dir)) != NULL) {
		size_t i;
		bool ok = false;

		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		for (i = 0; i < want; i++)
			ok |= strcmp(d->d_name, names[i]) == 0;
		if (!ok) {
			fprintf(stderr, "unexpected file %s\n", d->d_name);
			exit(1);
		}
		n++;
	}
	closedir(dir);
	CHECK(n == want);
}

static void
new_work(void)
{
	char cmd[PATH_MAX + 16];

	if (work[0] != '\0') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
		CHECK(system(cmd) == 0);
	}
	snprintf(work, sizeof(work), "%s/signet-cli.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	CHECK(mkdtemp(work) != NULL);
}

static void
run_signet(struct run *r, const struct run_opts *o, const char *const *args)
{
	char outp[PATH_MAX], errp[PATH_MAX];
	const char *argv[32];
	size_t i, n = 0;
	pid_t pid;
	int st;

	snprintf(outp, sizeof(outp), "%s/out", scratch);
	snprintf(errp, sizeof(errp), "%s/err", scratch);
	argv[n++] = "signet";
	for (i = 0; args[i] != NULL && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	fflush(stdout);
	fflush(stderr);
	CHECK((pid = fork()) >= 0);
	if (pid == 0) {
		int fd;

		/* No controlling terminal: a PIN prompt cannot hang. */
		(void)setsid();
		umask(o->umask);
		if (chdir(work) != 0)
			_exit(127);
		unsetenv("XDG_RUNTIME_DIR");
		if (o->sock != NULL)
			setenv("SIGNET_SOCKET", o->sock, 1);
		else
			unsetenv("SIGNET_SOCKET");
		if ((fd = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 ||
		    dup2(fd, 1) < 0)
			_exit(127);
		close(fd);
		if ((fd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 ||
		    dup2(fd, 2) < 0)
			_exit(127);
		close(fd);
		if (o->pin != NULL) {
			int p[2];

			if (pipe(p) != 0 || write(p[1], o->pin,
			    strlen(o->pin)) != (ssize_t)strlen(o->pin))
				_exit(127);
			close(p[1]);
			if (dup2(p[0], 3) < 0)
				_exit(127);
			if (p[0] != 3)
				close(p[0]);
		}
		execv(signet_bin, (char *const *)argv);
		_exit(127);
	}
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st));
	r->status = WEXITSTATUS(st);
	r->out_len = slurp(outp, r->out, sizeof(r->out));
	slurp(errp, r->err, sizeof(r->err));
	unlink(outp);
	unlink(errp);
}

/* Runs signet against a fake agent answering with replies; returns the
 * agent's log. */
static json_t *
run_with_agent(struct run *r, const char *const *replies, const char *pin,
    const char *const *args)
{
	struct run_opts o = { .pin = pin, .umask = 022 };
	struct fakeagent fa;

	fakeagent_start(&fa, replies);
	o.sock = fa.sock;
	run_signet(r, &o, args);
	return fakeagent_stop(&fa);
}

static void
expect_status(const struct run *r, int want)
{
	if (r->status != want) {
		fprintf(stderr, "exit %d, wanted %d\nstdout: %s\nstderr: %s\n",
		    r->status, want, r->out, r->err);
		exit(1);
	}
}

static void
expect_err(const struct run *r, const char *want)
{
	if (strcmp(r->err, want) != 0) {
		fprintf(stderr, "stderr: '%s'\nwanted: '%s'\n", r->err, want);
		exit(1);
	}
}

static void
expect_in(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL) {
		fprintf(stderr, "'%s' not in '%s'\n", needle, hay);
		exit(1);
	}
}

static json_t *
req(json_t *log, size_t i)
{
	return json_object_get(json_array_get(log, i), "line");
}

static const char *
param_str(json_t *log, size_t i, const char *key)
{
	return json_string_value(json_object_get(json_object_get(req(log, i),
	    "params"), key));
}

#define ERR_REPLY(code, reason, msg) \
	"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":" #code ",\"message\":\"" \
	msg "\",\"data\":{\"reason\":\"" reason "\"}}}"
#define RESULT(r) "{\"jsonrpc\":\"2.0\",\"result\":" r "}"

/* "SIG\0\1\2" */
#define SIG_B64 "U0lHAAEC"
static const char sig_bytes[] = { 'S', 'I', 'G', 0, 1, 2 };
#define SIGN_OK(fmt, sig) RESULT("{\"signature\":\"" sig "\",\"format\":\"" \
	fmt "\",\"digest\":\"sha256\",\"document_digest\":\"00\"," \
	"\"document_size\":9}")

static void
test_sign_ok(void)
{
	static const char *const replies[] = { SIGN_OK("der", SIG_B64), NULL };
	static const char *const args[] = {
		"sign", "--cert", "pkcs11:serial=A1;id=%01", "doc.txt", NULL,
	};
	static const char *const files[] = { "doc.txt", "doc.txt.sig", NULL };
	struct run r;
	struct stat st;
	char path[PATH_MAX];
	json_t *log, *p;

	new_work();
	spit("doc.txt", "hello doc");
	log = run_with_agent(&r, replies, NULL, args);
	expect_status(&r, 0);
	expect_err(&r, "");
	CHECK(strcmp(r.out, "signed doc.txt -> doc.txt.sig\n") == 0);
	expect_file("doc.txt.sig", sig_bytes, sizeof(sig_bytes));
	expect_dir(files);
	snprintf(path, sizeof(path), "%s/doc.txt.sig", work);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0644);
	CHECK(json_array_size(log) == 1);
	CHECK(strcmp(json_string_value(json_object_get(req(log, 0), "method")),
	    "sign") == 0);
	p = json_object_get(req(log, 0), "params");
	CHECK(json_object_size(p) == 4);
	CHECK(strcmp(param_str(log, 0, "cert"), "pkcs11:serial=A1;id=%01") == 0);
	CHECK(json_integer_value(json_object_get(p, "fd")) == 0);
	CHECK(json_is_integer(json_object_get(p, "fd")));
	CHECK(strcmp(param_str(log, 0, "digest"), "sha256") == 0);
	CHECK(strcmp(param_str(log, 0, "format"), "der") == 0);
	/* The document went by descriptor, whole. */
	CHECK(strcmp(json_string_value(json_array_get(json_object_get(
	    json_array_get(log, 0), "fds"), 0)), "hello doc") == 0);
	json_decref(log);
}

static void
test_sign_umask(void)
{
	static const char *const replies[] = { SIGN_OK("der", SIG_B64), NULL };
	static const char *const args[] = {
		"sign", "--cert", "x", "doc.txt", NULL,
	};
	struct run_opts o = { .umask = 027 };
	struct fakeagent fa;
	struct run r;
	struct stat st;
	char path[PATH_MAX];

	new_work();
	spit("doc.txt", "d");
	fakeagent_start(&fa, replies);
	o.sock = fa.sock;
	run_signet(&r, &o, args);
	json_decref(fakeagent_stop(&fa));
	expect_status(&r, 0);
	snprintf(path, sizeof(path), "%s/doc.txt.sig", work);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640);
}

static void
test_sign_error_keeps_old(void)
{
	static const char *const replies[] = {
		ERR_REPLY(-32002, "auth_required", "not logged in"), NULL,
	};
	static const char *const args[] = {
		"sign", "--cert", "x", "doc.txt", NULL,
	};
	static const char *const files[] = { "doc.txt", "doc.txt.sig", NULL };
	struct run r;

	new_work();
	spit("doc.txt", "hello");
	spit("doc.txt.sig", "OLD");
	json_decref(run_with_agent(&r, replies, NULL, args));
	expect_status(&r, SIGNET_EXIT_AUTH);
	expect_err(&r, "signet: sign: doc.txt: not logged in (auth_required)\n");
	CHECK(r.out_len == 0);
	expect_file("doc.txt.sig", "OLD", 3);
	expect_dir(files);
}

static void
test_sign_batch_stops(void)
{
	static const char *const replies[] = {
		SIGN_OK("der", SIG_B64),
		ERR_REPLY(-32003, "cert_not_found", "no such certificate"),
		SIGN_OK("der", SIG_B64),
		NULL,
	};
	static const char *const args[] = {
		"sign", "--cert", "x", "a.txt", "b.txt", "c.txt", NULL,
	};
	static const char *const files[] = {
		"a.txt", "b.txt", "c.txt", "a.txt.sig", NULL,
	};
	struct run r;
	json_t *log;

	new_work();
	spit("a.txt", "A");
	spit("b.txt", "B");
	spit("c.txt", "C");
	log = run_with_agent(&r, replies, NULL, args);
	expect_status(&r, SIGNET_EXIT_TOKEN);
	expect_err(&r, "signet: sign: b.txt: no such certificate "
	    "(cert_not_found)\n");
	expect_dir(files);
	CHECK(json_array_size(log) == 2);
	CHECK(strcmp(json_string_value(json_array_get(json_object_get(
	    json_array_get(log, 1), "fds"), 0)), "B") == 0);
	json_decref(log);
}

/* Replies that must leave no signature behind, with their exit status. */
static void
test_sign_bad_reply(const char *reply, int want, const char *errtext)
{
	const char *replies[] = { reply, NULL };
	static const char *const args[] = {
		"sign", "--cert", "x", "doc.txt", NULL,
	};
	static const char *const files[] = { "doc.txt", NULL };
	struct run r;

	new_work();
	spit("doc.txt", "hello");
	json_decref(run_with_agent(&r, replies, NULL, args));
	expect_status(&r, want);
	expect_in(r.err, errtext);
	expect_dir(files);
}

static void
test_sign_pem_and_options(void)
{
	static const char *const replies[] = {
		SIGN_OK("pem", "-----BEGIN CMS-----\\nU0lH\\n-----END CMS-----\\n"),
		NULL,
	};
	static const char *const args[] = {
		"sign", "doc.txt", "--pem", "--digest", "sha384", "-o",
		"sub/out.pem", "--cert", "c", NULL,
	};
	static const char pem[] = "-----BEGIN CMS-----\nU0lH\n-----END CMS-----\n";
	struct run r;
	char path[PATH_MAX];
	json_t *log;

	new_work();
	spit("doc.txt", "hello");
	snprintf(path, sizeof(path), "%s/sub", work);
	CHECK(mkdir(path, 0755) == 0);
	log = run_with_agent(&r, replies, NULL, args);
	expect_status(&r, 0);
	expect_file("sub/out.pem", pem, strlen(pem));
	CHECK(!exists("doc.txt.sig"));
	CHECK(strcmp(param_str(log, 0, "format"), "pem") == 0);
	CHECK(strcmp(param_str(log, 0, "digest"), "sha384") == 0);
	json_decref(log);
}

static void
test_sign_stdout(void)
{
	static const char *const replies[] = { SIGN_OK("der", SIG_B64), NULL };
	static const char *const args[] = {
		"sign", "--cert", "c", "-o", "-", "doc.txt", NULL,
	};
	static const char *const files[] = { "doc.txt", NULL };
	struct run r;

	new_work();
	spit("doc.txt", "hello");
	json_decref(run_with_agent(&r, replies, NULL, args));
	expect_status(&r, 0);
	CHECK(r.out_len == sizeof(sig_bytes));
	CHECK(memcmp(r.out, sig_bytes, sizeof(sig_bytes)) == 0);
	expect_dir(files);
}

/* Refused before anything is sent. */
static void
test_sign_local_errors(void)
{
	static const char *const replies[] = { SIGN_OK("der", SIG_B64), NULL };
	static const char *const two[] = {
		"sign", "--cert", "c", "-o", "x.sig", "a", "b", NULL,
	};
	static const char *const digest[] = {
		"sign", "--cert", "c", "--digest", "md5", "doc.txt", NULL,
	};
	static const char *const nofile[] = {
		"sign", "--cert", "c", "missing.txt", NULL,
	};
	static const char *const dir[] = { "sign", "--cert", "c", ".", NULL };
	struct run r;
	json_t *log;

	new_work();
	spit("doc.txt", "hello");
	log = run_with_agent(&r, replies, NULL, two);
	expect_status(&r, SIGNET_EXIT_USAGE);
	CHECK(json_array_size(log) == 0);
	json_decref(log);
	log = run_with_agent(&r, replies, NULL, digest);
	expect_status(&r, SIGNET_EXIT_USAGE);
	expect_in(r.err, "unsupported digest 'md5' (usage)");
	CHECK(json_array_size(log) == 0);
	json_decref(log);
	log = run_with_agent(&r, replies, NULL, nofile);
	expect_status(&r, SIGNET_EXIT_INTERNAL);
	expect_err(&r, "signet: sign: missing.txt: No such file or directory "
	    "(io_error)\n");
	CHECK(json_array_size(log) == 0);
	json_decref(log);
	log = run_with_agent(&r, replies, NULL, dir);
	expect_status(&r, SIGNET_EXIT_INTERNAL);
	expect_in(r.err, "is a directory");
	CHECK(json_array_size(log) == 0);
	json_decref(log);
}

#define SIG_RES(sig) "{\"signature\":\"" sig "\",\"format\":\"der\"}"

static void
test_sign_batch(void)
{
	static const char *const ok[] = {
		RESULT("{\"results\":[" SIG_RES(SIG_B64) "," SIG_RES("QQ==") ","
		    SIG_RES("QkI=") "]}"),
		NULL,
	};
	static const char *const failed[] = {
		"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32005,\"message\":"
		    "\"cannot read the document\",\"data\":{\"reason\":"
		    "\"fd_read_error\",\"document\":1}}}",
		NULL,
	};
	static const char *const short_reply[] = {
		RESULT("{\"results\":[" SIG_RES(SIG_B64) "," SIG_RES("QQ==") "]}"),
		NULL,
	};
	static const char *const bad_third[] = {
		RESULT("{\"results\":[" SIG_RES(SIG_B64) "," SIG_RES("QQ==") ","
		    SIG_RES("Q") "]}"),
		NULL,
	};
	static const char *const args[] = {
		"sign", "--batch", "--cert", "x", "a.txt", "b.txt", "c.txt", NULL,
	};
	static const char *const all[] = {
		"a.txt", "b.txt", "c.txt", "a.txt.sig", "b.txt.sig", "c.txt.sig",
		NULL,
	};
	static const char *const none[] = { "a.txt", "b.txt", "c.txt", NULL };
	struct run r;
	json_t *log, *docs, *fds;
	size_t i;

	new_work();
	spit("a.txt", "A");
	spit("b.txt", "B");
	spit("c.txt", "C");
	log = run_with_agent(&r, ok, NULL, args);
	expect_status(&r, 0);
	CHECK(strcmp(r.out, "signed a.txt -> a.txt.sig\n"
	    "signed b.txt -> b.txt.sig\nsigned c.txt -> c.txt.sig\n") == 0);
	expect_dir(all);
	expect_file("a.txt.sig", sig_bytes, sizeof(sig_bytes));
	expect_file("b.txt.sig", "A", 1);
	expect_file("c.txt.sig", "BB", 2);
	CHECK(json_array_size(log) == 1);
	CHECK(json_object_get(json_object_get(req(log, 0), "params"), "fd") ==
	    NULL);
	docs = json_object_get(json_object_get(req(log, 0), "params"),
	    "documents");
	fds = json_object_get(json_array_get(log, 0), "fds");
	CHECK(json_array_size(docs) == 3 && json_array_size(fds) == 3);
	for (i = 0; i < 3; i++) {
		char want[2] = { (char)('A' + i), '\0' };

		CHECK(json_integer_value(json_object_get(json_array_get(docs,
		    i), "fd")) == (json_int_t)i);
		CHECK(strcmp(json_string_value(json_array_get(fds, i)),
		    want) == 0);
	}
	json_decref(log);

	/* All or nothing: no signature file unless every one came. */
	new_work();
	spit("a.txt", "A");
	spit("b.txt", "B");
	spit("c.txt", "C");
	json_decref(run_with_agent(&r, failed, NULL, args));
	expect_status(&r, SIGNET_EXIT_INTERNAL);
	expect_err(&r, "signet: sign: b.txt: cannot read the document "
	    "(fd_read_error)\n");
	expect_dir(none);
	json_decref(run_with_agent(&r, short_reply, NULL, args));
	expect_status(&r, SIGNET_EXIT_INTERNAL);
	expect_err(&r, "signet: sign: reply has 2 results for 3 documents "
	    "(bad_reply)\n");
	expect_dir(none);
	json_decref(run_with_agent(&r, bad_third, NULL, args));
	expect_status(&r, SIGNET_EXIT_INTERNAL);
	expect_err(&r, "signet: sign: c.txt: signature is not valid base64 "
	    "(bad_reply)\n");
	expect_dir(none);
}

#define TOKEN(serial, extra) "{\"serial\":\"" serial "\",\"label\":\"user " \
	serial "\",\"manufacturer\":\"SoftHSM project\",\"model\":" \
	"\"SoftHSM v2\",\"uri\":\"pkcs11:serial=" serial "\",\"present\":true," \
	"\"login_required\":true" extra "}"
#define TOKENS(t) RESULT("{\"tokens\":[" t "]}")
#define TOKENS2(a, b) RESULT("{\"tokens\":[" a "," b "]}")
#define LOGIN_OK(serial) RESULT("{\"token\":\"" serial "\",\"logged_in\":true}")

static void
test_login_pin_fd(void)
{
	static const char *const replies[] = {
		TOKENS(TOKEN("A1", "")), LOGIN_OK("A1"), NULL,
	};
	static const char *const args[] = { "login", "--pin-fd", "3", NULL };
	struct run r;
	json_t *log, *p;

	new_work();
	log = run_with_agent(&r, replies, "12\"34\r\nnext line\n", args);
	expect_status(&r, 0);
	expect_err(&r, "");
	CHECK(strcmp(r.out, "user A1 (A1): logged in\n") == 0);
	CHECK(json_array_size(log) == 2);
	CHECK(strcmp(json_string_value(json_object_get(req(log, 0), "method")),
	    "tokens.list") == 0);
	CHECK(strcmp(json_string_value(json_object_get(req(log, 1), "method")),
	    "token.login") == 0);
	p = json_object_get(req(log, 1), "params");
	CHECK(json_object_size(p) == 3);
	CHECK(strcmp(param_str(log, 1, "pin"), "12\"34") == 0);
	CHECK(strcmp(param_str(log, 1, "token"), "pkcs11:serial=A1") == 0);
	CHECK(json_is_false(json_object_get(p, "allow_final_try")));
	json_decref(log);
}

static void
test_login_pin_pad(void)
{
	static const char *const replies[] = {
		TOKENS(TOKEN("A1", ",\"protected_auth_path\":true")),
		LOGIN_OK("A1"), NULL,
	};
	static const char *const args[] = { "login", NULL };
	struct run r;
	json_t *log;

	new_work();
	log = run_with_agent(&r, replies, NULL, args);
	expect_status(&r, 0);
	expect_err(&r, "Enter the PIN on the reader's PIN pad\n");
	CHECK(json_array_size(log) == 2);
	CHECK(json_object_get(json_object_get(req(log, 1), "params"),
	    "pin") == NULL);
	json_decref(log);
}

static void
test_login_final_try(void)
{
	static const char *const replies[] = {
		TOKENS(TOKEN("A1", ",\"pin_final_try\":true")),
		LOGIN_OK("A1"), NULL,
	};
	static const char *const plain[] = {
		"login", "--token", "A1", "--pin-fd", "3", NULL,
	};
	static const char *const allow[] = {
		"login", "--token", "A1", "--pin-fd", "3", "--allow-final-try",
		NULL,
	};
	struct run r;
	json_t *log;

	new_work();
	log = run_with_agent(&r, replies, "1234\n", plain);
	expect_status(&r, SIGNET_EXIT_AUTH);
	expect_err(&r, "signet: login: user A1 (A1): the next wrong PIN locks "
	    "the token; use --allow-final-try to try anyway (pin_final_try)\n");
	CHECK(json_array_size(log) == 1); /* no login attempted */
	json_decref(log);

	log = run_with_agent(&r, replies, "1234\n", allow);
	expect_status(&r, 0);
	expect_in(r.err, "warning: final PIN try");
	CHECK(json_array_size(log) == 2);
	CHECK(json_is_true(json_object_get(json_object_get(req(log, 1),
	    "params"), "allow_final_try")));
	CHECK(strcmp(param_str(log, 1, "token"), "A1") == 0);
	json_decref(log);
}

static void
test_login_failures(void)
{
	static const char *const wrong[] = {
		TOKENS(TOKEN("A1", "")),
		"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32002,\"message\":"
		    "\"PIN incorrect\",\"data\":{\"reason\":\"pin_incorrect\","
		    "\"pin\":{\"pin_count_low\":true,\"pin_final_try\":true,"
		    "\"pin_locked\":false}}}}",
		NULL,
	};
	static const char *const locked[] = {
		TOKENS(TOKEN("A1", ",\"pin_locked\":true")), NULL,
	};
	static const char *const two[] = {
		TOKENS2(TOKEN("A1", ""), TOKEN("B2", "")), NULL,
	};
	static const char *const none[] = { TOKENS(""), NULL };
	static const char *const already[] = {
		TOKENS(TOKEN("A1", ",\"logged_in\":true")), NULL,
	};
	static const char *const refused[] = {
		"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32001,"
		    "\"message\":\"uid 1001 may not use this agent\",\"data\":"
		    "{\"reason\":\"peer_refused\"}}}", NULL,
	};
	static const char *const pinfd[] = { "login", "--pin-fd", "3", NULL };
	static const char *const tty[] = { "login", NULL };
	struct run r;
	json_t *log;

	new_work();
	log = run_with_agent(&r, wrong, "0000\n", pinfd);
	expect_status(&r, SIGNET_EXIT_AUTH);
	expect_err(&r, "signet: login: user A1 (A1): PIN incorrect; the next "
	    "wrong PIN locks the token (pin_incorrect)\n");
	CHECK(json_array_size(log) == 2);
	json_decref(log);

	log = run_with_agent(&r, locked, "0000\n", pinfd);
	expect_status(&r, SIGNET_EXIT_AUTH);
	expect_in(r.err, "(pin_locked)\n");
	CHECK(json_array_size(log) == 1);
	json_decref(log);

	log = run_with_agent(&r, two, "0000\n", pinfd);
	expect_status(&r, SIGNET_EXIT_TOKEN);
	expect_err(&r, "signet: login: 2 tokens present; choose one with "
	    "--token (token_ambiguous)\n");
	json_decref(log);

	log = run_with_agent(&r, none, "0000\n", pinfd);
	expect_status(&r, SIGNET_EXIT_TOKEN);
	expect_err(&r, "signet: login: no token present (token_not_found)\n");
	json_decref(log);

	log = run_with_agent(&r, already, NULL, tty);
	expect_status(&r, 0);
	CHECK(strcmp(r.out, "user A1 (A1): already logged in\n") == 0);
	CHECK(json_array_size(log) == 1);
	json_decref(log);

	log = run_with_agent(&r, refused, NULL, tty);
	expect_status(&r, SIGNET_EXIT_REFUSED);
	expect_err(&r, "signet: login: uid 1001 may not use this agent "
	    "(peer_refused)\n");
	json_decref(log);

	/* No terminal and no --pin-fd: nothing to read a PIN from. */
	log = run_with_agent(&r, wrong, NULL, tty);
	expect_status(&r, SIGNET_EXIT_USAGE);
	expect_in(r.err, "use --pin-fd");
	CHECK(json_array_size(log) == 1);
	json_decref(log);

	/* An empty line is no PIN; nothing is sent. */
	log = run_with_agent(&r, wrong, "\n", pinfd);
	expect_status(&r, SIGNET_EXIT_AUTH);
	expect_err(&r, "signet: login: empty PIN (pin_len_range)\n");
	CHECK(json_array_size(log) == 1);
	json_decref(log);
}

static void
test_tokens_certs_info_logout(void)
{
	static const char *const toks[] = {
		TOKENS2(TOKEN("A1", ",\"logged_in\":true"),
		    "{\"serial\":\"B2\",\"label\":\"evil\\u001b[31m\","
		    "\"manufacturer\":\"M\",\"model\":\"X\",\"login_required\":"
		    "true,\"pin_count_low\":true,\"protected_auth_path\":true}"),
		NULL,
	};
	static const char *const certs[] = {
		RESULT("{\"certs\":[{\"uri\":\"pkcs11:serial=A1;id=%01\","
		    "\"sha256\":\"0123456789abcdef0123456789abcdef0123456789abcdef"
		    "0123456789abcdef\",\"subject\":\"CN=Иван\",\"not_after\":"
		    "\"2030-01-01T00:00:00Z\",\"key_type\":\"rsa\",\"key_bits\":"
		    "2048},{\"uri\":\"u2\",\"sha256\":\"ff\",\"key_type\":\"ec\","
		    "\"key_bits\":256,\"curve\":\"prime256v1\"}]}"),
		NULL,
	};
	static const char *const info[] = {
		RESULT("{\"name\":\"signetd\",\"version\":\"0.1.0\",\"protocol\":1,"
		    "\"capabilities\":[\"sign\"],\"digests\":[\"sha256\"],"
		    "\"formats\":[\"der\",\"pem\"]}"),
		NULL,
	};
	static const char *const lo_ok[] = {
		RESULT("{\"token\":\"A1\",\"logged_in\":false}"), NULL,
	};
	static const char *const lo_bad[] = {
		ERR_REPLY(-32003, "token_not_found", "no such token"), NULL,
	};
	static const char *const no_array[] = {
		RESULT("{\"tokens\":{}}"), NULL,
	};
	static const char *const a_tokens[] = { "tokens", NULL };
	static const char *const a_tokens_json[] = { "tokens", "--json", NULL };
	static const char *const a_certs[] = { "certs", "--token", "A1", NULL };
	static const char *const a_certs_json[] = { "certs", "--json", NULL };
	static const char *const a_info[] = { "info", NULL };
	static const char *const a_logout[] = { "logout", "--token", "A1", NULL };
	static const char *const a_logout0[] = { "logout", NULL };
	struct run r;
	json_t *log, *j;

	new_work();
	log = run_with_agent(&r, toks, NULL, a_tokens);
	expect_status(&r, 0);
	CHECK(strcmp(r.out,
	    "SERIAL  LABEL      TOKEN                       LOGIN  PIN\n"
	    "A1      user A1    SoftHSM project SoftHSM v2  yes    ok\n"
	    "B2      evil?[31m  M X                         no     "
	    "pad,count-low\n") == 0);
	json_decref(log);

	log = run_with_agent(&r, toks, NULL, a_tokens_json);
	expect_status(&r, 0);
	CHECK((j = json_loads(r.out, 0, NULL)) != NULL);
	CHECK(json_is_array(j) && json_array_size(j) == 2);
	json_decref(j);
	json_decref(log);

	log = run_with_agent(&r, certs, NULL, a_certs);
	expect_status(&r, 0);
	CHECK(strcmp(r.out,
	    "SHA256            SUBJECT  NOT AFTER             KEY            URI\n"
	    "0123456789abcdef  CN=Иван  2030-01-01T00:00:00Z  rsa 2048       "
	    "pkcs11:serial=A1;id=%01\n"
	    "ff                -        -                     ec prime256v1  "
	    "u2\n") == 0);
	CHECK(strcmp(param_str(log, 0, "token"), "A1") == 0);
	json_decref(log);

	log = run_with_agent(&r, certs, NULL, a_certs_json);
	expect_status(&r, 0);
	CHECK((j = json_loads(r.out, 0, NULL)) != NULL);
	CHECK(json_is_array(j) && json_array_size(j) == 2);
	CHECK(strlen(json_string_value(json_object_get(json_array_get(j, 0),
	    "sha256"))) == 64);
	json_decref(j);
	CHECK(json_object_get(req(log, 0), "params") == NULL);
	json_decref(log);

	log = run_with_agent(&r, info, NULL, a_info);
	expect_status(&r, 0);
	expect_in(r.out, "agent:         signetd 0.1.0\n");
	expect_in(r.out, "formats:       der pem\n");
	json_decref(log);

	log = run_with_agent(&r, lo_ok, NULL, a_logout);
	expect_status(&r, 0);
	CHECK(strcmp(r.out, "A1: logged out\n") == 0);
	CHECK(strcmp(param_str(log, 0, "token"), "A1") == 0);
	json_decref(log);

	log = run_with_agent(&r, no_array, NULL, a_tokens);
	expect_status(&r, SIGNET_EXIT_INTERNAL);
	expect_err(&r, "signet: tokens: tokens.list: reply has no tokens array "
	    "(bad_reply)\n");
	json_decref(log);

	log = run_with_agent(&r, lo_bad, NULL, a_logout0);
	expect_status(&r, SIGNET_EXIT_TOKEN);
	expect_err(&r, "signet: logout: no such token (token_not_found)\n");
	json_decref(log);
}

/* The exit status for each class of agent error. */
static void
test_exit_mapping(void)
{
	static const struct {
		const char *reply;
		int status;
	} cases[] = {
		{ ERR_REPLY(-32001, "peer_refused", "m"), SIGNET_EXIT_REFUSED },
		{ ERR_REPLY(-32002, "auth_required", "m"), SIGNET_EXIT_AUTH },
		{ ERR_REPLY(-32003, "token_ambiguous", "m"), SIGNET_EXIT_TOKEN },
		{ ERR_REPLY(-32004, "token_removed", "m"), SIGNET_EXIT_TOKEN },
		{ ERR_REPLY(-32602, "unsupported_key", "m"), SIGNET_EXIT_TOKEN },
		{ ERR_REPLY(-32602, "bad_selector", "m"), SIGNET_EXIT_USAGE },
		{ ERR_REPLY(-32602, "unsupported_digest", "m"), SIGNET_EXIT_USAGE },
		{ ERR_REPLY(-32602, "fd_missing", "m"), SIGNET_EXIT_INTERNAL },
		{ ERR_REPLY(-32005, "fd_read_error", "m"), SIGNET_EXIT_INTERNAL },
		{ ERR_REPLY(-32603, "internal_error", "m"), SIGNET_EXIT_INTERNAL },
		{ ERR_REPLY(-32601, "unknown_method", "m"), SIGNET_EXIT_INTERNAL },
		{ "CLOSE", SIGNET_EXIT_UNREACHABLE },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *replies[] = { cases[i].reply, NULL };
		static const char *const args[] = {
			"sign", "--cert", "x", "doc.txt", NULL,
		};
		static const char *const files[] = { "doc.txt", NULL };
		struct run r;

		new_work();
		spit("doc.txt", "d");
		json_decref(run_with_agent(&r, replies, NULL, args));
		if (r.status != cases[i].status) {
			fprintf(stderr, "%s: exit %d, wanted %d\n",
			    cases[i].reply, r.status, cases[i].status);
			exit(1);
		}
		expect_dir(files);
	}
}

int
main(int argc, char **argv)
{
	char cmd[600];

	if (argc != 2) {
		fprintf(stderr, "usage: client_cli_test PATH-TO-signet\n");
		return 2;
	}
	/* The CLI runs in its own work directory. */
	CHECK((signet_bin = realpath(argv[1], NULL)) != NULL);
	snprintf(scratch, sizeof(scratch), "%s/signet-cli-out.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	CHECK(mkdtemp(scratch) != NULL);
	test_sign_ok();
	test_sign_umask();
	test_sign_error_keeps_old();
	test_sign_batch_stops();
	test_sign_bad_reply(SIGN_OK("der", "U0lH!"), SIGNET_EXIT_INTERNAL,
	    "signature is not valid base64 (bad_reply)");
	test_sign_bad_reply(SIGN_OK("pem", SIG_B64), SIGNET_EXIT_INTERNAL,
	    "reply has no der signature (bad_reply)");
	test_sign_bad_reply(SIGN_OK("der", ""), SIGNET_EXIT_INTERNAL,
	    "empty signature (bad_reply)");
	test_sign_bad_reply("CLOSE", SIGNET_EXIT_UNREACHABLE, "(closed)");
	test_sign_bad_reply("RAW:garbage\n", SIGNET_EXIT_INTERNAL,
	    "(bad_reply)");
	/* Text from the agent reaches the terminal without its controls. */
	test_sign_bad_reply(ERR_REPLY(-32603, "x\\u001b[2J", "boom\\u0007"),
	    SIGNET_EXIT_INTERNAL, "signet: sign: doc.txt: boom? (x?[2J)\n");
	test_sign_pem_and_options();
	test_sign_batch();
	test_sign_stdout();
	test_sign_local_errors();
	test_login_pin_fd();
	test_login_pin_pad();
	test_login_final_try();
	test_login_failures();
	test_tokens_certs_info_logout();
	test_exit_mapping();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", work, scratch);
	CHECK(system(cmd) == 0);
	printf("client_cli_test: ok\n");
	return 0;
}
