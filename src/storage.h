/*-------------------------------------------------------------------------
 *
 * storage.h
 *	  A queue's storage table (storage.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_STORAGE_H
#define QUEUE_STORAGE_H

#include "access/xlogdefs.h"
#include "storage/itemptr.h"
#include "storage/lockdefs.h"
#include "dedup.h"
#include "qstate.h"
#include "queue_info.h"

/*
 * Storage (storage.c).  Each queue has one heap table mq.q_<id> with columns
 * in this order; the primary key is (rank, id) where rank = 255 - priority,
 * so an ascending index scan yields highest priority first, then id order.
 * A partial index mq.q_<id>_delayed on visible_at holds the rows whose
 * visible_at is past their enqueued_at (sent with a delay, or nacked with
 * one), so that mq_queues counts delayed messages without reading the rest.
 * A partial index mq.q_<id>_groups on (hashtext(group_key), id) holds the rows of
 * message groups.  Storage made before 0.4.0 lacks group_key and promotion
 * until the extension is updated (Natts_msg_v3 columns).
 *
 * Message groups.  Of each group, the first max_inflight_per_group rows in
 * id order are its window; the others are parked: their rank is
 * QUEUE_RANK_PARKED above their priority's, so they sort after every
 * deliverable row and readers never step over them.  When a row of the
 * window leaves, the first parked row of its group takes its place (see
 * storage.c, "Message groups").  The column "promotion" of a grouped row
 * tells whether a promotion written in place stands (storage.c, "Promotion
 * in place"); it is NULL for the rows of no group.
 */
#define Anum_msg_id				1
#define Anum_msg_visible_at		2
#define Anum_msg_enqueued_at	3
#define Anum_msg_rank			4
#define Anum_msg_deliveries		5
#define Anum_msg_headers		6
#define Anum_msg_body			7
#define Anum_msg_group_key		8
#define Anum_msg_promotion		9
#define Natts_msg				9
#define Natts_msg_v3			7


typedef struct QueueRel
{
	QueueInfo  *info;
	Relation	heap;
	Relation	pk;
	struct IndexInfo *pkinfo;
	Relation	delayed;		/* the delay index, once needed, or NULL */
	struct IndexInfo *delayedinfo;
	Relation	groups;			/* the group index, once needed, or NULL */
	struct IndexInfo *groupsinfo;
	bool		has_groups;		/* the storage has group_key and its index */
	KeyTable	keys;
} QueueRel;

typedef struct StoredMsg
{
	int64		id;
	int64		receipt;		/* set by the caller that leases it */
	TimestampTz visible_at;
	TimestampTz enqueued_at;
	int16		rank;
	int32		deliveries;
	Datum		headers;		/* (Datum) 0 when NULL */
	Datum		body;			/* (Datum) 0 when NULL */
	Datum		group_key;		/* text; (Datum) 0 when none */
	ItemPointerData tid;
} StoredMsg;

/* The priority of a stored rank (of a parked row too). */
static inline int32
storage_priority(int16 rank)
{
	return QUEUE_PRIORITY_MAX - (rank % QUEUE_RANK_PARKED);
}

struct StorageScan;
typedef struct StorageScan StorageScan;

extern bool storage_open(QueueRel *qrel, const char *name, QueueInfo *info,
						 LOCKMODE lockmode);
extern bool storage_open_by_name(QueueRel *qrel, const char *name,
								 LOCKMODE lockmode, int privs);
extern int64 storage_count(QueueRel *qrel);
extern int64 storage_count_delayed(QueueRel *qrel, TimestampTz now);
extern TimestampTz storage_oldest_ready(QueueRel *qrel, TimestampTz now);
extern void storage_age_bounds(QueueRel *qrel, TimestampTz *oldest, TimestampTz *newest);
extern void storage_close(QueueRel *qrel);
extern int64 storage_next_id(QueueRel *qrel);
extern int64 storage_last_id(QueueRel *qrel);
extern void storage_lock_groups(QueueRel *qrel, int n, const Datum *group_keys);
extern void storage_lock_group_hashes(QueueRel *qrel, uint32 *hashes, int n);
/* Times of inserted rows: one for all (per_message false) or one each. */
typedef struct StorageRowTimes
{
	const TimestampTz *visible_at;
	const TimestampTz *enqueued_at;
	const int32 *deliveries;	/* NULL: 0 each */
	bool		per_message;
} StorageRowTimes;

extern void storage_insert_rows(QueueRel *qrel, int nmsgs, const int64 *ids,
								const StorageRowTimes *times, int16 rank,
								Datum *headers, Datum *bodies, const Datum *group_keys);
extern void storage_skip_ids(QueueRel *qrel, int64 last);
extern void storage_insert(QueueRel *qrel, int nmsgs, const int64 *ids,
						   TimestampTz visible_at, TimestampTz enqueued_at,
						   int16 rank, Datum *headers, Datum *bodies,
						   const Datum *group_keys);
extern int64 storage_send_copy(QueueRel *target, const StoredMsg *m, Datum headers,
							   Datum body, TimestampTz now);
extern void storage_regroup(QueueRel *qrel);
extern PGDLLIMPORT uint64 storage_promoted;
extern void storage_walk_groups(QueueRel *qrel,
								void (*each) (void *arg, const StoredMsg *m, bool run),
								void *arg);
extern StorageScan *storage_scan_begin(QueueRel *qrel, QueueState *qs, bool for_claim,
									  bool include_delayed, bool include_parked,
									  bool marked, TimestampTz now);
extern bool storage_scan_next(StorageScan *scan, TimestampTz now, StoredMsg *msg);
extern void storage_scan_pass(StorageScan *scan, TimestampTz due);
extern TimestampTz storage_scan_next_visible(StorageScan *scan);
extern int64 storage_scan_group_hash(StorageScan *scan);
extern XLogRecPtr storage_scan_set_deliveries(StorageScan *scan, int32 deliveries);
extern void storage_scan_copy(StorageScan *scan, StoredMsg *msg);
extern bool storage_scan_body_contains(StorageScan *scan, Datum filter, MemoryContext cxt);
extern void storage_scan_release(StorageScan *scan);
extern void storage_scan_end(StorageScan *scan);
extern Datum storage_detoast(Datum d);
extern bool storage_find(QueueRel *qrel, int16 rank, int64 msgid,
						 ItemPointer tid);
extern bool storage_find_id(QueueRel *qrel, int64 msgid, ItemPointer tid, int16 *rank);
extern int	storage_browse(QueueRel *qrel, int64 after_id, int qty,
						   bool (*keep) (void *arg, const StoredMsg *m), void *arg,
						   StoredMsg *out);
extern int	storage_browse_delayed(QueueRel *qrel, int64 after_id, int qty,
								   TimestampTz now,
								   bool (*keep) (void *arg, const StoredMsg *m),
								   void *arg, StoredMsg *out);
extern bool storage_delete(QueueRel *qrel, ItemPointer tid);
extern bool storage_update(QueueRel *qrel, ItemPointer tid, TimestampTz visible_at,
						   bool set_headers, Datum headers);
extern int64 storage_delete_all(QueueRel *qrel,
								void (*deleted) (Oid relid, int64 msgid));

extern bool storage_fetch(QueueRel *qrel, ItemPointer tid, StoredMsg *msg);

#endif							/* QUEUE_STORAGE_H */
