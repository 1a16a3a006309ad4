/*
 * Unit test of agent/cades.c: signs with software keys standing in for
 * tokens (RSA-2048, P-256, P-384, P-521 x SHA-256/384/512; GOST R
 * 34.10-2012 256/512 with Streebog through the gost engine, on both the
 * hash and the combined TC26 mechanism paths), checks every signature with
 * OpenSSL's own CMS verifier, checks the structure against independently
 * built encodings, and asserts the exact errors; and that
 * CADES_FINISH_KEY_VERIFIED skips the signer check for EC and GOST only.
 */
#include <string.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/ess.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "agent/der.h"
#include "agent/gost.h"
#include "tests/lib/core_fixtures.h"

static EVP_PKEY *ca_key;
static X509 *ca;

static X509 *
leaf(EVP_PKEY *key, const char *cn)
{
	char subj[128];
	struct fx_cert_opts o = {
		.subject = subj,
		/* top bit set: the INTEGER carries a 0x00 octet */
		.serial_hex = "8A1B2C3D4E5F60",
		.not_before = time(NULL) - 86400,
		.not_after = time(NULL) + 86400 * 365,
		.key_usage = KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION,
	};

	snprintf(subj, sizeof(subj), "/C=RU/O=Signet Test/CN=%s", cn);
	return fx_cert(key, ca_key, ca, &o);
}

static void
digest(enum cades_digest dg, const uint8_t *p, size_t n, uint8_t *out)
{
	unsigned int l = 0;

	REQUIRE(EVP_Digest(p, n, out, &l, cades_digest_md(dg), NULL) == 1);
	REQUIRE(l == cades_digest_len(dg));
}

/* OpenSSL's CMS verifier over the detached content; 1 when it verifies. */
static int
cms_verify(const uint8_t *sig, size_t n, const uint8_t *doc, size_t dn)
{
	const unsigned char *q = sig;
	CMS_ContentInfo *cms;
	X509_STORE *st;
	BIO *in;
	int ok;

	REQUIRE((cms = d2i_CMS_ContentInfo(NULL, &q, (long)n)) != NULL);
	REQUIRE(q == sig + n);
	REQUIRE((st = X509_STORE_new()) != NULL);
	REQUIRE(X509_STORE_add_cert(st, ca) == 1);
	REQUIRE((in = BIO_new_mem_buf(doc, (int)dn)) != NULL);
	ok = CMS_verify(cms, NULL, st, in, NULL, CMS_BINARY);
	ERR_clear_error();
	BIO_free(in);
	X509_STORE_free(st);
	CMS_ContentInfo_free(cms);
	return ok;
}

/* The value of attribute oid (dotted) inside the SET OF, or NULL. */
static const uint8_t *
find_attr(const uint8_t *attrs, size_t n, const char *oid, size_t *vlen)
{
	struct der d;
	uint8_t *enc = NULL;
	size_t el;
	const uint8_t *p = attrs, *c, *a, *v, *vv, *prev = NULL, *ret = NULL;
	size_t cl, al, vl, vvl, prevn = 0;
	uint8_t tag;

	der_init(&d, 64);
	der_oid(&d, oid);
	REQUIRE(der_finish(&d, &enc, &el) == 0);
	der_free(&d);
	REQUIRE(der_next(&p, &n, &tag, &c, &cl) == 0 && tag == DER_SET);
	while (cl > 0) {
		const uint8_t *start = c;

		REQUIRE(der_next(&c, &cl, &tag, &a, &al) == 0);
		/* DER: strictly ascending encodings */
		if (prev != NULL) {
			size_t m = prevn < (size_t)(c - start) ? prevn :
			    (size_t)(c - start);
			int cmp = memcmp(prev, start, m);

			CHECK(cmp < 0 || (cmp == 0 && prevn < (size_t)(c -
			    start)));
		}
		prev = start;
		prevn = (size_t)(c - start);
		if (al >= el && memcmp(a, enc, el) == 0) {
			vv = a + el;
			vvl = al - el;
			REQUIRE(der_next(&vv, &vvl, &tag, &v, &vl) == 0);
			REQUIRE(tag == DER_SET && vvl == 0);
			ret = v;
			*vlen = vl;
		}
	}
	free(enc);
	return ret;
}

static int
count_attrs(const uint8_t *attrs, size_t n)
{
	const uint8_t *p = attrs, *c, *a;
	size_t cl, al;
	uint8_t tag;
	int k = 0;

	REQUIRE(der_next(&p, &n, &tag, &c, &cl) == 0);
	while (cl > 0) {
		REQUIRE(der_next(&c, &cl, &tag, &a, &al) == 0);
		k++;
	}
	return k;
}

