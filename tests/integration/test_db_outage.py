"""Database outage under load (PROTOCOL.md 1.4, "reply only after the data is
durably committed"): while PostgreSQL is down rumd answers 503 + Retry-After +
OK_TRY_AGAIN quickly, /readyz says 503 and /healthz 200; when PostgreSQL comes
back rumd recovers by itself; and every report that was answered 2xx is in the
database."""

import threading

import rumtest
from rumtest import Device, pi_path, wait_for


class Client(threading.Thread):
    """Posts usage messages with fresh report ids until told to stop; keeps every
    outcome as (report ids, status or exception, reply, phase)."""

    def __init__(self, rumd, phase_ref):
        super().__init__(daemon=True)
        self.rumd = rumd
        self.phase_ref = phase_ref
        self.device = Device()
        self.outcomes = []
        self.stop_flag = threading.Event()

    def run(self):
        while not self.stop_flag.is_set():
            reports = [self.device.report() for _ in range(2)]
            ids = [rumtest.report_id_of(r) for r in reports]
            phase = self.phase_ref[0]
            try:
                # A reply must come within a few seconds, database or not.
                r = self.rumd.post(pi_path(), self.device.usage(reports), timeout=10)
                self.outcomes.append((ids, r.status, r, phase))
            except Exception as e:
                self.outcomes.append((ids, None, e, phase))
                self.stop_flag.wait(0.05)

    def count(self, status, phase=None):
        return sum(1 for o in list(self.outcomes)
                   if o[1] == status and (phase is None or o[3] == phase))


class DbOutage(rumtest.RumTestCase):

    CLIENTS = 8

    def count_all(self, clients, status, phase=None):
        return sum(c.count(status, phase) for c in clients)

    def until(self, rumd, predicate, timeout, what):
        """wait_for, failing at once if rumd dies meanwhile."""
        def check():
            if not rumd.alive():
                raise AssertionError("rumd died (status %s) while waiting for %s"
                                     % (rumd.proc.returncode, what))
            return predicate()
        return wait_for(check, timeout, what=what)

    def test_outage_and_recovery(self):
        url, db = self.fresh_database("outage")
        rumd = self.start_rumd(database_url=url)
        self.assertEqual(rumd.get("/readyz").status, 200)
        phase = ["before"]
        clients = [Client(rumd, phase) for _ in range(self.CLIENTS)]
        for c in clients:
            c.start()
        try:
            self.until(rumd, lambda: self.count_all(clients, 200) >= 100, 60, "100 accepted uploads")

            self.pg.stop("fast")
            phase[0] = "outage"
            self.until(rumd, lambda: self.count_all(clients, 503, "outage") >= 40, 60,
                       "503 replies while the database is down")
            health = rumd.get("/healthz", timeout=10)
            ready = rumd.get("/readyz", timeout=10)
            self.assertEqual(health.status, 200, health)
            self.assertEqual(ready.status, 503, ready)
            # Still down: the latest replies are 503 (collected after the probes).
            mark = self.count_all(clients, 503, "outage")
            self.until(rumd, lambda: self.count_all(clients, 503, "outage") >= mark + 20, 60,
                       "more 503 replies while the database is down")

            self.pg.start()
            phase[0] = "after"
            self.until(rumd, lambda: self.count_all(clients, 200, "after") >= 100, 90,
                       "accepted uploads after the database came back")
            self.assertEqual(rumd.get("/readyz", timeout=10).status, 200)
        finally:
            for c in clients:
                c.stop_flag.set()
            for c in clients:
                c.join(30)

        outcomes = [o for c in clients for o in c.outcomes]
        errors = [o for o in outcomes if o[1] not in (200, 503)]
        self.assertEqual(errors, [], "only 200 and 503 are acceptable answers (%d of %d were not)"
                         % (len(errors), len(outcomes)))
        for ids, status, r, ph in outcomes:
            if status == 503:
                self.assertTrue(r.headers.get("retry-after", "").strip().isdigit(), r.headers)
                self.assertIsInstance(r.json, dict, r)
                self.assertEqual(r.json.get("status"), "OK_TRY_AGAIN", r)
            else:
                self.assertEqual(r.json.get("status"), "OK_POLL", r)

        acked = {rid for ids, status, r, ph in outcomes if status == 200 for rid in ids}
        stored = {int(row[0]) for row in self.pg.psql("SELECT report_id FROM rum_reports", db=db)}
        self.assertEqual(acked - stored, set(), "reports answered 200 but not in the database")
        self.assertEqual(self.pg.count("rum_reports", "conflict_of IS NOT NULL", db=db), 0)

        # rumd keeps working and stops cleanly (exit 0 asserted by the cleanup).
        dev = Device()
        self.assertOkPoll(rumd.post(pi_path(), dev.usage([dev.report()])))
        self.assertTrue(rumd.alive())


if __name__ == "__main__":
    rumtest.main()
