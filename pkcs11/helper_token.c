#include <stdlib.h>
#include <string.h>

#include "pkcs11/helper.h"

/*
 * Token identity is the serial, never the slot id: slot ids change when
 * readers come and go (SoftHSM renumbers them on every init). A worker
 * caches serial -> slot and one R/O session, and drops both when the module
 * says they went stale; the next call resolves the serial again.
 *
 * It also caches the handles of private keys it found through that session
 * (helper.h, struct token_key). A handle means something only in the
 * session it was found in, and a module may hand out the same numbers
 * again in a new session, on another token behind the same slot, for
 * other objects: so every change of session goes through token_set_session,
 * which empties the cache first, and resolving the serial empties it too.
 */

void
token_keys_clear(struct token *t)
{
	explicit_bzero(t->keys, sizeof(t->keys));
	t->key_next = 0;
}

bool
token_key_get(const struct token *t, const uint8_t *id, size_t len,
    CK_OBJECT_HANDLE *h)
{
	size_t i;

	*h = CK_INVALID_HANDLE;
	if (t->session == CK_INVALID_HANDLE || len > HELPER_KEY_ID_MAX)
		return false;
	for (i = 0; i < HELPER_KEY_CACHE; i++) {
		if (t->keys[i].used && t->keys[i].id_len == len &&
		    memcmp(t->keys[i].id, id, len) == 0) {
			*h = t->keys[i].handle;
			return true;
		}
	}
	return false;
}

void
token_key_drop(struct token *t, const uint8_t *id, size_t len)
{
	size_t i;

	if (len > HELPER_KEY_ID_MAX)
		return;
	for (i = 0; i < HELPER_KEY_CACHE; i++)
		if (t->keys[i].used && t->keys[i].id_len == len &&
		    memcmp(t->keys[i].id, id, len) == 0)
			explicit_bzero(&t->keys[i], sizeof(t->keys[i]));
}

void
token_key_put(struct token *t, const uint8_t *id, size_t len,
    CK_OBJECT_HANDLE h)
{
	struct token_key *k = NULL;
	size_t i;

	if (t->session == CK_INVALID_HANDLE || len > HELPER_KEY_ID_MAX ||
	    h == CK_INVALID_HANDLE)
		return;
	token_key_drop(t, id, len);
	for (i = 0; i < HELPER_KEY_CACHE && k == NULL; i++)
		if (!t->keys[i].used)
			k = &t->keys[i];
	if (k == NULL) {
		/* Full: a token rarely has this many keys in use; replace
		 * in turn. */
		k = &t->keys[t->key_next];
		t->key_next = (t->key_next + 1) % HELPER_KEY_CACHE;
	}
	k->used = true;
	k->id_len = (uint8_t)len;
	if (len > 0)
		memcpy(k->id, id, len);
	k->handle = h;
}

/* The only way t->session changes: the handles cached for the old session
 * go with it. */
static void
token_set_session(struct token *t, CK_SESSION_HANDLE h)
{
	token_keys_clear(t);
	sched_publish_session(t, h);
}

bool
token_stale(CK_RV rv)
{
	switch (rv) {
	case CKR_SLOT_ID_INVALID:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_DEVICE_REMOVED:
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
		return true;
	}
	return false;
}

size_t
token_trim(const CK_UTF8CHAR *s, size_t n)
{
	const void *nul;

	/* Padding is blanks; some modules NUL-terminate instead. */
	if ((nul = memchr(s, '\0', n)) != NULL)
		n = (size_t)((const CK_UTF8CHAR *)nul - s);
	while (n > 0 && s[n - 1] == ' ')
		n--;
	return n;
}

CK_RV
token_slot_list(CK_SLOT_ID **slotsp, CK_ULONG *np)
{
	CK_SLOT_ID *slots = NULL;
	CK_ULONG n = 0, want = 0;
	CK_RV rv = CKR_OK;
	int tries;

	*slotsp = NULL;
	*np = 0;
	/* The count can grow between the two calls (a reader plugged in). */
	for (tries = 0; tries < 4; tries++) {
		if ((rv = helper_p11->C_GetSlotList(CK_TRUE, NULL,
		    &want)) != CKR_OK)
			goto out;
		if (want > HELPER_MAX_SLOTS) {
			helper_log("module reports %lu slots, more than %u",
			    (unsigned long)want, HELPER_MAX_SLOTS);
			rv = CKR_GENERAL_ERROR;
			goto out;
		}
		free(slots);
		/* One spare: never a zero-size allocation. */
		if ((slots = calloc(want + 1, sizeof(*slots))) == NULL) {
			rv = CKR_HOST_MEMORY;
			goto out;
		}
		n = want;
		rv = helper_p11->C_GetSlotList(CK_TRUE, slots, &n);
		if (rv != CKR_BUFFER_TOO_SMALL)
			break;
	}
	if (rv == CKR_OK && n > want)
		rv = CKR_GENERAL_ERROR; /* claims more than it could write */
out:
	if (rv != CKR_OK) {
		free(slots);
		return rv;
	}
	*slotsp = slots;
	*np = n;
	return CKR_OK;
}

