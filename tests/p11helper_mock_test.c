/*
 * signet-pkcs11-helper against tests/lib/p11mock.c, for what SoftHSM2
 * cannot show: a slow token does not delay another token; one token's
 * requests run in order; a token pulled out and put back under new slot
 * ids is found again by serial (retry once); a LOGIN is never retried;
 * idle workers for unknown serials are recycled; a module that cannot lock
 * gets one call at a time; the helper logs out and finalizes on EOF; a
 * cached key handle is never used for another key.
 *
 * usage: p11helper_mock_test HELPER MOCK_MODULE
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/lib/p11h.h"

#define TIMEOUT_MS 10000
#define SLOW_MS 800
/* Well under SLOW_MS, well over what a mock call takes. */
#define FAST_MS 400

static const char *helper_path, *module_path;
static char tmpdir[256], ctl_path[512], log_path[512];
static uint32_t next_id = 1;

static void
write_ctl(const char *text)
{
	FILE *f;

	REQUIRE((f = fopen(ctl_path, "w")) != NULL);
	fputs(text, f);
	REQUIRE(fclose(f) == 0);
}

/* How many lines of the mock's event log are exactly this. */
static int
log_count(const char *event)
{
	char line[128];
	int n = 0;
	FILE *f;

	if ((f = fopen(log_path, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		n += strcmp(line, event) == 0;
	}
	fclose(f);
	return n;
}

static uint32_t
send_simple(struct p11h *h, uint8_t type, const char *serial)
{
	struct buf b;
	uint32_t id = next_id++;

	p11h_req(&b, id, type);
	if (serial != NULL)
		buf_put_cstr(&b, serial);
	p11h_send(h, &b);
	return id;
}

static uint32_t
send_sign(struct p11h *h, const char *serial)
{
	struct buf b;
	uint32_t id = next_id++;

	p11h_req(&b, id, P11W_SIGN);
	buf_put_cstr(&b, serial);
	buf_put_str(&b, "\x01", 1);
	buf_put_u64(&b, CKM_ECDSA);
	buf_put_str(&b, "0123456789abcdef0123456789abcdef", 32);
	p11h_send(h, &b);
	return id;
}

static uint32_t
send_login(struct p11h *h, const char *serial, const char *pin)
{
	struct buf b;
	uint32_t id = next_id++;

	p11h_req(&b, id, P11W_LOGIN);
	buf_put_cstr(&b, serial);
	buf_put_u8(&b, 1);
	buf_put_cstr(&b, pin);
	p11h_send(h, &b);
	return id;
}

/* The answer to id (the next frame must be it); its rv. */
static uint64_t
answer(struct p11h *h, uint32_t want, struct buf *r)
{
	uint32_t id;
	uint8_t type;
	uint64_t rv;

	REQUIRE(p11h_recv(h, r, TIMEOUT_MS, &id, &type, &rv));
	CHECK(id == want);
	return rv;
}

static uint64_t
call_simple(struct p11h *h, uint8_t type, const char *serial)
{
	struct buf r;
	uint64_t rv = answer(h, send_simple(h, type, serial), &r);

	buf_free(&r);
	return rv;
}

static uint64_t
call_login(struct p11h *h, const char *serial, const char *pin,
    uint64_t *flags)
{
	struct buf r;
	uint64_t rv = answer(h, send_login(h, serial, pin), &r);

	*flags = buf_get_u64(&r);
	CHECK(buf_done(&r));
	buf_free(&r);
	return rv;
}

/* SIGN on a mock token: the signature is the serial, blank padded. */
static uint64_t
call_sign(struct p11h *h, const char *serial)
{
	const uint8_t *p;
	struct buf r;
	uint64_t rv;
	size_t n;
	char want[17];

	rv = answer(h, send_sign(h, serial), &r);
	if (rv == CKR_OK) {
		p = buf_get_str(&r, &n, 64);
		snprintf(want, sizeof(want), "%-16s", serial);
		CHECK(p != NULL && n == 16 && memcmp(p, want, 16) == 0);
	}
	CHECK(buf_done(&r));
	buf_free(&r);
	return rv;
}

/* LIST_TOKENS: slot id and logged_in of one serial; false if not listed. */
static bool
token_state(struct p11h *h, const char *serial, uint64_t *slot,
    uint8_t *logged_in)
{
	const uint8_t *p;
	struct buf r;
	uint32_t n, i;
	size_t len, other;
	bool found = false;

	CHECK_RV(answer(h, send_simple(h, P11W_LIST_TOKENS, NULL), &r), CKR_OK);
	n = buf_get_u32(&r);
	for (i = 0; i < n && !r.failed; i++) {
		p = buf_get_str(&r, &len, 64);
		buf_get_str(&r, &other, 64);
		buf_get_str(&r, &other, 64);
		buf_get_str(&r, &other, 64);
		buf_get_u64(&r);
		if (p != NULL && len == strlen(serial) &&
		    memcmp(p, serial, len) == 0 && !found) {
			*logged_in = buf_get_u8(&r);
			*slot = buf_get_u64(&r);
			found = true;
		} else {
			buf_get_u8(&r);
			buf_get_u64(&r);
		}
	}
	CHECK(buf_done(&r));
	buf_free(&r);
	return found;
}

static void
start(struct p11h *h, const char *name)
{
	char ep[512];

	snprintf(ep, sizeof(ep), "%s/%s.err", tmpdir, name);
	p11h_start(h, helper_path, module_path, ep, true);
}

/* A slow C_Sign on SLOW delays neither FAST nor LIST_TOKENS, and SLOW's
 * next request waits for it. */
static void
test_parallel(struct p11h *h)
{
	uint32_t ids[5], id;
	int64_t t0, at[5];
	int order[5], k, i;
	struct buf r;
	uint8_t type;
	uint64_t rv, slot, flags;
	uint8_t in = 0;

	CHECK_RV(call_login(h, "SLOW", "1111", &flags), CKR_OK);
	CHECK_RV(call_login(h, "FAST", "1111", &flags), CKR_OK);

	t0 = p11h_now_ms();
	ids[0] = send_sign(h, "SLOW");
	ids[1] = send_simple(h, P11W_MECHANISMS, "SLOW");
	ids[2] = send_sign(h, "FAST");
	ids[3] = send_simple(h, P11W_LIST_TOKENS, NULL);
	ids[4] = send_simple(h, P11W_LIST_CERTS, "FAST");
	for (i = 0; i < 5; i++) {
		REQUIRE(p11h_recv(h, &r, TIMEOUT_MS, &id, &type, &rv));
		CHECK_RV(rv, CKR_OK);
		for (k = 0; k < 5; k++)
			if (ids[k] == id) {
				at[k] = p11h_now_ms() - t0;
				order[k] = i;
			}
		buf_free(&r);
	}
	fprintf(stderr, "parallel: slow sign %lld ms, fast sign %lld ms, "
	    "list %lld ms, certs %lld ms, slow mechanisms %lld ms\n",
	    (long long)at[0], (long long)at[2], (long long)at[3],
	    (long long)at[4], (long long)at[1]);
	CHECK(at[0] >= SLOW_MS - 50);
	CHECK(at[2] < FAST_MS);
	CHECK(at[3] < FAST_MS);
	CHECK(at[4] < FAST_MS);
	/* FIFO per token: SLOW's second request after its first */
	CHECK(order[1] > order[0]);
	CHECK(at[1] >= at[0]);

	CHECK(call_sign(h, "SLOW") == CKR_OK);
	CHECK(token_state(h, "SLOW", &slot, &in));
	CHECK(in == 1);
	CHECK(slot == 100);
}

/* Both tokens pulled and reinserted: new slot ids, sessions invalid,
 * logins gone. Each request finds its token again by serial. */
static void
test_reinserted(struct p11h *h)
{
	const uint8_t *p;
	uint64_t slot = 0;
	uint8_t in = 1;
	struct buf r;
	size_t n;

	write_ctl("gen 1\n");
	/* cached session stale: re-resolve, retry once, succeed */
	CHECK_RV(answer(h, send_simple(h, P11W_LIST_CERTS, "FAST"), &r),
	    CKR_OK);
	CHECK(buf_get_u32(&r) == 1);
	p = buf_get_str(&r, &n, 64);
	CHECK(p != NULL && n == 1 && p[0] == 1);
	buf_get_str(&r, &n, 64);
	p = buf_get_str(&r, &n, 64);
	CHECK(p != NULL && n == strlen("MOCK CERTIFICATE DER"));
	CHECK(buf_get_u8(&r) == 1); /* logged out: public key only */
	CHECK(buf_get_u8(&r) == 0);
	CHECK(buf_done(&r));
	buf_free(&r);
	/* cached slot stale */
	CHECK_RV(call_simple(h, P11W_MECHANISMS, "SLOW"), CKR_OK);
	CHECK_RV(call_sign(h, "FAST"), CKR_USER_NOT_LOGGED_IN);
	CHECK(token_state(h, "FAST", &slot, &in));
	CHECK(slot == 201);
	CHECK(in == 0);
}

/* A PIN goes to the token once per LOGIN, whatever comes back. */
static void
test_login_once(struct p11h *h)
{
	uint64_t flags;
	int before;

	before = log_count("login FAST");
	write_ctl("gen 1\nfail_login 1\n");
	CHECK_RV(call_login(h, "FAST", "1111", &flags), CKR_DEVICE_REMOVED);
	CHECK(log_count("login FAST") == before + 1);
	CHECK((flags & CKF_TOKEN_INITIALIZED) != 0);

	/* Reinserted under our feet: the dead session is replaced before
	 * the PIN is sent, so the one attempt succeeds. */
	CHECK_RV(call_simple(h, P11W_LIST_CERTS, "FAST"), CKR_OK);
	write_ctl("gen 2\nfail_login 1\n");
	CHECK_RV(call_login(h, "FAST", "1111", &flags), CKR_OK);
	CHECK(log_count("login FAST") == before + 2);
	CHECK_RV(call_login(h, "FAST", "0000", &flags), CKR_OK);
	CHECK(log_count("login FAST") == before + 3); /* already logged in */
	CHECK_RV(call_simple(h, P11W_LOGOUT, "FAST"), CKR_OK);
	CHECK_RV(call_login(h, "FAST", "0000", &flags), CKR_PIN_INCORRECT);
	CHECK(log_count("login FAST") == before + 4);
	CHECK_RV(call_login(h, "FAST", "1111", &flags), CKR_OK);
	CHECK_RV(call_sign(h, "FAST"), CKR_OK);
}

/* More serials than P11W_MAX_TOKENS: idle workers of absent tokens are
 * recycled, and a token in use keeps its worker and login. */
static void
test_many_serials(struct p11h *h)
{
	char serial[32];
	int i, bad = 0;

	for (i = 0; i < (int)P11W_MAX_TOKENS + 44; i++) {
		snprintf(serial, sizeof(serial), "absent-%04d", i);
		if (call_simple(h, P11W_LIST_CERTS, serial) !=
		    CKR_TOKEN_NOT_PRESENT)
			bad++;
	}
	CHECK(bad == 0);
	CHECK_RV(call_sign(h, "FAST"), CKR_OK);
	CHECK_RV(call_simple(h, P11W_MECHANISMS, "SLOW"), CKR_OK);
}

static void
test_cant_lock(void)
{
	uint32_t ids[3], id;
	int64_t t0, at[3];
	struct p11h h;
	struct buf r;
	uint8_t type;
	uint64_t rv, flags;
	int i, k;

	REQUIRE(setenv("P11MOCK_CANT_LOCK", "1", 1) == 0);
	write_ctl("gen 0\n");
	start(&h, "cant_lock");
	CHECK_RV(call_login(&h, "SLOW", "1111", &flags), CKR_OK);
	CHECK_RV(call_login(&h, "FAST", "1111", &flags), CKR_OK);
	CHECK(strstr(p11h_stderr(&h), "cannot lock") != NULL);
	t0 = p11h_now_ms();
	ids[0] = send_sign(&h, "SLOW");
	usleep(100 * 1000); /* let SLOW's worker enter C_Sign first */
	ids[1] = send_sign(&h, "FAST");
	ids[2] = send_simple(&h, P11W_LIST_TOKENS, NULL);
	for (i = 0; i < 3; i++) {
		REQUIRE(p11h_recv(&h, &r, TIMEOUT_MS, &id, &type, &rv));
		CHECK_RV(rv, CKR_OK);
		for (k = 0; k < 3; k++)
			if (ids[k] == id)
				at[k] = p11h_now_ms() - t0;
		buf_free(&r);
	}
	/* one call at a time: the others waited for the slow one */
	CHECK(at[1] >= SLOW_MS - 50);
	CHECK(at[2] >= SLOW_MS - 50);
	CHECK(log_count("overlap") == 0);
	shutdown(h.fd, SHUT_WR);
	CHECK(p11h_wait(&h, TIMEOUT_MS) == 0);
	REQUIRE(unsetenv("P11MOCK_CANT_LOCK") == 0);
}

/*
 * Cached key handles (helper.h, struct token_key) against a module that
 * deals its object numbers again: a signature is always by the key with
 * the CKA_ID asked for, never by whatever now answers to a cached number.
 */
static void
test_key_handles(void)
{
	struct p11h h;
	uint64_t flags;
	int finds, i;

	write_ctl("gen 3\nlayout 0\n");
	start(&h, "keys");
	CHECK_RV(call_login(&h, "FAST", "1111", &flags), CKR_OK);
	finds = log_count("findkey FAST");

	/* Searched for once, then signed with the cached handle. */
	for (i = 0; i < 3; i++)
		CHECK_RV(call_sign(&h, "FAST"), CKR_OK);
	CHECK(log_count("findkey FAST") == finds + 1);

	/* New numbers under the live session: handle 1 is now the CKA_ID 02
	 * key. The cached handle is seen to be another key and the right
	 * one searched for (call_sign checks whose signature it is). */
	write_ctl("gen 3\nlayout 1\n");
	for (i = 0; i < 2; i++)
		CHECK_RV(call_sign(&h, "FAST"), CKR_OK);
	CHECK(log_count("findkey FAST") == finds + 2);
	/* And back: handle 4 is no object any more. */
	write_ctl("gen 3\nlayout 0\n");
	for (i = 0; i < 2; i++)
		CHECK_RV(call_sign(&h, "FAST"), CKR_OK);
	CHECK(log_count("findkey FAST") == finds + 3);

	/* Pulled out, and a token with the same serial put in whose handle
	 * 1 is another key: nothing of the old session is used. */
	write_ctl("gen 4\nlayout 1\n");
	CHECK_RV(call_sign(&h, "FAST"), CKR_USER_NOT_LOGGED_IN);
	CHECK(log_count("findkey FAST") == finds + 4);
	CHECK_RV(call_login(&h, "FAST", "1111", &flags), CKR_OK);
	for (i = 0; i < 2; i++)
		CHECK_RV(call_sign(&h, "FAST"), CKR_OK);
	CHECK(log_count("findkey FAST") == finds + 5);

	shutdown(h.fd, SHUT_WR);
	CHECK(p11h_wait(&h, TIMEOUT_MS) == 0);
}

static void
cleanup(void)
{
	char cmd[300];

	if (tmpdir[0] == '\0' || getenv("P11HELPER_KEEP") != NULL)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

int
main(int argc, char **argv)
{
	const char *base;
	char slow_ms[16];
	struct p11h h;
	int64_t t0 = p11h_now_ms();

	if (argc != 3) {
		fprintf(stderr, "usage: %s HELPER MOCK_MODULE\n", argv[0]);
		return 2;
	}
	helper_path = argv[1];
	module_path = argv[2];
	base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(tmpdir, sizeof(tmpdir), "%s/p11mock.XXXXXX", base);
	REQUIRE(mkdtemp(tmpdir) != NULL);
	atexit(cleanup);
	snprintf(ctl_path, sizeof(ctl_path), "%s/ctl", tmpdir);
	snprintf(log_path, sizeof(log_path), "%s/events", tmpdir);
	snprintf(slow_ms, sizeof(slow_ms), "%d", SLOW_MS);
	write_ctl("gen 0\n");
	REQUIRE(setenv("P11MOCK_TOKENS", "SLOW,FAST", 1) == 0);
	REQUIRE(setenv("P11MOCK_SLOW_MS", slow_ms, 1) == 0);
	REQUIRE(setenv("P11MOCK_CTL", ctl_path, 1) == 0);
	REQUIRE(setenv("P11MOCK_LOG", log_path, 1) == 0);
	unsetenv("P11MOCK_CANT_LOCK");

	start(&h, "main");
	test_parallel(&h);
	test_reinserted(&h);
	test_login_once(&h);
	test_many_serials(&h);
	/* EOF: FAST (logged in) is logged out, then the module finalized */
	CHECK(log_count("logout FAST") == 1);
	shutdown(h.fd, SHUT_WR);
	CHECK(p11h_wait(&h, TIMEOUT_MS) == 0);
	CHECK(log_count("logout FAST") == 2);
	CHECK(log_count("finalize") == 1);

	test_cant_lock();
	test_key_handles();

	fprintf(stderr, "p11helper_mock_test: %d failure(s), %lld ms\n",
	    p11h_failures, (long long)(p11h_now_ms() - t0));
	return p11h_failures == 0 ? 0 : 1;
}
