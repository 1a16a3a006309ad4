#include "agent/agent.h"
#include "agent/authorize.h"
#include "agent/events.h"

void
m_events_subscribe(struct call *c, json_t *params)
{
	static const struct param_spec spec[] = { { NULL, 0, false } };

	if (!params_check(c, params, spec) ||
	    !authorize_op(c, POLICY_OP_LIST, "subscribe", NULL))
		return;
	if (c->conn != NULL)
		c->conn->subscribed = true;
	/* Start following the tokens now, so the first change is seen. */
	events_poke(c->agent->events);
	call_result(c, json_pack("{s:b}", "subscribed", 1));
}
