#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#include "agent/certinfo.h"
#include "agent/log.h"
#include "agent/registry.h"
#include "pkcs11/wire.h"

#define REG_LIST_TIMEOUT_MS 30000u

struct waiter {
	registry_done_fn fn;
	void *arg;
	struct waiter *next;
};

struct round {
	struct registry *reg;
	bool with_certs;
	bool incomplete;
	unsigned outstanding;
	struct reg_token *tokens;
	size_t ntokens, cap;
	struct waiter *waiters;
};

struct registry {
	struct loop *loop;
	struct p11c *modules[16];
	size_t nmodules;
	struct reg_snapshot *current;
	struct round *running;
	/* Asked for while a round runs that cannot serve them. */
	struct waiter *next_waiters;
	bool next_with_certs;
	bool stopping;
	registry_change_fn change_fn;
	void *change_arg;
};

void
registry_set_listener(struct registry *r, registry_change_fn fn, void *arg)
{
	r->change_fn = fn;
	r->change_arg = arg;
}

/* Makes s the current snapshot (taking its reference) and tells. */
static void
registry_publish(struct registry *r, struct reg_snapshot *s)
{
	struct reg_snapshot *old = r->current;

	r->current = s;
	if (r->change_fn != NULL)
		r->change_fn(r->change_arg, old, s);
	snapshot_unref(old);
}

/* Per-request context of one helper call in a round. */
struct round_call {
	struct round *round;
	struct p11c *module;
	size_t token;          /* LIST_CERTS: index into round->tokens */
};

static void round_start(struct registry *r, bool with_certs, struct waiter *w);
static void carry_certs(struct reg_token *t, struct reg_snapshot *old);

static void
cert_clear(struct reg_cert *c)
{
	free(c->id);
	free(c->label);
	X509_free(c->x509);
}

static void
token_clear(struct reg_token *t)
{
	size_t i;

	free(t->serial);
	free(t->label);
	free(t->manufacturer);
	free(t->model);
	for (i = 0; i < t->ncerts; i++)
		cert_clear(&t->certs[i]);
	free(t->certs);
	free(t->mechs);
}

void
snapshot_unref(struct reg_snapshot *s)
{
	size_t i;

	if (s == NULL || --s->refs > 0)
		return;
	for (i = 0; i < s->ntokens; i++)
		token_clear(&s->tokens[i]);
	free(s->tokens);
	free(s);
}

struct reg_snapshot *
registry_snapshot(struct registry *r)
{
	r->current->refs++;
	return r->current;
}

bool
snapshot_current(const struct reg_snapshot *s)
{
	size_t i;

	if (s->stale)
		return false;
	for (i = 0; i < s->ntokens; i++)
		if (p11c_generation(s->tokens[i].module) != s->tokens[i].generation)
			return false;
	return true;
}

void
registry_invalidate(struct registry *r)
{
	r->current->stale = true;
}

/* Does process pid have libpcsclite mapped? */
static bool
uses_pcsc(pid_t pid)
{
	char path[64], line[512];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, "libpcsclite") != NULL;
	fclose(f);
	return found;
}

void
registry_restart_pcsc(struct registry *r)
{
	size_t i;

	for (i = 0; i < r->nmodules; i++)
		if (p11c_pid(r->modules[i]) > 0 && uses_pcsc(p11c_pid(r->modules[i])))
			p11c_restart(r->modules[i], "the PC/SC service restarted");
}

size_t
registry_nmodules(const struct registry *r)
{
	return r->nmodules;
}

struct p11c *
registry_module(const struct registry *r, size_t i)
{
	return i < r->nmodules ? r->modules[i] : NULL;
}

