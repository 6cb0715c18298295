#!/usr/bin/env bash
# pgmq's own API on the pgmq layer against the real pgmq, in one run:
#
#   BENCH_RUNS=3 BENCH_SECONDS=10 ./bench/pgmq.sh      (make bench-pgmq)
#
# Two private servers with the same durable settings, side by side: the
# layer (queue preloaded, CREATE EXTENSION pgmq CASCADE) on $BENCH_PORT, and
# the real pgmq (its own extension, in a private installation made by
# scripts/pgmq-real.sh from the copy of pgmq's repository that
# scripts/pgmq-upstream.sh found) on $BENCH_PORT + 1.  Data and sockets
# under $QUEUE_TMP/bench-pgmq; no TCP.
#
# Workloads, each with 4 clients (pgbench, 2 threads), 1 and 10 messages
# per call: send (pgmq.send, or pgmq.send_batch of 10), read + delete and
# read + archive (one statement: pgmq.delete / pgmq.archive of the ids
# pgmq.read returned, from a backlog filled before each run).  Rounds
# interleave the two systems, the one that goes first alternating; the
# table gives the median msg/s of each and the median of the per-round
# ratios layer/real.  Results: $QUEUE_TMP/bench-pgmq/results.md; pgbench
# logs under runs/.  Exits 0 whatever the figures: a benchmark is not a test.
set -euo pipefail
. "$(dirname "$0")/lib.sh"	# env.sh, bench_settings

SECS=$SECONDS_PER_RUN
WORKLOADS=${BENCH_PGMQ_WORKLOADS:-send1 send10 delete1 delete10 archive1 archive10}
CLIENTS=4
DIR=$QUEUE_TMP/bench-pgmq
BODY='{"order": 12345, "customer": "c-678", "items": [1, 2, 3], "note": "a benchmark message of about a hundred bytes"}'

rm -rf "$DIR"
as_pg mkdir -p "$DIR/runs"
BIN_REAL=$(as_pg env PG="$PG" "$QUEUE_ROOT/scripts/pgmq-real.sh" "$DIR/real-install") || {
	echo "bench-pgmq: no real pgmq to compare with (scripts/pgmq-upstream.sh found no copy of pgmq's repository)" >&2
	exit 1
}

declare -A BIN PORT
BIN[layer]=$PGBIN
BIN[real]=$BIN_REAL
PORT[layer]=$BENCH_PORT
PORT[real]=$((BENCH_PORT + 1))

sock() { echo "$DIR/$1/sock"; }
psql_to() {	# who sql...
	local who=$1
	shift
	"$PGBIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$(sock "$who")" -p "${PORT[$who]}" -U postgres -d bench "$@"
}

start() {	# who
	local who=$1 data=$DIR/$1/data
	as_pg mkdir -p "$(sock "$who")"
	as_pg "${BIN[$who]}/initdb" -D "$data" -A trust -U postgres -E UTF8 --no-sync >"$DIR/$who.initdb.log" 2>&1
	{
		cat <<CONF
port = ${PORT[$who]}
listen_addresses = ''
unix_socket_directories = '$(sock "$who")'
$([ "$who" = layer ] && echo "shared_preload_libraries = 'queue'")
CONF
		bench_settings
	} | as_pg tee -a "$data/postgresql.conf" >/dev/null
	as_pg "${BIN[$who]}/pg_ctl" -D "$data" -l "$DIR/$who.log" -w -t 120 start >/dev/null
	"$PGBIN/createdb" -h "$(sock "$who")" -p "${PORT[$who]}" -U postgres bench
	psql_to "$who" -c "CREATE EXTENSION pgmq CASCADE" 2>/dev/null
}
stop_all() {
	local who
	for who in layer real; do
		[ -f "$DIR/$who/data/postmaster.pid" ] &&
			as_pg "${BIN[$who]}/pg_ctl" -D "$DIR/$who/data" -m fast -w stop >/dev/null 2>&1
	done
	return 0
}
trap stop_all EXIT
start layer
start real
echo "layer: queue $(psql_to layer -c "SELECT extversion FROM pg_extension WHERE extname = 'queue'"), real: pgmq $(psql_to real -c "SELECT extversion FROM pg_extension WHERE extname = 'pgmq'")"

