/*
 * Diagnostics on stderr, with sd-daemon priority prefixes when stderr is
 * the journal. Never pass a PIN or document content to these.
 */
#ifndef SIGNET_LOG_H
#define SIGNET_LOG_H

#include <stdbool.h>

void log_init(const char *progname, bool debug);
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
