/*
 * libsignet: finding the agent, connecting, and the generic call.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client/conn.h"

void
signet_error_clear(struct signet_error *err)
{
	if (err == NULL)
		return;
	json_decref(err->data);
	memset(err, 0, sizeof(*err));
}

char *
signet_socket_path(const char *path)
{
	const char *env, *xdg;
	char *p;

	if (path != NULL)
		return strdup(path);
	if ((env = getenv(SIGNET_SOCKET_ENV)) != NULL && *env != '\0')
		return strdup(env);
	if ((xdg = getenv("XDG_RUNTIME_DIR")) == NULL || *xdg == '\0')
		return NULL;
	if (asprintf(&p, "%s/%s/%s", xdg, SIGNET_SOCKET_DIR_NAME,
	    SIGNET_SOCKET_NAME) < 0)
		return NULL;
	return p;
}

/* connect() that survives a signal: an interrupted connect goes on in the
 * background, so wait for it instead of calling connect() again. */
static int
connect_retry(int fd, const struct sockaddr_un *sun, socklen_t len)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	socklen_t sl = sizeof(int);
	int soerr = 0;

	if (connect(fd, (const struct sockaddr *)sun, len) == 0)
		return 0;
	if (errno != EINTR && errno != EINPROGRESS)
		return errno;
	while (poll(&pfd, 1, -1) < 0)
		if (errno != EINTR)
			return errno;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
		return errno;
	return soerr;
}

int
signet_connect(const char *path, struct signet_conn **connp,
    struct signet_error *err)
{
	struct signet_conn *conn = NULL;
	struct sockaddr_un sun;
	size_t plen;
	int r, e;

	if (connp == NULL)
		return conn_fail(err, SIGNET_CLIENT_E_LOCAL, 0,
		    SIGNET_CLIENT_R_INVALID_ARG, "no connection pointer");
	*connp = NULL;
	if ((conn = calloc(1, sizeof(*conn))) == NULL)
		return conn_fail(err, SIGNET_CLIENT_E_LOCAL, 0,
		    SIGNET_CLIENT_R_NOMEM, "out of memory");
	conn->fd = -1;
	conn->next_id = 1;
	if ((conn->path = signet_socket_path(path)) == NULL) {
		r = conn_fail(err, SIGNET_CLIENT_E_CONNECT, 0,
		    SIGNET_CLIENT_R_NO_SOCKET, "no agent socket: neither "
		    "--socket, $%s nor $XDG_RUNTIME_DIR is set",
		    SIGNET_SOCKET_ENV);
		goto out;
	}
	plen = strlen(conn->path);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (plen == 0 || plen >= sizeof(sun.sun_path)) {
		r = conn_fail(err, SIGNET_CLIENT_E_CONNECT, 0,
		    SIGNET_CLIENT_R_NO_SOCKET, "socket path %s",
		    plen == 0 ? "is empty" : "is too long");
		goto out;
	}
	memcpy(sun.sun_path, conn->path, plen);
	if ((conn->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		r = conn_fail(err, SIGNET_CLIENT_E_CONNECT, 0,
		    SIGNET_CLIENT_R_CONNECT_FAILED, "socket: %s",
		    strerror(errno));
		goto out;
	}
	if ((e = connect_retry(conn->fd, &sun,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + 1))) !=
	    0) {
		r = conn_fail(err, SIGNET_CLIENT_E_CONNECT, 0,
		    SIGNET_CLIENT_R_CONNECT_FAILED, "cannot connect to %s: %s",
		    conn->path, strerror(e));
		goto out;
	}
	*connp = conn;
	conn = NULL;
	r = SIGNET_CLIENT_OK;
 out:
	signet_close(conn);
	return r;
}

void
signet_close(struct signet_conn *conn)
{
	if (conn == NULL)
		return;
	if (conn->fd >= 0)
		(void)close(conn->fd);
	json_decref(conn->notes);
	free(conn->rbuf);
	free(conn->path);
	free(conn);
}

const char *
signet_conn_path(const struct signet_conn *conn)
{
	return conn == NULL ? NULL : conn->path;
}

int
signet_call(struct signet_conn *conn, const char *method, json_t *params,
    const int *fds, size_t nfds, json_t **result, struct signet_error *err)
{
	json_t *req = NULL;
	char *line = NULL;
	size_t len = 0;
	int64_t id;
	int r;

	if (result != NULL)
		*result = NULL;
	if (conn == NULL || method == NULL || result == NULL ||
	    (params != NULL && !json_is_object(params)) ||
	    (nfds > 0 && fds == NULL))
		return conn_fail(err, SIGNET_CLIENT_E_LOCAL, 0,
		    SIGNET_CLIENT_R_INVALID_ARG, "invalid argument");
	if (nfds > SIGNET_CLIENT_MAX_FDS)
		return conn_fail(err, SIGNET_CLIENT_E_LOCAL, 0,
		    SIGNET_CLIENT_R_INVALID_ARG,
		    "more than %u descriptors in one request",
		    SIGNET_CLIENT_MAX_FDS);
	id = conn->next_id++;
	req = json_pack("{s:s, s:I, s:s}", "jsonrpc", "2.0", "id",
	    (json_int_t)id, "method", method);
	if (req == NULL || (params != NULL &&
	    json_object_set(req, "params", params) != 0)) {
		r = conn_fail(err, SIGNET_CLIENT_E_LOCAL, 0,
		    SIGNET_CLIENT_R_NOMEM, "out of memory");
		goto out;
	}
	/* json_dumpb writes straight into our buffer, so the one copy of
	 * the serialized request is ours to wipe. */
	if ((len = json_dumpb(req, NULL, 0, JSON_COMPACT)) == 0) {
		r = conn_fail(err, SIGNET_CLIENT_E_LOCAL, 0,
		    SIGNET_CLIENT_R_INVALID_ARG, "params cannot be encoded");
		goto out;
	}
	if (len >= SIGNET_MAX_LINE) {
		r = conn_fail(err, SIGNET_CLIENT_E_LOCAL, 0,
		    SIGNET_CLIENT_R_REQUEST_TOO_LONG,
		    "request longer than %u bytes; pass large documents "
		    "by descriptor", SIGNET_MAX_LINE);
		len = 0;
		goto out;
	}
	if ((line = malloc(len + 1)) == NULL ||
	    json_dumpb(req, line, len, JSON_COMPACT) != len) {
		r = conn_fail(err, SIGNET_CLIENT_E_LOCAL, 0,
		    SIGNET_CLIENT_R_NOMEM, "out of memory");
		goto out;
	}
	line[len] = '\n';
	r = conn_roundtrip(conn, line, len + 1, id, fds, nfds, result, err);
 out:
	if (line != NULL) {
		explicit_bzero(line, len + 1);
		free(line);
	}
	json_decref(req);
	return r;
}
