/*
 * The CMS / CAdES-BES assembler (contract: agent/cades.h).
 *
 * Built by hand with agent/der.c rather than OpenSSL's CMS signing API,
 * because the signature comes from outside (a token behind a helper
 * process) between "what to sign" and "the SignedData". OpenSSL is used
 * for hashing, for the certificate and for checking the signer's output.
 *
 * Output (RFC 5652, RFC 5035, ETSI EN 319 122-1 CAdES-BES):
 *
 *   ContentInfo { id-signedData, [0] EXPLICIT SignedData {
 *     version 1, digestAlgorithms SET { digestAlg },
 *     encapContentInfo { id-data }            -- detached: no eContent
 *     certificates [0] IMPLICIT { signer certificate },
 *     signerInfos SET { SignerInfo {
 *       version 1, sid IssuerAndSerialNumber, digestAlgorithm,
 *       signedAttrs [0] IMPLICIT SET OF Attribute,
 *       signatureAlgorithm, signature } } } }
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rsa.h>

#include "agent/cades.h"
#include "agent/der.h"

/* PKCS#11 mechanisms the signer is asked for (values from PKCS#11 v2.40;
 * core does not depend on the PKCS#11 headers). */
#define CADES_CKM_RSA_PKCS 0x00000001UL
#define CADES_CKM_ECDSA    0x00001041UL

/* Caps. A certificate larger than this is not a signing certificate we
 * want to embed; a raw signature larger than RSA-8192 is not one we asked
 * for. */
#define CADES_MAX_CERT  (64u * 1024u)
#define CADES_MAX_SIG   1024u
#define CADES_MAX_ATTRS (CADES_MAX_CERT + 4096u)
#define CADES_MAX_OUT   (2u * CADES_MAX_CERT + 16u * 1024u)

#define OID_DATA           "1.2.840.113549.1.7.1"
#define OID_SIGNED_DATA    "1.2.840.113549.1.7.2"
#define OID_CONTENT_TYPE   "1.2.840.113549.1.9.3"
#define OID_MESSAGE_DIGEST "1.2.840.113549.1.9.4"
#define OID_SIGNING_TIME   "1.2.840.113549.1.9.5"
#define OID_SIGNING_CERT_V2 "1.2.840.113549.1.9.16.2.47"
#define OID_RSA_ENCRYPTION "1.2.840.113549.1.1.1"

static const struct {
	const char *name;
	const char *oid;        /* digest algorithm */
	const char *ecdsa_oid;  /* ecdsa-with-SHAxxx */
	size_t len;
	const EVP_MD *(*md)(void);
} digests[] = {
	[CADES_SHA256] = { "sha256", "2.16.840.1.101.3.4.2.1",
	    "1.2.840.10045.4.3.2", 32, EVP_sha256 },
	[CADES_SHA384] = { "sha384", "2.16.840.1.101.3.4.2.2",
	    "1.2.840.10045.4.3.3", 48, EVP_sha384 },
	[CADES_SHA512] = { "sha512", "2.16.840.1.101.3.4.2.3",
	    "1.2.840.10045.4.3.4", 64, EVP_sha512 },
};
#define NDIGESTS (sizeof(digests) / sizeof(digests[0]))

static bool
digest_ok(enum cades_digest d)
{
	return (unsigned)d < NDIGESTS;
}

int
cades_digest_from_name(const char *name)
{
	size_t i;

	if (name == NULL)
		return -1;
	for (i = 0; i < NDIGESTS; i++)
		if (strcmp(name, digests[i].name) == 0)
			return (int)i;
	return -1;
}

const char *
cades_digest_name(enum cades_digest d)
{
	return digest_ok(d) ? digests[d].name : NULL;
}

const EVP_MD *
cades_digest_md(enum cades_digest d)
{
	return digest_ok(d) ? digests[d].md() : NULL;
}

size_t
cades_digest_len(enum cades_digest d)
{
	return digest_ok(d) ? digests[d].len : 0;
}

