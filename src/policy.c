/*-------------------------------------------------------------------------
 *
 * policy.c
 *	  Dead letters: moving a message out of its queue, and back.
 *
 * A message leaves its queue as a dead letter when it has been delivered
 * max_deliveries times (on a nack, or on the read after its last lease
 * ended), when it outlived message_ttl, or when drop_oldest makes room for
 * a send.  It is deleted from its queue and, if the queue has a
 * dead_letter_queue, sent there in the same transaction with body, headers,
 * priority and group kept and the header
 *
 *	  "mq_dead_letter": {"queue": ..., "reason": "max_deliveries" | "ttl" |
 *						 "max_length", "deliveries": n, "at": ...,
 *						 "id": its id in the queue, "enqueued_at": ...}
 *
 * (replacing any earlier one), and the top-level "mq_last_error" the last
 * mq_nack with a reason left on it.  Without a dead-letter queue it is dropped.
 * A dead-letter queue takes dead letters whatever its own max_length:
 * a dead letter is never lost to the limits of the queue meant to keep it.
 *
 * mq_redrive() reverses the move: the message goes back to the queue named
 * in its header, with the header removed and its delivery count reset.
 *
 * Retries: the delay before a message whose delivery failed (a nack
 * without a delay, an expired lease, a rolled-back read) is ready again,
 * from the queue's retry policy (policy_retry_delay).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "common/pg_prng.h"

#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "pending.h"
#include "policy.h"
#include "storage.h"
#include "util.h"

#define DEAD_LETTER_KEY "mq_dead_letter"

static void
push_string(CompatJsonbBuilder *b, JsonbIteratorToken tok, const char *s)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) s;
	v.val.string.len = strlen(s);
	compat_jsonb_push(b, tok, &v);
}

/*
 * headers with key replaced by value (value NULL: removed).  headers may be
 * (Datum) 0 for none; the result is (Datum) 0 if no key is left.
 */
Datum
policy_headers_with(Datum headers, const char *key, JsonbValue *value)
{
	CompatJsonbBuilder b = {0};
	int			nkeys = 0;
	int			keylen = strlen(key);

	compat_jsonb_push(&b, WJB_BEGIN_OBJECT, NULL);
	if (headers != (Datum) 0)
	{
		Jsonb	   *jb = DatumGetJsonbP(headers);
		JsonbIterator *it = JsonbIteratorInit(&jb->root);
		JsonbValue	k;
		JsonbValue	v;
		JsonbIteratorToken tok;

		while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
		{
			if (tok != WJB_KEY)
				continue;
			tok = JsonbIteratorNext(&it, &v, true);
			Assert(tok == WJB_VALUE);
			if (k.val.string.len == keylen &&
				memcmp(k.val.string.val, key, keylen) == 0)
				continue;
			compat_jsonb_push(&b, WJB_KEY, &k);
			compat_jsonb_push(&b, WJB_VALUE, &v);
			nkeys++;
		}
	}
	if (value != NULL)
	{
		push_string(&b, WJB_KEY, key);
		compat_jsonb_push(&b, WJB_VALUE, value);
		nkeys++;
	}
	compat_jsonb_push(&b, WJB_END_OBJECT, NULL);
	if (nkeys == 0)
		return (Datum) 0;
	return JsonbPGetDatum(JsonbValueToJsonb(b.result));
}

static void
push_number(CompatJsonbBuilder *b, int64 n)
{
	JsonbValue	v;

	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(n);
	compat_jsonb_push(b, WJB_VALUE, &v);
}

/* headers with key set to the string value. */
Datum
policy_headers_with_string(Datum headers, const char *key, const char *value)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) value;
	v.val.string.len = strlen(value);
	return policy_headers_with(headers, key, &v);
}

