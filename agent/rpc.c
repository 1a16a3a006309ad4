/*
 * JSON-RPC 2.0: parse one request line, check its envelope, take its
 * descriptors, and hand it to its method; serialize results and errors.
 */
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/log.h"
#include "agent/rpc_parse.h"

static const struct method methods[] = {
	{ SIGNET_M_AGENT_INFO, m_agent_info },
	{ SIGNET_M_TOKENS_LIST, m_tokens_list },
	{ SIGNET_M_CERTS_LIST, m_certs_list },
	{ SIGNET_M_TOKEN_LOGIN, m_token_login },
	{ SIGNET_M_TOKEN_LOGOUT, m_token_logout },
	{ SIGNET_M_SIGN, m_sign },
	{ SIGNET_M_EVENTS_SUBSCRIBE, m_events_subscribe },
	{ SIGNET_M_AGENT_LOCK, m_agent_lock },
};

const struct method *
method_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(methods[i].name, name) == 0)
			return &methods[i];
	return NULL;
}

static json_t *
error_object(int code, const char *reason, const char *message, json_t *data)
{
	if (data == NULL)
		data = json_object();
	json_object_set_new(data, "reason", json_string(reason));
	return json_pack("{s:i, s:s, s:o}", "code", code, "message", message,
	    "data", data);
}

/* Serializes a reply; on failure (out of memory) a fixed internal error.
 * json_dumps allocates with jansson's (wiping) allocator: copy, then
 * release it with that allocator's free. */
static char *
reply_line(json_t *id, const char *key, json_t *value, size_t *len)
{
	static const char oom[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":"
	    "{\"code\":-32603,\"message\":\"out of memory\",\"data\":"
	    "{\"reason\":\"internal_error\"}}}\n";
	json_malloc_t jmalloc;
	json_free_t jfree;
	json_t *msg;
	char *s = NULL, *line = NULL;
	size_t n;

	json_get_alloc_funcs(&jmalloc, &jfree);
	msg = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0",
	    "id", id != NULL ? id : json_null(), key, value);
	if (msg != NULL)
		s = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (s != NULL) {
		n = strlen(s);
		if ((line = malloc(n + 2)) != NULL) {
			memcpy(line, s, n);
			line[n] = '\n';
			line[n + 1] = '\0';
			*len = n + 1;
		}
		jfree(s);
	}
	if (line == NULL) {
		*len = sizeof(oom) - 1;
		line = strdup(oom);
	}
	return line;
}

static void
call_finish(struct call *c, const char *key, json_t *value)
{
	if (c->done) {
		log_err("call finished twice (bug)");
		json_decref(value);
		return;
	}
	c->done = true;
	if (c->id != NULL && c->conn != NULL)
		c->reply = reply_line(c->id, key, value, &c->reply_len);
	else
		json_decref(value);
	conn_call_done(c);
}

void
call_result(struct call *c, json_t *result)
{
	if (result == NULL) {
		call_error(c, SIGNET_E_INTERNAL, SIGNET_R_INTERNAL_ERROR,
		    "out of memory", NULL);
		return;
	}
	call_finish(c, "result", result);
}

void
call_error(struct call *c, int code, const char *reason, const char *message,
    json_t *data)
{
	call_finish(c, "error", error_object(code, reason, message, data));
}

bool
call_gone(const struct call *c)
{
	return c->conn == NULL;
}

void
rpc_error_line(struct conn *conn, json_t *id, int code, const char *reason,
    const char *message)
{
	size_t len;
	char *line = reply_line(id, "error",
	    error_object(code, reason, message, NULL), &len);

	if (line != NULL)
		buf_put(&conn->out, line, len);
	free(line);
}

