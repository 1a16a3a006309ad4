#!/usr/bin/env bash
# mktoken.sh: a private SoftHSM2 token with two signing keys and their
# certificates, for the demo and the integration tests.
#
# usage: scripts/mktoken.sh [--force] DIR [PIN]
#
# Creates in DIR:
#   softhsm2.conf   SoftHSM2 configuration (tokens in DIR/tokens, file backend)
#   tokens/         the token store (never the system one)
#   ca.pem ca.key   a self-signed demo CA
#   rsa.pem ec.pem  the two end-entity certificates, also stored on the token
#   token.env       the summary below, without the PIN
# and on the token labelled $TOKEN_LABEL (default signet-demo):
#   id 01 "rsa": RSA-2048 key pair generated on the token + certificate
#   id 02 "ec":  EC P-256 key pair generated on the token + certificate
#
# The keys never leave the token: the public keys are read back and the demo
# CA issues certificates for them with `openssl x509 -new -force_pubkey`, so
# no PKCS#11 engine is needed.
#
# Prints KEY=VALUE lines on stdout at the end (SOFTHSM2_CONF, TOKEN_LABEL,
# TOKEN_SERIAL, PIN, RSA_SHA256, EC_SHA256, ...); progress goes to stderr.
#
# Environment: MODULE (default /usr/lib/softhsm/libsofthsm2.so),
# TOKEN_LABEL (default signet-demo), SO_PIN (default 12345678).
set -euo pipefail

MODULE=${MODULE:-/usr/lib/softhsm/libsofthsm2.so}
TOKEN_LABEL=${TOKEN_LABEL:-signet-demo}
SO_PIN=${SO_PIN:-12345678}

usage() {
	echo "usage: $0 [--force] DIR [PIN]" >&2
	exit 2
}

force=0
args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--force) force=1 ;;
	-h|--help) usage ;;
	--) shift; args+=("$@"); break ;;
	-*) echo "mktoken: unknown option $1" >&2; usage ;;
	*) args+=("$1") ;;
	esac
	shift
done
[ ${#args[@]} -ge 1 ] && [ ${#args[@]} -le 2 ] || usage
DIR=${args[0]}
PIN=${args[1]:-123456}

for tool in softhsm2-util pkcs11-tool openssl; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "mktoken: $tool not found (run scripts/install-deps.sh)" >&2
		exit 1
	}
done
[ -r "$MODULE" ] || { echo "mktoken: PKCS#11 module $MODULE not found" >&2; exit 1; }

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd -P)
if [ -n "$(ls -A "$DIR")" ]; then
	if [ "$force" -ne 1 ]; then
		echo "mktoken: $DIR is not empty (use --force to replace its token)" >&2
		exit 1
	fi
	# Only what this script makes; anything else in DIR stays.
	rm -rf "$DIR/tokens"
	rm -f "$DIR"/softhsm2.conf "$DIR"/token.env "$DIR"/ca.pem "$DIR"/ca.key \
		"$DIR"/rsa.pem "$DIR"/ec.pem
fi

work=$(mktemp -d "$DIR/.mktoken.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Run a tool quietly; show its output only when it fails.
run() {
	if ! "$@" >"$work/log" 2>&1; then
		echo "mktoken: failed: $*" >&2
		cat "$work/log" >&2
		exit 1
	fi
}

# The PIN goes to the tools on their command line: acceptable for a demo
# token in a private store, and the only way pkcs11-tool takes it.
p11() {
	run pkcs11-tool --module "$MODULE" --token-label "$TOKEN_LABEL" "$@"
}

mkdir -m 0700 "$DIR/tokens"
cat >"$DIR/softhsm2.conf" <<EOF
# Private SoftHSM2 store made by scripts/mktoken.sh
directories.tokendir = $DIR/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
EOF
export SOFTHSM2_CONF="$DIR/softhsm2.conf"

echo "mktoken: token '$TOKEN_LABEL' in $DIR/tokens" >&2
run softhsm2-util --init-token --free --label "$TOKEN_LABEL" \
	--so-pin "$SO_PIN" --pin "$PIN"

echo "mktoken: demo CA" >&2
cat >"$work/ca.cnf" <<EOF
[req]
distinguished_name = dn
x509_extensions = v3_ca
prompt = no
[dn]
O = Signet Demo
CN = Signet Demo CA
[v3_ca]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
EOF
run openssl req -x509 -new -config "$work/ca.cnf" \
	-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-keyout "$DIR/ca.key" -out "$DIR/ca.pem" -days 3650 -sha256
chmod 0600 "$DIR/ca.key"

cat >"$work/ee.ext" <<EOF
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF

# make_key ID LABEL KEYTYPE CN: key pair on the token, certificate by the CA,
# certificate back on the token under the same CKA_ID.
make_key() {
	local id=$1 label=$2 keytype=$3 cn=$4
	echo "mktoken: $label key (id $id, $keytype) and certificate" >&2
	p11 --login --pin "$PIN" --keypairgen --key-type "$keytype" \
		--id "$id" --label "$label" --usage-sign
	p11 --read-object --type pubkey --id "$id" -o "$work/$label.pub.der"
	run openssl pkey -pubin -inform DER -in "$work/$label.pub.der" \
		-out "$work/$label.pub.pem"
	# Serial: 64 random bits below 2^63 so it stays a positive INTEGER.
	run openssl x509 -new -subj "/O=Signet Demo/CN=$cn" \
		-force_pubkey "$work/$label.pub.pem" \
		-CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" \
		-set_serial "0x1$(openssl rand -hex 7)" -days 365 -sha256 \
		-extfile "$work/ee.ext" -out "$DIR/$label.pem"
	run openssl x509 -in "$DIR/$label.pem" -outform DER -out "$work/$label.der"
	p11 --login --pin "$PIN" --write-object "$work/$label.der" --type cert \
		--id "$id" --label "$label"
}

make_key 01 rsa rsa:2048 "Signet Demo RSA"
make_key 02 ec EC:prime256v1 "Signet Demo EC"

fingerprint() {
	openssl x509 -in "$1" -noout -fingerprint -sha256 |
		sed -e 's/^[^=]*=//' -e 's/://g' | tr 'A-F' 'a-f'
}

# The token's serial is how the agent's selectors name it.
serial=$(pkcs11-tool --module "$MODULE" -L 2>/dev/null | awk -v want="$TOKEN_LABEL" '
	/token label/ { sub(/^[^:]*: /, ""); lab = $0 }
	/serial num/ { sub(/^[^:]*: /, ""); if (lab == want) { print; exit } }')

summary() {
	cat <<EOF
SOFTHSM2_CONF=$DIR/softhsm2.conf
MODULE=$MODULE
TOKEN_LABEL=$TOKEN_LABEL
TOKEN_SERIAL=$serial
CA=$DIR/ca.pem
RSA_CERT=$DIR/rsa.pem
RSA_SHA256=$(fingerprint "$DIR/rsa.pem")
EC_CERT=$DIR/ec.pem
EC_SHA256=$(fingerprint "$DIR/ec.pem")
EOF
}
summary >"$DIR/token.env"
summary
echo "PIN=$PIN"
