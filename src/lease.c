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
 * and not yet expired.  The transaction callbacks (xact.c) finish the job:
 * at commit a settled lease is removed (the ack's DELETE or the nack's new
 * visible_at is then visible), at abort it becomes ACTIVE again; leases taken
 * by a transaction that aborts are removed at once, so the messages are
 * ready again immediately (their delivery count stays incremented).
 *
 * Each queue's number of lease entries is kept in its shared state
 * (qstate.c), which is how max_inflight is enforced.
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

#include "compat.h"
#include "lease.h"
#include "pending.h"
#include "qstate.h"
#include "util.h"

int			queue_max_leases = 65536;

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
	int64		retry;			/* the message is ready again at until + retry */
	int32		pid;			/* the backend that took it */
	int16		rank;
	uint8		state;
	bool		open;			/* held until its transaction ends, vt or not */
	LeaseRow	row;			/* where the row was read (a hint) */
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
	bool		grouped;		/* the message is of a message group ... */
	uint32		group;			/* ... with this hash of its key */
} ReceiptEntry;

typedef struct LeaseShared
{
	pg_atomic_uint64 last_receipt;
	TimestampTz started_at;		/* when this shared memory was set up */
} LeaseShared;

static LeaseShared *lease_shared = NULL;
static HTAB *lease_table = NULL;
static HTAB *receipt_table = NULL;
static LWLockPadded *lease_locks = NULL;

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
	return compat_shmem_init_hash(name, size, size, &info,
						 HASH_ELEM | HASH_BLOBS | HASH_PARTITION | HASH_FIXED_SIZE);
}

void
lease_shmem_startup(void)
{
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	lease_shared = ShmemInitStruct("queue lease state", sizeof(LeaseShared), &found);
	if (!found)
	{
		pg_atomic_init_u64(&lease_shared->last_receipt, 0);
		lease_shared->started_at = GetCurrentTimestamp();
	}
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
		util_require_preload();
}

/*
 * When the server last started, or restarted after a crash: shared memory
 * (and every lease in it) is set up afresh then.
 */
TimestampTz
lease_started_at(void)
{
	check_shmem();
	return lease_shared->started_at;
}

/*
 * Could this number be a receipt?  Every receipt is at least the wall clock
 * of its issue in microseconds since 2000 times 1024, so one below a year's
 * worth (about 3.2e16) never was: it is most likely a message id.
 */
