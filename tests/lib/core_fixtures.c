/*
 * Test fixtures for the signet_core unit tests. Contains a SOFTWARE
 * SIGNER for tests only: the agent itself only ever signs on tokens.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "tests/lib/core_fixtures.h"

int fx_failures;

/* A GOST R 34.10-2012 key from the gost engine (gost_init() first). */
static EVP_PKEY *
gost_keygen(int nid, const char *paramset)
{
	EVP_PKEY_CTX *ctx;
	EVP_PKEY *k = NULL;

	if ((ctx = EVP_PKEY_CTX_new_id(nid, NULL)) == NULL)
		return NULL;
	if (EVP_PKEY_keygen_init(ctx) != 1 ||
	    EVP_PKEY_CTX_ctrl_str(ctx, "paramset", paramset) != 1 ||
	    EVP_PKEY_keygen(ctx, &k) != 1)
		k = NULL;
	EVP_PKEY_CTX_free(ctx);
	return k;
}

/* The digest a certificate is signed with by issuer_key. */
static const EVP_MD *
cert_md(EVP_PKEY *issuer_key)
{
	switch (EVP_PKEY_get_base_id(issuer_key)) {
	case EVP_PKEY_ED25519:
		return NULL;
	case NID_id_GostR3410_2012_256:
		return EVP_get_digestbyname("md_gost12_256");
	case NID_id_GostR3410_2012_512:
		return EVP_get_digestbyname("md_gost12_512");
	}
	return EVP_sha256();
}

