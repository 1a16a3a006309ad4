/*
 * Audit records: format, hash chain, forward-secure MAC (audit_chain.h,
 * docs/audit.md).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/audit_chain.h"

#define EVOLVE_LABEL  "signet-audit-evolve"
#define GENESIS_LABEL "signet-audit-genesis"
#define MAC_SUFFIX    ",\"mac\":\""
#define MAC_SUFFIX_LEN 8u
/* ,"mac":" + 64 hex + "} */
#define MAC_TAIL_LEN  (MAC_SUFFIX_LEN + 2u * AUDIT_HASH_LEN + 2u)
#define SMALL_FILE_MAX 4096u  /* key, log-id files */

/* ---- HMAC-SHA256 ------------------------------------------------------ */

static EVP_MAC *hmac_alg;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void
hmac_fetch(void)
{
	/* Fetched once: fetching per record costs more than the MAC. */
	hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

/* HMAC-SHA256(key, a || b). */
static int
hmac2(const uint8_t key[AUDIT_KEY_LEN], const void *a, size_t alen,
    const void *b, size_t blen, uint8_t out[AUDIT_HASH_LEN])
{
	OSSL_PARAM params[2];
	EVP_MAC_CTX *ctx = NULL;
	size_t outlen = 0;
	int err = SIGNET_ERR_CRYPTO;

	if (pthread_once(&hmac_once, hmac_fetch) != 0 || hmac_alg == NULL)
		return SIGNET_ERR_CRYPTO;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    (char *)"SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((ctx = EVP_MAC_CTX_new(hmac_alg)) == NULL ||
	    EVP_MAC_init(ctx, key, AUDIT_KEY_LEN, params) != 1 ||
	    EVP_MAC_update(ctx, a, alen) != 1 ||
	    (blen > 0 && EVP_MAC_update(ctx, b, blen) != 1) ||
	    EVP_MAC_final(ctx, out, &outlen, AUDIT_HASH_LEN) != 1 ||
	    outlen != AUDIT_HASH_LEN)
		goto out;
	err = 0;
out:
	EVP_MAC_CTX_free(ctx); /* wipes its copy of the key */
	return err;
}

int
audit_key_evolve(uint8_t key[AUDIT_KEY_LEN])
{
	uint8_t next[AUDIT_KEY_LEN];
	int err;

	err = hmac2(key, EVOLVE_LABEL, strlen(EVOLVE_LABEL), NULL, 0, next);
	if (err == 0)
		memcpy(key, next, AUDIT_KEY_LEN);
	explicit_bzero(next, sizeof(next));
	return err;
}

int
audit_key_at(const uint8_t k0[AUDIT_KEY_LEN], uint64_t n,
    uint8_t out[AUDIT_KEY_LEN])
{
	uint64_t i;
	int err;

	memcpy(out, k0, AUDIT_KEY_LEN);
	for (i = 0; i < n; i++) {
		if ((err = audit_key_evolve(out)) != 0) {
			explicit_bzero(out, AUDIT_KEY_LEN);
			return err;
		}
	}
	return 0;
}

/* ---- hashes, hex ------------------------------------------------------ */

static void
sha256_2(const void *a, size_t alen, const void *b, size_t blen,
    uint8_t out[AUDIT_HASH_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned n = 0;

	/* Only an allocation failure can stop SHA-256; a zero hash then
	 * breaks the chain visibly rather than silently. */
	memset(out, 0, AUDIT_HASH_LEN);
	if (ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, a, alen) == 1 &&
	    (blen == 0 || EVP_DigestUpdate(ctx, b, blen) == 1))
		(void)EVP_DigestFinal_ex(ctx, out, &n);
	EVP_MD_CTX_free(ctx);
}

void
audit_line_hash(const char *line, size_t len, uint8_t out[AUDIT_HASH_LEN])
{
	sha256_2(line, len, NULL, 0, out);
}

