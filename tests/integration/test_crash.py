"""Crashes under push load. rumd killed with SIGKILL and started again;
PostgreSQL stopped with `pg_ctl -m immediate` (a crash: no checkpoint, WAL
replayed at the next start) and started again. In both cases every report
answered 200 is stored, none twice, and devices are answered again without
anyone touching rumd; while the database is down /readyz says 503 and
devices get 503 OK_TRY_AGAIN."""

import threading
import time

import rumtest
from rumtest import Device, pi_path, wait_for


class Client(threading.Thread):
    """A device pushing fresh reports; keeps (report ids, status, phase)."""

    def __init__(self, port, phase):
        super().__init__(daemon=True)
        self.port = port
        self.phase = phase
        self.device = Device()
        self.ledger = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            reports = [self.device.report() for _ in range(2)]
            ids = [rumtest.report_id_of(r) for r in reports]
            phase = self.phase[0]
            try:
                r = rumtest.http_request("127.0.0.1", self.port[0], "POST", pi_path(),
                                         self.device.usage(reports), timeout=15)
                status = r.status
                if status == 503 and (r.json or {}).get("status") != "OK_TRY_AGAIN":
                    status = "503 without OK_TRY_AGAIN"
            except OSError:
                status = "no answer"  # rumd was killed, or not up yet
            self.ledger.append((ids, status, phase))
            if status != 200:
                self.stop.wait(0.1)


class Crash(rumtest.RumTestCase):
    CLIENTS = 6

    def run_clients(self, port, phase):
        clients = [Client(port, phase) for _ in range(self.CLIENTS)]
        for c in clients:
            c.start()
        self.addCleanup(self.stop_clients, clients)
        return clients

    def stop_clients(self, clients):
        for c in clients:
            c.stop.set()
        for c in clients:
            c.join(60)

    def answered(self, clients, phase, status=200):
        return sum(1 for c in clients for o in list(c.ledger) if o[1] == status and o[2] == phase)

    def check_ledger(self, clients, db, allowed):
        ledger = [o for c in clients for o in c.ledger]
        odd = [o for o in ledger if o[1] != 200 and o[1] not in allowed]
        self.assertEqual(odd[:5], [], "unexpected answers")
        acked = {(c.device.sn, rid) for c in clients for ids, st, ph in c.ledger
                 if st == 200 for rid in ids}
        rows = self.pg.psql("SELECT udi_serial, report_id FROM rum_reports "
                            "WHERE conflict_of IS NULL", db=db)
        stored = {(sn, int(rid)) for sn, rid in rows}
        self.assertEqual(acked - stored, set(), "reports answered 200 but not stored")
        twice = self.pg.scalar("SELECT count(*) FROM (SELECT 1 FROM rum_reports GROUP BY "
                               "tenant_id, udi_pid, udi_serial, report_id HAVING count(*) > 1) x",
                               db=db)
        self.assertEqual(int(twice), 0, "reports stored twice")
        counts = {}
        for o in ledger:
            counts[o[1]] = counts.get(o[1], 0) + 1
        return len(ledger), counts, len(acked)

    def test_sigkill_of_rumd_under_load(self):
        url, db = self.fresh_database("crash_rumd")
        port = rumtest.free_port()
        r = self.start_rumd(database_url=url, http_listen="127.0.0.1:%d" % port)
        phase = ["before"]
        clients = self.run_clients([port], phase)
        wait_for(lambda: self.answered(clients, "before") >= 100, 60, what="100 accepted")
        r.kill()
        phase[0] = "down"
        t0 = time.monotonic()
        time.sleep(0.5)
        r.start()
        phase[0] = "after"
        wait_for(lambda: self.answered(clients, "after") >= 100, 60,
                 what="100 accepted after the restart")
        back = time.monotonic() - t0
        self.stop_clients(clients)
        n, counts, acked = self.check_ledger(clients, db, ("no answer",))
        print("\nSIGKILL of rumd: %d messages %s, %d reports acknowledged and all stored; "
              "answering again %.1f s after the kill" % (n, counts, acked, back))

    def test_immediate_postgresql_restart_under_load(self):
        url, db = self.fresh_database("crash_pg")
        r = self.start_rumd(database_url=url)
        phase = ["before"]
        clients = self.run_clients([r.port], phase)
        wait_for(lambda: self.answered(clients, "before") >= 100, 60, what="100 accepted")
        self.pg.stop("immediate")
        phase[0] = "down"
        t0 = time.monotonic()
        try:
            wait_for(lambda: self.answered(clients, "down", 503) >= 20, 60,
                     what="503 OK_TRY_AGAIN while PostgreSQL is down")
            ready = r.get("/readyz", timeout=10)
            self.assertEqual(ready.status, 503, ready)
            self.assertEqual(r.get("/healthz", timeout=10).status, 200)
        finally:
            self.pg.start()
        phase[0] = "after"
        wait_for(lambda: self.answered(clients, "after") >= 100, 90,
                 what="100 accepted after PostgreSQL came back")
        back = time.monotonic() - t0
        wait_for(lambda: r.get("/readyz", timeout=10).status == 200, 30, what="/readyz 200")
        self.stop_clients(clients)
        n, counts, acked = self.check_ledger(clients, db, (503,))
        self.assertTrue(r.alive(), "rumd must ride out the crash without a restart")
        print("\nPostgreSQL -m immediate: %d messages %s, %d reports acknowledged and all "
              "stored; answering 200 again %.1f s after the crash" % (n, counts, acked, back))


if __name__ == "__main__":
    rumtest.main()
