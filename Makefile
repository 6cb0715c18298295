# queue — message queues, pub/sub topics and streams inside PostgreSQL.
#
# Build with PGXS.  The two commands most people need:
#   make demo   set everything up, start a private server, run the worked example
#   make test   the same set-up, then every test suite
# See README.md.

EXTENSION = queue queue_proxy
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" queue.control)
MODULE_big = queue
OBJS = \
	src/queue.o \
	src/util.o \
	src/horizon.o \
	src/args.o \
	src/pending.o \
	src/perms.o \
	src/catalog.o \
	src/queue_info.o \
	src/queue_ddl.o \
	src/match.o \
	src/cron.o \
	src/privileges.o \
	src/grants.o \
	src/lease.o \
	src/policy.o \
	src/dedup.o \
	src/qstate.o \
	src/xact.o \
	src/storage.o \
	src/delivery.o \
	src/queue_ops.o \
	src/topic.o \
	src/position.o \
	src/stream.o \
	src/stream_funcs.o \
	src/group.o \
	src/schedule.o \
	src/retention.o \
	src/views.o \
	src/wakeup.o \
	src/successor.o \
	src/worker.o \
	src/hooks.o

# sql/queue.sql is the install script of the current version; every older
# version's script is kept as it was released, with an update script from
# each version to the next (test/t/013_upgrade.pl checks that updating
# gives what a fresh install gives).
#
# queue_proxy (SPEC section 11) is the companion extension for a PL/Proxy
# proxy database; its install script is generated from sql/queue.sql, so it
# always has the functions of the same release (scripts/gen-proxy.pl).
DATA_built = sql/queue--$(EXTVERSION).sql sql/queue_proxy--$(EXTVERSION).sql
DATA = sql/queue--0.1.0.sql sql/queue--0.2.0.sql sql/queue--0.3.0.sql $(wildcard sql/queue--*--*.sql)
EXTRA_CLEAN = sql/queue--$(EXTVERSION).sql sql/queue_proxy--$(EXTVERSION).sql src/cflags.stamp

PG_CONFIG ?= pg_config
PG_CPPFLAGS = -I$(srcdir)/src -DQUEUE_VERSION='"$(EXTVERSION)"'
PG_CFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers \
	-Wno-sign-compare -Wno-cast-function-type $(QUEUE_CFLAGS)

