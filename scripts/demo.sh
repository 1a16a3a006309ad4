#!/usr/bin/env bash
# demo.sh: Signet end to end on a fresh Debian 12 machine.
#
# usage: scripts/demo.sh [--stop-after] [--no-deps] [--no-build]
#                        [--build-dir DIR] [--dir DIR]
#
#   installs the dependencies, builds, makes a demo SoftHSM2 token (RSA and
#   EC keys with certificates from a demo CA), starts signetd on a private
#   socket, lists tokens and certificates with the signet CLI, logs in,
#   signs a document with each key, and verifies both signatures with
#   `signet verify` and with `openssl cms -verify`.
#
#   --stop-after   stop the agent at the end (default: leave it running)
#   --no-deps      skip scripts/install-deps.sh
#   --no-build     use an existing build (with --build-dir)
#   --build-dir D  build tree (default: build)
#   --dir D        where the token, socket and files go (default: a new
#                  directory under ${TMPDIR:-/tmp})
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

stop_after=0
deps=1
build=1
build_dir=$root/build
demo_dir=
while [ $# -gt 0 ]; do
	case "$1" in
	--stop-after) stop_after=1 ;;
	--no-deps) deps=0 ;;
	--no-build) build=0 ;;
	--build-dir) shift; build_dir=$(realpath -m "${1:?--build-dir needs a value}") ;;
	--dir) shift; demo_dir=${1:?--dir needs a value} ;;
	-h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
	*) echo "demo.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

MODULE=${MODULE:-/usr/lib/softhsm/libsofthsm2.so}
PIN=123456

step() {
	echo
	echo "==> $*"
}

# Show a command (without the build path), then run it.
show() {
	local shown=("${@#"$build_dir"/bin/}")
	echo "\$ ${shown[*]}"
	"$@"
}

if [ "$deps" -eq 1 ]; then
	step "Installing dependencies (scripts/install-deps.sh)"
	bash "$root/scripts/install-deps.sh"
fi

if [ "$build" -eq 1 ]; then
	step "Building ($build_dir)"
	cmake -S "$root" -B "$build_dir" >/dev/null
	cmake --build "$build_dir" -j "$(nproc 2>/dev/null || echo 2)"
fi

signetd=$build_dir/bin/signetd
signet_bin=$build_dir/bin/signet
for b in "$signetd" "$signet_bin"; do
	if [ ! -x "$b" ]; then
		echo "demo.sh: $b was not built" >&2
		exit 1
	fi
done

made_dir=0
if [ -z "$demo_dir" ]; then
	demo_dir=$(mktemp -d "${TMPDIR:-/tmp}/signet-demo.XXXXXX")
	made_dir=1
else
	mkdir -p "$demo_dir"
	demo_dir=$(cd "$demo_dir" && pwd -P)
fi
sock=$demo_dir/agent.sock
agent_pid=

# Whatever happens, a failed demo leaves no agent behind; a successful one
# leaves it running unless --stop-after.
cleanup() {
	local rc=$?
	if [ -n "$agent_pid" ] && { [ "$rc" -ne 0 ] || [ "$stop_after" -eq 1 ]; }; then
		kill -TERM "$agent_pid" 2>/dev/null || true
		wait "$agent_pid" 2>/dev/null || true
		rm -f "$demo_dir/signetd.pid"
	fi
	if [ "$rc" -ne 0 ]; then
		echo "demo.sh: FAILED (files in $demo_dir)" >&2
		[ -s "$demo_dir/signetd.log" ] && {
			echo "--- signetd.log:" >&2
			tail -n 30 "$demo_dir/signetd.log" >&2
		}
	elif [ "$stop_after" -eq 1 ] && [ "$made_dir" -eq 1 ]; then
		rm -rf "$demo_dir"
	fi
	exit "$rc"
}
trap cleanup EXIT

if [ -s "$demo_dir/signetd.pid" ] && kill -0 "$(cat "$demo_dir/signetd.pid")" 2>/dev/null; then
	echo "demo.sh: an agent from an earlier demo runs in $demo_dir;" \
		"stop it first: kill $(cat "$demo_dir/signetd.pid")" >&2
	exit 1
fi

step "Creating a demo token (scripts/mktoken.sh $demo_dir/token)"
MODULE=$MODULE bash "$root/scripts/mktoken.sh" --force "$demo_dir/token" "$PIN" >/dev/null
while IFS='=' read -r key value; do
	case "$key" in
	SOFTHSM2_CONF|TOKEN_LABEL|TOKEN_SERIAL|CA|RSA_SHA256|EC_SHA256) printf -v "$key" '%s' "$value" ;;
	esac
done <"$demo_dir/token/token.env"
export SOFTHSM2_CONF
echo "token '$TOKEN_LABEL' (serial $TOKEN_SERIAL), user PIN $PIN"
# From here on files are named relative to the demo directory.
cd "$demo_dir"
CA=token/ca.pem
echo "demo CA: $CA"

