#!/bin/sh
# mkgost.sh DIR: GOST R 34.10-2012 test fixtures made with the openssl CLI
# and the gost engine, for the GOST tests only:
#   DIR/gost.cnf                 an OPENSSL_CONF for the openssl CLI (the
#                                CLI cannot load the engine by itself;
#                                Signet's own programs do not need it)
#   DIR/req.cnf                  req/x509 sections for the above
#   DIR/gca.pem DIR/gca.key      test CA, GOST 2012-256 (paramset A)
#   DIR/g256.pem DIR/g256.key    leaf, GOST 2012-256, SNILS/INN/OGRN in the
#                                subject, Cyrillic CN
#   DIR/g512.pem DIR/g512.key    leaf, GOST 2012-512 (paramset A)
# Keys are unencrypted throwaway test keys.
set -eu

d=${1:?usage: mkgost.sh DIR}
mkdir -p "$d"
engine=${SIGNET_GOST_ENGINE:-}
if [ -z "$engine" ]; then
	engine=$(ls /usr/lib/*/engines-3/gost.so /usr/lib/engines-3/gost.so \
	    2>/dev/null | head -n 1)
fi
[ -n "$engine" ] || { echo "mkgost.sh: no gost engine" >&2; exit 1; }

cat > "$d/gost.cnf" <<CNF
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
# The req/x509 sections apart: a -config file that also loads the engine
# would load it a second time, which fails.
cat > "$d/req.cnf" <<'CNF'
# INNLE (1.2.643.100.4) is not in OpenSSL 3.0's object table
oid_section = signet_oids
[signet_oids]
INNLE = 1.2.643.100.4
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
# subjectSignTool (1.2.643.100.111): a UTF8String naming the signing tool
1.2.643.100.111 = ASN1:UTF8String:Signet test signer
CNF
OPENSSL_CONF=$d/gost.cnf
export OPENSSL_CONF

openssl genpkey -algorithm gost2012_256 -pkeyopt paramset:A \
	-out "$d/gca.key" 2>/dev/null
openssl req -config "$d/req.cnf" -new -x509 -key "$d/gca.key" \
	-md_gost12_256 -subj "/C=RU/O=Signet Test/CN=Signet GOST Test CA" \
	-days 3650 -extensions ca_ext -set_serial 1 -out "$d/gca.pem"

leaf() { # name subject serial md genpkey-args...
	name=$1 subj=$2 serial=$3 md=$4
	shift 4
	openssl genpkey "$@" -out "$d/$name.key" 2>/dev/null
	openssl req -config "$d/req.cnf" -new -key "$d/$name.key" -$md \
		-utf8 -subj "$subj" -out "$d/$name.csr"
	openssl x509 -req -in "$d/$name.csr" -CA "$d/gca.pem" \
		-CAkey "$d/gca.key" -md_gost12_256 -set_serial "$serial" \
		-days 365 -extfile "$d/req.cnf" -extensions leaf_ext \
		-out "$d/$name.pem" 2>/dev/null
	rm -f "$d/$name.csr"
}

# SNILS 1.2.643.100.3, INN 1.2.643.3.131.1.1, OGRNIP 1.2.643.100.5
leaf g256 "/C=RU/O=Signet Test/CN=Петров Пётр Петрович/1.2.643.100.3=12345678901/1.2.643.3.131.1.1=123456789012/1.2.643.100.5=312345678901234" \
	0x5a01 md_gost12_256 -algorithm gost2012_256 -pkeyopt paramset:A
leaf g512 "/C=RU/O=Signet Test/CN=GOST 512 signer/INNLE=7701234567/1.2.643.100.1=1027700132195" \
	0x5a02 md_gost12_512 -algorithm gost2012_512 -pkeyopt paramset:A
