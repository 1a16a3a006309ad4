/*
 * PC/SC hotplug monitor: readers and cards coming and going, as seen by
 * pcscd, handed to the agent's single-threaded event loop.
 *
 * SCardGetStatusChange blocks, and the loop must not (DESIGN.md,
 * principle 4), so a thread of the monitor's own waits on pcscd and queues
 * events; the loop watches pcsc_monitor_fd() for EPOLLIN and drains them
 * with pcsc_monitor_read(). The thread never touches agent state and the
 * monitor logs nothing itself: events carry reader names and PC/SC error
 * codes only, nothing secret, and the agent logs them as it sees fit.
 *
 * Events are transitions, so replaying them from the start gives the
 * current state:
 *   - at start, READER_ADDED for each reader, then CARD_INSERTED for each
 *     card already in one;
 *   - a card out and back in between two looks (pcscd's per-reader event
 *     counter moved) is CARD_REMOVED then CARD_INSERTED: it may be another
 *     card, and PKCS#11 sessions on the old one are dead;
 *   - a reader that goes away with a card in it: CARD_REMOVED, then
 *     READER_REMOVED;
 *   - pcscd absent (at start too) or gone: CARD_REMOVED and READER_REMOVED
 *     for everything known, then one SERVICE_LOST; the monitor retries
 *     with a back-off of at most PCSC_MONITOR_BACKOFF_MAX_MS. When pcscd
 *     answers again: SERVICE_BACK, then READER_ADDED/CARD_INSERTED as at
 *     start. A pcscd restarted between two retries still gives LOST, BACK.
 *
 * If the agent does not drain, the queue keeps the newest
 * PCSC_MONITOR_QUEUE_MAX events and counts the dropped ones
 * (pcsc_monitor_dropped): an agent that sees the count move should rescan
 * every token instead of trusting the event stream.
 */
#ifndef SIGNET_PCSC_MONITOR_H
#define SIGNET_PCSC_MONITOR_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* pcsc-lite's MAX_READERNAME, with the terminating NUL. */
#define PCSC_MONITOR_READER_MAX 128
/* pcsc-lite serves at most 16 readers (PCSCLITE_MAX_READERS_CONTEXTS). */
#define PCSC_MONITOR_READERS_MAX 16
#define PCSC_MONITOR_QUEUE_MAX 256
/* Back-off between attempts to reach pcscd: 50 ms doubling to this. */
#define PCSC_MONITOR_BACKOFF_MAX_MS 1000
/* The longest the thread waits in pcscd before it looks at its stop flag
 * again, should SCardCancel not reach it. */
#define PCSC_MONITOR_WAIT_MS 1000

enum pcsc_event_type {
	PCSC_EV_READER_ADDED = 1,
	PCSC_EV_READER_REMOVED,
	PCSC_EV_CARD_INSERTED,
	PCSC_EV_CARD_REMOVED,
	PCSC_EV_SERVICE_LOST,
	PCSC_EV_SERVICE_BACK,
};

struct pcsc_event {
	enum pcsc_event_type type;
	/* SERVICE_LOST: the PC/SC error that showed it (SCARD_E_NO_SERVICE,
	 * ...), for the log (pcsc_monitor_strerror); 0 otherwise. */
	long rv;
	/* The reader's name; "" for SERVICE_*. */
	char reader[PCSC_MONITOR_READER_MAX];
};

struct pcsc_monitor;

/* Starts the thread (with every signal blocked: signals stay with the
 * loop). It reaches pcscd on its own; pcscd need not be running.
 * SIGNET_ERR_NOMEM, or SIGNET_ERR_IO (errno kept) if the eventfd or the
 * thread cannot be made. */
MUST_CHECK int pcsc_monitor_start(struct pcsc_monitor **out);

/* Readable (EPOLLIN, level-triggered) exactly while events wait. */
int pcsc_monitor_fd(const struct pcsc_monitor *m);

/* Moves up to max waiting events, oldest first, into ev. Returns how many
 * (0 when none wait); never blocks. */
MUST_CHECK int pcsc_monitor_read(struct pcsc_monitor *m, struct pcsc_event *ev,
    size_t max);

/* Events dropped so far because the queue was full. */
uint64_t pcsc_monitor_dropped(struct pcsc_monitor *m);

/* Stops and joins the thread (within about PCSC_MONITOR_WAIT_MS at worst),
 * frees everything, closes the fd. NULL is allowed. */
void pcsc_monitor_stop(struct pcsc_monitor *m);

/* "CARD_INSERTED", ...; "UNKNOWN" for anything else. */
const char *pcsc_event_name(enum pcsc_event_type type);

/* pcsc-lite's text for a PC/SC error code (static, thread-safe). */
const char *pcsc_monitor_strerror(long rv);

#endif
