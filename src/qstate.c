/*-------------------------------------------------------------------------
 *
 * qstate.c
 *	  Shared per-queue state: leases, long polls, statistics, committed depth.
 *
 * One entry per queue in use, keyed by (database, storage table OID), in a
 * shared hash of queue.max_queues entries, created on first use and removed
 * when the queue is dropped.
 *
 * Leases.  nleases counts the queue's lease entries (lease.c keeps it up to
 * date), which bounds the leased messages from above: max_inflight is
 * enforced against it.  min_until is a lower bound of the ends of those
 * leases, so a reader at the limit knows when sweeping expired leases can
 * help.
 *
 * Rate limit.  A token bucket per queue: rate tokens a second, at most a
 * second's worth (at least one) saved up; a delivery takes one.  It lives
 * in shared memory only and starts full.
 *
 * Waiters and statistics.  nwaiters counts the long polls registered for
 * the queue (wakeup.c), so a commit to a queue nobody waits on wakes nobody
 * at the cost of one atomic read.  stats holds the counters of mq_stats,
 * added at commit by xact.c; they live in shared memory only and start from
 * zero after a restart.
 *
 * Depth.  max_length and mq_queues need the number of committed messages
 * without counting rows.  The counter starts UNINIT; the first call that
 * needs it rebuilds it (COUNTING; the worker does so for every queue after
 * a restart) and then it is READY and follows the commits of every
 * transaction that inserts or deletes rows (xact.c hands over each
 * transaction's net change at commit).  A rebuild must not lose or
 * double-count a transaction that commits while rows are being counted:
 *
 *	  1. under the partition lock: take snapshot S, publish S's xmin, xmax and
 *		 running xids in a shared slot, state = COUNTING;
 *	  2. count the rows S sees (without the counting transaction's own
 *		 changes);
 *	  3. meanwhile a committing transaction checks its xid against the
 *		 published S: if S already saw it committed, its rows are in the
 *		 count and its change is ignored; otherwise the change goes to
 *		 after_delta;
 *	  4. under the partition lock: depth = count + after_delta, READY.
 *
 * A transaction that commits before step 1 finds the state UNINIT and its
 * rows are in S; one that commits after step 4 adds to depth.  Shared memory
 * is rebuilt empty after a restart, so every counter is rebuilt from the
 * table.  A backend that dies while counting is noticed by the next one,
 * which takes over.
 *
 * Prepared transactions.  COMMIT PREPARED runs no callback of ours, so a
 * prepared transaction's change would never reach the counter.  When a
 * transaction that changed the queue prepares, the counter is dropped
 * (UNINIT) and its xid noted in prepared_xid (the newest such xid).  No
 * counter is rebuilt from a snapshot in which a noted xid may still be
 * running (prepared_xid not below the snapshot's xmin): until then a
 * caller gets a count of the rows instead.  Transactions prepared before
 * the server started noted nothing; the first rebuild takes every running
 * xid without a backend of its snapshot for one of them.  A counter that
 * max_length relies on (for_limit) is not dropped: such a PREPARE is
 * refused.
 *
 * Locking: an entry's depth fields are read and written under its partition
 * LWLock; the snapshot slots under the extra lock at the end of the tranche,
 * which is taken only while holding a partition lock (never the other way).
 * nleases and min_until are atomics.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/heapam.h"
#include "access/tableam.h"
#include "access/twophase.h"
#include "access/xact.h"
#include "miscadmin.h"
#include "port/atomics.h"
#include "postmaster/autovacuum.h"
#include "postmaster/bgworker.h"
#include "replication/walsender.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/hsearch.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "pending.h"
#include "qstate.h"
#include "util.h"

#define QSTATE_PARTITIONS	16
#define QSTATE_SLOTS		4

int			queue_max_queues = 8192;

typedef enum DepthState
{
	DEPTH_UNINIT = 0,
	DEPTH_COUNTING,
	DEPTH_READY
} DepthState;

typedef struct QueueStateKey
{
	Oid			dbid;
	Oid			relid;
} QueueStateKey;

struct QueueState
{
	QueueStateKey key;
	pg_atomic_uint32 nleases;
	pg_atomic_uint32 nwaiters;	/* long polls registered (wakeup.c) */
	pg_atomic_uint32 segment;	/* a stream's newest segment + 1; 0: unknown */
	pg_atomic_uint64 min_until;
	pg_atomic_uint64 stats[NUM_QUEUE_STATS];	/* counted at commit */
	pg_atomic_uint64 stats_reset;	/* TimestampTz of the last reset; 0: none */
	/* the rate limit's token bucket, under rate_lock */
	slock_t		rate_lock;
	double		tokens;
	TimestampTz rate_at;		/* when tokens was right; 0: full */
	/* the floor (storage.c), under floor_lock */
	slock_t		floor_lock;
	uint64		floor;			/* no live row has a smaller key */
	uint64		floor_gen;		/* bumped by every insert */
	uint64		floor_recent[FLOOR_RECENT];	/* key of insert gen, at gen % FLOOR_RECENT */
	uint64		gap_lo;			/* no live row has a key in [gap_lo, gap_hi) */
	uint64		gap_hi;			/* 0: no gap known */
	uint64		mark;			/* below it, none a reader can take; 0: none */
	TimestampTz mark_due;		/* ... until then */
	/* under the partition lock */
	uint8		depth_state;
	int8		slot;			/* COUNTING: the published snapshot */
	int			counter_pid;	/* COUNTING: who counts */
	bool		for_limit;		/* max_length relies on the counter */
	TransactionId prepared_xid; /* newest prepared changer, or invalid */
	int64		depth;
	int64		after_delta;
};

