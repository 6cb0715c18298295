# What bench/run.sh, bench/compare.sh and bench/instructions.sh share: the workloads, the private
# server, and one measured pgbench run.  Source it, do not run it; call
# bench_paths before anything else.
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/env.sh"

RUNS=${BENCH_RUNS:-3}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
BACKLOG=${BENCH_BACKLOG:-300000}
LOG_RECORDS=${BENCH_LOG_RECORDS:-500000}

BENCH=$QUEUE_ROOT/bench
DB=bench

# Remove the git worktree an A/B script built the old commit in.
remove_worktree() {	# directory
	if git -C "$QUEUE_ROOT" worktree list --porcelain | grep -qx "worktree $1"; then
		git -C "$QUEUE_ROOT" worktree remove --force "$1" || git -C "$QUEUE_ROOT" worktree prune
	fi
	rm -rf "$1"
}

# Where a script keeps its server and its results.
bench_paths() {	# directory
	DIR=$1
	DATA=$DIR/data
	SOCK=$DIR/sock
	LOG=$DIR/server.log
	RESULTS=$DIR/results.tsv	# round workload contender msg/s messages seconds backlog
	WORKLOADS_DIR=$DIR/workloads
}

# workload | clients | messages per script | contenders | description
# The first two contenders make the ratio a workload is judged by (queue/raw,
# keyed/plain, publish/sends).  The script of a run is <workload>.<contender>.sql.
workload() {
	case $1 in
		send) echo "8|1|queue raw pgq|send, 1 msg per transaction, 8 clients" ;;
		batch) echo "2|100|queue raw pgq|send, batches of 100, 2 clients" ;;
		ack2) echo "4|10|queue raw|read + ack in 2 transactions, batch 10, 4 consumers" ;;
		ack1) echo "4|10|queue raw|read + ack in 1 transaction, batch 10, 4 consumers" ;;
		single) echo "1|1|queue raw|read + ack in 2 transactions, batch 1, 1 consumer" ;;
		keyed) echo "8|1|keyed plain|send with a new idempotency key, 1 msg per transaction, 8 clients" ;;
		fanout) echo "4|10|publish sends|1 message to 10 queues per transaction, 4 clients" ;;
		append) echo "8|1|stream insert|stream append, 1 record per transaction, 8 clients" ;;
		appendb) echo "2|100|stream insert|stream append, batches of 100, 2 clients" ;;
		consume) echo "1|1000|group batches|stream read to the client, 1000 records per transaction, $LOG_RECORDS records" ;;
		*) echo "unknown workload: $1" >&2; return 1 ;;
	esac
}

# The storage a contender fills and empties: keyed and plain are the queue.
storage_of() {	# contender
	case $1 in
		keyed | plain) echo queue ;;
		publish | sends) echo fanout ;;
		insert) echo raw_log ;;
		group) echo stream_unread ;;
		batches) echo pgq_unread ;;
		*) echo "$1" ;;
	esac
}

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

# A new data directory with the benchmark's settings (not started).
init_server() {
	stop_server
	as_pg mkdir -p "$DIR"
	rm -rf "$DATA" "$SOCK" "$DIR/runs" "$RESULTS" "$DIR"/wake.*.ms
	as_pg mkdir -p "$SOCK" "$DIR/runs"
	as_pg "$PGBIN/initdb" -D "$DATA" -A trust -U postgres -E UTF8 --no-sync >"$DIR/initdb.log" 2>&1
	{
		cat <<CONF
# queue benchmark server
port = $BENCH_PORT
listen_addresses = ''
unix_socket_directories = '$SOCK'
shared_preload_libraries = 'queue'
CONF
		bench_settings
	} | as_pg tee -a "$DATA/postgresql.conf" >/dev/null
}

# The settings of every benchmark server: durable, and room to work.
bench_settings() {
	cat <<CONF
fsync = on
synchronous_commit = on
full_page_writes = on
shared_buffers = 512MB
max_connections = 50
max_wal_size = 4GB
checkpoint_timeout = 15min
log_min_messages = warning
CONF
}

start_server() {
	as_pg "$PGBIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 120 start >/dev/null
}

# The database "bench", made afresh, with bench/sql/setup.sql.
create_db() {
	"$PGBIN/dropdb" -h "$SOCK" -p "$BENCH_PORT" -U postgres --if-exists "$DB"
	"$PGBIN/createdb" -h "$SOCK" -p "$BENCH_PORT" -U postgres "$DB"
	psql_bench -f "$BENCH/sql/setup.sql" >/dev/null
	if [ -n "${BENCH_GRANTEE:-}" ]; then
		# pgbench connects as bench_app, which owns nothing: every call
		# takes the path of a role that holds a grant (reset.sql grants).
		psql_bench -c "DROP ROLE IF EXISTS bench_app" -c "CREATE ROLE bench_app LOGIN" \
			-c "GRANT ALL ON ALL TABLES IN SCHEMA public TO bench_app" \
			-c "GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO bench_app" >/dev/null
	fi
}

# Empty every contender, fill the backlog a consume run needs, then vacuum
# and checkpoint.
prepare() {	# storage backlog
	psql_bench -f "$BENCH/sql/reset.sql" >/dev/null
	if [ "$2" -gt 0 ]; then
		psql_bench -v backlog="$2" -f "$BENCH/sql/fill_$1.sql" >/dev/null
	fi
	psql_bench -f "$BENCH/sql/settle.sql" >/dev/null
}

