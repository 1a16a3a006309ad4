/*
 * Certificate fields for certs.list (contract: agent/certinfo.h; formats in
 * docs/protocol.md).
 */
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "agent/certinfo.h"

/* Same as one field of the helper protocol (pkcs11/wire.h
 * P11W_MAX_FIELD): nothing larger can reach us anyway. */
#define CERTINFO_MAX_DER (1u * 1024u * 1024u)
#define CERTINFO_MAX_NAME (64u * 1024u) /* printed Name, bytes */
#define CERTINFO_MAX_SIGN_TOOL 800 /* bytes: 200 characters of UTF-8 */
#define CERTINFO_OID_TEXT 128               /* dotted OID text we compare */

X509 *
certinfo_parse(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x;

	if (der == NULL || len == 0 || len > CERTINFO_MAX_DER)
		return NULL;
	if ((x = d2i_X509(NULL, &p, (long)len)) == NULL) {
		ERR_clear_error();
		return NULL;
	}
	/* trailing bytes: not one certificate */
	if (p != der + len) {
		X509_free(x);
		return NULL;
	}
	return x;
}

void
certinfo_sha256(X509 *cert, uint8_t out[32])
{
	unsigned int n = 0;

	if (cert == NULL || X509_digest(cert, EVP_sha256(), out, &n) != 1 ||
	    n != 32) {
		ERR_clear_error();
		memset(out, 0, 32);
	}
}

static void
hex_lower(const uint8_t *p, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}

/* A Name printed with the given flags; NULL if not valid UTF-8. */
static json_t *
name_print(const X509_NAME *name, unsigned long flags)
{
	BIO *b;
	char *p = NULL;
	long n;
	json_t *j = NULL;

	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	if (X509_NAME_print_ex(b, name, 0, flags) < 0)
		goto out;
	if ((n = BIO_get_mem_data(b, &p)) < 0 || (size_t)n > CERTINFO_MAX_NAME)
		goto out;
	j = json_stringn(n == 0 ? "" : p, (size_t)n);
out:
	ERR_clear_error();
	BIO_free(b);
	return j;
}

/*
 * RFC 2253. Non-ASCII characters are left as UTF-8 (RFC 2253 2.4 only
 * requires escaping the special characters), so a Cyrillic name reads as
 * such; if the certificate's strings do not make valid UTF-8, fall back
 * to OpenSSL's fully escaped form (\XX for every byte >= 0x80).
 */
static json_t *
name_json(const X509_NAME *name)
{
	json_t *j;

	if (name == NULL)
		return NULL;
	if ((j = name_print(name, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB)))
		return j;
	return name_print(name, XN_FLAG_RFC2253);
}

static json_t *
serial_json(X509 *cert)
{
	BIGNUM *bn;
	char *h = NULL, *s = NULL;
	json_t *j = NULL;
	size_t n, i;
	bool neg;

	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL)) ==
	    NULL || (h = BN_bn2hex(bn)) == NULL)
		goto out;
	/* whole bytes, as OpenSSL prints serials: "0" becomes "00" */
	neg = h[0] == '-';
	n = strlen(h + neg);
	if ((s = malloc(n + 3)) == NULL)
		goto out;
	i = 0;
	if (neg)
		s[i++] = '-';
	if (n % 2 != 0)
		s[i++] = '0';
	for (const char *c = h + neg; *c != '\0'; c++)
		s[i++] = (*c >= 'A' && *c <= 'F') ? (char)(*c - 'A' + 'a') : *c;
	s[i] = '\0';
	j = json_string(s);
out:
	ERR_clear_error();
	free(s);
	OPENSSL_free(h);
	BN_free(bn);
	return j;
}

static json_t *
time_json(const ASN1_TIME *t)
{
	struct tm tm;
	char s[32];

	memset(&tm, 0, sizeof(tm));
	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1) {
		ERR_clear_error();
		return NULL;
	}
	if (strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return NULL;
	return json_string(s);
}

static json_t *
lower_json(const char *name)
{
	char s[64];
	size_t i;

	for (i = 0; name[i] != '\0' && i < sizeof(s) - 1; i++)
		s[i] = (name[i] >= 'A' && name[i] <= 'Z') ?
		    (char)(name[i] - 'A' + 'a') : name[i];
	s[i] = '\0';
	return json_string(s);
}

