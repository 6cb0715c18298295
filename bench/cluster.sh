#!/usr/bin/env bash
# The sharded benchmark (SPEC section 11): sends, and reads + acks, through
# a queue_proxy to one shard and to three shards, against the same work
# direct to one server, all on this machine.
#
#   BENCH_RUNS=3 BENCH_SECONDS=10 ./bench/cluster.sh
#
# Servers: a proxy and three shards made with scripts/cluster.sh under
# $QUEUE_TMP/bench-cluster (ports from $BENCH_CLUSTER_PORT, default 55450:
# the proxy, then shards 0 to 2), each with the default durable settings
# (fsync and synchronous_commit on).  Twelve queues, spread four to a shard
# where there are three; each pgbench client uses one queue (its number
# modulo 12), so that the clients do not contend on one queue:
#
#   direct   the clients connect to shard 0, which holds the twelve queues
#   proxy1   the clients connect to the proxy (database proxy1), whose
#            cluster is shard 0 alone (the same twelve queues)
#   proxy3   the clients connect to the proxy (database proxy3), whose
#            cluster is the three shards (four queues each)
#
# Workloads: send (one message per transaction, 8 clients) and read + ack
# (two calls, batches of 10, 6 clients, two per shard where there are
# three, from a backlog of BENCH_CLUSTER_BACKLOG (100000) in each queue
# read; a run that nearly empties it says so).  Prints the median rate of
# each, the proxy1/direct ratio (the cost of the hop) and the
# proxy3/proxy1 ratio (what two more shards give here), and writes the
# table to $QUEUE_TMP/bench-cluster/results.md.  A benchmark is not a
# test: exits 0 whatever the figures.
set -euo pipefail
. "$(dirname "$0")/../scripts/env.sh"

RUNS=${BENCH_RUNS:-3}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
BACKLOG=${BENCH_CLUSTER_BACKLOG:-100000}	# per queue read from, before each read run
READERS=6
export CLUSTER_DIR=$QUEUE_TMP/bench-cluster
export CLUSTER_PORT=${BENCH_CLUSTER_PORT:-55450}
CLUSTER_SOCK=$CLUSTER_DIR/sock
DIR=$CLUSTER_DIR
OUT=$DIR/runs
QUEUES=12

cluster() { "$QUEUE_ROOT/scripts/cluster.sh" "$@"; }
port_of() { cluster port "$1"; }
psql_on() {	# node database, then psql arguments
	local node=$1 db=$2
	shift 2
	"$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$CLUSTER_SOCK" -p "$(port_of "$node")" -U postgres -d "$db" "$@"
}
conninfo() {	# shard database
	echo "host=$CLUSTER_SOCK port=$(port_of "$1") dbname=$2"
}

# --- servers and databases ---------------------------------------------------

cluster stop >/dev/null
rm -rf "$CLUSTER_DIR"
cluster start
as_pg mkdir -p "$OUT"
# Shard 0's database bench serves direct and proxy1; database bench3 on
# each shard serves proxy3.
psql_on shard0 postgres -c "CREATE DATABASE bench"
psql_on shard0 bench -c "CREATE EXTENSION queue"
for s in 0 1 2; do
	psql_on "shard$s" postgres -c "CREATE DATABASE bench3"
	psql_on "shard$s" bench3 -c "CREATE EXTENSION queue"
done
proxy_db() {	# database, server options
	psql_on proxy postgres -c "CREATE DATABASE $1"
	psql_on proxy "$1" -c "SET client_min_messages = warning" -c "CREATE EXTENSION queue_proxy CASCADE" \
		-c "CREATE SERVER queue FOREIGN DATA WRAPPER plproxy OPTIONS ($2)" \
		-c "CREATE USER MAPPING FOR PUBLIC SERVER queue"
}
proxy_db proxy1 "p0 '$(conninfo shard0 bench)'"
proxy_db proxy3 "modular_mapping '1', p0 '$(conninfo shard0 bench3)',
	p1 '$(conninfo shard1 bench3)', p2 '$(conninfo shard2 bench3)'"

