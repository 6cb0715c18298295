/*-------------------------------------------------------------------------
 *
 * topic.c
 *	  Topics: publish once, every subscribed queue gets its own copy
 *	  (SPEC section 4).
 *
 * A topic is a name in mq.objects (kind 't') with its dedup_window in
 * mq.topics and its idempotency keys in mq.t_<id>_keys.  Subscriptions are
 * rows (topic, queue, pattern) of mq.subscriptions; dropping a queue removes
 * its subscriptions (foreign key, ON DELETE CASCADE).
 *
 * Patterns follow AMQP topic exchanges: words separated by '.', where '*'
 * matches exactly one word and '#' zero or more.  A routing key is words of
 * the name alphabet without '.' (the empty key has no words).  Matching is a
 * small dynamic programme over the two word lists.
 *
 * Each backend caches a topic with its subscriptions compiled into word
 * lists, so a publish parses no pattern.  Subscribing, unsubscribing and
 * every other catalog change bump catalog_generation (catalog.c), which
 * makes the next publish reload.
 *
 * mq_publish writes one copy per matching queue, in the caller's
 * transaction (commit = every subscriber has it, rollback = nobody), with
 * the headers mq_topic and mq_routing_key added.  A queue bound by several
 * matching patterns gets one copy.  A subscriber that is full under
 * overflow 'reject' does not fail the publish: its copy is skipped and
 * counted as rejected in mq_stats; one with 'drop_oldest' makes room.  The
 * result counts the queues that accepted a copy; a duplicate publish
 * (idempotency key within the topic's dedup_window) delivers nothing and
 * returns NULL.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/detoast.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "args.h"
#include "catalog.h"
#include "dedup.h"
#include "delivery.h"
#include "match.h"
#include "pending.h"
#include "perms.h"
#include "policy.h"
#include "storage.h"
#include "topic.h"
#include "util.h"

PG_FUNCTION_INFO_V1(mq_create_topic);
PG_FUNCTION_INFO_V1(mq_drop_topic);
PG_FUNCTION_INFO_V1(mq_subscribe);
PG_FUNCTION_INFO_V1(mq_unsubscribe);
PG_FUNCTION_INFO_V1(mq_publish);

typedef struct Binding
{
	char		queue[QUEUE_NAME_MAXLEN + 1];
	Words		pattern;
} Binding;

typedef struct TopicInfo
{
	/* as NameCacheEntry */
	char		name[QUEUE_NAME_MAXLEN + 1];	/* hash key */
	uint64		generation;
	MemoryContext cxt;			/* bindings live here */
	int32		id;
	Interval	dedup_window;
	Oid			keysid;
	Oid			keys_pkid;
	ObjectPerms perms;
	int			nbindings;
	Binding    *bindings;
} TopicInfo;

static HTAB *topic_cache = NULL;

/* ---------------------------------------------------------------------
 * Patterns and routing keys
 * ---------------------------------------------------------------------
 */

/*
 * A routing key or pattern argument as a C string; 22023 if it is longer
 * than PATTERN_MAXLEN bytes, told from its stored size before anything is
 * detoasted or copied (so a huge value costs no memory and no XX000).
 */
static char *
arg_words(FunctionCallInfo fcinfo, int argno, const char *what)
{
	Size		len;

	args_not_null(fcinfo, argno, what);
	len = toast_raw_datum_size(PG_GETARG_DATUM(argno)) - VARHDRSZ;
	if (len > PATTERN_MAXLEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is too long", what),
				 errdetail("It is %zu bytes; the limit is %d.", len, PATTERN_MAXLEN)));
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

static void
check_pattern(const char *pattern)
{
	Words		w;

	if (!match_split_words(pattern, true, &w))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid pattern \"%s\"", pattern),
				 errdetail("A pattern is 1 to %d characters: words of A-Z, a-z, 0-9, \"_\" and \"-\", or \"*\" (one word) or \"#\" (zero or more words), separated by single dots.",
						   PATTERN_MAXLEN)));
}

/* ---------------------------------------------------------------------
 * The per-backend cache
 * ---------------------------------------------------------------------
 */

