/*-------------------------------------------------------------------------
 *
 * queue_ops.c
 *	  The SQL-callable queue functions: send, read, pop, peek, ack, nack,
 *	  extend, purge (SPEC section 3).
 *
 * Each function checks its arguments (SPEC section 2 gives the SQLSTATEs),
 * resolves the queue through the catalog cache and does its work through
 * delivery.c (taking and settling messages), storage.c (rows) and lease.c
 * (leases).  None is STRICT: a NULL where a value is required is an error,
 * not a silent NULL result.
 *
 * How a read, an ack and a rollback fit together:
 *	  read	 scan ready rows in (priority, id) order; for each, take a lease
 *			 in shared memory and count the delivery in the row, in place.
 *	  ack	 mark the lease SETTLING, delete the row; at commit the lease
 *			 goes, at abort it is ACTIVE again and the row is still there.
 *	  nack	 mark the lease SETTLING, update visible_at if delayed; at commit
 *			 the lease goes and the message is ready (after the delay).
 *	  abort	 of a reading transaction drops its leases: ready again at once,
 *			 the delivery still counted.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "args.h"
#include "catalog.h"
#include "dedup.h"
#include "horizon.h"
#include "delivery.h"
#include "lease.h"
#include "perms.h"
#include "policy.h"
#include "qstate.h"
#include "queue_info.h"
#include "queue_ops.h"
#include "storage.h"
#include "stream.h"
#include "util.h"
#include "wakeup.h"

PG_FUNCTION_INFO_V1(mq_send);
PG_FUNCTION_INFO_V1(mq_send_batch);
PG_FUNCTION_INFO_V1(mq_read);
PG_FUNCTION_INFO_V1(mq_pop);
PG_FUNCTION_INFO_V1(mq_peek);
PG_FUNCTION_INFO_V1(mq_ack);
PG_FUNCTION_INFO_V1(mq_ack_array);
PG_FUNCTION_INFO_V1(mq_ack_text);
PG_FUNCTION_INFO_V1(mq_nack);
PG_FUNCTION_INFO_V1(mq_extend);
PG_FUNCTION_INFO_V1(mq_purge);
PG_FUNCTION_INFO_V1(mq_redrive);
PG_FUNCTION_INFO_V1(mq_inspect);
PG_FUNCTION_INFO_V1(mq_delete);
PG_FUNCTION_INFO_V1(mq_remove);
PG_FUNCTION_INFO_V1(mq_delay);
PG_FUNCTION_INFO_V1(mq_move);
PG_FUNCTION_INFO_V1(mq_import);

/* Columns of the mq_message type (8 in a catalog before max_deliveries). */
#define Natts_mq_message 10

/* ---------------------------------------------------------------------
 * Argument checks
 * ---------------------------------------------------------------------
 */

static bool
interval_is_zero(const Interval *iv)
{
	return iv->month == 0 && iv->day == 0 && iv->time == 0;
}

/* ---------------------------------------------------------------------
 * Opening a queue
 * ---------------------------------------------------------------------
 */

/*
 * Validate the queue name argument and open the queue's storage.  Functions
 * that change anything (all but peek) must not run read-only.
 */
static void
open_queue_named(const char *name, const char *fname, bool writes, int privs,
				 QueueRel *qrel)
{
	if (writes)
		PreventCommandIfReadOnly(fname);
	/* Leases are known only on the primary. */
	PreventCommandDuringRecovery(fname);
	if (!storage_open_by_name(qrel, name, writes ? RowExclusiveLock : AccessShareLock, privs))
		catalog_report_missing("queue", "q", name);
}

static void
open_queue(FunctionCallInfo fcinfo, int argno, const char *fname, bool writes,
		   int privs, QueueRel *qrel)
{
	char		name[QUEUE_NAME_MAXLEN + 1];

	args_name_arg(fcinfo, argno, "queue", "queue", name);
	open_queue_named(name, fname, writes, privs, qrel);
}

/* ---------------------------------------------------------------------
 * Results
 * ---------------------------------------------------------------------
 */

static void
put_message(ReturnSetInfo *rsinfo, StoredMsg *m, bool with_receipt, int32 max_deliveries)
{
	Datum		values[Natts_mq_message];
	bool		nulls[Natts_mq_message] = {0};

	values[0] = Int64GetDatum(m->id);
	values[1] = Int64GetDatum(m->receipt);
	nulls[1] = !with_receipt;
	values[2] = storage_detoast(m->body);
	nulls[2] = (m->body == (Datum) 0);
	values[3] = storage_detoast(m->headers);
	nulls[3] = (m->headers == (Datum) 0);
	values[4] = Int32GetDatum(m->deliveries);
	values[5] = Int32GetDatum(storage_priority(m->rank));
	values[6] = TimestampTzGetDatum(m->enqueued_at);
	values[7] = TimestampTzGetDatum(m->visible_at);
	values[8] = Int32GetDatum(max_deliveries);
	nulls[8] = max_deliveries == 0;
	values[9] = m->group_key;
	nulls[9] = m->group_key == (Datum) 0;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* ---------------------------------------------------------------------
 * Sending
 * ---------------------------------------------------------------------
 */

/*
 * Make room for nnew more messages under max_length, or raise 53400.  The
 * count is the committed depth plus this transaction's own changes, so
 * sends that commit at the same moment can each see room for themselves:
 * the depth can overshoot by their number, no more.
 */
static void
enforce_max_length(QueueRel *qrel, int64 nnew)
{
	QueueInfo  *info = qrel->info;
	int64		depth;

	if (delivery_make_room(qrel, nnew, &depth))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
			 errmsg("queue \"%s\" is full", info->name),
			 errdetail("It holds %lld messages, max_length is %lld, and this send adds %lld.",
					   (long long) depth, (long long) info->max_length, (long long) nnew),
			 info->drop_oldest ?
			 errhint("overflow is drop_oldest, but not enough ready messages could be dropped to make room.") :
			 errhint("Consume messages, or raise max_length with mq_alter_queue.")));
}

