"""The rumd command line: verbs, help, settings and their precedence, migrations,
tenants, and a clean shutdown with requests in flight."""

import json
import os
import re
import signal
import socket
import subprocess
import time

import rumtest
from rumtest import run_rumd, Device, pi_path, wait_for

VERBS = ("serve", "migrate", "check-config", "tenant")


def setting_lines(output, key):
    """Lines of check-config output that start with the setting's name."""
    return [line for line in output.splitlines()
            if re.match(r"^\s*[\"']?%s[\"']?\b" % re.escape(key), line)]


def shows_value(line, value):
    return re.search(r"(?<![\w.:/-])%s(?![\w.:/-])" % re.escape(value), line) is not None


class Cli(rumtest.RumTestCase):

    def assertSetting(self, output, key, *values):
        """check-config output shows `key` with one of `values`."""
        lines = setting_lines(output, key)
        self.assertTrue(lines, "check-config output does not show %s:\n%s" % (key, output))
        self.assertTrue(any(shows_value(l, v) for l in lines for v in values),
                        "%s is not %s in check-config output:\n%s" % (key, " or ".join(values),
                                                                       "\n".join(lines)))

    def check_config(self, args=(), env=None, ok=True):
        proc = run_rumd(["check-config"] + list(args), env=env)
        if ok:
            self.assertEqual(proc.returncode, 0, "check-config failed:\n%s%s" % (proc.stdout, proc.stderr))
        return proc

    # -- version and help ------------------------------------------------------

    def test_version(self):
        proc = run_rumd(["--version"])
        self.assertEqual(proc.returncode, 0, proc)
        self.assertRegex(proc.stdout, r"rumd\b.*\d+\.\d+\.\d+")

    def test_help(self):
        proc = run_rumd(["--help"])
        self.assertEqual(proc.returncode, 0, proc)
        for verb in VERBS:
            self.assertIn(verb, proc.stdout)

    def test_verb_help(self):
        for verb in VERBS:
            with self.subTest(verb=verb):
                proc = run_rumd([verb, "--help"])
                self.assertEqual(proc.returncode, 0, proc)
                self.assertIn(verb, proc.stdout)
        proc = run_rumd(["--help"])
        for key in ("database_url", "data_dir", "http_listen", "https_listen", "tls_cert", "tls_key",
                    "default_tenant", "auto_create_tenants", "max_body_bytes", "db_pool_size",
                    "log_level", "capture_all"):
            self.assertIn(key, proc.stdout, "--help does not list the setting %s" % key)
        proc = run_rumd(["tenant", "--help"])
        self.assertIn("add", proc.stdout)
        self.assertIn("list", proc.stdout)

    def test_unknown_verb(self):
        proc = run_rumd(["frobnicate"])
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("frobnicate", proc.stderr)

    # -- check-config ------------------------------------------------------------

    def test_check_config_defaults(self):
        out = self.check_config().stdout
        self.assertSetting(out, "http_listen", "0.0.0.0:8182")
        self.assertSetting(out, "default_tenant", "default")
        self.assertSetting(out, "auto_create_tenants", "false")
        self.assertSetting(out, "capture_all", "false")
        self.assertSetting(out, "max_body_bytes", "16777216", "16MiB", "16M")

    def test_check_config_rejects_bad_values(self):
        cases = [
            ("max_body_bytes", "banana"),
            ("max_body_bytes", "-1"),
            ("max_body_bytes", "12abc"),
            ("db_pool_size", "0x"),
            ("http_listen", "127.0.0.1:99999"),
            ("http_listen", "nonsense"),
            ("auto_create_tenants", "perhaps"),
            ("log_level", "shouting"),
        ]
        for key, value in cases:
            with self.subTest(key=key, value=value):
                proc = self.check_config(["--%s=%s" % (key, value)], ok=False)
                self.assertNotEqual(proc.returncode, 0, "accepted %s=%s:\n%s" % (key, value, proc.stdout))
                self.assertIn(key, proc.stderr + proc.stdout, "the error does not name the setting")
                self.assertIn(value, proc.stderr + proc.stdout, "the error does not show the value")
                self.assertGreater(proc.returncode, 0, "not an orderly exit: %d" % proc.returncode)
        proc = self.check_config(["--no_such_setting=1"], ok=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("no_such_setting", proc.stderr + proc.stdout)

    def test_database_password_never_shown(self):
        """check-config shows the database settings as libpq reads them, the
        password masked however it was given; a string libpq cannot parse is
        refused without being quoted (it may hold a password)."""
        secret = "Sup3r-s3cret"
        for url in ("host = db.example password = %s user=rumd" % secret,
                    "postgresql://rumd:%s@db.example:5432/rumd" % secret,
                    "postgresql://rumd:%s@db.example/rumd?password=%s2&sslmode=require"
                    % (secret, secret),
                    "postgresql://rumd@db.example/rumd?password=%s" % secret,
                    "host=db.example password='%s with spaces'" % secret):
            with self.subTest(url=url):
                proc = self.check_config(["--database_url=%s" % url])
                self.assertNotIn(secret, proc.stdout + proc.stderr)
                self.assertIn("password='****'", proc.stdout)
                self.assertIn("host='db.example'", proc.stdout)
        for url in ("postgresql://rumd:%s@db.example/rumd?no_such_option=1" % secret,
                    "postgresql://rumd:%s@[::1" % secret,
                    "host=db password=%s port" % secret):
            with self.subTest(url=url):
                proc = self.check_config(["--database_url=%s" % url], ok=False)
                self.assertNotEqual(proc.returncode, 0)
                self.assertIn("database_url is not a valid libpq connection string",
                              proc.stderr)
                self.assertNotIn(secret, proc.stdout + proc.stderr)
                serve = run_rumd(["serve", "--database_url=%s" % url, "--http_listen=127.0.0.1:0",
                                  "--data_dir=%s" % rumtest.make_tempdir("rumtest-cli-")],
                                 timeout=30)
                self.assertNotEqual(serve.returncode, 0)
                self.assertNotIn(secret, serve.stdout + serve.stderr)

    def test_database_url_file(self):
        """database_url_file keeps the URL off command lines: read from a file
        only rumd's user may read (its newline dropped), shown masked, refused
        when others may read it, and not together with database_url."""
        secret = "F1le-s3cret"
        d = rumtest.make_tempdir("rumtest-urlfile-")
        path = os.path.join(d, "database.url")

        def write(text, mode=0o600):
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, mode)

        for text in ("postgresql://rumd:%s@db.example/rumd\n" % secret,
                     "postgresql://rumd:%s@db.example/rumd\r\n" % secret,
                     "postgresql://rumd:%s@db.example/rumd" % secret):
            with self.subTest(text=text):
                write(text)
                for how in (["--database_url_file=%s" % path], []):
                    env = {} if how else {"RUMD_DATABASE_URL_FILE": path}
                    proc = self.check_config(how, env=env)
                    self.assertNotIn(secret, proc.stdout + proc.stderr)
                    self.assertIn("password='****'", proc.stdout)
                    self.assertSetting(proc.stdout, "database_url_file", path)
                    line = setting_lines(proc.stdout, "database_url")[0]
                    self.assertIn("host='db.example'", line)
                    self.assertIn("# database_url_file", line)
        # Readable or writable by others, or by a group it is not root's: refused.
        bad_modes = [0o644, 0o604, 0o660, 0o602]
        if os.geteuid() != 0:
            bad_modes.append(0o640)
        for mode in bad_modes:
            with self.subTest(mode=oct(mode)):
                write("postgresql://rumd:%s@db.example/rumd\n" % secret, mode)
                proc = self.check_config(["--database_url_file=%s" % path], ok=False)
                self.assertNotEqual(proc.returncode, 0)
                self.assertIn("mode %04o" % mode, proc.stderr)
                self.assertIn(path, proc.stderr)
                self.assertNotIn(secret, proc.stdout + proc.stderr)
        if os.geteuid() == 0:  # root:group 0640, as /etc/rumd/database.url root:rumd
            write("postgresql://rumd:%s@db.example/rumd\n" % secret, 0o640)
            self.check_config(["--database_url_file=%s" % path])
        for text, why in (("", "is empty"), ("\n", "is empty"),
                          ("postgresql://a@b/c\npostgresql://d@e/f\n", "more than one line")):
            with self.subTest(text=text):
                write(text)
                proc = self.check_config(["--database_url_file=%s" % path], ok=False)
                self.assertIn(why, proc.stderr)
        write("postgresql://rumd:%s@db.example/rumd\n" % secret)
        proc = self.check_config(["--database_url_file=%s" % path,
                                  "--database_url=postgresql://x@y/z"], ok=False)
        self.assertIn("database_url and database_url_file are both set", proc.stderr)
        proc = self.check_config(["--database_url_file=%s" % os.path.join(d, "missing")],
                                 ok=False)
        self.assertIn("cannot open", proc.stderr)
        # A URL libpq cannot parse: refused without being quoted.
        write("postgresql://rumd:%s@[::1\n" % secret)
        proc = self.check_config(["--database_url_file=%s" % path], ok=False)
        self.assertIn("database_url is not a valid libpq connection string", proc.stderr)
        self.assertNotIn(secret, proc.stdout + proc.stderr)

    def test_serve_stops_while_waiting_for_the_database(self):
        """SIGTERM while serve waits for its database at start-up ends it at
        once, orderly (exit 0), not after the minute-long wait."""
        proc = subprocess.Popen([rumtest.rumd_bin(), "serve",
                                 "--database_url=postgresql://rumd@127.0.0.1:1/x",
                                 "--http_listen=127.0.0.1:0",
                                 "--data_dir=%s" % rumtest.make_tempdir("rumtest-cli-")],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 30
            line = ""
            while "waiting for the database" not in line and time.monotonic() < deadline:
                line = proc.stderr.readline()
            self.assertIn("waiting for the database", line)
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=20)
            took = time.monotonic() - t0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        self.assertEqual(proc.returncode, 0, err)
        self.assertIn("stopped before the database answered", err)
        self.assertLess(took, 5, "it waited for the database after SIGTERM")

    def test_serve_makes_or_refuses_its_data_dir(self):
        """A missing data_dir is made, mode 0700; one that cannot be made is
        refused before anything listens, naming it."""
        base = rumtest.make_tempdir("rumtest-cli-")
        made = os.path.join(base, "data")
        proc = subprocess.Popen([rumtest.rumd_bin(), "serve",
                                 "--database_url=postgresql://rumd@127.0.0.1:1/x",
                                 "--http_listen=127.0.0.1:0", "--data_dir=%s" % made],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: os.path.isdir(made), timeout=20, what="data_dir made")
            self.assertEqual(os.stat(made).st_mode & 0o777, 0o700)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, err = proc.communicate(timeout=30)
        self.assertEqual(proc.returncode, 0, err)
        for bad in (os.path.join(base, "no", "such", "dir"), os.path.join(base, "a-file")):
            if bad.endswith("a-file"):
                with open(bad, "w") as f:
                    f.write("x")
            with self.subTest(data_dir=bad):
                serve = run_rumd(["serve", "--database_url=postgresql://rumd@127.0.0.1:1/x",
                                  "--http_listen=127.0.0.1:0", "--data_dir=%s" % bad],
                                 timeout=30)
                self.assertNotEqual(serve.returncode, 0)
                self.assertIn("data_dir %s" % bad, serve.stderr)
                self.assertNotIn("listening", serve.stderr)

    def test_check_config_bad_value_in_env_and_file(self):
        proc = self.check_config(env={"RUMD_DB_POOL_SIZE": "lots"}, ok=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("db_pool_size", (proc.stderr + proc.stdout).lower())
        conf = os.path.join(rumtest.make_tempdir("rumtest-conf-"), "rumd.conf")
        with open(conf, "w") as f:
            f.write("max_body_bytes = not-a-number\n")
        proc = self.check_config(["--config", conf], ok=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("max_body_bytes", proc.stderr + proc.stdout)

    def test_config_precedence(self):
        conf = os.path.join(rumtest.make_tempdir("rumtest-conf-"), "rumd.conf")
        with open(conf, "w") as f:
            f.write("# rumd settings\n\n"
                    "http_listen = 127.0.0.1:1111\n"
                    "max_body_bytes = 1111\n"
                    "db_pool_size = 11\n"
                    "default_tenant = from-file\n")
        env = {"RUMD_HTTP_LISTEN": "127.0.0.1:2222", "RUMD_MAX_BODY_BYTES": "2222",
               "RUMD_DB_POOL_SIZE": "22"}
        out = self.check_config(["--config", conf, "--http_listen=127.0.0.1:3333"], env=env).stdout
        self.assertSetting(out, "http_listen", "127.0.0.1:3333")   # flag beats env and file
        self.assertSetting(out, "max_body_bytes", "2222")          # env beats file
        self.assertSetting(out, "db_pool_size", "22")
        self.assertSetting(out, "default_tenant", "from-file")     # file beats default
        self.assertSetting(out, "capture_all", "false")            # default
        # The same with --config=FILE and the flag before the file.
        out = self.check_config(["--http_listen=127.0.0.1:3333", "--config=%s" % conf]).stdout
        self.assertSetting(out, "http_listen", "127.0.0.1:3333")
        self.assertSetting(out, "max_body_bytes", "1111")
        # A flag beats a file even for a boolean.
        out = self.check_config(["--config", conf, "--capture_all=true"],
                                env={"RUMD_CAPTURE_ALL": "false"}).stdout
        self.assertSetting(out, "capture_all", "true")

    # -- migrate and tenants -----------------------------------------------------

    def schema_summary(self, db):
        return self.pg.psql(
            "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables "
            "WHERE table_schema = 'public'", db=db)[0][0]

    def test_migrate_twice(self):
        url, db = self.fresh_database("mig")
        for attempt in (1, 2):
            proc = run_rumd(["migrate", "--database_url=%s" % url])
            self.assertEqual(proc.returncode, 0, "migrate #%d:\n%s%s" % (attempt, proc.stdout, proc.stderr))
        tables = self.schema_summary(db).split(",")
        for t in rumtest.RUMD_TABLES + ("rum_instance",):
            self.assertIn(t, tables)
        self.assertEqual(self.pg.count("tenants", "name = 'default'", db=db), 1)
        self.assertEqual(self.pg.count("rum_instance", db=db), 1)

    def test_concurrent_migrate(self):
        for round_no in range(3):
            url, db = self.fresh_database("cmig")
            procs = [subprocess.Popen([rumtest.rumd_bin(), "migrate", "--database_url=%s" % url],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for _ in range(3)]
            results = [(p.wait(120), p.stdout.read(), p.stderr.read()) for p in procs]
            for p in procs:
                p.stdout.close()
                p.stderr.close()
            for status, out, err in results:
                self.assertEqual(status, 0, "concurrent migrate failed:\n%s%s" % (out, err))
            self.assertEqual(self.pg.count("tenants", "name = 'default'", db=db), 1)
            self.assertEqual(self.pg.count("rum_instance", db=db), 1)
            self.assertIn("rum_reports", self.schema_summary(db))

    def test_tenant_add_and_list(self):
        url, db = self.fresh_database("ten")
        proc = run_rumd(["migrate", "--database_url=%s" % url])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        rumtest.add_tenant(url, "Acme Corp", smart_account="Acme SA", virtual_account="Lab VA")
        rumtest.add_tenant(url, "Zürich 東京")
        rows = self.pg.psql("SELECT name, smart_account, virtual_account FROM tenants ORDER BY name", db=db)
        self.assertEqual(rows, [["Acme Corp", "Acme SA", "Lab VA"], ["Zürich 東京", "", ""],
                                ["default", "", ""]])
        proc = run_rumd(["tenant", "list", "--database_url=%s" % url])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        for text in ("default", "Acme Corp", "Acme SA", "Lab VA", "Zürich 東京"):
            self.assertIn(text, proc.stdout)
        # Invalid names are refused with a message, and nothing is added.
        for bad in ("a/b", "", "x" * 129):
            with self.subTest(name=bad):
                proc = run_rumd(["tenant", "add", bad, "--database_url=%s" % url])
                self.assertNotEqual(proc.returncode, 0, proc.stdout)
                self.assertTrue(proc.stderr.strip())
        self.assertEqual(self.pg.count("tenants", db=db), 3)
        # The new tenant is usable on the push endpoint.
        rumd = self.start_rumd(database_url=url)
        dev = Device()
        self.assertOkPoll(rumd.post(pi_path("Acme Corp"), dev.usage([dev.report()])))

    def test_settings_reach_serve(self):
        """Environment and config file settings are used by `rumd serve`."""
        url, db = self.fresh_database("env")
        conf = os.path.join(rumtest.make_tempdir("rumtest-conf-"), "rumd.conf")
        with open(conf, "w") as f:
            f.write("default_tenant = from-file\nauto_create_tenants = true\n")
        rumd = self.start_rumd(database_url=None, args=["--config", conf],
                               env={"RUMD_DATABASE_URL": url, "RUMD_MAX_BODY_BYTES": "4096"})
        dev = Device()
        poll_id = self.assertOkPoll(rumd.post(pi_path(), dev.usage([dev.report()])))
        self.assertEqual(self.pg.psql("SELECT t.name FROM uploads u JOIN tenants t ON t.id = u.tenant_id "
                                      "WHERE u.poll_id = %s" % poll_id, db=db), [["from-file"]])
        self.assertFailed(rumd.post(pi_path(), b"{" + b" " * 5000 + b"}"), 413)

    # -- shutdown ------------------------------------------------------------------

    def test_sigterm_finishes_requests_in_flight(self):
        url, db = self.fresh_database("term")
        rumd = self.start_rumd(database_url=url)
        devices = [Device() for _ in range(4)]
        bodies = [rumtest.to_body(d.usage([d.report() for _ in range(20)])) for d in devices]
        socks = []
        try:
            for body in bodies:
                s = socket.create_connection(("127.0.0.1", rumd.port), timeout=30)
                s.sendall(b"POST /cslu/v1/pi HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body))
                s.sendall(body[:len(body) // 2])
                socks.append(s)
            ports = {s.getsockname()[1] for s in socks}
            # rumd has accepted every connection and read what was sent so far.
            wait_for(lambda: (lambda q: len(q) == len(ports) and not any(q.values()))(
                rumtest.server_rx_queues(rumd.port, ports)), 30,
                what="rumd to read the first half of each request")
            rumd.signal(signal.SIGTERM)
            for s, body in zip(socks, bodies):
                s.sendall(body[len(body) // 2:])
            replies = []
            for s in socks:
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                    head, sep, rest = data.partition(b"\r\n\r\n")
                    m = re.search(rb"content-length:\s*(\d+)", head, re.I)
                    if sep and m and len(rest) >= int(m.group(1)):
                        break
                replies.append(data)
        finally:
            for s in socks:
                s.close()
        for data in replies:
            head, _, rest = data.partition(b"\r\n\r\n")
            self.assertTrue(head.startswith(b"HTTP/1.1 200"), data[:300])
            self.assertEqual(json.loads(rest.decode()).get("status"), "OK_POLL", data[:300])
        self.assertEqual(rumd.wait_exit(30), 0)
        self.assertEqual(self.pg.count("rum_reports", db=db), 80)


if __name__ == "__main__":
    rumtest.main()
