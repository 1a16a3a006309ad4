#!/usr/bin/env bash
# valgrind.sh: the integration tests with signetd and its PKCS#11 helpers
# under valgrind memcheck; any memcheck error or definite leak fails.
#
# usage: scripts/valgrind.sh [-B DIR] [-j N] [-R REGEX]
#
#   -B DIR    a built tree without sanitizers (default build-test)
#   -j N      tests run at once (default: nproc)
#   -R REGEX  run the tests ctest -R REGEX selects instead (below)
#
# Every signetd that tests/lib/agent.py starts runs as
#   valgrind --error-exitcode=99 --leak-check=full
#            --errors-for-leak-kinds=definite --trace-children=yes ...
#            signetd ARGS
# (SIGNET_AGENT_WRAPPER), and so does each signet-pkcs11-helper it execs
# (other programs it execs, from /usr, /bin or the tests' fake_pinentry,
# run natively). Two ways to fail, so neither hides the other:
#   - Agent.stop() asserts exit status 0, and valgrind exits 99 when it
#     reported an error (invalid access, uninitialised value used, bad
#     free, overlap) or a definite leak: the test that stopped that agent
#     fails;
#   - each process writes its report to DIR/valgrind/logs/vg.PID.log; at
#     the end every report is read, and any error in one fails this script
#     with the report printed: also from a helper (whose exit status only
#     signetd sees) or an agent a test killed.
# Possibly-lost and still-reachable blocks are not errors: OpenSSL, the
# gost engine, SoftHSM and jansson keep tables for the life of a process.
# SIGNET_VALGRIND_EXTRA adds options (e.g. --track-origins=yes).
#
# Debian 12's valgrind (3.19) does not know pidfd_open(2), through which
# signetd watches its helpers (without it signetd gives every helper up);
# tests/valgrind/pidfd_preload.c, preloaded into signetd, supplies it (see
# that file). It is built here, not by CMake.
#
# Selection: the tests of tests/integration.cmake (label integration,
# named integration_*: each starts signetd through the harness), except
# integration_bigdoc: it signs a 1 GiB document (many minutes under
# valgrind) and judges RSS, which means nothing there; small documents by
# descriptor and inline, their errors and repeated requests are exercised
# by integration_sign and integration_errors. The other integration tests
# (harness_token, demo_script, pinentry_tty_test, p11helper_*) start no
# signetd through the harness, so the wrapper would not reach them.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

build=$root/build-test
jobs=$(nproc 2>/dev/null || echo 2)
regex=
while getopts "B:j:R:h" opt; do
	case "$opt" in
	B) build=$OPTARG ;;
	j) jobs=$OPTARG ;;
	R) regex=$OPTARG ;;
	h)
		awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
		exit 0 ;;
	*) exit 2 ;;
	esac
done
case "$build" in
/*) ;;
*) build=$root/$build ;;
esac

[ -x "$build/bin/signetd" ] || {
	echo "valgrind.sh: no $build/bin/signetd; build first" >&2
	exit 1
}
if grep -q '^SIGNET_SANITIZE:STRING=.' "$build/CMakeCache.txt" 2>/dev/null; then
	echo "valgrind.sh: $build is built with sanitizers; valgrind needs a" \
		"plain build" >&2
	exit 1
fi

if ! command -v valgrind >/dev/null 2>&1; then
	if [ "$(id -u)" -eq 0 ]; then
		echo "valgrind.sh: installing valgrind"
		DEBIAN_FRONTEND=noninteractive apt-get install -y \
			--no-install-recommends valgrind >/dev/null ||
			{ apt-get update >/dev/null &&
			  DEBIAN_FRONTEND=noninteractive apt-get install -y \
				--no-install-recommends valgrind >/dev/null; }
	else
		echo "valgrind.sh: valgrind is not installed" >&2
		exit 1
	fi
fi
echo "valgrind.sh: $(valgrind --version), $build"

vgdir=$build/valgrind
logs=$vgdir/logs
rm -rf "$logs"
mkdir -p "$logs"
${CC:-cc} -std=gnu11 -O2 -fPIC -shared -Wall -Wextra -Werror \
	-o "$vgdir/pidfd_preload.so" "$root/tests/valgrind/pidfd_preload.c" \
	-ldl -lpthread

# Parsed with shlex by the harness: paths quoted with %q.
export SIGNET_AGENT_WRAPPER="env LD_PRELOAD=$(printf %q "$vgdir/pidfd_preload.so")
	valgrind --tool=memcheck --error-exitcode=99 --leak-check=full
	--errors-for-leak-kinds=definite --show-leak-kinds=definite
	--track-fds=no --child-silent-after-fork=yes --num-callers=30
	--trace-children=yes --trace-children-skip=/usr/*,/bin/*,*/fake_pinentry
	${SIGNET_VALGRIND_EXTRA:-} --quiet
	--log-file=$(printf %q "$logs/vg.%p.log")"

status=0
t0=$(date +%s)
if [ -n "$regex" ]; then
	select=(-R "$regex")
else
	select=(-L '^integration$' -R '^integration_' -E '^integration_bigdoc$')
fi
(cd "$build" && ctest --output-on-failure -j "$jobs" "${select[@]}") || status=1
t1=$(date +%s)

# A report's headline is "==PID== Text" (its stack lines are indented);
# "Warning:" lines (e.g. large allocations) and valgrind's own notices
# ("--PID--") are not errors.
runs=0
bad=0
for f in "$logs"/vg.*.log; do
	[ -e "$f" ] || continue
	runs=$((runs + 1))
	if awk '/^==[0-9]+== [^ ]/ && !/^==[0-9]+== Warning:/ { bad = 1 }
	    END { exit !bad }' "$f"; then
		bad=$((bad + 1))
		echo
		echo "valgrind.sh: memcheck report $f:"
		cat "$f"
	fi
done
echo
echo "valgrind.sh: $runs processes (signetd and helpers) under memcheck" \
	"in $((t1 - t0)) s; $bad with errors or definite leaks"
[ "$runs" -gt 0 ] || { echo "valgrind.sh: nothing ran under valgrind" >&2; status=1; }
[ "$bad" -eq 0 ] || status=1
[ "$status" -eq 0 ] || echo "valgrind.sh: FAILED" >&2
exit "$status"
