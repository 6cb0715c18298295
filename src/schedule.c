/*-------------------------------------------------------------------------
 *
 * schedule.c
 *	  Schedules (SPEC section 10): recurring messages that the background
 *	  worker sends to a queue, topic or stream.
 *
 * A schedule is a row of mq.schedules: a cron expression (cron.c) read in
 * a time zone, a target, and the message to send.  next_run holds the next
 * scheduled time.  The worker (worker.c) calls schedule_fire_due() in each
 * round, which lists the schedules due and works out each run's time and
 * the next; every run is then one transaction that
 *	  1. records the run (next_run, last_run, runs) with one UPDATE, if the
 *		 schedule is still as listed: due at the time seen, not paused,
 *		 the same expression, zone and catch_up (a run already made, or a
 *		 schedule altered meanwhile, is skipped); the update locks the row;
 *	  2. sends the message as the schedule's owner, in a subtransaction:
 *		 the header mq_schedule {"name", "at"} and the idempotency key
 *		 "schedule:<name>:<at>" go with it;
 *	  3. if the send failed, takes the run back (runs, last_run) and
 *		 records the error (last_error): that time is skipped.
 * So a run is sent exactly once: a crash before the commit leaves neither
 * the message nor the record of the run, and the run is made again.  The
 * runs commit without waiting for their WAL to reach disk, which is
 * flushed once per FLUSH_EVERY runs and at the end of each round: a crash
 * in between undoes those runs whole, and they are made again too.
 *
 * Missed times (server down, schedule paused, worker busy): a schedule
 * without catch_up makes one run, for the latest of them; one with
 * catch_up makes each, oldest first, at most SCHEDULE_CATCH_UP_MAX per
 * round.
 *
 * Privileges: creating a schedule needs send on its target; altering or
 * dropping one needs the privileges of its owner, or manage on the target.
 * Each run checks the owner's privileges again.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "pgtime.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/datetime.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "args.h"
#include "catalog.h"
#include "cron.h"
#include "perms.h"
#include "policy.h"
#include "queue_ops.h"
#include "schedule.h"
#include "stream.h"
#include "topic.h"
#include "util.h"

PG_FUNCTION_INFO_V1(mq_create_schedule);
PG_FUNCTION_INFO_V1(mq_alter_schedule);
PG_FUNCTION_INFO_V1(mq_drop_schedule);
PG_FUNCTION_INFO_V1(mq_cron_next);

#define SCHEDULE_HEADER		"mq_schedule"
#define DUE_BATCH			1000
#define FLUSH_EVERY			1000	/* runs between WAL flushes */

/* Seconds between 1970-01-01 and 2000-01-01 (TimestampTz's epoch). */
#define EPOCH_SHIFT_SECS \
	((int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY)

/* ---------------------------------------------------------------------
 * Times
 * ---------------------------------------------------------------------
 */

static long
zone_offset(int64_t t, void *arg)
{
	pg_time_t	pt = (pg_time_t) t;
	struct pg_tm *tm = pg_localtime(&pt, (const pg_tz *) arg);

	return tm != NULL ? tm->tm_gmtoff : 0;
}

/* The first time after "after" at which spec runs in zone tz; false if none. */
static bool
next_time(const CronSpec *spec, pg_tz *tz, TimestampTz after, TimestampTz *next)
{
	int64		secs = after >= 0 ? after / USECS_PER_SEC :
	-((-after + USECS_PER_SEC - 1) / USECS_PER_SEC);
	int64_t		n;

	if (!cron_next_instant(spec, secs + EPOCH_SHIFT_SECS, zone_offset, tz, &n))
		return false;
	n -= EPOCH_SHIFT_SECS;
	if (n > (END_TIMESTAMP - 1) / USECS_PER_SEC)
		return false;
	*next = n * USECS_PER_SEC;
	return true;
}

/*
 * The latest scheduled time that is not after now, from due (a scheduled
 * time not after now) on.  Long gaps are crossed by starting from the first
 * time within the last hour, day, month or year that has one.
 */
static TimestampTz
latest_time(const CronSpec *spec, pg_tz *tz, TimestampTz due, TimestampTz now)
{
	static const int64 windows[] = {3600, SECS_PER_DAY, 32 * SECS_PER_DAY, 367 * SECS_PER_DAY};
	TimestampTz t = due;
	TimestampTz n;
	int			i;

	if (spec->seconds > 0)
	{
		int64		step = (int64) spec->seconds * USECS_PER_SEC;
		int64		unix_now = now + EPOCH_SHIFT_SECS * USECS_PER_SEC;

		n = unix_now - unix_now % step - EPOCH_SHIFT_SECS * USECS_PER_SEC;
		return n > due ? n : due;
	}
	for (i = 0; i < lengthof(windows); i++)
		if (next_time(spec, tz, now - windows[i] * USECS_PER_SEC, &n) && n <= now)
		{
			if (n > t)
				t = n;
			break;
		}
	while (next_time(spec, tz, t, &n) && n <= now)
		t = n;
	return t;
}

/* ---------------------------------------------------------------------
 * Arguments
 * ---------------------------------------------------------------------
 */

static void
schedule_arg(FunctionCallInfo fcinfo, int argno, char *out)
{
	args_name_arg(fcinfo, argno, "schedule", "schedule", out);
}

/* Parse a cron expression; 22023 if it is not one. */
static void
check_cron(const char *text, CronSpec *spec)
{
	char		err[256];

	if (!cron_parse(text, spec, err, sizeof(err)))
	{
		err[0] = pg_toupper((unsigned char) err[0]);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid cron expression \"%s\"", text),
				 errdetail("%s.", err),
				 errhint("Five fields (minute hour day-of-month month day-of-week) with *, lists, ranges, steps and names, a macro such as @daily, or 'N seconds' (1 to 59).")));
	}
}

