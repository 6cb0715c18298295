#!/usr/bin/env bash
# Start the private sharded cluster (scripts/cluster.sh), make a fresh
# database queue_demo on each node (queue on the shards, queue_proxy and
# the foreign server "queue" on the proxy), run the worked example through
# the proxy and the exactly-once consumer on a shard, leave it running.
set -euo pipefail
. "$(dirname "$0")/env.sh"

"$QUEUE_ROOT/scripts/cluster.sh" start
psql_on() {	# node, then psql arguments
	local port
	port=$("$QUEUE_ROOT/scripts/cluster.sh" port "$1")
	shift
	as_pg "$PGBIN/psql" -X -h "$CLUSTER_SOCK" -p "$port" -U postgres "$@"
}
conninfo() {	# shard
	echo "host=$CLUSTER_SOCK port=$("$QUEUE_ROOT/scripts/cluster.sh" port "shard$1") dbname=queue_demo"
}

for node in shard0 shard1 shard2 proxy; do
	psql_on "$node" -d postgres -qc "DROP DATABASE IF EXISTS queue_demo WITH (FORCE)"
	psql_on "$node" -d postgres -qc "CREATE DATABASE queue_demo"
done
for s in 0 1 2; do
	psql_on "shard$s" -d queue_demo -qc "CREATE EXTENSION queue"
done
psql_on proxy -d queue_demo -q -v ON_ERROR_STOP=1 <<SQL
SET client_min_messages = warning;
CREATE EXTENSION queue_proxy CASCADE;
CREATE SERVER queue FOREIGN DATA WRAPPER plproxy OPTIONS (
    modular_mapping '1', p0 '$(conninfo 0)', p1 '$(conninfo 1)', p2 '$(conninfo 2)');
CREATE USER MAPPING FOR PUBLIC SERVER queue;
SQL

psql_on proxy -d queue_demo -q -v ON_ERROR_STOP=1 -f - <"$QUEUE_ROOT/scripts/demo-cluster.sql"

# Exactly-once needs the application's table on the queue's shard: the
# consumer connects to that shard for its work + ack transaction.
shard=$(psql_on proxy -d queue_demo -Atc "SELECT mq_shard_of('demo_orders')")
echo
echo "== 7. Exactly-once: a consumer on the shard of demo_orders (shard $shard)"
echo "      does its work and acks in one transaction there"
echo
psql_on "shard$shard" -d queue_demo -q -v ON_ERROR_STOP=1 <<'SQL'
\pset footer off
CREATE TABLE shipped (order_no int PRIMARY KEY, shipped_at timestamptz DEFAULT now());
BEGIN;
CREATE TEMP TABLE batch ON COMMIT DROP AS SELECT * FROM mq_read('demo_orders', 10);
INSERT INTO shipped (order_no) SELECT (body->>'order')::int FROM batch;
SELECT mq_ack('demo_orders', array_agg(receipt)) AS acked FROM batch;
COMMIT;
SELECT order_no FROM shipped ORDER BY order_no;
SQL
echo
echo "and through the proxy the queue is empty now:"
psql_on proxy -d queue_demo -q -c "SELECT shard, queue, depth, inflight FROM mq_queues WHERE queue = 'demo_orders'"

cat <<MSG

The demo cluster is running (data in $CLUSTER_DIR).  Inspect it with:

    proxy:   $PGBIN/psql -X -h $CLUSTER_SOCK -p $("$QUEUE_ROOT/scripts/cluster.sh" port proxy) -U postgres -d queue_demo
    shard 0: $PGBIN/psql -X -h $CLUSTER_SOCK -p $("$QUEUE_ROOT/scripts/cluster.sh" port shard0) -U postgres -d queue_demo
    shard 1: $PGBIN/psql -X -h $CLUSTER_SOCK -p $("$QUEUE_ROOT/scripts/cluster.sh" port shard1) -U postgres -d queue_demo
    shard 2: $PGBIN/psql -X -h $CLUSTER_SOCK -p $("$QUEUE_ROOT/scripts/cluster.sh" port shard2) -U postgres -d queue_demo

Stop it with: make stop
MSG
