#!/usr/bin/env bash
# Run every test suite and print one last line: "N passed, M failed".
#
#   pg_regress   test/sql + test/expected   (one private server)
#   isolation    test/specs                 (one private server)
#   pgTAP        test/pgtap                 (one private server, pg_prove)
#   pgmq         test/pgmq                  (the pgmq layer: pg_regress, one private server)
#   TAP          test/t                     (each test starts its own servers)
#   fuzz         test/fuzz                  (src/match.c's and src/cron.c's properties, no server)
#   layers       src/                       (no include upwards, no cycle: scripts/check-layers.sh)
#   deb          debian/                    (build the package, test it in a fresh cluster)
#   upgrade      test/upgrade               (pg_upgrade and pg_dump from an older major
#                                            version: 15 to 18 and 19, in their root)
#
# Servers run as the postgres user; all output goes to $QUEUE_TMP/test.
# Pass suite names (regress isolation pgtap pgmq tap fuzz layers deb upgrade) to run only those, TAP
# test files with PROVE_TESTS="001_x.pl 002_y.pl", pg_regress or isolation
# tests with REGRESS_TESTS="name1 name2", and another output
# directory with QUEUE_TEST_OUT.
set -uo pipefail
. "$(dirname "$0")/env.sh"
cd "$QUEUE_ROOT"

OUT=${QUEUE_TEST_OUT:-$QUEUE_TMP/test}
# The major version a cluster of $PG is upgraded from in the upgrade suite:
# 15, installed beside 18 and 19 in their root (scripts/roots.sh).  The
# host's 15 is the oldest supported version, and trixie's root has no
# older one, so 15 and 17 have no upgrade suite.
case $PG in
	18 | 19) UPGRADE_FROM=15 ;;
	*) UPGRADE_FROM= ;;
esac
SUITES=${*:-layers regress isolation pgtap pgmq tap fuzz deb ${UPGRADE_FROM:+upgrade}}
PASSED=0
FAILED=0

# The postgres user reads the tests from a copy, wherever the checkout is;
# the documentation too, whose examples test/t/024_docs.pl runs.
as_pg mkdir -p "$OUT"
TEST=$OUT/src.$$
rm -rf "$TEST"
cp -r test "$TEST"
cp -r examples "$TEST/examples"
cp -r contrib "$TEST/contrib"
mkdir -p "$TEST/docs-src/docs"
cp README.md "$TEST/docs-src/"
cp docs/*.md "$TEST/docs-src/docs/"
chown -R "$PG_USER": "$TEST" 2>/dev/null || true
trap 'rm -rf "$TEST"' EXIT

record() {	# suite passed failed
	PASSED=$((PASSED + $2))
	FAILED=$((FAILED + $3))
	printf '%-10s %d passed, %d failed\n' "$1:" "$2" "$3"
}

# pg_regress and pg_isolation_regress print one line per test: "... ok" /
# "... FAILED" up to 15, TAP's "ok N - name" / "not ok N - name" from 16 on.
count_regress() {	# suite logfile status
	local ok bad
	ok=$(grep -cE '\.\.\. ok|^ok [0-9]+ ' "$2")
	bad=$(grep -cE '\.\.\. (FAILED|failed)|^not ok [0-9]+ ' "$2")
	if [ "$3" != 0 ] && [ "$bad" = 0 ]; then bad=1; fi
	record "$1" "$ok" "$bad"
}

# prove and pg_prove end with "Files=F, Tests=T"; failing files are listed
# in the summary report with "Failed: n" (or a bad exit status / plan).
count_tap() {	# suite logfile status
	local tests bad
	tests=$(sed -n 's/^Files=[0-9]*, Tests=\([0-9]*\).*/\1/p' "$2" | tail -1)
	tests=${tests:-0}
	bad=$(awk '/^Test Summary Report/ {r=1} r && /\(Wstat: / {
			n = 0
			if (match($0, /Failed: [0-9]+/)) n = substr($0, RSTART + 8, RLENGTH - 8) + 0
			bad += (n > 0 ? n : 1)
		} END {print bad + 0}' "$2")
	if [ "$3" != 0 ] && [ "$bad" = 0 ]; then bad=1; fi
	if [ "$bad" -gt "$tests" ]; then tests=$bad; fi
	record "$1" $((tests - bad)) "$bad"
}

