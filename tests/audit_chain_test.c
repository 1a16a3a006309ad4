/*
 * Unit test of common/audit_chain.c: known answers for the key schedule,
 * the genesis hash and a whole record line (computed independently with
 * Python's hmac/hashlib), the event body's key order and its refusals
 * (pin, data, reserved keys, depth, size), parsing, time, the state and
 * key files, directory set-up, file listing and the line reader.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/audit_chain.h"

static int failures;

#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: FAIL %s\n", \
	__FILE__, __LINE__, #c); failures++; } } while (0)
#define CHECK_EQ(a, b) do { long long _a = (a), _b = (b); if (_a != _b) { \
	fprintf(stderr, "%s:%d: FAIL %s == %s (%lld != %lld)\n", __FILE__, \
	__LINE__, #a, #b, _a, _b); failures++; } } while (0)
#define CHECK_STR(a, b) do { const char *_a = (a), *_b = (b); \
	if (_a == NULL || strcmp(_a, _b) != 0) { fprintf(stderr, \
	"%s:%d: FAIL %s\n  got  %s\n  want %s\n", __FILE__, __LINE__, #a, \
	_a ? _a : "(null)", _b); failures++; } } while (0)

#define K1 "341825d7fcdc53e465ac744b6c54f9a3226954faac0ad13479753473196b292e"
#define K2 "45ce21160749233217a935690c293089b6bddcedccee303d89c67492be21beed"
#define GENESIS "06bad5e7330d08ade15a1fb6bdf1734115f6175008d6f1d4d690a10e4b2a87ea"
#define LINE1 "{\"seq\":1,\"time\":\"2023-11-14T22:13:20.123456Z\",\"prev\":\"" \
	GENESIS "\",\"event\":\"sign\",\"decision\":\"allow\",\"mac\":\"" \
	"a68cd52330d57b18bb2b010dca58c8a8fee60aa0a45d5225a587705c7f6cda10\"}"
#define LINE1_HASH "9eed29bc6ffdbad34d204c30fad9ccea80c86e09a0a9b0a6f569e2e296cfdd05"

static char tmpdir[] = "/tmp/audit_chain_test.XXXXXX";

static const char *
hexs(const uint8_t *p, size_t n)
{
	static char buf[2][129];
	static int k;
	size_t i;

	k ^= 1;
	for (i = 0; i < n && i < 64; i++)
		snprintf(buf[k] + 2 * i, 3, "%02x", p[i]);
	buf[k][2 * i] = '\0';
	return buf[k];
}

static void
k0_init(uint8_t k[AUDIT_KEY_LEN])
{
	unsigned i;

	for (i = 0; i < AUDIT_KEY_LEN; i++)
		k[i] = (uint8_t)i;
}

static void
test_keys(void)
{
	uint8_t k[AUDIT_KEY_LEN], k0[AUDIT_KEY_LEN], at[AUDIT_KEY_LEN];
	struct audit_id id = { .start = 1 };
	uint8_t g[AUDIT_HASH_LEN];
	unsigned i;

	k0_init(k);
	k0_init(k0);
	CHECK_EQ(audit_key_evolve(k), 0);
	CHECK_STR(hexs(k, 32), K1);
	CHECK_EQ(audit_key_evolve(k), 0);
	CHECK_STR(hexs(k, 32), K2);
	CHECK_EQ(audit_key_at(k0, 2, at), 0);
	CHECK_STR(hexs(at, 32), K2);
	CHECK_EQ(audit_key_at(k0, 0, at), 0);
	CHECK(memcmp(at, k0, 32) == 0);
	for (i = 0; i < AUDIT_LOGID_LEN; i++)
		id.logid[i] = (uint8_t)i;
	audit_genesis(&id, g);
	CHECK_STR(hexs(g, 32), GENESIS);
	id.start = 2; /* the start seq is part of the log's identity */
	audit_genesis(&id, g);
	CHECK(strcmp(hexs(g, 32), GENESIS) != 0);
}

