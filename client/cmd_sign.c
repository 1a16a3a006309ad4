/*
 * signet sign: files passed by descriptor (the agent never opens our
 * paths). Several files go in batches of up to SIGNET_MAX_BATCH, each one
 * all-or-nothing request signed under one authorization; with
 * --one-by-one, one request per file. A signature file appears complete
 * or not at all: it is written to a temporary file beside it, synced, and
 * renamed over the destination only after the agent's reply was good.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/cmd.h"

#define SIGN_USAGE "signet sign --cert SEL [--digest ALG] [--pem] " \
	"[--one-by-one] [-o OUT] FILE...\n" \
	"       ALG: sha256, sha384, sha512, streebog256, streebog512 " \
	"(default: the key's own)"

/* The temporary file being written, for the signal handler to remove:
 * an interrupted batch leaves no litter. */
static char sign_tmp[PATH_MAX];
static volatile sig_atomic_t sign_tmp_live;

static void
sign_on_signal(int sig)
{
	if (sign_tmp_live)
		(void)unlink(sign_tmp);
	(void)signal(sig, SIG_DFL);
	(void)raise(sig);
}

static void
sign_catch_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = sign_on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		(void)sigaction(sigs[i], &sa, NULL);
}

static int
write_all(int fd, const void *p, size_t len)
{
	const char *c = p;

	while (len > 0) {
		ssize_t n = write(fd, c, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Atomically replaces dest with data. 0, or -1 with errno set. */
static int
write_atomic(const char *dest, const void *data, size_t len, mode_t mask)
{
	const char *slash = strrchr(dest, '/');
	char dir[PATH_MAX];
	int fd = -1, dfd, e;

	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dest)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - dest) >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	} else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - dest), dest);
	if ((size_t)snprintf(sign_tmp, sizeof(sign_tmp), "%s/.%s.XXXXXX", dir,
	    slash ? slash + 1 : dest) >= sizeof(sign_tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = mkostemp(sign_tmp, O_CLOEXEC)) < 0)
		return -1;
	sign_tmp_live = 1;
	/* mkstemp makes 0600; a signature is public, like any file the
	 * user would create here. */
	if (fchmod(fd, 0644 & ~mask) != 0 || write_all(fd, data, len) != 0 ||
	    fsync(fd) != 0)
		goto fail;
	e = close(fd);
	fd = -1;
	if (e != 0 || rename(sign_tmp, dest) != 0)
		goto fail;
	sign_tmp_live = 0;
	/* The rename itself must survive a crash too. */
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(dfd);
		(void)close(dfd);
	}
	return 0;
 fail:
	e = errno;
	if (fd >= 0)
		(void)close(fd);
	(void)unlink(sign_tmp);
	sign_tmp_live = 0;
	errno = e;
	return -1;
}

struct sign_opts {
	const char *cert;
	const char *digest; /* NULL: the agent picks the key's own */
	const char *out;
	bool pem, one_by_one;
	bool progress;      /* standard error is a terminal */
	mode_t mask;
};

/* One signature from a reply, ready to write. */
struct sig_out {
	uint8_t *der;     /* decoded DER, owned */
	const void *p;    /* der, or the PEM text inside the reply */
	size_t len;
};

