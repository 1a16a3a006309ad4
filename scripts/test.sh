#!/usr/bin/env bash
# test.sh: build Signet and run every test.
#
# usage: scripts/test.sh [--no-deps] [--quick]
#
#   1. scripts/install-deps.sh                     (skipped with --no-deps)
#   2. build-test/: default compiler, -Werror; ctest, but the load tests
#   3. build-test/: the load tests (ctest -L load), verbose: their rates,
#      latencies, descriptor and memory numbers go to the log
#   4. scripts/static-analysis.sh: cppcheck, clang-tidy (build-analysis/)
#   5. scripts/valgrind.sh on build-test/: the integration tests with
#      signetd and its helpers under valgrind memcheck (skipped with --quick)
#   6. build-asan/: clang, AddressSanitizer + UBSan, -Werror; ctest
#                                                  (skipped with --quick)
#   7. build-fuzz/: clang, libFuzzer + ASan/UBSan; scripts/fuzz.sh runs
#      each fuzzer for SIGNET_FUZZ_SECONDS (default 60) (skipped with --quick)
#
# Exits non-zero if any build, test, analysis or fuzzer fails. The stages
# after a failure still run, so one run shows everything.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

deps=1
quick=0
for arg in "$@"; do
	case "$arg" in
	--no-deps) deps=0 ;;
	--quick) quick=1 ;;
	-h|--help)
		awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
		exit 0 ;;
	*) echo "test.sh: unknown argument $arg" >&2; exit 2 ;;
	esac
done

jobs=$(nproc 2>/dev/null || echo 2)
# A hung test must not eat the CI budget; tests that need longer set their
# own TIMEOUT property.
ctest_args=(--output-on-failure --timeout 600)
status=0

stage() {
	echo
	echo "==> $*"
}

if [ "$deps" -eq 1 ]; then
	stage "installing dependencies"
	bash "$root/scripts/install-deps.sh"
fi

stage "build-test: ${CC:-cc}, -Werror"
cmake -S "$root" -B "$root/build-test" -DSIGNET_WERROR=ON
cmake --build "$root/build-test" -j "$jobs"

stage "build-test: ctest (but the load tests)"
(cd "$root/build-test" && ctest "${ctest_args[@]}" -LE '^load$') || status=1

# Alone, after the rest (they measure), and verbose, so that the log shows
# what they measured and not only that they passed.
stage "build-test: load tests (ctest -L load)"
(cd "$root/build-test" && ctest "${ctest_args[@]}" -L '^load$' -V) || status=1

stage "static analysis: cppcheck, clang-tidy"
bash "$root/scripts/static-analysis.sh" -B "$root/build-analysis" -j "$jobs" || status=1

if [ "$quick" -eq 1 ]; then
	[ "$status" -eq 0 ] || echo "test.sh: FAILED (build-test or static analysis)" >&2
	exit "$status"
fi

stage "valgrind: integration tests under memcheck (build-test)"
bash "$root/scripts/valgrind.sh" -B "$root/build-test" -j "$jobs" || status=1

# LeakSanitizer stops the process with ptrace to scan it; some sandboxes
# (CI containers among them) forbid that and every sanitized program then
# dies at exit. Probe once with a program that leaks nothing: if it cannot
# exit cleanly with leak detection on, run without it and say so.
lsan_probe() {
	local dir rc=0
	dir=$(mktemp -d)
	printf 'int main(void) { return 0; }\n' >"$dir/p.c"
	if ! clang -fsanitize=address -o "$dir/p" "$dir/p.c" 2>"$dir/err"; then
		cat "$dir/err" >&2
		rm -rf "$dir"
		return 2
	fi
	ASAN_OPTIONS=detect_leaks=1 "$dir/p" >/dev/null 2>&1 || rc=1
	rm -rf "$dir"
	return "$rc"
}

leaks=1
lsan_probe || {
	rc=$?
	if [ "$rc" -eq 2 ]; then
		echo "test.sh: clang cannot build with AddressSanitizer" >&2
		exit 1
	fi
	leaks=0
	echo "test.sh: NOTICE: LeakSanitizer does not work here (ptrace refused?);" \
		"running the sanitizer build with detect_leaks=0"
}
export ASAN_OPTIONS="detect_leaks=$leaks:abort_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

stage "build-asan: clang, address,undefined, -Werror"
CC=clang cmake -S "$root" -B "$root/build-asan" -DSIGNET_WERROR=ON \
	-DSIGNET_SANITIZE=address,undefined
cmake --build "$root/build-asan" -j "$jobs"

stage "build-asan: ctest (ASAN_OPTIONS=$ASAN_OPTIONS)"
(cd "$root/build-asan" && ctest "${ctest_args[@]}") || status=1

fuzz_secs=${SIGNET_FUZZ_SECONDS:-60}
stage "build-fuzz: clang, libFuzzer + address,undefined"
CC=clang cmake -S "$root" -B "$root/build-fuzz" -DSIGNET_FUZZ=ON \
	-DSIGNET_SANITIZE=address,undefined
cmake --build "$root/build-fuzz" -j "$jobs" --target fuzzers

stage "build-fuzz: each fuzzer for ${fuzz_secs}s"
bash "$root/scripts/fuzz.sh" -t "$fuzz_secs" -B "$root/build-fuzz" || status=1

if [ "$status" -ne 0 ]; then
	echo "test.sh: FAILED: see the output above" >&2
fi
exit "$status"
