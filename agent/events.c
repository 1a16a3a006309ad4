#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/events.h"
#include "agent/log.h"

#define EVENTS_MAX_KNOWN 256u

struct known {
	const void *module;
	char serial[64];
	char label[64];
	bool logged_in;
	bool seen;               /* in the snapshot being compared */
};

struct events {
	struct agent *agent;
	struct known known[EVENTS_MAX_KNOWN];
	size_t nknown;
	struct timer *poll;
	bool refreshing;
};

/* Sends a notification to every subscribed connection. Lines are queued
 * and written when the socket is writable: never a flush from here, so no
 * connection goes away under the caller. */
static void
events_emit(struct events *ev, const char *method, const char *serial,
    const char *label, const char *reason)
{
	struct conn *conn;
	json_t *msg;
	json_malloc_t jm;
	json_free_t jf;
	char *line;
	size_t len;

	log_info("event %s: token %s (%s)", method, serial, reason);
	msg = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}}", "jsonrpc", "2.0",
	    "method", method, "params", "serial", serial, "label", label,
	    "reason", reason);
	if (msg == NULL || (line = json_dumps(msg, JSON_COMPACT)) == NULL) {
		json_decref(msg);
		return;
	}
	json_decref(msg);
	len = strlen(line);
	for (conn = ev->agent->conns; conn != NULL; conn = conn->next) {
		if (!conn->subscribed || conn->close_after_flush)
			continue;
		buf_put(&conn->out, line, len);
		buf_put(&conn->out, "\n", 1);
		conn_want_write(conn);
	}
	json_get_alloc_funcs(&jm, &jf);
	jf(line);
}

static struct known *
events_find(struct events *ev, const void *module, const char *serial)
{
	size_t i;

	for (i = 0; i < ev->nknown; i++)
		if (ev->known[i].module == module &&
		    strcmp(ev->known[i].serial, serial) == 0)
			return &ev->known[i];
	return NULL;
}

static bool
events_anyone_cares(const struct events *ev)
{
	const struct conn *conn;
	size_t i;

	for (i = 0; i < ev->nknown; i++)
		if (ev->known[i].logged_in)
			return true;
	for (conn = ev->agent->conns; conn != NULL; conn = conn->next)
		if (conn->subscribed)
			return true;
	return false;
}

static void events_schedule(struct events *ev, uint64_t ms);

static void
events_refreshed(void *arg)
{
	struct events *ev = arg;

	ev->refreshing = false;
	if (events_anyone_cares(ev))
		events_schedule(ev, EVENTS_POLL_MS);
}

static void
events_poll(void *arg)
{
	struct events *ev = arg;

	ev->poll = NULL; /* the loop frees a timer that fired */
	if (ev->refreshing || ev->agent->stopping)
		return;
	ev->refreshing = true;
	registry_refresh(ev->agent->reg, false, events_refreshed, ev);
}

static void
events_schedule(struct events *ev, uint64_t ms)
{
	if (ev->poll != NULL || ev->refreshing)
		return;
	ev->poll = loop_timer(ev->agent->loop, ms, events_poll, ev);
}

void
events_poke(struct events *ev)
{
	if (ev->poll != NULL) {
		loop_timer_cancel(ev->poll);
		ev->poll = NULL;
	}
	events_schedule(ev, 0);
}

int
events_new(struct events **out, struct agent *a)
{
	struct events *ev = calloc(1, sizeof(*ev));

	if (ev == NULL)
		return SIGNET_ERR_NOMEM;
	ev->agent = a;
	*out = ev;
	return 0;
}

void
events_free(struct events *ev)
{
	if (ev == NULL)
		return;
	loop_timer_cancel(ev->poll);
	free(ev);
}

static void
known_set(struct known *k, const void *module, const char *serial,
    const char *label)
{
	k->module = module;
	snprintf(k->serial, sizeof(k->serial), "%s", serial);
	snprintf(k->label, sizeof(k->label), "%s", label);
}

void
events_on_snapshot(void *arg, const struct reg_snapshot *old,
    const struct reg_snapshot *now)
{
	struct events *ev = arg;
	const struct reg_token *t;
	struct known *k;
	size_t i;

	(void)old;
	for (i = 0; i < ev->nknown; i++)
		ev->known[i].seen = false;
	for (i = 0; i < now->ntokens; i++) {
		t = &now->tokens[i];
		if ((k = events_find(ev, t->module, t->serial)) == NULL) {
			if (ev->nknown == EVENTS_MAX_KNOWN)
				continue;
			k = &ev->known[ev->nknown++];
			memset(k, 0, sizeof(*k));
			known_set(k, t->module, t->serial, t->label);
			events_emit(ev, "token.inserted", k->serial, k->label, "inserted");
		}
		k->seen = true;
		if (k->logged_in != t->logged_in) {
			k->logged_in = t->logged_in;
			events_emit(ev, t->logged_in ? "token.logged_in" : "token.logged_out",
			    k->serial, k->label, "token");
		}
	}
	for (i = 0; i < ev->nknown;) {
		k = &ev->known[i];
		if (k->seen) {
			i++;
			continue;
		}
		/* Gone: so is any login on it (a reinserted token asks again). */
		if (k->logged_in)
			events_emit(ev, "token.logged_out", k->serial, k->label,
			    "token_removed");
		events_emit(ev, "token.removed", k->serial, k->label, "removed");
		*k = ev->known[--ev->nknown];
	}
	if (events_anyone_cares(ev))
		events_schedule(ev, EVENTS_POLL_MS);
}

void
events_login(struct events *ev, const void *module, const char *serial,
    const char *label, bool logged_in, const char *reason)
{
	struct known *k = events_find(ev, module, serial);

	if (k == NULL) {
		if (ev->nknown == EVENTS_MAX_KNOWN)
			return;
		k = &ev->known[ev->nknown++];
		memset(k, 0, sizeof(*k));
		known_set(k, module, serial, label);
	}
	if (k->logged_in == logged_in)
		return;
	k->logged_in = logged_in;
	events_emit(ev, logged_in ? "token.logged_in" : "token.logged_out",
	    k->serial, k->label, reason);
	if (logged_in)
		events_schedule(ev, EVENTS_POLL_MS);
}
