/*
 * signet-pkcs11-helper against a private SoftHSM2 token.
 *
 * usage: p11helper_test HELPER MKTOKEN_SH MODULE [MKALWAYSAUTH_SH COUNT_MODULE]
 *
 * Makes a token with scripts/mktoken.sh (RSA-2048 id 01, EC P-256 id 02,
 * keys generated on the token, certificates stored beside them), starts the
 * helper on a socketpair and checks every wire.h operation, the error
 * mapping, pipelining, protocol errors (exit 3) and module checks (exit 2).
 * With the last two arguments, also SIGN_AUTH: tests/lib/mkalwaysauth.sh
 * adds an EC P-256 key with CKA_ALWAYS_AUTHENTICATE (id 03), and the
 * helper runs on tests/lib/p11count.c wrapped around the module, which
 * counts every C_Login so a PIN is seen to reach the token at most once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "tests/lib/p11h.h"

#define PIN "1234"
#define TIMEOUT_MS 10000

static const char *helper_path, *module_path;
static char tmpdir[256];
static char serial[64];
static char rsa_cert_path[512], ec_cert_path[512], auth_cert_path[512];
static uint32_t next_id = 1;

struct tok {
	char serial[64], label[64], manuf[64], model[64];
	uint64_t flags;
	uint8_t logged_in;
	uint64_t slot;
};

struct cert {
	uint8_t id[64];
	size_t idlen;
	char label[64];
	uint8_t *der;
	size_t derlen;
	uint8_t key, always;
};

static void
get_text(struct buf *b, char *dst, size_t max)
{
	const uint8_t *p;
	size_t n;

	p = buf_get_str(b, &n, max - 1);
	if (p != NULL)
		memcpy(dst, p, n);
	dst[p != NULL ? n : 0] = '\0';
}

/* Send b, read the answer to it (same id and type); its rv. */
static uint64_t
roundtrip(struct p11h *h, struct buf *b, struct buf *resp)
{
	uint32_t id, want_id;
	uint8_t type, want_type;
	uint64_t rv;

	want_id = (uint32_t)b->data[4] << 24 | (uint32_t)b->data[5] << 16 |
	    (uint32_t)b->data[6] << 8 | b->data[7];
	want_type = b->data[8];
	p11h_send(h, b);
	REQUIRE(p11h_recv(h, resp, TIMEOUT_MS, &id, &type, &rv));
	CHECK(id == want_id);
	CHECK(type == want_type);
	return rv;
}

static uint64_t
list_tokens(struct p11h *h, struct tok *toks, uint32_t max, uint32_t *n)
{
	struct buf b, r;
	uint64_t rv;
	uint32_t i;

	*n = 0;
	p11h_req(&b, next_id++, P11W_LIST_TOKENS);
	if ((rv = roundtrip(h, &b, &r)) == CKR_OK) {
		*n = buf_get_u32(&r);
		REQUIRE(*n <= max);
		for (i = 0; i < *n; i++) {
			get_text(&r, toks[i].serial, sizeof(toks[i].serial));
			get_text(&r, toks[i].label, sizeof(toks[i].label));
			get_text(&r, toks[i].manuf, sizeof(toks[i].manuf));
			get_text(&r, toks[i].model, sizeof(toks[i].model));
			toks[i].flags = buf_get_u64(&r);
			toks[i].logged_in = buf_get_u8(&r);
			toks[i].slot = buf_get_u64(&r);
		}
	}
	CHECK(buf_done(&r));
	buf_free(&r);
	return rv;
}

static struct tok *
find_tok(struct tok *toks, uint32_t n, const char *s)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (strcmp(toks[i].serial, s) == 0)
			return &toks[i];
	return NULL;
}

static uint64_t
list_certs(struct p11h *h, const char *ser, struct cert *certs, uint32_t max,
    uint32_t *n)
{
	const uint8_t *p;
	struct buf b, r;
	uint64_t rv;
	size_t len;
	uint32_t i;

	*n = 0;
	p11h_req(&b, next_id++, P11W_LIST_CERTS);
	buf_put_cstr(&b, ser);
	if ((rv = roundtrip(h, &b, &r)) == CKR_OK) {
		*n = buf_get_u32(&r);
		REQUIRE(*n <= max);
		for (i = 0; i < *n; i++) {
			p = buf_get_str(&r, &certs[i].idlen,
			    sizeof(certs[i].id));
			if (p != NULL)
				memcpy(certs[i].id, p, certs[i].idlen);
			get_text(&r, certs[i].label, sizeof(certs[i].label));
			p = buf_get_str(&r, &len, P11W_MAX_FIELD);
			certs[i].der = malloc(len + 1);
			REQUIRE(certs[i].der != NULL);
			if (p != NULL)
				memcpy(certs[i].der, p, len);
			certs[i].derlen = len;
			certs[i].key = buf_get_u8(&r);
			certs[i].always = buf_get_u8(&r);
		}
	}
	CHECK(buf_done(&r));
	buf_free(&r);
	return rv;
}

static void
free_certs(struct cert *certs, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		free(certs[i].der);
}

static uint64_t
login(struct p11h *h, const char *ser, uint8_t has_pin, const char *pin,
    uint64_t *flags)
{
	struct buf b, r;
	uint64_t rv;

	p11h_req(&b, next_id++, P11W_LOGIN);
	buf_put_cstr(&b, ser);
	buf_put_u8(&b, has_pin);
	buf_put_cstr(&b, pin);
	rv = roundtrip(h, &b, &r);
	/* flags come back on success and on error */
	*flags = buf_get_u64(&r);
	CHECK(buf_done(&r));
	buf_free(&r);
	return rv;
}

static uint64_t
simple(struct p11h *h, uint8_t type, const char *ser)
{
	struct buf b, r;
	uint64_t rv;

	p11h_req(&b, next_id++, type);
	buf_put_cstr(&b, ser);
	rv = roundtrip(h, &b, &r);
	CHECK(buf_done(&r));
	buf_free(&r);
	return rv;
}

static uint64_t
sign(struct p11h *h, const char *ser, const void *id, size_t idlen,
    uint64_t mech, const void *data, size_t len, uint8_t *sig,
    size_t *siglen)
{
	const uint8_t *p;
	struct buf b, r;
	uint64_t rv;
	size_t n;

	*siglen = 0;
	p11h_req(&b, next_id++, P11W_SIGN);
	buf_put_cstr(&b, ser);
	buf_put_str(&b, id, idlen);
	buf_put_u64(&b, mech);
	buf_put_str(&b, data, len);
	if ((rv = roundtrip(h, &b, &r)) == CKR_OK) {
		p = buf_get_str(&r, &n, 1024);
		if (p != NULL) {
			memcpy(sig, p, n);
			*siglen = n;
		}
	}
	CHECK(buf_done(&r));
	buf_free(&r);
	return rv;
}

