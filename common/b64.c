#include <stdint.h>
#include <stdlib.h>

#include "common/b64.h"

#define B64_BLOCK (48u * 1024u) /* decoded bytes per sink call; 64 KiB in */

static int
b64_val(unsigned char c)
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
b64_decode_stream(const char *s, size_t len, b64_sink fn, void *arg)
{
	uint8_t out[B64_BLOCK];
	size_t i, n = 0;
	int v[4], k, pad;

	if (len % 4 != 0)
		return SIGNET_ERR_FORMAT;
	for (i = 0; i < len; i += 4) {
		pad = 0;
		for (k = 0; k < 4; k++) {
			if (s[i + k] == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
			} else if (pad > 0 || (v[k] = b64_val((unsigned char)s[i + k])) < 0)
				return SIGNET_ERR_FORMAT;
		}
		/* Canonical: bits below the padding must be zero. */
		if ((pad == 1 && (v[2] & 0x3)) || (pad == 2 && (v[1] & 0xf)))
			return SIGNET_ERR_FORMAT;
		out[n++] = (uint8_t)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[n++] = (uint8_t)(v[1] << 4 | v[2] >> 2);
		if (pad < 1)
			out[n++] = (uint8_t)(v[2] << 6 | v[3]);
		if (n > sizeof(out) - 3) {
			fn(arg, out, n);
			n = 0;
		}
	}
	if (n > 0)
		fn(arg, out, n);
	return 0;
}

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
b64_encode(const uint8_t *p, size_t n, size_t *out_len)
{
	size_t i, o = 0;
	uint32_t v;
	char *s;

	/* 4 * ceil(n / 3) + 1 must not overflow. */
	if (n / 3 >= (SIZE_MAX - 5) / 4 ||
	    (s = malloc((n + 2) / 3 * 4 + 1)) == NULL)
		return NULL;
	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		s[o++] = b64_alphabet[v >> 18 & 63];
		s[o++] = b64_alphabet[v >> 12 & 63];
		s[o++] = b64_alphabet[v >> 6 & 63];
		s[o++] = b64_alphabet[v & 63];
	}
	if (n - i > 0) {
		v = (uint32_t)p[i] << 16;
		if (n - i == 2)
			v |= (uint32_t)p[i + 1] << 8;
		s[o++] = b64_alphabet[v >> 18 & 63];
		s[o++] = b64_alphabet[v >> 12 & 63];
		if (n - i == 2)
			s[o++] = b64_alphabet[v >> 6 & 63];
		else
			s[o++] = '=';
		s[o++] = '=';
	}
	s[o] = '\0';
	*out_len = o;
	return s;
}
