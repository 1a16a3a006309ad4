/*
 * Token and certificate selectors (contract: agent/selector.h; the forms
 * are in docs/protocol.md, "Selectors").
 *
 * Parsing is strict: a selector the agent does not fully understand is
 * refused rather than half-applied, since a half-understood selector could
 * pick a different key than the one the client meant.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "signet/protocol.h"
#include "agent/selector.h"

#define URI_SCHEME     "pkcs11:"
#define SHA256_PREFIX  "sha256:"
#define RU_MAX_TEXT    64u /* "ogrn:" and digits with separators, bytes */
#define SERIAL_MAX_LEN 64u /* bare serial; CK_TOKEN_INFO has 16 */

enum attr {
	A_SERIAL, A_TOKEN, A_MANUFACTURER, A_MODEL, A_OBJECT, A_ID, A_TYPE,
};

static const struct {
	const char *name;
	bool cert_only; /* names an object, not a token */
} attrs[] = {
	[A_SERIAL] = { "serial", false },
	[A_TOKEN] = { "token", false },
	[A_MANUFACTURER] = { "manufacturer", false },
	[A_MODEL] = { "model", false },
	[A_OBJECT] = { "object", true },
	[A_ID] = { "id", true },
	[A_TYPE] = { "type", true },
};
#define NATTRS (sizeof(attrs) / sizeof(attrs[0]))

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool
is_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

/* RFC 7512 pk11-pchar in a path attribute value, less pct-encoded:
 * unreserved / ":" "[" "]" "@" "!" "$" "'" "(" ")" "*" "+" "," "=" "&" */
static bool
is_path_char(unsigned char c)
{
	return is_unreserved(c) || (c != '\0' && strchr(":[]@!$'()*+,=&",
	    c) != NULL);
}

void
selector_clear(struct selector *s)
{
	if (s == NULL)
		return;
	free(s->serial);
	free(s->token);
	free(s->manufacturer);
	free(s->model);
	free(s->object);
	free(s->id);
	memset(s, 0, sizeof(*s));
}

/* %XX-decodes v[0, n) into out (at most SELECTOR_MAX_ATTR bytes). */
static int
pct_decode(const char *v, size_t n, uint8_t *out, size_t *out_len)
{
	size_t i, o = 0;
	int hi, lo;

	for (i = 0; i < n; i++) {
		if (o >= SELECTOR_MAX_ATTR)
			return SIGNET_ERR_LIMIT;
		if (v[i] == '%') {
			if (n - i < 3 || (hi = hexval(v[i + 1])) < 0 ||
			    (lo = hexval(v[i + 2])) < 0)
				return SIGNET_ERR_FORMAT;
			out[o++] = (uint8_t)(hi << 4 | lo);
			i += 2;
		} else if (is_path_char((unsigned char)v[i]))
			out[o++] = (uint8_t)v[i];
		else
			return SIGNET_ERR_FORMAT;
	}
	*out_len = o;
	return 0;
}

/* A NUL-terminated copy of a decoded text attribute. */
static int
dup_text(const uint8_t *p, size_t n, char **out)
{
	char *s;

	/* a C string cannot hold NUL, and no token label or serial does */
	if (memchr(p, '\0', n) != NULL)
		return SIGNET_ERR_FORMAT;
	if ((s = malloc(n + 1)) == NULL)
		return SIGNET_ERR_NOMEM;
	memcpy(s, p, n);
	s[n] = '\0';
	*out = s;
	return 0;
}

static int
set_attr(struct selector *s, enum attr a, const uint8_t *v, size_t n)
{
	char **field = NULL;

	switch (a) {
	case A_SERIAL: field = &s->serial; break;
	case A_TOKEN: field = &s->token; break;
	case A_MANUFACTURER: field = &s->manufacturer; break;
	case A_MODEL: field = &s->model; break;
	case A_OBJECT: field = &s->object; break;
	case A_ID:
		if ((s->id = malloc(n)) == NULL)
			return SIGNET_ERR_NOMEM;
		memcpy(s->id, v, n);
		s->id_len = n;
		s->has_id = true;
		return 0;
	case A_TYPE:
		/* only what certs.list entries are: a certificate and its
		 * private key (same CKA_ID); "public", "data", "secret-key"
		 * name nothing we could sign with */
		if (n == 4 && memcmp(v, "cert", 4) == 0)
			s->type = SEL_TYPE_CERT;
		else if (n == 7 && memcmp(v, "private", 7) == 0)
			s->type = SEL_TYPE_PRIVATE;
		else
			return SIGNET_ERR_FORMAT;
		return 0;
	}
	return dup_text(v, n, field);
}

