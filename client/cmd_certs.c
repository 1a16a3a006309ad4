/*
 * signet certs: certificates with a key on a token, to pick a --cert
 * selector from.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "client/cmd.h"

#define CERTS_USAGE "signet certs [--token SEL] [--json]"
#define SHORT_SHA256 16 /* hex digits shown in the table */

int
certs_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "token", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const head[] = {
		"SHA256", "SUBJECT", "NOT AFTER", "KEY", "URI",
	};
	struct signet_conn *conn = NULL;
	struct table tab;
	json_t *params = NULL, *res = NULL, *certs, *ce;
	const char *token = NULL;
	bool json = false;
	size_t i;
	int c, r;

	table_init(&tab, 5);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			token = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			printf("usage: %s\n", CERTS_USAGE);
			return SIGNET_EXIT_OK;
		default:
			return cmd_usage_error("certs", CERTS_USAGE,
			    "bad option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cmd_usage_error("certs", CERTS_USAGE,
		    "unexpected argument '%s'", argv[optind]);
	if (token != NULL && (params = json_pack("{s:s}", "token", token)) ==
	    NULL)
		return cmd_usage_error("certs", CERTS_USAGE,
		    "token selector is not valid UTF-8");
	if ((r = cmd_connect("certs", &conn)) != 0)
		goto out;
	if ((r = cmd_call_list("certs", conn, SIGNET_M_CERTS_LIST, params,
	    "certs", &res, &certs)) != 0)
		goto out;
	if (json) {
		r = cmd_print_json("certs", certs);
		goto out;
	}
	if (json_array_size(certs) == 0) {
		printf("no certificates\n");
		r = SIGNET_EXIT_OK;
		goto out;
	}
	if (table_add(&tab, head) != 0)
		goto nomem;
	json_array_foreach(certs, i, ce) {
		char sha[SHORT_SHA256 + 1], key[96];
		const char *row[5], *kt = jstr(ce, "key_type");
		json_int_t bits = json_integer_value(
		    json_object_get(ce, "key_bits"));

		snprintf(sha, sizeof(sha), "%s", jstr(ce, "sha256"));
		if (strcmp(kt, "ec") == 0 && jstr(ce, "curve")[0] != '\0')
			snprintf(key, sizeof(key), "ec %s", jstr(ce, "curve"));
		else if (bits > 0)
			snprintf(key, sizeof(key), "%s %lld", kt,
			    (long long)bits);
		else
			snprintf(key, sizeof(key), "%s", kt);
		row[0] = sha;
		row[1] = jstr(ce, "subject");
		row[2] = jstr(ce, "not_after");
		row[3] = key;
		row[4] = jstr(ce, "uri");
		if (table_add(&tab, row) != 0)
			goto nomem;
	}
	table_print(&tab, stdout);
	r = SIGNET_EXIT_OK;
	goto out;
 nomem:
	cmd_error("certs", SIGNET_CLIENT_R_NOMEM, "out of memory");
	r = SIGNET_EXIT_INTERNAL;
 out:
	table_free(&tab);
	json_decref(res);
	json_decref(params);
	signet_close(conn);
	return r;
}
