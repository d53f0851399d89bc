"""Embedded database: `rumd serve` without database_url creates and runs its own
PostgreSQL cluster under data_dir (as an unprivileged user when run as root),
stops it on SIGTERM, and reuses it with its data on the next start."""

import os
import pwd
import subprocess

import rumtest
from rumtest import Device, pi_path, pid_alive, pid_uid


def find_clusters(root):
    """Directories under root that hold a PostgreSQL cluster."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        if "PG_VERSION" in filenames and "global" in dirnames:
            found.append(dirpath)
    return found


def postmaster_pid(cluster):
    try:
        with open(os.path.join(cluster, "postmaster.pid")) as f:
            return int(f.readline().strip())
    except (OSError, ValueError):
        return None


def cluster_psql(cluster, sql):
    """Runs sql in the database of the running embedded cluster that holds rumd's
    schema, over its Unix socket (found in postmaster.pid); returns rows."""
    with open(os.path.join(cluster, "postmaster.pid")) as f:
        lines = f.read().splitlines()
    port, sockdir = lines[3].strip(), lines[4].strip()
    owner = pwd.getpwuid(os.stat(cluster).st_uid).pw_name
    errors = []
    for user in ("rumd", owner, "postgres"):
        base = ["psql", "-X", "-q", "--csv", "-t", "-v", "ON_ERROR_STOP=1", "-h", sockdir,
                "-p", port, "-U", user]
        proc = subprocess.run(base + ["-d", "postgres", "-c",
                                      "SELECT datname FROM pg_database WHERE datallowconn"],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            errors.append(proc.stderr.strip())
            continue
        for db in proc.stdout.split():
            proc = subprocess.run(base + ["-d", db, "-c", sql], capture_output=True, text=True)
            if proc.returncode == 0:
                return [line.split(",") for line in proc.stdout.splitlines()]
            errors.append(proc.stderr.strip())
    raise AssertionError("cannot query the embedded cluster: %s" % "; ".join(errors))


class Embedded(rumtest.RumTestCase):

    @classmethod
    def setUpClass(cls):
        # No shared PgCluster: rumd brings its own.
        cls._class_rumds = []
        rumtest.pg_bindir()  # skips when the PostgreSQL server binaries are missing

    def test_fresh_data_dir_as_root(self):
        """As root, serve makes a missing data_dir that the database user can
        pass through (0711), and names the fix for one it cannot enter."""
        if os.geteuid() != 0:
            self.skipTest("only root hands the cluster to another user")
        parent = rumtest.make_tempdir("rumtest-embedded-parent-", 0o755)
        fresh = os.path.join(parent, "new")
        rumd = self.start_rumd(database_url=None, data_dir=fresh)
        self.assertEqual(os.stat(fresh).st_mode & 0o7777, 0o711)
        self.assertEqual(rumd.get("/readyz").status, 200)
        closed = os.path.join(parent, "closed")
        os.mkdir(closed, 0o700)
        proc = rumtest.run_rumd(["serve", "--data_dir=%s" % closed, "--http_listen=127.0.0.1:0"],
                                timeout=60)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("cannot be entered by the database user", proc.stderr)
        self.assertIn("chmod o+x %s" % closed, proc.stderr)

    def test_embedded_cluster_lifecycle(self):
        data_dir = rumtest.make_tempdir("rumtest-embedded-", 0o755)
        rumd = self.start_rumd(database_url=None, data_dir=data_dir)

        clusters = find_clusters(data_dir)
        self.assertEqual(len(clusters), 1, "expected one cluster under %s, found %s" % (data_dir, clusters))
        cluster = clusters[0]
        pm = postmaster_pid(cluster)
        self.assertIsNotNone(pm, "no postmaster.pid in %s" % cluster)
        self.assertTrue(pid_alive(pm))
        if os.geteuid() == 0:
            self.assertNotEqual(pid_uid(pm), 0, "the embedded PostgreSQL runs as root")

        self.assertEqual(rumd.get("/healthz").status, 200)
        self.assertEqual(rumd.get("/readyz").status, 200)
        r = rumd.post(pi_path(), {})
        self.assertEqual((r.status, r.json.get("status")), (200, "OK"), r)
        dev = Device()
        rep = dev.report()
        poll_id = self.assertOkPoll(rumd.post(pi_path(), dev.usage([rep])))

        self.assertEqual(rumd.stop(), 0)
        self.assertFalse(os.path.exists(os.path.join(cluster, "postmaster.pid")),
                         "the cluster was not shut down cleanly (postmaster.pid left behind)")
        rumtest.wait_for(lambda: not pid_alive(pm), 20, what="the embedded postmaster to exit")

        # Second start: same cluster, same data.
        rumd2 = self.start_rumd(database_url=None, data_dir=data_dir)
        self.assertEqual(find_clusters(data_dir), [cluster])
        r = rumd2.post(pi_path(), rumtest.poll_message(poll_id))
        self.assertEqual((r.status, r.json.get("status")), (200, "OK_POLL"),
                         "the upload of the first run is unknown after a restart: %r" % r)
        # The same report again is a duplicate of the stored one, not new.
        self.assertOkPoll(rumd2.post(pi_path(), dev.usage([rep])))
        self.assertOkPoll(rumd2.post(pi_path(), dev.usage([dev.report()])))
        rows = cluster_psql(cluster, "SELECT count(*), count(DISTINCT report_id) FROM rum_reports "
                                     "WHERE udi_serial = '%s'" % dev.sn)
        self.assertEqual(rows, [["2", "2"]])
        pm2 = postmaster_pid(cluster)
        self.assertIsNotNone(pm2)
        self.assertEqual(rumd2.stop(), 0)
        rumtest.wait_for(lambda: not pid_alive(pm2), 20, what="the embedded postmaster to exit")


if __name__ == "__main__":
    rumtest.main()
