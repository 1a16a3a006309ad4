/*
 * signet: command-line client of the Signet agent. A table of subcommands
 * (after wireguard-tools' wg.c); each lives in its own cmd_<name>.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/cmd.h"
#include "client/cmd_audit.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *description;
} subcommands[] = {
	{ "info",   info_main,   "Show the agent's version and capabilities" },
	{ "tokens", tokens_main, "List the tokens present" },
	{ "certs",  certs_main,  "List certificates that have a key on a token" },
	{ "login",  login_main,  "Log a token in (asks for its PIN)" },
	{ "logout", logout_main, "Log a token out" },
	{ "lock",   lock_main,   "Log out every token (leaving the desk)" },
	{ "sign",   sign_main,   "Sign files: detached CMS signatures" },
	{ "watch",  watch_main,  "Print token events as they happen" },
	{ "verify", verify_main, "Verify a detached CMS signature (no agent)" },
	{ "audit",  audit_main,  "The audit trail: init, verify, show, find (no agent)" },
};

static void
show_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: signet [--socket PATH] <command> [<args>]\n"
	    "       signet --version\n\n"
	    "Commands:\n");
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  %-7s %s\n", subcommands[i].name,
		    subcommands[i].description);
	fprintf(f, "\nEach command takes --help. The agent's socket is --socket "
	    "PATH, else $%s,\nelse $XDG_RUNTIME_DIR/%s/%s.\n",
	    SIGNET_SOCKET_ENV, SIGNET_SOCKET_DIR_NAME, SIGNET_SOCKET_NAME);
}

int
main(int argc, char **argv)
{
	int i = 1;
	size_t k;

	/* Global options, before the subcommand only: a subcommand's own
	 * options never collide with them. */
	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			show_usage(stdout);
			return SIGNET_EXIT_OK;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("signet %s (protocol %d)\n", SIGNET_VERSION,
			    SIGNET_PROTOCOL_VERSION);
			return SIGNET_EXIT_OK;
		} else if (strcmp(argv[i], "--socket") == 0) {
			if (i + 1 >= argc)
				return cmd_usage_error(NULL, "signet --socket "
				    "PATH <command> ...", "--socket needs a path");
			cmd_socket = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "--socket=", 9) == 0) {
			cmd_socket = argv[i] + 9;
			i++;
		} else {
			cmd_error(NULL, "usage", "unknown option '%s'", argv[i]);
			show_usage(stderr);
			return SIGNET_EXIT_USAGE;
		}
	}
	if (i >= argc) {
		show_usage(stderr);
		return SIGNET_EXIT_USAGE;
	}
	for (k = 0; k < sizeof(subcommands) / sizeof(subcommands[0]); k++)
		if (strcmp(argv[i], subcommands[k].name) == 0)
			return subcommands[k].fn(argc - i, argv + i);
	cmd_error(NULL, "usage", "unknown command '%s'", argv[i]);
	show_usage(stderr);
	return SIGNET_EXIT_USAGE;
}
