/*
 * Unit test of pkcs11/pcsc_monitor.c without pcscd: the bounded queue and
 * its fd, the reader-list diff, the per-reader state logic, and a start/
 * stop against a PC/SC socket that does not exist (SERVICE_LOST, prompt
 * stop). The .c is included so its static helpers can be driven directly.
 * tests/pcsc/test_monitor.py covers the same code against a real pcscd.
 */
#include "pkcs11/pcsc_monitor.c"

#include <poll.h>
#include <stdio.h>

static int failures;

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
		    __LINE__, #cond); \
		failures++; \
	} \
} while (0)

static bool
readable(int fd, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN);
}

/* A monitor with no thread: what emit()/read() and the state logic need. */
static struct pcsc_monitor *
bare_monitor(void)
{
	struct pcsc_monitor *m = calloc(1, sizeof *m);

	if (m == NULL)
		abort();
	m->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (m->efd < 0 || pthread_mutex_init(&m->lock, NULL) != 0)
		abort();
	m->service_up = true;
	return m;
}

static void
free_bare(struct pcsc_monitor *m)
{
	pthread_mutex_destroy(&m->lock);
	close(m->efd);
	free(m);
}

/* Drains everything into a string "TYPE reader;TYPE reader;...". */
static void
drain(struct pcsc_monitor *m, char *out, size_t cap)
{
	struct pcsc_event ev[8];
	size_t used = 0;
	int i, n;

	out[0] = '\0';
	while ((n = pcsc_monitor_read(m, ev, 8)) > 0)
		for (i = 0; i < n; i++)
			used += (size_t)snprintf(out + used, cap - used,
			    "%s%s%s;", pcsc_event_name(ev[i].type),
			    ev[i].reader[0] ? " " : "", ev[i].reader);
}

static void
test_queue(void)
{
	struct pcsc_monitor *m = bare_monitor();
	struct pcsc_event ev[PCSC_MONITOR_QUEUE_MAX + 8];
	char name[32];
	int i, n;

	CHECK(!readable(m->efd, 0));
	CHECK(pcsc_monitor_read(m, ev, 4) == 0);

	/* Partial reads keep the fd readable until the queue is empty. */
	emit(m, PCSC_EV_CARD_INSERTED, "r1", 0);
	emit(m, PCSC_EV_CARD_REMOVED, "r1", 0);
	emit(m, PCSC_EV_SERVICE_LOST, NULL, SCARD_E_NO_SERVICE);
	CHECK(readable(m->efd, 0));
	CHECK(pcsc_monitor_read(m, ev, 0) == 0);
	CHECK(pcsc_monitor_read(m, ev, 2) == 2);
	CHECK(ev[0].type == PCSC_EV_CARD_INSERTED);
	CHECK(strcmp(ev[0].reader, "r1") == 0 && ev[0].rv == 0);
	CHECK(ev[1].type == PCSC_EV_CARD_REMOVED);
	CHECK(readable(m->efd, 0));
	CHECK(pcsc_monitor_read(m, ev, 8) == 1);
	CHECK(ev[0].type == PCSC_EV_SERVICE_LOST);
	CHECK(ev[0].reader[0] == '\0');
	CHECK(ev[0].rv == (long)SCARD_E_NO_SERVICE);
	CHECK(!readable(m->efd, 0));
	CHECK(pcsc_monitor_dropped(m) == 0);

	/* Overflow keeps the newest QUEUE_MAX and counts the rest. */
	for (i = 0; i < PCSC_MONITOR_QUEUE_MAX + 44; i++) {
		snprintf(name, sizeof name, "reader %d", i);
		emit(m, PCSC_EV_READER_ADDED, name, 0);
	}
	CHECK(pcsc_monitor_dropped(m) == 44);
	n = pcsc_monitor_read(m, ev, sizeof ev / sizeof ev[0]);
	CHECK(n == PCSC_MONITOR_QUEUE_MAX);
	CHECK(strcmp(ev[0].reader, "reader 44") == 0);
	snprintf(name, sizeof name, "reader %d", PCSC_MONITOR_QUEUE_MAX + 43);
	CHECK(n > 0 && strcmp(ev[n - 1].reader, name) == 0);
	CHECK(!readable(m->efd, 0));

	/* A name longer than the field is cut, never overrun. */
	{
		char longname[PCSC_MONITOR_READER_MAX + 20];

		memset(longname, 'x', sizeof longname - 1);
		longname[sizeof longname - 1] = '\0';
		emit(m, PCSC_EV_READER_ADDED, longname, 0);
		CHECK(pcsc_monitor_read(m, ev, 1) == 1);
		CHECK(strlen(ev[0].reader) == PCSC_MONITOR_READER_MAX - 1);
	}
	free_bare(m);
}

