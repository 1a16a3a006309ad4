/*
 * A tiny PKCS#11 module for testing signet-pkcs11-helper only where SoftHSM2
 * cannot show the behaviour: a token whose C_Sign is slow, tokens that are
 * pulled out and put back under new slot ids, a login failing with
 * CKR_DEVICE_REMOVED, and a module that refuses CKF_OS_LOCKING_OK. Never
 * used by the agent (DESIGN.md, principle 1).
 *
 * Environment:
 *   P11MOCK_TOKENS     comma list of serials, e.g. "SLOW,FAST"; a serial
 *                      starting with SLOW signs in P11MOCK_SLOW_MS
 *   P11MOCK_SLOW_MS    default 800
 *   P11MOCK_CANT_LOCK  set: C_Initialize with CKF_OS_LOCKING_OK fails with
 *                      CKR_CANT_LOCK, and overlapping calls are recorded
 *   P11MOCK_CTL        file read on every call: "gen N" (a new N = every
 *                      token removed and reinserted under new slot ids),
 *                      "fail_login K" (a new K = the next C_Login fails
 *                      with CKR_DEVICE_REMOVED without checking the PIN),
 *                      "layout L" (objects as below; takes effect at once,
 *                      as if another application had replaced them)
 *   P11MOCK_LOG        file the module appends events to: "login SERIAL",
 *                      "logout SERIAL", "finalize", "overlap",
 *                      "findkey SERIAL" (a C_FindObjectsInit for private
 *                      keys)
 *
 * User PIN: "1111". Objects per token, by handle: certificate (3), public
 * key (2), private keys (visible after login). With an even layout (the
 * default) the private key is 1, and everything has CKA_ID 01. With an odd
 * layout the numbers are dealt again: handle 1 is another private key,
 * CKA_ID 02, and the CKA_ID 01 key is handle 4; a module that hands out an
 * old number for another object, which is what a cached handle must
 * survive. The signature by the CKA_ID 01 key is the token's serial, blank
 * padded to 16 bytes; by the CKA_ID 02 key "K2:" and the serial.
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#define MOCK_MAX_TOKENS 4
#define MOCK_MAX_SESSIONS 64
#define MOCK_PIN "1111"
#define MOCK_CERT "MOCK CERTIFICATE DER"

struct mtok {
	char serial[17];
	bool slow;
	bool logged_in;
};

struct msess {
	bool used;
	int tok;
	unsigned gen;
	CK_OBJECT_CLASS find_class;
	int find_id;            /* CKA_ID searched for: 1, 2, 0 (other), -1 any */
	bool finding, find_done, signing;
	CK_BYTE sign_id;        /* CKA_ID of the key signing */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct mtok toks[MOCK_MAX_TOKENS];
static int ntoks;
static struct msess sess[MOCK_MAX_SESSIONS];
static unsigned gen;
static unsigned layout;
static long fail_login_seen = -1;
static bool fail_login_now;
static bool initialized, cant_lock;
static int slow_ms = 800;
static atomic_int inside;

/* Exported for dlsym; declared here because -Wmissing-prototypes. */
CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list);

static void
mock_log(const char *what, const char *serial)
{
	const char *path = getenv("P11MOCK_LOG");
	FILE *f;

	if (path == NULL || (f = fopen(path, "a")) == NULL)
		return;
	fprintf(f, "%s%s%s\n", what, serial ? " " : "", serial ? serial : "");
	fclose(f);
}

/* Overlapping calls are a bug when the module was initialized without
 * locking. */
static void
enter(void)
{
	if (atomic_fetch_add(&inside, 1) > 0 && cant_lock)
		mock_log("overlap", NULL);
}

static CK_RV
leave(CK_RV rv)
{
	atomic_fetch_sub(&inside, 1);
	return rv;
}

/* Read P11MOCK_CTL; with mu held. */
static void
refresh(void)
{
	const char *path = getenv("P11MOCK_CTL");
	char line[128];
	unsigned g = gen, l;
	long k;
	FILE *f;
	int i;

	if (path == NULL || (f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "gen %u", &g) == 1)
			continue;
		if (sscanf(line, "layout %u", &l) == 1) {
			layout = l;
			continue;
		}
		if (sscanf(line, "fail_login %ld", &k) == 1 &&
		    k != fail_login_seen) {
			fail_login_seen = k;
			fail_login_now = true;
		}
	}
	fclose(f);
	if (g != gen) {
		gen = g;
		for (i = 0; i < ntoks; i++)
			toks[i].logged_in = false;
		/* old sessions stay allocated but are invalid now */
	}
}