EVP_PKEY *
fx_key(const char *kind)
{
	EVP_PKEY *k = NULL;

	if (strcmp(kind, "rsa2048") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else if (strcmp(kind, "p256") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	else if (strcmp(kind, "p384") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	else if (strcmp(kind, "p521") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
	else if (strcmp(kind, "ed25519") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else if (strcmp(kind, "gost256") == 0)
		k = gost_keygen(NID_id_GostR3410_2012_256, "A");
	else if (strcmp(kind, "gost512") == 0)
		k = gost_keygen(NID_id_GostR3410_2012_512, "A");
	if (k == NULL) {
		fprintf(stderr, "fx_key %s failed\n", kind);
		ERR_print_errors_fp(stderr);
		exit(1);
	}
	return k;
}

static void
fx_name(X509_NAME *n, const char *spec)
{
	char buf[512], *save = NULL, *tok, *eq;

	snprintf(buf, sizeof(buf), "%s", spec);
	for (tok = strtok_r(buf, "/", &save); tok != NULL;
	    tok = strtok_r(NULL, "/", &save)) {
		REQUIRE((eq = strchr(tok, '=')) != NULL);
		*eq = '\0';
		REQUIRE(X509_NAME_add_entry_by_txt(n, tok, MBSTRING_UTF8,
		    (const unsigned char *)eq + 1, -1, -1, 0) == 1);
	}
}

X509 *
fx_cert(EVP_PKEY *key, EVP_PKEY *issuer_key, X509 *issuer,
    const struct fx_cert_opts *o)
{
	X509 *x;
	BIGNUM *bn = NULL;
	ASN1_INTEGER *sn;
	ASN1_BIT_STRING *ku;
	BASIC_CONSTRAINTS *bc;
	const EVP_MD *md;
	int i;

	REQUIRE((x = X509_new()) != NULL);
	REQUIRE(X509_set_version(x, 2) == 1);
	REQUIRE(BN_hex2bn(&bn, o->serial_hex ? o->serial_hex : "1") > 0);
	REQUIRE((sn = BN_to_ASN1_INTEGER(bn, NULL)) != NULL);
	REQUIRE(X509_set_serialNumber(x, sn) == 1);
	ASN1_INTEGER_free(sn);
	BN_free(bn);
	REQUIRE(ASN1_TIME_set(X509_getm_notBefore(x), o->not_before) != NULL);
	REQUIRE(ASN1_TIME_set(X509_getm_notAfter(x), o->not_after) != NULL);
	fx_name(X509_get_subject_name(x), o->subject);
	REQUIRE(X509_set_issuer_name(x, issuer != NULL ?
	    X509_get_subject_name(issuer) : X509_get_subject_name(x)) == 1);
	REQUIRE(X509_set_pubkey(x, key) == 1);
	if (o->key_usage != FX_KU_NONE) {
		REQUIRE((ku = ASN1_BIT_STRING_new()) != NULL);
		for (i = 0; i < 9; i++) {
			/* KU_* are the bits of the first octet, then 0x8000 */
			int bit = i < 8 ? (0x80 >> i) : 0x8000;

			if (o->key_usage & bit)
				REQUIRE(ASN1_BIT_STRING_set_bit(ku, i, 1) == 1);
		}
		REQUIRE(X509_add1_ext_i2d(x, NID_key_usage, ku, 1, 0) == 1);
		ASN1_BIT_STRING_free(ku);
	}
	if (o->ca) {
		REQUIRE((bc = BASIC_CONSTRAINTS_new()) != NULL);
		bc->ca = 0xff;
		REQUIRE(X509_add1_ext_i2d(x, NID_basic_constraints, bc, 1,
		    0) == 1);
		BASIC_CONSTRAINTS_free(bc);
	}
	if (issuer_key == NULL)
		issuer_key = key;
	md = cert_md(issuer_key);
	REQUIRE(X509_sign(x, issuer_key, md) > 0);
	return x;
}

int
fx_softsign(EVP_PKEY *key, const struct cades_prep *p, uint8_t *out,
    size_t *out_len)
{
	EVP_PKEY_CTX *ctx = NULL;
	ECDSA_SIG *es = NULL;
	uint8_t der[256], h[64];
	unsigned int hl = 0;
	const unsigned char *q;
	const BIGNUM *r, *s;
	size_t n = sizeof(der);
	int ret = -1;

	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL)) == NULL ||
	    EVP_PKEY_sign_init(ctx) != 1)
		goto out;
	if (p->mechanism == 0x1 /* CKM_RSA_PKCS */) {
		if (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1)
			goto out;
		n = 1024;
		if (EVP_PKEY_sign(ctx, out, &n, p->tbs, p->tbs_len) != 1)
			goto out;
		*out_len = n;
		ret = 0;
	} else if (p->mechanism == 0x1041 /* CKM_ECDSA */) {
		if (EVP_PKEY_sign(ctx, der, &n, p->tbs, p->tbs_len) != 1)
			goto out;
		q = der;
		if ((es = d2i_ECDSA_SIG(NULL, &q, (long)n)) == NULL)
			goto out;
		ECDSA_SIG_get0(es, &r, &s);
		if (BN_bn2binpad(r, out, (int)p->ec_order_bytes) < 0 ||
		    BN_bn2binpad(s, out + p->ec_order_bytes,
		    (int)p->ec_order_bytes) < 0)
			goto out;
		*out_len = 2 * p->ec_order_bytes;
		ret = 0;
	} else if (p->mechanism == CADES_CKM_GOSTR3410 ||
	    p->mechanism == CADES_CKM_GOSTR3410_512) {
		/* the gost engine, like the token, signs the hash as given
		 * and returns s||r */
		n = 1024;
		if (EVP_PKEY_sign(ctx, out, &n, p->tbs, p->tbs_len) != 1)
			goto out;
		*out_len = n;
		ret = 0;
	} else if (p->mechanism == CADES_CKM_GOSTR3410_WITH_GOSTR3411_12_256 ||
	    p->mechanism == CADES_CKM_GOSTR3410_WITH_GOSTR3411_12_512) {
		/* the combined mechanism hashes the data on the token */
		if (EVP_Digest(p->tbs, p->tbs_len, h, &hl, cades_digest_md(
		    p->mechanism == CADES_CKM_GOSTR3410_WITH_GOSTR3411_12_256 ?
		    CADES_STREEBOG256 : CADES_STREEBOG512), NULL) != 1)
			goto out;
		n = 1024;
		if (EVP_PKEY_sign(ctx, out, &n, h, hl) != 1)
			goto out;
		*out_len = n;
		ret = 0;
	}
out:
	if (ret != 0)
		ERR_print_errors_fp(stderr);
	ECDSA_SIG_free(es);
	EVP_PKEY_CTX_free(ctx);
	return ret;
}

uint8_t *
fx_read_file(const char *path, size_t *len)
{
	FILE *f;
	uint8_t *p = NULL, *np;
	size_t cap = 0, n = 0, got;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			if ((np = realloc(p, cap)) == NULL)
				goto fail;
			p = np;
		}
		got = fread(p + n, 1, cap - n, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f))
		goto fail;
	fclose(f);
	*len = n;
	return p;
fail:
	free(p);
	fclose(f);
	return NULL;
}
