/*
 * Request lines from any local program (docs/protocol.md): the bytes a
 * client writes, cut into lines at '\n' as conn.c does, each through
 * rpc_parse (the JSON-RPC envelope), then the parameter parsers the
 * methods apply to what passed: the strict base64 decoder on sign's
 * "data" (alone or in each "documents" entry of a batch), and the
 * selector parser on "token" and "cert".
 *
 * Oracles: the envelope's outcome is one of the documented errors; the
 * descriptors a request takes are the highest "fd" index it names plus
 * one; what
 * the base64 decoder accepts encodes back to exactly the same text (it
 * accepts canonical base64 only) and decodes to the length the text
 * implies.
 */
#include <string.h>

#include <jansson.h>

#include "common/b64.h"
#include "agent/rpc_parse.h"
#include "agent/selector.h"
#include "fuzz/fuzz.h"
#include "signet/protocol.h"

struct decoded {
	uint8_t *p;
	size_t len, cap;
};

static void
collect(void *arg, const uint8_t *p, size_t n)
{
	struct decoded *d = arg;

	FUZZ_CHECK(n > 0 && n <= d->cap - d->len);
	memcpy(d->p + d->len, p, n);
	d->len += n;
}

static void
check_base64(const char *s, size_t len)
{
	struct decoded d = { NULL, 0, len / 4 * 3 };
	size_t enc_len = 0;
	char *enc;

	FUZZ_CHECK((d.p = malloc(d.cap > 0 ? d.cap : 1)) != NULL);
	if (b64_decode_stream(s, len, collect, &d) == 0) {
		/* len/4*3 less one byte per '=' (at most two) */
		FUZZ_CHECK(d.len <= d.cap && d.len + 2 >= d.cap);
		FUZZ_CHECK((enc = b64_encode(d.p, d.len, &enc_len)) != NULL);
		FUZZ_CHECK(enc_len == len && memcmp(enc, s, len) == 0);
		free(enc);
	}
	free(d.p);
}

/* As the methods see a selector: json_string_value, a C string. */
static void
check_selector(json_t *params, const char *key, bool for_cert)
{
	json_t *v = json_object_get(params, key);
	struct selector s;
	int r;

	if (!json_is_string(v))
		return;
	r = selector_parse(&s, json_string_value(v), for_cert);
	FUZZ_CHECK(r == 0 || r == SIGNET_ERR_FORMAT || r == SIGNET_ERR_LIMIT);
	selector_clear(&s);
}

/* "fd": N in o names N + 1 descriptors, if N is a valid index. */
static unsigned
fd_count(json_t *o)
{
	json_t *fd = json_object_get(o, "fd");
	json_int_t v = json_integer_value(fd);

	return json_is_integer(fd) && v >= 0 &&
	    v < (json_int_t)SIGNET_MAX_FDS_QUEUED ? (unsigned)v + 1 : 0;
}

/* sign's document parameters: one, or a batch of them in "documents". */
static unsigned
check_documents(json_t *params)
{
	json_t *docs, *d, *data;
	unsigned n, want = fd_count(params);
	size_t i;

	data = json_object_get(params, "data");
	if (json_is_string(data))
		check_base64(json_string_value(data), json_string_length(data));
	docs = json_object_get(params, "documents");
	json_array_foreach(docs, i, d) {
		if (i >= SIGNET_MAX_BATCH)
			break;
		if ((n = fd_count(d)) > want)
			want = n;
		data = json_object_get(d, "data");
		if (json_is_string(data))
			check_base64(json_string_value(data),
			    json_string_length(data));
	}
	return want;
}

static void
one_line(const char *line, size_t len)
{
	struct rpc_request req;
	int r;

	r = rpc_parse(&req, line, len);
	FUZZ_CHECK(r == -1 || r == 0 || r == 1);
	if (r == 0)
		FUZZ_CHECK(len == 0 || (len == 1 && line[0] == '\r'));
	if (r < 0) {
		FUZZ_CHECK(req.code == SIGNET_E_PARSE ||
		    req.code == SIGNET_E_INVALID_REQ);
		FUZZ_CHECK(req.reason != NULL && req.message != NULL);
		FUZZ_CHECK(req.id == NULL || json_is_string(req.id) ||
		    json_is_integer(req.id));
	}
	if (r == 1) {
		FUZZ_CHECK(req.method != NULL);
		FUZZ_CHECK(req.params == NULL || json_is_object(req.params));
		FUZZ_CHECK(req.id == NULL || json_is_string(req.id) ||
		    json_is_integer(req.id));
		FUZZ_CHECK(req.nfds <= SIGNET_MAX_FDS_QUEUED);
		/* the highest index named, in params or a batch document */
		FUZZ_CHECK(req.nfds == check_documents(req.params));
		check_selector(req.params, "token", false);
		check_selector(req.params, "cert", true);
	}
	rpc_request_clear(&req);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *nl;
	size_t left = size, n;

	/* conn.c hands over every '\n'-terminated line; a last partial line
	 * would wait for more bytes, but parsing it too costs nothing */
	while (left > 0) {
		nl = memchr(p, '\n', left);
		n = nl != NULL ? (size_t)(nl - p) : left;
		one_line(p, n);
		if (nl == NULL)
			break;
		p += n + 1;
		left -= n + 1;
	}
	return 0;
}
