#!/usr/bin/env bash
# The benchmark: the queue against the same work written as plain SQL on one
# table ("raw") and against PgQ, side by side on one private server.
#
#   BENCH_RUNS=3 BENCH_SECONDS=10 ./bench/run.sh
#
# Starts a private PostgreSQL server (data and Unix socket under
# $QUEUE_TMP/bench, port $BENCH_PORT, no TCP, durable settings), runs every
# workload BENCH_RUNS times with pgbench, each contender in turn, and prints
# the medians, the queue/raw ratios and the floor checks.  The table is also
# written to $QUEUE_TMP/bench/results.md; each pgbench log is kept under
# $QUEUE_TMP/bench/runs.  Exits 0 whether or not a floor is met: a benchmark
# is not a test.
#
# Other settings: BENCH_BACKLOG (messages waiting before each consume run,
# default 300000) and BENCH_WORKLOADS (a subset of: send batch ack2 ack1 single).
set -euo pipefail
. "$(dirname "$0")/../scripts/env.sh"

RUNS=${BENCH_RUNS:-3}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
BACKLOG=${BENCH_BACKLOG:-300000}
WORKLOADS=${BENCH_WORKLOADS:-send batch ack2 ack1 single}

BENCH=$QUEUE_ROOT/bench
DIR=$QUEUE_TMP/bench
DATA=$DIR/data
SOCK=$DIR/sock
LOG=$DIR/server.log
RESULTS=$DIR/results.tsv		# round workload contender msg/s messages seconds backlog
DB=bench

# workload | clients | messages per script | contenders | description
workload() {
	case $1 in
		send) echo "8|1|queue raw pgq|send, 1 msg per transaction, 8 clients" ;;
		batch) echo "2|100|queue raw pgq|send, batches of 100, 2 clients" ;;
		ack2) echo "4|10|queue raw|read + ack in 2 transactions, batch 10, 4 consumers" ;;
		ack1) echo "4|10|queue raw|read + ack in 1 transaction, batch 10, 4 consumers" ;;
		single) echo "1|1|queue raw|read + ack in 2 transactions, batch 1, 1 consumer" ;;
		*) echo "unknown workload: $1" >&2; return 1 ;;
	esac
}

# Floors: workload, minimum queue/raw ratio.
FLOORS="send 0.9
batch 0.8
ack2 0.9"

psql_bench() {
	"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$SOCK" -p "$BENCH_PORT" -U postgres -d "$DB" "$@"
}

server_running() {
	[ -f "$DATA/PG_VERSION" ] && as_pg "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

stop_server() {
	if server_running; then
		as_pg "$PGBIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null || true
	fi
}

start_server() {
	stop_server
	as_pg mkdir -p "$DIR"
	rm -rf "$DATA" "$SOCK" "$DIR/runs" "$RESULTS"
	as_pg mkdir -p "$SOCK" "$DIR/runs"
	as_pg "$PGBIN/initdb" -D "$DATA" -A trust -U postgres -E UTF8 --no-sync >"$DIR/initdb.log" 2>&1
	as_pg tee -a "$DATA/postgresql.conf" >/dev/null <<CONF
# queue benchmark server
port = $BENCH_PORT
listen_addresses = ''
unix_socket_directories = '$SOCK'
shared_preload_libraries = 'queue'
fsync = on
synchronous_commit = on
full_page_writes = on
shared_buffers = 512MB
max_connections = 50
max_wal_size = 4GB
checkpoint_timeout = 15min
log_min_messages = warning
CONF
	as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 120 start >/dev/null
	"$PGBIN/createdb" -h "$SOCK" -p "$BENCH_PORT" -U postgres "$DB"
	psql_bench -f "$BENCH/sql/setup.sql" >/dev/null
}

# Empty every contender, fill the backlog a consume run needs, then vacuum
# and checkpoint.
prepare() {	# contender backlog
	psql_bench -f "$BENCH/sql/reset.sql" >/dev/null
	if [ "$2" -gt 0 ]; then
		psql_bench -v backlog="$2" -f "$BENCH/sql/fill_$1.sql" >/dev/null
	fi
	psql_bench -f "$BENCH/sql/settle.sql" >/dev/null
}

depth() {	# contender
	psql_bench -At -c "SELECT bench.depth('$1')"
}

# The backlog of a consume run: BENCH_BACKLOG, or more when this workload
# has been seen to consume more than two thirds of that within one run.
declare -A MAXRATE
backlog_for() {	# workload
	awk -v b="$BACKLOG" -v r="${MAXRATE[$1]:-0}" -v s="$SECONDS_PER_RUN" 'BEGIN {
		n = 1.5 * r * s
		n = int((n + 9999) / 10000) * 10000
		print (n > b ? n : b)
	}'
}