/*
 * Refuse a NULL body unless the queue allows NULL bodies.  null_at: 0 if
 * there is none, -1 for the body of a single send, else the place of the
 * first NULL in a batch, counted from 1.
 */
static void
check_null_body(QueueRel *qrel, int null_at)
{
	if (null_at == 0 || qrel->info->allow_null_bodies)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 null_at < 0 ? errmsg("body must not be NULL") :
			 errmsg("bodies must not contain NULL"),
			 null_at > 0 ? errdetail("Element %d is NULL.", null_at) : 0,
			 errhint("Queue \"%s\" does not accept NULL bodies: see its option allow_null_bodies.",
					 qrel->info->name)));
}

/*
 * Send one message (arguments checked; body (Datum) 0 for NULL) to queue
 * name as the current role: its id, or for a key sent before within the
 * window the first message's.
 */
int64
queue_ops_send(const char *name, Datum body, Datum headers, const Interval *delay,
			   int32 priority, text *key, Datum group)
{
	QueueRel	qrel;
	TimestampTz now;
	int64		id;
	ItemPointerData stale;

	open_queue_named(name, "mq_send()", true, PRIV_SEND, &qrel);
	check_null_body(&qrel, body == (Datum) 0 ? -1 : 0);
	now = GetCurrentTimestamp();
	if (key != NULL && (id = dedup_lookup(&qrel.keys, key, now, &stale, NULL)) != 0)
	{
		storage_close(&qrel);
		return id;
	}
	enforce_max_length(&qrel, 1);
	storage_lock_groups(&qrel, 1, &group);
	id = storage_next_id(&qrel);
	storage_insert(&qrel, 1, &id, util_timestamp_plus_interval(now, delay), now,
				   QUEUE_PRIORITY_MAX - priority,
				   headers ? &headers : NULL, &body, group ? &group : NULL);
	if (key != NULL)
		dedup_record(&qrel.keys, key, id, now, &stale);
	storage_close(&qrel);
	return id;
}

/*
 * mq_send(queue, body, headers, delay, priority, idempotency_key, group_key)
 *	  -> id
 */
Datum
mq_send(PG_FUNCTION_ARGS)
{
	char		name[QUEUE_NAME_MAXLEN + 1];
	Datum		body;
	Datum		headers;
	Interval   *delay;
	int32		priority;
	text	   *key = NULL;
	Datum		group;

	body = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	headers = args_headers(PG_GETARG_DATUM(2), PG_ARGISNULL(2));
	delay = args_interval(fcinfo, 3, "delay", false);
	priority = args_int_range(fcinfo, 4, "priority", 0, QUEUE_PRIORITY_MAX);
	if (!PG_ARGISNULL(5))
	{
		key = PG_GETARG_TEXT_PP(5);
		args_idempotency_key(key);
	}
	group = args_group_key_arg(fcinfo, 6);
	args_name_arg(fcinfo, 0, "queue", "queue", name);
	PG_RETURN_INT64(queue_ops_send(name, body, headers, delay, priority, key, group));
}

/*
 * mq_send_batch(queue, bodies, headers, delay, priority, idempotency_keys,
 *				 group_keys)
 *	  -> SETOF id, in the order of bodies
 *
 * A body whose key was sent before (also earlier in the same batch) is not
 * sent again; its place in the result holds the first message's id.
 */
Datum
mq_send_batch(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	QueueRel	qrel;
	Datum	   *bodies;
	int			n;
	Datum	   *headers = NULL;
	bool	   *hnulls = NULL;
	Datum	   *keys = NULL;
	bool	   *knulls = NULL;
	Datum	   *groups = NULL;
	bool	   *gnulls = NULL;
	Interval   *delay;
	int32		priority;
	TimestampTz now;
	int64	   *ids;
	int64	   *newids;
	int			nnew = 0;
	int			null_at;
	int			i;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	n = args_bodies(fcinfo, 1, &bodies, &null_at);
	args_parallel_array(fcinfo, 2, "headers", JSONBOID, "bodies", n, &headers, &hnulls);
	delay = args_interval(fcinfo, 3, "delay", false);
	priority = args_int_range(fcinfo, 4, "priority", 0, QUEUE_PRIORITY_MAX);
	args_parallel_array(fcinfo, 5, "idempotency_keys", TEXTOID, "bodies", n, &keys, &knulls);
	if (PG_NARGS() > 6)
		args_parallel_array(fcinfo, 6, "group_keys", TEXTOID, "bodies", n, &groups, &gnulls);
	if (groups != NULL)
		for (i = 0; i < n; i++)
			if (gnulls[i])
				groups[i] = (Datum) 0;

	open_queue(fcinfo, 0, "mq_send_batch()", true, PRIV_SEND, &qrel);
	check_null_body(&qrel, null_at);
	if (n == 0)
	{
		storage_close(&qrel);
		return (Datum) 0;
	}
	now = GetCurrentTimestamp();
	ids = palloc(n * sizeof(int64));
	newids = palloc(n * sizeof(int64));

	/*
	 * Give each new message its id and record its key at once, so that a
	 * later duplicate in the same batch finds it; the new messages are then
	 * moved to the front of bodies/headers for one insert.
	 */
	dedup_lock_batch(&qrel.keys, keys, knulls, n);
	/* Before the ids: a group's ids follow the order of its sends' locks. */
	storage_lock_groups(&qrel, n, groups);
	for (i = 0; i < n; i++)
	{
		if (keys != NULL && !knulls[i])
		{
			text	   *key = DatumGetTextPP(keys[i]);
			ItemPointerData stale;

			ids[i] = dedup_lookup(&qrel.keys, key, now, &stale, NULL);
			if (ids[i] != 0)
				continue;
			ids[i] = storage_next_id(&qrel);
			dedup_record(&qrel.keys, key, ids[i], now, &stale);
		}
		else
			ids[i] = storage_next_id(&qrel);
		newids[nnew] = ids[i];
		bodies[nnew] = bodies[i];
		if (headers)
			headers[nnew] = headers[i];
		if (groups)
			groups[nnew] = groups[i];
		nnew++;
	}
	enforce_max_length(&qrel, nnew);
	if (nnew > 0)
		storage_insert(&qrel, nnew, newids, util_timestamp_plus_interval(now, delay), now,
					   QUEUE_PRIORITY_MAX - priority, headers, bodies, groups);
	storage_close(&qrel);

	for (i = 0; i < n; i++)
	{
		Datum		v = Int64GetDatum(ids[i]);
		bool		isnull = false;

		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, &v, &isnull);
	}
	return (Datum) 0;
}

