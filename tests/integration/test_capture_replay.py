"""Captured device messages (PROTOCOL.md 1.6): `rumd capture list|show` show
what rumd kept verbatim, and `rumd replay` processes a captured message again
as if the device had sent it now."""

import json

import rumtest
from rumtest import Device, pi_path, run_rumd


class CaptureReplay(rumtest.RumTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.url, cls.db = cls.fresh_database("capture")
        cls.rumd = cls.start_class_rumd(database_url=cls.url,
                                        flags={"capture_all": "true"})
        rumtest.add_tenant(cls.url, "lab")

    def cli(self, *args):
        return run_rumd(list(args) + ["--database_url=%s" % self.url])

    def scalar(self, sql):
        return self.pg.scalar(sql, db=self.db)

    def test_list_show_and_replay_a_usage_message(self):
        dev = Device()
        body = dev.usage([dev.report(), dev.report()])
        r = self.rumd.post(pi_path(), body)
        self.assertEqual((r.status, r.json["status"]), (200, "OK_POLL"), r)
        cap_id = self.scalar("SELECT max(id) FROM captures WHERE reason = 'capture_all'")

        listed = self.cli("capture", "list", "--tenant", "default")
        self.assertEqual(listed.returncode, 0, listed.stderr)
        self.assertIn("\n%s\t" % cap_id, listed.stdout)

        shown = self.cli("capture", "show", cap_id)
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertIn("reason: capture_all", shown.stdout)
        self.assertEqual(json.loads(shown.stdout.split("\n\n", 1)[1]), body)

        # Replayed into the same tenant: duplicates, nothing new.
        again = self.cli("replay", cap_id)
        self.assertEqual(again.returncode, 0, again.stderr)
        self.assertIn("reports new 0, duplicate 2, conflict 0", again.stdout)

        # Replayed into another tenant: stored there, marked as a replay.
        moved = self.cli("replay", cap_id, "--tenant", "lab")
        self.assertEqual(moved.returncode, 0, moved.stderr)
        self.assertIn("reports new 2", moved.stdout)
        self.assertEqual(self.scalar(
            "SELECT count(*) FROM rum_reports r JOIN tenants t ON t.id = r.tenant_id "
            "WHERE t.name = 'lab' AND r.udi_serial = '%s'" % dev.sn), "2")
        self.assertEqual(self.scalar(
            "SELECT source FROM uploads u JOIN tenants t ON t.id = u.tenant_id "
            "WHERE t.name = 'lab' ORDER BY u.id DESC LIMIT 1"), "replay")
        # A replay is never captured again.
        self.assertEqual(self.scalar("SELECT count(*) FROM captures WHERE id > %s" % cap_id),
                         "0")

    def test_unclassified_message_is_captured_and_replayable(self):
        r = self.rumd.post(pi_path(), {"sudi": {"udi_pid": "C9300-24P",
                                                "udi_serial_number": "FOCREPLAY1"},
                                       "something_new": {"v": 2}})
        self.assertEqual((r.status, r.json["status"]), (200, "OK"), r)
        cap_id = self.scalar("SELECT max(id) FROM captures WHERE reason = 'unclassified'")
        self.assertIsNotNone(cap_id)
        out = self.cli("replay", cap_id)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("as hello", out.stdout)

    def test_bad_arguments(self):
        for args, needle in ((["replay", "999999"], "no capture with id 999999"),
                             (["replay", "abc"], "not a capture id"),
                             (["capture", "list", "--limit", "0"], "--limit"),
                             (["capture", "frob"], "usage")):
            out = self.cli(*args)
            self.assertEqual(out.returncode, 1, (args, out.stdout))
            self.assertIn(needle, out.stderr, args)

    def test_replay_to_unknown_tenant_changes_nothing(self):
        dev = Device()
        self.rumd.post(pi_path(), dev.usage([dev.report()]))
        cap_id = self.scalar("SELECT max(id) FROM captures")
        before = rumtest.table_counts(self.pg, db=self.db)
        out = self.cli("replay", cap_id, "--tenant", "no-such-tenant")
        self.assertEqual(out.returncode, 1)
        self.assertIn("unknown tenant", out.stderr)
        self.assertEqual(rumtest.table_counts(self.pg, db=self.db), before)


if __name__ == "__main__":
    rumtest.main()
