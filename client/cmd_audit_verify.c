/*
 * signet audit verify: checks a log with the officer's key and names the
 * first bad record (file:line, and why), or says it is intact.
 *
 * Exit: 0 intact; AUDIT_EXIT_TORN (75) every record checks but a crash
 * tore a line; SIGNET_EXIT_VERIFY (68) modified, deleted or reordered;
 * 64 usage (no key, a key for another log); 70 unreadable files.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/cmd.h"
#include "client/cmd_audit.h"

#define VERIFY_USAGE "signet audit verify [--key FILE] " \
	"[--dir DIR | --system | DIR | FILE...]"
#define SUB "audit verify"

static bool
is_dir(const char *p)
{
	struct stat sb;

	return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

/* The directory a file lives in (for its log-id), malloc'd. */
static char *
dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

static int
load_key(const char *keyarg, const char *dir, struct audit_vkey *vk)
{
	struct audit_id id;
	char *def = NULL, idhex[33], khex[33];
	const char *path = keyarg;
	bool have_id = audit_id_read(dir, &id) == 0;
	int err;

	if (path == NULL) {
		if (!have_id || (path = def = audit_key_default(id.logid)) ==
		    NULL) {
			cmd_error(SUB, "usage", "which key? %s has no readable "
			    "%s file: give --key FILE", dir, AUDIT_ID_NAME);
			return SIGNET_EXIT_USAGE;
		}
	}
	if ((err = audit_vkey_read(path, vk)) != 0) {
		cmd_error(SUB, "usage", "%s: %s", path,
		    err == SIGNET_ERR_FORMAT ? "not a Signet audit key" :
		    err == SIGNET_ERR_NOTFOUND && def != NULL ?
		    "no key at the default place: give --key FILE" :
		    strerror(errno));
		free(def);
		return SIGNET_EXIT_USAGE;
	}
	free(def);
	if (have_id && (memcmp(id.logid, vk->id.logid, AUDIT_LOGID_LEN) != 0 ||
	    id.start != vk->id.start)) {
		audit_logid_hex(id.logid, idhex);
		audit_logid_hex(vk->id.logid, khex);
		cmd_error(SUB, "usage", "the key is for log %s, %s holds log %s",
		    khex, dir, idhex);
		explicit_bzero(vk, sizeof(*vk));
		return SIGNET_EXIT_USAGE;
	}
	return 0;
}

static void
report(const char *prefix, const struct audit_report *rep, size_t nfiles)
{
	if (rep->verdict == AUDIT_INTACT || rep->verdict == AUDIT_TRUNCATED) {
		if (rep->records == 0)
			printf("no records");
		else
			printf("%" PRIu64 " record%s (%" PRIu64 "..%" PRIu64 ") in "
			    "%zu file%s", rep->records, rep->records == 1 ? "" : "s",
			    rep->first, rep->last, nfiles, nfiles == 1 ? "" : "s");
		printf(": %s\n", rep->verdict == AUDIT_INTACT ? "intact" :
		    "every record checks");
	}
	if (rep->verdict == AUDIT_INTACT)
		return;
	fputs(rep->verdict == AUDIT_TRUNCATED ? "signet: audit verify: "
	    "warning: " : "signet: audit verify: ", stderr);
	cmd_put_text(stderr, prefix);
	cmd_put_text(stderr, rep->file != NULL ? rep->file : "?");
	fprintf(stderr, ":%" PRIu64 ": %s: ", rep->line,
	    audit_verdict_name(rep->verdict));
	cmd_put_text(stderr, rep->why);
	fputc('\n', stderr);
	if (rep->verdict == AUDIT_TRUNCATED && rep->torn > 1)
		fprintf(stderr, "signet: audit verify: warning: %" PRIu64
		    " torn lines in all\n", rep->torn);
	if (rep->verdict > AUDIT_TRUNCATED && rep->records > 0)
		fprintf(stderr, "signet: audit verify: the %" PRIu64 " record%s "
		    "before it (%" PRIu64 "..%" PRIu64 ") check\n", rep->records,
		    rep->records == 1 ? "" : "s", rep->first, rep->last);
}

int
audit_verify_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "dir", required_argument, NULL, 'd' },
		{ "system", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct audit_vkey vk = { 0 };
	struct audit_report rep;
	struct audit_files f = { 0 };
	const char *keyarg = NULL, *dirarg = NULL, *prefix = "";
	char *dir = NULL, *pfx = NULL;
	bool system = false, whole_dir;
	int c, dirfd = -1, err, r = SIGNET_EXIT_INTERNAL;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			keyarg = optarg;
			break;
		case 'd':
			dirarg = optarg;
			break;
		case 's':
			system = true;
			break;
		case 'h':
			printf("usage: %s\n", VERIFY_USAGE);
			return SIGNET_EXIT_OK;
		default:
			return cmd_usage_error(SUB, VERIFY_USAGE, "bad option '%s'",
			    argv[optind - 1]);
		}
	}
	if ((dirarg != NULL) + system + (optind < argc) > 1)
		return cmd_usage_error(SUB, VERIFY_USAGE, "give one of --dir, "
		    "--system, or directory/files");
	whole_dir = optind == argc || (argc - optind == 1 && is_dir(argv[optind]));
	if (optind == argc)
		dir = audit_dir_arg(SUB, dirarg, system);
	else if (whole_dir)
		dir = strdup(argv[optind]);
	else
		dir = dir_of(argv[optind]);
	if (dir == NULL)
		return SIGNET_EXIT_USAGE;
	if ((r = load_key(keyarg, dir, &vk)) != 0)
		goto out;
	r = SIGNET_EXIT_INTERNAL;
	if (whole_dir) {
		if ((dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
		    audit_files_list(dirfd, &f) != 0) {
			cmd_error(SUB, SIGNET_CLIENT_R_IO_ERROR, "%s: %s", dir,
			    strerror(errno));
			goto out;
		}
		if (asprintf(&pfx, "%s/", dir) < 0) {
			pfx = NULL;
			goto out;
		}
		prefix = pfx;
		err = audit_verify(&vk, dirfd, f.names, f.n, true, &rep);
	} else
		err = audit_verify(&vk, AT_FDCWD, argv + optind,
		    (size_t)(argc - optind), false, &rep);
	if (err != 0) {
		cmd_error(SUB, SIGNET_CLIENT_R_IO_ERROR, "%s%s: %s", prefix,
		    rep.file != NULL ? rep.file : "?", err == SIGNET_ERR_IO ?
		    strerror(errno) : signet_strerror(err));
		goto out;
	}
	report(prefix, &rep, whole_dir ? f.n : (size_t)(argc - optind));
	switch (rep.verdict) {
	case AUDIT_INTACT:
		r = SIGNET_EXIT_OK;
		break;
	case AUDIT_TRUNCATED:
		r = AUDIT_EXIT_TORN;
		break;
	default:
		r = SIGNET_EXIT_VERIFY;
		break;
	}
out:
	explicit_bzero(&vk, sizeof(vk));
	audit_files_free(&f);
	if (dirfd >= 0)
		close(dirfd);
	free(pfx);
	free(dir);
	return r;
}