static int
open_doc(const char *file, int *fdp)
{
	struct stat st;
	int fd;

	*fdp = -1;
	if ((fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0 ||
	    fstat(fd, &st) != 0) {
		cmd_error("sign", SIGNET_CLIENT_R_IO_ERROR, "%s: %s", file,
		    strerror(errno));
		if (fd >= 0)
			(void)close(fd);
		return SIGNET_EXIT_INTERNAL;
	}
	if (S_ISDIR(st.st_mode)) {
		cmd_error("sign", SIGNET_CLIENT_R_IO_ERROR,
		    "%s: is a directory", file);
		(void)close(fd);
		return SIGNET_EXIT_INTERNAL;
	}
	*fdp = fd;
	return SIGNET_EXIT_OK;
}

/* The params every sign request has; the caller adds fd or documents. */
static json_t *
sign_params(const struct sign_opts *o)
{
	json_t *p = json_pack("{s:s, s:s}", "cert", o->cert, "format",
	    o->pem ? "pem" : "der");

	/* Without one, the agent uses the key's natural digest (Streebog
	 * for a GOST key): a client-side default would be wrong for some. */
	if (p != NULL && o->digest != NULL &&
	    json_object_set_new(p, "digest", json_string(o->digest)) != 0) {
		json_decref(p);
		return NULL;
	}
	return p;
}

/* Checks and decodes one result object of a sign reply. */
static int
take_signature(const struct sign_opts *o, const char *file, json_t *res,
    struct sig_out *s)
{
	const char *fmt = o->pem ? "pem" : "der", *sig;
	json_t *js = json_object_get(res, "signature");

	memset(s, 0, sizeof(*s));
	if ((sig = json_string_value(js)) == NULL ||
	    strcmp(jstr(res, "format"), fmt) != 0) {
		cmd_error("sign", SIGNET_CLIENT_R_BAD_REPLY, "%s: reply has no "
		    "%s signature", file, fmt);
		return SIGNET_EXIT_INTERNAL;
	}
	if (o->pem) {
		s->p = sig;
		s->len = json_string_length(js);
	} else {
		if (signet_b64_decode(sig, json_string_length(js), &s->der,
		    &s->len) != 0) {
			cmd_error("sign", SIGNET_CLIENT_R_BAD_REPLY,
			    "%s: signature is not valid base64", file);
			return SIGNET_EXIT_INTERNAL;
		}
		s->p = s->der;
	}
	if (s->len == 0) {
		cmd_error("sign", SIGNET_CLIENT_R_BAD_REPLY,
		    "%s: empty signature", file);
		return SIGNET_EXIT_INTERNAL;
	}
	return SIGNET_EXIT_OK;
}

/* Writes the signature of file where the options say. */
static int
store_signature(const struct sign_opts *o, const char *file,
    const struct sig_out *s)
{
	char *dest = NULL;

	if (o->out != NULL && strcmp(o->out, "-") == 0) {
		if (write_all(STDOUT_FILENO, s->p, s->len) != 0) {
			cmd_error("sign", SIGNET_CLIENT_R_IO_ERROR,
			    "standard output: %s", strerror(errno));
			return SIGNET_EXIT_INTERNAL;
		}
		return SIGNET_EXIT_OK;
	}
	if (o->out != NULL)
		dest = strdup(o->out);
	else if (asprintf(&dest, "%s.sig", file) < 0)
		dest = NULL;
	if (dest == NULL) {
		cmd_error("sign", SIGNET_CLIENT_R_NOMEM, "out of memory");
		return SIGNET_EXIT_INTERNAL;
	}
	if (write_atomic(dest, s->p, s->len, o->mask) != 0) {
		cmd_error("sign", SIGNET_CLIENT_R_IO_ERROR, "%s: %s", dest,
		    strerror(errno));
		free(dest);
		return SIGNET_EXIT_INTERNAL;
	}
	printf("signed ");
	cmd_put_text(stdout, file);
	printf(" -> ");
	cmd_put_text(stdout, dest);
	printf("\n");
	free(dest);
	return SIGNET_EXIT_OK;
}

/* One request per file: the file is descriptor 0 of its request. */
static int
sign_one(struct signet_conn *conn, const struct sign_opts *o,
    const char *file)
{
	struct signet_error err = { 0 };
	struct sig_out sig = { 0 };
	json_t *params = NULL, *res = NULL;
	int fd = -1, r, c;

	if ((r = open_doc(file, &fd)) != 0)
		return r;
	if ((params = sign_params(o)) == NULL ||
	    json_object_set_new(params, "fd", json_integer(0)) != 0) {
		r = cmd_usage_error("sign", SIGN_USAGE,
		    "certificate selector is not valid UTF-8");
		goto out;
	}
	if ((c = signet_call(conn, SIGNET_M_SIGN, params, &fd, 1, &res,
	    &err)) != 0) {
		r = cmd_fail("sign", file, c, &err);
		goto out;
	}
	if ((r = take_signature(o, file, res, &sig)) != 0)
		goto out;
	r = store_signature(o, file, &sig);
 out:
	if (fd >= 0)
		(void)close(fd);
	signet_error_clear(&err);
	free(sig.der);
	json_decref(res);
	json_decref(params);
	return r;
}

/*
 * Each file can be opened and is not a directory: checked before the first
 * batch goes, so a typo in the last of 600 names does not leave the first
 * 512 signed. (A file can still change in between; its batch then fails
 * alone, as it would have anyway.)
 */
static int
check_files(char **files, size_t n)
{
	struct stat st;
	size_t i;
	int fd, r;

	for (i = 0; i < n; i++) {
		if (stat(files[i], &st) != 0) {
			cmd_error("sign", SIGNET_CLIENT_R_IO_ERROR, "%s: %s",
			    files[i], strerror(errno));
			return SIGNET_EXIT_INTERNAL;
		}
		if (S_ISFIFO(st.st_mode)) {
			/* Opening a named pipe waits for its writer, and
			 * closing it again could cost the writer its
			 * reader: only its batch opens it, once. */
			if (access(files[i], R_OK) != 0) {
				cmd_error("sign", SIGNET_CLIENT_R_IO_ERROR,
				    "%s: %s", files[i], strerror(errno));
				return SIGNET_EXIT_INTERNAL;
			}
			continue;
		}
		if ((r = open_doc(files[i], &fd)) != 0)
			return r;
		(void)close(fd);
	}
	return SIGNET_EXIT_OK;
}

/*
 * A batch holds one descriptor per file, all open at once: lift the soft
 * limit on open files toward the hard one if it would not leave room.
 * Best effort; an open that still fails says why.
 */
static void
raise_fd_limit(size_t batch)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)batch + 64;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
		return;
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want ?
	    rl.rlim_max : want;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
}

