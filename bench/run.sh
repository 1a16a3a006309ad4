#!/usr/bin/env bash
# run.sh: the agent against the raw PKCS#11 loop and against openssl cms,
# on one fresh SoftHSM2 token, in one run, as a table with ratios.
#
# usage: bench/run.sh [--seconds N] [--build-dir D] [--clients T]
#                     [--rounds R] [--docs N] [--size BYTES] [--keep]
#                     [--audit-tmpfs]
#
#   --seconds N    length of each timed run (default 3)
#   --build-dir D  where bin/ holds signetd, signet, sign_bench and
#                  p11_sign_loop (default build/ beside this script's repo)
#   --clients T    concurrency of the "many" runs: agent connections and
#                  raw-loop threads alike (default 4)
#   --rounds R     repeat the whole set R times and report medians
#                  (default 3)
#   --docs N       documents signed by `openssl cms` per round, one process
#                  each (default 20)
#   --size BYTES   document size (default 1024, sent inline as base64)
#   --keep         keep the temporary directory (token, logs, signatures)
#   --audit-tmpfs  the agent's audit log on /dev/shm instead of the disk:
#                  the same records and writer, but fdatasync costs
#                  nothing, which takes the durability wait (and its
#                  noise on a shared disk) out of the agent's numbers
#
# For RSA-2048 (id 01) and EC P-256 (id 02) it measures, one after the
# other so each has the machine to itself, in R rounds:
#   raw     p11_sign_loop, 1 thread and T threads (C_SignInit + C_Sign)
#   agent   sign_bench through signetd, 1 client and T clients
#   cms     openssl cms -sign -engine pkcs11, one process per document
# verifies an agent signature and an openssl one with openssl cms -verify,
# and prints medians over the rounds, CPU per signature of signetd and its
# helper, and the ratios the targets are stated in. A ratio is taken within
# each round (its two runs were seconds apart, under the same load from
# anything else on the machine) and the median of those is reported.
#
# A benchmark, not a test: never run by ctest or CI; it reports, it does
# not pass or fail on a number. Exit status is non-zero only when something
# did not work (a tool failed, a signature did not verify).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
repo=$(dirname "$here")
MODULE=${MODULE:-/usr/lib/softhsm/libsofthsm2.so}

seconds=3
build_dir=$repo/build
clients=4
rounds=3
docs=20
size=1024
keep=0
audit_tmpfs=0

usage() {
	sed -n '5,7p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

num() { # NAME VALUE: a positive integer or die
	[[ $2 =~ ^[1-9][0-9]{0,6}$ ]] || { echo "run.sh: bad $1 '$2'" >&2; exit 2; }
}

while [ $# -gt 0 ]; do
	case "$1" in
	--seconds) [ $# -ge 2 ] || usage; num --seconds "$2"; seconds=$2; shift ;;
	--build-dir) [ $# -ge 2 ] || usage; build_dir=$2; shift ;;
	--clients) [ $# -ge 2 ] || usage; num --clients "$2"; clients=$2; shift ;;
	--rounds) [ $# -ge 2 ] || usage; num --rounds "$2"; rounds=$2; shift ;;
	--docs) [ $# -ge 2 ] || usage; num --docs "$2"; docs=$2; shift ;;
	--size) [ $# -ge 2 ] || usage; num --size "$2"; size=$2; shift ;;
	--keep) keep=1 ;;
	--audit-tmpfs) audit_tmpfs=1 ;;
	-h|--help) usage ;;
	*) echo "run.sh: unknown argument $1" >&2; usage ;;
	esac
	shift
done

[ -d "$build_dir/bin" ] || {
	echo "run.sh: no $build_dir/bin; build first:" >&2
	echo "  cmake -S $repo -B $build_dir && cmake --build $build_dir" >&2
	exit 1
}
bin=$(cd "$build_dir/bin" && pwd -P)
for b in signetd signet sign_bench p11_sign_loop; do
	[ -x "$bin/$b" ] || {
		echo "run.sh: $bin/$b not found; build first:" >&2
		echo "  cmake -S $repo -B $build_dir && cmake --build $build_dir" >&2
		exit 1
	}
done
for tool in openssl python3; do
	command -v "$tool" >/dev/null || { echo "run.sh: $tool not found" >&2; exit 1; }
