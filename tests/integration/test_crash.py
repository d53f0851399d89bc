"""Crashes under push load. rumd killed with SIGKILL and started again;
PostgreSQL stopped with `pg_ctl -m immediate` (a crash: no checkpoint, WAL
replayed at the next start) and started again. In both cases every report
answered 200 is stored, none twice, and devices are answered again without
anyone touching rumd; while the database is down /readyz says 503 and
devices get 503 OK_TRY_AGAIN."""

import time

import rumtest
from rumtest import LedgerClient, ledger_check, wait_for


class Crash(rumtest.RumTestCase):
    CLIENTS = 6

    def run_clients(self, port, phase):
        clients = [LedgerClient(port, phase) for _ in range(self.CLIENTS)]
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

    def test_sigkill_of_rumd_under_load(self):
        url, db = self.fresh_database("crash_rumd")
        port = rumtest.free_port()
        r = self.start_rumd(database_url=url, http_listen="127.0.0.1:%d" % port)
        phase = ["before"]
        clients = self.run_clients(port, phase)
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
        n, counts, acked = ledger_check(self, clients, self.pg, db, ("no answer",))
        print("\nSIGKILL of rumd: %d messages %s, %d reports acknowledged and all stored; "
              "answering again %.1f s after the kill" % (n, counts, acked, back))

    def test_immediate_postgresql_restart_under_load(self):
        url, db = self.fresh_database("crash_pg")
        r = self.start_rumd(database_url=url)
        phase = ["before"]
        clients = self.run_clients(r.port, phase)
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
        n, counts, acked = ledger_check(self, clients, self.pg, db, (503,))
        self.assertTrue(r.alive(), "rumd must ride out the crash without a restart")
        print("\nPostgreSQL -m immediate: %d messages %s, %d reports acknowledged and all "
              "stored; answering 200 again %.1f s after the crash" % (n, counts, acked, back))


if __name__ == "__main__":
    rumtest.main()
