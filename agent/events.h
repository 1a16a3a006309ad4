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

#endif
