/*
 * Verifying an audit log with the officer's key (audit_chain.h,
 * docs/audit.md): one pass over the records, evolving the key from k_0
 * as the writer did; a second look ahead only at the first bad record,
 * to tell a reordering from a deletion.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/audit_chain.h"

struct vstate {
	const struct audit_vkey *k;
	int dirfd;
	char *const *paths;
	size_t n;
	struct audit_report *rep;
	bool have_expect;
	uint64_t expect;             /* seq due next */
	uint8_t key[AUDIT_KEY_LEN];  /* k_{expect - start} */
	bool have_prev;
	uint8_t prev[AUDIT_HASH_LEN];/* hash of record expect - 1 */
	/* A line that is not a record: fatal unless nothing follows it. */
	bool bad_pending;
	size_t bad_file;
	uint64_t bad_line;
	char bad_why[128];
	/* A torn line at a file's end: a crash, if the chain goes on. */
	bool torn_pending;
	size_t torn_file;
	uint64_t torn_line;
};

const char *
audit_verdict_name(enum audit_verdict v)
{
	switch (v) {
	case AUDIT_INTACT: return "intact";
	case AUDIT_TRUNCATED: return "truncated tail";
	case AUDIT_MODIFIED: return "modified";
	case AUDIT_DELETED: return "deleted";
	case AUDIT_REORDERED: return "reordered";
	}
	return "unknown";
}

