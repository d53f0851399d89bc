"""Operations: Prometheus metrics on the metrics listener, JSON logs with a
request id that the reply carries too, and the example alerting rules and
dashboard in deploy/prometheus/, checked by a real Prometheus (Debian's
prometheus and promtool) scraping a real rumd."""

import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

from rumtest import (RumTestCase, SOURCE_DIR, Device, add_tenant, free_port, make_tempdir,
                     http_request, main, pi_path, poll_message, tail, wait_for)

DEPLOY = os.path.join(SOURCE_DIR, "deploy", "prometheus")
SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text):
    """{(name, frozenset(labels.items())): value} of a text exposition."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE_RE.match(line)
        assert m, "not a sample line: %r" % line
        labels = {}
        if m.group(3):
            for k, v in LABEL_RE.findall(m.group(3)):
                labels[k] = v.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\")
        out[(m.group(1), frozenset(labels.items()))] = float(m.group(4))
    return out


def sample(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())))


class Metrics(RumTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.url, _ = cls.fresh_database("metrics")
        # A tenant name that needs escaping in a label value.
        cls.tenant = 'lab "east"\\1'
        add_tenant(cls.url, cls.tenant)
        cls.metrics_port = free_port()
        cls.rumd = cls.start_class_rumd(
            database_url=cls.url,
            flags={"metrics_listen": "127.0.0.1:%d" % cls.metrics_port,
                   "metrics_tenant_cache_s": "0", "log_format": "json",
                   "log_requests": "true", "upkeep_interval_s": "1"})

    def scrape(self):
        status, headers, body = http_request("127.0.0.1", self.metrics_port, "GET", "/metrics")
        self.assertEqual(status, 200, body[:500])
        self.assertTrue(headers.get("content-type", "").startswith("text/plain; version=0.0.4"),
                        headers)
        return body.decode()

    def push(self, tenant, body, headers=None):
        return self.rumd.post(pi_path(tenant), body, headers=headers)

    def test_1_counts_follow_device_traffic(self):
        before = parse_exposition(self.scrape())

        def base(name, **labels):
            return sample(before, name, **labels) or 0

        devices = [Device() for _ in range(3)]
        stored = 0
        for d in devices:
            reports = [d.report() for _ in range(4)]
            self.assertOkPoll(self.push(self.tenant, d.usage(reports)))
            stored += 4
        # Sent again: duplicates, not stored twice.
        d = devices[0]
        again = [d.report(report_id=d.next_id)]
        self.assertOkPoll(self.push(self.tenant, d.usage(again)))
        self.assertEqual(self.push(self.tenant, b"{not json").status, 400)
        self.assertEqual(self.push("no-such-tenant", devices[1].hello()).status, 404)
        self.assertEqual(self.push(self.tenant, devices[2].hello()).status, 200)
        self.assertEqual(self.push(self.tenant, poll_message("123456789")).status, 404)

        after = parse_exposition(self.scrape())

        def grew(name, **labels):
            return (sample(after, name, **labels) or 0) - base(name, **labels)

        self.assertEqual(grew("rumd_device_messages_total", kind="usage", outcome="ok"), 4)
        self.assertEqual(grew("rumd_device_messages_total", kind="invalid",
                              outcome="rejected"), 1)
        self.assertEqual(grew("rumd_device_messages_total", kind="hello",
                              outcome="not_found"), 1)
        self.assertEqual(grew("rumd_device_messages_total", kind="hello", outcome="ok"), 1)
        self.assertEqual(grew("rumd_device_messages_total", kind="poll",
                              outcome="not_found"), 1)
        self.assertEqual(grew("rumd_reports_total", outcome="stored"), stored)
        self.assertEqual(grew("rumd_reports_total", outcome="duplicate"), 1)
        self.assertEqual(grew("rumd_reports_total", outcome="conflict"), 0)
        self.assertEqual(grew("rumd_http_responses_total", **{"class": "4xx"}), 3)
        # Every batch commits at least one message; the histogram is whole.
        units = sample(after, "rumd_db_batch_units_count")
        self.assertGreaterEqual(units, 1)
        self.assertEqual(sample(after, "rumd_db_batch_units_bucket", le="+Inf"), units)
        self.assertGreaterEqual(sample(after, "rumd_db_batch_units_sum"), 6)
        self.assertEqual(sample(after, "rumd_db_up"), 1)
        self.assertGreaterEqual(sample(after, "rumd_db_workers", lane="batch"), 1)
        self.assertGreaterEqual(sample(after, "rumd_http_connections"), 0)
        # Licence figures of the tenant, its name escaped as the format wants.
        self.assertEqual(sample(after, "rumd_tenant_devices", tenant=self.tenant), 3)
        self.assertEqual(sample(after, "rumd_tenant_devices_overdue", tenant=self.tenant), 0)
        self.assertEqual(sample(after, "rumd_tenant_figures_ok"), 1)
        self.assertEqual(sample(after, "rumd_build_info", version=sample_version(after)), 1)

    def test_2_exposition_is_valid_for_promtool(self):
        promtool = shutil.which("promtool")
        if not promtool:
            self.skipTest("promtool not installed (Debian package prometheus)")
        text = self.scrape()
        proc = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                              text=True, timeout=60)
        # promtool lints names, units and HELP texts as well as the syntax.
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

    def test_3_only_on_the_metrics_listener(self):
        self.assertEqual(self.rumd.get("/metrics").status, 404)
        status, _, body = http_request("127.0.0.1", self.metrics_port, "GET", "/api/v1/tenants")
        self.assertEqual(status, 404)
        status, headers, _ = http_request("127.0.0.1", self.metrics_port, "POST", "/metrics",
                                          b"x")
        self.assertEqual(status, 405)
        self.assertIn("GET", headers.get("allow", ""))

    def test_4_request_id_in_reply_and_json_log(self):
        d = Device()
        mark = self.rumd.log_size()
        reply = self.push(self.tenant, d.usage([d.report()]),
                          headers={"X-Request-Id": "probe-4711.a"})
        self.assertOkPoll(reply)
        self.assertEqual(reply.headers.get("x-request-id"), "probe-4711.a")
        # Without one, or with one that is not plain, rumd makes one up.
        mine = self.push(self.tenant, d.hello())
        made = mine.headers.get("x-request-id")
        self.assertRegex(made or "", r"^[0-9a-f]{16,}$")
        odd = self.push(self.tenant, d.hello(), headers={"X-Request-Id": "a b\"{}"})
        self.assertRegex(odd.headers.get("x-request-id") or "", r"^[0-9a-f]{16,}$")

        def access_lines():
            lines = []
            for line in self.rumd.log(mark).splitlines():
                if line.startswith("---- rumtest"):
                    continue
                obj = json.loads(line)  # every line is one JSON object
                for key in ("time", "level", "event", "msg"):
                    self.assertIn(key, obj, line)
                if obj["event"] == "http.request":
                    lines.append(obj)
            return lines

        wait_for(lambda: len(access_lines()) >= 3, 10, what="three access lines")
        by_req = {o.get("req"): o for o in access_lines()}
        first = by_req["probe-4711.a"]
        self.assertEqual(first["level"], "info")
        self.assertEqual(first["method"], "POST")
        self.assertEqual(first["status"], 200)
        self.assertEqual(first["tenant"], self.tenant)
        self.assertEqual(first["device"], "%s:%s" % d.udi)
        self.assertIsInstance(first["duration_ms"], (int, float))
        self.assertIn(made, by_req)

        # A field from device-facing input stays whole: the tenant name with
        # its quotes and backslash, the address without the colon after it.
        self.assertEqual(self.push(self.tenant, b"{not json").status, 400)

        def rejected():
            return [json.loads(line) for line in self.rumd.log(mark).splitlines()
                    if '"push rejected' in line]

        wait_for(lambda: rejected(), 10, what="the rejected push's log line")
        line = rejected()[0]
        self.assertEqual(line["tenant"], self.tenant, line)
        self.assertEqual(line["addr"], "127.0.0.1", line)

    def test_5_prometheus_scrapes_rules_and_dashboard(self):
        prometheus = shutil.which("prometheus")
        if not prometheus:
            self.skipTest("prometheus not installed (Debian package prometheus)")
        d = Device()
        self.assertOkPoll(self.push(self.tenant, d.usage([d.report(), d.report()])))
        expected = parse_exposition(self.scrape())
        stored = sample(expected, "rumd_reports_total", outcome="stored")

        work = make_tempdir("rumtest-prometheus-")
        shutil.copy(os.path.join(DEPLOY, "rumd-alerts.yml"), work)
        with open(os.path.join(DEPLOY, "prometheus.yml")) as f:
            config = f.read()
        config = config.replace("127.0.0.1:9464", "127.0.0.1:%d" % self.metrics_port)
        config = re.sub(r"scrape_interval: \S+", "scrape_interval: 1s", config)
        config = re.sub(r"evaluation_interval: \S+", "evaluation_interval: 1s", config)
        with open(os.path.join(work, "prometheus.yml"), "w") as f:
            f.write(config)
        port = free_port()
        log = open(os.path.join(work, "prometheus.log"), "wb")
        proc = subprocess.Popen(
            [prometheus, "--config.file=%s" % os.path.join(work, "prometheus.yml"),
             "--storage.tsdb.path=%s" % os.path.join(work, "data"),
             "--web.listen-address=127.0.0.1:%d" % port],
            stdout=log, stderr=subprocess.STDOUT, cwd=work)
        self.addCleanup(lambda: (proc.terminate(), proc.wait(30), log.close()))

        def query(expr):
            url = "http://127.0.0.1:%d/api/v1/query?%s" % (
                port, urllib.parse.urlencode({"query": expr}))
            try:
                with urllib.request.urlopen(url, timeout=10) as r:
                    return json.load(r)
            except urllib.error.HTTPError as e:
                try:
                    return json.load(e)
                except ValueError:
                    return None
            except (OSError, ValueError):
                return None

        def stored_seen():
            q = query('rumd_reports_total{outcome="stored"}')
            if not q or q.get("status") != "success" or not q["data"]["result"]:
                return None
            return float(q["data"]["result"][0]["value"][1])

        try:
            wait_for(lambda: stored_seen() == stored, 60,
                     what="Prometheus to scrape %d stored reports" % stored)
        except AssertionError:
            with open(os.path.join(work, "prometheus.log"), "rb") as f:
                raise AssertionError("Prometheus did not see the figures:\n" +
                                     tail(f.read().decode(errors="replace")))
        q = query('rumd_tenant_devices')
        tenants = {r["metric"]["tenant"]: float(r["value"][1]) for r in q["data"]["result"]}
        self.assertEqual(tenants.get(self.tenant),
                         sample(expected, "rumd_tenant_devices", tenant=self.tenant))
        # The rules loaded, and none of them is broken.
        wait_for(lambda: rules_loaded(port) == 10, 30, what="the ten rules to load")
        with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/rules" % port) as r:
            rules = json.load(r)
        for group in rules["data"]["groups"]:
            for rule in group["rules"]:
                self.assertNotEqual(rule.get("health"), "err", rule)
        self.assertEqual(query('ALERTS{alertname="RumdDatabaseDown"}')["data"]["result"], [])
        # Every dashboard query is one Prometheus accepts and that finds series
        # rumd exports (rates need two scrapes: wait for them).
        with open(os.path.join(DEPLOY, "rumd-dashboard.json")) as f:
            dash = json.load(f)
        exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
        self.assertGreaterEqual(len(exprs), 15)
        time.sleep(3)
        for expr in exprs:
            concrete = (expr.replace("$__rate_interval", "1m").replace("$__range", "1h")
                        .replace("$instance", ".*").replace("$tenant", ".*"))
            q = query(concrete)
            self.assertEqual(q and q.get("status"), "success", (expr, q))
            names = set(re.findall(r"\b(rumd_[a-z_]+)", expr))
            for name in names:
                base = re.sub(r"_(bucket|sum|count)$", "", name)
                self.assertTrue(any(k[0] in (name, base) or k[0].startswith(base + "_")
                                    for k in expected), "dashboard names %s: not exported"
                                % name)


def sample_version(samples):
    for (name, labels) in samples:
        if name == "rumd_build_info":
            return dict(labels)["version"]
    return None


def rules_loaded(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/api/v1/rules" % port, timeout=5) as r:
            data = json.load(r)
    except OSError:
        return 0
    return sum(len(g["rules"]) for g in data["data"]["groups"])


if __name__ == "__main__":
    main()
