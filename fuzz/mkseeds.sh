#!/usr/bin/env bash
# mkseeds.sh: regenerates the generated seeds of fuzz/corpus/ -- the
# certificates (certinfo), signatures (cms_verify), helper streams
# (helper_reply) and helper requests (helper_request). The other corpora are small hand-written text files.
# Keys and certificates are made here for the fuzzers and for nothing
# else; nothing secret is kept. Rerunning changes the bytes (new keys),
# which is harmless. Needs openssl and python3.
#
# usage: fuzz/mkseeds.sh
set -euo pipefail

cd "$(dirname "$0")"
corpus=$(pwd)/corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Certificates: the key types and fields certs.list reports.
cert() { # name, key options, extra req options...
	local name=$1 keyopt=$2
	shift 2
	# shellcheck disable=SC2086
	openssl genpkey $keyopt -out "$tmp/$name.key" 2>/dev/null
	openssl req -x509 -new -key "$tmp/$name.key" -days 3650 -utf8 \
	    -outform DER -out "$corpus/certinfo/$name.der" "$@"
}
cert rsa2048_ku "-algorithm RSA -pkeyopt rsa_keygen_bits:2048" \
    -subj "/C=RU/O=Министерство тестов/CN=Иванов Иван Иванович" \
    -addext "keyUsage=critical,digitalSignature,nonRepudiation" \
    -set_serial 0x00f1e2d3c4b5a69788 -sha256
cert ec_p256 "-algorithm EC -pkeyopt ec_paramgen_curve:P-256" \
    -subj "/CN=EC signer/serialNumber=12345" \
    -addext "keyUsage=digitalSignature,keyAgreement" -sha256
cert ec_p384_noku "-algorithm EC -pkeyopt ec_paramgen_curve:P-384" \
    -subj "/CN=no key usage" -set_serial 1 -sha384
cert ed25519 "-algorithm ED25519" -subj "/CN=ed25519 signer" \
    -addext "keyUsage=digitalSignature"
cert rsa1024_ca "-algorithm RSA -pkeyopt rsa_keygen_bits:1024" \
    -subj "/CN=Test CA/O=Signet fuzz" -set_serial -5 -sha1 \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=keyCertSign,cRLSign"
# malformed: cut short, and one certificate followed by garbage
head -c 300 "$corpus/certinfo/rsa2048_ku.der" >"$corpus/certinfo/truncated.der"
{ cat "$corpus/certinfo/ec_p256.der"; printf 'junk'; } \
    >"$corpus/certinfo/trailing.der"

# Detached signatures over fuzz_cms_verify.c's FUZZ_CMS_DOCUMENT.
printf 'signet fuzz document\n' >"$tmp/doc"
sig() { # name, key/cert name, extra cms options...
	local name=$1 who=$2
	shift 2
	openssl req -x509 -new -key "$tmp/$who.key" -days 3650 -subj "/CN=$who" \
	    -out "$tmp/$who.pem" 2>/dev/null
	openssl cms -sign -binary -in "$tmp/doc" -signer "$tmp/$who.pem" \
	    -inkey "$tmp/$who.key" -out "$corpus/cms_verify/$name" "$@"
}
sig rsa_der rsa2048_ku -outform DER -md sha256
sig rsa_cades_der rsa2048_ku -outform DER -md sha256 -cades
sig ec_der ec_p256 -outform DER -md sha384
sig ec_pem ec_p256 -outform PEM -md sha256
sig rsa_sha1_noattr rsa1024_ca -outform DER -md sha1 -noattr
sig ber_indefinite ec_p256 -outform DER -stream -md sha256
sig attached ec_p256 -outform DER -nodetach -md sha256
openssl cms -encrypt -binary -in "$tmp/doc" -outform DER -aes256 \
    -out "$corpus/cms_verify/enveloped" "$tmp/rsa2048_ku.pem"

# Helper streams (pkcs11/wire.h), as fuzz_helper_reply.c reads them.
python3 - "$corpus" <<'PY'
import os, struct, sys

corpus = sys.argv[1]
certs = os.path.join(corpus, "certinfo")
LIST_TOKENS, LIST_CERTS = 1, 2
CKF_TOKEN_INITIALIZED = 0x400
CKF_LOGIN_REQUIRED = 0x4
CKR_TOKEN_NOT_PRESENT = 0xE0

def u8(v): return struct.pack(">B", v)
def u32(v): return struct.pack(">I", v)
def u64(v): return struct.pack(">Q", v)
def s(b): return u32(len(b)) + (b.encode() if isinstance(b, str) else b)
def frame(id_, type_, body): return u32(5 + len(body)) + u32(id_) + u8(type_) + body
def token(serial, label, flags, logged_in=0, slot=0):
    return s(serial) + s(label) + s("SoftHSM project") + s("SoftHSM v2") + \
        u64(flags) + u8(logged_in) + u64(slot)
def obj(id_, label, der, key=2, always=0):
    return s(id_) + s(label) + s(der) + u8(key) + u8(always)
def der(name): return open(os.path.join(certs, name), "rb").read()