/* SIGN_AUTH: the rv, the flags that always come back, the signature. */
static uint64_t
sign_auth(struct p11h *h, const char *ser, const void *id, size_t idlen,
    uint64_t mech, const void *data, size_t len, const char *pin,
    uint64_t *flags, uint8_t *sig, size_t *siglen)
{
	const uint8_t *p;
	struct buf b, r;
	uint64_t rv;
	size_t n;

	*siglen = 0;
	p11h_req(&b, next_id++, P11W_SIGN_AUTH);
	b.secret = true;
	buf_put_cstr(&b, ser);
	buf_put_str(&b, id, idlen);
	buf_put_u64(&b, mech);
	buf_put_str(&b, data, len);
	buf_put_cstr(&b, pin);
	rv = roundtrip(h, &b, &r);
	*flags = buf_get_u64(&r);
	if (rv == CKR_OK) {
		p = buf_get_str(&r, &n, 1024);
		if (p != NULL) {
			memcpy(sig, p, n);
			*siglen = n;
		}
	}
	CHECK(buf_done(&r));
	buf_free(&r);
	return rv;
}

static X509 *
read_cert(const char *path)
{
	X509 *x;
	FILE *f;

	REQUIRE((f = fopen(path, "r")) != NULL);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	REQUIRE(x != NULL);
	return x;
}

static bool
der_equals_file(const struct cert *c, const char *path)
{
	unsigned char *der = NULL;
	X509 *x = read_cert(path);
	int n = i2d_X509(x, &der);
	bool eq;

	eq = n > 0 && (size_t)n == c->derlen && memcmp(der, c->der, c->derlen) == 0;
	OPENSSL_free(der);
	X509_free(x);
	return eq;
}

static const uint8_t sha256_prefix[] = {
	0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
	0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
};

static void
sha256(const void *p, size_t n, uint8_t out[32])
{
	unsigned int len = 32;

	REQUIRE(EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1);
}

/* RSA PKCS#1 v1.5 over SHA-256, checked by OpenSSL against the cert. */
static bool
rsa_verifies(const char *certpath, const uint8_t hash[32], const uint8_t *sig,
    size_t siglen)
{
	X509 *x = read_cert(certpath);
	EVP_PKEY_CTX *ctx;
	int ok;

	REQUIRE((ctx = EVP_PKEY_CTX_new(X509_get0_pubkey(x), NULL)) != NULL);
	REQUIRE(EVP_PKEY_verify_init(ctx) == 1);
	REQUIRE(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1);
	REQUIRE(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1);
	ok = EVP_PKEY_verify(ctx, sig, siglen, hash, 32);
	EVP_PKEY_CTX_free(ctx);
	X509_free(x);
	return ok == 1;
}

/* PKCS#11 ECDSA output is r||s; OpenSSL wants a DER ECDSA-Sig-Value. */
static bool
ec_verifies(const char *certpath, const uint8_t hash[32], const uint8_t *sig,
    size_t siglen)
{
	X509 *x = read_cert(certpath);
	unsigned char *der = NULL;
	EVP_PKEY_CTX *ctx;
	ECDSA_SIG *es;
	BIGNUM *r, *s;
	int n, ok;

	if (siglen != 64) {
		X509_free(x);
		return false;
	}
	r = BN_bin2bn(sig, 32, NULL);
	s = BN_bin2bn(sig + 32, 32, NULL);
	REQUIRE(r != NULL && s != NULL && (es = ECDSA_SIG_new()) != NULL);
	REQUIRE(ECDSA_SIG_set0(es, r, s) == 1);
	REQUIRE((n = i2d_ECDSA_SIG(es, &der)) > 0);
	REQUIRE((ctx = EVP_PKEY_CTX_new(X509_get0_pubkey(x), NULL)) != NULL);
	REQUIRE(EVP_PKEY_verify_init(ctx) == 1);
	ok = EVP_PKEY_verify(ctx, der, (size_t)n, hash, 32);
	EVP_PKEY_CTX_free(ctx);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	X509_free(x);
	return ok == 1;
}

static void
errpath(char *dst, size_t n, const char *name)
{
	snprintf(dst, n, "%s/%s.err", tmpdir, name);
}

static void
start(struct p11h *h, const char *module, const char *name, bool fd3)
{
	char ep[512];

	errpath(ep, sizeof(ep), name);
	p11h_start(h, helper_path, module, ep, fd3);
}

