/*
 * sign: resolve the certificate once, then for each document (one, or a
 * batch): digest it (inline, or streamed from a passed descriptor without
 * blocking the loop), build the signed attributes, have the token sign
 * them through its helper, and assemble the CMS. A batch is all or
 * nothing: any failure fails the request and returns no signature.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <p11-kit/pkcs11.h>

#include "agent/audit.h"
#include "agent/audited.h"
#include "agent/authorize.h"
#include "common/b64.h"
#include "agent/cades.h"
#include "agent/docread.h"
#include "agent/events.h"
#include "agent/facts.h"
#include "agent/log.h"
#include "agent/pinentry.h"
#include "agent/resolve.h"
#include "pkcs11/wire.h"

#define SIGN_TIMEOUT_MS 30000u
#define PINPAD_TIMEOUT_MS 120000u /* a person types on the reader */
#define SIGN_RECHECK_MS 800u

struct sign_doc {
	json_t *data;             /* base64 text, or NULL for a descriptor */
	json_t *digest_value;     /* blind signing: the digest, base64 */
	unsigned fd_index;
	uint64_t size;
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned digest_len;
	char *signature;          /* base64 DER or PEM, once signed */
	uint8_t sig_sha256[32];   /* of the DER, for the audit record */
};

struct sign_op {
	struct call *call;
	char *cert_sel;
	enum cades_digest digest;
	bool pem;
	bool batch;               /* answer with results[] */
	struct sign_doc *docs;
	size_t ndocs, cur;
	EVP_MD_CTX *md;
	struct docread *reader;
	/* The key, once resolved. */
	X509 *cert;
	struct p11c *module;
	char *serial;
	char *label;
	uint8_t *key_id;
	size_t key_id_len;
	uint8_t cert_sha256[32];
	struct cades_prep prep;
	bool prepared;
	unsigned long *mechs;     /* the token's mechanism list */
	size_t nmechs;
	bool mechs_known;
	bool digest_given;        /* else the key's natural digest */
	uint64_t failed_rv;       /* the token's error, while rechecking */
	bool always_auth;         /* the key wants its PIN for each signature */
	struct pinentry *pe;      /* a PIN being asked for */
	bool pin_count_low;
	bool final_try_consent;   /* ask for consent before the PIN */
	struct buf pin;           /* secret: for always_auth keys, this request
	                           * only; wiped when the call ends */
	unsigned rechecks;
	struct timer *recheck;
	/* What the policy granted (agent/policy.h). */
	struct policy_limits limits;
	char *rule;               /* the deciding rule's name (a copy: a
	                           * reload may free the policy meanwhile) */
	struct policy_rate *rate; /* the client's counter, and what this */
	unsigned rate_held;       /* request holds in it until it succeeds */
	time_t rate_window;
	bool succeeded;
	unsigned inputs;          /* POLICY_IN_* this request uses */
};

static void sign_next(struct sign_op *op);
static char *hex(const uint8_t *p, size_t n);

static void
sign_op_free(void *arg)
{
	struct sign_op *op = arg;
	size_t i;

	docread_cancel(op->reader);
	loop_timer_cancel(op->recheck);
	pinentry_cancel(op->pe);
	buf_free(&op->pin);
	/* Refused and failed requests do not count against the rate. */
	if (!op->succeeded && op->rate_held > 0 && op->rate != NULL &&
	    op->rate->window_start == op->rate_window &&
	    op->rate->count >= op->rate_held)
		op->rate->count -= op->rate_held;
	free(op->rule);
	for (i = 0; i < op->ndocs; i++) {
		json_decref(op->docs[i].data);
		json_decref(op->docs[i].digest_value);
		free(op->docs[i].signature);
	}
	free(op->docs);
	EVP_MD_CTX_free(op->md);
	free(op->cert_sel);
	X509_free(op->cert);
	free(op->serial);
	free(op->label);
	free(op->key_id);
	free(op->mechs);
	if (op->prepared)
		cades_prep_clear(&op->prep);
	free(op);
}

/* The audit event of this request: who, which certificate and token,
 * and every document digested so far. */
static json_t *
sign_event(struct sign_op *op, bool with_signatures)
{
	json_t *ev = audited_event(op->call, "sign"), *docs, *d;
	char *h;
	size_t i;

	if (ev == NULL)
		return NULL;
	if (op->cert != NULL && audit_event_cert(ev, op->cert) != 0)
		goto fail;
	if (op->serial != NULL)
		json_object_set_new(ev, "token", json_string(op->serial));
	json_object_set_new(ev, "documents_requested", json_integer((json_int_t)op->ndocs));
	for (i = 0; op->docs != NULL && i < op->ndocs; i++) {
		struct sign_doc *sd = &op->docs[i];

		if (sd->digest_len == 0)
			break;
		if (audit_event_document(ev, cades_digest_name(op->digest),
		    sd->digest, sd->digest_len, sd->size) != 0)
			goto fail;
		if (sd->digest_value != NULL) {
			docs = json_object_get(ev, "documents");
			json_object_set_new(json_array_get(docs, json_array_size(docs) - 1),
			    "blind", json_true());
		}
		if (!with_signatures)
			continue;
		docs = json_object_get(ev, "documents");
		d = json_array_get(docs, json_array_size(docs) - 1);
		if ((h = hex(sd->sig_sha256, sizeof(sd->sig_sha256))) == NULL)
			goto fail;
		json_object_set_new(d, "signature_sha256", json_string(h));
		free(h);
	}
	return ev;
fail:
	json_decref(ev);
	return NULL;
}