/* key_type, key_bits and, for EC, curve. */
static int
key_json(X509 *cert, json_t *o)
{
	EVP_PKEY *pk;
	ASN1_OBJECT *alg = NULL;
	const char *tn;
	char buf[80];
	int id, bits = 0;

	if ((pk = X509_get0_pubkey(cert)) == NULL) {
		/* a key type this OpenSSL cannot load (e.g. GOST with no
		 * engine): still say what it is */
		ERR_clear_error();
		if (X509_PUBKEY_get0_param(&alg, NULL, NULL, NULL,
		    X509_get_X509_PUBKEY(cert)) != 1 || alg == NULL)
			return SIGNET_ERR_CRYPTO;
		if ((id = OBJ_obj2nid(alg)) != NID_undef &&
		    (tn = OBJ_nid2sn(id)) != NULL)
			snprintf(buf, sizeof(buf), "%s", tn);
		else if (OBJ_obj2txt(buf, sizeof(buf), alg, 1) <= 0)
			return SIGNET_ERR_CRYPTO;
	} else {
		id = EVP_PKEY_get_base_id(pk);
		if (id == EVP_PKEY_RSA)
			tn = "rsa";
		else if (id == EVP_PKEY_EC)
			tn = "ec";
		else if ((id == NID_undef || (tn = OBJ_nid2sn(id)) == NULL) &&
		    (tn = EVP_PKEY_get0_type_name(pk)) == NULL)
			tn = "unknown";
		snprintf(buf, sizeof(buf), "%s", tn);
		if ((bits = EVP_PKEY_get_bits(pk)) < 0)
			bits = 0;
	}
	if (json_object_set_new(o, "key_type", lower_json(buf)) != 0 ||
	    json_object_set_new(o, "key_bits", json_integer(bits)) != 0)
		return SIGNET_ERR_NOMEM;
	if (pk != NULL && EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC) {
		/* named curves only; explicit parameters have no name */
		if (EVP_PKEY_get_utf8_string_param(pk,
		    OSSL_PKEY_PARAM_GROUP_NAME, buf, sizeof(buf), NULL) == 1) {
			if (json_object_set_new(o, "curve", json_string(buf)))
				return SIGNET_ERR_NOMEM;
		} else
			ERR_clear_error();
	}
	return 0;
}

/* RFC 5280 4.2.1.3, in bit order. */
static const char *const ku_names[] = {
	"digitalSignature", "nonRepudiation", "keyEncipherment",
	"dataEncipherment", "keyAgreement", "keyCertSign", "cRLSign",
	"encipherOnly", "decipherOnly",
};

static json_t *
key_usage_json(X509 *cert)
{
	ASN1_BIT_STRING *ku;
	json_t *a;
	size_t i;
	int crit = -1;

	if ((a = json_array()) == NULL)
		return NULL;
	/* absent gives []; so does an undecodable or doubled extension,
	 * which OpenSSL's own checks then reject for every purpose */
	if ((ku = X509_get_ext_d2i(cert, NID_key_usage, &crit, NULL)) == NULL) {
		ERR_clear_error();
		return a;
	}
	for (i = 0; i < sizeof(ku_names) / sizeof(ku_names[0]); i++) {
		if (ASN1_BIT_STRING_get_bit(ku, (int)i) &&
		    json_array_append_new(a, json_string(ku_names[i])) != 0) {
			json_decref(a);
			a = NULL;
			break;
		}
	}
	ASN1_BIT_STRING_free(ku);
	return a;
}

/* The digits of a subject attribute's value into out; "" when it holds
 * anything but digits, spaces and dashes, or too many digits. */
static void
id_digits(const ASN1_STRING *v, char out[CERTINFO_MAX_ID])
{
	const unsigned char *p = ASN1_STRING_get0_data(v);
	int n = ASN1_STRING_length(v), i;
	size_t o = 0;

	out[0] = '\0';
	if (p == NULL || n <= 0)
		return;
	for (i = 0; i < n; i++) {
		if (p[i] == ' ' || p[i] == '-')
			continue;
		if (p[i] < '0' || p[i] > '9' || o >= CERTINFO_MAX_ID - 1) {
			out[0] = '\0';
			return;
		}
		out[o++] = (char)p[i];
	}
	out[o] = '\0';
}

void
certinfo_ids(X509 *cert, struct certinfo_ids *ids)
{
	const X509_NAME *name;
	const X509_NAME_ENTRY *e;
	char oid[CERTINFO_OID_TEXT];
	char *dst;
	int i, n;

	memset(ids, 0, sizeof(*ids));
	if (cert == NULL || (name = X509_get_subject_name(cert)) == NULL)
		return;
	n = X509_NAME_entry_count(name);
	for (i = 0; i < n; i++) {
		e = X509_NAME_get_entry(name, i);
		/* by OID text: OpenSSL 3.0 has no NID for INNLE */
		if (e == NULL || OBJ_obj2txt(oid, sizeof(oid),
		    X509_NAME_ENTRY_get_object(e), 1) <= 0)
			continue;
		if (strcmp(oid, CERTINFO_OID_SNILS) == 0)
			dst = ids->snils;
		else if (strcmp(oid, CERTINFO_OID_INN) == 0)
			dst = ids->inn;
		else if (strcmp(oid, CERTINFO_OID_INNLE) == 0)
			dst = ids->innle;
		else if (strcmp(oid, CERTINFO_OID_OGRN) == 0)
			dst = ids->ogrn;
		else if (strcmp(oid, CERTINFO_OID_OGRNIP) == 0)
			dst = ids->ogrnip;
		else
			continue;
		/* the first one counts; a second is not a second person */
		if (dst[0] == '\0')
			id_digits(X509_NAME_ENTRY_get_data(e), dst);
	}
	ERR_clear_error();
}