/* signingCertificateV2 must equal what OpenSSL's ESS code builds. */
static void
check_ess(const struct cades_prep *p, X509 *cert)
{
	ESS_SIGNING_CERT_V2 *sc;
	unsigned char *want = NULL;
	const uint8_t *v;
	size_t vl = 0;
	int wl;

	REQUIRE((sc = OSSL_ESS_signing_cert_v2_new_init(EVP_sha256(), cert,
	    NULL, 1)) != NULL);
	REQUIRE((wl = i2d_ESS_SIGNING_CERT_V2(sc, &want)) > 0);
	v = find_attr(p->signed_attrs, p->signed_attrs_len,
	    "1.2.840.113549.1.9.16.2.47", &vl);
	CHECK(v != NULL && vl == (size_t)wl && memcmp(v, want, vl) == 0);
	OPENSSL_free(want);
	ESS_SIGNING_CERT_V2_free(sc);
}

static void
check_cms_fields(const uint8_t *sig, size_t n, X509 *cert, int key_type,
    enum cades_digest dg)
{
	static const int dnid[] = { NID_sha256, NID_sha384, NID_sha512 };
	static const int enid[] = { NID_ecdsa_with_SHA256,
	    NID_ecdsa_with_SHA384, NID_ecdsa_with_SHA512 };
	const unsigned char *q = sig;
	unsigned char *re = NULL;
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si;
	X509_ALGOR *da = NULL, *sa = NULL;
	STACK_OF(X509) *certs;
	const ASN1_OBJECT *obj;
	const void *pval;
	int ptype, rl;

	REQUIRE((cms = d2i_CMS_ContentInfo(NULL, &q, (long)n)) != NULL);
	CHECK_EQ_INT(OBJ_obj2nid(CMS_get0_type(cms)), NID_pkcs7_signed);
	CHECK_EQ_INT(OBJ_obj2nid(CMS_get0_eContentType(cms)), NID_pkcs7_data);
	CHECK(CMS_get0_content(cms) == NULL || *CMS_get0_content(cms) == NULL);
	REQUIRE(sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) == 1);
	si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
	CHECK_EQ_INT(CMS_SignerInfo_cert_cmp(si, cert), 0);
	CHECK_EQ_INT(CMS_signed_get_attr_count(si), 4);
	CHECK(CMS_signed_get_attr_by_NID(si, NID_pkcs9_contentType, -1) >= 0);
	CHECK(CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1) >= 0);
	CHECK(CMS_signed_get_attr_by_NID(si, NID_pkcs9_messageDigest, -1) >= 0);
	CHECK(CMS_signed_get_attr_by_NID(si,
	    NID_id_smime_aa_signingCertificateV2, -1) >= 0);
	CMS_SignerInfo_get0_algs(si, NULL, NULL, &da, &sa);
	X509_ALGOR_get0(&obj, &ptype, &pval, da);
	CHECK_EQ_INT(OBJ_obj2nid(obj), dnid[dg]);
	CHECK_EQ_INT(ptype, V_ASN1_UNDEF); /* RFC 5754: absent */
	X509_ALGOR_get0(&obj, &ptype, &pval, sa);
	if (key_type == EVP_PKEY_RSA) {
		CHECK_EQ_INT(OBJ_obj2nid(obj), NID_rsaEncryption);
		CHECK_EQ_INT(ptype, V_ASN1_NULL);
	} else {
		CHECK_EQ_INT(OBJ_obj2nid(obj), enid[dg]);
		CHECK_EQ_INT(ptype, V_ASN1_UNDEF);
	}
	certs = CMS_get1_certs(cms);
	CHECK_EQ_INT(sk_X509_num(certs), 1);
	CHECK(certs != NULL && X509_cmp(sk_X509_value(certs, 0), cert) == 0);
	sk_X509_pop_free(certs, X509_free);
	/* DER is canonical: re-encoding what OpenSSL parsed gives our bytes */
	REQUIRE((rl = i2d_CMS_ContentInfo(cms, &re)) > 0);
	CHECK((size_t)rl == n && memcmp(re, sig, n) == 0);
	OPENSSL_free(re);
	CMS_ContentInfo_free(cms);
}

