"""Licence usage per tenant and entitlement over the admin API and the CLI:
devices using each entitlement and the total in use now (each device's
newest value), the peak day, and usage per day; counted incrementally by the
serve loop's upkeep (here every second, with no lag) and always equal to a
count from scratch; tenants kept apart; bad dates and parameters 400."""

import calendar
import datetime
import json
import time
import urllib.parse

import rumtest as rt

TAG_A = "regid.2017-03.com.cisco.advantagek9,1.0_bd1da96e-ec1d-412b-a50e-53846b347d53"
TAG_B = "regid.2018-12.com.cisco.DNA_P_50M_A,1.0_100fb8b2-f5cc-459c-9253-ac77b827fd71"
DAY1, DAY2 = "2026-11-01", "2026-11-02"
T = "/api/v1/tenants/%s"


def at(day, hour):
    return calendar.timegm(time.strptime("%s %02d" % (day, hour), "%Y-%m-%d %H"))


class Usage(rt.RumTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.url, cls.db = cls.fresh_database("usage")
        rt.add_tenant(cls.url, "other")
        cls.rumd = cls.start_class_rumd(database_url=cls.url,
                                        flags={"usage_lag_s": 0, "upkeep_interval_s": 1})
        proc = rt.run_rumd(["token", "create", "--role", "reader",
                            "--database_url=%s" % cls.url])
        assert proc.returncode == 0, proc.stderr
        cls.token = proc.stdout.strip()

    def push(self, tenant, dev, *reports):
        body = dev.usage([dev.report(entitlement=tag, value=str(v), start=end - 3600, end=end)
                          for tag, v, end in reports])
        self.assertEqual(self.rumd.post(rt.pi_path(tenant), body).status, 200)

    def get(self, path, status=200):
        reply = self.rumd.get(path, {"Authorization": "Bearer " + self.token})
        self.assertEqual(reply.status, status, reply)
        return reply.json

    def settled(self, tenant="default"):
        """The usage summary once the upkeep has counted what was pushed."""
        since = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = rt.wait_for(lambda: (lambda b: b if b["as_of"] and b["as_of"] > since else None)(
            self.get(T % tenant + "/usage")), 30, interval=0.2, what="usage counted")
        return {e["entitlement_tag"]: e for e in body["entitlements"]}

    def from_scratch(self):
        """usage_tag_day recomputed from the reports, to compare."""
        rows = self.pg.psql(
            "SELECT tenant_id, tag, day, count(*), sum(v) FROM (SELECT tenant_id, device_id, "
            "entitlement_tag AS tag, (coalesce(last_end, received_at) AT TIME ZONE 'UTC')::date "
            "AS day, max(last_value::bigint) AS v FROM rum_reports WHERE conflict_of IS NULL "
            "AND entitlement_tag <> '' AND last_value ~ '^[0-9]+$' GROUP BY 1, 2, 3, 4) x "
            "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3", db=self.db)
        kept = self.pg.psql("SELECT tenant_id, tag, day, devices, total FROM usage_tag_day "
                            "ORDER BY 1, 2, 3", db=self.db)
        return rows, kept

    def test_1_counted_incrementally_and_equal_to_a_count_from_scratch(self):
        d1, d2 = rt.Device("C9300-24P"), rt.Device("C9300-48P")
        self.push("default", d1, (TAG_A, 2, at(DAY1, 10)))
        self.push("default", d2, (TAG_A, 3, at(DAY1, 11)))
        self.push("other", rt.Device("C8000V"), (TAG_A, 100, at(DAY1, 12)))
        now = self.settled()
        self.assertEqual((now[TAG_A]["devices"], now[TAG_A]["in_use"], now[TAG_A]["peak"],
                          now[TAG_A]["peak_day"]), (2, 5, 5, DAY1))
        # Day 2: d1 reports 4, then 7 (the day's largest, and its newest),
        # and B; d2 drops to 0 (it no longer counts as using A).
        self.push("default", d1, (TAG_A, 4, at(DAY2, 9)), (TAG_B, 1, at(DAY2, 9)))
        self.push("default", d1, (TAG_A, 7, at(DAY2, 15)))
        self.push("default", d2, (TAG_A, 0, at(DAY2, 16)))
        now = self.settled()
        self.assertEqual((now[TAG_A]["devices"], now[TAG_A]["in_use"], now[TAG_A]["peak"],
                          now[TAG_A]["peak_day"]), (1, 7, 7, DAY2))
        self.assertEqual((now[TAG_B]["devices"], now[TAG_B]["in_use"]), (1, 1))
        days = self.get(T % "default" + "/usage/daily?" + urllib.parse.urlencode(
            {"tag": TAG_A, "from": DAY1, "to": DAY2}))["days"]
        self.assertEqual([(d["day"], d["devices"], d["in_use"]) for d in days],
                         [(DAY1, 2, 5), (DAY2, 2, 7)])
        other = self.get(T % "other" + "/usage")["entitlements"]
        self.assertEqual([(e["devices"], e["in_use"]) for e in other], [(1, 100)])
        # A report sent again (a duplicate) or a conflicting payload changes
        # nothing; the aggregates equal a count from scratch.
        rows, kept = self.from_scratch()
        self.assertEqual(rows, kept)

    def test_2_bad_queries(self):
        base = T % "default" + "/usage/daily?"
        for query, words in (("from=2026-13-01", "not a date"), ("to=yesterday", "not a date"),
                             ("from=2026-02-30", "not a date"),
                             ("from=2026-05-02&to=2026-05-01", "after"),
                             ("from=2000-01-01&to=2026-01-01", "at most"),
                             ("colour=red", "unknown query parameter"), ("tag=", "tag"),
                             ("tag=%zz", "bad percent escape"), ("tag=a%00b", "bad percent")):
            body = self.get(base + query, status=400)
            self.assertIn(words, body["message"], query)
        self.get("/api/v1/tenants/nope/usage", status=404)

    def test_3_cli(self):
        proc = rt.run_rumd(["usage", "--json", "--database_url=%s" % self.url,
                            "--usage_lag_s=0"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        cli = json.loads(proc.stdout)
        api = self.get(T % "default" + "/usage")
        self.assertEqual(cli["entitlements"], api["entitlements"])
        proc = rt.run_rumd(["usage", "--by-day", "--tag", TAG_A, "--from", DAY1, "--to", DAY2,
                            "--database_url=%s" % self.url])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        lines = proc.stdout.splitlines()
        self.assertTrue(lines[0].startswith("DAY"), lines)
        self.assertEqual([l.split()[:3] for l in lines[1:]], [[DAY1, "2", "5"], [DAY2, "2", "7"]])
        proc = rt.run_rumd(["usage", "--tag", TAG_A, "--database_url=%s" % self.url])
        self.assertEqual(proc.returncode, 1)
        self.assertIn("--by-day", proc.stderr)

    def test_4_progress_on_a_terminal_only(self):
        """A count that waits (here on a lock another session holds) shows its
        progress on a terminal, and nothing when standard error is a pipe."""
        args = ["usage", "--json", "--database_url=%s" % self.url, "--usage_lag_s=0"]
        lock = self.pg.hold_lock("usage_rollup", 2.5, db=self.db)
        rc, out, shown = rt.run_rumd_on_terminal(args)
        lock.wait(10)
        self.assertEqual(rc, 0, shown)
        self.assertIn("counting licence usage: running", shown)
        self.assertRegex(shown, r"counting licence usage: done, [0-9]+ values, [0-9]+\.[0-9] s")
        self.assertIn("entitlements", json.loads(out))
        lock = self.pg.hold_lock("usage_rollup", 1.5, db=self.db)
        proc = rt.run_rumd(args)
        lock.wait(10)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertNotIn("counting", proc.stderr)
        self.assertIn("entitlements", json.loads(proc.stdout))


if __name__ == "__main__":
    rt.main()
