/*
 * token.login with the PIN kept out of jansson: json_string() would copy
 * the PIN into heap memory that json_decref() frees without wiping. The
 * request line is written here, by hand, into locked memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/conn.h"
#include "client/secmem.h"

/* Is p[0..len) well-formed UTF-8 (no overlongs, no surrogates)? The
 * agent's JSON parser refuses anything else. */
static bool
utf8_valid(const unsigned char *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = p[i];
		size_t n, k;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else
			return false;
		if (len - i - 1 < n)
			return false;
		for (k = 1; k <= n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

/* Appends s as a JSON string body (no quotes). At most 6 bytes per input
 * byte; the caller sized dst for that. */
static size_t
json_escape(char *dst, const unsigned char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\') {
			dst[o++] = '\\';
			dst[o++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			dst[o++] = '\\';
			dst[o++] = 'u';
			dst[o++] = '0';
			dst[o++] = '0';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		} else
			dst[o++] = (char)c;
	}
	return o;
}

int
signet_token_login(struct signet_conn *conn, const char *token,
    const char *pin, size_t pin_len, bool allow_final_try, json_t **result,
    struct signet_error *err)
{
	struct secbuf sb = { 0 };
	json_t *jtok = NULL;
	char *tok = NULL, head[128];
	size_t need, o = 0, hlen;
	int64_t id;
	int r;

	if (result != NULL)
		*result = NULL;
	if (conn == NULL || result == NULL || (pin == NULL && pin_len != 0))
		return conn_fail(err, SIGNET_CLIENT_E_LOCAL, 0,
		    SIGNET_CLIENT_R_INVALID_ARG, "invalid argument");
	if (pin != NULL && (pin_len == 0 || pin_len > SIGNET_MAX_PIN_LEN))
		return conn_fail(err, SIGNET_CLIENT_E_LOCAL, 0,
		    SIGNET_R_PIN_LEN_RANGE, "PIN must be 1 to %u bytes",
		    SIGNET_MAX_PIN_LEN);
	if (pin != NULL && !utf8_valid((const unsigned char *)pin, pin_len))
		return conn_fail(err, SIGNET_CLIENT_E_LOCAL, 0,
		    SIGNET_CLIENT_R_INVALID_ARG, "PIN is not valid UTF-8");
	if (token != NULL) {
		if (strlen(token) > SIGNET_MAX_SELECTOR)
			return conn_fail(err, SIGNET_CLIENT_E_LOCAL, 0,
			    SIGNET_CLIENT_R_INVALID_ARG,
			    "token selector longer than %u bytes",
			    SIGNET_MAX_SELECTOR);
		if ((jtok = json_string(token)) == NULL)
			return conn_fail(err, SIGNET_CLIENT_E_LOCAL, 0,
			    SIGNET_CLIENT_R_INVALID_ARG,
			    "token selector is not valid UTF-8");
		if ((tok = json_dumps(jtok, JSON_ENCODE_ANY)) == NULL) {
			r = conn_fail(err, SIGNET_CLIENT_E_LOCAL, 0,
			    SIGNET_CLIENT_R_NOMEM, "out of memory");
			goto out;
		}
	}
	id = conn->next_id++;
	hlen = (size_t)snprintf(head, sizeof(head),
	    "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"method\":\"%s\",\"params\":{"
	    "\"allow_final_try\":%s", (long long)id, SIGNET_M_TOKEN_LOGIN,
	    allow_final_try ? "true" : "false");
	/* head ,"token":TOK ,"pin":"PIN" }}\n and sprintf's NUL */
	need = hlen + (tok ? 9 + strlen(tok) : 0) + 9 + 6 * pin_len + 3 + 1;
	if (secbuf_alloc(&sb, need) != 0) {
		r = conn_fail(err, SIGNET_CLIENT_E_LOCAL, 0,
		    SIGNET_CLIENT_R_NOMEM, "out of memory");
		goto out;
	}
	memcpy(sb.p, head, hlen);
	o = hlen;
	if (tok != NULL)
		o += (size_t)sprintf(sb.p + o, ",\"token\":%s", tok);
	if (pin != NULL) {
		memcpy(sb.p + o, ",\"pin\":\"", 8);
		o += 8;
		o += json_escape(sb.p + o, (const unsigned char *)pin, pin_len);
		sb.p[o++] = '"';
	}
	memcpy(sb.p + o, "}}\n", 3);
	o += 3;
	r = conn_roundtrip(conn, sb.p, o, id, NULL, 0, result, err);
 out:
	secbuf_free(&sb);
	free(tok);
	json_decref(jtok);
	return r;
}
