/*
 * Reading the policy sections of signet.conf (contract:
 * agent/policy_conf.h; the syntax is docs/signet.conf.5).
 *
 * Strict on purpose: a typo in a security policy must stop the agent with
 * the file and line, never quietly widen or narrow what it allows. So an
 * unknown key, a scalar key given twice, an unknown user or group, an
 * unknown unit or SHA-1 are all errors.
 */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "signet/protocol.h"
#include "agent/policy_conf.h"

enum section { SEC_NONE = 0, SEC_LOGIN, SEC_CERTS, SEC_RULE };

#define NSS_BUF_MAX (1u << 20) /* getpwnam_r/getgrnam_r buffer, at most */

/* What every key parser needs to know to say where it went wrong. */
struct ctx {
	struct policy *p;
	const char *file;
	unsigned line;
	const char *key;
	char *err;
	size_t errlen;
};

/* One list value split into items (quotes removed), each malloc'ed. */
struct items {
	char *v[POLICY_MAX_ITEMS];
	size_t n;
};

static void
items_free(struct items *it)
{
	while (it->n > 0)
		free(it->v[--it->n]);
}

static void __attribute__((format(printf, 5, 6)))
errf(char *err, size_t errlen, const char *file, unsigned line,
    const char *fmt, ...)
{
	va_list ap;
	int n;

	if (err == NULL || errlen == 0)
		return;
	n = snprintf(err, errlen, "%s:%u: ", file, line);
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

/* "file:line: key: message"; returns code. */
static int __attribute__((format(printf, 3, 4)))
cfail(struct ctx *c, int code, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	if (code == SIGNET_ERR_NOMEM) {
		errf(c->err, c->errlen, c->file, c->line, "out of memory");
		return code;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->key != NULL)
		errf(c->err, c->errlen, c->file, c->line, "%s: %s", c->key, msg);
	else
		errf(c->err, c->errlen, c->file, c->line, "%s", msg);
	return code;
}

/* ---- Lexical helpers ---- */

static bool
is_space(char ch)
{
	return ch == ' ' || ch == '\t';
}

static bool
is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static bool
all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!is_digit(*s))
			return false;
	return true;
}

/*
 * Splits "a, b , "c, with comma"" into items. An item may be put in
 * double quotes to hold commas or surrounding blanks; inside quotes \" and
 * \\ stand for " and \. Empty items are errors (a stray comma is a typo).
 */
static int
split_list(struct ctx *c, const char *value, struct items *it)
{
	const char *s = value, *start, *end;
	char *item, *o;
	size_t len;

	it->n = 0;
	for (;;) {
		while (is_space(*s))
			s++;
		if (*s == '"') {
			s++;
			len = strlen(s);
			if ((item = malloc(len + 1)) == NULL)
				goto nomem;
			for (o = item; *s != '"'; s++) {
				if (*s == '\0') {
					free(item);
					return cfail(c, SIGNET_ERR_FORMAT,
					    "unterminated quote");
				}
				if (*s == '\\') {
					s++;
					if (*s != '"' && *s != '\\') {
						free(item);
						return cfail(c, SIGNET_ERR_FORMAT,
						    "only \\\" and \\\\ may follow a "
						    "backslash in quotes");
					}
				}
				*o++ = *s;
			}
			*o = '\0';
			s++;
			while (is_space(*s))
				s++;
			if (*s != ',' && *s != '\0') {
				free(item);
				return cfail(c, SIGNET_ERR_FORMAT,
				    "expected ',' after a quoted item");
			}
		} else {
			start = s;
			while (*s != ',' && *s != '\0') {
				if (*s == '"')
					return cfail(c, SIGNET_ERR_FORMAT,
					    "a quote inside an item; quote the "
					    "whole item");
				s++;
			}
			end = s;
			while (end > start && is_space(end[-1]))
				end--;
			if (end == start)
				return cfail(c, SIGNET_ERR_FORMAT, "empty item "
				    "in the list");
			if ((item = strndup(start, (size_t)(end - start))) == NULL)
				goto nomem;
		}
		if (*item == '\0') {
			free(item);
			return cfail(c, SIGNET_ERR_FORMAT, "empty item in the list");
		}
		if (it->n == POLICY_MAX_ITEMS) {
			free(item);
			return cfail(c, SIGNET_ERR_LIMIT, "more than %u items",
			    POLICY_MAX_ITEMS);
		}
		it->v[it->n++] = item;
		if (*s == '\0')
			return 0;
		s++; /* the comma */
	}
nomem:
	return cfail(c, SIGNET_ERR_NOMEM, "%s", "");
}

/* A scalar value: one item (which may be quoted). */
static int
one_item(struct ctx *c, const char *value, char **out)
{
	struct items it;
	int err;

	if ((err = split_list(c, value, &it)) != 0) {
		items_free(&it);
		return err;
	}
	if (it.n != 1) {
		items_free(&it);
		return cfail(c, SIGNET_ERR_FORMAT, "takes one value, not a list");
	}
	*out = it.v[0];
	return 0;
}

