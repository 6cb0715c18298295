/*-------------------------------------------------------------------------
 *
 * topic.h
 *	  Topics, for the background worker and schedules (topic.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_TOPIC_H
#define QUEUE_TOPIC_H

#include "match.h"

/* Topics (topic.c). */
extern int64 topic_prune_keys(const char *name, int max);
extern void topic_check_routing_key(const char *routing_key, Words *rk);
extern int	topic_publish(const char *name, const char *routing_key,
						  const Words *rk, Datum body, Datum headers,
						  struct varlena *key, Datum group);

#endif							/* QUEUE_TOPIC_H */
