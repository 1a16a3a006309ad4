/*
 * signet logout: end the agent's login on a token.
 */
#include <getopt.h>
#include <stdio.h>

#include "client/cmd.h"

#define LOGOUT_USAGE "signet logout [--token SEL]"

int
logout_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "token", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct signet_conn *conn = NULL;
	json_t *params = NULL, *res = NULL;
	const char *sel = NULL;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			sel = optarg;
			break;
		case 'h':
			printf("usage: %s\n", LOGOUT_USAGE);
			return SIGNET_EXIT_OK;
		default:
			return cmd_usage_error("logout", LOGOUT_USAGE,
			    "bad option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cmd_usage_error("logout", LOGOUT_USAGE,
		    "unexpected argument '%s'", argv[optind]);
	params = sel != NULL ? json_pack("{s:s}", "token", sel) :
	    json_object();
	if (params == NULL)
		return cmd_usage_error("logout", LOGOUT_USAGE,
		    "token selector is not valid UTF-8");
	if ((r = cmd_connect("logout", &conn)) != 0)
		goto out;
	if ((r = cmd_call("logout", conn, SIGNET_M_TOKEN_LOGOUT, params,
	    &res)) != 0)
		goto out;
	cmd_put_text(stdout, jstr(res, "token"));
	printf(": logged out\n");
	r = SIGNET_EXIT_OK;
 out:
	json_decref(res);
	json_decref(params);
	signet_close(conn);
	return r;
}
