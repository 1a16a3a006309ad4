#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "agent/facts.h"

size_t
facts_peer_groups(pid_t pid, gid_t *out, size_t max)
{
	char path[64], line[4096], *p, *end;
	unsigned long v;
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		for (p = line + 7; n < max;) {
			v = strtoul(p, &end, 10);
			if (end == p)
				break;
			out[n++] = (gid_t)v;
			p = end;
		}
		break;
	}
	fclose(f);
	return n;
}

static const char *
facts_keep(struct cert_facts *f, char *s)
{
	if (s == NULL)
		return NULL;
	if (f->nstrings == sizeof(f->strings) / sizeof(f->strings[0])) {
		free(s);
		return NULL;
	}
	f->strings[f->nstrings++] = s;
	return s;
}

static time_t
asn1_time_t(const ASN1_TIME *t)
{
	struct tm tm;

	if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return timegm(&tm);
}

/* OpenSSL's KU_* bits to RFC 5280 bit numbers (policy.h). */
static unsigned
facts_key_usage(X509 *cert, bool *present)
{
	static const struct {
		uint32_t ossl;
		unsigned bit;
	} map[] = {
		{ KU_DIGITAL_SIGNATURE, POLICY_KU_DIGITAL_SIGNATURE },
		{ KU_NON_REPUDIATION, POLICY_KU_NON_REPUDIATION },
		{ KU_KEY_ENCIPHERMENT, POLICY_KU_KEY_ENCIPHERMENT },
		{ KU_DATA_ENCIPHERMENT, POLICY_KU_DATA_ENCIPHERMENT },
		{ KU_KEY_AGREEMENT, POLICY_KU_KEY_AGREEMENT },
		{ KU_KEY_CERT_SIGN, POLICY_KU_KEY_CERT_SIGN },
		{ KU_CRL_SIGN, POLICY_KU_CRL_SIGN },
		{ KU_ENCIPHER_ONLY, POLICY_KU_ENCIPHER_ONLY },
		{ KU_DECIPHER_ONLY, POLICY_KU_DECIPHER_ONLY },
	};
	uint32_t ku;
	unsigned bits = 0;
	size_t i;

	*present = (X509_get_extension_flags(cert) & EXFLAG_KUSAGE) != 0;
	ku = X509_get_key_usage(cert);
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (ku & map[i].ossl)
			bits |= map[i].bit;
	return *present ? bits : 0;
}

int
facts_cert(struct cert_facts *f, X509 *cert, const struct reg_token *t,
    const struct reg_cert *rc, enum policy_chain chain)
{
	X509_NAME *name = X509_get_subject_name(cert);
	X509_NAME_ENTRY *e;
	BIO *b;
	BUF_MEM *mem;
	unsigned char *utf8;
	char oid[80];
	int i, n, len;
	struct policy_attr *a;

	memset(f, 0, sizeof(*f));
	memcpy(f->pc.sha256, rc->sha256, 32);
	f->pc.token_serial = t->serial;
	f->pc.token_label = t->label;
	f->pc.token_manufacturer = t->manufacturer;
	f->pc.token_model = t->model;
	f->pc.id = rc->id;
	f->pc.id_len = rc->id_len;
	f->pc.label = rc->label;
	f->pc.not_before = asn1_time_t(X509_get0_notBefore(cert));
	f->pc.not_after = asn1_time_t(X509_get0_notAfter(cert));
	f->pc.key_usage = facts_key_usage(cert, &f->pc.has_key_usage);
	f->pc.chain = chain;
	if ((b = BIO_new(BIO_s_mem())) != NULL) {
		if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
			BIO_get_mem_ptr(b, &mem);
			f->pc.subject = facts_keep(f, strndup(mem->data, mem->length));
		}
		BIO_free(b);
	}
	n = X509_NAME_entry_count(name);
	for (i = 0; i < n && f->pc.nsubject_attrs < FACTS_MAX_ATTRS; i++) {
		e = X509_NAME_get_entry(name, i);
		if ((len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e))) < 0)
			continue;
		a = &f->attrs[f->pc.nsubject_attrs];
		a->value = facts_keep(f, strndup((char *)utf8, (size_t)len));
		OPENSSL_free(utf8);
		OBJ_obj2txt(oid, sizeof(oid), X509_NAME_ENTRY_get_object(e), 1);
		a->oid = facts_keep(f, strdup(oid));
		a->name = OBJ_nid2sn(OBJ_obj2nid(X509_NAME_ENTRY_get_object(e)));
		if (a->value == NULL || a->oid == NULL)
			return SIGNET_ERR_NOMEM;
		f->pc.nsubject_attrs++;
		if (strcmp(oid, FACTS_OID_SNILS) == 0)
			f->pc.snils = a->value;
		else if (strcmp(oid, FACTS_OID_INN) == 0)
			f->pc.inn = a->value;
		else if (strcmp(oid, FACTS_OID_INNLE) == 0)
			f->pc.innle = a->value;
		else if (strcmp(oid, FACTS_OID_OGRN) == 0)
			f->pc.ogrn = a->value;
		else if (strcmp(oid, FACTS_OID_OGRNIP) == 0)
			f->pc.ogrnip = a->value;
	}
	f->pc.subject_attrs = f->attrs;
	return 0;
}

void
facts_cert_clear(struct cert_facts *f)
{
	size_t i;

	for (i = 0; i < f->nstrings; i++)
		free(f->strings[i]);
	memset(f, 0, sizeof(*f));
}

/* The bundle is read once per policy, not once per signature: kept
 * until facts_chain_forget() (a reload) or another path is asked for. */
static X509_STORE *chain_store;
static char *chain_path;

void
facts_chain_forget(void)
{
	X509_STORE_free(chain_store);
	free(chain_path);
	chain_store = NULL;
	chain_path = NULL;
}

static X509_STORE *
facts_chain_store(const char *ca_bundle)
{
	if (chain_store != NULL && strcmp(chain_path, ca_bundle) == 0)
		return chain_store;
	facts_chain_forget();
	if ((chain_store = X509_STORE_new()) == NULL ||
	    (chain_path = strdup(ca_bundle)) == NULL ||
	    X509_STORE_load_file(chain_store, ca_bundle) != 1) {
		facts_chain_forget();
		return NULL;
	}
	return chain_store;
}

enum policy_chain
facts_chain(X509 *cert, const char *ca_bundle)
{
	X509_STORE *store = facts_chain_store(ca_bundle);
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	enum policy_chain r = POLICY_CHAIN_FAILED;

	if (store != NULL && ctx != NULL &&
	    X509_STORE_CTX_init(ctx, store, cert, NULL) == 1 &&
	    X509_verify_cert(ctx) == 1)
		r = POLICY_CHAIN_OK;
	X509_STORE_CTX_free(ctx);
	return r;
}
