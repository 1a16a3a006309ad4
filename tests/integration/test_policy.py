#!/usr/bin/env python3
"""Integration: the signing policy (issue 4) on a real signetd.

Real SoftHSM2 tokens (scripts/mktoken.sh, plus certificates made for the
policy's checks by tests/lib/policy_fixtures.py), a real signetd reading a
signet.conf(5) written by each test, and two real uids: root (this
process) and nobody (a raw client run with setpriv). Every refusal is
asserted by its exact JSON-RPC code, data.reason and data.rule
(docs/protocol.md); every signature by `openssl cms -verify`.

Covered: rules by user, group and executable, and their precedence; the
rate limit hit and recovered; expired, not-yet-valid, keyEncipherment-only
and untrusted certificates refused before any token work; blind digest
signing refused by default and allowed by a rule; login ttl, idle and
max_signatures each forcing auth_required (and the subscriber's
token.logged_out); a batch of 100 documents under one login; a wrong
per-signature PIN stopping a batch with no signature and one PIN attempt;
max_batch, max_size, digests; SHA-1 in a file (exit 78, file:line);
--check-config; SIGHUP reload, good and broken.
"""

import base64
import datetime
import hashlib
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "lib"))
from agent import (Client, build_dir, expect_error,  # noqa: E402
                   openssl_verify, signet)
from policy_fixtures import (PolicyToken, TempGroup, as_user,  # noqa: E402
                             can_switch_uid, make_ca, open_to_all,
                             start_agent, utcnow, wait_event, wait_log,
                             write_conf, SYSTEM_PYTHON)

E_INVALID_PARAMS = -32602
E_REFUSED = -32001
E_AUTH = -32002

EX_CONFIG = 78

# The interpreter running this test: the executable the agent sees for
# this process's connections (/proc/PID/exe).
THIS_EXE = os.path.realpath(sys.executable)

TOKEN = None   # PolicyToken shared by the tests that never type a wrong PIN
FIX = {}       # its extra certificates (CertFixture by name)
OTHER_CA = None  # (pem, key) of a CA the token's certificates do not use
WORK = None


def setUpModule():
    try:
        make_fixtures()
    except BaseException:
        tearDownModule()  # unittest does not when this fails
        raise


def make_fixtures():
    global TOKEN, OTHER_CA, WORK
    WORK = tempfile.mkdtemp(prefix="signet-it-policy-")
    TOKEN = PolicyToken(label="signet-policy")
    now = utcnow()
    day = datetime.timedelta(days=1)
    FIX["expired"] = TOKEN.add_soft_cert(
        "10", "expired", "Policy Expired", start=now - 800 * day,
        end=now - 400 * day)
    FIX["not_yet"] = TOKEN.add_soft_cert(
        "11", "notyet", "Policy Not Yet Valid", start=now + 400 * day,
        end=now + 800 * day)
    FIX["keyenc"] = TOKEN.add_soft_cert(
        "12", "keyenc", "Policy Key Encipherment", key_usage="keyEncipherment")
    # The control: made exactly like the three above, valid and fit.
    FIX["soft"] = TOKEN.add_soft_cert("13", "soft", "Policy Valid")
    OTHER_CA = make_ca(os.path.join(WORK, "other-ca"), "Signet Other CA")
    FIX["other"] = TOKEN.add_soft_cert("14", "otherca", "Policy Other CA",
                                       ca=OTHER_CA)


def tearDownModule():
    if TOKEN is not None:
        TOKEN.cleanup()
    if WORK is not None and os.environ.get("SIGNET_TEST_KEEP") != "1":
        shutil.rmtree(WORK, ignore_errors=True)


def b64(data):
    return base64.b64encode(data).decode()


class PolicyCase(unittest.TestCase):
    tok = None

    def setUp(self):
        if self.tok is None:
            self.tok = TOKEN
        self.work = tempfile.mkdtemp(prefix="t-", dir=WORK)
        self.n = 0

    def conf(self, text, name="signet.conf"):
        return write_conf(self.work, text, name)

    def replace_conf(self, path, text):
        """Rewrites a configuration file at once (a reload never sees
        half of it)."""
        tmp = path + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)

    def agent(self, conf_text=None, **kw):
        conf = self.conf(conf_text) if conf_text is not None else None
        # A system agent never sets up its audit log itself: the officer
        # does, with signet audit init.
        ag = start_agent(self.tok, conf, audit_parent=tempfile.mkdtemp(
            prefix="audit-", dir=self.work), **kw)
        self.addCleanup(self.stop_agent, ag)
        ag.conf = conf
        return ag

    def stop_agent(self, ag):
        if ag.proc.poll() is None or not ag._log.closed:
            ag.stop()

    def client(self, ag, timeout=30.0):
        c = Client(ag.socket, timeout=timeout)
        self.addCleanup(c.close)
        return c

    def subscriber(self, ag):
        s = self.client(ag)
        self.assertEqual(s.result("events.subscribe"), {"subscribed": True})
        return s

    def login(self, c, pin=None):
        r = c.result("token.login", {"token": self.tok.serial,
                                     "pin": pin or self.tok.pin})
        self.assertTrue(r["logged_in"])

    def doc(self, data=None):
        """A new document file; returns (path, bytes)."""
        self.n += 1
        if data is None:
            data = b"policy test document %d\n" % self.n
        p = os.path.join(self.work, "doc%d.txt" % self.n)
        with open(p, "wb") as f:
            f.write(data)
        return p, data

    def verify(self, sig_b64, doc_path, ca=None):
        """Asserts openssl cms -verify accepts the DER signature."""
        sig = doc_path + ".sig"
        with open(sig, "wb") as f:
            f.write(base64.b64decode(sig_b64))
        self.assertTrue(openssl_verify(sig, doc_path, ca or self.tok.ca),
                        "openssl cms -verify rejected the signature of %s"
                        % doc_path)
        return sig

    def sign_ok(self, c, cert, ca=None, **params):
        """Signs a new document inline; asserts the signature verifies."""
        path, data = self.doc()
        reply = c.call("sign", dict({"cert": cert, "data": b64(data)},
                                    **params))
        self.assertIn("result", reply, reply)
        self.verify(reply["result"]["signature"], path, ca)
        return reply["result"]

    def sign_call(self, c, cert, **params):
        path, data = self.doc()
        return c.call("sign", dict({"cert": cert, "data": b64(data)},
                                   **params))

    def refused(self, reply, reason, rule):
        """A policy refusal: -32001, this reason, this deciding rule."""
        data = expect_error(reply, E_REFUSED, reason)
        self.assertEqual(data.get("rule"), rule, reply)
        self.assertNotIn("result", reply)
        return data


