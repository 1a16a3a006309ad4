/*
 * What the agent knows of tokens and their certificates, across every
 * configured module. Filled asynchronously from the helpers; consumers
 * hold a reference-counted snapshot, so a refresh never pulls data from
 * under a request in flight.
 */
#ifndef SIGNET_REGISTRY_H
#define SIGNET_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#include "agent/loop.h"
#include "common/err.h"
#include "pkcs11/p11client.h"

struct reg_cert {
	uint8_t *id;
	size_t id_len;
	char *label;
	X509 *x509;
	uint8_t sha256[32];
	uint8_t key;              /* wire.h: 0 none, 1 public, 2 private */
	bool always_auth;
};

struct reg_token {
	struct p11c *module;
	uint64_t generation;      /* the helper's, when this was read */
	char *serial, *label, *manufacturer, *model;
	uint64_t flags;           /* CK_TOKEN_INFO.flags */
	bool logged_in;
	bool certs_loaded;
	struct reg_cert *certs;
	size_t ncerts;
	/* C_GetMechanismList, read with the certificates: the assembler picks
	 * the mechanism (GOST: combined or hash-then-sign) from it. */
	unsigned long *mechs;
	size_t nmechs;
	bool mechs_known;
};

struct reg_snapshot {
	unsigned refs;
	bool stale;               /* registry_invalidate() was called */
	bool incomplete;          /* a module could not be asked (its helper
	                           * is restarting): a token missing here may
	                           * only be unavailable, not gone */
	struct reg_token *tokens;
	size_t ntokens;
};

struct registry;

MUST_CHECK int registry_new(struct registry **out, struct loop *l,
    const char *helper_path, char *const *modules, size_t nmodules);
void registry_free(struct registry *r);

size_t registry_nmodules(const struct registry *r);
struct p11c *registry_module(const struct registry *r, size_t i);

/* The newest snapshot, referenced; release with snapshot_unref. */
struct reg_snapshot *registry_snapshot(struct registry *r);
void snapshot_unref(struct reg_snapshot *s);
/* Is every token of s read from a helper that still runs? */
bool snapshot_current(const struct reg_snapshot *s);

/*
 * Reads tokens (and with with_certs, their certificates) from every
 * module, then calls fn. Concurrent refreshes share one round.
 */
typedef void (*registry_done_fn)(void *arg);
void registry_refresh(struct registry *r, bool with_certs, registry_done_fn fn,
    void *arg);

/*
 * Told of every new snapshot (after a refresh, or when a module's helper
 * was lost and its tokens went with it), with the one it replaced.
 */
typedef void (*registry_change_fn)(void *arg, const struct reg_snapshot *old,
    const struct reg_snapshot *now);
void registry_set_listener(struct registry *r, registry_change_fn fn, void *arg);

/* The PC/SC service came back: restart the helpers whose module uses it
 * (they have libpcsclite mapped), so none keeps a dead PC/SC context. */
void registry_restart_pcsc(struct registry *r);

/* The cached state is stale (e.g. a token went away): next use refreshes. */
void registry_invalidate(struct registry *r);

#endif
