/*
 * signetd's configuration file (agent/config.h, docs/signetd.8) through
 * config_parse, which runs config_load's parser over memory. The file is
 * the administrator's, but the agent reads it with its own privileges
 * before anything else, and a typo must fail cleanly.
 *
 * Oracles: the result is 0 or a documented error; after success every
 * value is within its limits, and modules given on the command line
 * first are the only ones left (the command line wins over the file).
 */
#include <ctype.h>
#include <string.h>

#include "agent/config.h"
#include "fuzz/fuzz.h"

static void
check_value(const char *v)
{
	size_t n;

	FUZZ_CHECK(v != NULL && (n = strlen(v)) > 0 && n <= CONFIG_MAX_LINE);
	FUZZ_CHECK(!isspace((unsigned char)v[0]) &&
	    !isspace((unsigned char)v[n - 1]));
}

static void
check_config(const struct config *c)
{
	size_t i;

	FUZZ_CHECK(c->nmodules <= CONFIG_MAX_MODULES);
	FUZZ_CHECK(c->line_timeout >= 1 && c->line_timeout <= 3600);
	if (c->socket != NULL)
		check_value(c->socket);
	for (i = 0; i < c->nmodules; i++)
		check_value(c->modules[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	int r;

	config_init(&c);
	r = config_parse(&c, "fuzz.conf", (const char *)data, size);
	FUZZ_CHECK(r == 0 || r == SIGNET_ERR_FORMAT || r == SIGNET_ERR_IO ||
	    r == SIGNET_ERR_NOMEM);
	if (r == 0)
		check_config(&c);
	config_clear(&c);

	/* as signetd --module X --config FILE */
	config_init(&c);
	FUZZ_CHECK(config_add_module(&c, "/cli/module.so", true) == 0);
	r = config_parse(&c, "fuzz.conf", (const char *)data, size);
	FUZZ_CHECK(r == 0 || r == SIGNET_ERR_FORMAT || r == SIGNET_ERR_IO ||
	    r == SIGNET_ERR_NOMEM);
	if (r == 0) {
		check_config(&c);
		FUZZ_CHECK(c.nmodules == 1 &&
		    strcmp(c.modules[0], "/cli/module.so") == 0);
	}
	config_clear(&c);
	return 0;
}
