/*-------------------------------------------------------------------------
 *
 * retention.c
 *	  Stream segments: rotation, sealing and retention (background worker).
 *
 * Every round the worker, for each stream, in one short transaction that
 * holds the DDL lock (taken only if free at once, else the stream waits for
 * the next round):
 *
 *	  1. makes the newest segment of the catalog known to appends
 *		 (qstate_segment_check): from then on positions are handed out for
 *		 it only, so every position of a segment is below those of the next;
 *	  2. rotates: when the newest segment has reached queue.segment_size,
 *		 or (with max_age) an eighth of max_age has passed since it was
 *		 created and it holds something, a new segment is created;
 *	  3. seals the segments older than the one appends go to, once no
 *		 transaction still holds them open for appending (a conditional
 *		 SHARE lock): it reads each once and records, per partition, its
 *		 records, highest position, latest append time and bytes;
 *	  4. enforces retention on the sealed segments, oldest first: a segment
 *		 goes when, for every partition in it, all its records are beyond
 *		 max_age (appended before now - max_age), or beyond max_messages
 *		 (max_messages newer positions exist), or beyond max_bytes (the
 *		 newer sealed segments hold max_bytes of that partition).  The table
 *		 is dropped (a conditional ACCESS EXCLUSIVE lock: a reader in the
 *		 middle of a scan makes it wait for the next round), after the
 *		 partition floors have been raised past its positions.
 *
 * So records are never deleted row by row, a record goes no earlier than
 * when it is beyond a limit, and no later than when its whole segment is.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/detoast.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "compat.h"
#include "dedup.h"
#include "position.h"
#include "qstate.h"
#include "retention.h"
#include "stream.h"
#include "util.h"

/* The size at which the newest segment is rotated (kB, queue.segment_size). */
int			queue_segment_size = 65536;

typedef struct SegRow
{
	int32		seg;
	Oid			relid;
	TimestampTz created_at;
	bool		sealed;
} SegRow;

typedef struct PartFigures
{
	int64		records;
	int64		max_position;
	TimestampTz max_appended_at;
	int64		bytes;
} PartFigures;

/* The segments of a stream from the catalog, oldest first (palloc'd). */
static SegRow *
load_segments(StreamInfo *s, int *n)
{
	Datum		arg = Int32GetDatum(s->id);
	Oid			type = INT4OID;
	SegRow	   *rows;
	uint64		i;

	catalog_exec("SELECT seg, created_at, sealed FROM mq.stream_segments"
				 " WHERE stream OPERATOR(pg_catalog.=) $1 ORDER BY seg", 1, &type, &arg, NULL);
	rows = palloc(sizeof(SegRow) * Max(SPI_processed, 1));
	*n = 0;
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		char		suffix[32];
		SegRow	   *r = &rows[*n];

		r->seg = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		r->created_at = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		r->sealed = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull));
		snprintf(suffix, sizeof(suffix), "_%d", r->seg);
		r->relid = catalog_storage_oid('s', s->id, suffix, true);
		if (OidIsValid(r->relid))
			(*n)++;
	}
	return rows;
}

static bool
should_rotate(StreamInfo *s, SegRow *newest, TimestampTz now)
{
	Relation	rel = try_table_open(newest->relid, AccessShareLock);
	BlockNumber blocks;

	if (rel == NULL)
		return false;
	blocks = RelationGetNumberOfBlocks(rel);
	table_close(rel, AccessShareLock);
	if ((int64) blocks * BLCKSZ >= (int64) queue_segment_size * 1024)
		return true;
	if (s->has_max_age && blocks > 0)
	{
		Interval	eighth = s->max_age;
		TimestampTz due;

		eighth.month /= 8;
		eighth.day /= 8;
		eighth.time /= 8;
		due = util_timestamp_plus_interval(newest->created_at, &eighth);
		due = Max(due, newest->created_at + USECS_PER_SEC);
		return now >= due;
	}
	return false;
}

