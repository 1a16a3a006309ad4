/*
 * audit_gen: writes audit records through the agent's own writer
 * (agent/audit.c, on the agent's event loop) into an initialized log, for
 * the CLI tests (tests/audit/test_cli.py). Test tool only.
 *
 *   audit_gen DIR COUNT [--max-file BYTES] [--doc FILE] [--burst N]
 *
 * Record i (from 0 of this run): a login every 10th, a refused sign
 * (reason policy_denied) when i % 7 == 3, else an allowed sign; uid
 * 1000 + i % 3; certificate A (Cyrillic CN) for even i, B for odd. With
 * --doc, signs with i % 5 == 2 are about FILE (sha256, or sha512 when
 * i % 4 == 0 too), others about "doc<i>". --burst submits N records
 * before waiting (group commit); default 1.
 * Exit 0 when every record was written, 1 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "agent/audit.h"
#include "agent/log.h"
#include "agent/loop.h"

#define CERT_A "a1a1a1a1a1a1a1a1b2b2b2b2b2b2b2b2c3c3c3c3c3c3c3c3d4d4d4d4d4d4d4d4"
#define CERT_B "0f0f0f0f0f0f0f0f1e1e1e1e1e1e1e1e2d2d2d2d2d2d2d2d3c3c3c3c3c3c3c3c"

static struct loop *loop;
static unsigned pending, failed;

static void
done(void *arg, int status)
{
	(void)arg;
	if (status != 0) {
		fprintf(stderr, "audit_gen: record failed: %s\n",
		    signet_strerror(status));
		failed++;
	}
	if (--pending == 0)
		loop_stop(loop);
}

/* Digest of a file, or of a short string when path is NULL. */
static int
digest(const char *alg, const char *path, const char *text, uint8_t *out,
    unsigned *len, uint64_t *size)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t buf[65536];
	ssize_t n;
	int fd = -1, r = -1;

	*size = 0;
	if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_get_digestbyname(alg),
	    NULL) != 1)
		goto out;
	if (path == NULL) {
		*size = strlen(text);
		if (EVP_DigestUpdate(ctx, text, *size) != 1)
			goto out;
	} else {
		if ((fd = open(path, O_RDONLY)) < 0)
			goto out;
		while ((n = read(fd, buf, sizeof(buf))) > 0) {
			*size += (uint64_t)n;
			if (EVP_DigestUpdate(ctx, buf, (size_t)n) != 1)
				goto out;
		}
		if (n < 0)
			goto out;
	}
	r = EVP_DigestFinal_ex(ctx, out, len) == 1 ? 0 : -1;
out:
	if (fd >= 0)
		close(fd);
	EVP_MD_CTX_free(ctx);
	return r;
}

static json_t *
record(unsigned i, const char *doc)
{
	struct ucred peer = { .pid = 4000 + (pid_t)i, .uid = 1000 + i % 3,
		.gid = 100 };
	bool deny = i % 7 == 3;
	json_t *ev, *cert;
	uint8_t d[64];
	unsigned len;
	uint64_t size;
	char name[32];
	const char *alg = "sha256";
	int err = 0;

	if (i % 10 == 0) {
		ev = audit_event_new("login");
		err |= audit_event_client(ev, &peer, "/usr/bin/edms-client");
		err |= audit_event_str(ev, "decision", "allow");
		err |= audit_event_str(ev, "token", "0123456789abcdef");
		err |= audit_event_str(ev, "result", "ok");
		return err ? NULL : ev;
	}
	ev = audit_event_new("sign");
	err |= audit_event_client(ev, &peer, i % 2 ? "/opt/edms/bin/signer" :
	    "/usr/bin/edms-client");
	err |= audit_event_str(ev, "decision", deny ? "deny" : "allow");
	if (deny)
		err |= audit_event_str(ev, "reason", "policy_denied");
	err |= audit_event_str(ev, "token", "0123456789abcdef");
	cert = json_pack("{s:s, s:s, s:s}", "sha256", i % 2 ? CERT_B : CERT_A,
	    "subject", i % 2 ? "CN=Petrov Petr,O=Org" :
	    "CN=\xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd\xd0\xbe\xd0\xb2 "
	    "\xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd,O=Org", "serial", i % 2 ? "0b" : "0a");
	if (cert == NULL || json_object_set_new(ev, "cert", cert) != 0)
		err = 1;
	snprintf(name, sizeof(name), "doc%u", i);
	if (doc != NULL && i % 5 == 2 && i % 4 == 0)
		alg = "sha512";
	if (digest(alg, doc != NULL && i % 5 == 2 ? doc : NULL, name, d, &len,
	    &size) != 0) {
		fprintf(stderr, "audit_gen: cannot digest %s\n", doc);
		exit(2);
	}
	err |= audit_event_document(ev, alg, d, len, size);
	err |= audit_event_str(ev, "result", deny ? "refused" : "ok");
	if (!deny) {
		memset(d, (int)i, 32);
		err |= audit_event_signature(ev, d, 32);
	}
	if (err) {
		json_decref(ev);
		return NULL;
	}
	return ev;
}

int
main(int argc, char **argv)
{
	struct audit *a;
	const char *doc = NULL;
	unsigned long count, burst = 1, i, k;
	unsigned long long max = 0;
	int n, err;

	if (argc < 3) {
		fprintf(stderr, "usage: audit_gen DIR COUNT [--max-file BYTES] "
		    "[--doc FILE] [--burst N]\n");
		return 2;
	}
	count = strtoul(argv[2], NULL, 10);
	for (n = 3; n + 1 < argc; n += 2) {
		if (strcmp(argv[n], "--max-file") == 0)
			max = strtoull(argv[n + 1], NULL, 10);
		else if (strcmp(argv[n], "--doc") == 0)
			doc = argv[n + 1];
		else if (strcmp(argv[n], "--burst") == 0)
			burst = strtoul(argv[n + 1], NULL, 10);
		else {
			fprintf(stderr, "audit_gen: unknown option %s\n", argv[n]);
			return 2;
		}
	}
	if (burst == 0)
		burst = 1;
	log_init("audit_gen", false);
	if (loop_new(&loop) != 0)
		return 2;
	if ((err = audit_open(&a, loop, argv[1], max)) != 0) {
		fprintf(stderr, "audit_gen: cannot open %s: %s\n", argv[1],
		    signet_strerror(err));
		return 1;
	}
	if (audit_set_journal(a, NULL) != 0)
		return 2;
	for (i = 0; i < count; i += burst) {
		for (k = i; k < count && k < i + burst; k++) {
			json_t *ev = record((unsigned)k, doc);

			if (ev == NULL) {
				fprintf(stderr, "audit_gen: cannot build record\n");
				return 2;
			}
			pending++;
			audit_submit(a, ev, done, NULL);
		}
		if (loop_run(loop) != 0)
			return 2;
	}
	audit_close(a);
	loop_free(loop);
	return failed ? 1 : 0;
}
