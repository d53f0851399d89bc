#!/usr/bin/env bash
# Export benchmark (not a test: prints figures, never fails on timing).
#   1. a throwaway PostgreSQL 15 cluster on a free loopback port, schema from
#      `rumd migrate`,
#   2. DEVICES devices with REPORTS reports in all, inserted with generate_series,
#      each report object shaped like a real one of ~4 KB (format A payload as a
#      JSON string, a dozen measurements, a base64 signature),
#   3. `rumd export --all` timed with /usr/bin/time -v (seconds, peak RSS),
#   4. the same report objects as one file each, and `tar czf` of them timed
#      on the same machine in the same run (the yardstick, DESIGN.md 5),
#   5. seconds, RSS and the ratio; targets: within 2x of tar czf, RSS < 128 MiB.
# Environment: DEVICES (10000), REPORTS (100000), PG_BINDIR, RUM_BUILD_DIR
# (default build/), KEEP_TMP=1.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
DEVICES=${DEVICES:-10000}
REPORTS=${REPORTS:-100000}
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
build=${RUM_BUILD_DIR:-$root/build}
rumd=$build/rumd

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'export_bench: %s\n' "$*" >&2; exit 1; }
for v in DEVICES REPORTS; do [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -gt 0 ] || die "$v must be a positive number"; done
[ -x "$PG_BINDIR/initdb" ] || die "PostgreSQL binaries not found in $PG_BINDIR"
[ -x /usr/bin/time ] || die "/usr/bin/time (Debian package time) is needed"
if [ ! -x "$rumd" ]; then
	say "building rumd in $build"
	cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$build" -j "$(nproc)" --target rumd >/dev/null
fi

tmp=""; pg_started=0; pg_run=()
cleanup() {
	local rc=$?
	set +e
	if [ "$pg_started" = 1 ]; then
		"${pg_run[@]}" "$PG_BINDIR/pg_ctl" -D "$tmp/pg/data" -m immediate -w -t 30 stop >/dev/null 2>&1
	fi
	if [ -n "$tmp" ] && [ -d "$tmp" ]; then
		if [ "${KEEP_TMP:-0}" = 1 ]; then echo "export_bench: kept $tmp" >&2; else rm -rf "$tmp"; fi
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
	local p
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
	done
	return 1
}

tmp=$(mktemp -d /tmp/rum-export-bench.XXXXXX)
chmod 755 "$tmp"
mkdir -p "$tmp/pg/data" "$tmp/out" "$tmp/files"
chmod 700 "$tmp/pg/data"
if [ "$(id -u)" = 0 ]; then
	pg_user=nobody
	getent passwd postgres >/dev/null && pg_user=postgres
	chown -R "$pg_user" "$tmp/pg"
	pg_run=(runuser -u "$pg_user" --)
fi
say "PostgreSQL cluster in $tmp/pg"
"${pg_run[@]}" "$PG_BINDIR/initdb" -D "$tmp/pg/data" -A trust -E UTF8 --locale=C -U postgres \
	--no-instructions >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log" >&2; die "initdb failed"; }
cat >>"$tmp/pg/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$tmp/pg'
shared_buffers = 128MB
EOF
for _ in 1 2 3; do
	pg_port=$(free_port) || die "no free port"
	if "${pg_run[@]}" "$PG_BINDIR/pg_ctl" -D "$tmp/pg/data" -l "$tmp/pg/postgres.log" -w -t 60 \
		-o "-p $pg_port" start >/dev/null 2>&1; then pg_started=1; break; fi
