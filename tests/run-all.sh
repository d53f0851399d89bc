#!/usr/bin/env bash
# Installs what is missing (Debian 12), builds rumd and runs every test:
# unit, fuzz-corpus replay and integration tests, first in a normal build, then
# again under AddressSanitizer + UndefinedBehaviorSanitizer.
# Usage: tests/run-all.sh [--no-sanitize]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

sanitize=1
[ "${1:-}" = "--no-sanitize" ] && sanitize=0

deploy/install-packages.sh --tests

jobs=$(nproc)
run_suite() { # build-dir, extra cmake args...
	local dir=$1; shift
	cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
	cmake --build "$dir" -j "$jobs"
	(cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 900)
}

echo "== build and test"
run_suite build
if [ "$sanitize" = 1 ]; then
	echo "== build and test under AddressSanitizer + UndefinedBehaviorSanitizer"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		run_suite build-asan -DRUM_SANITIZE=ON
fi
echo "== all tests passed"