done
enginesdir=$(openssl version -e | sed -n 's/^ENGINESDIR: "\(.*\)"$/\1/p')
engine=$enginesdir/pkcs11.so
[ -r "$engine" ] || { echo "run.sh: $engine not found (libengine-pkcs11-openssl)" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/signet-bench.XXXXXX")
state=$tmp/state
if [ "$audit_tmpfs" -eq 1 ]; then
	state=$(mktemp -d /dev/shm/signet-bench-state.XXXXXX)
fi
agent_pid=
cleanup() {
	if [ -n "$agent_pid" ]; then
		kill -TERM "$agent_pid" 2>/dev/null || true
		wait "$agent_pid" 2>/dev/null || true
	fi
	if [ "$keep" -eq 1 ]; then
		echo "run.sh: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
	[ "$audit_tmpfs" -eq 0 ] || rm -rf "$state"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "run.sh: $*" >&2; }
fail() { echo "run.sh: $*" >&2; exit 1; }

# --- token -------------------------------------------------------------
say "fresh token in $tmp/token"
"$repo/scripts/mktoken.sh" "$tmp/token" >"$tmp/token.out" 2>"$tmp/mktoken.log" ||
	{ cat "$tmp/mktoken.log" >&2; fail "mktoken.sh failed"; }
while IFS='=' read -r key value; do
	case "$key" in
	SOFTHSM2_CONF|TOKEN_LABEL|TOKEN_SERIAL|CA|RSA_CERT|RSA_SHA256|EC_CERT|EC_SHA256|PIN)
		printf -v "$key" '%s' "$value" ;;
	esac
done <"$tmp/token.out"
export SOFTHSM2_CONF

# --- agent -------------------------------------------------------------
sock=$tmp/agent.sock
say "starting signetd on $sock"
# Started through a symlink named signetd-bench: it is the same binary (it
# finds its helper beside the real file), but scripts on a shared machine
# that stop "signetd" by name (pkill, pgrep -x) leave this one alone.
ln -s "$bin/signetd" "$tmp/signetd-bench"
# Its own audit log (by default on the same file system as the default
# one), so that another agent of this user holding the default log's lock
# does not make this one refuse to sign (audit_unavailable).
export XDG_STATE_HOME=$state
"$tmp/signetd-bench" --foreground --socket "$sock" --module "$MODULE" \
	</dev/null >"$tmp/signetd.log" 2>&1 &
agent_pid=$!
for _ in $(seq 1 200); do
	kill -0 "$agent_pid" 2>/dev/null || { cat "$tmp/signetd.log" >&2; fail "signetd exited"; }
	"$bin/signet" --socket "$sock" info >/dev/null 2>&1 && break
	sleep 0.05
done
"$bin/signet" --socket "$sock" info >/dev/null || fail "signetd does not answer on $sock"
"$bin/signet" --socket "$sock" login --token "$TOKEN_SERIAL" --pin-fd 3 \
	3<<<"$PIN" >/dev/null || fail "login failed"

# The module helper is signetd's child; its CPU time is part of the cost.
helper_pid() { pgrep -P "$agent_pid" | head -n 1; }
cpu_ticks() { # PID: utime+stime in clock ticks
	if [ -z "$1" ] || [ ! -r "/proc/$1/stat" ]; then echo 0; return; fi
	# Field 2 (comm) may hold spaces: count from after its ')'.
	sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}
hz=$(getconf CLK_TCK)

# --- openssl cms set-up ------------------------------------------------
cat >"$tmp/openssl.cnf" <<EOF
openssl_conf = openssl_init
[openssl_init]
engines = engine_section
[engine_section]
pkcs11 = pkcs11_section
[pkcs11_section]
engine_id = pkcs11
dynamic_path = $engine
MODULE_PATH = $MODULE
init = 0
EOF


# Every measurement appends one line to $results:
#   KEY RUN ROUND rate=R cpu=C other=O [signs= mean= p50= p99= acpu= hcpu=]
# cpu: CPU µs per signature of everything that run started or used
# (client, agent and helper; or the raw loop; or the openssl processes).
# other: cores kept busy by anything else on the machine meanwhile.
results=$tmp/results.txt
: >"$results"

