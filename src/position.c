/*-------------------------------------------------------------------------
 *
 * position.c
 *	  Stream positions: per-partition counters and the stable horizon.
 *
 * Every stream partition in use has an entry in a shared hash of
 * queue.max_partitions entries, keyed by (database, stream, partition), with
 * the next position to hand out and the positions held by transactions
 * still in progress.  An append takes its position under the entry's
 * partition lock and, if its transaction holds none of that partition yet,
 * records the position there with its PGPROC number.  Positions are dense:
 * only a rolled-back append leaves a hole.
 *
 * The stable end of a partition is the lowest position held by a
 * transaction other than the caller's or, when no other transaction holds
 * one, the next position to hand out; both are read together under the
 * entry's lock, so they describe one moment.  Readers only return records
 * below it.  A held position is released after the transaction has ended
 * (XACT_EVENT_COMMIT and XACT_EVENT_ABORT run after ProcArrayEndTransaction),
 * or when the backend exits.  A reader reads the stable end first and only
 * then scans, with a snapshot taken after it.  Every position below the
 * stable end had been handed out at that moment, and belongs either to a
 * transaction that had ended, or to the caller's own: a transaction in
 * progress that held one would have bounded the end below it.  The scan
 * therefore sees those rows as they finally are; positions handed out
 * after that moment are at or above the end and not looked at, however
 * their transactions end.  So a reader that has returned position p never
 * later finds a committed record below p that it did not return.  (Bounding
 * by the holds alone is not enough: with no hold, a scan bounded by nothing
 * can pass a position taken while it runs by a transaction still in
 * progress, and return the next one, committed by another.)
 *
 * A counter starts uninitialised (after a restart, or a promotion: shared
 * memory starts empty); the first append, or the first reader, computes it
 * from the storage, the highest committed position plus one.  No
 * transaction can hold a position of an uninitialised partition, so that
 * value is final.
 *
 * At most HOLDS_PER_PARTITION transactions hold positions of one partition
 * at a time; another appender waits until one of them ends.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "compat.h"
#include "position.h"
#include "qstate.h"
#include "util.h"

#define POSITION_PARTITIONS		16
#define HOLDS_PER_PARTITION		32

int			queue_max_partitions = 16384;

typedef struct PositionKey
{
	Oid			dbid;
	Oid			stream;			/* the stream's identity relation */
	int32		partition;
} PositionKey;

typedef struct Hold
{
	int64		position;
	int			procno;			/* -1: free */
} Hold;

typedef struct PartitionEntry
{
	PositionKey key;
	bool		initialised;
	int64		next;
	int			nholds;
	Hold		holds[HOLDS_PER_PARTITION];
} PartitionEntry;

static HTAB *partition_table = NULL;
static LWLockPadded *partition_locks = NULL;

/* The partitions this backend's transaction holds a position of. */
static PositionKey *held = NULL;
static int	nheld = 0;
static int	maxheld = 0;
static bool exit_hook_set = false;

Size
position_shmem_size(void)
{
	return hash_estimate_size(queue_max_partitions, sizeof(PartitionEntry));
}

void
position_shmem_request(void)
{
	RequestAddinShmemSpace(position_shmem_size());
	RequestNamedLWLockTranche("queue_positions", POSITION_PARTITIONS);
}

void
position_shmem_startup(void)
{
	HASHCTL		info;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	partition_locks = GetNamedLWLockTranche("queue_positions");
	info.keysize = sizeof(PositionKey);
	info.entrysize = sizeof(PartitionEntry);
	info.num_partitions = POSITION_PARTITIONS;
	partition_table = compat_shmem_init_hash("queue stream partitions", queue_max_partitions,
									queue_max_partitions, &info,
									HASH_ELEM | HASH_BLOBS | HASH_PARTITION | HASH_FIXED_SIZE);
	LWLockRelease(AddinShmemInitLock);
}

static void
make_key(PositionKey *key, Oid stream, int32 partition)
{
	memset(key, 0, sizeof(*key));
	key->dbid = MyDatabaseId;
	key->stream = stream;
	key->partition = partition;
}

/* Find (or create) an entry with its lock held in the given mode. */
static PartitionEntry *
find_entry(const PositionKey *key, bool create, LWLockMode mode, LWLock **lock)
{
	uint32		hash;
	PartitionEntry *e;
	bool		found;

	if (partition_table == NULL)
		util_require_preload();
	hash = get_hash_value(partition_table, key);
	*lock = &partition_locks[hash % POSITION_PARTITIONS].lock;
	LWLockAcquire(*lock, create ? LW_EXCLUSIVE : mode);
	if (!create)
		return hash_search_with_hash_value(partition_table, key, hash, HASH_FIND, NULL);
	e = hash_search_with_hash_value(partition_table, key, hash, HASH_ENTER_NULL, &found);
	if (e == NULL)
	{
		LWLockRelease(*lock);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many stream partitions in use"),
				 errdetail("All %d slots for stream positions are taken.", queue_max_partitions),
				 errhint("Raise queue.max_partitions.")));
	}
	if (!found)
	{
		int			i;

		e->initialised = false;
		e->next = 0;
		e->nholds = 0;
		for (i = 0; i < HOLDS_PER_PARTITION; i++)
			e->holds[i].procno = -1;
	}
	return e;
}

static bool
holding(const PositionKey *key)
{
	int			i;

	for (i = 0; i < nheld; i++)
		if (memcmp(&held[i], key, sizeof(PositionKey)) == 0)
			return true;
	return false;
}