/* A time zone by name; 22023 if there is none. */
static pg_tz *
check_zone(const char *name)
{
	pg_tz	   *tz = strlen(name) < TZ_STRLEN_MAX ? pg_tzset(name) : NULL;

	if (tz == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("time zone \"%s\" is not recognized", name),
				 errhint("Use a name from pg_timezone_names, such as 'UTC' or 'Europe/Berlin'.")));
	return tz;
}

static char *
text_arg(FunctionCallInfo fcinfo, int argno, const char *what)
{
	args_not_null(fcinfo, argno, what);
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/* ---------------------------------------------------------------------
 * SQL functions
 * ---------------------------------------------------------------------
 */

/* 42704 for a schedule that does not exist. */
static void
report_missing(const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("schedule \"%s\" does not exist", name)));
}

/*
 * mq_create_schedule(schedule, cron, target, body, headers, routing_key,
 *					  timezone, catch_up, if_not_exists)
 */
Datum
mq_create_schedule(PG_FUNCTION_ARGS)
{
	char		name[QUEUE_NAME_MAXLEN + 1];
	char		target[QUEUE_NAME_MAXLEN + 1];
	char	   *cron;
	char	   *zone;
	CronSpec	spec;
	pg_tz	   *tz;
	Datum		body;
	Datum		headers;
	char	   *routing_key = NULL;
	bool		catch_up;
	bool		if_not_exists;
	CatalogContext cxt;
	int32		target_id;
	char		kind;
	ObjectPerms perms;
	TimestampTz next_run = 0;
	bool		has_next;

	PreventCommandIfReadOnly("mq_create_schedule()");
	schedule_arg(fcinfo, 0, name);
	cron = text_arg(fcinfo, 1, "cron");
	check_cron(cron, &spec);
	args_name_arg(fcinfo, 2, "target", "target", target);
	args_not_null(fcinfo, 3, "body");
	body = PG_GETARG_DATUM(3);
	headers = args_headers(PG_GETARG_DATUM(4), PG_ARGISNULL(4));
	if (!PG_ARGISNULL(5))
		routing_key = text_to_cstring(PG_GETARG_TEXT_PP(5));
	zone = text_arg(fcinfo, 6, "timezone");
	tz = check_zone(zone);
	args_not_null(fcinfo, 7, "catch_up");
	catch_up = PG_GETARG_BOOL(7);
	args_not_null(fcinfo, 8, "if_not_exists");
	if_not_exists = PG_GETARG_BOOL(8);

	catalog_enter(&cxt);
	catalog_lock();
	if (!catalog_find_perms(target, &target_id, &kind, &perms))
		catalog_report_missing("queue, topic or stream", "qts", target);
	perms_require(&perms, cxt.save_userid, PRIV_SEND, kind, target);
	if (kind == 't' && routing_key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a schedule of topic \"%s\" needs a routing_key", target)));
	if (kind == 't')
		topic_check_routing_key(routing_key, NULL);
	if (kind == 'q' && routing_key != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a schedule of queue \"%s\" takes no routing_key", target),
				 errdetail("A routing key is for a topic, or the record key of a stream.")));

	{
		Datum		arg = CStringGetTextDatum(name);
		Oid			argtype = TEXTOID;

		catalog_exec("SELECT 1 FROM mq.schedules WHERE name OPERATOR(pg_catalog.=) $1",
					 1, &argtype, &arg, NULL);
		if (SPI_processed > 0)
		{
			if (!if_not_exists)
				ereport(ERROR,
						(errcode(ERRCODE_DUPLICATE_OBJECT),
						 errmsg("schedule \"%s\" already exists", name)));
			catalog_leave(&cxt);
			catalog_exists_notice("schedule", name, NULL, NULL);
			PG_RETURN_VOID();
		}
	}

	has_next = next_time(&spec, tz, GetCurrentTimestamp(), &next_run);
	catalog_exec("SELECT pg_catalog.nextval('mq.object_id_seq'::pg_catalog.regclass)::pg_catalog.int4",
				 0, NULL, NULL, NULL);
	{
		bool		isnull;
		Datum		args[11];
		char		nulls[11];
		Oid			types[11] = {INT4OID, TEXTOID, REGROLEOID, TEXTOID, TEXTOID, INT4OID,
		JSONBOID, JSONBOID, TEXTOID, BOOLOID, TIMESTAMPTZOID};

		memset(nulls, ' ', sizeof(nulls));
		args[0] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		args[1] = CStringGetTextDatum(name);
		args[2] = ObjectIdGetDatum(cxt.save_userid);
		args[3] = CStringGetTextDatum(cron);
		args[4] = CStringGetTextDatum(pg_get_timezone_name(tz));
		args[5] = Int32GetDatum(target_id);
		args[6] = body;
		args[7] = headers;
		nulls[7] = headers == (Datum) 0 ? 'n' : ' ';
		args[8] = routing_key ? CStringGetTextDatum(routing_key) : (Datum) 0;
		nulls[8] = routing_key ? ' ' : 'n';
		args[9] = BoolGetDatum(catch_up);
		args[10] = TimestampTzGetDatum(next_run);
		nulls[10] = has_next ? ' ' : 'n';
		catalog_exec("INSERT INTO mq.schedules (id, name, owner, cron, timezone, target, body,"
					 " headers, routing_key, catch_up, next_run)"
					 " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
					 11, types, args, nulls);
	}
	catalog_leave(&cxt);
	PG_RETURN_VOID();
}

