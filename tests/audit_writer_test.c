/*
 * Unit test of agent/audit.c, the agent's audit writer, driven through
 * the agent's own event loop: records become durable in order and verify
 * with the officer's key; refusals (pin, data) take no seq; one writer per
 * log; rotation across files; a restart continues the chain; crash
 * shapes (state one group behind, a torn last line, a whole record
 * without its newline) are recovered; a full file system fails the
 * submit with SIGNET_ERR_IO and every later one too (fail closed); the
 * journal copy carries the structured fields.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "agent/audit.h"
#include "agent/loop.h"
#include "common/audit_chain.h"
#include "tests/lib/core_fixtures.h"

static char tmpdir[] = "/tmp/audit_writer_test.XXXXXX";
static struct loop *loop;

/* ---- driving the loop ------------------------------------------------- */

#define MAXREC 4096

struct results {
	int status[MAXREC];
	unsigned n;       /* callbacks seen */
	unsigned want;    /* stop the loop when n reaches it */
};

struct cb {
	struct results *res;
	unsigned idx;
	unsigned order;   /* callback order */
};

static struct cb cbs[MAXREC];
static unsigned cb_order;

static void
done(void *arg, int status)
{
	struct cb *c = arg;

	c->res->status[c->idx] = status;
	c->order = cb_order++;
	if (++c->res->n >= c->res->want)
		loop_stop(loop);
}

static void
timeout(void *arg)
{
	(void)arg;
	fprintf(stderr, "timed out waiting for audit callbacks\n");
	exit(1);
}

/* Runs the loop until res->want callbacks arrived. */
static void
wait_for(struct results *res)
{
	struct timer *t;

	if (res->n >= res->want)
		return;
	REQUIRE((t = loop_timer(loop, 20000, timeout, NULL)) != NULL);
	REQUIRE(loop_run(loop) == 0);
	loop_timer_cancel(t);
}

static json_t *
sign_event(unsigned i, const char *decision, size_t pad)
{
	json_t *ev = audit_event_new("sign");
	struct ucred peer = { .pid = getpid(), .uid = 1000 + i % 3, .gid = 100 };
	uint8_t d[32];
	char *reason;

	memset(d, (int)i, sizeof(d));
	REQUIRE(ev != NULL);
	REQUIRE(audit_event_str(ev, "decision", decision) == 0);
	REQUIRE(audit_event_client(ev, &peer, "/usr/bin/edms-client") == 0);
	REQUIRE(audit_event_str(ev, "token", "0123456789abcdef") == 0);
	REQUIRE(audit_event_document(ev, "sha256", d, sizeof(d), 1000 + i) == 0);
	if (pad > 0) {
		REQUIRE((reason = malloc(pad + 1)) != NULL);
		memset(reason, 'r', pad);
		reason[pad] = '\0';
		REQUIRE(audit_event_str(ev, "reason", reason) == 0);
		free(reason);
	}
	REQUIRE(audit_event_str(ev, "result", strcmp(decision, "allow") == 0 ?
	    "ok" : "refused") == 0);
	return ev;
}

/* Submits count events (all before running the loop: one group or a few)
 * and waits for them; returns how many succeeded. */
static unsigned
submit_n(struct audit *a, struct results *res, unsigned count, size_t pad)
{
	unsigned i, ok = 0, base = res->want;

	REQUIRE(base + count <= MAXREC);
	res->want += count;
	for (i = 0; i < count; i++) {
		cbs[base + i].res = res;
		cbs[base + i].idx = base + i;
		res->status[base + i] = 12345;
		audit_submit(a, sign_event(base + i, i % 5 == 4 ? "deny" : "allow",
		    pad), done, &cbs[base + i]);
	}
	wait_for(res);
	for (i = 0; i < count; i++)
		if (res->status[base + i] == 0)
			ok++;
	return ok;
}

/* One record, waited for; its status. */
static int
submit_one(struct audit *a, json_t *ev)
{
	struct results res = { .want = 1 };
	struct cb c = { .res = &res, .idx = 0 };

	res.status[0] = 12345;
	audit_submit(a, ev, done, &c);
	wait_for(&res);
	return res.status[0];
}

