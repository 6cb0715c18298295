/*-------------------------------------------------------------------------
 *
 * pending.c
 *	  What a transaction leaves for its commit or abort: the record.
 *
 * The queue functions write here what they did that shared memory must
 * follow (a lease taken, a lease settled, a queue dropped ...; the kinds
 * are listed in xact.c) and what mq_stats should count, per
 * subtransaction; xact.c's callbacks read it at commit or abort and finish
 * or undo each item.  The record is below lease.c, which writes to it, and
 * the callbacks above, so neither calls up.
 *
 * The arrays live in TopMemoryContext; callers reserve room before they
 * change shared state, so recording an item can never fail afterwards.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "utils/memutils.h"

#include "pending.h"

static Pending *pending = NULL;
static int	npending = 0;
static int	maxpending = 0;

static StatDelta *deltas = NULL;
static int	ndeltas = 0;
static int	maxdeltas = 0;

/* The end of the WAL written that need not be flushed before commit. */
static XLogRecPtr lazy_wal = InvalidXLogRecPtr;

/* Make room for n more items. */
void
pending_reserve(int n)
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
pending_add(PendingKind kind, Oid relid, int64 msgid, int64 receipt)
{
	Pending    *p;

	Assert(npending < maxpending);
	p = &pending[npending++];
	p->kind = kind;
	p->subid = GetCurrentSubTransactionId();
	p->relid = relid;
	p->msgid = msgid;
	p->receipt = receipt;
	p->wake = false;
}

/*
 * Record that this transaction changed a queue's row count.  Consecutive
 * changes to one queue in one subtransaction share an item.
 */
void
pending_note_depth(Oid relid, int64 delta)
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
	pending_reserve(1);
	pending_add(PENDING_DEPTH, relid, delta, 0);
}

/* Count n events of one kind for mq_stats, if this transaction commits. */
void
pending_count(Oid relid, QueueStat stat, int64 n)
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
pending_depth_delta(Oid relid)
{
	int64		delta = 0;
	int			i;

	for (i = 0; i < npending; i++)
		if (pending[i].kind == PENDING_DEPTH && pending[i].relid == relid)
			delta += pending[i].msgid;
	return delta;
}

/* The items recorded so far, in order; *n of them. */
Pending *
pending_items(int *n)
{
	*n = npending;
	return pending;
}

/* The counts for mq_stats recorded so far, *n queues' worth. */
StatDelta *
pending_stats(int *n)
{
	*n = ndeltas;
	return deltas;
}

/*
 * WAL up to lsn was written that should reach the disk soon, not before
 * the transaction ends (a first delivery's count, delivery.c).  A
 * subtransaction's abort does not undo it: the record is written.
 */
void
pending_lazy_wal(XLogRecPtr lsn)
{
	if (lsn > lazy_wal)
		lazy_wal = lsn;
}

/* That WAL's end, InvalidXLogRecPtr if none (for the callbacks, xact.c). */
XLogRecPtr
pending_lazy_wal_end(void)
{
	return lazy_wal;
}

/* Forget everything recorded (the transaction is over). */
void
pending_clear(void)
{
	npending = 0;
	ndeltas = 0;
	lazy_wal = InvalidXLogRecPtr;
}

/* A subtransaction committed: its items and counts pass to its parent. */
void
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
void
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
