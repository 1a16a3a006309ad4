#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "agent/log.h"

static const char *log_name = "signetd";
static bool log_debug_on;
static bool log_journal; /* stderr is connected to journald */

void
log_init(const char *progname, bool debug)
{
	log_name = progname;
	log_debug_on = debug;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

static void __attribute__((format(printf, 2, 0)))
log_v(int prio, const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	if (log_journal)
		fprintf(stderr, "<%d>%s\n", prio, line);
	else
		fprintf(stderr, "%s: %s\n", log_name, line);
}

#define LOG_FN(name, prio, cond)                \
	void name(const char *fmt, ...)         \
	{                                       \
		va_list ap;                     \
		if (!(cond))                    \
			return;                 \
		va_start(ap, fmt);              \
		log_v(prio, fmt, ap);           \
		va_end(ap);                     \
	}

LOG_FN(log_debug, 7, log_debug_on)
LOG_FN(log_info, 6, 1)
LOG_FN(log_warn, 4, 1)
LOG_FN(log_err, 3, 1)
