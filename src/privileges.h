/*-------------------------------------------------------------------------
 *
 * privileges.h
 *	  Owners and grants in the catalog (privileges.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_PRIVILEGES_H
#define QUEUE_PRIVILEGES_H

#include "c.h"

/* Owners and grants in the catalog (privileges.c). */
extern void privileges_change(const char *name, Oid role, int privs, bool grant, bool check);
struct ArrayType;
extern void privileges_store(int32 id, Oid owner, const struct ArrayType *acl);
extern void privileges_restore_dependencies(void);

#endif							/* QUEUE_PRIVILEGES_H */
