/*
 * PC/SC hotplug monitor (pcsc_monitor.h): one thread that keeps a PC/SC
 * context, waits in SCardGetStatusChange on every reader plus pcsc-lite's
 * "\\?PnP?\Notification" pseudo-reader (reader arrival and removal), and
 * turns state changes into queued events.
 *
 * Locking: m->lock guards the queue, the stop flag and the context handle.
 * The thread calls into pcscd without holding it, except to release the
 * context; pcsc_monitor_stop() calls SCardCancel under it, which is the
 * one PC/SC call pcsc-lite allows from another thread.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <PCSC/winscard.h>

#include "pkcs11/pcsc_monitor.h"

#define BACKOFF_MIN_MS 50
/* SCardListReaders' multi-string for the most readers pcsc-lite serves. */
#define READER_LIST_MAX (PCSC_MONITOR_READERS_MAX * PCSC_MONITOR_READER_MAX + 1)
/* More wake-ups than this in one second means pcscd answers without
 * waiting; the thread then pauses rather than spin. */
#define SPIN_MAX_PER_S 100
#define SPIN_PAUSE_MS 100
/* How often stop repeats SCardCancel until the thread is out. */
#define STOP_RETRY_MS 20

static const char pnp_reader[] = "\\\\?PnP?\\Notification";

struct reader {
	char name[PCSC_MONITOR_READER_MAX];
	DWORD state;  /* what pcscd last told us: next dwCurrentState */
	bool present;
	bool listed;  /* scratch for refresh_readers() */
};

struct pcsc_monitor {
	pthread_t thread;
	int efd;

	pthread_mutex_t lock;
	pthread_cond_t wake;  /* stop interrupts a back-off; thread done */
	bool stopping;
	bool done;
	bool ctx_valid;
	SCARDCONTEXT ctx;
	struct pcsc_event queue[PCSC_MONITOR_QUEUE_MAX];
	size_t q_head, q_len;
	uint64_t dropped;

	/* The thread's own, no lock. */
	struct reader readers[PCSC_MONITOR_READERS_MAX];
	size_t nreaders;
	bool service_up;  /* what the agent was last told */
	bool pnp;         /* the PnP pseudo-reader works on this context */
	DWORD pnp_state;
	bool need_list;
	uint64_t spin_window_ms;
	unsigned int spin_count;
};

const char *
pcsc_event_name(enum pcsc_event_type type)
{
	switch (type) {
	case PCSC_EV_READER_ADDED: return "READER_ADDED";
	case PCSC_EV_READER_REMOVED: return "READER_REMOVED";
	case PCSC_EV_CARD_INSERTED: return "CARD_INSERTED";
	case PCSC_EV_CARD_REMOVED: return "CARD_REMOVED";
	case PCSC_EV_SERVICE_LOST: return "SERVICE_LOST";
	case PCSC_EV_SERVICE_BACK: return "SERVICE_BACK";
	}
	return "UNKNOWN";
}