# The user this test runs as (root in CI): the rule that lets it sign.
SELF = pwd.getpwuid(os.geteuid()).pw_name


def root_rule(extra=""):
    """[rule root] for this test's own user (root in CI, where the rule
    reads as its name says), with PINs from the client and extra lines."""
    return "[rule root]\nuser = %s\npin_from_client = yes\n%s" % (SELF,
                                                                    extra)


SYSTEM = "[agent]\nmode = system\n\n"


# ---------------------------------------------------------------------------
# Who: user, group, executable, precedence.

@unittest.skipUnless(can_switch_uid(), "needs root, setpriv and %s to run "
                     "a client as nobody" % SYSTEM_PYTHON)
class IdentityTest(PolicyCase):
    def nobody(self, ag, requests, **kw):
        open_to_all(ag)
        return as_user(ag.socket, requests, **kw)

    def assert_peer_refused(self, replies):
        self.assertEqual(len(replies), 1, "want one line then close: %r"
                         % (replies,))
        self.assertIsNone(replies[0].get("id"), replies)
        expect_error(replies[0], E_REFUSED, "peer_refused")

    def nobody_signs(self, ag, cert, **kw):
        """nobody signs a document inline; returns the reply."""
        path, data = self.doc()
        r = self.nobody(ag, [{"method": "sign", "params": {
            "cert": cert, "data": b64(data)}}], **kw)
        self.assertEqual(len(r), 1, r)
        if "result" in r[0]:
            self.verify(r[0]["result"]["signature"], path)
        return r[0]

    def test_user_rule(self):
        """A rule for root only: root signs; nobody is refused at connect."""
        ag = self.agent(SYSTEM + root_rule())
        c = self.client(ag)
        self.login(c)
        self.sign_ok(c, self.tok.ec_sha256)
        self.assert_peer_refused(self.nobody(
            ag, [{"method": "agent.info"}]))
        log = wait_log(ag, "refused client uid %d"
                       % pwd.getpwnam("nobody").pw_uid)
        self.assertIn("policy_denied", log)
        # root is still served on its connection and on new ones.
        self.sign_ok(c, self.tok.rsa_sha256)
        self.sign_ok(self.client(ag), self.tok.ec_sha256)

    def test_user_rule_without_signing(self):
        """nobody may connect and list (certs = none) but not sign or send
        a PIN; root signs."""
        ag = self.agent(SYSTEM + root_rule() +
                        "\n[rule nobody-lists]\nuser = nobody\n"
                        "certs = none\n")
        c = self.client(ag)
        self.login(c)
        r = self.nobody(ag, [
            {"method": "tokens.list"},
            {"method": "sign", "params": {"cert": self.tok.ec_sha256,
                                          "data": b64(b"x")}},
            {"method": "token.login", "params": {"pin": self.tok.pin}}])
        self.assertEqual(len(r), 3, r)
        toks = r[0]["result"]["tokens"]
        self.assertEqual([t["serial"] for t in toks], [self.tok.serial])
        self.assertTrue(toks[0]["logged_in"])
        self.refused(r[1], "cert_not_allowed", "nobody-lists")
        self.refused(r[2], "pin_source_not_allowed", "nobody-lists")
        self.sign_ok(c, self.tok.ec_sha256)

    def test_group_rule(self):
        """A rule by group matches the primary or a supplementary group."""
        with TempGroup() as g:
            ag = self.agent(
                SYSTEM + root_rule() +
                "\n[rule signers]\ngroup = %s\ncerts = sha256:%s\n"
                "\n[rule nogroup-lists]\ngroup = nogroup\ncerts = none\n"
                % (g.name, self.tok.ec_sha256))
            c = self.client(ag)
            self.login(c)
            # Only nogroup: the second rule, which grants no certificate.
            self.refused(self.nobody_signs(ag, self.tok.ec_sha256),
                         "cert_not_allowed", "nogroup-lists")
            # The group as a supplementary group: signs with its
            # certificate, not with another.
            r = self.nobody_signs(ag, self.tok.ec_sha256, groups=[g.gid])
            self.assertIn("result", r, r)
            self.refused(self.nobody_signs(ag, self.tok.rsa_sha256,
                                           groups=[g.gid]),
                         "cert_not_allowed", "signers")
            # The group as the primary group.
            r = self.nobody_signs(ag, self.tok.ec_sha256, group=g.name)
            self.assertIn("result", r, r)
            # Neither group: no rule, refused at connect.
            self.assert_peer_refused(self.nobody(
                ag, [{"method": "agent.info"}], group="daemon"))

    def test_precedence(self):
        """The first matching rule decides: deny then allow refuses; allow
        then deny allows."""
        deny = "[rule no-root]\nuser = %s\naction = deny\n\n" % SELF
        allow = root_rule() + "\n"
        # Deny first: refused at connect.
        ag = self.agent(SYSTEM + deny + allow)
        with Client(ag.socket) as c:
            expect_error(c.recv(), E_REFUSED, "peer_refused")
        ag.stop()
        # Allow first: served and signs.
        ag = self.agent(SYSTEM + allow + deny)
        c = self.client(ag)
        self.login(c)
        self.sign_ok(c, self.tok.ec_sha256)
        # The same connection after the order is swapped back: the deny
        # rule decides, and says so.
        self.replace_conf(ag.conf, SYSTEM + deny + allow)
        ag.proc.send_signal(signal.SIGHUP)
        wait_log(ag, "reload: policy from %s in force" % ag.conf)
        self.refused(self.sign_call(c, self.tok.ec_sha256),
                     "policy_denied", "no-root")
        # For nobody too: a deny by user beats a later allow by group.
        self.replace_conf(ag.conf, SYSTEM + allow +
                          "[rule no-nobody]\nuser = nobody\naction = deny\n"
                          "\n[rule nogroup]\ngroup = nogroup\n")
        ag.proc.send_signal(signal.SIGHUP)
        wait_log(ag, "reload: policy from %s in force" % ag.conf)
        self.assert_peer_refused(self.nobody(ag, [{"method": "agent.info"}]))
        self.replace_conf(ag.conf, SYSTEM + allow +
                          "[rule nogroup]\ngroup = nogroup\n\n"
                          "[rule no-nobody]\nuser = nobody\naction = deny\n")
        t = len(ag.log())
        ag.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while "in force" not in ag.log()[t:]:
            self.assertLess(time.monotonic(), deadline, ag.log())
            time.sleep(0.05)
        r = self.nobody_signs(ag, self.tok.ec_sha256)
        self.assertIn("result", r, r)