static void
sign_and_verify(const char *kind, size_t want_order)
{
	uint8_t doc[3000], dig[64], raw[1024], *sig = NULL;
	size_t rawlen = 0, siglen = 0;
	struct cades_prep p;
	EVP_PKEY *key = fx_key(kind);
	X509 *cert = leaf(key, kind);
	int dg;

	REQUIRE(RAND_bytes(doc, sizeof(doc)) == 1);
	for (dg = CADES_SHA256; dg <= CADES_SHA512; dg++) {
		size_t hl = cades_digest_len(dg);

		digest(dg, doc, sizeof(doc), dig);
		CHECK_EQ_INT(cades_prepare(&p, cert, dg, dig, hl,
		    time(NULL)), 0);
		CHECK(p.cert == cert);
		CHECK_EQ_INT(p.digest, dg);
		CHECK_EQ_INT(p.ec_order_bytes, want_order);
		if (want_order == 0) {
			CHECK_EQ_INT(p.key_type, EVP_PKEY_RSA);
			CHECK_EQ_INT(p.mechanism, 0x1);
			CHECK_EQ_INT(p.tbs_len, 19 + hl); /* DigestInfo */
		} else {
			CHECK_EQ_INT(p.key_type, EVP_PKEY_EC);
			CHECK_EQ_INT(p.mechanism, 0x1041);
			CHECK_EQ_INT(p.tbs_len, hl);
		}
		CHECK_EQ_INT(count_attrs(p.signed_attrs, p.signed_attrs_len), 4);
		check_ess(&p, cert);
		REQUIRE(fx_softsign(key, &p, raw, &rawlen) == 0);
		CHECK_EQ_INT(cades_finish(&p, raw, rawlen, &sig, &siglen), 0);
		REQUIRE(sig != NULL);
		CHECK_EQ_INT(cms_verify(sig, siglen, doc, sizeof(doc)), 1);
		check_cms_fields(sig, siglen, cert, p.key_type, dg);
		/* one modified byte of the document must fail */
		doc[1234] ^= 0x01;
		CHECK_EQ_INT(cms_verify(sig, siglen, doc, sizeof(doc)), 0);
		doc[1234] ^= 0x01;
		free(sig);
		sig = NULL;
		cades_prep_clear(&p);
		CHECK(p.cert == NULL && p.signed_attrs == NULL);
	}
	X509_free(cert);
	EVP_PKEY_free(key);
}

static time_t
utc(int y, int mo, int da, int h, int mi, int s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = da;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return timegm(&tm);
}

static void
test_signing_time(void)
{
	EVP_PKEY *key = fx_key("p256");
	X509 *cert = leaf(key, "time");
	uint8_t dig[32] = { 1, 2, 3 };
	const uint8_t *v;
	size_t vl = 0;
	struct cades_prep p;

	REQUIRE(cades_prepare(&p, cert, CADES_SHA256, dig, 32,
	    utc(2049, 12, 31, 23, 59, 59)) == 0);
	v = find_attr(p.signed_attrs, p.signed_attrs_len,
	    "1.2.840.113549.1.9.5", &vl);
	CHECK(v != NULL && vl == 15 && memcmp(v, "\x17\x0d" "491231235959Z",
	    15) == 0);
	/* messageDigest is the document digest as given */
	v = find_attr(p.signed_attrs, p.signed_attrs_len,
	    "1.2.840.113549.1.9.4", &vl);
	CHECK(v != NULL && vl == 34 && v[0] == 0x04 && v[1] == 32 &&
	    memcmp(v + 2, dig, 32) == 0);
	v = find_attr(p.signed_attrs, p.signed_attrs_len,
	    "1.2.840.113549.1.9.3", &vl);
	CHECK(v != NULL && vl == 11 && memcmp(v, "\x06\x09\x2a\x86\x48\x86"
	    "\xf7\x0d\x01\x07\x01", 11) == 0);
	cades_prep_clear(&p);

	REQUIRE(cades_prepare(&p, cert, CADES_SHA256, dig, 32,
	    utc(2050, 1, 1, 0, 0, 0)) == 0);
	v = find_attr(p.signed_attrs, p.signed_attrs_len,
	    "1.2.840.113549.1.9.5", &vl);
	CHECK(v != NULL && vl == 17 && memcmp(v, "\x18\x0f" "20500101000000Z",
	    17) == 0);
	cades_prep_clear(&p);
	X509_free(cert);
	EVP_PKEY_free(key);
}

