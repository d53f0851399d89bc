"""Two rumd nodes on one database share the pull schedule (PROTOCOL.md 3.5).

200 pull targets (20 rum-agents, each behind its own OpenSSH sshd with the
NETCONF subsystem, registered in 10 tenants) are all due at once when two
`rumd serve` nodes start side by side. Both compete for the same due rows;
every target must be collected exactly once for that due time, by one node
or the other, both nodes must do part of the work, each target's next
collection must be scheduled an interval later, and every tenant must hold
exactly the reports the agents handed over, once.

How the reports are checked without trusting rumd: every NETCONF
rum-save-usage-unreported closes the agent's open report and hands over all
reports not acknowledged yet, so the k-th collection of an agent (whichever
tenant it was for) carries its c0 + k closed reports (c0: closed before any
collection). Collected once per tenant, an agent must end with exactly
c0 + 10 closed reports, and the ten tenants must hold nested sets of them of
sizes c0+1 .. c0+10 whose union is all of them. A target collected twice
would close one report more; a lost or doubled report would break the sets.
"""
import concurrent.futures
import contextlib
import json
import os
import subprocess
import threading
import time

import rumtest
import sshdtest
from rumtest import wait_for

BUILD = os.environ.get("RUM_BUILD_DIR", "")
AGENT = os.path.join(BUILD, "agent", "rum-agent")
TAG = "regid.2017-03.com.cisco.advantagek9,1.0_bd1da96e-ec1d-412b-a50e-53846b347d53"

N_AGENTS = 20
N_TENANTS = 10
SESSIONS = 8          # collector_sessions of each node
INTERVAL_S = 3600     # --interval 1h
NODES = ("node-a", "node-b")