static void
test_reader_list(void)
{
	struct pcsc_monitor *m = bare_monitor();
	char out[4096];
	static const char two[] = "A\0B\0";  /* + the final NUL */
	static const char b_c[] = "B\0C\0";
	static const char unterminated[] = { 'B', 0, 'C', 'D' };
	char big[READER_LIST_MAX + 64];
	size_t i, off = 0;

	apply_reader_list(m, two, sizeof two);
	drain(m, out, sizeof out);
	CHECK(strcmp(out, "READER_ADDED A;READER_ADDED B;") == 0);
	CHECK(m->nreaders == 2 && !m->need_list);

	/* Same list: nothing. A card in A, then A goes: card first. */
	apply_reader_list(m, two, sizeof two);
	drain(m, out, sizeof out);
	CHECK(strcmp(out, "") == 0);
	reader_changed(m, &m->readers[0], SCARD_STATE_PRESENT | (1u << 16));
	drain(m, out, sizeof out);
	CHECK(strcmp(out, "CARD_INSERTED A;") == 0);
	apply_reader_list(m, b_c, sizeof b_c);
	drain(m, out, sizeof out);
	CHECK(strcmp(out, "READER_ADDED C;CARD_REMOVED A;READER_REMOVED A;")
	    == 0);
	CHECK(m->nreaders == 2);
	CHECK(strcmp(m->readers[0].name, "B") == 0);
	CHECK(strcmp(m->readers[1].name, "C") == 0);

	/* An unterminated tail is ignored, not read past. C is gone. */
	apply_reader_list(m, unterminated, sizeof unterminated);
	drain(m, out, sizeof out);
	CHECK(strcmp(out, "READER_REMOVED C;") == 0);

	/* Empty list (SCARD_E_NO_READERS_AVAILABLE gives len 0). */
	apply_reader_list(m, "", 0);
	drain(m, out, sizeof out);
	CHECK(strcmp(out, "READER_REMOVED B;") == 0);
	CHECK(m->nreaders == 0);

	/* More readers than pcsc-lite can have, and an over-long name:
	 * the table holds READERS_MAX, the long name is skipped. */
	memset(big, 'L', PCSC_MONITOR_READER_MAX + 5);
	big[PCSC_MONITOR_READER_MAX + 5] = '\0';
	off = PCSC_MONITOR_READER_MAX + 6;
	for (i = 0; i < PCSC_MONITOR_READERS_MAX + 3; i++)
		off += (size_t)snprintf(big + off, sizeof big - off, "R%zu",
		    i) + 1;
	big[off++] = '\0';
	apply_reader_list(m, big, off);
	CHECK(m->nreaders == PCSC_MONITOR_READERS_MAX);
	CHECK(strcmp(m->readers[0].name, "R0") == 0);
	for (i = 0; i < m->nreaders; i++)
		CHECK(m->readers[i].name[0] == 'R');
	drain(m, out, sizeof out);
	free_bare(m);
}

