"""Integration-test harness for rumd: a throwaway PostgreSQL cluster, a rumd
process on a free port, an HTTP client for the device push endpoint, and
builders for realistic device messages (PROTOCOL.md section 1).

Python 3 standard library only, plus the PostgreSQL server binaries (initdb,
pg_ctl, postgres) and psql. Every process and temporary directory a test
creates is cleaned up when the test (or the interpreter) ends, also after a
failure.

Environment:
  RUMD_BIN        the rumd binary (default: $RUM_BUILD_DIR/rumd, else rumd on PATH)
  RUM_BUILD_DIR   the CMake build directory
  RUM_SHARED_DIR  the shared contract directory with fixtures/ (optional)
  RUM_PG_BINDIR   where initdb and pg_ctl live (default: PostgreSQL 15, else pg_config)
  RUMTEST_KEEP    set to keep temporary directories for inspection
  RUMTEST_LOG_LEVEL  log_level given to every rumd started (e.g. debug)
"""

import atexit
import base64
import csv
import hashlib
import http.client
import io
import json
import os
import pty
import pwd
import select
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

# ---------------------------------------------------------------------------
# Locations and small helpers

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.path.abspath(os.path.join(HERE, "..", ".."))


def rumd_bin():
    """The rumd binary under test."""
    path = os.environ.get("RUMD_BIN")
    if path:
        return path
    build = os.environ.get("RUM_BUILD_DIR")
    if build and os.path.exists(os.path.join(build, "rumd")):
        return os.path.join(build, "rumd")
    found = shutil.which("rumd")
    if found:
        return found
    raise unittest.SkipTest("no rumd binary: set RUMD_BIN (ctest does)")


def shared_dir():
    """The shared contract directory (fixtures), or None when absent."""
    for cand in (os.environ.get("RUM_SHARED_DIR"), "/work/shared",
                 os.path.join(SOURCE_DIR, "..", "shared")):
        if cand and os.path.isdir(os.path.join(cand, "fixtures")):
            return os.path.abspath(cand)
    return None


def fixture_bytes(relpath):
    """Bytes of shared/fixtures/<relpath>; skips the test when shared/ is absent."""
    top = shared_dir()
    if top is None:
        raise unittest.SkipTest("shared/ fixtures directory not present (set RUM_SHARED_DIR)")
    with open(os.path.join(top, "fixtures", relpath), "rb") as f:
        return f.read()


def pg_bindir():
    env = os.environ.get("RUM_PG_BINDIR")
    if env:
        return env
    if os.path.exists("/usr/lib/postgresql/15/bin/initdb"):
        return "/usr/lib/postgresql/15/bin"
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True,
                             check=True).stdout.strip()
        if os.path.exists(os.path.join(out, "initdb")):
            return out
    except (OSError, subprocess.CalledProcessError):
        pass
    raise unittest.SkipTest("PostgreSQL server binaries (initdb, pg_ctl) not found")


def psql_bin():
    cand = os.path.join(pg_bindir(), "psql")
    return cand if os.path.exists(cand) else (shutil.which("psql") or "psql")


def unprivileged_user():
    """The user PostgreSQL runs as when we are root (it refuses root), else None."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root and neither 'postgres' nor 'nobody' exists")


def as_user(cmd, user):
    """cmd run as `user` (via runuser) when given, else as ourselves."""
    if user is None:
        return list(cmd)
    return ["runuser", "-u", user, "--"] + list(cmd)


def chown_tree(path, user):
    if user is None:
        return
    pw = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, pw.pw_uid, pw.pw_gid)
        for name in files:
            os.chown(os.path.join(root, name), pw.pw_uid, pw.pw_gid)


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_tempdir(prefix, mode=0o700):
    path = tempfile.mkdtemp(prefix=prefix)
    os.chmod(path, mode)
    _registry.add_dir(path)
    return path


def tail(text, lines=80):
    parts = text.splitlines()
    return "\n".join(parts[-lines:])


def wait_for(predicate, timeout, interval=0.05, what="condition"):
    """Polls predicate() until it returns a true value; returns that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %.0fs waiting for %s" % (timeout, what))
        time.sleep(interval)


class _Registry:
    """Everything still alive at interpreter exit is stopped and removed."""

    def __init__(self):
        self.lock = threading.Lock()
        self.objects = []
        self.dirs = []
        atexit.register(self.cleanup_all)

    def add(self, obj):
        with self.lock:
            self.objects.append(obj)

    def remove(self, obj):
        with self.lock:
            if obj in self.objects:
                self.objects.remove(obj)

    def add_dir(self, path):
        with self.lock:
            self.dirs.append(path)

    def cleanup_all(self):
        for obj in reversed(list(self.objects)):
            try:
                obj.cleanup()
            except Exception as e:  # keep cleaning the rest
                print("rumtest: cleanup of %r failed: %s" % (obj, e), file=sys.stderr)
        if not os.environ.get("RUMTEST_KEEP"):
            for path in self.dirs:
                shutil.rmtree(path, ignore_errors=True)


_registry = _Registry()


