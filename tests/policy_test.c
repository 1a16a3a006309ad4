/*
 * Unit test of the policy evaluator (agent/policy.c), table-driven: each
 * row is a policy (signet.conf text, read through the real parser), a
 * client, a request, a certificate, a token state, a rate counter and a
 * time, with the exact decision, reason and deciding rule expected. Then
 * the helpers (size, rate window, login limits) over time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/policy.h"
#include "tests/lib/policy_ini.h"

static int failures;

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
		    __LINE__, #cond); \
		failures++; \
	} \
} while (0)

#define NOW ((time_t)1767225600) /* 2026-01-01T00:00:00Z */
#define SELF 4242u               /* the agent's uid in these tests */
#define EDMS "/opt/edms/bin/edms"
#define YEAR (365 * 86400)

/* ---- Policies ---- */

static const char conf_match[] =
    "[agent]\nmode = system\n"
    "[rule by-user]\nuser = 1000\nexe = " EDMS "\n"
    "[rule by-group]\ngroup = 2000\n"
    "[rule by-exe]\nexe = /usr/bin/signet-gui, /opt/other/bin/app\n"
    "[rule two-users]\nuser = 1004, 1005\n"
    "[rule user-and-group]\nuser = 1007\ngroup = 3000\n";

static const char conf_prec[] =
    "[agent]\nmode = system\n"
    "[rule block-bob]\nuser = 1001\naction = deny\n"
    "[rule signers]\ngroup = 2000\nmax_batch = 2\n"
    "[rule signers-wide]\ngroup = 2000\nmax_batch = 50\n";

static const char conf_prec_rev[] =
    "[agent]\nmode = system\n"
    "[rule signers]\ngroup = 2000\n"
    "[rule block-bob]\nuser = 1001\naction = deny\n";

static const char conf_user[] = "[agent]\nmode = user\n";

static const char conf_user_rules[] =
    "[agent]\nmode = user\n"
    "[rule no-root]\nuser = 0\naction = deny\n"
    "[rule bob-blind]\nuser = 1001\ninputs = digest\n";

static const char conf_system_empty[] = "[agent]\nmode = system\n";

static const char conf_certs[] =
    "[agent]\nmode = system\n"
    "[certs]\nca_bundle = /etc/signet/ca.pem\n"
    "[rule by-snils]\nuser = 1000\ncerts = snils:123-456-789 01\n"
    "[rule by-sha]\nuser = 1001\ncerts = sha256:"
    "2222222222222222222222222222222222222222222222222222222222222222\n"
    "[rule by-uri]\nuser = 1002\ncerts = pkcs11:serial=TOK2;id=%02\n"
    "[rule by-subject]\nuser = 1003\n"
    "certs = subject:cn=\xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd\xd0\xbe\xd0\xb2 "
    "\xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd, \"subject:O=Ministry, of Things\"\n"
    "[rule by-inn]\nuser = 1004\ncerts = inn:1234567890\n"
    "[rule by-ogrn]\nuser = 1005\ncerts = ogrn:304500116000157\n"
    "[rule any]\nuser = 1006\ncerts = any\n"
    "[rule by-inn12]\nuser = 1007\ncerts = inn:123456789012\n"
    "[rule by-ogrn13]\nuser = 1008\ncerts = ogrn:1027700132195\n"
    "[rule by-token]\nuser = 1009\ncerts = pkcs11:manufacturer=Aktiv\n"
    "[rule by-oid]\nuser = 1010\ncerts = subject:2.5.4.10=Other\n"
    "[rule list-only]\nuser = 1011\ncerts = none\n";

static const char conf_certs_lax[] =
    "[agent]\nmode = system\n"
    "[certs]\nrequire_key_usage = no\n"
    "[rule any]\nuser = 1006\n";

static const char conf_grants[] =
    "[agent]\nmode = system\n"
    "[rule g]\nuser = 1000\ninputs = data\ndigests = sha384\n"
    "max_size = 1K\nmax_batch = 3\nrate = 5/1m\n"
    "[rule blind]\nuser = 1001\ninputs = digest\n"
    "digests = sha256, sha384, sha512\n"
    "[rule default-grants]\nuser = 1002\n"
    "[rule ratecap]\nuser = 1003\nrate = 2/1m\n";

static const char conf_login[] =
    "[agent]\nmode = system\n"
    "[login]\nttl = 8h\nidle = 15m\nmax_signatures = 1000\n"
    "pin_source = pinpad, pinentry, client\nallow_final_try = ask\n"
    "[rule clientpin]\nuser = 1000\npin_from_client = yes\n"
    "[rule nopin]\nuser = 1001\n";

static const char conf_login_strict[] =
    "[agent]\nmode = system\n"
    "[login]\npin_source = client\nallow_final_try = no\n"
    "[rule clientpin]\nuser = 1000\npin_from_client = yes\n"
    "[rule nopin]\nuser = 1001\n";

/* ---- Certificates ---- */

enum {
	C_GOOD = 0, C_OTHER, C_EXPIRED, C_NOTYET, C_EDGE, C_KEYENC, C_NOKU,
	C_NRONLY, C_DSONLY, C_UNTRUSTED, C_UNCHECKED, C_EXPIRED_KEYENC,
	C_SNILS_SEP, C_SNILS_JUNK, C_EMPTY_IDS, C_ORG, C_CASE, C_CN,
};

#define IVANOV "\xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd\xd0\xbe\xd0\xb2 " \
	"\xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd"
#define IVANOV_LOWER "\xd0\xb8\xd0\xb2\xd0\xb0\xd0\xbd\xd0\xbe\xd0\xb2 " \
	"\xd0\xb8\xd0\xb2\xd0\xb0\xd0\xbd"

