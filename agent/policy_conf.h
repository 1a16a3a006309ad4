/*
 * The policy sections of signet.conf ([login], [certs], [rule NAME]; see
 * docs/signet.conf.5), read from the (section, key, value) stream of the
 * file's INI parser (agent/config.c), and printed back for
 * `signetd --check-config`.
 *
 * The INI parser owns the lexical rules (lines, comments, trimming, the
 * [agent] section) and hands every header of a section it does not know to
 * policy_conf_section(), then that section's key/value pairs to
 * policy_conf_kv(), and calls policy_conf_finish() at the end of the file:
 *
 *	struct policy p;
 *	char err[512];
 *
 *	policy_init(&p);
 *	for each line:
 *	    "[agent]"        -> its own keys
 *	    "[anything else]" -> policy_conf_section(&p, "anything else", ...)
 *	    key = value      -> in a policy section: policy_conf_kv(&p, ...)
 *	at EOF:              policy_conf_finish(&p, err, sizeof(err))
 *	on any error:        log err, policy_clear(&p) (keep the old policy)
 *
 * On failure err holds one line naming the file and line and what is
 * wrong ("signet.conf:12: rate: '10/1y': unknown unit 'y' ..."), ready to
 * log. Names of users and groups are looked up here (getpwnam_r,
 * getgrnam_r) and executables' symlinks resolved (realpath), at load time;
 * the evaluator only ever sees numbers and paths.
 */
#ifndef SIGNET_POLICY_CONF_H
#define SIGNET_POLICY_CONF_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "agent/policy.h"
#include "common/err.h"

/*
 * Starts a section. header is the text between the brackets (surrounding
 * brackets are tolerated): "login", "certs" or "rule NAME". Returns 0 when
 * it is a policy section; SIGNET_ERR_NOTFOUND when it is no section the
 * policy knows (err: "unknown section"); SIGNET_ERR_FORMAT for a bad or
 * duplicate rule name or a section given twice; SIGNET_ERR_LIMIT past
 * POLICY_MAX_RULES; SIGNET_ERR_NOMEM.
 */
MUST_CHECK int policy_conf_section(struct policy *p, const char *header,
    const char *file, unsigned line, char *err, size_t errlen);

/*
 * One "key = value" of the current policy section, both trimmed and value
 * non-empty. An unknown key, a bad value or a scalar key given twice is
 * SIGNET_ERR_FORMAT; a list over POLICY_MAX_ITEMS SIGNET_ERR_LIMIT.
 */
MUST_CHECK int policy_conf_kv(struct policy *p, const char *key,
    const char *value, const char *file, unsigned line, char *err,
    size_t errlen);

/* Cross-checks between keys and sections, after the last line (see
 * docs/signet.conf.5, "ERRORS"). SIGNET_ERR_FORMAT with err on failure. */
MUST_CHECK int policy_conf_finish(struct policy *p, char *err, size_t errlen);

/*
 * How user and group names become ids. By default the system's
 * (getpwnam_r, getgrnam_r); tests install a fixed table so that example
 * files may use realistic names. Each returns 0, or SIGNET_ERR_NOTFOUND
 * for an unknown name (SIGNET_ERR_NOMEM, SIGNET_ERR_IO on failure).
 */
struct policy_names {
	int (*user)(void *arg, const char *name, uid_t *out);
	int (*group)(void *arg, const char *name, gid_t *out);
	void *arg;
};

/* Uses names (which must outlive the parse) instead of the system's;
 * NULL restores the system's. Call after policy_init(). */
void policy_conf_set_names(struct policy *p, const struct policy_names *names);

/*
 * Prints the effective policy in signet.conf syntax, every default
 * spelled out and resolved names in comments; the output parses back to
 * the same policy. mode and self_uid describe the implicit default.
 * SIGNET_ERR_IO when writing fails.
 */
MUST_CHECK int policy_print(const struct policy *p, enum policy_mode mode,
    uid_t self_uid, FILE *f);

#endif