/* Read a segment no one appends to any more and record its figures. */
static void
seal(StreamInfo *s, SegRow *r)
{
	Relation	rel;
	TableScanDesc scan;
	TupleTableSlot *slot;
	PartFigures *f = palloc0(sizeof(PartFigures) * s->partitions);
	int32		p;

	rel = table_open(r->relid, NoLock);
	slot = table_slot_create(rel, NULL);
	scan = compat_table_beginscan(rel, SnapshotSelf, 0, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		int			i;
		int64		bytes = 0;

		slot_getallattrs(slot);
		p = DatumGetInt32(slot->tts_values[Anum_rec_partition - 1]);
		if (p < 0 || p >= s->partitions)
			continue;
		for (i = 0; i < slot->tts_tupleDescriptor->natts; i++)
			if (!slot->tts_isnull[i])
			{
				Form_pg_attribute att = TupleDescAttr(slot->tts_tupleDescriptor, i);

				bytes += att->attlen > 0 ? att->attlen : toast_datum_size(slot->tts_values[i]);
			}
		f[p].records++;
		f[p].max_position = Max(f[p].max_position, DatumGetInt64(slot->tts_values[Anum_rec_position - 1]));
		f[p].max_appended_at = Max(f[p].max_appended_at, DatumGetTimestampTz(slot->tts_values[Anum_rec_appended_at - 1]));
		f[p].bytes += bytes;
		CHECK_FOR_INTERRUPTS();
	}
	table_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);

	for (p = 0; p < s->partitions; p++)
	{
		Datum		args[7];
		Oid			types[7] = {INT4OID, INT4OID, INT4OID, INT8OID, INT8OID, TIMESTAMPTZOID, INT8OID};

		if (f[p].records == 0)
			continue;
		args[0] = Int32GetDatum(s->id);
		args[1] = Int32GetDatum(r->seg);
		args[2] = Int32GetDatum(p);
		args[3] = Int64GetDatum(f[p].records);
		args[4] = Int64GetDatum(f[p].max_position);
		args[5] = TimestampTzGetDatum(f[p].max_appended_at);
		args[6] = Int64GetDatum(f[p].bytes);
		catalog_exec("INSERT INTO mq.segment_partitions (stream, seg, partition, records,"
					 " max_position, max_appended_at, bytes) VALUES ($1, $2, $3, $4, $5, $6, $7)",
					 7, types, args, NULL);
	}
	{
		Datum		args[2];
		Oid			types[2] = {INT4OID, INT4OID};

		args[0] = Int32GetDatum(s->id);
		args[1] = Int32GetDatum(r->seg);
		catalog_exec("UPDATE mq.stream_segments SET sealed = true"
					 " WHERE stream OPERATOR(pg_catalog.=) $1 AND seg OPERATOR(pg_catalog.=) $2",
					 2, types, args, NULL);
	}
	r->sealed = true;
}

/*
 * Is every record of sealed segment r beyond a retention limit?  newer:
 * the bytes per partition of the sealed segments after it.
 */
static bool
expired(StreamInfo *s, SegRow *r, const int64 *newer, TimestampTz now)
{
	Datum		args[2];
	Oid			types[2] = {INT4OID, INT4OID};
	uint64		i;

	args[0] = Int32GetDatum(s->id);
	args[1] = Int32GetDatum(r->seg);
	catalog_exec("SELECT partition, max_position, max_appended_at FROM mq.segment_partitions"
				 " WHERE stream OPERATOR(pg_catalog.=) $1 AND seg OPERATOR(pg_catalog.=) $2",
				 2, types, args, NULL);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int32		p = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		int64		maxpos = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		TimestampTz at = DatumGetTimestampTz(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull));
		bool		gone = false;

		if (p < 0 || p >= s->partitions)
			continue;
		if (s->has_max_age && util_timestamp_plus_interval(at, &s->max_age) < now)
			gone = true;
		if (!gone && s->max_messages > 0)
		{
			int64		next = position_next(s->ident, p);

			if (next < 0)
				next = maxpos + 1;	/* unknown here: nothing newer is counted */
			gone = next - (maxpos + 1) >= s->max_messages;
		}
		if (!gone && s->max_bytes > 0)
			gone = newer[p] >= s->max_bytes;
		if (!gone)
			return false;
	}
	return true;
}

/* Drop a sealed segment whose records are all beyond retention. */
static bool
drop_segment(StreamInfo *s, SegRow *r)
{
	Datum		args[2];
	Oid			types[2] = {INT4OID, INT4OID};
	char		sql[128];

	if (!ConditionalLockRelationOid(r->relid, AccessExclusiveLock))
		return false;
	args[0] = Int32GetDatum(s->id);
	args[1] = Int32GetDatum(r->seg);
	catalog_exec("INSERT INTO mq.stream_floors AS f (stream, partition, next_position)"
				 " SELECT stream, partition, max_position OPERATOR(pg_catalog.+) 1"
				 "   FROM mq.segment_partitions"
				 "  WHERE stream OPERATOR(pg_catalog.=) $1 AND seg OPERATOR(pg_catalog.=) $2"
				 " ON CONFLICT (stream, partition) DO UPDATE"
				 " SET next_position = pg_catalog.int8larger(f.next_position, excluded.next_position)",
				 2, types, args, NULL);
	catalog_exec("DELETE FROM mq.stream_segments"
				 " WHERE stream OPERATOR(pg_catalog.=) $1 AND seg OPERATOR(pg_catalog.=) $2",
				 2, types, args, NULL);
	snprintf(sql, sizeof(sql), "DROP TABLE mq.s_%d_%d", s->id, r->seg);
	catalog_ddl(sql);
	return true;
}