class ExeTest(PolicyCase):
    """Rules by executable: no other uid needed."""

    def test_exe_rule(self):
        """exe = this interpreter: allowed; another program is not."""
        self.assertEqual(THIS_EXE, os.readlink("/proc/self/exe"))
        ag = self.agent(SYSTEM + "[rule this-python]\nexe = %s\n"
                        "pin_from_client = yes\n" % THIS_EXE)
        c = self.client(ag)
        self.login(c)
        self.sign_ok(c, self.tok.ec_sha256)
        # The signet CLI, run by the same root, is another executable.
        p = signet(["certs"], socket_path=ag.socket)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn("peer_refused", p.stderr)

    def test_exe_rule_other_program(self):
        """exe = /usr/bin/true: this interpreter is refused; exe = signet:
        the signet CLI is served and this interpreter is not."""
        ag = self.agent(SYSTEM + "[rule true-only]\nexe = /usr/bin/true\n")
        with Client(ag.socket) as c:
            r = c.recv()
            self.assertIsNone(r.get("id"), r)
            expect_error(r, E_REFUSED, "peer_refused")
            self.assertIsNone(c.recv())  # closed
        log = wait_log(ag, "exe %s: policy_denied" % THIS_EXE)
        self.assertIn("refused client uid %d" % os.geteuid(), log)

        cli = os.path.realpath(os.path.join(build_dir(), "bin", "signet"))
        ag2 = self.agent(SYSTEM + "[rule cli]\nexe = %s\ncerts = none\n"
                         % cli)
        p = signet(["certs", "--json"], socket_path=ag2.socket)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(self.tok.ec_sha256, p.stdout)
        with Client(ag2.socket) as c:
            expect_error(c.recv(), E_REFUSED, "peer_refused")

    def test_exe_refused_after_reload_is_policy_denied(self):
        """A connection admitted under one policy is judged by the new one
        after SIGHUP: no rule for this exe any more is policy_denied."""
        ag = self.agent(SYSTEM + "[rule this-python]\nexe = %s\n"
                        "pin_from_client = yes\n" % THIS_EXE)
        c = self.client(ag)
        self.login(c)
        self.sign_ok(c, self.tok.ec_sha256)
        self.replace_conf(ag.conf, SYSTEM +
                          "[rule true-only]\nexe = /usr/bin/true\n")
        ag.proc.send_signal(signal.SIGHUP)
        wait_log(ag, "reload: policy from %s in force" % ag.conf)
        self.refused(self.sign_call(c, self.tok.ec_sha256),
                     "policy_denied", "default")
        self.refused(c.call("tokens.list"), "policy_denied", "default")


# ---------------------------------------------------------------------------
# How often.

