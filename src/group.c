/*-------------------------------------------------------------------------
 *
 * group.c
 *	  Consumer groups of a stream: claims, positions, seek.
 *
 * A group is a set of rows (consumer_group, partition, position) in the
 * stream's table mq.s_<id>_groups, one per partition, position being the
 * next record the group reads there.
 *
 * mq_consume picks a partition with unread records below the stable
 * horizon, starting at a different partition on every call so that none
 * starves, and claims it by locking its row (FOR UPDATE SKIP LOCKED): the
 * claim lasts until the calling transaction ends, and no other member of
 * the group gets that partition meanwhile.  It returns up to max records
 * after the group's position and moves the position past the last one, in
 * the caller's transaction: commit means processed, rollback means they are
 * delivered again.  Each claim is taken in an internal subtransaction, so a
 * partition that turns out to have nothing to read is given up at once (and
 * a waiting consume holds no claim while it sleeps).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"
#include "utils/hsearch.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "args.h"
#include "catalog.h"
#include "horizon.h"
#include "pending.h"
#include "perms.h"
#include "position.h"
#include "qstate.h"
#include "stream.h"
#include "util.h"
#include "wakeup.h"

PG_FUNCTION_INFO_V1(mq_create_group);
PG_FUNCTION_INFO_V1(mq_drop_group);
PG_FUNCTION_INFO_V1(mq_consume);
PG_FUNCTION_INFO_V1(mq_seek_position);
PG_FUNCTION_INFO_V1(mq_seek_time);
PG_FUNCTION_INFO_V1(mq_group_figures);

/* Where consumes start looking, moved on every call. */
static uint32 next_start = 0;

static void
group_arg(FunctionCallInfo fcinfo, int argno, char *out)
{
	args_name_arg(fcinfo, argno, "consumer_group", "consumer group", out);
}

static void
no_group(const char *group, const char *stream)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("consumer group \"%s\" of stream \"%s\" does not exist", group, stream)));
}

/* The end of what a partition can be read up to now (position.c). */
static int64
stable_end(StreamInfo *s, int32 partition)
{
	return position_stable_end(s->ident, partition, stream_next_from_storage, s);
}

/* The first committed record of a partition (its stable end if none). */
static bool
first_record(void *arg, TupleTableSlot *slot)
{
	bool		isnull;

	*(int64 *) arg = DatumGetInt64(slot_getattr(slot, Anum_rec_position, &isnull));
	return false;
}

static int64
first_position(StreamInfo *s, int32 partition)
{
	int64		first = -1;

	(void) stream_scan_partition(s, partition, 0, first_record, &first);
	return first >= 0 ? first : stable_end(s, partition);
}

/* Run catalog SQL on the groups table of stream id: %d in sql is the id. */
static int
groups_exec(StreamInfo *s, const char *sql, int nargs, Oid *types, Datum *values)
{
	char		buf[512];

	snprintf(buf, sizeof(buf), sql, s->id);
	return catalog_exec(buf, nargs, types, values, NULL);
}

/*
 * The statements of every consume, prepared once per stream and backend
 * (a stream's id is never used again, so a kept plan never meets another
 * stream's table).
 */
typedef enum ConsumePlan
{
	PLAN_POSITIONS,
	PLAN_CLAIM,
	PLAN_ADVANCE,
	NUM_CONSUME_PLANS
} ConsumePlan;

typedef struct PlanEntry
{
	int32		stream;			/* hash key */
	SPIPlanPtr	plans[NUM_CONSUME_PLANS];
} PlanEntry;

static HTAB *consume_plans = NULL;

