#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/events.h"
#include "agent/log.h"

#define EVENTS_MAX_KNOWN 256u
#define EVENTS_MAX_VERIFIED 8u

struct known {
	const void *module;
	char serial[64];
	char label[64];
	bool logged_in;
	bool seen;               /* in the snapshot being compared */
	time_t login_time;       /* when the login began or was first seen */
	time_t last_use;
	unsigned signatures;     /* under this login */
	/* Keys whose signatures verified with their certificate under this
	 * login (cades.h, CADES_FINISH_KEY_VERIFIED): forgotten with it. */
	struct {
		uint8_t cert[32];
		uint8_t id[32];
		uint8_t id_len;
	} verified[EVENTS_MAX_VERIFIED];
	unsigned nverified;
};

struct events {
	struct agent *agent;
	struct known known[EVENTS_MAX_KNOWN];
	size_t nknown;
	struct timer *poll;
	struct timer *expiry;    /* the next login to end by ttl or idle */
	bool refreshing;
};

static void
known_login(struct known *k, bool logged_in)
{
	k->logged_in = logged_in;
	k->login_time = k->last_use = time(NULL);
	k->signatures = 0;
	k->nverified = 0;
}

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
	loop_timer_cancel(ev->expiry);
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
			known_login(k, t->logged_in);
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
	if (logged_in || k->logged_in)
		known_login(k, logged_in); /* a new login starts its clocks */
	else
		return;
	events_emit(ev, logged_in ? "token.logged_in" : "token.logged_out",
	    k->serial, k->label, reason);
	if (logged_in)
		events_schedule(ev, EVENTS_POLL_MS);
	events_rearm(ev);
}

static void
known_policy(const struct known *k, struct policy_token *out)
{
	memset(out, 0, sizeof(*out));
	out->logged_in = k->logged_in;
	out->login_time = k->login_time;
	out->last_use = k->last_use;
	out->signatures = k->signatures;
}

bool
events_token_state(struct events *ev, const void *module, const char *serial,
    struct policy_token *out)
{
	struct known *k = events_find(ev, module, serial);

	if (k == NULL)
		return false;
	known_policy(k, out);
	return true;
}

void
events_signed(struct events *ev, const void *module, const char *serial,
    unsigned n)
{
	struct known *k = events_find(ev, module, serial);

	if (k == NULL)
		return;
	k->signatures += n;
	k->last_use = time(NULL);
	events_rearm(ev);
}

static void
events_expire(void *arg)
{
	struct events *ev = arg;
	struct policy_token pt;
	enum policy_login_state st;
	time_t now = time(NULL);
	size_t i;

	ev->expiry = NULL; /* the loop frees a timer that fired */
	for (i = 0; i < ev->nknown; i++) {
		struct known *k = &ev->known[i];

		if (!k->logged_in)
			continue;
		known_policy(k, &pt);
		st = policy_login_check(ev->agent->policy, &pt, 0, now);
		if (st == POLICY_LOGIN_TTL || st == POLICY_LOGIN_IDLE)
			agent_logout_token(ev->agent, k->module, k->serial, k->label,
			    policy_login_state_name(st));
	}
	events_rearm(ev);
}

void
events_rearm(struct events *ev)
{
	struct policy_token pt;
	time_t next = 0, d, now = time(NULL);
	size_t i;

	if (ev->expiry != NULL) {
		loop_timer_cancel(ev->expiry);
		ev->expiry = NULL;
	}
	if (ev->agent->policy == NULL || ev->agent->stopping)
		return;
	for (i = 0; i < ev->nknown; i++) {
		if (!ev->known[i].logged_in)
			continue;
		known_policy(&ev->known[i], &pt);
		d = policy_login_deadline(ev->agent->policy, &pt);
		if (d != 0 && (next == 0 || d < next))
			next = d;
	}
	if (next != 0)
		ev->expiry = loop_timer(ev->agent->loop,
		    next > now ? (uint64_t)(next - now) * 1000u : 0, events_expire, ev);
}

bool
events_key_verified(struct events *ev, const void *module, const char *serial,
    const uint8_t *id, size_t id_len, const uint8_t cert_sha256[32])
{
	struct known *k = events_find(ev, module, serial);
	unsigned i;

	if (k == NULL || !k->logged_in)
		return false;
	for (i = 0; i < k->nverified; i++)
		if (k->verified[i].id_len == id_len &&
		    memcmp(k->verified[i].id, id, id_len) == 0 &&
		    memcmp(k->verified[i].cert, cert_sha256, 32) == 0)
			return true;
	return false;
}

void
events_key_mark(struct events *ev, const void *module, const char *serial,
    const uint8_t *id, size_t id_len, const uint8_t cert_sha256[32])
{
	struct known *k = events_find(ev, module, serial);

	if (k == NULL || !k->logged_in || id_len > sizeof(k->verified[0].id) ||
	    k->nverified == EVENTS_MAX_VERIFIED ||
	    events_key_verified(ev, module, serial, id, id_len, cert_sha256))
		return;
	memcpy(k->verified[k->nverified].cert, cert_sha256, 32);
	memcpy(k->verified[k->nverified].id, id, id_len);
	k->verified[k->nverified].id_len = (uint8_t)id_len;
	k->nverified++;
}
