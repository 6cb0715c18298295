#!/usr/bin/env bash
# A/B: the plain paths of queues and streams built from the working tree
# ("new") against an older commit ("old"), in one invocation on one private
# server.
#
#   ./bench/compare.sh <git-rev>
#   BENCH_RUNS=5 ./bench/compare.sh 3db9310
#
# Builds <git-rev> in a temporary git worktree under $QUEUE_TMP/compare and
# the working tree in place, then alternates the two: stop the private
# server, `make install` one build into the system PostgreSQL directories,
# start the server, make the database afresh, run every workload once; then
# the other build.  The order changes every round (old new, new old, ...).
# Prints the medians per build and new/old, the median of the per-round
# ratios, and ends by installing the working tree's build again, stopping
# the server and removing the worktree, also on an error or an interrupt.
#
# Settings: BENCH_GRANTEE (set: pgbench connects as a role that holds
# grants instead of the owner, so each call takes the ACL path of the
# privilege check), BENCH_RUNS (rounds, default 3), BENCH_SECONDS (10),
# BENCH_BACKLOG (300000), BENCH_WORKLOADS (default: send ack2 single; any
# of send batch ack2 ack1 single append appendb consume, each workload's
# first contender only: the queue, the stream or its group).  Results in
# $QUEUE_TMP/compare/results.md, pgbench logs in $QUEUE_TMP/compare/runs.
#
# While it runs, the extension installed on this machine is at times the
# old build: do not run the tests or the demo meanwhile.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ $# != 1 ]; then
	echo "usage: $0 <git-rev>" >&2
	exit 2
fi
WORKLOADS=${BENCH_WORKLOADS:-send ack2 single}
for name in $WORKLOADS; do
	case $name in
		send | batch | ack2 | ack1 | single | append | appendb | consume) ;;
		*) echo "compare: workload $name is not one compare runs (send batch ack2 ack1 single append appendb consume)" >&2; exit 2 ;;
	esac
done

# Figures within this of old pass: new/old >= 0.95.
LIMIT=0.95

OLD_REV=$(git -C "$QUEUE_ROOT" rev-parse --verify --quiet "$1^{commit}") || {
	echo "compare: $1 is not a commit" >&2
	exit 2
}
OLD_SHORT=$(git -C "$QUEUE_ROOT" rev-parse --short "$OLD_REV")
NEW_SHORT=$(git -C "$QUEUE_ROOT" rev-parse --short HEAD)
if [ -n "$(git -C "$QUEUE_ROOT" --no-optional-locks status --porcelain -- src sql Makefile queue.control)" ]; then
	NEW_DESC="$NEW_SHORT with changes in the working tree"
else
	NEW_DESC=$NEW_SHORT
fi

bench_paths "$QUEUE_TMP/compare"
OLD_TREE=$DIR/old
PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
INSTALLED=""	# the build installed last: old, new or nothing yet

finish() {
	local status=$?
	set +e
	stop_server
	if [ -n "$INSTALLED" ]; then
		echo "installing the working tree's build again"
		make -C "$QUEUE_ROOT" -s QUEUE_CFLAGS="${QUEUE_CFLAGS:-}" install >/dev/null ||
			echo "compare: reinstalling the working tree's build FAILED; run make install" >&2
	fi
	remove_worktree "$OLD_TREE"
	exit "$status"
}
trap finish EXIT
trap 'exit 130' INT TERM

build_dir() {	# old|new
	if [ "$1" = old ]; then echo "$OLD_TREE"; else echo "$QUEUE_ROOT"; fi
}

# The md5 of each build's queue.so, taken once both are built: the library
# a server has loaded is checked against it after every start.
declare -A SO_MD5