static int
consume_exec(StreamInfo *s, ConsumePlan which, Datum *values)
{
	static const char *const sql[NUM_CONSUME_PLANS] = {
		"SELECT partition, position FROM mq.s_%d_groups"
		" WHERE consumer_group OPERATOR(pg_catalog.=) $1",
		"SELECT position FROM mq.s_%d_groups"
		" WHERE consumer_group OPERATOR(pg_catalog.=) $1 AND partition OPERATOR(pg_catalog.=) $2"
		" FOR UPDATE SKIP LOCKED",
		"UPDATE mq.s_%d_groups SET position = $3"
		" WHERE consumer_group OPERATOR(pg_catalog.=) $1 AND partition OPERATOR(pg_catalog.=) $2",
	};
	static const int nargs[NUM_CONSUME_PLANS] = {1, 2, 3};
	Oid			types[3] = {TEXTOID, INT4OID, INT8OID};
	PlanEntry  *e;
	bool		found;

	if (consume_plans == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(int32);
		ctl.entrysize = sizeof(PlanEntry);
		consume_plans = hash_create("queue consume plans", 16, &ctl, HASH_ELEM | HASH_BLOBS);
	}
	e = hash_search(consume_plans, &s->id, HASH_ENTER, &found);
	if (!found)
		memset(e->plans, 0, sizeof(e->plans));
	if (e->plans[which] == NULL)
	{
		char		buf[512];

		snprintf(buf, sizeof(buf), sql[which], s->id);
		(void) catalog_keep_plan(&e->plans[which], buf, nargs[which], types);
	}
	return catalog_exec_plan(e->plans[which], values, NULL);
}

static bool
group_exists(StreamInfo *s, const char *group)
{
	Datum		arg = CStringGetTextDatum(group);
	Oid			type = TEXTOID;

	groups_exec(s, "SELECT 1 FROM mq.s_%d_groups WHERE consumer_group OPERATOR(pg_catalog.=) $1 LIMIT 1",
				1, &type, &arg);
	return SPI_processed > 0;
}

/* mq_create_group(stream, consumer_group, start, if_not_exists) */
Datum
mq_create_group(PG_FUNCTION_ARGS)
{
	char		name[QUEUE_NAME_MAXLEN + 1];
	char		group[QUEUE_NAME_MAXLEN + 1];
	char	   *start;
	bool		latest;
	CatalogContext cxt;
	StreamInfo *s;
	int32		p;

	PreventCommandIfReadOnly("mq_create_group()");
	stream_arg(fcinfo, 0, name);
	group_arg(fcinfo, 1, group);
	args_not_null(fcinfo, 2, "start");
	start = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (strcmp(start, "earliest") != 0 && strcmp(start, "latest") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("start must be 'earliest' or 'latest'"),
				 errdetail("The value given was \"%s\".", start)));
	latest = strcmp(start, "latest") == 0;
	args_not_null(fcinfo, 3, "if_not_exists");

	catalog_enter(&cxt);
	catalog_lock();
	s = stream_open(name, 0);
	perms_require(&s->perms, cxt.save_userid, PRIV_READ, 's', name);
	if (group_exists(s, group))
	{
		catalog_leave(&cxt);
		if (!PG_GETARG_BOOL(3))
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("consumer group \"%s\" of stream \"%s\" already exists", group, name)));
		ereport(NOTICE,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("consumer group \"%s\" of stream \"%s\" already exists, skipping", group, name)));
		PG_RETURN_VOID();
	}
	if (latest)
		stream_prevent_read_during_recovery("mq_create_group()");
	for (p = 0; p < s->partitions; p++)
	{
		Datum		args[3];
		Oid			types[3] = {TEXTOID, INT4OID, INT8OID};

		args[0] = CStringGetTextDatum(group);
		args[1] = Int32GetDatum(p);
		args[2] = Int64GetDatum(latest ? stable_end(s, p) : 0);
		groups_exec(s, "INSERT INTO mq.s_%d_groups (consumer_group, partition, position)"
					" VALUES ($1, $2, $3)", 3, types, args);
	}
	catalog_leave(&cxt);
	PG_RETURN_VOID();
}