# ---------------------------------------------------------------------------
# PostgreSQL

class PgCluster:
    """A throwaway PostgreSQL cluster on 127.0.0.1:<free port>.

    pg = PgCluster(); pg.start()
    pg.url                      libpq URI of database `rumd`, created at start
    pg.create_database(name)    another empty database; returns its URI
    pg.psql(sql[, db])          rows as lists of strings (NULL reads as '')
    pg.scalar(sql[, db])        the first column of the first row
    pg.stop() / pg.restart() / pg.cleanup()
    """

    SUPERUSER = "postgres"

    def __init__(self, dbname="rumd", settings=None):
        self.bindir = pg_bindir()
        self.user = unprivileged_user()
        self.dbname = dbname
        self.settings = {
            "listen_addresses": "'127.0.0.1'",
            "shared_buffers": "'16MB'",
            "max_connections": "100",
            "fsync": "on",
            "synchronous_commit": "on",
            "log_min_messages": "warning",
            "logging_collector": "off",
        }
        self.settings.update(settings or {})
        self.dir = None
        self.port = None
        self.running = False
        _registry.add(self)

    def __repr__(self):
        return "PgCluster(port=%s, dir=%s)" % (self.port, self.dir)

    @property
    def datadir(self):
        return os.path.join(self.dir, "data")

    @property
    def logfile(self):
        return os.path.join(self.dir, "postgres.log")

    def url_for(self, dbname):
        return "postgresql://%s@127.0.0.1:%d/%s" % (self.SUPERUSER, self.port, dbname)

    @property
    def url(self):
        return self.url_for(self.dbname)

    def _run(self, cmd, check=True, timeout=120):
        proc = subprocess.run(as_user(cmd, self.user), capture_output=True, text=True,
                              timeout=timeout, cwd=self.dir)
        if check and proc.returncode != 0:
            raise RuntimeError("%s failed (%d):\n%s\n%s\n%s" % (
                " ".join(cmd), proc.returncode, proc.stdout, proc.stderr, self.log()))
        return proc

    def log(self):
        try:
            with open(self.logfile, errors="replace") as f:
                return tail(f.read(), 60)
        except OSError:
            return ""

    def init(self):
        self.dir = make_tempdir("rumtest-pg-")
        os.makedirs(self.datadir, mode=0o700)
        chown_tree(self.dir, self.user)
        self._run([os.path.join(self.bindir, "initdb"), "-D", self.datadir, "-A", "trust",
                   "-E", "UTF8", "--locale=C", "-U", self.SUPERUSER, "--no-instructions"])
        with open(os.path.join(self.datadir, "postgresql.conf"), "a") as f:
            f.write("\n# rumtest\n")
            for key, value in self.settings.items():
                f.write("%s = %s\n" % (key, value))
            f.write("unix_socket_directories = '%s'\n" % self.dir)

    def start(self):
        if self.dir is None:
            self.init()
        if self.port is None:
            self.port = free_port()
        last = None
        for attempt in range(3):
            proc = self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.datadir,
                              "-l", self.logfile, "-w", "-t", "60",
                              "-o", "-p %d" % self.port, "start"], check=False)
            if proc.returncode == 0:
                break
            last = proc
            if self.dbname_created():  # restart of a used cluster: keep the port
                time.sleep(1)
            else:
                self.port = free_port()
        else:
            raise RuntimeError("pg_ctl start failed:\n%s\n%s\n%s" % (
                last.stdout, last.stderr, self.log()))
        self.running = True
        if not self.dbname_created():
            self.psql("CREATE DATABASE %s" % self.dbname, db="postgres")
            self._created = True
        return self

    def dbname_created(self):
        return getattr(self, "_created", False)

    def stop(self, mode="fast"):
        if self.dir is None or not self.running:
            return
        self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.datadir, "-m", mode,
                   "-w", "-t", "60", "stop"], check=False)
        self.running = False

    def restart(self):
        self.stop()
        self.start()

    REPLICATION_USER = "replicator"

    def make_standby(self, name="standby1", settings=None):
        """A streaming standby of this running cluster, made with pg_basebackup -R
        and connecting as application_name `name` (for synchronous_standby_names);
        returned not started. `settings` are appended to the copied
        postgresql.conf; synchronous_standby_names is emptied there, so that the
        standby once promoted does not wait for a standby of its own."""
        if not self.scalar("SELECT 1 FROM pg_roles WHERE rolname = '%s'"
                           % self.REPLICATION_USER, db="postgres"):
            self.psql("CREATE ROLE %s LOGIN REPLICATION" % self.REPLICATION_USER, db="postgres")
            with open(os.path.join(self.datadir, "pg_hba.conf"), "a") as f:
                f.write("host replication %s 127.0.0.1/32 trust\n" % self.REPLICATION_USER)
            self.psql("SELECT pg_reload_conf()", db="postgres")
        standby = PgCluster(dbname=self.dbname)
        standby.dir = make_tempdir("rumtest-pg-")
        chown_tree(standby.dir, standby.user)
        conninfo = "host=127.0.0.1 port=%d user=%s application_name=%s" % (
            self.port, self.REPLICATION_USER, name)
        standby._run([os.path.join(self.bindir, "pg_basebackup"), "-d", conninfo,
                      "-D", standby.datadir, "-R", "-X", "stream", "--checkpoint=fast"])
        conf = {"unix_socket_directories": "'%s'" % standby.dir,
                "synchronous_standby_names": "''",
                "hot_standby": "on"}
        conf.update(settings or {})
        with open(os.path.join(standby.datadir, "postgresql.conf"), "a") as f:
            f.write("\n# rumtest standby\n")
            for key, value in conf.items():
                f.write("%s = %s\n" % (key, value))
        # pg_basebackup -R wrote primary_conninfo; this one (read later) names us.
        with open(os.path.join(standby.datadir, "postgresql.auto.conf"), "a") as f:
            f.write("primary_conninfo = '%s'\n" % conninfo)
        chown_tree(standby.dir, standby.user)
        standby._created = True  # the database came with the copy
        return standby

    def promote(self):
        """Ends a standby's recovery; returns once it accepts writes."""
        self._run([os.path.join(self.bindir, "pg_ctl"), "-D", self.datadir, "-w", "-t", "60",
                   "promote"])

    def cleanup(self):
        if self.dir is None:
            return
        if self.running:
            try:
                self.stop("immediate")
            except Exception:
                pass
        # Belt and braces: a postmaster we lost track of.
        pidfile = os.path.join(self.datadir, "postmaster.pid")
        if os.path.exists(pidfile):
            try:
                with open(pidfile) as f:
                    os.kill(int(f.readline().strip()), signal.SIGQUIT)
            except (OSError, ValueError):
                pass
        _registry.remove(self)
        if not os.environ.get("RUMTEST_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None

    def create_database(self, name):
        self.psql('CREATE DATABASE "%s"' % name, db="postgres")
        return self.url_for(name)

    def psql(self, sql, db=None, check=True):
        """Runs sql (one or more statements); returns the last result's rows."""
        cmd = [psql_bin(), "-X", "-q", "--csv", "-t", "-v", "ON_ERROR_STOP=1",
               "-d", self.url_for(db or self.dbname), "-c", sql]
        proc = subprocess.run(cmd, capture_output=True, timeout=120)
        if proc.returncode != 0:
            if check:
                raise RuntimeError("psql failed: %s\n%s" % (
                    sql, proc.stderr.decode(errors="replace")))
            return None
        text = proc.stdout.decode("utf-8")
        # A one-column row holding '' (or NULL) prints as an empty line.
        return [row or [""] for row in csv.reader(io.StringIO(text))]

    def scalar(self, sql, db=None):
        rows = self.psql(sql, db=db)
        return rows[0][0] if rows else None

    def hold_lock(self, table, seconds, db=None):
        """Locks table (ACCESS EXCLUSIVE) for seconds in a session of its own,
        from before this returns; returns the psql process (wait() on it)."""
        sql = ("BEGIN; LOCK TABLE %s IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(%s); COMMIT;"
               % (table, seconds))
        proc = subprocess.Popen([psql_bin(), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                                 "-d", self.url_for(db or self.dbname), "-c", sql],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wait_for(lambda: proc.poll() is not None or self.scalar(
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
            "WHERE c.relname = '%s' AND l.mode = 'AccessExclusiveLock' AND l.granted"
            % table, db=db) == "1", 10, interval=0.05, what="lock on " + table)
        if proc.poll() not in (None, 0):
            raise RuntimeError("locking %s failed: %s" % (table, proc.stderr.read()))
        return proc

    def fetch_bytes(self, sql, db=None):
        """sql selects one bytea column; returns the values as a list of bytes."""
        rows = self.psql("SELECT encode(v, 'hex') FROM (%s) AS q(v)" % sql, db=db)
        return [bytes.fromhex(r[0]) for r in rows]

    def text_bytes(self, sql, db=None):
        """sql selects one text column; returns its values' UTF-8 bytes, exactly."""
        return self.fetch_bytes("SELECT convert_to(t, 'UTF8') FROM (%s) AS q2(t)" % sql, db=db)

    def count(self, table, where="true", db=None):
        return int(self.scalar("SELECT count(*) FROM %s WHERE %s" % (table, where), db=db))


# Every table of schema v1 (db/migrations/0001_init.sql).
RUMD_TABLES = ("tenants", "devices", "uploads", "rum_reports", "acks", "ack_deliveries",
               "alerts", "captures")


def table_counts(pg, db=None, tables=RUMD_TABLES):
    """{table: row count} for rumd's tables."""
    sql = " UNION ALL ".join("SELECT '%s', count(*) FROM %s" % (t, t) for t in tables)
    return {name: int(n) for name, n in pg.psql(sql, db=db)}


def sql_literal(text):
    return "'" + text.replace("'", "''") + "'"


# ---------------------------------------------------------------------------
# rumd

class Reply:
    """One HTTP reply. Unpacks as (status, headers, body) where body is the
    parsed JSON value when the body is JSON, else the raw bytes."""

    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers  # lower-cased names
        self.raw = raw
        try:
            self.json = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            self.json = None
        self.body = self.json if self.json is not None else raw

    def __iter__(self):
        return iter((self.status, self.headers, self.body))

    def __repr__(self):
        return "Reply(%d, %r)" % (self.status, self.raw[:300])


def to_body(body):
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, separators=(",", ":")).encode("utf-8")


def http_request(host, port, method, path, body=None, headers=None, timeout=15,
                 scheme="http"):
    """One request on a fresh connection. path is sent as given (already encoded)."""
    data = to_body(body)
    hdrs = {"Content-Type": "application/json"} if data else {}
    hdrs.update(headers or {})
    if scheme == "https":
        import ssl
        ctx = ssl._create_unverified_context()
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=ctx)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        try:
            conn.request(method, path,
                         body=data if (data or method in ("POST", "PUT")) else None, headers=hdrs)
        except (BrokenPipeError, ConnectionResetError):
            # The server answered early (e.g. 413) and stopped reading: its
            # reply may still be waiting to be read.
            pass
        resp = conn.getresponse()
        raw = resp.read()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, raw)
    finally:
        conn.close()


