#!/usr/bin/env bash
# install_files.sh SRCDIR TREE STAGE: `cmake --install TREE --prefix /usr`
# with DESTDIR=STAGE installs exactly the files listed in
# tests/deploy/expected-files.txt. After adding an install() rule, update
# the list: SIGNET_UPDATE_EXPECTED=1 ctest -R deploy_install_files
set -euo pipefail

src=${1:?usage: install_files.sh SRCDIR TREE STAGE}
tree=${2:?usage: install_files.sh SRCDIR TREE STAGE}
stage=${3:?usage: install_files.sh SRCDIR TREE STAGE}
expected=$src/tests/deploy/expected-files.txt

rm -rf "$stage"
DESTDIR=$stage cmake --install "$tree" --prefix /usr >"$tree/deploy-install.log"
# Files and symlinks, as absolute paths; the library directory is
# multiarch (lib/x86_64-linux-gnu), so it is written as @LIBDIR@.
libdir=$(sed -n 's/^CMAKE_INSTALL_LIBDIR:[A-Z]*=//p' "$tree/CMakeCache.txt")
(cd "$stage" && find . \( -type f -o -type l \) | sed 's#^\.##') |
	sed "s#^/usr/$libdir/#/usr/@LIBDIR@/#" | LC_ALL=C sort >"$stage.files"

if [ "${SIGNET_UPDATE_EXPECTED:-0}" = 1 ]; then
	cp "$stage.files" "$expected"
	echo "updated $expected"
fi
if diff -u "$expected" "$stage.files"; then
	echo "ok: $(wc -l <"$stage.files") files, as in tests/deploy/expected-files.txt"
else
	echo "FAIL: installed files differ from tests/deploy/expected-files.txt (- expected, + installed)" >&2
	exit 1
fi

# Everything under /usr, except the configuration in /etc/signet.
bad=$(grep -v -e '^/usr/' -e '^/etc/signet/' "$stage.files" || true)
if [ -n "$bad" ]; then
	echo "FAIL: files outside /usr and /etc/signet:" >&2
	echo "$bad" >&2
	exit 1
fi
# The programs are where the units and signetd look for them.
for f in /usr/bin/signetd /usr/libexec/signet/signet-pkcs11-helper; do
	[ -x "$stage$f" ] || { echo "FAIL: $f is not executable" >&2; exit 1; }
done
grep -q "/usr/libexec/signet/signet-pkcs11-helper" "$stage/usr/bin/signetd" ||
	{ echo "FAIL: signetd does not look for its helper in /usr/libexec/signet" >&2; exit 1; }
echo "ok: only /usr and /etc/signet; signetd looks for /usr/libexec/signet/signet-pkcs11-helper"
