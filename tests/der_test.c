/*
 * Unit test of agent/der.c: exact encodings, SET OF ordering, length
 * forms, the UTCTime/GeneralizedTime switch, caps and the reader.
 */
#include <string.h>
#include <time.h>

#include "agent/der.h"
#include "tests/lib/core_fixtures.h"

/* Finishes d and compares with want; frees everything. */
static void
expect(struct der *d, const uint8_t *want, size_t want_len, int line)
{
	uint8_t *out = NULL;
	size_t n = 0;
	int r = der_finish(d, &out, &n);

	if (r != 0 || n != want_len || memcmp(out, want, n) != 0) {
		size_t i;

		fprintf(stderr, "der_test.c:%d: r=%d len=%zu want %zu:", line,
		    r, n, want_len);
		for (i = 0; i < n && i < 48; i++)
			fprintf(stderr, " %02x", out[i]);
		fprintf(stderr, "\n");
		fx_failures++;
	}
	free(out);
	der_free(d);
}
#define EXPECT(d, ...) do { \
	static const uint8_t w_[] = { __VA_ARGS__ }; \
	expect((d), w_, sizeof(w_), __LINE__); \
} while (0)

static void
expect_err(struct der *d, int want, int line)
{
	uint8_t *out = NULL;
	size_t n = 0;
	int r = der_finish(d, &out, &n);

	if (r != want || out != NULL || n != 0) {
		fprintf(stderr, "der_test.c:%d: der_finish = %d, want %d\n",
		    line, r, want);
		fx_failures++;
	}
	free(out);
	der_free(d);
}
#define EXPECT_ERR(d, want) expect_err((d), (want), __LINE__)

static void
test_primitives(void)
{
	struct der d;
	static const uint8_t lead[] = { 0, 0, 0x7f };
	static const uint8_t top[] = { 0x80 };

	der_init(&d, 64);
	der_null(&d);
	EXPECT(&d, 0x05, 0x00);

	der_init(&d, 64);
	der_uint(&d, 0);
	der_uint(&d, 1);
	der_uint(&d, 0x1234);
	der_uint_bytes(&d, lead, sizeof(lead));
	der_uint_bytes(&d, top, sizeof(top));
	der_uint_bytes(&d, NULL, 0);
	EXPECT(&d, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01, 0x02, 0x02, 0x12, 0x34,
	    0x02, 0x01, 0x7f, 0x02, 0x02, 0x00, 0x80, 0x02, 0x01, 0x00);

	der_init(&d, 64);
	der_octet_string(&d, (const uint8_t *)"ab", 2);
	der_octet_string(&d, NULL, 0);
	EXPECT(&d, 0x04, 0x02, 'a', 'b', 0x04, 0x00);

	/* OIDs from text */
	der_init(&d, 64);
	der_oid(&d, "1.2.840.113549.1.7.2");
	der_oid(&d, "2.999.3");
	der_oid(&d, "0.39");
	EXPECT(&d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07,
	    0x02, 0x06, 0x03, 0x88, 0x37, 0x03, 0x06, 0x01, 0x27);

	der_init(&d, 64);
	der_oid(&d, "1.2.840.113549.1.9.16.2.47");
	EXPECT(&d, 0x06, 0x0b, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09,
	    0x10, 0x02, 0x2f);

	{
		static const uint8_t ok[] = { 0x2a, 0x86, 0x48 };

		der_init(&d, 64);
		der_oid_bytes(&d, ok, sizeof(ok));
		EXPECT(&d, 0x06, 0x03, 0x2a, 0x86, 0x48);
	}
}