/* ---------------------------------------------------------------------
 * Reading
 * ---------------------------------------------------------------------
 */

/* mq_redrive looks past at most this many letters it cannot move. */
#define REDRIVE_KEEP_MAX 10000

static void
receipt_error(LeaseCheck check, const char *queue, int64 receipt)
{
	switch (check)
	{
		case LEASE_STALE:
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("stale receipt %lld for queue \"%s\"", (long long) receipt, queue),
					 errdetail("The lease expired and the message was delivered again with a new receipt."),
					 errhint("Use a longer visibility timeout or call mq_extend while working.")));
			break;
		case LEASE_BUSY:
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("receipt %lld for queue \"%s\" is already being acked or nacked",
							(long long) receipt, queue),
					 errdetail("This delivery was acked or nacked earlier in this transaction or by a transaction still in progress.")));
			break;
		default:
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("unknown receipt %lld for queue \"%s\"", (long long) receipt, queue),
					 lease_could_be_receipt(receipt) ?
					 errdetail("No current delivery of this queue has this receipt: the message was acked, deleted or purged, delivered again more than once since, or the lease was lost in a server restart.") :
					 errdetail("No receipt is this small: %lld looks like a message id.", (long long) receipt),
					 lease_could_be_receipt(receipt) ? 0 :
					 errhint("Pass the receipt column of mq_read's result, not the id.")));
			break;
	}
}

/*
 * The receipts acked as one mq_ack(queue, receipts, strict) call acks them;
 * returns how many.
 */
static int64
ack_receipts(QueueRel *qrel, const int64 *receipts, int n, bool strict)
{
	int64		acked = 0;
	LeaseTarget *targets = NULL;
	int			i;

	/*
	 * Lock the messages' groups first, in one order for everyone, so that
	 * batch acks and sends of the same groups cannot deadlock.  Storage
	 * without groups has no message of one.  The receipts looked up for
	 * that are not looked up again.
	 */
	if (n > 1 && qrel->has_groups)
	{
		uint32	   *groups = palloc(n * sizeof(uint32));
		int			ngroups = 0;

		targets = palloc(n * sizeof(LeaseTarget));
		for (i = 0; i < n; i++)
		{
			lease_resolve(RelationGetRelid(qrel->heap), receipts[i], &targets[i]);
			if (targets[i].known && targets[i].grouped)
				groups[ngroups++] = targets[i].group;
		}
		storage_lock_group_hashes(qrel, groups, ngroups);
		pfree(groups);
	}
	for (i = 0; i < n; i++)
	{
		LeaseCheck	check = delivery_settle(qrel, receipts[i], targets ? &targets[i] : NULL,
											HOW_ACK, 0, NULL);

		if (check == LEASE_OK)
			acked++;
		else if (strict)
			receipt_error(check, qrel->info->name, receipts[i]);
	}
	if (targets != NULL)
		pfree(targets);
	return acked;
}

/*
 * What read, pop and peek share.  A read first acks the nack receipts in
 * ack (0: none), as mq_ack(queue, ack, strict => false) would; one that
 * removed a message does not wait.  With filter ((Datum) 0: none) it takes
 * only messages whose body contains it.
 */
static Datum
take_srf(FunctionCallInfo fcinfo, TakeMode mode, const char *fname, int qty,
		 const Interval *vt, int64 wait, const int64 *ack, int nack, Datum filter)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	QueueRel	qrel;
	StoredMsg  *msgs;
	TimestampTz deadline = 0;
	QueueState *qs = NULL;
	int32		max_deliveries;
	bool		release_horizon = false;
	int			n;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	open_queue(fcinfo, 0, fname, mode != TAKE_PEEK, PRIV_READ, &qrel);
	if (mode == TAKE_LEASE && vt == NULL)
		vt = &qrel.info->visibility_timeout;
	/* A transaction that has written must not sleep holding it. */
	if (nack > 0 && ack_receipts(&qrel, ack, nack, false) > 0)
		wait = 0;
	msgs = palloc(qty * sizeof(StoredMsg));
	if (wait > 0)
	{
		deadline = GetCurrentTimestamp() + wait;
		qs = qstate_get(RelationGetRelid(qrel.heap));
		release_horizon = horizon_call_stands_alone(fcinfo);
	}
	for (;;)
	{
		TimestampTz next_visible;

		/* Register before looking, so that no commit goes unnoticed. */
		if (qs != NULL)
			wakeup_register(qs, RelationGetRelid(qrel.heap));
		n = delivery_take(&qrel, mode, qty, vt, filter, msgs, &next_visible);
		if (n > 0 || qs == NULL ||
			!delivery_wait(&qrel, qs, deadline, next_visible, release_horizon))
			break;
	}
	wakeup_unregister();
	max_deliveries = qrel.info->max_deliveries;
	storage_close(&qrel);
	for (i = 0; i < n; i++)
		put_message(rsinfo, &msgs[i], mode == TAKE_LEASE, max_deliveries);
	return (Datum) 0;
}