static CK_SLOT_ID
slot_of(int i)
{
	return 100 * (CK_SLOT_ID)(gen + 1) + (CK_SLOT_ID)i;
}

static int
tok_of_slot(CK_SLOT_ID slot)
{
	int i;

	for (i = 0; i < ntoks; i++)
		if (slot_of(i) == slot)
			return i;
	return -1;
}

static struct msess *
sess_of(CK_SESSION_HANDLE h)
{
	if (h == 0 || h > MOCK_MAX_SESSIONS || !sess[h - 1].used ||
	    sess[h - 1].gen != gen)
		return NULL;
	return &sess[h - 1];
}

/* The private key handle with CKA_ID id (1 or 2) in the layout; 0: none. */
static CK_OBJECT_HANDLE
key_handle(int id)
{
	if (layout % 2 == 0)
		return id == 1 ? 1 : 0;
	return id == 1 ? 4 : id == 2 ? 1 : 0;
}

/* Class and CKA_ID of object o as token tok's session sees it; false
 * when there is no such object (or it is private and nobody logged in). */
static bool
object(int tok, CK_OBJECT_HANDLE o, CK_OBJECT_CLASS *cls, CK_BYTE *id)
{
	*id = 1;
	switch (o) {
	case 2:
		*cls = CKO_PUBLIC_KEY;
		return true;
	case 3:
		*cls = CKO_CERTIFICATE;
		return true;
	case 1:
	case 4:
		if (!toks[tok].logged_in || (o == 4 && layout % 2 == 0))
			return false;
		*cls = CKO_PRIVATE_KEY;
		if (o == 1 && layout % 2 == 1)
			*id = 2;
		return true;
	}
	return false;
}

static void
pad(CK_UTF8CHAR *dst, size_t n, const char *s)
{
	size_t l = strlen(s);

	memset(dst, ' ', n);
	memcpy(dst, s, l < n ? l : n);
}

static CK_RV
m_Initialize(CK_VOID_PTR args)
{
	CK_C_INITIALIZE_ARGS *a = args;
	char *list, *tok, *save = NULL;
	const char *env;

	if (initialized)
		return CKR_CRYPTOKI_ALREADY_INITIALIZED;
	if (getenv("P11MOCK_CANT_LOCK") != NULL) {
		if (a != NULL && (a->flags & CKF_OS_LOCKING_OK))
			return CKR_CANT_LOCK;
		cant_lock = true;
	}
	if ((env = getenv("P11MOCK_SLOW_MS")) != NULL)
		slow_ms = atoi(env);
	env = getenv("P11MOCK_TOKENS");
	list = strdup(env ? env : "FAST");
	for (tok = strtok_r(list, ",", &save); tok && ntoks < MOCK_MAX_TOKENS;
	    tok = strtok_r(NULL, ",", &save)) {
		snprintf(toks[ntoks].serial, sizeof(toks[ntoks].serial), "%s",
		    tok);
		toks[ntoks].slow = strncmp(tok, "SLOW", 4) == 0;
		ntoks++;
	}
	free(list);
	initialized = true;
	return CKR_OK;
}

static CK_RV
m_Finalize(CK_VOID_PTR r)
{
	(void)r;
	mock_log("finalize", NULL);
	initialized = false;
	return CKR_OK;
}

static CK_RV
m_GetSlotList(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR n)
{
	CK_RV rv = CKR_OK;
	int i;

	(void)present;
	enter();
	pthread_mutex_lock(&mu);
	refresh();
	if (list != NULL && *n < (CK_ULONG)ntoks)
		rv = CKR_BUFFER_TOO_SMALL;
	else if (list != NULL)
		for (i = 0; i < ntoks; i++)
			list[i] = slot_of(i);
	*n = (CK_ULONG)ntoks;
	pthread_mutex_unlock(&mu);
	return leave(rv);
}

static CK_RV
m_GetTokenInfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR ti)
{
	int i;

	enter();
	pthread_mutex_lock(&mu);
	refresh();
	if ((i = tok_of_slot(slot)) < 0) {
		pthread_mutex_unlock(&mu);
		return leave(CKR_SLOT_ID_INVALID);
	}
	memset(ti, 0, sizeof(*ti));
	pad(ti->label, sizeof(ti->label), toks[i].serial);
	pad(ti->manufacturerID, sizeof(ti->manufacturerID), "p11mock");
	pad(ti->model, sizeof(ti->model), "mock");
	pad(ti->serialNumber, sizeof(ti->serialNumber), toks[i].serial);
	ti->flags = CKF_TOKEN_INITIALIZED | CKF_LOGIN_REQUIRED |
	    CKF_USER_PIN_INITIALIZED;
	pthread_mutex_unlock(&mu);
	return leave(CKR_OK);
}

