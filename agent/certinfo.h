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
 * not_after, key_type, key_bits, curve (EC), key_usage.
 */
MUST_CHECK int certinfo_to_json(X509 *cert, json_t *obj);

#endif
