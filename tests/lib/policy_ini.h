/*
 * A small stand-in for agent/config.c's line reader, so the policy
 * parser (agent/policy_conf.h) is tested on whole files without the rest
 * of signetd: '#' and ';' comment lines, [section] headers, "key = value"
 * lines, both trimmed; an empty value is an error as in config.c. The
 * [agent] section's mode is returned; its other keys (socket, module,
 * line_timeout) are accepted and ignored. Every other section goes to
 * policy_conf_section(), and policy_conf_finish() runs at the end.
 */
#ifndef SIGNET_TESTS_POLICY_INI_H
#define SIGNET_TESTS_POLICY_INI_H

#include <stddef.h>

#include "agent/policy_conf.h"

/* policy_init()s p; on failure err names file:line and p is cleared. */
int policy_ini_parse(struct policy *p, const char *name, const char *text,
    enum policy_mode *mode, char *err, size_t errlen);
/* The same with names looked up in a table (NULL: the system's). */
int policy_ini_parse_names(struct policy *p, const char *name,
    const char *text, const struct policy_names *names,
    enum policy_mode *mode, char *err, size_t errlen);
int policy_ini_load(struct policy *p, const char *path,
    enum policy_mode *mode, char *err, size_t errlen);

#endif
