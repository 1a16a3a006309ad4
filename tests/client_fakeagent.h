/*
 * A scripted stand-in for signetd, for the client tests that need no real
 * agent: it speaks only the framing (one JSON line in, one out, descriptors
 * with SCM_RIGHTS) and answers from a script, logging what it received.
 */
#ifndef SIGNET_TEST_FAKEAGENT_H
#define SIGNET_TEST_FAKEAGENT_H

#include <limits.h>
#include <sys/types.h>

#include <jansson.h>

struct fakeagent {
	pid_t pid;
	char dir[256];       /* private temp dir, removed by stop */
	char sock[PATH_MAX]; /* listening socket inside it */
	char log[PATH_MAX];
};

/*
 * Starts the agent in a child process; it serves connections one after
 * the other and answers the requests with replies[0], [1], ... (NULL
 * ends the list; then it closes connections). An entry is one of:
 *   a JSON object  sent as one line; "id" is set to the request's id
 *                  unless the object already has an "id" member
 *   "CLOSE"        close this connection without replying
 *   "NOREPLY"      log the request, send nothing
 *   "RAW:<bytes>"  send <bytes> exactly (no '\n' added, no id)
 *   "RAWCLOSE:<bytes>"  the same, then close the connection
 *   "HUGE"         send 64 MiB + 1 bytes with no '\n'
 * These next ones take no request: they are carried out at once after
 * the entry before them was (events pushed to a subscriber):
 *   "PUSH:<bytes>" send <bytes> exactly
 *   "SLEEP:<ms>"   wait that long
 *   "HANGUP"       close this connection
 * Exits the test on failure.
 */
void fakeagent_start(struct fakeagent *fa, const char *const *replies);

/*
 * Stops the agent and returns its log: an array with, per request line,
 * {"line": <the request parsed, or the raw text if not JSON>,
 *  "fds": [<content of each descriptor that came with it>]}.
 */
json_t *fakeagent_stop(struct fakeagent *fa);

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
		    __LINE__, #cond); \
		exit(1); \
	} \
} while (0)

#endif
