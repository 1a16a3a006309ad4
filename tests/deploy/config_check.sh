#!/usr/bin/env bash
# config_check.sh SIGNETD SRCDIR: signetd starts with the shipped
# etc/signet.conf and stops cleanly on SIGTERM; the example lines in it
# use only keys signetd knows; a copy with an invented key is refused with
# exit status 78.
set -euo pipefail

signetd=${1:?usage: config_check.sh SIGNETD SRCDIR}
src=${2:?usage: config_check.sh SIGNETD SRCDIR}
conf=$src/etc/signet.conf
module=/usr/lib/softhsm/libsofthsm2.so
[ -r "$module" ] || { echo "FAIL: $module missing (package softhsm2)" >&2; exit 1; }

tmp=$(mktemp -d)
pid=
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	[ -z "$pid" ] || kill "$pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
# A private, empty SoftHSM2 store: the system one is never touched.
mkdir "$tmp/tokens"
printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\n' "$tmp" >"$tmp/softhsm2.conf"
export SOFTHSM2_CONF=$tmp/softhsm2.conf

# 1. Keys in the example lines, commented out or not.
keys=$(sed -n 's/^#\{0,1\}[[:space:]]*\([a-z_]*\)[[:space:]]*=.*/\1/p' "$conf" | sort -u)
for k in $keys; do
	case "$k" in
	module | socket) ;;
	*) echo "FAIL: $conf shows key '$k', which signetd does not know" >&2; fail=1 ;;
	esac
done
if [ -z "$keys" ]; then
	echo "FAIL: no example key lines in $conf" >&2
	fail=1
else
	echo "ok: example keys: $(echo "$keys" | tr '\n' ' ')"
fi

# 2. The shipped file starts the agent.
"$signetd" --foreground --config "$conf" --socket "$tmp/agent.sock" \
	--module "$module" 2>"$tmp/log" &
pid=$!
for _ in $(seq 100); do
	[ -S "$tmp/agent.sock" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if [ -S "$tmp/agent.sock" ]; then
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	pid=
	if [ "$rc" -eq 0 ]; then
		echo "ok: signetd runs with etc/signet.conf and stops on SIGTERM with 0"
	else
		echo "FAIL: signetd exited $rc after SIGTERM:" >&2
		cat "$tmp/log" >&2
		fail=1
	fi
else
	echo "FAIL: signetd did not listen with etc/signet.conf:" >&2
	cat "$tmp/log" >&2
	fail=1
fi

# 3. An invented key is refused, naming file and line.
cp "$conf" "$tmp/bad.conf"
printf 'policy = /etc/signet/policy.json\n' >>"$tmp/bad.conf"
rc=0
# This checks the refusal, not memory: in a sanitizer build, signetd's
# early "return EXIT_CONFIG" in main() leaves the parsed configuration to
# the exit (LeakSanitizer would turn 78 into an abort).
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
timeout 10 "$signetd" --foreground --config "$tmp/bad.conf" \
	--socket "$tmp/bad.sock" --module "$module" 2>"$tmp/badlog" || rc=$?
if [ "$rc" -eq 78 ] && grep -q "bad.conf:[0-9]*: unknown key 'policy'" "$tmp/badlog"; then
	echo "ok: an unknown key stops signetd with 78: $(head -n1 "$tmp/badlog")"
else
	echo "FAIL: unknown key: exit $rc, expected 78:" >&2
	cat "$tmp/badlog" >&2
	fail=1
fi

exit "$fail"