class RateTest(PolicyCase):
    def test_rate_limit_hit_and_recovered(self):
        ag = self.agent(root_rule("rate = 3/5s\n"))
        c = self.client(ag)
        self.login(c)
        for _ in range(3):
            self.sign_ok(c, self.tok.ec_sha256)
        data = self.refused(self.sign_call(c, self.tok.ec_sha256),
                            "rate_limited", "root")
        wait = data.get("retry_after")
        self.assertIsInstance(wait, int, data)
        self.assertTrue(1 <= wait <= 5, data)
        # A batch larger than the rate's N can never pass.
        self.refused(c.call("sign", {"cert": self.tok.ec_sha256,
                                     "documents": [{"data": "eA=="}] * 4}),
                     "batch_too_large", "root")
        time.sleep(wait + 0.3)
        self.sign_ok(c, self.tok.ec_sha256)
        # The new window holds 3 again: a batch of 2 fits, one more not.
        r = c.call("sign", {"cert": self.tok.ec_sha256,
                            "documents": [{"data": "eA=="}] * 2})
        self.assertEqual(len(r["result"]["results"]), 2, r)
        self.refused(self.sign_call(c, self.tok.ec_sha256),
                     "rate_limited", "root")

    def test_refused_requests_do_not_count(self):
        """signet.conf(5), rate: "Refused requests do not count"."""
        ag = self.agent(root_rule("rate = 2/1m\ncerts = sha256:%s\n"
                                  % self.tok.ec_sha256))
        c = self.client(ag)
        for _ in range(3):
            self.refused(self.sign_call(c, self.tok.rsa_sha256),
                         "cert_not_allowed", "root")
        for _ in range(3):
            expect_error(self.sign_call(c, self.tok.ec_sha256), E_AUTH,
                         "auth_required")
        self.login(c)
        self.sign_ok(c, self.tok.ec_sha256)
        self.sign_ok(c, self.tok.ec_sha256)
        self.refused(self.sign_call(c, self.tok.ec_sha256),
                     "rate_limited", "root")


# ---------------------------------------------------------------------------
# The certificate's own fitness, before any token work.

class CertTest(PolicyCase):
    def check_refused_before_login(self, name, reason, conf=None):
        """Refused while the token is logged out (no token work: not
        auth_required) and while it is logged in."""
        ag = self.agent(conf)
        c = self.client(ag)
        self.refused(self.sign_call(c, FIX[name].sha256), reason, "default")
        # The control, made the same way, only asks for a login.
        expect_error(self.sign_call(c, FIX["soft"].sha256), E_AUTH,
                     "auth_required")
        self.login(c)
        self.refused(self.sign_call(c, FIX[name].sha256), reason, "default")
        fd = os.open(self.doc()[0], os.O_RDONLY)
        try:
            self.refused(c.call("sign", {"cert": FIX[name].sha256, "fd": 0},
                                fds=[fd]), reason, "default")
        finally:
            os.close(fd)
        self.sign_ok(c, FIX["soft"].sha256)
        return ag, c

    def test_cert_expired(self):
        self.check_refused_before_login("expired", "cert_expired")

    def test_cert_not_yet_valid(self):
        self.check_refused_before_login("not_yet", "cert_not_yet_valid")

    def test_cert_key_usage(self):
        self.check_refused_before_login("keyenc", "cert_key_usage")
        # Not checked with require_key_usage = no: the same key signs.
        ag = self.agent("[certs]\nrequire_key_usage = no\n")
        c = self.client(ag)
        self.login(c)
        self.sign_ok(c, FIX["keyenc"].sha256)

    def test_ca_bundle(self):
        other_pem = OTHER_CA[0]
        # A bundle of the other CA: the token CA's certificates are
        # untrusted, the other CA's one signs.
        ag = self.agent("[certs]\nca_bundle = %s\n" % other_pem)
        c = self.client(ag)
        for cert in (self.tok.ec_sha256, self.tok.rsa_sha256,
                     FIX["soft"].sha256):
            self.refused(self.sign_call(c, cert), "cert_untrusted", "default")
        # Validity comes before the chain.
        self.refused(self.sign_call(c, FIX["expired"].sha256),
                     "cert_expired", "default")
        self.login(c)
        self.refused(self.sign_call(c, self.tok.ec_sha256), "cert_untrusted",
                     "default")
        self.sign_ok(c, FIX["other"].sha256, ca=other_pem)
        ag.stop()
        # The right bundle: the token CA's certificates sign, the other
        # CA's does not.
        ag = self.agent("[certs]\nca_bundle = %s\n" % self.tok.ca)
        c = self.client(ag)
        self.login(c)
        self.sign_ok(c, self.tok.ec_sha256)
        self.sign_ok(c, self.tok.rsa_sha256)
        self.refused(self.sign_call(c, FIX["other"].sha256), "cert_untrusted",
                     "default")


# ---------------------------------------------------------------------------
# What is signed and how.

