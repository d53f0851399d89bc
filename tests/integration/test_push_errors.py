"""Device push endpoint, bad input (PROTOCOL.md 1.2, 1.4): each gets its status
and a one-line {"status":"FAILED","message":...} body, and changes nothing in
the database."""

import json
import socket

import rumtest
from rumtest import Device, pi_path, rum_report, rum_payload, usage_message, sudi


class PushErrors(rumtest.RumTestCase):

    LIMIT = 65536  # max_body_bytes of the small-limit rumd

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.url, cls.db = cls.fresh_database("errors")
        cls.rumd = cls.start_class_rumd(database_url=cls.url)
        rumtest.add_tenant(cls.url, "tenant-a")
        cls.small = cls.start_class_rumd(database_url=cls.url,
                                         flags={"max_body_bytes": str(cls.LIMIT)})
        # Something already stored, so that "nothing changed" is not trivially true.
        dev = Device()
        cls.known_device = dev
        r = cls.rumd.post(pi_path(), dev.usage([dev.report(), dev.report()]))
        assert r.status == 200, r

    def counts(self):
        return rumtest.table_counts(self.pg, db=self.db)

    def assertRejected(self, status, method, path, body=None, headers=None, rumd=None):
        """Sends the request; asserts status, the error body and unchanged tables."""
        rumd = rumd or self.rumd
        before = self.counts()
        r = rumd.request(method, path, body, headers)
        msg = self.assertFailed(r, status)
        self.assertEqual(self.counts(), before, "%s %s changed the database" % (method, path))
        return msg

    # -- not JSON, not an object ---------------------------------------------

    def test_not_json(self):
        cases = {
            "text": b"this is not json",
            "truncated": b'{"sudi":{"udi_pid":"C9300-24P"',
            "trailing garbage": b'{"usage":[]} x',
            "two objects": b"{} {}",
            "single quotes": b"{'a': 1}",
            "empty body": b"",
            "invalid utf-8": b'{"hostname":"\xff\xfe"}',
            "nul byte": b'{"a":"b"}\x00',
        }
        for name, body in cases.items():
            with self.subTest(case=name):
                self.assertRejected(400, "POST", pi_path(), body)

    def test_not_an_object(self):
        for body in (b"[]", b"[{}]", b'"hello"', b"42", b"null", b"true"):
            with self.subTest(body=body):
                self.assertRejected(400, "POST", pi_path(), body)

    # -- bad reports ----------------------------------------------------------

    def bad_reports(self):
        dev = Device()
        good = dev.report()
        no_id = rum_payload(dev.pid, dev.sn, 1)
        del no_id["meta"]["report_id"]
        no_id_b = rum_payload(dev.pid, dev.sn, 1, fmt="B")
        del no_id_b["asset_identification"]["report_id"]
        no_udi = rum_payload(dev.pid, dev.sn, 5)
        del no_udi["asset_identification"]["instance"]
        no_udi_report = rum_report(dev.pid, dev.sn, 5, payload=no_udi)
        del no_udi_report["signature"]["sudi"]
        return dev, good, {
            "payload not JSON": rum_report(dev.pid, dev.sn, 1, payload="not json {"),
            "payload truncated JSON": rum_report(dev.pid, dev.sn, 1, payload=good["payload"][:-1]),
            "payload is a JSON array": rum_report(dev.pid, dev.sn, 1, payload="[1,2,3]"),
            "payload is an empty string": rum_report(dev.pid, dev.sn, 1, payload=""),
            "no report_id (format A)": rum_report(dev.pid, dev.sn, 1, payload=no_id),
            "no report_id (format B)": rum_report(dev.pid, dev.sn, 1, payload=no_id_b),
            "report_id not a number": rum_report(dev.pid, dev.sn, 1, payload=json.dumps(
                rum_payload(dev.pid, dev.sn, "abc"))),
            "payload not a string": dict(good, payload=json.loads(good["payload"])),
            "no UDI anywhere": no_udi_report,
        }

    def test_bad_report_in_usage_array(self):
        dev, good, bad = self.bad_reports()
        for name, report in bad.items():
            with self.subTest(case=name):
                body = {"usage": [report]}
                if name != "no UDI anywhere":
                    body["sudi"] = sudi(dev.pid, dev.sn)
                msg = self.assertRejected(400, "POST", pi_path(), body)
                self.assertNotEqual(msg, "", name)

    def test_bad_report_in_reports_shape(self):
        dev, good, bad = self.bad_reports()
        for name, report in bad.items():
            if name == "no UDI anywhere":
                continue  # the CSSM shape always carries the envelope's sudi
            with self.subTest(case=name):
                self.assertRejected(400, "POST", pi_path(), dev.usage([report]))

    def test_bare_bad_report(self):
        dev, good, bad = self.bad_reports()
        for name in ("payload not JSON", "no report_id (format A)", "no UDI anywhere"):
            with self.subTest(case=name):
                self.assertRejected(400, "POST", pi_path(), bad[name])

    def test_one_good_one_bad_report_stores_nothing(self):
        dev, good, bad = self.bad_reports()
        for order in ("good first", "bad first"):
            with self.subTest(order=order):
                reports = [good, bad["payload not JSON"]]
                if order == "bad first":
                    reports.reverse()
                self.assertRejected(400, "POST", pi_path(), dev.usage(reports))
        # Good report in the first reports[] entry, bad one in the second.
        other = Device()
        entries = [
            {"sudi": sudi(dev.pid, dev.sn), "hostname": "a", "usage": [good]},
            {"sudi": sudi(other.pid, other.sn), "hostname": "b",
             "usage": [other.report(), bad["no report_id (format A)"]]},
        ]
        self.assertRejected(400, "POST", pi_path(), usage_message(dev.pid, dev.sn, [], entries=entries))
        # Nothing of that device reached the database.
        self.assertEqual(self.pg.count("devices", "udi_serial IN ('%s', '%s')" % (dev.sn, other.sn),
                                       db=self.db), 0)
        # The same good report alone is accepted afterwards.
        r = self.rumd.post(pi_path(), dev.usage([good]))
        self.assertOkPoll(r)

    def test_bad_poll_id(self):
        for poll_id in ("abc", "12x", "-5", "", "1e3", None, {"id": 1}, [1], 1.5):
            with self.subTest(poll_id=poll_id):
                self.assertRejected(400, "POST", pi_path(), {"poll_id": poll_id, "nonce": "x"})

    def test_unknown_poll_id(self):
        msg = self.assertRejected(404, "POST", pi_path(), rumtest.poll_message("99999999999"))
        self.assertEqual(msg, "unknown poll_id")

    # -- tenants, methods -----------------------------------------------------

    def test_unknown_tenant(self):
        dev = Device()
        for name, path in (("POST usage", pi_path("no-such-tenant")),
                           ("POST with sub-path", pi_path("no-such-tenant", "x/y")),
                           ("case differs", pi_path("Tenant-A")),
                           ("UTF-8 name", pi_path("inconnu é"))):
            with self.subTest(case=name):
                self.assertRejected(404, "POST", path, dev.usage([dev.report()]))
        self.assertRejected(404, "GET", pi_path("no-such-tenant"))
        self.assertRejected(404, "POST", pi_path("no-such-tenant"), {})

    def test_other_methods(self):
        dev = Device()
        for method in ("PUT", "DELETE", "PATCH", "OPTIONS"):
            for path in (pi_path(), pi_path("tenant-a"), pi_path("tenant-a", "sub")):
                with self.subTest(method=method, path=path):
                    self.assertRejected(405, method, path, dev.usage([dev.report()]))

    # -- size -----------------------------------------------------------------

    def padded_usage(self, size):
        """A valid usage message of exactly `size` bytes (padded with spaces)."""
        dev = Device()
        body = json.dumps(dev.usage([dev.report()])).encode()
        assert len(body) <= size
        return body[:-1] + b" " * (size - len(body)) + b"}"

    def test_body_over_limit(self):
        self.assertRejected(413, "POST", pi_path(), self.padded_usage(self.LIMIT + 1), rumd=self.small)

    def test_body_at_limit_accepted(self):
        r = self.small.post(pi_path(), self.padded_usage(self.LIMIT))
        self.assertOkPoll(r)

    def test_body_over_default_limit(self):
        self.assertRejected(413, "POST", pi_path(), self.padded_usage(16 * 1024 * 1024 + 1))

    def test_chunked_body_over_limit(self):
        before = self.counts()
        body = self.padded_usage(self.LIMIT * 3)
        sock = socket.create_connection(("127.0.0.1", self.small.port), timeout=15)
        try:
            sock.sendall(b"POST /cslu/v1/pi HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
            try:
                for i in range(0, len(body), 8192):
                    chunk = body[i:i + 8192]
                    sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                sock.sendall(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may stop reading once over the limit
            reply = b""
            while True:
                try:
                    data = sock.recv(65536)
                except ConnectionResetError:
                    break
                if not data:
                    break
                reply += data
                if b"\r\n\r\n" in reply and b"}" in reply.split(b"\r\n\r\n", 1)[1]:
                    break
        finally:
            sock.close()
        head, _, payload = reply.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 413"), reply[:500])
        text = payload.decode()
        body_json = json.JSONDecoder().raw_decode(text[text.index("{"):])[0]
        self.assertEqual(body_json.get("status"), "FAILED", reply)
        self.assertEqual(self.counts(), before)


if __name__ == "__main__":
    rumtest.main()
