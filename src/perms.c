/*-------------------------------------------------------------------------
 *
 * perms.c
 *	  Who holds which privilege on a queue, topic or stream (SPEC section 8):
 *	  the logic, with no catalog access.
 *
 * An object's owner holds every privilege, and so do roles with the
 * owner's privileges and superusers.  Other roles hold what mq_grant gave
 * them, kept as one regrole[] per privilege (privileges.c reads and writes
 * the catalog) and checked here as an Acl -- send as INSERT, read as
 * SELECT, manage as UPDATE, granted by the owner -- with PostgreSQL's own
 * aclmask(), so that members of a grantee role hold what it holds.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"

#include "perms.h"
#include "util.h"

/* The names of the privileges, by bit (ObjectPriv). */
const PermsPrivilege perms_privileges[PERMS_NUM] = {
	{"send", PRIV_SEND, ACL_INSERT},
	{"read", PRIV_READ, ACL_SELECT},
	{"manage", PRIV_MANAGE, ACL_UPDATE},
};

AclMode
perms_modes(int privs)
{
	AclMode		mode = 0;
	int			i;

	for (i = 0; i < lengthof(perms_privileges); i++)
		if (privs & perms_privileges[i].priv)
			mode |= perms_privileges[i].mode;
	return mode;
}

/* "send", "send and read", ... for messages. */
static const char *
perms_words(int privs)
{
	StringInfoData buf;
	int			i;
	int			n = 0;

	initStringInfo(&buf);
	for (i = 0; i < lengthof(perms_privileges); i++)
		if (privs & perms_privileges[i].priv)
			appendStringInfo(&buf, "%s%s", n++ ? ", " : "", perms_privileges[i].name);
	return buf.data;
}

/*
 * The Acl of an owner and the grantees of each privilege (regrole[] or
 * NULL, by perms_privileges), in the current memory context; NULL when
 * nobody holds a grant.
 */
Acl *
perms_acl_from_arrays(Oid owner, const Datum *grantees, const bool *nulls)
{
	Acl		   *acl = NULL;
	int			i;

	for (i = 0; i < lengthof(perms_privileges); i++)
	{
		Datum	   *elems;
		int			n;
		int			j;

		if (nulls[i])
			continue;
		deconstruct_array(DatumGetArrayTypeP(grantees[i]), REGROLEOID, sizeof(Oid), true,
						  TYPALIGN_INT, &elems, NULL, &n);
		for (j = 0; j < n; j++)
		{
			AclItem		item;

			item.ai_grantee = DatumGetObjectId(elems[j]);
			item.ai_grantor = owner;
			ACLITEM_SET_PRIVS_GOPTIONS(item, perms_privileges[i].mode, ACL_NO_RIGHTS);
			acl = aclupdate(acl ? acl : make_empty_acl(), &item, ACL_MODECHG_ADD, owner,
							DROP_RESTRICT);
		}
	}
	return acl;
}

/*
 * Fill perms from columns owner_col (owner) and the three after it
 * (catalog_perms_columns) of a catalog row, building the Acl in cxt.
 */
void
perms_from_tuple(ObjectPerms *perms, HeapTuple tup, TupleDesc desc, int owner_col,
				 MemoryContext cxt)
{
	Datum		grantees[lengthof(perms_privileges)];
	bool		nulls[lengthof(perms_privileges)];
	bool		isnull;
	int			i;
	Acl		   *acl;

	perms->owner = DatumGetObjectId(SPI_getbinval(tup, desc, owner_col, &isnull));
	for (i = 0; i < lengthof(perms_privileges); i++)
		grantees[i] = SPI_getbinval(tup, desc, owner_col + 1 + i, &nulls[i]);
	acl = perms_acl_from_arrays(perms->owner, grantees, nulls);
	perms->acl = NULL;
	if (acl != NULL)
	{
		perms->acl = MemoryContextAlloc(cxt, VARSIZE(acl));
		memcpy(perms->acl, acl, VARSIZE(acl));
		pfree(acl);
	}
}

/*
 * The grantees of each privilege (by perms_privileges) in an Acl (or NULL:
 * none), as regrole[] datums in the current memory context.
 */
void
perms_acl_to_arrays(const Acl *acl, Datum *arrays)
{
	ArrayBuildState *grantees[lengthof(perms_privileges)];
	int			i;
	int			j;

	for (i = 0; i < lengthof(perms_privileges); i++)
		grantees[i] = initArrayResult(REGROLEOID, CurrentMemoryContext, false);
	for (j = 0; acl != NULL && j < ACL_NUM(acl); j++)
	{
		const AclItem *item = &ACL_DAT(acl)[j];

		for (i = 0; i < lengthof(perms_privileges); i++)
			if (ACLITEM_GET_PRIVS(*item) & perms_privileges[i].mode)
				accumArrayResult(grantees[i], ObjectIdGetDatum(item->ai_grantee), false,
								 REGROLEOID, CurrentMemoryContext);
	}
	for (i = 0; i < lengthof(perms_privileges); i++)
		arrays[i] = makeArrayResult(grantees[i], CurrentMemoryContext);
}

/*
 * Does the role act as the owner: the owner itself, a role with the
 * owner's privileges, or a superuser (has_privs_of_role says yes to them)?
 * With no owner, a catalog from before 0.3.0 (see catalog_perms_columns), everyone
 * does.
 */
bool
perms_owns(const ObjectPerms *perms, Oid roleid)
{
	return roleid == perms->owner || !OidIsValid(perms->owner) ||
		has_privs_of_role(roleid, perms->owner);
}

/* Does roleid hold every privilege in privs on the object? */
bool
perms_allow(const ObjectPerms *perms, Oid roleid, int privs)
{
	AclMode		mode = perms_modes(privs);

	/* The owner's own calls take the cheapest test first. */
	if (roleid == perms->owner)
		return true;
	if (perms->acl != NULL &&
		aclmask((Acl *) perms->acl, roleid, perms->owner, mode, ACLMASK_ALL) == mode)
		return true;
	return perms_owns(perms, roleid);
}

/* 42501 unless roleid holds privs on the object. */
void
perms_require(const ObjectPerms *perms, Oid roleid, int privs, char kind,
			  const char *name)
{
	if (perms_allow(perms, roleid, privs))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied for %s \"%s\"", util_kind_name(kind), name),
			 errdetail("This needs the %s privilege, which role \"%s\" does not hold.",
					   perms_words(privs), GetUserNameFromId(roleid, false)),
			 errhint("The owner of the %s can grant it with mq_grant().", util_kind_name(kind))));
}

/*
 * May roleid see the object in the views?  Its owner and grantees may, and
 * so may members of pg_monitor, which see figures but no message.
 */
bool
perms_visible(const ObjectPerms *perms, Oid roleid)
{
	if (perms_owns(perms, roleid) || has_privs_of_role(roleid, ROLE_PG_MONITOR))
		return true;
	return perms->acl != NULL &&
		aclmask((Acl *) perms->acl, roleid, perms->owner, PERMS_ALL_MODES, ACLMASK_ANY) != 0;
}
