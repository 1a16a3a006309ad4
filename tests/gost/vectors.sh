#!/bin/sh
# vectors.sh SIGNET VECTORS-DIR: `signet verify --no-chain` on every
# third-party signature of ../shared/vectors (CryptoPro, ViPNet, JCSP,
# BouncyCastle, SBIS, Sber; GOST 2012-256/512, GOST 2001, RSA), with no
# OpenSSL configuration at all (signet loads the gost engine itself):
# each verifies, names its signer, algorithm, signing time and timestamp,
# says the chain was not checked, and fails after a one-byte change of its
# document. Skips, saying so, when the vectors are absent.
set -u
signet=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
vectors=${2:?usage: vectors.sh SIGNET VECTORS-DIR}
if [ ! -d "$vectors" ]; then
	echo "SKIP: $vectors absent: third-party vectors not checked"
	exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/signet-vectors.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
fail=0
n=0
bad() {
	echo "FAIL: $*" >&2
	fail=1
}
has() { # WHAT TEXT
	grep -qF -- "$2" "$tmp/out" || bad "$1: output lacks '$2':
$(cat "$tmp/out" "$tmp/err")"
}

for d in "$vectors"/*/; do
	name=$(basename "$d")
	sig=$(ls "$d"*.sig 2>/dev/null | head -n 1)
	[ -n "$sig" ] || continue
	doc=${sig%.sig}
	n=$((n + 1))
	OPENSSL_CONF=/dev/null "$signet" verify --no-chain "$doc" "$sig" \
	    > "$tmp/out" 2> "$tmp/err"
	rc=$?
	[ $rc -eq 0 ] || bad "$name: exit $rc: $(cat "$tmp/err")"
	has "$name" "signature:    good"
	grep -q '^signer:       ..' "$tmp/out" || bad "$name: no signer"
	grep -q '^algorithm:    ..' "$tmp/out" || bad "$name: no algorithm"
	grep -q '^signing time: [0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9:]\{8\}Z$' \
	    "$tmp/out" || bad "$name: no signing time"
	grep -q '^timestamp:    ' "$tmp/out" || bad "$name: no timestamp line"
	has "$name" "chain:        not checked (signature and content only)"
	case $name in
	gost2012-256-*)
		has "$name" "digest:       GOST R 34.11-2012 with 256 bit hash"
		has "$name" ", 256-bit key" ;;
	gost2012-512-*)
		has "$name" "digest:       GOST R 34.11-2012 with 512 bit hash"
		has "$name" "algorithm:    GOST R 34.10-2012 with 512 bit modulus, 512-bit key" ;;
	gost2001-*)
		has "$name" "algorithm:    GOST R 34.10-2001"
		grep -qF "warning: GOST R 34.10-2001" "$tmp/err" ||
		    bad "$name: no GOST 2001 warning" ;;
	esac
	case $name in
	*-sbis-cades-t)
		# signature OID form, and the CAdES-T timestamp
		has "$name" "algorithm:    GOST R 34.10-2012 with GOST R 34.11-2012 (256 bit)"
		has "$name" "timestamp:    2023-09-29T15:20:58Z (signature timestamp" ;;
	*-sberid-ber)
		# BER, indefinite lengths
		[ "$(od -An -tx1 -N2 "$sig" | tr -d ' ')" = 3080 ] ||
		    bad "$name: not BER any more?"
		has "$name" "timestamp:    none" ;;
	*-bouncycastle-pdf | *-cryptopro-testca)
		# key OID form
		has "$name" "bit modulus, " ;;
	rsa-sha1-*)
		grep -qF "signet: verify: warning: SHA-1 digest" "$tmp/err" ||
		    bad "$name: no SHA-1 warning" ;;
	esac
	# one byte changed in the middle, same size
	cp "$doc" "$tmp/doc"
	chmod u+w "$tmp/doc"
	size=$(wc -c < "$doc")
	off=$((size / 2))
	orig=$(od -An -tu1 -j "$off" -N1 "$doc" | tr -d ' ')
	printf "\\$(printf '%03o' $(( (orig + 1) % 256 )))" |
	    dd of="$tmp/doc" bs=1 seek="$off" conv=notrunc 2>/dev/null
	cmp -s "$doc" "$tmp/doc" && bad "$name: could not change the document"
	OPENSSL_CONF=/dev/null "$signet" verify --no-chain "$tmp/doc" "$sig" \
	    > "$tmp/out" 2> "$tmp/err"
	rc=$?
	[ $rc -eq 68 ] || bad "$name: changed document: exit $rc"
	grep -qF "content verify error (verify_failed)" "$tmp/err" ||
	    bad "$name: changed document: $(cat "$tmp/err")"
	echo "ok: $name"
done
[ "$n" -ge 9 ] || bad "only $n vectors found in $vectors"
[ "$fail" -eq 0 ] && echo "gost_vectors: $n vectors ok"
exit "$fail"
