/*
 * The policy evaluator (contract: agent/policy.h; the semantics are
 * docs/signet.conf.5, "EVALUATION").
 *
 * Pure: no I/O, no clock, no globals beyond constant tables, no
 * allocation. Every question has an answer, and the order of the checks is
 * part of the contract, since it decides which reason a client sees when
 * several apply.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/policy.h"

/* The rule a user-mode agent applies to its own user (and root) when no
 * configured rule matches: what the agent allowed before policies. */
static const struct policy_rule user_default = {
	.action = POLICY_ALLOW,
	.inputs = POLICY_IN_DATA | POLICY_IN_FD,
	.digests = POLICY_MD_ALL,
	.pin_from_client = true,
};

int
policy_mode_from_name(const char *name, enum policy_mode *out)
{
	if (strcmp(name, "user") == 0)
		*out = POLICY_MODE_USER;
	else if (strcmp(name, "system") == 0)
		*out = POLICY_MODE_SYSTEM;
	else
		return SIGNET_ERR_FORMAT;
	return 0;
}

const char *
policy_mode_name(enum policy_mode m)
{
	return m == POLICY_MODE_SYSTEM ? "system" : "user";
}

unsigned
policy_digest_from_name(const char *name)
{
	if (strcmp(name, "sha256") == 0)
		return POLICY_MD_SHA256;
	if (strcmp(name, "sha384") == 0)
		return POLICY_MD_SHA384;
	if (strcmp(name, "sha512") == 0)
		return POLICY_MD_SHA512;
	if (strcmp(name, "streebog256") == 0)
		return POLICY_MD_STREEBOG256;
	if (strcmp(name, "streebog512") == 0)
		return POLICY_MD_STREEBOG512;
	return 0;
}

const char *
policy_pin_source_name(enum policy_pin_source s)
{
	switch (s) {
	case POLICY_PIN_CLIENT:
		return "client";
	case POLICY_PIN_PINENTRY:
		return "pinentry";
	case POLICY_PIN_PINPAD:
		return "pinpad";
	case POLICY_PIN_NSOURCES:
		break;
	}
	return "?";
}

const char *
policy_login_state_name(enum policy_login_state s)
{
	switch (s) {
	case POLICY_LOGIN_NONE:
		return "none";
	case POLICY_LOGIN_VALID:
		return "valid";
	case POLICY_LOGIN_TTL:
		return "ttl";
	case POLICY_LOGIN_IDLE:
		return "idle";
	case POLICY_LOGIN_COUNT:
		return "max_signatures";
	}
	return "?";
}

void
policy_init(struct policy *p)
{
	memset(p, 0, sizeof(*p));
	p->login.ttl = POLICY_DEFAULT_TTL;
	p->login.pin_sources[0] = POLICY_PIN_CLIENT;
	p->login.pin_sources[1] = POLICY_PIN_PINPAD;
	p->login.npin_sources = 2;
	p->login.final_try_ask = true;
	p->certs.require_key_usage = POLICY_KU_CHECK_YES;
}

