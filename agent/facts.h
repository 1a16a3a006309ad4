/*
 * The facts the policy evaluator needs (agent/policy.h), collected from
 * the kernel and the certificate: the impure half of "policy is data,
 * evaluated by a pure function" (DESIGN.md, principle 5).
 */
#ifndef SIGNET_FACTS_H
#define SIGNET_FACTS_H

#include <stdint.h>
#include <sys/types.h>

#include <openssl/x509.h>

#include "agent/policy.h"
#include "agent/registry.h"

#define FACTS_MAX_GROUPS 64u
#define FACTS_MAX_ATTRS  32u

/* Supplementary groups of pid from /proc/PID/status, read at connect (the
 * kernel's SO_PEERCRED carries only the primary gid). Returns the count
 * stored (at most max); 0 when unknown. */
size_t facts_peer_groups(pid_t pid, gid_t *out, size_t max);

/* A certificate's facts, owning every string the policy_cert points at. */
struct cert_facts {
	struct policy_cert pc;
	struct policy_attr attrs[FACTS_MAX_ATTRS];
	char *strings[3 * FACTS_MAX_ATTRS + 8]; /* freed by facts_cert_clear */
	size_t nstrings;
};

/* Fills f from the certificate and its place on the token. chain is the
 * result of the [certs] ca_bundle check (POLICY_CHAIN_UNCHECKED without
 * one). */
MUST_CHECK int facts_cert(struct cert_facts *f, X509 *cert,
    const struct reg_token *t, const struct reg_cert *rc,
    enum policy_chain chain);
void facts_cert_clear(struct cert_facts *f);

/* SNILS, INN, INNLE, OGRN, OGRNIP of the subject, by OID (issue 7). */
#define FACTS_OID_SNILS  "1.2.643.100.3"
#define FACTS_OID_INN    "1.2.643.3.131.1.1"
#define FACTS_OID_INNLE  "1.2.643.100.4"
#define FACTS_OID_OGRN   "1.2.643.100.1"
#define FACTS_OID_OGRNIP "1.2.643.100.5"

/* Checks cert against the CA bundle file (any purpose, at now). The
 * bundle is read once and kept; facts_chain_forget() drops it (a policy
 * reload, so a changed file is read again; and at exit). */
enum policy_chain facts_chain(X509 *cert, const char *ca_bundle);
void facts_chain_forget(void);

#endif
