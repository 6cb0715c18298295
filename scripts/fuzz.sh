#!/usr/bin/env bash
# Fuzz the name validator and the topic pattern matcher (src/match.c) with
# the property checks of test/fuzz/fuzz_match.c.
#
#   scripts/fuzz.sh          libFuzzer (clang, ASan + UBSan) for FUZZ_SECONDS
#                            (default 60), starting from test/fuzz/corpus
#   scripts/fuzz.sh smoke    the same checks as a plain program: the seed
#                            corpus plus FUZZ_RUNS (default 10000) generated
#                            inputs from a fixed seed; a few seconds, no
#                            libFuzzer needed (sanitizers used if available)
#
# Output goes to $QUEUE_TMP/fuzz: the binaries, the growing corpus (kept
# between runs), fuzz.log and, on a failure, the input that failed.  The
# last line says PASS or FAIL; the exit status agrees.
set -uo pipefail
. "$(dirname "$0")/env.sh"
cd "$QUEUE_ROOT"

MODE=${1:-fuzz}
OUT=${FUZZ_OUT:-$QUEUE_TMP/fuzz}
SRC="test/fuzz/fuzz_match.c src/match.c"
INC="-DMATCH_STANDALONE -Itest/fuzz -Isrc"
WARN="-Wall -Wextra -Werror"
mkdir -p "$QUEUE_TMP" "$OUT"
# $QUEUE_TMP belongs to the postgres user, as scripts/setup.sh leaves it.
if [ "$(id -u)" = 0 ] && id "$PG_USER" >/dev/null 2>&1; then
	chown "$PG_USER": "$QUEUE_TMP"
fi

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
	"$CC" -std=gnu99 -O1 -g $WARN $SAN $INC -DFUZZ_DRIVER $SRC -o "$OUT/fuzz_match_driver" || {
		echo "fuzz smoke: FAIL (build)"; exit 1; }
	if ASAN_OPTIONS=detect_leaks=1 "$OUT/fuzz_match_driver" test/fuzz/corpus; then
		echo "fuzz smoke: PASS${SAN:+ (with ASan + UBSan)}"
	else
		echo "fuzz smoke: FAIL (the message above names the property and the input)"
		exit 1
	fi
	;;
fuzz)
	CLANG=${CLANG:-clang}
	SECONDS_TO_RUN=${FUZZ_SECONDS:-60}
	if ! "$CLANG" -std=gnu99 -O1 -g $WARN -fsanitize=fuzzer,address,undefined \
		-fno-sanitize-recover=all $INC $SRC -o "$OUT/fuzz_match"; then
		echo "fuzz: FAIL (build; libFuzzer comes with clang's runtime, Debian: libclang-rt-14-dev)"
		exit 1
	fi
	# New inputs go to the working corpus, never into test/fuzz/corpus.
	mkdir -p "$OUT/corpus"
	rm -f "$OUT"/crash-* "$OUT"/leak-* "$OUT"/timeout-* "$OUT"/oom-*
	echo "fuzzing for ${SECONDS_TO_RUN}s; log in $OUT/fuzz.log"
	start=$(date +%s)
	UBSAN_OPTIONS=print_stacktrace=1 "$OUT/fuzz_match" \
		-max_total_time="$SECONDS_TO_RUN" -max_len=1024 -timeout=10 \
		-dict=test/fuzz/match.dict -artifact_prefix="$OUT/" -print_final_stats=1 \
		"$OUT/corpus" test/fuzz/corpus >"$OUT/fuzz.log" 2>&1
	status=$?
	elapsed=$(( $(date +%s) - start ))
	stats=$(grep -E '^stat::(number_of_executed_units|new_units_added)' "$OUT/fuzz.log" |
		sed 's/^stat:://; s/: */=/' | tr '\n' ' ')
	cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' "$OUT/fuzz.log" | tail -1)
	if [ "$status" = 0 ]; then
		echo "fuzz: PASS (${elapsed}s; $stats$cov)"
	else
		grep -E 'property failed|pattern \(|key +\(|ERROR: |runtime error|SUMMARY' "$OUT/fuzz.log" | head -20
		artifact=$(ls "$OUT"/crash-* "$OUT"/leak-* "$OUT"/timeout-* "$OUT"/oom-* 2>/dev/null | head -1)
		echo "fuzz: FAIL after ${elapsed}s (exit $status); input: ${artifact:-none saved}; log: $OUT/fuzz.log"
		[ -n "$artifact" ] && echo "reproduce: $OUT/fuzz_match $artifact"
		exit 1
	fi
	;;
*)
	echo "usage: $0 [fuzz|smoke]" >&2
	exit 2
	;;
esac
