"""The route table as users meet it: `rumd routes` lists the whole HTTP
surface (method, path, token role, audit action), and the server enforces
exactly what it says.

For every admin route listed: no token is 401, a token one role below the
route's is 403 (a refused write is audited under the route's action, and
nothing changes), another method on the same path is 405. Around that: a
literal path segment wins over a parameter (pull-targets/collect is not pull
target "collect"), a bad id is 400 naming what it should be, an unknown path
is 404. And the admin API runs on the database pool's own connections: a
series of exports, downloads and reads opens no new database connection."""

import re
import time
import urllib.parse

import rumtest as rt

TOKEN_RE = re.compile(r"^rumd_[0-9a-f]{64}$")
BELOW = {"operator": "reader", "admin": "operator"}
# A body each writing route accepts (requests are checked before the token).
BODIES = {
    "/api/v1/tenants/{tenant}/imports": b"<ack/>",
    "/api/v1/tenants/{tenant}/pull-targets": b'{"host":"192.0.2.1","username":"u",'
                                             b'"password":"p","trust_on_first_use":true}',
    "/api/v1/tenants/{tenant}/pull-targets/{pull-target}": b'{"port":2222}',
    "/api/v1/tenants": b'{"name":"refused"}',
    "/api/v1/tenants/{tenant}": b'{"smart_account":"refused"}',
    "/api/v1/tokens": b'{"role":"reader"}',
    "/api/v1/users": b'{"name":"refused","password":"refused password","role":"reader"}',
    "/api/v1/users/{user}": b'{"disabled":true}',
    "/api/v1/tenants/{tenant}/upstream": b'{"kind":"collector","url":"https://central.example/"}',
}
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
WRITES = ("POST", "PUT", "PATCH")


