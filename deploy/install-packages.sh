#!/usr/bin/env bash
# Installs the Debian packages of deploy/packages.txt that are missing, and
# with --tests those of deploy/packages-test.txt too (apt-get update once,
# then one apt-get install). Used by quickstart.sh and, with --tests, by
# tests/run-all.sh; safe to run again.
set -euo pipefail
cd "$(dirname "$0")"
lists=(packages.txt)
[ "${1:-}" = "--tests" ] && lists+=(packages-test.txt)
mapfile -t pkgs < <(cat "${lists[@]}" | grep -v '^#' | sed '/^$/d')
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "${missing[@]}"
