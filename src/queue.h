/*-------------------------------------------------------------------------
 *
 * queue.h
 *	  The few declarations the files of the queue extension share.
 *
 * The extension is split by concern (see docs/architecture.md):
 *	  queue.c		_PG_init: settings, shared-memory hooks
 *	  util.c		intervals, times, kind names;  args.c  argument checks
 *	  perms.c		privilege checks;  privileges.c  grants in the catalog
 *	  grants.c		mq_grant, mq_revoke, mq.visible, the pg_shdepend trigger
 *	  catalog.c		catalog SQL, invalidation;  queue_info.c  the queue cache
 *	  queue_ddl.c	queue DDL
 *	  lease.c		receipts, leases in shared memory, transaction hooks
 *	  storage.c		direct access to a queue's storage table
 *	  queue_ops.c	the SQL-callable queue functions (send, read, ack ...)
 *	  delivery.c	taking, waiting for and settling messages
 *	  policy.c		dead letters;  dedup.c  idempotency keys
 *	  qstate.c		shared per-queue state;  xact.c  commit and abort work
 *	  pending.c		what a transaction leaves for commit or abort
 *	  wakeup.c		long polls;  worker.c  the background worker
 *	  hooks.c		the utility hook (DROP EXTENSION, DROP/REASSIGN OWNED, ...)
 *	  topic.c		topics;  stream.c  streams;  group.c  consumer groups
 *	  stream_funcs.c	the SQL functions of streams
 *	  position.c	stream positions and the stable horizon
 *	  views.c		figures for the mq_queues and mq_stats views
 *	  match.c		names, routing keys, patterns (no server state)
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_H
#define QUEUE_H

#include "postgres.h"

#include "access/htup.h"
#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "storage/itemptr.h"
#include "storage/lockdefs.h"
#include "utils/relcache.h"

#include "util.h"
#include "args.h"
#include "perms.h"
#include "pending.h"
#include "catalog.h"
#include "privileges.h"
#include "queue_info.h"
#include "hooks.h"
#include "xact.h"
#include "qstate.h"
#include "position.h"
#include "dedup.h"
#include "stream.h"
#include "retention.h"
#include "wakeup.h"
#include "lease.h"
#include "storage.h"
#include "policy.h"
#include "delivery.h"
#include "topic.h"
#include "worker.h"

#endif							/* QUEUE_H */
