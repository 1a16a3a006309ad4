#include <string.h>

#include "agent/rpc_parse.h"
#include "signet/protocol.h"

static unsigned
fd_index_count(json_t *holder)
{
	json_t *fd = json_object_get(holder, "fd");
	json_int_t v;

	if (!json_is_integer(fd))
		return 0;
	v = json_integer_value(fd);
	return v >= 0 && v < (json_int_t)SIGNET_MAX_FDS_QUEUED ? (unsigned)v + 1 : 0;
}

/* Descriptors a request takes: the highest "fd" index it names, plus one,
 * in params or in params.documents[]. */
static unsigned
fds_named(json_t *params)
{
	json_t *docs, *d;
	size_t i;
	unsigned n, max;

	if (params == NULL)
		return 0;
	max = fd_index_count(params);
	docs = json_object_get(params, "documents");
	if (json_is_array(docs)) {
		json_array_foreach(docs, i, d) {
			if (i >= SIGNET_MAX_BATCH)
				break;
			if ((n = fd_index_count(d)) > max)
				max = n;
		}
	}
	return max;
}

static int
rpc_fail(struct rpc_request *req, int code, const char *reason, const char *msg)
{
	req->code = code;
	req->reason = reason;
	req->message = msg;
	return -1;
}

int
rpc_parse(struct rpc_request *req, const char *line, size_t len)
{
	json_t *version, *method, *id;
	json_error_t jerr;

	memset(req, 0, sizeof(*req));
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return 0; /* blank lines are keep-alives */
	req->root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (req->root == NULL)
		return rpc_fail(req, SIGNET_E_PARSE, SIGNET_R_PARSE_ERROR,
		    "request is not valid JSON");
	id = json_object_get(req->root, "id");
	if (id != NULL && (json_is_string(id) || json_is_integer(id)))
		req->id = id;
	version = json_object_get(req->root, "jsonrpc");
	method = json_object_get(req->root, "method");
	req->params = json_object_get(req->root, "params");
	if (!json_is_object(req->root) || !json_is_string(version) ||
	    strcmp(json_string_value(version), "2.0") != 0 ||
	    !json_is_string(method) ||
	    (req->params != NULL && !json_is_object(req->params)) ||
	    (id != NULL && req->id == NULL))
		return rpc_fail(req, SIGNET_E_INVALID_REQ, SIGNET_R_INVALID_REQUEST,
		    "not a JSON-RPC 2.0 request");
	req->method = json_string_value(method);
	req->nfds = fds_named(req->params);
	return 1;
}

void
rpc_request_clear(struct rpc_request *req)
{
	json_decref(req->root);
	memset(req, 0, sizeof(*req));
}
