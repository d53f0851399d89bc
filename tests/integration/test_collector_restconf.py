"""RESTCONF pull end to end: `rum-agent restconf` serves RFC 8040 over HTTPS
with a test certificate for the cisco-smart-license model, and rumd
collects from it (`rumd target add --protocol restconf`): licensing state
kept as the device's snapshot, usage saved by rum-save-usage-unreported to a
one-time URL on rumd and stored byte-exact, ACKs handed over by import-file
from another one and installed on the device. Also: the pin learnt on first
use and a wrong pin refused before any credential leaves, the reply size
cap, a device that never answers, a missing collector_public_url, and
RESTCONF's own answers (host-meta, errors, media types). The agent's
answers are validated with yanglint against ../shared/yang when present."""

import base64
import hashlib
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

import rumtest
from rumtest import sql_literal, wait_for

BUILD = os.environ.get("RUM_BUILD_DIR", "")
AGENT = os.path.join(BUILD, "agent", "rum-agent")
HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = os.environ.get("RUM_SHARED_DIR") or os.path.join(HERE, "..", "..", "..", "shared")
YANG = os.path.join(SHARED, "yang")
MODEL = os.path.join(YANG, "cisco-smart-license.yang")
TAG = "regid.2017-03.com.cisco.advantagek9,1.0_bd1da96e-ec1d-412b-a50e-53846b347d53"
TAG2 = "regid.2018-12.com.cisco.DNA_P_50M_A,1.0_100fb8b2-f5cc-459c-9253-ac77b827fd71"
MOD = "cisco-smart-license"
JSON_MEDIA = "application/yang-data+json"


def agent(*args):
    proc = subprocess.run([AGENT, *args], capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise AssertionError("rum-agent %s: %s%s" % (" ".join(args), proc.stdout, proc.stderr))
    return proc.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def openssl_pin(cert):
    pub = subprocess.run(["openssl", "x509", "-in", cert, "-pubkey", "-noout"], check=True,
                         capture_output=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=pub, check=True,
                         capture_output=True).stdout
    return "sha256//" + base64.b64encode(hashlib.sha256(der).digest()).decode()


def ack_xml(report_ids, ongoing=14):
    rum = ",".join('{"report_id":%d,"status":"ACK"}' % i for i in report_ids)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<smartLicense>'
            "<smartLicensePolicy><policyCode><name>RESTCONF Policy</name><version>4</version>"
            "<ackRequired>yes</ackRequired><subscription><firstTimeReport>60</firstTimeReport>"
            "<onGoingReporting>%d</onGoingReporting><reportOnMACD>60</reportOnMACD>"
            "</subscription></policyCode><signature>cG9s</signature></smartLicensePolicy>"
            "<smartLicenseRumAck><data><![CDATA[[%s]]]></data><signature>cnVt</signature>"
            "</smartLicenseRumAck></smartLicense>\n" % (ongoing, rum)).encode()


def report_states(state):
    out = {}
    for line in agent("show", "--state", state, "rum").splitlines():
        m = re.match(r"^(\d+)\s+(OPEN|CLOSED|UNACK|ACK)\s", line)
        if m:
            out[int(m.group(1))] = m.group(2)
    return out


class Stall:
    """Completes the TLS handshake, then never answers."""

    def __init__(self, ctx):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.ctx, self.conns, self.stop = ctx, [], False
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.hold, args=(conn,), daemon=True).start()

    def hold(self, conn):
        try:
            s = self.ctx.wrap_socket(conn, server_side=True)
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


