/*
 * Signet wire protocol v1: names, error codes, reasons and limits.
 *
 * This header is the machine-readable half of docs/protocol.md; the two
 * must agree (tests/protocol_doc_test checks that every reason below is
 * documented). Clients and the agent include it alike.
 */
#ifndef SIGNET_PROTOCOL_H
#define SIGNET_PROTOCOL_H

#define SIGNET_PROTOCOL_VERSION 1

/* Limits. Every peer-supplied length is checked against one of these
 * before the bytes are buffered. */
#define SIGNET_MAX_LINE        (16u * 1024u * 1024u) /* request line, with '\n' */
#define SIGNET_MAX_FDS_QUEUED  256u /* descriptors waiting on one connection */
#define SIGNET_MAX_BATCH       256u /* documents in one sign request */
#define SIGNET_MAX_PIN_LEN     256u
#define SIGNET_MAX_SELECTOR    1024u

/* Default socket: $XDG_RUNTIME_DIR/signet/agent.sock */
#define SIGNET_SOCKET_DIR_NAME "signet"
#define SIGNET_SOCKET_NAME     "agent.sock"
#define SIGNET_SOCKET_ENV      "SIGNET_SOCKET"

/* Methods. */
#define SIGNET_M_AGENT_INFO   "agent.info"
#define SIGNET_M_TOKENS_LIST  "tokens.list"
#define SIGNET_M_CERTS_LIST   "certs.list"
#define SIGNET_M_TOKEN_LOGIN  "token.login"
#define SIGNET_M_TOKEN_LOGOUT "token.logout"
#define SIGNET_M_SIGN         "sign"
#define SIGNET_M_EVENTS_SUBSCRIBE "events.subscribe"
#define SIGNET_M_AGENT_LOCK   "agent.lock"

/* Notifications (no id) sent to subscribed connections. */
#define SIGNET_N_TOKEN_INSERTED   "token.inserted"
#define SIGNET_N_TOKEN_REMOVED    "token.removed"
#define SIGNET_N_TOKEN_LOGGED_IN  "token.logged_in"
#define SIGNET_N_TOKEN_LOGGED_OUT "token.logged_out"

/* JSON-RPC error codes. The standard ones first, then Signet's range. The
 * code says the class of failure; data.reason (below) says exactly which. */
#define SIGNET_E_PARSE          (-32700) /* line is not JSON */
#define SIGNET_E_INVALID_REQ    (-32600) /* JSON, but not a JSON-RPC request */
#define SIGNET_E_NO_METHOD      (-32601)
#define SIGNET_E_INVALID_PARAMS (-32602)
#define SIGNET_E_INTERNAL       (-32603)
#define SIGNET_E_REFUSED        (-32001) /* peer or policy said no */
#define SIGNET_E_AUTH           (-32002) /* login needed, or PIN problem */
#define SIGNET_E_NOT_FOUND      (-32003) /* token or certificate selector */
#define SIGNET_E_TOKEN          (-32004) /* the token or its module failed */
#define SIGNET_E_IO             (-32005) /* reading the client's descriptor */

/* data.reason values: stable strings, documented in docs/protocol.md. */
#define SIGNET_R_PARSE_ERROR       "parse_error"
#define SIGNET_R_INVALID_REQUEST   "invalid_request"
#define SIGNET_R_LINE_TOO_LONG     "line_too_long"
#define SIGNET_R_UNKNOWN_METHOD    "unknown_method"
#define SIGNET_R_INVALID_PARAMS    "invalid_params"
#define SIGNET_R_BAD_BASE64        "bad_base64"
#define SIGNET_R_BAD_SELECTOR      "bad_selector"
#define SIGNET_R_FD_MISSING        "fd_missing"
#define SIGNET_R_UNSUPPORTED_DIGEST "unsupported_digest"
#define SIGNET_R_UNSUPPORTED_KEY   "unsupported_key"
#define SIGNET_R_INTERNAL_ERROR    "internal_error"
#define SIGNET_R_PEER_REFUSED      "peer_refused"
#define SIGNET_R_AUDIT_UNAVAILABLE "audit_unavailable"
/* Refusals by the signing policy (docs/signet.conf.5, agent/policy.h). */
#define SIGNET_R_POLICY_DENIED      "policy_denied"
#define SIGNET_R_INPUT_NOT_ALLOWED  "input_not_allowed"
#define SIGNET_R_DIGEST_NOT_ALLOWED "digest_not_allowed"
#define SIGNET_R_CERT_NOT_ALLOWED   "cert_not_allowed"
#define SIGNET_R_BATCH_TOO_LARGE    "batch_too_large"
#define SIGNET_R_DOCUMENT_TOO_LARGE "document_too_large"
#define SIGNET_R_RATE_LIMITED       "rate_limited"
#define SIGNET_R_CERT_EXPIRED       "cert_expired"
#define SIGNET_R_CERT_NOT_YET_VALID "cert_not_yet_valid"
#define SIGNET_R_CERT_KEY_USAGE     "cert_key_usage"
#define SIGNET_R_CERT_UNTRUSTED     "cert_untrusted"
#define SIGNET_R_PIN_SOURCE_NOT_ALLOWED "pin_source_not_allowed"
#define SIGNET_R_AUTH_REQUIRED     "auth_required"
#define SIGNET_R_PIN_INCORRECT     "pin_incorrect"
#define SIGNET_R_PIN_FINAL_TRY     "pin_final_try"
#define SIGNET_R_PIN_LOCKED        "pin_locked"
#define SIGNET_R_PIN_LEN_RANGE     "pin_len_range"
#define SIGNET_R_PIN_CANCELLED     "pin_cancelled"
#define SIGNET_R_TOKEN_NOT_FOUND   "token_not_found"
#define SIGNET_R_TOKEN_AMBIGUOUS   "token_ambiguous"
#define SIGNET_R_CERT_NOT_FOUND    "cert_not_found"
#define SIGNET_R_CERT_AMBIGUOUS    "cert_ambiguous"
#define SIGNET_R_TOKEN_ERROR       "token_error"
#define SIGNET_R_TOKEN_UNAVAILABLE "token_unavailable"
#define SIGNET_R_TOKEN_REMOVED     "token_removed"
#define SIGNET_R_FD_READ_ERROR     "fd_read_error"

#endif
