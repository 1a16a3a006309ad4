/*
 * The audit writer (audit.h, docs/audit.md): a thread doing group commit
 * behind the event loop.
 *
 * Order of a group, which is what makes a crash harmless:
 *   1. lines formatted, each MACed under k_i, the key evolved and the old
 *      one wiped after each;
 *   2. one write of all lines, fdatasync of the log file;
 *   3. the state (next seq, its key, prev hash) rewritten in place,
 *      fdatasync;
 *   4. completions posted to the loop.
 * A crash before 2 ends loses only unacknowledged records. Between 2 and
 * 3 the state is behind: audit_open finds the records past it, checks
 * their MACs with the state's key and rolls forward, so no key is ever
 * used for two different seqs and the chain continues. A crash inside 2
 * leaves a torn last line: it stays where it is (append-only), and the
 * chain continues in a new file; `signet audit verify` reports it as a
 * truncated tail, not as tampering.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent/audit.h"
#include "agent/log.h"
#include "common/audit_chain.h"

#define AUDIT_GROUP_MAX_BYTES (4u * 1024u * 1024u) /* lines per write */
#define AUDIT_JOURNAL_SOCKET  "/run/systemd/journal/socket"
#define AUDIT_STATE_ALLOC     4096u /* one locked page for the key */

struct audit_item {
	struct audit_item *next;
	char *body;
	size_t body_len;
	char *jfields;          /* journal fields, or NULL */
	size_t jlen;
	audit_done_fn fn;
	void *arg;
	int status;
	uint64_t seq;
	size_t line_off, line_len; /* in the group buffer while written */
};

struct audit {
	struct loop *loop;
	char *dir;
	int dirfd, statefd, logfd, efd, jfd;
	struct watch *watch;
	pthread_t thread;
	bool started;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* Under mu. */
	struct audit_item *queue, **queue_tail;
	size_t queued_bytes;
	struct audit_item *done, **done_tail;
	bool closing;
	bool failed;            /* also read atomically without mu */
	uint64_t next_pub;

	/* The writer thread's own (and audit_open's before it starts). */
	struct audit_state *st; /* locked page: the current key */
	uint64_t max_file;
	uint64_t file_size;
	char *gbuf;
	size_t gcap;
	struct sockaddr_un jaddr;
	socklen_t jaddr_len;
	uint64_t journal_lost;
	char logid[33];
};

