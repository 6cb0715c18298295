#!/usr/bin/env bash
# The private sharded demo cluster (SPEC section 11): start | stop | status.
# Three shard servers with the queue library preloaded and a proxy server
# (PL/Proxy, no preload), each with its data in $QUEUE_TMP/cluster/<name>/data,
# all with their Unix sockets in $QUEUE_TMP/cluster/sock, no TCP; ports
# $CLUSTER_PORT (the proxy) and the three after it (shards 0, 1, 2).
set -euo pipefail
. "$(dirname "$0")/env.sh"

NODES="proxy shard0 shard1 shard2"

node_port() {	# node
	case $1 in
		proxy) echo "$CLUSTER_PORT" ;;
		shard*) echo $((CLUSTER_PORT + 1 + ${1#shard})) ;;
	esac
}

start_node() {	# node
	local node=$1 data=$CLUSTER_DIR/$1/data log=$CLUSTER_DIR/$1/server.log preload=queue
	[ "$node" = proxy ] && preload=
	if [ ! -f "$data/PG_VERSION" ]; then
		as_pg mkdir -p "$CLUSTER_DIR/$node"
		as_pg "$PGBIN/initdb" -D "$data" -A trust -U postgres --no-sync >/dev/null
		as_pg tee -a "$data/postgresql.conf" >/dev/null <<CONF
# queue demo cluster: $node
port = $(node_port "$node")
listen_addresses = ''
unix_socket_directories = '$CLUSTER_SOCK'
shared_preload_libraries = '$preload'
log_min_messages = warning
CONF
	fi
	if as_pg "$PGBIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		# A shard running an older build of the library is restarted.
		if [ -n "$preload" ] && [ "$("$PG_CONFIG" --pkglibdir)/queue.so" -nt "$data/postmaster.pid" ]; then
			as_pg "$PGBIN/pg_ctl" -D "$data" -l "$log" -m fast -w -t 60 restart >/dev/null
		fi
		return 0
	fi
	as_pg "$PGBIN/pg_ctl" -D "$data" -l "$log" -w -t 60 start >/dev/null
}

stop_node() {	# node
	local data=$CLUSTER_DIR/$1/data
	if [ -f "$data/PG_VERSION" ] && as_pg "$PGBIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
		as_pg "$PGBIN/pg_ctl" -D "$data" -m fast -w stop >/dev/null
		echo "cluster $1 stopped"
	fi
}

case "${1:-}" in
	start)
		as_pg mkdir -p "$CLUSTER_SOCK"
		for n in $NODES; do start_node "$n"; done ;;
	stop) for n in $NODES; do stop_node "$n"; done ;;
	status)
		for n in $NODES; do
			printf '%-7s port %s: ' "$n" "$(node_port "$n")"
			as_pg "$PGBIN/pg_ctl" -D "$CLUSTER_DIR/$n/data" status >/dev/null 2>&1 && echo running || echo stopped
		done ;;
	port) node_port "$2" ;;
	*) echo "usage: $0 start|stop|status|port <node>" >&2; exit 2 ;;
esac
