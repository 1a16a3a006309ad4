/*
 * The agent's side of one PKCS#11 helper process (wire.h): starts it,
 * pipelines requests to it without blocking the loop, matches responses,
 * and restarts it when it dies or hangs. Every request gets exactly one
 * completion: the helper's answer, or P11C_LOST when the helper went away
 * first (the request's token state is then unknown and its logins gone).
 */
#ifndef SIGNET_P11CLIENT_H
#define SIGNET_P11CLIENT_H

#include <stdint.h>
#include <sys/types.h>

#include "agent/loop.h"
#include "common/buf.h"
#include "common/err.h"

#define P11C_LOST SIGNET_ERR_CLOSED

struct p11c;

/*
 * status: 0 when the helper answered (rv is its CK_RV, resp is positioned
 * after rv, valid only during the call), P11C_LOST otherwise.
 */
typedef void (*p11c_done_fn)(void *arg, int status, uint64_t rv, struct buf *resp);

/* Called after a running helper was lost (its tokens and logins are
 * gone) and every pending request has failed. */
typedef void (*p11c_lost_fn)(void *arg, struct p11c *c);
void p11c_set_lost_cb(struct p11c *c, p11c_lost_fn fn, void *arg);

MUST_CHECK int p11c_new(struct p11c **out, struct loop *l,
    const char *helper_path, const char *module_path);
/* Closes the helper's socket so it logs out and finalizes the module,
 * waits a little for it, then kills it; pending requests fail with
 * P11C_LOST and no new helper starts. */
void p11c_shutdown(struct p11c *c);
/* Kills the helper now (its requests fail with P11C_LOST, its tokens
 * are reported gone); the next request starts a fresh one. */
void p11c_restart(struct p11c *c, const char *why);

/* Shuts down if needed, then frees. */
void p11c_free(struct p11c *c);

const char *p11c_module(const struct p11c *c);
/* Increases every time a helper (re)starts: cached token state from an
 * older generation is stale, and its logins are gone. */
uint64_t p11c_generation(const struct p11c *c);
pid_t p11c_pid(const struct p11c *c);

/*
 * Sends a request of the given type whose fields (after id and type) are
 * in payload. timeout_ms bounds the helper's answer: past it the helper is
 * taken as hung, killed and restarted. Starts the helper if it is not
 * running. The payload is copied; a secret payload is wiped after sending.
 */
MUST_CHECK int p11c_call(struct p11c *c, uint8_t type, const struct buf *payload,
    uint32_t timeout_ms, p11c_done_fn fn, void *arg);

#endif
