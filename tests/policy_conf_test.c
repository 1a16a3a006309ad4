/*
 * Unit test of the policy sections of signet.conf (agent/policy_conf.c)
 * and of --check-config's printer (agent/policy_print.c):
 *   - every fixture in tests/policy/: good ones load, print, and the
 *     printed text loads back to the same print; bad-*.conf fail with the
 *     exact message on their "# expect:" line;
 *   - every key's value lands in the model (all-keys.conf, gov.conf);
 *   - a table of bad values, each with its exact file:line message and
 *     error code;
 *   - the API's edges: sections, caps, the system's user names.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/policy_conf.h"
#include "tests/lib/policy_ini.h"

static int failures;

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
		    __LINE__, #cond); \
		failures++; \
	} \
} while (0)

#define CHECK_STR(got, want) do { \
	const char *g_ = (got), *w_ = (want); \
	if (g_ == NULL || strcmp(g_, w_) != 0) { \
		fprintf(stderr, "%s:%d: %s = \"%s\", want \"%s\"\n", __FILE__, \
		    __LINE__, #got, g_ ? g_ : "(null)", w_); \
		failures++; \
	} \
} while (0)

/* ---- Names for the fixtures (realistic accounts need not exist) ---- */

static const struct { const char *name; unsigned id; } fake_users[] = {
	{ "root", 0 }, { "ivanova", 1101 }, { "petrov", 1102 },
	{ "trainee", 1199 },
}, fake_groups[] = {
	{ "root", 0 }, { "signatories", 2001 },
};

static int
fake_user(void *arg, const char *name, uid_t *out)
{
	size_t i;

	(void)arg;
	for (i = 0; i < sizeof(fake_users) / sizeof(fake_users[0]); i++) {
		if (strcmp(fake_users[i].name, name) == 0) {
			*out = fake_users[i].id;
			return 0;
		}
	}
	return SIGNET_ERR_NOTFOUND;
}

static int
fake_group(void *arg, const char *name, gid_t *out)
{
	size_t i;

	(void)arg;
	for (i = 0; i < sizeof(fake_groups) / sizeof(fake_groups[0]); i++) {
		if (strcmp(fake_groups[i].name, name) == 0) {
			*out = fake_groups[i].id;
			return 0;
		}
	}
	return SIGNET_ERR_NOTFOUND;
}

static const struct policy_names fake_names = { fake_user, fake_group, NULL };

/* A whole file through tests/lib/policy_ini.c, with the fixtures' names
 * or the system's. */
static int
parse(struct policy *p, const char *name, const char *text,
    enum policy_mode *mode, char *err, size_t errlen, bool fake)
{
	return policy_ini_parse_names(p, name, text, fake ? &fake_names : NULL,
	    mode, err, errlen);
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t len = 0;

	if (f == NULL)
		return NULL;
	if (getdelim(&text, &len, '\0', f) < 0) {
		free(text);
		text = strdup("");
	}
	fclose(f);
	return text;
}

/* Prints p (as --check-config would) into a malloc'ed string. */
static char *
print_policy(const struct policy *p, enum policy_mode mode)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (f == NULL)
		abort();
	CHECK(policy_print(p, mode, 4242, f) == 0);
	fclose(f);
	return out;
}

/* ---- Fixtures ---- */

/* Removes the lines that start with '#', in place. */
static void
strip_comments(char *s)
{
	char *o = s, *e;

	while (*s != '\0') {
		e = strchrnul(s, '\n');
		if (*e == '\n')
			e++;
		if (*s != '#') {
			memmove(o, s, (size_t)(e - s));
			o += e - s;
		}
		s = e;
	}
	*o = '\0';
}

static void
check_roundtrip(const char *name, const struct policy *p,
    enum policy_mode mode, bool fake)
{
	struct policy again;
	enum policy_mode mode2;
	char err[512], *one, *two, *text;

	one = print_policy(p, mode);
	/* The printer leaves out [agent]; put the mode back for the mode
	 * line of the second print. */
	if (asprintf(&text, "[agent]\nmode = %s\n%s", policy_mode_name(mode),
	    one) < 0)
		abort();
	if (parse(&again, name, text, &mode2, err, sizeof(err), fake) != 0) {
		fprintf(stderr, "%s: printed policy does not parse: %s\n%s\n",
		    name, err, text);
		failures++;
	} else {
		two = print_policy(&again, mode2);
		/* Comments may differ (where a rule was defined, what a
		 * symlink resolved to); the settings may not. */
		strip_comments(one);
		strip_comments(two);
		if (strcmp(one, two) != 0) {
			fprintf(stderr, "%s: print, parse, print differs:\n"
			    "---\n%s---\n%s", name, one, two);
			failures++;
		}
		free(two);
		policy_clear(&again);
	}
	free(text);
	free(one);
}