/*
 * mq_read(queue, qty, vt, wait, ack, filter) -> SETOF mq_message.  (A
 * catalog from before ack and filter were added calls it with four
 * arguments.)
 */
Datum
mq_read(PG_FUNCTION_ARGS)
{
	int			qty = args_int_range(fcinfo, 1, "qty", 1, QUEUE_QTY_MAX);
	Interval   *vt = args_interval(fcinfo, 2, "vt", true);
	int64		wait = args_wait(fcinfo, 3);
	int64	   *ack = NULL;
	int			nack = 0;
	Datum		filter = (Datum) 0;

	if (PG_NARGS() > 4 && !PG_ARGISNULL(4))
		nack = args_int8_array(fcinfo, 4, "ack", &ack);
	if (PG_NARGS() > 5 && !PG_ARGISNULL(5))
		filter = PG_GETARG_DATUM(5);
	if (wait > 0 && IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a waiting mq_read needs READ COMMITTED isolation"),
				 errdetail("In REPEATABLE READ and SERIALIZABLE the transaction snapshot is held for the whole wait."),
				 errhint("Read with wait => '0', or use READ COMMITTED.")));
	return take_srf(fcinfo, TAKE_LEASE, "mq_read()", qty, vt, wait, ack, nack, filter);
}

/* mq_pop(queue, qty) -> SETOF mq_message: read and delete, at-most-once */
Datum
mq_pop(PG_FUNCTION_ARGS)
{
	int			qty = args_int_range(fcinfo, 1, "qty", 1, QUEUE_QTY_MAX);

	return take_srf(fcinfo, TAKE_DELETE, "mq_pop()", qty, NULL, 0, NULL, 0, (Datum) 0);
}

/* mq_peek(queue, qty) -> SETOF mq_message: ready messages, no lease */
Datum
mq_peek(PG_FUNCTION_ARGS)
{
	int			qty = args_int_range(fcinfo, 1, "qty", 1, QUEUE_QTY_MAX);

	return take_srf(fcinfo, TAKE_PEEK, "mq_peek()", qty, NULL, 0, NULL, 0, (Datum) 0);
}

/* ---------------------------------------------------------------------
 * Settling deliveries
 * ---------------------------------------------------------------------
 */


static int64
arg_receipt(FunctionCallInfo fcinfo, int argno)
{
	args_not_null(fcinfo, argno, "receipt");
	return PG_GETARG_INT64(argno);
}

static bool
arg_strict(FunctionCallInfo fcinfo, int argno)
{
	args_not_null(fcinfo, argno, "strict");
	return PG_GETARG_BOOL(argno);
}

/*
 * The end of every single-receipt function: raise the error a strict call
 * gets, close the queue, and say whether it worked.
 */
static bool
receipt_result(QueueRel *qrel, LeaseCheck check, bool strict, int64 receipt)
{
	if (check != LEASE_OK && strict)
		receipt_error(check, qrel->info->name, receipt);
	storage_close(qrel);
	return check == LEASE_OK;
}

static bool
ack_one(FunctionCallInfo fcinfo, int64 receipt)
{
	bool		strict = arg_strict(fcinfo, 2);
	QueueRel	qrel;

	open_queue(fcinfo, 0, "mq_ack()", true, PRIV_READ, &qrel);
	return receipt_result(&qrel, delivery_settle(&qrel, receipt, NULL, HOW_ACK, 0, NULL),
						  strict, receipt);
}

/* mq_ack(queue, receipt, strict) -> boolean */
Datum
mq_ack(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(ack_one(fcinfo, arg_receipt(fcinfo, 1)));
}

/*
 * mq_ack(queue, receipt text, strict) -> boolean: the single-receipt form
 * for a parameter sent without a type (as node-postgres sends them), which
 * PostgreSQL resolves to text.  An array literal is refused: it is for the
 * array form, which such a parameter cannot reach without a cast.
 */
Datum
mq_ack_text(PG_FUNCTION_ARGS)
{
	char	   *s;

	args_not_null(fcinfo, 1, "receipt");
	s = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (s[strspn(s, " \t\n\r")] == '{')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("receipt must be one receipt, not an array"),
				 errhint("Cast the argument to bigint[] to ack several receipts: mq_ack(queue, $1::bigint[]).")));
	PG_RETURN_BOOL(ack_one(fcinfo, pg_strtoint64(s)));
}

/* mq_ack(queue, receipts[], strict) -> number acked */
Datum
mq_ack_array(PG_FUNCTION_ARGS)
{
	bool		strict = arg_strict(fcinfo, 2);
	int64	   *receipts;
	int			n = args_int8_array(fcinfo, 1, "receipts", &receipts);
	int64		acked;
	QueueRel	qrel;

	open_queue(fcinfo, 0, "mq_ack()", true, PRIV_READ, &qrel);
	acked = ack_receipts(&qrel, receipts, n, strict);
	storage_close(&qrel);
	PG_RETURN_INT64(acked);
}

/*
 * mq_nack(queue, receipt, delay, strict, reason) -> boolean; delay NULL:
 * the queue's retry policy.  (A catalog from before reason was added calls
 * it with four arguments.)
 */
