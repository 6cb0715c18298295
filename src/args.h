/*-------------------------------------------------------------------------
 *
 * args.h
 *	  Checks of the SQL functions' arguments (args.c); each raises 22023.
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_ARGS_H
#define QUEUE_ARGS_H

#include "datatype/timestamp.h"
#include "fmgr.h"

/* The longest wait a long poll may ask for, in ms (queue.max_wait). */
extern int	queue_max_wait;

extern void arg_not_null(FunctionCallInfo fcinfo, int argno, const char *argname);
extern void queue_check_name(const char *what, text *name, char *out);
extern int32 arg_int_range(FunctionCallInfo fcinfo, int argno, const char *argname,
						   int32 min, int32 max);
extern Interval *arg_interval(FunctionCallInfo fcinfo, int argno, const char *argname,
							  bool nullable);
extern int64 arg_wait(FunctionCallInfo fcinfo, int argno);
extern Datum check_headers(Datum d, bool isnull);
extern int	arg_array(FunctionCallInfo fcinfo, int argno, const char *argname,
					  Oid elemtype, int16 elmlen, bool elmbyval, char elmalign,
					  Datum **elems, bool **nulls);
extern int	arg_bodies(FunctionCallInfo fcinfo, int argno, Datum **bodies);
extern void arg_parallel_array(FunctionCallInfo fcinfo, int argno, const char *argname,
							   Oid elemtype, int n, Datum **elems, bool **nulls);
extern void dedup_check_key(text *key);
extern void parse_reset(FunctionCallInfo fcinfo, int argno, const char *what,
						const char *const *names, int nnames, bool *reset);

#endif							/* QUEUE_ARGS_H */
