#!/usr/bin/env python3
"""signetd following a real PC/SC reader (issue 6): a private pcscd with the
vpcd virtual reader and a virtual CAC card (tests/lib/pcsc.py), driven by
OpenSC's opensc-pkcs11.so inside signetd's helper, and a subscribed client.

In order: a card inserted after signetd started is announced, listed with
its certificate, and signs (openssl cms -verify checks it); removed, it is
announced within 2 s, leaves tokens.list, and its login is forgotten;
reinserted, it needs its PIN again; removed during a batch, the batch fails
with token_removed and returns no signature; pcscd killed and restarted,
the agent sees the card again and signs.
"""

import base64
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "lib"))
import pcsc  # noqa: E402

pcsc.enter_namespace()

from agent import Agent, Client, expect_error  # noqa: E402

EVENT_DEADLINE_S = 2.0


class AgentPcscTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rig = pcsc.PcscRig()
        cls.agent = Agent(modules=[cls.rig.module])
        cls.events = Client(cls.agent.socket, timeout=10)
        r = cls.events.call("events.subscribe")
        assert r.get("result") == {"subscribed": True}, r
        cls.tmp = tempfile.mkdtemp(prefix="signet-pcsc-agent-")

    @classmethod
    def tearDownClass(cls):
        cls.events.close()
        cls.agent.stop()
        cls.rig.close()

    def client(self):
        c = Client(self.agent.socket, timeout=60)
        self.addCleanup(c.close)
        return c

    def wait_event(self, method, deadline=EVENT_DEADLINE_S):
        """The next notification named method, within deadline seconds
        (others are skipped); returns (params, seconds)."""
        t0 = time.monotonic()
        while True:
            left = deadline - (time.monotonic() - t0)
            self.assertGreater(left, 0, "no %s within %.1f s" % (method, deadline))
            self.events.sock.settimeout(left)
            msg = self.events.recv()
            self.assertIsNotNone(msg, "signetd closed the events connection")
            self.assertNotIn("id", msg, msg)
            if msg["method"] == method:
                return msg["params"], time.monotonic() - t0

    def tokens(self, c):
        return c.result("tokens.list")["tokens"]

    def sign(self, c, data):
        return c.call("sign", {"cert": self.rig.card.cert_sha256,
                               "data": base64.b64encode(data).decode()})

    def verify(self, data, sig_b64):
        doc = os.path.join(self.tmp, "doc")
        sig = os.path.join(self.tmp, "doc.sig")
        with open(doc, "wb") as f:
            f.write(data)
        with open(sig, "wb") as f:
            f.write(base64.b64decode(sig_b64))
        r = subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform",
                            "DER", "-in", sig, "-content", doc, "-CAfile",
                            self.rig.card.ca, "-purpose", "any", "-out",
                            os.devnull], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_1_inserted_listed_signs(self):
        c = self.client()
        self.assertEqual(self.tokens(c), [])
        self.rig.insert()
        params, secs = self.wait_event("token.inserted")
        print("\ntoken.inserted %.2f s after insertion" % secs)
        self.assertEqual(params["reason"], "inserted")
        toks = self.tokens(c)
        self.assertEqual(len(toks), 1, toks)
        self.assertEqual(toks[0]["serial"], params["serial"])
        certs = c.result("certs.list")["certs"]
        self.assertIn(self.rig.card.cert_sha256, [x["sha256"] for x in certs])
        c.result("token.login", {"pin": self.rig.pin})
        data = b"signed on a card in a PC/SC reader\n"
        r = self.sign(c, data)
        self.assertIn("result", r, r)
        self.verify(data, r["result"]["signature"])

    def test_2_removed_forgets_login(self):
        c = self.client()
        self.assertTrue(self.tokens(c)[0]["logged_in"])
        t0 = time.monotonic()
        self.rig.remove(wait=False)
        self.wait_event("token.logged_out", EVENT_DEADLINE_S)
        params, _ = self.wait_event("token.removed",
                                    EVENT_DEADLINE_S - (time.monotonic() - t0))
        print("\ntoken.removed %.2f s after removal" % (time.monotonic() - t0))
        self.assertEqual(params["reason"], "removed")
        self.assertEqual(self.tokens(c), [])
        expect_error(self.sign(c, b"x"), -32003, "cert_not_found")

    def test_3_reinserted_needs_pin(self):
        c = self.client()
        self.rig.insert()
        self.wait_event("token.inserted")
        self.assertFalse(self.tokens(c)[0]["logged_in"])
        expect_error(self.sign(c, b"x"), -32002, "auth_required")
        c.result("token.login", {"pin": self.rig.pin})
        r = self.sign(c, b"after reinsertion\n")
        self.assertIn("result", r, r)

    def test_4_removed_during_batch(self):
        c = self.client()
        docs = [{"data": base64.b64encode(b"document %d\n" % i).decode()}
                for i in range(200)]
        result = {}

        def run():
            result["r"] = c.call("sign", {"cert": self.rig.card.cert_sha256,
                                          "documents": docs})
        th = threading.Thread(target=run)
        th.start()
        time.sleep(0.3)           # some signatures are made by now
        self.rig.remove(wait=False)
        th.join(60)
        self.assertFalse(th.is_alive())
        r = result["r"]
        expect_error(r, -32004, "token_removed")
        self.assertNotIn("result", r)
        self.wait_event("token.removed", 5)

    def test_5_pcscd_restarted(self):
        c = self.client()
        self.rig.insert()
        self.wait_event("token.inserted")
        self.rig.kill_pcscd()
        self.wait_event("token.removed", 5)
        self.rig.start_pcscd()
        params, secs = self.wait_event("token.inserted", 10)
        print("\ncard seen again %.2f s after pcscd restarted" % secs)
        c.result("token.login", {"pin": self.rig.pin})
        data = b"after pcscd restarted\n"
        r = self.sign(c, data)
        self.assertIn("result", r, r)
        self.verify(data, r["result"]["signature"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
