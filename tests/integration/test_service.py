"""rumd as a service: deploy/rumd.service is a unit systemd accepts and rates
well sandboxed, rumd with its embedded PostgreSQL runs where memory may not
become executable (the unit's MemoryDenyWriteExecute=yes), and SIGHUP
(`systemctl reload`) applies a new log_level while a bad config file
changes nothing."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest

import rumtest
import test_embedded
from rumtest import Device, pi_path, wait_for

UNIT = os.path.join(rumtest.SOURCE_DIR, "deploy", "rumd.service")
INSTALLED_BIN = "/usr/local/bin/rumd"
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1


def systemd_analyze():
    path = shutil.which("systemd-analyze")
    if path is None:
        raise unittest.SkipTest("systemd-analyze not installed (package systemd): "
                                "the unit cannot be checked here")
    return path


def unit_copy(directory):
    """The unit with ExecStart on the binary under test: verify wants the
    program to exist, and /usr/local/bin/rumd need not."""
    with open(UNIT) as f:
        text = f.read()
    self_bin = os.path.abspath(rumtest.rumd_bin())
    assert INSTALLED_BIN in text, "deploy/rumd.service no longer runs %s" % INSTALLED_BIN
    path = os.path.join(directory, "rumd.service")
    with open(path, "w") as f:
        f.write(text.replace(INSTALLED_BIN, self_bin))
    return path


def unit_settings(text):
    """[Service] key -> list of values, as systemd reads them."""
    settings, section = {}, None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]" and "=" in line:
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


class Unit(unittest.TestCase):
    """The unit file, checked by systemd's own tools (no running systemd needed)."""

    def test_systemd_analyze_verify_accepts_it(self):
        tool = systemd_analyze()
        path = unit_copy(rumtest.make_tempdir("rumtest-unit-"))
        proc = subprocess.run([tool, "verify", "--man=no", path], capture_output=True,
                              text=True, timeout=120)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        # Unknown keys or bad values are only warned about: none may be.
        about_us = [l for l in (proc.stdout + proc.stderr).splitlines() if "rumd.service" in l]
        self.assertEqual(about_us, [], "systemd-analyze verify complains:\n" + proc.stderr)

    def test_unit_runs_with_least_privilege(self):
        with open(UNIT) as f:
            s = unit_settings(f.read())
        expect = {"User": "rumd", "NoNewPrivileges": "yes", "CapabilityBoundingSet": "",
                  "AmbientCapabilities": "", "ProtectSystem": "strict", "PrivateTmp": "yes",
                  "PrivateDevices": "yes", "ProtectKernelTunables": "yes",
                  "ProtectKernelModules": "yes", "ProtectControlGroups": "yes",
                  "RestrictNamespaces": "yes", "LockPersonality": "yes",
                  "MemoryDenyWriteExecute": "yes", "UMask": "0077", "StateDirectory": "rumd",
                  "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
                  "ExecReload": "/bin/kill -HUP $MAINPID", "KillMode": "mixed"}
        for key, value in expect.items():
            self.assertEqual(s.get(key, [None])[-1], value, key)
        self.assertIn("@system-service", s.get("SystemCallFilter", []))
        # systemd's own rating, where this systemd can rate a unit file offline.
        tool = systemd_analyze()
        path = unit_copy(rumtest.make_tempdir("rumtest-unit-"))
        proc = subprocess.run([tool, "security", "--offline=yes", "--no-pager", path],
                              capture_output=True, text=True, timeout=120)
        m = re.search(r"Overall exposure level for rumd\.service: ([0-9.]+)", proc.stdout)
        if proc.returncode != 0 and m is None:
            self.skipTest("systemd-analyze security --offline not supported: %s" %
                          proc.stderr.strip()[:200])
        self.assertIsNotNone(m, proc.stdout[-2000:] + proc.stderr)
        self.assertLessEqual(float(m.group(1)), 2.0, proc.stdout)


