#!/usr/bin/env bash
# fuzz.sh: run each libFuzzer target for a bounded time and report its
# execution count.
#
# usage: scripts/fuzz.sh [-t SECONDS] [-B BUILD_DIR] [TARGET...]
#
#   -t SECONDS   time per target (default 60)
#   -B DIR       a build configured with CC=clang -DSIGNET_FUZZ=ON
#                (default build-fuzz); its bin/fuzz_* are the targets
#   TARGET       e.g. rpc selector (default: every bin/fuzz_* in DIR)
#
# Each target starts from its seed corpus fuzz/corpus/<target>/, which is
# only read; what it learns goes to DIR/fuzz-work/<target>/ and any crash,
# leak or timeout input to DIR/fuzz-artifacts/<target>/. On a finding the
# input path and the command that reproduces it are printed. fuzz/README.md
# says what to do with it (fix, then add the input to the corpus).
#
# Exits 1 if any target found something or did not run, 2 on bad usage.
set -euo pipefail

cd "$(dirname "$0")/.."
root=$(pwd)

secs=60
build=build-fuzz
while getopts "t:B:h" opt; do
	case "$opt" in
	t) secs=$OPTARG ;;
	B) build=$OPTARG ;;
	h)
		awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
		exit 0 ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
case "$secs" in
''|*[!0-9]*) echo "fuzz.sh: -t needs whole seconds" >&2; exit 2 ;;
esac
case "$build" in
/*) ;;
*) build=$root/$build ;;
esac

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for f in "$build"/bin/fuzz_*; do
		[ -x "$f" ] && targets+=("${f##*/fuzz_}")
	done
fi
if [ ${#targets[@]} -eq 0 ]; then
	echo "fuzz.sh: no fuzz_* in $build/bin; configure it with" \
		"CC=clang cmake -DSIGNET_FUZZ=ON -DSIGNET_SANITIZE=address,undefined" >&2
	exit 1
fi

# libFuzzer reads ASAN_OPTIONS (test.sh turns leak detection off where
# LeakSanitizer cannot run); abort_on_error would turn its own clean
# reports into a core dump attempt, so leave it to libFuzzer.
export ASAN_OPTIONS="${ASAN_OPTIONS:-}${ASAN_OPTIONS:+:}abort_on_error=0"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

status=0
summary=()
for t in "${targets[@]}"; do
	bin=$build/bin/fuzz_$t
	seeds=$root/fuzz/corpus/$t
	work=$build/fuzz-work/$t
	art=$build/fuzz-artifacts/$t
	log=$build/fuzz-logs/$t.log
	if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
		echo "fuzz.sh: $t: missing $bin or $seeds" >&2
		summary+=("$(printf '%-14s %12s %10s %8s  %s' "$t" - - - "NOT RUN")")
		status=1
		continue
	fi
	mkdir -p "$work" "$art" "${log%/*}"
	echo "==> fuzz_$t for ${secs}s (log: $log)"
	rc=0
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$art/" \
		"$work" "$seeds" >"$log" 2>&1 || rc=$?
	execs=$(awk '/stat::number_of_executed_units:/ { print $2 }' "$log")
	rate=$(awk '/stat::average_exec_per_sec:/ { print $2 }' "$log")
	corp=$(find "$work" -type f | wc -l)
	if [ "$rc" -eq 0 ]; then
		result=ok
	else
		result="FAILED (exit $rc)"
		status=1
		echo "fuzz.sh: fuzz_$t found a problem; the end of its log:" >&2
		grep -v -E '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)' "$log" | tail -n 60 >&2
		for a in "$art"/*; do
			[ -f "$a" ] || continue
			echo "fuzz.sh: input: $a" >&2
			echo "fuzz.sh: reproduce: $bin $a" \
				"(or $build/bin/replay_$t $a)" >&2
		done
	fi
	echo "fuzz_$t: ${execs:-?} executions in ${secs}s (${rate:-?}/s), corpus $corp files: $result"
	summary+=("$(printf '%-14s %12s %10s %8s  %s' "$t" "${execs:-?}" \
		"${rate:-?}" "$corp" "$result")")
done

echo
echo "fuzz.sh: ${secs}s per target"
printf '%-14s %12s %10s %8s  %s\n' target executions exec/s corpus result
printf '%s\n' "${summary[@]}"
exit "$status"
