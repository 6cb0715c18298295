#!/usr/bin/env bash
# Start the private demo server, run the worked example, leave it running.
set -euo pipefail
. "$(dirname "$0")/env.sh"

"$QUEUE_ROOT/scripts/server.sh" start
PSQL="$PGBIN/psql -X -h $DEMO_SOCK -p $DEMO_PORT -U postgres"
# A fresh database every time, so that it has the extension as just built.
as_pg $PSQL -d postgres -qc "DROP DATABASE IF EXISTS queue_demo WITH (FORCE)"
as_pg $PSQL -d postgres -qc "CREATE DATABASE queue_demo"
as_pg $PSQL -d queue_demo -q -v ON_ERROR_STOP=1 -f - <"$QUEUE_ROOT/scripts/demo.sql"
echo
echo "== 12. Exactly-once with the application's own tables (examples/outbox.sql)"
echo
as_pg $PSQL -d queue_demo -q -v ON_ERROR_STOP=1 -f - <"$QUEUE_ROOT/examples/outbox.sql"

cat <<MSG

The demo server is running (data in $DEMO_DATA).  Inspect it with:

    $PSQL -d queue_demo

Stop it with: make stop
MSG
