"""The CSSM simulator (tests/tools/cssm_sim.py): a valid export is acknowledged
with the layout and sections of PROTOCOL 2.3, the real rum-agent accepts the
ACK it returns, and every malformed or hostile export is refused with exit
status 2, a one-line message and nothing written.

Exports for the negative cases are written with Python's tarfile, not with the
simulator's own writer, so that the reader is also checked against a standard
tar implementation."""
import base64
import contextlib
import gzip
import hashlib
import hmac
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import unittest
import uuid
import zlib
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, "..", "tools", "cssm_sim.py")
sys.path.insert(0, os.path.dirname(TOOL))
import cssm_sim as sim  # noqa: E402

BUILD = os.environ.get("RUM_BUILD_DIR") or os.path.join(HERE, "..", "..", "build")
AGENT = os.path.join(BUILD, "agent", "rum-agent")
TS = "26Nov28_17_45_10_123"
OTHER_TS = "26Nov28_17_45_11_000"
INNER = "UD_VA_%s.tar.gz" % TS
TAG_A = "regid.2017-03.com.cisco.advantagek9,1.0_bd1da96e-ec1d-412b-a50e-53846b347d53"
TAG_B = "regid.2017-03.com.cisco.dna-advantage,1.0_b6308627-3ab0-4a11-a3d9-586911a0d790"
SECTIONS = ("smartLicensePolicy", "smartLicenseRumAck", "smartLicenseAccountInfo", "smartLicenseTrustCode")


def run_sim(*args):
    return subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True, timeout=300)


def run_sim_here(*args):
    """sim.main() in this process (the same code path as the command line,
    without an interpreter start-up per case)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = sim.main(list(args))
    return subprocess.CompletedProcess(args, rc, out.getvalue(), err.getvalue())


# ---------------------------------------------------------------------------
# Building exports with tarfile

def tgz(members, fmt=tarfile.PAX_FORMAT, mtime=1700000000):
    """A tar.gz of (name, bytes) pairs; a (name, None) pair is a directory."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=fmt) as t:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.mtime = mtime
            if data is None:
                info.type = tarfile.DIRTYPE
                t.addfile(info)
            else:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def manifest(inner=INNER, smart_account="ACME", virtual_account="Lab"):
    return sim.manifest_text(inner, smart_account, virtual_account)


def payload(pid, sn, rid, fmt="A"):
    return sim.synthetic_payload(pid, sn, rid, fmt, 1700000000)


def report(pid, sn, body, header=True):
    """A report object around a payload (dict, or exact text)."""
    text = body if isinstance(body, str) else json.dumps(body, separators=(",", ":"))
    rep = {"payload": text}
    if header:
        rep["header"] = {"type": "rum"}
    rep["signature"] = {"sudi": sim.sudi(pid, sn), "signing_type": "builtin", "value": "x"}
    return rep


def usage(pid="C9300-24P", sn="FOC1", ids=(11, 12), fmt="A", reports=None, system_info=True):
    if reports is None:
        reports = [report(pid, sn, payload(pid, sn, rid, fmt)) for rid in ids]
    return sim.usage_xml(pid, sn, "sw-%s" % sn, reports, system_info)


def good_devices():
    return [("1", usage("C9300-24P", "FOC1", (11, 12), "A")),
            ("2", usage("C8000V", "9ABCDEFGHIJ", (21, 22, 23), "B"))]


def export(devices=None, outer=None, inner_members=None, man=None, fmt=tarfile.PAX_FORMAT):
    """An UD_SA archive's bytes; each part can be replaced."""
    if inner_members is None:
        inner_members = [("dev_%s_%s.txt" % (i, TS), d) for i, d in (devices or good_devices())]
    if outer is None:
        outer = [("manifest.mf", man if man is not None else manifest()),
                 (INNER, tgz(inner_members, fmt))]
    return tgz(outer, fmt)


def read_ack(path):
    """{name: bytes} of the ACK_dev files in an ACK_UD_SA tarball, and the
    names of the outer members."""
    with tarfile.open(path, "r:gz") as outer:
        members = outer.getmembers()
        inner_bytes = outer.extractfile(members[0]).read()
    with tarfile.open(fileobj=io.BytesIO(inner_bytes), mode="r:gz") as inner:
        files = {m.name: inner.extractfile(m).read() for m in inner.getmembers() if m.isfile()}
        kinds = {m.name: m.isfile() for m in inner.getmembers()}
    return [m.name for m in members], [m.isfile() for m in members], files, kinds


