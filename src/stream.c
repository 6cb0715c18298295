/*-------------------------------------------------------------------------
 *
 * stream.c
 *	  Streams: an ordered, replayable log split into partitions.
 *
 * A stream is a name in mq.objects (kind 's') with its options in
 * mq.streams.  Its records live in segments, plain tables
 * mq.s_<id>_<seg> of (partition, position, key, body, headers, appended_at),
 * the columns of mq_record in its order, so that a record read goes to the
 * caller as the stored tuple, copied whole, with no column taken apart;
 * primary key (partition, position); listed in mq.stream_segments;
 * appends go to the newest one.  Beside them, mq.s_<id>_groups holds the
 * positions of its consumer groups (its OID is the stream's identity in
 * shared memory: positions, waiters, statistics) and mq.s_<id>_keys its
 * idempotency keys.
 *
 * An append picks the partition (Kafka's murmur2 of the key, or round
 * robin without one), takes the next position of that partition
 * (position.c, which holds it until the transaction ends) and inserts the
 * row straight into the segment's heap and index.  A read of a partition
 * first takes its stable end (position.c), then scans the segments in order
 * from the position asked for, with a snapshot taken after it, and stops
 * below that end: records of transactions still in progress are never
 * skipped, only waited for.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/detoast.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/index.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "args.h"
#include "catalog.h"
#include "compat.h"
#include "dedup.h"
#include "pending.h"
#include "perms.h"
#include "position.h"
#include "qstate.h"
#include "storage.h"
#include "stream.h"
#include "util.h"

/*
 * An idempotency key row stores the record it stands for as one int8:
 * partition * 2^48 + position.
 */
#define KEY_POSITION_BITS		48

static HTAB *stream_cache = NULL;

/* The last partition a record without a key went to, per backend. */
static uint32 round_robin = 0;

/* ---------------------------------------------------------------------
 * Partitioning
 * ---------------------------------------------------------------------
 */

/* Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2). */
static int32
murmur2(const unsigned char *data, int length)
{
	const uint32 m = 0x5bd1e995;
	const int	r = 24;
	uint32		h = 0x9747b28c ^ (uint32) length;
	int			nblocks = length / 4;
	int			i;
	const unsigned char *tail = data + (length & ~3);

	for (i = 0; i < nblocks; i++)
	{
		const unsigned char *b = data + i * 4;
		uint32		k = (uint32) b[0] | ((uint32) b[1] << 8) |
			((uint32) b[2] << 16) | ((uint32) b[3] << 24);

		k *= m;
		k ^= k >> r;
		k *= m;
		h *= m;
		h ^= k;
	}
	/* The last one to three bytes (Kafka's switch that falls through). */
	if (length % 4 >= 3)
		h ^= (uint32) tail[2] << 16;
	if (length % 4 >= 2)
		h ^= (uint32) tail[1] << 8;
	if (length % 4 >= 1)
	{
		h ^= (uint32) tail[0];
		h *= m;
	}
	h ^= h >> 13;
	h *= m;
	h ^= h >> 15;
	return (int32) h;
}

/* The partition of a record: as Kafka's default partitioner for a key. */
static int32
partition_for(const StreamInfo *s, text *key)
{
	if (key == NULL)
		return (int32) (round_robin++ % (uint32) s->partitions);
	return (int32) (((uint32) murmur2((const unsigned char *) VARDATA_ANY(key),
									  VARSIZE_ANY_EXHDR(key)) & 0x7fffffff) %
					(uint32) s->partitions);
}

/* ---------------------------------------------------------------------
 * The per-backend cache
 * ---------------------------------------------------------------------
 */