# The role pgbench connects as: bench_app with BENCH_GRANTEE set.
bench_user() {
	if [ -n "${BENCH_GRANTEE:-}" ]; then echo bench_app; else echo postgres; fi
}

depth() {	# storage
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

# One pgbench run of one contender; appends a line to $RESULTS under label
# (default: the contender).  A consume run that nearly empties its backlog
# is repeated with a larger one.
run_one() {	# round workload contender [label]
	local round=$1 name=$2 who=$3 label=${4:-$3} clients batch kind backlog=0 jobs try store least=0
	IFS='|' read -r clients batch _ _ <<<"$(workload "$name")"
	case $name in
		send | batch | keyed | fanout | append | appendb) kind=send ;;
		consume) kind=log ;;
		*) kind=consume ;;
	esac
	jobs=$((clients < 2 ? clients : 2))
	store=$(storage_of "$who")

	for try in 1 2 3 4 5; do
		[ "$kind" = consume ] && backlog=$(backlog_for "$name")
		# A run that ran dry measured its rate over idle time too: at
		# least twice the backlog that was too small.
		[ "$backlog" -lt "$least" ] && backlog=$least
		[ "$kind" = log ] && backlog=$LOG_RECORDS
		prepare "$store" "$backlog"

		local before after out=$DIR/runs/$name.$label.$round.log status=0
		before=$(depth "$store")
		# -D seq=0 starts the per-client counter of the keyed script.
		# A log is read once, to its end: a fixed number of transactions.
		local length=(-T "$SECONDS_PER_RUN")
		[ "$kind" = log ] && length=(-t $((backlog / batch / clients)))
		"$PGBIN/pgbench" -h "$SOCK" -p "$BENCH_PORT" -U "$(bench_user)" -n -M prepared \
			"${length[@]}" -c "$clients" -j "$jobs" -D seq=0 \
			-f "$WORKLOADS_DIR/$name.$who.sql" "$DB" >"$out" 2>&1 || status=$?
		after=$(depth "$store")

		local xacts tps
		xacts=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$out")
		tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$out")
		if [ "$status" != 0 ] || [ -z "$xacts" ] || [ -z "$tps" ] || [ "$xacts" = 0 ]; then
			echo "  $name/$label run $round failed (pgbench status $status), see $out" >&2
			tail -5 "$out" >&2
			return 0
		fi

		# Messages moved, counted in storage; the time is pgbench's own,
		# without connection set-up (transactions / tps).
		local moved=$((after - before)) rate
		[ "$kind" != send ] && moved=$((before - after))
		rate=$(awk -v m="$moved" -v x="$xacts" -v t="$tps" 'BEGIN { printf "%.1f", m * t / x }')
		if awk -v r="$rate" -v m="${MAXRATE[$name]:-0}" 'BEGIN { exit !(r > m) }'; then
			MAXRATE[$name]=$rate
		fi
		if [ "$kind" = consume ] && [ "$after" -lt $((backlog / 10)) ]; then
			echo "  $name/$label run $round: only $after of $backlog messages left, again with more" >&2
			least=$((backlog * 2))
			continue
		fi
		if [ "$moved" != $((xacts * batch)) ]; then
			echo "  note: $name/$label run $round moved $moved messages in $xacts scripts of $batch" >&2
		fi
		awk -v r="$round" -v n="$name" -v w="$label" -v m="$moved" -v x="$xacts" -v t="$tps" \
			-v bl="$backlog" 'BEGIN {
			printf "%s\t%s\t%s\t%.1f\t%d\t%.2f\t%d\n", r, n, w, m * t / x, m, x / t, bl
		}' >>"$RESULTS"
		printf '  %-7s %-6s run %s: %10.0f msg/s\n' "$name" "$label" "$round" "$rate"
		return 0
	done
	echo "  $name/$label run $round kept running dry; no figure" >&2
}

# The pgbench scripts: bench/workloads/*.sql as they are, the three batch
# scripts, written from one list of 100 bodies so that every contender sends
# exactly the same messages, and keyed.plain.sql, the statement of
# send.queue.sql, so that keyed/plain compares the same send with and
# without a key.
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
	{
		echo "-- append, a batch of 100 records per transaction: the stream (one jsonb[] of 100)"
		echo "SELECT count(*) FROM mq_append_batch('s', ARRAY["
		echo "$bodies" | sed '$!s/$/,/'
		echo "]::jsonb[]);"
	} >"$WORKLOADS_DIR/appendb.stream.sql"
	{
		echo "-- append, a batch of 100 records per transaction: raw SQL (one multi-row INSERT)"
		echo "INSERT INTO raw_log (body) VALUES"
		echo "$bodies" | sed 's/^    \(.*\)$/    (\1)/; $!s/$/,/; $s/$/;/'
	} >"$WORKLOADS_DIR/appendb.insert.sql"
	{
		echo "-- send without a key, one message per transaction: the baseline of keyed"
		grep -v '^--' "$BENCH/workloads/send.queue.sql"
	} >"$WORKLOADS_DIR/keyed.plain.sql"
	chmod -R a+rX "$WORKLOADS_DIR"
}

# The awk function median(list of numbers separated by spaces).
AWK_MEDIAN='
function median(list,   a, n, i, j, t) {
	n = split(list, a, " ")
	if (n == 0) return ""
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}'
