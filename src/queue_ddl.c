/*-------------------------------------------------------------------------
 *
 * queue_ddl.c
 *	  mq_create_queue, mq_alter_queue, mq_drop_queue: queue options and DDL.
 *
 * A queue is a row of mq.objects and one of mq.queues (its options), and
 * its storage: the heap table mq.q_<id> with primary key mq.q_<id>_pkey,
 * id sequence mq.q_<id>_seq and idempotency keys mq.q_<id>_keys -- named by
 * number, never by the user's string.  DDL runs through catalog.c, as the
 * extension's owner, under the DDL lock; every change sends the
 * invalidation that the per-backend caches follow.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "args.h"
#include "catalog.h"
#include "lease.h"
#include "perms.h"
#include "qstate.h"
#include "storage.h"
#include "util.h"

PG_FUNCTION_INFO_V1(mq_create_queue);
PG_FUNCTION_INFO_V1(mq_alter_queue);
PG_FUNCTION_INFO_V1(mq_drop_queue);

/* ---------------------------------------------------------------------
 * Queue options
 * ---------------------------------------------------------------------
 */

typedef enum QueueOption
{
	OPT_VISIBILITY_TIMEOUT,
	OPT_MAX_DELIVERIES,
	OPT_DEAD_LETTER_QUEUE,
	OPT_MESSAGE_TTL,
	OPT_MAX_LENGTH,
	OPT_OVERFLOW,
	OPT_MAX_INFLIGHT,
	OPT_DEDUP_WINDOW,
	OPT_UNLOGGED,
	/* appended after if_not_exists (create) and reset (alter), in 0.4.0 */
	OPT_MAX_INFLIGHT_PER_GROUP,
	OPT_RATE_LIMIT,
	OPT_RETRY_DELAY,
	OPT_RETRY_BACKOFF,
	OPT_RETRY_MAX_DELAY,
	OPT_RETRY_JITTER,
	OPT_ALLOW_NULL_BODIES,
	OPT_LEASE_UNTIL_TRANSACTION_END,
	NUM_QUEUE_OPTIONS
} QueueOption;

/* The first option appended after if_not_exists and reset. */
#define OPT_FIRST_APPENDED	OPT_MAX_INFLIGHT_PER_GROUP

/* The argument after the first options: if_not_exists, or reset. */
#define ARG_TRAILING	(OPT_FIRST_APPENDED + 1)

/* The argument number of an option in mq_create_queue and mq_alter_queue. */
static inline int
opt_arg(int opt)
{
	return opt < OPT_FIRST_APPENDED ? opt + 1 : opt + 2;
}

/*
 * How many options the call has: a catalog from before 0.4.0 has the
 * functions, and the mq.queues columns, of the first ones only.
 */
static inline int
opt_count(FunctionCallInfo fcinfo)
{
	return PG_NARGS() > ARG_TRAILING + 1 ? NUM_QUEUE_OPTIONS : OPT_FIRST_APPENDED;
}

/* Was option opt given (not NULL)? */
static inline bool
opt_given(FunctionCallInfo fcinfo, int opt)
{
	return opt < opt_count(fcinfo) && !PG_ARGISNULL(opt_arg(opt));
}

typedef struct OptionDef
{
	const char *name;
	Oid			type;
	const char *default_sql;	/* value after reset */
	bool		nullable;		/* NULL means "none" (create) */
} OptionDef;

static const OptionDef queue_options[NUM_QUEUE_OPTIONS] = {
	{"visibility_timeout", INTERVALOID, "'30 seconds'::pg_catalog.interval", false},
	{"max_deliveries", INT4OID, "NULL", true},
	{"dead_letter_queue", INT4OID, "NULL", true},
	{"message_ttl", INTERVALOID, "NULL", true},
	{"max_length", INT8OID, "NULL", true},
	{"overflow", TEXTOID, "'reject'", false},
	{"max_inflight", INT4OID, "NULL", true},
	{"dedup_window", INTERVALOID, "'1 day'::pg_catalog.interval", false},
	{"unlogged", BOOLOID, "false", false},
	{"max_inflight_per_group", INT4OID, "1", false},
	{"rate_limit", FLOAT8OID, "NULL", true},
	{"retry_delay", INTERVALOID, "NULL", true},
	{"retry_backoff", TEXTOID, "'exponential'", false},
	{"retry_max_delay", INTERVALOID, "'1 hour'::pg_catalog.interval", false},
	{"retry_jitter", FLOAT8OID, "0", false},
	{"allow_null_bodies", BOOLOID, "false", false},
	{"lease_until_transaction_end", BOOLOID, "false", false},
};

