"""Pull collection end to end (PROTOCOL.md 3): rumd collects from rum-agents
behind a real OpenSSH sshd (NETCONF, SCP or one-time HTTP URLs) and from
rum-agent's device REST API, stores their reports exactly as pushed ones and
hands their ACKs back; the agent's own `show status` then shows the ACK.
Targets are managed with `rumd target ...` and the admin API; failures are
recorded per collection, back off, and raise an alert."""

import base64
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

import rumtest
from rumtest import sql_literal, wait_for

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sshdtest  # noqa: E402

BUILD = os.environ.get("RUM_BUILD_DIR", "")
AGENT = os.path.join(BUILD, "agent", "rum-agent")
PEERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "netconf_peers.py")
TAG = "regid.2017-03.com.cisco.advantagek9,1.0_bd1da96e-ec1d-412b-a50e-53846b347d53"
TAG2 = "regid.2018-12.com.cisco.DNA_P_50M_A,1.0_100fb8b2-f5cc-459c-9253-ac77b827fd71"


def agent(*args, check=True):
    proc = subprocess.run([AGENT, *args], capture_output=True, text=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError("rum-agent %s: %s%s" % (" ".join(args), proc.stdout, proc.stderr))
    return proc


def ack_xml(report_ids, ongoing=14):
    rum = ",".join('{"report_id":%d,"status":"ACK"}' % i for i in report_ids)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<smartLicense>'
            "<smartLicensePolicy><policyCode><name>Pulled Policy</name><version>4</version>"
            "<ackRequired>yes</ackRequired><subscription><firstTimeReport>60</firstTimeReport>"
            "<onGoingReporting>%d</onGoingReporting><reportOnMACD>60</reportOnMACD>"
            "</subscription></policyCode><signature>cG9s</signature></smartLicensePolicy>"
            "<smartLicenseRumAck><data><![CDATA[[%s]]]></data><signature>cnVt</signature>"
            "</smartLicenseRumAck></smartLicense>\n" % (ongoing, rum)).encode()


def report_states(state):
    out = {}
    for line in agent("show", "--state", state, "rum").stdout.splitlines():
        m = re.match(r"^(\d+)\s+(OPEN|CLOSED|UNACK|ACK)\s", line)
        if m:
            out[int(m.group(1))] = m.group(2)
    return out


