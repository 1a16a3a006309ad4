#!/usr/bin/env bash
# deb.sh TREE VERSION: `cpack -G DEB` in TREE (configured for /usr) builds
# signet_VERSION_ARCH.deb with the expected control data and files only in
# the usual places; then, as root on a Debian machine (CI), the package
# installs with apt-get, creates the user signet and the group
# signet-users, its signetd runs and finds its helper, and it purges
# cleanly. A signet package installed before the test is purged first, so
# the test can run again and again.
set -euo pipefail

tree=${1:?usage: deb.sh TREE VERSION}
version=${2:?usage: deb.sh TREE VERSION}
arch=$(dpkg --print-architecture)
deb=$tree/signet_${version}_${arch}.deb
fail=0

tmp=$(mktemp -d)
installed=0
agent=
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	[ -z "$agent" ] || kill "$agent" 2>/dev/null || true
	if [ "$installed" = 1 ]; then
		apt_get purge -y signet >/dev/null 2>&1 || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

apt_get() {
	DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 -q "$@"
}
die() {
	echo "FAIL: $*" >&2
	exit 1
}
# field NAME: a control field of the package
field() {
	dpkg-deb -f "$deb" "$1"
}

# ---- build ----------------------------------------------------------------
rm -f "$tree"/signet_*.deb
(cd "$tree" && cpack -G DEB >"$tmp/cpack.log" 2>&1) || { cat "$tmp/cpack.log" >&2; die "cpack -G DEB failed"; }
[ -f "$deb" ] || die "no $deb; cpack made: $(ls "$tree"/*.deb 2>/dev/null)"
echo "ok: built $(basename "$deb")"

[ "$(field Package)" = signet ] || die "Package: $(field Package)"
[ "$(field Version)" = "$version" ] || die "Version: $(field Version)"
depends=$(field Depends)
for d in adduser libc6 libssl3 libjansson4 libsystemd0; do
	[[ ", $depends," == *", $d"[\ ,]* ]] || { echo "FAIL: Depends lacks $d: $depends" >&2; fail=1; }
done
recommends=$(field Recommends)
for d in p11-kit opensc-pkcs11; do
	[[ ", $recommends," == *", $d"[\ ,]* ]] || { echo "FAIL: Recommends lacks $d: $recommends" >&2; fail=1; }
done
echo "ok: Depends: $depends"
echo "ok: Recommends: $recommends"

mkdir "$tmp/control"
dpkg-deb -e "$deb" "$tmp/control"
for s in postinst prerm postrm; do
	[ -x "$tmp/control/$s" ] || { echo "FAIL: no executable $s" >&2; fail=1; }
done
grep -qx /etc/signet/signet.conf "$tmp/control/conffiles" ||
	{ echo "FAIL: /etc/signet/signet.conf is not a conffile" >&2; fail=1; }
grep -q 'adduser --system' "$tmp/control/postinst" ||
	{ echo "FAIL: postinst does not create the user" >&2; fail=1; }

# Files: /usr and /etc/signet only, owned by root.
dpkg-deb -c "$deb" >"$tmp/contents"
awk '{ print $6 }' "$tmp/contents" | sed 's#^\./#/#' >"$tmp/paths"
bad=$(grep -v -E '^/$|^/etc/$|^/etc/signet/|^/usr/' "$tmp/paths" || true)
[ -z "$bad" ] || { echo "FAIL: files outside /usr and /etc/signet: $bad" >&2; fail=1; }
for p in /usr/bin/signetd /usr/bin/signet /usr/libexec/signet/signet-pkcs11-helper \
	/usr/lib/systemd/system/signetd.socket /usr/lib/systemd/system/signetd.service \
	/usr/lib/systemd/user/signetd.socket /usr/lib/systemd/user/signetd.service \
	/usr/lib/udev/rules.d/70-signet-tokens.rules /usr/lib/sysusers.d/signet.conf \
	/etc/signet/signet.conf /usr/share/man/man8/signetd.8; do
	grep -qx "$p" "$tmp/paths" || { echo "FAIL: $p not in the package" >&2; fail=1; }
