/*-------------------------------------------------------------------------
 *
 * storage.c
 *	  Direct access to a queue's storage table mq.q_<id>.
 *
 * The hot paths go straight to the heap and its one index instead of
 * through SPI: a send is a heap_insert plus one btree insert, a read an
 * index scan that takes ready rows in (rank, id) order.
 *
 * Visibility.  Every scan here uses SnapshotSelf -- the latest committed
 * state plus the calling transaction's own changes -- not the transaction's
 * MVCC snapshot, so a call sees what has been committed by the time it runs
 * at every isolation level, and takes no SSI predicate locks.  A row is
 * ready only when HeapTupleSatisfiesUpdate() says nobody is deleting or
 * updating it (an ack, a nack with delay, a purge in progress): readers
 * skip such rows instead of waiting for them, like FOR UPDATE SKIP LOCKED,
 * but without writing a row lock.
 *
 * The delivery count.  A read increments the row's "deliveries" column in
 * place, without creating a new row version, and logs it as the heap's own
 * in-place update (XLOG_HEAP_INPLACE: the row's data after the change,
 * replayed by core on recovery and on standbys).  The write is not
 * transactional on purpose: a delivery counts even if the reading
 * transaction rolls back.  The caller decides when the WAL must be flushed
 * (queue_ops.c), so that the count also survives a crash.
 *
 * The floor.  Acked rows stay in the index until vacuum removes them, and
 * while any transaction holds back the xmin horizon they cannot be marked
 * dead in it either; a read that started at the front of the index would
 * step over all of them, every time.  So each queue has a floor in shared
 * memory (qstate.c), a key (rank, id) below which no row is live, and scans
 * start there.  A scan raises it to the key of the first row it meets that
 * is not gone for good -- a row is gone when its insert aborted or its
 * delete committed (for SnapshotSelf it never comes back, whatever old
 * snapshots still see it); a row whose insert or delete is in progress, or
 * whose HOT chain goes on, stops the floor -- but not above a row inserted
 * since the scan started: that row may lie where the scan had passed
 * already (qstate.c remembers the keys of the last inserts; after more
 * of them than it keeps, the floor stays).  Every insert, once its index entry is in
 * place, counts itself and lowers the floor to its key if that is lower (a
 * higher priority, or an id taken before a later one was committed).  The
 * floor is shared memory only: after a restart it starts at the front
 * again, and on a standby it is not used.
 *
 * Past the floor lie the rows the other consumers hold leased: a reader
 * among four, taking ten at a time, stepped over thirty leased rows (and
 * looked up thirty leases) to find ten free ones.  So a scan that takes
 * leases may keep a mark (qstate.c): the key below which it found no row a
 * reader could take -- every entry it passed was of a row gone, or leased
 * (by itself or others), or being acked -- and the earliest end of those
 * leases.  The next reader starts at the mark, until that time.  Anything else stops the mark: a row a reader
 * could take and did not (a filter, a message group, max_inflight), a
 * delayed row, a row whose insert or delete is in progress without a lease,
 * an entry of a rank the row does not have.  Every way a row below the mark
 * could become ready again counts itself as an insert does and lowers the
 * mark to its key: an insert or a promotion, a lease given back with its
 * row left (a rollback, a nack, a delete or delay by id, a dead letter
 * that failed), a lease whose end moved (mq_extend).  An ack that commits
 * removes its row with its lease, and leaves the mark where it is.
 *
 * Locking: a scan holds the content lock of the heap buffer that holds the
 * current candidate (exclusive when it may claim it) from
 * storage_scan_next() until the next call or storage_scan_release(); the
 * caller decides about the lease meanwhile, so a row cannot be deleted
 * between the readiness check and the claim.  Nothing else is locked while
 * a buffer lock is held except the lease partition locks (see lease.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/genam.h"
#include "access/heapam.h"
#include "access/heapam_xlog.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/skey.h"
#include "access/stratnum.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "access/xloginsert.h"
#include "catalog/index.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation_d.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "storage/procarray.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/fmgrprotos.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "compat.h"
#include "dedup.h"
#include "lease.h"
#include "pending.h"
#include "perms.h"
#include "qstate.h"
#include "queue_info.h"
#include "storage.h"
#include "successor.h"
#include "util.h"

/*
 * Byte offsets of the fixed-width columns in a row's data area.  They are
 * NOT NULL and precede every variable-width column, so they never move;
 * storage_open() checks the table still has the layout that implies.
 */
#define OFF_ID			0
#define OFF_VISIBLE_AT	8
#define OFF_ENQUEUED_AT	16
#define OFF_RANK		24
#define OFF_DELIVERIES	28

/*
 * The column "promotion" of a grouped row (see "Promotion in place"):
 * STAMP_NONE, STAMP_UNDONE, or the stamp of the transaction that promoted
 * the row.
 */
#define STAMP_NONE		INT64CONST(0)
#define STAMP_UNDONE	INT64CONST(-1)

static const Oid msg_types[Natts_msg] = {
	INT8OID, TIMESTAMPTZOID, TIMESTAMPTZOID, INT2OID, INT4OID, JSONBOID, JSONBOID, TEXTOID,
	INT8OID
};

struct StorageScan
{
	QueueRel   *qrel;
	IndexScanDesc iscan;
	bool		for_claim;
	CommandId	cid;
	Buffer		buf;
	bool		locked;
	HeapTupleData tuple;		/* current candidate, points into buf */
	TimestampTz next_visible;	/* earliest visible_at passed over */
	bool		include_delayed;	/* return rows whose visible_at is ahead */
	/* the floor (see the file header) */
	QueueState *qs;				/* NULL: no floor (recovery) */
	uint64		floor;			/* where this scan started */
	uint64		floor_gen;		/* inserts counted when it started */
	bool		floor_found;	/* the first row not gone has been met */
	uint64		floor_next;		/* its key, once found */
	uint64		passed;			/* the key of the last gone row passed, or 0 */
	ScanKeyData keys[2];		/* from the floor; below the parked rows */
	int			nkeys;
	ScanKeyData members[2];
	bool		settle;			/* the current row's promotion has committed */
	/* the gap (qstate.c) */
	uint64		gap_lo;			/* the queue's gap when the scan started */
	uint64		gap_hi;			/* 0: none, or jumped already */
	uint64		last_live;		/* key of the last entry passed not gone, or 0 */
	uint64		prev_key;		/* key of the last entry the index gave, or 0 */
	/* the mark (see the file header) */
	bool		marked;			/* this scan keeps the mark */
	bool		mark_open;		/* every entry so far could be passed */
	bool		undecided;		/* the row returned last was not passed (yet) */
	uint64		row_key;		/* its key */
	uint64		mark_next;		/* the mark the entries passed allow */
	TimestampTz mark_due;		/* ... until then */
	TimestampTz now;
};

/*
 * Between two entries not gone this far apart (in keys: ids of a rank),
 * whatever the scan stepped over -- entries of rows gone, and entries the
 * index already marked dead, which it skips by itself, a leaf page at a
 * time -- is worth remembering as the gap.
 */
#define GAP_MIN_SPAN	1024

/*
 * Check the table has the columns storage.c expects: all of them, or those
 * of storage made before 0.4.0 (no group_key, no promotion) until the
 * update adds them.
 */
static void
check_layout(Relation heap, const char *name)
{
	TupleDesc	desc = RelationGetDescr(heap);
	int			i;
	bool		ok = desc->natts == Natts_msg || desc->natts == Natts_msg_v3;

	for (i = 0; ok && i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		ok = !att->attisdropped && att->atttypid == msg_types[i] &&
			(i >= Anum_msg_headers - 1 || att->attnotnull);
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("storage of queue \"%s\" has an unexpected layout", name),
				 errhint("The table %s was changed outside the queue functions.",
						 RelationGetRelationName(heap))));
}

/*
 * Open a queue's storage.  Returns false if the queue was
 * dropped or changed while we waited for the lock: the caller looks the
 * name up again.
 */
bool
storage_open(QueueRel *qrel, const char *name, QueueInfo *info,
			 LOCKMODE lockmode)
{
	Oid			relid = info->relid;
	Oid			pkid = info->pkid;

	qrel->info = info;
	qrel->heap = try_table_open(relid, lockmode);
	if (qrel->heap == NULL)
	{
		catalog_invalidate_all();
		return false;
	}
	if (!info->valid || info->relid != relid)
	{
		table_close(qrel->heap, lockmode);
		return false;
	}
	check_layout(qrel->heap, name);
	qrel->pk = index_open(pkid, lockmode);
	qrel->pkinfo = NULL;
	qrel->delayed = NULL;
	qrel->delayedinfo = NULL;
	qrel->groups = NULL;
	qrel->groupsinfo = NULL;
	qrel->has_groups = RelationGetDescr(qrel->heap)->natts == Natts_msg &&
		OidIsValid(info->groupsid);
	dedup_init(&qrel->keys, info->keysid, info->keys_pkid, &info->dedup_window);
	return true;
}

/*
 * Look a queue up by name and open its storage; false if there is no such
 * queue.  Retries when the queue changed while we waited for the lock.
 * With privs (not 0), raises 42501 unless the current role holds them,
 * before taking any lock: a caller without privileges makes no one wait.
 */
bool
storage_open_by_name(QueueRel *qrel, const char *name, LOCKMODE lockmode, int privs)
{
	for (;;)
	{
		QueueInfo  *info = queue_info_lookup(name);

		if (info == NULL)
			return false;
		if (privs != 0)
			perms_require(&info->perms, GetUserId(), privs, 'q', name);
		if (storage_open(qrel, name, info, lockmode))
			return true;
	}
}

/* Close, keeping the locks until the end of the transaction. */
void
storage_close(QueueRel *qrel)
{
	dedup_close(&qrel->keys);
	if (qrel->groups != NULL)
		index_close(qrel->groups, NoLock);
	if (qrel->delayed != NULL)
		index_close(qrel->delayed, NoLock);
	index_close(qrel->pk, NoLock);
	table_close(qrel->heap, NoLock);
}

