#!/usr/bin/env bash
# security.sh SRCDIR: the system unit's exposure, as systemd-analyze rates
# it offline, must stay at or below 1.5. Also rates the drop-in the unit
# documents for vendor modules that open USB devices themselves, and a
# weakened copy that must fail, so the parsing is known to bite.
set -euo pipefail

src=${1:?usage: security.sh SRCDIR}
unit=$src/systemd/signetd.service
limit=1.5
command -v systemd-analyze >/dev/null || { echo "systemd-analyze missing (package systemd)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# exposure FILE: print the overall exposure level, e.g. 0.4
exposure() {
	local out
	out=$(cd "$(dirname "$1")" && systemd-analyze security --offline=true \
		--no-pager "./$(basename "$1")" 2>&1) || true
	printf '%s\n' "$out" >"$tmp/last.txt"
	printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\) .*/\1/p'
}

# within SCORE: true when SCORE <= limit
within() {
	awk -v s="$1" -v l="$limit" 'BEGIN { exit !(s + 0 <= l + 0) }'
}

fail=0
score=$(exposure "$unit")
if [ -z "$score" ]; then
	echo "FAIL: no exposure level in the output:" >&2
	cat "$tmp/last.txt" >&2
	exit 1
fi
echo "signetd.service: exposure $score (limit $limit)"
if ! within "$score"; then
	echo "FAIL: exposure $score is over $limit; failing checks:" >&2
	grep '✗' "$tmp/last.txt" >&2 || true
	fail=1
fi

# The drop-in documented in the unit for direct USB access.
sed -e 's/^PrivateDevices=yes$/PrivateDevices=no\nDeviceAllow=char-usb_device rw\nDeviceAllow=char-hidraw rw/' \
	"$unit" >"$tmp/signetd-usb.service"
grep -q '^DeviceAllow=char-usb_device rw$' "$tmp/signetd-usb.service" ||
	{ echo "FAIL: PrivateDevices=yes not found in the unit" >&2; exit 1; }
usb=$(exposure "$tmp/signetd-usb.service")
echo "with the direct-USB drop-in: exposure $usb"
if [ -z "$usb" ] || ! within "$usb"; then
	echo "FAIL: the documented USB drop-in rates ${usb:-?}, over $limit" >&2
	fail=1
fi

# A unit without the hardening must be rated over the limit.
sed -n '/^\[Unit\]/,/^NoNewPrivileges=/p' "$unit" | grep -v '^NoNewPrivileges=' \
	>"$tmp/signetd-weak.service"
printf '\n[Install]\nAlso=signetd.socket\n' >>"$tmp/signetd-weak.service"
weak=$(exposure "$tmp/signetd-weak.service")
echo "unhardened copy: exposure $weak"
if [ -z "$weak" ] || within "$weak"; then
	echo "FAIL: an unhardened copy rates ${weak:-?}: the check cannot fail" >&2
	fail=1
fi

exit "$fail"
