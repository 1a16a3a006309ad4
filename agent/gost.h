/*
 * GOST R 34.10-2012 signatures and GOST R 34.11-2012 (Streebog) digests
 * through the gost engine (libengine-gost-openssl), loaded by the program
 * itself: no system OpenSSL configuration has to name it.
 *
 * After a successful gost_init(), EVP_get_digestbyname("md_gost12_256")
 * and "md_gost12_512" give Streebog, X509_get0_pubkey() decodes GOST 2012
 * keys, and EVP_PKEY_verify()/CMS_verify() check GOST signatures. When the
 * engine cannot be loaded, RSA and EC work as before and GOST is
 * unsupported (the agent answers unsupported_digest / unsupported_key).
 */
#ifndef SIGNET_GOST_H
#define SIGNET_GOST_H

#include <stdbool.h>

#include "common/err.h"

/* Environment variable naming the engine's shared object (an absolute
 * path), for systems that install it elsewhere. */
#define GOST_ENGINE_ENV "SIGNET_GOST_ENGINE"

/*
 * Makes the gost engine available to this process, once; later calls
 * return the first call's result. Tries, in order: an engine with id
 * "gost" that OpenSSL already knows (an OPENSSL_CONF that loads it); the
 * shared object named by path, or when path is NULL by $SIGNET_GOST_ENGINE,
 * or OpenSSL's engines directory + "/gost.so"; then OpenSSL's own search
 * of its engines directory ($OPENSSL_ENGINES or ENGINESDIR).
 * 0 when GOST is available, SIGNET_ERR_UNSUPPORTED when not.
 * Call it at start, before any thread uses OpenSSL.
 */
MUST_CHECK int gost_init(const char *path);

/* Did gost_init() succeed? */
bool gost_available(void);

/* Where the engine came from ("configured", or the shared object's path);
 * NULL when it is not available. For logs. */
const char *gost_source(void);

#endif
