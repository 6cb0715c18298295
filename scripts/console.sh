#!/usr/bin/env bash
# The web console (console/, docs/console.md): its npm dependencies (npm ci
# from the lock file, again only when the lock file changes), the page built
# into console/dist, then the server in the foreground.  Against the demo
# database (started with the worked example if it is not running), or the
# database of CONSOLE_DB (a libpq connection string).
#
#   CONSOLE_DB    connection string (default: the demo database)
#   CONSOLE_PORT  port (default 55480); CONSOLE_LISTEN address (127.0.0.1)
#   CONSOLE_ARGS  further arguments: --read-only, --token T, --refresh S ...
#
# ./scripts/console.sh build  only installs and builds.
set -euo pipefail
. "$(dirname "$0")/env.sh"

dir=$QUEUE_ROOT/console
if ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.installed-lock" 2>/dev/null; then
	npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
	cp "$dir/package-lock.json" "$dir/node_modules/.installed-lock"
fi
node "$dir/build.js"
[ "${1:-}" = build ] && exit 0

db=${CONSOLE_DB:-}
if [ -z "$db" ]; then
	if ! as_pg "$PGBIN/pg_ctl" status -D "$DEMO_DATA" >/dev/null 2>&1 ||
		! as_pg "$PGBIN/psql" -X -h "$DEMO_SOCK" -p "$DEMO_PORT" -U postgres -d queue_demo -qAtc 'SELECT 1' >/dev/null 2>&1; then
		echo "The demo server is not running: starting it with the worked example (make demo)."
		"$QUEUE_ROOT/scripts/demo.sh" >/dev/null
	fi
	db="host=$DEMO_SOCK port=$DEMO_PORT user=postgres dbname=queue_demo"
fi
# shellcheck disable=SC2086
exec node "$dir/server.js" --db "$db" --listen "${CONSOLE_LISTEN:-127.0.0.1}" \
	--port "${CONSOLE_PORT:-55480}" ${CONSOLE_ARGS:-}
