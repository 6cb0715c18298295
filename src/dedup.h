/*-------------------------------------------------------------------------
 *
 * dedup.h
 *	  Idempotency keys (dedup.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_DEDUP_H
#define QUEUE_DEDUP_H

#include "datatype/timestamp.h"
#include "storage/itemptr.h"
#include "utils/relcache.h"

/* An object's idempotency keys (dedup.c): its table, opened when needed. */
typedef struct KeyTable
{
	Oid			keysid;			/* mq.<q|t>_<id>_keys */
	Oid			keys_pkid;
	const Interval *window;		/* the object's dedup_window */
	Relation	rel;
	Relation	pk;
} KeyTable;


/* Idempotency keys (dedup.c). */
extern int64 dedup_lookup(KeyTable *kt, text *key, TimestampTz now,
						  ItemPointer stale, bool *found);
extern void dedup_record(KeyTable *kt, text *key, int64 id, TimestampTz now,
						 ItemPointer stale);
extern void dedup_close(KeyTable *kt);
extern void dedup_lock_batch(KeyTable *kt, Datum *keys, bool *nulls, int n);
extern bool dedup_off(const KeyTable *kt);
extern void dedup_init(KeyTable *kt, Oid keysid, Oid keys_pkid, const Interval *window);
extern int64 dedup_prune_keys(Oid keysid, Oid keys_pkid, const Interval *window, int max);
extern int64 dedup_prune(KeyTable *kt, TimestampTz now, int max);

#endif							/* QUEUE_DEDUP_H */