Datum
mq_nack(PG_FUNCTION_ARGS)
{
	int64		receipt = arg_receipt(fcinfo, 1);
	Interval   *delay = args_interval(fcinfo, 2, "delay", true);
	bool		strict = arg_strict(fcinfo, 3);
	char	   *reason = NULL;
	TimestampTz visible_at = 0;
	QueueRel	qrel;

	if (PG_NARGS() > 4 && !PG_ARGISNULL(4))
		reason = text_to_cstring(PG_GETARG_TEXT_PP(4));
	open_queue(fcinfo, 0, "mq_nack()", true, PRIV_READ, &qrel);
	if (delay == NULL)
		visible_at = DELIVERY_RETRY_POLICY;
	else if (!interval_is_zero(delay))
		visible_at = util_timestamp_plus_interval(GetCurrentTimestamp(), delay);
	PG_RETURN_BOOL(receipt_result(&qrel, delivery_settle(&qrel, receipt, NULL, HOW_NACK, visible_at,
														 reason),
								  strict, receipt));
}

/* mq_extend(queue, receipt, vt, strict) -> boolean: lease ends at now + vt */
Datum
mq_extend(PG_FUNCTION_ARGS)
{
	int64		receipt = arg_receipt(fcinfo, 1);
	Interval   *vt = args_interval(fcinfo, 2, "vt", false);
	bool		strict = arg_strict(fcinfo, 3);
	QueueRel	qrel;
	LeaseCheck	check;

	open_queue(fcinfo, 0, "mq_extend()", true, PRIV_READ, &qrel);
	check = lease_extend(RelationGetRelid(qrel.heap), receipt,
						 util_timestamp_plus_interval(GetCurrentTimestamp(), vt));
	PG_RETURN_BOOL(receipt_result(&qrel, check, strict, receipt));
}

/* mq_purge of a stream: every record of every partition (stream.c). */
static int64
purge_stream(const char *name)
{
	StreamInfo *s;
	CatalogContext cxt;
	int64		n;

	PreventCommandIfReadOnly("mq_purge()");
	PreventCommandDuringRecovery("mq_purge()");
	s = stream_open(name, PRIV_MANAGE);
	catalog_enter(&cxt);
	n = stream_purge(s);
	catalog_leave(&cxt);
	return n;
}

/* mq_purge(queue or stream) -> number of messages (records) deleted */
Datum
mq_purge(PG_FUNCTION_ARGS)
{
	char		name[QUEUE_NAME_MAXLEN + 1];
	QueueRel	qrel;
	int64		n;

	args_name_arg(fcinfo, 0, "queue", "queue", name);
	if (queue_info_lookup(name) == NULL)
	{
		if (stream_lookup(name) != NULL)
			PG_RETURN_INT64(purge_stream(name));
		catalog_report_missing("queue or stream", "qs", name);
	}
	open_queue(fcinfo, 0, "mq_purge()", true, PRIV_MANAGE, &qrel);
	lease_note_purge(RelationGetRelid(qrel.heap));
	n = storage_delete_all(&qrel, lease_forget_message_at_commit);
	storage_close(&qrel);
	PG_RETURN_INT64(n);
}

/* ---------------------------------------------------------------------
 * Browsing, deleting and moving by id (SPEC section 3b)
 * ---------------------------------------------------------------------
 */

typedef enum MsgState
{
	STATE_ALL,
	STATE_READY,
	STATE_INFLIGHT,
	STATE_DELAYED
} MsgState;

static const char *const state_names[] = {"all", "ready", "inflight", "delayed"};

typedef struct InspectFilter
{
	Oid			relid;
	TimestampTz now;
	MsgState	state;
} InspectFilter;

/* A stored message's state now, with its lease's end and holder if leased. */
static MsgState
message_state(Oid relid, const StoredMsg *m, TimestampTz now, TimestampTz *until, int *pid)
{
	if (lease_holder(relid, m->id, now, until, pid))
		return STATE_INFLIGHT;
	return m->visible_at > now ? STATE_DELAYED : STATE_READY;
}

static bool
inspect_keep(void *arg, const StoredMsg *m)
{
	InspectFilter *f = arg;
	TimestampTz until;
	int			pid;

	return f->state == STATE_ALL || message_state(f->relid, m, f->now, &until, &pid) == f->state;
}

#define Natts_mq_inspect 11

/*
 * One row of mq_inspect's shape for message m in state st (until and pid:
 * its lease's end and holder when st is STATE_INFLIGHT).
 */
static void
inspect_put(ReturnSetInfo *rsinfo, const StoredMsg *m, MsgState st, TimestampTz until, int pid)
{
	Datum		values[Natts_mq_inspect];
	bool		nulls[Natts_mq_inspect] = {0};

	values[0] = Int64GetDatum(m->id);
	values[1] = CStringGetTextDatum(state_names[st]);
	values[2] = Int32GetDatum(storage_priority(m->rank));
	values[3] = m->group_key;
	nulls[3] = m->group_key == (Datum) 0;
	values[4] = Int32GetDatum(m->deliveries);
	values[5] = TimestampTzGetDatum(m->enqueued_at);
	values[6] = TimestampTzGetDatum(m->visible_at);
	values[7] = TimestampTzGetDatum(until);
	nulls[7] = st != STATE_INFLIGHT;
	values[8] = Int32GetDatum(pid);
	nulls[8] = st != STATE_INFLIGHT;
	values[9] = storage_detoast(m->headers);
	nulls[9] = m->headers == (Datum) 0;
	values[10] = storage_detoast(m->body);
	nulls[10] = m->body == (Datum) 0;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* A row for message m as it is now (a lease it had is held till commit). */
static void
inspect_put_now(ReturnSetInfo *rsinfo, Oid relid, const StoredMsg *m, TimestampTz now)
{
	TimestampTz until = 0;
	int			pid = 0;
	MsgState	st = message_state(relid, m, now, &until, &pid);

	inspect_put(rsinfo, m, st, until, pid);
}

/*
 * mq_inspect(queue, state, after_id, qty) -> TABLE(id, state, priority,
 * group_key, deliveries, enqueued_at, visible_at, lease_until, lease_pid,
 * headers, body): browse in id order, leasing and counting nothing.
 */
Datum
mq_inspect(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	InspectFilter f;
	int64		after_id = PG_ARGISNULL(2) ? 0 : PG_GETARG_INT64(2);
	int			qty = args_int_range(fcinfo, 3, "qty", 1, QUEUE_QTY_MAX);
	QueueRel	qrel;
	StoredMsg  *msgs;
	char	   *state;
	int			n;
	int			i;

	args_not_null(fcinfo, 1, "state");
	state = text_to_cstring(PG_GETARG_TEXT_PP(1));
	for (f.state = STATE_ALL; f.state <= STATE_DELAYED; f.state++)
		if (strcmp(state, state_names[f.state]) == 0)
			break;
	if (f.state > STATE_DELAYED)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid state \"%s\"", state),
				 errdetail("Allowed values are \"all\", \"ready\", \"inflight\" and \"delayed\".")));
	InitMaterializedSRF(fcinfo, 0);
	open_queue(fcinfo, 0, "mq_inspect()", false, PRIV_READ, &qrel);
	f.relid = RelationGetRelid(qrel.heap);
	f.now = GetCurrentTimestamp();
	msgs = palloc(qty * sizeof(StoredMsg));
	if (f.state == STATE_DELAYED)
		n = storage_browse_delayed(&qrel, after_id, qty, f.now, inspect_keep, &f, msgs);
	else
		n = storage_browse(&qrel, after_id, qty, inspect_keep, &f, msgs);
	for (i = 0; i < n; i++)
		inspect_put_now(rsinfo, f.relid, &msgs[i], f.now);
	storage_close(&qrel);
	return (Datum) 0;
}

