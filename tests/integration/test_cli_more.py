#!/usr/bin/env python3
"""Integration: the signet CLI's agent features against a real signetd.

- `signet watch` (a subprocess) sees token.logged_in with reason client
  after `signet login`, and token.logged_out with reason lock after
  `signet lock`; it exits 0 on SIGINT and 69 when the agent stops.
- `signet sign` with several files sends one batch request (the audit log
  holds one sign record with every document); every .sig verifies with
  `openssl cms -verify`; 260 files go as two batches (256 + 4); a
  directory among the files leaves no .sig at all; --one-by-one signs
  one request per file.
- The signing policy (`--config`): digest_not_allowed, document_too_large,
  rate_limited and batch_too_large exit 65 with the exact line naming the
  rule, the limit and the wait; nothing is written, and refusals do not
  spend the rate.
- audit_unavailable (the log's file system full): exit 65, "nothing was
  signed", no .sig.
"""

import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "lib"))
from agent import (Agent, Client, Token, build_dir,  # noqa: E402
                   openssl_verify, signet)

# Exit codes of signet(1) (client/exit.h).
EXIT_REFUSED = 65
EXIT_UNREACHABLE = 69
EXIT_INTERNAL = 70

TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def signet_bin():
    return os.path.join(build_dir(), "bin", "signet")


class Watch:
    """`signet watch` in the background. Its stderr is a terminal, so it
    says when it has subscribed; its stdout is a pipe, read line by line
    (which works only if it flushes every line)."""

    def __init__(self, socket_path, *args):
        master, slave = pty.openpty()
        self.master = master
        self.proc = subprocess.Popen(
            [signet_bin(), "--socket", socket_path, "watch"] + list(args),
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
        os.close(slave)
        self.err = b""
        self.buf = b""
        self.lines = []
        self._wait_err(b"for token events; interrupt to stop\r\n", 10)

    def _wait_err(self, want, timeout):
        deadline = time.monotonic() + timeout
        while want not in self.err:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("watch said %r, not %r"
                                     % (self.err, want))
            r, _, _ = select.select([self.master], [], [], left)
            if r:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # EIO: the process is gone
                    chunk = b""
                if not chunk:
                    raise AssertionError("watch ended: %r" % self.err)
                self.err += chunk

    def next_line(self, timeout=10):
        """The next stdout line (str, without '\\n'), or None at its end."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no event line within %d s (have %r)"
                                     % (timeout, self.buf))
            r, _, _ = select.select([fd], [], [], left)
            if not r:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.decode()

    def stderr_rest(self):
        """What it wrote to the terminal after the banner."""
        while True:
            r, _, _ = select.select([self.master], [], [], 0.5)
            if not r:
                break
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                break
            if not chunk:
                break
            self.err += chunk
        return self.err.split(b"interrupt to stop\r\n", 1)[1].decode()

    def wait(self, timeout=10):
        return self.proc.wait(timeout)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        os.close(self.master)


def audit_records(agent):
    """Every record of the agent's audit log, in order."""
    out = []
    for name in sorted(os.listdir(agent.audit_dir)):
        if name.startswith("audit-") and name.endswith(".log"):
            with open(os.path.join(agent.audit_dir, name)) as f:
                out += [json.loads(line) for line in f if line.strip()]
    return sorted(out, key=lambda r: r["seq"])


def sign_records(agent, since=0):
    return [r for r in audit_records(agent)
            if r.get("event") == "sign" and r["seq"] > since]


def last_seq(agent):
    recs = audit_records(agent)
    return recs[-1]["seq"] if recs else 0


class CliCase(unittest.TestCase):
    config = None  # text of a signet.conf, for an agent with a policy

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="signet-cli-more-")
        cls.tok = Token()
        extra = []
        if cls.config is not None:
            conf = os.path.join(cls.tmp, "signet.conf")
            with open(conf, "w") as f:
                f.write(cls.config)
            extra = ["--config", conf]
        try:
            cls.agent = Agent(token=cls.tok, extra_args=extra)
        except BaseException:
            cls.tok.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.agent.stop()
        finally:
            cls.tok.cleanup()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def cli(self, *args, **kw):
        return signet(list(args), socket_path=self.agent.socket, **kw)

    def login(self):
        r_fd, w_fd = os.pipe()
        os.write(w_fd, (self.tok.pin + "\n").encode())
        os.close(w_fd)
        try:
            p = self.cli("login", "--pin-fd", str(r_fd), pass_fds=[r_fd])
        finally:
            os.close(r_fd)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p

    def logged_in(self):
        with Client(self.agent.socket) as c:
            return [t["logged_in"] for t in c.result("tokens.list")["tokens"]]

    def new_dir(self, name, nfiles=0, size=None):
        d = os.path.join(self.tmp, name)
        os.mkdir(d)
        files = []
        for i in range(nfiles):
            path = os.path.join(d, "doc%03d.txt" % i)
            with open(path, "wb") as f:
                f.write(b"x" * size if size is not None else
                        ("document %d of %s\n" % (i, name)).encode() * 50)
            files.append(path)
        return d, files

    def assert_one_line(self, p, want):
        self.assertEqual(p.stderr, want + "\n", p.stderr)

    def sigs_in(self, d):
        return sorted(f for f in os.listdir(d) if f.endswith(".sig"))


