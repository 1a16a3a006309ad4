/*
 * Unit test of agent/certinfo.c on certificates made for the purpose: RSA
 * and EC, with and without keyUsage, Cyrillic and special-character
 * names, GeneralizedTime validity, odd serials, and broken DER; the
 * identifiers of Russian qualified certificates (SNILS, INN, INNLE, OGRN,
 * OGRNIP, subjectSignTool) and GOST keys.
 */
#include <string.h>

#include <openssl/x509v3.h>

#include "agent/certinfo.h"
#include "agent/gost.h"
#include "tests/lib/core_fixtures.h"

static EVP_PKEY *ca_key;
static X509 *ca;

static void
check_str(json_t *o, const char *key, const char *want, int line)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_string(v) || strcmp(json_string_value(v), want) != 0) {
		fprintf(stderr, "certinfo_test.c:%d: %s = %s, want \"%s\"\n",
		    line, key, json_is_string(v) ? json_string_value(v) :
		    "(not a string)", want);
		fx_failures++;
	}
}
#define CHECK_STR(o, k, w) check_str((o), (k), (w), __LINE__)

static void
check_ku(json_t *o, const char *const *want, size_t n, int line)
{
	json_t *a = json_object_get(o, "key_usage");
	size_t i;

	if (!json_is_array(a) || json_array_size(a) != n)
		goto bad;
	for (i = 0; i < n; i++)
		if (!json_is_string(json_array_get(a, i)) ||
		    strcmp(json_string_value(json_array_get(a, i)), want[i]))
			goto bad;
	return;
bad:
	fprintf(stderr, "certinfo_test.c:%d: key_usage differs\n", line);
	fx_failures++;
}
#define CHECK_KU(o, ...) do { \
	static const char *const w_[] = { __VA_ARGS__ }; \
	check_ku((o), w_, sizeof(w_) / sizeof(w_[0]) - 1, __LINE__); \
} while (0)

static void
fingerprint_hex(X509 *x, char out[65])
{
	unsigned char *der = NULL, md[32];
	unsigned int ml = 0;
	int n, i;

	REQUIRE((n = i2d_X509(x, &der)) > 0);
	REQUIRE(EVP_Digest(der, (size_t)n, md, &ml, EVP_sha256(), NULL) == 1);
	for (i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
	OPENSSL_free(der);
}

/* DER, then certinfo_parse, so the tests go the way the agent does. */
static X509 *
reparse(X509 *x)
{
	unsigned char *der = NULL;
	X509 *y;
	int n;

	REQUIRE((n = i2d_X509(x, &der)) > 0);
	y = certinfo_parse(der, (size_t)n);
	REQUIRE(y != NULL);
	OPENSSL_free(der);
	X509_free(x);
	return y;
}

static void
test_rsa(void)
{
	EVP_PKEY *k = fx_key("rsa2048");
	struct fx_cert_opts o = {
		.subject = "/C=RU/O=Signet Test/CN=Test User",
		.serial_hex = "0A1B",
		.not_before = 1700000000,            /* 2023-11-14T22:13:20Z */
		.not_after = 2524608000,             /* 2050-01-01, GenTime */
		.key_usage = KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION,
	};
	X509 *x = reparse(fx_cert(k, ca_key, ca, &o));
	json_t *j = json_object();
	char fp[65];
	uint8_t raw[32], der_fp[32];

	REQUIRE(j != NULL);
	REQUIRE(json_object_set_new(j, "label", json_string("kept")) == 0);
	CHECK_EQ_INT(certinfo_to_json(x, j), 0);
	fingerprint_hex(x, fp);
	CHECK_STR(j, "sha256", fp);
	CHECK_STR(j, "subject", "CN=Test User,O=Signet Test,C=RU");
	CHECK_STR(j, "issuer", "CN=Signet CA,O=Signet Test,C=RU");
	CHECK_STR(j, "serial", "0a1b");
	CHECK_STR(j, "not_before", "2023-11-14T22:13:20Z");
	CHECK_STR(j, "not_after", "2050-01-01T00:00:00Z");
	CHECK_STR(j, "key_type", "rsa");
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "key_bits")), 2048);
	CHECK(json_object_get(j, "curve") == NULL);
	CHECK_KU(j, "digitalSignature", "nonRepudiation", NULL);
	CHECK_STR(j, "label", "kept"); /* other fields left alone */
	CHECK_EQ_INT(json_object_size(j), 10);

	certinfo_sha256(x, raw);
	for (int i = 0; i < 32; i++) {
		unsigned v;

		sscanf(fp + 2 * i, "%02x", &v);
		der_fp[i] = (uint8_t)v;
	}
	CHECK(memcmp(raw, der_fp, 32) == 0);

	json_decref(j);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void
