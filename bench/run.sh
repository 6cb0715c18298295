#!/usr/bin/env bash
# The benchmark: the queue against the same work written as plain SQL on one
# table ("raw") and against PgQ, side by side on one private server.
#
#   BENCH_RUNS=3 BENCH_SECONDS=10 ./bench/run.sh
#
# Starts a private PostgreSQL server (data and Unix socket under
# $QUEUE_TMP/bench, port $BENCH_PORT, no TCP, durable settings), runs every
# workload BENCH_RUNS times with pgbench, each contender in turn, and prints
# the medians, the queue/raw (and keyed/plain) ratios and the target checks.  The table is also
# written to $QUEUE_TMP/bench/results.md; each pgbench log is kept under
# $QUEUE_TMP/bench/runs.  Exits 0 whether or not a target is met: a benchmark
# is not a test.
#
# Other settings: BENCH_BACKLOG (messages waiting before each consume run,
# default 300000) and BENCH_WORKLOADS (a subset of: send batch ack2 ack1
# single keyed fanout).  keyed is mq_send with a new idempotency key per
# call, judged against the same send without a key (plain) in the same run;
# fanout is one mq_publish to a topic with 10 subscribed queues, judged
# against 10 mq_send calls to those queues in one transaction (sends);
# append and appendb are stream appends against INSERTs into a plain table;
# consume reads a stream of BENCH_LOG_RECORDS (500000) records through a
# consumer group, 1000 per transaction, against PgQ's next_batch /
# get_batch_events / finish_batch over as many events in batches of 1000.
#
# The workloads, the server and one measured run live in bench/lib.sh,
# which bench/compare.sh shares.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

WORKLOADS=${BENCH_WORKLOADS:-send batch ack2 ack1 single keyed fanout append appendb consume}
bench_paths "$QUEUE_TMP/bench"

# Targets: workload, minimum ratio of its first two contenders (queue/raw,
# keyed/plain, ...).
FLOORS="send 1.0
batch 1.0
ack2 1.3
ack1 1.0
single 2.0
keyed 0.8
fanout 1.2
append 0.9
appendb 0.9
consume 1.5"

# Medians per workload and contender, and the median of the per-round
# ratios of a workload's first two contenders (each ratio compares two runs
# made back to back).  Workloads of the queue against raw SQL make the
# first table, keyed against plain the second.
report() {	# [bullet before each target line]
	local rows="" name
	for name in $WORKLOADS; do
		rows="$rows$name|$(workload "$name" | awk -F'|' '{ split($3, c, " "); print c[1] "|" c[2] "|" $4 }')"$'\n'
	done
	awk -F'\t' -v rows="$rows" -v floors="$FLOORS" -v bullet="${1:-}" "$AWK_MEDIAN"'
	function fmt(v) { return v == "" ? "—" : sprintf("%.0f", v) }
	function r2(v) { return v == "" ? "—" : sprintf("%.2f", v) }
	{
		rate[$2, $3] = rate[$2, $3] " " $4
		per[$1, $2, $3] = $4
		rounds[$1] = 1
	}
	END {
		nw = split(rows, lines, "\n")
		for (i = 1; i <= nw; i++) {
			if (lines[i] == "") continue
			split(lines[i], f, "|")
			w = f[1]; a[w] = f[2]; b[w] = f[3]; desc[w] = f[4]
			ratios = ""
			for (r in rounds)
				if ((r, w, a[w]) in per && (r, w, b[w]) in per && per[r, w, b[w]] > 0)
					ratios = ratios " " per[r, w, a[w]] / per[r, w, b[w]]
			ratio[w] = median(ratios)
			if (a[w] == "queue" && b[w] == "raw")
				main[++nmain] = w
			else
				pair[++npair] = w
		}
		if (nmain) {
			print "| workload | queue msg/s | raw msg/s | PgQ msg/s | queue/raw |"
			print "|---|---:|---:|---:|---:|"
			for (i = 1; i <= nmain; i++) {
				w = main[i]
				printf "| %s | %s | %s | %s | %s |\n", desc[w], fmt(median(rate[w, "queue"])),
					fmt(median(rate[w, "raw"])), fmt(median(rate[w, "pgq"])), r2(ratio[w])
			}
			print ""
		}
		for (i = 1; i <= npair; i++) {
			w = pair[i]
			if (i == 1 || a[w] != a[pair[i - 1]] || b[w] != b[pair[i - 1]]) {
				if (i > 1) print ""
				printf "| workload | %s msg/s | %s msg/s | %s/%s |\n", a[w], b[w], a[w], b[w]
				print "|---|---:|---:|---:|"
			}
			printf "| %s | %s | %s | %s |\n", desc[w], fmt(median(rate[w, a[w]])),
				fmt(median(rate[w, b[w]])), r2(ratio[w])
		}
		if (npair) print ""
		nf = split(floors, fl, "\n")
		for (i = 1; i <= nf; i++) {
			split(fl[i], f, " ")
			w = f[1]
			if (!(w in ratio)) continue
			if (ratio[w] == "")
				printf "%sFAIL  %-7s no measurement (target %.1f x %s)\n", bullet, w, f[2], b[w]
			else
				printf "%s%s  %-7s %s/%s %.2f, target %.1f x %s\n", bullet,
					(ratio[w] >= f[2] ? "PASS" : "FAIL"), w, a[w], b[w], ratio[w], f[2], b[w]
		}
	}' "$RESULTS"
}

