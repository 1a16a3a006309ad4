/*
 * signet verify: check a detached CMS signature locally with OpenSSL; no
 * agent involved. The chain is checked only against a CA file the user
 * names: trusting the system store would say nothing about a qualified
 * signature's CA, so without --ca the output says "chain: not checked".
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
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "client/cmd.h"

#define VERIFY_USAGE "signet verify [--ca FILE | --no-chain] FILE SIG"
#define VERIFY_MAX_SIG (64u * 1024u * 1024u) /* bytes of a SIG file */
#define R_VERIFY_FAILED "verify_failed"

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
print_signers(CMS_ContentInfo *cms)
{
	STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);
	int i;

	for (i = 0; i < sk_CMS_SignerInfo_num(sis); i++) {
		CMS_SignerInfo *si = sk_CMS_SignerInfo_value(sis, i);
		X509_ALGOR *dig = NULL;
		X509 *signer = NULL;

		CMS_SignerInfo_get0_algs(si, NULL, &signer, &dig, NULL);
		if (signer != NULL)
			print_name("signer:", X509_get_subject_name(signer));
		else
			printf("%-14s%s\n", "signer:", "?");
		print_signing_time(si);
		print_digest(dig);
	}
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
	bool no_chain = false;
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
		r = verify_fail(sig, SIGNET_EXIT_VERIFY);
		goto out;
	}
	printf("%-14s%s\n", "signature:", "good");
	print_signers(cms);
	if (ca != NULL) {
		printf("%-14s%s", "chain:", "verified against ");
		cmd_put_text(stdout, ca);
		fputc('\n', stdout);
	} else
		printf("%-14s%s\n", "chain:", "not checked");
	r = SIGNET_EXIT_OK;
 out:
	ERR_clear_error();
	CMS_ContentInfo_free(cms);
	X509_STORE_free(store);
	BIO_free(content);
	free(sigbuf);
	return r;
}
