#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"
#include "agent/log.h"
#include "agent/policy_conf.h"

void
config_init(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->line_timeout = CONFIG_DEFAULT_LINE_TIMEOUT;
	policy_init(&c->policy);
}

void
config_clear(struct config *c)
{
	size_t i;

	free(c->socket);
	free(c->audit_dir);
	for (i = 0; i < c->nmodules; i++)
		free(c->modules[i]);
	policy_clear(&c->policy);
	memset(c, 0, sizeof(*c));
}

int
config_add_module(struct config *c, const char *path, bool from_cli)
{
	if (from_cli && !c->modules_from_cli) {
		/* The command line replaces whatever came before. */
		while (c->nmodules > 0)
			free(c->modules[--c->nmodules]);
		c->modules_from_cli = true;
	} else if (!from_cli && c->modules_from_cli)
		return 0;
	if (c->nmodules == CONFIG_MAX_MODULES)
		return SIGNET_ERR_LIMIT;
	if ((c->modules[c->nmodules] = strdup(path)) == NULL)
		return SIGNET_ERR_NOMEM;
	c->nmodules++;
	return 0;
}

/* "64M" -> 67108864: digits and an optional K, M or G. */
static int
config_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;
	unsigned shift = 0;

	if (!isdigit((unsigned char)s[0]))
		return SIGNET_ERR_FORMAT;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return SIGNET_ERR_FORMAT;
	if (*end == 'K')
		shift = 10;
	else if (*end == 'M')
		shift = 20;
	else if (*end == 'G')
		shift = 30;
	if (shift != 0)
		end++;
	if (*end != '\0' || v > (UINT64_MAX >> shift))
		return SIGNET_ERR_FORMAT;
	*out = (uint64_t)v << shift;
	return 0;
}

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

/* The parser proper, over any stream: the file of config_load, or the
 * memory of config_parse (which the fuzzer drives), so both read lines
 * with the same fgets rules. */
static int
config_read(struct config *c, const char *file, FILE *f)
{
	char line[CONFIG_MAX_LINE + 2], *s, *eq, *key, *val, msg[512];
	unsigned lineno = 0;
	bool in_policy = false;  /* a [login], [certs] or [rule] section */
	int err = SIGNET_ERR_FORMAT, r;

	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(f)) {
			log_err("%s:%u: line longer than %u bytes", file, lineno,
			    CONFIG_MAX_LINE);
			goto out;
		}
		s = trim(line);
		if (*s == '\0' || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			in_policy = strcmp(s, "[agent]") != 0;
			if (in_policy && (r = policy_conf_section(&c->policy, s, file,
			    lineno, msg, sizeof(msg))) != 0) {
				log_err("%s", msg);
				err = r == SIGNET_ERR_NOMEM ? r : SIGNET_ERR_FORMAT;
				goto out;
			}
			continue;
		}
		if ((eq = strchr(s, '=')) == NULL) {
			log_err("%s:%u: expected key = value", file, lineno);
			goto out;
		}
		*eq = '\0';
		key = trim(s);
		val = trim(eq + 1);
		if (*val == '\0') {
			log_err("%s:%u: %s has no value", file, lineno, key);
			goto out;
		}
		if (in_policy) {
			if ((r = policy_conf_kv(&c->policy, key, val, file, lineno, msg,
			    sizeof(msg))) != 0) {
				log_err("%s", msg);
				err = r == SIGNET_ERR_NOMEM ? r : SIGNET_ERR_FORMAT;
				goto out;
			}
			continue;
		}
		if (strcmp(key, "socket") == 0) {
			if (c->socket == NULL && (c->socket = strdup(val)) == NULL)
				goto out;
		} else if (strcmp(key, "module") == 0) {
			if (config_add_module(c, val, false) != 0) {
				log_err("%s:%u: too many modules (at most %u)", file,
				    lineno, CONFIG_MAX_MODULES);
				goto out;
			}
		} else if (strcmp(key, "line_timeout") == 0) {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(val, &end, 10);
			if (errno != 0 || *end != '\0' || v < 1 || v > 3600 ||
			    !isdigit((unsigned char)val[0])) {
				log_err("%s:%u: line_timeout must be 1..3600 seconds",
				    file, lineno);
				goto out;
			}
			c->line_timeout = (unsigned)v;
		} else if (strcmp(key, "mode") == 0) {
			if (strcmp(val, "user") != 0 && strcmp(val, "system") != 0) {
				log_err("%s:%u: mode must be user or system", file, lineno);
				goto out;
			}
			if (!c->mode_set)
				c->system_mode = strcmp(val, "system") == 0;
		} else if (strcmp(key, "audit_dir") == 0) {
			if (val[0] != '/') {
				log_err("%s:%u: audit_dir must be an absolute path",
				    file, lineno);
				goto out;
			}
			if (c->audit_dir == NULL && (c->audit_dir = strdup(val)) == NULL)
				goto out;
		} else if (strcmp(key, "audit_max_file") == 0) {
			if (config_size(val, &c->audit_max_file) != 0 ||
			    c->audit_max_file < 4096) {
				log_err("%s:%u: audit_max_file must be a size of at least "
				    "4096 bytes (K, M, G suffixes)", file, lineno);
				goto out;
			}
		} else {
			log_err("%s:%u: unknown key '%s'", file, lineno, key);
			goto out;
		}
	}
	if (ferror(f)) {
		err = SIGNET_ERR_IO;
		goto out;
	}
	if ((r = policy_conf_finish(&c->policy, msg, sizeof(msg))) != 0) {
		log_err("%s", msg);
		err = r == SIGNET_ERR_NOMEM ? r : SIGNET_ERR_FORMAT;
		goto out;
	}
	err = 0;
out:
	return err;
}

int
config_load(struct config *c, const char *file)
{
	FILE *f;
	int err;

	if ((f = fopen(file, "re")) == NULL) {
		log_err("%s: %s", file, strerror(errno));
		return SIGNET_ERR_IO;
	}
	err = config_read(c, file, f);
	fclose(f);
	return err;
}

int
config_parse(struct config *c, const char *name, const char *text, size_t len)
{
	FILE *f;
	int err;

	/* A read-only memory stream: fmemopen never writes to text in "r"
	 * mode, and reads exactly len bytes (NULs included). */
	if ((f = fmemopen((void *)text, len, "r")) == NULL) {
		log_err("%s: %s", name, strerror(errno));
		return SIGNET_ERR_NOMEM;
	}
	err = config_read(c, name, f);
	fclose(f);
	return err;
}
