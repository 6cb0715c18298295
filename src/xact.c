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
 * Beside it, the transaction's counts for mq_stats (added at commit), and
 * after commit or abort the long polls of the queues it changed are woken
 * (wakeup.c).
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

/* Counters for mq_stats, per queue and subtransaction, added at commit. */
typedef struct StatDelta
{
	Oid			relid;
	SubTransactionId subid;
	int64		counts[NUM_QUEUE_STATS];
} StatDelta;

static StatDelta *deltas = NULL;
static int	ndeltas = 0;
static int	maxdeltas = 0;

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

/* Count n events of one kind for mq_stats, if this transaction commits. */
void
xact_count(Oid relid, QueueStat stat, int64 n)
{
	SubTransactionId subid = GetCurrentSubTransactionId();
	StatDelta  *d = NULL;
	int			i;

	for (i = ndeltas - 1; i >= 0 && d == NULL; i--)
		if (deltas[i].relid == relid && deltas[i].subid == subid)
			d = &deltas[i];
	if (d == NULL)
	{
		if (ndeltas == maxdeltas)
		{
			maxdeltas = Max(8, 2 * maxdeltas);
			deltas = deltas == NULL ?
				MemoryContextAlloc(TopMemoryContext, maxdeltas * sizeof(StatDelta)) :
				repalloc(deltas, maxdeltas * sizeof(StatDelta));
		}
		d = &deltas[ndeltas++];
		memset(d, 0, sizeof(StatDelta));
		d->relid = relid;
		d->subid = subid;
	}
	d->counts[stat] += n;
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

/* The items recorded so far, in order; *n of them. */
static Pending *
pending_items(int *n)
{
	*n = npending;
	return pending;
}

/* The counts for mq_stats recorded so far, *n queues' worth. */
static StatDelta *
pending_stats(int *n)
{
	*n = ndeltas;
	return deltas;
}

/* Forget everything recorded (the transaction is over). */
static void
pending_clear(void)
{
	npending = 0;
	ndeltas = 0;
}

/* A subtransaction committed: its items and counts pass to its parent. */
static void
pending_subxact_commit(SubTransactionId subid, SubTransactionId parent)
{
	int			i;

	for (i = 0; i < npending; i++)
		if (pending[i].subid == subid)
			pending[i].subid = parent;
	for (i = 0; i < ndeltas; i++)
		if (deltas[i].subid == subid)
			deltas[i].subid = parent;
}

/* A subtransaction aborted: forget its items and counts. */
static void
pending_subxact_forget(SubTransactionId subid)
{
	int			keep = 0;
	int			i;

	for (i = 0; i < npending; i++)
		if (pending[i].subid != subid)
			pending[keep++] = pending[i];
	npending = keep;
	keep = 0;
	for (i = 0; i < ndeltas; i++)
		if (deltas[i].subid != subid)
			deltas[keep++] = deltas[i];
	ndeltas = keep;
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
			wakes = p->kind == PENDING_CLAIM;
		if (wakes && p->relid != last)
		{
			qstate_wake(p->relid);
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
							 errmsg("cannot PREPARE a transaction that has read, acked, nacked, dead-lettered, purged or dropped queue messages")));
				else if (qstate_depth_counted(items[i].relid))
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
					if (items[i].kind == PENDING_CLAIM)
						qstate_wake(items[i].relid);
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
