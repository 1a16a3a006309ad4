#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/policy_ini.h"

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

int
policy_ini_parse(struct policy *p, const char *name, const char *text,
    enum policy_mode *mode, char *err, size_t errlen)
{
	return policy_ini_parse_names(p, name, text, NULL, mode, err, errlen);
}

int
policy_ini_parse_names(struct policy *p, const char *name, const char *text,
    const struct policy_names *names, enum policy_mode *mode, char *err,
    size_t errlen)
{
	char *copy, *line, *next, *s, *eq, *key, *val;
	unsigned lineno = 0;
	enum { NONE, AGENT, POLICY } sec = NONE;
	int rc = 0;

	policy_init(p);
	policy_conf_set_names(p, names);
	*mode = POLICY_MODE_USER;
	err[0] = '\0';
	if ((copy = strdup(text)) == NULL)
		return SIGNET_ERR_NOMEM;
	for (line = copy; line != NULL && rc == 0; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		s = trim(line);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			if (strcmp(s, "[agent]") == 0) {
				sec = AGENT;
				continue;
			}
			if (s[strlen(s) - 1] != ']') {
				snprintf(err, errlen, "%s:%u: bad section line",
				    name, lineno);
				rc = SIGNET_ERR_FORMAT;
				break;
			}
			s[strlen(s) - 1] = '\0';
			rc = policy_conf_section(p, s + 1, name, lineno, err,
			    errlen);
			sec = POLICY;
			continue;
		}
		if ((eq = strchr(s, '=')) == NULL) {
			snprintf(err, errlen, "%s:%u: expected key = value", name,
			    lineno);
			rc = SIGNET_ERR_FORMAT;
			break;
		}
		*eq = '\0';
		key = trim(s);
		val = trim(eq + 1);
		if (*val == '\0') {
			snprintf(err, errlen, "%s:%u: %s has no value", name,
			    lineno, key);
			rc = SIGNET_ERR_FORMAT;
		} else if (sec == POLICY) {
			rc = policy_conf_kv(p, key, val, name, lineno, err, errlen);
		} else if (sec == AGENT && strcmp(key, "mode") == 0) {
			if (policy_mode_from_name(val, mode) != 0) {
				snprintf(err, errlen, "%s:%u: mode must be user or "
				    "system", name, lineno);
				rc = SIGNET_ERR_FORMAT;
			}
		} else if (sec == AGENT && (strcmp(key, "socket") == 0 ||
		    strcmp(key, "module") == 0 ||
		    strcmp(key, "line_timeout") == 0)) {
			continue;
		} else {
			snprintf(err, errlen, "%s:%u: unknown key '%s'", name,
			    lineno, key);
			rc = SIGNET_ERR_FORMAT;
		}
	}
	free(copy);
	if (rc == 0)
		rc = policy_conf_finish(p, err, errlen);
	if (rc != 0)
		policy_clear(p);
	return rc;
}

int
policy_ini_load(struct policy *p, const char *path, enum policy_mode *mode,
    char *err, size_t errlen)
{
	FILE *f;
	char *text = NULL;
	size_t len = 0;
	int rc;

	if ((f = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "%s: cannot open", path);
		policy_init(p);
		return SIGNET_ERR_IO;
	}
	if (getdelim(&text, &len, '\0', f) < 0) {
		free(text);
		text = strdup("");
	}
	fclose(f);
	if (text == NULL)
		return SIGNET_ERR_NOMEM;
	rc = policy_ini_parse(p, path, text, mode, err, errlen);
	free(text);
	return rc;
}
