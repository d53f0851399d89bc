#!/usr/bin/python3
"""Pull-collection benchmark, all in one run on this machine (see tests/bench/README.md).

  1. builds rumd and rum-agent (if needed) into $RUM_BUILD_DIR (default build/),
  2. starts a throwaway PostgreSQL cluster (tests/integration/rumtest.py) and
     N rum-agents, each behind its own OpenSSH sshd on loopback with the
     NETCONF subsystem and IOS-XE-like bootflash: SCP (sshdtest.py),
  3. registers K on-demand NETCONF pull targets: the N agents in ceil(K/N)
     tenants (target k = agent k mod N in tenant k div N),
  4. starts `rumd serve` with collector_sessions=M, queues every target at once
     (`rumd collect --tenant T` for each tenant, no --wait) and times until every
     job has finished, polling collection_jobs; rumd's VmHWM is sampled meanwhile,
  5. measures the rig's ceiling in the same run: K bare
     `ssh -i KEY -p PORT ... U@127.0.0.1 true` logins, M at a time, over the same
     sshds (round robin), once with the key exchange OpenSSH picks by itself
     (sntrup761x25519-sha512: its client side alone costs ~0.1 s of CPU per
     login) and once with curve25519-sha256, the one rumd's libssh2 negotiates,
  6. prints collections/minute, p50/p99 collection time (duration_ms), failures,
     rumd peak RSS, the ssh login rates and the ratio of rumd's rate to each.

Prints figures; never fails on timing. Exits non-zero only when something could
not be built or started, or when collections stopped making progress (a hang).
Every process it starts (PostgreSQL, sshds, rumd, ssh clients) is stopped on
exit, also on failure or Ctrl-C.

Options (or environment): --agents N (AGENTS, 32), --targets K (TARGETS, 640),
--sessions M (SESSIONS, 64), --logins L (LOGINS, = K), --poll-ms (POLL_MS, 100),
--stall-timeout S (STALL_TIMEOUT, 120), --ceiling-kex LIST (CEILING_KEX,
default,curve25519-sha256), --build-dir (RUM_BUILD_DIR, build), --no-build,
--skip-ssh, --keep-tmp (KEEP_TMP=1).
"""
import argparse
import concurrent.futures
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

TAG = "regid.2017-03.com.cisco.advantagek9,1.0_bd1da96e-ec1d-412b-a50e-53846b347d53"


def say(msg):
    print("== " + msg, file=sys.stderr, flush=True)


def die(msg):
    print("collect_bench: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def env_int(name, default):
    v = os.environ.get(name)
    return int(v) if v not in (None, "") else default


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--agents", "-N", type=int, default=env_int("AGENTS", 32),
                   help="rum-agents, each behind its own sshd (default 32)")
    p.add_argument("--targets", "-K", type=int, default=env_int("TARGETS", 640),
                   help="pull targets: the agents in ceil(K/N) tenants (default 640)")
    p.add_argument("--sessions", "-M", type=int, default=env_int("SESSIONS", 64),
                   help="rumd collector_sessions, and the ssh ceiling's concurrency (default 64)")
    p.add_argument("--logins", type=int, default=env_int("LOGINS", 0),
                   help="bare ssh logins for the ceiling (default: K)")
    p.add_argument("--poll-ms", type=int, default=env_int("POLL_MS", 100),
                   help="rumd collector_poll_ms (default 100)")
    p.add_argument("--stall-timeout", type=float, default=env_int("STALL_TIMEOUT", 120),
                   help="give up when no job finished for this many seconds (default 120)")
    p.add_argument("--build-dir", default=os.environ.get("RUM_BUILD_DIR") or "build")
    p.add_argument("--no-build", action="store_true", help="use the binaries as they are")
    p.add_argument("--ceiling-kex", default=os.environ.get("CEILING_KEX") or
                   "default,curve25519-sha256",
                   help="key exchanges for the ssh ceiling, comma-separated; 'default' is "
                   "ssh's own choice (default: default,curve25519-sha256, the second being "
                   "what rumd's libssh2 negotiates)")
    p.add_argument("--skip-ssh", action="store_true", help="do not measure the ssh ceiling")
    p.add_argument("--keep-tmp", action="store_true", default=os.environ.get("KEEP_TMP") == "1",
                   help="keep the temporary directories (logs)")
    a = p.parse_args()
    for name in ("agents", "targets", "sessions"):
        if getattr(a, name) < 1:
            p.error("--%s must be at least 1" % name)
    if a.sessions > 1024:
        p.error("--sessions: rumd takes at most 1024")
    a.logins = a.logins or a.targets
    a.ceiling_kex = [k.strip() for k in a.ceiling_kex.split(",") if k.strip()]
    a.build_dir = os.path.join(ROOT, a.build_dir) if not os.path.isabs(a.build_dir) else a.build_dir
    return a


