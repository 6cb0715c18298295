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

extern void args_not_null(FunctionCallInfo fcinfo, int argno, const char *argname);
extern void args_name(const char *what, text *name, char *out);
extern void args_name_arg(FunctionCallInfo fcinfo, int argno, const char *argname,
						  const char *what, char *out);
extern int32 args_int_range(FunctionCallInfo fcinfo, int argno, const char *argname,
						   int32 min, int32 max);
extern Interval *args_interval(FunctionCallInfo fcinfo, int argno, const char *argname,
							  bool nullable);
extern int64 args_wait(FunctionCallInfo fcinfo, int argno);
extern Datum args_headers(Datum d, bool isnull);
extern int	args_array(FunctionCallInfo fcinfo, int argno, const char *argname,
					  Oid elemtype, int16 elmlen, bool elmbyval, char elmalign,
					  Datum **elems, bool **nulls);
extern int	args_int8_array(FunctionCallInfo fcinfo, int argno, const char *argname,
							int64 **values);
extern int	args_bodies(FunctionCallInfo fcinfo, int argno, Datum **bodies,
						int *null_at);
extern void args_parallel_array(FunctionCallInfo fcinfo, int argno, const char *argname,
								Oid elemtype, const char *against, int n,
								Datum **elems, bool **nulls);
extern void args_idempotency_key(text *key);
extern void args_group_key(text *key);
extern Datum args_group_key_arg(FunctionCallInfo fcinfo, int argno);
extern void args_reset(FunctionCallInfo fcinfo, int argno, const char *what,
					   const char *const *names, int nnames, const int *argnos,
					   bool *reset);

#endif							/* QUEUE_ARGS_H */
