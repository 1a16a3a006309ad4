/*
 * signet verify: check a detached CMS signature locally with OpenSSL; no
 * agent involved. The chain is checked only against a CA file the user
 * names: trusting the system store would say nothing about a qualified
 * signature's CA, so without --ca the output says "chain: not checked".
 *
 * GOST R 34.10-2012/2001 signatures need the gost engine: it is loaded
 * here (agent/gost.c), so no OPENSSL_CONF is needed. Both signatureAlgorithm
 * forms seen in the wild (the key OID, as OpenSSL, CryptoPro JCSP, ViPNet
 * and BouncyCastle write it, and id-tc26-signwithdigest-*), BER with
 * indefinite lengths and absent or NULL parameters are all OpenSSL's CMS
 * parser's business. A CAdES-T signature timestamp (unsigned attribute
 * id-aa-signatureTimeStampToken) is shown with its time, after checking
 * that it stamps this signature and that the TSA's signature holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/pem.h> /* before cms.h: it declares PEM_read_bio_CMS */
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/ts.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "agent/gost.h"
#include "client/cmd.h"

#define VERIFY_USAGE "signet verify [--ca FILE | --no-chain] FILE SIG"
#define VERIFY_MAX_SIG (64u * 1024u * 1024u) /* bytes of a SIG file */
#define R_VERIFY_FAILED "verify_failed"
/* id-aa-signatureTimeStampToken (RFC 3161 appendix A, CAdES-T) */
#define OID_SIG_TIMESTAMP "1.2.840.113549.1.9.16.2.14"

/* The OpenSSL errors queued since the last clear, as one line: the last
 * (outermost, e.g. "content verify error") and the first detail text
 * (e.g. which chain check failed). */
static void
ssl_reason(char *buf, size_t len, const char *fallback)
{
	const char *data = NULL;
	char detail[256] = "";
	unsigned long e, last = 0;
	int flags;
	size_t o;

	while ((e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags)) != 0) {
		if (ERR_reason_error_string(e) != NULL)
			last = e;
		if ((flags & ERR_TXT_STRING) && data != NULL && *data != '\0' &&
		    detail[0] == '\0')
			snprintf(detail, sizeof(detail), "%s", data);
	}
	snprintf(buf, len, "%s", last != 0 ? ERR_reason_error_string(last) :
	    fallback);
	o = strlen(buf);
	if (detail[0] != '\0' && o < len)
		snprintf(buf + o, len - o, ": %s", detail);
}

static int
verify_fail(const char *what, int status)
{
	char why[512];

	ssl_reason(why, sizeof(why), "failed");
	cmd_error("verify", status == SIGNET_EXIT_VERIFY ? R_VERIFY_FAILED :
	    SIGNET_CLIENT_R_IO_ERROR, "%s: %s", what, why);
	return status;
}

/* Whole file, capped. 0 or -1 with errno (EFBIG over the cap). */
static int
read_file(const char *path, unsigned char **out, size_t *out_len)
{
	size_t len = 0, cap = 0;
	unsigned char *buf = NULL;
	int fd, e;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return -1;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 65536;
			unsigned char *p;

			if (cap >= VERIFY_MAX_SIG) {
				errno = EFBIG;
				goto fail;
			}
			if (ncap > VERIFY_MAX_SIG)
				ncap = VERIFY_MAX_SIG;
			if ((p = realloc(buf, ncap)) == NULL)
				goto fail;
			buf = p;
			cap = ncap;
		}
		if ((n = read(fd, buf + len, cap - len)) < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	(void)close(fd);
	*out = buf;
	*out_len = len;
	return 0;
 fail:
	e = errno;
	(void)close(fd);
	free(buf);
	errno = e;
	return -1;
}

/* DER, BER (indefinite lengths) or PEM, told apart by the first bytes. */
static CMS_ContentInfo *
parse_sig(const unsigned char *p, size_t len)
{
	CMS_ContentInfo *cms = NULL;
	size_t i = 0;
	BIO *b;

	if (len > INT_MAX)
		return NULL;
	while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' ||
	    p[i] == '\n'))
		i++;
	if ((b = BIO_new_mem_buf(p, (int)len)) == NULL)
		return NULL;
	if (len - i >= 10 && memcmp(p + i, "-----BEGIN", 10) == 0)
		cms = PEM_read_bio_CMS(b, NULL, NULL, NULL);
	else
		cms = d2i_CMS_bio(b, NULL);
	BIO_free(b);
	return cms;
}

