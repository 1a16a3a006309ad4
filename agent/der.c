/*
 * A minimal DER writer and TLV reader; see der.h for why it exists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/der.h"

#define DER_MIN_ALLOC 256

void
der_init(struct der *d, size_t max)
{
	memset(d, 0, sizeof(*d));
	d->max = max > DER_MAX_OUT ? DER_MAX_OUT : max;
}

void
der_free(struct der *d)
{
	if (d->data != NULL) {
		explicit_bzero(d->data, d->cap);
		free(d->data);
	}
	memset(d, 0, sizeof(*d));
}

int
der_error(const struct der *d)
{
	return d->err;
}

static void
der_fail(struct der *d, int err)
{
	if (d->err == 0)
		d->err = err;
}

/* Room for n more bytes, or the sticky error. */
static bool
der_grow(struct der *d, size_t n)
{
	size_t want, ncap;
	uint8_t *p;

	if (d->err != 0)
		return false;
	if (n > d->max || d->len > d->max - n) {
		der_fail(d, SIGNET_ERR_LIMIT);
		return false;
	}
	want = d->len + n;
	if (want <= d->cap)
		return true;
	ncap = d->cap < DER_MIN_ALLOC ? DER_MIN_ALLOC : d->cap;
	while (ncap < want)
		ncap = ncap > d->max / 2 ? d->max : ncap * 2;
	if (ncap > d->max)
		ncap = d->max;
	if ((p = realloc(d->data, ncap)) == NULL) {
		der_fail(d, SIGNET_ERR_NOMEM);
		return false;
	}
	d->data = p;
	d->cap = ncap;
	return true;
}

static void
der_put(struct der *d, const void *p, size_t n)
{
	if (n == 0 || !der_grow(d, n))
		return;
	memcpy(d->data + d->len, p, n);
	d->len += n;
}

/* Length octets for n; returns how many (at most 1 + sizeof(size_t)). */
static size_t
der_len_octets(size_t n, uint8_t out[1 + sizeof(size_t)])
{
	size_t k = 0, i, v;

	if (n < 0x80) {
		out[0] = (uint8_t)n;
		return 1;
	}
	for (v = n; v != 0; v >>= 8)
		k++;
	out[0] = (uint8_t)(0x80 | k);
	for (i = 0; i < k; i++)
		out[k - i] = (uint8_t)(n >> (8 * i));
	return 1 + k;
}

static bool
der_tag_ok(struct der *d, uint8_t tag)
{
	/* 0x1f in the low bits announces a multi-octet tag number */
	if ((tag & 0x1f) == 0x1f) {
		der_fail(d, SIGNET_ERR_FORMAT);
		return false;
	}
	return true;
}

void
der_tlv(struct der *d, uint8_t tag, const uint8_t *p, size_t n)
{
	uint8_t hdr[2 + sizeof(size_t)];
	size_t hl;

	if (d->err != 0 || !der_tag_ok(d, tag))
		return;
	if (p == NULL && n != 0) {
		der_fail(d, SIGNET_ERR_FORMAT);
		return;
	}
	if (n > d->max) { /* also keeps hl + n below from wrapping */
		der_fail(d, SIGNET_ERR_LIMIT);
		return;
	}
	hdr[0] = tag;
	hl = 1 + der_len_octets(n, hdr + 1);
	/* reserve the whole TLV at once so a cap failure writes nothing */
	if (!der_grow(d, hl) || (n > 0 && !der_grow(d, hl + n)))
		return;
	der_put(d, hdr, hl);
	der_put(d, p, n);
}

static void
der_open(struct der *d, uint8_t tag, bool set_of)
{
	uint8_t hdr[2] = { tag, 0 };

	if (d->err != 0 || !der_tag_ok(d, tag))
		return;
	if ((tag & 0x20) == 0) { /* must be constructed */
		der_fail(d, SIGNET_ERR_FORMAT);
		return;
	}
	if (d->depth >= DER_MAX_DEPTH) {
		der_fail(d, SIGNET_ERR_LIMIT);
		return;
	}
	d->open[d->depth] = d->len;
	d->set_of[d->depth] = set_of;
	/* one length octet for now; der_end makes room when it needs more */
	der_put(d, hdr, sizeof(hdr));
	if (d->err == 0)
		d->depth++;
}