def expected_reports(export_path):
    """{device id: (udi, [report ids])} read from an export with tarfile."""
    out = {}
    with tarfile.open(export_path, "r:gz") as outer:
        inner = [m for m in outer.getmembers() if m.name.startswith("UD_VA_")][0]
        data = outer.extractfile(inner).read()
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as t:
        for m in t.getmembers():
            dev_id = m.name.split("_")[1]
            root = ET.fromstring(t.extractfile(m).read())
            ids, udi = [], None
            for rep in root.iter("RUMReport"):
                p = json.loads(json.loads(rep.text)["payload"])
                ids.append(p.get("meta", {}).get("report_id") or p["asset_identification"]["report_id"])
                s = p["asset_identification"]["instance"]["sudi"]
                udi = (s["udi_pid"], s["udi_serial_number"])
            out[dev_id] = (udi, ids)
    return out


def agent(*args, check=True):
    r = subprocess.run([AGENT, *args], capture_output=True, text=True, timeout=60)
    if check and r.returncode != 0:
        raise AssertionError("rum-agent %s failed: %s" % (args[0], r.stderr))
    return r


class CssmSimCase(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="cssm_sim_")
        self.out = os.path.join(self.tmp, "out")
        os.mkdir(self.out)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write(self, data, name="UD_SA_%s.tar.gz" % TS, sub="in"):
        d = os.path.join(self.tmp, sub)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def assertRefused(self, path, fragment, out=None, cli=False):
        out = out or self.out
        r = (run_sim if cli else run_sim_here)("ack", path, "-o", out)
        self.assertEqual(r.returncode, 2, "not refused (%s): %s%s" % (fragment, r.stdout, r.stderr))
        self.assertEqual(r.stdout, "")
        self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
        self.assertTrue(r.stderr.startswith("cssm_sim: "), r.stderr)
        self.assertIn(fragment, r.stderr)
        self.assertEqual(os.listdir(out) if os.path.isdir(out) else [], [], "output written on refusal")
        return r.stderr

    def assertSigned(self, text, tag):
        m = re.search(r"<%s>(.*?)<signature>([^<]*)</signature></%s>" % (tag, tag), text, re.S)
        self.assertIsNotNone(m, "%s has no trailing <signature>" % tag)
        want = hmac.new(sim.SIM_KEY, m.group(1).encode(), hashlib.sha256).digest()
        self.assertEqual(base64.b64decode(m.group(2)), want, "%s signature" % tag)

    def check_ack_doc(self, data, udi, ids, policy, days, accounts, trust):
        text = data.decode("utf-8")
        self.assertTrue(text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<smartLicense>'))
        root = ET.fromstring(data)
        self.assertEqual(root.tag, "smartLicense")
        want = ["smartLicensePolicy", "smartLicenseRumAck", "smartLicenseAccountInfo"]
        want += ["smartLicenseTrustCode"] if trust else []
        self.assertEqual([c.tag for c in root], want + ["correlationID"])
        code = root.find("smartLicensePolicy/policyCode")
        self.assertEqual(code.findtext("name"), policy)
        self.assertEqual(code.findtext("version"), "1")
        self.assertEqual(code.findtext("ackRequired"), "yes")
        for cls in ("subscription", "perpetual", "enforced", "export", "generic"):
            for field in ("firstTimeReport", "onGoingReporting", "reportOnMACD"):
                self.assertEqual(code.findtext("%s/%s" % (cls, field)), str(days), cls + field)
        acks = json.loads(root.findtext("smartLicenseRumAck/data"))
        self.assertEqual([a["report_id"] for a in acks], list(ids))
        for a in acks:
            self.assertEqual(a["udi"], sim.sudi(*udi))
            self.assertEqual(a["status"], "ACK")
        info = root.find("smartLicenseAccountInfo/customerInfo")
        self.assertEqual((info.findtext("smartAccount"), info.findtext("virtualAccount")), accounts)
        if trust:
            self.assertEqual(root.findtext("smartLicenseTrustCode/udi"), "P:%s,S:%s" % udi)
            self.assertEqual(len(base64.b64decode(root.findtext("smartLicenseTrustCode/trustCode"))), 32)
        uuid.UUID(root.findtext("correlationID"))
        for tag in want:
            self.assertSigned(text, tag)


# ---------------------------------------------------------------------------

class TestAcknowledge(CssmSimCase):
    def make_export(self, *extra):
        r = run_sim("make-export", "--out", os.path.join(self.tmp, "UD_SA_%s.tar.gz" % TS), *extra)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout.strip()

    def test_synthetic_export_acknowledged(self):
        path = self.make_export("--devices", "3", "--reports-per-device", "4",
                                "--smart-account", "ACME & Sons", "--virtual-account", "Lab <East>")
        r = run_sim("ack", path, "-o", self.out, "--reporting-days", "45", "--policy-name", "Lab <Policy>")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 4)
        self.assertTrue(lines[-1].startswith("total: 3 device(s), 12 report(s) acknowledged -> "), lines[-1])
        name = "ACK_UD_SA_%s.tar.gz" % TS
        self.assertEqual(os.listdir(self.out), [name])
        names, regular, files, kinds = read_ack(os.path.join(self.out, name))
        self.assertEqual(names, ["ACK_UD_VA_%s.tar.gz" % TS])
        self.assertEqual(regular, [True])
        self.assertTrue(all(kinds.values()))
        expected = expected_reports(path)
        self.assertEqual(sorted(files), sorted("ACK_dev_%s_%s.txt" % (i, TS) for i in expected))
        for dev_id, (udi, ids) in expected.items():
            self.assertIn("ACK_dev_%s_%s.txt  P:%s,S:%s  4 report(s) acknowledged" % ((dev_id, TS) + udi), lines)
            self.check_ack_doc(files["ACK_dev_%s_%s.txt" % (dev_id, TS)], udi, ids, "Lab <Policy>", 45,
                               ("ACME & Sons", "Lab <East>"), trust=False)

    def test_trust_code_overrides_and_reproducible_output(self):
        path = self.write(export())
        outs = []
        for sub in ("a", "b"):
            out = os.path.join(self.tmp, sub)
            r = run_sim("ack", path, "-o", out, "--trust-code", "--smart-account", "SA", "--virtual-account", "VA")
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(os.path.join(out, "ACK_UD_SA_%s.tar.gz" % TS), "rb") as f:
                outs.append(f.read())
        self.assertEqual(outs[0], outs[1])  # same input, same bytes
        _, _, files, _ = read_ack(os.path.join(self.tmp, "a", "ACK_UD_SA_%s.tar.gz" % TS))
        self.check_ack_doc(files["ACK_dev_1_%s.txt" % TS], ("C9300-24P", "FOC1"), [11, 12],
                           "CSSM Simulator Policy", 90, ("SA", "VA"), trust=True)
        self.check_ack_doc(files["ACK_dev_2_%s.txt" % TS], ("C8000V", "9ABCDEFGHIJ"), [21, 22, 23],
                           "CSSM Simulator Policy", 90, ("SA", "VA"), trust=True)

    def test_accounts_default_to_the_manifest(self):
        path = self.write(export(man=manifest(smart_account="", virtual_account="Branch")))
        self.assertEqual(run_sim("ack", path, "-o", self.out).returncode, 0)
        _, _, files, _ = read_ack(os.path.join(self.out, "ACK_UD_SA_%s.tar.gz" % TS))
        info = ET.fromstring(files["ACK_dev_1_%s.txt" % TS]).find("smartLicenseAccountInfo/customerInfo")
        self.assertEqual(info.findtext("virtualAccount"), "Branch")
        self.assertEqual(info.findtext("smartAccount"), "Simulated Smart Account")

    def test_tar_dialects_and_quirks_accepted(self):
        """GNU and pax headers (tarfile, GNU tar), a header-less report, a
        duplicate report sent twice, continuation lines in the manifest."""
        devices = [("1", usage(reports=[report("C9300-24P", "FOC1", payload("C9300-24P", "FOC1", 5), header=False),
                                        report("C9300-24P", "FOC1", payload("C9300-24P", "FOC1", 5))],
                               system_info=False))]
        wrapped = manifest().replace(b"Smart-Account: ACME\n", b"Smart-Account: AC\n ME\n")
        for label, fmt in (("gnu", tarfile.GNU_FORMAT), ("pax", tarfile.PAX_FORMAT), ("ustar", tarfile.USTAR_FORMAT)):
            with self.subTest(label):
                path = self.write(export(devices, man=wrapped, fmt=fmt), sub=label)
                r = run_sim("ack", path, "-o", os.path.join(self.tmp, "o-" + label))
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn("1 report(s) acknowledged", r.stdout)
        buf = io.BytesIO()  # pax headers on every entry (float mtime, non-ASCII owner)
        with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as t:
            for name, data in (("manifest.mf", manifest()), (INNER, tgz([("dev_7_%s.txt" % TS, usage())]))):
                info = tarfile.TarInfo(name)
                info.size, info.mtime, info.uname = len(data), 1700000000.5, "rümd"
                t.addfile(info, io.BytesIO(data))
        path = self.write(buf.getvalue(), sub="paxall")
        r = run_sim("ack", path, "-o", os.path.join(self.tmp, "o-paxall"))
        self.assertEqual(r.returncode, 0, r.stderr)
        if shutil.which("tar"):
            src = os.path.join(self.tmp, "gnutar")
            os.mkdir(src)
            with open(os.path.join(src, "manifest.mf"), "wb") as f:
                f.write(manifest())
            with open(os.path.join(src, INNER), "wb") as f:
                f.write(tgz([("dev_3_%s.txt" % TS, usage())]))
            path = os.path.join(self.tmp, "UD_SA_%s.tar.gz" % TS)
            subprocess.run(["tar", "czf", path, "-C", src, "manifest.mf", INNER], check=True)
            r = run_sim("ack", path, "-o", os.path.join(self.tmp, "o-gnutar"))
            self.assertEqual(r.returncode, 0, r.stderr)

    def test_crc32_combine(self):
        for a, b in ((b"", b"x"), (b"abc", b""), (os.urandom(100), os.urandom(70000))):
            self.assertEqual(sim.crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)), zlib.crc32(a + b))