static const uint8_t id01[] = { 0x01 }, id02[] = { 0x02 };
static const struct policy_attr good_attrs[] = {
	{ "CN", NULL, IVANOV }, { "O", NULL, "Ministry, of Things" },
	{ "SNILS", NULL, "12345678901" },
};
static const struct policy_attr other_attrs[] = {
	{ "CN", "2.5.4.3", "Petrov" }, { "O", "2.5.4.10", "Other" },
};
static const struct policy_attr org_attrs[] = {
	{ "O", "2.5.4.10", "Ministry, of Things" },
};
static const struct policy_attr cn_attrs[] = {
	{ "CN", NULL, IVANOV },
};
static const struct policy_attr case_attrs[] = {
	{ NULL, "2.5.4.3", IVANOV_LOWER },
};

static void
make_cert(int which, struct policy_cert *c)
{
	memset(c, 0, sizeof(*c));
	memset(c->sha256, 0x11, sizeof(c->sha256));
	c->token_serial = "TOK1";
	c->token_label = "Token One";
	c->token_manufacturer = "Aktiv";
	c->token_model = "Rutoken ECP";
	c->id = id01;
	c->id_len = sizeof(id01);
	c->label = "Ivanov";
	c->subject = "CN=" IVANOV ",O=Ministry\\, of Things";
	c->subject_attrs = good_attrs;
	c->nsubject_attrs = 3;
	c->snils = "12345678901";
	c->inn = "123456789012";
	c->ogrnip = "304500116000157";
	c->not_before = NOW - YEAR;
	c->not_after = NOW + YEAR;
	c->has_key_usage = true;
	c->key_usage = POLICY_KU_DIGITAL_SIGNATURE | POLICY_KU_NON_REPUDIATION;
	c->chain = POLICY_CHAIN_OK;
	switch (which) {
	case C_GOOD:
		break;
	case C_OTHER:
	case C_SNILS_SEP:
	case C_SNILS_JUNK:
	case C_EMPTY_IDS:
		memset(c->sha256, 0x22, sizeof(c->sha256));
		c->token_serial = "TOK2";
		c->token_label = "Token Two";
		c->token_manufacturer = "SoftHSM";
		c->id = id02;
		c->subject = "CN=Petrov,O=Other";
		c->subject_attrs = other_attrs;
		c->nsubject_attrs = 2;
		c->snils = which == C_SNILS_SEP ? "123-456-789 01" :
		    which == C_SNILS_JUNK ? "123456789O1" :
		    which == C_EMPTY_IDS ? "" : "98765432109";
		c->inn = NULL;
		c->innle = which == C_EMPTY_IDS ? NULL : "1234567890";
		c->ogrn = which == C_EMPTY_IDS ? "" : "1027700132195";
		c->ogrnip = NULL;
		break;
	case C_EXPIRED:
		c->not_after = NOW - 1;
		break;
	case C_NOTYET:
		c->not_before = NOW + 1;
		break;
	case C_EDGE:
		c->not_before = NOW;
		c->not_after = NOW;
		break;
	case C_KEYENC:
		c->key_usage = POLICY_KU_KEY_ENCIPHERMENT;
		break;
	case C_NOKU:
		c->has_key_usage = false;
		c->key_usage = 0;
		break;
	case C_NRONLY:
		c->key_usage = POLICY_KU_NON_REPUDIATION;
		break;
	case C_DSONLY:
		c->key_usage = POLICY_KU_DIGITAL_SIGNATURE;
		break;
	case C_UNTRUSTED:
		c->chain = POLICY_CHAIN_FAILED;
		break;
	case C_UNCHECKED:
		c->chain = POLICY_CHAIN_UNCHECKED;
		break;
	case C_EXPIRED_KEYENC:
		c->not_after = NOW - YEAR / 2;
		c->key_usage = POLICY_KU_KEY_ENCIPHERMENT;
		c->chain = POLICY_CHAIN_FAILED;
		break;
	case C_ORG:
		memset(c->sha256, 0x33, sizeof(c->sha256));
		c->subject_attrs = org_attrs;
		c->nsubject_attrs = 1;
		c->snils = c->inn = c->ogrnip = NULL;
		break;
	case C_CN:
		memset(c->sha256, 0x55, sizeof(c->sha256));
		c->subject_attrs = cn_attrs;
		c->nsubject_attrs = 1;
		break;
	case C_CASE:
		memset(c->sha256, 0x44, sizeof(c->sha256));
		c->subject_attrs = case_attrs;
		c->nsubject_attrs = 1;
		break;
	}
}

/* ---- Token states ---- */

enum {
	T_IN = 0, T_OUT, T_OUT_PAD, T_OUT_FINAL, T_OUT_LOCKED, T_IN_FINAL,
	T_TTL, T_TTL_EDGE, T_IDLE, T_IDLE_EDGE, T_COUNT, T_COUNT_NEAR,
};

static void
make_token(int which, struct policy_token *t)
{
	memset(t, 0, sizeof(*t));
	t->logged_in = true;
	t->login_time = NOW - 60;
	t->last_use = NOW - 10;
	t->signatures = 5;
	switch (which) {
	case T_IN:
		break;
	case T_OUT:
	case T_OUT_PAD:
	case T_OUT_FINAL:
	case T_OUT_LOCKED:
		memset(t, 0, sizeof(*t));
		t->protected_auth_path = which == T_OUT_PAD;
		t->pin_final_try = which == T_OUT_FINAL;
		t->pin_count_low = which == T_OUT_FINAL;
		t->pin_locked = which == T_OUT_LOCKED;
		break;
	case T_IN_FINAL:
		t->pin_final_try = true;
		break;
	case T_TTL:
		t->login_time = NOW - 8 * 3600;
		break;
	case T_TTL_EDGE:
		t->login_time = NOW - 8 * 3600 + 1;
		break;
	case T_IDLE:
		t->login_time = NOW - 3600;
		t->last_use = NOW - 15 * 60;
		break;
	case T_IDLE_EDGE:
		t->login_time = NOW - 3600;
		t->last_use = NOW - 15 * 60 + 1;
		break;
	case T_COUNT:
		t->signatures = 1000;
		break;
	case T_COUNT_NEAR:
		t->signatures = 998;
		break;
	}
}

/* ---- The table ---- */