/* The main conversation with one helper. */
static void
test_session(void)
{
	struct tok toks[16], *t;
	struct cert certs[8];
	uint8_t hash[32], data[64], sig[1024];
	const char *msg = "a document";
	struct p11h h;
	uint64_t rv, flags, flags2;
	uint32_t n, i;
	size_t siglen;

	start(&h, module_path, "session", true);

	/* LIST_TOKENS: our token by serial, with its flags. */
	CHECK_RV(list_tokens(&h, toks, 16, &n), CKR_OK);
	REQUIRE((t = find_tok(toks, n, serial)) != NULL);
	CHECK(strcmp(t->label, "signet-demo") == 0);
	CHECK(strcmp(t->manuf, "SoftHSM project") == 0);
	CHECK(strcmp(t->model, "SoftHSM v2") == 0);
	CHECK((t->flags & (CKF_TOKEN_INITIALIZED | CKF_LOGIN_REQUIRED |
	    CKF_USER_PIN_INITIALIZED)) == (CKF_TOKEN_INITIALIZED |
	    CKF_LOGIN_REQUIRED | CKF_USER_PIN_INITIALIZED));
	CHECK(t->logged_in == 0);

	/* MECHANISMS: what the agent's signers need. */
	{
		struct buf b, r;
		bool have_rsa = false, have_ecdsa = false;
		uint64_t m;

		p11h_req(&b, next_id++, P11W_MECHANISMS);
		buf_put_cstr(&b, serial);
		CHECK_RV(roundtrip(&h, &b, &r), CKR_OK);
		n = buf_get_u32(&r);
		CHECK(n > 2 && n < 1000);
		for (i = 0; i < n && !r.failed; i++) {
			m = buf_get_u64(&r);
			have_rsa |= m == CKM_RSA_PKCS;
			have_ecdsa |= m == CKM_ECDSA;
		}
		CHECK(buf_done(&r));
		CHECK(have_rsa && have_ecdsa);
		buf_free(&r);
	}

	/* Before login: certificates with their public keys only. */
	CHECK_RV(list_certs(&h, serial, certs, 8, &n), CKR_OK);
	CHECK(n == 2);
	for (i = 0; i < n; i++) {
		CHECK(certs[i].idlen == 1);
		CHECK(certs[i].key == 1);
		CHECK(certs[i].always == 0);
	}
	free_certs(certs, n);

	/* SIGN before login: the private key is not visible yet. */
	sha256(msg, strlen(msg), hash);
	CHECK_RV(sign(&h, serial, "\x02", 1, CKM_ECDSA, hash, 32, sig,
	    &siglen), CKR_USER_NOT_LOGGED_IN);

	/* Wrong PIN: exact rv, and the flags after the attempt. */
	CHECK_RV(login(&h, serial, 1, "0000", &flags), CKR_PIN_INCORRECT);
	CHECK((flags & CKF_TOKEN_INITIALIZED) != 0);
	CHECK_RV(list_tokens(&h, toks, 16, &n), CKR_OK);
	REQUIRE((t = find_tok(toks, n, serial)) != NULL);
	CHECK(t->flags == flags);
	CHECK(t->logged_in == 0);

	/* Malformed PIN arguments never reach the token. */
	CHECK_RV(login(&h, serial, 0, "1234", &flags), CKR_ARGUMENTS_BAD);
	CHECK((flags & CKF_TOKEN_INITIALIZED) != 0);
	CHECK_RV(login(&h, serial, 2, "1234", &flags), CKR_ARGUMENTS_BAD);
	{
		char longpin[300];

		memset(longpin, '7', sizeof(longpin) - 1);
		longpin[sizeof(longpin) - 1] = '\0';
		CHECK_RV(login(&h, serial, 1, longpin, &flags),
		    CKR_PIN_LEN_RANGE);
	}

	/* The right PIN; a second login is not an error. */
	CHECK_RV(login(&h, serial, 1, PIN, &flags), CKR_OK);
	CHECK((flags & CKF_TOKEN_INITIALIZED) != 0);
	CHECK_RV(login(&h, serial, 1, PIN, &flags2), CKR_OK);
	CHECK_RV(list_tokens(&h, toks, 16, &n), CKR_OK);
	REQUIRE((t = find_tok(toks, n, serial)) != NULL);
	CHECK(t->logged_in == 1);

	/* After login: private keys seen, DER as issued. */
	CHECK_RV(list_certs(&h, serial, certs, 8, &n), CKR_OK);
	CHECK(n == 2);
	for (i = 0; i < n; i++) {
		CHECK(certs[i].key == 2);
		CHECK(certs[i].always == 0);
		if (certs[i].idlen == 1 && certs[i].id[0] == 1) {
			CHECK(strcmp(certs[i].label, "rsa") == 0);
			CHECK(der_equals_file(&certs[i], rsa_cert_path));
		} else if (certs[i].idlen == 1 && certs[i].id[0] == 2) {
			CHECK(strcmp(certs[i].label, "ec") == 0);
			CHECK(der_equals_file(&certs[i], ec_cert_path));
		} else
			CHECK(!"unexpected CKA_ID");
	}
	free_certs(certs, n);

	/* RSA PKCS#1 v1.5 over a SHA-256 DigestInfo. */
	memcpy(data, sha256_prefix, sizeof(sha256_prefix));
	memcpy(data + sizeof(sha256_prefix), hash, 32);
	CHECK_RV(sign(&h, serial, "\x01", 1, CKM_RSA_PKCS, data,
	    sizeof(sha256_prefix) + 32, sig, &siglen), CKR_OK);
	CHECK(siglen == 256);
	CHECK(rsa_verifies(rsa_cert_path, hash, sig, siglen));
	sig[10] ^= 1; /* and the check can fail */
	CHECK(!rsa_verifies(rsa_cert_path, hash, sig, siglen));

	/* ECDSA over the hash: r||s. */
	CHECK_RV(sign(&h, serial, "\x02", 1, CKM_ECDSA, hash, 32, sig,
	    &siglen), CKR_OK);
	CHECK(siglen == 64);
	CHECK(ec_verifies(ec_cert_path, hash, sig, siglen));
	CHECK(!ec_verifies(rsa_cert_path, hash, sig, siglen) ||
	    siglen != 64);
	hash[0] ^= 1;
	CHECK(!ec_verifies(ec_cert_path, hash, sig, siglen));
	hash[0] ^= 1;

	/* No such key. */
	CHECK_RV(sign(&h, serial, "\x09", 1, CKM_ECDSA, hash, 32, sig,
	    &siglen), CKR_KEY_HANDLE_INVALID);
	/* A mechanism the key cannot do: SoftHSM accepts C_SignInit, sizes
	 * the signature 0 and fails C_Sign. The login must survive that. */
	rv = sign(&h, serial, "\x02", 1, CKM_RSA_PKCS, data, 51, sig,
	    &siglen);
	CHECK(rv != CKR_OK);
	CHECK_RV(sign(&h, serial, "\x02", 1, CKM_ECDSA, hash, 32, sig,
	    &siglen), CKR_OK);
	CHECK(ec_verifies(ec_cert_path, hash, sig, siglen));

	/* Pipelining: three requests out before any answer is read. */
	{
		struct buf b, r;
		uint32_t ids[3], id;
		uint8_t type;
		bool seen[3] = { false, false, false };
		int k;

		ids[0] = next_id++;
		p11h_req(&b, ids[0], P11W_SIGN);
		buf_put_cstr(&b, serial);
		buf_put_str(&b, "\x02", 1);
		buf_put_u64(&b, CKM_ECDSA);
		buf_put_str(&b, hash, 32);
		p11h_send(&h, &b);
		ids[1] = next_id++;
		p11h_req(&b, ids[1], P11W_LIST_TOKENS);
		p11h_send(&h, &b);
		ids[2] = next_id++;
		p11h_req(&b, ids[2], P11W_MECHANISMS);
		buf_put_cstr(&b, serial);
		p11h_send(&h, &b);
		for (i = 0; i < 3; i++) {
			REQUIRE(p11h_recv(&h, &r, TIMEOUT_MS, &id, &type, &rv));
			CHECK_RV(rv, CKR_OK);
			for (k = 0; k < 3; k++)
				if (id == ids[k]) {
					CHECK(!seen[k]);
					seen[k] = true;
				}
			if (id == ids[0]) {
				const uint8_t *p;
				size_t sl;

				CHECK(type == P11W_SIGN);
				p = buf_get_str(&r, &sl, 1024);
				CHECK(p != NULL && sl == 64);
				if (p != NULL && sl == 64)
					CHECK(ec_verifies(ec_cert_path, hash,
					    p, sl));
			}
			buf_free(&r);
		}
		CHECK(seen[0] && seen[1] && seen[2]);
	}

	/* Serials that name no token. */
	CHECK_RV(simple(&h, P11W_LIST_CERTS, "no-such-serial"),
	    CKR_TOKEN_NOT_PRESENT);
	CHECK_RV(simple(&h, P11W_MECHANISMS, "0123456789abcdef"),
	    CKR_TOKEN_NOT_PRESENT);
	CHECK_RV(simple(&h, P11W_LOGOUT, "a serial far too long to be one"),
	    CKR_TOKEN_NOT_PRESENT);
	CHECK_RV(simple(&h, P11W_LIST_CERTS, ""), CKR_TOKEN_NOT_PRESENT);
	CHECK_RV(login(&h, "no-such-serial", 1, PIN, &flags),
	    CKR_TOKEN_NOT_PRESENT);
	CHECK(flags == 0);
	CHECK_RV(sign(&h, "no-such-serial", "\x01", 1, CKM_RSA_PKCS, data, 51,
	    sig, &siglen), CKR_TOKEN_NOT_PRESENT);

	/* An unknown type is answered, and the helper carries on. */
	{
		struct buf b, r;

		p11h_req(&b, next_id++, 99);
		buf_put_cstr(&b, "whatever follows");
		CHECK_RV(roundtrip(&h, &b, &r), CKR_FUNCTION_NOT_SUPPORTED);
		CHECK(buf_done(&r));
		buf_free(&r);
	}

	/* LOGOUT, twice; then signing needs a login again. */
	CHECK_RV(simple(&h, P11W_LOGOUT, serial), CKR_OK);
	CHECK_RV(simple(&h, P11W_LOGOUT, serial), CKR_OK);
	CHECK_RV(list_tokens(&h, toks, 16, &n), CKR_OK);
	REQUIRE((t = find_tok(toks, n, serial)) != NULL);
	CHECK(t->logged_in == 0);
	CHECK_RV(sign(&h, serial, "\x01", 1, CKM_RSA_PKCS, data, 51, sig,
	    &siglen), CKR_USER_NOT_LOGGED_IN);

	/* EOF on fd 3: a clean exit. */
	shutdown(h.fd, SHUT_WR);
	CHECK(p11h_wait(&h, TIMEOUT_MS) == 0);
}

