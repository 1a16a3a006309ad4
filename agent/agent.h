/*
 * signetd's shared types: the agent, a client connection, and one call
 * (request) in flight. Data flows one way (DESIGN.md): conn.c frames
 * lines and descriptors, rpc.c parses and dispatches, the m_*.c methods
 * work asynchronously and finish with call_result() or call_error().
 */
#ifndef SIGNET_AGENT_H
#define SIGNET_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <jansson.h>

#include "agent/loop.h"
#include "common/buf.h"
#include "signet/protocol.h"

#define AGENT_MAX_CONNS       4096u
#define AGENT_MAX_INFLIGHT    32u   /* calls in flight on one connection */
#define AGENT_MAX_OUT         (64u * 1024u * 1024u) /* replies not yet read */
#define AGENT_MAX_MODULES     16u

struct registry;
struct events;
struct audit;
struct policy;

struct agent {
	struct loop *loop;
	struct registry *reg;
	struct events *events;
	struct audit *audit;  /* NULL: the log cannot be written; no signing */
	struct policy *policy;   /* swapped whole by a reload (SIGHUP) */
	bool system_mode;
	uid_t uid;           /* the agent's own uid: allowed peers */
	int listen_fd;
	unsigned line_timeout_ms; /* a started line must end within it */
	struct conn *conns;  /* every open connection */
	unsigned nconns;
	bool stopping;
};

struct call;

struct conn {
	struct agent *agent;
	struct conn *prev, *next;
	int fd;
	struct watch *watch;
	struct ucred peer;
	char *exe;           /* the peer's executable at connect; NULL unknown */
	gid_t groups[64];    /* supplementary groups at connect */
	size_t ngroups;
	struct buf in;       /* the line being assembled; secret (PINs) */
	size_t scanned;      /* bytes of in already searched for '\n' */
	int *fds;            /* received descriptors, FIFO; allocated (for
	                      * SIGNET_MAX_FDS_QUEUED) when the first comes */
	unsigned nfds;
	struct buf out;      /* replies waiting to be written */
	struct call *head, *tail; /* calls in request order */
	unsigned inflight;
	bool close_after_flush;
	bool subscribed;     /* events.subscribe: gets notifications */
	struct timer *line_timer; /* runs while a partial line waits */
	unsigned busy;       /* dispatch running: freeing waits */
	bool dead;           /* free once not busy */
};

/*
 * One request. It outlives its connection when the client goes away while
 * work is in flight: conn is then NULL, and the method sees call_gone().
 */
struct call {
	struct agent *agent;
	struct conn *conn;
	json_t *id;          /* NULL for a notification: no reply */
	struct ucred peer;
	char *exe;           /* a copy of the connection's */
	gid_t groups[64];
	size_t ngroups;
	int *fds;            /* the descriptors this request took */
	unsigned nfds;
	bool done;
	char *reply;         /* the serialized reply line, once done */
	size_t reply_len;
	struct call *next;
	void *state;         /* the method's own */
	void (*state_free)(void *state);
	/* Called when the client goes away while the call waits on it (a
	 * document it is still writing): finish the call now. */
	void (*on_gone)(struct call *c);
};

/* conn.c */
/* Accepts every waiting client; SIGNET_ERR_LIMIT when the agent is out
 * of descriptors or memory (pause accepting, or the loop spins). */
int conn_accept(struct agent *a, int listen_fd);
/* At shutdown: closes every connection (calls in flight are orphaned). */
void conn_close_all(struct agent *a);
/* Output was queued in conn->out outside a call: write when possible. */
void conn_want_write(struct conn *conn);
/* Queues a finished call's reply in order and frees what can go. */
void conn_call_done(struct call *c);

/* rpc.c */
void rpc_dispatch(struct conn *conn, char *line, size_t len);
/* Replies with params-free errors when no call exists yet (id may be NULL). */
void rpc_error_line(struct conn *conn, json_t *id, int code, const char *reason,
    const char *message);

/* Finishes a call. Each takes ownership of the json it is given. */
void call_result(struct call *c, json_t *result);
void call_error(struct call *c, int code, const char *reason, const char *message,
    json_t *data);
/* The client has gone: finishing is still required, but work may stop. */
bool call_gone(const struct call *c);
/* Takes descriptor index i of this call (-1 when absent). */
int call_take_fd(struct call *c, unsigned i);

/* The method table. */
typedef void (*method_fn)(struct call *c, json_t *params);
struct method {
	const char *name;
	method_fn fn;
};
const struct method *method_find(const char *name);
/* Each m_*.c file provides its entries. */
void m_agent_info(struct call *c, json_t *params);
void m_tokens_list(struct call *c, json_t *params);
void m_certs_list(struct call *c, json_t *params);
void m_token_login(struct call *c, json_t *params);
void m_token_logout(struct call *c, json_t *params);
void m_sign(struct call *c, json_t *params);
void m_events_subscribe(struct call *c, json_t *params);
void m_agent_lock(struct call *c, json_t *params);

/* m_tokens.c: the agent logs a token out on its own (ttl, idle,
 * max_signatures, agent.lock), telling subscribers and the audit log. */
void agent_logout_token(struct agent *a, const void *module, const char *serial,
    const char *label, const char *reason);

/*
 * Parameter checking shared by the methods: unknown keys and wrong types
 * finish the call with invalid_params naming the parameter, and return
 * false.
 */
struct param_spec {
	const char *name;
	json_type type;      /* JSON_STRING, JSON_INTEGER, JSON_TRUE (bool) */
	bool required;
};
bool params_check(struct call *c, json_t *params, const struct param_spec *spec);
const char *param_str(json_t *params, const char *name);
bool param_bool(json_t *params, const char *name);

#endif