# The pgbench script of a workload.
script() {	# workload
	local batch=${1//[!0-9]/} op=${1//[0-9]/}
	case $op in
		send)
			if [ "$batch" = 1 ]; then
				echo "SELECT pgmq.send('b', '$BODY');"
			else
				echo "SELECT pgmq.send_batch('b', array_fill('$BODY'::jsonb, ARRAY[$batch]));"
			fi ;;
		delete | archive)
			echo "SELECT pgmq.$op('b', ARRAY(SELECT msg_id FROM pgmq.read('b', 30, $batch)));" ;;
	esac
}

length() { psql_to "$1" -c "SELECT queue_length FROM pgmq.metrics('b')"; }

# A fresh queue b, with a backlog for the reading workloads; then vacuum
# and checkpoint.
prepare() {	# who workload
	psql_to "$1" -c "SELECT pgmq.drop_queue('b') FROM pgmq.list_queues() WHERE queue_name = 'b'" \
		-c "SELECT pgmq.create('b')" >/dev/null
	if [[ $2 != send* ]]; then
		psql_to "$1" -c "DO \$\$ BEGIN FOR i IN 1 .. $((BACKLOG / 10000)) LOOP
		                   PERFORM pgmq.send_batch('b', array_fill('$BODY'::jsonb, ARRAY[10000]));
		                 END LOOP; END \$\$" >/dev/null
	fi
	psql_to "$1" -c "VACUUM ANALYZE" -c "CHECKPOINT" >/dev/null
}

RESULTS=$DIR/results.tsv	# round workload who msg/s
: >"$RESULTS"
run() {	# round workload who
	local round=$1 name=$2 who=$3 out=$DIR/runs/$2.$3.$1.log before after xacts tps moved
	prepare "$who" "$name"
	script "$name" >"$DIR/$name.sql"
	before=$(length "$who")
	"$PGBIN/pgbench" -h "$(sock "$who")" -p "${PORT[$who]}" -U postgres -n -M prepared \
		-T "$SECS" -c "$CLIENTS" -j 2 -f "$DIR/$name.sql" bench >"$out" 2>&1 || true
	after=$(length "$who")
	xacts=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
	tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$out")
	if [ -z "$xacts" ] || [ -z "$tps" ] || [ "$xacts" = 0 ]; then
		echo "  $name/$who run $round failed, see $out" >&2
		return 0
	fi
	moved=$((after - before))
	[[ $name != send* ]] && moved=$((before - after))
	if [[ $name != send* ]] && [ "$after" -lt $((BACKLOG / 10)) ]; then
		echo "  note: $name/$who run $round left $after of $BACKLOG messages; raise BENCH_BACKLOG" >&2
	fi
	awk -v r="$round" -v n="$name" -v w="$who" -v m="$moved" -v x="$xacts" -v t="$tps" \
		'BEGIN { printf "%s\t%s\t%s\t%.1f\n", r, n, w, m * t / x }' >>"$RESULTS"
	printf '  %-9s %-5s run %s: %10.0f msg/s\n' "$name" "$who" "$round" "$(tail -1 "$RESULTS" | cut -f4)"
}

for round in $(seq 1 "$RUNS"); do
	echo "round $round of $RUNS"
	for name in $WORKLOADS; do
		if [ $((round % 2)) = 1 ]; then order="layer real"; else order="real layer"; fi
		for who in $order; do run "$round" "$name" "$who"; done
	done
done

# Medians per workload and system, and the median of the per-round ratios.
{
	echo "| workload | layer msg/s | real pgmq msg/s | layer / real |"
	echo "|---|---:|---:|---:|"
	awk -F'\t' -v order="$WORKLOADS" '
	function median(s,   a, n, i, j, t) {
		n = split(s, a, " ")
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		if (n == 0) return ""
		return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{ v[$2, $3] = v[$2, $3] " " $4; per[$1, $2, $3] = $4; rounds[$1] = 1 }
	END {
		n = split(order, w, " ")
		for (i = 1; i <= n; i++) {
			r = ""
			for (k in rounds)
				if (((k, w[i], "layer") in per) && ((k, w[i], "real") in per) && per[k, w[i], "real"] > 0)
					r = r " " per[k, w[i], "layer"] / per[k, w[i], "real"]
			printf "| %s | %.0f | %.0f | %.2f |\n", w[i], median(v[w[i], "layer"]), median(v[w[i], "real"]), median(r)
		}
	}' "$RESULTS"
} | tee "$DIR/results.md"
echo "($RUNS rounds of $SECS s, $CLIENTS clients, backlog $BACKLOG; $DIR/results.md)"
