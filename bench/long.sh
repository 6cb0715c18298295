#!/usr/bin/env bash
# The long benchmarks (make bench-long): what takes minutes rather than
# seconds, on the same kind of private server as bench/run.sh.
#
#   growth  send (8 clients) and read + ack in two transactions (batch 10,
#           4 consumers; the ack's transaction sends 10 messages back, so
#           that the depth stays) with 10 000 messages waiting, then with
#           BENCH_LONG_DEPTH (10 000 000) waiting: how much slower each
#           operation gets on a deep queue (target: at most 1.2 x).
#   hold    800 messages/s offered (2 producers), 4 consumers reading and
#           acking batches of up to 10 at up to 800 transactions/s, for
#           BENCH_LONG_PRE (20) s, then BENCH_LONG_HOLD (60) s while another
#           session holds an XID open (BEGIN; SELECT txid_current();
#           SELECT pg_sleep(...)), then BENCH_LONG_PRE s more: the share of
#           the messages sent during the hold that were delivered (acked)
#           during it (target: at least 95 %), the p99 latency of a consumer
#           transaction during the hold against before it (target: at most
#           2 x), and the dead tuples of the queue's table.
#   browse  a queue of BENCH_LONG_BROWSE (1 000 000) messages, 1000 of them
#           leased and 1000 delayed: the server time of mq_inspect pages
#           (the first, one at a random id, by state) and of mq_queues for
#           that queue, medians (targets: a page of 100 under 5 ms;
#           mq_queues under 10 ms).
#   rate    a queue with rate_limit BENCH_LONG_RATE (500) per second and a
#           backlog far beyond it, read + acked by 4 consumers (batches of
#           10) for BENCH_LONG_RATE_SECONDS (20) s: deliveries per second
#           (mq_stats.delivered sampled every second) against the limit
#           (targets: the mean within 2 % of it; no second above the limit
#           plus the burst, one second's worth).
#   groups  message groups (max_inflight_per_group 1), read + ack of 10 in
#           one transaction, BENCH_SECONDS (10) s a run:
#           - 4 consumers on 500 000 messages in 10 000 groups against the
#             same ungrouped (target: at least 0.8 x);
#           - send (8 clients, a random group each) and read + ack (one
#             consumer) with 1 000 000 groups of one message against 10
#             groups of 100 000 (target: within 1.2 x);
#           - one consumer on 1000 groups of 200 with a hot group of
#             1 000 000 beside them against without it (within 1.2 x);
#           - fairness: 4 consumers for 5 s on 10 groups, one with 90 % of
#             the backlog: each group's share of the deliveries against an
#             equal share, and Jain's index (target: every share within
#             10 % of equal).
#   schedules
#           BENCH_LONG_SCHEDULES (10 000) schedules due at the same minute,
#           each sending to one queue, three times: the lag of their runs
#           (enqueued_at - scheduled time) at p50, p99 and max, and the runs
#           per second of the burst, medians (target: every run once; the
#           contract asks each within one queue.naptime, 1 s, of its time).
#   memory  one backend runs BENCH_LONG_CALLS (200 000) transactions, each
#           calling every queue, topic and stream function once (send,
#           send_batch, read, ack, nack, extend, peek, pop, publish, append,
#           append_batch, stream_read, consume, seek, the views); its
#           private memory (RssAnon) is sampled as it goes: after warm-up
#           (a tenth of the calls) it must stay flat.
#
#   BENCH_LONG_SCENARIOS="growth hold memory browse rate groups schedules" ./bench/long.sh
#
# Results go to $QUEUE_TMP/bench-long/results.md; like bench/run.sh it exits
# 0 whether or not a target is met.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

SCENARIOS=${BENCH_LONG_SCENARIOS:-growth hold memory browse rate groups schedules}
SCHEDULES=${BENCH_LONG_SCHEDULES:-10000}
RATE=${BENCH_LONG_RATE:-500}
RATE_SECONDS=${BENCH_LONG_RATE_SECONDS:-20}
DEPTH=${BENCH_LONG_DEPTH:-10000000}
PRE=${BENCH_LONG_PRE:-20}
HOLD=${BENCH_LONG_HOLD:-60}
CALLS=${BENCH_LONG_CALLS:-200000}
BROWSE_DEPTH=${BENCH_LONG_BROWSE:-1000000}
bench_paths "$QUEUE_TMP/bench-long"
OUT=$DIR/results.md

