/*
 * The one CMS / CAdES-BES assembler (DESIGN.md, principle 3).
 *
 * Signing is split in two so that the signer can be asynchronous (a token
 * behind a helper process) or synchronous (a software key in tests):
 *
 *   cades_prepare()  builds the DER of the signed attributes from the
 *                    certificate, the document digest and the time, and
 *                    says what the signer must sign (tbs: for RSA the
 *                    DigestInfo for CKM_RSA_PKCS, for ECDSA the hash for
 *                    CKM_ECDSA) and with which PKCS#11 mechanism;
 *   cades_finish()   takes the signer's raw output (RSA: the signature
 *                    block; ECDSA: r||s as PKCS#11 returns it) and emits
 *                    the ContentInfo/SignedData DER.
 *
 * Key types differ only in the mechanism and the algorithm identifiers.
 */
#ifndef SIGNET_CADES_H
#define SIGNET_CADES_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/err.h"

enum cades_digest {
	CADES_SHA256 = 0,
	CADES_SHA384,
	CADES_SHA512,
};

/* "sha256" -> CADES_SHA256 ...; -1 when unknown. */
int cades_digest_from_name(const char *name);
const char *cades_digest_name(enum cades_digest d);
const EVP_MD *cades_digest_md(enum cades_digest d);
size_t cades_digest_len(enum cades_digest d);

struct cades_prep {
	X509 *cert;                 /* owned reference */
	enum cades_digest digest;
	int key_type;               /* EVP_PKEY_RSA or EVP_PKEY_EC */
	size_t ec_order_bytes;      /* EC: length of r and of s */
	uint8_t *signed_attrs;      /* DER of SET OF Attribute (tag 0x31) */
	size_t signed_attrs_len;
	uint8_t tbs[128];           /* what the token signs */
	size_t tbs_len;
	unsigned long mechanism;    /* CKM_RSA_PKCS or CKM_ECDSA */
};

/*
 * Prepares a signature by cert over a document whose digest (with the
 * algorithm digest) is doc_digest. signing_time is the signingTime
 * attribute. Fails with SIGNET_ERR_UNSUPPORTED for key types other than
 * RSA and EC.
 */
MUST_CHECK int cades_prepare(struct cades_prep *p, X509 *cert,
    enum cades_digest digest, const uint8_t *doc_digest, size_t doc_digest_len,
    time_t signing_time);

/*
 * Assembles the detached SignedData. raw is the signer's output. On success
 * *der is malloc'ed (caller frees) and *der_len its length.
 */
MUST_CHECK int cades_finish(const struct cades_prep *p, const uint8_t *raw,
    size_t raw_len, uint8_t **der, size_t *der_len);

void cades_prep_clear(struct cades_prep *p);

#endif