/* Request b framed (length filled in) and appended to out; frees b. */
static uint32_t
frame_into(struct buf *out, struct buf *b)
{
	size_t body = b->len - 4;
	uint32_t id;

	REQUIRE(!b->failed);
	b->data[0] = (uint8_t)(body >> 24);
	b->data[1] = (uint8_t)(body >> 16);
	b->data[2] = (uint8_t)(body >> 8);
	b->data[3] = (uint8_t)body;
	id = (uint32_t)b->data[4] << 24 | (uint32_t)b->data[5] << 16 |
	    (uint32_t)b->data[6] << 8 | b->data[7];
	buf_put(out, b->data, b->len);
	buf_free(b);
	return id;
}

/* A SIGN whose body is exactly body_len bytes (>= 46), for a serial. */
static uint32_t
frame_sign(struct buf *out, const char *ser, size_t body_len)
{
	uint8_t *data;
	struct buf b;
	size_t n = body_len - (4 + 1 + 4 + strlen(ser) + 4 + 1 + 8 + 4);

	REQUIRE((data = calloc(1, n + 1)) != NULL);
	p11h_req(&b, next_id++, P11W_SIGN);
	buf_put_cstr(&b, ser);
	buf_put_str(&b, "\x02", 1);
	buf_put_u64(&b, CKM_ECDSA);
	buf_put_str(&b, data, n);
	free(data);
	REQUIRE(b.len == 4 + body_len);
	return frame_into(out, &b);
}

/*
 * Framing as the reader sees it: many frames in one write (the reader
 * reads ahead into its locked buffer), a frame over the locked size
 * followed by a LOGIN in the same write, bodies of exactly 4096 bytes
 * (the largest kept in locked memory) and 4097, and a frame that trickles
 * in a byte at a time.
 */
static void
test_framing(void)
{
	/* HELPER_LOCKED_MSG in pkcs11/helper.h */
	const size_t locked = 4096;
	const char *msg = "framing";
	uint8_t hash[32];
	uint32_t ids[7], id;
	uint64_t rv, want[7];
	bool seen[7] = { false };
	struct buf all, b, r;
	struct p11h h;
	uint8_t type;
	const uint8_t *p;
	size_t n, k;
	int i, j;

	sha256(msg, strlen(msg), hash);
	start(&h, module_path, "framing", true);
	buf_init(&all, 64 * 1024);
	ids[0] = frame_sign(&all, "no-such-serial", 6000);
	want[0] = CKR_TOKEN_NOT_PRESENT;
	p11h_req(&b, next_id++, P11W_LOGIN);
	buf_put_cstr(&b, serial);
	buf_put_u8(&b, 1);
	buf_put_cstr(&b, PIN);
	ids[1] = frame_into(&all, &b);
	want[1] = CKR_OK;
	p11h_req(&b, next_id++, P11W_LIST_TOKENS);
	ids[2] = frame_into(&all, &b);
	want[2] = CKR_OK;
	p11h_req(&b, next_id++, P11W_SIGN);
	buf_put_cstr(&b, serial);
	buf_put_str(&b, "\x02", 1);
	buf_put_u64(&b, CKM_ECDSA);
	buf_put_str(&b, hash, 32);
	ids[3] = frame_into(&all, &b);
	want[3] = CKR_OK;
	ids[4] = frame_sign(&all, "no-such-serial", locked);
	want[4] = CKR_TOKEN_NOT_PRESENT;
	ids[5] = frame_sign(&all, "no-such-serial", locked + 1);
	want[5] = CKR_TOKEN_NOT_PRESENT;
	p11h_req(&b, next_id++, P11W_MECHANISMS);
	buf_put_cstr(&b, serial);
	ids[6] = frame_into(&all, &b);
	want[6] = CKR_OK;
	REQUIRE(!all.failed);
	p11h_send_raw(&h, all.data, all.len);
	buf_free(&all);
	for (i = 0; i < 7; i++) {
		REQUIRE(p11h_recv(&h, &r, TIMEOUT_MS, &id, &type, &rv));
		for (j = 0; j < 7 && ids[j] != id; j++)
			;
		REQUIRE(j < 7);
		CHECK(!seen[j]);
		seen[j] = true;
		CHECK_RV(rv, want[j]);
		if (j == 3 && rv == CKR_OK) {
			p = buf_get_str(&r, &n, 1024);
			CHECK(p != NULL && ec_verifies(ec_cert_path, hash, p,
			    n));
		}
		buf_free(&r);
	}

	/* One byte at a time, header and body. */
	buf_init(&all, 1024);
	p11h_req(&b, next_id++, P11W_SIGN);
	buf_put_cstr(&b, serial);
	buf_put_str(&b, "\x02", 1);
	buf_put_u64(&b, CKM_ECDSA);
	buf_put_str(&b, hash, 32);
	ids[0] = frame_into(&all, &b);
	for (k = 0; k < all.len; k++) {
		p11h_send_raw(&h, all.data + k, 1);
		usleep(2000);
	}
	buf_free(&all);
	REQUIRE(p11h_recv(&h, &r, TIMEOUT_MS, &id, &type, &rv));
	CHECK(id == ids[0]);
	CHECK_RV(rv, CKR_OK);
	p = buf_get_str(&r, &n, 1024);
	CHECK(p != NULL && ec_verifies(ec_cert_path, hash, p, n));
	buf_free(&r);

	shutdown(h.fd, SHUT_WR);
	CHECK(p11h_wait(&h, TIMEOUT_MS) == 0);
}