/* The progress line on a terminal: "signing 37 documents... done". */
static void
progress_start(const struct sign_opts *o, size_t n, size_t batch,
    size_t nbatches)
{
	if (!o->progress)
		return;
	if (nbatches > 1)
		fprintf(stderr, "signing %zu document%s (batch %zu of %zu)... ",
		    n, n == 1 ? "" : "s", batch + 1, nbatches);
	else
		fprintf(stderr, "signing %zu document%s... ", n,
		    n == 1 ? "" : "s");
	fflush(stderr);
}

static void
progress_end(const struct sign_opts *o, bool ok)
{
	if (!o->progress)
		return;
	fputs(ok ? "done\n" : "failed\n", stderr);
	fflush(stderr);
}

/*
 * One batch request (the agent's all or nothing, under one
 * authorization), one descriptor per file. Signatures are written only
 * once every one of them is in hand and well-formed.
 */
static int
sign_batch(struct signet_conn *conn, const struct sign_opts *o,
    char **files, size_t n, size_t batch, size_t nbatches)
{
	struct signet_error err = { 0 };
	struct sig_out *sigs = NULL;
	json_t *params = NULL, *docs, *res = NULL, *results;
	int *fds = NULL, r, c;
	size_t i, opened = 0;
	bool sent = false;

	if ((fds = calloc(n, sizeof(*fds))) == NULL ||
	    (sigs = calloc(n, sizeof(*sigs))) == NULL ||
	    (params = sign_params(o)) == NULL ||
	    (docs = json_array()) == NULL ||
	    json_object_set_new(params, "documents", docs) != 0) {
		cmd_error("sign", SIGNET_CLIENT_R_NOMEM, "out of memory");
		r = SIGNET_EXIT_INTERNAL;
		goto out;
	}
	for (i = 0; i < n; i++) {
		if ((r = open_doc(files[i], &fds[i])) != 0)
			goto out;
		opened++;
		if (json_array_append_new(docs, json_pack("{s:I}", "fd",
		    (json_int_t)i)) != 0) {
			cmd_error("sign", SIGNET_CLIENT_R_NOMEM,
			    "out of memory");
			r = SIGNET_EXIT_INTERNAL;
			goto out;
		}
	}
	progress_start(o, n, batch, nbatches);
	sent = true;
	if ((c = signet_call(conn, SIGNET_M_SIGN, params, fds, n, &res,
	    &err)) != 0) {
		/* data.document names the document that failed. */
		json_t *d = json_object_get(err.data, "document");
		json_int_t k = json_is_integer(d) ? json_integer_value(d) : -1;

		progress_end(o, false);
		sent = false;
		r = cmd_fail("sign", k >= 0 && (size_t)k < n ? files[k] : NULL,
		    c, &err);
		goto out;
	}
	results = json_object_get(res, "results");
	if (json_array_size(results) != n) {
		cmd_error("sign", SIGNET_CLIENT_R_BAD_REPLY, "reply has %zu "
		    "results for %zu documents", json_array_size(results), n);
		r = SIGNET_EXIT_INTERNAL;
		goto out;
	}
	for (i = 0; i < n; i++)
		if ((r = take_signature(o, files[i],
		    json_array_get(results, i), &sigs[i])) != 0)
			goto out;
	progress_end(o, true);
	sent = false;
	for (i = 0; i < n; i++)
		if ((r = store_signature(o, files[i], &sigs[i])) != 0)
			goto out;
	r = SIGNET_EXIT_OK;
 out:
	if (sent)
		progress_end(o, false);
	for (i = 0; i < opened; i++)
		(void)close(fds[i]);
	for (i = 0; sigs != NULL && i < n; i++)
		free(sigs[i].der);
	signet_error_clear(&err);
	free(sigs);
	free(fds);
	json_decref(res);
	json_decref(params);
	return r;
}