class Collector(rumtest.RumTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not os.path.exists(AGENT):
            raise unittest.SkipTest("no rum-agent binary: set RUM_BUILD_DIR (ctest does)")
        cls.url, cls.db = cls.fresh_database("collect")
        cls.data = rumtest.make_tempdir("collector-data-", 0o755)
        cls.serials = 0

    def setUp(self):
        super().setUp()
        self.tmp = rumtest.make_tempdir("collector-")
        os.chmod(self.tmp, 0o755)
        self.addCleanup(shutil.rmtree, self.tmp, True)

    # -- helpers ---------------------------------------------------------------

    def rumd(self, *args, ok=True, timeout=180):
        proc = rumtest.run_rumd(list(args) + ["--database_url=" + self.url,
                                              "--data_dir=" + self.data,
                                              "--collector_rpc_timeout_ms=30000",
                                              "--collector_timeout_ms=90000"],
                                timeout=timeout)
        if ok is not None and (proc.returncode == 0) != ok:
            raise AssertionError("rumd %s exited %d:\n%s%s" % (" ".join(args), proc.returncode,
                                                              proc.stdout, proc.stderr))
        return proc

    def q(self, sql):
        return self.pg.psql(sql, db=self.db)

    def scalar(self, sql):
        return self.pg.scalar(sql, db=self.db)

    def new_agent(self, ents=((TAG, 4),)):
        Collector.serials += 1
        sn = "FOCPULL%04d" % Collector.serials
        state = os.path.join(self.tmp, "agent-" + sn)
        args = ["init", "--state", state, "--pid", "C9300-48P", "--serial", sn,
                "--hostname", "pull-" + sn.lower()]
        for tag, n in ents:
            args += ["--entitlement", "%s=%d" % (tag, n)]
        agent(*args)
        agent("set-usage", "--state", state, "%s=%d" % (ents[0][0], ents[0][1] + 1))
        return state, sn

    def sshd(self, state, password=False, env=""):
        sub = "%s%s netconf --state %s" % (env, AGENT, state)
        if env:
            sub = "/usr/bin/env " + sub
        s = sshdtest.Sshd({"netconf": sub}, password_auth=password,
                          bootflash_dir=os.path.join(state, "bootflash"))
        s.__enter__()
        self.addCleanup(s.__exit__, None, None, None)
        if password and s.password:
            sshdtest.chown_for_login(state)
        return s

    def add(self, *args, ok=True):
        proc = self.rumd("target", "add", *args, ok=ok)
        if not ok:
            return proc
        m = re.search(r"pull target (\d+) added", proc.stdout)
        self.assertTrue(m, proc.stdout)
        return int(m.group(1))

    def add_netconf(self, sshd, *extra, key=True):
        args = ["--host", "127.0.0.1", "--port", str(sshd.port)]
        if key:
            args += ["--username", sshd.user, "--key", sshd.user_key]
        if "--known-host-key" not in extra and "--trust-on-first-use" not in extra:
            args += ["--known-host-key", sshd.host_key_line()]
        if "--interval" not in extra:
            args += ["--on-demand"]
        return self.add(*args, *extra)

    def collect(self, target, ok=True):
        return self.rumd("collect", "--target", str(target), "--wait", ok=ok)

    def last_job(self, target):
        rows = self.q("SELECT state, reports_collected, reports_new, acks_delivered, "
                      "coalesce(error, ''), duration_ms FROM collection_jobs "
                      "WHERE target_id = %d AND state IN ('ok', 'failed') "
                      "ORDER BY finished_at DESC, id DESC LIMIT 1" % target)
        self.assertEqual(len(rows), 1)
        st, col, new, acks, err, dur = rows[0]
        return {"state": st, "collected": int(col), "new": int(new), "acks": int(acks),
                "error": err, "duration_ms": int(dur or 0)}

    def device_id(self, sn):
        return int(self.scalar("SELECT id FROM devices WHERE udi_serial = %s" % sql_literal(sn)))

    def put_ack(self, sn, content):
        dev = self.device_id(sn)
        return int(self.scalar(
            "INSERT INTO acks (tenant_id, device_id, content) SELECT tenant_id, id, "
            "decode('%s', 'hex') FROM devices WHERE id = %d RETURNING id" % (content.hex(), dev)))

    def stored_ids(self, sn):
        return {int(r[0]) for r in self.q(
            "SELECT report_id FROM rum_reports WHERE udi_serial = %s AND conflict_of IS NULL"
            % sql_literal(sn))}

    def check_ack_installed(self, state, ack_id, via, acked):
        self.assertEqual(self.q("SELECT via, address FROM ack_deliveries WHERE ack_id = %d"
                                % ack_id), [[via, "127.0.0.1"]])
        self.assertEqual(self.scalar("SELECT delivered_at IS NOT NULL FROM acks WHERE id = %d"
                                     % ack_id), "t")
        status = agent("show", "--state", state, "status").stdout
        self.assertRegex(status, r"Last ACK received: \S")
        self.assertIn("Reporting push interval: 14  days", status)
        states = report_states(state)
        self.assertTrue(acked and all(states[i] == "ACK" for i in acked), (acked, states))

    # -- NETCONF ---------------------------------------------------------------

    def test_netconf_collect_and_ack(self):
        state, sn = self.new_agent([(TAG, 4), (TAG2, 2)])
        sshd = self.sshd(state)
        target = self.add_netconf(sshd)
        proc = self.collect(target)
        sent = {i for i, s in report_states(state).items() if s == "UNACK"}
        n = len(sent)
        self.assertGreaterEqual(n, 3)  # closed by set-usage, and both open ones by the save
        self.assertRegex(proc.stdout, r"target %d .* ok .* reports %d \(new %d\)" % (target, n, n))
        job = self.last_job(target)
        self.assertEqual((job["state"], job["collected"], job["new"], job["acks"]), ("ok", n, n, 0))
        # Stored exactly as a push would: byte-exact, under an upload of source pull.
        self.assertEqual(self.stored_ids(sn), sent)
        self.assertEqual(self.scalar(
            "SELECT count(*) FROM rum_reports r JOIN uploads u ON u.id = r.upload_id "
            "WHERE r.udi_serial = %s AND u.source = 'pull'" % sql_literal(sn)), str(n))
        saved = os.path.join(self.tmp, "usage.xml")
        shutil.copytree(state, state + ".copy")
        agent("save-usage", "--state", state + ".copy", "all", saved)
        with open(saved) as f:
            text = f.read()
        for report in self.pg.text_bytes("SELECT report FROM rum_reports WHERE udi_serial = %s"
                                         % sql_literal(sn), db=self.db):
            self.assertIn(report.decode(), text)
        # The licensing state is kept as the device's snapshot.
        snap = json.loads(self.scalar(
            "SELECT s.snapshot FROM device_snapshots s WHERE s.target_id = %d" % target))
        self.assertEqual((snap["pid"], snap["sn"]), ("C9300-48P", sn))
        self.assertEqual({u["tag"] for u in snap["usage"]}, {TAG, TAG2})
        # Collecting again: the reports already held are duplicates; only
        # those the device closed for this save are new.
        self.collect(target)
        again = {i for i, s in report_states(state).items() if s == "UNACK"}
        job = self.last_job(target)
        self.assertEqual((job["collected"], job["new"]), (len(again), len(again - sent)))
        self.assertEqual(self.stored_ids(sn), again)
        sent = again
        # An ACK for the device goes back on the next collection.
        ack_id = self.put_ack(sn, ack_xml(sorted(sent)))
        proc = self.collect(target)
        self.assertIn("ACKs delivered 1", proc.stdout)
        self.check_ack_installed(state, ack_id, "netconf", sent)
        # Delivered once: the next collection hands nothing over.
        self.collect(target)
        self.assertEqual(self.last_job(target)["acks"], 0)
        # The inventory knows the device as collected over NETCONF, with its
        # reports and the ACK delivered to it.
        dev = json.loads(self.rumd("device", "show", str(self.device_id(sn)), "--json").stdout)
        self.assertEqual((dev["udi_pid"], dev["udi_sn"], dev["hostname"], dev["method"]),
                         ("C9300-48P", sn, "pull-" + sn.lower(), "netconf"))
        self.assertEqual(dev["reports"]["stored"], len(self.stored_ids(sn)))
        self.assertEqual((dev["last_ack"]["id"], dev["last_ack"]["delivered"]), (ack_id, True))
        self.assertEqual({u["entitlement_tag"] for u in dev["usage"]}, {TAG, TAG2})
        self.assertIsNotNone(dev["next_deadline"])
        out = self.rumd("target", "show", str(target)).stdout
        self.assertIn("C9300-48P / %s" % sn, out)
        self.assertNotIn("PRIVATE KEY", out)
        listing = self.rumd("target", "list").stdout
        self.assertRegex(listing, r"(?m)^%d\s+default\s+netconf\s+127\.0\.0\.1:%d" % (target, sshd.port))

    def test_collection_history_is_bounded(self):
        state, sn = self.new_agent()
        sshd = self.sshd(state)
        target = self.add_netconf(sshd)
        self.q("INSERT INTO collection_jobs (target_id, trigger, due_at, state, finished_at) "
               "SELECT %d, 'manual', now() - make_interval(secs => g), 'ok', "
               "now() - make_interval(secs => g) FROM generate_series(1, 150) g" % target)
        self.collect(target)
        self.assertEqual(self.scalar("SELECT count(*) FROM collection_jobs WHERE target_id = %d "
                                     "AND state IN ('ok', 'failed')" % target), "100")
        self.assertEqual(self.last_job(target)["state"], "ok")

    def test_password_auth_and_wrong_password(self):
        state, sn = self.new_agent()
        sshd = self.sshd(state, password=True)
        sshd.require_password()
        pw = os.path.join(self.tmp, "pw")
        with open(pw, "w") as f:
            f.write(sshd.password + "\n")
        good = self.add_netconf(sshd, "--username", sshd.password_user, "--password-file", pw,
                                key=False)
        self.collect(good)
        self.assertEqual(self.last_job(good)["collected"], len(self.stored_ids(sn)))
        self.assertGreater(len(self.stored_ids(sn)), 0)
        with open(pw, "w") as f:
            f.write("not-" + sshd.password)
        bad = self.add("--host", "localhost", "--port", str(sshd.port), "--username",
                       sshd.password_user, "--password-file", pw, "--known-host-key",
                       sshd.host_key_line(), "--on-demand")
        proc = self.collect(bad, ok=False)
        self.assertIn("failed", proc.stdout)
        job = self.last_job(bad)
        self.assertEqual(job["state"], "failed")
        self.assertIn("EAUTH", job["error"])
        self.assertNotIn(sshd.password, job["error"] + proc.stdout + proc.stderr)
        secret = self.scalar("SELECT encode(secret, 'escape') FROM pull_targets WHERE id = %d" % bad)
        self.assertNotIn(sshd.password, secret)

    def test_host_keys(self):
        state, sn = self.new_agent()
        sshd = self.sshd(state)
        other = os.path.join(self.tmp, "other")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other], check=True)
        with open(other + ".pub") as f:
            wrong = " ".join(f.read().split()[:2])
        changed = self.add_netconf(sshd, "--known-host-key", wrong)
        self.collect(changed, ok=False)
        job = self.last_job(changed)
        self.assertEqual(job["state"], "failed")
        self.assertIn("ECONFLICT", job["error"])
        self.assertIn("SHA256:", job["error"])
        self.assertEqual(self.stored_ids(sn), set())
        # The key as people paste it: a .pub line with its comment, a
        # known_hosts line (plain or hashed host), stored as "TYPE BASE64".
        with open(sshd.host_key + ".pub") as f:
            pub_line = f.read().strip() + " root@device-1"
        key = sshd.host_key_line()
        for i, pasted in enumerate((
                "[127.0.0.1]:%d %s" % (sshd.port, pub_line),
                "|1|c2FsdHNhbHRzYWx0c2FsdHNhbHQ=|aGFzaGhhc2hoYXNoaGFzaGhhc2g= " + key,
                "\n  %s\n" % key)):
            pinned = self.add("--host", "pasted-%d.example" % i, "--username", "u", "--key",
                              sshd.user_key, "--known-host-key", pasted, "--on-demand")
            self.assertEqual(self.scalar("SELECT known_host_key FROM pull_targets WHERE id = %d"
                                         % pinned), key, pasted)
        self.rumd("target", "remove", str(changed))
        pinned = self.add_netconf(sshd, "--known-host-key", pub_line)
        self.assertEqual(self.scalar("SELECT known_host_key FROM pull_targets WHERE id = %d"
                                     % pinned), key)
        self.collect(pinned)
        for bad, why in (("@revoked * " + key, "marked @revoked"),
                         ("host1 host2 " + key, "expected"),
                         (key.split()[0], "expected")):
            proc = self.add("--host", "127.0.0.1", "--username", "u", "--key", sshd.user_key,
                            "--known-host-key", bad, "--on-demand", ok=False)
            self.assertIn(why, proc.stderr, bad)
        # Trust on first use: the key is learnt, then checked like any other.
        tofu = self.add("--host", "localhost", "--port", str(sshd.port), "--username", sshd.user,
                        "--key", sshd.user_key, "--trust-on-first-use", "--on-demand")
        self.collect(tofu)
        self.assertEqual(self.scalar("SELECT known_host_key FROM pull_targets WHERE id = %d" % tofu),
                         sshd.host_key_line())

    def test_device_closing_before_its_hello(self):
        state, sn = self.new_agent()
        s = sshdtest.Sshd({"netconf": "/bin/true"}, bootflash_dir=os.path.join(state, "bootflash"))
        s.__enter__()
        self.addCleanup(s.__exit__, None, None, None)
        target = self.add_netconf(s)
        self.collect(target, ok=False)
        error = self.last_job(target)["error"]
        # The step is named once, then what happened.
        self.assertTrue(error.startswith("netconf hello: device closed the session"), error)
        self.assertEqual(error.count("netconf hello"), 1, error)

    def test_base10_only_agent(self):
        state, sn = self.new_agent()
        sshd = self.sshd(state, env="RUM_AGENT_NETCONF_BASE=1.0 ")
        target = self.add_netconf(sshd)
        self.collect(target)
        sent = {i for i, s in report_states(state).items() if s == "UNACK"}
        self.assertEqual(self.last_job(target)["collected"], len(sent))
        self.assertEqual(self.stored_ids(sn), sent)

    def test_bad_device_add_changes_nothing(self):
        before = self.scalar("SELECT count(*) FROM pull_targets")
        key = os.path.join(self.tmp, "k")
        with open(key, "w") as f:
            f.write("not a key\n")
        pw = os.path.join(self.tmp, "pw")
        with open(pw, "w") as f:
            f.write("x\n")
        cases = [
            (["--host", "h1", "--username", "u", "--password-file", pw, "--known-host-key",
              "nonsense"], "known-host-key"),
            (["--host", "h1", "--username", "u", "--key", key, "--trust-on-first-use"], "key"),
            (["--host", "h1", "--username", "u", "--trust-on-first-use"], "password-file"),
            (["--host", "h1", "--username", "u", "--password-file", pw, "--trust-on-first-use",
              "--interval", "5x"], "interval"),
            (["--host", "h1", "--username", "u", "--password-file", pw, "--trust-on-first-use",
              "--interval", "10"], "interval"),
            (["--host", "h 1", "--username", "u", "--password-file", pw, "--trust-on-first-use"],
             "host"),
            (["--host", "h1", "--username", "u", "--password-file", pw, "--trust-on-first-use",
              "--tenant", "nope"], "unknown tenant"),
            (["--host", "h1", "--username", "u", "--password-file", pw, "--trust-on-first-use",
              "--protocol", "telnet"], "protocol"),
            (["--host", "h1", "--username", "u", "--password-file", pw, "--trust-on-first-use",
              "--transfer", "ftp"], "transfer"),
            (["--host", "h1", "--username", "u", "--password-file", "/nonexistent",
              "--trust-on-first-use"], "/nonexistent"),
        ]
        for args, word in cases:
            proc = self.add(*args, ok=False)
            self.assertIn(word, proc.stderr, args)
        self.assertEqual(self.scalar("SELECT count(*) FROM pull_targets"), before)
        self.assertIn("not an id", self.rumd("target", "show", "x1", ok=False).stderr)
        self.assertIn("no pull target", self.rumd("target", "remove", "999999", ok=False).stderr)
        self.assertIn("--target", self.rumd("collect", ok=False).stderr)

    # -- failures --------------------------------------------------------------

    def test_failures_are_recorded_and_bounded(self):
        for mode, code in (("stall", "ETIMEDOUT"), ("drop", "EIO"), ("badchunk", "EINVAL"),
                           ("rpcerror", "rpc-error")):
            sshd = sshdtest.Sshd({"netconf": "/usr/bin/python3 %s %s" % (PEERS, mode)})
            sshd.__enter__()
            self.addCleanup(sshd.__exit__, None, None, None)
            target = self.add_netconf(sshd)
            t0 = time.monotonic()
            proc = self.collect(target, ok=False)
            took = time.monotonic() - t0
            job = self.last_job(target)
            self.assertEqual(job["state"], "failed", mode)
            self.assertIn(code, job["error"], mode)
            self.assertIn(job["error"].split(":")[0], proc.stdout, mode)
            self.assertLess(took, 60, mode)

    def test_schedule_backoff_alert_and_recovery(self):
        state, sn = self.new_agent()
        sshd = self.sshd(state)
        # Nothing listens there yet: the device is down. Not the port of an
        # earlier test's target either (the class shares one database).
        taken = {row[0] for row in self.q("SELECT port FROM pull_targets")}
        port = sshdtest.free_port()
        while str(port) in taken:
            port = sshdtest.free_port()
        target = self.add("--host", "127.0.0.1", "--port", str(port), "--username", sshd.user,
                          "--key", sshd.user_key, "--known-host-key", sshd.host_key_line(),
                          "--interval", "1h")
        r = self.start_rumd(database_url=self.url, data_dir=self.data,
                            flags={"collector_poll_ms": "100", "collector_retry_base_s": "2",
                                   "collector_alert_after_s": "0", "collector_sessions": "2",
                                   "node_name": "sched-1"})
        wait_for(lambda: int(self.scalar("SELECT count(*) FROM collection_jobs WHERE target_id = %d "
                                         "AND state = 'failed'" % target)) >= 2, 60,
                 what="two failed collections")
        rows = self.q("SELECT trigger, state, node, error FROM collection_jobs WHERE target_id = %d "
                      "ORDER BY id" % target)
        self.assertEqual(rows[0][:3], ["schedule", "failed", "sched-1"])
        self.assertEqual(rows[1][0], "retry")
        self.assertIn("EUNAVAIL", rows[0][3])
        # Back-off: the second retry waits twice as long as the first.
        gaps = self.q("SELECT extract(epoch FROM due_at - (SELECT finished_at FROM collection_jobs "
                      "p WHERE p.target_id = j.target_id AND p.id < j.id ORDER BY p.id DESC LIMIT 1))"
                      " FROM collection_jobs j WHERE target_id = %d AND trigger = 'retry' ORDER BY id"
                      % target)
        self.assertGreaterEqual(len(gaps), 2)
        self.assertAlmostEqual(float(gaps[0][0]), 2, delta=1)
        self.assertAlmostEqual(float(gaps[1][0]), 4, delta=1)
        alert = self.q("SELECT a.id, kind, resolved_at IS NULL FROM alerts a JOIN pull_targets t "
                       "ON t.alert_id = a.id WHERE t.id = %d" % target)
        self.assertEqual([a[1:] for a in alert], [["collection_failing", "t"]])
        # The device comes back (a forwarder opens the port): the next retry
        # succeeds, the alert is resolved, the schedule returns to the interval.
        fwd = socket.socket()
        fwd.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        fwd.bind(("127.0.0.1", port))
        fwd.listen(4)
        self.addCleanup(fwd.close)

        def pump(a, b):
            try:
                while True:
                    data = a.recv(65536)
                    if not data:
                        break
                    b.sendall(data)
            except OSError:
                pass
            finally:
                for x in (a, b):
                    try:
                        x.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        def serve():
            while True:
                try:
                    c, _ = fwd.accept()
                except OSError:
                    return
                up = socket.create_connection(("127.0.0.1", sshd.port))
                threading.Thread(target=pump, args=(c, up), daemon=True).start()
                threading.Thread(target=pump, args=(up, c), daemon=True).start()

        threading.Thread(target=serve, daemon=True).start()
        wait_for(lambda: self.scalar("SELECT count(*) FROM collection_jobs WHERE target_id = %d "
                                     "AND state = 'ok'" % target) == "1", 90,
                 what="the collection after the device came back")
        self.assertEqual(self.scalar("SELECT resolved_at IS NOT NULL FROM alerts WHERE id = %s"
                                     % alert[0][0]), "t")
        self.assertEqual(self.q("SELECT failures, failing_since IS NULL, alert_id IS NULL FROM "
                                "pull_targets WHERE id = %d" % target), [["0", "t", "t"]])
        self.assertEqual(self.scalar("SELECT count(*) FROM collection_jobs WHERE target_id = %d AND "
                                     "state = 'queued' AND due_at > now() + interval '50 minutes'"
                                     % target), "1")
        self.assertTrue(r.alive())
        r.stop()

    def test_stop_cuts_collections_short(self):
        sshd = sshdtest.Sshd({"netconf": "/usr/bin/python3 %s stall" % PEERS})
        sshd.__enter__()
        self.addCleanup(sshd.__exit__, None, None, None)
        target = self.add_netconf(sshd, "--interval", "1h")
        r = self.start_rumd(database_url=self.url, data_dir=self.data,
                            flags={"collector_poll_ms": "100", "collector_rpc_timeout_ms": "600000",
                                   "collector_timeout_ms": "900000", "node_name": "stopping"})
        wait_for(lambda: self.scalar("SELECT state FROM collection_jobs WHERE target_id = %d"
                                     % target) == "running", 60, what="the collection to start")
        time.sleep(1)
        t0 = time.monotonic()
        r.stop()
        self.assertLess(time.monotonic() - t0, 10)
        # Not the device's failure: the job is queued again for any node.
        self.assertEqual(self.q("SELECT state, node, attempts FROM collection_jobs WHERE "
                                "target_id = %d" % target), [["queued", "", "0"]])
        self.assertEqual(self.q("SELECT failures, busy_until IS NULL FROM pull_targets WHERE id = %d"
                                % target), [["0", "t"]])
        self.rumd("target", "remove", str(target))

    # -- one-time HTTP URLs instead of SCP -------------------------------------

    def test_http_transfer_with_serve(self):
        state, sn = self.new_agent()
        sshd = self.sshd(state)
        port = sshdtest.free_port()
        r = self.start_rumd(database_url=self.url, data_dir=self.data,
                            http_listen="127.0.0.1:%d" % port,
                            flags={"collector_poll_ms": "100", "log_level": "debug",
                                   "collector_public_url": "http://127.0.0.1:%d" % port})
        target = self.add_netconf(sshd, "--transfer", "http", "--interval", "1h")
        # Waits past the collector's own bounds (a 60 s RPC, the device's 60 s
        # upload), so that a stuck step ends the job with an error naming it.
        try:
            wait_for(lambda: self.scalar("SELECT count(*) FROM collection_jobs WHERE "
                                         "target_id = %d AND state IN ('ok', 'failed')"
                                         % target) == "1", 100, what="the scheduled collection")
        except AssertionError as e:
            # Say where it stands: the job rows and what rumd logged.
            raise AssertionError("%s; jobs: %s; rumd log: %s" % (
                e, self.q("SELECT id, state, node, attempts, started_at, error FROM "
                          "collection_jobs WHERE target_id = %d" % target),
                rumtest.tail(r.log(), 80))) from None
        job = self.last_job(target)
        self.assertEqual(job["state"], "ok", job)
        self.assertEqual(self.stored_ids(sn),
                         {i for i, s in report_states(state).items() if s == "UNACK"})
        self.assertEqual(self.scalar("SELECT count(*) FROM collection_jobs WHERE target_id = %d AND "
                                     "state = 'queued' AND due_at > now() + interval '50 minutes'"
                                     % target), "1")
        sent = {i for i, s in report_states(state).items() if s == "UNACK"}
        ack_id = self.put_ack(sn, ack_xml(sorted(sent)))
        r2 = self.rumd("collect", "--target", str(target))
        self.assertIn("queued 1 collection", r2.stdout)
        wait_for(lambda: self.scalar("SELECT count(*) FROM collection_jobs WHERE target_id = %d "
                                     "AND trigger = 'manual' AND state = 'ok'" % target) == "1", 60,
                 what="the manual collection")
        self.assertEqual(self.last_job(target)["acks"], 1)
        self.check_ack_installed(state, ack_id, "netconf", sent)
        # Spent one-time URLs are dropped with their collection's record.
        self.assertEqual(self.scalar("SELECT count(*) FROM file_transfers"), "0")
        # A used token answers 404, as any unknown one.
        status, _, _ = r.get("/cslu/v1/files/" + "ab" * 24)
        self.assertEqual(status, 404)
        status, _, _ = r.request("DELETE", "/cslu/v1/files/" + "ab" * 24)
        self.assertEqual(status, 405)
        r.stop()

    # -- device REST API -------------------------------------------------------

    def test_rest_collect_and_ack(self):
        if not shutil.which("openssl"):
            self.skipTest("openssl not installed")
        state, sn = self.new_agent([(TAG2, 3)])
        key, cert = os.path.join(self.tmp, "key.pem"), os.path.join(self.tmp, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1"], check=True,
                       capture_output=True)
        pw = os.path.join(self.tmp, "pw")
        with open(pw, "w") as f:
            f.write("rest-s3cret\n")
        port = sshdtest.free_port()
        p = subprocess.Popen([AGENT, "rest", "--state", state, "--listen", "127.0.0.1:%d" % port,
                              "--user", "admin", "--password-file", pw, "--cert", cert,
                              "--key", key], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True)
        self.addCleanup(lambda: (p.kill(), p.wait(), p.stdout.close()))
        self.assertIn("listening on https://", p.stdout.readline())
        target = self.add("--protocol", "restapi", "--host", "127.0.0.1", "--port", str(port),
                          "--username", "admin", "--password-file", pw, "--trust-on-first-use",
                          "--on-demand")
        self.collect(target)
        job = self.last_job(target)
        self.assertEqual(job["state"], "ok", job)
        self.assertEqual(job["collected"], len(self.stored_ids(sn)))
        self.assertGreater(job["new"], 0)
        pin = self.scalar("SELECT known_host_key FROM pull_targets WHERE id = %d" % target)
        self.assertTrue(pin.startswith("sha256//"), pin)
        sent = {i for i, s in report_states(state).items() if s in ("UNACK", "CLOSED")}
        self.assertEqual(self.stored_ids(sn), sent)
        ack_id = self.put_ack(sn, ack_xml(sorted(sent)))
        self.collect(target)
        self.assertEqual(self.last_job(target)["acks"], 1)
        self.check_ack_installed(state, ack_id, "restapi", sent)
        # A wrong password is recorded as such.
        with open(pw, "w") as f:
            f.write("wrong\n")
        bad = self.add("--protocol", "restapi", "--host", "localhost", "--port", str(port),
                       "--username", "admin", "--password-file", pw, "--known-host-key", pin,
                       "--on-demand")
        self.collect(bad, ok=False)
        self.assertIn("EAUTH", self.last_job(bad)["error"])

    # -- admin API -------------------------------------------------------------

    def test_admin_api(self):
        state, sn = self.new_agent()
        sshd = self.sshd(state)
        r = self.start_rumd(database_url=self.url, data_dir=self.data,
                            flags={"collector_poll_ms": "100"})
        admin = self.rumd("token", "create", "--role", "admin").stdout.split()[0]
        reader = self.rumd("token", "create", "--role", "reader").stdout.split()[0]
        self.assertTrue(admin.startswith("rumd_"), admin)

        def call(method, path, body=None, token=admin):
            hdr = {"Authorization": "Bearer " + token}
            if body is not None:
                body = json.dumps(body).encode()
                hdr["Content-Type"] = "application/json"
            st, _, reply = r.request(method, "/api/v1/tenants/default" + path, body, hdr)
            return st, reply

        with open(sshd.user_key) as f:
            key_text = f.read()
        spec = {"host": "127.0.0.1", "port": sshd.port, "username": sshd.user, "key": key_text,
                "known_host_key": sshd.host_key_line(), "on_demand": True}
        st, body = call("POST", "/pull-targets", spec, token=reader)
        self.assertEqual(st, 403, body)
        st, body = call("POST", "/pull-targets", dict(spec, port=0))
        self.assertEqual(st, 400, body)
        st, body = call("POST", "/pull-targets", dict(spec, colour="blue"))
        self.assertEqual(st, 400, body)
        st, body = call("POST", "/pull-targets", spec)
        self.assertEqual(st, 201, body)
        target = body["id"]
        self.assertNotIn("key", body)
        self.assertNotIn("PRIVATE", json.dumps(body))
        st, body = call("POST", "/pull-targets", spec)
        self.assertEqual(st, 409, body)
        st, body = call("GET", "/pull-targets", token=reader)
        self.assertEqual(st, 200)
        self.assertIn(target, [t["id"] for t in body["pull_targets"]])
        st, body = call("POST", "/pull-targets/%d/collect" % target, token=reader)
        self.assertEqual(st, 403)
        st, body = call("POST", "/pull-targets/%d/collect" % target)
        self.assertEqual(st, 202, body)
        job = body["collections"][0]["id"]
        wait_for(lambda: call("GET", "/collections/%d" % job)[1]["state"] in ("ok", "failed"), 60,
                 what="the collection")
        st, body = call("GET", "/collections/%d" % job, token=reader)
        self.assertEqual((st, body["state"]), (200, "ok"), body)
        self.assertEqual(body["reports_collected"], len(self.stored_ids(sn)))
        st, body = call("GET", "/pull-targets/%d" % target)
        self.assertEqual(body["device"]["udi_sn"], sn)
        self.assertEqual(body["collections"][-1]["id"], job)
        self.assertEqual(call("GET", "/collections/999999")[0], 404)
        self.assertEqual(call("DELETE", "/pull-targets/%d" % target, token=reader)[0], 403)
        self.assertEqual(call("DELETE", "/pull-targets/%d" % target)[0], 200)
        self.assertEqual(call("GET", "/pull-targets/%d" % target)[0], 404)
        for action in ("pull-target-add", "pull-target-remove", "collect"):
            self.assertEqual(self.scalar("SELECT count(*) > 0 FROM audit_log WHERE action = '%s' "
                                         "AND result = 'ok' AND target <> ''" % action), "t", action)
        r.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
