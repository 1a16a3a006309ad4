/*
 * The protocol between signetd and signet-pkcs11-helper, over a socketpair.
 *
 * The helper is the only process that loads a PKCS#11 module (DESIGN.md,
 * principle 2). The agent starts it as
 *     signet-pkcs11-helper MODULE_PATH
 * with the socketpair on fd 3 (P11W_FD) and stdin on /dev/null.
 *
 * Framing, both directions: u32 body length (big-endian, 5..P11W_MAX_MSG),
 * then the body. Every body starts with u32 request id and u8 type; a
 * response repeats the request's id and type. The agent may send many
 * requests without waiting (pipelining); responses may come back out of
 * order (requests for different tokens run in parallel; requests for one
 * token run one at a time, in order).
 *
 * Fields use common/buf.h encoding: u8, u32, u64 big-endian; str = u32
 * length + bytes. Every response body, after id and type, starts with
 * u64 rv (a CK_RV; CKR_OK = 0), and has the fields listed only when rv == 0,
 * except where noted.
 *
 * Tokens are named by serial (CK_TOKEN_INFO.serialNumber with trailing
 * spaces removed), never by slot id: slot ids change when readers come and
 * go. The helper maps serial -> slot itself.
 */
#ifndef SIGNET_P11_WIRE_H
#define SIGNET_P11_WIRE_H

#define P11W_FD 3
#define P11W_MAX_MSG (4u * 1024u * 1024u)
#define P11W_MAX_FIELD (1u * 1024u * 1024u) /* one str field */
#define P11W_MAX_TOKENS 256u
#define P11W_MAX_OBJECTS 1024u

enum p11w_type {
	/* req: -
	 * resp: rv, u32 n, n x token
	 *   token = str serial, str label, str manufacturer, str model,
	 *           u64 token_flags (CK_TOKEN_INFO.flags),
	 *           u8 logged_in (a session of the helper is in a user state),
	 *           u64 slot_id (informational only) */
	P11W_LIST_TOKENS = 1,

	/* req: str serial
	 * resp: rv, u32 n, n x object
	 *   object = str id (CKA_ID bytes), str label (CKA_LABEL),
	 *            str der (CKA_VALUE of the CKO_CERTIFICATE, X.509),
	 *            u8 key (0 none seen, 1 public key only, 2 private key seen),
	 *            u8 always_authenticate (CKA_ALWAYS_AUTHENTICATE of the
	 *               private key, 0 when not seen)
	 *   Only certificates (CKC_X_509) with a non-empty CKA_ID are listed. */
	P11W_LIST_CERTS = 2,

	/* req: str serial, u8 has_pin, str pin (empty when has_pin = 0: the
	 *      protected authentication path / PIN pad is used)
	 * resp: rv, then always (also on error): u64 token_flags read after the
	 *      attempt (0 when the token could not be read).
	 *   CKR_USER_ALREADY_LOGGED_IN is reported as CKR_OK.
	 *   The helper wipes the PIN from its buffers after use. */
	P11W_LOGIN = 3,

	/* req: str serial; resp: rv. CKR_USER_NOT_LOGGED_IN is reported as OK. */
	P11W_LOGOUT = 4,

	/* req: str serial, str key_id (CKA_ID), u64 mechanism (CKM_*),
	 *      str data (what C_Sign signs: a DigestInfo for CKM_RSA_PKCS, a
	 *      hash for CKM_ECDSA)
	 * resp: rv, str signature (raw PKCS#11 output: for ECDSA r||s)
	 *   CKR_USER_NOT_LOGGED_IN when the session is not logged in, or when
	 *   no private key with that CKA_ID is visible and the token requires
	 *   login; CKR_KEY_HANDLE_INVALID when no such key exists. */
	P11W_SIGN = 5,

	/* req: str serial; resp: rv, u32 n, n x u64 mechanism */
	P11W_MECHANISMS = 6,

	/* A signature with a key that demands a login of its own
	 * (CKA_ALWAYS_AUTHENTICATE; LIST_CERTS says always_authenticate = 1).
	 * req: str serial, str key_id, u64 mechanism, str data (as SIGN),
	 *      str pin (secret: the PIN for this one signature)
	 * resp: rv, then always (also on error): u64 token_flags read after
	 *      the attempt (0 when the token could not be read), then, only
	 *      when rv == 0, str signature (as SIGN).
	 *   On the token's worker, in one go: C_SignInit, then
	 *   C_Login(CKU_CONTEXT_SPECIFIC, pin), then C_Sign. The session must
	 *   already be logged in (LOGIN): the key is found as for SIGN, with
	 *   the same errors, and those come before the PIN is used. (A plain
	 *   SIGN with such a key fails even after LOGIN; SoftHSM2 answers
	 *   CKR_USER_NOT_LOGGED_IN.) The PIN
	 *   goes to the token at most once: CKR_PIN_INCORRECT, CKR_PIN_LOCKED
	 *   or any other failure of that login is answered, never retried
	 *   (not even on a stale session), and ends the signing operation.
	 *   A PIN over 256 bytes is CKR_PIN_LEN_RANGE without calling the
	 *   module. The helper wipes the PIN from its buffers after use; keep
	 *   the request under 4096 bytes (a hash or DigestInfo as data) and
	 *   the whole of it is read into locked memory. On a key without
	 *   CKA_ALWAYS_AUTHENTICATE the module refuses the context-specific
	 *   login (SoftHSM2: CKR_OPERATION_NOT_INITIALIZED): use SIGN. */
	P11W_SIGN_AUTH = 7,
};

#endif
