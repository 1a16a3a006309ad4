#!/usr/bin/env python3
"""signet audit init/verify/show/find on logs written by the agent's own
writer (tests/audit_gen.c drives agent/audit.c), tampered with in each way
verify must tell apart: one byte changed, a record deleted, two swapped,
the last line torn, a middle file removed, a record duplicated, a line
inserted, a wrong key.

usage: test_cli.py PATH-TO-signet PATH-TO-audit_gen
"""

import fcntl
import hashlib
import json
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

SIGNET, GEN = sys.argv[1], sys.argv[2]
EXIT_VERIFY, EXIT_TORN, EXIT_USAGE = 68, 75, 64
failures = []


def run(*args, env=None, check=None):
    p = subprocess.run(list(args), capture_output=True, text=True,
                       env=env, timeout=120)
    if check is not None and p.returncode != check:
        fail("%s: exit %d, wanted %d\nstdout: %s\nstderr: %s" % (
            " ".join(args), p.returncode, check, p.stdout, p.stderr))
    return p


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    failures.append(msg)


def expect(cond, msg):
    if not cond:
        fail(msg)


def signet(*args, env=None, check=None):
    return run(SIGNET, *args, env=env, check=check)


def logfiles(d):
    return sorted(f for f in os.listdir(d) if f.startswith("audit-")
                  and f.endswith(".log") and len(f) == 30)


def lines_of(path):
    with open(path, "rb") as f:
        return f.read().split(b"\n")


def write_lines(path, lines):
    with open(path, "wb") as f:
        f.write(b"\n".join(lines))


def verify(d, key, code, err_has=None, out_has=None):
    p = signet("audit", "verify", "--key", key, d, check=code)
    if err_has is not None:
        expect(err_has in p.stderr, "verify stderr lacks %r:\n%s" % (
            err_has, p.stderr))
    if out_has is not None:
        expect(out_has in p.stdout, "verify stdout lacks %r:\n%s" % (
            out_has, p.stdout))
    return p


