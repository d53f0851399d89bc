"""rumd's device REST client (collector/rest_client.c, driven through
tests/tools/rest_probe) against rum-agent's REST API over HTTPS with a
self-signed certificate, and against small misbehaving servers: reports
collected, ACKs imported (base64 and raw), wrong credentials, wrong or
missing pin, trust on first use, a stalled server, an oversized reply and a
refused connection, each mapped to its error code."""
import base64
import hashlib
import http.server
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import warnings

warnings.filterwarnings("ignore", category=ResourceWarning)

BUILD = os.environ.get("RUM_BUILD_DIR", "")
AGENT = os.path.join(BUILD, "agent", "rum-agent")
PROBE = os.environ.get("RUM_REST_PROBE") or os.path.join(BUILD, "tests", "rest_probe")
TAG = "regid.2017-03.com.cisco.advantagek9,1.0_bd1da96e-ec1d-412b-a50e-53846b347d53"
TAG2 = "regid.2017-03.com.cisco.dna-advantage,1.0_b6308627-3ab0-4a11-a3d9-586911a0d790"


def ack(policy):
    return (b'<?xml version="1.0" encoding="UTF-8"?><smartLicense><smartLicensePolicy><policyCode>'
            b"<name>" + policy.encode() + b"</name><version>1</version><ackRequired>yes</ackRequired>"
            b"<perpetual><firstTimeReport>30</firstTimeReport><onGoingReporting>7</onGoingReporting>"
            b"<reportOnMACD>30</reportOnMACD></perpetual></policyCode></smartLicensePolicy>"
            b"<smartLicenseRumAck><data><![CDATA[[]]]></data></smartLicenseRumAck></smartLicense>")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def agent(*args):
    r = subprocess.run([AGENT, *args], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise AssertionError(f"rum-agent {args[0]} failed: {r.stderr}")
    return r.stdout


def openssl_pin(cert):
    """The pin of cert computed by the openssl tool, independently of rumd."""
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-pubkey", "-noout"], check=True,
                         capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub, check=True,
                         capture_output=True).stdout
    return "sha256//" + base64.b64encode(hashlib.sha256(der).digest()).decode()


class Stall:
    """Accepts connections and never answers; with tls, completes the TLS
    handshake first and then reads forever."""

    def __init__(self, tls=None):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.tls = tls
        self.conns = []
        self.stop = False
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(conn)
            if self.tls:
                threading.Thread(target=self.hold_tls, args=(conn,), daemon=True).start()

    def hold_tls(self, conn):
        try:
            s = self.tls.wrap_socket(conn, server_side=True)
            self.conns.append(s)
            while s.recv(4096):
                pass
        except OSError:
            pass

    def close(self):
        self.stop = True
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


class Misbehaving(http.server.BaseHTTPRequestHandler):
    """Plain HTTP: /smartlic-service/all-reports streams without a length
    until the client gives up; anything else is a 500 with a binary body."""

    def do_GET(self):
        if self.path.endswith("/all-reports"):
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            try:
                for _ in range(4096):
                    self.wfile.write(b'{"usage":[' + b" " * 1024)
            except OSError:
                pass
            return
        self.send_response(500)
        self.end_headers()
        self.wfile.write(b"boom\x01\n")

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.do_GET()

    def log_message(self, *a):
        pass


class CollectorRestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for what, path in (("rum-agent", AGENT), ("rest_probe", PROBE)):
            if not os.path.exists(path):
                raise unittest.SkipTest(f"{what} not built at {path}")
        if not shutil.which("openssl"):
            raise unittest.SkipTest("openssl not installed")
        cls.tmp = tempfile.mkdtemp(prefix="rum-rest-client-")
        cls.key, cls.cert = os.path.join(cls.tmp, "key.pem"), os.path.join(cls.tmp, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", cls.key,
                        "-out", cls.cert, "-days", "1", "-subj", "/CN=sw1.example"], check=True,
                       capture_output=True)
        cls.pin = openssl_pin(cls.cert)
        cls.pw = os.path.join(cls.tmp, "pw")
        with open(cls.pw, "w") as f:
            f.write("s3cret\n")
        cls.bad_pw = os.path.join(cls.tmp, "bad_pw")
        with open(cls.bad_pw, "w") as f:
            f.write("guess\n")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.state = tempfile.mkdtemp(prefix="dev-", dir=self.tmp)
        os.rmdir(self.state)
        agent("init", "--state", self.state, "--pid", "C9300-24P", "--serial", "FOC1234X0AB",
              "--hostname", "sw1", "--entitlement", f"{TAG}=2", "--entitlement", f"{TAG2}=4")
        self.port = free_port()
        self.agent = subprocess.Popen([AGENT, "rest", "--state", self.state, "--listen",
                                       f"127.0.0.1:{self.port}", "--user", "admin", "--password-file",
                                       self.pw, "--cert", self.cert, "--key", self.key],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.agent.stdout.readline()
        self.assertIn("listening on https://", line, self.agent.stderr.read() if not line else "")

    def tearDown(self):
        self.agent.terminate()
        self.agent.wait(timeout=10)
        self.agent.stdout.close()
        self.agent.stderr.close()

    def probe(self, *args, port=None, pin="default", pw=None, timeout=30):
        cmd = [PROBE, "--host", "127.0.0.1", "--port", str(port or self.port), "--user", "admin",
               "--password-file", pw or self.pw]
        if pin == "default":
            pin = self.pin
        if pin:
            cmd += ["--pin", pin]
        r = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=timeout)
        return r

    def assertFails(self, r, code):
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertTrue(any(line.startswith(code + ": ") for line in r.stderr.splitlines()), r.stderr)

    def rum(self):
        return agent("show", "--state", self.state, "rum")

    def test_all_reports_after_close_reports(self):
        r = self.probe("close-reports", "all-reports")
        self.assertEqual(r.returncode, 0, r.stderr)
        first, body = r.stdout.split("\n", 1)
        self.assertEqual(first, "closed")
        usage = json.loads(body)["usage"]
        self.assertEqual(len(usage), 2)  # one report per entitlement, closed by close-reports
        ids = set()
        for u in usage:
            self.assertEqual(set(u), {"header", "payload", "signature"})
            p = json.loads(u["payload"])
            ids.add(str(p.get("meta", {}).get("report_id") or p["asset_identification"]["report_id"]))
        rum = self.rum()
        unack = {line.split()[0] for line in rum.splitlines() if " UNACK " in line}
        self.assertEqual(ids, unack)
        self.assertIn(f"seen-pin: {self.pin}", r.stderr)

    def test_import_base64_and_raw(self):
        for raw, name in ((False, "Base64 Policy"), (True, "Raw Policy")):
            path = os.path.join(self.tmp, "ack.xml")
            with open(path, "wb") as f:
                f.write(ack(name))
            r = self.probe("close-reports", "all-reports", "import-raw" if raw else "import", path)
            self.assertEqual(r.returncode, 0, r.stderr)
            answer = json.loads(r.stdout.splitlines()[-1])
            self.assertEqual(answer["status"], "SUCCESS", answer)
            self.assertIn(f"Policy name: {name}", agent("show", "--state", self.state, "status"))
        self.assertIn(" ACK ", self.rum())

    def test_import_refused_by_device(self):
        path = os.path.join(self.tmp, "junk.xml")
        with open(path, "wb") as f:
            f.write(b"<html>not an ACK</html>")
        r = self.probe("import-raw", path)
        self.assertFails(r, "EIO")
        self.assertIn("HTTP 400", r.stderr)
        self.assertIn("FAILED", r.stderr)

    def test_wrong_password(self):
        r = self.probe("close-reports", pw=self.bad_pw)
        self.assertFails(r, "EAUTH")
        self.assertNotIn("guess", r.stderr)
        self.assertNotIn("s3cret", r.stderr)
        self.assertIn(" OPEN ", self.rum())

    def test_wrong_pin(self):
        wrong = "sha256//" + base64.b64encode(b"\x01" * 32).decode()
        r = self.probe("close-reports", pin=wrong)
        self.assertFails(r, "ECONFLICT")
        self.assertIn(self.pin, r.stderr)  # names the key the device presents
        self.assertNotIn("UNACK", self.rum())
        r = self.probe("close-reports", pin="sha256//not-a-pin")
        self.assertFails(r, "EINVAL")

    def test_no_pin_without_tofu(self):
        r = self.probe("close-reports", pin=None)
        self.assertFails(r, "EFORBIDDEN")
        self.assertIn(self.pin, r.stderr)
        status = self.rum()
        self.assertEqual(status.count(" OPEN "), 2)  # nothing was sent: no report closed

    def test_trust_on_first_use(self):
        r = self.probe("--tofu", "close-reports", "all-reports", pin=None)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"seen-pin: {self.pin}\n", r.stderr)
        learned = r.stderr.split("seen-pin: ")[1].split()[0]
        r = self.probe("all-reports", pin=learned)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(json.loads(r.stdout)["usage"]), 2)

    def test_stalled_server(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        for stall, what in ((Stall(), "no TLS handshake"), (Stall(ctx), "no HTTP answer")):
            try:
                t0 = time.monotonic()
                r = self.probe("--connect-timeout", "800", "--timeout", "1500", "all-reports",
                               port=stall.port)
                elapsed = time.monotonic() - t0
                self.assertFails(r, "ETIMEDOUT")
                self.assertLess(elapsed, 6, what)
            finally:
                stall.close()

    def test_reply_over_cap(self):
        self.probe("close-reports")
        r = self.probe("--max-reply", "100", "all-reports")
        self.assertFails(r, "ETOOBIG")  # known length: refused before the body
        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            port = srv.server_address[1]
            t0 = time.monotonic()
            r = self.probe("--plain-http", "--max-reply", "65536", "all-reports", port=port, pin=None)
            self.assertFails(r, "ETOOBIG")  # no length: cut while streaming
            self.assertLess(time.monotonic() - t0, 10)
            r = self.probe("--plain-http", "close-reports", port=port, pin=None)
            self.assertFails(r, "EIO")
            self.assertIn("HTTP 500: boom\\x01\\x0a", r.stderr)
        finally:
            srv.shutdown()
            srv.server_close()

    def test_connection_refused(self):
        r = self.probe("all-reports", port=free_port())
        self.assertFails(r, "EUNAVAIL")


if __name__ == "__main__":
    unittest.main(verbosity=2)