for name in $WORKLOADS; do
	workload "$name" >/dev/null
done

# Long-poll wake latency (bench/wake.c), once per round; BENCH_WAKE=0 skips it.
WAKE=${BENCH_WAKE:-1}
WAKE_RESULTS=$DIR/wake.txt
if [ "$WAKE" = 1 ]; then
	as_pg mkdir -p "$DIR"
	gcc -O2 -Wall -Werror -I"$("$PG_CONFIG" --includedir)" "$BENCH/wake.c" \
		-o "$DIR/wake" -L"$("$PG_CONFIG" --libdir)" -lpq -lpthread
fi

# Medians of the wake figures over the rounds, and the targets.
wake_report() {	# [bullet]
	[ "$WAKE" = 1 ] && [ -s "$WAKE_RESULTS" ] || return 0
	awk -v bullet="${1:-}" "$AWK_MEDIAN"'
	{
		for (i = 1; i <= NF; i++) {
			if ($i == "p50") p50 = p50 " " $(i + 1)
			if ($i == "p99") p99 = p99 " " $(i + 1)
			if ($i == "max") mx = mx " " $(i + 1)
			if ($i == "CPU") cpu = cpu " " $(i + 1)
		}
		n++
	}
	END {
		a = median(p50); b = median(p99); c = median(mx); d = median(cpu)
		printf "long-poll wake latency (commit to receipt, 1000 messages every 10 ms, median of %d rounds):\n", n
		printf "p50 %.2f ms, p99 %.2f ms, max %.2f ms; an idle waiting backend uses %.2f %% of a core\n", a, b, c, d
		printf "%s%s  wake    p50 %.2f ms, target <= 1 ms\n", bullet, (a <= 1 ? "PASS" : "FAIL"), a
		printf "%s%s  wake    p99 %.2f ms, target <= 5 ms\n", bullet, (b <= 5 ? "PASS" : "FAIL"), b
		printf "%s%s  idle    %.2f %% of a core, target < 1 %%\n", bullet, (d < 1 ? "PASS" : "FAIL"), d
	}' "$WAKE_RESULTS"
}

trap 'stop_server' EXIT
trap 'exit 130' INT TERM

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
echo "starting the benchmark server (port $BENCH_PORT, data in $DATA)"
init_server
start_server
create_db
write_workloads
: >"$RESULTS"
: >"$WAKE_RESULTS"

echo "$RUNS runs of $SECONDS_PER_RUN s per workload and contender; backlog $BACKLOG"
for round in $(seq 1 "$RUNS"); do
	for name in $WORKLOADS; do
		IFS='|' read -r _ _ contenders _ <<<"$(workload "$name")"
		# Rotate the order each round so that no contender always goes first.
		set -- $contenders
		for _ in $(seq 2 "$round"); do set -- "${@:2}" "$1"; done
		for who in "$@"; do
			run_one "$round" "$name" "$who"
		done
	done
	if [ "$WAKE" = 1 ]; then
		"$DIR/wake" "host=$SOCK port=$BENCH_PORT user=postgres dbname=$DB" 1000 10 "$DIR/wake.$round.ms" |
			tee -a "$WAKE_RESULTS" | sed 's/^/  /'
	fi
done

{
	echo "# queue benchmark"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $RUNS runs of $SECONDS_PER_RUN s per"
	echo "workload and contender; figures are medians, queue/raw and keyed/plain are"
	echo "medians of the ratios of runs made back to back.  Load average (1, 5, 15 min)"
	echo "at the start: $LOAD_START, at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo
	report "- "
	echo
	wake_report "- "
	echo
	echo "## Every run"
	echo
	echo "| run | workload | contender | msg/s | messages | seconds | backlog |"
	echo "|---:|---|---|---:|---:|---:|---:|"
	awk -F'\t' '{ printf "| %s | %s | %s | %.0f | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, ($7 > 0 ? $7 : "—") }' "$RESULTS"
} | as_pg tee "$DIR/results.md" >/dev/null
echo
report
echo
wake_report
echo
# The charts (throughput.png, wake.png) beside results.md.
"$BENCH/charts.sh" "$RESULTS" "$DIR" $(ls "$DIR"/wake.*.ms 2>/dev/null) 2>/dev/null &&
	echo "charts written to $DIR/throughput.png and $DIR/wake.png"
echo
echo "table written to $DIR/results.md"
exit 0