#define MD_BAD 0x80u  /* a digest with no bit (sha1, md5): passes as 0 */
#define DENY(r, why) .allow = false, .rule = (r), .reason = (why)
#define ALLOW(r) .allow = true, .rule = (r)
#define LOGIN(s) .login = (s) + 1
#define AUTH(a) .auth = (a)

static const gid_t g2000[] = { 2000 };
static const gid_t g3000_2000[] = { 3000, 2000 };
static const gid_t g3000[] = { 3000 };

/* Clients. */
#define ALICE .uid = 1000, .gid = 1000, .exe = EDMS
#define ALICE_PY .uid = 1000, .gid = 1000, .exe = "/usr/bin/python3.11"
#define ALICE_NOEXE .uid = 1000, .gid = 1000, .exe = NULL
#define BOB .uid = 1001, .gid = 1001, .groups = g2000, .ngroups = 1, .exe = EDMS
#define CAROL .uid = 1002, .gid = 2000, .exe = EDMS
#define DAVE .uid = 1003, .gid = 1003, .groups = g3000_2000, .ngroups = 2, \
	.exe = EDMS
#define ERIN .uid = 1006, .gid = 1006, .exe = "/opt/other/bin/app"
#define ERIN_NOEXE .uid = 1006, .gid = 1006, .exe = NULL
#define FRANK .uid = 1005, .gid = 1005, .exe = NULL
#define GREG .uid = 1007, .gid = 1007, .groups = g3000, .ngroups = 1, .exe = NULL
#define GREG_NOGROUP .uid = 1007, .gid = 1007, .exe = NULL
#define ROOT .uid = 0, .gid = 0, .exe = "/usr/bin/signet"
#define ME .uid = SELF, .gid = SELF, .exe = "/usr/bin/signet"
#define MALLORY .uid = 6666, .gid = 6666, .exe = "/tmp/x"
#define U(n) .uid = (n), .gid = (n), .exe = EDMS

