#!/usr/bin/env bash
# The fault tests with long counts (make test-long): what takes minutes
# rather than seconds, through scripts/test.sh.
#
#   test/t/015_chaos.pl     QUEUE_CHAOS_ROUNDS (default here 30) rounds of
#                           load with terminated backends, each ending in
#                           SIGKILL of the background worker or launcher,
#                           three immediate shutdowns, or SIGTERM of the
#                           worker, in turn
#   test/t/016_failover.pl  QUEUE_FAILOVER_ROUNDS (default here 8) failovers
#                           under load with synchronous replication, each to
#                           a new standby of the last promoted one
#
# QUEUE_TEST_SEED=<seed> replays a run's random choices (the tests print
# the seed they used).  Output goes to QUEUE_TEST_OUT (default
# $QUEUE_TMP/test-long), so that it does not replace the output of a
# plain ./scripts/test.sh run.  Prints test.sh's last line: "N passed, M
# failed", and exits non-zero when a test failed.
set -uo pipefail
. "$(dirname "$0")/env.sh"

export QUEUE_CHAOS_ROUNDS=${QUEUE_CHAOS_ROUNDS:-30}
export QUEUE_FAILOVER_ROUNDS=${QUEUE_FAILOVER_ROUNDS:-8}
export QUEUE_TEST_OUT=${QUEUE_TEST_OUT:-$QUEUE_TMP/test-long}
export PROVE_TESTS=${PROVE_TESTS:-"015_chaos.pl 016_failover.pl"}
export PROVE_FLAGS=${PROVE_FLAGS:-"-v"}

echo "chaos rounds: $QUEUE_CHAOS_ROUNDS, failovers: $QUEUE_FAILOVER_ROUNDS, output: $QUEUE_TEST_OUT"
exec "$QUEUE_ROOT/scripts/test.sh" tap
