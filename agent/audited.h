/*
 * Every decision is audited before its reply leaves (DESIGN.md, data
 * flow; issue 5): these finish a call once its audit record is durable.
 * A result whose record cannot be written is withheld and the client gets
 * audit_unavailable instead (fail closed); a refusal is sent whatever the
 * log says, since it changes nothing.
 */
#ifndef SIGNET_AUDITED_H
#define SIGNET_AUDITED_H

#include <jansson.h>

#include "agent/agent.h"

/* A new event of this type, with the call's client filled in. */
json_t *audited_event(struct call *c, const char *type);

/* Writes ev with decision "allow" and result "ok", then answers result.
 * undo, when given, runs instead if the record could not be written (a
 * login to take back). Takes both json values. */
void audited_result(struct call *c, json_t *ev, json_t *result,
    void (*undo)(struct call *c));

/* Writes ev with decision deny (refusals) or result error (failures), the
 * reason, then answers the error. Takes ev and data; message must be a
 * string literal (it is kept until the record is written). */
void audited_error(struct call *c, json_t *ev, bool refusal, int code,
    const char *reason, const char *message, json_t *data);

/* An event with no call (agent start and stop, refused connections). */
void audited_note(struct agent *a, json_t *ev);

#endif