static const struct row {
	const char *name;
	const char *conf;
	/* client */
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	size_t ngroups;
	const char *exe;
	/* request; zero means: SIGN, data, sha256, one document */
	enum policy_op op;
	unsigned inputs;
	unsigned digest;
	unsigned ndocs;
	uint64_t size;
	int cert;
	int token;
	unsigned rate_count;  /* signatures in the window ... */
	int rate_age;         /* ... which began this long before now */
	/* expected */
	bool allow;
	const char *rule;
	const char *reason;
	int login;            /* policy_login_state + 1; 0: not checked */
	enum policy_auth auth;
	uint32_t retry_after;
	bool consent;
	const char *sources;  /* "a,b": not checked when NULL */
} rows[] = {
	/* Matching clients: user, group (primary, supplementary), exe. */
	{ "user+exe match", conf_match, ALICE, .op = POLICY_OP_LIST,
	    ALLOW("by-user") },
	{ "user matches, exe differs", conf_match, ALICE_PY,
	    .op = POLICY_OP_LIST, DENY("default", "policy_denied") },
	{ "unknown exe never matches an exe list", conf_match, ALICE_NOEXE,
	    .op = POLICY_OP_LIST, DENY("default", "policy_denied") },
	{ "primary group", conf_match, CAROL, .op = POLICY_OP_LIST,
	    ALLOW("by-group") },
	{ "supplementary group", conf_match, DAVE, .op = POLICY_OP_LIST,
	    ALLOW("by-group") },
	{ "exe, second of the list", conf_match, ERIN, .op = POLICY_OP_LIST,
	    ALLOW("by-exe") },
	{ "exe unknown", conf_match, ERIN_NOEXE, .op = POLICY_OP_LIST,
	    DENY("default", "policy_denied") },
	{ "user, second of the list", conf_match, FRANK, .op = POLICY_OP_LIST,
	    ALLOW("two-users") },
	{ "user AND group both match", conf_match, GREG, .op = POLICY_OP_LIST,
	    ALLOW("user-and-group") },
	{ "user AND group: group missing", conf_match, GREG_NOGROUP,
	    .op = POLICY_OP_LIST, DENY("default", "policy_denied") },
	{ "nobody matches: system default deny", conf_match, MALLORY,
	    .op = POLICY_OP_SIGN, DENY("default", "policy_denied") },
	{ "matched client may sign", conf_match, CAROL, ALLOW("by-group"),
	    LOGIN(POLICY_LOGIN_VALID), AUTH(POLICY_AUTH_READY) },

	/* Precedence: the first matching rule decides. */
	{ "deny rule before allow rule", conf_prec, BOB, .op = POLICY_OP_LIST,
	    DENY("block-bob", "policy_denied") },
	{ "deny rule refuses signing too", conf_prec, BOB,
	    DENY("block-bob", "policy_denied") },
	{ "first allow rule's limits, not a later one's", conf_prec, CAROL,
	    .ndocs = 3, DENY("signers", "batch_too_large") },
	{ "first allow rule allows", conf_prec, CAROL, .ndocs = 2,
	    ALLOW("signers") },
	{ "allow rule before deny rule", conf_prec_rev, BOB,
	    .op = POLICY_OP_LIST, ALLOW("signers") },

	/* Modes. */
	{ "user mode: own uid, implicit rule", conf_user, ME, ALLOW("default"),
	    .sources = "client,pinpad" },
	{ "user mode: root too", conf_user, ROOT, ALLOW("default") },
	{ "user mode: fd input", conf_user, ME, .inputs = POLICY_IN_FD,
	    ALLOW("default") },
	{ "user mode: sha512", conf_user, ME, .digest = POLICY_MD_SHA512,
	    ALLOW("default") },
	{ "user mode: no blind digest", conf_user, ME,
	    .inputs = POLICY_IN_DIGEST, DENY("default", "input_not_allowed") },
	{ "user mode: no sha1", conf_user, ME, .digest = MD_BAD,
	    DENY("default", "digest_not_allowed") },
	{ "user mode: no batch limit", conf_user, ME, .ndocs = 256,
	    ALLOW("default") },
	{ "user mode: no size limit", conf_user, ME, .size = 1ull << 40,
	    ALLOW("default") },
	{ "user mode: PIN from client", conf_user, ME,
	    .op = POLICY_OP_LOGIN_PIN, .token = T_OUT, ALLOW("default"),
	    LOGIN(POLICY_LOGIN_NONE) },
	{ "user mode: other uid", conf_user, BOB, .op = POLICY_OP_LIST,
	    DENY("default", "policy_denied") },
	{ "system mode: own uid is nobody special", conf_system_empty, ME,
	    .op = POLICY_OP_LIST, DENY("default", "policy_denied") },
	{ "system mode: root is nobody special", conf_system_empty, ROOT,
	    .op = POLICY_OP_LIST, DENY("default", "policy_denied") },
	{ "user mode: a rule wins over the default", conf_user_rules, ROOT,
	    .op = POLICY_OP_LIST, DENY("no-root", "policy_denied") },
	{ "user mode: rule for another uid", conf_user_rules, BOB,
	    .inputs = POLICY_IN_DIGEST, ALLOW("bob-blind") },
	{ "user mode: own uid still default", conf_user_rules, ME,
	    ALLOW("default") },

	/* Certificate fitness, before the grants. */
	{ "good cert", conf_certs, ERIN, ALLOW("any") },
	{ "expired", conf_certs, ERIN, .cert = C_EXPIRED,
	    DENY("any", "cert_expired") },
	{ "not yet valid", conf_certs, ERIN, .cert = C_NOTYET,
	    DENY("any", "cert_not_yet_valid") },
	{ "valid exactly now (inclusive bounds)", conf_certs, ERIN,
	    .cert = C_EDGE, ALLOW("any") },
	{ "keyEncipherment only", conf_certs, ERIN, .cert = C_KEYENC,
	    DENY("any", "cert_key_usage") },
	{ "no keyUsage extension", conf_certs, ERIN, .cert = C_NOKU,
	    DENY("any", "cert_key_usage") },
	{ "nonRepudiation only", conf_certs, ERIN, .cert = C_NRONLY,
	    ALLOW("any") },
	{ "digitalSignature only", conf_certs, ERIN, .cert = C_DSONLY,
	    ALLOW("any") },
	{ "chain failed", conf_certs, ERIN, .cert = C_UNTRUSTED,
	    DENY("any", "cert_untrusted") },
	{ "chain not checked though a bundle is set", conf_certs, ERIN,
	    .cert = C_UNCHECKED, DENY("any", "cert_untrusted") },
	{ "validity before key usage and chain", conf_certs, ERIN,
	    .cert = C_EXPIRED_KEYENC, DENY("any", "cert_expired") },
	{ "validity before the rule's certs", conf_certs, U(1001),
	    .cert = C_EXPIRED, DENY("by-sha", "cert_expired") },
	{ "validity before inputs", conf_certs, ERIN, .cert = C_NOTYET,
	    .inputs = POLICY_IN_DIGEST, DENY("any", "cert_not_yet_valid") },
	{ "identity before certificate", conf_certs, MALLORY,
	    .cert = C_EXPIRED, DENY("default", "policy_denied") },
	{ "lax: keyEncipherment passes", conf_certs_lax, ERIN, .cert = C_KEYENC,
	    ALLOW("any") },
	{ "lax: no keyUsage passes", conf_certs_lax, ERIN, .cert = C_NOKU,
	    ALLOW("any") },
	{ "lax: no bundle, chain not needed", conf_certs_lax, ERIN,
	    .cert = C_UNTRUSTED, ALLOW("any") },
	{ "lax: expiry still checked", conf_certs_lax, ERIN, .cert = C_EXPIRED,
	    DENY("any", "cert_expired") },

	/* Which certificates a rule grants. */
	{ "snils matches", conf_certs, U(1000), ALLOW("by-snils") },
	{ "snils differs", conf_certs, U(1000), .cert = C_OTHER,
	    DENY("by-snils", "cert_not_allowed") },
	{ "snils with separators in the cert", conf_certs, U(1000),
	    .cert = C_SNILS_SEP, ALLOW("by-snils") },
	{ "snils with a letter", conf_certs, U(1000), .cert = C_SNILS_JUNK,
	    DENY("by-snils", "cert_not_allowed") },
	{ "snils absent", conf_certs, U(1000), .cert = C_EMPTY_IDS,
	    DENY("by-snils", "cert_not_allowed") },
	{ "sha256 matches", conf_certs, U(1001), .cert = C_OTHER,
	    ALLOW("by-sha") },
	{ "sha256 differs", conf_certs, U(1001),
	    DENY("by-sha", "cert_not_allowed") },
	{ "pkcs11 URI matches", conf_certs, U(1002), .cert = C_OTHER,
	    ALLOW("by-uri") },
	{ "pkcs11 URI: other token", conf_certs, U(1002),
	    DENY("by-uri", "cert_not_allowed") },
	{ "pkcs11 URI by manufacturer", conf_certs, U(1009), ALLOW("by-token") },
	{ "pkcs11 URI by manufacturer: other", conf_certs, U(1009),
	    .cert = C_OTHER, DENY("by-token", "cert_not_allowed") },
	{ "subject CN (attr name any case)", conf_certs, U(1003), .cert = C_CN,
	    ALLOW("by-subject") },
	{ "subject O with a comma (quoted)", conf_certs, U(1003),
	    .cert = C_ORG, ALLOW("by-subject") },
	{ "subject: value case matters", conf_certs, U(1003), .cert = C_CASE,
	    DENY("by-subject", "cert_not_allowed") },
	{ "subject differs", conf_certs, U(1003), .cert = C_OTHER,
	    DENY("by-subject", "cert_not_allowed") },
	{ "subject by OID", conf_certs, U(1010), .cert = C_OTHER,
	    ALLOW("by-oid") },
	{ "subject by OID: cert gives no OIDs", conf_certs, U(1010),
	    DENY("by-oid", "cert_not_allowed") },
	{ "certs = none: signs nothing", conf_certs, U(1011),
	    DENY("list-only", "cert_not_allowed") },
	{ "certs = none: may list", conf_certs, U(1011), .op = POLICY_OP_LIST,
	    ALLOW("list-only") },
	{ "inn: 10 digits match INNLE", conf_certs, U(1004), .cert = C_OTHER,
	    ALLOW("by-inn") },
	{ "inn: person's INN is not INNLE", conf_certs, U(1004),
	    DENY("by-inn", "cert_not_allowed") },
	{ "inn: 12 digits match INN", conf_certs, U(1007), ALLOW("by-inn12") },
	{ "inn: absent", conf_certs, U(1007), .cert = C_EMPTY_IDS,
	    DENY("by-inn12", "cert_not_allowed") },
	{ "ogrn: 15 digits match OGRNIP", conf_certs, U(1005),
	    ALLOW("by-ogrn") },
	{ "ogrn: differs", conf_certs, U(1005), .cert = C_OTHER,
	    DENY("by-ogrn", "cert_not_allowed") },
	{ "ogrn: 13 digits match OGRN", conf_certs, U(1008), .cert = C_OTHER,
	    ALLOW("by-ogrn13") },
	{ "ogrn: empty in cert", conf_certs, U(1008), .cert = C_EMPTY_IDS,
	    DENY("by-ogrn13", "cert_not_allowed") },

	/* Inputs and digests. */
	{ "data granted", conf_grants, U(1000), .digest = POLICY_MD_SHA384,
	    ALLOW("g") },
	{ "fd not granted", conf_grants, U(1000), .inputs = POLICY_IN_FD,
	    .digest = POLICY_MD_SHA384, DENY("g", "input_not_allowed") },
	{ "batch mixing data and fd", conf_grants, U(1000),
	    .inputs = POLICY_IN_DATA | POLICY_IN_FD, .digest = POLICY_MD_SHA384,
	    DENY("g", "input_not_allowed") },
	{ "blind digest not granted", conf_grants, U(1000),
	    .inputs = POLICY_IN_DIGEST, .digest = POLICY_MD_SHA384,
	    DENY("g", "input_not_allowed") },
	{ "blind digest granted", conf_grants, U(1001),
	    .inputs = POLICY_IN_DIGEST, ALLOW("blind") },
	{ "blind-only rule refuses data", conf_grants, U(1001),
	    DENY("blind", "input_not_allowed") },
	{ "default grants: fd", conf_grants, U(1002), .inputs = POLICY_IN_FD,
	    ALLOW("default-grants") },
	{ "default grants: no blind digest", conf_grants, U(1002),
	    .inputs = POLICY_IN_DIGEST,
	    DENY("default-grants", "input_not_allowed") },
	{ "sha256 not granted", conf_grants, U(1000),
	    DENY("g", "digest_not_allowed") },
	{ "sha512 not granted", conf_grants, U(1000), .digest = POLICY_MD_SHA512,
	    DENY("g", "digest_not_allowed") },
	{ "sha1 never", conf_grants, U(1001), .inputs = POLICY_IN_DIGEST,
	    .digest = MD_BAD, DENY("blind", "digest_not_allowed") },
	{ "two digests at once is no digest", conf_grants, U(1001),
	    .inputs = POLICY_IN_DIGEST,
	    .digest = POLICY_MD_SHA256 | POLICY_MD_SHA384,
	    DENY("blind", "digest_not_allowed") },
	{ "input checked before digest", conf_grants, U(1000),
	    .inputs = POLICY_IN_FD, .digest = MD_BAD,
	    DENY("g", "input_not_allowed") },
	{ "default grants: sha512", conf_grants, U(1002),
	    .digest = POLICY_MD_SHA512, ALLOW("default-grants") },

	/* Batches and sizes. */
	{ "batch at the limit", conf_grants, U(1000), .digest = POLICY_MD_SHA384,
	    .ndocs = 3, ALLOW("g") },
	{ "batch over the limit", conf_grants, U(1000),
	    .digest = POLICY_MD_SHA384, .ndocs = 4,
	    DENY("g", "batch_too_large") },
	{ "batch over the rate can never pass", conf_grants, U(1003), .ndocs = 3,
	    DENY("ratecap", "batch_too_large") },
	{ "batch at the rate", conf_grants, U(1003), .ndocs = 2,
	    ALLOW("ratecap") },
	{ "default grants: 256 documents", conf_grants, U(1002), .ndocs = 256,
	    ALLOW("default-grants") },
	{ "size at the limit", conf_grants, U(1000), .digest = POLICY_MD_SHA384,
	    .size = 1024, ALLOW("g") },
	{ "size over the limit", conf_grants, U(1000),
	    .digest = POLICY_MD_SHA384, .size = 1025,
	    DENY("g", "document_too_large") },
	{ "size not known yet", conf_grants, U(1000), .digest = POLICY_MD_SHA384,
	    .size = 0, ALLOW("g") },
	{ "default grants: any size", conf_grants, U(1002), .size = 1ull << 40,
	    ALLOW("default-grants") },

	/* Rate: 5 per minute. */
	{ "rate: 4 used, 1 more", conf_grants, U(1000),
	    .digest = POLICY_MD_SHA384, .rate_count = 4, .rate_age = 10,
	    ALLOW("g") },
	{ "rate: 5 used", conf_grants, U(1000), .digest = POLICY_MD_SHA384,
	    .rate_count = 5, .rate_age = 10, DENY("g", "rate_limited"),
	    .retry_after = 50 },
	{ "rate: 4 used, 2 more", conf_grants, U(1000),
	    .digest = POLICY_MD_SHA384, .ndocs = 2, .rate_count = 4,
	    .rate_age = 10, DENY("g", "rate_limited"), .retry_after = 50 },
	{ "rate: last second of the window", conf_grants, U(1000),
	    .digest = POLICY_MD_SHA384, .rate_count = 5, .rate_age = 59,
	    DENY("g", "rate_limited"), .retry_after = 1 },
	{ "rate: window over", conf_grants, U(1000), .digest = POLICY_MD_SHA384,
	    .rate_count = 5, .rate_age = 60, ALLOW("g") },
	{ "rate: clock went back", conf_grants, U(1000),
	    .digest = POLICY_MD_SHA384, .rate_count = 5, .rate_age = -5,
	    ALLOW("g") },
	{ "rate checked after size", conf_grants, U(1000),
	    .digest = POLICY_MD_SHA384, .size = 4096, .rate_count = 5,
	    .rate_age = 10, DENY("g", "document_too_large") },
	{ "no rate: any count", conf_grants, U(1002), .rate_count = 100000,
	    .rate_age = 1, ALLOW("default-grants") },

	/* Login limits and how a sign gets its authorization. */
	{ "login valid", conf_login, U(1000), .token = T_IN, ALLOW("clientpin"),
	    LOGIN(POLICY_LOGIN_VALID), AUTH(POLICY_AUTH_READY),
	    .sources = "pinpad,pinentry,client" },
	{ "login ttl over: pinentry", conf_login, U(1000), .token = T_TTL,
	    ALLOW("clientpin"), LOGIN(POLICY_LOGIN_TTL),
	    AUTH(POLICY_AUTH_PINENTRY) },
	{ "login ttl one second left", conf_login, U(1000), .token = T_TTL_EDGE,
	    ALLOW("clientpin"), LOGIN(POLICY_LOGIN_VALID) },
	{ "login idle over", conf_login, U(1000), .token = T_IDLE,
	    ALLOW("clientpin"), LOGIN(POLICY_LOGIN_IDLE),
	    AUTH(POLICY_AUTH_PINENTRY) },
	{ "login idle one second left", conf_login, U(1000),
	    .token = T_IDLE_EDGE, ALLOW("clientpin"), LOGIN(POLICY_LOGIN_VALID) },
	{ "login signatures used up", conf_login, U(1000), .token = T_COUNT,
	    ALLOW("clientpin"), LOGIN(POLICY_LOGIN_COUNT),
	    AUTH(POLICY_AUTH_PINENTRY) },
	{ "login 2 signatures left, 2 asked", conf_login, U(1000),
	    .token = T_COUNT_NEAR, .ndocs = 2, ALLOW("clientpin"),
	    LOGIN(POLICY_LOGIN_VALID), AUTH(POLICY_AUTH_READY) },
	{ "login 2 signatures left, 3 asked", conf_login, U(1000),
	    .token = T_COUNT_NEAR, .ndocs = 3, ALLOW("clientpin"),
	    LOGIN(POLICY_LOGIN_COUNT), AUTH(POLICY_AUTH_PINENTRY) },
	{ "not logged in, PIN pad first", conf_login, U(1000),
	    .token = T_OUT_PAD, ALLOW("clientpin"), LOGIN(POLICY_LOGIN_NONE),
	    AUTH(POLICY_AUTH_PINPAD) },
	{ "not logged in, no pad: pinentry", conf_login, U(1000), .token = T_OUT,
	    ALLOW("clientpin"), LOGIN(POLICY_LOGIN_NONE),
	    AUTH(POLICY_AUTH_PINENTRY) },
	{ "final try: consent needed", conf_login, U(1000),
	    .token = T_OUT_FINAL, ALLOW("clientpin"), AUTH(POLICY_AUTH_PINENTRY),
	    .consent = true },
	{ "locked PIN", conf_login, U(1000), .token = T_OUT_LOCKED,
	    DENY("clientpin", "pin_locked"), LOGIN(POLICY_LOGIN_NONE),
	    AUTH(POLICY_AUTH_PINENTRY) },
	{ "login: PIN from an allowed client", conf_login, U(1000),
	    .op = POLICY_OP_LOGIN_PIN, .token = T_OUT, ALLOW("clientpin"),
	    LOGIN(POLICY_LOGIN_NONE) },
	{ "login: PIN from a client without pin_from_client", conf_login,
	    U(1001), .op = POLICY_OP_LOGIN_PIN, .token = T_OUT,
	    DENY("nopin", "pin_source_not_allowed"), .sources = "pinpad,pinentry" },
	{ "login: PIN pad", conf_login, U(1001), .op = POLICY_OP_LOGIN_PINPAD,
	    .token = T_OUT_PAD, ALLOW("nopin") },
	{ "login: final try, ask", conf_login, U(1000),
	    .op = POLICY_OP_LOGIN_PIN, .token = T_OUT_FINAL, ALLOW("clientpin"),
	    .consent = true },
	{ "login: final try flag but logged in", conf_login, U(1000),
	    .op = POLICY_OP_LOGIN_PIN, .token = T_IN_FINAL, ALLOW("clientpin"),
	    LOGIN(POLICY_LOGIN_VALID), .consent = false },
	{ "login: locked", conf_login, U(1000), .op = POLICY_OP_LOGIN_PIN,
	    .token = T_OUT_LOCKED, DENY("clientpin", "pin_locked") },
	{ "login: expired login is redone", conf_login, U(1000),
	    .op = POLICY_OP_LOGIN_PIN, .token = T_TTL, ALLOW("clientpin"),
	    LOGIN(POLICY_LOGIN_TTL) },
	{ "logout: any matched client", conf_login, U(1001),
	    .op = POLICY_OP_LOGOUT, ALLOW("nopin") },
	{ "logout: unmatched client", conf_login, MALLORY,
	    .op = POLICY_OP_LOGOUT, DENY("default", "policy_denied") },
	{ "strict: final try refused", conf_login_strict, U(1000),
	    .op = POLICY_OP_LOGIN_PIN, .token = T_OUT_FINAL,
	    DENY("clientpin", "pin_final_try") },
	{ "strict: PIN pad not a source", conf_login_strict, U(1000),
	    .op = POLICY_OP_LOGIN_PINPAD, .token = T_OUT_PAD,
	    DENY("clientpin", "pin_source_not_allowed") },
	{ "strict: sign must wait for the client's login", conf_login_strict,
	    U(1000), .token = T_OUT_PAD, ALLOW("clientpin"),
	    LOGIN(POLICY_LOGIN_NONE), AUTH(POLICY_AUTH_CLIENT) },
	{ "strict: no agent-side attempt, no consent", conf_login_strict,
	    U(1000), .token = T_OUT_FINAL, ALLOW("clientpin"),
	    AUTH(POLICY_AUTH_CLIENT), .consent = false },
	{ "strict: no source at all for this client", conf_login_strict,
	    U(1001), .op = POLICY_OP_LOGIN_PIN, .token = T_OUT,
	    DENY("nopin", "pin_source_not_allowed"), .sources = "" },
};