test_ec(void)
{
	EVP_PKEY *k256 = fx_key("p256"), *k384 = fx_key("p384");
	struct fx_cert_opts o = {
		/* Cyrillic stays UTF-8; RFC 2253 specials are escaped */
		.subject = "/C=RU/O=Doe, Inc+Co/CN=\xd0\x98\xd0\xb2\xd0\xb0"
		    "\xd0\xbd\xd0\xbe\xd0\xb2 \xd0\x98.\xd0\x98.",
		.serial_hex = "FF00000000000000000000000000000001",
		.not_before = 946684800,            /* 2000-01-01 */
		.not_after = 2145916799,            /* 2037-12-31T23:59:59Z */
		.key_usage = FX_KU_NONE,
	};
	json_t *j = json_object();
	X509 *x = reparse(fx_cert(k384, ca_key, ca, &o));

	CHECK_EQ_INT(certinfo_to_json(x, j), 0);
	CHECK_STR(j, "subject", "CN=\xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd\xd0\xbe"
	    "\xd0\xb2 \xd0\x98.\xd0\x98.,O=Doe\\, Inc\\+Co,C=RU");
	CHECK_STR(j, "serial", "ff00000000000000000000000000000001");
	CHECK_STR(j, "not_before", "2000-01-01T00:00:00Z");
	CHECK_STR(j, "not_after", "2037-12-31T23:59:59Z");
	CHECK_STR(j, "key_type", "ec");
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "key_bits")), 384);
	CHECK_STR(j, "curve", "secp384r1");
	CHECK_KU(j, NULL); /* no extension: [] */
	json_decref(j);
	X509_free(x);

	/* every key usage bit, and a zero serial */
	o.subject = "/CN=all";
	o.serial_hex = "0";
	o.key_usage = KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION |
	    KU_KEY_ENCIPHERMENT | KU_DATA_ENCIPHERMENT | KU_KEY_AGREEMENT |
	    KU_KEY_CERT_SIGN | KU_CRL_SIGN | KU_ENCIPHER_ONLY |
	    KU_DECIPHER_ONLY;
	x = reparse(fx_cert(k256, ca_key, ca, &o));
	j = json_object();
	CHECK_EQ_INT(certinfo_to_json(x, j), 0);
	CHECK_STR(j, "subject", "CN=all");
	CHECK_STR(j, "serial", "00");
	CHECK_STR(j, "curve", "prime256v1");
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "key_bits")), 256);
	CHECK_KU(j, "digitalSignature", "nonRepudiation", "keyEncipherment",
	    "dataEncipherment", "keyAgreement", "keyCertSign", "cRLSign",
	    "encipherOnly", "decipherOnly", NULL);
	json_decref(j);
	X509_free(x);

	/* keyAgreement only */
	o.key_usage = KU_KEY_AGREEMENT;
	o.serial_hex = "123";
	x = reparse(fx_cert(k256, ca_key, ca, &o));
	j = json_object();
	CHECK_EQ_INT(certinfo_to_json(x, j), 0);
	CHECK_STR(j, "serial", "0123");
	CHECK_KU(j, "keyAgreement", NULL);
	json_decref(j);
	X509_free(x);

	EVP_PKEY_free(k256);
	EVP_PKEY_free(k384);
}

