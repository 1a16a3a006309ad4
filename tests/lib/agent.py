#!/usr/bin/env python3
"""Signet integration-test harness (Python 3 standard library only).

Import it from an integration test:

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "lib"))
    from agent import Token, Agent, Client, openssl_verify

    with Token() as tok, Agent(token=tok) as ag, Client(ag.socket) as c:
        r = c.call("token.login", {"pin": tok.pin})
        assert r["result"]["logged_in"] is True
        r = c.call("sign", {"cert": tok.rsa_sha256, "fd": 0},
                   fds=[os.open(doc, os.O_RDONLY)])

The build directory comes from $SIGNET_BUILD_DIR (register the test with
`set_tests_properties(T PROPERTIES ENVIRONMENT
SIGNET_BUILD_DIR=${CMAKE_BINARY_DIR})`), else <repo>/build.

$SIGNET_AGENT_WRAPPER, when set, is a command put before signetd's argv by
every Agent, e.g. "valgrind --error-exitcode=99 --leak-check=full ..."
(scripts/valgrind.sh); Agent.stop() then asserts the wrapper's exit 0.

Every token is a private SoftHSM2 store in a temporary directory made by
scripts/mktoken.sh; the system token store is never touched.

`python3 tests/lib/agent.py --selftest` checks the parts that need no
signetd (ctest: harness_token).
"""

import base64
import hashlib
import itertools
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
MKTOKEN = os.path.join(REPO, "scripts", "mktoken.sh")
SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"

# A reply line from the agent is at most this long; a harness that reads
# more is talking to a broken agent and should say so, not eat memory.
MAX_REPLY_LINE = 64 * 1024 * 1024


def build_dir():
    """The build tree under test: $SIGNET_BUILD_DIR, else <repo>/build."""
    return os.path.abspath(os.environ.get("SIGNET_BUILD_DIR") or
                           os.path.join(REPO, "build"))


def build_sanitizers(build=None):
    """SIGNET_SANITIZE of the build under test ("" when none): under ASan,
    RSS says nothing and LeakSanitizer's exit status says more."""
    try:
        with open(os.path.join(build or build_dir(), "CMakeCache.txt")) as f:
            for line in f:
                if line.startswith("SIGNET_SANITIZE:"):
                    return line.partition("=")[2].strip()
    except OSError:
        pass
    return ""


def agent_wrapper():
    """$SIGNET_AGENT_WRAPPER split into words: a command every Agent puts
    before signetd's argv (scripts/valgrind.sh sets it to valgrind). Empty
    when unset."""
    return shlex.split(os.environ.get("SIGNET_AGENT_WRAPPER") or "")


# Under a wrapper (valgrind: 20 to 50 times slower) signetd needs longer to
# start and to stop; the Agent's own waits are stretched by this much.
WRAPPED_SLOWDOWN = 10


def _keep_tmp():
    return os.environ.get("SIGNET_TEST_KEEP") == "1"