class Routes(rt.RumTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.url, cls.db = cls.fresh_database("routes")
        # Every connection is logged, with its database and application name
        # (this module's own cluster): test_5 counts rumd's.
        cls.pg.psql("ALTER SYSTEM SET log_connections = on")
        cls.pg.psql("SELECT pg_reload_conf()")
        cls.rumd = cls.start_class_rumd(database_url=cls.url)
        dev = rt.Device("C9300-24P")
        reply = cls.rumd.post(rt.pi_path("default"), dev.usage([dev.report()]))
        assert reply.status == 200, reply
        cls.tokens = {role: cls.make_token(role) for role in ("reader", "operator", "admin")}
        rt.add_tenant(cls.url, "other")
        cls.tokens["bound"] = cls.make_token("admin", tenant="other")
        proc = rt.run_rumd(["routes"])
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert lines[0].split("\t")[:4] == ["METHOD", "PATH", "ROLE", "AUDIT"], lines[0]
        cls.routes = [tuple(line.split("\t")) for line in lines[1:]]

    @classmethod
    def make_token(cls, role, tenant=None):
        proc = rt.run_rumd(["token", "create", "--role", role, "--description", "routes",
                            "--database_url=%s" % cls.url] +
                           (["--tenant", tenant] if tenant else []))
        assert proc.returncode == 0, proc.stderr
        token = proc.stdout.strip()
        assert TOKEN_RE.match(token), proc.stdout
        return token

    def call(self, method, path, role=None, body=None):
        headers = {"Authorization": "Bearer " + self.tokens[role]} if role else {}
        if method in WRITES and body is None:
            body = b""
        return self.rumd.request(method, path, body, headers, timeout=60)

    @staticmethod
    def concrete(pattern):
        """A path for a pattern: the default tenant, id 1."""
        path = pattern.replace("{tenant}", urllib.parse.quote("default", safe=""))
        return re.sub(r"\{[a-z-]+\}", "1", path)

    def admin_routes(self):
        return [r for r in self.routes if r[1].startswith("/api/")]

    def scalar(self, sql):
        return self.pg.scalar(sql, db=self.db)

    def test_1_table_lists_the_surface(self):
        patterns = {(m, p) for m, p, *_ in self.routes}
        for expected in (("*", "/cslu/v1/pi/..."), ("*", "/healthz"), ("*", "/readyz"),
                         ("POST", "/api/v1/tenants/{tenant}/exports"),
                         ("POST", "/api/v1/tenants/{tenant}/imports"),
                         ("GET", "/api/v1/tenants/{tenant}/collections/{collection}")):
            self.assertIn(expected, patterns)
        public = [(m, p) for m, p, role, *_ in self.admin_routes() if role == "public"]
        self.assertEqual(public, [("POST", "/api/v1/session")], "only signing in is public")
        for method, path, role, action, summary in self.admin_routes():
            self.assertIn(role, ("public", "reader", "operator", "admin"), path)
            self.assertNotEqual(action, "-", path)
            self.assertTrue(summary, path)
        self.assertEqual(len(patterns), len(self.routes), "a route is listed twice")

    def test_2_every_admin_route_enforces_its_role(self):
        checked = 0
        for method, pattern, role, action, _ in self.admin_routes():
            if role == "public":
                continue
            path = self.concrete(pattern)
            with self.subTest(route="%s %s" % (method, pattern)):
                body = BODIES.get(pattern) if method in WRITES else None
                reply = self.call(method, path, body=body)
                self.assertEqual(reply.status, 401, reply)
                self.assertIn("Bearer", reply.headers.get("www-authenticate", ""))
                if role in BELOW:
                    audited = int(self.scalar(
                        "SELECT count(*) FROM audit_log WHERE action = %s"
                        % rt.sql_literal(action)))
                    reply = self.call(method, path, BELOW[role], body=body)
                    self.assertEqual(reply.status, 403, reply)
                    self.assertIn(role, reply.json["message"])
                    rows = self.pg.psql(
                        "SELECT actor, result FROM audit_log WHERE action = %s ORDER BY id"
                        % rt.sql_literal(action), db=self.db)
                    self.assertEqual(len(rows), audited + 1, "refused %s not audited" % action)
                    self.assertEqual(rows[-1][1], "error")
                    self.assertTrue(rows[-1][0].startswith("token "), rows[-1])
                checked += 1
        self.assertGreaterEqual(checked, 11)
        # Nothing was changed by the refusals.
        for table in ("export_batches", "imports", "pull_targets", "collection_jobs",
                      "upstreams"):
            self.assertEqual(self.pg.count(table, db=self.db), 0, table)
        self.assertEqual(self.pg.count("tenants", "name = 'refused'", db=self.db), 0)
        self.assertEqual(self.pg.count("tenants", "smart_account = 'refused'", db=self.db), 0)

    def test_3_other_methods_are_405(self):
        by_path = {}
        for method, pattern, *_ in self.admin_routes():
            by_path.setdefault(pattern, set()).add(method)
        for pattern, methods in by_path.items():
            for method in METHODS:
                if method in methods:
                    continue
                with self.subTest(route="%s %s" % (method, pattern)):
                    reply = self.call(method, self.concrete(pattern), "admin")
                    self.assertEqual(reply.status, 405, reply)
                    for allowed in methods:
                        self.assertIn(allowed, reply.json["message"])

    def test_4_literals_ids_and_unknown_paths(self):
        base = "/api/v1/tenants/default"
        # "collect" is the literal route (POST), not pull target "collect".
        self.assertEqual(self.call("GET", base + "/pull-targets/collect", "admin").status, 405)
        reply = self.call("GET", base + "/pull-targets/abc", "admin")
        self.assertEqual(reply.status, 400, reply)
        self.assertIn("'abc' is not a pull target id", reply.json["message"])
        reply = self.call("GET", base + "/exports/0/file", "admin")
        self.assertEqual(reply.status, 400, reply)
        self.assertIn("'0' is not an export id", reply.json["message"])
        for path in (base + "/nothing", base + "/exports/1", base + "/exports/1/file/x",
                     "/api/v1/tenantz", "/api/v2/tenants/default/exports", "/cslu/v2/pi"):
            with self.subTest(path=path):
                self.assertEqual(self.call("GET", path, "admin").status, 404)
        reply = self.call("GET", "/api/v1/tenants/a%2Fb/pull-targets", "admin")
        self.assertEqual(reply.status, 400, reply)
        # Another tenant than the ones that exist: 404, as for any token.
        self.assertEqual(self.call("GET", "/api/v1/tenants/nope/pull-targets", "admin").status,
                         404)

    def test_6_a_bound_token_meets_other_tenants_as_not_found(self):
        """Every route under a tenant answers an admin token bound to another
        tenant 404, as if the tenant did not exist, and changes nothing; the
        same token is not refused on its own tenant's routes."""
        checked = 0
        before = {t: self.pg.count(t, db=self.db) for t in (
            "export_batches", "imports", "pull_targets", "collection_jobs", "alerts", "tenants",
            "upstreams")}
        for method, pattern, role, action, _ in self.admin_routes():
            if "{tenant}" not in pattern:
                continue
            with self.subTest(route="%s %s" % (method, pattern)):
                body = BODIES.get(pattern) if method in WRITES else None
                reply = self.call(method, self.concrete(pattern), "bound", body=body)
                self.assertEqual(reply.status, 404, reply)
                self.assertIn("default", reply.json["message"])
                if method == "GET":
                    own = self.concrete(pattern.replace("{tenant}", "other"))
                    self.assertNotIn(self.call(method, own, "bound").status, (401, 403), own)
                checked += 1
        self.assertGreaterEqual(checked, 20)
        after = {t: self.pg.count(t, db=self.db) for t in before}
        self.assertEqual(before, after)

    def rumd_connections(self):
        """Connections rumd has opened to this test's database so far."""
        pattern = re.compile(r"connection authorized: .*database=%s application_name=rumd\b"
                             % re.escape(self.db))
        with open(self.pg.logfile, errors="replace") as f:
            return sum(1 for line in f if pattern.search(line))

    def test_5_admin_requests_open_no_connection(self):
        base = "/api/v1/tenants/default"
        # The call connections open once the schema is ready, not per request.
        rt.wait_for(lambda: self.rumd_connections() >= 2, 10, what="rumd's connections logged")
        time.sleep(0.5)
        before = self.rumd_connections()
        batches = []
        for _ in range(5):
            reply = self.call("POST", base + "/exports", "operator", body=b'{"all":true}')
            self.assertEqual(reply.status, 201, reply)
            batches.append(reply.json["batch_id"])
        for batch in batches:
            self.assertEqual(self.call("GET", base + "/exports/%d/file" % batch,
                                       "reader").status, 200)
        for _ in range(5):
            self.assertEqual(self.call("GET", base + "/pull-targets", "reader").status, 200)
        self.assertEqual(self.pg.count("export_batches", db=self.db), 5)
        self.assertEqual(self.rumd_connections(), before,
                         "admin requests opened database connections")


if __name__ == "__main__":
    rt.main()