static void
run_fixtures(const char *dir)
{
	struct dirent **ents;
	struct policy p;
	enum policy_mode mode;
	char path[PATH_MAX], err[512], *text, *expect, *nl;
	int n, i, rc, good = 0, bad = 0;

	if ((n = scandir(dir, &ents, NULL, alphasort)) < 0) {
		fprintf(stderr, "%s: cannot read\n", dir);
		failures++;
		return;
	}
	for (i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		size_t len = strlen(name);

		if (len < 6 || strcmp(name + len - 5, ".conf") != 0)
			goto next;
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		if ((text = slurp(path)) == NULL) {
			fprintf(stderr, "%s: cannot read\n", path);
			failures++;
			goto next;
		}
		rc = parse(&p, name, text, &mode, err, sizeof(err), true);
		if (strncmp(name, "bad-", 4) == 0) {
			bad++;
			expect = strstr(text, "# expect: ");
			if (expect == NULL) {
				fprintf(stderr, "%s: no # expect: line\n", name);
				failures++;
			} else {
				expect += 10;
				if ((nl = strchr(expect, '\n')) != NULL)
					*nl = '\0';
				if (rc == 0 || strcmp(err, expect) != 0) {
					fprintf(stderr, "%s: rc %d, message\n  %s\n"
					    "want\n  %s\n", name, rc, err, expect);
					failures++;
				}
			}
			if (rc == 0)
				policy_clear(&p);
		} else {
			good++;
			if (rc != 0) {
				fprintf(stderr, "%s: %s\n", name, err);
				failures++;
			} else {
				check_roundtrip(name, &p, mode, true);
				policy_clear(&p);
			}
		}
		free(text);
next:
		free(ents[i]);
	}
	free(ents);
	CHECK(good >= 3);
	CHECK(bad >= 10);
	printf("policy_conf_test: %d good and %d bad fixtures\n", good, bad);
}

/* ---- Every key's value in the model ---- */

static void
test_all_keys(const char *dir)
{
	struct policy p;
	const struct policy_rule *r;
	enum policy_mode mode;
	char path[PATH_MAX], err[512], *text;

	snprintf(path, sizeof(path), "%s/all-keys.conf", dir);
	if ((text = slurp(path)) == NULL) {
		failures++;
		return;
	}
	if (parse(&p, "all-keys.conf", text, &mode, err, sizeof(err), true)
	    != 0) {
		fprintf(stderr, "all-keys.conf: %s\n", err);
		failures++;
		free(text);
		return;
	}
	free(text);
	CHECK(mode == POLICY_MODE_SYSTEM);
	CHECK(p.login.ttl == 86400 + 2 * 3600 + 3 * 60 + 4);
	CHECK(p.login.idle == 90);
	CHECK(p.login.max_signatures == 77);
	CHECK(p.login.npin_sources == 3);
	CHECK(p.login.pin_sources[0] == POLICY_PIN_PINPAD);
	CHECK(p.login.pin_sources[1] == POLICY_PIN_CLIENT);
	CHECK(p.login.pin_sources[2] == POLICY_PIN_PINENTRY);
	CHECK_STR(policy_pinentry(&p), "/usr/bin/pinentry-qt");
	CHECK(!p.login.final_try_ask);
	CHECK_STR(p.certs.ca_bundle, "/etc/signet/ca, bundle.pem");
	CHECK(p.certs.require_key_usage == POLICY_KU_CHECK_NO);
	CHECK(p.nrules == 2);
	r = &p.rules[0];
	CHECK_STR(r->name, "all");
	CHECK_STR(r->file, "all-keys.conf");
	CHECK(r->line == 20);
	CHECK(r->action == POLICY_ALLOW);
	CHECK(r->nuids == 3 && r->uids[0] == 1000 && r->uids[1] == 0 &&
	    r->uids[2] == 1001);
	CHECK_STR(r->user_names[1], "root");
	CHECK(r->ngids == 2 && r->gids[0] == 2000 && r->gids[1] == 0);
	CHECK(r->nexes == 2);
	CHECK_STR(r->exes[0], "/opt/a/bin/a");
	CHECK_STR(r->exes[1], "/nonexistent/signet/b");
	CHECK(r->ncerts == 9);
	if (r->ncerts == 9) {
		CHECK(r->certs[0].kind == POLICY_CM_SELECTOR &&
		    r->certs[0].sel.kind == SEL_SHA256 &&
		    r->certs[0].sel.sha256[0] == 0x00 &&
		    r->certs[0].sel.sha256[10] == 0xaa);
		CHECK(r->certs[1].kind == POLICY_CM_SELECTOR &&
		    r->certs[1].sel.kind == SEL_URI);
		CHECK_STR(r->certs[1].sel.serial, "ABC");
		CHECK(r->certs[2].kind == POLICY_CM_SUBJECT);
		CHECK_STR(r->certs[2].attr, "CN");
		CHECK_STR(r->certs[2].value, "Ivanov");
		CHECK_STR(r->certs[3].value, "Ministry, of Things");
		CHECK(r->certs[4].kind == POLICY_CM_SNILS);
		CHECK_STR(r->certs[4].value, "12345678901");
		CHECK(r->certs[5].kind == POLICY_CM_INN);
		CHECK(r->certs[6].kind == POLICY_CM_INN);
		CHECK(r->certs[7].kind == POLICY_CM_OGRN);
		CHECK_STR(r->certs[8].value, "304500116000157");
	}
	CHECK(r->inputs == (POLICY_IN_DIGEST | POLICY_IN_FD));
	CHECK(r->digests == (POLICY_MD_SHA512 | POLICY_MD_SHA384));
	CHECK(r->max_size == 2ull << 30);
	CHECK(r->rate_count == 20 && r->rate_period == 60);
	CHECK(r->max_batch == 256);
	CHECK(r->pin_from_client);
	CHECK(r->key_line[POLICY_RK_USER] == 21);
	CHECK(r->key_line[POLICY_RK_ACTION] == 34);
	r = &p.rules[1];
	CHECK(r->action == POLICY_DENY && r->nuids == 0 && r->ngids == 0 &&
	    r->nexes == 0);
	policy_clear(&p);
}

