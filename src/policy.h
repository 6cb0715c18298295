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
extern int64 policy_retry_delay(const QueueInfo *info, int32 n);
struct JsonbValue;
extern Datum policy_headers_with(Datum headers, const char *key, struct JsonbValue *value);
extern Datum policy_headers_with_string(Datum headers, const char *key, const char *value);

/* The header that keeps the reason of the last mq_nack that gave one. */
#define POLICY_LAST_ERROR_KEY "mq_last_error"

#endif							/* QUEUE_POLICY_H */