class RestconfAgent:
    """`rum-agent restconf` on a free port; stopped by the test's cleanup."""

    def __init__(self, test, state, pw):
        self.port = free_port()
        self.p = subprocess.Popen([AGENT, "restconf", "--state", state, "--listen",
                                   "127.0.0.1:%d" % self.port, "--user", "admin",
                                   "--password-file", pw, "--cert", test.cert, "--key", test.key],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        test.addCleanup(self.close)
        line = self.p.stdout.readline()
        test.assertIn("listening on https://127.0.0.1:%d" % self.port, line)
        self.ctx = ssl.create_default_context()
        self.ctx.check_hostname = False
        self.ctx.verify_mode = ssl.CERT_NONE

    def close(self):
        self.p.terminate()
        self.p.wait(timeout=10)
        self.p.stdout.close()
        self.p.stderr.close()

    def request(self, method, path, body=None, auth=("admin", "rc-s3cret"), headers=None):
        req = urllib.request.Request("https://127.0.0.1:%d%s" % (self.port, path), data=body,
                                     method=method)
        if auth:
            req.add_header("Authorization",
                           "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode())
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=15) as r:
                return r.status, r.headers.get("Content-Type"), r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type"), e.read()

    def rpc(self, name, inp, **kw):
        body = json.dumps({MOD + ":input": inp}).encode()
        return self.request("POST", "/restconf/operations/%s:%s" % (MOD, name), body,
                            headers={"Content-Type": JSON_MEDIA}, **kw)


class CollectorRestconf(rumtest.RumTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.path.exists(AGENT):
            raise unittest.SkipTest("no rum-agent binary: set RUM_BUILD_DIR (ctest does)")
        if not shutil.which("openssl"):
            raise unittest.SkipTest("openssl not installed")
        cls.url, cls.db = cls.fresh_database("restconf")
        cls.data = rumtest.make_tempdir("restconf-data-", 0o755)
        cls.certs = tempfile.mkdtemp(prefix="restconf-certs-")
        cls.key, cls.cert = os.path.join(cls.certs, "key.pem"), os.path.join(cls.certs, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        cls.key, "-out", cls.cert, "-days", "1", "-subj", "/CN=127.0.0.1"],
                       check=True, capture_output=True)
        cls.pin = openssl_pin(cls.cert)
        cls.serials = 0

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.certs, ignore_errors=True)
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.tmp = rumtest.make_tempdir("restconf-")
        os.chmod(self.tmp, 0o755)
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.pw = os.path.join(self.tmp, "pw")
        with open(self.pw, "w") as f:
            f.write("rc-s3cret\n")

    # -- helpers ---------------------------------------------------------------

    def rumd(self, *args, ok=True, flags=()):
        proc = rumtest.run_rumd(list(args) + ["--database_url=" + self.url,
                                              "--data_dir=" + self.data] + list(flags),
                                timeout=180)
        if ok is not None and (proc.returncode == 0) != ok:
            raise AssertionError("rumd %s exited %d:\n%s%s" % (" ".join(args), proc.returncode,
                                                              proc.stdout, proc.stderr))
        return proc

    def q(self, sql):
        return self.pg.psql(sql, db=self.db)

    def scalar(self, sql):
        return self.pg.scalar(sql, db=self.db)

    def new_agent(self, ents=((TAG, 4),)):
        CollectorRestconf.serials += 1
        sn = "FOCRC%04d" % CollectorRestconf.serials
        state = os.path.join(self.tmp, "agent-" + sn)
        args = ["init", "--state", state, "--pid", "C9300-48P", "--serial", sn,
                "--hostname", "rc-" + sn.lower()]
        for tag, n in ents:
            args += ["--entitlement", "%s=%d" % (tag, n)]
        agent(*args)
        agent("set-usage", "--state", state, "%s=%d" % (ents[0][0], ents[0][1] + 1))
        return state, sn

    def serve(self, public=True, flags=None):
        port = free_port()
        f = {"collector_poll_ms": "100", "collector_rpc_timeout_ms": "30000",
             "collector_timeout_ms": "90000"}
        if public:
            f["collector_public_url"] = "http://127.0.0.1:%d" % port
        f.update(flags or {})
        return self.start_rumd(database_url=self.url, data_dir=self.data,
                               http_listen="127.0.0.1:%d" % port, flags=f)

    def add(self, port, *extra, ok=True):
        args = ["target", "add", "--protocol", "restconf", "--host", "127.0.0.1", "--port",
                str(port), "--username", "admin", "--password-file", self.pw]
        if "--known-host-key" not in extra:
            args.append("--trust-on-first-use")
        proc = self.rumd(*args, "--on-demand", *extra, ok=ok)
        if not ok:
            return proc
        m = re.search(r"pull target (\d+) added: restconf 127.0.0.1:%d" % port, proc.stdout)
        self.assertTrue(m, proc.stdout)
        return int(m.group(1))

    def collect(self, target, r):
        """Queues a manual collection for the serving rumd r and waits for it."""
        before = int(self.scalar("SELECT count(*) FROM collection_jobs WHERE target_id = %d"
                                 % target))
        self.assertIn("queued 1 collection", self.rumd("collect", "--target", str(target)).stdout)
        try:
            wait_for(lambda: self.scalar(
                "SELECT count(*) FROM collection_jobs WHERE target_id = %d AND state IN "
                "('ok', 'failed')" % target) == str(before + 1), 100, what="the collection")
        except AssertionError as e:
            raise AssertionError("%s; rumd log: %s" % (e, rumtest.tail(r.log(), 60))) from None
        rows = self.q("SELECT state, reports_collected, reports_new, acks_delivered, "
                      "coalesce(error, '') FROM collection_jobs WHERE target_id = %d "
                      "ORDER BY id DESC LIMIT 1" % target)
        st, col, new, acks, err = rows[0]
        return {"state": st, "collected": int(col), "new": int(new), "acks": int(acks),
                "error": err}

    def put_ack(self, sn, content):
        return int(self.scalar(
            "INSERT INTO acks (tenant_id, device_id, content) SELECT tenant_id, id, "
            "decode('%s', 'hex') FROM devices WHERE udi_serial = %s RETURNING id"
            % (content.hex(), sql_literal(sn))))

    def stored(self, sn):
        return {int(r[0]): r[1] for r in self.q(
            "SELECT report_id, encode(convert_to(report, 'UTF8'), 'hex') FROM rum_reports "
            "WHERE udi_serial = %s AND conflict_of IS NULL" % sql_literal(sn))}

    def yanglint(self, what, doc, kind="data"):
        """Validates doc (a JSON value) against the model; skips with a reason
        when the model or yanglint is not here."""
        if not os.path.exists(MODEL):
            self.skipTest("the cisco-smart-license model is not at %s (../shared/yang): "
                          "answers not validated with yanglint" % YANG)
        if not shutil.which("yanglint"):
            self.skipTest("yanglint (libyang2-tools) not installed: answers not validated")
        path = os.path.join(self.tmp, "%s.json" % what)
        with open(path, "w") as f:
            json.dump(doc, f)
        r = subprocess.run(["yanglint", "-f", "json", "-t", kind, "-p", YANG, MODEL, path],
                           capture_output=True, text=True, timeout=60)
        errors = [line for line in r.stderr.splitlines() if "libyang err" in line or "[E]" in line]
        self.assertEqual((r.returncode, errors), (0, []), "%s: %s" % (what, r.stderr[-2000:]))
        return json.loads(r.stdout) if r.stdout.strip() else None

    # -- collection ------------------------------------------------------------

    def test_collect_and_ack(self):
        state, sn = self.new_agent([(TAG, 4), (TAG2, 2)])
        dev = RestconfAgent(self, state, self.pw)
        r = self.serve()
        target = self.add(dev.port)
        self.assertIn("RESTCONF:        https, files via one-time URLs",
                      self.rumd("target", "show", str(target)).stdout)
        job = self.collect(target, r)
        self.assertEqual(job["state"], "ok", job)
        self.assertEqual(self.scalar("SELECT transfer || ' ' || known_host_key FROM pull_targets "
                                     "WHERE id = %d" % target), "http " + self.pin)
        # Every report the device handed over is stored as the device holds it.
        with open(os.path.join(state, "state.json")) as f:
            docs = {r["id"]: r.get("doc") for r in json.load(f)["reports"]}
        sent = {i for i, s in report_states(state).items() if s == "UNACK"}
        self.assertGreaterEqual(len(sent), 2)
        stored = self.stored(sn)
        self.assertEqual(set(stored), sent)
        for i in sent:
            self.assertEqual(bytes.fromhex(stored[i]).decode(), docs[i], "report %d" % i)
        self.assertEqual((job["collected"], job["new"], job["acks"]), (len(sent), len(sent), 0))
        # The licensing state read over RESTCONF is the device's snapshot.
        snap = json.loads(self.scalar(
            "SELECT s.snapshot FROM device_snapshots s WHERE s.target_id = %d" % target))
        self.assertEqual((snap["pid"], snap["sn"]), ("C9300-48P", sn))
        self.assertEqual({u["tag"]: u["count"] for u in snap["usage"]}, {TAG: 5, TAG2: 2})
        self.assertEqual(snap["policy"]["type"], "policy-type-cisco-default")
        # The ACK goes back by import-file and is installed.
        ack_id = self.put_ack(sn, ack_xml(sorted(sent)))
        job = self.collect(target, r)
        self.assertEqual((job["state"], job["acks"]), ("ok", 1), job)
        self.assertEqual(self.q("SELECT via, address FROM ack_deliveries WHERE ack_id = %d"
                                % ack_id), [["restconf", "127.0.0.1"]])
        status = agent("show", "--state", state, "status")
        self.assertIn("RESTCONF Policy", status)
        self.assertIn("Reporting push interval: 14  days", status)
        self.assertTrue(all(report_states(state)[i] == "ACK" for i in sent))
        # Again: the reports the save closed are new, the rest known; no ACK is pending.
        job = self.collect(target, r)
        self.assertEqual((job["state"], job["acks"]), ("ok", 0), job)
        self.assertEqual(set(self.stored(sn)),
                         {i for i, s in report_states(state).items() if s != "OPEN"})
        self.assertEqual(self.scalar("SELECT count(*) FROM file_transfers"), "0")

    def test_pinning(self):
        state, sn = self.new_agent()
        dev = RestconfAgent(self, state, self.pw)
        r = self.serve()
        wrong = "sha256//" + base64.b64encode(b"\x01" * 32).decode()
        target = self.add(dev.port, "--known-host-key", wrong)
        job = self.collect(target, r)
        self.assertEqual(job["state"], "failed")
        self.assertIn("get licensing state", job["error"])
        self.assertIn("ECONFLICT", job["error"])
        self.assertIn(self.pin, job["error"])  # names the key the device presents
        self.assertNotIn("UNACK", agent("show", "--state", state, "rum"))
        self.rumd("target", "remove", str(target))
        # The right pin: collected, and the pin stays as given.
        target = self.add(dev.port, "--known-host-key", self.pin)
        self.assertEqual(self.collect(target, r)["state"], "ok")
        # A wrong password is refused as such, and never quoted.
        with open(self.pw, "w") as f:
            f.write("guess\n")
        self.rumd("target", "remove", str(target))
        target = self.add(dev.port, "--known-host-key", self.pin)
        job = self.collect(target, r)
        self.assertIn("EAUTH", job["error"])
        self.assertNotIn("guess", job["error"] + r.log())

    def test_size_cap_and_timeouts(self):
        state, sn = self.new_agent()
        dev = RestconfAgent(self, state, self.pw)
        r = self.serve(flags={"netconf_max_reply_bytes": "4096", "collector_rpc_timeout_ms": "1500",
                              "collector_connect_timeout_ms": "1000"})
        target = self.add(dev.port)
        agent("set-usage", "--state", state,
              *("regid.2017-03.com.cisco.extra%d,1.0_bd1da96e-ec1d-412b-a50e-53846b347d53=1" % i
                for i in range(40)))
        job = self.collect(target, r)
        self.assertEqual(job["state"], "failed")
        self.assertIn("ETOOBIG", job["error"])
        self.assertIn("4096", job["error"])
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        stall = Stall(ctx)
        try:
            t0 = time.monotonic()
            stalled = self.add(stall.port)
            job = self.collect(stalled, r)
            self.assertEqual(job["state"], "failed")
            self.assertIn("ETIMEDOUT", job["error"])
            self.assertLess(time.monotonic() - t0, 40)
        finally:
            stall.close()

    def test_needs_public_url(self):
        state, sn = self.new_agent()
        dev = RestconfAgent(self, state, self.pw)
        r = self.serve(public=False)
        target = self.add(dev.port)
        job = self.collect(target, r)
        self.assertEqual(job["state"], "failed")
        self.assertIn("collector_public_url", job["error"])
        # The state was still read and kept.
        self.assertEqual(self.scalar("SELECT count(*) FROM device_snapshots WHERE target_id = %d"
                                     % target), "1")

    def test_target_rules(self):
        proc = self.add(443, "--transfer", "scp", ok=False)
        self.assertIn("RESTCONF has no file copy", proc.stderr)
        proc = self.rumd("target", "add", "--protocol", "restconf", "--host", "127.0.0.1",
                         "--username", "admin", "--password-file", self.pw,
                         "--known-host-key", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA", ok=False)
        self.assertIn("sha256//", proc.stderr)
        target = self.add(8443)
        self.assertEqual(self.scalar("SELECT protocol || ' ' || transfer || ' ' || port FROM "
                                     "pull_targets WHERE id = %d" % target), "restconf http 8443")
        self.rumd("target", "remove", str(target))

    # -- what the device answers -----------------------------------------------

    def test_agent_answers_validate(self):
        state, sn = self.new_agent([(TAG, 3), (TAG2, 1)])
        dev = RestconfAgent(self, state, self.pw)
        status, ctype, body = dev.request("GET", "/.well-known/host-meta", auth=None)
        self.assertEqual(status, 200)
        self.assertIn("rel='restconf' href='/restconf'", body.decode())
        status, ctype, body = dev.request("GET", "/restconf")
        self.assertEqual((status, ctype), (200, JSON_MEDIA))
        self.assertIn("data", json.loads(body)["ietf-restconf:restconf"])
        status, _, body = dev.request("GET", "/restconf/yang-library-version")
        self.assertEqual(json.loads(body), {"ietf-restconf:yang-library-version": "2019-01-04"})
        status, _, body = dev.request("POST", "/restconf/operations/%s:rum-save-usage-days" % MOD,
                                      json.dumps({MOD + ":input": {"file-path": "bootflash:d.txt",
                                                                   "days": 30}}).encode(),
                                      headers={"Content-Type": JSON_MEDIA})
        self.assertEqual(status, 200)
        days_out = json.loads(body)
        self.assertEqual(days_out, {MOD + ":output": {"return-code": "success"}})
        with open(os.path.join(state, "bootflash", "d.txt")) as f:
            self.assertIn("<RUMReport>", f.read())
        status, _, body = dev.request("GET", "/restconf/data/%s:licensing" % MOD)
        self.assertEqual(status, 200)
        licensing = json.loads(body)
        status, _, body = dev.request("GET", "/restconf/data/%s:licensing/state" % MOD)
        st = json.loads(body)
        self.assertEqual(st[MOD + ":state"]["state-info"]["udi"], {"pid": "C9300-48P", "sn": sn})
        keys = st[MOD + ":state"]["state-info"]["rum-reports-closed-keys"]
        self.assertTrue(keys and all(isinstance(k["report-id"], str) for k in keys))
        status, _, body = dev.request("GET", "/restconf/data")
        self.assertEqual(json.loads(body)["ietf-restconf:data"], licensing)
        status, _, body = dev.rpc("import-file", {"file-path": "bootflash:missing.xml"})
        import_out = json.loads(body)
        self.assertEqual(import_out[MOD + ":output"]["return-code"], "notfound")
        # RFC 8040 errors.
        for (method, path, body, headers, auth), (code, tag) in (
                (("GET", "/restconf/data", None, None, ("admin", "guess")), (401, "access-denied")),
                (("GET", "/restconf/data/%s:licensing/config" % MOD, None, None, None),
                 (404, "invalid-value")),
                (("DELETE", "/restconf/data/%s:licensing" % MOD, None, None, None),
                 (405, "operation-not-supported")),
                (("GET", "/restconf/operations/%s:import-file" % MOD, None, None, None),
                 (405, "operation-not-supported")),
                (("POST", "/restconf/operations/%s:de-register" % MOD, b"{}", None, None),
                 (404, "invalid-value")),
                (("POST", "/restconf/operations/%s:import-file" % MOD, b"<x/>",
                  {"Content-Type": "application/yang-data+xml"}, None), (415, "invalid-value")),
                (("POST", "/restconf/operations/%s:import-file" % MOD, b"{not json",
                  {"Content-Type": JSON_MEDIA}, None), (400, "malformed-message")),
                (("POST", "/restconf/operations/%s:import-file" % MOD,
                  json.dumps({MOD + ":input": {"file-path": "x" * 128}}).encode(),
                  {"Content-Type": JSON_MEDIA}, None), (400, "invalid-value")),
                (("POST", "/restconf/operations/%s:import-file" % MOD,
                  json.dumps({MOD + ":input": {"file-path": "a", "days": 1}}).encode(),
                  {"Content-Type": JSON_MEDIA}, None), (400, "unknown-element")),
                (("POST", "/restconf/operations/%s:import-file" % MOD, b"x" * 70000,
                  {"Content-Type": JSON_MEDIA}, None), (413, "too-big")),
                (("GET", "/restconf/data", None, {"Accept": "application/yang-data+xml"}, None),
                 (406, "invalid-value"))):
            kw = {"headers": headers}
            if auth:
                kw["auth"] = auth
            status, ctype, reply = dev.request(method, path, body, **kw)
            err = json.loads(reply)["ietf-restconf:errors"]["error"][0]
            self.assertEqual((status, ctype, err["error-tag"]), (code, JSON_MEDIA, tag),
                             (method, path, reply))
            self.assertTrue(err["error-message"])
        # The answers as the model has them.
        self.yanglint("licensing", licensing)
        self.yanglint("state", {MOD + ":licensing": {"state": st[MOD + ":state"]}})
        self.yanglint("days-output", {MOD + ":rum-save-usage-days": days_out[MOD + ":output"]},
                      kind="reply")
        self.yanglint("import-output", {MOD + ":import-file": import_out[MOD + ":output"]},
                      kind="reply")
        self.yanglint("days-input", {MOD + ":rum-save-usage-days": {"file-path": "bootflash:d.txt",
                                                                      "days": 30}}, kind="rpc")
        # yanglint is no rubber stamp: a report-id as a JSON number is refused.
        bad = json.loads(json.dumps(licensing))
        bad[MOD + ":licensing"]["state"]["state-info"]["rum-reports-closed-keys"][0]["report-id"] = 1
        with self.assertRaises(AssertionError):
            self.yanglint("bad", bad)


if __name__ == "__main__":
    unittest.main(verbosity=2)
