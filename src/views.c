/*-------------------------------------------------------------------------
 *
 * views.c
 *	  Figures behind the mq_queues view (SPEC section 6).
 *
 * mq.queue_state(queue) gives a queue's depth and splits it into ready,
 * inflight (leased, or being acked/nacked) and delayed without counting
 * the queue's rows:
 *
 *	  depth		the committed depth counter of qstate.c (plus the caller's
 *				own uncommitted change), kept for every queue;
 *	  inflight	the queue's leases that have not ended, nor their retry
 *				delay (lease.c);
 *	  delayed	the rows of the delay index whose visible_at is ahead;
 *	  ready		the rest;
 *	  oldest	the first ready row of each priority in use;
 *	  ages		how long ago the oldest and the newest stored row were
 *				enqueued, from the two ends of the index, and the last id
 *				given, from the id sequence.
 *
 * So the cost grows with the delayed and in-flight messages, not with the
 * depth.  While a prepared transaction that changed the queue is open, and
 * on a hot standby (where the leases of the primary are unknown, so only
 * depth is shown, and not even that for an unlogged queue, whose storage a
 * standby cannot read), depth is a count of the rows.
 *
 * mq.queue_figures(queue) gives the first five of them: the view of a
 * catalog from before 0.4.0 calls it until ALTER EXTENSION queue UPDATE.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xlog.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "args.h"
#include "catalog.h"
#include "lease.h"
#include "pending.h"
#include "perms.h"
#include "qstate.h"
#include "queue_info.h"
#include "storage.h"
#include "stream.h"
#include "util.h"

PG_FUNCTION_INFO_V1(mq_queue_figures);
PG_FUNCTION_INFO_V1(mq_queue_state);

/*
 * Open the queue named by argument 0 for its figures; false when there is
 * nothing to show: no name, a queue the caller may not see (the views list
 * only visible queues), or unlogged storage on a standby, which cannot be
 * read there.
 */
static bool
figures_open(FunctionCallInfo fcinfo, QueueRel *qrel)
{
	char		name[QUEUE_NAME_MAXLEN + 1];
	QueueInfo  *info;

	if (PG_ARGISNULL(0))
		return false;
	args_name("queue", PG_GETARG_TEXT_PP(0), name);
	info = queue_info_lookup(name);
	if (info == NULL || !perms_visible(&info->perms, GetUserId()))
		return false;
	if (RecoveryInProgress() && info->unlogged)
		return false;
	return storage_open_by_name(qrel, name, AccessShareLock, 0);
}

/* The blessed result row type of a function returning a composite. */
static TupleDesc
result_desc(FunctionCallInfo fcinfo)
{
	TupleDesc	desc;

	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	return BlessTupleDesc(desc);
}

/* now - t as an interval datum */
static Datum
age_at(TimestampTz now, TimestampTz t)
{
	return DirectFunctionCall2(timestamp_mi, TimestampTzGetDatum(now), TimestampTzGetDatum(t));
}

/*
 * depth, ready, inflight, delayed and oldest_ready_age of an open queue
 * into values[0..4] (nulls set where there is no figure).
 */
static void
put_figures(QueueRel *qrel, TimestampTz now, Datum *values, bool *nulls)
{
	Oid			relid = RelationGetRelid(qrel->heap);

	if (RecoveryInProgress())
	{
		values[0] = Int64GetDatum(storage_count(qrel));
		nulls[0] = false;
	}
	else
	{
		QueueState *qs = qstate_get(relid);
		int64		depth;
		int64		inflight;
		int64		delayed;
		TimestampTz oldest;

		(void) qstate_depth(qrel->heap, DEPTH_SHOW, &depth);
		depth += pending_depth_delta(relid);
		inflight = lease_count_active(qs, relid, now);
		delayed = storage_count_delayed(qrel, now);
		oldest = storage_oldest_ready(qrel, now);
		values[0] = Int64GetDatum(depth);
		values[1] = Int64GetDatum(Max(depth - inflight - delayed, 0));
		values[2] = Int64GetDatum(Min(inflight, depth));
		values[3] = Int64GetDatum(delayed);
		nulls[0] = nulls[1] = nulls[2] = nulls[3] = false;
		if (oldest != DT_NOEND)
		{
			values[4] = age_at(now, oldest);
			nulls[4] = false;
		}
	}
}

/*
 * oldest_age, newest_age (NULL when the queue is empty) and last_id of an
 * open queue into values[0..2]: rows and the id sequence only, so a
 * standby shows them too.
 */
