/*
 * Token and certificate selectors (agent/selector.h) as clients send
 * them: the input as one C string, parsed in both modes, then matched;
 * and the URIs the agent itself hands out (selector_cert_uri,
 * selector_token_uri) built from raw input bytes and parsed back.
 *
 * Oracles: a parse that fails leaves the selector empty; one that
 * succeeds has non-empty attributes within their caps and matches the
 * token/certificate its own attributes describe, and not one with another
 * serial; every URI the agent makes parses back to the same serial and
 * id (or, longer than SIGNET_MAX_SELECTOR, is refused as too long).
 */
#include <string.h>

#include "agent/selector.h"
#include "fuzz/fuzz.h"
#include "signet/protocol.h"

static const uint8_t fp_other[32] = { 0xde, 0xad, 0xbe, 0xef };

static void
check_empty(const struct selector *s)
{
	FUZZ_CHECK(s->serial == NULL && s->token == NULL &&
	    s->manufacturer == NULL && s->model == NULL && s->object == NULL &&
	    s->id == NULL && !s->has_id);
}

static void
check_text(const char *t)
{
	if (t != NULL)
		FUZZ_CHECK(t[0] != '\0' && strlen(t) <= SELECTOR_MAX_ATTR);
}

/* A serial that is not s's: s's with one byte more. */
static char *
other_serial(const char *serial)
{
	size_t n = strlen(serial);
	char *o = malloc(n + 2);

	FUZZ_CHECK(o != NULL);
	memcpy(o, serial, n);
	o[n] = 'x';
	o[n + 1] = '\0';
	return o;
}

static void
check_parsed(const struct selector *s, const char *text, bool for_cert)
{
	char *other;

	switch (s->kind) {
	case SEL_SERIAL:
		FUZZ_CHECK(!for_cert && s->serial != NULL);
		FUZZ_CHECK(strcmp(s->serial, text) == 0);
		FUZZ_CHECK(selector_match_token(s, text, "l", "m", "n"));
		other = other_serial(text);
		FUZZ_CHECK(!selector_match_token(s, other, "l", "m", "n"));
		free(other);
		break;
	case SEL_SHA256:
		FUZZ_CHECK(!selector_match_token(s, "S", "l", "m", "n"));
		FUZZ_CHECK(selector_match_cert(s, "S", "l", "m", "n",
		    (const uint8_t *)"i", 1, "o", s->sha256));
		FUZZ_CHECK(memcmp(s->sha256, fp_other, 32) == 0 ||
		    !selector_match_cert(s, "S", "l", "m", "n",
		    (const uint8_t *)"i", 1, "o", fp_other));
		break;
	case SEL_URI:
		if (!for_cert)
			FUZZ_CHECK(s->serial != NULL && s->object == NULL &&
			    !s->has_id && s->type == SEL_TYPE_ANY);
		check_text(s->serial);
		check_text(s->token);
		check_text(s->manufacturer);
		check_text(s->model);
		check_text(s->object);
		FUZZ_CHECK(s->has_id == (s->id != NULL));
		if (s->has_id)
			FUZZ_CHECK(s->id_len > 0 && s->id_len <= SELECTOR_MAX_ATTR);
		/* what it names matches it */
		FUZZ_CHECK(selector_match_token(s, s->serial, s->token,
		    s->manufacturer, s->model));
		FUZZ_CHECK(selector_match_cert(s, s->serial, s->token,
		    s->manufacturer, s->model, s->id, s->id_len, s->object,
		    fp_other));
		if (s->serial != NULL) {
			other = other_serial(s->serial);
			FUZZ_CHECK(!selector_match_token(s, other, s->token,
			    s->manufacturer, s->model));
			free(other);
		}
		break;
	case SEL_RU: {
		/* Certificate selectors only; digits of a legal length; they
		 * name a certificate carrying them, never a token, never
		 * another number. */
		size_t n = strlen(s->ru_digits), i;
		struct selector_cert_attrs have = { NULL, NULL, NULL, NULL, NULL };
		struct selector_cert_attrs none = { NULL, NULL, NULL, NULL, NULL };

		FUZZ_CHECK(for_cert);
		for (i = 0; i < n; i++)
			FUZZ_CHECK(s->ru_digits[i] >= '0' && s->ru_digits[i] <= '9');
		if (s->ru == SEL_RU_SNILS) {
			FUZZ_CHECK(n == 11);
			have.snils = s->ru_digits;
		} else if (s->ru == SEL_RU_INN) {
			FUZZ_CHECK(n == 12 || n == 10);
			if (n == 12)
				have.inn = s->ru_digits;
			else
				have.innle = s->ru_digits;
		} else {
			FUZZ_CHECK(s->ru == SEL_RU_OGRN && (n == 13 || n == 15));
			if (n == 13)
				have.ogrn = s->ru_digits;
			else
				have.ogrnip = s->ru_digits;
		}
		FUZZ_CHECK(!selector_match_token(s, "S", "l", "m", "n"));
		FUZZ_CHECK(selector_match_cert_attrs(s, "S", "l", "m", "n",
		    (const uint8_t *)"i", 1, "o", fp_other, &have));
		FUZZ_CHECK(!selector_match_cert_attrs(s, "S", "l", "m", "n",
		    (const uint8_t *)"i", 1, "o", fp_other, &none));
		break;
	}
	default:
		FUZZ_CHECK(s->kind == SEL_SERIAL || s->kind == SEL_SHA256 ||
		    s->kind == SEL_URI || s->kind == SEL_RU);
	}
}

