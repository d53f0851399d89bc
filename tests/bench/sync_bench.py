#!/usr/bin/env python3
"""Connected mode's throughput: `rumd sync` sends a tenant's usage to the CSSM
API simulator (tests/tools/cssm_api_sim.py, HTTPS with a test CA) and brings
every ACK back. For each tenant size (COUNTS, default 10,000 then 100,000
devices, one report each, pushed first by `rum-agent fleet`) it prints:
- the push: reports per second sent to the simulator (a sync makes every
  upload before its polls, which come due later), beside the simulator's
  ceiling for reportusage calls alone;
- the whole sync (every upload, every poll, every ACK stored): devices per
  second, beside the ceiling for a reportusage call then the poll that
  brings its ACK (the simulator answers COMPLETE on the first poll);
- rumd's peak RSS, and the CPU seconds of rumd, PostgreSQL and the
  simulator during the sync.
Each ceiling is what a plain Python HTTPS client with as many connections
gets from the same simulator in the same run. Prints figures; never fails
on timing.

Usage: RUM_BUILD_DIR=build-rel python3 tests/bench/sync_bench.py
Environment: COUNTS (10000,100000), CONCURRENCY (8), CEILING_S (15),
RUM_BUILD_DIR (build), STATEMENTS (0: with N, the N statements the sync spent
most database time in, from pg_stat_statements)."""

import http.client
import json
import os
import re
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "tools"))

import cssm_api_sim as api  # noqa: E402
import cssm_sim  # noqa: E402
from rumtest import PgCluster, Rumd, free_port, make_tempdir, run_rumd  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.path.abspath(os.environ.get("RUM_BUILD_DIR", os.path.join(ROOT, "build")))
os.environ.setdefault("RUMD_BIN", os.path.join(BUILD, "rumd"))
AGENT = os.path.join(BUILD, "agent", "rum-agent")
HZ = os.sysconf("SC_CLK_TCK")
CLIENT, SECRET = "bench", "bench-secret"
# STATEMENTS=N: also print the N statements the sync spent most database time in.
STATEMENTS = int(os.environ.get("STATEMENTS", "0"))


