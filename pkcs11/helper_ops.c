#include <stdlib.h>
#include <string.h>

#include "pkcs11/helper.h"

/*
 * The operations of wire.h. Each op_* appends its response fields (after
 * rv) to out and returns the rv; ops_run frames the result. Values from the
 * module are untrusted too: every count and length it reports is checked
 * against a cap before we allocate for it.
 */

/* id, type, rv */
#define OPS_HDR (4 + 1 + 8)

/* Objects matching tmpl, at most max of them. */
static CK_RV
find_objects(CK_SESSION_HANDLE h, CK_ATTRIBUTE *tmpl, CK_ULONG ntmpl,
    CK_OBJECT_HANDLE *objs, CK_ULONG max, CK_ULONG *count)
{
	CK_ULONG got;
	CK_RV rv, rv2;

	*count = 0;
	if ((rv = helper_p11->C_FindObjectsInit(h, tmpl, ntmpl)) != CKR_OK)
		return rv;
	while (*count < max) {
		got = 0;
		rv = helper_p11->C_FindObjects(h, objs + *count,
		    max - *count, &got);
		if (rv != CKR_OK || got == 0)
			break;
		if (got > max - *count) {
			rv = CKR_GENERAL_ERROR;
			break;
		}
		*count += got;
	}
	rv2 = helper_p11->C_FindObjectsFinal(h);
	return rv != CKR_OK ? rv : rv2;
}

/*
 * One attribute value, at most max bytes, in *valp (malloc'ed, freed by the
 * caller). An attribute the object does not have, or will not reveal, is
 * CKR_OK with *valp = NULL. Over max: CKR_ATTRIBUTE_VALUE_INVALID.
 */
static CK_RV
get_attr(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type,
    size_t max, uint8_t **valp, size_t *lenp)
{
	CK_ATTRIBUTE a = { type, NULL, 0 };
	CK_ULONG len;
	uint8_t *v;
	CK_RV rv;

	*valp = NULL;
	*lenp = 0;
	rv = helper_p11->C_GetAttributeValue(h, o, &a, 1);
	if (rv == CKR_ATTRIBUTE_TYPE_INVALID || rv == CKR_ATTRIBUTE_SENSITIVE)
		return CKR_OK;
	if (rv != CKR_OK)
		return rv;
	if (a.ulValueLen == CK_UNAVAILABLE_INFORMATION)
		return CKR_OK;
	if (a.ulValueLen > max)
		return CKR_ATTRIBUTE_VALUE_INVALID;
	len = a.ulValueLen;
	if ((v = malloc(len + 1)) == NULL)
		return CKR_HOST_MEMORY;
	a.pValue = v;
	rv = helper_p11->C_GetAttributeValue(h, o, &a, 1);
	if (rv == CKR_OK && a.ulValueLen > len)
		rv = CKR_GENERAL_ERROR;
	if (rv != CKR_OK) {
		free(v);
		return rv;
	}
	*valp = v;
	*lenp = a.ulValueLen;
	return CKR_OK;
}

static bool
get_bool(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE type)
{
	CK_BBOOL b = CK_FALSE;
	CK_ATTRIBUTE a = { type, &b, sizeof(b) };

	if (helper_p11->C_GetAttributeValue(h, o, &a, 1) != CKR_OK ||
	    a.ulValueLen != sizeof(b))
		return false;
	return b == CK_TRUE;
}

/* The first key of this class with this CKA_ID, if any. */
static CK_RV
find_key(CK_SESSION_HANDLE h, CK_OBJECT_CLASS cls, const uint8_t *id,
    size_t idlen, CK_OBJECT_HANDLE *key, bool *found)
{
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_ID, (void *)id, idlen },
	};
	CK_ULONG n = 0;
	CK_RV rv;

	*found = false;
	rv = find_objects(h, tmpl, 2, key, 1, &n);
	*found = rv == CKR_OK && n == 1;
	return rv;
}

