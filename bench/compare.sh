#!/usr/bin/env bash
# A/B: the plain paths of queues and streams built from the working tree
# ("new") against an older commit ("old"), in one invocation, on two
# private servers running side by side.
#
#   ./bench/compare.sh <git-rev>
#   BENCH_RUNS=5 ./bench/compare.sh 3db9310
#
# Builds <git-rev> in a temporary git worktree under $QUEUE_TMP/compare and
# the working tree in place, installs each into its own private copy of the
# PostgreSQL installation (scripts/env.sh: private_install; nothing is
# installed system-wide), and starts one server on each.  Then, round after
# round, every workload runs on one server and at once on the other, the
# order changing with every run (old new, new old, ...): a drift of a
# shared machine, which moves throughput by tens of percent within minutes,
# falls on both builds within seconds of each other instead of on whole
# rounds.  Prints the medians per build and new/old, the median of the
# per-run ratios, and ends by stopping both servers and removing the
# worktree and the copies, also on an error or an interrupt.
#
# Settings: BENCH_GRANTEE (set: pgbench connects as a role that holds
# grants instead of the owner, so each call takes the ACL path of the
# privilege check), BENCH_RUNS (rounds, default 3), BENCH_SECONDS (10),
# BENCH_BACKLOG (300000), BENCH_WORKLOADS (default: send ack2 single; any
# of send batch ack2 ack1 single append appendb consume, each workload's
# first contender only: the queue, the stream or its group).  Results in
# $QUEUE_TMP/compare/results.md, pgbench logs in $QUEUE_TMP/compare/runs.
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
SYSTEM_PGBIN=$PGBIN
PKGLIBDIR=$("$PG_CONFIG" --pkglibdir)
declare -A SIDE_PORT=([old]=$BENCH_PORT [new]=$((BENCH_PORT + 1)))

# Point the server functions of lib.sh at one build's server.
use_side() {	# old|new
	DATA=$DIR/data-$1
	SOCK=$DIR/sock-$1
	LOG=$DIR/server-$1.log
	BENCH_PORT=${SIDE_PORT[$1]}
	PGBIN=$DIR/root-$1$SYSTEM_PGBIN
}

finish() {
	local status=$?
	set +e
	for side in old new; do
		if [ -x "$DIR/root-$side$SYSTEM_PGBIN/pg_ctl" ]; then
			use_side "$side"
			stop_server
		fi
		rm -rf "$DIR/root-$side"
	done
	remove_worktree "$OLD_TREE"
	exit "$status"
}
trap finish EXIT
trap 'exit 130' INT TERM

build_dir() {	# old|new
	if [ "$1" = old ]; then echo "$OLD_TREE"; else echo "$QUEUE_ROOT"; fi
}

# Install each build into its private copy and start its server; the
# library the postmaster mapped must be the copy's.
start_side() {	# old|new
	local pid so
	PGBIN=$SYSTEM_PGBIN private_install "$DIR/root-$1" "$(build_dir "$1")" \
		QUEUE_CFLAGS="${QUEUE_CFLAGS:-}" >/dev/null
	use_side "$1"
	init_server
	start_server
	pid=$(head -1 "$DATA/postmaster.pid")
	so=$(awk '$6 ~ /\/queue\.so$/ { print $6; exit }' "/proc/$pid/maps")
	if [ "$so" != "$DIR/root-$1$PKGLIBDIR/queue.so" ]; then
		echo "compare: the $1 server loaded ${so:-no queue.so}, not its own copy" >&2
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

for side in old new; do
	echo "starting the $side server (port ${SIDE_PORT[$side]}, data in $DIR/data-$side)"
	start_side "$side"
done
write_workloads
: >"$RESULTS"

echo "$RUNS rounds of $SECONDS_PER_RUN s per workload and build; backlog $BACKLOG"
flip=0
for round in $(seq 1 "$RUNS"); do
	echo " round $round"
	for name in $WORKLOADS; do
		if [ $((flip++ % 2)) = 0 ]; then order="old new"; else order="new old"; fi
		for build in $order; do
			use_side "$build"
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
