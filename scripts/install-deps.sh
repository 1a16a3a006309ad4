#!/usr/bin/env bash
# install-deps.sh: every Debian 12 package Signet needs to build, test and
# run its demo. Runs as root, or through sudo when it is there.
set -euo pipefail

packages=(
	# toolchain
	build-essential cmake pkg-config clang libclang-rt-14-dev git
	# libraries the build links against
	libssl-dev libjansson-dev libsystemd-dev libp11-kit-dev libinih-dev
	libcmocka-dev
	# PKCS#11: software token, card tools, modules, OpenSSL engines
	p11-kit softhsm2 opensc opensc-pkcs11 libp11-dev
	libengine-pkcs11-openssl libengine-gost-openssl
	# PC/SC and virtual cards for the hotplug tests
	libpcsclite-dev pcscd pcsc-tools vsmartcard-vpcd libcacard-dev
	libnss3-tools
	# scripts and test harness
	python3 openssl procps ca-certificates util-linux pinentry-tty
	udev systemd dpkg-dev adduser # deploy tests: udevadm, systemd-analyze, dpkg-shlibdeps, postinst
)

export DEBIAN_FRONTEND=noninteractive

# Skip apt entirely when everything is already there: keeps repeated runs
# (and CI on a prepared machine) fast and offline-safe.
missing=()
for p in "${packages[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$status" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#packages[@]} packages already installed"
	exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
	sudo=()
elif command -v sudo >/dev/null 2>&1; then
	sudo=(sudo --preserve-env=DEBIAN_FRONTEND)
else
	echo "install-deps: not root and no sudo; install these by hand:" >&2
	echo "  ${missing[*]}" >&2
	exit 1
fi

echo "install-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update
"${sudo[@]}" apt-get install -y --no-install-recommends "${packages[@]}"
