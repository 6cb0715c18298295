/*-------------------------------------------------------------------------
 *
 * delivery.c
 *	  The delivery engine of queues: taking ready messages (read, pop,
 *	  peek, drop_oldest, redrive, expiry), waiting for them, settling a
 *	  delivery (ack, nack), removing or moving messages by id, making room
 *	  under max_length, and the background worker's expiry and key pruning.
 *
 * The SQL functions (queue_ops.c, topic.c) check their arguments and
 * privileges and open the queue; everything here works on an open queue
 * (storage.c) with its leases (lease.c) and shared state (qstate.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "dedup.h"
#include "delivery.h"
#include "lease.h"
#include "pending.h"
#include "policy.h"
#include "qstate.h"
#include "queue_info.h"
#include "storage.h"
#include "util.h"
#include "wakeup.h"

/*
 * Is there room for nnew more messages (making it with drop_oldest)?
 * *depth gets the depth counted.
 */
bool
delivery_make_room(QueueRel *qrel, int64 nnew, int64 *depth)
{
	QueueInfo  *info = qrel->info;
	int64		excess;

	*depth = 0;
	if (info->max_length == 0 || nnew == 0)
		return true;
	(void) qstate_depth(qrel->heap, DEPTH_LIMIT, depth);
	*depth += pending_depth_delta(RelationGetRelid(qrel->heap));
	excess = *depth + nnew - info->max_length;
	if (excess <= 0)
		return true;
	return info->drop_oldest && nnew <= info->max_length &&
		delivery_take(qrel, TAKE_DROP, (int) Min(excess, PG_INT32_MAX), NULL, (Datum) 0, NULL, NULL) >= excess;
}

/* At most this many messages leave a queue as dead letters per call. */
#define DEAD_PER_CALL 1000

typedef struct DeadMsg
{
	StoredMsg	m;
	DeadReason	reason;
} DeadMsg;

/* Why a ready message must leave its queue instead of being delivered. */
static bool
is_dead(QueueInfo *info, StoredMsg *m, TimestampTz now, DeadReason *reason)
{
	if (info->has_ttl &&
		util_timestamp_plus_interval(m->enqueued_at, &info->message_ttl) <= now)
	{
		*reason = DEAD_TTL;
		return true;
	}
	if (info->max_deliveries > 0 && m->deliveries >= info->max_deliveries)
	{
		*reason = DEAD_MAX_DELIVERIES;
		return true;
	}
	return false;
}

/*
 * How many messages of the group with this hash the call has taken (with
 * add, one more first); the table is made on first use.
 */