/* C_Login calls p11count.c saw for this user type since the log was
 * emptied; the last one's rv in *last. */
static int
count_logins(const char *log, CK_USER_TYPE type, unsigned long *last)
{
	char line[128];
	unsigned long t, rv;
	int n = 0;
	FILE *f;

	if ((f = fopen(log, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "login %lu 0x%lx", &t, &rv) == 2 &&
		    t == type) {
			n++;
			if (last != NULL)
				*last = rv;
		}
	fclose(f);
	return n;
}

static void
write_file(const char *path, const char *text)
{
	FILE *f;

	REQUIRE((f = fopen(path, "w")) != NULL);
	fputs(text, f);
	fclose(f);
}

/*
 * SIGN_AUTH against a key with CKA_ALWAYS_AUTHENTICATE (id 03) on
 * SoftHSM2, through p11count.c so every PIN that reaches the token is
 * counted. What SoftHSM2 2.6.1 (Debian 12) does, as checked here: the key
 * is listed with always_authenticate = 1; a plain SIGN after a normal
 * login fails with CKR_USER_NOT_LOGGED_IN (C_SignInit succeeds, C_Sign
 * refuses without the context-specific login); a context-specific login
 * on a key without the attribute is CKR_OPERATION_NOT_INITIALIZED.
 */
static void
test_always_auth(const char *count_module)
{
	struct tok toks[16], *t;
	struct cert certs[8];
	uint8_t hash[32], sig[1024];
	const char *msg = "a document that needs its own PIN";
	char log[512], ctl[512], longpin[300];
	struct p11h h;
	uint64_t flags;
	unsigned long last;
	uint32_t n, i;
	size_t siglen;
	bool seen = false;

	snprintf(log, sizeof(log), "%s/count.log", tmpdir);
	snprintf(ctl, sizeof(ctl), "%s/count.ctl", tmpdir);
	write_file(log, "");
	write_file(ctl, "");
	REQUIRE(setenv("P11COUNT_MODULE", module_path, 1) == 0);
	REQUIRE(setenv("P11COUNT_LOG", log, 1) == 0);
	REQUIRE(setenv("P11COUNT_CTL", ctl, 1) == 0);
	start(&h, count_module, "always_auth", true);
	sha256(msg, strlen(msg), hash);

	/* Not logged in: the key is not found, the PIN is not used. */
	CHECK_RV(sign_auth(&h, serial, "\x03", 1, CKM_ECDSA, hash, 32, PIN,
	    &flags, sig, &siglen), CKR_USER_NOT_LOGGED_IN);
	CHECK((flags & CKF_TOKEN_INITIALIZED) != 0);
	CHECK(count_logins(log, CKU_CONTEXT_SPECIFIC, NULL) == 0);

	CHECK_RV(login(&h, serial, 1, PIN, &flags), CKR_OK);
	CHECK(count_logins(log, CKU_USER, &last) == 1 && last == CKR_OK);

	/* LIST_CERTS tells which key needs it. */
	CHECK_RV(list_certs(&h, serial, certs, 8, &n), CKR_OK);
	CHECK(n == 3);
	for (i = 0; i < n; i++) {
		CHECK(certs[i].key == 2);
		if (certs[i].idlen == 1 && certs[i].id[0] == 3) {
			seen = true;
			CHECK(certs[i].always == 1);
			CHECK(strcmp(certs[i].label, "auth") == 0);
			CHECK(der_equals_file(&certs[i], auth_cert_path));
		} else
			CHECK(certs[i].always == 0);
	}
	CHECK(seen);
	free_certs(certs, n);

	/* A plain SIGN is refused after the normal login... */
	CHECK_RV(sign(&h, serial, "\x03", 1, CKM_ECDSA, hash, 32, sig,
	    &siglen), CKR_USER_NOT_LOGGED_IN);
	/* ...and SIGN_AUTH with the PIN signs, with one login. */
	CHECK_RV(sign_auth(&h, serial, "\x03", 1, CKM_ECDSA, hash, 32, PIN,
	    &flags, sig, &siglen), CKR_OK);
	CHECK((flags & CKF_TOKEN_INITIALIZED) != 0);
	CHECK((flags & CKF_USER_PIN_COUNT_LOW) == 0);
	CHECK(siglen == 64);
	CHECK(ec_verifies(auth_cert_path, hash, sig, siglen));
	CHECK(!ec_verifies(ec_cert_path, hash, sig, siglen));
	CHECK(count_logins(log, CKU_CONTEXT_SPECIFIC, &last) == 1 &&
	    last == CKR_OK);

	/* A wrong PIN: CKR_PIN_INCORRECT once, with the flags after it,
	 * and no second try. SoftHSM2 flags COUNT_LOW after a failure. */
	CHECK_RV(sign_auth(&h, serial, "\x03", 1, CKM_ECDSA, hash, 32, "0000",
	    &flags, sig, &siglen), CKR_PIN_INCORRECT);
	CHECK(siglen == 0);
	CHECK((flags & CKF_TOKEN_INITIALIZED) != 0);
	CHECK((flags & CKF_USER_PIN_COUNT_LOW) != 0);
	CHECK(count_logins(log, CKU_CONTEXT_SPECIFIC, &last) == 2 &&
	    last == CKR_PIN_INCORRECT);
	/* The user's login survived, the failed operation did not linger. */
	CHECK_RV(list_tokens(&h, toks, 16, &n), CKR_OK);
	REQUIRE((t = find_tok(toks, n, serial)) != NULL);
	CHECK(t->logged_in == 1);
	CHECK(t->flags == flags);
	CHECK_RV(sign_auth(&h, serial, "\x03", 1, CKM_ECDSA, hash, 32, PIN,
	    &flags, sig, &siglen), CKR_OK);
	CHECK(ec_verifies(auth_cert_path, hash, sig, siglen));
	CHECK((flags & CKF_USER_PIN_COUNT_LOW) == 0);
	CHECK(count_logins(log, CKU_CONTEXT_SPECIFIC, NULL) == 3);

	/* A key without the attribute: the module refuses the login. */
	CHECK_RV(sign_auth(&h, serial, "\x02", 1, CKM_ECDSA, hash, 32, PIN,
	    &flags, sig, &siglen), CKR_OPERATION_NOT_INITIALIZED);
	CHECK((flags & CKF_TOKEN_INITIALIZED) != 0);
	CHECK(count_logins(log, CKU_CONTEXT_SPECIFIC, NULL) == 4);
	CHECK_RV(sign(&h, serial, "\x02", 1, CKM_ECDSA, hash, 32, sig,
	    &siglen), CKR_OK);
	CHECK(ec_verifies(ec_cert_path, hash, sig, siglen));

	/* Refused before the PIN is used: no login reaches the token. */
	memset(longpin, '7', sizeof(longpin) - 1);
	longpin[sizeof(longpin) - 1] = '\0';
	CHECK_RV(sign_auth(&h, serial, "\x03", 1, CKM_ECDSA, hash, 32,
	    longpin, &flags, sig, &siglen), CKR_PIN_LEN_RANGE);
	CHECK((flags & CKF_TOKEN_INITIALIZED) != 0);
	CHECK_RV(sign_auth(&h, serial, "\x09", 1, CKM_ECDSA, hash, 32, PIN,
	    &flags, sig, &siglen), CKR_KEY_HANDLE_INVALID);
	CHECK_RV(sign_auth(&h, serial, "\x03", 1, 0x80000000ul | 0x1234,
	    hash, 32, PIN, &flags, sig, &siglen), CKR_MECHANISM_INVALID);
	CHECK_RV(sign_auth(&h, "no-such-serial", "\x03", 1, CKM_ECDSA, hash,
	    32, PIN, &flags, sig, &siglen), CKR_TOKEN_NOT_PRESENT);
	CHECK(flags == 0);
	CHECK(count_logins(log, CKU_CONTEXT_SPECIFIC, NULL) == 4);

	/* An rv after which other requests are retried on a fresh session
	 * (the module passed the PIN on, then answered "session invalid"):
	 * answered as it is, the PIN not sent again. */
	write_file(ctl, "stale\n");
	CHECK_RV(sign_auth(&h, serial, "\x03", 1, CKM_ECDSA, hash, 32, PIN,
	    &flags, sig, &siglen), CKR_SESSION_HANDLE_INVALID);
	CHECK((flags & CKF_TOKEN_INITIALIZED) != 0);
	CHECK(count_logins(log, CKU_CONTEXT_SPECIFIC, NULL) == 5);
	write_file(ctl, "");
	/* Its session is gone, and with it the login. */
	CHECK_RV(sign_auth(&h, serial, "\x03", 1, CKM_ECDSA, hash, 32, PIN,
	    &flags, sig, &siglen), CKR_USER_NOT_LOGGED_IN);
	CHECK(count_logins(log, CKU_CONTEXT_SPECIFIC, NULL) == 5);
	CHECK(count_logins(log, CKU_USER, NULL) == 1);

	shutdown(h.fd, SHUT_WR);
	CHECK(p11h_wait(&h, TIMEOUT_MS) == 0);
	unsetenv("P11COUNT_MODULE");
	unsetenv("P11COUNT_LOG");
	unsetenv("P11COUNT_CTL");
}

/* Lines of p11count.c's log that are exactly line. */
static int
count_lines(const char *log, const char *want)
{
	char line[128];
	int n = 0;
	FILE *f;

	if ((f = fopen(log, "r")) == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		n += strcmp(line, want) == 0;
	}
	fclose(f);
	return n;
}

/* p11count.c logs "find 3" for a search of private keys (CKO_PRIVATE_KEY). */
#define FIND_KEY "find 3"

/* EC (id 02) over hash, or RSA (id 01) over data; checked either way. */
static void
sign_ok(struct p11h *h, bool ec, const uint8_t hash[32],
    const uint8_t *data, size_t len)
{
	uint8_t sig[1024];
	size_t siglen;

	if (ec) {
		CHECK_RV(sign(h, serial, "\x02", 1, CKM_ECDSA, hash, 32, sig,
		    &siglen), CKR_OK);
		CHECK(ec_verifies(ec_cert_path, hash, sig, siglen));
	} else {
		CHECK_RV(sign(h, serial, "\x01", 1, CKM_RSA_PKCS, data, len,
		    sig, &siglen), CKR_OK);
		CHECK(rsa_verifies(rsa_cert_path, hash, sig, siglen));
	}
}

/*
 * The helper's key handle cache, through p11count.c on SoftHSM2 (whose
 * file store reads every object file again on each search): a key is
 * searched for once per session, not once per signature; a handle the
 * module refuses is searched for again once and the signature still made;
 * LOGOUT, LOGIN and a new session each start over; keys that are not there
 * are never cached.
 */
static void
test_key_cache(const char *count_module)
{
	const char *msg = "a document signed many times";
	uint8_t hash[32], data[64], sig[1024];
	char log[512], ctl[512];
	struct p11h h;
	uint64_t flags;
	size_t siglen, dlen = sizeof(sha256_prefix) + 32;
	int i;

	snprintf(log, sizeof(log), "%s/cache.log", tmpdir);
	snprintf(ctl, sizeof(ctl), "%s/cache.ctl", tmpdir);
	write_file(log, "");
	write_file(ctl, "");
	REQUIRE(setenv("P11COUNT_MODULE", module_path, 1) == 0);
	REQUIRE(setenv("P11COUNT_LOG", log, 1) == 0);
	REQUIRE(setenv("P11COUNT_CTL", ctl, 1) == 0);
	start(&h, count_module, "key_cache", true);
	sha256(msg, strlen(msg), hash);
	memcpy(data, sha256_prefix, sizeof(sha256_prefix));
	memcpy(data + sizeof(sha256_prefix), hash, 32);
	CHECK_RV(login(&h, serial, 1, PIN, &flags), CKR_OK);
	CHECK(count_lines(log, "open 0x0") == 1);

	/* One search per key, however many signatures. */
	write_file(log, "");
	for (i = 0; i < 5; i++)
		sign_ok(&h, true, hash, data, dlen);
	CHECK(count_lines(log, FIND_KEY) == 1);
	for (i = 0; i < 3; i++)
		sign_ok(&h, false, hash, data, dlen);
	CHECK(count_lines(log, FIND_KEY) == 2);
	for (i = 0; i < 4; i++)
		sign_ok(&h, i % 2 == 0, hash, data, dlen);
	CHECK(count_lines(log, FIND_KEY) == 2);
	CHECK(count_lines(log, "signinit 0x0") == 12);
	CHECK(count_lines(log, "open 0x0") == 0);

	/* C_SignInit refuses the cached handle: searched for again, once,
	 * and the signature is made; the new handle is cached. */
	write_file(ctl, "keyinvalid 1\n");
	sign_ok(&h, true, hash, data, dlen);
	CHECK(count_lines(log, "signinit 0x60") == 1);
	CHECK(count_lines(log, FIND_KEY) == 3);
	sign_ok(&h, true, hash, data, dlen);
	CHECK(count_lines(log, FIND_KEY) == 3);
	write_file(ctl, "objinvalid 1\n");
	sign_ok(&h, false, hash, data, dlen);
	CHECK(count_lines(log, "signinit 0x82") == 1);
	CHECK(count_lines(log, FIND_KEY) == 4);
	sign_ok(&h, false, hash, data, dlen);
	CHECK(count_lines(log, FIND_KEY) == 4);
	/* Refused on the search that follows too: that answer stands (one
	 * more try only). */
	write_file(ctl, "keyinvalid 2\nobjinvalid 2\n");
	CHECK_RV(sign(&h, serial, "\x02", 1, CKM_ECDSA, hash, 32, sig,
	    &siglen), CKR_OBJECT_HANDLE_INVALID);
	CHECK(count_lines(log, FIND_KEY) == 5);
	sign_ok(&h, true, hash, data, dlen);
	CHECK(count_lines(log, FIND_KEY) == 6);

	/* A key that is not there is searched for every time. */
	for (i = 0; i < 2; i++)
		CHECK_RV(sign(&h, serial, "\x09", 1, CKM_ECDSA, hash, 32, sig,
		    &siglen), CKR_KEY_HANDLE_INVALID);
	CHECK(count_lines(log, FIND_KEY) == 8);

	/* LOGOUT empties the cache: the key is out of sight again. */
	CHECK_RV(simple(&h, P11W_LOGOUT, serial), CKR_OK);
	CHECK_RV(sign(&h, serial, "\x02", 1, CKM_ECDSA, hash, 32, sig,
	    &siglen), CKR_USER_NOT_LOGGED_IN);
	CHECK(count_lines(log, FIND_KEY) == 9);
	CHECK_RV(login(&h, serial, 1, PIN, &flags), CKR_OK);
	sign_ok(&h, true, hash, data, dlen);
	sign_ok(&h, true, hash, data, dlen);
	CHECK(count_lines(log, FIND_KEY) == 10);
	/* So does a LOGIN, even one that changes nothing. */
	CHECK_RV(login(&h, serial, 1, PIN, &flags), CKR_OK);
	sign_ok(&h, true, hash, data, dlen);
	CHECK(count_lines(log, FIND_KEY) == 11);

	/* A new session (the helper abandons an operation whose signature
	 * it will not take by replacing the session; the login stays):
	 * handles of the old one are not used in it. */
	CHECK(count_lines(log, "open 0x0") == 0);
	write_file(ctl, "bigsig 1\n");
	CHECK_RV(sign(&h, serial, "\x02", 1, CKM_ECDSA, hash, 32, sig,
	    &siglen), CKR_FUNCTION_FAILED);
	CHECK(count_lines(log, "open 0x0") == 1);
	sign_ok(&h, true, hash, data, dlen);
	CHECK(count_lines(log, FIND_KEY) == 12);
	sign_ok(&h, true, hash, data, dlen);
	CHECK(count_lines(log, FIND_KEY) == 12);
	/* Neither needed a login: the two since the log was emptied. */
	CHECK(count_lines(log, "login 1 0x0") == 1);
	CHECK(count_lines(log, "login 1 0x100") == 1);

	shutdown(h.fd, SHUT_WR);
	CHECK(p11h_wait(&h, TIMEOUT_MS) == 0);
	unsetenv("P11COUNT_MODULE");
	unsetenv("P11COUNT_LOG");
	unsetenv("P11COUNT_CTL");
}

/* tests/lib/mkalwaysauth.sh on mktoken.sh's directory: key id 03 "auth". */
static void
make_always_auth(const char *script)
{
	char dir[512];
	int st;
	pid_t pid;

	snprintf(dir, sizeof(dir), "%s/token", tmpdir);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		execl("/bin/bash", "bash", script, dir, PIN, "03", "auth",
		    (char *)NULL);
		_exit(127);
	}
	REQUIRE(waitpid(pid, &st, 0) == pid);
	REQUIRE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	snprintf(auth_cert_path, sizeof(auth_cert_path), "%s/token/auth.pem",
	    tmpdir);
}

