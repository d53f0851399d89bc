#!/usr/bin/env bash
# Installs what is missing (Debian 12), builds rumd and runs every test:
# unit, fuzz-corpus replay and integration tests, first in a normal build, then
# again under AddressSanitizer + UndefinedBehaviorSanitizer. Between the two it
# builds (without testing) the way users and distributions do: a Release build,
# one with Debian's packaging flags, and one with clang; warnings are errors in
# all of them here.
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
	cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRUM_WERROR=ON "$@" >/dev/null
	cmake --build "$dir" -j "$jobs"
	(cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 900)
}
build_only() { # build-dir, cmake args... (compiler and flags from the environment)
	local dir=$1; shift
	rm -rf "$dir"
	cmake -S . -B "$dir" -DRUM_WERROR=ON "$@" >/dev/null
	cmake --build "$dir" -j "$jobs" >"$dir/build.log" 2>&1 || { tail -n 60 "$dir/build.log"; return 1; }
	rm -rf "$dir"
}

echo "== build and test"
run_suite build
echo "== Release build (-O3), gcc"
build_only build-release -DCMAKE_BUILD_TYPE=Release
echo "== distribution build: Debian's packaging flags (dpkg-buildflags, hardening=+all)"
(
	eval "$(DEB_BUILD_MAINT_OPTIONS=hardening=+all dpkg-buildflags --export=sh)"
	# CMake reads CFLAGS, CXXFLAGS and LDFLAGS, not CPPFLAGS (as debhelper does).
	CFLAGS="$CFLAGS $CPPFLAGS" CXXFLAGS="$CXXFLAGS $CPPFLAGS" build_only build-dist -DCMAKE_BUILD_TYPE=None
)
echo "== Release build, clang"
CC=clang CXX=clang++ build_only build-clang -DCMAKE_BUILD_TYPE=Release
if [ "$sanitize" = 1 ]; then
	echo "== build and test under AddressSanitizer + UndefinedBehaviorSanitizer"
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		run_suite build-asan -DRUM_SANITIZE=ON
fi
echo "== all tests passed"
