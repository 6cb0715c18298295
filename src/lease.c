/*-------------------------------------------------------------------------
 *
 * lease.c
 *	  Receipts and leases: who holds which delivery of a message, until when.
 *
 * A read leases messages: for the visibility timeout no other reader gets
 * them.  Leases need no durability -- losing one in a crash only redelivers
 * a message early, which at-least-once delivery allows -- so they live in
 * shared memory and cost no WAL.  What must survive a rollback or a crash,
 * the delivery count, is written to the message's row by storage.c.
 *
 * Two shared hash tables, both partitioned over the same LWLock array:
 *
 *	  leases	(db, queue storage OID, message id) -> receipt, until, state
 *	  receipts	(db, queue storage OID, receipt)	-> message id, rank
 *
 * "leases" is the authority; "receipts" is an index that lets ack/nack/extend
 * find a message from its receipt.  It holds the current delivery's receipt
 * and the one before (so a late ack can be told it is stale rather than
 * unknown), hence twice as many slots.  A receipts entry may outlive its
 * lease for a moment; every use checks it against "leases".
 *
 * A lease is ACTIVE, or SETTLING while a transaction that acked or nacked it
 * is in progress.  Readers skip a message whose lease is SETTLING, or ACTIVE
 * and not yet expired.  Transaction callbacks finish the job: at commit a
 * settled lease is removed (the ack's DELETE or the nack's new visible_at is
 * then visible), at abort it becomes ACTIVE again; leases taken by a
 * transaction that aborts are removed at once, so the messages are ready
 * again immediately (their delivery count stays incremented).  PREPARE
 * TRANSACTION is refused while such work is pending, because the callbacks
 * of another backend would have to finish it.
 *
 * Receipts come from one shared counter that never runs below the wall
 * clock in microseconds times 1024.  Shared memory starts empty after a
 * restart or a promotion, so every earlier lease is gone; the clock floor
 * makes new receipts larger than any issued before (assuming the clock does
 * not go back by more than the restart took), so an old receipt can never
 * name a later delivery.
 *
 * Locking: a hash entry is read or written only under its partition's
 * LWLock.  No code path holds two partition locks at once except
 * lease_sweep(), which takes all of them in order.  Callers may hold a
 * buffer content lock while calling in here (never the other way round).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "queue.h"

#define LEASE_PARTITIONS	32
#define RECEIPT_CLOCK_SHIFT 10

typedef enum LeaseState
{
	LEASE_ACTIVE = 0,
	LEASE_SETTLING
} LeaseState;

typedef struct LeaseKey
{
	Oid			dbid;
	Oid			relid;
	int64		msgid;
} LeaseKey;

typedef struct LeaseEntry
{
	LeaseKey	key;
	int64		receipt;
	int64		prev_receipt;	/* the delivery before, to call it stale */
	TimestampTz until;
	int16		rank;
	uint8		state;
} LeaseEntry;

typedef struct ReceiptKey
{
	Oid			dbid;
	Oid			relid;
	int64		receipt;
} ReceiptKey;

typedef struct ReceiptEntry
{
	ReceiptKey	key;
	int64		msgid;
	int16		rank;
} ReceiptEntry;

typedef struct LeaseShared
{
	pg_atomic_uint64 last_receipt;
} LeaseShared;

static LeaseShared *lease_shared = NULL;
static HTAB *lease_table = NULL;
static HTAB *receipt_table = NULL;
static LWLockPadded *lease_locks = NULL;

/*
 * Work a transaction must finish at commit or abort.  Kept in an array that
 * lives in TopMemoryContext and is emptied at transaction end.
 */
typedef enum PendingKind
{
	PENDING_CLAIM,				/* took a lease: release it at abort */
	PENDING_SETTLE,				/* acked/nacked: remove at commit, undo at abort */
	PENDING_FORGET,				/* dropped a queue: sweep its leases at commit */
	PENDING_FORGET_MSG,			/* purged a leased message: drop its lease at commit */
	PENDING_PURGE				/* purged a queue: nothing to do, but no PREPARE */
} PendingKind;

typedef struct Pending
{
	PendingKind kind;
	SubTransactionId subid;
	Oid			relid;
	int64		msgid;
	int64		receipt;
} Pending;