/* mq_drop_group(stream, consumer_group, if_exists) -> boolean */
Datum
mq_drop_group(PG_FUNCTION_ARGS)
{
	char		name[QUEUE_NAME_MAXLEN + 1];
	char		group[QUEUE_NAME_MAXLEN + 1];
	CatalogContext cxt;
	StreamInfo *s;
	Datum		arg;
	Oid			type = TEXTOID;
	bool		deleted;

	PreventCommandIfReadOnly("mq_drop_group()");
	stream_arg(fcinfo, 0, name);
	group_arg(fcinfo, 1, group);
	args_not_null(fcinfo, 2, "if_exists");

	catalog_enter(&cxt);
	catalog_lock();
	s = stream_open(name, 0);
	perms_require(&s->perms, cxt.save_userid, PRIV_MANAGE, 's', name);
	arg = CStringGetTextDatum(group);
	deleted = groups_exec(s, "DELETE FROM mq.s_%d_groups WHERE consumer_group OPERATOR(pg_catalog.=) $1",
						  1, &type, &arg) > 0 && SPI_processed > 0;
	catalog_leave(&cxt);
	if (!deleted)
	{
		if (!PG_GETARG_BOOL(2))
			no_group(group, name);
		ereport(NOTICE,
				(errmsg("consumer group \"%s\" of stream \"%s\" does not exist, skipping",
						group, name)));
		PG_RETURN_BOOL(false);
	}
	PG_RETURN_BOOL(true);
}

/*
 * The group's positions, one per partition, allocated where the caller was
 * before catalog_enter(); NULL if there is no such group.  Called between
 * catalog_enter() and catalog_leave().
 */
static int64 *
group_positions(StreamInfo *s, const char *group)
{
	Datum		arg = CStringGetTextDatum(group);
	int64	   *positions;
	uint64		i;

	consume_exec(s, PLAN_POSITIONS, &arg);
	if (SPI_processed == 0)
		return NULL;
	positions = SPI_palloc(sizeof(int64) * s->partitions);
	for (i = 0; i < s->partitions; i++)
		positions[i] = 0;
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int32		p = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		int64		pos = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));

		if (p >= 0 && p < s->partitions)
			positions[p] = pos;
	}
	return positions;
}

/*
 * Try to claim partition p of the group and read from it, in an internal
 * subtransaction: kept (with the claim and the new position) if records
 * were read, given up otherwise.  Returns how many were read.  Called
 * between catalog_enter() and catalog_leave().
 */
