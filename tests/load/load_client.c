/*
 * load_client: the load test's signing client (tests/load/test_load.py).
 *
 * usage: load_client --socket PATH --ca CA.pem --cert SHA256 [--cert ...]
 *                    [--clients C] [--total N] [--size BYTES]
 *                    [--timeout SECONDS] [--verify-threads T]
 *
 * C threads each open their own connection to signetd and, together,
 * make exactly N `sign` requests (a shared counter hands out sequence
 * numbers 0..N-1, so a fast client takes more). Request SEQ signs a
 * document of BYTES that is unique to SEQ (its first line names it),
 * inline as base64, with certificate number SEQ % (number of --cert)
 * (repeat a --cert to weight the mix), sha256, DER. Each --cert is the
 * certificate's SHA-256 fingerprint, which is also its selector.
 *
 * Every reply is checked as it comes: its id, a "result" (any error reply
 * counts as a failure), format, document_size and document_digest. After
 * the timed run EVERY signature is verified in-process with OpenSSL's
 * CMS_verify (detached content rebuilt from SEQ, CA from --ca, CMS_BINARY,
 * any purpose), and its signer certificate must be the one requested.
 * Verification is OpenSSL's code, not Signet's: an independent verifier.
 * It runs after the clock stops, so the rate measures the agent.
 *
 * Prints one summary line (latencies in microseconds, request written to
 * reply read):
 *   signs=N verified=V errors=E seconds=S rate=R/s p50=A p90=B p99=C max=D
 * (signs: signatures that came back; errors: failures of any kind, error
 * replies, wrong replies and signatures that do not verify alike), one
 * `cert=K ...` line with the same for each distinct --cert, and
 * `verify_seconds=X`. The first failures go to stderr. Exit status 0 only
 * when all N signatures came back and verified; 1 otherwise (including
 * the --timeout deadline, default 600 s, passing); 2 on bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "common/err.h"

#define MAX_CLIENTS     256
#define MAX_CERTS       16
#define MAX_TOTAL       1000000ul
#define MAX_SIZE        (1024ul * 1024)      /* one inline document */
#define MAX_TIMEOUT     3600ul
#define MAX_VTHREADS    64
#define MAX_REPLY       (4u * 1024 * 1024)   /* one reply line */
#define READ_CHUNK      65536
#define FPR_LEN         64                   /* SHA-256, hex */
#define MAX_REPORTED    5                    /* failures told on stderr */

struct opts {
	const char *socket;
	const char *ca;
	const char *certs[MAX_CERTS];
	size_t ncerts;
	unsigned long clients, total, size, timeout, vthreads;
};

/* One request's outcome, indexed by its sequence number. */
struct slot {
	unsigned char *der;      /* the signature; NULL until it came back */
	size_t derlen;
	uint32_t lat_us;
	bool verified;
};

struct run {
	const struct opts *o;
	struct slot *slots;
	atomic_ulong next;       /* the next sequence number to take */
	atomic_ulong nverify;    /* the next slot to verify */
	atomic_ulong failures;
	atomic_bool stop;        /* a transport failure or the deadline */
	uint64_t deadline_ns;
	pthread_barrier_t start;
	X509_STORE *store;
};

struct client {
	pthread_t thread;
	struct run *run;
	int fd;
	char *rbuf;
	size_t rlen, rcap;
	char *req;               /* the request being built */
	size_t reqcap;
};

static void __attribute__((format(printf, 1, 2), noreturn))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "load_client: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* Counts a failure; the first few are told, with what and which request. */
static void __attribute__((format(printf, 3, 4)))
fail(struct run *run, unsigned long seq, const char *fmt, ...)
{
	va_list ap;
	unsigned long n = atomic_fetch_add(&run->failures, 1);

	if (n >= MAX_REPORTED)
		return;
	fprintf(stderr, "load_client: request %lu: ", seq);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint64_t
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static MUST_CHECK int
parse_ulong(const char *s, unsigned long lo, unsigned long hi,
    unsigned long *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	if (*s < '0' || *s > '9')
		return SIGNET_ERR_FORMAT;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi)
		return SIGNET_ERR_FORMAT;
	*out = v;
	return 0;
}

