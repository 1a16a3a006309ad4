/*
 * A bounded byte buffer with a sticky error flag (after p11-kit's and
 * OpenSSH's): writers append many fields and check once; readers consume
 * fields through typed getters that never read past the end. Handlers never
 * do pointer arithmetic on peer input.
 *
 * Integers are big-endian. A "string" is a u32 length then that many bytes.
 */
#ifndef SIGNET_BUF_H
#define SIGNET_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#include "common/err.h"

struct buf {
	uint8_t *data;
	size_t len;   /* bytes written */
	size_t off;   /* read position */
	size_t cap;   /* allocated */
	size_t max;   /* never grow past this */
	bool failed;  /* sticky: a write did not fit or a read ran short */
	bool secret;  /* wipe on every reallocation and on free */
};

/* A buffer that may grow to max bytes. */
void buf_init(struct buf *b, size_t max);
/* Wipes (always, cheap for small buffers) and frees. */
void buf_free(struct buf *b);
void buf_reset(struct buf *b);
/* Read-only view over bytes owned by someone else; buf_free is a no-op. */
void buf_view(struct buf *b, const void *data, size_t len);

void buf_put(struct buf *b, const void *p, size_t n);
void buf_put_u8(struct buf *b, uint8_t v);
void buf_put_u32(struct buf *b, uint32_t v);
void buf_put_u64(struct buf *b, uint64_t v);
void buf_put_str(struct buf *b, const void *p, size_t n);
void buf_put_cstr(struct buf *b, const char *s);
/* Reserve n bytes at the end and return them (NULL on failure). */
uint8_t *buf_reserve(struct buf *b, size_t n);

uint8_t buf_get_u8(struct buf *b);
uint32_t buf_get_u32(struct buf *b);
uint64_t buf_get_u64(struct buf *b);
/* Points into the buffer; valid until it is modified. At most max bytes. */
const uint8_t *buf_get_str(struct buf *b, size_t *n, size_t max);
/* A copy, NUL-terminated, no embedded NUL; caller frees. */
char *buf_get_cstr(struct buf *b, size_t max);
size_t buf_remaining(const struct buf *b);
/* Read position reached the end and nothing failed. */
bool buf_done(const struct buf *b);

#endif