static void
test_errors(void)
{
	EVP_PKEY *ec = fx_key("p256"), *ec2 = fx_key("p256");
	EVP_PKEY *ec384 = fx_key("p384");
	EVP_PKEY *rsa = fx_key("rsa2048"), *ed = fx_key("ed25519");
	X509 *ec_cert = leaf(ec, "ec"), *rsa_cert = leaf(rsa, "rsa");
	X509 *ed_cert = leaf(ed, "ed"), *ec384_cert = leaf(ec384, "ec384");
	uint8_t dig[64] = { 0 }, raw[2048], *sig = NULL;
	size_t rawlen = 0, siglen = 0;
	struct cades_prep p, q;

	/* digest names */
	CHECK_EQ_INT(cades_digest_from_name("sha256"), CADES_SHA256);
	CHECK_EQ_INT(cades_digest_from_name("sha384"), CADES_SHA384);
	CHECK_EQ_INT(cades_digest_from_name("sha512"), CADES_SHA512);
	CHECK_EQ_INT(cades_digest_from_name("SHA256"), -1);
	CHECK_EQ_INT(cades_digest_from_name("md5"), -1);
	CHECK_EQ_INT(cades_digest_from_name(""), -1);
	CHECK_EQ_INT(cades_digest_from_name(NULL), -1);
	CHECK(strcmp(cades_digest_name(CADES_SHA384), "sha384") == 0);
	CHECK_EQ_INT(cades_digest_from_name("streebog256"), CADES_STREEBOG256);
	CHECK_EQ_INT(cades_digest_from_name("streebog512"), CADES_STREEBOG512);
	CHECK_EQ_INT(cades_digest_from_name("md_gost12_256"), -1);
	CHECK(strcmp(cades_digest_name(CADES_STREEBOG512), "streebog512") == 0);
	CHECK_EQ_INT(cades_digest_len(CADES_STREEBOG256), 32);
	CHECK(cades_digest_md(CADES_STREEBOG256) != NULL);
	CHECK(cades_digest_name((enum cades_digest)5) == NULL);
	CHECK(cades_digest_md((enum cades_digest)5) == NULL);
	CHECK_EQ_INT(cades_digest_len(CADES_SHA512), 64);
	CHECK_EQ_INT(cades_digest_len((enum cades_digest)-1), 0);

	/* prepare */
	CHECK_EQ_INT(cades_prepare(&p, ed_cert, CADES_SHA256, dig, 32, 0),
	    SIGNET_ERR_UNSUPPORTED);
	CHECK(p.cert == NULL && p.signed_attrs == NULL && p.tbs_len == 0);
	CHECK_EQ_INT(cades_prepare(&p, ec_cert, CADES_SHA256, dig, 31, 0),
	    SIGNET_ERR_FORMAT);
	CHECK_EQ_INT(cades_prepare(&p, ec_cert, CADES_SHA384, dig, 32, 0),
	    SIGNET_ERR_FORMAT);
	CHECK_EQ_INT(cades_prepare(&p, ec_cert, (enum cades_digest)5, dig, 32,
	    0), SIGNET_ERR_UNSUPPORTED);
	CHECK_EQ_INT(cades_prepare(&p, NULL, CADES_SHA256, dig, 32, 0),
	    SIGNET_ERR_FORMAT);
	CHECK_EQ_INT(cades_prepare(&p, ec_cert, CADES_SHA256, NULL, 32, 0),
	    SIGNET_ERR_FORMAT);
	CHECK(p.cert == NULL && p.signed_attrs == NULL);

	/* finish, ECDSA: r||s must be exactly 2 * 32 bytes for P-256 */
	REQUIRE(cades_prepare(&p, ec_cert, CADES_SHA256, dig, 32, 0) == 0);
	REQUIRE(fx_softsign(ec, &p, raw, &rawlen) == 0);
	REQUIRE(rawlen == 64);
	CHECK_EQ_INT(cades_finish(&p, raw, 63, &sig, &siglen),
	    SIGNET_ERR_FORMAT);
	CHECK(sig == NULL && siglen == 0);
	CHECK_EQ_INT(cades_finish(&p, raw, 65, &sig, &siglen),
	    SIGNET_ERR_FORMAT);
	CHECK_EQ_INT(cades_finish(&p, raw, 96, &sig, &siglen),
	    SIGNET_ERR_FORMAT);
	CHECK_EQ_INT(cades_finish(&p, raw, 0, &sig, &siglen),
	    SIGNET_ERR_FORMAT);
	CHECK_EQ_INT(cades_finish(&p, NULL, 64, &sig, &siglen),
	    SIGNET_ERR_FORMAT);
	CHECK_EQ_INT(cades_finish(&p, raw, 2048, &sig, &siglen),
	    SIGNET_ERR_LIMIT);
	CHECK(sig == NULL);
	/* right length, wrong value: the signer's output is checked */
	raw[10] ^= 0x40;
	CHECK_EQ_INT(cades_finish(&p, raw, 64, &sig, &siglen),
	    SIGNET_ERR_CRYPTO);
	memset(raw, 0, 64); /* r = s = 0 */
	CHECK_EQ_INT(cades_finish(&p, raw, 64, &sig, &siglen),
	    SIGNET_ERR_CRYPTO);
	CHECK(sig == NULL);
	/* a key that is not the certificate's (a CKA_ID mix-up) */
	REQUIRE(fx_softsign(ec2, &p, raw, &rawlen) == 0);
	CHECK_EQ_INT(cades_finish(&p, raw, rawlen, &sig, &siglen),
	    SIGNET_ERR_CRYPTO);
	/* and the real one still works afterwards */
	REQUIRE(fx_softsign(ec, &p, raw, &rawlen) == 0);
	CHECK_EQ_INT(cades_finish(&p, raw, rawlen, &sig, &siglen), 0);
	free(sig);
	sig = NULL;
	cades_prep_clear(&p);

	/* P-384: 96 bytes, so a P-256-sized signature is refused */
	REQUIRE(cades_prepare(&q, ec384_cert, CADES_SHA384, dig, 48, 0) == 0);
	CHECK_EQ_INT(q.ec_order_bytes, 48);
	CHECK_EQ_INT(cades_finish(&q, raw, 64, &sig, &siglen),
	    SIGNET_ERR_FORMAT);
	cades_prep_clear(&q);

	/* finish, RSA: exactly the modulus length */
	REQUIRE(cades_prepare(&p, rsa_cert, CADES_SHA512, dig, 64, 0) == 0);
	REQUIRE(fx_softsign(rsa, &p, raw, &rawlen) == 0);
	REQUIRE(rawlen == 256);
	CHECK_EQ_INT(cades_finish(&p, raw, 255, &sig, &siglen),
	    SIGNET_ERR_FORMAT);
	CHECK_EQ_INT(cades_finish(&p, raw, 257, &sig, &siglen),
	    SIGNET_ERR_FORMAT);
	raw[100] ^= 1;
	CHECK_EQ_INT(cades_finish(&p, raw, 256, &sig, &siglen),
	    SIGNET_ERR_CRYPTO);
	raw[100] ^= 1;
	CHECK_EQ_INT(cades_finish(&p, raw, 256, &sig, &siglen), 0);
	free(sig);
	sig = NULL;
	cades_prep_clear(&p);

	/* a cleared prep is refused, not dereferenced */
	CHECK_EQ_INT(cades_finish(&p, raw, 256, &sig, &siglen),
	    SIGNET_ERR_FORMAT);
	cades_prep_clear(&p); /* twice is fine */
	cades_prep_clear(NULL);

	X509_free(ec_cert);
	X509_free(rsa_cert);
	X509_free(ed_cert);
	X509_free(ec384_cert);
	EVP_PKEY_free(ec);
	EVP_PKEY_free(ec2);
	EVP_PKEY_free(ec384);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ed);
}

