#!/usr/bin/env bash
# Installs the Debian packages of deploy/packages.txt that are missing
# (apt-get update once, then one apt-get install). Used by quickstart.sh and
# tests/run-all.sh; safe to run again.
set -euo pipefail
cd "$(dirname "$0")"
mapfile -t pkgs < <(grep -v '^#' packages.txt | sed '/^$/d')
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