static bool
stream_load(void *entry)
{
	StreamInfo *s = (StreamInfo *) entry;
	CatalogContext cxt;
	Datum		arg = CStringGetTextDatum(s->name);
	Oid			argtype = TEXTOID;
	bool		found = false;
	uint64		i;
	char	   *sql;

	s->nsegments = 0;
	s->segments = NULL;

	catalog_enter(&cxt);
	sql = psprintf("SELECT o.id, s.partitions, s.dedup_window, s.max_age, s.max_bytes,"
				   " s.max_messages, %s FROM mq.objects o"
				   "  JOIN mq.streams s ON s.id OPERATOR(pg_catalog.=) o.id"
				   " WHERE o.name OPERATOR(pg_catalog.=) $1", catalog_perms_columns());
	catalog_exec(sql, 1, &argtype, &arg, NULL);
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		s->id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		s->partitions = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		s->dedup_window = *DatumGetIntervalP(SPI_getbinval(tup, desc, 3, &isnull));
		{
			Datum		d = SPI_getbinval(tup, desc, 4, &isnull);

			s->has_max_age = !isnull;
			if (!isnull)
				s->max_age = *DatumGetIntervalP(d);
			d = SPI_getbinval(tup, desc, 5, &isnull);
			s->max_bytes = isnull ? 0 : DatumGetInt64(d);
			d = SPI_getbinval(tup, desc, 6, &isnull);
			s->max_messages = isnull ? 0 : DatumGetInt64(d);
		}
		perms_from_tuple(&s->perms, tup, desc, 7, s->cxt);
		s->ident = catalog_storage_oid('s', s->id, "_groups", false);
		s->keysid = catalog_storage_oid('s', s->id, "_keys", false);
		s->keys_pkid = catalog_storage_oid('s', s->id, "_keys_pkey", false);
		found = true;

		arg = Int32GetDatum(s->id);
		argtype = INT4OID;
		catalog_exec("SELECT seg FROM mq.stream_segments"
					 " WHERE stream OPERATOR(pg_catalog.=) $1 ORDER BY seg",
					 1, &argtype, &arg, NULL);
		s->segments = MemoryContextAlloc(s->cxt, sizeof(Segment) * Max(SPI_processed, 1));
		for (i = 0; i < SPI_processed; i++)
		{
			Segment    *g = &s->segments[s->nsegments];
			char		suffix[32];

			g->seg = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
												 1, &isnull));
			snprintf(suffix, sizeof(suffix), "_%d", g->seg);
			g->relid = catalog_storage_oid('s', s->id, suffix, true);
			snprintf(suffix, sizeof(suffix), "_%d_pkey", g->seg);
			g->pkid = catalog_storage_oid('s', s->id, suffix, true);
			if (OidIsValid(g->relid) && OidIsValid(g->pkid))
				s->nsegments++;
		}
	}
	catalog_leave(&cxt);
	return found;
}

/* A stream by (validated) name, current as of the latest catalog change. */
StreamInfo *
stream_lookup(const char *name)
{
	return catalog_name_cache_lookup(&stream_cache, sizeof(StreamInfo), name, stream_load);
}

void
stream_arg(FunctionCallInfo fcinfo, int argno, char *out)
{
	args_name_arg(fcinfo, argno, "stream", "stream", out);
}

/*
 * A stream by (validated) name: 42704 if none, 42501 unless the current
 * role holds privs on it (0: no check; inside a catalog context the caller
 * checks, as the current role is then the extension owner).
 */
StreamInfo *
stream_open(const char *name, int privs)
{
	StreamInfo *s = stream_lookup(name);

	if (s == NULL)
		catalog_report_missing("stream", "s", name);
	if (privs != 0)
		perms_require(&s->perms, GetUserId(), privs, 's', name);
	return s;
}

/* ---------------------------------------------------------------------
 * DDL
 * ---------------------------------------------------------------------
 */

/* Create segment seg of stream id (catalog row and table). */
void
stream_create_segment(int32 id, int32 seg)
{
	char		sql[1024];
	Datum		args[2];
	Oid			types[2] = {INT4OID, INT4OID};

	args[0] = Int32GetDatum(id);
	args[1] = Int32GetDatum(seg);
	catalog_exec("INSERT INTO mq.stream_segments (stream, seg) VALUES ($1, $2)",
				 2, types, args, NULL);
	snprintf(sql, sizeof(sql),
			 "CREATE TABLE mq.s_%d_%d ("
			 " partition pg_catalog.int4 NOT NULL,"
			 " position pg_catalog.int8 NOT NULL,"
			 " key pg_catalog.text COLLATE \"C\","
			 " body pg_catalog.jsonb NOT NULL,"
			 " headers pg_catalog.jsonb,"
			 " appended_at pg_catalog.timestamptz NOT NULL,"
			 " CONSTRAINT s_%d_%d_pkey PRIMARY KEY (partition, position))",
			 id, seg, id, seg);
	catalog_ddl(sql);
}

/* ---------------------------------------------------------------------
 * Appending
 * ---------------------------------------------------------------------
 */