class InputTest(PolicyCase):
    def test_blind_digest(self):
        path, data = self.doc(b"a document the agent never sees\n")
        digest = hashlib.sha256(data).digest()
        # Default (user mode, no rule): refused.
        ag = self.agent()
        c = self.client(ag)
        self.login(c)
        self.refused(c.call("sign", {"cert": self.tok.ec_sha256,
                                     "digest_value": b64(digest)}),
                     "input_not_allowed", "default")
        ag.stop()
        # A rule granting digest (and only digest).
        ag = self.agent(root_rule("inputs = digest\n"))
        c = self.client(ag)
        self.login(c)
        for cert in (self.tok.ec_sha256, self.tok.rsa_sha256):
            r = c.result("sign", {"cert": cert, "digest_value": b64(digest)})
            self.assertEqual(r["document_digest"], digest.hex())
            self.verify(r["signature"], path)
            other, _ = self.doc(b"another document\n")
            sig = path + ".sig"
            self.assertFalse(openssl_verify(sig, other, self.tok.ca))
        d384 = hashlib.sha384(data).digest()
        r = c.result("sign", {"cert": self.tok.ec_sha256, "digest": "sha384",
                              "digest_value": b64(d384)})
        self.verify(r["signature"], path)
        # A digest of the wrong length for its algorithm.
        data_ = expect_error(c.call("sign", {"cert": self.tok.ec_sha256,
                                             "digest_value": b64(d384)}),
                             E_INVALID_PARAMS, "invalid_params")
        self.assertEqual(data_.get("param"), "digest_value")
        # The document itself is not granted by this rule.
        self.refused(self.sign_call(c, self.tok.ec_sha256),
                     "input_not_allowed", "root")

    def test_digest_not_allowed(self):
        ag = self.agent(root_rule("digests = sha384\n"))
        c = self.client(ag)
        self.login(c)
        self.refused(self.sign_call(c, self.tok.ec_sha256, digest="sha256"),
                     "digest_not_allowed", "root")
        self.refused(self.sign_call(c, self.tok.ec_sha256),
                     "digest_not_allowed", "root")  # sha256 by default
        self.refused(self.sign_call(c, self.tok.rsa_sha256, digest="sha512"),
                     "digest_not_allowed", "root")
        r = self.sign_ok(c, self.tok.ec_sha256, digest="sha384")
        self.assertEqual(r["digest"], "sha384")
        self.sign_ok(c, self.tok.rsa_sha256, digest="sha384")
        # SHA-1 is not a digest the protocol knows at all.
        expect_error(self.sign_call(c, self.tok.ec_sha256, digest="sha1"),
                     E_INVALID_PARAMS, "unsupported_digest")

    def test_max_batch(self):
        ag = self.agent(root_rule("max_batch = 3\n"))
        c = self.client(ag)
        self.login(c)
        docs = [self.doc() for _ in range(4)]
        self.refused(c.call("sign", {"cert": self.tok.ec_sha256, "documents": [
            {"data": b64(d)} for _, d in docs]}), "batch_too_large", "root")
        r = c.result("sign", {"cert": self.tok.ec_sha256, "documents": [
            {"data": b64(d)} for _, d in docs[:3]]})
        self.assertEqual(len(r["results"]), 3)
        for (path, _), res in zip(docs, r["results"]):
            self.verify(res["signature"], path)

    def too_large(self, reply, document=None):
        """document_too_large as docs/protocol.md has it: -32001,
        data.max_size, data.document in a batch, data.rule; no result."""
        data = expect_error(reply, E_REFUSED, "document_too_large")
        self.assertNotIn("result", reply)
        self.assertEqual(data.get("max_size"), 1024, data)
        if document is not None:
            self.assertEqual(data.get("document"), document, data)
        self.assertEqual(data.get("rule"), "root", data)

    def test_max_size_inline(self):
        """Inline documents over max_size are refused with data.max_size,
        and data.document in a batch."""
        ag = self.agent(root_rule("max_size = 1K\n"))
        c = self.client(ag)
        self.login(c)
        for n in (1, 1000, 1022, 1023):
            r = self.sign_ok_size(c, n)
            self.assertEqual(r["document_size"], n)
        replies = [(n, self.sign_call_size(c, n)) for n in (1025, 1026, 4096)]
        _, small = self.doc(b"small")
        _, big = self.doc(b"b" * 1025)
        batch = c.call("sign", {"cert": self.tok.ec_sha256, "documents": [
            {"data": b64(small)}, {"data": b64(big)}]})
        for n, r in replies:
            with self.subTest(size=n):
                self.too_large(r)
        with self.subTest(batch=True):
            self.too_large(batch, document=1)

    def test_max_size_inline_exactly(self):
        """A document of exactly max_size bytes is within it, inline as
        by descriptor (1024 bytes: base64 with padding)."""
        ag = self.agent(root_rule("max_size = 1K\n"))
        c = self.client(ag)
        self.login(c)
        r = self.sign_ok_size(c, 1024)
        self.assertEqual(r["document_size"], 1024)
        r = self.sign_fd(c, [self._last])
        self.assertIn("result", r, r)

    def test_max_size_fd(self):
        """By descriptor, the size is checked as the document streams."""
        ag = self.agent(root_rule("max_size = 1K\n"))
        c = self.client(ag)
        self.login(c)
        ok, _ = self.doc(b"o" * 1024)
        big, _ = self.doc(b"b" * 2000)
        r = self.sign_fd(c, [ok])
        self.assertEqual(r["result"]["document_size"], 1024, r)
        self.verify(r["result"]["signature"], ok)
        one = self.sign_fd(c, [big])
        batch = self.sign_fd(c, [ok, ok, big], batch=True)
        # The connection and the login are fine afterwards.
        self.sign_ok(c, self.tok.ec_sha256)
        with self.subTest(batch=False):
            self.too_large(one)
        with self.subTest(batch=True):
            self.too_large(batch, document=2)

    def test_max_size_fd_streaming(self):
        """signet.conf(5): "a document passed by descriptor is checked as
        it streams": a pipe that has sent more than max_size is refused
        without waiting for its end."""
        ag = self.agent(root_rule("max_size = 1K\n"))
        c = self.client(ag, timeout=5)
        self.login(c)
        r, w = os.pipe()
        try:
            os.write(w, b"p" * 4096)  # and the pipe stays open
            try:
                reply = c.call("sign", {"cert": self.tok.ec_sha256, "fd": 0},
                               fds=[r])
            except OSError as e:  # socket.timeout
                self.fail("no answer in 5 s while the pipe, 4096 bytes "
                          "over a 1024-byte max_size, stays open: %s" % e)
        finally:
            os.close(r)
            os.close(w)
        self.too_large(reply)

    def sign_call_size(self, c, n):
        path, data = self.doc(bytes((i * 7) & 0xff for i in range(n)))
        self._last = path
        return c.call("sign", {"cert": self.tok.ec_sha256, "data": b64(data)})

    def sign_ok_size(self, c, n):
        r = self.sign_call_size(c, n)
        self.assertIn("result", r, "a %d-byte document under max_size = 1K:"
                      " %r" % (n, r))
        self.verify(r["result"]["signature"], self._last)
        return r["result"]

    def sign_fd(self, c, paths, batch=False):
        fds = [os.open(p, os.O_RDONLY) for p in paths]
        try:
            if batch:
                params = {"cert": self.tok.ec_sha256,
                          "documents": [{"fd": i} for i in range(len(fds))]}
            else:
                params = {"cert": self.tok.ec_sha256, "fd": 0}
            return c.call("sign", params, fds=fds)
        finally:
            for fd in fds:
                os.close(fd)


