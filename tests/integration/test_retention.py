"""Retention (migration 0016): `rumd prune` and the serve upkeep drop the
payload of reports exported and acknowledged more than
retain_acked_reports_days ago, delete captures and finished collections older
than their windows, and change nothing else anyone reads.

Devices push reports; some are exported and acknowledged (cssm_sim, rumd
import), one is exported without an ACK, one never exported; timestamps are
aged in SQL. Checked: the dry run counts and changes nothing; prune takes
exactly the old acknowledged reports (not the unacknowledged, not the
unexported, not the recently acknowledged), old captures and old collections
(each target keeps its newest); usage, the inventory, export batches and the
reports list read the same after; a device sending a pruned report again
gets a duplicate, not a new row, and nothing is exported again; the raw text
of a pruned report is refused with a reason; the default keeps everything;
serve's upkeep prunes and logs one line per round; pruning in small batches
while devices push loses no push; a negative window is refused by name.
Prints the rum_reports bytes per device before and after pruning."""

import json
import os
import re
import subprocess
import sys
import threading
import time

import rumtest as rt

CSSM_SIM = os.path.join(rt.SOURCE_DIR, "tests", "tools", "cssm_sim.py")
WINDOWS = ["--retain_acked_reports_days=30", "--retain_captures_days=30",
           "--retain_collections_days=30"]


class Device:
    def __init__(self, pid, sn):
        self.pid, self.sn = pid, sn