static CK_RV
op_list_tokens(struct buf *out)
{
	CK_SLOT_ID *slots = NULL;
	CK_SESSION_HANDLE h;
	CK_TOKEN_INFO ti;
	CK_ULONG i, n;
	struct buf list;
	uint32_t count = 0;
	size_t sl;
	bool in;
	CK_RV rv;

	buf_init(&list, out->max);
	if ((rv = token_slot_list(&slots, &n)) != CKR_OK)
		goto out;
	for (i = 0; i < n && count < P11W_MAX_TOKENS; i++) {
		/* Pulled out since the slot list was read: not listed. */
		if (helper_p11->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		sl = token_trim(ti.serialNumber, sizeof(ti.serialNumber));
		in = sched_token_session((const char *)ti.serialNumber, sl,
		    &h) && token_logged_in(h, slots[i], true);
		buf_put_str(&list, ti.serialNumber, sl);
		buf_put_str(&list, ti.label,
		    token_trim(ti.label, sizeof(ti.label)));
		buf_put_str(&list, ti.manufacturerID,
		    token_trim(ti.manufacturerID, sizeof(ti.manufacturerID)));
		buf_put_str(&list, ti.model,
		    token_trim(ti.model, sizeof(ti.model)));
		buf_put_u64(&list, ti.flags);
		buf_put_u8(&list, in ? 1 : 0);
		buf_put_u64(&list, slots[i]);
		count++;
	}
	buf_put_u32(out, count);
	buf_put(out, list.data, list.len);
out:
	free(slots);
	buf_free(&list);
	return rv;
}

/* Append one certificate to objs, unless it has no CKA_ID or no value or
 * does not fit (*full). Only a stale-session rv aborts the listing. */
static CK_RV
list_one_cert(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE cert, struct buf *objs,
    bool *added, bool *full)
{
	uint8_t *id = NULL, *der = NULL, *label = NULL;
	size_t idlen, derlen, labellen, need;
	CK_OBJECT_HANDLE key;
	bool found, always = false;
	uint8_t kind = 0;
	CK_RV rv;

	*added = *full = false;
	if ((rv = get_attr(h, cert, CKA_ID, P11W_MAX_FIELD, &id,
	    &idlen)) != CKR_OK || idlen == 0)
		goto out;
	if ((rv = get_attr(h, cert, CKA_VALUE, P11W_MAX_FIELD, &der,
	    &derlen)) != CKR_OK || derlen == 0) {
		if (rv == CKR_ATTRIBUTE_VALUE_INVALID)
			helper_log("certificate over %u bytes not listed",
			    P11W_MAX_FIELD);
		goto out;
	}
	/* A label we cannot read is no reason to hide the certificate. */
	if ((rv = get_attr(h, cert, CKA_LABEL, P11W_MAX_FIELD, &label,
	    &labellen)) != CKR_OK && token_stale(rv))
		goto out;
	rv = find_key(h, CKO_PRIVATE_KEY, id, idlen, &key, &found);
	if (token_stale(rv))
		goto out;
	if (found) {
		kind = 2;
		always = get_bool(h, key, CKA_ALWAYS_AUTHENTICATE);
	} else {
		rv = find_key(h, CKO_PUBLIC_KEY, id, idlen, &key, &found);
		if (token_stale(rv))
			goto out;
		kind = found ? 1 : 0;
	}
	rv = CKR_OK;
	need = 4 + idlen + 4 + labellen + 4 + derlen + 1 + 1;
	if (need > objs->max - objs->len) {
		*full = true;
		goto out;
	}
	buf_put_str(objs, id, idlen);
	buf_put_str(objs, label, labellen);
	buf_put_str(objs, der, derlen);
	buf_put_u8(objs, kind);
	buf_put_u8(objs, always ? 1 : 0);
	*added = true;
out:
	free(id);
	free(der);
	free(label);
	return rv;
}

static CK_RV
op_list_certs(struct token *t, struct buf *out)
{
	CK_OBJECT_CLASS cls = CKO_CERTIFICATE;
	CK_CERTIFICATE_TYPE ctype = CKC_X_509;
	CK_ATTRIBUTE tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_CERTIFICATE_TYPE, &ctype, sizeof(ctype) },
	};
	CK_OBJECT_HANDLE *certs = NULL;
	CK_SESSION_HANDLE h;
	CK_ULONG i, n = 0;
	struct buf objs;
	uint32_t count = 0;
	bool added, full = false;
	CK_RV rv;

	/* The count goes first, so objects are gathered aside. */
	buf_init(&objs, out->max - 4);
	if ((rv = token_session(t, &h)) != CKR_OK)
		goto out;
	if ((certs = calloc(P11W_MAX_OBJECTS, sizeof(*certs))) == NULL) {
		rv = CKR_HOST_MEMORY;
		goto out;
	}
	/* All handles first: one find operation per session at a time. */
	if ((rv = find_objects(h, tmpl, 2, certs, P11W_MAX_OBJECTS,
	    &n)) != CKR_OK)
		goto out;
	for (i = 0; i < n && !full; i++) {
		rv = list_one_cert(h, certs[i], &objs, &added, &full);
		if (token_stale(rv))
			goto out;
		if (added)
			count++;
	}
	rv = CKR_OK;
	if (full || n == P11W_MAX_OBJECTS)
		helper_log("token %s: certificate list cut at %u", t->serial,
		    count);
	buf_put_u32(out, count);
	buf_put(out, objs.data, objs.len);
