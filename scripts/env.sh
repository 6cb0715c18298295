# Shared settings for the project's scripts; source it, do not run it.
#
# Everything the scripts create lives under $QUEUE_TMP (./tmp), owned by the
# postgres user, because PostgreSQL refuses to run as root.  If that user
# cannot reach the checkout (say it sits under /root), a directory under
# /tmp named after the checkout path is used instead.

QUEUE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# PG: the PostgreSQL major version built and tested.  The host's is 15;
# make test PG=17 (18, 19) runs the scripts in that version's Debian root
# (scripts/inroot.sh), where PG is set.
PG=${PG:-15}
export PG
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG/bin/pg_config}
PGBIN=$("$PG_CONFIG" --bindir)
PGXS_DIR=$(cd "$(dirname "$("$PG_CONFIG" --pgxs)")/../.." && pwd)
PG_USER=${PG_USER:-postgres}

# Ports: the demo server, then one per test suite.
DEMO_PORT=${DEMO_PORT:-55432}
REGRESS_PORT=${REGRESS_PORT:-55433}
ISOLATION_PORT=${ISOLATION_PORT:-55434}
PGTAP_PORT=${PGTAP_PORT:-55435}
PGMQ_PORT=${PGMQ_PORT:-55437}
BENCH_PORT=${BENCH_PORT:-55436}
# The sharded demo cluster: the proxy, then shards 0, 1 and 2.
CLUSTER_PORT=${CLUSTER_PORT:-55440}
# make bench-brokers: its PostgreSQL (TCP on 127.0.0.1 as well), RabbitMQ
# (AMQP, Erlang distribution, its own epmd) and NATS.
BROKERS_PG_PORT=${BROKERS_PG_PORT:-55438}
BROKERS_AMQP_PORT=${BROKERS_AMQP_PORT:-55672}
BROKERS_DIST_PORT=${BROKERS_DIST_PORT:-55673}
BROKERS_EPMD_PORT=${BROKERS_EPMD_PORT:-55674}
BROKERS_NATS_PORT=${BROKERS_NATS_PORT:-55422}

as_pg() {
	if [ "$(id -un)" = "$PG_USER" ]; then
		"$@"
	else
		runuser -u "$PG_USER" -- "$@"
	fi
}

queue_tmp() {
	local dir="$QUEUE_ROOT/tmp"
	if [ "$(id -u)" = 0 ] && id "$PG_USER" >/dev/null 2>&1 &&
		! runuser -u "$PG_USER" -- test -r "$QUEUE_ROOT/Makefile" -a -x "$QUEUE_ROOT"; then
		dir="/tmp/queue-$(echo "$QUEUE_ROOT" | md5sum | cut -c1-12)"
	fi
	echo "$dir"
}
QUEUE_TMP=${QUEUE_TMP:-$(queue_tmp)}
DEMO_DATA=$QUEUE_TMP/demo/data
DEMO_SOCK=$QUEUE_TMP/demo/sock
DEMO_LOG=$QUEUE_TMP/demo/server.log
CLUSTER_DIR=${CLUSTER_DIR:-$QUEUE_TMP/cluster}
CLUSTER_SOCK=$CLUSTER_DIR/sock

# A private copy of the PostgreSQL installation (bin, lib, share) under
# root, with the extension built in tree installed into it (DESTDIR), the
# system-wide installation left alone.  PostgreSQL finds its share and lib
# directories relative to its binary, so a server started from
# $root$PGBIN uses the copy's files.  Extra arguments go to make.
private_install() {	# root tree [make arguments...]
	local root=$1 tree=$2 d dirs
	shift 2
	dirs="$(dirname "$PGBIN") $("$PG_CONFIG" --sharedir)"
	case $("$PG_CONFIG" --pkglibdir) in
		"$(dirname "$PGBIN")"/*) ;;
		*) dirs="$dirs $("$PG_CONFIG" --pkglibdir)" ;;
	esac
	rm -rf "$root"
	for d in $dirs; do
		mkdir -p "$root$(dirname "$d")"
		cp -a "$d" "$root$d" || return 1
	done
	make -C "$tree" -s "$@" install DESTDIR="$root"
}