class WatchLockTest(CliCase):

    def test_watch_login_lock(self):
        self.cli("lock")  # whatever state the class left
        w = Watch(self.agent.socket)
        try:
            p = self.login()
            line = w.next_line()
            self.assertRegex(line, "^%s token.logged_in serial=%s "
                             "label=%s reason=client$"
                             % (TIME, re.escape(self.tok.serial),
                                re.escape(self.tok.label)))
            p = self.cli("lock")
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stdout, "1 token logged out\n")
            self.assertEqual(p.stderr, "")
            line = w.next_line()
            self.assertRegex(line, "^%s token.logged_out serial=%s "
                             "label=%s reason=lock$"
                             % (TIME, re.escape(self.tok.serial),
                                re.escape(self.tok.label)))
            self.assertEqual(self.logged_in(), [False])
            # Nothing logged in: lock logs out nothing, and no event.
            p = self.cli("lock")
            self.assertEqual((p.returncode, p.stdout), (0,
                             "0 tokens logged out\n"), p.stderr)
            # The agent checks tokens every 2 s while someone watches:
            # no event may come of the quiet (no duplicate, no echo of
            # the login "seen on the token").
            time.sleep(4.5)
            self.assertEqual(w.buf, b"")
            self.assertIsNone(w.proc.poll())
            w.proc.send_signal(signal.SIGINT)
            self.assertEqual(w.wait(), 0)
            self.assertEqual(w.stderr_rest(), "")
            self.assertIsNone(w.next_line())
        finally:
            w.close()

    def test_watch_json(self):
        self.cli("lock")
        w = Watch(self.agent.socket, "--json")
        try:
            self.login()
            note = json.loads(w.next_line())
            self.assertEqual(note, {
                "jsonrpc": "2.0", "method": "token.logged_in",
                "params": {"serial": self.tok.serial,
                           "label": self.tok.label, "reason": "client"}})
            p = self.cli("logout")
            self.assertEqual(p.returncode, 0, p.stderr)
            note = json.loads(w.next_line())
            self.assertEqual(note["method"], "token.logged_out")
            self.assertEqual(note["params"]["reason"], "client")
            w.proc.send_signal(signal.SIGTERM)
            self.assertEqual(w.wait(), 0)
        finally:
            w.close()

    def test_watch_agent_goes_away(self):
        """A second agent, stopped under the watcher: exit 69."""
        ag = Agent(token=self.tok)
        w = Watch(ag.socket)
        try:
            ag.stop()
            self.assertIsNone(w.next_line())
            self.assertEqual(w.wait(), EXIT_UNREACHABLE)
            self.assertEqual(w.stderr_rest(), "signet: watch: the agent "
                             "closed the connection (closed)\r\n")
        finally:
            w.close()
            ag.kill()


