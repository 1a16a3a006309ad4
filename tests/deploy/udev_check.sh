#!/usr/bin/env bash
# udev_check.sh SRCDIR: udev's own rule parser (udevadm test, systemd 252)
# must accept udev/70-signet-tokens.rules without a single diagnostic and
# must reject deliberately broken copies; then the rules must tag exactly
# the right (fake) devices.
#
# Debian 12's udevadm has no "verify" verb, so each check runs udevadm
# test in a private mount namespace: tmpfs over the rules directories (our
# file is the only rule udev reads), over /run/udev (its database) and
# over /sys, where a fake sysfs holds USB devices with the ids under test
# (SYSTEMD_DEVICE_VERIFY_SYSFS=0 lets udev read a sysfs that is not one).
# Nothing on the machine is touched. Needs root (mount namespaces).
set -euo pipefail

if [ "${1:-}" = "--inner" ]; then
	shift
	mode=$1 rules=$2
	for d in /usr/lib/udev/rules.d /etc/udev/rules.d /run/udev; do
		mount -t tmpfs none "$d"
	done
	# The installed name: diagnostics are matched on it.
	cp "$rules" /etc/udev/rules.d/70-signet-tokens.rules
	mount -t tmpfs none /sys
	mkdir -p /sys/bus/usb /sys/class/hidraw /sys/devices/pci0000:00/usb1
	n=0
	# usbdev VID PID [ID_USB_INTERFACES]: a new USB device; its syspath in $dev
	usbdev() {
		n=$((n + 1))
		local d=/sys/devices/pci0000:00/usb1/1-$n
		mkdir -p "$d"
		ln -s ../../../../bus/usb "$d/subsystem"
		printf 'DEVTYPE=usb_device\nPRODUCT=%x/%x/100\n' "0x$1" "0x$2" >"$d/uevent"
		[ -z "${3:-}" ] || printf 'ID_USB_INTERFACES=%s\n' "$3" >>"$d/uevent"
		echo "$1" >"$d/idVendor"
		echo "$2" >"$d/idProduct"
		dev=$d
	}
	# hidraw USBSYSPATH: prints the syspath of a hidraw node below it
	hidraw() {
		local d vid pid
		vid=$(cat "$1/idVendor")
		pid=$(cat "$1/idProduct")
		d=$1/${1##*/}:1.0/0003:$vid:$pid.0001/hidraw/hidraw$n
		mkdir -p "$d"
		ln -s ../../../../../../../../class/hidraw "$d/subsystem"
		printf 'MAJOR=240\nMINOR=%s\n' "$n" >"$d/uevent"
		echo "$d"
	}
	# run ACTION SYSPATH: udev's view of the event, on one line. TAGS is
	# sticky across events of a device; CURRENT_TAGS is this event's.
	run() {
		SYSTEMD_DEVICE_VERIFY_SYSFS=0 SYSTEMD_LOG_LEVEL=info \
			udevadm test --action="$1" "$2" >/tmp/udev.out 2>&1 || true
		grep -E '70-signet-tokens\.rules:[0-9]' /tmp/udev.out | sed 's/^/DIAG /' || true
		printf 'RESULT tags=%s wants=%s\n' \
			"$(sed -n 's/^CURRENT_TAGS=//p' /tmp/udev.out)" \
			"$(sed -n 's/^SYSTEMD_USER_WANTS=//p' /tmp/udev.out)"
	}
	case "$mode" in
	parse)
		usbdev 0a89 0030
		run add "$dev"
		;;
	devices)
		# name, vendor, product, interfaces
		while read -r name vid pid ifs; do
			[ "$ifs" = "-" ] && ifs=
			usbdev "$vid" "$pid" "$ifs"
			echo "DEVICE $name"
			run add "$dev"
		done <<-'EOF'
			rutoken-ecp 0a89 0030 -
			rutoken-s 0a89 0020 -
			guardant-dongle 0a89 0001 -
			etoken-5100 0529 0620 -
			hasp-dongle 0529 0001 -
			jacarta 24dc 0101 -
			esmart-token 2ce4 7479 -
			yubikey-5 1050 0407 -
			ccid-reader 1234 5678 :0b0000:
			composite-ccid 1234 5679 :030101:0b0000:
			keyboard 1234 567a :030101:
		EOF
		usbdev 0a89 0030
		echo "DEVICE rutoken-ecp-remove"
		run remove "$dev"
		usbdev 0a89 0040
		echo "DEVICE rutoken-ecp-hid-hidraw"
		run add "$(hidraw "$dev")"
		usbdev 1234 567b
		echo "DEVICE other-hidraw"
		run add "$(hidraw "$dev")"
		;;
	esac
	exit 0
