#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/audit.h"
#include "agent/audit_setup.h"
#include "agent/log.h"
#include "common/audit_chain.h"

/* The first set-up of a user's log, and where its key went. */
static int
audit_first_setup(const char *dir)
{
	struct audit_vkey vk;
	char *key = NULL, *text = NULL, idhex[33];
	size_t len = 0;
	int err;

	if ((err = audit_dir_init(dir, 1, &vk)) != 0)
		return err;
	audit_logid_hex(vk.id.logid, idhex);
	if ((key = audit_key_default(vk.id.logid)) == NULL ||
	    audit_vkey_format(&vk, &text, &len) != 0 ||
	    audit_key_file_write(key, text, len) != 0) {
		log_err("audit: set up log %s in %s, but could not write its key "
		    "(%s): the log cannot be verified", idhex, dir,
		    key == NULL ? "no HOME" : strerror(errno));
	} else
		log_warn("audit: set up log %s in %s; its verification key is %s. "
		    "Move the key off this machine: while it stays here, whoever "
		    "can read it can rewrite the log undetected", idhex, dir, key);
	explicit_bzero(&vk, sizeof(vk));
	if (text != NULL) {
		explicit_bzero(text, len);
		free(text);
	}
	free(key);
	return 0;
}

void
audit_setup(struct agent *a, const char *dir, uint64_t max_file_bytes,
    bool system_mode)
{
	int err;

	if (dir == NULL) {
		log_err("audit: no log directory (set --audit-dir, or HOME); "
		    "signing is refused");
		return;
	}
	err = audit_open(&a->audit, a->loop, dir, max_file_bytes);
	if (err == SIGNET_ERR_NOTFOUND && !system_mode) {
		if (audit_first_setup(dir) == 0)
			err = audit_open(&a->audit, a->loop, dir, max_file_bytes);
	}
	if (err != 0) {
		a->audit = NULL;
		log_err("audit: cannot open the log in %s (%s%s); signing is refused "
		    "until it can", dir, signet_strerror(err),
		    err == SIGNET_ERR_NOTFOUND ? ": run signet audit init" : "");
		return;
	}
	log_info("audit: log in %s", dir);
}
