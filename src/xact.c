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
#include "utils/memutils.h"

#include "lease.h"
#include "pending.h"
#include "position.h"
#include "qstate.h"
#include "wakeup.h"
#include "xact.h"

static void
pending_finish(Pending *p, bool commit)
{
	switch (p->kind)
	{
		case PENDING_CLAIM:
			if (!commit)
				lease_release_claim(p->relid, p->msgid, p->receipt);
			break;
		case PENDING_HOLD:
			if (!commit)
				lease_release_claim(p->relid, p->msgid, p->receipt);
			else if (lease_end_hold(p->relid, p->msgid, p->receipt))
				wakeup_after_change(p->relid);
			break;
		case PENDING_SETTLE:
			if (commit)
				lease_release(p->relid, p->msgid, p->receipt);
			else
				lease_unsettle(p->relid, p->msgid, p->receipt);
			break;
		case PENDING_FORGET:
			if (commit)
			{
				lease_forget_queue(p->relid);
				qstate_forget(p->relid);
				position_forget_stream(p->relid);
			}
			break;
		case PENDING_FORGET_MSG:
			if (commit)
				lease_release(p->relid, p->msgid, 0);
			break;
		case PENDING_PURGE:
			break;
		case PENDING_DEPTH:
			if (commit)
				qstate_apply_depth(p->relid, p->msgid, GetTopTransactionIdIfAny());
			break;
		case PENDING_APPEND:
		case PENDING_CONSUME:
			break;
	}
}

/*
 * Wake the long polls of every queue this transaction made a difference to:
 * at commit, queues whose rows or leases it changed; at abort, queues whose
 * leases it gave back (the messages are ready again).
 */
static void
wake_queues(bool commit)
{
	Oid			last = InvalidOid;
	int			n;
	Pending    *items = pending_items(&n);
	int			i;

	for (i = 0; i < n; i++)
	{
		Pending    *p = &items[i];
		bool		wakes;

		if (commit)
			wakes = p->kind == PENDING_DEPTH || p->kind == PENDING_SETTLE ||
				p->kind == PENDING_FORGET_MSG || p->kind == PENDING_APPEND;
		else
			wakes = p->kind == PENDING_CLAIM || p->kind == PENDING_HOLD;
		if (wakes && p->relid != last)
		{
			wakeup_after_change(p->relid);
			last = p->relid;
		}
	}
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
			for (i = 0; i < n; i++)
				pending_finish(&items[i], true);
			for (i = 0; i < ndeltas; i++)
				qstate_add_stats(deltas[i].relid, deltas[i].counts);
			/* Positions go before the wake, or a woken reader finds them held. */
			position_xact_end();
			wake_queues(true);
			pending_clear();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			/* Undo in reverse: a settle is undone before its claim. */
			for (i = n - 1; i >= 0; i--)
				pending_finish(&items[i], false);
			position_xact_end();
			wakeup_unregister();
			wake_queues(false);
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
				{
					pending_finish(&items[i], false);
					if (items[i].kind == PENDING_CLAIM || items[i].kind == PENDING_HOLD)
						wakeup_after_change(items[i].relid);
				}
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