class Token:
    """A SoftHSM2 token made by scripts/mktoken.sh in a temporary directory.

    Attributes: dir, conf (SOFTHSM2_CONF path), module, label, serial, pin,
    ca, rsa_cert, ec_cert (PEM paths), rsa_sha256, ec_sha256 (lower-case
    hex of the certificate DER, the form certs.list reports).
    """

    def __init__(self, pin="123456", label="signet-demo",
                 module=SOFTHSM_MODULE, directory=None):
        self._own_dir = directory is None
        self.dir = directory or tempfile.mkdtemp(prefix="signet-token-")
        env = dict(os.environ, MODULE=module, TOKEN_LABEL=label)
        proc = subprocess.run(["bash", MKTOKEN, self.dir, pin], env=env,
                              stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            self.cleanup()
            raise RuntimeError("mktoken.sh failed (%d):\n%s%s" % (
                proc.returncode, proc.stdout, proc.stderr))
        vals = {}
        for line in proc.stdout.splitlines():
            key, sep, value = line.partition("=")
            if sep:
                vals[key] = value
        self.conf = vals["SOFTHSM2_CONF"]
        self.module = vals["MODULE"]
        self.label = vals["TOKEN_LABEL"]
        self.serial = vals["TOKEN_SERIAL"]
        self.pin = vals["PIN"]
        self.ca = vals["CA"]
        self.rsa_cert = vals["RSA_CERT"]
        self.ec_cert = vals["EC_CERT"]
        self.rsa_sha256 = vals["RSA_SHA256"]
        self.ec_sha256 = vals["EC_SHA256"]

    def env(self, base=None):
        """An environment in which PKCS#11 tools see only this token."""
        env = dict(os.environ if base is None else base)
        env["SOFTHSM2_CONF"] = self.conf
        return env

    def cleanup(self):
        if self._own_dir and not _keep_tmp():
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()


class Agent:
    """signetd in the foreground on a private socket.

    Attributes: socket (path), pid, proc, dir (its temporary directory,
    also its XDG_RUNTIME_DIR), log_path (stdout+stderr of signetd),
    audit_dir (its private audit log, set up by signetd on first start;
    the officer's key goes under dir/config, see audit_key()).
    """

    def __init__(self, build=None, token=None, extra_args=(), env=None,
                 modules=None, timeout=10.0):
        self.build = os.path.abspath(build or build_dir())
        self.binary = os.path.join(self.build, "bin", "signetd")
        if not os.access(self.binary, os.X_OK):
            raise FileNotFoundError("no signetd at %s" % self.binary)
        self.dir = tempfile.mkdtemp(prefix="signet-agent-")
        self.socket = os.path.join(self.dir, "agent.sock")
        self.log_path = os.path.join(self.dir, "signetd.log")
        if modules is None:
            modules = [token.module] if token is not None else []
        args = [self.binary, "--foreground", "--socket", self.socket]
        for m in modules:
            args += ["--module", m]
        self.audit_dir = os.path.join(self.dir, "audit")
        if "--audit-dir" not in extra_args:
            args += ["--audit-dir", self.audit_dir]
        args += list(extra_args)
        run_env = dict(os.environ if env is None else env)
        run_env["XDG_RUNTIME_DIR"] = self.dir
        run_env["XDG_CONFIG_HOME"] = os.path.join(self.dir, "config")
        if token is not None:
            run_env["SOFTHSM2_CONF"] = token.conf
        self.args = args
        # Started under $SIGNET_AGENT_WRAPPER when set; pid stays signetd's
        # (valgrind runs its client in the process it was started as).
        self.wrapper = agent_wrapper()
        self._slow = WRAPPED_SLOWDOWN if self.wrapper else 1
        timeout *= self._slow
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.wrapper + args, env=run_env,
                                     stdin=subprocess.DEVNULL,
                                     stdout=self._log,
                                     stderr=subprocess.STDOUT)
        self.pid = self.proc.pid
        try:
            self._wait_ready(timeout)
            if self.wrapper and token is not None:
                self._wait_token(token, timeout)
        except BaseException:
            self.kill()
            raise

    def audit_key(self):
        """The officer's key that signetd wrote when it set up the log."""
        d = os.path.join(self.dir, "config", "signet")
        keys = [f for f in os.listdir(d) if f.endswith(".key")]
        assert len(keys) == 1, keys
        return os.path.join(d, keys[0])

    def _wait_ready(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise RuntimeError("signetd exited %d before listening:\n%s"
                                   % (rc, self.log()))
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.connect(self.socket)
                return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("signetd not listening on %s after %.0f s:"
                                   "\n%s" % (self.socket, timeout, self.log()))
            time.sleep(0.02)

    def _wait_token(self, token, timeout):
        """Under a wrapper the helper reports the token seconds after the
        socket is up, not milliseconds: wait (reading the log, so nothing
        is asked of signetd) until it has, as tests written against a
        plain signetd expect. Best effort: a test that expects no token
        goes on after the timeout."""
        want = "event token.inserted: token %s " % token.serial
        deadline = time.monotonic() + timeout
        while want not in self.log() and self.proc.poll() is None:
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)

    def log(self):
        """What signetd printed so far."""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def client(self, **kw):
        return Client(self.socket, **kw)

    def stop(self, timeout=10.0, keep=False):
        """SIGTERM, wait, and assert signetd exited 0. keep: leave its
        directory (audit log, key) for inspection; kill() removes it.
        Under a wrapper, its exit status counts too (valgrind's
        --error-exitcode), and the wait is WRAPPED_SLOWDOWN times longer."""
        timeout *= self._slow
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("signetd ignored SIGTERM for %.0f s:\n%s"
                                 % (timeout, self.log()))
        log = self.log() if rc != 0 else ""  # before _close removes it
        self._close(remove=not keep)
        assert rc == 0, "signetd exited %d:\n%s" % (rc, log)
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close()

    def _close(self, remove=True):
        if not self._log.closed:
            self._log.close()
        if remove and not _keep_tmp():
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop()
        else:
            self.kill()


class RpcError(Exception):
    """An error reply; .code, .reason, .data, .reply hold the details."""

    def __init__(self, reply):
        err = reply.get("error") or {}
        self.reply = reply
        self.code = err.get("code")
        self.data = err.get("data") or {}
        self.reason = self.data.get("reason")
        super().__init__("%s %s: %s" % (self.code, self.reason,
                                        err.get("message")))


