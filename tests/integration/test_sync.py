"""Connected mode (PROTOCOL.md 5.1): rum-agent devices push to a real rumd,
`rumd sync` sends their reports to the CSSM API simulator over HTTPS (a
test CA), polls until COMPLETE, stores each ACK exactly as an imported one,
and the devices install it on their next exchange.

What users rely on: each report reaches the upstream once, byte-exact,
with the device's UDI in X-CSW-REQUESTING-SYSTEM; a second sync sends
nothing again; every failure is named (credentials, accounts, TLS) and
changes none of the tenant's reports; 429 with Retry-After, 500s and a
dropped connection are retried; an expired token is refreshed once; a
report the upstream already has is delivered, not an error; a refusal is
kept per call with the upstream's message; `rumd sync status` shows it
all."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time

import rumtest as rt

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(HERE, "..", "tools")
sys.path.insert(0, TOOLS)
import cssm_api_sim as api  # noqa: E402

BUILD = os.environ.get("RUM_BUILD_DIR", "")
AGENT = os.path.join(BUILD, "agent", "rum-agent")
TAG = "regid.2017-03.com.cisco.advantagek9,1.0_bd1da96e-ec1d-412b-a50e-53846b347d53"
CLIENT, SECRET = "rumd-sync", "sync-secret-Qw7Er9Ty"
SA_NAME, VA_NAME = "Simulated Smart Account", "Default"


def agent(*args, check=True, timeout=120):
    proc = subprocess.run([AGENT, *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError("rum-agent %s exited %d:\n%s%s" % (
            " ".join(args), proc.returncode, proc.stdout, proc.stderr))
    return proc


def report_states(state):
    out = {}
    for line in agent("show", "--state", state, "rum").stdout.splitlines():
        m = re.match(r"^(\d+)\s+(OPEN|CLOSED|UNACK|ACK)\s", line)
        if m:
            out[int(m.group(1))] = m.group(2)
    return out


class Sync(rt.RumTestCase):

    NAME = "sync"
    FLAGS = {"sync_schedule": "false"}  # the command line runs every sync here

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.path.exists(AGENT):
            raise rt.unittest.SkipTest("no rum-agent binary: set RUM_BUILD_DIR (ctest does)")
        cls.prepare()
        cls.start_sim()
        cls.start_node()

    @classmethod
    def prepare(cls, names=()):
        """The class's files: a test CA (naming `names` too) and the client
        secret."""
        cls.tmp = rt.make_tempdir("%s-" % cls.NAME, 0o777)
        cls.ca, cls.cert, cls.key = api.make_test_ca(os.path.join(cls.tmp, "ca"), names)
        cls.secret_file = cls.private_file("client-secret", SECRET)
        cls.outputs = []

    @classmethod
    def private_file(cls, name, text):
        path = os.path.join(cls.tmp, name)
        with open(path, "w") as f:
            f.write(text + "\n")
        os.chmod(path, 0o600)
        return path

    @classmethod
    def start_sim(cls):
        cls.sim = api.spawn(cls.cert, cls.key, ["--client", "%s:%s" % (CLIENT, SECRET),
                                                "--polls-before-complete", "1"],
                            log_path=os.path.join(cls.tmp, "sim.log"))

    @classmethod
    def start_node(cls):
        cls.url, cls.db = cls.fresh_database(cls.NAME.replace("-", ""))
        cls.data = rt.make_tempdir("%s-data-" % cls.NAME, 0o755)
        cls.rumd = cls.start_class_rumd(database_url=cls.url, data_dir=cls.data,
                                        flags=cls.FLAGS)
        cls.base = "http://127.0.0.1:%d/cslu/v1/pi" % cls.rumd.port

    @classmethod
    def tearDownClass(cls):
        if cls.sim:
            cls.sim.stop()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        self.sim.control(reset_stats=True, token_401=False, duplicate_failed=False, slow_ms=0,
                         rate_limit=0, fail_500=0, drop_connection=0)

    # -- helpers ---------------------------------------------------------------

    def cmd(self, *args, expect=0, timeout=300, poll_first=0):
        proc = rt.run_rumd(list(args) + ["--database_url=" + self.url, "--data_dir=" + self.data,
                                         "--sync_poll_first_s=%d" % poll_first,
                                         "--sync_poll_every_s=0", "--sync_retry_max_s=2"],
                           timeout=timeout)
        self.outputs.append(proc.stdout + proc.stderr)
        if expect is not None:
            self.assertEqual(proc.returncode, expect, "rumd %s:\n%s%s"
                             % (" ".join(args), proc.stdout, proc.stderr))
        return proc

    def tenant(self, name, ca=True, add=True, extra=(), **kw):
        if add:
            rt.add_tenant(self.url, name)
        args = ["upstream", "set", "--tenant", name, "--kind", "cssm", "--client-id", CLIENT,
                "--client-secret-file", self.secret_file, "--token-url", self.sim.token_url,
                "--api-url", self.sim.base_url + self.sim.api_base]
        if kw.get("ids"):
            args += ["--smart-account-id", "1000001", "--virtual-account-id", "2000001"]
        else:
            args += ["--smart-account", kw.get("sa", SA_NAME),
                     "--virtual-account", kw.get("va", VA_NAME)]
        if ca:
            args += ["--ca-file", self.ca]
        self.cmd(*args, *extra)

    def devices(self, tenant, n, tag):
        states = []
        for i in range(n):
            state = os.path.join(self.tmp, "%s-%d" % (tag, i))
            agent("init", "--state", state, "--pid", "C9300-24P",
                  "--serial", "FOC%s%04d" % (tag.upper()[:4], i), "--hostname", "%s-%d" % (tag, i),
                  "--entitlement", "%s=%d" % (TAG, i + 1))
            self.push(state, tenant, expect_ack=False)
            states.append(state)
        return states

    def push(self, state, tenant, expect_ack):
        proc = agent("sync", "--state", state, "--url", "%s/%s" % (self.base, tenant),
                     "--max-polls", "1", "--poll-interval", "0.05", check=False)
        self.assertIn(proc.returncode, (0, 3), proc.stdout + proc.stderr)
        if expect_ack is not None:
            self.assertEqual("ACK installed" in proc.stderr or "ack=installed" in proc.stderr,
                             expect_ack, proc.stderr)

    def q(self, sql):
        return self.pg.psql(sql, db=self.db)

    def scalar(self, sql):
        return self.pg.scalar(sql, db=self.db)

    def tenant_reports(self, tenant):
        return {(sn, int(rid)): rep for sn, rid, rep in self.q(
            "SELECT r.udi_serial, r.report_id, r.report FROM rum_reports r JOIN tenants t "
            "ON t.id = r.tenant_id WHERE t.name = '%s'" % tenant)}

    def sim_reports(self):
        return {(r["udi_serial_number"], int(r["report_id"])): r
                for r in self.sim.control_get("/reports?payloads=1")["reports"]}

    def sync(self, tenant, *extra, expect=0, poll_first=0):
        proc = self.cmd("sync", "--tenant", tenant, "--json", *extra, expect=expect,
                        poll_first=poll_first)
        return json.loads(proc.stdout.strip().splitlines()[-1]), proc

    # -- the loop --------------------------------------------------------------

    def test_1_devices_get_their_ack_through_a_sync(self):
        self.tenant("loop")
        states = self.devices("loop", 3, "loop")
        ours = self.tenant_reports("loop")
        self.assertEqual(len(ours), 3)

        res, proc = self.sync("loop", "--wait")
        self.assertTrue(res["ok"], proc.stdout)
        self.assertEqual((res["devices"], res["reports"], res["sent"], res["acks"],
                          res["reports_acked"], res["pending"]), (3, 3, 3, 3, 3, 0), res)

        # Each report reached the upstream once, byte-exact, for its device.
        theirs = self.sim_reports()
        stats = self.sim.stats()
        for key, text in ours.items():
            self.assertIn(key, theirs)
            # The signed payload text, exactly as the device wrote it.
            self.assertEqual(theirs[key]["payload"], json.loads(text)["payload"],
                             "report %s not byte-exact" % (key,))
            self.assertEqual(stats["reports"]["P:C9300-24P,S:%s" % key[0]][str(key[1])], 1)
        self.assertEqual(stats["tokens_issued"], 1)
        self.assertEqual(stats["requests"]["search"], {"200": 1})

        # Stored as imported ACKs, the reports acknowledged, and the
        # devices install them on their next exchange.
        self.assertEqual(int(self.scalar(
            "SELECT count(*) FROM rum_reports r JOIN tenants t ON t.id = r.tenant_id "
            "WHERE t.name = 'loop' AND r.acked_at IS NOT NULL")), 3)
        self.assertEqual(int(self.scalar(
            "SELECT count(*) FROM imports WHERE scope LIKE 'tenant=' || "
            "(SELECT id FROM tenants WHERE name = 'loop') || ';%;upstream'")), 3)
        for st in states:
            self.push(st, "loop", expect_ack=True)
            self.assertIn("ACK", report_states(st).values())

        # Those exchanges closed a report each: the next sync sends those
        # three alone, and then there is nothing left to send.
        res, _ = self.sync("loop", "--wait")
        self.assertEqual((res["reports"], res["sent"], res["acks"]), (3, 3, 3), res)
        res, _ = self.sync("loop")
        self.assertEqual((res["reports"], res["sent"]), (0, 0), res)
        stats = self.sim.stats()
        self.assertEqual(stats["reports_received"], 6)
        self.assertEqual(stats["duplicates"], 0)

        proc = self.cmd("sync", "status", "--tenant", "loop", "--json")
        status = json.loads(proc.stdout)
        self.assertEqual([r["state"] for r in status["runs"]], ["done", "done", "done"])
        self.assertEqual(status["runs"][2]["acks"], 3)
        self.assertTrue(status["state"]["last_ok_at"])
        text = self.cmd("sync", "status", "--tenant", "loop").stdout
        self.assertIn("ACKs 3", text)

    def test_2_without_wait_the_next_sync_brings_the_acks(self):
        self.tenant("later", ids=True)
        self.devices("later", 2, "later")
        res, _ = self.sync("later", poll_first=2)
        self.assertEqual((res["sent"], res["acks"], res["pending"]), (2, 0, 2), res)
        self.assertEqual(self.sim.stats()["requests"].get("search"), None, "ids need no search")
        res, _ = self.sync("later", "--wait")
        self.assertEqual((res["reports"], res["acks"], res["pending"]), (0, 2, 0), res)
        self.assertEqual(self.sim.stats()["reports_received"], 2)

    # -- failures --------------------------------------------------------------

    def assert_unchanged(self, tenant):
        self.assertEqual(int(self.scalar(
            "SELECT count(*) FROM rum_reports r JOIN tenants t ON t.id = r.tenant_id "
            "WHERE t.name = '%s' AND r.acked_at IS NOT NULL" % tenant)), 0)
        self.assertEqual(int(self.scalar(
            "SELECT count(*) FROM acks a JOIN tenants t ON t.id = a.tenant_id "
            "WHERE t.name = '%s'" % tenant)), 0)

    def test_3_failures_are_named_and_change_nothing(self):
        self.tenant("fail")
        self.devices("fail", 1, "fail")
        self.sim.control(token_401=True)
        res, proc = self.sync("fail", expect=1)
        self.assertIn("client id and secret were refused", res["error"])
        self.assertIn("invalid_client", res["error"])
        self.assertNotIn(SECRET, proc.stdout + proc.stderr)
        self.assert_unchanged("fail")
        self.sim.control(token_401=False)

        rt.add_tenant(self.url, "fail-sa")
        self.cmd("upstream", "set", "--tenant", "fail-sa", "--kind", "cssm", "--client-id",
                  CLIENT, "--client-secret-file", self.secret_file, "--token-url",
                  self.sim.token_url, "--api-url", self.sim.base_url + self.sim.api_base,
                  "--smart-account", "No Such Account", "--virtual-account", "Default",
                  "--ca-file", self.ca)
        res, _ = self.sync("fail-sa", expect=1)
        self.assertIn("no Smart Account named 'No Such Account'", res["error"])

        self.tenant("fail-tls", ca=False)
        res, _ = self.sync("fail-tls", expect=1)
        self.assertIn("certificate", res["error"])
        self.assertIn("not trusted", res["error"])

        status = json.loads(self.cmd("sync", "status", "--tenant", "fail", "--json").stdout)
        self.assertTrue(status["state"]["failing_since"])
        self.assertIn("refused", status["runs"][0]["error"])
        # The same sync goes through once the upstream takes the credentials.
        res, _ = self.sync("fail", "--wait")
        self.assertEqual((res["resumed"], res["acks"]), (True, 1), res)
        status = json.loads(self.cmd("sync", "status", "--tenant", "fail", "--json").stdout)
        self.assertEqual(status["state"]["failing_since"], "")

    def test_4_transient_answers_are_retried(self):
        self.tenant("retry", ids=True)
        self.devices("retry", 3, "retry")
        self.sim.control(rate_limit=2, retry_after=1, fail_500=1, drop_connection=1)
        t0 = time.monotonic()
        res, proc = self.sync("retry", "--wait")
        self.assertTrue(res["ok"], proc.stdout)
        self.assertEqual(res["acks"], 3, res)
        self.assertGreaterEqual(res["retries"], 3, res)
        self.assertGreaterEqual(time.monotonic() - t0, 1.0, "Retry-After: 1 was not honoured")
        stats = self.sim.stats()
        self.assertEqual(stats["faults_applied"]["rate_limit"], 2)
        self.assertEqual(stats["reports_recorded"], 3)

    def test_5_expired_token_is_refreshed_once(self):
        self.tenant("expire", ids=True)
        self.devices("expire", 2, "expire")
        self.sim.control(polls_before_complete=1000)
        proc = subprocess.Popen(
            [rt.rumd_bin(), "sync", "--tenant", "expire", "--wait", "--json",
             "--database_url=" + self.url, "--data_dir=" + self.data, "--sync_poll_first_s=0",
             "--sync_poll_every_s=0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            rt.wait_for(lambda: self.sim.stats()["polls"] >= 4, 30, what="polls under way")
            # One node at a time on a tenant's sync: a second one is told
            # where it runs, and changes nothing.
            res, _ = self.sync("expire", expect=1)
            self.assertIn("sync is running on", res["error"])
            self.assertEqual(res["run"], 0, res)
            # Every token issued so far is revoked while the polls go on.
            self.sim.control(expire_tokens=True, polls_before_complete=1)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.outputs.append(out + err)
        self.assertEqual(proc.returncode, 0, out + err)
        res = json.loads(out.strip().splitlines()[-1])
        self.assertEqual(res["acks"], 2, res)
        stats = self.sim.stats()
        self.assertEqual(stats["tokens_issued"], 2, "one refresh, not one per call")
        self.assertGreaterEqual(stats["tokens_rejected"], 1)

    def test_6_already_received_is_delivered_and_refusals_are_kept(self):
        self.tenant("dup")
        self.devices("dup", 2, "dup")
        self.sim.control(duplicate_failed=True)
        res, _ = self.sync("dup", "--wait")
        self.assertTrue(res["ok"])
        self.assertEqual((res["duplicates"], res["refused"], res["acks"]), (2, 0, 0), res)
        res, _ = self.sync("dup")
        self.assertEqual(res["reports"], 0, "delivered reports were taken again")
        self.sim.control(duplicate_failed=False)

        # The upstream has one device's report id with another payload: it
        # refuses that call, and the refusal is kept with its words.
        self.tenant("refuse", ids=True)
        self.devices("refuse", 2, "refuse")
        sn, rid = sorted(self.tenant_reports("refuse"))[0]
        self.upload_directly(sn, rid)
        res, _ = self.sync("refuse", "--wait")
        self.assertTrue(res["ok"], res)
        self.assertEqual((res["refused"], res["acks"]), (1, 1), res)
        status = json.loads(self.cmd("sync", "status", "--tenant", "refuse", "--json").stdout)
        [refusal] = status["refusals"]
        self.assertEqual((refusal["udi_serial_number"], refusal["reports"]), (sn, 1))
        self.assertIn("different payload", refusal["message"])
        self.assertIn("refused: P:C9300-24P,S:%s" % sn,
                      self.cmd("sync", "status", "--tenant", "refuse").stdout)
        # A refused call's reports go again with the next sync.
        res, _ = self.sync("refuse")
        self.assertEqual((res["reports"], res["refused"]), (1, 1), res)

    def call_directly(self, name, pid, sn, data):
        """One call of the upstream's API for device (pid, sn), by another
        client of the same upstream: its answer."""
        import ssl
        import urllib.request
        ctx = ssl.create_default_context(cafile=self.ca)
        form = ("grant_type=client_credentials&client_id=%s&client_secret=%s"
                % (CLIENT, SECRET)).encode()
        with urllib.request.urlopen(urllib.request.Request(
                self.sim.token_url, form), context=ctx, timeout=10) as r:
            token = json.loads(r.read())["access_token"]
        system = {"udi_pid": pid, "udi_serial_number": sn}
        req = urllib.request.Request(self.sim.api_url(name), json.dumps({"data": data}).encode(),
                                     headers={
            "Authorization": "Bearer " + token, "Content-Type": "application/json",
            "X-CSW-SMART-ACCOUNT-ID": "1000001", "X-CSW-VIRTUAL-ACCOUNT-ID": "2000001",
            "X-CSW-REQUESTING-SYSTEM": json.dumps(system)})
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return json.loads(r.read())

    def upload_directly(self, sn, rid):
        """A reportusage of (sn, rid) with a payload of its own."""
        sim_sudi = {"udi_pid": "C9300-24P", "udi_serial_number": sn}
        report = api.cssm_sim.synthetic_report("C9300-24P", sn, rid, "A", 1700000000)
        answer = self.call_directly("devices/reportusage", "C9300-24P", sn, {
            "timestamp": int(time.time() * 1000), "nonce": "0123abcd", "sudi": sim_sudi,
            "reports": [{"sudi": sim_sudi, "usage": [report]}]})
        self.assertIn("poll_id", answer)

    def upstream_ack(self, pid, sn, poll_id):
        """The ACK document (bytes) the upstream answers for poll_id."""
        import base64
        answer = self.call_directly("accounts/poll", pid, sn, {
            "timestamp": int(time.time() * 1000), "nonce": "0123abcd", "poll_id": poll_id,
            "action": "acknowledgements"})
        self.assertEqual(answer["status"], "COMPLETE", answer)
        return base64.b64decode(answer["data"]["acknowledgements"][0]["smart_license"])

    def test_10_pulled_devices_get_synced_acks_and_files(self):
        """A device rumd collects from (device REST API) has its reports
        synced; its ACK goes back to it with the next collection, and
        `rumd ack-file` writes the upstream's document byte-exact."""
        if not shutil.which("openssl"):
            self.skipTest("openssl not installed")
        self.tenant("pulled", ids=True)
        state = os.path.join(self.tmp, "pulled-device")
        sn = "FOCPULL0001"
        agent("init", "--state", state, "--pid", "C9300-48P", "--serial", sn,
              "--hostname", "pulled", "--entitlement", "%s=4" % TAG)
        agent("set-usage", "--state", state, "%s=5" % TAG)
        key, cert = os.path.join(self.tmp, "rest-key.pem"), os.path.join(self.tmp, "rest-cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1"], check=True,
                       capture_output=True)
        pw = self.private_file("rest-password", "rest-s3cret")
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        dev = subprocess.Popen([AGENT, "rest", "--state", state, "--listen", "127.0.0.1:%d" % port,
                                "--user", "admin", "--password-file", pw, "--cert", cert,
                                "--key", key], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
        self.addCleanup(lambda: (dev.kill(), dev.wait(), dev.stdout.close()))
        self.assertIn("listening on https://", dev.stdout.readline())
        proc = self.cmd("target", "add", "--tenant", "pulled", "--protocol", "restapi",
                        "--host", "127.0.0.1", "--port", str(port), "--username", "admin",
                        "--password-file", pw, "--trust-on-first-use", "--on-demand")
        target = re.search(r"pull target (\d+) added", proc.stdout).group(1)

        def collect():
            self.cmd("collect", "--target", target, "--wait")
            return self.q("SELECT state, reports_new, acks_delivered FROM collection_jobs "
                          "WHERE target_id = %s ORDER BY id DESC LIMIT 1" % target)[0]
        state_, new, _ = collect()
        self.assertEqual(state_, "ok")
        sent = {i for i, s in report_states(state).items() if s in ("UNACK", "CLOSED")}
        self.assertEqual(int(new), len(sent))
        self.assertGreater(len(sent), 0)

        res, _ = self.sync("pulled", "--wait")
        self.assertEqual((res["devices"], res["reports"], res["acks"]), (1, len(sent), 1), res)
        # The next collection delivers it; the device shows it installed.
        self.assertEqual(collect()[2], "1")
        states = report_states(state)
        self.assertTrue(all(states[i] == "ACK" for i in sent), (sent, states))
        self.assertRegex(agent("show", "--state", state, "status").stdout,
                         r"Last ACK received: \S")
        # ack-file writes what the upstream answered, byte for byte.
        device_id, poll_id = self.q(
            "SELECT s.device_id, s.poll_id FROM sync_sends s JOIN devices d ON d.id = "
            "s.device_id WHERE d.udi_serial = '%s' AND s.state = 'complete'" % sn)[0]
        out = os.path.join(self.tmp, "pulled.ack")
        self.cmd("ack-file", "--device", device_id, "-o", out)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), self.upstream_ack("C9300-48P", sn, poll_id))

    def test_7_a_node_killed_mid_sync_resumes_without_sending_twice(self):
        """kill -9 while calls go out, and again while ACKs are polled for:
        the next sync resumes from the database. A call in flight at the
        kill is sent again; the upstream says it has it ("already
        received"), which settles it as delivered. Every report is
        recorded upstream once and every device ends with an ACK."""
        self.tenant("crash", ids=True)
        n = 12
        states = self.devices("crash", n, "crash")
        flags = ["--database_url=" + self.url, "--data_dir=" + self.data,
                 "--sync_poll_first_s=0", "--sync_poll_every_s=0", "--sync_lease_s=3",
                 "--sync_concurrency=2", "--sync_retry_max_s=2"]

        def kill_when(what, pred):
            proc = subprocess.Popen([rt.rumd_bin(), "sync", "--tenant", "crash", "--wait",
                                     "--json", *flags], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            try:
                rt.wait_for(pred, 60, what=what)
            finally:
                proc.kill()
                proc.communicate()

        def open_calls(state):
            return int(self.scalar(
                "SELECT count(*) FROM sync_sends s JOIN devices d ON d.id = s.device_id "
                "JOIN tenants t ON t.id = d.tenant_id WHERE t.name = 'crash' "
                "AND s.state = '%s'" % state))

        # 1. Killed while calls go out (each answer takes 300 ms).
        self.sim.control(slow_ms=300)
        kill_when("4 uploads accepted",
                  lambda: self.sim.stats()["requests"].get("reportusage", {}).get("200", 0) >= 4)
        self.assertGreater(open_calls("queued") + open_calls("sending"), 0)
        # 2. Resumed, and killed again while ACKs are polled for.
        self.sim.control(slow_ms=0, polls_before_complete=1000)
        rt.wait_for(lambda: self.sync_free("crash"), 30, what="the dead sync's lease ending")
        kill_when("every call sent, ACKs polled for",
                  lambda: open_calls("queued") + open_calls("sending") == 0
                  and self.sim.stats()["polls"] >= n)
        self.assertGreater(open_calls("polling"), 0)
        # 3. Resumed to the end.
        self.sim.control(polls_before_complete=1)
        rt.wait_for(lambda: self.sync_free("crash"), 30, what="the dead sync's lease ending")
        res, _ = self.sync("crash", "--wait")
        self.assertTrue(res["resumed"], res)
        self.assertEqual(res["pending"], 0, res)

        stats = self.sim.stats()
        ours = {k for k in self.tenant_reports("crash")}
        counts = {(udi.split(",S:")[1], int(rid)): c for udi, per in stats["reports"].items()
                  for rid, c in per.items() if ",S:FOCCRAS" in udi}
        self.assertEqual(set(counts), ours, "every report reached the upstream")
        self.assertEqual(stats["reports_recorded"], n, "recorded once each")
        again = sum(c - 1 for c in counts.values())
        dup = int(self.scalar("SELECT count(*) FROM sync_sends s JOIN devices d ON d.id = "
                              "s.device_id JOIN tenants t ON t.id = d.tenant_id WHERE "
                              "t.name = 'crash' AND s.state = 'duplicate'"))
        self.assertEqual(again, dup, "a report sent twice is one the upstream said it had")
        self.assertLessEqual(again, 2, "only calls in flight at the kill go twice")
        print("\nkill -9 mid-sync and mid-poll: %d reports, recorded upstream once each; %d "
              "sent again after the kill and settled as already received" % (n, again))
        # Every device gets an ACK: those whose call was settled as already
        # received get theirs with their next report.
        for st in states:
            self.push(st, "crash", expect_ack=None)
        res, _ = self.sync("crash", "--wait")
        for st in states:
            self.push(st, "crash", expect_ack=None)
            self.assertIn("ACK", report_states(st).values(), st)

    def test_8_trust_and_authorization_requests_go_upstream(self):
        """A device's authorization request and another's trust request go
        upstream as devices/authrequest; the answers come back to each
        device's next poll."""
        import base64
        self.tenant("asks", ids=True)
        auth_dev, trust_dev = rt.Device("C8000V"), rt.Device("C9300-24P")
        polls = {}
        for dev, msg in ((auth_dev, rt.authorization_message(auth_dev.pid, auth_dev.sn)),
                         (trust_dev, rt.trust_message(trust_dev.pid, trust_dev.sn))):
            reply = self.rumd.post(rt.pi_path("asks"), msg)
            self.assertEqual(reply.status, 200, reply)
            polls[dev.sn] = reply.json["poll_id"]
        res, _ = self.sync("asks", "--wait")
        self.assertEqual((res["requests"], res["sent"], res["acks"]), (2, 2, 2), res)
        self.assertEqual(self.sim.stats()["requests"]["authrequest"], {"200": 2})
        answers = {}
        for sn, pid in polls.items():
            reply = self.rumd.post(rt.pi_path("asks"), rt.poll_message(pid))
            self.assertEqual(reply.json["status"], "OK", reply)
            answers[sn] = base64.b64decode(
                reply.json["acknowledgements"][0]["smart_license"]).decode()
        self.assertIn("<smartLicenseAuthorization>", answers[auth_dev.sn])
        self.assertIn("P:%s,S:%s" % (auth_dev.pid, auth_dev.sn), answers[auth_dev.sn])
        self.assertIn("smartLicenseTrustCode", answers[trust_dev.sn])
        self.assertEqual(int(self.scalar(
            "SELECT count(*) FROM uploads u JOIN tenants t ON t.id = u.tenant_id WHERE "
            "t.name = 'asks' AND u.request_state = 'answered'")), 2)
        res, _ = self.sync("asks")
        self.assertEqual(res["requests"], 0, "an answered request went again")

    def sync_free(self, tenant):
        return not self.scalar("SELECT owner FROM sync_state s JOIN tenants t ON "
                               "t.id = s.tenant_id WHERE t.name = '%s' AND "
                               "s.lease_until > now()" % tenant)

    def test_9_secret_never_shown(self):
        for out in self.outputs:
            self.assertNotIn(SECRET, out)
        self.assertNotIn(SECRET, self.rumd.log(0))



class Scheduled(Sync):
    """serve syncs a tenant whose upstream is new at once, one that an
    operator asks for through the API, and polls for the ACKs on its own; a
    sync that keeps failing raises a critical alert, which the next good
    sync resolves."""

    NAME = "sync-sched"
    FLAGS = {"sync_look_ms": "200", "sync_poll_first_s": "0", "sync_poll_every_s": "0",
             "sync_alert_after_s": "1", "sync_retry_max_s": "2"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        proc = rt.run_rumd(["token", "create", "--role", "operator",
                            "--database_url=" + cls.url])
        assert proc.returncode == 0, proc.stderr
        cls.op_token = proc.stdout.strip()

    def request(self, tenant):
        return rt.http_request("127.0.0.1", self.rumd.port, "POST",
                               "/api/v1/tenants/%s/sync" % tenant,
                               headers={"Authorization": "Bearer " + self.op_token})

    def status(self, tenant):
        reply = rt.http_request("127.0.0.1", self.rumd.port, "GET",
                                "/api/v1/tenants/%s/sync" % tenant,
                                headers={"Authorization": "Bearer " + self.op_token})
        self.assertEqual(reply.status, 200, reply)
        return reply.json

    def acked(self, tenant):
        return int(self.scalar(
            "SELECT count(*) FROM rum_reports r JOIN tenants t ON t.id = r.tenant_id "
            "WHERE t.name = '%s' AND r.acked_at IS NOT NULL" % tenant))

    def test_1_devices_get_their_ack_through_a_sync(self):
        rt.add_tenant(self.url, "auto")
        states = self.devices("auto", 2, "auto")
        # A new upstream is synced at once, and its ACKs polled for.
        self.tenant("auto", add=False)
        rt.wait_for(lambda: self.acked("auto") == 2, 30, what="serve's sync bringing 2 ACKs")
        for st in states:
            self.push(st, "auto", expect_ack=True)
        # The next is not due for a day: an operator asks for it.
        self.assertEqual(self.request("auto").status, 202)
        rt.wait_for(lambda: self.acked("auto") == 4, 30, what="the requested sync")
        runs = self.status("auto")["runs"]
        self.assertEqual([r["trigger"] for r in runs][:2], ["api", "schedule"])
        self.assertEqual(self.sim.stats()["reports_received"], 4)

    def runs(self, tenant):
        return [r["trigger"] for r in self.status(tenant)["runs"]]

    def test_2_new_reports_are_synced_soon_if_the_tenant_asks(self):
        """--sync-soon 1m: a report that has waited a minute since the last
        sync started brings a sync of its own, long before the daily one.
        A tenant without it waits for its schedule. The minute passes here
        by moving the tenant's report and run times back."""
        for name, extra in (("soon", ("--sync-soon", "1m")), ("daily", ())):
            rt.add_tenant(self.url, name)
            states = self.devices(name, 1, name)
            self.tenant(name, add=False, extra=extra)
            rt.wait_for(lambda: self.acked(name) == 1, 30, what="%s's first sync" % name)
            # The device installs its ACK and sends its next report.
            self.push(states[0], name, expect_ack=True)
        for name in ("soon", "daily"):
            self.assertEqual(self.runs(name), ["schedule"])
            self.assertEqual(int(self.scalar(
                "SELECT count(*) FROM rum_reports r JOIN tenants t ON t.id = r.tenant_id "
                "WHERE t.name = '%s' AND r.acked_at IS NULL" % name)), 1)
        time.sleep(1)  # five looks: the new report is not a minute old yet
        self.assertEqual(self.runs("soon"), ["schedule"])
        for table, columns in (("rum_reports", ("received_at",)),
                               ("sync_runs", ("started_at", "finished_at"))):
            self.q("UPDATE %s x SET %s FROM tenants t WHERE t.id = x.tenant_id AND "
                   "t.name IN ('soon', 'daily')" % (table, ", ".join(
                       "%s = %s - interval '2 minutes'" % (c, c) for c in columns)))
        rt.wait_for(lambda: self.acked("soon") == 2, 30, what="the sync soon after a report")
        self.assertEqual(self.runs("soon"), ["soon", "schedule"])
        time.sleep(1)
        self.assertEqual(self.runs("daily"), ["schedule"])
        self.assertEqual(self.acked("daily"), 1)

    def test_3_failures_are_named_and_change_nothing(self):
        rt.add_tenant(self.url, "alerting")
        self.devices("alerting", 1, "alerting")
        self.sim.control(token_401=True)
        self.tenant("alerting", add=False)
        rt.wait_for(lambda: self.status("alerting")["state"]["failing_since"], 30,
                    what="a failed sync")
        time.sleep(1.1)
        self.assertEqual(self.request("alerting").status, 202)

        def alert():
            rows = self.q("SELECT a.severity, a.message FROM alerts a JOIN tenants t ON "
                          "t.id = a.tenant_id WHERE t.name = 'alerting' AND "
                          "a.kind = 'sync_failing' AND a.resolved_at IS NULL")
            return rows[0] if rows else None
        severity, message = rt.wait_for(alert, 30, what="the sync_failing alert")
        self.assertEqual(severity, "critical")
        self.assertIn("client id and secret were refused", message)
        self.assertNotIn(SECRET, message)
        self.assert_unchanged("alerting")
        self.sim.control(token_401=False)
        self.assertEqual(self.request("alerting").status, 202)
        rt.wait_for(lambda: not alert(), 30, what="the alert resolved by a good sync")
        # That pass sent the report; a later one fetches its ACK.
        rt.wait_for(lambda: self.acked("alerting") == 1, 30, what="the ACK after the good sync")

    # The command-line cases are Sync's.
    test_2_without_wait_the_next_sync_brings_the_acks = None
    test_4_transient_answers_are_retried = None
    test_5_expired_token_is_refreshed_once = None
    test_6_already_received_is_delivered_and_refusals_are_kept = None
    test_7_a_node_killed_mid_sync_resumes_without_sending_twice = None
    test_8_trust_and_authorization_requests_go_upstream = None
    test_10_pulled_devices_get_synced_acks_and_files = None



class Proxied(Sync):
    """Through a real Squid with proxy authentication (CONNECT for HTTPS),
    with the direct route blocked: the upstream's name (cssm.rumd.test, a
    name that never resolves) is known to the proxy alone (its hosts_file).
    The proxy is per tenant (its password sealed) or the node's setting
    (its password in a file); a refused proxy password is named; the
    password shows nowhere."""

    PROXY_USER, PROXY_PASSWORD = "rumd-proxy", "pr0xy-Pass-Hj4Kl8"
    HOST = "cssm.rumd.test"

    NAME = "sync-proxy"

    @classmethod
    def setUpClass(cls):
        rt.RumTestCase.setUpClass.__func__(cls)
        squid = shutil.which("squid") or ("/usr/sbin/squid" if os.path.exists("/usr/sbin/squid")
                                           else None)
        ncsa = "/usr/lib/squid/basic_ncsa_auth"
        if not squid or not os.path.exists(ncsa):
            raise rt.unittest.SkipTest("squid not installed (Debian package squid)")
        if not os.path.exists(AGENT):
            raise rt.unittest.SkipTest("no rum-agent binary: set RUM_BUILD_DIR (ctest does)")
        # Squid run as root works as its own user (proxy): the class's
        # directory is writable, its files readable, by that user.
        cls.prepare([cls.HOST])
        cls.pw_file = cls.private_file("proxy-password", cls.PROXY_PASSWORD)
        cls.bad_pw_file = cls.private_file("proxy-password-bad", "not-the-password")
        cls.start_sim()
        cls.squid_port = rt.free_port()
        cls.squid = cls.start_squid(squid, ncsa)
        cls.start_node()

    @classmethod
    def start_squid(cls, squid, ncsa):
        d = cls.tmp
        crypt = subprocess.run(["openssl", "passwd", "-apr1", cls.PROXY_PASSWORD],
                               capture_output=True, text=True, check=True).stdout.strip()
        for name, text in (("passwd", "%s:%s\n" % (cls.PROXY_USER, crypt)),
                           ("hosts", "127.0.0.1 %s\n" % cls.HOST),
                           ("squid.conf",
                            "http_port 127.0.0.1:%d\n"
                            "pid_filename %s/squid.pid\n"
                            "cache_log %s/cache.log\n"
                            "access_log stdio:%s/access.log\n"
                            "cache deny all\n"
                            "hosts_file %s/hosts\n"
                            "auth_param basic program %s %s/passwd\n"
                            "auth_param basic realm rumd-test\n"
                            "acl authed proxy_auth REQUIRED\n"
                            "http_access allow authed\n"
                            "http_access deny all\n"
                            "coredump_dir %s\n"
                            "shutdown_lifetime 0 seconds\n"
                            % (cls.squid_port, d, d, d, d, ncsa, d, d))):
            with open(os.path.join(d, name), "w") as f:
                f.write(text)
            os.chmod(os.path.join(d, name), 0o644)
        log = open(os.path.join(d, "squid.out"), "wb")
        proc = subprocess.Popen([squid, "-N", "-f", os.path.join(d, "squid.conf")],
                                stdout=log, stderr=subprocess.STDOUT)
        log.close()

        def listening():
            try:
                with socket.create_connection(("127.0.0.1", cls.squid_port), timeout=1):
                    return True
            except OSError:
                return False
        rt.wait_for(listening, 30, what="squid listening")
        return proc

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "squid", None):
            cls.squid.terminate()
            try:
                cls.squid.wait(15)
            except subprocess.TimeoutExpired:
                cls.squid.kill()
                cls.squid.wait()
        super().tearDownClass()

    def upstream(self, name, *proxy_args):
        rt.add_tenant(self.url, name)
        base = "https://%s:%d" % (self.HOST, self.sim.port)
        self.cmd("upstream", "set", "--tenant", name, "--kind", "cssm", "--client-id", CLIENT,
                 "--client-secret-file", self.secret_file,
                 "--token-url", base + "/as/token.oauth2",
                 "--api-url", base + self.sim.api_base, "--smart-account-id", "1000001",
                 "--virtual-account-id", "2000001", "--ca-file", self.ca, *proxy_args)

    def access_log(self):
        with open(os.path.join(self.tmp, "access.log")) as f:
            return f.read()

    def test_1_devices_get_their_ack_through_a_sync(self):
        proxy = "http://%s@127.0.0.1:%d" % (self.PROXY_USER, self.squid_port)
        self.upstream("via-proxy", "--proxy", "direct")
        states = self.devices("via-proxy", 2, "proxied")
        # The direct route is blocked: the upstream's name resolves only
        # at the proxy.
        res, _ = self.sync("via-proxy", expect=1)
        self.assertIn("cannot connect", res["error"])
        self.assertIn(self.HOST, res["error"])
        # A refused proxy password is named.
        self.upstream_again("via-proxy", "--proxy", proxy, "--proxy-password-file",
                            self.bad_pw_file)
        res, _ = self.sync("via-proxy", expect=1)
        self.assertIn("proxy refused the tunnel: HTTP 407", res["error"])
        # Through the proxy, authenticated.
        self.upstream_again("via-proxy", "--proxy", proxy, "--proxy-password-file", self.pw_file)
        res, _ = self.sync("via-proxy", "--wait")
        self.assertEqual((res["sent"], res["acks"], res["pending"]), (2, 2, 0), res)
        for st in states:
            self.push(st, "via-proxy", expect_ack=True)
        self.assertRegex(self.access_log(), r"CONNECT %s:%d %s"
                         % (re.escape(self.HOST), self.sim.port, self.PROXY_USER))

        # The node's proxy setting, for an upstream that names none.
        self.upstream("node-proxy")
        self.devices("node-proxy", 1, "nodeproxy")
        res, _ = self.sync("node-proxy", "--wait", "--upstream_proxy=" + proxy,
                           "--upstream_proxy_password_file=" + self.pw_file)
        self.assertEqual((res["sent"], res["acks"]), (1, 1), res)
        proc = self.cmd("check-config", "--upstream_proxy=" + proxy,
                        "--upstream_proxy_password_file=" + self.pw_file)
        self.assertNotIn(self.PROXY_PASSWORD, proc.stdout + proc.stderr)

    def upstream_again(self, name, *proxy_args):
        base = "https://%s:%d" % (self.HOST, self.sim.port)
        self.cmd("upstream", "set", "--tenant", name, "--kind", "cssm", "--client-id", CLIENT,
                 "--token-url", base + "/as/token.oauth2",
                 "--api-url", base + self.sim.api_base, "--smart-account-id", "1000001",
                 "--virtual-account-id", "2000001", "--ca-file", self.ca, *proxy_args)

    def test_9_secret_never_shown(self):
        for out in self.outputs:
            self.assertNotIn(SECRET, out)
            self.assertNotIn(self.PROXY_PASSWORD, out)
        log = self.rumd.log(0)
        self.assertNotIn(SECRET, log)
        self.assertNotIn(self.PROXY_PASSWORD, log)
        self.assertNotIn(self.PROXY_PASSWORD, self.access_log())

    test_2_without_wait_the_next_sync_brings_the_acks = None
    test_3_failures_are_named_and_change_nothing = None
    test_4_transient_answers_are_retried = None
    test_5_expired_token_is_refreshed_once = None
    test_6_already_received_is_delivered_and_refusals_are_kept = None
    test_7_a_node_killed_mid_sync_resumes_without_sending_twice = None
    test_8_trust_and_authorization_requests_go_upstream = None
    test_10_pulled_devices_get_synced_acks_and_files = None


class Tiers(Sync):
    """A site rumd forwards its tenant to a central rumd (an upstream of
    kind collector): the central one shows the site's devices under their
    own UDIs with byte-exact reports, and an ACK imported there reaches the
    devices through the site."""

    NAME = "site"

    @classmethod
    def setUpClass(cls):
        rt.RumTestCase.setUpClass.__func__(cls)
        if not os.path.exists(AGENT):
            raise rt.unittest.SkipTest("no rum-agent binary: set RUM_BUILD_DIR (ctest does)")
        cls.prepare()
        cls.sim = None
        cls.central_url, cls.central_db = cls.fresh_database("central")
        cls.central = cls.start_class_rumd(database_url=cls.central_url,
                                           data_dir=rt.make_tempdir("central-data-", 0o755),
                                           flags={"sync_schedule": "false"})
        cls.start_node()

    def setUp(self):
        rt.RumTestCase.setUp(self)

    def central_cmd(self, *args):
        proc = rt.run_rumd(list(args) + ["--database_url=" + self.central_url], timeout=300)
        self.assertEqual(proc.returncode, 0, "central rumd %s:\n%s%s"
                         % (" ".join(args), proc.stdout, proc.stderr))
        return proc

    def test_1_a_site_forwards_to_a_central_rumd(self):
        rt.add_tenant(self.central_url, "hq")
        rt.add_tenant(self.url, "branch")
        self.cmd("upstream", "set", "--tenant", "branch", "--kind", "collector", "--url",
                 "http://127.0.0.1:%d/cslu/v1/pi/hq" % self.central.port)
        states = self.devices("branch", 3, "tier")
        ours = self.tenant_reports("branch")

        # Plain http is refused unless allowed (a trusted network, a lab).
        res, _ = self.sync("branch", expect=1)
        self.assertIn("https", res["error"])
        res, _ = self.sync("branch", "--sync_allow_http=true")
        self.assertEqual((res["resumed"], res["sent"], res["pending"]), (True, 3, 3), res)

        central = {(sn, int(rid)): (pid, rep) for pid, sn, rid, rep in self.pg.psql(
            "SELECT r.udi_pid, r.udi_serial, r.report_id, r.report FROM rum_reports r "
            "JOIN tenants t ON t.id = r.tenant_id WHERE t.name = 'hq'", db=self.central_db)}
        self.assertEqual(set(central), set(ours), "the site's reports under their own UDIs")
        for key, text in ours.items():
            self.assertEqual(central[key], ("C9300-24P", text), "byte-exact at the central")

        # The central one takes CSSM's ACK by file; the site's next sync
        # brings it down, and the devices install it.
        out = os.path.join(self.tmp, "export")
        os.makedirs(out)
        proc = self.central_cmd("export", "--tenant", "hq", "-o", out)
        path = re.search(r" to (\S+UD_SA_\S+\.tar\.gz)", proc.stdout).group(1)
        acks = os.path.join(self.tmp, "acks")
        sim = subprocess.run([sys.executable, os.path.join(TOOLS, "cssm_sim.py"), "ack", path,
                              "-o", acks], capture_output=True, text=True, timeout=300)
        self.assertEqual(sim.returncode, 0, sim.stdout + sim.stderr)
        self.central_cmd("import", os.path.join(acks, "ACK_" + os.path.basename(path)))
        res, _ = self.sync("branch", "--wait", "--sync_allow_http=true")
        self.assertEqual((res["acks"], res["reports_acked"], res["pending"]), (3, 3, 0), res)
        for st in states:
            self.push(st, "branch", expect_ack=True)
            self.assertIn("ACK", report_states(st).values())

    test_1_devices_get_their_ack_through_a_sync = None
    test_2_without_wait_the_next_sync_brings_the_acks = None
    test_3_failures_are_named_and_change_nothing = None
    test_4_transient_answers_are_retried = None
    test_5_expired_token_is_refreshed_once = None
    test_6_already_received_is_delivered_and_refusals_are_kept = None
    test_7_a_node_killed_mid_sync_resumes_without_sending_twice = None
    test_8_trust_and_authorization_requests_go_upstream = None
    test_10_pulled_devices_get_synced_acks_and_files = None


if __name__ == "__main__":
    rt.main()
