#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "pkcs11/helper.h"

/*
 * The agent forwards our stderr to its log line by line, so each message is
 * formatted first and written with one write(2): lines from different
 * workers never interleave. Never pass PINs or data to this function.
 */
void
helper_log(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n, m, saved = errno;

	n = snprintf(line, sizeof(line), "signet-pkcs11-helper: ");
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	if ((size_t)m > sizeof(line) - (size_t)n - 2)
		m = (int)(sizeof(line) - (size_t)n - 2);
	n += m;
	line[n++] = '\n';
	while (write(STDERR_FILENO, line, (size_t)n) < 0 && errno == EINTR)
		;
	errno = saved;
}