/*
 * Under the DDL lock: find schedule name and lock its row; 42704 if there
 * is none (false with missing_ok), 42501 unless the caller has the
 * privileges of its owner or manage on its target.
 */
static bool
find_schedule(const CatalogContext *cxt, const char *name, bool missing_ok, int32 *id)
{
	Datum		arg = CStringGetTextDatum(name);
	Oid			argtype = TEXTOID;
	bool		isnull;
	Oid			owner;
	char	   *target;

	catalog_exec("SELECT s.id, s.owner, o.name FROM mq.schedules s"
				 " JOIN mq.objects o ON o.id OPERATOR(pg_catalog.=) s.target"
				 " WHERE s.name OPERATOR(pg_catalog.=) $1 FOR UPDATE OF s",
				 1, &argtype, &arg, NULL);
	if (SPI_processed == 0)
	{
		if (missing_ok)
			return false;
		report_missing(name);
	}
	*id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	target = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3);
	if (!has_privs_of_role(cxt->save_userid, owner))
	{
		int32		target_id;
		char		kind;
		ObjectPerms perms;

		if (!catalog_find_perms(target, &target_id, &kind, &perms) ||
			!perms_allow(&perms, cxt->save_userid, PRIV_MANAGE))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for schedule \"%s\"", name),
					 errdetail("Altering or dropping a schedule needs the privileges of its owner, or manage on its target.")));
	}
	return true;
}

/*
 * mq_alter_schedule(schedule, cron, body, headers, timezone, catch_up,
 *					 paused): NULL leaves a setting as it is.  A new cron
 * expression or time zone starts from now: times missed under the old ones
 * are not made up.
 */