/* A helper died: its tokens are gone from the current view at once. */
static void
registry_module_lost(void *arg, struct p11c *module)
{
	struct registry *r = arg;
	struct reg_snapshot *s, *cur = r->current;
	size_t i;

	if (r->stopping || (s = calloc(1, sizeof(*s))) == NULL)
		return;
	s->refs = 1;
	s->stale = true;
	s->incomplete = true;
	if ((s->tokens = calloc(cur->ntokens ? cur->ntokens : 1, sizeof(*s->tokens))) == NULL) {
		free(s);
		return;
	}
	for (i = 0; i < cur->ntokens; i++) {
		struct reg_token *t = &cur->tokens[i], *d;

		if (t->module == module)
			continue;
		d = &s->tokens[s->ntokens];
		memset(d, 0, sizeof(*d));
		d->module = t->module;
		d->generation = t->generation;
		d->flags = t->flags;
		d->logged_in = t->logged_in;
		d->serial = strdup(t->serial);
		d->label = strdup(t->label);
		d->manufacturer = strdup(t->manufacturer);
		d->model = strdup(t->model);
		s->ntokens++;
		if (d->serial == NULL || d->label == NULL || d->manufacturer == NULL ||
		    d->model == NULL) {
			snapshot_unref(s);
			return;
		}
		carry_certs(d, cur);
	}
	registry_publish(r, s);
}

int
registry_new(struct registry **out, struct loop *l, const char *helper_path,
    char *const *modules, size_t nmodules)
{
	struct registry *r;
	size_t i;
	int err;

	if (nmodules == 0 || nmodules > sizeof(r->modules) / sizeof(r->modules[0]))
		return SIGNET_ERR_LIMIT;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return SIGNET_ERR_NOMEM;
	r->loop = l;
	if ((r->current = calloc(1, sizeof(*r->current))) == NULL) {
		free(r);
		return SIGNET_ERR_NOMEM;
	}
	r->current->refs = 1;
	r->current->stale = true;
	for (i = 0; i < nmodules; i++) {
		if ((err = p11c_new(&r->modules[i], l, helper_path, modules[i])) != 0) {
			registry_free(r);
			return err;
		}
		p11c_set_lost_cb(r->modules[i], registry_module_lost, r);
		r->nmodules++;
	}
	*out = r;
	return 0;
}

void
registry_free(struct registry *r)
{
	size_t i;

	if (r == NULL)
		return;
	/* Rounds in flight finish (with P11C_LOST) while the helpers stop;
	 * nothing new starts, and no module is freed before all have stopped
	 * (completions may still name any of them). */
	r->stopping = true;
	for (i = 0; i < r->nmodules; i++)
		p11c_shutdown(r->modules[i]);
	for (i = 0; i < r->nmodules; i++)
		p11c_free(r->modules[i]);
	snapshot_unref(r->current);
	free(r);
}

/* Certificates of a token of the previous snapshot, when still valid. */
static void
carry_certs(struct reg_token *t, struct reg_snapshot *old)
{
	size_t i;
	struct reg_token *o;

	for (i = 0; i < old->ntokens; i++) {
		o = &old->tokens[i];
		if (o->module != t->module || o->generation != t->generation ||
		    !o->certs_loaded || strcmp(o->serial, t->serial) != 0)
			continue;
		/* Move: the old snapshot may still be read, so copy instead. */
		t->certs = calloc(o->ncerts ? o->ncerts : 1, sizeof(*t->certs));
		if (t->certs == NULL)
			return;
		for (t->ncerts = 0; t->ncerts < o->ncerts; t->ncerts++) {
			struct reg_cert *d = &t->certs[t->ncerts], *s = &o->certs[t->ncerts];

			*d = *s;
			d->id = malloc(s->id_len ? s->id_len : 1);
			d->label = strdup(s->label);
			if (d->id == NULL || d->label == NULL) {
				cert_clear(d);
				return;
			}
			memcpy(d->id, s->id, s->id_len);
			X509_up_ref(d->x509);
		}
		t->certs_loaded = true;
		if (o->mechs_known && (t->mechs = calloc(o->nmechs ? o->nmechs : 1,
		    sizeof(*t->mechs))) != NULL) {
			memcpy(t->mechs, o->mechs, o->nmechs * sizeof(*t->mechs));
			t->nmechs = o->nmechs;
			t->mechs_known = true;
		}
		return;
	}
}

