#!/usr/bin/env python3
"""PC/SC test rig: a private pcscd, a virtual reader, a virtual smart card.

A real PC/SC stack with insert and remove at will, for tests of anything
that goes through pcscd (OpenSC's opensc-pkcs11.so, signetd's hotplug):

    sys.path.insert(0, os.path.join(<repo>, "tests", "lib"))
    import pcsc
    pcsc.enter_namespace()      # first thing: re-executes under unshare -m

    with pcsc.PcscRig() as rig:             # card made, pcscd up, card out
        rig.insert()                        # returns once PC/SC sees it
        out = rig.p11("-L").stdout          # pkcs11-tool on opensc-pkcs11
        sig = rig.sign(b"data")             # RSA PKCS#1 v1.5, SHA-256
        rig.remove()                        # returns once it is gone
        rig.kill_pcscd(); rig.start_pcscd() # crash and restart

What is where:
  - pcscd: Debian's, run as `pcscd -f -c <dir>/reader.conf.d` with
    LD_PRELOAD=<build>/lib/nodelay_preload.so (TCP_NODELAY: ~40 ms less
    per APDU; and vpcd's port bound on 127.0.0.1 only). It serves
    /run/pcscd/pcscd.comm like the system one, so every PC/SC client the
    test starts (pkcs11-tool, signetd, its helpers) finds it there; the
    private mount namespace with a tmpfs on /run/pcscd keeps any system
    pcscd out of sight, and ours out of the system's.
  - readers: vsmartcard's vpcd driver, two slots: "Virtual PCD 00 00"
    (rig.reader, where the card goes) on 127.0.0.1:rig.port and
    "Virtual PCD 00 01" (rig.other_reader, always empty) on port + 1.
  - card: <build>/bin/vcard_bridge, libcacard's CAC emulation over an NSS
    database made here with certutil: a test CA and one RSA-2048 user
    certificate with its key. OpenSC's cac driver serves it. The PIN is the
    NSS database password (rig.pin). A wrong PIN comes back from OpenSC as
    CKR_GENERAL_ERROR (the emulation answers SW 6985), not
    CKR_PIN_INCORRECT. Removal and loss of pcscd power the card down: it
    is logged out, as a real card would be.
  - rig.card: .ca and .cert (PEM paths), .cert_sha256 (hex of the DER),
    .subject_cn (also the token label OpenSC shows), .pin.
  - rig.key_id: the CKA_ID of the certificate and key ("0001", OpenSC's
    cac driver numbering).

Every process the rig starts dies with the test (PR_SET_PDEATHSIG) and is
stopped by rig.close() (the `with` block) even when a test fails. Build
tree: $SIGNET_BUILD_DIR, else <repo>/build. SIGNET_TEST_KEEP=1 keeps the
rig's directory (logs: pcscd-N.log, bridge.log).

With signetd (tests/lib/agent.py), which finds this pcscd the same way:

    pcsc.enter_namespace()
    with pcsc.PcscRig() as rig, Agent(modules=[rig.module]) as ag:
        rig.insert()
        ... tokens.list shows rig.card.subject_cn (label) and the serial
        from rig.token_info()["serial"]; certs.list has rig.card.cert_sha256;
        login with rig.pin; openssl_verify(sig, doc, rig.card.ca) ...
        rig.remove()            # or rig.kill_pcscd() / rig.start_pcscd()

`python3 tests/lib/pcsc.py --selftest` checks the rig itself.
"""

import ctypes
import glob
import hashlib
import os
import random
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agent import build_dir  # noqa: E402

def _opensc_module():
    """Debian's opensc-pkcs11.so for this architecture."""
    default = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"
    if os.path.exists(default):
        return default
    found = sorted(glob.glob("/usr/lib/*/opensc-pkcs11.so"))
    return found[0] if found else default


OPENSC_MODULE = _opensc_module()
VPCD_CONF = "/etc/reader.conf.d/vpcd"
VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
PCSCD_DIR = "/run/pcscd"
READER_BASE = "Virtual PCD"
CAC_KEY_ID = "0001"
SKIP = 77  # ctest SKIP_RETURN_CODE

