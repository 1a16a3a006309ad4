/*
 * signet-pkcs11-helper internals (the protocol is pkcs11/wire.h).
 *
 * Threads: the main thread reads requests from fd 3 and queues them; one
 * general worker runs LIST_TOKENS and answers requests that need no token;
 * one worker per token serial (created on demand, at most P11W_MAX_TOKENS)
 * runs that token's requests in order. Workers write their responses whole,
 * under one mutex. A slow token therefore delays only its own requests.
 *
 * Files: helper_main.c (startup, module checks and loading), helper_serve.c
 * (framing, reading, writing), helper_req.c (request decoding, jobs),
 * helper_sched.c (queues and workers), helper_token.c (serial -> slot,
 * session, key handles), helper_ops.c (the operations), helper_secret.c
 * (locked memory), helper_log.c (stderr).
 */
#ifndef SIGNET_P11_HELPER_H
#define SIGNET_P11_HELPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>

#include "common/buf.h"
#include "common/err.h"
#include "pkcs11/wire.h"

/* Exit statuses; the agent tells a bad module (2) from a bug on its side (3). */
enum helper_exit {
	HELPER_EXIT_OK = 0,       /* EOF on fd 3 */
	HELPER_EXIT_FATAL = 1,    /* I/O error on fd 3, out of memory */
	HELPER_EXIT_STARTUP = 2,  /* usage, module checks, loading, C_Initialize */
	HELPER_EXIT_PROTOCOL = 3, /* malformed frame or message */
};

/* CK_TOKEN_INFO.serialNumber is 16 bytes: a longer serial names no token. */
#define HELPER_SERIAL_MAX 16
/* PINs longer than this are refused (CKR_PIN_LEN_RANGE) before use. */
#define HELPER_PIN_MAX 256
/* Request bodies up to this size are read into locked memory (LOGIN fits). */
#define HELPER_LOCKED_MSG 4096
/* Caps on what a module may hand us. */
#define HELPER_MAX_SLOTS 1024
#define HELPER_MAX_MECHS 4096
#define HELPER_MAX_SIG 16384
/* Backpressure: the reader stops reading while this much work is queued. */
#define HELPER_MAX_PENDING_JOBS 4096u
#define HELPER_MAX_PENDING_BYTES (64u * 1024u * 1024u)

/* helper_log.c: one line to stderr, prefixed with the program name. */
void helper_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* helper_main.c: the loaded module. */
extern CK_FUNCTION_LIST *helper_p11;
/* Serialize module calls when the module could not do its own locking. */
void helper_p11_lock(void);
void helper_p11_unlock(void);

/* helper_secret.c: page-backed memory, locked, not dumped, wiped on free. */
void *secmem_alloc(size_t n);
void secmem_free(void *p, size_t n);

/* One decoded request, queued until a worker runs it. */
struct job {
	struct job *next;
	uint32_t id;
	uint8_t type;
	/* Answer with this rv without calling the module (bad arguments,
	 * unknown type, impossible serial). */
	bool early;
	CK_RV early_rv;
	bool has_serial;
	char serial[HELPER_SERIAL_MAX + 1];
	uint8_t has_pin;
	uint8_t *pin;          /* secmem, pin_len bytes (+1) */
	size_t pin_len;
	uint8_t *key_id;
	size_t key_id_len;
	CK_MECHANISM_TYPE mech;
	uint8_t *data;
	size_t data_len;
	size_t cost;           /* bytes counted against the backpressure cap */
};

/* helper_req.c */
/* Decode one message body; SIGNET_ERR_FORMAT when it is malformed (the
 * caller then exits with HELPER_EXIT_PROTOCOL). */
MUST_CHECK int req_parse(const uint8_t *body, size_t len, struct job **jobp);
/* A job answering id/type with rv and nothing else (NULL on ENOMEM). */
struct job *job_new_early(uint32_t id, uint8_t type, CK_RV rv);
void job_free(struct job *job);

/* helper_serve.c */
/* Read and queue requests until EOF or error; returns an exit status. */
int serve_loop(int fd);
/* Send a response: resp starts with 4 reserved bytes for the length. */
MUST_CHECK int serve_send(struct buf *resp);
bool serve_peer_gone(void);

/*
 * Private keys already found through the token's session, CKA_ID ->
 * handle, so SIGN does not search the token each time (a search is the
 * dearest part of a signature on some modules: SoftHSM2's file store
 * re-reads every object). Object handles belong to a session: the cache
 * is emptied whenever the session is replaced or dropped, the serial is
 * resolved again, and at LOGIN and LOGOUT (helper_token.c, helper_ops.c).
 * CKA_IDs longer than HELPER_KEY_ID_MAX are never cached.
 */
#define HELPER_KEY_CACHE 8
#define HELPER_KEY_ID_MAX 64
struct token_key {
	bool used;
	uint8_t id_len;
	uint8_t id[HELPER_KEY_ID_MAX];
	CK_OBJECT_HANDLE handle;
};

/* One token as its worker sees it. Only the worker touches it, except that
 * session is published under the scheduler's lock for LIST_TOKENS. */
struct token {
	char serial[HELPER_SERIAL_MAX + 1];
	CK_SLOT_ID slot;
	bool have_slot;
	CK_SESSION_HANDLE session; /* CK_INVALID_HANDLE when none */
	struct token_key keys[HELPER_KEY_CACHE]; /* found through session */
	unsigned key_next;         /* the entry replaced next when full */
};

/* helper_sched.c */
MUST_CHECK int sched_start(void);
/* Queue a job (takes ownership); blocks while too much work is pending. */
void sched_submit(struct job *job);
/* Stop the workers and wait for them: drain the queues, or drop them. */
void sched_stop(bool drop);
/* The helper's session on the token with this serial, if any. */
bool sched_token_session(const char *serial, size_t len,
    CK_SESSION_HANDLE *h);
void sched_publish_session(struct token *t, CK_SESSION_HANDLE h);

/* helper_token.c */
/* An rv after which the cached slot and session are no longer trusted. */
bool token_stale(CK_RV rv);
/* Length of a blank-padded CK_UTF8CHAR field without trailing blanks. */
size_t token_trim(const CK_UTF8CHAR *s, size_t n);
/* Slots with a token present; *slots is freed by the caller. */
MUST_CHECK CK_RV token_slot_list(CK_SLOT_ID **slots, CK_ULONG *n);
MUST_CHECK CK_RV token_resolve(struct token *t);
MUST_CHECK CK_RV token_session(struct token *t, CK_SESSION_HANDLE *h);
MUST_CHECK CK_RV token_info(struct token *t, CK_TOKEN_INFO *ti);
bool token_logged_in(CK_SESSION_HANDLE h, CK_SLOT_ID slot, bool check_slot);
/* Close the session (if any) and forget the slot: re-resolve next time. */
void token_forget(struct token *t);
/* Replace the session with a fresh one (ends any operation active in it)
 * without losing the login; forgets the token if that fails. */
void token_renew_session(struct token *t);
/* The key cache (struct token_key): a cached handle for this CKA_ID, if
 * any; remember one; forget one; forget them all. */
bool token_key_get(const struct token *t, const uint8_t *id, size_t len,
    CK_OBJECT_HANDLE *h);
void token_key_put(struct token *t, const uint8_t *id, size_t len,
    CK_OBJECT_HANDLE h);
void token_key_drop(struct token *t, const uint8_t *id, size_t len);
void token_keys_clear(struct token *t);

/* helper_ops.c: run a job, build its response into resp (4 reserved bytes
 * first). t is NULL for the general worker. */
void ops_run(struct token *t, const struct job *job, struct buf *resp);

#endif