static void
print_name(const char *label, const X509_NAME *name)
{
	/* RFC 2253 order, but UTF-8 left as is: Cyrillic names stay
	 * readable. */
	unsigned long fl = XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB;
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL;

	printf("%-14s", label);
	if (b != NULL && X509_NAME_print_ex(b, name, 0, fl) >= 0 &&
	    BIO_write(b, "", 1) == 1 && BIO_get_mem_data(b, &s) > 0)
		cmd_put_text(stdout, s);
	else
		fputs("?", stdout);
	fputc('\n', stdout);
	BIO_free(b);
}

static void
print_signing_time(CMS_SignerInfo *si)
{
	X509_ATTRIBUTE *a;
	ASN1_TYPE *t;
	struct tm tm;
	char buf[64];
	int idx;

	idx = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1);
	if (idx < 0 || (a = CMS_signed_get_attr(si, idx)) == NULL ||
	    (t = X509_ATTRIBUTE_get0_type(a, 0)) == NULL ||
	    (t->type != V_ASN1_UTCTIME && t->type != V_ASN1_GENERALIZEDTIME) ||
	    ASN1_TIME_to_tm(t->value.utctime, &tm) != 1) {
		printf("%-14s%s\n", "signing time:", "not present");
		return;
	}
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	printf("%-14s%s\n", "signing time:", buf);
}

/* Prints the digest name; warns on digests too weak for signatures. */
static void
print_digest(X509_ALGOR *alg)
{
	const ASN1_OBJECT *obj;
	const char *name;
	char oid[128];
	int nid;

	X509_ALGOR_get0(&obj, NULL, NULL, alg);
	nid = OBJ_obj2nid(obj);
	if (nid != NID_undef && (name = OBJ_nid2ln(nid)) != NULL)
		printf("%-14s%s\n", "digest:", name);
	else {
		OBJ_obj2txt(oid, sizeof(oid), obj, 1);
		printf("%-14s%s\n", "digest:", oid);
	}
	if (nid == NID_sha1)
		cmd_warn("verify", "warning: SHA-1 digest");
	else if (nid == NID_md5)
		cmd_warn("verify", "warning: MD5 digest");
}

static void
obj_name(const ASN1_OBJECT *obj, char *buf, size_t len)
{
	const char *name;
	int nid = OBJ_obj2nid(obj);

	if (nid != NID_undef && (name = OBJ_nid2ln(nid)) != NULL)
		snprintf(buf, len, "%s", name);
	else if (OBJ_obj2txt(buf, (int)len, obj, 1) <= 0)
		snprintf(buf, len, "?");
}

/* The signature algorithm as the SignerInfo names it (for GOST either the
 * key OID or id-tc26-signwithdigest-*), and the key's size. */
static void
print_algorithm(X509_ALGOR *sig, X509 *signer)
{
	const ASN1_OBJECT *obj;
	EVP_PKEY *pk;
	char name[128];
	int bits;

	X509_ALGOR_get0(&obj, NULL, NULL, sig);
	obj_name(obj, name, sizeof(name));
	switch (OBJ_obj2nid(obj)) {
	case NID_id_GostR3410_2001:
	case NID_id_GostR3411_94_with_GostR3410_2001:
		/* still verifiable, but no longer allowed for new ones */
		cmd_warn("verify", "warning: GOST R 34.10-2001 (withdrawn; "
		    "not for signatures made since 2019)");
		break;
	}
	printf("%-14s%s", "algorithm:", name);
	if (signer != NULL && (pk = X509_get0_pubkey(signer)) != NULL &&
	    (bits = EVP_PKEY_get_bits(pk)) > 0)
		printf(", %d-bit key", bits);
	ERR_clear_error();
	fputc('\n', stdout);
}

/* 0 when the token stamps sig: its messageImprint is the hash of the
 * signature value, and the TSA's signature over TSTInfo holds. */