static json_t *
J(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	if (j == NULL) {
		fprintf(stderr, "bad test JSON: %s\n", text);
		exit(2);
	}
	return j;
}

/* The body of an event given as JSON text, or the error. */
static int
body_of(const char *text, char **body)
{
	json_t *ev = J(text);
	size_t len;
	int err = audit_event_body(ev, body, &len);

	if (err == 0 && strlen(*body) != len)
		err = 99;
	json_decref(ev);
	return err;
}

static void
test_body(void)
{
	char *b = NULL, *big;
	json_t *ev;
	size_t len;

	/* Fixed order at the top, sorted below, others sorted at the end. */
	CHECK_EQ(body_of("{\"zeta\":1,\"result\":\"ok\",\"client\":{\"pid\":3,"
	    "\"uid\":1000,\"exe\":\"/usr/bin/x\"},\"alpha\":[1,2],"
	    "\"documents\":[{\"size\":5,\"digest\":\"ab\",\"digest_alg\":"
	    "\"sha256\"}],\"event\":\"sign\",\"decision\":\"allow\"}", &b), 0);
	CHECK_STR(b, "\"event\":\"sign\",\"decision\":\"allow\",\"client\":"
	    "{\"exe\":\"/usr/bin/x\",\"pid\":3,\"uid\":1000},\"documents\":"
	    "[{\"digest\":\"ab\",\"digest_alg\":\"sha256\",\"size\":5}],"
	    "\"result\":\"ok\",\"alpha\":[1,2],\"zeta\":1");
	free(b);
	/* UTF-8 stays as it is; control characters are escaped. */
	CHECK_EQ(body_of("{\"event\":\"login\",\"reason\":\"\\u0422\\u0435\\n"
	    "x\"}", &b), 0);
	CHECK_STR(b, "\"event\":\"login\",\"reason\":\"\xd0\xa2\xd0\xb5\\nx\"");
	free(b);

	/* Refusals: never a PIN, never document content. */
	b = NULL;
	CHECK_EQ(body_of("{\"event\":\"login\",\"pin\":\"1234\"}", &b),
	    SIGNET_ERR_FORMAT);
	CHECK(b == NULL);
	CHECK_EQ(body_of("{\"event\":\"login\",\"client\":{\"PIN\":\"1\"}}", &b),
	    SIGNET_ERR_FORMAT);
	CHECK_EQ(body_of("{\"event\":\"sign\",\"documents\":[{\"digest\":\"ab\","
	    "\"data\":\"aGVsbG8=\"}]}", &b), SIGNET_ERR_FORMAT);
	CHECK_EQ(body_of("{\"event\":\"sign\",\"x\":[[{\"Data\":1}]]}", &b),
	    SIGNET_ERR_FORMAT);
	/* ...but the words as values are fine. */
	CHECK_EQ(body_of("{\"event\":\"login\",\"reason\":\"pin\",\"result\":"
	    "\"data\"}", &b), 0);
	free(b);
	CHECK_EQ(body_of("{\"event\":\"sign\",\"seq\":5}", &b), SIGNET_ERR_FORMAT);
	CHECK_EQ(body_of("{\"event\":\"sign\",\"mac\":\"x\"}", &b),
	    SIGNET_ERR_FORMAT);
	CHECK_EQ(body_of("{\"event\":\"sign\",\"prev\":\"x\"}", &b),
	    SIGNET_ERR_FORMAT);
	CHECK_EQ(body_of("{\"event\":\"sign\",\"time\":\"x\"}", &b),
	    SIGNET_ERR_FORMAT);
	CHECK_EQ(body_of("{\"decision\":\"allow\"}", &b), SIGNET_ERR_FORMAT);
	CHECK_EQ(body_of("{\"event\":5}", &b), SIGNET_ERR_FORMAT);
	CHECK_EQ(body_of("[\"event\"]", &b), SIGNET_ERR_FORMAT);
	CHECK_EQ(body_of("{\"event\":\"x\",\"a\":[[[[[[[[[[1]]]]]]]]]]}", &b),
	    SIGNET_ERR_FORMAT);
	CHECK_EQ(body_of("{\"event\":\"x\",\"a\":[[[[[[[1]]]]]]]}", &b), 0);
	free(b);
	/* Size cap. */
	big = malloc(AUDIT_MAX_BODY + 1);
	memset(big, 'x', AUDIT_MAX_BODY);
	big[AUDIT_MAX_BODY] = '\0';
	ev = json_pack("{s:s, s:s}", "event", "sign", "reason", big);
	b = NULL;
	CHECK_EQ(audit_event_body(ev, &b, &len), SIGNET_ERR_LIMIT);
	CHECK(b == NULL);
	json_decref(ev);
	big[AUDIT_MAX_BODY - 100] = '\0';
	ev = json_pack("{s:s, s:s}", "event", "sign", "reason", big);
	CHECK_EQ(audit_event_body(ev, &b, &len), 0);
	CHECK(len <= AUDIT_MAX_BODY);
	json_decref(ev);
	free(b);
	free(big);
}