/* ---- the log on disk --------------------------------------------------- */

static char *
path_in(const char *dir, const char *name)
{
	char *p;

	REQUIRE(asprintf(&p, "%s/%s", dir, name) > 0);
	return p;
}

static char *
mkdir_in(const char *name)
{
	char *p = path_in(tmpdir, name);

	REQUIRE(mkdir(p, 0700) == 0);
	return p;
}

/* The file verify_dir's report names (the listing is freed). */
static char rep_file[64];

/* Verifies the whole directory; returns the verdict. */
static enum audit_verdict
verify_dir(const char *dir, const struct audit_vkey *vk,
    struct audit_report *rep, size_t *nfiles)
{
	struct audit_files f;
	int fd;

	REQUIRE((fd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0);
	REQUIRE(audit_files_list(fd, &f) == 0);
	REQUIRE(audit_verify(vk, fd, f.names, f.n, true, rep) == 0);
	if (nfiles != NULL)
		*nfiles = f.n;
	snprintf(rep_file, sizeof(rep_file), "%s", rep->file ? rep->file : "");
	rep->file = rep_file;
	rep->torn_file = NULL;
	if (rep->verdict != AUDIT_INTACT)
		fprintf(stderr, "  verify %s: %s at %s:%llu: %s\n", dir,
		    audit_verdict_name(rep->verdict), rep->file,
		    (unsigned long long)rep->line, rep->why);
	audit_files_free(&f);
	close(fd);
	return rep->verdict;
}

static off_t
file_size(const char *dir, const char *name)
{
	char *p = path_in(dir, name);
	struct stat sb;

	REQUIRE(stat(p, &sb) == 0);
	free(p);
	return sb.st_size;
}

static char *
last_file(const char *dir)
{
	struct audit_files f;
	char *name;
	int fd;

	REQUIRE((fd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0);
	REQUIRE(audit_files_list(fd, &f) == 0);
	REQUIRE(f.n > 0);
	name = strdup(f.names[f.n - 1]);
	audit_files_free(&f);
	close(fd);
	return name;
}

static void
read_whole(const char *path, char *buf, size_t cap, size_t *len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	REQUIRE(fd >= 0);
	REQUIRE((n = read(fd, buf, cap)) >= 0);
	*len = (size_t)n;
	close(fd);
}

static void
write_whole(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC);

	REQUIRE(fd >= 0);
	REQUIRE(write(fd, buf, len) == (ssize_t)len);
	close(fd);
}

static void
truncate_by(const char *dir, const char *name, off_t by)
{
	char *p = path_in(dir, name);

	REQUIRE(truncate(p, file_size(dir, name) - by) == 0);
	free(p);
}

/* ---- the cases ---------------------------------------------------------- */

static void
test_not_initialized(void)
{
	struct audit *a = (struct audit *)1;
	char *empty = mkdir_in("empty"), *none = path_in(tmpdir, "none");

	CHECK_EQ_INT(audit_open(&a, loop, none, 0), SIGNET_ERR_NOTFOUND);
	CHECK(a == NULL);
	CHECK_EQ_INT(audit_open(&a, loop, empty, 0), SIGNET_ERR_NOTFOUND);
	free(empty);
	free(none);
}

static void
test_basic(void)
{
	struct audit *a, *b = NULL;
	struct audit_vkey vk;
	struct audit_report rep;
	struct results res = { 0 };
	char *dir = path_in(tmpdir, "basic"), *name, *p;
	struct stat sb;
	size_t nfiles;
	unsigned i;

	REQUIRE(audit_dir_init(dir, 1, &vk) == 0);
	REQUIRE(audit_open(&a, loop, dir, 0) == 0);
	CHECK_EQ_INT(audit_set_journal(a, NULL), 0);
	CHECK_EQ_INT(audit_next_seq(a), 1);
	CHECK(!audit_failed(a));

	/* One writer per log. */
	CHECK_EQ_INT(audit_open(&b, loop, dir, 0), SIGNET_ERR_IO);
	CHECK(b == NULL);

	/* One at a time, then a burst: all durable, callbacks in order. */
	cb_order = 0;
	CHECK_EQ_INT(submit_n(a, &res, 1, 0), 1);
	CHECK_EQ_INT(submit_n(a, &res, 1, 0), 1);
	CHECK_EQ_INT(submit_n(a, &res, 40, 0), 40);
	for (i = 1; i < 42; i++)
		CHECK(cbs[i].order > cbs[i - 1].order);
	CHECK_EQ_INT(audit_next_seq(a), 43);

	/* Refused events take no seq and do not fail the writer. */
	CHECK_EQ_INT(submit_one(a, json_pack("{s:s, s:s}", "event", "login",
	    "pin", "123456")), SIGNET_ERR_FORMAT);
	CHECK_EQ_INT(submit_one(a, json_pack("{s:s, s:[{s:s}]}", "event", "sign",
	    "documents", "data", "aGVsbG8=")), SIGNET_ERR_FORMAT);
	CHECK_EQ_INT(submit_one(a, json_pack("{s:s}", "decision", "allow")),
	    SIGNET_ERR_FORMAT);
	CHECK_EQ_INT(audit_next_seq(a), 43);
	CHECK(!audit_failed(a));
	CHECK_EQ_INT(submit_one(a, audit_event_new("agent_stop")), 0);
	CHECK_EQ_INT(audit_next_seq(a), 44);
	audit_close(a);

	CHECK_EQ_INT(verify_dir(dir, &vk, &rep, &nfiles), AUDIT_INTACT);
	CHECK_EQ_INT(rep.records, 43);
	CHECK_EQ_INT(rep.first, 1);
	CHECK_EQ_INT(rep.last, 43);
	CHECK_EQ_INT(nfiles, 1);
	name = last_file(dir);
	CHECK(strcmp(name, "audit-00000000000000000001.log") == 0);
	p = path_in(dir, name);
	CHECK(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0640);
	free(p);
	free(name);

	/* A restart appends to the same file and continues the chain. */
	REQUIRE(audit_open(&a, loop, dir, 0) == 0);
	CHECK_EQ_INT(audit_next_seq(a), 44);
	CHECK_EQ_INT(submit_one(a, audit_event_new("agent_start")), 0);
	audit_close(a);
	CHECK_EQ_INT(verify_dir(dir, &vk, &rep, &nfiles), AUDIT_INTACT);
	CHECK_EQ_INT(rep.records, 44);
	CHECK_EQ_INT(nfiles, 1);

	/* The key in the state has moved on: k_0 is gone from the disk. */
	{
		char buf[AUDIT_STATE_SIZE + 8];
		struct audit_state st;
		uint8_t k44[AUDIT_KEY_LEN];
		size_t len;

		p = path_in(dir, AUDIT_STATE_NAME);
		read_whole(p, buf, sizeof(buf), &len);
		free(p);
		REQUIRE(audit_state_parse(buf, len, &st) == 0);
		CHECK_EQ_INT(st.next, 45);
		CHECK(memcmp(st.key, vk.k0, AUDIT_KEY_LEN) != 0);
		REQUIRE(audit_key_at(vk.k0, 44, k44) == 0);
		CHECK(memcmp(st.key, k44, AUDIT_KEY_LEN) == 0);
	}
	free(dir);
}

static void
test_rotation(void)
{
	struct audit *a;
	struct audit_vkey vk;
	struct audit_report rep;
	struct results res = { 0 };
	struct audit_files f;
	char *dir = path_in(tmpdir, "rotate");
	size_t nfiles, i;
	int fd;

	REQUIRE(audit_dir_init(dir, 1, &vk) == 0);
	REQUIRE(audit_open(&a, loop, dir, 4096) == 0);
	CHECK_EQ_INT(submit_n(a, &res, 1, 300), 1);
	CHECK_EQ_INT(submit_n(a, &res, 30, 300), 30);
	CHECK_EQ_INT(submit_n(a, &res, 5, 300), 5);
	audit_close(a);
	CHECK_EQ_INT(verify_dir(dir, &vk, &rep, &nfiles), AUDIT_INTACT);
	CHECK_EQ_INT(rep.records, 36);
	CHECK(nfiles >= 3);
	REQUIRE((fd = open(dir, O_RDONLY | O_DIRECTORY)) >= 0);
	REQUIRE(audit_files_list(fd, &f) == 0);
	CHECK_EQ_INT(f.first[0], 1);
	for (i = 0; i < f.n; i++)
		CHECK(file_size(dir, f.names[i]) <= 4096);
	/* Continuing after a restart rotates the same way. */
	REQUIRE(audit_open(&a, loop, dir, 4096) == 0);
	CHECK_EQ_INT(submit_n(a, &res, 10, 300), 10);
	audit_close(a);
	CHECK_EQ_INT(verify_dir(dir, &vk, &rep, &nfiles), AUDIT_INTACT);
	CHECK_EQ_INT(rep.records, 46);
	/* A middle file removed: deleted, at the next file's first line. */
	if (f.n >= 3) {
		char *p = path_in(dir, f.names[1]);

		REQUIRE(unlink(p) == 0);
		free(p);
		CHECK_EQ_INT(verify_dir(dir, &vk, &rep, NULL), AUDIT_DELETED);
		CHECK(strcmp(rep.file, f.names[2]) == 0);
		CHECK_EQ_INT(rep.line, 1);
	}
	audit_files_free(&f);
	close(fd);
	free(dir);
}

/* The state one group behind the log: rolled forward at open. */
static void
test_crash_state_behind(void)
{
	struct audit *a;
	struct audit_vkey vk;
	struct audit_report rep;
	struct results res = { 0 };
	char *dir = path_in(tmpdir, "behind"), *sp, old[AUDIT_STATE_SIZE + 8];
	size_t len;

	REQUIRE(audit_dir_init(dir, 1, &vk) == 0);
	sp = path_in(dir, AUDIT_STATE_NAME);
	REQUIRE(audit_open(&a, loop, dir, 0) == 0);
	CHECK_EQ_INT(submit_n(a, &res, 5, 0), 5);
	read_whole(sp, old, sizeof(old), &len);
	CHECK_EQ_INT(submit_n(a, &res, 7, 0), 7);
	audit_close(a);
	/* As if the agent died between the log's fdatasync and the
	 * state's: the 7 records are on disk, the state says 6 is next. */
	write_whole(sp, old, len);
	REQUIRE(audit_open(&a, loop, dir, 0) == 0);
	CHECK_EQ_INT(audit_next_seq(a), 13);
	CHECK_EQ_INT(submit_n(a, &res, 2, 0), 2);
	audit_close(a);
	CHECK_EQ_INT(verify_dir(dir, &vk, &rep, NULL), AUDIT_INTACT);
	CHECK_EQ_INT(rep.records, 14);

	/* The same, but the rolled-forward record was altered meanwhile:
	 * the writer refuses to go on (fail closed). */
	REQUIRE(audit_open(&a, loop, dir, 0) == 0);
	read_whole(sp, old, sizeof(old), &len);
	CHECK_EQ_INT(submit_n(a, &res, 1, 0), 1);
	audit_close(a);
	write_whole(sp, old, len);
	{
		char *lf = last_file(dir), *p = path_in(dir, lf), buf[65536];
		size_t n;
		char *c;

		read_whole(p, buf, sizeof(buf) - 1, &n);
		buf[n] = '\0';
		REQUIRE((c = strstr(buf, "\"seq\":15,")) != NULL);
		REQUIRE((c = strstr(c, "edms-client")) != NULL);
		*c = 'E';
		write_whole(p, buf, n);
		CHECK_EQ_INT(audit_open(&a, loop, dir, 0), SIGNET_ERR_FORMAT);
		free(lf);
		free(p);
	}
	free(sp);
	free(dir);
}

/* A torn last line: left in place, the chain goes on in a new file. */
static void
test_crash_torn(void)
{
	struct audit *a;
	struct audit_vkey vk;
	struct audit_report rep;
	struct results res = { 0 };
	char *dir = path_in(tmpdir, "torn"), *sp, *lf, *lf2;
	char old[AUDIT_STATE_SIZE + 8];
	size_t len, nfiles;

	REQUIRE(audit_dir_init(dir, 1, &vk) == 0);
	sp = path_in(dir, AUDIT_STATE_NAME);
	REQUIRE(audit_open(&a, loop, dir, 0) == 0);
	CHECK_EQ_INT(submit_n(a, &res, 4, 0), 4);
	read_whole(sp, old, sizeof(old), &len);
	CHECK_EQ_INT(submit_n(a, &res, 1, 0), 1);
	audit_close(a);
	/* Record 5 half written, the state still at 5. */
	write_whole(sp, old, len);
	lf = last_file(dir);
	truncate_by(dir, lf, 100);
	CHECK_EQ_INT(verify_dir(dir, &vk, &rep, NULL), AUDIT_TRUNCATED);
	CHECK(rep.torn_at_end);
	CHECK_EQ_INT(rep.line, 5);
	CHECK_EQ_INT(rep.records, 4);

	REQUIRE(audit_open(&a, loop, dir, 0) == 0);
	CHECK_EQ_INT(audit_next_seq(a), 5);
	CHECK_EQ_INT(submit_n(a, &res, 3, 0), 3);
	audit_close(a);
	lf2 = last_file(dir);
	CHECK(strcmp(lf2, "audit-00000000000000000005.log") == 0);
	/* Verify: a warning, not tampering; every record checks. */
	CHECK_EQ_INT(verify_dir(dir, &vk, &rep, &nfiles), AUDIT_TRUNCATED);
	CHECK(!rep.torn_at_end);
	CHECK_EQ_INT(rep.torn, 1);
	CHECK_EQ_INT(rep.records, 7);
	CHECK_EQ_INT(nfiles, 2);
	CHECK(strcmp(rep.file, lf) == 0);
	CHECK_EQ_INT(rep.line, 5);

	/* A torn first record of a file: the file holds nothing else and
	 * is moved aside, so its name can be used again. */
	REQUIRE(audit_open(&a, loop, dir, 0) == 0);
	audit_close(a); /* nothing written: the new file stays empty */
	free(lf2);
	lf2 = last_file(dir);
	read_whole(sp, old, sizeof(old), &len);
	REQUIRE(audit_open(&a, loop, dir, 300) == 0); /* rotate at once */
	CHECK_EQ_INT(submit_n(a, &res, 1, 400), 1);
	audit_close(a);
	write_whole(sp, old, len);
	free(lf2);
	lf2 = last_file(dir);
	CHECK(strcmp(lf2, "audit-00000000000000000008.log") == 0);
	truncate_by(dir, lf2, 10);
	REQUIRE(audit_open(&a, loop, dir, 0) == 0);
	CHECK_EQ_INT(submit_n(a, &res, 1, 0), 1);
	audit_close(a);
	CHECK_EQ_INT(verify_dir(dir, &vk, &rep, NULL), AUDIT_TRUNCATED);
	CHECK_EQ_INT(rep.records, 8);
	CHECK_EQ_INT(rep.torn, 1);
	free(lf);
	free(lf2);
	free(sp);
	free(dir);
}

/* A whole record without its newline is finished, not torn. */
static void
test_crash_newline(void)
{
	struct audit *a;
	struct audit_vkey vk;
	struct audit_report rep;
	struct results res = { 0 };
	char *dir = path_in(tmpdir, "newline"), *sp, *lf;
	char old[AUDIT_STATE_SIZE + 8];
	size_t len, nfiles;

	REQUIRE(audit_dir_init(dir, 1, &vk) == 0);
	sp = path_in(dir, AUDIT_STATE_NAME);
	REQUIRE(audit_open(&a, loop, dir, 0) == 0);
	CHECK_EQ_INT(submit_n(a, &res, 3, 0), 3);
	read_whole(sp, old, sizeof(old), &len);
	CHECK_EQ_INT(submit_n(a, &res, 1, 0), 1);
	audit_close(a);
	lf = last_file(dir);
	truncate_by(dir, lf, 1);
	/* The state current (record 4 in it) and behind (5 due / 4 due). */
	REQUIRE(audit_open(&a, loop, dir, 0) == 0);
	CHECK_EQ_INT(audit_next_seq(a), 5);
	audit_close(a);
	truncate_by(dir, lf, 1);
	write_whole(sp, old, len);
	REQUIRE(audit_open(&a, loop, dir, 0) == 0);
	CHECK_EQ_INT(audit_next_seq(a), 5);
	CHECK_EQ_INT(submit_n(a, &res, 1, 0), 1);
	audit_close(a);
	CHECK_EQ_INT(verify_dir(dir, &vk, &rep, &nfiles), AUDIT_INTACT);
	CHECK_EQ_INT(rep.records, 5);
	CHECK_EQ_INT(nfiles, 1);
	free(lf);
	free(sp);
	free(dir);
}

/* The log's tail removed while the agent was down: fail closed. */
static void
test_tail_removed(void)
{
	struct audit *a;
	struct audit_vkey vk;
	struct results res = { 0 };
	char *dir = path_in(tmpdir, "cut"), *lf, *p, buf[65536], *nl;
	size_t n;

	REQUIRE(audit_dir_init(dir, 1, &vk) == 0);
	REQUIRE(audit_open(&a, loop, dir, 0) == 0);
	CHECK_EQ_INT(submit_n(a, &res, 6, 0), 6);
	audit_close(a);
	lf = last_file(dir);
	p = path_in(dir, lf);
	read_whole(p, buf, sizeof(buf), &n);
	/* Keep the first 3 lines. */
	nl = memchr(buf, '\n', n);
	nl = memchr(nl + 1, '\n', n - (size_t)(nl + 1 - buf));
	nl = memchr(nl + 1, '\n', n - (size_t)(nl + 1 - buf));
	write_whole(p, buf, (size_t)(nl + 1 - buf));
	CHECK_EQ_INT(audit_open(&a, loop, dir, 0), SIGNET_ERR_FORMAT);
	/* Every file gone, state left: fail closed too. */
	REQUIRE(unlink(p) == 0);
	CHECK_EQ_INT(audit_open(&a, loop, dir, 0), SIGNET_ERR_FORMAT);
	free(p);
	free(lf);
	free(dir);
}

/* A full file system: fail closed, then recover after a restart. */
static void
test_disk_full(void)
{
	struct audit *a;
	struct audit_vkey vk;
	struct audit_report rep;
	struct results res = { 0 };
	char *mnt = mkdir_in("full"), *dir, *ballast;
	unsigned i, ok, first_fail = 0;
	int fd;

	if (unshare(CLONE_NEWNS) != 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("tmpfs", mnt, "tmpfs", 0, "size=64k,mode=0700") != 0) {
		printf("SKIP disk-full case: cannot mount a small tmpfs here "
		    "(%s); needs root and mount namespaces\n", strerror(errno));
		free(mnt);
		return;
	}
	dir = path_in(mnt, "audit");
	REQUIRE(audit_dir_init(dir, 1, &vk) == 0);
	/* Room to free later, as an administrator would. */
	ballast = path_in(mnt, "ballast");
	REQUIRE((fd = open(ballast, O_WRONLY | O_CREAT, 0600)) >= 0);
	{
		char z[16384];

		memset(z, 0, sizeof(z));
		REQUIRE(write(fd, z, sizeof(z)) == (ssize_t)sizeof(z));
	}
	close(fd);
	REQUIRE(audit_open(&a, loop, dir, 0) == 0);
	/* ~1 KiB records, one at a time, until the disk is full. */
	for (i = 0; i < 200; i++) {
		if (submit_n(a, &res, 1, 900) == 0) {
			first_fail = i;
			break;
		}
	}
	CHECK(first_fail > 5);
	CHECK_EQ_INT(res.status[first_fail], SIGNET_ERR_IO);
	CHECK(audit_failed(a));
	/* Fail closed: everything after fails, small records too. */
	ok = submit_n(a, &res, 5, 0);
	CHECK_EQ_INT(ok, 0);
	for (i = first_fail; i < res.want; i++)
		CHECK_EQ_INT(res.status[i], SIGNET_ERR_IO);
	CHECK_EQ_INT(submit_one(a, audit_event_new("agent_stop")),
	    SIGNET_ERR_IO);
	audit_close(a);
	/* What was acknowledged verifies; the failed write left a torn
	 * tail at most. */
	CHECK(verify_dir(dir, &vk, &rep, NULL) <= AUDIT_TRUNCATED);
	CHECK_EQ_INT(rep.records, first_fail);
	/* Space freed, agent restarted: the chain continues. */
	REQUIRE(unlink(ballast) == 0);
	REQUIRE(audit_open(&a, loop, dir, 0) == 0);
	CHECK_EQ_INT(submit_n(a, &res, 2, 0), 2);
	audit_close(a);
	CHECK(verify_dir(dir, &vk, &rep, NULL) <= AUDIT_TRUNCATED);
	CHECK_EQ_INT(rep.records, first_fail + 2);
	CHECK_EQ_INT(rep.last, first_fail + 2);
	free(ballast);
	free(dir);
	REQUIRE(umount(mnt) == 0);
	free(mnt);
}

/* The journal copy, to a socket of our own. */
static void
test_journal(void)
{
	struct audit *a;
	struct audit_vkey vk;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *dir = path_in(tmpdir, "journal"), *sock = path_in(tmpdir, "j.sock");
	char buf[70000];
	json_t *ev;
	ssize_t n;
	int fd;

	REQUIRE(audit_dir_init(dir, 1, &vk) == 0);
	REQUIRE((fd = socket(AF_UNIX, SOCK_DGRAM, 0)) >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	REQUIRE(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	REQUIRE(audit_open(&a, loop, dir, 0) == 0);
	REQUIRE(audit_set_journal(a, sock) == 0);
	ev = sign_event(7, "allow", 0);
	REQUIRE(audit_event_str(ev, "signature_sha256", "ab01") == 0);
	CHECK_EQ_INT(submit_one(a, ev), 0);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	CHECK(n > 0);
	if (n > 0) {
		buf[n] = '\0';
		CHECK(strstr(buf, "MESSAGE=audit: sign allow, uid 1001 "
		    "(/usr/bin/edms-client), token 0123456789abcdef, document "
		    "0707") != NULL);
		CHECK(strstr(buf, "\nPRIORITY=6\n") != NULL);
		CHECK(strstr(buf, "\nSYSLOG_IDENTIFIER=signetd\n") != NULL);
		CHECK(strstr(buf, "\nSIGNET_EVENT=sign\n") != NULL);
		CHECK(strstr(buf, "\nSIGNET_DECISION=allow\n") != NULL);
		CHECK(strstr(buf, "\nSIGNET_UID=1001\n") != NULL);
		CHECK(strstr(buf, "\nSIGNET_GID=100\n") != NULL);
		CHECK(strstr(buf, "\nSIGNET_EXE=/usr/bin/edms-client\n") != NULL);
		CHECK(strstr(buf, "\nSIGNET_TOKEN=0123456789abcdef\n") != NULL);
		CHECK(strstr(buf, "\nSIGNET_DOC_DIGEST=sha256:0707") != NULL);
		CHECK(strstr(buf, "\nSIGNET_SIGNATURE_SHA256=ab01\n") != NULL);
		CHECK(strstr(buf, "\nSIGNET_SEQ=1\n") != NULL);
		CHECK(strstr(buf, "\nSIGNET_RECORD={\"seq\":1,") != NULL);
		CHECK(strstr(buf, "\nSIGNET_LOG_ID=") != NULL);
	}
	/* A refusal is a notice; a value with a newline goes binary-safe. */
	ev = sign_event(8, "deny", 0);
	REQUIRE(audit_event_str(ev, "reason", "line1\nline2") == 0);
	CHECK_EQ_INT(submit_one(a, ev), 0);
	n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	CHECK(n > 0);
	if (n > 0) {
		static const char want[] = "\nSIGNET_REASON\n\x0b\0\0\0\0\0\0\0"
		    "line1\nline2\n";

		CHECK(memmem(buf, (size_t)n, "\nPRIORITY=5\n", 12) != NULL);
		CHECK(memmem(buf, (size_t)n, want, sizeof(want) - 1) != NULL);
	}
	/* No journal listening: the file record is unaffected. */
	close(fd);
	unlink(sock);
	CHECK_EQ_INT(submit_one(a, sign_event(9, "allow", 0)), 0);
	audit_close(a);
	free(dir);
	free(sock);
}

static void
test_event_helpers(void)
{
	EVP_PKEY *key = fx_key("p256");
	struct fx_cert_opts o = { .subject = "/C=RU/O=Org/CN=\xd0\x98\xd0\xb2"
	    "\xd0\xb0\xd0\xbd", .serial_hex = "0A1B", .key_usage = FX_KU_NONE };
	X509 *cert;
	json_t *ev = audit_event_new("sign"), *c;
	struct ucred me = { .pid = getpid(), .uid = getuid(), .gid = getgid() };
	const uint8_t sig[3] = { 1, 2, 3 };
	char *exe;

	o.not_before = time(NULL) - 60;
	o.not_after = time(NULL) + 3600;
	cert = fx_cert(key, NULL, NULL, &o);
	REQUIRE(ev != NULL);
	CHECK_EQ_INT(audit_event_cert(ev, cert), 0);
	c = json_object_get(ev, "cert");
	CHECK_EQ_INT(json_object_size(c), 3);
	CHECK_EQ_INT(json_string_length(json_object_get(c, "sha256")), 64);
	CHECK(strstr(json_string_value(json_object_get(c, "subject")),
	    "CN=\xd0\x98\xd0\xb2\xd0\xb0\xd0\xbd") != NULL);
	CHECK(json_string_value(json_object_get(c, "serial")) != NULL &&
	    strcasecmp(json_string_value(json_object_get(c, "serial")),
	    "0a1b") == 0);
	CHECK_EQ_INT(audit_event_client(ev, &me, NULL), 0);
	exe = audit_peer_exe(getpid());
	CHECK(exe != NULL && strstr(exe, "audit_writer_test") != NULL);
	CHECK(exe != NULL && strcmp(json_string_value(json_object_get(
	    json_object_get(ev, "client"), "exe")), exe) == 0);
	free(exe);
	CHECK(audit_peer_exe(0x7ffffff0) == NULL);
	CHECK_EQ_INT(audit_event_signature(ev, sig, sizeof(sig)), 0);
	/* sha256(01 02 03) */
	CHECK(strcmp(json_string_value(json_object_get(ev, "signature_sha256")),
	    "039058c6f2c0cb492c533b0a4d14ef77cc0f78abccced5287d84a1a2011cfb81") ==
	    0);
	CHECK_EQ_INT(audit_event_document(ev, "sha384", sig, 2, 77), 0);
	CHECK_EQ_INT(audit_event_document(ev, "sha256", sig, 1, 1), 0);
	CHECK_EQ_INT(json_array_size(json_object_get(ev, "documents")), 2);
	CHECK(strcmp(json_string_value(json_object_get(json_array_get(
	    json_object_get(ev, "documents"), 0), "digest")), "0102") == 0);
	CHECK_EQ_INT(audit_event_str(ev, "reason", NULL), SIGNET_ERR_FORMAT);
	/* Not UTF-8: refused by jansson, so the helper reports it. */
	CHECK(audit_event_str(ev, "reason", "\xff") != 0);
	json_decref(ev);
	X509_free(cert);
	EVP_PKEY_free(key);
}

int
main(void)
{
	char cmd[128];

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	REQUIRE(loop_new(&loop) == 0);
	test_not_initialized();
	test_basic();
	test_rotation();
	test_crash_state_behind();
	test_crash_torn();
	test_crash_newline();
	test_tail_removed();
	test_journal();
	test_event_helpers();
	test_disk_full();
	loop_free(loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	if (fx_failures) {
		fprintf(stderr, "audit_writer_test: %d failure(s)\n", fx_failures);
		return 1;
	}
	printf("audit_writer_test: ok\n");
	return 0;
}
