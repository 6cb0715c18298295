#!/usr/bin/env bash
# The pg_regress suite (test/sql + test/expected) with every server process
# under Valgrind's memcheck.  Slow: expect tens of minutes.
#
#   1. build the extension in the checkout with VALGRIND_CFLAGS (default
#      -O0 -g -fno-omit-frame-pointer -DUSE_VALGRIND -DUSE_ASSERT_CHECKING:
#      exact stacks, the valgrind client requests of utils/memdebug.h in
#      the extension's own code, assertions as for "make test"; the next
#      plain "make" rebuilds, as for any change of QUEUE_CFLAGS);
#   2. copy the PostgreSQL installation (bin, lib, share) under
#      $OUT/root and install the extension there with DESTDIR, leaving the
#      system-wide installation alone;
#   3. replace the copy's postgres binary by a wrapper that runs it under
#      valgrind (initdb's bootstrap and single-user runs and "postgres -V"
#      run it as it is), with test/valgrind.supp and one log per process;
#   4. run pg_regress as scripts/test.sh does (temporary instance,
#      test/queue.conf, the library preloaded), on port $VALGRIND_PORT;
#   5. read the logs and report every error, with its stack, saying which
#      involve the extension's code (src/*.c frames).
#
# Valgrind stops a process that had errors with exit status 128, which the
# postmaster takes for a crash: the tests running then fail too.
#
# Limits: Debian's server is not built with USE_VALGRIND, so memory
# contexts do not tell Valgrind about palloc chunks: a context's blocks
# come from malloc and Valgrind sees only those.  Reads or writes past the
# end of a chunk but inside its block, use of a pfree'd chunk, and stale
# bytes in a recycled chunk (they look initialised) go unnoticed.  Still
# checked: uninitialised bytes that were never written since malloc
# (origins tracked), accesses outside any block, malloc'd memory, bad
# system call arguments, overlapping copies.
# The server binary is stripped: its frames are named from its exported
# symbols only, static functions are shown as a neighbouring one or "???".
#
# Environment: VALGRIND_PORT (55447), REGRESS_TESTS ("name1 name2": only
# those), VALGRIND_OPTS (more valgrind options), VALGRIND_SUPP (another
# suppression file), VALGRIND_CFLAGS,
# QUEUE_VALGRIND_OUT (output directory, default $QUEUE_TMP/valgrind).
# The last line says PASS or FAIL; the exit status agrees.
set -uo pipefail
. "$(dirname "$0")/env.sh"
cd "$QUEUE_ROOT"

PORT=${VALGRIND_PORT:-55447}
OUT=${QUEUE_VALGRIND_OUT:-$QUEUE_TMP/valgrind}
CFLAGS_VG=${VALGRIND_CFLAGS:--O0 -g -fno-omit-frame-pointer -DUSE_VALGRIND -DUSE_ASSERT_CHECKING}
ROOT=$OUT/root
LOGS=$OUT/logs
SUPP=$OUT/valgrind.supp

die() { echo "valgrind: $*" >&2; echo "valgrind: FAIL"; exit 1; }

if ! command -v valgrind >/dev/null; then
	[ "$(id -u)" = 0 ] || die "valgrind is not installed (run as root to install it)"
	echo "installing: valgrind"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null ||
		die "could not install valgrind"
fi
[ "$(id -u)" = 0 ] || [ "$(id -un)" = "$PG_USER" ] || die "run as root or as $PG_USER"
VALGRIND=$(command -v valgrind)

# A server left running by an interrupted run is stopped, at the start and
# on the way out.
stop_leftover() {
	if [ -f "$OUT/regress/instance/data/postmaster.pid" ]; then
		as_pg "$PGBIN/pg_ctl" -D "$OUT/regress/instance/data" -m immediate -w stop >/dev/null 2>&1
	fi
}
stop_leftover
trap stop_leftover EXIT

start=$(date +%s)

# 1. Build.
echo "building with $CFLAGS_VG"
make -s QUEUE_CFLAGS="$CFLAGS_VG" >"$QUEUE_TMP/valgrind-build.log" 2>&1 ||
	{ cat "$QUEUE_TMP/valgrind-build.log"; die "build failed"; }

# 2. A private copy of the installation.  PostgreSQL finds its share and lib
# directories relative to its binary, so the copy uses its own files.
mkdir -p "$QUEUE_TMP"
[ "$(id -u)" = 0 ] && chown "$PG_USER": "$QUEUE_TMP"
as_pg mkdir -p "$OUT" || die "cannot create $OUT"
rm -rf "$LOGS" "$OUT/regress" "$OUT/src"
private_install "$ROOT" "$QUEUE_ROOT" QUEUE_CFLAGS="$CFLAGS_VG" >>"$QUEUE_TMP/valgrind-build.log" 2>&1 ||
	{ cat "$QUEUE_TMP/valgrind-build.log"; die "install into $ROOT failed"; }
BIN=$ROOT$PGBIN

# 3. The wrapper.
as_pg mkdir -p "$LOGS"
cp "${VALGRIND_SUPP:-test/valgrind.supp}" "$SUPP"
mv "$BIN/postgres" "$BIN/postgres.bin"
cat >"$BIN/postgres" <<WRAPPER
#!/bin/sh
# Server processes under valgrind (scripts/valgrind.sh).
real="\$(dirname "\$0")/postgres.bin"
case "\${1:-}" in
	--boot|--single|--check|-V|--version|-C|--describe-config|--help|"-?")
		exec "\$real" "\$@" ;;
