"""The HTTPS listener (PROTOCOL.md 1.1): devices that use an https:// CSLU URL
validate the certificate against the name they connect to, and get the same
answers as over plain HTTP."""

import http.client
import json
import os
import ssl
import subprocess

import rumtest
from rumtest import Device, pi_path


def make_certificate(directory):
    """A self-signed certificate for 127.0.0.1 / localhost (the test's own CA)."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    os.chmod(key, 0o600)
    return cert, key


class Https(rumtest.RumTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.url, cls.db = cls.fresh_database("https")
        cls.tls_dir = rumtest.make_tempdir("rumtest-tls-")
        cls.cert, cls.key = make_certificate(cls.tls_dir)
        cls.rumd = cls.start_class_rumd(database_url=cls.url, flags={
            "https_listen": "127.0.0.1:0", "tls_cert": cls.cert, "tls_key": cls.key})

    def https(self, method, path, body=None, verify=True):
        ctx = ssl.create_default_context(cafile=self.cert) if verify else \
            ssl._create_unverified_context()
        conn = http.client.HTTPSConnection("127.0.0.1", self.rumd.ports["https"], timeout=15,
                                           context=ctx)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data,
                         headers={"Content-Type": "application/json"} if data else {})
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())
        finally:
            conn.close()

    def test_both_listeners_logged(self):
        self.assertIn("http", self.rumd.ports)
        self.assertIn("https", self.rumd.ports)
        self.assertNotEqual(self.rumd.ports["http"], self.rumd.ports["https"])

    def test_usage_and_poll_over_https_with_verified_certificate(self):
        dev = Device()
        status, reply = self.https("POST", pi_path(), dev.usage([dev.report()]))
        self.assertEqual((status, reply["status"]), (200, "OK_POLL"), reply)
        stored = self.pg.scalar(
            "SELECT count(*) FROM rum_reports WHERE udi_serial = '%s'" % dev.sn, db=self.db)
        self.assertEqual(stored, "1")
        status, reply = self.https("POST", pi_path(), {"poll_id": reply["poll_id"]})
        self.assertEqual((status, reply["status"]), (200, "OK_POLL"), reply)
        status, reply = self.https("GET", pi_path())
        self.assertEqual((status, reply["status"]), (200, "OK"), reply)

    def test_plain_http_on_the_https_port_gets_no_answer(self):
        with self.assertRaises((http.client.HTTPException, ConnectionError, OSError)):
            r = rumtest.http_request("127.0.0.1", self.rumd.ports["https"], "GET", "/healthz",
                                     timeout=5)
            # Some TLS stacks answer plaintext with a TLS alert that the client
            # reads as a broken status line; either way it is not a 200.
            self.assertNotEqual(r.status, 200)
            raise OSError("no usable plaintext answer")

    def test_unreadable_key_is_refused_at_start(self):
        r = rumtest.Rumd(database_url=self.url, flags={
            "https_listen": "127.0.0.1:0", "tls_cert": self.cert,
            "tls_key": os.path.join(self.tls_dir, "missing.pem")})
        self.addCleanup(r.cleanup)
        with self.assertRaises(AssertionError) as caught:
            r.start(timeout=30)
        self.assertIn("missing.pem", str(caught.exception))


if __name__ == "__main__":
    rumtest.main()
