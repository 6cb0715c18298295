/*-------------------------------------------------------------------------
 *
 * queue_info.c
 *	  The per-backend cache of queues: name -> QueueInfo.
 *
 * Every backend caches a queue's options, its storage relations and its
 * owner and grants.  Queue DDL sends a relcache invalidation for
 * mq.objects; catalog.c's callback (and one for any cached storage table,
 * which this cache tells it of) marks every entry invalid, and the next
 * lookup reloads it using the latest committed catalog state.  A generation
 * counter detects an invalidation that arrives while an entry is being
 * loaded.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "perms.h"
#include "queue_info.h"
#include "util.h"

static HTAB *queue_cache = NULL;

/* The queue cache: every entry invalid. */
static void
queue_cache_invalidate(void)
{
	HASH_SEQ_STATUS status;
	QueueInfo  *entry;

	if (queue_cache == NULL)
		return;
	hash_seq_init(&status, queue_cache);
	while ((entry = hash_seq_search(&status)) != NULL)
		entry->valid = false;
}

/* Is relid the storage table of a queue in the cache? */
static bool
queue_cache_holds(Oid relid)
{
	HASH_SEQ_STATUS status;
	QueueInfo  *entry;

	if (queue_cache == NULL)
		return false;
	hash_seq_init(&status, queue_cache);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (entry->valid && entry->relid == relid)
		{
			hash_seq_term(&status);
			return true;
		}
	}
	return false;
}

