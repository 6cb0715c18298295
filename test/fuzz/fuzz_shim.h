/*-------------------------------------------------------------------------
 *
 * fuzz_shim.h
 *	  What src/match.c needs from postgres.h, on top of the C library, so
 *	  that the fuzz target can build it without a server.
 *
 * match.c includes this header instead of postgres.h when it is compiled
 * with -DMATCH_STANDALONE.  Memory comes from malloc: an allocation that
 * fails aborts, as palloc would raise an error.
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_FUZZ_SHIM_H
#define QUEUE_FUZZ_SHIM_H

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define Assert(condition)	assert(condition)

static inline void *
shim_check_alloc(void *p)
{
	if (p == NULL)
	{
		fprintf(stderr, "fuzz_shim: out of memory\n");
		abort();
	}
	return p;
}

/* malloc(0) may return NULL; palloc(0) returns a valid pointer. */
#define palloc(size)		shim_check_alloc(malloc((size) > 0 ? (size) : 1))
#define palloc0(size)		shim_check_alloc(calloc(1, (size) > 0 ? (size) : 1))
#define pfree(pointer)		free(pointer)
#define pstrdup(s)			((char *) shim_check_alloc(strdup(s)))
#define pnstrdup(s, len)	((char *) shim_check_alloc(strndup((s), (len))))

#endif							/* QUEUE_FUZZ_SHIM_H */