class BatchSignTest(CliCase):

    def setUp(self):
        self.login()

    def test_five_files_one_request(self):
        d, files = self.new_dir("five", 5)
        seq = last_seq(self.agent)
        p = self.cli("sign", "--cert", self.tok.rsa_sha256, *files)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")  # not a terminal: no progress
        self.assertEqual(p.stdout, "".join("signed %s -> %s.sig\n" % (f, f)
                                           for f in files))
        for f in files:
            self.assertTrue(openssl_verify(f + ".sig", f, self.tok.ca), f)
        recs = sign_records(self.agent, seq)
        self.assertEqual(len(recs), 1, recs)
        self.assertEqual(recs[0]["decision"], "allow")
        self.assertEqual(len(recs[0]["documents"]), 5)
        # No --digest: the agent's natural one for an RSA key.
        self.assertEqual({d["digest_alg"] for d in recs[0]["documents"]},
                         {"sha256"})

    def test_ec_key_and_digest(self):
        d, files = self.new_dir("ec", 3)
        p = self.cli("sign", "--cert", self.tok.ec_sha256, "--digest",
                     "sha384", *files)
        self.assertEqual(p.returncode, 0, p.stderr)
        for f in files:
            self.assertTrue(openssl_verify(f + ".sig", f, self.tok.ca), f)
            v = self.cli("verify", "--ca", self.tok.ca, f, f + ".sig")
            self.assertEqual(v.returncode, 0, v.stdout + v.stderr)
            self.assertIn("sha384", v.stdout.lower())

    def test_more_than_a_batch(self):
        """260 files: two requests, 256 (253 + 3 descriptors per sendmsg)
        and 4; each signature is over its own file."""
        d, files = self.new_dir("many", 260)
        seq = last_seq(self.agent)
        p = self.cli("sign", "--cert", self.tok.ec_sha256, *files,
                     timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(len(self.sigs_in(d)), 260)
        for i in (0, 1, 252, 253, 254, 255, 256, 259):
            self.assertTrue(openssl_verify(files[i] + ".sig", files[i],
                                           self.tok.ca), files[i])
        # A signature moved to another file does not verify: each went
        # where its document is.
        self.assertFalse(openssl_verify(files[0] + ".sig", files[1],
                                        self.tok.ca))
        recs = sign_records(self.agent, seq)
        self.assertEqual([len(r["documents"]) for r in recs], [256, 4])

    def test_directory_among_files(self):
        d, files = self.new_dir("withdir", 5)
        sub = os.path.join(d, "subdir")
        os.mkdir(sub)
        seq = last_seq(self.agent)
        p = self.cli("sign", "--cert", self.tok.rsa_sha256,
                     *(files[:2] + [sub] + files[2:]))
        self.assertEqual(p.returncode, EXIT_INTERNAL, p.stderr)
        self.assert_one_line(p, "signet: sign: %s: is a directory "
                             "(io_error)" % sub)
        self.assertEqual(p.stdout, "")
        self.assertEqual(self.sigs_in(d), [])
        self.assertEqual(sorted(os.listdir(d)),
                         sorted([os.path.basename(f) for f in files] +
                                ["subdir"]))
        self.assertEqual(sign_records(self.agent, seq), [])

    def test_one_by_one(self):
        d, files = self.new_dir("onebyone", 3)
        seq = last_seq(self.agent)
        p = self.cli("sign", "--one-by-one", "--cert", self.tok.rsa_sha256,
                     *files)
        self.assertEqual(p.returncode, 0, p.stderr)
        for f in files:
            self.assertTrue(openssl_verify(f + ".sig", f, self.tok.ca), f)
        self.assertEqual([len(r["documents"])
                          for r in sign_records(self.agent, seq)], [1, 1, 1])

    def test_logged_out_batch_writes_nothing(self):
        p = self.cli("lock")
        self.assertEqual(p.returncode, 0, p.stderr)
        d, files = self.new_dir("loggedout", 4)
        p = self.cli("sign", "--cert", self.tok.rsa_sha256, *files)
        self.assertEqual(p.returncode, 66, p.stderr)
        self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)
        self.assertIn("(auth_required)", p.stderr)
        self.assertEqual(self.sigs_in(d), [])