static void
test_line(void)
{
	struct timespec ts = { .tv_sec = 1700000000, .tv_nsec = 123456789 };
	uint8_t k0[AUDIT_KEY_LEN], k1[AUDIT_KEY_LEN], g[AUDIT_HASH_LEN];
	uint8_t h[AUDIT_HASH_LEN];
	struct audit_id id = { .start = 1 };
	struct audit_rec r;
	char out[AUDIT_MAX_LINE], *body, line[sizeof(LINE1)];
	const char *bad[] = {
		"{\"seq\":1}",
		"{\"seq\":-1,\"time\":\"t\",\"prev\":\"" GENESIS "\",\"mac\":\""
		    GENESIS "\"}",
		"{\"seq\":1,\"time\":\"t\",\"prev\":\"ab\",\"mac\":\"" GENESIS "\"}",
		"{\"seq\":1,\"prev\":\"" GENESIS "\",\"mac\":\"" GENESIS "\"}",
		"{\"seq\":1,\"time\":\"t\",\"prev\":\"" GENESIS "\",\"x\":1,\"x\":2,"
		    "\"mac\":\"" GENESIS "\"}",
		"{\"seq\":1,\"time\":\"t\",\"prev\":\"" GENESIS "\",\"mac\":\""
		    GENESIS "\"} ",
		"{\"seq\":1,\"time\":\"t\",\"prev\":\"" GENESIS "\",\"mac\":\""
		    "06BAD5E7330D08ADE15A1FB6BDF1734115F6175008D6F1D4D690A10E4B2A87EA"
		    "\"}",
		" {\"seq\":1,\"time\":\"t\",\"prev\":\"" GENESIS "\",\"mac\":\""
		    GENESIS "\"}",
	};
	uint64_t seq;
	size_t n, blen;
	unsigned i;

	k0_init(k0);
	for (i = 0; i < AUDIT_LOGID_LEN; i++)
		id.logid[i] = (uint8_t)i;
	audit_genesis(&id, g);
	CHECK_EQ(body_of("{\"decision\":\"allow\",\"event\":\"sign\"}", &body), 0);
	blen = strlen(body);
	CHECK_EQ(audit_line_make(out, sizeof(out), &n, 1, &ts, g, body, blen,
	    k0), 0);
	CHECK_EQ(n, strlen(LINE1) + 1);
	CHECK(memcmp(out, LINE1 "\n", n) == 0);
	/* Too small a buffer is refused, not overrun. */
	CHECK_EQ(audit_line_make(out, 100, &n, 1, &ts, g, body, blen, k0),
	    SIGNET_ERR_LIMIT);
	free(body);

	audit_line_hash(LINE1, strlen(LINE1), h);
	CHECK_STR(hexs(h, 32), LINE1_HASH);
	CHECK_EQ(audit_line_parse(LINE1, strlen(LINE1), &r, true), 0);
	CHECK_EQ(r.seq, 1);
	CHECK(memcmp(r.prev, g, 32) == 0);
	CHECK(r.obj != NULL);
	CHECK_STR(json_string_value(json_object_get(r.obj, "decision")), "allow");
	json_decref(r.obj);
	CHECK(audit_line_mac_ok(LINE1, strlen(LINE1), &r, k0));
	memcpy(k1, k0, 32);
	CHECK_EQ(audit_key_evolve(k1), 0);
	CHECK(!audit_line_mac_ok(LINE1, strlen(LINE1), &r, k1));
	CHECK_EQ(audit_line_seq(LINE1, strlen(LINE1), &seq), 0);
	CHECK_EQ(seq, 1);

	/* One byte changed: still a record, but the MAC fails. */
	memcpy(line, LINE1, sizeof(line));
	*strstr(line, "allow") = 'A';
	CHECK_EQ(audit_line_parse(line, strlen(line), &r, false), 0);
	CHECK(r.obj == NULL);
	CHECK(!audit_line_mac_ok(line, strlen(line), &r, k0));
	/* The seq changed: MAC fails too. */
	memcpy(line, LINE1, sizeof(line));
	line[7] = '2';
	CHECK_EQ(audit_line_parse(line, strlen(line), &r, false), 0);
	CHECK_EQ(r.seq, 2);
	CHECK(!audit_line_mac_ok(line, strlen(line), &r, k0));

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (audit_line_parse(bad[i], strlen(bad[i]), &r, false) !=
		    SIGNET_ERR_FORMAT) {
			fprintf(stderr, "bad line %u parsed\n", i);
			failures++;
		}
	}
	CHECK_EQ(audit_line_seq("{\"seq\":01,", 10, &seq), SIGNET_ERR_FORMAT);
	CHECK_EQ(audit_line_seq("{\"seq\":0,", 9, &seq), 0);
	CHECK_EQ(seq, 0);
	CHECK_EQ(audit_line_seq("{\"seq\":123", 10, &seq), SIGNET_ERR_FORMAT);
	CHECK_EQ(audit_line_seq("{\"seq\":99999999999999999999,", 28, &seq),
	    SIGNET_ERR_FORMAT);
}