Datum
mq_alter_schedule(PG_FUNCTION_ARGS)
{
	char		name[QUEUE_NAME_MAXLEN + 1];
	CatalogContext cxt;
	int32		id;
	CronSpec	spec;
	pg_tz	   *tz = NULL;
	Datum		args[8];
	char		nulls[8];
	Oid			types[8] = {INT4OID, TEXTOID, JSONBOID, JSONBOID, TEXTOID, BOOLOID, BOOLOID,
	BOOLOID};

	PreventCommandIfReadOnly("mq_alter_schedule()");
	schedule_arg(fcinfo, 0, name);
	memset(nulls, 'n', sizeof(nulls));
	nulls[0] = ' ';
	if (!PG_ARGISNULL(1))
	{
		check_cron(text_to_cstring(PG_GETARG_TEXT_PP(1)), &spec);
		args[1] = PG_GETARG_DATUM(1);
		nulls[1] = ' ';
	}
	if (!PG_ARGISNULL(2))
	{
		args[2] = PG_GETARG_DATUM(2);
		nulls[2] = ' ';
	}
	if (!PG_ARGISNULL(3))
	{
		/* '{}' leaves the schedule without headers. */
		args[3] = args_headers(PG_GETARG_DATUM(3), false);
		nulls[3] = ' ';
	}
	if (!PG_ARGISNULL(4))
	{
		tz = check_zone(text_to_cstring(PG_GETARG_TEXT_PP(4)));
		args[4] = CStringGetTextDatum(pg_get_timezone_name(tz));
		nulls[4] = ' ';
	}
	if (!PG_ARGISNULL(5))
	{
		args[5] = PG_GETARG_DATUM(5);
		nulls[5] = ' ';
	}
	if (!PG_ARGISNULL(6))
	{
		args[6] = PG_GETARG_DATUM(6);
		nulls[6] = ' ';
	}

	catalog_enter(&cxt);
	catalog_lock();
	(void) find_schedule(&cxt, name, false, &id);
	args[0] = Int32GetDatum(id);
	args[7] = BoolGetDatum(!PG_ARGISNULL(1) || !PG_ARGISNULL(4));
	nulls[7] = ' ';
	catalog_exec("UPDATE mq.schedules SET"
				 " cron = COALESCE($2, cron),"
				 " body = COALESCE($3, body),"
				 " headers = CASE WHEN $4 IS NULL THEN headers"
				 "   WHEN $4 OPERATOR(pg_catalog.=) '{}'::pg_catalog.jsonb THEN NULL ELSE $4 END,"
				 " timezone = COALESCE($5, timezone),"
				 " catch_up = COALESCE($6, catch_up),"
				 " paused = COALESCE($7, paused)"
				 " WHERE id OPERATOR(pg_catalog.=) $1"
				 " RETURNING cron, timezone",
				 8, types, args, nulls);
	if (DatumGetBool(args[7]))
	{
		/* A new expression or zone: the next time from now under them. */
		char	   *cron = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);
		char	   *zone = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2);
		TimestampTz next_run = 0;
		Datum		uargs[2];
		char		unulls[2] = {' ', ' '};
		Oid			utypes[2] = {INT4OID, TIMESTAMPTZOID};

		check_cron(cron, &spec);
		tz = check_zone(zone);
		uargs[0] = Int32GetDatum(id);
		if (next_time(&spec, tz, GetCurrentTimestamp(), &next_run))
			uargs[1] = TimestampTzGetDatum(next_run);
		else
			unulls[1] = 'n';
		catalog_exec("UPDATE mq.schedules SET next_run = $2 WHERE id OPERATOR(pg_catalog.=) $1",
					 2, utypes, uargs, unulls);
	}
	catalog_leave(&cxt);
	PG_RETURN_VOID();
}

/* mq_drop_schedule(schedule, if_exists) -> boolean */
Datum
mq_drop_schedule(PG_FUNCTION_ARGS)
{
	char		name[QUEUE_NAME_MAXLEN + 1];
	CatalogContext cxt;
	int32		id;
	Datum		arg;
	Oid			argtype = INT4OID;

	PreventCommandIfReadOnly("mq_drop_schedule()");
	schedule_arg(fcinfo, 0, name);
	args_not_null(fcinfo, 1, "if_exists");

	catalog_enter(&cxt);
	catalog_lock();
	if (!find_schedule(&cxt, name, PG_GETARG_BOOL(1), &id))
	{
		catalog_leave(&cxt);
		ereport(NOTICE,
				(errmsg("schedule \"%s\" does not exist, skipping", name)));
		PG_RETURN_BOOL(false);
	}
	arg = Int32GetDatum(id);
	catalog_exec("DELETE FROM mq.schedules WHERE id OPERATOR(pg_catalog.=) $1",
				 1, &argtype, &arg, NULL);
	catalog_leave(&cxt);
	PG_RETURN_BOOL(true);
}