void
audit_genesis(const struct audit_id *id, uint8_t out[AUDIT_HASH_LEN])
{
	uint8_t m[sizeof(GENESIS_LABEL) - 1 + AUDIT_LOGID_LEN + 8];
	size_t o = sizeof(GENESIS_LABEL) - 1;
	int i;

	memcpy(m, GENESIS_LABEL, o);
	memcpy(m + o, id->logid, AUDIT_LOGID_LEN);
	o += AUDIT_LOGID_LEN;
	for (i = 7; i >= 0; i--)
		m[o++] = (uint8_t)(id->start >> (8 * i));
	sha256_2(m, sizeof(m), NULL, 0, out);
}

static void
hex_encode(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Exactly 2n lower-case hex digits. */
static int
hex_decode(const char *s, size_t slen, uint8_t *out, size_t n)
{
	size_t i;
	int hi, lo;

	if (slen != 2 * n)
		return SIGNET_ERR_FORMAT;
	for (i = 0; i < n; i++) {
		if ((hi = hexval((unsigned char)s[2 * i])) < 0 ||
		    (lo = hexval((unsigned char)s[2 * i + 1])) < 0)
			return SIGNET_ERR_FORMAT;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void
audit_logid_hex(const uint8_t logid[AUDIT_LOGID_LEN], char out[33])
{
	hex_encode(logid, AUDIT_LOGID_LEN, out);
}

static int dec_u64(const char *s, size_t n, uint64_t *out);

/* ---- event bodies ----------------------------------------------------- */

static const char *const event_order[] = {
	"event", "decision", "reason", "client", "token", "cert",
	"documents", "result", "signature_sha256", NULL
};

static bool
key_in(const char *key, const char *const *list)
{
	for (; *list != NULL; list++)
		if (strcmp(key, *list) == 0)
			return true;
	return false;
}

/* No "pin" or "data" key at any depth, and bounded depth. */
static int
event_check(json_t *v, unsigned depth)
{
	const char *key;
	json_t *m;
	size_t i;
	int err;

	if (depth > AUDIT_MAX_DEPTH)
		return SIGNET_ERR_FORMAT;
	if (json_is_object(v)) {
		json_object_foreach(v, key, m) {
			if (strcasecmp(key, "pin") == 0 ||
			    strcasecmp(key, "data") == 0)
				return SIGNET_ERR_FORMAT;
			if ((err = event_check(m, depth + 1)) != 0)
				return err;
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, m)
			if ((err = event_check(m, depth + 1)) != 0)
				return err;
	}
	return 0;
}

struct sbuf {
	char *p;
	size_t len, cap;
	bool failed;
	bool toolong;
};

static void
sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	char *np;
	size_t ncap;

	if (b->failed)
		return;
	if (n > AUDIT_MAX_BODY || b->len + n > AUDIT_MAX_BODY) {
		b->failed = b->toolong = true;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap ? b->cap : 256;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->failed = true;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* "key":value */
static int
body_member(struct sbuf *b, const char *key, json_t *v)
{
	json_t *k = json_string(key);
	char *ks = NULL, *vs = NULL;
	const size_t flags = JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY;
	int err = SIGNET_ERR_NOMEM;

	if (k == NULL || (ks = json_dumps(k, flags)) == NULL ||
	    (vs = json_dumps(v, flags)) == NULL)
		goto out;
	if (b->len > 0)
		sbuf_add(b, ",", 1);
	sbuf_add(b, ks, strlen(ks));
	sbuf_add(b, ":", 1);
	sbuf_add(b, vs, strlen(vs));
	err = 0;
out:
	json_decref(k);
	free(ks);
	free(vs);
	return err;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
audit_event_body(json_t *event, char **body, size_t *len)
{
	static const char *const reserved[] = { "seq", "time", "prev", "mac",
		NULL };
	struct sbuf b = { 0 };
	const char **rest = NULL, *key;
	json_t *v;
	size_t i, nrest = 0;
	int err;

	*body = NULL;
	*len = 0;
	if (!json_is_object(event) ||
	    !json_is_string(json_object_get(event, "event")))
		return SIGNET_ERR_FORMAT;
	if ((err = event_check(event, 0)) != 0)
		return err;
	json_object_foreach(event, key, v)
		if (key_in(key, reserved))
			return SIGNET_ERR_FORMAT;
	if ((rest = calloc(json_object_size(event) + 1, sizeof(*rest))) == NULL)
		return SIGNET_ERR_NOMEM;
	for (i = 0; event_order[i] != NULL; i++)
		if ((v = json_object_get(event, event_order[i])) != NULL &&
		    (err = body_member(&b, event_order[i], v)) != 0)
			goto out;
	json_object_foreach(event, key, v)
		if (!key_in(key, event_order))
			rest[nrest++] = key;
	qsort(rest, nrest, sizeof(*rest), cmp_str);
	for (i = 0; i < nrest; i++)
		if ((err = body_member(&b, rest[i],
		    json_object_get(event, rest[i]))) != 0)
			goto out;
	if (b.failed) {
		err = b.toolong ? SIGNET_ERR_LIMIT : SIGNET_ERR_NOMEM;
		goto out;
	}
	*body = b.p;
	*len = b.len;
	b.p = NULL;
	err = 0;
out:
	free(b.p);
	free(rest);
	return err;
}

/* ---- lines ------------------------------------------------------------ */

void
audit_time_format(const struct timespec *when, char out[28])
{
	struct tm tm;
	time_t t = when->tv_sec;
	char tmp[96];

	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 > 9999 ||
	    tm.tm_year + 1900 < 0)
		memset(&tm, 0, sizeof(tm));
	/* Wider than needed: the compiler cannot see the fields' ranges. */
	snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (long)(when->tv_nsec / 1000) % 1000000);
	memcpy(out, tmp, 27);
	out[27] = '\0';
}

int
audit_line_make(char *out, size_t cap, size_t *len, uint64_t seq,
    const struct timespec *when, const uint8_t prev[AUDIT_HASH_LEN],
    const char *body, size_t body_len, const uint8_t key[AUDIT_KEY_LEN])
{
	char t[28], ph[2 * AUDIT_HASH_LEN + 1];
	uint8_t mac[AUDIT_HASH_LEN];
	int n, err;
	size_t o;

	if (body_len > AUDIT_MAX_BODY)
		return SIGNET_ERR_LIMIT;
	audit_time_format(when, t);
	hex_encode(prev, AUDIT_HASH_LEN, ph);
	n = snprintf(out, cap, "{\"seq\":%" PRIu64 ",\"time\":\"%s\","
	    "\"prev\":\"%s\",", seq, t, ph);
	if (n < 0 || (size_t)n >= cap ||
	    cap - (size_t)n < body_len + MAC_TAIL_LEN + 2)
		return SIGNET_ERR_LIMIT;
	o = (size_t)n;
	memcpy(out + o, body, body_len);
	o += body_len;
	/* MAC over the line as it would read without its mac member. */
	if ((err = hmac2(key, out, o, "}", 1, mac)) != 0)
		return err;
	memcpy(out + o, MAC_SUFFIX, MAC_SUFFIX_LEN);
	o += MAC_SUFFIX_LEN;
	hex_encode(mac, AUDIT_HASH_LEN, out + o);
	o += 2 * AUDIT_HASH_LEN;
	memcpy(out + o, "\"}\n", 3);
	o += 3;
	*len = o;
	return 0;
}

int
audit_line_parse(const char *line, size_t len, struct audit_rec *r,
    bool keep_obj)
{
	static const char head[] = "{\"seq\":";
	const char *tail, *s;
	json_t *o, *v;
	json_int_t seq;
	int err = SIGNET_ERR_FORMAT;

	memset(r, 0, sizeof(*r));
	if (len < sizeof(head) - 1 + MAC_TAIL_LEN ||
	    memcmp(line, head, sizeof(head) - 1) != 0)
		return SIGNET_ERR_FORMAT;
	tail = line + len - MAC_TAIL_LEN;
	if (memcmp(tail, MAC_SUFFIX, MAC_SUFFIX_LEN) != 0 ||
	    memcmp(line + len - 2, "\"}", 2) != 0 ||
	    hex_decode(tail + MAC_SUFFIX_LEN, 2 * AUDIT_HASH_LEN, r->mac,
	    AUDIT_HASH_LEN) != 0)
		return SIGNET_ERR_FORMAT;
	if ((o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return SIGNET_ERR_FORMAT;
	if (!json_is_object(o) ||
	    !json_is_integer(v = json_object_get(o, "seq")) ||
	    (seq = json_integer_value(v)) < 0 ||
	    !json_is_string(json_object_get(o, "time")) ||
	    !json_is_string(v = json_object_get(o, "prev")) ||
	    hex_decode(json_string_value(v), json_string_length(v), r->prev,
	    AUDIT_HASH_LEN) != 0 ||
	    !json_is_string(v = json_object_get(o, "mac")) ||
	    (s = json_string_value(v)) == NULL ||
	    json_string_length(v) != 2 * AUDIT_HASH_LEN ||
	    memcmp(s, tail + MAC_SUFFIX_LEN, 2 * AUDIT_HASH_LEN) != 0)
		goto out;
	r->seq = (uint64_t)seq;
	if (keep_obj) {
		r->obj = o;
		o = NULL;
	}
	err = 0;
out:
	json_decref(o);
	return err;
}

int
audit_line_seq(const char *line, size_t len, uint64_t *seq)
{
	static const char head[] = "{\"seq\":";
	size_t i = sizeof(head) - 1, n = 0;

	if (len < i || memcmp(line, head, i) != 0)
		return SIGNET_ERR_FORMAT;
	while (i + n < len && n <= 20 && isdigit((unsigned char)line[i + n]))
		n++;
	if (i + n >= len || line[i + n] != ',' || (n > 1 && line[i] == '0'))
		return SIGNET_ERR_FORMAT;
	return dec_u64(line + i, n, seq);
}

bool
audit_line_mac_ok(const char *line, size_t len, const struct audit_rec *r,
    const uint8_t key[AUDIT_KEY_LEN])
{
	uint8_t mac[AUDIT_HASH_LEN];
	bool ok;

	if (len < MAC_TAIL_LEN ||
	    hmac2(key, line, len - MAC_TAIL_LEN, "}", 1, mac) != 0)
		return false;
	ok = CRYPTO_memcmp(mac, r->mac, AUDIT_HASH_LEN) == 0;
	explicit_bzero(mac, sizeof(mac));
	return ok;
}

/* ---- time ------------------------------------------------------------- */

/* n decimal digits at *p into *v; advances. */
static bool
digits(const char **p, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*p)[i]))
			return false;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return true;
}

int
audit_time_parse(const char *s, int64_t *usec)
{
	struct tm tm = { 0 };
	int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0, nfrac = 0, v;
	time_t t;

	if (!digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &mo) ||
	    *s++ != '-' || !digits(&s, 2, &d))
		return SIGNET_ERR_FORMAT;
	if (*s == 'T' || *s == ' ') {
		s++;
		if (!digits(&s, 2, &h) || *s++ != ':' || !digits(&s, 2, &mi))
			return SIGNET_ERR_FORMAT;
		if (*s == ':') {
			s++;
			if (!digits(&s, 2, &sec))
				return SIGNET_ERR_FORMAT;
			if (*s == '.') {
				s++;
				while (isdigit((unsigned char)*s)) {
					if (nfrac < 6) {
						frac = frac * 10 + (*s - '0');
						nfrac++;
					}
					s++;
				}
				if (nfrac == 0)
					return SIGNET_ERR_FORMAT;
				for (v = nfrac; v < 6; v++)
					frac *= 10;
			}
		}
	}
	if (*s == 'Z')
		s++;
	if (*s != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 60)
		return SIGNET_ERR_FORMAT;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	if ((t = timegm(&tm)) == (time_t)-1)
		return SIGNET_ERR_FORMAT;
	*usec = (int64_t)t * 1000000 + frac;
	return 0;
}

/* ---- state, key and log-id files -------------------------------------- */

void
audit_state_format(const struct audit_state *s, char out[AUDIT_STATE_SIZE])
{
	char id[33], key[65], prev[65];
	uint8_t check[AUDIT_HASH_LEN];
	int n;

	audit_logid_hex(s->id.logid, id);
	hex_encode(s->key, AUDIT_KEY_LEN, key);
	hex_encode(s->prev, AUDIT_HASH_LEN, prev);
	n = snprintf(out, AUDIT_STATE_SIZE, "signet-audit-state 1\n"
	    "log %s\nstart %020" PRIu64 "\nnext %020" PRIu64 "\n"
	    "key %s\nprev %s\ncheck ", id, s->id.start, s->next, key, prev);
	explicit_bzero(key, sizeof(key));
	sha256_2(out, (size_t)n, NULL, 0, check);
	hex_encode(check, AUDIT_HASH_LEN, out + n);
	out[AUDIT_STATE_SIZE - 1] = '\n';
}

/* "name value\n" at *p, value exactly vlen bytes; advances. */
static const char *
field(const char **p, const char *end, const char *name, size_t vlen)
{
	size_t n = strlen(name);
	const char *v;

	if ((size_t)(end - *p) < n + 1 + vlen + 1 ||
	    memcmp(*p, name, n) != 0 || (*p)[n] != ' ' ||
	    (*p)[n + 1 + vlen] != '\n')
		return NULL;
	v = *p + n + 1;
	*p = v + vlen + 1;
	return v;
}

static int
dec_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0)
		return SIGNET_ERR_FORMAT;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]) ||
		    v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return SIGNET_ERR_FORMAT;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