/* The owner of a queue's id sequence (the extension's owner). */
static Oid
sequence_owner(Oid seqid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(seqid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", seqid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

int64
storage_next_id(QueueRel *qrel)
{
	return nextval_internal(qrel->info->seqid, false);
}

/*
 * Make the next id given greater than last, which must be above every id
 * given (storage_last_id), as the sequence's owner.  For messages imported
 * with their ids.
 */
void
storage_skip_ids(QueueRel *qrel, int64 last)
{
	Oid			seqid = qrel->info->seqid;
	Oid			save_userid;
	int			save_sec_context;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(sequence_owner(seqid), save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		DirectFunctionCall2(setval_oid, ObjectIdGetDatum(seqid), Int64GetDatum(last));
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();
}

/*
 * The highest message id given so far (0: none), sends that rolled back
 * included.  The sequence is read as its owner: whoever may see the queue
 * may know how many ids it gave.
 */
int64
storage_last_id(QueueRel *qrel)
{
	Oid			seqid = qrel->info->seqid;
	Oid			owner = sequence_owner(seqid);
	Oid			save_userid;
	int			save_sec_context;
	Datum		last = (Datum) 0;

	LOCAL_FCINFO(fcinfo, 1);

	InitFunctionCallInfoData(*fcinfo, NULL, 1, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = ObjectIdGetDatum(seqid);
	fcinfo->args[0].isnull = false;
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(owner, save_sec_context | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		last = pg_sequence_last_value(fcinfo);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();
	return fcinfo->isnull ? 0 : DatumGetInt64(last);
}

static void
index_row(QueueRel *qrel, int16 rank, int64 id, ItemPointer tid)
{
	Datum		values[2];
	bool		isnull[2] = {false, false};

	if (qrel->pkinfo == NULL)
		qrel->pkinfo = BuildIndexInfo(qrel->pk);
	values[0] = Int16GetDatum(rank);
	values[1] = Int64GetDatum(id);
	index_insert(qrel->pk, values, isnull, tid, qrel->heap,
				 UNIQUE_CHECK_YES, false, qrel->pkinfo);
}

/*
 * Index a row in the delay index if it belongs there (its visible_at is
 * past its enqueued_at: the index predicate).
 */
static void
index_delayed(QueueRel *qrel, TimestampTz visible_at, TimestampTz enqueued_at,
			  ItemPointer tid)
{
	Datum		value = TimestampTzGetDatum(visible_at);
	bool		isnull = false;

	if (visible_at <= enqueued_at || !OidIsValid(qrel->info->delayedid))
		return;
	if (qrel->delayed == NULL)
	{
		qrel->delayed = index_open(qrel->info->delayedid, RowExclusiveLock);
		qrel->delayedinfo = BuildIndexInfo(qrel->delayed);
	}
	index_insert(qrel->delayed, &value, &isnull, tid, qrel->heap,
				 UNIQUE_CHECK_NO, false, qrel->delayedinfo);
}

/* The group index, opened on first use. */
static Relation
groups_index(QueueRel *qrel)
{
	if (qrel->groups == NULL)
	{
		qrel->groups = index_open(qrel->info->groupsid, RowExclusiveLock);
		qrel->groupsinfo = BuildIndexInfo(qrel->groups);
	}
	return qrel->groups;
}

static uint32 group_hash(Datum key);

/* Index a new row version in every index whose predicate it meets. */
static void
index_all(QueueRel *qrel, const StoredMsg *m, ItemPointer tid)
{
	index_row(qrel, m->rank, m->id, tid);
	index_delayed(qrel, m->visible_at, m->enqueued_at, tid);
	if (m->group_key != (Datum) 0)
	{
		Datum		values[2] = {Int32GetDatum((int32) group_hash(m->group_key)),
		Int64GetDatum(m->id)};
		bool		isnull[2] = {false, false};

		index_insert(groups_index(qrel), values, isnull, tid, qrel->heap,
					 UNIQUE_CHECK_NO, false, qrel->groupsinfo);
	}
}

static HeapTuple
form_row(QueueRel *qrel, int64 id, TimestampTz visible_at,
		 TimestampTz enqueued_at, int16 rank, int32 deliveries, Datum headers,
		 Datum body, Datum group_key)
{
	Datum		values[Natts_msg];
	bool		isnull[Natts_msg] = {0};

	values[Anum_msg_id - 1] = Int64GetDatum(id);
	values[Anum_msg_visible_at - 1] = TimestampTzGetDatum(visible_at);
	values[Anum_msg_enqueued_at - 1] = TimestampTzGetDatum(enqueued_at);
	values[Anum_msg_rank - 1] = Int16GetDatum(rank);
	values[Anum_msg_deliveries - 1] = Int32GetDatum(deliveries);
	values[Anum_msg_headers - 1] = headers;
	isnull[Anum_msg_headers - 1] = (headers == (Datum) 0);
	values[Anum_msg_body - 1] = body;
	isnull[Anum_msg_body - 1] = (body == (Datum) 0);
	values[Anum_msg_group_key - 1] = group_key;
	isnull[Anum_msg_group_key - 1] = (group_key == (Datum) 0);
	/* A grouped row has room for a promotion in place. */
	values[Anum_msg_promotion - 1] = Int64GetDatum(STAMP_NONE);
	isnull[Anum_msg_promotion - 1] = (group_key == (Datum) 0);
	return heap_form_tuple(RelationGetDescr(qrel->heap), values, isnull);
}

static int16 *group_ranks(QueueRel *qrel, int n, int16 rank, const Datum *group_keys);

/*
 * Insert messages with the given ids (ascending), of group group_keys[i]
 * ((Datum) 0: none; group_keys NULL: none at all).  The caller has locked
 * their groups (storage_lock_groups) before taking the ids.  One message
 * goes through heap_insert; more through heap_multi_insert in chunks.
 */
#define INSERT_CHUNK 1000

void
storage_insert(QueueRel *qrel, int nmsgs, const int64 *ids,
			   TimestampTz visible_at, TimestampTz enqueued_at, int16 rank,
			   Datum *headers, Datum *bodies, const Datum *group_keys)
{
	StorageRowTimes times = {&visible_at, &enqueued_at, NULL, false};

	storage_insert_rows(qrel, nmsgs, ids, &times, rank, headers, bodies, group_keys);
}

/*
 * storage_insert with the times (and delivery counts) of times: one for
 * all the messages, or one per message.
 */
void
storage_insert_rows(QueueRel *qrel, int nmsgs, const int64 *ids,
					const StorageRowTimes *times, int16 rank,
					Datum *headers, Datum *bodies, const Datum *group_keys)
{
	CommandId	cid = GetCurrentCommandId(true);
	TupleDesc	desc = RelationGetDescr(qrel->heap);
	int16	   *ranks = group_keys ? group_ranks(qrel, nmsgs, rank, group_keys) : NULL;
	int			chunk = Min(nmsgs, INSERT_CHUNK);
	TupleTableSlot **slots = NULL;
	BulkInsertState bistate = NULL;
	uint64		lowest = PG_UINT64_MAX;
	int			done = 0;
	int			i;

	if (nmsgs > 1)
	{
		slots = palloc(chunk * sizeof(TupleTableSlot *));
		bistate = GetBulkInsertState();
		for (i = 0; i < chunk; i++)
			slots[i] = MakeSingleTupleTableSlot(desc, &TTSOpsHeapTuple);
	}
	while (done < nmsgs)
	{
		int			n = Min(chunk, nmsgs - done);
		HeapTuple	one = NULL;

		for (i = 0; i < n; i++)
		{
			int			k = done + i;
			int			t = times->per_message ? k : 0;
			HeapTuple	tup = form_row(qrel, ids[k], times->visible_at[t],
									   times->enqueued_at[t], ranks ? ranks[k] : rank,
									   times->deliveries ? times->deliveries[k] : 0,
									   headers ? headers[k] : (Datum) 0, bodies[k],
									   group_keys ? group_keys[k] : (Datum) 0);

			if (slots == NULL)
				one = tup;
			else
				ExecStoreHeapTuple(tup, slots[i], true);
		}
		if (slots == NULL)
			heap_insert(qrel->heap, one, cid, 0, NULL);
		else
			heap_multi_insert(qrel->heap, slots, n, cid, 0, bistate);
		for (i = 0; i < n; i++)
		{
			int			k = done + i;
			StoredMsg	m;

			m.id = ids[k];
			m.rank = ranks ? ranks[k] : rank;
			m.visible_at = times->visible_at[times->per_message ? k : 0];
			m.enqueued_at = times->enqueued_at[times->per_message ? k : 0];
			m.group_key = group_keys ? group_keys[k] : (Datum) 0;
			index_all(qrel, &m, slots ? &slots[i]->tts_tid : &one->t_self);
			if (slots)
				ExecClearTuple(slots[i]);
			lowest = Min(lowest, qstate_floor_key(m.rank, m.id));
		}
		if (one)
			heap_freetuple(one);
		done += n;
		CHECK_FOR_INTERRUPTS();
	}
	if (slots != NULL)
	{
		FreeBulkInsertState(bistate);
		for (i = 0; i < chunk; i++)
			ExecDropSingleTupleTableSlot(slots[i]);
		pfree(slots);
	}
	/* Now that the rows are in the index, readers may not start above them. */
	qstate_floor_inserted(qstate_get(RelationGetRelid(qrel->heap)), lowest);
	pending_note_depth(RelationGetRelid(qrel->heap), nmsgs);
	pending_count(RelationGetRelid(qrel->heap), STAT_SENT, nmsgs);
}

/* ---------------------------------------------------------------------
 * Scans in delivery order
 * ---------------------------------------------------------------------
 */

/*
 * ROW(rank, id) <strategy> ROW(rank, id) as one scan key; the members of a
 * row comparison carry btree's three-way comparison functions.
 */
static void
row_key_init(ScanKeyData *rowkey, ScanKeyData *members, StrategyNumber strategy,
			 int16 rank, int64 id)
{
	ScanKeyEntryInitialize(&members[0], SK_ROW_MEMBER, 1, strategy, INT2OID, InvalidOid,
						   F_BTINT2CMP, Int16GetDatum(rank));
	ScanKeyEntryInitialize(&members[1], SK_ROW_MEMBER | SK_ROW_END, 2, strategy, INT8OID,
						   InvalidOid, F_BTINT8CMP, Int64GetDatum(id));
	MemSet(rowkey, 0, sizeof(ScanKeyData));
	rowkey->sk_flags = SK_ROW_HEADER;
	rowkey->sk_attno = 1;
	rowkey->sk_strategy = strategy;
	rowkey->sk_argument = PointerGetDatum(members);
}

/*
 * A scan of the queue's rows in delivery order, from the floor of the
 * queue's shared state qs (from the front when qs is NULL, and always on a
 * standby).
 */
StorageScan *
storage_scan_begin(QueueRel *qrel, QueueState *qs, bool for_claim, bool include_delayed,
				   bool include_parked, bool marked, TimestampTz now)
{
	StorageScan *scan = palloc0(sizeof(StorageScan));
	uint64		start = 0;

	scan->qrel = qrel;
	scan->for_claim = for_claim;
	scan->include_delayed = include_delayed;
	scan->cid = GetCurrentCommandId(false);
	scan->buf = InvalidBuffer;
	scan->next_visible = DT_NOEND;
	if (qs != NULL && !RecoveryInProgress())
	{
		uint64		mark;
		TimestampTz due;

		scan->qs = qs;
		qstate_floor_mark_get(qs, &scan->floor, &scan->floor_gen, &mark, &due);
		qstate_gap_get(qs, &scan->gap_lo, &scan->gap_hi);
		start = scan->floor;
		if (marked && for_claim && !include_delayed && !include_parked)
		{
			scan->marked = scan->mark_open = true;
			scan->mark_next = scan->floor;
			scan->mark_due = DT_NOEND;
			scan->now = now;
			if (mark > scan->floor && due > now)
			{
				/* From the mark: nothing below it tells where the floor is. */
				start = scan->mark_next = mark;
				scan->mark_due = due;
				scan->floor_found = true;
				scan->floor_next = scan->floor;
			}
		}
	}
	/* From the floor or the mark (a scan that jumps a gap goes on from its end) ... */
	row_key_init(&scan->keys[scan->nkeys++], scan->members, BTGreaterEqualStrategyNumber,
				 floor_key_rank(start), floor_key_id(start));
	/* ... up to the parked rows, which wait for their group: only some scans go on to them. */
	if (!include_parked)
		ScanKeyInit(&scan->keys[scan->nkeys++], 1, BTLessStrategyNumber, F_INT2LT,
					Int16GetDatum(QUEUE_RANK_PARKED));
	scan->iscan = compat_index_beginscan(qrel->heap, qrel->pk, SnapshotSelf, scan->nkeys, 0);
	/* The keys of the rows passed over tell how far the floor may rise. */
	scan->iscan->xs_want_itup = scan->qs != NULL || qrel->has_groups;
	index_rescan(scan->iscan, scan->keys, scan->nkeys, NULL, 0);
	return scan;
}

/*
 * The scan is on an entry with key key.  If that is in the queue's gap
 * (qstate.c), go on from the gap's end: true then.  Once per scan.
 */
static bool
gap_jump(StorageScan *scan, uint64 key)
{
	if (scan->gap_hi == 0 || key < scan->gap_lo || key >= scan->gap_hi)
		return false;
	/* Every entry passed was gone: the floor may rise to the gap. */
	if (!scan->floor_found)
	{
		scan->floor_found = true;
		scan->floor_next = scan->gap_lo;
	}
	/* What comes next may widen the gap. */
	scan->last_live = scan->gap_lo - 1;
	if (scan->mark_open)
		scan->mark_next = Max(scan->mark_next, scan->gap_hi);
	row_key_init(&scan->keys[0], scan->members, BTGreaterEqualStrategyNumber,
				 floor_key_rank(scan->gap_hi), floor_key_id(scan->gap_hi));
	index_rescan(scan->iscan, scan->keys, scan->nkeys, NULL, 0);
	scan->gap_hi = 0;
	scan->prev_key = 0;
	return true;
}

/*
 * The scan met an entry not gone at key: if the entries since the last
 * such one span a long way, they are the queue's gap now.
 */
static void
gap_end(StorageScan *scan, uint64 key)
{
	if (scan->last_live != 0 && key > scan->last_live + GAP_MIN_SPAN)
		qstate_gap_record(scan->qs, scan->floor_gen, scan->last_live + 1, key);
	scan->last_live = key;
}

/* The rank of the entry index scan iscan (xs_want_itup) is on. */
static int16
entry_rank(IndexScanDesc iscan)
{
	bool		isnull;

	return DatumGetInt16(index_getattr(iscan->xs_itup, 1, iscan->xs_itupdesc, &isnull));
}

/* The (rank, id) of the index entry the scan is on, as a floor key. */
static uint64
entry_key(StorageScan *scan)
{
	IndexScanDesc iscan = scan->iscan;
	bool		isnull;
	int16		rank = DatumGetInt16(index_getattr(iscan->xs_itup, 1, iscan->xs_itupdesc, &isnull));
	int64		id = DatumGetInt64(index_getattr(iscan->xs_itup, 2, iscan->xs_itupdesc, &isnull));

	return qstate_floor_key(rank, id);
}

/*
 * Whether the row an index entry points to (root of its HOT chain, at tid,
 * in the locked buffer), not visible now, is gone for good: inserted by a
 * transaction that aborted, or deleted by one that committed.  A row whose
 * insert is still in progress, or whose chain goes on, is not.
 */
static bool
entry_gone(StorageScan *scan, ItemPointer tid)
{
	Page		page = BufferGetPage(scan->buf);
	OffsetNumber off = ItemPointerGetOffsetNumber(tid);
	ItemId		lp;
	HeapTupleData tup;
	TransactionId dead_after;

	if (off > PageGetMaxOffsetNumber(page))
		return true;
	lp = PageGetItemId(page, off);
	if (!ItemIdIsUsed(lp) || ItemIdIsDead(lp))
		return true;
	if (!ItemIdIsNormal(lp))
		return false;
	tup.t_data = (HeapTupleHeader) PageGetItem(page, lp);
	tup.t_len = ItemIdGetLength(lp);
	tup.t_tableOid = RelationGetRelid(scan->qrel->heap);
	tup.t_self = *tid;
	if (HeapTupleHeaderIsHotUpdated(tup.t_data))
		return false;
	switch (HeapTupleSatisfiesVacuumHorizon(&tup, scan->buf, &dead_after))
	{
		case HEAPTUPLE_DEAD:
		case HEAPTUPLE_RECENTLY_DEAD:
			return true;
		default:
			return false;
	}
}

/*
 * The mark may pass the entry with key key: of a row leased until due (all
 * its versions, all its entries with that key), or of a row gone (due
 * DT_NOEND: not past its key, where the entry of a new version of the same
 * row, a nack's, may follow).
 */
static inline void
mark_pass(StorageScan *scan, uint64 key, TimestampTz due)
{
	if (!scan->mark_open)
		return;
	if (key == 0)
	{
		/* A key the mark cannot hold. */
		scan->mark_open = false;
		return;
	}
	if (due == DT_NOEND)
		scan->mark_next = Max(scan->mark_next, key);
	else
		scan->mark_next = Max(scan->mark_next, key + 1);
	scan->mark_due = Min(scan->mark_due, due);
}

/*
 * The entry the scan is on, with key key, is not of a row it could
 * return: the mark may pass it if the row is leased (being acked, most
 * likely), else it stops here.
 */
static void
mark_leased(StorageScan *scan, uint64 key)
{
	TimestampTz until;
	int			pid;

	if (!scan->mark_open)
		return;
	if (key != 0 &&
		lease_holder(RelationGetRelid(scan->qrel->heap), floor_key_id(key), scan->now,
					 &until, &pid))
		mark_pass(scan, key, until);
	else
		scan->mark_open = false;
}

/* The row storage_scan_next() returned last can be passed: it is leased until due. */
void
storage_scan_pass(StorageScan *scan, TimestampTz due)
{
	if (scan->undecided)
	{
		scan->undecided = false;
		mark_pass(scan, scan->row_key, due);
	}
}

/* The scan met a row that may be live: the floor can rise to it, no further. */
static inline void
floor_stop(StorageScan *scan)
{
	if (scan->qs != NULL && !scan->floor_found)
	{
		scan->floor_found = true;
		scan->floor_next = entry_key(scan);
	}
}

static inline char *
row_data(HeapTupleHeader htup)
{
	return (char *) htup + htup->t_hoff;
}

static void
decode_fixed(HeapTupleHeader htup, StoredMsg *msg)
{
	char	   *data = row_data(htup);

	memcpy(&msg->id, data + OFF_ID, sizeof(int64));
	memcpy(&msg->visible_at, data + OFF_VISIBLE_AT, sizeof(TimestampTz));
	memcpy(&msg->enqueued_at, data + OFF_ENQUEUED_AT, sizeof(TimestampTz));
	memcpy(&msg->rank, data + OFF_RANK, sizeof(int16));
	memcpy(&msg->deliveries, data + OFF_DELIVERIES, sizeof(int32));
	msg->headers = (Datum) 0;
	msg->body = (Datum) 0;
	msg->group_key = (Datum) 0;
}

/* The group key of a row ((Datum) 0: none), copied. */
static Datum
row_group_key(QueueRel *qrel, HeapTuple tup)
{
	bool		isnull;
	Datum		d;

	if (HeapTupleHeaderGetNatts(tup->t_data) < Anum_msg_group_key)
		return (Datum) 0;
	d = heap_getattr(tup, Anum_msg_group_key, RelationGetDescr(qrel->heap), &isnull);
	return isnull ? (Datum) 0 : datumCopy(d, false, -1);
}

/*
 * Copy a row's headers, body and group key into msg ((Datum) 0 for each
 * that is NULL).  Out-of-line values are copied as they are.
 */
static void
row_copy_payload(QueueRel *qrel, HeapTuple tup, StoredMsg *msg)
{
	TupleDesc	desc = RelationGetDescr(qrel->heap);
	bool		isnull;
	Datum		d;

	d = heap_getattr(tup, Anum_msg_headers, desc, &isnull);
	msg->headers = isnull ? (Datum) 0 : datumCopy(d, false, -1);
	d = heap_getattr(tup, Anum_msg_body, desc, &isnull);
	msg->body = isnull ? (Datum) 0 : datumCopy(d, false, -1);
	msg->group_key = row_group_key(qrel, tup);
}

/* ---------------------------------------------------------------------
 * Promotion in place
 *
 * When a row of a group's window leaves, the group's next row joins the
 * window: its rank drops by QUEUE_RANK_PARKED.  Doing that as an update
 * would write a new version of the row (its body too) and index it in
 * every index; instead the rank is rewritten in place, with the stamp of
 * the promoting transaction in the row's "promotion" column, and only an
 * entry of the new rank goes into the primary key (the entry of the
 * parked rank stays, pointing to the same row).  The write is not
 * transactional, so the stamp tells whether it stands:
 *
 *   - STAMP_NONE: no promotion is pending; the row's rank is its own.
 *   - a transaction's stamp: the promotion stands once that transaction
 *     has committed (and for the transaction itself); while it runs, and
 *     if it aborted (or the server crashed before it committed), the row
 *     is still parked.
 *   - STAMP_UNDONE: a promotion that did not stand; the row is parked.
 *
 * A row whose rank was rewritten may have an entry of its window rank
 * already, so a new promotion of it looks before it inserts one.  Every
 * reader of ranks goes through row_rank(), and every walk of the primary
 * key takes a row only from the entry of the rank it really has: the
 * other entry is stale.  The first delivery of a promoted row, a new
 * version of it (an update) and a row found undone settle the stamp.
 *
 * A stamp is the promoting transaction's full id mixed with the
 * system identifier: a copy of the rows in another cluster (pg_dump), or
 * a stamp so old that the commit log no longer knows its transaction,
 * cannot be told by the stamp; the group then says (row_in_window) and
 * the stamp is settled for good.
 * ---------------------------------------------------------------------
 */

typedef enum StampState
{
	STAMP_SETTLED,				/* no promotion pending */
	STAMP_OWN,					/* promoted by the current transaction */
	STAMP_COMMITTED,			/* promoted by a committed transaction */
	STAMP_RUNNING,				/* its promoter is still running */
	STAMP_VOID,					/* its promoter aborted, or undone */
	STAMP_UNKNOWN				/* cannot tell: ask the group */
} StampState;

/*
 * Offset of the promotion column in a row's data area, or -1 if the row
 * has none (no group, or made before the column was added).
 */
static int
stamp_offset(TupleDesc desc, HeapTupleHeader htup)
{
	char	   *data = (char *) htup + htup->t_hoff;
	bool		hasnulls = (htup->t_infomask & HEAP_HASNULL) != 0;
	uint32		off = OFF_DELIVERIES + sizeof(int32);
	int			i;

	if (HeapTupleHeaderGetNatts(htup) < Anum_msg_promotion ||
		(hasnulls && att_isnull(Anum_msg_promotion - 1, htup->t_bits)))
		return -1;
	/* The variable-width columns between the fixed ones and it. */
	for (i = Anum_msg_headers - 1; i < Anum_msg_promotion - 1; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (hasnulls && att_isnull(i, htup->t_bits))
			continue;
		off = att_align_pointer(off, att->attalign, att->attlen, data + off);
		off = att_addlength_pointer(off, att->attlen, data + off);
	}
	return (int) att_align_nominal(off, TYPALIGN_DOUBLE);
}

static int64
stamp_read(HeapTupleHeader htup, int off)
{
	int64		stamp;

	memcpy(&stamp, (char *) htup + htup->t_hoff + off, sizeof(int64));
	return stamp;
}

/* The stamp of the current (sub)transaction. */
static int64
stamp_make(void)
{
	return (int64) (U64FromFullTransactionId(GetCurrentFullTransactionId()) ^
					GetSystemIdentifier());
}

/* Status of transaction xid, known to be in the commit log. */
static StampState
stamp_status(TransactionId xid)
{
	/* Commit is recorded in the log before the transaction stops running. */
	if (TransactionIdDidCommit(xid))
		return STAMP_COMMITTED;
	if (TransactionIdIsInProgress(xid))
		return STAMP_RUNNING;
	if (TransactionIdDidCommit(xid))
		return STAMP_COMMITTED;
	return STAMP_VOID;
}

static StampState
stamp_state(int64 stamp)
{
	uint64		fxid;
	uint64		next;
	TransactionId xid;
	StampState	state;

	if (stamp == STAMP_NONE)
		return STAMP_SETTLED;
	if (stamp == STAMP_UNDONE)
		return STAMP_VOID;
	fxid = (uint64) stamp ^ GetSystemIdentifier();
	/* Read without the lock: an older value only makes a stamp unknown. */
	next = U64FromFullTransactionId(compat_next_full_xid());
	xid = (TransactionId) fxid;
	if (fxid >= next || next - fxid >= (uint64) MaxTransactionId / 2 ||
		!TransactionIdIsNormal(xid))
		return STAMP_UNKNOWN;
	if (TransactionIdIsCurrentTransactionId(xid))
		return STAMP_OWN;
	/* No newer than our snapshot's xmin: the log keeps it. */
	if (TransactionIdIsNormal(RecentXmin) && TransactionIdFollowsOrEquals(xid, RecentXmin))
		return stamp_status(xid);
	LWLockAcquire(XactTruncationLock, LW_SHARED);
	if (TransactionIdPrecedes(xid, compat_oldest_clog_xid()))
		state = STAMP_UNKNOWN;
	else
		state = stamp_status(xid);
	LWLockRelease(XactTruncationLock);
	return state;
}

/* Whether a promotion in the given state stands: the row is in its window. */
static inline bool
stamp_stands(StampState state)
{
	return state == STAMP_SETTLED || state == STAMP_OWN || state == STAMP_COMMITTED;
}

/*
 * Write the data of row htup (at offnum of the exclusively locked buf,
 * changed in place by the caller inside a critical section) to the WAL,
 * as heap_inplace_update() logs it: the whole data of the row.
 */
static XLogRecPtr
row_log_inplace(Relation heap, Buffer buf, OffsetNumber offnum, HeapTupleHeader htup)
{
	Page		page = BufferGetPage(buf);
	ItemId		lp = PageGetItemId(page, offnum);
	XLogRecPtr	lsn = InvalidXLogRecPtr;

	MarkBufferDirty(buf);
	if (RelationNeedsWAL(heap))
	{
		xl_heap_inplace xlrec;

		compat_heap_inplace_init(&xlrec, offnum);
		XLogBeginInsert();
		XLogRegisterData((char *) &xlrec, COMPAT_SIZE_OF_HEAP_INPLACE);
		XLogRegisterBuffer(0, buf, REGBUF_STANDARD);
		XLogRegisterBufData(0, (char *) htup + htup->t_hoff, ItemIdGetLength(lp) - htup->t_hoff);
		lsn = XLogInsert(RM_HEAP_ID, XLOG_HEAP_INPLACE);
		PageSetLSN(page, lsn);
	}
	return lsn;
}

/*
 * Rewrite the rank and the stamp of row id at tid in place, if it is still
 * there, current and its stamp still expect (rank -1: keep it).  Returns
 * its rank before, or -1 if nothing was written.
 */
static int
row_rewrite(QueueRel *qrel, ItemPointer tid, int64 id, int64 expect, int rank, int64 stamp)
{
	Relation	heap = qrel->heap;
	Buffer		buf = ReadBuffer(heap, ItemPointerGetBlockNumber(tid));
	OffsetNumber offnum = ItemPointerGetOffsetNumber(tid);
	Page		page;
	ItemId		lp;
	HeapTupleData tuple;
	int			off;
	int16		before = -1;
	int64		rowid;

	LockBuffer(buf, BUFFER_LOCK_EXCLUSIVE);
	page = BufferGetPage(buf);
	if (offnum <= PageGetMaxOffsetNumber(page) &&
		ItemIdIsNormal(lp = PageGetItemId(page, offnum)))
	{
		tuple.t_data = (HeapTupleHeader) PageGetItem(page, lp);
		tuple.t_len = ItemIdGetLength(lp);
		tuple.t_tableOid = RelationGetRelid(heap);
		tuple.t_self = *tid;
		memcpy(&rowid, row_data(tuple.t_data) + OFF_ID, sizeof(int64));
		off = stamp_offset(RelationGetDescr(heap), tuple.t_data);
		if (rowid == id && off >= 0 && stamp_read(tuple.t_data, off) == expect &&
			HeapTupleSatisfiesVisibility(&tuple, SnapshotSelf, buf) &&
			ItemPointerEquals(&tuple.t_data->t_ctid, tid))
		{
			memcpy(&before, row_data(tuple.t_data) + OFF_RANK, sizeof(int16));
			START_CRIT_SECTION();
			if (rank >= 0)
			{
				int16		r = (int16) rank;

				memcpy(row_data(tuple.t_data) + OFF_RANK, &r, sizeof(int16));
			}
			memcpy(row_data(tuple.t_data) + off, &stamp, sizeof(int64));
			(void) row_log_inplace(heap, buf, offnum, tuple.t_data);
			END_CRIT_SECTION();
		}
	}
	UnlockReleaseBuffer(buf);
	return before;
}

static bool row_in_window(QueueRel *qrel, Datum key, int64 id);

static bool entry_exists(QueueRel *qrel, int16 rank, int64 id, ItemPointer root);

/* Whether row_rank() would settle a stamp in this state. */
static inline bool
stamp_to_settle(int64 stamp, StampState state)
{
	return state == STAMP_UNKNOWN || (state == STAMP_VOID && stamp != STAMP_UNDONE);
}

/*
 * The rank row tup (rank: as stored) really has: the stored one when its
 * promotion stands, parked when not.  A stamp that cannot be told is
 * settled here from the group, and one whose promoter aborted as undone,
 * its row given an entry of its parked rank if it lacks one (a promotion
 * that crashed between its write and its entry, a REINDEX, a copy): so no
 * buffer lock may be held.  *state (if not NULL) gets the stamp's state.
 */
static int16
row_rank(QueueRel *qrel, HeapTuple tup, int16 rank, StampState *state)
{
	int			off = stamp_offset(RelationGetDescr(qrel->heap), tup->t_data);
	int64		stamp = off >= 0 ? stamp_read(tup->t_data, off) : STAMP_NONE;
	StampState	s = stamp_state(stamp);

	if (stamp_to_settle(stamp, s))
	{
		int64		id;

		memcpy(&id, row_data(tup->t_data) + OFF_ID, sizeof(int64));
		if (s == STAMP_UNKNOWN)
		{
			Datum		key = row_group_key(qrel, tup);

			s = key != (Datum) 0 && !row_in_window(qrel, key, id) ? STAMP_VOID : STAMP_SETTLED;
		}
		if (row_rewrite(qrel, &tup->t_self, id, stamp, -1,
						s == STAMP_SETTLED ? STAMP_NONE : STAMP_UNDONE) >= 0 &&
			s == STAMP_VOID && !HeapTupleIsHeapOnly(tup) &&
			!entry_exists(qrel, rank + QUEUE_RANK_PARKED, id, &tup->t_self))
			index_row(qrel, rank + QUEUE_RANK_PARKED, id, &tup->t_self);
	}
	if (state)
		*state = s;
	return stamp_stands(s) ? rank : rank + QUEUE_RANK_PARKED;
}

void
storage_scan_release(StorageScan *scan)
{
	if (scan->locked)
	{
		LockBuffer(scan->buf, BUFFER_LOCK_UNLOCK);
		scan->locked = false;
	}
}

/*
 * Advance to the next row that nobody is changing and whose visible_at has
 * come (or any, for a scan that includes delayed rows).  Returns with the row's buffer locked; fills the fixed fields of
 * msg.  Leases are the caller's business.
 */
bool
storage_scan_next(StorageScan *scan, TimestampTz now, StoredMsg *msg)
{
	Relation	heap = scan->qrel->heap;

	storage_scan_release(scan);
	/* The caller did not pass the row returned last: the mark stops there. */
	if (scan->undecided)
	{
		scan->undecided = false;
		scan->mark_open = false;
	}
	for (;;)
	{
		ItemPointer tid;
		ItemPointerData ctid;
		BlockNumber blkno;
		bool		all_dead = false;
		StampState	state = STAMP_SETTLED;

		CHECK_FOR_INTERRUPTS();
		/* Past the entry before the gap: on from its end (not through it). */
		if (scan->qs != NULL && scan->prev_key != 0)
			(void) gap_jump(scan, scan->prev_key + 1);
		tid = index_getnext_tid(scan->iscan, ForwardScanDirection);
		if (tid == NULL)
		{
			/*
			 * Every row passed is gone: the floor may rise past the last
			 * (not past one whose key it cannot hold, 0).
			 */
			if (scan->qs != NULL && !scan->floor_found && scan->passed > 0)
			{
				scan->floor_found = true;
				scan->floor_next = qstate_floor_key(floor_key_rank(scan->passed),
													floor_key_id(scan->passed) + 1);
			}
			return false;
		}
		if (scan->qs != NULL)
		{
			scan->prev_key = entry_key(scan);
			if (gap_jump(scan, scan->prev_key))
				continue;
		}
look:
		ctid = *tid;
		blkno = ItemPointerGetBlockNumber(&ctid);
		if (!BufferIsValid(scan->buf) || BufferGetBlockNumber(scan->buf) != blkno)
			scan->buf = ReleaseAndReadBuffer(scan->buf, heap, blkno);
		LockBuffer(scan->buf, scan->for_claim ? BUFFER_LOCK_EXCLUSIVE : BUFFER_LOCK_SHARE);
		scan->locked = true;

		if (!heap_hot_search_buffer(&ctid, heap, scan->buf, SnapshotSelf,
									&scan->tuple, &all_dead, true))
		{
			/* Let the index forget entries no one can see any more. */
			if (!scan->iscan->xactStartedInRecovery)
				scan->iscan->kill_prior_tuple = all_dead;
			if (scan->qs != NULL)
			{
				uint64		key = entry_key(scan);

				if (all_dead || entry_gone(scan, tid))
				{
					if (!scan->floor_found)
						scan->passed = key;
					mark_pass(scan, key, DT_NOEND);
				}
				else
				{
					floor_stop(scan);
					gap_end(scan, key);
					mark_leased(scan, key);
				}
			}
			storage_scan_release(scan);
			continue;
		}
		floor_stop(scan);
		if (scan->qs != NULL)
			gap_end(scan, entry_key(scan));
		scan->tuple.t_self = ctid;
		if (HeapTupleSatisfiesUpdate(&scan->tuple, scan->cid, scan->buf) != TM_Ok)
		{
			if (scan->mark_open)
				mark_leased(scan, entry_key(scan));
			storage_scan_release(scan);
			continue;
		}
		decode_fixed(scan->tuple.t_data, msg);
		if (scan->qrel->has_groups)
		{
			int			off = stamp_offset(RelationGetDescr(heap), scan->tuple.t_data);

			int64		stamp = off >= 0 ? stamp_read(scan->tuple.t_data, off) : STAMP_NONE;

			state = stamp_state(stamp);
			if (stamp_to_settle(stamp, state))
			{
				/* Settle it (row_rank) without the buffer lock, and look again. */
				HeapTuple	copy = heap_copytuple(&scan->tuple);

				storage_scan_release(scan);
				(void) row_rank(scan->qrel, copy, msg->rank, NULL);
				heap_freetuple(copy);
				goto look;
			}
			if (!stamp_stands(state))
				msg->rank += QUEUE_RANK_PARKED;
			/* The entry of a rank the row does not have is stale. */
			if (msg->rank != entry_rank(scan->iscan))
			{
				scan->mark_open = false;
				storage_scan_release(scan);
				continue;
			}
		}
		scan->settle = state == STAMP_COMMITTED;
		if (msg->visible_at > now && !scan->include_delayed)
		{
			if (msg->visible_at < scan->next_visible)
				scan->next_visible = msg->visible_at;
			scan->mark_open = false;
			storage_scan_release(scan);
			continue;
		}
		msg->tid = ctid;
		if (scan->mark_open)
		{
			scan->undecided = true;
			scan->row_key = entry_key(scan);
		}
		return true;
	}
}

/*
 * Write a new delivery count into the current row, in place (see the file
 * header).  The buffer must be locked exclusively.
 */
XLogRecPtr
storage_scan_set_deliveries(StorageScan *scan, int32 deliveries)
{
	XLogRecPtr	lsn;
	Relation	heap = scan->qrel->heap;
	OffsetNumber offnum = ItemPointerGetOffsetNumber(&scan->tuple.t_self);
	HeapTupleHeader htup = (HeapTupleHeader) PageGetItem(BufferGetPage(scan->buf),
														 PageGetItemId(BufferGetPage(scan->buf), offnum));
	int64		settled = STAMP_NONE;
	int			off = scan->settle ? stamp_offset(RelationGetDescr(heap), htup) : -1;

	Assert(scan->locked && scan->for_claim);
	Assert(htup == scan->tuple.t_data);
	START_CRIT_SECTION();
	memcpy(row_data(htup) + OFF_DELIVERIES, &deliveries, sizeof(int32));
	/* A promotion known committed stands for good: settle its stamp. */
	if (off >= 0)
		memcpy(row_data(htup) + off, &settled, sizeof(int64));
	lsn = row_log_inplace(heap, scan->buf, offnum, htup);
	END_CRIT_SECTION();
	return lsn;
}

/*
 * Copy the current row's variable-width columns into msg.  TOAST pointers
 * are copied as they are; storage_detoast() fetches them once no buffer
 * lock is held.
 */
void
storage_scan_copy(StorageScan *scan, StoredMsg *msg)
{
	row_copy_payload(scan->qrel, &scan->tuple, msg);
}

/*
 * Does the current row's body contain filter (a jsonb, as @> tests)?  A
 * NULL body contains nothing.  What the test allocates goes with cxt, which
 * the caller resets.
 */
bool
storage_scan_body_contains(StorageScan *scan, Datum filter, MemoryContext cxt)
{
	TupleDesc	desc = RelationGetDescr(scan->qrel->heap);
	MemoryContext old;
	bool		isnull;
	bool		contains;
	Datum		d;

	d = heap_getattr(&scan->tuple, Anum_msg_body, desc, &isnull);
	if (isnull)
		return false;
	old = MemoryContextSwitchTo(cxt);
	contains = DatumGetBool(DirectFunctionCall2(jsonb_contains, d, filter));
	MemoryContextSwitchTo(old);
	MemoryContextReset(cxt);
	return contains;
}

/*
 * The hash of the current row's group key (as the group locks use it), or
 * LEASE_NO_GROUP when it has none.
 */
int64
storage_scan_group_hash(StorageScan *scan)
{
	HeapTupleHeader htup = scan->tuple.t_data;
	bool		isnull;
	Datum		d;

	if (!scan->qrel->has_groups || HeapTupleHeaderGetNatts(htup) < Anum_msg_group_key ||
		(HeapTupleHasNulls(&scan->tuple) &&
		 att_isnull(Anum_msg_group_key - 1, htup->t_bits)))
		return LEASE_NO_GROUP;
	d = heap_getattr(&scan->tuple, Anum_msg_group_key, RelationGetDescr(scan->qrel->heap),
					 &isnull);
	return isnull ? LEASE_NO_GROUP : (int64) group_hash(d);
}

/* The earliest visible_at of the delayed messages the scan passed over. */
TimestampTz
storage_scan_next_visible(StorageScan *scan)
{
	return scan->next_visible;
}

void
storage_scan_end(StorageScan *scan)
{
	storage_scan_release(scan);
	if (scan->qs != NULL && scan->floor_found && scan->floor_next > scan->floor)
		qstate_floor_advance(scan->qs, scan->floor_gen, scan->floor_next);
	if (scan->undecided)
		scan->mark_open = false;
	if (scan->marked && scan->mark_next > scan->floor)
		qstate_mark_advance(scan->qs, scan->floor_gen, scan->mark_next, scan->mark_due,
							scan->now);
	if (BufferIsValid(scan->buf))
		ReleaseBuffer(scan->buf);
	index_endscan(scan->iscan);
	pfree(scan);
}

/* Fetch out-of-line values so results do not point into our TOAST table. */
Datum
storage_detoast(Datum d)
{
	if (d != (Datum) 0 && VARATT_IS_EXTERNAL(DatumGetPointer(d)))
		return PointerGetDatum(detoast_external_attr((struct varlena *) DatumGetPointer(d)));
	return d;
}

/* ---------------------------------------------------------------------
 * Browsing in id order
 * ---------------------------------------------------------------------
 */

/*
 * The first row, in index order, at or after (rank, id + 1) as the latest
 * committed state has it: a scan positioned on it, or NULL (ended) if none.
 * The caller reads the row from slot (entry_rank() tells the rank of its
 * entry) and ends the scan; the scan keeps a pointer to members (two keys,
 * the caller's), which must outlive it.
 */
static IndexScanDesc
browse_from(QueueRel *qrel, int16 rank, int64 id, TupleTableSlot *slot,
			ScanKeyData *members)
{
	ScanKeyData rowkey;
	IndexScanDesc iscan;

	row_key_init(&rowkey, members, BTGreaterStrategyNumber, rank, id);
	iscan = compat_index_beginscan(qrel->heap, qrel->pk, SnapshotSelf, 1, 0);
	iscan->xs_want_itup = true;
	index_rescan(iscan, &rowkey, 1, NULL, 0);
	if (index_getnext_slot(iscan, ForwardScanDirection, slot))
		return iscan;
	index_endscan(iscan);
	return NULL;
}

/* The stored fields of the row in slot; headers and body only with full. */
static void
slot_message(QueueRel *qrel, TupleTableSlot *slot, bool full, StoredMsg *m)
{
	HeapTuple	tup = ExecFetchSlotHeapTuple(slot, false, NULL);

	decode_fixed(tup->t_data, m);
	if (qrel->has_groups)
		m->rank = row_rank(qrel, tup, m->rank, NULL);
	m->tid = slot->tts_tid;
	m->receipt = 0;
	if (full)
		row_copy_payload(qrel, tup, m);
}

/*
 * Put the row in slot (m: its fixed fields) into out, which holds n rows in
 * id order, the last dropping out when qty are there already.  Returns the
 * new n.
 */
static int
browse_keep(QueueRel *qrel, TupleTableSlot *slot, const StoredMsg *m,
			StoredMsg *out, int n, int qty)
{
	int			at = n;

	if (n == qty && m->id > out[n - 1].id)
		return n;
	while (at > 0 && out[at - 1].id > m->id)
		at--;
	if (n == qty)
		n--;
	memmove(&out[at + 1], &out[at], (n - at) * sizeof(StoredMsg));
	slot_message(qrel, slot, true, &out[at]);
	return n + 1;
}

/*
 * Walk the rows of each priority in use in index order: the first from
 * (first_rank, first_after + 1), every later one from (rank, after + 1),
 * skipping from one priority to the next with one index descent.
 * visit(arg, slot, m) returns false to go on to the next priority.
 */
static void
walk_priorities(QueueRel *qrel, int first_rank, int64 first_after, int64 after,
				bool (*visit) (void *arg, TupleTableSlot *slot, const StoredMsg *m),
				void *arg)
{
	TupleTableSlot *slot = table_slot_create(qrel->heap, NULL);
	int			rank = first_rank;
	int64		from = first_after;

	while (rank <= QUEUE_RANK_MAX)
	{
		ScanKeyData members[2];
		IndexScanDesc iscan = browse_from(qrel, (int16) rank, from, slot, members);
		StoredMsg	m;

		if (iscan == NULL)
			break;
		if (entry_rank(iscan) != rank)
		{
			/* The next priority in use: start it at after. */
			rank = entry_rank(iscan);
			index_endscan(iscan);
			from = after;
			continue;
		}
		do
		{
			if (entry_rank(iscan) != rank)
				break;
			slot_message(qrel, slot, false, &m);
			/* Not from a stale entry (see "Promotion in place"). */
			if (m.rank == rank && !visit(arg, slot, &m))
				break;
			CHECK_FOR_INTERRUPTS();
		} while (index_getnext_slot(iscan, ForwardScanDirection, slot));
		index_endscan(iscan);
		rank++;
		from = after;
	}
	ExecDropSingleTupleTableSlot(slot);
}

/* What storage_browse() and storage_browse_delayed() collect. */
typedef struct BrowsePage
{
	QueueRel   *qrel;
	int64		after_id;
	int			qty;
	bool		(*keep) (void *arg, const StoredMsg *m);
	void	   *arg;
	StoredMsg  *out;
	int			n;
} BrowsePage;

/* A row for the page; false once the page is full and this priority past it. */
static bool
browse_one(void *arg, TupleTableSlot *slot, const StoredMsg *m)
{
	BrowsePage *p = arg;

	if (p->n == p->qty && m->id > p->out[p->n - 1].id)
		return false;
	if (m->id > p->after_id && p->keep(p->arg, m))
		p->n = browse_keep(p->qrel, slot, m, p->out, p->n, p->qty);
	return true;
}

/*
 * mq_inspect: up to qty stored messages with id > after_id that keep()
 * accepts, in id order, whatever their state (nothing is leased or
 * counted).  The index is in (rank, id) order, so each priority present is
 * scanned from after_id on, skipping from one to the next with one index
 * descent, and the results are merged: the cost is about qty rows per
 * priority in use, not the depth of the queue.  Returns how many are in
 * out (at least qty slots).
 */
int
storage_browse(QueueRel *qrel, int64 after_id, int qty,
			   bool (*keep) (void *arg, const StoredMsg *m), void *arg, StoredMsg *out)
{
	BrowsePage	p = {qrel, after_id, qty, keep, arg, out, 0};

	walk_priorities(qrel, 0, after_id, after_id, browse_one, &p);
	return p.n;
}

static void scan_delayed(QueueRel *qrel, TimestampTz now,
						 void (*each) (void *arg, TupleTableSlot *slot, const StoredMsg *m),
						 void *arg);

static void
page_one_delayed(void *arg, TupleTableSlot *slot, const StoredMsg *m)
{
	(void) browse_one(arg, slot, m);
}

/*
 * storage_browse() for delayed messages only (keep() still decides): the
 * rows whose visible_at is ahead of now (scan_delayed), so the cost is that
 * of the delayed rows, not of the queue.
 */
int
storage_browse_delayed(QueueRel *qrel, int64 after_id, int qty, TimestampTz now,
					   bool (*keep) (void *arg, const StoredMsg *m), void *arg,
					   StoredMsg *out)
{
	BrowsePage	p = {qrel, after_id, qty, keep, arg, out, 0};

	scan_delayed(qrel, now, page_one_delayed, &p);
	return p.n;
}

/*
 * Find message msgid whatever its priority: its tid and rank, false if it
 * is not stored.  One index descent per priority in use below its own.
 */
bool
storage_find_id(QueueRel *qrel, int64 msgid, ItemPointer tid, int16 *rank_out)
{
	TupleTableSlot *slot = table_slot_create(qrel->heap, NULL);
	int			rank = 0;
	bool		found = false;

	while (!found && rank <= QUEUE_RANK_MAX)
	{
		ScanKeyData members[2];
		IndexScanDesc iscan = browse_from(qrel, (int16) rank, msgid - 1, slot, members);
		StoredMsg	m;
		int16		er;

		if (iscan == NULL)
			break;
		er = entry_rank(iscan);
		slot_message(qrel, slot, false, &m);
		index_endscan(iscan);
		/* From its current entry, not a stale one (see "Promotion in place"). */
		if (er == rank && m.id == msgid && m.rank == rank)
		{
			*tid = m.tid;
			*rank_out = m.rank;
			found = true;
		}
		else if (er == rank)
			rank++;				/* not in this priority */
		else
			rank = er;			/* the next priority in use */
	}
	ExecDropSingleTupleTableSlot(slot);
	return found;
}

/* ---------------------------------------------------------------------
 * Single rows
 * ---------------------------------------------------------------------
 */

/*
 * Is the row version at tid message msgid's current one?  tid is where a
 * read found it; the row may have moved since, or the line pointer gone to
 * another row.  The block is still there: the row was live when read, and
 * vacuum truncates only empty pages, not while the caller holds its lock.
 */
static bool
row_is_at(QueueRel *qrel, ItemPointer tid, int64 msgid)
{
	HeapTupleData tuple;
	Buffer		buf;
	StoredMsg	m;

	tuple.t_self = *tid;
	if (!heap_fetch(qrel->heap, SnapshotSelf, &tuple, &buf, false))
		return false;
	decode_fixed(tuple.t_data, &m);
	ReleaseBuffer(buf);
	return m.id == msgid;
}

/*
 * Find the current version of message (rank, msgid); false if gone.  A
 * message of a group whose window changed since it was leased
 * (max_inflight_per_group) is found in its group's other band.  A valid
 * *tid on entry is where the message was last seen: if it is still there
 * the index is not searched.
 */
bool
storage_find(QueueRel *qrel, int16 rank, int64 msgid, ItemPointer tid)
{
	ScanKeyData keys[2];
	IndexScanDesc iscan;
	TupleTableSlot *slot;
	bool		found = false;
	int			pass;

	if (ItemPointerIsValid(tid) && row_is_at(qrel, tid, msgid))
		return true;
	slot = table_slot_create(qrel->heap, NULL);
	for (pass = 0; pass < (qrel->has_groups ? 2 : 1) && !found; pass++)
	{
		int16		r = pass == 0 ? rank : (rank + QUEUE_RANK_PARKED) % (2 * QUEUE_RANK_PARKED);

		ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT2EQ, Int16GetDatum(r));
		ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(msgid));
		iscan = compat_index_beginscan(qrel->heap, qrel->pk, SnapshotSelf, 2, 0);
		index_rescan(iscan, keys, 2, NULL, 0);
		if (index_getnext_slot(iscan, ForwardScanDirection, slot))
		{
			*tid = slot->tts_tid;
			found = true;
		}
		index_endscan(iscan);
	}
	ExecDropSingleTupleTableSlot(slot);
	return found;
}

/* Read the row at tid (the caller knows it is the current version). */
bool
storage_fetch(QueueRel *qrel, ItemPointer tid, StoredMsg *msg)
{
	HeapTupleData tuple;
	Buffer		buf;

	tuple.t_self = *tid;
	if (!heap_fetch(qrel->heap, SnapshotSelf, &tuple, &buf, false))
		return false;
	decode_fixed(tuple.t_data, msg);
	if (qrel->has_groups)
		msg->rank = row_rank(qrel, &tuple, msg->rank, NULL);
	msg->tid = *tid;
	msg->receipt = 0;
	row_copy_payload(qrel, &tuple, msg);
	ReleaseBuffer(buf);
	return true;
}

/* ---------------------------------------------------------------------
 * Message groups
 *
 * Of each group, the first max_inflight_per_group rows in id order (the
 * window) have their priority's rank; the rest are parked, QUEUE_RANK_PARKED
 * higher, past every deliverable row: scans for delivery end before them,
 * so a group with a million waiting messages costs a read nothing.  Leases
 * are taken only in windows, so no group has more in flight than its
 * allowance; a nack, an expired lease or a rolled-back read leaves the row
 * where it is, the group's head still.
 *
 * The window changes only under the group's lock: a send decides whether
 * its row is parked (storage_lock_groups, then group_ranks), and a delete
 * of a window row promotes the group's first parked row (group_promote), in
 * the same transaction -- a rollback undoes both.  The lock is a
 * transaction-level advisory lock on (queue, hash of the key), held until
 * the end of the transaction, so each decision sees the committed work of
 * every other transaction that changed the group.  A call that would lock
 * more than GROUP_LOCKS_PER_CALL groups takes the queue's gate exclusively
 * instead; single group locks take it shared, and purge (which changes
 * every group) exclusively.  Ids are taken after the lock, so a group's ids
 * follow the order its sends took the lock, and every parked row of a
 * group comes after its window in id order.
 * ---------------------------------------------------------------------
 */
/* Rows this backend moved into a window, for delivery_take. */
uint64		storage_promoted = 0;

#define GROUP_LOCK_FIELD4	0x4d47	/* (queue, hash of the group key) */
#define GROUP_GATE_FIELD4	0x4d48	/* (queue, 0): the gate */
#define GROUP_LOCKS_PER_CALL 64

static void
gate_lock(QueueRel *qrel, LOCKMODE mode)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, RelationGetRelid(qrel->heap), 0,
						 GROUP_GATE_FIELD4);
	(void) LockAcquire(&tag, mode, false, false);
}

/*
 * The hash of a group key: what the group index holds (its first column is
 * hashtext(group_key), so that its entries are fixed-width and cheap to
 * compare), and what the group locks use.
 */
static uint32
group_hash(Datum key)
{
	return DatumGetUInt32(DirectFunctionCall1Coll(hashtext, DEFAULT_COLLATION_OID, key));
}


/*
 * Lock the groups whose key hashes are hashes[0..n-1] (sorted here) until
 * the end of the transaction, in hash order.
 */
void
storage_lock_group_hashes(QueueRel *qrel, uint32 *hashes, int n)
{
	int			distinct = 0;
	int			i;

	qsort(hashes, n, sizeof(uint32), util_cmp_uint32);
	for (i = 0; i < n; i++)
		if (i == 0 || hashes[i] != hashes[i - 1])
			hashes[distinct++] = hashes[i];
	if (distinct > GROUP_LOCKS_PER_CALL)
		gate_lock(qrel, ExclusiveLock);
	else if (distinct > 0)
	{
		gate_lock(qrel, ShareLock);
		for (i = 0; i < distinct; i++)
		{
			LOCKTAG		tag;

			SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, RelationGetRelid(qrel->heap),
								 hashes[i], GROUP_LOCK_FIELD4);
			(void) LockAcquire(&tag, ExclusiveLock, false, false);
		}
	}
}