void
cades_prep_clear(struct cades_prep *p)
{
	if (p == NULL)
		return;
	X509_free(p->cert);
	free(p->signed_attrs);
	explicit_bzero(p, sizeof(*p));
}

/* The certificate's DER (OPENSSL_free it), capped at CADES_MAX_CERT. */
static int
cert_der(X509 *cert, uint8_t **der, size_t *len)
{
	int n;

	*der = NULL;
	*len = 0;
	if ((n = i2d_X509(cert, der)) <= 0) {
		ERR_clear_error();
		return SIGNET_ERR_CRYPTO;
	}
	if ((size_t)n > CADES_MAX_CERT) {
		OPENSSL_free(*der);
		*der = NULL;
		return SIGNET_ERR_LIMIT;
	}
	*len = (size_t)n;
	return 0;
}

/*
 * Finds the issuer Name and the serialNumber INTEGER (whole TLVs) inside
 * the certificate's own encoding, so the signer identifier and the ESS
 * issuerSerial repeat exactly the bytes that were signed by the CA:
 *   Certificate ::= SEQUENCE { tbsCertificate SEQUENCE {
 *     [0] version OPTIONAL, serialNumber, signature, issuer, ... }, ... }
 */
static int
cert_ids(const uint8_t *der, size_t len, const uint8_t **issuer,
    size_t *issuer_len, const uint8_t **serial, size_t *serial_len)
{
	const uint8_t *p = der, *c, *t, *start;
	size_t n = len, cl, tl;
	uint8_t tag;
	int r;

	if ((r = der_next(&p, &n, &tag, &c, &cl)) != 0)
		return r;
	if (tag != DER_SEQUENCE || n != 0)
		return SIGNET_ERR_FORMAT;
	if ((r = der_next(&c, &cl, &tag, &t, &tl)) != 0)
		return r;
	if (tag != DER_SEQUENCE)
		return SIGNET_ERR_FORMAT;
	start = t;
	if ((r = der_next(&t, &tl, &tag, &c, &cl)) != 0)
		return r;
	if (tag == DER_CTX(0)) { /* version */
		start = t;
		if ((r = der_next(&t, &tl, &tag, &c, &cl)) != 0)
			return r;
	}
	if (tag != DER_INTEGER || cl == 0)
		return SIGNET_ERR_FORMAT;
	*serial = start;
	*serial_len = (size_t)(t - start);
	if ((r = der_next(&t, &tl, &tag, &c, &cl)) != 0) /* signature */
		return r;
	if (tag != DER_SEQUENCE)
		return SIGNET_ERR_FORMAT;
	start = t;
	if ((r = der_next(&t, &tl, &tag, &c, &cl)) != 0)
		return r;
	if (tag != DER_SEQUENCE)
		return SIGNET_ERR_FORMAT;
	*issuer = start;
	*issuer_len = (size_t)(t - start);
	return 0;
}

/* AlgorithmIdentifier of a SHA-2 digest: no parameters (RFC 5754 2). */
static void
put_digest_alg(struct der *d, enum cades_digest dg)
{
	der_begin(d, DER_SEQUENCE);
	der_oid(d, digests[dg].oid);
	der_end(d);
}

/* One Attribute { attrType, attrValues SET { ... } }: the caller writes
 * the single value between attr_begin and attr_end. */
static void
attr_begin(struct der *d, const char *oid)
{
	der_begin(d, DER_SEQUENCE);
	der_oid(d, oid);
	der_begin_set_of(d, DER_SET);
}

static void
attr_end(struct der *d)
{
	der_end(d);
	der_end(d);
}

static int
hash(const EVP_MD *md, const uint8_t *p, size_t n, uint8_t *out,
    size_t want)
{
	unsigned int olen = 0;

	if (EVP_Digest(p, n, out, &olen, md, NULL) != 1 || olen != want) {
		ERR_clear_error();
		return SIGNET_ERR_CRYPTO;
	}
	return 0;
}