static void
put_ages(QueueRel *qrel, TimestampTz now, Datum *values, bool *nulls)
{
	TimestampTz oldest;
	TimestampTz newest;

	storage_age_bounds(qrel, &oldest, &newest);
	if (oldest != DT_NOEND)
	{
		values[0] = age_at(now, oldest);
		values[1] = age_at(now, newest);
		nulls[0] = nulls[1] = false;
	}
	values[2] = Int64GetDatum(storage_last_id(qrel));
	nulls[2] = false;
}

/*
 * mq.queue_state(queue text) -> (depth, ready, inflight, delayed,
 * oldest_ready_age, oldest_age, newest_age, last_id); all NULL for a queue
 * the caller may not see.
 */
Datum
mq_queue_state(PG_FUNCTION_ARGS)
{
	TupleDesc	desc = result_desc(fcinfo);
	Datum		values[8];
	bool		nulls[8] = {true, true, true, true, true, true, true, true};
	QueueRel	qrel;

	if (figures_open(fcinfo, &qrel))
	{
		TimestampTz now = GetCurrentTimestamp();

		put_figures(&qrel, now, values, nulls);
		put_ages(&qrel, now, values + 5, nulls + 5);
		storage_close(&qrel);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

/* mq.queue_figures(queue text) -> the first five of mq.queue_state */
Datum
mq_queue_figures(PG_FUNCTION_ARGS)
{
	TupleDesc	desc = result_desc(fcinfo);
	Datum		values[5];
	bool		nulls[5] = {true, true, true, true, true};
	QueueRel	qrel;

	if (figures_open(fcinfo, &qrel))
	{
		put_figures(&qrel, GetCurrentTimestamp(), values, nulls);
		storage_close(&qrel);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

PG_FUNCTION_INFO_V1(mq_message_group_figures);

/* One group's figures as mq.message_group_figures() gathers them. */
typedef struct GroupFigures
{
	Datum		key;
	int64		ready;
	int64		inflight;
	int64		delayed;
	TimestampTz oldest;
} GroupFigures;

/* The groups of the current hash run (usually one), and where they go. */
typedef struct GroupRun
{
	ReturnSetInfo *rsinfo;
	Oid			relid;
	TimestampTz now;
	int			n;
	int			cap;
	GroupFigures *groups;
} GroupRun;

static void
group_run_put(GroupRun *r)
{
	int			i;

	for (i = 0; i < r->n; i++)
	{
		GroupFigures *g = &r->groups[i];
		Datum		values[5];
		bool		nulls[5] = {0};

		values[0] = g->key;
		values[1] = Int64GetDatum(g->ready);
		values[2] = Int64GetDatum(g->inflight);
		values[3] = Int64GetDatum(g->delayed);
		values[4] = age_at(r->now, g->oldest);
		tuplestore_putvalues(r->rsinfo->setResult, r->rsinfo->setDesc, values, nulls);
		pfree(DatumGetPointer(g->key));
	}
	r->n = 0;
}

static void
group_figures_one(void *arg, const StoredMsg *m, bool run)
{
	GroupRun   *r = arg;
	GroupFigures *g;
	int			i;

	if (run)
		group_run_put(r);
	for (i = 0; i < r->n && !datumIsEqual(r->groups[i].key, m->group_key, false, -1); i++)
		;
	if (i == r->n)
	{
		if (r->n == r->cap)
		{
			r->cap = Max(4, r->cap * 2);
			r->groups = r->groups ? repalloc(r->groups, r->cap * sizeof(GroupFigures)) :
				palloc(r->cap * sizeof(GroupFigures));
		}
		g = &r->groups[r->n++];
		g->key = datumCopy(m->group_key, false, -1);
		g->ready = g->inflight = g->delayed = 0;
		g->oldest = m->enqueued_at;
	}
	g = &r->groups[i];
	if (lease_held(r->relid, m->id, r->now))
		g->inflight++;
	else if (m->visible_at > r->now)
		g->delayed++;
	else
		g->ready++;
	g->oldest = Min(g->oldest, m->enqueued_at);
}

/*
 * mq.message_group_figures(queue text) -> SETOF (group_key, ready, inflight,
 * delayed, oldest_age): one row per message group of the queue, from its
 * group index (the cost is that of the grouped messages).  A parked
 * message, waiting for its group, counts as ready.
 */
Datum
mq_message_group_figures(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char		name[QUEUE_NAME_MAXLEN + 1];
	QueueInfo  *info;
	QueueRel	qrel;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		return (Datum) 0;
	args_name("queue", PG_GETARG_TEXT_PP(0), name);
	info = queue_info_lookup(name);
	if (info == NULL || !perms_visible(&info->perms, GetUserId()) ||
		(RecoveryInProgress() && info->unlogged))
		return (Datum) 0;
	if (storage_open_by_name(&qrel, name, AccessShareLock, 0))
	{
		GroupRun	r = {rsinfo, RelationGetRelid(qrel.heap), GetCurrentTimestamp()};

		storage_walk_groups(&qrel, group_figures_one, &r);
		group_run_put(&r);
		storage_close(&qrel);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(mq_queue_stats);
PG_FUNCTION_INFO_V1(mq_stats_reset);
PG_FUNCTION_INFO_V1(mq_version);

/*
 * Read (and, with reset, zero) the counters of one queue or stream into
 * values/nulls of an mq_stats row (counters, then stats_reset); false if
 * there is no such object, or the caller may not see it (reset: may not
 * manage it; raising 42501 unless quiet).
 */
static bool
queue_stats_row(const char *name, bool reset, bool quiet, Datum *values, bool *nulls)
{
	QueueInfo  *info = queue_info_lookup(name);
	StreamInfo *stream = info == NULL ? stream_lookup(name) : NULL;
	const ObjectPerms *perms;
	int64		counts[NUM_QUEUE_STATS];
	TimestampTz reset_at;
	int			i;

	if (info == NULL && stream == NULL)
		return false;
	perms = info ? &info->perms : &stream->perms;
	if (!reset && !perms_visible(perms, GetUserId()))
		return false;
	if (reset && !perms_allow(perms, GetUserId(), PRIV_MANAGE))
	{
		if (quiet)
			return false;
		perms_require(perms, GetUserId(), PRIV_MANAGE, info ? 'q' : 's', name);
	}
	qstate_read_stats(info ? info->relid : stream->ident, counts, &reset_at, reset);
	for (i = 0; i < NUM_QUEUE_STATS; i++)
	{
		values[i] = Int64GetDatum(counts[i]);
		nulls[i] = false;
	}
	/* Never reset: counted since this server's shared memory was set up. */
	values[NUM_QUEUE_STATS] = TimestampTzGetDatum(reset_at != 0 ? reset_at : lease_started_at());
	nulls[NUM_QUEUE_STATS] = false;
	return true;
}

/* mq.queue_stats(queue) -> the counters of mq_stats for one queue */
Datum
mq_queue_stats(PG_FUNCTION_ARGS)
{
	TupleDesc	desc;
	Datum		values[NUM_QUEUE_STATS + 1];
	bool		nulls[NUM_QUEUE_STATS + 1];
	char		name[QUEUE_NAME_MAXLEN + 1];
	int			i;

	desc = result_desc(fcinfo);
	for (i = 0; i <= NUM_QUEUE_STATS; i++)
		nulls[i] = true;
	if (!PG_ARGISNULL(0))
	{
		args_name("queue", PG_GETARG_TEXT_PP(0), name);
		queue_stats_row(name, false, false, values, nulls);
	}
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(desc, values, nulls)));
}

/*
 * mq_stats_reset(queue DEFAULT NULL): zero one object's counters, or (NULL)
 * those of every object the caller may manage.
 */
Datum
mq_stats_reset(PG_FUNCTION_ARGS)
{
	Datum		values[NUM_QUEUE_STATS + 1];
	bool		nulls[NUM_QUEUE_STATS + 1];
	char		name[QUEUE_NAME_MAXLEN + 1];

	if (PG_ARGISNULL(0))
	{
		List	   *names = list_concat(queue_info_names(), catalog_object_names('s'));
		ListCell   *lc;

		foreach(lc, names)
			queue_stats_row((char *) lfirst(lc), true, true, values, nulls);
		PG_RETURN_VOID();
	}
	args_name("queue", PG_GETARG_TEXT_PP(0), name);
	if (!queue_stats_row(name, true, false, values, nulls))
		catalog_report_missing("queue or stream", "qs", name);
	PG_RETURN_VOID();
}

/*
 * mq_version(): the version of the loaded library (queue.control's
 * default_version when it was built).  pg_extension.extversion is the
 * version of the SQL objects; the two differ until ALTER EXTENSION queue
 * UPDATE has run after installing a new build.
 */
Datum
mq_version(PG_FUNCTION_ARGS)
{
	PG_RETURN_TEXT_P(cstring_to_text(QUEUE_VERSION));
}
