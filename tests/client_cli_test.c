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
#include <signal.h>
#include <poll.h>
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
	bool tty_err;       /* standard error is a terminal (a pty) */
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
unlink_in_work(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", work, name);
	CHECK(unlink(path) == 0);
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
	char outp[PATH_MAX], errp[PATH_MAX], *slave = NULL;
	const char **argv;
	size_t i, n = 0;
	pid_t pid;
	int st, master = -1;

	snprintf(outp, sizeof(outp), "%s/out", scratch);
	snprintf(errp, sizeof(errp), "%s/err", scratch);
	for (i = 0; args[i] != NULL; i++)
		;
	CHECK((argv = calloc(i + 2, sizeof(*argv))) != NULL);
	argv[n++] = "signet";
	for (i = 0; args[i] != NULL; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (o->tty_err) {
		CHECK((master = posix_openpt(O_RDWR | O_NOCTTY)) >= 0);
		CHECK(grantpt(master) == 0 && unlockpt(master) == 0);
		CHECK((slave = ptsname(master)) != NULL);
	}
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
		if (slave != NULL)
			fd = open(slave, O_RDWR | O_NOCTTY);
		else
			fd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || dup2(fd, 2) < 0)
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
		/* A signet that hangs fails its test (SIGALRM outlives
		 * exec) instead of stalling the run. */
		alarm(30);
		execv(signet_bin, (char *const *)argv);
		_exit(127);
	}
	CHECK(waitpid(pid, &st, 0) == pid);
	if (!WIFEXITED(st))
		fprintf(stderr, "signet %s: killed by signal %d\n", args[0],
		    WTERMSIG(st));
	CHECK(WIFEXITED(st));
	free(argv);
	r->status = WEXITSTATUS(st);
	r->out_len = slurp(outp, r->out, sizeof(r->out));
	if (master >= 0) {
		/* What the terminal got; it stays readable after the
		 * child closed its end, until drained (then EIO). */
		size_t len = 0;
		ssize_t k;

		while (len < sizeof(r->err) - 1 && (k = read(master,
		    r->err + len, sizeof(r->err) - 1 - len)) > 0)
			len += (size_t)k;
		r->err[len] = '\0';
		close(master);
	} else
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
	/* No digest named: the agent picks the key's own (Streebog for a
	 * GOST key), so the client must not default to sha256. */
	CHECK(json_object_size(p) == 3);
	CHECK(json_object_get(p, "digest") == NULL);
	CHECK(strcmp(param_str(log, 0, "cert"), "pkcs11:serial=A1;id=%01") == 0);
	CHECK(json_integer_value(json_object_get(p, "fd")) == 0);
	CHECK(json_is_integer(json_object_get(p, "fd")));
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