int
cades_prepare(struct cades_prep *p, X509 *cert, enum cades_digest digest,
    const uint8_t *doc_digest, size_t doc_digest_len, time_t signing_time)
{
	struct der d;
	uint8_t *cder = NULL, *dinfo = NULL, certhash[32], ahash[64];
	const uint8_t *issuer, *serial;
	size_t clen = 0, issuer_len, serial_len, dinfo_len = 0, hlen;
	EVP_PKEY *pk;
	int r, bits;

	der_init(&d, CADES_MAX_ATTRS);
	if (p == NULL)
		return SIGNET_ERR_FORMAT;
	memset(p, 0, sizeof(*p));
	if (cert == NULL || doc_digest == NULL) {
		r = SIGNET_ERR_FORMAT;
		goto out;
	}
	if (!digest_ok(digest)) {
		r = SIGNET_ERR_UNSUPPORTED;
		goto out;
	}
	hlen = digests[digest].len;
	if (doc_digest_len != hlen) {
		r = SIGNET_ERR_FORMAT;
		goto out;
	}
	p->digest = digest;

	/* A key OpenSSL cannot even load (e.g. GOST without its engine) is
	 * just as unsupported as one it loads but we cannot sign with. */
	if ((pk = X509_get0_pubkey(cert)) == NULL) {
		ERR_clear_error();
		r = SIGNET_ERR_UNSUPPORTED;
		goto out;
	}
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA:
		p->key_type = EVP_PKEY_RSA;
		p->mechanism = CADES_CKM_RSA_PKCS;
		break;
	case EVP_PKEY_EC:
		if ((bits = EVP_PKEY_get_bits(pk)) <= 0) {
			r = SIGNET_ERR_CRYPTO;
			goto out;
		}
		p->key_type = EVP_PKEY_EC;
		/* PKCS#11 CKM_ECDSA: r and s each as long as the order */
		p->ec_order_bytes = ((size_t)bits + 7) / 8;
		p->mechanism = CADES_CKM_ECDSA;
		break;
	default:
		r = SIGNET_ERR_UNSUPPORTED;
		goto out;
	}

	if ((r = cert_der(cert, &cder, &clen)) != 0 ||
	    (r = cert_ids(cder, clen, &issuer, &issuer_len, &serial,
	    &serial_len)) != 0 ||
	    (r = hash(EVP_sha256(), cder, clen, certhash, 32)) != 0)
		goto out;

	/* SignedAttributes: a SET OF, so der.c sorts the attributes. */
	der_begin_set_of(&d, DER_SET);

	attr_begin(&d, OID_CONTENT_TYPE);
	der_oid(&d, OID_DATA);
	attr_end(&d);

	attr_begin(&d, OID_SIGNING_TIME);
	der_time(&d, signing_time);
	attr_end(&d);

	attr_begin(&d, OID_MESSAGE_DIGEST);
	der_octet_string(&d, doc_digest, doc_digest_len);
	attr_end(&d);

	/* RFC 5035: SigningCertificateV2 { certs SEQUENCE OF ESSCertIDv2 } */
	attr_begin(&d, OID_SIGNING_CERT_V2);
	der_begin(&d, DER_SEQUENCE);            /* SigningCertificateV2 */
	der_begin(&d, DER_SEQUENCE);            /* certs */
	der_begin(&d, DER_SEQUENCE);            /* ESSCertIDv2 */
	/* hashAlgorithm is DEFAULT id-sha256: DER omits a default value */
	der_octet_string(&d, certhash, sizeof(certhash));
	der_begin(&d, DER_SEQUENCE);            /* IssuerSerial */
	der_begin(&d, DER_SEQUENCE);            /* GeneralNames */
	der_begin(&d, DER_CTX(4));              /* directoryName: Name is a
						 * CHOICE, so the tag is
						 * explicit */
	der_raw(&d, issuer, issuer_len);
	der_end(&d);
	der_end(&d);
	der_raw(&d, serial, serial_len);
	der_end(&d);
	der_end(&d);
	der_end(&d);
	der_end(&d);
	attr_end(&d);

	der_end(&d);
	if ((r = der_finish(&d, &p->signed_attrs, &p->signed_attrs_len)) != 0)
		goto out;

	/* The signature covers the DER of the SET OF (tag 0x31), hashed with
	 * the document's digest (RFC 5652 5.4). */
	if ((r = hash(digests[digest].md(), p->signed_attrs,
	    p->signed_attrs_len, ahash, hlen)) != 0)
		goto out;

	if (p->key_type == EVP_PKEY_RSA) {
		/* CKM_RSA_PKCS pads what it is given: give it the DigestInfo.
		 * Here the parameters are NULL, as PKCS#1 (RFC 8017 9.2) and
		 * every verifier expect, unlike the CMS digestAlgorithm. */
		der_init(&d, sizeof(p->tbs));
		der_begin(&d, DER_SEQUENCE);
		der_begin(&d, DER_SEQUENCE);
		der_oid(&d, digests[digest].oid);
		der_null(&d);
		der_end(&d);
		der_octet_string(&d, ahash, hlen);
		der_end(&d);
		if ((r = der_finish(&d, &dinfo, &dinfo_len)) != 0)
			goto out;
		memcpy(p->tbs, dinfo, dinfo_len);
		p->tbs_len = dinfo_len;
	} else {
		/* CKM_ECDSA signs a hash computed by the caller */
		memcpy(p->tbs, ahash, hlen);
		p->tbs_len = hlen;
	}

	if (X509_up_ref(cert) != 1) {
		r = SIGNET_ERR_CRYPTO;
		goto out;
	}
	p->cert = cert;
	r = 0;
