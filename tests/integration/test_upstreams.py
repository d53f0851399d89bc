"""Connected mode's configuration: a tenant's upstream (CSSM's Smart
Licensing REST API or another collector) set, shown, replaced and removed
with `rumd upstream ...` and over the admin API (GET/PUT/DELETE
/api/v1/tenants/<tenant>/upstream, GET /api/v1/upstreams).

What users rely on: every bad value is refused with a message naming the
field, and changes nothing; the client secret and the proxy password are
write-only (never on a command line, never in an answer, `show`, the audit
log, rumd's log or `check-config`) and sealed in the database under
secret_key_file, bound to the tenant and the field; a replace without them
keeps them only where they still belong; the API's roles hold; a tenant's
upstream goes with the tenant."""

import json
import os
import re

import rumtest as rt

try:  # Debian's python3-cryptography (ncclient needs it): opens the seals.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except ImportError:  # pragma: no cover
    AESGCM = None

CLIENT_SECRET = "cssm-client-secret-7Hq2PzV9"
CLIENT_SECRET_2 = "cssm-client-secret-second-Xk4Lm0"
PROXY_PASSWORD = "proxy-pass-Wr8Dn5Qs"
API_SECRET = "api-given-client-secret-Jc3Fe6"
API_PROXY_PASSWORD = "api-given-proxy-password-Tb7Yu1"
URL_PASSWORD = "in-url-password-Gg5Hh6"
SECRETS = (CLIENT_SECRET, CLIENT_SECRET_2, PROXY_PASSWORD, API_SECRET, API_PROXY_PASSWORD,
           URL_PASSWORD)
T = "/api/v1/tenants/%s/upstream"