/* ---- small I/O helpers ------------------------------------------------ */

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, p, n)) < 0) {
			if (errno == EINTR)
				continue;
			return SIGNET_ERR_IO;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The state, in place: one sector-sized write at offset 0. */
static int
state_write(struct audit *a)
{
	char buf[AUDIT_STATE_SIZE];
	int err = 0;

	audit_state_format(a->st, buf);
	if (pwrite(a->statefd, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf) ||
	    fdatasync(a->statefd) != 0)
		err = SIGNET_ERR_IO;
	explicit_bzero(buf, sizeof(buf));
	if (err != 0)
		log_err("audit: cannot update %s/%s: %s", a->dir,
		    AUDIT_STATE_NAME, strerror(errno));
	return err;
}

/* A new log file whose first record is seq; replaces a->logfd. */
static int
file_create(struct audit *a, uint64_t seq)
{
	char name[AUDIT_FILE_NAME_LEN + 1];
	int fd;

	snprintf(name, sizeof(name), AUDIT_FILE_FMT, (unsigned long long)seq);
	fd = openat(a->dirfd, name, O_WRONLY | O_APPEND | O_CREAT | O_EXCL |
	    O_CLOEXEC | O_NOFOLLOW, 0640);
	/* 0640 whatever the umask: the agent's group may read, never write. */
	if (fd < 0 || fchmod(fd, 0640) != 0 || fsync(a->dirfd) != 0) {
		log_err("audit: cannot create %s/%s: %s", a->dir, name,
		    strerror(errno));
		if (fd >= 0)
			close(fd);
		return SIGNET_ERR_IO;
	}
	if (a->logfd >= 0)
		close(a->logfd);
	a->logfd = fd;
	a->file_size = 0;
	return 0;
}

/* Writes and syncs bytes of the current file. */
static int
file_append(struct audit *a, const char *p, size_t n)
{
	if (n == 0)
		return 0;
	if (write_all(a->logfd, p, n) != 0 || fdatasync(a->logfd) != 0) {
		log_err("audit: cannot write the log in %s: %s", a->dir,
		    strerror(errno));
		return SIGNET_ERR_IO;
	}
	a->file_size += n;
	return 0;
}

/* ---- the writer thread ------------------------------------------------ */

static int
gbuf_reserve(struct audit *a, size_t need)
{
	size_t ncap = a->gcap ? a->gcap : 65536;
	char *p;

	if (need <= a->gcap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	if ((p = realloc(a->gbuf, ncap)) == NULL)
		return SIGNET_ERR_NOMEM;
	a->gbuf = p;
	a->gcap = ncap;
	return 0;
}

static int
write_group(struct audit *a, struct audit_item *group)
{
	struct audit_item *it;
	struct audit_state *st = a->st;
	struct timespec now;
	size_t used = 0, flushed = 0, n;
	int err;

	for (it = group; it != NULL; it = it->next) {
		if ((err = gbuf_reserve(a, used + it->body_len +
		    AUDIT_LINE_OVERHEAD)) != 0)
			return err;
		clock_gettime(CLOCK_REALTIME, &now);
		if ((err = audit_line_make(a->gbuf + used, a->gcap - used, &n,
		    st->next, &now, st->prev, it->body, it->body_len,
		    st->key)) != 0)
			return err;
		/* Rotation: the line opens the next file when it would push a
		 * non-empty one past the cap. The state is brought up to the
		 * old file's end first, so records past the state always sit
		 * in the last file. */
		if (a->file_size + (used - flushed) > 0 &&
		    a->file_size + (used - flushed) + n > a->max_file) {
			if ((err = file_append(a, a->gbuf + flushed,
			    used - flushed)) != 0 ||
			    (err = state_write(a)) != 0 ||
			    (err = file_create(a, st->next)) != 0)
				return err;
			flushed = used;
		}
		audit_line_hash(a->gbuf + used, n - 1, st->prev);
		if ((err = audit_key_evolve(st->key)) != 0)
			return err;
		it->seq = st->next++;
		it->line_off = used;
		it->line_len = n;
		used += n;
	}
	if ((err = file_append(a, a->gbuf + flushed, used - flushed)) != 0)
		return err;
	return state_write(a);
}

static void
journal_send(struct audit *a, struct audit_item *group)
{
	struct audit_item *it;
	char seq[24];
	char *buf;
	size_t len;

	for (it = group; it != NULL; it = it->next) {
		if (it->jfields == NULL)
			continue;
		if ((buf = malloc(it->jlen)) == NULL)
			goto lost;
		memcpy(buf, it->jfields, it->jlen);
		len = it->jlen;
		snprintf(seq, sizeof(seq), "%" PRIu64, it->seq);
		if (audit_journal_add(&buf, &len, "SIGNET_SEQ", seq,
		    strlen(seq)) != 0 ||
		    audit_journal_add(&buf, &len, "SIGNET_LOG_ID", a->logid,
		    strlen(a->logid)) != 0 ||
		    audit_journal_add(&buf, &len, "SIGNET_RECORD",
		    a->gbuf + it->line_off, it->line_len - 1) != 0) {
			free(buf);
			goto lost;
		}
		/* Never blocks: a full journal loses its copy, not ours. */
		if (sendto(a->jfd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL,
		    (struct sockaddr *)&a->jaddr, a->jaddr_len) < 0) {
			free(buf);
			goto lost;
		}
		free(buf);
		continue;
lost:
		if (a->journal_lost++ % 1000 == 0)
			log_warn("audit: record %" PRIu64 " not sent to the "
			    "journal (%" PRIu64 " so far); the file has it",
			    it->seq, a->journal_lost);
	}
}

static void
post(struct audit *a)
{
	uint64_t one = 1;

	/* An eventfd add cannot fail short of a counter overflow. */
	if (write(a->efd, &one, sizeof(one)) != sizeof(one))
		log_err("audit: cannot wake the event loop: %s", strerror(errno));
}

static void *
writer_main(void *arg)
{
	struct audit *a = arg;
	struct audit_item *group, *it, **tail;
	size_t bytes;
	bool failed;
	int err;

	pthread_mutex_lock(&a->mu);
	for (;;) {
		while (a->queue == NULL && !a->closing)
			pthread_cond_wait(&a->cv, &a->mu);
		if (a->queue == NULL)
			break;
		/* Everything queued since the last sync, up to a cap. */
		group = a->queue;
		bytes = 0;
		for (tail = &a->queue; *tail != NULL &&
		    (bytes == 0 || bytes + (*tail)->body_len <= AUDIT_GROUP_MAX_BYTES);
		    tail = &(*tail)->next) {
			bytes += (*tail)->body_len;
			a->queued_bytes -= (*tail)->body_len;
		}
		a->queue = *tail;
		if (a->queue == NULL)
			a->queue_tail = &a->queue;
		*tail = NULL;
		failed = a->failed;
		pthread_mutex_unlock(&a->mu);

		err = failed ? SIGNET_ERR_IO : write_group(a, group);
		if (err == 0 && a->jfd >= 0)
			journal_send(a, group);

		pthread_mutex_lock(&a->mu);
		if (err != 0) {
			if (err != SIGNET_ERR_IO)
				log_err("audit: %s", signet_strerror(err));
			err = SIGNET_ERR_IO;
			__atomic_store_n(&a->failed, true, __ATOMIC_RELEASE);
		}
		for (it = group; it != NULL; it = it->next)
			it->status = err;
		*a->done_tail = group;
		a->done_tail = tail;
		a->next_pub = a->st->next;
		post(a);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/* ---- the loop's side -------------------------------------------------- */

static void
item_free(struct audit_item *it)
{
	free(it->body);
	free(it->jfields);
	free(it);
}

/* Runs the callbacks of finished records, in order. */
static void
deliver(struct audit *a)
{
	struct audit_item *list, *it;

	pthread_mutex_lock(&a->mu);
	list = a->done;
	a->done = NULL;
	a->done_tail = &a->done;
	pthread_mutex_unlock(&a->mu);
	while ((it = list) != NULL) {
		list = it->next;
		if (it->fn != NULL)
			it->fn(it->arg, it->status);
		item_free(it);
	}
}

static void
on_done(void *arg, uint32_t events)
{
	struct audit *a = arg;
	uint64_t n;

	(void)events;
	while (read(a->efd, &n, sizeof(n)) < 0 && errno == EINTR)
		;
	deliver(a);
}

/* A record that never reaches the writer: reported on the loop. */
static void
finish_now(struct audit *a, struct audit_item *it, int status)
{
	it->status = status;
	it->next = NULL;
	pthread_mutex_lock(&a->mu);
	*a->done_tail = it;
	a->done_tail = &it->next;
	post(a);
	pthread_mutex_unlock(&a->mu);
}

void
audit_submit(struct audit *a, json_t *event, audit_done_fn fn, void *arg)
{
	struct audit_item *it;
	int err;

	if ((it = calloc(1, sizeof(*it))) == NULL) {
		json_decref(event);
		if (fn != NULL)
			fn(arg, SIGNET_ERR_NOMEM);
		return;
	}
	it->fn = fn;
	it->arg = arg;
	/* Serialized here, on the loop: the writer thread never touches
	 * jansson, and a refused event never takes a seq. */
	err = audit_event_body(event, &it->body, &it->body_len);
	if (err == 0 && a->jfd >= 0 &&
	    audit_journal_fields(event, &it->jfields, &it->jlen) != 0)
		it->jfields = NULL; /* the file record matters, not its copy */
	json_decref(event);
	if (err != 0) {
		if (err == SIGNET_ERR_FORMAT)
			log_err("audit: refused a malformed event (a pin or data "
			    "key, or no event type): not logged, request fails");
		finish_now(a, it, err);
		return;
	}
	pthread_mutex_lock(&a->mu);
	if (a->failed || a->closing) {
		pthread_mutex_unlock(&a->mu);
		finish_now(a, it, SIGNET_ERR_IO);
		return;
	}
	if (a->queued_bytes + it->body_len > AUDIT_MAX_QUEUED_BYTES) {
		pthread_mutex_unlock(&a->mu);
		finish_now(a, it, SIGNET_ERR_LIMIT);
		return;
	}
	*a->queue_tail = it;
	a->queue_tail = &it->next;
	a->queued_bytes += it->body_len;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

bool
audit_failed(const struct audit *a)
{
	return __atomic_load_n(&a->failed, __ATOMIC_ACQUIRE);
}

uint64_t
audit_next_seq(struct audit *a)
{
	uint64_t n;

	pthread_mutex_lock(&a->mu);
	n = a->next_pub;
	pthread_mutex_unlock(&a->mu);
	return n;
}

int
audit_set_journal(struct audit *a, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (a->jfd >= 0)
		close(a->jfd);
	a->jfd = -1;
	if (path == NULL)
		return 0;
	if (strlen(path) >= sizeof(sa.sun_path))
		return SIGNET_ERR_LIMIT;
	strcpy(sa.sun_path, path);
	if ((a->jfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0)) < 0)
		return SIGNET_ERR_IO;
	a->jaddr = sa;
	a->jaddr_len = sizeof(sa);
	return 0;
}

/* ---- opening: the state, the files, and crash recovery ---------------- */

static struct audit_state *
state_alloc(void)
{
	void *p;

	if (posix_memalign(&p, AUDIT_STATE_ALLOC, AUDIT_STATE_ALLOC) != 0)
		return NULL;
	memset(p, 0, AUDIT_STATE_ALLOC);
	/* Best effort: never swapped, never in a core dump. */
	(void)mlock(p, AUDIT_STATE_ALLOC);
	(void)madvise(p, AUDIT_STATE_ALLOC, MADV_DONTDUMP);
	return p;
}

static void
state_free(struct audit_state *st)
{
	if (st == NULL)
		return;
	explicit_bzero(st, AUDIT_STATE_ALLOC);
	(void)munlock(st, AUDIT_STATE_ALLOC);
	free(st);
}

static int
state_read(struct audit *a)
{
	char buf[AUDIT_STATE_SIZE + 1];
	ssize_t n;
	int err;

	n = pread(a->statefd, buf, sizeof(buf), 0);
	if (n < 0) {
		log_err("audit: cannot read %s/%s: %s", a->dir, AUDIT_STATE_NAME,
		    strerror(errno));
		return SIGNET_ERR_IO;
	}
	err = audit_state_parse(buf, (size_t)n, a->st);
	explicit_bzero(buf, sizeof(buf));
	if (err != 0)
		log_err("audit: %s/%s is corrupt", a->dir, AUDIT_STATE_NAME);
	return err;
}

/* What the scan of the files found. */
struct scan {
	bool saw_last;          /* record next - 1 was seen */
	bool torn;              /* the last file ends without a newline */
	bool finished;          /* ... but was whole: its newline added */
	uint64_t last_size;     /* bytes of the last file */
	uint64_t rolled;        /* records rolled forward */
};

/* Record seq == st->next found on disk: check and take it into the state. */
static int
roll_forward(struct audit *a, const char *name, uint64_t lineno,
    const char *line, size_t len, const struct audit_rec *r)
{
	struct audit_state *st = a->st;

	if (memcmp(r->prev, st->prev, AUDIT_HASH_LEN) != 0 ||
	    !audit_line_mac_ok(line, len, r, st->key)) {
		log_err("audit: %s:%" PRIu64 " (record %" PRIu64 ") does not "
		    "check against the state: the log was changed while the "
		    "agent was down; run signet audit verify", name, lineno,
		    r->seq);
		return SIGNET_ERR_FORMAT;
	}
	audit_line_hash(line, len, st->prev);
	st->next++;
	return audit_key_evolve(st->key);
}

/* Ends a record that a crash left without its newline. */
static int
finish_line(struct audit *a, const char *name)
{
	int fd, err = 0;

	fd = openat(a->dirfd, name, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || write_all(fd, "\n", 1) != 0 || fdatasync(fd) != 0) {
		log_err("audit: cannot finish the last line of %s/%s: %s",
		    a->dir, name, strerror(errno));
		err = SIGNET_ERR_IO;
	}
	if (fd >= 0)
		close(fd);
	return err;
}

/* One line of the scan. */
static int
scan_line(struct audit *a, struct scan *sc, const char *name,
    struct audit_reader *rd, char *line, size_t len, bool complete,
    bool oversize, bool last_file)
{
	struct audit_state *st = a->st;
	struct audit_rec r;
	uint8_t h[AUDIT_HASH_LEN];
	uint64_t seq;
	int err;

	if (!complete) {
		/* Only a file's end can be torn. A record missing nothing
		 * but its newline was written whole: finish it. */
		if (last_file && !oversize &&
		    audit_line_parse(line, len, &r, false) == 0) {
			if (r.seq == st->next) {
				if ((err = roll_forward(a, name, rd->lineno,
				    line, len, &r)) != 0)
					return err;
				sc->rolled++;
			} else {
				audit_line_hash(line, len, h);
				if (r.seq + 1 != st->next ||
				    memcmp(h, st->prev, AUDIT_HASH_LEN) != 0)
					goto torn;
			}
			if ((err = finish_line(a, name)) != 0)
				return err;
			sc->saw_last = true;
			sc->finished = true;
			return 0;
		}
torn:
		if (last_file)
			sc->torn = true;
		return 0;
	}
	if (oversize || audit_line_seq(line, len, &seq) != 0) {
		log_err("audit: %s:%" PRIu64 " is not a record; run signet "
		    "audit verify", name, rd->lineno);
		return SIGNET_ERR_FORMAT;
	}
	if (seq + 1 < st->next)
		return 0; /* old records: verify's business */
	if (audit_line_parse(line, len, &r, false) != 0) {
		log_err("audit: %s:%" PRIu64 " is not a record; run signet "
		    "audit verify", name, rd->lineno);
		return SIGNET_ERR_FORMAT;
	}
	if (r.seq + 1 == st->next) {
		audit_line_hash(line, len, h);
		if (memcmp(h, st->prev, AUDIT_HASH_LEN) != 0) {
			log_err("audit: %s:%" PRIu64 " (record %" PRIu64 ") was "
			    "changed while the agent was down; run signet audit "
			    "verify", name, rd->lineno, r.seq);
			return SIGNET_ERR_FORMAT;
		}
		sc->saw_last = true;
		return 0;
	}
	if (r.seq != st->next) {
		log_err("audit: %s:%" PRIu64 " holds record %" PRIu64 " where %"
		    PRIu64 " was due; run signet audit verify", name,
		    rd->lineno, r.seq, st->next);
		return SIGNET_ERR_FORMAT;
	}
	if ((err = roll_forward(a, name, rd->lineno, line, len, &r)) != 0)
		return err;
	sc->rolled++;
	sc->saw_last = true;
	return 0;
}

static int
scan_file(struct audit *a, struct scan *sc, const char *name, bool last_file)
{
	struct audit_reader rd;
	char *line;
	size_t len;
	bool complete, oversize;
	uint64_t off;
	int r, err = 0;

	if ((r = audit_reader_open(&rd, a->dirfd, name)) != 0) {
		log_err("audit: cannot read %s/%s: %s", a->dir, name,
		    strerror(errno));
		return r;
	}
	while ((r = audit_reader_next(&rd, &line, &len, &complete, &oversize,
	    &off)) == 1)
		if ((err = scan_line(a, sc, name, &rd, line, len, complete,
		    oversize, last_file)) != 0)
			break;
	if (r < 0)
		err = r;
	if (last_file && err == 0)
		sc->last_size = rd.pos + rd.end + (sc->finished ? 1 : 0);
	audit_reader_close(&rd);
	return err;
}

/* Moves a torn file that holds no record out of the way of its name. */
static int
retire_torn(struct audit *a, const char *name)
{
	char aside[AUDIT_FILE_NAME_LEN + 48];

	snprintf(aside, sizeof(aside), "%s.torn-%lld-%d", name,
	    (long long)time(NULL), (int)getpid());
	if (renameat(a->dirfd, name, a->dirfd, aside) != 0) {
		log_err("audit: cannot move %s aside: %s", name, strerror(errno));
		return SIGNET_ERR_IO;
	}
	log_warn("audit: %s held only a torn record (crash): moved to %s",
	    name, aside);
	return 0;
}

static int
reconcile(struct audit *a)
{
	struct audit_state *st = a->st;
	struct audit_files f;
	struct scan sc = { 0 };
	const char *last;
	size_t i, from = 0;
	int err;

	if ((err = audit_files_list(a->dirfd, &f)) != 0) {
		log_err("audit: cannot list %s", a->dir);
		return err;
	}
	if (f.n == 0) {
		if (st->next != st->id.start) {
			log_err("audit: %s holds no log file, but its state is at "
			    "record %" PRIu64 ": the log was removed", a->dir,
			    st->next);
			err = SIGNET_ERR_FORMAT;
			goto out;
		}
		err = file_create(a, st->next);
		goto out;
	}
	/* From the file holding record next - 1 on. */
	for (i = 0; i < f.n; i++)
		if (f.first[i] < st->next)
			from = i;
	for (i = from; i < f.n; i++)
		if ((err = scan_file(a, &sc, f.names[i], i + 1 == f.n)) != 0)
			goto out;
	if (!sc.saw_last && st->next != st->id.start) {
		log_err("audit: record %" PRIu64 " is missing from %s: the "
		    "log's tail was removed; run signet audit verify",
		    st->next - 1, a->dir);
		err = SIGNET_ERR_FORMAT;
		goto out;
	}
	if (sc.rolled > 0) {
		log_warn("audit: %" PRIu64 " record(s) written before a crash "
		    "were taken into the state", sc.rolled);
		if ((err = state_write(a)) != 0)
			goto out;
	}
	last = f.names[f.n - 1];
	if (sc.torn) {
		log_warn("audit: %s ends with a torn record (a crash); the log "
		    "continues in a new file", last);
		if (f.first[f.n - 1] == st->next &&
		    (err = retire_torn(a, last)) != 0)
			goto out;
		err = file_create(a, st->next);
		goto out;
	}
	if (sc.last_size >= a->max_file ||
	    (sc.last_size == 0 && f.first[f.n - 1] != st->next) ||
	    (sc.last_size > 0 && !sc.saw_last)) {
		err = file_create(a, st->next);
		goto out;
	}
	a->logfd = openat(a->dirfd, last, O_WRONLY | O_APPEND | O_CLOEXEC |
	    O_NOFOLLOW);
	if (a->logfd < 0) {
		log_err("audit: cannot open %s/%s for writing: %s", a->dir, last,
		    strerror(errno));
		err = SIGNET_ERR_IO;
		goto out;
	}
	a->file_size = sc.last_size;
out:
	audit_files_free(&f);
	return err;
}

static int
open_files(struct audit *a)
{
	struct stat sb;
	int err;

	if ((a->dirfd = open(a->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		log_err("audit: %s: %s", a->dir, strerror(errno));
		return errno == ENOENT ? SIGNET_ERR_NOTFOUND : SIGNET_ERR_IO;
	}
	if ((a->statefd = openat(a->dirfd, AUDIT_STATE_NAME, O_RDWR | O_CLOEXEC |
	    O_NOFOLLOW)) < 0) {
		err = errno;
		log_err("audit: %s/%s: %s%s", a->dir, AUDIT_STATE_NAME,
		    strerror(err), err == ENOENT ?
		    " (run signet audit init)" : "");
		return err == ENOENT ? SIGNET_ERR_NOTFOUND : SIGNET_ERR_IO;
	}
	/* One writer per log, ever. */
	if (flock(a->statefd, LOCK_EX | LOCK_NB) != 0) {
		log_err("audit: %s is in use by another agent", a->dir);
		return SIGNET_ERR_IO;
	}
	if (fstat(a->statefd, &sb) != 0 || (sb.st_mode & 077) != 0)
		log_warn("audit: %s/%s should be mode 0600", a->dir,
		    AUDIT_STATE_NAME);
	if ((err = state_read(a)) != 0)
		return err;
	return reconcile(a);
}

int
audit_open(struct audit **out, struct loop *l, const char *dir,
    uint64_t max_file_bytes)
{
	struct audit *a;
	struct stat sb;
	sigset_t all, old;
	int err = SIGNET_ERR_NOMEM;

	*out = NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return SIGNET_ERR_NOMEM;
	a->loop = l;
	a->dirfd = a->statefd = a->logfd = a->efd = a->jfd = -1;
	a->max_file = max_file_bytes ? max_file_bytes : AUDIT_DEFAULT_MAX_FILE;
	a->queue_tail = &a->queue;
	a->done_tail = &a->done;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	if ((a->dir = strdup(dir)) == NULL || (a->st = state_alloc()) == NULL)
		goto fail;
	if ((err = open_files(a)) != 0)
		goto fail;
	audit_logid_hex(a->st->id.logid, a->logid);
	a->next_pub = a->st->next;
	err = SIGNET_ERR_IO;
	if ((a->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    (a->watch = loop_watch(l, a->efd, EPOLLIN, on_done, a)) == NULL)
		goto fail;
	if (stat(AUDIT_JOURNAL_SOCKET, &sb) == 0 && S_ISSOCK(sb.st_mode) &&
	    audit_set_journal(a, AUDIT_JOURNAL_SOCKET) != 0)
		log_warn("audit: records will not go to the journal");
	/* The thread takes no signals: the loop's signalfd gets them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&a->thread, NULL, writer_main, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err != 0) {
		err = SIGNET_ERR_NOMEM;
		goto fail;
	}
	a->started = true;
	log_info("audit: log %s in %s, next record %" PRIu64, a->logid, a->dir,
	    a->st->next);
	*out = a;
	return 0;
fail:
	audit_close(a);
	return err;
}

void
audit_close(struct audit *a)
{
	if (a == NULL)
		return;
	if (a->started) {
		pthread_mutex_lock(&a->mu);
		a->closing = true;
		pthread_cond_signal(&a->cv);
		pthread_mutex_unlock(&a->mu);
		pthread_join(a->thread, NULL);
		deliver(a);
	}
	loop_unwatch(a->watch);
	if (a->efd >= 0)
		close(a->efd);
	if (a->jfd >= 0)
		close(a->jfd);
	if (a->logfd >= 0)
		close(a->logfd);
	if (a->statefd >= 0)
		close(a->statefd); /* drops the lock */
	if (a->dirfd >= 0)
		close(a->dirfd);
	state_free(a->st);
	free(a->gbuf);
	free(a->dir);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	free(a);
}