@unittest.skipUnless(os.path.exists(AGENT), "rum-agent not built (set RUM_BUILD_DIR)")
class TestAgentAcceptsAck(CssmSimCase):
    """Usage saved by real agents, wrapped into an export, acknowledged by the
    simulator, imported back: the reports become ACK and the policy, account
    and trust code are installed."""

    def device(self, name, pid, serial, fmt):
        state = os.path.join(self.tmp, name)
        agent("init", "--state", state, "--pid", pid, "--serial", serial, "--hostname", name,
              "--entitlement", TAG_A + "=2", "--entitlement", TAG_B + "=1", "--rum-format", fmt)
        path = os.path.join(self.tmp, name + ".xml")
        agent("save-usage", "--state", state, "all", path)
        return state, path

    def test_agent_imports_the_ack(self):
        a_state, a_usage = self.device("sw-a", "C9300-24P", "FOC2231A0XY", "A")
        b_state, b_usage = self.device("sw-b", "C8000V", "9ABCDEFGHIJ", "B")
        export_path = os.path.join(self.tmp, "UD_SA_%s.tar.gz" % TS)
        r = run_sim("make-export", "--out", export_path, "--usage", a_usage, "--usage", b_usage,
                    "--smart-account", "ACME", "--virtual-account", "Air Gap")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run_sim("ack", export_path, "-o", self.out, "--trust-code", "--reporting-days", "7",
                    "--policy-name", "Air Gap Policy")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("total: 2 device(s), 4 report(s) acknowledged", r.stdout)
        _, _, files, _ = read_ack(os.path.join(self.out, "ACK_UD_SA_%s.tar.gz" % TS))
        acks = {}
        for dev_id in ("1", "2"):
            acks[dev_id] = os.path.join(self.tmp, "ACK_dev_%s_%s.txt" % (dev_id, TS))
            with open(acks[dev_id], "wb") as f:
                f.write(files["ACK_dev_%s_%s.txt" % (dev_id, TS)])
        for state, ack, pid, serial in ((a_state, acks["1"], "C9300-24P", "FOC2231A0XY"),
                                        (b_state, acks["2"], "C8000V", "9ABCDEFGHIJ")):
            self.assertEqual(agent("show", "--state", state, "rum").stdout.count(" UNACK "), 2)
            out = agent("import", "--state", state, ack).stdout
            self.assertIn('policy "Air Gap Policy" installed', out)
            self.assertIn("RUM ACK: 2 report(s) acknowledged", out)
            self.assertIn("trust code installed", out)
            status = agent("show", "--state", state, "status").stdout
            self.assertIn("Policy name: Air Gap Policy", status)
            self.assertIn("Reporting push interval: 7  days", status)
            self.assertIn("Smart Account: ACME", status)
            self.assertIn("Virtual Account: Air Gap", status)
            self.assertIn("Active: PID:%s,SN:%s" % (pid, serial), status)
            self.assertNotIn("Last ACK received: <none>", status)
            rum = agent("show", "--state", state, "rum").stdout
            self.assertNotIn(" UNACK ", rum)
            self.assertEqual(rum.count(" ACK "), 2)


