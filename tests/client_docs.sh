#!/bin/sh
# signet(1) stays true to the CLI: every command the binary lists has its
# entry, every option its usage line shows is documented, and every exit
# status of client/exit.h has its paragraph.
# usage: client_docs.sh PATH-TO-signet SOURCE-DIR
set -u
signet=$1
src=$2
man=$src/docs/signet.1
fail=0

cmds=$("$signet" --help | sed -n 's/^  \([a-z]*\) .*/\1/p')
[ "$(echo "$cmds" | wc -w)" -ge 7 ] || { echo "parsed no commands from --help" >&2; exit 1; }
for c in $cmds; do
	grep -q "^\.It Cm $c\( \|$\)" "$man" || {
		echo "signet.1: no entry for command '$c'" >&2; fail=1; }
	grep -q "^\.Cm $c$" "$man" || {
		echo "signet.1: command '$c' missing from SYNOPSIS" >&2; fail=1; }
	for opt in $("$signet" "$c" --help | grep -o -- '--[a-z-]*' | sort -u); do
		flag=${opt#--}
		grep -q "Fl -$flag\( \|$\)" "$man" || {
			echo "signet.1: '$c $opt' is not documented" >&2; fail=1; }
	done
done
"$signet" sign --help | grep -q -- '-o OUT' && ! grep -q 'Fl o Ar out' "$man" && {
	echo "signet.1: sign -o is not documented" >&2; fail=1; }

codes=$(sed -n 's/^#define SIGNET_EXIT_[A-Z]* *\([0-9][0-9]*\).*/\1/p' "$src/client/exit.h")
[ "$(echo "$codes" | wc -w)" -ge 8 ] || { echo "parsed no exit codes" >&2; exit 1; }
for n in $codes; do
	sed -n '/^\.Sh EXIT STATUS/,/^\.Sh /p' "$man" | grep -q "^\.It $n$" || {
		echo "signet.1: exit status $n is not documented" >&2; fail=1; }
done

[ "$fail" -eq 0 ] && echo "client_docs: ok"
exit "$fail"
