/*-------------------------------------------------------------------------
 *
 * delivery.h
 *	  The delivery engine of queues (delivery.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_DELIVERY_H
#define QUEUE_DELIVERY_H

#include "lease.h"
#include "qstate.h"
#include "storage.h"

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
						  Datum filter, StoredMsg *out, TimestampTz *next_visible);
extern bool delivery_wait(QueueRel *qrel, QueueState *qs, TimestampTz deadline,
						  TimestampTz next_visible, bool release_horizon);

typedef enum SettleHow
{
	HOW_ACK,
	HOW_NACK
} SettleHow;

/* delivery_settle's visible_at for a nack per the queue's retry policy */
#define DELIVERY_RETRY_POLICY	((TimestampTz) -1)

extern LeaseCheck delivery_settle(QueueRel *qrel, int64 receipt, const LeaseTarget *target,
								  SettleHow how, TimestampTz visible_at,
								  const char *reason);
extern bool delivery_remove(QueueRel *qrel, int64 msgid, StoredMsg *m);
extern bool delivery_delay(QueueRel *qrel, int64 msgid, TimestampTz visible_at,
						   StoredMsg *m);
extern bool delivery_make_room(QueueRel *qrel, int64 nnew, int64 *depth);
/* For the background worker. */
extern int64 delivery_expire(const char *name, int max);
extern int64 delivery_prune_keys(const char *name, int max);

#endif							/* QUEUE_DELIVERY_H */
