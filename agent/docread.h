/*
 * Digesting a document from a client's descriptor without ever blocking
 * the event loop (DESIGN.md, principles 4 and 9): memory use does not grow
 * with the document's size.
 */
#ifndef SIGNET_DOCREAD_H
#define SIGNET_DOCREAD_H

#include <stdint.h>

#include <openssl/evp.h>

#include "agent/loop.h"
#include "common/err.h"

struct docread;

/* err: 0 at end of file; otherwise SIGNET_ERR_IO with why. The reader has
 * freed itself when this runs. */
typedef void (*docread_done_fn)(void *arg, int err, const char *why);

/*
 * Reads fd (taken: closed in every case) to its end from its current
 * position into md, counting bytes into *size. A regular file is read a
 * chunk per loop turn; a pipe is reopened non-blocking through /proc (its
 * status flags are shared with the client, so they must not be changed);
 * a socket is read with MSG_DONTWAIT; both are watched. Other kinds of
 * descriptor, or one not open for reading, fail at once: NULL is returned
 * with *why set, and fn is never called (so the caller's state stays
 * valid until this returns).
 */
struct docread *docread_start(struct loop *l, int fd, EVP_MD_CTX *md,
    uint64_t *size, docread_done_fn fn, void *arg, const char **why);
/* Fails the read with SIGNET_ERR_LIMIT as soon as more than max bytes
 * have come (0: no limit), so an oversized or endless document is refused
 * while it streams, not after. */
void docread_limit(struct docread *r, uint64_t max);

/* Stops a read in progress; fn is not called. */
void docread_cancel(struct docread *r);

#endif
