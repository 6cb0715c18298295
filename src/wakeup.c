/*-------------------------------------------------------------------------
 *
 * wakeup.c
 *	  Long polls: readers sleep on their latch until a commit wakes them.
 *
 * A waiting read registers itself in its backend's slot of a shared array
 * (database, queue storage OID) and counts itself in the queue's shared
 * state (qstate.c), then looks for ready messages, and only then sleeps on
 * its latch.  After a transaction that changed a queue commits -- a send, a
 * nack, an ack (which frees a place under max_inflight), a purge, a dead
 * letter arriving -- or after one that held leases aborts (its messages are
 * ready again), xact.c calls wakeup_queue(), which sets the latch of every
 * backend registered for that queue.  Nothing is polled and nothing uses
 * LISTEN/NOTIFY; a queue nobody waits on costs one atomic read per commit.
 *
 * No wakeup is lost: the waiter registers (with a full barrier) before it
 * scans, and the committer looks for waiters (after a barrier) after its
 * commit became visible.  Either the scan sees the commit, or the committer
 * sees the waiter and sets its latch, which makes the coming WaitLatch
 * return at once.
 *
 * Locking: a slot is written only by its own backend; readers tolerate a
 * stale slot (a spurious wakeup only makes the waiter look again).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "access/xact.h"
#include "access/twophase.h"
#include "port/atomics.h"
#include "postmaster/autovacuum.h"
#include "postmaster/bgworker.h"
#include "replication/walsender.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "utils/wait_event.h"
#include "storage/shmem.h"

#include "compat.h"
#include "horizon.h"
#include "qstate.h"
#include "wakeup.h"

typedef struct WaitSlot
{
	Oid			dbid;
	Oid			relid;
	pg_atomic_uint32 waiting;
} WaitSlot;

static WaitSlot *slots = NULL;
static int	nslots = 0;

/* The queue this backend waits on, so that an error can unregister it. */
static QueueState *my_queue = NULL;

/* The subtransaction that registered (an abort above it keeps the wait). */
static SubTransactionId my_subid = InvalidSubTransactionId;

static int
slot_count(void)
{
	/* Every PGPROC that can run a client or worker backend. */
	return MaxConnections + autovacuum_max_workers + 1 + max_worker_processes +
		max_wal_senders + max_prepared_xacts + NUM_AUXILIARY_PROCS;
}

Size
wakeup_shmem_size(void)
{
	return mul_size(slot_count(), sizeof(WaitSlot));
}

void
wakeup_shmem_startup(void)
{
	bool		found;
	int			i;

	nslots = slot_count();
	slots = ShmemInitStruct("queue waiters", wakeup_shmem_size(), &found);
	if (!found)
		for (i = 0; i < nslots; i++)
		{
			slots[i].dbid = InvalidOid;
			slots[i].relid = InvalidOid;
			pg_atomic_init_u32(&slots[i].waiting, 0);
		}
}

/*
 * Register this backend as waiting for the queue (again, before every look
 * at the queue: the latch is reset here, so a wakeup after this point ends
 * the next sleep at once).
 */
void
wakeup_register(QueueState *qs, Oid relid)
{
	WaitSlot   *slot;

	if (MyProc == NULL || compat_my_procno() >= nslots)
		elog(ERROR, "no wait slot for this process");
	ResetLatch(MyLatch);
	slot = &slots[compat_my_procno()];
	if (my_queue != NULL)
	{
		pg_memory_barrier();
		return;
	}
	slot->dbid = MyDatabaseId;
	slot->relid = relid;
	pg_write_barrier();
	pg_atomic_write_u32(&slot->waiting, 1);
	qstate_waiters_add(qs, 1);
	my_queue = qs;
	my_subid = GetCurrentSubTransactionId();
	pg_memory_barrier();
}

/*
 * Sleep until woken, for at most msecs; query cancel and timeouts apply.
 * With release_horizon, the backend's xmin is cleared for the sleep
 * (horizon.c; the caller checked that it may be).
 */
void
wakeup_sleep(long msecs, bool release_horizon)
{
	if (release_horizon)
		horizon_release();
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 msecs, PG_WAIT_EXTENSION);
	CHECK_FOR_INTERRUPTS();
}

/* No longer waiting (also called at abort and at exit). */
void
wakeup_unregister(void)
{
	if (my_queue == NULL)
		return;
	pg_atomic_write_u32(&slots[compat_my_procno()].waiting, 0);
	qstate_waiters_add(my_queue, -1);
	my_queue = NULL;
}

/*
 * A subtransaction aborts: the wait goes if it was registered in it (or in
 * one below it), not if it was registered around it -- as mq_consume's
 * internal subtransactions are, which give a claim up and wait on.
 */
void
wakeup_subxact_abort(SubTransactionId subid)
{
	if (my_queue != NULL && my_subid >= subid)
		wakeup_unregister();
}

/* Wake every backend waiting for the queue (after a commit or abort). */
void
wakeup_queue(QueueState *qs, Oid dbid, Oid relid)
{
	int			i;

	pg_memory_barrier();
	if (qstate_waiters(qs) == 0)
		return;
	for (i = 0; i < nslots; i++)
	{
		WaitSlot   *slot = &slots[i];

		if (pg_atomic_read_u32(&slot->waiting) != 0 &&
			slot->relid == relid && slot->dbid == dbid)
			SetLatch(&GetPGProcByNumber(i)->procLatch);
	}
}

/* After a commit or abort that changed a queue: wake its long polls. */
void
wakeup_after_change(Oid relid)
{
	LWLock	   *lock;
	QueueState *qs = qstate_lookup_shared(relid, &lock);

	if (qs != NULL)
		wakeup_queue(qs, MyDatabaseId, relid);
	if (lock != NULL)
		LWLockRelease(lock);
}
