"""PostgreSQL failover under push load: a primary with a synchronous streaming
standby; rumd's database_url lists both (libpq multi-host,
target_session_attrs=read-write). The primary crashes (pg_ctl stop -m
immediate) while devices push; while no primary exists rumd answers 503
OK_TRY_AGAIN with Retry-After; once the standby is promoted rumd answers 200
again by itself. Every report answered 200 is on the new primary, none twice.

A second rumd reaches the same servers without target_session_attrs: during
the gap it lands on the standby, whose refusals (read-only transaction) must
also be 503s, never 500s, and it must come back after the promotion too."""

import sys
import threading
import time

import rumtest
from rumtest import Device, PgCluster, pi_path, run_rumd, wait_for


class Client(threading.Thread):
    """Pushes usage messages until told to stop; a message answered anything
    but 200 is sent again, same reports, as a device does. Keeps every
    outcome as (report ids, status or exception, reply, phase, time)."""

    def __init__(self, rumd, phase_ref):
        super().__init__(daemon=True)
        self.rumd = rumd
        self.phase_ref = phase_ref
        self.device = Device()
        self.outcomes = []
        self.pending = []  # reports of the message not yet answered 200
        self.stop_flag = threading.Event()

    def run(self):
        while not self.stop_flag.is_set():
            if not self.pending:
                self.pending = [self.device.report() for _ in range(2)]
            ids = [rumtest.report_id_of(r) for r in self.pending]
            phase = self.phase_ref[0]
            try:
                # A reply must come within a few seconds, primary or not.
                r = self.rumd.post(pi_path(), self.device.usage(self.pending), timeout=10)
                self.outcomes.append((ids, r.status, r, phase, time.monotonic()))
                if r.status == 200:
                    self.pending = []
                else:
                    self.stop_flag.wait(0.05)
            except Exception as e:
                self.outcomes.append((ids, None, e, phase, time.monotonic()))
                self.stop_flag.wait(0.05)

    def count(self, status, phase=None):
        return sum(1 for o in list(self.outcomes)
                   if o[1] == status and (phase is None or o[3] == phase))


def multi_host_keywords(primary, standby, read_write=True):
    return ("host=127.0.0.1,127.0.0.1 port=%d,%d dbname=%s user=%s%s"
            % (primary.port, standby.port, primary.dbname, PgCluster.SUPERUSER,
               " target_session_attrs=read-write" if read_write else ""))


def multi_host_uri(primary, standby, read_write=True):
    return ("postgresql://%s@127.0.0.1:%d,127.0.0.1:%d/%s%s"
            % (PgCluster.SUPERUSER, primary.port, standby.port, primary.dbname,
               "?target_session_attrs=read-write" if read_write else ""))


