/*-------------------------------------------------------------------------
 *
 * dedup.c
 *	  Idempotency keys: a send repeated with the same key within the
 *	  queue's dedup_window inserts nothing and returns the first message's id.
 *
 * Each queue (and topic) has a table mq.q_<id>_keys (mq.t_<id>_keys) of
 * (key, id, sent_at) with primary key (key).  A keyed send, in the sender's own transaction:
 *
 *	  1. takes a transaction-level lock on (queue, key) -- an advisory lock
 *		 with a tag of our own, so it never meets a user's advisory locks;
 *	  2. looks the key up (SnapshotSelf: the latest committed state plus the
 *		 transaction's own rows);
 *	  3. if a row exists and sent_at + dedup_window is still ahead, the send
 *		 is a duplicate: return that row's id, even if the message was
 *		 consumed long ago;
 *	  4. otherwise inserts the message and a key row (replacing a row whose
 *		 window has passed).
 *
 * The lock makes concurrent duplicates wait for the first sender: when it
 * commits they find its key row and return its id; when it aborts its key
 * row is gone and the next one sends.  Keys are locked by slot, a hash of
 * the key into DEDUP_LOCK_SLOTS per key table, so that a transaction holds
 * at most that many locks per object however many keys it sends (a lock
 * per key would run out of shared lock table with a batch of some ten
 * thousand keys).  Two keys in one slot only make their senders take
 * turns.  A batch locks its slots in ascending order first, so two
 * batches never deadlock on each other.  Because the key row is written in
 * the sender's transaction, the producer's own writes, the message and the
 * key commit or vanish together.  Rows past their window only take space:
 * removing them never changes which sends count as duplicates.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/pg_collation.h"
#include "common/hashfn.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "compat.h"
#include "dedup.h"
#include "util.h"

/* locktag_field4 of our key locks; user advisory locks use 1 and 2. */
#define DEDUP_LOCK_FIELD4 0x4d51

/* Lock slots per key table (see the header comment). */
#define DEDUP_LOCK_SLOTS 1024

/* A key table, opened when first needed. */
void
dedup_init(KeyTable *kt, Oid keysid, Oid keys_pkid, const Interval *window)
{
	kt->keysid = keysid;
	kt->keys_pkid = keys_pkid;
	kt->window = window;
	kt->rel = NULL;
	kt->pk = NULL;
}

/* Remove up to max keys of a key table whose window has passed. */
int64
dedup_prune_keys(Oid keysid, Oid keys_pkid, const Interval *window, int max)
{
	KeyTable	kt;
	int64		n;

	dedup_init(&kt, keysid, keys_pkid, window);
	n = dedup_prune(&kt, GetCurrentTimestamp(), max);
	dedup_close(&kt);
	return n;
}

/* A zero dedup_window keeps no keys: every send is new. */
bool
dedup_off(const KeyTable *kt)
{
	return kt->window->month == 0 && kt->window->day == 0 &&
		kt->window->time == 0;
}

static void
dedup_open(KeyTable *kt)
{
	if (kt->rel != NULL)
		return;
	kt->rel = table_open(kt->keysid, RowExclusiveLock);
	kt->pk = index_open(kt->keys_pkid, RowExclusiveLock);
}

void
dedup_close(KeyTable *kt)
{
	if (kt->rel == NULL)
		return;
	index_close(kt->pk, NoLock);
	table_close(kt->rel, NoLock);
	kt->rel = NULL;
}

static uint32
key_slot(text *key)
{
	return hash_bytes((const unsigned char *) VARDATA_ANY(key),
					  VARSIZE_ANY_EXHDR(key)) % DEDUP_LOCK_SLOTS;
}

static void
lock_slot(const KeyTable *kt, uint32 slot)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, kt->keysid, slot, DEDUP_LOCK_FIELD4);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/*
 * Before a batch: lock the slots of its keys (NULL elements have none) in
 * ascending order.  The lookups that follow find them held already.
 */
