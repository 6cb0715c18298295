/*-------------------------------------------------------------------------
 *
 * pending.h
 *	  What a transaction leaves for its commit or abort (pending.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_PENDING_H
#define QUEUE_PENDING_H

#include "access/xlogdefs.h"

/* The counters of mq_stats, in its column order. */
typedef enum QueueStat
{
	STAT_SENT,
	STAT_DELIVERED,
	STAT_ACKED,
	STAT_NACKED,
	STAT_DEAD_LETTERED,
	STAT_EXPIRED,
	STAT_REJECTED,
	STAT_APPENDED,
	STAT_CONSUMED,
	NUM_QUEUE_STATS
} QueueStat;

/* What is left for commit or abort (the kinds: see xact.c). */
typedef enum PendingKind
{
	PENDING_CLAIM,
	PENDING_HOLD,				/* a claim held to the transaction's end */
	PENDING_SETTLE,
	PENDING_ACK,				/* a settle that deletes the row */
	PENDING_FORGET,
	PENDING_FORGET_MSG,
	PENDING_PURGE,
	PENDING_DEPTH,
	PENDING_APPEND,				/* a stream was appended to: wake at commit */
	PENDING_CONSUME				/* a consumer group's position moved */
} PendingKind;

typedef struct Pending
{
	PendingKind kind;
	SubTransactionId subid;
	Oid			relid;
	int64		msgid;			/* DEPTH: the change */
	int64		receipt;
	bool		wake;			/* set at the end: its queue is to be woken */
} Pending;

/* Counts for mq_stats, per queue and subtransaction, added at commit. */
typedef struct StatDelta
{
	Oid			relid;
	SubTransactionId subid;
	int64		counts[NUM_QUEUE_STATS];
} StatDelta;

/* Recording (the queue functions, lease.c). */
extern void pending_reserve(int n);
extern void pending_add(PendingKind kind, Oid relid, int64 msgid, int64 receipt);
extern void pending_note_depth(Oid relid, int64 delta);
extern void pending_count(Oid relid, QueueStat stat, int64 n);
extern void pending_lazy_wal(XLogRecPtr lsn);
extern XLogRecPtr pending_lazy_wal_end(void);
extern int64 pending_depth_delta(Oid relid);

/* Reading and ending (xact.c's callbacks). */
extern Pending *pending_items(int *n);
extern StatDelta *pending_stats(int *n);
extern void pending_clear(void);
extern void pending_subxact_commit(SubTransactionId subid, SubTransactionId parent);
extern void pending_subxact_forget(SubTransactionId subid);

#endif							/* QUEUE_PENDING_H */