int
audit_state_parse(const char *buf, size_t len, struct audit_state *s)
{
	static const char head[] = "signet-audit-state 1\n";
	const char *p = buf, *end = buf + len, *v[6];
	uint8_t check[AUDIT_HASH_LEN], want[AUDIT_HASH_LEN];

	memset(s, 0, sizeof(*s));
	if (len != AUDIT_STATE_SIZE || memcmp(p, head, sizeof(head) - 1) != 0)
		return SIGNET_ERR_FORMAT;
	p += sizeof(head) - 1;
	if ((v[0] = field(&p, end, "log", 32)) == NULL ||
	    (v[1] = field(&p, end, "start", 20)) == NULL ||
	    (v[2] = field(&p, end, "next", 20)) == NULL ||
	    (v[3] = field(&p, end, "key", 64)) == NULL ||
	    (v[4] = field(&p, end, "prev", 64)) == NULL ||
	    (v[5] = field(&p, end, "check", 64)) == NULL || p != end)
		return SIGNET_ERR_FORMAT;
	sha256_2(buf, (size_t)(v[5] - buf), NULL, 0, check);
	if (hex_decode(v[5], 64, want, AUDIT_HASH_LEN) != 0 ||
	    CRYPTO_memcmp(check, want, AUDIT_HASH_LEN) != 0 ||
	    hex_decode(v[0], 32, s->id.logid, AUDIT_LOGID_LEN) != 0 ||
	    dec_u64(v[1], 20, &s->id.start) != 0 ||
	    dec_u64(v[2], 20, &s->next) != 0 ||
	    hex_decode(v[3], 64, s->key, AUDIT_KEY_LEN) != 0 ||
	    hex_decode(v[4], 64, s->prev, AUDIT_HASH_LEN) != 0 ||
	    s->next < s->id.start) {
		explicit_bzero(s, sizeof(*s));
		return SIGNET_ERR_FORMAT;
	}
	return 0;
}

