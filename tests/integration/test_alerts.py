"""Alerts, one model over the admin API and the CLI: each kind is raised by
its cause and resolved when the cause goes away (a deadline passed or near,
an export waiting for its ACK, a silent device, unclassified device
messages, a report conflict, a failing pull target), once per subject while
open; acknowledging marks one seen (audited) and resolves a report conflict;
tenants see only theirs; bad filters are 400. Causes are set up with real
device messages and, where they take days, by moving the stored times."""

import json

import rumtest as rt

T = "/api/v1/tenants/%s"


class Alerts(rt.RumTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.url, cls.db = cls.fresh_database("alerts")
        rt.add_tenant(cls.url, "other")
        cls.rumd = cls.start_class_rumd(database_url=cls.url, flags={"upkeep_interval_s": 1})
        cls.tokens = {}
        for role, tenant in (("reader", None), ("operator", None), ("operator", "other")):
            args = ["token", "create", "--role", role, "--database_url=%s" % cls.url]
            if tenant:
                args += ["--tenant", tenant]
            proc = rt.run_rumd(args)
            assert proc.returncode == 0, proc.stderr
            cls.tokens[(role, tenant)] = proc.stdout.strip()

    def sql(self, text):
        return self.pg.psql(text, db=self.db)

    def api(self, method, path, role="reader", tenant=None, status=200):
        reply = self.rumd.request(method, path, b"" if method == "POST" else None,
                                  {"Authorization": "Bearer " + self.tokens[(role, tenant)]})
        self.assertEqual(reply.status, status, reply)
        return reply.json

    def cli(self, *args, expect=0):
        proc = rt.run_rumd(list(args) + ["--database_url=%s" % self.url])
        self.assertEqual(proc.returncode, expect, proc.stdout + proc.stderr)
        return proc

    def open_alerts(self, kind=None):
        """Open alerts of the default tenant after an evaluation (the CLI
        evaluates before it lists), by subject."""
        args = ["alert", "list", "--json", "--limit", "500"]
        if kind:
            args += ["--kind", kind]
        return {a["subject"]: a for a in json.loads(self.cli(*args).stdout)["alerts"]}

    def device(self, dev):
        return int(self.pg.scalar("SELECT id FROM devices WHERE udi_serial = '%s'" % dev.sn,
                                  db=self.db))

    def push(self, dev, body=None, tenant="default"):
        reply = self.rumd.post(rt.pi_path(tenant), body or dev.usage([dev.report()]))
        self.assertEqual(reply.status, 200, reply)

    def test_1_deadline_near_then_passed_then_resolved(self):
        dev = rt.Device("C9300-24P", hostname="alert-deadline")
        self.push(dev)
        did = self.device(dev)
        self.assertNotIn("device:%d" % did, self.open_alerts("deadline_near"))
        # Cisco default: first report due 90 days after the first report.
        self.sql("UPDATE device_inventory SET first_report_at = now() - interval '80 days' "
                 "WHERE device_id = %d" % did)
        near = self.open_alerts("deadline_near")["device:%d" % did]
        self.assertEqual((near["severity"], near["device_id"]), ("warning", did))
        self.assertIn(dev.sn, near["message"])
        self.sql("UPDATE device_inventory SET first_report_at = now() - interval '91 days' "
                 "WHERE device_id = %d" % did)
        passed = self.open_alerts("deadline_passed")["device:%d" % did]
        self.assertEqual(passed["severity"], "critical")
        self.assertNotIn("device:%d" % did, self.open_alerts("deadline_near"), "near resolved")
        resolved = json.loads(self.cli("alert", "list", "--json", "--state", "resolved",
                                       "--kind", "deadline_near").stdout)["alerts"]
        self.assertIn(near["id"], [a["id"] for a in resolved])
        # Evaluating again keeps one alert per subject.
        self.open_alerts()
        self.assertEqual(self.pg.scalar(
            "SELECT count(*) FROM alerts WHERE kind = 'deadline_passed' AND resolved_at IS NULL "
            "AND subject = 'device:%d'" % did, db=self.db), "1")
        # Cause gone (the first report is recent again): resolved.
        self.sql("UPDATE device_inventory SET first_report_at = now() WHERE device_id = %d" % did)
        self.assertNotIn("device:%d" % did, self.open_alerts("deadline_passed"))

    def test_2_ack_pending_and_silent_device(self):
        dev = rt.Device("C9300-48P", hostname="alert-silent")
        self.push(dev)
        did = self.device(dev)
        self.sql("UPDATE device_inventory SET export_pending_since = now() - interval '8 days' "
                 "WHERE device_id = %d" % did)
        self.sql("UPDATE devices SET last_contact = now() - interval '31 days' WHERE id = %d" % did)
        pending = self.open_alerts("ack_pending")
        silent = self.open_alerts("device_silent")
        self.assertIn("device:%d" % did, pending)
        self.assertIn("device:%d" % did, silent)
        # The device speaks again: no longer silent.
        self.push(dev)
        self.assertNotIn("device:%d" % did, self.open_alerts("device_silent"))
        self.sql("UPDATE device_inventory SET export_pending_since = NULL WHERE device_id = %d"
                 % did)
        self.assertNotIn("device:%d" % did, self.open_alerts("ack_pending"))

    def test_3_unclassified_messages(self):
        reply = self.rumd.post(rt.pi_path("default"), {"something": "unexpected"})
        self.assertIn(reply.status, (200, 400), reply)
        tid = self.pg.scalar("SELECT id FROM tenants WHERE name = 'default'", db=self.db)
        alert = self.open_alerts("unclassified_messages")["tenant:%s" % tid]
        self.assertIn("could not be classified", alert["message"])
        self.sql("UPDATE captures SET received_at = now() - interval '8 days'")
        self.assertNotIn("tenant:%s" % tid, self.open_alerts("unclassified_messages"))

    def test_4_report_conflict_acknowledged_and_resolved(self):
        dev = rt.Device("C8000V", hostname="alert-conflict")
        self.push(dev, dev.usage([dev.report(report_id=42, value="1")]))
        self.push(dev, dev.usage([dev.report(report_id=42, value="2")]))
        conflicts = self.open_alerts("report_conflict")
        alert = [a for a in conflicts.values() if a["device_id"] == self.device(dev)][0]
        self.assertFalse(alert["acknowledged"])
        # Reader may not; another tenant's operator sees no such alert.
        self.api("POST", T % "default" + "/alerts/%d/ack" % alert["id"], status=403)
        self.api("POST", T % "other" + "/alerts/%d/ack" % alert["id"], "operator", "other",
                 status=404)
        self.api("POST", T % "default" + "/alerts/%d/ack" % alert["id"], "operator", "other",
                 status=404)
        body = self.api("POST", T % "default" + "/alerts/%d/ack" % alert["id"], "operator")
        self.assertEqual(body, {"status": "OK", "acknowledged": alert["id"]})
        one = [a for a in self.api("GET", T % "default" + "/alerts?state=all&kind=report_conflict")
               ["alerts"] if a["id"] == alert["id"]][0]
        self.assertTrue(one["acknowledged"])
        self.assertIsNotNone(one["resolved_at"], "a conflict is resolved by its acknowledgement")
        self.assertTrue(one["acknowledged_by"].startswith("token "))
        self.assertEqual(self.pg.scalar(
            "SELECT count(*) FROM audit_log WHERE action = 'alert-ack' AND result = 'ok' "
            "AND target = '%d'" % alert["id"], db=self.db), "1")
        self.api("POST", T % "default" + "/alerts/999999/ack", "operator", status=404)

    def test_5_collection_failing_is_an_alert_of_the_same_model(self):
        tid = self.pg.scalar("SELECT id FROM tenants WHERE name = 'default'", db=self.db)
        self.sql("INSERT INTO alerts (tenant_id, kind, message, details) VALUES (%s, "
                 "'collection_failing', 'collections from 192.0.2.1:830 (netconf) have failed', "
                 "'{\"target_id\": 77}')" % tid)
        alert = self.open_alerts("collection_failing")["target:77"]
        self.assertEqual(alert["severity"], "critical")

    def test_6_lists_filters_paging_and_isolation(self):
        first = self.api("GET", T % "default" + "/alerts?state=all&limit=1")
        self.assertEqual(len(first["alerts"]), 1)
        second = self.api("GET", T % "default" + "/alerts?state=all&limit=1&cursor=" +
                          first["next_cursor"])
        self.assertLess(second["alerts"][0]["id"], first["alerts"][0]["id"])
        self.assertEqual(self.api("GET", T % "other" + "/alerts", "operator", "other")["alerts"],
                         [])
        self.api("GET", T % "default" + "/alerts", "operator", "other", status=404)
        for query, words in (("state=late", "state"), ("kind=fire", "kind"), ("limit=0", "limit"),
                             ("cursor=zz", "cursor"), ("colour=red", "unknown")):
            body = self.api("GET", T % "default" + "/alerts?" + query, status=400)
            self.assertIn(words, body["message"], query)
        out = self.cli("alert", "list", "--state", "all").stdout
        self.assertTrue(out.startswith("ID "), out)
        self.assertIn("not an id", self.cli("alert", "ack", "x", expect=1).stderr)

    def test_7_the_serve_loop_evaluates_by_itself(self):
        dev = rt.Device("C9500-48Y4C", hostname="alert-upkeep")
        self.push(dev)
        did = self.device(dev)
        self.sql("UPDATE devices SET last_contact = now() - interval '40 days' WHERE id = %d" % did)
        rt.wait_for(lambda: any(a["subject"] == "device:%d" % did for a in self.api(
            "GET", T % "default" + "/alerts?kind=device_silent")["alerts"]), 30, interval=0.2,
            what="the upkeep to raise device_silent")

    def test_8_evaluation_that_waits_shows_progress_on_a_terminal(self):
        lock = self.pg.hold_lock("alerts", 2.5, db=self.db)
        rc, out, shown = rt.run_rumd_on_terminal(
            ["alert", "list", "--json", "--database_url=%s" % self.url])
        lock.wait(10)
        self.assertEqual(rc, 0, shown)
        self.assertIn("bringing alerts up to date: running", shown)
        self.assertRegex(shown, r"bringing alerts up to date: done, [0-9]+\.[0-9] s")
        self.assertIn("alerts", json.loads(out))


if __name__ == "__main__":
    rt.main()