LISTEN_RE = re.compile(r"listening on (https?)://([0-9.]+|\[[0-9a-f:]+\]):(\d+)")


class Rumd:
    """A `rumd serve` process.

    r = Rumd(database_url=pg.url, flags={"auto_create_tenants": "true"}); r.start()
    r.port / r.ports ({'http': n, 'https': m})
    r.post(path, body[, headers]) / r.get(path) / r.request(method, path, ...)
        -> Reply, unpacks as (status, headers, body)
    r.stop() (SIGTERM, asserts exit 0) / r.kill() / r.log()
    """

    def __init__(self, database_url=None, data_dir=None, flags=None, env=None,
                 args=None, http_listen="127.0.0.1:0"):
        self.bin = rumd_bin()
        self.database_url = database_url
        self.data_dir = data_dir
        self.flags = dict(flags or {})
        self.extra_env = dict(env or {})
        self.extra_args = list(args or [])
        self.http_listen = http_listen
        self.proc = None
        self.ports = {}
        self.host = "127.0.0.1"
        self.logdir = make_tempdir("rumtest-rumd-log-")
        self.logpath = os.path.join(self.logdir, "rumd.log")
        self.starts = 0
        _registry.add(self)

    def __repr__(self):
        return "Rumd(pid=%s, ports=%s)" % (self.proc and self.proc.pid, self.ports)

    def command(self):
        cmd = [self.bin, "serve"]
        if self.database_url is not None:
            cmd.append("--database_url=%s" % self.database_url)
        if self.http_listen is not None:
            cmd.append("--http_listen=%s" % self.http_listen)
        if self.data_dir is None:
            self.data_dir = make_tempdir("rumtest-data-", 0o755)
        cmd.append("--data_dir=%s" % self.data_dir)
        flags = dict(self.flags)
        if os.environ.get("RUMTEST_LOG_LEVEL") and "log_level" not in flags:
            flags["log_level"] = os.environ["RUMTEST_LOG_LEVEL"]
        for key, value in flags.items():
            cmd.append("--%s=%s" % (key, value))
        return cmd + self.extra_args

    def start(self, timeout=60):
        assert self.proc is None or self.proc.poll() is not None, "rumd already running"
        env = dict(os.environ)
        # Settings the caller did not ask for must not leak in from the environment.
        for key in list(env):
            if key.startswith("RUMD_") and key != "RUMD_BIN":
                del env[key]
        env.update(self.extra_env)
        self.starts += 1
        logf = open(self.logpath, "ab")
        logf.write(("---- rumtest: start #%d: %s\n" % (self.starts, " ".join(self.command()))).encode())
        logf.flush()
        self._logstart = logf.tell()
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=logf,
                                     stderr=subprocess.STDOUT, env=env, cwd=self.logdir)
        logf.close()
        want = 2 if "https_listen" in self.flags else 1
        deadline = time.monotonic() + timeout
        while True:
            found = self._listeners()
            if len(found) >= want:
                self.ports = found
                break
            if self.proc.poll() is not None:
                raise AssertionError("rumd exited with status %d before listening:\n%s" % (
                    self.proc.returncode, self.log()))
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError("rumd did not report listening within %ds:\n%s" % (
                    timeout, self.log()))
            time.sleep(0.05)
        return self

    def _listeners(self):
        with open(self.logpath, "rb") as f:
            f.seek(self._logstart)
            text = f.read().decode("utf-8", errors="replace")
        return {m.group(1): int(m.group(3)) for m in LISTEN_RE.finditer(text)}

    @property
    def port(self):
        return self.ports["http"]

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self, offset=0):
        try:
            with open(self.logpath, "rb") as f:
                f.seek(offset)
                return f.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def log_size(self):
        try:
            return os.path.getsize(self.logpath)
        except OSError:
            return 0

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=30, expect_status=0):
        """SIGTERM, wait, and assert the exit status (0 by default). Returns it."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("rumd did not exit within %ds of SIGTERM:\n%s" % (
                    timeout, tail(self.log())))
        status = self.proc.returncode
        if expect_status is not None and status != expect_status:
            raise AssertionError("rumd exited with status %d, expected %d:\n%s" % (
                status, expect_status, tail(self.log())))
        return status

    def wait_exit(self, timeout=30, expect_status=0):
        """Waits for rumd to exit by itself (after a signal sent with signal())."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("rumd still running after %ds:\n%s" % (timeout, tail(self.log())))
        return self.stop(expect_status=expect_status)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def cleanup(self):
        self.kill()
        if self.database_url is None:  # embedded mode: a cluster under data_dir
            stop_stray_postmasters(self.data_dir)
        _registry.remove(self)

    # HTTP
    def request(self, method, path, body=None, headers=None, timeout=15, scheme="http"):
        return http_request(self.host, self.ports[scheme], method, path, body, headers,
                            timeout, scheme)

    def post(self, path, body, headers=None, timeout=15):
        return self.request("POST", path, body, headers, timeout)

    def get(self, path, headers=None, timeout=15):
        return self.request("GET", path, None, headers, timeout)