/* Digits into *out with overflow checked; moves *s past them. */
static bool
take_u64(const char **s, uint64_t *out)
{
	uint64_t v = 0;
	unsigned d;

	if (!is_digit(**s))
		return false;
	for (; is_digit(**s); (*s)++) {
		d = (unsigned)(**s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static uint32_t
unit_seconds(char u)
{
	switch (u) {
	case 's':
		return 1;
	case 'm':
		return 60;
	case 'h':
		return 3600;
	case 'd':
		return 86400;
	}
	return 0;
}

/*
 * "90", "15m", "1h30m", "8h", "1d": seconds, 1..POLICY_MAX_DURATION.
 * shown is what messages quote (the whole value, for rate's period).
 */
static int
parse_duration(struct ctx *c, const char *s, const char *shown, uint32_t *out)
{
	const char *p = s, *w;
	uint64_t total = 0, n;
	uint32_t unit;
	unsigned used = 0;

	if (all_digits(s)) {
		if (!take_u64(&p, &total))
			goto range;
	} else {
		while (*p != '\0') {
			if (!take_u64(&p, &n))
				goto bad;
			for (w = p; (*p >= 'a' && *p <= 'z') ||
			    (*p >= 'A' && *p <= 'Z'); p++)
				;
			if (p == w && *p == '\0')
				return cfail(c, SIGNET_ERR_FORMAT, "'%s': the last "
				    "number has no unit (s, m, h, d)", shown);
			if (p == w)
				goto bad;
			if (p - w != 1 || (unit = unit_seconds(*w)) == 0)
				return cfail(c, SIGNET_ERR_FORMAT, "'%s': unknown "
				    "unit '%.*s' (s, m, h, d)", shown, (int)(p - w),
				    w);
			/* "1h1h" is a typo more likely than a sum. */
			if (used & (1u << (*w - 'a')))
				return cfail(c, SIGNET_ERR_FORMAT, "'%s': unit "
				    "'%c' given twice", shown, *w);
			used |= 1u << (*w - 'a');
			if (n > POLICY_MAX_DURATION / unit)
				goto range;
			total += n * unit;
			if (total > POLICY_MAX_DURATION)
				goto range;
		}
	}
	if (total == 0)
		return cfail(c, SIGNET_ERR_FORMAT, "'%s' is zero; write none "
		    "for no limit", shown);
	if (total > POLICY_MAX_DURATION)
		goto range;
	*out = (uint32_t)total;
	return 0;
bad:
	return cfail(c, SIGNET_ERR_FORMAT, "'%s' is not a duration (e.g. 90s, "
	    "15m, 8h, 1d, 1h30m)", shown);
range:
	return cfail(c, SIGNET_ERR_FORMAT, "'%s' is longer than 366d", shown);
}

static bool
is_none(const char *v)
{
	return strcmp(v, "none") == 0;
}

static int
parse_yesno(struct ctx *c, const char *v, bool *out)
{
	if (strcmp(v, "yes") == 0)
		*out = true;
	else if (strcmp(v, "no") == 0)
		*out = false;
	else
		return cfail(c, SIGNET_ERR_FORMAT, "'%s': expected yes or no", v);
	return 0;
}

/* A count 1..max, or none (0) when none_ok. */
static int
parse_count(struct ctx *c, const char *v, unsigned max, bool none_ok,
    unsigned *out)
{
	const char *p = v;
	uint64_t n;

	if (none_ok && is_none(v)) {
		*out = 0;
		return 0;
	}
	if (!take_u64(&p, &n) || *p != '\0' || n == 0 || n > max)
		return cfail(c, SIGNET_ERR_FORMAT, "'%s': expected a number "
		    "from 1 to %u%s", v, max, none_ok ? " or none" : "");
	*out = (unsigned)n;
	return 0;
}

/*
 * An absolute path as the kernel reports one (/proc/PID/exe never holds
 * "//", "/./" or "/../"), so that exact comparison means what it says.
 */
static int
check_path(struct ctx *c, const char *v)
{
	const char *s;

	if (v[0] != '/' || v[1] == '\0')
		return cfail(c, SIGNET_ERR_FORMAT, "'%s' is not an absolute "
		    "path to a file", v);
	for (s = v; *s != '\0'; s++) {
		if (s[0] != '/')
			continue;
		if (s[1] == '/' || s[1] == '\0' ||
		    (s[1] == '.' && (s[2] == '/' || s[2] == '\0')) ||
		    (s[1] == '.' && s[2] == '.' && (s[3] == '/' || s[3] == '\0')))
			return cfail(c, SIGNET_ERR_FORMAT, "'%s' is not a "
			    "normalized path (no //, /./, /../ or trailing /)", v);
	}
	if (strlen(v) >= PATH_MAX)
		return cfail(c, SIGNET_ERR_FORMAT, "path longer than %d bytes",
		    PATH_MAX - 1);
	return 0;
}

static int
set_path(struct ctx *c, const char *value, char **slot)
{
	char *v;
	int err;

	if ((err = one_item(c, value, &v)) != 0)
		return err;
	if ((err = check_path(c, v)) != 0) {
		free(v);
		return err;
	}
	free(*slot);
	*slot = v;
	return 0;
}

/* ---- Names of users and groups ---- */

/* uid/gid as digits, below the (id_t)-1 that means "no id". */
static bool
numeric_id(const char *s, unsigned long *out)
{
	const char *p = s;
	uint64_t v;

	if (!take_u64(&p, &v) || *p != '\0' || v >= UINT32_MAX)
		return false;
	*out = (unsigned long)v;
	return true;
}

static int
sys_user(void *arg, const char *name, uid_t *out)
{
	struct passwd pw, *res = NULL;
	size_t len = 4096;
	char *buf;
	int rc;

	(void)arg;
	for (;;) {
		if ((buf = malloc(len)) == NULL)
			return SIGNET_ERR_NOMEM;
		rc = getpwnam_r(name, &pw, buf, len, &res);
		if (rc != ERANGE || len >= NSS_BUF_MAX)
			break;
		free(buf);
		len *= 2;
	}
	if (res != NULL)
		*out = pw.pw_uid;
	free(buf);
	if (res != NULL)
		return 0;
	return rc == 0 || rc == ENOENT ? SIGNET_ERR_NOTFOUND : SIGNET_ERR_IO;
}

static int
sys_group(void *arg, const char *name, gid_t *out)
{
	struct group gr, *res = NULL;
	size_t len = 4096;
	char *buf;
	int rc;

	(void)arg;
	for (;;) {
		if ((buf = malloc(len)) == NULL)
			return SIGNET_ERR_NOMEM;
		rc = getgrnam_r(name, &gr, buf, len, &res);
		if (rc != ERANGE || len >= NSS_BUF_MAX)
			break;
		free(buf);
		len *= 2;
	}
	if (res != NULL)
		*out = gr.gr_gid;
	free(buf);
	if (res != NULL)
		return 0;
	return rc == 0 || rc == ENOENT ? SIGNET_ERR_NOTFOUND : SIGNET_ERR_IO;
}

static const struct policy_names sys_names = { sys_user, sys_group, NULL };

void
policy_conf_set_names(struct policy *p, const struct policy_names *names)
{
	p->conf.names = names;
}

static const struct policy_names *
names_of(const struct policy *p)
{
	return p->conf.names != NULL ? p->conf.names : &sys_names;
}

static int
lookup_fail(struct ctx *c, int rc, const char *what, const char *name)
{
	if (rc == SIGNET_ERR_NOMEM)
		return cfail(c, rc, "%s", "");
	if (rc == SIGNET_ERR_NOTFOUND)
		return cfail(c, SIGNET_ERR_FORMAT, "unknown %s '%s'", what, name);
	return cfail(c, SIGNET_ERR_IO, "cannot look up %s '%s'", what, name);
}

static int
lookup_user(struct ctx *c, const char *name, uid_t *out)
{
	const struct policy_names *n = names_of(c->p);
	unsigned long id;
	int rc;

	if (numeric_id(name, &id)) {
		*out = (uid_t)id;
		return 0;
	}
	if ((rc = n->user(n->arg, name, out)) != 0)
		return lookup_fail(c, rc, "user", name);
	return 0;
}

static int
lookup_group(struct ctx *c, const char *name, gid_t *out)
{
	const struct policy_names *n = names_of(c->p);
	unsigned long id;
	int rc;

	if (numeric_id(name, &id)) {
		*out = (gid_t)id;
		return 0;
	}
	if ((rc = n->group(n->arg, name, out)) != 0)
		return lookup_fail(c, rc, "group", name);
	return 0;
}

/* "file:line: unknown key 'k' in [section]" */
static int
unknown_key(struct ctx *c, const char *section, const char *name)
{
	const char *key = c->key;

	c->key = NULL;
	return cfail(c, SIGNET_ERR_FORMAT, "unknown key '%s' in [%s%s]", key,
	    section, name);
}

/* ---- Rule keys ---- */

static struct policy_rule *
cur_rule(struct policy *p)
{
	return &p->rules[p->nrules - 1];
}

/* Grows a rule's list arrays by n: *arr (elem bytes each) and, when
 * names != NULL, the parallel string array. */
static int
grow(struct ctx *c, size_t have, size_t n, void **arr, size_t elem,
    char ***names)
{
	void *a;
	char **nm;

	if (n > POLICY_MAX_ITEMS - have)
		return cfail(c, SIGNET_ERR_LIMIT, "more than %u items in all",
		    POLICY_MAX_ITEMS);
	if ((a = realloc(*arr, (have + n) * elem)) == NULL)
		return cfail(c, SIGNET_ERR_NOMEM, "%s", "");
	*arr = a;
	if (names != NULL) {
		if ((nm = realloc(*names, (have + n) * sizeof(*nm))) == NULL)
			return cfail(c, SIGNET_ERR_NOMEM, "%s", "");
		*names = nm;
	}
	return 0;
}

static int
rk_user(struct ctx *c, struct policy_rule *r, struct items *it)
{
	size_t i, j;
	uid_t uid = (uid_t)-1;
	int err;

	if ((err = grow(c, r->nuids, it->n, (void **)&r->uids,
	    sizeof(*r->uids), &r->user_names)) != 0)
		return err;
	for (i = 0; i < it->n; i++) {
		if ((err = lookup_user(c, it->v[i], &uid)) != 0)
			return err;
		for (j = 0; j < r->nuids; j++)
			if (r->uids[j] == uid)
				return cfail(c, SIGNET_ERR_FORMAT, "'%s' (uid %lu) "
				    "listed twice", it->v[i], (unsigned long)uid);
		r->uids[r->nuids] = uid;
		r->user_names[r->nuids++] = it->v[i];
		it->v[i] = NULL;
	}
	return 0;
}

static int
rk_group(struct ctx *c, struct policy_rule *r, struct items *it)
{
	size_t i, j;
	gid_t gid = (gid_t)-1;
	int err;

	if ((err = grow(c, r->ngids, it->n, (void **)&r->gids,
	    sizeof(*r->gids), &r->group_names)) != 0)
		return err;
	for (i = 0; i < it->n; i++) {
		if ((err = lookup_group(c, it->v[i], &gid)) != 0)
			return err;
		for (j = 0; j < r->ngids; j++)
			if (r->gids[j] == gid)
				return cfail(c, SIGNET_ERR_FORMAT, "'%s' (gid %lu) "
				    "listed twice", it->v[i], (unsigned long)gid);
		r->gids[r->ngids] = gid;
		r->group_names[r->ngids++] = it->v[i];
		it->v[i] = NULL;
	}
	return 0;
}

/*
 * The kernel names a process's executable by its resolved path, so a
 * configured symlink (/usr/bin/edms -> /opt/edms/bin/edms) is resolved
 * now; a path that does not exist yet is kept as written.
 */
static int
resolve_exe(struct ctx *c, const char *path, char **out)
{
	struct stat st;
	char *real = NULL;

	if ((real = realpath(path, NULL)) == NULL) {
		if (errno == ENOMEM)
			return cfail(c, SIGNET_ERR_NOMEM, "%s", "");
		real = strdup(path);
		if (real == NULL)
			return cfail(c, SIGNET_ERR_NOMEM, "%s", "");
	} else if (stat(real, &st) == 0 && !S_ISREG(st.st_mode)) {
		free(real);
		return cfail(c, SIGNET_ERR_FORMAT, "'%s' is not a regular file",
		    path);
	}
	*out = real;
	return 0;
}

static int
rk_exe(struct ctx *c, struct policy_rule *r, struct items *it)
{
	size_t i, j;
	char *real = NULL;
	int err;

	if ((err = grow(c, r->nexes, it->n, (void **)&r->exes,
	    sizeof(*r->exes), &r->exe_names)) != 0)
		return err;
	for (i = 0; i < it->n; i++) {
		if ((err = check_path(c, it->v[i])) != 0 ||
		    (err = resolve_exe(c, it->v[i], &real)) != 0)
			return err;
		for (j = 0; j < r->nexes; j++) {
			if (strcmp(r->exes[j], real) == 0) {
				free(real);
				return cfail(c, SIGNET_ERR_FORMAT, "'%s' listed "
				    "twice", it->v[i]);
			}
		}
		r->exes[r->nexes] = real;
		r->exe_names[r->nexes++] = it->v[i];
		it->v[i] = NULL;
	}
	return 0;
}

/* snils:, inn:, ogrn: digits, with the usual ' ' and '-' separators. */
static int
id_digits(struct ctx *c, const char *text, const char *v, size_t len_a,
    size_t len_b, char **out)
{
	char *d, *o;

	if ((d = malloc(strlen(v) + 1)) == NULL)
		return cfail(c, SIGNET_ERR_NOMEM, "%s", "");
	for (o = d; *v != '\0'; v++) {
		if (*v == ' ' || *v == '-')
			continue;
		if (!is_digit(*v)) {
			free(d);
			return cfail(c, SIGNET_ERR_FORMAT, "'%s': only digits, "
			    "spaces and '-' may follow the prefix", text);
		}
		*o++ = *v;
	}
	*o = '\0';
	if (strlen(d) != len_a && strlen(d) != len_b) {
		free(d);
		if (len_a == len_b)
			return cfail(c, SIGNET_ERR_FORMAT, "'%s': expected %zu "
			    "digits", text, len_a);
		return cfail(c, SIGNET_ERR_FORMAT, "'%s': expected %zu or %zu "
		    "digits", text, len_a, len_b);
	}
	*out = d;
	return 0;
}

/* ATTR of subject:ATTR=VALUE: a short name (CN, O, SNILS) or an OID. */
static bool
attr_name_ok(const char *s, size_t len)
{
	size_t i;
	bool oid = is_digit(s[0]);

	if (len == 0 || len > 64)
		return false;
	for (i = 0; i < len; i++) {
		if (oid ? !(is_digit(s[i]) || (s[i] == '.' && i > 0 &&
		    s[i - 1] != '.' && i + 1 < len)) :
		    !((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' &&
		    s[i] <= 'z') || is_digit(s[i]) || s[i] == '-'))
			return false;
	}
	return true;
}

static int
parse_certmatch(struct ctx *c, const char *t, struct policy_certmatch *m)
{
	const char *eq;
	int err;

	memset(m, 0, sizeof(*m));
	if (strcmp(t, "any") == 0) {
		m->kind = POLICY_CM_ANY;
	} else if (strcmp(t, "none") == 0) {
		m->kind = POLICY_CM_NONE;
	} else if (strncasecmp(t, "sha256:", 7) == 0 ||
	    strncasecmp(t, "pkcs11:", 7) == 0) {
		if ((err = selector_parse(&m->sel, t, true)) != 0) {
			selector_clear(&m->sel);
			if (err == SIGNET_ERR_NOMEM)
				goto nomem;
			return cfail(c, SIGNET_ERR_FORMAT, "'%s' is not a valid "
			    "%.6s selector", t, t);
		}
		m->kind = POLICY_CM_SELECTOR;
	} else if (strncmp(t, "subject:", 8) == 0) {
		eq = strchr(t + 8, '=');
		if (eq == NULL || eq[1] == '\0' ||
		    !attr_name_ok(t + 8, (size_t)(eq - (t + 8))))
			return cfail(c, SIGNET_ERR_FORMAT, "'%s': expected "
			    "subject:ATTR=VALUE (e.g. subject:CN=Ivanov)", t);
		m->kind = POLICY_CM_SUBJECT;
		if ((m->attr = strndup(t + 8, (size_t)(eq - (t + 8)))) == NULL ||
		    (m->value = strdup(eq + 1)) == NULL)
			goto nomem;
	} else if (strncmp(t, "snils:", 6) == 0) {
		m->kind = POLICY_CM_SNILS;
		if ((err = id_digits(c, t, t + 6, 11, 11, &m->value)) != 0)
			return err;
	} else if (strncmp(t, "inn:", 4) == 0) {
		m->kind = POLICY_CM_INN;
		if ((err = id_digits(c, t, t + 4, 10, 12, &m->value)) != 0)
			return err;
	} else if (strncmp(t, "ogrn:", 5) == 0) {
		m->kind = POLICY_CM_OGRN;
		if ((err = id_digits(c, t, t + 5, 13, 15, &m->value)) != 0)
			return err;
	} else {
		return cfail(c, SIGNET_ERR_FORMAT, "'%s': expected any, none, "
		    "sha256:HEX, pkcs11:URI, subject:ATTR=VALUE, snils:, inn: "
		    "or ogrn:", t);
	}
	if ((m->text = strdup(t)) == NULL)
		goto nomem;
	return 0;
nomem:
	return cfail(c, SIGNET_ERR_NOMEM, "%s", "");
}

static void
certmatch_clear(struct policy_certmatch *m)
{
	free(m->text);
	free(m->attr);
	free(m->value);
	if (m->kind == POLICY_CM_SELECTOR)
		selector_clear(&m->sel);
	memset(m, 0, sizeof(*m));
}

/* any and none say everything about a rule's certificates. */
static bool
alone(const struct policy_certmatch *m)
{
	return m->kind == POLICY_CM_ANY || m->kind == POLICY_CM_NONE;
}

static int
rk_certs(struct ctx *c, struct policy_rule *r, struct items *it)
{
	struct policy_certmatch m;
	size_t i, j;
	int err;

	if ((err = grow(c, r->ncerts, it->n, (void **)&r->certs,
	    sizeof(*r->certs), NULL)) != 0)
		return err;
	for (i = 0; i < it->n; i++) {
		if ((err = parse_certmatch(c, it->v[i], &m)) != 0) {
			certmatch_clear(&m);
			return err;
		}
		for (j = 0; j < r->ncerts; j++) {
			if (strcmp(r->certs[j].text, m.text) == 0 ||
			    alone(&m) || alone(&r->certs[j])) {
				err = strcmp(r->certs[j].text, m.text) == 0 ?
				    cfail(c, SIGNET_ERR_FORMAT, "'%s' listed twice",
				    m.text) : cfail(c, SIGNET_ERR_FORMAT, "%s "
				    "cannot be combined with other certificates",
				    alone(&m) ? m.text : r->certs[j].text);
				certmatch_clear(&m);
				return err;
			}
		}
		r->certs[r->ncerts++] = m;
	}
	return 0;
}

/* A set of names into bits; each name once. */
static int
name_bits(struct ctx *c, struct items *it, const char *const *names,
    const unsigned *bits, size_t nnames, unsigned *out)
{
	size_t i, j;
	unsigned v = 0;

	for (i = 0; i < it->n; i++) {
		for (j = 0; j < nnames; j++)
			if (strcmp(it->v[i], names[j]) == 0)
				break;
		if (j == nnames)
			return -1 - (int)i; /* the caller names the choices */
		if ((v & bits[j]) != 0)
			return cfail(c, SIGNET_ERR_FORMAT, "'%s' listed twice",
			    it->v[i]);
		v |= bits[j];
	}
	*out = v;
	return 0;
}

static int
rk_inputs(struct ctx *c, struct policy_rule *r, struct items *it)
{
	static const char *const names[] = { "data", "fd", "digest" };
	static const unsigned bits[] = { POLICY_IN_DATA, POLICY_IN_FD,
	    POLICY_IN_DIGEST };
	int rc = name_bits(c, it, names, bits, 3, &r->inputs);

	if (rc <= SIGNET_ERR_FORMAT || rc == 0)
		return rc;
	return cfail(c, SIGNET_ERR_FORMAT, "unknown input '%s' (data, fd, "
	    "digest)", it->v[-1 - rc]);
}

static int
rk_digests(struct ctx *c, struct policy_rule *r, struct items *it)
{
	static const char *const names[] = { "sha256", "sha384", "sha512",
	    "streebog256", "streebog512" };
	static const unsigned bits[] = { POLICY_MD_SHA256, POLICY_MD_SHA384,
	    POLICY_MD_SHA512, POLICY_MD_STREEBOG256, POLICY_MD_STREEBOG512 };
	const char *bad;
	int rc = name_bits(c, it, names, bits, 5, &r->digests);

	if (rc <= SIGNET_ERR_FORMAT || rc == 0)
		return rc;
	bad = it->v[-1 - rc];
	if (strcasecmp(bad, "sha1") == 0 || strcasecmp(bad, "sha-1") == 0)
		return cfail(c, SIGNET_ERR_FORMAT, "SHA-1 is never accepted "
		    "(collisions are practical); use sha256, sha384 or sha512");
	return cfail(c, SIGNET_ERR_FORMAT, "unknown digest '%s' (sha256, "
	    "sha384, sha512, streebog256, streebog512)", bad);
}

/* "10M", "512K", "1G", "1048576": bytes (binary multiples). */
static int
rk_max_size(struct ctx *c, struct policy_rule *r, struct items *it)
{
	const char *v = it->v[0], *p = v;
	uint64_t n, mult = 1;

	if (is_none(v)) {
		r->max_size = 0;
		return 0;
	}
	if (!take_u64(&p, &n))
		goto bad;
	switch (*p) {
	case '\0':
		break;
	case 'K': case 'k':
		mult = 1024;
		break;
	case 'M': case 'm':
		mult = 1024 * 1024;
		break;
	case 'G': case 'g':
		mult = 1024 * 1024 * 1024;
		break;
	default:
		goto bad;
	}
	if (*p != '\0' && p[1] != '\0')
		goto bad;
	if (n == 0)
		return cfail(c, SIGNET_ERR_FORMAT, "'%s' is zero; write none for "
		    "no limit", v);
	if (n > UINT64_MAX / mult)
		return cfail(c, SIGNET_ERR_FORMAT, "'%s' is too large", v);
	r->max_size = n * mult;
	return 0;
bad:
	return cfail(c, SIGNET_ERR_FORMAT, "'%s' is not a size (bytes, or "
	    "with K, M, G: e.g. 10M)", v);
}

/* "100/1h", "20/m", "none". */
static int
rk_rate(struct ctx *c, struct policy_rule *r, struct items *it)
{
	const char *v = it->v[0], *slash, *per;
	char num[24];
	uint32_t period;
	unsigned n;
	int err;

	if (is_none(v)) {
		r->rate_count = 0;
		r->rate_period = 0;
		return 0;
	}
	if ((slash = strchr(v, '/')) == NULL || slash == v ||
	    (size_t)(slash - v) >= sizeof(num) || slash[1] == '\0')
		return cfail(c, SIGNET_ERR_FORMAT, "'%s': expected N/PERIOD "
		    "(e.g. 100/1h, 20/1m) or none", v);
	memcpy(num, v, (size_t)(slash - v));
	num[slash - v] = '\0';
	if ((err = parse_count(c, num, POLICY_MAX_RATE, false, &n)) != 0)
		return err;
	per = slash + 1;
	/* "20/m" reads as "20/1m". */
	if (per[1] == '\0' && unit_seconds(per[0]) != 0)
		period = unit_seconds(per[0]);
	else if ((err = parse_duration(c, per, v, &period)) != 0)
		return err;
	r->rate_count = n;
	r->rate_period = period;
	return 0;
}

static int
rk_max_batch(struct ctx *c, struct policy_rule *r, struct items *it)
{
	return parse_count(c, it->v[0], SIGNET_MAX_BATCH, true, &r->max_batch);
}

static int
rk_pin_from_client(struct ctx *c, struct policy_rule *r, struct items *it)
{
	return parse_yesno(c, it->v[0], &r->pin_from_client);
}

static int
rk_action(struct ctx *c, struct policy_rule *r, struct items *it)
{
	if (strcmp(it->v[0], "allow") == 0)
		r->action = POLICY_ALLOW;
	else if (strcmp(it->v[0], "deny") == 0)
		r->action = POLICY_DENY;
	else
		return cfail(c, SIGNET_ERR_FORMAT, "'%s': expected allow or deny",
		    it->v[0]);
	return 0;
}

static const struct rule_key {
	const char *name;
	enum policy_rule_key key;
	bool list;  /* takes a list; may be given again to extend it */
	int (*fn)(struct ctx *, struct policy_rule *, struct items *);
} rule_keys[] = {
	{ "user", POLICY_RK_USER, true, rk_user },
	{ "group", POLICY_RK_GROUP, true, rk_group },
	{ "exe", POLICY_RK_EXE, true, rk_exe },
	{ "certs", POLICY_RK_CERTS, true, rk_certs },
	{ "inputs", POLICY_RK_INPUTS, false, rk_inputs },
	{ "digests", POLICY_RK_DIGESTS, false, rk_digests },
	{ "max_size", POLICY_RK_MAX_SIZE, false, rk_max_size },
	{ "rate", POLICY_RK_RATE, false, rk_rate },
	{ "max_batch", POLICY_RK_MAX_BATCH, false, rk_max_batch },
	{ "pin_from_client", POLICY_RK_PIN_FROM_CLIENT, false,
	    rk_pin_from_client },
	{ "action", POLICY_RK_ACTION, false, rk_action },
};

static const char *
rule_key_name(enum policy_rule_key k)
{
	size_t i;

	for (i = 0; i < sizeof(rule_keys) / sizeof(rule_keys[0]); i++)
		if (rule_keys[i].key == k)
			return rule_keys[i].name;
	return "?";
}

/* Set-valued keys (inputs, digests) take a list once; the others one
 * value. */
static bool
set_valued(enum policy_rule_key k)
{
	return k == POLICY_RK_INPUTS || k == POLICY_RK_DIGESTS;
}

static int
rule_kv(struct ctx *c, const char *value)
{
	struct policy_rule *r = cur_rule(c->p);
	const struct rule_key *k = NULL;
	struct items it = { .n = 0 };
	size_t i;
	int err;

	for (i = 0; i < sizeof(rule_keys) / sizeof(rule_keys[0]); i++)
		if (strcmp(rule_keys[i].name, c->key) == 0)
			k = &rule_keys[i];
	if (k == NULL)
		return unknown_key(c, "rule ", r->name);
	if (!k->list && r->key_line[k->key] != 0)
		return cfail(c, SIGNET_ERR_FORMAT, "given twice in [rule %s] "
		    "(first on line %u)", r->name, r->key_line[k->key]);
	if ((err = split_list(c, value, &it)) != 0)
		goto out;
	if (!k->list && !set_valued(k->key) && it.n != 1) {
		err = cfail(c, SIGNET_ERR_FORMAT, "takes one value, not a list");
		goto out;
	}
	if ((err = k->fn(c, r, &it)) != 0)
		goto out;
	if (r->key_line[k->key] == 0)
		r->key_line[k->key] = c->line;
out:
	items_free(&it);
	return err;
}

/* ---- [login] and [certs] ---- */

enum login_key { LK_TTL, LK_IDLE, LK_MAX_SIGNATURES, LK_PIN_SOURCE,
	LK_PINENTRY, LK_ALLOW_FINAL_TRY, LK_COUNT };
static const char *const login_keys[LK_COUNT] = {
	"ttl", "idle", "max_signatures", "pin_source", "pinentry",
	"allow_final_try",
};

enum certs_key { CK_CA_BUNDLE, CK_REQUIRE_KEY_USAGE, CK_COUNT };
static const char *const certs_keys[CK_COUNT] = {
	"ca_bundle", "require_key_usage",
};

static int
find_key(const char *const *keys, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(keys[i], key) == 0)
			return (int)i;
	return -1;
}

static int
pin_sources(struct ctx *c, struct policy_login *l, const char *value)
{
	static const char *const names[] = { "client", "pinentry", "pinpad" };
	struct items it = { .n = 0 };
	unsigned seen = 0;
	size_t i, j;
	int err;

	if ((err = split_list(c, value, &it)) != 0)
		goto out;
	for (i = 0; i < it.n; i++) {
		for (j = 0; j < POLICY_PIN_NSOURCES; j++)
			if (strcmp(it.v[i], names[j]) == 0)
				break;
		if (j == POLICY_PIN_NSOURCES) {
			err = cfail(c, SIGNET_ERR_FORMAT, "unknown PIN source '%s' "
			    "(client, pinentry, pinpad)", it.v[i]);
			goto out;
		}
		if ((seen & (1u << j)) != 0) {
			err = cfail(c, SIGNET_ERR_FORMAT, "'%s' listed twice",
			    it.v[i]);
			goto out;
		}
		seen |= 1u << j;
		l->pin_sources[i] = (enum policy_pin_source)j;
	}
	l->npin_sources = it.n;
out:
	items_free(&it);
	return err;
}

static int
login_kv(struct ctx *c, const char *value)
{
	struct policy_login *l = &c->p->login;
	unsigned n;
	int k, err;

	if ((k = find_key(login_keys, LK_COUNT, c->key)) < 0)
		return unknown_key(c, "login", "");
	if (c->p->conf.login_seen & (1u << k))
		return cfail(c, SIGNET_ERR_FORMAT, "given twice in [login]");
	switch ((enum login_key)k) {
	case LK_TTL:
		err = is_none(value) ? (l->ttl = 0, 0) :
		    parse_duration(c, value, value, &l->ttl);
		break;
	case LK_IDLE:
		err = is_none(value) ? (l->idle = 0, 0) :
		    parse_duration(c, value, value, &l->idle);
		break;
	case LK_MAX_SIGNATURES:
		err = parse_count(c, value, 1000000000u, true, &n);
		if (err == 0)
			l->max_signatures = n;
		break;
	case LK_PIN_SOURCE:
		err = pin_sources(c, l, value);
		break;
	case LK_PINENTRY:
		err = set_path(c, value, &l->pinentry);
		break;
	case LK_ALLOW_FINAL_TRY:
		err = 0;
		if (strcmp(value, "ask") == 0)
			l->final_try_ask = true;
		else if (strcmp(value, "no") == 0)
			l->final_try_ask = false;
		else
			err = cfail(c, SIGNET_ERR_FORMAT, "'%s': expected ask or "
			    "no", value);
		break;
	default:
		err = SIGNET_ERR_FORMAT;
	}
	if (err == 0)
		c->p->conf.login_seen |= 1u << k;
	return err;
}

static int
certs_kv(struct ctx *c, const char *value)
{
	struct policy_certs *cs = &c->p->certs;
	bool yes = false;
	int k, err;

	if ((k = find_key(certs_keys, CK_COUNT, c->key)) < 0)
		return unknown_key(c, "certs", "");
	if (c->p->conf.certs_seen & (1u << k))
		return cfail(c, SIGNET_ERR_FORMAT, "given twice in [certs]");
	if (k == CK_CA_BUNDLE) {
		err = set_path(c, value, &cs->ca_bundle);
	} else {
		err = parse_yesno(c, value, &yes);
		if (err == 0)
			cs->require_key_usage = yes ? POLICY_KU_CHECK_YES :
			    POLICY_KU_CHECK_NO;
	}
	if (err == 0)
		c->p->conf.certs_seen |= 1u << k;
	return err;
}

/* ---- Sections ---- */

static bool
rule_name_ok(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > POLICY_MAX_NAME)
		return false;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' &&
		    s[i] <= 'z') || is_digit(s[i]) || s[i] == '_' ||
		    s[i] == '-' || s[i] == '.'))
			return false;
	return true;
}