# ---------------------------------------------------------------------------
# How long a login lasts.

class LoginTest(PolicyCase):
    def logged_in(self, c):
        return c.result("tokens.list")["tokens"][0]["logged_in"]

    def until_refused(self, c, limit):
        """Signs every 0.5 s until auth_required; returns the seconds it
        took. Each signature before it must verify."""
        t0 = time.monotonic()
        while True:
            r = self.sign_call(c, self.tok.ec_sha256)
            if "error" in r:
                expect_error(r, E_AUTH, "auth_required")
                return time.monotonic() - t0
            self.assertLess(time.monotonic() - t0, limit,
                            "still signing after %.1f s" % limit)
            time.sleep(0.5)

    def test_login_ttl(self):
        ag = self.agent("[login]\nttl = 2s\n")
        s = self.subscriber(ag)
        c = self.client(ag)
        self.login(c)
        t_login = time.monotonic()
        self.sign_ok(c, self.tok.ec_sha256)
        # Signing all along does not extend a ttl.
        self.until_refused(c, 5)
        took = time.monotonic() - t_login
        self.assertTrue(1.0 <= took <= 4.0, "logged out %.1f s after the "
                        "login, with ttl = 2s" % took)
        ev = wait_event(s, "token.logged_out", 5)
        self.assertIsNotNone(ev, "no token.logged_out")
        self.assertEqual(ev["params"]["reason"], "ttl", ev)
        self.assertEqual(ev["params"]["serial"], self.tok.serial, ev)
        self.assertFalse(self.logged_in(c))
        # A new login signs again.
        self.login(c)
        self.sign_ok(c, self.tok.ec_sha256)

    def test_login_ttl_without_signing(self):
        """The brief's sequence: sign, wait 3 s, sign -> auth_required; the
        logout comes by the clock, not by the next request."""
        ag = self.agent("[login]\nttl = 2s\n")
        s = self.subscriber(ag)
        c = self.client(ag)
        self.login(c)
        self.sign_ok(c, self.tok.ec_sha256)
        ev = wait_event(s, "token.logged_out", 4)
        self.assertIsNotNone(ev, "no token.logged_out within 4 s of a "
                             "2 s ttl")
        self.assertEqual(ev["params"]["reason"], "ttl", ev)
        time.sleep(0.5)
        expect_error(self.sign_call(c, self.tok.ec_sha256), E_AUTH,
                     "auth_required")

    def test_login_idle(self):
        ag = self.agent("[login]\nttl = none\nidle = 2s\n")
        s = self.subscriber(ag)
        c = self.client(ag)
        self.login(c)
        # Signing every 0.3 s for 3.5 s keeps an idle timeout of 2 s away
        # (the agent counts whole seconds).
        t0 = time.monotonic()
        while time.monotonic() - t0 < 3.5:
            r = self.sign_call(c, self.tok.ec_sha256)
            self.assertIn("result", r, "%.1f s after the login: %r"
                          % (time.monotonic() - t0, r))
            time.sleep(0.3)
        self.sign_ok(c, self.tok.ec_sha256)
        self.assertTrue(self.logged_in(c))
        self.assertIsNone(wait_event(s, "token.logged_out", 0.1))
        ev = wait_event(s, "token.logged_out", 4)
        self.assertIsNotNone(ev, "no token.logged_out after 2 s idle")
        self.assertEqual(ev["params"]["reason"], "idle", ev)
        expect_error(self.sign_call(c, self.tok.ec_sha256), E_AUTH,
                     "auth_required")
        self.login(c)
        self.sign_ok(c, self.tok.ec_sha256)

    def test_login_max_signatures(self):
        ag = self.agent("[login]\nmax_signatures = 2\n")
        s = self.subscriber(ag)
        c = self.client(ag)
        self.login(c)
        self.sign_ok(c, self.tok.ec_sha256)
        self.sign_ok(c, self.tok.rsa_sha256)
        expect_error(self.sign_call(c, self.tok.ec_sha256), E_AUTH,
                     "auth_required")
        ev = wait_event(s, "token.logged_out", 5)
        self.assertIsNotNone(ev, "no token.logged_out")
        self.assertEqual(ev["params"]["reason"], "max_signatures", ev)
        self.assertFalse(self.logged_in(c))
        # A batch larger than the limit never passes.
        self.login(c)
        one = {"data": b64(b"x")}
        self.refused(c.call("sign", {"cert": self.tok.ec_sha256,
                                     "documents": [one] * 3}),
                     "batch_too_large", "default")
        # One signature, then a batch of two would cross the limit: the
        # login ends before it, and the batch is not split.
        self.sign_ok(c, self.tok.ec_sha256)
        expect_error(c.call("sign", {"cert": self.tok.ec_sha256,
                                     "documents": [one] * 2}),
                     E_AUTH, "auth_required")
        ev = wait_event(s, "token.logged_out", 5)
        self.assertEqual((ev or {}).get("params", {}).get("reason"),
                         "max_signatures", ev)
        # A fresh login takes the whole batch.
        self.login(c)
        r = c.result("sign", {"cert": self.tok.ec_sha256,
                              "documents": [one] * 2})
        self.assertEqual(len(r["results"]), 2)

    def test_agent_lock(self):
        ag = self.agent()
        s = self.subscriber(ag)
        c = self.client(ag)
        self.login(c)
        self.sign_ok(c, self.tok.ec_sha256)
        self.assertEqual(c.result("agent.lock"), {"logged_out": 1})
        ev = wait_event(s, "token.logged_out", 5)
        self.assertEqual((ev or {}).get("params", {}).get("reason"), "lock",
                         ev)
        expect_error(self.sign_call(c, self.tok.ec_sha256), E_AUTH,
                     "auth_required")


