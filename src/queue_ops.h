/*-------------------------------------------------------------------------
 *
 * queue_ops.h
 *	  Queue operations of the SQL API (queue_ops.c) that other modules
 *	  of the SQL layer call.
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_QUEUE_OPS_H
#define QUEUE_QUEUE_OPS_H

#include "datatype/timestamp.h"

extern int64 queue_ops_send(const char *name, Datum body, Datum headers,
							const Interval *delay, int32 priority, struct varlena *key,
							Datum group);

#endif							/* QUEUE_QUEUE_OPS_H */
