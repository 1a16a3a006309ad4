/*
 * Live token events for subscribed clients (events.subscribe): the agent
 * keeps what it last told about each token and, on every new registry
 * snapshot or login change, sends JSON-RPC notifications token.inserted,
 * token.removed, token.logged_in and token.logged_out with a reason.
 * It also polls the modules while anyone listens or a token is logged in,
 * so removals are seen (and logins forgotten) without a client asking.
 */
#ifndef SIGNET_EVENTS_H
#define SIGNET_EVENTS_H

#include <stdbool.h>

#include "agent/agent.h"
#include "agent/policy.h"
#include "agent/registry.h"

#define EVENTS_POLL_MS 2000u

struct events;

MUST_CHECK int events_new(struct events **out, struct agent *a);
void events_free(struct events *ev);

/* Registry listener (registry_set_listener). */
void events_on_snapshot(void *arg, const struct reg_snapshot *old,
    const struct reg_snapshot *now);
/* The agent changed a token's login; reason e.g. "client", "ttl". */
void events_login(struct events *ev, const void *module, const char *serial,
    const char *label, bool logged_in, const char *reason);
/* Something outside may have changed (a PC/SC event): refresh soon. */
void events_poke(struct events *ev);

/*
 * Login bookkeeping for the policy's [login] ttl, idle and
 * max_signatures: fills the token's login facts (false when the agent
 * knows nothing of that token).
 */
bool events_token_state(struct events *ev, const void *module,
    const char *serial, struct policy_token *out);
/* n signatures were made under the token's current login. */
void events_signed(struct events *ev, const void *module, const char *serial,
    unsigned n);
/*
 * Keys seen to sign verifiably under the token's current login (see
 * cades.h, CADES_FINISH_KEY_VERIFIED): forgotten when the token logs out,
 * leaves, or its helper restarts (the token then leaves the view).
 */
bool events_key_verified(struct events *ev, const void *module,
    const char *serial, const uint8_t *id, size_t id_len,
    const uint8_t cert_sha256[32]);
void events_key_mark(struct events *ev, const void *module, const char *serial,
    const uint8_t *id, size_t id_len, const uint8_t cert_sha256[32]);

/* Re-arms the timer that ends logins by ttl or idle (after a change of
 * policy); expired logins are logged out through agent_logout_token. */
void events_rearm(struct events *ev);

#endif
