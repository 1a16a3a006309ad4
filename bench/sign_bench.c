/*
 * sign_bench: signatures per second and latency through signetd, the
 * number to hold against p11_sign_loop on the same key.
 *
 * usage: sign_bench --socket PATH --cert SEL [--digest NAME] [--clients C]
 *                   [--seconds S] [--pipeline K] [--size BYTES | --fd FILE]
 *                   [--save-doc FILE] [--save-sig FILE]
 *
 * C threads each open their own connection and send `sign` requests
 * back to back for S seconds, keeping K requests outstanding (default 1:
 * the next request goes when the previous reply is in). The document is
 * BYTES of fixed text sent inline as base64 (default 1024), or FILE opened
 * afresh for every request and passed by descriptor (SCM_RIGHTS).
 * It speaks the protocol directly (one JSON line per request), so what it
 * measures is the agent, not libsignet. A reply is checked only for its id
 * (replies come in request order) and for "result" versus "error".
 *
 * Prints one line (latencies in microseconds, request sent to reply read):
 *   signs=N seconds=S rate=R/s mean=M p50=A p90=B p99=C max=D errors=E
 * and the first error reply on stderr. Exit status 1 if any request
 * failed, 2 on bad usage.
 *
 * A benchmark, not a test: it is built but never run by ctest.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"

#define MAX_CLIENTS    256
#define MAX_PIPELINE   64
#define MAX_SECONDS    3600
#define MAX_DOC        (8u * 1024 * 1024)   /* inline documents */
#define MAX_REPLY      (4u * 1024 * 1024)   /* one reply line */
#define MAX_SEL        512                  /* certificate selector */
#define READ_CHUNK     65536
#define ERRLINE_MAX    400                  /* kept of the first error */

struct opts {
	const char *socket;
	const char *cert;
	const char *digest;
	const char *fd_file;
	const char *save_doc;
	const char *save_sig;
	unsigned long clients, seconds, pipeline, size;
};

/* What every client shares: read-only once the clients start. */
struct bench {
	const struct opts *o;
	char *prefix;            /* request text after the id */
	size_t prefix_len;
	struct timespec deadline;
	pthread_barrier_t start;
	/* The first error reply, under lock. */
	pthread_mutex_t lock;
	char first_error[ERRLINE_MAX];
	bool have_error;
	bool sig_saved;          /* by client 0 only */
};

struct client {
	pthread_t thread;
	struct bench *b;
	unsigned idx;
	int fd;
	/* Results. */
	unsigned long signs, errors;
	uint32_t *lat;           /* microseconds, one per signature */
	size_t nlat, caplat;
	const char *failed;      /* a transport failure ended this client */
	/* Reply line assembly. */
	char *rbuf;
	size_t rlen, rcap;
};

static void __attribute__((format(printf, 1, 2), noreturn))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sign_bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: sign_bench --socket PATH --cert SEL [--digest NAME] "
	    "[--clients C]\n"
	    "                  [--seconds S] [--pipeline K] "
	    "[--size BYTES | --fd FILE]\n"
	    "                  [--save-doc FILE] [--save-sig FILE]\n");
	exit(2);
}

static uint64_t
now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static bool
past(const struct timespec *deadline)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec > deadline->tv_sec ||
	    (t.tv_sec == deadline->tv_sec && t.tv_nsec >= deadline->tv_nsec);
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

/* A selector or digest name goes into JSON unescaped: allow only what a
 * pkcs11: URI, a fingerprint or a digest name is made of. */
static bool
json_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x21 || *s > 0x7e || *s == '"' || *s == '\\')
			return false;
	return true;
}

static char *
b64_encode(const unsigned char *p, size_t n, size_t *outlen)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out, *q;
	size_t i;
	uint32_t v;

	if ((out = malloc((n + 2) / 3 * 4 + 1)) == NULL)
		return NULL;
	q = out;
	for (i = 0; i + 2 < n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*q++ = tab[v >> 18];
		*q++ = tab[(v >> 12) & 63];
		*q++ = tab[(v >> 6) & 63];
		*q++ = tab[v & 63];
	}
	if (i < n) {
		v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		*q++ = tab[v >> 18];
		*q++ = tab[(v >> 12) & 63];
		*q++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		*q++ = '=';
	}
	*q = '\0';
	*outlen = (size_t)(q - out);
	return out;
}