/*
 * Lock the groups of keys[0..n-1] ((Datum) 0: no group) until the end of
 * the transaction; before a send takes its ids.
 */
void
storage_lock_groups(QueueRel *qrel, int n, const Datum *keys)
{
	uint32	   *hashes;
	int			nh = 0;
	int			i;

	if (keys == NULL)
		return;
	hashes = palloc(n * sizeof(uint32));
	for (i = 0; i < n; i++)
		if (keys[i] != (Datum) 0)
			hashes[nh++] = group_hash(keys[i]);
	if (nh > 0 && !qrel->has_groups)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("queue \"%s\" cannot take message groups yet", qrel->info->name),
				 errhint("Run ALTER EXTENSION queue UPDATE.")));
	storage_lock_group_hashes(qrel, hashes, nh);
	pfree(hashes);
}

static bool
same_key(Datum a, Datum b)
{
	text	   *x = DatumGetTextPP(a);
	text	   *y = DatumGetTextPP(b);

	return VARSIZE_ANY_EXHDR(x) == VARSIZE_ANY_EXHDR(y) &&
		memcmp(VARDATA_ANY(x), VARDATA_ANY(y), VARSIZE_ANY_EXHDR(x)) == 0;
}

/*
 * A scan of the group index (index) as the latest committed state has it:
 * the rows with group key's hash (every group's when key is (Datum) 0)
 * and id > after.  The rows of another group with the same hash come too:
 * the caller tells them apart (slot_in_group).
 */