/* A snapshot published while a depth counter is rebuilt. */
typedef struct SnapshotSlot
{
	bool		used;
	TransactionId xmin;
	TransactionId xmax;
	TransactionId own_xid;
	int			xcnt;
	TransactionId xip[FLEXIBLE_ARRAY_MEMBER];
} SnapshotSlot;

/*
 * Prepared transactions recovered at startup, which noted nothing in the
 * entries of this server's shared memory: the newest of them, found by the
 * first rebuild (under the slots lock).
 */
typedef struct RecoveredPrepared
{
	bool		scanned;
	TransactionId newest;		/* invalid: none, or all ended */
} RecoveredPrepared;

static RecoveredPrepared *recovered = NULL;
static HTAB *qstate_table = NULL;
static LWLockPadded *qstate_locks = NULL;
static char *slots = NULL;

/* Running transactions a snapshot can list (procarray's maxProcs). */
static int
max_xids(void)
{
	return MaxConnections + autovacuum_max_workers + 1 + max_worker_processes +
		max_wal_senders + max_prepared_xacts;
}

static Size
slot_size(void)
{
	return MAXALIGN(offsetof(SnapshotSlot, xip) + sizeof(TransactionId) * max_xids());
}

static SnapshotSlot *
slot_get(int i)
{
	return (SnapshotSlot *) (slots + i * slot_size());
}

Size
qstate_shmem_size(void)
{
	return add_size(add_size(hash_estimate_size(queue_max_queues, sizeof(QueueState)),
							 mul_size(QSTATE_SLOTS, slot_size())),
					sizeof(RecoveredPrepared));
}

void
qstate_shmem_request(void)
{
	RequestAddinShmemSpace(qstate_shmem_size());
	RequestNamedLWLockTranche("queue_state", QSTATE_PARTITIONS + 1);
}

void
qstate_shmem_startup(void)
{
	HASHCTL		info;
	bool		found;

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	qstate_locks = GetNamedLWLockTranche("queue_state");
	info.keysize = sizeof(QueueStateKey);
	info.entrysize = sizeof(QueueState);
	info.num_partitions = QSTATE_PARTITIONS;
	qstate_table = compat_shmem_init_hash("queue state", queue_max_queues, queue_max_queues, &info,
								 HASH_ELEM | HASH_BLOBS | HASH_PARTITION | HASH_FIXED_SIZE);
	slots = ShmemInitStruct("queue depth snapshots", QSTATE_SLOTS * slot_size(), &found);
	if (!found)
		memset(slots, 0, QSTATE_SLOTS * slot_size());
	recovered = ShmemInitStruct("queue recovered prepared", sizeof(RecoveredPrepared), &found);
	if (!found)
		memset(recovered, 0, sizeof(RecoveredPrepared));
	LWLockRelease(AddinShmemInitLock);
}

static LWLock *
slots_lock(void)
{
	return &qstate_locks[QSTATE_PARTITIONS].lock;
}

/*
 * Find (or create) a queue's entry, with its partition lock held.  When the
 * table is full, creating raises 53400, or returns NULL if quiet.
 */