static void
test_time(void)
{
	struct timespec ts = { .tv_sec = 1700000000, .tv_nsec = 5000 };
	char t[28];
	int64_t us;

	audit_time_format(&ts, t);
	CHECK_STR(t, "2023-11-14T22:13:20.000005Z");
	CHECK_EQ(audit_time_parse("2023-11-14T22:13:20.123456Z", &us), 0);
	CHECK_EQ(us, 1700000000123456LL);
	CHECK_EQ(audit_time_parse("2023-11-14T22:13:20.1Z", &us), 0);
	CHECK_EQ(us, 1700000000100000LL);
	CHECK_EQ(audit_time_parse("2023-11-14", &us), 0);
	CHECK_EQ(us, 1699920000000000LL);
	CHECK_EQ(audit_time_parse("2023-11-14 22:13", &us), 0);
	CHECK_EQ(us, 1699999980000000LL);
	CHECK_EQ(audit_time_parse("2023-11-14T22:13:20", &us), 0);
	CHECK_EQ(us, 1700000000000000LL);
	CHECK_EQ(audit_time_parse("2023-13-01", &us), SIGNET_ERR_FORMAT);
	CHECK_EQ(audit_time_parse("2023-11-14T22", &us), SIGNET_ERR_FORMAT);
	CHECK_EQ(audit_time_parse("2023-11-14x", &us), SIGNET_ERR_FORMAT);
	CHECK_EQ(audit_time_parse("yesterday", &us), SIGNET_ERR_FORMAT);
	CHECK_EQ(audit_time_parse("2023-11-14T22:13:20.Z", &us),
	    SIGNET_ERR_FORMAT);
}

