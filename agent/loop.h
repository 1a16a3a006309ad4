/*
 * The agent's single event loop (epoll). Nothing run from it may block:
 * token work goes to helper processes, document reads are done in chunks
 * between polls (DESIGN.md, principle 4).
 */
#ifndef SIGNET_LOOP_H
#define SIGNET_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "common/err.h"

struct loop;
struct watch;
struct timer;
struct task;

typedef void (*watch_fn)(void *arg, uint32_t events);
typedef void (*timer_fn)(void *arg);
/* Returns true while it has more work (it is called again next turn). */
typedef bool (*task_fn)(void *arg);

MUST_CHECK int loop_new(struct loop **out);
void loop_free(struct loop *l);

/* events: EPOLLIN / EPOLLOUT. NULL on failure. */
struct watch *loop_watch(struct loop *l, int fd, uint32_t events, watch_fn fn, void *arg);
MUST_CHECK int loop_watch_set(struct watch *w, uint32_t events);
void loop_unwatch(struct watch *w);

/* Monotonic milliseconds. */
uint64_t loop_now_ms(void);
/* A one-shot timer due at loop_now_ms() + ms; NULL on failure. */
struct timer *loop_timer(struct loop *l, uint64_t ms, timer_fn fn, void *arg);
void loop_timer_cancel(struct timer *t);

/* A task runs each turn, between polls, until it returns false or is
 * cancelled; used for reading documents that epoll cannot watch. */
struct task *loop_task(struct loop *l, task_fn fn, void *arg);
void loop_task_cancel(struct task *t);

/* Runs until loop_stop(). */
MUST_CHECK int loop_run(struct loop *l);
void loop_stop(struct loop *l);

#endif
