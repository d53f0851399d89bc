#!/usr/bin/python3
"""Inventory benchmark: what an admin's questions cost on a large tenant.

  1. builds rumd (if needed) into $RUM_BUILD_DIR (default build/) and starts a
     throwaway PostgreSQL cluster (tests/integration/rumtest.py) with
     shared_buffers 256MB, then `rumd migrate`,
  2. seeds one tenant with DEVICES devices and REPORTS reports by bulk SQL
     (how: printed below; the device rows go through rumd's own insert
     trigger, the reports' inventory columns are computed in one pass as
     rum_inventory_refresh would, a year of received times, five entitlements,
     reports older than 60 days acknowledged, 2% of devices never reported),
  3. counts licence usage (`rumd usage`, the upkeep's rollup from scratch)
     and evaluates alerts once, timed,
  4. starts `rumd serve` and times REQUESTS requests of each admin API call
     over one keep-alive connection: device list first page, a filtered page
     (overdue), a page deep into the list (past 90% of the devices), a search
     for one serial number and one matching a tenth of the hostnames, device
     show, the overview (device counts by state: the upkeep's snapshot, as
     the API answers for a tenant this large, and counted live for another
     due window), usage summary, alert list,
  5. prints p50/p99 per call, the seed and rollup times, and the database
     size per device,
  6. when Chromium, chromedriver and python3-selenium are installed (the test
     command installs them): signs a headless Chromium in to the console and
     loads the overview and the devices page BROWSER_RUNS times each, first
     with an empty cache (a first visit) and then with the assets cached,
     and prints the time from navigation to the view's first render (the
     page's own "rumd:view-shown" mark) and the bytes transferred (Resource
     Timing transferSize: the page, its assets and its API calls).

Prints figures; never fails on timing (targets on 2 cores: list and show p99
< 100 ms, usage summary < 1 s; console first render < 1 s and < 300 KB on a
first visit). Exits non-zero only when something could not
be built or started.

Environment: DEVICES (1000000), REPORTS (10000000), REQUESTS (200),
BROWSER_RUNS (10), RUM_BUILD_DIR (build), KEEP_TMP=1.
"""

import http.client
import json
import os
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import rumtest as rt  # noqa: E402


def env_int(name, default):
    value = os.environ.get(name, str(default))
    if not value.isdigit() or int(value) <= 0:
        sys.exit("inventory_bench: %s must be a positive whole number (got %r)" % (name, value))
    return int(value)


DEVICES = env_int("DEVICES", 1000000)
REPORTS = env_int("REPORTS", 10000000)
REQUESTS = env_int("REQUESTS", 200)
BROWSER_RUNS = env_int("BROWSER_RUNS", 10)
TAGS = ["regid.2017-03.com.cisco.advantagek9,1.0_bd1da96e-ec1d-412b-a50e-53846b347d53",
        "regid.2018-12.com.cisco.DNA_P_50M_A,1.0_100fb8b2-f5cc-459c-9253-ac77b827fd71",
        "regid.2017-07.com.cisco.network-advantage,1.0_1c75c2f3-2f4c-4d3b-9c1a-2a5a3e3c0001",
        "regid.2017-07.com.cisco.dna-advantage,1.0_1c75c2f3-2f4c-4d3b-9c1a-2a5a3e3c0002",
        "regid.2019-11.com.cisco.securityk9,1.0_1c75c2f3-2f4c-4d3b-9c1a-2a5a3e3c0003"]


def say(msg):
    print("== " + msg, file=sys.stderr, flush=True)


def build():
    build_dir = os.environ.get("RUM_BUILD_DIR", os.path.join(ROOT, "build"))
    if not os.path.isabs(build_dir):
        build_dir = os.path.join(ROOT, build_dir)
    subprocess.run(["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=RelWithDebInfo"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", build_dir, "-j", str(os.cpu_count() or 2), "--target",
                    "rumd"], check=True, stdout=subprocess.DEVNULL)
    os.environ["RUMD_BIN"] = os.path.join(build_dir, "rumd")


def timed(fn):
    t0 = time.monotonic()
    out = fn()
    return out, time.monotonic() - t0