static void
round_finish(struct round *rd)
{
	struct registry *r = rd->reg;
	struct reg_snapshot *s;
	struct waiter *w, *next;
	size_t i;

	if ((s = calloc(1, sizeof(*s))) != NULL) {
		s->refs = 1;
		s->tokens = rd->tokens;
		s->ntokens = rd->ntokens;
		s->incomplete = rd->incomplete;
		if (!rd->with_certs)
			for (i = 0; i < s->ntokens; i++)
				carry_certs(&s->tokens[i], r->current);
		registry_publish(r, s);
	} else {
		for (i = 0; i < rd->ntokens; i++)
			token_clear(&rd->tokens[i]);
		free(rd->tokens);
	}
	r->running = NULL;
	for (w = rd->waiters; w != NULL; w = next) {
		next = w->next;
		w->fn(w->arg);
		free(w);
	}
	free(rd);
	if (r->running == NULL && r->next_waiters != NULL) {
		w = r->next_waiters;
		r->next_waiters = NULL;
		round_start(r, r->next_with_certs, w);
	}
}

static void
round_put(struct round *rd)
{
	if (--rd->outstanding == 0)
		round_finish(rd);
}

static void
on_certs(void *arg, int status, uint64_t rv, struct buf *resp)
{
	struct round_call *rc = arg;
	struct round *rd = rc->round;
	struct reg_token *t = &rd->tokens[rc->token];
	struct reg_cert *c;
	const uint8_t *p;
	size_t n, len;
	uint32_t count, i;

	if (status != 0 || rv != 0)
		goto out;
	count = buf_get_u32(resp);
	if (count > P11W_MAX_OBJECTS ||
	    (t->certs = calloc(count ? count : 1, sizeof(*t->certs))) == NULL)
		goto out;
	for (i = 0; i < count && !resp->failed; i++) {
		c = &t->certs[t->ncerts];
		if ((p = buf_get_str(resp, &n, P11W_MAX_FIELD)) == NULL || n == 0)
			break;
		if ((c->id = malloc(n)) == NULL)
			break;
		memcpy(c->id, p, n);
		c->id_len = n;
		c->label = buf_get_cstr(resp, P11W_MAX_FIELD);
		p = buf_get_str(resp, &len, P11W_MAX_FIELD);
		c->key = buf_get_u8(resp);
		c->always_auth = buf_get_u8(resp) != 0;
		if (resp->failed || c->label == NULL ||
		    (c->x509 = certinfo_parse(p, len)) == NULL) {
			/* A certificate OpenSSL cannot read is not offered. */
			cert_clear(c);
			memset(c, 0, sizeof(*c));
			continue;
		}
		certinfo_sha256(c->x509, c->sha256);
		t->ncerts++;
	}
	t->certs_loaded = !resp->failed;
out:
	free(rc);
	round_put(rd);
}

#define REG_MAX_MECHS 1024u

static void
on_mechs(void *arg, int status, uint64_t rv, struct buf *resp)
{
	struct round_call *rc = arg;
	struct round *rd = rc->round;
	struct reg_token *t = &rd->tokens[rc->token];
	uint32_t n, i;

	if (status == 0 && rv == 0 && (n = buf_get_u32(resp)) <= REG_MAX_MECHS &&
	    (t->mechs = calloc(n ? n : 1, sizeof(*t->mechs))) != NULL) {
		for (i = 0; i < n; i++)
			t->mechs[i] = (unsigned long)buf_get_u64(resp);
		t->nmechs = n;
		t->mechs_known = buf_done(resp);
	}
	free(rc);
	round_put(rd);
}

static bool
round_push(struct round *rd, struct reg_token *t)
{
	struct reg_token *n;

	if (rd->ntokens == rd->cap) {
		size_t cap = rd->cap ? rd->cap * 2 : 8;

		if ((n = realloc(rd->tokens, cap * sizeof(*n))) == NULL)
			return false;
		rd->tokens = n;
		rd->cap = cap;
	}
	rd->tokens[rd->ntokens++] = *t;
	return true;
}

