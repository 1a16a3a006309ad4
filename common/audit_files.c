/*
 * The files of an audit log directory (audit_chain.h, docs/audit.md):
 * reading the officer's key and the log id, setting up a directory,
 * listing the log files, and reading them line by line.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/audit_chain.h"

#define SMALL_FILE_MAX 4096u  /* key, log-id files */

/* ---- the key and log-id files ----------------------------------------- */

/* A small text file, NUL-terminated; secret buffers are wiped by the
 * caller. */
static int
read_small(int dirfd, const char *path, char *buf, size_t cap, size_t *len)
{
	ssize_t n;
	size_t o = 0;
	int fd, e;

	if ((fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return errno == ENOENT ? SIGNET_ERR_NOTFOUND : SIGNET_ERR_IO;
	for (;;) {
		if (o == cap - 1) {
			close(fd);
			return SIGNET_ERR_LIMIT;
		}
		n = read(fd, buf + o, cap - 1 - o);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		o += (size_t)n;
	}
	e = errno;
	close(fd);
	if (n < 0) {
		errno = e;
		return SIGNET_ERR_IO;
	}
	buf[o] = '\0';
	*len = o;
	return 0;
}

/* The value of "name value" lines; comments (#) and blank lines skipped. */
static const char *
kv_find(const char *text, const char *name, size_t *vlen)
{
	const char *p = text, *eol;
	size_t n = strlen(name);

	while (*p != '\0') {
		eol = strchr(p, '\n');
		if (eol == NULL)
			eol = p + strlen(p);
		if ((size_t)(eol - p) > n && memcmp(p, name, n) == 0 &&
		    p[n] == ' ') {
			*vlen = (size_t)(eol - p) - n - 1;
			return p + n + 1;
		}
		p = *eol != '\0' ? eol + 1 : eol;
	}
	return NULL;
}

static int
id_from_text(const char *text, struct audit_id *id)
{
	const char *v;
	size_t n;

	if ((v = kv_find(text, "log", &n)) == NULL ||
	    audit_hex_decode(v, n, id->logid, AUDIT_LOGID_LEN) != 0 ||
	    (v = kv_find(text, "start", &n)) == NULL ||
	    audit_dec_u64(v, n, &id->start) != 0)
		return SIGNET_ERR_FORMAT;
	return 0;
}

int
audit_vkey_read(const char *path, struct audit_vkey *k)
{
	static const char head[] = "signet-audit-key 1\n";
	char buf[SMALL_FILE_MAX];
	const char *v;
	size_t len, n;
	int err;

	memset(k, 0, sizeof(*k));
	if ((err = read_small(AT_FDCWD, path, buf, sizeof(buf), &len)) != 0)
		return err;
	err = SIGNET_ERR_FORMAT;
	if (strncmp(buf, head, sizeof(head) - 1) != 0 ||
	    id_from_text(buf, &k->id) != 0 ||
	    (v = kv_find(buf, "key", &n)) == NULL ||
	    audit_hex_decode(v, n, k->k0, AUDIT_KEY_LEN) != 0)
		goto out;
	err = 0;
out:
	explicit_bzero(buf, sizeof(buf));
	if (err != 0)
		explicit_bzero(k, sizeof(*k));
	return err;
}

int
audit_id_read(const char *dir, struct audit_id *id)
{
	static const char head[] = "signet-audit-log-id 1\n";
	char buf[SMALL_FILE_MAX], *path;
	size_t len;
	int err;

	if (asprintf(&path, "%s/%s", dir, AUDIT_ID_NAME) < 0)
		return SIGNET_ERR_NOMEM;
	err = read_small(AT_FDCWD, path, buf, sizeof(buf), &len);
	free(path);
	if (err != 0)
		return err;
	if (strncmp(buf, head, sizeof(head) - 1) != 0)
		return SIGNET_ERR_FORMAT;
	return id_from_text(buf, id);
}

/* ---- setting up a directory ------------------------------------------- */

/* mkdir -p; new directories 0700. */
static int
mkdir_p(const char *dir)
{
	char *p, *s, c;
	int err = 0;

	if ((p = strdup(dir)) == NULL)
		return SIGNET_ERR_NOMEM;
	for (s = p + 1; err == 0; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		c = *s;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST)
			err = SIGNET_ERR_IO;
		*s = c;
		if (c == '\0')
			break;
	}
	free(p);
	return err;
}

static int
write_all(int fd, const void *p, size_t n)
{
	const char *c = p;
	ssize_t w;

	while (n > 0) {
		if ((w = write(fd, c, n)) < 0) {
			if (errno == EINTR)
				continue;
			return SIGNET_ERR_IO;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Writes name through a temporary file: complete or absent. */
static int
write_new(int dirfd, const char *name, mode_t mode, const char *p, size_t n)
{
	char tmp[64];
	int fd, err;

	snprintf(tmp, sizeof(tmp), "%s.tmp", name);
	(void)unlinkat(dirfd, tmp, 0);
	if ((fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, mode)) < 0)
		return SIGNET_ERR_IO;
	err = fchmod(fd, mode) != 0 ? SIGNET_ERR_IO : write_all(fd, p, n);
	if (err == 0 && fsync(fd) != 0)
		err = SIGNET_ERR_IO;
	if (close(fd) != 0 && err == 0)
		err = SIGNET_ERR_IO;
	if (err == 0 && renameat(dirfd, tmp, dirfd, name) != 0)
		err = SIGNET_ERR_IO;
	if (err != 0)
		(void)unlinkat(dirfd, tmp, 0);
	return err;
}

int
audit_dir_init(const char *dir, uint64_t start, struct audit_vkey *vk)
{
	struct audit_state st = { 0 };
	char sbuf[AUDIT_STATE_SIZE], *idtext = NULL, idhex[33];
	int dirfd = -1, err;
	struct stat sb;

	memset(vk, 0, sizeof(*vk));
	if ((err = mkdir_p(dir)) != 0)
		return err;
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return SIGNET_ERR_IO;
	if (fstatat(dirfd, AUDIT_STATE_NAME, &sb, AT_SYMLINK_NOFOLLOW) == 0) {
		err = SIGNET_ERR_AGAIN;
		goto out;
	}
	/* Others must not reach the state, whatever made the directory. */
	if (fchmod(dirfd, 0700) != 0) {
		err = SIGNET_ERR_IO;
		goto out;
	}
	if (getrandom(st.id.logid, AUDIT_LOGID_LEN, 0) != AUDIT_LOGID_LEN ||
	    getrandom(st.key, AUDIT_KEY_LEN, 0) != AUDIT_KEY_LEN) {
		err = SIGNET_ERR_IO;
		goto out;
	}
	st.id.start = start;
	st.next = start;
	audit_genesis(&st.id, st.prev);
	audit_state_format(&st, sbuf);
	audit_logid_hex(st.id.logid, idhex);
	if (asprintf(&idtext, "signet-audit-log-id 1\nlog %s\nstart %" PRIu64
	    "\n", idhex, start) < 0) {
		idtext = NULL;
		err = SIGNET_ERR_NOMEM;
		goto out;
	}
	if ((err = write_new(dirfd, AUDIT_ID_NAME, 0644, idtext,
	    strlen(idtext))) != 0 ||
	    (err = write_new(dirfd, AUDIT_STATE_NAME, 0600, sbuf,
	    AUDIT_STATE_SIZE)) != 0)
		goto out;
	if (fsync(dirfd) != 0) {
		err = SIGNET_ERR_IO;
		goto out;
	}
	vk->id = st.id;
	memcpy(vk->k0, st.key, AUDIT_KEY_LEN);
	err = 0;
out:
	explicit_bzero(&st, sizeof(st));
	explicit_bzero(sbuf, sizeof(sbuf));
	free(idtext);
	if (dirfd >= 0)
		close(dirfd);
	return err;
}

/* ---- listing and reading files ---------------------------------------- */

/* audit-<20 digits>.log */
static bool
file_seq(const char *name, uint64_t *seq)
{
	if (strlen(name) != AUDIT_FILE_NAME_LEN ||
	    strncmp(name, "audit-", 6) != 0 ||
	    strcmp(name + 26, ".log") != 0)
		return false;
	return audit_dec_u64(name + 6, 20, seq) == 0;
}

struct file_ent {
	char *name;
	uint64_t first;
};

static int
cmp_ent(const void *a, const void *b)
{
	const struct file_ent *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

int
audit_files_list(int dirfd, struct audit_files *f)
{
	struct file_ent *ents = NULL, *ne;
	struct dirent *de;
	size_t n = 0, cap = 0, i;
	uint64_t seq;
	DIR *d;
	int fd, err = SIGNET_ERR_NOMEM;

	memset(f, 0, sizeof(*f));
	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return SIGNET_ERR_IO;
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return SIGNET_ERR_IO;
	}
	while ((de = readdir(d)) != NULL) {
		if (!file_seq(de->d_name, &seq))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			if ((ne = reallocarray(ents, cap, sizeof(*ents))) == NULL)
				goto out;
			ents = ne;
		}
		if ((ents[n].name = strdup(de->d_name)) == NULL)
			goto out;
		ents[n++].first = seq;
	}
	if (n > 1)
		qsort(ents, n, sizeof(*ents), cmp_ent);
	if (n > 0 && ((f->names = calloc(n, sizeof(char *))) == NULL ||
	    (f->first = calloc(n, sizeof(uint64_t))) == NULL)) {
		free(f->names);
		f->names = NULL;
		goto out;
	}
	for (i = 0; i < n; i++) {
		f->names[i] = ents[i].name;
		f->first[i] = ents[i].first;
	}
	f->n = n;
	n = 0;
	err = 0;
out:
	for (i = 0; i < n; i++)
		free(ents[i].name);
	free(ents);
	closedir(d);
	return err;
}

void
audit_files_free(struct audit_files *f)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		free(f->names[i]);
	free(f->names);
	free(f->first);
	memset(f, 0, sizeof(*f));
}

int
audit_reader_open(struct audit_reader *r, int dirfd, const char *path)
{
	memset(r, 0, sizeof(*r));
	if ((r->buf = malloc(AUDIT_MAX_LINE + 1)) == NULL)
		return SIGNET_ERR_NOMEM;
	if ((r->fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) <
	    0) {
		free(r->buf);
		r->buf = NULL;
		return errno == ENOENT ? SIGNET_ERR_NOTFOUND : SIGNET_ERR_IO;
	}
	return 0;
}

/* Drops bytes up to and including the next newline. 1: found, 0: EOF. */
static int
reader_skip_line(struct audit_reader *r)
{
	char *nl;
	ssize_t n;

	for (;;) {
		if ((nl = memchr(r->buf + r->start, '\n', r->end - r->start)) !=
		    NULL) {
			r->start = (size_t)(nl - r->buf) + 1;
			return 1;
		}
		r->pos += r->end;
		r->start = r->end = 0;
		if (r->eof)
			return 0;
		n = read(r->fd, r->buf, AUDIT_MAX_LINE);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return SIGNET_ERR_IO;
		}
		if (n == 0)
			r->eof = true;
		r->end = (size_t)n;
	}
}

