/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  The background worker (worker.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_WORKER_H
#define QUEUE_WORKER_H


/* The background worker (worker.c). */
extern int	queue_naptime;
extern int	queue_prune_interval;
extern int	queue_step_aside_interval;
extern int	queue_max_workers;
extern int	queue_worker_batch;
extern bool queue_worker_enabled;
extern Size worker_shmem_size(void);
extern void worker_shmem_startup(void);
extern void worker_register(void);
extern void worker_step_aside(Oid dbid);
extern void worker_rescan_at_commit(void);

#endif							/* QUEUE_WORKER_H */
