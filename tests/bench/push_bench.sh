#!/usr/bin/env bash
# Push benchmark, all in one run on this machine (see tests/bench/README.md):
#   1. builds rumd and push_load (if needed) into $RUM_BUILD_DIR (default build/),
#   2. starts a throwaway PostgreSQL 15 cluster on a free loopback port
#      (fsync on, synchronous_commit on, shared_buffers 128MB, defaults otherwise),
#   3. measures the PostgreSQL ceilings with pgbench for rows like rumd's, of
#      the sizes push_load sends: report rows with one durable commit each,
#      then 100 per commit (multi-row INSERT), then 100 reports per commit
#      each with its upload row, as rumd stores a one-report message,
#   4. starts `rumd serve` on that cluster and drives it with push_load,
#   5. prints a summary: rumd reports/s against both ceilings, latency, peak RSS.
# Prints figures; never fails on timing. Exit status is non-zero only when
# something could not be built or started.
#
# Environment: CLIENTS (64), DURATION (20 s), REPORTS_PER_MESSAGE (1),
#   WARMUP (3 s), MIN_KB/MAX_KB (4/20), NO_POLL=1, SEED (1),
#   PG_CLIENTS (64), PG_DURATION (15 s), PG_BATCH (100), PG_REPORT_KB (unset:
#   report texts from MIN_KB to MAX_KB like push_load's; set: all that size),
#   PG_BINDIR (/usr/lib/postgresql/15/bin), RUM_BUILD_DIR (build),
#   SKIP_PGBENCH=1, SKIP_RUMD=1, KEEP_TMP=1 (keep logs in the temp dir),
#   PG_TCP=1 (rumd and pgbench reach PostgreSQL over loopback TCP instead of
#   its Unix socket; the socket is what rumd's embedded cluster uses).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