static void
test_bad_oids(void)
{
	static const char *const bad[] = {
		"", "1", "3.1", "1.40", "1..2", "01.2", "1.02", "1.2.", ".1.2",
		"a.b", "1.2a", "1.2.-3", " 1.2", "1.2.18446744073709551616",
	};
	static const uint8_t bad_bytes[][3] = {
		{ 0x80, 0x01, 0x00 }, /* leading 0x80 */
		{ 0x2a, 0x86, 0x00 }, /* ends inside a subidentifier: len 2 */
		{ 0x2a, 0x80, 0x01 }, /* 0x80 starting a subidentifier */
	};
	static const size_t bad_len[] = { 2, 2, 3 };
	char longoid[DER_MAX_OID_TEXT + 8];
	struct der d;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		der_init(&d, 64);
		der_oid(&d, bad[i]);
		if (der_error(&d) != SIGNET_ERR_FORMAT) {
			fprintf(stderr, "der_oid(\"%s\") = %d\n", bad[i],
			    der_error(&d));
			fx_failures++;
		}
		EXPECT_ERR(&d, SIGNET_ERR_FORMAT);
	}
	der_init(&d, 64);
	der_oid(&d, NULL);
	EXPECT_ERR(&d, SIGNET_ERR_FORMAT);

	for (i = 0; i < 3; i++) {
		der_init(&d, 64);
		der_oid_bytes(&d, bad_bytes[i], bad_len[i]);
		EXPECT_ERR(&d, SIGNET_ERR_FORMAT);
	}

	/* over the text cap: LIMIT, and nothing written */
	memset(longoid, 0, sizeof(longoid));
	strcpy(longoid, "1.2");
	while (strlen(longoid) <= DER_MAX_OID_TEXT)
		strcat(longoid, ".1");
	der_init(&d, 4096);
	der_oid(&d, longoid);
	CHECK_EQ_INT(d.len, 0);
	EXPECT_ERR(&d, SIGNET_ERR_LIMIT);
}

/* Length octets DER uses for a content of n bytes. */
static size_t
len_octets(size_t n)
{
	return n < 128 ? 1 : n < 256 ? 2 : n < 65536 ? 3 : 4;
}

/* Lengths: short form up to 127, then 0x81, 0x82, 0x83 forms, through
 * both der_tlv and the der_begin/der_end fix-up (which moves content). */
static void
test_lengths(void)
{
	static const size_t sizes[] = { 0, 1, 2, 127, 128, 129, 255, 256, 257,
	    65535, 65536, 70000 };
	uint8_t *content, *out = NULL;
	struct der d;
	size_t i, n, hl, k, m = 0;
	int pass;

	REQUIRE((content = malloc(70000)) != NULL);
	for (i = 0; i < 70000; i++)
		content[i] = (uint8_t)(i * 7 + 3);
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			size_t L = sizes[i];
			uint8_t want[5];

			der_init(&d, 100000);
			if (pass == 0)
				der_tlv(&d, DER_OCTET_STRING, content, L);
			else {
				/* SEQUENCE { OCTET STRING } of content length
				 * exactly L: find the inner size m */
				if (L == 1)
					continue;
				der_begin(&d, DER_SEQUENCE);
				for (m = L; L > 0; m--) {
					if (1 + len_octets(m) + m == L)
						break;
					REQUIRE(m > 0);
				}
				if (L > 0)
					der_octet_string(&d, content, m);
				der_end(&d);
			}
			REQUIRE(der_finish(&d, &out, &n) == 0);
			der_free(&d);
			hl = len_octets(L);
			want[0] = hl == 1 ? (uint8_t)L : (uint8_t)(0x80 | (hl - 1));
			for (k = 1; k < hl; k++)
				want[k] = (uint8_t)(L >> (8 * (hl - 1 - k)));
			CHECK_EQ_INT(n, 1 + hl + L);
			CHECK_EQ_INT(out[0], pass == 0 ? DER_OCTET_STRING :
			    DER_SEQUENCE);
			if (memcmp(out + 1, want, hl) != 0) {
				fprintf(stderr, "length octets for %zu wrong\n",
				    L);
				fx_failures++;
			}
			if (pass == 0)
				CHECK(L == 0 || memcmp(out + 1 + hl, content,
				    L) == 0);
			else if (L > 0) {
				/* the inner TLV survived the move intact */
				const uint8_t *p = out + 1 + hl, *c;
				size_t left = L, cl;
				uint8_t tag;

				CHECK_EQ_INT(der_next(&p, &left, &tag, &c, &cl),
				    0);
				CHECK_EQ_INT(tag, DER_OCTET_STRING);
				CHECK_EQ_INT(left, 0);
				CHECK_EQ_INT(cl, m);
				CHECK(memcmp(c, content, cl) == 0);
			}
			free(out);
			out = NULL;
		}
	}
	/* the exact octets for the boundaries the brief names */
	der_init(&d, 100000);
	der_tlv(&d, DER_OCTET_STRING, content, 65536);
	REQUIRE(der_finish(&d, &out, &n) == 0);
	der_free(&d);
	CHECK(out[1] == 0x83 && out[2] == 0x01 && out[3] == 0x00 &&
	    out[4] == 0x00);
	free(out);
	der_init(&d, 1000);
	der_tlv(&d, DER_OCTET_STRING, content, 128);
	REQUIRE(der_finish(&d, &out, &n) == 0);
	der_free(&d);
	CHECK(out[1] == 0x81 && out[2] == 0x80 && n == 131);
	free(out);
	free(content);
}