/*
 * The path of a pkcs11: URI: attr=value pairs separated by ';'.
 */
static int
parse_uri(struct selector *s, const char *path, bool for_cert)
{
	uint8_t val[SELECTOR_MAX_ATTR];
	const char *seg, *end, *eq;
	size_t i, vlen;
	unsigned seen = 0;
	int r;

	s->kind = SEL_URI;
	/*
	 * No query part. RFC 7512 puts pin-value and pin-source there; a
	 * PIN must never travel inside a selector, which is logged, audited
	 * and echoed in errors. The PIN has its own parameter, wiped after
	 * use. module-name/module-path are refused too: the agent decides
	 * which modules it loads, not the client.
	 */
	if (strchr(path, '?') != NULL)
		return SIGNET_ERR_FORMAT;
	if (*path == '\0') /* selects nothing in particular */
		return SIGNET_ERR_FORMAT;
	for (seg = path;; seg = end + 1) {
		if ((end = strchr(seg, ';')) == NULL)
			end = seg + strlen(seg);
		if ((eq = memchr(seg, '=', (size_t)(end - seg))) == NULL)
			return SIGNET_ERR_FORMAT; /* also an empty segment */
		for (i = 0; i < NATTRS; i++)
			if (strlen(attrs[i].name) == (size_t)(eq - seg) &&
			    memcmp(seg, attrs[i].name, (size_t)(eq - seg)) == 0)
				break;
		if (i == NATTRS)
			return SIGNET_ERR_FORMAT; /* unknown: refuse, not ignore */
		if (attrs[i].cert_only && !for_cert)
			return SIGNET_ERR_FORMAT;
		if ((seen & (1u << i)) != 0)
			return SIGNET_ERR_FORMAT; /* which one would win? */
		seen |= 1u << i;
		if ((r = pct_decode(eq + 1, (size_t)(end - eq - 1), val,
		    &vlen)) != 0)
			return r;
		/* an empty value would match an empty label, or nothing */
		if (vlen == 0)
			return SIGNET_ERR_FORMAT;
		r = set_attr(s, (enum attr)i, val, vlen);
		explicit_bzero(val, sizeof(val));
		if (r != 0)
			return r;
		if (*end == '\0')
			break;
	}
	/* docs/protocol.md: a token URI names the token by its serial */
	if (!for_cert && s->serial == NULL)
		return SIGNET_ERR_FORMAT;
	return 0;
}

/* 32 bytes as 64 hex digits, optionally with ':' between bytes. */
static bool
parse_sha256(const char *t, uint8_t out[32])
{
	size_t i;
	int hi, lo;

	for (i = 0; i < 32; i++) {
		if (i > 0 && *t == ':')
			t++;
		if ((hi = hexval(t[0])) < 0 || (lo = hexval(t[1])) < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
		t += 2;
	}
	return *t == '\0';
}

static const struct {
	const char *prefix;
	int which;
	size_t len1, len2;   /* allowed digit counts */
} ru_forms[] = {
	{ "snils:", SEL_RU_SNILS, 11, 11 },
	{ "inn:", SEL_RU_INN, 10, 12 },
	{ "ogrn:", SEL_RU_OGRN, 13, 15 },
};

/* 1: a SEL_RU selector was parsed into s; 0: not one of these prefixes;
 * negative: one of them, malformed. */
static int
parse_ru(struct selector *s, const char *text, size_t n)
{
	const char *v;
	size_t i, k, o = 0;

	for (i = 0; i < sizeof(ru_forms) / sizeof(ru_forms[0]); i++) {
		k = strlen(ru_forms[i].prefix);
		if (strncasecmp(text, ru_forms[i].prefix, k) == 0)
			break;
	}
	if (i == sizeof(ru_forms) / sizeof(ru_forms[0]))
		return 0;
	if (n > RU_MAX_TEXT)
		return SIGNET_ERR_FORMAT;
	for (v = text + k; *v != '\0'; v++) {
		if ((*v == ' ' || *v == '-') && o > 0 && v[1] != '\0')
			continue; /* separators between digits only */
		if (*v < '0' || *v > '9' || o >= SELECTOR_MAX_RU)
			return SIGNET_ERR_FORMAT;
		s->ru_digits[o++] = *v;
	}
	s->ru_digits[o] = '\0';
	if (o != ru_forms[i].len1 && o != ru_forms[i].len2)
		return SIGNET_ERR_FORMAT;
	s->kind = SEL_RU;
	s->ru = ru_forms[i].which;
	return 1;
}

/* Printable ASCII without space and without the characters that are
 * special in URIs, shells or our own selector forms. */
static bool
is_serial_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr(";?%/\\\"'<>`|#", c) == NULL;
}

