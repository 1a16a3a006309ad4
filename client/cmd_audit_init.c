/*
 * signet audit init: a new log (random log id, k_0 in the writer's state)
 * and the officer's verification key. The key is a secret: whoever holds
 * it can forge the log from its first record (docs/audit.md), so it goes
 * to a 0600 file the officer takes away, or to stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/cmd.h"
#include "client/cmd_audit.h"

#define INIT_USAGE "signet audit init [--dir DIR | --system] " \
	"[--key-out FILE|-] [--owner USER] [--force]"
#define SUB "audit init"

static int
write_key(const char *path, const char *text, size_t len)
{
	if (strcmp(path, "-") == 0)
		return fwrite(text, 1, len, stdout) == len && fflush(stdout) == 0 ?
		    0 : -1;
	return audit_key_file_write(path, text, len);
}

/* The old log stays readable and verifiable with its own key under
 * retired-<logid>/; its writer's state (a live key) is wiped. */
static int
retire(const char *dir)
{
	struct audit_id id;
	struct audit_files f;
	char idhex[33], sub[64], zero[AUDIT_STATE_SIZE];
	int dirfd, fd, err = -1;
	size_t i;

	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	if ((fd = openat(dirfd, AUDIT_STATE_NAME, O_RDWR | O_CLOEXEC |
	    O_NOFOLLOW)) < 0)
		goto out;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		cmd_error(SUB, "busy", "%s is in use by a running agent: stop "
		    "it first", dir);
		close(fd);
		err = -2;
		goto out;
	}
	memset(zero, 0, sizeof(zero));
	if (pwrite(fd, zero, sizeof(zero), 0) != (ssize_t)sizeof(zero) ||
	    fsync(fd) != 0) {
		close(fd);
		goto out;
	}
	close(fd);
	if (audit_id_read(dir, &id) == 0)
		audit_logid_hex(id.logid, idhex);
	else
		snprintf(idhex, sizeof(idhex), "unknown-%lld",
		    (long long)time(NULL));
	snprintf(sub, sizeof(sub), "retired-%s", idhex);
	if (mkdirat(dirfd, sub, 0700) != 0 && errno != EEXIST)
		goto out;
	if (audit_files_list(dirfd, &f) != 0)
		goto out;
	for (i = 0; i < f.n; i++) {
		char to[128];

		snprintf(to, sizeof(to), "%s/%s", sub, f.names[i]);
		if (renameat(dirfd, f.names[i], dirfd, to) != 0) {
			audit_files_free(&f);
			goto out;
		}
	}
	audit_files_free(&f);
	snprintf(sub + strlen(sub), sizeof(sub) - strlen(sub), "/%s",
	    AUDIT_ID_NAME);
	(void)renameat(dirfd, AUDIT_ID_NAME, dirfd, sub);
	if (unlinkat(dirfd, AUDIT_STATE_NAME, 0) != 0 || fsync(dirfd) != 0)
		goto out;
	printf("previous log %s moved to %s/retired-%s\n", idhex, dir, idhex);
	err = 0;
out:
	close(dirfd);
	return err;
}

static int
chown_all(const char *dir, const char *user)
{
	static const char *const names[] = { ".", AUDIT_STATE_NAME,
		AUDIT_ID_NAME };
	struct passwd *pw = getpwnam(user);
	int dirfd;
	size_t i;

	if (pw == NULL) {
		cmd_error(SUB, "usage", "no such user '%s'", user);
		return -1;
	}
	if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return -1;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (fchownat(dirfd, names[i], pw->pw_uid, pw->pw_gid,
		    AT_SYMLINK_NOFOLLOW) != 0) {
			cmd_error(SUB, SIGNET_CLIENT_R_IO_ERROR, "chown %s/%s: %s",
			    dir, names[i], strerror(errno));
			close(dirfd);
			return -1;
		}
	close(dirfd);
	return 0;
}

/* Undo a half-done init: no log without its key. */
static void
undo(const char *dir)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, AUDIT_STATE_NAME) > 0) {
		unlink(p);
		free(p);
	}
	if (asprintf(&p, "%s/%s", dir, AUDIT_ID_NAME) > 0) {
		unlink(p);
		free(p);
	}
}