void
dedup_lock_batch(KeyTable *kt, Datum *keys, bool *nulls, int n)
{
	uint32	   *slots;
	int			nslots = 0;
	int			i;

	if (keys == NULL || n < 2 || dedup_off(kt))
		return;
	slots = palloc(n * sizeof(uint32));
	for (i = 0; i < n; i++)
		if (!nulls[i])
			slots[nslots++] = key_slot(DatumGetTextPP(keys[i]));
	qsort(slots, nslots, sizeof(uint32), util_cmp_uint32);
	for (i = 0; i < nslots; i++)
		if (i == 0 || slots[i] != slots[i - 1])
			lock_slot(kt, slots[i]);
	pfree(slots);
}

/*
 * Lock the key and look it up.  Returns the first message's id if this send
 * is a duplicate (and sets *found, if given), else 0; *stale is set to the
 * row to replace, if any.
 */
int64
dedup_lookup(KeyTable *kt, text *key, TimestampTz now, ItemPointer stale,
			 bool *found)
{
	ScanKeyData skey;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	int64		id = 0;

	ItemPointerSetInvalid(stale);
	if (found)
		*found = false;
	if (dedup_off(kt))
		return 0;
	dedup_open(kt);
	lock_slot(kt, key_slot(key));

	ScanKeyEntryInitialize(&skey, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   C_COLLATION_OID, F_TEXTEQ, PointerGetDatum(key));
	slot = table_slot_create(kt->rel, NULL);
	scan = compat_index_beginscan(kt->rel, kt->pk, SnapshotSelf, 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	if (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		TimestampTz sent_at = DatumGetTimestampTz(slot_getattr(slot, 3, &isnull));

		if (util_timestamp_plus_interval(sent_at, kt->window) > now)
		{
			id = DatumGetInt64(slot_getattr(slot, 2, &isnull));
			if (found)
				*found = true;
		}
		else
			*stale = slot->tts_tid;
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	return id;
}

/* Record the key of a message just sent (the key is locked). */
void
dedup_record(KeyTable *kt, text *key, int64 id, TimestampTz now,
			 ItemPointer stale)
{
	Datum		values[3];
	bool		isnull[3] = {false, false, false};
	HeapTuple	tup;
	IndexInfo  *ii;

	if (dedup_off(kt))
		return;
	if (ItemPointerIsValid(stale))
	{
		TM_FailureData tmfd;

		/*
		 * The stale row may have been written by this very command (a batch,
		 * or sends in one SELECT, whose key's window passed in between): make
		 * it visible to the delete.
		 */
		CommandCounterIncrement();
		/* The worker may have pruned it meanwhile: gone is gone. */
		(void) compat_heap_delete(kt->rel, stale, GetCurrentCommandId(true), true, &tmfd);
	}
	values[0] = PointerGetDatum(key);
	values[1] = Int64GetDatum(id);
	values[2] = TimestampTzGetDatum(now);
	tup = heap_form_tuple(RelationGetDescr(kt->rel), values, isnull);
	heap_insert(kt->rel, tup, GetCurrentCommandId(true), 0, NULL);
	ii = BuildIndexInfo(kt->pk);
	index_insert(kt->pk, values, isnull, &tup->t_self, kt->rel,
				 UNIQUE_CHECK_YES, false, ii);
	heap_freetuple(tup);
}

/*
 * Remove up to max key rows whose window has passed (background worker).
 * No lock is needed: such a row no longer makes any send a duplicate, and a
 * sender replacing it tolerates finding it gone.
 */
int64
dedup_prune(KeyTable *kt, TimestampTz now, int max)
{
	TableScanDesc scan;
	HeapTuple	tup;
	int64		n = 0;

	dedup_open(kt);
	scan = compat_table_beginscan(kt->rel, SnapshotSelf, 0, NULL);
	while (n < max && (tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		bool		isnull;
		TimestampTz sent_at = DatumGetTimestampTz(heap_getattr(tup, 3,
															   RelationGetDescr(kt->rel),
															   &isnull));
		TM_FailureData tmfd;

		if (util_timestamp_plus_interval(sent_at, kt->window) > now)
			continue;
		if (compat_heap_delete(kt->rel, &tup->t_self, GetCurrentCommandId(true),
							   false, &tmfd) == TM_Ok)
			n++;
		CHECK_FOR_INTERRUPTS();
	}
	table_endscan(scan);
	return n;
}