static void
option_invalid(const char *option, const char *rule)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for queue option \"%s\"", option),
			 errdetail("%s", rule)));
}

/* Validate one given (non-NULL) option value: 22023 if it is invalid. */
static void
check_option(QueueOption opt, Datum value)
{
	const char *name = queue_options[opt].name;
	Interval	zero = {0};

	switch (opt)
	{
		case OPT_VISIBILITY_TIMEOUT:
			if (util_interval_is_negative(DatumGetIntervalP(value)))
				option_invalid(name, "The visibility timeout must not be negative.");
			util_interval_check_size(DatumGetIntervalP(value), name);
			break;
		case OPT_MAX_DELIVERIES:
		case OPT_MAX_INFLIGHT:
		case OPT_MAX_INFLIGHT_PER_GROUP:
			if (DatumGetInt32(value) < 1)
				option_invalid(name, "The value must be at least 1.");
			break;
		case OPT_MAX_LENGTH:
			if (DatumGetInt64(value) < 1)
				option_invalid(name, "The value must be at least 1.");
			break;
		case OPT_DEAD_LETTER_QUEUE:
			{
				char		dlq[QUEUE_NAME_MAXLEN + 1];

				args_name("queue", DatumGetTextPP(value), dlq);
			}
			break;
		case OPT_MESSAGE_TTL:
			if (DatumGetInt32(DirectFunctionCall2(interval_cmp, value,
												  IntervalPGetDatum(&zero))) <= 0)
				option_invalid(name, "The time to live must be positive.");
			util_interval_check_size(DatumGetIntervalP(value), name);
			break;
		case OPT_OVERFLOW:
			{
				char	   *s = TextDatumGetCString(value);

				if (strcmp(s, "reject") != 0 && strcmp(s, "drop_oldest") != 0)
					option_invalid(name, "Allowed values are \"reject\" and \"drop_oldest\".");
			}
			break;
		case OPT_DEDUP_WINDOW:
			if (util_interval_is_negative(DatumGetIntervalP(value)))
				option_invalid(name, "The deduplication window must not be negative.");
			util_interval_check_size(DatumGetIntervalP(value), name);
			break;
		case OPT_RETRY_DELAY:
		case OPT_RETRY_MAX_DELAY:
			if (util_interval_is_negative(DatumGetIntervalP(value)))
				option_invalid(name, "The delay must not be negative.");
			util_interval_check_size(DatumGetIntervalP(value), name);
			break;
		case OPT_RETRY_BACKOFF:
			{
				char	   *s = TextDatumGetCString(value);

				if (strcmp(s, "fixed") != 0 && strcmp(s, "linear") != 0 &&
					strcmp(s, "exponential") != 0)
					option_invalid(name, "Allowed values are \"fixed\", \"linear\" and \"exponential\".");
			}
			break;
		case OPT_RATE_LIMIT:
			{
				float8		r = DatumGetFloat8(value);

				if (!(r > 0.0 && r <= 1e9))
					option_invalid(name, "The rate limit must be a positive number of deliveries per second.");
			}
			break;
		case OPT_RETRY_JITTER:
			{
				float8		j = DatumGetFloat8(value);

				if (!(j >= 0.0 && j <= 1.0))
					option_invalid(name, "The jitter must be between 0 and 1.");
			}
			break;
		case OPT_UNLOGGED:
		case OPT_ALLOW_NULL_BODIES:
		case OPT_LEASE_UNTIL_TRANSACTION_END:
		case NUM_QUEUE_OPTIONS:
			break;
	}
}

/* Validate and copy the queue name argument. */
static void
name_arg(FunctionCallInfo fcinfo, int argno, char *out)
{
	args_name_arg(fcinfo, argno, "queue", "queue", out);
}

/* ---------------------------------------------------------------------
 * SQL-callable DDL
 * ---------------------------------------------------------------------
 */