/* mq_delete(queue, ids) -> how many of them were deleted, in any state */
Datum
mq_delete(PG_FUNCTION_ARGS)
{
	int64	   *ids;
	int			n = args_int8_array(fcinfo, 1, "ids", &ids);
	int64		deleted = 0;
	QueueRel	qrel;
	int			i;

	open_queue(fcinfo, 0, "mq_delete()", true, PRIV_MANAGE, &qrel);
	for (i = 0; i < n; i++)
		if (delivery_remove(&qrel, ids[i], NULL))
			deleted++;
	storage_close(&qrel);
	PG_RETURN_INT64(deleted);
}

/*
 * Remove the messages of the ids (remove) or make them ready at now +
 * delay, and return each as mq_inspect shows it: as it was when removed,
 * or as it is when made ready.
 */
static void
change_rows(FunctionCallInfo fcinfo, const char *what, bool remove, const Interval *delay)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	int64	   *ids;
	int			n = args_int8_array(fcinfo, 1, "ids", &ids);
	QueueRel	qrel;
	TimestampTz now;
	TimestampTz visible_at;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	open_queue(fcinfo, 0, what, true, PRIV_MANAGE, &qrel);
	now = GetCurrentTimestamp();
	visible_at = remove ? 0 : util_timestamp_plus_interval(now, delay);
	for (i = 0; i < n; i++)
	{
		StoredMsg	m;

		if (remove && delivery_remove(&qrel, ids[i], &m))
			inspect_put_now(rsinfo, RelationGetRelid(qrel.heap), &m, now);
		else if (!remove && delivery_delay(&qrel, ids[i], visible_at, &m))
			inspect_put(rsinfo, &m, visible_at > now ? STATE_DELAYED : STATE_READY, 0, 0);
	}
	storage_close(&qrel);
}

/*
 * mq_remove(queue, ids) -> the rows of mq_delete's messages as they were
 * when deleted, for the caller to keep (an archive) in the same
 * transaction.
 */
Datum
mq_remove(PG_FUNCTION_ARGS)
{
	change_rows(fcinfo, "mq_remove()", true, NULL);
	return (Datum) 0;
}

/*
 * mq_delay(queue, ids, delay) -> the messages as they are now: each, in
 * any state, becomes ready at now + delay; a lease on it ends, so its
 * receipt no longer acks it.  Its deliveries stay.
 */
Datum
mq_delay(PG_FUNCTION_ARGS)
{
	change_rows(fcinfo, "mq_delay()", false, args_interval(fcinfo, 2, "delay", false));
	return (Datum) 0;
}

/*
 * Put a copy of message m, taken out of another queue, at the end of target
 * (open, the caller checked it may send there): a new id, ready now, its
 * body, priority and group, the given headers ((Datum) 0: none), no deliveries.
 */
static void
insert_copy(QueueRel *target, StoredMsg *m, Datum headers)
{
	(void) storage_send_copy(target, m, headers, storage_detoast(m->body),
							 GetCurrentTimestamp());
}

/*
 * mq_move(queue, ids, to_queue) -> how many moved: each message, in any
 * state, goes to the end of to_queue with a new id, ready at once, with
 * its body, headers and priority, and no deliveries.
 */
Datum
mq_move(PG_FUNCTION_ARGS)
{
	int64	   *ids;
	int			n = args_int8_array(fcinfo, 1, "ids", &ids);
	char		to[QUEUE_NAME_MAXLEN + 1];
	int64		moved = 0;
	QueueRel	from;
	QueueRel	target;
	int			i;

	args_name_arg(fcinfo, 2, "to_queue", "to_queue", to);
	open_queue(fcinfo, 0, "mq_move()", true, PRIV_MANAGE, &from);
	if (strcmp(to, from.info->name) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot move messages of queue \"%s\" to itself", to)));
	if (!storage_open_by_name(&target, to, RowExclusiveLock, PRIV_SEND))
		catalog_report_missing("queue", "q", to);
	for (i = 0; i < n; i++)
	{
		StoredMsg	m;

		if (delivery_remove(&from, ids[i], &m))
		{
			insert_copy(&target, &m, storage_detoast(m.headers));
			moved++;
		}
	}
	storage_close(&target);
	storage_close(&from);
	PG_RETURN_INT64(moved);
}

