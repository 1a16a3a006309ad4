/*
 * agent/log.h for the fuzzers: every message is still formatted (so a bad
 * format argument shows under the sanitizers) but then dropped, since a
 * fuzzer logs an error for nearly every input and stderr would slow it
 * down and bury its report. SIGNET_FUZZ_LOG=1 prints them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/log.h"

__attribute__((format(printf, 1, 0)))
static void
fuzz_log(const char *fmt, va_list ap)
{
	static int show = -1;
	char line[1024];

	if (show < 0)
		show = getenv("SIGNET_FUZZ_LOG") != NULL;
	(void)vsnprintf(line, sizeof(line), fmt, ap);
	if (show)
		fprintf(stderr, "log: %s\n", line);
}

void
log_init(const char *progname, bool debug)
{
	(void)progname;
	(void)debug;
}

#define FUZZ_LOG_FN(name)                       \
	void name(const char *fmt, ...)         \
	{                                       \
		va_list ap;                     \
		va_start(ap, fmt);              \
		fuzz_log(fmt, ap);              \
		va_end(ap);                     \
	}

FUZZ_LOG_FN(log_debug)
FUZZ_LOG_FN(log_info)
FUZZ_LOG_FN(log_warn)
FUZZ_LOG_FN(log_err)
