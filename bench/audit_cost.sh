#!/usr/bin/env bash
# audit_cost.sh: what durable audit costs per signature (issue 5).
#
# usage: bench/audit_cost.sh [--seconds N] [--clients T] [--build-dir D]
#
# One SoftHSM2 token, one signetd at a time, the same EC P-256 key and
# sign_bench load (T clients, 1 KiB inline documents), the audit log in:
#   disk   a directory on this machine's disk (/var/tmp): every record is
#          fdatasync'ed before its signature is returned, grouped per
#          commit by the writer thread;
#   tmpfs  a directory on /dev/shm: the same records, the same writer,
#          but fdatasync costs nothing, so this is the agent with the
#          durability wait taken out.
# There is no agent "without audit" to compare with: signetd never signs
# without its record (docs/audit.md), so tmpfs is the closest baseline.
# Prints signatures/s, p50/p99 latency for both, and disk/tmpfs ratios.
# A benchmark: never run by ctest or CI.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(dirname "$here")
seconds=5
clients=4
build=$repo/build
while [ $# -gt 0 ]; do
	case "$1" in
	--seconds) seconds=$2; shift ;;
	--clients) clients=$2; shift ;;
	--build-dir) build=$2; shift ;;
	*) sed -n '4p' "$0" >&2; exit 2 ;;
	esac
	shift
done

work=$(mktemp -d /var/tmp/signet-audit-cost.XXXXXX)
shm=$(mktemp -d /dev/shm/signet-audit-cost.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work" "$shm"
}
trap cleanup EXIT

eval "$(bash "$repo/scripts/mktoken.sh" "$work/token" | grep -E '^(SOFTHSM2_CONF|EC_SHA256|PIN)=')"
export SOFTHSM2_CONF

run() { # NAME AUDIT_DIR
	local sock=$work/$1.sock out
	XDG_CONFIG_HOME=$work/$1-config "$build/bin/signetd" --foreground \
	    --socket "$sock" --module /usr/lib/softhsm/libsofthsm2.so \
	    --audit-dir "$2" 2>"$work/$1.log" &
	pid=$!
	for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.05; done
	"$build/bin/signet" --socket "$sock" login --pin-fd 3 3<<<"$PIN" >/dev/null
	out=$("$build/bin/sign_bench" --socket "$sock" --cert "$EC_SHA256" \
	    --clients "$clients" --seconds "$seconds")
	kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
	echo "$out"
}

disk=$(run disk "$work/audit")
tmpfs=$(run tmpfs "$shm/audit")
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2" | head -1; }
echo "audit on disk : $disk"
echo "audit on tmpfs: $tmpfs"
awk -v d="$(field rate "$disk")" -v t="$(field rate "$tmpfs")" \
    'BEGIN { printf "disk/tmpfs throughput: %.2f (%d clients)\n", d / t, '"$clients"' }'
