/*-------------------------------------------------------------------------
 *
 * queue.h
 *	  The few declarations the files of the queue extension share.
 *
 * The extension is split by concern (see docs/architecture.md):
 *	  queue.c		_PG_init: settings, shared-memory hooks
 *	  util.c		intervals, times, kind names;  args.c  argument checks
 *	  perms.c		privilege checks;  privileges.c  grants in the catalog
 *	  grants.c		mq_grant, mq_revoke, mq.visible, the pg_shdepend trigger
 *	  catalog.c		catalog SQL, invalidation;  queue_info.c  the queue cache
 *	  queue_ddl.c	queue DDL
 *	  lease.c		receipts, leases in shared memory, transaction hooks
 *	  storage.c		direct access to a queue's storage table
 *	  queue_ops.c	the SQL-callable queue functions (send, read, ack ...)
 *	  delivery.c	taking, waiting for and settling messages
 *	  policy.c		dead letters;  dedup.c  idempotency keys
 *	  qstate.c		shared per-queue state;  xact.c  commit and abort work
 *	  pending.c		what a transaction leaves for commit or abort
 *	  wakeup.c		long polls;  worker.c  the background worker
 *	  hooks.c		the utility hook (DROP EXTENSION, DROP/REASSIGN OWNED, ...)
 *	  topic.c		topics;  stream.c  streams;  group.c  consumer groups
 *	  stream_funcs.c	the SQL functions of streams
 *	  position.c	stream positions and the stable horizon
 *	  views.c		figures for the mq_queues and mq_stats views
 *	  match.c		names, routing keys, patterns (no server state)
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_H
#define QUEUE_H

#include "postgres.h"

#include "access/htup.h"
#include "access/xlogdefs.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "nodes/pg_list.h"
#include "storage/itemptr.h"
#include "storage/lockdefs.h"
#include "utils/relcache.h"

#include "args.h"
#include "hooks.h"
#include "pending.h"
#include "perms.h"
#include "util.h"

/* Limits from SPEC section 2. */
#define QUEUE_NAME_MAXLEN		48
#define QUEUE_QTY_MAX			10000
#define QUEUE_PRIORITY_MAX		255
/* Keys longer than this are refused (22023); btree entries must fit a page. */
#define DEDUP_KEY_MAXLEN		1000

/* Settings (queue.c). */
extern int	queue_max_leases;
extern int	queue_max_wait;


/* How mq.objects keeps owners and grants, by catalog version (catalog.c). */
typedef enum GrantsForm
{
	GRANTS_NONE,				/* before 0.3.0: no owners, no grants */
	GRANTS_ACLITEM,				/* 0.3.0: acl aclitem[] */
	GRANTS_ARRAYS				/* 0.4.0 on: senders, readers, managers regrole[] */
} GrantsForm;
extern GrantsForm catalog_grants_form(void);

/* Owners and grants in the catalog (privileges.c). */
extern const char *perms_columns(void);
extern const char *privileges_grantees_column(void);
extern void privileges_change(const char *name, Oid role, int privs, bool grant, bool check);
struct ArrayType;
extern void privileges_store(int32 id, Oid owner, const struct ArrayType *acl);
extern void privileges_restore_dependencies(void);

/*
 * A queue as the per-backend cache knows it (queue_info.c).  Entries stay
 * valid until an invalidation arrives (create/alter/drop in any backend);
 * callers must not keep a pointer across a call that can accept
 * invalidations without re-checking "valid".
 */
typedef struct QueueInfo
{
	char		name[QUEUE_NAME_MAXLEN + 1];	/* hash key */
	bool		valid;
	int32		id;				/* mq.objects.id */
	Oid			relid;			/* mq.q_<id> */
	Oid			pkid;			/* mq.q_<id>_pkey: (rank, id) */
	Oid			seqid;			/* mq.q_<id>_seq: message ids */
	Oid			keysid;			/* mq.q_<id>_keys: idempotency keys */
	Oid			keys_pkid;		/* mq.q_<id>_keys_pkey */
	Interval	visibility_timeout;
	int32		max_deliveries; /* 0: none */
	char		dead_letter_queue[QUEUE_NAME_MAXLEN + 1];	/* "": none */
	bool		has_ttl;
	Interval	message_ttl;
	int64		max_length;		/* 0: none */
	bool		drop_oldest;
	int32		max_inflight;	/* 0: none */
	Interval	dedup_window;
	bool		unlogged;
	ObjectPerms perms;			/* acl in CacheMemoryContext */
} QueueInfo;