/* ---- Running it ---- */

static struct cache {
	const char *conf;
	struct policy p;
	enum policy_mode mode;
} cache[16];
static size_t ncache;

static const struct cache *
policy_for(const char *conf)
{
	char err[512];
	size_t i;

	for (i = 0; i < ncache; i++)
		if (cache[i].conf == conf)
			return &cache[i];
	if (ncache == sizeof(cache) / sizeof(cache[0]))
		abort();
	if (policy_ini_parse(&cache[ncache].p, "t.conf", conf,
	    &cache[ncache].mode, err, sizeof(err)) != 0) {
		fprintf(stderr, "test policy does not parse: %s\n", err);
		abort();
	}
	cache[ncache].conf = conf;
	return &cache[ncache++];
}

static void
fill_input(const struct row *r, enum policy_mode mode, struct policy_input *in)
{
	memset(in, 0, sizeof(*in));
	in->mode = mode;
	in->self_uid = SELF;
	in->id.uid = r->uid;
	in->id.gid = r->gid;
	in->id.groups = r->groups;
	in->id.ngroups = r->ngroups;
	in->id.pid = 4321;
	in->id.exe = r->exe;
	in->req.op = r->op;
	in->req.inputs = r->inputs != 0 ? r->inputs : POLICY_IN_DATA;
	in->req.digest = r->digest == MD_BAD ? 0 :
	    r->digest != 0 ? r->digest : POLICY_MD_SHA256;
	in->req.ndocs = r->ndocs != 0 ? r->ndocs : 1;
	in->req.max_doc_size = r->size;
	make_cert(r->cert, &in->cert);
	make_token(r->token, &in->token);
	in->now = NOW;
	if (r->rate_count != 0) {
		in->rate.count = r->rate_count;
		in->rate.window_start = NOW - r->rate_age;
	}
}