/* SignerInfo of a GOST signature: Streebog digestAlgorithm with NULL, the
 * key OID with NULL as signatureAlgorithm, signingCertificateV2 naming
 * Streebog-256 (parameters absent) over the certificate's DER. */
static void
check_gost_fields(const uint8_t *sig, size_t n, X509 *cert, int key_type,
    enum cades_digest dg)
{
	const unsigned char *q = sig;
	unsigned char *re = NULL;
	CMS_ContentInfo *cms;
	CMS_SignerInfo *si;
	X509_ALGOR *da = NULL, *sa = NULL;
	const ASN1_OBJECT *obj;
	const void *pval;
	int ptype, rl;

	REQUIRE((cms = d2i_CMS_ContentInfo(NULL, &q, (long)n)) != NULL);
	REQUIRE(sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)) == 1);
	si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
	CHECK_EQ_INT(CMS_signed_get_attr_count(si), 4);
	CMS_SignerInfo_get0_algs(si, NULL, NULL, &da, &sa);
	X509_ALGOR_get0(&obj, &ptype, &pval, da);
	CHECK_EQ_INT(OBJ_obj2nid(obj), dg == CADES_STREEBOG256 ?
	    NID_id_GostR3411_2012_256 : NID_id_GostR3411_2012_512);
	CHECK_EQ_INT(ptype, V_ASN1_NULL);
	X509_ALGOR_get0(&obj, &ptype, &pval, sa);
	CHECK_EQ_INT(OBJ_obj2nid(obj), key_type);
	CHECK_EQ_INT(ptype, V_ASN1_NULL);

	/* DER is canonical: re-encoding gives our bytes */
	REQUIRE((rl = i2d_CMS_ContentInfo(cms, &re)) > 0);
	CHECK((size_t)rl == n && memcmp(re, sig, n) == 0);
	OPENSSL_free(re);
	CMS_ContentInfo_free(cms);
	(void)cert;
}

/* ESSCertIDv2 of a GOST certificate: hashAlgorithm Streebog-256 stated,
 * parameters absent, and the Streebog-256 hash of the certificate. */
static void
check_gost_ess(const struct cades_prep *p, X509 *cert)
{
	static const uint8_t alg[] = { 0x30, 0x0a, 0x06, 0x08, 0x2a, 0x85,
	    0x03, 0x07, 0x01, 0x01, 0x02, 0x02 };
	const uint8_t *v, *c, *e;
	unsigned char *cder = NULL;
	uint8_t ch[32], tag;
	unsigned int chl = 0;
	size_t vl = 0, cl, el;
	int n, i;

	v = find_attr(p->signed_attrs, p->signed_attrs_len,
	    "1.2.840.113549.1.9.16.2.47", &vl);
	REQUIRE(v != NULL);
	/* SigningCertificateV2, certs, ESSCertIDv2 */
	for (i = 0; i < 3; i++) {
		REQUIRE(der_next(&v, &vl, &tag, &c, &cl) == 0);
		REQUIRE(tag == DER_SEQUENCE);
		v = c;
		vl = cl;
	}
	CHECK(vl > sizeof(alg) && memcmp(v, alg, sizeof(alg)) == 0);
	v += sizeof(alg);
	vl -= sizeof(alg);
	REQUIRE(der_next(&v, &vl, &tag, &e, &el) == 0);
	REQUIRE((n = i2d_X509(cert, &cder)) > 0);
	REQUIRE(EVP_Digest(cder, (size_t)n, ch, &chl,
	    EVP_get_digestbyname("md_gost12_256"), NULL) == 1 && chl == 32);
	CHECK(tag == DER_OCTET_STRING && el == 32 && memcmp(e, ch, 32) == 0);
	OPENSSL_free(cder);
}

