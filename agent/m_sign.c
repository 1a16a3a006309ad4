/*
 * sign: resolve the certificate, digest the document (inline, or streamed
 * from a passed descriptor without blocking the loop), build the signed
 * attributes, have the token sign them through its helper, assemble CMS.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <p11-kit/pkcs11.h>

#include "agent/b64.h"
#include "agent/cades.h"
#include "agent/log.h"
#include "agent/resolve.h"
#include "pkcs11/wire.h"

#define SIGN_TIMEOUT_MS   30000u
#define SIGN_READ_CHUNK   (1024u * 1024u) /* bytes read per loop turn */

enum fd_kind { FD_NONE, FD_FILE, FD_STREAM_PIPE, FD_STREAM_SOCKET };

struct sign_op {
	struct call *call;
	char *cert_sel;
	enum cades_digest digest;
	bool pem;
	bool refreshed;
	/* The document. */
	EVP_MD_CTX *md;
	uint64_t size;
	int fd;
	enum fd_kind kind;
	struct watch *watch;
	struct task *task;
	uint8_t *chunk;
	uint8_t doc_digest[EVP_MAX_MD_SIZE];
	unsigned doc_digest_len;
	/* The key. */
	X509 *cert;
	struct p11c *module;
	char *serial;
	uint8_t *key_id;
	size_t key_id_len;
	struct cades_prep prep;
	bool prepared;
};

static void sign_send(struct sign_op *op);

static void
sign_op_free(void *arg)
{
	struct sign_op *op = arg;

	loop_unwatch(op->watch);
	loop_task_cancel(op->task);
	if (op->fd >= 0)
		close(op->fd);
	EVP_MD_CTX_free(op->md);
	free(op->chunk);
	free(op->cert_sel);
	X509_free(op->cert);
	free(op->serial);
	free(op->key_id);
	if (op->prepared)
		cades_prep_clear(&op->prep);
	free(op);
}

static void
sign_fail_oom(struct sign_op *op)
{
	call_error(op->call, SIGNET_E_INTERNAL, SIGNET_R_INTERNAL_ERROR,
	    "out of memory", NULL);
}

static void
sign_done(void *arg, int status, uint64_t rv, struct buf *resp)
{
	struct sign_op *op = arg;
	struct call *c = op->call;
	const uint8_t *raw;
	uint8_t *der = NULL;
	size_t raw_len, der_len, enc_len;
	char *enc = NULL, hex[2 * EVP_MAX_MD_SIZE + 1];
	json_t *res;
	unsigned i;
	int err;

	if (status != 0) {
		call_error(c, SIGNET_E_TOKEN, SIGNET_R_TOKEN_UNAVAILABLE,
		    "the token's module helper failed; it is being restarted", NULL);
		return;
	}
	if (rv != CKR_OK) {
		if (rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_DEVICE_REMOVED)
			registry_invalidate(c->agent->reg);
		call_ckr_error(c, rv);
		return;
	}
	raw = buf_get_str(resp, &raw_len, P11W_MAX_FIELD);
	if (raw == NULL || !buf_done(resp)) {
		call_error(c, SIGNET_E_TOKEN, SIGNET_R_TOKEN_ERROR,
		    "malformed answer from the token helper", NULL);
		return;
	}
	if ((err = cades_finish(&op->prep, raw, raw_len, &der, &der_len)) != 0) {
		call_error(c, SIGNET_E_TOKEN, SIGNET_R_TOKEN_ERROR,
		    "the token returned an unusable signature", NULL);
		return;
	}
	if (op->pem) {
		BIO *b = BIO_new(BIO_s_mem());
		BUF_MEM *mem;

		if (b != NULL && PEM_write_bio(b, "CMS", "", der, (long)der_len) > 0) {
			BIO_get_mem_ptr(b, &mem);
			enc = strndup(mem->data, mem->length);
		}
		BIO_free(b);
	} else
		enc = b64_encode(der, der_len, &enc_len);
	free(der);
	if (enc == NULL) {
		sign_fail_oom(op);
		return;
	}
	for (i = 0; i < op->doc_digest_len; i++)
		snprintf(hex + 2 * i, 3, "%02x", op->doc_digest[i]);
	res = json_pack("{s:s, s:s, s:s, s:s, s:I}", "signature", enc,
	    "format", op->pem ? "pem" : "der",
	    "digest", cades_digest_name(op->digest), "document_digest", hex,
	    "document_size", (json_int_t)op->size);
	free(enc);
	log_info("signed %llu bytes (%s %s) with token %s for uid %u pid %d",
	    (unsigned long long)op->size, cades_digest_name(op->digest), hex,
	    op->serial, (unsigned)c->peer.uid, (int)c->peer.pid);
	call_result(c, res);
}