/* subjectSignTool ::= UTF8String (SIZE (1..200)); NULL when absent or
 * malformed (json_stringn refuses invalid UTF-8). */
static json_t *
sign_tool_json(X509 *cert)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(CERTINFO_OID_SIGN_TOOL, 1);
	const ASN1_OCTET_STRING *os;
	ASN1_UTF8STRING *u = NULL;
	const unsigned char *p;
	json_t *j = NULL;
	int idx;

	if (obj == NULL)
		goto out;
	if ((idx = X509_get_ext_by_OBJ(cert, obj, -1)) < 0 ||
	    (os = X509_EXTENSION_get_data(X509_get_ext(cert, idx))) == NULL)
		goto out;
	p = ASN1_STRING_get0_data(os);
	if ((u = d2i_ASN1_UTF8STRING(NULL, &p, ASN1_STRING_length(os))) ==
	    NULL || ASN1_STRING_length(u) <= 0 ||
	    ASN1_STRING_length(u) > CERTINFO_MAX_SIGN_TOOL)
		goto out;
	j = json_stringn((const char *)ASN1_STRING_get0_data(u),
	    (size_t)ASN1_STRING_length(u));
out:
	ERR_clear_error();
	ASN1_UTF8STRING_free(u);
	ASN1_OBJECT_free(obj);
	return j;
}

/* The Russian identifiers and the signing tool, each only when present. */
static int
ru_json(X509 *cert, json_t *o)
{
	struct certinfo_ids ids;
	const struct {
		const char *key;
		const char *val;
	} f[] = {
		{ "snils", ids.snils }, { "inn", ids.inn },
		{ "innle", ids.innle }, { "ogrn", ids.ogrn },
		{ "ogrnip", ids.ogrnip },
	};
	json_t *tool;
	size_t i;

	certinfo_ids(cert, &ids);
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (f[i].val[0] != '\0' &&
		    json_object_set_new(o, f[i].key, json_string(f[i].val)) != 0)
			return SIGNET_ERR_NOMEM;
	if ((tool = sign_tool_json(cert)) != NULL &&
	    json_object_set_new(o, "subject_sign_tool", tool) != 0)
		return SIGNET_ERR_NOMEM;
	return 0;
}

int
certinfo_to_json(X509 *cert, json_t *obj)
{
	uint8_t fp[32];
	char hex[65];
	json_t *t;
	int r;

	if (cert == NULL || !json_is_object(obj))
		return SIGNET_ERR_FORMAT;
	/* fill a scratch object, so a failure leaves obj unchanged */
	if ((t = json_object()) == NULL)
		return SIGNET_ERR_NOMEM;
	certinfo_sha256(cert, fp);
	hex_lower(fp, sizeof(fp), hex);
	if (json_object_set_new(t, "sha256", json_string(hex)) != 0 ||
	    json_object_set_new(t, "subject",
	    name_json(X509_get_subject_name(cert))) != 0 ||
	    json_object_set_new(t, "issuer",
	    name_json(X509_get_issuer_name(cert))) != 0 ||
	    json_object_set_new(t, "serial", serial_json(cert)) != 0 ||
	    json_object_set_new(t, "not_before",
	    time_json(X509_get0_notBefore(cert))) != 0 ||
	    json_object_set_new(t, "not_after",
	    time_json(X509_get0_notAfter(cert))) != 0) {
		/* every helper above fails only on allocation or on a
		 * certificate OpenSSL cannot print */
		r = SIGNET_ERR_CRYPTO;
		goto out;
	}
	if ((r = key_json(cert, t)) != 0)
		goto out;
	if (json_object_set_new(t, "key_usage", key_usage_json(cert)) != 0) {
		r = SIGNET_ERR_NOMEM;
		goto out;
	}
	if ((r = ru_json(cert, t)) != 0)
		goto out;
	if (json_object_update(obj, t) != 0) {
		r = SIGNET_ERR_NOMEM;
		goto out;
	}
	r = 0;
out:
	json_decref(t);
	return r;
}