done
owners=$(awk '{ print $2 }' "$tmp/contents" | sort -u)
[ "$owners" = root/root ] || { echo "FAIL: file owners: $owners" >&2; fail=1; }
[ "$fail" -eq 0 ] && echo "ok: $(wc -l <"$tmp/paths") entries, all under /usr or /etc/signet, root-owned"

# ---- install ----------------------------------------------------------------
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
	echo "SKIP: installing needs root and apt-get (package checks above passed: $fail failures)"
	[ "$fail" -eq 0 ] && exit 77
	exit 1
fi

if dpkg-query -W -f='${Status}' signet 2>/dev/null | grep -q 'install ok installed'; then
	echo "note: purging a signet package installed before this test"
	apt_get purge -y signet >/dev/null
fi
installed=1
apt_get install -y --no-install-recommends "$deb" >"$tmp/apt.log" 2>&1 ||
	{ cat "$tmp/apt.log" >&2; die "apt-get install $deb failed"; }
dpkg-query -W -f='${Status} ${Version}\n' signet | grep -qx "install ok installed $version" ||
	die "dpkg does not show signet $version installed"
echo "ok: apt-get install ./$(basename "$deb")"

out=$(/usr/bin/signetd --version) || die "/usr/bin/signetd --version failed"
[[ "$out" == "signetd $version "* ]] || die "signetd --version said: $out"
echo "ok: $out"

pw=$(getent passwd signet) || die "no user signet after install"
IFS=: read -r _ _ uid _ _ home shell <<<"$pw"
[ "$uid" -lt 1000 ] || { echo "FAIL: signet is not a system user (uid $uid)" >&2; fail=1; }
[ "$home" = /var/lib/signet ] || { echo "FAIL: signet's home is $home" >&2; fail=1; }
[ "$shell" = /usr/sbin/nologin ] || { echo "FAIL: signet's shell is $shell" >&2; fail=1; }
getent group signet-users >/dev/null || { echo "FAIL: no group signet-users after install" >&2; fail=1; }
echo "ok: user signet (uid $uid, $home, $shell), group signet-users"

# The installed agent finds the installed helper (the prefix compiled in
# matches the package's), against a private, empty SoftHSM2 store.
if [ -r /usr/lib/softhsm/libsofthsm2.so ]; then
	mkdir "$tmp/tokens"
	printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\n' "$tmp" >"$tmp/softhsm2.conf"
	SOFTHSM2_CONF=$tmp/softhsm2.conf /usr/bin/signetd --foreground \
		--socket "$tmp/agent.sock" --module /usr/lib/softhsm/libsofthsm2.so 2>"$tmp/agent.log" &
	agent=$!
	for _ in $(seq 100); do
		[ -S "$tmp/agent.sock" ] && break
		sleep 0.1
	done
	if /usr/bin/signet --socket "$tmp/agent.sock" tokens >"$tmp/tokens.out" 2>&1 &&
		grep -q 'helper for /usr/lib/softhsm/libsofthsm2.so started' "$tmp/agent.log"; then
		echo "ok: installed signetd started /usr/libexec/signet/signet-pkcs11-helper"
	else
		echo "FAIL: installed signetd/helper did not answer tokens:" >&2
		cat "$tmp/tokens.out" "$tmp/agent.log" >&2
		fail=1
	fi
	kill -TERM "$agent"
	wait "$agent" || true
	agent=
fi

# ---- purge ------------------------------------------------------------------
apt_get purge -y signet >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log" >&2; die "apt-get purge signet failed"; }
installed=0
if dpkg-query -W -f='${Status}' signet 2>/dev/null | grep -q 'installed'; then
	echo "FAIL: signet still installed after purge" >&2
	fail=1
fi
for f in /usr/bin/signetd /etc/signet; do
	[ ! -e "$f" ] || { echo "FAIL: $f left after purge" >&2; fail=1; }
done
! getent passwd signet >/dev/null || { echo "FAIL: user signet left after purge" >&2; fail=1; }
! getent group signet-users >/dev/null || { echo "FAIL: group signet-users left after purge" >&2; fail=1; }
[ "$fail" -eq 0 ] && echo "ok: apt-get purge signet removed files, user and groups"
exit "$fail"