def agent(*args):
    r = subprocess.run([AGENT, *args], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise AssertionError("rum-agent %s failed (%d): %s%s" % (
            " ".join(args), r.returncode, r.stdout, r.stderr))
    return r.stdout


def closed_reports(state_dir):
    """{report id} of the agent's reports that are closed (handed over or not)."""
    with open(os.path.join(state_dir, "state.json")) as f:
        state = json.load(f)
    return {int(r["id"]) for r in state["reports"] if r["state"] != "OPEN"}


class CollectorNodesTest(rumtest.RumTestCase):

    def rumd_cli(self, *args):
        proc = rumtest.run_rumd(list(args) + ["--database_url=%s" % self.url,
                                              "--data_dir=%s" % self.data_dir,
                                              "--secret_key_file=%s" % self.key_file])
        if proc.returncode != 0:
            raise AssertionError("rumd %s exited %d:\n%s%s" % (
                " ".join(args), proc.returncode, proc.stdout, proc.stderr))
        return proc.stdout

    def setUp(self):
        super().setUp()
        if not os.access(AGENT, os.X_OK):
            self.skipTest("no rum-agent binary at %s (set RUM_BUILD_DIR)" % AGENT)
        self.url, _ = self.fresh_database("nodes")
        self.data_dir = rumtest.make_tempdir("rumtest-nodes-data-", 0o755)
        self.key_file = os.path.join(self.data_dir, "shared-secret.key")
        self.rumd_cli("migrate")

    def start_agents(self):
        """N_AGENTS agents, each with one closed report and one open, each
        behind its own sshd; returns [(state_dir, sshd)]."""
        stack = contextlib.ExitStack()
        self.addCleanup(stack.close)
        agents = []
        for i in range(N_AGENTS):
            state = rumtest.make_tempdir("rumtest-nodes-agent-", 0o755)
            agent("init", "--state", state, "--pid", "C9300-24P", "--serial", "FOCND%05d" % i,
                  "--hostname", "node-sw%02d" % i, "--entitlement", TAG + "=4")
            agent("set-usage", "--state", state, TAG + "=%d" % (5 + i))
            sshd = stack.enter_context(sshdtest.Sshd(
                {"netconf": "%s netconf --state %s" % (AGENT, state)},
                bootflash_dir=os.path.join(state, "bootflash")))
            agents.append((state, sshd))
        return agents

    def start_nodes(self):
        """Both nodes, started at the same moment so that they meet the same due rows."""
        nodes = []
        for name in NODES:
            r = rumtest.Rumd(database_url=self.url, flags={
                "node_name": name, "collector_sessions": str(SESSIONS),
                "collector_poll_ms": "100", "secret_key_file": self.key_file,
                # Each node its own data directory: only the key file is shared.
            })
            self.addCleanup(self._finish_rumd, r)
            self._log_marks.append((r, 0))
            nodes.append(r)
        errors = []

        def start(r):
            try:
                r.start()
            except BaseException as e:  # reported below, in the test's thread
                errors.append(e)

        threads = [threading.Thread(target=start, args=(r,)) for r in nodes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        self.assertNotEqual(nodes[0].port, nodes[1].port)
        return nodes

    def test_two_nodes_collect_each_due_target_once(self):
        pg = self.pg
        db = self.url.rsplit("/", 1)[1]
        t0 = time.monotonic()
        agents = self.start_agents()
        c0 = [len(closed_reports(state)) for state, _ in agents]
        tenants = ["site-%02d" % t for t in range(N_TENANTS)]
        for name in tenants:
            self.rumd_cli("tenant", "add", name)

        # Every (tenant, agent) pair is one target, all due as soon as added.
        port_agent = {sshd.port: i for i, (_, sshd) in enumerate(agents)}
        pairs = [(t, i) for t in tenants for i in range(N_AGENTS)]

        def add(pair):
            tenant, i = pair
            sshd = agents[i][1]
            return self.rumd_cli("target", "add", "--tenant", tenant, "--host", "127.0.0.1",
                                 "--port", str(sshd.port), "--username", sshd.user,
                                 "--key", sshd.user_key,
                                 "--known-host-key", sshd.host_key_line(), "--interval", "1h")

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            list(pool.map(add, pairs))
        n_targets = len(pairs)
        self.assertEqual(pg.count("pull_targets", db=db), n_targets)
        self.assertEqual(pg.count("collection_jobs", "trigger = 'schedule' AND state = 'queued' "
                                  "AND due_at <= now()", db=db), n_targets,
                         "every target with an interval is due once, at once, when added")

        t1 = time.monotonic()
        nodes = self.start_nodes()
        t2 = time.monotonic()

        def settled():
            for r in nodes:
                if not r.alive():
                    raise AssertionError("%r exited with status %s" % (r, r.proc.returncode))
            return pg.count("collection_jobs", "state IN ('ok', 'failed')", db=db) >= n_targets
        # ~1 min on a quiet 2-core machine (the sshd and agent processes cost
        # far more CPU than rumd); the margin is for sanitizer builds and busy hosts.
        wait_for(settled, 420, interval=0.5, what="%d first collections to finish" % n_targets)
        t3 = time.monotonic()
        for r in nodes:
            r.stop()

        # -- the jobs ----------------------------------------------------------
        jobs = pg.psql(
            "SELECT j.id, j.target_id, j.trigger, j.state, j.attempts, j.node, "
            "  extract(epoch FROM j.due_at), extract(epoch FROM j.finished_at), "
            "  j.reports_collected, j.reports_new, coalesce(j.error, ''), "
            "  extract(epoch FROM now()), t.port, tn.name "
            "FROM collection_jobs j JOIN pull_targets t ON t.id = j.target_id "
            "JOIN tenants tn ON tn.id = t.tenant_id ORDER BY j.id", db=db)
        first = {}     # target id -> its finished job
        following = {}  # target id -> [queued jobs]
        for (jid, tid, trigger, state, attempts, node, due, fin, collected, new, error, now,
             port, tenant) in jobs:
            self.assertEqual(trigger, "schedule", "job %s: only the schedule ran: %r" % (
                jid, (trigger, state, node, error)))
            if state == "queued":
                following.setdefault(tid, []).append((jid, float(due), float(now)))
                continue
            self.assertEqual(state, "ok", "job %s (target %s, tenant %s, port %s) on %s: %s" % (
                jid, tid, tenant, port, node, error))
            self.assertNotIn(tid, first, "target %s collected twice (jobs %s and %s)" % (
                tid, first.get(tid, ("",))[0], jid))
            self.assertEqual(int(attempts), 1, "job %s was claimed %s times" % (jid, attempts))
            self.assertIn(node, NODES, "job %s ran on %r" % (jid, node))
            first[tid] = (jid, node, float(fin), int(collected), int(new), tenant,
                          port_agent[int(port)])
        self.assertEqual(len(first), n_targets, "every target collected once")
        self.assertEqual(len(jobs), 2 * n_targets, "one finished and one next job per target")

        shares = {name: sum(1 for v in first.values() if v[1] == name) for name in NODES}
        for name in NODES:
            self.assertGreaterEqual(shares[name], n_targets // 10,
                                    "node %s did too small a share of the work: %r" % (
                                        name, shares))

        for tid, (jid, node, fin, *_rest) in first.items():
            nxt = following.get(tid, [])
            self.assertEqual(len(nxt), 1, "target %s: next scheduled jobs %r" % (tid, nxt))
            _, due, now = nxt[0]
            self.assertAlmostEqual(due - fin, INTERVAL_S, delta=5,
                                   msg="target %s: next collection due %.0f s after the last "
                                   "one ended" % (tid, due - fin))
            self.assertGreater(due - now, INTERVAL_S / 2, "target %s: next one due too soon" % tid)

        # -- the reports -------------------------------------------------------
        rows = pg.psql("SELECT tn.name, r.udi_serial, r.report_id, r.conflict_of IS NOT NULL "
                       "FROM rum_reports r JOIN tenants tn ON tn.id = r.tenant_id", db=db)
        held = {}  # (tenant, agent index) -> [report ids]
        for tenant, serial, report_id, conflict in rows:
            self.assertEqual(conflict, "f", "report %s of %s in %s kept as a conflict" % (
                report_id, serial, tenant))
            held.setdefault((tenant, int(serial[len("FOCND"):])), []).append(int(report_id))
        self.assertEqual(pg.count("alerts", db=db), 0, pg.psql("SELECT kind, message FROM alerts",
                                                              db=db))

        by_pair = {(v[5], v[6]): v for v in first.values()}
        for i, (state, _) in enumerate(agents):
            produced = closed_reports(state)
            self.assertEqual(len(produced), c0[i] + N_TENANTS,
                             "agent %d handed over its usage %d times, not once per tenant" % (
                                 i, len(produced) - c0[i]))
            sets = []
            for tenant in tenants:
                ids = held.get((tenant, i), [])
                self.assertEqual(len(ids), len(set(ids)), "duplicates in %s of agent %d" % (
                    tenant, i))
                job = by_pair[(tenant, i)]
                self.assertEqual((job[3], job[4]), (len(ids), len(ids)),
                                 "job %s: reports collected/new vs rows in %s" % (job[0], tenant))
                sets.append(set(ids))
            sets.sort(key=len)
            self.assertEqual([len(s) for s in sets], list(range(c0[i] + 1, c0[i] + N_TENANTS + 1)),
                             "agent %d: each collection carries one more report" % i)
            for smaller, larger in zip(sets, sets[1:]):
                self.assertLess(smaller, larger, "agent %d: report sets not nested" % i)
            self.assertEqual(sets[-1], produced, "agent %d: the reports it produced" % i)

        per_tenant = {t: sum(len(held.get((t, i), [])) for i in range(N_AGENTS)) for t in tenants}
        for tenant in tenants:
            self.assertEqual(per_tenant[tenant], sum(by_pair[(tenant, i)][3]
                                                     for i in range(N_AGENTS)), tenant)
            self.assertEqual(int(pg.scalar(
                "SELECT count(*) FROM rum_reports r JOIN tenants tn ON tn.id = r.tenant_id "
                "WHERE tn.name = %s" % rumtest.sql_literal(tenant), db=db)), per_tenant[tenant])
        self.assertEqual(sum(per_tenant.values()),
                         sum(N_TENANTS * c0[i] + N_TENANTS * (N_TENANTS + 1) // 2
                             for i in range(N_AGENTS)))
        self.assertEqual(pg.count("device_snapshots", db=db), n_targets)
        self.assertEqual(pg.count("devices", "tenant_id IN (SELECT id FROM tenants WHERE name "
                                  "LIKE 'site-%')", db=db), n_targets)
        print("\n%d targets set up in %.1f s, nodes started in %.1f s, collected in %.1f s; "
              "shares: %s" % (n_targets, t1 - t0, t2 - t1, t3 - t2, shares))


if __name__ == "__main__":
    rumtest.main()
