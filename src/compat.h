/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  What differs between the PostgreSQL versions the extension supports.
 *
 * Every line that depends on the server's version sits here, behind
 * PG_VERSION_NUM, so the other files read the same on every version.
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_COMPAT_H
#define QUEUE_COMPAT_H

#include "postgres.h"

#include "catalog/pg_database_d.h"
#include "catalog/pg_extension_d.h"
#include "miscadmin.h"
#include "utils/acl.h"

/* Ownership checks: one function for every kind of object from 16 on. */
#if PG_VERSION_NUM >= 160000
#define compat_owns_database(db, role) \
	object_ownercheck(DatabaseRelationId, (db), (role))
#define compat_owns_extension(ext, role) \
	object_ownercheck(ExtensionRelationId, (ext), (role))
#else
#define compat_owns_database(db, role)		pg_database_ownercheck((db), (role))
#define compat_owns_extension(ext, role)	pg_extension_ownercheck((ext), (role))
#endif

/*
 * May role drop roleid (DROP ROLE's own check, so that no one learns
 * anything from ours first)?  A superuser may drop any role; otherwise
 * CREATEROLE is needed, and the role must not be a superuser; from 16 on
 * also ADMIN OPTION on it.
 */
static inline bool
compat_may_drop_role(Oid role, Oid roleid)
{
	if (superuser_arg(role))
		return true;
	if (!has_createrole_privilege(role) || superuser_arg(roleid))
		return false;
#if PG_VERSION_NUM >= 160000
	if (!is_admin_of_role(role, roleid))
		return false;
#endif
	return true;
}

#endif							/* QUEUE_COMPAT_H */