static Pending *pending = NULL;
static int	npending = 0;
static int	maxpending = 0;

/* ---------------------------------------------------------------------
 * Shared memory
 * ---------------------------------------------------------------------
 */

Size
lease_shmem_size(void)
{
	Size		size = MAXALIGN(sizeof(LeaseShared));

	size = add_size(size, hash_estimate_size(queue_max_leases, sizeof(LeaseEntry)));
	size = add_size(size, hash_estimate_size(2 * (Size) queue_max_leases, sizeof(ReceiptEntry)));
	return size;
}

void
lease_shmem_request(void)
{
	RequestAddinShmemSpace(lease_shmem_size());
	RequestNamedLWLockTranche("queue_leases", LEASE_PARTITIONS);
}

static HTAB *
lease_hash_init(const char *name, long size, Size keysize, Size entrysize)
{
	HASHCTL		info;

	info.keysize = keysize;
	info.entrysize = entrysize;
	info.num_partitions = LEASE_PARTITIONS;
	return ShmemInitHash(name, size, size, &info,
						 HASH_ELEM | HASH_BLOBS | HASH_PARTITION | HASH_FIXED_SIZE);
}

void
lease_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	lease_shared = ShmemInitStruct("queue lease state", sizeof(LeaseShared), &found);
	if (!found)
		pg_atomic_init_u64(&lease_shared->last_receipt, 0);
	lease_locks = GetNamedLWLockTranche("queue_leases");
	lease_table = lease_hash_init("queue leases", queue_max_leases,
								  sizeof(LeaseKey), sizeof(LeaseEntry));
	receipt_table = lease_hash_init("queue receipts", 2L * queue_max_leases,
									sizeof(ReceiptKey), sizeof(ReceiptEntry));
	LWLockRelease(AddinShmemInitLock);
}

static inline LWLock *
partition_lock(uint32 hashcode)
{
	return &lease_locks[hashcode % LEASE_PARTITIONS].lock;
}

static void
check_shmem(void)
{
	if (lease_table == NULL)
		queue_require_preload();
}

/* ---------------------------------------------------------------------
 * Receipts
 * ---------------------------------------------------------------------
 */

static int64
new_receipt(void)
{
	uint64		floor = ((uint64) GetCurrentTimestamp()) << RECEIPT_CLOCK_SHIFT;
	uint64		old = pg_atomic_read_u64(&lease_shared->last_receipt);

	for (;;)
	{
		uint64		next = Max(old + 1, floor);

		if (pg_atomic_compare_exchange_u64(&lease_shared->last_receipt, &old, next))
			return (int64) next;
	}
}

static void
receipt_remove(Oid relid, int64 receipt)
{
	ReceiptKey	key;
	uint32		hash;
	LWLock	   *lock;

	key.dbid = MyDatabaseId;
	key.relid = relid;
	key.receipt = receipt;
	hash = get_hash_value(receipt_table, &key);
	lock = partition_lock(hash);
	LWLockAcquire(lock, LW_EXCLUSIVE);
	hash_search_with_hash_value(receipt_table, &key, hash, HASH_REMOVE, NULL);
	LWLockRelease(lock);
}

/* Look a receipt up; false if unknown. */
static bool
receipt_find(Oid relid, int64 receipt, int64 *msgid, int16 *rank)
{
	ReceiptKey	key;
	ReceiptEntry *entry;
	uint32		hash;
	LWLock	   *lock;
	bool		found = false;

	key.dbid = MyDatabaseId;
	key.relid = relid;
	key.receipt = receipt;
	hash = get_hash_value(receipt_table, &key);
	lock = partition_lock(hash);
	LWLockAcquire(lock, LW_SHARED);
	entry = hash_search_with_hash_value(receipt_table, &key, hash, HASH_FIND, NULL);
	if (entry)
	{
		*msgid = entry->msgid;
		*rank = entry->rank;
		found = true;
	}
	LWLockRelease(lock);
	return found;
}

/* ---------------------------------------------------------------------
 * Pending work of the current transaction
 * ---------------------------------------------------------------------
 */

/*
 * Make room for n more pending items before taking any lease, so that
 * recording one can never fail after the lease was taken.
 */
