#!/bin/sh
# The protocol header and docs/protocol.md must agree: every method name and
# every data.reason string in include/signet/protocol.h is documented, and
# every error code appears in the document's table. Run by ctest (docs_check).
set -eu
src=${1:?source dir}
hdr=$src/include/signet/protocol.h
doc=$src/docs/protocol.md
fail=0
for name in $(sed -n 's/^#define SIGNET_[RMN]_[A-Z_]* *"\([^"]*\)".*/\1/p' "$hdr"); do
	if ! grep -q "\`$name\`" "$doc"; then
		echo "docs/protocol.md does not document \`$name\`" >&2
		fail=1
	fi
done
for code in $(sed -n 's/^#define SIGNET_E_[A-Z_]* *(\(-[0-9]*\)).*/\1/p' "$hdr"); do
	if ! grep -q "^| $code |" "$doc"; then
		echo "docs/protocol.md has no row for error code $code" >&2
		fail=1
	fi
done
n=$(sed -n 's/^#define SIGNET_[RMEN]_.*/x/p' "$hdr" | wc -l)
[ "$n" -gt 30 ] || { echo "parsed only $n definitions from $hdr" >&2; fail=1; }
[ $fail -eq 0 ] && echo "docs_check: $n protocol names documented"
exit $fail