/* The document is digested: prepare the signed attributes and sign. */
static void
sign_send(struct sign_op *op)
{
	struct call *c = op->call;
	struct buf req;
	int err;

	if (EVP_DigestFinal_ex(op->md, op->doc_digest, &op->doc_digest_len) != 1) {
		sign_fail_oom(op);
		return;
	}
	err = cades_prepare(&op->prep, op->cert, op->digest, op->doc_digest,
	    op->doc_digest_len, time(NULL));
	if (err == SIGNET_ERR_UNSUPPORTED) {
		call_error(c, SIGNET_E_INVALID_PARAMS, SIGNET_R_UNSUPPORTED_KEY,
		    "the certificate's key type cannot sign here", NULL);
		return;
	}
	if (err != 0) {
		sign_fail_oom(op);
		return;
	}
	op->prepared = true;
	buf_init(&req, P11W_MAX_FIELD);
	buf_put_cstr(&req, op->serial);
	buf_put_str(&req, op->key_id, op->key_id_len);
	buf_put_u64(&req, op->prep.mechanism);
	buf_put_str(&req, op->prep.tbs, op->prep.tbs_len);
	err = req.failed ? SIGNET_ERR_NOMEM :
	    p11c_call(op->module, P11W_SIGN, &req, SIGN_TIMEOUT_MS, sign_done, op);
	buf_free(&req);
	if (err != 0)
		call_error(c, SIGNET_E_TOKEN, SIGNET_R_TOKEN_UNAVAILABLE,
		    "the token's module helper is restarting", NULL);
}

static void
sign_read_failed(struct sign_op *op, const char *why)
{
	loop_unwatch(op->watch);
	op->watch = NULL;
	loop_task_cancel(op->task);
	op->task = NULL;
	call_error(op->call, SIGNET_E_IO, SIGNET_R_FD_READ_ERROR, why, NULL);
}

/* Reads one chunk; returns true while there is more to read. */
static bool
sign_read_chunk(struct sign_op *op)
{
	ssize_t n;

	if (call_gone(op->call)) {
		sign_read_failed(op, "client went away");
		return false;
	}
	if (op->kind == FD_STREAM_SOCKET)
		n = recv(op->fd, op->chunk, SIGN_READ_CHUNK, MSG_DONTWAIT);
	else
		n = read(op->fd, op->chunk, SIGN_READ_CHUNK);
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return true;
		sign_read_failed(op, "reading the document failed");
		return false;
	}
	if (n == 0) {
		loop_unwatch(op->watch);
		op->watch = NULL;
		op->task = NULL; /* the loop drops a task that returns false */
		close(op->fd);
		op->fd = -1;
		sign_send(op);
		return false;
	}
	op->size += (uint64_t)n;
	if (EVP_DigestUpdate(op->md, op->chunk, (size_t)n) != 1) {
		sign_read_failed(op, "digest failed");
		return false;
	}
	return true;
}

/* op may be freed when this returns false: do not touch it then. */
static bool
sign_file_task(void *arg)
{
	return sign_read_chunk(arg);
}