static struct call *
call_new(struct conn *conn, json_t *id)
{
	struct call *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->agent = conn->agent;
	c->conn = conn;
	c->peer = conn->peer;
	memcpy(c->groups, conn->groups, sizeof(c->groups));
	c->ngroups = conn->ngroups;
	if (conn->exe != NULL && (c->exe = strdup(conn->exe)) == NULL) {
		free(c);
		return NULL;
	}
	c->id = json_incref(id);
	if (conn->tail != NULL)
		conn->tail->next = c;
	else
		conn->head = c;
	conn->tail = c;
	conn->inflight++;
	return c;
}

void
rpc_dispatch(struct conn *conn, char *line, size_t len)
{
	struct rpc_request req;
	const struct method *m;
	struct call *c;
	json_t *params;
	unsigned i;
	int r;

	r = rpc_parse(&req, line, len);
	if (r == 0)
		goto out;
	/* A request without an id is a notification and gets no reply, except
	 * that a broken one is answered (with id null) so it is seen. */
	if ((c = call_new(conn, req.id != NULL ? req.id : json_null())) == NULL)
		goto out;
	if (r < 0) {
		call_error(c, req.code, req.reason, req.message, NULL);
		goto out;
	}
	if (req.id == NULL) {
		json_decref(c->id);
		c->id = NULL;
	}
	/* The descriptors are this request's whatever happens next, so the
	 * queue stays aligned with the requests. */
	if (req.nfds > 0) {
		if (req.nfds > conn->nfds) {
			call_error(c, SIGNET_E_INVALID_PARAMS, SIGNET_R_FD_MISSING,
			    "the request names a descriptor that was not passed",
			    json_pack("{s:s}", "param", "fd"));
			goto out;
		}
		if ((c->fds = calloc(req.nfds, sizeof(int))) == NULL) {
			call_error(c, SIGNET_E_INTERNAL, SIGNET_R_INTERNAL_ERROR,
			    "out of memory", NULL);
			goto out;
		}
		memcpy(c->fds, conn->fds, req.nfds * sizeof(int));
		c->nfds = req.nfds;
		conn->nfds -= req.nfds;
		for (i = 0; i < conn->nfds; i++)
			conn->fds[i] = conn->fds[i + req.nfds];
	}
	if ((m = method_find(req.method)) == NULL) {
		call_error(c, SIGNET_E_NO_METHOD, SIGNET_R_UNKNOWN_METHOD,
		    "no such method", json_pack("{s:s}", "method", req.method));
		goto out;
	}
	params = req.params != NULL ? json_incref(req.params) : json_object();
	m->fn(c, params);
	json_decref(params);
out:
	rpc_request_clear(&req);
}

bool
params_check(struct call *c, json_t *params, const struct param_spec *spec)
{
	const char *key;
	json_t *v;
	const struct param_spec *s;
	bool ok;

	json_object_foreach(params, key, v) {
		for (s = spec; s->name != NULL; s++)
			if (strcmp(s->name, key) == 0)
				break;
		if (s->name == NULL) {
			call_error(c, SIGNET_E_INVALID_PARAMS, SIGNET_R_INVALID_PARAMS,
			    "unknown parameter", json_pack("{s:s}", "param", key));
			return false;
		}
		if (s->type == JSON_TRUE)
			ok = json_is_boolean(v);
		else
			ok = json_typeof(v) == s->type;
		if (!ok) {
			call_error(c, SIGNET_E_INVALID_PARAMS, SIGNET_R_INVALID_PARAMS,
			    "parameter of the wrong type", json_pack("{s:s}", "param", key));
			return false;
		}
	}
	for (s = spec; s->name != NULL; s++) {
		if (s->required && json_object_get(params, s->name) == NULL) {
			call_error(c, SIGNET_E_INVALID_PARAMS, SIGNET_R_INVALID_PARAMS,
			    "missing parameter", json_pack("{s:s}", "param", s->name));
			return false;
		}
	}
	return true;
}

const char *
param_str(json_t *params, const char *name)
{
	return json_string_value(json_object_get(params, name));
}

bool
param_bool(json_t *params, const char *name)
{
	return json_is_true(json_object_get(params, name));
}
