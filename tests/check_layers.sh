#!/usr/bin/env bash
# Include-layer check: the folder a header lives in is the layer it belongs
# to, and a folder may include only the headers of the folders its rule
# below names. This keeps data flowing one way (transport -> handler ->
# domain -> store, DESIGN.md section 1): nothing below api/ sees HTTP,
# nothing but db/ sees SQL or libpq, and rum-agent links against lib/ alone.
#
# The table is ordered from the ground up, and each folder names only
# itself and folders above it in the table (those nearer the ground), so
# the layering is acyclic by construction; no cycle search is needed. Keep
# it so when adding a row.
#
# One rule is finer than a folder: the domain's headers are what api/,
# collector/ and server/ include, so they may not include db/ headers
# (nothing above db/ sees a store row or a connection); only the domain's
# .c files reach db/.
#
# Every quoted include must also be spelt from the top of the tree
# ("lib/err.h", "db/store.h"): its first path component must be one of the
# folders below and it may not climb with "./" or "../". A bare "err.h" or
# "util/err.h" would resolve through some other include path and hide the
# layer it reaches into. Angle-bracket includes (system and library
# headers) are not checked here.
#
# Scanned: the C and C++ sources and headers known to git, outside tests/
# (tests may include anything). The build-generated migrations file is not
# in git and so not scanned. Uses bash, git, grep and awk only.
# Exit 0 when clean, 1 listing each offending file:line and the rule broken.
set -euo pipefail
cd "$(dirname "$0")/.."

# folder     may include headers of
rules='
lib          lib
db           lib db
domain       lib db domain
collector    lib domain collector
sync         lib domain sync
api          lib domain api
server       lib domain api collector sync server
agent        lib agent
'

mapfile -t files < <(git ls-files -- '*.c' '*.h' '*.cpp' ':(exclude)tests/')
if [ ${#files[@]} -eq 0 ]; then
	echo "check_layers: no C sources found (not a git checkout?)" >&2
	exit 1
fi

# One grep over every file; awk checks each hit against the table. Files
# are named on stdin first (one "F name" line each) so that a file with no
# quoted include is still checked for living in a known folder.
{
	printf 'F %s\n' "${files[@]}"
	grep -HnE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' -- "${files[@]}" |
		sed 's/^/I /' || true
} | awk -v rules="$rules" '
BEGIN {
	n = split(rules, lines, "\n")
	for (i = 1; i <= n; i++) {
		k = split(lines[i], w, /[[:space:]]+/)
		first = 0
		for (j = 1; j <= k; j++) {
			if (w[j] == "")
				continue
			if (!first) {
				first = 1
				dir = w[j]
				known[dir] = 1
				allowed_list[dir] = ""
				continue
			}
			allow[dir, w[j]] = 1
			allowed_list[dir] = allowed_list[dir] (allowed_list[dir] == "" ? "" : ", ") w[j]
		}
	}
	nfiles = 0; nincl = 0; nbad = 0
}
function report(rule, msg) {
	if (!(rule in count))
		order[++nrules] = rule
	count[rule]++
	hits[rule, count[rule]] = msg
	nbad++
}
$1 == "F" {
	nfiles++
	path = substr($0, 3)
	top = path; sub(/\/.*/, "", top)
	if (!(top in known) || path !~ /\//)
		report("file outside the layered folders", path)
	next
}
$1 == "I" {
	line = substr($0, 3)
	# "path:lineno:text"; paths in git here hold no colon.
	file = line; sub(/:.*/, "", file)
	rest = substr(line, length(file) + 2)
	lineno = rest; sub(/:.*/, "", lineno)
	text = substr(rest, length(lineno) + 2)
	inc = text; sub(/^[^"]*"/, "", inc); sub(/".*/, "", inc)
	nincl++
	from = file; sub(/\/.*/, "", from)
	to = inc; sub(/\/.*/, "", to)
	where = file ":" lineno ": \"" inc "\""
	if (inc !~ /\// || !(to in known)) {
		report("include not spelt from the top of the tree", where)
		next
	}
	if (inc ~ /(^|\/)\.\.?(\/|$)/) {
		report("include climbs with ./ or ../", where)
		next
	}
	if (!(from in known))
		next	# already reported as a file outside the folders
	if (!((from, to) in allow))
		report(from " -> " to " (" from " may include: " allowed_list[from] ")", where)
	else if (from == "domain" && to == "db" && file ~ /\.h$/)
		report("domain header -> db (only domain/*.c may include db/ headers)", where)
}
END {
	if (nbad == 0) {
		printf "check_layers: %d files, %d quoted includes checked, all within their layers\n", nfiles, nincl
		exit 0
	}
	printf "check_layers: %d violation(s) in %d files, %d quoted includes:\n", nbad, nfiles, nincl
	for (r = 1; r <= nrules; r++) {
		rule = order[r]
		printf "\n%s: %d\n", rule, count[rule]
		for (i = 1; i <= count[rule]; i++)
			printf "  %s\n", hits[rule, i]
	}
	exit 1
}
'
