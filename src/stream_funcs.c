/*-------------------------------------------------------------------------
 *
 * stream_funcs.c
 *	  The SQL functions of streams: mq_create_stream, mq_alter_stream,
 *	  mq_drop_stream, mq_append, mq_append_batch, mq_stream_read and the
 *	  figures of mq_streams.  Each checks its arguments and privileges and
 *	  calls stream.c, which keeps the streams' storage: segments, appends,
 *	  partitioning and scans.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "args.h"
#include "catalog.h"
#include "compat.h"
#include "lease.h"
#include "perms.h"
#include "position.h"
#include "stream.h"
#include "util.h"

#define STREAM_PARTITIONS_MAX	1024

PG_FUNCTION_INFO_V1(mq_create_stream);
PG_FUNCTION_INFO_V1(mq_alter_stream);
PG_FUNCTION_INFO_V1(mq_drop_stream);
PG_FUNCTION_INFO_V1(mq_append);
PG_FUNCTION_INFO_V1(mq_append_batch);
PG_FUNCTION_INFO_V1(mq_stream_read);
PG_FUNCTION_INFO_V1(mq_stream_figures);

/* Options of mq_create_stream / mq_alter_stream, in argument order. */
typedef enum StreamOption
{
	SOPT_MAX_AGE,
	SOPT_MAX_BYTES,
	SOPT_MAX_MESSAGES,
	SOPT_DEDUP_WINDOW,
	NUM_STREAM_OPTIONS
} StreamOption;

static const struct
{
	const char *name;
	Oid			type;
	const char *default_sql;
}			stream_options[NUM_STREAM_OPTIONS] =
{
	{"max_age", INTERVALOID, "NULL"},
	{"max_bytes", INT8OID, "NULL"},
	{"max_messages", INT8OID, "NULL"},
	{"dedup_window", INTERVALOID, "'1 day'"},
};

static void
check_stream_option(int opt, Datum value)
{
	switch (opt)
	{
		case SOPT_MAX_AGE:
			if (!util_interval_is_negative(DatumGetIntervalP(value)))
				util_interval_check_size(DatumGetIntervalP(value), "max_age");
			if (util_interval_is_negative(DatumGetIntervalP(value)) ||
				util_timestamp_plus_interval(0, DatumGetIntervalP(value)) == 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("max_age must be positive or NULL")));
			break;
		case SOPT_MAX_BYTES:
		case SOPT_MAX_MESSAGES:
			if (DatumGetInt64(value) < 1)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("%s must be at least 1 or NULL", stream_options[opt].name),
						 errdetail("The value given was %lld.", (long long) DatumGetInt64(value))));
			break;
		case SOPT_DEDUP_WINDOW:
			if (util_interval_is_negative(DatumGetIntervalP(value)))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("dedup_window must not be negative")));
			util_interval_check_size(DatumGetIntervalP(value), "dedup_window");
			break;
	}
}

/*
 * if_not_exists on a stream that exists: the options of the call whose
 * values differ from the stream's (comma-separated), or NULL.
 */
static char *
stream_options_differ(FunctionCallInfo fcinfo, int32 id)
{
	const char *names[NUM_STREAM_OPTIONS + 1];
	Oid			types[NUM_STREAM_OPTIONS + 1];
	Datum		values[NUM_STREAM_OPTIONS + 1];
	char		nulls[NUM_STREAM_OPTIONS + 1];
	int			i;

	names[0] = "partitions";
	types[0] = INT4OID;
	values[0] = PG_GETARG_DATUM(1);
	nulls[0] = ' ';
	for (i = 0; i < NUM_STREAM_OPTIONS; i++)
	{
		names[i + 1] = stream_options[i].name;
		types[i + 1] = stream_options[i].type;
		values[i + 1] = PG_ARGISNULL(i + 2) ? (Datum) 0 : PG_GETARG_DATUM(i + 2);
		nulls[i + 1] = PG_ARGISNULL(i + 2) ? 'n' : ' ';
	}
	return catalog_options_differ("mq.streams", id, NUM_STREAM_OPTIONS + 1, names, names,
								  types, values, nulls);
}

/*
 * mq_create_stream(stream, partitions, max_age, max_bytes, max_messages,
 *					dedup_window, if_not_exists)
 */