static CK_RV
m_GetMechanismList(CK_SLOT_ID slot, CK_MECHANISM_TYPE_PTR list, CK_ULONG_PTR n)
{
	CK_RV rv = CKR_OK;

	enter();
	pthread_mutex_lock(&mu);
	refresh();
	if (tok_of_slot(slot) < 0)
		rv = CKR_SLOT_ID_INVALID;
	else if (list != NULL && *n < 1)
		rv = CKR_BUFFER_TOO_SMALL;
	else {
		if (list != NULL)
			list[0] = CKM_ECDSA;
		*n = 1;
	}
	pthread_mutex_unlock(&mu);
	return leave(rv);
}

static CK_RV
m_OpenSession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY n,
    CK_SESSION_HANDLE_PTR h)
{
	CK_RV rv = CKR_SESSION_COUNT;
	int i, t;

	(void)flags;
	(void)app;
	(void)n;
	enter();
	pthread_mutex_lock(&mu);
	refresh();
	if ((t = tok_of_slot(slot)) < 0)
		rv = CKR_SLOT_ID_INVALID;
	else
		for (i = 0; i < MOCK_MAX_SESSIONS; i++)
			if (!sess[i].used || sess[i].gen != gen) {
				memset(&sess[i], 0, sizeof(sess[i]));
				sess[i].used = true;
				sess[i].tok = t;
				sess[i].gen = gen;
				*h = (CK_SESSION_HANDLE)i + 1;
				rv = CKR_OK;
				break;
			}
	pthread_mutex_unlock(&mu);
	return leave(rv);
}

static CK_RV
m_CloseSession(CK_SESSION_HANDLE h)
{
	struct msess *s;
	bool last = true;
	int i, t;

	enter();
	pthread_mutex_lock(&mu);
	refresh();
	if ((s = sess_of(h)) == NULL) {
		pthread_mutex_unlock(&mu);
		return leave(CKR_SESSION_HANDLE_INVALID);
	}
	t = s->tok;
	s->used = false;
	for (i = 0; i < MOCK_MAX_SESSIONS; i++)
		if (sess[i].used && sess[i].gen == gen && sess[i].tok == t)
			last = false;
	/* closing the last session logs the token out */
	if (last)
		toks[t].logged_in = false;
	pthread_mutex_unlock(&mu);
	return leave(CKR_OK);
}

static CK_RV
m_GetSessionInfo(CK_SESSION_HANDLE h, CK_SESSION_INFO_PTR si)
{
	struct msess *s;

	enter();
	pthread_mutex_lock(&mu);
	refresh();
	if ((s = sess_of(h)) == NULL) {
		pthread_mutex_unlock(&mu);
		return leave(CKR_SESSION_HANDLE_INVALID);
	}
	memset(si, 0, sizeof(*si));
	si->slotID = slot_of(s->tok);
	si->state = toks[s->tok].logged_in ? CKS_RO_USER_FUNCTIONS :
	    CKS_RO_PUBLIC_SESSION;
	si->flags = CKF_SERIAL_SESSION;
	pthread_mutex_unlock(&mu);
	return leave(CKR_OK);
}

static CK_RV
m_Login(CK_SESSION_HANDLE h, CK_USER_TYPE user, CK_UTF8CHAR_PTR pin,
    CK_ULONG len)
{
	struct msess *s;
	CK_RV rv;

	enter();
	pthread_mutex_lock(&mu);
	refresh();
	if ((s = sess_of(h)) == NULL) {
		rv = CKR_SESSION_HANDLE_INVALID;
		goto out;
	}
	mock_log("login", toks[s->tok].serial);
	if (fail_login_now) {
		fail_login_now = false;
		rv = CKR_DEVICE_REMOVED;
	} else if (user != CKU_USER)
		rv = CKR_USER_TYPE_INVALID;
	else if (toks[s->tok].logged_in)
		rv = CKR_USER_ALREADY_LOGGED_IN;
	else if (pin == NULL || len != strlen(MOCK_PIN) ||
	    memcmp(pin, MOCK_PIN, len) != 0)
		rv = CKR_PIN_INCORRECT;
	else {
		toks[s->tok].logged_in = true;
		rv = CKR_OK;
	}
out:
	pthread_mutex_unlock(&mu);
	return leave(rv);
}