static QueueState *
qstate_find_ext(Oid relid, bool create, bool quiet, LWLockMode mode, LWLock **lock)
{
	QueueStateKey key;
	uint32		hash;
	QueueState *qs;
	bool		found;

	if (qstate_table == NULL)
		util_require_preload();
	key.dbid = MyDatabaseId;
	key.relid = relid;
	hash = get_hash_value(qstate_table, &key);
	*lock = &qstate_locks[hash % QSTATE_PARTITIONS].lock;
	LWLockAcquire(*lock, create ? LW_EXCLUSIVE : mode);
	if (!create)
		return hash_search_with_hash_value(qstate_table, &key, hash, HASH_FIND, NULL);
	qs = hash_search_with_hash_value(qstate_table, &key, hash, HASH_ENTER_NULL, &found);
	if (qs == NULL && quiet)
		return NULL;
	if (qs == NULL)
	{
		LWLockRelease(*lock);
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("too many queues in use"),
				 errdetail("All %d slots for shared queue state are taken.", queue_max_queues),
				 errhint("Raise queue.max_queues.")));
	}
	if (!found)
	{
		int			i;

		pg_atomic_init_u32(&qs->nleases, 0);
		pg_atomic_init_u32(&qs->nwaiters, 0);
		pg_atomic_init_u32(&qs->segment, 0);
		for (i = 0; i < NUM_QUEUE_STATS; i++)
			pg_atomic_init_u64(&qs->stats[i], 0);
		pg_atomic_init_u64(&qs->stats_reset, 0);	/* never reset */
		pg_atomic_init_u64(&qs->min_until, (uint64) PG_INT64_MAX);
		SpinLockInit(&qs->rate_lock);
		qs->tokens = 0;
		qs->rate_at = 0;
		SpinLockInit(&qs->floor_lock);
		qs->floor = 0;
		qs->floor_gen = 0;
		qs->mark = 0;
		qs->mark_due = 0;
		memset(qs->floor_recent, 0, sizeof(qs->floor_recent));
		qs->gap_lo = 0;
		qs->gap_hi = 0;
		qs->depth_state = DEPTH_UNINIT;
		qs->slot = -1;
		qs->counter_pid = 0;
		qs->for_limit = false;
		qs->prepared_xid = InvalidTransactionId;
		qs->depth = 0;
		qs->after_delta = 0;
	}
	return qs;
}

static QueueState *
qstate_find(Oid relid, bool create, LWLockMode mode, LWLock **lock)
{
	return qstate_find_ext(relid, create, false, mode, lock);
}

/* ---------------------------------------------------------------------
 * The floor: where readers start (see storage.c)
 * ---------------------------------------------------------------------
 */

/*
 * A row's (rank, id) as one number in the same order, for ids below 2^55
 * (ranks take 9 bits: the parked rows of message groups are 256 up);
 * 0 (the lowest) for any other, which can only lower the floor to the
 * start, never raise it.
 */
uint64
qstate_floor_key(int16 rank, int64 id)
{
	if (rank < 0 || rank > QUEUE_RANK_MAX || id < 0 || id >= ((int64) 1 << FLOOR_ID_BITS))
		return 0;
	return ((uint64) rank << FLOOR_ID_BITS) | (uint64) id;
}

void
qstate_floor_get(QueueState *qs, uint64 *floor, uint64 *gen)
{
	qstate_floor_mark_get(qs, floor, gen, NULL, NULL);
}

/* The floor, and the mark with its due time (mark 0: none). */
void
qstate_floor_mark_get(QueueState *qs, uint64 *floor, uint64 *gen, uint64 *mark,
					  TimestampTz *due)
{
	SpinLockAcquire(&qs->floor_lock);
	*floor = qs->floor;
	*gen = qs->floor_gen;
	if (mark != NULL)
	{
		*mark = qs->mark;
		*due = qs->mark_due;
	}
	SpinLockRelease(&qs->floor_lock);
}

/*
 * A row with key is in the index: the gap [*lo, *hi) keeps its larger part
 * on one side of it (a message group's next row, promoted into the window
 * just past the row that holds the floor, falls at its lower end).
 */
static void
gap_cut(uint64 *lo, uint64 *hi, uint64 key)
{
	if (key < *lo || key >= *hi)
		return;
	if (key - *lo < *hi - key - 1)
		*lo = key + 1;
	else
		*hi = key;
	if (*lo >= *hi)
		*lo = *hi = 0;
}

/*
 * A row with this key is in the index now (its transaction may abort), or
 * a reader may take it again (its lease ended, the row stays): scans that
 * passed its place already must not raise the floor or the mark past it.
 */
void
qstate_floor_inserted(QueueState *qs, uint64 key)
{
	SpinLockAcquire(&qs->floor_lock);
	qs->floor_gen++;
	qs->floor_recent[qs->floor_gen % FLOOR_RECENT] = key;
	if (key < qs->floor)
		qs->floor = key;
	if (key < qs->mark)
		qs->mark = key;
	gap_cut(&qs->gap_lo, &qs->gap_hi, key);
	SpinLockRelease(&qs->floor_lock);
}