class TestMalformedExports(CssmSimCase):
    def refuse_all(self, cases):
        for label, data, fragment, *name in cases:
            with self.subTest(label):
                path = self.write(data, *(name or ["UD_SA_%s.tar.gz" % TS]), sub=re.sub(r"\W", "_", label))
                self.assertRefused(path, fragment)

    def test_bad_manifest(self):
        good = manifest().decode()
        cases = [
            ("version", good.replace("Manifest-Version: 1.0", "Manifest-Version: 2.0"), "Manifest-Version is '2.0'"),
            ("created-by not JSON", re.sub(r"Created-By: .*", "Created-By: rumd 1.0", good), "Created-By is not"),
            ("created-by bad uuid", re.sub(r"Created-By: .*", 'Created-By: {"uuid": "nope"}', good), "Created-By"),
            ("no blank line", good.replace("\n\n", "\n"), "expected 2 sections"),
            ("name mismatch", good.replace("Name: /UD_VA_", "Name: /UD_VA_x"), "Name is"),
            ("field missing", re.sub(r"Smart-Account-ID:.*\n", "", good), "field Smart-Account-ID missing"),
            ("unknown field", good.replace("Smart-Account-ID:", "X-Extra: 1\nSmart-Account-ID:"),
             "unexpected field X-Extra"),
            ("field twice", good.replace("Specification-VA:", "Specification-VA: a\nSpecification-VA:", 1),
             "given twice"),
            ("empty VA", re.sub(r"Specification-VA: .*", "Specification-VA:", good), "Specification-VA"),
            ("not key value", good.replace("Smart-Account: ACME", "Smart-Account ACME"), "not \"Key: value\""),
            ("order", good.replace("Manifest-Version: 1.0\nCreated-By", "Created-By").replace(
                "Smart-Account-ID: \n", "Smart-Account-ID: \nManifest-Version: 1.0\n"), "must start with"),
            ("binary", b"\xff\xfe\x00garbage", "not UTF-8"),
        ]
        self.refuse_all([(label, export(man=m if isinstance(m, bytes) else m.encode()), f)
                         for label, m, f in cases])
        self.refuse_all([("no manifest", export(outer=[(INNER, tgz([("dev_1_%s.txt" % TS, usage())]))]),
                          "no manifest.mf")])

    def test_bad_layout(self):
        inner = tgz([("dev_1_%s.txt" % TS, usage())])
        plain_tar = io.BytesIO()
        with tarfile.open(fileobj=plain_tar, mode="w") as t:
            info = tarfile.TarInfo("manifest.mf")
            info.size = 3
            t.addfile(info, io.BytesIO(b"abc"))
        self.refuse_all([
            ("missing inner tarball", export(outer=[("manifest.mf", manifest())]), "no UD_VA_%s.tar.gz" % TS),
            ("two inner tarballs", export(outer=[("manifest.mf", manifest()), (INNER, inner), (INNER, inner)]),
             "more than one UD_VA"),
            ("two manifests", export(outer=[("manifest.mf", manifest()), ("manifest.mf", manifest()),
                                            (INNER, inner)]), "more than one manifest.mf"),
            ("extra file", export(outer=[("manifest.mf", manifest()), (INNER, inner), ("README", b"hi")]),
             "unexpected entry README"),
            ("dot slash", export(outer=[("./manifest.mf", manifest()), (INNER, inner)]),
             "unexpected entry ./manifest.mf"),
            ("inner wrong suffix", export(outer=[("manifest.mf", manifest()), ("UD_VA_%s.tgz" % TS, inner)]),
             "unexpected entry UD_VA_%s.tgz" % TS),
            ("inner other ts", export(outer=[("manifest.mf", manifest("UD_VA_%s.tar.gz" % OTHER_TS)),
                                             ("UD_VA_%s.tar.gz" % OTHER_TS, inner)]),
             "does not carry the export's timestamp"),
            ("directory", export(outer=[("manifest.mf", manifest()), ("sub", None), (INNER, inner)]),
             "directory sub"),
            ("outer not gzip", plain_tar.getvalue(), "not a valid gzip stream"),
            ("outer empty", b"", "truncated gzip stream"),
            ("inner not gzip", export(outer=[("manifest.mf", manifest()), (INNER, plain_tar.getvalue())]),
             "not a valid gzip stream"),
            ("data after gzip", export() + b"junk", "data after the end of the gzip stream"),
            ("gzip not tar", gzip.compress(b"hello world" * 100), "not a tar archive"),
            ("outer file name", export(), "file name is not UD_SA_", "export.tar.gz"),
            ("outer bad date", export(), "not a valid date", "UD_SA_26Feb30_17_45_10_123.tar.gz"),
        ])

    def test_bad_device_files(self):
        def inner(*members):
            return export(inner_members=list(members))
        u = usage()
        self.refuse_all([
            ("no dev files", inner(), "holds no dev_"),
            ("wrong prefix", inner(("device_1_%s.txt" % TS, u)), "unexpected entry device_1_"),
            ("non-digit id", inner(("dev_a_%s.txt" % TS, u)), "unexpected entry dev_a_"),
            ("wrong suffix", inner(("dev_1_%s.xml" % TS, u)), "unexpected entry dev_1_"),
            ("other ts", inner(("dev_1_%s.txt" % OTHER_TS, u)), "does not carry the export's timestamp"),
            ("duplicate id", inner(("dev_1_%s.txt" % TS, u), ("dev_01_%s.txt" % TS, usage(sn="X2"))),
             "device id 01 appears twice"),
            ("nested dir", inner(("d/dev_1_%s.txt" % TS, u)), "unexpected entry d/dev_1_"),
        ])

    def test_bad_usage_content(self):
        pid, sn = "C9300-24P", "FOC1"
        no_id = payload(pid, sn, 1)
        del no_id["meta"]["report_id"]
        b_meta_id = payload(pid, sn, 1, "B")
        b_meta_id["meta"]["report_id"] = b_meta_id["asset_identification"].pop("report_id")
        other = payload("C8000V", "OTHER", 2)
        sig_mismatch = report(pid, sn, payload(pid, sn, 3))
        sig_mismatch["signature"]["sudi"] = sim.sudi(pid, "ELSE")
        changed = payload(pid, sn, 4)
        changed["measurements"][0]["value"]["value"] = "9"
        no_udi = payload(pid, sn, 5)
        del no_udi["asset_identification"]["instance"]
        no_udi_rep = report(pid, sn, no_udi)
        del no_udi_rep["signature"]["sudi"]

        def dev(data):
            return export([("1", data)])

        def before_end(xml, extra):
            return xml.replace(b"</smartLicense>", extra + b"</smartLicense>")
        rep = [report(pid, sn, payload(pid, sn, 1))]
        cases = [
            ("not XML", b"hello", "not well-formed XML"),
            ("wrong root", b"<usage/>", "root element is <usage>"),
            ("no RUMReport", usage(reports=[]), "no RUMReport"),
            ("report not JSON", before_end(usage(reports=[]), b"<RUMReport>{nope</RUMReport>"),
             "RUMReport 1: RUMReport is not JSON"),
            ("report not object", usage(reports=[[1, 2]]), "not a JSON object"),
            ("payload not JSON", usage(reports=[report(pid, sn, "not json")]), "payload is not JSON"),
            ("payload not string", usage(reports=[dict(report(pid, sn, "{}"), payload={"a": 1})]),
             "no payload string"),
            ("no signature", usage(reports=[{"payload": json.dumps(payload(pid, sn, 1))}]), "no signature object"),
            ("no report id", usage(reports=[report(pid, sn, no_id)]), "no report id (meta.report_id)"),
            ("format B id in meta", usage(reports=[report(pid, sn, b_meta_id)]),
             "no report id (asset_identification.report_id)"),
            ("unknown version", usage(reports=[report(pid, sn, dict(payload(pid, sn, 1), version="3.0"))]),
             "unknown payload version"),
            ("no UDI", usage(reports=[no_udi_rep]), "payload has no UDI"),
            ("UDI mismatch between reports", usage(reports=rep + [report("C8000V", "OTHER", other)]),
             "differs from the file's earlier reports"),
            ("UDI mismatch with system info", usage(pid, "INFO", reports=rep), "smartLicenseSystemInfo says"),
            ("signature sudi mismatch", usage(reports=[sig_mismatch]), "signature.sudi"),
            ("conflicting duplicate",
             usage(reports=[report(pid, sn, payload(pid, sn, 4)), report(pid, sn, changed)]),
             "report id 4 appears twice with different payloads"),
            ("unknown element", before_end(usage(), b"<foo/>"), "unexpected element <foo>"),
            ("system info not JSON", usage().replace(b"<data>{", b"<data>{{"),
             "smartLicenseSystemInfo data is not JSON"),
            ("doctype", usage().replace(b"<smartLicense>", b'<!DOCTYPE smartLicense [<!ENTITY a "b">]><smartLicense>'),
             "declares a DTD"),
            ("undefined entity", before_end(usage(), b"<smartLicenseX>&ext;</smartLicenseX>"), "not well-formed XML"),
            ("utf-16", usage().decode().replace("UTF-8", "UTF-16").encode("utf-16"), "not UTF-8"),
            ("latin-1 declared", usage().replace(b"UTF-8", b"ISO-8859-1"), "only UTF-8 is accepted"),
        ]
        self.refuse_all([(label, dev(data), frag) for label, data, frag in cases])
        self.refuse_all([("same UDI in two devices", export([("1", usage()), ("2", usage(ids=(99,)))]),
                          "are both for P:C9300-24P,S:FOC1")])

    def test_error_message_names_the_entry(self):
        path = self.write(export([("1", usage()), ("42", usage("C8000V", "S2", reports=[
            report("C8000V", "S2", payload("C8000V", "S2", 1)), report("C8000V", "S2", "{")]))]))
        msg = self.assertRefused(path, "payload is not JSON")
        self.assertIn("UD_SA_%s.tar.gz: %s: dev_42_%s.txt: RUMReport 2:" % (TS, INNER, TS), msg)

    def test_nothing_written_nor_created(self):
        missing = os.path.join(self.tmp, "not", "yet")
        self.assertRefused(self.write(export() + b"x"), "data after", out=missing, cli=True)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "not")))
        r = run_sim("ack", os.path.join(self.tmp, "absent", "UD_SA_%s.tar.gz" % TS), "-o", self.out)
        self.assertEqual(r.returncode, 2)
        self.assertIn("cannot read", r.stderr)


