"""Backup and restore of the embedded cluster: `rumd backup -o FILE` beside a
server under push load, `rumd restore FILE` into a fresh data_dir, and every
report acknowledged before the backup began found there byte-exact; the pull
credential sealed before the backup still opens; bad input changes nothing."""

import gzip
import hashlib
import io
import json
import os
import stat
import tarfile
import threading
import time

import rumtest
from rumtest import Device, pi_path, run_rumd
from test_embedded import cluster_psql, find_clusters


def body_and_texts(dev, n):
    """A usage message of n reports, and each report's text as it is sent."""
    reps = [dev.report() for _ in range(n)]
    body = rumtest.to_body(dev.usage(reps))
    texts = [(dev.sn, rumtest.report_id_of(r), json.dumps(r, separators=(",", ":")).encode())
             for r in reps]
    return body, texts


class Pusher(threading.Thread):
    """Pushes usage messages one after another; records each report whose
    message got a 2xx, with the time its answer arrived."""

    def __init__(self, rumd):
        super().__init__(daemon=True)
        self.rumd = rumd
        self.stop_at = None
        self.acked = []  # (monotonic time of the answer, serial, report id, text)
        self.failures = []
        self.halt = threading.Event()

    def run(self):
        i = 0
        while not self.halt.is_set():
            i += 1
            body, texts = body_and_texts(Device(), 1 + i % 3)
            try:
                r = self.rumd.post(pi_path(), body)
            except OSError as e:
                self.failures.append(repr(e))
                continue
            now = time.monotonic()
            if 200 <= r.status < 300:
                self.acked.extend((now,) + t for t in texts)
            else:
                self.failures.append(r.status)


