/*
 * Token and certificate selectors from clients (docs/protocol.md,
 * "Selectors"): RFC 7512 pkcs11: URIs, bare token serials, SHA-256
 * certificate fingerprints, and the identifiers of Russian qualified
 * certificates (snils:, inn:, ogrn:). Pure parsing and matching; no I/O.
 */
#ifndef SIGNET_SELECTOR_H
#define SIGNET_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define SELECTOR_MAX_ATTR 256 /* bytes of one decoded URI attribute */
#define SELECTOR_MAX_RU 15    /* digits of the longest identifier (OGRNIP) */

struct selector {
	enum { SEL_URI, SEL_SERIAL, SEL_SHA256, SEL_RU } kind;
	/* SEL_URI: each attribute is NULL when absent. id is binary (id_len). */
	char *serial, *token, *manufacturer, *model, *object;
	uint8_t *id;
	size_t id_len;
	bool has_id;
	enum { SEL_TYPE_ANY, SEL_TYPE_CERT, SEL_TYPE_PRIVATE } type;
	/* SEL_SHA256 */
	uint8_t sha256[32];
	/* SEL_RU: which identifier, and its digits (NUL-terminated) */
	enum { SEL_RU_SNILS, SEL_RU_INN, SEL_RU_OGRN } ru;
	char ru_digits[SELECTOR_MAX_RU + 1];
};

/*
 * What SEL_RU selectors match: a certificate's identifiers as digits
 * (certinfo_ids() gives them), each NULL or "" when absent.
 */
struct selector_cert_attrs {
	const char *snils, *inn, *innle, *ogrn, *ogrnip;
};

/*
 * Parses a selector of at most SIGNET_MAX_SELECTOR bytes. A URI with an
 * attribute this version does not know, a bad %XX escape, a duplicate
 * attribute or an empty serial is SIGNET_ERR_FORMAT. A string of 64 hex
 * digits (colons allowed, optional "sha256:" prefix) is SEL_SHA256; a
 * "pkcs11:" prefix makes a URI; anything else of printable ASCII is a bare
 * serial (SEL_SERIAL). for_cert: URIs may carry id/object/type (certificate
 * selectors) -- for token selectors those are SIGNET_ERR_FORMAT.
 * Certificate selectors only (SEL_RU; ' ' and '-' between digits ignored):
 * "snils:" + 11 digits, "inn:" + 12 digits (a person) or 10 (an
 * organisation), "ogrn:" + 13 digits (OGRN) or 15 (OGRNIP); other counts
 * are SIGNET_ERR_FORMAT.
 */
MUST_CHECK int selector_parse(struct selector *s, const char *text, bool for_cert);
void selector_clear(struct selector *s);

/* Does the selector name this token? (SEL_SHA256 never matches a token.) */
bool selector_match_token(const struct selector *s, const char *serial,
    const char *label, const char *manufacturer, const char *model);

/* Does it name this certificate object on that token? (SEL_RU never
 * matches here: use selector_match_cert_attrs.) */
bool selector_match_cert(const struct selector *s, const char *serial,
    const char *token_label, const char *manufacturer, const char *model,
    const uint8_t *id, size_t id_len, const char *obj_label,
    const uint8_t sha256[32]);

/*
 * selector_match_cert, also knowing the certificate's identifiers (attrs
 * may be NULL: none). SEL_RU: "snils:" matches SNILS; "inn:" 12 digits
 * matches INN, 10 digits INNLE or an INN of "00" + those 10 (how
 * certificates before FSB order 795 carried an organisation's INN);
 * "ogrn:" 13 digits matches OGRN, 15 OGRNIP.
 */
bool selector_match_cert_attrs(const struct selector *s, const char *serial,
    const char *token_label, const char *manufacturer, const char *model,
    const uint8_t *id, size_t id_len, const char *obj_label,
    const uint8_t sha256[32], const struct selector_cert_attrs *attrs);

/* "pkcs11:serial=<pct>;id=<%XX..>" -- malloc'ed; NULL on ENOMEM. Every
 * byte of id is %XX-escaped; serial escapes all but RFC 3986 unreserved. */
char *selector_cert_uri(const char *serial, const uint8_t *id, size_t id_len);
/* "pkcs11:serial=<pct>" */
char *selector_token_uri(const char *serial);

#endif
