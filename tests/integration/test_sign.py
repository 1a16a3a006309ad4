#!/usr/bin/env python3
"""Integration: signatures from a real signetd on a private SoftHSM2 token.

For the RSA-2048 and the EC P-256 key: sign through a raw protocol client
(inline base64 and by descriptor; sha256/sha384/sha512; DER and PEM) and
through the signet CLI; every signature is checked by `openssl cms -verify`
against the test CA, its CAdES-BES signed attributes are decoded and
compared with what they must hold, and a tampered document must fail.
"""

import base64
import calendar
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "lib"))
from agent import (Agent, Client, Token, openssl_verify,  # noqa: E402
                   signet)

OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
OID_DATA = "1.2.840.113549.1.7.1"
OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"
OID_SIGNING_TIME = "1.2.840.113549.1.9.5"
OID_SIGNING_CERT_V2 = "1.2.840.113549.1.9.16.2.47"
OID_RSA = "1.2.840.113549.1.1.1"
OID_DIGEST = {"sha256": "2.16.840.1.101.3.4.2.1",
              "sha384": "2.16.840.1.101.3.4.2.2",
              "sha512": "2.16.840.1.101.3.4.2.3"}
OID_ECDSA = {"sha256": "1.2.840.10045.4.3.2",
             "sha384": "1.2.840.10045.4.3.3",
             "sha512": "1.2.840.10045.4.3.4"}

DIGESTS = ("sha256", "sha384", "sha512")
FORMATS = ("der", "pem")

# Exit codes of signet(1) (client/exit.h).
EXIT_AUTH = 66
EXIT_VERIFY = 68


# ---------------------------------------------------------------------------
# A minimal strict DER reader: enough to check the signed attributes with
# our own eyes rather than trusting one more OpenSSL printout.

def der_read(buf, off=0):
    """(tag, value, next offset) of the TLV at off; definite lengths only."""
    if off + 2 > len(buf):
        raise ValueError("truncated TLV header at %d" % off)
    tag = buf[off]
    if tag & 0x1f == 0x1f:
        raise ValueError("high tag number at %d" % off)
    n = buf[off + 1]
    off += 2
    if n & 0x80:
        k = n & 0x7f
        if k == 0 or k > 4:
            raise ValueError("bad length form at %d" % off)
        n = int.from_bytes(buf[off:off + k], "big")
        off += k
    if off + n > len(buf):
        raise ValueError("TLV overruns its container at %d" % off)
    return tag, buf[off:off + n], off + n


def der_items(content):
    """The TLVs of a constructed value, in order, as (tag, value)."""
    out, off = [], 0
    while off < len(content):
        tag, val, off = der_read(content, off)
        out.append((tag, val))
    return out


def der_whole(buf):
    tag, val, end = der_read(buf)
    if end != len(buf):
        raise ValueError("%d bytes after the outer TLV" % (len(buf) - end))
    return tag, val


