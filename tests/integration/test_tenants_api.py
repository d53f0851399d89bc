"""Tenants, tokens and the audit log over the admin API: admins create,
list and update tenants and create, list and revoke tokens (a new token's
secret appears in that answer only, and it works at once; a revoked one
stops working); readers see the audit log; a token bound to a tenant sees
only its tenant and may not manage tokens or create tenants; every change
is audited; bad bodies are 400 and change nothing."""

import json

import rumtest as rt


class TenantsApi(rt.RumTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.url, cls.db = cls.fresh_database("tenants_api")
        cls.rumd = cls.start_class_rumd(database_url=cls.url)
        cls.root = cls.cli_token("admin")

    @classmethod
    def cli_token(cls, role, tenant=None):
        args = ["token", "create", "--role", role, "--database_url=%s" % cls.url]
        if tenant:
            args += ["--tenant", tenant]
        proc = rt.run_rumd(args)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    def call(self, method, path, token, body=None, status=200):
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        if method in ("POST", "PATCH") and data is None:
            data = b""
        reply = self.rumd.request(method, path, data, {"Authorization": "Bearer " + token})
        self.assertEqual(reply.status, status, reply)
        return reply.json

    def count(self, table, where="true"):
        return self.pg.count(table, where, db=self.db)

    def test_1_tenants(self):
        made = self.call("POST", "/api/v1/tenants", self.root,
                         {"name": "acme eu", "smart_account": "Acme", "virtual_account": "EU"},
                         status=201)
        self.assertEqual((made["name"], made["smart_account"], made["virtual_account"]),
                         ("acme eu", "Acme", "EU"))
        self.call("POST", "/api/v1/tenants", self.root, {"name": "acme eu"}, status=409)
        for body, words in (({"name": "a/b"}, "tenant name"), ({}, "\"name\" is needed"),
                            ({"name": "x", "colour": "red"}, "unknown field"),
                            ({"name": 5}, "must be a string"), (b"[", "not a JSON object")):
            before = self.count("tenants")
            self.assertIn(words, self.call("POST", "/api/v1/tenants", self.root, body,
                                           status=400)["message"])
            self.assertEqual(self.count("tenants"), before)
        changed = self.call("PATCH", "/api/v1/tenants/acme%20eu", self.root,
                            {"virtual_account": "EU-2"})
        self.assertEqual((changed["smart_account"], changed["virtual_account"]), ("Acme", "EU-2"))
        names = [t["name"] for t in self.call("GET", "/api/v1/tenants", self.root)["tenants"]]
        self.assertIn("acme eu", names)
        self.assertIn("default", names)
        # A token bound to a tenant sees only that one and creates none.
        bound = self.cli_token("admin", "acme eu")
        self.assertEqual([t["name"] for t in self.call("GET", "/api/v1/tenants", bound)["tenants"]],
                         ["acme eu"])
        self.call("POST", "/api/v1/tenants", bound, {"name": "sneaky"}, status=403)
        self.call("PATCH", "/api/v1/tenants/default", bound, {"smart_account": "x"}, status=404)
        self.assertEqual(self.count("tenants", "name = 'sneaky'"), 0)
        for action in ("tenant-create", "tenant-update"):
            self.assertGreaterEqual(self.count("audit_log", "action = '%s' AND result = 'ok'"
                                               % action), 1, action)

    def test_2_tokens(self):
        made = self.call("POST", "/api/v1/tokens", self.root,
                         {"role": "reader", "tenant": "default", "description": "dashboard"},
                         status=201)
        token = made["token"]
        self.assertRegex(token, r"^rumd_[0-9a-f]{64}$")
        self.assertEqual(self.count("api_tokens", "hash LIKE '%%%s%%'" % token[5:]), 0,
                         "only the hash is stored")
        listed = {t["id"]: t for t in self.call("GET", "/api/v1/tokens", self.root)["tokens"]}
        self.assertEqual((listed[made["id"]]["role"], listed[made["id"]]["tenant"]),
                         ("reader", "default"))
        self.assertNotIn(token, json.dumps(listed))
        # It works at once, for its tenant and role only.
        self.call("GET", "/api/v1/tenants/default/devices", token)
        self.call("POST", "/api/v1/tokens", token, {"role": "admin"}, status=403)
        self.call("GET", "/api/v1/tokens", token, status=403)
        bound_admin = self.cli_token("admin", "default")
        self.call("GET", "/api/v1/tokens", bound_admin, status=403)
        self.call("DELETE", "/api/v1/tokens/%d" % made["id"], bound_admin, status=403)
        for body, words in (({"role": "god"}, "role"), ({}, "\"role\" is needed"),
                            ({"role": "reader", "tenant": "nope"}, "nope")):
            reply = self.call("POST", "/api/v1/tokens", self.root, body,
                              status=404 if "tenant" in body else 400)
            self.assertIn(words, reply["message"])
        revoked = self.call("DELETE", "/api/v1/tokens/%d" % made["id"], self.root)
        self.assertEqual(revoked["revoked"], made["id"])
        self.call("GET", "/api/v1/tenants/default/devices", token, status=401)
        self.call("DELETE", "/api/v1/tokens/999999", self.root, status=404)
        for action in ("token-create", "token-revoke"):
            self.assertGreaterEqual(self.count("audit_log", "action = '%s' AND result = 'ok' "
                                               "AND actor LIKE 'token %%'" % action), 1, action)

    def test_3_audit_log(self):
        reader = self.cli_token("reader")
        page = self.call("GET", "/api/v1/audit?limit=2", reader)
        self.assertEqual(len(page["entries"]), 2)
        self.assertGreater(page["entries"][0]["id"], page["entries"][1]["id"])
        more = self.call("GET", "/api/v1/audit?limit=2&cursor=" + page["next_cursor"], reader)
        self.assertLess(more["entries"][0]["id"], page["entries"][1]["id"])
        bound = self.cli_token("reader", "default")
        rows = self.call("GET", "/api/v1/audit?limit=500", bound)["entries"]
        self.assertTrue(all(r["tenant"] == "default" for r in rows), rows)
        self.call("GET", "/api/v1/audit?cursor=x", reader, status=400)
        self.call("GET", "/api/v1/audit?limit=501", reader, status=400)


if __name__ == "__main__":
    rt.main()