done
[ "$pg_started" = 1 ] || die "PostgreSQL did not start"
psql_() { "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres "$@"; }
psql_ -d postgres -c "CREATE DATABASE bench"
url=postgresql://postgres@127.0.0.1:$pg_port/bench
"$rumd" migrate --database_url="$url" >/dev/null 2>&1 || die "rumd migrate failed"

say "inserting $REPORTS reports of $DEVICES devices"
per=$(( (REPORTS + DEVICES - 1) / DEVICES ))
psql_ -d bench <<EOF
INSERT INTO tenants (name, smart_account, virtual_account) VALUES ('bench', 'Bench SA', 'Bench VA');
INSERT INTO devices (tenant_id, udi_pid, udi_serial, hostname, software_tag)
SELECT (SELECT id FROM tenants WHERE name = 'bench'), 'C9300-24P', 'FOC' || lpad(g::text, 8, '0'),
       'sw-' || g, 'regid.2017-05.com.cisco.C9300,v1_727af1d9-6c39-4444-b301-863f81445b72'
FROM generate_series(1, $DEVICES) g;
WITH r AS (
  SELECT g, d.id AS device_id, d.tenant_id, d.udi_serial AS sn, 1700000000 + g AS report_id,
    '{"asset_identification":{"asset":{"name":"regid.2017-05.com.cisco.C9300,v1_727af1d9-6c39-4444-b301-863f81445b72"},'
    || '"instance":{"sudi":{"udi_pid":"C9300-24P","udi_serial_number":"' || d.udi_serial || '"}},'
    || '"signature":{"signing_type":"builtin","key":"regid.2017-05.com.cisco.C9300,v1_727af1d9-6c39-4444-b301-863f81445b72","value":"' || d.udi_serial || '"}},'
    || '"meta":{"entitlement_tag":"regid.2018-12.com.cisco.DNA_P_50M_A,1.0_100fb8b2-f5cc-459c-9253-ac77b827fd71","report_id":' || (1700000000 + g)
    || ',"software_version":"17.06.02","ha_udi":[{"role":"Active","sudi":{"udi_pid":"C9300-24P","udi_serial_number":"' || d.udi_serial || '"}}]},'
    || '"measurements":[' || (SELECT string_agg(format(
         '{"log_time":%s,"metric_name":"ENTITLEMENT","start_time":%s,"end_time":%s,"sample_interval":%s,"num_samples":%s,'
         '"meta":{"termination_reason":"CurrentUsageRequested","added_sudi_list":[]},"value":{"type":"COUNT","value":"%s"}}',
         1657550382 + g * 7 + m * 3600, 1657549046 + g * 5 + m * 3600, 1657550382 + g * 7 + m * 3600,
         1336 + (g + m) % 97, 2 + (g * m) % 13, 1 + (g + m * 31) % 50), ',') FROM generate_series(1, 12) m)
    || ']}' AS payload
  FROM generate_series(1, $REPORTS) g
  JOIN devices d ON d.id = (SELECT min(id) FROM devices) + (g - 1) / $per
)
INSERT INTO rum_reports (tenant_id, device_id, report_id, udi_pid, udi_serial, format,
                         payload_sha256, report)
SELECT tenant_id, device_id, report_id, 'C9300-24P', sn, 'A', sha256(convert_to(payload, 'UTF8')),
       '{"payload":' || to_json(payload)::text || ',"header":{"type":"rum"},"signature":{"sudi":{"udi_pid":"C9300-24P","udi_serial_number":"'
       || sn || '"},"signing_type":"builtin","key":"regid.2017-05.com.cisco.C9300,v1_727af1d9-6c39-4444-b301-863f81445b72","value":"'
       || replace(encode(sha256(convert_to(payload || 'k', 'UTF8')) || sha256(convert_to(payload, 'UTF8')), 'base64'), E'\n', '') || '"}}'
FROM r;
VACUUM ANALYZE;
EOF
stats=$(psql_ -d bench -At -c "SELECT count(*), count(DISTINCT device_id), round(avg(octet_length(report))), pg_size_pretty(sum(octet_length(report))) FROM rum_reports")
say "stored: $stats (reports, devices, average bytes, total)"

say "rumd export --all"
/usr/bin/time -v -o "$tmp/export.time" "$rumd" export --tenant bench --all -o "$tmp/out" \
	--database_url="$url" >"$tmp/export.out" 2>&1 || { cat "$tmp/export.out" "$tmp/export.time" >&2; die "export failed"; }
cat "$tmp/export.out" >&2
export_file=$(ls "$tmp/out"/UD_SA_*.tar.gz)

say "the same report objects as $REPORTS files, then tar czf"
psql_ -d bench -At -c "COPY (SELECT device_id, id, encode(convert_to(report, 'UTF8'), 'base64') FROM rum_reports ORDER BY device_id, id) TO STDOUT" |
python3 -c '
import base64, os, sys
top = sys.argv[1]
for line in sys.stdin:
    dev, rid, b64 = line.rstrip("\n").split("\t")
    d = os.path.join(top, dev)
    if not os.path.isdir(d):
        os.mkdir(d)
    with open(os.path.join(d, rid + ".json"), "wb") as f:
        f.write(base64.b64decode(b64.replace("\\n", "")))
' "$tmp/files"
sync
/usr/bin/time -v -o "$tmp/tar.time" tar czf "$tmp/files.tar.gz" -C "$tmp" files

secs() { # elapsed wall clock (h:mm:ss or m:ss.ss) in seconds
	sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$1" |
		awk -F: '{ if (NF == 3) print $1 * 3600 + $2 * 60 + $3; else print $1 * 60 + $2 }'
}
rss_kb() { sed -n 's/.*Maximum resident set size (kbytes): //p' "$1"; }
say "CSSM simulator: ACK tarball for the export"
python3 "$root/tests/tools/cssm_sim.py" ack "$export_file" -o "$tmp/ack" >"$tmp/cssm.out" 2>&1 ||
	{ tail -n 5 "$tmp/cssm.out" >&2; die "the CSSM simulator refused the export"; }
tail -1 "$tmp/cssm.out" >&2
ack_file=$(ls "$tmp/ack"/ACK_UD_SA_*.tar.gz)

say "rumd import of the ACK tarball"
/usr/bin/time -v -o "$tmp/import.time" "$rumd" import "$ack_file" --tenant bench \
	--database_url="$url" >"$tmp/import.out" 2>&1 || { tail -n 5 "$tmp/import.out" "$tmp/import.time" >&2; die "import failed"; }
head -1 "$tmp/import.out" >&2
acked=$(psql_ -d bench -At -c "SELECT count(*) FILTER (WHERE acked_at IS NOT NULL), (SELECT count(*) FROM acks) FROM rum_reports")

e_s=$(secs "$tmp/export.time"); t_s=$(secs "$tmp/tar.time")
i_s=$(secs "$tmp/import.time"); i_rss=$(rss_kb "$tmp/import.time")
e_rss=$(rss_kb "$tmp/export.time"); t_rss=$(rss_kb "$tmp/tar.time")
e_size=$(stat -c %s "$export_file"); t_size=$(stat -c %s "$tmp/files.tar.gz")
echo
echo "export_bench: $REPORTS reports of $DEVICES devices on $(nproc) CPUs ($(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -1))"
printf '  rumd export : %6.2f s  peak RSS %6.1f MiB  %s bytes\n' "$e_s" "$(echo "$e_rss / 1024" | bc -l)" "$e_size"
printf '  tar czf     : %6.2f s  peak RSS %6.1f MiB  %s bytes\n' "$t_s" "$(echo "$t_rss / 1024" | bc -l)" "$t_size"
printf '  ratio       : %6.2f x tar czf (target <= 2)   RSS target < 128 MiB\n' "$(echo "$e_s / $t_s" | bc -l)"
printf '  rumd import : %6.2f s  peak RSS %6.1f MiB  (target < 30 s for the %s device ACKs)\n' \
	"$i_s" "$(echo "$i_rss / 1024" | bc -l)" "$DEVICES"
echo "  after import: reports acknowledged, ACKs queued = ${acked/|/, }"
