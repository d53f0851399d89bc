"""rum-agent against a real rumd and a real PostgreSQL (PROTOCOL.md 1 and 4):
the device side and the collector side of the CSLU transport, end to end.

Every report the agent pushes must land in rum_reports byte-exact; ACKs put
into rumd's `acks` table must reach the agent (by hello or by poll), be
installed there (policy, RUM ACK) and be marked delivered by rumd; tenant
paths with percent-encoded names, the timed push mode and a fleet of devices
must all land with no duplicates or conflicts."""

import json
import os
import re
import shutil
import signal
import struct
import subprocess
import time
import sys
import urllib.parse
import xml.etree.ElementTree as ET

import rumtest
from rumtest import sql_literal, wait_for

BUILD = os.environ.get("RUM_BUILD_DIR", "")
AGENT = os.path.join(BUILD, "agent", "rum-agent")
CSSM_SIM = os.path.join(rumtest.SOURCE_DIR, "tests", "tools", "cssm_sim.py")

TAG_ADV = "regid.2017-03.com.cisco.advantagek9,1.0_bd1da96e-ec1d-412b-a50e-53846b347d53"
TAG_DNA = "regid.2018-12.com.cisco.DNA_P_50M_A,1.0_100fb8b2-f5cc-459c-9253-ac77b827fd71"
TAG_NET = "regid.2018-12.com.cisco.NWSTACK_P_50M_A,1.0_8ff1fa74-f6da-4b07-a7b0-e0e6b5e38fb8"
TAG_SEC = "regid.2019-06.com.cisco.SEC_DNA_A,1.0_3a1b0c9e-5c55-4c4f-9d8c-0e2f6e2b7b11"

TENANT_LAB = "Lab Tenant A"
TENANT_FLEET = "Fleet Lab"

USAGE_RE = re.compile(r"usage reports=(\d+) status=(\S+) poll_id=(\S+)")
POLL_RE = re.compile(r"poll poll_id=(\S+) status=(\S+) ack=(\S+)")


def ack_xml(report_ids, policy_name="Lab Policy", ongoing=14, version=3):
    """A CSSM-shaped ACK file (PROTOCOL 2.3): a policy with reporting days
    and a RUM ACK naming the given report ids, each section signed."""
    rum = ",".join('{"report_id":%d,"status":"ACK"}' % i for i in report_ids)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<smartLicense>'
        "<smartLicensePolicy><policyCode><name>%s</name><version>%d</version>"
        "<ackRequired>yes</ackRequired>"
        "<subscription><firstTimeReport>60</firstTimeReport><onGoingReporting>%d</onGoingReporting>"
        "<reportOnMACD>60</reportOnMACD></subscription>"
        "<perpetual><firstTimeReport>365</firstTimeReport><onGoingReporting>0</onGoingReporting>"
        "<reportOnMACD>90</reportOnMACD></perpetual></policyCode>"
        "<signature>cG9saWN5</signature></smartLicensePolicy>"
        "<smartLicenseRumAck><data><![CDATA[[%s]]]></data><signature>cnVtYWNr</signature>"
        "</smartLicenseRumAck>"
        "<smartLicenseAccountInfo><customerInfo><smartAccount>Lab SA</smartAccount>"
        "<virtualAccount>Lab VA</virtualAccount></customerInfo><signature>YWNjdA==</signature>"
        "</smartLicenseAccountInfo>"
        "<correlationID>0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0</correlationID>"
        "</smartLicense>\n" % (policy_name, version, ongoing, rum)).encode("utf-8")