/* The lowest of key and the keys of the rows inserted since generation gen. */
static uint64
key_since(QueueState *qs, uint64 gen, uint64 key)
{
	uint64		g;

	for (g = gen + 1; g <= qs->floor_gen; g++)
		key = Min(key, qs->floor_recent[g % FLOOR_RECENT]);
	return key;
}

/*
 * A scan that started at generation gen found no live row below key: raise
 * the floor to it -- or, if rows were inserted since the scan started (they
 * may lie below key where the scan had passed already), to the lowest of
 * their keys, when the last FLOOR_RECENT inserts still tell them all.  So
 * a steady trickle of inserts above the floor (sends, and rows of message
 * groups entering their windows) does not hold it down.
 */
void
qstate_floor_advance(QueueState *qs, uint64 gen, uint64 key)
{
	SpinLockAcquire(&qs->floor_lock);
	if (qs->floor_gen - gen <= FLOOR_RECENT)
	{
		key = key_since(qs, gen, key);
		if (key > qs->floor)
			qs->floor = key;
		if (qs->floor >= qs->gap_hi)
			qs->gap_lo = qs->gap_hi = 0;
	}
	SpinLockRelease(&qs->floor_lock);
}

/*
 * The mark: a key past the floor below which a scan that started at
 * generation gen found no row a reader could take -- every entry it passed
 * was of a row gone, or leased (to it or to others), the earliest of those
 * leases ending at due.  Readers start there instead of stepping over the
 * leases of every other consumer (storage.c) until due, or until a row
 * inserted, or given back, below it lowers it.  A mark that is further on
 * and not due stays.
 */
void
qstate_mark_advance(QueueState *qs, uint64 gen, uint64 key, TimestampTz due,
					TimestampTz now)
{
	SpinLockAcquire(&qs->floor_lock);
	if (qs->floor_gen - gen <= FLOOR_RECENT)
	{
		key = key_since(qs, gen, key);
		if (key > qs->floor && (key > qs->mark || qs->mark_due <= now))
		{
			qs->mark = key;
			qs->mark_due = due;
		}
	}
	SpinLockRelease(&qs->floor_lock);
}

/*
 * The gap: a range of keys [lo, hi) past the floor where the index holds
 * only entries of rows gone for good (*hi 0: none known).  Where one live
 * row holds the floor down -- the head of a message group behind which
 * thousands of other rows were acked since -- scans jump over the gap
 * instead of stepping over those entries every time until vacuum removes
 * them.  An insert with a key in it ends it.
 */
void
qstate_gap_get(QueueState *qs, uint64 *lo, uint64 *hi)
{
	SpinLockAcquire(&qs->floor_lock);
	*lo = qs->gap_lo;
	*hi = qs->gap_hi;
	SpinLockRelease(&qs->floor_lock);
}

/*
 * A scan that started at generation gen found only gone rows in [lo, hi):
 * that is the gap now (joined with the one known if they touch), but for
 * the rows inserted since the scan started, which may lie in it -- unless
 * more rows were inserted than the last FLOOR_RECENT keys tell.
 */
void
qstate_gap_record(QueueState *qs, uint64 gen, uint64 lo, uint64 hi)
{
	uint64		g;

	SpinLockAcquire(&qs->floor_lock);
	if (qs->floor_gen - gen > FLOOR_RECENT)
		goto out;
	for (g = gen + 1; g <= qs->floor_gen && hi > 0; g++)
		gap_cut(&lo, &hi, qs->floor_recent[g % FLOOR_RECENT]);
	if (hi == 0)
		goto out;
	if (qs->gap_hi > 0 && qs->gap_lo <= hi && lo <= qs->gap_hi)
	{
		lo = Min(lo, qs->gap_lo);
		hi = Max(hi, qs->gap_hi);
	}
	qs->gap_lo = lo;
	qs->gap_hi = hi;
out:
	SpinLockRelease(&qs->floor_lock);
}

/*
 * The shared state of a queue, created if need be.  The pointer stays valid
 * while the caller holds a lock on the queue's storage table (entries go
 * only when the queue is dropped).
 */
QueueState *
qstate_get(Oid relid)
{
	LWLock	   *lock;
	QueueState *qs = qstate_find(relid, false, LW_SHARED, &lock);

	/* Nearly always there: look under a shared lock, create only if not. */
	if (qs == NULL)
	{
		LWLockRelease(lock);
		qs = qstate_find(relid, true, LW_EXCLUSIVE, &lock);
	}
	LWLockRelease(lock);
	return qs;
}

