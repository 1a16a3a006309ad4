#!/usr/bin/env bash
# sandbox.sh SRCDIR STAGE: the system units, hardening and all, really run
# the agent. A private systemd (PID 1 of new PID, mount, UTS, IPC and
# network namespaces, reading units only from a temporary directory) gets
# the staged signetd.socket and signetd.service; the staged /usr and a
# passwd with the user signet are overlaid on the real ones inside the
# mount namespace only. Then, as a client (root) would:
#   - the socket is root:signet-users 0660 and activates the service;
#   - the agent runs as signet with no capabilities, no_new_privs and a
#     seccomp filter, execs its helper, loads SoftHSM2 and OpenSC under
#     MemoryDenyWriteExecute, and OpenSC reaches pcscd's socket;
#   - login, sign and an openssl verification of the signature;
#   - a crash is restarted (Restart=on-failure), a stop is clean.
# Skips where it cannot run: not root, or a machine whose PID 1 is systemd
# (this test is for containers and CI; there, use the real units).
set -euo pipefail

src=${1:?usage: sandbox.sh SRCDIR STAGE}
stage=${2:?usage: sandbox.sh SRCDIR STAGE}
skip() {
	echo "SKIP: $*"
	exit 77
}
[ "$(id -u)" -eq 0 ] || skip "needs root"
[ ! -d /run/systemd/system ] || skip "the machine runs systemd; not starting a second one"
sd=/lib/systemd/systemd
[ -x "$sd" ] || sd=/usr/lib/systemd/systemd
[ -x "$sd" ] || skip "no systemd binary"
for t in unshare nsenter openssl softhsm2-util pkcs11-tool; do
	command -v "$t" >/dev/null || { echo "FAIL: $t missing" >&2; exit 1; }
done

