/*
 * A minimal DER writer (and a TLV reader for our own and for certificate
 * encodings), just enough to assemble CMS SignedData by hand: the
 * assembler must split "what to sign" from "the signature" for an
 * external signer, which OpenSSL's CMS API does not allow.
 *
 * The writer has a sticky error, like common/buf.h: append many values,
 * check once with der_finish() (or der_error()). Constructed values nest:
 * der_begin() opens one, der_end() closes the innermost and fixes up its
 * length. A value opened with der_begin_set_of() has its elements sorted by
 * their encodings on der_end(), as DER requires (X.690 11.6).
 *
 * Only low tag numbers (one identifier octet) and definite lengths are
 * written or read; CMS needs nothing else.
 */
#ifndef SIGNET_DER_H
#define SIGNET_DER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/err.h"

/* Identifier octets we use. */
#define DER_INTEGER      0x02
#define DER_OCTET_STRING 0x04
#define DER_NULL         0x05
#define DER_OID          0x06
#define DER_UTCTIME      0x17
#define DER_GENTIME      0x18
#define DER_SEQUENCE     0x30
#define DER_SET          0x31
#define DER_CTX(n)       (0xa0 | (n)) /* [n] constructed */

#define DER_MAX_DEPTH    16           /* open constructed values */
#define DER_MAX_OUT      (16u * 1024u * 1024u) /* hard ceiling on any writer */
#define DER_MAX_OID_TEXT 128          /* dotted OID text, bytes */
#define DER_MAX_OID_ARCS 32
#define DER_MAX_SET_ELEMS 1024        /* elements of one SET OF */

struct der {
	uint8_t *data;
	size_t len;
	size_t cap;
	size_t max;                   /* never grow past this */
	int err;                      /* sticky: first error, 0 when fine */
	int depth;
	size_t open[DER_MAX_DEPTH];   /* offset of each open value's tag */
	bool set_of[DER_MAX_DEPTH];
};

/* A writer that may produce at most max bytes (capped at DER_MAX_OUT). */
void der_init(struct der *d, size_t max);
/* Frees; wipes first (nothing secret should pass through, but it is cheap). */
void der_free(struct der *d);
/* 0 or the first error met so far. */
int der_error(const struct der *d);

/* Opens a constructed value with identifier octet tag (e.g. DER_SEQUENCE,
 * DER_CTX(0)). Its content is whatever is written until der_end(). */
void der_begin(struct der *d, uint8_t tag);
/* Opens a SET OF (or an IMPLICIT-tagged one): elements sorted at der_end. */
void der_begin_set_of(struct der *d, uint8_t tag);
void der_end(struct der *d);

/* tag, length, content. */
void der_tlv(struct der *d, uint8_t tag, const uint8_t *p, size_t n);
/* OBJECT IDENTIFIER from dotted text ("1.2.840.113549.1.7.2"). */
void der_oid(struct der *d, const char *dotted);
/* OBJECT IDENTIFIER from its content octets (checked to be well formed). */
void der_oid_bytes(struct der *d, const uint8_t *p, size_t n);
/* INTEGER from an unsigned big-endian magnitude (leading zeros dropped, a
 * 0x00 prepended when the top bit is set; empty or all-zero gives 0). */
void der_uint_bytes(struct der *d, const uint8_t *be, size_t n);
void der_uint(struct der *d, uint64_t v);
void der_octet_string(struct der *d, const uint8_t *p, size_t n);
void der_null(struct der *d);
/* Time as X.509/CMS want it: UTCTime for 1950..2049, else GeneralizedTime;
 * always UTC, to the second, 'Z'. */
void der_time(struct der *d, time_t t);
/* Splices already-encoded DER: p must hold exactly one complete TLV. */
void der_raw(struct der *d, const uint8_t *p, size_t n);

/*
 * Ends writing: fails with the sticky error, or SIGNET_ERR_FORMAT if a
 * constructed value is still open. On success *out is malloc'ed (caller
 * frees), *out_len its length, and the writer is empty (der_free still
 * fine to call).
 */
MUST_CHECK int der_finish(struct der *d, uint8_t **out, size_t *out_len);

/*
 * Reader. Takes the TLV at the front of *p (*n bytes left): on success
 * sets *tag, *content and *clen, and advances *p and *n past the whole
 * TLV. Refuses multi-octet tags, indefinite and non-minimal lengths and
 * anything running past *n with SIGNET_ERR_FORMAT.
 */
MUST_CHECK int der_next(const uint8_t **p, size_t *n, uint8_t *tag,
    const uint8_t **content, size_t *clen);

#endif
