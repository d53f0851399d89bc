#!/usr/bin/env bash
# Refuses calls the project bans in C (and C++) sources (DESIGN.md section 3):
# unbounded string functions, atoi, and shelling out.
set -euo pipefail
cd "$(dirname "$0")/.."
pattern='(^|[^_a-zA-Z0-9])(sprintf|vsprintf|strcpy|strcat|gets|atoi|atol|system|popen)[[:space:]]*\('
files=$(git ls-files '*.c' '*.h' '*.cpp' 2>/dev/null || find . -name '*.c' -o -name '*.h' -o -name '*.cpp')
# snprintf/vsnprintf do not match: the name must start after a non-identifier.
hits=$(grep -nE "$pattern" $files || true)
if [ -n "$hits" ]; then
	echo "banned calls found:"
	echo "$hits"
	exit 1
fi
echo "lint: no banned calls in $(echo "$files" | wc -w) files"