/* The queue was dropped (at commit). */
void
qstate_forget(Oid relid)
{
	QueueStateKey key;
	LWLock	   *lock;

	if (qstate_find(relid, false, LW_EXCLUSIVE, &lock) != NULL)
	{
		key.dbid = MyDatabaseId;
		key.relid = relid;
		hash_search(qstate_table, &key, HASH_REMOVE, NULL);
	}
	LWLockRelease(lock);
}

/* ---------------------------------------------------------------------
 * Leases
 * ---------------------------------------------------------------------
 */

uint32
qstate_leases(QueueState *qs)
{
	return pg_atomic_read_u32(&qs->nleases);
}

/*
 * A lease ending at "until" was taken: a new lease entry (counted unless
 * that would pass limit, 0 meaning none; false then, counting nothing) or
 * an expired entry taken over.
 */
bool
qstate_lease_add(QueueState *qs, uint32 limit, TimestampTz until, bool new_entry)
{
	if (!new_entry)
		;
	else if (limit > 0)
	{
		if (pg_atomic_fetch_add_u32(&qs->nleases, 1) >= limit)
		{
			pg_atomic_fetch_sub_u32(&qs->nleases, 1);
			return false;
		}
	}
	else
		pg_atomic_fetch_add_u32(&qs->nleases, 1);

	qstate_lower_min_until(qs, until);
	return true;
}

/* A lease of the queue now ends at until (a new one, or one extended). */
void
qstate_lower_min_until(QueueState *qs, TimestampTz until)
{
	uint64		cur = pg_atomic_read_u64(&qs->min_until);

	while ((int64) cur > until &&
		   !pg_atomic_compare_exchange_u64(&qs->min_until, &cur, (uint64) until))
		;
}

/*
 * A lease of the queue was removed (removed), or ended early or may end
 * sooner than it did: if freed, its row, with key row_key, stays, for
 * readers to take again (qstate_floor_inserted).  Creates nothing.
 */
void
qstate_lease_removed(Oid dbid, Oid relid, bool removed, bool freed, uint64 row_key)
{
	QueueStateKey key;
	QueueState *qs;
	uint32		hash;
	LWLock	   *lock;

	key.dbid = dbid;
	key.relid = relid;
	hash = get_hash_value(qstate_table, &key);
	lock = &qstate_locks[hash % QSTATE_PARTITIONS].lock;
	LWLockAcquire(lock, LW_SHARED);
	qs = hash_search_with_hash_value(qstate_table, &key, hash, HASH_FIND, NULL);
	if (qs && removed)
		pg_atomic_fetch_sub_u32(&qs->nleases, 1);
	if (qs && freed)
		qstate_floor_inserted(qs, row_key);
	LWLockRelease(lock);
}

/* Could sweeping remove an expired lease of this queue now? */
bool
qstate_leases_may_have_expired(QueueState *qs, TimestampTz now)
{
	return (int64) pg_atomic_read_u64(&qs->min_until) <= now;
}

/* A lower bound of the ends of the queue's leases (DT_NOEND: none). */
TimestampTz
qstate_min_until(QueueState *qs)
{
	return (TimestampTz) pg_atomic_read_u64(&qs->min_until);
}

/* After a sweep of the queue's leases: the earliest end that is left. */
void
qstate_set_min_until(QueueState *qs, TimestampTz until)
{
	pg_atomic_write_u64(&qs->min_until, (uint64) until);
}

/* ---------------------------------------------------------------------
 * Rate limit
 * ---------------------------------------------------------------------
 */

/* The most tokens the bucket saves up: one second's worth, at least one. */
static inline double
rate_burst(double rate)
{
	return Max(rate, 1.0);
}

/* The bucket refilled up to now (rate_lock held). */
static void
rate_refill(QueueState *qs, double rate, TimestampTz now)
{
	if (qs->rate_at == 0)
		qs->tokens = rate_burst(rate);
	else if (now > qs->rate_at)
		qs->tokens += (double) (now - qs->rate_at) * rate / USECS_PER_SEC;
	/* Also when the rate was lowered since. */
	qs->tokens = Min(qs->tokens, rate_burst(rate));
	qs->rate_at = Max(now, qs->rate_at);
}

/*
 * Take up to want tokens for deliveries at rate per second; returns how
 * many.  With none, *next_due is when the next one will be there.
 */
