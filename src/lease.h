/*-------------------------------------------------------------------------
 *
 * lease.h
 *	  Receipts and leases in shared memory (lease.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_LEASE_H
#define QUEUE_LEASE_H

#include "datatype/timestamp.h"
#include "storage/itemptr.h"
#include "qstate.h"

extern int	queue_max_leases;

/* Shared memory for leases (lease.c). */
extern Size lease_shmem_size(void);
extern void lease_shmem_request(void);
extern void lease_shmem_startup(void);
extern TimestampTz lease_started_at(void);
extern bool lease_could_be_receipt(int64 receipt);

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
extern bool lease_holder(Oid relid, int64 msgid, TimestampTz now, TimestampTz *until,
						 int *pid);
/* lease_claim's group for a message of no message group */
#define LEASE_NO_GROUP	((int64) -1)

/*
 * Where a leased message's row was when it was read: the storage's file
 * and the row version's tid.  Its ack looks there first (a hint only: the
 * row may have moved since).
 */
typedef struct LeaseRow
{
	Oid			file;			/* compat_relfilenumber() of the storage */
	ItemPointerData tid;
} LeaseRow;

extern ClaimResult lease_claim(QueueState *qs, Oid relid, int64 msgid, int16 rank,
							   int64 group, TimestampTz now, TimestampTz until,
							   int64 retry, uint32 limit, bool hold,
							   const LeaseRow *row, int64 *receipt,
							   TimestampTz *busy_until);
/*
 * What a receipt names, looked up once (lease_resolve) for a caller that
 * needs it before settling it too.
 */
typedef struct LeaseTarget
{
	bool		known;			/* the receipt names a delivery; then: */
	int64		msgid;
	int16		rank;
	bool		grouped;		/* the message is of a message group ... */
	uint32		group;			/* ... with this hash of its key */
} LeaseTarget;

extern void lease_resolve(Oid relid, int64 receipt, LeaseTarget *target);
extern bool lease_sweep_expired(QueueState *qs, Oid relid, TimestampTz now);
extern uint32 lease_count_active(QueueState *qs, Oid relid, TimestampTz now);
extern LeaseCheck lease_settle(Oid relid, int64 receipt, const LeaseTarget *target,
							   bool ack, int64 *msgid, int16 *rank, int64 *retry,
							   LeaseRow *row);
extern void lease_release(Oid relid, int64 msgid, int64 receipt, bool gone);
extern void lease_release_claim(Oid relid, int64 msgid, int64 receipt);
extern bool lease_end_hold(Oid relid, int64 msgid, int64 receipt);
extern void lease_unsettle(Oid relid, int64 msgid, int64 receipt);
extern void lease_drop(Oid relid, int64 receipt);
extern LeaseCheck lease_extend(Oid relid, int64 receipt, TimestampTz until);
extern void lease_forget_queue_at_commit(Oid relid);
extern void lease_forget_queue(Oid relid);
extern void lease_forget_message_at_commit(Oid relid, int64 msgid);
extern void lease_note_purge(Oid relid);

#endif							/* QUEUE_LEASE_H */
