"""The CSSM API simulator (tests/tools/cssm_api_sim.py) that rumd's
connected-mode tests point rumd at: TLS that a client verifies against the
test CA, OAuth tokens, the Smart Account search, reportusage and authrequest
with thorough checks, polls that complete with the same ACK the file
simulator writes, reports already received, every fault switch flipped at
run time, hostile bodies, and state kept across a restart.

The simulator runs as a subprocess, as the rumd tests will run it; the
client here is http.client with an ssl context that trusts only the test CA.
No rumd and no PostgreSQL are needed."""
import base64
import http.client
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(HERE, "..", "tools")
sys.path.insert(0, TOOLS)
import cssm_api_sim as api  # noqa: E402
import cssm_sim  # noqa: E402
from rumtest import Reply, make_tempdir, tail, wait_for  # noqa: E402

CLIENT, SECRET = "rumd-test", "s3cret"
SA, VA, VA2 = "1000001", "2000001", "2000002"
PID = "C9300-24P"
MAX_BODY = 65536
_serial = [0]


def new_sn():
    _serial[0] += 1
    return "FOC%05d%04dX" % (os.getpid() % 100000, _serial[0])


def report(sn, rid, fmt="A", pid=PID, start=1700000000):
    return cssm_sim.synthetic_report(pid, sn, rid, fmt, start)


def usage_body(sn, usage, pid=PID, nonce="a1b2c3d4e5f60718", trust_requests=None, **data):
    """{"data": reportusage message} for one device; data items replace fields."""
    entry = {"sudi": cssm_sim.sudi(pid, sn), "hostname": "sw-%s" % sn,
             "software_tag_identifier": cssm_sim.sw_tag(pid), "trust_requests": trust_requests or [],
             "usage": list(usage)}
    body = {"sudi": cssm_sim.sudi(pid, sn), "timestamp": int(time.time() * 1000), "nonce": nonce,
            "product_instance_identifier": str(uuid.uuid4()), "reports": [entry]}
    body.update(data)
    return {"data": body}


def poll_body(poll_id, action="acknowledgements", nonce="feedc0ffee"):
    return {"data": {"timestamp": str(int(time.time() * 1000)), "nonce": nonce, "poll_id": poll_id,
                     "action": action}}


def sections(raw):
    """{tag: (content, signature)} of the signed sections of an ACK document."""
    text = raw.decode("utf-8")
    return {m.group(1): (m.group(2), m.group(3)) for m in re.finditer(
        r"<(smartLicense\w+)>(.*?)<signature>([^<]*)</signature></\1>", text, re.S)}


