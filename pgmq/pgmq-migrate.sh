#!/usr/bin/env bash
# Copy a real pgmq's queues and archives into a database with the pgmq
# layer (docs/pgmq.md, "Moving from pgmq"), keeping message ids:
#
#   pgmq/pgmq-migrate.sh SOURCE TARGET [queue ...]
#
# SOURCE and TARGET are libpq connection strings (or database names):
# SOURCE has pgmq's extension, TARGET has the layer (CREATE EXTENSION pgmq
# CASCADE is run there if it is missing).  Every queue of SOURCE's
# pgmq.meta is copied, or only those named.  For each queue:
#   - it is created in TARGET as it was (unlogged or not, "partitioned" as
#     an ordinary queue); a queue of that name there must be empty;
#   - its messages go in with mq_import: msg_id, message, headers,
#     enqueued_at, vt (when it is visible again) and read_ct (its deliveries);
#     the queue's next id follows the source's id sequence, so ids go on
#     as they would have;
#   - its archive rows are copied into pgmq.a_<name> as they are.
# Each queue is copied in one transaction of TARGET.  SOURCE is only read:
# stop its producers and consumers first, and drop its queues once the copy
# is checked.  Prints one line per queue; exits non-zero on the first error.
set -euo pipefail

if [ $# -lt 2 ]; then
	echo "usage: $0 SOURCE TARGET [queue ...]" >&2
	exit 2
fi
SOURCE=$1
TARGET=$2
shift 2
PSQL=${PSQL:-psql}

src() { "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$SOURCE" "$@"; }
dst() { "$PSQL" -X -q -v ON_ERROR_STOP=1 -d "$TARGET" "$@"; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

dst -c 'CREATE EXTENSION IF NOT EXISTS pgmq CASCADE' 2>/dev/null
if [ $# -gt 0 ]; then
	queues=("$@")
else
	mapfile -t queues < <(src -At -c 'SELECT queue_name FROM pgmq.meta ORDER BY queue_name COLLATE "C"')
fi

for q in "${queues[@]}"; do
	IFS='|' read -r table partitioned unlogged last < <(src -At -v q="$q" <<'SQL'
SELECT lower(m.queue_name), m.is_partitioned, m.is_unlogged,
       coalesce((SELECT s.last_value FROM pg_catalog.pg_sequences s
                  WHERE s.schemaname = 'pgmq' AND s.sequencename = 'q_' || lower(m.queue_name) || '_msg_id_seq'), 0)
  FROM pgmq.meta m WHERE m.queue_name = :'q'
SQL
	)
	if [ -z "$table" ]; then
		echo "$q: not a queue of the source" >&2
		exit 1
	fi
	# A queue of that name in the target must have no messages.
	busy=$(echo "SELECT count(*) FROM mq_queues WHERE queue = lower(:'q') AND depth > 0" | dst -At -v q="$q")
	if [ "$busy" != 0 ]; then
		echo "$q: the target's queue $table has messages; nothing copied" >&2
		exit 1
	fi
	case $unlogged:$partitioned in
		t:*) create="pgmq.create_unlogged(:'q')" ;;
		*:t) create="pgmq.create_partitioned(:'q')" ;;
		*) create="pgmq.create(:'q')" ;;
	esac
	# The messages and the archive, each in a file of COPY's text format.
	src -c "COPY (SELECT msg_id, read_ct, enqueued_at, vt, message, headers
	                FROM pgmq.q_$table ORDER BY msg_id) TO STDOUT" >"$WORK/q.copy"
	src -c "COPY (SELECT msg_id, read_ct, enqueued_at, archived_at, vt, message, headers
	                FROM pgmq.a_$table ORDER BY msg_id) TO STDOUT" >"$WORK/a.copy"
	dst -At -v q="$q" -v atable="a_$table" -v last="${last:-0}" -c "BEGIN" -f <(
		cat <<SQL
SELECT 1 FROM (SELECT $create) c \\g /dev/null
CREATE TEMP TABLE q_in (msg_id bigint, read_ct int, enqueued_at timestamptz, vt timestamptz,
                        message jsonb, headers jsonb) ON COMMIT DROP;
\\copy q_in from '$WORK/q.copy'
CREATE TEMP TABLE a_in (msg_id bigint, read_ct int, enqueued_at timestamptz, archived_at timestamptz,
                        vt timestamptz, message jsonb, headers jsonb) ON COMMIT DROP;
\\copy a_in from '$WORK/a.copy'
SELECT mq_import(lower(:'q'),
                 coalesce(array_agg(msg_id ORDER BY msg_id), '{}'),
                 coalesce(array_agg(message ORDER BY msg_id), '{}'),
                 array_agg(headers ORDER BY msg_id),
                 array_agg(enqueued_at ORDER BY msg_id),
                 array_agg(vt ORDER BY msg_id),
                 array_agg(read_ct ORDER BY msg_id),
                 last_id => greatest(:last, (SELECT max(msg_id) FROM a_in))) AS messages
  FROM q_in \\gset
INSERT INTO pgmq.:"atable" (msg_id, read_ct, enqueued_at, archived_at, vt, message, headers)
SELECT msg_id, read_ct, enqueued_at, archived_at, vt, message, headers FROM a_in;
SELECT count(*) AS archived FROM a_in \\gset
COMMIT;
\\echo :q: :messages messages, :archived archived
SQL
	)
done
