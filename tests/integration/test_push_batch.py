"""Reports of concurrent messages are stored together, one statement per
batch: a batch that mixes new reports, duplicates (earlier and within the
batch), conflicts and a report repeated within one message must end exactly
as if each message had been stored alone (PROTOCOL.md 1.4)."""

import threading

import rumtest
from rumtest import Device, pi_path, sql_literal


class PushBatch(rumtest.RumTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.url, cls.db = cls.fresh_database("batch")
        # Two database connections, as on the 2-core machines the suite is
        # sized for: on a larger machine each of a test's concurrent messages
        # could otherwise get a connection of its own and never share a batch.
        cls.rumd = cls.start_class_rumd(database_url=cls.url, flags={"db_pool_size": "2"})

    def rows(self, dev, report_id):
        return self.pg.psql(
            "SELECT id, coalesce(conflict_of::text, ''), report FROM rum_reports "
            "WHERE udi_pid = %s AND udi_serial = %s AND report_id = %s ORDER BY id"
            % (sql_literal(dev.pid), sql_literal(dev.sn), report_id), db=self.db)

    def alerts(self, dev, report_id):
        return self.pg.psql(
            "SELECT details->>'first_row', details->>'conflicting_row' FROM alerts a "
            "JOIN devices d ON d.id = a.device_id WHERE d.udi_serial = %s "
            "AND details->>'report_id' = '%s' ORDER BY a.id"
            % (sql_literal(dev.sn), report_id), db=self.db)

    def concurrently(self, bodies):
        barrier = threading.Barrier(len(bodies))
        replies = [None] * len(bodies)

        def client(i):
            barrier.wait()
            try:
                replies[i] = self.rumd.post(pi_path(), bodies[i], timeout=60)
            except Exception as e:  # reported by assertOkPoll
                replies[i] = e

        threads = [threading.Thread(target=client, args=(i,)) for i in range(len(bodies))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return replies

    def test_mixed_batch(self):
        devs = [Device() for _ in range(8)]
        old = [d.report(report_id=100, value="1") for d in devs]
        for d, rep in zip(devs, old):
            self.assertOkPoll(self.rumd.post(pi_path(), d.usage([rep])))
        bodies = []
        for d, rep in zip(devs, old):
            new = d.report(report_id=101)
            other = d.report(report_id=100, value="2")   # conflicts with the stored one
            twice = d.report(report_id=102, value="7")
            clash = d.report(report_id=102, value="8")   # conflicts within the message
            # new, duplicate of a stored report, conflict, repeated report,
            # conflict within the message and its own repetition
            bodies.append(rumtest.to_body(d.usage([new, rep, other, twice, twice, clash,
                                                   clash, new])))
        # Each message twice, at once: duplicates also come from other messages
        # of the same batch and from concurrent batches.
        for r in self.concurrently(bodies * 2):
            self.assertOkPoll(r)
        for d, rep in zip(devs, old):
            self.assertEqual(len(self.rows(d, 101)), 1)
            rows = self.rows(d, 100)
            self.assertEqual(len(rows), 2, rows)
            self.assertEqual(rumtest.json.loads(rows[0][2]), rep, "the first arrival holds it")
            self.assertEqual(rows[1][1], rows[0][0])
            self.assertEqual(self.alerts(d, 100), [[rows[0][0], rows[1][0]]])
            rows = self.rows(d, 102)
            self.assertEqual(len(rows), 2, rows)
            self.assertEqual(rumtest.json.loads(rows[0][2])["payload"],
                             d.report(report_id=102, value="7")["payload"],
                             "the first in message order holds the identity")
            self.assertEqual(rows[1][1], rows[0][0])
            self.assertEqual(self.alerts(d, 102), [[rows[0][0], rows[1][0]]])
            # every stored report belongs to one of the device's uploads
            self.assertEqual(self.pg.psql(
                "SELECT count(*) FROM rum_reports r JOIN uploads u ON u.id = r.upload_id "
                "JOIN devices d ON d.id = u.device_id WHERE d.udi_serial = %s"
                % sql_literal(d.sn), db=self.db), [["5"]])

    def test_report_text_is_byte_exact(self):
        dev = Device()
        rep = dev.report(report_id=300)
        rep["payload"] = rep["payload"].replace("}", ', "x": "\\u00e9\\\\ \\"q\\" \\n"}', 1)
        body = rumtest.to_body(dev.usage([rep]))
        for r in self.concurrently([body] * 4):
            self.assertOkPoll(r)
        rows = self.rows(dev, 300)
        self.assertEqual(len(rows), 1)
        self.assertEqual(rumtest.json.loads(rows[0][2]), rep)

    def test_failing_message_fails_alone(self):
        """A message whose rows the database refuses fails by itself: the batch
        statement it shared is retried without grouping, which finds it, and
        every other message of the batch is stored."""
        self.pg.psql(
            "CREATE FUNCTION test_refuse_666() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN IF NEW.report_id = 666 THEN RAISE EXCEPTION 'report 666 refused'; END IF; "
            "RETURN NEW; END $$; "
            "CREATE TRIGGER test_refuse_666 BEFORE INSERT ON rum_reports FOR EACH ROW "
            "EXECUTE FUNCTION test_refuse_666()", db=self.db)
        try:
            devs = [Device() for _ in range(12)]
            bodies = [rumtest.to_body(d.usage([d.report(report_id=666 if i == 5 else 600)]))
                      for i, d in enumerate(devs)]
            replies = self.concurrently(bodies)
        finally:
            self.pg.psql("DROP TRIGGER test_refuse_666 ON rum_reports; "
                         "DROP FUNCTION test_refuse_666()", db=self.db)
        for i, (d, r) in enumerate(zip(devs, replies)):
            where = "udi_serial = %s" % sql_literal(d.sn)
            if i == 5:
                self.assertFalse(isinstance(r, Exception), r)
                self.assertGreaterEqual(r.status, 500, r)
                self.assertEqual(self.pg.count("uploads u JOIN devices d ON d.id = u.device_id",
                                               "d." + where, db=self.db), 0)
                self.assertEqual(self.pg.count("rum_reports", where, db=self.db), 0)
            else:
                self.assertOkPoll(r)
                self.assertEqual(len(self.rows(d, 600)), 1)

        self.assertIn("storing them one by one", self.rumd.log())

    def test_messages_of_one_device_share_a_batch(self):
        """Concurrent messages of one device are stored by the batch
        statements together (its touches folded into one row write) rather
        than failing them and falling back to one by one; the device ends
        with one of the hostnames it sent and every report is stored."""
        shared = False
        for attempt in range(5):
            dev = Device()
            names = ["host-%d-%d" % (attempt, i) for i in range(16)]
            before = self.rumd.log_size()
            replies = self.concurrently([
                rumtest.to_body(dev.usage([dev.report(report_id=700 + i)], hostname=names[i]))
                for i in range(16)])
            for r in replies:
                self.assertOkPoll(r)
            where = "udi_serial = %s" % sql_literal(dev.sn)
            self.assertNotIn("one by one", self.rumd.log(before))
            self.assertEqual(self.pg.count("devices", where, db=self.db), 1)
            self.assertIn(self.pg.scalar("SELECT hostname FROM devices WHERE " + where,
                                         db=self.db), names)
            self.assertEqual(self.pg.count("rum_reports", where, db=self.db), 16)
            # Rows written by one transaction share its xmin.
            if self.pg.scalar("SELECT count(DISTINCT u.xmin::text) < count(*) FROM uploads u "
                              "JOIN devices d ON d.id = u.device_id WHERE d." + where,
                              db=self.db) == "t":
                shared = True
                break
        self.assertTrue(shared, "16 concurrent messages of one device never shared a batch")


if __name__ == "__main__":
    rumtest.main()