static void
strv_free(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void
rule_clear(struct policy_rule *r)
{
	size_t i;

	free(r->name);
	free(r->file);
	free(r->uids);
	strv_free(r->user_names, r->nuids);
	free(r->gids);
	strv_free(r->group_names, r->ngids);
	strv_free(r->exes, r->nexes);
	strv_free(r->exe_names, r->nexes);
	for (i = 0; i < r->ncerts; i++) {
		struct policy_certmatch *m = &r->certs[i];

		free(m->text);
		free(m->attr);
		free(m->value);
		if (m->kind == POLICY_CM_SELECTOR)
			selector_clear(&m->sel);
	}
	free(r->certs);
}

void
policy_clear(struct policy *p)
{
	size_t i;

	for (i = 0; i < p->nrules; i++)
		rule_clear(&p->rules[i]);
	free(p->rules);
	free(p->login.pinentry);
	free(p->certs.ca_bundle);
	free(p->conf.login_at);
	free(p->conf.certs_at);
	memset(p, 0, sizeof(*p));
}

const char *
policy_pinentry(const struct policy *p)
{
	return p->login.pinentry != NULL ? p->login.pinentry :
	    POLICY_DEFAULT_PINENTRY;
}

/* ---- Matching clients ---- */

static bool
uid_listed(const struct policy_rule *r, uid_t uid)
{
	size_t i;

	for (i = 0; i < r->nuids; i++)
		if (r->uids[i] == uid)
			return true;
	return false;
}

static bool
gid_listed(const struct policy_rule *r, gid_t gid)
{
	size_t i;

	for (i = 0; i < r->ngids; i++)
		if (r->gids[i] == gid)
			return true;
	return false;
}

static bool
exe_listed(const struct policy_rule *r, const char *exe)
{
	size_t i;

	/* An executable the agent could not learn matches no exe list:
	 * a rule naming programs must not admit an unknown one. */
	if (exe == NULL)
		return false;
	for (i = 0; i < r->nexes; i++)
		if (strcmp(r->exes[i], exe) == 0)
			return true;
	return false;
}

static bool
rule_matches(const struct policy_rule *r, const struct policy_identity *id)
{
	size_t i;
	bool in_group;

	if (r->nuids > 0 && !uid_listed(r, id->uid))
		return false;
	if (r->ngids > 0) {
		in_group = gid_listed(r, id->gid);
		for (i = 0; !in_group && i < id->ngroups; i++)
			in_group = gid_listed(r, id->groups[i]);
		if (!in_group)
			return false;
	}
	if (r->nexes > 0 && !exe_listed(r, id->exe))
		return false;
	return true;
}

/* ---- Matching certificates ---- */

/*
 * Compares the digits of a configured identifier with a certificate's
 * field, which may be written with the usual separators (SNILS as
 * "123-456-789 01"). Anything else in the field makes it no match.
 */
static bool
digits_match(const char *want, const char *have)
{
	if (have == NULL || *have == '\0')
		return false;
	for (; *have != '\0'; have++) {
		if (*have == ' ' || *have == '-')
			continue;
		if (*have < '0' || *have > '9' || *want != *have)
			return false;
		want++;
	}
	return *want == '\0';
}

static bool
subject_match(const struct policy_certmatch *m, const struct policy_cert *c)
{
	size_t i;
	const struct policy_attr *a;

	for (i = 0; i < c->nsubject_attrs; i++) {
		a = &c->subject_attrs[i];
		/* Attribute names are case-insensitive (cn = CN); values are
		 * compared byte for byte: case folding of Cyrillic needs a
		 * locale, and a loose match could admit the wrong person. */
		if (a->value == NULL || strcmp(a->value, m->value) != 0)
			continue;
		if ((a->name != NULL && strcasecmp(a->name, m->attr) == 0) ||
		    (a->oid != NULL && strcmp(a->oid, m->attr) == 0))
			return true;
	}
	return false;
}

static bool
certmatch(const struct policy_certmatch *m, const struct policy_cert *c)
{
	switch (m->kind) {
	case POLICY_CM_ANY:
		return true;
	case POLICY_CM_NONE:
		return false;
	case POLICY_CM_SELECTOR:
		return selector_match_cert(&m->sel, c->token_serial,
		    c->token_label, c->token_manufacturer, c->token_model, c->id,
		    c->id_len, c->label, c->sha256);
	case POLICY_CM_SUBJECT:
		return subject_match(m, c);
	case POLICY_CM_SNILS:
		return digits_match(m->value, c->snils);
	case POLICY_CM_INN:
		return digits_match(m->value, c->inn) ||
		    digits_match(m->value, c->innle);
	case POLICY_CM_OGRN:
		return digits_match(m->value, c->ogrn) ||
		    digits_match(m->value, c->ogrnip);
	}
	return false;
}

static bool
cert_granted(const struct policy_rule *r, const struct policy_cert *c)
{
	size_t i;

	if (r->ncerts == 0)
		return true;
	for (i = 0; i < r->ncerts; i++)
		if (certmatch(&r->certs[i], c))
			return true;
	return false;
}

/* Validity, key usage and chain: the certificate's own fitness to sign,
 * checked before what the rule grants. NULL when fit. */
static const char *
cert_fitness(const struct policy *p, const struct policy_cert *c, time_t now)
{
	/* RFC 5280 4.1.2.5: both ends of the period are inclusive. */
	if (now < c->not_before)
		return POLICY_R_CERT_NOT_YET_VALID;
	if (now > c->not_after)
		return POLICY_R_CERT_EXPIRED;
	if (p->certs.require_key_usage == POLICY_KU_CHECK_YES &&
	    (!c->has_key_usage || (c->key_usage &
	    (POLICY_KU_DIGITAL_SIGNATURE | POLICY_KU_NON_REPUDIATION)) == 0))
		return POLICY_R_CERT_KEY_USAGE;
	/* Fail closed: with a bundle configured, a chain the caller did not
	 * verify is not a trusted one. */
	if (p->certs.ca_bundle != NULL && c->chain != POLICY_CHAIN_OK)
		return POLICY_R_CERT_UNTRUSTED;
	return NULL;
}

/* ---- Counters and logins ---- */

static bool
window_over(const struct policy_rate *r, uint32_t period, time_t now)
{
	/* A clock set back starts a fresh window rather than blocking the
	 * client until the old start comes round again. */
	return r->count == 0 || now < r->window_start ||
	    now - r->window_start >= (time_t)period;
}

void
policy_rate_add(struct policy_rate *r, const struct policy_limits *l,
    unsigned n, time_t now)
{
	if (window_over(r, l->rate_period, now)) {
		r->window_start = now;
		r->count = 0;
	}
	r->count = n > ~0u - r->count ? ~0u : r->count + n;
}

const char *
policy_check_size(const struct policy_limits *l, uint64_t size)
{
	if (l->max_size != 0 && size > l->max_size)
		return POLICY_R_DOCUMENT_TOO_LARGE;
	return NULL;
}

enum policy_login_state
policy_login_check(const struct policy *p, const struct policy_token *t,
    unsigned n, time_t now)
{
	const struct policy_login *l = &p->login;

	if (!t->logged_in)
		return POLICY_LOGIN_NONE;
	if (l->ttl != 0 && now >= t->login_time &&
	    now - t->login_time >= (time_t)l->ttl)
		return POLICY_LOGIN_TTL;
	if (l->idle != 0 && now >= t->last_use &&
	    now - t->last_use >= (time_t)l->idle)
		return POLICY_LOGIN_IDLE;
	if (l->max_signatures != 0 && (t->signatures >= l->max_signatures ||
	    n > l->max_signatures - t->signatures))
		return POLICY_LOGIN_COUNT;
	return POLICY_LOGIN_VALID;
}

time_t
policy_login_deadline(const struct policy *p, const struct policy_token *t)
{
	time_t d = 0, e;

	if (!t->logged_in)
		return 0;
	if (p->login.ttl != 0)
		d = t->login_time + (time_t)p->login.ttl;
	if (p->login.idle != 0) {
		e = t->last_use + (time_t)p->login.idle;
		if (d == 0 || e < d)
			d = e;
	}
	return d;
}

/* ---- The decision ---- */

static bool
deny(struct policy_decision *out, const char *reason)
{
	out->allow = false;
	out->reason = reason;
	return false;
}

static bool
source_allowed(const struct policy_decision *out, enum policy_pin_source s)
{
	size_t i;

	for (i = 0; i < out->nsources; i++)
		if (out->sources[i] == s)
			return true;
	return false;
}

/* The smallest of the non-zero caps; 0 when none is set. */
static unsigned
min_cap(unsigned a, unsigned b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

static void
fill_limits(const struct policy *p, const struct policy_rule *r,
    struct policy_decision *out)
{
	struct policy_limits *l = &out->limits;
	size_t i;

	l->max_size = r->max_size;
	l->rate_count = r->rate_count;
	l->rate_period = r->rate_period;
	/* A batch larger than the rate or the login permits could never
	 * pass: it is too large, not merely early. */
	l->max_batch = min_cap(min_cap(r->max_batch, r->rate_count),
	    p->login.max_signatures);
	for (i = 0; i < p->login.npin_sources; i++) {
		if (p->login.pin_sources[i] == POLICY_PIN_CLIENT &&
		    !r->pin_from_client)
			continue;
		out->sources[out->nsources++] = p->login.pin_sources[i];
	}
}

/*
 * A PIN is about to be tried (a login, or a sign that needs one): refuse
 * on a locked PIN, and at the final try unless consent may be asked.
 */
static bool
pin_attempt(const struct policy *p, const struct policy_token *t,
    struct policy_decision *out)
{
	if (t->pin_locked)
		return deny(out, POLICY_R_PIN_LOCKED);
	if (t->pin_final_try) {
		if (!p->login.final_try_ask)
			return deny(out, POLICY_R_PIN_FINAL_TRY);
		out->final_try_consent = true;
	}
	return true;
}

static bool
eval_login(const struct policy *p, const struct policy_input *in,
    enum policy_pin_source src, struct policy_decision *out)
{
	if (!source_allowed(out, src))
		return deny(out, POLICY_R_PIN_SOURCE_NOT_ALLOWED);
	out->login = policy_login_check(p, &in->token, 0, in->now);
	/* A login that still holds needs no PIN: nothing to refuse. */
	if (out->login == POLICY_LOGIN_VALID)
		return true;
	return pin_attempt(p, &in->token, out);
}

static bool
eval_sign(const struct policy *p, const struct policy_rule *r,
    const struct policy_input *in, struct policy_decision *out)
{
	const struct policy_request *q = &in->req;
	const struct policy_limits *l = &out->limits;
	const char *why;
	unsigned used;
	size_t i;

	if ((why = cert_fitness(p, &in->cert, in->now)) != NULL)
		return deny(out, why);
	if (!cert_granted(r, &in->cert))
		return deny(out, POLICY_R_CERT_NOT_ALLOWED);
	/* A request that says no input is a caller bug: fail closed. */
	if (q->inputs == 0 || (q->inputs & ~r->inputs) != 0)
		return deny(out, POLICY_R_INPUT_NOT_ALLOWED);
	/* Exactly one known algorithm, granted by the rule. SHA-1 has no
	 * bit, so no rule can grant it. */
	if (q->digest == 0 || (q->digest & (q->digest - 1)) != 0 ||
	    (q->digest & ~r->digests) != 0)
		return deny(out, POLICY_R_DIGEST_NOT_ALLOWED);
	if (l->max_batch != 0 && q->ndocs > l->max_batch)
		return deny(out, POLICY_R_BATCH_TOO_LARGE);
	if (policy_check_size(l, q->max_doc_size) != NULL)
		return deny(out, POLICY_R_DOCUMENT_TOO_LARGE);
	if (l->rate_count != 0) {
		used = window_over(&in->rate, l->rate_period, in->now) ? 0 :
		    in->rate.count;
		if (used >= l->rate_count || q->ndocs > l->rate_count - used) {
			out->retry_after = (uint32_t)(in->rate.window_start +
			    (time_t)l->rate_period - in->now);
			return deny(out, POLICY_R_RATE_LIMITED);
		}
	}
	out->login = policy_login_check(p, &in->token, q->ndocs, in->now);
	if (out->login == POLICY_LOGIN_VALID) {
		out->auth = POLICY_AUTH_READY;
		return true;
	}
	/* The agent can log in for a sign request only by a PIN pad (when
	 * the reader has one) or pinentry, in the configured order; else the
	 * client must log in first. */
	out->auth = POLICY_AUTH_CLIENT;
	for (i = 0; i < out->nsources; i++) {
		if (out->sources[i] == POLICY_PIN_PINPAD &&
		    in->token.protected_auth_path) {
			out->auth = POLICY_AUTH_PINPAD;
			break;
		}
		if (out->sources[i] == POLICY_PIN_PINENTRY) {
			out->auth = POLICY_AUTH_PINENTRY;
			break;
		}
	}
	if (out->auth == POLICY_AUTH_CLIENT)
		return true;
	return pin_attempt(p, &in->token, out);
}

bool
policy_eval(const struct policy *p, const struct policy_input *in,
    struct policy_decision *out)
{
	const struct policy_rule *r = NULL;
	size_t i;

	memset(out, 0, sizeof(*out));
	out->rule = POLICY_DEFAULT_RULE;
	out->allow = true;
	for (i = 0; i < p->nrules; i++) {
		if (rule_matches(&p->rules[i], &in->id)) {
			r = &p->rules[i];
			out->matched = r;
			out->rule = r->name;
			break;
		}
	}
	if (r == NULL) {
		if (in->mode != POLICY_MODE_USER ||
		    (in->id.uid != in->self_uid && in->id.uid != 0))
			return deny(out, POLICY_R_POLICY_DENIED);
		r = &user_default;
	}
	if (r->action == POLICY_DENY)
		return deny(out, POLICY_R_POLICY_DENIED);
	fill_limits(p, r, out);
	switch (in->req.op) {
	case POLICY_OP_SIGN:
		return eval_sign(p, r, in, out);
	case POLICY_OP_LOGIN_PIN:
		return eval_login(p, in, POLICY_PIN_CLIENT, out);
	case POLICY_OP_LOGIN_PINPAD:
		return eval_login(p, in, POLICY_PIN_PINPAD, out);
	case POLICY_OP_LOGOUT:
	case POLICY_OP_LIST:
		return true;
	}
	/* An operation this version does not know: fail closed. */
	return deny(out, POLICY_R_POLICY_DENIED);
}