/*
 * mq_redrive(dead_letter_queue, max, source_queue, ids) -> number moved
 *
 * Moves ready dead letters (messages with an mq_dead_letter header) back to
 * the queues named in their headers, with the header removed and the
 * delivery count reset; at most max of them (NULL: all).  Dead letters
 * whose queue no longer exists stay, and do not hold back the others (up
 * to REDRIVE_KEEP_MAX of them are looked past in one call), and so do
 * those whose queue the caller may not send to.  Redriving needs manage on
 * the dead-letter queue.  Like dead letters, redriven messages are not
 * held back by the target's max_length.
 *
 * With source_queue, only the letters that came from that queue move;
 * with ids, only those letters (their ids in the dead-letter queue), in
 * any state, as mq_move moves them.  Both are found by browsing in id
 * order (storage_browse), not by leasing, so letters from other queues
 * cost a look, not a lease.
 */
/* May the caller send to the queue (which exists)? */
static bool
may_send(const char *name)
{
	QueueInfo  *info = queue_info_lookup(name);

	return info != NULL && perms_allow(&info->perms, GetUserId(), PRIV_SEND);
}

/* The filters of a selective redrive. */
typedef struct RedriveFilter
{
	Oid			relid;
	TimestampTz now;
} RedriveFilter;

/* A letter that is not leased?  (Its source is checked after.) */
static bool
redrive_keep(void *arg, const StoredMsg *m)
{
	RedriveFilter *f = arg;

	return !lease_held(f->relid, m->id, f->now);
}

/*
 * Redrive the letters of dlq named by ids (NULL: found by browsing) that
 * came from source (NULL: any); at most max.
 */
static int64
redrive_selected(QueueRel *dlq, int64 max, const char *source, const int64 *ids, int nids)
{
	RedriveFilter f;
	StoredMsg  *found = NULL;
	int64		after = 0;
	int64		moved = 0;
	int			i;

	f.relid = RelationGetRelid(dlq->heap);
	if (ids == NULL)
		found = palloc(QUEUE_QTY_MAX * sizeof(StoredMsg));
	for (;;)
	{
		int			n;

		if (ids != NULL)
			n = nids;
		else
		{
			f.now = GetCurrentTimestamp();
			n = storage_browse(dlq, after, QUEUE_QTY_MAX, redrive_keep, &f, found);
			if (n == 0)
				break;
			after = found[n - 1].id;
		}
		for (i = 0; i < n && moved < max; i++)
		{
			int64		msgid = ids != NULL ? ids[i] : found[i].id;
			Datum		headers = (Datum) 0;
			StoredMsg	m;
			ItemPointerData tid;
			int16		rank;
			char	   *from;
			QueueRel	target;

			if (!storage_find_id(dlq, msgid, &tid, &rank) || !storage_fetch(dlq, &tid, &m))
				continue;
			from = policy_dead_letter_source(storage_detoast(m.headers), &headers);
			if (from == NULL || strcmp(from, dlq->info->name) == 0 ||
				(source != NULL && strcmp(from, source) != 0) || !may_send(from))
				continue;
			if (!storage_open_by_name(&target, from, RowExclusiveLock, 0))
				continue;
			if (delivery_remove(dlq, msgid, &m))
			{
				policy_dead_letter_source(storage_detoast(m.headers), &headers);
				insert_copy(&target, &m, headers);
				moved++;
			}
			storage_close(&target);
		}
		if (ids != NULL || moved >= max)
			break;
	}
	return moved;
}

Datum
mq_redrive(PG_FUNCTION_ARGS)
{
	QueueRel	dlq;
	int64		max = PG_INT64_MAX;
	int64		moved = 0;
	Oid			relid;
	StoredMsg  *msgs = palloc(QUEUE_QTY_MAX * sizeof(StoredMsg));
	int			keptcap = 64;
	int			nkept = 0;
	StoredMsg  *kept = palloc(keptcap * sizeof(StoredMsg));

	if (!PG_ARGISNULL(1))
	{
		max = PG_GETARG_INT64(1);
		if (max < 1)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("max must be at least 1 or NULL"),
					 errdetail("The value given was %lld.", (long long) max)));
	}
	/* (A catalog from before the filters calls it with two arguments.) */
	if (PG_NARGS() > 3 && (!PG_ARGISNULL(2) || !PG_ARGISNULL(3)))
	{
		char		source[QUEUE_NAME_MAXLEN + 1];
		int64	   *ids = NULL;
		int			nids = 0;

		if (!PG_ARGISNULL(2))
			args_name("source_queue", PG_GETARG_TEXT_PP(2), source);
		if (!PG_ARGISNULL(3))
			nids = args_int8_array(fcinfo, 3, "ids", &ids);
		open_queue(fcinfo, 0, "mq_redrive()", true, PRIV_MANAGE, &dlq);
		moved = redrive_selected(&dlq, max, PG_ARGISNULL(2) ? NULL : source, ids, nids);
		storage_close(&dlq);
		PG_RETURN_INT64(moved);
	}
	open_queue(fcinfo, 0, "mq_redrive()", true, PRIV_MANAGE, &dlq);
	relid = RelationGetRelid(dlq.heap);

	/*
	 * Letters that cannot move stay leased until the end, so that the next
	 * batch looks past them instead of finding them again.
	 */
	while (moved < max && nkept < REDRIVE_KEEP_MAX)
	{
		int			n = delivery_take(&dlq, TAKE_REDRIVE,
									  (int) Min(max - moved, QUEUE_QTY_MAX), NULL, (Datum) 0,
									  msgs, NULL);
		int			i;

		if (n == 0)
			break;
		for (i = 0; i < n; i++)
		{
			StoredMsg  *m = &msgs[i];
			Datum		headers = (Datum) 0;
			char	   *source = policy_dead_letter_source(storage_detoast(m->headers), &headers);
			QueueRel	target;
			int64		msgid;
			int16		rank;

			if (source == NULL || strcmp(source, dlq.info->name) == 0 ||
				!may_send(source) ||
				!storage_open_by_name(&target, source, RowExclusiveLock, 0))
			{
				/* Not ours to move: leave it where it is. */
				if (nkept == keptcap)
				{
					keptcap *= 2;
					kept = repalloc(kept, keptcap * sizeof(StoredMsg));
				}
				kept[nkept++] = *m;
				continue;
			}
			if (lease_settle(relid, m->receipt, NULL, false, &msgid, &rank, NULL, NULL) == LEASE_OK &&
				storage_delete(&dlq, &m->tid))
			{
				insert_copy(&target, m, headers);
				moved++;
			}
			else
				lease_drop(relid, m->receipt);
			storage_close(&target);
		}
	}
	while (nkept > 0)
	{
		nkept--;
		lease_release(relid, kept[nkept].id, kept[nkept].receipt, false);
	}
	storage_close(&dlq);
	PG_RETURN_INT64(moved);
}