SEED = """
INSERT INTO tenants (name) VALUES ('bench');
-- Devices: rumd's insert trigger gives each its inventory row.
INSERT INTO devices (tenant_id, udi_pid, udi_serial, hostname, software_version,
                     first_seen, last_contact)
SELECT t.id, (ARRAY['C9300-24P','C9300-48P','C9200L-24T','C8000V','ISR4331'])[1 + i %% 5],
       'FOC' || lpad(i::text, 8, '0'), 'sw-' || lpad(i::text, 7, '0'), '17.9.4',
       now() - interval '400 days', now() - make_interval(secs => (i::bigint * 7919) %% (40 * 86400))
  FROM tenants t, generate_series(1, %(devices)d) AS i WHERE t.name = 'bench';
-- Reports: spread over the devices that report (98%%) and over a year, in
-- the order they arrived; those older than 60 days acknowledged a week
-- after they arrived, except for one device in 20 (never acknowledged:
-- overdue).
INSERT INTO rum_reports (tenant_id, device_id, report_id, udi_pid, udi_serial, format,
                         entitlement_tag, software_version, metric_name, last_value,
                         first_start, last_end, payload_sha256, report, received_at, acked_at)
SELECT d.tenant_id, d.id, 1700000000 + r.i, d.udi_pid, d.udi_serial, 'A',
       (%(tags)s)[1 + (r.i / 7) %% 5], '17.9.4', 'ENTITLEMENT',
       (1 + r.i %% 4)::text, r.at - interval '8 hours', r.at,
       decode(md5(r.i::text), 'hex'),
       '{"payload":"{\\"meta\\":{\\"report_id\\":' || (1700000000 + r.i) || '}}","header":{"type":"rum"}}',
       r.at, CASE WHEN r.at < now() - interval '60 days' AND d.id %% 20 <> 0
                  THEN r.at + interval '7 days' END
  FROM (SELECT i, now() - make_interval(secs => (%(reports)d - 1 - i)::bigint * (365 * 86400)
                                                / %(reports)d) AS at
          FROM generate_series(0, %(reports)d - 1) AS i) r
  JOIN devices d ON d.id = (SELECT min(id) FROM devices) + r.i %% %(reporting)d;
-- The inventory columns, in one pass (what rum_inventory_refresh computes
-- device by device).
UPDATE device_inventory i SET first_report_at = s.first, unacked_since = s.unacked,
       last_ack_at = s.acked
  FROM (SELECT device_id, min(received_at) AS first,
               min(received_at) FILTER (WHERE acked_at IS NULL) AS unacked,
               max(acked_at) AS acked
          FROM rum_reports GROUP BY device_id) s
 WHERE i.device_id = s.device_id;
"""
VACUUM = "VACUUM (ANALYZE) devices, device_inventory, rum_reports"



class Api:
    def __init__(self, port, token):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = {"Authorization": "Bearer " + token}

    def get(self, path):
        t0 = time.monotonic()
        self.conn.request("GET", path, headers=self.headers)
        reply = self.conn.getresponse()
        body = reply.read()
        took = time.monotonic() - t0
        if reply.status != 200:
            raise RuntimeError("GET %s: %d %s" % (path, reply.status, body[:300]))
        return json.loads(body), took