# Twelve names, four on each of the three shards (as proxy3 maps them),
# in turn by shard, so that client i (queue i mod 12) goes to shard i mod 3;
# created through each setup.
NAMES=$(psql_on proxy proxy3 -At -c "
	SELECT string_agg(name, ' ' ORDER BY k, shard) FROM (
	  SELECT name, shard, row_number() OVER (PARTITION BY shard ORDER BY name) AS k
	    FROM (SELECT 'bq' || i AS name, mq_shard_of('bq' || i) AS shard
	            FROM generate_series(1, 200) i) c) r
	 WHERE k <= $((QUEUES / 3))")
ARRAY="ARRAY['$(echo "$NAMES" | sed "s/ /','/g")']"
psql_on proxy proxy1 -c "SELECT mq_create_queue(q) FROM unnest($ARRAY) q" >/dev/null
psql_on proxy proxy3 -c "SELECT mq_create_queue(q) FROM unnest($ARRAY) q" >/dev/null

# --- workloads ---------------------------------------------------------------

cat >"$DIR/send.sql" <<SQL
\\set q :client_id % $QUEUES + 1
SELECT mq_send(($ARRAY)[:q], '{"order": 1234, "customer": "c-000042", "sku": "SKU-12345-XL", "qty": 3, "price": 19.99, "note": "gift"}');
SQL
cat >"$DIR/read.sql" <<SQL
\\set q :client_id % $QUEUES + 1
SELECT coalesce(array_agg(receipt), '{}') AS r FROM mq_read(($ARRAY)[:q], 10) \\gset
SELECT mq_ack(($ARRAY)[:q], :r::bigint[]);
SQL
chmod a+r "$DIR"/*.sql

# Where a setup's clients connect, and its queues' depth.
target() {	# setup -> node database
	case $1 in
		direct) echo "shard0 bench" ;;
		proxy1) echo "proxy proxy1" ;;
		proxy3) echo "proxy proxy3" ;;
	esac
}
depth() {	# setup
	psql_on $(target "$1") -At -c "SELECT coalesce(sum(depth), 0) FROM mq_queues"
}
empty() {	# setup
	psql_on $(target "$1") -c "SELECT mq_purge(q) FROM unnest($ARRAY) q" >/dev/null
}
fill() {	# setup: BACKLOG messages in each queue a reader reads
	psql_on $(target "$1") -c "SELECT count(*) FROM unnest(($ARRAY)[1:$READERS]) q,
		generate_series(1, $((BACKLOG / 1000))) b,
		LATERAL mq_send_batch(q, array_fill(jsonb_build_object('batch', b), ARRAY[1000]))" >/dev/null
}

RESULTS=$DIR/results.tsv	# round setup workload msg/s
: >"$RESULTS"
run_one() {	# round setup workload
	local round=$1 setup=$2 work=$3 clients batch before after out=$OUT/$3.$2.$1.log
	case $work in
		send) clients=8 batch=1 ;;
		read) clients=$READERS batch=10 ;;
	esac
	empty "$setup"
	[ "$work" = read ] && fill "$setup"
	for s in 0 1 2; do psql_on "shard$s" postgres -c CHECKPOINT >/dev/null; done
	before=$(depth "$setup")
	read -r node db <<<"$(target "$setup")"
	"$PGBIN/pgbench" -h "$CLUSTER_SOCK" -p "$(port_of "$node")" -U postgres -n -M prepared \
		-T "$SECONDS_PER_RUN" -c "$clients" -j 2 -f "$DIR/$work.sql" "$db" >"$out" 2>&1 || {
		echo "  $work/$setup run $round failed, see $out" >&2
		return 0
	}
	after=$(depth "$setup")
	local xacts tps moved
	xacts=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
	tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$out")
	moved=$((after - before))
	[ "$work" = read ] && moved=$((before - after))
	[ "$work" = read ] && [ "$after" -lt $((before / 10)) ] &&
		echo "  $work/$setup run $round nearly emptied its backlog: raise BENCH_CLUSTER_BACKLOG" >&2
	awk -v r="$round" -v s="$setup" -v w="$work" -v m="$moved" -v x="$xacts" -v t="$tps" \
		'BEGIN { printf "%s\t%s\t%s\t%.1f\n", r, s, w, (x > 0 ? m * t / x : 0) }' >>"$RESULTS"
	printf '  round %s  %-7s %-5s %8.0f msg/s\n' "$round" "$setup" "$work" "$(tail -n 1 "$RESULTS" | cut -f4)"
}

echo "queues: $NAMES"
for round in $(seq 1 "$RUNS"); do
	for work in send read; do
		for setup in direct proxy1 proxy3; do
			run_one "$round" "$setup" "$work"
		done
	done
done

# --- report --------------------------------------------------------------------

awk -F'\t' '
function median(list,    n, a, i, j, t) {
	n = split(list, a, " ")
	for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return n == 0 ? 0 : (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2)
}
{ rate[$3, $2] = rate[$3, $2] " " $4; per[$1, $3, $2] = $4; rounds[$1] = 1 }
END {
	print "| workload | direct | proxy, 1 shard | proxy, 3 shards | proxy1 / direct | proxy3 / proxy1 |"
	print "|---|---:|---:|---:|---:|---:|"
	split("send read", ws, " ")
	name["send"] = "send, 1 msg per transaction, 8 clients"
	name["read"] = "read + ack in 2 transactions, batch 10, 6 clients"
	for (k = 1; k <= 2; k++) {
		w = ws[k]; hop = ""; grow = ""
		for (r in rounds) {
			if (per[r, w, "direct"] > 0) hop = hop " " per[r, w, "proxy1"] / per[r, w, "direct"]
			if (per[r, w, "proxy1"] > 0) grow = grow " " per[r, w, "proxy3"] / per[r, w, "proxy1"]
		}
		printf "| %s | %.0f | %.0f | %.0f | %.2f | %.2f |\n", name[w], median(rate[w, "direct"]),
			median(rate[w, "proxy1"]), median(rate[w, "proxy3"]), median(hop), median(grow)
	}
}' "$RESULTS" | tee "$DIR/results.md"
echo
echo "medians of $RUNS runs of $SECONDS_PER_RUN s (msg/s); the ratios are medians of per-round ratios"
cluster stop >/dev/null
