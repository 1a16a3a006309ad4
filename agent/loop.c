#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "agent/loop.h"

#define LOOP_MAX_EVENTS 64

/*
 * Watches, timers and tasks are freed only between dispatch rounds: a
 * callback may cancel another one whose event is already in this round's
 * batch, so cancelling marks it dead and puts it on the graveyard.
 */
struct watch {
	struct loop *loop;
	int fd;
	uint32_t events;         /* as registered: epoll_ctl only on change */
	bool dead;
	watch_fn fn;
	void *arg;
	struct watch *prev, *next; /* live list */
	struct watch *next_dead;
};

struct timer {
	struct loop *loop;
	uint64_t due;
	bool dead;
	timer_fn fn;
	void *arg;
	struct timer *next;
};

struct task {
	struct loop *loop;
	bool dead;
	task_fn fn;
	void *arg;
	struct task *next;
};

struct loop {
	int epfd;
	bool stop;
	struct timer *timers; /* unsorted; there are few */
	struct task *tasks;
	struct watch *watches;     /* live */
	struct watch *dead_watches;
};

uint64_t
loop_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int
loop_new(struct loop **out)
{
	struct loop *l;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return SIGNET_ERR_NOMEM;
	if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		free(l);
		return SIGNET_ERR_IO;
	}
	*out = l;
	return 0;
}

static void
loop_reap(struct loop *l)
{
	struct watch *w;
	struct timer **tp, *t;
	struct task **kp, *k;

	while ((w = l->dead_watches) != NULL) {
		l->dead_watches = w->next_dead;
		free(w);
	}
	for (tp = &l->timers; (t = *tp) != NULL;) {
		if (t->dead) {
			*tp = t->next;
			free(t);
		} else
			tp = &t->next;
	}
	for (kp = &l->tasks; (k = *kp) != NULL;) {
		if (k->dead) {
			*kp = k->next;
			free(k);
		} else
			kp = &k->next;
	}
}

void
loop_free(struct loop *l)
{
	struct timer *t;
	struct task *k;

	if (l == NULL)
		return;
	while (l->watches != NULL)
		loop_unwatch(l->watches);
	for (t = l->timers; t != NULL; t = t->next)
		t->dead = true;
	for (k = l->tasks; k != NULL; k = k->next)
		k->dead = true;
	loop_reap(l);
	close(l->epfd);
	free(l);
}

struct watch *
loop_watch(struct loop *l, int fd, uint32_t events, watch_fn fn, void *arg)
{
	struct watch *w;
	struct epoll_event ev = { .events = events };

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return NULL;
	w->loop = l;
	w->fd = fd;
	w->events = events;
	w->fn = fn;
	w->arg = arg;
	ev.data.ptr = w;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		free(w);
		return NULL;
	}
	w->next = l->watches;
	if (l->watches != NULL)
		l->watches->prev = w;
	l->watches = w;
	return w;
}

int
loop_watch_set(struct watch *w, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = w };

	if (events == w->events)
		return 0; /* a system call per turn saved on the hot path */
	if (epoll_ctl(w->loop->epfd, EPOLL_CTL_MOD, w->fd, &ev) != 0)
		return SIGNET_ERR_IO;
	w->events = events;
	return 0;
}

void
loop_unwatch(struct watch *w)
{
	if (w == NULL || w->dead)
		return;
	/* The fd may already be closed by the owner; ENOENT/EBADF are fine. */
	(void)epoll_ctl(w->loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		w->loop->watches = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	w->dead = true;
	w->next_dead = w->loop->dead_watches;
	w->loop->dead_watches = w;
}

struct timer *
loop_timer(struct loop *l, uint64_t ms, timer_fn fn, void *arg)
{
	struct timer *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->loop = l;
	t->due = loop_now_ms() + ms;
	t->fn = fn;
	t->arg = arg;
	t->next = l->timers;
	l->timers = t;
	return t;
}

void
loop_timer_cancel(struct timer *t)
{
	if (t != NULL)
		t->dead = true;
}

struct task *
loop_task(struct loop *l, task_fn fn, void *arg)
{
	struct task *k;

	if ((k = calloc(1, sizeof(*k))) == NULL)
		return NULL;
	k->loop = l;
	k->fn = fn;
	k->arg = arg;
	k->next = l->tasks;
	l->tasks = k;
	return k;
}

void
loop_task_cancel(struct task *k)
{
	if (k != NULL)
		k->dead = true;
}

void
loop_stop(struct loop *l)
{
	l->stop = true;
}

/* Milliseconds until the next timer, 0 with tasks waiting, -1 for none. */
static int
loop_timeout(struct loop *l)
{
	struct timer *t;
	struct task *k;
	uint64_t now = loop_now_ms(), next = UINT64_MAX;

	for (k = l->tasks; k != NULL; k = k->next)
		if (!k->dead)
			return 0;
	for (t = l->timers; t != NULL; t = t->next)
		if (!t->dead && t->due < next)
			next = t->due;
	if (next == UINT64_MAX)
		return -1;
	if (next <= now)
		return 0;
	return next - now > 60000 ? 60000 : (int)(next - now);
}

static void
loop_run_timers(struct loop *l)
{
	struct timer *t;
	uint64_t now = loop_now_ms();

	/* Timers added by callbacks go to the list head and wait a turn. */
	for (t = l->timers; t != NULL; t = t->next) {
		if (t->dead || t->due > now)
			continue;
		t->dead = true;
		t->fn(t->arg);
	}
}

static void
loop_run_tasks(struct loop *l)
{
	struct task *k;

	for (k = l->tasks; k != NULL; k = k->next) {
		if (k->dead)
			continue;
		if (!k->fn(k->arg))
			k->dead = true;
	}
}

int
loop_run(struct loop *l)
{
	struct epoll_event ev[LOOP_MAX_EVENTS];
	struct watch *w;
	int i, n;

	l->stop = false;
	while (!l->stop) {
		n = epoll_wait(l->epfd, ev, LOOP_MAX_EVENTS, loop_timeout(l));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return SIGNET_ERR_IO;
		}
		for (i = 0; i < n; i++) {
			w = ev[i].data.ptr;
			if (!w->dead)
				w->fn(w->arg, ev[i].events);
		}
		loop_run_timers(l);
		loop_run_tasks(l);
		loop_reap(l);
	}
	return 0;
}
