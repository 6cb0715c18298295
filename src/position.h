/*-------------------------------------------------------------------------
 *
 * position.h
 *	  Stream positions and the stable horizon (position.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_POSITION_H
#define QUEUE_POSITION_H

#include "qstate.h"

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

#endif							/* QUEUE_POSITION_H */
