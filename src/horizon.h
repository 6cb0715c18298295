/*-------------------------------------------------------------------------
 *
 * horizon.h
 *	  Long polls that hold back neither vacuum nor the xmin horizon
 *	  (horizon.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_HORIZON_H
#define QUEUE_HORIZON_H

#include "fmgr.h"

extern bool horizon_call_stands_alone(FunctionCallInfo fcinfo);
extern void horizon_release(void);

#endif							/* QUEUE_HORIZON_H */
