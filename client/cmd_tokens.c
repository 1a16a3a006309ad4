/*
 * signet tokens: the tokens the agent sees, with their login and PIN
 * state.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "client/cmd.h"

#define TOKENS_USAGE "signet tokens [--json]"

/* "pad,count-low,final-try,locked" or "ok". */
static void
pin_flags(json_t *t, char *buf, size_t len)
{
	static const struct {
		const char *key, *name;
	} flags[] = {
		{ "protected_auth_path", "pad" },
		{ "pin_count_low", "count-low" },
		{ "pin_final_try", "final-try" },
		{ "pin_locked", "locked" },
	};
	size_t i, o = 0;

	buf[0] = '\0';
	for (i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if (!jbool(t, flags[i].key))
			continue;
		o += (size_t)snprintf(buf + o, len - o, "%s%s", o ? "," : "",
		    flags[i].name);
		if (o >= len)
			break;
	}
	if (buf[0] == '\0')
		snprintf(buf, len, "ok");
}

int
tokens_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const head[] = {
		"SERIAL", "LABEL", "TOKEN", "LOGIN", "PIN",
	};
	struct signet_conn *conn = NULL;
	struct table tab;
	json_t *res = NULL, *toks, *t;
	bool json = false;
	size_t i;
	int c, r;

	table_init(&tab, 5);
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			printf("usage: %s\n", TOKENS_USAGE);
			return SIGNET_EXIT_OK;
		default:
			return cmd_usage_error("tokens", TOKENS_USAGE,
			    "bad option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc)
		return cmd_usage_error("tokens", TOKENS_USAGE,
		    "unexpected argument '%s'", argv[optind]);
	if ((r = cmd_connect("tokens", &conn)) != 0)
		goto out;
	if ((r = cmd_call_list("tokens", conn, SIGNET_M_TOKENS_LIST, NULL,
	    "tokens", &res, &toks)) != 0)
		goto out;
	if (json) {
		r = cmd_print_json("tokens", toks);
		goto out;
	}
	if (json_array_size(toks) == 0) {
		printf("no tokens present\n");
		r = SIGNET_EXIT_OK;
		goto out;
	}
	if (table_add(&tab, head) != 0)
		goto nomem;
	json_array_foreach(toks, i, t) {
		char model[256], flags[64];
		const char *row[5];

		snprintf(model, sizeof(model), "%s %s", jstr(t, "manufacturer"),
		    jstr(t, "model"));
		pin_flags(t, flags, sizeof(flags));
		row[0] = jstr(t, "serial");
		row[1] = jstr(t, "label");
		row[2] = model;
		row[3] = jbool(t, "logged_in") ? "yes" :
		    jbool(t, "login_required") ? "no" : "not needed";
		row[4] = flags;
		if (table_add(&tab, row) != 0)
			goto nomem;
	}
	table_print(&tab, stdout);
	r = SIGNET_EXIT_OK;
	goto out;
 nomem:
	cmd_error("tokens", SIGNET_CLIENT_R_NOMEM, "out of memory");
	r = SIGNET_EXIT_INTERNAL;
 out:
	table_free(&tab);
	json_decref(res);
	signet_close(conn);
	return r;
}