/* Refusals (auth, policy, not found) are "deny"; the rest are failures. */
static void
sign_fail(struct sign_op *op, int code, const char *reason, const char *msg,
    json_t *data)
{
	bool refusal = code == SIGNET_E_AUTH || code == SIGNET_E_REFUSED ||
	    code == SIGNET_E_NOT_FOUND;

	audited_error(op->call, sign_event(op, false), refusal, code, reason, msg,
	    data);
}

static void
sign_oom(struct sign_op *op)
{
	sign_fail(op, SIGNET_E_INTERNAL, SIGNET_R_INTERNAL_ERROR, "out of memory",
	    NULL);
}

/* The data of a document_too_large refusal: the limit and the rule. */
static json_t *
too_large_data(const struct sign_op *op, uint64_t max)
{
	return json_pack("{s:I, s:s}", "max_size", (json_int_t)max, "rule",
	    op->rule != NULL ? op->rule : POLICY_DEFAULT_RULE);
}

/* A failure about one document of a batch names it. */
static json_t *
doc_data(const struct sign_op *op, json_t *data)
{
	if (!op->batch)
		return data;
	if (data == NULL)
		data = json_object();
	json_object_set_new(data, "document", json_integer((json_int_t)op->cur));
	return data;
}

static char *
hex(const uint8_t *p, size_t n)
{
	char *s = malloc(2 * n + 1);
	size_t i;

	if (s == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		snprintf(s + 2 * i, 3, "%02x", p[i]);
	s[2 * n] = '\0';
	return s;
}

static json_t *
doc_result(const struct sign_op *op, const struct sign_doc *d)
{
	char *h = hex(d->digest, d->digest_len);
	json_t *r;

	if (h == NULL)
		return NULL;
	r = json_pack("{s:s, s:s, s:s, s:s, s:I}", "signature", d->signature,
	    "format", op->pem ? "pem" : "der",
	    "digest", cades_digest_name(op->digest), "document_digest", h,
	    "document_size", (json_int_t)d->size);
	free(h);
	return r;
}

static void
sign_reply(struct sign_op *op)
{
	struct call *c = op->call;
	json_t *list;
	size_t i;

	/* The audit record is the account of it; this is for debugging. */
	log_debug("signed %zu document%s with token %s for uid %u pid %d",
	    op->ndocs, op->ndocs == 1 ? "" : "s", op->serial,
	    (unsigned)c->peer.uid, (int)c->peer.pid);
	events_signed(c->agent->events, op->module, op->serial, (unsigned)op->ndocs);
	op->succeeded = true;
	/* No signature leaves before its record is durable (issue 5). */
	if (!op->batch) {
		audited_result(c, sign_event(op, true), doc_result(op, &op->docs[0]),
		    NULL);
		return;
	}
	if ((list = json_array()) == NULL) {
		sign_oom(op);
		return;
	}
	for (i = 0; i < op->ndocs; i++)
		json_array_append_new(list, doc_result(op, &op->docs[i]));
	audited_result(c, sign_event(op, true), json_pack("{s:o}", "results", list),
	    NULL);
}

static char *
encode_signature(const struct sign_op *op, const uint8_t *der, size_t der_len)
{
	BIO *b;
	BUF_MEM *mem;
	char *enc = NULL;
	size_t len;

	if (!op->pem)
		return b64_encode(der, der_len, &len);
	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return NULL;
	if (PEM_write_bio(b, "CMS", "", der, (long)der_len) > 0) {
		BIO_get_mem_ptr(b, &mem);
		enc = strndup(mem->data, mem->length);
	}
	BIO_free(b);
	return enc;
}

/* Is the op's token in the current snapshot? */
static bool
sign_token_present(struct sign_op *op)
{
	struct reg_snapshot *s = registry_snapshot(op->call->agent->reg);
	bool found = false;
	size_t i;

	for (i = 0; i < s->ntokens && !found; i++)
		found = s->tokens[i].module == op->module &&
		    strcmp(s->tokens[i].serial, op->serial) == 0;
	snapshot_unref(s);
	return found;
}

static void sign_recheck_done(void *arg);

static void
sign_recheck_later(void *arg)
{
	struct sign_op *op = arg;

	op->recheck = NULL; /* the loop frees a timer that fired */
	registry_refresh(op->call->agent->reg, false, sign_recheck_done, op);
}

static void
sign_recheck_done(void *arg)
{
	struct sign_op *op = arg;

	if (!sign_token_present(op)) {
		sign_fail(op, SIGNET_E_TOKEN, SIGNET_R_TOKEN_REMOVED,
		    "the token was removed", doc_data(op, NULL));
		return;
	}
	/* The reader may not have noticed yet (pcscd polls a card about
	 * every 400 ms): look once more a little later. */
	if (op->rechecks++ == 0 && (op->recheck = loop_timer(op->call->agent->loop,
	    SIGN_RECHECK_MS, sign_recheck_later, op)) != NULL)
		return;
	call_ckr_error_audited(op->call, op->failed_rv, sign_event(op, false));
}

/*
 * A card pulled out mid-signature often fails with a generic error
 * (OpenSC: CKR_GENERAL_ERROR, CKR_DEVICE_ERROR), not CKR_DEVICE_REMOVED.
 * Before answering, look again: a token that is gone is token_removed.
 */
static void
sign_token_failed(struct sign_op *op, uint64_t rv)
{
	switch (rv) {
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_DEVICE_REMOVED:
		registry_invalidate(op->call->agent->reg);
		/* FALLTHROUGH */
	case CKR_GENERAL_ERROR:
	case CKR_DEVICE_ERROR:
	case CKR_FUNCTION_FAILED:
	case CKR_SESSION_CLOSED:
	case CKR_SESSION_HANDLE_INVALID:
		op->failed_rv = rv;
		registry_refresh(op->call->agent->reg, false, sign_recheck_done, op);
		return;
	}
	call_ckr_error_audited(op->call, rv, sign_event(op, false));
}

static void
sign_done(void *arg, int status, uint64_t rv, struct buf *resp)
{
	struct sign_op *op = arg;
	uint64_t flags;
	bool verified;
	struct sign_doc *d = &op->docs[op->cur];
	const uint8_t *raw;
	uint8_t *der = NULL;
	size_t raw_len, der_len;

	if (status != 0) {
		sign_fail(op, SIGNET_E_TOKEN, SIGNET_R_TOKEN_UNAVAILABLE,
		    "the token's module helper failed; it is being restarted",
		    doc_data(op, NULL));
		return;
	}
	flags = op->always_auth ? buf_get_u64(resp) : 0;
	if (rv == CKR_PIN_INCORRECT) {
		/* Never retried: a batch stops at the first wrong PIN. */
		buf_reset(&op->pin);
		sign_fail(op, SIGNET_E_AUTH, SIGNET_R_PIN_INCORRECT,
		    "the token rejected the PIN", doc_data(op,
		    json_pack("{s:o}", "pin", pin_flags_json(flags))));
		return;
	}
	if (rv != CKR_OK) {
		sign_token_failed(op, rv);
		return;
	}
	raw = buf_get_str(resp, &raw_len, P11W_MAX_FIELD);
	verified = cades_verify_skippable(&op->prep) &&
	    events_key_verified(op->call->agent->events, op->module, op->serial,
	    op->key_id, op->key_id_len, op->cert_sha256);
	if (raw == NULL || !buf_done(resp) ||
	    cades_finish_ex(&op->prep, raw, raw_len,
	    verified ? CADES_FINISH_KEY_VERIFIED : 0, &der, &der_len) != 0) {
		sign_fail(op, SIGNET_E_TOKEN, SIGNET_R_TOKEN_ERROR,
		    "the token returned an unusable signature", doc_data(op, NULL));
		return;
	}
	if (!verified && cades_verify_skippable(&op->prep))
		events_key_mark(op->call->agent->events, op->module, op->serial,
		    op->key_id, op->key_id_len, op->cert_sha256);
	cades_prep_clear(&op->prep);
	op->prepared = false;
	(void)EVP_Digest(der, der_len, d->sig_sha256, NULL, EVP_sha256(), NULL);
	d->signature = encode_signature(op, der, der_len);
	free(der);
	if (d->signature == NULL) {
		sign_oom(op);
		return;
	}
	op->cur++;
	sign_next(op);
}

/* The current document is digested: prepare the attributes and sign. */
static void
sign_send(struct sign_op *op)
{
	struct sign_doc *d = &op->docs[op->cur];
	struct buf req;
	int err;

	if (d->digest_value == NULL &&
	    EVP_DigestFinal_ex(op->md, d->digest, &d->digest_len) != 1) {
		sign_oom(op);
		return;
	}
	if (policy_check_size(&op->limits, d->size) != NULL) {
		sign_fail(op, SIGNET_E_REFUSED, POLICY_R_DOCUMENT_TOO_LARGE,
		    "the document is larger than the policy allows",
		    doc_data(op, too_large_data(op, op->limits.max_size)));
		return;
	}
	err = cades_prepare_ex(&op->prep, op->cert, op->digest, d->digest,
	    d->digest_len, time(NULL), op->mechs_known ? op->mechs : NULL,
	    op->nmechs);
	if (err == SIGNET_ERR_UNSUPPORTED) {
		sign_fail(op, SIGNET_E_INVALID_PARAMS, SIGNET_R_UNSUPPORTED_KEY,
		    "the certificate's key type cannot sign here", NULL);
		return;
	}
	if (err != 0) {
		sign_oom(op);
		return;
	}
	op->prepared = true;
	if (op->always_auth && op->pin.len == 0) {
		sign_fail(op, SIGNET_E_AUTH, SIGNET_R_AUTH_REQUIRED,
		    "this key asks for its PIN with every signature: send pin",
		    json_pack("{s:s}", "param", "pin"));
		return;
	}
	buf_init(&req, P11W_MAX_FIELD);
	req.secret = op->always_auth;
	buf_put_cstr(&req, op->serial);
	buf_put_str(&req, op->key_id, op->key_id_len);
	buf_put_u64(&req, op->prep.mechanism);
	buf_put_str(&req, op->prep.tbs, op->prep.tbs_len);
	if (op->always_auth)
		buf_put_str(&req, op->pin.data, op->pin.len);
	err = req.failed ? SIGNET_ERR_NOMEM : p11c_call(op->module,
	    op->always_auth ? P11W_SIGN_AUTH : P11W_SIGN, &req, SIGN_TIMEOUT_MS,
	    sign_done, op);
	buf_free(&req);
	if (err != 0)
		sign_fail(op, SIGNET_E_TOKEN, SIGNET_R_TOKEN_UNAVAILABLE,
		    "the token's module helper is restarting", NULL);
}

/* Nobody will write the rest of a document whose client has gone, and
 * nobody wants the PIN being asked for. */
static void
sign_client_gone(struct call *c)
{
	struct sign_op *op = c->state;

	if (op->pe != NULL) {
		pinentry_cancel(op->pe);
		op->pe = NULL;
		sign_fail(op, SIGNET_E_AUTH, SIGNET_R_PIN_CANCELLED,
		    "client went away", NULL);
		return;
	}
	if (op->reader == NULL)
		return; /* token work in flight finishes by itself */
	docread_cancel(op->reader);
	op->reader = NULL;
	sign_fail(op, SIGNET_E_IO, SIGNET_R_FD_READ_ERROR, "client went away", NULL);
}

static void
sign_read_done(void *arg, int err, const char *why)
{
	struct sign_op *op = arg;

	op->reader = NULL;
	if (err == SIGNET_ERR_LIMIT) {
		sign_fail(op, SIGNET_E_REFUSED, POLICY_R_DOCUMENT_TOO_LARGE,
		    "the document is larger than the policy allows",
		    doc_data(op, too_large_data(op, op->limits.max_size)));
		return;
	}
	if (err != 0) {
		sign_fail(op, SIGNET_E_IO, SIGNET_R_FD_READ_ERROR, why,
		    doc_data(op, NULL));
		return;
	}
	sign_send(op);
}

struct blind_sink {
	uint8_t *out;
	size_t len, max;
	bool over;
};

static void
blind_put(void *arg, const uint8_t *p, size_t n)
{
	struct blind_sink *b = arg;

	if (n > b->max - b->len) {
		b->over = true;
		return;
	}
	memcpy(b->out + b->len, p, n);
	b->len += n;
}

/* A precomputed digest (blind signing, where a rule grants "digest"):
 * exactly the length of the request's digest algorithm. */
static void
sign_blind(struct sign_op *op, struct sign_doc *d)
{
	struct blind_sink b = { d->digest, 0, sizeof(d->digest), false };
	size_t want = cades_digest_len(op->digest);

	if (b64_decode_stream(json_string_value(d->digest_value),
	    json_string_length(d->digest_value), blind_put, &b) != 0) {
		sign_fail(op, SIGNET_E_INVALID_PARAMS, SIGNET_R_BAD_BASE64,
		    "digest_value is not valid base64",
		    doc_data(op, json_pack("{s:s}", "param", "digest_value")));
		return;
	}
	if (b.over || b.len != want) {
		sign_fail(op, SIGNET_E_INVALID_PARAMS, SIGNET_R_INVALID_PARAMS,
		    "digest_value is not as long as the digest algorithm's output",
		    doc_data(op, json_pack("{s:s, s:I}", "param", "digest_value",
		    "length", (json_int_t)want)));
		return;
	}
	d->digest_len = (unsigned)b.len;
	sign_send(op);
}

static void
sign_hash_data(void *arg, const uint8_t *p, size_t n)
{
	struct sign_op *op = arg;

	op->docs[op->cur].size += n;
	(void)EVP_DigestUpdate(op->md, p, n);
}

/* Digests the next document, or answers when all are signed. */
static void
sign_next(struct sign_op *op)
{
	struct sign_doc *d;
	const char *why;
	int fd;

	if (op->cur == op->ndocs) {
		sign_reply(op);
		return;
	}
	if (call_gone(op->call)) {
		sign_fail(op, SIGNET_E_IO, SIGNET_R_FD_READ_ERROR,
		    "client went away", NULL);
		return;
	}
	d = &op->docs[op->cur];
	if (d->digest_value != NULL) {
		sign_blind(op, d);
		return;
	}
	if (EVP_DigestInit_ex(op->md, cades_digest_md(op->digest), NULL) != 1) {
		sign_oom(op);
		return;
	}
	if (d->data != NULL) {
		if (b64_decode_stream(json_string_value(d->data),
		    json_string_length(d->data), sign_hash_data, op) != 0) {
			sign_fail(op, SIGNET_E_INVALID_PARAMS, SIGNET_R_BAD_BASE64,
			    "data is not valid base64",
			    doc_data(op, json_pack("{s:s}", "param", "data")));
			return;
		}
		sign_send(op);
		return;
	}
	if ((fd = call_take_fd(op->call, d->fd_index)) < 0) {
		sign_fail(op, SIGNET_E_INVALID_PARAMS, SIGNET_R_FD_MISSING,
		    "the request names a descriptor that was not passed",
		    doc_data(op, json_pack("{s:s}", "param", "fd")));
		return;
	}
	op->reader = docread_start(op->call->agent->loop, fd, op->md, &d->size,
	    sign_read_done, op, &why);
	if (op->reader == NULL)
		sign_fail(op, SIGNET_E_IO, SIGNET_R_FD_READ_ERROR, why,
		    doc_data(op, NULL));
	else
		docread_limit(op->reader, op->limits.max_size);
}

static void
pinpad_done(void *arg, int status, uint64_t rv, struct buf *resp)
{
	struct sign_op *op = arg;
	json_t *ev;

	(void)resp;
	if (status != 0 || rv != CKR_OK) {
		if (status != 0)
			sign_fail(op, SIGNET_E_TOKEN, SIGNET_R_TOKEN_UNAVAILABLE,
			    "the token's module helper failed", NULL);
		else
			call_ckr_error_audited(op->call, rv, sign_event(op, false));
		return;
	}
	events_login(op->call->agent->events, op->module, op->serial, op->label,
	    true, "pinpad");
	if ((ev = audited_event(op->call, "login")) != NULL) {
		json_object_set_new(ev, "token", json_string(op->serial));
		json_object_set_new(ev, "pin_source", json_string("pinpad"));
		json_object_set_new(ev, "decision", json_string("allow"));
		json_object_set_new(ev, "result", json_string("ok"));
	}
	audited_note(op->call->agent, ev);
	sign_next(op);
}

/* Without "digest": GOST keys use the Streebog of their size (RFC 9215
 * pairs them so), every other key SHA-256. */
static enum cades_digest
sign_natural_digest(X509 *cert)
{
	EVP_PKEY *k = X509_get0_pubkey(cert);
	int id = k != NULL ? EVP_PKEY_get_base_id(k) : 0;

	if (id == CADES_KEY_GOST2012_256)
		return CADES_STREEBOG256;
	if (id == CADES_KEY_GOST2012_512)
		return CADES_STREEBOG512;
	return CADES_SHA256;
}

/* The largest inline document, decoded, and its index (descriptors:
 * unknown, 0). Malformed base64 is answered later, when it is decoded. */
static uint64_t
sign_known_size(const struct sign_op *op, size_t *which)
{
	uint64_t max = 0, n;
	const char *s;
	size_t i, len;

	*which = 0;
	for (i = 0; i < op->ndocs; i++) {
		if (op->docs[i].data == NULL)
			continue;
		s = json_string_value(op->docs[i].data);
		len = json_string_length(op->docs[i].data);
		n = len / 4 * 3;
		if (len >= 4 && len % 4 == 0)
			n -= (s[len - 1] == '=') + (s[len - 2] == '=');
		if (n > max) {
			max = n;
			*which = i;
		}
	}
	return max;
}

static void sign_ask_pin(struct sign_op *op, bool confirm);

/* The token's answer to a login with a pinentry PIN. */
static void
pinentry_login_done(void *arg, int status, uint64_t rv, struct buf *resp)
{
	struct sign_op *op = arg;
	uint64_t flags = 0;
	json_t *ev;

	if (status != 0) {
		buf_reset(&op->pin);
		sign_fail(op, SIGNET_E_TOKEN, SIGNET_R_TOKEN_UNAVAILABLE,
		    "the token's module helper failed", NULL);
		return;
	}
	flags = buf_get_u64(resp);
	if ((ev = audited_event(op->call, "login")) != NULL) {
		json_object_set_new(ev, "token", json_string(op->serial));
		json_object_set_new(ev, "pin_source", json_string("pinentry"));
		json_object_set_new(ev, "pin_state", pin_flags_json(flags));
		json_object_set_new(ev, "decision", json_string(rv == CKR_OK ?
		    "allow" : "deny"));
		json_object_set_new(ev, "result", json_string(rv == CKR_OK ? "ok" :
		    rv == CKR_PIN_INCORRECT ? "pin_incorrect" : "error"));
	}
	audited_note(op->call->agent, ev);
	if (rv == CKR_PIN_INCORRECT) {
		/* Never guess on a PIN: one try per request, no retry. */
		buf_reset(&op->pin);
		sign_fail(op, SIGNET_E_AUTH, SIGNET_R_PIN_INCORRECT,
		    "the token rejected the PIN",
		    json_pack("{s:o}", "pin", pin_flags_json(flags)));
		return;
	}
	if (rv != CKR_OK) {
		buf_reset(&op->pin);
		call_ckr_error_audited(op->call, rv, sign_event(op, false));
		return;
	}
	events_login(op->call->agent->events, op->module, op->serial, op->label,
	    true, "pinentry");
	/* A key that asks per signature takes the same PIN, this request
	 * only; for any other key it is no longer needed. */
	if (!op->always_auth)
		buf_reset(&op->pin);
	sign_next(op);
}

static void
sign_pin_entered(void *arg, int status, struct buf *pin)
{
	struct sign_op *op = arg;
	struct buf req;

	op->pe = NULL;
	if (status == PINENTRY_CANCELLED || status == PINENTRY_TIMEOUT) {
		sign_fail(op, SIGNET_E_AUTH, SIGNET_R_PIN_CANCELLED,
		    status == PINENTRY_TIMEOUT ? "nobody entered the PIN in time" :
		    "the PIN prompt was cancelled", NULL);
		return;
	}
	if (status == SIGNET_ERR_LIMIT) {
		sign_fail(op, SIGNET_E_AUTH, SIGNET_R_PIN_LEN_RANGE,
		    "the PIN is too long", NULL);
		return;
	}
	if (status != 0) {
		sign_fail(op, SIGNET_E_INTERNAL, SIGNET_R_INTERNAL_ERROR,
		    "the pinentry program failed", NULL);
		return;
	}
	if (pin == NULL) {                /* consent to a final try given */
		op->final_try_consent = false;
		sign_ask_pin(op, false);
		return;
	}
	if (pin->len == 0) {
		sign_fail(op, SIGNET_E_AUTH, SIGNET_R_PIN_LEN_RANGE,
		    "the PIN is empty", NULL);
		return;
	}
	buf_reset(&op->pin);
	buf_put(&op->pin, pin->data, pin->len);
	buf_init(&req, P11W_MAX_FIELD);
	req.secret = true;
	buf_put_cstr(&req, op->serial);
	buf_put_u8(&req, 1);
	buf_put_str(&req, op->pin.data, op->pin.len);
	if (req.failed || op->pin.failed || p11c_call(op->module, P11W_LOGIN, &req,
	    PINPAD_TIMEOUT_MS, pinentry_login_done, op) != 0)
		sign_fail(op, SIGNET_E_TOKEN, SIGNET_R_TOKEN_UNAVAILABLE,
		    "the token's module helper is restarting", NULL);
	buf_free(&req);
}

/*
 * Asks a pinentry program ([login] pinentry) for the token's PIN. The
 * prompt says who asks (the program's path as the kernel gave it), for
 * which certificate and how many documents; the count comes first, as
 * long descriptions are cut.
 */
static void
sign_ask_pin(struct sign_op *op, bool confirm)
{
	struct pinentry_req r = { 0 };
	char desc[900], subject[300];
	X509_NAME *n = X509_get_subject_name(op->cert);

	X509_NAME_oneline(n, subject, sizeof(subject));
	snprintf(desc, sizeof(desc), "%s %zu document%s with the certificate "
	    "%s (token %s), for %s (uid %u).",
	    confirm ? "This is the LAST PIN try before the token locks. Sign" :
	    "Sign", op->ndocs, op->ndocs == 1 ? "" : "s", subject, op->label,
	    op->call->exe != NULL ? op->call->exe : "an unknown program",
	    (unsigned)op->call->peer.uid);
	r.program = policy_pinentry(op->call->agent->policy);
	r.title = "Signet";
	r.description = desc;
	r.prompt = "PIN:";
	r.error = op->pin_count_low ? "Few PIN tries are left" : NULL;
	r.timeout_s = PINENTRY_DEFAULT_TIMEOUT_S;
	r.display = getenv("DISPLAY");
	r.tty_type = getenv("TERM");
	r.ok = confirm ? "Try" : "Sign";
	r.cancel = "Cancel";
	r.confirm_only = confirm;
	if ((op->pe = pinentry_start(op->call->agent->loop, &r, sign_pin_entered,
	    op)) == NULL)
		sign_fail(op, SIGNET_E_INTERNAL, SIGNET_R_INTERNAL_ERROR,
		    "the pinentry program could not be started", NULL);
}

/* Counts the request against the client's rate now, so concurrent
 * requests see it; it is given back if the request does not succeed. */
static void
sign_hold_rate(struct sign_op *op, struct policy_rate *rate,
    const struct policy_limits *l, time_t now)
{
	if (rate == NULL)
		return;
	policy_rate_add(rate, l, (unsigned)op->ndocs, now);
	op->rate = rate;
	op->rate_held = (unsigned)op->ndocs;
	op->rate_window = rate->window_start;
}

/*
 * Asks the policy (DESIGN.md, principle 5) before any token work. Returns
 * true to go on signing; false when the call was answered, or when a
 * login runs first (it goes on from there).
 */
static bool
sign_authorize(struct sign_op *op, const struct reg_token *t,
    const struct reg_cert *rc)
{
	struct call *c = op->call;
	struct agent *a = c->agent;
	struct policy_input in;
	struct policy_decision d, d2;
	size_t largest;
	struct policy_rate *rate = authorize_rate(c), zero = { 0, 0 };
	struct cert_facts facts;
	struct buf req;
	json_t *data;
	size_t i;

	authorize_input(c, &in);
	in.req.op = POLICY_OP_SIGN;
	for (i = 0; i < op->ndocs; i++)
		in.req.inputs |= op->docs[i].digest_value != NULL ? POLICY_IN_DIGEST :
		    op->docs[i].data != NULL ? POLICY_IN_DATA : POLICY_IN_FD;
	in.req.digest = policy_digest_from_name(cades_digest_name(op->digest));
	in.req.ndocs = (unsigned)op->ndocs;
	in.req.max_doc_size = sign_known_size(op, &largest);
	if (facts_cert(&facts, op->cert, t, rc, a->policy->certs.ca_bundle == NULL ?
	    POLICY_CHAIN_UNCHECKED : facts_chain(op->cert, a->policy->certs.ca_bundle)) != 0) {
		facts_cert_clear(&facts);
		sign_oom(op);
		return false;
	}
	in.cert = facts.pc;
	if (!events_token_state(a->events, t->module, t->serial, &in.token))
		in.token.logged_in = t->logged_in;
	in.token.protected_auth_path = (t->flags & CKF_PROTECTED_AUTHENTICATION_PATH) != 0;
	in.token.pin_count_low = (t->flags & CKF_USER_PIN_COUNT_LOW) != 0;
	in.token.pin_final_try = (t->flags & CKF_USER_PIN_FINAL_TRY) != 0;
	in.token.pin_locked = (t->flags & CKF_USER_PIN_LOCKED) != 0;
	in.rate = rate != NULL ? *rate : zero;
	policy_eval(a->policy, &in, &d);
	facts_cert_clear(&facts);
	if (!d.allow) {
		data = json_pack("{s:s}", "rule", d.rule);
		if (d.retry_after != 0)
			json_object_set_new(data, "retry_after", json_integer(d.retry_after));
		if (strcmp(d.reason, POLICY_R_DOCUMENT_TOO_LARGE) == 0) {
			if (d.matched != NULL)
				json_object_set_new(data, "max_size",
				    json_integer((json_int_t)d.matched->max_size));
			if (op->batch)
				json_object_set_new(data, "document",
				    json_integer((json_int_t)largest));
		}
		sign_fail(op, authorize_code(d.reason), d.reason,
		    "the signing policy refuses this", data);
		return false;
	}
	op->limits = d.limits;
	if ((op->rule = strdup(d.rule)) == NULL) {
		sign_oom(op);
		return false;
	}
	/* A PIN in the request (a key that asks for it per signature) is a
	 * PIN from the client: its rule must allow that too. */
	if (op->pin.len > 0) {
		memset(&in.cert, 0, sizeof(in.cert)); /* its facts are freed */
		in.req.op = POLICY_OP_LOGIN_PIN;
		policy_eval(a->policy, &in, &d2);
		if (!d2.allow) {
			sign_fail(op, authorize_code(d2.reason), d2.reason,
			    "the signing policy refuses this",
			    json_pack("{s:s}", "rule", d2.rule));
			return false;
		}
	}
	/* A login the policy has ended (ttl, idle, max_signatures) goes
	 * first: the signature must come from a fresh authorization. */
	if (d.login == POLICY_LOGIN_TTL || d.login == POLICY_LOGIN_IDLE ||
	    d.login == POLICY_LOGIN_COUNT)
		agent_logout_token(a, t->module, t->serial, t->label,
		    policy_login_state_name(d.login));
	switch (d.auth) {
	case POLICY_AUTH_READY:
		sign_hold_rate(op, rate, &d.limits, in.now);
		return true;
	case POLICY_AUTH_PINPAD:
		sign_hold_rate(op, rate, &d.limits, in.now);
		buf_init(&req, P11W_MAX_FIELD);
		buf_put_cstr(&req, op->serial);
		buf_put_u8(&req, 0);
		buf_put_str(&req, "", 0);
		if (req.failed || p11c_call(op->module, P11W_LOGIN, &req,
		    PINPAD_TIMEOUT_MS, pinpad_done, op) != 0)
			sign_fail(op, SIGNET_E_TOKEN, SIGNET_R_TOKEN_UNAVAILABLE,
			    "the token's module helper is restarting", NULL);
		buf_free(&req);
		return false;
	case POLICY_AUTH_PINENTRY:
		sign_hold_rate(op, rate, &d.limits, in.now);
		op->pin_count_low = in.token.pin_count_low;
		sign_ask_pin(op, d.final_try_consent);
		return false;
	case POLICY_AUTH_CLIENT:
		break;
	}
	sign_fail(op, SIGNET_E_AUTH, SIGNET_R_AUTH_REQUIRED,
	    "the token is not logged in", NULL);
	return false;
}

/*
 * Finds the certificate. With final false, only a current cache may
 * answer; returns false to ask for a refresh. Returns true when resolved
 * or when the call was answered (bad selector, not found).
 */
static bool
sign_resolve(struct sign_op *op, bool final)
{
	struct reg_snapshot *s = registry_snapshot(op->call->agent->reg);
	struct reg_token *t = NULL;
	struct reg_cert *rc;
	const char *reason;
	bool ok = true;

	if (!final && !snapshot_current(s)) {
		ok = false;
		goto out;
	}
	if ((rc = resolve_cert(op->call, s, op->cert_sel, &t, &reason)) == NULL) {
		if (reason == NULL)
			goto out; /* bad_selector: answered */
		if (!final) {
			ok = false; /* perhaps a token inserted since */
			goto out;
		}
		if (strcmp(reason, SIGNET_R_TOKEN_UNAVAILABLE) == 0)
			sign_fail(op, SIGNET_E_TOKEN, SIGNET_R_TOKEN_UNAVAILABLE,
			    "a token module's helper is restarting; try again", NULL);
		else
			sign_fail(op, SIGNET_E_NOT_FOUND, reason,
			    strcmp(reason, SIGNET_R_CERT_NOT_FOUND) == 0 ?
			    "no certificate with a key matches" :
			    "several certificates match", NULL);
		goto out;
	}
	op->module = t->module;
	op->serial = strdup(t->serial);
	op->label = strdup(t->label);
	op->key_id = malloc(rc->id_len);
	if (op->serial == NULL || op->label == NULL || op->key_id == NULL) {
		sign_oom(op);
		goto out;
	}
	memcpy(op->key_id, rc->id, rc->id_len);
	op->key_id_len = rc->id_len;
	memcpy(op->cert_sha256, rc->sha256, sizeof(op->cert_sha256));
	X509_up_ref(rc->x509);
	op->cert = rc->x509;
	if (t->mechs_known && (op->mechs = malloc((t->nmechs ? t->nmechs : 1) *
	    sizeof(*op->mechs))) != NULL) {
		memcpy(op->mechs, t->mechs, t->nmechs * sizeof(*op->mechs));
		op->nmechs = t->nmechs;
		op->mechs_known = true;
	}
	if (!op->digest_given)
		op->digest = sign_natural_digest(op->cert);
	op->always_auth = rc->always_auth;
	if (sign_authorize(op, t, rc))
		sign_next(op);
out:
	snapshot_unref(s);
	return ok;
}

static void
sign_refreshed(void *arg)
{
	(void)sign_resolve(arg, true);
}

/* Fills op->docs from params; answers the call and returns false on error. */
static bool
sign_parse_docs(struct sign_op *op, json_t *params)
{
	json_t *docs = json_object_get(params, "documents"), *one, *data, *fd, *dv;
	const char *key;
	json_t *v;
	size_t i;
	char name[48];

	if ((json_object_get(params, "data") != NULL) +
	    (json_object_get(params, "fd") != NULL) +
	    (json_object_get(params, "digest_value") != NULL) + (docs != NULL) != 1) {
		call_error(op->call, SIGNET_E_INVALID_PARAMS, SIGNET_R_INVALID_PARAMS,
		    "give exactly one of data, fd, digest_value and documents",
		    json_pack("{s:s}", "param", "data"));
		return false;
	}
	if (docs == NULL) {
		op->ndocs = 1;
		docs = NULL;
	} else {
		op->batch = true;
		op->ndocs = json_array_size(docs);
		if (op->ndocs == 0 || op->ndocs > SIGNET_MAX_BATCH) {
			call_error(op->call, SIGNET_E_INVALID_PARAMS,
			    SIGNET_R_INVALID_PARAMS, "documents must hold 1 to 256 items",
			    json_pack("{s:s}", "param", "documents"));
			return false;
		}
	}
	if ((op->docs = calloc(op->ndocs, sizeof(*op->docs))) == NULL) {
		sign_oom(op);
		return false;
	}
	for (i = 0; i < op->ndocs; i++) {
		one = docs == NULL ? params : json_array_get(docs, i);
		snprintf(name, sizeof(name), "documents[%zu]", i);
		if (!json_is_object(one))
			goto bad;
		if (docs != NULL) {
			json_object_foreach(one, key, v) {
				if (strcmp(key, "data") != 0 && strcmp(key, "fd") != 0 &&
				    strcmp(key, "digest_value") != 0)
					goto bad;
			}
		}
		data = json_object_get(one, "data");
		fd = json_object_get(one, "fd");
		dv = json_object_get(one, "digest_value");
		if ((data != NULL) + (fd != NULL) + (dv != NULL) != 1)
			goto bad;
		if (dv != NULL) {
			if (!json_is_string(dv))
				goto bad;
			op->docs[i].digest_value = json_incref(dv);
		} else if (data != NULL) {
			if (!json_is_string(data))
				goto bad;
			op->docs[i].data = json_incref(data);
		} else {
			if (!json_is_integer(fd) || json_integer_value(fd) < 0 ||
			    json_integer_value(fd) >= (json_int_t)SIGNET_MAX_FDS_QUEUED)
				goto bad;
			op->docs[i].fd_index = (unsigned)json_integer_value(fd);
		}
	}
	return true;
bad:
	call_error(op->call, SIGNET_E_INVALID_PARAMS, SIGNET_R_INVALID_PARAMS,
	    "each document is an object with one of data (string), fd (index) "
	    "or digest_value (string)",
	    json_pack("{s:s}", "param", docs == NULL ? "fd" : name));
	return false;
}

void
m_sign(struct call *c, json_t *params)
{
	static const struct param_spec spec[] = {
		{ "cert", JSON_STRING, true }, { "data", JSON_STRING, false },
		{ "fd", JSON_INTEGER, false }, { "documents", JSON_ARRAY, false },
		{ "digest_value", JSON_STRING, false }, { "pin", JSON_STRING, false },
		{ "digest", JSON_STRING, false }, { "format", JSON_STRING, false },
		{ NULL, 0, false } };
	struct sign_op *op;
	const char *digest, *format;
	json_t *pin;
	int d;

	if (!params_check(c, params, spec))
		return;
	digest = param_str(params, "digest");
	if ((d = cades_digest_from_name(digest != NULL ? digest : "sha256")) < 0) {
		call_error(c, SIGNET_E_INVALID_PARAMS, SIGNET_R_UNSUPPORTED_DIGEST,
		    "digest must be sha256, sha384, sha512, streebog256 or "
		    "streebog512 (the Streebog ones with the gost engine)",
		    json_pack("{s:s}", "param", "digest"));
		return;
	}
	format = param_str(params, "format");
	if (format != NULL && strcmp(format, "der") != 0 && strcmp(format, "pem") != 0) {
		call_error(c, SIGNET_E_INVALID_PARAMS, SIGNET_R_INVALID_PARAMS,
		    "format must be der or pem", json_pack("{s:s}", "param", "format"));
		return;
	}
	if ((op = calloc(1, sizeof(*op))) == NULL) {
		call_error(c, SIGNET_E_INTERNAL, SIGNET_R_INTERNAL_ERROR,
		    "out of memory", NULL);
		return;
	}
	op->call = c;
	c->state = op;
	c->state_free = sign_op_free;
	c->on_gone = sign_client_gone;
	op->digest = (enum cades_digest)d;
	op->digest_given = digest != NULL;
	buf_init(&op->pin, SIGNET_MAX_PIN_LEN);
	op->pin.secret = true;
	if ((pin = json_object_get(params, "pin")) != NULL) {
		if (json_string_length(pin) == 0 ||
		    json_string_length(pin) > SIGNET_MAX_PIN_LEN) {
			call_error(c, SIGNET_E_AUTH, SIGNET_R_PIN_LEN_RANGE,
			    "the PIN is empty or too long", NULL);
			return;
		}
		buf_put(&op->pin, json_string_value(pin), json_string_length(pin));
	}
	op->pem = format != NULL && strcmp(format, "pem") == 0;
	if (!sign_parse_docs(op, params))
		return;
	if ((op->cert_sel = strdup(param_str(params, "cert"))) == NULL ||
	    (op->md = EVP_MD_CTX_new()) == NULL) {
		sign_oom(op);
		return;
	}
	/* The cached certificates answer at once; otherwise read them. */
	if (!sign_resolve(op, false))
		registry_refresh(c->agent->reg, true, sign_refreshed, op);
}