int
qstate_rate_take(QueueState *qs, double rate, int want, TimestampTz now,
				 TimestampTz *next_due)
{
	int			got;

	SpinLockAcquire(&qs->rate_lock);
	rate_refill(qs, rate, now);
	got = (int) Min((double) want, floor(qs->tokens));
	qs->tokens -= got;
	if (got == 0)
		*next_due = qs->rate_at + (TimestampTz) ceil((1.0 - qs->tokens) * USECS_PER_SEC / rate);
	SpinLockRelease(&qs->rate_lock);
	return got;
}

/* Give back n tokens taken but not used (no delivery was made). */
void
qstate_rate_return(QueueState *qs, double rate, int n)
{
	SpinLockAcquire(&qs->rate_lock);
	qs->tokens = Min(qs->tokens + n, rate_burst(rate));
	SpinLockRelease(&qs->rate_lock);
}

/* ---------------------------------------------------------------------
 * Waiters and statistics
 * ---------------------------------------------------------------------
 */

uint32
qstate_waiters(QueueState *qs)
{
	return pg_atomic_read_u32(&qs->nwaiters);
}

void
qstate_waiters_add(QueueState *qs, int delta)
{
	if (delta > 0)
		pg_atomic_fetch_add_u32(&qs->nwaiters, delta);
	else
		pg_atomic_fetch_sub_u32(&qs->nwaiters, -delta);
}

/*
 * A queue's shared state, or NULL if it has none, with the partition lock
 * held in shared mode (*lock; the caller releases it).  Without shared
 * memory (the library not preloaded): NULL, and no lock held (*lock NULL).
 */
QueueState *
qstate_lookup_shared(Oid relid, LWLock **lock)
{
	*lock = NULL;
	if (qstate_table == NULL)
		return NULL;
	return qstate_find(relid, false, LW_SHARED, lock);
}

/* At commit: add a transaction's counts (never fails; lost if no room). */
void
qstate_add_stats(Oid relid, const int64 *counts)
{
	LWLock	   *lock;
	QueueState *qs;
	int			i;

	if (qstate_table == NULL)
		return;
	qs = qstate_find_ext(relid, false, true, LW_SHARED, &lock);
	if (qs == NULL)
	{
		LWLockRelease(lock);
		qs = qstate_find_ext(relid, true, true, LW_EXCLUSIVE, &lock);
	}
	if (qs != NULL)
		for (i = 0; i < NUM_QUEUE_STATS; i++)
			if (counts[i] != 0)
				pg_atomic_fetch_add_u64(&qs->stats[i], (uint64) counts[i]);
	LWLockRelease(lock);
}

/*
 * Read a queue's counters (zeros and false if it has no shared state);
 * with reset, set them to zero afterwards.
 */
bool
qstate_read_stats(Oid relid, int64 *counts, TimestampTz *reset_at, bool reset)
{
	LWLock	   *lock;
	QueueState *qs;
	int			i;

	memset(counts, 0, sizeof(int64) * NUM_QUEUE_STATS);
	*reset_at = 0;
	if (qstate_table == NULL)
		util_require_preload();
	/* A reset records its time even before the queue's first use. */
	qs = qstate_find(relid, reset, reset ? LW_EXCLUSIVE : LW_SHARED, &lock);
	if (qs != NULL)
	{
		for (i = 0; i < NUM_QUEUE_STATS; i++)
			counts[i] = reset ? (int64) pg_atomic_exchange_u64(&qs->stats[i], 0) :
				(int64) pg_atomic_read_u64(&qs->stats[i]);
		if (reset)
			pg_atomic_write_u64(&qs->stats_reset, (uint64) GetCurrentTimestamp());
		*reset_at = (TimestampTz) pg_atomic_read_u64(&qs->stats_reset);
	}
	LWLockRelease(lock);
	return qs != NULL;
}

/* ---------------------------------------------------------------------
 * Depth
 * ---------------------------------------------------------------------
 */

/* Did the published snapshot already see xid committed? */
static bool
slot_sees(SnapshotSlot *slot, TransactionId xid)
{
	int			i;

	if (xid == slot->own_xid)
		return false;
	if (TransactionIdPrecedes(xid, slot->xmin))
		return true;
	if (TransactionIdFollowsOrEquals(xid, slot->xmax))
		return false;
	for (i = 0; i < slot->xcnt; i++)
		if (TransactionIdEquals(slot->xip[i], xid))
			return false;
	return true;
}