static void
test_other_key(void)
{
	EVP_PKEY *k = fx_key("ed25519");
	struct fx_cert_opts o = {
		.subject = "/CN=ed", .not_before = 0, .not_after = 86400,
		.key_usage = KU_DIGITAL_SIGNATURE,
	};
	X509 *x = reparse(fx_cert(k, ca_key, ca, &o));
	json_t *j = json_object();

	CHECK_EQ_INT(certinfo_to_json(x, j), 0);
	CHECK_STR(j, "key_type", "ed25519");
	CHECK_EQ_INT(json_integer_value(json_object_get(j, "key_bits")), 256);
	CHECK(json_object_get(j, "curve") == NULL);
	CHECK_STR(j, "serial", "01");
	CHECK_STR(j, "not_before", "1970-01-01T00:00:00Z");
	json_decref(j);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void
test_parse(void)
{
	EVP_PKEY *k = fx_key("p256");
	struct fx_cert_opts o = {
		.subject = "/CN=p", .not_before = 0, .not_after = 86400,
		.key_usage = FX_KU_NONE,
	};
	X509 *x = fx_cert(k, ca_key, ca, &o), *y;
	unsigned char *der = NULL, *ext;
	json_t *j;
	int n;

	REQUIRE((n = i2d_X509(x, &der)) > 0);
	y = certinfo_parse(der, (size_t)n);
	CHECK(y != NULL && X509_cmp(x, y) == 0);
	X509_free(y);
	CHECK(certinfo_parse(der, (size_t)n - 1) == NULL);  /* truncated */
	CHECK(certinfo_parse(der, 10) == NULL);
	CHECK(certinfo_parse(der, 0) == NULL);
	CHECK(certinfo_parse(NULL, 100) == NULL);
	REQUIRE((ext = malloc((size_t)n + 1)) != NULL);
	memcpy(ext, der, (size_t)n);
	ext[n] = 0x00;
	CHECK(certinfo_parse(ext, (size_t)n + 1) == NULL);  /* trailing */
	ext[0] = 0x31;                                      /* a SET */
	CHECK(certinfo_parse(ext, (size_t)n) == NULL);
	ext[0] = 0x30;
	ext[1] ^= 0x01;                                     /* length */
	CHECK(certinfo_parse(ext, (size_t)n) == NULL);
	free(ext);

	/* not an object: refused, nothing touched */
	j = json_array();
	CHECK_EQ_INT(certinfo_to_json(x, j), SIGNET_ERR_FORMAT);
	CHECK_EQ_INT(json_array_size(j), 0);
	json_decref(j);
	j = json_object();
	CHECK_EQ_INT(certinfo_to_json(NULL, j), SIGNET_ERR_FORMAT);
	CHECK_EQ_INT(json_object_size(j), 0);
	CHECK_EQ_INT(certinfo_to_json(x, NULL), SIGNET_ERR_FORMAT);
	json_decref(j);

	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(k);
}

/* A subject attribute as a UTF8String whatever OpenSSL's table says (it
 * wants NumericString of fixed sizes for SNILS, INN, OGRN), re-signed. */
static X509 *
with_attr(X509 *x, const char *oid, const char *value)
{
	REQUIRE(X509_NAME_add_entry_by_txt(X509_get_subject_name(x), oid,
	    V_ASN1_UTF8STRING, (const unsigned char *)value, -1, -1, 0) == 1);
	REQUIRE(X509_sign(x, ca_key, EVP_sha256()) > 0);
	return x;
}

/* subjectSignTool (1.2.643.100.111): a UTF8String, added and re-signed */
static X509 *
with_sign_tool(X509 *x, const char *tool)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(CERTINFO_OID_SIGN_TOOL, 1);
	ASN1_UTF8STRING *u = ASN1_UTF8STRING_new();
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext;
	unsigned char *der = NULL;
	int n;

	REQUIRE(obj != NULL && u != NULL && os != NULL);
	REQUIRE(ASN1_STRING_set(u, tool, -1) == 1);
	REQUIRE((n = i2d_ASN1_UTF8STRING(u, &der)) > 0);
	REQUIRE(ASN1_OCTET_STRING_set(os, der, n) == 1);
	REQUIRE((ext = X509_EXTENSION_create_by_OBJ(NULL, obj, 0, os)) != NULL);
	REQUIRE(X509_add_ext(x, ext, -1) == 1);
	REQUIRE(X509_sign(x, ca_key, EVP_sha256()) > 0);
	X509_EXTENSION_free(ext);
	OPENSSL_free(der);
	ASN1_OCTET_STRING_free(os);
	ASN1_UTF8STRING_free(u);
	ASN1_OBJECT_free(obj);
	return x;
}

