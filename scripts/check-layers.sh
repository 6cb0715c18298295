#!/usr/bin/env bash
# The layers of src/ (docs/architecture.md has the same table): a file may
# include the headers of its own layer and of the layers below, never one
# above, and the includes between modules must not form a cycle.  Every
# file of src/ must be in the table.  Prints one line per fault; exits 1 if
# there is any.
set -uo pipefail
cd "$(dirname "$0")/../src" || exit 2

LAYERS='
0 util args perms match compat horizon cron
1 pending
2 qstate lease position wakeup successor
3 xact
4 catalog
5 privileges queue_info dedup
6 storage stream
7 policy retention
8 delivery
9 queue_ops queue_ddl stream_funcs topic group views grants schedule
10 worker
11 hooks
12 queue
'
declare -A layer
while read -r n mods; do
	[ -z "$n" ] && continue
	for m in $mods; do layer[$m]=$n; done
done <<<"$LAYERS"

faults=0
fault() {
	echo "layers: $*"
	faults=$((faults + 1))
}
edges=$(mktemp)
trap 'rm -f "$edges"' EXIT

for f in *.c *.h; do
	m=${f%.*}
	if [ -z "${layer[$m]+x}" ]; then
		fault "src/$f: module $m is in no layer (add it to scripts/check-layers.sh and docs/architecture.md)"
		continue
	fi
	for inc in $(sed -n 's/^#include "\([a-z_0-9]*\)\.h".*/\1/p' "$f"); do
		[ -z "${layer[$inc]+x}" ] && continue
		[ "$inc" = "$m" ] && continue
		if [ "${layer[$inc]}" -gt "${layer[$m]}" ]; then
			fault "src/$f (layer ${layer[$m]}) includes $inc.h (layer ${layer[$inc]})"
		fi
		echo "$inc $m" >>"$edges"
	done
done
if ! tsort "$edges" >/dev/null 2>"$edges.err"; then
	fault "the includes form a cycle through: $(sed -n 's/^tsort: \([a-z_0-9]*\)$/\1/p' "$edges.err" | sort -u | tr '\n' ' ')"
fi
rm -f "$edges.err"
[ "$faults" = 0 ] && echo "layers: $(ls *.c *.h | wc -l) files in ${#layer[@]} modules, no include upwards, no cycle"
[ "$faults" = 0 ]
