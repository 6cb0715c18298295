/*-------------------------------------------------------------------------
 *
 * xact.c
 *	  Work a transaction leaves for its commit or abort.
 *
 * Some effects of the queue functions live in shared memory (leases, the
 * committed depth of a queue) and must follow the fate of the transaction
 * that caused them.  Each function records what it did in a small array of
 * pending items; the transaction callbacks here finish every item at
 * commit, or undo it at abort, and a rolled-back subtransaction undoes its
 * own items at once.
 *
 *	  CLAIM		 a read took a lease: released at abort
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
 * too for a queue whose depth is being counted (one with max_length).
 * Sends to other queues can be prepared.
 *
 * The array lives in TopMemoryContext; callers reserve room before they
 * change shared state, so recording an item can never fail afterwards.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/memutils.h"

#include "queue.h"

typedef struct Pending
{
	PendingKind kind;
	SubTransactionId subid;
	Oid			relid;
	int64		msgid;			/* DEPTH: the change */
	int64		receipt;
} Pending;

static Pending *pending = NULL;
static int	npending = 0;
static int	maxpending = 0;

/* Make room for n more items. */
void
xact_reserve(int n)
{
	if (npending + n <= maxpending)
		return;
	if (pending == NULL)
	{
		maxpending = Max(64, n);
		pending = MemoryContextAlloc(TopMemoryContext, maxpending * sizeof(Pending));
	}
	else
	{
		maxpending = Max(maxpending * 2, npending + n);
		pending = repalloc(pending, maxpending * sizeof(Pending));
	}
}

/* Record an item; room must have been reserved. */
void
xact_add(PendingKind kind, Oid relid, int64 msgid, int64 receipt)
{
	Pending    *p;

	Assert(npending < maxpending);
	p = &pending[npending++];
	p->kind = kind;
	p->subid = GetCurrentSubTransactionId();
	p->relid = relid;
	p->msgid = msgid;
	p->receipt = receipt;
}

/*
 * Record that this transaction changed a queue's row count.  Consecutive
 * changes to one queue in one subtransaction share an item.
 */
void
xact_note_depth(Oid relid, int64 delta)
{
	SubTransactionId subid = GetCurrentSubTransactionId();

	if (npending > 0)
	{
		Pending    *last = &pending[npending - 1];

		if (last->kind == PENDING_DEPTH && last->relid == relid && last->subid == subid)
		{
			last->msgid += delta;
			return;
		}
	}
	xact_reserve(1);
	xact_add(PENDING_DEPTH, relid, delta, 0);
}

/* The change this transaction has made to a queue's row count so far. */
int64
xact_depth_delta(Oid relid)
{
	int64		delta = 0;
	int			i;

	for (i = 0; i < npending; i++)
		if (pending[i].kind == PENDING_DEPTH && pending[i].relid == relid)
			delta += pending[i].msgid;
	return delta;
}

static void
pending_finish(Pending *p, bool commit)
{
	switch (p->kind)
	{
		case PENDING_CLAIM:
			if (!commit)
				lease_release(p->relid, p->msgid, p->receipt);
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
	}
}

static void
queue_xact_callback(XactEvent event, void *arg)
{
	int			i;

	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			for (i = 0; i < npending; i++)
				if (pending[i].kind != PENDING_DEPTH)
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("cannot PREPARE a transaction that has read, acked, nacked, dead-lettered, purged or dropped queue messages")));
				else if (qstate_depth_counted(pending[i].relid))
					ereport(ERROR,
							(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
							 errmsg("cannot PREPARE a transaction that changed a queue with max_length")));
			break;
		case XACT_EVENT_PREPARE:
			npending = 0;
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			for (i = 0; i < npending; i++)
				pending_finish(&pending[i], true);
			npending = 0;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			/* Undo in reverse: a settle is undone before its claim. */
			for (i = npending - 1; i >= 0; i--)
				pending_finish(&pending[i], false);
			npending = 0;
			break;
		default:
			break;
	}
}

static void
queue_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	int			i;

	switch (event)
	{
		case SUBXACT_EVENT_COMMIT_SUB:
			for (i = 0; i < npending; i++)
				if (pending[i].subid == mySubid)
					pending[i].subid = parentSubid;
			break;
		case SUBXACT_EVENT_ABORT_SUB:
			{
				int			keep = 0;

				for (i = npending - 1; i >= 0; i--)
					if (pending[i].subid == mySubid)
						pending_finish(&pending[i], false);
				for (i = 0; i < npending; i++)
					if (pending[i].subid != mySubid)
						pending[keep++] = pending[i];
				npending = keep;
			}
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
