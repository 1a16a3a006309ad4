/*
 * tokens.list, certs.list, token.login, token.logout.
 */
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

#include "agent/audited.h"
#include "agent/authorize.h"
#include "agent/audit.h"
#include "agent/certinfo.h"
#include "agent/events.h"
#include "agent/log.h"
#include "agent/resolve.h"
#include "agent/selector.h"
#include "pkcs11/wire.h"

#define LOGIN_TIMEOUT_MS  120000u /* a PIN pad waits for a person */
#define LOGOUT_TIMEOUT_MS 30000u

/* State of a tokens/certs/login/logout call across its async steps. */
struct tok_op {
	struct call *call;
	char *token_sel;          /* NULL: the only token */
	struct buf pin;           /* secret */
	bool has_pin;
	bool allow_final_try;
	uint8_t wire_type;        /* P11W_LOGIN or P11W_LOGOUT */
	char *serial;             /* the resolved token */
	char *label;
	struct p11c *module;
};

static void
tok_op_free(void *arg)
{
	struct tok_op *op = arg;

	free(op->token_sel);
	free(op->serial);
	free(op->label);
	buf_free(&op->pin); /* wipes */
	free(op);
}

static struct tok_op *
tok_op_new(struct call *c)
{
	struct tok_op *op = calloc(1, sizeof(*op));

	if (op == NULL) {
		call_error(c, SIGNET_E_INTERNAL, SIGNET_R_INTERNAL_ERROR,
		    "out of memory", NULL);
		return NULL;
	}
	op->call = c;
	buf_init(&op->pin, SIGNET_MAX_PIN_LEN);
	op->pin.secret = true;
	c->state = op;
	c->state_free = tok_op_free;
	return op;
}

static json_t *
token_json(const struct reg_token *t)
{
	json_t *pin, *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:b, s:b}",
	    "label", t->label, "serial", t->serial,
	    "manufacturer", t->manufacturer, "model", t->model,
	    "present", 1, "logged_in", t->logged_in,
	    "login_required", (t->flags & CKF_LOGIN_REQUIRED) != 0,
	    "protected_auth_path", (t->flags & CKF_PROTECTED_AUTHENTICATION_PATH) != 0);
	char *uri = selector_token_uri(t->serial);

	if (o == NULL || uri == NULL) {
		free(uri);
		json_decref(o);
		return NULL;
	}
	json_object_set_new(o, "uri", json_string(uri));
	if ((pin = pin_flags_json(t->flags)) != NULL)
		json_object_update(o, pin);
	json_decref(pin);
	free(uri);
	return o;
}

static void
tokens_listed(void *arg)
{
	struct call *c = arg;
	struct reg_snapshot *s = registry_snapshot(c->agent->reg);
	json_t *list = json_array();
	size_t i;

	for (i = 0; i < s->ntokens && list != NULL; i++)
		json_array_append_new(list, token_json(&s->tokens[i]));
	snapshot_unref(s);
	call_result(c, json_pack("{s:o}", "tokens", list));
}

void
m_tokens_list(struct call *c, json_t *params)
{
	static const struct param_spec spec[] = { { NULL, 0, false } };

	if (!params_check(c, params, spec) ||
	    !authorize_op(c, POLICY_OP_LIST, "list", NULL))
		return;
	registry_refresh(c->agent->reg, false, tokens_listed, c);
}

static json_t *
cert_json(const struct reg_token *t, const struct reg_cert *rc)
{
	json_t *o = json_object();
	char *uri = selector_cert_uri(t->serial, rc->id, rc->id_len);

	if (o == NULL || uri == NULL || certinfo_to_json(rc->x509, o) != 0) {
		free(uri);
		json_decref(o);
		return NULL;
	}
	json_object_set_new(o, "uri", json_string(uri));
	json_object_set_new(o, "token", json_string(t->serial));
	json_object_set_new(o, "label", json_string(rc->label));
	free(uri);
	return o;
}

