#!/bin/sh
# streebog_bench.sh [BUILD_DIR] [MIB] [RUNS]: Streebog-256 of one large
# file (default 512 MiB) by descriptor through the agent's document path
# (build/bin/streebog_bench) against the gost engine's own digest in
# `openssl dgst -engine gost -md_gost12_256` on the same file, best of RUNS
# (default 3) each. Prints both rates, checks the digests agree, and the
# ratio agent/openssl (1.00 = the engine's speed). The file lives in
# $TMPDIR and is removed at the end. Not a test: it never fails on a number.
set -eu
build=${1:-build}
mib=${2:-512}
runs=${3:-3}
bench=$build/bin/streebog_bench
[ -x "$bench" ] || { echo "no $bench: build first" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/streebog-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
head -c "$((mib * 1024 * 1024))" /dev/urandom > "$tmp/doc"
cat "$tmp/doc" > /dev/null # page cache warm for both

agent=$("$bench" "$tmp/doc" 256 "$runs")
echo "agent path:   $agent"
best=
for i in $(seq "$runs"); do
	s=$(date +%s.%N)
	out=$(OPENSSL_CONF=/dev/null openssl dgst -engine gost -md_gost12_256 \
	    -r "$tmp/doc" 2>/dev/null)
	e=$(date +%s.%N)
	t=$(echo "$e - $s" | bc -l)
	if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then
		best=$t
	fi
done
odig=${out%% *}
orate=$(echo "$mib / $best" | bc -l)
printf 'openssl dgst: bytes=%d runs=%d best_s=%.3f rate_mib_s=%.1f digest=%s\n' \
    "$((mib * 1024 * 1024))" "$runs" "$best" "$orate" "$odig"
adig=${agent##*digest=}
arate=${agent#*rate_mib_s=}
arate=${arate%% *}
[ "$adig" = "$odig" ] || { echo "DIGESTS DIFFER" >&2; exit 1; }
printf 'ratio agent/openssl: %.2f (digests agree)\n' \
    "$(echo "$arate / $orate" | bc -l)"