static CK_RV
m_Logout(CK_SESSION_HANDLE h)
{
	struct msess *s;
	CK_RV rv = CKR_OK;

	enter();
	pthread_mutex_lock(&mu);
	refresh();
	if ((s = sess_of(h)) == NULL)
		rv = CKR_SESSION_HANDLE_INVALID;
	else if (!toks[s->tok].logged_in)
		rv = CKR_USER_NOT_LOGGED_IN;
	else {
		toks[s->tok].logged_in = false;
		mock_log("logout", toks[s->tok].serial);
	}
	pthread_mutex_unlock(&mu);
	return leave(rv);
}

static CK_RV
m_FindObjectsInit(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	struct msess *s;
	CK_ULONG i;
	CK_RV rv = CKR_OK;

	enter();
	pthread_mutex_lock(&mu);
	refresh();
	if ((s = sess_of(h)) == NULL)
		rv = CKR_SESSION_HANDLE_INVALID;
	else if (s->finding)
		rv = CKR_OPERATION_ACTIVE;
	else {
		s->finding = true;
		s->find_done = false;
		s->find_class = (CK_OBJECT_CLASS)-1;
		s->find_id = -1;
		for (i = 0; i < n; i++) {
			if (t[i].type == CKA_CLASS &&
			    t[i].ulValueLen == sizeof(CK_OBJECT_CLASS))
				memcpy(&s->find_class, t[i].pValue,
				    sizeof(CK_OBJECT_CLASS));
			if (t[i].type == CKA_ID)
				s->find_id = t[i].ulValueLen == 1 ?
				    ((CK_BYTE *)t[i].pValue)[0] : 0;
		}
		/* only private keys come with another CKA_ID than 01 */
		if (s->find_id != -1 && s->find_id != 1 &&
		    s->find_class != CKO_PRIVATE_KEY)
			s->find_done = true;
		if (s->find_class == CKO_PRIVATE_KEY)
			mock_log("findkey", toks[s->tok].serial);
	}
	pthread_mutex_unlock(&mu);
	return leave(rv);
}

static CK_RV
m_FindObjects(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE_PTR objs, CK_ULONG max,
    CK_ULONG_PTR n)
{
	struct msess *s;
	CK_RV rv = CKR_OK;

	enter();
	pthread_mutex_lock(&mu);
	refresh();
	*n = 0;
	if ((s = sess_of(h)) == NULL)
		rv = CKR_SESSION_HANDLE_INVALID;
	else if (!s->finding)
		rv = CKR_OPERATION_NOT_INITIALIZED;
	else if (!s->find_done && max > 0) {
		s->find_done = true;
		if (s->find_class == CKO_PRIVATE_KEY &&
		    toks[s->tok].logged_in) {
			if (s->find_id == -1 || s->find_id == 1)
				objs[(*n)++] = key_handle(1);
			if ((s->find_id == -1 || s->find_id == 2) &&
			    key_handle(2) != 0 && *n < max)
				objs[(*n)++] = key_handle(2);
		}
		else if (s->find_class == CKO_PUBLIC_KEY)
			objs[(*n)++] = 2;
		else if (s->find_class == CKO_CERTIFICATE)
			objs[(*n)++] = 3;
	}
	pthread_mutex_unlock(&mu);
	return leave(rv);
}

static CK_RV
m_FindObjectsFinal(CK_SESSION_HANDLE h)
{
	struct msess *s;
	CK_RV rv = CKR_OK;

	enter();
	pthread_mutex_lock(&mu);
	refresh();
	if ((s = sess_of(h)) == NULL)
		rv = CKR_SESSION_HANDLE_INVALID;
	else
		s->finding = false;
	pthread_mutex_unlock(&mu);
	return leave(rv);
}

static CK_RV
set_attr(CK_ATTRIBUTE *a, const void *v, CK_ULONG n)
{
	if (a->pValue == NULL) {
		a->ulValueLen = n;
		return CKR_OK;
	}
	if (a->ulValueLen < n) {
		a->ulValueLen = CK_UNAVAILABLE_INFORMATION;
		return CKR_BUFFER_TOO_SMALL;
	}
	memcpy(a->pValue, v, n);
	a->ulValueLen = n;
	return CKR_OK;
}