# Install a build, start the server on it, make the database afresh.
switch_to() {	# old|new
	local dir pid ino
	dir=$(build_dir "$1")
	stop_server
	if [ "$(md5sum <"$dir/queue.so")" != "${SO_MD5[$1]}" ]; then
		echo "compare: $dir/queue.so changed since the start (rebuilt meanwhile?)" >&2
		exit 1
	fi
	INSTALLED=$1
	make -C "$dir" -s QUEUE_CFLAGS="${QUEUE_CFLAGS:-}" install >/dev/null
	start_server
	# The library the postmaster mapped must be the file just installed,
	# and that file this build's: nothing else installed one meanwhile.
	pid=$(head -1 "$DATA/postmaster.pid")
	ino=$(awk '$6 ~ /\/queue\.so$/ { print $5; exit }' "/proc/$pid/maps")
	if [ "$ino" != "$(stat -c %i "$PKGLIBDIR/queue.so")" ] ||
		[ "$(md5sum <"$PKGLIBDIR/queue.so")" != "${SO_MD5[$1]}" ]; then
		echo "compare: the server did not load the $1 build (another install meanwhile?)" >&2
		exit 1
	fi
	create_db
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')

echo "building the working tree ($NEW_DESC)"
make -C "$QUEUE_ROOT" -s QUEUE_CFLAGS="${QUEUE_CFLAGS:-}" >/dev/null
echo "building $OLD_SHORT in $OLD_TREE"
as_pg mkdir -p "$DIR"
remove_worktree "$OLD_TREE"
git -C "$QUEUE_ROOT" worktree add --quiet --detach "$OLD_TREE" "$OLD_REV"
make -C "$OLD_TREE" -s QUEUE_CFLAGS="${QUEUE_CFLAGS:-}" >/dev/null
SO_MD5[old]=$(md5sum <"$OLD_TREE/queue.so")
SO_MD5[new]=$(md5sum <"$QUEUE_ROOT/queue.so")

echo "starting the benchmark server (port $BENCH_PORT, data in $DATA)"
init_server
write_workloads
: >"$RESULTS"

echo "$RUNS rounds of $SECONDS_PER_RUN s per workload and build; backlog $BACKLOG"
for round in $(seq 1 "$RUNS"); do
	if [ $((round % 2)) = 1 ]; then order="old new"; else order="new old"; fi
	for build in $order; do
		echo " round $round: $build build"
		switch_to "$build"
		for name in $WORKLOADS; do
			run_one "$round" "$name" "$(workload "$name" | cut -d'|' -f3 | cut -d' ' -f1)" "$build"
		done
	done
done

# Medians per workload and build, new/old as the median of the per-round
# ratios, and the check against LIMIT.
report() {	# [bullet before each check line]
	local rows="" name
	for name in $WORKLOADS; do
		rows="$rows$name|$(workload "$name" | cut -d'|' -f4)"$'\n'
	done
	awk -F'\t' -v rows="$rows" -v limit="$LIMIT" -v bullet="${1:-}" \
		-v old="$OLD_SHORT" "$AWK_MEDIAN"'
	function fmt(v) { return v == "" ? "—" : sprintf("%.0f", v) }
	{
		rate[$2, $3] = rate[$2, $3] " " $4
		per[$1, $2, $3] = $4
		rounds[$1] = 1
	}
	END {
		nw = split(rows, lines, "\n")
		print "| workload | old msg/s | new msg/s | new/old |"
		print "|---|---:|---:|---:|"
		for (i = 1; i <= nw; i++) {
			if (lines[i] == "") continue
			split(lines[i], f, "|")
			w = f[1]
			ratios = ""
			for (r in rounds)
				if ((r, w, "old") in per && (r, w, "new") in per && per[r, w, "old"] > 0)
					ratios = ratios " " per[r, w, "new"] / per[r, w, "old"]
			ratio[w] = median(ratios)
			order[++n] = w
			printf "| %s | %s | %s | %s |\n", f[2], fmt(median(rate[w, "old"])),
				fmt(median(rate[w, "new"])), ratio[w] == "" ? "—" : sprintf("%.2f", ratio[w])
		}
		print ""
		for (i = 1; i <= n; i++) {
			w = order[i]
			if (ratio[w] == "")
				printf "%sFAIL  %-7s no measurement\n", bullet, w
			else
				printf "%s%s  %-7s new/old %.2f, limit %.2f x %s\n", bullet,
					(ratio[w] >= limit ? "PASS" : "FAIL"), w, ratio[w], limit, old
		}
	}' "$RESULTS"
}

{
	echo "# queue A/B comparison"
	echo
	echo "$STARTED, $(nproc) cores, $RUNS rounds of $SECONDS_PER_RUN s per workload and"
	echo "build; old = $OLD_SHORT, new = $NEW_DESC.  Figures are medians;"
	echo "new/old is the median of the per-round ratios.  Load average (1, 5, 15 min)"
	echo "at the start: $LOAD_START, at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo
	report "- "
	echo
	echo "## Every run"
	echo
	echo "| round | workload | build | msg/s | messages | seconds | backlog |"
	echo "|---:|---|---|---:|---:|---:|---:|"
	awk -F'\t' '{ printf "| %s | %s | %s | %.0f | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, ($7 > 0 ? $7 : "—") }' "$RESULTS"
} | as_pg tee "$DIR/results.md" >/dev/null
echo
echo "old = $OLD_SHORT, new = $NEW_DESC"
echo
report
echo
echo "table written to $DIR/results.md"
exit 0