/* Open the newest segment of stream name for appending. */
static void
appender_open_segment(const char *name, Appender *a)
{
	for (;;)
	{
		StreamInfo *s = stream_open(name, PRIV_SEND);
		Segment    *g;

		if (s->nsegments == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("storage of stream \"%s\" is missing", name),
					 errhint("The tables were dropped outside the queue functions; drop the stream and create it again.")));
		g = &s->segments[s->nsegments - 1];
		a->seg = try_table_open(g->relid, RowExclusiveLock);
		if (a->seg == NULL)
		{
			/* Dropped meanwhile: look again. */
			catalog_invalidate_all();
			continue;
		}
		/* Locking may have let a change in; the cache entry may be reloaded. */
		s = stream_lookup(name);
		if (s == NULL || s->nsegments == 0 ||
			s->segments[s->nsegments - 1].relid != RelationGetRelid(a->seg))
		{
			table_close(a->seg, NoLock);
			continue;
		}
		a->info = s;
		a->segno = s->segments[s->nsegments - 1].seg;
		a->pk = index_open(s->segments[s->nsegments - 1].pkid, RowExclusiveLock);
		break;
	}
	a->pkinfo = BuildIndexInfo(a->pk);
}

/* A newer segment exists: append there from now on. */
static void
appender_next_segment(Appender *a)
{
	char		name[QUEUE_NAME_MAXLEN + 1];

	strlcpy(name, a->info->name, sizeof(name));
	index_close(a->pk, NoLock);
	table_close(a->seg, NoLock);
	catalog_invalidate_all();
	AcceptInvalidationMessages();
	appender_open_segment(name, a);
}

void
stream_appender_open(const char *name, const char *fname, Appender *a)
{
	PreventCommandIfReadOnly(fname);
	appender_open_segment(name, a);
	dedup_init(&a->keys, a->info->keysid, a->info->keys_pkid, &a->info->dedup_window);
}

/*
 * Close the segment, keeping its lock until the transaction ends: the
 * worker seals (and later may drop) a segment only once no transaction
 * that appended to it is still open, which it learns from that lock.
 */
void
stream_appender_close(Appender *a)
{
	dedup_close(&a->keys);
	index_close(a->pk, NoLock);
	table_close(a->seg, NoLock);
}

/*
 * The next position of a partition after a restart: one past the highest
 * committed position in any segment, or past what retention removed
 * (arg: the StreamInfo).
 */
int64
stream_next_from_storage(void *arg, int32 partition)
{
	StreamInfo *s = (StreamInfo *) arg;
	int64		next = stream_floor(s, partition);
	int			i;

	for (i = s->nsegments - 1; i >= 0; i--)
	{
		Relation	heap = try_table_open(s->segments[i].relid, AccessShareLock);
		Relation	pk;
		IndexScanDesc scan;
		TupleTableSlot *slot;
		ScanKeyData skey;
		bool		found = false;

		if (heap == NULL)
			continue;
		pk = index_open(s->segments[i].pkid, AccessShareLock);
		ScanKeyInit(&skey, 1, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(partition));
		slot = table_slot_create(heap, NULL);
		scan = compat_index_beginscan(heap, pk, SnapshotSelf, 1, 0);
		index_rescan(scan, &skey, 1, NULL, 0);
		if (index_getnext_slot(scan, BackwardScanDirection, slot))
		{
			bool		isnull;

			next = Max(next, DatumGetInt64(slot_getattr(slot, Anum_rec_position, &isnull)) + 1);
			found = true;
		}
		index_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
		index_close(pk, AccessShareLock);
		table_close(heap, AccessShareLock);
		if (found)
			break;
	}
	return next;
}

/*
 * The lowest position a partition may hand out: one past the records that
 * retention removed (they are in no segment any more).
 */