out:
	free(certs);
	buf_free(&objs);
	return rv;
}

static void
put_flags(struct token *t, struct buf *out)
{
	CK_TOKEN_INFO ti;

	if (t != NULL && token_info(t, &ti) == CKR_OK)
		buf_put_u64(out, ti.flags);
	else
		buf_put_u64(out, 0);
}

static CK_RV
op_login(struct token *t, const struct job *job, struct buf *out)
{
	CK_SESSION_HANDLE h;
	CK_SESSION_INFO si;
	CK_RV rv;

	/* What a session sees changes with its login state (some modules
	 * even list their objects afresh): no cached key handle survives a
	 * LOGIN, whatever its outcome. */
	token_keys_clear(t);
	/* The PIN goes to the token once: a dead session is found and
	 * replaced before the attempt, never by retrying it. */
	if ((rv = token_session(t, &h)) == CKR_OK &&
	    token_stale(helper_p11->C_GetSessionInfo(h, &si))) {
		token_forget(t);
		rv = token_session(t, &h);
	}
	if (rv == CKR_OK) {
		rv = helper_p11->C_Login(h, CKU_USER,
		    job->has_pin ? job->pin : NULL,
		    job->has_pin ? job->pin_len : 0);
		if (rv == CKR_USER_ALREADY_LOGGED_IN)
			rv = CKR_OK;
		if (token_stale(rv))
			token_forget(t);
	}
	/* Always: the agent shows COUNT_LOW / FINAL_TRY / LOCKED. */
	put_flags(t, out);
	return rv;
}

static CK_RV
op_logout(struct token *t)
{
	CK_SESSION_HANDLE h;
	CK_RV rv;

	/* Private keys are out of sight after it (see op_login). */
	token_keys_clear(t);
	if ((rv = token_session(t, &h)) != CKR_OK)
		return rv;
	rv = helper_p11->C_Logout(h);
	return rv == CKR_USER_NOT_LOGGED_IN ? CKR_OK : rv;
}

/* The private key with the job's CKA_ID, seen through session h. */
static CK_RV
sign_key(struct token *t, CK_SESSION_HANDLE h, const struct job *job,
    CK_OBJECT_HANDLE *key)
{
	CK_TOKEN_INFO ti;
	bool found;
	CK_RV rv;

	if ((rv = find_key(h, CKO_PRIVATE_KEY, job->key_id, job->key_id_len,
	    key, &found)) != CKR_OK)
		return rv;
	if (!found) {
		/* Private keys are usually invisible until login. */
		if (!token_logged_in(h, 0, false) &&
		    token_info(t, &ti) == CKR_OK &&
		    (ti.flags & CKF_LOGIN_REQUIRED) != 0)
			return CKR_USER_NOT_LOGGED_IN;
		return CKR_KEY_HANDLE_INVALID;
	}
	return CKR_OK;
}

/*
 * Is the cached handle key still a private key with the job's CKA_ID, seen
 * through h? CKR_OK when it is; a stale-session rv as it came; anything
 * else (an object handle the module no longer knows, another object under
 * that number) CKR_KEY_HANDLE_INVALID. One C_GetAttributeValue: cheap next
 * to a search, and what makes a cached handle mean exactly what a search
 * would find, even on a module that numbers objects anew.
 */
static CK_RV
key_still_valid(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key,
    const struct job *job)
{
	CK_OBJECT_CLASS cls = (CK_OBJECT_CLASS)-1;
	uint8_t id[HELPER_KEY_ID_MAX];
	CK_ATTRIBUTE a[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_ID, id, sizeof(id) },
	};
	CK_RV rv;

	rv = helper_p11->C_GetAttributeValue(h, key, a, 2);
	if (token_stale(rv))
		return rv;
	if (rv != CKR_OK || a[0].ulValueLen != sizeof(cls) ||
	    cls != CKO_PRIVATE_KEY || a[1].ulValueLen != job->key_id_len ||
	    (job->key_id_len > 0 &&
	    memcmp(id, job->key_id, job->key_id_len) != 0))
		return CKR_KEY_HANDLE_INVALID;
	return CKR_OK;
}