class Upstreams(rt.RumTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.url, cls.db = cls.fresh_database("upstreams")
        cls.data = rt.make_tempdir("upstreams-data-", 0o755)
        cls.tmp = rt.make_tempdir("upstreams-files-")
        cls.files = {}
        for name, text in (("secret", CLIENT_SECRET + "\n"), ("secret2", CLIENT_SECRET_2),
                           ("proxy_pw", PROXY_PASSWORD + "\n"), ("empty", ""),
                           ("long", "x" * 1025), ("control", "a\x01b"),
                           ("ca.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n"
                                      "-----END CERTIFICATE-----\n")):
            path = os.path.join(cls.tmp, name)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, 0o600)
            cls.files[name] = path
        for tenant in ("ups-a", "ups-b", "ups-api", "ups-gone"):
            rt.add_tenant(cls.url, tenant)
        cls.outputs = []  # every CLI output, searched for secrets at the end
        cls.rumd = cls.start_class_rumd(database_url=cls.url, data_dir=cls.data,
                                        flags={"log_requests": "true", "log_level": "debug"})
        cls.tokens = {role: cls.token(role) for role in ("reader", "operator", "admin")}
        cls.tokens["bound"] = cls.token("admin", "ups-b")

    @classmethod
    def token(cls, role, tenant=None):
        proc = rt.run_rumd(["token", "create", "--role", role, "--database_url=" + cls.url] +
                           (["--tenant", tenant] if tenant else []))
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    # -- helpers ---------------------------------------------------------------

    def cli(self, *args, ok=True, input=None):
        proc = rt.run_rumd(["upstream", *args, "--database_url=" + self.url,
                            "--data_dir=" + self.data], input=input)
        self.outputs.append(proc.stdout + proc.stderr)
        if ok is not None:
            self.assertEqual(proc.returncode == 0, ok, "rumd upstream %s:\n%s%s"
                             % (" ".join(args), proc.stdout, proc.stderr))
        return proc

    def cssm_args(self, tenant="ups-a", *extra):
        return ("set", "--tenant", tenant, "--kind", "cssm", "--client-id", "rumd-client",
                "--smart-account-id", "123456", "--virtual-account-id", "7890", *extra)

    def row(self, tenant):
        """The stored upstream of tenant, secrets as hex; None when it has none."""
        rows = self.pg.psql(
            "SELECT u.kind, u.url, u.token_url, u.api_url, u.client_id, "
            "encode(u.client_secret, 'hex'), u.smart_account_id, u.virtual_account_id, "
            "u.smart_account_name, u.virtual_account_name, u.proxy, "
            "encode(u.proxy_password, 'hex'), u.ca_file, u.connect_timeout_s, "
            "u.request_timeout_s, u.sync_interval_s, u.sync_soon_s, u.updated_at "
            "FROM upstreams u JOIN tenants t ON t.id = u.tenant_id WHERE t.name = %s"
            % rt.sql_literal(tenant), db=self.db)
        return tuple(rows[0]) if rows else None

    def tenant_id(self, tenant):
        return int(self.pg.scalar("SELECT id FROM tenants WHERE name = %s"
                                  % rt.sql_literal(tenant), db=self.db))

    def unseal(self, tenant, field, sealed_hex):
        """Opens a sealed value as rumd does: AES-256-GCM under the key file,
        bound to tenant and field; None without python3-cryptography."""
        if AESGCM is None:
            return None
        with open(os.path.join(self.data, "secret.key")) as f:
            key = bytes.fromhex(f.read().strip())
        sealed = bytes.fromhex(sealed_hex)
        aad = ("rumd upstream secret v1\n%d\n%s" % (self.tenant_id(tenant), field)).encode()
        return AESGCM(key).decrypt(sealed[:12], sealed[12:], aad).decode()

    def assertSealed(self, tenant, field, sealed_hex, plain):
        self.assertTrue(sealed_hex, "%s not stored" % field)
        self.assertNotIn(plain.encode().hex(), sealed_hex)
        self.assertEqual(len(sealed_hex) // 2, len(plain) + 12 + 16)
        opened = self.unseal(tenant, field, sealed_hex)
        if opened is not None:
            self.assertEqual(opened, plain)
            other = "proxy_password" if field == "client_secret" else "client_secret"
            with self.assertRaises(Exception, msg="a seal opens for another field"):
                self.unseal(tenant, other, sealed_hex)

    def show(self, tenant):
        out = self.cli("show", "--tenant", tenant).stdout
        return {k.strip(): v.strip() for k, v in
                (line.split(":", 1) for line in out.splitlines() if ":" in line)}

    def api(self, method, path, role="admin", body=None, status=200):
        headers = {"Authorization": "Bearer " + self.tokens[role]} if role else {}
        data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
        reply = self.rumd.request(method, path, data, headers)
        self.outputs.append(reply.raw.decode(errors="replace"))
        self.assertEqual(reply.status, status, reply)
        return reply.json

    def audit(self, action):
        return self.pg.psql("SELECT actor, tenant, result, details::text FROM audit_log "
                            "WHERE action = %s ORDER BY id" % rt.sql_literal(action),
                            db=self.db)

    # -- the CLI -----------------------------------------------------------------

    def test_1_cli_cssm(self):
        out = self.cli(*self.cssm_args(
            "ups-a", "--client-secret-file", self.files["secret"],
            "--proxy", "http://squid@proxy.example:3128",
            "--proxy-password-file", self.files["proxy_pw"], "--ca-file", self.files["ca.pem"],
            "--connect-timeout", "15s", "--timeout", "2m", "--interval", "12h",
            "--sync-soon", "5m")).stdout
        self.assertIn("upstream of tenant 'ups-a' created", out)
        shown = self.show("ups-a")
        self.assertEqual(shown["kind"], "cssm (Cisco's Smart Licensing REST API)")
        self.assertEqual(shown["client id"], "rumd-client")
        self.assertEqual(shown["client secret"], "set (sealed; never shown)")
        self.assertEqual(shown["accounts"], "Smart Account id 123456, Virtual Account id 7890")
        self.assertEqual(shown["token URL"], "https://cloudsso.cisco.com/as/token.oauth2 "
                                             "(Cisco's)")
        self.assertTrue(shown["API URL"].startswith("https://swapi.cisco.com/"), shown)
        self.assertEqual(shown["proxy"], "http://squid@proxy.example:3128, password set "
                                         "(sealed; never shown)")
        self.assertEqual(shown["CA bundle"], self.files["ca.pem"])
        self.assertEqual(shown["timeouts"], "connect 15s, request 2m")
        self.assertEqual(shown["sync"], "every 12h, and 5m after new reports arrive")
        row = self.row("ups-a")
        self.assertEqual(row[:5], ("cssm", "", "", "", "rumd-client"))
        self.assertEqual(row[10], "http://squid@proxy.example:3128")
        self.assertEqual(row[12:17], (self.files["ca.pem"], "15", "120", "43200", "300"))
        self.assertSealed("ups-a", "client_secret", row[5], CLIENT_SECRET)
        self.assertSealed("ups-a", "proxy_password", row[11], PROXY_PASSWORD)

        # A replace without the secrets keeps both: same client id, same proxy.
        self.cli(*self.cssm_args("ups-a", "--proxy", "http://squid@proxy.example:3128",
                                 "--interval", "1d"))
        kept = self.row("ups-a")
        self.assertEqual((kept[5], kept[11], kept[15], kept[16]), (row[5], row[11], "86400", ""))
        self.assertEqual(kept[12:15], ("", "10", "120"), "a replace is whole: defaults again")
        details = json.loads(self.audit("upstream-set")[-1][3])
        self.assertEqual(details["created"], False)
        self.assertEqual(set(details["changed"].split(",")),
                         {"ca_file", "connect_timeout", "interval", "sync_soon"})

        # Another proxy: the old password is not sent to it.
        self.cli(*self.cssm_args("ups-a", "--proxy", "http://other.example:8080"))
        self.assertEqual(self.row("ups-a")[11], "")
        self.assertEqual(self.show("ups-a")["proxy"], "http://other.example:8080")

        # A new client id needs its secret; from standard input it is.
        proc = self.cli("set", "--tenant", "ups-a", "--kind", "cssm", "--client-id", "new-id",
                        "--smart-account-id", "1", "--virtual-account-id", "2", ok=False)
        self.assertIn("client-secret: needed", proc.stderr)
        self.assertEqual(self.row("ups-a")[4], "rumd-client")
        self.cli("set", "--tenant", "ups-a", "--kind", "cssm", "--client-id", "new-id",
                 "--smart-account", "Acme Corp", "--virtual-account", "EU Labs",
                 "--token-url", "https://cloudsso.example.test/as/token.oauth2",
                 "--client-secret-stdin", input=CLIENT_SECRET_2 + "\n")
        row = self.row("ups-a")
        self.assertEqual(row[6:10], ("", "", "Acme Corp", "EU Labs"))
        self.assertEqual(row[2], "https://cloudsso.example.test/as/token.oauth2")
        self.assertSealed("ups-a", "client_secret", row[5], CLIENT_SECRET_2)
        shown = self.show("ups-a")
        self.assertEqual(shown["accounts"], "Smart Account 'Acme Corp', Virtual Account "
                                            "'EU Labs' (resolved with accounts/search)")
        self.assertEqual(shown["token URL"], "https://cloudsso.example.test/as/token.oauth2")

    def test_2_cli_collector_and_remove(self):
        self.cli("set", "--tenant", "ups-b", "--kind", "cssm", "--client-id", "c",
                 "--client-secret-file", self.files["secret2"], "--smart-account-id", "1",
                 "--virtual-account-id", "2")
        out = self.cli("set", "--tenant", "ups-b", "--kind", "collector", "--url",
                       "https://central.example:8182/cslu/v1/pi/site%20b", "--proxy",
                       "direct").stdout
        self.assertIn("upstream of tenant 'ups-b' replaced", out)
        row = self.row("ups-b")
        self.assertEqual(row[:6], ("collector", "https://central.example:8182/cslu/v1/pi/site%20b",
                                   "", "", "", ""), "cssm fields stay behind")
        shown = self.show("ups-b")
        self.assertEqual(shown["kind"], "collector (another collector's device endpoint)")
        self.assertEqual(shown["proxy"], "direct (none)")
        self.assertNotIn("client secret", shown)
        listed = self.cli("show").stdout
        self.assertIn("tenant:          ups-a", listed)
        self.assertIn("tenant:          ups-b", listed)
        self.assertIn("removed", self.cli("remove", "--tenant", "ups-b").stdout)
        self.assertIsNone(self.row("ups-b"))
        self.assertIn("tenant 'ups-b' has no upstream",
                      self.cli("show", "--tenant", "ups-b", ok=False).stderr)
        self.assertIn("tenant 'ups-b' has no upstream",
                      self.cli("remove", "--tenant", "ups-b", ok=False).stderr)
        self.assertIn("unknown tenant 'nope'",
                      self.cli("remove", "--tenant", "nope", ok=False).stderr)
        self.assertIn("--tenant NAME", self.cli("remove", ok=False).stderr)
        actors = [(a, t, r) for a, t, r, _ in self.audit("upstream-remove")]
        self.assertIn(("cli", "ups-b", "ok"), actors)

    def test_3_cli_refuses_bad_input_and_changes_nothing(self):
        self.cli(*self.cssm_args("ups-gone", "--client-secret-file", self.files["secret"]))
        before = self.row("ups-gone")
        f = self.files
        cases = [
            (("--kind", "cssm"), "--tenant NAME", "ups-gone"),
            ((), "--kind cssm or --kind collector", None),
            (("--kind", "cloud"), "kind: expected cssm", None),
            (("--kind", "cssm", "--smart-account-id", "1", "--virtual-account-id", "2"),
             "client-id:", None),
            (("--kind", "cssm", "--client-id", "two words", "--smart-account-id", "1",
              "--virtual-account-id", "2"), "client-id:", None),
            (("--kind", "cssm", "--client-id", "c"), "smart-account-id: a cssm upstream needs",
             None),
            (("--kind", "cssm", "--client-id", "c", "--smart-account-id", "12a",
              "--virtual-account-id", "2"), "smart-account-id: 1 to 20 digits", None),
            (("--kind", "cssm", "--client-id", "c", "--smart-account-id", "1" * 21,
              "--virtual-account-id", "2"), "smart-account-id: 1 to 20 digits", None),
            (("--kind", "cssm", "--client-id", "c", "--smart-account-id", "1"),
             "virtual-account-id: needed", None),
            (("--kind", "cssm", "--client-id", "c", "--smart-account-id", "1",
              "--virtual-account-id", "2", "--smart-account", "A"), "by ids or by names", None),
            (("--kind", "cssm", "--client-id", "c", "--smart-account", "A" * 257,
              "--virtual-account", "B"), "smart-account: 1 to 256", None),
            (("--kind", "cssm", "--client-id", "c", "--virtual-account", "B"),
             "smart-account: needed", None),
            (("--token-url", "ftp://cloudsso.example/"), "token-url: not an http:// or https://",
             "cssm"),
            (("--api-url", "https://user@swapi.example/"), "api-url: a user name", "cssm"),
            (("--api-url", "https://swapi.example:0/"), "api-url: the port", "cssm"),
            (("--url", "https://central:8182/cslu/v1/pi/x"), "url: only for kind collector",
             "cssm"),
            (("--client-secret", CLIENT_SECRET), "--client-secret: a secret on the command line",
             "cssm"),
            (("--client-secret-file", f["secret"], "--client-secret-stdin"), "exclude each other",
             "cssm"),
            (("--client-secret-file", f["empty"]), "client-secret: 1 to 1024", "cssm"),
            (("--client-secret-file", f["long"]), "client-secret", "cssm"),
            (("--client-secret-file", f["control"]), "client-secret: 1 to 1024", "cssm"),
            (("--client-secret-file", os.path.join(self.tmp, "missing")), "--client-secret-file",
             "cssm"),
            (("--proxy", "http://squid:%s@proxy:3128" % URL_PASSWORD),
             "proxy: a password does not belong in the URL", "cssm"),
            (("--proxy", "socks5://proxy:1080"), "proxy: not an http:// or https://", "cssm"),
            (("--proxy", "http://proxy:3128/path"), "proxy: a proxy URL has no path", "cssm"),
            (("--proxy-password-file", f["proxy_pw"]), "proxy-password: only with a proxy URL",
             "cssm"),
            (("--proxy", "http://proxy:3128", "--proxy-password-file", f["proxy_pw"]),
             "proxy-password: the proxy URL names no user", "cssm"),
            (("--proxy-password", PROXY_PASSWORD), "--proxy-password: a password on the command",
             "cssm"),
            (("--ca-file", os.path.join(self.tmp, "nope.pem")), "ca-file: %s" % self.tmp, "cssm"),
            (("--ca-file", "relative.pem"), "ca-file: an absolute path", "cssm"),
            (("--ca-file", self.tmp), "ca-file: %s is not a regular file" % self.tmp, "cssm"),
            (("--timeout", "0"), "--timeout: '0' is not a duration", "cssm"),
            (("--timeout", "2h"), "timeout: 1 to 3600 seconds", "cssm"),
            (("--connect-timeout", "301"), "connect-timeout: 1 to 300 seconds", "cssm"),
            (("--interval", "4m"), "interval: 5 minutes to 366 days", "cssm"),
            (("--interval", "367d"), "interval: 5 minutes to 366 days", "cssm"),
            (("--interval", "daily"), "--interval: 'daily' is not a duration", "cssm"),
            (("--sync-soon", "30s"), "sync-soon: 1 minute to 1 day", "cssm"),
            (("--kind", "collector"), "url: a collector upstream needs", None),
            (("--kind", "collector", "--url", "central:8182"), "url: not an http:// or https://",
             None),
            (("--kind", "collector", "--url", "https://u:%s@central/" % URL_PASSWORD),
             "url: a password does not belong in the URL", None),
            (("--kind", "collector", "--url", "https://central/", "--client-id", "c"),
             "client-id: only for kind cssm", None),
            (("--kind", "collector", "--url", "https://central/", "--client-secret-file",
              f["secret"]), "client-secret: only for kind cssm", None),
            (("--kind", "collector", "--url", "https://central/", "--smart-account", "A"),
             "smart-account: only for kind cssm", None),
            (("--colour", "blue"), "unknown option --colour", "cssm"),
        ]
        for args, words, base in cases:
            with self.subTest(args=args):
                tenant = ("--tenant", "ups-gone") if base != "ups-gone" else ()
                if base == "cssm":
                    full = self.cssm_args("ups-gone", *args)
                else:
                    full = ("set",) + tenant + args
                proc = self.cli(*full, ok=False)
                self.assertEqual(proc.returncode, 1)
                self.assertIn(words, proc.stderr)
                self.assertNotIn(URL_PASSWORD, proc.stderr + proc.stdout)
                self.assertEqual(self.row("ups-gone"), before, "a refused set changed the row")
        proc = self.cli(*self.cssm_args("nope", "--client-secret-file", f["secret"]), ok=False)
        self.assertIn("unknown tenant 'nope'", proc.stderr)
        self.assertIn("takes --tenant only", self.cli("show", "--kind", "cssm", ok=False).stderr)
        self.assertIn("usage: rumd upstream", self.cli("frobnicate", ok=False).stderr)

    def test_4_cascade_with_the_tenant(self):
        self.cli("set", "--tenant", "ups-gone", "--kind", "collector", "--url",
                 "http://central.example:8182/cslu/v1/pi")
        self.assertIsNotNone(self.row("ups-gone"))
        self.pg.psql("DELETE FROM tenants WHERE name = 'ups-gone'", db=self.db)
        self.assertEqual(self.pg.count("upstreams", "tenant_id NOT IN (SELECT id FROM tenants)",
                                       db=self.db), 0)
        self.assertNotIn("ups-gone", self.cli("show").stdout)

    # -- the admin API -------------------------------------------------------------

    def test_5_api(self):
        path = T % "ups-api"
        body = {"kind": "cssm", "client_id": "api-client", "client_secret": API_SECRET,
                "smart_account_id": 987654321, "virtual_account_id": "42",
                "api_url": "https://swapi.example.test/services/api/smart-accounts-and-"
                           "licensing/v2/",
                "proxy": "https://squid@proxy.example:3129",
                "proxy_password": API_PROXY_PASSWORD, "timeout": "90s", "connect_timeout": 5,
                "interval": "6h", "sync_soon": 600}
        self.api("GET", path, status=404)
        for role, status in ((None, 401), ("reader", 403), ("operator", 403), ("bound", 404)):
            with self.subTest(role=role):
                self.api("PUT", path, role, body, status=status)
        self.assertIsNone(self.row("ups-api"))
        made = self.api("PUT", path, body=body, status=201)
        self.assertEqual(
            (made["tenant"], made["kind"], made["client_id"], made["has_client_secret"],
             made["smart_account_id"], made["virtual_account_id"], made["smart_account"],
             made["proxy"], made["has_proxy_password"], made["timeout_s"],
             made["connect_timeout_s"], made["interval_s"], made["sync_soon_s"], made["url"]),
            ("ups-api", "cssm", "api-client", True, "987654321", "42", None,
             "https://squid@proxy.example:3129", True, 90, 5, 21600, 600, None))
        self.assertEqual(made["token_url"], "https://cloudsso.cisco.com/as/token.oauth2")
        self.assertTrue(made["api_url"].startswith("https://swapi.example.test/"))
        self.assertNotIn("client_secret", made)
        self.assertNotIn("proxy_password", made)
        row = self.row("ups-api")
        self.assertSealed("ups-api", "client_secret", row[5], API_SECRET)
        self.assertSealed("ups-api", "proxy_password", row[11], API_PROXY_PASSWORD)
        self.assertEqual(self.api("GET", path, "reader"), made)

        # A replace without the secrets keeps them; sync_soon null is off.
        kept = dict(body)
        del kept["client_secret"], kept["proxy_password"]
        kept["sync_soon"] = None
        again = self.api("PUT", path, body=kept, status=200)
        self.assertEqual((again["has_client_secret"], again["has_proxy_password"],
                          again["sync_soon_s"]), (True, True, None))
        self.assertEqual(self.row("ups-api")[5], row[5])

        # Lists: an admin sees every tenant's, a bound token its own tenant's.
        names = [u["tenant"] for u in self.api("GET", "/api/v1/upstreams")["upstreams"]]
        self.assertIn("ups-api", names)
        self.api("GET", "/api/v1/upstreams", "operator", status=403)
        self.assertEqual(self.api("GET", "/api/v1/upstreams", "bound")["upstreams"], [])
        self.api("GET", path, "bound", status=404)

        bad = [
            ({"kind": "cssm"}, "client-id:"),
            ({}, "\"kind\" is needed"),
            (b"{", "not a JSON object"),
            (b"[]", "not a JSON object"),
            ({"kind": "cssm", "colour": "red"}, "unknown field \"colour\""),
            ({"kind": 1}, "\"kind\" must be a string"),
            ({"kind": "cssm", "client_secret": 5}, "\"client_secret\" must be a string"),
            (dict(kept, smart_account_id="12-34"), "smart-account-id: 1 to 20 digits"),
            (dict(kept, smart_account_id=-1), "\"smart_account_id\" must be a string"),
            (dict(kept, smart_account="Acme"), "by ids or by names"),
            (dict(kept, client_id="other"), "client-secret: needed"),
            (dict(kept, proxy="http://squid:%s@proxy:3128" % URL_PASSWORD),
             "proxy: a password does not belong"),
            (dict(kept, proxy="direct", proxy_password="x"), "proxy-password: only with"),
            (dict(kept, token_url="file:///etc/passwd"), "token-url: not an http"),
            (dict(kept, url="https://central/"), "url: only for kind collector"),
            (dict(kept, ca_file="/nonexistent/ca.pem"), "ca-file: /nonexistent/ca.pem"),
            (dict(kept, timeout=0), "\"timeout\" must be seconds"),
            (dict(kept, timeout=3601), "timeout: 1 to 3600 seconds"),
            (dict(kept, interval=299), "interval: 5 minutes"),
            (dict(kept, interval="1y"), "\"interval\" must be seconds"),
            (dict(kept, sync_soon=59), "sync-soon: 1 minute"),
            ({"kind": "collector", "url": "https://central/", "client_id": "c"},
             "client-id: only for kind cssm"),
        ]
        stored = self.row("ups-api")
        for payload, words in bad:
            with self.subTest(body=payload):
                reply = self.api("PUT", path, body=payload, status=400)
                self.assertIn(words, reply["message"])
                self.assertNotIn(URL_PASSWORD, reply["message"])
                self.assertEqual(self.row("ups-api"), stored)
                self.assertEqual(self.api("GET", path, "reader"), again,
                                 "a refused PUT changed the upstream")
        self.api("PUT", T % "nope", body=kept, status=404)

        # collector, then removed.
        coll = self.api("PUT", path, body={"kind": "collector",
                                           "url": "https://central.example/cslu/v1/pi/site",
                                           "proxy": "direct"})
        self.assertEqual((coll["kind"], coll["url"], coll["client_id"], coll["has_client_secret"],
                          coll["token_url"], coll["proxy"], coll["has_proxy_password"]),
                         ("collector", "https://central.example/cslu/v1/pi/site", None, False,
                          None, "direct", False))
        self.assertEqual(self.row("ups-api")[5], "", "the client secret went with cssm")
        self.api("DELETE", path, "operator", status=403)
        self.assertEqual(self.api("DELETE", path), {"status": "OK", "tenant": "ups-api"})
        self.api("DELETE", path, status=404)
        self.api("GET", path, "reader", status=404)
        audit = self.audit("upstream-set")
        tokens = [r for r in audit if r[0].startswith("token ")]
        self.assertTrue(any(r[2] == "ok" for r in tokens))
        self.assertTrue(any(r[2] == "error" for r in tokens), "refused sets are audited")
        removes = [r[2] for r in self.audit("upstream-remove") if r[0].startswith("token ")]
        # Refused to the operator, done, then nothing left to remove.
        self.assertEqual(removes, ["error", "ok", "error"])

    # -- secrets appear nowhere ------------------------------------------------------

    def test_6_check_config_shows_settings_without_secrets(self):
        pw = os.path.join(self.tmp, "global_pw")
        with open(pw, "w") as f:
            f.write(PROXY_PASSWORD + "\n")
        os.chmod(pw, 0o600)
        proc = rt.run_rumd(["check-config", "--upstream_proxy=http://squid@proxy.example:3128",
                            "--upstream_proxy_password_file=" + pw,
                            "--upstream_ca_file=" + self.files["ca.pem"]])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("upstream_proxy = http://squid@proxy.example:3128  # flag", proc.stdout)
        self.assertIn("upstream_proxy_password_file = %s  # flag" % pw, proc.stdout)
        self.assertIn("upstream_ca_file = %s  # flag" % self.files["ca.pem"], proc.stdout)
        self.outputs.append(proc.stdout + proc.stderr)
        for args, words in (
                (["--upstream_proxy=http://squid:%s@proxy:3128" % URL_PASSWORD],
                 "upstream_proxy: a password does not belong in the URL"),
                (["--upstream_proxy=ftp://proxy"], "upstream_proxy: not an http"),
                (["--upstream_proxy_password_file=" + pw], "needs upstream_proxy"),
                (["--upstream_proxy=http://proxy:3128", "--upstream_proxy_password_file=" + pw],
                 "names no user"),
                (["--upstream_ca_file=/nonexistent.pem"], "upstream_ca_file /nonexistent.pem")):
            with self.subTest(args=args):
                proc = rt.run_rumd(["check-config", *args])
                self.outputs.append(proc.stdout + proc.stderr)
                self.assertEqual(proc.returncode, 1)
                self.assertIn(words, proc.stderr)
        os.chmod(pw, 0o644)
        proc = rt.run_rumd(["check-config", "--upstream_proxy=http://squid@proxy:3128",
                            "--upstream_proxy_password_file=" + pw])
        self.assertEqual(proc.returncode, 1)
        self.assertIn("lets others read the proxy password", proc.stderr)
        proc = rt.run_rumd(["check-config"], env={
            "RUMD_UPSTREAM_PROXY": "http://u:%s@proxy:3128" % URL_PASSWORD})
        self.assertEqual(proc.returncode, 1)
        self.outputs.append(proc.stdout + proc.stderr)
        # The node's settings are what a tenant without a proxy of its own uses.
        self.cli("set", "--tenant", "ups-b", "--kind", "collector", "--url",
                 "https://central.example/cslu/v1/pi")
        proc = rt.run_rumd(["upstream", "show", "--tenant", "ups-b", "--database_url=" + self.url,
                            "--upstream_proxy=http://squid@proxy.example:3128",
                            "--upstream_proxy_password_file=" + self.files["proxy_pw"],
                            "--upstream_ca_file=" + self.files["ca.pem"]])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertIn("proxy:           the node's upstream_proxy: http://squid@proxy.example:3128, "
                      "password from upstream_proxy_password_file", proc.stdout)
        self.assertIn("CA bundle:       the node's upstream_ca_file: " + self.files["ca.pem"],
                      proc.stdout)
        self.outputs.append(proc.stdout + proc.stderr)

    def test_7_secrets_are_nowhere_else(self):
        """Run last: CLI output, API answers, the audit log, rumd's log and
        check-config never held a secret; the database holds them sealed."""
        self.assertGreater(len(self.outputs), 50)
        everything = "\n".join(self.outputs)
        audit = json.dumps(self.pg.psql("SELECT * FROM audit_log", db=self.db))
        self.assertIn("upstream-set", audit)
        log = self.rumd.log()
        self.assertIn("/upstream", log, "requests are logged (log_requests)")
        rows = json.dumps(self.pg.psql("SELECT u.*, t.* FROM upstreams u JOIN tenants t "
                                       "ON t.id = u.tenant_id", db=self.db))
        for secret in SECRETS:
            with self.subTest(secret=secret):
                self.assertNotIn(secret, everything)
                self.assertNotIn(secret, audit)
                self.assertNotIn(secret, log)
                self.assertNotIn(secret, rows)
                self.assertNotIn(secret.encode().hex(), rows)
        self.assertTrue(re.search(r"\\x|[0-9a-f]{40}", rows), "sealed values are stored")


if __name__ == "__main__":
    rt.main()