void
der_begin(struct der *d, uint8_t tag)
{
	der_open(d, tag, false);
}

void
der_begin_set_of(struct der *d, uint8_t tag)
{
	der_open(d, tag, true);
}

struct der_elem {
	const uint8_t *p;
	size_t n;
};

/*
 * X.690 11.6: encodings compared as octet strings, the shorter padded at
 * its end with zero octets.
 */
static int
der_elem_cmp(const void *a, const void *b)
{
	const struct der_elem *x = a, *y = b;
	size_t m = x->n < y->n ? x->n : y->n, i;
	int c;

	if ((c = memcmp(x->p, y->p, m)) != 0)
		return c;
	for (i = m; i < x->n; i++)
		if (x->p[i] != 0)
			return 1;
	for (i = m; i < y->n; i++)
		if (y->p[i] != 0)
			return -1;
	return 0;
}

/* Sorts the elements held in data[start, len). */
static void
der_sort_elems(struct der *d, size_t start)
{
	struct der_elem *el = NULL;
	uint8_t *tmp = NULL;
	const uint8_t *p = d->data + start, *c, *prev;
	size_t n = d->len - start, cl, count = 0, i, off;
	uint8_t tag;
	int r;

	if (n == 0)
		return;
	if ((el = calloc(DER_MAX_SET_ELEMS, sizeof(*el))) == NULL) {
		der_fail(d, SIGNET_ERR_NOMEM);
		goto out;
	}
	while (n > 0) {
		if (count >= DER_MAX_SET_ELEMS) {
			der_fail(d, SIGNET_ERR_LIMIT);
			goto out;
		}
		prev = p;
		if ((r = der_next(&p, &n, &tag, &c, &cl)) != 0) {
			der_fail(d, r);
			goto out;
		}
		el[count].p = prev;
		el[count].n = (size_t)(p - prev);
		count++;
	}
	if (count < 2)
		goto out;
	qsort(el, count, sizeof(*el), der_elem_cmp);
	if ((tmp = malloc(d->len - start)) == NULL) {
		der_fail(d, SIGNET_ERR_NOMEM);
		goto out;
	}
	for (i = 0, off = 0; i < count; i++) {
		memcpy(tmp + off, el[i].p, el[i].n);
		off += el[i].n;
	}
	memcpy(d->data + start, tmp, off);
out:
	free(tmp);
	free(el);
}

void
der_end(struct der *d)
{
	uint8_t lo[1 + sizeof(size_t)];
	size_t tagoff, start, clen, ll;

	if (d->err != 0)
		return;
	if (d->depth == 0) {
		der_fail(d, SIGNET_ERR_FORMAT);
		return;
	}
	tagoff = d->open[d->depth - 1];
	start = tagoff + 2;
	if (d->set_of[d->depth - 1]) {
		der_sort_elems(d, start);
		if (d->err != 0)
			return;
	}
	clen = d->len - start;
	ll = der_len_octets(clen, lo);
	if (ll > 1) {
		if (!der_grow(d, ll - 1))
			return;
		memmove(d->data + start + ll - 1, d->data + start, clen);
		d->len += ll - 1;
	}
	memcpy(d->data + tagoff + 1, lo, ll);
	d->depth--;
}

/* Appends one base-128 subidentifier. */
static void
der_put_arc(uint8_t *out, size_t *n, uint64_t v)
{
	uint8_t tmp[10];
	size_t k = 0;

	do {
		tmp[k++] = (uint8_t)(v & 0x7f);
		v >>= 7;
	} while (v != 0);
	while (k > 0) {
		k--;
		out[(*n)++] = tmp[k] | (k > 0 ? 0x80 : 0);
	}
}

