/*
 * The agent's audit writer (docs/audit.md): every decision becomes one
 * record of the tamper-evident log (common/audit_chain.h), durable on disk
 * before the caller hears back, so a reply never leaves ahead of its
 * record.
 *
 * A writer thread does the disk work with group commit: the records
 * queued while it was busy go out in one write, one fdatasync and one
 * state update. Completions come back to the event loop through an
 * eventfd: callbacks always run on the loop, never inside audit_submit.
 *
 * Fail closed: once a record could not be written (disk full, permission,
 * I/O error) every record after it fails too, until the agent restarts
 * and audit_open() reconciles the files with the state. A seq is never
 * skipped and nothing is retried behind the caller's back.
 */
#ifndef SIGNET_AUDIT_H
#define SIGNET_AUDIT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <jansson.h>
#include <openssl/x509.h>

#include "agent/loop.h"
#include "common/err.h"

struct audit;

/*
 * status: 0 once the record is on disk (fdatasync'd and the key evolved
 * durably); SIGNET_ERR_IO when it could not be written, or the writer has
 * failed before (fail closed); SIGNET_ERR_FORMAT for an event the format
 * refuses (a "pin" or "data" key anywhere, a missing "event": a bug in
 * the caller; the writer is not failed by it); SIGNET_ERR_LIMIT for an
 * event over AUDIT_MAX_BODY or a queue over AUDIT_MAX_QUEUED_BYTES;
 * SIGNET_ERR_NOMEM when memory ran out.
 */
typedef void (*audit_done_fn)(void *arg, int status);

#define AUDIT_MAX_QUEUED_BYTES (32u * 1024u * 1024u) /* submitted, not yet written */

/*
 * Opens the log in dir, which `signet audit init` set up, and reconciles
 * it with the state: records a crash left on disk past the state are
 * rolled forward (MAC-checked), a torn last line is left in place and the
 * chain continues in a new file. max_file_bytes: rotate when a file would
 * grow past it (0: AUDIT_DEFAULT_MAX_FILE).
 *
 * Errors (each logged): SIGNET_ERR_NOTFOUND dir or its state missing (not
 * initialized); SIGNET_ERR_IO not writable, or another agent holds the
 * log's lock; SIGNET_ERR_FORMAT the state is corrupt or the files
 * disagree with it in a way no crash explains (an officer must run
 * `signet audit verify`). The agent must not sign without an audit.
 */
MUST_CHECK int audit_open(struct audit **out, struct loop *l, const char *dir,
    uint64_t max_file_bytes);

/*
 * Queues one record. Takes ownership of event (a JSON object with at
 * least "event"); fn(arg, status) runs later on the loop, exactly once
 * (fn may be NULL). Only when not even the queue entry can be allocated
 * does fn run before audit_submit returns, with SIGNET_ERR_NOMEM.
 */
void audit_submit(struct audit *a, json_t *event, audit_done_fn fn, void *arg);

/* Writes what is queued, runs the callbacks still due, frees. Not from a
 * callback. */
void audit_close(struct audit *a);

/* Has a write failed (every submit now fails)? */
bool audit_failed(const struct audit *a);
/* The seq the next record will get (for agent.info and tests). */
uint64_t audit_next_seq(struct audit *a);

/*
 * Journal copies of each record (structured fields, docs/audit.md), sent
 * without ever blocking: a full or absent journal loses its copy, never
 * the file's record. audit_open turns it on when journald's socket
 * exists; path NULL turns it off; tests give their own socket. Call
 * before the first submit.
 */
MUST_CHECK int audit_set_journal(struct audit *a, const char *socket_path);

/* ---- building events (audit_event.c) ---------------------------------- */

/* {"event": type}; NULL on no memory. */
json_t *audit_event_new(const char *type);
/* The executable of pid (/proc/<pid>/exe), bytes that are not UTF-8
 * written as \xNN; NULL when unreadable. Read it when the peer connects
 * and keep it: a pid read later may belong to another process. */
char *audit_peer_exe(pid_t pid);
/* Adds "client": {uid, gid, pid, exe}; exe NULL: read now, and left out
 * when unreadable. */
MUST_CHECK int audit_event_client(json_t *ev, const struct ucred *peer,
    const char *exe);
/* Adds "cert": {sha256, subject, serial}, formatted as certs.list
 * reports them. */
MUST_CHECK int audit_event_cert(json_t *ev, X509 *cert);
/* Appends {digest_alg, digest (hex), size} to "documents". */
MUST_CHECK int audit_event_document(json_t *ev, const char *digest_alg,
    const uint8_t *digest, size_t digest_len, uint64_t size);
/* Sets "signature_sha256" to the hex SHA-256 of the signature's DER. */
MUST_CHECK int audit_event_signature(json_t *ev, const uint8_t *der,
    size_t len);
/* Sets a string member (decision, reason, result, token...). */
MUST_CHECK int audit_event_str(json_t *ev, const char *key, const char *value);

/* ---- journald (audit_journal.c; internal, exposed for tests) ---------- */

/* The record's structured journal fields (native protocol, without
 * SIGNET_SEQ and SIGNET_RECORD, which the writer adds). */
MUST_CHECK int audit_journal_fields(json_t *event, char **out, size_t *len);
/* Appends FIELD=value in the native protocol's form to *buf. */
MUST_CHECK int audit_journal_add(char **buf, size_t *len, const char *field,
    const char *value, size_t vlen);

#endif