static void
test_ru_ids(void)
{
	EVP_PKEY *k = fx_key("p256");
	struct fx_cert_opts o = {
		/* INN of an organisation in the old "00" form, INNLE, OGRN,
		 * OGRNIP; SNILS added below with the usual separators */
		.subject = "/C=RU/CN=\xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd"
		    "/1.2.643.3.131.1.1=009649397010"
		    "/1.2.643.100.4=9649397010"
		    "/1.2.643.100.1=1027700132195"
		    "/1.2.643.100.5=312345678901234",
		.not_before = 0, .not_after = 86400,
		.key_usage = FX_KU_NONE,
	};
	struct certinfo_ids ids;
	X509 *x;
	json_t *j;

	x = reparse(with_sign_tool(with_attr(fx_cert(k, ca_key, ca, &o),
	    CERTINFO_OID_SNILS, "123-456-789 01"),
	    "\xd0\x9a\xd1\x80\xd0\xb8\xd0\xbf\xd1\x82\xd0\xbe\xd0\x9f"
	    "\xd1\x80\xd0\xbe CSP 5.0"));
	REQUIRE((j = json_object()) != NULL);
	CHECK_EQ_INT(certinfo_to_json(x, j), 0);
	CHECK_STR(j, "snils", "12345678901");
	CHECK_STR(j, "inn", "009649397010");
	CHECK_STR(j, "innle", "9649397010");
	CHECK_STR(j, "ogrn", "1027700132195");
	CHECK_STR(j, "ogrnip", "312345678901234");
	CHECK_STR(j, "subject_sign_tool",
	    "\xd0\x9a\xd1\x80\xd0\xb8\xd0\xbf\xd1\x82\xd0\xbe\xd0\x9f"
	    "\xd1\x80\xd0\xbe CSP 5.0");
	CHECK_EQ_INT(json_object_size(j), 16);
	certinfo_ids(x, &ids);
	CHECK(strcmp(ids.snils, "12345678901") == 0);
	CHECK(strcmp(ids.innle, "9649397010") == 0);
	json_decref(j);
	X509_free(x);

	/* not digits, or too long: left out, never half-reported */
	o.subject = "/CN=bad";
	x = reparse(with_attr(with_attr(fx_cert(k, ca_key, ca, &o),
	    CERTINFO_OID_SNILS, "1234567890x"), CERTINFO_OID_OGRN,
	    "123456789012345678901234567890123"));
	REQUIRE((j = json_object()) != NULL);
	CHECK_EQ_INT(certinfo_to_json(x, j), 0);
	CHECK(json_object_get(j, "snils") == NULL);
	CHECK(json_object_get(j, "ogrn") == NULL);
	CHECK(json_object_get(j, "subject_sign_tool") == NULL);
	CHECK_EQ_INT(json_object_size(j), 10);
	certinfo_ids(x, &ids);
	CHECK(ids.snils[0] == '\0' && ids.ogrn[0] == '\0' &&
	    ids.inn[0] == '\0');
	json_decref(j);
	X509_free(x);
	certinfo_ids(NULL, &ids);
	CHECK(ids.snils[0] == '\0');
	EVP_PKEY_free(k);
}

/* GOST keys read through the gost engine. */
static void
test_gost(void)
{
	static const struct {
		const char *kind, *type;
		int bits;
	} g[] = { { "gost256", "gost2012_256", 256 },
	    { "gost512", "gost2012_512", 512 } };
	struct fx_cert_opts o = {
		.subject = "/CN=g", .not_before = 0, .not_after = 86400,
		.key_usage = FX_KU_NONE,
	};
	EVP_PKEY *k;
	X509 *x;
	json_t *j;
	size_t i;

	for (i = 0; i < 2; i++) {
		k = fx_key(g[i].kind);
		x = reparse(fx_cert(k, ca_key, ca, &o));
		REQUIRE((j = json_object()) != NULL);
		CHECK_EQ_INT(certinfo_to_json(x, j), 0);
		CHECK_STR(j, "key_type", g[i].type);
		CHECK_EQ_INT(json_integer_value(json_object_get(j, "key_bits")),
		    g[i].bits);
		json_decref(j);
		X509_free(x);
		EVP_PKEY_free(k);
	}
}

int
main(void)
{
	struct fx_cert_opts co = {
		.subject = "/C=RU/O=Signet Test/CN=Signet CA",
		.not_before = 0,
		.not_after = 2524608000,
		.key_usage = KU_KEY_CERT_SIGN | KU_CRL_SIGN,
		.ca = 1,
	};

	ca_key = fx_key("p256");
	ca = fx_cert(ca_key, NULL, NULL, &co);
	test_rsa();
	test_ec();
	test_other_key();
	test_parse();
	test_ru_ids();
	REQUIRE(gost_init(NULL) == 0);
	test_gost();
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	if (fx_failures != 0) {
		fprintf(stderr, "certinfo_test: %d failure(s)\n", fx_failures);
		return 1;
	}
	printf("certinfo_test: ok\n");
	return 0;
}