void
lease_reserve(int n)
{
	check_shmem();
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

static void
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
}

/* ---------------------------------------------------------------------
 * Leases
 * ---------------------------------------------------------------------
 */

static void
lease_key_init(LeaseKey *key, Oid relid, int64 msgid)
{
	key->dbid = MyDatabaseId;
	key->relid = relid;
	key->msgid = msgid;
}

/*
 * Take the partition lock of a message's lease in the given mode and look
 * the lease up; NULL if there is none.  The lock is held on return.
 */
static LeaseEntry *
lease_find(Oid relid, int64 msgid, LWLockMode mode, LWLock **lock)
{
	LeaseKey	key;
	uint32		hash;

	lease_key_init(&key, relid, msgid);
	hash = get_hash_value(lease_table, &key);
	*lock = partition_lock(hash);
	LWLockAcquire(*lock, mode);
	return hash_search_with_hash_value(lease_table, &key, hash, HASH_FIND, NULL);
}

/*
 * Is the message leased (or being acked/nacked) right now?
 */
bool
lease_held(Oid relid, int64 msgid, TimestampTz now)
{
	LeaseEntry *entry;
	LWLock	   *lock;
	bool		held = false;

	check_shmem();
	entry = lease_find(relid, msgid, LW_SHARED, &lock);
	if (entry)
		held = entry->state == LEASE_SETTLING || entry->until > now;
	LWLockRelease(lock);
	return held;
}

/*
 * Remove expired leases of every queue to make room.  Takes every partition
 * lock, so it runs only when the table is full.
 */
static void
lease_sweep(Oid dbid, Oid relid, TimestampTz expired_before)
{
	HASH_SEQ_STATUS status;
	LeaseEntry *lease;
	ReceiptEntry *rcpt;
	int			i;

	for (i = 0; i < LEASE_PARTITIONS; i++)
		LWLockAcquire(&lease_locks[i].lock, LW_EXCLUSIVE);

	hash_seq_init(&status, lease_table);
	while ((lease = hash_seq_search(&status)) != NULL)
	{
		bool		doomed;

		if (OidIsValid(relid))
			doomed = lease->key.dbid == dbid && lease->key.relid == relid;
		else
			doomed = lease->state == LEASE_ACTIVE && lease->until < expired_before;
		if (doomed)
			hash_search(lease_table, &lease->key, HASH_REMOVE, NULL);
	}

	/* Receipts whose lease is gone (or names other deliveries) go too. */
	hash_seq_init(&status, receipt_table);
	while ((rcpt = hash_seq_search(&status)) != NULL)
	{
		LeaseKey	key;

		key.dbid = rcpt->key.dbid;
		key.relid = rcpt->key.relid;
		key.msgid = rcpt->msgid;
		lease = hash_search(lease_table, &key, HASH_FIND, NULL);
		if (lease == NULL || (lease->receipt != rcpt->key.receipt &&
							  lease->prev_receipt != rcpt->key.receipt))
			hash_search(receipt_table, &rcpt->key, HASH_REMOVE, NULL);
	}

	for (i = LEASE_PARTITIONS - 1; i >= 0; i--)
		LWLockRelease(&lease_locks[i].lock);
}

static void
lease_table_full(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("too many leased messages"),
			 errdetail("All %d lease slots are in use.", queue_max_leases),
			 errhint("Ack messages sooner, read fewer at once, or raise queue.max_leases.")));
}

/*
 * Lease a message unless it is leased already.  On success the new receipt
 * is returned and the lease is released again if the current
 * (sub)transaction aborts.  Callers hold the content lock of the message's
 * heap buffer, which keeps the row from being deleted meanwhile.
 */