const char *
pcsc_monitor_strerror(long rv)
{
	/* Our own table: pcsc_stringify_error() may use a static buffer. */
	switch (rv) {
	case SCARD_S_SUCCESS: return "success";
	case SCARD_E_NO_SERVICE: return "PC/SC service not running";
	case SCARD_E_SERVICE_STOPPED: return "PC/SC service stopped";
	case SCARD_E_NO_READERS_AVAILABLE: return "no readers";
	case SCARD_E_INVALID_HANDLE: return "invalid context handle";
	case SCARD_E_NO_MEMORY: return "out of memory";
	case SCARD_E_TIMEOUT: return "timeout";
	case SCARD_E_CANCELLED: return "cancelled";
	case SCARD_E_UNKNOWN_READER: return "unknown reader";
	case SCARD_E_READER_UNAVAILABLE: return "reader unavailable";
	case SCARD_E_INSUFFICIENT_BUFFER: return "insufficient buffer";
	case SCARD_F_COMM_ERROR: return "communication with the PC/SC service failed";
	case SCARD_F_INTERNAL_ERROR: return "PC/SC internal error";
	}
	return "unexpected PC/SC error";
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the queue (any thread, under m->lock) ---------------------------- */

static void
emit(struct pcsc_monitor *m, enum pcsc_event_type type, const char *reader,
    long rv)
{
	struct pcsc_event *ev;
	uint64_t one = 1;

	pthread_mutex_lock(&m->lock);
	if (m->q_len == PCSC_MONITOR_QUEUE_MAX) {
		/* Keep the newest: the latest state matters more. */
		m->q_head = (m->q_head + 1) % PCSC_MONITOR_QUEUE_MAX;
		m->q_len--;
		m->dropped++;
	}
	ev = &m->queue[(m->q_head + m->q_len) % PCSC_MONITOR_QUEUE_MAX];
	memset(ev, 0, sizeof *ev);
	ev->type = type;
	ev->rv = rv;
	if (reader != NULL)
		(void)strncpy(ev->reader, reader, sizeof ev->reader - 1);
	/* The eventfd counts "non-empty", not events, so that readability
	 * follows the queue exactly; both change only under the lock. */
	if (m->q_len++ == 0 && write(m->efd, &one, sizeof one) < 0) {
		/* Cannot fail: the counter stays far below its limit. */
	}
	pthread_mutex_unlock(&m->lock);
}

int
pcsc_monitor_read(struct pcsc_monitor *m, struct pcsc_event *ev, size_t max)
{
	uint64_t v;
	size_t n = 0;

	pthread_mutex_lock(&m->lock);
	while (n < max && m->q_len > 0) {
		ev[n++] = m->queue[m->q_head];
		m->q_head = (m->q_head + 1) % PCSC_MONITOR_QUEUE_MAX;
		m->q_len--;
	}
	if (n > 0 && m->q_len == 0 && read(m->efd, &v, sizeof v) < 0) {
		/* EAGAIN: already clear. */
	}
	pthread_mutex_unlock(&m->lock);
	return (int)n;
}

int
pcsc_monitor_fd(const struct pcsc_monitor *m)
{
	return m->efd;
}

uint64_t
pcsc_monitor_dropped(struct pcsc_monitor *m)
{
	uint64_t d;

	pthread_mutex_lock(&m->lock);
	d = m->dropped;
	pthread_mutex_unlock(&m->lock);
	return d;
}

/* ---- the thread ------------------------------------------------------- */

static bool
stopping(struct pcsc_monitor *m)
{
	bool s;

	pthread_mutex_lock(&m->lock);
	s = m->stopping;
	pthread_mutex_unlock(&m->lock);
	return s;
}

static void
deadline_in(struct timespec *ts, unsigned int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Sleeps ms unless stop comes first. */
static void
pause_ms(struct pcsc_monitor *m, unsigned int ms)
{
	struct timespec ts;

	deadline_in(&ts, ms);
	pthread_mutex_lock(&m->lock);
	while (!m->stopping &&
	    pthread_cond_timedwait(&m->wake, &m->lock, &ts) == 0)
		;
	pthread_mutex_unlock(&m->lock);
}

static void
forget_reader(struct pcsc_monitor *m, size_t i)
{
	struct reader *r = &m->readers[i];

	if (r->present)
		emit(m, PCSC_EV_CARD_REMOVED, r->name, 0);
	emit(m, PCSC_EV_READER_REMOVED, r->name, 0);
	memmove(r, r + 1, (m->nreaders - i - 1) * sizeof *r);
	m->nreaders--;
}

static void
release_ctx(struct pcsc_monitor *m)
{
	pthread_mutex_lock(&m->lock);
	if (m->ctx_valid) {
		(void)SCardReleaseContext(m->ctx);
		m->ctx_valid = false;
	}
	pthread_mutex_unlock(&m->lock);
}

/* pcscd is gone (or never came): everything it served is gone too. */
static void
service_lost(struct pcsc_monitor *m, LONG rv)
{
	release_ctx(m);
	while (m->nreaders > 0)
		forget_reader(m, 0);
	if (m->service_up) {
		m->service_up = false;
		emit(m, PCSC_EV_SERVICE_LOST, NULL, (long)rv);
	}
}

static LONG
establish(struct pcsc_monitor *m)
{
	SCARDCONTEXT ctx;
	LONG rv;

	rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);
	if (rv != SCARD_S_SUCCESS)
		return rv;
	pthread_mutex_lock(&m->lock);
	m->ctx = ctx;
	m->ctx_valid = true;
	pthread_mutex_unlock(&m->lock);
	if (!m->service_up) {
		m->service_up = true;
		emit(m, PCSC_EV_SERVICE_BACK, NULL, 0);
	}
	m->pnp = true;
	m->pnp_state = SCARD_STATE_UNAWARE;
	m->need_list = true;
	return SCARD_S_SUCCESS;
}

/* Takes a reader list (a multi-string of len bytes from pcscd: names,
 * each NUL-terminated, then one more NUL) and reports the difference from
 * what we knew. Trusts nothing in it beyond len bytes. */
static void
apply_reader_list(struct pcsc_monitor *m, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	size_t i, n;

	for (i = 0; i < m->nreaders; i++)
		m->readers[i].listed = false;
	while (p < end && *p != '\0') {
		n = strnlen(p, (size_t)(end - p));
		if (n == (size_t)(end - p))
			break;  /* unterminated: ignore the rest */
		for (i = 0; i < m->nreaders; i++)
			if (strcmp(m->readers[i].name, p) == 0)
				break;
		if (i < m->nreaders) {
			m->readers[i].listed = true;
		} else if (n < PCSC_MONITOR_READER_MAX &&
		    m->nreaders < PCSC_MONITOR_READERS_MAX) {
			struct reader *r = &m->readers[m->nreaders++];

			memcpy(r->name, p, n + 1);
			r->state = SCARD_STATE_UNAWARE;
			r->present = false;
			r->listed = true;
			emit(m, PCSC_EV_READER_ADDED, r->name, 0);
		}
		p += n + 1;
	}
	for (i = m->nreaders; i-- > 0;)
		if (!m->readers[i].listed)
			forget_reader(m, i);
	m->need_list = false;
}

static LONG
refresh_readers(struct pcsc_monitor *m)
{
	char buf[READER_LIST_MAX];
	DWORD len = sizeof buf;
	LONG rv;

	rv = SCardListReaders(m->ctx, NULL, buf, &len);
	if (rv == SCARD_E_NO_READERS_AVAILABLE)
		len = 0;
	else if (rv != SCARD_S_SUCCESS)
		return rv;
	if (len > sizeof buf)
		return SCARD_E_INSUFFICIENT_BUFFER;
	apply_reader_list(m, buf, len);
	return SCARD_S_SUCCESS;
}

static void
reader_changed(struct pcsc_monitor *m, struct reader *r, DWORD st)
{
	bool present = (st & SCARD_STATE_PRESENT) != 0;
	DWORD old = r->state;

	/* Always take the new state, or the next wait returns at once. */
	r->state = st;
	if (st & (SCARD_STATE_UNKNOWN | SCARD_STATE_IGNORE)) {
		/* The reader itself is going: the list will say, and
		 * report its card removed with it. */
		m->need_list = true;
		return;
	}
	/* UNAVAILABLE (the reader failed) has no PRESENT: no card. */
	if (present && r->present && (st >> 16) != (old >> 16)) {
		/* Out and in again since we last looked. */
		emit(m, PCSC_EV_CARD_REMOVED, r->name, 0);
		emit(m, PCSC_EV_CARD_INSERTED, r->name, 0);
	} else if (present != r->present) {
		emit(m, present ? PCSC_EV_CARD_INSERTED :
		    PCSC_EV_CARD_REMOVED, r->name, 0);
	}
	r->present = present;
}

/* One wait in pcscd. Returns a PC/SC error only when the context is
 * unusable; everything else is handled here. */
static LONG
wait_changes(struct pcsc_monitor *m)
{
	SCARD_READERSTATE rs[PCSC_MONITOR_READERS_MAX + 1];
	DWORD n = 0, i, first;
	LONG rv;

	memset(rs, 0, sizeof rs);
	if (m->pnp) {
		rs[n].szReader = pnp_reader;
		rs[n].dwCurrentState = m->pnp_state;
		n++;
	}
	first = n;
	for (i = 0; i < m->nreaders; i++, n++) {
		rs[n].szReader = m->readers[i].name;
		rs[n].dwCurrentState = m->readers[i].state;
	}
	if (n == 0) {
		/* No PnP and no readers: nothing to wait on but time. */
		pause_ms(m, PCSC_MONITOR_WAIT_MS);
		m->need_list = true;
		return SCARD_S_SUCCESS;
	}

	/* Stop may have come while we listed; SCardCancel only reaches a
	 * wait already under way. */
	if (stopping(m))
		return SCARD_S_SUCCESS;
	rv = SCardGetStatusChange(m->ctx, PCSC_MONITOR_WAIT_MS, rs, n);
	switch (rv) {
	case SCARD_S_SUCCESS:
		break;
	case SCARD_E_TIMEOUT:
		/* Without PnP, reader changes show only in the list. */
		if (!m->pnp)
			m->need_list = true;
		return SCARD_S_SUCCESS;
	case SCARD_E_CANCELLED:
		return SCARD_S_SUCCESS;
	case SCARD_E_UNKNOWN_READER:
	case SCARD_E_READER_UNAVAILABLE:
		/* A reader went between the list and the wait; or, if the
		 * list just came fresh, the PnP pseudo-reader is not
		 * supported: do without it. */
		if (m->pnp && m->pnp_state == SCARD_STATE_UNAWARE &&
		    !m->need_list)
			m->pnp = false;
		m->need_list = true;
		return SCARD_S_SUCCESS;
	default:
		return rv;
	}

	if (m->pnp) {
		/* The first answer after a list comes at once; list again
		 * anyway, in case a reader came between the two calls. */
		if (rs[0].dwEventState & SCARD_STATE_CHANGED)
			m->need_list = true;
		m->pnp_state = rs[0].dwEventState & ~SCARD_STATE_CHANGED;
	}
	for (i = first; i < n; i++)
		if (rs[i].dwEventState & SCARD_STATE_CHANGED)
			reader_changed(m, &m->readers[i - first],
			    rs[i].dwEventState & ~SCARD_STATE_CHANGED);
	return SCARD_S_SUCCESS;
}

/* A pcscd that answers at once, over and over, must not spin the CPU. */
static void
spin_guard(struct pcsc_monitor *m)
{
	uint64_t t = now_ms();

	if (t - m->spin_window_ms >= 1000) {
		m->spin_window_ms = t;
		m->spin_count = 0;
	}
	if (++m->spin_count > SPIN_MAX_PER_S)
		pause_ms(m, SPIN_PAUSE_MS);
}

static void *
monitor_main(void *arg)
{
	struct pcsc_monitor *m = arg;
	unsigned int backoff = BACKOFF_MIN_MS;
	LONG rv;

	while (!stopping(m)) {
		spin_guard(m);
		rv = SCARD_S_SUCCESS;
		if (!m->ctx_valid)
			rv = establish(m);
		if (rv == SCARD_S_SUCCESS && m->need_list)
			rv = refresh_readers(m);
		if (rv == SCARD_S_SUCCESS)
			rv = wait_changes(m);
		if (rv == SCARD_S_SUCCESS) {
			backoff = BACKOFF_MIN_MS;
			continue;
		}
		/* pcscd is absent, or the context died with it (or is
		 * unusable for another reason): drop it and retry, first
		 * soon, since a restarted pcscd is usually back at once. */
		service_lost(m, rv);
		pause_ms(m, backoff);
		backoff *= 2;
		if (backoff > PCSC_MONITOR_BACKOFF_MAX_MS)
			backoff = PCSC_MONITOR_BACKOFF_MAX_MS;
	}
	release_ctx(m);
	pthread_mutex_lock(&m->lock);
	m->done = true;
	pthread_cond_broadcast(&m->wake);
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

int
pcsc_monitor_start(struct pcsc_monitor **out)
{
	struct pcsc_monitor *m;
	pthread_condattr_t ca;
	sigset_t all, old;
	bool have_lock = false, have_cond = false;
	int r = SIGNET_ERR_NOMEM, err, saved;

	*out = NULL;
	m = calloc(1, sizeof *m);
	if (m == NULL)
		return SIGNET_ERR_NOMEM;
	m->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (m->efd < 0) {
		r = SIGNET_ERR_IO;
		goto out;
	}
	if (pthread_mutex_init(&m->lock, NULL) != 0)
		goto out;
	have_lock = true;
	if (pthread_condattr_init(&ca) != 0)
		goto out;
	err = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (err == 0)
		err = pthread_cond_init(&m->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (err != 0)
		goto out;
	have_cond = true;
	/* Assume pcscd is there, so that its absence at start is reported
	 * (SERVICE_LOST) like a loss, and its arrival as SERVICE_BACK. */
	m->service_up = true;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&m->thread, NULL, monitor_main, m);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err != 0) {
		errno = err;
		r = SIGNET_ERR_IO;
		goto out;
	}
	*out = m;
	m = NULL;
	r = 0;
out:
	if (m != NULL) {
		saved = errno;
		if (have_cond)
			pthread_cond_destroy(&m->wake);
		if (have_lock)
			pthread_mutex_destroy(&m->lock);
		if (m->efd >= 0)
			close(m->efd);
		free(m);
		errno = saved;
	}
	return r;
}

void
pcsc_monitor_stop(struct pcsc_monitor *m)
{
	struct timespec ts;

	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	m->stopping = true;
	pthread_cond_broadcast(&m->wake);
	/* SCardCancel wakes a wait that pcscd has already registered; one
	 * just starting misses it and would run its full timeout. So cancel
	 * again until the thread is out. Under the lock, so the thread
	 * cannot release the context meanwhile; the thread's own timeout
	 * (PCSC_MONITOR_WAIT_MS) bounds the loop. */
	while (!m->done) {
		if (m->ctx_valid)
			(void)SCardCancel(m->ctx);
		deadline_in(&ts, STOP_RETRY_MS);
		while (!m->done &&
		    pthread_cond_timedwait(&m->wake, &m->lock, &ts) == 0)
			;
	}
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);

	pthread_cond_destroy(&m->wake);
	pthread_mutex_destroy(&m->lock);
	close(m->efd);
	free(m);
}