static IndexScanDesc
group_scan(QueueRel *qrel, Relation index, Datum key, int64 after, ScanKeyData *keys)
{
	IndexScanDesc iscan;
	int			nkeys = 0;

	if (key != (Datum) 0)
	{
		ScanKeyInit(&keys[nkeys++], 1, BTEqualStrategyNumber, F_INT4EQ,
					Int32GetDatum((int32) group_hash(key)));
		ScanKeyInit(&keys[nkeys++], 2, BTGreaterStrategyNumber, F_INT8GT,
					Int64GetDatum(after));
	}
	iscan = compat_index_beginscan(qrel->heap, index, SnapshotSelf, nkeys, 0);
	index_rescan(iscan, nkeys ? keys : NULL, nkeys, NULL, 0);
	return iscan;
}

/* Is the row in slot of group key (not another with the same hash)? */
static bool
slot_in_group(QueueRel *qrel, TupleTableSlot *slot, Datum key)
{
	HeapTuple	tup = ExecFetchSlotHeapTuple(slot, false, NULL);
	bool		isnull;
	Datum		d = heap_getattr(tup, Anum_msg_group_key, RelationGetDescr(qrel->heap), &isnull);

	return !isnull && same_key(d, key);
}

/*
 * Whether row id of group key is among the group's first
 * max_inflight_per_group rows as committed: a row counts unless its insert
 * aborted or its delete committed, so a delete of the current transaction
 * (or any running one) leaves it there.  For stamps that cannot be told.
 */
