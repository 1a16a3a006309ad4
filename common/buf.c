#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

#define BUF_MIN_ALLOC 256

void
buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
buf_view(struct buf *b, const void *data, size_t len)
{
	memset(b, 0, sizeof(*b));
	b->data = (uint8_t *)data; /* never written: cap stays 0 */
	b->len = len;
	b->max = len;
}

void
buf_free(struct buf *b)
{
	if (b->cap > 0) {
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	memset(b, 0, sizeof(*b));
}

void
buf_reset(struct buf *b)
{
	if (b->cap > 0 && b->len > 0)
		explicit_bzero(b->data, b->len);
	b->len = 0;
	b->off = 0;
	b->failed = false;
}

/* Room for n more bytes, or the sticky failure. */
static bool
buf_grow(struct buf *b, size_t n)
{
	size_t want, ncap;
	uint8_t *p;

	if (b->failed)
		return false;
	if (b->cap == 0 && b->data != NULL) /* a view */
		goto fail;
	if (n > b->max || b->len > b->max - n)
		goto fail;
	want = b->len + n;
	if (want <= b->cap)
		return true;
	ncap = b->cap < BUF_MIN_ALLOC ? BUF_MIN_ALLOC : b->cap;
	while (ncap < want)
		ncap = ncap > SIZE_MAX / 2 ? want : ncap * 2;
	if (ncap > b->max)
		ncap = b->max;
	if (b->secret) {
		/* realloc could leave a copy of the secret behind */
		if ((p = malloc(ncap)) == NULL)
			goto fail;
		if (b->len > 0)
			memcpy(p, b->data, b->len);
		if (b->cap > 0) {
			explicit_bzero(b->data, b->cap);
			free(b->data);
		}
	} else if ((p = realloc(b->data, ncap)) == NULL)
		goto fail;
	b->data = p;
	b->cap = ncap;
	return true;
fail:
	b->failed = true;
	return false;
}

uint8_t *
buf_reserve(struct buf *b, size_t n)
{
	uint8_t *p;

	if (!buf_grow(b, n))
		return NULL;
	p = b->data + b->len;
	b->len += n;
	return p;
}

void
buf_put(struct buf *b, const void *p, size_t n)
{
	uint8_t *d;

	if (n == 0)
		return;
	if ((d = buf_reserve(b, n)) != NULL)
		memcpy(d, p, n);
}

void
buf_put_u8(struct buf *b, uint8_t v)
{
	buf_put(b, &v, 1);
}

void
buf_put_u32(struct buf *b, uint32_t v)
{
	uint8_t d[4] = { v >> 24, v >> 16, v >> 8, v };

	buf_put(b, d, sizeof(d));
}

void
buf_put_u64(struct buf *b, uint64_t v)
{
	buf_put_u32(b, (uint32_t)(v >> 32));
	buf_put_u32(b, (uint32_t)v);
}

void
buf_put_str(struct buf *b, const void *p, size_t n)
{
	if (n > UINT32_MAX) {
		b->failed = true;
		return;
	}
	buf_put_u32(b, (uint32_t)n);
	buf_put(b, p, n);
}

void
buf_put_cstr(struct buf *b, const char *s)
{
	buf_put_str(b, s, s == NULL ? 0 : strlen(s));
}

/* n bytes at the read position, or NULL and the sticky failure. */
static const uint8_t *
buf_take(struct buf *b, size_t n)
{
	const uint8_t *p;

	if (b->failed || n > b->len - b->off) {
		b->failed = true;
		return NULL;
	}
	p = b->data + b->off;
	b->off += n;
	return p;
}

uint8_t
buf_get_u8(struct buf *b)
{
	const uint8_t *p = buf_take(b, 1);

	return p == NULL ? 0 : p[0];
}

uint32_t
buf_get_u32(struct buf *b)
{
	const uint8_t *p = buf_take(b, 4);

	if (p == NULL)
		return 0;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

uint64_t
buf_get_u64(struct buf *b)
{
	uint64_t hi = buf_get_u32(b);

	return hi << 32 | buf_get_u32(b);
}

const uint8_t *
buf_get_str(struct buf *b, size_t *n, size_t max)
{
	uint32_t len = buf_get_u32(b);
	const uint8_t *p;

	*n = 0;
	if (len > max) {
		b->failed = true;
		return NULL;
	}
	if ((p = buf_take(b, len)) == NULL)
		return NULL;
	*n = len;
	return p;
}

char *
buf_get_cstr(struct buf *b, size_t max)
{
	size_t n;
	const uint8_t *p = buf_get_str(b, &n, max);
	char *s;

	if (p == NULL && b->failed)
		return NULL;
	if (n > 0 && memchr(p, '\0', n) != NULL) {
		b->failed = true;
		return NULL;
	}
	if ((s = malloc(n + 1)) == NULL) {
		b->failed = true;
		return NULL;
	}
	if (n > 0)
		memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

size_t
buf_remaining(const struct buf *b)
{
	return b->len - b->off;
}

bool
buf_done(const struct buf *b)
{
	return !b->failed && b->off == b->len;
}