# One pgbench run of one contender; appends a line to $RESULTS.  A consume
# run that nearly empties its backlog is repeated with a larger one.
run_one() {	# round workload contender
	local round=$1 name=$2 who=$3 clients batch kind backlog=0 jobs try
	IFS='|' read -r clients batch _ _ <<<"$(workload "$name")"
	case $name in send | batch) kind=send ;; *) kind=consume ;; esac
	jobs=$((clients < 2 ? clients : 2))

	for try in 1 2 3; do
		[ "$kind" = consume ] && backlog=$(backlog_for "$name")
		prepare "$who" "$backlog"

		local before after out=$DIR/runs/$name.$who.$round.log status=0
		before=$(depth "$who")
		"$PGBIN/pgbench" -h "$SOCK" -p "$BENCH_PORT" -U postgres -n -M prepared \
			-T "$SECONDS_PER_RUN" -c "$clients" -j "$jobs" \
			-f "$WORKLOADS_DIR/$name.$who.sql" "$DB" >"$out" 2>&1 || status=$?
		after=$(depth "$who")

		local xacts tps
		xacts=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
		tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$out")
		if [ "$status" != 0 ] || [ -z "$xacts" ] || [ -z "$tps" ] || [ "$xacts" = 0 ]; then
			echo "  $name/$who run $round failed (pgbench status $status), see $out" >&2
			tail -5 "$out" >&2
			return 0
		fi

		# Messages moved, counted in storage; the time is pgbench's own,
		# without connection set-up (transactions / tps).
		local moved=$((after - before)) rate
		[ "$kind" = consume ] && moved=$((before - after))
		rate=$(awk -v m="$moved" -v x="$xacts" -v t="$tps" 'BEGIN { printf "%.1f", m * t / x }')
		if awk -v r="$rate" -v m="${MAXRATE[$name]:-0}" 'BEGIN { exit !(r > m) }'; then
			MAXRATE[$name]=$rate
		fi
		if [ "$kind" = consume ] && [ "$after" -lt $((backlog / 10)) ]; then
			echo "  $name/$who run $round: only $after of $backlog messages left, again with more" >&2
			continue
		fi
		if [ "$moved" != $((xacts * batch)) ]; then
			echo "  note: $name/$who run $round moved $moved messages in $xacts scripts of $batch" >&2
		fi
		awk -v r="$round" -v n="$name" -v w="$who" -v m="$moved" -v x="$xacts" -v t="$tps" \
			-v bl="$backlog" 'BEGIN {
			printf "%s\t%s\t%s\t%.1f\t%d\t%.2f\t%d\n", r, n, w, m * t / x, m, x / t, bl
		}' >>"$RESULTS"
		printf '  %-7s %-6s run %s: %10.0f msg/s\n' "$name" "$who" "$round" "$rate"
		return 0
	done
	echo "  $name/$who run $round kept running dry; no figure" >&2
}