pgbench_run() {	# log-name pgbench-arguments...
	local name=$1
	shift
	"$PGBIN/pgbench" -h "$SOCK" -p "$BENCH_PORT" -U postgres -n -M prepared "$@" "$DB" \
		>"$DIR/runs/$name.out" 2>&1
}

tps_of() {	# log-name
	sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$DIR/runs/$1.out"
}

say() {
	echo "$@"
	echo "$@" >>"$OUT"
}

# --- growth -----------------------------------------------------------

# Queue q with n messages waiting, sent in batches of 100 000.
fill_q() {	# n
	psql_bench -f "$BENCH/sql/reset.sql" >/dev/null
	psql_bench -At -c "SELECT format('SELECT count(*) FROM mq_send_batch(%L, ARRAY(SELECT bench.body(g) FROM generate_series(%s, %s) AS g));', 'q', i, least(i + 99999, $1)) FROM generate_series(1, $1, 100000) AS i" |
		psql_bench >/dev/null
	psql_bench -f "$BENCH/sql/settle.sql" >/dev/null
}

growth() {
	local depth send ack2 rows=""
	# Read + ack in two transactions, batch 10, sending 10 back with the
	# ack so that the queue keeps its depth through the run.
	{
		echo "-- read 10, then ack them and send 10 back in one transaction"
		echo "SELECT coalesce(array_agg(receipt), '{}') AS r FROM mq_read('q', 10) \\gset"
		echo "BEGIN;"
		echo "SELECT mq_ack('q', :r::bigint[]);"
		echo "SELECT count(*) FROM mq_send_batch('q', ARRAY(SELECT bench.body(g) FROM generate_series(1, 10) AS g));"
		echo "COMMIT;"
	} >"$WORKLOADS_DIR/growth.ack2.sql"
	say ""
	say "## Cost growth: 10 000 against $DEPTH messages waiting"
	say ""
	for depth in 10000 "$DEPTH"; do
		echo "  filling q with $depth messages"
		fill_q "$depth"
		pgbench_run "growth.send.$depth" -T "$SECONDS_PER_RUN" -c 8 -j 2 -f "$WORKLOADS_DIR/send.queue.sql"
		send=$(tps_of "growth.send.$depth")
		fill_q "$depth"
		pgbench_run "growth.ack2.$depth" -T "$SECONDS_PER_RUN" -c 4 -j 2 -f "$WORKLOADS_DIR/growth.ack2.sql"
		# Each script reads and acks 10 and sends 10 back: the depth stays.
		ack2=$(awk -v t="$(tps_of "growth.ack2.$depth")" 'BEGIN { printf "%.1f", t * 10 }')
		printf '  depth %-9s send %8.0f msg/s   read + ack %8.0f msg/s\n' "$depth" "$send" "$ack2"
		rows="$rows$depth $send $ack2"$'\n'
	done
	echo "$rows" | awk -v bullet="- " 'NF == 3 { d[++n] = $1; s[n] = $2; a[n] = $3 }
	END {
		print "| messages waiting | send msg/s | read + ack msg/s |"
		print "|---:|---:|---:|"
		for (i = 1; i <= n; i++) printf "| %d | %.0f | %.0f |\n", d[i], s[i], a[i]
		print ""
		gs = s[1] / s[2]; ga = a[1] / a[2]
		printf "%s%s  send       %.2f x slower per operation at %d messages, target <= 1.2\n", bullet, (gs <= 1.2 ? "PASS" : "FAIL"), gs, d[2]
		printf "%s%s  read + ack %.2f x slower per operation at %d messages, target <= 1.2\n", bullet, (ga <= 1.2 ? "PASS" : "FAIL"), ga, d[2]
	}' | tee -a "$OUT"
}

# --- hold -------------------------------------------------------------