bool
lease_claim(Oid relid, int64 msgid, int16 rank, TimestampTz now,
			TimestampTz until, int64 *receipt)
{
	LeaseKey	key;
	LeaseEntry *entry;
	uint32		hash;
	LWLock	   *lock;
	bool		found;
	int64		old_receipt = 0;
	int64		forgotten = 0;
	ReceiptKey	rkey;
	ReceiptEntry *rentry;
	bool		swept = false;

	Assert(npending < maxpending);
	lease_key_init(&key, relid, msgid);
	hash = get_hash_value(lease_table, &key);
	lock = partition_lock(hash);

retry:
	LWLockAcquire(lock, LW_EXCLUSIVE);
	entry = hash_search_with_hash_value(lease_table, &key, hash, HASH_ENTER_NULL, &found);
	if (entry == NULL)
	{
		LWLockRelease(lock);
		if (swept)
			lease_table_full();
		lease_sweep(InvalidOid, InvalidOid, now);
		swept = true;
		goto retry;
	}
	if (found)
	{
		if (entry->state == LEASE_SETTLING || entry->until > now)
		{
			LWLockRelease(lock);
			return false;
		}
		old_receipt = entry->receipt;
		forgotten = entry->prev_receipt;
	}
	entry->prev_receipt = old_receipt;
	entry->receipt = new_receipt();
	entry->until = until;
	entry->rank = rank;
	entry->state = LEASE_ACTIVE;
	*receipt = entry->receipt;
	LWLockRelease(lock);

	pending_add(PENDING_CLAIM, relid, msgid, *receipt);

	/* Index the new receipt; forget the one two deliveries back. */
	rkey.dbid = MyDatabaseId;
	rkey.relid = relid;
	rkey.receipt = *receipt;
	hash = get_hash_value(receipt_table, &rkey);
	lock = partition_lock(hash);
	LWLockAcquire(lock, LW_EXCLUSIVE);
	rentry = hash_search_with_hash_value(receipt_table, &rkey, hash, HASH_ENTER_NULL, &found);
	if (rentry)
	{
		rentry->msgid = msgid;
		rentry->rank = rank;
	}
	LWLockRelease(lock);
	if (forgotten != 0)
		receipt_remove(relid, forgotten);
	if (rentry == NULL)
	{
		/*
		 * The receipts table has as many slots as the leases table and every
		 * receipt belongs to a lease, so this means stale receipts piled up.
		 * Sweep them and try once more.
		 */
		lease_sweep(InvalidOid, InvalidOid, now);
		LWLockAcquire(lock, LW_EXCLUSIVE);
		rentry = hash_search_with_hash_value(receipt_table, &rkey, hash, HASH_ENTER_NULL, &found);
		if (rentry)
		{
			rentry->msgid = msgid;
			rentry->rank = rank;
		}
		LWLockRelease(lock);
		if (rentry == NULL)
			lease_table_full();
	}
	return true;
}

/*
 * Find the lease a receipt names and check it is the current, active
 * delivery.  If so, either mark it SETTLING (settle) or move its end to
 * "until" (extend).  msgid and rank identify the message.
 */
static LeaseCheck
lease_use(Oid relid, int64 receipt, bool settle, TimestampTz until,
		  int64 *msgid, int16 *rank)
{
	LeaseEntry *entry;
	LWLock	   *lock;
	LeaseCheck	result;

	check_shmem();
	if (!receipt_find(relid, receipt, msgid, rank))
		return LEASE_UNKNOWN;

	entry = lease_find(relid, *msgid, LW_EXCLUSIVE, &lock);
	if (entry == NULL)
		result = LEASE_UNKNOWN;
	else if (entry->receipt != receipt)
		result = entry->prev_receipt == receipt ? LEASE_STALE : LEASE_UNKNOWN;
	else if (entry->state == LEASE_SETTLING)
		result = LEASE_BUSY;
	else
	{
		if (settle)
			entry->state = LEASE_SETTLING;
		else
			entry->until = until;
		result = LEASE_OK;
	}
	LWLockRelease(lock);
	return result;
}

/*
 * Begin to ack or nack the delivery named by a receipt: on LEASE_OK the
 * lease is SETTLING until the transaction ends, so no reader takes the
 * message meanwhile, and msgid/rank identify the row to change.  A lease
 * that expired but was not taken by another reader can still be settled.
 */
LeaseCheck
lease_settle(Oid relid, int64 receipt, int64 *msgid, int16 *rank)
{
	LeaseCheck	result;

	lease_reserve(1);
	result = lease_use(relid, receipt, true, 0, msgid, rank);
	if (result == LEASE_OK)
		pending_add(PENDING_SETTLE, relid, *msgid, receipt);
	return result;
}

/*
 * Remove a message's lease if it still carries this receipt (any receipt
 * when receipt is 0), and the receipts that name it.
 */