/* One GOST key through both PKCS#11 paths: the hash mechanism (no list,
 * or a list without the combined one) and the combined one. */
static void
sign_and_verify_gost(const char *kind, enum cades_digest dg, int key_type,
    unsigned long hashmech, unsigned long combined)
{
	uint8_t doc[5000], dig[64], raw[1024], *sig = NULL;
	size_t rawlen = 0, siglen = 0, hl = cades_digest_len(dg);
	const unsigned long only_hash[] = { CADES_CKM_RSA_PKCS, hashmech };
	const unsigned long both[] = { hashmech, CADES_CKM_ECDSA, combined };
	const unsigned long *lists[] = { NULL, only_hash, both };
	const size_t nlists[] = { 0, 2, 3 };
	struct cades_prep p;
	EVP_PKEY *key = fx_key(kind);
	X509 *cert = leaf(key, kind);
	size_t i;

	REQUIRE(RAND_bytes(doc, sizeof(doc)) == 1);
	digest(dg, doc, sizeof(doc), dig);
	for (i = 0; i < 3; i++) {
		CHECK_EQ_INT(cades_prepare_ex(&p, cert, dg, dig, hl, time(NULL),
		    lists[i], nlists[i]), 0);
		CHECK_EQ_INT(p.key_type, key_type);
		CHECK_EQ_INT(p.ec_order_bytes, hl);
		CHECK_EQ_INT(p.attrs_hash_len, hl);
		if (i < 2) {
			CHECK_EQ_INT(p.mechanism, hashmech);
			/* the hash of the signed attributes, as Streebog
			 * outputs it: no byte reversal */
			CHECK(p.tbs_len == hl &&
			    memcmp(p.tbs, p.attrs_hash, hl) == 0);
		} else {
			CHECK_EQ_INT(p.mechanism, combined);
			CHECK(p.tbs_len == p.signed_attrs_len &&
			    memcmp(p.tbs, p.signed_attrs, p.tbs_len) == 0);
		}
		REQUIRE(fx_softsign(key, &p, raw, &rawlen) == 0);
		CHECK_EQ_INT(rawlen, 2 * hl);
		CHECK_EQ_INT(cades_finish(&p, raw, rawlen, &sig, &siglen), 0);
		REQUIRE(sig != NULL);
		CHECK_EQ_INT(cms_verify(sig, siglen, doc, sizeof(doc)), 1);
		check_gost_fields(sig, siglen, cert, key_type, dg);
		check_gost_ess(&p, cert);
		doc[4321] ^= 0x80;
		CHECK_EQ_INT(cms_verify(sig, siglen, doc, sizeof(doc)), 0);
		doc[4321] ^= 0x80;
		free(sig);
		sig = NULL;

		/* r||s instead of s||r: refused, not wrapped */
		memcpy(raw + 2 * hl, raw, hl);
		memmove(raw, raw + hl, hl);
		memcpy(raw + hl, raw + 2 * hl, hl);
		CHECK_EQ_INT(cades_finish(&p, raw, rawlen, &sig, &siglen),
		    SIGNET_ERR_CRYPTO);
		CHECK_EQ_INT(cades_finish(&p, raw, rawlen - 1, &sig, &siglen),
		    SIGNET_ERR_FORMAT);
		CHECK_EQ_INT(cades_finish(&p, raw, rawlen + 1, &sig, &siglen),
		    SIGNET_ERR_FORMAT);
		CHECK(sig == NULL);
		cades_prep_clear(&p);
		CHECK(p.tbs == NULL && p.signed_attrs == NULL);
	}
	X509_free(cert);
	EVP_PKEY_free(key);
}

