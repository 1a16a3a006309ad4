/*
 * The authorization and signing policy (issue 4; docs/signet.conf.5):
 * the data model and its evaluator.
 *
 * Policy is data, evaluated by a pure function (DESIGN.md, principle 5):
 * policy_eval() maps (client identity, request, certificate, token state,
 * rate counter, time) to a decision with a stable reason. Nothing here does
 * I/O, reads the clock, keeps globals or allocates: the caller collects the
 * inputs (SO_PEERCRED, /proc/PID/exe, the registry, its own counters) and
 * passes `now`. The configuration parser is agent/policy_conf.h.
 *
 * The structures below are filled by the parser and read-only afterwards;
 * a reload builds a new struct policy and swaps it in whole.
 */
#ifndef SIGNET_POLICY_H
#define SIGNET_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "agent/selector.h"
#include "common/err.h"

/* Caps on what a configuration may hold. */
#define POLICY_MAX_RULES     1024u
#define POLICY_MAX_ITEMS     256u   /* items of one list key, in a rule */
#define POLICY_MAX_NAME      64u    /* bytes of a rule name */
#define POLICY_MAX_DURATION  (366u * 86400u) /* seconds, any duration */
#define POLICY_MAX_RATE      1000000u        /* N of rate = N/PERIOD */
#define POLICY_DEFAULT_TTL   (8u * 3600u)
#define POLICY_DEFAULT_PINENTRY "/usr/bin/pinentry"

/* The name a decision carries when no configured rule decided. */
#define POLICY_DEFAULT_RULE  "default"

/*
 * Refusal reasons: stable strings for data.reason (docs/protocol.md and
 * docs/signet.conf.5 "REASONS"). pin_final_try and pin_locked are the
 * protocol's existing reasons, reused with the same meaning.
 */
#define POLICY_R_POLICY_DENIED      "policy_denied"
#define POLICY_R_INPUT_NOT_ALLOWED  "input_not_allowed"
#define POLICY_R_DIGEST_NOT_ALLOWED "digest_not_allowed"
#define POLICY_R_CERT_NOT_ALLOWED   "cert_not_allowed"
#define POLICY_R_BATCH_TOO_LARGE    "batch_too_large"
#define POLICY_R_DOCUMENT_TOO_LARGE "document_too_large"
#define POLICY_R_RATE_LIMITED       "rate_limited"
#define POLICY_R_CERT_EXPIRED       "cert_expired"
#define POLICY_R_CERT_NOT_YET_VALID "cert_not_yet_valid"
#define POLICY_R_CERT_KEY_USAGE     "cert_key_usage"
#define POLICY_R_CERT_UNTRUSTED     "cert_untrusted"
#define POLICY_R_PIN_SOURCE_NOT_ALLOWED "pin_source_not_allowed"
#define POLICY_R_PIN_FINAL_TRY      "pin_final_try"
#define POLICY_R_PIN_LOCKED         "pin_locked"

enum policy_mode {
	POLICY_MODE_USER = 0,   /* no rule matches: the implicit user rule */
	POLICY_MODE_SYSTEM,     /* no rule matches: deny */
};

/* "user" / "system"; SIGNET_ERR_FORMAT otherwise. */
MUST_CHECK int policy_mode_from_name(const char *name, enum policy_mode *out);
const char *policy_mode_name(enum policy_mode m);

/* How a request hands over what is signed (bit set). */
enum policy_input_kind {
	POLICY_IN_DATA = 1u << 0,    /* inline base64 "data" */
	POLICY_IN_FD = 1u << 1,      /* a passed descriptor */
	POLICY_IN_DIGEST = 1u << 2,  /* "digest_value": blind signing */
};
#define POLICY_IN_ALL (POLICY_IN_DATA | POLICY_IN_FD | POLICY_IN_DIGEST)

/* Digest algorithms (bit set). SHA-1 has no bit: it is never accepted. */
enum policy_digest {
	POLICY_MD_SHA256 = 1u << 0,
	POLICY_MD_SHA384 = 1u << 1,
	POLICY_MD_SHA512 = 1u << 2,
	POLICY_MD_STREEBOG256 = 1u << 3, /* GOST R 34.11-2012 (issue 7) */
	POLICY_MD_STREEBOG512 = 1u << 4,
};
#define POLICY_MD_ALL (POLICY_MD_SHA256 | POLICY_MD_SHA384 | POLICY_MD_SHA512 | \
	POLICY_MD_STREEBOG256 | POLICY_MD_STREEBOG512)

/* "sha256" -> POLICY_MD_SHA256 ..., "streebog256", "streebog512"; 0 for
 * anything else (sha1 included). */
