#!/usr/bin/env python3
"""PC/SC rig checks (tests/lib/pcsc.py): a private pcscd, the vpcd virtual
reader and the virtual CAC card, driven through OpenSC's opensc-pkcs11.so
with pkcs11-tool exactly as a PKCS#11 application sees them.

With the card in: the token is listed in its reader, its certificate is
the one we made, a login with the PIN works (a wrong one fails the way
this emulation fails), and a SHA256-RSA-PKCS signature made on the card
verifies with openssl against the exported certificate. Removal makes the
token disappear within 2 s, reinsertion brings it back; pcscd killed and
restarted serves the card again. Prints how long pkcs11-tool -L and a
signature take with and without TCP_NODELAY on vpcd's socket.
"""

import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "lib"))
import pcsc  # noqa: E402

# Before anything else: the rest runs in a private mount namespace.
pcsc.enter_namespace()

DEADLINE_S = 2.0


def timed(fn, *args, **kw):
    t0 = time.monotonic()
    r = fn(*args, **kw)
    return r, time.monotonic() - t0


class RigTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.rig = pcsc.PcscRig()

    @classmethod
    def tearDownClass(cls):
        cls.rig.close()

    def setUp(self):
        # Every test starts from: pcscd up (with the shim), card out.
        if not self.rig.pcscd_running():
            self.rig.start_pcscd()
        self.rig.remove()

    def wait_token(self, present, timeout=DEADLINE_S):
        """Seconds until pkcs11-tool -L shows (or stops showing) the
        token; fails the test after timeout."""
        t0 = time.monotonic()
        while True:
            info = self.rig.token_info()
            if (info is not None) == present:
                return time.monotonic() - t0
            if time.monotonic() - t0 > timeout:
                self.fail("token %s after %.1f s:\n%s" % (
                    "not listed" if present else "still listed", timeout,
                    self.rig.logs()))
            time.sleep(0.05)

    def test_empty_readers(self):
        states = self.rig.reader_states()
        self.assertEqual(states, {self.rig.reader: False,
                                  self.rig.other_reader: False})
        self.assertIsNone(self.rig.token_info())

    def test_token_and_certificate(self):
        self.rig.insert()
        info = self.rig.token_info()
        self.assertIsNotNone(info)
        self.assertEqual(info["label"], self.rig.card.subject_cn)
        self.assertIn("login required", info["flags"])
        self.assertRegex(info["serial"], r"^[0-9a-f]{16}$")
        # The second slot stays empty.
        self.assertEqual(self.rig.reader_states()[self.rig.other_reader],
                         False)

        out = self.rig.p11("-O").stdout
        self.assertIn("Certificate Object; type = X.509 cert", out)
        self.assertIn("subject:    DN: O=Signet Test, CN=%s"
                      % self.rig.card.subject_cn, out)
        self.assertIn("ID:         %s" % self.rig.key_id, out)
        self.assertIn("Public Key Object; RSA 2048 bits", out)
        # Without login no private key is shown.
        self.assertNotIn("Private Key Object", out)

        # The certificate on the card is byte for byte the one we made.
        der = os.path.join(self.rig.dir, "cert-from-card.der")
        self.rig.p11("--read-object", "--type", "cert", "--id",
                     self.rig.key_id, "--output-file", der)
        with open(der, "rb") as f:
            self.assertEqual(f.read(), self.rig.card.cert_der)
        p = subprocess.run(["openssl", "verify", "-CAfile", self.rig.card.ca,
                            self.rig.card.cert], capture_output=True,
                           text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_login(self):
        self.rig.insert()
        out = self.rig.p11("--login", "--pin", self.rig.pin, "-O").stdout
        self.assertIn("Private Key Object; RSA", out)
        self.assertIn("ID:         %s" % self.rig.key_id, out)

        # A wrong PIN: this emulation answers SW 6985, which OpenSC maps
        # to CKR_GENERAL_ERROR (a real CAC says CKR_PIN_INCORRECT).
        p = self.rig.p11("--login", "--pin", "87654321", "-O", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("CKR_GENERAL_ERROR", p.stdout + p.stderr)
        # ... and counts nothing against the right one.
        self.rig.p11("--login", "--pin", self.rig.pin, "-O")

    def test_signature_verifies(self):
        self.rig.insert()
        data = b"Signet PC/SC rig: a document to sign\n" * 10
        sig, secs = timed(self.rig.sign, data)
        print("\nsignature (SHA256-RSA-PKCS, login + sign): %.3f s" % secs)
        self.assertEqual(len(sig), 256)
        self.assertTrue(self.rig.verify(data, sig))
        self.assertFalse(self.rig.verify(data + b"x", sig))
        # A wrong PIN signs nothing.
        with self.assertRaises(RuntimeError):
            self.rig.sign(data, pin="87654321")

    def test_remove_and_reinsert(self):
        self.rig.insert()
        serial = self.rig.token_info()["serial"]

        self.rig.remove(wait=False)
        secs = self.wait_token(False)
        print("\ntoken gone from pkcs11-tool -L after %.2f s" % secs)
        self.assertLess(secs, DEADLINE_S)
        self.assertEqual(self.rig.card_present(), False)

        self.rig.insert(wait=False)
        secs = self.wait_token(True)
        print("token back in pkcs11-tool -L after %.2f s" % secs)
        self.assertLess(secs, DEADLINE_S)
        # The same card: same serial, and it still signs.
        self.assertEqual(self.rig.token_info()["serial"], serial)
        data = b"after reinsertion"
        self.assertTrue(self.rig.verify(data, self.rig.sign(data)))

    def test_pcscd_killed_and_restarted(self):
        self.rig.insert()
        self.rig.kill_pcscd()
        p = self.rig.p11("-L", check=False)
        self.assertNotIn(self.rig.card.subject_cn, p.stdout)
        self.assertEqual(self.rig.reader_states(), {})

        # The new pcscd finds the stale socket of the old one; the card
        # (still "inserted") connects to the new vpcd by itself.
        self.rig.start_pcscd()
        self.wait_token(True, timeout=5.0)
        data = b"after a pcscd restart"
        self.assertTrue(self.rig.verify(data, self.rig.sign(data)))

    def test_timings_with_and_without_nodelay(self):
        """Not a pass/fail on the slow case: it shows what the LD_PRELOAD
        shim is worth on this machine."""
        results = {}
        data = b"timing"
        try:
            for nodelay in (False, True):
                self.rig.remove()
                self.rig.stop_pcscd()
                self.rig.start_pcscd(nodelay=nodelay)
                self.rig.insert()
                _, list_s = timed(self.rig.p11, "-L")
                sig, sign_s = timed(self.rig.sign, data)
                self.assertTrue(self.rig.verify(data, sig))
                results[nodelay] = (list_s, sign_s)
        finally:
            # Leave pcscd as the other tests expect it.
            self.rig.remove(wait=False)
            self.rig.stop_pcscd()
            self.rig.start_pcscd()
        print("\npkcs11-tool -L: %.3f s without TCP_NODELAY, %.3f s with"
              % (results[False][0], results[True][0]))
        print("login + sign:   %.3f s without TCP_NODELAY, %.3f s with"
              % (results[False][1], results[True][1]))
        self.assertLess(results[True][0], 2.0)
        self.assertLess(results[True][1], 2.0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
