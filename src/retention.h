/*-------------------------------------------------------------------------
 *
 * retention.h
 *	  Stream retention, for the background worker (retention.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_RETENTION_H
#define QUEUE_RETENTION_H


/* Stream maintenance (retention.c), for the background worker. */
extern int	queue_segment_size;
extern int64 retention_maintain(const char *name);
extern int64 retention_prune_keys(const char *name, int max);

#endif							/* QUEUE_RETENTION_H */