def proc_cpu(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / HZ


def tree_cpu(pid):
    """CPU seconds of pid, its reaped children and its live children (the
    PostgreSQL postmaster and its backends)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    total = sum(int(fields[i]) for i in (11, 12, 13, 14)) / HZ
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                child = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(child[1]) == pid:
            total += (int(child[11]) + int(child[12])) / HZ
    return total


def postmaster_pid(pg):
    with open(os.path.join(pg.datadir, "postmaster.pid")) as f:
        return int(f.readline())


def vm_hwm_mb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            m = re.search(r"^VmHWM:\s+(\d+) kB", f.read(), re.M)
    except OSError:
        return None
    return int(m.group(1)) / 1024 if m else None


def ceiling(sim, ca, conns, seconds, poll):
    """Devices per second that `conns` plain HTTPS connections get through
    the simulator doing what a sync does for each: a reportusage call with
    one fresh device's report (the shape rumd sends), and with poll, then
    the poll that brings its ACK."""
    ctx = ssl.create_default_context(cafile=ca)
    host = urllib.parse.urlsplit(sim.base_url)
    form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": CLIENT,
                                   "client_secret": SECRET})
    c = http.client.HTTPSConnection(host.hostname, host.port, context=ctx)
    c.request("POST", "/as/token.oauth2", form,
              {"Content-Type": "application/x-www-form-urlencoded"})
    token = json.loads(c.getresponse().read())["access_token"]
    c.close()
    counts = [0] * conns
    stop = time.monotonic() + seconds

    def worker(i):
        conn = http.client.HTTPSConnection(host.hostname, host.port, context=ctx)
        n = 0
        while time.monotonic() < stop:
            sn = "CEIL%d%02d%07d" % (poll, i, n)  # devices of their own in each run
            rep = cssm_sim.synthetic_report("C9300-24P", sn, 1700000000 + n, "A", 1700000000)
            body = json.dumps({"data": {
                "timestamp": int(time.time() * 1000), "nonce": "%016x" % n,
                "sudi": cssm_sim.sudi("C9300-24P", sn),
                "reports": [{"sudi": cssm_sim.sudi("C9300-24P", sn), "hostname": "h",
                             "software_tag_identifier": cssm_sim.sw_tag("C9300-24P"),
                             "usage": [rep]}]}})
            headers = {
                "Authorization": "Bearer " + token, "Content-Type": "application/json",
                "X-CSW-SMART-ACCOUNT-ID": "1000001", "X-CSW-VIRTUAL-ACCOUNT-ID": "2000001",
                "X-CSW-REQUESTING-SYSTEM": json.dumps(cssm_sim.sudi("C9300-24P", sn))}
            conn.request("POST", sim.api_base + "/devices/reportusage", body, headers)
            r = conn.getresponse()
            answer = json.loads(r.read())
            n += 1
            if r.status != 200 or "poll_id" not in answer:
                continue
            if not poll:
                counts[i] += 1
                continue
            poll_body = json.dumps({"data": {"timestamp": int(time.time() * 1000), "nonce": "ab",
                                        "poll_id": answer["poll_id"],
                                        "action": "acknowledgements"}})
            conn.request("POST", sim.api_base + "/accounts/poll", poll_body, headers)
            r = conn.getresponse()
            if r.status == 200 and json.loads(r.read()).get("status") == "COMPLETE":
                counts[i] += 1
        conn.close()

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.monotonic() - t0)


def push(url, count):
    state = make_tempdir("bench-sync-fleet-")
    cmd = [AGENT, "fleet", "--count", str(count), "--state", state, "--url", url,
           "--speedup", "100000", "--interval-days", "1", "--rounds", "1",
           "--concurrency", "64", "--ramp", "1", "--quiet"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, timeout=3600)


def one_tenant(pg, sim, ca, count, conns):
    url = pg.create_database("sync_%d" % count)
    db = url.rsplit("/", 1)[1]
    data = make_tempdir("bench-sync-data-", 0o755)
    port = free_port()
    rumd = Rumd(database_url=url, data_dir=data, http_listen="127.0.0.1:%d" % port,
                flags={"collector_sessions": "0", "sync_schedule": "false"}).start()
    try:
        t0 = time.monotonic()
        push("http://127.0.0.1:%d/cslu/v1/pi" % port, count)
        print("   %d devices pushed in %.0f s" % (count, time.monotonic() - t0), file=sys.stderr)
        secret = os.path.join(data, "client-secret")
        with open(secret, "w") as f:
            f.write(SECRET)
        os.chmod(secret, 0o600)
        common = ["--database_url=" + url, "--data_dir=" + data]
        proc = run_rumd(["upstream", "set", "--tenant", "default", "--kind", "cssm",
                         "--client-id", CLIENT, "--client-secret-file", secret,
                         "--token-url", sim.token_url, "--api-url", sim.base_url + sim.api_base,
                         "--smart-account-id", "1000001", "--virtual-account-id", "2000001",
                         "--ca-file", ca] + common)
        assert proc.returncode == 0, proc.stderr
        sim.control(reset_stats=True)
        if STATEMENTS:
            pg.psql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements; "
                    "SELECT pg_stat_statements_reset()", db=db)
        cmd = [os.environ["RUMD_BIN"], "sync", "--tenant", "default", "--wait", "--json",
               "--sync_concurrency=%d" % conns, "--sync_poll_first_s=0",
               "--sync_poll_every_s=0"] + common
        print("== %d devices: %s" % (count, " ".join(cmd)), file=sys.stderr)
        pg_pid = postmaster_pid(pg)
        sim0, pg0 = proc_cpu(sim.proc.pid), tree_cpu(pg_pid)
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        hwm, cpu = 0.0, 0.0
        while p.poll() is None:
            m = vm_hwm_mb(p.pid)
            hwm = max(hwm, m or 0)
            cpu = max(cpu, proc_cpu(p.pid))
            time.sleep(0.2)
        out, err = p.communicate()
        secs = time.monotonic() - t0
        sim_cpu, pg_cpu = proc_cpu(sim.proc.pid) - sim0, tree_cpu(pg_pid) - pg0
        res = json.loads(out.strip().splitlines()[-1]) if out.strip() else {"error": err}
        stats = sim.stats()
        acked = int(pg.scalar("SELECT count(*) FROM rum_reports WHERE acked_at IS NOT NULL",
                              db=db))
        # The uploads go first (due earliest), the polls after: the upload
        # phase ends when the last upload was accepted.
        push_s = float(pg.scalar(
            "SELECT extract(epoch FROM max(s.sent_at) - min(r.started_at)) FROM sync_sends s "
            "JOIN sync_runs r ON r.id = s.run_id", db=db) or 0)
        if STATEMENTS:
            print("   statements of the sync by total time (ms, calls, mean ms, query):",
                  file=sys.stderr)
            for total, calls, mean, query in pg.psql(
                    "SELECT round(total_exec_time), calls, round(mean_exec_time::numeric, 3), "
                    "regexp_replace(left(query, 110), '\\s+', ' ', 'g') FROM pg_stat_statements "
                    "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                    "ORDER BY total_exec_time DESC LIMIT %d" % STATEMENTS, db=db):
                print("   %8s %8s %8s  %s" % (total, calls, mean, query), file=sys.stderr)
        return {"count": count, "seconds": secs, "result": res, "rss": hwm, "cpu": cpu,
                "received": stats["reports_received"], "recorded": stats["reports_recorded"],
                "acked": acked, "sim_cpu": sim_cpu, "pg_cpu": pg_cpu, "push_s": push_s}
    finally:
        rumd.stop()
        rumd.cleanup()


def main():
    for path in (AGENT, os.environ["RUMD_BIN"]):
        if not os.path.exists(path):
            sys.exit("sync_bench: build %s first (cmake --build %s)" % (path, BUILD))
    counts = [int(c) for c in os.environ.get("COUNTS", "10000,100000").split(",")]
    conns = int(os.environ.get("CONCURRENCY", "8"))
    tmp = make_tempdir("bench-sync-")
    ca, cert, key = api.make_test_ca(os.path.join(tmp, "ca"))
    sim = api.spawn(cert, key, ["--client", "%s:%s" % (CLIENT, SECRET),
                                "--polls-before-complete", "0", "--quiet"])
    pg = PgCluster(settings={"shared_preload_libraries": "'pg_stat_statements'",
                             "pg_stat_statements.track": "'all'"}
                   if STATEMENTS else None)
    pg.start()
    rows = []
    try:
        secs_c = float(os.environ.get("CEILING_S", "15"))
        ceil_push = ceiling(sim, ca, conns, secs_c, poll=False)
        ceil = ceiling(sim, ca, conns, secs_c, poll=True)
        print("   simulator ceiling over %d connections: %.0f uploads/s; %.0f devices/s "
              "(upload and poll)" % (conns, ceil_push, ceil), file=sys.stderr)
        for count in counts:
            rows.append(one_tenant(pg, sim, ca, count, conns))
    finally:
        pg.cleanup()
        sim.stop()
    print("\nsync_bench: rumd sync --wait to the CSSM API simulator (HTTPS), %d calls in "
          "flight, %d cores, load average %.1f" % (conns, os.cpu_count(), os.getloadavg()[0]))
    print("simulator ceiling (plain Python HTTPS client, %d connections): %.0f reportusage "
          "calls/s; %.0f devices/s doing reportusage then the poll that brings the ACK"
          % (conns, ceil_push, ceil))
    print("%9s %9s | %9s %10s %9s | %9s %9s %9s %10s %9s %9s %9s" % (
        "devices", "reports", "push s", "reports/s", "of ceil.", "all s", "devices/s",
        "of ceil.", "ACKs", "received", "rumd CPU", "rumd MiB"))
    for r in rows:
        res = r["result"]
        secs = r["seconds"] or 1
        push = r["push_s"] or secs
        pushed = r["received"]
        rate = res.get("sent", 0) / secs
        print("%9d %9d | %9.1f %10.0f %8.0f%% | %9.1f %9.0f %8.0f%% %10d %9d %8.0fs %9.0f" % (
            r["count"], pushed, push, pushed / push, 100 * pushed / push / ceil_push
            if ceil_push else 0, r["seconds"], rate, 100 * rate / ceil if ceil else 0,
            r["acked"], r["received"], r["cpu"], r["rss"]))
        print("   %d devices: CPU seconds during the sync: rumd %.0f, PostgreSQL %.0f, simulator "
              "%.0f (of %.0f on %d cores); rumd %.2f ms per device" % (
                  r["count"], r["cpu"], r["pg_cpu"], r["sim_cpu"], r["seconds"] * os.cpu_count(),
                  os.cpu_count(), 1000 * r["cpu"] / max(1, r["count"])))
        if not res.get("ok"):
            print("   %d devices: the sync failed: %s" % (r["count"], res.get("error")))


if __name__ == "__main__":
    main()
