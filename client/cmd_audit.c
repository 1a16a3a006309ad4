/*
 * signet audit: subcommand table, where the log and the key live, reading
 * records, and the table that show and find print.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/cmd.h"
#include "client/cmd_audit.h"

#define AUDIT_USAGE "signet audit init|verify|show|find [<args>]"
#define SHORT_HEX 16 /* digest digits shown in the table */

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *description;
} audit_cmds[] = {
	{ "init",   audit_init_main,   "Set up a log and write the officer's "
	    "verification key" },
	{ "verify", audit_verify_main, "Check the chain and every record's MAC" },
	{ "show",   audit_show_main,   "List records, filtered" },
	{ "find",   audit_find_main,   "Every record about a document" },
};

int
audit_main(int argc, char **argv)
{
	size_t i;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		FILE *f = argc < 2 ? stderr : stdout;

		fprintf(f, "usage: %s\n\n", AUDIT_USAGE);
		for (i = 0; i < sizeof(audit_cmds) / sizeof(audit_cmds[0]); i++)
			fprintf(f, "  %-7s %s\n", audit_cmds[i].name,
			    audit_cmds[i].description);
		fprintf(f, "\nSee signet(1), AUDIT, and docs/audit.md.\n");
		return argc < 2 ? SIGNET_EXIT_USAGE : SIGNET_EXIT_OK;
	}
	for (i = 0; i < sizeof(audit_cmds) / sizeof(audit_cmds[0]); i++)
		if (strcmp(argv[1], audit_cmds[i].name) == 0)
			return audit_cmds[i].fn(argc - 1, argv + 1);
	return cmd_usage_error("audit", AUDIT_USAGE, "unknown command '%s'",
	    argv[1]);
}

char *
audit_dir_arg(const char *sub, const char *dir, bool system)
{
	char *d = dir != NULL ? strdup(dir) : audit_default_dir(system);

	if (d == NULL)
		cmd_error(sub, "usage", "no log directory: give --dir (neither "
		    "XDG_STATE_HOME nor HOME is set)");
	return d;
}

/* ---- reading records -------------------------------------------------- */

static int
each_file(const char *sub, int dirfd, const char *path, audit_rec_fn fn,
    void *arg, bool *warned)
{
	struct audit_reader rd;
	struct audit_rec r;
	char *line;
	size_t len;
	bool complete, over;
	uint64_t off;
	int n, ret = 0;

	if ((n = audit_reader_open(&rd, dirfd, path)) != 0) {
		cmd_error(sub, SIGNET_CLIENT_R_IO_ERROR, "%s: %s", path,
		    n == SIGNET_ERR_NOMEM ? "out of memory" : strerror(errno));
		return SIGNET_EXIT_INTERNAL;
	}
	while ((n = audit_reader_next(&rd, &line, &len, &complete, &over,
	    &off)) == 1) {
		if (over || audit_line_parse(line, len, &r, true) != 0) {
			if (!*warned)
				cmd_warn(sub, "%s:%llu is not a record (skipped; "
				    "run signet audit verify)", path,
				    (unsigned long long)rd.lineno);
			*warned = true;
			continue;
		}
		ret = fn(arg, &r, line, len);
		json_decref(r.obj);
		if (ret != 0)
			break;
	}
	if (n < 0) {
		cmd_error(sub, SIGNET_CLIENT_R_IO_ERROR, "%s: %s", path,
		    strerror(errno));
		ret = SIGNET_EXIT_INTERNAL;
	}
	audit_reader_close(&rd);
	return ret;
}

int
audit_each(const char *sub, const char *dir, char **paths, int npaths,
    audit_rec_fn fn, void *arg)
{
	struct audit_files f;
	bool warned = false;
	size_t i;
	int dirfd, ret = 0;

	if (npaths > 0) {
		for (i = 0; i < (size_t)npaths && ret == 0; i++)
			ret = each_file(sub, AT_FDCWD, paths[i], fn, arg, &warned);
		return ret;
	}
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		cmd_error(sub, SIGNET_CLIENT_R_IO_ERROR, "%s: %s", dir,
		    strerror(errno));
		return SIGNET_EXIT_INTERNAL;
	}
	if (audit_files_list(dirfd, &f) != 0) {
		cmd_error(sub, SIGNET_CLIENT_R_IO_ERROR, "cannot list %s", dir);
		close(dirfd);
		return SIGNET_EXIT_INTERNAL;
	}
	for (i = 0; i < f.n && ret == 0; i++)
		ret = each_file(sub, dirfd, f.names[i], fn, arg, &warned);
	audit_files_free(&f);
	close(dirfd);
	return ret;
}

