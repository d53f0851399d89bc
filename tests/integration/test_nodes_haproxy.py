"""Two rumd nodes on one PostgreSQL behind a real HAProxy (deploy/haproxy/
rumd.cfg with its ports replaced), devices pushing through the balancer, one
node killed with SIGKILL under load and started again. Counted per device:
every report answered 2xx is stored, none is stored twice, and devices go
on being answered through the surviving node. Devices are Python clients
that keep an exact ledger of every answer, beside a rum-agent fleet whose
devices record in their own state which reports they delivered."""

import json
import os
import re
import shutil
import signal
import subprocess
import time

import rumtest
from rumtest import LedgerClient, free_port, ledger_check, make_tempdir, tail, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG = os.path.join(rumtest.SOURCE_DIR, "deploy", "haproxy", "rumd.cfg")


def agent_bin():
    build = os.environ.get("RUM_BUILD_DIR")
    for path in ([os.path.join(build, "agent", "rum-agent")] if build else []) + [
            os.path.join(os.path.dirname(rumtest.rumd_bin()), "agent", "rum-agent")]:
        if os.path.exists(path):
            return path
    return None


class NodesBehindHaproxy(rumtest.RumTestCase):
    CLIENTS = 6
    FLEET = 150

    def setUp(self):
        super().setUp()
        self.haproxy = shutil.which("haproxy") or (
            "/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else None)
        if not self.haproxy:
            self.skipTest("haproxy not installed (Debian package haproxy)")

    def start_haproxy(self, front, backends):
        with open(CONFIG) as f:
            cfg = f.read()
        cfg = cfg.replace("bind 0.0.0.0:8182", "bind 127.0.0.1:%d" % front)
        cfg = re.sub(r"    server rumd-a .*\n    server rumd-b .*\n",
                     "".join("    server rumd-%s 127.0.0.1:%d check\n" % (n, p)
                             for n, p in backends), cfg)
        # Checks every 200 ms: the test's kill is noticed within a second.
        cfg = cfg.replace("inter 1s", "inter 200ms")
        cfg = re.sub(r"maxconn \d+", "maxconn 2000", cfg)
        work = make_tempdir("rumtest-haproxy-")
        path = os.path.join(work, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(cfg)
        check = subprocess.run([self.haproxy, "-c", "-f", path], capture_output=True, text=True)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        log = open(os.path.join(work, "haproxy.log"), "wb")
        proc = subprocess.Popen([self.haproxy, "-db", "-f", path], stdout=log,
                                stderr=subprocess.STDOUT)
        log.close()
        self.addCleanup(lambda: (proc.kill(), proc.wait()))
        wait_for(lambda: self.ready(front), 20, what="HAProxy answering /readyz")
        return proc

    def ready(self, port):
        try:
            return rumtest.http_request("127.0.0.1", port, "GET", "/readyz", timeout=2).status == 200
        except OSError:
            return False

    def test_sigkill_of_one_node_under_load_loses_nothing(self):
        url, db = self.fresh_database("nodes")
        ports = {"a": free_port(), "b": free_port()}
        nodes = {}
        for name, port in ports.items():
            nodes[name] = self.start_rumd(database_url=url,
                                          http_listen="127.0.0.1:%d" % port,
                                          flags={"node_name": "node-" + name,
                                                 "collector_sessions": "0",
                                                 "log_requests": "true"})
        front = free_port()
        self.start_haproxy(front, sorted(ports.items()))

        fleet = None
        agent = agent_bin()
        if agent:
            state = make_tempdir("rumtest-fleet-")
            fleet_log = open(os.path.join(state, "fleet.log"), "wb")
            fleet = subprocess.Popen(
                [agent, "fleet", "--count", str(self.FLEET), "--state", state,
                 "--url", "http://127.0.0.1:%d/cslu/v1/pi" % front, "--speedup", "20000000"],
                stdout=fleet_log, stderr=subprocess.STDOUT)
            fleet_log.close()
            self.addCleanup(lambda: fleet.poll() is None and (fleet.kill(), fleet.wait()))

        phase = ["both"]
        clients = [LedgerClient(front, phase, timeout=30) for _ in range(self.CLIENTS)]
        for c in clients:
            c.start()

        def answered(ph):
            return sum(1 for c in clients for o in list(c.ledger) if o[1] == 200 and o[2] == ph)

        try:
            wait_for(lambda: answered("both") >= 150, 60, what="150 messages through both nodes")
            nodes["a"].kill()  # SIGKILL, mid-load
            t_kill = time.monotonic()
            phase[0] = "one"
            wait_for(lambda: answered("one") >= 150, 60,
                     what="150 messages through the surviving node")
            down_s = time.monotonic() - t_kill
            mark = nodes["a"].log_size()
            nodes["a"].start()
            phase[0] = "again"
            wait_for(lambda: answered("again") >= 150, 60,
                     what="150 messages with both nodes again")
            # The restarted node takes its share again.
            wait_for(lambda: re.search(r"method=POST path=/cslu/v1/pi status=200",
                                       nodes["a"].log(mark)), 30,
                     what="the restarted node answering devices")
        finally:
            for c in clients:
                c.stop.set()
            for c in clients:
                c.join(60)
            if fleet:
                fleet.send_signal(signal.SIGTERM)
                fleet.wait(60)

        # A message whose node died may get HAProxy's 5xx: the device sends
        # it again later; what matters is that no 200 is lost.
        n, counts, acked_n = ledger_check(self, clients, self.pg, db,
                                          (502, 503, 504, "no answer"))
        acked = {(c.device.sn, rid) for c in clients for ids, st, ph in c.ledger
                 if st == 200 for rid in ids}
        rows = self.pg.psql("SELECT udi_serial, report_id FROM rum_reports", db=db)
        stored = {(sn, int(rid)) for sn, rid in rows}
        per_device = {}
        for sn, rid in acked:
            per_device[sn] = per_device.get(sn, 0) + 1
        print("\nclients: %d messages, answers %s; %d reports acknowledged, all stored once; "
              "per device %s; 200s while one node was down (%.1f s): %d"
              % (n, counts, acked_n, sorted(per_device.values()), down_s, answered("one")))

        if fleet:
            delivered = set()
            dump = subprocess.run([agent, "fleet", "--state", state, "--dump"],
                                  capture_output=True, text=True, timeout=120, check=True)
            for line in dump.stdout.splitlines():
                dev = json.loads(line)
                for rep in dev["reports"]:
                    if rep["state"] in ("UNACK", "ACK"):
                        delivered.add((dev["serial"], int(rep["id"])))
            self.assertEqual(delivered - stored, set(),
                             "reports a fleet device recorded as delivered but not stored")
            fleet_devices = {sn for sn, _ in delivered}
            with open(os.path.join(state, "fleet.log"), "rb") as f:
                text = f.read().decode(errors="replace")
            found = re.findall(r"fleet: \d+ devices, .*", text)
            tally = found[-1] if found else tail(text, 3)
            print("rum-agent %s; %d devices delivered %d reports, all stored"
                  % (tally, len(fleet_devices), len(delivered)))
            self.assertGreater(len(delivered), 0, "the fleet delivered nothing: " + tally)


if __name__ == "__main__":
    rumtest.main()