static void
sources_text(const struct policy_decision *d, char *buf, size_t len)
{
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < d->nsources; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
		    i > 0 ? "," : "", policy_pin_source_name(d->sources[i]));
}

static void
run_rows(void)
{
	const struct row *r;
	const struct cache *c;
	struct policy_input in, before;
	struct policy_decision d, d2;
	char src[64];
	size_t i;
	bool ok;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		r = &rows[i];
		c = policy_for(r->conf);
		fill_input(r, c->mode, &in);
		before = in;
		ok = policy_eval(&c->p, &in, &d);
		sources_text(&d, src, sizeof(src));
		if (ok != r->allow || d.allow != r->allow ||
		    strcmp(d.rule, r->rule) != 0 ||
		    (r->reason == NULL) != (d.reason == NULL) ||
		    (r->reason != NULL && strcmp(d.reason, r->reason) != 0) ||
		    (r->login != 0 && (int)d.login != r->login - 1) ||
		    d.auth != r->auth || d.retry_after != r->retry_after ||
		    d.final_try_consent != r->consent ||
		    (r->sources != NULL && strcmp(src, r->sources) != 0)) {
			fprintf(stderr, "row %zu \"%s\": got %s rule=%s reason=%s "
			    "login=%s auth=%d retry=%u consent=%d sources=%s; "
			    "want %s rule=%s reason=%s login=%s auth=%d retry=%u "
			    "consent=%d sources=%s\n", i, r->name,
			    d.allow ? "allow" : "deny", d.rule,
			    d.reason ? d.reason : "-",
			    policy_login_state_name(d.login), d.auth,
			    d.retry_after, d.final_try_consent, src,
			    r->allow ? "allow" : "deny", r->rule,
			    r->reason ? r->reason : "-", r->login ?
			    policy_login_state_name(r->login - 1) : "*",
			    r->auth, r->retry_after, r->consent,
			    r->sources ? r->sources : "*");
			failures++;
		}
		/* The decision names the rule object it came from. */
		CHECK(strcmp(d.rule, "default") == 0 ? d.matched == NULL :
		    d.matched != NULL && d.matched->name == d.rule);
		/* Pure: the input is untouched and a second run agrees. */
		CHECK(in.now == before.now && in.rate.count == before.rate.count &&
		    in.token.signatures == before.token.signatures);
		CHECK(policy_eval(&c->p, &in, &d2) == d.allow);
		CHECK(d2.reason == d.reason && d2.rule == d.rule &&
		    d2.auth == d.auth && d2.login == d.login &&
		    d2.retry_after == d.retry_after);
	}
	printf("policy_test: %zu table rows\n", i);
}

