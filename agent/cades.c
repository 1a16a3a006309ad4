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
 *
 * GOST R 34.10-2012 (docs/gost.md has the sources): digestAlgorithm
 * id-tc26-gost3411-12-256/512 with NULL parameters, signatureAlgorithm the
 * key's OID id-tc26-gost3410-12-256/512 with NULL -- as `openssl cms` with
 * the gost engine, CryptoPro JCSP, ViPNet and BouncyCastle write them --
 * signingCertificateV2 with its hash algorithm (Streebog-256) stated, and
 * the signature value s||r, each half big-endian (RFC 4491 2.2.2, TC26),
 * which is also what the PKCS#11 GOST mechanisms return.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/rsa.h>

#include "agent/cades.h"
#include "agent/der.h"

/* Caps. A certificate larger than this is not a signing certificate we
 * want to embed; a raw signature larger than RSA-8192 is not one we asked
 * for. */
#define CADES_MAX_CERT  (64u * 1024u)
#define CADES_MAX_SIG   1024u
#define CADES_MAX_ATTRS (CADES_MAX_CERT + 4096u)
#define CADES_MAX_OUT   (2u * CADES_MAX_CERT + 16u * 1024u)
#define CADES_MAX_MECHS 4096u /* mechanisms in a token's list */

#define OID_DATA           "1.2.840.113549.1.7.1"
#define OID_SIGNED_DATA    "1.2.840.113549.1.7.2"
#define OID_CONTENT_TYPE   "1.2.840.113549.1.9.3"
#define OID_MESSAGE_DIGEST "1.2.840.113549.1.9.4"
#define OID_SIGNING_TIME   "1.2.840.113549.1.9.5"
#define OID_SIGNING_CERT_V2 "1.2.840.113549.1.9.16.2.47"
#define OID_RSA_ENCRYPTION "1.2.840.113549.1.1.1"
#define OID_GOST2012_256   "1.2.643.7.1.1.1.1" /* id-tc26-gost3410-12-256 */
#define OID_GOST2012_512   "1.2.643.7.1.1.1.2" /* id-tc26-gost3410-12-512 */

static const struct {
	const char *name;
	const char *oid;        /* digest algorithm */
	const char *ecdsa_oid;  /* ecdsa-with-SHAxxx; NULL for Streebog */
	size_t len;
	const EVP_MD *(*md)(void); /* built in; NULL: by md_name */
	const char *md_name;    /* the gost engine's name */
} digests[] = {
	[CADES_SHA256] = { "sha256", "2.16.840.1.101.3.4.2.1",
	    "1.2.840.10045.4.3.2", 32, EVP_sha256, NULL },
	[CADES_SHA384] = { "sha384", "2.16.840.1.101.3.4.2.2",
	    "1.2.840.10045.4.3.3", 48, EVP_sha384, NULL },
	[CADES_SHA512] = { "sha512", "2.16.840.1.101.3.4.2.3",
	    "1.2.840.10045.4.3.4", 64, EVP_sha512, NULL },
	[CADES_STREEBOG256] = { "streebog256", "1.2.643.7.1.1.2.2", NULL, 32,
	    NULL, "md_gost12_256" },
	[CADES_STREEBOG512] = { "streebog512", "1.2.643.7.1.1.2.3", NULL, 64,
	    NULL, "md_gost12_512" },
};
#define NDIGESTS (sizeof(digests) / sizeof(digests[0]))

static bool
is_gost_key(int key_type)
{
	return key_type == CADES_KEY_GOST2012_256 ||
	    key_type == CADES_KEY_GOST2012_512;
}

static bool
is_streebog(enum cades_digest d)
{
	return d == CADES_STREEBOG256 || d == CADES_STREEBOG512;
}

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
			/* Streebog only with the engine loaded */
			return cades_digest_md((enum cades_digest)i) != NULL ?
			    (int)i : -1;
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
	const EVP_MD *md;

	if (!digest_ok(d))
		return NULL;
	if (digests[d].md != NULL)
		return digests[d].md();
	if ((md = EVP_get_digestbyname(digests[d].md_name)) == NULL)
		ERR_clear_error();
	return md;
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
	free(p->tbs);
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