/* --one-by-one: a request per file, stopping at the first failure. */
static void
test_sign_one_by_one_stops(void)
{
	static const char *const replies[] = {
		SIGN_OK("der", SIG_B64),
		ERR_REPLY(-32003, "cert_not_found", "no such certificate"),
		SIGN_OK("der", SIG_B64),
		NULL,
	};
	static const char *const args[] = {
		"sign", "--one-by-one", "--cert", "x", "a.txt", "b.txt",
		"c.txt", NULL,
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
	/* Several files make one batch by default. */
	static const char *const args[] = {
		"sign", "--cert", "x", "a.txt", "b.txt", "c.txt", NULL,
	};
	/* --batch is a no-op alias kept for old scripts. */
	static const char *const alias[] = {
		"sign", "--batch", "--cert", "x", "a.txt", "b.txt", "c.txt", NULL,
	};
	static const char *const all[] = {
		"a.txt", "b.txt", "c.txt", "a.txt.sig", "b.txt.sig", "c.txt.sig",
		NULL,
	};
	static const char *const none[] = { "a.txt", "b.txt", "c.txt", NULL };
	struct run r;
	json_t *log, *alias_log, *docs, *fds;
	size_t i;

	new_work();
	spit("a.txt", "A");
	spit("b.txt", "B");
	spit("c.txt", "C");
	alias_log = run_with_agent(&r, ok, NULL, alias);
	expect_status(&r, 0);
	expect_dir(all);
	new_work();
	spit("a.txt", "A");
	spit("b.txt", "B");
	spit("c.txt", "C");
	log = run_with_agent(&r, ok, NULL, args);
	expect_status(&r, 0);
	/* No terminal, no progress line. */
	expect_err(&r, "");
	CHECK(strcmp(r.out, "signed a.txt -> a.txt.sig\n"
	    "signed b.txt -> b.txt.sig\nsigned c.txt -> c.txt.sig\n") == 0);
	expect_dir(all);
	expect_file("a.txt.sig", sig_bytes, sizeof(sig_bytes));
	expect_file("b.txt.sig", "A", 1);
	expect_file("c.txt.sig", "BB", 2);
	CHECK(json_array_size(log) == 1);
	CHECK(json_array_size(alias_log) == 1);
	CHECK(json_equal(json_object_get(req(log, 0), "params"),
	    json_object_get(req(alias_log, 0), "params")));
	json_decref(alias_log);
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
		{ ERR_REPLY(-32002, "pin_cancelled", "m"), SIGNET_EXIT_AUTH },
		{ ERR_REPLY(-32001, "audit_unavailable", "m"),
		  SIGNET_EXIT_REFUSED },
		{ ERR_REPLY(-32001, "rate_limited", "m"), SIGNET_EXIT_REFUSED },
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

/* --digest passes the name as given, GOST ones too. */
static void
test_sign_streebog(void)
{
	static const char *const replies[] = { SIGN_OK("der", SIG_B64), NULL };
	static const char *const args[] = {
		"sign", "--cert", "snils:12345678901", "--digest", "streebog512",
		"doc.txt", NULL,
	};
	static const char *const files[] = { "doc.txt", "doc.txt.sig", NULL };
	struct run r;
	json_t *log;

	new_work();
	spit("doc.txt", "gost");
	log = run_with_agent(&r, replies, NULL, args);
	expect_status(&r, 0);
	expect_dir(files);
	CHECK(strcmp(param_str(log, 0, "digest"), "streebog512") == 0);
	json_decref(log);
}

/* A reply to a batch of n, the k-th signature being the base64 of "k". */
static char *
batch_reply(size_t n)
{
	char *s = NULL, *t;
	size_t i;

	CHECK(asprintf(&s, "{\"jsonrpc\":\"2.0\",\"result\":{\"results\":[") > 0);
	for (i = 0; i < n; i++) {
		char num[32], *b64 = NULL;
		size_t len;

		snprintf(num, sizeof(num), "%zu", i);
		CHECK(signet_b64_encode(num, strlen(num), &b64, &len) == 0);
		CHECK(asprintf(&t, "%s%s" SIG_RES("%s"), s, i ? "," : "",
		    b64) > 0);
		free(b64);
		free(s);
		s = t;
	}
	CHECK(asprintf(&t, "%s]}}", s) > 0);
	free(s);
	return t;
}

static void
make_files(size_t n, char ***argsp, size_t extra)
{
	char **args, name[32];
	size_t i;

	CHECK((args = calloc(n + extra + 1, sizeof(*args))) != NULL);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "f%03zu", i);
		spit(name, name);
		CHECK((args[extra + i] = strdup(name)) != NULL);
	}
	*argsp = args;
}

static void
free_args(char **args, size_t from)
{
	size_t i;

	for (i = from; args[i] != NULL; i++)
		free(args[i]);
	free(args);
}

/*
 * 300 files: two batch requests in order, of 256 and 44 descriptors
 * (the first one in two sendmsg calls of 253 and 3), each document fd i
 * of its request. Then the same with the second batch failing: the first
 * batch's signatures are kept, none of the second's is written.
 */