/*
 * C_SignInit on h with the job's key and mechanism. The key's handle comes
 * from the token's cache when it holds one for this CKA_ID, else from a
 * search, and is cached once C_SignInit took it. A cached handle that is
 * no longer the key, or that C_SignInit refuses for any reason but a stale
 * session, is dropped and the key searched for again, once: the answer is
 * then the one the search gives (a key gone: CKR_KEY_HANDLE_INVALID or
 * CKR_USER_NOT_LOGGED_IN, as without a cache). No PIN is involved yet, so
 * SIGN_AUTH may take the second try as well.
 */
static CK_RV
sign_init(struct token *t, CK_SESSION_HANDLE h, const struct job *job)
{
	CK_MECHANISM mech = { job->mech, NULL, 0 };
	CK_OBJECT_HANDLE key;
	CK_RV rv;

	if (token_key_get(t, job->key_id, job->key_id_len, &key)) {
		if ((rv = key_still_valid(h, key, job)) == CKR_OK)
			rv = helper_p11->C_SignInit(h, &mech, key);
		if (rv == CKR_OK || token_stale(rv))
			return rv;
		token_key_drop(t, job->key_id, job->key_id_len);
	}
	if ((rv = sign_key(t, h, job, &key)) != CKR_OK)
		return rv;
	if ((rv = helper_p11->C_SignInit(h, &mech, key)) != CKR_OK)
		return rv;
	token_key_put(t, job->key_id, job->key_id_len, key);
	return CKR_OK;
}

/* C_Sign of the job's data on the operation active in h: the signature
 * into out as a str. */
static CK_RV
sign_finish(struct token *t, CK_SESSION_HANDLE h, const struct job *job,
    struct buf *out)
{
	CK_ULONG siglen = 0, cap;
	uint8_t *sig = NULL;
	CK_RV rv;

	/* Ask for the size first. After a successful size query the
	 * operation stays active, and only C_Sign with room ends it. Some
	 * modules answer 0 when they cannot tell: offer the cap then. */
	rv = helper_p11->C_Sign(h, job->data, job->data_len, NULL, &siglen);
	if (rv != CKR_OK)
		return rv;
	if (siglen > HELPER_MAX_SIG)
		goto abandon;
	cap = siglen == 0 ? HELPER_MAX_SIG : siglen;
	if ((sig = malloc(cap)) == NULL)
		goto abandon;
	siglen = cap;
	rv = helper_p11->C_Sign(h, job->data, job->data_len, sig, &siglen);
	if (rv == CKR_BUFFER_TOO_SMALL)
		goto abandon; /* it understated the size: still active */
	if (rv == CKR_OK && siglen > cap)
		rv = CKR_GENERAL_ERROR;
	if (rv == CKR_OK)
		buf_put_str(out, sig, siglen);
	free(sig);
	return rv;
abandon:
	/* An active operation whose output we will not take ends only with
	 * its session. */
	helper_log("token %s: signature of %lu bytes refused", t->serial,
	    (unsigned long)siglen);
	free(sig);
	token_renew_session(t);
	return CKR_FUNCTION_FAILED;
}

static CK_RV
op_sign(struct token *t, const struct job *job, struct buf *out)
{
	CK_SESSION_HANDLE h;
	CK_RV rv;

	if ((rv = token_session(t, &h)) != CKR_OK)
		return rv;
	if ((rv = sign_init(t, h, job)) != CKR_OK)
		return rv;
	return sign_finish(t, h, job, out);
}

/*
 * SIGN_AUTH: C_SignInit, C_Login(CKU_CONTEXT_SPECIFIC), C_Sign. The PIN
 * reaches the token at most once (ops_run never retries this type), so a
 * dead session is found and replaced before the attempt, as for LOGIN.
 * The flags go out first, the signature after them.
 */
static CK_RV
op_sign_auth(struct token *t, const struct job *job, struct buf *out)
{
	CK_SESSION_HANDLE h;
	CK_SESSION_INFO si;
	struct buf sig;
	CK_RV rv;

	buf_init(&sig, out->max);
	if ((rv = token_session(t, &h)) == CKR_OK &&
	    token_stale(helper_p11->C_GetSessionInfo(h, &si))) {
		token_forget(t);
		rv = token_session(t, &h);
	}
	if (rv != CKR_OK || (rv = sign_init(t, h, job)) != CKR_OK)
		goto out;
	rv = helper_p11->C_Login(h, CKU_CONTEXT_SPECIFIC, job->pin,
	    job->pin_len);
	if (rv != CKR_OK) {
		/* The signing operation may still be active; only a new
		 * session surely ends it (the user's login stays). */
		if (token_stale(rv))
			token_forget(t);
		else
			token_renew_session(t);
		goto out;
	}
	rv = sign_finish(t, h, job, &sig);
out:
	if (token_stale(rv))
		token_forget(t);
	/* Always: the agent shows COUNT_LOW / FINAL_TRY / LOCKED. */
	put_flags(t, out);
	if (rv == CKR_OK)
		buf_put(out, sig.data, sig.len);
	buf_free(&sig);
	return rv;
}

