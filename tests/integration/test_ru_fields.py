#!/usr/bin/env python3
"""Integration: Russian qualified-certificate identifiers (issue 7) through
a real signetd and SoftHSM2 token: a certificate whose subject carries
SNILS, INN and OGRN (a fixture made for this project) is listed by
certs.list with those fields, chosen by the snils:, inn: and ogrn:
selectors for signing (openssl cms -verify checks the signature), and a
selector naming another person's SNILS matches nothing.
"""

import base64
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "lib"))
from agent import Agent, Client, expect_error, openssl_verify  # noqa: E402
from policy_fixtures import PolicyToken  # noqa: E402

SNILS = "12345678901"
INN = "771234567890"
OGRN = "1027700132195"
SUBJECT = ("/CN=Ivanov Ivan/O=Signet Test Org/1.2.643.100.3=%s"
           "/1.2.643.3.131.1.1=%s/1.2.643.100.1=%s" % (SNILS, INN, OGRN))


class RuFieldsTest(unittest.TestCase):
    def setUp(self):
        self.tok = PolicyToken()
        self.addCleanup(self.tok.cleanup)
        self.cert = self.tok.add_soft_cert("10", "ru", "Ivanov Ivan",
                                           subject=SUBJECT)
        self.agent = Agent(token=self.tok)
        self.addCleanup(self.agent.kill)
        self.c = Client(self.agent.socket)
        self.addCleanup(self.c.close)
        self.tmp = tempfile.mkdtemp(prefix="signet-ru-")

    def test_listed_and_selected(self):
        certs = self.c.result("certs.list")["certs"]
        ru = [x for x in certs if x["sha256"] == self.cert.sha256]
        self.assertEqual(len(ru), 1, certs)
        self.assertEqual(ru[0]["snils"], SNILS)
        self.assertEqual(ru[0]["inn"], INN)
        self.assertEqual(ru[0]["ogrn"], OGRN)
        self.c.result("token.login", {"pin": self.tok.pin})
        for sel in ("snils:" + SNILS, "inn:" + INN, "ogrn:" + OGRN):
            data = ("signed by %s\n" % sel).encode()
            r = self.c.call("sign", {"cert": sel,
                                     "data": base64.b64encode(data).decode()})
            self.assertIn("result", r, r)
            doc = os.path.join(self.tmp, "doc")
            sig = doc + ".sig"
            with open(doc, "wb") as f:
                f.write(data)
            with open(sig, "wb") as f:
                f.write(base64.b64decode(r["result"]["signature"]))
            self.assertTrue(openssl_verify(sig, doc, self.tok.ca), sel)
        expect_error(self.c.call("sign", {"cert": "snils:98765432109",
                                          "data": "eA=="}),
                     -32003, "cert_not_found")


if __name__ == "__main__":
    unittest.main(verbosity=2)
