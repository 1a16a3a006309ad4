#include "agent/agent.h"

void
m_agent_info(struct call *c, json_t *params)
{
	static const struct param_spec spec[] = { { NULL, 0, false } };

	if (!params_check(c, params, spec))
		return;
	call_result(c, json_pack("{s:s, s:s, s:i, s:[s,s,s,s,s,s], s:[s,s,s], s:[s,s]}",
	    "name", "signetd", "version", SIGNET_VERSION,
	    "protocol", SIGNET_PROTOCOL_VERSION,
	    "capabilities", SIGNET_M_TOKENS_LIST, SIGNET_M_CERTS_LIST,
	    SIGNET_M_TOKEN_LOGIN, SIGNET_M_TOKEN_LOGOUT, SIGNET_M_SIGN, "sign.fd",
	    "digests", "sha256", "sha384", "sha512",
	    "formats", "der", "pem"));
}
