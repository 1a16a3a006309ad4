/*
 * The effective policy in signet.conf syntax, for `signetd --check-config`
 * (contract: agent/policy_conf.h). Every default is spelled out, so the
 * officer sees what the agent will do rather than what the file says; what
 * the parser resolved (names to ids, symlinks) goes in comments. The output
 * parses back to the same policy (tests/policy_conf_test.c checks it).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "agent/policy_conf.h"

/* An item as the list syntax needs it: quoted when it holds a comma, a
 * quote, a backslash or surrounding blanks. */
static void
put_item(FILE *f, const char *s)
{
	size_t n = strlen(s);
	bool quote = strpbrk(s, ",\"\\") != NULL || n == 0 || s[0] == ' ' ||
	    s[0] == '\t' || s[n - 1] == ' ' || s[n - 1] == '\t';

	if (!quote) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void
put_list(FILE *f, const char *key, char *const *items, size_t n)
{
	size_t i;

	fprintf(f, "%s = ", key);
	for (i = 0; i < n; i++) {
		if (i > 0)
			fputs(", ", f);
		put_item(f, items[i]);
	}
	fputc('\n', f);
}

/* 28800 -> "8h", 5400 -> "1h30m", 0 -> "none". */
static void
put_duration(FILE *f, uint32_t s)
{
	static const struct { uint32_t secs; char unit; } units[] = {
		{ 86400, 'd' }, { 3600, 'h' }, { 60, 'm' }, { 1, 's' },
	};
	size_t i;

	if (s == 0) {
		fputs("none", f);
		return;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (s >= units[i].secs) {
			fprintf(f, "%" PRIu32 "%c", s / units[i].secs,
			    units[i].unit);
			s %= units[i].secs;
		}
	}
}

static void
put_size(FILE *f, uint64_t n)
{
	static const struct { uint64_t mult; const char *suffix; } units[] = {
		{ 1024u * 1024u * 1024u, "G" }, { 1024u * 1024u, "M" },
		{ 1024u, "K" },
	};
	size_t i;

	if (n == 0) {
		fputs("none", f);
		return;
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (n % units[i].mult == 0) {
			fprintf(f, "%" PRIu64 "%s", n / units[i].mult,
			    units[i].suffix);
			return;
		}
	}
	fprintf(f, "%" PRIu64, n);
}

static void
put_count(FILE *f, const char *key, unsigned n)
{
	if (n == 0)
		fprintf(f, "%s = none\n", key);
	else
		fprintf(f, "%s = %u\n", key, n);
}

static void
put_bits(FILE *f, const char *key, unsigned bits, const char *const *names,
    const unsigned *values, size_t n)
{
	size_t i;
	bool first = true;

	fprintf(f, "%s = ", key);
	for (i = 0; i < n; i++) {
		if ((bits & values[i]) == 0)
			continue;
		fprintf(f, "%s%s", first ? "" : ", ", names[i]);
		first = false;
	}
	fputc('\n', f);
}

static const char *const input_names[] = { "data", "fd", "digest" };
static const unsigned input_bits[] = { POLICY_IN_DATA, POLICY_IN_FD,
	POLICY_IN_DIGEST };
static const char *const digest_names[] = { "sha256", "sha384", "sha512",
	"streebog256", "streebog512" };
static const unsigned digest_bits[] = { POLICY_MD_SHA256, POLICY_MD_SHA384,
	POLICY_MD_SHA512, POLICY_MD_STREEBOG256, POLICY_MD_STREEBOG512 };

static bool
numeric(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* "#   alice = uid 1000" for each name that is not a number already. */
static void
put_ids(FILE *f, const char *what, char *const *names, const uid_t *uids,
    const gid_t *gids, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (numeric(names[i]))
			continue;
		fprintf(f, "#   %s = %s %lu\n", names[i], what, uids != NULL ?
		    (unsigned long)uids[i] : (unsigned long)gids[i]);
	}
}

static void
put_login(const struct policy *p, FILE *f)
{
	const struct policy_login *l = &p->login;
	size_t i;

	fputs("[login]\nttl = ", f);
	put_duration(f, l->ttl);
	fputs("\nidle = ", f);
	put_duration(f, l->idle);
	fputc('\n', f);
	put_count(f, "max_signatures", l->max_signatures);
	fputs("pin_source = ", f);
	for (i = 0; i < l->npin_sources; i++)
		fprintf(f, "%s%s", i > 0 ? ", " : "",
		    policy_pin_source_name(l->pin_sources[i]));
	fputs("\npinentry = ", f);
	put_item(f, policy_pinentry(p));
	fprintf(f, "\nallow_final_try = %s\n\n", l->final_try_ask ? "ask" : "no");
}

static void
put_certs(const struct policy *p, FILE *f)
{
	fputs("[certs]\n", f);
	if (p->certs.ca_bundle != NULL) {
		fputs("ca_bundle = ", f);
		put_item(f, p->certs.ca_bundle);
		fputc('\n', f);
	} else {
		fputs("# ca_bundle is not set: certificate chains are not "
		    "checked\n", f);
	}
	fprintf(f, "require_key_usage = %s\n\n",
	    p->certs.require_key_usage == POLICY_KU_CHECK_YES ? "yes" : "no");
}

static unsigned
min_cap(unsigned a, unsigned b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

static void
put_rule(const struct policy *p, const struct policy_rule *r, FILE *f)
{
	size_t i;
	unsigned eff;

	fprintf(f, "# defined at %s:%u\n[rule %s]\n", r->file, r->line, r->name);
	fprintf(f, "action = %s\n", r->action == POLICY_DENY ? "deny" : "allow");
	if (r->nuids > 0) {
		put_list(f, "user", r->user_names, r->nuids);
		put_ids(f, "uid", r->user_names, r->uids, NULL, r->nuids);
	}
	if (r->ngids > 0) {
		put_list(f, "group", r->group_names, r->ngids);
		put_ids(f, "gid", r->group_names, NULL, r->gids, r->ngids);
	}
	if (r->nexes > 0) {
		put_list(f, "exe", r->exes, r->nexes);
		for (i = 0; i < r->nexes; i++)
			if (strcmp(r->exes[i], r->exe_names[i]) != 0)
				fprintf(f, "#   %s resolves to %s\n",
				    r->exe_names[i], r->exes[i]);
	}
	if (r->nuids == 0 && r->ngids == 0 && r->nexes == 0)
		fputs("# no user, group or exe: matches every client\n", f);
	if (r->action == POLICY_DENY) {
		fputc('\n', f);
		return;
	}
	if (r->ncerts == 0) {
		fputs("certs = any\n", f);
	} else {
		fputs("certs = ", f);
		for (i = 0; i < r->ncerts; i++) {
			if (i > 0)
				fputs(", ", f);
			put_item(f, r->certs[i].text);
		}
		fputc('\n', f);
	}
	put_bits(f, "inputs", r->inputs, input_names, input_bits, 3);
	put_bits(f, "digests", r->digests, digest_names, digest_bits, 5);
	fputs("max_size = ", f);
	put_size(f, r->max_size);
	fputs("\nrate = ", f);
	if (r->rate_count == 0) {
		fputs("none", f);
	} else {
		fprintf(f, "%u/", r->rate_count);
		put_duration(f, r->rate_period);
	}
	fputc('\n', f);
	put_count(f, "max_batch", r->max_batch);
	eff = min_cap(min_cap(r->max_batch, r->rate_count),
	    p->login.max_signatures);
	if (eff != r->max_batch)
		fprintf(f, "#   effective max_batch: %u (a larger batch could "
		    "never pass the rate or [login] max_signatures)\n", eff);
	fprintf(f, "pin_from_client = %s\n\n", r->pin_from_client ? "yes" : "no");
}

int
policy_print(const struct policy *p, enum policy_mode mode, uid_t self_uid,
    FILE *f)
{
	size_t i;

	fprintf(f, "# Effective policy (mode = %s). Rules are tried in the "
	    "order below:\n# the first whose user, group and exe all match "
	    "the client decides.\n\n", policy_mode_name(mode));
	put_login(p, f);
	put_certs(p, f);
	for (i = 0; i < p->nrules; i++)
		put_rule(p, &p->rules[i], f);
	if (p->nrules == 0)
		fputs("# no rules\n", f);
	if (mode == POLICY_MODE_SYSTEM) {
		fputs("# When no rule matches: deny (policy_denied).\n", f);
	} else {
		fprintf(f, "# When no rule matches: uid %lu (the agent's own) and "
		    "root get the\n# implicit user-mode rule: certs = any, "
		    "inputs = data, fd,\n# digests = sha256, sha384, sha512, "
		    "streebog256, streebog512,\n# "
		    "no size, rate or batch limit,\n# pin_from_client = yes. "
		    "Anyone else: deny (policy_denied).\n",
		    (unsigned long)self_uid);
	}
	return ferror(f) ? SIGNET_ERR_IO : 0;
}
