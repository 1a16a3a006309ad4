/*
 * A PKCS#11 module that passes every call through to a real one (SoftHSM2
 * in the tests) and records each C_Login, so a test can count how often a
 * PIN reached the token. Used by tests/p11helper_test.c to show that
 * signet-pkcs11-helper sends a PIN at most once per request (LOGIN,
 * SIGN_AUTH), also when the module answers with an rv after which other
 * requests are retried, and that it searches for a signing key once per
 * session (its key handle cache). Never used by the agent.
 *
 * Environment:
 *   P11COUNT_MODULE  the real module (required)
 *   P11COUNT_LOG     file each call of interest appends a line to (the
 *                    PIN is never written):
 *                      "login USERTYPE RV"   C_Login
 *                      "find CLASS"          C_FindObjectsInit (CLASS of
 *                                            the template, or "any")
 *                      "signinit RV"         C_SignInit
 *                      "open RV"             C_OpenSession
 *   P11COUNT_CTL     file read on each context-specific C_Login, each
 *                    C_SignInit and each C_Sign, line by line:
 *                      "stale"          a context-specific login goes to
 *                                       the real module and then answers
 *                                       CKR_SESSION_HANDLE_INVALID (an rv
 *                                       after which the helper forgets its
 *                                       session)
 *                      "keyinvalid K"   for each new K, the next
 *                                       C_SignInit answers
 *                                       CKR_KEY_HANDLE_INVALID without
 *                                       calling the module
 *                      "objinvalid K"   the same with
 *                                       CKR_OBJECT_HANDLE_INVALID
 *                      "bigsig K"       for each new K, the next C_Sign
 *                                       size query goes to the module and
 *                                       then claims a 1 MiB signature (the
 *                                       helper then abandons the operation
 *                                       with its session)
 */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list);

static CK_FUNCTION_LIST *real;
static CK_FUNCTION_LIST wrapped;

static void __attribute__((format(printf, 1, 2)))
count_log(const char *fmt, ...)
{
	const char *path = getenv("P11COUNT_LOG");
	va_list ap;
	FILE *f;

	if (path == NULL || (f = fopen(path, "a")) == NULL)
		return;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fclose(f);
}

/* What P11COUNT_CTL asks for now. The one-shot directives fire once per
 * new K: *seen holds the last K acted on. */
struct count_ctl {
	int stale;
	long keyinvalid, objinvalid, bigsig;
};

static long seen_keyinvalid, seen_objinvalid, seen_bigsig;

static void
count_ctl(struct count_ctl *c)
{
	const char *path = getenv("P11COUNT_CTL");
	char line[64];
	FILE *f;

	memset(c, 0, sizeof(*c));
	if (path == NULL || (f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "stale", 5) == 0)
			c->stale = 1;
		if (sscanf(line, "keyinvalid %ld", &c->keyinvalid) == 1 ||
		    sscanf(line, "objinvalid %ld", &c->objinvalid) == 1)
			continue;
		if (sscanf(line, "bigsig %ld", &c->bigsig) == 1)
			continue;
	}
	fclose(f);
}

/* A one-shot directive whose K is new: act on it now. */
static int
fire(long k, long *seen)
{
	if (k == 0 || k == *seen)
		return 0;
	*seen = k;
	return 1;
}

static CK_RV
count_login(CK_SESSION_HANDLE h, CK_USER_TYPE type, CK_UTF8CHAR_PTR pin,
    CK_ULONG len)
{
	CK_RV rv = real->C_Login(h, type, pin, len);
	struct count_ctl c;

	if (type == CKU_CONTEXT_SPECIFIC) {
		count_ctl(&c);
		if (c.stale)
			rv = CKR_SESSION_HANDLE_INVALID;
	}
	count_log("login %lu 0x%lx", (unsigned long)type, (unsigned long)rv);
	return rv;
}

static CK_RV
count_find_init(CK_SESSION_HANDLE h, CK_ATTRIBUTE_PTR tmpl, CK_ULONG n)
{
	CK_OBJECT_CLASS cls;
	CK_ULONG i;

	for (i = 0; i < n; i++)
		if (tmpl[i].type == CKA_CLASS &&
		    tmpl[i].ulValueLen == sizeof(cls)) {
			memcpy(&cls, tmpl[i].pValue, sizeof(cls));
			break;
		}
	if (i < n)
		count_log("find %lu", (unsigned long)cls);
	else
		count_log("find any");
	return real->C_FindObjectsInit(h, tmpl, n);
}

static CK_RV
count_sign_init(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key)
{
	struct count_ctl c;
	CK_RV rv;

	count_ctl(&c);
	if (fire(c.keyinvalid, &seen_keyinvalid))
		rv = CKR_KEY_HANDLE_INVALID;
	else if (fire(c.objinvalid, &seen_objinvalid))
		rv = CKR_OBJECT_HANDLE_INVALID;
	else
		rv = real->C_SignInit(h, m, key);
	count_log("signinit 0x%lx", (unsigned long)rv);
	return rv;
}

static CK_RV
count_sign(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG len,
    CK_BYTE_PTR sig, CK_ULONG_PTR siglen)
{
	struct count_ctl c;
	CK_RV rv = real->C_Sign(h, data, len, sig, siglen);

	count_ctl(&c);
	if (rv == CKR_OK && sig == NULL && fire(c.bigsig, &seen_bigsig))
		*siglen = 1024 * 1024;
	return rv;
}

static CK_RV
count_open(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app, CK_NOTIFY notify,
    CK_SESSION_HANDLE_PTR h)
{
	CK_RV rv = real->C_OpenSession(slot, flags, app, notify, h);

	count_log("open 0x%lx", (unsigned long)rv);
	return rv;
}

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list)
{
	CK_C_GetFunctionList getlist;
	const char *path = getenv("P11COUNT_MODULE");
	void *dl;
	CK_RV rv;

	if (real == NULL) {
		if (path == NULL || (dl = dlopen(path, RTLD_NOW)) == NULL)
			return CKR_GENERAL_ERROR;
		*(void **)&getlist = dlsym(dl, "C_GetFunctionList");
		if (getlist == NULL)
			return CKR_GENERAL_ERROR;
		if ((rv = getlist(&real)) != CKR_OK)
			return rv;
		wrapped = *real;
		wrapped.C_GetFunctionList = C_GetFunctionList;
		wrapped.C_Login = count_login;
		wrapped.C_FindObjectsInit = count_find_init;
		wrapped.C_SignInit = count_sign_init;
		wrapped.C_Sign = count_sign;
		wrapped.C_OpenSession = count_open;
	}
	*list = &wrapped;
	return CKR_OK;
}