extern QueueInfo *queue_lookup(const char *name);
extern List *queue_names(void);

/* Invalidation of what the caches hold (catalog.c). */
extern void catalog_invalidate_all(void);
extern void catalog_register_cache(void (*invalidate) (void), bool (*holds) (Oid relid));

/* Catalog SQL, run as the extension owner with a pinned search_path. */
typedef struct CatalogContext
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
} CatalogContext;

extern uint64 catalog_generation;	/* bumped by every invalidation */
extern void catalog_enter(CatalogContext *cxt);
extern void catalog_leave(CatalogContext *cxt);
extern int	catalog_exec(const char *sql, int nargs, Oid *types, Datum *values,
						 const char *nulls);
struct _SPI_plan;
extern int	catalog_exec_plan(struct _SPI_plan *plan, Datum *values, const char *nulls);
extern void catalog_ddl(const char *sql);
extern List *catalog_result_names(MemoryContext cxt);
extern void catalog_changed(void);
extern void catalog_cache_ready(void);

/* The beginning of an entry of a per-backend cache of names. */
typedef struct NameCacheEntry
{
	char		name[QUEUE_NAME_MAXLEN + 1];	/* hash key */
	uint64		generation;		/* catalog_generation + 1 when loaded; 0: none */
	MemoryContext cxt;			/* what the entry holds lives here */
} NameCacheEntry;

struct HTAB;
extern void *name_cache_lookup(struct HTAB **cache, Size entrysize, const char *name,
							   bool (*load) (void *entry));
extern void lock_catalog(void);
extern bool try_lock_catalog(void);
extern bool find_object_locked(const char *name, int32 *id, char *kind);
extern bool find_object_perms(const char *name, int32 *id, char *kind,
							  ObjectPerms *perms);
extern bool find_object_checked(const CatalogContext *cxt, const char *name,
								char kind, int privs, int32 *id);
extern Oid	storage_oid(char kind, int32 id, const char *suffix, bool missing_ok);

/* Commit and abort (xact.c). */
extern void xact_register_callbacks(void);

/* Shared per-queue state (qstate.c). */
typedef struct QueueState QueueState;


extern int	queue_max_queues;
extern Size qstate_shmem_size(void);
extern void qstate_shmem_request(void);
extern void qstate_shmem_startup(void);
extern QueueState *qstate_get(Oid relid);
struct LWLock;
extern QueueState *qstate_lookup_shared(Oid relid, struct LWLock **lock);
extern void qstate_forget(Oid relid);
extern uint32 qstate_leases(QueueState *qs);
extern bool qstate_lease_add(QueueState *qs, uint32 limit, TimestampTz until,
							 bool new_entry);
extern void qstate_lease_removed(Oid dbid, Oid relid);
extern bool qstate_leases_may_have_expired(QueueState *qs, TimestampTz now);
extern void qstate_set_min_until(QueueState *qs, TimestampTz until);
extern TimestampTz qstate_min_until(QueueState *qs);
extern void qstate_apply_depth(Oid relid, int64 delta, TransactionId xid);
extern bool qstate_depth_counted(Oid relid);
extern void qstate_depth_forget(Oid relid);
extern int64 qstate_depth(QueueState *qs, Relation heap);
extern uint32 qstate_waiters(QueueState *qs);
extern bool qstate_segment_check(QueueState *qs, int32 seg);
extern int32 qstate_segment(QueueState *qs);
extern void qstate_waiters_add(QueueState *qs, int delta);
extern uint64 qstate_floor_key(int16 rank, int64 id);

/* The two parts of a floor key (see qstate_floor_key). */
#define FLOOR_ID_BITS	56
static inline int16
floor_key_rank(uint64 key)
{
	return (int16) (key >> FLOOR_ID_BITS);
}
static inline int64
floor_key_id(uint64 key)
{
	return (int64) (key & ((UINT64CONST(1) << FLOOR_ID_BITS) - 1));
}