static int
timestamp_check(CMS_ContentInfo *ts, TS_TST_INFO *tst,
    const ASN1_OCTET_STRING *sig, const char **why)
{
	TS_MSG_IMPRINT *mi = TS_TST_INFO_get_msg_imprint(tst);
	const ASN1_OCTET_STRING *want;
	const EVP_MD *md;
	unsigned char h[EVP_MAX_MD_SIZE];
	unsigned int hl = 0;

	if (mi == NULL || (md = EVP_get_digestbyobj(
	    TS_MSG_IMPRINT_get_algo(mi)->algorithm)) == NULL) {
		*why = "unknown imprint digest";
		return -1;
	}
	want = TS_MSG_IMPRINT_get_msg(mi);
	if (EVP_Digest(ASN1_STRING_get0_data(sig), (size_t)ASN1_STRING_length(
	    sig), h, &hl, md, NULL) != 1 || want == NULL ||
	    (unsigned int)ASN1_STRING_length(want) != hl ||
	    memcmp(ASN1_STRING_get0_data(want), h, hl) != 0) {
		*why = "it stamps another signature";
		return -1;
	}
	/* the TSA's own chain is not ours to judge without its CA */
	if (CMS_verify(ts, NULL, NULL, NULL, NULL,
	    CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1) {
		*why = "the TSA's signature does not verify";
		return -1;
	}
	return 0;
}

/*
 * CAdES-T: the time of each signature timestamp token. Returns -1 when a
 * token is present but broken or does not stamp this signature.
 */
static int
print_timestamps(CMS_SignerInfo *si)
{
	ASN1_OBJECT *oid = OBJ_txt2obj(OID_SIG_TIMESTAMP, 1);
	X509_ATTRIBUTE *a;
	ASN1_TYPE *t;
	CMS_ContentInfo *ts;
	ASN1_OCTET_STRING **ec;
	TS_TST_INFO *tst;
	const unsigned char *q;
	const char *why;
	struct tm tm;
	char buf[64];
	int idx = -1, n = 0, r = 0;

	if (oid == NULL)
		return -1;
	while ((idx = CMS_unsigned_get_attr_by_OBJ(si, oid, idx)) >= 0) {
		n++;
		ts = NULL;
		tst = NULL;
		why = "not a timestamp token";
		if ((a = CMS_unsigned_get_attr(si, idx)) == NULL ||
		    (t = X509_ATTRIBUTE_get0_type(a, 0)) == NULL ||
		    t->type != V_ASN1_SEQUENCE)
			goto bad;
		q = t->value.sequence->data;
		if ((ts = d2i_CMS_ContentInfo(NULL, &q,
		    t->value.sequence->length)) == NULL ||
		    OBJ_obj2nid(CMS_get0_eContentType(ts)) !=
		    NID_id_smime_ct_TSTInfo ||
		    (ec = CMS_get0_content(ts)) == NULL || *ec == NULL)
			goto bad;
		q = ASN1_STRING_get0_data(*ec);
		if ((tst = d2i_TS_TST_INFO(NULL, &q,
		    ASN1_STRING_length(*ec))) == NULL ||
		    ASN1_TIME_to_tm(TS_TST_INFO_get_time(tst), &tm) != 1)
			goto bad;
		if (timestamp_check(ts, tst, CMS_SignerInfo_get0_signature(si),
		    &why) != 0)
			goto bad;
		strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
		printf("%-14s%s (signature timestamp; TSA chain not checked)\n",
		    "timestamp:", buf);
		goto next;
bad:
		printf("%-14s%s\n", "timestamp:", "invalid");
		cmd_error("verify", R_VERIFY_FAILED, "signature timestamp: %s",
		    why);
		r = -1;
next:
		TS_TST_INFO_free(tst);
		CMS_ContentInfo_free(ts);
		ERR_clear_error();
	}
	if (n == 0)
		printf("%-14s%s\n", "timestamp:", "none");
	ASN1_OBJECT_free(oid);
	return r;
}

/* -1 when a signature timestamp fails. */
static int
print_signers(CMS_ContentInfo *cms)
{
	STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);
	int i, r = 0;

	for (i = 0; i < sk_CMS_SignerInfo_num(sis); i++) {
		CMS_SignerInfo *si = sk_CMS_SignerInfo_value(sis, i);
		X509_ALGOR *dig = NULL, *sig = NULL;
		X509 *signer = NULL;

		CMS_SignerInfo_get0_algs(si, NULL, &signer, &dig, &sig);
		if (signer != NULL)
			print_name("signer:", X509_get_subject_name(signer));
		else
			printf("%-14s%s\n", "signer:", "?");
		print_algorithm(sig, signer);
		print_signing_time(si);
		print_digest(dig);
		if (print_timestamps(si) != 0)
			r = -1;
	}
	return r;
}

