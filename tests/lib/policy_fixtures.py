"""Fixtures for the signing-policy integration tests (issue 4).

Python 3 standard library only, on top of tests/lib/agent.py:

- PolicyToken: mktoken.sh's token, plus certificates made for the policy's
  checks (add_soft_cert: a key made in software and written to the token,
  with a certificate of chosen dates and keyUsage from the token's CA;
  add_always_auth: a CKA_ALWAYS_AUTHENTICATE key by tests/lib/mkalwaysauth.sh).
- make_ca: another CA, for a ca_bundle the token's certificates do not
  chain to.
- write_conf, start_agent: a signet.conf in a temporary directory and a
  signetd reading it (--config), with an audit log set up by
  `signet audit init` (audit_init) as a system-mode agent needs.
- as_user: a raw protocol client run as another uid (setpriv), for the
  rules that match by user and group; open_to_all makes the agent's socket
  reachable for it, so that only the policy stands in the way.
- TempGroup: a group that exists for the length of a test.
- next_event, wait_log: a subscriber's next notification; a line in the
  agent's log.
"""

import base64
import collections
import datetime
import grp
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agent import REPO, Agent, Token, build_dir, pem_sha256  # noqa: E402

MKALWAYSAUTH = os.path.join(REPO, "tests", "lib", "mkalwaysauth.sh")

# What a fixture certificate is: its PEM file, the sha256 selector
# certs.list reports, the CKA_ID (hex) and label of its key on the token.
CertFixture = collections.namedtuple("CertFixture",
                                     "pem sha256 key_id label")

SIGNING_KU = "digitalSignature,nonRepudiation"


def asn1_time(dt):
    """openssl ca's -startdate/-enddate form (GeneralizedTime)."""
    return dt.strftime("%Y%m%d%H%M%SZ")


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(
        microsecond=0)


def _run(cmd, env=None, what=None):
    p = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s\n%s%s" % (
            what or cmd[0], p.returncode, " ".join(cmd), p.stdout, p.stderr))
    return p


def make_ca(directory, cn):
    """A self-signed EC CA in directory; returns (cert pem, key pem)."""
    os.makedirs(directory, exist_ok=True)
    key = os.path.join(directory, "ca.key")
    pem = os.path.join(directory, "ca.pem")
    cnf = os.path.join(directory, "ca.cnf")
    with open(cnf, "w") as f:
        f.write("[req]\ndistinguished_name = dn\nx509_extensions = v3\n"
                "prompt = no\n[dn]\nO = Signet Policy Test\nCN = %s\n"
                "[v3]\nbasicConstraints = critical,CA:true\n"
                "keyUsage = critical,keyCertSign,cRLSign\n"
                "subjectKeyIdentifier = hash\n" % cn)
    _run(["openssl", "req", "-x509", "-new", "-config", cnf, "-newkey", "ec",
          "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
          "-out", pem, "-days", "3650", "-sha256"])
    return pem, key


def issue_cert(work, csr, ca_pem, ca_key, out_pem, start, end, key_usage):
    """The CA signs csr with exactly these dates (datetimes) and keyUsage,
    by `openssl ca` (OpenSSL 3.0's x509 cannot set a past notBefore)."""
    d = tempfile.mkdtemp(prefix="ca-", dir=work)
    os.makedirs(os.path.join(d, "new"))
    open(os.path.join(d, "index.txt"), "w").close()
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("%016X\n" % (0x1000 + int.from_bytes(os.urandom(6), "big")))
    cnf = os.path.join(d, "ca.cnf")
    with open(cnf, "w") as f:
        f.write("[ca]\ndefault_ca = ca_default\n[ca_default]\n"
                "database = %(d)s/index.txt\nnew_certs_dir = %(d)s/new\n"
                "serial = %(d)s/serial\ndefault_md = sha256\n"
                "policy = any\nunique_subject = no\ncopy_extensions = none\n"
                "email_in_dn = no\n"
                "[any]\norganizationName = optional\ncommonName = supplied\n"
                "[ee]\nbasicConstraints = critical,CA:false\n"
                "keyUsage = critical,%(ku)s\n"
                "subjectKeyIdentifier = hash\n"
                "authorityKeyIdentifier = keyid\n" % {"d": d, "ku": key_usage})
    _run(["openssl", "ca", "-batch", "-config", cnf, "-cert", ca_pem,
          "-keyfile", ca_key, "-in", csr, "-out", out_pem, "-notext",
          "-startdate", asn1_time(start), "-enddate", asn1_time(end),
          "-extensions", "ee", "-preserveDN"], what="openssl ca")
    shutil.rmtree(d, ignore_errors=True)


