/*
 * signet lock: the agent logs out every token it holds a login on (the
 * signatory leaves the desk).
 */
#include <getopt.h>
#include <stdio.h>

#include "client/cmd.h"

#define LOCK_USAGE "signet lock"

int
lock_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct signet_conn *conn = NULL;
	json_t *res = NULL, *n;
	json_int_t count;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("usage: %s\n", LOCK_USAGE);
			return SIGNET_EXIT_OK;
		default:
			return cmd_usage_error("lock", LOCK_USAGE,
			    "bad option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cmd_usage_error("lock", LOCK_USAGE,
		    "unexpected argument '%s'", argv[optind]);
	if ((r = cmd_connect("lock", &conn)) != 0)
		goto out;
	if ((r = cmd_call("lock", conn, SIGNET_M_AGENT_LOCK, NULL, &res)) != 0)
		goto out;
	n = json_object_get(res, "logged_out");
	if (!json_is_integer(n) || (count = json_integer_value(n)) < 0) {
		cmd_error("lock", SIGNET_CLIENT_R_BAD_REPLY,
		    "%s: reply has no logged_out count", SIGNET_M_AGENT_LOCK);
		r = SIGNET_EXIT_INTERNAL;
		goto out;
	}
	printf("%lld token%s logged out\n", (long long)count,
	    count == 1 ? "" : "s");
	r = SIGNET_EXIT_OK;
 out:
	json_decref(res);
	signet_close(conn);
	return r;
}