/*
 * The id of a dead-letter queue named by an option value (under the DDL
 * lock).  A queue cannot be its own dead-letter queue.
 */
static int32
resolve_dead_letter_queue(const CatalogContext *cxt, const char *self, Datum value)
{
	char		dlq[QUEUE_NAME_MAXLEN + 1];
	int32		id;

	args_name("queue", DatumGetTextPP(value), dlq);
	if (strcmp(dlq, self) == 0)
		option_invalid("dead_letter_queue", "A queue cannot be its own dead-letter queue.");
	/* Dead letters are sent to it: the caller must be allowed to send. */
	if (!catalog_find_checked(cxt, dlq, 'q', PRIV_SEND, &id))
	{
		if (catalog_kind_of(dlq) != '\0')
			catalog_report_missing("queue", "q", dlq);
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("dead-letter queue \"%s\" does not exist", dlq),
				 errhint("Create the dead-letter queue first.")));
	}
	return id;
}

/* Make a queue's storage logged or unlogged (rewrites the tables). */
static void
set_storage_logged(int32 id, bool unlogged)
{
	const char *how = unlogged ? "UNLOGGED" : "LOGGED";
	char		sql[256];

	snprintf(sql, sizeof(sql), "ALTER TABLE mq.q_%d SET %s", id, how);
	catalog_ddl(sql);
	snprintf(sql, sizeof(sql), "ALTER TABLE mq.q_%d_keys SET %s", id, how);
	catalog_ddl(sql);
	snprintf(sql, sizeof(sql), "ALTER SEQUENCE mq.q_%d_seq SET %s", id, how);
	catalog_ddl(sql);
}

/*
 * if_not_exists on a queue that exists: the options of the call whose
 * values differ from the queue's (comma-separated), or NULL.
 */
static char *
queue_options_differ(FunctionCallInfo fcinfo, int32 id)
{
	const char *names[NUM_QUEUE_OPTIONS];
	const char *exprs[NUM_QUEUE_OPTIONS];
	Oid			types[NUM_QUEUE_OPTIONS];
	Datum		values[NUM_QUEUE_OPTIONS];
	char		nulls[NUM_QUEUE_OPTIONS];
	int			i;
	int			nopts = opt_count(fcinfo);

	for (i = 0; i < nopts; i++)
	{
		names[i] = exprs[i] = queue_options[i].name;
		types[i] = queue_options[i].type;
		values[i] = opt_given(fcinfo, i) ? PG_GETARG_DATUM(opt_arg(i)) : (Datum) 0;
		nulls[i] = opt_given(fcinfo, i) ? ' ' : 'n';
	}
	/* Stored as the queue's id, given as its name. */
	exprs[OPT_DEAD_LETTER_QUEUE] = "SELECT d.name FROM mq.objects d"
		" WHERE d.id OPERATOR(pg_catalog.=) o.dead_letter_queue";
	types[OPT_DEAD_LETTER_QUEUE] = TEXTOID;
	return catalog_options_differ("mq.queues", id, nopts, names, exprs,
								  types, values, nulls);
}

/*
 * mq_create_queue(queue, visibility_timeout, max_deliveries,
 *				   dead_letter_queue, message_ttl, max_length, overflow,
 *				   max_inflight, dedup_window, unlogged, if_not_exists,
 *				   max_inflight_per_group, rate_limit, retry_delay, retry_backoff, retry_max_delay,
 *				   retry_jitter, allow_null_bodies, lease_until_transaction_end)
 */