static void
test_gost_errors(void)
{
	EVP_PKEY *g256 = fx_key("gost256"), *g512 = fx_key("gost512");
	EVP_PKEY *rsa = fx_key("rsa2048"), *ec = fx_key("p256");
	X509 *c256 = leaf(g256, "g256"), *c512 = leaf(g512, "g512");
	X509 *crsa = leaf(rsa, "rsa"), *cec = leaf(ec, "ec");
	const unsigned long none[] = { CADES_CKM_RSA_PKCS, CADES_CKM_ECDSA };
	const unsigned long wrong[] = { CADES_CKM_GOSTR3410_512,
	    CADES_CKM_GOSTR3410_WITH_GOSTR3411_12_512 };
	const unsigned long rsa_only[] = { CADES_CKM_RSA_PKCS };
	uint8_t dig[64] = { 7 };
	struct cades_prep p;

	/* key and digest go together */
	CHECK_EQ_INT(cades_prepare(&p, c256, CADES_STREEBOG512, dig, 64, 0),
	    SIGNET_ERR_UNSUPPORTED);
	CHECK_EQ_INT(cades_prepare(&p, c512, CADES_STREEBOG256, dig, 32, 0),
	    SIGNET_ERR_UNSUPPORTED);
	CHECK_EQ_INT(cades_prepare(&p, c256, CADES_SHA256, dig, 32, 0),
	    SIGNET_ERR_UNSUPPORTED);
	CHECK_EQ_INT(cades_prepare(&p, crsa, CADES_STREEBOG256, dig, 32, 0),
	    SIGNET_ERR_UNSUPPORTED);
	CHECK_EQ_INT(cades_prepare(&p, cec, CADES_STREEBOG512, dig, 64, 0),
	    SIGNET_ERR_UNSUPPORTED);
	CHECK_EQ_INT(cades_prepare(&p, c256, CADES_STREEBOG256, dig, 64, 0),
	    SIGNET_ERR_FORMAT);
	CHECK(p.cert == NULL && p.tbs == NULL);

	/* the token's list decides */
	CHECK_EQ_INT(cades_prepare_ex(&p, c256, CADES_STREEBOG256, dig, 32, 0,
	    none, 2), SIGNET_ERR_UNSUPPORTED);
	CHECK_EQ_INT(cades_prepare_ex(&p, c256, CADES_STREEBOG256, dig, 32, 0,
	    wrong, 2), SIGNET_ERR_UNSUPPORTED);
	CHECK_EQ_INT(cades_prepare_ex(&p, c256, CADES_STREEBOG256, dig, 32, 0,
	    none, 0), SIGNET_ERR_UNSUPPORTED); /* an empty list */
	CHECK_EQ_INT(cades_prepare_ex(&p, c256, CADES_STREEBOG256, dig, 32, 0,
	    NULL, 1), SIGNET_ERR_FORMAT);
	CHECK_EQ_INT(cades_prepare_ex(&p, c512, CADES_STREEBOG512, dig, 64, 0,
	    wrong, 2), 0);
	CHECK_EQ_INT(p.mechanism, CADES_CKM_GOSTR3410_WITH_GOSTR3411_12_512);
	cades_prep_clear(&p);
	CHECK_EQ_INT(cades_prepare_ex(&p, c512, CADES_STREEBOG512, dig, 64, 0,
	    wrong, 1), 0);
	CHECK_EQ_INT(p.mechanism, CADES_CKM_GOSTR3410_512);
	cades_prep_clear(&p);
	/* RSA and EC: today's mechanisms, refused when the token lacks them */
	CHECK_EQ_INT(cades_prepare_ex(&p, crsa, CADES_SHA256, dig, 32, 0,
	    rsa_only, 1), 0);
	CHECK_EQ_INT(p.mechanism, CADES_CKM_RSA_PKCS);
	cades_prep_clear(&p);
	CHECK_EQ_INT(cades_prepare_ex(&p, cec, CADES_SHA256, dig, 32, 0,
	    rsa_only, 1), SIGNET_ERR_UNSUPPORTED);
	CHECK_EQ_INT(cades_prepare_ex(&p, cec, CADES_SHA256, dig, 32, 0,
	    none, 2), 0);
	CHECK_EQ_INT(p.mechanism, CADES_CKM_ECDSA);
	cades_prep_clear(&p);

	X509_free(c256);
	X509_free(c512);
	X509_free(crsa);
	X509_free(cec);
	EVP_PKEY_free(g256);
	EVP_PKEY_free(g512);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
}

/* One kind of key through cades_finish_ex(): with and without
 * CADES_FINISH_KEY_VERIFIED, on a good and on a damaged signature. */
