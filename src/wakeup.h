/*-------------------------------------------------------------------------
 *
 * wakeup.h
 *	  Long polls (wakeup.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_WAKEUP_H
#define QUEUE_WAKEUP_H

#include "qstate.h"

/* Long polls (wakeup.c). */
extern Size wakeup_shmem_size(void);
extern void wakeup_shmem_startup(void);
extern void wakeup_register(QueueState *qs, Oid relid);
extern void wakeup_unregister(void);
extern void wakeup_subxact_abort(SubTransactionId subid);
extern void wakeup_sleep(long msecs, bool release_horizon);
extern void wakeup_queue(QueueState *qs, Oid dbid, Oid relid);
extern void wakeup_after_change(Oid relid);

#endif							/* QUEUE_WAKEUP_H */
