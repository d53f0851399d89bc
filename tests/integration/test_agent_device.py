"""rum-agent as a device: CLI verbs, push/sync against a stub CSLU endpoint
speaking PROTOCOL 1.3-1.5, durability under kill -9, and the device REST API
over HTTPS (self-signed certificate made with openssl)."""
import base64
import http.server
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.request
import warnings

warnings.filterwarnings("ignore", category=ResourceWarning)

BUILD = os.environ.get("RUM_BUILD_DIR", "")
AGENT = os.path.join(BUILD, "agent", "rum-agent")
TAG = "regid.2017-03.com.cisco.advantagek9,1.0_bd1da96e-ec1d-412b-a50e-53846b347d53"
TAG2 = "regid.2017-03.com.cisco.dna-advantage,1.0_b6308627-3ab0-4a11-a3d9-586911a0d790"
ACK = (b'<?xml version="1.0" encoding="UTF-8"?><smartLicense><smartLicensePolicy><policyCode>'
       b"<name>Stub Policy</name><version>1</version><ackRequired>yes</ackRequired><perpetual>"
       b"<firstTimeReport>30</firstTimeReport><onGoingReporting>7</onGoingReporting>"
       b"<reportOnMACD>30</reportOnMACD></perpetual></policyCode></smartLicensePolicy>"
       b"<smartLicenseRumAck><data><![CDATA[[]]]></data></smartLicenseRumAck></smartLicense>")