record() { # KEY RUN ROUND LINE [EXTRA...]: keep what the table needs
	local key=$1 run=$2 round=$3 line=$4 w out=""
	shift 4
	for w in $line; do
		case "$w" in
		rate=*) out="$out rate=${w#rate=}"; out=${out%/s} ;;
		signs=*|mean=*|p50=*|p90=*|p99=*) out="$out $w" ;;
		esac
	done
	echo "$key $run $round$out $*" >>"$results"
}

# Busy clock ticks of the whole machine (steal included: a hypervisor
# giving our cores to someone else is load too).
machine_busy() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}

# timed OUT CMD...: runs CMD with stdout to OUT; prints "REAL USER SYS"
# (seconds, CMD and its children). The command's stderr goes to OUT.err.
timed() {
	local out=$1 TIMEFORMAT='%3R %3U %3S'
	shift
	{ time "$@" >"$out" 2>"$out.err"; } 2>&1
}

# derive RUN_CPU_SECONDS SIGNS WALL BUSY_TICKS: "cpu=µs/sign other=cores"
derive() {
	awk -v c="$1" -v n="$2" -v w="$3" -v b="$4" -v hz="$hz" 'BEGIN {
		o = (b / hz - c) / w; if (o < 0) o = 0
		printf "cpu=%.0f other=%.2f", (n > 0 ? c * 1e6 / n : 0), o }'
}

raw_run() { # KEY ID MECH THREADS ROUND
	local t b0 b1 line
	b0=$(machine_busy)
	t=$(timed "$tmp/raw.out" "$bin/p11_sign_loop" "$MODULE" "$TOKEN_LABEL" \
		"$PIN" "$2" "$3" "$seconds" "$4") ||
		{ cat "$tmp/raw.out.err" >&2; fail "p11_sign_loop failed"; }
	b1=$(machine_busy)
	line=$(cat "$tmp/raw.out")
	# shellcheck disable=SC2086 # split "REAL USER SYS": $6 real, $7 user, $8 sys
	set -- "$@" $t
	record "$1" "raw$4" "$5" "$line" "$(derive "$(awk -v u="$7" -v s="$8" \
		'BEGIN { print u + s }')" "$(field_of "$line" signs)" "$6" $((b1 - b0)))"
}

field_of() { # LINE NAME
	local w
	for w in $1; do
		case "$w" in "$2"=*) echo "${w#*=}"; return ;; esac
	done
	echo 0
}

agent_run() { # KEY SHA256 CLIENTS ROUND
	local key=$1 sha=$2 n=$3 round=$4 t line hp a0 a1 h0 h1 b0 b1 signs
	hp=$(helper_pid)
	b0=$(machine_busy)
	a0=$(cpu_ticks "$agent_pid"); h0=$(cpu_ticks "$hp")
	t=$(timed "$tmp/agent.out" "$bin/sign_bench" --socket "$sock" --cert "$sha" \
		--seconds "$seconds" --clients "$n" --size "$size") ||
		{ cat "$tmp/agent.out" "$tmp/agent.out.err" >&2; fail "sign_bench failed"; }
	a1=$(cpu_ticks "$agent_pid"); h1=$(cpu_ticks "$hp")
	b1=$(machine_busy)
	line=$(cat "$tmp/agent.out")
	signs=$(field_of "$line" signs)
	# shellcheck disable=SC2086 # split "REAL USER SYS"
	set -- $t
	record "$key" "agent$n" "$round" "$line" \
		"$(derive "$(awk -v u="$2" -v s="$3" -v a=$((a1 - a0 + h1 - h0)) -v hz="$hz" \
			'BEGIN { print u + s + a / hz }')" "$signs" "$1" $((b1 - b0)))" \
		"acpu=$(awk -v d=$((a1 - a0)) -v hz="$hz" -v n="$signs" \
			'BEGIN { printf "%.0f", (n > 0 ? d / hz * 1e6 / n : 0) }')" \
		"hcpu=$(awk -v d=$((h1 - h0)) -v hz="$hz" -v n="$signs" \
			'BEGIN { printf "%.0f", (n > 0 ? d / hz * 1e6 / n : 0) }')"
}