static void
test_gov(const char *dir)
{
	struct policy p;
	const struct policy_rule *r;
	enum policy_mode mode;
	char path[PATH_MAX], err[512], *text, *out;

	snprintf(path, sizeof(path), "%s/gov.conf", dir);
	if ((text = slurp(path)) == NULL ||
	    parse(&p, "gov.conf", text, &mode, err, sizeof(err), true) != 0) {
		fprintf(stderr, "gov.conf: %s\n", text ? err : "unreadable");
		free(text);
		failures++;
		return;
	}
	free(text);
	CHECK(mode == POLICY_MODE_SYSTEM);
	CHECK(p.login.ttl == 8 * 3600 && p.login.idle == 15 * 60);
	CHECK(p.login.npin_sources == 1 &&
	    p.login.pin_sources[0] == POLICY_PIN_PINENTRY);
	CHECK(p.nrules == 4);
	CHECK(p.rules[0].action == POLICY_DENY && p.rules[0].uids[0] == 1199);
	r = &p.rules[1];
	CHECK_STR(r->name, "edms-ivanova");
	CHECK(r->uids[0] == 1101 && r->gids[0] == 2001);
	CHECK(r->rate_count == 500 && r->rate_period == 3600);
	CHECK(r->max_batch == 200 && r->max_size == 50u << 20);
	CHECK(r->digests == POLICY_MD_SHA256 && !r->pin_from_client);
	CHECK_STR(r->certs[0].value, "12345678901");
	/* The printout spells out defaults and resolved names. */
	out = print_policy(&p, mode);
	CHECK(strstr(out, "# Effective policy (mode = system).") != NULL);
	CHECK(strstr(out, "\n[rule edms-ivanova]\naction = allow\nuser = ivanova\n"
	    "#   ivanova = uid 1101\ngroup = signatories\n"
	    "#   signatories = gid 2001\nexe = /opt/edms/bin/edms-client\n"
	    "certs = snils:123-456-789 01\ninputs = data, fd\n"
	    "digests = sha256\nmax_size = 50M\nrate = 500/1h\nmax_batch = 200\n"
	    "pin_from_client = no\n") != NULL);
	CHECK(strstr(out, "# defined at gov.conf:40\n[rule edms-ivanova]") != NULL);
	CHECK(strstr(out, "[rule signet-cli]") != NULL);
	CHECK(strstr(out, "exe = /usr/bin/signet\ncerts = none\n") != NULL);
	CHECK(strstr(out, "# When no rule matches: deny (policy_denied).") !=
	    NULL);
	free(out);
	policy_clear(&p);
}

/* The printer's exact output for a small policy, defaults included. */
static void
test_print_exact(void)
{
	static const char conf[] =
	    "[agent]\nmode = user\n"
	    "[login]\nidle = 5400\n"
	    "[rule a]\nexe = /nonexistent/x\ncerts = \"subject:O=A, \\\"B\\\"\"\n"
	    "rate = 3/90s\nmax_batch = 5\n";
	static const char want[] =
	    "# Effective policy (mode = user). Rules are tried in the order "
	    "below:\n# the first whose user, group and exe all match the "
	    "client decides.\n\n"
	    "[login]\nttl = 8h\nidle = 1h30m\nmax_signatures = none\n"
	    "pin_source = client, pinpad\npinentry = /usr/bin/pinentry\n"
	    "allow_final_try = ask\n\n"
	    "[certs]\n# ca_bundle is not set: certificate chains are not "
	    "checked\nrequire_key_usage = yes\n\n"
	    "# defined at t.conf:5\n[rule a]\naction = allow\n"
	    "exe = /nonexistent/x\ncerts = \"subject:O=A, \\\"B\\\"\"\n"
	    "inputs = data, fd\ndigests = sha256, sha384, sha512, streebog256, "
	    "streebog512\n"
	    "max_size = none\nrate = 3/1m30s\nmax_batch = 5\n"
	    "#   effective max_batch: 3 (a larger batch could never pass the "
	    "rate or [login] max_signatures)\npin_from_client = no\n\n"
	    "# When no rule matches: uid 4242 (the agent's own) and root get "
	    "the\n# implicit user-mode rule: certs = any, inputs = data, fd,\n"
	    "# digests = sha256, sha384, sha512, streebog256, streebog512,\n"
	    "# no size, rate or batch limit,\n"
	    "# pin_from_client = yes. Anyone else: deny (policy_denied).\n";
	struct policy p;
	enum policy_mode mode;
	char err[512], *out;

	if (parse(&p, "t.conf", conf, &mode, err, sizeof(err), false) != 0) {
		fprintf(stderr, "print_exact: %s\n", err);
		failures++;
		return;
	}
	CHECK_STR(p.rules[0].certs[0].value, "A, \"B\"");
	out = print_policy(&p, mode);
	CHECK_STR(out, want);
	free(out);
	policy_clear(&p);
}

/* ---- Bad values, one line each ---- */