static char *
at(const char *file, unsigned line)
{
	char *s;

	if (asprintf(&s, "%s:%u", file, line) < 0)
		return NULL;
	return s;
}

static int
new_rule(struct ctx *c, const char *name)
{
	struct policy *p = c->p;
	struct policy_rule *rules, *r;
	size_t i;

	if (!rule_name_ok(name))
		return cfail(c, SIGNET_ERR_FORMAT, "bad rule name '%s': 1 to %u of "
		    "A-Z a-z 0-9 _ - .", name, POLICY_MAX_NAME);
	if (strcmp(name, POLICY_DEFAULT_RULE) == 0)
		return cfail(c, SIGNET_ERR_FORMAT, "the rule name '%s' is "
		    "reserved for the implicit default", name);
	for (i = 0; i < p->nrules; i++)
		if (strcmp(p->rules[i].name, name) == 0)
			return cfail(c, SIGNET_ERR_FORMAT, "duplicate rule '%s' "
			    "(first at %s:%u)", name, p->rules[i].file,
			    p->rules[i].line);
	if (p->nrules == POLICY_MAX_RULES)
		return cfail(c, SIGNET_ERR_LIMIT, "more than %u rules",
		    POLICY_MAX_RULES);
	rules = realloc(p->rules, (p->nrules + 1) * sizeof(*rules));
	if (rules == NULL)
		return cfail(c, SIGNET_ERR_NOMEM, "%s", "");
	p->rules = rules;
	r = &rules[p->nrules];
	memset(r, 0, sizeof(*r));
	r->line = c->line;
	r->action = POLICY_ALLOW;
	r->inputs = POLICY_IN_DATA | POLICY_IN_FD;
	r->digests = POLICY_MD_ALL;
	if ((r->name = strdup(name)) == NULL ||
	    (r->file = strdup(c->file)) == NULL) {
		free(r->name);
		free(r->file);
		return cfail(c, SIGNET_ERR_NOMEM, "%s", "");
	}
	p->nrules++;
	p->conf.section = SEC_RULE;
	return 0;
}

