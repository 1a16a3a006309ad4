#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/audited.h"
#include "agent/authorize.h"
#include "agent/log.h"

struct rate_entry {
	uid_t uid;
	char *exe;
	struct policy_rate rate;
};

static struct rate_entry rates[RATES_MAX];
static size_t nrates;

void
authorize_input(const struct call *c, struct policy_input *in)
{
	memset(in, 0, sizeof(*in));
	in->mode = c->agent->system_mode ? POLICY_MODE_SYSTEM : POLICY_MODE_USER;
	in->self_uid = c->agent->uid;
	in->id.uid = c->peer.uid;
	in->id.gid = c->peer.gid;
	in->id.groups = c->groups;
	in->id.ngroups = c->ngroups;
	in->id.pid = c->peer.pid;
	in->id.exe = c->exe;
	in->now = time(NULL);
}

int
authorize_code(const char *reason)
{
	if (strcmp(reason, POLICY_R_PIN_FINAL_TRY) == 0 ||
	    strcmp(reason, POLICY_R_PIN_LOCKED) == 0)
		return SIGNET_E_AUTH;
	return SIGNET_E_REFUSED;
}

bool
authorize_op(struct call *c, enum policy_op op, const char *ev_type,
    struct policy_decision *out)
{
	struct policy_input in;
	struct policy_decision d;
	json_t *ev;

	authorize_input(c, &in);
	in.req.op = op;
	policy_eval(c->agent->policy, &in, &d);
	if (out != NULL)
		*out = d;
	if (d.allow)
		return true;
	ev = audited_event(c, ev_type);
	if (ev != NULL)
		json_object_set_new(ev, "rule", json_string(d.rule));
	audited_error(c, ev, true, authorize_code(d.reason), d.reason,
	    "the signing policy refuses this", json_pack("{s:s}", "rule", d.rule));
	return false;
}

bool
authorize_connect(struct agent *a, const struct ucred *peer, const char *exe,
    const gid_t *groups, size_t ngroups, const char **reason)
{
	struct policy_input in;
	struct policy_decision d;

	memset(&in, 0, sizeof(in));
	in.mode = a->system_mode ? POLICY_MODE_SYSTEM : POLICY_MODE_USER;
	in.self_uid = a->uid;
	in.id.uid = peer->uid;
	in.id.gid = peer->gid;
	in.id.groups = groups;
	in.id.ngroups = ngroups;
	in.id.pid = peer->pid;
	in.id.exe = exe;
	in.now = time(NULL);
	in.req.op = POLICY_OP_LIST;
	policy_eval(a->policy, &in, &d);
	*reason = d.reason;
	return d.allow;
}

struct policy_rate *
authorize_rate(const struct call *c)
{
	const char *exe = c->exe != NULL ? c->exe : "";
	struct rate_entry *e, *oldest = NULL;
	size_t i;

	for (i = 0; i < nrates; i++) {
		e = &rates[i];
		if (e->uid == c->peer.uid && strcmp(e->exe, exe) == 0)
			return &e->rate;
		if (oldest == NULL || e->rate.window_start < oldest->rate.window_start)
			oldest = e;
	}
	if (nrates < RATES_MAX)
		e = &rates[nrates++];
	else {
		/* Full: the longest-quiet client's window is forgotten. */
		e = oldest;
		free(e->exe);
	}
	memset(e, 0, sizeof(*e));
	e->uid = c->peer.uid;
	if ((e->exe = strdup(exe)) == NULL) {
		nrates--;
		return NULL;
	}
	return &e->rate;
}
