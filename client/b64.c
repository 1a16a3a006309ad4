/*
 * Standard base64 (RFC 4648 section 4), strict on decode: the agent emits
 * canonical base64, so anything else is a damaged reply, not a variant to
 * tolerate.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <signet/client.h>

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value of one base64 digit, or -1. */
static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
signet_b64_encode(const void *in, size_t len, char **out, size_t *out_len)
{
	const uint8_t *p = in;
	size_t n, i, o = 0;
	char *s;

	if (out == NULL || (in == NULL && len != 0))
		return SIGNET_CLIENT_E_LOCAL;
	*out = NULL;
	/* 4 * ceil(len / 3) + 1 must not overflow. */
	if (len / 3 >= (SIZE_MAX - 5) / 4)
		return SIGNET_CLIENT_E_LOCAL;
	n = (len + 2) / 3 * 4;
	if ((s = malloc(n + 1)) == NULL)
		return SIGNET_CLIENT_E_LOCAL;
	for (i = 0; i + 3 <= len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 |
		    p[i + 2];
		s[o++] = b64_alphabet[v >> 18 & 63];
		s[o++] = b64_alphabet[v >> 12 & 63];
		s[o++] = b64_alphabet[v >> 6 & 63];
		s[o++] = b64_alphabet[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		s[o++] = b64_alphabet[v >> 18 & 63];
		s[o++] = b64_alphabet[v >> 12 & 63];
		s[o++] = '=';
		s[o++] = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		s[o++] = b64_alphabet[v >> 18 & 63];
		s[o++] = b64_alphabet[v >> 12 & 63];
		s[o++] = b64_alphabet[v >> 6 & 63];
		s[o++] = '=';
	}
	s[o] = '\0';
	*out = s;
	if (out_len != NULL)
		*out_len = o;
	return SIGNET_CLIENT_OK;
}

int
signet_b64_decode(const char *in, size_t len, uint8_t **out, size_t *out_len)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t pad = 0, i, o = 0;
	uint8_t *d = NULL;
	int r = SIGNET_CLIENT_E_LOCAL;

	if (out == NULL || out_len == NULL || (in == NULL && len != 0))
		return SIGNET_CLIENT_E_LOCAL;
	*out = NULL;
	*out_len = 0;
	if (len % 4 != 0)
		return SIGNET_CLIENT_E_LOCAL;
	if (len > 0 && s[len - 1] == '=')
		pad++;
	if (pad == 1 && len > 1 && s[len - 2] == '=')
		pad++;
	/* +1 so that empty input still yields a non-NULL buffer. */
	if ((d = malloc(len / 4 * 3 + 1)) == NULL)
		return SIGNET_CLIENT_E_LOCAL;
	for (i = 0; i < len; i += 4) {
		bool last = i + 4 == len;
		int v[4], k;
		uint32_t w;

		for (k = 0; k < 4; k++) {
			if (last && k >= 4 - (int)pad) {
				v[k] = 0;
				continue;
			}
			if ((v[k] = b64_value(s[i + k])) < 0)
				goto out; /* includes '=' before the end */
		}
		w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
		    (uint32_t)v[2] << 6 | (uint32_t)v[3];
		d[o++] = w >> 16 & 0xff;
		if (last && pad == 2) {
			if ((w & 0xffff) != 0)
				goto out; /* non-canonical: unused bits set */
			break;
		}
		d[o++] = w >> 8 & 0xff;
		if (last && pad == 1) {
			if ((w & 0xff) != 0)
				goto out;
			break;
		}
		d[o++] = w & 0xff;
	}
	*out = d;
	*out_len = o;
	d = NULL;
	r = SIGNET_CLIENT_OK;
 out:
	free(d);
	return r;
}
