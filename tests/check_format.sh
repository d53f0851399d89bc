#!/usr/bin/env bash
# Format check: every C and C++ source and header in git (tests included,
# fuzz corpora excluded) must already be laid out as .clang-format says, so
# that style is settled by a machine rather than in review (DESIGN.md
# section 3, rule 13). Prints the files clang-format would change and exits
# 1 if there are any; run `clang-format -i FILE` to fix one.
#
# The style is tuned for Debian 12's clang-format 14 (package clang-format);
# other versions lay some constructs out differently, so a different major
# version is reported. A missing clang-format is an error, not a skip: CI
# installs it (deploy/packages.txt), and a check that silently does nothing
# is worse than none. CLANG_FORMAT=/path/to/binary overrides the choice.
set -euo pipefail
cd "$(dirname "$0")/.."

cf=${CLANG_FORMAT:-}
if [ -z "$cf" ]; then
	for c in clang-format-14 clang-format; do
		if command -v "$c" >/dev/null 2>&1; then
			cf=$c
			break
		fi
	done
fi
if [ -z "$cf" ] || ! command -v "$cf" >/dev/null 2>&1; then
	echo "check_format: clang-format not found; install the Debian package clang-format" \
		"(deploy/install-packages.sh does) or set CLANG_FORMAT" >&2
	exit 1
fi
version=$("$cf" --version)
case $version in
*" version 14."*) ;;
*) echo "check_format: warning: the style is tuned for clang-format 14, this is: $version" >&2 ;;
esac

mapfile -t files < <(git ls-files -- '*.c' '*.h' '*.cpp' ':(exclude)tests/fuzz/corpus/')
if [ ${#files[@]} -eq 0 ]; then
	echo "check_format: no C sources found (not a git checkout?)" >&2
	exit 1
fi

# A broken .clang-format would make every file "differ"; say so instead.
if ! err=$("$cf" --dump-config 2>&1 >/dev/null) || [ -n "$err" ]; then
	echo "check_format: $cf rejects .clang-format:" >&2
	echo "$err" >&2
	exit 1
fi

# One clang-format over all files (it is slow to start); each place it would
# change is one "FILE:LINE:COL: error: ... [-Wclang-format-violations]" line.
status=0
out=$("$cf" --dry-run --Werror -- "${files[@]}" 2>&1) || status=$?
differ=$(echo "$out" | grep -e '-Wclang-format-violations' | sed 's/:[0-9]*:[0-9]*: .*//' | sort -u || true)
if [ "$status" -ne 0 ] && [ -z "$differ" ]; then
	echo "check_format: $cf failed (exit $status):" >&2
	echo "$out" >&2
	exit 1
fi

if [ -n "$differ" ]; then
	echo "check_format: $(echo "$differ" | wc -l) of ${#files[@]} files differ from .clang-format:"
	echo "$differ" | sed 's/^/  /'
	exit 1
fi
echo "check_format: ${#files[@]} files match .clang-format"