/* Each of these ends the helper with status 3. */
static void
expect_protocol_error(const char *name, const void *raw, size_t n,
    const char *why)
{
	struct p11h h;
	const char *err;
	int st;

	start(&h, module_path, name, true);
	p11h_send_raw(&h, raw, n);
	st = p11h_wait(&h, TIMEOUT_MS);
	err = p11h_stderr(&h);
	if (st != 3 || strstr(err, why) == NULL)
		fprintf(stderr, "%s: exit %d, stderr: %s\n", name, st, err);
	CHECK(st == 3);
	CHECK(strstr(err, why) != NULL);
}

static void
test_protocol_errors(void)
{
	/* length over P11W_MAX_MSG */
	static const uint8_t too_long[] = { 0x00, 0x40, 0x00, 0x01 };
	/* length under 5 */
	static const uint8_t too_short[] = { 0, 0, 0, 4, 0, 0, 0, 1 };
	/* LIST_TOKENS with a trailing byte */
	static const uint8_t trailing[] = { 0, 0, 0, 6, 0, 0, 0, 1, 1, 0 };
	/* LIST_CERTS whose serial claims 9 bytes but has 2 */
	static const uint8_t short_field[] = {
		0, 0, 0, 11, 0, 0, 0, 1, 2, 0, 0, 0, 9, 'a', 'b',
	};
	/* SIGN missing its data field */
	static const uint8_t missing[] = {
		0, 0, 0, 23, 0, 0, 0, 1, 5, 0, 0, 0, 1, 'a', 0, 0, 0, 1, 1,
		0, 0, 0, 0, 0, 0, 0x10, 0x41,
	};
	/* SIGN_AUTH missing its PIN field */
	static const uint8_t auth_missing[] = {
		0, 0, 0, 28, 0, 0, 0, 1, 7, 0, 0, 0, 1, 'a', 0, 0, 0, 1, 1,
		0, 0, 0, 0, 0, 0, 0x10, 0x41, 0, 0, 0, 1, 'A',
	};
	/* a frame cut off by EOF */
	static const uint8_t cut[] = { 0, 0, 0, 9, 0, 0, 0, 1, 1 };
	struct p11h h;
	int st;

	expect_protocol_error("too_long", too_long, sizeof(too_long),
	    "frame length 4194305");
	expect_protocol_error("too_short", too_short, sizeof(too_short),
	    "frame length 4");
	expect_protocol_error("trailing", trailing, sizeof(trailing),
	    "malformed");
	expect_protocol_error("short_field", short_field, sizeof(short_field),
	    "malformed");
	expect_protocol_error("missing", missing, sizeof(missing),
	    "malformed");
	expect_protocol_error("auth_missing", auth_missing,
	    sizeof(auth_missing), "malformed");

	/* A cut frame: EOF inside it. */
	start(&h, module_path, "cut", true);
	p11h_send_raw(&h, cut, sizeof(cut));
	shutdown(h.fd, SHUT_WR);
	st = p11h_wait(&h, TIMEOUT_MS);
	CHECK(st == 3);
}