tokens = frame(1, LIST_TOKENS, u64(0) + u32(3) +
    token("0123456789abcdef", "Signer token", CKF_TOKEN_INITIALIZED | CKF_LOGIN_REQUIRED, 1, 7) +
    token("", "", 0, 0, 8) +                        # SoftHSM's free slot
    token("A1B2C3", "Токен", CKF_TOKEN_INITIALIZED))
certs_rsa = frame(2, LIST_CERTS, u64(0) + u32(2) +
    obj(b"\x01", "RSA signing", der("rsa2048_ku.der")) +
    obj(b"\x02\x03", "EC", der("ec_p256.der"), 1, 1))
certs_bad = frame(3, LIST_CERTS, u64(0) + u32(2) +
    obj(b"\x09", "garbage", b"\x30\x03\x02\x01\x00") +
    obj(b"", "no id", der("ed25519.der")))
certs_err = frame(4, LIST_CERTS, u64(CKR_TOKEN_NOT_PRESENT))
certs_none = frame(5, LIST_CERTS, u64(0) + u32(0))
good = tokens + certs_rsa + certs_bad + certs_err + certs_none

seeds = {
    "whole_with_certs": u8(1) + good,
    "whole_tokens_only": u8(0) + good,
    "read_by_7": u8(7 << 1 | 1) + good,
    "read_by_1": u8(1 << 1) + tokens + certs_rsa,
    "certs_before_tokens": u8(1) + certs_none + certs_rsa + tokens,
    "list_error": u8(0) + frame(1, LIST_TOKENS, u64(CKR_TOKEN_NOT_PRESENT)),
    "bad_frame_length": u8(0) + u32(3) + b"\0\0\0",
    "frame_too_long": u8(0) + u32(4 * 1024 * 1024 + 1) + b"\0" * 16,
    "unknown_id": u8(0) + frame(99, LIST_TOKENS, u64(0) + u32(0)),
    "wrong_type": u8(0) + frame(2, LIST_TOKENS, u64(0) + u32(0)),
    "short_body": u8(0) + frame(1, LIST_TOKENS, b""),
    "count_huge": u8(0) + frame(2, LIST_CERTS, u64(0) + u32(0xFFFFFFFF)),
    "token_count_huge": u8(0) + frame(1, LIST_TOKENS, u64(0) + u32(0xFFFFFFFF) +
        token("S1", "l", CKF_TOKEN_INITIALIZED)),
    "field_too_long": u8(0) + frame(1, LIST_TOKENS, u64(0) + u32(1) +
        u32(2 * 1024 * 1024) + b"x" * 8),
    "nul_in_serial": u8(0) + frame(1, LIST_TOKENS, u64(0) + u32(1) +
        token("AB\0CD", "l", CKF_TOKEN_INITIALIZED)),
    "answered_twice": u8(0) + certs_none + certs_none,
    "partial_frame": u8(0) + tokens[:-3],
}
for name, data in seeds.items():
    with open(os.path.join(corpus, "helper_reply", name), "wb") as f:
        f.write(data)

# Request bodies, as fuzz_helper_request.c reads them (after the length).
LOGIN, LOGOUT, SIGN, MECHANISMS, SIGN_AUTH = 3, 4, 5, 6, 7
CKM_ECDSA = 0x1041
def req(id_, type_, fields=b""): return u32(id_) + u8(type_) + fields
serial = s("0123456789abcdef")
requests = {
    "list_tokens": req(1, LIST_TOKENS),
    "list_certs": req(2, LIST_CERTS, serial),
    "login": req(3, LOGIN, serial + u8(1) + s("123456")),
    "login_pinpad": req(4, LOGIN, serial + u8(0) + s("")),
    "login_bad_flag": req(5, LOGIN, serial + u8(2) + s("1")),
    "login_pin_long": req(6, LOGIN, serial + u8(1) + s("9" * 300)),
    "logout": req(7, LOGOUT, serial),
    "sign": req(8, SIGN, serial + s(b"\x01") + u64(CKM_ECDSA) + s(b"\xab" * 32)),
    "sign_mech_huge": req(9, SIGN, serial + s(b"\x01") + u64(2**64 - 1) + s(b"x")),
    "mechanisms": req(10, MECHANISMS, serial),
    "sign_auth": req(16, SIGN_AUTH, serial + s(b"\x03") + u64(CKM_ECDSA) +
        s(b"\xab" * 32) + s("123456")),
    "sign_auth_pin_long": req(17, SIGN_AUTH, serial + s(b"\x03") +
        u64(CKM_ECDSA) + s(b"\xab" * 32) + s("9" * 300)),
    "sign_auth_no_pin": req(18, SIGN_AUTH, serial + s(b"\x03") +
        u64(CKM_ECDSA) + s(b"\xab" * 32)),
    "unknown_type": req(11, 99, b"anything"),
    "trailing": req(12, LOGOUT, serial + b"x"),
    "serial_long": req(13, LIST_CERTS, s("0123456789abcdefX")),
    "serial_nul": req(14, LIST_CERTS, s("01\x0023")),
    "short": req(15, SIGN, serial + s(b"\x01")),
    "empty": b"",
}
os.makedirs(os.path.join(corpus, "helper_request"), exist_ok=True)
for name, data in requests.items():
    with open(os.path.join(corpus, "helper_request", name), "wb") as f:
        f.write(data)
PY
echo "mkseeds: done"
