#!/usr/bin/env bash
# Put pgmq's own regression file and isolation spec, with their expected
# outputs, and pgmq's extension itself (its control file and install
# script, for a private installation: scripts/pgmq-real.sh) where the tests
# find them: $QUEUE_ROOT/tmp/pgmq-upstream.
# They come from a copy of pgmq's repository kept outside this one (none of
# pgmq's files are in this repository), at the release the layer follows:
#
#   PGMQ_SOURCE   a git directory of github.com/pgmq/pgmq (default: the
#                 first of /work/.mirror/pgmq+pgmq/repo and
#                 /var/cache/queue-pgmq/repo that exists)
#   PGMQ_TAG      the release (default v1.5.1)
#
# Without a copy, tmp/pgmq-upstream/MISSING says why, and the suite reports
# the upstream tests as skipped.  Runs on the host, before the tests enter a
# version's root (which sees the work tree, not the copy).
set -euo pipefail
QUEUE_ROOT=$(cd "$(dirname "$0")/.." && pwd)
TAG=${PGMQ_TAG:-v1.5.1}
OUT=$QUEUE_ROOT/tmp/pgmq-upstream
SRC=${PGMQ_SOURCE:-}
if [ -z "$SRC" ]; then
	for d in /work/.mirror/pgmq+pgmq/repo /var/cache/queue-pgmq/repo; do
		if [ -d "$d" ]; then SRC=$d; break; fi
	done
fi

rm -rf "$OUT"
mkdir -p "$OUT/sql" "$OUT/expected" "$OUT/specs" "$OUT/ext"
if [ -z "$SRC" ] || ! git -C "$SRC" rev-parse --verify -q "$TAG^{commit}" >/dev/null 2>&1; then
	echo "no copy of pgmq's repository with $TAG (set PGMQ_SOURCE to a git directory of it)" \
		>"$OUT/MISSING"
	cat "$OUT/MISSING" >&2
	exit 0
fi
for f in sql/base.sql expected/base.out specs/transaction_tests.spec \
	expected/transaction_tests.out; do
	git -C "$SRC" show "$TAG:pgmq-extension/test/$f" >"$OUT/$f"
done
git -C "$SRC" show "$TAG:pgmq-extension/pgmq.control" >"$OUT/ext/pgmq.control"
git -C "$SRC" show "$TAG:pgmq-extension/sql/pgmq.sql" >"$OUT/ext/pgmq--${TAG#v}.sql"
echo "$TAG" >"$OUT/TAG"
chmod -R a+rX "$OUT"