static const struct bad {
	const char *text;   /* after "[rule r]\nuser = 1000\n" unless it
	                     * starts with '[' */
	int rc;
	const char *err;    /* exact message */
} bads[] = {
	/* unknown sections and keys */
	{ "[rules x]\n", SIGNET_ERR_NOTFOUND, "t.conf:1: unknown section [rules x]" },
	{ "[Login]\n", SIGNET_ERR_NOTFOUND, "t.conf:1: unknown section [Login]" },
	{ "[login]\nTTL = 1h\n", SIGNET_ERR_FORMAT,
	    "t.conf:2: unknown key 'TTL' in [login]" },
	{ "[certs]\nca = /x\n", SIGNET_ERR_FORMAT,
	    "t.conf:2: unknown key 'ca' in [certs]" },
	{ "usr = 1\n", SIGNET_ERR_FORMAT, "t.conf:3: unknown key 'usr' in [rule r]" },
	/* rule names and repeated sections */
	{ "[rule]\n", SIGNET_ERR_FORMAT,
	    "t.conf:1: bad rule name '': 1 to 64 of A-Z a-z 0-9 _ - ." },
	{ "[rule a b]\n", SIGNET_ERR_FORMAT,
	    "t.conf:1: bad rule name 'a b': 1 to 64 of A-Z a-z 0-9 _ - ." },
	{ "[rule a/b]\n", SIGNET_ERR_FORMAT,
	    "t.conf:1: bad rule name 'a/b': 1 to 64 of A-Z a-z 0-9 _ - ." },
	{ "[rule 0123456789012345678901234567890123456789012345678901234567890123"
	    "4]\n", SIGNET_ERR_FORMAT, "t.conf:1: bad rule name '012345678901234"
	    "56789012345678901234567890123456789012345678901234': 1 to 64 of "
	    "A-Z a-z 0-9 _ - ." },
	{ "[rule default]\n", SIGNET_ERR_FORMAT,
	    "t.conf:1: the rule name 'default' is reserved for the implicit "
	    "default" },
	{ "[rule a]\nuser = 1\n[rule a]\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: duplicate rule 'a' (first at t.conf:1)" },
	{ "[login]\n[certs]\n[login]\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: [login] given twice (first at t.conf:1)" },
	{ "[certs]\n[certs]\n", SIGNET_ERR_FORMAT,
	    "t.conf:2: [certs] given twice (first at t.conf:1)" },
	/* scalar keys once; lists without repeats */
	{ "rate = 1/1h\nrate = 2/1h\n", SIGNET_ERR_FORMAT,
	    "t.conf:4: rate: given twice in [rule r] (first on line 3)" },
	{ "inputs = data\ninputs = fd\n", SIGNET_ERR_FORMAT,
	    "t.conf:4: inputs: given twice in [rule r] (first on line 3)" },
	{ "[login]\nttl = 1h\nttl = 2h\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: ttl: given twice in [login]" },
	{ "[certs]\nrequire_key_usage = yes\nrequire_key_usage = no\n",
	    SIGNET_ERR_FORMAT, "t.conf:3: require_key_usage: given twice in "
	    "[certs]" },
	{ "user = 1000\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: user: '1000' (uid 1000) listed twice" },
	{ "user = root, 0\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: user: '0' (uid 0) listed twice" },
	{ "group = 5, 5\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: group: '5' (gid 5) listed twice" },
	{ "exe = /nonexistent/a, /nonexistent/a\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: exe: '/nonexistent/a' listed twice" },
	/* names */
	{ "user = no-such-user-signet\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: user: unknown user 'no-such-user-signet'" },
	{ "group = no-such-group-signet\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: group: unknown group 'no-such-group-signet'" },
	{ "user = 4294967295\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: user: unknown user '4294967295'" },
	/* executables */
	{ "exe = edms\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: exe: 'edms' is not an absolute path to a file" },
	{ "exe = /\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: exe: '/' is not an absolute path to a file" },
	{ "exe = /opt//edms\n", SIGNET_ERR_FORMAT, "t.conf:3: exe: '/opt//edms' "
	    "is not a normalized path (no //, /./, /../ or trailing /)" },
	{ "exe = /opt/./edms\n", SIGNET_ERR_FORMAT, "t.conf:3: exe: '/opt/./edms' "
	    "is not a normalized path (no //, /./, /../ or trailing /)" },
	{ "exe = /opt/x/../edms\n", SIGNET_ERR_FORMAT, "t.conf:3: exe: "
	    "'/opt/x/../edms' is not a normalized path (no //, /./, /../ or "
	    "trailing /)" },
	{ "exe = /opt/\n", SIGNET_ERR_FORMAT, "t.conf:3: exe: '/opt/' is not a "
	    "normalized path (no //, /./, /../ or trailing /)" },
	{ "exe = /usr\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: exe: '/usr' is not a regular file" },
	/* certificates */
	{ "certs = any, sha256:00112233445566778899aabbccddeeff00112233445566778"
	    "899aabbccddeeff\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: certs: any cannot be combined with other certificates" },
	{ "certs = subject:CN=a\ncerts = any\n", SIGNET_ERR_FORMAT,
	    "t.conf:4: certs: any cannot be combined with other certificates" },
	{ "certs = none, subject:CN=a\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: certs: none cannot be combined with other certificates" },
	{ "certs = none, none\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: certs: 'none' listed twice" },
	{ "certs = subject:CN=a, subject:CN=a\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: certs: 'subject:CN=a' listed twice" },
	{ "certs = sha256:0011\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: certs: 'sha256:0011' is not a valid sha256 selector" },
	{ "certs = pkcs11:serial=1;pin-value=1234\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: certs: 'pkcs11:serial=1;pin-value=1234' is not a valid "
	    "pkcs11 selector" },
	{ "certs = 0011223344556677889900112233445566778899001122334455667788990011\n",
	    SIGNET_ERR_FORMAT, "t.conf:3: certs: '001122334455667788990011223344"
	    "5566778899001122334455667788990011': expected any, none, sha256:HEX, "
	    "pkcs11:URI, subject:ATTR=VALUE, snils:, inn: or ogrn:" },
	{ "certs = subject:CN\n", SIGNET_ERR_FORMAT, "t.conf:3: certs: "
	    "'subject:CN': expected subject:ATTR=VALUE (e.g. subject:CN=Ivanov)" },
	{ "certs = subject:=x\n", SIGNET_ERR_FORMAT, "t.conf:3: certs: "
	    "'subject:=x': expected subject:ATTR=VALUE (e.g. subject:CN=Ivanov)" },
	{ "certs = subject:CN=\n", SIGNET_ERR_FORMAT, "t.conf:3: certs: "
	    "'subject:CN=': expected subject:ATTR=VALUE (e.g. subject:CN=Ivanov)" },
	{ "certs = subject:C N=x\n", SIGNET_ERR_FORMAT, "t.conf:3: certs: "
	    "'subject:C N=x': expected subject:ATTR=VALUE (e.g. subject:CN=Ivanov)" },
	{ "certs = subject:2..5=x\n", SIGNET_ERR_FORMAT, "t.conf:3: certs: "
	    "'subject:2..5=x': expected subject:ATTR=VALUE (e.g. subject:CN=Ivanov)" },
	{ "certs = snils:1234567890\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: certs: 'snils:1234567890': expected 11 digits" },
	{ "certs = snils:123.456.789 01\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: certs: 'snils:123.456.789 01': only digits, spaces and "
	    "'-' may follow the prefix" },
	{ "certs = inn:12345678901\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: certs: 'inn:12345678901': expected 10 or 12 digits" },
	{ "certs = ogrn:12345678901234\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: certs: 'ogrn:12345678901234': expected 13 or 15 digits" },
	{ "certs = CN=Ivanov\n", SIGNET_ERR_FORMAT, "t.conf:3: certs: "
	    "'CN=Ivanov': expected any, none, sha256:HEX, pkcs11:URI, "
	    "subject:ATTR=VALUE, snils:, inn: or ogrn:" },
	/* list syntax */
	{ "certs = subject:O=a, b\n", SIGNET_ERR_FORMAT, "t.conf:3: certs: 'b': "
	    "expected any, none, sha256:HEX, pkcs11:URI, subject:ATTR=VALUE, "
	    "snils:, inn: or ogrn:" },
	{ "certs = \"subject:O=a\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: certs: unterminated quote" },
	{ "certs = \"subject:O=a\\n\"\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: certs: only \\\" and \\\\ may follow a backslash in quotes" },
	{ "certs = \"subject:O=a\" x\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: certs: expected ',' after a quoted item" },
	{ "certs = subject:O=\"a\"\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: certs: a quote inside an item; quote the whole item" },
	{ "group = 1,,2\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: group: empty item in the list" },
	{ "group = 1,\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: group: empty item in the list" },
	{ "group = \"\"\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: group: empty item in the list" },
	/* inputs and digests */
	{ "inputs = data, file\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: inputs: unknown input 'file' (data, fd, digest)" },
	{ "inputs = data, data\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: inputs: 'data' listed twice" },
	{ "digests = sha1\n", SIGNET_ERR_FORMAT, "t.conf:3: digests: SHA-1 is "
	    "never accepted (collisions are practical); use sha256, sha384 or "
	    "sha512" },
	{ "digests = SHA-1\n", SIGNET_ERR_FORMAT, "t.conf:3: digests: SHA-1 is "
	    "never accepted (collisions are practical); use sha256, sha384 or "
	    "sha512" },
	{ "digests = sha256, md5\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: digests: unknown digest 'md5' (sha256, sha384, sha512, streebog256, streebog512)" },
	{ "digests = SHA256\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: digests: unknown digest 'SHA256' (sha256, sha384, sha512, streebog256, streebog512)" },
	/* sizes */
	{ "max_size = 10MB\n", SIGNET_ERR_FORMAT, "t.conf:3: max_size: '10MB' is "
	    "not a size (bytes, or with K, M, G: e.g. 10M)" },
	{ "max_size = 10 M\n", SIGNET_ERR_FORMAT, "t.conf:3: max_size: '10 M' is "
	    "not a size (bytes, or with K, M, G: e.g. 10M)" },
	{ "max_size = -1\n", SIGNET_ERR_FORMAT, "t.conf:3: max_size: '-1' is "
	    "not a size (bytes, or with K, M, G: e.g. 10M)" },
	{ "max_size = M\n", SIGNET_ERR_FORMAT, "t.conf:3: max_size: 'M' is "
	    "not a size (bytes, or with K, M, G: e.g. 10M)" },
	{ "max_size = 0\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: max_size: '0' is zero; write none for no limit" },
	{ "max_size = 99999999999G\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: max_size: '99999999999G' is too large" },
	{ "max_size = 99999999999999999999\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: max_size: '99999999999999999999' is not a size (bytes, or "
	    "with K, M, G: e.g. 10M)" },
	{ "max_size = 1M, 2M\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: max_size: takes one value, not a list" },
	/* durations */
	{ "[login]\nttl = 8x\n", SIGNET_ERR_FORMAT,
	    "t.conf:2: ttl: '8x': unknown unit 'x' (s, m, h, d)" },
	{ "[login]\nttl = h\n", SIGNET_ERR_FORMAT,
	    "t.conf:2: ttl: 'h' is not a duration (e.g. 90s, 15m, 8h, 1d, 1h30m)" },
	{ "[login]\nttl = 1h30\n", SIGNET_ERR_FORMAT,
	    "t.conf:2: ttl: '1h30': the last number has no unit (s, m, h, d)" },
	{ "[login]\nttl = 0\n", SIGNET_ERR_FORMAT,
	    "t.conf:2: ttl: '0' is zero; write none for no limit" },
	{ "[login]\nidle = 0m\n", SIGNET_ERR_FORMAT,
	    "t.conf:2: idle: '0m' is zero; write none for no limit" },
	{ "[login]\nttl = 367d\n", SIGNET_ERR_FORMAT,
	    "t.conf:2: ttl: '367d' is longer than 366d" },
	{ "[login]\nttl = 366d1s\n", SIGNET_ERR_FORMAT,
	    "t.conf:2: ttl: '366d1s' is longer than 366d" },
	{ "[login]\nttl = 99999999999999999999999s\n", SIGNET_ERR_FORMAT,
	    "t.conf:2: ttl: '99999999999999999999999s' is not a duration (e.g. "
	    "90s, 15m, 8h, 1d, 1h30m)" },
	{ "[login]\nttl = 31708801\n", SIGNET_ERR_FORMAT,
	    "t.conf:2: ttl: '31708801' is longer than 366d" },
	{ "[login]\nttl = -1h\n", SIGNET_ERR_FORMAT,
	    "t.conf:2: ttl: '-1h' is not a duration (e.g. 90s, 15m, 8h, 1d, "
	    "1h30m)" },
	{ "[login]\nttl = 1 h\n", SIGNET_ERR_FORMAT,
	    "t.conf:2: ttl: '1 h' is not a duration (e.g. 90s, 15m, 8h, 1d, "
	    "1h30m)" },
	{ "[login]\nidle = 15min\n", SIGNET_ERR_FORMAT,
	    "t.conf:2: idle: '15min': unknown unit 'min' (s, m, h, d)" },
	{ "[login]\nidle = 1h1h\n", SIGNET_ERR_FORMAT,
	    "t.conf:2: idle: '1h1h': unit 'h' given twice" },
	/* rates */
	{ "rate = 100\n", SIGNET_ERR_FORMAT, "t.conf:3: rate: '100': expected "
	    "N/PERIOD (e.g. 100/1h, 20/1m) or none" },
	{ "rate = /1h\n", SIGNET_ERR_FORMAT, "t.conf:3: rate: '/1h': expected "
	    "N/PERIOD (e.g. 100/1h, 20/1m) or none" },
	{ "rate = 100/\n", SIGNET_ERR_FORMAT, "t.conf:3: rate: '100/': expected "
	    "N/PERIOD (e.g. 100/1h, 20/1m) or none" },
	{ "rate = 0/1h\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: rate: '0': expected a number from 1 to 1000000" },
	{ "rate = 1000001/1h\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: rate: '1000001': expected a number from 1 to 1000000" },
	{ "rate = 100/0\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: rate: '100/0' is zero; write none for no limit" },
	{ "rate = 100/1y\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: rate: '100/1y': unknown unit 'y' (s, m, h, d)" },
	{ "rate = 100/hour\n", SIGNET_ERR_FORMAT, "t.conf:3: rate: '100/hour' is "
	    "not a duration (e.g. 90s, 15m, 8h, 1d, 1h30m)" },
	{ "rate = 100/367d\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: rate: '100/367d' is longer than 366d" },
	/* counts and words */
	{ "max_batch = 0\n", SIGNET_ERR_FORMAT, "t.conf:3: max_batch: '0': "
	    "expected a number from 1 to 256 or none" },
	{ "max_batch = 257\n", SIGNET_ERR_FORMAT, "t.conf:3: max_batch: '257': "
	    "expected a number from 1 to 256 or none" },
	{ "max_batch = 1e2\n", SIGNET_ERR_FORMAT, "t.conf:3: max_batch: '1e2': "
	    "expected a number from 1 to 256 or none" },
	{ "[login]\nmax_signatures = 0\n", SIGNET_ERR_FORMAT,
	    "t.conf:2: max_signatures: '0': expected a number from 1 to "
	    "1000000000 or none" },
	{ "pin_from_client = true\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: pin_from_client: 'true': expected yes or no" },
	{ "action = permit\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: action: 'permit': expected allow or deny" },
	{ "[login]\npin_source = client, sms\n", SIGNET_ERR_FORMAT,
	    "t.conf:2: pin_source: unknown PIN source 'sms' (client, pinentry, "
	    "pinpad)" },
	{ "[login]\npin_source = pinpad, pinpad\n", SIGNET_ERR_FORMAT,
	    "t.conf:2: pin_source: 'pinpad' listed twice" },
	{ "[login]\npin_source = none\n", SIGNET_ERR_FORMAT,
	    "t.conf:2: pin_source: unknown PIN source 'none' (client, pinentry, "
	    "pinpad)" },
	{ "[login]\nallow_final_try = yes\n", SIGNET_ERR_FORMAT,
	    "t.conf:2: allow_final_try: 'yes': expected ask or no" },
	{ "[login]\npinentry = pinentry-curses\n", SIGNET_ERR_FORMAT,
	    "t.conf:2: pinentry: 'pinentry-curses' is not an absolute path to a "
	    "file" },
	{ "[certs]\nca_bundle = ca.pem\n", SIGNET_ERR_FORMAT,
	    "t.conf:2: ca_bundle: 'ca.pem' is not an absolute path to a file" },
	{ "[certs]\nca_bundle = /a.pem, /b.pem\n", SIGNET_ERR_FORMAT,
	    "t.conf:2: ca_bundle: takes one value, not a list" },
	{ "[certs]\nrequire_key_usage = strict\n", SIGNET_ERR_FORMAT,
	    "t.conf:2: require_key_usage: 'strict': expected yes or no" },
	/* cross-checks at the end */
	{ "action = deny\ncerts = any\n", SIGNET_ERR_FORMAT, "t.conf:4: [rule r] "
	    "is a deny rule: it grants nothing, so 'certs' has no effect; "
	    "remove it" },
	{ "pin_from_client = no\naction = deny\n", SIGNET_ERR_FORMAT,
	    "t.conf:3: [rule r] is a deny rule: it grants nothing, so "
	    "'pin_from_client' has no effect; remove it" },
	{ "[login]\npin_source = pinpad\n[rule r]\npin_from_client = yes\n",
	    SIGNET_ERR_FORMAT, "t.conf:4: [rule r] has pin_from_client = yes, "
	    "but [login] pin_source does not list client" },
	{ "[rule a]\n[rule b]\nuser = 1\n", SIGNET_ERR_FORMAT,
	    "t.conf:2: [rule b] is never reached: [rule a] (t.conf:1) before it "
	    "has no user, group or exe and matches every client" },
};

