/*-------------------------------------------------------------------------
 *
 * dedup.c
 *	  Idempotency keys: a send repeated with the same key within the
 *	  queue's dedup_window inserts nothing and returns the first message's id.
 *
 * Each queue has a table mq.q_<id>_keys (key, id, sent_at) with primary key
 * (key).  A keyed send, in the sender's own transaction:
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
 * row is gone and the next one sends.  Because the key row is written in
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

#include "queue.h"

/* Keys longer than this are refused (22023); btree entries must fit a page. */
#define DEDUP_KEY_MAXLEN 1000

/* locktag_field4 of our key locks; user advisory locks use 1 and 2. */
#define DEDUP_LOCK_FIELD4 0x4d51

static void
dedup_open(QueueRel *qrel)
{
	if (qrel->keys != NULL)
		return;
	qrel->keys = table_open(qrel->info->keysid, RowExclusiveLock);
	qrel->keys_pk = index_open(qrel->info->keys_pkid, RowExclusiveLock);
}

void
dedup_close(QueueRel *qrel)
{
	if (qrel->keys == NULL)
		return;
	index_close(qrel->keys_pk, NoLock);
	table_close(qrel->keys, NoLock);
	qrel->keys = NULL;
}

/* Check an idempotency key argument. */
void
dedup_check_key(text *key)
{
	int			len = VARSIZE_ANY_EXHDR(key);

	if (len < 1 || len > DEDUP_KEY_MAXLEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("idempotency key must be 1 to %d bytes long", DEDUP_KEY_MAXLEN),
				 errdetail("The key given is %d bytes long.", len)));
}

static void
lock_key(QueueRel *qrel, text *key)
{
	LOCKTAG		tag;
	uint64		h = hash_bytes_extended((const unsigned char *) VARDATA_ANY(key),
										VARSIZE_ANY_EXHDR(key),
										RelationGetRelid(qrel->heap));

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32) (h >> 32), (uint32) h,
						 DEDUP_LOCK_FIELD4);
	(void) LockAcquire(&tag, ExclusiveLock, false, false);
}

/*
 * Lock the key and look it up.  Returns the first message's id if this send
 * is a duplicate, else 0; *stale is set to the row to replace, if any.
 */
int64
dedup_lookup(QueueRel *qrel, text *key, TimestampTz now, ItemPointer stale)
{
	ScanKeyData skey;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	int64		id = 0;

	dedup_open(qrel);
	lock_key(qrel, key);
	ItemPointerSetInvalid(stale);

	ScanKeyEntryInitialize(&skey, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   C_COLLATION_OID, F_TEXTEQ, PointerGetDatum(key));
	slot = table_slot_create(qrel->keys, NULL);
	scan = index_beginscan(qrel->keys, qrel->keys_pk, SnapshotSelf, 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	if (index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		TimestampTz sent_at = DatumGetTimestampTz(slot_getattr(slot, 3, &isnull));

		if (timestamp_plus_interval(sent_at, &qrel->info->dedup_window) > now)
			id = DatumGetInt64(slot_getattr(slot, 2, &isnull));
		else
			*stale = slot->tts_tid;
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	return id;
}

/* Record the key of a message just sent (the key is locked). */
void
dedup_record(QueueRel *qrel, text *key, int64 id, TimestampTz now,
			 ItemPointer stale)
{
	Datum		values[3];
	bool		isnull[3] = {false, false, false};
	HeapTuple	tup;
	IndexInfo  *ii;

	if (ItemPointerIsValid(stale))
	{
		TM_FailureData tmfd;

		/* The worker may have pruned it meanwhile: gone is gone. */
		(void) heap_delete(qrel->keys, stale, GetCurrentCommandId(true),
						   InvalidSnapshot, true, &tmfd, false);
	}
	values[0] = PointerGetDatum(key);
	values[1] = Int64GetDatum(id);
	values[2] = TimestampTzGetDatum(now);
	tup = heap_form_tuple(RelationGetDescr(qrel->keys), values, isnull);
	heap_insert(qrel->keys, tup, GetCurrentCommandId(true), 0, NULL);
	ii = BuildIndexInfo(qrel->keys_pk);
	index_insert(qrel->keys_pk, values, isnull, &tup->t_self, qrel->keys,
				 UNIQUE_CHECK_YES, false, ii);
	heap_freetuple(tup);
}

/*
 * Remove up to max key rows whose window has passed (background worker).
 * No lock is needed: such a row no longer makes any send a duplicate, and a
 * sender replacing it tolerates finding it gone.
 */
int64
dedup_prune(QueueRel *qrel, TimestampTz now, int max)
{
	TableScanDesc scan;
	HeapTuple	tup;
	int64		n = 0;

	dedup_open(qrel);
	scan = table_beginscan(qrel->keys, SnapshotSelf, 0, NULL);
	while (n < max && (tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		bool		isnull;
		TimestampTz sent_at = DatumGetTimestampTz(heap_getattr(tup, 3,
															   RelationGetDescr(qrel->keys),
															   &isnull));
		TM_FailureData tmfd;

		if (timestamp_plus_interval(sent_at, &qrel->info->dedup_window) > now)
			continue;
		if (heap_delete(qrel->keys, &tup->t_self, GetCurrentCommandId(true),
						InvalidSnapshot, false, &tmfd, false) == TM_Ok)
			n++;
		CHECK_FOR_INTERRUPTS();
	}
	table_endscan(scan);
	return n;
}