static void
certs_listed(void *arg)
{
	struct tok_op *op = arg;
	struct call *c = op->call;
	struct reg_snapshot *s = registry_snapshot(c->agent->reg);
	struct reg_token *only = NULL, *t;
	json_t *list;
	size_t i, j;

	if (op->token_sel != NULL &&
	    (only = resolve_token(c, s, op->token_sel)) == NULL)
		goto out;
	if ((list = json_array()) == NULL)
		goto out_oom;
	for (i = 0; i < s->ntokens; i++) {
		t = &s->tokens[i];
		if (only != NULL && t != only)
			continue;
		for (j = 0; j < t->ncerts; j++)
			if (t->certs[j].key != 0)
				json_array_append_new(list, cert_json(t, &t->certs[j]));
	}
	call_result(c, json_pack("{s:o}", "certs", list));
	goto out;
out_oom:
	call_error(c, SIGNET_E_INTERNAL, SIGNET_R_INTERNAL_ERROR, "out of memory", NULL);
out:
	snapshot_unref(s);
}

void
m_certs_list(struct call *c, json_t *params)
{
	static const struct param_spec spec[] = {
		{ "token", JSON_STRING, false }, { NULL, 0, false } };
	struct tok_op *op;
	const char *sel;

	if (!params_check(c, params, spec) ||
	    !authorize_op(c, POLICY_OP_LIST, "list", NULL) ||
	    (op = tok_op_new(c)) == NULL)
		return;
	if ((sel = param_str(params, "token")) != NULL &&
	    (op->token_sel = strdup(sel)) == NULL) {
		call_error(c, SIGNET_E_INTERNAL, SIGNET_R_INTERNAL_ERROR,
		    "out of memory", NULL);
		return;
	}
	registry_refresh(c->agent->reg, true, certs_listed, op);
}

/* The event of a login or logout on the resolved token. */
static json_t *
auth_event(struct tok_op *op, uint64_t flags, bool with_flags)
{
	json_t *ev = audited_event(op->call,
	    op->wire_type == P11W_LOGIN ? "login" : "logout");

	if (ev == NULL)
		return NULL;
	json_object_set_new(ev, "token", json_string(op->serial));
	if (with_flags)
		json_object_set_new(ev, "pin_state", pin_flags_json(flags));
	return ev;
}

static void
logout_done(void *arg, int status, uint64_t rv, struct buf *resp)
{
	(void)arg;
	(void)status;
	(void)rv;
	(void)resp;
}

/* A login whose audit record could not be written is taken back. */
static void
login_undo(struct call *c)
{
	struct tok_op *op = c->state;
	struct buf req;

	buf_init(&req, P11W_MAX_FIELD);
	buf_put_cstr(&req, op->serial);
	if (req.failed || p11c_call(op->module, P11W_LOGOUT, &req,
	    LOGOUT_TIMEOUT_MS, logout_done, NULL) != 0)
		log_err("token %s: could not take back a login", op->serial);
	buf_free(&req);
	events_login(c->agent->events, op->module, op->serial, op->label,
	    false, "audit_unavailable");
}

static void
auth_done(void *arg, int status, uint64_t rv, struct buf *resp)
{
	struct tok_op *op = arg;
	struct call *c = op->call;
	uint64_t flags = 0;
	bool login = op->wire_type == P11W_LOGIN;

	buf_reset(&op->pin);
	if (status != 0) {
		audited_error(c, auth_event(op, 0, false), false, SIGNET_E_TOKEN,
		    SIGNET_R_TOKEN_UNAVAILABLE,
		    "the token's module helper failed; it is being restarted", NULL);
		return;
	}
	if (login)
		flags = buf_get_u64(resp);
	if (rv == CKR_OK) {
		log_info("token %s %s by uid %u pid %d", op->serial,
		    login ? "logged in" : "logged out",
		    (unsigned)c->peer.uid, (int)c->peer.pid);
		events_login(c->agent->events, op->module, op->serial, op->label,
		    login, "client");
		audited_result(c, auth_event(op, flags, login),
		    json_pack("{s:s, s:b}", "token", op->serial, "logged_in", login),
		    login ? login_undo : NULL);
		return;
	}
	if (login)
		log_info("token %s: login failed (%s) for uid %u pid %d", op->serial,
		    rv == CKR_PIN_INCORRECT ? "wrong PIN" : "error",
		    (unsigned)c->peer.uid, (int)c->peer.pid);
	if (rv == CKR_PIN_INCORRECT) {
		audited_error(c, auth_event(op, flags, true), true, SIGNET_E_AUTH,
		    SIGNET_R_PIN_INCORRECT, "the token rejected the PIN",
		    json_pack("{s:o}", "pin", pin_flags_json(flags)));
		return;
	}
	call_ckr_error_audited(c, rv, auth_event(op, flags, login));
}