out:
	if (r != 0)
		cades_prep_clear(p);
	der_free(&d);
	free(dinfo);
	OPENSSL_free(cder);
	explicit_bzero(ahash, sizeof(ahash));
	return r;
}

/* ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } from r||s. */
static int
ecdsa_der(const uint8_t *raw, size_t half, uint8_t **out, size_t *out_len)
{
	struct der d;
	int r;

	der_init(&d, CADES_MAX_SIG + 16);
	der_begin(&d, DER_SEQUENCE);
	der_uint_bytes(&d, raw, half);
	der_uint_bytes(&d, raw + half, half);
	der_end(&d);
	r = der_finish(&d, out, out_len);
	der_free(&d);
	return r;
}

/*
 * Checks the signer's output against the certificate's key before it is
 * wrapped: a token key that does not belong to the certificate (a CKA_ID
 * mix-up) or a faulty signer must not yield a signature that only fails
 * later, at the recipient.
 */
static int
check_signature(const struct cades_prep *p, EVP_PKEY *pk, const uint8_t *sig,
    size_t siglen)
{
	EVP_PKEY_CTX *ctx;
	int r = SIGNET_ERR_CRYPTO;

	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) == NULL)
		goto out;
	if (EVP_PKEY_verify_init(ctx) != 1)
		goto out;
	if (p->key_type == EVP_PKEY_RSA &&
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1)
		goto out;
	if (EVP_PKEY_verify(ctx, sig, siglen, p->tbs, p->tbs_len) == 1)
		r = 0;
out:
	if (r != 0)
		ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);
	return r;
}

