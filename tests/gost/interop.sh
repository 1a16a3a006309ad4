#!/bin/sh
# interop.sh SOFTSIGN SIGNET MKGOST: GOST R 34.10-2012 interoperability of
# the one CAdES assembler with OpenSSL's gost engine, both ways.
#  - Signet -> openssl: softsign (the assembler driven by a test-only
#    software signer, on the hash mechanism path and on the combined TC26
#    mechanism path) makes 256- and 512-bit signatures; `openssl cms
#    -verify` with the gost engine checks each against the test CA, and
#    fails on a one-byte change of the document.
#  - openssl -> Signet: `openssl cms -sign` with the engine verifies with
#    `signet verify`, and fails on the changed document. (BER with
#    indefinite lengths is covered by the shared vectors: gost_vectors.)
# Signet's programs run with OPENSSL_CONF=/dev/null: they load the engine
# themselves. Only the openssl CLI is given a configuration.
set -u
softsign=${1:?usage: interop.sh SOFTSIGN SIGNET MKGOST}
signet=${2:?usage: interop.sh SOFTSIGN SIGNET MKGOST}
mkgost=${3:?usage: interop.sh SOFTSIGN SIGNET MKGOST}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/signet-gost.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
fail=0
bad() {
	echo "FAIL: $*" >&2
	fail=1
}
ossl() { OPENSSL_CONF=$tmp/pki/gost.cnf openssl "$@"; }
own() { OPENSSL_CONF=/dev/null "$@"; }

sh "$mkgost" "$tmp/pki" || { echo "FAIL: mkgost.sh" >&2; exit 1; }
ca=$tmp/pki/gca.pem

head -c 200000 /dev/urandom > "$tmp/doc"
printf '\r\n\000end' >> "$tmp/doc"
cp "$tmp/doc" "$tmp/doc.mod"
printf '\377' | dd of="$tmp/doc.mod" bs=1 seek=100000 conv=notrunc 2>/dev/null
cmp -s "$tmp/doc" "$tmp/doc.mod" && { echo "could not modify" >&2; exit 1; }

for case in g256:streebog256:256:hash g256:streebog256:256:combined \
    g512:streebog512:512:hash g512:streebog512:512:combined; do
	IFS=: read -r key md bits mode <<EOC
$case
EOC
	sig=$tmp/$key-$mode.sig
	extra=
	[ "$mode" = combined ] && extra=combined
	if ! own "$softsign" "$tmp/pki/$key.key" "$tmp/pki/$key.pem" \
	    "$tmp/doc" "$sig" "$md" $extra 2> "$tmp/err"; then
		bad "$case: softsign failed: $(cat "$tmp/err")"
		continue
	fi
	if ! ossl cms -verify -binary -inform DER -in "$sig" \
	    -content "$tmp/doc" -CAfile "$ca" -purpose any \
	    -out /dev/null 2> "$tmp/err"; then
		bad "$case: openssl cms -verify failed: $(cat "$tmp/err")"
	fi
	if ossl cms -verify -binary -inform DER -in "$sig" \
	    -content "$tmp/doc.mod" -CAfile "$ca" -purpose any \
	    -out /dev/null 2> "$tmp/err"; then
		bad "$case: modified document verified with openssl"
	fi
	grep -q "Verification failure" "$tmp/err" ||
	    bad "$case: modified: unexpected error: $(cat "$tmp/err")"
	ossl cms -cmsout -print -inform DER -in "$sig" > "$tmp/print" ||
	    bad "$case: cannot print"
	# SignerInfo: digest with NULL, the key OID with NULL
	sed -n '/signerInfos:/,$p' "$tmp/print" > "$tmp/si"
	grep -A1 "digestAlgorithm:" "$tmp/si" | grep -qF \
	    "GOST R 34.11-2012 with $bits bit hash (1.2.643.7.1.1.2." ||
	    bad "$case: digestAlgorithm"
	grep -A2 "signatureAlgorithm:" "$tmp/si" | grep -qF \
	    "GOST R 34.10-2012 with $bits bit modulus (1.2.643.7.1.1.1." ||
	    bad "$case: signatureAlgorithm is not the key OID"
	[ "$(grep -A2 "signatureAlgorithm:" "$tmp/si" | grep -c "parameter: NULL")" = 1 ] ||
	    bad "$case: signatureAlgorithm parameters not NULL"
	grep -qF "(1.2.840.113549.1.9.16.2.47)" "$tmp/si" ||
	    bad "$case: no signingCertificateV2"
	# and Signet's own verifier, without any OpenSSL configuration
	own "$signet" verify --ca "$ca" "$tmp/doc" "$sig" > "$tmp/out" 2>&1 ||
	    bad "$case: signet verify: $(cat "$tmp/out")"
	grep -qF "algorithm:    GOST R 34.10-2012 with $bits bit modulus, $bits-bit key" "$tmp/out" ||
	    bad "$case: signet verify output: $(cat "$tmp/out")"
	own "$signet" verify --no-chain "$tmp/doc.mod" "$sig" > /dev/null 2>&1
	[ $? -eq 68 ] || bad "$case: signet verify accepted the modified document"
	echo "ok: signet -> openssl: $case"
done

for case in g256:md_gost12_256:256 g512:md_gost12_512:512; do
	IFS=: read -r key md bits <<EOC
$case
EOC
	for form in der; do
		sig=$tmp/ossl-$key.$form
		if ! ossl cms -sign -binary -md "$md" -outform DER \
		    -in "$tmp/doc" -signer "$tmp/pki/$key.pem" \
		    -inkey "$tmp/pki/$key.key" -out "$sig" 2> "$tmp/err"; then
			bad "openssl cms -sign $case $form: $(cat "$tmp/err")"
			continue
		fi
		own "$signet" verify --ca "$ca" "$tmp/doc" "$sig" > "$tmp/out" 2>&1 ||
		    bad "openssl -> signet $case $form: $(cat "$tmp/out")"
		grep -qF "digest:       GOST R 34.11-2012 with $bits bit hash" "$tmp/out" ||
		    bad "openssl -> signet $case $form: output: $(cat "$tmp/out")"
		own "$signet" verify --no-chain "$tmp/doc" "$sig" > "$tmp/out" 2>&1 ||
		    bad "openssl -> signet $case $form --no-chain"
		grep -qF "chain:        not checked" "$tmp/out" ||
		    bad "--no-chain does not say so"
		own "$signet" verify --no-chain "$tmp/doc.mod" "$sig" > /dev/null 2> "$tmp/err"
		[ $? -eq 68 ] || bad "openssl -> signet $case $form: modified accepted"
		grep -qF "content verify error (verify_failed)" "$tmp/err" ||
		    bad "openssl -> signet $case $form: $(cat "$tmp/err")"
		echo "ok: openssl -> signet: $case $form"
	done
done

[ "$fail" -eq 0 ] && echo "gost_interop: ok"
exit "$fail"