static void
auth_token_known(void *arg)
{
	struct tok_op *op = arg;
	struct call *c = op->call;
	struct reg_snapshot *s = registry_snapshot(c->agent->reg);
	struct reg_token *t;
	struct buf req;
	bool login = op->wire_type == P11W_LOGIN;
	int err;

	if ((t = resolve_token(c, s, op->token_sel)) == NULL)
		goto out;
	op->module = t->module;
	if ((op->serial = strdup(t->serial)) == NULL ||
	    (op->label = strdup(t->label)) == NULL) {
		call_error(c, SIGNET_E_INTERNAL, SIGNET_R_INTERNAL_ERROR,
		    "out of memory", NULL);
		goto out;
	}
	if (login) {
		/* Never guess on a PIN (DESIGN.md, principle 7). */
		if (t->flags & CKF_USER_PIN_LOCKED) {
			audited_error(c, auth_event(op, t->flags, true), true,
			    SIGNET_E_AUTH, SIGNET_R_PIN_LOCKED, "the user PIN is locked",
			    json_pack("{s:o}", "pin", pin_flags_json(t->flags)));
			goto out;
		}
		if ((t->flags & CKF_USER_PIN_FINAL_TRY) && !op->allow_final_try) {
			audited_error(c, auth_event(op, t->flags, true), true,
			    SIGNET_E_AUTH, SIGNET_R_PIN_FINAL_TRY,
			    "a wrong PIN now locks the token; set allow_final_try",
			    json_pack("{s:o}", "pin", pin_flags_json(t->flags)));
			goto out;
		}
		if (!op->has_pin && !(t->flags & CKF_PROTECTED_AUTHENTICATION_PATH)) {
			call_error(c, SIGNET_E_INVALID_PARAMS, SIGNET_R_INVALID_PARAMS,
			    "this token has no PIN pad: a pin is required",
			    json_pack("{s:s}", "param", "pin"));
			goto out;
		}
	}
	buf_init(&req, P11W_MAX_FIELD);
	req.secret = true;
	buf_put_cstr(&req, t->serial);
	if (login) {
		buf_put_u8(&req, op->has_pin);
		buf_put_str(&req, op->pin.data, op->pin.len);
	}
	err = req.failed ? SIGNET_ERR_NOMEM : p11c_call(t->module, op->wire_type,
	    &req, login ? LOGIN_TIMEOUT_MS : LOGOUT_TIMEOUT_MS, auth_done, op);
	buf_free(&req);
	buf_reset(&op->pin);
	if (err != 0)
		call_error(c, SIGNET_E_TOKEN, SIGNET_R_TOKEN_UNAVAILABLE,
		    "the token's module helper is restarting", NULL);
out:
	snapshot_unref(s);
}