static CK_RV
op_mechanisms(struct token *t, struct buf *out)
{
	CK_MECHANISM_TYPE *mechs = NULL;
	CK_ULONG i, n = 0, want = 0;
	CK_RV rv = CKR_OK;
	int tries;

	for (tries = 0; tries < 2; tries++) {
		if (!t->have_slot && (rv = token_resolve(t)) != CKR_OK)
			goto out;
		if ((rv = helper_p11->C_GetMechanismList(t->slot, NULL,
		    &want)) != CKR_OK)
			goto out;
		if (want > HELPER_MAX_MECHS) {
			rv = CKR_GENERAL_ERROR;
			goto out;
		}
		free(mechs);
		if ((mechs = calloc(want + 1, sizeof(*mechs))) == NULL) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		n = want;
		rv = helper_p11->C_GetMechanismList(t->slot, mechs, &n);
		if (rv != CKR_BUFFER_TOO_SMALL)
			break;
	}
	if (rv == CKR_OK && n > want)
		rv = CKR_GENERAL_ERROR;
	if (rv != CKR_OK)
		goto out;
	buf_put_u32(out, (uint32_t)n);
	for (i = 0; i < n; i++)
		buf_put_u64(out, mechs[i]);
out:
	free(mechs);
	return rv;
}

static CK_RV
ops_dispatch(struct token *t, const struct job *job, struct buf *out)
{
	if (job->early) {
		if (job->type == P11W_LOGIN || job->type == P11W_SIGN_AUTH)
			put_flags(t, out);
		return job->early_rv;
	}
	if (job->type == P11W_LIST_TOKENS)
		return op_list_tokens(out);
	if (t == NULL) /* a token request that did not reach its worker */
		return CKR_GENERAL_ERROR;
	switch (job->type) {
	case P11W_LIST_CERTS:
		return op_list_certs(t, out);
	case P11W_LOGIN:
		return op_login(t, job, out);
	case P11W_LOGOUT:
		return op_logout(t);
	case P11W_SIGN:
		return op_sign(t, job, out);
	case P11W_SIGN_AUTH:
		return op_sign_auth(t, job, out);
	case P11W_MECHANISMS:
		return op_mechanisms(t, out);
	}
	return CKR_FUNCTION_NOT_SUPPORTED;
}

static void
ops_header(struct buf *resp, const struct job *job, CK_RV rv)
{
	buf_reset(resp);
	buf_put_u32(resp, 0); /* frame length, filled in by serve_send */
	buf_put_u32(resp, job->id);
	buf_put_u8(resp, job->type);
	buf_put_u64(resp, rv);
}

void
ops_run(struct token *t, const struct job *job, struct buf *resp)
{
	struct buf out;
	CK_RV rv = CKR_OK;
	/* Types that try a PIN: never retried, flags always answered. */
	bool pin = job->type == P11W_LOGIN || job->type == P11W_SIGN_AUTH;
	int tries;

	buf_init(&out, P11W_MAX_MSG - OPS_HDR);
	for (tries = 0; tries < 2; tries++) {
		buf_reset(&out);
		rv = ops_dispatch(t, job, &out);
		/* A stale slot or session: resolve the serial again and
		 * retry once. Never a PIN: a PIN is never sent twice. */
		if (t == NULL || job->early || pin || !token_stale(rv))
			break;
		token_forget(t);
	}
	/* A LOGIN that worked stands even if its answer is short; a
	 * signature that did not fit is lost. */
	if (out.failed && rv == CKR_OK && job->type != P11W_LOGIN)
		rv = CKR_HOST_MEMORY;
	ops_header(resp, job, rv);
	if (out.failed && pin)
		buf_put_u64(resp, 0);
	else if (!out.failed && (rv == CKR_OK || pin))
		buf_put(resp, out.data, out.len);
	if (resp->failed) {
		/* Out of memory: the answer still goes out, short. */
		ops_header(resp, job, CKR_HOST_MEMORY);
		if (pin)
			buf_put_u64(resp, 0);
	}
	buf_free(&out);
}
