/*
 * Audit records: format, hash chain, forward-secure MAC, and the text of
 * the state and key files (audit_chain.h, docs/audit.md). No I/O here:
 * audit_files.c reads and writes the files.
 */
#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

int
audit_hex_decode(const char *s, size_t slen, uint8_t *out, size_t n)
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
	    audit_hex_decode(tail + MAC_SUFFIX_LEN, 2 * AUDIT_HASH_LEN, r->mac,
	    AUDIT_HASH_LEN) != 0)
		return SIGNET_ERR_FORMAT;
	if ((o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL)) == NULL)
		return SIGNET_ERR_FORMAT;
	if (!json_is_object(o) ||
	    !json_is_integer(v = json_object_get(o, "seq")) ||
	    (seq = json_integer_value(v)) < 0 ||
	    !json_is_string(json_object_get(o, "time")) ||
	    !json_is_string(v = json_object_get(o, "prev")) ||
	    audit_hex_decode(json_string_value(v), json_string_length(v), r->prev,
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
	return audit_dec_u64(line + i, n, seq);
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

/* ---- the state and the key as text ----------------------------------- */

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

int
audit_dec_u64(const char *s, size_t n, uint64_t *out)
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
	if (audit_hex_decode(v[5], 64, want, AUDIT_HASH_LEN) != 0 ||
	    CRYPTO_memcmp(check, want, AUDIT_HASH_LEN) != 0 ||
	    audit_hex_decode(v[0], 32, s->id.logid, AUDIT_LOGID_LEN) != 0 ||
	    audit_dec_u64(v[1], 20, &s->id.start) != 0 ||
	    audit_dec_u64(v[2], 20, &s->next) != 0 ||
	    audit_hex_decode(v[3], 64, s->key, AUDIT_KEY_LEN) != 0 ||
	    audit_hex_decode(v[4], 64, s->prev, AUDIT_HASH_LEN) != 0 ||
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