Datum
mq_create_stream(PG_FUNCTION_ARGS)
{
	char		name[QUEUE_NAME_MAXLEN + 1];
	CatalogContext cxt;
	int32		id;
	char		kind;
	int32		partitions;
	bool		if_not_exists;
	char		sql[512];
	int			i;

	PreventCommandIfReadOnly("mq_create_stream()");
	stream_arg(fcinfo, 0, name);
	partitions = args_int_range(fcinfo, 1, "partitions", 1, STREAM_PARTITIONS_MAX);
	for (i = 0; i < NUM_STREAM_OPTIONS; i++)
	{
		if (PG_ARGISNULL(i + 2))
		{
			if (i == SOPT_DEDUP_WINDOW)
				args_not_null(fcinfo, i + 2, "dedup_window");
		}
		else
			check_stream_option(i, PG_GETARG_DATUM(i + 2));
	}
	args_not_null(fcinfo, 6, "if_not_exists");
	if_not_exists = PG_GETARG_BOOL(6);

	catalog_enter(&cxt);
	catalog_lock();
	if (catalog_find_locked(name, &id, &kind))
	{
		if (if_not_exists && kind == 's')
		{
			char	   *differ = stream_options_differ(fcinfo, id);

			catalog_leave(&cxt);
			catalog_exists_notice("stream", name, differ, "mq_alter_stream");
			PG_RETURN_VOID();
		}
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 kind == 's' ?
				 errmsg("stream \"%s\" already exists", name) :
				 errmsg("a %s named \"%s\" already exists", util_kind_name(kind), name),
				 errdetail("Queues, topics and streams share one namespace.")));
	}
	catalog_exec("SELECT pg_catalog.nextval('mq.object_id_seq'::pg_catalog.regclass)::pg_catalog.int4",
				 0, NULL, NULL, NULL);
	{
		bool		isnull;
		Datum		args[6];
		char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
		Oid			types[6] = {INT4OID, TEXTOID, REGROLEOID};

		id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		args[0] = Int32GetDatum(id);
		args[1] = CStringGetTextDatum(name);
		args[2] = ObjectIdGetDatum(cxt.save_userid);
		catalog_exec("INSERT INTO mq.objects (id, name, kind, owner) VALUES ($1, $2, 's', $3)",
					 3, types, args, NULL);
		types[1] = INT4OID;
		args[1] = Int32GetDatum(partitions);
		for (i = 0; i < NUM_STREAM_OPTIONS; i++)
		{
			types[i + 2] = stream_options[i].type;
			args[i + 2] = PG_ARGISNULL(i + 2) ? (Datum) 0 : PG_GETARG_DATUM(i + 2);
			nulls[i + 2] = PG_ARGISNULL(i + 2) ? 'n' : ' ';
		}
		catalog_exec("INSERT INTO mq.streams (id, partitions, max_age, max_bytes,"
					 " max_messages, dedup_window) VALUES ($1, $2, $3, $4, $5, $6)",
					 6, types, args, nulls);
	}
	snprintf(sql, sizeof(sql),
			 "CREATE TABLE mq.s_%d_groups ("
			 " consumer_group pg_catalog.text COLLATE \"C\" NOT NULL,"
			 " partition pg_catalog.int4 NOT NULL,"
			 " position pg_catalog.int8 NOT NULL,"
			 " CONSTRAINT s_%d_groups_pkey PRIMARY KEY (consumer_group, partition))",
			 id, id);
	catalog_ddl(sql);
	snprintf(sql, sizeof(sql),
			 "CREATE TABLE mq.s_%d_keys ("
			 " key pg_catalog.text COLLATE \"C\" NOT NULL,"
			 " id pg_catalog.int8 NOT NULL,"
			 " sent_at pg_catalog.timestamptz NOT NULL,"
			 " CONSTRAINT s_%d_keys_pkey PRIMARY KEY (key))",
			 id, id);
	catalog_ddl(sql);
	stream_create_segment(id, 0);
	catalog_changed();
	catalog_leave(&cxt);
	PG_RETURN_VOID();
}

/*
 * mq_alter_stream(stream, max_age, max_bytes, max_messages, dedup_window,
 *				   reset): NULL options stay as they are; options named in
 * reset go back to their defaults.
 */
