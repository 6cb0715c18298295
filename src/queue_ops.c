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
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "args.h"
#include "dedup.h"
#include "delivery.h"
#include "lease.h"
#include "perms.h"
#include "policy.h"
#include "qstate.h"
#include "queue_info.h"
#include "storage.h"
#include "util.h"
#include "wakeup.h"

PG_FUNCTION_INFO_V1(mq_send);
PG_FUNCTION_INFO_V1(mq_send_batch);
PG_FUNCTION_INFO_V1(mq_read);
PG_FUNCTION_INFO_V1(mq_pop);
PG_FUNCTION_INFO_V1(mq_peek);
PG_FUNCTION_INFO_V1(mq_ack);
PG_FUNCTION_INFO_V1(mq_ack_array);
PG_FUNCTION_INFO_V1(mq_nack);
PG_FUNCTION_INFO_V1(mq_extend);
PG_FUNCTION_INFO_V1(mq_purge);
PG_FUNCTION_INFO_V1(mq_redrive);

/* Columns of the mq_message type. */
#define Natts_mq_message 8

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
open_queue(FunctionCallInfo fcinfo, int argno, const char *fname, bool writes,
		   int privs, QueueRel *qrel)
{
	char		name[QUEUE_NAME_MAXLEN + 1];

	args_not_null(fcinfo, argno, "queue");
	args_name("queue", PG_GETARG_TEXT_PP(argno), name);
	if (writes)
		PreventCommandIfReadOnly(fname);
	/* Leases are known only on the primary. */
	PreventCommandDuringRecovery(fname);
	if (!storage_open_by_name(qrel, name, writes ? RowExclusiveLock : AccessShareLock, privs))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("queue \"%s\" does not exist", name)));
}

/* ---------------------------------------------------------------------
 * Results
 * ---------------------------------------------------------------------
 */

static void
put_message(ReturnSetInfo *rsinfo, StoredMsg *m, bool with_receipt)
{
	Datum		values[Natts_mq_message];
	bool		nulls[Natts_mq_message] = {0};

	values[0] = Int64GetDatum(m->id);
	values[1] = Int64GetDatum(m->receipt);
	nulls[1] = !with_receipt;
	values[2] = storage_detoast(m->body);
	values[3] = storage_detoast(m->headers);
	nulls[3] = (m->headers == (Datum) 0);
	values[4] = Int32GetDatum(m->deliveries);
	values[5] = Int32GetDatum(QUEUE_PRIORITY_MAX - m->rank);
	values[6] = TimestampTzGetDatum(m->enqueued_at);
	values[7] = TimestampTzGetDatum(m->visible_at);
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
 * mq_send(queue, body, headers, delay, priority, idempotency_key) -> id
 */
Datum
mq_send(PG_FUNCTION_ARGS)
{
	QueueRel	qrel;
	Datum		body;
	Datum		headers;
	Interval   *delay;
	int32		priority;
	text	   *key = NULL;
	TimestampTz now;
	int64		id;
	ItemPointerData stale;

	args_not_null(fcinfo, 1, "body");
	body = PG_GETARG_DATUM(1);
	headers = args_headers(PG_GETARG_DATUM(2), PG_ARGISNULL(2));
	delay = args_interval(fcinfo, 3, "delay", false);
	priority = args_int_range(fcinfo, 4, "priority", 0, QUEUE_PRIORITY_MAX);
	if (!PG_ARGISNULL(5))
	{
		key = PG_GETARG_TEXT_PP(5);
		args_idempotency_key(key);
	}

	open_queue(fcinfo, 0, "mq_send()", true, PRIV_SEND, &qrel);
	now = GetCurrentTimestamp();
	if (key != NULL && (id = dedup_lookup(&qrel.keys, key, now, &stale, NULL)) != 0)
	{
		storage_close(&qrel);
		PG_RETURN_INT64(id);
	}
	enforce_max_length(&qrel, 1);
	id = storage_next_id(&qrel);
	storage_insert(&qrel, 1, &id, util_timestamp_plus_interval(now, delay), now,
				   QUEUE_PRIORITY_MAX - priority,
				   headers ? &headers : NULL, &body);
	if (key != NULL)
		dedup_record(&qrel.keys, key, id, now, &stale);
	storage_close(&qrel);
	PG_RETURN_INT64(id);
}

/*
 * mq_send_batch(queue, bodies, headers, delay, priority, idempotency_keys)
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
	Interval   *delay;
	int32		priority;
	TimestampTz now;
	int64	   *ids;
	int64	   *newids;
	int			nnew = 0;
	int			i;

	InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC);
	n = args_bodies(fcinfo, 1, &bodies);
	args_parallel_array(fcinfo, 2, "headers", JSONBOID, n, &headers, &hnulls);
	delay = args_interval(fcinfo, 3, "delay", false);
	priority = args_int_range(fcinfo, 4, "priority", 0, QUEUE_PRIORITY_MAX);
	args_parallel_array(fcinfo, 5, "idempotency_keys", TEXTOID, n, &keys, &knulls);

	open_queue(fcinfo, 0, "mq_send_batch()", true, PRIV_SEND, &qrel);
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
		nnew++;
	}
	enforce_max_length(&qrel, nnew);
	if (nnew > 0)
		storage_insert(&qrel, nnew, newids, util_timestamp_plus_interval(now, delay), now,
					   QUEUE_PRIORITY_MAX - priority, headers, bodies);
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

static Datum
take_srf(FunctionCallInfo fcinfo, TakeMode mode, const char *fname, int qty,
		 const Interval *vt, int64 wait)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	QueueRel	qrel;
	StoredMsg  *msgs;
	TimestampTz deadline = 0;
	QueueState *qs = NULL;
	int			n;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	open_queue(fcinfo, 0, fname, mode != TAKE_PEEK, PRIV_READ, &qrel);
	if (mode == TAKE_LEASE && vt == NULL)
		vt = &qrel.info->visibility_timeout;
	msgs = palloc(qty * sizeof(StoredMsg));
	if (wait > 0)
	{
		deadline = GetCurrentTimestamp() + wait;
		qs = qstate_get(RelationGetRelid(qrel.heap));
	}
	for (;;)
	{
		TimestampTz next_visible;

		/* Register before looking, so that no commit goes unnoticed. */
		if (qs != NULL)
			wakeup_register(qs, RelationGetRelid(qrel.heap));
		n = delivery_take(&qrel, mode, qty, vt, msgs, &next_visible);
		if (n > 0 || qs == NULL ||
			!delivery_wait(&qrel, qs, deadline, next_visible))
			break;
	}
	wakeup_unregister();
	storage_close(&qrel);
	for (i = 0; i < n; i++)
		put_message(rsinfo, &msgs[i], mode == TAKE_LEASE);
	return (Datum) 0;
}