_NS_ENV = "SIGNET_PCSC_NAMESPACE"
_PR_SET_PDEATHSIG = 1


def _keep_tmp():
    return os.environ.get("SIGNET_TEST_KEEP") == "1"


def _die_with_parent():
    """preexec_fn: the child gets SIGKILL when the test process dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def enter_namespace():
    """Makes this process run in a private mount namespace with its own
    tmpfs on /run/pcscd. Call it first: it re-executes the script under
    `unshare -m --propagation private` (so it must be safe to run twice
    from the top) and only returns in the new namespace. Exits 77 (ctest:
    skipped) when that is impossible (not root)."""
    if os.environ.get(_NS_ENV) != "1":
        if os.geteuid() != 0:
            print("SKIP: a private mount namespace for pcscd needs root")
            sys.exit(SKIP)
        unshare = shutil.which("unshare")
        if unshare is None:
            print("SKIP: no unshare(1) (util-linux)")
            sys.exit(SKIP)
        os.environ[_NS_ENV] = "1"
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(unshare, [unshare, "-m", "--propagation", "private", "--",
                           sys.executable] + sys.argv)
    # In the namespace. The mount point itself lives in the shared /run:
    # make it if the pcscd package has not (it is what pcscd would do).
    os.makedirs(PCSCD_DIR, mode=0o755, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755,size=1m",
                    "signet-pcscd", PCSCD_DIR], check=True, timeout=10)


def in_namespace():
    return os.environ.get(_NS_ENV) == "1"


def _free_port_pair(tries=64):
    """An even port P with P and P + 1 free on every address (vpcd uses
    one port per slot). Below the ephemeral range, so outgoing connections
    do not take it meanwhile."""
    rnd = random.SystemRandom()
    for _ in range(tries):
        p = rnd.randrange(20000, 30000, 2)
        socks = []
        try:
            for port in (p, p + 1):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.bind(("", port))
            return p
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port pair for vpcd")


class LineProcess:
    """A child that talks in lines on stdin/stdout (vcard_bridge,
    pcsc_monitor_cli, `signet watch`): send() a line, expect() one.
    stderr goes to log_path. Every line read is kept with its arrival
    time (time.monotonic()) in self.lines."""

    def __init__(self, args, log_path, env=None):
        self.args = list(args)
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            self.args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._log, env=env, preexec_fn=_die_with_parent)
        self._buf = b""
        self.lines = []      # (monotonic time, text) of every line read
        self._unread = []    # lines not yet returned by expect()

    def send(self, line):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def _fill(self, timeout):
        """Reads what arrives within timeout into self._unread."""
        fd = self.proc.stdout.fileno()
        r, _, _ = select.select([fd], [], [], max(0.0, timeout))
        if not r:
            return False
        chunk = os.read(fd, 65536)
        if not chunk:
            raise EOFError("%s exited (%s):\n%s" % (
                os.path.basename(self.args[0]), self.proc.poll(),
                self.log()))
        self._buf += chunk
        while b"\n" in self._buf:
            raw, self._buf = self._buf.split(b"\n", 1)
            item = (time.monotonic(), raw.decode("utf-8", "replace"))
            self.lines.append(item)
            self._unread.append(item)
        return True

    def expect(self, match, timeout=5.0):
        """Returns (time, line) of the first unread line for which
        match(line) is true (match may be a string: equality), dropping
        the unread lines before it. TimeoutError if none comes."""
        pred = match if callable(match) else (lambda s: s == match)
        deadline = time.monotonic() + timeout
        while True:
            while self._unread:
                item = self._unread.pop(0)
                if pred(item[1]):
                    return item
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("%s: no line matching %r within %.1f s;"
                                   " read so far: %r" % (
                                       os.path.basename(self.args[0]),
                                       match, timeout,
                                       [l for _, l in self.lines[-20:]]))
            self._fill(left)

    def drain(self, wait=0.0):
        """Every unread line (waiting up to wait seconds for more)."""
        deadline = time.monotonic() + wait
        while self._fill(max(0.0, deadline - time.monotonic())):
            pass
        out = [l for _, l in self._unread]
        self._unread = []
        return out

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-4000:]
        except OSError:
            return ""

    def close(self, quit_line="quit", timeout=5.0):
        """Sends quit_line (unless None), waits for the exit, SIGKILL if
        it is not gone within timeout. Returns the exit status."""
        if self.proc.poll() is None:
            if quit_line is not None:
                try:
                    self.send(quit_line)
                except (BrokenPipeError, OSError):
                    pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        self._log.close()
        return self.proc.returncode


class NssCard:
    """An NSS database holding what the virtual CAC card serves: a test CA
    (certificate only is used) and a user certificate with its RSA-2048
    key. The database password is the card PIN.

    Attributes: db ("sql:DIR"), nickname, pin, ca, cert (PEM paths),
    cert_der (bytes), cert_sha256 (hex), subject_cn."""

    def __init__(self, directory, pin="123456", subject_cn="Signet CAC User"):
        # The CAC applet takes 4 to 8 PIN characters.
        if not 4 <= len(pin) <= 8:
            raise ValueError("CAC PINs are 4 to 8 characters")
        self.dir = directory
        self.pin = pin
        self.nickname = "user1"
        self.subject_cn = subject_cn
        os.makedirs(directory, exist_ok=True)
        self.db = "sql:" + os.path.join(directory, "nssdb")
        os.makedirs(self.db[4:], exist_ok=True)
        pw = os.path.join(directory, "pin.txt")
        noise = os.path.join(directory, "noise.bin")
        with open(pw, "w") as f:
            f.write(pin + "\n")
        with open(noise, "wb") as f:
            f.write(os.urandom(2048))
        cu = ["certutil", "-d", self.db, "-f", pw]
        self._run(cu + ["-N"])
        # Self-signed CA; -2 asks for basicConstraints on stdin:
        # CA? y, path length: unlimited, critical? y.
        self._run(cu + ["-S", "-z", noise, "-x", "-n", "ca",
                        "-s", "CN=Signet Test CA,O=Signet Test",
                        "-t", "CT,C,C", "-k", "rsa", "-g", "2048",
                        "-Z", "SHA256", "-m", "1", "-v", "120", "-2",
                        "--keyUsage", "critical,certSigning,crlSigning"],
                  stdin="y\n-1\ny\n")
        self._run(cu + ["-S", "-z", noise, "-c", "ca", "-n", self.nickname,
                        "-s", "CN=%s,O=Signet Test" % subject_cn,
                        "-t", "u,u,u", "-k", "rsa", "-g", "2048",
                        "-Z", "SHA256", "-m", "2", "-v", "12",
                        "--keyUsage",
                        "critical,digitalSignature,nonRepudiation"])
        os.unlink(noise)
        self.ca = os.path.join(directory, "ca.pem")
        self.cert = os.path.join(directory, "user.pem")
        with open(self.ca, "w") as f:
            f.write(self._run(cu[:3] + ["-L", "-n", "ca", "-a"]))
        with open(self.cert, "w") as f:
            f.write(self._run(cu[:3] + ["-L", "-n", self.nickname, "-a"]))
        self.cert_der = subprocess.run(
            ["certutil", "-d", self.db, "-L", "-n", self.nickname, "-r"],
            check=True, capture_output=True, timeout=30).stdout
        self.cert_sha256 = hashlib.sha256(self.cert_der).hexdigest()

    @staticmethod
    def _run(args, stdin=None):
        p = subprocess.run(args, input=stdin, capture_output=True, text=True,
                           timeout=60)
        if p.returncode != 0:
            raise RuntimeError("%s failed (%d):\n%s%s" % (
                " ".join(args), p.returncode, p.stdout, p.stderr))
        return p.stdout


class PcscRig:
    """pcscd + vpcd + the virtual CAC card; see the module docstring.

    PcscRig(pin="123456", start_pcscd=True, inserted=False). Attributes:
    dir, card (NssCard), pin, port, reader, other_reader, module
    (opensc-pkcs11.so), key_id, pcscd (Popen or None), bridge
    (LineProcess)."""

    def __init__(self, pin="123456", start_pcscd=True, inserted=False,
                 build=None):
        if not in_namespace():
            raise RuntimeError("call pcsc.enter_namespace() first: the rig"
                               " runs its own pcscd on /run/pcscd")
        self.build = os.path.abspath(build or build_dir())
        self.bridge_bin = os.path.join(self.build, "bin", "vcard_bridge")
        self.shim = os.path.join(self.build, "lib", "nodelay_preload.so")
        for f in (self.bridge_bin, self.shim):
            if not os.path.exists(f):
                raise FileNotFoundError("%s missing: build first" % f)
        self.module = OPENSC_MODULE
        self.key_id = CAC_KEY_ID
        self.reader = READER_BASE + " 00 00"
        self.other_reader = READER_BASE + " 00 01"
        self.pcscd = None
        self.bridge = None
        self._pcscd_runs = 0
        self._closed = False
        self.dir = tempfile.mkdtemp(prefix="signet-pcsc-")
        try:
            self.card = NssCard(os.path.join(self.dir, "card"), pin=pin)
            self.pin = pin
            self.port = _free_port_pair()
            self.conf_dir = os.path.join(self.dir, "reader.conf.d")
            self._write_conf()
            self.bridge = LineProcess(
                [self.bridge_bin, "--db", self.card.db,
                 "--cert", self.card.nickname, "--port", str(self.port)],
                os.path.join(self.dir, "bridge.log"),
                env=self._bridge_env())
            self.bridge.expect("ready", timeout=20)
            if start_pcscd:
                self.start_pcscd()
            if inserted:
                self.insert()
        except BaseException:
            self.close()
            raise

    # -- configuration ----------------------------------------------------

    def _write_conf(self):
        """A private copy of the vpcd reader.conf on our own port."""
        driver = VPCD_DRIVER
        try:
            with open(VPCD_CONF) as f:
                m = re.search(r"^\s*LIBPATH\s+(\S+)", f.read(), re.M)
                if m:
                    driver = m.group(1)
        except OSError:
            pass
        os.makedirs(self.conf_dir, exist_ok=True)
        with open(os.path.join(self.conf_dir, "vpcd"), "w") as f:
            f.write('FRIENDLYNAME "%s"\n'
                    "DEVICENAME   /dev/null:%d\n"
                    "LIBPATH      %s\n"
                    "CHANNELID    %d\n" % (READER_BASE, self.port, driver,
                                           self.port))

    @staticmethod
    def _bridge_env():
        env = dict(os.environ)
        # NSS and glib hold on to memory at exit; that is theirs, not ours.
        asan = env.get("ASAN_OPTIONS", "")
        env["ASAN_OPTIONS"] = (asan + ":" if asan else "") + "detect_leaks=0"
        return env

    # -- pcscd ------------------------------------------------------------

    def start_pcscd(self, nodelay=True, wait=True, timeout=10.0):
        """Starts pcscd (stale files of a killed one are cleared first)
        and, with wait, returns once it lists the readers. nodelay=False
        keeps Nagle on vpcd's socket (for timing comparisons only)."""
        if self.pcscd is not None and self.pcscd.poll() is None:
            raise RuntimeError("pcscd already running")
        for name in os.listdir(PCSCD_DIR):
            os.unlink(os.path.join(PCSCD_DIR, name))
        env = dict(os.environ)
        for k in [k for k in env if k.startswith(("ASAN_", "UBSAN_", "LSAN_"))]:
            del env[k]
        env["LD_PRELOAD"] = self.shim
        env["SIGNET_PRELOAD_NODELAY"] = "1" if nodelay else "0"
        self._pcscd_runs += 1
        self.pcscd_log = os.path.join(self.dir,
                                      "pcscd-%d.log" % self._pcscd_runs)
        pcscd = shutil.which("pcscd") or "/usr/sbin/pcscd"
        args = [pcscd, "--foreground", "--config", self.conf_dir]
        if os.environ.get("SIGNET_PCSC_DEBUG") == "1":
            args.append("--debug")
        with open(self.pcscd_log, "wb") as log:
            self.pcscd = subprocess.Popen(
                args, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        if wait:
            self.wait_readers(timeout)

    def wait_readers(self, timeout=10.0):
        deadline = time.monotonic() + timeout
        while True:
            if self.pcscd is None or self.pcscd.poll() is not None:
                raise RuntimeError("pcscd exited:\n%s" % self.logs())
            if self.reader_states().get(self.reader) is not None:
                return
            if time.monotonic() > deadline:
                raise TimeoutError("pcscd lists no %r after %.0f s:\n%s" % (
                    self.reader, timeout, self.logs()))
            time.sleep(0.05)

    def stop_pcscd(self, timeout=5.0):
        """SIGTERM (pcscd cleans up), SIGKILL if it lingers."""
        if self.pcscd is None:
            return
        if self.pcscd.poll() is None:
            self.pcscd.terminate()
            try:
                self.pcscd.wait(timeout)
            except subprocess.TimeoutExpired:
                self.pcscd.kill()
                self.pcscd.wait()
        self.pcscd = None

    def kill_pcscd(self):
        """SIGKILL: a crash; its socket and pid files stay behind."""
        if self.pcscd is None:
            return
        if self.pcscd.poll() is None:
            self.pcscd.kill()
        self.pcscd.wait()
        self.pcscd = None

    def pcscd_running(self):
        return self.pcscd is not None and self.pcscd.poll() is None

    # -- the card ---------------------------------------------------------

    def insert(self, wait=True, timeout=5.0):
        """Puts the card in; with wait, returns once PC/SC shows it."""
        self.bridge.send("insert")
        self.bridge.expect("inserted", timeout=5)
        if wait:
            self.wait_card(True, timeout)

    def remove(self, wait=True, timeout=5.0):
        """Takes the card out; with wait, returns once PC/SC shows it."""
        self.bridge.send("remove")
        self.bridge.expect("removed", timeout=5)
        if wait:
            self.wait_card(False, timeout)

    def reader_states(self):
        """{reader name: True (card) / False (empty)} as PC/SC reports it
        (opensc-tool -l); {} when pcscd does not answer."""
        p = subprocess.run(["opensc-tool", "--list-readers"],
                           capture_output=True, text=True, timeout=15)
        states = {}
        for line in p.stdout.splitlines():
            m = re.match(r"^\s*\d+\s+(Yes|No|Mute)\s+(?:\S+\s+)?(%s .*)$"
                         % re.escape(READER_BASE), line)
            if m:
                states[m.group(2).strip()] = m.group(1) != "No"
        return states

    def card_present(self):
        return self.reader_states().get(self.reader)

    def wait_card(self, present, timeout=5.0):
        """Waits until PC/SC shows the card present (or gone); returns the
        seconds it took."""
        t0 = time.monotonic()
        while True:
            if self.card_present() is present:
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                raise TimeoutError("card %s after %.1f s; readers %r:\n%s" % (
                    "not seen" if present else "still seen", timeout,
                    self.reader_states(), self.logs()))
            time.sleep(0.05)

    # -- PKCS#11 through OpenSC -------------------------------------------

    def p11(self, *args, check=True, timeout=60, input=None):
        """pkcs11-tool --module opensc-pkcs11.so ARGS; CompletedProcess
        (text). check: raise unless it exits 0."""
        p = subprocess.run(["pkcs11-tool", "--module", self.module]
                           + list(args), capture_output=True, text=True,
                           timeout=timeout, input=input,
                           stdin=None if input is not None
                           else subprocess.DEVNULL)
        if check and p.returncode != 0:
            raise RuntimeError("pkcs11-tool %s failed (%d):\n%s%s\n%s" % (
                " ".join(args), p.returncode, p.stdout, p.stderr,
                self.logs()))
        return p

    def token_info(self):
        """What pkcs11-tool -L says of the token in rig.reader: a dict
        with "label", "serial", "flags" and every other field under its
        own name with "_" for spaces ("token_manufacturer", ...); None
        when that slot is empty."""
        out = self.p11("-L").stdout
        info = None
        for line in out.splitlines():
            m = re.match(r"^Slot \d+ \(0x[0-9a-f]+\): (.*)$", line)
            if m:
                if info is not None:
                    break
                if m.group(1).strip() == self.reader:
                    info = {}
                continue
            if info is not None:
                m = re.match(r"^\s+([a-z][a-z /]*?)\s*: (.*)$", line)
                if m:
                    info[m.group(1).replace(" ", "_")] = m.group(2).strip()
        if not info:
            return None
        # Short names for what tests use most.
        for short, long_ in (("label", "token_label"),
                             ("serial", "serial_num"),
                             ("flags", "token_flags")):
            if long_ in info:
                info[short] = info[long_]
        return info

    def sign(self, data, pin=None, mechanism="SHA256-RSA-PKCS"):
        """A raw signature over data with the card's key (pkcs11-tool
        --sign); returns the signature bytes."""
        d = tempfile.mkdtemp(prefix="sign-", dir=self.dir)
        try:
            src, dst = os.path.join(d, "in"), os.path.join(d, "sig")
            with open(src, "wb") as f:
                f.write(data)
            self.p11("--login", "--pin", pin or self.pin, "--sign",
                     "--mechanism", mechanism, "--id", self.key_id,
                     "--input-file", src, "--output-file", dst)
            with open(dst, "rb") as f:
                return f.read()
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def verify(self, data, signature):
        """openssl: signature (RSA PKCS#1 v1.5, SHA-256) over data checks
        against the card's certificate. True/False."""
        d = tempfile.mkdtemp(prefix="verify-", dir=self.dir)
        try:
            src, sig, pub = (os.path.join(d, n) for n in ("in", "sig", "pub"))
            with open(src, "wb") as f:
                f.write(data)
            with open(sig, "wb") as f:
                f.write(signature)
            subprocess.run(["openssl", "x509", "-in", self.card.cert,
                            "-pubkey", "-noout", "-out", pub],
                           check=True, capture_output=True, timeout=30)
            p = subprocess.run(["openssl", "dgst", "-sha256", "-verify", pub,
                                "-signature", sig, src],
                               capture_output=True, text=True, timeout=30)
            return p.returncode == 0 and "Verified OK" in p.stdout
        finally:
            shutil.rmtree(d, ignore_errors=True)

    # -- diagnostics and cleanup ------------------------------------------

    def logs(self):
        """The tail of pcscd's and the bridge's logs, for failure text."""
        out = []
        log = getattr(self, "pcscd_log", None)
        if log:
            try:
                with open(log, "rb") as f:
                    out.append("--- %s\n%s" % (
                        os.path.basename(log),
                        f.read().decode("utf-8", "replace")[-3000:]))
            except OSError:
                pass
        if self.bridge is not None:
            out.append("--- bridge.log\n%s" % self.bridge.log())
        return "\n".join(out)

    def close(self):
        if self._closed:
            return
        self._closed = True
        if self.bridge is not None:
            self.bridge.close()
        self.stop_pcscd()
        if _keep_tmp():
            print("pcsc rig kept in %s" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _selftest():
    enter_namespace()
    with PcscRig() as rig:
        assert rig.card_present() is False, rig.reader_states()
        assert rig.reader_states().get(rig.other_reader) is False
        rig.insert()
        info = rig.token_info()
        assert info and info["label"] == rig.card.subject_cn, info
        sig = rig.sign(b"selftest")
        assert rig.verify(b"selftest", sig)
        assert not rig.verify(b"selftesT", sig)
        rig.remove()
        assert rig.token_info() is None
    print("pcsc rig selftest: ok")


if __name__ == "__main__":
    if sys.argv[1:] == ["--selftest"]:
        _selftest()
    else:
        print(__doc__)
