"""The admin API's OpenAPI description (api/openapi.json, served at
/api/v1/openapi.json) says exactly what the server does: its operations are
the route table's admin routes (method, path and token role), it is a
well-formed document (every schema a valid JSON Schema 2020-12, every $ref
resolvable, every path parameter declared), and real answers of every
admin route, success and error alike, validate against the schema the
document gives for their status, with python3-jsonschema (Debian's)."""

import json
import os
import re
import subprocess
import sys
import urllib.parse

import rumtest as rt

try:
    import jsonschema
except ImportError:  # pragma: no cover - deploy/packages.txt installs it
    jsonschema = None

DOC_PATH = os.path.join(rt.SOURCE_DIR, "api", "openapi.json")
CSSM_SIM = os.path.join(rt.SOURCE_DIR, "tests", "tools", "cssm_sim.py")
METHODS = ("get", "post", "put", "patch", "delete")
T = "/api/v1/tenants/default"


class OpenAPI(rt.RumTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if jsonschema is None:
            raise rt.unittest.SkipTest("python3-jsonschema is not installed "
                                       "(deploy/install-packages.sh installs it)")
        with open(DOC_PATH, "rb") as f:
            cls.raw = f.read()
        cls.doc = json.loads(cls.raw)
        cls.resolver = jsonschema.RefResolver.from_schema(cls.doc)
        cls.url, cls.db = cls.fresh_database("openapi")
        cls.rumd = cls.start_class_rumd(database_url=cls.url)
        cls.tokens = {}
        for role in ("reader", "operator", "admin"):
            proc = rt.run_rumd(["token", "create", "--role", role,
                                "--database_url=%s" % cls.url])
            assert proc.returncode == 0, proc.stderr
            cls.tokens[role] = proc.stdout.strip()
        cls.dev = rt.Device("C9300-48P", hostname="openapi-1")
        reply = cls.rumd.post(rt.pi_path("default"),
                              cls.dev.usage([cls.dev.report(), cls.dev.report()]))
        assert reply.status == 200, reply
        cls.checked = set()

    # -- helpers ---------------------------------------------------------------

    def operation(self, method, path):
        """The document's operation whose path template matches path."""
        for template, item in self.doc["paths"].items():
            pattern = "^" + "[^/]+".join(re.escape(part) for part in
                                         re.split(r"\{[a-z-]+\}", template)) + "$"
            if re.match(pattern, path) and method.lower() in item:
                return template, item[method.lower()]
        self.fail("the document has no operation for %s %s" % (method, path))

    def call(self, method, path, role="admin", body=None, headers=None, status=None):
        h = dict(headers or {})
        if role:
            h["Authorization"] = "Bearer " + self.tokens[role]
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        reply = self.rumd.request(method, path, body if body is not None else
                                  (b"" if method in ("POST", "PUT", "PATCH") else None), h,
                                  timeout=120)
        if status is not None:
            self.assertEqual(reply.status, status, reply)
        self.validate(method, path.split("?")[0], reply)
        return reply

    def validate(self, method, path, reply):
        template, op = self.operation(method, path)
        responses = op["responses"]
        self.assertIn(str(reply.status), responses,
                      "%s %s answered %d, which the document does not list"
                      % (method, template, reply.status))
        resp = responses[str(reply.status)]
        if "$ref" in resp:
            resp = self.resolver.resolve(resp["$ref"])[1]
        ctype = reply.headers.get("content-type", "").split(";")[0]
        self.assertIn(ctype, resp.get("content", {}),
                      "%s %s %d: content type %s not documented" % (method, template,
                                                                    reply.status, ctype))
        schema = resp["content"][ctype].get("schema")
        if ctype == "application/json" and schema:
            jsonschema.Draft202012Validator(schema, resolver=self.resolver).validate(
                json.loads(reply.raw))
        self.checked.add((method, template, reply.status))

    # -- the document and the route table --------------------------------------

    def test_1_document_matches_the_route_table(self):
        proc = rt.run_rumd(["routes"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        routes = {}
        for line in proc.stdout.splitlines()[1:]:
            method, path, role = line.split("\t")[:3]
            if path.startswith("/api/"):
                routes[(method.lower(), path)] = role
        documented = {}
        for path, item in self.doc["paths"].items():
            for method in METHODS:
                if method in item:
                    documented[(method, path)] = item[method].get("x-rumd-role")
        self.assertEqual(sorted(set(routes) - set(documented)), [],
                         "routes the document lacks")
        self.assertEqual(sorted(set(documented) - set(routes)), [],
                         "documented operations no route serves")
        self.assertEqual(routes, documented, "token roles differ")

    def test_2_document_is_well_formed(self):
        self.assertEqual(self.doc["openapi"], "3.1.0")
        for name, schema in self.doc["components"]["schemas"].items():
            jsonschema.Draft202012Validator.check_schema(schema)

        def refs(node):
            if isinstance(node, dict):
                for k, v in node.items():
                    if k == "$ref":
                        yield v
                    else:
                        yield from refs(v)
            elif isinstance(node, list):
                for v in node:
                    yield from refs(v)
        for ref in set(refs(self.doc)):
            self.resolver.resolve(ref)  # raises when it does not resolve
        ids = set()
        for path, item in self.doc["paths"].items():
            for method in METHODS:
                if method not in item:
                    continue
                op = item[method]
                self.assertNotIn(op["operationId"], ids)
                ids.add(op["operationId"])
                params = [self.resolver.resolve(p["$ref"])[1] if "$ref" in p else p
                          for p in op.get("parameters", [])]
                declared = {p["name"] for p in params if p["in"] == "path"}
                self.assertEqual(declared, set(re.findall(r"\{([a-z-]+)\}", path)),
                                 "%s %s path parameters" % (method, path))
                self.assertIn("401", op["responses"], path)

    def test_3_served_document_is_the_tree_one(self):
        reply = self.call("GET", "/api/v1/openapi.json", role="reader", status=200)
        self.assertEqual(reply.raw, self.raw)
        self.call("GET", "/api/v1/openapi.json", role=None, status=401)

    # -- real answers ----------------------------------------------------------

    def test_4_inventory_answers_validate(self):
        did = int(self.pg.scalar("SELECT id FROM devices WHERE udi_serial = '%s'" % self.dev.sn,
                                 db=self.db))
        page = self.call("GET", T + "/devices?limit=1&sort=deadline", status=200).json
        self.call("GET", T + "/devices?state=never_reported", status=200)
        self.call("GET", T + "/devices/%d" % did, status=200)
        reports = self.call("GET", T + "/devices/%d/reports?limit=1" % did, status=200).json
        self.call("GET", T + "/reports?cursor=" + urllib.parse.quote(reports["next_cursor"]),
                  status=200)
        rid = reports["reports"][0]["id"]
        self.call("GET", T + "/reports/%d" % rid, status=200)
        self.call("GET", T + "/reports/%d/raw" % rid, status=200)
        self.call("GET", T + "/devices?sort=size", status=400)
        self.call("GET", T + "/devices/999999", status=404)
        self.call("GET", T + "/reports/x", status=400)
        self.call("GET", "/api/v1/tenants/nope/devices", status=404)
        self.call("GET", T + "/devices", role=None, status=401)
        self.assertEqual(page["devices"][0]["id"], did)
        self.call("GET", T + "/usage", role="reader", status=200)
        self.call("GET", T + "/usage/daily?from=2026-01-01&to=2026-12-31", role="reader",
                  status=200)
        self.call("GET", T + "/usage/daily?from=2026-13-01", role="reader", status=400)
        # A conflicting payload for a report id raises an alert.
        for value in ("1", "2"):
            reply = self.rumd.post(rt.pi_path("default"), self.dev.usage(
                [self.dev.report(report_id=7, value=value)]))
            self.assertEqual(reply.status, 200, reply)
        alerts = self.call("GET", T + "/alerts?kind=report_conflict", role="reader",
                           status=200).json["alerts"]
        self.call("POST", T + "/alerts/%d/ack" % alerts[0]["id"], role="operator", status=200)
        self.call("POST", T + "/alerts/999999/ack", role="operator", status=404)
        self.call("GET", T + "/alerts?state=late", role="reader", status=400)
        self.call("GET", T + "/overview", role="reader", status=200)
        self.call("GET", T + "/overview?due_days=0", role="reader", status=400)

    def test_5_air_gap_answers_validate(self):
        tmp = rt.make_tempdir("openapi-")
        self.call("POST", T + "/exports", role="reader", body={}, status=403)
        self.call("POST", T + "/exports", role="operator", body={"colour": 1}, status=400)
        made = self.call("POST", T + "/exports", role="operator", body={}, status=201).json
        listed = self.call("GET", T + "/exports", role="reader", status=200).json["exports"]
        self.assertEqual((listed[0]["id"], listed[0]["file"], listed[0]["ack_state"],
                          listed[0]["devices_acked"]),
                         (made["batch_id"], made["file"], "waiting", 0))
        self.call("GET", T + "/exports?cursor=x1.5", role="reader", status=400)
        self.call("GET", T + "/exports?limit=0", role="reader", status=400)
        tarball = self.call("GET", made["download"], role="reader", status=200).raw
        path = os.path.join(tmp, made["file"])
        with open(path, "wb") as f:
            f.write(tarball)
        acks = os.path.join(tmp, "acks")
        sim = subprocess.run([sys.executable, CSSM_SIM, "ack", path, "-o", acks],
                             capture_output=True, text=True, timeout=300)
        self.assertEqual(sim.returncode, 0, sim.stderr)
        with open(os.path.join(acks, "ACK_" + made["file"]), "rb") as f:
            ack = f.read()
        self.call("POST", T + "/imports", role="operator", body=ack,
                  headers={"X-File-Name": "ACK_" + made["file"]}, status=200)
        self.call("POST", T + "/imports", role="operator", body=ack, status=200)  # again
        batch = self.call("GET", T + "/exports?limit=1", role="reader", status=200).json
        self.assertEqual((batch["exports"][0]["ack_state"], batch["exports"][0]["devices_acked"],
                          batch["exports"][0]["reports_acked"]),
                         ("acknowledged", made["devices"], made["reports"]))
        self.assertIsNotNone(batch["exports"][0]["last_ack_at"])
        self.call("POST", T + "/imports", role="operator", body=b"<nope/>", status=400)
        # Everything is acknowledged now: nothing to export.
        self.assertEqual(self.call("POST", T + "/exports", role="operator", body={},
                                   status=200).json["status"], "EMPTY")
        did = int(self.pg.scalar("SELECT id FROM devices WHERE udi_serial = '%s'" % self.dev.sn,
                                 db=self.db))
        self.call("GET", T + "/devices/%d/ack" % did, role="reader", status=200)
        self.call("GET", T + "/exports/999999/file", role="reader", status=404)

    def test_6_pull_target_answers_validate(self):
        body = {"host": "192.0.2.10", "username": "rumd", "password": "secret",
                "trust_on_first_use": True, "on_demand": True}
        self.call("POST", T + "/pull-targets", role="operator", body=body, status=403)
        self.call("POST", T + "/pull-targets", body=dict(body, port=0), status=400)
        target = self.call("POST", T + "/pull-targets", body=body, status=201).json
        self.call("POST", T + "/pull-targets", body=body, status=409)
        self.call("GET", T + "/pull-targets", role="reader", status=200)
        queued = self.call("POST", T + "/pull-targets/%d/collect" % target["id"],
                           role="operator", status=202).json
        self.call("POST", T + "/pull-targets/collect", role="operator", status=202)
        self.call("GET", T + "/collections/%d" % queued["collections"][0]["id"], role="reader",
                  status=200)
        self.call("GET", T + "/pull-targets/%d" % target["id"], role="reader", status=200)
        tid = target["id"]
        self.call("PATCH", T + "/pull-targets/%d" % tid, role="operator", body={"port": 2222},
                  status=403)
        changed = self.call("PATCH", T + "/pull-targets/%d" % tid,
                            body={"port": 2222, "interval": "12h", "username": "rumd2"},
                            status=200).json
        self.assertEqual((changed["port"], changed["interval_s"], changed["username"],
                          changed["auth"]), (2222, 43200, "rumd2", "password"))
        self.assertEqual(self.call("PATCH", T + "/pull-targets/%d" % tid,
                                   body={"on_demand": True}, status=200).json["interval_s"],
                         None)
        other = self.call("POST", T + "/pull-targets", body=dict(body, host="192.0.2.11"),
                          status=201).json
        for bad, status in (({}, 400), ({"port": 0}, 400), ({"colour": 1}, 400),
                            ({"interval": "12h", "on_demand": True}, 400),
                            ({"known_host_key": "", "trust_on_first_use": False}, 400),
                            ({"host": "192.0.2.11", "port": 830}, 409)):
            with self.subTest(body=bad):
                self.call("PATCH", T + "/pull-targets/%d" % tid, body=bad, status=status)
        self.assertEqual(self.call("GET", T + "/pull-targets/%d" % tid, role="reader",
                                   status=200).json["port"], 2222, "a refused change changes nothing")
        self.call("PATCH", T + "/pull-targets/999999", body={"port": 22}, status=404)
        self.call("DELETE", T + "/pull-targets/%d" % other["id"], status=200)
        self.call("DELETE", T + "/pull-targets/%d" % target["id"], status=200)
        self.call("DELETE", T + "/pull-targets/%d" % target["id"], status=404)
        self.call("GET", T + "/collections/999999", role="reader", status=404)

    def test_6a_admin_answers_validate(self):
        self.call("GET", "/api/v1/tenants", role="reader", status=200)
        self.call("POST", "/api/v1/tenants", body={"name": "openapi-t"}, status=201)
        self.call("POST", "/api/v1/tenants", body={"name": "openapi-t"}, status=409)
        self.call("POST", "/api/v1/tenants", body={"nom": "x"}, status=400)
        self.call("PATCH", "/api/v1/tenants/openapi-t", body={"smart_account": "SA"}, status=200)
        self.call("GET", "/api/v1/tokens", status=200)
        made = self.call("POST", "/api/v1/tokens", body={"role": "reader"}, status=201).json
        self.call("DELETE", "/api/v1/tokens/%d" % made["id"], status=200)
        self.call("DELETE", "/api/v1/tokens/999999", status=404)
        self.call("GET", "/api/v1/audit?limit=5", role="reader", status=200)
        self.call("GET", "/api/v1/audit?cursor=zz", role="reader", status=400)
        # Local users: added, listed, given a password, disabled; they sign in.
        password = "openapi user password"
        user = self.call("POST", "/api/v1/users", body={
            "name": "olga", "password": password, "role": "operator",
            "tenant": "openapi-t"}, status=201).json
        self.assertEqual((user["name"], user["role"], user["tenant"], user["disabled"]),
                         ("olga", "operator", "openapi-t", False))
        self.call("POST", "/api/v1/users", body={"name": "olga", "password": password,
                                                 "role": "reader"}, status=409)
        for bad in ({"name": "x"}, {"name": "-x", "password": password, "role": "reader"},
                    {"name": "short", "password": "short", "role": "reader"},
                    {"name": "r", "password": password, "role": "boss"},
                    {"name": "t", "password": password, "role": "reader", "tenant": "nope"}):
            with self.subTest(body=bad):
                self.call("POST", "/api/v1/users", body=bad,
                          status=404 if "tenant" in bad else 400)
        self.call("POST", "/api/v1/users", role="operator", body={
            "name": "x", "password": password, "role": "reader"}, status=403)
        listed = self.call("GET", "/api/v1/users", status=200).json["users"]
        self.assertIn("olga", [u["name"] for u in listed])
        self.assertNotIn(password, json.dumps(listed))
        self.call("POST", "/api/v1/session", role=None,
                  body={"user": "olga", "password": password}, status=201)
        changed = self.call("PATCH", "/api/v1/users/olga", body={"disabled": True},
                            status=200).json
        self.assertTrue(changed["disabled"])
        self.assertEqual(changed["sessions"], 0, "disabling signs the user out")
        self.call("POST", "/api/v1/session", role=None,
                  body={"user": "olga", "password": password}, status=401)
        self.call("PATCH", "/api/v1/users/olga", body={"disabled": False,
                                                       "password": password + "2"}, status=200)
        self.call("POST", "/api/v1/session", role=None,
                  body={"user": "olga", "password": password + "2"}, status=201)
        for bad in ({}, {"disabled": "yes"}, {"colour": 1}, {"password": "short"}):
            with self.subTest(body=bad):
                self.call("PATCH", "/api/v1/users/olga", body=bad, status=400)
        self.call("PATCH", "/api/v1/users/nobody", body={"disabled": True}, status=404)
        self.assertEqual(self.pg.scalar("SELECT actor FROM audit_log WHERE action = "
                                        "'user-add' ORDER BY id DESC LIMIT 1", db=self.db)[:6],
                         "token ")

    def test_6c_upstream_answers_validate(self):
        path = T + "/upstream"
        cssm = {"kind": "cssm", "client_id": "openapi", "client_secret": "not shown",
                "smart_account_id": 1234, "virtual_account_id": "5678", "interval": "12h",
                "proxy": "http://squid@proxy.example:3128", "proxy_password": "not shown",
                "sync_soon": "5m"}
        self.call("GET", path, role="reader", status=404)
        self.call("PUT", path, role="operator", body=cssm, status=403)
        made = self.call("PUT", path, body=cssm, status=201).json
        self.assertTrue(made["has_client_secret"] and made["has_proxy_password"])
        self.assertNotIn("not shown", json.dumps(made))
        self.call("PUT", path, body=dict(cssm, smart_account_id="x"), status=400)
        self.call("PUT", path, body={"kind": "collector", "url": "https://central.example/"},
                  status=200)
        self.call("GET", path, role="reader", status=200)
        self.call("POST", T + "/sync", role="reader", status=403)
        self.call("POST", T + "/sync", role="operator", status=202)
        self.call("GET", T + "/sync", role="reader", status=200)
        self.call("GET", "/api/v1/upstreams", status=200)
        self.call("GET", "/api/v1/upstreams", role="operator", status=403)
        self.call("DELETE", path, status=200)
        self.call("DELETE", path, status=404)
        self.call("PUT", "/api/v1/tenants/nope/upstream", body=cssm, status=404)
        self.call("POST", T + "/sync", role="operator", status=404)  # no upstream now

    def test_6b_session_answers_validate(self):
        reply = self.call("POST", "/api/v1/session", role=None,
                          body={"token": self.tokens["reader"]}, status=201)
        cookie = {"Cookie": reply.headers["set-cookie"].split(";")[0]}
        csrf = reply.json["csrf_token"]
        self.call("GET", "/api/v1/session", role=None, headers=cookie, status=200)
        self.call("GET", "/api/v1/session", role="reader", status=200)
        self.call("DELETE", "/api/v1/session", role=None, headers=cookie, status=403)
        self.call("DELETE", "/api/v1/session", role=None,
                  headers=dict(cookie, **{"X-CSRF-Token": csrf}), status=200)
        self.call("DELETE", "/api/v1/session", role="reader", status=400)
        self.call("GET", "/api/v1/session", role=None, headers=cookie, status=401)
        self.call("POST", "/api/v1/session", role=None, body={"user": "x"}, status=400)
        self.call("POST", "/api/v1/session", role=None,
                  body={"user": "nobody", "password": "not a password"}, status=401)

    def test_7_every_operation_was_answered(self):
        """Run last: every documented operation was exercised above with a
        success answer validated."""
        ok = {(m, t) for m, t, s in self.checked if s < 300}
        for path, item in self.doc["paths"].items():
            for method in METHODS:
                if method in item:
                    self.assertIn((method.upper(), path), ok, "never validated a success")


if __name__ == "__main__":
    rt.main()
