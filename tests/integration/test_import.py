"""The air-gapped loop, import side (PROTOCOL.md 2.1-2.3): rum-agents push to a
real rumd, `rumd export` writes UD_SA, the CSSM simulator acknowledges it,
`rumd import` takes the ACK_UD_SA tarball, and the agents' next sync installs
the ACK (policy with 14 reporting days, reports ACK) while rumd shows the
reports acknowledged and the ACKs delivered.

Also: every hostile archive or XML kind of the simulator is refused with a
clear message and no change in any table; an ACK for a device that does not
exist is listed and skipped while the rest is imported (a file with no usable
entry at all changes nothing); a single ACK XML file matched by the UDI
inside or by --device; a policy file; the same file twice changes nothing
the second time; `ack-file` writes the exact bytes; `import-usage` loads a
rum-agent usage file byte-exact, and a second time gives duplicates only."""

import hashlib
import io
import json
import os
import re
import subprocess
import sys
import tarfile

import rumtest as rt

BUILD = os.environ.get("RUM_BUILD_DIR", "")
AGENT = os.path.join(BUILD, "agent", "rum-agent")
CSSM_SIM = os.path.join(rt.SOURCE_DIR, "tests", "tools", "cssm_sim.py")
TAG_ADV = "regid.2017-03.com.cisco.advantagek9,1.0_bd1da96e-ec1d-412b-a50e-53846b347d53"
TAG_DNA = "regid.2018-12.com.cisco.DNA_P_50M_A,1.0_100fb8b2-f5cc-459c-9253-ac77b827fd71"
TABLES = ("acks", "ack_deliveries", "imports", "import_acks", "rum_reports", "uploads",
          "devices", "export_batches", "export_batch_reports")


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