Datum
mq_alter_stream(PG_FUNCTION_ARGS)
{
	char		name[QUEUE_NAME_MAXLEN + 1];
	bool		reset[NUM_STREAM_OPTIONS] = {0};
	StringInfoData sql;
	Datum		values[NUM_STREAM_OPTIONS + 1];
	Oid			types[NUM_STREAM_OPTIONS + 1];
	int			nargs = 1;
	bool		any = false;
	CatalogContext cxt;
	int32		id;
	int			i;

	PreventCommandIfReadOnly("mq_alter_stream()");
	stream_arg(fcinfo, 0, name);
	{
		const char *names[NUM_STREAM_OPTIONS];

		for (i = 0; i < NUM_STREAM_OPTIONS; i++)
			names[i] = stream_options[i].name;
		args_reset(fcinfo, NUM_STREAM_OPTIONS + 1, "stream", names, NUM_STREAM_OPTIONS, NULL,
				   reset);
	}
	for (i = 0; i < NUM_STREAM_OPTIONS; i++)
		if (!PG_ARGISNULL(i + 1))
			check_stream_option(i, PG_GETARG_DATUM(i + 1));

	catalog_enter(&cxt);
	catalog_lock();
	if (!catalog_find_checked(&cxt, name, 's', PRIV_MANAGE, &id))
		catalog_report_missing("stream", "s", name);
	initStringInfo(&sql);
	appendStringInfoString(&sql, "UPDATE mq.streams SET ");
	types[0] = INT4OID;
	values[0] = Int32GetDatum(id);
	for (i = 0; i < NUM_STREAM_OPTIONS; i++)
	{
		if (reset[i])
			appendStringInfo(&sql, "%s%s = %s", any ? ", " : "",
							 stream_options[i].name, stream_options[i].default_sql);
		else if (!PG_ARGISNULL(i + 1))
		{
			types[nargs] = stream_options[i].type;
			values[nargs] = PG_GETARG_DATUM(i + 1);
			nargs++;
			appendStringInfo(&sql, "%s%s = $%d", any ? ", " : "",
							 stream_options[i].name, nargs);
		}
		else
			continue;
		any = true;
	}
	appendStringInfoString(&sql, " WHERE id OPERATOR(pg_catalog.=) $1");
	if (any)
	{
		catalog_exec(sql.data, nargs, types, values, NULL);
		catalog_changed();
	}
	catalog_leave(&cxt);
	PG_RETURN_VOID();
}

/* mq_drop_stream(stream, if_exists) -> boolean */
Datum
mq_drop_stream(PG_FUNCTION_ARGS)
{
	char		name[QUEUE_NAME_MAXLEN + 1];
	CatalogContext cxt;
	int32		id;
	char		sql[128];
	Datum		arg;
	Oid			argtype = INT4OID;
	uint64		i;
	int32	   *segs;
	uint64		nsegs;

	PreventCommandIfReadOnly("mq_drop_stream()");
	stream_arg(fcinfo, 0, name);
	args_not_null(fcinfo, 1, "if_exists");

	catalog_enter(&cxt);
	catalog_lock();
	if (!catalog_find_checked(&cxt, name, 's', PRIV_MANAGE, &id))
	{
		catalog_leave(&cxt);
		if (!PG_GETARG_BOOL(1) || catalog_kind_of(name) != '\0')
			catalog_report_missing("stream", "s", name);
		ereport(NOTICE,
				(errmsg("stream \"%s\" does not exist, skipping", name)));
		PG_RETURN_BOOL(false);
	}
	arg = Int32GetDatum(id);
	catalog_exec("SELECT seg FROM mq.stream_segments WHERE stream OPERATOR(pg_catalog.=) $1",
				 1, &argtype, &arg, NULL);
	nsegs = SPI_processed;
	segs = palloc(sizeof(int32) * Max(nsegs, 1));
	for (i = 0; i < nsegs; i++)
	{
		bool		isnull;

		segs[i] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc,
											  1, &isnull));
	}
	/* Shared state keyed by the identity table goes at commit. */
	lease_forget_queue_at_commit(catalog_storage_oid('s', id, "_groups", false));
	catalog_exec("DELETE FROM mq.objects WHERE id OPERATOR(pg_catalog.=) $1",
				 1, &argtype, &arg, NULL);
	for (i = 0; i < nsegs; i++)
	{
		snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS mq.s_%d_%d", id, segs[i]);
		catalog_ddl(sql);
	}
	snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS mq.s_%d_groups", id);
	catalog_ddl(sql);
	snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS mq.s_%d_keys", id);
	catalog_ddl(sql);
	catalog_changed();
	catalog_leave(&cxt);
	PG_RETURN_BOOL(true);
}

/* mq_append(stream, body, key, headers, idempotency_key) -> (partition, position) */
Datum
mq_append(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char		name[QUEUE_NAME_MAXLEN + 1];
	Appender	a;
	Datum		body;
	Datum		key = (Datum) 0;
	bool		knull = PG_ARGISNULL(2);
	Datum		headers;
	bool		hnull = PG_ARGISNULL(3);
	Datum		ikey = (Datum) 0;
	bool		iknull = PG_ARGISNULL(4);

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	args_not_null(fcinfo, 1, "body");
	body = PG_GETARG_DATUM(1);
	if (!knull)
		key = PG_GETARG_DATUM(2);
	headers = args_headers(hnull ? (Datum) 0 : PG_GETARG_DATUM(3), hnull);
	if (!iknull)
	{
		ikey = PG_GETARG_DATUM(4);
		args_idempotency_key(DatumGetTextPP(ikey));
	}
	stream_arg(fcinfo, 0, name);
	stream_appender_open(name, "mq_append()", &a);
	stream_append_records(&a, rsinfo, 1, &body, &key, &knull, &headers, &hnull, &ikey, &iknull);
	stream_appender_close(&a);
	return (Datum) 0;
}