static bool
is_fingerprint(const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == FPR_LEN;
}

static void
hex(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/*
 * Document SEQ: a line naming it, then fixed text, BYTES in all (a
 * document smaller than its first line is that line cut short). Unique
 * per request, so a signature returned for the wrong request fails.
 */
static void
make_doc(unsigned long seq, unsigned char *doc, size_t size)
{
	static const char fill[] =
	    "Signet load test: many clients, every signature verified.\n";
	char head[80];
	size_t i, n;

	n = (size_t)snprintf(head, sizeof(head),
	    "load test document %lu\n", seq);
	for (i = 0; i < size; i++)
		doc[i] = i < n ? (unsigned char)head[i] :
		    (unsigned char)fill[(i - n) % (sizeof(fill) - 1)];
}

static MUST_CHECK int
connect_agent(const char *path, unsigned long timeout_s, int *out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = (time_t)timeout_s };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return SIGNET_ERR_LIMIT;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return SIGNET_ERR_IO;
	/* A hung agent fails the run instead of hanging it. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return SIGNET_ERR_IO;
	}
	*out = fd;
	return 0;
}

static MUST_CHECK int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return SIGNET_ERR_IO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads until a whole line is buffered; *len is its length without '\n'. */
static MUST_CHECK int
read_line(struct client *c, size_t *len)
{
	char *nl, *p;
	size_t ncap;
	ssize_t n;

	for (;;) {
		if (c->rlen > 0 &&
		    (nl = memchr(c->rbuf, '\n', c->rlen)) != NULL) {
			*len = (size_t)(nl - c->rbuf);
			return 0;
		}
		if (c->rlen >= MAX_REPLY)
			return SIGNET_ERR_LIMIT;
		if (c->rcap - c->rlen < READ_CHUNK) {
			ncap = c->rlen + READ_CHUNK;
			if ((p = realloc(c->rbuf, ncap)) == NULL)
				return SIGNET_ERR_NOMEM;
			c->rbuf = p;
			c->rcap = ncap;
		}
		n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return SIGNET_ERR_IO;
		if (n == 0)
			return SIGNET_ERR_CLOSED;
		c->rlen += (size_t)n;
	}
}

static void
consume_line(struct client *c, size_t len)
{
	memmove(c->rbuf, c->rbuf + len + 1, c->rlen - len - 1);
	c->rlen -= len + 1;
}

static MUST_CHECK int
build_request(struct client *c, unsigned long seq, const unsigned char *doc)
{
	const struct opts *o = c->run->o;
	size_t b64len = 4 * ((o->size + 2) / 3), need;
	char *p;
	int n;

	need = b64len + FPR_LEN + 160;
	if (c->reqcap < need) {
		if ((p = realloc(c->req, need)) == NULL)
			return SIGNET_ERR_NOMEM;
		c->req = p;
		c->reqcap = need;
	}
	n = snprintf(c->req, c->reqcap, "{\"jsonrpc\":\"2.0\",\"id\":%lu,"
	    "\"method\":\"sign\",\"params\":{\"cert\":\"%s\","
	    "\"digest\":\"sha256\",\"format\":\"der\",\"data\":\"", seq,
	    o->certs[seq % o->ncerts]);
	if (n < 0 || (size_t)n + b64len + 4 > c->reqcap)
		return SIGNET_ERR_LIMIT;
	EVP_EncodeBlock((unsigned char *)c->req + n, doc, (int)o->size);
	memcpy(c->req + (size_t)n + b64len, "\"}}\n", 4);
	return (int)((size_t)n + b64len + 4);
}

/* Standard padded base64 to bytes; EVP_DecodeBlock counts the padding. */
static MUST_CHECK int
b64_decode(const char *s, size_t n, unsigned char **out, size_t *outlen)
{
	unsigned char *p;
	int k;
	size_t pad = 0;

	if (n == 0 || n % 4 != 0 || n > INT32_MAX)
		return SIGNET_ERR_FORMAT;
	if ((p = malloc(n / 4 * 3)) == NULL)
		return SIGNET_ERR_NOMEM;
	if ((k = EVP_DecodeBlock(p, (const unsigned char *)s, (int)n)) < 0) {
		free(p);
		return SIGNET_ERR_FORMAT;
	}
	pad = (s[n - 1] == '=') + (s[n - 2] == '=');
	*out = p;
	*outlen = (size_t)k - pad;
	return 0;
}

/*
 * Checks reply line (len bytes) against request seq over doc; stores the
 * signature. A reply that is an error or is wrong counts as a failure;
 * one not for this request also ends the connection (the stream is lost).
 */
static MUST_CHECK int
take_reply(struct client *c, unsigned long seq, const unsigned char *doc,
    const char *line, size_t len)
{
	struct run *run = c->run;
	struct slot *s = &run->slots[seq];
	unsigned char md[EVP_MAX_MD_SIZE];
	char mdhex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned int mdlen = 0;
	json_t *reply, *res, *id;
	json_error_t jerr;
	const char *sig, *fmt, *dd;
	json_int_t dsize;
	int r = 0;

	if ((reply = json_loadb(line, len, 0, &jerr)) == NULL) {
		fail(run, seq, "reply is not JSON: %s", jerr.text);
		return SIGNET_ERR_FORMAT;
	}
	id = json_object_get(reply, "id");
	if (!json_is_integer(id) || (unsigned long)json_integer_value(id) != seq) {
		fail(run, seq, "reply for another request: %.200s", line);
		r = SIGNET_ERR_FORMAT;
		goto out;
	}
	if ((res = json_object_get(reply, "result")) == NULL) {
		fail(run, seq, "error reply: %.300s", line);
		goto out;
	}
	sig = json_string_value(json_object_get(res, "signature"));
	fmt = json_string_value(json_object_get(res, "format"));
	dd = json_string_value(json_object_get(res, "document_digest"));
	dsize = json_integer_value(json_object_get(res, "document_size"));
	if (!EVP_Digest(doc, run->o->size, md, &mdlen, EVP_sha256(), NULL)) {
		fail(run, seq, "SHA-256 failed");
		goto out;
	}
	hex(md, mdlen, mdhex);
	if (sig == NULL || fmt == NULL || strcmp(fmt, "der") != 0 ||
	    dd == NULL || strcmp(dd, mdhex) != 0 ||
	    dsize != (json_int_t)run->o->size) {
		fail(run, seq, "result fields wrong: %.300s", line);
		goto out;
	}
	if (b64_decode(sig, strlen(sig), &s->der, &s->derlen) != 0) {
		s->der = NULL;
		fail(run, seq, "signature is not base64");
	}
 out:
	json_decref(reply);
	return r;
}

static void *
client_main(void *arg)
{
	struct client *c = arg;
	struct run *run = c->run;
	unsigned char *doc;
	unsigned long seq;
	uint64_t t0, t1;
	size_t len;
	int n, r;

	if ((doc = malloc(run->o->size > 0 ? run->o->size : 1)) == NULL) {
		fail(run, 0, "out of memory");
		atomic_store(&run->stop, true);
	}
	pthread_barrier_wait(&run->start);
	while (doc != NULL && !atomic_load(&run->stop)) {
		seq = atomic_fetch_add(&run->next, 1);
		if (seq >= run->o->total)
			break;
		if (now_ns() > run->deadline_ns) {
			fail(run, seq, "deadline (--timeout) passed");
			atomic_store(&run->stop, true);
			break;
		}
		make_doc(seq, doc, run->o->size);
		if ((n = build_request(c, seq, doc)) < 0) {
			fail(run, seq, "cannot build the request");
			atomic_store(&run->stop, true);
			break;
		}
		t0 = now_ns();
		if ((r = write_all(c->fd, c->req, (size_t)n)) != 0 ||
		    (r = read_line(c, &len)) != 0) {
			fail(run, seq, "connection failed: %s",
			    r == SIGNET_ERR_CLOSED ? "closed by the agent" :
			    strerror(errno));
			atomic_store(&run->stop, true);
			break;
		}
		t1 = now_ns();
		run->slots[seq].lat_us = (uint32_t)((t1 - t0) / 1000 > UINT32_MAX ?
		    UINT32_MAX : (t1 - t0) / 1000);
		r = take_reply(c, seq, doc, c->rbuf, len);
		consume_line(c, len);
		if (r != 0) {
			atomic_store(&run->stop, true);
			break;
		}
	}
	free(doc);
	return NULL;
}

static const char *
ossl_error(void)
{
	static _Thread_local char buf[256];
	unsigned long e = ERR_get_error();

	if (e == 0)
		return "no OpenSSL error queued";
	ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	return buf;
}

/* The signer CMS_verify accepted must be the certificate requested. */
static bool
signer_is(CMS_ContentInfo *cms, const char *fpr)
{
	STACK_OF(X509) *signers = CMS_get0_signers(cms);
	unsigned char md[EVP_MAX_MD_SIZE];
	char mdhex[2 * EVP_MAX_MD_SIZE + 1];
	unsigned int mdlen = 0;
	bool ok = false;

	if (signers != NULL && sk_X509_num(signers) == 1 &&
	    X509_digest(sk_X509_value(signers, 0), EVP_sha256(), md, &mdlen)) {
		hex(md, mdlen, mdhex);
		ok = strcmp(mdhex, fpr) == 0;
	}
	sk_X509_free(signers);
	return ok;
}

static void
verify_one(struct run *run, unsigned long seq, unsigned char *doc)
{
	struct slot *s = &run->slots[seq];
	const unsigned char *p = s->der;
	CMS_ContentInfo *cms = NULL;
	BIO *content = NULL;

	if (s->der == NULL)
		return; /* failed already, and counted */
	make_doc(seq, doc, run->o->size);
	if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)s->derlen)) == NULL ||
	    p != s->der + s->derlen) {
		fail(run, seq, "signature is not one DER CMS object: %s",
		    ossl_error());
		goto out;
	}
	if ((content = BIO_new_mem_buf(doc, (int)run->o->size)) == NULL) {
		fail(run, seq, "out of memory");
		goto out;
	}
	if (CMS_verify(cms, NULL, run->store, content, NULL, CMS_BINARY) != 1) {
		fail(run, seq, "CMS_verify refused the signature: %s",
		    ossl_error());
		goto out;
	}
	if (!signer_is(cms, run->o->certs[seq % run->o->ncerts])) {
		fail(run, seq, "signed by another certificate than requested");
		goto out;
	}
	s->verified = true;
 out:
	BIO_free(content);
	CMS_ContentInfo_free(cms);
}