static bool
topic_load(void *entry)
{
	TopicInfo  *t = (TopicInfo *) entry;
	CatalogContext cxt;
	Datum		arg = CStringGetTextDatum(t->name);
	Oid			argtype = TEXTOID;
	bool		found = false;
	uint64		i;
	char	   *sql;

	t->nbindings = 0;
	t->bindings = NULL;

	catalog_enter(&cxt);
	sql = psprintf("SELECT o.id, t.dedup_window, %s FROM mq.objects o"
				   "  JOIN mq.topics t ON t.id OPERATOR(pg_catalog.=) o.id"
				   " WHERE o.name OPERATOR(pg_catalog.=) $1", catalog_perms_columns());
	catalog_exec(sql, 1, &argtype, &arg, NULL);
	if (SPI_processed == 1)
	{
		bool		isnull;

		t->id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		t->dedup_window = *DatumGetIntervalP(SPI_getbinval(SPI_tuptable->vals[0],
														   SPI_tuptable->tupdesc, 2, &isnull));
		perms_from_tuple(&t->perms, SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3, t->cxt);
		t->keysid = catalog_storage_oid('t', t->id, "_keys", false);
		t->keys_pkid = catalog_storage_oid('t', t->id, "_keys_pkey", false);
		found = true;

		arg = Int32GetDatum(t->id);
		argtype = INT4OID;
		catalog_exec("SELECT q.name, s.pattern FROM mq.subscriptions s"
					 "  JOIN mq.objects q ON q.id OPERATOR(pg_catalog.=) s.queue"
					 " WHERE s.topic OPERATOR(pg_catalog.=) $1 ORDER BY q.name, s.pattern",
					 1, &argtype, &arg, NULL);
		t->bindings = MemoryContextAlloc(t->cxt, sizeof(Binding) * Max(SPI_processed, 1));
		for (i = 0; i < SPI_processed; i++)
		{
			Binding    *b = &t->bindings[t->nbindings];
			MemoryContext old;

			strlcpy(b->queue, SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1),
					sizeof(b->queue));
			old = MemoryContextSwitchTo(t->cxt);
			if (match_split_words(SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2),
							true, &b->pattern))
				t->nbindings++;
			MemoryContextSwitchTo(old);
		}
	}
	catalog_leave(&cxt);
	return found;
}

/* A topic by (validated) name, current as of the latest catalog change. */
static TopicInfo *
topic_lookup(const char *name)
{
	return catalog_name_cache_lookup(&topic_cache, sizeof(TopicInfo), name, topic_load);
}

/* ---------------------------------------------------------------------
 * DDL
 * ---------------------------------------------------------------------
 */

static void
topic_arg(FunctionCallInfo fcinfo, int argno, char *out)
{
	args_name_arg(fcinfo, argno, "topic", "topic", out);
}

/* mq_create_topic(topic, dedup_window, if_not_exists) */
Datum
mq_create_topic(PG_FUNCTION_ARGS)
{
	char		name[QUEUE_NAME_MAXLEN + 1];
	CatalogContext cxt;
	int32		id;
	char		kind;
	char		sql[512];
	bool		if_not_exists;

	PreventCommandIfReadOnly("mq_create_topic()");
	topic_arg(fcinfo, 0, name);
	args_not_null(fcinfo, 1, "dedup_window");
	if (util_interval_is_negative(PG_GETARG_INTERVAL_P(1)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("dedup_window must not be negative")));
	util_interval_check_size(PG_GETARG_INTERVAL_P(1), "dedup_window");
	args_not_null(fcinfo, 2, "if_not_exists");
	if_not_exists = PG_GETARG_BOOL(2);

	catalog_enter(&cxt);
	catalog_lock();
	if (catalog_find_locked(name, &id, &kind))
	{
		if (if_not_exists && kind == 't')
		{
			const char *names[1] = {"dedup_window"};
			Oid			types[1] = {INTERVALOID};
			Datum		values[1] = {PG_GETARG_DATUM(1)};
			char	   *differ = catalog_options_differ("mq.topics", id, 1, names, names,
													   types, values, " ");

			catalog_leave(&cxt);
			catalog_exists_notice("topic", name, differ, NULL);
			PG_RETURN_VOID();
		}
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 kind == 't' ?
				 errmsg("topic \"%s\" already exists", name) :
				 errmsg("a %s named \"%s\" already exists", util_kind_name(kind), name),
				 errdetail("Queues, topics and streams share one namespace.")));
	}
	catalog_exec("SELECT pg_catalog.nextval('mq.object_id_seq'::pg_catalog.regclass)::pg_catalog.int4",
				 0, NULL, NULL, NULL);
	{
		bool		isnull;
		Datum		args[3];
		Oid			types[3] = {INT4OID, TEXTOID, REGROLEOID};

		id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		args[0] = Int32GetDatum(id);
		args[1] = CStringGetTextDatum(name);
		args[2] = ObjectIdGetDatum(cxt.save_userid);
		catalog_exec("INSERT INTO mq.objects (id, name, kind, owner) VALUES ($1, $2, 't', $3)",
					 3, types, args, NULL);
		types[1] = INTERVALOID;
		args[1] = PG_GETARG_DATUM(1);
		catalog_exec("INSERT INTO mq.topics (id, dedup_window) VALUES ($1, $2)",
					 2, types, args, NULL);
	}
	snprintf(sql, sizeof(sql),
			 "CREATE TABLE mq.t_%d_keys ("
			 " key pg_catalog.text COLLATE \"C\" NOT NULL,"
			 " id pg_catalog.int8 NOT NULL,"
			 " sent_at pg_catalog.timestamptz NOT NULL,"
			 " CONSTRAINT t_%d_keys_pkey PRIMARY KEY (key))",
			 id, id);
	catalog_ddl(sql);
	catalog_changed();
	catalog_leave(&cxt);
	PG_RETURN_VOID();
}