class SimCase(unittest.TestCase):
    """Helpers around one simulator process (cls.sim) and the test CA."""

    sim = None
    extra_args = ()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = make_tempdir("cssmapi-")
        cls.ca, cls.cert, cls.key = api.make_test_ca(os.path.join(cls.tmp, "tls"))
        cls.ctx = ssl.create_default_context(cafile=cls.ca)
        cls.sim = cls.start_sim(cls.extra_args)

    @classmethod
    def start_sim(cls, args, name="sim"):
        return api.spawn(cls.cert, cls.key, ["--client", "%s:%s" % (CLIENT, SECRET), "--client", "other:pw",
                                             "--max-body", str(MAX_BODY)] + list(args),
                         log_path=os.path.join(cls.tmp, name + ".log"))

    @classmethod
    def tearDownClass(cls):
        if cls.sim is not None:
            rc = cls.sim.stop()
            if rc != 0:
                raise AssertionError("simulator exited with status %s:\n%s" % (rc, tail(cls.sim.log())))
        super().tearDownClass()

    def _failed(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        return result is not None and any(getattr(t, "test_case", t) is self
                                          for t, _ in list(result.failures) + list(result.errors))

    def tearDown(self):
        if self._failed() or not self.sim.alive():
            print("\n---- simulator log ----\n%s\n----" % tail(self.sim.log(), 60), file=sys.stderr)
        self.assertTrue(self.sim.alive(), "the simulator died")
        super().tearDown()

    # -- HTTP
    def request(self, method, path, body=None, headers=None, sim=None, ctx=None, timeout=10,
                host="127.0.0.1"):
        sim = sim or self.sim
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        conn = http.client.HTTPSConnection(host, sim.port, timeout=timeout, context=ctx or self.ctx)
        try:
            conn.request(method, path, body=data, headers=headers or {})
            resp = conn.getresponse()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        finally:
            conn.close()

    def path(self, name, sim=None):
        sim = sim or self.sim
        return sim.api_base + "/" + name

    def get_token(self, client=CLIENT, secret=SECRET, sim=None):
        sim = sim or self.sim
        r = self.request("POST", sim.token_url[len(sim.base_url):],
                         ("grant_type=client_credentials&client_id=%s&client_secret=%s" % (client, secret)).encode(),
                         {"Content-Type": "application/x-www-form-urlencoded"}, sim=sim)
        self.assertEqual(r.status, 200, r)
        return r.json["access_token"]

    def device_headers(self, sn, pid=PID, token=None, sa=SA, va=VA, sim=None):
        return {"Authorization": "Bearer " + (token or self.get_token(sim=sim)),
                "Content-Type": "application/json", "X-CSW-SMART-ACCOUNT-ID": sa,
                "X-CSW-VIRTUAL-ACCOUNT-ID": va,
                "X-CSW-REQUESTING-SYSTEM": json.dumps({"udi_pid": pid, "udi_serial_number": sn,
                                                       "display_name": "sw-" + sn})}

    def post_usage(self, sn, reports, headers=None, sim=None, **kw):
        return self.request("POST", self.path("devices/reportusage", sim), usage_body(sn, reports, **kw),
                            headers or self.device_headers(sn, sim=sim), sim=sim)

    def poll(self, poll_id, headers, action="acknowledgements", sim=None):
        return self.request("POST", self.path("accounts/poll", sim), poll_body(poll_id, action), headers, sim=sim)

    def search(self, token=None, sim=None, timeout=10):
        return self.request("GET", self.path("accounts/search", sim),
                            headers={"Authorization": "Bearer " + (token or self.get_token(sim=sim))},
                            sim=sim, timeout=timeout)

    # -- assertions
    def assertFailed(self, reply, status, needle=None):
        self.assertEqual(reply.status, status, reply)
        self.assertIsInstance(reply.json, dict, reply)
        self.assertEqual(reply.json.get("status"), "FAILED", reply)
        msg = reply.json.get("message")
        self.assertIsInstance(msg, str, reply)
        self.assertTrue(msg.strip(), reply)
        self.assertNotIn("\n", msg)
        self.assertNotIn("Traceback", msg)
        if needle:
            self.assertIn(needle, msg)
        return msg

    def assertAccepted(self, reply, nonce="a1b2c3d4e5f60718", action="acknowledgements"):
        self.assertEqual(reply.status, 200, reply)
        body = reply.json
        self.assertEqual(body.get("status"), "OK_POLL", reply)
        self.assertEqual(body.get("action"), action, reply)
        self.assertEqual(body.get("nonce"), nonce, reply)
        self.assertIsInstance(body.get("timestamp"), int, reply)
        poll_id = body.get("poll_id")
        self.assertIsInstance(poll_id, str, reply)
        self.assertRegex(poll_id, r"^[0-9]{19}$")
        self.assertGreater(int(poll_id), 2 ** 53, "poll ids must not fit a double")
        return poll_id

    def poll_until_complete(self, poll_id, headers, k=2, action="acknowledgements", sim=None):
        for _ in range(k):
            r = self.poll(poll_id, headers, action, sim=sim)
            self.assertEqual(r.status, 200, r)
            self.assertEqual((r.json["status"], r.json["message"]), ("OK_POLL", ""), r)
            self.assertNotIn("data", r.json)
        r = self.poll(poll_id, headers, action, sim=sim)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "COMPLETE", r)
        self.assertEqual(r.json["nonce"], "feedc0ffee")
        docs = r.json["data"][action]
        self.assertEqual(len(docs), 1, r)
        raw = base64.b64decode(docs[0]["smart_license"], validate=True)
        return raw, cssm_sim.parse_xml(raw, "smart_license")

    def assertSigned(self, raw):
        found = sections(raw)
        self.assertTrue(found)
        for tag, (content, sig) in found.items():
            self.assertEqual(cssm_sim.sign(content), sig, "signature of %s" % tag)
        return found

    def reports_of(self, sn, sim=None):
        """{report id: (received, recorded)} the simulator holds for a serial."""
        out = {}
        for r in (sim or self.sim).control_get("/reports")["reports"]:
            if r["udi_serial_number"] == sn:
                out[r["report_id"]] = (r["received"], r["recorded"])
        return out


