/*
 * signet certs: certificates with a key on a token, to pick a --cert
 * selector from. Russian qualified certificates also show their SNILS,
 * INN and OGRN, written as the snils:/inn:/ogrn: selectors that pick them,
 * and the signing tool they name (subjectSignTool); those columns appear
 * only when some certificate has them.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "client/cmd.h"

#define CERTS_USAGE "signet certs [--token SEL] [--json]"
#define SHORT_SHA256 16 /* hex digits shown in the table */
#define IDS_MAX 160     /* bytes of the identifiers cell */

/* "snils:... inn:... ogrn:..." from the certs.list fields; "" if none.
 * INNLE is written inn:, OGRNIP ogrn:, as those selectors match them. */
static void
ids_cell(json_t *ce, char *out, size_t len)
{
	static const struct {
		const char *field, *sel;
	} f[] = {
		{ "snils", "snils:" }, { "inn", "inn:" }, { "innle", "inn:" },
		{ "ogrn", "ogrn:" }, { "ogrnip", "ogrn:" },
	};
	size_t i, o = 0;
	const char *v;
	int n;

	out[0] = '\0';
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if ((v = jstr(ce, f[i].field))[0] == '\0' || strcmp(v, "-") == 0)
			continue;
		n = snprintf(out + o, len - o, "%s%s%s", o > 0 ? " " : "",
		    f[i].sel, v);
		if (n < 0 || (size_t)n >= len - o)
			break;
		o += (size_t)n;
	}
}

static bool
has_field(json_t *certs, const char *const *fields)
{
	size_t i;
	json_t *ce;

	json_array_foreach(certs, i, ce)
		for (const char *const *f = fields; *f != NULL; f++)
			if (json_is_string(json_object_get(ce, *f)))
				return true;
	return false;
}

int
certs_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "token", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const id_fields[] = { "snils", "inn", "innle",
		"ogrn", "ogrnip", NULL };
	static const char *const tool_fields[] = { "subject_sign_tool", NULL };
	const char *head[7] = {
		"SHA256", "SUBJECT", "NOT AFTER", "KEY", "URI",
	};
	bool with_ids, with_tool;
	size_t ncols = 5;
	struct signet_conn *conn = NULL;
	struct table tab;
	json_t *params = NULL, *res = NULL, *certs, *ce;
	const char *token = NULL;
	bool json = false;
	size_t i;
	int c, r;

	table_init(&tab, 5); /* made again below, once the columns are known */
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
	with_ids = has_field(certs, id_fields);
	with_tool = has_field(certs, tool_fields);
	if (with_ids)
		head[ncols++] = "IDENTIFIERS";
	if (with_tool)
		head[ncols++] = "SIGN TOOL";
	table_free(&tab);
	table_init(&tab, ncols);
	if (table_add(&tab, head) != 0)
		goto nomem;
	json_array_foreach(certs, i, ce) {
		char sha[SHORT_SHA256 + 1], key[96], ids[IDS_MAX];
		const char *row[7], *kt = jstr(ce, "key_type");
		size_t k = 5;
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
		if (with_ids) {
			ids_cell(ce, ids, sizeof(ids));
			row[k++] = ids[0] != '\0' ? ids : "-";
		}
		if (with_tool)
			row[k++] = jstr(ce, "subject_sign_tool");
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