/* mq_drop_topic(topic, if_exists) -> boolean */
Datum
mq_drop_topic(PG_FUNCTION_ARGS)
{
	char		name[QUEUE_NAME_MAXLEN + 1];
	CatalogContext cxt;
	int32		id;
	char		sql[128];
	Datum		arg;
	Oid			argtype = INT4OID;

	PreventCommandIfReadOnly("mq_drop_topic()");
	topic_arg(fcinfo, 0, name);
	args_not_null(fcinfo, 1, "if_exists");

	catalog_enter(&cxt);
	catalog_lock();
	if (!catalog_find_checked(&cxt, name, 't', PRIV_MANAGE, &id))
	{
		catalog_leave(&cxt);
		if (!PG_GETARG_BOOL(1) || catalog_kind_of(name) != '\0')
			catalog_report_missing("topic", "t", name);
		ereport(NOTICE,
				(errmsg("topic \"%s\" does not exist, skipping", name)));
		PG_RETURN_BOOL(false);
	}
	arg = Int32GetDatum(id);
	catalog_exec("DELETE FROM mq.objects WHERE id OPERATOR(pg_catalog.=) $1",
				 1, &argtype, &arg, NULL);
	snprintf(sql, sizeof(sql), "DROP TABLE IF EXISTS mq.t_%d_keys", id);
	catalog_ddl(sql);
	catalog_changed();
	catalog_leave(&cxt);
	PG_RETURN_BOOL(true);
}

/* 42501 unless roleid holds priv, or manage, on the object. */
static void
require_or_manage(const ObjectPerms *perms, Oid roleid, int priv, char kind,
				  const char *name)
{
	if (!perms_allow(perms, roleid, PRIV_MANAGE))
		perms_require(perms, roleid, priv, kind, name);
}

/*
 * Look up a topic and a queue under the DDL lock; 42704 if either is
 * missing.  A binding, made or removed, needs send on the queue (the
 * topic's publishers will write to it) and read on the topic (its messages
 * are what the binding takes): AMQP's rule, write on the destination and
 * read on the source.  Owners and holders of manage have both.
 */
static void
find_topic_and_queue(const CatalogContext *cxt, const char *topic, const char *queue,
					 int32 *tid, int32 *qid)
{
	char		kind;
	ObjectPerms tperms;
	ObjectPerms qperms;

	if (!catalog_find_perms(topic, tid, &kind, &tperms) || kind != 't')
		catalog_report_missing("topic", "t", topic);
	if (!catalog_find_perms(queue, qid, &kind, &qperms) || kind != 'q')
		catalog_report_missing("queue", "q", queue);
	require_or_manage(&tperms, cxt->save_userid, PRIV_READ, 't', topic);
	require_or_manage(&qperms, cxt->save_userid, PRIV_SEND, 'q', queue);
}