def mdwe_wrapper(directory):
    """A program that turns on the kernel's refusal of executable memory gains
    (prctl PR_SET_MDWE, what MemoryDenyWriteExecute=yes enforces; inherited by
    every child) and then runs rumd."""
    probe = subprocess.run([sys.executable, "-c",
                            "import ctypes,sys; l=ctypes.CDLL(None, use_errno=True); "
                            "sys.exit(0 if l.prctl(%d, %d, 0, 0, 0) == 0 else 1)"
                            % (PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN)])
    if probe.returncode != 0:
        raise unittest.SkipTest("this kernel has no PR_SET_MDWE (Linux 6.3 and later)")
    path = os.path.join(directory, "rumd-mdwe")
    with open(path, "w") as f:
        f.write("#!%s\nimport ctypes, os, sys\n"
                "libc = ctypes.CDLL(None, use_errno=True)\n"
                "if libc.prctl(%d, %d, 0, 0, 0) != 0:\n"
                "    sys.exit('prctl(PR_SET_MDWE): %%s' %% os.strerror(ctypes.get_errno()))\n"
                "os.execv(%r, [%r] + sys.argv[1:])\n"
                % (sys.executable, PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN,
                   os.path.abspath(rumtest.rumd_bin()), "rumd"))
    os.chmod(path, 0o755)
    return path


class NoWriteExecute(rumtest.RumTestCase):
    """rumd and its embedded PostgreSQL under MemoryDenyWriteExecute's rule."""

    @classmethod
    def setUpClass(cls):
        cls._class_rumds = []
        rumtest.pg_bindir()

    def test_embedded_cluster_serves_without_executable_memory(self):
        wrapper = mdwe_wrapper(rumtest.make_tempdir("rumtest-mdwe-", 0o755))
        data_dir = rumtest.make_tempdir("rumtest-mdwe-data-", 0o755)
        rumd = rumtest.Rumd(database_url=None, data_dir=data_dir)
        rumd.bin = wrapper
        self.addCleanup(self._finish_rumd, rumd)
        rumd.start()
        self._log_marks.append((rumd, 0))
        self.assertEqual(rumd.get("/readyz").status, 200)
        dev = Device()
        self.assertOkPoll(rumd.post(pi_path(), dev.usage([dev.report() for _ in range(3)])))
        clusters = test_embedded.find_clusters(data_dir)
        self.assertEqual(len(clusters), 1, clusters)
        # JIT is PostgreSQL's one user of writable-executable memory: off.
        self.assertEqual(test_embedded.cluster_psql(clusters[0], "SHOW jit"), [["off"]])
        self.assertEqual(test_embedded.cluster_psql(clusters[0],
                                                    "SELECT count(*) FROM rum_reports"), [["3"]])
        # The rule is in force: a query forced to JIT fails (which is why
        # the embedded cluster runs with jit = off).
        with self.assertRaisesRegex(AssertionError, "JIT"):
            test_embedded.cluster_psql(clusters[0], "SET jit = on; SET jit_above_cost = 0; "
                                       "SELECT sum(x) FROM generate_series(1, 1000) x")
        self.assertOkPoll(rumd.post(pi_path(), dev.usage([dev.report()])))
        rumd.stop()


