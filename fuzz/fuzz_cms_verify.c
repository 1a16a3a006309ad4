/*
 * What `signet verify FILE SIG` does with SIG, a file from anyone (a
 * signature that came with a document): client/cmd_verify.c's own
 * parse_sig (DER, BER or PEM CMS), its checks (SignedData, detached),
 * CMS_verify against a fixed document without a chain (as with no --ca),
 * and print_signers, the signer details it prints from the signature.
 *
 * cmd_verify.c is #included for its static functions. print_signers
 * runs on every detached SignedData, verified or not: anyone can make a
 * signature that verifies (with a certificate of their own, without
 * --ca), so everything it reads is attacker-controlled in practice.
 *
 * The seeds (fuzz/mkseeds.sh) sign FUZZ_CMS_DOCUMENT, so their mutations
 * get past the digest check into the signature check.
 */
#include <sys/mman.h>

#include "client/cmd_verify.c" /* NOLINT(bugprone-suspicious-include): its statics */

#include "fuzz/fuzz.h"

#define FUZZ_CMS_DOCUMENT "signet fuzz document\n"

/* The document, as verify_main opens it: a file (BIO_new_file). A memory
 * BIO would not do: OpenSSL 3.0's CMS_verify copies a memory BIO and
 * leaks the copy when the signature is malformed, which signet verify
 * never meets. */
static char doc_path[64];
static FILE *log_out; /* the real stderr stream */
static bool have_gost;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char doc[] = FUZZ_CMS_DOCUMENT;
	FILE *quiet;
	int fd;

	(void)argc;
	(void)argv;
	/* as verify_main: GOST signatures verify when the engine is there */
	have_gost = gost_init(NULL) == 0;
	FUZZ_CHECK((fd = memfd_create("signet-fuzz-document", MFD_CLOEXEC)) >= 0);
	FUZZ_CHECK(write(fd, doc, sizeof(doc) - 1) == (ssize_t)(sizeof(doc) - 1));
	snprintf(doc_path, sizeof(doc_path), "/proc/self/fd/%d", fd);
	/* print_signers writes to stdout, and cmd_warn to the stderr
	 * stream on every SHA-1 signature: drop both. libFuzzer and the
	 * sanitizers keep their own handle on descriptor 2. */
	FUZZ_CHECK(freopen("/dev/null", "w", stdout) != NULL);
	FUZZ_CHECK((quiet = fopen("/dev/null", "w")) != NULL);
	log_out = stderr;
	stderr = quiet;
	if (getenv("SIGNET_FUZZ_LOG") != NULL)
		fprintf(log_out, "log: gost engine %s\n", have_gost ?
		    "loaded" : "not available");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	CMS_ContentInfo *cms;
	BIO *doc;

	if ((cms = parse_sig(data, size)) == NULL) {
		ERR_clear_error();
		return 0;
	}
	/* as verify_main: only a detached SignedData goes further */
	if (OBJ_obj2nid(CMS_get0_type(cms)) == NID_pkcs7_signed &&
	    CMS_is_detached(cms)) {
		FUZZ_CHECK((doc = BIO_new_file(doc_path, "rb")) != NULL);
		/* SIGNET_FUZZ_LOG shows how far a seed gets */
		if (CMS_verify(cms, NULL, NULL, doc, NULL,
		    CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY) == 1 &&
		    getenv("SIGNET_FUZZ_LOG") != NULL)
			fprintf(log_out, "log: signature verified\n");
		BIO_free(doc);
		print_signers(cms);
	}
	ERR_clear_error();
	CMS_ContentInfo_free(cms);
	return 0;
}