int64
stream_floor(StreamInfo *s, int32 partition)
{
	CatalogContext cxt;
	Datum		args[2];
	Oid			types[2] = {INT4OID, INT4OID};
	int64		floor = 0;

	args[0] = Int32GetDatum(s->id);
	args[1] = Int32GetDatum(partition);
	catalog_enter(&cxt);
	catalog_exec("SELECT next_position FROM mq.stream_floors"
				 " WHERE stream OPERATOR(pg_catalog.=) $1 AND partition OPERATOR(pg_catalog.=) $2",
				 2, types, args, NULL);
	if (SPI_processed == 1)
	{
		bool		isnull;

		floor = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	catalog_leave(&cxt);
	return floor;
}

/*
 * mq_purge of a stream: delete every committed record of every partition,
 * and return how many went.  Positions continue: each partition's floor
 * (mq.stream_floors) is raised to its next position first, so that a
 * counter rebuilt from storage after a restart does not start below the
 * records that are gone.  Consumer groups read on from the first record
 * left.  The rows are deleted (vacuum reclaims them) under ROW EXCLUSIVE
 * locks, so appends and reads go on meanwhile; an append that commits
 * after the purge ran keeps its record.  Each segment is locked before it
 * is emptied, and one that retention dropped meanwhile is passed over
 * (retention drops only segments it can lock at once).  In the caller's
 * catalog context.
 */
int64
stream_purge(StreamInfo *s)
{
	Datum		args[3];
	Oid			types[3] = {INT4OID, INT4OID, INT8OID};
	int32	   *segs;
	uint64		nsegs;
	uint64		i;
	int32		p;
	int64		purged = 0;

	args[0] = Int32GetDatum(s->id);
	for (p = 0; p < s->partitions; p++)
	{
		(void) position_stable_end(s->ident, p, stream_next_from_storage, s);
		args[1] = Int32GetDatum(p);
		args[2] = Int64GetDatum(position_next(s->ident, p));
		catalog_exec("INSERT INTO mq.stream_floors AS f (stream, partition, next_position)"
					 " VALUES ($1, $2, $3)"
					 " ON CONFLICT (stream, partition) DO UPDATE"
					 " SET next_position = pg_catalog.int8larger(f.next_position, excluded.next_position)",
					 3, types, args, NULL);
	}
	catalog_exec("SELECT seg FROM mq.stream_segments WHERE stream OPERATOR(pg_catalog.=) $1"
				 " ORDER BY seg", 1, types, args, NULL);
	nsegs = SPI_processed;
	segs = palloc(sizeof(int32) * Max(nsegs, 1));
	for (i = 0; i < nsegs; i++)
	{
		bool		isnull;

		segs[i] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
	}
	for (i = 0; i < nsegs; i++)
	{
		char		suffix[16];
		char		sql[128];
		Oid			relid;

		snprintf(suffix, sizeof(suffix), "_%d", segs[i]);
		relid = catalog_storage_oid('s', s->id, suffix, true);
		if (!OidIsValid(relid))
			continue;
		LockRelationOid(relid, RowExclusiveLock);
		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
			continue;			/* dropped by retention before we locked it */
		snprintf(sql, sizeof(sql), "DELETE FROM mq.s_%d_%d", s->id, segs[i]);
		catalog_exec(sql, 0, NULL, NULL, NULL);
		purged += SPI_processed;
	}
	return purged;
}

static int64
encode_record(int32 partition, int64 position)
{
	return ((int64) partition << KEY_POSITION_BITS) | position;
}

static void
decode_record(int64 id, int32 *partition, int64 *position)
{
	*partition = (int32) (id >> KEY_POSITION_BITS);
	*position = id & ((INT64CONST(1) << KEY_POSITION_BITS) - 1);
}

/* One result row of an append (none wanted: rsinfo NULL). */
static void
put_position(ReturnSetInfo *rsinfo, int32 partition, int64 position)
{
	Datum		values[2];
	bool		nulls[2] = {false, false};

	if (rsinfo == NULL)
		return;
	values[0] = Int32GetDatum(partition);
	values[1] = Int64GetDatum(position);
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * Append records: for each, a partition (from keys[i]), a position, and the
 * row; duplicates of an idempotency key within the window append nothing
 * and return the first record.  The results go to rsinfo (if not NULL) in
 * input order.
 */
void
stream_append_records(Appender *a, ReturnSetInfo *rsinfo, int n, Datum *bodies,
			   Datum *keys, bool *knulls, Datum *headers, bool *hnulls,
			   Datum *ikeys, bool *iknulls)
{
	StreamInfo *s = a->info;
	Oid			ident = s->ident;
	QueueState *qs = qstate_get(ident);
	TimestampTz now = GetCurrentTimestamp();
	CommandId	cid = GetCurrentCommandId(true);
	int64		appended = 0;
	int			i;

	dedup_lock_batch(&a->keys, ikeys, iknulls, n);
	for (i = 0; i < n; i++)
	{
		text	   *key = (keys && !knulls[i]) ? DatumGetTextPP(keys[i]) : NULL;
		text	   *ikey = (ikeys && !iknulls[i]) ? DatumGetTextPP(ikeys[i]) : NULL;
		ItemPointerData stale;
		int32		partition;
		int64		position;
		Datum		values[Natts_rec];
		bool		nulls[Natts_rec] = {0};
		HeapTuple	tup;

		if (ikey != NULL)
		{
			bool		found;
			int64		id = dedup_lookup(&a->keys, ikey, now, &stale, &found);

			if (found)
			{
				decode_record(id, &partition, &position);
				put_position(rsinfo, partition, position);
				continue;
			}
		}
		partition = partition_for(s, key);
		while ((position = position_take(ident, partition, 1, stream_next_from_storage, s,
										 qs, a->segno)) < 0)
			appender_next_segment(a);
		if (position >= (INT64CONST(1) << KEY_POSITION_BITS))
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("partition %d of stream \"%s\" is out of positions", partition, s->name)));

		values[Anum_rec_partition - 1] = Int32GetDatum(partition);
		values[Anum_rec_position - 1] = Int64GetDatum(position);
		values[Anum_rec_appended_at - 1] = TimestampTzGetDatum(now);
		values[Anum_rec_key - 1] = key ? PointerGetDatum(key) : (Datum) 0;
		nulls[Anum_rec_key - 1] = (key == NULL);
		values[Anum_rec_headers - 1] = (headers && !hnulls[i]) ? headers[i] : (Datum) 0;
		nulls[Anum_rec_headers - 1] = !(headers && !hnulls[i]);
		values[Anum_rec_body - 1] = bodies[i];
		tup = heap_form_tuple(RelationGetDescr(a->seg), values, nulls);
		heap_insert(a->seg, tup, cid, 0, NULL);
		{
			Datum		ivalues[2];
			bool		inulls[2] = {false, false};

			ivalues[0] = values[0];
			ivalues[1] = values[1];
			index_insert(a->pk, ivalues, inulls, &tup->t_self, a->seg,
						 UNIQUE_CHECK_YES, false, a->pkinfo);
		}
		heap_freetuple(tup);
		if (ikey != NULL)
			dedup_record(&a->keys, ikey, encode_record(partition, position), now, &stale);
		put_position(rsinfo, partition, position);
		appended++;
		if ((i & 1023) == 1023)
			CHECK_FOR_INTERRUPTS();
	}
	if (appended > 0)
	{
		pending_count(ident, STAT_APPENDED, appended);
		pending_reserve(1);
		pending_add(PENDING_APPEND, ident, 0, 0);
	}
}

