#include <stdlib.h>

#include "agent/audit.h"
#include "agent/audited.h"
#include "agent/log.h"

struct pending_reply {
	struct call *call;
	json_t *result;          /* or NULL for an error */
	void (*undo)(struct call *c);
	int code;
	const char *reason;      /* static strings from protocol.h */
	const char *message;     /* callers pass literals */
	json_t *data;
};

json_t *
audited_event(struct call *c, const char *type)
{
	json_t *ev = audit_event_new(type);

	if (ev != NULL && audit_event_client(ev, &c->peer, c->exe) != 0) {
		json_decref(ev);
		return NULL;
	}
	return ev;
}

static void
audited_unavailable(struct call *c)
{
	call_error(c, SIGNET_E_REFUSED, SIGNET_R_AUDIT_UNAVAILABLE,
	    "the audit log cannot be written: nothing was signed", NULL);
}

static void
audited_done(void *arg, int status)
{
	struct pending_reply *p = arg;

	if (p->result != NULL) {
		if (status == 0)
			call_result(p->call, p->result);
		else {
			log_err("audit record not written (%s): withholding the result",
			    signet_strerror(status));
			json_decref(p->result);
			if (p->undo != NULL)
				p->undo(p->call);
			audited_unavailable(p->call);
		}
	} else {
		if (status != 0)
			log_err("audit record of a refusal not written (%s)",
			    signet_strerror(status));
		call_error(p->call, p->code, p->reason, p->message, p->data);
	}
	free(p);
}

void
audited_result(struct call *c, json_t *ev, json_t *result,
    void (*undo)(struct call *c))
{
	struct pending_reply *p;

	if (c->agent->audit == NULL || ev == NULL || result == NULL ||
	    (p = calloc(1, sizeof(*p))) == NULL) {
		json_decref(ev);
		json_decref(result);
		if (undo != NULL)
			undo(c);
		audited_unavailable(c);
		return;
	}
	json_object_set_new(ev, "decision", json_string("allow"));
	json_object_set_new(ev, "result", json_string("ok"));
	p->call = c;
	p->result = result;
	p->undo = undo;
	audit_submit(c->agent->audit, ev, audited_done, p);
}

void
audited_error(struct call *c, json_t *ev, bool refusal, int code,
    const char *reason, const char *message, json_t *data)
{
	struct pending_reply *p;

	if (c->agent->audit == NULL || ev == NULL ||
	    (p = calloc(1, sizeof(*p))) == NULL) {
		json_decref(ev);
		call_error(c, code, reason, message, data);
		return;
	}
	json_object_set_new(ev, "decision", json_string(refusal ? "deny" : "allow"));
	json_object_set_new(ev, "reason", json_string(reason));
	json_object_set_new(ev, "result", json_string(refusal ? "refused" : "error"));
	p->call = c;
	p->code = code;
	p->reason = reason;
	p->message = message;
	p->data = data;
	audit_submit(c->agent->audit, ev, audited_done, p);
}

void
audited_note(struct agent *a, json_t *ev)
{
	if (a->audit == NULL || ev == NULL) {
		json_decref(ev);
		return;
	}
	audit_submit(a->audit, ev, NULL, NULL);
}