static void
on_tokens(void *arg, int status, uint64_t rv, struct buf *resp)
{
	struct round_call *rc = arg, *cc;
	struct round *rd = rc->round;
	struct reg_token t;
	struct buf req;
	uint32_t count, i;
	size_t first = rd->ntokens, k;

	if (status != 0 || rv != 0) {
		if (status == 0)
			log_warn("%s: listing tokens failed (CK_RV 0x%lx)",
			    p11c_module(rc->module), (unsigned long)rv);
		rd->incomplete = true;
		goto out;
	}
	count = buf_get_u32(resp);
	for (i = 0; i < count && i < P11W_MAX_TOKENS; i++) {
		memset(&t, 0, sizeof(t));
		t.module = rc->module;
		t.generation = p11c_generation(rc->module);
		t.serial = buf_get_cstr(resp, P11W_MAX_FIELD);
		t.label = buf_get_cstr(resp, P11W_MAX_FIELD);
		t.manufacturer = buf_get_cstr(resp, P11W_MAX_FIELD);
		t.model = buf_get_cstr(resp, P11W_MAX_FIELD);
		t.flags = buf_get_u64(resp);
		t.logged_in = buf_get_u8(resp) != 0;
		(void)buf_get_u64(resp); /* slot id: never used for identity */
		if (resp->failed) {
			token_clear(&t);
			break;
		}
		/* An uninitialized token (SoftHSM's free slot, a blank card)
		 * has no serial to name it and nothing to sign with. */
		if (!(t.flags & CKF_TOKEN_INITIALIZED) || t.serial[0] == '\0') {
			token_clear(&t);
			continue;
		}
		if (!round_push(rd, &t)) {
			token_clear(&t);
			break;
		}
	}
	if (!rd->with_certs)
		goto out;
	for (k = first; k < rd->ntokens; k++) {
		if ((cc = calloc(1, sizeof(*cc))) == NULL)
			continue;
		*cc = (struct round_call){ rd, rc->module, k };
		buf_init(&req, P11W_MAX_FIELD);
		buf_put_cstr(&req, rd->tokens[k].serial);
		rd->outstanding++;
		if (req.failed || p11c_call(rc->module, P11W_LIST_CERTS, &req,
		    REG_LIST_TIMEOUT_MS, on_certs, cc) != 0) {
			rd->outstanding--;
			free(cc);
		}
		if ((cc = calloc(1, sizeof(*cc))) != NULL) {
			*cc = (struct round_call){ rd, rc->module, k };
			rd->outstanding++;
			if (req.failed || p11c_call(rc->module, P11W_MECHANISMS, &req,
			    REG_LIST_TIMEOUT_MS, on_mechs, cc) != 0) {
				rd->outstanding--;
				free(cc);
			}
		}
		buf_free(&req);
	}
out:
	free(rc);
	round_put(rd);
}

static void
round_start(struct registry *r, bool with_certs, struct waiter *waiters)
{
	struct round *rd;
	struct round_call *rc;
	struct buf empty;
	size_t i;

	if (r->stopping || (rd = calloc(1, sizeof(*rd))) == NULL) {
		struct waiter *w, *next;

		for (w = waiters; w != NULL; w = next) {
			next = w->next;
			w->fn(w->arg);
			free(w);
		}
		return;
	}
	rd->reg = r;
	rd->with_certs = with_certs;
	rd->waiters = waiters;
	rd->outstanding = 1; /* held until every module was asked */
	r->running = rd;
	buf_init(&empty, 0);
	for (i = 0; i < r->nmodules; i++) {
		if ((rc = calloc(1, sizeof(*rc))) == NULL)
			continue;
		rc->round = rd;
		rc->module = r->modules[i];
		rd->outstanding++;
		if (p11c_call(r->modules[i], P11W_LIST_TOKENS, &empty,
		    REG_LIST_TIMEOUT_MS, on_tokens, rc) != 0) {
			rd->outstanding--;
			rd->incomplete = true;
			free(rc);
		}
	}
	round_put(rd);
}

void
registry_refresh(struct registry *r, bool with_certs, registry_done_fn fn,
    void *arg)
{
	struct waiter *w;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		fn(arg);
		return;
	}
	w->fn = fn;
	w->arg = arg;
	if (r->running == NULL) {
		round_start(r, with_certs, w);
	} else if (r->running->with_certs || !with_certs) {
		w->next = r->running->waiters;
		r->running->waiters = w;
	} else {
		w->next = r->next_waiters;
		r->next_waiters = w;
		r->next_with_certs = true;
	}
}