class PolicyToken(Token):
    """A Token (scripts/mktoken.sh) with room for more keys."""

    def _p11(self, *args):
        _run(["pkcs11-tool", "--module", self.module, "--token-label",
              self.label, "--login", "--pin", self.pin] + list(args),
             env=self.env(), what="pkcs11-tool")

    def add_soft_cert(self, key_id, label, cn, start=None, end=None,
                      key_usage=SIGNING_KU, ca=None, subject=None):
        """An EC P-256 key pair made in software and written to the token
        under key_id (hex), and its certificate from ca (default: the token's
        CA, (pem, key)) with these dates (default: valid from yesterday
        for a year) and keyUsage, written under the same id. subject: a
        whole -subj string instead of O and CN (kept as given)."""
        now = utcnow()
        start = start or now - datetime.timedelta(days=1)
        end = end or now + datetime.timedelta(days=365)
        ca_pem, ca_key = ca or (self.ca, os.path.join(self.dir, "ca.key"))
        work = tempfile.mkdtemp(prefix=".fixture-", dir=self.dir)
        try:
            key = os.path.join(work, "key.pem")
            key_der = os.path.join(work, "key.der")
            pub_der = os.path.join(work, "pub.der")
            csr = os.path.join(work, "req.csr")
            pem = os.path.join(self.dir, label + ".pem")
            der = os.path.join(work, "cert.der")
            _run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                  "ec_paramgen_curve:P-256", "-out", key])
            _run(["openssl", "pkey", "-in", key, "-outform", "DER",
                  "-out", key_der])
            _run(["openssl", "pkey", "-in", key, "-pubout", "-outform",
                  "DER", "-out", pub_der])
            _run(["openssl", "req", "-new", "-key", key, "-subj",
                  subject or "/O=Signet Policy Test/CN=%s" % cn, "-out", csr])
            issue_cert(work, csr, ca_pem, ca_key, pem, start, end, key_usage)
            _run(["openssl", "x509", "-in", pem, "-outform", "DER",
                  "-out", der])
            self._p11("--write-object", key_der, "--type", "privkey",
                      "--id", key_id, "--label", label, "--usage-sign")
            # A public key object too, as a token's own key pairs have:
            # certs.list shows a certificate with a key before any login.
            self._p11("--write-object", pub_der, "--type", "pubkey",
                      "--id", key_id, "--label", label)
            self._p11("--write-object", der, "--type", "cert",
                      "--id", key_id, "--label", label)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return CertFixture(pem, pem_sha256(pem), key_id, label)

    def add_always_auth(self, key_id, label):
        """A key generated on the token with CKA_ALWAYS_AUTHENTICATE and a
        certificate from the token's CA (tests/lib/mkalwaysauth.sh)."""
        env = dict(self.env(), MODULE=self.module, TOKEN_LABEL=self.label)
        _run(["bash", MKALWAYSAUTH, self.dir, self.pin, key_id, label],
             env=env, what="mkalwaysauth.sh")
        pem = os.path.join(self.dir, label + ".pem")
        return CertFixture(pem, pem_sha256(pem), key_id, label)


def write_conf(directory, text, name="signet.conf"):
    """Writes a configuration file; returns its path."""
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def audit_init(directory, build=None):
    """A log set up the way the officer does for a system agent (which
    never sets one up itself): `signet audit init --dir DIR/audit
    --key-out DIR/audit.key`. Returns the log's directory."""
    log_dir = os.path.join(directory, "audit")
    _run([os.path.join(build or build_dir(), "bin", "signet"), "audit",
          "init", "--dir", log_dir, "--key-out",
          os.path.join(directory, "audit.key")], what="signet audit init")
    return log_dir


def start_agent(token, conf=None, extra_args=(), audit_parent=None, **kw):
    """signetd for token, reading conf (a path) when given. With
    audit_parent, its audit log is set up there first (a system-mode agent
    needs that); else the harness's private one is used."""
    args = list(extra_args)
    if conf is not None:
        args += ["--config", conf]
    if audit_parent is not None:
        args += ["--audit-dir", audit_init(audit_parent, kw.get("build"))]
    return Agent(token=token, extra_args=args, **kw)