fi

src=${1:?usage: udev_check.sh SRCDIR}
rules=$src/udev/70-signet-tokens.rules
self=$(readlink -f "$0")

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: needs root for a private mount namespace"
	exit 77
fi
command -v udevadm >/dev/null || { echo "FAIL: udevadm missing (package udev)" >&2; exit 1; }
command -v unshare >/dev/null || { echo "FAIL: unshare missing (util-linux)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# inner MODE RULESFILE: run the checks in a private mount namespace
inner() {
	unshare --mount --propagation private bash "$self" --inner "$1" "$2"
}

# 1. The rules as shipped: parsed, no diagnostics.
inner parse "$rules" >"$tmp/parse.txt"
if grep -q '^RESULT' "$tmp/parse.txt" && ! grep -q '^DIAG' "$tmp/parse.txt"; then
	echo "ok: udevadm parses $rules without diagnostics"
else
	echo "FAIL: udevadm on $rules:" >&2
	cat "$tmp/parse.txt" >&2
	fail=1
fi

# 2. Broken copies, each a classic mistake: udev must complain.
broken() {
	local name=$1 line=$2
	cp "$rules" "$tmp/broken.rules"
	# Before the final LABEL, so the line is reached.
	sed -i "/^LABEL=\"signet_tokens_end\"/i $line" "$tmp/broken.rules"
	inner parse "$tmp/broken.rules" >"$tmp/broken.txt"
	if grep -q '^DIAG' "$tmp/broken.txt"; then
		echo "ok: broken copy rejected ($name): $(grep -m1 '^DIAG' "$tmp/broken.txt" | cut -c6-)"
	else
		echo "FAIL: broken copy ($name) passed the check:" >&2
		cat "$tmp/broken.txt" >&2
		fail=1
	fi
}
broken "assignment to a match-only key" 'ATTRS{idVendor}="0a89", TAG+="uaccess"'
broken "comment after a rule" 'ATTR{idVendor}=="0a89", TAG+="uaccess"  # Rutoken'
broken "unknown key" 'SUBSYSTEM=="usb", IDVENDOR=="0a89", TAG+="uaccess"'
broken "missing label" 'SUBSYSTEM=="usb", GOTO="signet_no_such_label"'

# 3. What the rules do, device by device.
inner devices "$rules" >"$tmp/devices.txt"
if grep -q '^DIAG' "$tmp/devices.txt"; then
	echo "FAIL: diagnostics while processing devices:" >&2
	grep '^DIAG' "$tmp/devices.txt" >&2
	fail=1
fi
# expect NAME uaccess(yes/no) user-socket(yes/no)
expect() {
	local got tags wants ua us
	got=$(awk -v n="$1" '$1 == "DEVICE" { cur = $2; next } $1 == "RESULT" && cur == n { print; exit }' \
		"$tmp/devices.txt")
	tags=$(printf '%s' "$got" | sed -n 's/.*tags=\([^ ]*\).*/\1/p')
	wants=$(printf '%s' "$got" | sed -n 's/.*wants=\(.*\)$/\1/p')
	case "$tags" in *:uaccess:*) ua=yes ;; *) ua=no ;; esac
	if [[ "$tags" == *:systemd:* && "$wants" == *signetd.socket* ]]; then us=yes; else us=no; fi
	if [ -z "$got" ] || [ "$ua" != "$2" ] || [ "$us" != "$3" ]; then
		echo "FAIL: $1: uaccess=$ua user-socket=$us, expected $2/$3 (${got:-no result})" >&2
		fail=1
	else
		echo "ok: $1: uaccess=$ua user-socket=$us"
	fi
}
expect rutoken-ecp yes yes
expect rutoken-s yes yes
expect guardant-dongle no no
expect etoken-5100 yes yes
expect hasp-dongle no no
expect jacarta yes yes
expect esmart-token yes yes
expect yubikey-5 yes yes
expect ccid-reader yes yes
expect composite-ccid yes yes
expect keyboard no no
expect rutoken-ecp-remove no no
expect rutoken-ecp-hid-hidraw yes no
expect other-hidraw no no

exit "$fail"
