/*
 * What goes into an audit record (audit.h): helpers that build the
 * event's members the same way everywhere, and the record's journal copy
 * in journald's native protocol (structured fields, docs/audit.md).
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "agent/audit.h"
#include "agent/certinfo.h"

/* A fixed MESSAGE_ID for every Signet audit record (journalctl
 * MESSAGE_ID=...), as journald's catalog convention asks. */
#define AUDIT_MESSAGE_ID "8f0c6d5e2a9b4c71b3e4d6f8a1c2e3b5"
#define AUDIT_MSG_MAX    1024u

json_t *
audit_event_new(const char *type)
{
	return json_pack("{s:s}", "event", type);
}

/* Length of a valid UTF-8 sequence at p (at most n bytes), else 0. */
static size_t
utf8_valid(const unsigned char *p, size_t n)
{
	size_t len, i;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

char *
audit_peer_exe(pid_t pid)
{
	char link[64], path[PATH_MAX], *out, *o;
	ssize_t n;
	size_t i, k;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	if ((n = readlink(link, path, sizeof(path) - 1)) <= 0)
		return NULL;
	if ((out = malloc((size_t)n * 4 + 1)) == NULL)
		return NULL;
	/* A path is bytes; JSON wants UTF-8. Keep it readable and exact. */
	for (i = 0, o = out; i < (size_t)n; i += k) {
		if ((k = utf8_valid((unsigned char *)path + i, (size_t)n - i)) > 0 &&
		    path[i] != '\\') {
			memcpy(o, path + i, k);
			o += k;
		} else {
			o += sprintf(o, "\\x%02x", (unsigned char)path[i]);
			k = 1;
		}
	}
	*o = '\0';
	return out;
}

int
audit_event_client(json_t *ev, const struct ucred *peer, const char *exe)
{
	char *own = NULL;
	json_t *c;
	int err = SIGNET_ERR_NOMEM;

	if (exe == NULL)
		exe = own = audit_peer_exe(peer->pid);
	c = json_pack("{s:I, s:I, s:I}", "uid", (json_int_t)peer->uid,
	    "gid", (json_int_t)peer->gid, "pid", (json_int_t)peer->pid);
	if (c == NULL)
		goto out;
	if (exe != NULL && json_object_set_new(c, "exe", json_string(exe)) != 0) {
		json_decref(c);
		goto out;
	}
	if (json_object_set_new(ev, "client", c) == 0)
		err = 0;
out:
	free(own);
	return err;
}

int
audit_event_cert(json_t *ev, X509 *cert)
{
	json_t *all = json_object(), *c = NULL;
	static const char *const keep[] = { "sha256", "subject", "serial" };
	size_t i;
	int err = SIGNET_ERR_NOMEM;

	if (all == NULL || certinfo_to_json(cert, all) != 0 ||
	    (c = json_object()) == NULL)
		goto out;
	for (i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		json_t *v = json_object_get(all, keep[i]);

		if (v != NULL && json_object_set(c, keep[i], v) != 0)
			goto out;
	}
	if (json_object_set(ev, "cert", c) == 0)
		err = 0;
out:
	json_decref(c);
	json_decref(all);
	return err;
}

static char *
hex(const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	char *s;
	size_t i;

	if (n > SIZE_MAX / 2 - 1 || (s = malloc(2 * n + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		s[2 * i] = digits[p[i] >> 4];
		s[2 * i + 1] = digits[p[i] & 15];
	}
	s[2 * n] = '\0';
	return s;
}

int
audit_event_document(json_t *ev, const char *digest_alg,
    const uint8_t *digest, size_t digest_len, uint64_t size)
{
	json_t *docs = json_object_get(ev, "documents"), *d;
	char *h;
	int err = SIGNET_ERR_NOMEM;

	if (size > (uint64_t)INT64_MAX)
		return SIGNET_ERR_LIMIT;
	if ((h = hex(digest, digest_len)) == NULL)
		return SIGNET_ERR_NOMEM;
	if (docs == NULL) {
		if ((docs = json_array()) == NULL ||
		    json_object_set_new(ev, "documents", docs) != 0)
			goto out;
	}
	d = json_pack("{s:s, s:s, s:I}", "digest_alg", digest_alg, "digest", h,
	    "size", (json_int_t)size);
	if (d != NULL && json_array_append_new(docs, d) == 0)
		err = 0;
out:
	free(h);
	return err;
}

int
audit_event_signature(json_t *ev, const uint8_t *der, size_t len)
{
	uint8_t md[32];
	unsigned n = 0;
	char *h;
	int err;

	if (EVP_Digest(der, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
		return SIGNET_ERR_CRYPTO;
	if ((h = hex(md, n)) == NULL)
		return SIGNET_ERR_NOMEM;
	err = audit_event_str(ev, "signature_sha256", h);
	free(h);
	return err;
}

int
audit_event_str(json_t *ev, const char *key, const char *value)
{
	json_t *s = json_string(value);

	if (s == NULL)
		return value == NULL ? SIGNET_ERR_FORMAT : SIGNET_ERR_NOMEM;
	return json_object_set_new(ev, key, s) == 0 ? 0 : SIGNET_ERR_NOMEM;
}

/* ---- the journal copy ------------------------------------------------- */

int
audit_journal_add(char **buf, size_t *len, const char *field,
    const char *value, size_t vlen)
{
	size_t flen = strlen(field), need, o = *len;
	bool binary = memchr(value, '\n', vlen) != NULL;
	char *p;
	int i;

	/* FIELD=value\n, or for a value with newlines the binary-safe
	 * FIELD\n<64-bit little-endian length><value>\n. */
	need = flen + 1 + (binary ? 8 : 0) + vlen + 1;
	if (need < vlen || *len > SIZE_MAX - need ||
	    (p = realloc(*buf, *len + need)) == NULL)
		return SIGNET_ERR_NOMEM;
	memcpy(p + o, field, flen);
	o += flen;
	if (binary) {
		p[o++] = '\n';
		for (i = 0; i < 8; i++)
			p[o++] = (char)((uint64_t)vlen >> (8 * i));
	} else
		p[o++] = '=';
	memcpy(p + o, value, vlen);
	o += vlen;
	p[o++] = '\n';
	*buf = p;
	*len = o;
	return 0;
}

static int
add_str(char **buf, size_t *len, const char *field, json_t *v)
{
	char num[32];

	if (json_is_string(v))
		return audit_journal_add(buf, len, field, json_string_value(v),
		    json_string_length(v));
	if (json_is_integer(v)) {
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(v));
		return audit_journal_add(buf, len, field, num, strlen(num));
	}
	return 0;
}

/* Appends pre, s, post to the human-readable MESSAGE when s is set. */
static void
msg_add(char *msg, const char *pre, const char *s, const char *post)
{
	size_t o = strlen(msg);

	if (s != NULL && *s != '\0' && o < AUDIT_MSG_MAX)
		snprintf(msg + o, AUDIT_MSG_MAX - o, "%s%s%s", pre, s, post);
}

int
audit_journal_fields(json_t *event, char **out, size_t *len)
{
	json_t *client = json_object_get(event, "client");
	json_t *cert = json_object_get(event, "cert");
	json_t *docs = json_object_get(event, "documents"), *d;
	const char *decision = json_string_value(json_object_get(event,
	    "decision"));
	char msg[AUDIT_MSG_MAX], num[32], *dd, *buf = NULL;
	size_t i, n = 0;
	int err = 0;

	snprintf(msg, sizeof(msg), "audit: %s",
	    json_string_value(json_object_get(event, "event")));
	msg_add(msg, " ", decision, "");
	if (json_is_integer(json_object_get(client, "uid"))) {
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
		    json_integer_value(json_object_get(client, "uid")));
		msg_add(msg, ", uid ", num, "");
	}
	msg_add(msg, " (", json_string_value(json_object_get(client, "exe")),
	    ")");
	msg_add(msg, ", token ", json_string_value(json_object_get(event,
	    "token")), "");
	msg_add(msg, ", cert ", json_string_value(json_object_get(cert,
	    "subject")), "");
	json_array_foreach(docs, i, d)
		msg_add(msg, ", document ", json_string_value(
		    json_object_get(d, "digest")), "");
	msg_add(msg, ", reason ", json_string_value(json_object_get(event,
	    "reason")), "");
	msg_add(msg, ", result ", json_string_value(json_object_get(event,
	    "result")), "");

	err |= audit_journal_add(&buf, &n, "MESSAGE", msg, strlen(msg));
	err |= audit_journal_add(&buf, &n, "MESSAGE_ID", AUDIT_MESSAGE_ID,
	    strlen(AUDIT_MESSAGE_ID));
	/* A refusal is worth a notice; everything else is information. */
	err |= audit_journal_add(&buf, &n, "PRIORITY",
	    decision != NULL && strcmp(decision, "deny") == 0 ? "5" : "6", 1);
	err |= audit_journal_add(&buf, &n, "SYSLOG_IDENTIFIER", "signetd", 7);
	err |= add_str(&buf, &n, "SIGNET_EVENT", json_object_get(event, "event"));
	err |= add_str(&buf, &n, "SIGNET_DECISION",
	    json_object_get(event, "decision"));
	err |= add_str(&buf, &n, "SIGNET_REASON", json_object_get(event, "reason"));
	err |= add_str(&buf, &n, "SIGNET_RESULT", json_object_get(event, "result"));
	err |= add_str(&buf, &n, "SIGNET_TOKEN", json_object_get(event, "token"));
	err |= add_str(&buf, &n, "SIGNET_UID", json_object_get(client, "uid"));
	err |= add_str(&buf, &n, "SIGNET_GID", json_object_get(client, "gid"));
	err |= add_str(&buf, &n, "SIGNET_PID", json_object_get(client, "pid"));
	err |= add_str(&buf, &n, "SIGNET_EXE", json_object_get(client, "exe"));
	err |= add_str(&buf, &n, "SIGNET_CERT_SHA256",
	    json_object_get(cert, "sha256"));
	err |= add_str(&buf, &n, "SIGNET_CERT_SUBJECT",
	    json_object_get(cert, "subject"));
	err |= add_str(&buf, &n, "SIGNET_CERT_SERIAL",
	    json_object_get(cert, "serial"));
	json_array_foreach(docs, i, d) {
		const char *alg = json_string_value(json_object_get(d,
		    "digest_alg"));
		const char *dg = json_string_value(json_object_get(d, "digest"));

		if (alg == NULL || dg == NULL)
			continue;
		if (asprintf(&dd, "%s:%s", alg, dg) < 0) {
			err = SIGNET_ERR_NOMEM;
			break;
		}
		err |= audit_journal_add(&buf, &n, "SIGNET_DOC_DIGEST", dd,
		    strlen(dd));
		free(dd);
	}
	err |= add_str(&buf, &n, "SIGNET_SIGNATURE_SHA256",
	    json_object_get(event, "signature_sha256"));
	if (err != 0) {
		free(buf);
		return SIGNET_ERR_NOMEM;
	}
	*out = buf;
	*len = n;
	return 0;
}