static void
sign_stream_ready(void *arg, uint32_t events)
{
	(void)events;
	(void)sign_read_chunk(arg);
}

/*
 * Reads the passed descriptor without ever blocking the loop: a regular
 * file is read a chunk per turn; a pipe is reopened non-blocking through
 * /proc (its flags are shared with the client, so we must not change
 * them) and watched; a socket is read with MSG_DONTWAIT and watched.
 */
static void
sign_start_fd(struct sign_op *op, int fd)
{
	struct stat st;
	char path[64];
	int flags, nfd;

	op->fd = fd;
	if (fstat(fd, &st) != 0 || (flags = fcntl(fd, F_GETFL)) < 0 ||
	    (flags & O_ACCMODE) == O_WRONLY) {
		call_error(op->call, SIGNET_E_IO, SIGNET_R_FD_READ_ERROR,
		    "the descriptor is not open for reading", NULL);
		return;
	}
	if ((op->chunk = malloc(SIGN_READ_CHUNK)) == NULL) {
		sign_fail_oom(op);
		return;
	}
	if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)) {
		op->kind = FD_FILE;
		if ((op->task = loop_task(op->call->agent->loop, sign_file_task, op)) == NULL)
			sign_fail_oom(op);
		return;
	}
	if (S_ISFIFO(st.st_mode)) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if ((nfd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0) {
			call_error(op->call, SIGNET_E_IO, SIGNET_R_FD_READ_ERROR,
			    "cannot read the pipe", NULL);
			return;
		}
		close(fd);
		op->fd = nfd;
		op->kind = FD_STREAM_PIPE;
	} else if (S_ISSOCK(st.st_mode)) {
		op->kind = FD_STREAM_SOCKET;
	} else {
		call_error(op->call, SIGNET_E_IO, SIGNET_R_FD_READ_ERROR,
		    "pass a regular file, a pipe or a socket", NULL);
		return;
	}
	op->watch = loop_watch(op->call->agent->loop, op->fd, EPOLLIN,
	    sign_stream_ready, op);
	if (op->watch == NULL)
		sign_fail_oom(op);
}

static void
sign_hash_data(void *arg, const uint8_t *p, size_t n)
{
	struct sign_op *op = arg;

	op->size += n;
	(void)EVP_DigestUpdate(op->md, p, n);
}

/* The certificate is known: digest the document. */
static void
sign_digest(struct sign_op *op, json_t *params)
{
	json_t *data = json_object_get(params, "data");
	json_int_t idx;
	int fd;

	if (data != NULL) {
		if (b64_decode_stream(json_string_value(data), json_string_length(data),
		    sign_hash_data, op) != 0) {
			call_error(op->call, SIGNET_E_INVALID_PARAMS, SIGNET_R_BAD_BASE64,
			    "data is not valid base64", json_pack("{s:s}", "param", "data"));
			return;
		}
		sign_send(op);
		return;
	}
	idx = json_integer_value(json_object_get(params, "fd"));
	if (idx < 0 || (fd = call_take_fd(op->call, (unsigned)idx)) < 0) {
		call_error(op->call, SIGNET_E_INVALID_PARAMS, SIGNET_R_FD_MISSING,
		    "the request names a descriptor that was not passed",
		    json_pack("{s:s}", "param", "fd"));
		return;
	}
	sign_start_fd(op, fd);
}