# pg_regress and pg_isolation_regress take the same options.
run_regress_suite() {	# suite driver listdir extension port [inputdir]
	local suite=$1 driver=$2 dir=$OUT/$1 input=${6:-$TEST} tests status
	tests=${REGRESS_TESTS:-$(cd "$input/$3" && ls *."$4" | sed "s/\.$4\$//" | sort | tr '\n' ' ')}
	rm -rf "$dir"; as_pg mkdir -p "$dir"
	as_pg "$driver" \
		--bindir="$PGBIN" --inputdir="$input" --outputdir="$dir" \
		--temp-instance="$dir/instance" --temp-config="$TEST/queue.conf" \
		--port="$5" --dbname="queue_$suite" \
		--load-extension=queue $tests >"$dir/output" 2>&1
	status=$?
	cat "$dir/output"
	[ -f "$dir/regression.diffs" ] && head -200 "$dir/regression.diffs"
	count_regress "$suite" "$dir/output" $status
}

run_regress() {
	run_regress_suite regress "$PGXS_DIR/src/test/regress/pg_regress" sql sql "$REGRESS_PORT"
}

run_isolation() {
	run_regress_suite isolation "$PGXS_DIR/src/test/isolation/pg_isolation_regress" specs spec "$ISOLATION_PORT"
}

# The pgmq layer (pgmq/, docs/pgmq.md): its own pg_regress files in
# test/pgmq, each creating the extension.
run_pgmq() {
	run_regress_suite pgmq "$PGXS_DIR/src/test/regress/pg_regress" sql sql "$PGMQ_PORT" "$TEST/pgmq"
}