int
policy_conf_section(struct policy *p, const char *header, const char *file,
    unsigned line, char *err, size_t errlen)
{
	struct ctx c = { p, file, line, NULL, err, errlen };
	char buf[256], *s, *e, *name;
	char **seen_at;
	size_t n;
	int rc;

	p->conf.section = SEC_NONE;
	n = strlen(header);
	if (n >= sizeof(buf))
		return cfail(&c, SIGNET_ERR_FORMAT, "section header too long");
	memcpy(buf, header, n + 1);
	s = buf;
	if (*s == '[' && n > 1 && s[n - 1] == ']') {
		s[n - 1] = '\0';
		s++;
	}
	while (is_space(*s))
		s++;
	e = s + strlen(s);
	while (e > s && is_space(e[-1]))
		*--e = '\0';
	if (strcmp(s, "login") == 0 || strcmp(s, "certs") == 0) {
		seen_at = s[0] == 'l' ? &p->conf.login_at : &p->conf.certs_at;
		if (*seen_at != NULL)
			return cfail(&c, SIGNET_ERR_FORMAT, "[%s] given twice "
			    "(first at %s)", s, *seen_at);
		if ((*seen_at = at(file, line)) == NULL)
			return cfail(&c, SIGNET_ERR_NOMEM, "%s", "");
		p->conf.section = s[0] == 'l' ? SEC_LOGIN : SEC_CERTS;
		return 0;
	}
	if (strncmp(s, "rule", 4) == 0 && (s[4] == '\0' || is_space(s[4]))) {
		name = s + 4;
		while (is_space(*name))
			name++;
		if ((rc = new_rule(&c, name)) != 0)
			return rc;
		return 0;
	}
	return cfail(&c, SIGNET_ERR_NOTFOUND, "unknown section [%s]", s);
}

