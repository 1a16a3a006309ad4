/*
 * The audit trail's record format, hash chain and forward-secure MAC
 * (docs/audit.md), shared by the agent's writer (agent/audit.c) and the
 * officer's verifier (signet audit). Pure functions (audit_chain.c), the
 * files of a log directory (audit_files.c), verification
 * (audit_verify.c).
 *
 * A record is one line of compact JSON, keys in a fixed order:
 *
 *   {"seq":N,"time":"2025-06-01T10:20:30.123456Z","prev":"<hex>",
 *    <the event's fields>,"mac":"<hex>"}\n
 *
 * prev  SHA-256 of the previous record's line (its bytes without the
 *       newline), or audit_genesis(log id) for the log's first record.
 * mac   HMAC-SHA256 under k_i, i = seq - start, over the line with
 *       ,"mac":"..." removed (that is: every byte up to the comma, then
 *       the closing brace).
 * k_0   32 random bytes from `signet audit init`;
 *       k_{i+1} = HMAC-SHA256(k_i, "signet-audit-evolve").
 */
#ifndef SIGNET_AUDIT_CHAIN_H
#define SIGNET_AUDIT_CHAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "common/err.h"

#define AUDIT_KEY_LEN    32u
#define AUDIT_HASH_LEN   32u
#define AUDIT_LOGID_LEN  16u
/* One record line, newline included. Events bigger than that are refused
 * (SIGNET_ERR_LIMIT), never split. */
#define AUDIT_MAX_LINE   (64u * 1024u)
/* Bytes a line adds around the event body: seq, time, prev, mac, braces,
 * commas, newline. */
#define AUDIT_LINE_OVERHEAD 256u
#define AUDIT_MAX_BODY   (AUDIT_MAX_LINE - AUDIT_LINE_OVERHEAD)
#define AUDIT_DEFAULT_MAX_FILE (16ull * 1024u * 1024u)
/* Nesting of an event object; deeper is refused (no record needs it). */
#define AUDIT_MAX_DEPTH  8u

#define AUDIT_STATE_NAME "state"   /* the writer's key: secret, 0600 */
#define AUDIT_ID_NAME    "log-id"  /* the log's identity: public */
#define AUDIT_FILE_FMT   "audit-%020llu.log"
#define AUDIT_FILE_NAME_LEN 30u    /* strlen of a formatted name */
#define AUDIT_STATE_SIZE 321u      /* bytes of a formatted state file */

/* What identifies a log: every record's key descends from its k_0. */
struct audit_id {
	uint8_t logid[AUDIT_LOGID_LEN];
	uint64_t start;              /* seq of the first record */
};

/* The officer's verification key (`signet audit init` writes it). */
struct audit_vkey {
	struct audit_id id;
	uint8_t k0[AUDIT_KEY_LEN];   /* secret */
};

/* The writer's state file: the key for the next record and where the
 * chain stands. Written after each group of records is on disk. */
struct audit_state {
	struct audit_id id;
	uint64_t next;               /* seq of the next record */
	uint8_t key[AUDIT_KEY_LEN];  /* k_{next - start}; secret */
	uint8_t prev[AUDIT_HASH_LEN];/* hash of record next - 1 */
};

/* One parsed record line. */
struct audit_rec {
	uint64_t seq;
	uint8_t prev[AUDIT_HASH_LEN];
	uint8_t mac[AUDIT_HASH_LEN];
	json_t *obj;                 /* the whole record when asked for */
};

/* k <- HMAC-SHA256(k, "signet-audit-evolve"); the old key is wiped. */
MUST_CHECK int audit_key_evolve(uint8_t key[AUDIT_KEY_LEN]);
/* k_0 evolved n times into out. */
MUST_CHECK int audit_key_at(const uint8_t k0[AUDIT_KEY_LEN], uint64_t n,
    uint8_t out[AUDIT_KEY_LEN]);
/* The prev of a log's first record: SHA-256("signet-audit-genesis" ||
 * log id || start as 8 bytes big-endian). */