static void
run_bads(void)
{
	struct policy p;
	enum policy_mode mode;
	char err[512], *text;
	size_t i;
	int rc;

	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		if (asprintf(&text, "%s%s", bads[i].text[0] == '[' ? "" :
		    "[rule r]\nuser = 1000\n", bads[i].text) < 0)
			abort();
		rc = parse(&p, "t.conf", text, &mode, err, sizeof(err), false);
		if (rc != bads[i].rc || strcmp(err, bads[i].err) != 0) {
			fprintf(stderr, "bad %zu: rc %d \"%s\"\n  want rc %d \"%s\"\n",
			    i, rc, err, bads[i].rc, bads[i].err);
			failures++;
		}
		if (rc == 0)
			policy_clear(&p);
		free(text);
	}
	printf("policy_conf_test: %zu bad values\n", i);
}

/* ---- Good values that need a word ---- */

static void
test_good_values(void)
{
	static const char conf[] =
	    "[login]\nttl = none\nidle = 1d\nmax_signatures = none\n"
	    "pinentry = \"/opt/pin entry/bin/pinentry\"\n"
	    "[rule r]\n"
	    "user = root\ngroup = root, nogroup\n"
	    "exe = /bin/sh\n"
	    "certs = PKCS11:serial=X, SHA256:00:11:22:33:44:55:66:77:88:99:AA:BB:"
	    "CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF\n"
	    "certs = \"subject:CN=spaced  \", subject:cn=lower, "
	    "subject:1.2.643.100.3=12345678901, snils:123 456 789-01\n"
	    "rate = 20/m\nmax_size = 512k\nmax_batch = none\n"
	    "[rule s]\nuser = 0\nrate = none\nmax_size = none\n"
	    "[rule t]\nuser = 1\nrate = 7/1d\nmax_size = 1048577\n"
	    "[rule u]\nuser = 2\nrate = 7/2h\n";
	struct policy p;
	enum policy_mode mode;
	char err[512], *real;

	if (parse(&p, "t.conf", conf, &mode, err, sizeof(err), false) != 0) {
		fprintf(stderr, "good values: %s\n", err);
		failures++;
		return;
	}
	CHECK(p.login.ttl == 0 && p.login.idle == 86400);
	CHECK(p.login.max_signatures == 0);
	CHECK_STR(policy_pinentry(&p), "/opt/pin entry/bin/pinentry");
	/* The system's names. */
	CHECK(p.rules[0].nuids == 1 && p.rules[0].uids[0] == 0);
	CHECK(p.rules[0].ngids == 2 && p.rules[0].gids[0] == 0 &&
	    p.rules[0].gids[1] != 0);
	/* A symlinked executable is matched by its target, as the kernel
	 * names it in /proc/PID/exe; the name as written is kept. */
	real = realpath("/bin/sh", NULL);
	CHECK(real != NULL);
	if (real != NULL)
		CHECK_STR(p.rules[0].exes[0], real);
	CHECK_STR(p.rules[0].exe_names[0], "/bin/sh");
	free(real);
	CHECK(p.rules[0].ncerts == 6);
	CHECK(p.rules[0].certs[1].sel.kind == SEL_SHA256 &&
	    p.rules[0].certs[1].sel.sha256[31] == 0xff);
	CHECK_STR(p.rules[0].certs[2].value, "spaced  ");
	CHECK_STR(p.rules[0].certs[2].text, "subject:CN=spaced  ");
	CHECK_STR(p.rules[0].certs[4].attr, "1.2.643.100.3");
	CHECK_STR(p.rules[0].certs[5].value, "12345678901");
	CHECK(p.rules[0].rate_count == 20 && p.rules[0].rate_period == 60);
	CHECK(p.rules[0].max_size == 512 * 1024);
	CHECK(p.rules[0].max_batch == 0);
	CHECK(p.rules[1].rate_count == 0 && p.rules[1].max_size == 0);
	CHECK(p.rules[2].rate_period == 86400 && p.rules[2].max_size == 1048577);
	CHECK(p.rules[3].rate_period == 7200);
	check_roundtrip("good values", &p, mode, false);
	policy_clear(&p);
}