/* mq_read(queue, qty, vt, wait) -> SETOF mq_message */
Datum
mq_read(PG_FUNCTION_ARGS)
{
	int			qty = args_int_range(fcinfo, 1, "qty", 1, QUEUE_QTY_MAX);
	Interval   *vt = args_interval(fcinfo, 2, "vt", true);
	int64		wait = args_wait(fcinfo, 3);

	if (wait > 0 && IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("a waiting mq_read needs READ COMMITTED isolation"),
				 errdetail("In REPEATABLE READ and SERIALIZABLE the transaction snapshot is held for the whole wait."),
				 errhint("Read with wait => '0', or use READ COMMITTED.")));
	return take_srf(fcinfo, TAKE_LEASE, "mq_read()", qty, vt, wait);
}

/* mq_pop(queue, qty) -> SETOF mq_message: read and delete, at-most-once */
Datum
mq_pop(PG_FUNCTION_ARGS)
{
	int			qty = args_int_range(fcinfo, 1, "qty", 1, QUEUE_QTY_MAX);

	return take_srf(fcinfo, TAKE_DELETE, "mq_pop()", qty, NULL, 0);
}

/* mq_peek(queue, qty) -> SETOF mq_message: ready messages, no lease */
Datum
mq_peek(PG_FUNCTION_ARGS)
{
	int			qty = args_int_range(fcinfo, 1, "qty", 1, QUEUE_QTY_MAX);

	return take_srf(fcinfo, TAKE_PEEK, "mq_peek()", qty, NULL, 0);
}

/* ---------------------------------------------------------------------
 * Settling deliveries
 * ---------------------------------------------------------------------
 */

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
					 errdetail("No current delivery of this queue has this receipt: the message was acked or purged, delivered again more than once since, or the lease was lost in a server restart.")));
			break;
	}
}

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

/* mq_ack(queue, receipt, strict) -> boolean */
Datum
mq_ack(PG_FUNCTION_ARGS)
{
	int64		receipt = arg_receipt(fcinfo, 1);
	bool		strict = arg_strict(fcinfo, 2);
	QueueRel	qrel;

	open_queue(fcinfo, 0, "mq_ack()", true, PRIV_READ, &qrel);
	PG_RETURN_BOOL(receipt_result(&qrel, delivery_settle(&qrel, receipt, HOW_ACK, 0),
								  strict, receipt));
}