/*
 * AlgorithmIdentifier of the digest: SHA-2 without parameters (RFC 5754
 * 2); Streebog with NULL, as the gost engine, CryptoPro JCSP, ViPNet and
 * BouncyCastle write it in SignerInfo (docs/gost.md).
 */
static void
put_digest_alg(struct der *d, enum cades_digest dg)
{
	der_begin(d, DER_SEQUENCE);
	der_oid(d, digests[dg].oid);
	if (is_streebog(dg))
		der_null(d);
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

static bool
mech_listed(const unsigned long *mechs, size_t n, unsigned long m)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (mechs[i] == m)
			return true;
	return false;
}

/*
 * Key type, the length of r and s, and the mechanism: from the key, the
 * digest asked for, and (when known) the token's mechanism list.
 */
static int
choose_key(struct cades_prep *p, EVP_PKEY *pk, enum cades_digest digest,
    const unsigned long *mechs, size_t nmechs)
{
	unsigned long hashmech, combined;
	int bits, id = EVP_PKEY_get_base_id(pk);

	switch (id) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_EC:
		if (is_streebog(digest))
			return SIGNET_ERR_UNSUPPORTED; /* no verifier takes it */
		p->key_type = id;
		p->mechanism = id == EVP_PKEY_RSA ? CADES_CKM_RSA_PKCS :
		    CADES_CKM_ECDSA;
		if (id == EVP_PKEY_EC) {
			if ((bits = EVP_PKEY_get_bits(pk)) <= 0)
				return SIGNET_ERR_CRYPTO;
			/* PKCS#11 CKM_ECDSA: r and s each as long as the order */
			p->ec_order_bytes = ((size_t)bits + 7) / 8;
		}
		if (mechs != NULL && !mech_listed(mechs, nmechs, p->mechanism))
			return SIGNET_ERR_UNSUPPORTED;
		return 0;
	case CADES_KEY_GOST2012_256:
	case CADES_KEY_GOST2012_512:
		/* the signature algorithm fixes the hash: 256 with 256 */
		if (digest != (id == CADES_KEY_GOST2012_256 ?
		    CADES_STREEBOG256 : CADES_STREEBOG512))
			return SIGNET_ERR_UNSUPPORTED;
		p->key_type = id;
		p->ec_order_bytes = id == CADES_KEY_GOST2012_256 ? 32 : 64;
		hashmech = id == CADES_KEY_GOST2012_256 ? CADES_CKM_GOSTR3410 :
		    CADES_CKM_GOSTR3410_512;
		combined = id == CADES_KEY_GOST2012_256 ?
		    CADES_CKM_GOSTR3410_WITH_GOSTR3411_12_256 :
		    CADES_CKM_GOSTR3410_WITH_GOSTR3411_12_512;
		if (mechs == NULL)
			p->mechanism = hashmech;
		else if (mech_listed(mechs, nmechs, combined))
			p->mechanism = combined;
		else if (mech_listed(mechs, nmechs, hashmech))
			p->mechanism = hashmech;
		else
			return SIGNET_ERR_UNSUPPORTED;
		return 0;
	}
	return SIGNET_ERR_UNSUPPORTED;
}

/* p->tbs: a malloc'ed copy of n bytes. */
static int
set_tbs(struct cades_prep *p, const uint8_t *src, size_t n)
{
	if ((p->tbs = malloc(n)) == NULL)
		return SIGNET_ERR_NOMEM;
	memcpy(p->tbs, src, n);
	p->tbs_len = n;
	return 0;
}

int
cades_prepare(struct cades_prep *p, X509 *cert, enum cades_digest digest,
    const uint8_t *doc_digest, size_t doc_digest_len, time_t signing_time)
{
	return cades_prepare_ex(p, cert, digest, doc_digest, doc_digest_len,
	    signing_time, NULL, 0);
}