static int
consume_partition(StreamInfo *s, const char *group, int32 p, ReadState *rs)
{
	MemoryContext spi = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	Datum		args[3];
	int64		from = -1;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(spi);

	args[0] = CStringGetTextDatum(group);
	args[1] = Int32GetDatum(p);
	consume_exec(s, PLAN_CLAIM, args);
	if (SPI_processed == 1)
	{
		bool		isnull;

		from = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	rs->got = 0;
	if (from >= 0)
	{
		(void) stream_scan_partition(s, p, from, stream_put_record, rs);
		if (rs->got > 0)
		{
			args[2] = Int64GetDatum(rs->last + 1);
			consume_exec(s, PLAN_ADVANCE, args);
		}
	}

	if (rs->got > 0)
		ReleaseCurrentSubTransaction();
	else
		RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(spi);
	CurrentResourceOwner = owner;
	return rs->got;
}

/* One look at every partition of the group; records read, or 0. */
static int
consume_once(StreamInfo *s, const char *group, ReadState *rs)
{
	CatalogContext cxt;
	int64	   *positions;
	uint32		start = next_start++;
	int32		k;
	int			got = 0;

	catalog_enter(&cxt);
	positions = group_positions(s, group);
	if (positions == NULL)
		no_group(group, s->name);
	for (k = 0; k < s->partitions && got == 0; k++)
	{
		int32		p = (int32) ((start + (uint32) k) % (uint32) s->partitions);
		int64		end = stable_end(s, p);

		/*
		 * Nothing to read there: skip it without trying to claim it.  (A
		 * claim locks the group's row, which takes a transaction ID, and a
		 * long poll that then sleeps would hold the horizon back with it.)
		 */
		if (positions[p] >= end)
			continue;
		got = consume_partition(s, group, p, rs);
	}
	catalog_leave(&cxt);
	if (got > 0)
	{
		pending_count(s->ident, STAT_CONSUMED, got);
		pending_reserve(1);
		pending_add(PENDING_CONSUME, s->ident, 0, 0);
	}
	return got;
}

/* mq_consume(stream, consumer_group, max, wait) -> SETOF mq_record */
Datum
mq_consume(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char		name[QUEUE_NAME_MAXLEN + 1];
	char		group[QUEUE_NAME_MAXLEN + 1];
	int64		wait;
	TimestampTz deadline = 0;
	QueueState *qs = NULL;
	bool		release_horizon = false;
	ReadState	rs;

	stream_init_result(fcinfo);
	stream_arg(fcinfo, 0, name);
	group_arg(fcinfo, 1, group);
	rs.max = args_int_range(fcinfo, 2, "max", 1, QUEUE_QTY_MAX);
	wait = args_wait(fcinfo, 3);
	if (wait > 0 && IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a waiting mq_consume needs READ COMMITTED isolation"),
				 errhint("Consume with wait => '0', or use READ COMMITTED.")));
	PreventCommandIfReadOnly("mq_consume()");
	stream_prevent_read_during_recovery("mq_consume()");
	rs.rsinfo = rsinfo;
	rs.got = 0;
	rs.last = -1;

	if (wait > 0)
	{
		deadline = GetCurrentTimestamp() + wait;
		release_horizon = horizon_call_stands_alone(fcinfo);
	}
	for (;;)
	{
		StreamInfo *s = stream_open(name, PRIV_READ);
		TimestampTz now;

		/* Register before looking, so that no commit goes unnoticed. */
		if (wait > 0)
		{
			qs = qstate_get(s->ident);
			wakeup_register(qs, s->ident);
		}
		if (consume_once(s, group, &rs) > 0 || wait == 0)
			break;
		now = GetCurrentTimestamp();
		if (now >= deadline)
			break;
		wakeup_sleep(Max((long) ((deadline - now + 999) / 1000), 1), release_horizon);
	}
	if (qs != NULL)
		wakeup_unregister();
	return (Datum) 0;
}

/*
 * Move a group's position in one partition (clamped to what is retained);
 * false if the group has no such row.
 */
static bool
seek_partition(StreamInfo *s, const char *group, int32 p, int64 to)
{
	Datum		args[3];
	int64		first = first_position(s, p);
	int64		end = stable_end(s, p);

	to = Max(to, first);
	to = Min(to, Max(end, first));
	args[0] = CStringGetTextDatum(group);
	args[1] = Int32GetDatum(p);
	args[2] = Int64GetDatum(to);
	consume_exec(s, PLAN_ADVANCE, args);
	return SPI_processed > 0;
}

/* mq_seek(stream, consumer_group, partition, to_position) */
Datum
mq_seek_position(PG_FUNCTION_ARGS)
{
	char		name[QUEUE_NAME_MAXLEN + 1];
	char		group[QUEUE_NAME_MAXLEN + 1];
	CatalogContext cxt;
	StreamInfo *s;
	int32		p;
	bool		found;

	PreventCommandIfReadOnly("mq_seek()");
	stream_prevent_read_during_recovery("mq_seek()");
	stream_arg(fcinfo, 0, name);
	group_arg(fcinfo, 1, group);
	args_not_null(fcinfo, 3, "to_position");
	s = stream_open(name, PRIV_MANAGE);
	p = stream_partition_arg(fcinfo, 2, s);
	catalog_enter(&cxt);
	found = seek_partition(s, group, p, PG_GETARG_INT64(3));
	catalog_leave(&cxt);
	if (!found)
		no_group(group, name);
	PG_RETURN_VOID();
}

