"""The admin REST API (/api/v1): exports, their files, imports and ACK
downloads over HTTP, with bearer tokens made by `rumd token`, roles, tenant
scoping and the audit log.

Devices push reports; an operator token exports over the API, downloads the
file, which the CSSM simulator must accept; the ACK tarball it returns is
imported over the API and each device's ACK downloads byte-exact. Around that:
a token is printed once and only its SHA-256 is stored; missing, unknown and
revoked tokens get 401 with WWW-Authenticate; a reader cannot write (403); a
token bound to one tenant sees other tenants as missing (404, as for a tenant
that does not exist); bad JSON, bad files and unknown routes get clear
400/404/405 answers; every export, import, ACK download and token change is
in audit_log, failures and refused writes included, never a token."""

import hashlib
import json
import os
import re
import subprocess
import sys
import tarfile
import urllib.parse

import rumtest as rt

CSSM_SIM = os.path.join(rt.SOURCE_DIR, "tests", "tools", "cssm_sim.py")
TOKEN_RE = re.compile(r"^rumd_[0-9a-f]{64}$")


class AdminApi(rt.RumTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.url, cls.db = cls.fresh_database("admin")
        cls.rumd = cls.start_class_rumd(database_url=cls.url)
        for name in ("acme", "globex"):
            rt.add_tenant(cls.url, name, "ACME Corp", "Plant-7")
        cls.devices = {"acme": [rt.Device("C9300-24P"), rt.Device("C9300-48P", fmt="B")],
                       "globex": [rt.Device("C8000V")]}
        for tenant, devs in cls.devices.items():
            for d in devs:
                reply = cls.rumd.post(rt.pi_path(tenant), d.usage([d.report(), d.report()]))
                assert reply.status == 200, reply
        cls.tokens = {}
        for key, role, tenant in (("admin", "admin", None), ("operator", "operator", "acme"),
                                  ("reader", "reader", "acme"), ("globex", "operator", "globex")):
            cls.tokens[key] = cls.make_token(role, tenant)[0]

    # -- helpers -------------------------------------------------------------

    @classmethod
    def cli(cls, *args, expect=0):
        proc = rt.run_rumd(list(args) + ["--database_url=%s" % cls.url])
        assert proc.returncode == expect, "rumd %s:\n%s%s" % (" ".join(args), proc.stdout,
                                                               proc.stderr)
        return proc

    @classmethod
    def make_token(cls, role, tenant=None, description="test"):
        args = ["token", "create", "--role", role, "--description", description]
        if tenant:
            args += ["--tenant", tenant]
        proc = cls.cli(*args)
        lines = proc.stdout.splitlines()
        assert len(lines) == 1 and TOKEN_RE.match(lines[0]), proc.stdout
        m = re.search(r"token (\d+) created", proc.stderr)
        assert m, proc.stderr
        return lines[0], int(m.group(1))

    def q(self, sql):
        return self.pg.psql(sql, db=self.db)

    def scalar(self, sql):
        return self.pg.scalar(sql, db=self.db)

    def call(self, method, path, token=None, body=None, headers=None, raw_auth=None):
        h = dict(headers or {})
        if raw_auth is not None:
            h["Authorization"] = raw_auth
        elif token is not None:
            h["Authorization"] = "Bearer " + self.tokens.get(token, token)
        return self.rumd.request(method, path, body, h, timeout=120)

    def tpath(self, tenant, rest):
        return "/api/v1/tenants/%s/%s" % (urllib.parse.quote(tenant, safe=""), rest)

    def device_id(self, tenant, d):
        return int(self.scalar(
            "SELECT d.id FROM devices d JOIN tenants t ON t.id = d.tenant_id WHERE t.name = %s "
            "AND d.udi_serial = %s" % (rt.sql_literal(tenant), rt.sql_literal(d.sn))))

    def audit(self, action):
        """[(actor, tenant, target, result, details)] of one action, oldest first."""
        rows = self.q("SELECT actor, coalesce(tenant, ''), target, result, details::text "
                      "FROM audit_log WHERE action = %s ORDER BY id" % rt.sql_literal(action))
        return [(a, t, g, r, json.loads(d)) for a, t, g, r, d in rows]

    def audit_count(self, action=None):
        return self.pg.count("audit_log", "action = %s" % rt.sql_literal(action)
                             if action else "true", db=self.db)

    def cssm_ack(self, path):
        out = rt.make_tempdir("rumtest-admin-ack-")
        proc = subprocess.run([sys.executable, CSSM_SIM, "ack", path, "-o", out],
                              capture_output=True, text=True, timeout=300)
        self.assertEqual(proc.returncode, 0, "cssm_sim refused the export:\n%s%s" % (
            proc.stdout, proc.stderr))
        return os.path.join(out, "ACK_" + os.path.basename(path))

    # -- tokens --------------------------------------------------------------

    def test_1_token_printed_once_only_hash_stored(self):
        token, tid = self.make_token("reader", "acme", "printed once")
        stored = self.scalar("SELECT hash FROM api_tokens WHERE id = %d" % tid)
        self.assertEqual(stored, hashlib.sha256(token.encode()).hexdigest())
        self.assertEqual(self.scalar("SELECT prefix FROM api_tokens WHERE id = %d" % tid),
                         token[:13])
        # The secret is nowhere in the database, nor in `token list`.
        everything = self.scalar(
            "SELECT string_agg(t::text, ' ') FROM (SELECT row_to_json(k) AS t FROM api_tokens k "
            "UNION ALL SELECT row_to_json(a) FROM audit_log a) s")
        self.assertNotIn(token[5:], everything)
        listing = self.cli("token", "list").stdout
        self.assertNotIn(token[5:], listing)
        self.assertRegex(listing, r"(?m)^%d\t%s\treader\tacme\t" % (tid, re.escape(token[:13])))
        rows = [r for r in self.audit("token-create") if r[2] == str(tid)]
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0][:4], ("cli", "acme", str(tid), "ok"))
        # Bad role, unknown tenant: refused, audited, nothing stored.
        n = self.pg.count("api_tokens", db=self.db)
        self.cli("token", "create", "--role", "root", expect=1)
        proc = self.cli("token", "create", "--role", "reader", "--tenant", "nosuch", expect=1)
        self.assertIn("nosuch", proc.stderr)
        self.assertEqual(proc.stdout, "")
        self.assertEqual(self.pg.count("api_tokens", db=self.db), n)
        self.assertEqual(self.audit("token-create")[-1][3], "error")

    def test_2_missing_unknown_revoked_tokens_get_401(self):
        path = self.tpath("acme", "devices/1/ack")
        token, tid = self.make_token("admin")
        cases = {"none": self.call("GET", path),
                 "garbage": self.call("GET", path, raw_auth="Bearer nope"),
                 "basic": self.call("GET", path, raw_auth="Basic YWRtaW46YWRtaW4="),
                 "unknown": self.call("GET", path, token="rumd_" + "ab" * 32)}
        self.cli("token", "revoke", str(tid))
        self.assertNotEqual(self.scalar("SELECT revoked_at FROM api_tokens WHERE id = %d" % tid), "")
        cases["revoked"] = self.call("GET", path, token=token)
        for name, reply in cases.items():
            with self.subTest(name):
                self.assertFailed(reply, 401)
                self.assertTrue(reply.headers.get("www-authenticate", "").startswith("Bearer"),
                                reply.headers)
        self.assertEqual(self.audit("token-revoke")[-1][:4], ("cli", "", str(tid), "ok"))
        self.cli("token", "revoke", "999999", expect=1)
        # A refused write is audited, without the token.
        before = self.audit_count("export")
        self.assertFailed(self.call("POST", self.tpath("acme", "exports"), body={}), 401)
        self.assertFailed(self.call("POST", self.tpath("acme", "exports"), token=token,
                                    body={}), 401)
        rows = self.audit("export")[before:]
        self.assertEqual([(r[0], r[3]) for r in rows],
                         [("anonymous", "error"), ("token %d (%s)" % (tid, token[:13]), "error")])
        self.assertNotIn(token[5:], json.dumps(rows))

    def test_3_reader_cannot_write_tenant_token_cannot_see_others(self):
        for what, body in (("exports", {}), ("imports", b"<smartLicense/>")):
            with self.subTest(what):
                msg = self.assertFailed(self.call("POST", self.tpath("acme", what), "reader",
                                                  body=body), 403)
                self.assertIn("reader", msg)
        self.assertEqual(self.audit("import")[-1][3], "error")
        g = self.device_id("globex", self.devices["globex"][0])
        # acme's tokens: globex is as missing as a tenant that does not exist.
        other = self.call("GET", self.tpath("globex", "devices/%d/ack" % g), "reader")
        missing = self.call("GET", self.tpath("nosuch", "devices/%d/ack" % g), "reader")
        self.assertEqual(self.assertFailed(other, 404).replace("globex", "X"),
                         self.assertFailed(missing, 404).replace("nosuch", "X"))
        self.assertFailed(self.call("POST", self.tpath("globex", "exports"), "operator",
                                    body={}), 404)
        # A device of another tenant through one's own tenant: not found either.
        self.assertFailed(self.call("GET", self.tpath("acme", "devices/%d/ack" % g), "admin"),
                          404)
        self.assertEqual(self.pg.count("export_batches", db=self.db), 0)

    def test_4_bad_requests(self):
        p = self.tpath("acme", "exports")
        for name, body in (("not json", b"{all: true"), ("not an object", b"[1]"),
                           ("unknown field", {"everything": True}),
                           ("bad devices", {"devices": ["x"]}),
                           ("all and since", {"all": True, "since": "2024-01-01T00:00:00Z"}),
                           ("bad since", {"since": "not a time"})):
            with self.subTest(name):
                self.assertFailed(self.call("POST", p, "operator", body=body), 400)
        self.assertFailed(self.call("POST", p, "operator", body={"devices": [999999]}), 404)
        self.assertFailed(self.call("DELETE", p, "operator"), 405)
        self.assertFailed(self.call("GET", self.tpath("acme", "nothing"), "admin"), 404)
        self.assertFailed(self.call("GET", "/api/v1/other", "admin"), 404)
        self.assertFailed(self.call("GET", self.tpath("acme", "devices/abc/ack"), "admin"), 400)
        self.assertFailed(self.call("GET", self.tpath("acme", "exports/12345/file"), "admin"),
                          404)
        d = self.device_id("acme", self.devices["acme"][0])
        self.assertFailed(self.call("GET", self.tpath("acme", "devices/%d/ack" % d), "reader"),
                          404)  # no ACK yet
        self.assertEqual(self.audit("ack-download")[-1][2:4], (str(d), "error"))
        # A bad file changes nothing and says why.
        n = self.pg.count("imports", db=self.db)
        for body in (b"this is not xml", b"<!DOCTYPE x [<!ENTITY a 'b'>]><smartLicense/>",
                     b"\x1f\x8b\x08\x00garbage"):
            self.assertFailed(self.call("POST", self.tpath("acme", "imports"), "operator",
                                        body=body,
                                        headers={"Content-Type": "application/octet-stream"}),
                              400)
        self.assertFailed(self.call("POST", self.tpath("acme", "imports"), "operator",
                                    body=b"<x/>", headers={"X-File-Name": "../etc/passwd"}), 400)
        self.assertEqual(self.pg.count("imports", db=self.db), n)
        self.assertEqual(os.listdir(os.path.join(self.rumd.data_dir, "imports",
                                                 self.scalar("SELECT id FROM tenants WHERE "
                                                             "name = 'acme'"))), [])
        self.assertEqual(self.pg.count("export_batches", db=self.db), 0)

    def test_5_air_gapped_loop_over_the_api(self):
        acme = self.devices["acme"]
        reply = self.call("POST", self.tpath("acme", "exports"), "operator", body={})
        self.assertEqual(reply.status, 201, reply)
        out = reply.json
        self.assertEqual((out["devices"], out["reports"]), (2, 4), out)
        self.assertRegex(out["file"], r"^UD_SA_\w+\.tar\.gz$")
        tid = self.scalar("SELECT id FROM tenants WHERE name = 'acme'")
        self.assertTrue(os.path.isfile(os.path.join(self.rumd.data_dir, "exports", tid,
                                                    out["file"])))
        self.assertEqual(out["download"], self.tpath("acme", "exports/%d/file" % out["batch_id"]))
        # The file, by a reader of the tenant; not by another tenant's token.
        self.assertFailed(self.call("GET", out["download"], "globex"), 404)
        got = self.call("GET", out["download"], "reader")
        self.assertEqual(got.status, 200, got)
        self.assertEqual(got.headers["content-type"], "application/gzip")
        self.assertIn('filename="%s"' % out["file"], got.headers["content-disposition"])
        with open(os.path.join(self.rumd.data_dir, "exports", tid, out["file"]), "rb") as f:
            self.assertEqual(got.raw, f.read())
        tmp = rt.make_tempdir("rumtest-admin-")
        path = os.path.join(tmp, out["file"])
        with open(path, "wb") as f:
            f.write(got.raw)
        ack_path = self.cssm_ack(path)
        self.assertTrue(tarfile.is_tarfile(ack_path))
        # Everything acknowledged yet? No: nothing imported, so a second
        # export takes the same reports again.
        with open(ack_path, "rb") as f:
            ack_bytes = f.read()
        reply = self.call("POST", self.tpath("acme", "imports"), "operator", body=ack_bytes,
                          headers={"Content-Type": "application/octet-stream",
                                   "X-File-Name": os.path.basename(ack_path)})
        self.assertEqual(reply.status, 200, reply)
        summary = reply.json
        self.assertEqual((summary["status"], summary["devices"], summary["reports_acked"],
                          summary["acks_new"]), ("OK", 2, 4, 2), summary)
        self.assertEqual(summary["skipped"], [])
        self.assertEqual(sorted(a["device_id"] for a in summary["applied"]),
                         sorted(self.device_id("acme", d) for d in acme))
        # The same file again changes nothing and says so.
        again = self.call("POST", self.tpath("acme", "imports"), "admin", body=ack_bytes)
        self.assertEqual((again.status, again.json["status"]), (200, "ALREADY_IMPORTED"), again)
        # Each device's ACK, byte-exact, for a reader.
        for d in acme:
            dev = self.device_id("acme", d)
            got = self.call("GET", self.tpath("acme", "devices/%d/ack" % dev), "reader")
            self.assertEqual(got.status, 200, got)
            self.assertEqual(got.headers["content-type"], "application/xml")
            want = self.pg.fetch_bytes("SELECT content FROM acks WHERE device_id = %d "
                                       "ORDER BY id DESC LIMIT 1" % dev, db=self.db)[0]
            self.assertEqual(got.raw, want)
            self.assertIn(b"smartLicense", got.raw)
        # All acknowledged now: nothing to export.
        empty = self.call("POST", self.tpath("acme", "exports"), "operator")
        self.assertEqual((empty.status, empty.json["status"]), (200, "EMPTY"), empty)
        # A single ACK XML imported on its own: recognised as already there.
        single = self.call("GET", self.tpath("acme", "devices/%d/ack" % self.device_id(
            "acme", acme[0])), "admin").raw
        one = self.call("POST", self.tpath("acme", "imports"), "operator", body=single,
                        headers={"Content-Type": "application/xml"})
        self.assertEqual(one.status, 200, one)
        self.assertEqual(one.json["acks_new"], 0, one.json)
        # The audit log tells the story.
        exports = [r for r in self.audit("export") if r[3] == "ok"]
        self.assertEqual(len(exports), 2, exports)
        self.assertEqual(exports[0][:4], ("token %d (%s)" % (
            self.token_id("operator"), self.tokens["operator"][:13]), "acme",
            str(out["batch_id"]), "ok"))
        self.assertEqual(exports[0][4]["reports"], 4)
        self.assertTrue(exports[1][4]["nothing"])
        imports = [r for r in self.audit("import") if r[3] == "ok"]
        self.assertEqual(len(imports), 3, imports)
        self.assertEqual(imports[0][4]["reports_acked"], 4)
        self.assertEqual(imports[0][2], os.path.basename(ack_path))
        downloads = [r for r in self.audit("ack-download") if r[3] == "ok"]
        self.assertEqual(len(downloads), 3, downloads)
        self.assertEqual(len([r for r in self.audit("export-download") if r[3] == "ok"]), 1)
        everything = self.scalar("SELECT string_agg(row_to_json(a)::text, ' ') FROM audit_log a")
        for token in self.tokens.values():
            self.assertNotIn(token[5:], everything)
        # last_used_at is kept.
        self.assertNotEqual(self.scalar("SELECT last_used_at FROM api_tokens WHERE id = %d"
                                        % self.token_id("reader")), "")

    def token_id(self, key):
        return int(self.scalar("SELECT id FROM api_tokens WHERE hash = '%s'"
                               % hashlib.sha256(self.tokens[key].encode()).hexdigest()))


if __name__ == "__main__":
    rt.unittest.main()