class Failover(rumtest.RumTestCase):

    CLIENTS = 8       # on the rumd configured as documented
    BARE_CLIENTS = 2  # on the rumd without target_session_attrs
    GAP_S = 3         # how long no primary exists

    @classmethod
    def setUpClass(cls):
        primary = PgCluster(settings={"wal_level": "replica", "max_wal_senders": "4",
                                      "synchronous_commit": "on"})
        primary.start()
        standby = primary.make_standby("standby1")
        standby.start()
        # Synchronous from here on (CREATE DATABASE above would have waited
        # for a standby that did not exist yet).
        primary.psql("ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 (standby1)'",
                     db="postgres")
        primary.psql("SELECT pg_reload_conf()", db="postgres")
        wait_for(lambda: primary.psql(
            "SELECT application_name, state, sync_state FROM pg_stat_replication",
            db="postgres") == [["standby1", "streaming", "sync"]], 60,
            what="standby1 streaming as the synchronous standby")
        sys.modules[__name__]._rumtest_pg = primary
        cls.standby = standby
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.standby.cleanup()

    def until(self, rumds, predicate, timeout, what):
        """wait_for, failing at once if a rumd dies meanwhile."""
        def check():
            for r in rumds:
                if not r.alive():
                    raise AssertionError("rumd died (status %s) while waiting for %s"
                                         % (r.proc.returncode, what))
            return predicate()
        return wait_for(check, timeout, what=what)

    def test_1_url_forms(self):
        """Both multi-host forms parse and reach the primary; a standby alone
        is refused as unavailable, and nothing is written to it."""
        data_dir = rumtest.make_tempdir("rumtest-data-", 0o755)
        for url in (multi_host_keywords(self.pg, self.standby),
                    multi_host_uri(self.pg, self.standby)):
            with self.subTest(url=url):
                proc = run_rumd(["--database_url=%s" % url, "--data_dir=%s" % data_dir,
                                 "check-config"])
                self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
                self.assertIn("127.0.0.1,127.0.0.1", proc.stdout)
                self.assertIn("target_session_attrs='read-write'", proc.stdout)
                proc = run_rumd(["--database_url=%s" % url, "--data_dir=%s" % data_dir, "migrate"])
                self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        # The standby on its own: read-only, so `migrate` fails (no crash) and
        # says why; with target_session_attrs libpq does not even stay.
        standby_only = "host=127.0.0.1 port=%d dbname=%s user=%s" % (
            self.standby.port, self.pg.dbname, PgCluster.SUPERUSER)
        for url, words in ((standby_only, "read-only"),
                           (standby_only + " target_session_attrs=read-write", "read-only")):
            with self.subTest(url=url):
                t0 = time.monotonic()
                proc = run_rumd(["--database_url=%s" % url, "--data_dir=%s" % data_dir,
                                 "migrate"], timeout=60)
                self.assertGreater(proc.returncode, 0, proc.stdout + proc.stderr)
                self.assertIn(words, proc.stdout + proc.stderr)
                self.assertLess(time.monotonic() - t0, 30)

    def test_2_failover_under_load(self):
        primary, standby = self.pg, self.standby
        rumd = self.start_rumd(database_url=multi_host_keywords(primary, standby))
        bare = self.start_rumd(database_url=multi_host_uri(primary, standby, read_write=False))
        rumds = (rumd, bare)
        self.assertEqual(rumd.get("/readyz").status, 200)
        phase = ["before"]
        clients = [Client(rumd, phase) for _ in range(self.CLIENTS)]
        bare_clients = [Client(bare, phase) for _ in range(self.BARE_CLIENTS)]
        everyone = clients + bare_clients

        def n(cs, status, ph=None):
            return sum(c.count(status, ph) for c in cs)

        for c in everyone:
            c.start()
        try:
            self.until(rumds, lambda: n(clients, 200) >= 200 and n(bare_clients, 200) >= 40,
                       60, "uploads accepted before the crash")
            t_crash = time.monotonic()
            phase[0] = "gap"
            primary.stop("immediate")
            t_stopped = time.monotonic()
            self.until(rumds, lambda: n(clients, 503, "gap") >= 20 and
                       n(bare_clients, 503, "gap") >= 5, 30, "503 replies with no primary")
            self.assertEqual(rumd.get("/readyz", timeout=10).status, 503)
            self.assertEqual(rumd.get("/healthz", timeout=10).status, 200)
            time.sleep(max(0.0, t_crash + self.GAP_S - time.monotonic()))

            phase[0] = "after"
            t_promote = time.monotonic()
            standby.promote()
            t_promoted = time.monotonic()
            self.until(rumds, lambda: n(clients, 200, "after") >= 200 and
                       n(bare_clients, 200, "after") >= 40, 60,
                       "uploads accepted after the promotion")
            self.assertEqual(rumd.get("/readyz", timeout=10).status, 200)
        finally:
            for c in everyone:
                c.stop_flag.set()
            for c in everyone:
                c.join(30)

        outcomes = [o for c in everyone for o in c.outcomes]
        errors = [o[:2] for o in outcomes if o[1] not in (200, 503)]
        self.assertEqual(errors, [], "only 200 and 503 are acceptable answers (%d of %d were not)"
                         % (len(errors), len(outcomes)))
        for ids, status, r, ph, t in outcomes:
            if status == 503:
                self.assertTrue(r.headers.get("retry-after", "").strip().isdigit(), r.headers)
                self.assertIsInstance(r.json, dict, r)
                self.assertEqual(r.json.get("status"), "OK_TRY_AGAIN", r)
            else:
                self.assertEqual(r.json.get("status"), "OK_POLL", r)
        # A 200 received just after the crash may have been committed just
        # before it; none may arrive once the old primary is surely gone.
        self.assertEqual([o[:2] for o in outcomes if o[1] == 200
                          and t_stopped + 0.5 < o[4] < t_promote], [],
                         "200 answered while no primary existed")

        db = primary.dbname
        acked = {rid for ids, status, r, ph, t in outcomes if status == 200 for rid in ids}
        sent = {rid for ids, status, r, ph, t in outcomes for rid in ids}
        rows = [int(row[0]) for row in standby.psql("SELECT report_id FROM rum_reports", db=db)]
        stored = set(rows)
        unanswered = {rid for c in everyone for rid in
                      (rumtest.report_id_of(r) for r in c.pending)}
        self.assertEqual(acked - stored, set(), "reports answered 200 but not on the new primary")
        self.assertEqual(stored - sent, set())
        # Stored but never answered 200: only a message still being retried
        # when the clients stopped (its commit may have reached the standby
        # while its answer was lost with the old primary).
        self.assertEqual(stored - acked - unanswered, set())
        self.assertEqual(len(rows), len(stored), "a report stored twice")
        self.assertEqual(standby.count("rum_reports", "conflict_of IS NOT NULL", db=db), 0)
        self.assertIn("read-only", bare.log(),
                      "the rumd without target_session_attrs never met the standby")

        # Figures.
        def times(cs, status, ph):
            return [o[4] for c in cs for o in c.outcomes if o[1] == status and o[3] == ph]

        first_503 = min(times(clients, 503, "gap"))
        last_503 = max(times(clients, 503, "gap") + times(clients, 503, "after"))
        first_200_after = min(times(clients, 200, "after"))
        bare_first_200_after = min(times(bare_clients, 200, "after"))
        print("\nfailover figures (8 clients on rumd with target_session_attrs=read-write, "
              "2 on rumd without):", file=sys.stderr)
        print("  first 503 %.3f s after the crash; 503s for %.2f s (no primary for %.2f s, "
              "promotion took %.2f s)" % (first_503 - t_crash, last_503 - first_503,
                                           t_promoted - t_crash, t_promoted - t_promote),
              file=sys.stderr)
        print("  first 200 %.3f s after the promotion returned (%.3f s without "
              "target_session_attrs)" % (first_200_after - t_promoted,
                                         bare_first_200_after - t_promoted), file=sys.stderr)
        for label, cs in (("read-write", clients), ("bare", bare_clients)):
            print("  %-10s answers: %s" % (label, ", ".join(
                "%s %d/%d" % (ph, n(cs, 200, ph), n(cs, 503, ph))
                for ph in ("before", "gap", "after"))) + "  (200/503)", file=sys.stderr)
        print("  reports answered 200: %d; stored on the new primary: %d; stored but "
              "unanswered at the end: %d" % (len(acked), len(stored), len(stored - acked)),
              file=sys.stderr)

        for r in rumds:  # both keep working and stop cleanly (exit 0 asserted by cleanup)
            dev = Device()
            self.assertOkPoll(r.post(pi_path(), dev.usage([dev.report()])))

    def test_3_cancelled_sync_wait(self):
        """A commit whose wait for the synchronous standby is cancelled (an
        administrator's pg_cancel_backend, typically when that standby is
        lost) is reported by PostgreSQL as a success with a WARNING, though
        the standby may not have it: the device must get 503, not 200, and
        its retry must be a duplicate, not a second row."""
        server = self.standby  # the promoted standby, now a primary alone
        db = server.dbname
        url = "host=127.0.0.1 port=%d dbname=%s user=%s target_session_attrs=read-write" % (
            server.port, db, PgCluster.SUPERUSER)
        rumd = self.start_rumd(database_url=url)
        dev = Device()
        self.assertOkPoll(rumd.post(pi_path(), dev.usage([dev.report()])))
        server.psql("ALTER SYSTEM SET synchronous_standby_names = 'FIRST 1 (absent)'",
                    db="postgres")
        server.psql("SELECT pg_reload_conf()", db="postgres")
        try:
            reports = [dev.report()]
            rid = rumtest.report_id_of(reports[0])
            reply = []
            t = threading.Thread(target=lambda: reply.append(
                rumd.post(pi_path(), dev.usage(reports), timeout=60)), daemon=True)
            t.start()
            # Every commit now waits for the standby, rumd's housekeeping as
            # well as the device's batch: cancel each wait until the device
            # has its answer.
            cancelled = 0
            deadline = time.monotonic() + 30
            while t.is_alive() and time.monotonic() < deadline:
                for (pid,) in server.psql("SELECT pid FROM pg_stat_activity WHERE "
                                          "wait_event = 'SyncRep'", db="postgres"):
                    server.psql("SELECT pg_cancel_backend(%s)" % pid, db="postgres")
                    cancelled += 1
                time.sleep(0.1)
            t.join(5)
            self.assertGreater(cancelled, 0, "no commit waited for the standby")
            self.assertEqual(len(reply), 1, "no answer")
            self.assertEqual(reply[0].status, 503, reply[0])
            self.assertEqual(reply[0].json.get("status"), "OK_TRY_AGAIN", reply[0])
            # Committed here all the same, but not acknowledged.
            self.assertEqual(server.count("rum_reports", "report_id = %d" % rid, db=db), 1)
        finally:
            server.psql("ALTER SYSTEM RESET synchronous_standby_names", db="postgres")
            server.psql("SELECT pg_reload_conf()", db="postgres")
        self.assertOkPoll(rumd.post(pi_path(), dev.usage(reports), timeout=30))
        self.assertEqual(server.count("rum_reports", "report_id = %d" % rid, db=db), 1)
        self.assertEqual(server.count("rum_reports", "conflict_of IS NOT NULL", db=db), 0)


if __name__ == "__main__":
    rumtest.main()