class PolicyTest(CliCase):
    """An agent whose one rule grants sha384 only, documents up to 4000
    bytes, and 6 signatures an hour."""

    config = ("[rule r]\nuser = %d\ndigests = sha384\nmax_size = 4000\n"
              "rate = 6/1h\npin_from_client = yes\n" % os.getuid())

    def test_policy(self):
        # One method so the rate's budget is spent in a known order.
        self.login()
        d, files = self.new_dir("policy", 6)
        refused = ("refused by policy rule 'r': this digest is not allowed "
                   "(digest_not_allowed)")
        # No --digest: the agent's choice for RSA is sha256, refused.
        p = self.cli("sign", "--cert", self.tok.rsa_sha256, *files)
        self.assertEqual(p.returncode, EXIT_REFUSED, p.stderr)
        self.assert_one_line(p, "signet: sign: " + refused)
        self.assertEqual(p.stdout, "")
        self.assertEqual(self.sigs_in(d), [])
        p = self.cli("sign", "--cert", self.tok.rsa_sha256, "--digest",
                     "sha256", files[0])
        self.assertEqual(p.returncode, EXIT_REFUSED, p.stderr)
        self.assert_one_line(p, "signet: sign: %s: %s" % (files[0], refused))
        p = self.cli("sign", "--one-by-one", "--cert", self.tok.ec_sha256,
                     "--digest", "sha512", *files)
        self.assertEqual(p.returncode, EXIT_REFUSED, p.stderr)
        self.assert_one_line(p, "signet: sign: %s: %s" % (files[0], refused))
        self.assertEqual(self.sigs_in(d), [])

        # A document over max_size (found as it streams): the rule, the
        # limit and the file are named; the other file's signature of
        # the batch is not written.
        big_dir, big = self.new_dir("big", 1, size=5000)
        p = self.cli("sign", "--cert", self.tok.rsa_sha256, "--digest",
                     "sha384", files[0], big[0])
        self.assertEqual(p.returncode, EXIT_REFUSED, p.stderr)
        self.assert_one_line(p, "signet: sign: %s: refused by policy rule "
                             "'r': the document is larger than allowed; "
                             "the limit is 4000 bytes (document_too_large)"
                             % big[0])
        self.assertEqual(self.sigs_in(big_dir) + self.sigs_in(d), [])

        # Refusals do not count against the rate: all 6 go now.
        p = self.cli("sign", "--cert", self.tok.rsa_sha256, "--digest",
                     "sha384", *files)
        self.assertEqual(p.returncode, 0, p.stderr)
        for f in files:
            self.assertTrue(openssl_verify(f + ".sig", f, self.tok.ca), f)
            os.unlink(f + ".sig")

        # And the hour's budget is spent.
        p = self.cli("sign", "--cert", self.tok.rsa_sha256, "--digest",
                     "sha384", files[0])
        self.assertEqual(p.returncode, EXIT_REFUSED, p.stderr)
        self.assertRegex(p.stderr, r"^signet: sign: %s: refused by policy "
                         r"rule 'r': the rate limit is reached; retry in "
                         r"(\d+) s \(rate_limited\)\n$" % re.escape(files[0]))
        wait = int(re.search(r"retry in (\d+) s", p.stderr).group(1))
        self.assertTrue(3500 <= wait <= 3600, wait)
        self.assertEqual(self.sigs_in(d), [])

        # More than the rate's N in one request can never pass.
        p = self.cli("sign", "--cert", self.tok.rsa_sha256, "--digest",
                     "sha384", *(files + [files[0]]))
        self.assertEqual(p.returncode, EXIT_REFUSED, p.stderr)
        self.assert_one_line(p, "signet: sign: refused by policy rule 'r': "
                             "too many documents in one request; sign "
                             "fewer files at once, or use --one-by-one "
                             "(batch_too_large)")


class AuditUnavailableTest(unittest.TestCase):
    """The agent's audit log on a full file system: every signature is
    refused (fail closed), and the CLI says so and writes nothing."""

    def test_audit_full(self):
        if os.getuid() != 0:
            self.skipTest("needs root to mount a small tmpfs for the log")
        tmp = tempfile.mkdtemp(prefix="signet-cli-audit-")
        self.addCleanup(shutil.rmtree, tmp, True)
        mnt = os.path.join(tmp, "mnt")
        os.mkdir(mnt)
        if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k",
                           "tmpfs", mnt], capture_output=True).returncode:
            self.skipTest("cannot mount a tmpfs here")
        self.addCleanup(subprocess.run, ["umount", "-l", mnt])
        tok = Token()
        self.addCleanup(tok.cleanup)
        ag = Agent(token=tok, extra_args=["--audit-dir",
                                          os.path.join(mnt, "audit")])
        self.addCleanup(ag.kill)
        with Client(ag.socket) as c:
            c.result("token.login", {"pin": tok.pin})
        docs = []
        for i in range(5):
            path = os.path.join(tmp, "doc%d.txt" % i)
            with open(path, "w") as f:
                f.write("audited document %d\n" % i)
            docs.append(path)
        cli = ["sign", "--cert", tok.rsa_sha256]
        p = signet(cli + docs[:1], socket_path=ag.socket)
        self.assertEqual(p.returncode, 0, p.stderr)
        os.unlink(docs[0] + ".sig")
        fd = os.open(os.path.join(mnt, "filler"), os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 4096) > 0:
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        # The log's last page may hold a record or two more.
        for _ in range(64):
            p = signet(cli + docs[:1], socket_path=ag.socket)
            if p.returncode != 0:
                break
            os.unlink(docs[0] + ".sig")
        msg = ("the agent's audit log cannot be written; nothing was signed "
               "(audit_unavailable)\n")
        self.assertEqual(p.returncode, EXIT_REFUSED, p.stderr)
        self.assertEqual(p.stderr, "signet: sign: %s: %s" % (docs[0], msg))
        p = signet(cli + docs, socket_path=ag.socket)
        self.assertEqual(p.returncode, EXIT_REFUSED, p.stderr)
        self.assertEqual(p.stderr, "signet: sign: " + msg)
        self.assertEqual(p.stdout, "")
        self.assertEqual([f for f in os.listdir(tmp) if f.endswith(".sig")],
                         [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