static void
test_sign_many(void)
{
	const size_t n = 300, first = SIGNET_MAX_BATCH;
	char *rep1 = batch_reply(first), *rep2 = batch_reply(n - first);
	const char *ok[] = { rep1, rep2, NULL };
	const char *fail2[] = {
		rep1,
		"{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32004,\"message\":"
		    "\"the token was removed\",\"data\":{\"reason\":"
		    "\"token_removed\",\"document\":3}}}",
		NULL,
	};
	char **args, path[64], want[64];
	struct run r;
	json_t *log;
	size_t i, b;

	new_work();
	make_files(n, &args, 3);
	args[0] = "sign";
	args[1] = "--cert";
	args[2] = "x";
	log = run_with_agent(&r, ok, NULL, (const char *const *)args);
	expect_status(&r, 0);
	expect_err(&r, "");
	CHECK(json_array_size(log) == 2);
	for (b = 0; b < 2; b++) {
		json_t *docs = json_object_get(json_object_get(req(log, b),
		    "params"), "documents");
		json_t *fds = json_object_get(json_array_get(log, b), "fds");
		size_t cnt = b == 0 ? first : n - first;

		CHECK(json_array_size(docs) == cnt);
		CHECK(json_array_size(fds) == cnt);
		for (i = 0; i < cnt; i++) {
			snprintf(want, sizeof(want), "f%03zu", b * first + i);
			CHECK(json_integer_value(json_object_get(
			    json_array_get(docs, i), "fd")) == (json_int_t)i);
			CHECK(strcmp(json_string_value(json_array_get(fds, i)),
			    want) == 0);
		}
	}
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "f%03zu.sig", i);
		snprintf(want, sizeof(want), "%zu", i % first);
		expect_file(path, want, strlen(want));
	}
	json_decref(log);

	new_work();
	free_args(args, 3);
	make_files(n, &args, 3);
	args[0] = "sign";
	args[1] = "--cert";
	args[2] = "x";
	log = run_with_agent(&r, fail2, NULL, (const char *const *)args);
	expect_status(&r, SIGNET_EXIT_TOKEN);
	expect_err(&r, "signet: sign: f259: the token was removed "
	    "(token_removed)\nsignet: sign: batch 2 of 2 wrote no signature; "
	    "the 256 files of the batches before it are signed\n");
	CHECK(json_array_size(log) == 2);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "f%03zu.sig", i);
		CHECK(exists(path) == (i < first));
	}
	json_decref(log);
	free_args(args, 3);
	free(rep1);
	free(rep2);
}

/* A file that cannot be read stops everything before any request. */
static void
test_sign_precheck(void)
{
	static const char *const replies[] = { RESULT("{\"results\":[]}"), NULL };
	static const char *const args[] = {
		"sign", "--cert", "x", "a.txt", "sub", "c.txt", NULL,
	};
	static const char *const missing[] = {
		"sign", "--cert", "x", "a.txt", "c.txt", "nope.txt", NULL,
	};
	static const char *const files[] = { "a.txt", "c.txt", "sub", NULL };
	char path[PATH_MAX];
	struct run r;
	json_t *log;

	new_work();
	spit("a.txt", "A");
	spit("c.txt", "C");
	snprintf(path, sizeof(path), "%s/sub", work);
	CHECK(mkdir(path, 0755) == 0);
	log = run_with_agent(&r, replies, NULL, args);
	expect_status(&r, SIGNET_EXIT_INTERNAL);
	expect_err(&r, "signet: sign: sub: is a directory (io_error)\n");
	CHECK(json_array_size(log) == 0);
	expect_dir(files);
	json_decref(log);
	log = run_with_agent(&r, replies, NULL, missing);
	expect_status(&r, SIGNET_EXIT_INTERNAL);
	expect_err(&r, "signet: sign: nope.txt: No such file or directory "
	    "(io_error)\n");
	CHECK(json_array_size(log) == 0);
	expect_dir(files);
	json_decref(log);
}

/*
 * A named pipe among the files: checked without being opened (opening
 * and closing it would take its writer's reader away), then read once,
 * by the batch.
 */