/* mq_cron_next(cron, timezone, after, count) -> SETOF timestamptz */
Datum
mq_cron_next(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	CronSpec	spec;
	pg_tz	   *tz;
	TimestampTz t;
	int32		count;
	int			i;

	check_cron(text_arg(fcinfo, 0, "cron"), &spec);
	tz = check_zone(text_arg(fcinfo, 1, "timezone"));
	t = PG_ARGISNULL(2) ? GetCurrentTimestamp() : PG_GETARG_TIMESTAMPTZ(2);
	count = args_int_range(fcinfo, 3, "count", 1, 10000);
	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	for (i = 0; i < count && next_time(&spec, tz, t, &t); i++)
	{
		Datum		value = TimestampTzGetDatum(t);
		bool		isnull = false;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &value, &isnull);
	}
	return (Datum) 0;
}

/* ---------------------------------------------------------------------
 * Firing (the background worker)
 * ---------------------------------------------------------------------
 */

/* A schedule due, as listed: what its times come from. */
typedef struct Due
{
	int32		id;
	TimestampTz next_run;
	TimestampTz last_run;		/* 0: none */
	char	   *cron;
	char	   *zone;
	bool		catch_up;
	CronSpec	spec;
	pg_tz	   *tz;
	bool		valid;			/* spec and tz parsed */
} Due;

/* What one run sends, returned by the statement that records it. */
typedef struct Run
{
	char		name[QUEUE_NAME_MAXLEN + 1];
	Oid			owner;
	Datum		body;
	Datum		headers;		/* 0: none */
	char	   *routing_key;	/* NULL: none */
	char		target[QUEUE_NAME_MAXLEN + 1];
	char		kind;
} Run;

static SPIPlanPtr record_plan = NULL;
static SPIPlanPtr failed_plan = NULL;

/*
 * Record the run of schedule d at "at" (next time: next) as made, if the
 * schedule is still as listed -- due at "due", not paused, with the same
 * expression, zone and catch_up -- and read what it sends into *r (in
 * mcxt).  The update locks the row until the transaction ends.  False if
 * the schedule is not as listed (made already, altered or dropped).
 */
static bool
record_run(const Due *d, TimestampTz due, TimestampTz at, TimestampTz next, Run *r,
		   MemoryContext mcxt)
{
	Oid			types[7] = {INT4OID, TIMESTAMPTZOID, TIMESTAMPTZOID, TIMESTAMPTZOID,
	TEXTOID, TEXTOID, BOOLOID};
	Datum		args[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};
	HeapTuple	tup;
	TupleDesc	desc;
	bool		isnull;
	Datum		v;
	MemoryContext old;

	args[0] = Int32GetDatum(d->id);
	args[1] = TimestampTzGetDatum(due);
	args[2] = TimestampTzGetDatum(next);
	nulls[2] = next != 0 ? ' ' : 'n';
	args[3] = TimestampTzGetDatum(at);
	args[4] = CStringGetTextDatum(d->cron);
	args[5] = CStringGetTextDatum(d->zone);
	args[6] = BoolGetDatum(d->catch_up);
	catalog_exec_plan(catalog_keep_plan(&record_plan,
										"UPDATE mq.schedules s SET next_run = $3, last_run = $4,"
										" runs = s.runs OPERATOR(pg_catalog.+) 1, last_error = NULL"
										" FROM mq.objects o"
										" WHERE s.id OPERATOR(pg_catalog.=) $1"
										" AND s.next_run OPERATOR(pg_catalog.=) $2 AND NOT s.paused"
										" AND s.cron OPERATOR(pg_catalog.=) $5"
										" AND s.timezone OPERATOR(pg_catalog.=) $6"
										" AND s.catch_up OPERATOR(pg_catalog.=) $7"
										" AND o.id OPERATOR(pg_catalog.=) s.target"
										" RETURNING s.name, s.owner, s.body, s.headers, s.routing_key,"
										" o.name, o.kind",
										7, types),
					  args, nulls);
	if (SPI_processed == 0)
		return false;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	old = MemoryContextSwitchTo(mcxt);
	strlcpy(r->name, SPI_getvalue(tup, desc, 1), sizeof(r->name));
	r->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
	r->body = datumCopy(SPI_getbinval(tup, desc, 3, &isnull), false, -1);
	v = SPI_getbinval(tup, desc, 4, &isnull);
	r->headers = isnull ? (Datum) 0 : datumCopy(v, false, -1);
	(void) SPI_getbinval(tup, desc, 5, &isnull);
	r->routing_key = isnull ? NULL : SPI_getvalue(tup, desc, 5);
	strlcpy(r->target, SPI_getvalue(tup, desc, 6), sizeof(r->target));
	r->kind = DatumGetChar(SPI_getbinval(tup, desc, 7, &isnull));
	MemoryContextSwitchTo(old);
	return true;
}

