#!/usr/bin/env bash
# tree.sh SRCDIR TREE CC: configure and build a private tree for /usr,
# as the Debian package is built (the prefix is compiled into signetd).
# The deploy tests install and package from it. No sanitizers, no -Werror:
# the enclosing build already checks the code.
set -euo pipefail

src=${1:?usage: tree.sh SRCDIR TREE CC}
tree=${2:?usage: tree.sh SRCDIR TREE CC}
cc=${3:?usage: tree.sh SRCDIR TREE CC}

cmake -S "$src" -B "$tree" -DCMAKE_INSTALL_PREFIX=/usr \
	-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER="$cc" \
	-DSIGNET_WERROR=OFF -DSIGNET_SANITIZE= -DSIGNET_FUZZ=OFF >/dev/null
cmake --build "$tree" -j "$(nproc 2>/dev/null || echo 2)" >"$tree/deploy-build.log" 2>&1 || {
	tail -n 40 "$tree/deploy-build.log" >&2
	exit 1
}
echo "built $tree for prefix /usr"
