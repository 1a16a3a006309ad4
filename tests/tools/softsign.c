/*
 * softsign: A SOFTWARE SIGNER USED ONLY IN TESTS.
 *
 * Signet never signs with software keys: the agent signs on tokens. This
 * tool lets the tests drive the one CAdES assembler (agent/cades.c)
 * exactly as the agent does, with a key file standing in for the token:
 * cades_prepare, then a raw PKCS#11-style signature (RSA: PKCS#1 v1.5 over
 * the DigestInfo, as CKM_RSA_PKCS; EC: r||s over the hash, as CKM_ECDSA;
 * GOST: s||r over the Streebog hash, as CKM_GOSTR3410(_512), or with
 * "combined" as CKM_GOSTR3410_WITH_GOSTR3411_12_256/512 over the signed
 * attributes), then cades_finish. It loads the gost engine itself, as the
 * agent does: no OPENSSL_CONF needed. Never install it.
 *
 * usage: softsign KEY.pem CERT.pem DOC OUT.sig
 *            [sha256|sha384|sha512|streebog256|streebog512 [combined]]
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "agent/cades.h"
#include "agent/gost.h"
#include "tests/lib/core_fixtures.h"

static int
hash_file(const char *path, const EVP_MD *md, uint8_t *out, size_t want)
{
	EVP_MD_CTX *ctx = NULL;
	uint8_t buf[65536];
	unsigned int n = 0;
	size_t got;
	FILE *f;
	int r = -1;

	if ((f = fopen(path, "rb")) == NULL) {
		perror(path);
		return -1;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(ctx, md, NULL) != 1)
		goto out;
	while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
		if (EVP_DigestUpdate(ctx, buf, got) != 1)
			goto out;
	if (ferror(f) || EVP_DigestFinal_ex(ctx, out, &n) != 1 || n != want)
		goto out;
	r = 0;
out:
	EVP_MD_CTX_free(ctx);
	fclose(f);
	return r;
}

int
main(int argc, char **argv)
{
	struct cades_prep p;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	FILE *f;
	uint8_t dig[64], raw[1024], *sig = NULL;
	size_t rawlen = 0, siglen = 0;
	/* what a token with the combined TC26 mechanisms would report */
	static const unsigned long combined[] = {
		CADES_CKM_GOSTR3410, CADES_CKM_GOSTR3410_512,
		CADES_CKM_GOSTR3410_WITH_GOSTR3411_12_256,
		CADES_CKM_GOSTR3410_WITH_GOSTR3411_12_512,
	};
	int dg = CADES_SHA256, r, ret = 1;
	bool comb = false;

	memset(&p, 0, sizeof(p));
	if (argc < 5 || argc > 7 || (argc == 7 &&
	    !(comb = strcmp(argv[6], "combined") == 0))) {
		fprintf(stderr, "usage: softsign KEY.pem CERT.pem DOC OUT.sig "
		    "[sha256|sha384|sha512|streebog256|streebog512 "
		    "[combined]]\n");
		return 2;
	}
	/* without the engine, GOST keys and Streebog are unknown below */
	if (gost_init(NULL) != 0)
		fprintf(stderr, "softsign: no gost engine\n");
	if (argc >= 6 && (dg = cades_digest_from_name(argv[5])) < 0) {
		fprintf(stderr, "softsign: unknown digest %s\n", argv[5]);
		return 2;
	}
	if ((f = fopen(argv[1], "r")) == NULL) {
		perror(argv[1]);
		goto out;
	}
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if ((f = fopen(argv[2], "r")) == NULL) {
		perror(argv[2]);
		goto out;
	}
	cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (key == NULL || cert == NULL) {
		fprintf(stderr, "softsign: cannot read key or certificate\n");
		goto out;
	}
	if (hash_file(argv[3], cades_digest_md(dg), dig,
	    cades_digest_len(dg)) != 0) {
		fprintf(stderr, "softsign: cannot hash %s\n", argv[3]);
		goto out;
	}
	if ((r = cades_prepare_ex(&p, cert, dg, dig, cades_digest_len(dg),
	    time(NULL), comb ? combined : NULL, comb ? 4 : 0)) != 0) {
		fprintf(stderr, "softsign: cades_prepare: %s\n",
		    signet_strerror(r));
		goto out;
	}
	if (fx_softsign(key, &p, raw, &rawlen) != 0) {
		fprintf(stderr, "softsign: signing failed\n");
		goto out;
	}
	if ((r = cades_finish(&p, raw, rawlen, &sig, &siglen)) != 0) {
		fprintf(stderr, "softsign: cades_finish: %s\n",
		    signet_strerror(r));
		goto out;
	}
	if ((f = fopen(argv[4], "wb")) == NULL) {
		perror(argv[4]);
		goto out;
	}
	if (fwrite(sig, 1, siglen, f) != siglen) {
		perror(argv[4]);
		fclose(f);
		goto out;
	}
	if (fclose(f) != 0) {
		perror(argv[4]);
		goto out;
	}
	ret = 0;
out:
	ERR_print_errors_fp(stderr);
	free(sig);
	cades_prep_clear(&p);
	X509_free(cert);
	EVP_PKEY_free(key);
	return ret;
}