int
audit_reader_next(struct audit_reader *r, char **line, size_t *len,
    bool *complete, bool *oversize, uint64_t *offset)
{
	char *nl;
	ssize_t n;
	size_t have;

	*oversize = false;
	for (;;) {
		have = r->end - r->start;
		nl = memchr(r->buf + r->start, '\n', have);
		if (nl != NULL) {
			*line = r->buf + r->start;
			*len = (size_t)(nl - *line);
			*offset = r->pos + r->start;
			*nl = '\0';
			*complete = true;
			r->start += *len + 1;
			r->lineno++;
			return 1;
		}
		if (r->eof) {
			if (have == 0)
				return 0;
			*line = r->buf + r->start;
			*len = have;
			*offset = r->pos + r->start;
			(*line)[have] = '\0';
			*complete = false;
			r->start = r->end;
			r->lineno++;
			return 1;
		}
		if (have >= AUDIT_MAX_LINE) {
			/* Too long to be a record: reported empty, skipped. */
			*offset = r->pos + r->start;
			*complete = true;
			*oversize = true;
			r->lineno++;
			if ((n = reader_skip_line(r)) < 0)
				return (int)n;
			if (n == 0)
				*complete = false;
			r->empty[0] = '\0';
			*line = r->empty;
			*len = 0;
			return 1;
		}
		if (r->start > 0) {
			memmove(r->buf, r->buf + r->start, have);
			r->pos += r->start;
			r->start = 0;
			r->end = have;
		}
		n = read(r->fd, r->buf + r->end, AUDIT_MAX_LINE - r->end);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return SIGNET_ERR_IO;
		}
		if (n == 0)
			r->eof = true;
		r->end += (size_t)n;
	}
}

