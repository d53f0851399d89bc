"""Browser sessions of the admin console (/api/v1/session): signing in with a
bearer token or a local user's password gives an HttpOnly, SameSite=Strict
cookie (Secure over HTTPS) and a CSRF token; the session acts with the
token's or user's role and tenant; a change needs the CSRF token; signing
out, a revoked token, a disabled user, a new password, idleness and the
session's age end it; sign-ins (failed ones too) and sign-outs are audited,
and neither a password nor a secret is ever stored or logged."""

import json
import os
import re
import time

import rumtest as rt
from test_https import make_certificate

COOKIE_RE = re.compile(r"^rumd_session=([0-9a-f]{64}); Path=/; HttpOnly; SameSite=Strict$")
PASSWORD = "correct horse battery staple"


class WebSession(rt.RumTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.url, cls.db = cls.fresh_database("websession")
        rt.add_tenant(cls.url, "other")
        tls = rt.make_tempdir("rumtest-tls-")
        cert, key = make_certificate(tls)
        cls.rumd = cls.start_class_rumd(database_url=cls.url, flags={
            "https_listen": "127.0.0.1:0", "tls_cert": cert, "tls_key": key,
            "web_session_idle_s": 60})
        cls.tokens = {}
        for role, tenant in (("reader", None), ("operator", None), ("admin", None),
                             ("operator", "other")):
            args = ["token", "create", "--role", role, "--database_url=%s" % cls.url]
            if tenant:
                args += ["--tenant", tenant]
            proc = rt.run_rumd(args)
            assert proc.returncode == 0, proc.stderr
            cls.tokens[(role, tenant)] = proc.stdout.strip()
        cls.pwfile = os.path.join(tls, "pw")
        with open(cls.pwfile, "w") as f:
            f.write(PASSWORD + "\n")

    def user(self, *args, expect=0, input=None):
        proc = rt.run_rumd(["user"] + list(args) + ["--database_url=%s" % self.url],
                           input=input)
        self.assertEqual(proc.returncode, expect, proc.stdout + proc.stderr)
        return proc

    def sign_in(self, body, status=201, scheme="http"):
        reply = self.rumd.request("POST", "/api/v1/session", json.dumps(body).encode(),
                                  scheme=scheme)
        self.assertEqual(reply.status, status, reply)
        return reply

    def session(self, reply):
        """(cookie header value, CSRF token) of a sign-in's reply."""
        m = COOKIE_RE.match(reply.headers.get("set-cookie", "").replace("; Secure", ""))
        self.assertTrue(m, reply.headers)
        return "rumd_session=" + m.group(1), reply.json["csrf_token"]

    def call(self, method, path, cookie, csrf=None, body=None, status=200):
        headers = {"Cookie": cookie}
        if csrf:
            headers["X-CSRF-Token"] = csrf
        if method in ("POST", "PATCH") and body is None:
            body = b""
        reply = self.rumd.request(method, path, body, headers)
        self.assertEqual(reply.status, status, reply)
        return reply

    def audit(self, action):
        return self.pg.psql("SELECT actor, result, details::text FROM audit_log "
                            "WHERE action = '%s' ORDER BY id" % action, db=self.db)

    def test_1_token_session_cookie_csrf_and_sign_out(self):
        reply = self.sign_in({"token": self.tokens[("operator", None)]})
        cookie, csrf = self.session(reply)
        self.assertNotIn("Secure", reply.headers["set-cookie"])
        self.assertNotIn(cookie.split("=")[1], reply.raw.decode())
        self.assertEqual(reply.json["role"], "operator")
        self.assertIsNone(reply.json["tenant"])
        self.assertTrue(reply.json["session"])
        self.assertRegex(reply.json["csrf_token"], "^[0-9a-f]{64}$")
        # Reads need only the cookie; the page learns its CSRF token again.
        me = self.call("GET", "/api/v1/session", cookie).json
        self.assertEqual(me["csrf_token"], csrf)
        self.assertRegex(me["actor"], r"^token \d+ \(rumd_[0-9a-f]{8}\) session \d+$")
        self.call("GET", "/api/v1/tenants/default/devices", cookie)
        # A change without the CSRF token, or with another, is refused and
        # changes nothing; with it, it is done.
        for bad in (None, "0" * 64, csrf[:-1]):
            reply = self.call("POST", "/api/v1/tenants/default/exports", cookie, bad,
                              status=403)
            self.assertIn("X-CSRF-Token", reply.json["message"])
        self.assertEqual(self.pg.count("export_batches", db=self.db), 0)
        self.call("POST", "/api/v1/tenants/default/exports", cookie, csrf)  # nothing to export
        self.assertRegex(self.audit("export")[-1][0], r"^token \d+ \(rumd_[0-9a-f]{8}\) session")
        # The role is the token's: an operator session cannot create tokens.
        self.call("POST", "/api/v1/tokens", cookie, csrf, b'{"role":"reader"}', status=403)
        # Signing out needs the CSRF token too; afterwards the cookie is dead.
        self.call("DELETE", "/api/v1/session", cookie, status=403)
        reply = self.call("DELETE", "/api/v1/session", cookie, csrf)
        self.assertIn("Max-Age=0", reply.headers["set-cookie"])
        reply = self.call("GET", "/api/v1/session", cookie, status=401)
        self.assertIn("sign in again", reply.json["message"])
        rows = self.audit("sign-in")
        self.assertEqual(rows[-1][1], "ok")
        self.assertIn('"method": "token"', rows[-1][2])
        self.assertEqual(self.audit("sign-out")[-1][1], "ok")

    def test_2_cookie_is_secure_over_https(self):
        reply = self.sign_in({"token": self.tokens[("reader", None)]}, scheme="https")
        self.assertTrue(reply.headers["set-cookie"].endswith("; Secure"), reply.headers)

    def test_3_users_sign_in_with_a_password(self):
        self.user("add", "alice", "--role", "admin", "--password-file", self.pwfile)
        self.user("add", "bob", "--role", "reader", "--tenant", "other", input=PASSWORD + "\n")
        self.assertIn("exists", self.user("add", "alice", "--role", "reader", "--password-file",
                                          self.pwfile, expect=1).stderr)
        self.assertIn("12 to 1024", self.user("add", "carol", "--role", "reader",
                                              input="short\n", expect=1).stderr)
        self.assertIn("a user name", self.user("add", "-x", "--role", "reader",
                                               input=PASSWORD, expect=1).stderr)
        self.assertIn("unknown tenant", self.user("add", "dave", "--role", "reader", "--tenant",
                                                  "nope", input=PASSWORD, expect=1).stderr)
        stored = self.pg.scalar("SELECT password_hash FROM web_users WHERE name = 'alice'",
                                db=self.db)
        self.assertRegex(stored, r"^\$scrypt\$ln=15,r=8,p=1\$[0-9a-f]{32}\$[0-9a-f]{64}$")
        self.assertNotIn(PASSWORD, self.user("list").stdout)
        # Wrong password and unknown user: the same answer.
        for body in ({"user": "alice", "password": "wrong password!"},
                     {"user": "mallory", "password": PASSWORD}):
            reply = self.sign_in(body, status=401)
            self.assertEqual(reply.json["message"], "wrong user name or password")
            self.assertNotIn("set-cookie", reply.headers)
        failed = [r for r in self.audit("sign-in") if r[1] == "error"]
        self.assertGreaterEqual(len(failed), 2)
        self.assertIn('"user": "mallory"', failed[-1][2])
        cookie, csrf = self.session(self.sign_in({"user": "alice", "password": PASSWORD}))
        me = self.call("GET", "/api/v1/session", cookie).json
        self.assertEqual((me["role"], me["tenant"]), ("admin", None))
        self.assertRegex(me["actor"], r"^user alice \(session \d+\)$")
        self.call("POST", "/api/v1/tenants", cookie, csrf, b'{"name":"from-web"}', status=201)
        self.assertEqual(self.audit("tenant-create")[-1][0], me["actor"])
        # A user bound to a tenant meets others as not found.
        bob, _ = self.session(self.sign_in({"user": "bob", "password": PASSWORD}))
        self.assertEqual(self.call("GET", "/api/v1/session", bob).json["tenant"], "other")
        self.call("GET", "/api/v1/tenants/other/devices", bob)
        self.call("GET", "/api/v1/tenants/default/devices", bob, status=404)
        # A disabled user's sessions end at once; enabled again, it signs in.
        self.user("disable", "alice")
        self.call("GET", "/api/v1/session", cookie, status=401)
        self.sign_in({"user": "alice", "password": PASSWORD}, status=401)
        self.user("enable", "alice")
        cookie, _ = self.session(self.sign_in({"user": "alice", "password": PASSWORD}))
        # A new password ends the sessions begun with the old one.
        self.user("passwd", "alice", input="another long password\n")
        self.call("GET", "/api/v1/session", cookie, status=401)
        self.sign_in({"user": "alice", "password": PASSWORD}, status=401)
        self.session(self.sign_in({"user": "alice", "password": "another long password"}))
        self.assertNotIn(PASSWORD, self.rumd.log())
        self.assertNotIn("another long password", self.rumd.log())

    def test_4_revoked_token_ends_its_sessions(self):
        proc = rt.run_rumd(["token", "create", "--role", "reader",
                            "--database_url=%s" % self.url])
        token = proc.stdout.strip()
        cookie, _ = self.session(self.sign_in({"token": token}))
        self.call("GET", "/api/v1/session", cookie)
        tid = self.pg.scalar("SELECT id FROM api_tokens ORDER BY id DESC LIMIT 1", db=self.db)
        self.assertEqual(rt.run_rumd(["token", "revoke", tid,
                                      "--database_url=%s" % self.url]).returncode, 0)
        self.call("GET", "/api/v1/session", cookie, status=401)
        self.sign_in({"token": token}, status=401)

    def test_5_bad_sign_ins_are_400_or_401_and_store_nothing(self):
        before = self.pg.count("web_sessions", db=self.db)
        for body, status, words in (
                (b"", 400, "JSON object"), (b"[]", 400, "JSON object"),
                (b'{"token":"x","user":"a","password":"b"}', 400, "sign in with"),
                (b'{"user":"alice"}', 400, "sign in with"),
                (b'{"colour":"red"}', 400, "unknown field"),
                (b'{"token":1}', 400, "must be a string"),
                (b'{"token":"rumd_' + b"0" * 64 + b'"}', 401, "unknown or revoked"),
                (b'{"token":"nope"}', 401, "unknown or revoked")):
            with self.subTest(body=body):
                reply = self.rumd.request("POST", "/api/v1/session", body)
                self.assertEqual(reply.status, status, reply)
                self.assertIn(words, reply.json["message"])
                self.assertNotIn("set-cookie", reply.headers)
        self.assertEqual(self.pg.count("web_sessions", db=self.db), before)
        # Cookies that are not a live session's.
        for cookie in ("rumd_session=" + "a" * 64, "rumd_session=short", "other=1"):
            with self.subTest(cookie=cookie):
                reply = self.call("GET", "/api/v1/session", cookie, status=401)
        # A bearer token is not a session: nothing to sign out.
        reply = self.rumd.request("DELETE", "/api/v1/session", None, {
            "Authorization": "Bearer " + self.tokens[("reader", None)]})
        self.assertEqual(reply.status, 400, reply)
        self.assertIn("revoke the token", reply.json["message"])

    def test_6_idle_and_old_sessions_end(self):
        cookie, _ = self.session(self.sign_in({"token": self.tokens[("reader", None)]}))
        self.call("GET", "/api/v1/session", cookie)
        self.pg.psql("UPDATE web_sessions SET last_seen_at = now() - interval '61 seconds' "
                     "WHERE ended_at IS NULL", db=self.db)
        self.call("GET", "/api/v1/session", cookie, status=401)
        cookie, _ = self.session(self.sign_in({"token": self.tokens[("reader", None)]}))
        self.pg.psql("UPDATE web_sessions SET expires_at = now() WHERE ended_at IS NULL",
                     db=self.db)
        self.call("GET", "/api/v1/session", cookie, status=401)


if __name__ == "__main__":
    rt.main()