/* At commit: a transaction (xid) changed the queue's rows by delta. */
void
qstate_apply_depth(Oid relid, int64 delta, TransactionId xid)
{
	LWLock	   *lock;
	QueueState *qs;

	if (delta == 0 || qstate_table == NULL)
		return;
	qs = qstate_find(relid, false, LW_EXCLUSIVE, &lock);
	if (qs != NULL)
	{
		if (qs->depth_state == DEPTH_READY)
			qs->depth += delta;
		else if (qs->depth_state == DEPTH_COUNTING)
		{
			bool		seen;

			LWLockAcquire(slots_lock(), LW_SHARED);
			seen = TransactionIdIsValid(xid) && slot_sees(slot_get(qs->slot), xid);
			LWLockRelease(slots_lock());
			if (!seen)
				qs->after_delta += delta;
		}
	}
	LWLockRelease(lock);
}

/* Drop the counter (partition lock held exclusively). */
static void
depth_drop(QueueState *qs)
{
	if (qs->depth_state == DEPTH_COUNTING)
	{
		LWLockAcquire(slots_lock(), LW_EXCLUSIVE);
		slot_get(qs->slot)->used = false;
		LWLockRelease(slots_lock());
	}
	qs->depth_state = DEPTH_UNINIT;
}

/*
 * At PRE_PREPARE, for each queue the transaction (xid) changed: drop the
 * counter and note xid (see the file header).  False if max_length relies
 * on the counter: the PREPARE must be refused.
 */
bool
qstate_depth_prepare(Oid relid, TransactionId xid)
{
	LWLock	   *lock;
	QueueState *qs;
	bool		ok = true;

	if (qstate_table == NULL)
		return true;
	qs = qstate_find(relid, true, LW_EXCLUSIVE, &lock);
	if (qs->for_limit && qs->depth_state != DEPTH_UNINIT)
		ok = false;
	else
	{
		depth_drop(qs);
		if (!TransactionIdIsValid(qs->prepared_xid) ||
			TransactionIdFollows(xid, qs->prepared_xid))
			qs->prepared_xid = xid;
	}
	LWLockRelease(lock);
	return ok;
}

/*
 * max_length was set or reset: the counter no longer serves it, and one
 * that gets a limit counts its rows afresh on the next send.
 */
void
qstate_depth_forget(Oid relid)
{
	LWLock	   *lock;
	QueueState *qs;

	if (qstate_table == NULL)
		return;
	qs = qstate_find(relid, false, LW_EXCLUSIVE, &lock);
	if (qs != NULL)
	{
		depth_drop(qs);
		qs->for_limit = false;
	}
	LWLockRelease(lock);
}

/* A free snapshot slot, or -1 (slots lock held). */
static int
free_slot(void)
{
	int			i;

	for (i = 0; i < QSTATE_SLOTS; i++)
		if (!slot_get(i)->used)
			return i;
	return -1;
}

/* Count the rows a snapshot sees, leaving out the caller's own changes. */
static int64
count_rows(Relation heap, Snapshot snapshot)
{
	TableScanDesc scan;
	int64		n = 0;

	snapshot->curcid = FirstCommandId;
	scan = compat_table_beginscan(heap, snapshot, 0, NULL);
	while (heap_getnext(scan, ForwardScanDirection) != NULL)
	{
		n++;
		CHECK_FOR_INTERRUPTS();
	}
	table_endscan(scan);
	return n;
}

/*
 * May a prepared transaction that changed the queue be running in snapshot
 * (partition and slots locks held)?  Those prepared since the server
 * started noted their xid in the entry; those recovered at startup are the
 * running xids without a backend that the first rebuild saw.  Either kind
 * is known to have ended once it precedes the snapshot's xmin.
 */
static bool
prepared_may_run(QueueState *qs, Snapshot snapshot)
{
	if (!recovered->scanned)
	{
		int			i;

		for (i = 0; i < snapshot->xcnt; i++)
		{
			TransactionId xid = snapshot->xip[i];

			if (BackendXidGetPid(xid) == 0 &&
				(!TransactionIdIsValid(recovered->newest) ||
				 TransactionIdFollows(xid, recovered->newest)))
				recovered->newest = xid;
		}
		recovered->scanned = true;
	}
	if (TransactionIdIsValid(recovered->newest))
	{
		if (!TransactionIdPrecedes(recovered->newest, snapshot->xmin))
			return true;
		recovered->newest = InvalidTransactionId;
	}
	if (TransactionIdIsValid(qs->prepared_xid))
	{
		if (!TransactionIdPrecedes(qs->prepared_xid, snapshot->xmin))
			return true;
		qs->prepared_xid = InvalidTransactionId;
	}
	return false;
}

/*
 * The number of committed messages in the queue, rebuilding the counter if
 * need be (heap: the queue's storage, opened by the caller).  While a
 * prepared transaction that changed the queue may be running, the rows are
 * counted instead -- or, with DEPTH_WARM, false is returned at once.
 */