int
audit_vkey_format(const struct audit_vkey *k, char **out, size_t *len)
{
	char id[33], key[65];
	int n;

	audit_logid_hex(k->id.logid, id);
	hex_encode(k->k0, AUDIT_KEY_LEN, key);
	n = asprintf(out, "signet-audit-key 1\n"
	    "# Verification key of Signet audit log %s (signet audit verify).\n"
	    "# Whoever holds it can forge that log: keep it off the machine.\n"
	    "log %s\nstart %" PRIu64 "\nkey %s\n", id, id, k->id.start, key);
	explicit_bzero(key, sizeof(key));
	if (n < 0) {
		*out = NULL;
		return SIGNET_ERR_NOMEM;
	}
	*len = (size_t)n;
	return 0;
}

/* A small text file, NUL-terminated; secret buffers are wiped by the
 * caller. */
static int
read_small(int dirfd, const char *path, char *buf, size_t cap, size_t *len)
{
	ssize_t n;
	size_t o = 0;
	int fd, e;

	if ((fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return errno == ENOENT ? SIGNET_ERR_NOTFOUND : SIGNET_ERR_IO;
	for (;;) {
		if (o == cap - 1) {
			close(fd);
			return SIGNET_ERR_LIMIT;
		}
		n = read(fd, buf + o, cap - 1 - o);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		o += (size_t)n;
	}
	e = errno;
	close(fd);
	if (n < 0) {
		errno = e;
		return SIGNET_ERR_IO;
	}
	buf[o] = '\0';
	*len = o;
	return 0;
}

/* The value of "name value" lines; comments (#) and blank lines skipped. */
static const char *
kv_find(const char *text, const char *name, size_t *vlen)
{
	const char *p = text, *eol;
	size_t n = strlen(name);

	while (*p != '\0') {
		eol = strchr(p, '\n');
		if (eol == NULL)
			eol = p + strlen(p);
		if ((size_t)(eol - p) > n && memcmp(p, name, n) == 0 &&
		    p[n] == ' ') {
			*vlen = (size_t)(eol - p) - n - 1;
			return p + n + 1;
		}
		p = *eol != '\0' ? eol + 1 : eol;
	}
	return NULL;
}

static int
id_from_text(const char *text, struct audit_id *id)
{
	const char *v;
	size_t n;

	if ((v = kv_find(text, "log", &n)) == NULL ||
	    hex_decode(v, n, id->logid, AUDIT_LOGID_LEN) != 0 ||
	    (v = kv_find(text, "start", &n)) == NULL ||
	    dec_u64(v, n, &id->start) != 0)
		return SIGNET_ERR_FORMAT;
	return 0;
}

int
audit_vkey_read(const char *path, struct audit_vkey *k)
{
	static const char head[] = "signet-audit-key 1\n";
	char buf[SMALL_FILE_MAX];
	const char *v;
	size_t len, n;
	int err;

	memset(k, 0, sizeof(*k));
	if ((err = read_small(AT_FDCWD, path, buf, sizeof(buf), &len)) != 0)
		return err;
	err = SIGNET_ERR_FORMAT;
	if (strncmp(buf, head, sizeof(head) - 1) != 0 ||
	    id_from_text(buf, &k->id) != 0 ||
	    (v = kv_find(buf, "key", &n)) == NULL ||
	    hex_decode(v, n, k->k0, AUDIT_KEY_LEN) != 0)
		goto out;
	err = 0;
out:
	explicit_bzero(buf, sizeof(buf));
	if (err != 0)
		explicit_bzero(k, sizeof(*k));
	return err;
}

int
audit_id_read(const char *dir, struct audit_id *id)
{
	static const char head[] = "signet-audit-log-id 1\n";
	char buf[SMALL_FILE_MAX], *path;
	size_t len;
	int err;

	if (asprintf(&path, "%s/%s", dir, AUDIT_ID_NAME) < 0)
		return SIGNET_ERR_NOMEM;
	err = read_small(AT_FDCWD, path, buf, sizeof(buf), &len);
	free(path);
	if (err != 0)
		return err;
	if (strncmp(buf, head, sizeof(head) - 1) != 0)
		return SIGNET_ERR_FORMAT;
	return id_from_text(buf, id);
}

/* ---- setting up a directory ------------------------------------------- */

/* mkdir -p; new directories 0700. */
static int
mkdir_p(const char *dir)
{
	char *p, *s, c;
	int err = 0;

	if ((p = strdup(dir)) == NULL)
		return SIGNET_ERR_NOMEM;
	for (s = p + 1; err == 0; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		c = *s;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			err = SIGNET_ERR_IO;
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return err;
}

static int
write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, c, n)) < 0) {
			if (errno == EINTR)
				continue;
			return SIGNET_ERR_IO;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Writes name through a temporary file: complete or absent. */
static int
write_new(int dirfd, const char *name, mode_t mode, const char *p, size_t n)
{
	char tmp[64];
	int fd, err;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	(void)unlinkat(dirfd, tmp, 0);
	if ((fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, mode)) < 0)
		return SIGNET_ERR_IO;
	err = fchmod(fd, mode) != 0 ? SIGNET_ERR_IO : write_all(fd, p, n);
	if (err == 0 && fsync(fd) != 0)
		err = SIGNET_ERR_IO;
	if (close(fd) != 0 && err == 0)
		err = SIGNET_ERR_IO;
	if (err == 0 && renameat(dirfd, tmp, dirfd, name) != 0)
		err = SIGNET_ERR_IO;
	if (err != 0)
		(void)unlinkat(dirfd, tmp, 0);
	return err;
}

