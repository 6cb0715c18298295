#!/usr/bin/env bash
# queue against RabbitMQ and NATS JetStream, side by side on this machine,
# one Node.js client for all (make bench-brokers):
#
#   BROKERS_ROUNDS=3 BROKERS_SECONDS=10 BROKERS_BACKLOG=200000 ./bench/brokers.sh
#
# Installs what is missing (Debian's rabbitmq-server and nats-server, perf;
# the client libraries with npm ci from bench/brokers/package-lock.json,
# again only when the lock file changes), then starts three private servers
# under $QUEUE_TMP/bench-brokers, each listening on 127.0.0.1 only:
#
#   PostgreSQL  bench/lib.sh's durable benchmark server (bench_settings),
#               port $BROKERS_PG_PORT, a fresh database with CREATE EXTENSION queue
#   RabbitMQ    a node of its own (bench@localhost), AMQP on $BROKERS_AMQP_PORT,
#               distribution on $BROKERS_DIST_PORT, its own epmd on $BROKERS_EPMD_PORT
#   NATS        nats-server -js with file storage, port $BROKERS_NATS_PORT
#
# (never the system services), runs bench/brokers/bench.js, which prints
# one line per run and the tables, and stops the servers and removes their
# data when it ends, also on an error or an interrupt.  Results:
# $QUEUE_TMP/bench-brokers/results.tsv (one line per run), results.md (the
# tables), meta.json (versions, settings); server logs beside them.  Exits
# 0 whatever the figures: a benchmark is not a test.
#
# Settings: BROKERS_ROUNDS (3), BROKERS_SECONDS (10: the window of the send
# and latency workloads), BROKERS_BACKLOG (200000: messages drained by the
# consume workload), BROKERS_DRAIN_SECONDS (60: the most a drain may take),
# BROKERS_RATE (500: msg/s of the latency workload), BROKERS_SYSTEMS (a
# subset of: queue rabbitmq-classic rabbitmq-quorum nats), BROKERS_WORKLOADS
# (a subset of: send1 send100 consume latency), BROKERS_QUEUE_VARIANTS (of
# queue's consume: 1tx 2tx ackarg), BROKERS_PERF=0 (no fsync counts),
# BROKERS_DEBUG=1 (each producer's and consumer's report too).
# docs/benchmarks.md describes what is measured and how.
set -euo pipefail
. "$(dirname "$0")/lib.sh"	# env.sh, bench_paths, init_server, start_server ...
. "$QUEUE_ROOT/scripts/packages.sh"

export BROKERS_ROUNDS=${BROKERS_ROUNDS:-3}
export BROKERS_SECONDS=${BROKERS_SECONDS:-10}
export BROKERS_BACKLOG=${BROKERS_BACKLOG:-200000}
export BROKERS_DRAIN_SECONDS=${BROKERS_DRAIN_SECONDS:-60}
export BROKERS_RATE=${BROKERS_RATE:-500}
export BROKERS_PG_PORT BROKERS_AMQP_PORT BROKERS_NATS_PORT
export BROKERS_CLK_TCK=$(getconf CLK_TCK)

BDIR=$QUEUE_TMP/bench-brokers
RMQ=$BDIR/rabbitmq
NATS=$BDIR/nats
NODE_DIR=$QUEUE_ROOT/bench/brokers
RABBITMQ_BIN=/usr/lib/rabbitmq/bin

# --- what is needed ---------------------------------------------------------

if [ "$(id -u)" != 0 ]; then
	echo "bench-brokers: run as root (it installs packages and starts RabbitMQ and NATS as root)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt_install() {	# package...; with fresh package lists if the first try fails
	apt-get install -y -qq "$@" >/dev/null 2>&1 || {
		apt-get update -qq && apt-get install -y -qq "$@" >/dev/null
	}
}
missing=$(missing_packages rabbitmq-server nats-server)
if ! command -v node >/dev/null; then missing="$missing nodejs"; fi
if ! command -v npm >/dev/null; then missing="$missing npm"; fi
if [ -n "$missing" ]; then
	echo "installing:$missing"
	apt_install $missing
