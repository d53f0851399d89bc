"""The inventory over the admin API: devices (product instances) with their
state, counts, policy and next reporting deadline; their reports, one
byte-exact; keyset paging in every order; the deadline rules with fixed
clocks; the export -> ACK import loop moving a device from "not exported" to
"ACK pending" to acknowledged under CSSM's policy; tenant isolation; and bad
sorts, filters, cursors and limits answered 400 naming what was wrong."""

import datetime
import json
import os
import re
import subprocess
import sys
import urllib.parse

import rumtest as rt

CSSM_SIM = os.path.join(rt.SOURCE_DIR, "tests", "tools", "cssm_sim.py")
T = "/api/v1/tenants/%s"


def iso(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)


class Inventory(rt.RumTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.url, cls.db = cls.fresh_database("inventory")
        cls.rumd = cls.start_class_rumd(database_url=cls.url)
        rt.add_tenant(cls.url, "other")
        cls.admin = cls.token("admin")
        cls.reader = cls.token("reader")
        cls.other = cls.token("reader", "other")
        # Three devices of the default tenant, one with three reports.
        cls.devs = [rt.Device("C9300-24P", hostname="inv-core-%d" % i) for i in range(3)]
        cls.bodies = []
        for i, dev in enumerate(cls.devs):
            body = dev.usage([dev.report() for _ in range(3 if i == 0 else 1)])
            reply = cls.rumd.post(rt.pi_path("default"), body)
            assert reply.status == 200, reply
            cls.bodies.append(rt.to_body(body))

    @classmethod
    def token(cls, role, tenant=None):
        args = ["token", "create", "--role", role, "--database_url=%s" % cls.url]
        if tenant:
            args += ["--tenant", tenant]
        proc = rt.run_rumd(args)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    def get(self, path, token=None, status=200):
        reply = self.rumd.get(path, {"Authorization": "Bearer " + (token or self.reader)})
        self.assertEqual(reply.status, status, reply)
        return reply

    def get_json(self, path, token=None, status=200):
        return self.get(path, token, status).json

    def cli(self, *args, expect=0):
        proc = rt.run_rumd(list(args) + ["--database_url=%s" % self.url], timeout=300)
        self.assertEqual(proc.returncode, expect, "rumd %s:\n%s%s" % (
            " ".join(args), proc.stdout, proc.stderr))
        return proc

    def device_id(self, dev):
        return int(self.pg.scalar("SELECT id FROM devices WHERE udi_serial = '%s'" % dev.sn,
                                  db=self.db))

    def walk(self, query, limit):
        """Every device of a list, page by page; the pages' ids in order."""
        ids, cursor, pages = [], None, 0
        while True:
            q = dict(query, limit=str(limit))
            if cursor:
                q["cursor"] = cursor
            page = self.get_json(T % "default" + "/devices?" + urllib.parse.urlencode(q))
            self.assertLessEqual(len(page["devices"]), limit)
            ids += [d["id"] for d in page["devices"]]
            pages += 1
            cursor = page["next_cursor"]
            if not cursor:
                return ids, pages
            self.assertLess(pages, 100, "paging does not end")

    # -- devices ---------------------------------------------------------------

    def test_1_device_fields_after_push(self):
        body = self.get_json(T % "default" + "/devices")
        self.assertIsNone(body["next_cursor"])
        by_sn = {d["udi_sn"]: d for d in body["devices"]}
        self.assertEqual(set(by_sn), {d.sn for d in self.devs})
        d = by_sn[self.devs[0].sn]
        self.assertEqual(d["udi_pid"], "C9300-24P")
        self.assertEqual(d["hostname"], "inv-core-0")
        self.assertEqual(d["method"], "push")
        self.assertEqual(d["reports"], {"stored": 3, "not_exported": 3,
                                        "exported_unacknowledged": 0})
        self.assertIsNone(d["last_export"])
        self.assertIsNone(d["last_ack"])
        self.assertEqual(d["policy"], {"name": "Cisco default", "cisco_default": True,
                                       "first_report_days": 90, "ongoing_reporting_days": 90,
                                       "report_on_change_days": 90})
        # First report: due within the policy's first-report days of it.
        self.assertEqual(iso(d["next_deadline"]) - iso(d["first_report_at"]),
                         datetime.timedelta(days=90))
        self.assertEqual(d["state"], "ok")
        self.assertEqual(d["trust_code"], "none")
        self.assertFalse(d["collection_failing"])
        self.assertEqual(by_sn[self.devs[1].sn]["reports"]["stored"], 1)

    def test_2_device_show_usage_and_reports(self):
        dev = self.devs[0]
        did = self.device_id(dev)
        body = self.get_json(T % "default" + "/devices/%d" % did)
        self.assertEqual(body["id"], did)
        self.assertEqual(len(body["recent_reports"]), 3)
        self.assertIsNone(body["reports_next_cursor"])
        ids = [r["report_id"] for r in body["recent_reports"]]
        self.assertEqual(ids, sorted(ids, reverse=True), "newest first")
        self.assertEqual(len(body["usage"]), 1)
        self.assertEqual(body["usage"][0]["report_id"], max(ids))
        self.assertTrue(body["usage"][0]["entitlement_tag"])
        for r in body["recent_reports"]:
            self.assertEqual(r["state"], "stored")
            self.assertEqual(r["source"], "push")
            self.assertEqual(r["device_id"], did)

    def test_3_report_raw_is_byte_exact(self):
        dev = self.devs[1]
        page = self.get_json(T % "default" + "/devices/%d/reports" % self.device_id(dev))
        self.assertEqual(len(page["reports"]), 1)
        rid = page["reports"][0]["id"]
        one = self.get_json(T % "default" + "/reports/%d" % rid)
        self.assertEqual(one, page["reports"][0])
        raw = self.get(T % "default" + "/reports/%d/raw" % rid)
        self.assertEqual(raw.headers.get("content-type"), "application/json")
        self.assertIn(raw.raw, self.bodies[1], "the report's bytes as the device sent them")
        self.assertIn("payload", json.loads(raw.raw))

    def test_3a_a_report_sent_again_is_counted_not_stored(self):
        dev = rt.Device("C9200L-24P-4G", hostname="inv-again")
        body = dev.usage([dev.report()])
        for _ in range(3):
            self.assertEqual(self.rumd.post(rt.pi_path("default"), body).status, 200)
        did = self.device_id(dev)
        page = self.get_json(T % "default" + "/devices/%d/reports" % did)
        self.assertEqual(len(page["reports"]), 1)
        report = page["reports"][0]
        self.assertEqual(report["duplicates"], 2)
        self.assertGreaterEqual(report["last_duplicate_at"], report["received_at"])
        self.assertEqual(self.get_json(T % "default" + "/devices/%d" % did)["reports"]["stored"], 1)
        out = self.cli("report", "show", str(report["id"])).stdout
        self.assertIn("received again: 2 times, last " + report["last_duplicate_at"], out)
        lines = self.cli("report", "list", "--device", str(did)).stdout.splitlines()
        self.assertEqual(lines[0].split()[6], "AGAIN", lines)
        self.assertEqual(lines[1].split()[5], "2", lines)

    def test_4_paging_every_order(self):
        extra = [rt.Device("C9200L-24T", hostname="page-%02d" % i) for i in range(7)]
        for dev in extra:
            self.assertEqual(self.rumd.post(rt.pi_path("default"),
                                            dev.usage([dev.report()])).status, 200)
        everything, _ = self.walk({}, 500)
        self.assertEqual(len(everything), len(set(everything)))
        for sort in ("id", "deadline", "last_contact", "hostname"):
            for limit in (1, 3):
                ids, pages = self.walk({"sort": sort}, limit)
                self.assertEqual(sorted(ids), sorted(everything), (sort, limit))
                self.assertGreaterEqual(pages, len(everything) // limit)
        ids, _ = self.walk({"sort": "hostname"}, 2)
        names = {d["id"]: d["hostname"] or "" for d in
                 self.get_json(T % "default" + "/devices?limit=500")["devices"]}
        self.assertEqual([names[i] for i in ids], sorted(names[i] for i in ids))
        ids, _ = self.walk({"sort": "id"}, 4)
        self.assertEqual(ids, sorted(ids))
        # Search: a serial or hostname prefix, any case.
        found = self.get_json(T % "default" + "/devices?q=PAGE-0")["devices"]
        self.assertEqual(sorted(d["hostname"] for d in found),
                         ["page-%02d" % i for i in range(7)])
        found = self.get_json(T % "default" + "/devices?q=" + extra[3].sn.lower())["devices"]
        self.assertEqual([d["udi_sn"] for d in found], [extra[3].sn])
        self.assertEqual(self.get_json(T % "default" + "/devices?q=%25")["devices"], [],
                         "LIKE's own characters match themselves")

    def test_5_bad_queries_are_400_and_name_the_problem(self):
        base = T % "default" + "/devices?"
        for query, words in (("sort=size", "sort: 'size' is not one of"),
                             ("state=late", "state: 'late' is not one of"),
                             ("limit=0", "limit"), ("limit=501", "limit"),
                             ("limit=ten", "limit"), ("due_days=-1", "due_days"),
                             ("cursor=xyz", "cursor"), ("cursor=d1.0.0.5.zz", "cursor"),
                             ("colour=red", "unknown query parameter 'colour'")):
            body = self.get_json(base + query, status=400)
            self.assertEqual(body["status"], "FAILED")
            self.assertIn(words, body["message"], query)
        # A cursor of one order is refused by another.
        page = self.get_json(base + "sort=hostname&limit=1")
        body = self.get_json(base + "sort=id&limit=1&cursor=" +
                             urllib.parse.quote(page["next_cursor"]), status=400)
        self.assertIn("another order", body["message"])
        self.assertIn("cursor", self.get_json(T % "default" + "/reports?cursor=r1.x",
                                              status=400)["message"])
        self.assertIn("not a device id",
                      self.get_json(T % "default" + "/devices/abc", status=400)["message"])

    def test_6_tenant_isolation(self):
        did = self.device_id(self.devs[0])
        rid = int(self.pg.scalar("SELECT max(id) FROM rum_reports", db=self.db))
        for path in ("/devices", "/devices/%d" % did, "/devices/%d/reports" % did, "/reports",
                     "/reports/%d" % rid, "/reports/%d/raw" % rid):
            self.get(T % "default" + path, token=self.other, status=404)
        # The other tenant's own lists are empty, and its paths do not reach
        # the default tenant's rows.
        self.assertEqual(self.get_json(T % "other" + "/devices", token=self.other)["devices"],
                         [])
        self.get(T % "other" + "/devices/%d" % did, token=self.admin, status=404)
        self.get(T % "other" + "/reports/%d/raw" % rid, token=self.admin, status=404)
        self.get(T % "default" + "/devices", token="rumd_" + "0" * 64, status=401)

    def test_7_export_then_ack_moves_the_state(self):
        tmp = rt.make_tempdir("inventory-")
        dev = rt.Device("C8000V", hostname="inv-acked")
        self.assertEqual(self.rumd.post(rt.pi_path("default"),
                                        dev.usage([dev.report(), dev.report()])).status, 200)
        did = self.device_id(dev)
        proc = self.cli("export", "--tenant", "default", "--device", str(did), "-o", tmp)
        path = re.search(r" to (\S+UD_SA_\S+\.tar\.gz)", proc.stdout).group(1)
        d = self.get_json(T % "default" + "/devices/%d" % did)
        self.assertEqual(d["reports"], {"stored": 2, "not_exported": 0,
                                        "exported_unacknowledged": 2})
        self.assertEqual(d["state"], "ack_pending")
        self.assertIsNotNone(d["ack_pending_since"])
        self.assertIsNotNone(d["last_export"])
        pending = self.get_json(T % "default" + "/devices?state=ack_pending")["devices"]
        self.assertEqual([x["id"] for x in pending], [did])
        for r in d["recent_reports"]:
            self.assertEqual((r["state"], r["export_batch"]), ("exported", d["last_export"]["id"]))
        acks = os.path.join(tmp, "acks")
        sim = subprocess.run([sys.executable, CSSM_SIM, "ack", path, "-o", acks,
                              "--reporting-days", "14"], capture_output=True, text=True,
                             timeout=300)
        self.assertEqual(sim.returncode, 0, sim.stderr)
        self.cli("import", os.path.join(acks, "ACK_" + os.path.basename(path)))
        d = self.get_json(T % "default" + "/devices/%d" % did)
        self.assertEqual(d["reports"], {"stored": 2, "not_exported": 0,
                                        "exported_unacknowledged": 0})
        self.assertIsNone(d["ack_pending_since"])
        self.assertIsNotNone(d["last_ack"])
        self.assertFalse(d["last_ack"]["delivered"])
        self.assertFalse(d["policy"]["cisco_default"])
        self.assertEqual((d["policy"]["first_report_days"], d["policy"]["ongoing_reporting_days"],
                          d["policy"]["report_on_change_days"]), (14, 14, 14))
        # Acknowledged, nothing new since: the next report is due 14 days
        # after the ACK (ongoing reporting).
        self.assertEqual(iso(d["next_deadline"]) - iso(d["last_acknowledged_at"]),
                         datetime.timedelta(days=14))
        self.assertEqual(d["state"], "due_soon")
        for r in d["recent_reports"]:
            self.assertEqual(r["state"], "acknowledged")
        due = self.get_json(T % "default" + "/devices?state=due&due_days=15")["devices"]
        self.assertIn(did, [x["id"] for x in due])
        self.assertNotIn(did, [x["id"] for x in self.get_json(
            T % "default" + "/devices?state=due&due_days=13")["devices"]])
        # Usage that arrives after the ACK is a change: due within the
        # report-on-change days of it, unless the ongoing deadline is sooner.
        self.pg.psql("UPDATE device_inventory SET last_ack_at = now() - interval '10 days', "
                     "unacked_since = NULL WHERE device_id = %d" % did, db=self.db)
        self.assertEqual(self.rumd.post(rt.pi_path("default"),
                                        dev.usage([dev.report()])).status, 200)
        d = self.get_json(T % "default" + "/devices/%d" % did)
        self.assertEqual(iso(d["next_deadline"]) - iso(d["last_acknowledged_at"]),
                         datetime.timedelta(days=14), "the ongoing deadline is sooner")

    def test_8_deadline_rules_with_fixed_clocks(self):
        def deadline(first, unacked, ack, days):
            lit = lambda t: "NULL" if t is None else "'%s'::timestamptz" % t
            d = ", ".join("NULL" if v is None else str(v) for v in days)
            return self.pg.scalar(
                "SELECT to_char(rum_deadline(%s, %s, %s, %s) AT TIME ZONE 'UTC', "
                "'YYYY-MM-DD HH24:MI')" % (lit(first), lit(unacked), lit(ack), d), db=self.db)
        t0 = "2026-01-01 00:00+00"
        # Never reported: nothing is due.
        self.assertEqual(deadline(None, None, None, (None, None, None)), "")
        # First report, Cisco default (90 days), or the policy's days; 0: none.
        self.assertEqual(deadline(t0, t0, None, (None, None, None)), "2026-04-01 00:00")
        self.assertEqual(deadline(t0, t0, None, (30, 365, 90)), "2026-01-31 00:00")
        self.assertEqual(deadline(t0, t0, None, (0, 365, 90)), "")
        # Ongoing: last ACK + ongoing days; nothing unacknowledged.
        self.assertEqual(deadline(t0, None, "2026-02-01 00:00+00", (30, 365, 90)),
                         "2027-02-01 00:00")
        self.assertEqual(deadline(t0, None, "2026-02-01 00:00+00", (30, 0, 90)), "")
        # On change: usage since the ACK is due within the change days,
        # unless the ongoing deadline comes first.
        self.assertEqual(deadline(t0, "2026-03-01 00:00+00", "2026-02-01 00:00+00",
                                  (30, 365, 90)), "2026-05-30 00:00")
        self.assertEqual(deadline(t0, "2026-03-01 00:00+00", "2026-02-01 00:00+00",
                                  (30, 30, 90)), "2026-03-03 00:00")
        self.assertEqual(deadline(t0, "2026-03-01 00:00+00", "2026-02-01 00:00+00",
                                  (30, 0, 0)), "")

    def test_9_never_reported_and_overdue_filters(self):
        # A device that only said hello has reported nothing.
        dev = rt.Device("C9500-48Y4C", hostname="inv-silent")
        self.assertEqual(self.rumd.post(rt.pi_path("default"), dev.hello()).status, 200)
        did = self.device_id(dev)
        never = self.get_json(T % "default" + "/devices?state=never_reported")["devices"]
        self.assertEqual([d["id"] for d in never], [did])
        self.assertEqual(never[0]["state"], "never_reported")
        self.assertIsNone(never[0]["next_deadline"])
        # A first report 91 days ago, never acknowledged, is overdue.
        late = self.devs[2]
        lid = self.device_id(late)
        self.pg.psql("UPDATE device_inventory SET first_report_at = now() - interval '91 days' "
                     "WHERE device_id = %d" % lid, db=self.db)
        over = self.get_json(T % "default" + "/devices?state=overdue")["devices"]
        self.assertEqual([d["id"] for d in over], [lid])
        self.assertEqual(over[0]["state"], "overdue")
        first = self.get_json(T % "default" + "/devices?sort=deadline&limit=1")["devices"]
        self.assertEqual(first[0]["id"], lid, "soonest deadline first")

    def test_9a_overview_counts_what_the_lists_show(self):
        """The overview's counts equal the lengths of the filtered lists, its
        deadlines are the soonest not passed, and another tenant is apart."""
        for due_days in (None, 400):
            query = "?due_days=%d" % due_days if due_days else ""
            body = self.get_json(T % "default" + "/overview" + query)
            self.assertEqual(body["due_days"], due_days or 30)
            counts = body["devices"]
            extra = {"due_days": str(due_days)} if due_days else {}
            for state, key in (("all", "total"), ("overdue", "overdue"), ("due", "due_soon"),
                               ("ack_pending", "ack_pending"),
                               ("never_reported", "never_reported"),
                               ("failing", "collection_failing")):
                ids, _ = self.walk(dict(extra, state=state), 50)
                self.assertEqual(counts[key], len(ids), state)
            self.assertGreater(counts["total"], 0)
            self.assertEqual(counts["contacted_last_day"], counts["total"])
        self.assertGreater(counts["due_soon"], 0, "a first report's deadline is 90 days on")
        self.assertEqual(body["alerts"]["open"], int(self.pg.scalar(
            "SELECT count(*) FROM alerts a JOIN tenants t ON t.id = a.tenant_id "
            "WHERE t.name = 'default' AND a.resolved_at IS NULL", db=self.db)))
        soonest = [d["next_deadline"] for d in body["next_deadlines"]]
        self.assertEqual(soonest, sorted(soonest))
        self.assertLessEqual(len(soonest), 10)
        by_deadline, _ = self.walk({"sort": "deadline", "state": "due", "due_days": "3650"}, 50)
        self.assertEqual([d["device_id"] for d in body["next_deadlines"]], by_deadline[:10])
        other = self.get_json(T % "other" + "/overview", token=self.other)
        self.assertEqual(other["devices"]["total"], 0)
        self.assertEqual(other["next_deadlines"], [])
        self.get(T % "default" + "/overview", token=self.other, status=404)
        self.assertIn("due_days", self.get_json(T % "default" + "/overview?due_days=x",
                                                status=400)["message"])
        self.assertIn("unknown query parameter", self.get_json(
            T % "default" + "/overview?state=overdue", status=400)["message"])

    def test_9b_a_large_tenant_reads_the_upkeeps_overview(self):
        """With overview_live_max_devices at 1 every tenant counts as large:
        its overview is the upkeep's snapshot, says when it was counted, and
        holds what a live count gives; another due window is counted live."""
        live = self.get_json(T % "default" + "/overview")
        self.assertIsNone(live["as_of"], "the class's rumd counts this small tenant live")
        r = self.start_rumd(database_url=self.url,
                            flags={"overview_live_max_devices": 1, "upkeep_interval_s": 1})
        headers = {"Authorization": "Bearer " + self.reader}
        seen = []

        def open_alerts():
            return int(self.pg.scalar(
                "SELECT count(*) FROM alerts a JOIN tenants t ON t.id = a.tenant_id "
                "WHERE t.name = 'default' AND a.resolved_at IS NULL", db=self.db))

        def snapshot():
            # This rumd's upkeep also evaluates alerts: wait for a snapshot
            # counted after that.
            reply = r.get(T % "default" + "/overview", headers)
            seen.append(reply)
            return (reply.status == 200 and reply.json["as_of"] and
                    reply.json["alerts"]["open"] == open_alerts())
        rt.wait_for(snapshot, timeout=30, what="an overview from the upkeep's snapshot")
        body = seen[-1].json
        self.assertEqual(body["devices"], live["devices"])
        self.assertEqual(body["next_deadlines"], live["next_deadlines"])
        other_window = r.get(T % "default" + "/overview?due_days=400", headers).json
        self.assertIsNone(other_window["as_of"])
        self.assertEqual(int(self.pg.scalar("SELECT count(*) FROM overview_snapshots",
                                            db=self.db)), 2, "one per tenant")

    def test_10_cli_device_and_report_verbs(self):
        dev = self.devs[0]
        did = self.device_id(dev)
        out = self.cli("device", "list").stdout
        self.assertTrue(out.startswith("ID "), out)
        self.assertIn(dev.sn, out)
        self.assertIn("inv-core-0", out)
        listing = json.loads(self.cli("device", "list", "--json", "--limit", "2").stdout)
        self.assertEqual(len(listing["devices"]), 2)
        self.assertTrue(listing["next_cursor"])
        more = json.loads(self.cli("device", "list", "--json", "--limit", "2", "--cursor",
                                   listing["next_cursor"]).stdout)
        self.assertFalse({d["id"] for d in more["devices"]} & {d["id"] for d in listing["devices"]})
        # The CLI's --json is the API's shape.
        api = self.get_json(T % "default" + "/devices/%d" % did)
        shown = json.loads(self.cli("device", "show", str(did), "--json").stdout)
        self.assertEqual(shown["usage"], api["usage"])
        self.assertEqual({k: v for k, v in shown.items() if k not in ("recent_reports", "usage")},
                         {k: v for k, v in api.items()
                          if k not in ("recent_reports", "usage", "reports_next_cursor")})
        text = self.cli("device", "show", str(did)).stdout
        for words in ("UDI:               C9300-24P / " + dev.sn, "policy:            Cisco default",
                      "current usage", "newest reports"):
            self.assertIn(words, text)
        rows = self.cli("report", "list", "--device", str(did)).stdout.splitlines()
        self.assertEqual(len(rows), 4, rows)  # header and three reports
        row = int(rows[1].split()[0])
        raw = subprocess.run([rt.rumd_bin(), "report", "show", str(row), "--raw",
                              "--database_url=%s" % self.url], capture_output=True, timeout=60)
        self.assertEqual(raw.returncode, 0, raw.stderr)
        self.assertIn(raw.stdout, self.bodies[0])
        self.assertEqual(raw.stdout, self.get(T % "default" + "/reports/%d/raw" % row).raw)
        self.assertIn("state:         stored", self.cli("report", "show", str(row)).stdout)
        # Bad input: a clear message, exit 1.
        for args, words in ((("device", "list", "--state", "late"), "state: 'late'"),
                            (("device", "list", "--limit", "0"), "--limit"),
                            (("device", "show", "x"), "not an id"),
                            (("device", "show", "999999"), "no device 999999"),
                            (("device", "list", "--tenant", "nope"), "unknown tenant"),
                            (("device", "add"), "rumd target add"),
                            (("report", "show", str(row), "--raw", "--json"), "exclude"),
                            (("report", "list", "--cursor", "zz"), "cursor")):
            proc = self.cli(*args, expect=1)
            self.assertIn(words, proc.stderr, args)


if __name__ == "__main__":
    rt.main()