/* Several files: batches of at most SIGNET_MAX_BATCH, in order, each all
 * or nothing; the first that fails ends the run. */
static int
sign_batches(struct signet_conn *conn, const struct sign_opts *o,
    char **files, size_t n)
{
	size_t nb = (n + SIGNET_MAX_BATCH - 1) / SIGNET_MAX_BATCH, b, off;
	int r;

	if ((r = check_files(files, n)) != 0)
		return r;
	raise_fd_limit(n < SIGNET_MAX_BATCH ? n : SIGNET_MAX_BATCH);
	for (b = 0; b < nb; b++) {
		off = b * SIGNET_MAX_BATCH;
		r = sign_batch(conn, o, files + off, n - off < SIGNET_MAX_BATCH ?
		    n - off : SIGNET_MAX_BATCH, b, nb);
		if (r == SIGNET_EXIT_OK)
			continue;
		if (b > 0)
			cmd_warn("sign", "batch %zu of %zu wrote no signature; "
			    "the %zu files of the batches before it are signed",
			    b + 1, nb, off);
		return r;
	}
	return SIGNET_EXIT_OK;
}

static bool
digest_known(const char *d)
{
	static const char *const names[] = {
		"sha256", "sha384", "sha512", "streebog256", "streebog512",
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(d, names[i]) == 0)
			return true;
	return false;
}

int
sign_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cert", required_argument, NULL, 'c' },
		{ "digest", required_argument, NULL, 'd' },
		{ "pem", no_argument, NULL, 'p' },
		{ "output", required_argument, NULL, 'o' },
		{ "one-by-one", no_argument, NULL, '1' },
		/* Batches are the default now; kept for old scripts. */
		{ "batch", no_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sign_opts o = { .digest = NULL };
	struct signet_conn *conn = NULL;
	bool batch = false;
	size_t n;
	int c, i, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.cert = optarg;
			break;
		case 'd':
			o.digest = optarg;
			break;
		case 'p':
			o.pem = true;
			break;
		case 'o':
			o.out = optarg;
			break;
		case '1':
			o.one_by_one = true;
			break;
		case 'b':
			batch = true;
			break;
		case 'h':
			printf("usage: %s\n", SIGN_USAGE);
			return SIGNET_EXIT_OK;
		default:
			return cmd_usage_error("sign", SIGN_USAGE,
			    "bad option '%s'", argv[optind - 1]);
		}
	}
	if (o.cert == NULL)
		return cmd_usage_error("sign", SIGN_USAGE, "--cert is required");
	if (o.digest != NULL && !digest_known(o.digest))
		return cmd_usage_error("sign", SIGN_USAGE,
		    "unsupported digest '%s'", o.digest);
	if (batch && o.one_by_one)
		return cmd_usage_error("sign", SIGN_USAGE,
		    "--batch and --one-by-one exclude each other");
	if (optind == argc)
		return cmd_usage_error("sign", SIGN_USAGE, "no file to sign");
	n = (size_t)(argc - optind);
	if (o.out != NULL && n > 1)
		return cmd_usage_error("sign", SIGN_USAGE,
		    "-o works with a single file only");
	if (o.out != NULL && o.out[0] == '\0')
		return cmd_usage_error("sign", SIGN_USAGE, "-o needs a path");
	o.mask = umask(0);
	umask(o.mask);
	o.progress = isatty(STDERR_FILENO) == 1;
	sign_catch_signals();
	if ((r = cmd_connect("sign", &conn)) != 0)
		goto out;
	if (n > 1 && !o.one_by_one)
		r = sign_batches(conn, &o, argv + optind, n);
	else
		for (i = optind; i < argc; i++)
			if ((r = sign_one(conn, &o, argv[i])) != 0)
				break;
 out:
	signet_close(conn);
	return r;
}
