#!/usr/bin/env python3
"""Integration: the PKCS#11 helper dies or hangs; signetd survives it.

The helper (signet-pkcs11-helper, a child of signetd) is stopped with
SIGSTOP so that a sign request is surely in flight in it, then killed: the
request fails with token_unavailable, the agent restarts the helper, the
token is logged out, and login and signing work again. A hung helper is
given up on after the request's deadline while the agent keeps answering.
Finally SIGTERM: signetd exits 0, removes its socket and its helper.
"""

import base64
import os
import shutil
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "lib"))
from agent import (Agent, Client, Token, expect_error,  # noqa: E402
                   helper_pids, openssl_verify)

E_AUTH = -32002
E_TOKEN = -32004
RESTART_WITHIN_S = 2.0
HANG_DEADLINE_S = 30.0   # SIGN_TIMEOUT_MS in agent/m_sign.c

TOKEN = None


def setUpModule():
    global TOKEN
    TOKEN = Token()


def tearDownModule():
    if TOKEN is not None:
        TOKEN.cleanup()


def proc_state(pid):
    """The state letter of /proc/PID/stat, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rpartition(")")[2].split()[0]
    except OSError:
        return None


def wait_for(pred, timeout, step=0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() > deadline:
            return v
        time.sleep(step)


class HelperCase(unittest.TestCase):
    def setUp(self):
        self.tok = TOKEN
        self.work = tempfile.mkdtemp(prefix="signet-it-crash-")
        self.addCleanup(shutil.rmtree, self.work, True)
        self.agent = Agent(token=self.tok)
        self.addCleanup(self.agent.kill)

    def the_helper(self):
        """signetd's one helper pid, once it runs."""
        pids = wait_for(lambda: [p for p in helper_pids(self.agent.pid)
                                 if proc_state(p) not in (None, "Z")], 5)
        self.assertEqual(len(pids), 1, "helpers of signetd: %r" % pids)
        return pids[0]

    def sign_and_verify(self, c, cert, tag):
        doc = ("document %s\n" % tag).encode() * 50
        r = c.result("sign", {"cert": cert,
                              "data": base64.b64encode(doc).decode()})
        doc_path = os.path.join(self.work, tag + ".txt")
        sig_path = doc_path + ".sig"
        with open(doc_path, "wb") as f:
            f.write(doc)
        with open(sig_path, "wb") as f:
            f.write(base64.b64decode(r["signature"]))
        self.assertTrue(openssl_verify(sig_path, doc_path, self.tok.ca),
                        "signature after %s does not verify" % tag)

    def tokens_after_restart(self, c):
        """tokens.list, retried while the helper restarts (back-off)."""
        deadline = time.monotonic() + RESTART_WITHIN_S
        last = None
        while time.monotonic() < deadline:
            last = c.call("tokens.list")
            toks = last.get("result", {}).get("tokens")
            if toks:
                return toks
            time.sleep(0.05)
        self.fail("tokens.list did not list the token within %.1f s of the "
                  "helper's death; last reply %r\n%s"
                  % (RESTART_WITHIN_S, last, self.agent.log()))

    def check_recovered(self, c, old_helper, tag):
        toks = self.tokens_after_restart(c)
        self.assertEqual([t["serial"] for t in toks], [self.tok.serial])
        self.assertFalse(toks[0]["logged_in"],
                         "the login survived the helper's death")
        new_helper = self.the_helper()
        self.assertNotEqual(new_helper, old_helper)
        r = c.call("sign", {"cert": self.tok.rsa_sha256, "data": "eA=="})
        expect_error(r, E_AUTH, "auth_required")
        r = c.result("token.login", {"pin": self.tok.pin})
        self.assertTrue(r["logged_in"])
        self.sign_and_verify(c, self.tok.rsa_sha256, tag + "-rsa")
        self.sign_and_verify(c, self.tok.ec_sha256, tag + "-ec")
        return new_helper