def main():
    tmp = tempfile.mkdtemp(prefix="signet-audit-cli.")
    try:
        cases(tmp)
    finally:
        if os.environ.get("SIGNET_TEST_KEEP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("test_cli: %d failure(s)" % len(failures), file=sys.stderr)
        sys.exit(1)
    print("test_cli: ok")


def cases(tmp):
    d, key = os.path.join(tmp, "log"), os.path.join(tmp, "officer.key")
    doc = os.path.join(tmp, "contract.pdf")
    with open(doc, "wb") as f:
        f.write(b"%PDF-1.4 a contract\n" * 1000)

    # init: directory 0700, state 0600, key 0600; a second init refused.
    p = signet("audit", "init", "--dir", d, "--key-out", key, check=0)
    expect("verification key written to " + key in p.stdout, p.stdout)
    expect("Keep the key off this machine" in p.stdout, p.stdout)
    expect(stat.S_IMODE(os.stat(d).st_mode) == 0o700, "dir mode")
    expect(stat.S_IMODE(os.stat(os.path.join(d, "state")).st_mode) == 0o600,
           "state mode")
    expect(stat.S_IMODE(os.stat(key).st_mode) == 0o600, "key mode")
    with open(key) as f:
        ktext = f.read()
    expect(ktext.startswith("signet-audit-key 1\n"), ktext)
    p = signet("audit", "init", "--dir", d, "--key-out", key + "2",
               check=EXIT_USAGE)
    expect("already holds log" in p.stderr and "--force" in p.stderr,
           p.stderr)
    expect(not os.path.exists(key + "2"), "refused init wrote a key")
    signet("audit", "init", "--dir", os.path.join(tmp, "x"), "--key-out",
           key, check=70)  # never over an existing key file
    expect(not os.path.exists(os.path.join(tmp, "x", "state")),
           "init left a log without a key")

    # An empty log verifies.
    verify(d, key, 0, out_has="no records: intact")

    # Records from the agent's writer, in bursts (group commit).
    run(GEN, d, "60", "--doc", doc, "--burst", "8", check=0)
    verify(d, key, 0, out_has="60 records (1..60) in 1 file: intact")
    name = logfiles(d)[0]
    expect(name == "audit-00000000000000000001.log", name)
    expect(stat.S_IMODE(os.stat(os.path.join(d, name)).st_mode) == 0o640,
           "log file mode")
    lines = lines_of(os.path.join(d, name))
    expect(len(lines) == 61 and lines[-1] == b"", "60 lines and a newline")
    for ln in lines[:-1]:
        rec = json.loads(ln)
        expect(list(rec)[:3] == ["seq", "time", "prev"] and
               list(rec)[-1] == "mac", "key order %s" % list(rec))
        expect("pin" not in ln.decode().lower().replace("pinned", ""),
               "a record mentions pin")

    def tampered(label, edit, code, err_has, out_has=None):
        t = os.path.join(tmp, label)
        shutil.copytree(d, t)
        path = os.path.join(t, name)
        ls = lines_of(path)
        edit(ls)
        write_lines(path, ls)
        verify(t, key, code, err_has=None if err_has is None else
               "%s/%s:%s" % (t, name, err_has), out_has=out_has)
        return t

    def change_byte(ls):
        ls[16] = ls[16].replace(b"edms", b"Edms", 1)

    tampered("byte", change_byte, EXIT_VERIFY, "17: modified: MAC mismatch")

    def change_seq(ls):
        ls[11] = ls[11].replace(b'"seq":12,', b'"seq":13,', 1)

    tampered("seq", change_seq, EXIT_VERIFY, "12: modified: MAC mismatch")

    def delete(ls):
        del ls[22]

    tampered("delete", delete, EXIT_VERIFY,
             "23: deleted: record 23 is missing before record 24")

    def delete_run(ls):
        del ls[22:25]

    tampered("delete3", delete_run, EXIT_VERIFY,
             "23: deleted: records 23..25 are missing before record 26")

    def swap(ls):
        ls[29], ls[30] = ls[30], ls[29]

    tampered("swap", swap, EXIT_VERIFY,
             "30: reordered: record 31 comes before record 30")

    def dup(ls):
        ls.insert(10, ls[9])

    tampered("dup", dup, EXIT_VERIFY,
             "11: reordered: record 10 comes after record 10")

    def insert(ls):
        ls.insert(5, b'{"hello":"world"}')

    tampered("insert", insert, EXIT_VERIFY, "6: modified: not a record")

    def torn(ls):
        ls[59] = ls[59][:len(ls[59]) // 2]
        del ls[60]  # no final newline

    t = tampered("torn", torn, EXIT_TORN, "60: truncated tail",
                 out_has="59 records (1..59) in 1 file: every record checks")
    p = verify(t, key, EXIT_TORN, err_has="warning:")
    # The state has record 60; its line is gone: the writer refuses to go
    # on with a log that lost what it had acknowledged (fail closed).
    p = run(GEN, t, "1")
    expect(p.returncode == 1 and "cannot open" in p.stderr,
           "writer went on after its tail was cut: %s" % p.stderr)

    def drop_tail(ls):
        del ls[55:60]

    # Removing the newest records leaves nothing to see (documented).
    tampered("cut", drop_tail, 0, None,
             out_has="55 records (1..55) in 1 file: intact")

    # A key of another log.
    d2, key2 = os.path.join(tmp, "other"), os.path.join(tmp, "other.key")
    signet("audit", "init", "--dir", d2, "--key-out", key2, check=0)
    p = signet("audit", "verify", "--key", key2, d, check=EXIT_USAGE)
    expect("the key is for log" in p.stderr, p.stderr)
    # ... and without the log-id file to catch it: every MAC fails.
    t = os.path.join(tmp, "noid")
    shutil.copytree(d, t)
    os.unlink(os.path.join(t, "log-id"))
    verify(t, key2, EXIT_VERIFY, err_has=":1: modified: MAC mismatch")
    p = signet("audit", "verify", t, check=EXIT_USAGE)
    expect("give --key" in p.stderr, p.stderr)

    # Rotation: at least three files, the chain unbroken across them.
    d3, key3 = os.path.join(tmp, "rot"), os.path.join(tmp, "rot.key")
    signet("audit", "init", "--dir", d3, "--key-out", key3, check=0)
    run(GEN, d3, "25", "--max-file", "2048", check=0)
    run(GEN, d3, "15", "--max-file", "2048", "--burst", "15", check=0)
    files = logfiles(d3)
    expect(len(files) >= 3, "rotation made %d files" % len(files))
    verify(d3, key3, 0, out_has="40 records (1..40) in %d files: intact"
           % len(files))
    for f in files:
        expect(os.path.getsize(os.path.join(d3, f)) <= 2048, "file size")
    # The newest files alone (older ones archived): checked from there.
    tail = [os.path.join(d3, f) for f in files[-2:]]
    p = signet("audit", "verify", "--key", key3, *tail, check=0)
    first = int(files[-2][6:26])
    expect("(%d..40)" % first in p.stdout, p.stdout)
    # A middle file removed.
    t = os.path.join(tmp, "rotcut")
    shutil.copytree(d3, t)
    os.unlink(os.path.join(t, files[1]))
    verify(t, key3, EXIT_VERIFY, err_has="%s/%s:1: deleted" % (t, files[2]))
    # Files out of order on the command line.
    p = signet("audit", "verify", "--key", key3, tail[1], tail[0],
               check=EXIT_VERIFY)
    expect("reordered" in p.stderr, p.stderr)

    # show: the table, filters, JSON lines.
    p = signet("audit", "show", "--dir", d, check=0)
    rows = p.stdout.splitlines()
    expect(rows[0].split()[:4] == ["SEQ", "TIME", "(UTC)", "EVENT"], rows[0])
    expect(len(rows) == 61, "show printed %d rows" % len(rows))
    expect(any("Иванов Иван" in r for r in rows), "Cyrillic CN shown")
    expect(any("/opt/edms/bin/signer" in r for r in rows), "exe shown")

    def show_json(*args):
        p = signet("audit", "show", "--dir", d, "--json", *args, check=0)
        return [json.loads(x) for x in p.stdout.splitlines()]

    recs = show_json()
    expect([r["seq"] for r in recs] == list(range(1, 61)), "all seqs")
    denied = [i for i in range(60) if i % 7 == 3 and i % 10 != 0]
    expect([r["seq"] for r in show_json("--decision", "deny")] ==
           [i + 1 for i in denied], "--decision deny")
    expect(all(r["reason"] == "policy_denied" for r in
               show_json("--decision", "deny")), "deny reasons")
    expect(len(show_json("--uid", "1001")) == 20, "--uid")
    expect(len(show_json("--event", "login")) == 6, "--event login")
    expect(len(show_json("--cert", "A1A1a1")) == 24, "--cert prefix")
    expect(len(show_json("--cert", "0f0f", "--decision", "allow")) ==
           len([i for i in range(60) if i % 2 and i % 10 and i % 7 != 3]),
           "--cert and --decision")
    expect(len(show_json("--since", "2000-01-01", "--until",
                         "2100-01-01T00:00")) == 60, "--since --until")
    expect(show_json("--since", "2100-01-01") == [], "--since future")
    p = signet("audit", "show", "--dir", d, "--since", "2100-01-01", check=0)
    expect(p.stdout == "no records\n", p.stdout)
    signet("audit", "show", "--dir", d, "--since", "yesterday",
           check=EXIT_USAGE)
    signet("audit", "show", "--dir", d, "--decision", "maybe",
           check=EXIT_USAGE)
    signet("audit", "show", "--dir", d, "--cert", "xyz", check=EXIT_USAGE)
    # show lists a tampered log too (it does not verify), one warning for
    # a line that is not a record.
    p = signet("audit", "show", "--dir", os.path.join(tmp, "insert"),
               "--json", check=0)
    expect(len(p.stdout.splitlines()) == 60 and "not a record" in p.stderr,
           p.stderr)

    # find --doc: by digest, whatever the algorithm.
    p = signet("audit", "find", "--dir", d, "--doc", doc, "--json", check=0)
    found = [json.loads(x) for x in p.stdout.splitlines()]
    want = [i + 1 for i in range(60) if i % 5 == 2]
    expect([r["seq"] for r in found] == want, "find: %s" %
           [r["seq"] for r in found])
    algs = sorted(set(r["documents"][0]["digest_alg"] for r in found))
    expect(algs == ["sha256", "sha512"], "find algs %s" % algs)
    with open(doc, "rb") as f:
        data = f.read()
    expect(found[0]["documents"][0] == {
        "digest_alg": "sha256", "digest": hashlib.sha256(data).hexdigest(),
        "size": len(data)}, "document entry %s" % found[0]["documents"])
    p = signet("audit", "find", "--dir", d, "--doc", doc, check=0)
    expect(len(p.stdout.splitlines()) == len(want) + 1, p.stdout)
    other = os.path.join(tmp, "other.pdf")
    with open(other, "wb") as f:
        f.write(b"nobody signed this")
    p = signet("audit", "find", "--dir", d, "--doc", other, check=1)
    expect("no record mentions" in p.stdout, p.stdout)
    signet("audit", "find", "--dir", d, check=EXIT_USAGE)
    signet("audit", "find", "--dir", d, "--doc", os.path.join(tmp, "none"),
           check=70)

    # Defaults: XDG_STATE_HOME for the log, XDG_CONFIG_HOME for the key,
    # found again through the log-id file.
    env = dict(os.environ, XDG_STATE_HOME=os.path.join(tmp, "state"),
               XDG_CONFIG_HOME=os.path.join(tmp, "cfg"))
    p = signet("audit", "init", env=env, check=0)
    ddir = os.path.join(tmp, "state", "signet", "audit")
    with open(os.path.join(ddir, "log-id")) as f:
        logid = f.read().split("\nlog ")[1].split("\n")[0]
    kdef = os.path.join(tmp, "cfg", "signet", "audit-%s.key" % logid)
    expect(os.path.exists(kdef), "default key file %s" % kdef)
    run(GEN, ddir, "5", check=0)
    p = signet("audit", "verify", env=env, check=0)
    expect("5 records (1..5) in 1 file: intact" in p.stdout, p.stdout)
    p = signet("audit", "show", env=env, check=0)
    expect(len(p.stdout.splitlines()) == 6, p.stdout)

    # --key-out -: the key on stdout, messages on stderr.
    p = signet("audit", "init", "--dir", os.path.join(tmp, "stdout"),
               "--key-out", "-", check=0)
    expect(p.stdout.startswith("signet-audit-key 1\n"), p.stdout)
    expect("set up in" in p.stderr, p.stderr)

    # --force retires the old log (still verifiable with its key), but not
    # while an agent holds the log.
    with open(os.path.join(d3, "state"), "rb") as sf:
        fcntl.flock(sf, fcntl.LOCK_EX)
        p = signet("audit", "init", "--dir", d3, "--key-out",
                   os.path.join(tmp, "rot2.key"), "--force", check=70)
        expect("in use by a running agent" in p.stderr, p.stderr)
    with open(os.path.join(d3, "log-id")) as f:
        oldid = f.read().split("\nlog ")[1].split("\n")[0]
    p = signet("audit", "init", "--dir", d3, "--key-out",
               os.path.join(tmp, "rot2.key"), "--force", check=0)
    retired = os.path.join(d3, "retired-" + oldid)
    expect("previous log %s moved" % oldid in p.stdout, p.stdout)
    verify(retired, key3, 0, out_has="40 records (1..40)")
    expect(logfiles(d3) == [], "new log starts empty")
    verify(d3, os.path.join(tmp, "rot2.key"), 0, out_has="no records")
    signet("audit", "verify", "--key", key3, d3, check=EXIT_USAGE)

    # SIGKILL during bursts of records (and rotations): what is on disk
    # verifies, and the next writer continues the chain.
    d5, key5 = os.path.join(tmp, "kill"), os.path.join(tmp, "kill.key")
    signet("audit", "init", "--dir", d5, "--key-out", key5, check=0)
    rng = random.Random(5)
    last = 0
    for _ in range(6):
        w = subprocess.Popen([GEN, d5, "1000000", "--burst", "16",
                              "--max-file", "65536"],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.05, 0.4))
        w.send_signal(signal.SIGKILL)
        w.wait()
        p = signet("audit", "verify", "--key", key5, d5)
        m = re.search(r"(\d+) records \(1\.\.(\d+)\)", p.stdout)
        expect(p.returncode in (0, EXIT_TORN) and m is not None,
               "after SIGKILL: exit %d\n%s%s" % (p.returncode, p.stdout,
                                                 p.stderr))
        if m is None:
            break
        n = int(m.group(2))
        expect(n > last, "no progress after a kill: %d" % n)
        last = n
    run(GEN, d5, "10", "--max-file", "65536", check=0)
    p = signet("audit", "verify", "--key", key5, d5)
    expect(p.returncode in (0, EXIT_TORN) and
           "(1..%d)" % (last + 10) in p.stdout,
           "restart after kills: %s%s" % (p.stdout, p.stderr))

    # Usage.
    signet("audit", check=EXIT_USAGE)
    signet("audit", "frob", check=EXIT_USAGE)
    signet("audit", "verify", "--dir", d, d, check=EXIT_USAGE)
    for sub in ("init", "verify", "show", "find"):
        p = signet("audit", sub, "--help", check=0)
        expect(p.stdout.startswith("usage: signet audit " + sub), p.stdout)


if __name__ == "__main__":
    main()