def browser_figures(base, token):
    """[(view, cache, p50 ms, p99 ms, KB transferred)] for the console, or a
    reason it could not be measured."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return "python3-selenium is not installed"
    chromium, driver_bin = "/usr/bin/chromium", "/usr/bin/chromedriver"
    if not (os.path.exists(chromium) and os.path.exists(driver_bin)):
        return "chromium and chromium-driver are not installed"
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--user-data-dir=" + rt.make_tempdir("bench-chromium-")):
        opts.add_argument(arg)
    d = webdriver.Chrome(service=Service(driver_bin), options=opts)
    try:
        d.get(base + "/")
        d.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch('/api/v1/session', {method: 'POST', headers: {'Content-Type': "
            "'application/json'}, body: JSON.stringify({token: arguments[0]})})"
            ".then((r) => { document.cookie = 'rumd_signed_in=1; path=/; SameSite=Strict';"
            " done(r.status); })", token)
        d.execute_cdp_cmd("Network.enable", {})
        figures = []
        for view, marker in (("overview", "#/overview"), ("devices page", "#/devices")):
            for cache in ("first visit", "cached"):
                times, sizes = [], []
                for _ in range(BROWSER_RUNS):
                    if cache == "first visit":
                        d.execute_cdp_cmd("Network.clearBrowserCache", {})
                    d.get("about:blank")
                    d.get(base + "/" + marker)
                    shown = None
                    deadline = time.monotonic() + 60
                    while shown is None and time.monotonic() < deadline:
                        shown = d.execute_script(
                            "const m = performance.getEntriesByName('rumd:view-shown');"
                            "return m.length ? m[0].startTime : null")
                        if shown is None:
                            time.sleep(0.01)
                    if shown is None:
                        return "the %s did not render within 60 s" % view
                    time.sleep(0.3)  # let the view's own calls finish for the byte count
                    size = d.execute_script(
                        "return performance.getEntriesByType('navigation').concat("
                        "performance.getEntriesByType('resource'))"
                        ".reduce((n, e) => n + (e.transferSize || 0), 0)")
                    times.append(shown)
                    sizes.append(size)
                figures.append((view, cache, percentile(times, 50), percentile(times, 99),
                                max(sizes) / 1024.0))
        return figures
    finally:
        d.quit()


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


def main():
    say("building rumd")
    build()
    pg = rt.PgCluster("bench", settings={"shared_buffers": "'256MB'",
                                          "max_wal_size": "'4GB'", "work_mem": "'64MB'",
                                          "maintenance_work_mem": "'256MB'"})
    rumd = None
    try:
        pg.start()
        proc = rt.run_rumd(["migrate", "--database_url=%s" % pg.url], timeout=600)
        if proc.returncode != 0:
            sys.exit("rumd migrate failed: " + proc.stderr)
        reporting = max(1, DEVICES * 98 // 100)
        say("seeding %d devices and %d reports" % (DEVICES, REPORTS))
        sql = SEED % {"devices": DEVICES, "reports": REPORTS, "reporting": reporting,
                      "tags": "ARRAY[%s]" % ",".join("'%s'" % t for t in TAGS)}
        _, seed_s = timed(lambda: pg._run([rt.psql_bin(), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                                           "-h", pg.dir, "-p", str(pg.port), "-U", pg.SUPERUSER,
                                           "-d", "bench", "-c", sql, "-c", VACUUM],
                                          timeout=7200))
        size = int(pg.scalar("SELECT pg_database_size('bench')", db="bench"))
        overdue = int(pg.scalar("SELECT count(*) FROM device_inventory "
                                "WHERE next_deadline < now()", db="bench"))
        say("counting licence usage (rollup from scratch)")
        proc, rollup_s = timed(lambda: rt.run_rumd(
            ["usage", "--tenant", "bench", "--json", "--usage_lag_s=0",
             "--database_url=%s" % pg.url], timeout=7200))
        if proc.returncode != 0:
            sys.exit("rumd usage failed: " + proc.stderr)
        in_use = sum(e["in_use"] for e in json.loads(proc.stdout)["entitlements"])
        days = int(pg.scalar("SELECT count(*) FROM usage_tag_day", db="bench"))
        say("evaluating alerts")
        proc, alerts_s = timed(lambda: rt.run_rumd(
            ["alert", "list", "--tenant", "bench", "--limit", "1", "--json",
             "--database_url=%s" % pg.url], timeout=7200))
        if proc.returncode != 0:
            sys.exit("rumd alert list failed: " + proc.stderr)
        alerts_open = int(pg.scalar("SELECT count(*) FROM alerts WHERE resolved_at IS NULL",
                                    db="bench"))
        proc = rt.run_rumd(["token", "create", "--role", "reader", "--database_url=%s" % pg.url])
        token = proc.stdout.strip()
        rumd = rt.Rumd(database_url=pg.url, flags={"upkeep_interval_s": 86400})
        rumd.start()
        api = Api(rumd.port, token)
        base = "/api/v1/tenants/bench"
        deep_id = int(pg.scalar("SELECT id FROM devices ORDER BY id OFFSET %d LIMIT 1"
                                % (DEVICES * 9 // 10), db="bench"))
        deep = "d1.0.0.%d.%s" % (deep_id, str(deep_id).encode().hex())
        some = [int(x[0]) for x in pg.psql("SELECT id FROM devices ORDER BY random() LIMIT %d"
                                           % REQUESTS, db="bench")]
        calls = [
            ("device list, first page", lambda k: base + "/devices?limit=50"),
            ("device list, overdue", lambda k: base + "/devices?state=overdue&sort=deadline&limit=50"),
            ("device list, deep page (90%)", lambda k: base + "/devices?limit=50&cursor=" + deep),
            ("device search, one serial", lambda k: base + "/devices?limit=50&q=foc%08d"
             % (1 + (k * 7919) % DEVICES)),
            ("device search, 10% of hostnames", lambda k: base + "/devices?limit=50&q=sw-00"),
            ("device show", lambda k: base + "/devices/%d" % some[k % len(some)]),
            ("overview (upkeep's snapshot)", lambda k: base + "/overview"),
            ("overview (counted live)", lambda k: base + "/overview?due_days=29"),
            ("usage summary", lambda k: base + "/usage"),
            ("alert list", lambda k: base + "/alerts?limit=50"),
        ]
        # The overview of a tenant this large is the upkeep's snapshot: wait
        # for the serve loop's first round to have counted it.
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if api.get(base + "/overview")[0].get("as_of"):
                break
            time.sleep(1)
        else:
            print("warning: no overview snapshot after 600 s; the overview is counted live")
        results = []
        for name, path in calls:
            api.get(path(0))  # warm
            times = [api.get(path(k))[1] * 1000 for k in range(REQUESTS)]
            results.append((name, percentile(times, 50), percentile(times, 99)))
        print()
        print("inventory benchmark  %s  git %s" % (
            time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                           capture_output=True, text=True).stdout.strip()))
        print("machine         %d CPU(s); load average %s" % (
            os.cpu_count(), " ".join("%.2f" % x for x in os.getloadavg())))
        print("seeded          %d devices, %d reports (bulk SQL as above) in %.1f s" % (
            DEVICES, REPORTS, seed_s))
        print("database        %.1f MiB, %.0f bytes per device (%d overdue, %d open alerts)" % (
            size / 1048576.0, size / float(DEVICES), overdue, alerts_open))
        print("usage rollup    %.1f s from scratch (rumd usage, %d reports): %d entitlement-days, "
              "%d in use now" % (rollup_s, REPORTS, days, in_use))
        print("alert evaluate  %.1f s (rumd alert list, first evaluation)" % alerts_s)
        print("%-32s %10s %10s   (%d requests each, one keep-alive connection)" % (
            "admin API call", "p50 ms", "p99 ms", REQUESTS))
        for name, p50, p99 in results:
            print("%-32s %10.1f %10.1f" % (name, p50, p99))
        print("targets (2 cores): list and show p99 < 100 ms, usage summary < 1 s")
        say("measuring the console in Chromium")
        figures = browser_figures("http://127.0.0.1:%d" % rumd.port, token)
        if isinstance(figures, str):
            print("console         not measured: %s" % figures)
        else:
            print("%-32s %10s %10s %10s   (%d loads each; time to the view's first render)" % (
                "console view", "p50 ms", "p99 ms", "KB", BROWSER_RUNS))
            for view, cache, p50, p99, kb in figures:
                print("%-32s %10.1f %10.1f %10.1f" % ("%s, %s" % (view, cache), p50, p99, kb))
            print("targets (2 cores): first render < 1 s, first visit < 300 KB")
    finally:
        if rumd:
            rumd.stop()
        if os.environ.get("KEEP_TMP") != "1":
            pg.cleanup()
        else:
            pg.stop()
            say("kept %s" % pg.dir)


if __name__ == "__main__":
    main()