/*
 * One round of maintenance for a stream (in the caller's transaction).
 * Returns the number of segments dropped.
 */
int64
retention_maintain(const char *name)
{
	StreamInfo *s = stream_lookup(name);
	CatalogContext cxt;
	QueueState *qs;
	SegRow	   *rows;
	int			n;
	int			i;
	int32		current;
	TimestampTz now = GetCurrentTimestamp();
	int64		dropped = 0;
	bool		changed = false;

	if (s == NULL || s->nsegments == 0)
		return 0;
	qs = qstate_get(s->ident);
	/* 1. Appends go to the newest committed segment from now on. */
	(void) qstate_segment_check(qs, s->segments[s->nsegments - 1].seg);
	current = qstate_segment(qs);

	catalog_enter(&cxt);
	/*
	 * Under the DDL lock: a stream being dropped or altered meanwhile would
	 * otherwise wait for our segment locks while we wait for its rows.
	 */
	if (!catalog_try_lock())
	{
		catalog_leave(&cxt);
		return 0;
	}
	rows = load_segments(s, &n);
	if (n == 0)
	{
		catalog_leave(&cxt);
		return 0;
	}

	/* 2. Rotation. */
	if (rows[n - 1].seg == current && should_rotate(s, &rows[n - 1], now))
	{
		stream_create_segment(s->id, rows[n - 1].seg + 1);
		changed = true;
	}

	/* 3. Sealing what appends no longer go to. */
	for (i = 0; i < n; i++)
		if (!rows[i].sealed && rows[i].seg < current &&
			ConditionalLockRelationOid(rows[i].relid, ShareLock))
			seal(s, &rows[i]);

	/* 4. Retention, oldest first, over sealed segments only. */
	if (s->has_max_age || s->max_bytes > 0 || s->max_messages > 0)
	{
		int			nsealed = 0;
		int64	   *bytes;		/* [segment index][partition] */
		int64	   *newer = palloc0(sizeof(int64) * s->partitions);
		Datum		arg = Int32GetDatum(s->id);
		Oid			type = INT4OID;
		uint64		k;
		int32		p;

		while (nsealed < n && rows[nsealed].sealed)
			nsealed++;
		bytes = palloc0(sizeof(int64) * Max(nsealed, 1) * s->partitions);
		catalog_exec("SELECT seg, partition, bytes FROM mq.segment_partitions"
					 " WHERE stream OPERATOR(pg_catalog.=) $1", 1, &type, &arg, NULL);
		for (k = 0; k < SPI_processed; k++)
		{
			bool		isnull;
			int32		seg = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 1, &isnull));
			int			j;

			p = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 2, &isnull));
			for (j = 0; j < nsealed; j++)
				if (rows[j].seg == seg && p >= 0 && p < s->partitions)
					bytes[j * s->partitions + p] =
						DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[k], SPI_tuptable->tupdesc, 3, &isnull));
		}
		/* newer[p]: bytes of p in the sealed segments after segment i. */
		for (i = 1; i < nsealed; i++)
			for (p = 0; p < s->partitions; p++)
				newer[p] += bytes[i * s->partitions + p];
		for (i = 0; i < nsealed; i++)
		{
			if (!expired(s, &rows[i], newer, now) || !drop_segment(s, &rows[i]))
				break;
			dropped++;
			changed = true;
			if (i + 1 < nsealed)
				for (p = 0; p < s->partitions; p++)
					newer[p] -= bytes[(i + 1) * s->partitions + p];
		}
	}
	if (changed)
		catalog_changed();
	catalog_leave(&cxt);
	return dropped;
}

/* Remove up to max idempotency keys of a stream past their window. */
int64
retention_prune_keys(const char *name, int max)
{
	StreamInfo *s = stream_lookup(name);

	return s == NULL ? 0 :
		dedup_prune_keys(s->keysid, s->keys_pkid, &s->dedup_window, max);
}
