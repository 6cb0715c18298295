/*-------------------------------------------------------------------------
 *
 * xact.c
 *	  Work a transaction leaves for its commit or abort.
 *
 * Some effects of the queue functions live in shared memory (leases, the
 * committed depth of a queue) and must follow the fate of the transaction
 * that caused them.  Each function records what it did as a pending item
 * (pending.c); the transaction callbacks here finish every item at commit,
 * or undo it at abort, and a rolled-back subtransaction undoes its own
 * items at once.
 *
 *	  CLAIM		 a read took a lease: released at abort
 *	  HOLD		 a read took a lease held to the transaction's end: released
 *				 at abort; at commit it ends at its time (now, if that has
 *				 passed: the queue's long polls are woken)
 *	  SETTLE	 an ack/nack settles a lease: removed at commit, active
 *				 again at abort
 *	  FORGET	 a queue was dropped: its leases and state go at commit
 *	  FORGET_MSG a purge deleted a leased message: its lease goes at commit
 *	  PURGE		 a queue was purged (nothing to finish; see below)
 *	  DEPTH		 rows were inserted or deleted: the queue's committed depth
 *				 changes at commit
 *
 * PREPARE TRANSACTION is refused while any item is pending that another
 * backend's callbacks would have to finish: everything but DEPTH, and DEPTH
 * too for a queue whose max_length relies on its depth counter.  Other
 * queues drop their counter (qstate.c), so sends to them can be prepared.
 *
 * Beside them, the transaction's counts for mq_stats (added at commit), and
 * after commit or abort the long polls of the queues it changed are woken
 * (wakeup.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "utils/memutils.h"

#include "lease.h"
#include "pending.h"
#include "position.h"
#include "qstate.h"
#include "wakeup.h"
#include "xact.h"

/*
 * Finish or undo one item.  The result says whether the queue's long polls
 * are to be woken for it: at commit, when its rows or leases changed (a held
 * lease only when it has ended); at abort, when a lease was given back (the
 * message is ready again).
 */
static bool
pending_finish(Pending *p, bool commit)
{
	switch (p->kind)
	{
		case PENDING_CLAIM:
			if (!commit)
				lease_release_claim(p->relid, p->msgid, p->receipt);
			return !commit;
		case PENDING_HOLD:
			if (!commit)
			{
				lease_release_claim(p->relid, p->msgid, p->receipt);
				return true;
			}
			return lease_end_hold(p->relid, p->msgid, p->receipt);
		case PENDING_SETTLE:
		case PENDING_ACK:
			if (commit)
				lease_release(p->relid, p->msgid, p->receipt, p->kind == PENDING_ACK);
			else
				lease_unsettle(p->relid, p->msgid, p->receipt);
			return commit;
		case PENDING_FORGET:
			if (commit)
			{
				lease_forget_queue(p->relid);
				qstate_forget(p->relid);
				position_forget_stream(p->relid);
			}
			return false;
		case PENDING_FORGET_MSG:
			if (commit)
				lease_release(p->relid, p->msgid, 0, false);
			return commit;
		case PENDING_PURGE:
			return false;
		case PENDING_DEPTH:
			if (commit)
				qstate_apply_depth(p->relid, p->msgid, GetTopTransactionIdIfAny());
			return commit;
		case PENDING_APPEND:
			return commit;
		case PENDING_CONSUME:
			return false;
	}
	return false;
}

/*
 * Finish every item, in order at commit and in reverse at abort (a settle is
 * undone before its claim), marking the ones whose queue is to be woken.
 */
static void
finish_items(Pending *items, int n, bool commit)
{
	int			i;

	if (commit)
		for (i = 0; i < n; i++)
			items[i].wake = pending_finish(&items[i], true);
	else
		for (i = n - 1; i >= 0; i--)
			items[i].wake = pending_finish(&items[i], false);
}

/*
 * Wake the long polls of every queue whose items were marked, once per
 * queue and transaction (items of one queue mostly come together).
 */
static void
wake_queues(Pending *items, int n)
{
	Oid			last = InvalidOid;
	int			i;

	for (i = 0; i < n; i++)
		if (items[i].wake && items[i].relid != last)
		{
			wakeup_after_change(items[i].relid);
			last = items[i].relid;
		}
}

/*
 * WAL that was to reach the disk soon (pending_lazy_wal), of a transaction
 * that aborted: the WAL writer is to flush it.  A commit needs no help:
 * PostgreSQL flushes the WAL of a transaction that wrote some at its
 * commit, or, when it has no transaction id, tells the WAL writer; an
 * abort does neither without a transaction id.
 */
static void
flush_lazy_wal(void)
{
	XLogRecPtr	lsn = pending_lazy_wal_end();

	if (!XLogRecPtrIsInvalid(lsn) && GetFlushRecPtr(NULL) < lsn)
		XLogSetAsyncXactLSN(lsn);
}

static void
queue_xact_callback(XactEvent event, void *arg)
{
	int			n;
	Pending    *items = pending_items(&n);
	int			ndeltas;
	StatDelta  *deltas = pending_stats(&ndeltas);
	int			i;

	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			for (i = 0; i < n; i++)
				if (items[i].kind == PENDING_APPEND || items[i].kind == PENDING_CONSUME)
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("cannot PREPARE a transaction that has appended to or consumed from a stream")));
			if (position_holding())
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that has appended to or consumed from a stream")));
			for (i = 0; i < n; i++)
				if (items[i].kind != PENDING_DEPTH)
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("cannot PREPARE a transaction that has read, acked, nacked, dead-lettered, deleted, moved, purged or dropped queue messages")));
			for (i = 0; i < n; i++)
				if (!qstate_depth_prepare(items[i].relid, GetTopTransactionId()))
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("cannot PREPARE a transaction that changed a queue with max_length")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			finish_items(items, n, true);
			for (i = 0; i < ndeltas; i++)
				qstate_add_stats(deltas[i].relid, deltas[i].counts);
			/* Positions go before the wake, or a woken reader finds them held. */
			position_xact_end();
			wake_queues(items, n);
			pending_clear();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			finish_items(items, n, false);
			position_xact_end();
			wakeup_unregister();
			wake_queues(items, n);
			flush_lazy_wal();
			pending_clear();
			break;
		case XACT_EVENT_PREPARE:
			pending_clear();
			break;
		default:
			break;
	}
}

static void
queue_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	int			n;
	Pending    *items;
	int			i;

	switch (event)
	{
		case SUBXACT_EVENT_COMMIT_SUB:
			pending_subxact_commit(mySubid, parentSubid);
			break;
		case SUBXACT_EVENT_ABORT_SUB:
			items = pending_items(&n);
			for (i = n - 1; i >= 0; i--)
				if (items[i].subid == mySubid)
					if (pending_finish(&items[i], false))
						wakeup_after_change(items[i].relid);
			pending_subxact_forget(mySubid);
			wakeup_subxact_abort(mySubid);
			break;
		default:
			break;
	}
}

void
xact_register_callbacks(void)
{
	RegisterXactCallback(queue_xact_callback, NULL);
	RegisterSubXactCallback(queue_subxact_callback, NULL);
}