static void
lease_remove(Oid relid, int64 msgid, int64 receipt)
{
	LeaseEntry *entry;
	LWLock	   *lock;
	int64		current = 0;
	int64		prev = 0;

	entry = lease_find(relid, msgid, LW_EXCLUSIVE, &lock);
	if (entry && (receipt == 0 || entry->receipt == receipt))
	{
		current = entry->receipt;
		prev = entry->prev_receipt;
		hash_search(lease_table, &entry->key, HASH_REMOVE, NULL);
	}
	LWLockRelease(lock);
	if (current != 0)
		receipt_remove(relid, current);
	if (prev != 0)
		receipt_remove(relid, prev);
}

/*
 * The message a settling lease refers to is gone (purged or dropped by a
 * transaction that committed first): forget the lease now.
 */
void
lease_drop(Oid relid, int64 receipt)
{
	int64		msgid;
	int16		rank;

	if (receipt_find(relid, receipt, &msgid, &rank))
		lease_remove(relid, msgid, receipt);
}

/* Undo lease_settle(): the lease is ACTIVE again. */
static void
lease_unsettle(Oid relid, int64 msgid, int64 receipt)
{
	LeaseEntry *entry;
	LWLock	   *lock;

	entry = lease_find(relid, msgid, LW_EXCLUSIVE, &lock);
	if (entry && entry->receipt == receipt)
		entry->state = LEASE_ACTIVE;
	LWLockRelease(lock);
}

/*
 * Move the end of an active lease.  Takes effect at once, whatever becomes
 * of the calling transaction.
 */
LeaseCheck
lease_extend(Oid relid, int64 receipt, TimestampTz until)
{
	int64		msgid;
	int16		rank;

	return lease_use(relid, receipt, false, until, &msgid, &rank);
}

/* A queue was dropped: forget its leases when that commits. */
void
lease_forget_queue_at_commit(Oid relid)
{
	lease_reserve(1);
	pending_add(PENDING_FORGET, relid, 0, 0);
}

/*
 * A message was deleted by a purge: if it has a lease, drop the lease when
 * that commits.  (Other messages of the queue keep theirs: a send that
 * commits after the purge ran, and the lease a reader took of it, survive.)
 */
void
lease_forget_message_at_commit(Oid relid, int64 msgid)
{
	LWLock	   *lock;
	bool		found;

	check_shmem();
	found = lease_find(relid, msgid, LW_SHARED, &lock) != NULL;
	LWLockRelease(lock);
	if (found)
	{
		lease_reserve(1);
		pending_add(PENDING_FORGET_MSG, relid, msgid, 0);
	}
}

/*
 * A queue was purged.  Nothing is left to do at commit unless leased
 * messages went (see above), but the transaction is refused PREPARE all the
 * same, so that whether a purge can be prepared does not depend on leases.
 */
void
lease_note_purge(Oid relid)
{
	lease_reserve(1);
	pending_add(PENDING_PURGE, relid, 0, 0);
}

/* ---------------------------------------------------------------------
 * Transaction callbacks
 * ---------------------------------------------------------------------
 */

static void
pending_finish(Pending *p, bool commit)
{
	switch (p->kind)
	{
		case PENDING_CLAIM:
			if (!commit)
				lease_remove(p->relid, p->msgid, p->receipt);
			break;
		case PENDING_SETTLE:
			if (commit)
				lease_remove(p->relid, p->msgid, p->receipt);
			else
				lease_unsettle(p->relid, p->msgid, p->receipt);
			break;
		case PENDING_FORGET:
			if (commit)
				lease_sweep(MyDatabaseId, p->relid, 0);
			break;
		case PENDING_FORGET_MSG:
			if (commit)
				lease_remove(p->relid, p->msgid, 0);
			break;
		case PENDING_PURGE:
			break;
	}
}

static void
lease_xact_callback(XactEvent event, void *arg)
{
	int			i;

	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (npending > 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that has read, acked, nacked, purged or dropped queue messages")));
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
lease_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
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
lease_register_callbacks(void)
{
	RegisterXactCallback(lease_xact_callback, NULL);
	RegisterSubXactCallback(lease_subxact_callback, NULL);
}