def agent(*args, check=True):
    r = subprocess.run([AGENT, *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"rum-agent {args[0]} failed: {r.stderr}")
    return r


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cslu(http.server.BaseHTTPRequestHandler):
    """Stub of rumd's /cslu/v1/pi: OK_POLL for usage, the ACK on the second poll."""
    messages = []
    reports = {}  # report id -> payload string
    conflicts = []  # report ids received twice with different payloads
    polls = 0

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Cslu.messages.append((self.path, body))
        reply = {"status": "OK", "connect_info": {"name": "CSLU_V1", "capabilities": ["POLICY_USAGE"]}}
        if "poll_id" in body:
            Cslu.polls += 1
            reply = {"status": "OK_POLL", "poll_id": body["poll_id"]}
            if Cslu.polls % 2 == 0:
                reply = {"status": "OK", "poll_id": body["poll_id"],
                         "acknowledgements": [{"smart_license": base64.b64encode(ACK).decode()}]}
        elif "reports" in body:
            for rep in body["reports"]:
                for u in rep["usage"]:
                    p = json.loads(u["payload"])
                    rid = p.get("meta", {}).get("report_id") or p["asset_identification"]["report_id"]
                    if Cslu.reports.get(rid, u["payload"]) != u["payload"]:
                        Cslu.conflicts.append(rid)
                    Cslu.reports[rid] = u["payload"]
            reply = {"status": "OK_POLL", "poll_id": str(len(Cslu.messages)), "nonce": body["nonce"]}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


class DeviceTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(AGENT):
            raise unittest.SkipTest(f"rum-agent not built at {AGENT}")
        cls.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Cslu)
        threading.Thread(target=cls.srv.serve_forever, daemon=True).start()
        cls.url = f"http://127.0.0.1:{cls.srv.server_address[1]}/cslu/v1/pi/Lab%20Tenant"

    @classmethod
    def tearDownClass(cls):
        cls.srv.shutdown()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rum-agent-dev-")
        self.state = os.path.join(self.tmp, "dev")
        Cslu.messages.clear()
        Cslu.reports.clear()
        Cslu.conflicts.clear()
        Cslu.polls = 0

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def init(self, *extra):
        agent("init", "--state", self.state, "--pid", "C9300-24P", "--serial", "FOC1234X0AB",
              "--hostname", "sw1", "--entitlement", f"{TAG}=2", "--url", self.url, *extra)

    def test_init_refuses_bad_input_and_reinit(self):
        r = agent("init", "--state", self.state, "--pid", "P", "--serial", "S", "--hostname", "h",
                  "--entitlement", "noequals", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("TAG=COUNT", r.stderr)
        self.init()
        r = agent("init", "--state", self.state, "--pid", "P", "--serial", "S", "--hostname", "h",
                  check=False)
        self.assertIn("already holds a device", r.stderr)

    def test_sync_exchange(self):
        self.init("--rum-format", "B")
        agent("set-usage", "--state", self.state, f"{TAG2}=4")
        r = agent("sync", "--state", self.state, "--poll-interval", "0.1")
        self.assertIn("sync complete", r.stdout)
        kinds = [("poll" if "poll_id" in b else "usage" if "reports" in b else "hello") for _, b in Cslu.messages]
        self.assertEqual(kinds, ["hello", "usage", "poll", "poll"])
        self.assertTrue(all(p == "/cslu/v1/pi/Lab%20Tenant" for p, _ in Cslu.messages))
        usage = Cslu.messages[1][1]
        self.assertEqual(usage["sudi"], {"udi_pid": "C9300-24P", "udi_serial_number": "FOC1234X0AB"})
        rep = usage["reports"][0]
        self.assertEqual(rep["hostname"], "sw1")
        self.assertEqual(rep["trust_requests"], [])
        self.assertEqual(len(rep["usage"]), 2)  # one open report per entitlement, closed for the push
        for u in rep["usage"]:
            self.assertEqual(u["header"], {"type": "rum"})
            self.assertEqual(u["signature"]["signing_type"], "builtin")
            self.assertEqual(json.loads(u["payload"])["version"], "2.0")
        poll = Cslu.messages[2][1]
        self.assertEqual(poll["action"], "acknowledgements")
        self.assertEqual(poll["poll_id"], "2")
        status = agent("show", "--state", self.state, "status").stdout
        self.assertIn("Policy name: Stub Policy", status)
        self.assertIn("Reporting push interval: 7  days", status)
        self.assertNotIn("Last ACK received: <none>", status)
        rum = agent("show", "--state", self.state, "rum").stdout
        self.assertEqual(rum.count(" ACK "), 2)
        self.assertEqual(rum.count(" OPEN "), 2)

    def test_push_timers_and_kill9(self):
        """push with a speed-up: usage, poll ~60 s later, poll ~5 min later (ACK).
        Killed with SIGKILL repeatedly; every report reaches the server once per id,
        byte-identical when resent."""
        self.init()
        for i in range(4):
            p = subprocess.Popen([AGENT, "push", "--state", self.state, "--speedup", "600"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.3 + 0.15 * i)
            agent("set-usage", "--state", self.state, f"{TAG}={3 + i}")
            time.sleep(0.2)
            p.send_signal(signal.SIGKILL)
            p.wait()
        p = subprocess.Popen([AGENT, "push", "--state", self.state, "--speedup", "600"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Waits until the ACK is in (a few seconds here; longer beside other
        # tests under the sanitizers), not a fixed time. A process killed
        # after its poll drew the stub's ACK but before it saved it leaves a
        # device whose 60 s and 5 min polls are done: it polls again a day
        # later, as a real one would, which at 600 times speed is 144 s.
        deadline = time.time() + 240
        while time.time() < deadline and "Stub Policy" not in agent("show", "--state", self.state, "status").stdout:
            time.sleep(0.2)
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=10)
        status = agent("show", "--state", self.state, "status").stdout
        self.assertIn("Policy name: Stub Policy", status, err.decode(errors="replace")[-3000:])
        rum = agent("show", "--state", self.state, "rum").stdout
        ids = [line.split()[0] for line in rum.splitlines() if line[:1].isdigit()]
        self.assertEqual(len(ids), len(set(ids)))
        # reports closed after the last push wait for the next one: push them now
        agent("sync", "--state", self.state, "--poll-interval", "0.1")
        rum = agent("show", "--state", self.state, "rum").stdout
        closed = [line.split()[0] for line in rum.splitlines() if line[:1].isdigit() and " OPEN " not in line]
        self.assertGreaterEqual(len(closed), 5)
        for rid in closed:  # nothing lost: every closed report reached the server
            self.assertIn(int(rid), Cslu.reports)
        self.assertEqual(Cslu.conflicts, [])  # nothing duplicated with another payload
        # state.json is always a complete document
        with open(os.path.join(self.state, "state.json")) as f:
            json.load(f)

    def test_save_usage_and_import_files(self):
        self.init()
        out = os.path.join(self.tmp, "usage.xml")
        agent("save-usage", "--state", self.state, "unreported", out)
        with open(out) as f:
            text = f.read()
        self.assertTrue(text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<smartLicense>'))
        self.assertEqual(text.count("<RUMReport><![CDATA["), 1)
        self.assertIn("UNACK", agent("show", "--state", self.state, "rum").stdout)
        for bad, msg in ((b"garbage", "not well-formed XML"), (b"<html/>", "not a smartLicense document")):
            path = os.path.join(self.tmp, "bad.xml")
            with open(path, "wb") as f:
                f.write(bad)
            with open(os.path.join(self.state, "state.json")) as f:
                before = f.read()
            r = agent("import", "--state", self.state, path, check=False)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn(msg, r.stderr)
            with open(os.path.join(self.state, "state.json")) as f:
                self.assertEqual(before, f.read())
        path = os.path.join(self.tmp, "ack.xml")
        with open(path, "wb") as f:
            f.write(ACK)
        r = agent("import", "--state", self.state, path)
        self.assertIn("1 report(s) acknowledged", r.stdout)
        agent("save-usage", "--state", self.state, "days", "1", out)
        agent("save-usage", "--state", self.state, "all", out)
        with open(out) as f:
            self.assertEqual(f.read().count("<RUMReport>"), 3)
        for what in ("status", "summary", "usage", "rum"):
            self.assertTrue(agent("show", "--state", self.state, what).stdout)
        self.assertIn("advantagek9", agent("show", "--state", self.state, "summary").stdout)

    def test_rest_api(self):
        if not shutil.which("openssl"):
            self.skipTest("openssl not installed")
        self.init()
        key, cert = os.path.join(self.tmp, "key.pem"), os.path.join(self.tmp, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1"], check=True,
                       capture_output=True)
        pw = os.path.join(self.tmp, "pw")
        with open(pw, "w") as f:
            f.write("s3cret\n")
        port = free_port()
        p = subprocess.Popen([AGENT, "rest", "--state", self.state, "--listen", f"127.0.0.1:{port}",
                              "--user", "admin", "--password-file", pw, "--cert", cert, "--key", key],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            self.assertIn("listening on https://", p.stdout.readline())
            ctx = ssl.create_default_context(cafile=cert)
            ctx.check_hostname = False
            base = f"https://127.0.0.1:{port}/smartlic-service"

            def call(path, data=None, auth=("admin", "s3cret")):
                req = urllib.request.Request(base + path, data=data, method="POST" if data is not None else "GET")
                req.add_header("Authorization", "Basic " + base64.b64encode(":".join(auth).encode()).decode())
                try:
                    with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
                        return r.status, json.loads(r.read())
                except urllib.error.HTTPError as e:
                    return e.code, json.loads(e.read())

            self.assertEqual(call("/list", auth=("admin", "wrong"))[0], 401)
            self.assertEqual(call("/close-reports", b"")[1]["closed"], 1)
            status, body = call("/list")
            self.assertEqual(len(body["usage_list"]), 2)
            status, body = call("/all-reports")
            self.assertEqual(len(body["usage"]), 1)
            self.assertIn("payload", body["usage"][0])
            self.assertEqual(len(call("/days")[1]["usage"]), 1)
            self.assertEqual(len(call("/days/0")[1]["usage"]), 1)
            self.assertEqual(call("/days/x")[0], 400)
            self.assertEqual(call("/import", b"not base64 nor xml!")[0], 400)
            self.assertEqual(call("/import", base64.b64encode(ACK))[0], 200)
            self.assertEqual(call("/import", ACK)[0], 200)  # raw XML too
            self.assertIn(" ACK ", agent("show", "--state", self.state, "rum").stdout)
            self.assertEqual(call("/nothing")[0], 404)
        finally:
            p.terminate()
            p.wait(timeout=10)
            p.stdout.close()
            p.stderr.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