int
cades_prepare_ex(struct cades_prep *p, X509 *cert, enum cades_digest digest,
    const uint8_t *doc_digest, size_t doc_digest_len, time_t signing_time,
    const unsigned long *mechs, size_t nmechs)
{
	struct der d;
	uint8_t *cder = NULL, *dinfo = NULL, certhash[32];
	const uint8_t *issuer, *serial;
	size_t clen = 0, issuer_len, serial_len, dinfo_len = 0, hlen;
	const EVP_MD *md, *certmd;
	EVP_PKEY *pk;
	bool gost;
	int r;

	der_init(&d, CADES_MAX_ATTRS);
	if (p == NULL)
		return SIGNET_ERR_FORMAT;
	memset(p, 0, sizeof(*p));
	if (cert == NULL || doc_digest == NULL ||
	    (mechs == NULL && nmechs != 0)) {
		r = SIGNET_ERR_FORMAT;
		goto out;
	}
	if (nmechs > CADES_MAX_MECHS) {
		r = SIGNET_ERR_LIMIT;
		goto out;
	}
	if (!digest_ok(digest) || (md = cades_digest_md(digest)) == NULL) {
		r = SIGNET_ERR_UNSUPPORTED; /* Streebog without the engine */
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
	if ((r = choose_key(p, pk, digest, mechs, nmechs)) != 0)
		goto out;
	gost = is_gost_key(p->key_type);

	/* ESSCertIDv2.certHash: SHA-256 (the DEFAULT), or for GOST
	 * certificates Streebog-256, named explicitly (docs/gost.md) */
	certmd = gost ? cades_digest_md(CADES_STREEBOG256) : EVP_sha256();
	if (certmd == NULL) {
		r = SIGNET_ERR_UNSUPPORTED;
		goto out;
	}
	if ((r = cert_der(cert, &cder, &clen)) != 0 ||
	    (r = cert_ids(cder, clen, &issuer, &issuer_len, &serial,
	    &serial_len)) != 0 ||
	    (r = hash(certmd, cder, clen, certhash, 32)) != 0)
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
	if (gost) {
		/* hashAlgorithm without parameters, as CryptoPro, ViPNet
		 * and BouncyCastle write it */
		der_begin(&d, DER_SEQUENCE);
		der_oid(&d, digests[CADES_STREEBOG256].oid);
		der_end(&d);
	}
	/* else hashAlgorithm is DEFAULT id-sha256: DER omits a default */
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
	if ((r = hash(md, p->signed_attrs, p->signed_attrs_len, p->attrs_hash,
	    hlen)) != 0)
		goto out;
	p->attrs_hash_len = hlen;

	switch (p->mechanism) {
	case CADES_CKM_RSA_PKCS:
		/* CKM_RSA_PKCS pads what it is given: give it the DigestInfo.
		 * Here the parameters are NULL, as PKCS#1 (RFC 8017 9.2) and
		 * every verifier expect, unlike the CMS digestAlgorithm. */
		der_init(&d, 128);
		der_begin(&d, DER_SEQUENCE);
		der_begin(&d, DER_SEQUENCE);
		der_oid(&d, digests[digest].oid);
		der_null(&d);
		der_end(&d);
		der_octet_string(&d, p->attrs_hash, hlen);
		der_end(&d);
		if ((r = der_finish(&d, &dinfo, &dinfo_len)) != 0 ||
		    (r = set_tbs(p, dinfo, dinfo_len)) != 0)
			goto out;
		break;
	case CADES_CKM_GOSTR3410_WITH_GOSTR3411_12_256:
	case CADES_CKM_GOSTR3410_WITH_GOSTR3411_12_512:
		/* the token hashes the signed attributes itself */
		if ((r = set_tbs(p, p->signed_attrs, p->signed_attrs_len)) != 0)
			goto out;
		break;
	default:
		/*
		 * CKM_ECDSA and CKM_GOSTR3410(_512) sign a hash computed by
		 * the caller. For GOST it goes as Streebog outputs it (and
		 * as C_Digest with CKM_GOSTR3411_12_* returns it): the
		 * token, like the gost engine, reads it as a little-endian
		 * number itself. OpenSC's own C_Verify hands PKCS#11 data
		 * and signatures to the gost engine unchanged.
		 */
		if ((r = set_tbs(p, p->attrs_hash, hlen)) != 0)
			goto out;
		break;
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
 * later, at the recipient. RSA is checked over the DigestInfo it padded;
 * ECDSA and GOST over the hash of the signed attributes (for the combined
 * GOST mechanisms the token computed that hash itself).
 */
static int
check_signature(const struct cades_prep *p, EVP_PKEY *pk, const uint8_t *sig,
    size_t siglen)
{
	EVP_PKEY_CTX *ctx;
	const uint8_t *tbs = p->tbs;
	size_t tbs_len = p->tbs_len;
	int r = SIGNET_ERR_CRYPTO;

	if (p->key_type != EVP_PKEY_RSA) {
		tbs = p->attrs_hash;
		tbs_len = p->attrs_hash_len;
	}
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) == NULL)
		goto out;
	if (EVP_PKEY_verify_init(ctx) != 1)
		goto out;
	if (p->key_type == EVP_PKEY_RSA &&
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1)
		goto out;
	if (EVP_PKEY_verify(ctx, sig, siglen, tbs, tbs_len) == 1)
		r = 0;
out:
	if (r != 0)
		ERR_clear_error();
	EVP_PKEY_CTX_free(ctx);
	return r;
}

bool
cades_verify_skippable(const struct cades_prep *p)
{
	if (p == NULL || p->cert == NULL)
		return false;
	return p->key_type == EVP_PKEY_EC || is_gost_key(p->key_type);
}

int
cades_finish(const struct cades_prep *p, const uint8_t *raw, size_t raw_len,
    uint8_t **der, size_t *der_len)
{
	return cades_finish_ex(p, raw, raw_len, 0, der, der_len);
}

int
cades_finish_ex(const struct cades_prep *p, const uint8_t *raw,
    size_t raw_len, unsigned flags, uint8_t **der, size_t *der_len)
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
	    p->tbs == NULL || p->tbs_len == 0 || p->attrs_hash_len == 0 ||
	    p->attrs_hash_len > sizeof(p->attrs_hash)) {
		r = SIGNET_ERR_FORMAT;
		goto out;
	}
	if ((flags & ~CADES_FINISH_KEY_VERIFIED) != 0) {
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
	case CADES_KEY_GOST2012_256:
	case CADES_KEY_GOST2012_512:
		/*
		 * CKM_GOSTR3410(_512) and the combined TC26 mechanisms return
		 * s||r, each half big-endian and as long as the order -- the
		 * very octets CMS carries (RFC 4491 2.2.2; TC26's CMS
		 * profile), so nothing is converted. The check below is what
		 * would catch a module that returned r||s.
		 */
		if (raw_len != 2 * p->ec_order_bytes) {
			r = SIGNET_ERR_FORMAT;
			goto out;
		}
		sig = raw;
		siglen = raw_len;
		break;
	default:
		r = SIGNET_ERR_UNSUPPORTED;
		goto out;
	}
	/* RSA always; EC and GOST unless the caller has seen this key and
	 * certificate verify already (cades.h says why). */
	if (((flags & CADES_FINISH_KEY_VERIFIED) == 0 ||
	    !cades_verify_skippable(p)) &&
	    (r = check_signature(p, pk, sig, siglen)) != 0)
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
	switch (p->key_type) {
	case EVP_PKEY_RSA:
		/* rsaEncryption with NULL, as OpenSSL and most CAdES
		 * producers write it; verifiers take the hash from
		 * digestAlgorithm */
		der_oid(&d, OID_RSA_ENCRYPTION);
		der_null(&d);
		break;
	case EVP_PKEY_EC:
		/* RFC 5758 3.2: ecdsa-with-SHA* have no parameters */
		der_oid(&d, digests[p->digest].ecdsa_oid);
		break;
	default:
		/* the key's OID with NULL, like rsaEncryption (RFC 4490 3.2
		 * did the same for GOST 2001); docs/gost.md says why not
		 * id-tc26-signwithdigest-* */
		der_oid(&d, p->key_type == CADES_KEY_GOST2012_256 ?
		    OID_GOST2012_256 : OID_GOST2012_512);
		der_null(&d);
		break;
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
