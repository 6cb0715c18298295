/*-------------------------------------------------------------------------
 *
 * util.h
 *	  Small helpers with no server state (util.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_UTIL_H
#define QUEUE_UTIL_H

#include "datatype/timestamp.h"

/* Limits from SPEC section 2. */
#define QUEUE_NAME_MAXLEN		48
#define QUEUE_QTY_MAX			10000
#define QUEUE_PRIORITY_MAX		255
/* Ranks: 255 - priority, plus QUEUE_RANK_PARKED for a message waiting for its group. */
#define QUEUE_RANK_PARKED		256
#define QUEUE_RANK_MAX			(QUEUE_RANK_PARKED + QUEUE_PRIORITY_MAX)
/* Keys longer than this are refused (22023); btree entries must fit a page. */
#define DEDUP_KEY_MAXLEN		1000
#define QUEUE_GROUP_KEY_MAXLEN	256

/* The longest interval stored or given (util_interval_check_size). */
#define QUEUE_INTERVAL_MAX_YEARS	10000

/*
 * A function that does not return: "pg_noreturn extern void f(...);", as
 * PostgreSQL 18 and later declare theirs (the mark first: in 19 it may be
 * C23's [[noreturn]]); before 18 the same attribute had another name.
 */
#ifndef pg_noreturn
#define pg_noreturn pg_attribute_noreturn()
#endif

extern void util_require_preload(void);

/* Intervals compare as PostgreSQL orders them: a month counts 30 days. */
extern bool util_interval_is_negative(const Interval *iv);
extern void util_interval_check_size(const Interval *iv, const char *what);
extern int64 util_interval_usecs_capped(const Interval *iv, int64 cap);
extern TimestampTz util_timestamp_plus_interval(TimestampTz ts, const Interval *iv);
extern char *util_timestamp_iso8601_utc(TimestampTz ts);

extern const char *util_kind_name(char kind);

extern int	util_cmp_uint32(const void *a, const void *b);

#endif							/* QUEUE_UTIL_H */
