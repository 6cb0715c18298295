#!/usr/bin/env bash
# A/B by instruction counts: the CPU work of the hot paths, built from the
# working tree ("new") and from an older commit ("old"), counted by
# valgrind's callgrind in a single-user backend.  Unlike timings on a shared
# machine, the counts repeat exactly for the same build and input, so a
# difference of a few percent is a real one.  They say nothing of waiting
# (WAL flushes, locks, contention): bench/compare.sh measures that.
#
#   ./bench/instructions.sh <git-rev>
#   INSTR_OPS=500 ./bench/instructions.sh 5f8e4dc
#
# For each build: make install, a fresh cluster (library preloaded), the
# fixture (a queue, a stream of one partition with a group, records to
# read), then each workload as one single-user session under callgrind,
# less an empty session's count, divided by the operations it did.
# Workloads (INSTR_OPS operations each, default 200): send (one mq_send per
# statement), read + ack (mq_read of one, then its mq_ack), append (one
# mq_append), consume (mq_consume of 1000 records), stream read
# (mq_stream_read of 1000 records).  Prints instructions per operation and
# new/old; ends by installing the working tree's build again.
#
# While it runs, the extension installed on this machine is at times the
# old build: do not run the tests or the demo meanwhile.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [ $# != 1 ]; then
	echo "usage: $0 <git-rev>" >&2
	exit 2
fi
OLD_REV=$(git -C "$QUEUE_ROOT" rev-parse --verify --quiet "$1^{commit}") || {
	echo "instructions: $1 is not a commit" >&2
	exit 2
}
command -v valgrind >/dev/null || {
	echo "instructions: valgrind is needed (apt-get install valgrind)" >&2
	exit 2
}
OPS=${INSTR_OPS:-200}
DIR=$QUEUE_TMP/instructions
OLD_TREE=$DIR/old
INSTALLED=""

finish() {
	local status=$?
	set +e
	if [ -n "$INSTALLED" ]; then
		echo "installing the working tree's build again"
		make -C "$QUEUE_ROOT" -s install >/dev/null ||
			echo "instructions: reinstalling the working tree's build FAILED; run make install" >&2
	fi
	remove_worktree "$OLD_TREE"
	exit "$status"
}
trap finish EXIT
trap 'exit 130' INT TERM

# The statements of each workload, one per line (single-user mode ends a
# statement at the end of its line).
workload_sql() {	# workload
	local i
	if [ "$1" = empty ]; then
		echo "SELECT 1;"
		return
	fi
	for i in $(seq "$OPS"); do
		case $1 in
			send) echo "SELECT mq_send('q', '{\"order\": $i, \"customer\": \"c-000042\", \"sku\": \"SKU-12345-XL\", \"qty\": 3}');" ;;
			read_ack) echo "SELECT mq_ack('q', receipt) FROM mq_read('q', 1);" ;;
			append) echo "SELECT * FROM mq_append('s', '{\"order\": $i, \"customer\": \"c-000042\"}');" ;;
			consume) echo "SELECT count(*) FROM mq_consume('s', 'g', 1000);" ;;
			stream_read) echo "SELECT count(*) FROM mq_stream_read('s', 0, $(( (i - 1) % 100 * 1000 )), 1000);" ;;
		esac
	done
}

# The fixture: OPS messages to read and ack, a stream of OPS x 1000
# records for the consumes (made afresh for each workload).
FIXTURE="CREATE EXTENSION queue;
SELECT mq_create_queue('q');
SELECT count(*) FROM mq_send_batch('q', ARRAY(SELECT jsonb_build_object('n', g) FROM generate_series(1, $OPS) g));
SELECT mq_create_stream('s');
SELECT count(*) FROM mq_append_batch('s', ARRAY(SELECT jsonb_build_object('n', g, 'pad', repeat('x', 60)) FROM generate_series(1, $((OPS * 1000))) g));
SELECT mq_create_group('s', 'g');
CHECKPOINT;"

single() {	# data dir, then postgres options; statements on stdin
	local data=$1
	shift
	as_pg "$@" --single -D "$data" -c shared_preload_libraries=queue -c fsync=off \
		-c max_prepared_transactions=0 postgres >/dev/null 2>>"$DIR/single.log"
}

# Instructions of one workload on the installed build.
count() {	# build workload
	local data=$DIR/data.$1 out=$DIR/callgrind.$1.$2
	rm -rf "$data"
	as_pg "$PGBIN/initdb" -D "$data" -A trust -U postgres --no-sync >/dev/null
	echo "$FIXTURE" | single "$data" "$PGBIN/postgres"
	workload_sql "$2" | single "$data" valgrind --tool=callgrind --callgrind-out-file="$out" \
		--trace-children=no "$PGBIN/postgres"
	sed -n 's/^summary: \([0-9]*\).*/\1/p' "$out"
}

as_pg mkdir -p "$DIR"
: >"$DIR/single.log"
chmod a+w "$DIR/single.log"
echo "building the working tree"
make -C "$QUEUE_ROOT" -s >/dev/null
remove_worktree "$OLD_TREE"
git -C "$QUEUE_ROOT" worktree add --quiet --detach "$OLD_TREE" "$OLD_REV"
echo "building $(git -C "$QUEUE_ROOT" rev-parse --short "$OLD_REV") in $OLD_TREE"
make -C "$OLD_TREE" -s >/dev/null

WORKLOADS="send read_ack append consume stream_read"
declare -A IR
for build in old new; do
	if [ "$build" = old ]; then dir=$OLD_TREE; else dir=$QUEUE_ROOT; fi
	INSTALLED=$build
	make -C "$dir" -s install >/dev/null
	base=$(count "$build" empty)
	for w in $WORKLOADS; do
		IR[$build.$w]=$(( ($(count "$build" "$w") - base) / OPS ))
		echo "  $build $w: ${IR[$build.$w]} instructions per operation"
	done
done

echo
echo "old = $(git -C "$QUEUE_ROOT" rev-parse --short "$OLD_REV"), new = the working tree ($(git -C "$QUEUE_ROOT" rev-parse --short HEAD)$(git -C "$QUEUE_ROOT" diff --quiet HEAD -- src sql || echo ' with changes'))"
echo
echo "| workload ($OPS operations) | old instructions/op | new instructions/op | new/old |"
echo "|---|---:|---:|---:|"
for w in $WORKLOADS; do
	awk -v w="$w" -v o="${IR[old.$w]}" -v n="${IR[new.$w]}" \
		'BEGIN { printf "| %s | %d | %d | %.3f |\n", w, o, n, n / o }'
done