void
der_oid(struct der *d, const char *dotted)
{
	/* each arc takes at most 10 octets */
	uint8_t enc[DER_MAX_OID_ARCS * 10];
	uint64_t arcs[DER_MAX_OID_ARCS], v;
	size_t narcs = 0, n = 0, tl, i;
	const char *s;

	if (d->err != 0)
		return;
	if (dotted == NULL || (tl = strnlen(dotted, DER_MAX_OID_TEXT + 1)) == 0) {
		der_fail(d, SIGNET_ERR_FORMAT);
		return;
	}
	if (tl > DER_MAX_OID_TEXT) {
		der_fail(d, SIGNET_ERR_LIMIT);
		return;
	}
	for (s = dotted;;) {
		if (*s < '0' || *s > '9' || (s[0] == '0' && s[1] >= '0' &&
		    s[1] <= '9'))
			goto bad; /* empty arc or leading zero */
		for (v = 0; *s >= '0' && *s <= '9'; s++) {
			if (v > (UINT64_MAX - 9) / 10)
				goto bad;
			v = v * 10 + (uint64_t)(*s - '0');
		}
		if (narcs >= DER_MAX_OID_ARCS) {
			der_fail(d, SIGNET_ERR_LIMIT);
			return;
		}
		arcs[narcs++] = v;
		if (*s == '\0')
			break;
		if (*s++ != '.')
			goto bad;
	}
	if (narcs < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] > 39) ||
	    arcs[1] > UINT64_MAX - 80)
		goto bad;
	der_put_arc(enc, &n, arcs[0] * 40 + arcs[1]);
	for (i = 2; i < narcs; i++)
		der_put_arc(enc, &n, arcs[i]);
	der_tlv(d, DER_OID, enc, n);
	return;
bad:
	der_fail(d, SIGNET_ERR_FORMAT);
}

void
der_oid_bytes(struct der *d, const uint8_t *p, size_t n)
{
	size_t i;

	if (d->err != 0)
		return;
	if (p == NULL || n == 0 || (p[n - 1] & 0x80) != 0) {
		der_fail(d, SIGNET_ERR_FORMAT);
		return;
	}
	if (n > DER_MAX_OID_TEXT) {
		der_fail(d, SIGNET_ERR_LIMIT);
		return;
	}
	/* a subidentifier may not start with 0x80 (non-minimal) */
	for (i = 0; i < n; i++) {
		if (p[i] == 0x80 && (i == 0 || (p[i - 1] & 0x80) == 0)) {
			der_fail(d, SIGNET_ERR_FORMAT);
			return;
		}
	}
	der_tlv(d, DER_OID, p, n);
}

void
der_uint_bytes(struct der *d, const uint8_t *be, size_t n)
{
	static const uint8_t zero = 0;
	uint8_t hdr[2 + sizeof(size_t)];
	size_t hl;
	bool pad;

	if (d->err != 0)
		return;
	if (be == NULL && n != 0) {
		der_fail(d, SIGNET_ERR_FORMAT);
		return;
	}
	while (n > 0 && be[0] == 0) {
		be++;
		n--;
	}
	if (n == 0) {
		der_tlv(d, DER_INTEGER, &zero, 1);
		return;
	}
	pad = (be[0] & 0x80) != 0;
	if (n > d->max) { /* also keeps hl + pad + n below from wrapping */
		der_fail(d, SIGNET_ERR_LIMIT);
		return;
	}
	hdr[0] = DER_INTEGER;
	hl = 1 + der_len_octets(n + pad, hdr + 1);
	if (!der_grow(d, hl) || !der_grow(d, hl + pad + n))
		return;
	der_put(d, hdr, hl);
	if (pad)
		der_put(d, &zero, 1);
	der_put(d, be, n);
}