/* mq_ack(queue, receipts[], strict) -> number acked */
Datum
mq_ack_array(PG_FUNCTION_ARGS)
{
	bool		strict = arg_strict(fcinfo, 2);
	Datum	   *receipts;
	bool	   *rnulls;
	int			n;
	int			i;
	int64		acked = 0;
	QueueRel	qrel;

	args_not_null(fcinfo, 1, "receipts");
	n = args_array(fcinfo, 1, "receipts", INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE,
				  &receipts, &rnulls);
	for (i = 0; i < n; i++)
		if (rnulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("receipts must not contain NULL"),
					 errdetail("Element %d is NULL.", i + 1)));
	open_queue(fcinfo, 0, "mq_ack()", true, PRIV_READ, &qrel);
	for (i = 0; i < n; i++)
	{
		int64		receipt = DatumGetInt64(receipts[i]);
		LeaseCheck	check = delivery_settle(&qrel, receipt, HOW_ACK, 0);

		if (check == LEASE_OK)
			acked++;
		else if (strict)
			receipt_error(check, qrel.info->name, receipt);
	}
	storage_close(&qrel);
	PG_RETURN_INT64(acked);
}

/* mq_nack(queue, receipt, delay, strict) -> boolean */
Datum
mq_nack(PG_FUNCTION_ARGS)
{
	int64		receipt = arg_receipt(fcinfo, 1);
	Interval   *delay = args_interval(fcinfo, 2, "delay", false);
	bool		strict = arg_strict(fcinfo, 3);
	TimestampTz visible_at = 0;
	QueueRel	qrel;

	open_queue(fcinfo, 0, "mq_nack()", true, PRIV_READ, &qrel);
	if (!interval_is_zero(delay))
		visible_at = util_timestamp_plus_interval(GetCurrentTimestamp(), delay);
	PG_RETURN_BOOL(receipt_result(&qrel, delivery_settle(&qrel, receipt, HOW_NACK, visible_at),
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

/* mq_purge(queue) -> number of messages deleted */
Datum
mq_purge(PG_FUNCTION_ARGS)
{
	QueueRel	qrel;
	int64		n;

	open_queue(fcinfo, 0, "mq_purge()", true, PRIV_MANAGE, &qrel);
	lease_note_purge(RelationGetRelid(qrel.heap));
	n = storage_delete_all(&qrel, lease_forget_message_at_commit);
	storage_close(&qrel);
	PG_RETURN_INT64(n);
}

/*
 * mq_redrive(dead_letter_queue, max) -> number moved
 *
 * Moves ready dead letters (messages with an mq_dead_letter header) back to
 * the queues named in their headers, with the header removed and the
 * delivery count reset; at most max of them (NULL: all).  Dead letters
 * whose queue no longer exists stay, and do not hold back the others (up
 * to REDRIVE_KEEP_MAX of them are looked past in one call), and so do
 * those whose queue the caller may not send to.  Redriving needs manage on
 * the dead-letter queue.  Like dead
 * letters, redriven messages are not held back by the target's max_length.
 */
/* May the caller send to the queue (which exists)? */
static bool
may_send(const char *name)
{
	QueueInfo  *info = queue_info_lookup(name);

	return info != NULL && perms_allow(&info->perms, GetUserId(), PRIV_SEND);
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
	open_queue(fcinfo, 0, "mq_redrive()", true, PRIV_MANAGE, &dlq);
	relid = RelationGetRelid(dlq.heap);

	/*
	 * Letters that cannot move stay leased until the end, so that the next
	 * batch looks past them instead of finding them again.
	 */
	while (moved < max && nkept < REDRIVE_KEEP_MAX)
	{
		int			n = delivery_take(&dlq, TAKE_REDRIVE,
									  (int) Min(max - moved, QUEUE_QTY_MAX), NULL, msgs, NULL);
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
			if (lease_settle(relid, m->receipt, &msgid, &rank) == LEASE_OK &&
				storage_delete(&dlq, &m->tid))
			{
				TimestampTz now = GetCurrentTimestamp();
				Datum		body = storage_detoast(m->body);
				int64		id = storage_next_id(&target);

				storage_insert(&target, 1, &id, now, now, m->rank,
							   headers ? &headers : NULL, &body);
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
		lease_release(relid, kept[nkept].id, kept[nkept].receipt);
	}
	storage_close(&dlq);
	PG_RETURN_INT64(moved);
}