void audit_genesis(const struct audit_id *id, uint8_t out[AUDIT_HASH_LEN]);
/* SHA-256 of a line (without its newline). */
void audit_line_hash(const char *line, size_t len, uint8_t out[AUDIT_HASH_LEN]);

/*
 * The event's fields as they go into a record: the top-level keys in
 * the documented order (event, decision, reason, client, token, cert,
 * documents, result, signature_sha256, then any others sorted), nested
 * objects with sorted keys, compact UTF-8. *body (malloc'd, NUL-ended)
 * holds them without the enclosing braces.
 *
 * Refuses with SIGNET_ERR_FORMAT an event that is not an object, lacks
 * a string "event", uses a key the record itself sets (seq, time, prev,
 * mac), nests deeper than AUDIT_MAX_DEPTH, or holds a key named "pin"
 * or "data" at any depth: a PIN or document content must never reach
 * the log, whatever a caller does. SIGNET_ERR_LIMIT over AUDIT_MAX_BODY.
 */
MUST_CHECK int audit_event_body(json_t *event, char **body, size_t *len);

/*
 * Formats a record line (newline included) into out, which holds cap
 * bytes (AUDIT_MAX_LINE always suffices for a body from
 * audit_event_body). The MAC is under key, which is not evolved here.
 */
MUST_CHECK int audit_line_make(char *out, size_t cap, size_t *len,
    uint64_t seq, const struct timespec *when,
    const uint8_t prev[AUDIT_HASH_LEN], const char *body, size_t body_len,
    const uint8_t key[AUDIT_KEY_LEN]);

/*
 * Parses a line (without its newline): the shape above, seq, prev and
 * mac. With keep_obj, r->obj holds the parsed record (json_decref it);
 * else NULL. SIGNET_ERR_FORMAT when the line is not a record.
 */
MUST_CHECK int audit_line_parse(const char *line, size_t len,
    struct audit_rec *r, bool keep_obj);
/* The seq of a line that starts like a record, read without parsing the
 * rest (for skipping quickly); SIGNET_ERR_FORMAT otherwise. */
MUST_CHECK int audit_line_seq(const char *line, size_t len, uint64_t *seq);
/* Does a parsed line's mac check under key? Constant-time compare. */
bool audit_line_mac_ok(const char *line, size_t len,
    const struct audit_rec *r, const uint8_t key[AUDIT_KEY_LEN]);

/* "2025-06-01T10:20:30.123456Z" (28 bytes with the NUL). */
void audit_time_format(const struct timespec *when, char out[28]);
/* Parses a record's time, or an officer's "YYYY-MM-DD[THH:MM[:SS[.f]]][Z]"
 * (UTC; a space may stand for the T) into microseconds since the epoch. */
MUST_CHECK int audit_time_parse(const char *s, int64_t *usec);

/* The state file: fixed size, a SHA-256 check line at the end. */
void audit_state_format(const struct audit_state *s, char out[AUDIT_STATE_SIZE]);
MUST_CHECK int audit_state_parse(const char *buf, size_t len,
    struct audit_state *s);

/* The officer's key file and the directory's public log-id file. */
MUST_CHECK int audit_vkey_format(const struct audit_vkey *k, char **out,
    size_t *len);
MUST_CHECK int audit_vkey_read(const char *path, struct audit_vkey *k);
MUST_CHECK int audit_id_read(const char *dir, struct audit_id *id);
/* Lower-case hex of a log id (33 bytes with the NUL). */
void audit_logid_hex(const uint8_t logid[AUDIT_LOGID_LEN], char out[33]);
/* Exactly 2n lower-case hex digits into n bytes. */
MUST_CHECK int audit_hex_decode(const char *s, size_t slen, uint8_t *out,
    size_t n);
/* n decimal digits, no sign, no overflow. */
MUST_CHECK int audit_dec_u64(const char *s, size_t n, uint64_t *out);

/*
 * Sets up dir as a new log: creates it (0700) when missing, writes the
 * state (0600) with a fresh random log id and k_0, and the log-id file.
 * SIGNET_ERR_AGAIN when dir already holds a state file (the caller
 * decides about --force and retires the old one first). *vk receives
 * the officer's key.
 */