def oid_str(b):
    vals, v = [], 0
    for x in b:
        v = (v << 7) | (x & 0x7f)
        if not x & 0x80:
            vals.append(v)
            v = 0
    first = min(vals[0] // 40, 2)
    return ".".join(str(x) for x in [first, vals[0] - 40 * first] + vals[1:])


def parse_cms(der):
    """The parts of a detached CMS SignedData with one signer we check."""
    tag, ci = der_whole(der)
    assert tag == 0x30, "ContentInfo is not a SEQUENCE"
    (t_oid, ctype), (t_ctx, wrapped) = der_items(ci)
    assert t_oid == 0x06 and oid_str(ctype) == OID_SIGNED_DATA
    assert t_ctx == 0xa0
    tag, sd = der_whole(wrapped)
    assert tag == 0x30
    items = der_items(sd)
    out = {"version": int.from_bytes(items[0][1], "big")}
    assert items[0][0] == 0x02
    assert items[1][0] == 0x31, "digestAlgorithms is not a SET"
    out["digest_algs"] = [oid_str(der_items(a)[0][1])
                          for _, a in der_items(items[1][1])]
    eci = der_items(items[2][1])
    out["econtent_type"] = oid_str(eci[0][1])
    out["econtent_present"] = len(eci) > 1
    rest = items[3:]
    out["certs"] = []
    if rest and rest[0][0] == 0xa0:
        # Each certificate, re-encoded as the DER it was sent as.
        off, raw = 0, rest[0][1]
        while off < len(raw):
            _, _, end = der_read(raw, off)
            out["certs"].append(raw[off:end])
            off = end
        rest = rest[1:]
    if rest and rest[0][0] == 0xa1:
        rest = rest[1:]
    assert len(rest) == 1 and rest[0][0] == 0x31, "signerInfos SET"
    signers = der_items(rest[0][1])
    out["signers"] = len(signers)
    si = der_items(signers[0][1])
    out["si_version"] = int.from_bytes(si[0][1], "big")
    out["sid_tag"] = si[1][0]
    out["si_digest"] = oid_str(der_items(si[2][1])[0][1])
    assert si[3][0] == 0xa0, "signedAttrs missing"
    attrs = {}
    for t, a in der_items(si[3][1]):
        assert t == 0x30
        (t_o, o), (t_s, vals) = der_items(a)
        assert t_o == 0x06 and t_s == 0x31
        values = der_items(vals)
        name = oid_str(o)
        assert name not in attrs, "attribute %s twice" % name
        attrs[name] = values
    out["attrs"] = attrs
    out["sig_alg"] = oid_str(der_items(si[4][1])[0][1])
    assert si[5][0] == 0x04
    out["signature"] = si[5][1]
    return out


def der_time(tag, val):
    s = val.decode("ascii")
    if tag == 0x17:     # UTCTime YYMMDDhhmmssZ
        m = re.fullmatch(r"(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z", s)
        y = int(m.group(1))
        y += 2000 if y < 50 else 1900
    elif tag == 0x18:   # GeneralizedTime YYYYMMDDhhmmssZ
        m = re.fullmatch(r"(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z", s)
        y = int(m.group(1))
    else:
        raise AssertionError("signingTime has tag %#x" % tag)
    g = [int(x) for x in m.groups()[1:]]
    return calendar.timegm((y, g[0], g[1], g[2], g[3], g[4], 0, 0, 0))


def pem_to_der(text):
    m = re.fullmatch(r"-----BEGIN (CMS|PKCS7)-----\n(.*)-----END \1-----\n?",
                     text, re.S)
    if m is None:
        raise AssertionError("not one PEM CMS block: %r" % text[:80])
    return base64.b64decode("".join(m.group(2).split()))


def cert_der(pem_path):
    with open(pem_path) as f:
        return pem_to_der_cert(f.read())


def pem_to_der_cert(text):
    body = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE",
                     text, re.S).group(1)
    return base64.b64decode("".join(body.split()))


