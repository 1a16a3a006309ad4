/*
 * libsignet: the C client library of the Signet agent (docs/protocol.md).
 *
 * A connection is synchronous: signet_call() sends one request and waits
 * for its reply. Calls on one connection must not overlap (use one
 * connection per thread). Every descriptor the library opens is
 * close-on-exec, and writes never raise SIGPIPE.
 *
 * Functions return 0 or a negative SIGNET_CLIENT_E_* value; when they take
 * a struct signet_error, it says what went wrong in a form fit to print
 * and to branch on (code and reason are stable, message is for humans).
 */
#ifndef SIGNET_CLIENT_H
#define SIGNET_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include <signet/protocol.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SIGNET_API __attribute__((visibility("default")))
#define SIGNET_MUST_CHECK __attribute__((warn_unused_result))
#else
#define SIGNET_API
#define SIGNET_MUST_CHECK
#endif

/* Replies longer than this (with the '\n') are refused unbuffered. A
 * signature reply is a few KiB; the cap only stops a runaway peer. */
#define SIGNET_CLIENT_MAX_REPLY (64u * 1024u * 1024u)
/* Descriptors one request may carry: the agent queues no more. */
#define SIGNET_CLIENT_MAX_FDS SIGNET_MAX_FDS_QUEUED

/* Return values. */
enum signet_client_status {
	SIGNET_CLIENT_OK = 0,
	/* The agent answered with a JSON-RPC error: code, reason, message
	 * and data of struct signet_error hold it. The connection stays
	 * usable unless the agent closed it (peer_refused, line_too_long). */
	SIGNET_CLIENT_E_RPC = -1,
	/* No socket path, or connect() failed: the agent is not reachable. */
	SIGNET_CLIENT_E_CONNECT = -2,
	/* Sending or receiving failed, or the agent closed the connection
	 * before it replied. The connection is unusable. */
	SIGNET_CLIENT_E_TRANSPORT = -3,
	/* The reply was not a JSON-RPC response to this request, or was
	 * longer than SIGNET_CLIENT_MAX_REPLY. The connection is unusable. */
	SIGNET_CLIENT_E_PROTOCOL = -4,
	/* A bad argument, or memory ran out; nothing was sent. */
	SIGNET_CLIENT_E_LOCAL = -5,
};

/* Reasons for local failures (the agent's own reasons are SIGNET_R_* of
 * protocol.h); code is 0 for these. */
#define SIGNET_CLIENT_R_NO_SOCKET      "no_socket"      /* E_CONNECT */
#define SIGNET_CLIENT_R_CONNECT_FAILED "connect_failed" /* E_CONNECT */
#define SIGNET_CLIENT_R_IO_ERROR       "io_error"       /* E_TRANSPORT */
#define SIGNET_CLIENT_R_CLOSED         "closed"         /* E_TRANSPORT */
#define SIGNET_CLIENT_R_BAD_REPLY      "bad_reply"      /* E_PROTOCOL */
#define SIGNET_CLIENT_R_REPLY_TOO_LONG "reply_too_long" /* E_PROTOCOL */
#define SIGNET_CLIENT_R_INVALID_ARG    "invalid_argument" /* E_LOCAL */
#define SIGNET_CLIENT_R_NOMEM          "out_of_memory"  /* E_LOCAL */

struct signet_error {
	int code;          /* JSON-RPC error code; 0 for a local failure */
	char reason[64];   /* data.reason, or a SIGNET_CLIENT_R_* value */
	char message[256]; /* for humans; may be truncated */
	json_t *data;      /* the error's data object (a reference), or NULL */
};

/* Frees err->data and empties the struct. Safe on a zeroed struct. */
SIGNET_API void signet_error_clear(struct signet_error *err);

struct signet_conn;

/*
 * The socket path a client should use: path if not NULL, else
 * $SIGNET_SOCKET if set and non-empty, else
 * $XDG_RUNTIME_DIR/signet/agent.sock. Returns a malloc'ed string, or NULL
 * when none applies (XDG_RUNTIME_DIR unset) or memory ran out.
 */
SIGNET_API char *signet_socket_path(const char *path);

/* Connects to the agent at signet_socket_path(path). */
SIGNET_API SIGNET_MUST_CHECK int signet_connect(const char *path,
    struct signet_conn **connp, struct signet_error *err);
SIGNET_API void signet_close(struct signet_conn *conn);
/* The path this connection was made to. */
SIGNET_API const char *signet_conn_path(const struct signet_conn *conn);

/*
 * Calls method with params (an object, or NULL for none; borrowed) and
 * nfds open descriptors (the caller keeps and closes them; the agent gets
 * duplicates). They go with the first bytes of the request line (253 per
 * sendmsg, the kernel's limit), so params name them by index from 0
 * ("fd": 0), in the order given. On success *result holds a new reference
 * to the result value. On failure *result is NULL and err is filled.
 */
SIGNET_API SIGNET_MUST_CHECK int signet_call(struct signet_conn *conn,
    const char *method, json_t *params, const int *fds, size_t nfds,
    json_t **result, struct signet_error *err);

/*
 * Notifications. After events.subscribe (signet_call with
 * SIGNET_M_EVENTS_SUBSCRIBE), the agent also sends JSON-RPC notifications
 * ({"jsonrpc":"2.0","method":...,"params":...}, no id). Those that arrive
 * while signet_call waits for its reply are kept on the connection, at
 * most SIGNET_CLIENT_MAX_NOTIFICATIONS (past that the oldest are
 * dropped). signet_next_notification returns the oldest kept one, else
 * waits up to timeout_ms (-1: no limit, 0: do not wait) for one to
 * arrive. On success *notification is a new reference to the whole
 * object, or NULL if the time ran out.
 */
#define SIGNET_CLIENT_MAX_NOTIFICATIONS 1024u
SIGNET_API SIGNET_MUST_CHECK int signet_next_notification(
    struct signet_conn *conn, int timeout_ms, json_t **notification,
    struct signet_error *err);

/*
 * token.login without ever copying the PIN into memory the library cannot
 * wipe: the request line is assembled around the PIN in locked memory,
 * sent, and wiped. token may be NULL (the only token), pin NULL for a PIN
 * pad. The PIN must be valid UTF-8 of at most SIGNET_MAX_PIN_LEN bytes.
 * (What remains: the copy in the kernel's socket buffer until the agent
 * reads it, and whatever the caller holds.)
 */
SIGNET_API SIGNET_MUST_CHECK int signet_token_login(struct signet_conn *conn,
    const char *token, const char *pin, size_t pin_len, bool allow_final_try,
    json_t **result, struct signet_error *err);

/*
 * Standard base64 (RFC 4648, with padding). Encode returns a malloc'ed
 * NUL-terminated string. Decode accepts only canonical input (length a
 * multiple of 4, padding only at the end, unused bits zero, no
 * whitespace) and returns a malloc'ed buffer (never NULL on success, even
 * for empty input). Both return 0, SIGNET_CLIENT_E_LOCAL on bad input or
 * no memory.
 */
SIGNET_API SIGNET_MUST_CHECK int signet_b64_encode(const void *in, size_t len,
    char **out, size_t *out_len);
SIGNET_API SIGNET_MUST_CHECK int signet_b64_decode(const char *in, size_t len,
    uint8_t **out, size_t *out_len);

#ifdef __cplusplus
}
#endif

#endif
