#!/usr/bin/env python3
"""Integration: signetd's audit trail (issue 5) with a real agent.

- Every signature a client received has its record, durable before the
  reply (the record's signature_sha256 matches what the client got).
- signetd killed with SIGKILL in a burst of signing: `signet audit verify`
  passes up to the last complete record (a torn last line is a truncated
  tail, exit 75, never tampering), and a restarted signetd continues the
  chain.
- The log cannot be written (its file system is full): signing is refused
  with audit_unavailable and no signature reaches the client.
- Login, a refusal and logout are recorded; no PIN appears in the log.
"""

import base64
import glob
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "lib"))
from agent import Agent, Client, Token, expect_error, signet  # noqa: E402

EXIT_TORN_TAIL = 75


def records(audit_dir):
    out = []
    for path in sorted(glob.glob(os.path.join(audit_dir, "audit-*.log"))):
        with open(path, "rb") as f:
            for line in f.read().split(b"\n"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass    # a torn last line
    return out


class AuditTest(unittest.TestCase):
    def setUp(self):
        self.tok = Token()
        self.addCleanup(self.tok.cleanup)

    def start(self, **kw):
        ag = Agent(token=self.tok, **kw)
        self.addCleanup(ag.kill)
        return ag

    def verify(self, ag):
        return signet(["audit", "verify", "--key", ag.audit_key(),
                       ag.audit_dir])

    def sign(self, c, data):
        return c.call("sign", {"cert": self.tok.ec_sha256,
                               "data": base64.b64encode(data).decode()})

    def test_every_signature_has_its_record(self):
        ag = self.start()
        c = Client(ag.socket)
        self.addCleanup(c.close)
        expect_error(c.call("token.login", {"pin": "999999",
                     "token": self.tok.serial}), -32002, "pin_incorrect")
        c.result("token.login", {"pin": self.tok.pin})
        got = set()
        for i in range(20):
            r = self.sign(c, b"document %d\n" % i)
            got.add(hashlib.sha256(base64.b64decode(
                r["result"]["signature"])).hexdigest())
        c.result("token.logout")
        recs = records(ag.audit_dir)
        logged = set(d.get("signature_sha256") for r in recs
                     if r.get("event") == "sign" for d in r["documents"])
        logged |= set(r.get("signature_sha256") for r in recs
                      if r.get("event") == "sign")
        self.assertTrue(got <= logged, got - logged)
        events = [(r["event"], r.get("decision"), r.get("reason"))
                  for r in recs]
        self.assertIn(("login", "allow", None), events)
        self.assertIn(("login", "deny", "pin_incorrect"), events)
        self.assertIn(("logout", "allow", None), events)
        self.assertEqual(events[0][0], "agent_start")
        for r in recs:
            if r["event"] == "sign":
                self.assertEqual(r["client"]["uid"], os.getuid())
                self.assertEqual(r["cert"]["sha256"], self.tok.ec_sha256)
        # Never a PIN, never document content.
        for path in glob.glob(os.path.join(ag.audit_dir, "audit-*.log")):
            with open(path, "rb") as f:
                text = f.read()
            self.assertNotIn(self.tok.pin.encode(), text)
            self.assertNotIn(b"999999", text)
            self.assertNotIn(b"document 1", text)
        ag.stop(keep=True)
        r = self.verify(ag)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("intact", r.stdout)
        self.assertEqual(records(ag.audit_dir)[-1]["event"], "agent_stop")

    def test_sigkill_in_a_burst(self):
        ag = self.start()
        c0 = Client(ag.socket)
        c0.result("token.login", {"pin": self.tok.pin})
        stop = threading.Event()
        received = []

        def burst():
            c = Client(ag.socket, timeout=10)
            i = 0
            try:
                while not stop.is_set():
                    r = self.sign(c, b"burst %d\n" % i)
                    if "result" not in r:
                        break
                    received.append(hashlib.sha256(base64.b64decode(
                        r["result"]["signature"])).hexdigest())
                    i += 1
            except (OSError, ValueError, TypeError):
                pass    # the agent died under us: that is the test
            finally:
                c.close()

        threads = [threading.Thread(target=burst) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        os.kill(ag.pid, signal.SIGKILL)
        stop.set()
        for t in threads:
            t.join(10)
        c0.close()
        ag.proc.wait(5)
        print("\n%d signatures received before SIGKILL" % len(received))
        self.assertGreater(len(received), 10)
        r = self.verify(ag)
        self.assertIn(r.returncode, (0, EXIT_TORN_TAIL), r.stdout + r.stderr)
        if r.returncode == EXIT_TORN_TAIL:
            self.assertIn("truncated tail", r.stdout + r.stderr)
        # Durable before the reply: every signature received is logged.
        recs = records(ag.audit_dir)
        logged = set(d.get("signature_sha256") for r in recs
                     if r.get("event") == "sign" for d in r["documents"])
        self.assertEqual(set(received) - logged, set())
        last = recs[-1]["seq"]
        # A restarted agent continues the same chain.
        ag2 = Agent(token=self.tok, extra_args=["--audit-dir", ag.audit_dir],
                    env=dict(os.environ, XDG_CONFIG_HOME=os.path.join(
                        ag.dir, "config")))
        self.addCleanup(ag2.kill)
        c = Client(ag2.socket)
        c.result("token.login", {"pin": self.tok.pin})
        self.assertIn("result", self.sign(c, b"after the restart\n"))
        c.close()
        ag2.stop(keep=True)
        r = self.verify(ag)
        self.assertIn(r.returncode, (0, EXIT_TORN_TAIL), r.stdout + r.stderr)
        recs = records(ag.audit_dir)
        self.assertGreater(recs[-1]["seq"], last)
        seqs = [x["seq"] for x in recs]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))

    def test_log_cannot_be_written(self):
        if os.getuid() != 0:
            self.skipTest("needs root to mount a small tmpfs for the log")
        mnt = tempfile.mkdtemp(prefix="signet-audit-full-")
        self.addCleanup(shutil.rmtree, mnt, True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs",
                        mnt], check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", mnt])
        ag = self.start(extra_args=["--audit-dir", os.path.join(mnt, "audit")])
        c = Client(ag.socket)
        self.addCleanup(c.close)
        c.result("token.login", {"pin": self.tok.pin})
        self.assertIn("result", self.sign(c, b"while there is room\n"))
        # Fill the file system to the last byte.
        fd = os.open(os.path.join(mnt, "filler"), os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(fd, b"\0" * 4096) > 0:
                pass
        except OSError:
            pass
        finally:
            os.close(fd)
        # The log's last page may still hold a record or two; the first
        # one that does not fit must be refused, with no signature.
        for i in range(64):
            r = self.sign(c, b"no room for the record %d\n" % i)
            if "error" in r:
                break
        expect_error(r, -32001, "audit_unavailable")
        self.assertNotIn("result", r)
        print("\nrefused after %d more signatures" % i)
        # Fail closed: still refused after room is made again.
        os.unlink(os.path.join(mnt, "filler"))
        expect_error(self.sign(c, b"x"), -32001, "audit_unavailable")


if __name__ == "__main__":
    unittest.main(verbosity=2)
