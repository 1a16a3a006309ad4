#!/bin/sh
# docs/signet.conf.5 must stay true to the policy code (run by ctest as
# policy_doc_check):
#   - every key the parser knows (agent/policy_conf.c) and every [agent]
#     key has an entry ".It Cm KEY No =";
#   - every refusal reason of agent/policy.h has an entry ".It Cm REASON";
#   - each EXAMPLES block marked .\" BEGIN tests/policy/X.conf is that
#     fixture verbatim (the fixtures are parsed by policy_conf_test);
#   - groff reads the page without warnings.
set -eu
src=${1:?source dir}
page=$src/docs/signet.conf.5
conf=$src/agent/policy_conf.c
hdr=$src/agent/policy.h
fail=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Rule keys: { "user", POLICY_RK_USER, ... }; [login] and [certs] keys:
# the string arrays login_keys[] and certs_keys[].
{
	sed -n 's/^[[:space:]]*{ "\([a-z_]*\)", POLICY_RK_.*/\1/p' "$conf"
	sed -n '/^static const char \*const \(login\|certs\)_keys\[/,/^};/p' "$conf" |
	    grep -o '"[a-z_]*"' | tr -d '"'
	printf '%s\n' mode socket module line_timeout
} >"$tmp/keys"
n=$(wc -l <"$tmp/keys")
[ "$n" -ge 23 ] || { echo "found only $n keys in $conf" >&2; fail=1; }
while read -r key; do
	if ! grep -q "^\.It Cm $key No =" "$page"; then
		echo "docs/signet.conf.5 does not document the key $key" >&2
		fail=1
	fi
done <"$tmp/keys"

sed -n 's/^#define POLICY_R_[A-Z_]* *"\([a-z_]*\)".*/\1/p' "$hdr" >"$tmp/reasons"
n=$(wc -l <"$tmp/reasons")
[ "$n" -ge 14 ] || { echo "found only $n reasons in $hdr" >&2; fail=1; }
while read -r reason; do
	if ! grep -q "^\.It Cm $reason\$" "$page"; then
		echo "docs/signet.conf.5 does not explain the reason $reason" >&2
		fail=1
	fi
done <"$tmp/reasons"

nex=0
for fixture in $(sed -n 's/^\.\\" BEGIN \(tests\/policy\/[a-z-]*\.conf\)$/\1/p' "$page"); do
	nex=$((nex + 1))
	awk -v want=".\\\\\" BEGIN $fixture" '
	    $0 == want { on = 1; next }
	    on && /^\.\\" END/ { exit }
	    on { print }' "$page" |
	    sed -e 's/\\e/\\/g' -e 's/\\&//g' >"$tmp/example"
	if ! cmp -s "$tmp/example" "$src/$fixture"; then
		echo "docs/signet.conf.5: the example of $fixture differs:" >&2
		diff "$src/$fixture" "$tmp/example" >&2 || true
		fail=1
	fi
done
[ "$nex" -ge 2 ] || { echo "found only $nex examples in $page" >&2; fail=1; }

if command -v groff >/dev/null 2>&1; then
	if [ -n "$(groff -mdoc -ww -z "$page" 2>&1)" ]; then
		groff -mdoc -ww -z "$page" >&2 || true
		fail=1
	fi
fi

[ $fail -eq 0 ] && echo "policy_doc_check: $(wc -l <"$tmp/keys") keys," \
    "$(wc -l <"$tmp/reasons") reasons, $nex examples documented"
exit $fail