def sim(*args, check=True):
    proc = subprocess.run([sys.executable, CSSM_SIM, *args], capture_output=True, text=True,
                          timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError("cssm_sim %s: %s%s" % (" ".join(args), proc.stdout, proc.stderr))
    return proc


class Import(rt.RumTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.path.exists(AGENT):
            raise rt.unittest.SkipTest("no rum-agent binary: set RUM_BUILD_DIR (ctest does)")
        cls.url, cls.db = cls.fresh_database("import")
        cls.server = cls.start_class_rumd(database_url=cls.url)
        cls.base = "http://127.0.0.1:%d/cslu/v1/pi" % cls.server.port

    def setUp(self):
        super().setUp()
        self.tmp = rt.make_tempdir("import-")

    # -- helpers -------------------------------------------------------------

    def q(self, sql):
        return self.pg.psql(sql, db=self.db)

    def scalar(self, sql):
        return self.pg.scalar(sql, db=self.db)

    def counts(self):
        return {t: self.pg.count(t, db=self.db) for t in TABLES} | {
            "acked": self.pg.count("rum_reports", "acked_at IS NOT NULL", db=self.db)}

    def cli(self, *args, expect=0):
        proc = rt.run_rumd(list(args) + ["--database_url=%s" % self.url], timeout=600)
        self.assertEqual(proc.returncode, expect, "rumd %s:\n%s%s" % (
            " ".join(args), proc.stdout, proc.stderr))
        return proc

    def new_agent(self, name, pid, sn, fmt="B"):
        state = os.path.join(self.tmp, name)
        agent("init", "--state", state, "--pid", pid, "--serial", sn, "--hostname", name,
              "--rum-format", fmt, "--entitlement", "%s=2" % TAG_ADV,
              "--entitlement", "%s=5" % TAG_DNA)
        return state

    def sync(self, state, expect_ack):
        """One sync. An ACK comes with the hello (then the new upload's poll
        finds none, and sync exits 3) or with the poll: expect_ack checks
        that the agent installed one."""
        proc = agent("sync", "--state", state, "--url", self.base, "--max-polls", "1",
                     "--poll-interval", "0.05", check=False)
        self.assertIn(proc.returncode, (0, 3), proc.stdout + proc.stderr)
        self.assertEqual("ACK installed" in proc.stderr or "ack=installed" in proc.stderr,
                         expect_ack, proc.stderr)
        return proc

    def device_id(self, pid, sn):
        return int(self.scalar("SELECT id FROM devices WHERE udi_pid = '%s' AND udi_serial = '%s'"
                               % (pid, sn)))

    def export_and_ack(self, days=14, extra=()):
        out = os.path.join(self.tmp, "export")
        os.makedirs(out, exist_ok=True)
        proc = self.cli("export", "--tenant", "default", "-o", out)
        path = re.search(r" to (\S+UD_SA_\S+\.tar\.gz)", proc.stdout).group(1)
        acks = os.path.join(self.tmp, "acks")
        sim("ack", path, "-o", acks, "--reporting-days", str(days), *extra)
        name = "ACK_" + os.path.basename(path)
        return path, os.path.join(acks, name)

    # -- the loop ------------------------------------------------------------

    def test_1_air_gapped_loop(self):
        devs = [("C9300-24P", "FOCIMP0001", "A"), ("C9300-48P", "FOCIMP0002", "B"),
                ("C8000V", "9IMP000003", "B")]
        states = [self.new_agent("imp%d" % i, pid, sn, fmt) for i, (pid, sn, fmt) in enumerate(devs)]
        for st in states:
            self.sync(st, expect_ack=False)
        sent = [{i for i, s in report_states(st).items() if s == "UNACK"} for st in states]
        self.assertTrue(all(sent), sent)
        ids = [self.device_id(pid, sn) for pid, sn, _ in devs]
        _, ack_path = self.export_and_ack(14, ("--trust-code",))

        before = self.counts()
        proc = self.cli("import", ack_path)
        nrep = sum(len(s) for s in sent)
        self.assertIn("3 devices matched, %d reports acknowledged, 3 policies and 3 trust codes "
                      "received, 3 ACKs queued" % nrep, proc.stdout)
        for i in ids:
            self.assertIn("device %d (" % i, proc.stdout)
        self.assertIn('policy "CSSM Simulator Policy" version 1, reporting every 14 days',
                      proc.stdout)
        after = self.counts()
        self.assertEqual(after["acks"], before["acks"] + 3)
        self.assertEqual(after["imports"], before["imports"] + 1)
        self.assertEqual(after["acked"], before["acked"] + nrep)
        for i, s in zip(ids, sent):
            self.assertEqual(self.pg.count("rum_reports", "device_id = %d AND acked_at IS NULL"
                                           % i, db=self.db), 0)
        # The ACK files are kept byte-exact: the same bytes as inside the tarball.
        with tarfile.open(ack_path, "r:gz") as outer:
            inner = outer.extractfile(outer.getnames()[0]).read()
        with tarfile.open(fileobj=io.BytesIO(inner), mode="r:gz") as t:
            files = {m.name: t.extractfile(m).read() for m in t.getmembers()}
        for i in ids:
            name = [n for n in files if n.startswith("ACK_dev_%d_" % i)][0]
            got = self.pg.fetch_bytes("SELECT content FROM acks WHERE device_id = %d "
                                      "ORDER BY id DESC LIMIT 1" % i, db=self.db)[0]
            self.assertEqual(got, files[name])

        # Idempotent: the same file again changes nothing, and says so.
        before = self.counts()
        proc = self.cli("import", ack_path)
        self.assertIn("already imported", proc.stdout)
        self.assertEqual(self.counts(), before)

        # The agents' next sync installs the ACK.
        for st, s in zip(states, sent):
            self.sync(st, expect_ack=True)
            status = agent("show", "--state", st, "status").stdout
            self.assertIn("Reporting push interval: 14  days", status)
            self.assertNotIn("Last ACK received: <none>", status)
            self.assertIn("Trust Code Installed:\n  Active:", status)
            states_now = report_states(st)
            for rid in s:
                self.assertEqual(states_now[rid], "ACK", (rid, states_now))
        for i in ids:
            self.assertEqual(self.pg.count(
                "ack_deliveries d JOIN acks a ON a.id = d.ack_id",
                "a.device_id = %d" % i, db=self.db), 1)
        # The inventory: pushing devices, their ACK delivered, CSSM's policy
        # and trust code received, the deadline counted from the ACK.
        for i, (pid, sn, _) in zip(ids, devs):
            dev = json.loads(self.cli("device", "show", str(i), "--json").stdout)
            self.assertEqual((dev["udi_pid"], dev["udi_sn"], dev["method"]), (pid, sn, "push"))
            self.assertTrue(dev["last_ack"]["delivered"], dev)
            self.assertEqual(dev["trust_code"], "received")
            self.assertEqual((dev["policy"]["name"], dev["policy"]["cisco_default"],
                              dev["policy"]["ongoing_reporting_days"]),
                             ("CSSM Simulator Policy", False, 14))
            self.assertIsNotNone(dev["last_acknowledged_at"])
            self.assertIsNotNone(dev["next_deadline"])

        # ack-file: the newest ACK, byte-exact.
        out = os.path.join(self.tmp, "dev.ack")
        self.cli("ack-file", "--device", str(ids[0]), "-o", out)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), self.pg.fetch_bytes(
                "SELECT content FROM acks WHERE device_id = %d ORDER BY id DESC LIMIT 1"
                % ids[0], db=self.db)[0])
        self.assertIn("exists", self.cli("ack-file", "--device", str(ids[0]), "-o", out,
                                          expect=1).stderr)
        self.cli("ack-file", "--device", "999999", "-o", out + "2", expect=1)
        self.assertFalse(os.path.exists(out + "2"))

    # -- hostile files -------------------------------------------------------

    def test_2_hostile_files_change_nothing(self):
        st = self.new_agent("hostile", "C9300-24P", "FOCHOSTILE")
        self.sync(st, expect_ack=False)
        kinds = ["dotdot", "absolute", "symlink", "hardlink", "many-entries", "huge-entry",
                 "gzip-bomb", "truncated", "dtd", "billion-laughs", "not-smartlicense"]
        expect = {"dotdot": "'..'", "absolute": "absolute", "symlink": "symbolic link",
                  "hardlink": "hard link", "many-entries": "more than", "huge-entry": "announces",
                  "gzip-bomb": "bomb", "truncated": "", "dtd": "DTD", "billion-laughs": "DTD",
                  "not-smartlicense": "not a smartLicense document"}
        before = self.counts()
        for kind in kinds:
            for shape in (["ack"] if kind not in ("dtd", "billion-laughs", "not-smartlicense")
                          else ["xml", "ack"]):
                path = os.path.join(self.tmp, "%s-%s.bin" % (kind, shape))
                sim("make-hostile", kind, "--out", path, "--shape", shape)
                proc = self.cli("import", path, expect=1)
                self.assertIn(expect[kind], proc.stderr, (kind, shape, proc.stderr))
                self.assertEqual(self.counts(), before, (kind, shape))
        for kind in ("dotdot", "symlink"):
            path = os.path.join(self.tmp, "%s-outer.bin" % kind)
            sim("make-hostile", kind, "--out", path, "--level", "outer")
            self.cli("import", path, expect=1)
            self.assertEqual(self.counts(), before, kind)

    def test_3_unknown_device_skipped_rest_imported(self):
        pid, sn = "C9300-24P", "FOCUNKNOWN"
        st = self.new_agent("unknown", pid, sn)
        self.sync(st, expect_ack=False)
        dev = self.device_id(pid, sn)
        _, ack_path = self.export_and_ack(30)
        # Add an ACK for a device that does not exist beside the real one.
        with tarfile.open(ack_path, "r:gz") as outer:
            inner_name = outer.getnames()[0]
            inner = outer.extractfile(inner_name).read()
        with tarfile.open(fileobj=io.BytesIO(inner), mode="r:gz") as t:
            members = [(m.name, t.extractfile(m).read()) for m in t.getmembers()]
        real_name, real = [m for m in members if m[0].startswith("ACK_dev_%d_" % dev)][0]
        ghost_name = real_name.replace("ACK_dev_%d_" % dev, "ACK_dev_987654_")
        path = os.path.join(self.tmp, "with-ghost.tar.gz")
        self._write_nested(path, inner_name, members + [(ghost_name, real)])
        proc = self.cli("import", path)
        self.assertIn("skipped", proc.stdout)
        self.assertIn("device 987654 does not exist", proc.stdout)
        self.assertIn("device %d (P:%s,S:%s)" % (dev, pid, sn), proc.stdout)
        self.assertEqual(self.pg.count("rum_reports", "device_id = %d AND acked_at IS NULL" % dev,
                                       db=self.db), 0)
        # Only the ghost: nothing usable, nothing changes.
        path = os.path.join(self.tmp, "only-ghost.tar.gz")
        self._write_nested(path, inner_name, [(ghost_name, real)])
        before = self.counts()
        proc = self.cli("import", path, expect=1)
        self.assertIn("device 987654 does not exist", proc.stdout + proc.stderr)
        self.assertEqual(self.counts(), before)

    def _write_nested(self, path, inner_name, members):
        inner = io.BytesIO()
        with tarfile.open(fileobj=inner, mode="w:gz", format=tarfile.USTAR_FORMAT) as t:
            for name, data in members:
                ti = tarfile.TarInfo(name)
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
        with tarfile.open(path, "w:gz", format=tarfile.USTAR_FORMAT) as t:
            ti = tarfile.TarInfo(inner_name)
            ti.size = len(inner.getvalue())
            t.addfile(ti, io.BytesIO(inner.getvalue()))

    def test_4_single_xml_and_policy(self):
        pid, sn = "C8000V", "9SINGLEXML"
        st = self.new_agent("single", pid, sn)
        self.sync(st, expect_ack=False)
        dev = self.device_id(pid, sn)
        sent = sorted(i for i, s in report_states(st).items() if s == "UNACK")
        rum = ",".join('{"report_id":%d,"udi":{"udi_pid":"%s","udi_serial_number":"%s"},'
                       '"status":"ACK"}' % (i, pid, sn) for i in sent)
        xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<smartLicense>'
               "<smartLicenseRumAck><data><![CDATA[[%s]]]></data><signature>x</signature>"
               "</smartLicenseRumAck><correlationID>c</correlationID></smartLicense>\n" % rum)
        path = os.path.join(self.tmp, "single.xml")
        with open(path, "w") as f:
            f.write(xml)
        proc = self.cli("import", path)
        self.assertIn("device %d (P:%s,S:%s)" % (dev, pid, sn), proc.stdout)
        self.assertIn("%d reports acknowledged" % len(sent), proc.stdout)
        # A policy file for --device.
        pol = ('<smartLicensePolicy><policyCode><name>Lab</name><version>4</version>'
               "<subscription><onGoingReporting>21</onGoingReporting></subscription>"
               "</policyCode><signature>s</signature></smartLicensePolicy>\n")
        path = os.path.join(self.tmp, "policy.xml")
        with open(path, "w") as f:
            f.write(pol)
        self.cli("import", path, expect=1)  # which devices? must be named
        proc = self.cli("import", path, "--device", str(dev))
        self.assertIn("reporting every 21 days", proc.stdout)
        self.sync(st, expect_ack=True)
        self.assertIn("Reporting push interval: 21  days",
                      agent("show", "--state", st, "status").stdout)
        # XML that is not a smartLicense document; a usage file given to import.
        path = os.path.join(self.tmp, "other.xml")
        with open(path, "w") as f:
            f.write("<html><body>no</body></html>")
        before = self.counts()
        self.assertIn("not a smartLicense document", self.cli("import", path, expect=1).stderr)
        self.assertEqual(self.counts(), before)

    # -- usage files ---------------------------------------------------------

    def test_5_import_usage(self):
        pid, sn = "C9300-48P", "FOCUSAGE01"
        st = self.new_agent("usage", pid, sn, fmt="A")
        path = os.path.join(self.tmp, "usage.xml")
        agent("save-usage", "--state", st, "all", path)
        import xml.etree.ElementTree as ET
        texts = [el.text for el in ET.parse(path).getroot().findall("RUMReport")]
        self.assertTrue(texts)
        proc = self.cli("import-usage", path, "--tenant", "default")
        self.assertIn("new %d, duplicate 0, conflict 0" % len(texts), proc.stdout)
        stored = self.q("SELECT report FROM rum_reports WHERE udi_serial = '%s' ORDER BY id" % sn)
        for t in texts:
            h = hashlib.sha256(t.encode()).hexdigest()
            self.assertEqual(self.scalar(
                "SELECT count(*) FROM rum_reports WHERE udi_serial = '%s' AND "
                "encode(sha256(convert_to(report, 'UTF8')), 'hex') = '%s'" % (sn, h)), "1", stored)
        self.assertEqual(self.scalar("SELECT DISTINCT source FROM uploads u JOIN devices d ON "
                                     "d.id = u.device_id WHERE d.udi_serial = '%s'" % sn), "import")
        # The inventory knows the device as reporting by file.
        dev = json.loads(self.cli("device", "show", str(self.device_id(pid, sn)),
                                  "--json").stdout)
        self.assertEqual((dev["udi_pid"], dev["udi_sn"], dev["method"], dev["state"]),
                         (pid, sn, "file", "ok"))
        self.assertEqual(dev["reports"], {"stored": len(texts), "not_exported": len(texts),
                                          "exported_unacknowledged": 0})
        before = self.counts()
        proc = self.cli("import-usage", path, "--tenant", "default")
        self.assertIn("new 0, duplicate %d, conflict 0" % len(texts), proc.stdout)
        after = self.counts()
        self.assertEqual(after["rum_reports"], before["rum_reports"])
        self.cli("import-usage", path, "--tenant", "no such tenant", expect=1)
        bad = os.path.join(self.tmp, "bad.xml")
        with open(bad, "w") as f:
            f.write("<!DOCTYPE x [<!ENTITY a 'b'>]><smartLicense/>")
        self.assertIn("DTD", self.cli("import-usage", bad, "--tenant", "default", expect=1).stderr)


if __name__ == "__main__":
    rt.main()