class TestHostile(CssmSimCase):
    FRAGMENTS = {
        "dotdot": "escapes the archive (.. component)",
        "absolute": "absolute path /tmp/",
        "symlink": "symbolic link",
        "hardlink": "hard link",
        "many-entries": "more than 100000 archive entries",
        "huge-entry": "is 2147483648 bytes",
        "gzip-bomb": "bytes once decompressed",
        "truncated": "truncated gzip stream",
        "dtd": "declares a DTD",
        "billion-laughs": "declares a DTD",
        "not-smartlicense": "root element is <html>",
    }

    NAMES = {"ack": "ACK_UD_SA_%s.tar.gz" % TS, "export": "UD_SA_%s.tar.gz" % TS, "xml": "ACK_dev_1_%s.txt" % TS}

    @classmethod
    def setUpClass(cls):
        cls.made = tempfile.mkdtemp(prefix="cssm_sim_hostile_")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.made, ignore_errors=True)

    def make(self, kind, shape, level="inner"):
        """The hostile file, built once per class."""
        path = os.path.join(self.made, "%s-%s-%s" % (kind, shape, level), self.NAMES[shape])
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            r = run_sim("make-hostile", kind, "--shape", shape, "--level", level, "--out", path)
            self.assertEqual(r.returncode, 0, r.stderr)
        return path

    def test_every_kind_refused_quickly(self):
        self.assertEqual(set(self.FRAGMENTS), set(sim.HOSTILE_KINDS))
        cases = [(k, "inner") for k in sim.HOSTILE_KINDS] + [(k, "outer") for k in sim.PATH_KINDS]
        for kind, level in cases:
            with self.subTest(kind=kind, level=level):
                start = time.monotonic()
                path = self.make(kind, "export", level)
                self.assertLess(os.path.getsize(path), 1 << 20)
                self.assertRefused(path, self.FRAGMENTS[kind], cli=True)
                self.assertLess(time.monotonic() - start, 60, "%s took too long" % kind)

    def test_ack_and_xml_shapes_refused(self):
        for kind in sim.HOSTILE_KINDS:
            with self.subTest(kind=kind):
                self.assertRefused(self.make(kind, "ack"), "")
        for kind in sim.XML_KINDS:
            with self.subTest(kind=kind, shape="xml"):
                self.assertRefused(self.make(kind, "xml"), "file name is not UD_SA_")
        r = run_sim("make-hostile", "dotdot", "--shape", "xml", "--out", os.path.join(self.tmp, "x.xml"))
        self.assertEqual(r.returncode, 2)

    def inner_of(self, path):
        with tarfile.open(path, "r:gz") as outer:
            members = outer.getmembers()
            va = [m for m in members if m.name.endswith("ACK_UD_VA_%s.tar.gz" % TS) and m.isfile()][0]
            return members, outer.extractfile(va).read()

    def test_path_kinds_hold_their_attack(self):
        checks = {"dotdot": lambda m: m.name.startswith("../"), "absolute": lambda m: m.name.startswith("/"),
                  "symlink": lambda m: m.issym() and m.linkname == "/etc/passwd",
                  "hardlink": lambda m: m.islnk() and m.linkname == "/etc/passwd"}
        for kind, check in checks.items():
            with self.subTest(kind=kind):
                outer, inner = self.inner_of(self.make(kind, "ack"))
                inner_members = tarfile.open(fileobj=io.BytesIO(inner), mode="r:gz").getmembers()
                self.assertEqual([check(m) for m in inner_members], [False, True])
                self.assertEqual(inner_members[0].name, "ACK_dev_1_%s.txt" % TS)
                outer, _ = self.inner_of(self.make(kind, "ack", "outer"))
                self.assertEqual([check(m) for m in outer], [False, True])

    def test_archive_kinds_hold_their_attack(self):
        _, inner = self.inner_of(self.make("many-entries", "ack"))
        raw = gzip.decompress(inner)
        headers = [raw[i:i + 512] for i in range(0, len(raw), 512) if raw[i:i + 512].count(0) != 512]
        self.assertEqual(len(headers), 100001)
        self.assertTrue(all(h.startswith(b"ACK_dev_") for h in headers))
        path = self.make("huge-entry", "ack")
        self.assertLess(os.path.getsize(path), 1 << 20)
        _, inner = self.inner_of(path)
        first = next(iter(tarfile.open(fileobj=io.BytesIO(inner), mode="r|gz")))
        self.assertEqual((first.name, first.size), ("ACK_dev_1_%s.txt" % TS, 2 << 30))
        path = self.make("gzip-bomb", "ack")
        self.assertLess(os.path.getsize(path), 1 << 20)
        _, inner = self.inner_of(path)
        self.assertGreater(int.from_bytes(inner[-4:], "little"), 2 << 30)  # ISIZE: 3 GiB and a bit
        first = next(iter(tarfile.open(fileobj=io.BytesIO(inner), mode="r|gz")))
        self.assertEqual(first.size, 8 << 20)
        with open(self.make("truncated", "ack"), "rb") as f:
            self.assertRaises(EOFError, gzip.decompress, f.read())

    @unittest.skipUnless(os.path.exists(AGENT), "rum-agent not built (set RUM_BUILD_DIR)")
    def test_xml_kinds_refused_by_the_agent(self):
        state = os.path.join(self.tmp, "dev")
        agent("init", "--state", state, "--pid", "C9300-24P", "--serial", "FOC1", "--hostname", "h")
        for kind, msg in (("dtd", "declares a DTD"), ("billion-laughs", "declares a DTD"),
                          ("not-smartlicense", "not a smartLicense document")):
            with self.subTest(kind=kind):
                path = self.make(kind, "xml")
                with open(path, "rb") as f:
                    text = f.read()
                if kind != "not-smartlicense":
                    self.assertIn(b"<!DOCTYPE smartLicense", text)
                    self.assertIn(b"<!ENTITY", text)
                r = agent("import", "--state", state, path, check=False)
                self.assertNotEqual(r.returncode, 0)
                self.assertIn(msg, r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
