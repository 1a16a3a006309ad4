/*
 * libsignet's base64 API over the tree's one implementation
 * (common/b64.c): standard alphabet, strict on decode -- the agent emits
 * canonical base64, so anything else is a damaged reply.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <signet/client.h>

#include "common/b64.h"

struct sink {
	uint8_t *d;
	size_t n;
};

static void
sink_put(void *arg, const uint8_t *p, size_t n)
{
	struct sink *s = arg;

	memcpy(s->d + s->n, p, n);
	s->n += n;
}

int
signet_b64_encode(const void *in, size_t len, char **out, size_t *out_len)
{
	size_t n;

	if (out == NULL || (in == NULL && len != 0))
		return SIGNET_CLIENT_E_LOCAL;
	if ((*out = b64_encode(in, len, &n)) == NULL)
		return SIGNET_CLIENT_E_LOCAL;
	if (out_len != NULL)
		*out_len = n;
	return SIGNET_CLIENT_OK;
}

int
signet_b64_decode(const char *in, size_t len, uint8_t **out, size_t *out_len)
{
	struct sink s = { NULL, 0 };

	if (out == NULL || out_len == NULL || (in == NULL && len != 0))
		return SIGNET_CLIENT_E_LOCAL;
	*out = NULL;
	*out_len = 0;
	/* +1 so that empty input still yields a non-NULL buffer. */
	if ((s.d = malloc(len / 4 * 3 + 1)) == NULL)
		return SIGNET_CLIENT_E_LOCAL;
	if (b64_decode_stream(in, len, sink_put, &s) != 0) {
		free(s.d);
		return SIGNET_CLIENT_E_LOCAL;
	}
	*out = s.d;
	*out_len = s.n;
	return SIGNET_CLIENT_OK;
}
