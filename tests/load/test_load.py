#!/usr/bin/env python3
"""Load: signetd under many clients, idle connections and a stalled one.

A real signetd on a private SoftHSM2 token, over its Unix socket only, with
a configuration file setting [agent] line_timeout = 2. The signing load
comes from tests/load/load_client (C, $SIGNET_LOAD_CLIENT): 64 connections
make 10,000 signatures in all, three in four with the EC P-256 key and one
in four with RSA-2048, each over its own document; every reply is checked
and EVERY signature is verified by OpenSSL's CMS_verify inside the client
(OpenSSL's code, not Signet's), signer certificate included.

In order:
  1. warm-up, twice: a smaller load, 1,000 connections opened, one
     request on each, closed; then a stalled client (timed out in 2 s,
     nothing else on the agent); then signetd's VmRSS is the baseline;
  2. one client's sign latency (200 signatures) with nothing else open;
  3. 1,000 idle connections opened and held; the same latency again;
  4. the full load, with the 1,000 idle connections still open and a
     client that sent half a request line and stalls: the load has no
     failure, the stalled client is closed after line_timeout;
  5. every idle connection (idle far longer than line_timeout) still
     answers agent.info; then all are closed;
  6. VmRSS within MAX_GROWTH_KIB of the baseline (not judged under
     sanitizers, whose quarantine holds freed memory; LeakSanitizer judges
     at exit there), and signetd exits 0 on SIGTERM.
Prints the rate, the latency percentiles, and the descriptor numbers.

The run's signetd gets MALLOC_MMAP_THRESHOLD_=131072: glibc's default
threshold, held fixed. glibc otherwise raises it at run time, after which
each connection's 256 KiB read buffer comes from the heap, and whether a
burst of them goes back to the system depends on the heap's layout: the
RSS comparison would judge the allocator's luck instead of leaks. What
those buffers cost is measured on its own, untuned, by ConnMemoryTest.

ConnMemoryTest (ctest load_conn_memory): a fresh signetd, 1,000
connections each make one small request and close; signetd's peak and
final RSS must stay near where they were.

FdExhaustionTest (ctest load_fd_exhaustion): signetd's descriptor limit
lowered to 64 while clients keep connecting: it serves the connections it
has, neither spins nor floods its log while it cannot accept, and accepts
the waiting clients once descriptors are free.

`test_load.py LoadTest` runs one class (unittest names).
"""

import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "lib"))
from agent import (Agent, Client, Token, build_dir,  # noqa: E402
                   build_sanitizers, proc_status_kib)

CLIENTS = 64
TOTAL = 10000
WARM_TOTAL = 2000
WARM_ROUNDS = 2
PROBE_TOTAL = 200
IDLE = 1000
LINE_TIMEOUT_S = 2
DOC_SIZE = 1024
CLIENT_TIMEOUT_S = 300        # load_client gives up (and fails) after this
MAX_GROWTH_KIB = 2048
CONNECT_S = 30                # to open all the idle connections
START_SOFT_NOFILE = 1024      # signetd's soft limit when it starts
# A stalled client must be closed no sooner than line_timeout, and not much
# later: the agent's timer, plus the loop being busy with the load, plus a
# shared machine's scheduling (still far below the default 30 s).
STALL_LATE_QUIET_S = 1.5
STALL_LATE_LOADED_S = 4.0
# Latency with 1,000 idle connections open, against without: the idle
# ones must cost the others next to nothing (a loop that walked every
# connection per event would show here), with room for a shared CI box.
IDLE_P50_FACTOR = 3.0
IDLE_P50_SLACK_US = 2000

HALF_LINE = b'{"jsonrpc":"2.0","id":1,"method":"agent.'


def load_client_path():
    path = os.environ.get("SIGNET_LOAD_CLIENT") or os.path.join(
        build_dir(), "bin", "load_client")
    if not os.access(path, os.X_OK):
        raise FileNotFoundError("no load_client at %s (build first)" % path)
    return path


def parse_kv(line):
    out = {}
    for field in line.split():
        key, sep, value = field.partition("=")
        if sep:
            out[key] = value
    return out


