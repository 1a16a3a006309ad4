/*
 * Runs a fuzz target over saved inputs without libFuzzer, so every corpus
 * is an ordinary test in every build, gcc's included:
 *
 *     replay_<target> FILE|DIR...
 *
 * A directory gives each regular file in it (no recursion, dot files
 * skipped), in name order. Each input is copied into a buffer of exactly
 * its size, as libFuzzer does, so AddressSanitizer sees a read past its
 * end. A failed check or a sanitizer report aborts; no input at all is an
 * error too (a mistyped or empty corpus must not pass quietly).
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz/fuzz.h"

#define REPLAY_MAX_INPUT (16u * 1024u * 1024u)

#pragma weak LLVMFuzzerInitialize

static const char *prog = "replay";
/* stderr as it was at start: a target may redirect the stream (see
 * fuzz_cms_verify.c) and these messages must still show. */
static FILE *msg;

static int
replay_file(const char *path)
{
	FILE *f;
	uint8_t *data = NULL;
	size_t len = 0;
	struct stat st;
	int r = -1;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(msg, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_size < 0 || (uintmax_t)st.st_size > REPLAY_MAX_INPUT) {
		fprintf(msg, "%s: %s: not a regular file of at most %u bytes\n",
		    prog, path, REPLAY_MAX_INPUT);
		goto out;
	}
	len = (size_t)st.st_size;
	/* malloc(0) may return NULL; the target gets a valid pointer and 0 */
	if ((data = malloc(len > 0 ? len : 1)) == NULL ||
	    (len > 0 && fread(data, 1, len, f) != len)) {
		fprintf(msg, "%s: %s: cannot read\n", prog, path);
		goto out;
	}
	fprintf(msg, "%s: %s (%zu bytes)\n", prog, path, len);
	(void)LLVMFuzzerTestOneInput(data, len);
	r = 0;
out:
	free(data);
	fclose(f);
	return r;
}

static int
skip_dot(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Number of inputs run, or -1. */
static long
replay_path(const char *path)
{
	struct dirent **ents;
	struct stat st;
	char *file;
	long n = 0;
	int i, count;

	if (stat(path, &st) != 0) {
		fprintf(msg, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return replay_file(path) == 0 ? 1 : -1;
	if ((count = scandir(path, &ents, skip_dot, alphasort)) < 0) {
		fprintf(msg, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	for (i = 0; i < count; i++) {
		if (n >= 0) {
			if (asprintf(&file, "%s/%s", path, ents[i]->d_name) < 0)
				n = -1;
			else {
				n = replay_file(file) == 0 ? n + 1 : -1;
				free(file);
			}
		}
		free(ents[i]);
	}
	free(ents);
	return n;
}

int
main(int argc, char **argv)
{
	long n, total = 0;
	int i;

	msg = stderr;
	if (argc > 0 && argv[0] != NULL)
		prog = argv[0];
	if (argc < 2) {
		fprintf(msg, "usage: %s FILE|DIR...\n", prog);
		return 2;
	}
	if (LLVMFuzzerInitialize != NULL)
		(void)LLVMFuzzerInitialize(&argc, &argv);
	for (i = 1; i < argc; i++) {
		if ((n = replay_path(argv[i])) < 0)
			return 1;
		total += n;
	}
	if (total == 0) {
		fprintf(msg, "%s: no inputs\n", prog);
		return 1;
	}
	fprintf(msg, "%s: %ld inputs, all passed\n", prog, total);
	return 0;
}