CLIENTS=${CLIENTS:-64}
DURATION=${DURATION:-20}
REPORTS_PER_MESSAGE=${REPORTS_PER_MESSAGE:-1}
WARMUP=${WARMUP:-3}
MIN_KB=${MIN_KB:-4}
MAX_KB=${MAX_KB:-20}
SEED=${SEED:-1}
PG_CLIENTS=${PG_CLIENTS:-64}
PG_DURATION=${PG_DURATION:-15}
PG_REPORT_KB=${PG_REPORT_KB:-}
PG_BATCH=${PG_BATCH:-100}
PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
build=${RUM_BUILD_DIR:-build}
case $build in /*) ;; *) build=$root/$build ;; esac

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'push_bench: %s\n' "$*" >&2; exit 1; }

for v in CLIENTS DURATION REPORTS_PER_MESSAGE WARMUP PG_CLIENTS PG_DURATION PG_BATCH MIN_KB MAX_KB SEED; do
	[[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done
[ -z "$PG_REPORT_KB" ] || [[ $PG_REPORT_KB =~ ^[0-9]+$ ]] || die "PG_REPORT_KB must be a whole number (got '$PG_REPORT_KB')"
[ -x "$PG_BINDIR/initdb" ] && [ -x "$PG_BINDIR/pgbench" ] || die "PostgreSQL binaries not found in $PG_BINDIR"

# ------------------------------------------------------------ cleanup
tmp=""
rumd_pid=""
pg_started=0
pg_run=()
cleanup() {
	local rc=$?
	set +e
	[ -n "${sampler_pid:-}" ] && kill "$sampler_pid" 2>/dev/null
	if [ -n "$rumd_pid" ] && kill -0 "$rumd_pid" 2>/dev/null; then
		kill -TERM "$rumd_pid" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$rumd_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$rumd_pid" 2>/dev/null
		wait "$rumd_pid" 2>/dev/null
	fi
	if [ "$pg_started" = 1 ]; then
		"${pg_run[@]}" "$PG_BINDIR/pg_ctl" -D "$tmp/pg/data" -m immediate -w -t 30 stop >/dev/null 2>&1
		if [ -f "$tmp/pg/data/postmaster.pid" ]; then # belt and braces: our own postmaster only
			pm=$(head -1 "$tmp/pg/data/postmaster.pid" 2>/dev/null)
			[[ $pm =~ ^[0-9]+$ ]] && kill -QUIT "$pm" 2>/dev/null
		fi
	fi
	if [ -n "$tmp" ] && [ -d "$tmp" ]; then
		if [ "${KEEP_TMP:-0}" = 1 ]; then
			echo "push_bench: kept $tmp" >&2
		else
			rm -rf "$tmp"
		fi
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------ helpers
cpu_jiffies() { # prints "busy total" from /proc/stat
	awk '/^cpu /{b=$2+$3+$4+$7+$8+$9; t=b+$5+$6; print b, t; exit}' /proc/stat
}
busy_pct() { # busy% between two "busy total" samples
	awk -v a="$1" -v b="$2" 'BEGIN{split(a,x," "); split(b,y," "); d=y[2]-x[2];
		if (d <= 0) print "?"; else printf "%.0f", 100*(y[1]-x[1])/d}'
}
proc_cpu_s() { # user+system CPU seconds of a pid
	awk -v hz="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); printf "%.2f", ($12+$13)/hz}' "/proc/$1/stat" 2>/dev/null || echo "?"
}
pg_cpu_s() { # CPU seconds of the benchmark's PostgreSQL cluster: the postmaster, its
	# live children, and (cutime/cstime) the children it has reaped
	local pm hz t
	pm=$(head -1 "$tmp/pg/data/postmaster.pid" 2>/dev/null) || { echo "?"; return; }
	hz=$(getconf CLK_TCK)
	t=$(awk '{sub(/^.*\) /, ""); print $12+$13+$14+$15}' "/proc/$pm/stat" 2>/dev/null) || { echo "?"; return; }
	for c in $(pgrep -P "$pm"); do
		t=$((t + $(awk '{sub(/^.*\) /, ""); print $12+$13}' "/proc/$c/stat" 2>/dev/null || echo 0)))
	done
	awk -v t="$t" -v hz="$hz" 'BEGIN{printf "%.2f", t/hz}'
}
per_row_us() { # CPU seconds before, after, rows -> microseconds per row
	awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN{if (a=="?"||b=="?"||n+0==0) print "-"; else printf "%.0f", (b-a)*1e6/n}'
}
free_port() {
	local p
	for _ in $(seq 200); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}
result_field() { # file key -> value from push_load's RESULT line
	sed -n 's/^RESULT .*\b'"$2"'=\([^ ]*\).*/\1/p' "$1" | tail -1
}
pgbench_tps() { # file -> tps without initial connection time
	sed -n 's/^tps = \([0-9.]*\) (without initial connection time).*/\1/p' "$1" | tail -1
}

cpu_model=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -1)
[ -n "$cpu_model" ] || cpu_model=$(uname -m)
ncpu=$(nproc)

# ------------------------------------------------------------ build
say "build ($build)"
push_load=$build/tests/bench/push_load
configured=1
if [ ! -f "$build/Makefile" ] && [ ! -f "$build/build.ninja" ]; then
	mkdir -p "$build"
	cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null 2>&1 || configured=0
fi
if [ "$configured" = 1 ] && cmake --build "$build" -j "$ncpu" --target push_load >/dev/null 2>&1; then
	:
else
	# push_load is self-contained: build it alone when the project does not configure.
	echo "push_bench: the project did not configure or build; compiling push_load alone" >&2
	mkdir -p "$build/tests/bench"
	${CC:-cc} -std=gnu11 -O2 -Wall -Wextra -Werror -Wmissing-prototypes -Wstrict-prototypes \
		-o "$push_load" "$root/tests/bench/push_load.c" || die "push_load did not build"
	configured=0
fi
rumd_ok=1
if [ "${SKIP_RUMD:-0}" != 1 ] && [ "$configured" = 1 ]; then
	if ! cmake --build "$build" -j "$ncpu" --target rumd >"$build/push_bench_build.log" 2>&1; then
		tail -20 "$build/push_bench_build.log" >&2
		echo "push_bench: rumd did not build; measuring the PostgreSQL ceilings only" >&2
		rumd_ok=0
	fi