int
selector_parse(struct selector *s, const char *text, bool for_cert)
{
	size_t n, i;
	int r;

	if (s == NULL)
		return SIGNET_ERR_FORMAT;
	memset(s, 0, sizeof(*s));
	if (text == NULL)
		return SIGNET_ERR_FORMAT;
	if ((n = strnlen(text, SIGNET_MAX_SELECTOR + 1)) > SIGNET_MAX_SELECTOR)
		return SIGNET_ERR_LIMIT;
	if (n == 0)
		return SIGNET_ERR_FORMAT;

	/* URI schemes are case-insensitive (RFC 3986 3.1) */
	if (strncasecmp(text, URI_SCHEME, strlen(URI_SCHEME)) == 0) {
		if ((r = parse_uri(s, text + strlen(URI_SCHEME), for_cert)) != 0)
			selector_clear(s);
		return r;
	}
	if (strncasecmp(text, SHA256_PREFIX, strlen(SHA256_PREFIX)) == 0) {
		/* said it is a fingerprint: it must be one */
		if (!parse_sha256(text + strlen(SHA256_PREFIX), s->sha256))
			goto bad;
		s->kind = SEL_SHA256;
		return 0;
	}
	if (parse_sha256(text, s->sha256)) {
		s->kind = SEL_SHA256;
		return 0;
	}
	/* an identifier names a certificate, never a token */
	if ((r = parse_ru(s, text, n)) != 0) {
		if (r > 0 && for_cert)
			return 0;
		goto bad;
	}
	/* A certificate selector is a URI or a fingerprint
	 * (docs/protocol.md): a bare serial names a token, not a key. */
	if (for_cert || n > SERIAL_MAX_LEN)
		goto bad;
	for (i = 0; i < n; i++)
		if (!is_serial_char((unsigned char)text[i]))
			goto bad;
	s->kind = SEL_SERIAL;
	if ((s->serial = strdup(text)) == NULL) {
		selector_clear(s);
		return SIGNET_ERR_NOMEM;
	}
	return 0;
bad:
	selector_clear(s);
	return SIGNET_ERR_FORMAT;
}

/* A given attribute must match; an absent one matches anything. */
static bool
text_ok(const char *want, const char *have)
{
	return want == NULL || (have != NULL && strcmp(want, have) == 0);
}

bool
selector_match_token(const struct selector *s, const char *serial,
    const char *label, const char *manufacturer, const char *model)
{
	if (s == NULL)
		return false;
	switch (s->kind) {
	case SEL_SERIAL:
		return serial != NULL && s->serial != NULL &&
		    strcmp(s->serial, serial) == 0;
	case SEL_URI:
		/* a certificate URI names its token through the same
		 * attributes; object/id/type do not concern the token */
		return text_ok(s->serial, serial) && text_ok(s->token, label) &&
		    text_ok(s->manufacturer, manufacturer) &&
		    text_ok(s->model, model);
	case SEL_SHA256:
	case SEL_RU:
		break;
	}
	return false;
}

/* Does the certificate's identifier equal the selector's digits? */
static bool
digits_eq(const char *want, const char *have)
{
	return have != NULL && have[0] != '\0' && strcmp(want, have) == 0;
}

