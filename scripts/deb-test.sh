#!/usr/bin/env bash
# Build the Debian package from this checkout and check that it works.
#
#   1. installs the build dependencies that are missing (as root);
#   2. builds postgresql-<v>-queue and postgresql-<v>-queue-pgmq (the pgmq
#      layer) with dpkg-buildpackage from a copy of the checkout, which
#      stays clean;
#   3. checks its version, that apt could install it with what is installed
#      (apt-get -s), that it has no maintainer scripts, and that it holds the
#      library, the control file, every install and update script and the
#      bitcode;
#   4. extracts it over a private copy of the PostgreSQL binaries, with the
#      files of any system-wide installed build of queue removed from that
#      copy, so that the server can only load what the package holds;
#   5. starts a fresh cluster on that copy (as the postgres user, Unix socket
#      only, in a temporary directory) and checks CREATE EXTENSION, a queue's
#      send/read/ack, the versions, and ALTER EXTENSION queue UPDATE from every
#      kept version, the oldest first; and CREATE EXTENSION pgmq CASCADE
#      from the pgmq package, with a pgmq round trip.
#
# Nothing is installed into the system's PostgreSQL directories.  The last
# lines are "deb: PASS ..." or "deb: FAIL ...", then "deb: N passed, M failed";
# the exit status is 0 only on PASS.
#
#   DEB_TEST_DIR   work directory, kept for inspection (default $QUEUE_TMP/deb)
#   DEB_TEST_PORT  port of the private server (default 55450; socket only)
#   DEB_KEEP       directory to copy the built .deb files into
#   DEB_TEST_PG    PostgreSQL major version to check (default: the first in
#                  debian/pgversions)
set -uo pipefail
ROOT_DIR=$(cd "$(dirname "$0")/.." && pwd)

# The version checked: DEB_TEST_PG, else the one being tested (PG, as in
# make test PG=17), else the first in debian/pgversions.
PGMAJOR=${DEB_TEST_PG:-${PG:-$(sed -n 's/^\([0-9][0-9]*\)+*$/\1/p' "$ROOT_DIR/debian/pgversions" 2>/dev/null | head -1)}}
PGMAJOR=${PGMAJOR:-15}
PACKAGE=postgresql-$PGMAJOR-queue
PGMQ_PACKAGE=postgresql-$PGMAJOR-queue-pgmq
EXTVERSION=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$ROOT_DIR/queue.control")
PORT=${DEB_TEST_PORT:-55450}
PASSED=0
FAILED=0
START=$(date +%s)
WORK=""
ROOT=""
DATA=""
SOCK=""

stop_server() {
	[ -n "$DATA" ] && [ -f "$DATA/postmaster.pid" ] && as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null 2>&1
	[ -n "$SOCK" ] && rm -rf "$SOCK"
	return 0
}
trap stop_server EXIT
ok() { PASSED=$((PASSED + 1)); echo "ok - $*"; }
not_ok() { FAILED=$((FAILED + 1)); echo "not ok - $*"; }
check() {	# description command...: passes when the command succeeds
	local what=$1; shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
finish() {
	local secs=$(($(date +%s) - START))
	if [ "$FAILED" = 0 ] && [ "$PASSED" -gt 0 ]; then
		stop_server
		rm -rf "$ROOT" "$DATA"	# the copy of the binaries and the cluster
		echo "deb: PASS: $PACKAGE $EXTVERSION builds, installs and works (${secs}s; files in $WORK)"
	else
		echo "deb: FAIL: see above${WORK:+ and $WORK} (${secs}s)"
		[ "$FAILED" = 0 ] && FAILED=1
	fi
	echo "deb: $PASSED passed, $FAILED failed"
	[ "$FAILED" = 0 ]
	exit
}
abort() { not_ok "$*"; finish; }

# ---------------------------------------------------------------- packages
PACKAGES="build-essential dpkg-dev debhelper postgresql-common postgresql-server-dev-all
postgresql-$PGMAJOR postgresql-server-dev-$PGMAJOR git"
. "$ROOT_DIR/scripts/packages.sh"
missing=$(missing_packages $PACKAGES)
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		abort "missing packages:$missing (run as root to install them)"
	fi
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	aptlog=$(mktemp)
	if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing; } >"$aptlog" 2>&1; then
		tail -20 "$aptlog"
		abort "apt-get install$missing"
	fi
	rm -f "$aptlog"
fi

export PG_CONFIG=/usr/lib/postgresql/$PGMAJOR/bin/pg_config
. "$ROOT_DIR/scripts/env.sh"
WORK=${DEB_TEST_DIR:-$QUEUE_TMP/deb}

