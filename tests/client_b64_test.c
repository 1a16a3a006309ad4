/*
 * libsignet base64: RFC 4648 test vectors both ways, and the strictness
 * of the decoder (each rejection is a case the agent never emits).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <signet/client.h>

#include "tests/client_fakeagent.h"

static void
roundtrip(const char *plain, const char *enc)
{
	uint8_t *dec = NULL;
	size_t n = 0, dn = 0;
	char *s = NULL;

	CHECK(signet_b64_encode(plain, strlen(plain), &s, &n) == 0);
	CHECK(n == strlen(enc));
	CHECK(strcmp(s, enc) == 0);
	CHECK(signet_b64_decode(enc, strlen(enc), &dec, &dn) == 0);
	CHECK(dec != NULL);
	CHECK(dn == strlen(plain));
	CHECK(memcmp(dec, plain, dn) == 0);
	free(s);
	free(dec);
}

static void
reject(const char *enc)
{
	uint8_t *dec = (uint8_t *)1;
	size_t dn = 99;

	if (signet_b64_decode(enc, strlen(enc), &dec, &dn) !=
	    SIGNET_CLIENT_E_LOCAL) {
		fprintf(stderr, "accepted bad base64 '%s'\n", enc);
		exit(1);
	}
	CHECK(dec == NULL);
	CHECK(dn == 0);
}

int
main(void)
{
	uint8_t bin[256], *dec;
	size_t i, n, dn;
	char *s;

	/* RFC 4648 section 10 */
	roundtrip("", "");
	roundtrip("f", "Zg==");
	roundtrip("fo", "Zm8=");
	roundtrip("foo", "Zm9v");
	roundtrip("foob", "Zm9vYg==");
	roundtrip("fooba", "Zm9vYmE=");
	roundtrip("foobar", "Zm9vYmFy");

	/* Every byte value, and the two alphabet ends. */
	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)i;
	CHECK(signet_b64_encode(bin, sizeof(bin), &s, &n) == 0);
	CHECK(n == 344 && strlen(s) == 344);
	CHECK(signet_b64_decode(s, n, &dec, &dn) == 0);
	CHECK(dn == sizeof(bin) && memcmp(dec, bin, dn) == 0);
	free(s);
	free(dec);
	bin[0] = 0xfb; bin[1] = 0xff; bin[2] = 0xbf;
	CHECK(signet_b64_encode(bin, 3, &s, &n) == 0);
	CHECK(strcmp(s, "+/+/") == 0);
	free(s);

	reject("Z");           /* length not a multiple of 4 */
	reject("Zg=");
	reject("Zg");
	reject("Zm9vY");
	reject("Zg=a");        /* '=' inside */
	reject("Z===");        /* too much padding */
	reject("====");
	reject("Zg==Zg==");    /* padding before the end */
	reject("Zh==");        /* unused bits set: not canonical */
	reject("Zm9=");
	reject("Zm9v\n");      /* whitespace */
	reject("Zm 9");
	reject("Zm9-");        /* base64url alphabet */
	reject("Zm9_");
	reject("Zm\x80v");

	CHECK(signet_b64_encode(NULL, 1, &s, &n) == SIGNET_CLIENT_E_LOCAL);
	CHECK(signet_b64_decode(NULL, 4, &dec, &dn) == SIGNET_CLIENT_E_LOCAL);
	printf("client_b64_test: ok\n");
	return 0;
}