/* X.690 11.6: SET OF elements in ascending order of their encodings. */
static void
test_set_of(void)
{
	struct der d;
	uint8_t big[200];

	der_init(&d, 1024);
	der_begin_set_of(&d, DER_SET);
	der_null(&d);                                   /* 05 00 */
	der_octet_string(&d, (const uint8_t *)"a", 1);  /* 04 01 61 */
	der_uint(&d, 256);                              /* 02 02 01 00 */
	der_uint(&d, 5);                                /* 02 01 05 */
	der_uint(&d, 1);                                /* 02 01 01 */
	der_end(&d);
	EXPECT(&d, 0x31, 0x0f, 0x02, 0x01, 0x01, 0x02, 0x01, 0x05, 0x02, 0x02,
	    0x01, 0x00, 0x04, 0x01, 0x61, 0x05, 0x00);

	/* a long element (04 81 c8 ...) sorts after a short 04 05 one, and
	 * an IMPLICIT [0] SET OF sorts too; a SEQUENCE does not */
	memset(big, 0xee, sizeof(big));
	der_init(&d, 1024);
	der_begin(&d, DER_SEQUENCE);
	der_uint(&d, 9);
	der_uint(&d, 2);
	der_end(&d);
	der_begin_set_of(&d, DER_CTX(0));
	der_octet_string(&d, big, sizeof(big));
	der_octet_string(&d, (const uint8_t *)"zzzzz", 5);
	der_end(&d);
	{
		uint8_t *out = NULL;
		size_t n = 0;

		REQUIRE(der_finish(&d, &out, &n) == 0);
		der_free(&d);
		static const uint8_t head[] = { 0x30, 0x06, 0x02, 0x01, 0x09,
		    0x02, 0x01, 0x02, 0xa0, 0x81, 0xd2, 0x04, 0x05, 'z', 'z',
		    'z', 'z', 'z', 0x04, 0x81, 0xc8, 0xee };
		CHECK_EQ_INT(n, 8 + 3 + 7 + 3 + 200);
		CHECK(n >= sizeof(head) && memcmp(out, head, sizeof(head)) == 0);
		free(out);
	}

	/* nested: the inner sets are sorted before the outer compares them */
	der_init(&d, 1024);
	der_begin_set_of(&d, DER_SET);
	der_begin_set_of(&d, DER_SET);
	der_uint(&d, 3);
	der_uint(&d, 2);
	der_end(&d);
	der_begin_set_of(&d, DER_SET);
	der_uint(&d, 1);
	der_end(&d);
	der_end(&d);
	EXPECT(&d, 0x31, 0x0d, 0x31, 0x03, 0x02, 0x01, 0x01, 0x31, 0x06, 0x02,
	    0x01, 0x02, 0x02, 0x01, 0x03);

	/* empty SET OF */
	der_init(&d, 16);
	der_begin_set_of(&d, DER_SET);
	der_end(&d);
	EXPECT(&d, 0x31, 0x00);
}