static bool
ru_match(const struct selector *s, const struct selector_cert_attrs *a)
{
	const char *want = s->ru_digits, *inn;
	size_t n = strlen(want);

	if (a == NULL)
		return false;
	switch (s->ru) {
	case SEL_RU_SNILS:
		return digits_eq(want, a->snils);
	case SEL_RU_INN:
		if (n == 12)
			return digits_eq(want, a->inn);
		inn = a->inn;
		return digits_eq(want, a->innle) || (inn != NULL &&
		    strlen(inn) == 12 && inn[0] == '0' && inn[1] == '0' &&
		    strcmp(inn + 2, want) == 0);
	case SEL_RU_OGRN:
		return digits_eq(want, n == 13 ? a->ogrn : a->ogrnip);
	}
	return false;
}

bool
selector_match_cert(const struct selector *s, const char *serial,
    const char *token_label, const char *manufacturer, const char *model,
    const uint8_t *id, size_t id_len, const char *obj_label,
    const uint8_t sha256[32])
{
	return selector_match_cert_attrs(s, serial, token_label, manufacturer,
	    model, id, id_len, obj_label, sha256, NULL);
}

bool
selector_match_cert_attrs(const struct selector *s, const char *serial,
    const char *token_label, const char *manufacturer, const char *model,
    const uint8_t *id, size_t id_len, const char *obj_label,
    const uint8_t sha256[32], const struct selector_cert_attrs *ca)
{
	if (s == NULL)
		return false;
	switch (s->kind) {
	case SEL_SHA256:
		/* fingerprints are public: no need for a constant-time compare */
		return sha256 != NULL && memcmp(s->sha256, sha256, 32) == 0;
	case SEL_SERIAL:
		/* not produced for certificate selectors; if handed one, it
		 * names every certificate on that token */
		return selector_match_token(s, serial, token_label,
		    manufacturer, model);
	case SEL_URI:
		if (!selector_match_token(s, serial, token_label, manufacturer,
		    model))
			return false;
		if (s->has_id && (id == NULL || id_len != s->id_len ||
		    memcmp(s->id, id, id_len) != 0))
			return false;
		/*
		 * type=cert and type=private both name this entry: a listed
		 * certificate always has its key under the same CKA_ID. The
		 * object label is compared with the certificate's.
		 */
		return text_ok(s->object, obj_label);
	case SEL_RU:
		return ru_match(s, ca);
	}
	return false;
}

/* "pkcs11:serial=<pct>" and, when id != NULL, ";id=<%XX...>". */
static char *
make_uri(const char *serial, const uint8_t *id, size_t id_len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t sl = serial == NULL ? 0 : strlen(serial), need, i, o;
	char *u;

	if (sl > (SIZE_MAX - 64) / 3 || id_len > (SIZE_MAX - 64) / 3 -
	    sl)
		return NULL;
	need = strlen(URI_SCHEME "serial=") + 3 * sl + strlen(";id=") +
	    3 * id_len + 1;
	if ((u = malloc(need)) == NULL)
		return NULL;
	o = (size_t)snprintf(u, need, "%s", URI_SCHEME "serial=");
	for (i = 0; i < sl; i++) {
		unsigned char c = (unsigned char)serial[i];

		if (is_unreserved(c))
			u[o++] = (char)c;
		else {
			u[o++] = '%';
			u[o++] = hex[c >> 4];
			u[o++] = hex[c & 0xf];
		}
	}
	if (id != NULL) {
		memcpy(u + o, ";id=", 4);
		o += 4;
		for (i = 0; i < id_len; i++) {
			u[o++] = '%';
			u[o++] = hex[id[i] >> 4];
			u[o++] = hex[id[i] & 0xf];
		}
	}
	u[o] = '\0';
	return u;
}

char *
selector_cert_uri(const char *serial, const uint8_t *id, size_t id_len)
{
	static const uint8_t none;

	return make_uri(serial, id == NULL ? &none : id, id == NULL ? 0 :
	    id_len);
}

char *
selector_token_uri(const char *serial)
{
	return make_uri(serial, NULL, 0);
}