/* mq_subscribe(topic, queue, pattern) */
Datum
mq_subscribe(PG_FUNCTION_ARGS)
{
	char		topic[QUEUE_NAME_MAXLEN + 1];
	char		queue[QUEUE_NAME_MAXLEN + 1];
	char	   *pattern;
	CatalogContext cxt;
	int32		tid,
				qid;
	Datum		args[3];
	Oid			types[3] = {INT4OID, INT4OID, TEXTOID};

	PreventCommandIfReadOnly("mq_subscribe()");
	topic_arg(fcinfo, 0, topic);
	args_name_arg(fcinfo, 1, "queue", "queue", queue);
	pattern = arg_words(fcinfo, 2, "pattern");
	check_pattern(pattern);

	catalog_enter(&cxt);
	catalog_lock();
	find_topic_and_queue(&cxt, topic, queue, &tid, &qid);
	args[0] = Int32GetDatum(tid);
	args[1] = Int32GetDatum(qid);
	args[2] = CStringGetTextDatum(pattern);
	catalog_exec("INSERT INTO mq.subscriptions (topic, queue, pattern) VALUES ($1, $2, $3)"
				 " ON CONFLICT DO NOTHING",
				 3, types, args, NULL);
	catalog_changed();
	catalog_leave(&cxt);
	PG_RETURN_VOID();
}

/* mq_unsubscribe(topic, queue, pattern) -> subscriptions removed */
Datum
mq_unsubscribe(PG_FUNCTION_ARGS)
{
	char		topic[QUEUE_NAME_MAXLEN + 1];
	char		queue[QUEUE_NAME_MAXLEN + 1];
	CatalogContext cxt;
	int32		tid,
				qid;
	Datum		args[3];
	Oid			types[3] = {INT4OID, INT4OID, TEXTOID};
	char		nulls[3] = {' ', ' ', ' '};
	uint64		n;

	PreventCommandIfReadOnly("mq_unsubscribe()");
	topic_arg(fcinfo, 0, topic);
	args_name_arg(fcinfo, 1, "queue", "queue", queue);
	if (PG_ARGISNULL(2))
		nulls[2] = 'n';
	else
	{
		char	   *pattern = arg_words(fcinfo, 2, "pattern");

		check_pattern(pattern);
		args[2] = CStringGetTextDatum(pattern);
	}

	catalog_enter(&cxt);
	catalog_lock();
	find_topic_and_queue(&cxt, topic, queue, &tid, &qid);
	args[0] = Int32GetDatum(tid);
	args[1] = Int32GetDatum(qid);
	catalog_exec("DELETE FROM mq.subscriptions WHERE topic OPERATOR(pg_catalog.=) $1"
				 " AND queue OPERATOR(pg_catalog.=) $2"
				 " AND ($3 IS NULL OR pattern OPERATOR(pg_catalog.=) $3)",
				 3, types, args, nulls);
	n = SPI_processed;
	if (n > 0)
		catalog_changed();
	catalog_leave(&cxt);
	PG_RETURN_INT64((int64) n);
}

/* ---------------------------------------------------------------------
 * Publishing
 * ---------------------------------------------------------------------
 */

/* headers + {"mq_topic": topic, "mq_routing_key": key} */
static Datum
publish_headers(Datum headers, const char *topic, const char *key)
{
	JsonbValue	v;

	v.type = jbvString;
	v.val.string.val = (char *) topic;
	v.val.string.len = strlen(topic);
	headers = policy_headers_with(headers, "mq_topic", &v);
	v.val.string.val = (char *) key;
	v.val.string.len = strlen(key);
	return policy_headers_with(headers, "mq_routing_key", &v);
}

/* 22023 unless routing_key is a valid routing key; its words in *rk. */
void
topic_check_routing_key(const char *routing_key, Words *rk)
{
	Words		w;

	if (strlen(routing_key) > PATTERN_MAXLEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("routing_key is too long"),
				 errdetail("It is %zu bytes; the limit is %d.", strlen(routing_key), PATTERN_MAXLEN)));
	if (!match_split_words(routing_key, false, rk ? rk : &w))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid routing key \"%s\"", routing_key),
				 errdetail("A routing key is empty or up to %d characters: words of A-Z, a-z, 0-9, \"_\" and \"-\" separated by single dots.",
						   PATTERN_MAXLEN)));
}

/*
 * mq_publish(topic, routing_key, body, headers, idempotency_key, group_key)
 *	  -> int; each copy keeps the group key
 */