static time_t
utc(int y, int mo, int da, int h, int mi, int s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = da;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = s;
	return timegm(&tm);
}

static void
test_time(void)
{
	struct der d;

	der_init(&d, 64);
	der_time(&d, utc(2049, 12, 31, 23, 59, 59));
	EXPECT(&d, 0x17, 0x0d, '4', '9', '1', '2', '3', '1', '2', '3', '5', '9',
	    '5', '9', 'Z');

	der_init(&d, 64);
	der_time(&d, utc(2050, 1, 1, 0, 0, 0));
	EXPECT(&d, 0x18, 0x0f, '2', '0', '5', '0', '0', '1', '0', '1', '0', '0',
	    '0', '0', '0', '0', 'Z');

	der_init(&d, 64);
	der_time(&d, utc(1950, 1, 1, 0, 0, 0));
	EXPECT(&d, 0x17, 0x0d, '5', '0', '0', '1', '0', '1', '0', '0', '0', '0',
	    '0', '0', 'Z');

	der_init(&d, 64);
	der_time(&d, utc(1949, 12, 31, 23, 59, 59));
	EXPECT(&d, 0x18, 0x0f, '1', '9', '4', '9', '1', '2', '3', '1', '2', '3',
	    '5', '9', '5', '9', 'Z');

	der_init(&d, 64);
	der_time(&d, utc(2024, 2, 29, 7, 8, 9));
	EXPECT(&d, 0x17, 0x0d, '2', '4', '0', '2', '2', '9', '0', '7', '0', '8',
	    '0', '9', 'Z');

	der_init(&d, 64);
	der_time(&d, utc(10000, 1, 1, 0, 0, 0));
	EXPECT_ERR(&d, SIGNET_ERR_FORMAT);
}

static void
test_caps_and_errors(void)
{
	struct der d;
	uint8_t buf[16] = { 0 };
	int i;

	/* over the writer's max: LIMIT, nothing half-written */
	der_init(&d, 10);
	der_octet_string(&d, buf, 8); /* 10 bytes: fits exactly */
	CHECK_EQ_INT(der_error(&d), 0);
	der_null(&d);
	CHECK_EQ_INT(der_error(&d), SIGNET_ERR_LIMIT);
	CHECK_EQ_INT(d.len, 10);
	EXPECT_ERR(&d, SIGNET_ERR_LIMIT);

	/* a length fix-up that pushes past max */
	der_init(&d, 130);
	der_begin(&d, DER_SEQUENCE);
	der_tlv(&d, 0x04, buf, 0);
	for (i = 0; i < 7; i++)
		der_octet_string(&d, buf, 16); /* 2 + 2 + 7*18 = 130 */
	CHECK_EQ_INT(der_error(&d), 0);
	der_end(&d); /* needs one more length octet */
	EXPECT_ERR(&d, SIGNET_ERR_LIMIT);

	/* the cap of the whole writer */
	der_init(&d, (size_t)-1);
	CHECK_EQ_INT(d.max, DER_MAX_OUT);
	der_free(&d);

	/* nesting depth */
	der_init(&d, 1024);
	for (i = 0; i < DER_MAX_DEPTH; i++)
		der_begin(&d, DER_SEQUENCE);
	CHECK_EQ_INT(der_error(&d), 0);
	der_begin(&d, DER_SEQUENCE);
	EXPECT_ERR(&d, SIGNET_ERR_LIMIT);

	/* unbalanced */
	der_init(&d, 64);
	der_end(&d);
	EXPECT_ERR(&d, SIGNET_ERR_FORMAT);
	der_init(&d, 64);
	der_begin(&d, DER_SEQUENCE);
	EXPECT_ERR(&d, SIGNET_ERR_FORMAT);
	/* nothing written */
	der_init(&d, 64);
	EXPECT_ERR(&d, SIGNET_ERR_FORMAT);
	/* primitive tag opened as constructed; multi-octet tag */
	der_init(&d, 64);
	der_begin(&d, DER_OCTET_STRING);
	EXPECT_ERR(&d, SIGNET_ERR_FORMAT);
	der_init(&d, 64);
	der_tlv(&d, 0x1f, buf, 1);
	EXPECT_ERR(&d, SIGNET_ERR_FORMAT);

	/* the error is sticky: later writes change nothing */
	der_init(&d, 64);
	der_oid(&d, "x");
	der_null(&d);
	CHECK_EQ_INT(d.len, 0);
	EXPECT_ERR(&d, SIGNET_ERR_FORMAT);

	/* too many SET OF elements */
	der_init(&d, 8192);
	der_begin_set_of(&d, DER_SET);
	for (i = 0; i <= DER_MAX_SET_ELEMS; i++)
		der_null(&d);
	der_end(&d);
	EXPECT_ERR(&d, SIGNET_ERR_LIMIT);
}

