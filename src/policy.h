/*-------------------------------------------------------------------------
 *
 * policy.h
 *	  Dead letters (policy.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_POLICY_H
#define QUEUE_POLICY_H

#include "storage.h"

/* Dead letters (policy.c). */
typedef enum DeadReason
{
	DEAD_MAX_DELIVERIES,
	DEAD_TTL,
	DEAD_MAX_LENGTH
} DeadReason;

extern bool policy_dead_letter(QueueRel *qrel, StoredMsg *m, DeadReason reason,
						TimestampTz now);
extern char *policy_dead_letter_source(Datum headers, Datum *stripped);
struct JsonbValue;
extern Datum policy_headers_with(Datum headers, const char *key, struct JsonbValue *value);

#endif							/* QUEUE_POLICY_H */