static void
expect_startup_error(const char *name, const char *module, bool fd3,
    const char *why)
{
	struct p11h h;
	const char *err;
	int st;

	start(&h, module, name, fd3);
	st = p11h_wait(&h, TIMEOUT_MS);
	err = p11h_stderr(&h);
	if (st != 2 || strstr(err, why) == NULL)
		fprintf(stderr, "%s: exit %d, stderr: %s\n", name, st, err);
	CHECK(st == 2);
	CHECK(strstr(err, why) != NULL);
	/* one line */
	CHECK(strchr(err, '\n') == err + strlen(err) - 1);
}

static void
copy_file(const char *from, const char *to, mode_t mode)
{
	uint8_t *p;
	size_t n;
	int fd;

	REQUIRE((p = p11h_slurp(from, &n)) != NULL);
	REQUIRE((fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600)) >= 0);
	REQUIRE(write(fd, p, n) == (ssize_t)n);
	close(fd);
	free(p);
	REQUIRE(chmod(to, mode) == 0);
}

static void
test_startup_errors(void)
{
	char path[512], link[512];

	snprintf(path, sizeof(path), "%s/ww-module.so", tmpdir);
	copy_file(module_path, path, 0666);
	expect_startup_error("world_writable", path, true,
	    "writable by group or others");
	/* through a symlink: the target is what is checked */
	snprintf(link, sizeof(link), "%s/link-module.so", tmpdir);
	REQUIRE(symlink(path, link) == 0);
	expect_startup_error("symlink", link, true,
	    "writable by group or others");
	REQUIRE(chmod(path, 0620) == 0);
	expect_startup_error("group_writable", path, true,
	    "writable by group or others");

	snprintf(path, sizeof(path), "%s/missing.so", tmpdir);
	expect_startup_error("missing", path, true, "No such file");
	expect_startup_error("directory", tmpdir, true,
	    "not a regular file");

	/* a file that is no shared object */
	snprintf(path, sizeof(path), "%s/not-a-module.so", tmpdir);
	copy_file(rsa_cert_path, path, 0644);
	expect_startup_error("not_elf", path, true, "dlopen");

	/* the right module but no fd 3 */
	expect_startup_error("no_fd3", module_path, false, "fd 3");
}