esac
exec "$VALGRIND" --tool=memcheck --trace-children=yes --track-origins=yes \\
	--read-var-info=yes --fullpath-after= --num-callers=40 --leak-check=no --error-limit=no \\
	--error-exitcode=128 --gen-suppressions=all --suppressions="$SUPP" \\
	--log-file="$LOGS/%p.log" ${VALGRIND_OPTS:-} "\$real" "\$@"
WRAPPER
chmod 755 "$BIN/postgres"

# Settings for these runs, after test/queue.conf.
as_pg tee "$OUT/valgrind.conf" >/dev/null <<CONF
# scripts/valgrind.sh: JIT-compiled code has no symbols, and is slow here
jit = off
# the valgrind log of a process is $LOGS/<pid>.log
log_line_prefix = '%m [%p] %q%a '
log_min_messages = warning
CONF

# 4. pg_regress, as scripts/test.sh runs it.
cp -r test "$OUT/src"
chown -R "$PG_USER": "$OUT/src" 2>/dev/null || true
tests=${REGRESS_TESTS:-$(cd test/sql && ls *.sql | sed 's/\.sql$//' | sort | tr '\n' ' ')}
as_pg mkdir -p "$OUT/regress"
echo "running pg_regress under valgrind on port $PORT: $(echo $tests | wc -w) tests; output in $OUT/regress"
# Starting and stopping the server take much longer under valgrind.
as_pg env PGCTLTIMEOUT=1200 "$PGXS_DIR/src/test/regress/pg_regress" \
	--bindir="$BIN" --inputdir="$OUT/src" --outputdir="$OUT/regress" \
	--temp-instance="$OUT/regress/instance" \
	--temp-config="$OUT/src/queue.conf" --temp-config="$OUT/valgrind.conf" \
	--port="$PORT" --dbname=queue_regress \
	--load-extension=queue $tests >"$OUT/regress/output" 2>&1
regress_status=$?
cat "$OUT/regress/output"
[ -f "$OUT/regress/regression.diffs" ] && head -200 "$OUT/regress/regression.diffs"
ok=$(grep -cE '\.\.\. ok' "$OUT/regress/output")
bad=$(grep -cE '\.\.\. (FAILED|failed)' "$OUT/regress/output")
if [ "$regress_status" != 0 ] && [ "$bad" = 0 ]; then bad=1; fi

# 5. The logs.  Each error is a block that starts with a headline and ends
# with a blank line (valgrind then prints the suppression it suggests).  It
# is the extension's ("[src/*.c]") when, in its stack or in the stack that
# allocated or created the bad bytes, the first frame in PostgreSQL or the
# extension is one of $QUEUE_ROOT/src; "[through src/*.c]" when such a
# frame is merely further down.
nlogs=$(ls "$LOGS" | wc -l)
report=$OUT/errors.txt
: >"$report"
awk -v report="$report" -v src="$QUEUE_ROOT/src/" '
	function flush() {
		if (blk != "") {
			nerr++
			if (ours) nours++
			else if (via) nvia++
			tag = ours ? "  [src/*.c]" : (via ? "  [through src/*.c]" : "")
			printf "---- %s%s\n%s\n\n", file, tag, blk >> report
		}
		blk = ""; ours = 0; via = 0; decided = 0
	}
	FNR == 1 { flush(); file = FILENAME }
	/^==[0-9]+== (Invalid|Conditional jump|Use of uninitialised|Syscall param|Source and destination overlap|Mismatched free|Argument .* fishy|Jump to the invalid)/ {
		flush(); blk = $0; next
	}
	blk == "" { next }
	/^==[0-9]+== *$/ { flush(); next }
	/^==[0-9]+==  [A-Z]/ { decided = 0 }	# "Address ...", "Uninitialised value was created ..."
	/^==[0-9]+== / {
		blk = blk "\n" $0
		mine = index($0, src) > 0
		if (mine) via = 1
		if (!decided && (mine || $0 ~ /postgres/)) { decided = 1; if (mine) ours = 1 }
	}
	END { flush(); printf "%d %d %d\n", nerr + 0, nours + 0, nvia + 0 }
' $(ls "$LOGS"/*.log 2>/dev/null) </dev/null >"$OUT/errors.count"
read -r nerr nours nvia <"$OUT/errors.count"
bad_logs=$(grep -lE 'ERROR SUMMARY: [1-9]' "$LOGS"/*.log 2>/dev/null | wc -l)
# A process killed outright (SIGKILL) leaves a log without a summary.
unfinished=$(grep -L 'ERROR SUMMARY' "$LOGS"/*.log 2>/dev/null | wc -l)
crashes=$(cat "$OUT"/regress/log/postmaster.log 2>/dev/null | grep -c 'exited with exit code 128')
elapsed=$(( $(date +%s) - start ))

echo
echo "valgrind: $nlogs processes logged, $bad_logs with errors; $nerr errors: $nours in src/*.c, $nvia more called through it"
[ "$unfinished" = 0 ] || echo "valgrind: $unfinished processes were killed before valgrind could sum up (their logs have no ERROR SUMMARY)"
[ "$crashes" = 0 ] || echo "valgrind: $crashes processes stopped by valgrind's exit status 128 (see $OUT/regress/log/postmaster.log)"
echo "valgrind: regress under valgrind: $ok passed, $bad failed"
echo "valgrind: logs in $LOGS, errors with their stacks in $report (${elapsed}s)"
if [ "$nerr" != 0 ] || [ "$bad_logs" != 0 ]; then
	grep -A14 -- '^---- .*src/\*\.c\]' "$report" | head -200
	echo "valgrind: FAIL (memory errors)"
	exit 1
fi
if [ "$bad" != 0 ]; then
	echo "valgrind: FAIL (no memory errors, but regression tests failed: $OUT/regress/regression.diffs)"
	exit 1
fi
echo "valgrind: PASS"
