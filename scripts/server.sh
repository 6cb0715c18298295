#!/usr/bin/env bash
# The private demo server: start | stop | status.
# Data in $QUEUE_TMP/demo/data, Unix socket in $QUEUE_TMP/demo/sock, port
# $DEMO_PORT, no TCP; the queue library preloaded.
set -euo pipefail
. "$(dirname "$0")/env.sh"

start() {
	as_pg mkdir -p "$DEMO_SOCK"
	if [ ! -f "$DEMO_DATA/PG_VERSION" ]; then
		as_pg "$PGBIN/initdb" -D "$DEMO_DATA" -A trust -U postgres --no-sync >/dev/null
		as_pg tee -a "$DEMO_DATA/postgresql.conf" >/dev/null <<CONF
# queue demo server
port = $DEMO_PORT
listen_addresses = ''
unix_socket_directories = '$DEMO_SOCK'
shared_preload_libraries = 'queue'
max_prepared_transactions = 10
log_min_messages = warning
CONF
	fi
	if as_pg "$PGBIN/pg_ctl" -D "$DEMO_DATA" status >/dev/null 2>&1; then
		# A server running an older build of the library is restarted.
		if [ "$("$PG_CONFIG" --pkglibdir)/queue.so" -nt "$DEMO_DATA/postmaster.pid" ]; then
			as_pg "$PGBIN/pg_ctl" -D "$DEMO_DATA" -l "$DEMO_LOG" -m fast -w -t 60 restart >/dev/null
		fi
		return 0
	fi
	as_pg "$PGBIN/pg_ctl" -D "$DEMO_DATA" -l "$DEMO_LOG" -w -t 60 start >/dev/null
}

stop() {
	if [ -f "$DEMO_DATA/PG_VERSION" ] &&
		as_pg "$PGBIN/pg_ctl" -D "$DEMO_DATA" status >/dev/null 2>&1; then
		as_pg "$PGBIN/pg_ctl" -D "$DEMO_DATA" -m fast -w stop >/dev/null
		echo "demo server stopped"
	else
		echo "demo server is not running"
	fi
}

case "${1:-}" in
	start) start ;;
	stop) stop ;;
	status) as_pg "$PGBIN/pg_ctl" -D "$DEMO_DATA" status ;;
	*) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