static void
auth_start(struct call *c, json_t *params, uint8_t type)
{
	static const struct param_spec login_spec[] = {
		{ "token", JSON_STRING, false }, { "pin", JSON_STRING, false },
		{ "allow_final_try", JSON_TRUE, false }, { NULL, 0, false } };
	static const struct param_spec logout_spec[] = {
		{ "token", JSON_STRING, false }, { NULL, 0, false } };
	struct tok_op *op;
	json_t *pin;
	const char *sel;

	if (!params_check(c, params, type == P11W_LOGIN ? login_spec : logout_spec))
		return;
	/* Who may hand the agent a PIN at all is a rule (pin_from_client). */
	if (!authorize_op(c, type == P11W_LOGOUT ? POLICY_OP_LOGOUT :
	    json_object_get(params, "pin") != NULL ? POLICY_OP_LOGIN_PIN :
	    POLICY_OP_LOGIN_PINPAD, type == P11W_LOGIN ? "login" : "logout", NULL) ||
	    (op = tok_op_new(c)) == NULL)
		return;
	op->wire_type = type;
	op->allow_final_try = param_bool(params, "allow_final_try");
	if ((pin = json_object_get(params, "pin")) != NULL) {
		if (json_string_length(pin) == 0 ||
		    json_string_length(pin) > SIGNET_MAX_PIN_LEN) {
			call_error(c, SIGNET_E_AUTH, SIGNET_R_PIN_LEN_RANGE,
			    "the PIN is empty or too long", NULL);
			return;
		}
		op->has_pin = true;
		buf_put(&op->pin, json_string_value(pin), json_string_length(pin));
	}
	if ((sel = param_str(params, "token")) != NULL &&
	    (op->token_sel = strdup(sel)) == NULL) {
		call_error(c, SIGNET_E_INTERNAL, SIGNET_R_INTERNAL_ERROR,
		    "out of memory", NULL);
		return;
	}
	/* Fresh flags: the PIN counters decide whether we may try at all. */
	registry_refresh(c->agent->reg, false, auth_token_known, op);
}

void
m_token_login(struct call *c, json_t *params)
{
	auth_start(c, params, P11W_LOGIN);
}

void
m_token_logout(struct call *c, json_t *params)
{
	auth_start(c, params, P11W_LOGOUT);
}

void
agent_logout_token(struct agent *a, const void *module, const char *serial,
    const char *label, const char *reason)
{
	struct buf req;
	json_t *ev;

	buf_init(&req, P11W_MAX_FIELD);
	buf_put_cstr(&req, serial);
	/* The helper answers; nothing waits for it: the login is over for
	 * the agent from now on, and a failure is logged by the helper. */
	if (req.failed || p11c_call((struct p11c *)module, P11W_LOGOUT, &req,
	    LOGOUT_TIMEOUT_MS, logout_done, NULL) != 0)
		log_err("token %s: could not log out (%s)", serial, reason);
	buf_free(&req);
	log_info("token %s logged out by the agent: %s", serial, reason);
	events_login(a->events, module, serial, label, false, reason);
	if ((ev = audit_event_new("logout")) != NULL) {
		json_object_set_new(ev, "token", json_string(serial));
		json_object_set_new(ev, "reason", json_string(reason));
		json_object_set_new(ev, "decision", json_string("allow"));
		json_object_set_new(ev, "result", json_string("ok"));
	}
	audited_note(a, ev);
}

static void
lock_tokens_known(void *arg)
{
	struct call *c = arg;
	struct reg_snapshot *s = registry_snapshot(c->agent->reg);
	struct reg_token *t;
	size_t i;
	int n = 0;

	for (i = 0; i < s->ntokens; i++) {
		t = &s->tokens[i];
		if (!t->logged_in)
			continue;
		agent_logout_token(c->agent, t->module, t->serial, t->label, "lock");
		t->logged_in = false;
		n++;
	}
	snapshot_unref(s);
	call_result(c, json_pack("{s:i}", "logged_out", n));
}

void
m_agent_lock(struct call *c, json_t *params)
{
	static const struct param_spec spec[] = { { NULL, 0, false } };

	if (!params_check(c, params, spec) ||
	    !authorize_op(c, POLICY_OP_LOGOUT, "lock", NULL))
		return;
	/* Fresh state: a login made outside the agent is locked too. */
	registry_refresh(c->agent->reg, false, lock_tokens_known, c);
}