/* uri names serial (and id when given): it parses back to them. */
static void
check_uri(char *uri, const char *serial, const uint8_t *id, size_t id_len)
{
	struct selector s;
	int r;

	FUZZ_CHECK(uri != NULL);
	r = selector_parse(&s, uri, id != NULL);
	if (strlen(uri) > SIGNET_MAX_SELECTOR) {
		FUZZ_CHECK(r == SIGNET_ERR_LIMIT);
	} else {
		FUZZ_CHECK(r == 0 && s.kind == SEL_URI);
		FUZZ_CHECK(s.serial != NULL && strcmp(s.serial, serial) == 0);
		FUZZ_CHECK(s.token == NULL && s.object == NULL);
		if (id != NULL)
			FUZZ_CHECK(s.has_id && s.id_len == id_len &&
			    memcmp(s.id, id, id_len) == 0);
		else
			FUZZ_CHECK(!s.has_id);
	}
	selector_clear(&s);
	free(uri);
}

/* Input as: u8 n, n bytes of serial, the rest the CKA_ID. */
static void
round_trip(const uint8_t *data, size_t size)
{
	size_t n, id_len;
	char *serial;

	if (size < 2)
		return;
	n = data[0];
	if (n == 0 || n > size - 1 || memchr(data + 1, '\0', n) != NULL)
		return;
	id_len = size - 1 - n;
	FUZZ_CHECK((serial = malloc(n + 1)) != NULL);
	memcpy(serial, data + 1, n);
	serial[n] = '\0';
	check_uri(selector_token_uri(serial), serial, NULL, 0);
	/* certs.list only lists objects with a CKA_ID of 1.. bytes; one
	 * over SELECTOR_MAX_ATTR could not be selected back */
	if (id_len > 0 && id_len <= SELECTOR_MAX_ATTR)
		check_uri(selector_cert_uri(serial, data + 1 + n, id_len),
		    serial, data + 1 + n, id_len);
	free(serial);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct selector s;
	char *text;
	int mode, r;

	/* over the cap is refused on length alone; no need to go far */
	if (size > 2 * SIGNET_MAX_SELECTOR)
		return 0;
	FUZZ_CHECK((text = malloc(size + 1)) != NULL);
	memcpy(text, data, size);
	text[size] = '\0';
	for (mode = 0; mode < 2; mode++) {
		r = selector_parse(&s, text, mode == 1);
		if (r != 0) {
			FUZZ_CHECK(r == SIGNET_ERR_FORMAT || r == SIGNET_ERR_LIMIT);
			check_empty(&s);
			continue;
		}
		check_parsed(&s, text, mode == 1);
		selector_clear(&s);
	}
	free(text);
	round_trip(data, size);
	return 0;
}
