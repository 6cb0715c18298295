/*-------------------------------------------------------------------------
 *
 * queue_info.h
 *	  The per-backend cache of queues (queue_info.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_QUEUE_INFO_H
#define QUEUE_QUEUE_INFO_H

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"
#include "perms.h"
#include "util.h"

/*
 * A queue as the per-backend cache knows it (queue_info.c).  Entries stay
 * valid until an invalidation arrives (create/alter/drop in any backend);
 * callers must not keep a pointer across a call that can accept
 * invalidations without re-checking "valid".
 */
typedef struct QueueInfo
{
	char		name[QUEUE_NAME_MAXLEN + 1];	/* hash key */
	bool		valid;
	int32		id;				/* mq.objects.id */
	Oid			relid;			/* mq.q_<id> */
	Oid			pkid;			/* mq.q_<id>_pkey: (rank, id) */
	Oid			delayedid;		/* mq.q_<id>_delayed: visible_at of delayed rows */
	Oid			groupsid;		/* mq.q_<id>_groups: (hashtext(group_key), id) */
	Oid			seqid;			/* mq.q_<id>_seq: message ids */
	Oid			keysid;			/* mq.q_<id>_keys: idempotency keys */
	Oid			keys_pkid;		/* mq.q_<id>_keys_pkey */
	Interval	visibility_timeout;
	int32		max_deliveries; /* 0: none */
	char		dead_letter_queue[QUEUE_NAME_MAXLEN + 1];	/* "": none */
	bool		has_ttl;
	Interval	message_ttl;
	int64		max_length;		/* 0: none */
	bool		drop_oldest;
	int32		max_inflight;	/* 0: none */
	Interval	dedup_window;
	bool		unlogged;
	int32		max_inflight_per_group;	/* leases per message group, >= 1 */
	double		rate_limit;		/* deliveries per second; 0: none */
	/* the retry policy (SPEC section 3a); has_retry: retry_delay is set */
	bool		has_retry;
	int64		retry_delay_us;
	char		retry_backoff;	/* 'f'ixed, 'l'inear or 'e'xponential */
	int64		retry_max_delay_us;
	double		retry_jitter;
	bool		allow_null_bodies;	/* sends may carry a NULL body */
	bool		lease_until_transaction_end;	/* a read's lease lasts until
												 * its transaction ends */
	ObjectPerms perms;			/* acl in CacheMemoryContext */
} QueueInfo;

extern QueueInfo *queue_info_lookup(const char *name);
extern List *queue_info_names(void);

#endif							/* QUEUE_QUEUE_INFO_H */
