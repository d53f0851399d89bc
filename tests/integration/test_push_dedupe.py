"""Report identity (PROTOCOL.md 1.4): (tenant, UDI, report id). The same report
again is a duplicate (success, no new row); the same identity with another
payload is a conflict (both kept, the second points at the first, an alert).
Also under many concurrent clients."""

import threading

import rumtest
from rumtest import Device, pi_path, sql_literal


class PushDedupe(rumtest.RumTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.url, cls.db = cls.fresh_database("dedupe")
        cls.rumd = cls.start_class_rumd(database_url=cls.url)

    def rows(self, dev, report_id):
        """[id, conflict_of, report text] of an identity, oldest first."""
        return self.pg.psql(
            "SELECT id, coalesce(conflict_of::text, ''), report FROM rum_reports "
            "WHERE udi_pid = %s AND udi_serial = %s AND report_id = %s ORDER BY id"
            % (sql_literal(dev.pid), sql_literal(dev.sn), report_id), db=self.db)

    def alerts(self, report_id):
        return self.pg.psql(
            "SELECT kind, details->>'first_row', details->>'conflicting_row' FROM alerts "
            "WHERE details->>'report_id' = '%s' ORDER BY id" % report_id, db=self.db)

    def post_ok(self, body, tenant=None):
        return self.assertOkPoll(self.rumd.post(pi_path(tenant), body))

    def test_duplicate_is_success_without_new_row(self):
        dev = Device()
        rep = dev.report(report_id=1001)
        self.post_ok(dev.usage([rep]))
        self.post_ok(dev.usage([rep]))
        self.post_ok({"usage": [rep]})
        self.post_ok(rep)
        rows = self.rows(dev, 1001)
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0][1], "")
        self.assertEqual(self.alerts(1001), [])

    def test_duplicate_within_one_message(self):
        dev = Device()
        rep = dev.report(report_id=1002)
        self.post_ok(dev.usage([rep, dev.report(report_id=1003), rep]))
        self.assertEqual(len(self.rows(dev, 1002)), 1)
        self.assertEqual(len(self.rows(dev, 1003)), 1)

    def test_conflict_keeps_both(self):
        dev = Device()
        first = dev.report(report_id=2001, value="1")
        second = dev.report(report_id=2001, value="2")
        third = dev.report(report_id=2001, value="3")
        self.post_ok(dev.usage([first]))
        self.post_ok(dev.usage([second]))
        rows = self.rows(dev, 2001)
        self.assertEqual(len(rows), 2, rows)
        self.assertEqual(rows[0][1], "", "the first arrival holds the identity")
        self.assertEqual(rows[1][1], rows[0][0], "the second points at the first")
        self.assertEqual(rumtest.json.loads(rows[0][2]), first)
        self.assertEqual(rumtest.json.loads(rows[1][2]), second)
        self.assertEqual(self.alerts(2001), [["report_conflict", rows[0][0], rows[1][0]]])
        alert = self.pg.psql("SELECT a.tenant_id = r.tenant_id, a.device_id = r.device_id FROM alerts a, "
                             "rum_reports r WHERE a.details->>'report_id' = '2001' AND r.id = %s"
                             % rows[0][0], db=self.db)
        self.assertEqual(alert, [["t", "t"]])

        # The conflicting payload again: a duplicate of the conflict row.
        self.post_ok(dev.usage([second]))
        self.post_ok(dev.usage([first]))
        self.assertEqual(len(self.rows(dev, 2001)), 2)
        self.assertEqual(len(self.alerts(2001)), 1)

        # A third payload: another conflict row, another alert.
        self.post_ok(dev.usage([third]))
        rows = self.rows(dev, 2001)
        self.assertEqual([r[1] for r in rows], ["", rows[0][0], rows[0][0]])
        self.assertEqual(len(self.alerts(2001)), 2)

    def test_conflict_across_formats(self):
        dev = Device()
        self.post_ok(dev.usage([dev.report(report_id=2101, fmt="A")]))
        self.post_ok(dev.usage([dev.report(report_id=2101, fmt="B")]))
        rows = self.pg.psql("SELECT format, conflict_of IS NULL FROM rum_reports WHERE udi_serial = %s "
                            "AND report_id = 2101 ORDER BY id" % sql_literal(dev.sn), db=self.db)
        self.assertEqual(rows, [["A", "t"], ["B", "f"]])

    def test_same_report_id_other_device_is_not_a_conflict(self):
        one, two = Device(), Device()
        self.post_ok(one.usage([one.report(report_id=2201)]))
        self.post_ok(two.usage([two.report(report_id=2201)]))
        self.assertEqual(len(self.rows(one, 2201)), 1)
        self.assertEqual(len(self.rows(two, 2201)), 1)
        self.assertEqual(self.alerts(2201), [])

    # -- concurrency ----------------------------------------------------------

    def concurrently(self, bodies):
        """Posts every body at once, one thread each; returns the replies."""
        barrier = threading.Barrier(len(bodies))
        replies = [None] * len(bodies)

        def client(i):
            barrier.wait()
            try:
                replies[i] = self.rumd.post(pi_path(), bodies[i], timeout=60)
            except Exception as e:  # reported below
                replies[i] = e

        threads = [threading.Thread(target=client, args=(i,)) for i in range(len(bodies))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return replies

    def test_concurrent_same_report(self):
        dev = Device()
        rep = dev.report(report_id=3001)
        body = rumtest.to_body(dev.usage([rep, dev.report(report_id=3002)]))
        replies = self.concurrently([body] * 32)
        for r in replies:
            self.assertOkPoll(r)
        self.assertEqual(len(self.rows(dev, 3001)), 1)
        self.assertEqual(len(self.rows(dev, 3002)), 1)
        self.assertEqual(self.alerts(3001), [])
        self.assertEqual(self.pg.count("devices", "udi_serial = %s" % sql_literal(dev.sn), db=self.db), 1)

    def test_concurrent_different_payloads(self):
        dev = Device()
        n = 16
        reports = [dev.report(report_id=4001, value=str(i + 1)) for i in range(n)]
        # Each payload twice, so that conflicts also race with their own duplicates.
        bodies = [rumtest.to_body(dev.usage([r])) for r in reports] * 2
        replies = self.concurrently(bodies)
        for r in replies:
            self.assertOkPoll(r)
        rows = self.rows(dev, 4001)
        self.assertEqual(len(rows), n, rows)
        firsts = [r for r in rows if r[1] == ""]
        self.assertEqual(len(firsts), 1, rows)
        self.assertTrue(all(r[1] == firsts[0][0] for r in rows if r[1]), rows)
        stored = sorted(rumtest.json.dumps(rumtest.json.loads(r[2]), sort_keys=True) for r in rows)
        sent = sorted(rumtest.json.dumps(r, sort_keys=True) for r in reports)
        self.assertEqual(stored, sent, "every distinct payload is kept exactly once")
        self.assertEqual(len(self.alerts(4001)), n - 1)

    def test_parents_of_stored_usage_cannot_be_removed(self):
        """Tenants, devices and uploads that stored reports refer to are kept:
        deleting, re-keying or truncating them fails with foreign_key_violation
        and changes nothing."""
        dev = Device()
        self.post_ok(dev.usage([dev.report(report_id=5001)]))
        where = "udi_serial = %s" % sql_literal(dev.sn)
        device_id = self.pg.scalar("SELECT id FROM devices WHERE " + where, db=self.db)
        tenant_id = self.pg.scalar("SELECT tenant_id FROM devices WHERE " + where, db=self.db)
        upload_id = self.pg.scalar(
            "SELECT upload_id FROM rum_reports WHERE report_id = 5001 AND " + where, db=self.db)
        before = rumtest.table_counts(self.pg, db=self.db)
        for sql in ("DELETE FROM devices WHERE id = %s" % device_id,
                    "UPDATE devices SET id = -id WHERE id = %s" % device_id,
                    "DELETE FROM tenants WHERE id = %s" % tenant_id,
                    "DELETE FROM uploads WHERE id = %s" % upload_id,
                    "TRUNCATE devices CASCADE", "TRUNCATE uploads"):
            cmd = [rumtest.psql_bin(), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                   "-v", "VERBOSITY=verbose", "-d", self.pg.url_for(self.db), "-c", sql]
            proc = rumtest.subprocess.run(cmd, capture_output=True, timeout=60)
            self.assertNotEqual(proc.returncode, 0, sql)
            self.assertIn(b"23503", proc.stderr, (sql, proc.stderr))
        self.assertEqual(rumtest.table_counts(self.pg, db=self.db), before)
        # A device with no stored usage can still be removed.
        self.pg.psql("INSERT INTO devices (tenant_id, udi_pid, udi_serial) "
                     "VALUES (%s, 'X', 'unused-5001'); "
                     "DELETE FROM devices WHERE udi_serial = 'unused-5001'" % tenant_id, db=self.db)


if __name__ == "__main__":
    rumtest.main()