static void
release_all(void)
{
	int			i;

	for (i = 0; i < nheld; i++)
	{
		LWLock	   *lock;
		PartitionEntry *e = find_entry(&held[i], false, LW_EXCLUSIVE, &lock);

		if (e != NULL)
		{
			int			j;

			for (j = 0; j < HOLDS_PER_PARTITION; j++)
				if (e->holds[j].procno == compat_my_procno())
				{
					e->holds[j].procno = -1;
					e->nholds--;
				}
		}
		LWLockRelease(lock);
	}
	nheld = 0;
}

static void
position_exit(int code, Datum arg)
{
	if (partition_table != NULL)
		release_all();
}

/*
 * Find (or create) the entry of a partition with its counter initialised,
 * its lock held exclusively.  init computes the counter from the storage
 * when the entry is new; it is called without any lock held.
 */
static PartitionEntry *
find_initialised(const PositionKey *key, int64 (*init) (void *arg, int32 partition),
				 void *arg, LWLock **lock)
{
	PartitionEntry *e = find_entry(key, true, LW_EXCLUSIVE, lock);

	if (!e->initialised)
	{
		int64		next;

		LWLockRelease(*lock);
		next = init(arg, key->partition);
		e = find_entry(key, true, LW_EXCLUSIVE, lock);
		if (!e->initialised)
		{
			e->next = next;
			e->initialised = true;
		}
	}
	return e;
}

/*
 * Hand out n consecutive positions of a partition to the current
 * transaction, for records going to segment seg of the stream, and return
 * the first; -1 if a newer segment is known (qs), where they must go
 * instead.  init computes the counter from the storage when the entry is
 * new; it is called without any lock held.
 */
int64
position_take(Oid stream, int32 partition, int n,
			  int64 (*init) (void *arg, int32 partition), void *arg,
			  QueueState *qs, int32 seg)
{
	PositionKey key;
	LWLock	   *lock;
	PartitionEntry *e;
	bool		mine;
	int64		first;

	make_key(&key, stream, partition);
	mine = holding(&key);
	if (!mine && nheld == maxheld)
	{
		maxheld = Max(16, maxheld * 2);
		held = held == NULL ?
			MemoryContextAlloc(TopMemoryContext, maxheld * sizeof(PositionKey)) :
			repalloc(held, maxheld * sizeof(PositionKey));
	}
	if (!exit_hook_set)
	{
		before_shmem_exit(position_exit, (Datum) 0);
		exit_hook_set = true;
	}

	for (;;)
	{
		e = find_initialised(&key, init, arg, &lock);
		if (mine || e->nholds < HOLDS_PER_PARTITION)
			break;
		/* Every hold is taken: wait for a transaction to end. */
		LWLockRelease(lock);
		pg_usleep(1000L);
		CHECK_FOR_INTERRUPTS();
	}

	if (!qstate_segment_check(qs, seg))
	{
		LWLockRelease(lock);
		return -1;
	}
	first = e->next;
	e->next += n;
	if (!mine)
	{
		int			i;

		for (i = 0; i < HOLDS_PER_PARTITION; i++)
			if (e->holds[i].procno < 0)
			{
				e->holds[i].procno = compat_my_procno();
				e->holds[i].position = first;
				e->nholds++;
				break;
			}
		held[nheld++] = key;
	}
	LWLockRelease(lock);
	return first;
}

/*
 * The stable end of a partition: positions at and above it may still be
 * committed by another transaction, every one below it is final (or the
 * caller's own).  The lowest position another transaction in progress
 * holds, else the next one to hand out.  When the counter is not known yet,
 * init computes it as for position_take; with init NULL, -1 instead.
 */
int64
position_stable_end(Oid stream, int32 partition,
					int64 (*init) (void *arg, int32 partition), void *arg)
{
	PositionKey key;
	LWLock	   *lock;
	PartitionEntry *e;
	int64		end;
	int			i;

	make_key(&key, stream, partition);
	e = find_entry(&key, false, LW_SHARED, &lock);
	if (e == NULL || !e->initialised)
	{
		LWLockRelease(lock);
		if (init == NULL)
			return -1;
		e = find_initialised(&key, init, arg, &lock);
	}
	end = e->next;
	if (e->nholds > 0)
		for (i = 0; i < HOLDS_PER_PARTITION; i++)
			if (e->holds[i].procno >= 0 && e->holds[i].procno != compat_my_procno() &&
				e->holds[i].position < end)
				end = e->holds[i].position;
	LWLockRelease(lock);
	return end;
}

/* The next position of a partition, if known in shared memory (else -1). */
int64
position_next(Oid stream, int32 partition)
{
	PositionKey key;
	LWLock	   *lock;
	PartitionEntry *e;
	int64		next = -1;

	make_key(&key, stream, partition);
	e = find_entry(&key, false, LW_SHARED, &lock);
	if (e != NULL && e->initialised)
		next = e->next;
	LWLockRelease(lock);
	return next;
}

/* Does the current transaction hold stream positions? */
bool
position_holding(void)
{
	return nheld > 0;
}

/* The transaction has ended (it is no longer running): release. */
void
position_xact_end(void)
{
	if (nheld > 0)
		release_all();
}

/* A dropped stream's entries go (at the commit of the drop). */
void
position_forget_stream(Oid stream)
{
	HASH_SEQ_STATUS status;
	PartitionEntry *e;
	int			i;

	if (partition_table == NULL)
		return;
	for (i = 0; i < POSITION_PARTITIONS; i++)
		LWLockAcquire(&partition_locks[i].lock, LW_EXCLUSIVE);
	hash_seq_init(&status, partition_table);
	while ((e = hash_seq_search(&status)) != NULL)
		if (e->key.dbid == MyDatabaseId && e->key.stream == stream)
			hash_search(partition_table, &e->key, HASH_REMOVE, NULL);
	for (i = POSITION_PARTITIONS - 1; i >= 0; i--)
		LWLockRelease(&partition_locks[i].lock);
}
