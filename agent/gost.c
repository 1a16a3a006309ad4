/*
 * Loading the gost engine (contract: agent/gost.h).
 *
 * Why the ENGINE API, deprecated in OpenSSL 3: Debian 12's
 * libengine-gost-openssl 3.0.1 ships a provider (gostprov.so) that has the
 * GOST digests and ciphers only. GOST R 34.10-2012 keys -- decoding a
 * certificate's SubjectPublicKeyInfo, signing and verifying -- exist only as
 * the engine's EVP_PKEY methods. So the engine it is, and this file is the
 * only one that touches ENGINE_*: the deprecation warnings are silenced
 * here (OPENSSL_SUPPRESS_DEPRECATED, this translation unit only), nowhere
 * else. When a provider with GOST signatures is packaged, this file is
 * what changes.
 *
 * The engine is loaded the way OpenSSL's own configuration module does it
 * for "dynamic_path = ...; default_algorithms = ALL", so nobody has to edit
 * openssl.cnf or set OPENSSL_CONF for Signet.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "agent/gost.h"

#define GOST_ENGINE_ID "gost"
#define GOST_SO_NAME   "gost.so"

static int gost_state;      /* 0 not tried, 1 available, -1 not */
static char gost_from[PATH_MAX + 16];

/* The engine works for what we need: Streebog by name. */
static bool
gost_usable(void)
{
	return EVP_get_digestbyname("md_gost12_256") != NULL &&
	    EVP_get_digestbyname("md_gost12_512") != NULL;
}

/* Functional reference, defaults for everything it implements (what
 * default_algorithms = ALL does), then our references go: OpenSSL's
 * algorithm tables keep their own until OPENSSL_cleanup(). */
static bool
gost_activate(ENGINE *e)
{
	bool ok = false;

	if (ENGINE_init(e) != 1)
		return false;
	if (ENGINE_set_default(e, ENGINE_METHOD_ALL) == 1)
		ok = true;
	ENGINE_finish(e);
	return ok;
}

/* An engine "gost" OpenSSL already has (loaded by a configuration file);
 * never triggers a load itself, unlike ENGINE_by_id(). */
static ENGINE *
gost_find_loaded(void)
{
	ENGINE *e;

	for (e = ENGINE_get_first(); e != NULL; e = ENGINE_get_next(e))
		if (strcmp(ENGINE_get_id(e), GOST_ENGINE_ID) == 0)
			return e; /* structural reference held */
	return NULL;
}

/* The dynamic engine, pointed at one shared object. */
static ENGINE *
gost_load_path(const char *path)
{
	ENGINE *e;

	if (access(path, R_OK) != 0)
		return NULL;
	if ((e = ENGINE_by_id("dynamic")) == NULL)
		return NULL;
	/* LIST_ADD 1: later ENGINE_by_id("gost") in this process finds it */
	if (ENGINE_ctrl_cmd_string(e, "SO_PATH", path, 0) != 1 ||
	    ENGINE_ctrl_cmd_string(e, "ID", GOST_ENGINE_ID, 0) != 1 ||
	    ENGINE_ctrl_cmd_string(e, "LIST_ADD", "1", 0) != 1 ||
	    ENGINE_ctrl_cmd_string(e, "LOAD", NULL, 0) != 1) {
		ENGINE_free(e);
		return NULL;
	}
	return e;
}

/* OpenSSL's engines directory, from the string it reports:
 * ENGINESDIR: "/usr/lib/x86_64-linux-gnu/engines-3" */
static bool
gost_default_path(char *out, size_t len)
{
	const char *s = OpenSSL_version(OPENSSL_ENGINES_DIR), *a, *b;
	int n;

	if (s == NULL || (a = strchr(s, '"')) == NULL ||
	    (b = strchr(a + 1, '"')) == NULL || b == a + 1)
		return false;
	n = snprintf(out, len, "%.*s/%s", (int)(b - a - 1), a + 1,
	    GOST_SO_NAME);
	return n > 0 && (size_t)n < len;
}

static void
gost_note(const char *from)
{
	snprintf(gost_from, sizeof(gost_from), "%s", from);
}

int
gost_init(const char *path)
{
	char def[PATH_MAX];
	const char *env;
	ENGINE *e;

	if (gost_state != 0)
		return gost_state > 0 ? 0 : SIGNET_ERR_UNSUPPORTED;
	gost_state = -1;

	if ((e = gost_find_loaded()) != NULL) {
		if (gost_activate(e) && gost_usable())
			gost_note("configured");
		ENGINE_free(e);
		if (gost_from[0] != '\0')
			goto ok;
	}
	if (path == NULL && (env = secure_getenv(GOST_ENGINE_ENV)) != NULL &&
	    env[0] == '/')
		path = env;
	if (path == NULL && gost_default_path(def, sizeof(def)))
		path = def;
	if (path != NULL && (e = gost_load_path(path)) != NULL) {
		if (gost_activate(e) && gost_usable())
			gost_note(path);
		ENGINE_free(e);
		if (gost_from[0] != '\0')
			goto ok;
	}
	/* OpenSSL's own search: $OPENSSL_ENGINES, else ENGINESDIR */
	ERR_clear_error();
	if ((e = ENGINE_by_id(GOST_ENGINE_ID)) != NULL) {
		if (gost_activate(e) && gost_usable())
			gost_note("engines directory");
		ENGINE_free(e);
		if (gost_from[0] != '\0')
			goto ok;
	}
	ERR_clear_error();
	return SIGNET_ERR_UNSUPPORTED;
ok:
	ERR_clear_error();
	gost_state = 1;
	return 0;
}

bool
gost_available(void)
{
	return gost_state > 0;
}

const char *
gost_source(void)
{
	return gost_state > 0 ? gost_from : NULL;
}