static void
test_raw_and_reader(void)
{
	static const uint8_t one[] = { 0x30, 0x03, 0x02, 0x01, 0x05 };
	static const uint8_t two[] = { 0x05, 0x00, 0x05, 0x00 };
	static const uint8_t shortv[] = { 0x04, 0x05, 0x01 };
	static const struct {
		uint8_t b[6];
		size_t n;
	} bad[] = {
		{ { 0x30, 0x80, 0x00, 0x00 }, 4 },        /* indefinite */
		{ { 0x04, 0x81, 0x05, 1, 2, 3 }, 6 },     /* long form < 128 */
		{ { 0x04, 0x82, 0x00, 0x80 }, 4 },        /* leading zero */
		{ { 0x1f, 0x01, 0x00 }, 3 },              /* multi-octet tag */
		{ { 0x04 }, 1 },                          /* no length */
		{ { 0x04, 0x84, 0xff, 0xff }, 4 },        /* length octets cut */
		{ { 0x04, 0x83, 0x01, 0x00, 0x00 }, 5 },  /* runs past the end */
	};
	const uint8_t *p, *c;
	size_t n, cl, i;
	uint8_t tag;
	struct der d;

	der_init(&d, 64);
	der_begin(&d, DER_CTX(1));
	der_raw(&d, one, sizeof(one));
	der_end(&d);
	EXPECT(&d, 0xa1, 0x05, 0x30, 0x03, 0x02, 0x01, 0x05);

	der_init(&d, 64);
	der_raw(&d, two, sizeof(two));
	EXPECT_ERR(&d, SIGNET_ERR_FORMAT);
	der_init(&d, 64);
	der_raw(&d, shortv, sizeof(shortv));
	EXPECT_ERR(&d, SIGNET_ERR_FORMAT);
	der_init(&d, 64);
	der_raw(&d, NULL, 0);
	EXPECT_ERR(&d, SIGNET_ERR_FORMAT);

	p = one;
	n = sizeof(one);
	CHECK_EQ_INT(der_next(&p, &n, &tag, &c, &cl), 0);
	CHECK_EQ_INT(tag, 0x30);
	CHECK_EQ_INT(cl, 3);
	CHECK(c == one + 2);
	CHECK_EQ_INT(n, 0);
	CHECK(p == one + sizeof(one));

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p = bad[i].b;
		n = bad[i].n;
		if (der_next(&p, &n, &tag, &c, &cl) != SIGNET_ERR_FORMAT ||
		    p != bad[i].b || n != bad[i].n) {
			fprintf(stderr, "der_next bad[%zu] accepted\n", i);
			fx_failures++;
		}
	}
}

int
main(void)
{
	test_primitives();
	test_bad_oids();
	test_lengths();
	test_set_of();
	test_time();
	test_caps_and_errors();
	test_raw_and_reader();
	if (fx_failures != 0) {
		fprintf(stderr, "der_test: %d failure(s)\n", fx_failures);
		return 1;
	}
	printf("der_test: ok\n");
	return 0;
}
