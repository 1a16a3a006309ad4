/*
 * A PKCS#11 module that passes every call through to a real one (SoftHSM2
 * in the tests) and records each C_Login, so a test can count how often a
 * PIN reached the token. Used by tests/p11helper_test.c to show that
 * signet-pkcs11-helper sends a PIN at most once per request (LOGIN,
 * SIGN_AUTH), also when the module answers with an rv after which other
 * requests are retried. Never used by the agent.
 *
 * Environment:
 *   P11COUNT_MODULE  the real module (required)
 *   P11COUNT_LOG     file each C_Login appends "login USERTYPE RV" to
 *                    (the PIN is never written)
 *   P11COUNT_CTL     file read on each context-specific C_Login: when it
 *                    holds "stale", that login goes to the real module
 *                    and then answers CKR_SESSION_HANDLE_INVALID (an rv
 *                    after which the helper forgets its session)
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <p11-kit/pkcs11.h>

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR list);

static CK_FUNCTION_LIST *real;
static CK_FUNCTION_LIST wrapped;

static void
count_log(CK_USER_TYPE type, CK_RV rv)
{
	const char *path = getenv("P11COUNT_LOG");
	FILE *f;

	if (path == NULL || (f = fopen(path, "a")) == NULL)
		return;
	fprintf(f, "login %lu 0x%lx\n", (unsigned long)type, (unsigned long)rv);
	fclose(f);
}

static int
count_stale(void)
{
	const char *path = getenv("P11COUNT_CTL");
	char line[32] = "";
	FILE *f;

	if (path == NULL || (f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	return strncmp(line, "stale", 5) == 0;
}

static CK_RV
count_login(CK_SESSION_HANDLE h, CK_USER_TYPE type, CK_UTF8CHAR_PTR pin,
    CK_ULONG len)
{
	CK_RV rv = real->C_Login(h, type, pin, len);

	if (type == CKU_CONTEXT_SPECIFIC && count_stale())
		rv = CKR_SESSION_HANDLE_INVALID;
	count_log(type, rv);
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
	}
	*list = &wrapped;
	return CKR_OK;
}