/* ---------------------------------------------------------------------
 * Importing messages with their ids
 * ---------------------------------------------------------------------
 */

/*
 * mq_import(queue, ids, bodies, headers, enqueued_at, visible_at,
 *			 deliveries, last_id) -> messages imported
 *
 * Messages brought from another system keep their ids: ids ascend, and the
 * first is above every id the queue gave; the queue's next id is then above
 * the last of them and above last_id.  A NULL element of enqueued_at or
 * visible_at is now, of deliveries 0.  The queue is locked against sends and
 * reads until the transaction ends, so that no id is given meanwhile.
 */
Datum
mq_import(PG_FUNCTION_ARGS)
{
	QueueRel	qrel;
	int64	   *ids;
	Datum	   *bodies;
	Datum	   *headers = NULL;
	bool	   *hnulls = NULL;
	Datum	   *enq;
	bool	   *enq_nulls;
	Datum	   *vis;
	bool	   *vis_nulls;
	Datum	   *dlv;
	bool	   *dlv_nulls;
	TimestampTz *enqueued_at;
	TimestampTz *visible_at;
	int32	   *deliveries;
	StorageRowTimes times;
	TimestampTz now = GetCurrentTimestamp();
	int64		last;
	int64		next_after;
	int			null_at;
	int			n;
	int			i;

	n = args_int8_array(fcinfo, 1, "ids", &ids);
	if (args_bodies(fcinfo, 2, &bodies, &null_at) != n)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("bodies must have as many elements as ids")));
	/* (A NULL element is (Datum) 0, as a NULL array leaves headers NULL.) */
	args_parallel_array(fcinfo, 3, "headers", JSONBOID, "ids", n, &headers, &hnulls);
	args_parallel_array(fcinfo, 4, "enqueued_at", TIMESTAMPTZOID, "ids", n, &enq, &enq_nulls);
	args_parallel_array(fcinfo, 5, "visible_at", TIMESTAMPTZOID, "ids", n, &vis, &vis_nulls);
	args_parallel_array(fcinfo, 6, "deliveries", INT4OID, "ids", n, &dlv, &dlv_nulls);
	enqueued_at = palloc(Max(n, 1) * sizeof(TimestampTz));
	visible_at = palloc(Max(n, 1) * sizeof(TimestampTz));
	deliveries = palloc(Max(n, 1) * sizeof(int32));
	for (i = 0; i < n; i++)
	{
		if (i > 0 && ids[i] <= ids[i - 1])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("ids must ascend"),
					 errdetail("Element %d (%lld) follows %lld.", i + 1,
							   (long long) ids[i], (long long) ids[i - 1])));
		enqueued_at[i] = enq && !enq_nulls[i] ? DatumGetTimestampTz(enq[i]) : now;
		visible_at[i] = vis && !vis_nulls[i] ? DatumGetTimestampTz(vis[i]) : now;
		deliveries[i] = dlv && !dlv_nulls[i] ? DatumGetInt32(dlv[i]) : 0;
		if (deliveries[i] < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("deliveries must not be negative"),
					 errdetail("Element %d is %d.", i + 1, deliveries[i])));
	}
	if (n > 0 && ids[0] < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ids must be positive")));

	open_queue(fcinfo, 0, "mq_import()", true, PRIV_MANAGE, &qrel);
	check_null_body(&qrel, null_at);
	/* No send or read may take an id or a lease while the ids are set. */
	LockRelationOid(RelationGetRelid(qrel.heap), ExclusiveLock);
	last = storage_last_id(&qrel);
	if (n > 0 && ids[0] <= last)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ids must be above the queue's last id, %lld", (long long) last),
				 errdetail("The first id is %lld.", (long long) ids[0]),
				 errhint("A queue never gives an id twice: import into a new queue.")));
	if (n > 0)
	{
		enforce_max_length(&qrel, n);
		times.visible_at = visible_at;
		times.enqueued_at = enqueued_at;
		times.deliveries = deliveries;
		times.per_message = true;
		storage_insert_rows(&qrel, n, ids, &times, QUEUE_PRIORITY_MAX, headers, bodies, NULL);
	}
	/* The next id given is above the last imported and above last_id. */
	next_after = n > 0 ? ids[n - 1] : 0;
	if (!PG_ARGISNULL(7))
		next_after = Max(next_after, PG_GETARG_INT64(7));
	if (next_after > last)
		storage_skip_ids(&qrel, next_after);
	storage_close(&qrel);
	PG_RETURN_INT64(n);
}