# ---------------------------------------------------------------- META.json
# PGXN's metadata must stay in step with the extension, like the package.
meta_versions() {
	perl -MJSON::PP -e 'local $/; open my $f, "<", $ARGV[0] or die "$!\n";
		my $m = JSON::PP->new->decode(<$f>);
		print join(" ", $m->{name}, $m->{version}, $m->{provides}{queue}{version},
			$m->{"meta-spec"}{version}), "\n"' "$1" 2>&1
}
if [ -f "$QUEUE_ROOT/META.json" ]; then
	meta=$(meta_versions "$QUEUE_ROOT/META.json")
	check "META.json is JSON with version $EXTVERSION (got: $meta)" \
		test "$meta" = "queue $EXTVERSION $EXTVERSION 1.0.0"
fi

# ---------------------------------------------------------------- build
mkdir -p "$QUEUE_TMP"
[ "$(id -u)" = 0 ] && chown "$PG_USER": "$QUEUE_TMP"
rm -rf "$WORK"
mkdir -p "$WORK/src"
# The files git knows of (tracked, and new ones not ignored) as they are in
# the working tree; a plain copy without build products outside git.
if git -C "$QUEUE_ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	(cd "$QUEUE_ROOT" && git ls-files -z -c -o --exclude-standard) |
		(cd "$QUEUE_ROOT" && tar --null --ignore-failed-read -T - -cf -) | tar -x -C "$WORK/src"
else
	(cd "$QUEUE_ROOT" && tar --exclude=./tmp --exclude=./.git --exclude='*.o' --exclude='*.bc' \
		--exclude='*.so' -cf - .) | tar -x -C "$WORK/src"
fi
[ -f "$WORK/src/debian/rules" ] || abort "no debian/ directory in $QUEUE_ROOT"
grep -qx "$PGMAJOR" "$WORK/src/debian/pgversions" || abort "debian/pgversions does not list $PGMAJOR"
# Build for the checked version only, whatever else is installed (a
# version's root may hold two): its package in debian/control, as
# pg_buildext updatecontrol writes it.
export PG_SUPPORTED_VERSIONS=$PGMAJOR
echo "$PGMAJOR" >"$WORK/src/debian/pgversions"
(cd "$WORK/src" && pg_buildext updatecontrol) >"$WORK/updatecontrol.log" 2>&1 ||
	{ cat "$WORK/updatecontrol.log"; abort "pg_buildext updatecontrol"; }

echo "building $PACKAGE $EXTVERSION (log: $WORK/build.log)"
if (cd "$WORK/src" && dpkg-buildpackage -us -uc -b -J"$(nproc)") >"$WORK/build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b"
else
	tail -40 "$WORK/build.log"
	abort "dpkg-buildpackage -us -uc -b"