/*
 * The run failed: it does not count, last_run goes back to what it was,
 * and last_error says why.  next_run stays moved on: that time is skipped.
 */
static void
record_failure(int32 id, TimestampTz last_run, const char *error)
{
	Oid			types[3] = {INT4OID, TIMESTAMPTZOID, TEXTOID};
	Datum		args[3];
	char		nulls[3] = {' ', ' ', ' '};

	args[0] = Int32GetDatum(id);
	args[1] = TimestampTzGetDatum(last_run);
	nulls[1] = last_run != 0 ? ' ' : 'n';
	args[2] = CStringGetTextDatum(error);
	catalog_exec_plan(catalog_keep_plan(&failed_plan,
										"UPDATE mq.schedules SET last_run = $2,"
										" runs = runs OPERATOR(pg_catalog.-) 1, last_error = $3"
										" WHERE id OPERATOR(pg_catalog.=) $1",
										3, types),
					  args, nulls);
}

/* Send run r's message for time at, as the current role. */
static void
send_run(const Run *r, TimestampTz at)
{
	const char *iso = util_timestamp_iso8601_utc(at);
	Jsonb	   *info;
	JsonbValue	v;
	Datum		headers;
	text	   *key = cstring_to_text(psprintf("schedule:%s:%s", r->name, iso));

	info = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
											  CStringGetDatum(psprintf("{\"name\": \"%s\", \"at\": \"%s\"}",
																	   r->name, iso))));
	v.type = jbvBinary;
	v.val.binary.data = &info->root;
	v.val.binary.len = VARSIZE(info) - VARHDRSZ;
	headers = policy_headers_with(r->headers, SCHEDULE_HEADER, &v);

	switch (r->kind)
	{
		case 'q':
			{
				Interval	zero = {0};

				(void) queue_ops_send(r->target, r->body, headers, &zero, 0, key, (Datum) 0);
				break;
			}
		case 't':
			{
				Words		rk;

				topic_check_routing_key(r->routing_key, &rk);
				(void) topic_publish(r->target, r->routing_key, &rk, r->body, headers, key,
									 (Datum) 0);
				break;
			}
		default:
			{
				Appender	a;
				Datum		body = r->body;
				Datum		rk = r->routing_key ? CStringGetTextDatum(r->routing_key) : (Datum) 0;
				bool		rknull = r->routing_key == NULL;
				bool		hnull = false;
				Datum		ikey = PointerGetDatum(key);
				bool		iknull = false;

				stream_appender_open(r->target, "mq_append()", &a);
				stream_append_records(&a, NULL, 1, &body, &rk, &rknull, &headers, &hnull,
									  &ikey, &iknull);
				stream_appender_close(&a);
				break;
			}
	}
}

/*
 * Send run r for time at as its owner, in a subtransaction: NULL, or the
 * error that stopped it (the subtransaction rolled back).
 */