static int
round_taken(HTAB **rounds, int64 group, bool add)
{
	uint32		key = (uint32) group;
	struct
	{
		uint32		key;
		int			n;
	}		   *entry;
	bool		found;

	if (*rounds == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(uint32);
		ctl.entrysize = sizeof(*entry);
		ctl.hcxt = CurrentMemoryContext;
		*rounds = hash_create("message groups of a read", 64, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	entry = hash_search(*rounds, &key, add ? HASH_ENTER : HASH_FIND, &found);
	if (entry == NULL)
		return 0;
	if (!found)
		entry->n = 0;
	if (add)
		entry->n++;
	return entry->n;
}

/* Is message id among out[0..n-1]? */
static bool
taken_already(const StoredMsg *out, int n, int64 id)
{
	int			i;

	for (i = 0; i < n; i++)
		if (out[i].id == id)
			return true;
	return false;
}

/*
 * The one scan behind read, pop, peek, drop_oldest and redrive: walk the
 * ready messages in delivery order and take up to qty of them (see
 * TakeMode).  Messages that have expired or used up max_deliveries are moved
 * out as dead letters on the way (and not taken; TAKE_DROP counts them as
 * room made).  Under max_inflight a read takes no more new leases than the
 * limit allows, and under rate_limit no more deliveries (reads and pops)
 * than the queue's token bucket holds; with none, *next_visible is when the
 * next token is due.  With a filter (a jsonb; (Datum) 0: none), a read
 * takes only messages whose body contains it, passing over the others.
 * Returns the number taken; out (NULL for TAKE_DROP) gets them.
 */
int
delivery_take(QueueRel *qrel, TakeMode mode, int qty, const Interval *vt, Datum filter,
			  StoredMsg *out, TimestampTz *next_visible)
{
	QueueInfo  *info = qrel->info;
	Oid			relid = RelationGetRelid(qrel->heap);
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz until = DT_NOEND;	/* held until settled below */
	uint32		limit = mode == TAKE_LEASE ? (uint32) info->max_inflight : 0;
	/* With the queue's lease_until_transaction_end, as pgmq's row locks. */
	bool		hold = mode == TAKE_LEASE && info->lease_until_transaction_end;
	bool		rated = info->rate_limit > 0 && (mode == TAKE_LEASE || mode == TAKE_DELETE);
	int			granted = 0;
	bool		swept = false;
	QueueState *qs = NULL;
	StorageScan *scan;
	StoredMsg	m;
	DeadMsg    *dead = NULL;
	int			ndead = 0;
	int			n = 0;
	int			i;
	XLogRecPtr	lsn = InvalidXLogRecPtr;	/* flushed before returning */
	XLogRecPtr	lazy = InvalidXLogRecPtr;	/* left to the WAL writer */
	TimestampTz started = lease_started_at();
	uint64		promoted = storage_promoted;
	TimestampTz next = DT_NOEND;
	bool		fair;
	bool		limited = false;
	int			round;
	HTAB	   *rounds = NULL;
	MemoryContext filter_cxt = NULL;
	LeaseRow	row = {compat_relfilenumber(qrel->heap)};
	bool		marked;

	if (filter != (Datum) 0)
		filter_cxt = AllocSetContextCreate(CurrentMemoryContext, "mq_read filter",
										   ALLOCSET_SMALL_SIZES);
	if (mode == TAKE_LEASE)
		until = util_timestamp_plus_interval(now, vt);
	/* Leases need the queue's shared state; so does the floor, also for a peek. */
	if (mode != TAKE_PEEK || !RecoveryInProgress())
		qs = qstate_get(relid);
	/* Under a rate limit, deliver no more than the tokens taken. */
	if (rated)
	{
		TimestampTz due;

		granted = qstate_rate_take(qs, info->rate_limit, qty, now, &due);
		if (granted == 0)
		{
			if (next_visible)
				*next_visible = due;
			return 0;
		}
		qty = granted;
	}

	/*
	 * With more than one message of a group allowed in flight, a batch is
	 * filled round-robin over the groups: one message of each per scan (a
	 * round), the next round only if the batch is not full.
	 */
	fair = info->max_inflight_per_group > 1 && qrel->has_groups &&
		(mode == TAKE_LEASE || mode == TAKE_DELETE || mode == TAKE_PEEK);
	/* Reads that pass over nothing they could take keep the mark (storage.c). */
	marked = mode == TAKE_LEASE && !fair && filter == (Datum) 0;
	for (round = 1;; round++)
	{
		bool		skipped = false;

		/* Making room, expiring and redriving go on to the parked rows. */
		scan = storage_scan_begin(qrel, qs, mode != TAKE_PEEK, mode == TAKE_EXPIRE,
								  mode == TAKE_DROP || mode == TAKE_EXPIRE || mode == TAKE_REDRIVE,
								  marked, now);
		while (n < qty && storage_scan_next(scan, now, &m))
		{
			DeadReason	reason;
			bool		doomed = is_dead(info, &m, now, &reason);
			ClaimResult claim;
			TimestampTz busy_until;
			int64		retry;
			int64		group = LEASE_NO_GROUP;

			if (fair && !doomed)
			{
				group = storage_scan_group_hash(scan);
				if (group != LEASE_NO_GROUP && round_taken(&rounds, group, false) >= round)
				{
					skipped = true;
					continue;
				}
				/* A peek leases nothing: skip what an earlier round showed. */
				if (mode == TAKE_PEEK && round > 1 && taken_already(out, n, m.id))
					continue;
			}
			if (mode == TAKE_PEEK)
			{
				if (doomed || lease_held(relid, m.id, now))
					continue;
				storage_scan_copy(scan, &m);
				if (group != LEASE_NO_GROUP)
					(void) round_taken(&rounds, group, true);
				out[n++] = m;
				continue;
			}
			if (mode == TAKE_DROP && !doomed)
			{
				doomed = true;
				reason = DEAD_MAX_LENGTH;
			}
			if (mode == TAKE_EXPIRE && !doomed)
				continue;

			pending_reserve(2);
			if (doomed)
			{
				if (ndead >= DEAD_PER_CALL)
					continue;
				row.tid = m.tid;
				if (lease_claim(qs, relid, m.id, m.rank, LEASE_NO_GROUP, now, DT_NOEND, 0, 0,
								false, &row, &m.receipt, NULL) != CLAIM_OK)
					continue;
				storage_scan_copy(scan, &m);
				if (dead == NULL)
					dead = palloc(DEAD_PER_CALL * sizeof(DeadMsg));
				dead[ndead].m = m;
				dead[ndead].reason = reason;
				ndead++;
				if (mode == TAKE_DROP || mode == TAKE_EXPIRE)
					n++;
				continue;
			}

			if (filter_cxt != NULL && !storage_scan_body_contains(scan, filter, filter_cxt))
				continue;

			/* A read's failure (expiry, rollback, nack) waits per the policy. */
			retry = mode == TAKE_LEASE ? policy_retry_delay(info, m.deliveries + 1) : 0;
			if (!fair)
				group = storage_scan_group_hash(scan);
			row.tid = m.tid;
			claim = lease_claim(qs, relid, m.id, m.rank, group, now, until, retry, limit,
								hold, &row, &m.receipt, &busy_until);
			if (claim == CLAIM_LIMIT && !swept)
			{
				/* Expired leases may be holding the places; sweep once. */
				swept = true;
				if (lease_sweep_expired(qs, relid, now))
					claim = lease_claim(qs, relid, m.id, m.rank, group, now, until, retry,
										limit, hold, &row, &m.receipt, &busy_until);
			}
			if (claim == CLAIM_LIMIT)
			{
				limited = true;
				break;
			}
			if (claim == CLAIM_BUSY)
				storage_scan_pass(scan, busy_until);
			if (claim != CLAIM_OK)
				continue;
			storage_scan_pass(scan, until);
			if (mode == TAKE_LEASE || mode == TAKE_DELETE)
			{
				XLogRecPtr	at;

				if (m.deliveries < PG_INT32_MAX)
					m.deliveries++;
				at = storage_scan_set_deliveries(scan, m.deliveries);
				if (m.deliveries > 1 || m.enqueued_at < started)
					lsn = at;
				else
					lazy = at;
				pending_count(relid, STAT_DELIVERED, 1);
			}
			if (mode == TAKE_LEASE)
				m.visible_at = until;
			storage_scan_copy(scan, &m);
			if (fair && group != LEASE_NO_GROUP)
				(void) round_taken(&rounds, group, true);
			out[n++] = m;
		}
		next = Min(next, storage_scan_next_visible(scan));
		storage_scan_end(scan);
		if (!fair || !skipped || limited || n >= qty ||
			round >= info->max_inflight_per_group)
			break;
	}
	if (rounds != NULL)
		hash_destroy(rounds);
	if (filter_cxt != NULL)
		MemoryContextDelete(filter_cxt);
	if (next_visible)
		*next_visible = next;

	/*
	 * A message that crashes the server every time it is processed must
	 * still reach max_deliveries.  Its first delivery since the server
	 * started need not wait for the WAL: the WAL writer flushes the count
	 * soon, and if a crash comes first, that delivery goes uncounted but the
	 * message now dates from before the restart.  Every other count is on
	 * disk before anyone can act on the message, so from the second
	 * delivery, or the first after a crash, on, every delivery counts.
	 * Concurrent readers share the flushes (group commit).  A lazy count
	 * is left to the transaction's end: its commit flushes it, or hands it
	 * to the WAL writer (no transaction id), and so does its abort
	 * (xact.c).  Telling the WAL writer now, at every read, would wake it
	 * for WAL that a commit moments later flushes anyway.
	 */
	if (!XLogRecPtrIsInvalid(lsn))
		XLogFlush(Max(lsn, lazy));
	else if (!XLogRecPtrIsInvalid(lazy))
		pending_lazy_wal(lazy);

	for (i = 0; i < ndead; i++)
	{
		int64		msgid;
		int16		rank;

		if (lease_settle(relid, dead[i].m.receipt, NULL, false, &msgid, &rank, NULL, NULL) != LEASE_OK ||
			!policy_dead_letter(qrel, &dead[i].m, dead[i].reason, now))
		{
			lease_drop(relid, dead[i].m.receipt);
			if (mode == TAKE_DROP || mode == TAKE_EXPIRE)
				n--;
		}
	}

	if (mode == TAKE_DELETE)
	{
		int			kept = 0;

		for (i = 0; i < n; i++)
		{
			int64		msgid;
			int16		rank;

			if (lease_settle(relid, out[i].receipt, NULL, false, &msgid, &rank, NULL, NULL) == LEASE_OK &&
				storage_delete(qrel, &out[i].tid))
			{
				out[kept++] = out[i];
				pending_count(relid, STAT_ACKED, 1);
			}
			else
				lease_drop(relid, out[i].receipt);
		}
		n = kept;
	}
	if (rated && n < granted)
		qstate_rate_return(qs, info->rate_limit, granted - n);

	/*
	 * A dead letter that was a group's head let the group's next message
	 * into its window behind the scan: a read that is short looks once more.
	 */
	if (ndead > 0 && storage_promoted != promoted && n < qty &&
		(mode == TAKE_LEASE || mode == TAKE_DELETE))
	{
		/* The promoted row is a change of this command: make it visible. */
		CommandCounterIncrement();
		n += delivery_take(qrel, mode, qty - n, vt, filter, out + n, NULL);
	}
	return n;
}

/*
 * Sleep until the queue may have a ready message: a commit wakes us
 * (wakeup.c), or a delayed message or a lease ends by itself, or the
 * deadline comes.  Returns false at the deadline.
 */
bool
delivery_wait(QueueRel *qrel, QueueState *qs, TimestampTz deadline,
			  TimestampTz next_visible, bool release_horizon)
{
	Oid			relid = RelationGetRelid(qrel->heap);
	TimestampTz now = GetCurrentTimestamp();
	TimestampTz wake = Min(deadline, next_visible);
	long		msecs;

	if (now >= deadline)
		return false;
	/* A lease of the queue may end before anything else happens. */
	if (qstate_leases(qs) > 0)
	{
		TimestampTz lease_end;

		lease_sweep_expired(qs, relid, now);
		lease_end = qstate_min_until(qs);
		if (lease_end > now && lease_end < wake)
			wake = lease_end;
	}
	msecs = (long) ((wake - now + 999) / 1000);
	wakeup_sleep(Max(msecs, 1), release_horizon);
	return true;
}

/*
 * Ack or nack one delivery.  Returns LEASE_OK or why not.  A nack makes
 * the message ready at visible_at (0: at once; DELIVERY_RETRY_POLICY: after
 * the delivery's retry delay, the queue's policy).  Its reason (NULL: none)
 * is kept on the message as the header mq_last_error, and travels with it
 * to the dead-letter queue.
 */
LeaseCheck
delivery_settle(QueueRel *qrel, int64 receipt, const LeaseTarget *target, SettleHow how,
				TimestampTz visible_at, const char *reason)
{
	Oid			relid = RelationGetRelid(qrel->heap);
	int32		max_deliveries = qrel->info->max_deliveries;
	int64		msgid;
	int16		rank;
	ItemPointerData tid;
	LeaseCheck	check;
	bool		done;
	int64		retry;
	LeaseRow	row;

	check = lease_settle(relid, receipt, target, how == HOW_ACK, &msgid, &rank, &retry, &row);
	if (check != LEASE_OK)
		return check;
	if (visible_at == DELIVERY_RETRY_POLICY)
		visible_at = retry > 0 ? GetCurrentTimestamp() + retry : 0;
	if (how == HOW_NACK && visible_at == 0 && max_deliveries == 0 && reason == NULL)
	{
		/* The lease simply ends at commit. */
		pending_count(relid, STAT_NACKED, 1);
		return LEASE_OK;
	}
	/* Where the read found it, unless the storage was rewritten since. */
	if (row.file == compat_relfilenumber(qrel->heap))
		tid = row.tid;
	else
		ItemPointerSetInvalid(&tid);
	done = storage_find(qrel, rank, msgid, &tid);
	if (done && how == HOW_ACK)
		done = storage_delete(qrel, &tid);
	else if (done)
	{
		StoredMsg	m;

		done = storage_fetch(qrel, &tid, &m);
		if (done && reason != NULL)
			m.headers = policy_headers_with_string(storage_detoast(m.headers),
												   POLICY_LAST_ERROR_KEY, reason);
		/* A nack of the last allowed delivery dead-letters the message. */
		if (done && max_deliveries > 0 && m.deliveries >= max_deliveries)
			done = policy_dead_letter(qrel, &m, DEAD_MAX_DELIVERIES, GetCurrentTimestamp());
		else if (done && (visible_at != 0 || reason != NULL))
			done = storage_update(qrel, &tid, visible_at != 0 ? visible_at : m.visible_at,
								  reason != NULL, m.headers);
	}
	if (!done)
	{
		/* Purged (or dropped) by a transaction that committed first. */
		lease_drop(relid, receipt);
		return LEASE_UNKNOWN;
	}
	pending_count(relid, how == HOW_ACK ? STAT_ACKED : STAT_NACKED, 1);
	return LEASE_OK;
}

/*
 * Remove message msgid (remove) or make it ready at visible_at, in any
 * state; with m, its fields are read first (headers and body too).  A lease
 * on it goes when the transaction commits, so a later ack of its receipt
 * finds no delivery.  False if the queue has no such message, or a
 * transaction that committed first deleted it.
 */
static bool
change_by_id(QueueRel *qrel, int64 msgid, StoredMsg *m, bool remove, TimestampTz visible_at)
{
	Oid			relid = RelationGetRelid(qrel->heap);
	ItemPointerData tid;
	int16		rank;

	/*
	 * A transaction that updated the row (a nack with a delay) and
	 * committed while we waited for it leaves a new version: find that.
	 */
	for (;;)
	{
		if (!storage_find_id(qrel, msgid, &tid, &rank))
			return false;
		if (m != NULL && !storage_fetch(qrel, &tid, m))
			continue;
		if (remove ? storage_delete(qrel, &tid) :
			storage_update(qrel, &tid, visible_at, false, (Datum) 0))
			break;
		CHECK_FOR_INTERRUPTS();
	}
	/* Like a purge: the leases go at commit, and PREPARE is refused. */
	lease_note_purge(relid);
	lease_forget_message_at_commit(relid, msgid);
	return true;
}

/* Remove message msgid in any state (mq_delete, mq_remove, mq_move). */
bool
delivery_remove(QueueRel *qrel, int64 msgid, StoredMsg *m)
{
	return change_by_id(qrel, msgid, m, true, 0);
}

/*
 * Make message msgid, in any state, ready at visible_at (mq_delay); m gets
 * its fields as they are then.  Readers waiting for the queue are woken at
 * commit.
 */
bool
delivery_delay(QueueRel *qrel, int64 msgid, TimestampTz visible_at, StoredMsg *m)
{
	if (!change_by_id(qrel, msgid, m, false, visible_at))
		return false;
	m->visible_at = visible_at;
	/* No change of depth: an item that wakes the queue's readers at commit. */
	pending_note_depth(RelationGetRelid(qrel->heap), 0);
	return true;
}

/*
 * Move up to max messages that expired or used up max_deliveries out of a
 * queue (delayed ones too), and build the queue's depth counter if it has
 * none (after a restart), so that mq_queues need not count.  Returns how
 * many messages went; 0 for an unknown queue.
 */
int64
delivery_expire(const char *name, int max)
{
	QueueRel	qrel;
	int64		n = 0;
	int64		depth;

	if (!storage_open_by_name(&qrel, name, RowExclusiveLock, 0))
		return 0;
	(void) qstate_depth(qrel.heap, DEPTH_WARM, &depth);
	while (n < max && (qrel.info->has_ttl || qrel.info->max_deliveries > 0))
	{
		int			batch = (int) Min(max - n, DEAD_PER_CALL);
		int			moved = delivery_take(&qrel, TAKE_EXPIRE, batch, NULL, (Datum) 0, NULL, NULL);

		n += moved;
		if (moved < batch)
			break;
	}
	storage_close(&qrel);
	return n;
}

/* Remove up to max idempotency keys past their window. */
int64
delivery_prune_keys(const char *name, int max)
{
	QueueRel	qrel;
	int64		n;

	if (!storage_open_by_name(&qrel, name, RowExclusiveLock, 0))
		return 0;
	n = dedup_prune(&qrel.keys, GetCurrentTimestamp(), max);
	storage_close(&qrel);
	return n;
}