fi
DEB=$(ls "$WORK/${PACKAGE}_"*.deb 2>/dev/null | head -1)
[ -n "$DEB" ] || abort "no ${PACKAGE}_*.deb built"
PGMQ_DEB=$(ls "$WORK/${PGMQ_PACKAGE}_"*.deb 2>/dev/null | head -1)
[ -n "$PGMQ_DEB" ] || abort "no ${PGMQ_PACKAGE}_*.deb built"
if [ -n "${DEB_KEEP:-}" ]; then
	mkdir -p "$DEB_KEEP" && cp "$WORK"/*.deb "$DEB_KEEP"/
fi

# ---------------------------------------------------------------- contents
DEBVERSION=$(dpkg-deb -f "$DEB" Version)
check "package version $DEBVERSION is default_version $EXTVERSION (+N allowed)" \
	test "${DEBVERSION%%+*}" = "$EXTVERSION"

# What dpkg -i would add to extracting: dependencies and maintainer scripts.
check "its dependencies ($(dpkg-deb -f "$DEB" Depends)) are met, as apt-get -s install shows" \
	bash -c "apt-get install -s '$DEB' >'$WORK/apt-simulate.log' 2>&1 && ! grep '^Inst ' '$WORK/apt-simulate.log' | grep -qv '^Inst $PACKAGE '"
check "it has no maintainer scripts" \
	bash -c "! dpkg-deb -I '$DEB' | grep -qE '^ +[0-9]+ bytes, +[0-9]+ lines +\*? *(preinst|postinst|prerm|postrm)'"

dpkg-deb -c "$DEB" | awk '{print $NF}' | sed 's|^\./|/|' | sort >"$WORK/contents"
LIBDIR=/usr/lib/postgresql/$PGMAJOR/lib
EXTDIR=/usr/share/postgresql/$PGMAJOR/extension
expected="$LIBDIR/queue.so $EXTDIR/queue.control $EXTDIR/queue--$EXTVERSION.sql"
for f in "$WORK"/src/sql/queue--*.sql; do
	expected="$expected $EXTDIR/$(basename "$f")"
done
# Bitcode, when the server is built with LLVM: an index and one file per source.
if grep -q '^with_llvm[[:space:]]*=[[:space:]]*yes' "$PGXS_DIR/src/Makefile.global"; then
	expected="$expected $LIBDIR/bitcode/queue.index.bc"
	for f in "$WORK"/src/src/*.c; do
		expected="$expected $LIBDIR/bitcode/queue/src/$(basename "${f%.c}").bc"
	done
fi
absent=""
for f in $expected; do
	grep -qxF "$f" "$WORK/contents" || absent="$absent $f"
done
if [ -z "$absent" ]; then
	ok "the package holds the library, control file, $(ls "$WORK"/src/sql/queue--*.sql | wc -l) kept scripts, queue--$EXTVERSION.sql and the bitcode"
else
	not_ok "the package lacks:$absent"
fi

# The pgmq layer's package: its two files, queue of the same version as
# its dependency, and a conflict with a real pgmq's package.
dpkg-deb -c "$PGMQ_DEB" | awk '{print $NF}' | sed 's|^\./|/|' | grep -v '/$' |
	grep -v '^/usr/share/doc/' | sort >"$WORK/pgmq-contents"
check "$PGMQ_PACKAGE holds pgmq.control and pgmq--$EXTVERSION.sql, nothing else" \
	test "$(tr '\n' ' ' <"$WORK/pgmq-contents")" = "$EXTDIR/pgmq--$EXTVERSION.sql $EXTDIR/pgmq.control "
check "$PGMQ_PACKAGE depends on $PACKAGE (= $DEBVERSION)" \
	bash -c "dpkg-deb -f '$PGMQ_DEB' Depends | grep -qF '$PACKAGE (= $DEBVERSION)'"
check "$PGMQ_PACKAGE conflicts with postgresql-$PGMAJOR-pgmq" \
	bash -c "dpkg-deb -f '$PGMQ_DEB' Conflicts | grep -qxF 'postgresql-$PGMAJOR-pgmq'"

# ---------------------------------------------------------------- private binaries
# PostgreSQL finds its lib and share directories relative to its bin
# directory, so a copy of both trees with the package extracted over it is a
# server that loads the packaged files only.
ROOT=$WORK/root
mkdir -p "$ROOT/usr/lib/postgresql" "$ROOT/usr/share/postgresql"
cp -a "/usr/lib/postgresql/$PGMAJOR" "$ROOT/usr/lib/postgresql/" &&
	cp -a "/usr/share/postgresql/$PGMAJOR" "$ROOT/usr/share/postgresql/" ||
	abort "copy /usr/lib/postgresql/$PGMAJOR and /usr/share/postgresql/$PGMAJOR"
rm -rf "$ROOT$LIBDIR/queue.so" "$ROOT$LIBDIR/bitcode/queue" "$ROOT$LIBDIR/bitcode/queue.index.bc" \
	"$ROOT$EXTDIR"/queue.control "$ROOT$EXTDIR"/queue--*.sql \
	"$ROOT$EXTDIR"/pgmq.control "$ROOT$EXTDIR"/pgmq--*.sql
dpkg -x "$DEB" "$ROOT" || abort "dpkg -x $DEB"
dpkg -x "$PGMQ_DEB" "$ROOT" || abort "dpkg -x $PGMQ_DEB"
BIN=$ROOT/usr/lib/postgresql/$PGMAJOR/bin
check "pg_config of the copy points into it" \
	test "$("$BIN/pg_config" --pkglibdir)" = "$ROOT$LIBDIR" -a "$("$BIN/pg_config" --sharedir)" = "$ROOT/usr/share/postgresql/$PGMAJOR"

# ---------------------------------------------------------------- server
SOCK=$(mktemp -d /tmp/queue-deb.XXXXXX)	# short: socket paths are limited to 107 bytes
DATA=$WORK/data
chown -R "$PG_USER": "$WORK" "$SOCK" 2>/dev/null || true
chmod 755 "$SOCK"

as_pg "$BIN/initdb" -D "$DATA" -A trust -U postgres --no-sync >"$WORK/initdb.log" 2>&1 ||
	{ cat "$WORK/initdb.log"; abort "initdb"; }
as_pg tee -a "$DATA/postgresql.conf" >/dev/null <<CONF
port = $PORT
listen_addresses = ''
unix_socket_directories = '$SOCK'
shared_preload_libraries = 'queue'
fsync = off
CONF
if as_pg "$BIN/pg_ctl" -D "$DATA" -l "$WORK/server.log" -w -t 60 start >/dev/null; then
	ok "a fresh cluster starts with shared_preload_libraries = 'queue'"
else
	tail -20 "$WORK/server.log"
	abort "a fresh cluster starts with shared_preload_libraries = 'queue'"
fi
PID=$(as_pg head -1 "$DATA/postmaster.pid")
check "the server mapped the packaged queue.so" \
	as_pg grep -qF "$ROOT$LIBDIR/queue.so" "/proc/$PID/maps"

psql_() {	# database sql...: each sql in its own transaction, one connection;
	# prints the results unaligned, fails on the first error
	local db=$1 args=() sql
	shift
	for sql in "$@"; do args+=(-c "$sql"); done
	as_pg "$BIN/psql" -X -q -At -v ON_ERROR_STOP=1 -h "$SOCK" -p "$PORT" -U postgres -d "$db" \
		"${args[@]}" 2>>"$WORK/psql.log"
}
expect() {	# description expected database sql...
	local what=$1 want=$2 got
	shift 2
	got=$(psql_ "$@")
	if [ $? = 0 ] && [ "$got" = "$want" ]; then
		ok "$what"
	else
		not_ok "$what: expected '$(echo $want)', got '$(echo $got)'"
		tail -3 "$WORK/psql.log" 2>/dev/null
	fi
}

# A queue's round trip, in a database with the extension at $EXTVERSION.
roundtrip() {	# database label
	expect "$2: extversion and mq_version() are $EXTVERSION" "$EXTVERSION $EXTVERSION" "$1" \
		"SELECT extversion || ' ' || mq_version() FROM pg_extension WHERE extname = 'queue'"
	expect "$2: create a queue, send, read, ack" "$(printf '1\nt\n1 1 1\nt\n0')" "$1" \
		"SELECT 1 FROM (SELECT mq_create_queue('deb_check')) c" \
		"SELECT mq_send('deb_check', '{\"n\": 1}') > 0" \
		"CREATE TEMP TABLE got AS SELECT * FROM mq_read('deb_check', qty => 10)" \
		"SELECT count(*) || ' ' || min(body->>'n') || ' ' || min(deliveries) FROM got" \
		"SELECT mq_ack('deb_check', (SELECT receipt FROM got))" \
		"SELECT count(*) FROM mq_read('deb_check', qty => 10)"
}

psql_ postgres "CREATE DATABASE deb_current" >/dev/null ||
	abort "CREATE DATABASE (see $WORK/psql.log)"
expect "CREATE EXTENSION queue" "$EXTVERSION" deb_current "CREATE EXTENSION queue" \
	"SELECT extversion FROM pg_extension WHERE extname = 'queue'"
roundtrip deb_current "CREATE EXTENSION"

# Every kept install script, oldest first, updated to the current version.
for v in $(ls "$ROOT$EXTDIR" | sed -n 's/^queue--\([^-]*\)\.sql$/\1/p' | sort -V); do
	[ "$v" = "$EXTVERSION" ] && continue
	db=deb_from_$(echo "$v" | tr . _)
	psql_ postgres "CREATE DATABASE $db" >/dev/null || { not_ok "CREATE DATABASE $db"; continue; }
	expect "CREATE EXTENSION queue VERSION '$v'" "$v" "$db" "CREATE EXTENSION queue VERSION '$v'" \
		"SELECT extversion FROM pg_extension WHERE extname = 'queue'"
	expect "ALTER EXTENSION queue UPDATE from $v" "$EXTVERSION" "$db" "ALTER EXTENSION queue UPDATE" \
		"SELECT extversion FROM pg_extension WHERE extname = 'queue'"
	roundtrip "$db" "updated from $v"
done

# The pgmq layer from its package, with queue by CASCADE.
psql_ postgres "CREATE DATABASE deb_pgmq" >/dev/null || abort "CREATE DATABASE deb_pgmq"
expect "CREATE EXTENSION pgmq CASCADE, from $PGMQ_PACKAGE" "pgmq $EXTVERSION,queue $EXTVERSION" deb_pgmq \
	"CREATE EXTENSION pgmq CASCADE" \
	"SELECT string_agg(extname || ' ' || extversion, ',' ORDER BY extname) FROM pg_extension WHERE extname IN ('pgmq', 'queue')"
expect "pgmq: create, send, read, archive" "$(printf '1\n1\n1 1 {"n": 1}\nt\n1')" deb_pgmq \
	"SELECT 1 FROM (SELECT pgmq.create('deb_check')) c" \
	"SELECT * FROM pgmq.send('deb_check', '{\"n\": 1}')" \
	"SELECT msg_id || ' ' || read_ct || ' ' || message FROM pgmq.read('deb_check', 30, 1)" \
	"SELECT pgmq.archive('deb_check', 1::bigint)" \
	"SELECT count(*) FROM pgmq.a_deb_check"

check "the server log has no FATAL, PANIC or crash" \
	bash -c "! grep -E 'FATAL|PANIC|terminated by signal' '$WORK/server.log'"
finish