def run_rumd(args, env=None, timeout=120, input=None):
    """Runs a rumd CLI verb; returns CompletedProcess with text stdout/stderr.
    RUMD_* settings from our own environment are dropped unless given in env."""
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith("RUMD_") or k == "RUMD_BIN"}
    full_env.update(env or {})
    return subprocess.run([rumd_bin()] + list(args), capture_output=True, text=True,
                          env=full_env, timeout=timeout, input=input)


def run_rumd_on_terminal(args, timeout=120):
    """Runs a rumd CLI verb with its standard error on a pseudo-terminal, as
    when a person runs it; returns (exit status, stdout, what the terminal
    showed)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RUMD_") or k == "RUMD_BIN"}
    master, slave = pty.openpty()
    proc = subprocess.Popen([rumd_bin()] + list(args), stdout=subprocess.PIPE,
                            stderr=slave, stdin=subprocess.DEVNULL, env=env)
    os.close(slave)
    shown, out = b"", []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.read()))
    reader.start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the terminal's other side closed: rumd exited
                chunk = b""
            if not chunk:
                break
            shown += chunk
        elif proc.poll() is not None:
            break
    else:
        proc.kill()
    rc = proc.wait(timeout=10)
    reader.join(10)
    os.close(master)
    return rc, (out[0] if out else b"").decode(errors="replace"), shown.decode(errors="replace")


def add_tenant(database_url, name, smart_account=None, virtual_account=None):
    """`rumd tenant add`; asserts success."""
    args = ["tenant", "add", name, "--database_url=%s" % database_url]
    if smart_account is not None:
        args += ["--smart-account", smart_account]
    if virtual_account is not None:
        args += ["--virtual-account", virtual_account]
    proc = run_rumd(args)
    if proc.returncode != 0:
        raise AssertionError("rumd %s exited %d:\n%s%s" % (
            " ".join(args), proc.returncode, proc.stdout, proc.stderr))
    return proc


def stop_stray_postmasters(root):
    """Stops any PostgreSQL server whose data directory lies under root (an
    embedded cluster left behind by a rumd that was killed)."""
    if not root or not os.path.isdir(root):
        return
    for dirpath, dirnames, filenames in os.walk(root):
        if "postmaster.pid" in filenames and "PG_VERSION" in filenames:
            try:
                with open(os.path.join(dirpath, "postmaster.pid")) as f:
                    pid = int(f.readline().strip())
                os.kill(pid, signal.SIGQUIT)
                wait_for(lambda: not pid_alive(pid), 20, what="postmaster %d to exit" % pid)
            except (OSError, ValueError, AssertionError):
                pass


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return False


def pid_uid(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return int(line.split()[1])
    return None


def server_rx_queues(server_port, client_ports):
    """{client_port: bytes waiting unread in the server-side socket} for TCP
    connections from client_ports to 127.0.0.1:server_port (from /proc/net/tcp).
    A queue of 0 means the server has read everything the client sent."""
    out = {}
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            cols = line.split()
            local, remote, queues = cols[1], cols[2], cols[4]
            lport = int(local.split(":")[1], 16)
            rport = int(remote.split(":")[1], 16)
            if lport == server_port and rport in client_ports:
                out[rport] = int(queues.split(":")[1], 16)
    return out


def pi_path(tenant=None, sub_path=None):
    """/cslu/v1/pi[/<percent-encoded tenant>[/<sub-path>]]"""
    path = "/cslu/v1/pi"
    if tenant is not None:
        path += "/" + urllib.parse.quote(tenant, safe="")
        if sub_path:
            path += "/" + sub_path.lstrip("/")
    return path


# ---------------------------------------------------------------------------
# Device messages (PROTOCOL.md 1.3, 1.4)

SOFTWARE_TAGS = {
    "C8000V": "regid.2019-10.com.cisco.C8000V,1.0_e361c3dc-27c2-4084-b4a4-cae639cff335",
    "C9300-24P": "regid.2017-05.com.cisco.C9300,v1_727af1d9-6c39-4444-b301-863f81445b72",
}
ENTITLEMENT_DNA = "regid.2018-12.com.cisco.DNA_P_50M_A,1.0_100fb8b2-f5cc-459c-9253-ac77b827fd71"
ENTITLEMENT_NETWORK = "regid.2018-12.com.cisco.NWSTACK_P_50M_A,1.0_8ff1fa74-f6da-4b07-a7b0-e0e6b5e38fb8"

CONNECT_CAPABILITY = "POLICY_USAGE"


def sudi(pid, sn):
    return {"udi_pid": pid, "udi_serial_number": sn}


def software_tag(pid):
    return SOFTWARE_TAGS.get(pid, "regid.2017-05.com.cisco.%s,v1_00000000-0000-4000-8000-000000000000" % pid)


def rum_payload(pid, sn, report_id, fmt="A", entitlement=ENTITLEMENT_DNA,
                software_version="17.06.02", value="1", start=1657549046, end=1657550382,
                metric="ENTITLEMENT", measurements=None):
    """A RUM payload object, format A (meta.report_id) or B (version 2.0,
    asset_identification.report_id), shaped like shared/fixtures/rum/."""
    tag = software_tag(pid)
    asset = {
        "asset": {"name": tag},
        "instance": {"sudi": sudi(pid, sn)},
        "signature": {"signing_type": "builtin", "key": tag, "value": sn},
    }
    meta = {"entitlement_tag": entitlement, "software_version": software_version,
            "ha_udi": [{"role": "Active", "sudi": sudi(pid, sn)}]}
    if measurements is None:
        measurements = [{
            "log_time": end, "metric_name": metric, "start_time": start, "end_time": end,
            "sample_interval": end - start, "num_samples": 2,
            "meta": {"termination_reason": "CurrentUsageRequested"},
            "value": {"type": "COUNT", "value": str(value)},
        }]
    if fmt == "A":
        meta = dict({"entitlement_tag": entitlement, "report_id": report_id}, **meta)
        return {"asset_identification": asset, "meta": meta, "measurements": measurements}
    if fmt == "B":
        asset = dict(asset, report_id=report_id)
        return {"version": "2.0", "asset_identification": asset, "meta": meta,
                "measurements": measurements}
    raise ValueError("format must be 'A' or 'B'")


def signature_for(pid, sn, payload_text):
    digest = hashlib.sha256(("%s/%s/" % (pid, sn)).encode() + payload_text.encode()).digest()
    return {"sudi": sudi(pid, sn), "signing_type": "builtin", "key": software_tag(pid),
            "value": base64.b64encode(digest).decode()}


def rum_report(pid, sn, report_id, fmt="A", payload=None, header=True, **payload_kw):
    """A RUM report object: {"payload": "<JSON text>", "header": {...}, "signature": {...}}.
    payload may be a dict (serialised compactly) or the exact payload text."""
    if payload is None:
        payload = rum_payload(pid, sn, report_id, fmt, **payload_kw)
    text = payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))
    report = {"payload": text}
    if header:
        report["header"] = {"type": "rum"}
    report["signature"] = signature_for(pid, sn, text)
    return report


def usage_message(pid, sn, reports, hostname="sw-core-1", tag=None, nonce="a1b2c3d4e5f60718",
                  timestamp=None, trust_requests=None, entries=None):
    """CSSM reportusage shape: {sudi, timestamp, nonce, product_instance_identifier,
    reports: [{sudi, hostname, software_tag_identifier, trust_requests, usage: [...]}]}.
    entries overrides the reports[] list entirely."""
    if entries is None:
        entries = [{
            "sudi": sudi(pid, sn),
            "hostname": hostname,
            "software_tag_identifier": tag or software_tag(pid),
            "trust_requests": trust_requests or [],
            "usage": list(reports),
        }]
    return {
        "sudi": sudi(pid, sn),
        "timestamp": int(time.time() * 1000) if timestamp is None else timestamp,
        "nonce": nonce,
        "product_instance_identifier": "f804e59b-7296-4c6d-a4f4-e61207ddf150",
        "reports": entries,
    }


def usage_array_message(reports, pid=None, sn=None, hostname=None, nonce=None):
    """Device REST API shape: {"usage": [report, ...]} (optionally with an envelope)."""
    msg = {}
    if pid is not None:
        msg["sudi"] = sudi(pid, sn)
    if hostname is not None:
        msg["hostname"] = hostname
    if nonce is not None:
        msg["nonce"] = nonce
    msg["usage"] = list(reports)
    return msg


def poll_message(poll_id, nonce="feedc0ffee", timestamp=None):
    return {"poll_id": poll_id,
            "timestamp": int(time.time() * 1000) if timestamp is None else timestamp,
            "nonce": nonce, "action": "acknowledgements"}


def hello_message(pid=None, sn=None, nonce="0badcafe", **extra):
    msg = {}
    if pid is not None:
        msg["sudi"] = sudi(pid, sn)
    msg["timestamp"] = int(time.time() * 1000)
    msg["nonce"] = nonce
    msg.update(extra)
    return msg


def trust_message(pid, sn, hostname="sw-core-1", nonce="7a7a7a7a"):
    return {
        "sudi": sudi(pid, sn),
        "timestamp": int(time.time() * 1000),
        "nonce": nonce,
        "hostname": hostname,
        "trust_requests": [{
            "sudi": sudi(pid, sn),
            "software_tag_identifier": software_tag(pid),
            "trust_id": "%s_%s" % (pid, sn),
            "request_type": "trust_establishment",
        }],
    }


def authorization_message(pid, sn, licenses=None, nonce="5a5a5a5a"):
    if licenses is None:
        licenses = [{"entitlement_tag": ENTITLEMENT_DNA, "count": 1,
                     "type": "SLR", "action": "request"}]
    return {"sudi": sudi(pid, sn), "timestamp": int(time.time() * 1000), "nonce": nonce,
            "licenses": licenses}


class Device:
    """A simulated product instance that numbers its reports."""

    _serial = [0]
    _lock = threading.Lock()

    def __init__(self, pid="C9300-24P", sn=None, hostname=None, fmt="A"):
        with Device._lock:
            Device._serial[0] += 1
            n = Device._serial[0]
        self.pid = pid
        self.sn = sn or "FOC%04d%05dX" % (os.getpid() % 10000, n)
        self.hostname = hostname or "dev-%d" % n
        self.fmt = fmt
        self.next_id = 1700000000 + n * 100000

    def report(self, report_id=None, **kw):
        if report_id is None:
            with Device._lock:
                self.next_id += 1
                report_id = self.next_id
        kw.setdefault("fmt", self.fmt)
        return rum_report(self.pid, self.sn, report_id, **kw)

    def usage(self, reports, **kw):
        kw.setdefault("hostname", self.hostname)
        return usage_message(self.pid, self.sn, reports, **kw)

    def hello(self, **kw):
        return hello_message(self.pid, self.sn, **kw)

    @property
    def udi(self):
        return (self.pid, self.sn)


class LedgerClient(threading.Thread):
    """A device pushing usage messages of fresh reports until stopped, keeping
    a ledger of (report ids, answer, phase) for every message: the answer is
    200, 503, another status, "no answer" (connection failed or reset) or a
    note when a 200/503 does not say OK_POLL/OK_TRY_AGAIN. port: a number, or
    a one-element list the test may change; phase: a one-element list."""

    def __init__(self, port, phase, reports=2, timeout=15):
        super().__init__(daemon=True)
        self.port = port if isinstance(port, list) else [port]
        self.phase = phase
        self.reports = reports
        self.timeout = timeout
        self.device = Device()
        self.ledger = []
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            reports = [self.device.report() for _ in range(self.reports)]
            ids = [report_id_of(r) for r in reports]
            phase = self.phase[0]
            try:
                r = http_request("127.0.0.1", self.port[0], "POST", pi_path(),
                                 self.device.usage(reports), timeout=self.timeout)
                status = r.status
                said = (r.json or {}).get("status") if isinstance(r.json, dict) else None
                if status == 200 and said != "OK_POLL":
                    status = "200 saying %r" % said
                elif status == 503 and said != "OK_TRY_AGAIN":
                    status = "503 saying %r" % said
            except OSError:
                status = "no answer"
            self.ledger.append((ids, status, phase))
            if status != 200:
                self.stop.wait(0.1)

    def count(self, status, phase=None):
        return sum(1 for o in list(self.ledger)
                   if o[1] == status and (phase is None or o[2] == phase))


def ledger_check(case, clients, pg, db, allowed):
    """Asserts that every report the clients saw answered 200 is stored in db
    once (conflicts aside), and that every other answer is in allowed.
    Returns (messages, {answer: count}, reports acknowledged)."""
    ledger = [o for c in clients for o in c.ledger]
    odd = [o for o in ledger if o[1] != 200 and o[1] not in allowed]
    case.assertEqual(odd[:5], [], "unexpected answers (%d in all)" % len(odd))
    acked = {(c.device.sn, rid) for c in clients for ids, st, ph in c.ledger
             if st == 200 for rid in ids}
    rows = pg.psql("SELECT udi_serial, report_id FROM rum_reports WHERE conflict_of IS NULL",
                   db=db)
    stored = {(sn, int(rid)) for sn, rid in rows}
    case.assertEqual(acked - stored, set(), "reports answered 200 but not stored")
    twice = pg.scalar("SELECT count(*) FROM (SELECT 1 FROM rum_reports GROUP BY tenant_id, "
                      "udi_pid, udi_serial, report_id HAVING count(*) > 1) x", db=db)
    case.assertEqual(int(twice), 0, "reports stored twice")
    counts = {}
    for o in ledger:
        counts[o[1]] = counts.get(o[1], 0) + 1
    return len(ledger), counts, len(acked)


def report_id_of(report):
    payload = json.loads(report["payload"])
    return payload.get("meta", {}).get("report_id") or payload["asset_identification"]["report_id"]


# ---------------------------------------------------------------------------
# unittest glue

def log_digest(text, lines=120, access=10):
    """The end of a rumd log for a failure report: access lines (log_requests)
    can be thousands under load and would push the failure itself out of a
    CI summary, so only the last `access` of them are kept."""
    kept, dropped = [], 0
    rows = text.splitlines()
    last_access = [i for i, l in enumerate(rows) if " http: request " in l][-access:]
    keep_access = set(last_access)
    for i, line in enumerate(rows):
        if " http: request " in line and i not in keep_access:
            dropped += 1
            continue
        kept.append(line)
    head = "(%d access lines left out)\n" % dropped if dropped else ""
    return head + tail("\n".join(kept), lines)


class RumTestCase(unittest.TestCase):
    """Base class: one PgCluster per test module (class attribute `pg`), helpers to
    start rumd per test or per class, rumd's log printed for every failed test."""

    pg = None
    _class_rumds = ()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls._class_rumds = []
        mod = sys.modules[cls.__module__]
        if getattr(mod, "_rumtest_pg", None) is None:
            pg = PgCluster()
            pg.start()
            mod._rumtest_pg = pg
        cls.pg = mod._rumtest_pg

    @classmethod
    def tearDownClass(cls):
        for r in cls._class_rumds:
            try:
                if r.alive():
                    r.stop()
            finally:
                r.cleanup()
        super().tearDownClass()

    @classmethod
    def fresh_database(cls, prefix="t"):
        """A new empty database in the module's cluster; returns its URI."""
        with _db_lock:
            _db_counter[0] += 1
            name = "%s_%d" % (prefix, _db_counter[0])
        return cls.pg.create_database(name), name

    @classmethod
    def start_class_rumd(cls, **kw):
        """A rumd living for the whole class (stopped in tearDownClass)."""
        r = Rumd(**kw)
        r.start()
        cls._class_rumds.append(r)
        return r

    def setUp(self):
        super().setUp()
        self._log_marks = [(r, r.log_size()) for r in self._class_rumds]

    def start_rumd(self, **kw):
        """A rumd for this test; stopped (exit 0 asserted) at the end of the test."""
        r = Rumd(**kw)
        self.addCleanup(self._finish_rumd, r)
        r.start()
        self._log_marks.append((r, 0))
        return r

    def _finish_rumd(self, r):
        try:
            if r.alive():
                r.stop()
        finally:
            r.cleanup()

    def _failed(self):
        outcome = getattr(self, "_outcome", None)
        if outcome is None:
            return True
        if hasattr(outcome, "success") and not outcome.success:
            return True
        result = getattr(outcome, "result", None)
        if result is not None:
            for test, _ in list(result.failures) + list(result.errors):
                if getattr(test, "test_case", test) is self:  # subTest failures too
                    return True
        return False

    def tearDown(self):
        died = [r for r in self._class_rumds if not r.alive()]
        if self._failed() or died:
            for r, offset in self._log_marks:
                if not r.alive() and r.proc is not None:
                    offset = max(0, r.log_size() - 20000)
                    status = "exited with status %s" % r.proc.returncode
                else:
                    status = "running"
                print("\n---- rumd log (%r, %s) for %s ----\n%s\n---- end of rumd log ----" % (
                    r, status, self.id(), log_digest(r.log(offset))), file=sys.stderr)
        super().tearDown()
        if died:
            raise AssertionError("rumd died during or before this test: %s" % ", ".join(
                "pid %d status %s" % (r.pid, r.proc.returncode) for r in died))

    # assertions
    def assertFailed(self, reply, status):
        """reply is `status` with the error body {"status":"FAILED","message":"<one line>"}."""
        self.assertEqual(reply.status, status, reply)
        self.assertIsInstance(reply.json, dict, "error body is not a JSON object: %r" % reply)
        self.assertEqual(reply.json.get("status"), "FAILED", reply)
        msg = reply.json.get("message")
        self.assertIsInstance(msg, str, reply)
        self.assertTrue(msg.strip(), "empty error message: %r" % reply)
        self.assertNotIn("\n", msg, "error message spans lines: %r" % reply)
        return msg

    def assertOkPoll(self, reply, nonce=None):
        self.assertEqual(reply.status, 200, reply)
        self.assertIsInstance(reply.json, dict, reply)
        self.assertEqual(reply.json.get("status"), "OK_POLL", reply)
        poll_id = reply.json.get("poll_id")
        self.assertIsInstance(poll_id, str, reply)
        self.assertRegex(poll_id, r"^[0-9]+$")
        if nonce is not None:
            self.assertEqual(reply.json.get("nonce"), nonce, reply)
        return poll_id

    def assertConnectInfo(self, body):
        ci = body.get("connect_info")
        self.assertIsInstance(ci, dict, body)
        self.assertEqual(ci.get("name"), "CSLU_V1", body)
        self.assertIn(CONNECT_CAPABILITY, ci.get("capabilities", []), body)


_db_lock = threading.Lock()
_db_counter = [0]


def main():
    unittest.main(verbosity=2)