unsigned policy_digest_from_name(const char *name);

/* keyUsage bits, numbered as in RFC 5280 4.2.1.3 (bit n = 1u << n). */
#define POLICY_KU_DIGITAL_SIGNATURE (1u << 0)
#define POLICY_KU_NON_REPUDIATION   (1u << 1)
#define POLICY_KU_KEY_ENCIPHERMENT  (1u << 2)
#define POLICY_KU_DATA_ENCIPHERMENT (1u << 3)
#define POLICY_KU_KEY_AGREEMENT     (1u << 4)
#define POLICY_KU_KEY_CERT_SIGN     (1u << 5)
#define POLICY_KU_CRL_SIGN          (1u << 6)
#define POLICY_KU_ENCIPHER_ONLY     (1u << 7)
#define POLICY_KU_DECIPHER_ONLY     (1u << 8)

/* PIN sources, named as in [login] pin_source. */
enum policy_pin_source {
	POLICY_PIN_CLIENT = 0,   /* the client's token.login "pin" */
	POLICY_PIN_PINENTRY,     /* the agent asks a pinentry program */
	POLICY_PIN_PINPAD,       /* the reader's PIN pad (protected auth path) */
	POLICY_PIN_NSOURCES,
};
const char *policy_pin_source_name(enum policy_pin_source s);

/* ---- The model (filled by agent/policy_conf.c) ---- */

struct policy_names;      /* agent/policy_conf.h */

enum policy_action { POLICY_ALLOW = 0, POLICY_DENY };

enum policy_certmatch_kind {
	POLICY_CM_ANY = 0,      /* any */
	POLICY_CM_NONE,         /* none: the client may use the agent (list,
	                         * log in and out) but sign nothing */
	POLICY_CM_SELECTOR,     /* sha256:HEX, pkcs11:URI (agent/selector.h) */
	POLICY_CM_SUBJECT,      /* subject:ATTR=VALUE */
	POLICY_CM_SNILS,        /* snils:DIGITS */
	POLICY_CM_INN,          /* inn:DIGITS: the INN or INNLE field */
	POLICY_CM_OGRN,         /* ogrn:DIGITS: the OGRN or OGRNIP field */
};

struct policy_certmatch {
	enum policy_certmatch_kind kind;
	char *text;               /* as written, for printing */
	struct selector sel;      /* POLICY_CM_SELECTOR */
	char *attr;               /* POLICY_CM_SUBJECT: short name or OID */
	char *value;              /* POLICY_CM_SUBJECT: the value; CM_SNILS,
	                           * CM_INN, CM_OGRN: digits only */
};

/* Keys of a rule, for "set" bits and the line each was given on. */
enum policy_rule_key {
	POLICY_RK_USER = 0, POLICY_RK_GROUP, POLICY_RK_EXE, POLICY_RK_CERTS,
	POLICY_RK_INPUTS, POLICY_RK_DIGESTS, POLICY_RK_MAX_SIZE, POLICY_RK_RATE,
	POLICY_RK_MAX_BATCH, POLICY_RK_PIN_FROM_CLIENT, POLICY_RK_ACTION,
	POLICY_RK_COUNT,
};

struct policy_rule {
	char *name;
	char *file;               /* where it was defined, for messages */
	unsigned line;
	unsigned key_line[POLICY_RK_COUNT]; /* 0: the key was not given */
	enum policy_action action;
	/* Matchers: AND across kinds, OR within a list; an empty list does
	 * not constrain. */
	uid_t *uids;
	char **user_names;        /* as written, parallel to uids */
	size_t nuids;
	gid_t *gids;
	char **group_names;
	size_t ngids;
	char **exes;              /* absolute paths, symlinks resolved at load */
	char **exe_names;         /* as written, parallel to exes */
	size_t nexes;
	/* Grants (allow rules). ncerts == 0 means any. */
	struct policy_certmatch *certs;
	size_t ncerts;
	unsigned inputs;          /* POLICY_IN_* */
	unsigned digests;         /* POLICY_MD_* */
	uint64_t max_size;        /* bytes per document; 0: none */
	unsigned rate_count;      /* 0: none */
	uint32_t rate_period;     /* seconds */
	unsigned max_batch;       /* 0: none (the protocol's 256) */
	bool pin_from_client;
};

struct policy_login {
	uint32_t ttl;             /* seconds from login; 0: none */
	uint32_t idle;            /* seconds since last use; 0: none */
	unsigned max_signatures;  /* per login; 0: none */
	enum policy_pin_source pin_sources[POLICY_PIN_NSOURCES];
	size_t npin_sources;      /* in preference order */
	char *pinentry;           /* absolute path; NULL: the default
	                           * (use policy_pinentry()) */
	bool final_try_ask;       /* allow_final_try: true ask, false no */
};