void
der_uint(struct der *d, uint64_t v)
{
	uint8_t be[8];
	int i;

	for (i = 0; i < 8; i++)
		be[i] = (uint8_t)(v >> (56 - 8 * i));
	der_uint_bytes(d, be, sizeof(be));
}

void
der_octet_string(struct der *d, const uint8_t *p, size_t n)
{
	der_tlv(d, DER_OCTET_STRING, p, n);
}

void
der_null(struct der *d)
{
	der_tlv(d, DER_NULL, NULL, 0);
}

void
der_time(struct der *d, time_t t)
{
	char s[32];
	struct tm tm;
	long year;
	int n;

	if (d->err != 0)
		return;
	if (gmtime_r(&t, &tm) == NULL) {
		der_fail(d, SIGNET_ERR_FORMAT);
		return;
	}
	year = (long)tm.tm_year + 1900;
	if (year >= 1950 && year < 2050) {
		/* RFC 5280 4.1.2.5 / RFC 5652 11.3: UTCTime up to 2049 */
		n = snprintf(s, sizeof(s), "%02ld%02d%02d%02d%02d%02dZ",
		    year % 100, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec);
		if (n != 13)
			goto bad;
		der_tlv(d, DER_UTCTIME, (const uint8_t *)s, 13);
		return;
	}
	if (year < 0 || year > 9999)
		goto bad;
	n = snprintf(s, sizeof(s), "%04ld%02d%02d%02d%02d%02dZ", year,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (n != 15)
		goto bad;
	der_tlv(d, DER_GENTIME, (const uint8_t *)s, 15);
	return;
bad:
	der_fail(d, SIGNET_ERR_FORMAT);
}

void
der_raw(struct der *d, const uint8_t *p, size_t n)
{
	const uint8_t *q = p, *c;
	size_t left = n, cl;
	uint8_t tag;
	int r;

	if (d->err != 0)
		return;
	if (p == NULL || n == 0) {
		der_fail(d, SIGNET_ERR_FORMAT);
		return;
	}
	if ((r = der_next(&q, &left, &tag, &c, &cl)) != 0) {
		der_fail(d, r);
		return;
	}
	if (left != 0) {
		der_fail(d, SIGNET_ERR_FORMAT);
		return;
	}
	der_put(d, p, n);
}

int
der_finish(struct der *d, uint8_t **out, size_t *out_len)
{
	*out = NULL;
	*out_len = 0;
	if (d->err != 0)
		return d->err;
	if (d->depth != 0 || d->len == 0)
		return SIGNET_ERR_FORMAT;
	*out = d->data;
	*out_len = d->len;
	d->data = NULL;
	d->len = d->cap = 0;
	return 0;
}

int
der_next(const uint8_t **p, size_t *n, uint8_t *tag, const uint8_t **content,
    size_t *clen)
{
	const uint8_t *s = *p;
	size_t left = *n, len, k, i;

	if (s == NULL || left < 2)
		return SIGNET_ERR_FORMAT;
	if ((s[0] & 0x1f) == 0x1f)
		return SIGNET_ERR_FORMAT;
	*tag = s[0];
	if (s[1] < 0x80) {
		len = s[1];
		s += 2;
		left -= 2;
	} else {
		k = s[1] & 0x7f;
		/* 0x80 is indefinite; more octets than a size_t is absurd */
		if (k == 0 || k > sizeof(size_t) || left - 2 < k)
			return SIGNET_ERR_FORMAT;
		if (s[2] == 0) /* leading zero octet: not minimal */
			return SIGNET_ERR_FORMAT;
		for (len = 0, i = 0; i < k; i++)
			len = len << 8 | s[2 + i];
		if (len < 0x80) /* long form for a short length */
			return SIGNET_ERR_FORMAT;
		s += 2 + k;
		left -= 2 + k;
	}
	if (len > left)
		return SIGNET_ERR_FORMAT;
	*content = s;
	*clen = len;
	*p = s + len;
	*n = left - len;
	return 0;
}