bool
lease_could_be_receipt(int64 receipt)
{
	return receipt >= (int64) (USECS_PER_DAY * 365) << RECEIPT_CLOCK_SHIFT;
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

/* Look a receipt up: a copy of its entry in *out; false if unknown. */
static bool
receipt_lookup(Oid relid, int64 receipt, ReceiptEntry *out)
{
	ReceiptKey	key;
	ReceiptEntry *entry;
	uint32		hash;
	LWLock	   *lock;

	key.dbid = MyDatabaseId;
	key.relid = relid;
	key.receipt = receipt;
	hash = get_hash_value(receipt_table, &key);
	lock = partition_lock(hash);
	LWLockAcquire(lock, LW_SHARED);
	entry = hash_search_with_hash_value(receipt_table, &key, hash, HASH_FIND, NULL);
	if (entry)
		*out = *entry;
	LWLockRelease(lock);
	return entry != NULL;
}

/* Look a receipt up; false if unknown. */
static bool
receipt_find(Oid relid, int64 receipt, int64 *msgid, int16 *rank)
{
	ReceiptEntry entry;

	if (!receipt_lookup(relid, receipt, &entry))
		return false;
	*msgid = entry.msgid;
	*rank = entry.rank;
	return true;
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
lease_find_hashed(Oid relid, int64 msgid, LWLockMode mode, LWLock **lock, uint32 *hash)
{
	LeaseKey	key;

	lease_key_init(&key, relid, msgid);
	*hash = get_hash_value(lease_table, &key);
	*lock = partition_lock(*hash);
	LWLockAcquire(*lock, mode);
	return hash_search_with_hash_value(lease_table, &key, *hash, HASH_FIND, NULL);
}

static LeaseEntry *
lease_find(Oid relid, int64 msgid, LWLockMode mode, LWLock **lock)
{
	uint32		hash;

	return lease_find_hashed(relid, msgid, mode, lock, &hash);
}

/*
 * Has the lease ended and its retry delay passed, so that the message may
 * be delivered again?  (An ended lease can still be settled until then, and
 * after, until the message is delivered again.)  A lease held to the end
 * of its transaction has not ended while that transaction goes on.
 */
static inline bool
lease_over(const LeaseEntry *entry, TimestampTz now)
{
	return entry->state == LEASE_ACTIVE && !entry->open &&
		entry->until + entry->retry <= now;
}

/*
 * Is the message leased (or being acked/nacked) right now?
 */
bool
lease_held(Oid relid, int64 msgid, TimestampTz now)
{
	TimestampTz until;
	int			pid;

	return lease_holder(relid, msgid, now, &until, &pid);
}

/*
 * The lease of a message that is leased (or being acked/nacked, or waiting
 * out its retry delay) right now: until when, and which backend took it.
 * False if none.
 */
bool
lease_holder(Oid relid, int64 msgid, TimestampTz now, TimestampTz *until, int *pid)
{
	LeaseEntry *entry;
	LWLock	   *lock;
	bool		held = false;

	check_shmem();
	entry = lease_find(relid, msgid, LW_SHARED, &lock);
	if (entry && !lease_over(entry, now))
	{
		held = true;
		*until = entry->until;
		*pid = entry->pid;
	}
	LWLockRelease(lock);
	return held;
}

/*
 * Remove leases, taking every partition lock, so only when it pays:
 *	  relid invalid: the expired leases of every queue (the table is full);
 *	  relid valid, expired_only: the expired leases of one queue (a reader at
 *		max_inflight); returns the earliest end among its other leases;
 *	  relid valid, !expired_only: every lease of a dropped queue.
 * Receipts that no longer name a lease go too.
 */
static TimestampTz
lease_sweep(Oid relid, bool expired_only, TimestampTz now, QueueState *qs)
{
	HASH_SEQ_STATUS status;
	LeaseEntry *lease;
	ReceiptEntry *rcpt;
	TimestampTz earliest = DT_NOEND;
	int			i;

	for (i = 0; i < LEASE_PARTITIONS; i++)
		LWLockAcquire(&lease_locks[i].lock, LW_EXCLUSIVE);

	hash_seq_init(&status, lease_table);
	while ((lease = hash_seq_search(&status)) != NULL)
	{
		bool		expired = lease_over(lease, now);
		bool		doomed;

		if (!OidIsValid(relid))
			doomed = expired;
		else if (lease->key.dbid != MyDatabaseId || lease->key.relid != relid)
			continue;
		else
			doomed = expired || !expired_only;
		if (doomed)
		{
			qstate_lease_removed(lease->key.dbid, lease->key.relid, true, false, 0);
			hash_search(lease_table, &lease->key, HASH_REMOVE, NULL);
		}
		else if (OidIsValid(relid) && !lease->open)
		{
			/*
			 * When this lease ends, or its retry delay does.  (An open lease
			 * ends at its transaction's commit, which lowers the bound.)
			 */
			TimestampTz next = lease->until > now ? lease->until : lease->until + lease->retry;

			earliest = Min(earliest, next);
		}
	}

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

	/* Claims wait for these locks, so none lowers the bound meanwhile. */
	if (qs != NULL)
		qstate_set_min_until(qs, earliest);

	for (i = LEASE_PARTITIONS - 1; i >= 0; i--)
		LWLockRelease(&lease_locks[i].lock);
	return earliest;
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

/* Add a receipt to the index; false if the index is full. */
static bool
receipt_add(Oid relid, int64 receipt, int64 msgid, int16 rank, int64 group)
{
	ReceiptKey	key;
	ReceiptEntry *entry;
	uint32		hash;
	LWLock	   *lock;
	bool		found;

	key.dbid = MyDatabaseId;
	key.relid = relid;
	key.receipt = receipt;
	hash = get_hash_value(receipt_table, &key);
	lock = partition_lock(hash);
	LWLockAcquire(lock, LW_EXCLUSIVE);
	entry = hash_search_with_hash_value(receipt_table, &key, hash, HASH_ENTER_NULL, &found);
	if (entry)
	{
		entry->msgid = msgid;
		entry->rank = rank;
		entry->grouped = group != LEASE_NO_GROUP;
		entry->group = (uint32) group;
	}
	LWLockRelease(lock);
	return entry != NULL;
}

/*
 * What a receipt names: its message and the message's group, if any
 * (target->known false: no delivery has this receipt now).
 */
void
lease_resolve(Oid relid, int64 receipt, LeaseTarget *target)
{
	ReceiptEntry entry;

	check_shmem();
	target->known = receipt_lookup(relid, receipt, &entry);
	if (target->known)
	{
		target->msgid = entry.msgid;
		target->rank = entry.rank;
		target->grouped = entry.grouped;
		target->group = entry.group;
	}
}

/*
 * Lease a message unless it is leased already (CLAIM_BUSY) or a new lease
 * would pass the queue's max_inflight (CLAIM_LIMIT; limit 0 means none).
 * With hold, the lease lasts at least until the current transaction ends,
 * even past until.
 * group is the hash of its message group's key (LEASE_NO_GROUP: none), kept
 * with the receipt so that a batch ack can lock the groups in order.  On
 * success the new receipt is returned, and the lease is released again if
 * the current (sub)transaction aborts.  Callers hold the content lock of the
 * message's heap buffer, which keeps the row from being deleted meanwhile;
 * row says where it is.  On CLAIM_BUSY, *busy_until (if not NULL) gets the
 * time before which the lease cannot end by itself.
 */
ClaimResult
lease_claim(QueueState *qs, Oid relid, int64 msgid, int16 rank, int64 group,
			TimestampTz now, TimestampTz until, int64 retry, uint32 limit, bool hold,
			const LeaseRow *row, int64 *receipt, TimestampTz *busy_until)
{
	LeaseKey	key;
	LeaseEntry *entry;
	uint32		hash;
	LWLock	   *lock;
	bool		found;
	int64		old_receipt = 0;
	int64		forgotten = 0;
	bool		swept = false;

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
		lease_sweep(InvalidOid, true, now, NULL);
		swept = true;
		goto retry;
	}
	if (found)
	{
		if (!lease_over(entry, now))
		{
			/* Not before then can it be taken (see lease_over). */
			if (busy_until != NULL)
				*busy_until = entry->until;
			LWLockRelease(lock);
			return CLAIM_BUSY;
		}
		old_receipt = entry->receipt;
		forgotten = entry->prev_receipt;
		qstate_lease_add(qs, 0, until, false);
	}
	else if (!qstate_lease_add(qs, limit, until, true))
	{
		hash_search_with_hash_value(lease_table, &key, hash, HASH_REMOVE, NULL);
		LWLockRelease(lock);
		return CLAIM_LIMIT;
	}
	entry->prev_receipt = old_receipt;
	entry->receipt = new_receipt();
	entry->until = until;
	entry->retry = retry;
	entry->pid = MyProcPid;
	entry->rank = rank;
	entry->state = LEASE_ACTIVE;
	entry->open = hold;
	entry->row = *row;
	*receipt = entry->receipt;
	LWLockRelease(lock);

	pending_add(hold ? PENDING_HOLD : PENDING_CLAIM, relid, msgid, *receipt);

	/* Index the new receipt; forget the one two deliveries back. */
	if (forgotten != 0)
		receipt_remove(relid, forgotten);
	if (!receipt_add(relid, *receipt, msgid, rank, group))
	{
		/*
		 * The receipts table has twice as many slots as the leases table and
		 * a lease has at most two receipts, so stale receipts piled up.
		 * Sweep them and try once more.
		 */
		lease_sweep(InvalidOid, true, now, NULL);
		if (!receipt_add(relid, *receipt, msgid, rank, group))
			lease_table_full();
	}
	return CLAIM_OK;
}

/*
 * A reader of a queue at max_inflight: remove the queue's expired leases if
 * any can have expired.  True if some went.
 */
bool
lease_sweep_expired(QueueState *qs, Oid relid, TimestampTz now)
{
	uint32		before = qstate_leases(qs);

	if (!qstate_leases_may_have_expired(qs, now))
		return false;
	lease_sweep(relid, true, now, qs);
	return qstate_leases(qs) < before;
}

/*
 * The queue's leases that have not ended (settling ones included): the
 * lease count, unless one may have ended; then the lease table is read
 * (expired leases stay, as they can still be settled until taken again).
 * A message waiting out its retry delay counts: it is not ready either.
 */
uint32
lease_count_active(QueueState *qs, Oid relid, TimestampTz now)
{
	HASH_SEQ_STATUS status;
	LeaseEntry *lease;
	uint32		n = 0;
	int			i;

	if (!qstate_leases_may_have_expired(qs, now))
		return qstate_leases(qs);
	check_shmem();
	for (i = 0; i < LEASE_PARTITIONS; i++)
		LWLockAcquire(&lease_locks[i].lock, LW_SHARED);
	hash_seq_init(&status, lease_table);
	while ((lease = hash_seq_search(&status)) != NULL)
		if (lease->key.dbid == MyDatabaseId && lease->key.relid == relid &&
			!lease_over(lease, now))
			n++;
	for (i = LEASE_PARTITIONS - 1; i >= 0; i--)
		LWLockRelease(&lease_locks[i].lock);
	return n;
}

/*
 * Find the lease a receipt names and check it is the current, active
 * delivery.  If so, either mark it SETTLING (settle) or move its end to
 * "until" (extend).  msgid and rank identify the message; retry and row,
 * unless NULL, receive the delivery's retry delay and where it was read.
 */
static LeaseCheck
lease_use(Oid relid, int64 receipt, const LeaseTarget *target, bool settle,
		  TimestampTz until, int64 *msgid, int16 *rank, int64 *retry, LeaseRow *row)
{
	LeaseEntry *entry;
	LWLock	   *lock;
	LeaseCheck	result;

	check_shmem();
	if (target != NULL)
	{
		/* Resolved by the caller; the lease is checked now, as below. */
		if (!target->known)
			return LEASE_UNKNOWN;
		*msgid = target->msgid;
		*rank = target->rank;
	}
	else if (!receipt_find(relid, receipt, msgid, rank))
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
		if (retry != NULL)
			*retry = entry->retry;
		if (row != NULL)
			*row = entry->row;
		result = LEASE_OK;
	}
	LWLockRelease(lock);
	return result;
}

/*
 * Begin to ack or nack the delivery named by a receipt: on LEASE_OK the
 * lease is SETTLING until the transaction ends, so no reader takes the
 * message meanwhile, and msgid/rank identify the row to change; retry is
 * the delivery's retry delay, row where it was read (either may be NULL).
 * A lease that expired but was not taken by another reader can still be
 * settled.  target, unless NULL, is what lease_resolve() found for the
 * receipt; ack says the settle deletes the row.
 */
LeaseCheck
lease_settle(Oid relid, int64 receipt, const LeaseTarget *target, bool ack, int64 *msgid,
			 int16 *rank, int64 *retry, LeaseRow *row)
{
	LeaseCheck	result;

	pending_reserve(1);
	result = lease_use(relid, receipt, target, true, 0, msgid, rank, retry, row);
	if (result == LEASE_OK)
		pending_add(ack ? PENDING_ACK : PENDING_SETTLE, relid, *msgid, receipt);
	return result;
}

/*
 * Remove a message's lease if it still carries this receipt (any receipt
 * when receipt is 0), and the receipts that name it.  gone: the message's
 * row was deleted by a transaction that committed; if not, readers may take
 * it again.
 */
void
lease_release(Oid relid, int64 msgid, int64 receipt, bool gone)
{
	LeaseEntry *entry;
	LWLock	   *lock;
	uint32		hash;
	int64		current = 0;
	int64		prev = 0;

	entry = lease_find_hashed(relid, msgid, LW_EXCLUSIVE, &lock, &hash);
	if (entry && (receipt == 0 || entry->receipt == receipt))
	{
		uint64		row_key = qstate_floor_key(entry->rank, msgid);

		current = entry->receipt;
		prev = entry->prev_receipt;
		hash_search_with_hash_value(lease_table, &entry->key, hash, HASH_REMOVE, NULL);
		qstate_lease_removed(MyDatabaseId, relid, true, !gone, row_key);
	}
	LWLockRelease(lock);
	if (current != 0)
		receipt_remove(relid, current);
	if (prev != 0)
		receipt_remove(relid, prev);
}

/*
 * The transaction that took a lease rolled back: the message is ready again
 * once the delivery's retry delay has passed from now (in shared memory
 * only: a restart makes it ready at once), or at once without one.  The
 * receipt is forgotten either way.
 */
void
lease_release_claim(Oid relid, int64 msgid, int64 receipt)
{
	LeaseEntry *entry;
	LWLock	   *lock;
	bool		cool = false;
	TimestampTz now = GetCurrentTimestamp();
	int64		prev = 0;

	entry = lease_find(relid, msgid, LW_EXCLUSIVE, &lock);
	if (entry && entry->receipt == receipt && entry->retry > 0 &&
		entry->state == LEASE_ACTIVE)
	{
		prev = entry->prev_receipt;
		entry->until = now;
		entry->receipt = 0;
		entry->prev_receipt = 0;
		cool = true;
		qstate_lease_removed(MyDatabaseId, relid, false, true,
							 qstate_floor_key(entry->rank, msgid));
	}
	LWLockRelease(lock);
	if (!cool)
	{
		lease_release(relid, msgid, receipt, false);
		return;
	}
	qstate_lower_min_until(qstate_get(relid), now);
	receipt_remove(relid, receipt);
	if (prev != 0)
		receipt_remove(relid, prev);
}

/*
 * The transaction that took a lease held to its end commits: from now on
 * the lease ends at its time.  True if that time has passed, so that the
 * message is ready now (or after its retry delay).
 */
bool
lease_end_hold(Oid relid, int64 msgid, int64 receipt)
{
	LeaseEntry *entry;
	LWLock	   *lock;
	TimestampTz until = DT_NOEND;
	bool		ended = false;

	entry = lease_find(relid, msgid, LW_EXCLUSIVE, &lock);
	if (entry && entry->receipt == receipt && entry->open)
	{
		entry->open = false;
		until = entry->until;
		ended = until <= GetCurrentTimestamp();
	}
	LWLockRelease(lock);
	/* Sweeps leave open leases out of the bound: put this one in. */
	if (until != DT_NOEND)
		qstate_lower_min_until(qstate_get(relid), until);
	return ended;
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
		lease_release(relid, msgid, receipt, false);
}

/* Undo lease_settle(): the lease is ACTIVE again. */
void
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
	LeaseCheck	result = lease_use(relid, receipt, NULL, false, until, &msgid, &rank, NULL, NULL);

	/*
	 * An earlier end: readers at max_inflight and mq_queues must know, and
	 * readers that passed the message as leased.
	 */
	if (result == LEASE_OK)
	{
		qstate_lower_min_until(qstate_get(relid), until);
		qstate_lease_removed(MyDatabaseId, relid, false, true, qstate_floor_key(rank, msgid));
	}
	return result;
}

/* A queue was dropped: forget its leases when that commits. */
void
lease_forget_queue_at_commit(Oid relid)
{
	pending_reserve(1);
	pending_add(PENDING_FORGET, relid, 0, 0);
}

/* At the commit of a drop: remove every lease of the queue. */
void
lease_forget_queue(Oid relid)
{
	lease_sweep(relid, false, 0, NULL);
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
		pending_reserve(1);
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
	pending_reserve(1);
	pending_add(PENDING_PURGE, relid, 0, 0);
}

