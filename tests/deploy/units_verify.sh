#!/usr/bin/env bash
# units_verify.sh SRCDIR STAGE: `systemd-analyze verify` accepts the
# installed units, silently, and rejects broken copies.
#
# STAGE is `cmake --install --prefix /usr` with DESTDIR=STAGE. The system
# units are verified with --root on a copy of STAGE that also holds the
# host's own units (sysinit.target and friends), so ExecStart=/usr/bin/
# signetd is checked against the staged binary. systemd-analyze refuses
# --root for --user, so the user units are verified in place with
# ExecStart pointing into STAGE. Documentation=man:signetd(8) is looked up
# in STAGE's man pages. verify exits 0 on many problems (it
# prints "..., ignoring"), so any output at all is a failure.
set -euo pipefail

src=${1:?usage: units_verify.sh SRCDIR STAGE}
stage=${2:?usage: units_verify.sh SRCDIR STAGE}
command -v systemd-analyze >/dev/null || { echo "FAIL: systemd-analyze missing (package systemd)" >&2; exit 1; }
hostunits=/usr/lib/systemd/system
[ -e "$hostunits/sysinit.target" ] || hostunits=/lib/systemd/system
[ -e "$hostunits/sysinit.target" ] || { echo "FAIL: no systemd units on this machine (package systemd)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
root=$tmp/root
cp -a "$stage" "$root"
cp -rn "$hostunits/." "$root/usr/lib/systemd/system/"
mkdir -p "$root/usr/lib/systemd/user"
[ -d /usr/lib/systemd/user ] && cp -rn /usr/lib/systemd/user/. "$root/usr/lib/systemd/user/"
mkdir -m 0700 "$tmp/xdg"
# verify runs `man` for each Documentation=man:... entry: on the staged pages.
export XDG_RUNTIME_DIR=$tmp/xdg SYSTEMD_LOG_COLOR=0 MANPATH=$stage/usr/share/man

# check EXPECT NAME COMMAND...: EXPECT is "clean" or "complaint"
check() {
	local expect=$1 name=$2 rc=0
	shift 2
	"$@" >"$tmp/out.txt" 2>&1 || rc=$?
	if [ "$expect" = clean ] && [ "$rc" -eq 0 ] && [ ! -s "$tmp/out.txt" ]; then
		echo "ok: $name: verified, no output"
	elif [ "$expect" = complaint ] && { [ "$rc" -ne 0 ] || [ -s "$tmp/out.txt" ]; }; then
		echo "ok: $name: rejected: $(head -n1 "$tmp/out.txt")"
	else
		echo "FAIL: $name (exit $rc, expected $expect):" >&2
		cat "$tmp/out.txt" >&2
		fail=1
	fi
}

sys=/usr/lib/systemd/system
usr=/usr/lib/systemd/user

# The /usr install must carry the units exactly as they are in the tree:
# what systemd-analyze security rates is what gets installed.
for u in signetd.socket signetd.service; do
	cmp -s "$src/systemd/$u" "$stage$sys/$u" ||
		{ echo "FAIL: $sys/$u differs from systemd/$u" >&2; fail=1; }
	cmp -s "$src/systemd/user/$u" "$stage$usr/$u" ||
		{ echo "FAIL: $usr/$u differs from systemd/user/$u" >&2; fail=1; }
done

check clean "system units" \
	systemd-analyze verify --root="$root" "$sys/signetd.socket" "$sys/signetd.service"

mkdir "$tmp/user"
cp "$stage$usr/signetd.socket" "$tmp/user/"
sed "s#^ExecStart=/usr/bin/signetd #ExecStart=$stage/usr/bin/signetd #" \
	"$stage$usr/signetd.service" >"$tmp/user/signetd.service"
grep -q "^ExecStart=$stage/usr/bin/signetd " "$tmp/user/signetd.service" ||
	{ echo "FAIL: user unit's ExecStart is not /usr/bin/signetd" >&2; fail=1; }
check clean "user units" \
	systemd-analyze --user verify "$tmp/user/signetd.socket" "$tmp/user/signetd.service"

# Broken copies: the check must bite.
sed 's/^ProtectSystem=strict$/ProtectSytem=strict/' "$root$sys/signetd.service" \
	>"$root$sys/signetd-typo.service"
check complaint "misspelt directive" \
	systemd-analyze verify --root="$root" "$sys/signetd-typo.service"
sed 's/^Type=notify$/Type=notfy/' "$root$sys/signetd.service" >"$root$sys/signetd-type.service"
check complaint "bad service type" \
	systemd-analyze verify --root="$root" "$sys/signetd-type.service"
mv "$root/usr/bin/signetd" "$root/usr/bin/signetd.away"
check complaint "missing binary" \
	systemd-analyze verify --root="$root" "$sys/signetd.service"
mv "$root/usr/bin/signetd.away" "$root/usr/bin/signetd"
sed 's/^Type=notify$/Type=notfy/' "$tmp/user/signetd.service" >"$tmp/user/signetd-type.service"
check complaint "bad service type (user)" \
	systemd-analyze --user verify "$tmp/user/signetd-type.service"

# sysusers.d: the user and groups it declares, as systemd-sysusers makes them.
if command -v systemd-sysusers >/dev/null; then
	mkdir -p "$root/etc"
	systemd-sysusers --root="$root" "$root/usr/lib/sysusers.d/signet.conf" >/dev/null 2>&1 || true
	if grep -q '^signet:x:[0-9]*:[0-9]*:[^:]*:/var/lib/signet:/usr/sbin/nologin$' "$root/etc/passwd" 2>/dev/null &&
		grep -q '^signet-users:' "$root/etc/group" && grep -q '^signet:' "$root/etc/group"; then
		echo "ok: sysusers.d/signet.conf makes signet, signet-users"
	else
		echo "FAIL: systemd-sysusers did not make user signet and group signet-users:" >&2
		cat "$root/etc/passwd" "$root/etc/group" >&2 2>/dev/null || true
		fail=1
	fi
fi

exit "$fail"