static void
test_sign_fifo(void)
{
	static const char *const ok[] = {
		RESULT("{\"results\":[" SIG_RES(SIG_B64) "," SIG_RES("QQ==") "]}"),
		NULL,
	};
	static const char *const args[] = {
		"sign", "--cert", "x", "a.txt", "pipe", NULL,
	};
	char path[PATH_MAX];
	struct run r;
	json_t *log, *fds;
	pid_t writer;
	int st;

	new_work();
	spit("a.txt", "A");
	snprintf(path, sizeof(path), "%s/pipe", work);
	CHECK(mkfifo(path, 0600) == 0);
	fflush(stdout);
	fflush(stderr);
	CHECK((writer = fork()) >= 0);
	if (writer == 0) {
		/* A quick writer (echo data >pipe): whoever opens the pipe
		 * first gets the content, and a reader that only looked and
		 * closed loses it: a second reader then waits for a writer
		 * (the run's alarm ends it), or the write fails (EPIPE) and
		 * it gets "BROKEN". Timing decides which, and mostly that
		 * the check's open would be caught. */
		int fd;

		signal(SIGPIPE, SIG_IGN);
		alarm(30);
		if ((fd = open(path, O_WRONLY)) < 0)
			_exit(2);
		if (write(fd, "fifo data", 9) == 9 && close(fd) == 0)
			_exit(0);
		(void)close(fd);
		if ((fd = open(path, O_WRONLY)) >= 0 &&
		    write(fd, "BROKEN", 6) == 6)
			(void)close(fd);
		_exit(1);
	}
	log = run_with_agent(&r, ok, NULL, args);
	CHECK(waitpid(writer, &st, 0) == writer);
	expect_status(&r, 0);
	fds = json_object_get(json_array_get(log, 0), "fds");
	CHECK(json_array_size(fds) == 2);
	CHECK(strcmp(json_string_value(json_array_get(fds, 1)),
	    "fifo data") == 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(exists("pipe.sig") && exists("a.txt.sig"));
	json_decref(log);
}

/* On a terminal, a progress line per batch on standard error. */
static void
test_sign_progress(void)
{
	static const char *const ok[] = {
		RESULT("{\"results\":[" SIG_RES(SIG_B64) "," SIG_RES("QQ==") ","
		    SIG_RES("QkI=") "]}"),
		NULL,
	};
	static const char *const failed[] = {
		ERR_REPLY(-32002, "auth_required", "not logged in"), NULL,
	};
	static const char *const args[] = {
		"sign", "--cert", "x", "a.txt", "b.txt", "c.txt", NULL,
	};
	const size_t n = 257;
	char *rep1 = batch_reply(SIGNET_MAX_BATCH), *rep2 = batch_reply(1);
	const char *two[] = { rep1, rep2, NULL };
	struct run_opts o = { .umask = 022, .tty_err = true };
	struct fakeagent fa;
	struct run r;
	char **many;

	new_work();
	spit("a.txt", "A");
	spit("b.txt", "B");
	spit("c.txt", "C");
	fakeagent_start(&fa, ok);
	o.sock = fa.sock;
	run_signet(&r, &o, args);
	json_decref(fakeagent_stop(&fa));
	expect_status(&r, 0);
	/* The terminal turns "\n" into "\r\n". */
	expect_err(&r, "signing 3 documents... done\r\n");

	new_work();
	spit("a.txt", "A");
	spit("b.txt", "B");
	spit("c.txt", "C");
	fakeagent_start(&fa, failed);
	o.sock = fa.sock;
	run_signet(&r, &o, args);
	json_decref(fakeagent_stop(&fa));
	expect_status(&r, SIGNET_EXIT_AUTH);
	expect_err(&r, "signing 3 documents... failed\r\n"
	    "signet: sign: not logged in (auth_required)\r\n");

	new_work();
	make_files(n, &many, 3);
	many[0] = "sign";
	many[1] = "--cert";
	many[2] = "x";
	fakeagent_start(&fa, two);
	o.sock = fa.sock;
	run_signet(&r, &o, (const char *const *)many);
	json_decref(fakeagent_stop(&fa));
	expect_status(&r, 0);
	expect_err(&r, "signing 256 documents (batch 1 of 2)... done\r\n"
	    "signing 1 document (batch 2 of 2)... done\r\n");
	free_args(many, 3);
	free(rep1);
	free(rep2);
}

#define REFUSED(reason, data) "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":" \
	"-32001,\"message\":\"the signing policy refuses this\",\"data\":" \
	"{\"reason\":\"" reason "\"" data "}}}"

/* Each refusal: exit 65, one line with the rule, the reason, and the
 * limit or wait the agent gave. */
static void
test_sign_refusals(void)
{
	static const struct {
		const char *reply, *err;
		bool batch;
	} cases[] = {
		{ REFUSED("digest_not_allowed", ",\"rule\":\"edms\""),
		  "signet: sign: doc.txt: refused by policy rule 'edms': this "
		  "digest is not allowed (digest_not_allowed)\n", false },
		{ REFUSED("rate_limited", ",\"rule\":\"r1\",\"retry_after\":42"),
		  "signet: sign: doc.txt: refused by policy rule 'r1': the rate "
		  "limit is reached; retry in 42 s (rate_limited)\n", false },
		{ REFUSED("document_too_large", ",\"rule\":\"r\",\"max_size\":"
		  "1048576,\"document\":1"),
		  "signet: sign: b.txt: refused by policy rule 'r': the document "
		  "is larger than allowed; the limit is 1048576 bytes "
		  "(document_too_large)\n", true },
		{ REFUSED("document_too_large", ",\"max_size\":10"),
		  "signet: sign: doc.txt: refused by the signing policy: the "
		  "document is larger than allowed; the limit is 10 bytes "
		  "(document_too_large)\n", false },
		{ REFUSED("batch_too_large", ",\"rule\":\"small\""),
		  "signet: sign: refused by policy rule 'small': too many "
		  "documents in one request; sign fewer files at once, or use "
		  "--one-by-one (batch_too_large)\n", true },
		{ REFUSED("policy_denied", ",\"rule\":\"default\""),
		  "signet: sign: doc.txt: refused by policy rule 'default': this "
		  "client may not make this request (policy_denied)\n", false },
		{ REFUSED("cert_expired", ",\"rule\":\"r\""),
		  "signet: sign: doc.txt: refused by policy rule 'r': the "
		  "certificate has expired (cert_expired)\n", false },
		{ REFUSED("cert_key_usage", ",\"rule\":\"r\""),
		  "signet: sign: doc.txt: refused by policy rule 'r': the "
		  "certificate's key usage does not allow signing "
		  "(cert_key_usage)\n", false },
		{ REFUSED("cert_untrusted", ",\"rule\":\"r\""),
		  "signet: sign: doc.txt: refused by policy rule 'r': the "
		  "certificate does not chain to a trusted CA "
		  "(cert_untrusted)\n", false },
		{ REFUSED("input_not_allowed", ",\"rule\":\"r\""),
		  "signet: sign: doc.txt: refused by policy rule 'r': documents "
		  "may not be passed this way (input_not_allowed)\n", false },
		{ REFUSED("cert_not_allowed", ",\"rule\":\"r\\u001b\""),
		  "signet: sign: doc.txt: refused by policy rule 'r?': this "
		  "certificate is not allowed (cert_not_allowed)\n", false },
		{ REFUSED("cert_not_yet_valid", ",\"rule\":\"r\""),
		  "signet: sign: doc.txt: refused by policy rule 'r': the "
		  "certificate is not valid yet (cert_not_yet_valid)\n", false },
		{ REFUSED("audit_unavailable", ""),
		  "signet: sign: doc.txt: the agent's audit log cannot be "
		  "written; nothing was signed (audit_unavailable)\n", false },
		{ REFUSED("audit_unavailable", ""),
		  "signet: sign: the agent's audit log cannot be written; "
		  "nothing was signed (audit_unavailable)\n", true },
		/* A reason newer than this client: the agent's message. */
		{ REFUSED("moon_phase", ",\"rule\":\"r\""),
		  "signet: sign: doc.txt: the signing policy refuses this "
		  "(moon_phase)\n", false },
	};
	static const char *const one[] = {
		"sign", "--cert", "x", "doc.txt", NULL,
	};
	static const char *const two[] = {
		"sign", "--cert", "x", "a.txt", "b.txt", NULL,
	};
	static const char *const files1[] = { "doc.txt", NULL };
	static const char *const files2[] = { "a.txt", "b.txt", NULL };
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *replies[] = { cases[i].reply, NULL };
		struct run r;

		new_work();
		spit("doc.txt", "d");
		spit("a.txt", "a");
		spit("b.txt", "b");
		json_decref(run_with_agent(&r, replies, NULL,
		    cases[i].batch ? two : one));
		if (cases[i].batch)
			unlink_in_work("doc.txt");
		else {
			unlink_in_work("a.txt");
			unlink_in_work("b.txt");
		}
		expect_status(&r, SIGNET_EXIT_REFUSED);
		expect_err(&r, cases[i].err);
		CHECK(r.out_len == 0);
		expect_dir(cases[i].batch ? files2 : files1);
	}
}

