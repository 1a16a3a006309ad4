/*
 * signet audit: the security officer's tools for the audit trail
 * (docs/audit.md, signet(1) AUDIT). No agent involved: they read the log
 * directory and the officer's verification key.
 */
#ifndef SIGNET_CLIENT_CMD_AUDIT_H
#define SIGNET_CLIENT_CMD_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "common/audit_chain.h"

/* signet audit verify: every record checks, but a crash tore a line (a
 * warning, not tampering). Tampering exits with SIGNET_EXIT_VERIFY. */
#define AUDIT_EXIT_TORN 75

int audit_main(int argc, char **argv);

/* The subcommands (cmd_audit_*.c). */
int audit_init_main(int argc, char **argv);
int audit_verify_main(int argc, char **argv);
int audit_show_main(int argc, char **argv);
int audit_find_main(int argc, char **argv);

/* --dir DIR, else --system's, else the user's default. NULL (and a
 * message) without a home. malloc'd. */
char *audit_dir_arg(const char *sub, const char *dir, bool system);

/*
 * The records of a log, in order: every file of dir (paths NULL), or the
 * files named. fn gets each parsed record (r->obj set) and its line;
 * returning non-zero stops. Lines that are not records are skipped with
 * one warning. Returns 0, fn's value, or an exit status after a message.
 */
typedef int (*audit_rec_fn)(void *arg, const struct audit_rec *r,
    const char *line, size_t len);
int audit_each(const char *sub, const char *dir, char **paths, int npaths,
    audit_rec_fn fn, void *arg);

/* The table of records shared by show and find. */
struct audit_table;
struct audit_table *audit_table_new(bool json);
/* 0, or -1 on no memory. */
int audit_table_add(struct audit_table *t, const struct audit_rec *r,
    const char *line, size_t len);
/* Prints and frees; returns how many records were printed. */
size_t audit_table_print(struct audit_table *t);

#endif
