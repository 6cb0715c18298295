/*-------------------------------------------------------------------------
 *
 * schedule.h
 *	  Schedules: recurring messages fired by the worker (schedule.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_SCHEDULE_H
#define QUEUE_SCHEDULE_H

#include "datatype/timestamp.h"

/* At most this many missed runs of one catch-up schedule per round. */
#define SCHEDULE_CATCH_UP_MAX	1000

extern int64 schedule_fire_due(TimestampTz *next_due);

#endif							/* QUEUE_SCHEDULE_H */