int
policy_conf_kv(struct policy *p, const char *key, const char *value,
    const char *file, unsigned line, char *err, size_t errlen)
{
	struct ctx c = { p, file, line, key, err, errlen };

	if (*value == '\0')
		return cfail(&c, SIGNET_ERR_FORMAT, "has no value");
	switch (p->conf.section) {
	case SEC_LOGIN:
		return login_kv(&c, value);
	case SEC_CERTS:
		return certs_kv(&c, value);
	case SEC_RULE:
		return rule_kv(&c, value);
	}
	return cfail(&c, SIGNET_ERR_FORMAT, "not inside a policy section");
}

/* ---- Cross-checks ---- */

static bool
catch_all(const struct policy_rule *r)
{
	return r->nuids == 0 && r->ngids == 0 && r->nexes == 0;
}

static bool
login_lists(const struct policy *p, enum policy_pin_source src)
{
	size_t i;

	for (i = 0; i < p->login.npin_sources; i++)
		if (p->login.pin_sources[i] == src)
			return true;
	return false;
}

int
policy_conf_finish(struct policy *p, char *err, size_t errlen)
{
	static const enum policy_rule_key grants[] = {
		POLICY_RK_CERTS, POLICY_RK_INPUTS, POLICY_RK_DIGESTS,
		POLICY_RK_MAX_SIZE, POLICY_RK_RATE, POLICY_RK_MAX_BATCH,
		POLICY_RK_PIN_FROM_CLIENT,
	};
	const struct policy_rule *r;
	size_t i, j;

	p->conf.section = SEC_NONE;
	for (i = 0; i < p->nrules; i++) {
		r = &p->rules[i];
		for (j = 0; r->action == POLICY_DENY &&
		    j < sizeof(grants) / sizeof(grants[0]); j++) {
			if (r->key_line[grants[j]] == 0)
				continue;
			/* A grant in a deny rule reads as if it meant
			 * something; it would not. */
			errf(err, errlen, r->file, r->key_line[grants[j]],
			    "[rule %s] is a deny rule: it grants nothing, so "
			    "'%s' has no effect; remove it", r->name,
			    rule_key_name(grants[j]));
			return SIGNET_ERR_FORMAT;
		}
		if (r->action == POLICY_ALLOW && r->pin_from_client &&
		    !login_lists(p, POLICY_PIN_CLIENT)) {
			errf(err, errlen, r->file,
			    r->key_line[POLICY_RK_PIN_FROM_CLIENT],
			    "[rule %s] has pin_from_client = yes, but [login] "
			    "pin_source does not list client", r->name);
			return SIGNET_ERR_FORMAT;
		}
		if (i + 1 < p->nrules && catch_all(r)) {
			errf(err, errlen, p->rules[i + 1].file,
			    p->rules[i + 1].line, "[rule %s] is never reached: "
			    "[rule %s] (%s:%u) before it has no user, group or "
			    "exe and matches every client",
			    p->rules[i + 1].name, r->name, r->file, r->line);
			return SIGNET_ERR_FORMAT;
		}
	}
	return 0;
}
