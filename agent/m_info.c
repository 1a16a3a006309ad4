#include "agent/agent.h"
#include "agent/gost.h"

void
m_agent_info(struct call *c, json_t *params)
{
	static const struct param_spec spec[] = { { NULL, 0, false } };
	json_t *digests;

	if (!params_check(c, params, spec))
		return;
	digests = json_pack("[s,s,s]", "sha256", "sha384", "sha512");
	if (digests != NULL && gost_available()) {
		json_array_append_new(digests, json_string("streebog256"));
		json_array_append_new(digests, json_string("streebog512"));
	}
	call_result(c, json_pack("{s:s, s:s, s:i, s:[s,s,s,s,s,s,s,s,s], s:o, s:[s,s]}",
	    "name", "signetd", "version", SIGNET_VERSION,
	    "protocol", SIGNET_PROTOCOL_VERSION,
	    "capabilities", SIGNET_M_TOKENS_LIST, SIGNET_M_CERTS_LIST,
	    SIGNET_M_TOKEN_LOGIN, SIGNET_M_TOKEN_LOGOUT, SIGNET_M_SIGN, "sign.fd",
	    "sign.batch", SIGNET_M_EVENTS_SUBSCRIBE, SIGNET_M_AGENT_LOCK,
	    "digests", digests,
	    "formats", "der", "pem"));
}