def openssl_print(sig_path, inform="DER"):
    p = subprocess.run(["openssl", "cms", "-cmsout", "-print", "-inform",
                        inform, "-in", sig_path], capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    if p.returncode != 0:
        raise AssertionError("openssl cms -print failed: " + p.stderr)
    return p.stdout


def openssl_verify_pem(sig_path, doc_path, ca_path):
    p = subprocess.run(
        ["openssl", "cms", "-verify", "-binary", "-inform", "PEM",
         "-in", sig_path, "-content", doc_path, "-CAfile", ca_path,
         "-purpose", "any", "-out", "/dev/null"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    return p.returncode == 0


# ---------------------------------------------------------------------------

TOKEN = None


def setUpModule():
    global TOKEN
    TOKEN = Token()


def tearDownModule():
    if TOKEN is not None:
        TOKEN.cleanup()


class KeyInfo:
    def __init__(self, kind, sha256, cert_pem, uri):
        self.kind = kind
        self.sha256 = sha256
        self.cert_pem = cert_pem
        self.cert_der = cert_der(cert_pem)
        self.uri = uri


class SignCase(unittest.TestCase):
    """An agent of its own on the module's token, and a scratch dir."""

    login = True

    @classmethod
    def setUpClass(cls):
        cls.tok = TOKEN
        cls.work = tempfile.mkdtemp(prefix="signet-it-sign-")
        cls.agent = Agent(token=cls.tok)
        try:
            with Client(cls.agent.socket) as c:
                certs = c.result("certs.list")["certs"]
                by_sha = {ce["sha256"]: ce for ce in certs}
                cls.keys = [
                    KeyInfo("rsa", cls.tok.rsa_sha256, cls.tok.rsa_cert,
                            by_sha[cls.tok.rsa_sha256]["uri"]),
                    KeyInfo("ec", cls.tok.ec_sha256, cls.tok.ec_cert,
                            by_sha[cls.tok.ec_sha256]["uri"]),
                ]
                if cls.login:
                    r = c.result("token.login", {"pin": cls.tok.pin})
                    assert r["logged_in"] is True, r
        except BaseException:
            cls.agent.kill()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.agent.stop()
        finally:
            shutil.rmtree(cls.work, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.work, name)

    def write(self, name, data):
        p = self.path(name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def check_signature(self, key, digest, doc, doc_path, sig_der,
                        result=None, tag=""):
        """Everything a returned signature must satisfy."""
        what = "%s %s %s" % (key.kind, digest, tag)
        h = hashlib.new(digest, doc)
        if result is not None:
            self.assertEqual(result["digest"], digest, what)
            self.assertEqual(result["document_digest"], h.hexdigest(), what)
            self.assertEqual(result["document_size"], len(doc), what)
        sig_path = doc_path + ".%s.%s.sig" % (key.kind, digest)
        with open(sig_path, "wb") as f:
            f.write(sig_der)
        self.assertTrue(openssl_verify(sig_path, doc_path, self.tok.ca),
                        "openssl cms -verify rejected " + what)

        cms = parse_cms(sig_der)
        self.assertEqual(cms["version"], 1, what)
        self.assertEqual(cms["digest_algs"], [OID_DIGEST[digest]], what)
        self.assertEqual(cms["econtent_type"], OID_DATA, what)
        self.assertFalse(cms["econtent_present"], "not detached: " + what)
        self.assertIn(key.cert_der, cms["certs"],
                      "signer certificate not included: " + what)
        self.assertEqual(cms["signers"], 1, what)
        self.assertEqual(cms["si_version"], 1, what)
        self.assertEqual(cms["sid_tag"], 0x30,
                         "signer not by issuer and serial: " + what)
        self.assertEqual(cms["si_digest"], OID_DIGEST[digest], what)
        if key.kind == "rsa":
            self.assertEqual(cms["sig_alg"], OID_RSA, what)
        else:
            self.assertEqual(cms["sig_alg"], OID_ECDSA[digest], what)

        attrs = cms["attrs"]
        self.assertEqual(sorted(attrs), sorted([
            OID_CONTENT_TYPE, OID_MESSAGE_DIGEST, OID_SIGNING_TIME,
            OID_SIGNING_CERT_V2]), what)
        for oid, values in attrs.items():
            self.assertEqual(len(values), 1, "%s: %s values" % (what, oid))
        ct_tag, ct = attrs[OID_CONTENT_TYPE][0]
        self.assertEqual((ct_tag, oid_str(ct)), (0x06, OID_DATA), what)
        md_tag, md = attrs[OID_MESSAGE_DIGEST][0]
        self.assertEqual(md_tag, 0x04, what)
        self.assertEqual(md, h.digest(), "messageDigest: " + what)
        t = der_time(*attrs[OID_SIGNING_TIME][0])
        self.assertLess(abs(t - time.time()), 300,
                        "signingTime far from now: " + what)
        # SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2,
        # ...}; ESSCertIDv2 ::= SEQUENCE { hashAlgorithm DEFAULT sha256,
        # certHash OCTET STRING, issuerSerial OPTIONAL }
        sc_tag, sc = attrs[OID_SIGNING_CERT_V2][0]
        self.assertEqual(sc_tag, 0x30, what)
        ids = der_items(der_items(sc)[0][1])
        self.assertGreaterEqual(len(ids), 1, what)
        ess = der_items(ids[0][1])
        alg = "sha256"
        if ess[0][0] == 0x30:
            alg_oid = oid_str(der_items(ess[0][1])[0][1])
            alg = {v: k for k, v in OID_DIGEST.items()}[alg_oid]
            ess = ess[1:]
        self.assertEqual(ess[0][0], 0x04, what)
        self.assertEqual(ess[0][1], hashlib.new(alg, key.cert_der).digest(),
                         "signingCertificateV2 hash: " + what)

        text = openssl_print(sig_path)
        for name in ("contentType", "signingTime", "messageDigest"):
            self.assertIn("object: %s" % name, text, what)
        self.assertTrue("id-smime-aa-signingCertificateV2" in text or
                        OID_SIGNING_CERT_V2 in text, what)

        # One changed byte (or one more) and the signature must not hold.
        if doc:
            bad = bytearray(doc)
            bad[len(bad) // 2] ^= 0x01
        else:
            bad = bytearray(b"x")
        bad_path = doc_path + ".tampered"
        with open(bad_path, "wb") as f:
            f.write(bytes(bad))
        self.assertFalse(openssl_verify(sig_path, bad_path, self.tok.ca),
                         "openssl accepted a tampered document: " + what)
        return sig_path


class RawSignTest(SignCase):
    """Signing through a raw socket client."""

    def sig_der(self, result, fmt):
        self.assertEqual(result["format"], fmt)
        if fmt == "pem":
            self.assertTrue(result["signature"].startswith("-----BEGIN "),
                            result["signature"][:40])
            return pem_to_der(result["signature"])
        return base64.b64decode(result["signature"], validate=True)

    def test_inline_all_digests_formats(self):
        doc = os.urandom(10000) + "Grüße, Signet\n".encode()
        doc_path = self.write("inline.bin", doc)
        b64 = base64.b64encode(doc).decode()
        with Client(self.agent.socket) as c:
            for key in self.keys:
                for digest in DIGESTS:
                    for fmt in FORMATS:
                        with self.subTest(key=key.kind, digest=digest,
                                          fmt=fmt):
                            sel = key.sha256 if fmt == "der" else key.uri
                            r = c.result("sign", {
                                "cert": sel, "data": b64, "digest": digest,
                                "format": fmt})
                            der = self.sig_der(r, fmt)
                            sig = self.check_signature(
                                key, digest, doc, doc_path, der, r,
                                "inline " + fmt)
                            if fmt == "pem":
                                pem_path = sig + ".pem"
                                with open(pem_path, "w") as f:
                                    f.write(r["signature"])
                                self.assertTrue(openssl_verify_pem(
                                    pem_path, doc_path, self.tok.ca))

    def test_fd_all_digests_formats(self):
        doc = os.urandom(3 * 1024 * 1024 + 17)  # several read chunks
        doc_path = self.write("byfd.bin", doc)
        with Client(self.agent.socket) as c:
            for key in self.keys:
                for digest in DIGESTS:
                    for fmt in FORMATS:
                        with self.subTest(key=key.kind, digest=digest,
                                          fmt=fmt):
                            sel = key.uri if fmt == "der" else key.sha256
                            fd = os.open(doc_path, os.O_RDONLY)
                            try:
                                r = c.result("sign", {
                                    "cert": sel, "fd": 0, "digest": digest,
                                    "format": fmt}, fds=[fd])
                            finally:
                                os.close(fd)
                            self.check_signature(
                                key, digest, doc, doc_path,
                                self.sig_der(r, fmt), r, "fd " + fmt)

    def test_default_digest_and_format(self):
        doc = b"defaults: sha256 and DER\n"
        doc_path = self.write("defaults.txt", doc)
        with Client(self.agent.socket) as c:
            for key in self.keys:
                r = c.result("sign", {"cert": key.sha256,
                                      "data": base64.b64encode(doc).decode()})
                self.assertEqual((r["digest"], r["format"]),
                                 ("sha256", "der"))
                self.check_signature(key, "sha256", doc, doc_path,
                                     self.sig_der(r, "der"), r, "defaults")

    def test_fd_from_current_position(self):
        """The agent reads a descriptor from where it stands, not from 0."""
        whole = b"HEADER-NOT-SIGNED|" + os.urandom(5000)
        path = self.write("offset.bin", whole)
        doc = whole[18:]
        doc_path = self.write("offset.doc", doc)
        with Client(self.agent.socket) as c:
            for key in self.keys:
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.lseek(fd, 18, os.SEEK_SET)
                    r = c.result("sign", {"cert": key.sha256, "fd": 0},
                                 fds=[fd])
                finally:
                    os.close(fd)
                self.check_signature(key, "sha256", doc, doc_path,
                                     self.sig_der(r, "der"), r, "offset")

    def test_fd_pipe_streamed(self):
        """A pipe is read to its end as the writer produces it."""
        doc = os.urandom(2 * 1024 * 1024 + 5)
        doc_path = self.write("pipe.bin", doc)
        with Client(self.agent.socket) as c:
            for key in self.keys:
                r_fd, w_fd = os.pipe()

                def feed():
                    with os.fdopen(w_fd, "wb") as w:
                        for i in range(0, len(doc), 65536):
                            w.write(doc[i:i + 65536])
                            if i % (512 * 1024) == 0:
                                time.sleep(0.01)

                t = threading.Thread(target=feed, daemon=True)
                try:
                    c.send_raw(json.dumps({
                        "jsonrpc": "2.0", "id": "p-" + key.kind,
                        "method": "sign",
                        "params": {"cert": key.uri, "fd": 0,
                                   "digest": "sha384"}}).encode() + b"\n",
                        fds=[r_fd])
                finally:
                    os.close(r_fd)
                t.start()
                reply = c.recv()
                t.join(30)
                self.assertEqual(reply["id"], "p-" + key.kind)
                self.assertIn("result", reply, reply)
                self.check_signature(key, "sha384", doc, doc_path,
                                     self.sig_der(reply["result"], "der"),
                                     reply["result"], "pipe")

    def test_empty_document(self):
        doc_path = self.write("empty.bin", b"")
        with Client(self.agent.socket) as c:
            for key in self.keys:
                fd = os.open(doc_path, os.O_RDONLY)
                try:
                    r = c.result("sign", {"cert": key.sha256, "fd": 0},
                                 fds=[fd])
                finally:
                    os.close(fd)
                self.check_signature(key, "sha256", b"", doc_path,
                                     self.sig_der(r, "der"), r, "empty")

    def test_selector_forms(self):
        """sha256 in any case, with colons or a sha256: prefix; the uri;
        a uri with token= and type= attributes."""
        doc = b"selector forms\n"
        doc_path = self.write("selectors.txt", doc)
        b64 = base64.b64encode(doc).decode()
        with Client(self.agent.socket) as c:
            for key in self.keys:
                colons = ":".join(key.sha256[i:i + 2]
                                  for i in range(0, 64, 2))
                forms = [key.sha256, key.sha256.upper(), colons.upper(),
                         "sha256:" + key.sha256, key.uri,
                         key.uri + ";token=" + self.tok.label,
                         key.uri + ";type=private"]
                for sel in forms:
                    with self.subTest(key=key.kind, selector=sel):
                        r = c.result("sign", {"cert": sel, "data": b64})
                        self.check_signature(key, "sha256", doc, doc_path,
                                             self.sig_der(r, "der"), r,
                                             "selector " + sel)

    def test_concurrent_clients(self):
        """Eight clients sign at once, by descriptor and inline, both keys:
        every signature is over its own document and verifies."""
        nclients, per_client = 8, 4
        docs = {}
        for i in range(nclients):
            for j in range(per_client):
                doc = os.urandom(1000 + 997 * (i * per_client + j))
                docs[(i, j)] = (doc, self.write("conc-%d-%d.bin" % (i, j),
                                                doc))
        results, errors = {}, []

        def run(i):
            try:
                with Client(self.agent.socket) as c:
                    for j in range(per_client):
                        key = self.keys[(i + j) % 2]
                        doc, path = docs[(i, j)]
                        if j % 2:
                            params = {"cert": key.sha256,
                                      "data": base64.b64encode(doc).decode()}
                            fds = []
                        else:
                            params = {"cert": key.uri, "fd": 0}
                            fds = [os.open(path, os.O_RDONLY)]
                        try:
                            results[(i, j)] = (key, c.result("sign", params,
                                                             fds=fds))
                        finally:
                            for fd in fds:
                                os.close(fd)
            except BaseException as e:
                errors.append((i, e))

        threads = [threading.Thread(target=run, args=(i,), daemon=True)
                   for i in range(nclients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        self.assertEqual(len(results), nclients * per_client)
        for (i, j), (key, r) in sorted(results.items(), key=lambda kv:
                                       kv[0]):
            doc, path = docs[(i, j)]
            self.assertEqual(r["document_digest"],
                             hashlib.sha256(doc).hexdigest(), (i, j))
            sig = path + ".sig"
            with open(sig, "wb") as f:
                f.write(base64.b64decode(r["signature"]))
            self.assertTrue(openssl_verify(sig, path, self.tok.ca), (i, j))

    def test_certs_list_fields(self):
        with Client(self.agent.socket) as c:
            certs = c.result("certs.list")["certs"]
            self.assertEqual(len(certs), 2, certs)
            self.assertEqual(
                certs, c.result("certs.list",
                                {"token": self.tok.serial})["certs"])
        check_cert_entries(self, certs, self.tok)


def openssl_cert_field(pem_path, opt):
    p = subprocess.run(["openssl", "x509", "-noout", opt, "-in", pem_path],
                       capture_output=True, text=True, check=True,
                       timeout=30)
    return p.stdout.strip().partition("=")[2]


def check_cert_entries(tc, certs, tok):
    """certs.list entries (raw or from `signet certs --json`) against the
    certificates mktoken.sh made."""
    iso = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
    by_sha = {ce["sha256"]: ce for ce in certs}
    tc.assertEqual(sorted(by_sha), sorted([tok.rsa_sha256, tok.ec_sha256]))
    for sha, pem, kind, oid_id, label in (
            (tok.rsa_sha256, tok.rsa_cert, "rsa", "%01", "rsa"),
            (tok.ec_sha256, tok.ec_cert, "ec", "%02", "ec")):
        ce = by_sha[sha]
        tc.assertEqual(ce["uri"], "pkcs11:serial=%s;id=%s"
                       % (tok.serial, oid_id))
        tc.assertEqual(ce["token"], tok.serial)
        tc.assertEqual(ce["label"], label)
        tc.assertEqual(ce["subject"], "CN=Signet Demo %s,O=Signet Demo"
                       % kind.upper())
        tc.assertEqual(ce["issuer"], "CN=Signet Demo CA,O=Signet Demo")
        tc.assertEqual(int(ce["serial"], 16),
                       int(openssl_cert_field(pem, "-serial"), 16))
        tc.assertEqual(ce["serial"], ce["serial"].lower())
        for f, opt in (("not_before", "-startdate"),
                       ("not_after", "-enddate")):
            tc.assertRegex(ce[f], iso)
            want = time.strptime(openssl_cert_field(pem, opt),
                                 "%b %d %H:%M:%S %Y GMT")
            tc.assertEqual(ce[f], time.strftime("%Y-%m-%dT%H:%M:%SZ", want))
        tc.assertEqual(ce["key_type"], kind)
        tc.assertEqual(ce["key_usage"], ["digitalSignature",
                                         "nonRepudiation"])
        if kind == "rsa":
            tc.assertEqual(ce["key_bits"], 2048)
            tc.assertNotIn("curve", ce)
        else:
            tc.assertEqual(ce["key_bits"], 256)
            tc.assertEqual(ce["curve"], "prime256v1")


class CliSignTest(SignCase):
    """The signet CLI against the agent (each test logs in as it needs)."""

    login = False

    def cli(self, *args, **kw):
        return signet(list(args), socket_path=self.agent.socket, **kw)

    def cli_login(self):
        r_fd, w_fd = os.pipe()
        os.write(w_fd, (self.tok.pin + "\n").encode())
        os.close(w_fd)
        try:
            p = self.cli("login", "--pin-fd", str(r_fd), pass_fds=[r_fd])
        finally:
            os.close(r_fd)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn(self.tok.pin, p.stdout + p.stderr)

    def new_dir(self, name):
        d = self.path(name)
        os.mkdir(d)
        return d

    def test_cli_login_sign_verify(self):
        self.cli_login()
        d = self.new_dir("cli1")
        for key in self.keys:
            doc = ("CLI document for %s\n" % key.kind).encode() * 100
            doc_path = os.path.join(d, "doc-%s.txt" % key.kind)
            with open(doc_path, "wb") as f:
                f.write(doc)
            p = self.cli("sign", "--cert", key.sha256, doc_path)
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(doc_path + ".sig", "rb") as f:
                der = f.read()
            self.check_signature(key, "sha256", doc, doc_path, der,
                                 tag="cli")

            p = self.cli("verify", doc_path, doc_path + ".sig",
                         "--ca", self.tok.ca)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("Signet Demo %s" % key.kind.upper(), p.stdout)
            self.assertIn("sha256", p.stdout.lower())

            bad = os.path.join(d, "bad-%s.txt" % key.kind)
            with open(bad, "wb") as f:
                f.write(doc[:-1] + b"!")
            p = self.cli("verify", bad, doc_path + ".sig",
                         "--ca", self.tok.ca)
            self.assertEqual(p.returncode, EXIT_VERIFY, p.stdout + p.stderr)
            self.assertTrue(p.stderr.strip(), "no message on failure")

    def test_cli_sign_two_files_by_uri(self):
        self.cli_login()
        d = self.new_dir("cli2")
        docs = []
        for i in range(2):
            doc = os.urandom(70000 + i)
            p = os.path.join(d, "file%d.bin" % i)
            with open(p, "wb") as f:
                f.write(doc)
            docs.append((p, doc))
        for key in self.keys:
            p = self.cli("sign", "--cert", key.uri, "--digest", "sha512",
                         docs[0][0], docs[1][0])
            self.assertEqual(p.returncode, 0, p.stderr)
            for path, doc in docs:
                with open(path + ".sig", "rb") as f:
                    self.check_signature(key, "sha512", doc, path, f.read(),
                                         tag="cli two files")
                os.unlink(path + ".sig")

    def test_cli_sign_pem_output(self):
        self.cli_login()
        d = self.new_dir("cli3")
        doc = b"PEM through the CLI\n"
        doc_path = os.path.join(d, "doc.txt")
        out = os.path.join(d, "out.pem")
        with open(doc_path, "wb") as f:
            f.write(doc)
        key = self.keys[1]
        p = self.cli("sign", "--cert", key.sha256, "--pem", "-o", out,
                     doc_path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertFalse(os.path.exists(doc_path + ".sig"))
        self.assertTrue(openssl_verify_pem(out, doc_path, self.tok.ca))
        with open(out) as f:
            self.check_signature(key, "sha256", doc, doc_path,
                                 pem_to_der(f.read()), tag="cli pem")
        p = self.cli("verify", doc_path, out, "--ca", self.tok.ca)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_cli_tokens_and_certs(self):
        p = self.cli("tokens")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(self.tok.label, p.stdout)
        self.assertIn(self.tok.serial, p.stdout)
        p = self.cli("certs", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        certs = json.loads(p.stdout)
        self.assertIsInstance(certs, list)
        check_cert_entries(self, certs, self.tok)
        p = self.cli("certs")
        self.assertEqual(p.returncode, 0, p.stderr)
        for key in self.keys:
            self.assertIn(key.uri, p.stdout)

    def test_cli_logout_then_sign_fails(self):
        self.cli_login()
        p = self.cli("logout")
        self.assertEqual(p.returncode, 0, p.stderr)
        with Client(self.agent.socket) as c:
            toks = c.result("tokens.list")["tokens"]
            self.assertEqual([t["logged_in"] for t in toks], [False])
        d = self.new_dir("cli4")
        doc_path = os.path.join(d, "doc.txt")
        with open(doc_path, "wb") as f:
            f.write(b"must not be signed\n")
        for key in self.keys:
            p = self.cli("sign", "--cert", key.sha256, doc_path)
            self.assertEqual(p.returncode, EXIT_AUTH, p.stdout + p.stderr)
            self.assertTrue(p.stderr.strip(), "no message")
            self.assertEqual(len(p.stderr.strip().splitlines()), 1,
                             "more than one line: %r" % p.stderr)
            self.assertEqual(sorted(os.listdir(d)), ["doc.txt"],
                             "litter after a refused sign")


if __name__ == "__main__":
    unittest.main(verbosity=2)
