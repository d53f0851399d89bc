#!/usr/bin/env python3
"""What the balancer costs: push ingest straight to one rumd node, through
HAProxy (deploy/haproxy/rumd.cfg, ports replaced) to that one node, and
through HAProxy to two nodes, all on this machine and one PostgreSQL, with
the same push_load run each time. Prints figures; never fails on timing.

Usage: RUM_BUILD_DIR=build-rel python3 tests/bench/balancer_bench.py
Environment: CLIENTS (64), DURATION (15 s), WARMUP (3 s), REPORTS_PER_MESSAGE
(1), MIN_KB/MAX_KB (4/20), RUM_BUILD_DIR (build)."""

import os
import re
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

import rumtest  # noqa: E402
from rumtest import PgCluster, Rumd, free_port, make_tempdir, wait_for  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.path.abspath(os.environ.get("RUM_BUILD_DIR", os.path.join(ROOT, "build")))
os.environ.setdefault("RUMD_BIN", os.path.join(BUILD, "rumd"))


def env_int(name, default):
    return int(os.environ.get(name, default))


def haproxy_start(front, backends):
    with open(os.path.join(ROOT, "deploy", "haproxy", "rumd.cfg")) as f:
        cfg = f.read()
    cfg = cfg.replace("bind 0.0.0.0:8182", "bind 127.0.0.1:%d" % front)
    cfg = re.sub(r"maxconn \d+", "maxconn 4000", cfg)
    cfg = re.sub(r"    server rumd-a .*\n    server rumd-b .*\n",
                 "".join("    server rumd-%d 127.0.0.1:%d check\n" % (i, p)
                         for i, p in enumerate(backends)), cfg)
    work = make_tempdir("bench-haproxy-")
    path = os.path.join(work, "haproxy.cfg")
    with open(path, "w") as f:
        f.write(cfg)
    proc = subprocess.Popen([shutil.which("haproxy") or "/usr/sbin/haproxy", "-db", "-f", path],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def ready():
        try:
            return rumtest.http_request("127.0.0.1", front, "GET", "/readyz", timeout=2).status == 200
        except OSError:
            return False
    wait_for(ready, 20, what="HAProxy")
    return proc


def push_load(url):
    cmd = [os.path.join(BUILD, "tests", "bench", "push_load"), "--url", url,
           "--clients", str(env_int("CLIENTS", 64)), "--duration", str(env_int("DURATION", 15)),
           "--warmup", str(env_int("WARMUP", 3)),
           "--reports-per-message", str(env_int("REPORTS_PER_MESSAGE", 1)),
           "--min-kb", str(env_int("MIN_KB", 4)), "--max-kb", str(env_int("MAX_KB", 20))]
    out = subprocess.run(cmd, capture_output=True, text=True).stdout
    m = re.search(r"^RESULT (.*)$", out, re.M)
    if not m:
        return {"error": out[-500:]}
    return dict(kv.split("=", 1) for kv in m.group(1).split())


def main():
    if not os.path.exists(os.path.join(BUILD, "tests", "bench", "push_load")):
        sys.exit("balancer_bench: build push_load first (cmake --build %s --target push_load)"
                 % BUILD)
    pg = PgCluster()
    pg.start()
    rows = []
    try:
        for name, nodes, balanced in (("direct, one node", 1, False),
                                      ("HAProxy, one node", 1, True),
                                      ("HAProxy, two nodes", 2, True)):
            url = pg.create_database("bench_%d_%d" % (nodes, balanced))
            ports = [free_port() for _ in range(nodes)]
            rumds = [Rumd(database_url=url, http_listen="127.0.0.1:%d" % p,
                          flags={"collector_sessions": "0",
                                 "http_max_connections_per_address": "0"}).start()
                     for p in ports]
            proxy = None
            try:
                if balanced:
                    front = free_port()
                    proxy = haproxy_start(front, ports)
                    target = front
                else:
                    target = ports[0]
                print("== %s" % name, file=sys.stderr)
                res = push_load("http://127.0.0.1:%d/cslu/v1/pi" % target)
                rows.append((name, res))
            finally:
                if proxy:
                    proxy.kill()
                    proxy.wait()
                for r in rumds:
                    r.stop()
                    r.cleanup()
    finally:
        pg.cleanup()
    print("\nbalancer_bench: %s clients, %s report(s) per message, %s-%s KB reports, %s s"
          % (env_int("CLIENTS", 64), env_int("REPORTS_PER_MESSAGE", 1), env_int("MIN_KB", 4),
             env_int("MAX_KB", 20), env_int("DURATION", 15)))
    print("%-20s %12s %10s %10s %8s" % ("path", "reports/s", "p50 ms", "p99 ms", "errors"))
    for name, res in rows:
        if "error" in res:
            print("%-20s push_load failed: %s" % (name, res["error"]))
            continue
        print("%-20s %12s %10s %10s %8s" % (name, res.get("reports_per_s"),
                                             res.get("usage_p50_ms"), res.get("usage_p99_ms"),
                                             res.get("errors")))


if __name__ == "__main__":
    main()