/* ---------------------------------------------------------------------
 * Reading
 * ---------------------------------------------------------------------
 */

/*
 * Call fn for the committed records of a partition from position from on,
 * in position order, below the stable end, until fn returns false.
 * Returns the number of records passed to fn.
 */
int64
stream_scan_partition(StreamInfo *s, int32 partition, int64 from, RecordFn fn, void *arg)
{
	int64		end = position_stable_end(s->ident, partition, stream_next_from_storage, s);
	int64		n = 0;
	bool		more = true;
	int			i;

	/* The stable end is read first; every scan below starts after it. */
	for (i = 0; i < s->nsegments && more; i++)
	{
		Relation	heap = try_table_open(s->segments[i].relid, AccessShareLock);
		Relation	pk;
		IndexScanDesc scan;
		TupleTableSlot *slot;
		ScanKeyData skey[2];

		if (heap == NULL)
			continue;			/* removed by retention meanwhile */
		pk = index_open(s->segments[i].pkid, AccessShareLock);
		ScanKeyInit(&skey[0], 1, BTEqualStrategyNumber, F_INT4EQ, Int32GetDatum(partition));
		ScanKeyInit(&skey[1], 2, BTGreaterEqualStrategyNumber, F_INT8GE, Int64GetDatum(from));
		slot = table_slot_create(heap, NULL);
		scan = compat_index_beginscan(heap, pk, SnapshotSelf, 2, 0);
		index_rescan(scan, skey, 2, NULL, 0);
		while (more && index_getnext_slot(scan, ForwardScanDirection, slot))
		{
			bool		isnull;
			int64		position = DatumGetInt64(slot_getattr(slot, Anum_rec_position, &isnull));

			if (position >= end)
			{
				more = false;
				break;
			}
			n++;
			more = fn(arg, slot);
			from = position + 1;
		}
		index_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
		index_close(pk, AccessShareLock);
		table_close(heap, AccessShareLock);
	}
	return n;
}