class Client:
    """A raw protocol client: one connection, one JSON object per line."""

    def __init__(self, path, timeout=30.0):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self._buf = b""
        self._ids = itertools.count(1)

    def send_raw(self, data, fds=()):
        """Send bytes as they are; fds travel with the first byte."""
        if fds:
            n = socket.send_fds(self.sock, [data[:1]], list(fds))
            data = data[n:]
        if data:
            self.sock.sendall(data)

    def recv_line(self):
        """One line without its '\\n'; None at end of stream."""
        while b"\n" not in self._buf:
            if len(self._buf) > MAX_REPLY_LINE:
                raise ValueError("reply line over %d bytes" % MAX_REPLY_LINE)
            chunk = self.sock.recv(65536)
            if not chunk:
                if self._buf:
                    raise EOFError("stream ended inside a line: %r"
                                   % self._buf[:200])
                return None
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return line

    def recv(self):
        """The next reply, parsed; None at end of stream."""
        line = self.recv_line()
        return None if line is None else json.loads(line)

    def call(self, method, params=None, fds=(), req_id=None):
        """Send one request and return the full reply object."""
        if req_id is None:
            req_id = next(self._ids)
        req = {"jsonrpc": "2.0", "id": req_id, "method": method}
        if params is not None:
            req["params"] = params
        self.send_raw(json.dumps(req, separators=(",", ":")).encode() + b"\n",
                      fds)
        reply = self.recv()
        if reply is None:
            raise EOFError("agent closed the connection after %s" % method)
        return reply

    def result(self, method, params=None, fds=()):
        """call() that returns reply["result"] or raises RpcError."""
        reply = self.call(method, params, fds)
        if "error" in reply:
            raise RpcError(reply)
        return reply["result"]

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def signet(args, socket_path=None, build=None, **kw):
    """Run build/bin/signet with --socket; returns CompletedProcess (text)."""
    cmd = [os.path.join(build or build_dir(), "bin", "signet")]
    if socket_path is not None:
        cmd += ["--socket", socket_path]
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 60)
    if "input" not in kw:
        kw.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.run(cmd + list(args), **kw)


def openssl_verify(sig_der_path, doc_path, ca_path):
    """Does OpenSSL accept the detached DER CMS signature over doc?"""
    proc = subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "DER",
         "-in", sig_der_path, "-content", doc_path, "-CAfile", ca_path,
         "-purpose", "any", "-out", "/dev/null"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    return proc.returncode == 0


def pem_sha256(pem_path):
    """SHA-256 of the DER inside a one-certificate PEM file, lower hex."""
    with open(pem_path) as f:
        body = [l.strip() for l in f
                if l.strip() and not l.startswith("-----")]
    return hashlib.sha256(base64.b64decode("".join(body))).hexdigest()


def protocol_limit(name):
    """A numeric #define of include/signet/protocol.h (the contract), e.g.
    protocol_limit("SIGNET_MAX_LINE"), so tests follow the header."""
    import re
    src = os.environ.get("SIGNET_SOURCE_DIR") or REPO
    with open(os.path.join(src, "include", "signet", "protocol.h")) as f:
        text = f.read()
    m = re.search(r"^#define\s+%s\s+([^/\n]+)" % re.escape(name), text,
                  re.M)
    if m is None:
        raise KeyError(name)
    expr = re.sub(r"(\d+)[uUlL]+\b", r"\1", m.group(1).strip())
    if not re.fullmatch(r"[0-9*+() ]+", expr):
        raise ValueError("%s is not a plain number: %r" % (name, expr))
    return int(eval(expr, {"__builtins__": {}}))  # digits and * + ( ) only


def expect_error(reply, code, reason):
    """Assert reply is a JSON-RPC error with this code and data.reason;
    returns its data object."""
    err = reply.get("error") if isinstance(reply, dict) else None
    if not isinstance(err, dict):
        raise AssertionError("expected error %d %s, got %r"
                             % (code, reason, reply))
    data = err.get("data") or {}
    if err.get("code") != code or data.get("reason") != reason:
        raise AssertionError("expected error %d %s, got %d %s: %r"
                             % (code, reason, err.get("code"),
                                data.get("reason"), reply))
    return data


def child_pids(pid):
    """Direct children of pid (all its threads), from /proc."""
    kids = set()
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return []
    for tid in tasks:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids.update(int(k) for k in f.read().split())
        except OSError:
            pass
    return sorted(kids)