MUST_CHECK int audit_dir_init(const char *dir, uint64_t start,
    struct audit_vkey *vk);

/*
 * The log files of a directory, sorted by their first seq (from the
 * name): names[i] (malloc'd, the bare file name) and first[i].
 */
struct audit_files {
	char **names;
	uint64_t *first;
	size_t n;
};
MUST_CHECK int audit_files_list(int dirfd, struct audit_files *f);
void audit_files_free(struct audit_files *f);

/*
 * Reads a file line by line, each at most AUDIT_MAX_LINE bytes.
 * audit_reader_next returns 1 with a line (NUL-terminated in place of its
 * newline), 0 at the end, or SIGNET_ERR_IO. *complete tells whether a
 * newline ended it (only the file's last line may lack one); *oversize
 * marks a line longer than the cap, of which only the start is returned.
 * *offset is where the line starts in the file.
 */
struct audit_reader {
	int fd;
	char *buf;
	size_t start, end;
	bool eof;
	uint64_t lineno;             /* of the line last returned, from 1 */
	uint64_t pos;                /* file offset of buf[0] */
	char empty[1];               /* what an oversize line reads as */
};
MUST_CHECK int audit_reader_open(struct audit_reader *r, int dirfd,
    const char *path);
MUST_CHECK int audit_reader_next(struct audit_reader *r, char **line,
    size_t *len, bool *complete, bool *oversize, uint64_t *offset);
void audit_reader_close(struct audit_reader *r);

/*
 * Verification (audit_verify.c): the records of paths (in that order,
 * relative to dirfd), checked with the officer's key: seq continuity,
 * the prev chain, and every MAC under k_{seq - start}. from_start: the
 * first record must be the log's first (a whole directory); else the
 * check starts at whatever seq the first file starts with.
 *
 * Stops at the first bad record, and says why:
 *   modified   a MAC fails, the chain breaks, or a line is not a record
 *   deleted    a seq is missing and never comes
 *   reordered  a seq goes back, or comes before a missing one that does
 *              come later
 * A torn line (no newline, not a whole record) at the end of a file,
 * followed by nothing or by a file whose first record continues the
 * chain, is what a crash leaves: AUDIT_TRUNCATED, a warning. So is a
 * last line of the last file that is not a record.
 */
enum audit_verdict {
	AUDIT_INTACT = 0,
	AUDIT_TRUNCATED,
	AUDIT_MODIFIED,
	AUDIT_DELETED,
	AUDIT_REORDERED,
};

struct audit_report {
	enum audit_verdict verdict;
	const char *file;            /* the first bad record: one of paths */
	uint64_t line;
	char why[256];
	uint64_t records;            /* records that checked */
	uint64_t first, last;        /* their seqs, when records > 0 */
	uint64_t torn;               /* torn lines (crashes) seen */
	const char *torn_file;       /* the first of them */
	uint64_t torn_line;
	bool torn_at_end;            /* the log ends with one */
};

/* 0 with *rep filled; SIGNET_ERR_IO (errno kept, rep->file says which)
 * or SIGNET_ERR_NOMEM when the files could not be read at all. */
MUST_CHECK int audit_verify(const struct audit_vkey *k, int dirfd,
    char *const *paths, size_t n, bool from_start, struct audit_report *rep);
/* "intact", "truncated tail", "modified", "deleted", "reordered". */
const char *audit_verdict_name(enum audit_verdict v);

/* $XDG_STATE_HOME/signet/audit, ~/.local/state/signet/audit, or with
 * system /var/lib/signet/audit. malloc'd; NULL without a home. */
char *audit_default_dir(bool system);
/* Where `signet audit init` puts the officer's key by default:
 * $XDG_CONFIG_HOME/signet/audit-<logid>.key (or ~/.config/...); NULL when
 * neither variable is usable. */
char *audit_key_default(const uint8_t logid[AUDIT_LOGID_LEN]);
/* Writes the officer's key text to a new 0600 file (never over an existing
 * one), creating missing parent directories 0700; -1 with errno. */
int audit_key_file_write(const char *path, const char *text, size_t len);

#endif