fi
# perf counts the servers' fsync calls; without it they are n/a.
if ! command -v perf >/dev/null; then
	echo "installing: linux-perf"
	apt_install linux-perf || echo "bench-brokers: perf could not be installed; fsync counts will be n/a" >&2
fi
if ! cmp -s "$NODE_DIR/package-lock.json" "$NODE_DIR/node_modules/.installed-lock" 2>/dev/null; then
	npm ci --prefix "$NODE_DIR" --no-audit --no-fund --loglevel=error
	cp "$NODE_DIR/package-lock.json" "$NODE_DIR/node_modules/.installed-lock"
fi

# make test installs a build with assertions; make bench-brokers (make
# setup) the plain one, which is what should be measured.
if nm -D "$("$PG_CONFIG" --pkglibdir)/queue.so" 2>/dev/null | grep -q ExceptionalCondition; then
	echo "bench-brokers: note: the installed queue is built with assertions; make bench-brokers installs the plain build" >&2
fi

# --- the servers --------------------------------------------------------------

BENCH_PORT=$BROKERS_PG_PORT
bench_paths "$BDIR/postgres"

rmq_ctl() {
	env HOME="$RMQ/home" RABBITMQ_NODENAME=bench@localhost ERL_EPMD_PORT="$BROKERS_EPMD_PORT" \
		"$RABBITMQ_BIN/rabbitmqctl" "$@"
}

