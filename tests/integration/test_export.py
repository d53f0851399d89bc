"""rumd export: UD_SA_<ts>.tar.gz for CSSM (PROTOCOL.md 2.1, 2.2).

Devices push reports (formats A and B, odd whitespace and \\u escapes inside the
report objects, a "]]>" and a CR that XML must carry through); `rumd export`
writes one file, which the CSSM simulator must accept (the contract check),
and in which every report is byte-identical to what the device sent. Also:
selection (default unacknowledged, --all, --since, --device), nothing to send,
unknown tenant or device, export batch rows, and failures that must leave no
file and no batch."""

import io
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET

import rumtest as rt

CSSM_SIM = os.path.join(rt.SOURCE_DIR, "tests", "tools", "cssm_sim.py")
TS = r"\d{2}(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\d{2}_\d{2}_\d{2}_\d{2}_\d{3}"


def report_text(pid, sn, report_id, fmt, style=0, extra_meta=None):
    """A report object as text, byte for byte, and its payload. style varies
    the whitespace and escapes: 0 compact, 1 spaces/newlines/tabs and \\u
    escapes, 2 a payload holding "]]>" and a CR between tokens."""
    payload = rt.rum_payload(pid, sn, report_id, fmt)
    if extra_meta:
        payload["measurements"][0]["meta"].update(extra_meta)
    if style == 0:
        ptext = json.dumps(payload, separators=(",", ":"))
        sig = json.dumps(rt.signature_for(pid, sn, ptext), separators=(",", ":"))
        return '{"payload":%s,"header":{"type":"rum"},"signature":%s}' % (
            json.dumps(ptext), sig), ptext
    if style == 1:
        payload["measurements"][0]["meta"]["note"] = "caf\u00e9 <&> \u2603"
        ptext = json.dumps(payload, indent=1)  # newlines inside the payload string
        sig = json.dumps(rt.signature_for(pid, sn, ptext), indent="\t")
        return ('{ "payload" :\t%s ,\n   "header" : { "type" : "rum" },\n\t"signature":%s\n}'
                % (json.dumps(ptext, ensure_ascii=True), sig)), ptext
    payload["measurements"][0]["meta"]["note"] = "a]]>b ]]]]> ]]>"
    ptext = json.dumps(payload, separators=(",", ":"))
    sig = json.dumps(rt.signature_for(pid, sn, ptext), separators=(",", ":"))
    return '{"payload":%s,\r\n"signature":%s}' % (json.dumps(ptext), sig), ptext


def usage_body(pid, sn, hostname, texts):
    """A CSSM reportusage message holding the given report texts verbatim."""
    return ('{"sudi":{"udi_pid":%s,"udi_serial_number":%s},"timestamp":1700000000000,'
            '"nonce":"ab12","product_instance_identifier":"f804e59b-7296-4c6d-a4f4-e61207ddf150",'
            '"reports":[{"sudi":{"udi_pid":%s,"udi_serial_number":%s},"hostname":%s,'
            '"software_tag_identifier":%s,"trust_requests":[],"usage":[%s]}]}' % (
                json.dumps(pid), json.dumps(sn), json.dumps(pid), json.dumps(sn),
                json.dumps(hostname), json.dumps(rt.software_tag(pid)),
                ",\n ".join(texts))).encode("utf-8")


def unpack(path):
    """{'manifest': bytes, 'inner_name': str, 'devices': {name: bytes}} of an export."""
    out = {"devices": {}}
    with tarfile.open(path, "r:gz") as outer:
        names = outer.getnames()
        assert len(names) == 2 and names[0] == "manifest.mf", names
        out["manifest"] = outer.extractfile("manifest.mf").read()
        out["inner_name"] = names[1]
        inner_bytes = outer.extractfile(names[1]).read()
    with tarfile.open(fileobj=io.BytesIO(inner_bytes), mode="r:gz") as inner:
        for m in inner.getmembers():
            assert m.isfile(), m.name
            out["devices"][m.name] = inner.extractfile(m).read()
    return out


def reports_of(usage_file):
    """(system info JSON, [report text as an XML parser gives it back])."""
    root = ET.fromstring(usage_file)
    assert root.tag == "smartLicense"
    info = json.loads(root.find("smartLicenseSystemInfo/data").text)
    return info, ["".join(e.itertext()) for e in root.findall("RUMReport")]