int
cades_finish(const struct cades_prep *p, const uint8_t *raw, size_t raw_len,
    uint8_t **der, size_t *der_len)
{
	struct der d;
	uint8_t *cder = NULL, *ecsig = NULL;
	const uint8_t *issuer, *serial, *sig, *ap, *ac;
	size_t clen = 0, issuer_len, serial_len, siglen, ecsig_len = 0;
	size_t an, acl;
	EVP_PKEY *pk;
	uint8_t atag;
	int r, ksize;

	der_init(&d, CADES_MAX_OUT);
	if (der == NULL || der_len == NULL)
		return SIGNET_ERR_FORMAT;
	*der = NULL;
	*der_len = 0;
	if (p == NULL || p->cert == NULL || p->signed_attrs == NULL ||
	    !digest_ok(p->digest) || raw == NULL || raw_len == 0 ||
	    p->tbs_len == 0 || p->tbs_len > sizeof(p->tbs)) {
		r = SIGNET_ERR_FORMAT;
		goto out;
	}
	if (raw_len > CADES_MAX_SIG) {
		r = SIGNET_ERR_LIMIT;
		goto out;
	}
	if ((pk = X509_get0_pubkey(p->cert)) == NULL) {
		ERR_clear_error();
		r = SIGNET_ERR_UNSUPPORTED;
		goto out;
	}
	switch (p->key_type) {
	case EVP_PKEY_RSA:
		/* CKM_RSA_PKCS returns exactly the modulus length */
		if ((ksize = EVP_PKEY_get_size(pk)) <= 0 ||
		    raw_len != (size_t)ksize) {
			r = SIGNET_ERR_FORMAT;
			goto out;
		}
		sig = raw;
		siglen = raw_len;
		break;
	case EVP_PKEY_EC:
		if (p->ec_order_bytes == 0 ||
		    raw_len != 2 * p->ec_order_bytes) {
			r = SIGNET_ERR_FORMAT;
			goto out;
		}
		if ((r = ecdsa_der(raw, p->ec_order_bytes, &ecsig,
		    &ecsig_len)) != 0)
			goto out;
		sig = ecsig;
		siglen = ecsig_len;
		break;
	default:
		r = SIGNET_ERR_UNSUPPORTED;
		goto out;
	}
	if ((r = check_signature(p, pk, sig, siglen)) != 0)
		goto out;

	if ((r = cert_der(p->cert, &cder, &clen)) != 0 ||
	    (r = cert_ids(cder, clen, &issuer, &issuer_len, &serial,
	    &serial_len)) != 0)
		goto out;
	/* the signed attributes go in as [0] IMPLICIT: same content */
	ap = p->signed_attrs;
	an = p->signed_attrs_len;
	if ((r = der_next(&ap, &an, &atag, &ac, &acl)) != 0)
		goto out;
	if (atag != DER_SET || an != 0) {
		r = SIGNET_ERR_FORMAT;
		goto out;
	}

	der_begin(&d, DER_SEQUENCE);                    /* ContentInfo */
	der_oid(&d, OID_SIGNED_DATA);
	der_begin(&d, DER_CTX(0));
	der_begin(&d, DER_SEQUENCE);                    /* SignedData */
	der_uint(&d, 1);
	der_begin_set_of(&d, DER_SET);                  /* digestAlgorithms */
	put_digest_alg(&d, p->digest);
	der_end(&d);
	der_begin(&d, DER_SEQUENCE);                    /* encapContentInfo */
	der_oid(&d, OID_DATA);
	der_end(&d);
	der_begin_set_of(&d, DER_CTX(0));               /* certificates */
	der_raw(&d, cder, clen);
	der_end(&d);
	der_begin_set_of(&d, DER_SET);                  /* signerInfos */
	der_begin(&d, DER_SEQUENCE);                    /* SignerInfo */
	der_uint(&d, 1);
	der_begin(&d, DER_SEQUENCE);                    /* IssuerAndSerial */
	der_raw(&d, issuer, issuer_len);
	der_raw(&d, serial, serial_len);
	der_end(&d);
	put_digest_alg(&d, p->digest);
	der_tlv(&d, DER_CTX(0), ac, acl);               /* signedAttrs */
	der_begin(&d, DER_SEQUENCE);                    /* signatureAlgorithm */
	if (p->key_type == EVP_PKEY_RSA) {
		/* rsaEncryption with NULL, as OpenSSL and most CAdES
		 * producers write it; verifiers take the hash from
		 * digestAlgorithm */
		der_oid(&d, OID_RSA_ENCRYPTION);
		der_null(&d);
	} else {
		/* RFC 5758 3.2: ecdsa-with-SHA* have no parameters */
		der_oid(&d, digests[p->digest].ecdsa_oid);
	}
	der_end(&d);
	der_octet_string(&d, sig, siglen);
	der_end(&d);
	der_end(&d);
	der_end(&d);
	der_end(&d);
	der_end(&d);
	r = der_finish(&d, der, der_len);
out:
	der_free(&d);
	free(ecsig);
	OPENSSL_free(cder);
	return r;
}