static bool
row_in_window(QueueRel *qrel, Datum key, int64 id)
{
	int			max = qrel->info->max_inflight_per_group;
	TupleTableSlot *slot = table_slot_create(qrel->heap, NULL);
	ScanKeyData keys[2];
	IndexScanDesc iscan;
	int			before = 0;

	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT4EQ,
				Int32GetDatum((int32) group_hash(key)));
	ScanKeyInit(&keys[1], 2, BTLessStrategyNumber, F_INT8LT, Int64GetDatum(id));
	iscan = compat_index_beginscan(qrel->heap, groups_index(qrel), SnapshotAny, 2, 0);
	index_rescan(iscan, keys, 2, NULL, 0);
	while (before < max && index_getnext_slot(iscan, ForwardScanDirection, slot))
	{
		Buffer		buf = ((BufferHeapTupleTableSlot *) slot)->buffer;
		HeapTuple	tup = ExecFetchSlotHeapTuple(slot, false, NULL);
		TransactionId dead_after;
		HTSV_Result res;

		if (!slot_in_group(qrel, slot, key))
			continue;
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		res = HeapTupleSatisfiesVacuumHorizon(tup, buf, &dead_after);
		LockBuffer(buf, BUFFER_LOCK_UNLOCK);
		if (res != HEAPTUPLE_DEAD && res != HEAPTUPLE_RECENTLY_DEAD)
			before++;
	}
	index_endscan(iscan);
	ExecDropSingleTupleTableSlot(slot);
	return before < max;
}