enum policy_key_usage { POLICY_KU_CHECK_NO = 0, POLICY_KU_CHECK_YES };

struct policy_certs {
	char *ca_bundle;          /* NULL: chains are not checked */
	enum policy_key_usage require_key_usage;
};

struct policy {
	struct policy_rule *rules;  /* in file order: the order they are tried */
	size_t nrules;
	struct policy_login login;
	struct policy_certs certs;
	/* Parser state (agent/policy_conf.c); not part of the model. */
	struct {
		int section;          /* the section being read */
		char *login_at;       /* "file:line" of [login], once seen */
		char *certs_at;       /* "file:line" of [certs], once seen */
		unsigned login_seen;  /* keys given in [login] (bits) */
		unsigned certs_seen;  /* keys given in [certs] (bits) */
		const struct policy_names *names; /* NULL: the system's */
	} conf;
};

/* Defaults: no rules, [login] and [certs] as docs/signet.conf.5 says. */
void policy_init(struct policy *p);
void policy_clear(struct policy *p);

/* [login] pinentry, or POLICY_DEFAULT_PINENTRY when not set. */
const char *policy_pinentry(const struct policy *p);

/* ---- Evaluator inputs ---- */

/* Who is asking, as the kernel says (never as the client says). */
struct policy_identity {
	uid_t uid;
	gid_t gid;                /* primary */
	const gid_t *groups;      /* supplementary */
	size_t ngroups;
	pid_t pid;                /* informational; never matched */
	const char *exe;          /* /proc/PID/exe at connect; NULL: unknown */
};

enum policy_op {
	POLICY_OP_SIGN = 0,
	POLICY_OP_LOGIN_PIN,      /* token.login with a PIN from the client */
	POLICY_OP_LOGIN_PINPAD,   /* token.login on a PIN pad, no PIN sent */
	POLICY_OP_LOGOUT,         /* token.logout, agent.lock */
	POLICY_OP_LIST,           /* tokens.list, certs.list, events: and
	                           * "may this client use the agent at all" */
};

struct policy_request {
	enum policy_op op;
	/* POLICY_OP_SIGN: */
	unsigned inputs;          /* POLICY_IN_* used by its documents */
	unsigned digest;          /* one POLICY_MD_*; 0: anything else */
	unsigned ndocs;           /* documents (1, or the batch size) */
	uint64_t max_doc_size;    /* largest known size; 0: not known yet
	                           * (then policy_check_size() as it streams) */
};

/* One subject attribute: its short name (OpenSSL's, e.g. "CN", "O",
 * "SNILS"; NULL when it has none), its dotted OID ("2.5.4.3"; may be NULL
 * when name is set) and its UTF-8 value. subject:ATTR=VALUE matches ATTR
 * against either. */
struct policy_attr {
	const char *name;
	const char *oid;
	const char *value;
};

enum policy_chain {
	POLICY_CHAIN_UNCHECKED = 0, /* no bundle configured, or not verified */
	POLICY_CHAIN_OK,
	POLICY_CHAIN_FAILED,
};

/* The certificate a sign request resolved to, and where it lives. */
struct policy_cert {
	uint8_t sha256[32];
	const char *token_serial, *token_label, *token_manufacturer,
	    *token_model;
	const uint8_t *id;        /* CKA_ID */
	size_t id_len;
	const char *label;        /* CKA_LABEL of the certificate object */
	const char *subject;      /* RFC 2253; for messages and prompts */
	const struct policy_attr *subject_attrs;
	size_t nsubject_attrs;
	/* Russian qualified-certificate identifiers (issue 7): digits as in
	 * the certificate; NULL or "" when it does not carry them. */
	const char *snils, *inn, *innle, *ogrn, *ogrnip;
	time_t not_before, not_after;
	bool has_key_usage;       /* the extension is present */
	unsigned key_usage;       /* POLICY_KU_* */
	enum policy_chain chain;  /* against [certs] ca_bundle */
};

/* The token's state as the agent knows it. */
struct policy_token {
	bool logged_in;
	time_t login_time;        /* when the login began (or was first seen) */
	time_t last_use;          /* the last signature, or the login */
	unsigned signatures;      /* made under this login */
	bool protected_auth_path; /* the reader has a PIN pad */
	bool pin_count_low, pin_final_try, pin_locked;
};

/* A client's (uid + exe) signature counter: a fixed window. All zero is a
 * client that has not signed yet. */
struct policy_rate {
	time_t window_start;
	unsigned count;
};

