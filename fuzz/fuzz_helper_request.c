/*
 * The other direction of the helper protocol (pkcs11/wire.h): a request
 * body as the helper decodes it (req_parse in pkcs11/helper_req.c), after
 * serve_one has taken the u32 length. The agent is the more trusted side,
 * but the helper holds the token session and the PIN buffers, so a
 * malformed request must end in a clean refusal.
 *
 * Oracles: a body is either refused as malformed, or gives a job of its
 * type whose fields are within their caps, with the PIN in its own
 * buffer and counted in neither serial nor data.
 */
#include <string.h>

#include "fuzz/fuzz.h"
#include "pkcs11/helper.h"
#include "pkcs11/wire.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct job *job = NULL;
	int r;

	r = req_parse(data, size, &job);
	FUZZ_CHECK(r == 0 || r == SIGNET_ERR_FORMAT || r == SIGNET_ERR_NOMEM);
	if (r != 0) {
		FUZZ_CHECK(job == NULL);
		return 0;
	}
	FUZZ_CHECK(job != NULL);
	if (size >= 5)
		FUZZ_CHECK(job->type == data[4]);
	if (job->has_serial)
		FUZZ_CHECK(job->serial[0] != '\0' &&
		    strlen(job->serial) <= HELPER_SERIAL_MAX);
	FUZZ_CHECK(job->pin_len <= HELPER_PIN_MAX);
	FUZZ_CHECK(job->pin == NULL || job->has_pin == 1);
	FUZZ_CHECK(job->cost >= sizeof(*job) + job->key_id_len + job->data_len);
	if ((job->type == P11W_SIGN || job->type == P11W_SIGN_AUTH) &&
	    !job->early)
		FUZZ_CHECK(job->key_id != NULL && job->data != NULL);
	/* A context-specific login always has its PIN, in its buffer. */
	if (job->type == P11W_SIGN_AUTH && !job->early)
		FUZZ_CHECK(job->has_pin == 1 && job->pin != NULL);
	job_free(job);
	return 0;
}
