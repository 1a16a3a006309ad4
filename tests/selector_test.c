/*
 * Unit test of agent/selector.c: a table of good and bad selectors with
 * their exact results, matching, and generate -> parse -> match round
 * trips; snils:/inn:/ogrn: selectors matched against the identifiers
 * certinfo reads from certificates made for the purpose.
 */
#include <string.h>

#include "signet/protocol.h"
#include "agent/certinfo.h"
#include "agent/selector.h"
#include "tests/lib/core_fixtures.h"

#define TOK 0 /* token selector */
#define CRT 1 /* certificate selector */

#define HEX64 "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define HEX64_COLONS "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:" \
	"00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff"

#define URI(t, fc, se, to, ma, mo, ob, i, ty) { .text = t, .for_cert = fc, \
	.kind = SEL_URI, .serial = se, .token = to, .manufacturer = ma, \
	.model = mo, .object = ob, .id = i, .type = ty }
#define FP(t, fc) FPV(t, fc, HEX64)
#define FPV(t, fc, h) { .text = t, .for_cert = fc, .kind = SEL_SHA256, \
	.sha = h }
#define SERIAL(t) { .text = t, .for_cert = TOK, .kind = SEL_SERIAL, \
	.serial = t }
#define BAD(t, fc, r) { .text = t, .for_cert = fc, .rc = r }