hold() {
	local total=$((2 * PRE + HOLD)) t0 sampler relname
	say ""
	say "## A session holding an XID for $HOLD s (800 msg/s offered, 4 consumers)"
	say ""
	psql_bench -f "$BENCH/sql/reset.sql" >/dev/null
	psql_bench -f "$BENCH/sql/settle.sql" >/dev/null
	relname=$(psql_bench -At -c "SELECT 'q_' || id FROM mq.objects WHERE name = 'q'")
	cat >"$WORKLOADS_DIR/hold.read.sql" <<'SQL'
-- read up to 10 and ack them in a second transaction, no waiting
SELECT coalesce(array_agg(receipt), '{}') AS r FROM mq_read('q', 10) \gset
SELECT mq_ack('q', :r::bigint[]);
SQL
	rm -f "$DIR"/runs/hold.read.[0-9]* "$DIR"/runs/hold.samples
	t0=$(date +%s.%N)
	# Samples: seconds since the start, sent, acked, dead tuples of q's table.
	(
		while :; do
			psql_bench -At -F ' ' -c "SELECT extract(epoch FROM clock_timestamp()) - $t0,
				(SELECT sent FROM mq_stats WHERE queue = 'q'), (SELECT acked FROM mq_stats WHERE queue = 'q'),
				(SELECT n_dead_tup FROM pg_stat_user_tables WHERE schemaname = 'mq' AND relname = '$relname')" \
				>>"$DIR/runs/hold.samples" 2>/dev/null || true
			sleep 1
		done
	) &
	sampler=$!
	(cd "$DIR/runs" && "$PGBIN/pgbench" -h "$SOCK" -p "$BENCH_PORT" -U postgres -n -M prepared \
		-T "$total" -c 2 -j 1 -R 800 -f "$WORKLOADS_DIR/send.queue.sql" "$DB" >hold.send.out 2>&1) &
	local producer=$!
	(cd "$DIR/runs" && "$PGBIN/pgbench" -h "$SOCK" -p "$BENCH_PORT" -U postgres -n -M prepared \
		-T "$total" -c 4 -j 1 -R 800 -l --log-prefix=hold.read -f "$WORKLOADS_DIR/hold.read.sql" "$DB" \
		>hold.read.out 2>&1) &
	local consumers=$!
	sleep "$PRE"
	echo "  holding an XID for $HOLD s"
	psql_bench -c "BEGIN" -c "SELECT txid_current()" -c "SELECT pg_sleep($HOLD)" -c "COMMIT" >/dev/null
	echo "  hold over"
	wait "$producer" "$consumers" || true
	kill "$sampler" 2>/dev/null || true
	wait "$sampler" 2>/dev/null || true

	# Delivered during the hold: acked / sent between the samples nearest to
	# its start and end.  Latency: consumer transactions (pgbench's own
	# figure, from the scheduled start) completed before the hold (after 5 s
	# of warm-up) and during it.
	cat "$DIR"/runs/hold.read.[0-9]* |
		awk -v t0="$t0" '{ print $5 + $6 / 1e6 - t0, $3 / 1000 }' >"$DIR/runs/hold.latency"
	awk -v pre="$PRE" -v hold="$HOLD" -v bullet="- " '
	function p99(list,   a, n, i, j, t) {
		n = split(list, a, " ")
		if (n == 0) return 0
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return a[int(n * 0.99) > 0 ? int(n * 0.99) : 1]
	}
	FILENAME ~ /samples$/ {
		if (s0 == "" && $1 >= pre) { s0 = $2; a0 = $3; d0 = $4 }
		if (s1 == "" && $1 >= pre + hold) { s1 = $2; a1 = $3; d1 = $4 }
		if ($4 + 0 > dmax) dmax = $4 + 0
		next
	}
	$1 >= 5 && $1 < pre { before = before " " $2 }
	$1 >= pre && $1 < pre + hold { during = during " " $2 }
	END {
		sent = s1 - s0; acked = a1 - a0
		pct = sent > 0 ? 100 * acked / sent : 0
		pb = p99(before); pd = p99(during)
		printf "%s%s  delivered during the hold: %.1f %% (%d of %d sent), target >= 95 %%\n", bullet, (pct >= 95 ? "PASS" : "FAIL"), pct, acked, sent
		printf "%s%s  read latency p99: %.2f ms before the hold, %.2f ms during it (%.2f x), target <= 2 x\n", bullet, (pb > 0 && pd <= 2 * pb ? "PASS" : "FAIL"), pb, pd, (pb > 0 ? pd / pb : 0)
		printf "%sdead tuples of the queue table: %d at the start of the hold, %d at its end, %d at most\n", bullet, d0, d1, dmax
	}' "$DIR/runs/hold.samples" "$DIR/runs/hold.latency" | tee -a "$OUT"
}

# --- browse -----------------------------------------------------------