static void
test_state(void)
{
	struct audit_state s = { .id.start = 7, .next = 42 }, t;
	char buf[AUDIT_STATE_SIZE];
	unsigned i;

	for (i = 0; i < AUDIT_LOGID_LEN; i++)
		s.id.logid[i] = (uint8_t)(0xa0 + i);
	k0_init(s.key);
	memset(s.prev, 0x5c, sizeof(s.prev));
	audit_state_format(&s, buf);
	CHECK(memcmp(buf, "signet-audit-state 1\n", 21) == 0);
	CHECK_EQ(buf[AUDIT_STATE_SIZE - 1], '\n');
	CHECK_EQ(audit_state_parse(buf, sizeof(buf), &t), 0);
	CHECK(memcmp(&s, &t, sizeof(s)) == 0);
	/* Any changed byte is caught by the check line. */
	for (i = 0; i < AUDIT_STATE_SIZE; i++) {
		buf[i] ^= 1;
		if (audit_state_parse(buf, sizeof(buf), &t) != SIGNET_ERR_FORMAT) {
			fprintf(stderr, "state byte %u flipped and accepted\n", i);
			failures++;
		}
		buf[i] ^= 1;
	}
	CHECK_EQ(audit_state_parse(buf, sizeof(buf) - 1, &t), SIGNET_ERR_FORMAT);
	/* next before start is impossible. */
	s.next = 3;
	audit_state_format(&s, buf);
	CHECK_EQ(audit_state_parse(buf, sizeof(buf), &t), SIGNET_ERR_FORMAT);
}

static void
write_file(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, text, len) != (ssize_t)len) {
		perror(path);
		exit(2);
	}
	close(fd);
}