static unsigned char
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return (unsigned char)(c - 'A');
	if (c >= 'a' && c <= 'z')
		return (unsigned char)(c - 'a' + 26);
	if (c >= '0' && c <= '9')
		return (unsigned char)(c - '0' + 52);
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return 255;
}

/* Decodes padded base64 into out (room for n / 4 * 3 bytes). */
static MUST_CHECK int
b64_decode(const char *s, size_t n, unsigned char *out, size_t *outlen)
{
	unsigned char v[4];
	size_t i, j, o = 0;

	if (n % 4 != 0)
		return SIGNET_ERR_FORMAT;
	for (i = 0; i < n; i += 4) {
		for (j = 0; j < 4; j++) {
			if (s[i + j] == '=' && i + 4 == n && j >= 2)
				v[j] = 0;
			else if ((v[j] = b64_value(s[i + j])) == 255)
				return SIGNET_ERR_FORMAT;
		}
		out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		if (s[i + 2] != '=')
			out[o++] = (unsigned char)(v[1] << 4 | v[2] >> 2);
		if (s[i + 3] != '=')
			out[o++] = (unsigned char)(v[2] << 6 | v[3]);
	}
	*outlen = o;
	return 0;
}

static MUST_CHECK int
write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	int r = 0;

	if (f == NULL)
		return SIGNET_ERR_IO;
	if (fwrite(p, 1, n, f) != n)
		r = SIGNET_ERR_IO;
	if (fclose(f) != 0)
		r = SIGNET_ERR_IO;
	return r;
}

/* The inline document: readable text, the same in every run. */
static unsigned char *
make_doc(size_t size)
{
	static const char line[] =
	    "Signet benchmark document: a fixed text signed over and over.\n";
	unsigned char *d;
	size_t i;

	if ((d = malloc(size > 0 ? size : 1)) == NULL)
		return NULL;
	for (i = 0; i < size; i++)
		d[i] = (unsigned char)line[i % (sizeof(line) - 1)];
	return d;
}

/*
 * Every request is `{"jsonrpc":"2.0","id":N` followed by the same text;
 * only the id changes, so the text after it is built once.
 */
static MUST_CHECK int
build_prefix(struct bench *b)
{
	const struct opts *o = b->o;
	unsigned char *doc = NULL;
	char *b64 = NULL;
	size_t b64len = 0;
	int n, r = SIGNET_ERR_NOMEM;

	if (o->fd_file != NULL) {
		n = asprintf(&b->prefix, ",\"method\":\"sign\",\"params\":"
		    "{\"cert\":\"%s\",\"digest\":\"%s\",\"fd\":0}}\n",
		    o->cert, o->digest);
		if (n < 0) {
			b->prefix = NULL;
			goto out;
		}
		b->prefix_len = (size_t)n;
		r = 0;
		goto out;
	}
	if ((doc = make_doc(o->size)) == NULL ||
	    (b64 = b64_encode(doc, o->size, &b64len)) == NULL)
		goto out;
	if (o->save_doc != NULL && write_file(o->save_doc, doc, o->size) != 0) {
		r = SIGNET_ERR_IO;
		goto out;
	}
	n = asprintf(&b->prefix, ",\"method\":\"sign\",\"params\":"
	    "{\"cert\":\"%s\",\"digest\":\"%s\",\"data\":\"%s\"}}\n",
	    o->cert, o->digest, b64);
	if (n < 0) {
		b->prefix = NULL;
		goto out;
	}
	b->prefix_len = (size_t)n;
	r = 0;
 out:
	free(doc);
	free(b64);
	return r;
}

static MUST_CHECK int
connect_agent(const char *path, int *out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return SIGNET_ERR_LIMIT;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return SIGNET_ERR_IO;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return SIGNET_ERR_IO;
	}
	*out = fd;
	return 0;
}

