/*
 * signetd's configuration file (docs/signetd.8, "CONFIGURATION"): INI
 * style, an optional [agent] section with
 *     socket = PATH
 *     module = PATH        (repeatable)
 *     line_timeout = SECONDS  (a started request line must be complete
 *                              within it; default 30, 1..3600)
 *     mode = user|system
 *     audit_dir = PATH
 *     audit_max_file = BYTES   (rotation size, K/M/G suffixes)
 * and the policy sections [login], [certs] and [rule NAME] (parsed by
 * agent/policy_conf.c; docs/signet.conf.5). '#' and ';' start comments.
 * An unknown section or key, or a malformed line, is an error naming
 * file:line: a typo must not silently change what the agent does.
 * Options on the command line win over the file.
 */
#ifndef SIGNET_CONFIG_H
#define SIGNET_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/policy.h"
#include "common/err.h"

#define CONFIG_MAX_MODULES 16u
#define CONFIG_MAX_LINE 4096u
#define CONFIG_DEFAULT_LINE_TIMEOUT 30u

struct config {
	char *socket;
	char *modules[CONFIG_MAX_MODULES];
	size_t nmodules;
	bool modules_from_cli;
	unsigned line_timeout;    /* seconds */
	bool system_mode;
	bool mode_set;            /* given on the command line: wins */
	char *audit_dir;          /* NULL: the mode's default */
	uint64_t audit_max_file;  /* 0: the writer's default */
	struct policy policy;
};

void config_init(struct config *c);
void config_clear(struct config *c);
/* from_cli: modules given on the command line replace the file's. */
MUST_CHECK int config_add_module(struct config *c, const char *path, bool from_cli);
/* Logs file:line and what is wrong on failure. */
MUST_CHECK int config_load(struct config *c, const char *file);
/* The same parser over len bytes of text in memory (a file's contents);
 * name stands for the file in messages. */
MUST_CHECK int config_parse(struct config *c, const char *name,
    const char *text, size_t len);

#endif