static char *
try_run(const Run *r, TimestampTz at)
{
	MemoryContext mcxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	Oid			save_userid;
	int			save_sec_context;
	char	   *volatile error = NULL;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(mcxt);
	PG_TRY();
	{
		SetUserIdAndSecContext(r->owner, save_sec_context |
							   SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_RESTRICTED_OPERATION);
		send_run(r, at);
		SetUserIdAndSecContext(save_userid, save_sec_context);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(mcxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(mcxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(mcxt);
		CurrentResourceOwner = owner;
		SetUserIdAndSecContext(save_userid, save_sec_context);
		error = psprintf("%s (SQLSTATE %s)", edata->message,
						 unpack_sql_state(edata->sqlerrcode));
		FreeErrorData(edata);
	}
	PG_END_TRY();
	return error;
}

/*
 * One run of schedule d, due at "due", in the current transaction: false
 * if it was not due any more (made already, paused, altered or dropped
 * meanwhile).  *next is its next time (0: none), *last_run the scheduled
 * time of its last run sent.
 */
static bool
fire_one(const Due *d, TimestampTz due, TimestampTz now, TimestampTz *next,
		 TimestampTz *last_run)
{
	MemoryContext mcxt = CurrentMemoryContext;
	CatalogContext cxt;
	Run			r;
	TimestampTz at;
	char	   *error;

	at = d->catch_up ? due : latest_time(&d->spec, d->tz, due, now);
	if (!next_time(&d->spec, d->tz, at, next))
		*next = 0;

	catalog_enter(&cxt);
	if (!record_run(d, due, at, *next, &r, mcxt))
	{
		catalog_leave(&cxt);
		return false;
	}
	catalog_leave(&cxt);

	error = try_run(&r, at);
	if (error == NULL)
	{
		*last_run = at;
		return true;
	}
	ereport(LOG,
			(errmsg("queue worker: the run of schedule \"%s\" at %s failed: %s",
					r.name, timestamptz_to_str(at), error),
			 errdetail("The schedule goes on at its next time.")));
	catalog_enter(&cxt);
	record_failure(d->id, *last_run, error);
	catalog_leave(&cxt);
	return true;
}

/*
 * The schedules due by now (at most DUE_BATCH, soonest first, in mcxt),
 * and the earliest next_run of all in *earliest (0: none).  In a
 * transaction.
 */
static int
list_due(TimestampTz now, Due *due, TimestampTz *earliest, MemoryContext mcxt)
{
	CatalogContext cxt;
	Oid			type = TIMESTAMPTZOID;
	Datum		arg = TimestampTzGetDatum(now);
	bool		isnull;
	uint64		i;
	int			n;
	MemoryContext old;

	catalog_enter(&cxt);
	catalog_exec(psprintf("SELECT id, next_run, last_run, cron, timezone, catch_up"
						  " FROM mq.schedules"
						  " WHERE NOT paused AND next_run OPERATOR(pg_catalog.<=) $1"
						  " ORDER BY next_run LIMIT %d", DUE_BATCH),
				 1, &type, &arg, NULL);
	n = (int) SPI_processed;
	old = MemoryContextSwitchTo(mcxt);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		Due		   *d = &due[i];
		Datum		v;
		char		err[256];

		d->id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		d->next_run = DatumGetTimestampTz(SPI_getbinval(tup, desc, 2, &isnull));
		v = SPI_getbinval(tup, desc, 3, &isnull);
		d->last_run = isnull ? 0 : DatumGetTimestampTz(v);
		d->cron = SPI_getvalue(tup, desc, 4);
		d->zone = SPI_getvalue(tup, desc, 5);
		d->catch_up = DatumGetBool(SPI_getbinval(tup, desc, 6, &isnull));
		d->valid = cron_parse(d->cron, &d->spec, err, sizeof(err)) &&
			(d->tz = pg_tzset(d->zone)) != NULL;
		if (!d->valid)
			ereport(LOG,
					(errmsg("queue worker: schedule %d has an invalid cron expression or time zone, and stops",
							d->id)));
	}
	MemoryContextSwitchTo(old);
	catalog_exec("SELECT min(next_run) FROM mq.schedules WHERE NOT paused", 0, NULL, NULL, NULL);
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		*earliest = isnull ? 0 : DatumGetTimestampTz(d);
	}
	catalog_leave(&cxt);
	return n;
}

/*
 * Run fn in a transaction of its own; false (the error logged, the
 * transaction rolled back) if it raised one.
 */