cms_docs() { # KEY ID CERT: sign every document, one openssl process each
	local i out=$tmp/$1
	for i in $(seq 1 "$docs"); do
		OPENSSL_CONF=$tmp/openssl.cnf openssl cms -sign -binary -outform DER \
			-engine pkcs11 -keyform engine \
			-inkey "pkcs11:token=$TOKEN_LABEL;id=%$2;type=private;pin-value=$PIN" \
			-signer "$3" -md sha256 -in "$out/doc.$i" -out "$out/doc.$i.sig" \
			2>"$out/cms.log" || { cat "$out/cms.log" >&2; return 1; }
	done
}

cms_run() { # KEY ID CERT ROUND
	local t b0 b1
	b0=$(machine_busy)
	t=$(timed "$tmp/cms.out" cms_docs "$1" "$2" "$3") || fail "openssl cms -sign failed"
	b1=$(machine_busy)
	# shellcheck disable=SC2086 # split "REAL USER SYS": $5 real, $6 user, $7 sys
	set -- "$@" $t
	echo "$1 cms $4 rate=$(awk -v n="$docs" -v w="$5" 'BEGIN { printf "%.1f", n / w }')" \
		"$(derive "$(awk -v u="$6" -v s="$7" 'BEGIN { print u + s }')" "$docs" "$5" \
		$((b1 - b0)))" >>"$results"
}

verify() { # WHAT SIG DOC
	openssl cms -verify -binary -inform DER -in "$2" -content "$3" \
		-CAfile "$CA" -out /dev/null 2>"$tmp/verify.log" ||
		{ cat "$tmp/verify.log" >&2; fail "$1 does not verify"; }
}

bench_key() { # KEY ID MECH SHA256 CERT
	local key=$1 id=$2 mech=$3 sha=$4 cert=$5 round i out=$tmp/$1

	mkdir -p "$out"
	# One signature first, kept and verified: the bench must not time a
	# broken path. Its document is the one every later run signs.
	"$bin/sign_bench" --socket "$sock" --cert "$sha" --seconds 1 --size "$size" \
		--save-doc "$out/doc" --save-sig "$out/agent.sig" >/dev/null ||
		fail "$key: sign_bench failed"
	verify "$key: the agent's signature" "$out/agent.sig" "$out/doc"
	say "$key: agent signature verified with openssl cms -verify"
	for i in $(seq 1 "$docs"); do
		cp "$out/doc" "$out/doc.$i"
	done
	for round in $(seq 1 "$rounds"); do
		say "$key round $round/$rounds: raw 1 thread, agent 1 client," \
			"raw $clients threads, agent $clients clients, openssl cms x $docs"
		raw_run "$key" "$id" "$mech" 1 "$round"
		agent_run "$key" "$sha" 1 "$round"
		raw_run "$key" "$id" "$mech" "$clients" "$round"
		agent_run "$key" "$sha" "$clients" "$round"
		cms_run "$key" "$id" "$cert" "$round"
	done
	verify "$key: openssl's own signature" "$out/doc.1.sig" "$out/doc.1"
}

load0=$(cut -d' ' -f1-3 /proc/loadavg)
bench_key RSA 01 rsa "$RSA_SHA256" "$RSA_CERT"
bench_key EC 02 ecdsa "$EC_SHA256" "$EC_CERT"
load1=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report ------------------------------------------------------------
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
echo
echo "Signet bench $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores ($cpu)"
echo "SoftHSM2 $(softhsm2-util --version 2>/dev/null || echo '?'), $(openssl version | cut -d' ' -f1-2);" \
	"document $size bytes inline; T=$clients; $rounds rounds of $seconds s per run;" \
	"openssl cms: $docs documents per round;" \
	"audit log on $([ "$audit_tmpfs" -eq 1 ] && echo tmpfs || echo disk)"
echo "load average before: $load0, after: $load1"
python3 - "$results" "$clients" <<'PYEOF'
import statistics, sys

path, T = sys.argv[1], sys.argv[2]
rows = {}
for line in open(path):
    f = line.split()
    d = dict(kv.split("=", 1) for kv in f[3:])
    rows.setdefault((f[0], f[1]), {})[int(f[2])] = {k: float(v) for k, v in d.items()}

def vals(key, run, field):
    return [r[field] for _, r in sorted(rows[(key, run)].items()) if field in r]

def med(v):
    return statistics.median(v) if v else float("nan")

def spread(v):
    return "%.0f..%.0f" % (min(v), max(v)) if v else ""

def num(v, fmt="%.0f"):
    return fmt % med(v) if v else ""

