#!/bin/sh
# signet's command line, no agent: usage errors exit 64, an agent that
# cannot be reached exits 69, --help exits 0.
# usage: client_usage.sh PATH-TO-signet
set -u
signet=$1
fail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/signet-usage.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# expect STATUS STDERR-SUBSTRING CMD...
expect() {
	want=$1 text=$2
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	got=$?
	if [ "$got" -ne "$want" ]; then
		echo "FAIL: $*: exit $got, wanted $want" >&2
		sed 's/^/  stderr: /' "$tmp/err" >&2
		fail=1
	elif [ -n "$text" ] && ! grep -qF -- "$text" "$tmp/err"; then
		echo "FAIL: $*: stderr lacks '$text'" >&2
		sed 's/^/  stderr: /' "$tmp/err" >&2
		fail=1
	fi
}

unset SIGNET_SOCKET XDG_RUNTIME_DIR
expect 64 "signet: unknown command 'frobnicate' (usage)" "$signet" frobnicate
expect 64 "usage: signet" "$signet"
expect 64 "unknown option '--bogus'" "$signet" --bogus info
expect 64 "--socket needs a path" "$signet" --socket
expect 64 "signet: sign: --cert is required (usage)" "$signet" sign doc.txt
expect 64 "no file to sign" "$signet" sign --cert x
expect 64 "bad option" "$signet" sign --cert
expect 64 "bad option '--nope'" "$signet" tokens --nope
expect 64 "unexpected argument 'extra'" "$signet" info extra
expect 64 "need a file and its signature" "$signet" verify onlyone
expect 64 "exclude each other" "$signet" verify --ca x --no-chain a b
expect 64 "bad descriptor 'x'" "$signet" login --pin-fd x
expect 64 "descriptor 77 is not open" "$signet" login --pin-fd 77
expect 64 "unsupported digest 'sha1' (usage)" "$signet" sign --cert x --digest sha1 doc
expect 64 "exclude each other" "$signet" sign --cert x --batch --one-by-one a b
expect 64 "-o works with a single file only" "$signet" sign --cert x -o o a b
expect 64 "unexpected argument 'now'" "$signet" lock now
expect 64 "unexpected argument 'x'" "$signet" watch x
expect 64 "bad option '--follow'" "$signet" watch --follow

# Unreachable agent: 69, whichever way the socket was named.
expect 69 "signet: info: cannot connect to $tmp/none.sock" \
	env SIGNET_SOCKET="$tmp/none.sock" "$signet" info
expect 69 "(connect_failed)" "$signet" --socket "$tmp/none.sock" tokens
expect 69 "(connect_failed)" "$signet" --socket="$tmp/none.sock" certs
expect 69 "(connect_failed)" \
	env XDG_RUNTIME_DIR="$tmp" "$signet" logout
expect 69 "$tmp/signet/agent.sock" env XDG_RUNTIME_DIR="$tmp" "$signet" info
expect 69 "(no_socket)" "$signet" info
echo doc >"$tmp/doc"
expect 69 "(connect_failed)" env SIGNET_SOCKET="$tmp/none.sock" \
	"$signet" sign --cert x "$tmp/doc"
[ -e "$tmp/doc.sig" ] && { echo "FAIL: sign left $tmp/doc.sig" >&2; fail=1; }
# Every digest the agent knows is accepted (it is the agent that says no).
for d in sha256 sha384 sha512 streebog256 streebog512; do
	expect 69 "(connect_failed)" env SIGNET_SOCKET="$tmp/none.sock" \
		"$signet" sign --cert x --digest "$d" "$tmp/doc"
done
expect 69 "(connect_failed)" env SIGNET_SOCKET="$tmp/none.sock" "$signet" lock
expect 69 "(connect_failed)" env SIGNET_SOCKET="$tmp/none.sock" "$signet" watch

for c in info tokens certs login logout lock sign watch verify; do
	expect 0 "" "$signet" "$c" --help
	grep -q "^usage: signet $c" "$tmp/out" || {
		echo "FAIL: signet $c --help: no usage line" >&2; fail=1; }
done
expect 0 "" "$signet" --help
grep -q "verify" "$tmp/out" || { echo "FAIL: --help lists no commands" >&2; fail=1; }
expect 0 "" "$signet" --version
grep -q "^signet [0-9]" "$tmp/out" || { echo "FAIL: --version" >&2; fail=1; }

[ "$fail" -eq 0 ] && echo "client_usage: ok"
exit "$fail"