Datum
mq_create_queue(PG_FUNCTION_ARGS)
{
	char		name[QUEUE_NAME_MAXLEN + 1];
	bool		if_not_exists;
	CatalogContext cxt;
	int32		id;
	char		kind;
	Datum		values[NUM_QUEUE_OPTIONS + 1];
	char		nulls[NUM_QUEUE_OPTIONS + 1];
	Oid			types[NUM_QUEUE_OPTIONS + 1];
	int			i;
	int			nopts = opt_count(fcinfo);
	char		sql[1024];
	const char *persistence;
	StringInfoData insert;

	PreventCommandIfReadOnly("mq_create_queue()");
	name_arg(fcinfo, 0, name);
	for (i = 0; i < nopts; i++)
	{
		if (PG_ARGISNULL(opt_arg(i)))
		{
			if (!queue_options[i].nullable)
				args_not_null(fcinfo, opt_arg(i), queue_options[i].name);
		}
		else
			check_option(i, PG_GETARG_DATUM(opt_arg(i)));
	}
	args_not_null(fcinfo, ARG_TRAILING, "if_not_exists");
	if_not_exists = PG_GETARG_BOOL(ARG_TRAILING);
	persistence = PG_GETARG_BOOL(opt_arg(OPT_UNLOGGED)) ? "UNLOGGED" : "";

	catalog_enter(&cxt);
	catalog_lock();
	if (catalog_find_locked(name, &id, &kind))
	{
		if (if_not_exists && kind == 'q')
		{
			char	   *differ = queue_options_differ(fcinfo, id);

			catalog_leave(&cxt);
			catalog_exists_notice("queue", name, differ, "mq_alter_queue");
			PG_RETURN_VOID();
		}
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 kind == 'q' ?
				 errmsg("queue \"%s\" already exists", name) :
				 errmsg("a %s named \"%s\" already exists", util_kind_name(kind), name),
				 errdetail("Queues, topics and streams share one namespace.")));
	}

	values[0] = (Datum) 0;
	nulls[0] = ' ';
	types[0] = INT4OID;
	initStringInfo(&insert);
	appendStringInfoString(&insert, "INSERT INTO mq.queues (id");
	for (i = 0; i < nopts; i++)
	{
		types[i + 1] = queue_options[i].type;
		nulls[i + 1] = opt_given(fcinfo, i) ? ' ' : 'n';
		values[i + 1] = opt_given(fcinfo, i) ? PG_GETARG_DATUM(opt_arg(i)) : (Datum) 0;
		appendStringInfo(&insert, ", %s", queue_options[i].name);
	}
	appendStringInfoString(&insert, ") VALUES ($1");
	for (i = 0; i < nopts; i++)
		appendStringInfo(&insert, ", $%d", i + 2);
	appendStringInfoChar(&insert, ')');
	/* dead_letter_queue is stored as the target queue's id. */
	if (opt_given(fcinfo, OPT_DEAD_LETTER_QUEUE))
		values[OPT_DEAD_LETTER_QUEUE + 1] =
			Int32GetDatum(resolve_dead_letter_queue(&cxt, name, PG_GETARG_DATUM(opt_arg(OPT_DEAD_LETTER_QUEUE))));

	catalog_exec("SELECT pg_catalog.nextval('mq.object_id_seq'::pg_catalog.regclass)::pg_catalog.int4",
				 0, NULL, NULL, NULL);
	{
		bool		isnull;

		id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	}
	values[0] = Int32GetDatum(id);

	{
		Datum		oargs[3];
		Oid			otypes[3] = {INT4OID, TEXTOID, REGROLEOID};

		oargs[0] = Int32GetDatum(id);
		oargs[1] = CStringGetTextDatum(name);
		oargs[2] = ObjectIdGetDatum(cxt.save_userid);
		catalog_exec("INSERT INTO mq.objects (id, name, kind, owner) VALUES ($1, $2, 'q', $3)",
					 3, otypes, oargs, NULL);
	}
	catalog_exec(insert.data, nopts + 1, types, values, nulls);

	/*
	 * The storage table.  Fixed-width NOT NULL columns come first so that
	 * "deliveries" sits at a fixed offset and can be rewritten in place.
	 * body allows NULL in every queue: allow_null_bodies only decides what
	 * sends accept, and a NULL body moved by dead-lettering, mq_move or
	 * mq_redrive goes to a queue that may not accept NULL sends.
	 * Autovacuum is tuned for a table whose rows are all deleted soon after
	 * they are inserted.
	 */
	snprintf(sql, sizeof(sql),
			 "CREATE %s TABLE mq.q_%d ("
			 " id pg_catalog.int8 NOT NULL,"
			 " visible_at pg_catalog.timestamptz NOT NULL,"
			 " enqueued_at pg_catalog.timestamptz NOT NULL,"
			 " rank pg_catalog.int2 NOT NULL,"
			 " deliveries pg_catalog.int4 NOT NULL,"
			 " headers pg_catalog.jsonb,"
			 " body pg_catalog.jsonb,"
			 " group_key pg_catalog.text,"
			 " promotion pg_catalog.int8,"
			 " CONSTRAINT q_%d_pkey PRIMARY KEY (rank, id)"
			 ") WITH (autovacuum_vacuum_scale_factor = 0.01,"
			 " autovacuum_vacuum_threshold = 1000,"
			 " autovacuum_vacuum_insert_scale_factor = 0.01,"
			 " autovacuum_vacuum_cost_delay = 0)",
			 persistence, id, id);
	catalog_ddl(sql);
	/* Delayed rows, for mq_queues (storage.c). */
	snprintf(sql, sizeof(sql),
			 "CREATE INDEX q_%d_delayed ON mq.q_%d (visible_at)"
			 " WHERE visible_at > enqueued_at", id, id);
	catalog_ddl(sql);
	/* Each message group's rows in id order, by a hash of the key (storage.c). */
	snprintf(sql, sizeof(sql),
			 "CREATE INDEX q_%d_groups ON mq.q_%d (pg_catalog.hashtext(group_key), id)"
			 " WHERE group_key IS NOT NULL", id, id);
	catalog_ddl(sql);
	snprintf(sql, sizeof(sql),
			 "CREATE %s SEQUENCE mq.q_%d_seq AS pg_catalog.int8 OWNED BY mq.q_%d.id",
			 persistence, id, id);
	catalog_ddl(sql);
	/* Idempotency keys (dedup.c). */
	snprintf(sql, sizeof(sql),
			 "CREATE %s TABLE mq.q_%d_keys ("
			 " key pg_catalog.text COLLATE \"C\" NOT NULL,"
			 " id pg_catalog.int8 NOT NULL,"
			 " sent_at pg_catalog.timestamptz NOT NULL,"
			 " CONSTRAINT q_%d_keys_pkey PRIMARY KEY (key))",
			 persistence, id, id);
	catalog_ddl(sql);

	catalog_changed();
	catalog_leave(&cxt);
	PG_RETURN_VOID();
}