/*
 * Where the records a read returns are kept until the executor has sent
 * them: a tuplestore in a memory context that lives as long as the backend
 * and is emptied when the last query reading from it ends.  A tuplestore in
 * the query's own memory would take fresh blocks from malloc on every call,
 * and the kernel faults a thousand records' worth of new pages in each time
 * (about a quarter of a read's cost before sending); the first block of
 * this context (RESULT_KEEP) is kept across calls, so its pages are touched
 * once.
 *
 * Queries can nest (a function reading a stream inside a query that is
 * still sending another read's records), so the context is emptied only
 * when every query that put records in it has ended: each registers a
 * callback on its own memory, which runs at its end, error or not.
 */
#define RESULT_KEEP (1024 * 1024)

static MemoryContext result_cxt = NULL;
static int	result_users = 0;

static void
result_release(void *arg)
{
	Assert(result_users > 0);
	if (--result_users == 0)
		MemoryContextReset(result_cxt);
}

void
stream_init_result(FunctionCallInfo fcinfo)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext query;
	MemoryContext old;
	MemoryContextCallback *cb;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		(rsinfo->allowedModes & SFRM_Materialize) == 0 || rsinfo->expectedDesc == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	query = rsinfo->econtext->ecxt_per_query_memory;
	if (result_cxt == NULL)
		result_cxt = AllocSetContextCreate(TopMemoryContext, "queue stream results",
										   RESULT_KEEP, RESULT_KEEP, ALLOCSET_DEFAULT_MAXSIZE);
	cb = MemoryContextAlloc(query, sizeof(MemoryContextCallback));
	cb->func = result_release;
	cb->arg = NULL;
	MemoryContextRegisterResetCallback(query, cb);
	result_users++;

	old = MemoryContextSwitchTo(result_cxt);
	rsinfo->setResult = tuplestore_begin_heap((rsinfo->allowedModes & SFRM_Materialize_Random) != 0,
											  false, work_mem);
	MemoryContextSwitchTo(query);
	rsinfo->setDesc = CreateTupleDescCopy(rsinfo->expectedDesc);
	rsinfo->returnMode = SFRM_Materialize;
	MemoryContextSwitchTo(old);
}

bool
stream_put_record(void *arg, TupleTableSlot *slot)
{
	ReadState  *rs = (ReadState *) arg;
	bool		isnull;
	HeapTuple	tuple = ExecFetchSlotHeapTuple(slot, false, NULL);

	rs->last = DatumGetInt64(slot_getattr(slot, Anum_rec_position, &isnull));
	if (!HeapTupleHasExternal(tuple))
		tuplestore_puttupleslot(rs->rsinfo->setResult, slot);
	else
	{
		/* Fetch out-of-line values: the segment may be gone before they are sent. */
		Datum		values[Natts_rec];
		bool		nulls[Natts_rec];
		int			i;

		slot_getallattrs(slot);
		for (i = 0; i < Natts_rec; i++)
		{
			nulls[i] = slot->tts_isnull[i];
			values[i] = nulls[i] || TupleDescAttr(slot->tts_tupleDescriptor, i)->attlen != -1 ?
				slot->tts_values[i] : storage_detoast(slot->tts_values[i]);
		}
		tuplestore_putvalues(rs->rsinfo->setResult, rs->rsinfo->setDesc, values, nulls);
	}
	return ++rs->got < rs->max;
}

/* Streams are read on the primary only: in-flight appends are unknown elsewhere. */
void
stream_prevent_read_during_recovery(const char *fname)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot execute %s during recovery", fname),
				 errdetail("A standby does not know which appends are still in progress on the primary.")));
}

int32
stream_partition_arg(FunctionCallInfo fcinfo, int argno, const StreamInfo *s)
{
	int32		p;

	args_not_null(fcinfo, argno, "partition");
	p = PG_GETARG_INT32(argno);
	if (p < 0 || p >= s->partitions)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("partition must be between 0 and %d", s->partitions - 1),
				 errdetail("Stream \"%s\" has %d partitions; the value given was %d.",
						   s->name, s->partitions, p)));
	return p;
}

