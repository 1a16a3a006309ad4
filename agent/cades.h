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
 *                    CKM_ECDSA, for GOST the Streebog hash for
 *                    CKM_GOSTR3410(_512) or the signed attributes' DER
 *                    itself for the combined TC26 mechanisms) and with
 *                    which PKCS#11 mechanism;
 *   cades_finish()   takes the signer's raw output (RSA: the signature
 *                    block; ECDSA: r||s as PKCS#11 returns it; GOST: s||r
 *                    as PKCS#11 and CMS both have it) and emits the
 *                    ContentInfo/SignedData DER.
 *
 * Key types differ only in the mechanism and the algorithm identifiers.
 * GOST needs the gost engine loaded first (agent/gost.h); docs/gost.md
 * says which encodings are emitted and why.
 */
#ifndef SIGNET_CADES_H
#define SIGNET_CADES_H

#include <stdbool.h>
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
	CADES_STREEBOG256,          /* GOST R 34.11-2012, 256 bits */
	CADES_STREEBOG512,          /* GOST R 34.11-2012, 512 bits */
};

/* PKCS#11 mechanisms the signer may be asked for: PKCS#11 v2.40, and the
 * TC26 vendor range (NSSCK_VENDOR_PKCS11_RU_TEAM = 0xD4321000) that
 * Rutoken's and JaCarta's modules implement. */
#define CADES_CKM_RSA_PKCS       0x00000001UL
#define CADES_CKM_ECDSA          0x00001041UL
#define CADES_CKM_GOSTR3410      0x00001201UL /* 256-bit key, on a hash */
#define CADES_CKM_GOSTR3410_512  0xD4321006UL /* 512-bit key, on a hash */
#define CADES_CKM_GOSTR3410_WITH_GOSTR3411_12_256 0xD4321008UL
#define CADES_CKM_GOSTR3410_WITH_GOSTR3411_12_512 0xD4321009UL

/* cades_prep.key_type for GOST R 34.10-2012 keys (OpenSSL's NIDs for the
 * key OIDs 1.2.643.7.1.1.1.1 and .2). */
#define CADES_KEY_GOST2012_256 979 /* NID_id_GostR3410_2012_256 */
#define CADES_KEY_GOST2012_512 980 /* NID_id_GostR3410_2012_512 */

/* "sha256" -> CADES_SHA256, "streebog256" -> CADES_STREEBOG256 ...; -1 when
 * unknown, or when it is a Streebog digest and the gost engine is not
 * loaded. */
int cades_digest_from_name(const char *name);
const char *cades_digest_name(enum cades_digest d);
const EVP_MD *cades_digest_md(enum cades_digest d);
size_t cades_digest_len(enum cades_digest d);

struct cades_prep {
	X509 *cert;                 /* owned reference */
	enum cades_digest digest;
	int key_type;               /* EVP_PKEY_RSA, EVP_PKEY_EC or
				     * CADES_KEY_GOST2012_256/512 */
	size_t ec_order_bytes;      /* EC and GOST: length of r and of s */
	uint8_t *signed_attrs;      /* DER of SET OF Attribute (tag 0x31) */
	size_t signed_attrs_len;
	uint8_t *tbs;               /* what the token signs (malloc'ed) */
	size_t tbs_len;
	unsigned long mechanism;    /* a CADES_CKM_* */
	uint8_t attrs_hash[64];     /* digest of signed_attrs */
	size_t attrs_hash_len;
};

/*
 * Prepares a signature by cert over a document whose digest (with the
 * algorithm digest) is doc_digest. signing_time is the signingTime
 * attribute. Same as cades_prepare_ex() with no mechanism list.
 */
MUST_CHECK int cades_prepare(struct cades_prep *p, X509 *cert,
    enum cades_digest digest, const uint8_t *doc_digest, size_t doc_digest_len,
    time_t signing_time);