class Backup(rumtest.RumTestCase):

    @classmethod
    def setUpClass(cls):
        cls._class_rumds = []  # no shared PgCluster: each rumd brings its own
        rumtest.pg_bindir()

    def rumd_cli(self, data_dir, *args, ok=True):
        proc = run_rumd(["--data_dir=%s" % data_dir, "--collector_connect_timeout_ms=2000"]
                        + list(args))
        if ok:
            self.assertEqual(proc.returncode, 0, "rumd %s:\n%s%s" % (
                " ".join(args), proc.stdout, proc.stderr))
        return proc

    def reports_in(self, data_dir):
        """{(serial, report id): md5 of the stored text} of a running cluster."""
        cluster = find_clusters(data_dir)[0]
        rows = cluster_psql(cluster, "SELECT udi_serial, report_id, md5(report) FROM rum_reports")
        return {(s, int(rid)): md5 for s, rid, md5 in rows}

    def test_backup_under_load_and_restore(self):
        old_dir = rumtest.make_tempdir("rumtest-backup-old-", 0o755)
        new_dir = rumtest.make_tempdir("rumtest-backup-new-", 0o755)
        work = rumtest.make_tempdir("rumtest-backup-files-", 0o755)
        old = self.start_rumd(database_url=None, data_dir=old_dir)

        # A pull target whose password is sealed under data_dir/secret.key;
        # its port is closed, so a collection fails after the credential.
        pw = os.path.join(work, "pw")
        with open(pw, "w") as f:
            f.write("s3cret\n")
        closed_port = rumtest.free_port()
        out = self.rumd_cli(old_dir, "target", "add", "--tenant", "default", "--host", "127.0.0.1",
                            "--port", str(closed_port), "--username", "u", "--password-file", pw,
                            "--trust-on-first-use", "--on-demand").stdout
        target_id = out.split("target ")[1].split()[0].strip("(),:")
        key_path = os.path.join(old_dir, "secret.key")
        with open(key_path, "rb") as f:
            old_key = f.read()

        pusher = Pusher(old)
        pusher.start()
        rumtest.wait_for(lambda: len(pusher.acked) >= 200, 60, what="200 reports pushed")
        began = time.monotonic()
        backup = os.path.join(work, "rumd.backup")
        t0 = time.monotonic()
        proc = self.rumd_cli(old_dir, "backup", "-o", backup)
        took = time.monotonic() - t0
        pushed_during = sum(1 for a in pusher.acked if a[0] > began)
        time.sleep(0.5)
        pusher.halt.set()
        pusher.join(30)
        self.assertEqual(pusher.failures, [])
        before = {(s, rid): hashlib.md5(text).hexdigest()
                  for t, s, rid, text in pusher.acked if t < began}
        print("\nbackup: %d reports acknowledged before it began, %d during it; %d bytes in "
              "%.2f s\n%s" % (len(before), pushed_during, os.path.getsize(backup), took,
                              proc.stdout.strip()))
        self.assertGreater(pushed_during, 0, "the backup did not run under load")
        self.assertIn("secret key file %s is included" % key_path, proc.stdout)
        self.assertEqual(stat.S_IMODE(os.stat(backup).st_mode), 0o600)
        self.assertEqual([n for n in os.listdir(work) if n.startswith(".")], [],
                         "temporary files left beside the backup")
        with tarfile.open(backup) as tar:
            self.assertEqual(tar.getnames(), ["manifest.json", "secret.key", "rumd.dump"])
            manifest = json.load(tar.extractfile("manifest.json"))
        self.assertEqual(manifest["format"], "rumd-backup")
        self.assertTrue(manifest["secret_key_included"])
        self.assertTrue(manifest["embedded"])
        self.assertEqual(manifest["database"], "rumd")
        self.assertGreater(manifest["schema_version"], 0)
        self.assertEqual(old.stop(), 0)

        # Bad input first, into a data_dir that does not exist yet: refused,
        # named, and nothing made.
        fresh = os.path.join(work, "never")
        with open(backup, "rb") as f:
            data = f.read()
        cases = {
            "truncated": (data[:len(data) * 2 // 3], "truncated"),
            "not-a-backup": (gzip.compress(b"hello\n"), "not a rumd backup"),
            "foreign-tar": (self.foreign_tar(), "not a rumd backup"),
        }
        for name, (content, why) in cases.items():
            path = os.path.join(work, name)
            with open(path, "wb") as f:
                f.write(content)
            proc = self.rumd_cli(fresh, "restore", path, ok=False)
            self.assertNotEqual(proc.returncode, 0, name)
            self.assertIn(why, proc.stderr, name)
            self.assertFalse(os.path.exists(fresh), "%s: restore made %s" % (name, fresh))

        # The restore into a fresh data_dir.
        proc = self.rumd_cli(new_dir, "restore", backup)
        print(proc.stdout.strip())
        new_key = os.path.join(new_dir, "secret.key")
        self.assertEqual(stat.S_IMODE(os.stat(new_key).st_mode), 0o600)
        with open(new_key, "rb") as f:
            self.assertEqual(f.read(), old_key)
        restored = int(proc.stdout.split("restored into database 'rumd': ")[1].split()[0])
        self.assertGreaterEqual(restored, len(before))

        # Again over it: the database holds rumd data now.
        proc = self.rumd_cli(new_dir, "restore", backup, ok=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("already holds rumd data", proc.stderr)

        new = self.start_rumd(database_url=None, data_dir=new_dir)
        self.assertEqual(new.get("/readyz").status, 200)
        # Beside a running server: refused, it is in use.
        proc = self.rumd_cli(new_dir, "restore", "--force", backup, ok=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("in use", proc.stderr)

        stored = self.reports_in(new_dir)
        self.assertEqual(len(stored), restored, "the refused restores changed the database")
        missing = [k for k in before if k not in stored]
        self.assertEqual(missing, [], "reports acknowledged before the backup are missing")
        changed = [k for k, md5 in before.items() if stored[k] != md5]
        self.assertEqual(changed, [], "reports differ from what was sent")

        # One report byte for byte through the CLI as well.
        (sn, rid), _ = next(iter(before.items()))
        text = next(t for _, s, r, t in pusher.acked if (s, r) == (sn, rid))
        row = cluster_psql(find_clusters(new_dir)[0],
                           "SELECT id FROM rum_reports WHERE udi_serial = '%s' AND report_id = %d"
                           % (sn, rid))[0][0]
        raw = run_rumd(["--data_dir=%s" % new_dir, "report", "show", row, "--raw"])
        self.assertEqual(raw.stdout.encode(), text)

        # The sealed credential opens under the restored key: the collection
        # gets as far as connecting.
        proc = self.rumd_cli(new_dir, "collect", "--target", target_id, "--wait", ok=False)
        self.assertNotIn("does not open", proc.stdout + proc.stderr)
        self.assertIn("refused", (proc.stdout + proc.stderr).lower(), proc.stdout + proc.stderr)
        self.assertEqual(new.stop(), 0)

    def foreign_tar(self):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            info = tarfile.TarInfo("notes.txt")
            info.size = 3
            tar.addfile(info, io.BytesIO(b"hi\n"))
        return buf.getvalue()


if __name__ == "__main__":
    rumtest.main()
