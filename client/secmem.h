/*
 * Locked, wiped memory for secrets (PINs and request lines that carry
 * them): its own pages, mlock()ed so they are not swapped, excluded from
 * core dumps, zeroed before they are unmapped. Nothing else in the client
 * holds a PIN.
 */
#ifndef SIGNET_CLIENT_SECMEM_H
#define SIGNET_CLIENT_SECMEM_H

#include <stddef.h>

#include "common/err.h"

struct secbuf {
	char *p;       /* len usable bytes, zeroed on allocation */
	size_t len;
	size_t maplen; /* whole pages */
};

/* 0 or SIGNET_ERR_NOMEM. A failing mlock (RLIMIT_MEMLOCK) is not fatal:
 * the memory is still wiped and kept out of core dumps. */
MUST_CHECK int secbuf_alloc(struct secbuf *sb, size_t len);
/* Wipes and unmaps; safe on a zeroed struct and twice. */
void secbuf_free(struct secbuf *sb);

#endif