/*
 * cades_prepare(), choosing the mechanism from what the token reports
 * (C_GetMechanismList): mechs[0..nmechs). With mechs NULL the list is
 * unknown: RSA -> CKM_RSA_PKCS, EC -> CKM_ECDSA, GOST -> CKM_GOSTR3410 (256)
 * or CKM_GOSTR3410_512 on the host-computed hash. With a list, GOST
 * prefers the combined CKM_GOSTR3410_WITH_GOSTR3411_12_256/512 (tbs is
 * then the signed attributes' DER; the token hashes), then the hash
 * mechanism; a key whose mechanism the list lacks is
 * SIGNET_ERR_UNSUPPORTED.
 *
 * Key and digest must go together: RSA and EC with SHA-2; GOST 2012-256
 * with streebog256, GOST 2012-512 with streebog512 (as RFC 9215 pairs
 * them in its signature algorithms);
 * anything else, other key types (EdDSA, GOST 2001) and GOST without the
 * engine are SIGNET_ERR_UNSUPPORTED.
 */
MUST_CHECK int cades_prepare_ex(struct cades_prep *p, X509 *cert,
    enum cades_digest digest, const uint8_t *doc_digest, size_t doc_digest_len,
    time_t signing_time, const unsigned long *mechs, size_t nmechs);

/*
 * Assembles the detached SignedData. raw is the signer's output. On success
 * *der is malloc'ed (caller frees) and *der_len its length. The signer's
 * output is first checked against the certificate's key
 * (SIGNET_ERR_CRYPTO when it does not verify). Same as cades_finish_ex()
 * with no flags.
 */
MUST_CHECK int cades_finish(const struct cades_prep *p, const uint8_t *raw,
    size_t raw_len, uint8_t **der, size_t *der_len);

/*
 * cades_finish_ex() flags.
 *
 * CADES_FINISH_KEY_VERIFIED: the caller has already seen cades_finish
 * verify a signature by this very key with this certificate, so for EC
 * and GOST keys the check is skipped. RSA signatures are verified always,
 * flag or not.
 *
 * Why RSA always: with CRT, one faulty signature (a fault in either half
 * of the computation) gives gcd(s^e - m, n) = a prime factor of n, that
 * is the private key, to whoever receives it (Boneh, DeMillo and Lipton;
 * Lenstra). A card is supposed to check its own output, not every one
 * does; verifying before the signature leaves the agent is the standard
 * defence, and with e = 65537 it costs a few tens of microseconds.
 *
 * Why EC and GOST may skip it: no single faulty ECDSA or GOST R 34.10
 * signature gives the key away like that; the fault attacks known against
 * them need many faulty signatures and a fault injector on the token
 * itself, a threat the card has to answer. What the check does catch for
 * them is a token key that does not belong to the certificate (a CKA_ID
 * mix-up) or a signer that does not work, and that is a property of the
 * (key, certificate) pair: once one signature of the pair verified, the
 * next ones add nothing but cost (a P-256 verification is a double scalar
 * multiplication, ~70 us, as much as SoftHSM2's whole signature). What
 * skipping gives up: a signer that breaks after its first good signature
 * has its bad EC/GOST signatures delivered, and the recipient's
 * verification rejects them.
 *
 * So the caller may pass the flag only for a key it has itself seen
 * verify: the same token (serial), the same key (CKA_ID) and the same
 * certificate (its SHA-256), with a cades_finish() or cades_finish_ex()
 * without the flag that returned 0, since the token was last seen
 * inserted and since its helper last started; and it forgets that as soon
 * as the token is reported gone, logged out, or its helper restarts.
 */
#define CADES_FINISH_KEY_VERIFIED 0x1u

/* cades_finish() with flags (CADES_FINISH_*); unknown flags are
 * SIGNET_ERR_FORMAT. */
MUST_CHECK int cades_finish_ex(const struct cades_prep *p, const uint8_t *raw,
    size_t raw_len, unsigned flags, uint8_t **der, size_t *der_len);

/* Whether cades_finish_ex() would honour CADES_FINISH_KEY_VERIFIED for
 * this prep (EC and GOST keys): the caller tracks "verified once" only for
 * those. false for RSA and for a NULL or cleared prep. */
bool cades_verify_skippable(const struct cades_prep *p);

void cades_prep_clear(struct cades_prep *p);

#endif
