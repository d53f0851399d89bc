#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running rumd: installs what
# is missing, builds rumd and rum-agent, and serves devices on port 8182 with
# an embedded PostgreSQL cluster under the data directory, printing the
# address rumd really listens on.
# Usage: deploy/quickstart.sh [--key=value ...]   (any rumd setting)
#
# An existing database instead of the embedded one, without its password on
# any command line (where every local user can read it):
#   RUMD_DATABASE_URL=postgresql://rumd:secret@db/rumd deploy/quickstart.sh
#   deploy/quickstart.sh --database_url_file=/etc/rumd/database.url   (mode 0600)
# A URL given either way (or as --database_url=...) is written to
# DATA_DIR/database.url (mode 0600) and rumd reads it from there.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

deploy/install-packages.sh

# A user's build: warnings are not errors (CI makes them so).
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRUM_WERROR=OFF >/dev/null
cmake --build build -j "$(nproc)" --target rumd rum-agent

if [ "$(id -u)" -eq 0 ]; then
	data_dir=${RUMD_DATA_DIR:-/var/lib/rumd}
else
	data_dir=${RUMD_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/rumd}
fi
unset RUMD_DATA_DIR

# The database URL, if any, goes to rumd in a file only its user reads.
url=${RUMD_DATABASE_URL:-}
unset RUMD_DATABASE_URL
args=()
for a in "$@"; do
	case $a in
	--database_url=* | --database-url=*)
		url=${a#*=}
		echo "rumd: note: --database_url on a command line shows its password to every" \
			"local user; prefer RUMD_DATABASE_URL=... or --database_url_file=FILE" >&2
		;;
	*) args+=("$a") ;;
	esac
done
if [ ! -d "$data_dir" ]; then
	# As root the embedded PostgreSQL runs as the postgres user, which must
	# pass through data_dir to its own directory in it: 0711, not 0700.
	if [ "$(id -u)" -eq 0 ]; then mode=0711; else mode=0700; fi
	mkdir -p "$(dirname "$data_dir")" && mkdir -m "$mode" "$data_dir"
fi
if [ -n "$url" ]; then
	url_file=$data_dir/database.url
	# printf is a shell builtin: the URL is on no process's command line.
	(umask 077 && rm -f "$url_file" && printf '%s\n' "$url" >"$url_file")
	args=(--database_url_file="$url_file" "${args[@]}")
fi
unset url

host=$(hostname -f 2>/dev/null || hostname)
echo "rumd: data in $data_dir"
# rumd logs "listening on http://ADDR:PORT" per listener: the address it
# really has (the port it picked for port 0, the address it bound).
show_address() {
	local scheme=$1 addr=$2 port=$3 where
	case $addr in
	0.0.0.0 | "[::]") where=$host ;;
	*) where=$addr ;;
	esac
	echo "rumd: listening on $scheme://$addr:$port; devices: license smart url cslu" \
		"$scheme://$where:$port/cslu/v1/pi; admin console: $scheme://$where:$port/"
}
reader() {
	trap '' INT TERM # rumd's last lines still come after Ctrl-C
	local re='listening on (https?)://(.*):([0-9]+)$' line
	while IFS= read -r line; do
		printf '%s\n' "$line"
		if [[ $line =~ $re ]]; then
			show_address "${BASH_REMATCH[1]}" "${BASH_REMATCH[2]}" "${BASH_REMATCH[3]}"
		fi
	done
}
build/rumd --data_dir="$data_dir" ${args[@]+"${args[@]}"} serve > >(reader) 2>&1 &
rumd_pid=$!
# Ctrl-C or SIGTERM: rumd stops as for SIGTERM (finishes requests in flight).
trap 'kill -TERM "$rumd_pid" 2>/dev/null' INT TERM
status=0
while :; do
	wait "$rumd_pid" && status=0 || status=$?
	kill -0 "$rumd_pid" 2>/dev/null || break
done
wait # for the reader to copy rumd's last lines
exit "$status"