/* The lowest position appended at or after a time. */
typedef struct TimeSeek
{
	TimestampTz at;
	int64		found;
} TimeSeek;

static bool
seek_record(void *arg, TupleTableSlot *slot)
{
	TimeSeek   *t = (TimeSeek *) arg;
	bool		isnull;

	if (DatumGetTimestampTz(slot_getattr(slot, Anum_rec_appended_at, &isnull)) < t->at)
		return true;
	t->found = DatumGetInt64(slot_getattr(slot, Anum_rec_position, &isnull));
	return false;
}

/* mq_seek(stream, consumer_group, at): every partition to its first record at or after at */
Datum
mq_seek_time(PG_FUNCTION_ARGS)
{
	char		name[QUEUE_NAME_MAXLEN + 1];
	char		group[QUEUE_NAME_MAXLEN + 1];
	CatalogContext cxt;
	StreamInfo *s;
	int32		p;

	PreventCommandIfReadOnly("mq_seek()");
	stream_prevent_read_during_recovery("mq_seek()");
	stream_arg(fcinfo, 0, name);
	group_arg(fcinfo, 1, group);
	args_not_null(fcinfo, 2, "at");
	s = stream_open(name, PRIV_MANAGE);
	catalog_enter(&cxt);
	if (!group_exists(s, group))
		no_group(group, name);
	for (p = 0; p < s->partitions; p++)
	{
		TimeSeek	t;

		t.at = PG_GETARG_TIMESTAMPTZ(2);
		t.found = -1;
		(void) stream_scan_partition(s, p, 0, seek_record, &t);
		(void) seek_partition(s, group, p, t.found >= 0 ? t.found : stable_end(s, p));
	}
	catalog_leave(&cxt);
	PG_RETURN_VOID();
}

/*
 * mq.group_figures(stream) -> (consumer_group, partition, position, lag):
 * lag is what the group has yet to read up to the stable end (NULL on a
 * standby).
 */
Datum
mq_group_figures(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char		name[QUEUE_NAME_MAXLEN + 1];
	CatalogContext cxt;
	StreamInfo *s;
	uint64		i;
	uint64		n;
	char	  **groups;
	int32	   *parts;
	int64	   *positions;
	MemoryContext outer = CurrentMemoryContext;

	InitMaterializedSRF(fcinfo, 0);
	stream_arg(fcinfo, 0, name);
	s = stream_lookup(name);
	if (s == NULL || !perms_visible(&s->perms, GetUserId()))
		return (Datum) 0;
	catalog_enter(&cxt);
	groups_exec(s, "SELECT consumer_group, partition, position FROM mq.s_%d_groups"
				" ORDER BY consumer_group, partition", 0, NULL, NULL);
	n = SPI_processed;
	groups = MemoryContextAlloc(outer, sizeof(char *) * Max(n, 1));
	parts = MemoryContextAlloc(outer, sizeof(int32) * Max(n, 1));
	positions = MemoryContextAlloc(outer, sizeof(int64) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		char	   *g = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);

		groups[i] = MemoryContextStrdup(outer, g);
		parts[i] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		positions[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull));
	}
	catalog_leave(&cxt);
	MemoryContextSwitchTo(outer);
	for (i = 0; i < n; i++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, true};

		values[0] = CStringGetTextDatum(groups[i]);
		values[1] = Int32GetDatum(parts[i]);
		values[2] = Int64GetDatum(positions[i]);
		if (!RecoveryInProgress() && parts[i] < s->partitions)
		{
			int64		from = Max(positions[i], first_position(s, parts[i]));

			values[3] = Int64GetDatum(Max(stable_end(s, parts[i]) - from, 0));
			nulls[3] = false;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