/* The mq_dead_letter header object of message m leaving queue. */
static Jsonb *
dead_letter_info(const char *queue, const char *reason, const StoredMsg *m,
				 TimestampTz at)
{
	CompatJsonbBuilder b = {0};

	compat_jsonb_push(&b, WJB_BEGIN_OBJECT, NULL);
	push_string(&b, WJB_KEY, "queue");
	push_string(&b, WJB_VALUE, queue);
	push_string(&b, WJB_KEY, "reason");
	push_string(&b, WJB_VALUE, reason);
	push_string(&b, WJB_KEY, "deliveries");
	push_number(&b, m->deliveries);
	push_string(&b, WJB_KEY, "at");
	push_string(&b, WJB_VALUE, util_timestamp_iso8601_utc(at));
	push_string(&b, WJB_KEY, "id");
	push_number(&b, m->id);
	push_string(&b, WJB_KEY, "enqueued_at");
	push_string(&b, WJB_VALUE, util_timestamp_iso8601_utc(m->enqueued_at));
	compat_jsonb_push(&b, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(b.result);
}

/*
 * Move a message out of its queue: delete its row and, if the queue has a
 * dead-letter queue, send it there.  The caller has settled the message's
 * lease, so nobody else touches it.  False if the row was gone already.
 */
bool
policy_dead_letter(QueueRel *qrel, StoredMsg *m, DeadReason reason, TimestampTz now)
{
	static const char *const reasons[] = {"max_deliveries", "ttl", "max_length"};
	const char *dlq = qrel->info->dead_letter_queue;
	QueueRel	target;
	Datum		headers;
	Datum		body;

	if (!storage_delete(qrel, &m->tid))
		return false;
	pending_count(RelationGetRelid(qrel->heap),
			   reason == DEAD_TTL ? STAT_EXPIRED : STAT_DEAD_LETTERED, 1);
	if (dlq[0] == '\0')
		return true;

	if (!storage_open_by_name(&target, dlq, RowExclusiveLock, 0))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("dead-letter queue \"%s\" of queue \"%s\" does not exist",
						dlq, qrel->info->name)));
	{
		Jsonb	   *info = dead_letter_info(qrel->info->name, reasons[reason], m, now);
		JsonbValue	v;

		v.type = jbvBinary;
		v.val.binary.data = &info->root;
		v.val.binary.len = VARSIZE(info) - VARHDRSZ;
		headers = policy_headers_with(storage_detoast(m->headers), DEAD_LETTER_KEY, &v);
	}
	body = storage_detoast(m->body);
	(void) storage_send_copy(&target, m, headers, body, now);
	storage_close(&target);
	return true;
}

/*
 * For mq_redrive: the queue a dead letter came from (NULL if the message
 * carries no usable mq_dead_letter header) and its headers without it.
 */
char *
policy_dead_letter_source(Datum headers, Datum *stripped)
{
	Jsonb	   *jb;
	JsonbValue	info;
	JsonbValue	queue;
	char	   *name;

	if (headers == (Datum) 0)
		return NULL;
	jb = DatumGetJsonbP(headers);
	if (getKeyJsonValueFromContainer(&jb->root, DEAD_LETTER_KEY,
									 strlen(DEAD_LETTER_KEY), &info) == NULL ||
		info.type != jbvBinary ||
		!JsonContainerIsObject(info.val.binary.data) ||
		getKeyJsonValueFromContainer(info.val.binary.data, "queue", 5, &queue) == NULL ||
		queue.type != jbvString || queue.val.string.len < 1 ||
		queue.val.string.len > QUEUE_NAME_MAXLEN)
		return NULL;
	name = pnstrdup(queue.val.string.val, queue.val.string.len);
	*stripped = policy_headers_with(headers, DEAD_LETTER_KEY, NULL);
	return name;
}

/*
 * The retry delay, in microseconds, after the failure of the n-th delivery
 * of a message (n >= 1): retry_delay x 1 (fixed), x n (linear) or
 * x 2^(n-1) (exponential), at most retry_max_delay, plus up to
 * retry_jitter of that at random.  0 without a retry policy.
 */
int64
policy_retry_delay(const QueueInfo *info, int32 n)
{
	double		delay;

	if (!info->has_retry || info->retry_delay_us <= 0)
		return 0;
	delay = (double) info->retry_delay_us;
	n = Max(n, 1);
	if (info->retry_backoff == 'l')
		delay *= n;
	else if (info->retry_backoff == 'e')
		delay = ldexp(delay, Min(n - 1, 1000));
	delay = Min(delay, (double) info->retry_max_delay_us);
	if (info->retry_jitter > 0)
		delay += delay * info->retry_jitter * pg_prng_double(&pg_global_prng_state);
	return (int64) Min(delay, (double) PG_INT64_MAX / 2);
}