# The server-side time of one statement, median of n runs, in ms.
median_ms() {	# n sql
	psql_bench -At <<SQL
CREATE TEMP TABLE IF NOT EXISTS timings (ms float8);
TRUNCATE timings;
DO \$\$
DECLARE
	t0 timestamptz;
BEGIN
	FOR i IN 1 .. $1 LOOP
		t0 := clock_timestamp();
		EXECUTE \$q\$ $2 \$q\$;
		INSERT INTO timings VALUES (extract(epoch FROM clock_timestamp() - t0) * 1000);
	END LOOP;
END \$\$;
SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2) FROM timings;
SQL
}

browse() {
	local n=$BROWSE_DEPTH first deep ready inflight delayed queues
	say ""
	say "## Browsing a queue of $n messages (mq_inspect, mq_queues)"
	say ""
	echo "  filling q with $n messages, 1000 of them leased and 1000 delayed"
	fill_q "$n"
	psql_bench -c "SELECT count(*) FROM mq_read('q', 1000, '1 hour')" \
		-c "SELECT count(*) FROM mq_send_batch('q', ARRAY(SELECT bench.body(g) FROM generate_series(1, 1000) AS g), delay => '1 day')" >/dev/null
	first=$(median_ms 20 "SELECT count(*) FROM mq_inspect('q', qty => 100)")
	deep=$(median_ms 20 "SELECT count(*) FROM mq_inspect('q', after_id => (random() * $n)::bigint, qty => 100)")
	ready=$(median_ms 20 "SELECT count(*) FROM mq_inspect('q', 'ready', after_id => (random() * $n / 2)::bigint, qty => 100)")
	inflight=$(median_ms 20 "SELECT count(*) FROM mq_inspect('q', 'inflight', qty => 100)")
	delayed=$(median_ms 5 "SELECT count(*) FROM mq_inspect('q', 'delayed', qty => 100)")
	queues=$(median_ms 5 "SELECT count(*) FROM mq_queues WHERE queue = 'q'")
	{
		echo "| statement (median, server time) | ms |"
		echo "|---|---:|"
		echo "| \`mq_inspect('q', qty => 100)\`: the first page | $first |"
		echo "| \`mq_inspect('q', after_id => <random>, qty => 100)\`: any page | $deep |"
		echo "| \`mq_inspect('q', 'ready', after_id => <random>, qty => 100)\` | $ready |"
		echo "| \`mq_inspect('q', 'inflight', qty => 100)\` (the leased ones are the oldest) | $inflight |"
		echo "| \`mq_inspect('q', 'delayed', qty => 100)\` (the delayed ones are the newest; through the delay index) | $delayed |"
		echo "| \`mq_queues\` for the queue | $queues |"
		echo ""
		awk -v f="$first" -v d="$deep" -v bullet="- " 'BEGIN {
			m = (f > d ? f : d)
			printf "%s%s  mq_inspect of 100 rows: %.2f ms at most, target < 5 ms\n", bullet, (m < 5 ? "PASS" : "FAIL"), m
		}'
		awk -v q="$queues" -v n="$n" -v bullet="- " 'BEGIN {
			printf "%s%s  mq_queues over %d messages: %.2f ms, target < 10 ms (at 10 000 000)\n", bullet, (q < 10 ? "PASS" : "FAIL"), n, q
		}'
	} | tee -a "$OUT"
}

# --- rate -------------------------------------------------------------