int
verify_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ca", required_argument, NULL, 'c' },
		{ "no-chain", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	CMS_ContentInfo *cms = NULL;
	X509_STORE *store = NULL;
	unsigned char *sigbuf = NULL;
	const char *ca = NULL, *file, *sig;
	bool no_chain = false, gost;
	size_t siglen = 0;
	BIO *content = NULL;
	unsigned int flags = CMS_BINARY;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			ca = optarg;
			break;
		case 'n':
			no_chain = true;
			break;
		case 'h':
			printf("usage: %s\n", VERIFY_USAGE);
			return SIGNET_EXIT_OK;
		default:
			return cmd_usage_error("verify", VERIFY_USAGE,
			    "bad option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return cmd_usage_error("verify", VERIFY_USAGE,
		    "need a file and its signature");
	if (ca != NULL && no_chain)
		return cmd_usage_error("verify", VERIFY_USAGE,
		    "--ca and --no-chain exclude each other");
	file = argv[optind];
	sig = argv[optind + 1];
	/* GOST: without the engine such signatures fail as unknown
	 * algorithms, which is the right answer then -- with a hint */
	gost = gost_init(NULL) == 0;
	ERR_clear_error();

	if (read_file(sig, &sigbuf, &siglen) != 0) {
		cmd_error("verify", SIGNET_CLIENT_R_IO_ERROR, "%s: %s", sig,
		    strerror(errno));
		r = SIGNET_EXIT_INTERNAL;
		goto out;
	}
	if ((content = BIO_new_file(file, "rb")) == NULL) {
		r = verify_fail(file, SIGNET_EXIT_INTERNAL);
		goto out;
	}
	if (ca != NULL) {
		if ((store = X509_STORE_new()) == NULL ||
		    X509_STORE_load_file(store, ca) != 1) {
			r = verify_fail(ca, SIGNET_EXIT_INTERNAL);
			goto out;
		}
		/* A signing certificate need not be an S/MIME one. */
		if (X509_STORE_set_purpose(store, X509_PURPOSE_ANY) != 1) {
			r = verify_fail(ca, SIGNET_EXIT_INTERNAL);
			goto out;
		}
	} else
		flags |= CMS_NO_SIGNER_CERT_VERIFY;
	if ((cms = parse_sig(sigbuf, siglen)) == NULL) {
		r = verify_fail(sig, SIGNET_EXIT_VERIFY);
		goto out;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed) {
		ERR_clear_error();
		cmd_error("verify", R_VERIFY_FAILED, "%s: not a CMS SignedData",
		    sig);
		r = SIGNET_EXIT_VERIFY;
		goto out;
	}
	if (!CMS_is_detached(cms)) {
		cmd_error("verify", R_VERIFY_FAILED, "%s: not a detached "
		    "signature (it carries its own content)", sig);
		r = SIGNET_EXIT_VERIFY;
		goto out;
	}
	if (CMS_verify(cms, NULL, store, content, NULL, flags) != 1) {
		if (!gost)
			cmd_warn("verify", "note: the gost engine could not be "
			    "loaded; GOST signatures cannot be checked");
		r = verify_fail(sig, SIGNET_EXIT_VERIFY);
		goto out;
	}
	printf("%-14s%s\n", "signature:", "good");
	r = print_signers(cms) == 0 ? SIGNET_EXIT_OK : SIGNET_EXIT_VERIFY;
	if (ca != NULL) {
		printf("%-14s%s", "chain:", "verified against ");
		cmd_put_text(stdout, ca);
		fputc('\n', stdout);
	} else
		printf("%-14s%s\n", "chain:", "not checked (signature and "
		    "content only)");
 out:
	ERR_clear_error();
	CMS_ContentInfo_free(cms);
	X509_STORE_free(store);
	BIO_free(content);
	free(sigbuf);
	return r;
}