struct policy_input {
	enum policy_mode mode;
	uid_t self_uid;           /* the agent's uid (user mode's own user) */
	struct policy_identity id;
	struct policy_request req;
	struct policy_cert cert;  /* POLICY_OP_SIGN only */
	struct policy_token token;  /* POLICY_OP_SIGN and the logins */
	struct policy_rate rate;  /* POLICY_OP_SIGN only */
	time_t now;
};

/* ---- Evaluator output ---- */

/* Effective limits of the deciding rule (0: none). */
struct policy_limits {
	uint64_t max_size;        /* bytes per document */
	unsigned max_batch;       /* documents per request; never above what
	                           * rate and login max_signatures permit */
	unsigned rate_count;
	uint32_t rate_period;
};

/* Where a token's login stands, for a request of n signatures. */
enum policy_login_state {
	POLICY_LOGIN_NONE = 0,    /* not logged in */
	POLICY_LOGIN_VALID,
	POLICY_LOGIN_TTL,         /* over: [login] ttl has passed */
	POLICY_LOGIN_IDLE,        /* over: unused for [login] idle */
	POLICY_LOGIN_COUNT,       /* over: max_signatures used up */
};
const char *policy_login_state_name(enum policy_login_state s);

/* SIGN: how to get the token authorized before signing. */
enum policy_auth {
	POLICY_AUTH_READY = 0,    /* logged in, and the login may serve it */
	POLICY_AUTH_PINPAD,       /* log in on the reader's PIN pad */
	POLICY_AUTH_PINENTRY,     /* ask [login] pinentry for the PIN */
	POLICY_AUTH_CLIENT,       /* answer auth_required: token.login first */
};

struct policy_decision {
	bool allow;
	const char *reason;       /* NULL when allowed; else POLICY_R_* */
	const char *rule;         /* the deciding rule's name, or "default" */
	const struct policy_rule *matched; /* NULL: the implicit default */
	struct policy_limits limits;
	uint32_t retry_after;     /* rate_limited: seconds until it resets */
	/* PIN sources this client may use, in [login] preference order
	 * (client only where its rule has pin_from_client). */
	enum policy_pin_source sources[POLICY_PIN_NSOURCES];
	size_t nsources;
	/* SIGN and logins (auth and final_try_consent mean something only
	 * when allowed): */
	enum policy_login_state login; /* VALID, NONE, or why it is over:
	                                * then log the token out first */
	enum policy_auth auth;    /* SIGN */
	bool final_try_consent;   /* the token is at its final PIN try and
	                           * [login] allow_final_try = ask: get
	                           * explicit consent before trying */
};

/*
 * The decision for one request; returns out->allow. Never fails: every
 * input has a defined answer. The order of checks is that of
 * docs/signet.conf.5, "EVALUATION":
 *   1. the first rule whose user, group and exe all match decides; none:
 *      in user mode the implicit rule if uid is self_uid or 0, else deny
 *      (policy_denied); a deny rule: policy_denied;
 *   2. SIGN: the certificate's validity period (cert_not_yet_valid,
 *      cert_expired), keyUsage (cert_key_usage), chain (cert_untrusted);
 *   3. SIGN: the rule's grants: certs (cert_not_allowed), inputs
 *      (input_not_allowed), digests (digest_not_allowed; SHA-1 never),
 *      batch size (batch_too_large), known document size
 *      (document_too_large), rate (rate_limited with retry_after);
 *   4. the PIN: logins need their source allowed (pin_source_not_allowed);
 *      a login that is needed on a locked PIN is refused (pin_locked), one
 *      at its final try with allow_final_try = no too (pin_final_try).
 * Pointers in *out point into p (rule names) or are static strings: valid
 * while p lives.
 */
bool policy_eval(const struct policy *p, const struct policy_input *in,
    struct policy_decision *out);

/* Per-document size check while a document streams: NULL when size bytes
 * are within the limits, else POLICY_R_DOCUMENT_TOO_LARGE. */
const char *policy_check_size(const struct policy_limits *l, uint64_t size);

/* Counts n signatures into a client's counter (after an allowed request
 * is admitted; a new window starts when the old one has run out). */
void policy_rate_add(struct policy_rate *r, const struct policy_limits *l,
    unsigned n, time_t now);

/* Whether the token's login may still serve n more signatures at now. */
enum policy_login_state policy_login_check(const struct policy *p,
    const struct policy_token *t, unsigned n, time_t now);

/* When the login ends by time (ttl or idle, whichever first), for a
 * timer; 0 when not logged in or no time limit applies. */
time_t policy_login_deadline(const struct policy *p,
    const struct policy_token *t);

#endif