class Reload(rumtest.RumTestCase):
    """SIGHUP reads the settings again and applies log_level."""

    def setUp(self):
        super().setUp()
        os.environ.pop("RUMTEST_LOG_LEVEL", None)  # the config file decides here

    def write_conf(self, text):
        tmp = self.conf + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.conf)

    def hup_and_wait(self, rumd, pattern):
        offset = rumd.log_size()
        rumd.signal(signal.SIGHUP)
        return wait_for(lambda: re.search(pattern, rumd.log(offset), re.M), 20,
                        what="rumd to log %r" % pattern)

    def debug_lines_for(self, rumd, probe, expect=True):
        """Requests probe and returns rumd's debug lines about it. The access
        line is written as the request ends, after the client has its answer:
        one expected is waited for; one not expected is given half a second
        (an answer on another connection says nothing about this one's line)."""
        offset = rumd.log_size()
        rumd.get(probe)

        def lines():
            return [l for l in rumd.log(offset).splitlines()
                    if " debug " in l and ("method=GET path=%s " % probe) in l]
        if expect:
            wait_for(lines, 10, what="the debug line for %s" % probe)
        else:
            time.sleep(0.5)
        return lines()

    def test_sighup_applies_log_level_and_a_bad_config_changes_nothing(self):
        url, _ = self.fresh_database("reload")
        self.conf = os.path.join(rumtest.make_tempdir("rumtest-conf-"), "rumd.conf")
        self.write_conf("log_level = info\nhttp_threads = 2\n")
        rumd = self.start_rumd(database_url=url, args=["--config", self.conf])
        self.assertEqual(self.debug_lines_for(rumd, "/probe-1", expect=False), [])

        # Unchanged settings: said so.
        self.hup_and_wait(rumd, r"SIGHUP: settings read again; nothing changed")

        # log_level applies at once; http_threads is named as waiting for a restart.
        self.write_conf("log_level = debug\nhttp_threads = 3\n")
        self.hup_and_wait(rumd, r"SIGHUP: settings reloaded; applied: log_level info -> debug; "
                                r"ignored until a restart: http_threads")
        self.assertTrue(self.debug_lines_for(rumd, "/probe-2"))

        # A bad value, then a file with one good and one bad line: nothing changes.
        for bad in ("log_level = loud\n", "log_level = info\nthis is not a setting\n",
                    "log_level = info\nno_such_setting = 1\n"):
            with self.subTest(bad=bad):
                self.write_conf(bad)
                self.hup_and_wait(rumd, r"error SIGHUP: settings not reloaded, nothing changed: "
                                        r".*rumd\.conf")
                self.assertTrue(self.debug_lines_for(rumd, "/probe-3"),
                                "log_level changed although the config file was refused")
        # A config file that is gone changes nothing either.
        os.unlink(self.conf)
        self.hup_and_wait(rumd, r"SIGHUP: settings not reloaded, nothing changed: config file")
        self.assertTrue(self.debug_lines_for(rumd, "/probe-4"))

        # Back to info and the running http_threads: quiet again, nothing
        # waits for a restart, and rumd served throughout.
        self.write_conf("log_level = info\nhttp_threads = 2\n")
        self.hup_and_wait(rumd, r"applied: log_level debug -> info; ignored until a restart: none")
        self.assertEqual(self.debug_lines_for(rumd, "/probe-5", expect=False), [])
        dev = Device()
        self.assertOkPoll(rumd.post(pi_path(), dev.usage([dev.report()])))
        self.assertTrue(rumd.alive())

    def test_database_url_file_is_read_again_and_never_logged(self):
        url, db = self.fresh_database("reloadurl")
        secret = "hunter2-reload"
        with_pw = url.replace("postgres@", "postgres:%s@" % secret, 1)
        self.assertIn(secret, with_pw)
        d = rumtest.make_tempdir("rumtest-conf-")
        url_file = os.path.join(d, "database.url")
        fd = os.open(url_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, (with_pw + "\n").encode())
        os.close(fd)
        self.conf = os.path.join(d, "rumd.conf")
        self.write_conf("log_level = info\ndatabase_url_file = %s\n" % url_file)
        rumd = self.start_rumd(database_url=None, args=["--config", self.conf])
        dev = Device()
        self.assertOkPoll(rumd.post(pi_path(), dev.usage([dev.report()])))
        self.assertEqual(self.pg.count("rum_reports", db=db), 1)
        # Another URL in the file: named as waiting for a restart, never shown.
        with open(url_file, "w") as f:
            f.write(with_pw + "?application_name=rumd-next\n")
        self.hup_and_wait(rumd, r"applied: none; ignored until a restart: database_url$")
        # The file readable by others: refused, nothing changes.
        os.chmod(url_file, 0o644)
        self.hup_and_wait(rumd, r"settings not reloaded, nothing changed: database_url_file "
                                r".*mode 0644")
        self.assertOkPoll(rumd.post(pi_path(), dev.usage([dev.report()])))
        self.assertNotIn(secret, rumd.log())


if __name__ == "__main__":
    rumtest.main()