def agent(*args, check=True, timeout=120):
    """Runs one rum-agent verb; returns the CompletedProcess (text)."""
    proc = subprocess.run([AGENT, *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError("rum-agent %s exited %d:\n%s%s" % (
            " ".join(args), proc.returncode, proc.stdout, proc.stderr))
    return proc


def show(state, what):
    return agent("show", "--state", state, what).stdout


def report_states(state):
    """{report id: state word} from `show rum`."""
    out = {}
    for line in show(state, "rum").splitlines():
        m = re.match(r"^(\d+)\s+(OPEN|CLOSED|UNACK|ACK)\s", line)
        if m:
            out[int(m.group(1))] = m.group(2)
    return out


def usage_reports(state):
    """{report id: report object text} for every closed report of the device,
    exactly as `rum-agent save-usage all` writes them into <RUMReport> CDATA.
    Runs on a copy of the state directory: saving usage closes the open
    reports and marks reports as reported, which must not touch the device."""
    copy = rumtest.make_tempdir("agent-rumd-copy-")
    shutil.rmtree(copy)
    shutil.copytree(state, copy)
    path = os.path.join(copy, "usage.xml")
    agent("save-usage", "--state", copy, "all", path)
    root = ET.parse(path).getroot()
    out = {}
    for el in root.findall("RUMReport"):
        text = el.text or ""
        payload = rumtest.json.loads(rumtest.json.loads(text)["payload"])
        rid = payload.get("meta", {}).get("report_id")
        if rid is None:
            rid = payload["asset_identification"]["report_id"]
        out[int(rid)] = text
    shutil.rmtree(copy, ignore_errors=True)
    return out


class AgentRumd(rumtest.RumTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.path.exists(AGENT):
            raise rumtest.unittest.SkipTest("no rum-agent binary: set RUM_BUILD_DIR (ctest does)")
        cls.url, cls.db = cls.fresh_database("agent")
        cls.rumd = cls.start_class_rumd(database_url=cls.url)
        rumtest.add_tenant(cls.url, TENANT_LAB)
        rumtest.add_tenant(cls.url, TENANT_FLEET)
        cls.base = "http://127.0.0.1:%d/cslu/v1/pi" % cls.rumd.port

    def setUp(self):
        super().setUp()
        self.tmp = rumtest.make_tempdir("agent-rumd-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    # -- helpers ---------------------------------------------------------------

    def q(self, sql):
        return self.pg.psql(sql, db=self.db)

    def scalar(self, sql):
        return self.pg.scalar(sql, db=self.db)

    def url_for(self, tenant=None):
        if tenant is None:
            return self.base
        return self.base + "/" + urllib.parse.quote(tenant, safe="")

    def init(self, name, pid, serial, hostname, fmt, ents, version="17.09.04"):
        state = os.path.join(self.tmp, name)
        args = ["init", "--state", state, "--pid", pid, "--serial", serial, "--hostname", hostname,
                "--rum-format", fmt, "--version", version]
        for tag, count in ents:
            args += ["--entitlement", "%s=%d" % (tag, count)]
        agent(*args)
        return state

    def sync(self, state, tenant=None, max_polls=1, expect_ack=False):
        """`rum-agent sync`; returns its stderr (the agent's log)."""
        proc = agent("sync", "--state", state, "--url", self.url_for(tenant), "--max-polls",
                     str(max_polls), "--poll-interval", "0.05", check=False)
        if expect_ack:
            self.assertEqual(proc.returncode, 0, proc.stderr)
            self.assertIn("sync complete", proc.stdout)
        else:  # rumd holds no ACK: the agent stops polling after max_polls
            self.assertEqual(proc.returncode, 3, proc.stdout + proc.stderr)
            self.assertIn("ACK still pending", proc.stdout)
            self.assertIn("polls: %d" % max_polls, proc.stdout)
        return proc.stderr

    def tenant_id(self, tenant):
        return self.scalar("SELECT id FROM tenants WHERE name = %s" % sql_literal(tenant))

    def device_row(self, pid, serial, tenant="default"):
        rows = self.q(
            "SELECT d.id, d.hostname, d.software_version, d.software_tag FROM devices d "
            "JOIN tenants t ON t.id = d.tenant_id WHERE t.name = %s AND d.udi_pid = %s "
            "AND d.udi_serial = %s" % (sql_literal(tenant), sql_literal(pid), sql_literal(serial)))
        self.assertEqual(len(rows), 1, "device %s/%s in tenant %s: %r" % (pid, serial, tenant, rows))
        return rows[0]

    def stored_reports(self, pid, serial, tenant="default"):
        """{report id: (report text, entitlement tag, format)} stored for the device."""
        rows = self.q(
            "SELECT r.report_id, r.entitlement_tag, r.format, r.udi_pid, r.udi_serial, "
            "r.conflict_of IS NULL FROM rum_reports r JOIN tenants t ON t.id = r.tenant_id "
            "WHERE t.name = %s AND r.udi_pid = %s AND r.udi_serial = %s ORDER BY r.id"
            % (sql_literal(tenant), sql_literal(pid), sql_literal(serial)))
        texts = self.pg.text_bytes(
            "SELECT r.report FROM rum_reports r JOIN tenants t ON t.id = r.tenant_id "
            "WHERE t.name = %s AND r.udi_pid = %s AND r.udi_serial = %s ORDER BY r.id"
            % (sql_literal(tenant), sql_literal(pid), sql_literal(serial)), db=self.db)
        out = {}
        for row, text in zip(rows, texts):
            rid, tag, fmt, rpid, rsn, first = row
            self.assertEqual((rpid, rsn), (pid, serial))
            self.assertEqual(first, "t", "report %s stored as a conflict" % rid)
            self.assertNotIn(int(rid), out, "report %s stored twice" % rid)
            out[int(rid)] = (text.decode("utf-8"), tag, fmt)
        return out

    def assert_landed(self, state, pid, serial, hostname, version, fmt, tenant="default",
                      exact_set=True):
        """Every report the agent has reported (UNACK or ACK) is stored
        byte-exact with its identity columns; returns the stored ids."""
        states = report_states(state)
        sent = {i for i, s in states.items() if s in ("UNACK", "ACK")}
        self.assertTrue(sent, "agent reported nothing: %r" % states)
        docs = usage_reports(state)
        stored = self.stored_reports(pid, serial, tenant)
        if exact_set:
            self.assertEqual(set(stored), sent)
        else:
            self.assertTrue(sent <= set(stored), (sent, set(stored)))
        for rid in sent:
            text, tag, sfmt = stored[rid]
            doc = docs[rid]
            # The payload is what the device signed: it must come back unchanged.
            self.assertEqual(rumtest.json.loads(text)["payload"], rumtest.json.loads(doc)["payload"],
                             "payload of report %d changed in storage" % rid)
            self.assertEqual(text, doc, "report object %d not stored byte-exact" % rid)
            payload = rumtest.json.loads(rumtest.json.loads(doc)["payload"])
            self.assertEqual(tag, payload["meta"]["entitlement_tag"])
            self.assertEqual(sfmt, fmt)
        dev = self.device_row(pid, serial, tenant)
        self.assertEqual(dev[1], hostname)
        self.assertEqual(dev[2], version)
        return sent

    def assert_no_conflicts(self, tenant):
        tid = self.tenant_id(tenant)
        self.assertEqual(self.pg.count("rum_reports", "tenant_id = %s AND conflict_of IS NOT NULL" % tid,
                                       db=self.db), 0)
        self.assertEqual(self.q("SELECT kind, message FROM alerts WHERE tenant_id = %s" % tid), [])
        dups = self.q("SELECT udi_pid, udi_serial, report_id FROM rum_reports WHERE tenant_id = %s "
                      "GROUP BY 1, 2, 3 HAVING count(*) > 1" % tid)
        self.assertEqual(dups, [])

    def insert_ack(self, device_id, tenant, content):
        return self.scalar(
            "INSERT INTO acks (tenant_id, device_id, content) VALUES (%s, %s, decode('%s', 'hex')) "
            "RETURNING id" % (self.tenant_id(tenant), device_id, content.hex()))

    def poll_id_of(self, state):
        with open(os.path.join(state, "state.json")) as f:
            return rumtest.json.load(f)["poll_id"]

    # -- (a) sync lands every report byte-exact -----------------------------------

    def test_sync_is_one_exchange_with_an_exit_status(self):
        """`rum-agent sync` as a new user runs it: it says what happened and
        returns within its --wait, however the device's own timers run."""
        state = self.init("oneshot", "C9300-24P", "FOCARSYNC1", "sw-sync", "A", [(TAG_ADV, 1)])
        t0 = time.monotonic()
        proc = agent("sync", "--state", state, "--url", self.url_for(), "--wait", "1",
                     check=False)
        took = time.monotonic() - t0
        self.assertEqual(proc.returncode, 3, proc.stdout + proc.stderr)
        self.assertLess(took, 15, proc.stdout)
        self.assertIn("hello: answered", proc.stdout)
        self.assertRegex(proc.stdout, r"usage: 1 report sent: OK_POLL, poll id \d+")
        self.assertIn("ACK still pending after 1 s", proc.stdout)
        # Nothing left to send and no server: it fails at once, saying why.
        dead = "http://127.0.0.1:%d/cslu/v1/pi" % rumtest.free_port()
        proc = agent("sync", "--state", state, "--url", dead, "--wait", "1", check=False)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn("hello: no answer", proc.stdout)
        self.assertIn("usage report failed", proc.stderr)

    def test_sync_stores_reports_byte_exact(self):
        devices = [
            ("a1", "C9300-24P", "FOCAR0001A", "sw-agent-a1", "A", "17.06.02",
             [(TAG_ADV, 3), (TAG_DNA, 24), (TAG_NET, 1)]),
            ("b1", "C8000V", "9AR0002BXYZ", "edge-agent-b1", "B", "17.12.01",
             [(TAG_DNA, 5), (TAG_SEC, 2)]),
            ("b2", "C9300-48P", "FOCAR0003B", "sw-agent-b2", "B", "17.09.04a",
             [(TAG_ADV, 1), (TAG_NET, 48), (TAG_SEC, 7), (TAG_DNA, 2)]),
        ]
        for name, pid, sn, host, fmt, ver, ents in devices:
            with self.subTest(device=name):
                state = self.init(name, pid, sn, host, fmt, ents, ver)
                log = self.sync(state)
                # rumd's hello answer advertises POLICY_USAGE (PROTOCOL 1.4)
                self.assertNotIn("REPORTING_NOT_SUPPORTED", log)
                m = USAGE_RE.search(log)
                self.assertTrue(m, log)
                self.assertEqual(m.group(2), "OK_POLL", log)
                self.assertEqual(int(m.group(1)), len(ents), log)
                poll = POLL_RE.search(log)
                self.assertTrue(poll, log)
                self.assertEqual(poll.group(1, 2, 3), (m.group(3), "OK_POLL", "none"), log)
                sent = self.assert_landed(state, pid, sn, host, ver, fmt)
                self.assertEqual(len(sent), len(ents))
                dev_id = self.device_row(pid, sn)[0]
                # The poll id the agent keeps is the upload that carried the reports.
                self.assertEqual(self.poll_id_of(state), m.group(3))
                self.assertEqual(self.scalar("SELECT device_id FROM uploads WHERE poll_id = %s" % m.group(3)),
                                 dev_id)
                self.assertEqual(self.pg.count("rum_reports", "upload_id = (SELECT id FROM uploads WHERE poll_id = %s)" % m.group(3), db=self.db),
                                 len(ents))
                # A second sync sends the reports opened since, and only those.
                self.sync(state)
                sent2 = self.assert_landed(state, pid, sn, host, ver, fmt)
                self.assertEqual(len(sent2), 2 * len(ents))
        self.assert_no_conflicts("default")

    # -- (b) polls, then an ACK put into rumd reaches the agent -------------------

    def check_installed(self, state, acked_ids, ongoing):
        status = show(state, "status")
        self.assertNotRegex(status, r"Last ACK received: <none>")
        self.assertRegex(status, r"Last ACK received: \w{3} \d\d")
        self.assertIn("Reporting push interval: %d  days" % ongoing, status)
        self.assertIn("Policy name: Lab Policy", status)
        self.assertIn("Smart Account: Lab SA", status)
        states = report_states(state)
        for rid in acked_ids:
            self.assertEqual(states.get(rid), "ACK", show(state, "rum"))

    def assert_delivered(self, ack_id, vias):
        self.assertNotEqual(self.scalar("SELECT delivered_at FROM acks WHERE id = %s" % ack_id), "")
        rows = self.q("SELECT via, address FROM ack_deliveries WHERE ack_id = %s" % ack_id)
        self.assertEqual(len(rows), 1, rows)
        self.assertIn(rows[0][0], vias)
        self.assertEqual(rows[0][1], "127.0.0.1")
        return rows[0][0]

    def test_ack_by_poll(self):
        pid, sn, host = "C9300-24P", "FOCARPOLL1", "sw-agent-poll"
        state = self.init("poll", pid, sn, host, "B", [(TAG_ADV, 2), (TAG_DNA, 10)])
        self.assertIn("Reporting push interval: 90  days", show(state, "status"))
        proc = subprocess.Popen([AGENT, "sync", "--state", state, "--url", self.url_for(),
                                 "--max-polls", "1000", "--poll-interval", "0.1",
                                 "--wait", "120"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))

        def polled_once():
            try:
                with open(os.path.join(state, "state.json")) as f:
                    st = rumtest.json.load(f)
            except (OSError, ValueError):
                return False
            return st["poll_id"] and st["poll_stage"] >= 1

        wait_for(polled_once, 60, what="the agent's first poll")
        sent = {i for i, s in report_states(state).items() if s == "UNACK"}
        self.assertEqual(len(sent), 2)
        dev_id = self.device_row(pid, sn)[0]
        self.assertEqual(self.pg.count("acks", "device_id = %s" % dev_id, db=self.db), 0)
        ack = ack_xml(sorted(sent))
        ack_id = self.insert_ack(dev_id, "default", ack)
        out, err = proc.communicate(timeout=120)
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn("sync complete", out)
        polls = POLL_RE.findall(err)
        self.assertTrue(polls, err)
        self.assertTrue(all(p[1] == "OK_POLL" for p in polls[:-1]), err)
        self.assertEqual(polls[-1][1:], ("OK", "installed"), err)
        self.assertEqual(self.assert_delivered(ack_id, ("poll",)), "poll")
        self.check_installed(state, sent, 14)
        self.assertEqual(self.poll_id_of(state), "")
        # Delivered once: the next poll of the device finds nothing new.
        self.sync(state)
        self.assertEqual(self.pg.count("ack_deliveries", "ack_id = %s" % ack_id, db=self.db), 1)
        self.assert_landed(state, pid, sn, host, "17.09.04", "B")

    def test_ack_by_hello(self):
        pid, sn, host = "C8000V", "9ARHELLO01", "edge-agent-hello"
        state = self.init("hello", pid, sn, host, "A", [(TAG_SEC, 4)])
        log = self.sync(state, max_polls=2)
        self.assertEqual([p[1] for p in POLL_RE.findall(log)], ["OK_POLL", "OK_POLL"], log)
        sent = {i for i, s in report_states(state).items() if s == "UNACK"}
        dev_id = self.device_row(pid, sn)[0]
        older = self.insert_ack(dev_id, "default", ack_xml(sorted(sent), ongoing=30, version=2))
        ack_id = self.insert_ack(dev_id, "default", ack_xml(sorted(sent), ongoing=7))
        self.sync(state)  # hello brings the ACK; the new upload then waits for its own
        self.assertEqual(self.assert_delivered(ack_id, ("hello", "poll")), "hello")
        self.assertEqual(self.scalar("SELECT superseded_by FROM acks WHERE id = %s" % older), str(ack_id))
        self.assertEqual(self.scalar("SELECT delivered_at FROM acks WHERE id = %s" % older), "")
        self.check_installed(state, sent, 7)
        self.assert_landed(state, pid, sn, host, "17.09.04", "A")

    # -- (c) a tenant named with a space, percent-encoded in the path --------------

    def test_tenant_path(self):
        pid, sn, host = "C9300-24P", "FOCARTEN01", "sw-lab-a"
        state = self.init("tenant", pid, sn, host, "B", [(TAG_NET, 12), (TAG_DNA, 12)])
        log = self.sync(state, tenant=TENANT_LAB)
        self.assertIn("Lab%20Tenant%20A", show(state, "status"))
        m = USAGE_RE.search(log)
        self.assertEqual(m.group(2), "OK_POLL", log)
        self.assertEqual(POLL_RE.search(log).group(2), "OK_POLL", log)
        self.assert_landed(state, pid, sn, host, "17.09.04", "B", tenant=TENANT_LAB)
        self.assertEqual(self.q("SELECT count(*) FROM devices WHERE udi_serial = %s" % sql_literal(sn)),
                         [["1"]])
        self.assertEqual(self.scalar("SELECT tenant_id FROM uploads WHERE poll_id = %s" % m.group(3)),
                         self.tenant_id(TENANT_LAB))
        dev_id = self.device_row(pid, sn, TENANT_LAB)[0]
        sent = {i for i, s in report_states(state).items() if s == "UNACK"}
        ack_id = self.insert_ack(dev_id, TENANT_LAB, ack_xml(sorted(sent)))
        self.sync(state, tenant=TENANT_LAB)
        self.assert_delivered(ack_id, ("hello", "poll"))
        self.check_installed(state, sent, 14)
        self.assert_no_conflicts(TENANT_LAB)

    # -- (d) the timed push mode ------------------------------------------------------

    def test_push_speedup(self):
        pid, sn, host = "C9300-24P", "FOCARPUSH1", "sw-agent-push"
        state = os.path.join(self.tmp, "push")
        agent("init", "--state", state, "--pid", pid, "--serial", sn, "--hostname", host,
              "--entitlement", "%s=6" % TAG_ADV, "--entitlement", "%s=2" % TAG_DNA,
              "--interval-days", "1", "--url", self.url_for())
        log_path = os.path.join(self.tmp, "push.log")
        with open(log_path, "w") as logf:
            proc = subprocess.Popen([AGENT, "push", "--state", state, "--speedup", "100000"],
                                    stdout=logf, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))

        def uploads():
            return int(self.scalar(
                "SELECT count(*) FROM uploads u JOIN devices d ON d.id = u.device_id "
                "WHERE d.udi_serial = %s" % sql_literal(sn)))

        def read_log():
            with open(log_path) as f:
                return f.read()

        # One report interval is 0.86 s at this speed-up: wait for several.
        wait_for(lambda: uploads() >= 3 and len(POLL_RE.findall(read_log())) >= 2, 120,
                 interval=0.2, what="three uploads and two polls")
        dev_id = self.device_row(pid, sn)[0]
        ack_id = self.insert_ack(dev_id, "default", ack_xml([], ongoing=1))
        wait_for(lambda: self.scalar("SELECT delivered_at FROM acks WHERE id = %s" % ack_id), 120,
                 interval=0.2, what="the ACK to be delivered")
        wait_for(lambda: "ack=installed" in read_log() or "ACK installed" in read_log(), 60,
                 interval=0.2, what="the agent to install the ACK")
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=60), 0, read_log())
        log = read_log()
        usage = USAGE_RE.findall(log)
        self.assertGreaterEqual(len(usage), 3, log)
        self.assertTrue(all(u[1] == "OK_POLL" for u in usage), log)
        self.assertTrue(all(p[1] in ("OK_POLL", "OK") for p in POLL_RE.findall(log)), log)
        self.assert_delivered(ack_id, ("hello", "poll"))
        self.assertIn("Last ACK received: ", show(state, "status"))
        self.assertNotIn("Last ACK received: <none>", show(state, "status"))
        # Reports pushed after the ACK was taken may be still unreported
        # (CLOSED) if SIGTERM came mid-cycle; everything reported is stored.
        sent = self.assert_landed(state, pid, sn, host, "17.09.04", "B")
        self.assertGreaterEqual(len(sent), 6)
        states = report_states(state)
        self.assertIn("ACK", states.values(), show(state, "rum"))
        self.assert_no_conflicts("default")

    # -- (e) a fleet ---------------------------------------------------------------------

    def fleet_dump(self, root):
        out = agent("fleet", "--state", root, "--dump").stdout
        return [json.loads(line) for line in out.splitlines()]

    def assert_fleet_landed(self, dev, tenant):
        """Every report a fleet device sent and has not seen acknowledged is
        stored byte-exact under its identity; returns how many."""
        sent = {r["id"]: r["doc"] for r in dev["reports"] if r["state"] in ("UNACK", "ACK")}
        stored = self.stored_reports(dev["pid"], dev["serial"], tenant)
        for rid, doc in sent.items():
            self.assertIn(rid, stored, "device %s report %d sent, not stored"
                          % (dev["serial"], rid))
            text, tag, sfmt = stored[rid]
            self.assertEqual(text, doc, "report %d of %s not stored byte-exact"
                             % (rid, dev["serial"]))
            payload = json.loads(json.loads(doc)["payload"])
            self.assertEqual(tag, payload["meta"]["entitlement_tag"])
            self.assertEqual(sfmt, dev["format"])
        row = self.device_row(dev["pid"], dev["serial"], tenant)
        self.assertEqual(row[1], dev["hostname"])
        self.assertEqual(row[2], dev["version"])
        return len(sent)

    def test_fleet(self):
        root = os.path.join(self.tmp, "fleet")
        log_path = os.path.join(self.tmp, "fleet.log")
        tid = self.tenant_id(TENANT_FLEET)
        with open(log_path, "w") as logf:
            proc = subprocess.Popen([AGENT, "fleet", "--count", "20", "--state", root, "--url",
                                     self.url_for(TENANT_FLEET), "--speedup", "1000",
                                     "--entitlement", "%s=3" % TAG_ADV,
                                     "--entitlement", "%s=1" % TAG_NET, "--quiet"],
                                    stdout=logf, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))

        def landed():
            return int(self.scalar(
                "SELECT count(*) FROM (SELECT device_id FROM rum_reports WHERE tenant_id = %s "
                "GROUP BY device_id HAVING count(*) >= 2) q" % tid)) >= 20

        wait_for(landed, 60, interval=0.2, what="20 fleet devices with their reports")
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=60), 0)
        with open(log_path) as f:
            log = f.read()
        self.assertRegex(log, r"fleet: 20 devices, [0-9.]+ s, \d+ messages .*, 0 failures")
        self.assertEqual(self.pg.count("devices", "tenant_id = %s" % tid, db=self.db), 20)
        serials = [r[0] for r in self.q("SELECT udi_serial FROM devices WHERE tenant_id = %s "
                                        "ORDER BY udi_serial" % tid)]
        self.assertEqual(serials, ["FLT%08d" % i for i in range(20)])
        devices = self.fleet_dump(root)
        self.assertEqual([d["serial"] for d in devices], serials)
        for d in devices:
            self.assertEqual((d["pid"], d["hostname"]), ("C9300-24P", "fleet-%05d" % d["index"]))
            self.assertGreaterEqual(self.assert_fleet_landed(d, TENANT_FLEET), 2)
        self.assert_no_conflicts(TENANT_FLEET)

        # Started again on its store: the same devices go on where they were;
        # a report sent again is the same bytes (no conflict), ids are new.
        before = int(self.scalar("SELECT count(*) FROM rum_reports WHERE tenant_id = %s" % tid))
        run = subprocess.run([AGENT, "fleet", "--count", "20", "--state", root, "--url",
                              self.url_for(TENANT_FLEET), "--speedup", "1000000", "--rounds",
                              "1", "--duration", "60", "--quiet"],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        self.assertRegex(run.stdout, r"fleet: 20 devices, .*, 0 failures")
        after = int(self.scalar("SELECT count(*) FROM rum_reports WHERE tenant_id = %s" % tid))
        self.assertGreaterEqual(after, before + 40)
        for d in self.fleet_dump(root):
            self.assert_fleet_landed(d, TENANT_FLEET)
        self.assert_no_conflicts(TENANT_FLEET)

        # Killed mid-run: after the restart no id names two reports.
        proc = subprocess.Popen([AGENT, "fleet", "--count", "20", "--state", root, "--url",
                                 self.url_for(TENANT_FLEET), "--speedup", "10000000",
                                 "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2)
        proc.kill()
        proc.wait()
        run = subprocess.run([AGENT, "fleet", "--count", "20", "--state", root, "--url",
                              self.url_for(TENANT_FLEET), "--speedup", "1000000", "--rounds",
                              "1", "--duration", "60", "--quiet"],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        for d in self.fleet_dump(root):
            self.assert_fleet_landed(d, TENANT_FLEET)
        self.assert_no_conflicts(TENANT_FLEET)

    def test_fleet_acks_through_the_air_gap(self):
        """A fleet's reports go out by file and come back acknowledged: the
        devices poll, install their ACKs and stop waiting for them."""
        tenant = "Fleet ACK"
        rumtest.add_tenant(self.url, tenant)
        tid = self.tenant_id(tenant)
        root = os.path.join(self.tmp, "fleet-ack")
        base = [AGENT, "fleet", "--count", "25", "--state", root, "--url", self.url_for(tenant),
                "--speedup", "1000000", "--duration", "90", "--quiet"]
        run = subprocess.run(base + ["--rounds", "1"], capture_output=True, text=True,
                             timeout=150)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        self.assertRegex(run.stdout, r"fleet: 25 devices, .*, 0 failures")
        self.assertEqual(self.pg.count("devices", "tenant_id = %s" % tid, db=self.db), 25)

        out = os.path.join(self.tmp, "fleet-export")
        os.makedirs(out)
        proc = rumtest.run_rumd(["export", "--tenant", tenant, "-o", out,
                                 "--database_url=%s" % self.url], timeout=300)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        found = re.search(r" to (\S+UD_SA_\S+\.tar\.gz)", proc.stdout)
        self.assertTrue(found, proc.stdout + proc.stderr)
        path = found.group(1)
        acks = os.path.join(self.tmp, "fleet-acks")
        sim = subprocess.run([sys.executable, CSSM_SIM, "ack", path, "-o", acks],
                             capture_output=True, text=True, timeout=300)
        self.assertEqual(sim.returncode, 0, sim.stdout + sim.stderr)
        proc = rumtest.run_rumd(["import", os.path.join(acks, "ACK_" + os.path.basename(path)),
                                 "--database_url=%s" % self.url], timeout=300)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("25 devices matched", proc.stdout)

        run = subprocess.run(base + ["--rounds-acked", "1"], capture_output=True, text=True,
                             timeout=150)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        self.assertRegex(run.stdout, r"fleet: 25 devices, .* 25 devices with their ACK")
        self.assertEqual(int(self.scalar(
            "SELECT count(DISTINCT a.device_id) FROM ack_deliveries d JOIN acks a ON "
            "a.id = d.ack_id WHERE a.tenant_id = %s" % tid)), 25)
        for d in self.fleet_dump(root):
            self.assertGreaterEqual(d["acks"], 1, d["serial"])
            self.assertGreaterEqual(d["windows_acknowledged"], 1, d["serial"])
        self.assert_no_conflicts(tenant)

    def test_fleet_store_refuses_what_it_cannot_use(self):
        root = os.path.join(self.tmp, "fleet-bad")
        url = self.url_for(TENANT_FLEET)
        run = subprocess.run([AGENT, "fleet", "--count", "3", "--state", root, "--url", url,
                              "--duration", "0.2", "--quiet"], capture_output=True, text=True,
                             timeout=60)
        self.assertEqual(run.returncode, 0, run.stderr)
        store = os.path.join(root, "fleet.store")
        with open(store, "rb") as f:
            good = f.read()
        # Another count, a cut file, a damaged device, another file: a clear
        # error each time, and the store as it was.
        cases = [(["--count", "4"], good, "holds 3 devices, not --count 4"),
                 (["--count", "3"], good[:-10], "do not hold the 3 devices"),
                 (["--count", "3"], b"x" * len(good), "is not a rum-agent fleet store")]
        damaged = bytearray(good)
        record = struct.unpack_from("=I", good, 24)[0]  # the header's record_size
        # The last device's seq_sent (after two 8-byte timers and seq_lo) past seq_next.
        struct.pack_into("=I", damaged, len(good) - record + 20, 0x7fffffff)
        cases.append((["--count", "3"], bytes(damaged), "device 2 is damaged"))
        for args, content, message in cases:
            with open(store, "wb") as f:
                f.write(content)
            run = subprocess.run([AGENT, "fleet", "--state", root, "--url", url,
                                  "--duration", "0.2"] + args, capture_output=True, text=True,
                                 timeout=60)
            self.assertEqual(run.returncode, 1, run.stdout)
            self.assertIn(message, run.stderr)
            with open(store, "rb") as f:
                self.assertEqual(f.read(), content)
        run = subprocess.run([AGENT, "fleet", "--state", root, "--dump", "--device", "7"],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 1)


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    rumtest.main()