int
audit_dir_init(const char *dir, uint64_t start, struct audit_vkey *vk)
{
	struct audit_state st = { 0 };
	char sbuf[AUDIT_STATE_SIZE], *idtext = NULL, idhex[33];
	int dirfd = -1, err;
	struct stat sb;

	memset(vk, 0, sizeof(*vk));
	if ((err = mkdir_p(dir)) != 0)
		return err;
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return SIGNET_ERR_IO;
	if (fstatat(dirfd, AUDIT_STATE_NAME, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
		err = SIGNET_ERR_AGAIN;
		goto out;
	}
	/* Others must not reach the state, whatever made the directory. */
	if (fchmod(dirfd, 0700) != 0) {
		err = SIGNET_ERR_IO;
		goto out;
	}
	if (getrandom(st.id.logid, AUDIT_LOGID_LEN, 0) != AUDIT_LOGID_LEN ||
	    getrandom(st.key, AUDIT_KEY_LEN, 0) != AUDIT_KEY_LEN) {
		err = SIGNET_ERR_IO;
		goto out;
	}
	st.id.start = start;
	st.next = start;
	audit_genesis(&st.id, st.prev);
	audit_state_format(&st, sbuf);
	audit_logid_hex(st.id.logid, idhex);
	if (asprintf(&idtext, "signet-audit-log-id 1\nlog %s\nstart %" PRIu64
	    "\n", idhex, start) < 0) {
		idtext = NULL;
		err = SIGNET_ERR_NOMEM;
		goto out;
	}
	if ((err = write_new(dirfd, AUDIT_ID_NAME, 0644, idtext,
	    strlen(idtext))) != 0 ||
	    (err = write_new(dirfd, AUDIT_STATE_NAME, 0600, sbuf,
	    AUDIT_STATE_SIZE)) != 0)
		goto out;
	if (fsync(dirfd) != 0) {
		err = SIGNET_ERR_IO;
		goto out;
	}
	vk->id = st.id;
	memcpy(vk->k0, st.key, AUDIT_KEY_LEN);
	err = 0;
out:
	explicit_bzero(&st, sizeof(st));
	explicit_bzero(sbuf, sizeof(sbuf));
	free(idtext);
	if (dirfd >= 0)
		close(dirfd);
	return err;
}

/* ---- listing and reading files ---------------------------------------- */

/* audit-<20 digits>.log */
static bool
file_seq(const char *name, uint64_t *seq)
{
	if (strlen(name) != AUDIT_FILE_NAME_LEN ||
	    strncmp(name, "audit-", 6) != 0 ||
	    strcmp(name + 26, ".log") != 0)
		return false;
	return dec_u64(name + 6, 20, seq) == 0;
}

struct file_ent {
	char *name;
	uint64_t first;
};

static int
cmp_ent(const void *a, const void *b)
{
	const struct file_ent *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

int
audit_files_list(int dirfd, struct audit_files *f)
{
	struct file_ent *ents = NULL, *ne;
	struct dirent *de;
	size_t n = 0, cap = 0, i;
	uint64_t seq;
	DIR *d;
	int fd, err = SIGNET_ERR_NOMEM;

	memset(f, 0, sizeof(*f));
	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return SIGNET_ERR_IO;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return SIGNET_ERR_IO;
	}
	while ((de = readdir(d)) != NULL) {
		if (!file_seq(de->d_name, &seq))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((ne = reallocarray(ents, cap, sizeof(*ents))) == NULL)
				goto out;
			ents = ne;
		}
		if ((ents[n].name = strdup(de->d_name)) == NULL)
			goto out;
		ents[n++].first = seq;
	}
	qsort(ents, n, sizeof(*ents), cmp_ent);
	if (n > 0 && ((f->names = calloc(n, sizeof(char *))) == NULL ||
	    (f->first = calloc(n, sizeof(uint64_t))) == NULL)) {
		free(f->names);
		f->names = NULL;
		goto out;
	}
	for (i = 0; i < n; i++) {
		f->names[i] = ents[i].name;
		f->first[i] = ents[i].first;
	}
	f->n = n;
	n = 0;
	err = 0;
out:
	for (i = 0; i < n; i++)
		free(ents[i].name);
	free(ents);
	closedir(d);
	return err;
}

