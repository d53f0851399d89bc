#!/usr/bin/env bash
# One command from a fresh Debian 12 machine to a running rumd: installs what
# is missing, builds, and serves devices on port 8182 with an embedded
# PostgreSQL cluster under the data directory (unless RUMD_DATABASE_URL or
# --database_url names an existing database).
# Usage: deploy/quickstart.sh [--key=value ...]   (any rumd setting)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

deploy/install-packages.sh

cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$(nproc)" --target rumd

if [ "$(id -u)" -eq 0 ]; then
	data_dir=${RUMD_DATA_DIR:-/var/lib/rumd}
else
	data_dir=${RUMD_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/rumd}
fi
echo "rumd: data in $data_dir; devices: license smart url cslu http://$(hostname -f 2>/dev/null || hostname):8182/cslu/v1/pi"
exec build/rumd --data_dir="$data_dir" "$@" serve
