/*
 * From a client's selector to a token or certificate of a snapshot, with
 * the typed refusal when there is none or more than one.
 */
#ifndef SIGNET_RESOLVE_H
#define SIGNET_RESOLVE_H

#include <jansson.h>

#include "agent/agent.h"
#include "agent/registry.h"

/*
 * Finds the token named by sel (NULL: the only token present) in s. On
 * failure finishes the call with bad_selector, token_not_found or
 * token_ambiguous and returns NULL.
 */
struct reg_token *resolve_token(struct call *c, struct reg_snapshot *s,
    const char *sel);

/* Finds the certificate named by sel; *tok gets its token. Returns NULL
 * and sets *reason (cert_not_found, cert_ambiguous, or token_unavailable
 * when a module could not be asked) when it finds none or several;
 * finishes the call only on bad_selector (*reason NULL then). */
struct reg_cert *resolve_cert(struct call *c, struct reg_snapshot *s,
    const char *sel, struct reg_token **tok, const char **reason);

/* Finishes a call with token_unavailable: a module's helper is down. */
void call_unavailable(struct call *c);

/* {"pin_count_low":b,"pin_final_try":b,"pin_locked":b} from token flags. */
json_t *pin_flags_json(uint64_t flags);

/* Finishes a call with the error that a helper's CK_RV means; the
 * audited form writes ev (taken) first. */
void call_ckr_error(struct call *c, uint64_t rv);
void call_ckr_error_audited(struct call *c, uint64_t rv, json_t *ev);

#endif
