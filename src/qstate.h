/*-------------------------------------------------------------------------
 *
 * qstate.h
 *	  Shared per-queue state (qstate.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_QSTATE_H
#define QUEUE_QSTATE_H

#include "datatype/timestamp.h"
#include "utils/relcache.h"

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
extern void qstate_lease_removed(Oid dbid, Oid relid, bool removed, bool freed,
								 uint64 row_key);
extern bool qstate_leases_may_have_expired(QueueState *qs, TimestampTz now);
extern void qstate_set_min_until(QueueState *qs, TimestampTz until);
extern void qstate_lower_min_until(QueueState *qs, TimestampTz until);
extern TimestampTz qstate_min_until(QueueState *qs);
extern void qstate_apply_depth(Oid relid, int64 delta, TransactionId xid);
extern bool qstate_depth_prepare(Oid relid, TransactionId xid);
extern void qstate_depth_forget(Oid relid);

/* Who asks qstate_depth() */
typedef enum DepthUse
{
	DEPTH_LIMIT,				/* max_length: keep the counter for it */
	DEPTH_SHOW,					/* mq_queues */
	DEPTH_WARM					/* the worker: build it if that is cheap to decide */
} DepthUse;

extern bool qstate_depth(Relation heap, DepthUse use, int64 *depth);
extern int	qstate_rate_take(QueueState *qs, double rate, int want, TimestampTz now,
							 TimestampTz *next_due);
extern void qstate_rate_return(QueueState *qs, double rate, int n);
extern uint32 qstate_waiters(QueueState *qs);
extern bool qstate_segment_check(QueueState *qs, int32 seg);
extern int32 qstate_segment(QueueState *qs);
extern void qstate_waiters_add(QueueState *qs, int delta);
extern uint64 qstate_floor_key(int16 rank, int64 id);

/* The two parts of a floor key (see qstate_floor_key). */
#define FLOOR_ID_BITS	55
/* How many inserts' keys a queue's shared state remembers for the floor. */
#define FLOOR_RECENT	32
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
extern void qstate_floor_mark_get(QueueState *qs, uint64 *floor, uint64 *gen,
								  uint64 *mark, TimestampTz *due);
extern void qstate_mark_advance(QueueState *qs, uint64 gen, uint64 key,
								TimestampTz due, TimestampTz now);
extern void qstate_gap_get(QueueState *qs, uint64 *lo, uint64 *hi);
extern void qstate_gap_record(QueueState *qs, uint64 gen, uint64 lo, uint64 hi);
extern void qstate_add_stats(Oid relid, const int64 *counts);
extern bool qstate_read_stats(Oid relid, int64 *counts, TimestampTz *reset_at,
							  bool reset);

#endif							/* QUEUE_QSTATE_H */