class Retention(rt.RumTestCase):

    def setUp(self):
        super().setUp()
        self.url, self.db = self.fresh_database("retention")
        self.tmp = rt.make_tempdir("rumtest-retention-", 0o777)

    # -- helpers -------------------------------------------------------------

    def q(self, sql):
        return self.pg.psql(sql, db=self.db)

    def scalar(self, sql):
        return self.pg.scalar(sql, db=self.db)

    def cli(self, *args, expect=0):
        proc = rt.run_rumd(list(args) + ["--database_url=%s" % self.url], timeout=600)
        self.assertEqual(proc.returncode, expect, "rumd %s:\n%s%s" % (
            " ".join(args), proc.stdout, proc.stderr))
        return proc

    def push(self, server, dev, report_ids, value=3, payload_kw=None):
        reports = [rt.rum_report(dev.pid, dev.sn, rid, value=str(value + rid),
                                 end=1700000000 + rid * 3600, **(payload_kw or {}))
                   for rid in report_ids]
        reply = server.post(rt.pi_path(), rt.usage_message(dev.pid, dev.sn, reports))
        self.assertOkPoll(reply)
        return reply

    def device_id(self, dev):
        return int(self.scalar("SELECT id FROM devices WHERE udi_serial = %s"
                               % rt.sql_literal(dev.sn)))

    def export_and_import(self, *args, ack=True):
        out = rt.make_tempdir("rumtest-retention-export-", 0o777)
        proc = self.cli("export", "--tenant", "default", "-o", out, *args)
        path = re.search(r" to (\S+UD_SA_\S+\.tar\.gz)", proc.stdout).group(1)
        if not ack:
            return path
        acks = rt.make_tempdir("rumtest-retention-ack-", 0o777)
        sim = subprocess.run([sys.executable, CSSM_SIM, "ack", path, "-o", acks],
                             capture_output=True, text=True, timeout=300)
        self.assertEqual(sim.returncode, 0, sim.stdout + sim.stderr)
        self.cli("import", os.path.join(acks, "ACK_" + os.path.basename(path)))
        return path

    def wait_usage_counted(self):
        rt.wait_for(lambda: self.scalar(
            "SELECT (SELECT done_id FROM usage_rollup) >= (SELECT coalesce(max(id), 0) "
            "FROM rum_reports)") == "t", 60, what="usage rollup caught up")

    def seen(self):
        """What people read, which pruning must not change."""
        usage = json.loads(self.cli("usage", "--tenant", "default", "--json").stdout)
        usage.pop("as_of", None)
        devices = json.loads(self.cli("device", "list", "--tenant", "default",
                                      "--json").stdout)
        items = devices["devices"] if isinstance(devices, dict) else devices
        for d in items:
            for k in ("last_contact",):
                d.pop(k, None)
        inventory = self.q("SELECT device_id, first_report_at, unacked_since, last_ack_at, "
                           "export_pending_since, next_deadline FROM device_inventory "
                           "ORDER BY device_id")
        batches = self.q("SELECT b.id, b.devices, b.reports, (SELECT count(*) FROM "
                         "export_batch_reports r WHERE r.batch_id = b.id), (SELECT count(*) "
                         "FROM import_acks a WHERE a.export_batch_id = b.id) "
                         "FROM export_batches b ORDER BY b.id")
        reports = self.q("SELECT id, report_id, device_id, acked_at, last_value, "
                         "entitlement_tag FROM rum_reports ORDER BY id")
        return {"usage": usage, "devices": items, "inventory": inventory,
                "batches": batches, "reports": reports}

    def bytes_per_device(self):
        self.q("VACUUM FULL rum_reports")
        size = int(self.scalar("SELECT pg_total_relation_size('rum_reports')"))
        n = int(self.scalar("SELECT count(DISTINCT device_id) FROM rum_reports"))
        return size // max(n, 1)

    # -- tests ---------------------------------------------------------------

    def test_bad_settings_are_refused_by_name(self):
        proc = self.cli("prune", "--retain_acked_reports_days=-1", expect=1)
        self.assertIn("retain_acked_reports_days: -1 is negative", proc.stderr)
        self.assertIn("0 keeps for ever", proc.stderr)
        proc = rt.run_rumd(["check-config", "--retain_captures_days=-7"])
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn("retain_captures_days: -7 is negative", proc.stderr)
        proc = rt.run_rumd(["check-config", "--retention_batch=0"])
        self.assertEqual(proc.returncode, 1)
        self.assertIn("retention_batch", proc.stderr)
        proc = self.cli("prune", "--dry-run", "--tenant", "nosuch", *WINDOWS, expect=1)
        self.assertIn("unknown tenant 'nosuch'", proc.stderr)

    def test_prune_keeps_what_is_read(self):
        server = self.start_rumd(database_url=self.url,
                                 flags={"usage_lag_s": "0", "upkeep_interval_s": "1"})
        d1, d2, d3 = (Device("C9300-24P", "FOCRET0001"), Device("C9300-48P", "FOCRET0002"),
                      Device("C8000V", "9RET000003"))
        for d in (d1, d2, d3):
            self.push(server, d, [1, 2, 3, 4])
        self.export_and_import()                       # r1-4 of all: acknowledged
        self.push(server, d1, [5])                     # never exported
        self.push(server, d2, [5])
        self.export_and_import("--device", str(self.device_id(d2)), ack=False)  # no ACK
        ids = {d.sn: self.device_id(d) for d in (d1, d2, d3)}
        self.assertEqual(int(self.scalar("SELECT count(*) FROM rum_reports WHERE acked_at "
                                         "IS NOT NULL")), 12)
        # Old: the ACKs of d1 and d2 (d3's stay recent), and every receipt.
        self.q("UPDATE rum_reports SET acked_at = acked_at - interval '40 days' "
               "WHERE device_id IN (%d, %d) AND acked_at IS NOT NULL" % (ids[d1.sn], ids[d2.sn]))
        self.q("UPDATE rum_reports SET received_at = received_at - interval '60 days'")
        self.q("UPDATE device_inventory SET last_ack_at = last_ack_at - interval '40 days' "
               "WHERE device_id IN (%d, %d)" % (ids[d1.sn], ids[d2.sn]))
        # Captures: two old, one recent. Collections: target A has two old and
        # one recent, target B one old (its newest, so kept).
        self.q("INSERT INTO captures (tenant_name, method, path, body, reason, received_at) "
               "VALUES ('default', 'POST', '/cslu/v1/pi', 'old1', 'unclassified', "
               "now() - interval '45 days'), ('default', 'POST', '/cslu/v1/pi', 'old2', "
               "'unclassified', now() - interval '31 days'), ('default', 'POST', "
               "'/cslu/v1/pi', 'new', 'unclassified', now() - interval '2 days')")
        tenant = int(self.scalar("SELECT id FROM tenants WHERE name = 'default'"))
        for host in ("a.example", "b.example"):
            self.q("INSERT INTO pull_targets (tenant_id, host, port, protocol, username, "
                   "auth, secret) VALUES (%d, '%s', 830, 'netconf', 'u', 'password', "
                   "'\\x00')" % (tenant, host))
        for host, days in (("a.example", 60), ("a.example", 50), ("a.example", 1),
                           ("b.example", 70)):
            self.q("INSERT INTO collection_jobs (target_id, trigger, due_at, state, "
                   "finished_at) SELECT id, 'manual', now(), 'ok', now() - interval '%d days' "
                   "FROM pull_targets WHERE host = '%s'" % (days, host))
        self.wait_usage_counted()
        before = self.seen()
        size_before = self.bytes_per_device()

        # The default keeps everything.
        proc = self.cli("prune")
        self.assertIn("retention is off", proc.stdout)
        self.assertEqual(self.seen(), before)

        # Dry run: counts, changes nothing.
        proc = self.cli("prune", "--dry-run", *WINDOWS)
        self.assertRegex(proc.stdout, r"would prune\treports\t8\t")
        self.assertRegex(proc.stdout, r"would prune\tcaptures\t2\t")
        self.assertRegex(proc.stdout, r"would prune\tcollections\t2\t")
        self.assertEqual(int(self.scalar("SELECT count(*) FROM rum_reports WHERE pruned_at "
                                         "IS NOT NULL")), 0)
        self.assertEqual(int(self.scalar("SELECT count(*) FROM captures")), 3)

        proc = self.cli("prune", "--tenant", "default", "--retention_batch=3", *WINDOWS)
        print("\nrumd prune:\n" + proc.stdout, file=sys.stderr)
        self.assertRegex(proc.stdout, r"pruned\treports\t8\t")
        self.assertRegex(proc.stdout, r"pruned\tcaptures\t2\t")
        self.assertRegex(proc.stdout, r"pruned\tcollections\t2\t")
        pruned = self.q("SELECT device_id, report_id FROM rum_reports WHERE pruned_at IS NOT "
                        "NULL AND report = '' ORDER BY 1, 2")
        self.assertEqual(pruned, [[str(ids[s]), str(r)] for s in (d1.sn, d2.sn)
                                  for r in (1, 2, 3, 4)])
        kept = self.q("SELECT device_id, report_id FROM rum_reports WHERE pruned_at IS NULL "
                      "AND report <> '' ORDER BY 1, 2")
        self.assertEqual(kept, [[str(ids[d1.sn]), "5"], [str(ids[d2.sn]), "5"]] +
                         [[str(ids[d3.sn]), str(r)] for r in (1, 2, 3, 4)])
        self.assertEqual(self.q("SELECT body FROM captures"), [["\\x6e6577"]])
        self.assertEqual(self.q("SELECT t.host, now() - j.finished_at < interval '55 days' "
                                "FROM collection_jobs j JOIN pull_targets t ON "
                                "t.id = j.target_id ORDER BY j.id"),
                         [["a.example", "t"], ["b.example", "f"]])
        after = self.seen()
        self.assertEqual(after, before)
        size_after = self.bytes_per_device()
        print("rum_reports bytes per device (3 devices, 14 reports, 8 pruned): "
              "%d before, %d after" % (size_before, size_after), file=sys.stderr)
        self.assertLess(size_after, size_before)

        # A second run finds nothing.
        proc = self.cli("prune", *WINDOWS)
        self.assertRegex(proc.stdout, r"pruned\treports\t0\t")

        # The reports list still shows them, with when the payload went.
        listed = json.loads(self.cli("report", "list", "--tenant", "default", "--device",
                                     str(ids[d1.sn]), "--json").stdout)
        items = listed["reports"] if isinstance(listed, dict) else listed
        self.assertEqual(sorted(r["report_id"] for r in items if r["pruned_at"]), [1, 2, 3, 4])
        self.assertTrue(all(r["state"] == "acknowledged" for r in items if r["pruned_at"]))
        row = self.scalar("SELECT id FROM rum_reports WHERE device_id = %d AND report_id = 1"
                          % ids[d1.sn])
        proc = self.cli("report", "show", row, "--tenant", "default", "--raw", expect=1)
        self.assertIn("payload was pruned", proc.stderr)

        # The device sends a pruned report again (it never got its ACK): a
        # duplicate counted on the kept row, no new row, nothing exported again.
        rows = int(self.scalar("SELECT count(*) FROM rum_reports"))
        self.push(server, d1, [1, 2])
        self.assertEqual(int(self.scalar("SELECT count(*) FROM rum_reports")), rows)
        self.assertEqual(self.q("SELECT report_id, duplicates FROM rum_reports WHERE "
                                "device_id = %d AND report_id IN (1, 2) ORDER BY 1"
                                % ids[d1.sn]), [["1", "1"], ["2", "1"]])
        out = rt.make_tempdir("rumtest-retention-export-", 0o777)
        proc = self.cli("export", "--tenant", "default", "-o", out)
        self.assertIn("exported 2 reports of 2 devices", proc.stdout)   # d1 r5, d2 r5
        proc = self.cli("export", "--tenant", "default", "-o", out, "--all")
        self.assertIn("exported 6 reports of 3 devices", proc.stdout)   # pruned ones left out
        # A different payload for a pruned report id is a conflict kept beside it.
        self.push(server, d1, [3], value=40)
        self.assertEqual(int(self.scalar("SELECT count(*) FROM rum_reports")), rows + 1)
        self.assertEqual(int(self.scalar(
            "SELECT count(*) FROM alerts WHERE kind = 'report_conflict'")), 1)

    def test_upkeep_prunes_while_devices_push(self):
        server = self.start_rumd(database_url=self.url,
                                 flags={"usage_lag_s": "0", "upkeep_interval_s": "1"})
        fleet = [Device("C9300-24P", "FOCBULK%03d" % i) for i in range(12)]
        for d in fleet:
            for chunk in range(0, 40, 10):
                self.push(server, d, range(1, 41)[chunk:chunk + 10])
        self.export_and_import()
        self.q("UPDATE rum_reports SET acked_at = acked_at - interval '40 days'")
        self.wait_usage_counted()
        before = self.seen()
        size_before = self.bytes_per_device()
        server.stop()

        # serve with retention on, small batches, while the fleet pushes new
        # reports: every 2xx push is stored and none of them is pruned.
        server = self.start_rumd(database_url=self.url,
                                 flags={"usage_lag_s": "0", "upkeep_interval_s": "1",
                                        "retain_acked_reports_days": "30",
                                        "retention_batch": "7"})
        stored, errors = [], []

        def pusher(devs):
            try:
                for rid in range(41, 61):
                    for d in devs:
                        self.push(server, d, [rid])
                        stored.append((d.sn, rid))
            except Exception as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=pusher, args=(fleet[i::3],)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        rt.wait_for(lambda: self.scalar("SELECT count(*) FROM rum_reports WHERE pruned_at "
                                        "IS NULL AND acked_at IS NOT NULL") == "0", 60,
                    what="the upkeep pruned every old acknowledged report")
        self.assertEqual(int(self.scalar("SELECT count(*) FROM rum_reports WHERE pruned_at "
                                         "IS NOT NULL")), 12 * 40)
        got = {tuple(r) for r in self.q(
            "SELECT d.udi_serial, r.report_id FROM rum_reports r JOIN devices d ON "
            "d.id = r.device_id WHERE r.report_id > 40 AND r.pruned_at IS NULL "
            "AND r.report <> ''")}
        self.assertEqual(got, {(sn, str(rid)) for sn, rid in stored})
        self.assertEqual(len(stored), 12 * 20)
        log = server.log()
        self.assertRegex(log, r"upkeep: retention: pruned \d+ report payloads, 0 captures, "
                              r"0 collections in \d+ ms")
        total = sum(int(n) for n in re.findall(r"upkeep: retention: pruned (\d+) report", log))
        self.assertEqual(total, 12 * 40)
        # What was there before reads the same; the new pushes only add.
        after = self.seen()
        self.assertEqual(after["batches"], before["batches"])
        self.assertEqual([r for r in after["reports"] if int(r[1]) <= 40], before["reports"])
        self.assertEqual(before["inventory"][0][1], after["inventory"][0][1])  # first report
        self.assertEqual([r[3] for r in after["inventory"]],
                         [r[3] for r in before["inventory"]])                # last ACK
        server.stop()
        size_after = self.bytes_per_device()
        print("\nrum_reports bytes per device (12 devices x 60 reports, 40 of them pruned): "
              "%d before pruning (40 reports), %d after (60 reports)"
              % (size_before, size_after), file=sys.stderr)

if __name__ == "__main__":
    rt.main()