rate() {
	local samples="" i
	say ""
	say "## Rate limit: $RATE deliveries per second, 4 consumers, $RATE_SECONDS s"
	say ""
	psql_bench >/dev/null <<SQL
SELECT mq_drop_queue('r', if_exists => true);
SELECT mq_create_queue('r', rate_limit => $RATE);
SELECT count(*) FROM mq_send_batch('r', ARRAY(SELECT bench.body(g) FROM generate_series(1, $((RATE * RATE_SECONDS * 2))) AS g));
SQL
	{
		echo "SELECT coalesce(array_agg(receipt), '{}') AS r FROM mq_read('r', 10, wait => '1 second') \\gset"
		echo "SELECT mq_ack('r', :r::bigint[]);"
	} >"$WORKLOADS_DIR/rate.sql"
	pgbench_run rate -T "$RATE_SECONDS" -c 4 -j 2 -f "$WORKLOADS_DIR/rate.sql" &
	local bench=$!
	sleep 1
	for ((i = 0; i <= RATE_SECONDS - 2; i++)); do
		samples+="$(psql_bench -At -c "SELECT extract(epoch FROM clock_timestamp()), delivered FROM mq_stats WHERE queue = 'r'") "
		sleep 1
	done
	wait "$bench" || true
	echo "$samples" | tr ' ' '\n' | awk -F'|' -v rate="$RATE" -v bullet="- " 'NF == 2 {
		if (n > 0) {
			per = ($2 - d) / ($1 - t)
			if (per > max) max = per
			sum += $2 - d; secs += $1 - t
		}
		t = $1; d = $2; n++
	} END {
		mean = sum / secs
		printf "| deliveries per second | %.1f mean, %.1f the highest second (%d samples) |\n", mean, max, n - 1
		printf "\n%s%s  mean %.1f/s, %.2f %% from the limit %d/s, target within 2 %%\n", bullet,
			((mean - rate) / rate < 0.02 && (rate - mean) / rate < 0.02 ? "PASS" : "FAIL"), mean, 100 * (mean - rate) / rate, rate
		printf "%s%s  highest second %.1f, target at most the limit plus the burst, %d\n", bullet,
			(max <= 2 * rate ? "PASS" : "FAIL"), max, 2 * rate
	}' | tee -a "$OUT"
}

# --- groups -----------------------------------------------------------

# Queue $1, new, with $2 messages sent in batches of 100 000: message g in
# group 'g' || (g % $3) ($3 = 0: no groups), or with $4 (a SQL expression
# of g) as its group key.
fill_groups() {	# queue n groups [key-expression]
	local key=${4:-}
	if [ -z "$key" ]; then
		key="CASE WHEN $3 > 0 THEN 'g' || (g % greatest($3, 1)) END"
	fi
	psql_bench >/dev/null <<SQL
SELECT mq_drop_queue('$1', if_exists => true);
SELECT mq_create_queue('$1');
SQL
	psql_bench -At -c "SELECT format('SELECT count(*) FROM mq_send_batch(%L, ARRAY(SELECT bench.body(g) FROM generate_series(%s, %s) AS g), group_keys => ARRAY(SELECT %s FROM generate_series(%s, %s) AS g));', '$1', i, least(i + 99999, $2), \$k\$$key\$k\$, i, least(i + 99999, $2)) FROM generate_series(1, $2, 100000) AS i" |
		psql_bench >/dev/null
	psql_bench -f "$BENCH/sql/settle.sql" >/dev/null
}

# Read + ack 10 messages of queue $1 in one transaction.
ack_script() {	# queue
	echo "SELECT mq_ack('$1', coalesce(array_agg(receipt), '{}')) FROM mq_read('$1', 10);" \
		>"$WORKLOADS_DIR/groups.ack.$1.sql"
	echo "$WORKLOADS_DIR/groups.ack.$1.sql"
}

# Messages per second of a read + ack run (each transaction handles 10).
ack_rate() {	# log-name queue clients
	pgbench_run "$1" -T "$SECONDS_PER_RUN" -c "$3" -j "$(($3 > 1 ? 2 : 1))" -f "$(ack_script "$2")"
	awk -v t="$(tps_of "$1")" 'BEGIN { printf "%.0f", t * 10 }'
}

# A pass/fail line: ratio a/b against a lower bound (at least) or an upper
# one (at most).
ratio_line() {	# label a b bound at-least|at-most
	awk -v l="$1" -v a="$2" -v b="$3" -v t="$4" -v how="$5" -v bullet="- " 'BEGIN {
		r = a / b
		ok = how == "at-least" ? r >= t : r <= t
		printf "%s%s  %s: %.2f x, target %s %s\n", bullet, (ok ? "PASS" : "FAIL"), l, r, (how == "at-least" ? ">=" : "<="), t
	}' | tee -a "$OUT"
}