/*
 * mq_alter_queue(queue, <options>, reset text[]): NULL options stay as they
 * are; options named in reset go back to their defaults.
 */
Datum
mq_alter_queue(PG_FUNCTION_ARGS)
{
	char		name[QUEUE_NAME_MAXLEN + 1];
	bool		reset[NUM_QUEUE_OPTIONS] = {0};
	StringInfoData sql;
	Datum		values[NUM_QUEUE_OPTIONS + 1];
	Oid			types[NUM_QUEUE_OPTIONS + 1];
	int			nargs = 1;
	int			i;
	CatalogContext cxt;
	int32		id;
	bool		any = false;
	bool		was_unlogged;
	bool		unlogged;
	int			nopts = opt_count(fcinfo);

	PreventCommandIfReadOnly("mq_alter_queue()");
	name_arg(fcinfo, 0, name);
	{
		const char *names[NUM_QUEUE_OPTIONS];
		int			argnos[NUM_QUEUE_OPTIONS];

		for (i = 0; i < nopts; i++)
		{
			names[i] = queue_options[i].name;
			argnos[i] = opt_arg(i);
		}
		args_reset(fcinfo, ARG_TRAILING, "queue", names, nopts, argnos, reset);
	}
	for (i = 0; i < nopts; i++)
		if (opt_given(fcinfo, i))
			check_option(i, PG_GETARG_DATUM(opt_arg(i)));

	catalog_enter(&cxt);
	catalog_lock();
	if (!catalog_find_checked(&cxt, name, 'q', PRIV_MANAGE, &id))
		catalog_report_missing("queue", "q", name);
	{
		Datum		arg = Int32GetDatum(id);
		Oid			argtype = INT4OID;
		bool		isnull;

		catalog_exec("SELECT unlogged FROM mq.queues WHERE id OPERATOR(pg_catalog.=) $1",
					 1, &argtype, &arg, NULL);
		was_unlogged = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
												  SPI_tuptable->tupdesc, 1, &isnull));
	}
	unlogged = was_unlogged;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "UPDATE mq.queues SET ");
	types[0] = INT4OID;
	values[0] = Int32GetDatum(id);
	for (i = 0; i < nopts; i++)
	{
		if (reset[i])
		{
			appendStringInfo(&sql, "%s%s = %s", any ? ", " : "",
							 queue_options[i].name, queue_options[i].default_sql);
			if (i == OPT_UNLOGGED)
				unlogged = false;
		}
		else if (opt_given(fcinfo, i))
		{
			types[nargs] = queue_options[i].type;
			values[nargs] = PG_GETARG_DATUM(opt_arg(i));
			if (i == OPT_DEAD_LETTER_QUEUE)
				values[nargs] = Int32GetDatum(resolve_dead_letter_queue(&cxt, name, values[nargs]));
			if (i == OPT_UNLOGGED)
				unlogged = DatumGetBool(values[nargs]);
			nargs++;
			appendStringInfo(&sql, "%s%s = $%d", any ? ", " : "",
							 queue_options[i].name, nargs);
		}
		else
			continue;
		any = true;
	}
	appendStringInfoString(&sql, " WHERE id OPERATOR(pg_catalog.=) $1");

	if (any)
	{
		catalog_exec(sql.data, nargs, types, values, NULL);
		if (unlogged != was_unlogged)
			set_storage_logged(id, unlogged);
		if (reset[OPT_MAX_LENGTH] || opt_given(fcinfo, OPT_MAX_LENGTH))
			qstate_depth_forget(catalog_storage_oid('q', id, "", false));
		catalog_changed();
	}
	catalog_leave(&cxt);

	/* A new allowance per group: each group's window takes its new size. */
	if (nopts > OPT_MAX_INFLIGHT_PER_GROUP &&
		(reset[OPT_MAX_INFLIGHT_PER_GROUP] || opt_given(fcinfo, OPT_MAX_INFLIGHT_PER_GROUP)))
	{
		QueueRel	qrel;

		/* Our own change reaches the cache at the next command: now. */
		catalog_invalidate_all();
		if (storage_open_by_name(&qrel, name, RowExclusiveLock, 0))
		{
			storage_regroup(&qrel);
			storage_close(&qrel);
		}
	}
	PG_RETURN_VOID();
}