tmp=$(mktemp -d)
chmod 755 "$tmp"
ns=
cgroups_before=$(find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d 2>/dev/null | sort)
# shellcheck disable=SC2317 # called by the trap
cleanup() {
	local init left d
	if [ -n "$ns" ]; then
		# SIGTERM makes systemd re-execute itself; SIGKILL on the
		# namespace's init ends every process in it.
		init=$(pgrep -P "$ns" || true)
		[ -z "$init" ] || kill -KILL "$init" 2>/dev/null || true
		kill -KILL "$ns" 2>/dev/null || true
		wait "$ns" 2>/dev/null || true
	fi
	# The cgroups the private systemd made, and only those; killed
	# processes leave them a moment later.
	for _ in $(seq 50); do
		left=$(comm -13 <(echo "$cgroups_before") \
			<(find /sys/fs/cgroup -mindepth 2 -maxdepth 2 -type d 2>/dev/null | sort) |
			grep -E '/(init\.scope|system\.slice)$' || true)
		[ -n "$left" ] || break
		for d in $left; do
			find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null || true
		done
		sleep 0.1
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
ok() { echo "ok: $*"; }
bad() {
	echo "FAIL: $*" >&2
	fail=1
}

# ---- what the private systemd sees -------------------------------------------
units=$tmp/units
mkdir -p "$units/signetd.service.d"
for t in signet-test.target sysinit.target sockets.target basic.target \
	shutdown.target paths.target timers.target local-fs.target slices.target; do
	printf '[Unit]\nDescription=%s\nDefaultDependencies=no\n' "$t" >"$units/$t"
done
cp "$stage/usr/lib/systemd/system/signetd.socket" "$stage/usr/lib/systemd/system/signetd.service" "$units/"
have_pcscd=0
if [ -f /lib/systemd/system/pcscd.socket ] && [ -x /usr/sbin/pcscd ]; then
	cp /lib/systemd/system/pcscd.socket /lib/systemd/system/pcscd.service "$units/"
	have_pcscd=1
fi
# Test-only settings: the private token, and the agent's stderr in a file
# (no journald here). The hardening is the unit's own.
cat >"$units/signetd.service.d/test.conf" <<'EOF'
[Service]
Environment=SOFTHSM2_CONF=/var/lib/signet/tok/softhsm2.conf
StandardOutput=append:/run/signetd-test.log
StandardError=append:/run/signetd-test.log
EOF

# /etc overlay: the configuration, and passwd/group with signet added
mkdir -p "$tmp/etc/signet"
cat >"$tmp/etc/signet/signet.conf" <<'EOF'
[agent]
module = /usr/lib/softhsm/libsofthsm2.so
module = /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
EOF
[ -r /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so ] || sed -i '/opensc/d' "$tmp/etc/signet/signet.conf"
cp /etc/passwd /etc/group "$tmp/etc/"
if ! grep -q '^signet:' /etc/passwd; then
	echo 'signet:x:64999:64999:Signet signing agent:/var/lib/signet:/usr/sbin/nologin' >>"$tmp/etc/passwd"
	echo 'signet:x:64999:' >>"$tmp/etc/group"
fi
grep -q '^signet-users:' /etc/group || echo 'signet-users:x:64998:' >>"$tmp/etc/group"

# A token: made here, copied into the agent's state directory inside.
bash "$src/scripts/mktoken.sh" "$tmp/tok" 123456 >"$tmp/token.env" 2>"$tmp/mktoken.log" ||
	{ cat "$tmp/mktoken.log" >&2; echo "FAIL: mktoken.sh" >&2; exit 1; }
serial=$(sed -n 's/^TOKEN_SERIAL=//p' "$tmp/token.env")
echo "to be signed" >"$tmp/doc.txt"

cat >"$tmp/boot.sh" <<EOF
set -e
mount -t overlay overlay -o lowerdir=$stage/usr:/usr /usr
mount -t overlay overlay -o lowerdir=$tmp/etc:/etc /etc
mount -t tmpfs -o mode=0755 none /run
mkdir -p /run/lock
mount -t tmpfs -o mode=0755 none /var/lib
mkdir -p /var/lib/signet
cp -a $tmp/tok /var/lib/signet/tok
sed -i 's#$tmp/tok#/var/lib/signet/tok#' /var/lib/signet/tok/softhsm2.conf
chown -R signet:signet /var/lib/signet
ip link set lo up 2>/dev/null || true
export SYSTEMD_UNIT_PATH=$units container=signet-test
exec $sd --system --unit=signet-test.target --log-level=warning
EOF
unshare --pid --fork --mount --uts --ipc --net --propagation private --mount-proc \
	bash "$tmp/boot.sh" >"$tmp/boot.log" 2>&1 &
ns=$!

in_ns() {
	local init
	init=$(pgrep -P "$ns") || return 1
	nsenter -t "$init" -m -p -n -u -i "$@"
}
up=0
for _ in $(seq 100); do
	if in_ns systemctl is-active --quiet signet-test.target 2>/dev/null; then
		up=1
		break
	fi
	sleep 0.1
done
if [ "$up" = 0 ]; then
	cat "$tmp/boot.log" >&2
	skip "a private systemd did not start here"
fi
ok "private systemd up"

# ---- the checks -------------------------------------------------------------
sock=/run/signet/agent.sock
in_ns systemctl start signetd.socket || bad "start signetd.socket"
perm=$(in_ns stat -c '%U:%G %a' "$sock" 2>/dev/null || true)
if [ "$perm" = "root:signet-users 660" ]; then
	ok "socket $sock root:signet-users 0660"
else
	bad "socket is '$perm'"
fi

if [ "$have_pcscd" = 1 ]; then
	in_ns systemctl start pcscd.socket
fi
if in_ns timeout 30 signet --socket "$sock" tokens >"$tmp/tokens.txt" 2>&1 &&
	grep -q "$serial" "$tmp/tokens.txt"; then
	ok "socket activation; tokens lists the SoftHSM2 token $serial"
else
	bad "tokens: $(cat "$tmp/tokens.txt")"
fi
state=$(in_ns systemctl show -p ActiveState -p SubState --value signetd.service | tr '\n' ' ')
if [ "$state" = "active running " ]; then
	ok "signetd.service active (running): READY=1 arrived"
else
	bad "signetd.service is '$state'"
fi

mainpid=$(in_ns systemctl show -p MainPID --value signetd.service)
status=$(in_ns cat "/proc/$mainpid/status" 2>/dev/null || true)
user=$(in_ns ps -o user= -p "$mainpid" 2>/dev/null | tr -d ' ' || true)
capeff=$(printf '%s\n' "$status" | awk '$1 == "CapEff:" { print $2 }')
nnp=$(printf '%s\n' "$status" | awk '$1 == "NoNewPrivs:" { print $2 }')
seccomp=$(printf '%s\n' "$status" | awk '$1 == "Seccomp:" { print $2 }')
if [ "$user" = signet ] && [ "$capeff" = 0000000000000000 ] && [ "$nnp" = 1 ] && [ "$seccomp" = 2 ]; then
	ok "agent runs as signet, CapEff=0, NoNewPrivs=1, seccomp filter on"
else
	bad "agent: user=$user CapEff=$capeff NoNewPrivs=$nnp Seccomp=$seccomp"
fi
helpers=$(in_ns pgrep -c -P "$mainpid" -f signet-pkcs11-helper || true)
if [ "${helpers:-0}" -ge 1 ]; then
	ok "$helpers helper(s) exec'd from /usr/libexec/signet"
else
	bad "no helper under the agent"
fi
if [ "$have_pcscd" = 1 ] && grep -q opensc "$tmp/etc/signet/signet.conf"; then
	# pcscd is socket-activated: only the sandboxed OpenSC module connected.
	if in_ns systemctl is-active --quiet pcscd.service; then
		ok "OpenSC inside the sandbox reached /run/pcscd/pcscd.comm (pcscd activated)"
	else
		bad "pcscd was not activated: the sandbox cut OpenSC off from pcscd"
	fi
fi

if in_ns sh -c "timeout 30 signet --socket $sock login --token 'pkcs11:serial=$serial' --pin-fd 3 3<<EOF
123456
EOF
timeout 30 signet --socket $sock sign --cert 'pkcs11:serial=$serial;id=%01' -o $tmp/doc.sig $tmp/doc.txt" \
	>"$tmp/sign.txt" 2>&1 &&
	openssl cms -verify -binary -inform DER -in "$tmp/doc.sig" -content "$tmp/doc.txt" \
		-CAfile "$tmp/tok/ca.pem" -out /dev/null 2>"$tmp/verify.txt"; then
	ok "login, sign, openssl cms -verify"
else
	bad "login/sign/verify: $(cat "$tmp/sign.txt" "$tmp/verify.txt" 2>/dev/null)"
fi

in_ns kill -SEGV "$mainpid"
restarted=0
for _ in $(seq 50); do
	n=$(in_ns systemctl show -p NRestarts --value signetd.service)
	st=$(in_ns systemctl show -p SubState --value signetd.service)
	if [ "$n" = 1 ] && [ "$st" = running ]; then
		restarted=1
		break
	fi
	sleep 0.1
done
if [ "$restarted" = 1 ] && in_ns timeout 30 signet --socket "$sock" info >/dev/null 2>&1; then
	ok "crash (SIGSEGV) restarted by Restart=on-failure, agent answers again"
else
	bad "no restart after SIGSEGV (NRestarts=$n, $st)"
fi

in_ns systemctl stop signetd.service 2>/dev/null
result=$(in_ns systemctl show -p Result -p ExecMainStatus --value signetd.service | tr '\n' ' ')
if [ "$result" = "success 0 " ]; then
	ok "systemctl stop: exit 0"
else
	bad "stop: $result"
fi

if [ "$fail" -ne 0 ]; then
	echo "--- agent log" >&2
	in_ns cat /run/signetd-test.log >&2 || true
fi
exit "$fail"