else
	[ "${SKIP_RUMD:-0}" = 1 ] || echo "push_bench: rumd cannot be built; measuring the PostgreSQL ceilings only" >&2
	rumd_ok=0
fi

# ------------------------------------------------------------ PostgreSQL
tmp=$(mktemp -d /tmp/rum-bench.XXXXXX)
chmod 755 "$tmp"
mkdir -p "$tmp/pg/data" "$tmp/scripts" "$tmp/rumd-data"
chmod 700 "$tmp/pg/data"
if [ "$(id -u)" = 0 ]; then
	pg_user=nobody
	getent passwd postgres >/dev/null && pg_user=postgres
	chown -R "$pg_user" "$tmp/pg"
	pg_run=(runuser -u "$pg_user" --)
fi
say "PostgreSQL 15 cluster in $tmp/pg${pg_run:+ (as ${pg_run[2]})}"
"${pg_run[@]}" "$PG_BINDIR/initdb" -D "$tmp/pg/data" -A trust -E UTF8 --locale=C -U postgres \
	--no-instructions >"$tmp/initdb.log" 2>&1 || { cat "$tmp/initdb.log" >&2; die "initdb failed"; }
cat >>"$tmp/pg/data/postgresql.conf" <<EOF

# push_bench: durable, defaults otherwise
listen_addresses = '127.0.0.1'
unix_socket_directories = '$tmp/pg'
shared_buffers = 128MB
fsync = on
synchronous_commit = on
full_page_writes = on
EOF
pg_port=""
for _ in 1 2 3; do
	pg_port=$(free_port) || die "no free port"
	if "${pg_run[@]}" "$PG_BINDIR/pg_ctl" -D "$tmp/pg/data" -l "$tmp/pg/postgres.log" -w -t 60 \
		-o "-p $pg_port" start >/dev/null 2>&1; then
		pg_started=1
		break
	fi
done
[ "$pg_started" = 1 ] || { tail -20 "$tmp/pg/postgres.log" >&2; die "PostgreSQL did not start"; }
# Clients connect the way rumd's embedded cluster is reached: through the
# Unix socket (PG_TCP=1: loopback TCP, as to a database on another host).
pg_host=$tmp/pg
pg_url="postgresql://postgres@/%s?host=$tmp/pg&port=$pg_port"
if [ "${PG_TCP:-0}" = 1 ]; then
	pg_host=127.0.0.1
	pg_url="postgresql://postgres@127.0.0.1:$pg_port/%s"
