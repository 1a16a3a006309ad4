/*
 * Strict base64 (RFC 4648, standard alphabet, padded, no whitespace), as
 * the protocol requires. Decoding is streamed in blocks so a large inline
 * document is hashed without a second full-size copy.
 */
/* Shared by the agent and libsignet (which links no OpenSSL): plain C. */
#ifndef SIGNET_B64_H
#define SIGNET_B64_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* Calls fn on decoded blocks of at most 48 KiB; SIGNET_ERR_FORMAT on any
 * invalid character, bad padding or a length not a multiple of 4. */
typedef void (*b64_sink)(void *arg, const uint8_t *p, size_t n);
MUST_CHECK int b64_decode_stream(const char *s, size_t len, b64_sink fn, void *arg);

/* Encoded text, NUL-terminated, malloc'ed; NULL on ENOMEM. */
char *b64_encode(const uint8_t *p, size_t n, size_t *out_len);

#endif