/* Returns false and finishes the call when the certificate is unknown. */
static bool
sign_resolve(struct sign_op *op, bool final)
{
	struct reg_snapshot *s = registry_snapshot(op->call->agent->reg);
	struct reg_token *t = NULL;
	struct reg_cert *rc;
	const char *reason;
	bool ok = false;

	if (!final && !snapshot_current(s))
		goto out;
	rc = resolve_cert(op->call, s, op->cert_sel, &t, &reason);
	if (rc == NULL) {
		if (reason != NULL && final)
			call_error(op->call, SIGNET_E_NOT_FOUND, reason,
			    strcmp(reason, SIGNET_R_CERT_NOT_FOUND) == 0 ?
			    "no certificate with a key matches" :
			    "several certificates match", NULL);
		else if (reason == NULL)
			ok = true; /* bad_selector: already answered */
		goto out;
	}
	op->module = t->module;
	op->serial = strdup(t->serial);
	op->key_id = malloc(rc->id_len);
	if (op->serial == NULL || op->key_id == NULL) {
		sign_fail_oom(op);
		ok = true;
		goto out;
	}
	memcpy(op->key_id, rc->id, rc->id_len);
	op->key_id_len = rc->id_len;
	X509_up_ref(rc->x509);
	op->cert = rc->x509;
	ok = true;
out:
	snapshot_unref(s);
	return ok;
}

struct sign_wait {
	struct sign_op *op;
	json_t *params;
};

static void
sign_refreshed(void *arg)
{
	struct sign_wait *w = arg;

	if (sign_resolve(w->op, true) && !w->op->call->done)
		sign_digest(w->op, w->params);
	json_decref(w->params);
	free(w);
}

void
m_sign(struct call *c, json_t *params)
{
	static const struct param_spec spec[] = {
		{ "cert", JSON_STRING, true }, { "data", JSON_STRING, false },
		{ "fd", JSON_INTEGER, false }, { "digest", JSON_STRING, false },
		{ "format", JSON_STRING, false }, { NULL, 0, false } };
	struct sign_op *op;
	struct sign_wait *w;
	const char *digest, *format;
	int d;

	if (!params_check(c, params, spec))
		return;
	if ((json_object_get(params, "data") != NULL) ==
	    (json_object_get(params, "fd") != NULL)) {
		call_error(c, SIGNET_E_INVALID_PARAMS, SIGNET_R_INVALID_PARAMS,
		    "give exactly one of data and fd",
		    json_pack("{s:s}", "param", "data"));
		return;
	}
	digest = param_str(params, "digest");
	if ((d = cades_digest_from_name(digest != NULL ? digest : "sha256")) < 0) {
		call_error(c, SIGNET_E_INVALID_PARAMS, SIGNET_R_UNSUPPORTED_DIGEST,
		    "digest must be sha256, sha384 or sha512",
		    json_pack("{s:s}", "param", "digest"));
		return;
	}
	format = param_str(params, "format");
	if (format != NULL && strcmp(format, "der") != 0 && strcmp(format, "pem") != 0) {
		call_error(c, SIGNET_E_INVALID_PARAMS, SIGNET_R_INVALID_PARAMS,
		    "format must be der or pem", json_pack("{s:s}", "param", "format"));
		return;
	}
	if ((op = calloc(1, sizeof(*op))) == NULL) {
		call_error(c, SIGNET_E_INTERNAL, SIGNET_R_INTERNAL_ERROR,
		    "out of memory", NULL);
		return;
	}
	op->call = c;
	op->fd = -1;
	c->state = op;
	c->state_free = sign_op_free;
	op->digest = (enum cades_digest)d;
	op->pem = format != NULL && strcmp(format, "pem") == 0;
	if ((op->cert_sel = strdup(param_str(params, "cert"))) == NULL ||
	    (op->md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(op->md, cades_digest_md(op->digest), NULL) != 1) {
		sign_fail_oom(op);
		return;
	}
	/* The cached certificates answer at once; otherwise read them. */
	if (sign_resolve(op, false)) {
		if (!c->done)
			sign_digest(op, params);
		return;
	}
	if ((w = malloc(sizeof(*w))) == NULL) {
		sign_fail_oom(op);
		return;
	}
	w->op = op;
	w->params = json_incref(params);
	registry_refresh(c->agent->reg, true, sign_refreshed, w);
}