static void
verdict(struct vstate *v, enum audit_verdict what, size_t file,
    uint64_t line, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
verdict(struct vstate *v, enum audit_verdict what, size_t file,
    uint64_t line, const char *fmt, ...)
{
	va_list ap;

	v->rep->verdict = what;
	v->rep->file = v->paths[file];
	v->rep->line = line;
	va_start(ap, fmt);
	vsnprintf(v->rep->why, sizeof(v->rep->why), fmt, ap);
	va_end(ap);
}

/* Where does record seq occur after (file, line)? */
static bool
find_later(struct vstate *v, size_t file, uint64_t line, uint64_t seq,
    size_t *at_file, uint64_t *at_line)
{
	struct audit_reader rd;
	char *l;
	size_t len, i;
	bool complete, over, found = false;
	uint64_t off, s;

	for (i = file; i < v->n && !found; i++) {
		if (audit_reader_open(&rd, v->dirfd, v->paths[i]) != 0)
			continue;
		while (audit_reader_next(&rd, &l, &len, &complete, &over,
		    &off) == 1) {
			if (i == file && rd.lineno <= line)
				continue;
			if (audit_line_seq(l, len, &s) == 0 && s == seq) {
				*at_file = i;
				*at_line = rd.lineno;
				found = true;
				break;
			}
		}
		audit_reader_close(&rd);
	}
	return found;
}

/* A record where another seq was due. Always ends the check. */
static int
out_of_place(struct vstate *v, size_t file, uint64_t line, const char *text,
    size_t len, const struct audit_rec *r)
{
	uint8_t key[AUDIT_KEY_LEN];
	size_t af;
	uint64_t al;
	bool ok;
	int err;

	/* Not even its own MAC: the record itself was altered (its seq,
	 * most likely). */
	if (r->seq < v->k->id.start) {
		verdict(v, AUDIT_MODIFIED, file, line, "record %" PRIu64 " is "
		    "before the log's start (%" PRIu64 ")", r->seq,
		    v->k->id.start);
		return 0;
	}
	if ((err = audit_key_at(v->k->k0, r->seq - v->k->id.start, key)) != 0)
		return err;
	ok = audit_line_mac_ok(text, len, r, key);
	explicit_bzero(key, sizeof(key));
	if (!ok) {
		verdict(v, AUDIT_MODIFIED, file, line, "MAC mismatch (record %"
		    PRIu64 " was due)", v->expect);
		return 0;
	}
	if (r->seq < v->expect) {
		verdict(v, AUDIT_REORDERED, file, line, "record %" PRIu64
		    " comes after record %" PRIu64, r->seq, v->expect - 1);
		return 0;
	}
	if (find_later(v, file, line, v->expect, &af, &al)) {
		verdict(v, AUDIT_REORDERED, file, line, "record %" PRIu64
		    " comes before record %" PRIu64 " (%s:%" PRIu64 ")", r->seq,
		    v->expect, v->paths[af], al);
		return 0;
	}
	if (r->seq == v->expect + 1)
		verdict(v, AUDIT_DELETED, file, line, "record %" PRIu64
		    " is missing before record %" PRIu64, v->expect, r->seq);
	else
		verdict(v, AUDIT_DELETED, file, line, "records %" PRIu64 "..%"
		    PRIu64 " are missing before record %" PRIu64, v->expect,
		    r->seq - 1, r->seq);
	return 0;
}

/* 1: the record checks and the state moved on; 0: a verdict was set. */
static int
check_record(struct vstate *v, size_t file, uint64_t line, const char *text,
    size_t len, const struct audit_rec *r)
{
	uint8_t g[AUDIT_HASH_LEN];
	int err;

	if (!v->have_expect) {
		/* The first record of a list of files decides where the
		 * check starts; a whole directory starts at the log's start. */
		v->have_expect = true;
		if (r->seq >= v->k->id.start) {
			v->expect = r->seq;
			if ((err = audit_key_at(v->k->k0, r->seq - v->k->id.start,
			    v->key)) != 0)
				return err;
		}
	}
	if (r->seq != v->expect)
		return (err = out_of_place(v, file, line, text, len, r)) < 0 ?
		    err : 0;
	if (!audit_line_mac_ok(text, len, r, v->key)) {
		verdict(v, AUDIT_MODIFIED, file, line, "MAC mismatch (record %"
		    PRIu64 ")", r->seq);
		return 0;
	}
	if (r->seq == v->k->id.start && !v->have_prev) {
		audit_genesis(&v->k->id, g);
		if (memcmp(g, r->prev, AUDIT_HASH_LEN) != 0) {
			verdict(v, AUDIT_MODIFIED, file, line, "the first record "
			    "does not start this log's chain");
			return 0;
		}
	}
	if (v->have_prev && memcmp(v->prev, r->prev, AUDIT_HASH_LEN) != 0) {
		verdict(v, AUDIT_MODIFIED, file, line, "chain broken: prev is "
		    "not the hash of record %" PRIu64, r->seq - 1);
		return 0;
	}
	if (v->torn_pending) {
		/* The chain continues past a torn line: a crash, recovered. */
		v->torn_pending = false;
		if (v->rep->torn++ == 0) {
			v->rep->torn_file = v->paths[v->torn_file];
			v->rep->torn_line = v->torn_line;
		}
	}
	audit_line_hash(text, len, v->prev);
	v->have_prev = true;
	if ((err = audit_key_evolve(v->key)) != 0)
		return err;
	if (v->rep->records++ == 0)
		v->rep->first = r->seq;
	v->rep->last = r->seq;
	v->expect++;
	return 1;
}

/* One line; 1 to go on, 0 when a verdict is set, <0 on error. */
static int
check_line(struct vstate *v, size_t file, uint64_t line, char *text,
    size_t len, bool complete, bool oversize)
{
	struct audit_rec r;
	int err;

	if (v->bad_pending) {
		/* Something follows a line that is not a record. */
		verdict(v, AUDIT_MODIFIED, v->bad_file, v->bad_line, "%s",
		    v->bad_why);
		return 0;
	}
	if (oversize || audit_line_parse(text, len, &r, false) != 0) {
		if (!complete) {
			if (v->torn_pending && v->rep->torn++ == 0) {
				/* Two torn ends in a row: both crashes. */
				v->rep->torn_file = v->paths[v->torn_file];
				v->rep->torn_line = v->torn_line;
			}
			v->torn_pending = true;
			v->torn_file = file;
			v->torn_line = line;
			return 1;
		}
		v->bad_pending = true;
		v->bad_file = file;
		v->bad_line = line;
		snprintf(v->bad_why, sizeof(v->bad_why), oversize ?
		    "line longer than %u bytes: not a record" :
		    "not a record (malformed JSON or fields)", AUDIT_MAX_LINE);
		return 1;
	}
	/* A whole record missing only its newline counts as a record. */
	if ((err = check_record(v, file, line, text, len, &r)) != 1)
		return err;
	return 1;
}

int
audit_verify(const struct audit_vkey *k, int dirfd, char *const *paths,
    size_t n, bool from_start, struct audit_report *rep)
{
	struct vstate v = { .k = k, .dirfd = dirfd, .paths = paths, .n = n,
		.rep = rep };
	struct audit_reader rd;
	char *text;
	size_t len, i;
	bool complete, over;
	uint64_t off;
	int r = 1, err = 0;

	memset(rep, 0, sizeof(*rep));
	if (from_start) {
		v.have_expect = true;
		v.expect = k->id.start;
		memcpy(v.key, k->k0, AUDIT_KEY_LEN);
	}
	for (i = 0; i < n && r == 1; i++) {
		if ((err = audit_reader_open(&rd, dirfd, paths[i])) != 0) {
			rep->file = paths[i];
			goto out;
		}
		if (v.bad_pending) {
			/* Not a record, at the end of a file that is not the
			 * last: a crash does not write that. */
			verdict(&v, AUDIT_MODIFIED, v.bad_file, v.bad_line, "%s",
			    v.bad_why);
			r = 0;
		}
		while (r == 1 && (r = audit_reader_next(&rd, &text, &len,
		    &complete, &over, &off)) == 1)
			r = check_line(&v, i, rd.lineno, text, len, complete, over);
		audit_reader_close(&rd);
		if (r < 0) {
			err = r;
			rep->file = paths[i];
			goto out;
		}
		if (r == 0 && rep->verdict == AUDIT_INTACT)
			r = 1; /* end of this file, on to the next */
	}
	if (rep->verdict != AUDIT_INTACT)
		goto out;
	if (v.bad_pending || v.torn_pending) {
		/* The log ends in a line that is not a record. */
		rep->torn_at_end = true;
		if (rep->torn++ == 0) {
			rep->torn_file = paths[v.bad_pending ? v.bad_file :
			    v.torn_file];
			rep->torn_line = v.bad_pending ? v.bad_line : v.torn_line;
		}
	}
	if (rep->torn > 0) {
		rep->verdict = AUDIT_TRUNCATED;
		rep->file = rep->torn_file;
		rep->line = rep->torn_line;
		snprintf(rep->why, sizeof(rep->why), rep->torn_at_end &&
		    rep->torn == 1 ? "the last line is incomplete (a crash "
		    "while writing), not a record" : "a torn line (a crash "
		    "while writing); the chain continues after it");
	}
out:
	explicit_bzero(v.key, sizeof(v.key));
	return err;
}
