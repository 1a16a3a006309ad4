/*
 * Token and certificate selectors from clients (docs/protocol.md,
 * "Selectors"): RFC 7512 pkcs11: URIs, bare token serials, and SHA-256
 * certificate fingerprints. Pure parsing and matching; no I/O.
 */
#ifndef SIGNET_SELECTOR_H
#define SIGNET_SELECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define SELECTOR_MAX_ATTR 256 /* bytes of one decoded URI attribute */

struct selector {
	enum { SEL_URI, SEL_SERIAL, SEL_SHA256 } kind;
	/* SEL_URI: each attribute is NULL when absent. id is binary (id_len). */
	char *serial, *token, *manufacturer, *model, *object;
	uint8_t *id;
	size_t id_len;
	bool has_id;
	enum { SEL_TYPE_ANY, SEL_TYPE_CERT, SEL_TYPE_PRIVATE } type;
	/* SEL_SHA256 */
	uint8_t sha256[32];
};

/*
 * Parses a selector of at most SIGNET_MAX_SELECTOR bytes. A URI with an
 * attribute this version does not know, a bad %XX escape, a duplicate
 * attribute or an empty serial is SIGNET_ERR_FORMAT. A string of 64 hex
 * digits (colons allowed, optional "sha256:" prefix) is SEL_SHA256; a
 * "pkcs11:" prefix makes a URI; anything else of printable ASCII is a bare
 * serial (SEL_SERIAL). for_cert: URIs may carry id/object/type (certificate
 * selectors) -- for token selectors those are SIGNET_ERR_FORMAT.
 */
MUST_CHECK int selector_parse(struct selector *s, const char *text, bool for_cert);
void selector_clear(struct selector *s);

/* Does the selector name this token? (SEL_SHA256 never matches a token.) */
bool selector_match_token(const struct selector *s, const char *serial,
    const char *label, const char *manufacturer, const char *model);

/* Does it name this certificate object on that token? */
bool selector_match_cert(const struct selector *s, const char *serial,
    const char *token_label, const char *manufacturer, const char *model,
    const uint8_t *id, size_t id_len, const char *obj_label,
    const uint8_t sha256[32]);

/* "pkcs11:serial=<pct>;id=<%XX..>" -- malloc'ed; NULL on ENOMEM. Every
 * byte of id is %XX-escaped; serial escapes all but RFC 3986 unreserved. */
char *selector_cert_uri(const char *serial, const uint8_t *id, size_t id_len);
/* "pkcs11:serial=<pct>" */
char *selector_token_uri(const char *serial);

#endif