static void
verified_flag(const char *kind, enum cades_digest dg, bool skippable)
{
	uint8_t doc[777], dig[64], raw[1024], *sig = NULL, *sig2 = NULL;
	size_t rawlen = 0, siglen = 0, siglen2 = 0, hl = cades_digest_len(dg);
	const unsigned k = CADES_FINISH_KEY_VERIFIED;
	struct cades_prep p;
	EVP_PKEY *key = fx_key(kind);
	X509 *cert = leaf(key, kind);

	REQUIRE(RAND_bytes(doc, sizeof(doc)) == 1);
	digest(dg, doc, sizeof(doc), dig);
	REQUIRE(cades_prepare(&p, cert, dg, dig, hl, time(NULL)) == 0);
	CHECK(cades_verify_skippable(&p) == skippable);
	REQUIRE(fx_softsign(key, &p, raw, &rawlen) == 0);

	/* A good signature: the same bytes either way. */
	CHECK_EQ_INT(cades_finish(&p, raw, rawlen, &sig, &siglen), 0);
	CHECK_EQ_INT(cades_finish_ex(&p, raw, rawlen, k, &sig2, &siglen2), 0);
	CHECK(sig != NULL && sig2 != NULL && siglen == siglen2 &&
	    memcmp(sig, sig2, siglen) == 0);
	CHECK_EQ_INT(cms_verify(sig2, siglen2, doc, sizeof(doc)), 1);
	free(sig);
	free(sig2);
	sig = sig2 = NULL;

	/* A damaged one: refused without the flag; with it RSA is still
	 * refused, while EC and GOST are wrapped unchecked (what the flag
	 * means), and the result does not verify. */
	raw[rawlen / 2] ^= 0x10;
	CHECK_EQ_INT(cades_finish(&p, raw, rawlen, &sig, &siglen),
	    SIGNET_ERR_CRYPTO);
	CHECK(sig == NULL && siglen == 0);
	if (skippable) {
		CHECK_EQ_INT(cades_finish_ex(&p, raw, rawlen, k, &sig, &siglen),
		    0);
		REQUIRE(sig != NULL);
		CHECK_EQ_INT(cms_verify(sig, siglen, doc, sizeof(doc)), 0);
		free(sig);
		sig = NULL;
	} else
		CHECK_EQ_INT(cades_finish_ex(&p, raw, rawlen, k, &sig, &siglen),
		    SIGNET_ERR_CRYPTO);
	/* Its shape is checked whatever the flag. */
	CHECK_EQ_INT(cades_finish_ex(&p, raw, rawlen - 1, k, &sig, &siglen),
	    SIGNET_ERR_FORMAT);
	/* Unknown flags are refused. */
	raw[rawlen / 2] ^= 0x10;
	CHECK_EQ_INT(cades_finish_ex(&p, raw, rawlen, 0x2, &sig, &siglen),
	    SIGNET_ERR_FORMAT);
	CHECK_EQ_INT(cades_finish_ex(&p, raw, rawlen, k | 0x80, &sig,
	    &siglen), SIGNET_ERR_FORMAT);
	CHECK(sig == NULL && siglen == 0);
	cades_prep_clear(&p);
	CHECK(!cades_verify_skippable(&p));
	CHECK_EQ_INT(cades_finish_ex(&p, raw, rawlen, k, &sig, &siglen),
	    SIGNET_ERR_FORMAT);
	X509_free(cert);
	EVP_PKEY_free(key);
}

static void
test_verified_flag(void)
{
	verified_flag("rsa2048", CADES_SHA256, false);
	verified_flag("p256", CADES_SHA256, true);
	verified_flag("p384", CADES_SHA384, true);
	verified_flag("gost256", CADES_STREEBOG256, true);
	verified_flag("gost512", CADES_STREEBOG512, true);
	CHECK(!cades_verify_skippable(NULL));
}

int
main(void)
{
	struct fx_cert_opts co = {
		.subject = "/C=RU/O=Signet Test/CN=Signet Test CA",
		.serial_hex = "01",
		.not_before = time(NULL) - 86400,
		.not_after = time(NULL) + 86400 * 3650,
		.key_usage = KU_KEY_CERT_SIGN | KU_CRL_SIGN,
		.ca = 1,
	};

	/* GOST is a requirement of this build (docs/gost.md): no skipping */
	REQUIRE(gost_init(NULL) == 0);
	ca_key = fx_key("p256");
	ca = fx_cert(ca_key, NULL, NULL, &co);

	sign_and_verify("rsa2048", 0);
	sign_and_verify("p256", 32);
	sign_and_verify("p384", 48);
	sign_and_verify("p521", 66);
	test_signing_time();
	test_errors();
	sign_and_verify_gost("gost256", CADES_STREEBOG256,
	    CADES_KEY_GOST2012_256, CADES_CKM_GOSTR3410,
	    CADES_CKM_GOSTR3410_WITH_GOSTR3411_12_256);
	sign_and_verify_gost("gost512", CADES_STREEBOG512,
	    CADES_KEY_GOST2012_512, CADES_CKM_GOSTR3410_512,
	    CADES_CKM_GOSTR3410_WITH_GOSTR3411_12_512);
	test_gost_errors();
	test_verified_flag();

	X509_free(ca);
	EVP_PKEY_free(ca_key);
	if (fx_failures != 0) {
		fprintf(stderr, "cades_test: %d failure(s)\n", fx_failures);
		return 1;
	}
	printf("cades_test: ok\n");
	return 0;
}