groups() {
	local plain grouped send_many send_few many few small hot
	say ""
	say "## Message groups"
	say ""
	echo "  grouped against ungrouped: filling"
	fill_groups gq_plain 500000 0
	fill_groups gq_10k 500000 10000
	plain=$(ack_rate groups.plain gq_plain 4)
	grouped=$(ack_rate groups.10k gq_10k 4)
	say "| read + ack, batch 10, 4 consumers | msg/s |"
	say "|---|---:|"
	say "| 500 000 messages, no groups | $plain |"
	say "| 500 000 messages in 10 000 groups | $grouped |"
	say ""
	ratio_line "grouped (10 000 groups) against ungrouped read + ack" "$grouped" "$plain" 0.8 at-least
	printf 'read + ack (4 consumers)\t%s\t%s\n' "$plain" "$grouped" >"$DIR/runs/groups.tsv"

	echo "  1 000 000 groups against 10: filling"
	local q n
	for q in many:999999 few:9; do
		n=${q#*:}
		q=${q%:*}
		printf '%s\n' "\\set g random(0, $n)" \
			"SELECT mq_send('gq_$q', bench.body(1), group_key => 'g' || :g);" \
			>"$WORKLOADS_DIR/groups.send.$q.sql"
	done
	fill_groups gq_many 1000000 1000000
	fill_groups gq_few 1000000 10
	pgbench_run groups.send.many -T "$SECONDS_PER_RUN" -c 8 -j 2 -f "$WORKLOADS_DIR/groups.send.many.sql"
	pgbench_run groups.send.few -T "$SECONDS_PER_RUN" -c 8 -j 2 -f "$WORKLOADS_DIR/groups.send.few.sql"
	send_many=$(tps_of groups.send.many)
	send_few=$(tps_of groups.send.few)
	many=$(ack_rate groups.many gq_many 1)
	few=$(ack_rate groups.few gq_few 1)
	say ""
	say "| 1 000 000 messages | send msg/s (8 clients) | read + ack msg/s (1 consumer) |"
	say "|---|---:|---:|"
	say "| in 1 000 000 groups | ${send_many%.*} | $many |"
	say "| in 10 groups | ${send_few%.*} | $few |"
	say ""
	ratio_line "send, 10 groups against 1 000 000" "$send_few" "$send_many" 1.2 at-most
	ratio_line "read + ack, 10 groups against 1 000 000" "$few" "$many" 1.2 at-most
	printf 'send (8 clients)\t%s\t%s\nread + ack (1)\t%s\t%s\n' \
		"${send_many%.*}" "${send_few%.*}" "$many" "$few" >>"$DIR/runs/groups.tsv"

	echo "  a hot group: filling"
	fill_groups gq_small 200000 1000
	fill_groups gq_hot 1200000 0 "CASE WHEN g <= 1000000 THEN 'hot' ELSE 'g' || (g % 1000) END"
	small=$(ack_rate groups.small gq_small 1)
	hot=$(ack_rate groups.hot gq_hot 1)
	say ""
	say "| 1000 groups of 200, read + ack (1 consumer) | msg/s |"
	say "|---|---:|"
	say "| alone | $small |"
	say "| beside a group of 1 000 000 | $hot |"
	say ""
	ratio_line "the small groups, alone against beside the hot one" "$small" "$hot" 1.2 at-most
	printf 'small groups (1)\t%s\t%s\n' "$small" "$hot" >>"$DIR/runs/groups.tsv"

	echo "  fairness: filling"
	fill_groups gq_fair 1000000 0 "CASE WHEN g <= 900000 THEN 'big' ELSE 'g' || (g % 9) END"
	psql_bench -At -c "SELECT group_key, ready FROM mq_message_groups WHERE queue = 'gq_fair' ORDER BY group_key COLLATE \"C\"" >"$DIR/runs/groups.fair.before"
	pgbench_run groups.fair -T 5 -c 4 -j 2 -f "$(ack_script gq_fair)"
	psql_bench -At -c "SELECT group_key, ready + inflight FROM mq_message_groups WHERE queue = 'gq_fair' ORDER BY group_key COLLATE \"C\"" >"$DIR/runs/groups.fair.after"
	say ""
	LC_ALL=C join -t"|" "$DIR/runs/groups.fair.before" "$DIR/runs/groups.fair.after" |
		awk -F'|' '{ print $1 "|" $2 - $3 }' >"$DIR/runs/groups.fair"
	awk -F'|' -v bullet="- " '{ k[++n] = $1; d[n] = $2; sum += d[n]; sq += d[n] * d[n] }
		END {
			print "| group | deliveries in 5 s | share of equal |"
			print "|---|---:|---:|"
			worst = 0
			for (i = 1; i <= n; i++) {
				share = d[i] / (sum / n)
				if ((share > 1 ? share - 1 : 1 - share) > worst) worst = (share > 1 ? share - 1 : 1 - share)
				printf "| %s | %d | %.3f |\n", k[i], d[i], share
			}
			printf "\n%s%s  the biggest share off equal: %.1f %%, target within 10 %%; Jain'"'"'s index %.4f\n", bullet,
				(worst <= 0.10 ? "PASS" : "FAIL"), 100 * worst, sum * sum / (n * sq)
		}' "$DIR/runs/groups.fair" | tee -a "$OUT"
	"$BENCH/charts-groups.sh" "$DIR/runs" "$DIR"
	say ""
	say "Charts: $DIR/groups.png, $DIR/groups-fairness.png"
}

# --- memory -----------------------------------------------------------

memory() {
	local pid="" i rss samples=""
	say ""
	say "## Backend memory over $CALLS transactions calling every function"
	say ""
	psql_bench >/dev/null <<'SQL'
SELECT mq_drop_queue('m', if_exists => true);
SELECT mq_drop_queue('mt_sub', if_exists => true);
SELECT mq_drop_topic('mt', if_exists => true);
SELECT mq_drop_stream('ms', if_exists => true);
SELECT mq_create_queue('m');
SELECT mq_create_queue('mt_sub');
SELECT mq_create_topic('mt');
SELECT mq_subscribe('mt', 'mt_sub', 'order.#');
SELECT mq_create_stream('ms', partitions => 2);
SELECT mq_create_group('ms', 'g');
SQL
	cat >"$WORKLOADS_DIR/memory.sql" <<'SQL'
-- every function once per transaction
BEGIN;
SELECT mq_send('m', '{"n": 1}', '{"h": 1}');
SELECT count(*) FROM mq_send_batch('m', ARRAY['{"n": 2}', '{"n": 3}']::jsonb[]);
SELECT receipt AS r1 FROM mq_read('m', 1) \gset
SELECT mq_extend('m', :r1, '30 s');
SELECT mq_nack('m', :r1);
SELECT count(*) FROM mq_peek('m', 3);
SELECT coalesce(array_agg(receipt), '{}') AS r FROM mq_read('m', 10) \gset
SELECT mq_ack('m', :r::bigint[]);
SELECT count(*) FROM mq_pop('m', 10);
SELECT mq_publish('mt', 'order.created', '{"n": 4}');
SELECT count(*) FROM mq_pop('mt_sub', 10);
SELECT * FROM mq_append('ms', '{"n": 5}', key => 'k');
SELECT count(*) FROM mq_append_batch('ms', ARRAY['{"n": 6}', '{"n": 7}']::jsonb[]);
SELECT count(*) FROM mq_stream_read('ms', 0, 0, 2);
SELECT count(*) FROM mq_consume('ms', 'g', 10);
COMMIT;
SELECT count(*) FROM mq_queues;
SELECT count(*) FROM mq_stats;
SQL
	(cd "$DIR/runs" && "$PGBIN/pgbench" -h "$SOCK" -p "$BENCH_PORT" -U postgres -n -M prepared \
		-t "$CALLS" -c 1 -f "$WORKLOADS_DIR/memory.sql" "$DB" >memory.out 2>&1) &
	local bench=$!
	for i in $(seq 1 50); do
		pid=$(psql_bench -At -c "SELECT pid FROM pg_stat_activity WHERE application_name = 'pgbench' AND datname = '$DB' LIMIT 1")
		[ -n "$pid" ] && break
		sleep 0.2
	done
	if [ -z "$pid" ]; then
		say "- FAIL  memory: no pgbench backend found"
		wait "$bench" || true
		return
	fi
	# RssAnon (kB) every 2 s until the end.
	while kill -0 "$bench" 2>/dev/null; do
		rss=$(awk '/^RssAnon:/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
		[ -n "$rss" ] && samples="$samples$rss"$'\n'
		sleep 2
	done
	wait "$bench" || true
	echo "$samples" >"$DIR/runs/memory.samples"
	awk -v calls="$CALLS" -v bullet="- " 'NF == 1 { n++; rss[n] = $1 }
	END {
		if (n < 3) { printf "%sFAIL  memory: too few samples (%d); raise BENCH_LONG_CALLS\n", bullet, n; exit }
		w = int(n / 10) + 1
		printf "%sRssAnon of the backend: %d kB after warm-up (sample %d of %d), %d kB at the end\n", bullet, rss[w], w, n, rss[n]
		growth = rss[n] - rss[w]
		printf "%s%s  memory grew by %d kB after warm-up over %d transactions, target: flat (< 1 MB)\n", bullet, (growth < 1024 ? "PASS" : "FAIL"), growth, calls
	}' "$DIR/runs/memory.samples" | tee -a "$OUT"
}

# --- schedules --------------------------------------------------------

schedules() {
	local run minute mm hh wait rows=""
	say ""
	say "## $SCHEDULES schedules due at the same minute"
	say ""
	for run in 1 2 3; do
		psql_bench -c "SELECT mq_drop_queue('tick', if_exists => true)" \
			-c "SELECT mq_create_queue('tick')" >/dev/null
		# The first whole minute at least 40 s away, in UTC.
		minute=$(psql_bench -At -c "SELECT extract(epoch FROM date_trunc('minute', clock_timestamp() + interval '100 seconds'))::bigint")
		read -r mm hh < <(psql_bench -At -F ' ' -c "SELECT extract(minute FROM to_timestamp($minute) AT TIME ZONE 'UTC'), extract(hour FROM to_timestamp($minute) AT TIME ZONE 'UTC')")
		psql_bench -c "SELECT count(mq_create_schedule('tick_' || i, '$mm $hh * * *', 'tick', jsonb_build_object('i', i))) FROM generate_series(1, $SCHEDULES) i" >/dev/null
		wait=$((minute - $(date +%s)))
		echo "  run $run: $SCHEDULES schedules due in $wait s"
		sleep $((wait > 0 ? wait : 0))
		until [ "$(psql_bench -At -c "SELECT count(*) FROM mq_schedules WHERE schedule LIKE 'tick\_%' AND runs > 0")" = "$SCHEDULES" ]; do
			sleep 0.5
		done
		rows="$rows$(psql_bench -At -F ' ' -c "
			WITH l AS (SELECT extract(epoch FROM enqueued_at - (headers->'mq_schedule'->>'at')::timestamptz) AS lag,
			                  enqueued_at FROM mq_peek('tick', 10000))
			SELECT count(*),
			       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY lag)::numeric, 3),
			       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY lag)::numeric, 3),
			       round(max(lag)::numeric, 3),
			       round(count(*) / greatest(extract(epoch FROM max(enqueued_at) - min(enqueued_at)), 0.001))
			  FROM l")"$'\n'
		echo "  run $run: $(echo "$rows" | tail -2 | head -1)"
	done
	psql_bench -c "SELECT mq_drop_queue('tick')" >/dev/null
	echo "$rows" | awk -v bullet="- " -v n_sched="$SCHEDULES" 'NF == 5 { c[++n] = $1; p50[n] = $2; p99[n] = $3; mx[n] = $4; rps[n] = $5 }
	function median(a,   t, i, j, x) { for (i = 1; i <= n; i++) t[i] = a[i]; for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (t[j] < t[i]) { x = t[i]; t[i] = t[j]; t[j] = x }; return t[int((n + 1) / 2)] }
	END {
		print "| run | runs | lag p50 s | lag p99 s | lag max s | runs/s |"
		print "|---:|---:|---:|---:|---:|---:|"
		ok = 1
		for (i = 1; i <= n; i++) { printf "| %d | %d | %.3f | %.3f | %.3f | %d |\n", i, c[i], p50[i], p99[i], mx[i], rps[i]; if (c[i] != n_sched) ok = 0 }
		print ""
		printf "%s%s  every schedule ran once in each run\n", bullet, (ok ? "PASS" : "FAIL")
		printf "%s%s  lag p99 %.3f s (median of %d runs), target <= 1 s (one naptime); p50 %.3f s; %d runs/s\n", bullet, (median(p99) <= 1 ? "PASS" : "FAIL"), median(p99), n, median(p50), median(rps)
	}' | tee -a "$OUT"
}

trap 'stop_server' EXIT
trap 'exit 130' INT TERM

echo "starting the benchmark server (port $BENCH_PORT, data in $DATA)"
init_server
start_server
create_db
write_workloads
{
	echo "# queue long benchmarks"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores; load average at the start $(cut -d' ' -f1-3 /proc/loadavg)."
} | as_pg tee "$OUT" >/dev/null
chmod a+w "$OUT"
for s in $SCENARIOS; do
	case $s in
		growth | hold | memory | browse | rate | groups | schedules) "$s" ;;
		*) echo "unknown scenario: $s (growth hold memory browse rate groups schedules)" >&2; exit 2 ;;
	esac
done
echo
echo "results written to $OUT"
exit 0
