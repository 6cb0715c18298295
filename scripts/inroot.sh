#!/usr/bin/env bash
# Run a command of the project inside the Debian root of a PostgreSQL
# version (scripts/roots.sh), building the root first if this machine has
# none yet:
#
#   scripts/inroot.sh 17 ./scripts/test.sh
#
# The command runs as root in the work tree (mounted at the same path),
# with PG set to the version and QUEUE_TMP to tmp/pg<version>, so the
# version's servers and test output never mix with the host's.  Settings
# the scripts read (QUEUE_CFLAGS, PROVE_TESTS, REGRESS_TESTS, QUEUE_TEST_OUT,
# BENCH_*, DEB_TEST_DIR) pass through.
set -euo pipefail
QUEUE_ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$QUEUE_ROOT/scripts/roots.sh"

if [ $# -lt 2 ]; then
	echo "usage: $0 <version> <command> [args...]" >&2
	exit 2
fi
V=$1
shift
if [ "$(id -u)" != 0 ]; then
	echo "inroot: PostgreSQL $V is tested in a Debian root, which needs root (chroot, mounts)" >&2
	exit 1
fi
ROOT=$(root_ready "$V")

pass=(PG="$V" QUEUE_IN_ROOT=1 QUEUE_TMP="$QUEUE_ROOT/tmp/pg$V")
for var in QUEUE_CFLAGS PROVE_TESTS REGRESS_TESTS QUEUE_TEST_OUT DEB_TEST_DIR FUZZ_SECONDS \
	$(compgen -e | grep '^BENCH_' || true); do
	[ -n "${!var+x}" ] && pass+=("$var=${!var}")
done
# Node.js reads extra authorities from a file: the root's own bundle.
[ -n "${NODE_EXTRA_CA_CERTS:-}" ] && pass+=(NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt)
root_exec "$ROOT" /usr/bin/env "${pass[@]}" /bin/bash -c 'cd "$1" && shift && exec "$@"' \
	inroot "$QUEUE_ROOT" "$@"
