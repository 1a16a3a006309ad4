/*
 * Certificates read from tokens (CKA_VALUE of a CKO_CERTIFICATE: whatever
 * was written to the token, by anyone): certinfo_parse, the SHA-256 that
 * selectors match, and the certs.list fields (agent/certinfo.h).
 *
 * Oracles: a parsed certificate gives a JSON object that serializes, and
 * when certinfo_to_json succeeds its "sha256" is the lower-case hex of
 * certinfo_sha256.
 */
#include <string.h>

#include <jansson.h>
#include <openssl/err.h>

#include "agent/certinfo.h"
#include "fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t sha[32];
	char want[65], *dump;
	const char *got;
	json_t *obj;
	X509 *x;
	size_t i;

	if ((x = certinfo_parse(data, size)) == NULL) {
		FUZZ_CHECK(ERR_peek_error() == 0); /* it leaves no errors queued */
		return 0;
	}
	certinfo_sha256(x, sha);
	for (i = 0; i < 32; i++) {
		want[2 * i] = hex[sha[i] >> 4];
		want[2 * i + 1] = hex[sha[i] & 0xf];
	}
	want[64] = '\0';
	FUZZ_CHECK((obj = json_object()) != NULL);
	if (certinfo_to_json(x, obj) == 0) {
		got = json_string_value(json_object_get(obj, "sha256"));
		FUZZ_CHECK(got != NULL && strcmp(got, want) == 0);
	}
	FUZZ_CHECK((dump = json_dumps(obj, JSON_COMPACT)) != NULL);
	free(dump);
	json_decref(obj);
	X509_free(x);
	ERR_clear_error();
	return 0;
}