static const struct row {
	const char *text;
	int for_cert;
	int rc;
	int kind;
	const char *serial, *token, *manufacturer, *model, *object;
	const char *id;      /* hex of the id bytes; NULL when absent */
	int type;
	const char *sha;     /* SEL_SHA256: lower-case hex */
} rows[] = {
	/* URIs for tokens */
	URI("pkcs11:serial=ABC123", TOK, "ABC123", 0, 0, 0, 0, 0, 0),
	URI("pkcs11:serial=ABC123;token=My%20Token;manufacturer=SoftHSM%20"
	    "project;model=SoftHSM%20v2", TOK, "ABC123", "My Token",
	    "SoftHSM project", "SoftHSM v2", 0, 0, 0),
	URI("PKCS11:serial=1", TOK, "1", 0, 0, 0, 0, 0, 0),
	URI("pkcs11:model=m;serial=12%3B34", TOK, "12;34", 0, 0, "m", 0, 0, 0),
	URI("pkcs11:serial=1;token=%D0%A2%d0%b5%D1%81%D1%82", TOK, "1",
	    "\xd0\xa2\xd0\xb5\xd1\x81\xd1\x82", 0, 0, 0, 0, 0),
	URI("pkcs11:serial=a:b@c!$'()*+,=&[]-._~", TOK,
	    "a:b@c!$'()*+,=&[]-._~", 0, 0, 0, 0, 0, 0),
	/* URIs for certificates */
	URI("pkcs11:serial=a;id=%01%02%ff;type=cert;object=my%20cert;token=T",
	    CRT, "a", "T", 0, 0, "my cert", "0102ff", SEL_TYPE_CERT),
	URI("pkcs11:id=%00%41", CRT, 0, 0, 0, 0, 0, "0041", 0),
	URI("pkcs11:id=AB", CRT, 0, 0, 0, 0, 0, "4142", 0),
	URI("pkcs11:serial=x;type=private", CRT, "x", 0, 0, 0, 0, 0,
	    SEL_TYPE_PRIVATE),
	URI("pkcs11:token=T", CRT, 0, "T", 0, 0, 0, 0, 0),
	URI("pkcs11:serial=ABC123", CRT, "ABC123", 0, 0, 0, 0, 0, 0),
	/* fingerprints */
	FP(HEX64, CRT),
	FP(HEX64, TOK),
	FP(HEX64_COLONS, CRT),
	FP("sha256:" HEX64, CRT),
	FP("SHA256:" HEX64_COLONS, CRT),
	/* bare serials */
	SERIAL("ABC123"),
	SERIAL("0123456789abcdef"),
	SERIAL("a-b_c.d:e+f"),
	SERIAL("012345678901234567890123456789012345678901234567890123456789012x"),
	/* 64 hex digits are a fingerprint, even when meant as a serial */
	FPV("0123456789012345678901234567890123456789012345678901234567890123",
	    TOK, "0123456789012345678901234567890123456789012345678901234567890123"),
	/* 31 bytes of hex is not a fingerprint, but is a fine serial */
	SERIAL("00112233445566778899aabbccddeeff00112233445566778899aabbccddee"),

	/* bad: shape */
	BAD("", TOK, SIGNET_ERR_FORMAT),
	BAD("", CRT, SIGNET_ERR_FORMAT),
	BAD("pkcs11:", TOK, SIGNET_ERR_FORMAT),
	BAD("pkcs11:", CRT, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial", TOK, SIGNET_ERR_FORMAT),
	BAD("pkcs11:=1", TOK, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial=", TOK, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial=1;", TOK, SIGNET_ERR_FORMAT),
	BAD("pkcs11:;serial=1", TOK, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial=1;;token=t", TOK, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial=1;token=", TOK, SIGNET_ERR_FORMAT),
	/* bad: query (a PIN never travels in a selector) and unknowns */
	BAD("pkcs11:serial=1?pin-value=1234", TOK, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial=1?module-path=/tmp/evil.so", CRT, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial=1;pin-value=1234", TOK, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial=1;slot-id=3", TOK, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial=1;library-manufacturer=x", CRT, SIGNET_ERR_FORMAT),
	BAD("pkcs11:Serial=1", TOK, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serials=1", TOK, SIGNET_ERR_FORMAT),
	BAD("pkcs11:seria=1", TOK, SIGNET_ERR_FORMAT),
	/* bad: duplicates */
	BAD("pkcs11:serial=1;serial=2", TOK, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial=1;serial=1", CRT, SIGNET_ERR_FORMAT),
	BAD("pkcs11:id=%01;type=cert;id=%02", CRT, SIGNET_ERR_FORMAT),
	BAD("pkcs11:type=cert;type=private", CRT, SIGNET_ERR_FORMAT),
	/* bad: escapes and characters */
	BAD("pkcs11:serial=%4", TOK, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial=%", TOK, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial=%4G", TOK, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial=%G4", TOK, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial=a%00b", TOK, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial=1;object=a%00", CRT, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial=a b", TOK, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial=a/b", TOK, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial=a#b", TOK, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial=a\"b", TOK, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial=\xd0\xa2", TOK, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial=a\tb", TOK, SIGNET_ERR_FORMAT),
	/* bad: token selectors name tokens, and must give the serial */
	BAD("pkcs11:token=T", TOK, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial=1;id=%01", TOK, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial=1;object=x", TOK, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial=1;type=cert", TOK, SIGNET_ERR_FORMAT),
	/* bad: type values */
	BAD("pkcs11:serial=1;type=public", CRT, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial=1;type=data", CRT, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial=1;type=secret-key", CRT, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial=1;type=Cert", CRT, SIGNET_ERR_FORMAT),
	BAD("pkcs11:serial=1;type=certs", CRT, SIGNET_ERR_FORMAT),
	/* bad: fingerprints */
	BAD("sha256:", CRT, SIGNET_ERR_FORMAT),
	BAD("sha256:00112233", TOK, SIGNET_ERR_FORMAT),
	BAD("sha256:" HEX64 "00", CRT, SIGNET_ERR_FORMAT),
	BAD("sha256:" HEX64 ":", CRT, SIGNET_ERR_FORMAT),
	BAD("sha256::" HEX64, CRT, SIGNET_ERR_FORMAT),
	BAD("sha256:0:0112233445566778899aabbccddeeff00112233445566778899aabbccd"
	    "deeff", CRT, SIGNET_ERR_FORMAT),
	BAD(HEX64 "0", CRT, SIGNET_ERR_FORMAT),
	BAD(HEX64 "00", TOK, SIGNET_ERR_FORMAT), /* 66: too long a serial */
	BAD("0g112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
	    CRT, SIGNET_ERR_FORMAT),
	/* bad: bare serials */
	BAD("a b", TOK, SIGNET_ERR_FORMAT),
	BAD("a;b", TOK, SIGNET_ERR_FORMAT),
	BAD("a%20b", TOK, SIGNET_ERR_FORMAT),
	BAD("a/b", TOK, SIGNET_ERR_FORMAT),
	BAD("ab\x01", TOK, SIGNET_ERR_FORMAT),
	BAD("\xd0\xa2", TOK, SIGNET_ERR_FORMAT),
	BAD(" ABC", TOK, SIGNET_ERR_FORMAT),
	BAD("01234567890123456789012345678901234567890123456789012345678901234",
	    TOK, SIGNET_ERR_FORMAT),
	/* a certificate is named by URI or fingerprint, not by serial */
	BAD("ABC123", CRT, SIGNET_ERR_FORMAT),
};

static void
hex_of(const uint8_t *p, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
	out[2 * n] = '\0';
}

static bool
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	    (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void
test_table(void)
{
	struct selector s;
	char idhex[2 * SELECTOR_MAX_ATTR + 1];
	size_t i;
	int r;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *w = &rows[i];
		bool ok;

		r = selector_parse(&s, w->text, w->for_cert);
		if (r != w->rc) {
			fprintf(stderr, "row %zu \"%s\" (%s): rc %d, want %d\n",
			    i, w->text, w->for_cert ? "cert" : "token", r,
			    w->rc);
			fx_failures++;
			selector_clear(&s);
			continue;
		}
		if (r != 0) {
			/* a failed parse leaves nothing allocated */
			CHECK(s.serial == NULL && s.token == NULL &&
			    s.object == NULL && s.id == NULL && !s.has_id);
			continue;
		}
		if (s.has_id)
			hex_of(s.id, s.id_len, idhex);
		ok = (int)s.kind == w->kind;
		if (w->kind == SEL_SHA256) {
			hex_of(s.sha256, 32, idhex);
			ok = ok && strcmp(idhex, w->sha) == 0 &&
			    s.serial == NULL;
		} else
			ok = ok && same(s.serial, w->serial) &&
			    same(s.token, w->token) &&
			    same(s.manufacturer, w->manufacturer) &&
			    same(s.model, w->model) &&
			    same(s.object, w->object) &&
			    s.has_id == (w->id != NULL) &&
			    (!s.has_id || strcmp(idhex, w->id) == 0) &&
			    (int)s.type == w->type;
		if (!ok) {
			fprintf(stderr, "row %zu \"%s\": fields differ\n", i,
			    w->text);
			fx_failures++;
		}
		selector_clear(&s);
	}
}

static void
test_limits(void)
{
	char text[SIGNET_MAX_SELECTOR + 64];
	struct selector s;
	size_t i, n;

	CHECK_EQ_INT(selector_parse(&s, NULL, false), SIGNET_ERR_FORMAT);
	CHECK_EQ_INT(selector_parse(NULL, "ABC", false), SIGNET_ERR_FORMAT);

	/* over the whole-selector cap: LIMIT, before anything else */
	memset(text, 'a', sizeof(text));
	text[SIGNET_MAX_SELECTOR + 1] = '\0';
	CHECK_EQ_INT(selector_parse(&s, text, false), SIGNET_ERR_LIMIT);
	memcpy(text, "pkcs11:serial=", 14);
	CHECK_EQ_INT(selector_parse(&s, text, false), SIGNET_ERR_LIMIT);
	/* at the cap, but one attribute over SELECTOR_MAX_ATTR */
	text[SIGNET_MAX_SELECTOR] = '\0';
	CHECK_EQ_INT(selector_parse(&s, text, false), SIGNET_ERR_LIMIT);
	/* exactly SELECTOR_MAX_ATTR decoded bytes is fine, one more is not */
	n = (size_t)snprintf(text, sizeof(text), "pkcs11:id=");
	for (i = 0; i < SELECTOR_MAX_ATTR; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%%%02X",
		    (unsigned)i);
	CHECK(n <= SIGNET_MAX_SELECTOR);
	CHECK_EQ_INT(selector_parse(&s, text, true), 0);
	CHECK_EQ_INT(s.id_len, SELECTOR_MAX_ATTR);
	CHECK(s.id != NULL && s.id[0] == 0 && s.id[255] == 0xff);
	selector_clear(&s);
	snprintf(text + n, sizeof(text) - n, "%%00");
	CHECK_EQ_INT(selector_parse(&s, text, true), SIGNET_ERR_LIMIT);
	CHECK(s.id == NULL);
	/* a bare serial of 1024 bytes is no serial */
	memset(text, 'a', SIGNET_MAX_SELECTOR);
	text[SIGNET_MAX_SELECTOR] = '\0';
	CHECK_EQ_INT(selector_parse(&s, text, false), SIGNET_ERR_FORMAT);
	selector_clear(&s);
	selector_clear(NULL);
}

static void
test_matching(void)
{
	static const uint8_t id1[] = { 0x01, 0x02, 0xff };
	uint8_t fp[32], other[32];
	struct selector s;

	/* token URIs: every given attribute must match */
	REQUIRE(selector_parse(&s, "pkcs11:serial=S1;token=Label;model=M",
	    false) == 0);
	CHECK(selector_match_token(&s, "S1", "Label", "Maker", "M"));
	CHECK(selector_match_token(&s, "S1", "Label", NULL, "M"));
	CHECK(!selector_match_token(&s, "S2", "Label", "Maker", "M"));
	CHECK(!selector_match_token(&s, "S1", "label", "Maker", "M"));
	CHECK(!selector_match_token(&s, "S1", NULL, "Maker", "M"));
	CHECK(!selector_match_token(&s, "S1", "Label", "Maker", "M2"));
	CHECK(!selector_match_token(&s, "S1", "Label ", "Maker", "M"));
	selector_clear(&s);

	/* bare serial: exact, case-sensitive */
	REQUIRE(selector_parse(&s, "abc", false) == 0);
	CHECK(selector_match_token(&s, "abc", "x", "y", "z"));
	CHECK(!selector_match_token(&s, "ABC", "x", "y", "z"));
	CHECK(!selector_match_token(&s, "abcd", "x", "y", "z"));
	CHECK(!selector_match_token(&s, NULL, "x", "y", "z"));
	selector_clear(&s);

	/* fingerprint: certificates only */
	REQUIRE(selector_parse(&s, HEX64, true) == 0);
	memcpy(fp, s.sha256, 32);
	memcpy(other, fp, 32);
	other[31] ^= 1;
	CHECK(!selector_match_token(&s, "S1", "L", "M", "m"));
	CHECK(selector_match_cert(&s, "S1", "L", "M", "m", id1, 3, "c", fp));
	CHECK(!selector_match_cert(&s, "S1", "L", "M", "m", id1, 3, "c",
	    other));
	CHECK(!selector_match_cert(&s, "S1", "L", "M", "m", id1, 3, "c",
	    NULL));
	selector_clear(&s);

	/* certificate URIs */
	REQUIRE(selector_parse(&s, "pkcs11:serial=S1;id=%01%02%FF", true) == 0);
	CHECK(selector_match_cert(&s, "S1", "L", "M", "m", id1, 3, "c", fp));
	CHECK(selector_match_cert(&s, "S1", NULL, NULL, NULL, id1, 3, NULL,
	    NULL));
	CHECK(!selector_match_cert(&s, "S2", "L", "M", "m", id1, 3, "c", fp));
	CHECK(!selector_match_cert(&s, "S1", "L", "M", "m", id1, 2, "c", fp));
	CHECK(!selector_match_cert(&s, "S1", "L", "M", "m", NULL, 0, "c", fp));
	/* a certificate URI also names its token */
	CHECK(selector_match_token(&s, "S1", "L", "M", "m"));
	CHECK(!selector_match_token(&s, "S2", "L", "M", "m"));
	selector_clear(&s);

	REQUIRE(selector_parse(&s, "pkcs11:object=sig%20cert;type=cert",
	    true) == 0);
	CHECK(selector_match_cert(&s, "A", "L", "M", "m", id1, 3, "sig cert",
	    fp));
	CHECK(selector_match_cert(&s, "B", "L2", "M", "m", id1, 1, "sig cert",
	    fp));
	CHECK(!selector_match_cert(&s, "A", "L", "M", "m", id1, 3, "sig",
	    fp));
	CHECK(!selector_match_cert(&s, "A", "L", "M", "m", id1, 3, NULL, fp));
	selector_clear(&s);

	CHECK(!selector_match_token(NULL, "a", "b", "c", "d"));
	CHECK(!selector_match_cert(NULL, "a", "b", "c", "d", id1, 3, "x", fp));
}

static void
roundtrip(const char *serial, const uint8_t *id, size_t id_len,
    const char *want)
{
	struct selector s;
	uint8_t fp[32] = { 0 }, wrong[SELECTOR_MAX_ATTR];
	char *u;

	REQUIRE((u = selector_cert_uri(serial, id, id_len)) != NULL);
	if (want != NULL && strcmp(u, want) != 0) {
		fprintf(stderr, "selector_cert_uri = \"%s\", want \"%s\"\n", u,
		    want);
		fx_failures++;
	}
	CHECK_EQ_INT(selector_parse(&s, u, true), 0);
	CHECK(s.kind == SEL_URI && s.serial != NULL &&
	    strcmp(s.serial, serial) == 0);
	CHECK(s.has_id && s.id_len == id_len && memcmp(s.id, id, id_len) == 0);
	CHECK(selector_match_cert(&s, serial, "any", "any", "any", id, id_len,
	    "any", fp));
	memcpy(wrong, id, id_len);
	wrong[id_len - 1] ^= 0x80;
	CHECK(!selector_match_cert(&s, serial, "any", "any", "any", wrong,
	    id_len, "any", fp));
	selector_clear(&s);
	free(u);

	REQUIRE((u = selector_token_uri(serial)) != NULL);
	CHECK_EQ_INT(selector_parse(&s, u, false), 0);
	CHECK(selector_match_token(&s, serial, "l", "m", "n"));
	selector_clear(&s);
	free(u);
}

static void
test_roundtrip(void)
{
	static const uint8_t id1[] = { 0x01, 0xab };
	static const uint8_t id2[] = { 0x00, 0xff, 0x25, 0x3b, 0x3f, 0x20 };
	uint8_t all[SELECTOR_MAX_ATTR];
	char *u;
	size_t i;

	for (i = 0; i < sizeof(all); i++)
		all[i] = (uint8_t)i;
	roundtrip("AB 12", id1, sizeof(id1), "pkcs11:serial=AB%2012;id=%01%AB");
	roundtrip("a~b-c.d_e", id2, sizeof(id2),
	    "pkcs11:serial=a~b-c.d_e;id=%00%FF%25%3B%3F%20");
	roundtrip("sp ace;%?/#&=", id1, sizeof(id1),
	    "pkcs11:serial=sp%20ace%3B%25%3F%2F%23%26%3D;id=%01%AB");
	roundtrip("\xd0\xa2\xd0\xb5", id1, sizeof(id1),
	    "pkcs11:serial=%D0%A2%D0%B5;id=%01%AB");
	roundtrip("S", all, sizeof(all), NULL);

	REQUIRE((u = selector_token_uri("A/B")) != NULL);
	CHECK(strcmp(u, "pkcs11:serial=A%2FB") == 0);
	free(u);
}

/* Parses for_cert; 0 and the digits, or the error. */
static int
ru_parse(const char *text, bool for_cert, int which, const char *digits)
{
	struct selector s;
	int r = selector_parse(&s, text, for_cert);

	if (r == 0) {
		CHECK_EQ_INT(s.kind, SEL_RU);
		CHECK_EQ_INT(s.ru, which);
		if (strcmp(s.ru_digits, digits) != 0) {
			fprintf(stderr, "%s: digits %s, want %s\n", text,
			    s.ru_digits, digits);
			fx_failures++;
		}
		selector_clear(&s);
	}
	return r;
}

static void
test_ru_parse(void)
{
	CHECK_EQ_INT(ru_parse("snils:12345678901", CRT, SEL_RU_SNILS,
	    "12345678901"), 0);
	CHECK_EQ_INT(ru_parse("SNILS:123-456-789 01", CRT, SEL_RU_SNILS,
	    "12345678901"), 0);
	CHECK_EQ_INT(ru_parse("inn:123456789012", CRT, SEL_RU_INN,
	    "123456789012"), 0);
	CHECK_EQ_INT(ru_parse("inn:7701234567", CRT, SEL_RU_INN,
	    "7701234567"), 0);
	CHECK_EQ_INT(ru_parse("ogrn:1027700132195", CRT, SEL_RU_OGRN,
	    "1027700132195"), 0);
	CHECK_EQ_INT(ru_parse("ogrn:312345678901234", CRT, SEL_RU_OGRN,
	    "312345678901234"), 0);
	/* wrong counts, letters, empty, separators not between digits */
	CHECK_EQ_INT(ru_parse("snils:1234567890", CRT, 0, ""),
	    SIGNET_ERR_FORMAT);
	CHECK_EQ_INT(ru_parse("snils:123456789012", CRT, 0, ""),
	    SIGNET_ERR_FORMAT);
	CHECK_EQ_INT(ru_parse("inn:12345678901", CRT, 0, ""),
	    SIGNET_ERR_FORMAT);
	CHECK_EQ_INT(ru_parse("ogrn:12345678901234", CRT, 0, ""),
	    SIGNET_ERR_FORMAT);
	CHECK_EQ_INT(ru_parse("snils:1234567890a", CRT, 0, ""),
	    SIGNET_ERR_FORMAT);
	CHECK_EQ_INT(ru_parse("snils:", CRT, 0, ""), SIGNET_ERR_FORMAT);
	CHECK_EQ_INT(ru_parse("snils:-12345678901", CRT, 0, ""),
	    SIGNET_ERR_FORMAT);
	CHECK_EQ_INT(ru_parse("snils:12345678901-", CRT, 0, ""),
	    SIGNET_ERR_FORMAT);
	CHECK_EQ_INT(ru_parse("snils:1234567890123456789012345", CRT, 0, ""),
	    SIGNET_ERR_FORMAT);
	CHECK_EQ_INT(ru_parse("snils: 12345678901", CRT, 0, ""),
	    SIGNET_ERR_FORMAT);
	/* a certificate, never a token */
	CHECK_EQ_INT(ru_parse("snils:12345678901", TOK, 0, ""),
	    SIGNET_ERR_FORMAT);
	CHECK_EQ_INT(ru_parse("inn:123456789012", TOK, 0, ""),
	    SIGNET_ERR_FORMAT);
}

/* A certificate with the given subject; its identifiers through certinfo. */
static X509 *
ru_cert(EVP_PKEY *k, const char *subject)
{
	struct fx_cert_opts o = {
		.subject = subject, .not_before = 0, .not_after = 86400,
		.key_usage = FX_KU_NONE,
	};

	return fx_cert(k, NULL, NULL, &o);
}

static bool
ru_match(const char *sel, X509 *x)
{
	struct selector s;
	struct certinfo_ids ids;
	struct selector_cert_attrs a;
	static const uint8_t fp[32];
	bool m;

	REQUIRE(selector_parse(&s, sel, true) == 0);
	certinfo_ids(x, &ids);
	a.snils = ids.snils;
	a.inn = ids.inn;
	a.innle = ids.innle;
	a.ogrn = ids.ogrn;
	a.ogrnip = ids.ogrnip;
	m = selector_match_cert_attrs(&s, "S", "L", "M", "m",
	    (const uint8_t *)"i", 1, "c", fp, &a);
	/* without the certificate's attributes, it names nothing */
	CHECK(!selector_match_cert(&s, "S", "L", "M", "m",
	    (const uint8_t *)"i", 1, "c", fp));
	CHECK(!selector_match_cert_attrs(&s, "S", "L", "M", "m",
	    (const uint8_t *)"i", 1, "c", fp, NULL));
	CHECK(!selector_match_token(&s, "S", "L", "M", "m"));
	selector_clear(&s);
	return m;
}

static void
test_ru_match(void)
{
	EVP_PKEY *k = fx_key("p256");
	/* a person: SNILS, INN, OGRNIP */
	X509 *person = ru_cert(k, "/CN=p/1.2.643.100.3=12345678901"
	    "/1.2.643.3.131.1.1=123456789012/1.2.643.100.5=312345678901234");
	/* an organisation: INNLE, OGRN, and the old "00" INN */
	X509 *org = ru_cert(k, "/CN=o/1.2.643.100.4=7701234567"
	    "/1.2.643.100.1=1027700132195");
	X509 *old = ru_cert(k, "/CN=o/1.2.643.3.131.1.1=009649397010");
	X509 *none = ru_cert(k, "/CN=n");

	CHECK(ru_match("snils:12345678901", person));
	CHECK(ru_match("snils:123-456-789 01", person));
	CHECK(!ru_match("snils:12345678902", person));
	CHECK(!ru_match("snils:12345678901", org));
	CHECK(ru_match("inn:123456789012", person));
	CHECK(!ru_match("inn:123456789013", person));
	CHECK(ru_match("inn:7701234567", org));
	CHECK(!ru_match("inn:7701234567", person));
	CHECK(ru_match("inn:9649397010", old));   /* "00" + INNLE */
	CHECK(ru_match("inn:009649397010", old));
	CHECK(!ru_match("inn:3456789012", person)); /* not "00"-prefixed */
	CHECK(ru_match("ogrn:1027700132195", org));
	CHECK(!ru_match("ogrn:1027700132195", person));
	CHECK(ru_match("ogrn:312345678901234", person));
	CHECK(!ru_match("ogrn:312345678901234", org));
	CHECK(!ru_match("snils:12345678901", none));
	CHECK(!ru_match("inn:7701234567", none));
	CHECK(!ru_match("ogrn:1027700132195", none));
	X509_free(person);
	X509_free(org);
	X509_free(old);
	X509_free(none);
	EVP_PKEY_free(k);
}

int
main(void)
{
	test_ru_parse();
	test_ru_match();
	test_table();
	test_limits();
	test_matching();
	test_roundtrip();
	if (fx_failures != 0) {
		fprintf(stderr, "selector_test: %d failure(s)\n", fx_failures);
		return 1;
	}
	printf("selector_test: ok\n");
	return 0;
}
