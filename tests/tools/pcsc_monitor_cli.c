/*
 * pcsc_monitor_cli: runs pkcs11/pcsc_monitor the way the agent does (one
 * poll loop on its fd) and prints each event on a line of its own, for
 * tests/pcsc/test_monitor.py:
 *
 *   started
 *   READER_ADDED Virtual PCD 00 00
 *   CARD_INSERTED Virtual PCD 00 00
 *   SERVICE_LOST 0x8010001d
 *   SERVICE_BACK
 *
 * Commands on stdin: "dropped" prints "dropped N"; "quit" (or end of
 * input) stops the monitor and prints "stopped MS", the time stop took.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pkcs11/pcsc_monitor.h"

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
print_events(struct pcsc_monitor *m)
{
	struct pcsc_event ev[16];
	int i, n;

	while ((n = pcsc_monitor_read(m, ev, sizeof ev / sizeof ev[0])) > 0) {
		for (i = 0; i < n; i++) {
			if (ev[i].type == PCSC_EV_SERVICE_LOST)
				printf("%s 0x%08lx\n", pcsc_event_name(ev[i].type),
				    (unsigned long)ev[i].rv);
			else if (ev[i].reader[0] != '\0')
				printf("%s %s\n", pcsc_event_name(ev[i].type),
				    ev[i].reader);
			else
				printf("%s\n", pcsc_event_name(ev[i].type));
		}
	}
	fflush(stdout);
}

int
main(void)
{
	struct pcsc_monitor *m;
	char line[64], *nl;
	size_t len = 0, used;
	ssize_t r;
	long t0;
	int rc;

	rc = pcsc_monitor_start(&m);
	if (rc != 0) {
		fprintf(stderr, "pcsc_monitor_cli: start: %s\n",
		    signet_strerror(rc));
		return 1;
	}
	printf("started\n");
	fflush(stdout);

	for (;;) {
		struct pollfd pfd[2] = {
			{ .fd = pcsc_monitor_fd(m), .events = POLLIN },
			{ .fd = STDIN_FILENO, .events = POLLIN },
		};

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[0].revents & POLLIN)
			print_events(m);
		if (pfd[1].revents == 0)
			continue;
		r = read(STDIN_FILENO, line + len, sizeof line - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		while ((nl = memchr(line, '\n', len)) != NULL) {
			*nl = '\0';
			if (strcmp(line, "quit") == 0)
				goto quit;
			if (strcmp(line, "dropped") == 0) {
				printf("dropped %llu\n", (unsigned long long)
				    pcsc_monitor_dropped(m));
				fflush(stdout);
			}
			used = (size_t)(nl - line) + 1;
			memmove(line, nl + 1, len - used);
			len -= used;
		}
		if (len == sizeof line)
			len = 0;  /* not a command of ours */
	}
quit:
	print_events(m);
	t0 = now_ms();
	pcsc_monitor_stop(m);
	printf("stopped %ld\n", now_ms() - t0);
	return 0;
}