/*
 * How group key ends: how many of its last rows are in its window, up to
 * max, and whether its last row is parked.  Reads from the end: the cost
 * is the rows counted, not the group's length.
 */
static void
group_tail(QueueRel *qrel, Datum key, int max, int *window, bool *parked)
{
	TupleTableSlot *slot = table_slot_create(qrel->heap, NULL);
	ScanKeyData keys[2];
	IndexScanDesc iscan = group_scan(qrel, groups_index(qrel), key, 0, keys);
	StoredMsg	m;

	*window = 0;
	*parked = false;
	while (*window < max && index_getnext_slot(iscan, BackwardScanDirection, slot))
	{
		if (!slot_in_group(qrel, slot, key))
			continue;
		slot_message(qrel, slot, false, &m);
		if (m.rank >= QUEUE_RANK_PARKED)
		{
			*parked = true;
			break;
		}
		(*window)++;
	}
	index_endscan(iscan);
	ExecDropSingleTupleTableSlot(slot);
}

typedef struct GroupTail
{
	char		key[QUEUE_GROUP_KEY_MAXLEN + 1];	/* hash key */
	int			window;
	bool		parked;
} GroupTail;

/*
 * The rank of each new row of a send (ids ascending): its priority's, or
 * parked when its group's window is full.  Under the groups' locks.
 */
