/*
 * What certs.list reports about a certificate, extracted with OpenSSL.
 */
#ifndef SIGNET_CERTINFO_H
#define SIGNET_CERTINFO_H

#include <stdint.h>
#include <jansson.h>
#include <openssl/x509.h>

#include "common/err.h"

/* Parses DER into an X509 (NULL on malformed input, never reads past len). */
X509 *certinfo_parse(const uint8_t *der, size_t len);

/* SHA-256 of the DER encoding. */
void certinfo_sha256(X509 *cert, uint8_t out[32]);

/*
 * Adds to obj the fields of docs/protocol.md certs.list that come from the
 * certificate itself: sha256, subject, issuer, serial, not_before,
 * not_after, key_type, key_bits, curve (EC), key_usage, and when present
 * the Russian identifiers snils, inn, innle, ogrn, ogrnip (from the
 * subject) and subject_sign_tool (extension 1.2.643.100.111).
 */
MUST_CHECK int certinfo_to_json(X509 *cert, json_t *obj);

/* The identifiers of Russian qualified certificates (Federal Law 63-FZ,
 * FSB order 795), from subject attributes. */
#define CERTINFO_OID_SNILS  "1.2.643.100.3"
#define CERTINFO_OID_INN    "1.2.643.3.131.1.1" /* a person's (12 digits;
						 * older certificates hold
						 * an organisation's as
						 * "00" + 10) */
#define CERTINFO_OID_INNLE  "1.2.643.100.4"     /* an organisation's */
#define CERTINFO_OID_OGRN   "1.2.643.100.1"
#define CERTINFO_OID_OGRNIP "1.2.643.100.5"
#define CERTINFO_OID_SIGN_TOOL "1.2.643.100.111" /* subjectSignTool */

#define CERTINFO_MAX_ID 32 /* digits of one identifier, and a NUL */

/* Each a NUL-terminated string of digits (separators ' ' and '-' of the
 * certificate's value dropped), or "" when absent or not digits. */
struct certinfo_ids {
	char snils[CERTINFO_MAX_ID];
	char inn[CERTINFO_MAX_ID];
	char innle[CERTINFO_MAX_ID];
	char ogrn[CERTINFO_MAX_ID];
	char ogrnip[CERTINFO_MAX_ID];
};

/* Fills ids from cert's subject (all "" for NULL). Cheap enough per
 * certificate, but callers matching often should cache the result. */
void certinfo_ids(X509 *cert, struct certinfo_ids *ids);

#endif
