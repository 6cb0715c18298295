# Debian roots for the PostgreSQL versions the host does not have; source it.
#
# The host (Debian 12, bookworm) has PostgreSQL 15.  The other versions the
# extension supports come from Debian's own packages in roots made with
# debootstrap, never by mixing suites on the host:
#
#   17   trixie
#   18   sid
#   19   sid, with experimental added (19 is only there)
#
# and, for the upgrade suite (pg_upgrade from 15 to 18 and 19), bookworm's
# 15 beside them in the sid root: bookworm's packages are pinned below
# sid's, so only what 15 needs and sid lacks comes from there.
#
# A root lives under $QUEUE_ROOTS (default /var/cache/queue-roots), outside
# the work tree, and is made once per machine: root_ready builds it if it is
# missing and installs the packages a version needs if they are missing,
# so a second run (or CI on a fresh clone) reuses it.  root_exec runs a
# command inside it in a mount namespace of its own, with /proc, /dev and
# the work tree (at the same path) mounted, so nothing is left mounted when
# it ends.

QUEUE_ROOTS=${QUEUE_ROOTS:-/var/cache/queue-roots}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

# The host's own version: no root needed.
HOST_PG=15

root_suite() {	# version
	case $1 in
		17) echo trixie ;;
		18 | 19) echo sid ;;
		*) echo "no Debian root is known for PostgreSQL $1 (supported: $HOST_PG on the host, 17, 18, 19)" >&2
			return 1 ;;
	esac
}

root_dir() {	# version
	echo "$QUEUE_ROOTS/$(root_suite "$1")"
}

# Run a command in a root: own mount namespace, /proc, /dev, the work tree.
root_exec() {	# root command...
	local root=$1
	shift
	unshare --mount --propagation private -- /bin/bash -c '
		set -e
		root=$1 tree=$2
		shift 2
		mount -t proc proc "$root/proc"
		mount --rbind /dev "$root/dev"
		mkdir -p "$root$tree"
		mount --bind "$tree" "$root$tree"
		cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
		exec chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" "$@"
	' root-exec "$root" "$QUEUE_ROOT" "$@"
}

# Make the root of a suite with debootstrap, if it is not there yet.
root_build() {	# suite
	local suite=$1 root=$QUEUE_ROOTS/$1 tmp log t0
	[ -e "$root/.queue-root" ] && return 0
	command -v debootstrap >/dev/null || {
		echo "installing: debootstrap"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
	}
	mkdir -p "$QUEUE_ROOTS"
	tmp=$root.new
	log=$QUEUE_ROOTS/$suite.log
	rm -rf "$tmp"
	t0=$(date +%s)
	echo "making the $suite root in $root (debootstrap, a few minutes; log in $log)"
	if ! debootstrap --variant=minbase "$suite" "$tmp" "$DEBIAN_MIRROR" >"$log" 2>&1; then
		tail -20 "$log" >&2
		echo "debootstrap of $suite failed" >&2
		return 1
	fi
	# apt: no recommends; sid's and experimental's Release files may be
	# past their Valid-Until date; experimental for 19 (only wanted there
	# when asked for, as Debian pins it).
	cat >"$tmp/etc/apt/apt.conf.d/90queue" <<-'CONF'
		APT::Install-Recommends "false";
		Acquire::Check-Valid-Until "false";
	CONF
	if [ "$suite" = sid ]; then
		echo "deb $DEBIAN_MIRROR experimental main" >"$tmp/etc/apt/sources.list.d/experimental.list"
	fi
	# Services are never started in the root, and no default cluster is
	# made: the tests make their own.
	printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
	chmod +x "$tmp/usr/sbin/policy-rc.d"
	mkdir -p "$tmp/etc/postgresql-common"
	echo "create_main_cluster = false" >"$tmp/etc/postgresql-common/createcluster.conf"
	touch "$tmp/.queue-root"
	mv "$tmp" "$root"
	echo "made the $suite root in $(($(date +%s) - t0)) s"
}

# The older major version installed beside a version for the upgrade suite.
root_old_version() {	# version
	case $1 in
		18 | 19) echo 15 ;;
	esac
}