# ---------------------------------------------------------------------------
# small measurements

def cpu_jiffies():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7]
    return busy, busy + v[3] + v[4]


def busy_pct(a, b):
    d = b[1] - a[1]
    return "?" if d <= 0 else "%.0f" % (100.0 * (b[0] - a[0]) / d)


def proc_cpu_s(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            v = f.read().rsplit(")", 1)[1].split()
        return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def vm_hwm_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def percentile(sorted_values, q):
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    k = max(0, min(len(sorted_values) - 1, int(-(-q * len(sorted_values) // 100)) - 1))
    return sorted_values[k]


def fmt(v, spec="%.0f"):
    return "-" if v is None else spec % v


def pool_map(workers, fn, items):
    """list(map(fn, items)) on `workers` threads; on an interruption (or an
    error) the calls not started yet are dropped instead of waited for."""
    pool = concurrent.futures.ThreadPoolExecutor(workers)
    try:
        return list(pool.map(fn, items))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class Sampler(threading.Thread):
    """Samples a process's VmHWM and CPU time every 0.2 s until stopped, so a
    process that dies still leaves its last figures."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.hwm_kib = None
        self.cpu_s = None
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            h, c = vm_hwm_kib(self.pid), proc_cpu_s(self.pid)
            if h is not None:
                self.hwm_kib = max(h, self.hwm_kib or 0)
            if c is not None:
                self.cpu_s = c
            self.stopping.wait(0.2)

    def stop(self):
        self.stopping.set()
        self.join()


# ---------------------------------------------------------------------------

def build(a):
    if a.no_build:
        return
    say("build (%s)" % a.build_dir)
    if not os.path.exists(os.path.join(a.build_dir, "CMakeCache.txt")):
        r = subprocess.run(["cmake", "-S", ROOT, "-B", a.build_dir,
                            "-DCMAKE_BUILD_TYPE=RelWithDebInfo"], capture_output=True, text=True)
        if r.returncode != 0:
            die("cmake did not configure:\n" + r.stdout[-2000:] + r.stderr[-2000:])
    r = subprocess.run(["cmake", "--build", a.build_dir, "-j", str(os.cpu_count() or 2),
                        "--target", "rumd", "rum-agent"], capture_output=True, text=True)
    if r.returncode != 0:
        die("rumd or rum-agent did not build:\n" + (r.stdout + r.stderr)[-3000:])


def ssh_ceiling(a, agents, m, kex):
    """a.logins bare `ssh ... true` logins, m at a time, round robin over the
    agents' sshds. kex "default" leaves the key exchange to ssh (OpenSSH 9
    picks sntrup761x25519-sha512, whose client side alone costs ~0.1 s of CPU);
    another value is passed as -o KexAlgorithms=KEX."""
    say("ssh ceiling: %d bare logins (ssh ... true), %d at a time, over the same %d sshd(s)%s"
        % (a.logins, m, len(agents), "" if kex == "default" else ", KexAlgorithms=" + kex))
    extra = [] if kex == "default" else ["-o", "KexAlgorithms=" + kex]

    def login(k):
        sshd = agents[k % len(agents)][1]
        t0 = time.monotonic()
        r = subprocess.run(["ssh", "-i", sshd.user_key, "-p", str(sshd.port),
                            "-o", "StrictHostKeyChecking=no",
                            "-o", "UserKnownHostsFile=/dev/null",
                            "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", *extra,
                            "%s@127.0.0.1" % sshd.user, "true"],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
        return r.returncode, time.monotonic() - t0

    s0 = cpu_jiffies()
    t0 = time.monotonic()
    results = pool_map(m, login, range(a.logins))
    wall = time.monotonic() - t0
    times = sorted(1000.0 * d for _, d in results)
    return (kex, 60.0 * len(results) / wall, wall, sum(1 for rc, _ in results if rc != 0),
            percentile(times, 50), percentile(times, 99), busy_pct(s0, cpu_jiffies()))


def main():
    a = parse_args()
    build(a)
    os.environ["RUM_BUILD_DIR"] = a.build_dir
    os.environ["RUMD_BIN"] = os.path.join(a.build_dir, "rumd")
    if a.keep_tmp:
        os.environ["RUMTEST_KEEP"] = "1"
    import rumtest  # noqa: E402 (after RUMTEST_KEEP is set)
    import sshdtest  # noqa: E402
    rumd_bin = os.environ["RUMD_BIN"]
    agent_bin = os.path.join(a.build_dir, "agent", "rum-agent")
    for path in (rumd_bin, agent_bin):
        if not os.access(path, os.X_OK):
            die("%s is missing (build it, or drop --no-build)" % path)

    n_agents, n_targets, m = a.agents, a.targets, a.sessions
    n_tenants = -(-n_targets // n_agents)
    tmp = tempfile.mkdtemp(prefix="rum-collect-bench.")
    os.chmod(tmp, 0o755)
    stack = contextlib.ExitStack()
    try:
        stack.callback(lambda: (print("collect_bench: kept %s" % tmp, file=sys.stderr)
                                if a.keep_tmp else shutil.rmtree(tmp, ignore_errors=True)))
        return run(a, rumtest, sshdtest, rumd_bin, agent_bin, tmp, stack,
                   n_agents, n_targets, n_tenants, m)
    finally:
        stack.close()


def run(a, rumtest, sshdtest, rumd_bin, agent_bin, tmp, stack, n_agents, n_targets,
        n_tenants, m):
    # -- PostgreSQL ---------------------------------------------------------
    say("PostgreSQL cluster (throwaway, fsync and synchronous_commit on)")
    pg = rumtest.PgCluster(settings={"shared_buffers": "'128MB'", "max_connections": "200"})
    stack.callback(pg.cleanup)
    pg.start()
    url = pg.url
    data_dir = os.path.join(tmp, "rumd-data")
    os.makedirs(data_dir)
    key_file = os.path.join(tmp, "secret.key")
    common = ["--database_url=%s" % url, "--data_dir=%s" % data_dir,
              "--secret_key_file=%s" % key_file]

    def cli(*args):
        r = subprocess.run([rumd_bin, *args, *common], capture_output=True, text=True,
                           timeout=300)
        if r.returncode != 0:
            die("rumd %s exited %d:\n%s%s" % (" ".join(args), r.returncode, r.stdout, r.stderr))
        return r.stdout

    cli("migrate")
    pg_version = pg.scalar("SHOW server_version")

    # -- agents behind their sshds -----------------------------------------
    say("%d rum-agents, each behind its own sshd" % n_agents)
    agents = []
    for i in range(n_agents):
        state = os.path.join(tmp, "agent-%03d" % i)
        for args in (["init", "--state", state, "--pid", "C9300-24P", "--serial",
                      "FOCBN%05d" % i, "--hostname", "bench-sw%03d" % i,
                      "--entitlement", TAG + "=4"],
                     ["set-usage", "--state", state, TAG + "=%d" % (5 + i % 50)]):
            r = subprocess.run([agent_bin, *args], capture_output=True, text=True)
            if r.returncode != 0:
                die("rum-agent %s failed: %s" % (args[0], r.stderr))
        sshd = sshdtest.Sshd({"netconf": "%s netconf --state %s" % (agent_bin, state)},
                             bootflash_dir=os.path.join(state, "bootflash"))
        stack.enter_context(sshd)
        with open(os.path.join(state, "state.json")) as f:
            c0 = sum(1 for r in json.load(f)["reports"] if r["state"] != "OPEN")
        agents.append((state, sshd, c0))

    # -- targets -----------------------------------------------------------
    say("%d on-demand NETCONF targets: %d agents in %d tenant(s)" % (n_targets, n_agents, n_tenants))
    tenants = ["bench-%03d" % t for t in range(n_tenants)]
    for t in tenants:
        cli("tenant", "add", t)

    def add(k):
        state, sshd, _ = agents[k % n_agents]
        cli("target", "add", "--tenant", tenants[k // n_agents], "--host", "127.0.0.1",
            "--port", str(sshd.port), "--username", sshd.user, "--key", sshd.user_key,
            "--known-host-key", sshd.host_key_line(), "--on-demand")

    pool_map(4, add, range(n_targets))
    added = pg.count("pull_targets")
    if added != n_targets:
        die("%d targets registered, expected %d" % (added, n_targets))
    # Expected rows: every collection of an agent carries its c0 closed
    # reports plus one more per collection so far (nothing is acknowledged).
    per_agent = [len(range(i, n_targets, n_agents)) for i in range(n_agents)]
    expected_rows = sum(n * c0 + n * (n + 1) // 2 for n, (_, _, c0) in zip(per_agent, agents))

    # -- rumd --------------------------------------------------------------
    say("rumd serve, collector_sessions=%d, collector_poll_ms=%d" % (m, a.poll_ms))
    rumd = rumtest.Rumd(database_url=url, data_dir=data_dir, flags={
        "node_name": "bench", "collector_sessions": str(m), "collector_poll_ms": str(a.poll_ms),
        "secret_key_file": key_file})
    stack.callback(rumd.cleanup)
    rumd.start()
    pg.psql("CHECKPOINT")
    sampler = Sampler(rumd.pid)
    sampler.start()
    cpu_rumd0 = proc_cpu_s(rumd.pid)

    say("queueing every target (rumd collect --tenant T, %d tenant(s)) and waiting" % n_tenants)
    c0_machine = cpu_jiffies()
    t_start = time.monotonic()
    pool_map(min(8, n_tenants), lambda t: cli("collect", "--tenant", t), tenants)
    t_queued = time.monotonic()
    last_done, last_progress, hang = -1, time.monotonic(), None
    while True:
        row = pg.psql("SELECT count(*) FILTER (WHERE state IN ('ok', 'failed')), "
                      "count(*) FILTER (WHERE state = 'running'), count(*) FROM collection_jobs "
                      "WHERE trigger = 'manual'")[0]
        done, running, total = (int(x) for x in row)
        now = time.monotonic()
        if done != last_done:
            last_done, last_progress = done, now
            print("   %6.1f s  finished %d/%d, running %d" % (now - t_start, done, n_targets,
                                                          running), file=sys.stderr, flush=True)
        if total >= n_targets and done >= total:
            break
        if not rumd.alive():
            hang = "rumd exited with status %s during the collections" % rumd.proc.returncode
            break
        if now - last_progress > a.stall_timeout:
            hang = "no collection finished for %.0f s (%d of %d finished, %d running)" % (
                a.stall_timeout, done, n_targets, running)
            break
        time.sleep(0.25)
    t_end = time.monotonic()
    c1_machine = cpu_jiffies()
    cpu_rumd1 = proc_cpu_s(rumd.pid)
    sampler.stop()
    hwm = vm_hwm_kib(rumd.pid) or sampler.hwm_kib
    rumd_cpu = (cpu_rumd1 if cpu_rumd1 is not None else sampler.cpu_s or 0) - (cpu_rumd0 or 0)

    span = pg.psql("SELECT extract(epoch FROM max(finished_at) - min(created_at)), "
                   "count(*) FILTER (WHERE state = 'ok'), count(*) FILTER (WHERE state = 'failed'), "
                   "coalesce(sum(reports_collected), 0), coalesce(sum(reports_new), 0) "
                   "FROM collection_jobs WHERE trigger = 'manual'")[0]
    db_span = float(span[0]) if span[0] else None
    n_ok, n_failed, collected, new = (int(x) for x in span[1:])
    durations = sorted(int(r[0]) for r in pg.psql(
        "SELECT duration_ms FROM collection_jobs WHERE trigger = 'manual' "
        "AND duration_ms IS NOT NULL ORDER BY 1") if r[0] != "")
    errors = pg.psql("SELECT left(error, 160), count(*) FROM collection_jobs WHERE "
                     "state = 'failed' GROUP BY 1 ORDER BY 2 DESC LIMIT 5")
    rows = pg.count("rum_reports")
    wall = t_end - t_start
    rate = 60.0 * (n_ok + n_failed) / wall if wall > 0 else None
    busy = busy_pct(c0_machine, c1_machine)
    load_collect = open("/proc/loadavg").read().split()[:3]

    rumd_exit = "-"
    if rumd.alive():
        try:
            rumd_exit = "exit status %d" % rumd.stop(timeout=60, expect_status=None)
        except AssertionError as e:
            rumd_exit = "did not stop: %s" % str(e).splitlines()[0]
    else:
        rumd_exit = "DIED, exit status %s" % rumd.proc.returncode
    log = rumd.log()
    warn_lines = [ln for ln in log.splitlines() if " warn " in ln or " error " in ln]

    # -- the rig's ceiling: bare ssh logins --------------------------------
    ceilings = []  # (kex, logins/minute, wall s, failed, p50 ms, p99 ms, machine busy %)
    if not a.skip_ssh and hang is None:
        for kex in a.ceiling_kex:
            ceilings.append(ssh_ceiling(a, agents, m, kex))
    # -- summary -----------------------------------------------------------
    git = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip() or "?"
    cpu_model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    print()
    print("collect benchmark  %s  git %s" % (time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                               git))
    print("machine            %d CPU(s), %s; load average during collection %s, now %s" % (
        os.cpu_count(), cpu_model, " ".join(load_collect),
        " ".join(open("/proc/loadavg").read().split()[:3])))
    print("setup              %d agents (one sshd each, OpenSSH), %d targets in %d tenant(s), "
          "collector_sessions %d, PostgreSQL %s" % (n_agents, n_targets, n_tenants, m, pg_version))
    if hang:
        print("PROBLEM            %s" % hang)
    print("rumd collections   %d ok, %d failed of %d, in %.1f s (queueing took %.1f s; "
          "first queued to last finished in the database: %s s)" % (
              n_ok, n_failed, n_targets, wall, t_queued - t_start, fmt(db_span, "%.1f")))
    print("collections/minute %s" % fmt(rate))
    print("duration p50 / p99 %s ms / %s ms (max %s ms)" % (
        fmt(percentile(durations, 50)), fmt(percentile(durations, 99)),
        fmt(durations[-1] if durations else None)))
    print("rumd peak RSS      %s MiB (VmHWM)" % fmt(hwm / 1024.0 if hwm else None, "%.1f"))
    print("rumd CPU           %.1f s during the collections; machine busy %s%%" % (rumd_cpu, busy))
    if n_failed == 0 and not hang:
        check = "expected %d%s" % (expected_rows, "" if rows == expected_rows else "  MISMATCH")
    else:  # a failed collection may have closed reports on the agent that no row holds
        check = "not checked (failures)"
    print("reports            %d collected (%d new); rows in rum_reports %d, %s" % (
        collected, new, rows, check))
    print("rumd warn/error    %d log line(s); stop on SIGTERM: %s" % (len(warn_lines), rumd_exit))
    for kex, ssh_rate, ssh_wall, ssh_failed, ssh_p50, ssh_p99, ssh_busy in ceilings:
        label = "ssh's own choice" if kex == "default" else kex
        print("ssh logins/minute  %.0f, key exchange %s (%d logins, %d at a time, %.1f s, "
              "%d failed; p50 %s ms, p99 %s ms; machine busy %s%%)" % (
                  ssh_rate, label, a.logins, m, ssh_wall, ssh_failed, fmt(ssh_p50),
                  fmt(ssh_p99), ssh_busy))
        print("  ratio            %.2f (rumd collections/minute / these logins/minute)" % (
            (rate or 0) / ssh_rate))
    if not ceilings:
        print("ssh ceiling        not measured%s" % (" (--skip-ssh)" if a.skip_ssh else ""))
    for err, count in errors:
        print("  failed x%s: %s" % (count, err))
    for line in warn_lines[:5]:
        print("  rumd: %s" % line[:200])
    print("Noise on shared machines is +-20-35% run to run: read the ratio, not the absolute "
          "figures.")
    return 2 if hang else 0


def _on_signal(signum, frame):
    # Unwind through every finally/ExitStack so that all processes are stopped.
    sys.exit(128 + signum)


if __name__ == "__main__":
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, _on_signal)
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
