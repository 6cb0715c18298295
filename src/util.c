/*-------------------------------------------------------------------------
 *
 * util.c
 *	  Small helpers with no server state: intervals and times, the names
 *	  of object kinds, the error for a library that was not preloaded.
 *
 * Intervals compare the way PostgreSQL orders them (a month counts as 30
 * days); every interval stored or given is bounded (util_interval_check_size)
 * so that adding it to a time now or later stays valid.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/int.h"
#include "common/int128.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/timestamp.h"

#include "util.h"

/*
 * Raise the error every entry point gives when the library was not
 * preloaded.  _PG_init raises it too, so in practice it fires there.
 */
void
util_require_preload(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("the queue extension must be loaded via shared_preload_libraries"),
			 errdetail("It keeps leases in shared memory, which is reserved only at server start."),
			 errhint("Add 'queue' to shared_preload_libraries in postgresql.conf and restart the server.")));
}

/* Intervals compare as PostgreSQL orders them: a month is 30 days. */
bool
util_interval_is_negative(const Interval *iv)
{
	int64		days = (int64) iv->month * DAYS_PER_MONTH + iv->day;

	if (days < 0 && iv->time <= 0)
		return true;
	if (days > 0 && iv->time >= 0)
		return false;
	/* Mixed signs: fall back to PostgreSQL's 128-bit-safe comparison. */
	{
		Interval	zero = {0};

		return DatumGetInt32(DirectFunctionCall2(interval_cmp,
												 IntervalPGetDatum(iv),
												 IntervalPGetDatum(&zero))) < 0;
	}
}

/* An interval in microseconds, a month counting 30 days (no overflow). */
static INT128
interval_span(const Interval *iv)
{
	INT128		span = int64_to_int128(iv->time);

	int128_add_int64_mul_int64(&span, (int64) iv->month * DAYS_PER_MONTH + iv->day,
							   USECS_PER_DAY);
	return span;
}

/*
 * 22023 unless a (non-negative) interval is at most QUEUE_INTERVAL_MAX_YEARS:
 * every interval stored or given is added to a time now or later, and this
 * keeps each sum valid for thousands of years, where a longer one would
 * make every later use fail with 22008.
 */
void
util_interval_check_size(const Interval *iv, const char *what)
{
	/* 3.1e17 microseconds: an int64 holds it. */
	const int64 max = (int64) QUEUE_INTERVAL_MAX_YEARS * MONTHS_PER_YEAR * DAYS_PER_MONTH *
		USECS_PER_DAY;

	if (int128_compare(interval_span(iv), int64_to_int128(max)) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s is too large", what),
				 errdetail("Intervals are at most %d years.", QUEUE_INTERVAL_MAX_YEARS)));
}

/* A non-negative interval in microseconds, at most cap. */
int64
util_interval_usecs_capped(const Interval *iv, int64 cap)
{
	INT128		span = interval_span(iv);

	if (int128_compare(span, int64_to_int128(cap)) >= 0)
		return cap;
	return Max(int128_to_int64(span), 0);
}

/*
 * A time as ISO 8601 in UTC with microseconds ("2026-12-06T08:41:38.123456Z"),
 * whatever the session's DateStyle and TimeZone.
 */
char *
util_timestamp_iso8601_utc(TimestampTz ts)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (TIMESTAMP_NOT_FINITE(ts) || timestamp2tm(ts, NULL, &tm, &fsec, NULL, NULL) != 0)
		return DatumGetCString(DirectFunctionCall1(timestamptz_out, TimestampTzGetDatum(ts)));
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
					tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
					(int) fsec);
}

TimestampTz
util_timestamp_plus_interval(TimestampTz ts, const Interval *iv)
{
	if (iv->month == 0 && iv->day == 0)
	{
		TimestampTz result;

		if (pg_add_s64_overflow(ts, iv->time, &result) || !IS_VALID_TIMESTAMP(result))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("interval is too large")));
		return result;
	}
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
												   TimestampTzGetDatum(ts),
												   IntervalPGetDatum(iv)));
}

const char *
util_kind_name(char kind)
{
	switch (kind)
	{
		case 'q':
			return "queue";
		case 't':
			return "topic";
		case 's':
			return "stream";
	}
	return "object";
}

/* qsort's comparison of two uint32. */
int
util_cmp_uint32(const void *a, const void *b)
{
	uint32		x = *(const uint32 *) a;
	uint32		y = *(const uint32 *) b;

	return (x > y) - (x < y);
}
