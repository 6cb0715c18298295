#!/usr/bin/env bash
# Install what is missing (Debian packages), build and install the
# extension, and prepare ./tmp for the postgres user.  Safe to run again.
set -euo pipefail
. "$(dirname "$0")/env.sh"

PACKAGES="postgresql-$PG postgresql-client-$PG postgresql-server-dev-$PG
libtap-parser-sourcehandler-pgtap-perl libipc-run-perl
make gcc gnuplot-nox python3-psycopg nodejs chromium"
# pgTAP, PgQ and PL/Proxy: Debian's packages on the host; in a version's
# root, scripts/roots.sh has installed them (or pgTAP's SQL, or PL/Proxy
# built from Debian's source package, where Debian has no package for the
# version).
if [ -z "${QUEUE_IN_ROOT:-}" ]; then
	PACKAGES="$PACKAGES postgresql-$PG-pgtap postgresql-$PG-pgq3 postgresql-$PG-plproxy postgresql-$PG-auto-failover"
fi

. "$(dirname "$0")/packages.sh"
missing=$(missing_packages $PACKAGES)
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "missing packages:$missing (run as root to install them)" >&2
		exit 1
	fi
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq $missing >/dev/null
fi
# The Node client example needs npm; a nodejs that bundles its own (as
# NodeSource's does) conflicts with Debian's npm package.
if ! command -v npm >/dev/null && [ "$(id -u)" = 0 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq npm >/dev/null
fi

# QUEUE_CFLAGS (e.g. -DUSE_ASSERT_CHECKING) selects the build flavour.
make -C "$QUEUE_ROOT" -s QUEUE_CFLAGS="${QUEUE_CFLAGS:-}"
make -C "$QUEUE_ROOT" -s QUEUE_CFLAGS="${QUEUE_CFLAGS:-}" install >/dev/null
# The pgmq layer, for the tests and the demo (make pgmq installs it alone).
make -C "$QUEUE_ROOT/pgmq" -s install >/dev/null

mkdir -p "$QUEUE_TMP"
if [ "$(id -u)" = 0 ]; then
	chown "$PG_USER": "$QUEUE_TMP"
fi
