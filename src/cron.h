/*-------------------------------------------------------------------------
 *
 * cron.h
 *	  Schedule expressions (cron.c): five-field cron and 'N seconds'.
 *
 * Pure calendar code with no server state, so that the fuzz target can
 * build it alone (with -DMATCH_STANDALONE): parsing, and the next local
 * calendar minute that matches.  Time zones are the caller's business.
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_CRON_H
#define QUEUE_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * How far ahead cron_next looks, in years: the Gregorian calendar repeats
 * every 400 years, so an expression that matches no minute within them
 * matches none ever (and "Feb 29 on a Sunday" is found, decades apart).
 */
#define CRON_HORIZON_YEARS	400

/* A parsed expression. */
typedef struct CronSpec
{
	int			seconds;		/* 'N seconds' (1-59); 0: a five-field cron */
	uint64_t	minutes;		/* bit m: minute m (0-59) */
	uint32_t	hours;			/* bit h: hour h (0-23) */
	uint32_t	mdays;			/* bit d: day of month d (1-31) */
	uint32_t	months;			/* bit m: month m (1-12) */
	uint32_t	wdays;			/* bit w: day of week w (0-6, 0 Sunday) */
	bool		mday_any;		/* day of month was "*" */
	bool		wday_any;		/* day of week was "*" */
} CronSpec;

/* A local calendar time to the minute. */
typedef struct CronTime
{
	int			year;
	int			month;			/* 1-12 */
	int			day;			/* 1-31 */
	int			hour;			/* 0-23 */
	int			minute;			/* 0-59 */
} CronTime;

/*
 * The offset from UTC, in seconds, of local time at the instant t (seconds
 * since 1970-01-01 00:00 UTC): local = t + offset.
 */
typedef long (*CronOffsetFn) (int64_t t, void *arg);

extern bool cron_parse(const char *text, CronSpec *spec, char *err, size_t errlen);
extern bool cron_next_instant(const CronSpec *spec, int64_t after, CronOffsetFn offset,
							  void *arg, int64_t *next);
extern bool cron_matches(const CronSpec *spec, const CronTime *t);
extern bool cron_next(const CronSpec *spec, CronTime *t);
extern int	cron_days_in_month(int year, int month);
extern int	cron_weekday(int year, int month, int day);

#endif							/* QUEUE_CRON_H */