def helper_pids(agent_pid):
    """signetd's signet-pkcs11-helper children (live or not yet reaped),
    also when valgrind runs them (argv: valgrind.bin OPTIONS... PROGRAM)."""
    out = []
    for kid in child_pids(agent_pid):
        try:
            with open("/proc/%d/cmdline" % kid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if os.path.basename(argv[0]).startswith(b"valgrind"):
            argv = [a for a in argv[1:] if not a.startswith(b"-")] or [b""]
        if os.path.basename(argv[0]) == b"signet-pkcs11-helper":
            out.append(kid)
    return out


def proc_status_kib(pid, field):
    """A kB field of /proc/PID/status (VmHWM, VmRSS, ...) as an int."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


# ---------------------------------------------------------------------------
# Self-test: the harness parts that need no signetd.

def _selftest_token(check):
    with Token() as tok:
        out = subprocess.run(
            ["pkcs11-tool", "--module", tok.module, "--token-label",
             tok.label, "-O"],
            env=tok.env(), capture_output=True, text=True, timeout=30)
        check(out.returncode == 0, "pkcs11-tool -O ran: " + out.stderr)
        certs = out.stdout.count("Certificate Object")
        check(certs == 2, "token holds 2 certificates, saw %d" % certs)
        check("Signet Demo RSA" in out.stdout and
              "Signet Demo EC" in out.stdout, "both subjects on the token")
        check(pem_sha256(tok.rsa_cert) == tok.rsa_sha256,
              "RSA fingerprint matches rsa.pem")
        check(pem_sha256(tok.ec_cert) == tok.ec_sha256,
              "EC fingerprint matches ec.pem")
        check(len(tok.serial) > 0 and tok.pin == "123456"
              and tok.label == "signet-demo", "serial, PIN and label")
        with open(tok.conf) as f:
            conf = f.read()
        check(os.path.join(tok.dir, "tokens") in conf and
              "objectstore.backend = file" in conf, "private token store")

        # openssl_verify must say yes to a good signature and no to a bad
        # one: sign with the demo CA's software key, then tamper.
        doc = os.path.join(tok.dir, "doc.txt")
        sig = os.path.join(tok.dir, "doc.sig")
        with open(doc, "wb") as f:
            f.write(b"Signet harness self-test\n")
        subprocess.run(["openssl", "cms", "-sign", "-binary", "-outform",
                        "DER", "-in", doc, "-out", sig, "-signer", tok.ca,
                        "-inkey", os.path.join(tok.dir, "ca.key"),
                        "-md", "sha256"],
                       check=True, capture_output=True, timeout=30)
        check(openssl_verify(sig, doc, tok.ca), "openssl_verify accepts")
        with open(doc, "ab") as f:
            f.write(b"x")
        check(not openssl_verify(sig, doc, tok.ca),
              "openssl_verify rejects a changed document")
        tokdir = tok.dir
    check(not os.path.exists(tokdir) or _keep_tmp(), "token dir removed")


def _selftest_client(check):
    """Client framing and SCM_RIGHTS against an in-process fake peer."""
    tmp = tempfile.mkdtemp(prefix="signet-harness-")
    path = os.path.join(tmp, "fake.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    seen = {}

    def serve():
        conn, _ = srv.accept()
        with conn:
            msg, fds, _, _ = socket.recv_fds(conn, 1 << 16, 4)
            while not msg.endswith(b"\n"):
                msg += conn.recv(1 << 16)
            seen["req"] = json.loads(msg)
            seen["fd_data"] = [os.read(fd, 100) for fd in fds]
            for fd in fds:
                os.close(fd)
            reply = {"jsonrpc": "2.0", "id": seen["req"]["id"],
                     "result": {"ok": True}}
            # Split the reply to exercise line reassembly.
            data = json.dumps(reply).encode() + b"\n"
            conn.sendall(data[:5])
            time.sleep(0.05)
            conn.sendall(data[5:] + b'{"id":null}\n')

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    r, w = os.pipe()
    os.write(w, b"document bytes")
    os.close(w)
    try:
        with Client(path, timeout=10) as c:
            reply = c.call("sign", {"fd": 0}, fds=[r])
            check(reply == {"jsonrpc": "2.0", "id": 1,
                            "result": {"ok": True}}, "reply parsed")
            check(c.recv() == {"id": None}, "second line kept")
            check(c.recv() is None, "end of stream is None")
        t.join(10)
        check(seen.get("req") == {"jsonrpc": "2.0", "id": 1,
                                  "method": "sign", "params": {"fd": 0}},
              "request line")
        check(seen.get("fd_data") == [b"document bytes"],
              "descriptor passed")
    finally:
        os.close(r)
        srv.close()
        shutil.rmtree(tmp, ignore_errors=True)


def selftest():
    passed = failed = 0

    def check(cond, what):
        nonlocal passed, failed
        if cond:
            passed += 1
        else:
            failed += 1
            print("FAIL: %s" % what)

    t0 = time.monotonic()
    _selftest_token(check)
    _selftest_client(check)
    print("harness self-test: %.1f s" % (time.monotonic() - t0))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--selftest"]:
        sys.exit(selftest())
    print(__doc__)
    sys.exit(2)