static int16 *
group_ranks(QueueRel *qrel, int n, int16 rank, const Datum *keys)
{
	int16	   *ranks = palloc(n * sizeof(int16));
	int			max = qrel->info->max_inflight_per_group;
	HTAB	   *tails = NULL;
	int			i;

	for (i = 0; i < n; i++)
	{
		GroupTail	one;
		GroupTail  *t = &one;

		ranks[i] = rank;
		if (keys[i] == (Datum) 0)
			continue;
		if (n > 1)
		{
			text	   *k = DatumGetTextPP(keys[i]);
			char		name[QUEUE_GROUP_KEY_MAXLEN + 1];
			bool		found;

			if (tails == NULL)
			{
				HASHCTL		ctl;

				ctl.keysize = sizeof(name);
				ctl.entrysize = sizeof(GroupTail);
				ctl.hcxt = CurrentMemoryContext;
				tails = hash_create("message groups of a send", 64, &ctl,
									HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
			}
			memset(name, 0, sizeof(name));
			memcpy(name, VARDATA_ANY(k), VARSIZE_ANY_EXHDR(k));
			t = hash_search(tails, name, HASH_ENTER, &found);
			if (!found)
				group_tail(qrel, keys[i], max, &t->window, &t->parked);
		}
		else
			group_tail(qrel, keys[i], max, &t->window, &t->parked);
		if (!t->parked && t->window < max)
			t->window++;
		else
		{
			t->parked = true;
			ranks[i] = rank + QUEUE_RANK_PARKED;
		}
	}
	if (tails != NULL)
		hash_destroy(tails);
	return ranks;
}

/*
 * In copy, a new version of a row to be, the promotion as it stands: a
 * new version needs no stamp (it is undone with the update that makes
 * it), unless the promoter is still running -- then it keeps its stamp.
 */
static void
row_settle_copy(QueueRel *qrel, HeapTuple copy)
{
	int			off = stamp_offset(RelationGetDescr(qrel->heap), copy->t_data);
	int64		none = STAMP_NONE;
	StampState	state;
	int16		rank;

	if (off < 0)
		return;
	memcpy(&rank, row_data(copy->t_data) + OFF_RANK, sizeof(int16));
	rank = row_rank(qrel, copy, rank, &state);
	if (state == STAMP_OWN || state == STAMP_RUNNING)
		return;
	memcpy(row_data(copy->t_data) + OFF_RANK, &rank, sizeof(int16));
	memcpy(row_data(copy->t_data) + off, &none, sizeof(int64));
}

/*
 * A copy of the row version at tid to change and put back (put_version);
 * NULL if there is no such version.
 */
static HeapTuple
row_copy(QueueRel *qrel, ItemPointer tid)
{
	HeapTupleData oldtup;
	HeapTuple	copy;
	Buffer		buf;

	oldtup.t_self = *tid;
	if (!heap_fetch(qrel->heap, SnapshotAny, &oldtup, &buf, false))
		return NULL;
	copy = heap_copytuple(&oldtup);
	ReleaseBuffer(buf);
	if (qrel->has_groups)
		row_settle_copy(qrel, copy);
	return copy;
}

/*
 * Replace the row version at tid by newtup (freed here), as a regular
 * update in the current transaction, indexing the new version unless it
 * is HOT; *m gets its fixed fields and its tid.  False if the row is gone
 * (changed or deleted first).
 */
static bool
put_version(QueueRel *qrel, ItemPointer tid, HeapTuple newtup, StoredMsg *m)
{
	TM_FailureData tmfd;
	LockTupleMode lockmode;
	TM_Result	result;

	result = compat_heap_update(qrel->heap, tid, newtup, GetCurrentCommandId(true),
								&tmfd, &lockmode);
	if (result == TM_Ok)
	{
		decode_fixed(newtup->t_data, m);
		m->tid = newtup->t_self;
		if (!HeapTupleIsHeapOnly(newtup))
		{
			m->group_key = row_group_key(qrel, newtup);
			index_all(qrel, m, &newtup->t_self);
		}
	}
	heap_freetuple(newtup);
	if (result == TM_Ok)
		return true;
	if (result == TM_SelfModified || result == TM_Updated || result == TM_Deleted)
		return false;
	elog(ERROR, "unexpected heap_update status: %u", result);
	return false;
}

/*
 * Give row m (its current version at m->tid) a new rank, as a regular
 * update in the current transaction.  False if the row is gone.
 */
static bool
row_set_rank(QueueRel *qrel, StoredMsg *m, int16 rank)
{
	HeapTuple	newtup = row_copy(qrel, &m->tid);

	int			off;

	if (newtup == NULL)
		return false;
	memcpy(row_data(newtup->t_data) + OFF_RANK, &rank, sizeof(int16));
	/* The rank given is the row's: no promotion is pending in the new version. */
	off = stamp_offset(RelationGetDescr(qrel->heap), newtup->t_data);
	if (off >= 0)
		memset(row_data(newtup->t_data) + off, 0, sizeof(int64));
	if (!put_version(qrel, &m->tid, newtup, m))
		return false;
	/* A row promoted below the floor: readers must start there. */
	qstate_floor_inserted(qstate_get(RelationGetRelid(qrel->heap)),
						  qstate_floor_key(rank, m->id));
	return true;
}

/* Whether the primary key has an entry (rank, id) pointing to root. */
static bool
entry_exists(QueueRel *qrel, int16 rank, int64 id, ItemPointer root)
{
	ScanKeyData keys[2];
	IndexScanDesc iscan;
	ItemPointer tid;
	bool		found = false;

	ScanKeyInit(&keys[0], 1, BTEqualStrategyNumber, F_INT2EQ, Int16GetDatum(rank));
	ScanKeyInit(&keys[1], 2, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(id));
	iscan = compat_index_beginscan(qrel->heap, qrel->pk, SnapshotAny, 2, 0);
	index_rescan(iscan, keys, 2, NULL, 0);
	while (!found && (tid = index_getnext_tid(iscan, ForwardScanDirection)) != NULL)
		found = ItemPointerEquals(tid, root);
	index_endscan(iscan);
	return found;
}

/*
 * Move parked row m (the current version, in slot) into its window, in
 * place (see "Promotion in place"); as an update if it has no promotion
 * column, or is the later version of a HOT chain (whose index entries point
 * to the chain's first).  False if it is no longer there.
 */
static bool
row_promote(QueueRel *qrel, TupleTableSlot *slot, StoredMsg *m)
{
	HeapTuple	tup = ExecFetchSlotHeapTuple(slot, false, NULL);
	int			off = stamp_offset(RelationGetDescr(qrel->heap), tup->t_data);
	int16		rank = m->rank - QUEUE_RANK_PARKED;
	int			before;

	if (off < 0 || HeapTupleIsHeapOnly(tup))
		return row_set_rank(qrel, m, rank);
	before = row_rewrite(qrel, &m->tid, m->id, stamp_read(tup->t_data, off), rank,
						 stamp_make());
	if (before < 0)
		return false;
	/* A rank rewritten before may have its entry already. */
	if (before >= QUEUE_RANK_PARKED || !entry_exists(qrel, rank, m->id, &m->tid))
		index_row(qrel, rank, m->id, &m->tid);
	/* A row promoted below the floor: readers must start there. */
	qstate_floor_inserted(qstate_get(RelationGetRelid(qrel->heap)),
						  qstate_floor_key(rank, m->id));
	return true;
}

/*
 * Promote the row in slot if it is of group key, after row after and
 * parked (m gets its fields); whether it was promoted.
 */
static bool
promote_candidate(QueueRel *qrel, TupleTableSlot *slot, Datum key, int64 after, StoredMsg *m)
{
	if (!slot_in_group(qrel, slot, key))
		return false;
	slot_message(qrel, slot, false, m);
	if (m->id <= after || m->rank < QUEUE_RANK_PARKED)
		return false;
	m->group_key = key;
	if (!row_promote(qrel, slot, m))
		return false;
	storage_promoted++;
	return true;
}

/*
 * A row of group key's window, id after, has left: its first parked row
 * (they all come after the window) joins the window.  The rows after the
 * one promoted are kept as a hint for when it leaves in turn (successor.c);
 * with a hint for this one, they are tried first.
 */
static void
group_promote(QueueRel *qrel, Datum key, int64 after)
{
	Oid			relid = RelationGetRelid(qrel->heap);
	uint32		hash = group_hash(key);
	TupleTableSlot *slot = table_slot_create(qrel->heap, NULL);
	ItemPointerData tids[SUCCESSOR_MAX];
	int			n = successor_take(relid, hash, after, tids);
	ScanKeyData keys[2];
	IndexScanDesc iscan;
	StoredMsg	m;
	int			i;

	if (n > 0)
	{
		IndexFetchTableData *fetch = compat_table_index_fetch_begin(qrel->heap);

		for (i = 0; i < n; i++)
		{
			ItemPointerData tid = tids[i];
			bool		call_again = false;
			bool		all_dead = false;

			if (table_index_fetch_tuple(fetch, &tid, SnapshotSelf, slot, &call_again, &all_dead) &&
				promote_candidate(qrel, slot, key, after, &m))
				break;
		}
		table_index_fetch_end(fetch);
		if (i < n)
		{
			successor_put(relid, hash, m.id, tids + i + 1, n - i - 1);
			ExecDropSingleTupleTableSlot(slot);
			return;
		}
	}
	iscan = group_scan(qrel, groups_index(qrel), key, after, keys);
	while (index_getnext_slot(iscan, ForwardScanDirection, slot))
	{
		ItemPointer next;

		if (!promote_candidate(qrel, slot, key, after, &m))
			continue;
		/* The entries after it came with the same leaf page, mostly. */
		n = 0;
		while (n < SUCCESSOR_MAX &&
			   (next = index_getnext_tid(iscan, ForwardScanDirection)) != NULL)
			tids[n++] = *next;
		successor_put(relid, hash, m.id, tids, n);
		break;
	}
	index_endscan(iscan);
	ExecDropSingleTupleTableSlot(slot);
}

/*
 * Call each(arg, m, run) for every row of a message group in the order of
 * the group index: by hash of the key, then id.  m has its fixed fields and
 * group key; run is true for the first row of a hash -- the rows of one
 * group come in id order between two such rows, possibly interleaved with
 * those of another group of the same hash.
 */
void
storage_walk_groups(QueueRel *qrel,
					void (*each) (void *arg, const StoredMsg *m, bool run), void *arg)
{
	TupleTableSlot *slot;
	Relation	index;
	IndexScanDesc iscan;
	ScanKeyData keys[2];
	bool		first = true;
	uint32		hash = 0;

	if (!qrel->has_groups)
		return;
	index = index_open(qrel->info->groupsid, AccessShareLock);
	slot = table_slot_create(qrel->heap, NULL);
	iscan = group_scan(qrel, index, (Datum) 0, 0, keys);
	while (index_getnext_slot(iscan, ForwardScanDirection, slot))
	{
		StoredMsg	m;
		uint32		h;

		slot_message(qrel, slot, false, &m);
		m.group_key = row_group_key(qrel, ExecFetchSlotHeapTuple(slot, false, NULL));
		h = group_hash(m.group_key);
		each(arg, &m, first || h != hash);
		first = false;
		hash = h;
		pfree(DatumGetPointer(m.group_key));
		CHECK_FOR_INTERRUPTS();
	}
	index_endscan(iscan);
	index_close(index, AccessShareLock);
	ExecDropSingleTupleTableSlot(slot);
}

/* The groups of one hash run, as storage_regroup counts their rows. */
typedef struct RegroupRun
{
	QueueRel   *qrel;
	int			n;
	int			cap;
	Datum	   *keys;
	int		   *pos;
	int64	   *last;
} RegroupRun;

static void
regroup_one(void *arg, const StoredMsg *m, bool run)
{
	RegroupRun *r = arg;
	StoredMsg	row = *m;
	int			i;
	bool		parked;

	if (run)
	{
		for (i = 0; i < r->n; i++)
			pfree(DatumGetPointer(r->keys[i]));
		r->n = 0;
	}
	for (i = 0; i < r->n && !same_key(r->keys[i], m->group_key); i++)
		;
	if (i == r->n)
	{
		if (r->n == r->cap)
		{
			r->cap = Max(4, r->cap * 2);
			r->keys = r->keys ? repalloc(r->keys, r->cap * sizeof(Datum)) : palloc(r->cap * sizeof(Datum));
			r->pos = r->pos ? repalloc(r->pos, r->cap * sizeof(int)) : palloc(r->cap * sizeof(int));
			r->last = r->last ? repalloc(r->last, r->cap * sizeof(int64)) : palloc(r->cap * sizeof(int64));
		}
		r->keys[i] = datumCopy(m->group_key, false, -1);
		r->pos[i] = 0;
		r->last[i] = 0;
		r->n++;
	}
	/* A version this walk made comes again: skip it. */
	if (m->id <= r->last[i])
		return;
	r->last[i] = m->id;
	r->pos[i]++;
	parked = m->rank >= QUEUE_RANK_PARKED;
	if (parked != (r->pos[i] > r->qrel->info->max_inflight_per_group))
		(void) row_set_rank(r->qrel, &row, parked ? m->rank - QUEUE_RANK_PARKED :
							m->rank + QUEUE_RANK_PARKED);
}

/*
 * After max_inflight_per_group changed: make each group's window its first
 * max_inflight_per_group rows again, under the queue's gate.
 */
void
storage_regroup(QueueRel *qrel)
{
	RegroupRun	r = {qrel};

	if (!qrel->has_groups)
		return;
	gate_lock(qrel, ExclusiveLock);
	storage_walk_groups(qrel, regroup_one, &r);
	/* Rows moved: the hints of where each group goes on are stale. */
	successor_forget(RelationGetRelid(qrel->heap));
}

/*
 * Send a copy of message m (dead-lettering, moving, redriving) with the
 * given headers ((Datum) 0: none) and body, keeping its priority and
 * group.  Returns its id in target.
 */
int64
storage_send_copy(QueueRel *target, const StoredMsg *m, Datum headers, Datum body,
				  TimestampTz now)
{
	Datum		key = m->group_key;
	int64		id;

	storage_lock_groups(target, 1, &key);
	id = storage_next_id(target);
	storage_insert(target, 1, &id, now, now, m->rank % QUEUE_RANK_PARKED,
				   headers != (Datum) 0 ? &headers : NULL, &body,
				   key != (Datum) 0 ? &key : NULL);
	return id;
}

/*
 * Delete a row in the current transaction, waiting for a transaction that
 * is changing it.  With regroup, a row of a group's window is replaced by
 * the group's next (under the group's lock).  False if someone else
 * deleted or changed it first (or we did).
 */
/*
 * The fixed fields of the row at tid as the latest committed state has it,
 * its rank as it stands, and its group key; false if it is not there.
 */
static bool
row_fetch_fixed(QueueRel *qrel, ItemPointer tid, StoredMsg *m)
{
	HeapTupleData tuple;
	Buffer		buf;

	tuple.t_self = *tid;
	if (!heap_fetch(qrel->heap, SnapshotSelf, &tuple, &buf, false))
		return false;
	decode_fixed(tuple.t_data, m);
	m->group_key = row_group_key(qrel, &tuple);
	if (m->group_key != (Datum) 0)
		m->rank = row_rank(qrel, &tuple, m->rank, NULL);
	m->tid = *tid;
	ReleaseBuffer(buf);
	return true;
}

static bool
delete_row(QueueRel *qrel, ItemPointer tid, bool regroup)
{
	TM_FailureData tmfd;
	TM_Result	result;
	StoredMsg	m;
	bool		grouped = false;

	if (regroup && qrel->has_groups && row_fetch_fixed(qrel, tid, &m) &&
		m.group_key != (Datum) 0)
	{
		grouped = true;
		storage_lock_groups(qrel, 1, &m.group_key);
		/* A parked row may have been promoted while we waited. */
		if (m.rank >= QUEUE_RANK_PARKED)
			grouped = row_fetch_fixed(qrel, tid, &m);
	}
	result = compat_heap_delete(qrel->heap, tid, GetCurrentCommandId(true), true, &tmfd);
	switch (result)
	{
		case TM_Ok:
			pending_note_depth(RelationGetRelid(qrel->heap), -1);
			if (grouped && m.rank < QUEUE_RANK_PARKED)
				group_promote(qrel, m.group_key, m.id);
			return true;
		case TM_SelfModified:
		case TM_Updated:
		case TM_Deleted:
			return false;
		default:
			elog(ERROR, "unexpected heap_delete status: %u", result);
	}
	return false;
}

bool
storage_delete(QueueRel *qrel, ItemPointer tid)
{
	return delete_row(qrel, tid, true);
}

/*
 * Give the row a new visible_at and, with set_headers, new headers ((Datum)
 * 0: none), as a regular update in the current transaction (HOT when
 * visible_at stays, as the delay index is on it).
 * False if the row is gone.
 */
bool
storage_update(QueueRel *qrel, ItemPointer tid, TimestampTz visible_at,
			   bool set_headers, Datum headers)
{
	HeapTuple	newtup = row_copy(qrel, tid);
	StoredMsg	msg;

	if (newtup == NULL)
		return false;
	if (set_headers)
	{
		int			cols[1] = {Anum_msg_headers};
		Datum		values[1] = {headers};
		bool		nulls[1] = {headers == (Datum) 0};
		HeapTuple	changed = heap_modify_tuple_by_cols(newtup, RelationGetDescr(qrel->heap),
														1, cols, values, nulls);

		heap_freetuple(newtup);
		newtup = changed;
	}
	memcpy(row_data(newtup->t_data) + OFF_VISIBLE_AT, &visible_at, sizeof(TimestampTz));
	return put_version(qrel, tid, newtup, &msg);
}

/*
 * Delete every message (purge), waiting for transactions that are changing
 * a row, and report each deleted message's id.  Returns how many this
 * transaction deleted.
 */
int64
storage_delete_all(QueueRel *qrel, void (*deleted) (Oid relid, int64 msgid))
{
	TableScanDesc scan;
	HeapTuple	tup;
	int64		count = 0;

	/* No send or delete may change a group meanwhile: every row goes. */
	if (qrel->has_groups)
		gate_lock(qrel, ExclusiveLock);
	scan = compat_table_beginscan(qrel->heap, SnapshotSelf, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		ItemPointerData tid = tup->t_self;
		int64		msgid;

		memcpy(&msgid, row_data(tup->t_data) + OFF_ID, sizeof(int64));
		if (delete_row(qrel, &tid, false))
		{
			deleted(RelationGetRelid(qrel->heap), msgid);
			count++;
		}
		CHECK_FOR_INTERRUPTS();
	}
	table_endscan(scan);
	return count;
}

/* ---------------------------------------------------------------------
 * Figures for mq_queues (views.c)
 * ---------------------------------------------------------------------
 */

/*
 * Every stored message as the latest committed state has it: a count of
 * rows, for a hot standby, where the depth counter is not kept.
 */
int64
storage_count(QueueRel *qrel)
{
	TableScanDesc scan = compat_table_beginscan(qrel->heap, SnapshotSelf, 0, NULL);
	int64		n = 0;

	while (heap_getnext(scan, ForwardScanDirection) != NULL)
	{
		n++;
		CHECK_FOR_INTERRUPTS();
	}
	table_endscan(scan);
	return n;
}

/*
 * Call each(arg, slot, m) for every stored row whose visible_at is ahead of
 * now, in no particular order: through the delay index, so the cost is
 * that of the delayed rows only (a heap scan for a queue whose index is
 * missing, before the update to 0.4.0).
 */
static void
scan_delayed(QueueRel *qrel, TimestampTz now,
			 void (*each) (void *arg, TupleTableSlot *slot, const StoredMsg *m), void *arg)
{
	TupleTableSlot *slot = table_slot_create(qrel->heap, NULL);
	Relation	index = NULL;
	IndexScanDesc iscan = NULL;
	TableScanDesc hscan = NULL;
	ScanKeyData key;
	StoredMsg	m;

	if (OidIsValid(qrel->info->delayedid))
	{
		index = index_open(qrel->info->delayedid, AccessShareLock);
		ScanKeyInit(&key, 1, BTGreaterStrategyNumber, F_TIMESTAMPTZ_GT,
					TimestampTzGetDatum(now));
		iscan = compat_index_beginscan(qrel->heap, index, SnapshotSelf, 1, 0);
		index_rescan(iscan, &key, 1, NULL, 0);
	}
	else
		hscan = compat_table_beginscan(qrel->heap, SnapshotSelf, 0, NULL);
	while (iscan ? index_getnext_slot(iscan, ForwardScanDirection, slot) :
		   table_scan_getnextslot(hscan, ForwardScanDirection, slot))
	{
		slot_message(qrel, slot, false, &m);
		if (m.visible_at > now)
			each(arg, slot, &m);
		CHECK_FOR_INTERRUPTS();
	}
	if (iscan)
	{
		index_endscan(iscan);
		index_close(index, AccessShareLock);
	}
	else
		table_endscan(hscan);
	ExecDropSingleTupleTableSlot(slot);
}

/* What the figures of mq_queues gather from rows. */
typedef struct RowFigures
{
	Oid			relid;
	TimestampTz now;
	int64		n;				/* delayed messages */
	TimestampTz oldest;			/* enqueued_at of the oldest ready one */
} RowFigures;

static void
count_one_delayed(void *arg, TupleTableSlot *slot, const StoredMsg *m)
{
	RowFigures *c = arg;

	if (!lease_held(c->relid, m->id, c->now))
		c->n++;
}

/* The delayed messages: visible_at still ahead and not leased. */
int64
storage_count_delayed(QueueRel *qrel, TimestampTz now)
{
	RowFigures	c = {RelationGetRelid(qrel->heap), now, 0, DT_NOEND};

	scan_delayed(qrel, now, count_one_delayed, &c);
	return c.n;
}

/* The first ready row of a priority ends its walk. */
static bool
oldest_one(void *arg, TupleTableSlot *slot, const StoredMsg *m)
{
	RowFigures *o = arg;

	if (m->visible_at > o->now || lease_held(o->relid, m->id, o->now))
		return true;
	o->oldest = Min(o->oldest, m->enqueued_at);
	return false;
}

/* The first row of a priority, in id order, is its oldest. */
static bool
first_of_rank(void *arg, TupleTableSlot *slot, const StoredMsg *m)
{
	TimestampTz *oldest = arg;

	*oldest = Min(*oldest, m->enqueued_at);
	return false;
}

/*
 * The enqueue times of the oldest and the newest stored message, in any
 * state (DT_NOEND and DT_NOBEGIN: none).  Ids follow enqueue order, so each
 * priority in use (parked rows too) is read at the front of its part of the
 * index for the oldest, and at the back for the newest: one descent per
 * priority each way, whatever the depth.
 */
void
storage_age_bounds(QueueRel *qrel, TimestampTz *oldest, TimestampTz *newest)
{
	TupleTableSlot *slot;
	int			below = QUEUE_RANK_MAX + 1;

	*oldest = DT_NOEND;
	*newest = DT_NOBEGIN;
	walk_priorities(qrel, 0, 0, 0, first_of_rank, oldest);
	slot = table_slot_create(qrel->heap, NULL);
	for (;;)
	{
		ScanKeyData members[2];
		ScanKeyData rowkey;
		IndexScanDesc iscan;
		bool		found = false;

		/* Backwards from the last entry of a rank below the last one found. */
		row_key_init(&rowkey, members, BTLessStrategyNumber, (int16) below, 0);
		iscan = compat_index_beginscan(qrel->heap, qrel->pk, SnapshotSelf, 1, 0);
		iscan->xs_want_itup = true;
		index_rescan(iscan, &rowkey, 1, NULL, 0);
		while (!found && index_getnext_slot(iscan, BackwardScanDirection, slot))
		{
			int16		rank = entry_rank(iscan);
			StoredMsg	m;

			slot_message(qrel, slot, false, &m);
			/* Not from a stale entry (see "Promotion in place"). */
			if (m.rank == rank)
			{
				*newest = Max(*newest, m.enqueued_at);
				below = rank;
				found = true;
			}
			CHECK_FOR_INTERRUPTS();
		}
		index_endscan(iscan);
		if (!found)
			break;
	}
	ExecDropSingleTupleTableSlot(slot);
}

/*
 * The enqueue time of the oldest ready message (DT_NOEND: none).  The
 * oldest of each priority is near the front of its part of the index (ids
 * follow enqueue order), so each priority in use is read from its front --
 * from the floor for the first -- up to its first ready row: the cost is
 * the leased and delayed rows ahead of it, not the depth.
 */
TimestampTz
storage_oldest_ready(QueueRel *qrel, TimestampTz now)
{
	RowFigures	o = {RelationGetRelid(qrel->heap), now, 0, DT_NOEND};
	uint64		floor = 0;
	uint64		gen;

	if (!RecoveryInProgress())
		qstate_floor_get(qstate_get(o.relid), &floor, &gen);
	walk_priorities(qrel, floor_key_rank(floor), Max(floor_key_id(floor) - 1, 0), 0,
					oldest_one, &o);
	return o.oldest;
}