static void *
verify_main(void *arg)
{
	struct run *run = arg;
	unsigned char *doc = malloc(run->o->size > 0 ? run->o->size : 1);
	unsigned long seq;

	if (doc == NULL) {
		fail(run, 0, "out of memory");
		return NULL;
	}
	while ((seq = atomic_fetch_add(&run->nverify, 1)) < run->o->total)
		verify_one(run, seq, doc);
	free(doc);
	return NULL;
}

static MUST_CHECK int
load_store(const char *ca, X509_STORE **out)
{
	X509_STORE *store = NULL;
	X509 *cert = NULL;
	FILE *f;
	int r = SIGNET_ERR_CRYPTO;

	if ((f = fopen(ca, "r")) == NULL)
		return SIGNET_ERR_NOTFOUND;
	if ((cert = PEM_read_X509(f, NULL, NULL, NULL)) == NULL ||
	    (store = X509_STORE_new()) == NULL ||
	    !X509_STORE_add_cert(store, cert) ||
	    /* The demo certificates are not S/MIME-specific; what is under
	     * test is the signature, not the purpose (as openssl_verify). */
	    !X509_STORE_set_purpose(store, X509_PURPOSE_ANY))
		goto out;
	*out = store;
	store = NULL;
	r = 0;
 out:
	fclose(f);
	X509_free(cert);
	X509_STORE_free(store);
	return r;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of a sorted array. */
static uint32_t
percentile(const uint32_t *v, size_t n, double p)
{
	size_t rank;

	if (n == 0)
		return 0;
	rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

/* Latencies of the answered requests whose cert is `which` (-1: all). */
static void
report(const struct run *run, long which, double secs, const char *label)
{
	uint32_t *lat;
	size_t n = 0, i, signs = 0, verified = 0;

	if ((lat = malloc((run->o->total + 1) * sizeof(*lat))) == NULL)
		die("out of memory");
	for (i = 0; i < run->o->total; i++) {
		if (which >= 0 && i % run->o->ncerts != (size_t)which &&
		    strcmp(run->o->certs[i % run->o->ncerts],
		    run->o->certs[which]) != 0)
			continue;
		if (run->slots[i].der == NULL)
			continue;
		signs++;
		verified += run->slots[i].verified;
		lat[n++] = run->slots[i].lat_us;
	}
	qsort(lat, n, sizeof(*lat), cmp_u32);
	printf("%ssigns=%zu verified=%zu", label, signs, verified);
	if (which < 0)
		printf(" errors=%lu seconds=%.3f rate=%.1f/s",
		    atomic_load(&run->failures), secs,
		    secs > 0 ? (double)signs / secs : 0.0);
	printf(" p50=%u p90=%u p99=%u max=%u\n", percentile(lat, n, 50),
	    percentile(lat, n, 90), percentile(lat, n, 99),
	    n > 0 ? lat[n - 1] : 0);
	free(lat);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: load_client --socket PATH --ca CA.pem --cert SHA256 "
	    "[--cert ...]\n"
	    "                   [--clients C] [--total N] [--size BYTES]\n"
	    "                   [--timeout SECONDS] [--verify-threads T]\n");
	exit(2);
}

static void
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "ca", required_argument, NULL, 'a' },
		{ "cert", required_argument, NULL, 'c' },
		{ "clients", required_argument, NULL, 'n' },
		{ "total", required_argument, NULL, 'N' },
		{ "size", required_argument, NULL, 'z' },
		{ "timeout", required_argument, NULL, 't' },
		{ "verify-threads", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	int ch;

	memset(o, 0, sizeof(*o));
	o->clients = 64;
	o->total = 10000;
	o->size = 1024;
	o->timeout = 600;
	o->vthreads = ncpu > 0 && ncpu <= MAX_VTHREADS ? (unsigned long)ncpu : 2;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': o->socket = optarg; break;
		case 'a': o->ca = optarg; break;
		case 'c':
			if (o->ncerts == MAX_CERTS)
				die("at most %d --cert", MAX_CERTS);
			if (!is_fingerprint(optarg))
				die("--cert takes a SHA-256 fingerprint "
				    "(64 lower-case hex digits)");
			o->certs[o->ncerts++] = optarg;
			break;
		case 'n':
			if (parse_ulong(optarg, 1, MAX_CLIENTS, &o->clients) != 0)
				die("bad --clients '%s' (1..%d)", optarg,
				    MAX_CLIENTS);
			break;
		case 'N':
			if (parse_ulong(optarg, 1, MAX_TOTAL, &o->total) != 0)
				die("bad --total '%s' (1..%lu)", optarg,
				    MAX_TOTAL);
			break;
		case 'z':
			if (parse_ulong(optarg, 0, MAX_SIZE, &o->size) != 0)
				die("bad --size '%s' (0..%lu)", optarg,
				    MAX_SIZE);
			break;
		case 't':
			if (parse_ulong(optarg, 1, MAX_TIMEOUT, &o->timeout) != 0)
				die("bad --timeout '%s' (1..%lu)", optarg,
				    MAX_TIMEOUT);
			break;
		case 'v':
			if (parse_ulong(optarg, 1, MAX_VTHREADS, &o->vthreads) != 0)
				die("bad --verify-threads '%s' (1..%d)", optarg,
				    MAX_VTHREADS);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || o->socket == NULL || o->ca == NULL ||
	    o->ncerts == 0)
		usage();
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct run run;
	struct client *cl;
	pthread_t vt[MAX_VTHREADS];
	unsigned long i, verified = 0, answered = 0;
	uint64_t t0, t1, v0, v1;
	size_t k;
	int status = 0;

	parse_opts(argc, argv, &o);
	memset(&run, 0, sizeof(run));
	run.o = &o;
	atomic_init(&run.next, 0);
	atomic_init(&run.nverify, 0);
	atomic_init(&run.failures, 0);
	atomic_init(&run.stop, false);
	if (load_store(o.ca, &run.store) != 0)
		die("cannot load the CA certificate %s", o.ca);
	if ((run.slots = calloc(o.total, sizeof(*run.slots))) == NULL ||
	    (cl = calloc(o.clients, sizeof(*cl))) == NULL)
		die("out of memory");
	/* Every connection is up before the clock starts. */
	for (i = 0; i < o.clients; i++) {
		cl[i].run = &run;
		if (connect_agent(o.socket, o.timeout, &cl[i].fd) != 0)
			die("cannot connect to %s: %s", o.socket,
			    strerror(errno));
	}
	if (pthread_barrier_init(&run.start, NULL, (unsigned)o.clients + 1) != 0)
		die("pthread_barrier_init failed");
	run.deadline_ns = now_ns() + (uint64_t)o.timeout * 1000000000u;
	for (i = 0; i < o.clients; i++)
		if (pthread_create(&cl[i].thread, NULL, client_main, &cl[i]) != 0)
			die("pthread_create failed");
	t0 = now_ns();
	pthread_barrier_wait(&run.start);
	for (i = 0; i < o.clients; i++)
		pthread_join(cl[i].thread, NULL);
	t1 = now_ns();

	v0 = now_ns();
	for (k = 0; k < o.vthreads; k++)
		if (pthread_create(&vt[k], NULL, verify_main, &run) != 0)
			die("pthread_create failed");
	for (k = 0; k < o.vthreads; k++)
		pthread_join(vt[k], NULL);
	v1 = now_ns();

	for (i = 0; i < o.total; i++) {
		answered += run.slots[i].der != NULL;
		verified += run.slots[i].verified;
	}
	report(&run, -1, (double)(t1 - t0) / 1e9, "");
	for (k = 0; k < o.ncerts; k++) {
		char label[FPR_LEN + 16];
		size_t j;

		for (j = 0; j < k && strcmp(o.certs[j], o.certs[k]) != 0; j++)
			;
		if (j < k)
			continue; /* a repeated --cert: reported once */
		snprintf(label, sizeof(label), "cert=%.16s ", o.certs[k]);
		report(&run, (long)k, (double)(t1 - t0) / 1e9, label);
	}
	printf("verify_seconds=%.3f verify_threads=%lu\n",
	    (double)(v1 - v0) / 1e9, o.vthreads);
	if (answered != o.total || verified != o.total ||
	    atomic_load(&run.failures) != 0) {
		fprintf(stderr, "load_client: FAILED: %lu of %lu requests "
		    "answered with a signature, %lu verified, %lu failures\n",
		    answered, o.total, verified, atomic_load(&run.failures));
		status = 1;
	}

	for (i = 0; i < o.clients; i++) {
		close(cl[i].fd);
		free(cl[i].rbuf);
		free(cl[i].req);
	}
	for (i = 0; i < o.total; i++)
		free(run.slots[i].der);
	free(cl);
	free(run.slots);
	X509_STORE_free(run.store);
	pthread_barrier_destroy(&run.start);
	return status;
}