/* Sends all of iov; the descriptor (if any) rides with the first byte. */
static MUST_CHECK int
send_all(int sock, struct iovec *iov, int iovcnt, int pass_fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr msg;
	struct cmsghdr *cm;
	ssize_t n;

	while (iovcnt > 0) {
		memset(&msg, 0, sizeof(msg));
		msg.msg_iov = iov;
		msg.msg_iovlen = (size_t)iovcnt;
		if (pass_fd >= 0) {
			memset(&ctl, 0, sizeof(ctl));
			msg.msg_control = ctl.buf;
			msg.msg_controllen = sizeof(ctl.buf);
			cm = CMSG_FIRSTHDR(&msg);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
		}
		n = sendmsg(sock, &msg, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return SIGNET_ERR_IO;
		}
		pass_fd = -1;
		while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

static MUST_CHECK int
send_request(struct client *c, unsigned long id)
{
	const struct bench *b = c->b;
	char head[64];
	struct iovec iov[2];
	int n, docfd = -1, r;

	n = snprintf(head, sizeof(head), "{\"jsonrpc\":\"2.0\",\"id\":%lu", id);
	if (n < 0 || (size_t)n >= sizeof(head))
		return SIGNET_ERR_LIMIT;
	iov[0].iov_base = head;
	iov[0].iov_len = (size_t)n;
	iov[1].iov_base = b->prefix;
	iov[1].iov_len = b->prefix_len;
	if (b->o->fd_file != NULL &&
	    (docfd = open(b->o->fd_file, O_RDONLY | O_CLOEXEC)) < 0)
		return SIGNET_ERR_NOTFOUND;
	r = send_all(c->fd, iov, 2, docfd);
	/* The agent holds its own reference now. */
	if (docfd >= 0)
		close(docfd);
	return r;
}

/*
 * Reads until one whole line is in rbuf; *len is its length without the
 * newline. The caller consumes it with consume_line().
 */
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
			ncap = c->rcap * 2 < c->rlen + READ_CHUNK ?
			    c->rlen + READ_CHUNK : c->rcap * 2;
			if (ncap > MAX_REPLY + READ_CHUNK)
				ncap = MAX_REPLY + READ_CHUNK;
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

/* Finds `"key":` in a reply line of len bytes (NUL-free JSON). */
static const char *
find_key(const char *line, size_t len, const char *key)
{
	return memmem(line, len, key, strlen(key));
}

static MUST_CHECK int
lat_push(struct client *c, uint64_t ns)
{
	uint32_t *p;
	size_t ncap;
	uint64_t us = ns / 1000;

	if (c->nlat == c->caplat) {
		ncap = c->caplat == 0 ? 4096 : c->caplat * 2;
		if ((p = realloc(c->lat, ncap * sizeof(*p))) == NULL)
			return SIGNET_ERR_NOMEM;
		c->lat = p;
		c->caplat = ncap;
	}
	c->lat[c->nlat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
	return 0;
}

/* Client 0's first signature goes to --save-sig, DER. */
static void
save_signature(struct client *c, const char *line, size_t len)
{
	struct bench *b = c->b;
	const char *key = "\"signature\":\"", *s, *e;
	unsigned char *der = NULL;
	size_t n, derlen;

	if ((s = find_key(line, len, key)) == NULL)
		goto fail;
	s += strlen(key);
	if ((e = memchr(s, '"', len - (size_t)(s - line))) == NULL)
		goto fail;
	n = (size_t)(e - s);
	if ((der = malloc(n / 4 * 3 + 1)) == NULL ||
	    b64_decode(s, n, der, &derlen) != 0 ||
	    write_file(b->o->save_sig, der, derlen) != 0)
		goto fail;
	free(der);
	b->sig_saved = true; /* read by main after the join */
	return;
 fail:
	free(der);
	fprintf(stderr, "sign_bench: could not save the signature to %s\n",
	    b->o->save_sig);
}

static void
note_error(struct client *c, const char *line, size_t len)
{
	struct bench *b = c->b;

	c->errors++;
	pthread_mutex_lock(&b->lock);
	if (!b->have_error) {
		b->have_error = true;
		snprintf(b->first_error, sizeof(b->first_error), "%.*s",
		    (int)(len < ERRLINE_MAX ? len : ERRLINE_MAX - 1), line);
	}
	pthread_mutex_unlock(&b->lock);
}

/*
 * Checks one reply against the oldest outstanding request. Returns 0 for
 * a reply that belongs (good or error), an error for a broken stream.
 */
static MUST_CHECK int
take_reply(struct client *c, unsigned long want_id, uint64_t sent_ns)
{
	const char *p, *line;
	char *end;
	unsigned long id;
	size_t len;
	uint64_t t;
	int r;

	if ((r = read_line(c, &len)) != 0)
		return r;
	t = now_ns();
	line = c->rbuf;
	if ((p = find_key(line, len, "\"id\":")) == NULL) {
		note_error(c, line, len);
		c->failed = "a reply without an id";
		return SIGNET_ERR_FORMAT;
	}
	errno = 0;
	id = strtoul(p + 5, &end, 10);
	if (errno != 0 || end == p + 5 || id != want_id) {
		note_error(c, line, len);
		c->failed = "a reply out of order";
		return SIGNET_ERR_FORMAT;
	}
	if (find_key(line, len, "\"result\":") != NULL &&
	    find_key(line, len, "\"error\":") == NULL) {
		c->signs++;
		if ((r = lat_push(c, t - sent_ns)) != 0)
			return r;
		if (c->b->o->save_sig != NULL && c->idx == 0 && c->signs == 1)
			save_signature(c, line, len);
	} else
		note_error(c, line, len);
	consume_line(c, len);
	return 0;
}

/*
 * One connection: keep `pipeline` requests in flight until the deadline,
 * then collect what is still outstanding.
 */
static void *
client_main(void *arg)
{
	struct client *c = arg;
	struct bench *b = c->b;
	unsigned long pipeline = b->o->pipeline;
	uint64_t sent[MAX_PIPELINE];
	unsigned long next_id = 1, oldest_id = 1;
	size_t head = 0, inflight = 0;
	int r;

	pthread_barrier_wait(&b->start);
	for (;;) {
		while (inflight < pipeline && !past(&b->deadline)) {
			sent[(head + inflight) % MAX_PIPELINE] = now_ns();
			if ((r = send_request(c, next_id)) != 0) {
				c->failed = r == SIGNET_ERR_NOTFOUND ?
				    "cannot open the --fd file" :
				    "sending a request failed";
				return NULL;
			}
			next_id++;
			inflight++;
		}
		if (inflight == 0)
			break;
		if ((r = take_reply(c, oldest_id, sent[head])) != 0) {
			if (c->failed == NULL)
				c->failed = r == SIGNET_ERR_CLOSED ?
				    "the agent closed the connection" :
				    "reading a reply failed";
			return NULL;
		}
		oldest_id++;
		head = (head + 1) % MAX_PIPELINE;
		inflight--;
	}
	return NULL;
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

static void
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "cert", required_argument, NULL, 'c' },
		{ "digest", required_argument, NULL, 'd' },
		{ "clients", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, 't' },
		{ "pipeline", required_argument, NULL, 'k' },
		{ "size", required_argument, NULL, 'z' },
		{ "fd", required_argument, NULL, 'f' },
		{ "save-doc", required_argument, NULL, 'D' },
		{ "save-sig", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->digest = "sha256";
	o->clients = 1;
	o->seconds = 5;
	o->pipeline = 1;
	o->size = 1024;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 's': o->socket = optarg; break;
		case 'c': o->cert = optarg; break;
		case 'd': o->digest = optarg; break;
		case 'f': o->fd_file = optarg; break;
		case 'D': o->save_doc = optarg; break;
		case 'S': o->save_sig = optarg; break;
		case 'n':
			if (parse_ulong(optarg, 1, MAX_CLIENTS, &o->clients) != 0)
				die("bad --clients '%s' (1..%d)", optarg,
				    MAX_CLIENTS);
			break;
		case 't':
			if (parse_ulong(optarg, 1, MAX_SECONDS, &o->seconds) != 0)
				die("bad --seconds '%s' (1..%d)", optarg,
				    MAX_SECONDS);
			break;
		case 'k':
			if (parse_ulong(optarg, 1, MAX_PIPELINE, &o->pipeline) != 0)
				die("bad --pipeline '%s' (1..%d)", optarg,
				    MAX_PIPELINE);
			break;
		case 'z':
			if (parse_ulong(optarg, 0, MAX_DOC, &o->size) != 0)
				die("bad --size '%s' (0..%u)", optarg, MAX_DOC);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || o->socket == NULL || o->cert == NULL)
		usage();
	if (strlen(o->cert) > MAX_SEL || !json_safe(o->cert))
		die("--cert must be a pkcs11: URI or a fingerprint");
	if (strlen(o->digest) > 16 || !json_safe(o->digest))
		die("bad --digest '%s'", o->digest);
	if (o->fd_file != NULL && o->save_doc != NULL)
		die("--save-doc is for the inline document; with --fd it is "
		    "FILE");
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct bench b;
	struct client *cl = NULL;
	uint32_t *all = NULL;
	unsigned long signs = 0, errors = 0, i, started = 0;
	size_t nall = 0, k;
	uint64_t t0, t1;
	double secs, sum = 0;
	int failed = 0;

	parse_opts(argc, argv, &o);
	memset(&b, 0, sizeof(b));
	b.o = &o;
	pthread_mutex_init(&b.lock, NULL);
	if (build_prefix(&b) != 0)
		die("cannot build the request (out of memory, or --save-doc "
		    "not writable)");
	if ((cl = calloc(o.clients, sizeof(*cl))) == NULL)
		die("out of memory");
	/* Every connection is up before the clock starts. */
	for (i = 0; i < o.clients; i++) {
		cl[i].b = &b;
		cl[i].idx = (unsigned)i;
		if (connect_agent(o.socket, &cl[i].fd) != 0)
			die("cannot connect to %s: %s", o.socket,
			    strerror(errno));
	}
	if (pthread_barrier_init(&b.start, NULL, (unsigned)o.clients + 1) != 0)
		die("pthread_barrier_init failed");
	for (i = 0; i < o.clients; i++) {
		if (pthread_create(&cl[i].thread, NULL, client_main,
		    &cl[i]) != 0)
			die("pthread_create failed");
		started++;
	}
	t0 = now_ns();
	clock_gettime(CLOCK_MONOTONIC, &b.deadline);
	b.deadline.tv_sec += (time_t)o.seconds;
	pthread_barrier_wait(&b.start);
	for (i = 0; i < started; i++)
		pthread_join(cl[i].thread, NULL);
	t1 = now_ns();
	secs = (double)(t1 - t0) / 1e9;

	for (i = 0; i < o.clients; i++) {
		signs += cl[i].signs;
		errors += cl[i].errors;
		nall += cl[i].nlat;
		if (cl[i].failed != NULL) {
			fprintf(stderr, "sign_bench: client %lu: %s\n", i,
			    cl[i].failed);
			failed = 1;
		}
	}
	if ((all = malloc((nall > 0 ? nall : 1) * sizeof(*all))) == NULL)
		die("out of memory");
	nall = 0;
	for (i = 0; i < o.clients; i++) {
		if (cl[i].nlat == 0)
			continue;
		memcpy(all + nall, cl[i].lat, cl[i].nlat * sizeof(*all));
		nall += cl[i].nlat;
	}
	qsort(all, nall, sizeof(*all), cmp_u32);
	for (k = 0; k < nall; k++)
		sum += all[k];
	printf("signs=%lu seconds=%.3f rate=%.1f/s mean=%.1f p50=%u p90=%u "
	    "p99=%u max=%u errors=%lu\n", signs, secs,
	    secs > 0 ? (double)signs / secs : 0.0,
	    nall > 0 ? sum / (double)nall : 0.0,
	    percentile(all, nall, 50), percentile(all, nall, 90),
	    percentile(all, nall, 99), nall > 0 ? all[nall - 1] : 0, errors);
	if (b.have_error) {
		fprintf(stderr, "sign_bench: first error: %s\n", b.first_error);
		failed = 1;
	}
	if (o.save_sig != NULL && !b.sig_saved) {
		fprintf(stderr, "sign_bench: no signature to save\n");
		failed = 1;
	}

	for (i = 0; i < o.clients; i++) {
		close(cl[i].fd);
		free(cl[i].lat);
		free(cl[i].rbuf);
	}
	free(cl);
	free(all);
	free(b.prefix);
	pthread_barrier_destroy(&b.start);
	pthread_mutex_destroy(&b.lock);
	return failed;
}
