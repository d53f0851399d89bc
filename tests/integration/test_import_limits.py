"""An import's memory stays bounded whatever the file (hostile input).

Hostile files, each built here (gzip makes the big ones a few hundred KB):
- a tar.gz holding four 63 MiB XML entries of repeated small elements;
- an entry one byte over import_max_entry_bytes, in a tar.gz and as a plain
  XML file;
- an entry of about a million tiny elements, under the byte limit, in a
  tar.gz and as a plain XML file.
Each is imported with `rumd import` (its peak RSS, by /usr/bin/time) and
through the admin API on a running rumd (its VmHWM, reset through
/proc/PID/clear_refs before the request): it must be refused by name, change
no table, and raise the peak by less than 64 MiB over a trivial import.

Then an honest file: 20,000 device ACKs (5,000 under the sanitizers;
rendered by the CSSM simulator, in the ACK_UD_SA > ACK_UD_VA > ACK_dev
layout) for as many devices, imported by
the CLI and, another such file, by the API: every device gets its ACK, and
the peak stays under the same bound. The figures are printed."""

import datetime
import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import tarfile
import time
import types

import rumtest as rt

CSSM_SIM = os.path.join(rt.SOURCE_DIR, "tests", "tools", "cssm_sim.py")
TABLES = ("acks", "ack_deliveries", "imports", "import_acks", "rum_reports", "devices",
          "export_batches", "export_batch_reports")
