#!/bin/sh
# mkcerts.sh DIR: test fixtures for the signet_core tests, made with the
# openssl CLI: a test CA (EC P-256) and three leaf certificates issued by
# it, each with keyUsage digitalSignature,nonRepudiation:
#   DIR/ca.pem  DIR/ca.key
#   DIR/rsa.pem DIR/rsa.key   RSA-2048, Cyrillic subject, serial with top bit
#   DIR/p256.pem DIR/p256.key EC P-256
#   DIR/p384.pem DIR/p384.key EC P-384
# Keys are unencrypted: they are throwaway test keys, never used elsewhere.
set -eu

d=${1:?usage: mkcerts.sh DIR}
mkdir -p "$d"

# Our own config, so the system openssl.cnf cannot add or change anything.
cat > "$d/mkcerts.cnf" <<'CNF'
[req]
distinguished_name = dn
prompt = no
utf8 = yes
string_mask = utf8only
[dn]
CN = unused
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[leaf_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
CNF

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	-out "$d/ca.key" 2>/dev/null
openssl req -config "$d/mkcerts.cnf" -new -x509 -key "$d/ca.key" \
	-subj "/C=RU/O=Signet Test/CN=Signet Test CA" -days 3650 \
	-extensions ca_ext -set_serial 1 -out "$d/ca.pem"

leaf() { # name subject serial genpkey-args...
	name=$1 subj=$2 serial=$3
	shift 3
	openssl genpkey "$@" -out "$d/$name.key" 2>/dev/null
	openssl req -config "$d/mkcerts.cnf" -new -key "$d/$name.key" \
		-utf8 -subj "$subj" -out "$d/$name.csr"
	openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.pem" \
		-CAkey "$d/ca.key" -set_serial "$serial" -days 365 \
		-extfile "$d/mkcerts.cnf" -extensions leaf_ext \
		-out "$d/$name.pem" 2>/dev/null
	rm -f "$d/$name.csr"
}

leaf rsa "/C=RU/O=Signet Test/CN=Иванов Иван Иванович" 0x8a1b2c3d4e5f \
	-algorithm RSA -pkeyopt rsa_keygen_bits:2048
leaf p256 "/C=RU/O=Signet Test/CN=EC P-256 signer" 0x02 \
	-algorithm EC -pkeyopt ec_paramgen_curve:P-256
leaf p384 "/C=RU/O=Signet Test/CN=EC P-384 signer" 0x0100 \
	-algorithm EC -pkeyopt ec_paramgen_curve:P-384
