/*
 * signet info: what agent answers on the socket, and what it can do.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "client/cmd.h"

#define INFO_USAGE "signet info [--json]"

static void
print_list(const char *label, json_t *arr)
{
	size_t i;
	json_t *v;

	printf("%-14s", label);
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v))
			continue;
		fputc(' ', stdout);
		cmd_put_text(stdout, json_string_value(v));
	}
	fputc('\n', stdout);
}

int
info_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct signet_conn *conn = NULL;
	json_t *res = NULL;
	bool json = false;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			printf("usage: %s\n", INFO_USAGE);
			return SIGNET_EXIT_OK;
		default:
			return cmd_usage_error("info", INFO_USAGE,
			    "bad option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cmd_usage_error("info", INFO_USAGE,
		    "unexpected argument '%s'", argv[optind]);
	if ((r = cmd_connect("info", &conn)) != 0)
		goto out;
	if ((r = cmd_call("info", conn, SIGNET_M_AGENT_INFO, NULL, &res)) != 0)
		goto out;
	if (json) {
		r = cmd_print_json("info", res);
		goto out;
	}
	printf("%-14s ", "agent:");
	cmd_put_text(stdout, jstr(res, "name"));
	fputc(' ', stdout);
	cmd_put_text(stdout, jstr(res, "version"));
	fputc('\n', stdout);
	printf("%-14s %lld\n", "protocol:",
	    (long long)json_integer_value(json_object_get(res, "protocol")));
	printf("%-14s ", "socket:");
	cmd_put_text(stdout, signet_conn_path(conn));
	fputc('\n', stdout);
	print_list("capabilities:", json_object_get(res, "capabilities"));
	print_list("digests:", json_object_get(res, "digests"));
	print_list("formats:", json_object_get(res, "formats"));
	r = SIGNET_EXIT_OK;
 out:
	json_decref(res);
	signet_close(conn);
	return r;
}
