/*-------------------------------------------------------------------------
 *
 * hooks.h
 *	  The utility hook: what the extension does before some commands (hooks.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_HOOKS_H
#define QUEUE_HOOKS_H

#include "nodes/parsenodes.h"

extern void hooks_register(void);

/* What the hook does for each command. */
extern void hooks_check_drop_extension(DropStmt *stmt);
extern void hooks_drop_owned(DropOwnedStmt *stmt);
extern void hooks_reassign_owned(ReassignOwnedStmt *stmt);
extern void hooks_check_drop_role(DropRoleStmt *stmt);
extern const char *hooks_database_to_leave(Node *stmt);
extern List *hooks_role_oids(List *roles);
extern List *hooks_objects_of_role(Oid roleid, char kind, bool leaves_only);

#endif							/* QUEUE_HOOKS_H */