class ExportTest(rt.RumTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rumd = cls.start_class_rumd(database_url=cls.pg.url)

    def setUp(self):
        super().setUp()
        self.out = rt.make_tempdir("rumtest-export-", 0o777)

    # helpers
    def tenant(self, name, sa="ACME Corp", va="Plant-7"):
        rt.add_tenant(self.pg.url, name, sa, va)
        return name

    def push(self, tenant, device, texts):
        reply = self.rumd.post(rt.pi_path(tenant),
                               usage_body(device.pid, device.sn, device.hostname, texts))
        self.assertOkPoll(reply)

    def device_id(self, tenant, device):
        return int(self.pg.scalar(
            "SELECT d.id FROM devices d JOIN tenants t ON t.id = d.tenant_id "
            "WHERE t.name = %s AND udi_serial = %s" % (rt.sql_literal(tenant),
                                                       rt.sql_literal(device.sn))))

    def export(self, tenant, *args, out=None, expect=0, preexec=None):
        cmd = [rt.rumd_bin(), "export", "--tenant", tenant, "-o", out or self.out,
               "--database_url=%s" % self.pg.url] + list(args)
        env = {k: v for k, v in os.environ.items() if not k.startswith("RUMD_")}
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env,
                              preexec_fn=preexec)
        self.assertEqual(proc.returncode, expect, "%s\n%s%s" % (cmd, proc.stdout, proc.stderr))
        return proc

    def export_file(self, tenant, *args):
        proc = self.export(tenant, *args)
        files = os.listdir(self.out)
        self.assertEqual(len(files), 1, files)
        self.assertRegex(files[0], r"^UD_SA_%s\.tar\.gz$" % TS)
        self.assertIn(files[0], proc.stdout)
        return os.path.join(self.out, files[0]), proc

    def cssm_ack(self, path):
        ackdir = rt.make_tempdir("rumtest-ack-")
        proc = subprocess.run([sys.executable, CSSM_SIM, "ack", path, "-o", ackdir],
                              capture_output=True, text=True, timeout=300)
        self.assertEqual(proc.returncode, 0, "cssm_sim refused the export:\n%s%s" % (
            proc.stdout, proc.stderr))
        m = re.search(r"total: (\d+) device\(s\), (\d+) report\(s\) acknowledged", proc.stdout)
        self.assertIsNotNone(m, proc.stdout)
        return int(m.group(1)), int(m.group(2))

    def batches(self, tenant):
        return int(self.pg.scalar(
            "SELECT count(*) FROM export_batches b JOIN tenants t ON t.id = b.tenant_id "
            "WHERE t.name = %s" % rt.sql_literal(tenant)))

    def exported_texts(self, path):
        got = {}
        for name, data in unpack(path)["devices"].items():
            got[name] = reports_of(data)[1]
        return got

    # tests
    def test_roundtrip_byte_exact_and_accepted_by_cssm(self):
        tenant = self.tenant("exp-roundtrip")
        sent = {}
        devices = [rt.Device(fmt="A"), rt.Device(fmt="B"), rt.Device(pid="C8000V", fmt="B"),
                   rt.Device(fmt="A")]
        for i, d in enumerate(devices):
            texts = [report_text(d.pid, d.sn, d.next_id + k, d.fmt, style=(i + k) % 3)[0]
                     for k in range(1, 4)]
            self.push(tenant, d, texts)
            sent[d.sn] = texts
        path, proc = self.export_file(tenant)
        self.assertIn("exported 12 reports of 4 devices", proc.stdout)
        self.assertEqual(self.cssm_ack(path), (4, 12))

        ts = re.match(r"UD_SA_(.*)\.tar\.gz$", os.path.basename(path)).group(1)
        x = unpack(path)
        self.assertEqual(x["inner_name"], "UD_VA_%s.tar.gz" % ts)
        uuid = self.pg.scalar("SELECT uuid FROM rum_instance")
        self.assertEqual(x["manifest"].decode(), (
            "Manifest-Version: 1.0\nCreated-By: {\"uuid\": \"%s\"}\nSmart-Account: ACME Corp\n"
            "Smart-Account-ID: \n\nName: /UD_VA_%s.tar.gz\nSpecification-VA: Plant-7\n"
            "Specification-VA-ID: \n" % (uuid, ts)))
        want_names = {"dev_%d_%s.txt" % (self.device_id(tenant, d), ts): d for d in devices}
        self.assertEqual(set(x["devices"]), set(want_names))
        for name, data in x["devices"].items():
            d = want_names[name]
            self.assertTrue(data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n'
                                            b"<smartLicense>\n<smartLicenseSystemInfo><data>"))
            info, texts = reports_of(data)
            self.assertEqual(info["sudi"], rt.sudi(d.pid, d.sn))
            self.assertEqual(info["hostname"], d.hostname)
            self.assertEqual(info["software_tag_identifier"], rt.software_tag(d.pid))
            # Byte-identical to the request bodies, in the order they were sent.
            self.assertEqual([t.encode() for t in texts], [t.encode() for t in sent[d.sn]])

        # The batch says what went where.
        row = self.pg.psql("SELECT b.file_name, b.ts, b.devices, b.reports, b.selection "
                           "FROM export_batches b JOIN tenants t ON t.id = b.tenant_id "
                           "WHERE t.name = %s" % rt.sql_literal(tenant))
        self.assertEqual(row, [[os.path.basename(path), ts, "4", "12", "unacknowledged"]])
        recorded = self.pg.psql(
            "SELECT br.device_id, encode(convert_to(r.report, 'UTF8'), 'hex') "
            "FROM export_batch_reports br JOIN export_batches b ON b.id = br.batch_id "
            "JOIN rum_reports r ON r.id = br.report_row JOIN tenants t ON t.id = b.tenant_id "
            "WHERE t.name = %s" % rt.sql_literal(tenant))
        self.assertEqual(sorted((int(dev), bytes.fromhex(h)) for dev, h in recorded),
                         sorted((self.device_id(tenant, d), t.encode())
                                for d in devices for t in sent[d.sn]))

    def test_cdata_terminator_and_cr_survive_xml(self):
        tenant = self.tenant("exp-cdata")
        d = rt.Device(fmt="B")
        text, ptext = report_text(d.pid, d.sn, d.next_id + 1, "B", style=2)
        self.assertIn("]]>", text)
        self.assertIn("\r", text)
        self.push(tenant, d, [text])
        path, _ = self.export_file(tenant)
        self.assertEqual(self.cssm_ack(path), (1, 1))
        (data,) = unpack(path)["devices"].values()
        self.assertIn(b"]]]]><![CDATA[>", data)
        self.assertIn(b"]]>&#13;<![CDATA[", data)
        (got,) = reports_of(data)[1]
        self.assertEqual(got.encode(), text.encode())
        self.assertEqual(json.loads(got)["payload"], ptext)

    def test_selection(self):
        tenant = self.tenant("exp-select")
        devs = [rt.Device(fmt="A"), rt.Device(fmt="B"), rt.Device(fmt="A")]
        sent = {}
        for d in devs:
            texts = [report_text(d.pid, d.sn, d.next_id + k, d.fmt)[0] for k in (1, 2)]
            self.push(tenant, d, texts)
            sent[d.sn] = texts
        ids = [self.device_id(tenant, d) for d in devs]
        # Device 0 is acknowledged; device 1 reported long ago.
        self.pg.psql("UPDATE rum_reports SET acked_at = now() WHERE device_id = %d" % ids[0])
        self.pg.psql("UPDATE rum_reports SET received_at = '2020-01-01T00:00:00Z' "
                     "WHERE device_id = %d" % ids[1])

        def names(path):
            return sorted(int(re.match(r"dev_(\d+)_", n).group(1))
                          for n in unpack(path)["devices"])

        def fresh():
            for f in os.listdir(self.out):
                os.unlink(os.path.join(self.out, f))

        path, _ = self.export_file(tenant)
        self.assertEqual(names(path), sorted(ids[1:]))
        self.assertEqual(self.cssm_ack(path), (2, 4))
        fresh()
        path, proc = self.export_file(tenant, "--all")
        self.assertEqual(names(path), sorted(ids))
        self.assertIn("exported 6 reports of 3 devices", proc.stdout)
        texts = [t for v in self.exported_texts(path).values() for t in v]
        self.assertEqual(sorted(texts), sorted(t for v in sent.values() for t in v))
        fresh()
        path, _ = self.export_file(tenant, "--since", "2024-06-01T00:00:00Z")
        self.assertEqual(names(path), sorted([ids[0], ids[2]]))  # acked ones too
        fresh()
        path, _ = self.export_file(tenant, "--since", "2019-12-31 23:00")
        self.assertEqual(names(path), sorted(ids))
        fresh()
        path, _ = self.export_file(tenant, "--device", str(ids[2]))
        self.assertEqual(names(path), [ids[2]])
        fresh()
        path, _ = self.export_file(tenant, "--all", "--device", "%d,%d" % (ids[0], ids[1]))
        self.assertEqual(names(path), sorted(ids[:2]))
        fresh()
        path, _ = self.export_file(tenant, "--device", str(ids[0]), "--device", str(ids[1]))
        self.assertEqual(names(path), [ids[1]])  # device 0 is all acknowledged
        self.assertEqual(self.batches(tenant), 7)
        fresh()
        # Nothing to send: says so, writes nothing, records nothing.
        proc = self.export(tenant, "--device", str(ids[0]))
        self.assertIn("nothing to export", proc.stdout)
        self.assertEqual(os.listdir(self.out), [])
        self.assertEqual(self.batches(tenant), 7)

    def test_conflicts_are_not_exported(self):
        tenant = self.tenant("exp-conflict")
        d = rt.Device(fmt="A")
        first, _ = report_text(d.pid, d.sn, d.next_id + 1, "A")
        other, _ = report_text(d.pid, d.sn, d.next_id + 1, "A", extra_meta={"x": "y"})
        self.push(tenant, d, [first])
        self.push(tenant, d, [other])
        self.assertEqual(self.pg.count("rum_reports", "udi_serial = %s" % rt.sql_literal(d.sn)), 2)
        path, _ = self.export_file(tenant, "--all")
        self.assertEqual(self.cssm_ack(path), (1, 1))
        self.assertEqual(list(self.exported_texts(path).values()), [[first]])

    def test_errors_write_nothing(self):
        tenant = self.tenant("exp-errors")
        d = rt.Device()
        self.push(tenant, d, [report_text(d.pid, d.sn, d.next_id + 1, "A")[0]])
        before = int(self.pg.scalar("SELECT count(*) FROM export_batches"))
        proc = self.export("no-such-tenant", expect=1)
        self.assertIn("no tenant named 'no-such-tenant'", proc.stderr)
        proc = self.export(tenant, "--device", "987654321", expect=1)
        self.assertIn("device 987654321 is not a device of this tenant", proc.stderr)
        other = self.tenant("exp-errors-other")
        proc = self.export(other, "--device", str(self.device_id(tenant, d)), expect=1)
        self.assertIn("is not a device of this tenant", proc.stderr)
        proc = self.export(tenant, "--device", "abc", expect=1)
        self.assertIn("not a device id", proc.stderr)
        proc = self.export(tenant, "--since", "yesterday-ish", expect=1)
        self.assertIn("not an ISO-8601 time", proc.stderr)
        proc = self.export(tenant, "--all", "--since", "2020-01-01", expect=1)
        proc = self.export(tenant, out=os.path.join(self.out, "missing", "x.tar.gz"), expect=1)
        self.assertIn("does not exist", proc.stderr)
        self.assertEqual(os.listdir(self.out), [])
        self.assertEqual(int(self.pg.scalar("SELECT count(*) FROM export_batches")), before)

    def test_failure_midway_leaves_no_file_and_no_batch(self):
        tenant = self.tenant("exp-midway")
        for _ in range(3):
            d = rt.Device()
            self.push(tenant, d, [report_text(d.pid, d.sn, d.next_id + k, "A", style=1)[0]
                                  for k in range(1, 30)])

        def small_files():  # writes past 2 KB fail with EFBIG instead of killing rumd
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))

        proc = self.export(tenant, expect=1, preexec=small_files)
        self.assertRegex(proc.stderr, r"rumd: .*(too large|File too large)")
        self.assertEqual(os.listdir(self.out), [])
        self.assertEqual(self.batches(tenant), 0)
        if os.geteuid() != 0:  # root writes anywhere
            os.chmod(self.out, 0o500)
            proc = self.export(tenant, expect=1)
            self.assertIn("not writable", proc.stderr)
            os.chmod(self.out, 0o700)
            self.assertEqual(os.listdir(self.out), [])
            self.assertEqual(self.batches(tenant), 0)
        # The same export then works, to a named file.
        target = os.path.join(self.out, "UD_SA_26Jan01_00_00_00_000.tar.gz")
        proc = self.export(tenant, out=target)
        self.assertEqual(os.listdir(self.out), [os.path.basename(target)])
        self.assertEqual(self.batches(tenant), 1)
        # ... and never over an existing file.
        proc = self.export(tenant, out=target, expect=1)
        self.assertIn("exists", proc.stderr)
        self.assertEqual(self.batches(tenant), 1)


if __name__ == "__main__":
    rt.main()