CK_RV
token_resolve(struct token *t)
{
	CK_SLOT_ID *slots = NULL;
	CK_TOKEN_INFO ti;
	CK_ULONG i, n;
	size_t len = strlen(t->serial), sl;
	CK_RV rv;

	t->have_slot = false;
	token_keys_clear(t);
	if ((rv = token_slot_list(&slots, &n)) != CKR_OK)
		return rv;
	rv = CKR_TOKEN_NOT_PRESENT;
	for (i = 0; i < n; i++) {
		if (helper_p11->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
			continue;
		sl = token_trim(ti.serialNumber, sizeof(ti.serialNumber));
		if (sl == len && memcmp(ti.serialNumber, t->serial, len) == 0) {
			t->slot = slots[i];
			t->have_slot = true;
			rv = CKR_OK;
			break;
		}
	}
	free(slots);
	return rv;
}

CK_RV
token_session(struct token *t, CK_SESSION_HANDLE *h)
{
	CK_SESSION_HANDLE s = CK_INVALID_HANDLE;
	CK_RV rv = CKR_OK;
	int tries;

	if (t->session != CK_INVALID_HANDLE) {
		*h = t->session;
		return CKR_OK;
	}
	*h = CK_INVALID_HANDLE;
	/* A cached slot may be stale: resolve once more before giving up. */
	for (tries = 0; tries < 2; tries++) {
		if (!t->have_slot && (rv = token_resolve(t)) != CKR_OK)
			return rv;
		rv = helper_p11->C_OpenSession(t->slot, CKF_SERIAL_SESSION,
		    NULL, NULL, &s);
		if (rv == CKR_OK) {
			token_set_session(t, s);
			*h = s;
			return CKR_OK;
		}
		if (!token_stale(rv))
			break;
		t->have_slot = false;
	}
	return rv;
}

CK_RV
token_info(struct token *t, CK_TOKEN_INFO *ti)
{
	CK_RV rv = CKR_OK;
	int tries;

	for (tries = 0; tries < 2; tries++) {
		if (!t->have_slot && (rv = token_resolve(t)) != CKR_OK)
			return rv;
		rv = helper_p11->C_GetTokenInfo(t->slot, ti);
		if (!token_stale(rv))
			break;
		token_forget(t);
	}
	return rv;
}

bool
token_logged_in(CK_SESSION_HANDLE h, CK_SLOT_ID slot, bool check_slot)
{
	CK_SESSION_INFO si;

	if (h == CK_INVALID_HANDLE ||
	    helper_p11->C_GetSessionInfo(h, &si) != CKR_OK)
		return false;
	if (check_slot && si.slotID != slot)
		return false;
	return si.state == CKS_RO_USER_FUNCTIONS ||
	    si.state == CKS_RW_USER_FUNCTIONS;
}

void
token_forget(struct token *t)
{
	CK_SESSION_HANDLE s = t->session;

	if (s != CK_INVALID_HANDLE) {
		token_set_session(t, CK_INVALID_HANDLE);
		/* Usually already gone with the token; nothing to do if not. */
		(void)helper_p11->C_CloseSession(s);
	}
	t->have_slot = false;
	token_keys_clear(t);
}

void
token_renew_session(struct token *t)
{
	CK_SESSION_HANDLE old = t->session, s = CK_INVALID_HANDLE;

	/* The new session first: login state belongs to the token and lasts
	 * while any session of ours is open, so it survives the swap. */
	if (old == CK_INVALID_HANDLE || !t->have_slot ||
	    helper_p11->C_OpenSession(t->slot, CKF_SERIAL_SESSION, NULL, NULL,
	    &s) != CKR_OK) {
		token_forget(t);
		return;
	}
	token_set_session(t, s);
	(void)helper_p11->C_CloseSession(old);
}