/* ---- The API's edges ---- */

static void
test_api(void)
{
	struct policy p;
	char err[256], name[32], *text, *o;
	size_t i, len;
	enum policy_mode mode;

	policy_init(&p);
	/* Key/value pairs outside any policy section. */
	CHECK(policy_conf_kv(&p, "ttl", "1h", "f", 7, err, sizeof(err)) ==
	    SIGNET_ERR_FORMAT);
	CHECK_STR(err, "f:7: ttl: not inside a policy section");
	/* Brackets tolerated, blanks inside too. */
	CHECK(policy_conf_section(&p, "[login]", "f", 1, err, sizeof(err)) == 0);
	CHECK(policy_conf_kv(&p, "ttl", "1h", "f", 2, err, sizeof(err)) == 0);
	CHECK(policy_conf_kv(&p, "idle", "", "f", 3, err, sizeof(err)) ==
	    SIGNET_ERR_FORMAT);
	CHECK_STR(err, "f:3: idle: has no value");
	CHECK(policy_conf_section(&p, " rule   spaced ", "f", 4, err,
	    sizeof(err)) == 0);
	CHECK(p.nrules == 1);
	CHECK_STR(p.rules[0].name, "spaced");
	CHECK(policy_conf_kv(&p, "user", "1", "f", 5, err, sizeof(err)) == 0);
	/* An unknown section ends the policy section: its keys go nowhere. */
	CHECK(policy_conf_section(&p, "agents", "f", 6, err, sizeof(err)) ==
	    SIGNET_ERR_NOTFOUND);
	CHECK_STR(err, "f:6: unknown section [agents]");
	CHECK(policy_conf_kv(&p, "user", "2", "f", 7, err, sizeof(err)) ==
	    SIGNET_ERR_FORMAT);
	CHECK(p.rules[0].nuids == 1);
	/* A short error buffer is cut, never overrun. */
	CHECK(policy_conf_section(&p, "nope", "file", 1, err, 8) ==
	    SIGNET_ERR_NOTFOUND);
	CHECK_STR(err, "file:1:");
	CHECK(policy_conf_section(&p, "nope", "file", 1, NULL, 0) ==
	    SIGNET_ERR_NOTFOUND);
	CHECK(policy_conf_finish(&p, err, sizeof(err)) == 0);
	policy_clear(&p);

	/* POLICY_MAX_ITEMS in a list, across repeated keys. */
	len = 64 + POLICY_MAX_ITEMS * 8;
	text = malloc(len);
	o = text + sprintf(text, "[rule r]\nuser = ");
	for (i = 0; i < POLICY_MAX_ITEMS; i++)
		o += sprintf(o, "%s%zu", i ? "," : "", 10000 + i);
	sprintf(o, "\n");
	CHECK(parse(&p, "t", text, &mode, err, sizeof(err), false) == 0);
	CHECK(p.nrules == 1 && p.rules[0].nuids == POLICY_MAX_ITEMS);
	policy_clear(&p);
	sprintf(o, ",1\n");
	CHECK(parse(&p, "t", text, &mode, err, sizeof(err), false) ==
	    SIGNET_ERR_LIMIT);
	CHECK_STR(err, "t:2: user: more than 256 items");
	sprintf(o, "\nuser = 1\n");
	CHECK(parse(&p, "t", text, &mode, err, sizeof(err), false) ==
	    SIGNET_ERR_LIMIT);
	CHECK_STR(err, "t:3: user: more than 256 items in all");
	free(text);

	/* POLICY_MAX_RULES rules. */
	policy_init(&p);
	for (i = 0; i < POLICY_MAX_RULES; i++) {
		snprintf(name, sizeof(name), "rule r%zu", i);
		if (policy_conf_section(&p, name, "t", (unsigned)i + 1, err,
		    sizeof(err)) != 0 ||
		    policy_conf_kv(&p, "user", "1", "t", 1, err, sizeof(err)) != 0)
			break;
	}
	CHECK(i == POLICY_MAX_RULES);
	CHECK(policy_conf_section(&p, "rule one-too-many", "t", 9999, err,
	    sizeof(err)) == SIGNET_ERR_LIMIT);
	CHECK_STR(err, "t:9999: more than 1024 rules");
	CHECK(policy_conf_finish(&p, err, sizeof(err)) == 0);
	policy_clear(&p);
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: policy_conf_test FIXTURE_DIR\n");
		return 2;
	}
	run_fixtures(argv[1]);
	test_all_keys(argv[1]);
	test_gov(argv[1]);
	test_print_exact();
	run_bads();
	test_good_values();
	test_api();
	if (failures != 0) {
		fprintf(stderr, "policy_conf_test: %d failure(s)\n", failures);
		return 1;
	}
	printf("policy_conf_test: ok\n");
	return 0;
}