void
audit_reader_close(struct audit_reader *r)
{
	if (r->buf != NULL) {
		close(r->fd);
		free(r->buf);
	}
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

char *
audit_default_dir(bool system)
{
	const char *x = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	char *p;

	if (system)
		return strdup("/var/lib/signet/audit");
	if (x != NULL && x[0] == '/') {
		if (asprintf(&p, "%s/signet/audit", x) < 0)
			return NULL;
		return p;
	}
	if (home == NULL || home[0] != '/')
		return NULL;
	if (asprintf(&p, "%s/.local/state/signet/audit", home) < 0)
		return NULL;
	return p;
}

char *
audit_key_default(const uint8_t logid[AUDIT_LOGID_LEN])
{
	const char *x = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	char id[33], *p;
	int n;

	audit_logid_hex(logid, id);
	if (x != NULL && x[0] == '/')
		n = asprintf(&p, "%s/signet/audit-%s.key", x, id);
	else if (home != NULL && home[0] == '/')
		n = asprintf(&p, "%s/.config/signet/audit-%s.key", home, id);
	else
		return NULL;
	return n < 0 ? NULL : p;
}

/* mkdir -p for the key's directory; new ones 0700. */
static int
mkparents(const char *path)
{
	char *p = strdup(path), *s;

	if (p == NULL)
		return -1;
	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) != 0 && errno != EEXIST) {
			free(p);
			return -1;
		}
		*s = '/';
	}
	free(p);
	return 0;
}

int
audit_key_file_write(const char *path, const char *text, size_t len)
{
	int fd, e;
	ssize_t w;

	if (mkparents(path) != 0)
		return -1;
	/* Never over an existing key: it may be the only copy of another
	 * log's. */
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
	    O_NOFOLLOW, 0600)) < 0)
		return -1;
	w = write(fd, text, len);
	if (w != (ssize_t)len || fsync(fd) != 0) {
		e = w < 0 ? errno : EIO;
		close(fd);
		unlink(path);
		errno = e;
		return -1;
	}
	return close(fd);
}