step "Starting signetd on $sock"
echo "\$ SOFTHSM2_CONF=$SOFTHSM2_CONF signetd --foreground --socket $sock --module $MODULE &"
# setsid: the agent outlives this script and the terminal's job control.
setsid "$signetd" --foreground --socket "$sock" --module "$MODULE" \
	</dev/null >"$demo_dir/signetd.log" 2>&1 &
agent_pid=$!
echo "$agent_pid" >"$demo_dir/signetd.pid"

# Ready when the socket accepts a connection.
sock_accepts() {
	python3 - "$1" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
except OSError:
    sys.exit(1)
EOF
}
for _ in $(seq 1 200); do
	kill -0 "$agent_pid" 2>/dev/null || { echo "demo.sh: signetd exited" >&2; exit 1; }
	sock_accepts "$sock" && break
	sleep 0.05
done
sock_accepts "$sock" || { echo "demo.sh: signetd is not listening on $sock" >&2; exit 1; }
echo "signetd running, pid $agent_pid"

signet() {
	show "$signet_bin" --socket "$sock" "$@"
}

step "What the agent offers"
signet info

step "Tokens"
signet tokens

step "Certificates"
signet certs

# Pick each certificate's selectors out of `certs --json`: the RSA one is
# named by its pkcs11: URI, the EC one by its SHA-256 fingerprint, the two
# forms a client may use.
certs_json=$("$signet_bin" --socket "$sock" certs --json)
cert_field() { # SHA256 FIELD
	python3 -c '
import json, sys
v = json.load(sys.stdin)
certs = v["certs"] if isinstance(v, dict) else v
m = [c for c in certs if c.get("sha256", "").lower() == sys.argv[1]]
if len(m) != 1:
    sys.exit("certificate %s: %d matches in certs --json" % (sys.argv[1], len(m)))
print(m[0][sys.argv[2]])
' "$1" "$2" <<<"$certs_json"
}
rsa_uri=$(cert_field "$RSA_SHA256" uri)
ec_sha=$(cert_field "$EC_SHA256" sha256)
echo "RSA certificate: $rsa_uri"
echo "EC certificate:  $ec_sha"

step "Logging in (the PIN goes over a descriptor, never on the command line)"
echo "\$ signet --socket $sock login --token $TOKEN_SERIAL --pin-fd 3 3<<<\"\$PIN\""
"$signet_bin" --socket "$sock" login --token "$TOKEN_SERIAL" --pin-fd 3 3<<<"$PIN"
signet tokens

doc=document.txt
cat >"$doc" <<EOF
Order No. 17 of $(date -u +%Y-%m-%d)
On approval of the document routing procedure.
Signed with Signet, a local signing agent.
EOF

step "Signing $doc"
signet sign --cert "$rsa_uri" -o document.rsa.sig "$doc"
signet sign --cert "$ec_sha" -o document.ec.sig "$doc"
ls -l document.*.sig

step "Verifying"
for alg in rsa ec; do
	sig=document.$alg.sig
	signet verify "$doc" "$sig" --ca "$CA"
	show openssl cms -verify -binary -inform DER -in "$sig" -content "$doc" \
		-CAfile "$CA" -out /dev/null
done

step "A changed document must not verify"
cp "$doc" changed.txt
echo "one more line" >>changed.txt
if openssl cms -verify -binary -inform DER -in document.rsa.sig \
	-content changed.txt -CAfile "$CA" -out /dev/null 2>/dev/null; then
	echo "demo.sh: openssl accepted a changed document" >&2
	exit 1
fi
echo "openssl cms -verify refused changed.txt, as it should"

if [ "$stop_after" -eq 1 ]; then
	step "Stopping signetd"
	kill -TERM "$agent_pid"
	rc=0
	wait "$agent_pid" || rc=$?
	agent_pid=
	rm -f "$demo_dir/signetd.pid"
	if [ "$rc" -ne 0 ]; then
		echo "demo.sh: signetd exited $rc on SIGTERM" >&2
		exit 1
	fi
	echo "signetd stopped cleanly"
	echo
	echo "Demo complete."
	exit 0
fi

cat <<EOF

Demo complete. signetd is still running (pid $agent_pid), logged in to
the demo token. Files: $demo_dir
(document.txt, document.rsa.sig, document.ec.sig, token/ca.pem)

Use it:
  export SIGNET_SOCKET=$sock
  $signet_bin tokens
  $signet_bin certs
  $signet_bin sign --cert $ec_sha -o doc.sig FILE
  $signet_bin verify FILE doc.sig --ca $demo_dir/$CA
  $signet_bin logout

Stop it:
  kill \$(cat $demo_dir/signetd.pid)
EOF