def nofile_limits(pid="self"):
    """(soft, hard) 'Max open files' of a process, from /proc."""
    with open("/proc/%s/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise KeyError("Max open files")


def open_fds(pid):
    """How many descriptors pid holds, or None when /proc hides them (a
    non-root caller: signetd makes itself non-dumpable)."""
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return None


def steady_fds(pid, timeout=10.0):
    """open_fds once it stopped changing: a connection the harness just
    closed is still open in signetd until its loop gets to it."""
    last = open_fds(pid)
    deadline = time.monotonic() + timeout
    while last is not None and time.monotonic() < deadline:
        time.sleep(0.2)
        now = open_fds(pid)
        if now == last:
            break
        last = now
    return last


def open_idle(path, n):
    """n connections that send nothing. A Unix socket's connect fails
    with EAGAIN (it does not wait) while the listen backlog is full:
    retry until signetd has accepted enough, within CONNECT_S."""
    socks = []
    deadline = time.monotonic() + CONNECT_S
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            socks.append(s)
            s.settimeout(30)
            while True:
                try:
                    s.connect(path)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.001)
    except BaseException:
        for s in socks:
            s.close()
        raise
    return socks


def ask_all(socks, timeout=60):
    """agent.info on every connection, all sent before any reply is read;
    returns how many answered it."""
    req = b'{"jsonrpc":"2.0","id":7,"method":"agent.info"}\n'
    for s in socks:
        s.settimeout(timeout)
        s.sendall(req)
    answered = 0
    for s in socks:
        buf = b""
        try:
            while not buf.endswith(b"\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        except OSError:
            continue
        if b'"id":7' in buf and b'"result"' in buf:
            answered += 1
    return answered


def cpu_seconds(pid):
    """User + system CPU time of pid so far, from /proc/PID/stat."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def raise_nofile():
    """1,000 sockets plus the harness's own: raise this process's soft
    limit to its hard one, as signetd does for itself."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = IDLE + 256
    if hard != resource.RLIM_INFINITY and hard < need:
        raise unittest.SkipTest(
            "RLIMIT_NOFILE hard limit %d < %d: cannot hold %d "
            "connections" % (hard, need, IDLE))
    if soft != resource.RLIM_INFINITY and soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class LoadTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        raise_nofile()
        cls.client_bin = load_client_path()
        cls.tok = Token()
        cls.work = tempfile.mkdtemp(prefix="signet-load-")
        cls.conf = os.path.join(cls.work, "signetd.conf")
        with open(cls.conf, "w") as f:
            f.write("[agent]\nline_timeout = %d\n" % LINE_TIMEOUT_S)
        env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072")
        # signetd starts with the usual soft limit of 1024 descriptors,
        # too few for the run: it must raise it to the hard one itself.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        cls.start_soft = min(START_SOFT_NOFILE, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (cls.start_soft, hard))
        try:
            cls.agent = Agent(token=cls.tok, env=env,
                              extra_args=["--config", cls.conf])
        except BaseException:
            cls.tok.cleanup()
            raise
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        with Client(cls.agent.socket) as c:
            c.result("token.login", {"pin": cls.tok.pin})

    @classmethod
    def tearDownClass(cls):
        if cls.agent.proc.poll() is None:
            cls.agent.kill()
        cls.tok.cleanup()
        shutil.rmtree(cls.work, ignore_errors=True)

    # -- helpers -----------------------------------------------------------

    def run_load(self, total, clients, certs):
        cmd = [self.client_bin, "--socket", self.agent.socket,
               "--ca", self.tok.ca, "--clients", str(clients),
               "--total", str(total), "--size", str(DOC_SIZE),
               "--timeout", str(CLIENT_TIMEOUT_S)]
        for cert in certs:
            cmd += ["--cert", cert]
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True,
                              timeout=CLIENT_TIMEOUT_S + 60)
        lines = proc.stdout.splitlines()
        self.assertEqual(proc.returncode, 0,
                         "load_client failed (%d):\n%s%s\nsignetd:\n%s"
                         % (proc.returncode, proc.stdout, proc.stderr,
                            self.agent.log()[-4000:]))
        summary = parse_kv(lines[0])
        self.assertEqual(int(summary["signs"]), total)
        self.assertEqual(int(summary["verified"]), total)
        self.assertEqual(int(summary["errors"]), 0)
        return summary, proc.stdout

    def mix(self):
        ec, rsa = self.tok.ec_sha256, self.tok.rsa_sha256
        return [ec, ec, ec, rsa]

    def stall(self, out):
        """Send half a line, then nothing; out gets the seconds until the
        agent closed the connection and what it sent meanwhile."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(LINE_TIMEOUT_S + 60)
            s.connect(self.agent.socket)
            s.sendall(HALF_LINE)
            t0 = time.monotonic()
            got = b""
            try:
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    got += chunk
            except OSError as e:
                out["error"] = e
            out["secs"] = time.monotonic() - t0
            out["got"] = got

    def check_stall(self, out, late):
        self.assertNotIn("error", out)
        self.assertEqual(out["got"], b"",
                         "the agent answered half a line")
        self.assertGreaterEqual(out["secs"], LINE_TIMEOUT_S - 0.05)
        self.assertLessEqual(out["secs"], LINE_TIMEOUT_S + late,
                             "stalled client closed after %.2f s"
                             % out["secs"])

    def settle(self):
        """Let signetd see every close, then prove it is idle again."""
        time.sleep(0.5)
        with Client(self.agent.socket) as c:
            self.assertEqual(c.result("agent.info")["name"], "signetd")
        time.sleep(0.2)

    # -- the run -----------------------------------------------------------

    def test_load(self):
        pid = self.agent.pid
        sanitized = build_sanitizers()
        ag_soft, ag_hard = nofile_limits(pid)
        self.assertEqual(ag_soft, ag_hard,
                         "signetd raised its soft RLIMIT_NOFILE (started "
                         "with %d) to the hard one" % self.start_soft)

        # 1. Warm-up: everything the run below does once, smaller, so
        # that allocator arenas and caches are in the baseline.
        t_start = time.monotonic()
        # Two rounds: the second one's connections land in a heap that
        # the first one's left fragmented (about 1 MiB, once).
        for _ in range(WARM_ROUNDS):
            self.run_load(WARM_TOTAL, CLIENTS, self.mix())
            idle = open_idle(self.agent.socket, IDLE)
            try:
                self.assertEqual(ask_all(idle), IDLE)
            finally:
                for s in idle:
                    s.close()
        quiet = {}
        self.stall(quiet)
        self.check_stall(quiet, STALL_LATE_QUIET_S)
        self.settle()
        rss_before = proc_status_kib(pid, "VmRSS")
        fds_start = steady_fds(pid)

        # 2. One client's latency, alone.
        base, _ = self.run_load(PROBE_TOTAL, 1, [self.tok.ec_sha256])

        # 3. 1,000 idle connections, held; the same latency again.
        idle = open_idle(self.agent.socket, IDLE)
        t_idle = time.monotonic()
        try:
            # The last ones may still wait in the listen backlog.
            deadline = time.monotonic() + CONNECT_S
            while True:
                fds_idle = open_fds(pid)
                if (fds_idle is None or fds_start is None or
                        fds_idle - fds_start >= IDLE or
                        time.monotonic() > deadline):
                    break
                time.sleep(0.05)
            if fds_idle is not None and fds_start is not None:
                self.assertGreaterEqual(fds_idle - fds_start, IDLE,
                                        "signetd holds the idle "
                                        "connections")
            else:
                time.sleep(1)  # cannot see them: give the accepts time
            with_idle, _ = self.run_load(PROBE_TOTAL, 1,
                                         [self.tok.ec_sha256])
            self.assertLessEqual(
                int(with_idle["p50"]),
                IDLE_P50_FACTOR * int(base["p50"]) + IDLE_P50_SLACK_US,
                "sign p50 %s us with %d idle connections, %s us without"
                % (with_idle["p50"], IDLE, base["p50"]))

            # 4. The full load, idle connections open, a client stalled.
            loaded = {}
            staller = threading.Thread(target=self.stall, args=(loaded,),
                                       daemon=True)
            staller.start()
            full, full_out = self.run_load(TOTAL, CLIENTS, self.mix())
            staller.join(LINE_TIMEOUT_S + 60)
            self.assertFalse(staller.is_alive(), "stalled client hung")
            self.check_stall(loaded, STALL_LATE_LOADED_S)
            rss_peak = proc_status_kib(pid, "VmHWM")

            # 5. The idle connections, idle for longer than line_timeout,
            # were kept, and are served: a request on each, all at once.
            idle_secs = time.monotonic() - t_idle
            if idle_secs < 2 * LINE_TIMEOUT_S:  # a very fast machine
                time.sleep(2 * LINE_TIMEOUT_S - idle_secs)
                idle_secs = time.monotonic() - t_idle
            answered = ask_all(idle)
            self.assertEqual(answered, IDLE,
                             "idle connections answered after %.1f s idle"
                             % idle_secs)
        finally:
            for s in idle:
                s.close()

        # 6. Memory back where it was; a clean exit.
        self.settle()
        rss_after = proc_status_kib(pid, "VmRSS")
        fds_end = steady_fds(pid)
        total_secs = time.monotonic() - t_start

        print()
        print("load: %d clients, %d signatures (EC P-256 3:1 RSA-2048, "
              "%d-byte documents), every one verified by CMS_verify"
              % (CLIENTS, TOTAL, DOC_SIZE))
        print(full_out.rstrip())
        print("load: %.1f signatures/s, p50 %.2f ms, p99 %.2f ms, "
              "max %.2f ms" % (float(full["rate"].rstrip("/s")),
                               int(full["p50"]) / 1000,
                               int(full["p99"]) / 1000,
                               int(full["max"]) / 1000))
        print("one client, %d EC signatures: p50 %.2f ms p99 %.2f ms alone; "
              "p50 %.2f ms p99 %.2f ms with %d idle connections open"
              % (PROBE_TOTAL, int(base["p50"]) / 1000,
                 int(base["p99"]) / 1000, int(with_idle["p50"]) / 1000,
                 int(with_idle["p99"]) / 1000, IDLE))
        print("stalled half line closed after %.2f s quiet, %.2f s under "
              "load (line_timeout %d s); %d idle connections all answered "
              "after %.1f s idle"
              % (quiet["secs"], loaded["secs"], LINE_TIMEOUT_S, IDLE,
                 idle_secs))
        print("signetd RLIMIT_NOFILE: started with soft %d, raised it to "
              "%d (hard %d); descriptors: %s before, %s with %d idle, %s "
              "at the end" % (self.start_soft, ag_soft, ag_hard, fds_start,
                              fds_idle, IDLE, fds_end))
        print("signetd VmRSS %d kB before, %d kB after (%+d kB), VmHWM "
              "%d kB after the load; whole test %.1f s"
              % (rss_before, rss_after, rss_after - rss_before, rss_peak,
                 total_secs))
        sys.stdout.flush()

        if fds_start is not None and fds_end is not None:
            self.assertEqual(fds_end, fds_start,
                             "signetd's descriptors back to the start")
        if sanitized:
            print("sanitized build (%s): RSS not judged; leaks are, at "
                  "exit" % sanitized)
        else:
            self.assertLess(rss_after - rss_before, MAX_GROWTH_KIB,
                            "signetd grew %d kB over the run"
                            % (rss_after - rss_before))
        self.agent.stop()


class ConnMemoryTest(unittest.TestCase):
    """1,000 connections, one small request each, then closed: what does
    that leave in signetd? Nothing tuned: glibc as signetd meets it."""

    # A connection that sent 47 bytes has no business costing more than a
    # few KiB at any moment, nor anything once it is gone.
    MAX_PEAK_GROWTH_KIB = 32 * 1024
    MAX_GROWTH_KIB = MAX_GROWTH_KIB

    def test_burst_of_small_requests(self):
        raise_nofile()
        with Token() as tok, Agent(token=tok) as ag:
            with Client(ag.socket) as c:
                c.result("token.login", {"pin": tok.pin})
                c.result("agent.info")  # first-call allocations
            time.sleep(0.2)
            rss0 = proc_status_kib(ag.pid, "VmRSS")
            hwm0 = proc_status_kib(ag.pid, "VmHWM")
            socks = open_idle(ag.socket, IDLE)
            try:
                self.assertEqual(ask_all(socks), IDLE)
                rss_open = proc_status_kib(ag.pid, "VmRSS")
            finally:
                for s in socks:
                    s.close()
            time.sleep(0.5)
            with Client(ag.socket) as c:
                c.result("agent.info")
            time.sleep(0.2)
            rss1 = proc_status_kib(ag.pid, "VmRSS")
            hwm1 = proc_status_kib(ag.pid, "VmHWM")
            print("\nsignetd, %d connections x one agent.info: VmRSS %d kB "
                  "before, %d kB with them open, %d kB after they closed "
                  "(%+d kB); VmHWM %d -> %d kB (%+d kB)"
                  % (IDLE, rss0, rss_open, rss1, rss1 - rss0, hwm0, hwm1,
                     hwm1 - hwm0))
            sys.stdout.flush()
            if build_sanitizers():
                print("sanitized build (%s): RSS not judged"
                      % build_sanitizers())
                return
            self.assertLess(
                hwm1 - hwm0, self.MAX_PEAK_GROWTH_KIB,
                "signetd's peak RSS grew %d kB for %d connections that "
                "each sent one 47-byte request (%d bytes each)"
                % (hwm1 - hwm0, IDLE, (hwm1 - hwm0) * 1024 // IDLE))
            self.assertLess(
                rss1 - rss0, self.MAX_GROWTH_KIB,
                "signetd kept %d kB after %d connections closed"
                % (rss1 - rss0, IDLE))


class FdExhaustionTest(unittest.TestCase):
    """signetd out of descriptors: its limit lowered to LIMIT while more
    clients connect than it can hold."""

    LIMIT = 64
    CLIENTS = 100
    WATCH_S = 1.0
    MAX_CPU_S = 0.25        # of WATCH_S: waiting, not spinning
    MAX_LOG_BYTES = 16384   # a few warnings, not one per spin

    def test_out_of_descriptors(self):
        with Token() as tok, Agent(token=tok) as ag:
            with Client(ag.socket) as c:
                c.result("token.login", {"pin": tok.pin})
            first = Client(ag.socket, timeout=10)
            self.addCleanup(first.close)
            first.result("agent.info")
            # Lowering another process's limit needs no privilege when
            # it runs as the same user.
            resource.prlimit(ag.pid, resource.RLIMIT_NOFILE,
                             (self.LIMIT, self.LIMIT))
            socks = open_idle(ag.socket, self.CLIENTS)
            try:
                time.sleep(0.5)  # signetd has hit the limit by now
                log0 = file_size(ag.log_path)
                cpu0 = cpu_seconds(ag.pid)
                time.sleep(self.WATCH_S)
                cpu = cpu_seconds(ag.pid) - cpu0
                logged = file_size(ag.log_path) - log0
                # A connection it holds is served meanwhile.
                t0 = time.monotonic()
                self.assertEqual(first.result("agent.info")["name"],
                                 "signetd")
                served_ms = (time.monotonic() - t0) * 1000
                tail = ag.log()[-300:]
                print("\nsignetd at RLIMIT_NOFILE %d with %d clients: "
                      "%.2f s CPU in %.1f s, %d bytes logged; a held "
                      "connection answered in %.1f ms; log ends:\n%s"
                      % (self.LIMIT, self.CLIENTS + 1, cpu, self.WATCH_S,
                         logged, served_ms, tail))
                sys.stdout.flush()
                self.assertLess(cpu, self.MAX_CPU_S,
                                "signetd spins while it cannot accept")
                self.assertLess(logged, self.MAX_LOG_BYTES,
                                "signetd floods its log while it cannot "
                                "accept")
                # Descriptors back: every waiting client is taken in.
                for s in socks[:self.CLIENTS // 2]:
                    s.close()
                rest = socks[self.CLIENTS // 2:]
                self.assertEqual(ask_all(rest, timeout=10), len(rest))
            finally:
                for s in socks:
                    s.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
