#include <string.h>

#include <p11-kit/pkcs11.h>

#include "agent/audited.h"
#include "agent/certinfo.h"
#include "agent/resolve.h"
#include "agent/selector.h"
#include "pkcs11/ckr.h"

json_t *
pin_flags_json(uint64_t flags)
{
	return json_pack("{s:b, s:b, s:b}",
	    "pin_count_low", (flags & CKF_USER_PIN_COUNT_LOW) != 0,
	    "pin_final_try", (flags & CKF_USER_PIN_FINAL_TRY) != 0,
	    "pin_locked", (flags & CKF_USER_PIN_LOCKED) != 0);
}

void
call_unavailable(struct call *c)
{
	call_error(c, SIGNET_E_TOKEN, SIGNET_R_TOKEN_UNAVAILABLE,
	    "a token module's helper is restarting; try again", NULL);
}

struct reg_token *
resolve_token(struct call *c, struct reg_snapshot *s, const char *sel)
{
	struct selector parsed;
	struct reg_token *found = NULL, *t;
	size_t i, n = 0;

	if (sel == NULL) {
		if (s->ntokens == 1 && !s->incomplete)
			return &s->tokens[0];
		if (s->incomplete)
			call_unavailable(c);
		else if (s->ntokens == 0)
			call_error(c, SIGNET_E_NOT_FOUND, SIGNET_R_TOKEN_NOT_FOUND,
			    "no token is present", NULL);
		else
			call_error(c, SIGNET_E_NOT_FOUND, SIGNET_R_TOKEN_AMBIGUOUS,
			    "several tokens are present: name one", NULL);
		return NULL;
	}
	if (strlen(sel) > SIGNET_MAX_SELECTOR ||
	    selector_parse(&parsed, sel, false) != 0) {
		call_error(c, SIGNET_E_INVALID_PARAMS, SIGNET_R_BAD_SELECTOR,
		    "not a token selector", json_pack("{s:s}", "param", "token"));
		return NULL;
	}
	for (i = 0; i < s->ntokens; i++) {
		t = &s->tokens[i];
		if (selector_match_token(&parsed, t->serial, t->label,
		    t->manufacturer, t->model)) {
			found = t;
			n++;
		}
	}
	selector_clear(&parsed);
	if (n == 1)
		return found;
	if (n == 0 && s->incomplete) {
		call_unavailable(c);
		return NULL;
	}
	call_error(c, SIGNET_E_NOT_FOUND,
	    n == 0 ? SIGNET_R_TOKEN_NOT_FOUND : SIGNET_R_TOKEN_AMBIGUOUS,
	    n == 0 ? "no token matches" : "several tokens match", NULL);
	return NULL;
}

/*
 * snils:/inn:/ogrn: selectors match the certificate's subject, read here
 * for those selectors only (a registry cache of the identifiers would
 * spare the reading).
 */
static bool
match_cert(const struct selector *sel, const struct reg_token *t,
    const struct reg_cert *rc)
{
	struct certinfo_ids ids;
	struct selector_cert_attrs a = { NULL, NULL, NULL, NULL, NULL };

	if (sel->kind == SEL_RU) {
		certinfo_ids(rc->x509, &ids);
		a.snils = ids.snils;
		a.inn = ids.inn;
		a.innle = ids.innle;
		a.ogrn = ids.ogrn;
		a.ogrnip = ids.ogrnip;
	}
	return selector_match_cert_attrs(sel, t->serial, t->label,
	    t->manufacturer, t->model, rc->id, rc->id_len, rc->label,
	    rc->sha256, &a);
}

struct reg_cert *
resolve_cert(struct call *c, struct reg_snapshot *s, const char *sel,
    struct reg_token **tok, const char **reason)
{
	struct selector parsed;
	struct reg_cert *found = NULL, *rc;
	struct reg_token *t;
	size_t i, j, n = 0;

	*reason = NULL;
	if (strlen(sel) > SIGNET_MAX_SELECTOR ||
	    selector_parse(&parsed, sel, true) != 0) {
		call_error(c, SIGNET_E_INVALID_PARAMS, SIGNET_R_BAD_SELECTOR,
		    "not a certificate selector", json_pack("{s:s}", "param", "cert"));
		return NULL;
	}
	for (i = 0; i < s->ntokens; i++) {
		t = &s->tokens[i];
		for (j = 0; j < t->ncerts; j++) {
			rc = &t->certs[j];
			if (rc->key == 0 || !match_cert(&parsed, t, rc))
				continue;
			/* The same certificate on one token twice is one key. */
			if (found != NULL && *tok == t && found->id_len == rc->id_len &&
			    memcmp(found->id, rc->id, rc->id_len) == 0)
				continue;
			found = rc;
			*tok = t;
			n++;
		}
	}
	selector_clear(&parsed);
	if (n == 1)
		return found;
	if (n == 0 && s->incomplete) {
		*reason = SIGNET_R_TOKEN_UNAVAILABLE;
		return NULL;
	}
	*reason = n == 0 ? SIGNET_R_CERT_NOT_FOUND : SIGNET_R_CERT_AMBIGUOUS;
	return NULL;
}

void
call_ckr_error_audited(struct call *c, uint64_t rv, json_t *ev)
{
	json_t *data = json_pack("{s:s}", "ckr", ckr_name(rv));
	const char *reason = SIGNET_R_TOKEN_ERROR;
	const char *msg = "the token reported an error";
	int code = SIGNET_E_TOKEN;

	switch (rv) {
	case CKR_USER_NOT_LOGGED_IN:
		code = SIGNET_E_AUTH;
		reason = SIGNET_R_AUTH_REQUIRED;
		msg = "the token is not logged in";
		break;
	case CKR_PIN_LOCKED:
		code = SIGNET_E_AUTH;
		reason = SIGNET_R_PIN_LOCKED;
		msg = "the user PIN is locked";
		break;
	case CKR_PIN_LEN_RANGE:
		code = SIGNET_E_AUTH;
		reason = SIGNET_R_PIN_LEN_RANGE;
		msg = "the PIN length is out of the token's range";
		break;
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_DEVICE_REMOVED:
	case CKR_SLOT_ID_INVALID:
		reason = SIGNET_R_TOKEN_REMOVED;
		msg = "the token was removed";
		break;
	}
	if (ev != NULL)
		audited_error(c, ev, code == SIGNET_E_AUTH, code, reason, msg, data);
	else
		call_error(c, code, reason, msg, data);
}

void
call_ckr_error(struct call *c, uint64_t rv)
{
	call_ckr_error_audited(c, rv, NULL);
}
