#!/bin/sh
# signet verify, which needs no agent: detached CMS signatures made with
# the openssl CLI (DER, PEM), checked with and without a chain; tampered
# documents, wrong CAs, attached and garbage signatures refused with 68;
# third-party vectors from ../shared/vectors accepted.
# usage: client_verify.sh PATH-TO-signet VECTORS-DIR
set -u
# Absolute paths: the test works in its own directory.
signet=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
case "$2" in /*) vectors=$2 ;; *) vectors=$(pwd)/$2 ;; esac
fail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/signet-verify.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1

# expect STATUS CMD...: runs signet, keeps stdout/stderr in out/err
expect() {
	want=$1
	shift
	"$signet" "$@" >out 2>err
	got=$?
	if [ "$got" -ne "$want" ]; then
		echo "FAIL: signet $*: exit $got, wanted $want" >&2
		sed 's/^/  stdout: /' out >&2
		sed 's/^/  stderr: /' err >&2
		fail=1
	fi
}
has() { # FILE TEXT
	grep -qF -- "$2" "$1" || {
		echo "FAIL: $1 lacks '$2'" >&2
		sed 's/^/  /' "$1" >&2
		fail=1
	}
}

openssl_q() { openssl "$@" >/dev/null 2>&1 || { echo "openssl $* failed" >&2; exit 1; }; }

# A CA, a signer it issued (no S/MIME extensions: purpose must not
# matter), and an unrelated CA.
cat >ext.cnf <<'CNF'
[user]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
CNF
openssl_q req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem \
	-subj "/CN=Signet Test CA" -days 30 -addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign"
openssl_q req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other.pem \
	-subj "/CN=Other CA" -days 30 -addext "basicConstraints=critical,CA:TRUE"
openssl_q req -new -newkey rsa:2048 -nodes -keyout user.key -out user.csr \
	-utf8 -subj "/CN=Иван Петров/O=Signet Test"
openssl_q x509 -req -in user.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
	-out user.pem -days 30 -extfile ext.cnf -extensions user

printf 'Order No. 17\nOn approval of the routing procedure.\n' >doc.txt
openssl_q cms -sign -binary -md sha256 -outform DER -in doc.txt \
	-signer user.pem -inkey user.key -out doc.txt.sig
openssl_q cms -sign -binary -md sha384 -outform PEM -in doc.txt \
	-signer user.pem -inkey user.key -out doc.txt.pem
openssl_q cms -sign -binary -md sha256 -outform DER -nodetach -in doc.txt \
	-signer user.pem -inkey user.key -out attached.sig
openssl_q cms -sign -binary -md sha1 -outform DER -in doc.txt \
	-signer user.pem -inkey user.key -out sha1.sig

# Good, with the chain.
expect 0 verify doc.txt doc.txt.sig --ca ca.pem
has out "signature:    good"
has out "signer:       O=Signet Test,CN=Иван Петров"
has out "digest:       sha256"
has out "chain:        verified against ca.pem"
grep -q '^signing time: [0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9:]\{8\}Z$' out || {
	echo "FAIL: no signing time" >&2; fail=1; }
[ -s err ] && { echo "FAIL: stderr not empty" >&2; cat err >&2; fail=1; }

# Good, chain not checked (explicitly and by default).
expect 0 verify --no-chain doc.txt doc.txt.sig
has out "chain:        not checked"
expect 0 verify doc.txt doc.txt.sig
has out "chain:        not checked"

# PEM is detected.
expect 0 verify doc.txt doc.txt.pem --ca ca.pem
has out "digest:       sha384"

# A changed document.
cp doc.txt changed.txt
echo "one more line" >>changed.txt
expect 68 verify changed.txt doc.txt.sig --ca ca.pem
has err "signet: verify: doc.txt.sig: content verify error (verify_failed)"
expect 68 verify --no-chain changed.txt doc.txt.sig
printf 'Order No. 18\nOn approval of the routing procedure.\n' >same-size.txt
expect 68 verify --no-chain same-size.txt doc.txt.sig

# A CA that did not issue the signer.
expect 68 verify doc.txt doc.txt.sig --ca other.pem
has err "certificate verify error"
has err "(verify_failed)"

# Not detached, not CMS, truncated, empty.
expect 68 verify doc.txt attached.sig --no-chain
has err "not a detached signature"
expect 68 verify doc.txt doc.txt --no-chain
head -c 200 doc.txt.sig >trunc.sig
expect 68 verify doc.txt trunc.sig --no-chain
: >empty.sig
expect 68 verify doc.txt empty.sig --no-chain
printf -- '-----BEGIN CMS-----\nAAAA\n-----END CMS-----\n' >bad.pem
expect 68 verify doc.txt bad.pem --no-chain

# Missing files are not verification failures.
expect 70 verify missing.txt doc.txt.sig
has err "(io_error)"
expect 70 verify doc.txt missing.sig
has err "signet: verify: missing.sig: No such file or directory (io_error)"
expect 70 verify doc.txt doc.txt.sig --ca missing.pem

# SHA-1 still verifies, with a warning.
expect 0 verify --no-chain doc.txt sha1.sig
has out "digest:       sha1"
has err "signet: verify: warning: SHA-1 digest"

# Third-party signatures (../shared/vectors).
if [ ! -d "$vectors" ]; then
	echo "SKIP: $vectors absent: third-party vectors not checked"
else
	v=$vectors/rsa-cades-bes-nowina
	expect 0 verify --no-chain "$v/doc.txt" "$v/doc.txt.sig"
	has out "signer:       C=LU,OU=PKI-TEST,O=Nowina Solutions,CN=good-user"
	has out "signing time: 2024-11-07T11:29:06Z"
	cp "$v/doc.txt" nowina.txt
	echo x >>nowina.txt
	expect 68 verify --no-chain nowina.txt "$v/doc.txt.sig"

	v=$vectors/rsa-sha1-novartis
	expect 0 verify --no-chain "$v/doc.bin" "$v/doc.bin.sig"
	has err "warning: SHA-1 digest"

	# GOST ones with the gost engine, when it is installed.
	engine=$(ls /usr/lib/*/engines-3/gost.so 2>/dev/null | head -n 1)
	if [ -z "$engine" ]; then
		echo "SKIP: no gost engine: GOST vectors not checked"
	else
		cat >gost.cnf <<CNF
openssl_conf = openssl_def
[openssl_def]
engines = engine_section
[engine_section]
gost = gost_section
[gost_section]
engine_id = gost
dynamic_path = $engine
default_algorithms = ALL
CNF
		OPENSSL_CONF=$tmp/gost.cnf
		export OPENSSL_CONF
		for d in "$vectors"/gost*; do
			[ -d "$d" ] || continue
			sig=$(ls "$d"/*.sig | head -n 1)
			doc=${sig%.sig}
			expect 0 verify --no-chain "$doc" "$sig"
			has out "digest:       GOST R 34.11"
			cp "$doc" gost-doc
			echo x >>gost-doc
			expect 68 verify --no-chain gost-doc "$sig"
		done
		unset OPENSSL_CONF
	fi
fi

[ "$fail" -eq 0 ] && echo "client_verify: ok"
exit "$fail"