def wait_log(agent, text, timeout=10.0):
    """Waits until text appears in the agent's log; returns the log."""
    deadline = time.monotonic() + timeout
    while True:
        log = agent.log()
        if text in log:
            return log
        if time.monotonic() > deadline:
            raise AssertionError("%r not in signetd's log after %.0f s:\n%s"
                                 % (text, timeout, log))
        time.sleep(0.05)


def next_event(client, timeout):
    """The next notification on a subscribed connection, or None when
    none came in time (replies in between are an error)."""
    old = client.sock.gettimeout()
    client.sock.settimeout(timeout)
    try:
        msg = client.recv()
    except OSError:  # socket.timeout
        return None
    finally:
        client.sock.settimeout(old)
    if msg is not None and "id" in msg:
        raise AssertionError("a reply where a notification was due: %r"
                             % (msg,))
    return msg


def wait_event(client, method, timeout, reason=None):
    """Reads notifications until one with this method (and reason) comes;
    returns it, or None after timeout seconds. Others are skipped."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ev = next_event(client, left)
        if ev is None:
            return None
        got = ev.get("params", {}).get("reason")
        if ev.get("method") == method and reason in (None, got):
            return ev


# ---------------------------------------------------------------------------
# Another uid.

# Runs as the other user: connects, sends each request of argv[2] (a JSON
# array) and prints each reply line as it came; stops at end of stream,
# so an agent that refuses the peer at connect shows one line (id null).
_CLIENT = r"""
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(30)
s.connect(sys.argv[1])
buf = b""
def line():
    global buf
    while b"\n" not in buf:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            return None
        buf += chunk
    l, _, buf = buf.partition(b"\n")
    return l
for i, req in enumerate(json.loads(sys.argv[2])):
    req = dict({"jsonrpc": "2.0", "id": i + 1}, **req)
    try:
        s.sendall(json.dumps(req).encode() + b"\n")
    except OSError:
        pass  # refused at connect: its error line is still to read
    l = line()
    if l is None:
        break
    sys.stdout.write(l.decode() + "\n")
    sys.stdout.flush()
"""

# The interpreter the other uid runs: the system one (a pyenv under
# /root is not readable by nobody). Its /proc/PID/exe is this, resolved.
SYSTEM_PYTHON = "/usr/bin/python3"


def can_switch_uid():
    return os.geteuid() == 0 and shutil.which("setpriv") is not None and \
        os.access(SYSTEM_PYTHON, os.X_OK)


def open_to_all(agent):
    """Lets any uid reach the agent's socket: the agent made its directory
    0700 at start; after this only its own peer check and policy stand
    between another user and the agent."""
    os.chmod(agent.dir, 0o755)
    os.chmod(agent.socket, 0o666)


def as_user(socket_path, requests, user="nobody", group="nogroup",
            groups=()):
    """Runs the raw client as user with primary group `group` and exactly
    the supplementary groups `groups` (names or gids); sends requests
    (dicts with method and params) and returns the replies, parsed."""
    cmd = ["setpriv", "--reuid=%s" % user, "--regid=%s" % group]
    if groups:
        cmd.append("--groups=%s" % ",".join(str(g) for g in groups))
    else:
        cmd.append("--clear-groups")
    cmd += [SYSTEM_PYTHON, "-I", "-c", _CLIENT, socket_path,
            json.dumps(list(requests))]
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError("client as %s failed (%d): %s" % (
            user, p.returncode, p.stderr))
    return [json.loads(l) for l in p.stdout.splitlines()]


class TempGroup:
    """A group that exists inside the with block (groupadd/groupdel)."""

    def __init__(self, prefix="signet-it"):
        self.name = "%s-%d-%s" % (prefix, os.getpid(),
                                  base64.b32encode(os.urandom(5)).decode()
                                  .lower())
        self.gid = None

    def __enter__(self):
        _run(["groupadd", self.name], what="groupadd")
        self.gid = grp.getgrnam(self.name).gr_gid
        return self

    def __exit__(self, *exc):
        subprocess.run(["groupdel", self.name], stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30)