# ---------------------------------------------------------------------------
# Batches.

class BatchTest(PolicyCase):
    def test_batch_of_100_under_one_login(self):
        """100 documents (half inline, half by descriptor), one request, one
        login (max_signatures = 100: the batch uses it up exactly)."""
        ag = self.agent("[login]\nmax_signatures = 100\n")
        s = self.subscriber(ag)
        c = self.client(ag, timeout=120)
        self.login(c)
        ev = wait_event(s, "token.logged_in", 5)
        self.assertIsNotNone(ev)
        docs = [self.doc(b"batch document %03d\n" % i + os.urandom(i * 13))
                for i in range(100)]
        fds = [os.open(p, os.O_RDONLY) for p, _ in docs[50:]]
        try:
            r = c.call("sign", {
                "cert": self.tok.rsa_sha256,
                "documents": [{"data": b64(d)} for _, d in docs[:50]] +
                             [{"fd": i} for i in range(50)]}, fds=fds)
        finally:
            for fd in fds:
                os.close(fd)
        self.assertIn("result", r, r)
        results = r["result"]["results"]
        self.assertEqual(len(results), 100)
        sigs = []
        for (path, data), res in zip(docs, results):
            self.assertEqual(res["document_digest"],
                             hashlib.sha256(data).hexdigest())
            self.assertEqual(res["document_size"], len(data))
            sigs.append(self.verify(res["signature"], path))
        # Each signature is of its own document.
        self.assertFalse(openssl_verify(sigs[0], docs[1][0], self.tok.ca))
        # No other login or logout happened during the batch.
        self.assertIsNone(wait_event(s, "token.logged_in", 0.2))
        self.assertTrue(c.result("tokens.list")["tokens"][0]["logged_in"])
        # The batch counted 100 signatures.
        expect_error(self.sign_call(c, self.tok.rsa_sha256), E_AUTH,
                     "auth_required")
        ev = wait_event(s, "token.logged_out", 5)
        self.assertEqual((ev or {}).get("params", {}).get("reason"),
                         "max_signatures", ev)


def p11count_module():
    p = os.path.join(build_dir(), "lib", "p11count.so")
    return p if os.path.exists(p) else None


class AlwaysAuthTest(PolicyCase):
    """A CKA_ALWAYS_AUTHENTICATE key on a token of its own (a wrong PIN
    changes the token's counters)."""

    @classmethod
    def setUpClass(cls):
        cls.tok = PolicyToken(label="signet-aa")
        try:
            cls.aa = cls.tok.add_always_auth("05", "aa")
        except BaseException:
            cls.tok.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.tok.cleanup()

    def logins(self):
        """Lines of p11count's log that are "login USERTYPE RV", one per
        C_Login (it also logs session opens and key searches)."""
        try:
            with open(self.count_log) as f:
                return [ln for ln in f.read().splitlines()
                        if ln.startswith("login ")]
        except FileNotFoundError:
            return []

    def test_wrong_pin_stops_batch(self):
        counter = p11count_module()
        self.count_log = os.path.join(self.work, "logins.log")
        env = None
        if counter is not None:
            env = dict(os.environ, P11COUNT_MODULE=self.tok.module,
                       P11COUNT_LOG=self.count_log)
        ag = self.agent(None, modules=[counter or self.tok.module], env=env)
        c = self.client(ag)
        self.login(c)
        docs = [self.doc() for _ in range(10)]
        batch = [{"data": b64(d)} for _, d in docs]
        # Without a PIN: this key needs one per signature.
        data = expect_error(c.call("sign", {"cert": self.aa.sha256,
                                            "documents": batch}),
                            E_AUTH, "auth_required")
        self.assertEqual(data.get("param"), "pin", data)
        # The right PIN: ten signatures.
        r = c.result("sign", {"cert": self.aa.sha256, "documents": batch,
                              "pin": self.tok.pin})
        self.assertEqual(len(r["results"]), 10)
        for (path, _), res in zip(docs, r["results"]):
            self.verify(res["signature"], path)
        if counter is not None:
            self.assertEqual(self.logins(),
                             ["login 1 0x0"] + ["login 2 0x0"] * 10)
        before = len(self.logins())
        # A wrong PIN: the batch stops, no signature, one attempt.
        wrong = "0" * len(self.tok.pin)
        r = c.call("sign", {"cert": self.aa.sha256, "documents": batch,
                            "pin": wrong})
        data = expect_error(r, E_AUTH, "pin_incorrect")
        self.assertNotIn("result", r)
        self.assertNotIn("signature", repr(r))
        self.assertEqual(data.get("document"), 0, data)
        pin = data.get("pin")
        self.assertIsInstance(pin, dict, data)
        self.assertEqual(sorted(pin), ["pin_count_low", "pin_final_try",
                                       "pin_locked"])
        self.assertFalse(pin["pin_locked"], data)
        if counter is not None:
            self.assertEqual(self.logins()[before:], ["login 2 0xa0"],
                             "one context-specific login, CKR_PIN_INCORRECT")
        tok = c.result("tokens.list")["tokens"][0]
        self.assertFalse(tok["pin_locked"], tok)
        self.assertTrue(tok["logged_in"], tok)
        # The same for a single document.
        expect_error(c.call("sign", {"cert": self.aa.sha256, "data": "eA==",
                                     "pin": wrong}), E_AUTH, "pin_incorrect")
        if counter is not None:
            self.assertEqual(self.logins()[before:],
                             ["login 2 0xa0"] * 2)
        # Nothing was retried or locked: the right PIN signs again.
        r = c.result("sign", {"cert": self.aa.sha256, "documents": batch[:2],
                              "pin": self.tok.pin})
        self.assertEqual(len(r["results"]), 2)