class HelperCrashTest(HelperCase):
    def test_sigkill_with_request_in_flight(self):
        c = Client(self.agent.socket, timeout=20)
        self.addCleanup(c.close)
        c.result("token.login", {"pin": self.tok.pin})
        self.sign_and_verify(c, self.tok.ec_sha256, "before")
        helper = self.the_helper()

        for round_ in range(2):  # twice: the back-off grows, still < 2 s
            os.kill(helper, signal.SIGSTOP)
            self.assertTrue(wait_for(lambda: proc_state(helper) == "T", 5))
            c.send_raw(b'{"jsonrpc":"2.0","id":"inflight","method":"sign",'
                       b'"params":{"cert":"%s","data":"aW4gZmxpZ2h0"}}\n'
                       % self.tok.rsa_sha256.encode())
            # Another client is answered while the helper is frozen.
            with Client(self.agent.socket, timeout=5) as other:
                t0 = time.monotonic()
                self.assertEqual(other.result("agent.info")["protocol"], 1)
                self.assertLess(time.monotonic() - t0, 1.0)
            time.sleep(0.2)  # the request is in the helper's socket now
            os.kill(helper, signal.SIGKILL)
            r = c.recv()
            self.assertIsNotNone(r, "connection closed instead of an error")
            self.assertEqual(r.get("id"), "inflight", r)
            expect_error(r, E_TOKEN, "token_unavailable")
            helper = self.check_recovered(c, helper, "round%d" % round_)
        self.assertIsNone(self.agent.proc.poll())
        self.agent.stop()  # and it still shuts down cleanly (exit 0)

    def kill_during(self, c, request, helper):
        """Freeze the helper, send request, kill the helper: the reply."""
        os.kill(helper, signal.SIGSTOP)
        self.assertTrue(wait_for(lambda: proc_state(helper) == "T", 5))
        c.send_raw(request)
        time.sleep(0.3)
        os.kill(helper, signal.SIGKILL)
        r = c.recv()
        self.assertIsNotNone(r, "connection closed instead of an error")
        return r

    def test_sigkill_during_first_sign_after_login(self):
        """Right after login the agent has not read the certificates yet:
        the sign request's first step is listing them through the helper.
        The helper dying there is still token_unavailable, not a claim
        that the certificate does not exist."""
        c = Client(self.agent.socket, timeout=20)
        self.addCleanup(c.close)
        c.result("token.login", {"pin": self.tok.pin})
        helper = self.the_helper()
        r = self.kill_during(
            c, b'{"jsonrpc":"2.0","id":1,"method":"sign","params":'
            b'{"cert":"%s","data":"eA=="}}\n' % self.tok.rsa_sha256.encode(),
            helper)
        self.assertEqual(r.get("id"), 1, r)
        expect_error(r, E_TOKEN, "token_unavailable")
        self.check_recovered(c, helper, "first-sign")
        self.agent.stop()

    def logged_in_warm(self):
        c = Client(self.agent.socket, timeout=20)
        self.addCleanup(c.close)
        c.result("token.login", {"pin": self.tok.pin})
        self.sign_and_verify(c, self.tok.ec_sha256, "warm")
        return c, self.the_helper()

    def test_sigkill_during_logout(self):
        """token.logout in flight when the helper dies: token_unavailable,
        not token_not_found."""
        c, helper = self.logged_in_warm()
        r = self.kill_during(
            c, b'{"jsonrpc":"2.0","id":"out","method":"token.logout",'
            b'"params":{"token":"%s"}}\n' % self.tok.serial.encode(), helper)
        self.assertEqual(r.get("id"), "out", r)
        expect_error(r, E_TOKEN, "token_unavailable")
        self.check_recovered(c, helper, "logout")
        self.agent.stop()

    def test_sigkill_during_login(self):
        """token.login in flight when the helper dies: token_unavailable,
        not token_not_found."""
        c, helper = self.logged_in_warm()
        r = self.kill_during(
            c, b'{"jsonrpc":"2.0","id":"in","method":"token.login",'
            b'"params":{"pin":"%s"}}\n' % self.tok.pin.encode(), helper)
        self.assertEqual(r.get("id"), "in", r)
        expect_error(r, E_TOKEN, "token_unavailable")
        self.check_recovered(c, helper, "login")
        self.agent.stop()

    def test_sigkill_idle_helper(self):
        c = Client(self.agent.socket, timeout=20)
        self.addCleanup(c.close)
        c.result("token.login", {"pin": self.tok.pin})
        helper = self.the_helper()
        os.kill(helper, signal.SIGKILL)
        self.assertTrue(wait_for(
            lambda: proc_state(helper) in (None, "Z") and
            helper not in helper_pids(self.agent.pid), 5),
            "signetd did not reap its dead helper")
        self.check_recovered(c, helper, "idle")
        self.agent.stop()

    def test_hung_helper_is_given_up(self):
        """A helper that stops answering: the request fails after its
        deadline with token_unavailable while others are served; the
        helper is replaced."""
        c = Client(self.agent.socket, timeout=HANG_DEADLINE_S + 20)
        self.addCleanup(c.close)
        c.result("token.login", {"pin": self.tok.pin})
        # Certificates cached: the hang hits the signature itself.
        self.sign_and_verify(c, self.tok.ec_sha256, "warm")
        helper = self.the_helper()
        os.kill(helper, signal.SIGSTOP)
        t0 = time.monotonic()
        c.send_raw(b'{"jsonrpc":"2.0","id":9,"method":"sign","params":'
                   b'{"cert":"%s","data":"aHVuZw=="}}\n'
                   % self.tok.ec_sha256.encode())
        probes = 0
        with Client(self.agent.socket, timeout=5) as other:
            while time.monotonic() - t0 < 3:
                p0 = time.monotonic()
                self.assertEqual(other.result("agent.info")["protocol"], 1)
                self.assertLess(time.monotonic() - p0, 0.5)
                probes += 1
                time.sleep(0.1)
        self.assertGreater(probes, 10)
        r = c.recv()
        waited = time.monotonic() - t0
        self.assertIsNotNone(r, "connection closed after %.1f s, signetd "
                             "exit status %r:\n%s" % (
                                 waited, self.agent.proc.poll(),
                                 self.agent.log()))
        self.assertEqual(r.get("id"), 9, r)
        expect_error(r, E_TOKEN, "token_unavailable")
        self.assertLess(waited, HANG_DEADLINE_S + 10)
        print("hung helper given up after %.1f s" % waited)
        self.assertTrue(wait_for(lambda: proc_state(helper) in (None, "Z"),
                                 5), "the hung helper was not killed")
        self.check_recovered(c, helper, "hung")
        self.agent.stop()


class ShutdownTest(HelperCase):
    def test_sigterm_clean_exit(self):
        with Client(self.agent.socket) as c:
            c.result("token.login", {"pin": self.tok.pin})
            self.sign_and_verify(c, self.tok.rsa_sha256, "pre-stop")
            helper = self.the_helper()
            idle = Client(self.agent.socket)  # left open across the stop
            self.addCleanup(idle.close)
            self.agent.proc.send_signal(signal.SIGTERM)
            rc = self.agent.proc.wait(15)
        self.assertEqual(rc, 0, self.agent.log())
        self.assertFalse(os.path.exists(self.agent.socket),
                         "signetd left its socket behind")
        self.assertTrue(wait_for(lambda: proc_state(helper) in (None, "Z"),
                                 5), "the helper outlived signetd")
        idle.sock.settimeout(5)
        try:
            self.assertIsNone(idle.recv())
        except ConnectionResetError:
            pass


if __name__ == "__main__":
    unittest.main(verbosity=2)