/* Refusals of other commands: the same line, the command's name. */
static void
test_refusals_other(void)
{
	static const char *const audit[] = {
		REFUSED("audit_unavailable", ""), NULL,
	};
	static const char *const pin[] = {
		TOKENS(TOKEN("A1", "")),
		REFUSED("pin_source_not_allowed", ",\"rule\":\"kiosk\""), NULL,
	};
	static const char *const lock[] = { "lock", NULL };
	static const char *const login[] = {
		"login", "--pin-fd", "3", NULL,
	};
	struct run r;

	new_work();
	json_decref(run_with_agent(&r, audit, NULL, lock));
	expect_status(&r, SIGNET_EXIT_REFUSED);
	expect_err(&r, "signet: lock: the agent's audit log cannot be "
	    "written; nothing was done (audit_unavailable)\n");
	json_decref(run_with_agent(&r, pin, "1234\n", login));
	expect_status(&r, SIGNET_EXIT_REFUSED);
	expect_err(&r, "signet: login: user A1 (A1): refused by policy rule "
	    "'kiosk': this client may not send a PIN "
	    "(pin_source_not_allowed)\n");
}

static void
test_lock(void)
{
	static const char *const two[] = {
		RESULT("{\"logged_out\":2}"), NULL,
	};
	static const char *const one[] = {
		RESULT("{\"logged_out\":1}"), NULL,
	};
	static const char *const bad[] = {
		RESULT("{\"logged_out\":\"many\"}"), NULL,
	};
	static const char *const args[] = { "lock", NULL };
	static const char *const extra[] = { "lock", "now", NULL };
	struct run r;
	json_t *log;

	new_work();
	log = run_with_agent(&r, two, NULL, args);
	expect_status(&r, 0);
	expect_err(&r, "");
	CHECK(strcmp(r.out, "2 tokens logged out\n") == 0);
	CHECK(json_array_size(log) == 1);
	CHECK(strcmp(json_string_value(json_object_get(req(log, 0),
	    "method")), "agent.lock") == 0);
	/* No params at all. */
	CHECK(json_object_get(req(log, 0), "params") == NULL);
	json_decref(log);
	json_decref(run_with_agent(&r, one, NULL, args));
	expect_status(&r, 0);
	CHECK(strcmp(r.out, "1 token logged out\n") == 0);
	json_decref(run_with_agent(&r, bad, NULL, args));
	expect_status(&r, SIGNET_EXIT_INTERNAL);
	expect_err(&r, "signet: lock: agent.lock: reply has no logged_out "
	    "count (bad_reply)\n");
	log = run_with_agent(&r, two, NULL, extra);
	expect_status(&r, SIGNET_EXIT_USAGE);
	CHECK(json_array_size(log) == 0);
	json_decref(log);
}