print()
print("Medians over the rounds; 'range': lowest..highest rate of the rounds.")
print("mean/p50/p99: latency of one signature in µs, request sent to reply read.")
print("CPU/sign: CPU µs per signature of all the run's processes (client + signetd")
print("  + helper for the agent), then of signetd and of its PKCS#11 helper alone.")
print("other: cores busy with anything else on the machine during the run.")
print()
hdr = "%-4s %-28s %9s %12s %6s %6s %6s %7s %6s %6s %5s"
print(hdr % ("key", "run", "signs/s", "range", "mean", "p50", "p99", "CPU/sign", "agent", "helper", "other"))
names = [("raw1", "raw C_Sign, 1 thread"), ("raw" + T, "raw C_Sign, %s threads" % T),
         ("agent1", "agent, 1 client"), ("agent" + T, "agent, %s clients" % T),
         ("cms", "openssl cms, process/doc")]
others = []
for key in ("RSA", "EC"):
    for run, label in names:
        rate = vals(key, run, "rate")
        others += vals(key, run, "other")
        # One stream's mean latency is the inverse of its rate.
        mean = num(vals(key, run, "mean")) or (
            "%.0f" % (1e6 / med(rate)) if run in ("raw1", "cms") else "")
        print(hdr % (key, label, "%.1f" % med(rate), spread(rate), mean,
                     num(vals(key, run, "p50")), num(vals(key, run, "p99")),
                     num(vals(key, run, "cpu")), num(vals(key, run, "acpu")),
                     num(vals(key, run, "hcpu")), num(vals(key, run, "other"), "%.2f")))

# Ratios per round (each pair ran back to back, under the same load),
# then the median over the rounds.
def paired(key, a, b, fa="rate", fb="rate", op=lambda x, y: x / y):
    A, B = rows[(key, a)], rows[(key, b)]
    return [op(A[r][fa], B[r][fb]) for r in sorted(A) if r in B]

print()
hdr = "%-4s %-40s %8s %14s  %-7s %s"
print(hdr % ("key", "ratio (median of per-round ratios)", "value", "range", "target", ""))
for key in ("RSA", "EC"):
    def line(label, v, fmt="%.2f", target="", ok=None):
        verdict = "" if ok is None else ("met" if ok(med(v)) else "MISSED")
        print(hdr % (key, label, fmt % med(v),
                     (fmt + ".." + fmt) % (min(v), max(v)), target, verdict))
    line("agent(%s)/raw(%s threads)" % (T, T), paired(key, "agent" + T, "raw" + T),
         target=">= 0.80", ok=lambda x: x >= 0.80)
    line("agent(1)/raw(1 thread)", paired(key, "agent1", "raw1"))
    line("agent(%s)/raw(1 thread)" % T, paired(key, "agent" + T, "raw1"))
    line("agent(1)/openssl-cms-per-doc", paired(key, "agent1", "cms"))
    line("agent(%s)/openssl-cms-per-doc" % T, paired(key, "agent" + T, "cms"))
    line("CPU/sign raw(%s)/agent(%s)" % (T, T),
         paired(key, "raw" + T, "agent" + T, "cpu", "cpu"))
    line("added latency/signature, 1 client, µs",
         paired(key, "agent1", "raw1", "mean", "rate", lambda m, r: m - 1e6 / r),
         fmt="%.0f", target="< 150", ok=lambda x: x < 150)
    line("  same, agent p50 - raw mean, µs",
         paired(key, "agent1", "raw1", "p50", "rate", lambda m, r: m - 1e6 / r), fmt="%.0f")
    line("  CPU added/signature, 1 client, µs",
         paired(key, "agent1", "raw1", "cpu", "cpu", lambda a, r: a - r), fmt="%.0f")

if others and med(others) > 0.25:
    print()
    print("WARNING: other work kept %.2f cores busy during a typical run (up to %.2f)."
          % (med(others), max(others)))
    print("Rates and latencies measured under that load are not trustworthy; the")
    print("CPU/sign columns and the CPU ratio are much less affected.")
elif others and max(others) > 0.5:
    print()
    print("Note: other work disturbed some runs (up to %.2f cores busy, median %.2f);"
          % (max(others), med(others)))
    print("the medians discount them, the ranges show them.")
PYEOF