/* mq_drop_queue(queue, if_exists) */
Datum
mq_drop_queue(PG_FUNCTION_ARGS)
{
	char		name[QUEUE_NAME_MAXLEN + 1];
	bool		if_exists;
	CatalogContext cxt;
	int32		id;
	char		sql[256];
	Datum		arg;
	Oid			argtype = INT4OID;
	Oid			relid;

	PreventCommandIfReadOnly("mq_drop_queue()");
	name_arg(fcinfo, 0, name);
	args_not_null(fcinfo, 1, "if_exists");
	if_exists = PG_GETARG_BOOL(1);

	catalog_enter(&cxt);
	catalog_lock();
	if (!catalog_find_checked(&cxt, name, 'q', PRIV_MANAGE, &id))
	{
		catalog_leave(&cxt);
		if (!if_exists || catalog_kind_of(name) != '\0')
			catalog_report_missing("queue", "q", name);
		ereport(NOTICE,
				(errmsg("queue \"%s\" does not exist, skipping", name)));
		PG_RETURN_BOOL(false);
	}

	arg = Int32GetDatum(id);
	catalog_exec("SELECT pg_catalog.string_agg(pg_catalog.quote_ident(o.name), ', ' ORDER BY o.name)"
				 "  FROM mq.queues q JOIN mq.objects o ON o.id OPERATOR(pg_catalog.=) q.id"
				 " WHERE q.dead_letter_queue OPERATOR(pg_catalog.=) $1",
				 1, &argtype, &arg, NULL);
	{
		bool		isnull;
		Datum		users = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

		if (!isnull)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("cannot drop queue \"%s\" because other queues use it as their dead-letter queue", name),
					 errdetail("Used by: %s.", TextDatumGetCString(users)),
					 errhint("Change or reset dead_letter_queue of those queues first.")));
	}

	relid = catalog_storage_oid('q', id, "", true);
	catalog_exec("DELETE FROM mq.objects WHERE id OPERATOR(pg_catalog.=) $1",
				 1, &argtype, &arg, NULL);
	snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS mq.q_%d, mq.q_%d_keys", id, id);
	catalog_ddl(sql);
	if (OidIsValid(relid))
		lease_forget_queue_at_commit(relid);
	catalog_changed();
	catalog_leave(&cxt);
	PG_RETURN_BOOL(true);
}