void
audit_files_free(struct audit_files *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		free(f->names[i]);
	free(f->names);
	free(f->first);
	memset(f, 0, sizeof(*f));
}

int
audit_reader_open(struct audit_reader *r, int dirfd, const char *path)
{
	memset(r, 0, sizeof(*r));
	if ((r->buf = malloc(AUDIT_MAX_LINE + 1)) == NULL)
		return SIGNET_ERR_NOMEM;
	if ((r->fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) <
	    0) {
		free(r->buf);
		r->buf = NULL;
		return errno == ENOENT ? SIGNET_ERR_NOTFOUND : SIGNET_ERR_IO;
	}
	return 0;
}

/* Drops bytes up to and including the next newline. 1: found, 0: EOF. */
static int
reader_skip_line(struct audit_reader *r)
{
	char *nl;
	ssize_t n;

	for (;;) {
		if ((nl = memchr(r->buf + r->start, '\n', r->end - r->start)) !=
		    NULL) {
			r->start = (size_t)(nl - r->buf) + 1;
			return 1;
		}
		r->pos += r->end;
		r->start = r->end = 0;
		if (r->eof)
			return 0;
		n = read(r->fd, r->buf, AUDIT_MAX_LINE);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return SIGNET_ERR_IO;
		}
		if (n == 0)
			r->eof = true;
		r->end = (size_t)n;
	}
}

