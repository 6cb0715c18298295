/*-------------------------------------------------------------------------
 *
 * successor.h
 *	  Where a message group's next rows are: hints in shared memory
 *	  (successor.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_SUCCESSOR_H
#define QUEUE_SUCCESSOR_H

#include "storage/itemptr.h"

/* How many rows after one a hint holds. */
#define SUCCESSOR_MAX	6

extern Size successor_shmem_size(void);
extern void successor_shmem_startup(void);
extern void successor_put(Oid relid, uint32 hash, int64 after,
						  const ItemPointerData *tids, int n);
extern int	successor_take(Oid relid, uint32 hash, int64 after, ItemPointerData *tids);
extern void successor_forget(Oid relid);

#endif							/* QUEUE_SUCCESSOR_H */