static void
test_card_states(void)
{
	struct pcsc_monitor *m = bare_monitor();
	static const char one[] = "R\0";
	struct reader *r;
	char out[1024];

	apply_reader_list(m, one, sizeof one);
	drain(m, out, sizeof out);
	r = &m->readers[0];

	reader_changed(m, r, SCARD_STATE_EMPTY);
	drain(m, out, sizeof out);
	CHECK(strcmp(out, "") == 0);
	CHECK(r->state == SCARD_STATE_EMPTY);

	reader_changed(m, r, SCARD_STATE_PRESENT | (1u << 16));
	drain(m, out, sizeof out);
	CHECK(strcmp(out, "CARD_INSERTED R;") == 0);

	/* Same card, other bits (in use): nothing. */
	reader_changed(m, r, SCARD_STATE_PRESENT | SCARD_STATE_INUSE |
	    (1u << 16));
	drain(m, out, sizeof out);
	CHECK(strcmp(out, "") == 0);

	/* Present again but the event counter moved by two: swapped. */
	reader_changed(m, r, SCARD_STATE_PRESENT | (3u << 16));
	drain(m, out, sizeof out);
	CHECK(strcmp(out, "CARD_REMOVED R;CARD_INSERTED R;") == 0);

	reader_changed(m, r, SCARD_STATE_EMPTY | (4u << 16));
	drain(m, out, sizeof out);
	CHECK(strcmp(out, "CARD_REMOVED R;") == 0);

	/* A failed reader has no card. */
	reader_changed(m, r, SCARD_STATE_PRESENT | (5u << 16));
	reader_changed(m, r, SCARD_STATE_UNAVAILABLE | (5u << 16));
	drain(m, out, sizeof out);
	CHECK(strcmp(out, "CARD_INSERTED R;CARD_REMOVED R;") == 0);

	/* A reader going away: no event here, the list decides. */
	reader_changed(m, r, SCARD_STATE_PRESENT | (6u << 16));
	drain(m, out, sizeof out);
	m->need_list = false;
	reader_changed(m, r, SCARD_STATE_UNKNOWN | SCARD_STATE_IGNORE);
	drain(m, out, sizeof out);
	CHECK(strcmp(out, "") == 0);
	CHECK(m->need_list);
	apply_reader_list(m, "", 0);
	drain(m, out, sizeof out);
	CHECK(strcmp(out, "CARD_REMOVED R;READER_REMOVED R;") == 0);

	/* pcscd lost: everything known goes, then SERVICE_LOST, once. */
	apply_reader_list(m, one, sizeof one);
	reader_changed(m, &m->readers[0], SCARD_STATE_PRESENT | (1u << 16));
	drain(m, out, sizeof out);
	service_lost(m, SCARD_E_NO_SERVICE);
	service_lost(m, SCARD_E_NO_SERVICE);
	drain(m, out, sizeof out);
	CHECK(strcmp(out, "CARD_REMOVED R;READER_REMOVED R;SERVICE_LOST;")
	    == 0);
	free_bare(m);
}

static void
test_names(void)
{
	CHECK(strcmp(pcsc_event_name(PCSC_EV_READER_ADDED), "READER_ADDED") == 0);
	CHECK(strcmp(pcsc_event_name(PCSC_EV_READER_REMOVED), "READER_REMOVED") == 0);
	CHECK(strcmp(pcsc_event_name(PCSC_EV_CARD_INSERTED), "CARD_INSERTED") == 0);
	CHECK(strcmp(pcsc_event_name(PCSC_EV_CARD_REMOVED), "CARD_REMOVED") == 0);
	CHECK(strcmp(pcsc_event_name(PCSC_EV_SERVICE_LOST), "SERVICE_LOST") == 0);
	CHECK(strcmp(pcsc_event_name(PCSC_EV_SERVICE_BACK), "SERVICE_BACK") == 0);
	CHECK(strcmp(pcsc_event_name((enum pcsc_event_type)99), "UNKNOWN") == 0);
	CHECK(strcmp(pcsc_monitor_strerror(SCARD_E_NO_SERVICE),
	    "PC/SC service not running") == 0);
	CHECK(strcmp(pcsc_monitor_strerror(0x12345), "unexpected PC/SC error")
	    == 0);
}

static long
ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 +
	    (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* The real thread against a PC/SC socket path where nothing listens
 * (pcsc-lite's client honours PCSCLITE_CSOCK_NAME). */
static void
test_no_service(void)
{
	struct pcsc_monitor *m = NULL;
	struct pcsc_event ev[4];
	struct timespec t0;
	int n;

	CHECK(setenv("PCSCLITE_CSOCK_NAME",
	    "/nonexistent/signet-test/pcscd.comm", 1) == 0);
	CHECK(pcsc_monitor_start(&m) == 0);
	if (m == NULL)
		return;
	CHECK(readable(pcsc_monitor_fd(m), 2000));
	n = pcsc_monitor_read(m, ev, 4);
	CHECK(n == 1);
	CHECK(n >= 1 && ev[0].type == PCSC_EV_SERVICE_LOST);
	CHECK(n >= 1 && ev[0].rv == (long)SCARD_E_NO_SERVICE);
	/* Retries (back-off up to 1 s) report nothing more. */
	CHECK(!readable(pcsc_monitor_fd(m), 1500));

	clock_gettime(CLOCK_MONOTONIC, &t0);
	pcsc_monitor_stop(m);
	/* Stop wakes the back-off at once. */
	CHECK(ms_since(&t0) < 200);

	pcsc_monitor_stop(NULL);
}

int
main(void)
{
	test_queue();
	test_reader_list();
	test_card_states();
	test_names();
	test_no_service();
	if (failures != 0) {
		fprintf(stderr, "pcsc_monitor_test: %d failure(s)\n", failures);
		return 1;
	}
	printf("pcsc_monitor_test: ok\n");
	return 0;
}
