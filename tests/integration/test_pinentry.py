#!/usr/bin/env python3
"""Integration: the agent asks a pinentry program for the PIN (issue 4).

signetd with `[login] pin_source = pinentry` and the program
tests/pinentry/fake_pinentry (a scripted stand-in for the person at the
dialog: it speaks the real Assuan pinentry protocol; pinentry_tty_test
drives the real pinentry-tty). A sign on a token that is not logged in
makes the agent ask; the prompt names the program, the certificate and the
number of documents; the right PIN logs in and signs (openssl cms -verify
checks it); a wrong PIN fails the whole batch with pin_incorrect after one
try and no signature; Cancel gives pin_cancelled.
"""

import base64
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "lib"))
from agent import (Agent, Client, Token, build_dir, expect_error,  # noqa: E402
                   openssl_verify)


class PinentryTest(unittest.TestCase):
    def setUp(self):
        self.tok = Token()
        self.addCleanup(self.tok.cleanup)
        self.tmp = tempfile.mkdtemp(prefix="signet-pinentry-")
        self.fake = os.path.join(build_dir(), "bin", "fake_pinentry")
        if not os.access(self.fake, os.X_OK):
            self.fail("no fake_pinentry at %s: build it" % self.fake)
        self.log = os.path.join(self.tmp, "pinentry.log")
        self.conf = os.path.join(self.tmp, "signet.conf")
        with open(self.conf, "w") as f:
            f.write("[login]\npin_source = pinentry\npinentry = %s\n" % self.fake)

    def agent(self, mode, pin=None):
        env = dict(os.environ, FAKE_PINENTRY_MODE=mode,
                   FAKE_PINENTRY_LOG=self.log,
                   FAKE_PINENTRY_PIN=pin or self.tok.pin)
        ag = Agent(token=self.tok, env=env, extra_args=["--config", self.conf])
        self.addCleanup(ag.kill)
        c = Client(ag.socket, timeout=30)
        self.addCleanup(c.close)
        return ag, c

    def received(self):
        with open(self.log) as f:
            return [ln[2:].rstrip("\n") for ln in f if ln.startswith("> ")]

    def docs(self, n):
        return [b"pinentry document %d\n" % i for i in range(n)]

    def sign_batch(self, c, docs):
        return c.call("sign", {"cert": self.tok.ec_sha256, "documents": [
            {"data": base64.b64encode(d).decode()} for d in docs]})

    def test_right_pin_logs_in_and_signs(self):
        ag, c = self.agent("pin")
        docs = self.docs(3)
        r = self.sign_batch(c, docs)
        self.assertIn("result", r, r)
        for i, d in enumerate(docs):
            doc = os.path.join(self.tmp, "d%d" % i)
            sig = doc + ".sig"
            with open(doc, "wb") as f:
                f.write(d)
            with open(sig, "wb") as f:
                f.write(base64.b64decode(r["result"]["results"][i]["signature"]))
            self.assertTrue(openssl_verify(sig, doc, self.tok.ca))
        lines = self.received()
        self.assertEqual(sum(1 for ln in lines if ln == "GETPIN"), 1, lines)
        desc = [ln for ln in lines if ln.startswith("SETDESC ")]
        self.assertEqual(len(desc), 1, lines)
        self.assertIn("Sign 3 documents", desc[0])
        self.assertIn("Signet Demo EC", desc[0])
        self.assertIn(os.path.realpath(sys.executable), desc[0])
        # Logged in now: the next request asks nobody.
        self.assertIn("result", self.sign_batch(c, docs[:1]))
        self.assertEqual(sum(1 for ln in self.received() if ln == "GETPIN"), 1)
        self.assertTrue(c.result("tokens.list")["tokens"][0]["logged_in"])

    def test_wrong_pin_stops_the_batch(self):
        ag, c = self.agent("pin", pin="000000")
        r = self.sign_batch(c, self.docs(10))
        data = expect_error(r, -32002, "pin_incorrect")
        self.assertNotIn("result", r)
        self.assertTrue(data["pin"]["pin_count_low"], data)
        # One try: the agent never asks again for the same request.
        self.assertEqual(sum(1 for ln in self.received() if ln == "GETPIN"), 1)
        self.assertFalse(c.result("tokens.list")["tokens"][0]["logged_in"])

    def test_cancel(self):
        ag, c = self.agent("cancel")
        expect_error(self.sign_batch(c, self.docs(1)), -32002, "pin_cancelled")
        self.assertFalse(c.result("tokens.list")["tokens"][0]["logged_in"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
