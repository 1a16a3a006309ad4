#ifndef SIGNET_AUDIT_SETUP_H
#define SIGNET_AUDIT_SETUP_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/agent.h"

/*
 * Opens the audit log in dir for the agent (a->audit), or leaves it NULL
 * and says why: the agent then runs but refuses to sign or log in with
 * audit_unavailable (fail closed). In user mode a directory never set up
 * is set up here, as `signet audit init` would, and the officer's key is
 * written to its default place (the signatory is their own officer; the
 * log says to move the key away). In system mode the security officer
 * runs `signet audit init --system` first.
 */
void audit_setup(struct agent *a, const char *dir, uint64_t max_file_bytes,
    bool system_mode);

#endif