static CK_RV
m_GetAttributeValue(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_PTR t,
    CK_ULONG n)
{
	static const CK_BBOOL no = CK_FALSE;
	CK_OBJECT_CLASS cls;
	struct msess *s;
	CK_RV rv = CKR_OK, r;
	CK_BYTE id;
	CK_ULONG i;

	enter();
	pthread_mutex_lock(&mu);
	refresh();
	if ((s = sess_of(h)) == NULL) {
		pthread_mutex_unlock(&mu);
		return leave(CKR_SESSION_HANDLE_INVALID);
	}
	if (!object(s->tok, o, &cls, &id)) {
		pthread_mutex_unlock(&mu);
		return leave(CKR_OBJECT_HANDLE_INVALID);
	}
	for (i = 0; i < n; i++) {
		if (t[i].type == CKA_ID)
			r = set_attr(&t[i], &id, 1);
		else if (t[i].type == CKA_CLASS)
			r = set_attr(&t[i], &cls, sizeof(cls));
		else if (t[i].type == CKA_VALUE && o == 3)
			r = set_attr(&t[i], MOCK_CERT, strlen(MOCK_CERT));
		else if (t[i].type == CKA_LABEL)
			r = set_attr(&t[i], "mock", 4);
		else if (t[i].type == CKA_ALWAYS_AUTHENTICATE &&
		    cls == CKO_PRIVATE_KEY)
			r = set_attr(&t[i], &no, sizeof(no));
		else {
			t[i].ulValueLen = CK_UNAVAILABLE_INFORMATION;
			r = CKR_ATTRIBUTE_TYPE_INVALID;
		}
		if (r != CKR_OK)
			rv = r;
	}
	pthread_mutex_unlock(&mu);
	return leave(rv);
}

static CK_RV
m_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key)
{
	CK_OBJECT_CLASS cls;
	struct msess *s;
	CK_RV rv = CKR_OK;
	CK_BYTE id;

	enter();
	pthread_mutex_lock(&mu);
	refresh();
	if ((s = sess_of(h)) == NULL)
		rv = CKR_SESSION_HANDLE_INVALID;
	else if (!toks[s->tok].logged_in)
		rv = CKR_USER_NOT_LOGGED_IN;
	else if (!object(s->tok, key, &cls, &id) || cls != CKO_PRIVATE_KEY)
		rv = CKR_KEY_HANDLE_INVALID;
	else if (m->mechanism != CKM_ECDSA)
		rv = CKR_MECHANISM_INVALID;
	else {
		s->signing = true;
		s->sign_id = id;
	}
	pthread_mutex_unlock(&mu);
	return leave(rv);
}

static CK_RV
m_Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len, CK_BYTE_PTR sig,
    CK_ULONG_PTR siglen)
{
	struct timespec ts;
	struct msess *s;
	bool slow = false;
	char out[17 + 3];
	CK_RV rv = CKR_OK;

	(void)data;
	(void)len;
	enter();
	pthread_mutex_lock(&mu);
	refresh();
	if ((s = sess_of(h)) == NULL)
		rv = CKR_SESSION_HANDLE_INVALID;
	else if (!s->signing)
		rv = CKR_OPERATION_NOT_INITIALIZED;
	else if (sig == NULL)
		*siglen = 16;
	else if (*siglen < 16) {
		*siglen = 16;
		rv = CKR_BUFFER_TOO_SMALL;
	} else {
		if (s->sign_id == 1)
			snprintf(out, sizeof(out), "%-16s",
			    toks[s->tok].serial);
		else
			snprintf(out, sizeof(out), "K2:%-13s",
			    toks[s->tok].serial);
		memcpy(sig, out, 16);
		*siglen = 16;
		s->signing = false;
		slow = toks[s->tok].slow;
	}
	pthread_mutex_unlock(&mu);
	if (slow) {
		/* A slow card: the call takes this long, in the module. */
		ts.tv_sec = slow_ms / 1000;
		ts.tv_nsec = (long)(slow_ms % 1000) * 1000000L;
		nanosleep(&ts, NULL);
	}
	return leave(rv);
}

static CK_FUNCTION_LIST mock_list = {
	.version = { 2, 40 },
	.C_Initialize = m_Initialize,
	.C_Finalize = m_Finalize,
	.C_GetFunctionList = C_GetFunctionList,
	.C_GetSlotList = m_GetSlotList,
	.C_GetTokenInfo = m_GetTokenInfo,
	.C_GetMechanismList = m_GetMechanismList,
	.C_OpenSession = m_OpenSession,
	.C_CloseSession = m_CloseSession,
	.C_GetSessionInfo = m_GetSessionInfo,
	.C_Login = m_Login,
	.C_Logout = m_Logout,
	.C_GetAttributeValue = m_GetAttributeValue,
	.C_FindObjectsInit = m_FindObjectsInit,
	.C_FindObjects = m_FindObjects,
	.C_FindObjectsFinal = m_FindObjectsFinal,
	.C_SignInit = m_SignInit,
	.C_Sign = m_Sign,
	/* The helper calls nothing else; the rest stay NULL. */
};

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
	*list = &mock_list;
	return CKR_OK;
}