static void
queue_cache_init(void)
{
	HASHCTL		ctl;

	catalog_cache_ready();
	catalog_register_cache(queue_cache_invalidate, queue_cache_holds);
	ctl.keysize = QUEUE_NAME_MAXLEN + 1;
	ctl.entrysize = sizeof(QueueInfo);
	ctl.hcxt = CacheMemoryContext;
	queue_cache = hash_create("queue cache", 64, &ctl,
							  HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

/*
 * Load a queue's entry from the catalog.  Returns false if there is no
 * queue of that name.
 */
static bool
queue_load(QueueInfo *entry)
{
	CatalogContext cxt;
	char	   *sql;
	Datum		arg = CStringGetTextDatum(entry->name);
	Oid			argtype = TEXTOID;
	bool		found = false;

	catalog_enter(&cxt);
	sql = psprintf("SELECT o.id, q.visibility_timeout, q.max_deliveries, d.name,"
				   "       q.message_ttl, q.max_length, q.overflow, q.max_inflight,"
				   "       q.dedup_window, q.unlogged, %s, %s"
				   "  FROM mq.objects o JOIN mq.queues q ON q.id OPERATOR(pg_catalog.=) o.id"
				   "  LEFT JOIN mq.objects d ON d.id OPERATOR(pg_catalog.=) q.dead_letter_queue"
				   " WHERE o.name OPERATOR(pg_catalog.=) $1", catalog_perms_columns(),
				   catalog_has_column("queues", "retry_delay") ?
				   "q.max_inflight_per_group, q.rate_limit, q.retry_delay,"
				   " q.retry_backoff, q.retry_max_delay, q.retry_jitter,"
				   " q.allow_null_bodies, q.lease_until_transaction_end" :
	/* A catalog from before 0.4.0: no groups' limit, rate limit or retry policy. */
				   "1::pg_catalog.int4, NULL::pg_catalog.float8, NULL::pg_catalog.interval,"
				   " 'exponential'::pg_catalog.text, '1 hour'::pg_catalog.interval,"
				   " 0::pg_catalog.float8, false, false");
	catalog_exec(sql, 1, &argtype, &arg, NULL);
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		d;

		entry->id = DatumGetInt32(SPI_getbinval(tup, desc, 1, &isnull));
		entry->visibility_timeout = *DatumGetIntervalP(SPI_getbinval(tup, desc, 2, &isnull));
		d = SPI_getbinval(tup, desc, 3, &isnull);
		entry->max_deliveries = isnull ? 0 : DatumGetInt32(d);
		d = SPI_getbinval(tup, desc, 4, &isnull);
		entry->dead_letter_queue[0] = '\0';
		if (!isnull)
			text_to_cstring_buffer(DatumGetTextPP(d), entry->dead_letter_queue,
								   sizeof(entry->dead_letter_queue));
		d = SPI_getbinval(tup, desc, 5, &isnull);
		entry->has_ttl = !isnull;
		if (!isnull)
			entry->message_ttl = *DatumGetIntervalP(d);
		d = SPI_getbinval(tup, desc, 6, &isnull);
		entry->max_length = isnull ? 0 : DatumGetInt64(d);
		d = SPI_getbinval(tup, desc, 7, &isnull);
		entry->drop_oldest = strcmp(TextDatumGetCString(d), "drop_oldest") == 0;
		d = SPI_getbinval(tup, desc, 8, &isnull);
		entry->max_inflight = isnull ? 0 : DatumGetInt32(d);
		entry->dedup_window = *DatumGetIntervalP(SPI_getbinval(tup, desc, 9, &isnull));
		entry->unlogged = DatumGetBool(SPI_getbinval(tup, desc, 10, &isnull));
		if (entry->perms.acl != NULL)
		{
			pfree(entry->perms.acl);
			entry->perms.acl = NULL;
		}
		perms_from_tuple(&entry->perms, tup, desc, 11, CacheMemoryContext);
		entry->max_inflight_per_group = DatumGetInt32(SPI_getbinval(tup, desc, 15, &isnull));
		d = SPI_getbinval(tup, desc, 16, &isnull);
		entry->rate_limit = isnull ? 0 : DatumGetFloat8(d);
		d = SPI_getbinval(tup, desc, 17, &isnull);
		entry->has_retry = !isnull;
		entry->retry_delay_us = isnull ? 0 :
			util_interval_usecs_capped(DatumGetIntervalP(d), PG_INT64_MAX);
		entry->retry_backoff = *TextDatumGetCString(SPI_getbinval(tup, desc, 18, &isnull));
		entry->retry_max_delay_us =
			util_interval_usecs_capped(DatumGetIntervalP(SPI_getbinval(tup, desc, 19, &isnull)),
									   PG_INT64_MAX);
		entry->retry_jitter = DatumGetFloat8(SPI_getbinval(tup, desc, 20, &isnull));
		entry->allow_null_bodies = DatumGetBool(SPI_getbinval(tup, desc, 21, &isnull));
		entry->lease_until_transaction_end = DatumGetBool(SPI_getbinval(tup, desc, 22, &isnull));
		entry->relid = catalog_storage_oid('q', entry->id, "", false);
		entry->pkid = catalog_storage_oid('q', entry->id, "_pkey", false);
		/* Missing until ALTER EXTENSION queue UPDATE has run (0.4.0). */
		entry->delayedid = catalog_storage_oid('q', entry->id, "_delayed", true);
		entry->groupsid = catalog_storage_oid('q', entry->id, "_groups", true);
		entry->seqid = catalog_storage_oid('q', entry->id, "_seq", false);
		entry->keysid = catalog_storage_oid('q', entry->id, "_keys", false);
		entry->keys_pkid = catalog_storage_oid('q', entry->id, "_keys_pkey", false);
		found = true;
	}
	catalog_leave(&cxt);
	return found;
}

/* The names of every queue of the database. */
List *
queue_info_names(void)
{
	return catalog_object_names('q');
}

/*
 * Find a queue by (already validated) name; NULL if there is none.
 */
QueueInfo *
queue_info_lookup(const char *name)
{
	QueueInfo  *entry;
	bool		found;

	if (queue_cache == NULL)
		queue_cache_init();

	entry = hash_search(queue_cache, name, HASH_ENTER, &found);
	if (!found)
	{
		entry->valid = false;
		entry->perms.acl = NULL;
	}
	while (!entry->valid)
	{
		uint64		generation = catalog_generation;
		char		key[QUEUE_NAME_MAXLEN + 1];

		strlcpy(key, name, sizeof(key));
		if (!queue_load(entry))
		{
			if (entry->perms.acl != NULL)
				pfree(entry->perms.acl);
			hash_search(queue_cache, key, HASH_REMOVE, NULL);
			return NULL;
		}
		/* Loading may have processed invalidations; entry may have moved? no:
		 * dynahash entries never move, but a concurrent change means reload. */
		entry->valid = (generation == catalog_generation);
	}
	return entry;
}