# Medians per workload and contender, and the median of the per-round
# queue/raw ratios (each ratio compares two runs made back to back).
report() {	# [bullet before each floor line]
	local rows="" name
	for name in $WORKLOADS; do
		rows="$rows$name|$(workload "$name" | cut -d'|' -f4)"$'\n'
	done
	awk -F'\t' -v rows="$rows" -v floors="$FLOORS" -v bullet="${1:-}" '
	function median(list,   a, n, i, j, t) {
		n = split(list, a, " ")
		if (n == 0) return ""
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	function fmt(v) { return v == "" ? "—" : sprintf("%.0f", v) }
	{
		rate[$2, $3] = rate[$2, $3] " " $4
		per[$1, $2, $3] = $4
		rounds[$1] = 1
	}
	END {
		nw = split(rows, lines, "\n")
		print "| workload | queue msg/s | raw msg/s | PgQ msg/s | queue/raw |"
		print "|---|---:|---:|---:|---:|"
		for (i = 1; i <= nw; i++) {
			if (lines[i] == "") continue
			split(lines[i], f, "|")
			w = f[1]
			ratios = ""
			for (r in rounds)
				if ((r, w, "queue") in per && (r, w, "raw") in per && per[r, w, "raw"] > 0)
					ratios = ratios " " per[r, w, "queue"] / per[r, w, "raw"]
			ratio[w] = median(ratios)
			printf "| %s | %s | %s | %s | %s |\n", f[2], fmt(median(rate[w, "queue"])),
				fmt(median(rate[w, "raw"])), fmt(median(rate[w, "pgq"])),
				ratio[w] == "" ? "—" : sprintf("%.2f", ratio[w])
		}
		print ""
		nf = split(floors, fl, "\n")
		for (i = 1; i <= nf; i++) {
			split(fl[i], f, " ")
			if (!(f[1] in ratio)) continue
			if (ratio[f[1]] == "")
				printf "%sFAIL  %-7s no measurement (floor %.1f x raw)\n", bullet, f[1], f[2]
			else
				printf "%s%s  %-7s queue/raw %.2f, floor %.1f x raw\n", bullet,
					(ratio[f[1]] >= f[2] ? "PASS" : "FAIL"), f[1], ratio[f[1]], f[2]
		}
	}' "$RESULTS"
}

for name in $WORKLOADS; do
	workload "$name" >/dev/null
done

trap 'stop_server' EXIT
trap 'exit 130' INT TERM

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
echo "starting the benchmark server (port $BENCH_PORT, data in $DATA)"
# The pgbench scripts: bench/workloads/*.sql as they are, plus the three
# batch scripts, written from one list of 100 bodies so that every
# contender sends exactly the same messages.
WORKLOADS_DIR=$DIR/workloads
write_workloads() {
	local bodies i
	rm -rf "$WORKLOADS_DIR"
	mkdir -p "$WORKLOADS_DIR"
	cp "$BENCH"/workloads/*.sql "$WORKLOADS_DIR"/
	bodies=$(for i in $(seq 1001 1100); do
		printf '    %s{"order": %d, "customer": "c-000042", "sku": "SKU-12345-XL", "qty": 3, "price": 19.99, "note": "gift"}%s\n' "'" "$i" "'"
	done)
	{
		echo "-- send, a batch of 100 messages per transaction: the queue (one jsonb[] of 100)"
		echo "SELECT mq_send_batch('q', ARRAY["
		echo "$bodies" | sed '$!s/$/,/'
		echo "]::jsonb[]);"
	} >"$WORKLOADS_DIR/batch.queue.sql"
	{
		echo "-- send, a batch of 100 messages per transaction: PgQ (100 insert_event calls in one statement)"
		echo "SELECT count(pgq.insert_event('pq', 'order', b)) FROM unnest(ARRAY["
		echo "$bodies" | sed '$!s/$/,/'
		echo "]::text[]) AS b;"
	} >"$WORKLOADS_DIR/batch.pgq.sql"
	{
		echo "-- send, a batch of 100 messages per transaction: raw SQL (one multi-row INSERT)"
		echo "INSERT INTO raw_q (body) VALUES"
		echo "$bodies" | sed 's/^    \(.*\)$/    (\1)/; $!s/$/,/; $s/$/;/'
	} >"$WORKLOADS_DIR/batch.raw.sql"
	chmod -R a+rX "$WORKLOADS_DIR"
}

start_server
write_workloads
: >"$RESULTS"

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
done

{
	echo "# queue benchmark"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $RUNS runs of $SECONDS_PER_RUN s per"
	echo "workload and contender; figures are medians, queue/raw is the median of the"
	echo "ratios of runs made back to back.  Load average (1, 5, 15 min) at the start:"
	echo "$LOAD_START, at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
	echo
	report "- "
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
echo "table written to $DIR/results.md"
exit 0
