/*-------------------------------------------------------------------------
 *
 * perms.h
 *	  Who holds which privilege on a queue, topic or stream (perms.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_PERMS_H
#define QUEUE_PERMS_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "utils/acl.h"

/* The privileges (SPEC section 8), as bits. */
typedef enum ObjectPriv
{
	PRIV_SEND = 1,				/* send, publish, append */
	PRIV_READ = 2,				/* read, pop, peek, ack ..., consume */
	PRIV_MANAGE = 4				/* alter, purge, drop, subscribe, seek, grant */
} ObjectPriv;

/* Each privilege: its name, its bit and its ACL mode. */
typedef struct PermsPrivilege
{
	const char *name;
	int			priv;
	AclMode		mode;
} PermsPrivilege;

#define PERMS_NUM	3
extern const PermsPrivilege perms_privileges[PERMS_NUM];

#define PERMS_ALL	(PRIV_SEND | PRIV_READ | PRIV_MANAGE)
#define PERMS_ALL_MODES	(ACL_INSERT | ACL_SELECT | ACL_UPDATE)

/* An object's owner and grants. */
typedef struct ObjectPerms
{
	Oid			owner;
	struct ArrayType *acl;		/* an Acl; NULL: no grants */
} ObjectPerms;

extern AclMode perms_modes(int privs);
extern Acl *perms_acl_from_arrays(Oid owner, const Datum *grantees, const bool *nulls);
extern void perms_acl_to_arrays(const Acl *acl, Datum *arrays);
extern void perms_from_tuple(ObjectPerms *perms, HeapTuple tup, TupleDesc desc,
							 int owner_col, MemoryContext cxt);
extern bool perms_owns(const ObjectPerms *perms, Oid roleid);
extern bool perms_allow(const ObjectPerms *perms, Oid roleid, int privs);
extern bool perms_visible(const ObjectPerms *perms, Oid roleid);
extern void perms_require(const ObjectPerms *perms, Oid roleid, int privs,
						  char kind, const char *name);

#endif							/* QUEUE_PERMS_H */
