#!/usr/bin/env bash
# Where a workload's backends spend their CPU, as a flame graph.
#
#   ./bench/profile.sh [workload [contender]]     (default: ack1 queue)
#
# Starts a private benchmark server of its own (bench/lib.sh; data under
# $QUEUE_TMP/bench-profile, port PROFILE_PORT, 55439), prepares the
# workload as make bench does, runs it with pgbench for PROFILE_SECONDS (10)
# and samples every server process meanwhile with perf (call graphs from
# DWARF unwinding, PROFILE_FREQ 199 Hz per process; user space only, as
# the kernel's frames of a virtual machine's timer sampling land on the
# return from a context switch, not where the time went; PROFILE_KERNEL=1
# keeps them).  A consume workload starts with PROFILE_BACKLOG (1 000 000)
# messages and must not run dry.  Writes, under
# $QUEUE_TMP/bench-profile:
#   <workload>.<contender>.folded  the stacks and their samples
#   <workload>.<contender>.svg     the flame graph (bench/flamegraph.pl)
#   <workload>.<contender>.top     the frames with the most samples
# and prints the top. Needs root (perf) and the perf package.
set -euo pipefail
BENCH_PORT=${PROFILE_PORT:-55439}
. "$(dirname "$0")/lib.sh"

NAME=${1:-ack1}
WHO=${2:-queue}
PROFILE_SECONDS=${PROFILE_SECONDS:-10}
FREQ=${PROFILE_FREQ:-199}
command -v perf >/dev/null || { echo "perf is not installed (Debian: linux-perf)" >&2; exit 1; }
workload "$NAME" >/dev/null

bench_paths "$QUEUE_TMP/bench-profile"
trap 'stop_server' EXIT
init_server
start_server
create_db
write_workloads

IFS='|' read -r clients batch _ desc <<<"$(workload "$NAME")"
case $NAME in
	send | batch | keyed | fanout | append | appendb) backlog=0 ;;
	consume) backlog=$LOG_RECORDS ;;
	*) backlog=${PROFILE_BACKLOG:-1000000} ;;
esac
echo "profiling $NAME ($desc), contender $WHO, $PROFILE_SECONDS s"
prepare "$(storage_of "$WHO")" "$backlog"

out=$DIR/$NAME.$WHO
"$PGBIN/pgbench" -h "$SOCK" -p "$BENCH_PORT" -U postgres -n -M prepared \
	-T $((PROFILE_SECONDS + 2)) -c "$clients" -j $((clients < 2 ? clients : 2)) -D seq=0 \
	-f "$WORKLOADS_DIR/$NAME.$WHO.sql" "$DB" >"$out.pgbench" 2>&1 &
bench=$!
sleep 1
# Every process of the server: the backends pgbench opened and the
# background ones (WAL writer, checkpointer, the queue's worker).
postmaster=$(head -1 "$DATA/postmaster.pid")
pids=$(echo "$postmaster" $(pgrep -P "$postmaster") | tr ' ' ',')
user=--all-user
[ -n "${PROFILE_KERNEL:-}" ] && user=
perf record -q -F "$FREQ" $user --call-graph dwarf,16384 -p "$pids" -o "$out.perf" \
	-- sleep "$PROFILE_SECONDS" >/dev/null 2>&1
wait "$bench" || { cat "$out.pgbench" >&2; exit 1; }
grep -E '^(tps|number of transactions)' "$out.pgbench" | sed 's/^/  pgbench: /'
if [ "$backlog" -gt 0 ] && [ "$NAME" != consume ] && [ "$(depth "$(storage_of "$WHO")")" = 0 ]; then
	echo "the backlog ran dry: the profile shows empty reads too (raise PROFILE_BACKLOG)" >&2
	exit 1
fi

perf script -i "$out.perf" 2>/dev/null | perl "$BENCH/flamegraph.pl" --fold >"$out.folded"
perl "$BENCH/flamegraph.pl" --svg --title "$desc: $WHO (server processes)" <"$out.folded" >"$out.svg"
perl "$BENCH/flamegraph.pl" --top 30 <"$out.folded" | tee "$out.top"
rm -f "$out.perf"
echo "flame graph: $out.svg"