static void
test_files(void)
{
	struct audit_vkey vk, vk2, rk;
	struct audit_state st;
	struct audit_id id;
	struct audit_files f;
	struct audit_reader rd;
	struct stat sb;
	char dir[256], path[512], *text, *line, stbuf[AUDIT_STATE_SIZE + 8];
	uint8_t g[AUDIT_HASH_LEN];
	size_t len, n;
	bool complete, over;
	uint64_t off;
	int fd;
	char *big;

	snprintf(dir, sizeof(dir), "%s/a/b/audit", tmpdir);
	CHECK_EQ(audit_dir_init(dir, 1, &vk), 0);
	CHECK_EQ(vk.id.start, 1);
	CHECK_EQ(audit_dir_init(dir, 1, &vk2), SIGNET_ERR_AGAIN);
	CHECK(stat(dir, &sb) == 0 && (sb.st_mode & 0777) == 0700);
	snprintf(path, sizeof(path), "%s/state", dir);
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	fd = open(path, O_RDONLY);
	n = (size_t)read(fd, stbuf, sizeof(stbuf));
	close(fd);
	CHECK_EQ(audit_state_parse(stbuf, n, &st), 0);
	CHECK_EQ(st.next, 1);
	CHECK(memcmp(st.key, vk.k0, 32) == 0);
	CHECK(memcmp(st.id.logid, vk.id.logid, AUDIT_LOGID_LEN) == 0);
	audit_genesis(&vk.id, g);
	CHECK(memcmp(st.prev, g, 32) == 0);
	CHECK_EQ(audit_id_read(dir, &id), 0);
	CHECK(memcmp(&id, &vk.id, sizeof(id)) == 0);

	/* The officer's key file round-trips. */
	CHECK_EQ(audit_vkey_format(&vk, &text, &len), 0);
	CHECK(strstr(text, "keep it off the machine") != NULL);
	snprintf(path, sizeof(path), "%s/k.key", tmpdir);
	write_file(path, text, len);
	free(text);
	CHECK_EQ(audit_vkey_read(path, &rk), 0);
	CHECK(memcmp(&rk, &vk, sizeof(rk)) == 0);
	write_file(path, "signet-audit-key 1\nlog 00\nstart 1\nkey 00\n", 40);
	CHECK_EQ(audit_vkey_read(path, &rk), SIGNET_ERR_FORMAT);
	snprintf(path, sizeof(path), "%s/none.key", tmpdir);
	CHECK_EQ(audit_vkey_read(path, &rk), SIGNET_ERR_NOTFOUND);

	/* Listing: only audit-<20 digits>.log, numerically sorted. */
	snprintf(path, sizeof(path), "%s/audit-00000000000000000010.log", dir);
	write_file(path, "", 0);
	snprintf(path, sizeof(path), "%s/audit-00000000000000000002.log", dir);
	write_file(path, "", 0);
	snprintf(path, sizeof(path), "%s/audit-00000000000000000002.log.torn-1",
	    dir);
	write_file(path, "", 0);
	snprintf(path, sizeof(path), "%s/audit-2.log", dir);
	write_file(path, "", 0);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK_EQ(audit_files_list(fd, &f), 0);
	CHECK_EQ(f.n, 2);
	if (f.n == 2) {
		CHECK_EQ(f.first[0], 2);
		CHECK_EQ(f.first[1], 10);
		CHECK_STR(f.names[1], "audit-00000000000000000010.log");
	}
	audit_files_free(&f);

	/* The reader: complete lines, an empty one, a torn end. */
	snprintf(path, sizeof(path), "%s/r.txt", tmpdir);
	write_file(path, "a\nbb\n\nccc", 9);
	CHECK_EQ(audit_reader_open(&rd, AT_FDCWD, path), 0);
	CHECK_EQ(audit_reader_next(&rd, &line, &len, &complete, &over, &off), 1);
	CHECK_STR(line, "a");
	CHECK(complete && !over && off == 0);
	CHECK_EQ(audit_reader_next(&rd, &line, &len, &complete, &over, &off), 1);
	CHECK_STR(line, "bb");
	CHECK_EQ(off, 2);
	CHECK_EQ(audit_reader_next(&rd, &line, &len, &complete, &over, &off), 1);
	CHECK(len == 0 && complete);
	CHECK_EQ(audit_reader_next(&rd, &line, &len, &complete, &over, &off), 1);
	CHECK_STR(line, "ccc");
	CHECK(!complete);
	CHECK_EQ(off, 6);
	CHECK_EQ(rd.lineno, 4);
	CHECK_EQ(audit_reader_next(&rd, &line, &len, &complete, &over, &off), 0);
	audit_reader_close(&rd);

	/* A line over the cap is reported as such and skipped. */
	big = malloc(AUDIT_MAX_LINE * 2 + 16);
	memset(big, 'x', AUDIT_MAX_LINE * 2);
	memcpy(big + AUDIT_MAX_LINE * 2, "\nnext\nlast", 10);
	write_file(path, big, AUDIT_MAX_LINE * 2 + 10);
	free(big);
	CHECK_EQ(audit_reader_open(&rd, AT_FDCWD, path), 0);
	CHECK_EQ(audit_reader_next(&rd, &line, &len, &complete, &over, &off), 1);
	CHECK(over && complete && len == 0);
	CHECK_EQ(audit_reader_next(&rd, &line, &len, &complete, &over, &off), 1);
	CHECK_STR(line, "next");
	CHECK(!over && complete);
	CHECK_EQ(off, AUDIT_MAX_LINE * 2 + 1);
	CHECK_EQ(audit_reader_next(&rd, &line, &len, &complete, &over, &off), 1);
	CHECK_STR(line, "last");
	CHECK(!complete);
	CHECK_EQ(audit_reader_next(&rd, &line, &len, &complete, &over, &off), 0);
	audit_reader_close(&rd);
	close(fd);
	explicit_bzero(&st, sizeof(st));
}

int
main(void)
{
	char cmd[128];

	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	test_keys();
	test_body();
	test_line();
	test_time();
	test_state();
	test_files();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
	if (failures) {
		fprintf(stderr, "audit_chain_test: %d failure(s)\n", failures);
		return 1;
	}
	printf("audit_chain_test: ok\n");
	return 0;
}
