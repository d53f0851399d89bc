#!/usr/bin/env bash
# A fuzzing campaign: every libFuzzer target (or those named) for RUNS
# executions or SECONDS seconds, whichever comes first, starting from the
# corpus kept in tests/fuzz/corpus/<target>. Inputs that reach new coverage
# are merged back into that corpus (which CTest replays in every run), and
# one line per target is printed: executions, seconds, coverage (edges and
# features) before and after, corpus entries added, crashes.
#
#   tests/fuzz/campaign.sh                       # all targets, 10M runs / 30 min each
#   RUNS=1000000 SECONDS_MAX=300 tests/fuzz/campaign.sh fuzz_message
#
# Builds with clang into build-fuzz/ (RUM_FUZZ=ON, AddressSanitizer and
# UndefinedBehaviorSanitizer). A crash stops that target; its input is kept
# in the work directory printed, to be fixed and then added to the corpus.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

RUNS=${RUNS:-10000000}
SECONDS_MAX=${SECONDS_MAX:-1800}
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
work=${FUZZ_WORK_DIR:-$(mktemp -d /tmp/rumd-fuzz-XXXXXX)}
targets=("$@")
if [ ${#targets[@]} = 0 ]; then
	targets=(agentfuzz_framing fuzz_message fuzz_rum_payload agentfuzz_ack agentfuzz_netconf
		fuzz_netconf_reply fuzz_ack_file fuzz_usage_file)
fi

CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRUM_FUZZ=ON \
	-DRUM_SANITIZE=ON >/dev/null
cmake --build "$build" -j "$(nproc)" --target "${targets[@]}" >/dev/null

binary() { # target -> path
	if [ -x "$build/tests/$1" ]; then echo "$build/tests/$1"; else echo "$build/agent/$1"; fi
}

# "cov: N ft: M" of a libFuzzer log line.
coverage() { sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\).*/\1 \2/p' "$1" | tail -1; }

printf '%-20s %12s %8s %16s %16s %7s %s\n' target executions seconds "cov/ft before" \
	"cov/ft after" added result
for t in "${targets[@]}"; do
	bin=$(binary "$t")
	corpus=$root/tests/fuzz/corpus/$t
	mkdir -p "$work/$t/new" "$work/$t/artifacts"
	# Coverage of the kept corpus alone.
	"$bin" -runs=0 "$corpus" >"$work/$t/before.log" 2>&1 || true
	before=$(coverage "$work/$t/before.log")
	start=$(date +%s)
	result=ok
	ASAN_OPTIONS=detect_leaks=1 "$bin" -runs="$RUNS" -max_total_time="$SECONDS_MAX" \
		-print_final_stats=1 -artifact_prefix="$work/$t/artifacts/" -rss_limit_mb=2048 \
		"$work/$t/new" "$corpus" >"$work/$t/run.log" 2>&1 || result="CRASH (see $work/$t)"
	secs=$(($(date +%s) - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t/run.log" | tail -1)
	after=$(coverage "$work/$t/run.log")
	# Keep only what adds coverage to the kept corpus.
	n0=$(find "$corpus" -type f | wc -l)
	"$bin" -merge=1 "$corpus" "$work/$t/new" >"$work/$t/merge.log" 2>&1 || true
	n1=$(find "$corpus" -type f | wc -l)
	printf '%-20s %12s %8s %16s %16s %7s %s\n' "$t" "${execs:-?}" "$secs" "${before/ //}" \
		"${after/ //}" "$((n1 - n0))" "$result"
done
echo "work directory (logs, new inputs, crash artifacts): $work"
