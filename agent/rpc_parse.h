/*
 * The JSON-RPC 2.0 envelope of one request line, checked without any I/O
 * (so it is fuzzed and unit-tested on its own).
 */
#ifndef SIGNET_RPC_PARSE_H
#define SIGNET_RPC_PARSE_H

#include <stddef.h>

#include <jansson.h>

struct rpc_request {
	json_t *root;        /* owns everything below */
	json_t *id;          /* string or integer; NULL for a notification */
	const char *method;
	json_t *params;      /* object; NULL when absent */
	unsigned nfds;       /* descriptors the request names */
	/* On failure: the error to answer (id is then the reply's id, or
	 * NULL for null). */
	int code;
	const char *reason;
	const char *message;
};

/*
 * Parses line (len bytes, no '\n'; a trailing '\r' is ignored). Returns 1
 * for a request, 0 for a blank line (nothing to do), -1 for an error
 * described in req->code/reason/message. Free with rpc_request_clear in
 * every case.
 */
int rpc_parse(struct rpc_request *req, const char *line, size_t len);
void rpc_request_clear(struct rpc_request *req);

#endif