run_pgtap() {
	local dir=$OUT/pgtap status
	rm -rf "$dir"; as_pg mkdir -p "$dir/sock"
	as_pg "$PGBIN/initdb" -D "$dir/data" -A trust -U postgres --no-sync >"$dir/initdb.log" 2>&1
	as_pg tee -a "$dir/data/postgresql.conf" >/dev/null <<CONF
port = $PGTAP_PORT
listen_addresses = ''
unix_socket_directories = '$dir/sock'
CONF
	as_pg tee -a "$dir/data/postgresql.conf" <"$TEST/queue.conf" >/dev/null
	as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
	as_pg "$PGBIN/psql" -X -q -h "$dir/sock" -p "$PGTAP_PORT" -U postgres -d postgres \
		-c "CREATE DATABASE queue_pgtap" >/dev/null
	as_pg "$PGBIN/psql" -X -q -h "$dir/sock" -p "$PGTAP_PORT" -U postgres -d queue_pgtap \
		-c "CREATE EXTENSION pgtap; CREATE EXTENSION queue" >/dev/null
	as_pg pg_prove -h "$dir/sock" -p "$PGTAP_PORT" -U postgres -d queue_pgtap \
		"$TEST"/pgtap/*.sql >"$dir/output" 2>&1
	status=$?
	as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
	cat "$dir/output"
	count_tap pgtap "$dir/output" $status
}

# TAP test files run by prove as the postgres user, with the settings of
# PostgreSQL's TAP framework and then more (VAR=value) before the files.
run_prove() {	# suite dir [VAR=value ...] files...
	local suite=$1 dir=$2 status vars=()
	shift 2
	while [ $# -gt 0 ] && [[ $1 == [A-Z]*=* ]]; do
		vars+=("$1")
		shift
	done
	# TESTDIR up to 15, TESTDATADIR and TESTLOGDIR from 16 on: the same place.
	as_pg env PATH="$PGBIN:$PATH" TESTDIR="$dir" PG_REGRESS="$PGXS_DIR/src/test/regress/pg_regress" \
		TESTDATADIR="$dir/tmp_check" TESTLOGDIR="$dir/tmp_check/log" \
		QUEUE_ROOT="$QUEUE_ROOT" QUEUE_EXAMPLES="$TEST/examples" \
		QUEUE_DOCS="$TEST/docs-src" "${vars[@]}" \
		prove -I "$PGXS_DIR/src/test/perl" -I "$TEST/t" ${PROVE_FLAGS:-} "$@" >"$dir/output" 2>&1
	status=$?
	cat "$dir/output"
	count_tap "$suite" "$dir/output" $status
}

# The TAP files that assert how soon something happens (a long poll woken,
# a worker's round, a schedule's time) run alone; the others, two at a time
# (they mostly wait on their servers), before them.
TAP_ALONE="006 040 041 042 044 045 047 051 060"

run_tap() {
	local dir=$OUT/tap tests="" t alone="" together=""
	rm -rf "$dir"; as_pg mkdir -p "$dir"
	if [ -n "${PROVE_TESTS:-}" ]; then
		for t in $PROVE_TESTS; do
			case $t in /*) tests="$tests $t" ;; *) tests="$tests $TEST/t/$t" ;; esac
		done
		run_prove tap "$dir" $tests
		return
	fi
	for t in "$TEST"/t/*.pl; do
		case " $TAP_ALONE " in
			*" $(basename "$t" | cut -c1-3) "*) alone="$alone $t" ;;
			*) together="$together $t" ;;
		esac
	done
	as_pg mkdir -p "$dir/together" "$dir/alone"
	PROVE_FLAGS="${PROVE_FLAGS:-} -j2" run_prove tap "$dir/together" $together
	run_prove tap-alone "$dir/alone" $alone
}

# A cluster of version $UPGRADE_FROM with the extension, upgraded to $PG
# with pg_upgrade and restored from pg_dump: the extension is built for the
# old version in a copy of the tree (the tree's objects are this version's).
run_upgrade() {
	local dir=$OUT/upgrade old=/usr/lib/postgresql/$UPGRADE_FROM
	rm -rf "$dir"; as_pg mkdir -p "$dir"
	if [ -z "$UPGRADE_FROM" ] || [ ! -x "$old/bin/pg_config" ]; then
		echo "upgrade: no older PostgreSQL to upgrade from beside $PG" >&2
		record upgrade 0 1
		return
	fi
	mkdir -p "$dir/build"
	cp -r Makefile queue.control queue_proxy.control proxy src sql "$dir/build/"
	mkdir -p "$dir/build/scripts" && cp scripts/gen-proxy.pl "$dir/build/scripts/"
	rm -f "$dir/build/src/"*.o "$dir/build/src/cflags.stamp"
	if ! make -C "$dir/build" PG_CONFIG="$old/bin/pg_config" install >"$dir/build.log" 2>&1; then
		tail -20 "$dir/build.log"
		record upgrade 0 1
		return
	fi
	run_prove upgrade "$dir" QUEUE_OLD_INSTALL="$old" PG="$PG" "$TEST"/upgrade/*.pl
}

# The fuzz target as a plain program: seed corpus plus generated inputs.
run_fuzz() {
	local dir=$OUT/fuzz status
	rm -rf "$dir"; mkdir -p "$dir"
	FUZZ_OUT=$dir ./scripts/fuzz.sh smoke >"$dir/output" 2>&1
	status=$?
	cat "$dir/output"
	if [ "$status" = 0 ]; then record fuzz 1 0; else record fuzz 0 1; fi
}

# The layers of src/: one check.
run_layers() {
	if ./scripts/check-layers.sh; then record layers 1 0; else record layers 0 1; fi
}

# The Debian package: scripts/deb-test.sh ends with "deb: N passed, M failed".
run_deb() {
	local dir=$OUT/deb status passed failed
	rm -rf "$dir"; as_pg mkdir -p "$dir"
	DEB_TEST_DIR="$dir/work" ./scripts/deb-test.sh >"$dir/output" 2>&1
	status=$?
	cat "$dir/output"
	passed=$(sed -n 's/^deb: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p' "$dir/output" | tail -1)
	failed=$(sed -n 's/^deb: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p' "$dir/output" | tail -1)
	passed=${passed:-0}; failed=${failed:-0}
	if [ "$status" != 0 ] && [ "$failed" = 0 ]; then failed=1; fi
	record deb "$passed" "$failed"
}

for suite in $SUITES; do
	echo "=== $suite"
	case $suite in
		regress) run_regress ;;
		isolation) run_isolation ;;
		pgtap) run_pgtap ;;
		pgmq) run_pgmq ;;
		tap) run_tap ;;
		fuzz) run_fuzz ;;
		layers) run_layers ;;
		deb) run_deb ;;
		upgrade) run_upgrade ;;
		*) echo "unknown suite $suite" >&2; exit 2 ;;
	esac
done

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
