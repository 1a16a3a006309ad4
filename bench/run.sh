#!/usr/bin/env bash
# run.sh: the agent against the raw PKCS#11 loop and against openssl cms,
# on one fresh SoftHSM2 token, in one run, as a table with ratios.
#
# usage: bench/run.sh [--seconds N] [--build-dir D] [--clients T]
#                     [--rounds R] [--docs N] [--size BYTES] [--keep]
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

usage() {
	sed -n '5,6p' "$0" | sed 's/^# \{0,1\}//' >&2
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
"$bin/signetd" --foreground --socket "$sock" --module "$MODULE" \
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
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || { echo 0; return; }
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
#   KEY RUN ROUND rate=R [mean=M p50=A p99=B acpu=U hcpu=V]
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

# CPU seconds per signature, in microseconds, from clock ticks.
per_sign() { awk -v d="$1" -v hz="$hz" -v n="$2" 'BEGIN { printf "%.0f", (n > 0 ? d / hz * 1e6 / n : 0) }'; }

raw_run() { # KEY ID MECH THREADS ROUND
	local line
	line=$("$bin/p11_sign_loop" "$MODULE" "$TOKEN_LABEL" "$PIN" "$2" "$3" \
		"$seconds" "$4") || fail "p11_sign_loop failed"
	record "$1" "raw$4" "$5" "$line"
}

agent_run() { # KEY SHA256 CLIENTS ROUND [sign_bench options...]
	local key=$1 sha=$2 n=$3 round=$4 line hp a0 a1 h0 h1 signs
	shift 4
	hp=$(helper_pid)
	a0=$(cpu_ticks "$agent_pid"); h0=$(cpu_ticks "$hp")
	line=$("$bin/sign_bench" --socket "$sock" --cert "$sha" --seconds "$seconds" \
		--clients "$n" --size "$size" "$@") || fail "sign_bench failed: $line"
	a1=$(cpu_ticks "$agent_pid"); h1=$(cpu_ticks "$hp")
	signs=$(for w in $line; do case "$w" in signs=*) echo "${w#signs=}" ;; esac; done)
	record "$key" "agent$n" "$round" "$line" \
		"acpu=$(per_sign $((a1 - a0)) "$signs")" "hcpu=$(per_sign $((h1 - h0)) "$signs")"
}

cms_run() { # KEY ID CERT ROUND
	local key=$1 id=$2 cert=$3 round=$4 i t0 t1 out=$tmp/$1
	t0=$EPOCHREALTIME
	for i in $(seq 1 "$docs"); do
		OPENSSL_CONF=$tmp/openssl.cnf openssl cms -sign -binary -outform DER \
			-engine pkcs11 -keyform engine \
			-inkey "pkcs11:token=$TOKEN_LABEL;id=%$id;type=private;pin-value=$PIN" \
			-signer "$cert" -md sha256 -in "$out/doc.$i" -out "$out/doc.$i.sig" \
			2>"$out/cms.log" || { cat "$out/cms.log" >&2; fail "openssl cms -sign failed"; }
	done
	t1=$EPOCHREALTIME
	echo "$key cms $round rate=$(awk -v n="$docs" -v a="$t0" -v b="$t1" \
		'BEGIN { printf "%.1f", n / (b - a) }')" >>"$results"
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
	"openssl cms: $docs documents per round"
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

print()
print("Medians over the rounds; 'range' is the lowest..highest rate seen.")
print("mean/p50/p99: latency of one signature in µs, request sent to reply read.")
print("CPU/sign: CPU time of signetd and of its PKCS#11 helper per signature (µs).")
print()
hdr = "%-4s %-30s %9s %13s %8s %7s %7s %8s %8s"
print(hdr % ("key", "run", "signs/s", "range", "mean", "p50", "p99", "agent", "helper"))
print(hdr % ("", "", "", "", "µs", "µs", "µs", "CPU/sign", "CPU/sign"))
names = [("raw1", "raw C_Sign, 1 thread"), ("raw" + T, "raw C_Sign, %s threads" % T),
         ("agent1", "agent, 1 client"), ("agent" + T, "agent, %s clients" % T),
         ("cms", "openssl cms, process per doc")]
for key in ("RSA", "EC"):
    for run, label in names:
        rate = vals(key, run, "rate")
        if run.startswith("raw") or run == "cms":
            # One stream's mean latency is the inverse of its rate.
            mean = "%.0f" % (1e6 / med(rate)) if run in ("raw1", "cms") else ""
            print(hdr % (key, label, "%.1f" % med(rate), spread(rate), mean, "", "", "", ""))
        else:
            print(hdr % (key, label, "%.1f" % med(rate), spread(rate),
                         "%.0f" % med(vals(key, run, "mean")),
                         "%.0f" % med(vals(key, run, "p50")),
                         "%.0f" % med(vals(key, run, "p99")),
                         "%.0f" % med(vals(key, run, "acpu")),
                         "%.0f" % med(vals(key, run, "hcpu"))))

# Ratios per round (each pair ran back to back, under the same load),
# then the median over the rounds.
def paired(key, a, b, fa="rate", fb="rate", op=lambda x, y: x / y):
    A, B = rows[(key, a)], rows[(key, b)]
    return [op(A[r][fa], B[r][fb]) for r in sorted(A) if r in B]

print()
hdr = "%-4s %-38s %8s %13s  %-9s %s"
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
    line("added latency/signature, 1 client, µs",
         paired(key, "agent1", "raw1", "mean", "rate", lambda m, r: m - 1e6 / r),
         fmt="%.0f", target="< 150", ok=lambda x: x < 150)
PYEOF