# ---------------------------------------------------------------------------
# The file.

class ConfigTest(PolicyCase):
    def signetd(self, args, timeout=15):
        return subprocess.run(
            [os.path.join(build_dir(), "bin", "signetd")] + args,
            stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=timeout, env=self.tok.env(
                dict(os.environ, XDG_RUNTIME_DIR=self.work)))

    def test_sha1_refused_at_start(self):
        bad = self.conf("[agent]\nmode = user\n\n[rule root]\nuser = root\n"
                        "digests = sha256, sha1\n", "sha1.conf")
        want = "%s:6: digests: SHA-1" % bad
        p = self.signetd(["--foreground", "--socket",
                          os.path.join(self.work, "s.sock"), "--module",
                          self.tok.module, "--audit-dir",
                          os.path.join(self.work, "audit"), "--config", bad])
        self.assertEqual(p.returncode, EX_CONFIG, p.stderr)
        self.assertIn(want, p.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.work, "s.sock")))
        p = self.signetd(["--check-config", bad])
        self.assertEqual(p.returncode, EX_CONFIG, p.stderr)
        self.assertIn(want, p.stderr)
        # An unknown key is an error too, with its line.
        typo = self.conf("[login]\nttl = 1h\nidel = 5m\n", "typo.conf")
        p = self.signetd(["--check-config", typo])
        self.assertEqual(p.returncode, EX_CONFIG, p.stderr)
        self.assertIn("%s:3:" % typo, p.stderr)

    def test_check_config_prints_policy(self):
        good = self.conf(SYSTEM + "[login]\nttl = 2h\n\n" +
                         "[rule signers]\nuser = root\ndigests = sha384\n"
                         "rate = 20/m\n", "good.conf")
        p = self.signetd(["--check-config", good])
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout
        for want in ("(system mode)", "[rule signers]",
                     "defined at %s:7" % good, "ttl = 2h",
                     "digests = sha384", "max_batch = none",
                     "effective max_batch: 20",
                     "When no rule matches: deny"):
            self.assertIn(want, out)
        self.assertRegex(out, r"(?m)^rate = 20/(1m|60s|m)$")


class ReloadTest(PolicyCase):
    def test_sighup_reload(self):
        first = SYSTEM + root_rule("certs = sha256:%s\n" % self.tok.rsa_sha256)
        ag = self.agent(first)
        c = self.client(ag)
        self.login(c)
        self.sign_ok(c, self.tok.rsa_sha256)
        self.refused(self.sign_call(c, self.tok.ec_sha256),
                     "cert_not_allowed", "root")
        # A change takes effect on the same connection.
        self.replace_conf(ag.conf, SYSTEM + root_rule())
        ag.proc.send_signal(signal.SIGHUP)
        wait_log(ag, "reload: policy from %s in force" % ag.conf)
        self.sign_ok(c, self.tok.ec_sha256)
        # A broken file keeps the policy in force, and the log says why.
        self.replace_conf(ag.conf, SYSTEM + root_rule("colour = blue\n"))
        ag.proc.send_signal(signal.SIGHUP)
        log = wait_log(ag, "the old policy stays in force")
        self.assertIn("%s:7:" % ag.conf, log)
        self.assertIn("colour", log)
        self.assertIsNone(ag.proc.poll())
        self.sign_ok(c, self.tok.ec_sha256)
        self.sign_ok(self.client(ag), self.tok.ec_sha256)
        # So does a file that has gone.
        os.unlink(ag.conf)
        n = ag.log().count("the old policy stays in force")
        ag.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while ag.log().count("the old policy stays in force") == n:
            self.assertLess(time.monotonic(), deadline, ag.log())
            time.sleep(0.05)
        self.sign_ok(c, self.tok.ec_sha256)


if __name__ == "__main__":
    unittest.main(verbosity=2)