# make installcheck: the pg_regress and isolation suites against an installed
# server, which must preload the library and allow prepared transactions
# (shared_preload_libraries = 'queue', max_prepared_transactions = 10: what
# test/queue.conf gives make test's own servers).  The tests use PGXS's
# databases contrib_regression and isolation_regression, make roles named
# mq_* and h_* (and drop them), and switch the background worker off for a
# while with ALTER SYSTEM (and back).
REGRESS = $(sort $(basename $(notdir $(wildcard test/sql/*.sql))))
REGRESS_OPTS = --inputdir=test --load-extension=queue
ISOLATION = $(sort $(basename $(notdir $(wildcard test/specs/*.spec))))
ISOLATION_OPTS = --inputdir=test --load-extension=queue

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# Objects, and the JIT bitcode beside them, are rebuilt when QUEUE_CFLAGS
# changes (say, assertions on or off) or the PostgreSQL they are built
# against does (the host's, or another version's in its Debian root, which
# share this tree: bitcode of one LLVM is unreadable to an older one).
CFLAGS_STAMP = src/cflags.stamp
BUILD_ID = $(QUEUE_CFLAGS) $(shell $(PG_CONFIG) --version)
$(OBJS) $(OBJS:.o=.bc): $(CFLAGS_STAMP) $(wildcard src/*.h)
src/views.o src/privileges.o: queue.control
$(CFLAGS_STAMP): FORCE
	@echo '$(BUILD_ID)' | cmp -s - $@ || echo '$(BUILD_ID)' > $@
.PHONY: FORCE
FORCE:

# The install script has one source.
sql/queue--$(EXTVERSION).sql: sql/queue.sql queue.control
	cp $< $@

# The proxy's is generated from it, for the same version.
sql/queue_proxy--$(EXTVERSION).sql: sql/queue.sql proxy/routes proxy/queue_proxy.sql \
		scripts/gen-proxy.pl queue.control queue_proxy.control
	@grep -q "^default_version = '$(EXTVERSION)'" $(srcdir)/queue_proxy.control || \
		{ echo "queue_proxy.control: default_version must be $(EXTVERSION), as in queue.control" >&2; exit 1; }
	perl $(srcdir)/scripts/gen-proxy.pl $(srcdir)/sql/queue.sql $(srcdir)/proxy/routes \
		$(srcdir)/proxy/queue_proxy.sql $(EXTVERSION) > $@.tmp
	mv $@.tmp $@

# The web console against the demo database (or CONSOLE_DB), in the
# foreground; it prints its URL (docs/console.md).
console: setup
	$(IN_ROOT) ./scripts/console.sh

.PHONY: console demo demo-cluster test test-long test-valgrind fuzz deb dist stop bench bench-cluster bench-pgmq bench-brokers bench-long setup server check-assert pgmq

# PG: the PostgreSQL major version to build and test.  The host's (15) by
# default; another (17, 18, 19) runs in that version's Debian root, made
# once per machine by scripts/roots.sh:  make test PG=18
PG ?= 15
ifneq ($(PG),15)
ifndef QUEUE_IN_ROOT
IN_ROOT = ./scripts/inroot.sh $(PG)
endif
endif

# Install packages, build, install, start the private server.
setup:
	$(IN_ROOT) ./scripts/setup.sh

demo: setup
	$(IN_ROOT) ./scripts/demo.sh

# A proxy and three shards (queue_proxy over PL/Proxy), the worked example
# through the proxy, and the psql lines to look at each.
demo-cluster: setup
	$(IN_ROOT) ./scripts/demo-cluster.sh

# The tests run against a build with assertions enabled.  pgmq's own tests
# come from a copy of its repository outside this one (scripts/pgmq-upstream.sh).
test:
	./scripts/pgmq-upstream.sh
	$(IN_ROOT) env QUEUE_CFLAGS=-DUSE_ASSERT_CHECKING ./scripts/setup.sh
	$(IN_ROOT) ./scripts/test.sh

# The fault tests with long counts (minutes): 30 chaos rounds, 8 failovers.
test-long:
	QUEUE_CFLAGS=-DUSE_ASSERT_CHECKING ./scripts/setup.sh
	./scripts/test-long.sh

# The pg_regress suite with every server process under valgrind (minutes;
# a private copy of the installation, nothing installed system-wide).
test-valgrind:
	./scripts/valgrind.sh

# libFuzzer on src/match.c (names, topics) and src/cron.c, each for FUZZ_SECONDS
# (default 60).  "make test" runs the same checks briefly, without libFuzzer.
fuzz:
	./scripts/fuzz.sh

# Build the Debian package from a copy of the checkout and test it in a
# fresh cluster (as root; make test runs it too, as the "deb" suite).
deb:
	$(IN_ROOT) ./scripts/deb-test.sh

# A PGXN release zip of the committed tree.
dist:
	git archive --format zip --prefix=queue-$(EXTVERSION)/ -o queue-$(EXTVERSION).zip HEAD

stop:
	./scripts/server.sh stop
	./scripts/cluster.sh stop

bench: setup
	$(IN_ROOT) ./bench/run.sh

# Sends and reads + acks through queue_proxy to one and to three shards,
# against the same direct to one server (minutes).
bench-cluster: setup
	$(IN_ROOT) ./bench/cluster.sh

# pgmq's API on the pgmq layer against the real pgmq 1.5 (a private
# installation from a copy of pgmq's repository outside this one).
bench-pgmq: setup
	./scripts/pgmq-upstream.sh
	$(IN_ROOT) ./bench/pgmq.sh

# queue against RabbitMQ (classic and quorum queues) and NATS JetStream,
# each a private server on this machine, one Node.js client for all
# (minutes; installs rabbitmq-server and nats-server when missing).
bench-brokers: setup
	./bench/brokers.sh

# The pgmq layer (docs/pgmq.md), a companion extension named pgmq: built and
# installed by itself, never by make install, since a real pgmq would have
# the same name.  (make setup installs it too, for the tests and the demo.)
pgmq:
	$(IN_ROOT) $(MAKE) -C pgmq install

# Cost growth on a deep queue, a held XID, backend memory (minutes).
bench-long: setup
	./bench/long.sh