extern void qstate_floor_get(QueueState *qs, uint64 *floor, uint64 *gen);
extern void qstate_floor_inserted(QueueState *qs, uint64 key);
extern void qstate_floor_advance(QueueState *qs, uint64 gen, uint64 key);
extern void qstate_add_stats(Oid relid, const int64 *counts);
extern bool qstate_read_stats(Oid relid, int64 *counts, TimestampTz *reset_at,
							  bool reset);

/* Stream positions and the stable horizon (position.c). */
extern int	queue_max_partitions;
extern Size position_shmem_size(void);
extern void position_shmem_request(void);
extern void position_shmem_startup(void);
extern int64 position_take(Oid stream, int32 partition, int n,
						   int64 (*init) (void *arg, int32 partition), void *arg,
						   QueueState *qs, int32 seg);
extern int64 position_stable_end(Oid stream, int32 partition,
								  int64 (*init) (void *arg, int32 partition), void *arg);
extern int64 position_next(Oid stream, int32 partition);
extern bool position_holding(void);
extern void position_xact_end(void);
extern void position_forget_stream(Oid stream);

/* Streams (stream.c): a stream as the per-backend cache knows it. */
typedef struct Segment
{
	int32		seg;
	Oid			relid;
	Oid			pkid;
} Segment;

typedef struct StreamInfo
{
	/* as NameCacheEntry */
	char		name[QUEUE_NAME_MAXLEN + 1];	/* hash key */
	uint64		generation;
	MemoryContext cxt;			/* segments live here */
	int32		id;
	int32		partitions;
	Interval	dedup_window;
	bool		has_max_age;
	Interval	max_age;
	int64		max_bytes;		/* 0: none */
	int64		max_messages;	/* 0: none */
	ObjectPerms perms;
	Oid			ident;			/* mq.s_<id>_groups: identity in shared memory */
	Oid			keysid;
	Oid			keys_pkid;
	int			nsegments;
	Segment    *segments;		/* oldest first */
} StreamInfo;

/*
 * Columns of a segment table: those of mq_record, in its order (put_record
 * relies on it).
 */
#define Anum_rec_partition		1
#define Anum_rec_position		2
#define Anum_rec_key			3
#define Anum_rec_body			4
#define Anum_rec_headers		5
#define Anum_rec_appended_at	6
#define Natts_rec				6

/* Records read by scan_partition go to a RecordFn; false stops the scan. */
struct TupleTableSlot;
typedef bool (*RecordFn) (void *arg, struct TupleTableSlot *slot);

typedef struct ReadState
{
	struct ReturnSetInfo *rsinfo;
	int			max;
	int			got;
	int64		last;			/* position of the last record put */
} ReadState;

extern StreamInfo *stream_lookup(const char *name);
extern StreamInfo *stream_open(const char *name, int privs);
extern void stream_arg(FunctionCallInfo fcinfo, int argno, char *out);
extern int32 partition_arg(FunctionCallInfo fcinfo, int argno, const StreamInfo *s);
extern void prevent_read_during_recovery(const char *fname);
extern void init_record_result(FunctionCallInfo fcinfo);
extern int64 scan_partition(StreamInfo *s, int32 partition, int64 from,
							RecordFn fn, void *arg);
extern bool put_record(void *arg, struct TupleTableSlot *slot);
extern int64 next_from_storage(void *arg, int32 partition);
extern int64 stream_floor(StreamInfo *s, int32 partition);
extern void create_segment(int32 id, int32 seg);

/* Stream maintenance (retention.c), for the background worker. */
extern int	queue_segment_size;
extern int64 stream_maintain(const char *name);
extern int64 stream_prune_keys(const char *name, int max);

/* Long polls (wakeup.c). */
extern Size wakeup_shmem_size(void);
extern void wakeup_shmem_startup(void);
extern void wakeup_register(QueueState *qs, Oid relid);
extern void wakeup_unregister(void);
extern void wakeup_subxact_abort(SubTransactionId subid);
extern void wakeup_sleep(long msecs);
extern void wakeup_queue(QueueState *qs, Oid dbid, Oid relid);
extern void qstate_wake(Oid relid);

