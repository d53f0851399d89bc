"""Device push endpoint (PROTOCOL.md 1.2-1.6): every message kind and its reply,
tenants, sub-paths, captures, byte-exact report storage and device upserts."""

import base64
import json
import threading
import time

import rumtest
from rumtest import (Device, pi_path, usage_array_message,
                     poll_message, trust_message, authorization_message,
                     sql_literal)


class PushKinds(rumtest.RumTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.url, cls.db = cls.fresh_database("kinds")
        cls.rumd = cls.start_class_rumd(database_url=cls.url)
        for name in ("tenant-a", "tenant-b", "CUBE Regression Mirabile-1",
                     "Zürich Ñandú 東京 ✓", "Sub Path"):
            rumtest.add_tenant(cls.url, name)

    def q(self, sql):
        return self.pg.psql(sql, db=self.db)

    def scalar(self, sql):
        return self.pg.scalar(sql, db=self.db)

    def tenant_id(self, name):
        return self.scalar("SELECT id FROM tenants WHERE name = %s" % sql_literal(name))

    def device_id(self, dev, tenant="default"):
        return self.scalar(
            "SELECT d.id FROM devices d JOIN tenants t ON t.id = d.tenant_id "
            "WHERE t.name = %s AND d.udi_pid = %s AND d.udi_serial = %s"
            % (sql_literal(tenant), sql_literal(dev.pid), sql_literal(dev.sn)))

    # -- hello ----------------------------------------------------------------

    def test_hello_empty_object(self):
        r = self.rumd.post(pi_path(), {})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json.get("status"), "OK", r)
        self.assertConnectInfo(r.json)

    def test_hello_sudi_only(self):
        dev = Device()
        r = self.rumd.post(pi_path(), {"sudi": rumtest.sudi(dev.pid, dev.sn)})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json.get("status"), "OK", r)
        self.assertConnectInfo(r.json)
        self.assertFalse(r.json.get("acknowledgements"), r)

    def test_hello_with_envelope(self):
        dev = Device()
        r = self.rumd.post(pi_path("tenant-a"), dev.hello())
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json.get("status"), "OK", r)
        self.assertConnectInfo(r.json)

    def test_get_answers_like_hello(self):
        for path in (pi_path(), pi_path("tenant-a"), pi_path("tenant-b", "x/y")):
            with self.subTest(path=path):
                r = self.rumd.get(path)
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json.get("status"), "OK", r)
                self.assertConnectInfo(r.json)

    def test_hello_delivers_waiting_ack(self):
        dev = Device()
        self.assertOkPoll(self.rumd.post(pi_path(), dev.usage([dev.report()])))
        ack = b"<smartLicense><smartLicenseRumAck>hello-path</smartLicenseRumAck></smartLicense>\n"
        ack_id = self.insert_ack(dev, ack)
        r = self.rumd.post(pi_path(), dev.hello())
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json.get("status"), "OK", r)
        acks = r.json.get("acknowledgements")
        self.assertEqual(len(acks or []), 1, r)
        self.assertEqual(base64.b64decode(acks[0]["smart_license"]), ack)
        self.assertEqual(self.scalar("SELECT delivered_at IS NOT NULL FROM acks WHERE id = %s" % ack_id), "t")
        self.assertEqual(self.scalar("SELECT via FROM ack_deliveries WHERE ack_id = %s" % ack_id), "hello")

    # -- usage ----------------------------------------------------------------

    def test_usage_reports_shape(self):
        dev = Device(pid="C9300-24P", hostname="sw-core-1")
        rep_a = dev.report(fmt="A", value="3", start=1700000000, end=1700003600)
        rep_b = dev.report(fmt="B", entitlement=rumtest.ENTITLEMENT_NETWORK,
                           software_version="17.09.04a", value="7")
        before = time.time() * 1000
        r = self.rumd.post(pi_path(), dev.usage([rep_a, rep_b], nonce="nonce-123"))
        poll_id = self.assertOkPoll(r, nonce="nonce-123")
        self.assertIsInstance(r.json.get("timestamp"), int, r)
        self.assertGreater(r.json["timestamp"], before - 24 * 3600 * 1000, "timestamp is not in ms")
        self.assertConnectInfo(r.json)

        up = self.q("SELECT kind, device_id IS NOT NULL, source, t.name FROM uploads u "
                    "JOIN tenants t ON t.id = u.tenant_id WHERE u.poll_id = %s" % poll_id)
        self.assertEqual(up, [["usage", "t", "push", "default"]])
        rows = self.q(
            "SELECT report_id, format, udi_pid, udi_serial, entitlement_tag, software_version, "
            "metric_name, last_value, extract(epoch FROM first_start)::bigint, "
            "extract(epoch FROM last_end)::bigint, conflict_of IS NULL, device_id = %s "
            "FROM rum_reports WHERE upload_id = (SELECT id FROM uploads WHERE poll_id = %s) ORDER BY report_id"
            % (self.device_id(dev), poll_id))
        self.assertEqual(rows, [
            [str(rumtest.report_id_of(rep_a)), "A", dev.pid, dev.sn, rumtest.ENTITLEMENT_DNA,
             "17.06.02", "ENTITLEMENT", "3", "1700000000", "1700003600", "t", "t"],
            [str(rumtest.report_id_of(rep_b)), "B", dev.pid, dev.sn, rumtest.ENTITLEMENT_NETWORK,
             "17.09.04a", "ENTITLEMENT", "7", "1657549046", "1657550382", "t", "t"],
        ])

    def test_usage_array_shape(self):
        dev = Device(fmt="B")
        reps = [dev.report() for _ in range(3)]
        r = self.rumd.post(pi_path(), usage_array_message(reps, dev.pid, dev.sn,
                                                          hostname=dev.hostname, nonce="n-arr"))
        poll_id = self.assertOkPoll(r, nonce="n-arr")
        self.assertEqual(self.scalar("SELECT count(*) FROM rum_reports WHERE upload_id = (SELECT id FROM uploads WHERE poll_id = %s)" % poll_id), "3")
        ids = sorted(str(rumtest.report_id_of(x)) for x in reps)
        got = [row[0] for row in self.q("SELECT report_id FROM rum_reports WHERE upload_id = (SELECT id FROM uploads WHERE poll_id = %s) "
                                        "ORDER BY report_id" % poll_id)]
        self.assertEqual(got, ids)

    def test_usage_array_without_envelope(self):
        # The UDI comes from each payload's instance.sudi.
        dev = Device()
        rep = dev.report()
        poll_id = self.assertOkPoll(self.rumd.post(pi_path(), {"usage": [rep]}))
        self.assertEqual(self.q("SELECT udi_pid, udi_serial FROM rum_reports WHERE upload_id = (SELECT id FROM uploads WHERE poll_id = %s)" % poll_id),
                         [[dev.pid, dev.sn]])

    def test_bare_report(self):
        dev = Device()
        rep = dev.report()
        poll_id = self.assertOkPoll(self.rumd.post(pi_path(), rep))
        self.assertEqual(self.q("SELECT report_id, udi_pid, udi_serial FROM rum_reports "
                                "WHERE upload_id = (SELECT id FROM uploads WHERE poll_id = %s)" % poll_id),
                         [[str(rumtest.report_id_of(rep)), dev.pid, dev.sn]])

    def test_real_device_report_fixture(self):
        raw = rumtest.fixture_bytes("rum/format-a-c8000v-17.06.02.json").strip()
        body = b'{"usage":[' + raw + b']}'
        poll_id = self.assertOkPoll(self.rumd.post(pi_path("tenant-b"), body))
        rows = self.q(
            "SELECT report_id, format, udi_pid, udi_serial, entitlement_tag, software_version, "
            "metric_name, last_value, extract(epoch FROM first_start)::bigint, "
            "extract(epoch FROM last_end)::bigint FROM rum_reports WHERE upload_id = (SELECT id FROM uploads WHERE poll_id = %s)" % poll_id)
        self.assertEqual(rows, [["1646687408", "A", "C8000V", "abcdef123456", rumtest.ENTITLEMENT_DNA,
                                 "17.06.02", "ENTITLEMENT", "1", "1657549046", "1657550382"]])
        stored = self.pg.text_bytes("SELECT report FROM rum_reports WHERE upload_id = (SELECT id FROM uploads WHERE poll_id = %s)" % poll_id,
                                    db=self.db)
        self.assertEqual(stored, [raw])

    # -- byte-exact storage ---------------------------------------------------

    def test_reports_stored_byte_exact(self):
        dev = Device()
        rid = dev.next_id + 500
        payload = json.dumps(rumtest.rum_payload(dev.pid, dev.sn, rid), separators=(", ", " : "),
                             ensure_ascii=True)
        # The payload string as a device might escape it: \u escapes, \/ and
        # spacing that a re-serialiser would change.
        payload_json = json.dumps(payload).replace("/", "\\/").replace("C", "\\u0043", 1)
        report_1 = ('{ "signature" :{"sudi":{"udi_pid":"%s","udi_serial_number":"%s"},\n'
                    '\t"signing_type":"builtin","key":"k\\u00e9y \u00e9", "value":"v=="} ,\n'
                    '  "payload"\t:\t%s ,"header": {  "type" : "rum" }\r\n}' % (dev.pid, dev.sn, payload_json))
        payload2 = json.dumps(rumtest.rum_payload(dev.pid, dev.sn, rid + 1, fmt="B"))
        report_2 = '{"payload":%s,"signature":{"value":"\\ud83d\\ude00 x"},"extra":[1.0,2e3,  null]}' % json.dumps(payload2)
        body = ('\n {"sudi":{"udi_pid":"%s","udi_serial_number":"%s"},"reports":[ {"hostname":"h\\u00f6st",'
                '"usage" : [ %s ,\n\n%s\t] } ] , "nonce":"n\\"q" }  \n' % (dev.pid, dev.sn, report_1, report_2))
        poll_id = self.assertOkPoll(self.rumd.post(pi_path(), body.encode("utf-8")), nonce='n"q')
        stored = self.pg.text_bytes("SELECT report FROM rum_reports WHERE upload_id = (SELECT id FROM uploads WHERE poll_id = %s) "
                                    "ORDER BY report_id" % poll_id, db=self.db)
        self.assertEqual(stored, [report_1.encode("utf-8"), report_2.encode("utf-8")])
        self.assertEqual(self.q("SELECT report_id, format FROM rum_reports WHERE upload_id = (SELECT id FROM uploads WHERE poll_id = %s) "
                                "ORDER BY report_id" % poll_id), [[str(rid), "A"], [str(rid + 1), "B"]])

    def test_bare_report_stored_byte_exact(self):
        dev = Device()
        rep = dev.report()
        text = ' \r\n{"payload" : %s,   "signature":%s}\n\n' % (
            json.dumps(rep["payload"], ensure_ascii=True), json.dumps(rep["signature"], indent=3))
        poll_id = self.assertOkPoll(self.rumd.post(pi_path(), text.encode()))
        stored = self.pg.text_bytes("SELECT report FROM rum_reports WHERE upload_id = (SELECT id FROM uploads WHERE poll_id = %s)" % poll_id,
                                    db=self.db)
        self.assertEqual(stored, [text.strip().encode()])

    # -- devices --------------------------------------------------------------

    def test_device_upsert(self):
        dev = Device(pid="C8000V", hostname="edge-1")
        self.assertOkPoll(self.rumd.post(pi_path("tenant-a"), dev.usage(
            [dev.report(software_version="17.06.02")], hostname="edge-1")))
        row = self.q("SELECT hostname, software_tag, software_version, last_address, "
                     "last_contact >= first_seen FROM devices WHERE id = %s" % self.device_id(dev, "tenant-a"))
        self.assertEqual(row, [["edge-1", rumtest.software_tag("C8000V"), "17.06.02", "127.0.0.1", "t"]])
        first = self.q("SELECT first_seen, last_contact FROM devices WHERE id = %s"
                       % self.device_id(dev, "tenant-a"))[0]

        self.assertOkPoll(self.rumd.post(pi_path("tenant-a"), dev.usage(
            [dev.report(software_version="17.09.04a")], hostname="edge-1-renamed")))
        self.assertEqual(self.scalar("SELECT count(*) FROM devices WHERE udi_pid = 'C8000V' AND udi_serial = %s"
                                     % sql_literal(dev.sn)), "1")
        row = self.q("SELECT hostname, software_version, first_seen, last_contact >= %s::timestamptz "
                     "FROM devices WHERE id = %s" % (sql_literal(first[1]), self.device_id(dev, "tenant-a")))
        self.assertEqual(row, [["edge-1-renamed", "17.09.04a", first[0], "t"]])

    # -- polling and ACK fan-out ----------------------------------------------

    def insert_ack(self, dev, content, tenant="default"):
        return self.scalar(
            "INSERT INTO acks (tenant_id, device_id, content) VALUES (%s, %s, decode('%s', 'hex')) "
            "RETURNING id" % (self.tenant_id(tenant), self.device_id(dev, tenant), content.hex()))

    def test_poll_without_ack(self):
        dev = Device()
        poll_id = self.assertOkPoll(self.rumd.post(pi_path(), dev.usage([dev.report()])))
        for pid_value in (poll_id, int(poll_id)):
            with self.subTest(poll_id=pid_value):
                r = self.rumd.post(pi_path(), poll_message(pid_value))
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json.get("status"), "OK_POLL", r)
                self.assertEqual(str(r.json.get("poll_id")), poll_id, r)
                self.assertFalse(r.json.get("acknowledgements"), r)

    def test_poll_delivers_ack_once(self):
        dev = Device()
        poll_id = self.assertOkPoll(self.rumd.post(pi_path(), dev.usage([dev.report()])))
        ack = ('<?xml version="1.0" encoding="UTF-8"?>\r\n<smartLicense><smartLicenseRumAck>'
               '<data><![CDATA[[{"ack":"é\u00a0✓"}]]]></data><signature>c2ln</signature>'
               '</smartLicenseRumAck></smartLicense>\n').encode("utf-8") + b"\x00\xff trailing"
        ack_id = self.insert_ack(dev, ack)
        r = self.rumd.post(pi_path(), poll_message(poll_id, nonce="p1"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json.get("status"), "OK", r)
        self.assertEqual(str(r.json.get("poll_id")), poll_id, r)
        acks = r.json.get("acknowledgements")
        self.assertIsInstance(acks, list, r)
        self.assertEqual(len(acks), 1, r)
        self.assertEqual(base64.b64decode(acks[0]["smart_license"], validate=True), ack)
        self.assertEqual(self.q("SELECT delivered_at IS NOT NULL FROM acks WHERE id = %s" % ack_id), [["t"]])
        self.assertEqual(self.q("SELECT via, address FROM ack_deliveries WHERE ack_id = %s" % ack_id),
                         [["poll", "127.0.0.1"]])
        r = self.rumd.post(pi_path(), poll_message(poll_id, nonce="p2"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json.get("status"), "OK_POLL", r)
        self.assertFalse(r.json.get("acknowledgements"), r)
        self.assertEqual(self.scalar("SELECT count(*) FROM ack_deliveries WHERE ack_id = %s" % ack_id), "1")

    def test_poll_delivers_newest_ack(self):
        dev = Device()
        poll_id = self.assertOkPoll(self.rumd.post(pi_path(), dev.usage([dev.report()])))
        old_id = self.insert_ack(dev, b"<smartLicense>old</smartLicense>")
        new_id = self.insert_ack(dev, b"<smartLicense>new</smartLicense>")
        r = self.rumd.post(pi_path(), poll_message(poll_id))
        self.assertEqual(r.json.get("status"), "OK", r)
        self.assertEqual([base64.b64decode(a["smart_license"]) for a in r.json["acknowledgements"]],
                         [b"<smartLicense>new</smartLicense>"])
        self.assertEqual(self.q("SELECT id, delivered_at IS NOT NULL FROM acks WHERE id IN (%s, %s) "
                                "ORDER BY id" % (old_id, new_id)),
                         [[old_id, "f"], [new_id, "t"]])
        self.assertEqual(self.scalar("SELECT count(*) FROM acks WHERE id = %s" % old_id), "1",
                         "a superseded ACK must not be lost")
        r = self.rumd.post(pi_path(), poll_message(poll_id))
        self.assertEqual(r.json.get("status"), "OK_POLL", r)

    def test_concurrent_polls_hand_an_ack_out_once(self):
        """Polls arriving together are answered together: of 16 polls of one
        upload with an ACK waiting, one gets the ACK and 15 OK_POLL; unknown
        poll ids among them get 404 without costing the others."""
        dev = Device()
        poll_id = self.assertOkPoll(self.rumd.post(pi_path(), dev.usage([dev.report()])))
        ack_id = self.insert_ack(dev, b"<smartLicense>once</smartLicense>")
        bodies = [poll_message(poll_id, nonce="c%d" % i) for i in range(16)]
        bodies += [poll_message(str(987654321000 + i)) for i in range(4)]
        barrier = threading.Barrier(len(bodies))
        replies = [None] * len(bodies)

        def client(i):
            barrier.wait()
            replies[i] = self.rumd.post(pi_path(), bodies[i], timeout=60)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(len(bodies))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted(r.json.get("status") for r in replies[:16])
        self.assertEqual(statuses, ["OK"] + ["OK_POLL"] * 15, replies)
        got = [r for r in replies[:16] if r.json.get("status") == "OK"][0]
        self.assertEqual([base64.b64decode(a["smart_license"]) for a in got.json["acknowledgements"]],
                         [b"<smartLicense>once</smartLicense>"])
        for r in replies[16:]:
            self.assertEqual(r.status, 404, r)
        self.assertEqual(self.scalar("SELECT count(*) FROM ack_deliveries WHERE ack_id = %s" % ack_id), "1")

    def test_poll_unknown_id(self):
        r = self.rumd.post(pi_path(), poll_message("987654321987"))
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.json, {"status": "FAILED", "message": "unknown poll_id"})

    # -- pending requests -----------------------------------------------------

    def test_trust_request(self):
        dev = Device()
        body = json.dumps(trust_message(dev.pid, dev.sn, nonce="t-1"), indent=1).encode()
        poll_id = self.assertOkPoll(self.rumd.post(pi_path("tenant-a"), body), nonce="t-1")
        rows = self.q("SELECT kind, request_state, t.name FROM uploads u JOIN tenants t "
                      "ON t.id = u.tenant_id WHERE u.poll_id = %s" % poll_id)
        self.assertEqual(rows, [["trust", "pending", "tenant-a"]])
        self.assertEqual(self.pg.text_bytes("SELECT request_body FROM uploads WHERE poll_id = %s" % poll_id,
                                            db=self.db), [body])
        self.assertEqual(self.scalar("SELECT count(*) FROM rum_reports WHERE upload_id = (SELECT id FROM uploads WHERE poll_id = %s)" % poll_id), "0")
        r = self.rumd.post(pi_path("tenant-a"), poll_message(poll_id))
        self.assertEqual((r.status, r.json.get("status")), (200, "OK_POLL"), r)

    def test_usage_carrying_trust_requests_is_also_pending(self):
        dev = Device()
        msg = dev.usage([dev.report()])
        msg["reports"][0]["trust_requests"] = [{"sudi": {"udi_pid": dev.pid,
                                                         "udi_serial_number": dev.sn},
                                                "trust_id": "t-%s" % dev.sn}]
        body = json.dumps(msg).encode()
        poll_id = self.assertOkPoll(self.rumd.post(pi_path(), body))
        self.assertEqual(self.q("SELECT kind, request_state FROM uploads WHERE poll_id = %s"
                                % poll_id), [["usage", "pending"]])
        self.assertEqual(self.pg.text_bytes("SELECT request_body FROM uploads WHERE poll_id = %s"
                                            % poll_id, db=self.db), [body])
        # Usage without trust requests (an empty list, as devices send) is not.
        poll_id = self.assertOkPoll(self.rumd.post(pi_path(), dev.usage([dev.report()])))
        self.assertEqual(self.q("SELECT request_state FROM uploads WHERE poll_id = %s"
                                % poll_id), [["none"]])

    def test_authorization_request(self):
        dev = Device()
        body = json.dumps(authorization_message(dev.pid, dev.sn, nonce="a-1")).encode()
        poll_id = self.assertOkPoll(self.rumd.post(pi_path(), body), nonce="a-1")
        self.assertEqual(self.q("SELECT kind, request_state FROM uploads WHERE poll_id = %s" % poll_id),
                         [["authorization", "pending"]])
        self.assertEqual(self.pg.text_bytes("SELECT request_body FROM uploads WHERE poll_id = %s" % poll_id,
                                            db=self.db), [body])

    # -- tenants and paths ----------------------------------------------------

    def test_tenants_kept_apart(self):
        dev = Device()
        rep = dev.report()
        poll_a = self.assertOkPoll(self.rumd.post(pi_path("tenant-a"), dev.usage([rep])))
        poll_b = self.assertOkPoll(self.rumd.post(pi_path("tenant-b"), dev.usage([rep])))
        self.assertNotEqual(poll_a, poll_b)
        rows = self.q("SELECT t.name, r.conflict_of IS NULL FROM rum_reports r JOIN tenants t "
                      "ON t.id = r.tenant_id WHERE r.udi_serial = %s AND r.report_id = %s ORDER BY t.name"
                      % (sql_literal(dev.sn), rumtest.report_id_of(rep)))
        self.assertEqual(rows, [["tenant-a", "t"], ["tenant-b", "t"]])
        self.assertEqual(self.scalar("SELECT count(*) FROM devices WHERE udi_serial = %s" % sql_literal(dev.sn)), "2")
        self.assertEqual(self.scalar("SELECT count(*) FROM alerts WHERE details->>'report_id' = '%s'"
                                     % rumtest.report_id_of(rep)), "0")
        # A poll id is only known in its own tenant.
        r = self.rumd.post(pi_path("tenant-b"), poll_message(poll_a))
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.json, {"status": "FAILED", "message": "unknown poll_id"})
        r = self.rumd.post(pi_path(), poll_message(poll_a))
        self.assertEqual(r.status, 404, r)
        r = self.rumd.post(pi_path("tenant-a"), poll_message(poll_a))
        self.assertEqual((r.status, r.json.get("status")), (200, "OK_POLL"), r)

    def test_percent_encoded_tenants(self):
        for name in ("CUBE Regression Mirabile-1", "Zürich Ñandú 東京 ✓"):
            with self.subTest(tenant=name):
                dev = Device()
                path = pi_path(name)
                self.assertIn("%", path)
                poll_id = self.assertOkPoll(self.rumd.post(path, dev.usage([dev.report()])))
                self.assertEqual(self.q("SELECT t.name FROM uploads u JOIN tenants t ON t.id = u.tenant_id "
                                        "WHERE u.poll_id = %s" % poll_id), [[name]])
                self.assertEqual(self.scalar("SELECT count(*) FROM rum_reports r JOIN tenants t "
                                             "ON t.id = r.tenant_id WHERE t.name = %s AND r.udi_serial = %s"
                                             % (sql_literal(name), sql_literal(dev.sn))), "1")
                r = self.rumd.post(pi_path(name.lower()), dev.hello())
                self.assertEqual(r.status, 404, "tenant names are case-sensitive: %r" % r)
        # Lower-case hex digits decode the same.
        dev = Device()
        path = "/cslu/v1/pi/Z%c3%bcrich%20%c3%91and%c3%ba%20%e6%9d%b1%e4%ba%ac%20%e2%9c%93"
        poll_id = self.assertOkPoll(self.rumd.post(path, dev.usage([dev.report()])))
        self.assertEqual(self.q("SELECT t.name FROM uploads u JOIN tenants t ON t.id = u.tenant_id "
                                "WHERE u.poll_id = %s" % poll_id), [["Zürich Ñandú 東京 ✓"]])

    def test_sub_path_kept(self):
        dev = Device()
        poll_id = self.assertOkPoll(self.rumd.post(pi_path("Sub Path", "deeper/level"),
                                                   dev.usage([dev.report()])))
        rows = self.q("SELECT t.name, u.sub_path FROM uploads u JOIN tenants t ON t.id = u.tenant_id "
                      "WHERE u.poll_id = %s" % poll_id)
        self.assertEqual(len(rows), 1)
        self.assertEqual(rows[0][0], "Sub Path")
        self.assertEqual(rows[0][1].strip("/"), "deeper/level", rows)
        # Polling through a sub-path works like the tenant path.
        r = self.rumd.post(pi_path("Sub Path", "poll"), poll_message(poll_id))
        self.assertEqual((r.status, r.json.get("status")), (200, "OK_POLL"), r)
        # Without a sub-path, sub_path stays empty.
        poll2 = self.assertOkPoll(self.rumd.post(pi_path("Sub Path"), dev.usage([dev.report()])))
        self.assertEqual(self.scalar("SELECT sub_path FROM uploads WHERE poll_id = %s" % poll2), "")

    # -- captures -------------------------------------------------------------

    def test_unclassified_message_captured(self):
        body = b'{"sudi":{"udi_pid":"C9300-24P","udi_serial_number":"CAP1"},"mystery_field":{"x":[1,2]}}'
        before = self.pg.count("captures", db=self.db)
        r = self.rumd.post(pi_path("tenant-a", "odd"), body,
                           headers={"Authorization": "Basic c2VjcmV0OnNlY3JldA==", "X-Device": "probe"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json.get("status"), "OK", r)
        self.assertEqual(self.pg.count("captures", db=self.db), before + 1)
        row = self.q("SELECT tenant_name, method, path, source_address, reason <> '', "
                     "headers::text FROM captures ORDER BY id DESC LIMIT 1")[0]
        self.assertEqual(row[:5], ["tenant-a", "POST", pi_path("tenant-a", "odd"), "127.0.0.1", "t"])
        headers = json.loads(row[5])
        self.assertNotIn("authorization", [k.lower() for k in headers], headers)
        self.assertNotIn("c2VjcmV0", row[5])
        self.assertIn("probe", row[5])
        self.assertEqual(self.pg.fetch_bytes("SELECT body FROM captures ORDER BY id DESC LIMIT 1",
                                             db=self.db), [body])

    def test_known_messages_not_captured(self):
        dev = Device()
        before = self.pg.count("captures", db=self.db)
        self.assertEqual(self.rumd.post(pi_path(), {}).status, 200)
        self.assertEqual(self.rumd.post(pi_path(), {"sudi": rumtest.sudi(dev.pid, dev.sn)}).status, 200)
        self.assertOkPoll(self.rumd.post(pi_path(), dev.usage([dev.report()])))
        self.assertEqual(self.pg.count("captures", db=self.db), before)


class PushSwitches(rumtest.RumTestCase):
    """Settings that change the endpoint: auto_create_tenants, capture_all."""

    def test_unknown_tenant_without_auto_create(self):
        url, db = self.fresh_database("noauto")
        rumd = self.start_rumd(database_url=url)
        dev = Device()
        r = rumd.post(pi_path("brand-new"), dev.usage([dev.report()]))
        self.assertFailed(r, 404)
        self.assertEqual(self.pg.count("tenants", "name = 'brand-new'", db=db), 0)
        self.assertEqual(self.pg.count("rum_reports", db=db), 0)

    def test_auto_create_tenants(self):
        url, db = self.fresh_database("auto")
        rumd = self.start_rumd(database_url=url, flags={"auto_create_tenants": "true"})
        dev = Device()
        name = "Auto Créé-1"
        poll_id = self.assertOkPoll(rumd.post(pi_path(name), dev.usage([dev.report()])))
        self.assertEqual(self.pg.count("tenants", "name = %s" % sql_literal(name), db=db), 1)
        self.assertEqual(self.pg.psql("SELECT t.name FROM uploads u JOIN tenants t ON t.id = u.tenant_id "
                                      "WHERE u.poll_id = %s" % poll_id, db=db), [[name]])
        # The second message reuses the tenant.
        self.assertOkPoll(rumd.post(pi_path(name), dev.usage([dev.report()])))
        self.assertEqual(self.pg.count("tenants", "name = %s" % sql_literal(name), db=db), 1)
        self.assertEqual(self.pg.count("rum_reports", db=db), 2)

    def test_capture_all(self):
        url, db = self.fresh_database("capall")
        rumd = self.start_rumd(database_url=url, flags={"capture_all": "true"})
        dev = Device()
        bodies = [json.dumps(dev.usage([dev.report()])).encode(), b"{}",
                  json.dumps(dev.hello()).encode()]
        for body in bodies:
            self.assertEqual(rumd.post(pi_path(), body).status, 200)
        self.assertEqual(self.pg.count("rum_reports", db=db), 1)
        self.assertEqual(self.pg.fetch_bytes("SELECT body FROM captures ORDER BY id", db=db), bodies)

    def test_capture_all_off_by_default(self):
        url, db = self.fresh_database("capoff")
        rumd = self.start_rumd(database_url=url)
        dev = Device()
        self.assertOkPoll(rumd.post(pi_path(), dev.usage([dev.report()])))
        self.assertEqual(rumd.post(pi_path(), {}).status, 200)
        self.assertEqual(self.pg.count("captures", db=db), 0)


if __name__ == "__main__":
    rumtest.main()
