/*
 * Where the agent asks its policy (agent/policy.h): every method calls
 * here before acting, with the identity the kernel gave at connect.
 */
#ifndef SIGNET_AUTHORIZE_H
#define SIGNET_AUTHORIZE_H

#include <stdbool.h>

#include "agent/agent.h"
#include "agent/policy.h"

/* The evaluator's input for this call: mode, identity, now. */
void authorize_input(const struct call *c, struct policy_input *in);

/*
 * For operations without a certificate (lists, logins, logout, lock):
 * evaluates op and, when refused, answers the call (audited, as an event
 * of ev_type) and returns false. On success *d holds the decision when d
 * is not NULL.
 */
bool authorize_op(struct call *c, enum policy_op op, const char *ev_type,
    struct policy_decision *d);

/* At connect: may this peer use the agent at all? Fills *reason. */
bool authorize_connect(struct agent *a, const struct ucred *peer,
    const char *exe, const gid_t *groups, size_t ngroups, const char **reason);

/* The client's signature counter for rate limits, keyed by uid and
 * executable (kept while the agent runs; at most RATES_MAX clients). */
#define RATES_MAX 1024u
struct policy_rate *authorize_rate(const struct call *c);

/* The error code a policy reason is answered with. */
int authorize_code(const char *reason);

#endif
