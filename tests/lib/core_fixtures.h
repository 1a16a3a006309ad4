/*
 * Test fixtures for the signet_core unit tests: keys and certificates made
 * in memory with OpenSSL, a tiny assertion macro, and a SOFTWARE signer
 * that plays the token's part (tests only; the agent signs on tokens).
 */
#ifndef SIGNET_CORE_FIXTURES_H
#define SIGNET_CORE_FIXTURES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "agent/cades.h"

extern int fx_failures;

/* Records a failure with its location and goes on (so one run shows
 * every broken case); main returns non-zero at the end. */
#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
		    __LINE__, #cond); \
		fx_failures++; \
	} \
} while (0)

#define CHECK_EQ_INT(got, want) do { \
	long long g_ = (long long)(got), w_ = (long long)(want); \
	if (g_ != w_) { \
		fprintf(stderr, "%s:%d: %s = %lld, want %lld\n", __FILE__, \
		    __LINE__, #got, g_, w_); \
		fx_failures++; \
	} \
} while (0)

/* Fails the test on the spot (for setup that later checks rely on). */
#define REQUIRE(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, \
		    __LINE__, #cond); \
		exit(1); \
	} \
} while (0)

/* "rsa2048", "p256", "p384", "p521", "ed25519", and with the gost engine
 * loaded (gost_init) "gost256" and "gost512" (GOST R 34.10-2012, paramset
 * A); exits on failure. */
EVP_PKEY *fx_key(const char *kind);

/* Key usage bits for fx_cert (X509v3_KU_* order as RFC 5280). */
#define FX_KU_NONE (-1)

struct fx_cert_opts {
	const char *subject;   /* "/C=RU/O=x/CN=y", UTF-8 */
	const char *serial_hex;/* e.g. "8A1B2C"; NULL gives 1 */
	time_t not_before, not_after;
	int key_usage;         /* KU_* bits from x509v3.h, or FX_KU_NONE */
	int ca;                /* basicConstraints CA:TRUE */
};

/* A certificate for key, issued by issuer_key/issuer (self-signed when
 * issuer is NULL). Exits on failure. */
X509 *fx_cert(EVP_PKEY *key, EVP_PKEY *issuer_key, X509 *issuer,
    const struct fx_cert_opts *o);

/*
 * SOFTWARE SIGNER, TESTS ONLY: signs p->tbs as the token would with
 * p->mechanism: RSA -> EVP_PKEY_sign with PKCS#1 v1.5 padding over the
 * DigestInfo; EC -> ECDSA over the hash, converted from DER to r||s
 * (each p->ec_order_bytes long) as PKCS#11 returns it; GOST -> the gost
 * engine over the hash (CKM_GOSTR3410, CKM_GOSTR3410_512) or over the
 * Streebog hash of tbs (the combined TC26 mechanisms), s||r as both the
 * engine and PKCS#11 give it. out must hold 1024 bytes. Returns 0 or -1.
 */
int fx_softsign(EVP_PKEY *key, const struct cades_prep *p, uint8_t *out,
    size_t *out_len);

/* Reads a whole file (malloc'ed); NULL on error. */
uint8_t *fx_read_file(const char *path, size_t *len);

#endif