class TestCssmApiSim(SimCase):

    def setUp(self):
        super().setUp()
        self.sim.control(token_401=False, rate_limit=0, retry_after=1, fail_500=0, drop_connection=0,
                         slow_ms=0, html_errors=False, duplicate_failed=False, polls_before_complete=2,
                         fault_scope="api", token_ttl=3600)

    # -- TLS
    def test_tls_verified_against_the_test_ca_only(self):
        self.assertEqual(self.search().status, 200)
        r = self.request("GET", self.path("accounts/search"), host="localhost",
                         headers={"Authorization": "Bearer " + self.get_token()})
        self.assertEqual(r.status, 200, "the certificate names localhost too")
        before = self.sim.stats()["tls_handshake_failures"]
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.request("GET", self.path("accounts/search"), ctx=ssl.create_default_context())
        wrong_name = ssl.create_default_context(cafile=self.ca)
        with self.assertRaises(ssl.SSLCertVerificationError):
            sock = socket.create_connection(("127.0.0.1", self.sim.port), timeout=5)
            try:
                wrong_name.wrap_socket(sock, server_hostname="cssm.example.com")
            finally:
                sock.close()
        wait_for(lambda: self.sim.stats()["tls_handshake_failures"] >= before + 2, 5,
                 what="the refused handshakes to be counted")
        # a client that connects and never speaks TLS blocks nobody
        idle = socket.create_connection(("127.0.0.1", self.sim.port), timeout=5)
        try:
            self.assertEqual(self.search().status, 200)
        finally:
            idle.close()

    # -- token endpoint
    def test_token(self):
        token_path = self.sim.token_url[len(self.sim.base_url):]
        form = {"Content-Type": "application/x-www-form-urlencoded"}

        def token(body, headers=form):
            return self.request("POST", token_path, body.encode(), headers)
        r = token("grant_type=client_credentials&client_id=%s&client_secret=%s" % (CLIENT, SECRET))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["token_type"], "Bearer")
        self.assertEqual(r.json["expires_in"], 3600)
        self.assertGreaterEqual(len(r.json["access_token"]), 32)
        basic = dict(form, Authorization="Basic " + base64.b64encode(b"other:pw").decode())
        r = token("grant_type=client_credentials", basic)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.search(r.json["access_token"]).status, 200)
        for body, headers, status, error in (
                ("grant_type=client_credentials&client_id=%s&client_secret=wrong" % CLIENT, form, 401,
                 "invalid_client"),
                ("grant_type=client_credentials&client_id=nobody&client_secret=x", form, 401, "invalid_client"),
                ("grant_type=client_credentials&client_id=%s" % CLIENT, form, 401, "invalid_client"),
                ("grant_type=password&client_id=%s&client_secret=%s" % (CLIENT, SECRET), form, 400,
                 "unsupported_grant_type"),
                ('{"grant_type":"client_credentials"}', {"Content-Type": "application/json"}, 400,
                 "invalid_request"),
                ("grant_type=client_credentials&client_id=other&client_secret=pw", basic, 400, "invalid_request"),
                ("grant_type=client_credentials", dict(form, Authorization="Basic !!"), 401, "invalid_client")):
            with self.subTest(body=body, headers=headers):
                r = token(body, headers)
                self.assertEqual(r.status, status, r)
                self.assertEqual(r.json["error"], error, r)
        self.sim.control(token_401=True)
        r = token("grant_type=client_credentials&client_id=%s&client_secret=%s" % (CLIENT, SECRET))
        self.assertEqual((r.status, r.json["error"]), (401, "invalid_client"))
        self.sim.control(token_401=False)
        self.get_token()
        stats = self.sim.stats()
        self.assertGreaterEqual(stats["faults_applied"]["token_401"], 1)
        self.assertGreaterEqual(stats["tokens_refused"], 3)
        for header in (None, "Bearer not-a-token", "Basic abc"):
            with self.subTest(header=header):
                r = self.request("GET", self.path("accounts/search"),
                                 headers={"Authorization": header} if header else {})
                self.assertEqual(r.status, 401, r)
                self.assertIn(r.json["error"], ("invalid_token", "invalid_request"))
                self.assertTrue(r.headers["www-authenticate"].startswith("Bearer"))

    def test_token_ttl(self):
        self.sim.control(token_ttl=1)
        r = self.request("POST", self.sim.token_url[len(self.sim.base_url):],
                         b"grant_type=client_credentials&client_id=other&client_secret=pw",
                         {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.json["expires_in"], 1)
        token = r.json["access_token"]
        self.assertEqual(self.search(token).status, 200)
        time.sleep(1.1)
        r = self.search(token)
        self.assertEqual((r.status, r.json["error"]), (401, "invalid_token"))

    # -- accounts
    def test_accounts_search(self):
        r = self.search()
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["status"], "COMPLETE")
        (sa,) = r.json["accounts"]
        self.assertEqual((sa["account_id"], sa["domain"], sa["account_name"]),
                         (SA, "example.com", "Simulated Smart Account"))
        self.assertEqual([(v["virtual_account_id"], v["name"], v["default"]) for v in sa["virtual_accounts"]],
                         [(VA, "Default", True), (VA2, "Lab", False)])
        r = self.request("POST", self.path("accounts/search"), b"{}",
                         {"Authorization": "Bearer " + self.get_token(), "Content-Type": "application/json"})
        self.assertFailed(r, 405)
        self.assertFailed(self.request("GET", "/services/api/nothing"), 404)

    # -- usage, polls, ACK
    def test_reportusage_poll_and_ack(self):
        sn = new_sn()
        reps = [report(sn, 1700000001, "A"), report(sn, 1700000002, "B"), report(sn, 1700000003, "A")]
        headers = self.device_headers(sn)
        r = self.post_usage(sn, reps, headers)
        poll_id = self.assertAccepted(r)
        raw, root = self.poll_until_complete(poll_id, headers, k=2)
        self.assertEqual([e.tag for e in root], ["smartLicensePolicy", "smartLicenseRumAck",
                                                 "smartLicenseAccountInfo", "correlationID"])
        acks = json.loads(root.find("smartLicenseRumAck/data").text)
        self.assertEqual([a["report_id"] for a in acks], [1700000001, 1700000002, 1700000003])
        self.assertTrue(all(a["udi"] == cssm_sim.sudi(PID, sn) for a in acks))
        self.assertEqual(root.find("smartLicenseAccountInfo/customerInfo/smartAccount").text,
                         "Simulated Smart Account")
        self.assertEqual(root.find("smartLicenseAccountInfo/customerInfo/virtualAccount").text, "Default")
        self.assertEqual(root.find("smartLicensePolicy/policyCode/subscription/reportOnMACD").text, "90")
        self.assertSigned(raw)
        # byte for byte the file simulator's ACK for that device and those reports
        opts = type("Opts", (), dict(policy_name="CSSM Simulator Policy", reporting_days=90, trust_code=False,
                                     smart_account="Simulated Smart Account", virtual_account="Default"))
        expected = cssm_sim.render_ack(cssm_sim.Device("x", (PID, sn), [1700000001, 1700000002, 1700000003]),
                                       opts, root.find("correlationID").text)
        self.assertEqual(raw, expected)
        # polled again (an answer lost on the way): the same bytes
        again = self.poll(poll_id, headers)
        self.assertEqual(again.json["status"], "COMPLETE")
        self.assertEqual(base64.b64decode(again.json["data"]["acknowledgements"][0]["smart_license"]), raw)
        self.assertEqual(self.reports_of(sn), {1700000001: (1, True), 1700000002: (1, True),
                                               1700000003: (1, True)})
        stats = self.sim.stats()
        self.assertEqual(stats["reports"]["P:%s,S:%s" % (PID, sn)],
                         {"1700000001": 1, "1700000002": 1, "1700000003": 1})
        full = {r["report_id"]: r["payload"] for r in self.sim.control_get("/reports?payloads=1")["reports"]
                if r["udi_serial_number"] == sn}
        self.assertEqual(full[1700000002], reps[1]["payload"], "payload kept byte-exact")
        polls = {p["poll_id"]: p for p in self.sim.control_get("/polls")["polls"]}
        self.assertEqual(polls[poll_id]["polls"], 4)
        self.assertTrue(polls[poll_id]["complete"])
        # a poll id is numeric text or a number; the device and the action must match
        r = self.request("POST", self.path("accounts/poll"),
                         {"data": {"timestamp": int(time.time() * 1000), "nonce": "n", "poll_id": int(poll_id),
                                   "action": "acknowledgements"}}, headers)
        self.assertEqual(r.json["status"], "COMPLETE", r)
        self.assertFailed(self.poll(poll_id, headers, "authorizations"), 400, "action")
        other = new_sn()
        self.assertFailed(self.poll(poll_id, self.device_headers(other)), 403, "another device")
        self.assertFailed(self.poll(poll_id, self.device_headers(sn, va=VA2)), 403)

    def test_trust_request_rides_with_usage(self):
        sn = new_sn()
        headers = self.device_headers(sn)
        trust = [{"sudi": cssm_sim.sudi(PID, sn), "trust_id": "t1", "request_type": "trust_establishment"}]
        poll_id = self.assertAccepted(self.post_usage(sn, [report(sn, 7, "B")], headers, trust_requests=trust))
        self.sim.control(polls_before_complete=0)
        raw, root = self.poll_until_complete(poll_id, headers, k=0)
        self.assertEqual(root.find("smartLicenseTrustCode/udi").text, "P:%s,S:%s" % (PID, sn))
        self.assertIn("smartLicenseTrustCode", self.assertSigned(raw))

    def test_unknown_and_malformed_poll_ids(self):
        sn = new_sn()
        headers = self.device_headers(sn)
        before = self.sim.stats()["polls_unknown"]
        r = self.poll("1234567890123456789", headers)
        self.assertFailed(r, 404, "unknown poll_id")
        self.assertEqual(r.json["message_code"], "POLL_ID_NOT_FOUND")
        self.assertEqual(self.sim.stats()["polls_unknown"], before + 1)
        for bad in ("12a", "", None, -5, 1.5, "1" * 21, True):
            with self.subTest(poll_id=bad):
                self.assertFailed(self.poll(bad, headers), 400, "poll_id")
        r = self.request("POST", self.path("accounts/poll"), {"data": {"poll_id": "1", "action": "x"}}, headers)
        self.assertFailed(r, 400, "timestamp")

    # -- reports already received
    def test_duplicates_and_conflicts(self):
        sn = new_sn()
        headers = self.device_headers(sn)
        first = report(sn, 501)
        self.assertAccepted(self.post_usage(sn, [first], headers))
        before = self.sim.stats()
        r = self.post_usage(sn, [first], headers)
        self.assertFailed(r, 200, "already received")
        self.assertIn("501", r.json["message"])
        # one report already received spoils the whole call: the new one is counted, not kept
        fresh = report(sn, 502)
        self.assertFailed(self.post_usage(sn, [fresh, first], headers), 200, "already received")
        self.assertEqual(self.reports_of(sn), {501: (3, True), 502: (1, False)})
        self.assertAccepted(self.post_usage(sn, [fresh], headers))
        self.assertEqual(self.reports_of(sn), {501: (3, True), 502: (2, True)})
        # the same id with another payload
        changed = report(sn, 501, start=1700003600)
        self.assertNotEqual(changed["payload"], first["payload"])
        self.assertFailed(self.post_usage(sn, [changed], headers), 200, "different payload")
        after = self.sim.stats()
        self.assertEqual(after["duplicates"] - before["duplicates"], 2)
        self.assertEqual(after["conflicts"] - before["conflicts"], 1)
        self.assertEqual(after["reports"]["P:%s,S:%s" % (PID, sn)], {"501": 4, "502": 2})
        # the same report twice in one call is one report; different payloads are refused
        sn2 = new_sn()
        h2 = self.device_headers(sn2)
        poll_id = self.assertAccepted(self.post_usage(sn2, [report(sn2, 9), report(sn2, 9)], h2))
        _, root = self.poll_until_complete(poll_id, h2)
        self.assertEqual([a["report_id"] for a in json.loads(root.find("smartLicenseRumAck/data").text)], [9])
        self.assertFailed(self.post_usage(sn2, [report(sn2, 10), report(sn2, 10, start=1)], h2), 400,
                          "different payloads")

    def test_duplicate_failed_switch(self):
        sn = new_sn()
        headers = self.device_headers(sn)
        self.sim.control(duplicate_failed=True)
        self.assertFailed(self.post_usage(sn, [report(sn, 1), report(sn, 2)], headers), 200, "already received")
        self.assertEqual(self.reports_of(sn), {1: (1, True), 2: (1, True)})
        self.sim.control(duplicate_failed=False)
        self.assertFailed(self.post_usage(sn, [report(sn, 1)], headers), 200, "already received")
        self.assertAccepted(self.post_usage(sn, [report(sn, 3)], headers))

    # -- validation
    def test_device_header_validation(self):
        sn = new_sn()
        good = self.device_headers(sn)
        rs = json.dumps(cssm_sim.sudi(PID, sn))
        before = self.sim.stats()["reports_received"]
        cases = [
            ({"X-CSW-SMART-ACCOUNT-ID": None}, 400, "X-CSW-SMART-ACCOUNT-ID is missing"),
            ({"X-CSW-VIRTUAL-ACCOUNT-ID": None}, 400, "X-CSW-VIRTUAL-ACCOUNT-ID is missing"),
            ({"X-CSW-SMART-ACCOUNT-ID": "acme"}, 400, "not a decimal account id"),
            ({"X-CSW-SMART-ACCOUNT-ID": "999"}, 403, "smart account 999"),
            ({"X-CSW-VIRTUAL-ACCOUNT-ID": "999"}, 404, "virtual account 999"),
            ({"X-CSW-REQUESTING-SYSTEM": None}, 400, "X-CSW-REQUESTING-SYSTEM is missing"),
            ({"X-CSW-REQUESTING-SYSTEM": "C9300/FOC1"}, 400, "X-CSW-REQUESTING-SYSTEM is not JSON"),
            ({"X-CSW-REQUESTING-SYSTEM": '{"udi_pid":"%s"}' % PID}, 400, "udi_serial_number"),
            ({"X-CSW-REQUESTING-SYSTEM": '["%s"]' % PID}, 400, "X-CSW-REQUESTING-SYSTEM is not an object"),
            ({"X-CSW-REQUESTING-SYSTEM": rs[:-1] + ',"display_name":5}'}, 400, "display_name"),
            ({"X-CSW-REQUESTING-SYSTEM": json.dumps(cssm_sim.sudi(PID, "OTHER1"))}, 400,
             "X-CSW-REQUESTING-SYSTEM is P:%s,S:OTHER1" % PID),
            ({"Content-Type": "text/plain"}, 415, "application/json"),
            ({"Content-Type": None}, 415, "application/json"),
        ]
        for change, status, needle in cases:
            with self.subTest(change=change):
                headers = dict(good)
                for k, v in change.items():
                    if v is None:
                        del headers[k]
                    else:
                        headers[k] = v
                self.assertFailed(self.post_usage(sn, [report(sn, 1)], headers), status, needle)
        r = self.post_usage(sn, [report(sn, 1)], {k: v for k, v in good.items() if k != "Authorization"})
        self.assertEqual(r.status, 401)
        self.assertEqual(self.sim.stats()["reports_received"], before, "nothing was recorded")
        self.assertEqual(self.reports_of(sn), {})

    def test_body_validation(self):
        sn = new_sn()
        headers = self.device_headers(sn)
        ok = report(sn, 1)
        no_id = dict(ok, payload=json.dumps({"asset_identification": {"instance": {"sudi": cssm_sim.sudi(PID, sn)}},
                                             "meta": {}}))
        other_udi = report("FOREIGN1", 2)
        cases = [
            ({"nope": {}}, 400, "no \"data\" object"),
            ({"data": []}, 400, "no \"data\" object"),
            (usage_body(sn, [ok], timestamp=int(time.time())), 400, "milliseconds"),
            (usage_body(sn, [ok], timestamp="soon"), 400, "data.timestamp"),
            (usage_body(sn, [ok], nonce=""), 400, "data.nonce"),
            (usage_body(sn, [ok], nonce="x" * 300), 400, "data.nonce"),
            (usage_body(sn, [ok], reports=[]), 400, "data.reports"),
            (usage_body(sn, [ok], reports=["x"]), 400, "data.reports[0] is not an object"),
            (usage_body(sn, [ok], reports=[{"sudi": cssm_sim.sudi(PID, sn)}]), 400, "data.reports[0].usage"),
            (usage_body(sn, []), 400, "no RUM report"),
            (usage_body(sn, [ok], sudi=cssm_sim.sudi(PID, "ELSE1")), 400, "data.sudi"),
            (usage_body(sn, [no_id]), 400, "data.reports[0].usage[0]: payload has no report id"),
            (usage_body(sn, [dict(ok, payload="not json")]), 400, "payload is not JSON"),
            (usage_body(sn, [{"payload": ok["payload"]}]), 400, "no signature object"),
            (usage_body(sn, [5]), 400, "not a RUM report object"),
            (usage_body(sn, [other_udi]), 400, "UDI is P:%s,S:FOREIGN1" % PID),
        ]
        for body, status, needle in cases:
            with self.subTest(needle=needle):
                r = self.request("POST", self.path("devices/reportusage"), body, headers)
                self.assertFailed(r, status, needle)
        self.assertEqual(self.reports_of(sn), {})
        self.assertEqual(self.reports_of("FOREIGN1"), {})

    def test_hostile_bodies(self):
        sn = new_sn()
        headers = self.device_headers(sn)
        before = self.sim.stats()["bodies_too_large"]
        big = json.dumps(usage_body(sn, [report(sn, 1)], padding="x" * MAX_BODY)).encode()
        self.assertFailed(self.request("POST", self.path("devices/reportusage"), big, headers), 413, "over the limit")
        self.assertEqual(self.sim.stats()["bodies_too_large"], before + 1)
        # a huge announced length: refused from the header, before any body
        conn = http.client.HTTPSConnection("127.0.0.1", self.sim.port, timeout=10, context=self.ctx)
        try:
            conn.putrequest("POST", self.path("devices/reportusage"))
            for k, v in dict(headers, **{"Content-Length": str(1 << 40)}).items():
                conn.putheader(k, v)
            conn.endheaders(b"{")
            resp = conn.getresponse()
            self.assertFailed(Reply(resp.status, {}, resp.read()), 413)
        finally:
            conn.close()
        conn = http.client.HTTPSConnection("127.0.0.1", self.sim.port, timeout=10, context=self.ctx)
        try:
            conn.request("POST", self.path("devices/reportusage"), body=iter([b"{}"]), headers=headers,
                         encode_chunked=True)
            resp = conn.getresponse()
            self.assertFailed(Reply(resp.status, {}, resp.read()), 411)
        finally:
            conn.close()
        for body, needle in ((b"{", "body is not JSON"), (b"[]", "not a JSON object"),
                             (b"\xff\xfe{}", "not UTF-8"), (b"[" * 60000, "nested too deeply"),
                             (b'{"data": {"timestamp": 1' + b"1" * 5000 + b"}}", "body is not JSON"),
                             (b"", "body is not JSON")):
            with self.subTest(needle=needle, size=len(body)):
                r = self.request("POST", self.path("devices/reportusage"), body, headers)
                self.assertFailed(r, 400, needle)
        deep = dict(report(sn, 1), payload="[" * 60000)
        r = self.request("POST", self.path("devices/reportusage"), usage_body(sn, [deep]), headers)
        self.assertFailed(r, 400)
        r = self.request("POST", self.path("accounts/poll"), b"\x00" * 100, headers)
        self.assertFailed(r, 400)
        self.assertEqual(self.search().status, 200)
        self.assertEqual(self.reports_of(sn), {})

    # -- authrequest
    def test_authrequest_round_trip(self):
        sn = new_sn()
        headers = self.device_headers(sn)
        tag = "regid.2018-12.com.cisco.DNA_P_50M_A,1.0_100fb8b2-f5cc-459c-9253-ac77b827fd71"
        body = {"data": {"timestamp": int(time.time() * 1000), "nonce": "5a5a5a5a",
                         "licenses": [{"sudi": cssm_sim.sudi(PID, sn), "hostname": "h",
                                       "keys": [{"entitlement": tag, "count": "2"}]}]}}
        r = self.request("POST", self.path("devices/authrequest"), body, headers)
        poll_id = self.assertAccepted(r, nonce="5a5a5a5a", action="authorizations")
        self.assertFailed(self.poll(poll_id, headers, "acknowledgements"), 400, "action")
        raw, root = self.poll_until_complete(poll_id, headers, action="authorizations")
        auth = root.find("smartLicenseAuthorization")
        self.assertEqual(auth.find("udi").text, "P:%s,S:%s" % (PID, sn))
        code = json.loads(auth.find("authorizationCode").text)
        self.assertEqual(code["entitlements"], [{"tag": tag, "count": 2}])
        self.assertSigned(raw)
        trust = {"data": {"timestamp": int(time.time() * 1000), "nonce": "7a7a7a7a",
                          "trust_requests": [{"sudi": cssm_sim.sudi(PID, sn), "trust_id": "x"}]}}
        poll_id = self.assertAccepted(self.request("POST", self.path("devices/authrequest"), trust, headers),
                                      nonce="7a7a7a7a", action="authorizations")
        raw, root = self.poll_until_complete(poll_id, headers, action="authorizations")
        self.assertEqual([e.tag for e in root], ["smartLicenseTrustCode", "correlationID"])
        for data, needle in (({"licenses": []}, "neither licenses nor trust_requests"),
                             ({"licenses": [{"sudi": cssm_sim.sudi(PID, "ELSE")}]}, "X-CSW-REQUESTING-SYSTEM"),
                             ({"licenses": [{"sudi": cssm_sim.sudi(PID, sn), "keys": [{"count": 1}]}]},
                              "entitlement"),
                             ({"licenses": [{"sudi": cssm_sim.sudi(PID, sn),
                                             "keys": [{"entitlement": tag, "count": -1}]}]}, "count"),
                             ({"licenses": [{"sudi": cssm_sim.sudi(PID, sn), "keys": []}]}, "remove_code")):
            with self.subTest(needle=needle):
                body = {"data": dict({"timestamp": int(time.time() * 1000), "nonce": "n"}, **data)}
                self.assertFailed(self.request("POST", self.path("devices/authrequest"), body, headers), 400, needle)
        remove = {"data": {"timestamp": int(time.time() * 1000), "nonce": "n",
                           "licenses": [{"sudi": cssm_sim.sudi(PID, sn), "keys": [], "remove_code": "R1"}]}}
        self.assertAccepted(self.request("POST", self.path("devices/authrequest"), remove, headers),
                            nonce="n", action="authorizations")

    # -- fault switches, flipped at run time
    def test_expire_tokens(self):
        old = self.get_token()
        self.assertEqual(self.search(old).status, 200)
        before = self.sim.stats()["tokens_rejected"]
        self.assertNotIn("expire_tokens", self.sim.control(expire_tokens=True), "a one-shot action")
        r = self.search(old)
        self.assertEqual((r.status, r.json["error"]), (401, "invalid_token"))
        self.assertIn('error="invalid_token"', r.headers["www-authenticate"])
        fresh = self.get_token()
        self.assertEqual(self.search(fresh).status, 200)
        self.assertEqual(self.search(fresh).status, 200)
        self.assertEqual(self.search(old).status, 401, "the old token stays revoked")
        self.assertEqual(self.sim.stats()["tokens_rejected"], before + 2)

    def test_rate_limit(self):
        token = self.get_token()
        self.assertEqual(self.sim.control(rate_limit=2, retry_after=3)["rate_limit"], 2)
        for _ in range(2):
            r = self.search(token)
            self.assertFailed(r, 429)
            self.assertEqual(r.headers["retry-after"], "3")
        self.assertEqual(self.search(token).status, 200)
        # the token endpoint is out of the default scope, and in scope "token"
        self.sim.control(rate_limit=1)
        token = self.get_token()
        self.assertEqual(self.search(token).status, 429)
        self.sim.control(rate_limit=1, fault_scope="token")
        self.assertEqual(self.search(token).status, 200)
        r = self.request("POST", self.sim.token_url[len(self.sim.base_url):],
                         b"grant_type=client_credentials&client_id=other&client_secret=pw",
                         {"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 429)
        self.assertEqual(self.sim.stats()["requests"]["token"]["429"], 1)

    def test_fail_500(self):
        token = self.get_token()
        self.sim.control(fail_500=1)
        self.assertFailed(self.search(token), 500)
        self.assertEqual(self.search(token).status, 200)
        self.sim.control(fail_500=1, html_errors=True)
        r = self.search(token)
        self.assertEqual(r.status, 500)
        self.assertEqual(r.headers["content-type"], "text/html")
        self.assertIn(b"<html>", r.raw)
        self.assertEqual(self.search(token).status, 200)

    def test_slow(self):
        token = self.get_token()
        self.sim.control(slow_ms=300)
        t0 = time.monotonic()
        self.assertEqual(self.search(token).status, 200)
        self.assertGreaterEqual(time.monotonic() - t0, 0.3)
        with self.assertRaises((TimeoutError, socket.timeout)):
            self.search(token, timeout=0.1)
        self.sim.control(slow_ms=0)
        t0 = time.monotonic()
        self.assertEqual(self.search(token).status, 200)
        self.assertLess(time.monotonic() - t0, 0.3)

    def test_drop_connection(self):
        token = self.get_token()
        sn = new_sn()
        headers = self.device_headers(sn, token=token)
        self.sim.control(drop_connection=1)
        with self.assertRaises((http.client.HTTPException, ConnectionError, ssl.SSLError)):
            self.post_usage(sn, [report(sn, 1)], headers)
        self.assertEqual(self.reports_of(sn), {}, "a dropped call records nothing")
        self.assertAccepted(self.post_usage(sn, [report(sn, 1)], headers))
        stats = self.sim.stats()
        self.assertEqual(stats["requests"]["reportusage"].get("dropped"), 1)
        self.assertGreaterEqual(stats["faults_applied"]["drop_connection"], 1)

    def test_control_interface(self):
        port = self.sim.control_port
        for body, needle in (({"bogus": 1}, "unknown switch"), ({"rate_limit": -1}, "non-negative"),
                             ({"rate_limit": "2"}, "non-negative"), ({"token_401": 1}, "true or false"),
                             ({"fault_scope": "db"}, "fault_scope"), ([], "not a JSON object")):
            with self.subTest(body=body):
                req = urllib.request.Request("http://127.0.0.1:%d/control" % port, json.dumps(body).encode(),
                                             {"Content-Type": "application/json"}, method="POST")
                with self.assertRaises(urllib.error.HTTPError) as cm:
                    urllib.request.urlopen(req, timeout=5)
                self.assertEqual(cm.exception.code, 400)
                self.assertIn(needle, json.loads(cm.exception.read())["message"])
        self.assertEqual(self.sim.control_get("/control")["faults"]["rate_limit"], 0, "nothing changed")
        with self.assertRaises(urllib.error.HTTPError) as cm:
            urllib.request.urlopen("http://127.0.0.1:%d/nothing" % port, timeout=5)
        self.assertEqual(cm.exception.code, 404)
        self.search()
        self.sim.control(reset_stats=True)
        stats = self.sim.stats()
        self.assertEqual((stats["tokens_issued"], stats["requests"]), (0, {}))


class TestOptionsAndRestart(SimCase):
    """A simulator started with non-default options, and one with a state
    file stopped and started again."""

    extra_args = ("--duplicate-policy", "partial", "--reply-shape", "data", "--poll-id-type", "number",
                  "--smart-account", "42:acme.example:ACME Corp", "--virtual-account", "42:43:Prod: East",
                  "--token-path", "/oauth/token", "--api-base", "/cssm/v2", "--polls-before-complete", "0",
                  "--reporting-days", "30", "--policy-name", "Custom Policy", "--fault", "rate_limit=1",
                  "--quiet")

    def test_started_with_options(self):
        self.assertEqual(self.sim.token_url, self.sim.base_url + "/oauth/token")
        token = self.get_token()
        self.assertEqual(self.search(token).status, 429, "--fault rate_limit=1 from the start")
        r = self.search(token)
        self.assertEqual(r.status, 200)
        (sa,) = r.json["accounts"]
        self.assertEqual((sa["account_id"], sa["domain"], sa["account_name"]), ("42", "acme.example", "ACME Corp"))
        self.assertEqual(sa["virtual_accounts"], [{"virtual_account_id": "43", "name": "Prod: East", "default": True}])
        sn = new_sn()
        headers = self.device_headers(sn, token=token, sa="42", va="43")
        self.assertFailed(self.post_usage(sn, [report(sn, 1)], self.device_headers(sn, token=token)), 403)
        r = self.post_usage(sn, [report(sn, 1), report(sn, 2)], headers)
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("poll_id", r.json)
        data = r.json["data"]
        self.assertEqual((r.json["status"], data["action"]), ("OK_POLL", "acknowledgements"))
        self.assertIsInstance(data["poll_id"], int)
        self.assertGreater(data["poll_id"], 2 ** 53)
        raw, root = self.poll_until_complete(data["poll_id"], headers, k=0)
        self.assertEqual(root.find("smartLicensePolicy/policyCode/name").text, "Custom Policy")
        self.assertEqual(root.find("smartLicensePolicy/policyCode/perpetual/onGoingReporting").text, "30")
        self.assertEqual(root.find("smartLicenseAccountInfo/customerInfo/virtualAccount").text, "Prod: East")
        # partial: the new report of a call with an old one is kept and acknowledged alone
        r = self.post_usage(sn, [report(sn, 2), report(sn, 3)], headers)
        raw, root = self.poll_until_complete(r.json["data"]["poll_id"], headers, k=0)
        self.assertEqual([a["report_id"] for a in json.loads(root.find("smartLicenseRumAck/data").text)], [3])
        self.assertEqual(self.reports_of(sn), {1: (1, True), 2: (2, True), 3: (1, True)})
        self.assertFailed(self.post_usage(sn, [report(sn, 3)], headers), 200, "already received")
        self.assertEqual(self.sim.log(), "", "--quiet logs no request")

    def test_state_survives_a_restart(self):
        state = os.path.join(self.tmp, "state.json")
        sim = self.start_sim(["--state-file", state], "state1")
        try:
            token = self.get_token(sim=sim)
            sn = new_sn()
            headers = self.device_headers(sn, token=token, sim=sim)
            r = self.post_usage(sn, [report(sn, 11), report(sn, 12)], headers, sim=sim)
            poll_id = self.assertAccepted(r)
            self.assertEqual(self.poll(poll_id, headers, sim=sim).json["status"], "OK_POLL")
        finally:
            self.assertEqual(sim.stop(), 0)
        self.assertEqual([n for n in os.listdir(self.tmp) if n.endswith(".tmp")], [], "no temporary file left")
        with open(state) as f:
            self.assertEqual(json.load(f)["version"], 1)
        sim = self.start_sim(["--state-file", state], "state2")
        try:
            self.assertEqual(self.search(token, sim=sim).status, 200, "the token survives")
            r = self.post_usage(sn, [report(sn, 12)], headers, sim=sim)
            self.assertFailed(r, 200, "already received")
            self.assertEqual(self.reports_of(sn, sim), {11: (1, True), 12: (2, True)})
            # one poll was used before the restart: one more OK_POLL, then COMPLETE
            raw, root = self.poll_until_complete(poll_id, headers, k=1, sim=sim)
            self.assertEqual([a["report_id"] for a in json.loads(root.find("smartLicenseRumAck/data").text)],
                             [11, 12])
        finally:
            self.assertEqual(sim.stop(), 0)

    def test_command_line_errors(self):
        tool = os.path.join(TOOLS, "cssm_api_sim.py")

        def run(*args):
            return subprocess.run([sys.executable, tool, *args], capture_output=True, text=True, timeout=30)
        base = ["serve", "--listen", "127.0.0.1:0", "--cert", self.cert, "--key", self.key]
        damaged = os.path.join(self.tmp, "damaged.json")
        with open(damaged, "w") as f:
            f.write('{"version": 1, "tokens": {}')
        for args, needle in ((["serve"], "required"), (base + ["--fault", "bogus=1"], "NAME=VALUE"),
                             (base + ["--listen", "nowhere"], "HOST:PORT"),
                             (["serve", "--listen", "127.0.0.1:0", "--cert", self.ca, "--key", self.key],
                              "cannot load"),
                             (base + ["--virtual-account", "1:2:x"], "no --smart-account 1"),
                             (base + ["--state-file", damaged], "cannot load state file")):
            with self.subTest(args=args[-2:]):
                r = run(*args)
                self.assertEqual(r.returncode, 2, r)
                self.assertIn(needle, r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