/* Shared memory for leases (lease.c). */
extern Size lease_shmem_size(void);
extern void lease_shmem_request(void);
extern void lease_shmem_startup(void);
extern TimestampTz lease_started_at(void);

/*
 * Leases (lease.c).  A lease says that one delivery of a message belongs to
 * its reader until "until"; it lives in shared memory only.  Leases are keyed
 * by the storage table's OID, so a queue dropped and created again under the
 * same name never matches an old lease or receipt.
 */
typedef enum LeaseCheck
{
	LEASE_OK,					/* the receipt names the current delivery */
	LEASE_UNKNOWN,				/* no such receipt (acked, purged, restarted) */
	LEASE_STALE,				/* the message was delivered again since */
	LEASE_BUSY					/* already settled by a pending transaction */
} LeaseCheck;

typedef enum ClaimResult
{
	CLAIM_OK,
	CLAIM_BUSY,					/* leased already */
	CLAIM_LIMIT					/* the queue is at max_inflight */
} ClaimResult;

extern bool lease_held(Oid relid, int64 msgid, TimestampTz now);
extern ClaimResult lease_claim(QueueState *qs, Oid relid, int64 msgid, int16 rank,
							   TimestampTz now, TimestampTz until, uint32 limit,
							   int64 *receipt);
extern bool lease_sweep_expired(QueueState *qs, Oid relid, TimestampTz now);
extern LeaseCheck lease_settle(Oid relid, int64 receipt, int64 *msgid,
							   int16 *rank);
extern void lease_release(Oid relid, int64 msgid, int64 receipt);
extern void lease_unsettle(Oid relid, int64 msgid, int64 receipt);
extern void lease_drop(Oid relid, int64 receipt);
extern LeaseCheck lease_extend(Oid relid, int64 receipt, TimestampTz until);
extern void lease_forget_queue_at_commit(Oid relid);
extern void lease_forget_queue(Oid relid);
extern void lease_forget_message_at_commit(Oid relid, int64 msgid);
extern void lease_note_purge(Oid relid);

/*
 * Storage (storage.c).  Each queue has one heap table mq.q_<id> with columns
 * in this order; the primary key is (rank, id) where rank = 255 - priority,
 * so an ascending index scan yields highest priority first, then id order.
 */
#define Anum_msg_id				1
#define Anum_msg_visible_at		2
#define Anum_msg_enqueued_at	3
#define Anum_msg_rank			4
#define Anum_msg_deliveries		5
#define Anum_msg_headers		6
#define Anum_msg_body			7
#define Natts_msg				7

/* An object's idempotency keys (dedup.c): its table, opened when needed. */
typedef struct KeyTable
{
	Oid			keysid;			/* mq.<q|t>_<id>_keys */
	Oid			keys_pkid;
	const Interval *window;		/* the object's dedup_window */
	Relation	rel;
	Relation	pk;
} KeyTable;

typedef struct QueueRel
{
	QueueInfo  *info;
	Relation	heap;
	Relation	pk;
	struct IndexInfo *pkinfo;
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
	Datum		body;
	ItemPointerData tid;
} StoredMsg;

struct StorageScan;
typedef struct StorageScan StorageScan;

extern bool storage_open(QueueRel *qrel, const char *name, QueueInfo *info,
						 LOCKMODE lockmode);
extern bool storage_open_by_name(QueueRel *qrel, const char *name,
								 LOCKMODE lockmode, int privs);
extern void storage_count(QueueRel *qrel, TimestampTz now, int64 *depth,
						  int64 *ready, int64 *inflight, int64 *delayed,
						  TimestampTz *oldest_ready);
extern void storage_close(QueueRel *qrel);
extern int64 storage_next_id(QueueRel *qrel);
extern void storage_insert(QueueRel *qrel, int nmsgs, const int64 *ids,
						   TimestampTz visible_at, TimestampTz enqueued_at,
						   int16 rank, Datum *headers, Datum *bodies);
extern StorageScan *storage_scan_begin(QueueRel *qrel, QueueState *qs, bool for_claim,
									  bool include_delayed);