/* scripts/mktoken.sh DIR PIN, its token.env read back. */
static void
make_token(const char *mktoken)
{
	char dir[512], env[600], line[1024], *eq;
	int st;
	pid_t pid;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/token", tmpdir);
	pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		int nul = open("/dev/null", O_WRONLY);

		dup2(nul, 1);
		execl("/bin/bash", "bash", mktoken, dir, PIN, (char *)NULL);
		_exit(127);
	}
	REQUIRE(waitpid(pid, &st, 0) == pid);
	REQUIRE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	snprintf(env, sizeof(env), "%s/token.env", dir);
	REQUIRE((f = fopen(env, "r")) != NULL);
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if ((eq = strchr(line, '=')) == NULL)
			continue;
		*eq++ = '\0';
		if (strcmp(line, "SOFTHSM2_CONF") == 0)
			REQUIRE(setenv("SOFTHSM2_CONF", eq, 1) == 0);
		else if (strcmp(line, "TOKEN_SERIAL") == 0)
			snprintf(serial, sizeof(serial), "%s", eq);
		else if (strcmp(line, "RSA_CERT") == 0)
			snprintf(rsa_cert_path, sizeof(rsa_cert_path), "%s", eq);
		else if (strcmp(line, "EC_CERT") == 0)
			snprintf(ec_cert_path, sizeof(ec_cert_path), "%s", eq);
	}
	fclose(f);
	REQUIRE(serial[0] != '\0' && rsa_cert_path[0] != '\0' &&
	    ec_cert_path[0] != '\0' && getenv("SOFTHSM2_CONF") != NULL);
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
	int64_t t0 = p11h_now_ms();

	if (argc != 4 && argc != 6) {
		fprintf(stderr, "usage: %s HELPER MKTOKEN_SH MODULE "
		    "[MKALWAYSAUTH_SH COUNT_MODULE]\n", argv[0]);
		return 2;
	}
	helper_path = argv[1];
	module_path = argv[3];
	base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(tmpdir, sizeof(tmpdir), "%s/p11helper.XXXXXX", base);
	REQUIRE(mkdtemp(tmpdir) != NULL);
	atexit(cleanup);

	make_token(argv[2]);
	test_session();
	test_framing();
	if (argc == 6) {
		test_key_cache(argv[5]);
		make_always_auth(argv[4]);
		test_always_auth(argv[5]);
	}
	test_protocol_errors();
	test_startup_errors();

	fprintf(stderr, "p11helper_test: %d failure(s), %lld ms\n",
	    p11h_failures, (long long)(p11h_now_ms() - t0));
	return p11h_failures == 0 ? 0 : 1;
}
