#!/usr/bin/env python3
"""A day of device traffic, compressed: `rum-agent fleet` devices push to one
rumd on one PostgreSQL, all on this machine. For each fleet size (COUNTS,
default 100,000 then 1,000,000 devices) a fresh database and rumd take one
day of the devices' reporting: every device says hello and sends its day's
usage report, first reports spread over RAMP seconds, and polls for the
result on a real device's timers (60 s and 5 min after the upload, then
daily) compressed by SPEEDUP. The run ends when every device's report of the
day has been accepted (--rounds 1); the polls that fell due by then are part
of the load. Prints how long rumd took, messages per second, failures, the
CPU of rumd, PostgreSQL and the fleet, their peak memory, and the
database's size. Prints figures; never fails on timing.

Usage: RUM_BUILD_DIR=build-rel python3 tests/bench/fleet_bench.py
Environment: COUNTS (100000,1000000), SPEEDUP (288: a day in 5 minutes),
CONCURRENCY (64), RAMP (10 s), RUM_BUILD_DIR (build)."""

import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from rumtest import PgCluster, Rumd, free_port, make_tempdir  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
BUILD = os.path.abspath(os.environ.get("RUM_BUILD_DIR", os.path.join(ROOT, "build")))
os.environ.setdefault("RUMD_BIN", os.path.join(BUILD, "rumd"))
AGENT = os.path.join(BUILD, "agent", "rum-agent")
HZ = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid, children=False):
    """User + system CPU seconds of pid (and of its reaped children)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / HZ


def pg_cpu(pg):
    """CPU seconds of the whole cluster: the postmaster, the backends that have
    ended (reaped by it) and those still running."""
    with open(os.path.join(pg.datadir, "postmaster.pid")) as f:
        pm = int(f.readline())
    total = proc_cpu(pm, children=True)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pm:
                total += proc_cpu(int(entry))
    return total


def vm_hwm_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        m = re.search(r"^VmHWM:\s+(\d+) kB", f.read(), re.M)
    return int(m.group(1)) / 1024 if m else 0.0


def one_day(pg, count):
    url = pg.create_database("fleet_%d" % count)
    port = free_port()
    rumd = Rumd(database_url=url, http_listen="127.0.0.1:%d" % port,
                flags={"collector_sessions": "0"}).start()
    state = make_tempdir("bench-fleet-")
    try:
        cmd = [AGENT, "fleet", "--count", str(count), "--state", state,
               "--url", "http://127.0.0.1:%d/cslu/v1/pi" % port,
               "--speedup", os.environ.get("SPEEDUP", "288"), "--interval-days", "1",
               "--rounds", "1", "--concurrency", os.environ.get("CONCURRENCY", "64"),
               "--ramp", os.environ.get("RAMP", "10"), "--progress", "30"]
        print("== %d devices: %s" % (count, " ".join(cmd)), file=sys.stderr)
        rumd_cpu0, pg_cpu0 = proc_cpu(rumd.pid), pg_cpu(pg)
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        out = []
        for line in proc.stdout:
            sys.stderr.write("   " + line)
            out.append(line)
        _, status, usage = os.wait4(proc.pid, 0)
        secs = time.monotonic() - t0
        rumd_cpu, cluster_cpu = proc_cpu(rumd.pid) - rumd_cpu0, pg_cpu(pg) - pg_cpu0
        rumd_mb = vm_hwm_mb(rumd.pid)
        size = int(pg.scalar("SELECT pg_database_size(current_database())", db=url.rsplit("/", 1)[1]))
        reports = int(pg.scalar("SELECT count(*) FROM rum_reports", db=url.rsplit("/", 1)[1]))
        tally = [line for line in out if line.startswith("fleet: ")]
        m = re.search(r"(\d+) messages .*?, (\d+) failures, (\d+) reports sent",
                      tally[0] if tally else "")
        return {"count": count, "seconds": secs, "exit": os.waitstatus_to_exitcode(status),
                "messages": int(m.group(1)) if m else -1,
                "failures": int(m.group(2)) if m else -1,
                "reports": int(m.group(3)) if m else -1, "stored": reports,
                "rumd_cpu": rumd_cpu, "pg_cpu": cluster_cpu,
                "fleet_cpu": usage.ru_utime + usage.ru_stime,
                "fleet_mb": usage.ru_maxrss / 1024, "rumd_mb": rumd_mb, "db_mb": size / 2**20}
    finally:
        rumd.stop()
        rumd.cleanup()


def main():
    for path in (AGENT, os.environ["RUMD_BIN"]):
        if not os.path.exists(path):
            sys.exit("fleet_bench: build %s first (cmake --build %s)" % (path, BUILD))
    counts = [int(c) for c in os.environ.get("COUNTS", "100000,1000000").split(",")]
    pg = PgCluster()
    pg.start()
    rows = []
    try:
        for count in counts:
            rows.append(one_day(pg, count))
    finally:
        pg.cleanup()
    cores = os.cpu_count()
    print("\nfleet_bench: one day of reporting per device (hello, usage, polls at 60 s, 5 min "
          "and daily), speed-up %s, %s requests in flight, %d cores, load average %.1f"
          % (os.environ.get("SPEEDUP", "288"), os.environ.get("CONCURRENCY", "64"), cores,
             os.getloadavg()[0]))
    print("%10s %9s %10s %9s %8s %10s %10s %10s %10s %9s %9s %9s" % (
        "devices", "seconds", "messages", "msg/s", "failed", "reports", "stored",
        "rumd CPU", "PG CPU", "fleet CPU", "rumd MiB", "fleet MiB"))
    for r in rows:
        print("%10d %9.1f %10d %9.0f %8d %10d %10d %9.0fs %9.0fs %9.0fs %9.0f %9.0f" % (
            r["count"], r["seconds"], r["messages"], r["messages"] / r["seconds"], r["failures"],
            r["reports"], r["stored"], r["rumd_cpu"], r["pg_cpu"], r["fleet_cpu"], r["rumd_mb"],
            r["fleet_mb"]))
    for r in rows:
        print("%d devices: database %.0f MiB (%.2f KiB a device), exit status %d"
              % (r["count"], r["db_mb"], r["db_mb"] * 1024 / r["count"], r["exit"]))


if __name__ == "__main__":
    main()
