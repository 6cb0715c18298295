/*-------------------------------------------------------------------------
 *
 * topic.h
 *	  Topics, for the background worker (topic.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_TOPIC_H
#define QUEUE_TOPIC_H


/* Topics (topic.c). */
extern int64 topic_prune_keys(const char *name, int max);

#endif							/* QUEUE_TOPIC_H */
