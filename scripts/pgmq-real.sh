#!/usr/bin/env bash
# A private installation of PostgreSQL $PG with the real pgmq in place of
# the pgmq layer, for the tests and benchmarks that compare with it or
# migrate from it: both are named pgmq, so they cannot share one
# installation.
#
#   scripts/pgmq-real.sh DIR     prints the bin directory of the copy
#
# PostgreSQL finds its lib and share directories relative to its bin
# directory, so a copy of /usr/lib/postgresql/$PG and /usr/share/postgresql/$PG
# under DIR, with pgmq's control file and install script (from
# tmp/pgmq-upstream/ext, made by scripts/pgmq-upstream.sh) in its extension
# directory, is a server with the real pgmq.  queue stays in the copy:
# the server need not preload it.  Exits 1 if pgmq's files are missing.
set -euo pipefail
QUEUE_ROOT=$(cd "$(dirname "$0")/.." && pwd)
PG=${PG:-15}
DIR=$1
EXT=$QUEUE_ROOT/tmp/pgmq-upstream/ext
if ! ls "$EXT"/pgmq--*.sql >/dev/null 2>&1; then
	echo "no pgmq extension files in $EXT (scripts/pgmq-upstream.sh)" >&2
	exit 1
fi
rm -rf "$DIR"
mkdir -p "$DIR/usr/lib/postgresql" "$DIR/usr/share/postgresql"
cp -a "/usr/lib/postgresql/$PG" "$DIR/usr/lib/postgresql/"
cp -a "/usr/share/postgresql/$PG" "$DIR/usr/share/postgresql/"
rm -f "$DIR/usr/share/postgresql/$PG/extension"/pgmq.control \
	"$DIR/usr/share/postgresql/$PG/extension"/pgmq--*.sql
cp "$EXT"/pgmq.control "$EXT"/pgmq--*.sql "$DIR/usr/share/postgresql/$PG/extension/"
echo "$DIR/usr/lib/postgresql/$PG/bin"