int
audit_reader_next(struct audit_reader *r, char **line, size_t *len,
    bool *complete, bool *oversize, uint64_t *offset)
{
	char *nl;
	ssize_t n;
	size_t have;

	*oversize = false;
	for (;;) {
		have = r->end - r->start;
		nl = memchr(r->buf + r->start, '\n', have);
		if (nl != NULL) {
			*line = r->buf + r->start;
			*len = (size_t)(nl - *line);
			*offset = r->pos + r->start;
			*nl = '\0';
			*complete = true;
			r->start += *len + 1;
			r->lineno++;
			return 1;
		}
		if (r->eof) {
			if (have == 0)
				return 0;
			*line = r->buf + r->start;
			*len = have;
			*offset = r->pos + r->start;
			(*line)[have] = '\0';
			*complete = false;
			r->start = r->end;
			r->lineno++;
			return 1;
		}
		if (have >= AUDIT_MAX_LINE) {
			/* Too long to be a record: reported empty, skipped. */
			*offset = r->pos + r->start;
			*complete = true;
			*oversize = true;
			r->lineno++;
			if ((n = reader_skip_line(r)) < 0)
				return (int)n;
			if (n == 0)
				*complete = false;
			r->empty[0] = '\0';
			*line = r->empty;
			*len = 0;
			return 1;
		}
		if (r->start > 0) {
			memmove(r->buf, r->buf + r->start, have);
			r->pos += r->start;
			r->start = 0;
			r->end = have;
		}
		n = read(r->fd, r->buf + r->end, AUDIT_MAX_LINE - r->end);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return SIGNET_ERR_IO;
		}
		if (n == 0)
			r->eof = true;
		r->end += (size_t)n;
	}
}

void
audit_reader_close(struct audit_reader *r)
{
	if (r->buf != NULL) {
		close(r->fd);
		free(r->buf);
	}
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

char *
audit_default_dir(bool system)
{
	const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	char *p;

	if (system)
		return strdup("/var/lib/signet/audit");
	if (x != NULL && x[0] == '/') {
		if (asprintf(&p, "%s/signet/audit", x) < 0)
			return NULL;
		return p;
	}
	if (home == NULL || home[0] != '/')
		return NULL;
	if (asprintf(&p, "%s/.local/state/signet/audit", home) < 0)
		return NULL;
	return p;
}