fi
psql_() { "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h "$pg_host" -p "$pg_port" -U postgres "$@"; }
pg_version=$(psql_ -At -d postgres -c 'SHOW server_version')
pg_sync=$(psql_ -At -d postgres -c "SELECT current_setting('fsync') || '/' || current_setting('synchronous_commit') || '/' || current_setting('wal_sync_method')")

# ------------------------------------------------------------ pgbench ceilings
single_rows=""; batch_rows=""; usage_rows=""; single_busy=""; batch_busy=""; usage_busy=""
single_pgus=""; batch_pgus=""; usage_pgus=""
run_pgbench() { # name rows-per-transaction script files...
	local name=$1 rows=$2; shift 2
	local args=() f
	for f in "$@"; do args+=(-f "$f"); done
	psql_ -d bench -c "TRUNCATE rum_reports CASCADE; TRUNCATE uploads CASCADE; CHECKPOINT" >/dev/null
	say "pgbench $name: -c $PG_CLIENTS -j 2 -T $PG_DURATION, $rows row(s) per transaction"
	local c0 c1 p0 p1
	c0=$(cpu_jiffies)
	p0=$(pg_cpu_s)
	"$PG_BINDIR/pgbench" -n -c "$PG_CLIENTS" -j 2 -T "$PG_DURATION" -h "$pg_host" -p "$pg_port" -U postgres \
		-D tenant="$bench_tenant" -D devbase="$bench_devbase" "${args[@]}" bench \
		>"$tmp/pgbench-$name.out" 2>"$tmp/pgbench-$name.err" || {
		tail -5 "$tmp/pgbench-$name.err" >&2
		echo "push_bench: pgbench $name failed" >&2
		return 0
	}
	sleep 1 # pgbench's backends exit and are reaped
	c1=$(cpu_jiffies)
	p1=$(pg_cpu_s)
	local tps lat
	tps=$(pgbench_tps "$tmp/pgbench-$name.out")
	lat=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$tmp/pgbench-$name.out")
	local stored
	stored=$(psql_ -At -d bench -c "SELECT count(*) FROM rum_reports")
	local r
	r=$(awk -v t="$tps" -v n="$rows" 'BEGIN{printf "%.0f", t*n}')
	printf '   %s rows/s (%s transactions/s, latency avg %s ms, %s rows stored, machine busy %s%%)\n' \
		"$r" "$tps" "$lat" "$stored" "$(busy_pct "$c0" "$c1")" >&2
	printf -v "${name}_rows" '%s' "$r"
	printf -v "${name}_pgus" '%s' "$(per_row_us "$p0" "$p1" "$stored")"
	printf -v "${name}_busy" '%s' "$(busy_pct "$c0" "$c1")"
}

if [ "${SKIP_PGBENCH:-0}" != 1 ]; then
	psql_ -d postgres -c "CREATE DATABASE bench" >/dev/null
	for m in "$root"/db/migrations/*.sql; do
		psql_ -d bench -f "$m" >/dev/null || die "migration $(basename "$m") failed on the pgbench database"
	done
	bench_tenant=$(psql_ -At -d bench -c "INSERT INTO tenants (name) VALUES ('push-bench') RETURNING id")
	psql_ -d bench -c "INSERT INTO devices (tenant_id, udi_pid, udi_serial)
		SELECT $bench_tenant, 'C8000V', 'PGB' || g FROM generate_series(1, $PG_CLIENTS) g;
		CREATE SEQUENCE bench_report_id START 1000000000;
		CREATE SEQUENCE bench_poll_id START 1000000000" >/dev/null
	# pgbench's client_id runs 0..clients-1: device id = devbase + client_id
	bench_devbase=$(psql_ -At -d bench -c "SELECT min(id) FROM devices WHERE tenant_id = $bench_tenant")
	# The same kind of report text push_load sends, 16 distinct, evenly from
	# MIN_KB to MAX_KB (push_load draws its sizes uniformly from that range).
	ntext=16
	for i in $(seq 1 $ntext); do
		if [ -n "$PG_REPORT_KB" ]; then
			bytes=$((PG_REPORT_KB * 1024))
		else
			bytes=$(((MIN_KB * 1024 * (ntext - i) + MAX_KB * 1024 * (i - 1)) / (ntext - 1)))
		fi
		"$push_load" --print-report "$bytes" --seed "$i" --report-id-base $((1000 + i)) |
			tr -d '\n' | sed "s/'/''/g" >"$tmp/scripts/text$i"
		sha256sum "$tmp/scripts/text$i" | cut -c1-64 >"$tmp/scripts/sha$i"
	done
	cols="tenant_id, device_id, report_id, udi_pid, udi_serial, format, entitlement_tag, software_version, metric_name, last_value, first_start, last_end, payload_sha256, report"
	row() { # text index -> one VALUES tuple
		printf "(:tenant, :devbase + :client_id, nextval('bench_report_id'), 'C8000V', 'PGB' || (:client_id + 1), 'A', "
		printf "'regid.2018-12.com.cisco.DNA_P_50M_A,1.0_100fb8b2-f5cc-459c-9253-ac77b827fd71', '17.06.02', 'ENTITLEMENT', '%d', " "$1"
		printf "to_timestamp(1700000000), to_timestamp(1700086400), '\\\\x%s'::bytea, '" "$(cat "$tmp/scripts/sha$1")"
		cat "$tmp/scripts/text$1"
		printf "')"
	}
	single=()
	for i in $(seq 1 $ntext); do
		{ printf 'INSERT INTO rum_reports (%s) VALUES ' "$cols"; row "$i"; printf ';\n'; } >"$tmp/scripts/single$i.sql"
		single+=("$tmp/scripts/single$i.sql")
	done
	# Batches: pgbench variables only at the head, the 100 tuples after them
	# (pgbench rewrites the statement text at each variable it substitutes).
	batch=()
	for s in 1 2 3 4; do
		{
			printf 'INSERT INTO rum_reports (%s)\n' "$cols"
			printf "SELECT :tenant, :devbase + :client_id, nextval('bench_report_id'), 'C8000V', 'PGB' || (:client_id + 1), 'A', "
			printf "v.tag, '17.06.02', 'ENTITLEMENT', v.val, to_timestamp(1700000000), to_timestamp(1700086400), v.sha::bytea, v.report\n"
			printf 'FROM (VALUES\n'
			for j in $(seq 1 "$PG_BATCH"); do
				[ "$j" = 1 ] || printf ',\n'
				k=$(((s * 7 + j) % ntext + 1))
				printf "('regid.2018-12.com.cisco.DNA_P_50M_A,1.0_100fb8b2-f5cc-459c-9253-ac77b827fd71', '%d', '\\\\x%s', '" "$k" "$(cat "$tmp/scripts/sha$k")"
				cat "$tmp/scripts/text$k"
				printf "')"
			done
			printf ') AS v (tag, val, sha, report);\n'
		} >"$tmp/scripts/batch$s.sql"
		batch+=("$tmp/scripts/batch$s.sql")
	done
	# The batches again, each report with its upload row as rumd writes a
	# one-report message (the report rows do not point at them: nothing
	# checks that link on insert since migration 0007).
	usage=()
	for s in 1 2 3 4; do
		{
			printf 'BEGIN;\n'
			printf "INSERT INTO uploads (tenant_id, device_id, kind, source, source_address, poll_id) "
			printf "SELECT :tenant, :devbase + :client_id, 'usage', 'push', '127.0.0.1', nextval('bench_poll_id') "
			printf 'FROM generate_series(1, %d);\n' "$PG_BATCH"
			cat "$tmp/scripts/batch$s.sql"
			printf 'COMMIT;\n'
		} >"$tmp/scripts/usage$s.sql"
		usage+=("$tmp/scripts/usage$s.sql")
	done
	run_pgbench single 1 "${single[@]}"
	run_pgbench batch "$PG_BATCH" "${batch[@]}"
	run_pgbench usage "$PG_BATCH" "${usage[@]}"
	psql_ -d postgres -c "DROP DATABASE bench" >/dev/null
fi

# ------------------------------------------------------------ rumd
sampler_pid=""; rumd_alive=1
rumd_reports=""; rumd_requests=""; rumd_p50=""; rumd_p99=""; rumd_rss=""; rumd_busy=""; rumd_cpu=""
rumd_rows=""; rumd_errors=""; rumd_exit=""; rumd_logprobs=0; rumd_pgus=""; rumd_us=""
if [ "$rumd_ok" = 1 ]; then
	psql_ -d postgres -c "CREATE DATABASE rumd" >/dev/null
	psql_ -d postgres -c "CHECKPOINT" >/dev/null
	# shellcheck disable=SC2059
	rumd_url=$(printf "$pg_url" rumd)
	say "rumd serve on $rumd_url"
	"$build/rumd" serve --database_url="$rumd_url" --http_listen=127.0.0.1:0 \
		--data_dir="$tmp/rumd-data" >"$tmp/rumd.log" 2>&1 </dev/null &
	rumd_pid=$!
	rport=""
	for _ in $(seq 600); do
		rport=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$tmp/rumd.log" | head -1)
		[ -n "$rport" ] && break
		kill -0 "$rumd_pid" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$rport" ]; then
		tail -20 "$tmp/rumd.log" >&2
		die "rumd did not report listening"
	fi
	poll_flag=()
	[ "${NO_POLL:-0}" = 1 ] && poll_flag=(--no-poll)
	say "push_load: $CLIENTS clients, $REPORTS_PER_MESSAGE report(s) per message, ${WARMUP}s warm-up + ${DURATION}s"
	cpu0=$(proc_cpu_s "$rumd_pid")
	# Peak RSS and CPU, sampled while the load runs, so a crash still leaves figures.
	(
		while [ -r "/proc/$rumd_pid/status" ]; do
			h=$(awk '/^VmHWM:/{print $2}' "/proc/$rumd_pid/status" 2>/dev/null)
			c=$(proc_cpu_s "$rumd_pid")
			[ -n "$h" ] && printf '%s %s\n' "$h" "$c" >"$tmp/rumd.sample"
			sleep 0.5
		done
	) &
	sampler_pid=$!
	c0=$(cpu_jiffies)
	pgc0=$(pg_cpu_s)
	"$push_load" --url "http://127.0.0.1:$rport/cslu/v1/pi" --clients "$CLIENTS" --duration "$DURATION" \
		--warmup "$WARMUP" --reports-per-message "$REPORTS_PER_MESSAGE" --min-kb "$MIN_KB" --max-kb "$MAX_KB" \
		--seed "$SEED" "${poll_flag[@]}" --timeline | tee "$tmp/push_load.out" >&2 || true
	c1=$(cpu_jiffies)
	pgc1=$(pg_cpu_s)
	rumd_busy=$(busy_pct "$c0" "$c1")
	rumd_alive=1
	kill -0 "$rumd_pid" 2>/dev/null || rumd_alive=0
	if [ "$rumd_alive" = 1 ]; then
		cpu1=$(proc_cpu_s "$rumd_pid")
		rumd_rss=$(awk '/^VmHWM:/{printf "%.1f", $2/1024}' "/proc/$rumd_pid/status" 2>/dev/null || echo "?")
	else # died during the load: the last sample
		cpu1=$(cut -d' ' -f2 "$tmp/rumd.sample" 2>/dev/null || echo "?")
		rumd_rss=$(awk '{printf "%.1f (last sample before it died)", $1/1024}' "$tmp/rumd.sample" 2>/dev/null || echo "?")
	fi
	kill "$sampler_pid" 2>/dev/null || true
	wait "$sampler_pid" 2>/dev/null || true
	rumd_cpu=$(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN{if (a=="?"||b=="?") print "?"; else printf "%.1f", b-a}')
	kill -TERM "$rumd_pid" 2>/dev/null || true
	rumd_exit="still running after 30 s (killed)"
	[ "$rumd_alive" = 1 ] || rumd_exit="DIED DURING THE LOAD"
	for _ in $(seq 300); do
		if ! kill -0 "$rumd_pid" 2>/dev/null; then
			st=0
			wait "$rumd_pid" || st=$?
			if [ "$rumd_alive" = 1 ]; then
				rumd_exit="exit status $st"
			else
				rumd_exit="DIED DURING THE LOAD, exit status $st$([ "$st" -gt 128 ] && echo " (signal $((st - 128)))")"
			fi
			break
		fi
		sleep 0.1
	done
	if kill -0 "$rumd_pid" 2>/dev/null; then
		kill -KILL "$rumd_pid" 2>/dev/null || true
		wait "$rumd_pid" 2>/dev/null || true
	fi
	rumd_pid=""
	out=$tmp/push_load.out
	rumd_reports=$(result_field "$out" reports_per_s)
	rumd_requests=$(result_field "$out" requests_per_s)
	rumd_p50=$(result_field "$out" usage_p50_ms)
	rumd_p99=$(result_field "$out" usage_p99_ms)
	rumd_errors=$(result_field "$out" errors)
	rumd_rows=$(psql_ -At -d rumd -c "SELECT count(*) FROM rum_reports" 2>/dev/null || echo "?")
	rumd_pgus=$(per_row_us "$pgc0" "$pgc1" "$rumd_rows")
	rumd_us=$(per_row_us "$cpu0" "$cpu1" "$rumd_rows")
	rumd_logprobs=$(grep -ciE ' (warn|error) ' "$tmp/rumd.log" || true)
	if [ "$rumd_alive" = 0 ]; then
		echo "rumd died during the load; the end of its log:" >&2
		tail -15 "$tmp/rumd.log" >&2
	fi
	if [ "$rumd_logprobs" != 0 ]; then
		echo "rumd logged $rumd_logprobs warning/error lines; the first ones:" >&2
		grep -iE ' (warn|error) ' "$tmp/rumd.log" | head -5 >&2
	fi
fi

# ------------------------------------------------------------ summary
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{if (a==""||b==""||b+0==0) print "-"; else printf "%.2f", a/b}'; }
load=$(cut -d' ' -f1-3 /proc/loadavg)
echo
echo "push benchmark  $(date -u '+%Y-%m-%d %H:%M UTC')  git $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "machine         $ncpu CPU(s), $cpu_model; load average now $load"
echo "built from      $(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt" 2>/dev/null || echo '?') into $build"
echo "PostgreSQL      $pg_version, fsync/synchronous_commit/wal_sync_method = $pg_sync, shared_buffers 128MB"
printf '%-44s %12s %10s %14s\n' "" "rows/s" "busy CPU" "PG us/row"
printf '%-44s %12s %9s%% %14s\n' "pgbench, 1 row per commit ($PG_CLIENTS clients)" "${single_rows:--}" "${single_busy:--}" "${single_pgus:--}"
printf '%-44s %12s %9s%% %14s\n' "pgbench, $PG_BATCH rows per commit ($PG_CLIENTS clients)" "${batch_rows:--}" "${batch_busy:--}" "${batch_pgus:--}"
printf '%-44s %12s %9s%% %14s\n' "pgbench, $PG_BATCH reports+uploads per commit" "${usage_rows:--}" "${usage_busy:--}" "${usage_pgus:--}"
printf '%-44s %12s %9s%% %14s\n' "rumd, $REPORTS_PER_MESSAGE report(s)/message ($CLIENTS clients)" "${rumd_reports:--}" "${rumd_busy:--}" "${rumd_pgus:--}"
if [ "$rumd_ok" = 1 ]; then
	echo
	echo "rumd reports/s vs 1-row-per-commit ceiling   $(ratio "$rumd_reports" "$single_rows")"
	echo "rumd reports/s vs $PG_BATCH-rows-per-commit ceiling  $(ratio "$rumd_reports" "$batch_rows")"
	echo "rumd reports/s vs reports+uploads ceiling    $(ratio "$rumd_reports" "$usage_rows")"
	echo "rumd requests/s (usage + poll)               $rumd_requests"
	echo "rumd usage latency p50 / p99                 $rumd_p50 ms / $rumd_p99 ms"
	echo "rumd peak RSS (VmHWM)                        $rumd_rss MiB"
	echo "rumd CPU during the load                     $rumd_cpu s ($rumd_us us per stored report)"
	echo "errors seen by push_load                     $rumd_errors"
	echo "rows in rum_reports after the run            $rumd_rows (includes warm-up)"
	echo "rumd warnings/errors logged                  $rumd_logprobs"
	echo "rumd stop on SIGTERM                         $rumd_exit"
	echo "targets (2 cores): >= 3000 reports/s, p99 < 50 ms at 64 clients x 1 report/message, RSS < 64 MiB"
else
	echo "rumd            not measured (not built or SKIP_RUMD=1)"
fi
echo "PG us/row: CPU of the whole PostgreSQL cluster per row stored (per report for rumd)."
echo "Noise on shared machines is +-20-35% run to run: read the ratios, not the absolute figures."
[ "$rumd_ok" = 1 ] || [ "${SKIP_RUMD:-0}" = 1 ]
