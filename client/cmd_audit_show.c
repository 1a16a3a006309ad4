/*
 * signet audit show: records, filtered, as a table or as the JSON lines
 * they are. signet audit find --doc FILE: every record whose documents
 * include FILE's digest. Neither verifies anything: that is `signet audit
 * verify`'s job.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "client/cmd.h"
#include "client/cmd_audit.h"

#define SHOW_USAGE "signet audit show [--dir DIR | --system] [--since T] " \
	"[--until T] [--uid N] [--cert SHA256] [--decision allow|deny] " \
	"[--event TYPE] [--json] [FILE...]"
#define FIND_USAGE "signet audit find --doc FILE [--dir DIR | --system] " \
	"[--json] [LOGFILE...]"
#define FIND_READ_CHUNK 65536
#define FIND_MAX_ALGS 8

/* ---- show ------------------------------------------------------------- */

struct show {
	struct audit_table *t;
	bool has_since, has_until;
	int64_t since, until;       /* microseconds */
	bool has_uid;
	long long uid;
	const char *cert;           /* hex prefix */
	const char *decision;
	const char *event;
};

static int
show_one(void *arg, const struct audit_rec *r, const char *line, size_t len)
{
	struct show *s = arg;
	json_t *o = r->obj, *v;
	const char *str;
	int64_t t;

	if (s->has_since || s->has_until) {
		str = json_string_value(json_object_get(o, "time"));
		if (str == NULL || audit_time_parse(str, &t) != 0 ||
		    (s->has_since && t < s->since) ||
		    (s->has_until && t >= s->until))
			return 0;
	}
	if (s->has_uid) {
		v = json_object_get(json_object_get(o, "client"), "uid");
		if (!json_is_integer(v) || json_integer_value(v) != s->uid)
			return 0;
	}
	if (s->cert != NULL) {
		str = json_string_value(json_object_get(json_object_get(o, "cert"),
		    "sha256"));
		if (str == NULL || strncasecmp(str, s->cert, strlen(s->cert)) != 0)
			return 0;
	}
	if (s->decision != NULL) {
		str = json_string_value(json_object_get(o, "decision"));
		if (str == NULL || strcmp(str, s->decision) != 0)
			return 0;
	}
	if (s->event != NULL) {
		str = json_string_value(json_object_get(o, "event"));
		if (str == NULL || strcmp(str, s->event) != 0)
			return 0;
	}
	if (audit_table_add(s->t, r, line, len) != 0) {
		cmd_error("audit show", SIGNET_CLIENT_R_NOMEM, "out of memory");
		return SIGNET_EXIT_INTERNAL;
	}
	return 0;
}