# The pid in a pid file is alive and is the program named (a pid file left
# behind may name a pid that has since been reused).
alive() {	# pid-file program
	local pid
	[ -s "$1" ] || return 1
	pid=$(cat "$1")
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

stop_rabbitmq() {
	if alive "$RMQ/pid" beam.smp; then
		local pid
		pid=$(cat "$RMQ/pid")
		timeout 60 env HOME="$RMQ/home" RABBITMQ_NODENAME=bench@localhost ERL_EPMD_PORT="$BROKERS_EPMD_PORT" \
			"$RABBITMQ_BIN/rabbitmqctl" stop >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
		kill -9 "$pid" 2>/dev/null || true
	fi
	# A node that never wrote its pid file: the process this script started.
	if [ -n "${RMQ_STARTED:-}" ] && kill -0 "$RMQ_STARTED" 2>/dev/null; then
		kill "$RMQ_STARTED" 2>/dev/null || true
		sleep 2
		kill -9 "$RMQ_STARTED" 2>/dev/null || true
	fi
	# The epmd that the node started on its own port.
	if command -v epmd >/dev/null && epmd -port "$BROKERS_EPMD_PORT" -names >/dev/null 2>&1; then
		epmd -port "$BROKERS_EPMD_PORT" -kill >/dev/null 2>&1 || true
	fi
	return 0
}

stop_nats() {
	if alive "$NATS/pid" nats-server; then
		local pid
		pid=$(cat "$NATS/pid")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
		kill -9 "$pid" 2>/dev/null || true
	fi
	if [ -n "${NATS_STARTED:-}" ] && kill -0 "$NATS_STARTED" 2>/dev/null; then
		kill -9 "$NATS_STARTED" 2>/dev/null || true
	fi
	return 0
}

cleanup() {
	set +e
	echo "stopping the servers"
	stop_server
	stop_rabbitmq
	stop_nats
	# The data goes; logs and results stay.
	rm -rf "$DATA" "$SOCK" "$RMQ/mnesia" "$RMQ/home" "$RMQ/pid" "$NATS/store" "$NATS/pid"
}

port_free() {	# port
	! ss -Hltn "sport = :$1" 2>/dev/null | grep -q .
}

wait_port() {	# port seconds what
	local i
	for i in $(seq 1 $(($2 * 5))); do
		port_free "$1" || return 0
		sleep 0.2
	done
	echo "bench-brokers: $3 does not listen on port $1 after $2 s" >&2
	return 1
}

# Servers left by an interrupted run of this script go first.
stop_server
stop_rabbitmq
stop_nats
for port in "$BROKERS_PG_PORT" "$BROKERS_AMQP_PORT" "$BROKERS_DIST_PORT" "$BROKERS_EPMD_PORT" "$BROKERS_NATS_PORT"; do
	if ! port_free "$port"; then
		echo "bench-brokers: port $port is in use (set BROKERS_*_PORT, see scripts/env.sh)" >&2
		exit 1
	fi
done

trap cleanup EXIT
trap 'exit 130' INT TERM

as_pg mkdir -p "$BDIR"
rm -f "$BDIR"/results.* "$BDIR"/meta.json

echo "PostgreSQL on 127.0.0.1:$BROKERS_PG_PORT (data in $DATA)"
init_server
echo "listen_addresses = '127.0.0.1'" | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
start_server
"$PGBIN/createdb" -h "$SOCK" -p "$BENCH_PORT" -U postgres "$DB"
psql_bench -c "CREATE EXTENSION queue" >/dev/null
export BROKERS_PG_PID=$(head -1 "$DATA/postmaster.pid")

echo "RabbitMQ on 127.0.0.1:$BROKERS_AMQP_PORT (data in $RMQ)"
rm -rf "$RMQ"
mkdir -p "$RMQ/home" "$RMQ/mnesia" "$RMQ/log"
cat >"$RMQ/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$BROKERS_AMQP_PORT
disk_free_limit.absolute = 50MB
CONF
echo '[].' >"$RMQ/enabled_plugins"
# setsid: an interrupt at the terminal reaches this script and the client,
# not the server, which cleanup stops in order.
setsid env HOME="$RMQ/home" RABBITMQ_NODENAME=bench@localhost RABBITMQ_DIST_PORT="$BROKERS_DIST_PORT" \
	ERL_EPMD_PORT="$BROKERS_EPMD_PORT" RABBITMQ_MNESIA_BASE="$RMQ/mnesia" RABBITMQ_LOG_BASE="$RMQ/log" \
	RABBITMQ_CONFIG_FILE="$RMQ/rabbitmq.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$RMQ/enabled_plugins" \
	RABBITMQ_PID_FILE="$RMQ/pid" "$RABBITMQ_BIN/rabbitmq-server" >"$RMQ/stdout" 2>&1 </dev/null &
RMQ_STARTED=$!
if ! timeout 150 env HOME="$RMQ/home" RABBITMQ_NODENAME=bench@localhost ERL_EPMD_PORT="$BROKERS_EPMD_PORT" \
	"$RABBITMQ_BIN/rabbitmqctl" wait --timeout 120 "$RMQ/pid" >/dev/null 2>&1; then
	echo "bench-brokers: RabbitMQ did not start; see $RMQ/stdout and $RMQ/log" >&2
	tail -20 "$RMQ/stdout" >&2
	exit 1
fi
wait_port "$BROKERS_AMQP_PORT" 60 RabbitMQ
export BROKERS_RABBITMQ_PID=$(cat "$RMQ/pid")

echo "NATS on 127.0.0.1:$BROKERS_NATS_PORT (data in $NATS)"
rm -rf "$NATS"
mkdir -p "$NATS/store"
setsid nats-server -a 127.0.0.1 -p "$BROKERS_NATS_PORT" -js -sd "$NATS/store" -l "$NATS/server.log" \
	-P "$NATS/pid" >/dev/null 2>&1 </dev/null &
NATS_STARTED=$!
wait_port "$BROKERS_NATS_PORT" 30 NATS
for _ in $(seq 1 50); do alive "$NATS/pid" nats-server && break; sleep 0.2; done
export BROKERS_NATS_PID=$(cat "$NATS/pid")

export BROKERS_DIR=$BDIR
node "$NODE_DIR/bench.js"
echo
echo "results: $BDIR/results.tsv, $BDIR/results.md"
exit 0