/* signet watch running in the background: its stdout is a pipe. */
struct watcher {
	pid_t pid;
	int out;           /* read end of its stdout */
	char buf[65536];
	size_t len;
};

static void
watch_start(struct watcher *w, const char *sock, const char *const *args)
{
	char errp[PATH_MAX];
	const char *argv[8];
	size_t n = 0, i;
	int p[2];

	memset(w, 0, sizeof(*w));
	snprintf(errp, sizeof(errp), "%s/err", scratch);
	argv[n++] = "signet";
	for (i = 0; args[i] != NULL && n < 7; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	CHECK(pipe(p) == 0);
	fflush(stdout);
	fflush(stderr);
	CHECK((w->pid = fork()) >= 0);
	if (w->pid == 0) {
		int fd;

		(void)setsid();
		setenv("SIGNET_SOCKET", sock, 1);
		if (dup2(p[1], 1) < 0 ||
		    (fd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600)) < 0 ||
		    dup2(fd, 2) < 0)
			_exit(127);
		close(p[0]);
		close(p[1]);
		execv(signet_bin, (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	w->out = p[0];
}

/* Reads until the output holds nlines lines (or its end, with nlines
 * 0); each line must come within 10 s. */
static void
watch_read(struct watcher *w, size_t nlines)
{
	for (;;) {
		struct pollfd pfd = { .fd = w->out, .events = POLLIN };
		size_t i, lines = 0;
		ssize_t k;

		for (i = 0; i < w->len; i++)
			lines += w->buf[i] == '\n';
		if (nlines > 0 && lines >= nlines)
			return;
		CHECK(poll(&pfd, 1, 10000) == 1);
		k = read(w->out, w->buf + w->len, sizeof(w->buf) - 1 - w->len);
		CHECK(k >= 0);
		if (k == 0) {
			CHECK(nlines == 0);
			return;
		}
		w->len += (size_t)k;
		w->buf[w->len] = '\0';
	}
}

/* Waits for it and returns its exit status; its stderr into err. */
static int
watch_wait(struct watcher *w, char *err, size_t cap)
{
	char errp[PATH_MAX];
	int st;

	CHECK(waitpid(w->pid, &st, 0) == w->pid);
	close(w->out);
	snprintf(errp, sizeof(errp), "%s/err", scratch);
	slurp(errp, err, cap);
	unlink(errp);
	CHECK(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* Line i of the output is "<UTC time> want". */
static void
expect_event(const struct watcher *w, size_t i, const char *want)
{
	const char *p = w->buf, *nl;
	int y, mo, d, h, mi, s, n = 0;

	while (i-- > 0) {
		CHECK((p = strchr(p, '\n')) != NULL);
		p++;
	}
	CHECK((nl = strchr(p, '\n')) != NULL);
	if (sscanf(p, "%4d-%2d-%2dT%2d:%2d:%2dZ %n", &y, &mo, &d, &h, &mi, &s,
	    &n) != 6 || n != 21 || y < 2024 || mo < 1 || mo > 12 || d < 1 ||
	    d > 31 || h > 23 || mi > 59 || s > 60 ||
	    strlen(want) != (size_t)(nl - p - n) ||
	    strncmp(p + n, want, strlen(want)) != 0) {
		fprintf(stderr, "event line '%.*s', wanted '<time> %s'\n",
		    (int)(nl - p), p, want);
		exit(1);
	}
}

#define SUBSCRIBED "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"subscribed\":true}}\n"
#define NOTE(m, serial, label, reason) "{\"jsonrpc\":\"2.0\",\"method\":\"" m \
	"\",\"params\":{\"serial\":\"" serial "\",\"label\":\"" label \
	"\",\"reason\":\"" reason "\"}}\n"

static void
test_watch(void)
{
	/* An event before the subscription's reply (kept by the library),
	 * events in one write, events trickling in while the client sends
	 * nothing (a line split across pauses longer than its tick). */
	static const char *const script[] = {
		"RAW:" NOTE("token.inserted", "A1", "user A1", "inserted")
		    SUBSCRIBED NOTE("token.logged_in", "A1", "user A1", "client"),
		"SLEEP:500",
		"PUSH:{\"jsonrpc\":\"2.0\",\"method\":\"token.logged_out\",",
		"SLEEP:450",
		"PUSH:\"params\":{\"serial\":\"A1\",\"label\":\"\",\"reason\":\"lock\"",
		"SLEEP:300",
		"PUSH:,\"extra\":7}}\n" NOTE("token.removed", "A1", "a\\u001b[2J=b",
		    "removed"),
		NULL,
	};
	static const char *const gone[] = {
		"RAW:" SUBSCRIBED NOTE("token.removed", "B2", "x", "removed"),
		"SLEEP:300",
		"HANGUP",
		NULL,
	};
	static const char *const json[] = {
		"RAW:" SUBSCRIBED,
		"PUSH:" NOTE("token.logged_in", "A1", "L", "token"),
		NULL,
	};
	static const char *const refused[] = {
		ERR_REPLY(-32001, "policy_denied", "m"), NULL,
	};
	static const char *const plain[] = { "watch", NULL };
	static const char *const jargs[] = { "watch", "--json", NULL };
	struct fakeagent fa;
	struct watcher w;
	char err[4096];
	json_t *log, *note;

	fakeagent_start(&fa, script);
	watch_start(&w, fa.sock, plain);
	watch_read(&w, 4);
	expect_event(&w, 0, "token.inserted serial=A1 label=\"user A1\" "
	    "reason=inserted");
	expect_event(&w, 1, "token.logged_in serial=A1 label=\"user A1\" "
	    "reason=client");
	expect_event(&w, 2, "token.logged_out serial=A1 label=\"\" "
	    "reason=lock extra=7");
	expect_event(&w, 3, "token.removed serial=A1 label=\"a?[2J=b\" "
	    "reason=removed");
	/* Still watching: stopped by a signal, it exits 0. */
	CHECK(kill(w.pid, SIGTERM) == 0);
	CHECK(watch_wait(&w, err, sizeof(err)) == 0);
	CHECK(strcmp(err, "") == 0);
	log = fakeagent_stop(&fa);
	CHECK(json_array_size(log) == 1);
	CHECK(strcmp(json_string_value(json_object_get(req(log, 0), "method")),
	    "events.subscribe") == 0);
	CHECK(json_object_get(req(log, 0), "params") == NULL);
	json_decref(log);

	/* SIGINT too. */
	fakeagent_start(&fa, json);
	watch_start(&w, fa.sock, jargs);
	watch_read(&w, 1);
	CHECK((note = json_loads(w.buf, JSON_DISABLE_EOF_CHECK, NULL)) != NULL);
	CHECK(strcmp(json_string_value(json_object_get(note, "method")),
	    "token.logged_in") == 0);
	CHECK(strcmp(json_string_value(json_object_get(json_object_get(note,
	    "params"), "reason")), "token") == 0);
	CHECK(json_object_get(note, "id") == NULL);
	CHECK(strchr(w.buf, '\n') == w.buf + w.len - 1);
	json_decref(note);
	CHECK(kill(w.pid, SIGINT) == 0);
	CHECK(watch_wait(&w, err, sizeof(err)) == 0);
	json_decref(fakeagent_stop(&fa));

	/* The agent goes away: 69, after what it sent. */
	fakeagent_start(&fa, gone);
	watch_start(&w, fa.sock, plain);
	watch_read(&w, 0);
	expect_event(&w, 0, "token.removed serial=B2 label=x reason=removed");
	CHECK(watch_wait(&w, err, sizeof(err)) == SIGNET_EXIT_UNREACHABLE);
	CHECK(strcmp(err, "signet: watch: the agent closed the connection "
	    "(closed)\n") == 0);
	json_decref(fakeagent_stop(&fa));

	/* Refused subscription. */
	fakeagent_start(&fa, refused);
	watch_start(&w, fa.sock, plain);
	watch_read(&w, 0);
	CHECK(w.len == 0);
	CHECK(watch_wait(&w, err, sizeof(err)) == SIGNET_EXIT_REFUSED);
	CHECK(strcmp(err, "signet: watch: refused by the signing policy: this "
	    "client may not make this request (policy_denied)\n") == 0);
	json_decref(fakeagent_stop(&fa));
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
	test_sign_one_by_one_stops();
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
	test_sign_streebog();
	test_sign_many();
	test_sign_precheck();
	test_sign_fifo();
	test_sign_progress();
	test_sign_refusals();
	test_refusals_other();
	test_lock();
	test_watch();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", work, scratch);
	CHECK(system(cmd) == 0);
	printf("client_cli_test: ok\n");
	return 0;
}
