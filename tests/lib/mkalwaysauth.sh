#!/usr/bin/env bash
# mkalwaysauth.sh: adds to a token made by scripts/mktoken.sh a key that
# demands a context-specific login for every signature
# (CKA_ALWAYS_AUTHENTICATE), and a certificate for it.
#
# usage: tests/lib/mkalwaysauth.sh DIR PIN ID LABEL
#
# DIR is mktoken.sh's directory (softhsm2.conf, ca.pem, ca.key). On the
# token: an EC P-256 key pair generated there with --always-auth, under
# CKA_ID ID, and a certificate by the demo CA under the same ID. In DIR:
# LABEL.pem (the certificate). Environment: MODULE, TOKEN_LABEL as for
# mktoken.sh.
set -euo pipefail

[ $# -eq 4 ] || { echo "usage: $0 DIR PIN ID LABEL" >&2; exit 2; }
DIR=$1 PIN=$2 ID=$3 LABEL=$4
MODULE=${MODULE:-/usr/lib/softhsm/libsofthsm2.so}
TOKEN_LABEL=${TOKEN_LABEL:-signet-demo}
export SOFTHSM2_CONF="$DIR/softhsm2.conf"

work=$(mktemp -d "$DIR/.mkalwaysauth.XXXXXX")
trap 'rm -rf "$work"' EXIT

run() {
	if ! "$@" >"$work/log" 2>&1; then
		echo "mkalwaysauth: failed: $*" >&2
		cat "$work/log" >&2
		exit 1
	fi
}
p11() {
	run pkcs11-tool --module "$MODULE" --token-label "$TOKEN_LABEL" "$@"
}

p11 --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 \
	--id "$ID" --label "$LABEL" --usage-sign --always-auth
p11 --read-object --type pubkey --id "$ID" -o "$work/pub.der"
run openssl pkey -pubin -inform DER -in "$work/pub.der" -out "$work/pub.pem"
cat >"$work/ee.ext" <<EOF
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,nonRepudiation
EOF
run openssl x509 -new -subj "/O=Signet Demo/CN=Signet Demo always-auth" \
	-force_pubkey "$work/pub.pem" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" \
	-set_serial "0x1$(openssl rand -hex 7)" -days 365 -sha256 \
	-extfile "$work/ee.ext" -out "$DIR/$LABEL.pem"
run openssl x509 -in "$DIR/$LABEL.pem" -outform DER -out "$work/cert.der"
p11 --login --pin "$PIN" --write-object "$work/cert.der" --type cert \
	--id "$ID" --label "$LABEL"
