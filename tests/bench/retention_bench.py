#!/usr/bin/python3
"""Retention benchmark: the database size per device before and after
pruning, and how fast `rumd prune` goes.

  1. builds rumd (if needed) into $RUM_BUILD_DIR (default build/), starts a
     throwaway PostgreSQL cluster (tests/integration/rumtest.py), `rumd migrate`,
  2. seeds one tenant with DEVICES devices of REPORTS_PER reports each by
     bulk SQL: report texts of about 6 KB (twenty measurements, each with its
     own hash-like values, so that lz4 finds what it finds in real ones), a
     year of received times; reports older than 60 days are in an export
     batch and acknowledged a week after they arrived,
  3. counts licence usage (the rollup must have counted what is pruned),
  4. VACUUM FULL, then prints the database and rum_reports sizes per device,
  5. times `rumd prune --retain_acked_reports_days=30`, VACUUM FULL again
     (the space a plain VACUUM makes reusable, returned here to be seen),
     prints the sizes per device after, and per report kept and pruned.

Prints figures; never fails on timing. Environment: DEVICES (500),
REPORTS_PER (50), RUM_BUILD_DIR (build).
"""

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
        sys.exit("retention_bench: %s must be a positive whole number (got %r)" % (name, value))
    return int(value)


DEVICES = env_int("DEVICES", 500)
REPORTS_PER = env_int("REPORTS_PER", 50)


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


SEED = """
INSERT INTO tenants (name) VALUES ('bench');
INSERT INTO devices (tenant_id, udi_pid, udi_serial, hostname)
SELECT t.id, 'C9300-24P', 'FOC' || lpad(i::text, 8, '0'), 'sw-' || i
  FROM tenants t, generate_series(1, %(devices)d) AS i WHERE t.name = 'bench';
INSERT INTO rum_reports (tenant_id, device_id, report_id, udi_pid, udi_serial, format,
                         entitlement_tag, software_version, metric_name, last_value,
                         first_start, last_end, payload_sha256, report, received_at, acked_at)
SELECT d.tenant_id, d.id, 1700000000 + r.n, d.udi_pid, d.udi_serial, 'A',
       'regid.2018-12.com.cisco.DNA_P_50M_A,1.0_100fb8b2-f5cc-459c-9253-ac77b827fd71',
       '17.9.4', 'ENTITLEMENT', (1 + r.n %% 4)::text, r.at - interval '8 hours', r.at,
       decode(md5(d.id || '/' || r.n), 'hex'),
       '{"payload":"{\\"meta\\":{\\"report_id\\":' || (1700000000 + r.n) ||
       '},\\"measurements\\":[' ||
       (SELECT string_agg('{\\"log_time\\":' || (1700000000 + r.n * 20 + k) ||
               ',\\"metric_name\\":\\"ENTITLEMENT\\",\\"start_time\\":' || (1700000000 + k) ||
               ',\\"sample_interval\\":3600,\\"num_samples\\":' || k ||
               ',\\"meta\\":{\\"termination_reason\\":\\"CurrentUsageRequested\\",' ||
               '\\"sequence\\":\\"' || md5(d.id || '.' || r.n || '.' || k) || '\\"},' ||
               '\\"value\\":{\\"type\\":\\"COUNT\\",\\"value\\":\\"' || (k %% 7) || '\\"}}', ',')
          FROM generate_series(1, 20) AS k) ||
       ']}","header":{"type":"rum"},"signature":{"value":"' ||
       encode(sha256((d.id || ':' || r.n)::bytea), 'base64') || '"}}',
       r.at, CASE WHEN r.at < now() - interval '60 days' THEN r.at + interval '7 days' END
  FROM devices d
 CROSS JOIN LATERAL (SELECT n, now() - make_interval(days => 365 * (%(per)d - n) / %(per)d) AS at
                       FROM generate_series(1, %(per)d) AS n) r;
INSERT INTO export_batches (tenant_id, file_name, ts, selection)
SELECT id, 'UD_SA_bench.tar.gz', 'bench', 'bench' FROM tenants WHERE name = 'bench';
INSERT INTO export_batch_reports (batch_id, device_id, report_row)
SELECT (SELECT max(id) FROM export_batches), device_id, id FROM rum_reports
 WHERE acked_at IS NOT NULL;
"""


def main():
    say("building rumd")
    build()
    pg = rt.PgCluster("bench", settings={"shared_buffers": "'256MB'",
                                          "max_wal_size": "'4GB'",
                                          "maintenance_work_mem": "'256MB'"})
    try:
        pg.start()
        url = pg.url
        proc = rt.run_rumd(["migrate", "--database_url=%s" % url], timeout=600)
        if proc.returncode != 0:
            sys.exit("rumd migrate failed: " + proc.stderr)
        say("seeding %d devices x %d reports" % (DEVICES, REPORTS_PER))
        pg._run([rt.psql_bin(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", pg.dir, "-p",
                 str(pg.port), "-U", pg.SUPERUSER, "-d", "bench", "-c",
                 SEED % {"devices": DEVICES, "per": REPORTS_PER}], timeout=7200)
        say("counting licence usage")
        proc = rt.run_rumd(["usage", "--tenant", "bench", "--usage_lag_s=0",
                            "--database_url=%s" % url], timeout=7200)
        if proc.returncode != 0:
            sys.exit("rumd usage failed: " + proc.stderr)

        def sizes():
            pg.psql("VACUUM FULL rum_reports", db="bench")
            return (int(pg.scalar("SELECT pg_database_size('bench')", db="bench")),
                    int(pg.scalar("SELECT pg_total_relation_size('rum_reports')", db="bench")))

        avg = int(pg.scalar("SELECT avg(octet_length(report))::int FROM rum_reports", db="bench"))
        prunable = int(pg.scalar("SELECT count(*) FROM rum_reports WHERE acked_at < "
                                 "now() - interval '30 days'", db="bench"))
        db_before, rep_before = sizes()
        say("rumd prune")
        t0 = time.monotonic()
        proc = rt.run_rumd(["prune", "--retain_acked_reports_days=30",
                            "--database_url=%s" % url], timeout=7200)
        took = time.monotonic() - t0
        if proc.returncode != 0:
            sys.exit("rumd prune failed: " + proc.stderr)
        sys.stderr.write(proc.stdout)
        db_after, rep_after = sizes()
        total = DEVICES * REPORTS_PER
        print("seeded          %d devices x %d reports, report text %d bytes on average"
              % (DEVICES, REPORTS_PER, avg))
        print("prunable        %d reports (acknowledged more than 30 days ago)" % prunable)
        print("rumd prune      %.1f s, %.0f reports/s (batches of 1000)"
              % (took, prunable / took if took else 0))
        print("database/device %d KiB before, %d KiB after" % (db_before / DEVICES / 1024,
                                                               db_after / DEVICES / 1024))
        print("rum_reports/device %d KiB before, %d KiB after"
              % (rep_before / DEVICES / 1024, rep_after / DEVICES / 1024))
        kept = total - prunable
        if prunable:
            # Solve for the cost of a pruned row: after = kept * full + pruned * slim.
            full = rep_before / total
            slim = (rep_after - kept * full) / prunable
            print("rum_reports/report %d bytes with its payload, about %d once pruned"
                  % (full, max(slim, 0)))
    finally:
        pg.stop()
        pg.cleanup()


if __name__ == "__main__":
    main()