Datum
mq_publish(PG_FUNCTION_ARGS)
{
	char		name[QUEUE_NAME_MAXLEN + 1];
	char	   *routing_key;
	Words		rk;
	Datum		body;
	Datum		headers;
	text	   *key = NULL;
	Datum		group;
	int			accepted;

	topic_arg(fcinfo, 0, name);
	routing_key = arg_words(fcinfo, 1, "routing_key");
	group = args_group_key_arg(fcinfo, 5);
	topic_check_routing_key(routing_key, &rk);
	args_not_null(fcinfo, 2, "body");
	body = PG_GETARG_DATUM(2);
	headers = args_headers(PG_GETARG_DATUM(3), PG_ARGISNULL(3));
	if (!PG_ARGISNULL(4))
	{
		key = PG_GETARG_TEXT_PP(4);
		args_idempotency_key(key);
	}
	accepted = topic_publish(name, routing_key, &rk, body, headers, key, group);
	if (accepted < 0)
		PG_RETURN_NULL();
	PG_RETURN_INT32(accepted);
}

/*
 * Publish one message (arguments checked: rk is routing_key's words from
 * topic_check_routing_key) to topic name as the current role: the number
 * of queues that accepted a copy, or -1 for a key published before within
 * the topic's window.
 */
int
topic_publish(const char *name, const char *routing_key, const Words *rk,
			  Datum body, Datum headers, text *key, Datum group)
{
	TopicInfo  *t;
	KeyTable	keys;
	ItemPointerData stale;
	TimestampTz now;
	char	  **targets;
	int			ntargets = 0;
	int			accepted = 0;
	int			i,
				j;

	PreventCommandIfReadOnly("mq_publish()");
	PreventCommandDuringRecovery("mq_publish()");

	t = topic_lookup(name);
	if (t == NULL)
		catalog_report_missing("topic", "t", name);
	perms_require(&t->perms, GetUserId(), PRIV_SEND, 't', name);
	now = GetCurrentTimestamp();

	if (key != NULL)
	{
		bool		duplicate;

		dedup_init(&keys, t->keysid, t->keys_pkid, &t->dedup_window);
		(void) dedup_lookup(&keys, key, now, &stale, &duplicate);
		if (duplicate)
		{
			dedup_close(&keys);
			return -1;
		}
	}

	/* The queues whose patterns match, each once. */
	targets = palloc(sizeof(char *) * Max(t->nbindings, 1));
	for (i = 0; i < t->nbindings; i++)
	{
		Binding    *b = &t->bindings[i];
		bool		seen = false;

		for (j = 0; j < ntargets && !seen; j++)
			seen = strcmp(targets[j], b->queue) == 0;
		if (!seen && match_words(&b->pattern, rk))
			targets[ntargets++] = pstrdup(b->queue);
	}

	headers = publish_headers(headers, name, routing_key);
	for (i = 0; i < ntargets; i++)
	{
		QueueRel	qrel;
		int64		depth;
		int64		id;

		/* A queue dropped meanwhile has no subscription any more. */
		if (!storage_open_by_name(&qrel, targets[i], RowExclusiveLock, 0))
			continue;
		if (!delivery_make_room(&qrel, 1, &depth))
		{
			pending_count(RelationGetRelid(qrel.heap), STAT_REJECTED, 1);
			storage_close(&qrel);
			continue;
		}
		storage_lock_groups(&qrel, 1, &group);
		id = storage_next_id(&qrel);
		storage_insert(&qrel, 1, &id, now, now, QUEUE_PRIORITY_MAX,
					   &headers, &body, group != (Datum) 0 ? &group : NULL);
		storage_close(&qrel);
		accepted++;
	}

	if (key != NULL)
	{
		dedup_record(&keys, key, accepted, now, &stale);
		dedup_close(&keys);
	}
	return accepted;
}

/* ---------------------------------------------------------------------
 * Maintenance
 * ---------------------------------------------------------------------
 */

/* Remove up to max idempotency keys of a topic past their window. */
int64
topic_prune_keys(const char *name, int max)
{
	TopicInfo  *t = topic_lookup(name);

	return t == NULL ? 0 :
		dedup_prune_keys(t->keysid, t->keys_pkid, &t->dedup_window, max);
}
