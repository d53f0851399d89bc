"""The integration harness itself: the throwaway PostgreSQL cluster and the
device message builders (no rumd needed)."""

import json
import os
import unittest

import rumtest


class Harness(unittest.TestCase):

    def test_cluster_lifecycle(self):
        pg = rumtest.PgCluster()
        try:
            pg.start()
            self.assertTrue(pg.url.startswith("postgresql://postgres@127.0.0.1:%d/" % pg.port))
            self.assertEqual(pg.psql("SHOW fsync"), [["on"]])
            self.assertEqual(pg.psql("SELECT 'a,b', E'x\\ny', NULL, 'é'"), [["a,b", "x\ny", "", "é"]])
            pg.psql("CREATE TABLE t (b bytea, s text); "
                    "INSERT INTO t VALUES (decode('00ff0a', 'hex'), E' sp\\r\\n')")
            self.assertEqual(pg.fetch_bytes("SELECT b FROM t"), [b"\x00\xff\n"])
            self.assertEqual(pg.text_bytes("SELECT s FROM t"), [b" sp\r\n"])
            url = pg.create_database("other")
            self.assertTrue(url.endswith("/other"))
            pg.stop()
            self.assertIsNone(pg.psql("SELECT 1", check=False))
            pg.start()
            self.assertEqual(pg.count("t"), 1, "data survives a restart")
            if os.geteuid() == 0:
                with open(os.path.join(pg.datadir, "postmaster.pid")) as f:
                    pid = int(f.readline())
                self.assertNotEqual(rumtest.pid_uid(pid), 0)
            top = pg.dir
        finally:
            pg.cleanup()
        self.assertFalse(os.path.exists(top))

    def test_builders(self):
        dev = rumtest.Device(pid="C8000V")
        for fmt in ("A", "B"):
            rep = dev.report(report_id=42, fmt=fmt)
            payload = json.loads(rep["payload"])
            self.assertEqual(rumtest.report_id_of(rep), 42)
            self.assertEqual(payload["asset_identification"]["instance"]["sudi"],
                             {"udi_pid": "C8000V", "udi_serial_number": dev.sn})
            self.assertEqual(payload.get("version"), "2.0" if fmt == "B" else None)
        msg = dev.usage([dev.report()])
        self.assertEqual(msg["reports"][0]["sudi"]["udi_serial_number"], dev.sn)
        self.assertEqual(rumtest.pi_path("CUBE Regression/1", "a/b"),
                         "/cslu/v1/pi/CUBE%20Regression%2F1/a/b")
        fixture = rumtest.shared_dir()
        if fixture:
            real = json.loads(rumtest.fixture_bytes("rum/format-a-c8000v-17.06.02.json"))
            built = rumtest.rum_payload("C8000V", "abcdef123456", 1646687408)
            self.assertEqual(sorted(json.loads(real["payload"])), sorted(built))


if __name__ == "__main__":
    rumtest.main()