bool
qstate_depth(Relation heap, DepthUse use, int64 *depth)
{
	LWLock	   *lock;
	Oid			relid = RelationGetRelid(heap);

	for (;;)
	{
		volatile int slotno;
		Snapshot	snapshot;
		QueueState *qs;
		int64		count;

		qs = qstate_find(relid, true, LW_EXCLUSIVE, &lock);
		if (use == DEPTH_LIMIT)
			qs->for_limit = true;
		if (qs->depth_state == DEPTH_READY)
		{
			*depth = qs->depth;
			LWLockRelease(lock);
			return true;
		}
		if (qs->depth_state == DEPTH_COUNTING &&
			BackendPidGetProc(qs->counter_pid) != NULL)
		{
			/* Someone else is counting; wait for them. */
			LWLockRelease(lock);
			if (use == DEPTH_WARM)
				return false;
			pg_usleep(1000L);
			CHECK_FOR_INTERRUPTS();
			continue;
		}

		/* Count ourselves (taking over from a counter that died). */
		snapshot = RegisterSnapshot(GetLatestSnapshot());
		LWLockAcquire(slots_lock(), LW_EXCLUSIVE);
		if (prepared_may_run(qs, snapshot))
		{
			/* A prepared change may still come: count, keep nothing. */
			LWLockRelease(slots_lock());
			LWLockRelease(lock);
			if (use != DEPTH_WARM)
				*depth = count_rows(heap, snapshot);
			UnregisterSnapshot(snapshot);
			return use != DEPTH_WARM;
		}
		slotno = qs->depth_state == DEPTH_COUNTING ? qs->slot : free_slot();
		if (slotno < 0)
		{
			LWLockRelease(slots_lock());
			LWLockRelease(lock);
			UnregisterSnapshot(snapshot);
			if (use == DEPTH_WARM)
				return false;
			pg_usleep(1000L);
			CHECK_FOR_INTERRUPTS();
			continue;
		}
		{
			SnapshotSlot *slot = slot_get(slotno);

			slot->used = true;
			slot->xmin = snapshot->xmin;
			slot->xmax = snapshot->xmax;
			slot->own_xid = GetTopTransactionIdIfAny();
			slot->xcnt = Min(snapshot->xcnt, max_xids());
			memcpy(slot->xip, snapshot->xip, slot->xcnt * sizeof(TransactionId));
		}
		LWLockRelease(slots_lock());
		qs->depth_state = DEPTH_COUNTING;
		qs->slot = slotno;
		qs->counter_pid = MyProcPid;
		qs->after_delta = 0;
		LWLockRelease(lock);

		PG_TRY();
		{
			count = count_rows(heap, snapshot);
		}
		PG_CATCH();
		{
			/* Leave the counter for the next one to rebuild. */
			qs = qstate_find(relid, true, LW_EXCLUSIVE, &lock);
			if (qs->depth_state == DEPTH_COUNTING && qs->counter_pid == MyProcPid)
				depth_drop(qs);
			LWLockRelease(lock);
			PG_RE_THROW();
		}
		PG_END_TRY();
		UnregisterSnapshot(snapshot);

		qs = qstate_find(relid, true, LW_EXCLUSIVE, &lock);
		if (qs->depth_state == DEPTH_COUNTING && qs->counter_pid == MyProcPid)
		{
			qs->depth = count + qs->after_delta;
			qs->depth_state = DEPTH_READY;
			LWLockAcquire(slots_lock(), LW_EXCLUSIVE);
			slot_get(slotno)->used = false;
			LWLockRelease(slots_lock());
		}
		LWLockRelease(lock);
	}
}

/*
 * A stream's newest segment, as far as appends go (stream.c): moves only
 * forward.  qstate_segment_check(qs, seg) says whether an append may go to
 * segment seg -- false if a newer one is known -- and makes seg known; the
 * caller holds the partition lock of its position, so that positions
 * handed out for one segment are all below those of the next.
 */
bool
qstate_segment_check(QueueState *qs, int32 seg)
{
	uint32		want = (uint32) seg + 1;
	uint32		cur = pg_atomic_read_u32(&qs->segment);

	while (cur < want)
	{
		if (pg_atomic_compare_exchange_u32(&qs->segment, &cur, want))
			return true;
	}
	return cur == want;
}

/* The newest segment known to appends, or -1. */
int32
qstate_segment(QueueState *qs)
{
	return (int32) pg_atomic_read_u32(&qs->segment) - 1;
}