/* mq_append_batch(stream, bodies, keys, headers, idempotency_keys) */
Datum
mq_append_batch(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char		name[QUEUE_NAME_MAXLEN + 1];
	Appender	a;
	Datum	   *bodies;
	Datum	   *keys;
	bool	   *knulls;
	Datum	   *headers;
	bool	   *hnulls;
	Datum	   *ikeys;
	bool	   *iknulls;
	int			n;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	n = args_bodies(fcinfo, 1, &bodies, NULL);
	args_parallel_array(fcinfo, 2, "keys", TEXTOID, "bodies", n, &keys, &knulls);
	args_parallel_array(fcinfo, 3, "headers", JSONBOID, "bodies", n, &headers, &hnulls);
	args_parallel_array(fcinfo, 4, "idempotency_keys", TEXTOID, "bodies", n, &ikeys, &iknulls);

	stream_arg(fcinfo, 0, name);
	stream_appender_open(name, "mq_append_batch()", &a);
	if (n > 0)
		stream_append_records(&a, rsinfo, n, bodies, keys, knulls, headers, hnulls, ikeys, iknulls);
	stream_appender_close(&a);
	return (Datum) 0;
}

/* mq_stream_read(stream, partition, from_position, max) -> SETOF mq_record */
Datum
mq_stream_read(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char		name[QUEUE_NAME_MAXLEN + 1];
	StreamInfo *s;
	int32		partition;
	int64		from;
	ReadState	rs;

	stream_init_result(fcinfo);
	stream_arg(fcinfo, 0, name);
	args_not_null(fcinfo, 2, "from_position");
	from = PG_GETARG_INT64(2);
	if (from < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("from_position must not be negative"),
				 errdetail("The value given was %lld.", (long long) from)));
	rs.max = args_int_range(fcinfo, 3, "max", 1, QUEUE_QTY_MAX);
	stream_prevent_read_during_recovery("mq_stream_read()");
	s = stream_open(name, PRIV_READ);
	partition = stream_partition_arg(fcinfo, 1, s);
	rs.rsinfo = rsinfo;
	rs.got = 0;
	(void) stream_scan_partition(s, partition, from, stream_put_record, &rs);
	return (Datum) 0;
}

/* ---------------------------------------------------------------------
 * Figures for the mq_streams view
 * ---------------------------------------------------------------------
 */

typedef struct Figures
{
	int64		first;
	int64		last;
	int64		records;
	int64		bytes;
} Figures;

static bool
count_record(void *arg, TupleTableSlot *slot)
{
	Figures    *f = (Figures *) arg;
	bool		isnull;
	int64		position = DatumGetInt64(slot_getattr(slot, Anum_rec_position, &isnull));
	int			i;

	if (f->records == 0)
		f->first = position;
	f->last = position;
	f->records++;
	slot_getallattrs(slot);
	for (i = 0; i < Natts_rec; i++)
		if (!slot->tts_isnull[i])
		{
			Form_pg_attribute att = TupleDescAttr(slot->tts_tupleDescriptor, i);

			f->bytes += att->attlen > 0 ? att->attlen :
				toast_datum_size(slot->tts_values[i]);
		}
	return true;
}

/*
 * mq.stream_figures(stream) -> (partition, first_position, next_position,
 * records, bytes) per partition; NULL figures on a standby and for a stream
 * that is gone.
 */
Datum
mq_stream_figures(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char		name[QUEUE_NAME_MAXLEN + 1];
	StreamInfo *s;
	int32		p;

	InitMaterializedSRF(fcinfo, 0);
	stream_arg(fcinfo, 0, name);
	s = stream_lookup(name);
	if (s == NULL || !perms_visible(&s->perms, GetUserId()))
		return (Datum) 0;
	for (p = 0; p < s->partitions; p++)
	{
		Datum		values[5];
		bool		nulls[5] = {false, true, true, true, true};

		values[0] = Int32GetDatum(p);
		if (!RecoveryInProgress())
		{
			Figures		f = {0, 0, 0, 0};
			int64		next = position_next(s->ident, p);

			(void) stream_scan_partition(s, p, 0, count_record, &f);
			if (next < 0)
				next = f.records > 0 ? f.last + 1 : stream_next_from_storage(s, p);
			values[1] = Int64GetDatum(f.records > 0 ? f.first : next);
			values[2] = Int64GetDatum(next);
			values[3] = Int64GetDatum(f.records);
			values[4] = Int64GetDatum(f.bytes);
			nulls[1] = nulls[2] = nulls[3] = nulls[4] = false;
		}
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