/* ---- Helpers over time ---- */

/* A client signing every 10 seconds under rate = 5/1m: five pass, the
 * sixth waits for the window, then it recovers. */
static void
test_rate_over_time(void)
{
	const struct cache *c = policy_for(conf_grants);
	struct policy_input in;
	struct policy_decision d;
	struct policy_rate rate = { 0, 0 };
	const struct row r = { "rate", conf_grants, U(1000),
	    .digest = POLICY_MD_SHA384 };
	int t, allowed = 0, refused = 0;

	for (t = 0; t <= 120; t += 10) {
		fill_input(&r, c->mode, &in);
		in.now = NOW + t;
		in.rate = rate;
		if (policy_eval(&c->p, &in, &d)) {
			policy_rate_add(&rate, &d.limits, 1, in.now);
			allowed++;
		} else {
			CHECK(strcmp(d.reason, "rate_limited") == 0);
			/* windows start at t=0 and t=60 */
			CHECK(d.retry_after == (uint32_t)(60 - t % 60));
			refused++;
		}
		if (t <= 40 || (t >= 60 && t <= 100) || t == 120)
			CHECK(d.allow);
		else
			CHECK(!d.allow);
	}
	CHECK(allowed == 11);
	CHECK(refused == 2);
	CHECK(rate.window_start == NOW + 120);
	CHECK(rate.count == 1);
	/* Counting a batch, and saturation. */
	rate.count = ~0u - 1;
	rate.window_start = NOW;
	policy_rate_add(&rate, &d.limits, 5, NOW + 1);
	CHECK(rate.count == ~0u);
}