# The packages the project needs for a version (the host's setup.sh list).
root_packages() {	# version
	local old
	old=$(root_old_version "$1")
	[ -n "$old" ] && echo "postgresql-$old postgresql-server-dev-$old"
	echo "postgresql-$1 postgresql-client-$1 postgresql-server-dev-$1
libtap-parser-sourcehandler-pgtap-perl libipc-run-perl make gcc libc6-dev
gnuplot-nox python3-psycopg nodejs npm chromium git ca-certificates procps
build-essential dpkg-dev debhelper postgresql-common postgresql-server-dev-all"
}

# The extensions installed where Debian has them for the version
# (postgresql-<version>-<name>): the marker below records them too.
ROOT_EXTRAS="pgtap pgq3 plproxy auto-failover"

# Make sure the root of a version exists and has its packages; print its
# directory on stdout (everything else goes to stderr).  A marker in the
# root records the package list last installed for the version, so a
# ready root costs nothing and a changed list installs again.
root_ready() {	# version
	local v=$1 suite root t0 want apt_opts=""
	suite=$(root_suite "$v") || return 1
	root=$QUEUE_ROOTS/$suite
	mkdir -p "$QUEUE_ROOTS"
	exec 9>"$QUEUE_ROOTS/.lock"
	flock 9
	root_build "$suite" >&2 || return 1
	want=$(root_packages "$v" | tr '\n' ' ')
	if [ "$(cat "$root/.queue-pg$v" 2>/dev/null)" != "$want| $ROOT_EXTRAS" ]; then
		[ "$v" = 19 ] && apt_opts="-t experimental"
		t0=$(date +%s)
		echo "installing into the $suite root for PostgreSQL $v (a few minutes)" >&2
		root_exec "$root" /bin/bash -c '
			set -e
			export DEBIAN_FRONTEND=noninteractive
			v=$1 apt_opts=$2 old=$3 mirror=$4 extras=$5
			shift 5
			if [ -n "$old" ]; then
				echo "deb $mirror bookworm main" >/etc/apt/sources.list.d/bookworm.list
				printf "Package: *\nPin: release n=bookworm\nPin-Priority: 100\n" \
					>/etc/apt/preferences.d/bookworm
			fi
			apt-get update -qq
			apt-get install -y -qq $apt_opts "$@" >/dev/null
			# pgTAP, PgQ, PL/Proxy and pg_auto_failover where Debian has
			# them for this version; pgTAP is plain SQL, so where it has
			# none, the previous version'"'"'s serves.  (Debian has no PL/Proxy
			# and no pg_auto_failover for 19 yet, and serves no source
			# packages: the tests that need them say so and skip.)
			for pkg in $extras; do
				if apt-cache show "postgresql-$v-$pkg" >/dev/null 2>&1; then
					apt-get install -y -qq $apt_opts "postgresql-$v-$pkg" >/dev/null
				elif [ "$pkg" = pgtap ]; then
					from=$((v - 1))
					apt-get install -y -qq "postgresql-$from-pgtap" >/dev/null
					cp /usr/share/postgresql/$from/extension/pgtap* /usr/share/postgresql/$v/extension/
				fi
			done
		' install "$v" "$apt_opts" "$(root_old_version "$v")" "$DEBIAN_MIRROR" "$ROOT_EXTRAS" $want >&2 || return 1
		echo "$want| $ROOT_EXTRAS" >"$root/.queue-pg$v"
		echo "installed in $(($(date +%s) - t0)) s" >&2
	fi
	# The certificate authorities the host trusts beyond Debian's (a
	# proxy's, say) are trusted in the root too, for npm and apt.
	if [ -d /usr/local/share/ca-certificates ] &&
		! diff -rq /usr/local/share/ca-certificates "$root/usr/local/share/ca-certificates" >/dev/null 2>&1; then
		mkdir -p "$root/usr/local/share/ca-certificates"
		cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
		root_exec "$root" update-ca-certificates >/dev/null 2>&1 || true
	fi
	flock -u 9
	echo "$root"
}