/* ---- the table -------------------------------------------------------- */

struct audit_table {
	bool json;
	size_t count;
	struct table t;
};

static const char *const audit_head[] = {
	"SEQ", "TIME (UTC)", "EVENT", "DECISION", "UID", "EXE", "CERT",
	"SUBJECT", "DOCUMENT", "REASON", "RESULT",
};
#define AUDIT_NCOLS (sizeof(audit_head) / sizeof(audit_head[0]))

struct audit_table *
audit_table_new(bool json)
{
	struct audit_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->json = json;
	table_init(&t->t, AUDIT_NCOLS);
	if (!json && table_add(&t->t, audit_head) != 0) {
		free(t);
		return NULL;
	}
	return t;
}

/* "CN=..." out of an RFC 2253 subject; the whole subject without one. */
static char *
subject_cn(const char *s)
{
	const char *p = s, *e;

	if (s == NULL)
		return NULL;
	while (p != NULL && *p != '\0') {
		if (strncmp(p, "CN=", 3) == 0) {
			/* up to an unescaped comma */
			for (e = p + 3; *e != '\0' && *e != ','; e++)
				if (*e == '\\' && e[1] != '\0')
					e++;
			return strndup(p + 3, (size_t)(e - p - 3));
		}
		if ((p = strchr(p, ',')) != NULL)
			p++;
	}
	return strdup(s);
}

static char *
short_hex(const char *alg, const char *hex, size_t more)
{
	char *s;

	if (hex == NULL)
		return NULL;
	if (asprintf(&s, "%s%s%.*s%s%s", alg ? alg : "", alg ? ":" : "",
	    SHORT_HEX, hex, strlen(hex) > SHORT_HEX ? "..." : "",
	    more > 0 ? " (+more)" : "") < 0)
		return NULL;
	return s;
}

int
audit_table_add(struct audit_table *t, const struct audit_rec *r,
    const char *line, size_t len)
{
	json_t *o = r->obj, *client = json_object_get(o, "client");
	json_t *cert = json_object_get(o, "cert");
	json_t *docs = json_object_get(o, "documents"), *d0;
	char seq[24], uid[24] = "", time[24] = "", *cn, *ch, *dh;
	const char *ts;
	const char *row[AUDIT_NCOLS];
	int err;

	t->count++;
	if (t->json) {
		/* The record as it is in the log: one JSON object a line. */
		fwrite(line, 1, len, stdout);
		fputc('\n', stdout);
		return 0;
	}
	snprintf(seq, sizeof(seq), "%llu", (unsigned long long)r->seq);
	if ((ts = json_string_value(json_object_get(o, "time"))) != NULL) {
		snprintf(time, sizeof(time), "%.19s", ts);
		if (strlen(time) > 10)
			time[10] = ' ';
	}
	if (json_is_integer(json_object_get(client, "uid")))
		snprintf(uid, sizeof(uid), "%lld",
		    (long long)json_integer_value(json_object_get(client, "uid")));
	d0 = json_array_get(docs, 0);
	cn = subject_cn(json_string_value(json_object_get(cert, "subject")));
	ch = short_hex(NULL, json_string_value(json_object_get(cert, "sha256")),
	    0);
	dh = short_hex(json_string_value(json_object_get(d0, "digest_alg")),
	    json_string_value(json_object_get(d0, "digest")),
	    json_array_size(docs) > 1);
	row[0] = seq;
	row[1] = time;
	row[2] = json_string_value(json_object_get(o, "event"));
	row[3] = json_string_value(json_object_get(o, "decision"));
	row[4] = uid;
	row[5] = json_string_value(json_object_get(client, "exe"));
	row[6] = ch;
	row[7] = cn;
	row[8] = dh;
	row[9] = json_string_value(json_object_get(o, "reason"));
	row[10] = json_string_value(json_object_get(o, "result"));
	err = table_add(&t->t, row);
	free(cn);
	free(ch);
	free(dh);
	return err;
}

size_t
audit_table_print(struct audit_table *t)
{
	size_t n = t->count;

	if (!t->json && n > 0)
		table_print(&t->t, stdout);
	table_free(&t->t);
	free(t);
	return n;
}
