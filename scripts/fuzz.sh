#!/usr/bin/env bash
# Fuzz the name validator and the topic pattern matcher (src/match.c), and
# the schedule expressions (src/cron.c), with the property checks of
# test/fuzz/fuzz_match.c and test/fuzz/fuzz_cron.c.
#
#   scripts/fuzz.sh          libFuzzer (clang, ASan + UBSan), each target in
#                            turn for FUZZ_SECONDS (default 60; the whole run
#                            takes twice that), starting from its seed corpus
#                            (test/fuzz/corpus, test/fuzz/corpus_cron)
#   scripts/fuzz.sh smoke    the same checks as plain programs: each seed
#                            corpus plus FUZZ_RUNS (default 10000) generated
#                            inputs from a fixed seed; a few seconds, no
#                            libFuzzer needed (sanitizers used if available)
#
# Output goes to $QUEUE_TMP/fuzz: the binaries, the growing corpora (corpus
# and corpus_cron, kept between runs), fuzz.log and fuzz_cron.log and, on a
# failure, the input that failed.  A line per target, then a last line that
# says PASS or FAIL; the exit status agrees.
set -uo pipefail
. "$(dirname "$0")/env.sh"
cd "$QUEUE_ROOT"

MODE=${1:-fuzz}
OUT=${FUZZ_OUT:-$QUEUE_TMP/fuzz}
INC="-DMATCH_STANDALONE -Itest/fuzz -Isrc"
WARN="-Wall -Wextra -Werror"
TARGETS="match cron"
mkdir -p "$QUEUE_TMP" "$OUT"
# $QUEUE_TMP belongs to the postgres user, as scripts/setup.sh leaves it.
if [ "$(id -u)" = 0 ] && id "$PG_USER" >/dev/null 2>&1; then
	chown "$PG_USER": "$QUEUE_TMP"
fi

# Per target: sources, seed corpus, dictionary, working corpus, log, the
# prefix of saved inputs and libFuzzer's -max_len.  The match target keeps
# its original names in $OUT.
target() {	# name
	case $1 in
	match)
		SRC="test/fuzz/fuzz_match.c src/match.c"
		SEEDS=test/fuzz/corpus DICT=test/fuzz/match.dict
		CORPUS=$OUT/corpus LOG=$OUT/fuzz.log PREFIX=$OUT/ MAXLEN=1024
		;;
	cron)
		SRC="test/fuzz/fuzz_cron.c src/cron.c"
		SEEDS=test/fuzz/corpus_cron DICT=test/fuzz/cron.dict
		CORPUS=$OUT/corpus_cron LOG=$OUT/fuzz_cron.log PREFIX=$OUT/cron- MAXLEN=265
		;;
	esac
}

case $MODE in
smoke)
	CC=${CC:-cc}
	SAN="-fsanitize=address,undefined -fno-sanitize-recover=all"
	# Sanitizers if this compiler has them; the property checks either way.
	if ! echo 'int main(void){return 0;}' |
		"$CC" $SAN -x c - -o "$OUT/sancheck" >/dev/null 2>&1; then
		SAN=""
	fi
	rm -f "$OUT/sancheck"
	failed=""
	for t in $TARGETS; do
		target "$t"
		if ! "$CC" -std=gnu99 -O1 -g $WARN $SAN $INC -DFUZZ_DRIVER $SRC -o "$OUT/fuzz_${t}_driver"; then
			echo "fuzz smoke $t: FAIL (build)"
			failed="$failed $t"
		elif ASAN_OPTIONS=detect_leaks=1 "$OUT/fuzz_${t}_driver" "$SEEDS"; then
			echo "fuzz smoke $t: PASS"
		else
			echo "fuzz smoke $t: FAIL (the message above names the property and the input)"
			failed="$failed $t"
		fi
	done
	if [ -z "$failed" ]; then
		echo "fuzz smoke: PASS${SAN:+ (with ASan + UBSan)}"
	else
		echo "fuzz smoke: FAIL (${failed# })"
		exit 1
	fi
	;;
fuzz)
	CLANG=${CLANG:-clang}
	SECONDS_TO_RUN=${FUZZ_SECONDS:-60}
	failed=""
	for t in $TARGETS; do
		target "$t"
		if ! "$CLANG" -std=gnu99 -O1 -g $WARN -fsanitize=fuzzer,address,undefined \
			-fno-sanitize-recover=all $INC $SRC -o "$OUT/fuzz_$t"; then
			echo "fuzz $t: FAIL (build; libFuzzer comes with clang's runtime, Debian: libclang-rt-14-dev)"
			failed="$failed $t"
			continue
		fi
		# New inputs go to the working corpus, never into the seed corpus.
		mkdir -p "$CORPUS"
		rm -f "$PREFIX"crash-* "$PREFIX"leak-* "$PREFIX"timeout-* "$PREFIX"oom-*
		echo "fuzzing $t for ${SECONDS_TO_RUN}s; log in $LOG"
		start=$(date +%s)
		UBSAN_OPTIONS=print_stacktrace=1 "$OUT/fuzz_$t" \
			-max_total_time="$SECONDS_TO_RUN" -max_len="$MAXLEN" -timeout=10 \
			-dict="$DICT" -artifact_prefix="$PREFIX" -print_final_stats=1 \
			"$CORPUS" "$SEEDS" >"$LOG" 2>&1
		status=$?
		elapsed=$(( $(date +%s) - start ))
		stats=$(grep -E '^stat::(number_of_executed_units|new_units_added)' "$LOG" |
			sed 's/^stat:://; s/: */=/' | tr '\n' ' ')
		cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' "$LOG" | tail -1)
		if [ "$status" = 0 ]; then
			echo "fuzz $t: PASS (${elapsed}s; $stats$cov)"
		else
			grep -E 'property failed|pattern \(|key +\(|expression \(|^  cron|ERROR: |runtime error|SUMMARY' "$LOG" | head -20
			artifact=$(ls "$PREFIX"crash-* "$PREFIX"leak-* "$PREFIX"timeout-* "$PREFIX"oom-* 2>/dev/null | head -1)
			echo "fuzz $t: FAIL after ${elapsed}s (exit $status); input: ${artifact:-none saved}; log: $LOG"
			[ -n "$artifact" ] && echo "reproduce: $OUT/fuzz_$t $artifact"
			failed="$failed $t"
		fi
	done
	if [ -z "$failed" ]; then
		echo "fuzz: PASS"
	else
		echo "fuzz: FAIL (${failed# })"
		exit 1
	fi
	;;
*)
	echo "usage: $0 [fuzz|smoke]" >&2
	exit 2
	;;
esac