int
audit_init_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "system", no_argument, NULL, 's' },
		{ "key-out", required_argument, NULL, 'k' },
		{ "owner", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct audit_vkey vk;
	struct audit_id old;
	const char *dirarg = NULL, *keyout = NULL, *owner = NULL;
	char *dir = NULL, *keypath = NULL, *text = NULL, idhex[33];
	bool system = false, force = false;
	size_t len = 0;
	int c, err, r = SIGNET_EXIT_INTERNAL;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dirarg = optarg;
			break;
		case 's':
			system = true;
			break;
		case 'k':
			keyout = optarg;
			break;
		case 'o':
			owner = optarg;
			break;
		case 'f':
			force = true;
			break;
		case 'h':
			printf("usage: %s\n", INIT_USAGE);
			return SIGNET_EXIT_OK;
		default:
			return cmd_usage_error(SUB, INIT_USAGE, "bad option '%s'",
			    argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cmd_usage_error(SUB, INIT_USAGE, "unexpected argument '%s'",
		    argv[optind]);
	if (dirarg != NULL && system)
		return cmd_usage_error(SUB, INIT_USAGE, "--dir and --system "
		    "exclude each other");
	if ((dir = audit_dir_arg(SUB, dirarg, system)) == NULL)
		return SIGNET_EXIT_USAGE;
	err = audit_dir_init(dir, 1, &vk);
	if (err == SIGNET_ERR_AGAIN) {
		if (!force) {
			if (audit_id_read(dir, &old) == 0) {
				audit_logid_hex(old.logid, idhex);
				cmd_error(SUB, "usage", "%s already holds log %s; "
				    "--force retires it and starts a new one", dir,
				    idhex);
			} else
				cmd_error(SUB, "usage", "%s is already initialized; "
				    "--force retires it and starts a new one", dir);
			r = SIGNET_EXIT_USAGE;
			goto out;
		}
		if ((err = retire(dir)) != 0) {
			if (err == -1)
				cmd_error(SUB, SIGNET_CLIENT_R_IO_ERROR, "cannot "
				    "retire the old log in %s: %s", dir,
				    strerror(errno));
			goto out;
		}
		err = audit_dir_init(dir, 1, &vk);
	}
	if (err != 0) {
		cmd_error(SUB, SIGNET_CLIENT_R_IO_ERROR, "cannot set up %s: %s",
		    dir, err == SIGNET_ERR_IO ? strerror(errno) :
		    signet_strerror(err));
		goto out;
	}
	audit_logid_hex(vk.id.logid, idhex);
	if (keyout == NULL && (keyout = keypath = audit_key_default(
	    vk.id.logid)) == NULL) {
		cmd_error(SUB, "usage", "no place for the key: give --key-out");
		undo(dir);
		r = SIGNET_EXIT_USAGE;
		goto out;
	}
	if (audit_vkey_format(&vk, &text, &len) != 0 ||
	    write_key(keyout, text, len) != 0) {
		cmd_error(SUB, SIGNET_CLIENT_R_IO_ERROR, "cannot write the key to "
		    "%s: %s; nothing set up", keyout, strerror(errno));
		undo(dir);
		goto out;
	}
	if (owner != NULL && chown_all(dir, owner) != 0) {
		undo(dir);
		if (strcmp(keyout, "-") != 0)
			unlink(keyout);
		goto out;
	}
	/* Messages go to stderr when the key itself goes to stdout. */
	{
		FILE *msg = strcmp(keyout, "-") == 0 ? stderr : stdout;

		fprintf(msg, "audit log %s set up in ", idhex);
		cmd_put_text(msg, dir);
		fputc('\n', msg);
		if (msg == stdout) {
			fputs("verification key written to ", msg);
			cmd_put_text(msg, keyout);
			fputc('\n', msg);
		}
		fprintf(msg, "Keep the key off this machine: whoever holds it "
		    "can forge the log.\nsignet audit verify --key FILE checks "
		    "the log with it.\n");
	}
	r = SIGNET_EXIT_OK;
out:
	explicit_bzero(&vk, sizeof(vk));
	if (text != NULL) {
		explicit_bzero(text, len);
		free(text);
	}
	free(keypath);
	free(dir);
	return r;
}
