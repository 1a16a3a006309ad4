/*
 * What a PKCS#11 helper sends the agent. The helper runs vendor module
 * code (DESIGN.md, principle 2): a module that misbehaves, or a helper
 * taken over through one, must not be able to harm the agent. The bytes
 * go through the agent's real reading code:
 *
 *   pkcs11/p11client.c  p11c_parse: frames (u32 length, id, type) matched
 *                       to the requests in flight, split into arbitrary
 *                       reads;
 *   agent/registry.c    on_tokens / on_certs: the LIST_TOKENS and
 *                       LIST_CERTS fields (common/buf.h getters) and
 *                       certificate parsing, into a registry snapshot.
 *
 * Both files are #included so their static functions can be driven
 * without a helper process: p11client's fork/exec and epoll plumbing is
 * bypassed by putting requests in flight by hand (the fields p11c_call
 * would set) on a client marked stopped, which never starts a helper.
 * This ties the target to those files' internals; it is meant to break
 * (at compile time) when they change, and be brought along.
 *
 * Input: u8 flags (bit 0: the round also lists certificates; bits 1..7:
 * read size, 0 for all at once), then the byte stream from the helper.
 * In flight: id 1 LIST_TOKENS, ids 2..5 LIST_CERTS for four tokens known
 * from before (serials SER0..SER3).
 *
 * Oracles: the snapshot built holds only initialized tokens with a
 * serial, and certificates with an id, a label, a parsed X509 and the
 * SHA-256 of that X509.
 */
#include <fcntl.h>
#include <unistd.h>

#include "pkcs11/p11client.c" /* NOLINT(bugprone-suspicious-include): its statics */
#include "agent/registry.c" /* NOLINT(bugprone-suspicious-include): its statics */

#include "fuzz/fuzz.h"

#define FUZZ_KNOWN_TOKENS 4u

static void
in_flight(struct p11c *c, uint32_t id, uint8_t type, p11c_done_fn fn,
    void *arg)
{
	struct pending *p, **tail;

	FUZZ_CHECK((p = calloc(1, sizeof(*p))) != NULL);
	p->id = id;
	p->type = type;
	p->fn = fn;
	p->arg = arg;
	p->owner = c;
	for (tail = &c->pending; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = p;
}

static struct round_call *
round_call(struct round *rd, struct p11c *c, size_t token)
{
	struct round_call *rc;

	FUZZ_CHECK((rc = calloc(1, sizeof(*rc))) != NULL);
	*rc = (struct round_call){ rd, c, token };
	rd->outstanding++;
	return rc;
}

static void
known_token(struct round *rd, struct p11c *c, unsigned i)
{
	struct reg_token t;
	char serial[8];

	memset(&t, 0, sizeof(t));
	snprintf(serial, sizeof(serial), "SER%u", i);
	t.module = c;
	t.generation = p11c_generation(c);
	t.serial = strdup(serial);
	t.label = strdup("label");
	t.manufacturer = strdup("maker");
	t.model = strdup("model");
	t.flags = CKF_TOKEN_INITIALIZED;
	FUZZ_CHECK(t.serial != NULL && t.label != NULL &&
	    t.manufacturer != NULL && t.model != NULL);
	FUZZ_CHECK(round_push(rd, &t));
}

static void
check_snapshot(const struct reg_snapshot *s)
{
	const struct reg_token *t;
	const struct reg_cert *rc;
	uint8_t sha[32];
	size_t i, k;

	for (i = 0; i < s->ntokens; i++) {
		t = &s->tokens[i];
		/* to see what a seed reaches */
		log_debug("token %s: %zu certificates%s", t->serial, t->ncerts,
		    t->certs_loaded ? "" : " (not loaded)");
		FUZZ_CHECK(t->serial != NULL && t->serial[0] != '\0');
		FUZZ_CHECK(t->label != NULL && t->manufacturer != NULL &&
		    t->model != NULL);
		FUZZ_CHECK(t->flags & CKF_TOKEN_INITIALIZED);
		FUZZ_CHECK(t->ncerts <= P11W_MAX_OBJECTS);
		FUZZ_CHECK(t->ncerts == 0 || t->certs != NULL);
		for (k = 0; k < t->ncerts; k++) {
			rc = &t->certs[k];
			FUZZ_CHECK(rc->id != NULL && rc->id_len > 0);
			FUZZ_CHECK(rc->label != NULL && rc->x509 != NULL);
			certinfo_sha256(rc->x509, sha);
			FUZZ_CHECK(memcmp(sha, rc->sha256, 32) == 0);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct registry *r;
	struct round *rd;
	struct p11c *c;
	size_t chunk, n;
	unsigned i;

	if (size < 1)
		return 0;
	FUZZ_CHECK(p11c_new(&c, NULL, "/nonexistent/signet-pkcs11-helper",
	    "fuzz-module.so") == 0);
	/* stopped: p11c_call (on_tokens asks for certificates) fails at
	 * once instead of starting a helper */
	c->stopped = true;
	/* p11c_parse goes on while the socket is open: any descriptor will
	 * do, nothing is read from or written to it */
	FUZZ_CHECK((c->fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0);

	FUZZ_CHECK((r = calloc(1, sizeof(*r))) != NULL);
	FUZZ_CHECK((r->current = calloc(1, sizeof(*r->current))) != NULL);
	r->current->refs = 1;
	r->current->stale = true;
	r->modules[0] = c;
	r->nmodules = 1;

	FUZZ_CHECK((rd = calloc(1, sizeof(*rd))) != NULL);
	rd->reg = r;
	rd->with_certs = (data[0] & 1) != 0;
	rd->outstanding = 1; /* ours, dropped at the end */
	r->running = rd;
	for (i = 0; i < FUZZ_KNOWN_TOKENS; i++)
		known_token(rd, c, i);

	in_flight(c, 1, P11W_LIST_TOKENS, on_tokens, round_call(rd, c, 0));
	for (i = 0; i < FUZZ_KNOWN_TOKENS; i++)
		in_flight(c, 2 + i, P11W_LIST_CERTS, on_certs,
		    round_call(rd, c, i));
	c->next_id = 1 + FUZZ_KNOWN_TOKENS;

	chunk = data[0] >> 1;
	data++;
	size--;
	while (size > 0 && c->fd >= 0) {
		n = chunk == 0 || chunk > size ? size : chunk;
		buf_put(&c->in, data, n);
		FUZZ_CHECK(!c->in.failed);
		p11c_parse(c);
		data += n;
		size -= n;
	}
	/* end of the stream: whatever is still in flight fails */
	p11c_lost(c, "fuzz input ended");
	FUZZ_CHECK(c->pending == NULL && c->fd < 0);
	round_put(rd);
	FUZZ_CHECK(r->running == NULL);
	check_snapshot(r->current);

	snapshot_unref(r->current);
	free(r);
	p11c_free(c);
	return 0;
}