static bool
in_transaction(bool (*fn) (void *arg), void *arg, bool *result)
{
	MemoryContext mcxt = CurrentMemoryContext;
	volatile bool ok = true;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	PG_TRY();
	{
		*result = fn(arg);
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(mcxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		ereport(LOG,
				(errmsg("queue worker: schedules: %s", edata->message)));
		FreeErrorData(edata);
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(mcxt);
	return ok;
}

typedef struct ListArgs
{
	TimestampTz now;
	Due		   *due;
	int			n;
	TimestampTz earliest;
	MemoryContext mcxt;
} ListArgs;

static bool
list_due_fn(void *arg)
{
	ListArgs   *a = arg;

	if (!catalog_has_column("schedules", "next_run"))
	{
		/* The catalog is older than schedules (before ALTER EXTENSION UPDATE). */
		a->n = 0;
		a->earliest = 0;
		return true;
	}
	a->n = list_due(a->now, a->due, &a->earliest, a->mcxt);
	return true;
}

/*
 * A schedule whose expression or zone does not parse (a catalog edited by
 * hand) stops, with why in last_error, until mq_alter_schedule mends it.
 */
static bool
stop_invalid_fn(void *arg)
{
	const Due  *d = arg;
	CatalogContext cxt;
	Oid			types[2] = {INT4OID, TIMESTAMPTZOID};
	Datum		args[2];

	args[0] = Int32GetDatum(d->id);
	args[1] = TimestampTzGetDatum(d->next_run);
	catalog_enter(&cxt);
	catalog_exec("UPDATE mq.schedules SET next_run = NULL,"
				 " last_error = 'invalid cron expression or time zone; mq_alter_schedule() sets new ones'"
				 " WHERE id OPERATOR(pg_catalog.=) $1 AND next_run OPERATOR(pg_catalog.=) $2",
				 2, types, args, NULL);
	catalog_leave(&cxt);
	return true;
}

typedef struct FireArgs
{
	const Due  *d;
	TimestampTz due;
	TimestampTz now;
	TimestampTz next;
	TimestampTz last_run;
} FireArgs;

/*
 * One run, committed without waiting for the WAL flush: the caller flushes
 * after every FLUSH_EVERY runs and at the end of its round, so a burst of
 * runs pays for one flush, not one each.  A crash before the flush undoes
 * the message and the record of its run together, and the run is made
 * again after the restart: none is lost, none doubled.
 */
static bool
fire_fn(void *arg)
{
	FireArgs   *a = arg;

	(void) set_config_option("synchronous_commit", "off", PGC_SUSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
	return fire_one(a->d, a->due, a->now, &a->next, &a->last_run);
}

/* Make the runs committed so far durable. */
static void
flush_runs(void)
{
	if (XactLastCommitEnd != InvalidXLogRecPtr)
		XLogFlush(XactLastCommitEnd);
}

/*
 * Make every run due by now, each in a transaction of its own (outside
 * any transaction).  Returns the number of runs made, and the earliest
 * time a schedule is due next in *next_due (0: none).
 */
int64
schedule_fire_due(TimestampTz *next_due)
{
	MemoryContext mcxt = CurrentMemoryContext;
	ListArgs	l;
	int64		made = 0;
	bool		result;
	bool		failed = false;
	bool		capped = false;

	l.due = palloc(sizeof(Due) * DUE_BATCH);
	l.mcxt = AllocSetContextCreate(mcxt, "queue schedules due", ALLOCSET_DEFAULT_SIZES);
	*next_due = 0;
	do
	{
		int			i;

		l.now = GetCurrentTimestamp();
		MemoryContextReset(l.mcxt);
		if (!in_transaction(list_due_fn, &l, &result))
			break;
		*next_due = l.earliest;
		if (l.n > 0)
			pgstat_report_activity(STATE_RUNNING, "firing schedules");
		for (i = 0; i < l.n; i++)
		{
			FireArgs	f;
			int			k;

			if (!l.due[i].valid)
			{
				(void) in_transaction(stop_invalid_fn, &l.due[i], &result);
				continue;
			}
			f.d = &l.due[i];
			f.due = l.due[i].next_run;
			f.last_run = l.due[i].last_run;
			for (k = 0; k < SCHEDULE_CATCH_UP_MAX; k++)
			{
				f.now = GetCurrentTimestamp();
				if (!in_transaction(fire_fn, &f, &result))
				{
					failed = true;
					break;
				}
				if (!result)
					break;
				if (++made % FLUSH_EVERY == 0)
					flush_runs();
				/* Only catch-up schedules have another time already due. */
				if (f.next == 0 || f.next > f.now)
					break;
				f.due = f.next;
				CHECK_FOR_INTERRUPTS();
			}
			if (k == SCHEDULE_CATCH_UP_MAX)
				capped = true;
			CHECK_FOR_INTERRUPTS();
		}
		MemoryContextSwitchTo(mcxt);
		/*
		 * A full batch: more may be due.  After a failure, or once a
		 * catch-up schedule has made its most for a round, the next round.
		 */
	} while (l.n == DUE_BATCH && !failed && !capped);
	if (l.n > 0 && !failed)
	{
		/* What the runs left: the earliest time now. */
		l.now = 0;
		if (in_transaction(list_due_fn, &l, &result))
			*next_due = l.earliest;
	}
	flush_runs();
	MemoryContextDelete(l.mcxt);
	pfree(l.due);
	return made;
}