extern bool storage_scan_next(StorageScan *scan, TimestampTz now, StoredMsg *msg);
extern TimestampTz storage_scan_next_visible(StorageScan *scan);
extern XLogRecPtr storage_scan_set_deliveries(StorageScan *scan, int32 deliveries);
extern void storage_scan_copy(StorageScan *scan, StoredMsg *msg);
extern void storage_scan_release(StorageScan *scan);
extern void storage_scan_end(StorageScan *scan);
extern Datum storage_detoast(Datum d);
extern bool storage_find(QueueRel *qrel, int16 rank, int64 msgid,
						 ItemPointer tid);
extern bool storage_delete(QueueRel *qrel, ItemPointer tid);
extern bool storage_set_visible_at(QueueRel *qrel, ItemPointer tid,
								   TimestampTz visible_at);
extern int64 storage_delete_all(QueueRel *qrel,
								void (*deleted) (Oid relid, int64 msgid));

extern bool storage_fetch(QueueRel *qrel, ItemPointer tid, StoredMsg *msg);

/* Dead letters (policy.c). */
typedef enum DeadReason
{
	DEAD_MAX_DELIVERIES,
	DEAD_TTL,
	DEAD_MAX_LENGTH
} DeadReason;

extern bool dead_letter(QueueRel *qrel, StoredMsg *m, DeadReason reason,
						TimestampTz now);
extern char *dead_letter_source(Datum headers, Datum *stripped);
struct JsonbValue;
extern Datum headers_with(Datum headers, const char *key, struct JsonbValue *value);

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

/* Appending to streams (stream.c). */
/* The newest segment of a stream, opened for appending. */
struct IndexInfo;
typedef struct Appender
{
	StreamInfo *info;
	int32		segno;			/* the segment seg is */
	Relation	seg;
	Relation	pk;
	struct IndexInfo *pkinfo;
	KeyTable	keys;
} Appender;

struct ReturnSetInfo;
extern void stream_appender_open(FunctionCallInfo fcinfo, const char *fname, Appender *a);
extern void stream_appender_close(Appender *a);
extern void stream_append_records(Appender *a, struct ReturnSetInfo *rsinfo, int n,
								  Datum *bodies, Datum *keys, bool *knulls,
								  Datum *headers, bool *hnulls, Datum *ikeys, bool *iknulls);

/* Delivery (delivery.c): taking, settling and expiring messages. */
typedef enum TakeMode
{
	TAKE_LEASE,					/* mq_read: lease and count a delivery */
	TAKE_DELETE,				/* mq_pop: lease, count, delete */
	TAKE_PEEK,					/* mq_peek: look only */
	TAKE_DROP,					/* drop_oldest: dead-letter to make room */
	TAKE_REDRIVE,				/* mq_redrive: hold for the caller to move */
	TAKE_EXPIRE					/* the worker: only move dead letters out */
} TakeMode;

extern int	delivery_take(QueueRel *qrel, TakeMode mode, int qty, const Interval *vt,
						  StoredMsg *out, TimestampTz *next_visible);
extern bool delivery_wait(QueueRel *qrel, QueueState *qs, TimestampTz deadline,
						  TimestampTz next_visible);

typedef enum SettleHow
{
	HOW_ACK,
	HOW_NACK
} SettleHow;

extern LeaseCheck delivery_settle(QueueRel *qrel, int64 receipt, SettleHow how,
								  TimestampTz visible_at);
extern bool delivery_make_room(QueueRel *qrel, int64 nnew, int64 *depth);
/* For the background worker. */
extern int64 delivery_expire(const char *name, int max);
extern int64 delivery_prune_keys(const char *name, int max);

/* Topics (topic.c). */
extern int64 topic_prune_keys(const char *name, int max);
extern List *object_names(char kind);

/* The background worker (worker.c). */
extern int	queue_naptime;
extern int	queue_max_workers;
extern int	queue_worker_batch;
extern bool queue_worker_enabled;
extern Size worker_shmem_size(void);
extern void worker_shmem_startup(void);
extern void worker_register(void);
extern void worker_step_aside(Oid dbid);
extern void worker_rescan_at_commit(void);

#endif							/* QUEUE_H */
