#!/bin/sh
# cades_verify_test.sh SOFTSIGN MKCERTS: signs a document with the one
# CAdES assembler (driven by the test-only software signer) for RSA-2048,
# EC P-256 and EC P-384 keys and every digest, and has the openssl CLI --
# an independent verifier -- check each signature, its signed attributes,
# and that a one-byte change of the document fails verification.
set -eu

softsign=${1:?usage: cades_verify_test.sh SOFTSIGN MKCERTS}
mkcerts=${2:?usage: cades_verify_test.sh SOFTSIGN MKCERTS}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail=0
bad() {
	echo "FAIL: $*" >&2
	fail=1
}

sh "$mkcerts" "$tmp/pki"
ca=$tmp/pki/ca.pem

# A document that is not text, so -binary matters.
head -c 100000 /dev/urandom > "$tmp/doc"
printf '\r\n\000end' >> "$tmp/doc"
cp "$tmp/doc" "$tmp/doc.mod"
# flip one byte in the middle
printf '\377' | dd of="$tmp/doc.mod" bs=1 seek=50000 conv=notrunc 2>/dev/null
cmp -s "$tmp/doc" "$tmp/doc.mod" && { echo "could not modify" >&2; exit 1; }

for key in rsa p256 p384; do
	for md in sha256 sha384 sha512; do
		sig=$tmp/$key-$md.sig
		case=$key/$md
		if ! "$softsign" "$tmp/pki/$key.key" "$tmp/pki/$key.pem" \
		    "$tmp/doc" "$sig" "$md"; then
			bad "$case: softsign failed"
			continue
		fi
		if ! openssl cms -verify -binary -inform DER -in "$sig" \
		    -content "$tmp/doc" -CAfile "$ca" -purpose any \
		    -out /dev/null 2> "$tmp/err"; then
			bad "$case: openssl cms -verify failed: $(cat "$tmp/err")"
		fi
		if openssl cms -verify -binary -inform DER -in "$sig" \
		    -content "$tmp/doc.mod" -CAfile "$ca" -purpose any \
		    -out /dev/null 2> "$tmp/err"; then
			bad "$case: modified document verified"
		fi
		grep -q "Verification failure" "$tmp/err" ||
		    bad "$case: modified document: unexpected error: $(cat "$tmp/err")"

		openssl cms -cmsout -print -inform DER -in "$sig" > "$tmp/print" ||
		    bad "$case: cannot print"
		for oid in \
		    "contentType (1.2.840.113549.1.9.3)" \
		    "signingTime (1.2.840.113549.1.9.5)" \
		    "messageDigest (1.2.840.113549.1.9.4)" \
		    "(1.2.840.113549.1.9.16.2.47)" \
		    "pkcs7-signedData (1.2.840.113549.1.7.2)" \
		    "pkcs7-data (1.2.840.113549.1.7.1)"; do
			grep -qF "$oid" "$tmp/print" ||
			    bad "$case: '$oid' missing from the printout"
		done
		grep -qF "algorithm: $md (" "$tmp/print" ||
		    bad "$case: digest algorithm $md not shown"
		case $key in
		rsa) want="rsaEncryption (1.2.840.113549.1.1.1)" ;;
		*) want="ecdsa-with-$(echo "$md" | tr a-z A-Z)" ;;
		esac
		grep -qF "$want" "$tmp/print" ||
		    bad "$case: signature algorithm '$want' not shown"
		# detached: no eContent
		grep -q "eContent: <ABSENT>" "$tmp/print" ||
		    bad "$case: eContent present"
		echo "ok: $case"
	done
done

exit $fail
