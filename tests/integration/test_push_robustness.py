"""The push endpoint under pressure and misuse: poll ids nobody can guess,
concurrent batches of the same devices, a bounded amount of memory for
request bodies, tenants created only by real data, times outside what the
database holds, and a clean stop while keep-alive clients are busy."""

import http.client
import json
import signal
import threading

import rumtest
from rumtest import Device, pi_path, rum_report


class PushRobustness(rumtest.RumTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.url, cls.db = cls.fresh_database("robust")
        cls.rumd = cls.start_class_rumd(database_url=cls.url)

    def scalar(self, sql):
        return self.pg.scalar(sql, db=self.db)

    def test_poll_ids_are_not_row_numbers(self):
        dev = Device()
        ids = []
        for _ in range(3):
            r = self.rumd.post(pi_path(), dev.usage([dev.report()]))
            self.assertEqual(r.json["status"], "OK_POLL", r)
            ids.append(int(r.json["poll_id"]))
        self.assertEqual(len(set(ids)), 3)
        # Consecutive uploads do not get consecutive (guessable) poll ids.
        self.assertFalse(ids[1] - ids[0] == 1 and ids[2] - ids[1] == 1, ids)
        row_id = self.scalar("SELECT max(id) FROM uploads")
        if int(row_id) not in ids:
            r = self.rumd.post(pi_path(), {"poll_id": row_id})
            self.assertEqual(r.status, 404, r)

    def test_concurrent_batches_of_few_devices_all_succeed(self):
        devices = [Device() for _ in range(4)]
        statuses = []
        lock = threading.Lock()

        def client(n):
            dev = devices[n % len(devices)]
            for _ in range(15):
                r = self.rumd.post(pi_path(), dev.usage([dev.report(), dev.report()]),
                                   timeout=60)
                with lock:
                    statuses.append(r.status)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(24)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(set(statuses), {200}, "statuses seen: %s" % sorted(set(statuses)))
        serials = ",".join("'%s'" % d.sn for d in devices)
        self.assertEqual(self.scalar("SELECT count(*) FROM rum_reports WHERE udi_serial IN (%s)"
                                     % serials), str(24 * 15 * 2))

    def test_out_of_range_times_are_stored_as_unknown(self):
        dev = Device()
        rep = rum_report(dev.pid, dev.sn, 1800000001, start=10 ** 15, end=-5)
        r = self.rumd.post(pi_path(), dev.usage([rep]))
        self.assertEqual((r.status, r.json["status"]), (200, "OK_POLL"), r)
        self.assertEqual(self.pg.psql(
            "SELECT first_start IS NULL, last_end IS NULL FROM rum_reports WHERE report_id = "
            "1800000001", db=self.db), [["t", "t"]])

    def test_auto_created_tenants_need_data(self):
        url, db = self.fresh_database("autocreate")
        r = self.start_rumd(database_url=url, flags={"auto_create_tenants": "true"})
        before = self.pg.scalar("SELECT count(*) FROM tenants", db=db)
        self.assertEqual(r.get(pi_path("made-up-1")).status, 404)
        self.assertEqual(r.post(pi_path("made-up-2"), {}).status, 404)
        self.assertEqual(r.post(pi_path("made-up-3"), {"poll_id": "5"}).status, 404)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM tenants", db=db), before)
        dev = Device()
        self.assertEqual(r.post(pi_path("real-site"), dev.usage([dev.report()])).status, 200)
        self.assertEqual(self.pg.scalar("SELECT count(*) FROM tenants WHERE name = 'real-site'",
                                        db=db), "1")

    def test_stop_while_keep_alive_clients_are_busy(self):
        url, db = self.fresh_database("stopping")
        r = self.start_rumd(database_url=url)
        stop = threading.Event()
        errors = []

        def client():
            dev = Device()
            conn = http.client.HTTPConnection("127.0.0.1", r.port, timeout=30)
            try:
                while not stop.is_set():
                    body = json.dumps(dev.usage([dev.report()])).encode()
                    conn.request("POST", pi_path(), body=body,
                                 headers={"Content-Type": "application/json"})
                    resp = conn.getresponse()
                    resp.read()
                    if resp.status not in (200, 503):
                        errors.append(resp.status)
                    if resp.getheader("Connection", "").lower() == "close":
                        conn.close()
                        conn = http.client.HTTPConnection("127.0.0.1", r.port, timeout=30)
            except (OSError, http.client.HTTPException):
                pass  # the server went away: expected once it stops
            finally:
                conn.close()

        threads = [threading.Thread(target=client) for _ in range(8)]
        for t in threads:
            t.start()
        rumtest.wait_for(lambda: int(self.pg.scalar("SELECT count(*) FROM rum_reports",
                                                    db=db)) > 40, timeout=30, what="load")
        r.signal(signal.SIGTERM)
        status = r.wait_exit(timeout=60)
        stop.set()
        for t in threads:
            t.join()
        self.assertEqual(status, 0, r.log())
        self.assertEqual(errors, [])
        self.assertNotIn("Fatal error", r.log())


if __name__ == "__main__":
    rumtest.main()