MiB = 1 << 20
ENTRY_MAX = 4 * MiB  # import_max_entry_bytes' default
NODES_MAX = 10000    # import_max_xml_nodes' default
GROWTH_MAX = 64 * MiB
# Under the sanitizers (the suite's second pass) an import is several times
# slower and its memory figures mean little: a quarter of the devices still
# takes every path.
HONEST_DEVICES = 5000 if "ASAN_OPTIONS" in os.environ else 20000
TOKEN_RE = re.compile(r"^rumd_[A-Za-z0-9_-]+$")
PEAK_WRAPPER = """import os, resource, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write("%d\\n" % usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def load_sim():
    spec = importlib.util.spec_from_file_location("cssm_sim", CSSM_SIM)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Filler(io.RawIOBase):
    """size bytes: head, then pattern repeated, then tail (read lazily)."""

    def __init__(self, size, head, pattern, tail):
        super().__init__()
        self.size, self.pos = size, 0
        body = size - len(head) - len(tail)
        assert body >= 0
        self.head, self.tail = head, tail
        self.body_end = len(head) + body - body % len(pattern)
        self.pad = b" " * (body % len(pattern))
        self.block = pattern * max(1, (1 << 20) // len(pattern))
        self.pattern = pattern

    def readable(self):
        return True

    def readinto(self, b):
        n = self._read(len(b))
        b[:len(n)] = n
        return len(n)

    def _read(self, want):
        out = bytearray()
        while want > 0 and self.pos < self.size:
            if self.pos < len(self.head):
                piece = self.head[self.pos:self.pos + want]
            elif self.pos < self.body_end:
                off = (self.pos - len(self.head)) % len(self.block)
                piece = self.block[off:off + min(want, self.body_end - self.pos)]
            else:
                rest = self.pad + self.tail
                off = self.pos - self.body_end
                piece = rest[off:off + want]
            out += piece
            self.pos += len(piece)
            want -= len(piece)
        return bytes(out)


def xml_filler(size):
    return Filler(size, b'<?xml version="1.0" encoding="UTF-8"?>\n<smartLicense>', b"<a/>",
                  b"</smartLicense>\n")


def write_tgz(path, members):
    """members: [(name, size, file object)]"""
    with tarfile.open(path, "w:gz", format=tarfile.USTAR_FORMAT, compresslevel=6) as t:
        for name, size, f in members:
            ti = tarfile.TarInfo(name)
            ti.size = size
            t.addfile(ti, f)


def write_file(path, size):
    with open(path, "wb") as out:
        f = xml_filler(size)
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            out.write(chunk)


def measured_env(env):
    """env for a rumd whose memory is measured. Under AddressSanitizer freed
    blocks wait in a quarantine (256 MiB by default) and stay resident: kept
    small, the peak is what the import holds (plus the sanitizer's own
    redzones)."""
    env = dict(env)
    if "ASAN_OPTIONS" in env:
        env["ASAN_OPTIONS"] += ":quarantine_size_mb=1:thread_local_quarantine_size_kb=64"
    return env


def vm_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s for pid %d" % (key, pid))


class ImportLimits(rt.RumTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.url, cls.db = cls.fresh_database("importmem")
        cls.server = cls.start_class_rumd(
            database_url=cls.url,
            env={k: v for k, v in measured_env(os.environ).items() if k == "ASAN_OPTIONS"})
        proc = cls.cli_run("token", "create", "--role", "admin", "--description", "importmem")
        cls.token = proc.stdout.strip()
        assert TOKEN_RE.match(cls.token), proc.stdout
        cls.tmp = rt.make_tempdir("importmem-")
        cls.sim = load_sim()
        cls.figures = []

    @classmethod
    def tearDownClass(cls):
        print("\npeak memory of imports (MiB; growth over a trivial import, limit 64):")
        for f in cls.figures:
            print("  %-44s %-4s peak %7.1f  baseline %6.1f  growth %6.1f  %s" % f)
        super().tearDownClass()

    # -- helpers -------------------------------------------------------------

    @classmethod
    def cli_run(cls, *args):
        proc = rt.run_rumd(list(args) + ["--database_url=%s" % cls.url], timeout=600)
        assert proc.returncode == 0, "rumd %s:\n%s%s" % (" ".join(args), proc.stdout,
                                                         proc.stderr)
        return proc

    def cli_peak(self, *args):
        """Runs a rumd verb; (exit status, stdout, stderr, peak RSS in bytes).
        rumd is started by a small process of its own: a child's peak RSS
        counts its parent's at fork (the kernel carries the high-water mark
        over exec), and this test process holds hundreds of MiB."""
        env = measured_env({k: v for k, v in os.environ.items()
                            if not k.startswith("RUMD_") or k == "RUMD_BIN"})
        peak_path = os.path.join(self.tmp, "peak")
        if os.path.exists("/usr/bin/time"):
            wrap = ["/usr/bin/time", "-f", "%M", "-o", peak_path]
        else:
            wrap = [sys.executable, "-S", "-c", PEAK_WRAPPER, peak_path]
        proc = subprocess.run(wrap + [rt.rumd_bin(), *args, "--database_url=%s" % self.url],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              env=env, timeout=900)
        with open(peak_path) as f:
            peak_kib = int(f.read().split()[-1])
        return proc.returncode, proc.stdout, proc.stderr, peak_kib * 1024

    def api_import(self, path, name):
        """POSTs the file; (reply, growth of rumd's peak RSS in bytes)."""
        pid = self.server.pid
        with open(path, "rb") as f:
            body = f.read()
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")  # VmHWM := VmRSS
        before = vm_kib(pid, "VmHWM") * 1024
        reply = self.server.request("POST", "/api/v1/tenants/default/imports", body,
                                    {"Authorization": "Bearer " + self.token,
                                     "Content-Type": "application/octet-stream",
                                     "X-File-Name": name}, timeout=600)
        after = vm_kib(pid, "VmHWM") * 1024
        return reply, before, after

    def counts(self):
        return {t: self.pg.count(t, db=self.db) for t in TABLES}

    def baseline(self):
        """Peak RSS of a trivial import (an archive holding only a manifest)."""
        if not hasattr(type(self), "_baseline"):
            path = os.path.join(self.tmp, "manifest-only.tar.gz")
            write_tgz(path, [("manifest.mf", 3, io.BytesIO(b"x\n\n"))])
            rc, out, err, peak = self.cli_peak("import", path)
            self.assertEqual(rc, 1, out + err)
            self.assertIn("holds no ACK file", err)
            type(self)._baseline = peak
        return type(self)._baseline

    def note(self, what, how, peak, base, verdict):
        self.figures.append((what, how, peak / MiB, base / MiB, (peak - base) / MiB, verdict))
        print("  %s via %s: peak %.1f MiB, baseline %.1f MiB, growth %.1f MiB (%s)"
              % (what, how, peak / MiB, base / MiB, (peak - base) / MiB, verdict))

    def refused_both_ways(self, what, path, expect):
        before = self.counts()
        base = self.baseline()
        rc, out, err, peak = self.cli_peak("import", path)
        self.note(what, "cli", peak, base, err.strip()[:90])
        self.assertEqual(rc, 1, out + err)
        for e in expect:
            self.assertIn(e, err)
        self.assertLess(peak - base, GROWTH_MAX)
        self.assertEqual(self.counts(), before)
        reply, hwm0, hwm1 = self.api_import(path, os.path.basename(path))
        msg = reply.raw.decode(errors="replace")
        self.note(what, "api", hwm1, hwm0, "%d %s" % (reply.status, msg[:80]))
        self.assertIn(reply.status, (400, 413), msg)
        for e in expect:
            self.assertIn(e, msg)
        self.assertLess(hwm1 - hwm0, GROWTH_MAX)
        self.assertEqual(self.counts(), before)

    # -- hostile files -------------------------------------------------------

    def test_1_four_huge_entries(self):
        path = os.path.join(self.tmp, "ACK_UD_SA_four.tar.gz")
        size = 63 * MiB
        write_tgz(path, [("ACK_dev_%d_24Jan01_00_00_00_000.txt" % i, size, xml_filler(size))
                         for i in range(1, 5)])
        print("\n  four 63 MiB entries: %d bytes of tar.gz" % os.path.getsize(path))
        self.refused_both_ways("tar.gz of four 63 MiB XML entries", path,
                               ["ACK_dev_1_24Jan01_00_00_00_000.txt",
                                "over the %d-byte limit" % ENTRY_MAX])

    def test_2_entry_just_over_the_cap(self):
        size = ENTRY_MAX + 1
        path = os.path.join(self.tmp, "ACK_UD_SA_over.tar.gz")
        write_tgz(path, [("ACK_dev_1_24Jan01_00_00_00_000.txt", size, xml_filler(size))])
        self.refused_both_ways("tar.gz entry of cap + 1 byte", path,
                               ["ACK_dev_1_24Jan01_00_00_00_000.txt",
                                "over the %d-byte limit" % ENTRY_MAX])
        path = os.path.join(self.tmp, "over.xml")
        write_file(path, size)
        self.refused_both_ways("XML file of cap + 1 byte", path,
                               ["over.xml", "over the %d-byte limit" % ENTRY_MAX])

    def test_3_million_tiny_elements(self):
        size = ENTRY_MAX - 4096  # about a million <a/>, under the byte limit
        path = os.path.join(self.tmp, "ACK_UD_SA_tiny.tar.gz")
        write_tgz(path, [("ACK_dev_1_24Jan01_00_00_00_000.txt", size, xml_filler(size))])
        self.refused_both_ways("tar.gz entry of ~1M tiny elements", path,
                               ["ACK_dev_1_24Jan01_00_00_00_000.txt",
                                "more than %d XML nodes" % NODES_MAX])
        path = os.path.join(self.tmp, "tiny.xml")
        write_file(path, size)
        self.refused_both_ways("XML file of ~1M tiny elements", path,
                               ["tiny.xml", "more than %d XML nodes" % NODES_MAX])

    # -- an honest big file --------------------------------------------------

    def honest_file(self, ids, serials, ts, tag):
        sim = self.sim
        devices = [sim.Device(i, ("C9300-24P", sn), [1000 + i]) for i, sn in zip(ids, serials)]
        export = types.SimpleNamespace(ts=ts, devices=devices, digest="importmem-" + tag)
        opts = types.SimpleNamespace(policy_name="Memory %s" % tag, reporting_days=30,
                                     smart_account="SA", virtual_account="VA",
                                     trust_code=False)
        name, data, _ = sim.build_ack(export, opts)
        path = os.path.join(self.tmp, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_4_honest_file_of_many_devices(self):
        n = HONEST_DEVICES
        self.pg.psql("INSERT INTO devices (tenant_id, udi_pid, udi_serial) "
                     "SELECT t.id, 'C9300-24P', 'FOCMEM' || lpad(g::text, 6, '0') "
                     "FROM tenants t, generate_series(1, %d) g WHERE t.name = 'default'" % n,
                     db=self.db)
        rows = self.pg.psql("SELECT id, udi_serial FROM devices WHERE udi_serial LIKE "
                            "'FOCMEM%' ORDER BY id", db=self.db)
        ids, serials = [int(r[0]) for r in rows], [r[1] for r in rows]
        self.assertEqual(len(ids), n)
        t0 = time.monotonic()
        now = datetime.datetime.now(datetime.timezone.utc)
        paths = [self.honest_file(ids, serials,
                                  self.sim.format_ts(now - datetime.timedelta(hours=k)), str(k))
                 for k in (1, 2)]
        print("\n  built 2 x %d device ACKs in %.1f s: %s bytes" % (
            n, time.monotonic() - t0, ", ".join(str(os.path.getsize(p)) for p in paths)))
        acks = self.pg.count("acks", db=self.db)
        base = self.baseline()
        t0 = time.monotonic()
        rc, out, err, peak = self.cli_peak("import", paths[0])
        took = time.monotonic() - t0
        self.note("%d device ACKs (%d KB)" % (n, os.path.getsize(paths[0]) // 1024), "cli",
                  peak, base, "imported in %.1f s" % took)
        self.assertEqual(rc, 0, out[-2000:] + err)
        self.assertIn("%d devices matched" % n, out)
        self.assertEqual(self.pg.count("acks", db=self.db), acks + n)
        self.assertLess(peak - base, GROWTH_MAX)
        t0 = time.monotonic()
        reply, hwm0, hwm1 = self.api_import(paths[1], os.path.basename(paths[1]))
        took = time.monotonic() - t0
        self.note("%d device ACKs (%d KB)" % (n, os.path.getsize(paths[1]) // 1024), "api",
                  hwm1, hwm0, "%d in %.1f s" % (reply.status, took))
        self.assertEqual(reply.status, 200, reply.raw[:2000])
        doc = json.loads(reply.raw)
        self.assertEqual((doc["devices"], doc["acks_new"], len(doc["applied"])), (n, n, n))
        self.assertEqual(self.pg.count("acks", db=self.db), acks + 2 * n)
        self.assertLess(hwm1 - hwm0, GROWTH_MAX)


if __name__ == "__main__":
    rt.main()
