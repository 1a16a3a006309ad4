#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "pkcs11/helper.h"

/*
 * Decoding of request bodies (wire.h). Every field is read through
 * common/buf.h and checked against its cap; a message that is short or has
 * trailing bytes is malformed and ends the helper (the agent has a bug or
 * the stream is out of step, and cannot be resynchronised). Values that are
 * well formed but unusable (an impossible serial, an over-long PIN) get an
 * rv instead.
 */

void
job_free(struct job *job)
{
	if (job == NULL)
		return;
	secmem_free(job->pin, job->pin_len);
	free(job->key_id);
	free(job->data);
	free(job);
}

struct job *
job_new_early(uint32_t id, uint8_t type, CK_RV rv)
{
	struct job *job;

	if ((job = calloc(1, sizeof(*job))) == NULL)
		return NULL;
	job->id = id;
	job->type = type;
	job->early = true;
	job->early_rv = rv;
	job->cost = sizeof(*job);
	return job;
}

static void
job_early(struct job *job, CK_RV rv)
{
	if (!job->early) {
		job->early = true;
		job->early_rv = rv;
	}
}

/* The serial every token request starts with. One that cannot be a
 * CK_TOKEN_INFO.serialNumber (empty, too long, NUL inside) names no token. */
static void
req_serial(struct buf *b, struct job *job)
{
	const uint8_t *p;
	size_t n;

	p = buf_get_str(b, &n, P11W_MAX_FIELD);
	if (p == NULL)
		return;
	if (n == 0 || n > HELPER_SERIAL_MAX || memchr(p, '\0', n) != NULL) {
		job_early(job, CKR_TOKEN_NOT_PRESENT);
		return;
	}
	memcpy(job->serial, p, n);
	job->serial[n] = '\0';
	job->has_serial = true;
}

/* A copy of a str field (at least one byte allocated); NULL when the field
 * is short (b fails) or memory ran out (the job is answered early). */
static uint8_t *
req_copy(struct buf *b, struct job *job, size_t *lenp)
{
	const uint8_t *p;
	uint8_t *d;
	size_t n;

	*lenp = 0;
	p = buf_get_str(b, &n, P11W_MAX_FIELD);
	if (p == NULL && b->failed)
		return NULL;
	if ((d = malloc(n + 1)) == NULL) {
		job_early(job, CKR_HOST_MEMORY);
		return NULL;
	}
	if (n > 0)
		memcpy(d, p, n);
	*lenp = n;
	return d;
}

/* The PIN of a str field at p (n bytes) into locked memory. */
static void
req_pin(struct job *job, const uint8_t *p, size_t n)
{
	if (n > HELPER_PIN_MAX) {
		job_early(job, CKR_PIN_LEN_RANGE);
		return;
	}
	if (job->early)
		return;
	if ((job->pin = secmem_alloc(n + 1)) == NULL) {
		job_early(job, CKR_HOST_MEMORY);
		return;
	}
	if (n > 0)
		memcpy(job->pin, p, n);
	job->pin_len = n;
}

static void
req_login(struct buf *b, struct job *job)
{
	const uint8_t *p;
	size_t n;

	job->has_pin = buf_get_u8(b);
	p = buf_get_str(b, &n, P11W_MAX_FIELD);
	if (p == NULL && b->failed)
		return;
	if (job->has_pin > 1 || (job->has_pin == 0 && n != 0)) {
		job_early(job, CKR_ARGUMENTS_BAD);
		return;
	}
	if (job->has_pin == 1)
		req_pin(job, p, n);
}

static void
req_sign(struct buf *b, struct job *job)
{
	uint64_t mech;

	job->key_id = req_copy(b, job, &job->key_id_len);
	mech = buf_get_u64(b);
	job->data = req_copy(b, job, &job->data_len);
	/* CK_ULONG is 32 bits on some platforms. */
	if (mech > ULONG_MAX)
		job_early(job, CKR_MECHANISM_INVALID);
	job->mech = (CK_MECHANISM_TYPE)mech;
	job->cost += job->key_id_len + job->data_len;
}

/* SIGN's fields, then the PIN for the context-specific login. */
static void
req_sign_auth(struct buf *b, struct job *job)
{
	const uint8_t *p;
	size_t n;

	req_sign(b, job);
	job->has_pin = 1;
	p = buf_get_str(b, &n, P11W_MAX_FIELD);
	if (p == NULL && b->failed)
		return;
	req_pin(job, p, n);
}

int
req_parse(const uint8_t *body, size_t len, struct job **jobp)
{
	struct buf b;
	struct job *job;

	*jobp = NULL;
	buf_view(&b, body, len);
	if ((job = calloc(1, sizeof(*job))) == NULL)
		return SIGNET_ERR_NOMEM;
	job->cost = sizeof(*job);
	job->id = buf_get_u32(&b);
	job->type = buf_get_u8(&b);
	switch (job->type) {
	case P11W_LIST_TOKENS:
		break;
	case P11W_LIST_CERTS:
	case P11W_LOGOUT:
	case P11W_MECHANISMS:
		req_serial(&b, job);
		break;
	case P11W_LOGIN:
		req_serial(&b, job);
		req_login(&b, job);
		break;
	case P11W_SIGN:
		req_serial(&b, job);
		req_sign(&b, job);
		break;
	case P11W_SIGN_AUTH:
		req_serial(&b, job);
		req_sign_auth(&b, job);
		break;
	default:
		/* Unknown types are answered, not fatal: a newer agent may
		 * probe for them. Their fields are not ours to check. */
		job_early(job, CKR_FUNCTION_NOT_SUPPORTED);
		*jobp = job;
		return 0;
	}
	if (!buf_done(&b)) {
		job_free(job);
		return SIGNET_ERR_FORMAT;
	}
	*jobp = job;
	return 0;
}