static void
test_limits_and_size(void)
{
	const struct cache *c = policy_for(conf_grants);
	const struct cache *cl = policy_for(conf_login);
	struct policy_input in;
	struct policy_decision d;
	const struct row g = { "g", conf_grants, U(1000),
	    .digest = POLICY_MD_SHA384 };
	const struct row dflt = { "d", conf_grants, U(1002) };
	const struct row lg = { "l", conf_login, U(1000) };

	fill_input(&g, c->mode, &in);
	CHECK(policy_eval(&c->p, &in, &d));
	CHECK(d.limits.max_size == 1024);
	CHECK(d.limits.max_batch == 3);
	CHECK(d.limits.rate_count == 5);
	CHECK(d.limits.rate_period == 60);
	/* As a document streams. */
	CHECK(policy_check_size(&d.limits, 0) == NULL);
	CHECK(policy_check_size(&d.limits, 1024) == NULL);
	CHECK(strcmp(policy_check_size(&d.limits, 1025),
	    "document_too_large") == 0);

	fill_input(&dflt, c->mode, &in);
	CHECK(policy_eval(&c->p, &in, &d));
	CHECK(d.limits.max_size == 0 && d.limits.max_batch == 0 &&
	    d.limits.rate_count == 0);
	CHECK(policy_check_size(&d.limits, UINT64_MAX) == NULL);

	/* [login] max_signatures caps the batch too. */
	fill_input(&lg, cl->mode, &in);
	CHECK(policy_eval(&cl->p, &in, &d));
	CHECK(d.limits.max_batch == 1000);
}

static void
test_login_helpers(void)
{
	const struct cache *c = policy_for(conf_login);
	const struct cache *u = policy_for(conf_user);
	struct policy_token t;

	make_token(T_IN, &t);
	/* ttl 8h from login, idle 15m from last use: the earlier. */
	CHECK(policy_login_deadline(&c->p, &t) == NOW - 10 + 15 * 60);
	t.last_use = NOW + 8 * 3600;
	CHECK(policy_login_deadline(&c->p, &t) == NOW - 60 + 8 * 3600);
	CHECK(policy_login_check(&c->p, &t, 0, NOW) == POLICY_LOGIN_VALID);
	CHECK(policy_login_check(&c->p, &t, 0, NOW - 60 + 8 * 3600) ==
	    POLICY_LOGIN_TTL);
	CHECK(policy_login_check(&c->p, &t, 995, NOW) == POLICY_LOGIN_VALID);
	CHECK(policy_login_check(&c->p, &t, 996, NOW) == POLICY_LOGIN_COUNT);
	CHECK(policy_login_check(&c->p, &t, ~0u, NOW) == POLICY_LOGIN_COUNT);
	make_token(T_OUT, &t);
	CHECK(policy_login_deadline(&c->p, &t) == 0);
	CHECK(policy_login_check(&c->p, &t, 1, NOW) == POLICY_LOGIN_NONE);
	/* The defaults: ttl 8h, no idle, no count. */
	make_token(T_IN, &t);
	t.signatures = 1000000;
	CHECK(policy_login_deadline(&u->p, &t) == NOW - 60 + 8 * 3600);
	CHECK(policy_login_check(&u->p, &t, 100, NOW) == POLICY_LOGIN_VALID);
	CHECK(policy_login_check(&u->p, &t, 1, NOW + 9 * 3600) ==
	    POLICY_LOGIN_TTL);
}

static void
test_misc(void)
{
	const struct cache *c = policy_for(conf_user);
	const struct row me = { "me", conf_user, ME };
	struct policy_input in;
	struct policy_decision d;
	enum policy_mode m;

	/* An operation this version does not know fails closed. */
	fill_input(&me, c->mode, &in);
	in.req.op = (enum policy_op)99;
	CHECK(!policy_eval(&c->p, &in, &d));
	CHECK(strcmp(d.reason, "policy_denied") == 0);
	/* A sign request that names no input fails closed. */
	fill_input(&me, c->mode, &in);
	in.req.inputs = 0;
	CHECK(!policy_eval(&c->p, &in, &d));
	CHECK(strcmp(d.reason, "input_not_allowed") == 0);

	CHECK(policy_digest_from_name("sha256") == POLICY_MD_SHA256);
	CHECK(policy_digest_from_name("sha384") == POLICY_MD_SHA384);
	CHECK(policy_digest_from_name("sha512") == POLICY_MD_SHA512);
	CHECK(policy_digest_from_name("sha1") == 0);
	CHECK(policy_digest_from_name("SHA256") == 0);
	CHECK(policy_mode_from_name("system", &m) == 0 &&
	    m == POLICY_MODE_SYSTEM);
	CHECK(policy_mode_from_name("user", &m) == 0 && m == POLICY_MODE_USER);
	CHECK(policy_mode_from_name("System", &m) == SIGNET_ERR_FORMAT);
	CHECK(strcmp(policy_mode_name(POLICY_MODE_SYSTEM), "system") == 0);
	CHECK(strcmp(policy_pinentry(&c->p), "/usr/bin/pinentry") == 0);
}

int
main(void)
{
	size_t i;

	run_rows();
	test_rate_over_time();
	test_limits_and_size();
	test_login_helpers();
	test_misc();
	for (i = 0; i < ncache; i++)
		policy_clear(&cache[i].p);
	if (failures != 0) {
		fprintf(stderr, "policy_test: %d failure(s)\n", failures);
		return 1;
	}
	printf("policy_test: ok\n");
	return 0;
}