static bool
hex_prefix(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') ||
		    (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return i > 0 && i <= 64;
}

int
audit_show_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "system", no_argument, NULL, 'S' },
		{ "since", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "uid", required_argument, NULL, 'U' },
		{ "cert", required_argument, NULL, 'c' },
		{ "decision", required_argument, NULL, 'D' },
		{ "event", required_argument, NULL, 'e' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct show s = { 0 };
	const char *dirarg = NULL;
	char *dir = NULL, *end;
	bool system = false, json = false;
	size_t n;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dirarg = optarg;
			break;
		case 'S':
			system = true;
			break;
		case 's':
		case 'u':
			if (audit_time_parse(optarg, c == 's' ? &s.since :
			    &s.until) != 0)
				return cmd_usage_error("audit show", SHOW_USAGE,
				    "bad time '%s' (YYYY-MM-DD[THH:MM[:SS]], UTC)",
				    optarg);
			if (c == 's')
				s.has_since = true;
			else
				s.has_until = true;
			break;
		case 'U':
			errno = 0;
			s.uid = strtoll(optarg, &end, 10);
			if (errno != 0 || *optarg == '\0' || *end != '\0' || s.uid < 0)
				return cmd_usage_error("audit show", SHOW_USAGE,
				    "bad uid '%s'", optarg);
			s.has_uid = true;
			break;
		case 'c':
			if (!hex_prefix(optarg))
				return cmd_usage_error("audit show", SHOW_USAGE,
				    "--cert takes the certificate's SHA-256 in hex "
				    "(or its start)");
			s.cert = optarg;
			break;
		case 'D':
			if (strcmp(optarg, "allow") != 0 && strcmp(optarg, "deny") != 0)
				return cmd_usage_error("audit show", SHOW_USAGE,
				    "--decision is allow or deny");
			s.decision = optarg;
			break;
		case 'e':
			s.event = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			printf("usage: %s\n", SHOW_USAGE);
			return SIGNET_EXIT_OK;
		default:
			return cmd_usage_error("audit show", SHOW_USAGE,
			    "bad option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc && (dirarg != NULL || system))
		return cmd_usage_error("audit show", SHOW_USAGE,
		    "give either --dir/--system or files");
	if (optind == argc && (dir = audit_dir_arg("audit show", dirarg,
	    system)) == NULL)
		return SIGNET_EXIT_USAGE;
	if ((s.t = audit_table_new(json)) == NULL) {
		free(dir);
		cmd_error("audit show", SIGNET_CLIENT_R_NOMEM, "out of memory");
		return SIGNET_EXIT_INTERNAL;
	}
	r = audit_each("audit show", dir, argv + optind, argc - optind,
	    show_one, &s);
	n = audit_table_print(s.t);
	if (r == 0 && n == 0 && !json)
		printf("no records\n");
	free(dir);
	return r;
}

/* ---- find ------------------------------------------------------------- */

struct doc_digest {
	char alg[32];
	char *hex;                  /* NULL: this algorithm is unknown here */
};

struct find {
	const char *doc;
	struct doc_digest d[FIND_MAX_ALGS];
	size_t nd;
	struct audit_table *t;
	int err;
};

/* FILE's digests with every algorithm in algs, in one read. */
static int
digest_file(struct find *f, const char *const *algs, size_t nalg)
{
	EVP_MD_CTX *ctx[FIND_MAX_ALGS] = { 0 };
	EVP_MD *md[FIND_MAX_ALGS] = { 0 };
	unsigned char *buf = NULL, out[EVP_MAX_MD_SIZE];
	unsigned olen;
	ssize_t n;
	size_t i, k;
	int fd = -1, r = -1;

	if ((fd = open(f->doc, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0 ||
	    (buf = malloc(FIND_READ_CHUNK)) == NULL)
		goto out;
	for (i = 0; i < nalg; i++) {
		/* Names as the records give them ("sha256"); an algorithm
		 * this OpenSSL lacks just matches nothing. */
		const EVP_MD *m = md[i] = EVP_MD_fetch(NULL, algs[i], NULL);

		if (m == NULL && (m = EVP_get_digestbyname(algs[i])) == NULL)
			continue; /* engines' digests (GOST) come this way */
		if ((ctx[i] = EVP_MD_CTX_new()) == NULL ||
		    EVP_DigestInit_ex(ctx[i], m, NULL) != 1)
			goto out;
	}
	while ((n = read(fd, buf, FIND_READ_CHUNK)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		for (i = 0; i < nalg; i++)
			if (ctx[i] != NULL &&
			    EVP_DigestUpdate(ctx[i], buf, (size_t)n) != 1)
				goto out;
	}
	for (i = 0; i < nalg && f->nd < FIND_MAX_ALGS; i++) {
		struct doc_digest *d = &f->d[f->nd++];

		snprintf(d->alg, sizeof(d->alg), "%s", algs[i]);
		if (ctx[i] == NULL)
			continue;
		if (EVP_DigestFinal_ex(ctx[i], out, &olen) != 1 ||
		    (d->hex = malloc(2 * olen + 1)) == NULL)
			goto out;
		for (k = 0; k < olen; k++)
			snprintf(d->hex + 2 * k, 3, "%02x", out[k]);
	}
	r = 0;
out:
	for (i = 0; i < nalg; i++) {
		EVP_MD_CTX_free(ctx[i]);
		EVP_MD_free(md[i]);
	}
	free(buf);
	if (fd >= 0)
		close(fd);
	return r;
}

/* First pass: which digest algorithms do the records use? */
static int
collect_algs(void *arg, const struct audit_rec *r, const char *line,
    size_t len)
{
	const char **algs = arg, *a;
	json_t *d;
	size_t i, k;

	(void)line;
	(void)len;
	json_array_foreach(json_object_get(r->obj, "documents"), i, d) {
		if ((a = json_string_value(json_object_get(d, "digest_alg"))) ==
		    NULL || strlen(a) >= 32)
			continue;
		for (k = 0; k < FIND_MAX_ALGS && algs[k] != NULL; k++)
			if (strcmp(algs[k], a) == 0)
				break;
		if (k < FIND_MAX_ALGS && algs[k] == NULL &&
		    (algs[k] = strdup(a)) == NULL)
			return SIGNET_EXIT_INTERNAL;
	}
	return 0;
}

static int
find_one(void *arg, const struct audit_rec *r, const char *line, size_t len)
{
	struct find *f = arg;
	const char *alg, *dg;
	json_t *d;
	size_t i, k;

	json_array_foreach(json_object_get(r->obj, "documents"), i, d) {
		alg = json_string_value(json_object_get(d, "digest_alg"));
		dg = json_string_value(json_object_get(d, "digest"));
		if (alg == NULL || dg == NULL)
			continue;
		for (k = 0; k < f->nd; k++)
			if (f->d[k].hex != NULL && strcmp(f->d[k].alg, alg) == 0 &&
			    strcasecmp(f->d[k].hex, dg) == 0) {
				if (audit_table_add(f->t, r, line, len) != 0) {
					cmd_error("audit find", SIGNET_CLIENT_R_NOMEM,
					    "out of memory");
					return SIGNET_EXIT_INTERNAL;
				}
				return 0;
			}
	}
	return 0;
}

int
audit_find_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "doc", required_argument, NULL, 'D' },
		{ "dir", required_argument, NULL, 'd' },
		{ "system", no_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct find f = { 0 };
	const char *dirarg = NULL, *algs[FIND_MAX_ALGS + 1] = { "sha256",
		"sha384", "sha512" };
	char *dir = NULL;
	bool system = false, json = false;
	size_t n, i;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'D':
			f.doc = optarg;
			break;
		case 'd':
			dirarg = optarg;
			break;
		case 'S':
			system = true;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			printf("usage: %s\n", FIND_USAGE);
			return SIGNET_EXIT_OK;
		default:
			return cmd_usage_error("audit find", FIND_USAGE,
			    "bad option '%s'", argv[optind - 1]);
		}
	}
	if (f.doc == NULL)
		return cmd_usage_error("audit find", FIND_USAGE, "--doc FILE is "
		    "required");
	if (optind < argc && (dirarg != NULL || system))
		return cmd_usage_error("audit find", FIND_USAGE,
		    "give either --dir/--system or log files");
	if (optind == argc && (dir = audit_dir_arg("audit find", dirarg,
	    system)) == NULL)
		return SIGNET_EXIT_USAGE;
	/* sha256/384/512 always; any other the records name, too. */
	for (i = 0; i < 3; i++)
		algs[i] = strdup(algs[i]);
	r = audit_each("audit find", dir, argv + optind, argc - optind,
	    collect_algs, algs);
	for (n = 0; n < FIND_MAX_ALGS && algs[n] != NULL; n++)
		;
	if (r == 0 && digest_file(&f, algs, n) != 0) {
		cmd_error("audit find", SIGNET_CLIENT_R_IO_ERROR, "%s: %s", f.doc,
		    strerror(errno));
		r = SIGNET_EXIT_INTERNAL;
	}
	if (r == 0 && (f.t = audit_table_new(json)) == NULL)
		r = SIGNET_EXIT_INTERNAL;
	if (r == 0)
		r = audit_each("audit find", dir, argv + optind, argc - optind,
		    find_one, &f);
	if (f.t != NULL) {
		n = audit_table_print(f.t);
		if (r == 0 && n == 0) {
			if (!json) {
				printf("no record mentions ");
				cmd_put_text(stdout, f.doc);
				putchar('\n');
			}
			r = 1; /* like grep: nothing found */
		}
	}
	for (i = 0; i < FIND_MAX_ALGS; i++)
		free((char *)algs[i]);
	for (i = 0; i < f.nd; i++)
		free(f.d[i].hex);
	free(dir);
	return r;
}
