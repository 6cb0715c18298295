/*-------------------------------------------------------------------------
 *
 * grants.c
 *	  The SQL functions of privileges (SPEC section 8): mq_grant, mq_revoke,
 *	  mq.visible() for the views, and the trigger that keeps the owners' and
 *	  grantees' rows in pg_shdepend.
 *
 * What each privilege allows is in privileges.c's header; the checks are
 * in perms.c, the catalog side (reading, storing, changing grants) in
 * privileges.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/dependency.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "lib/qunique.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/syscache.h"

#include "args.h"
#include "perms.h"
#include "privileges.h"
#include "util.h"

PG_FUNCTION_INFO_V1(mq_grant);
PG_FUNCTION_INFO_V1(mq_revoke);
PG_FUNCTION_INFO_V1(mq_visible);
PG_FUNCTION_INFO_V1(mq_objects_dependencies);

/*
 * mq.visible(owner, senders, readers, managers): may the calling role see
 * the object?
 */
Datum
mq_visible(PG_FUNCTION_ARGS)
{
	ObjectPerms perms;

	if (PG_ARGISNULL(0))
		PG_RETURN_BOOL(false);
	perms.owner = PG_GETARG_OID(0);
	if (PG_NARGS() == 2)
	{
		/* The 0.3.0 definition: mq.visible(owner, acl aclitem[]) */
		perms.acl = PG_ARGISNULL(1) ? NULL : (struct ArrayType *) PG_GETARG_ACL_P(1);
	}
	else
	{
		Datum		grantees[lengthof(perms_privileges)];
		bool		nulls[lengthof(perms_privileges)];
		int			i;

		for (i = 0; i < lengthof(perms_privileges); i++)
		{
			nulls[i] = PG_ARGISNULL(1 + i);
			grantees[i] = nulls[i] ? (Datum) 0 : PG_GETARG_DATUM(1 + i);
		}
		perms.acl = (struct ArrayType *) perms_acl_from_arrays(perms.owner, grantees, nulls);
	}
	PG_RETURN_BOOL(perms_visible(&perms, GetUserId()));
}

/* The privileges named by a text[] argument; 22023 for anything else. */
static int
privs_arg(FunctionCallInfo fcinfo, int argno)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;
	int			privs = 0;

	n = args_array(fcinfo, argno, "privileges", TEXTOID, -1, false, TYPALIGN_INT,
				  &elems, &nulls);
	for (i = 0; i < n; i++)
	{
		char	   *p;
		int			j;
		int			found = 0;

		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("privileges must not contain NULL")));
		p = TextDatumGetCString(elems[i]);
		if (strcmp(p, "all") == 0)
			found = PERMS_ALL;
		for (j = 0; j < lengthof(perms_privileges); j++)
			if (strcmp(p, perms_privileges[j].name) == 0)
				found = perms_privileges[j].priv;
		if (found == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown privilege \"%s\"", p),
					 errdetail("The privileges are send, read and manage, or all.")));
		privs |= found;
	}
	return privs;
}

static Datum
grant_or_revoke(FunctionCallInfo fcinfo, bool grant)
{
	char		name[QUEUE_NAME_MAXLEN + 1];
	Oid			role;
	int			privs;

	args_name_arg(fcinfo, 0, "name", "object", name);
	args_not_null(fcinfo, 1, "role");
	role = PG_GETARG_OID(1);
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(role)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role with OID %u does not exist", role)));
	if (grant)
		args_not_null(fcinfo, 2, "privileges");
	privs = PG_ARGISNULL(2) ? PERMS_ALL : privs_arg(fcinfo, 2);
	PreventCommandIfReadOnly(grant ? "mq_grant()" : "mq_revoke()");
	privileges_change(name, role, privs, grant, true);
	PG_RETURN_VOID();
}

/* mq_grant(name, role, privileges) */
Datum
mq_grant(PG_FUNCTION_ARGS)
{
	return grant_or_revoke(fcinfo, true);
}

/* mq_revoke(name, role, privileges): NULL privileges revoke them all. */
Datum
mq_revoke(PG_FUNCTION_ARGS)
{
	return grant_or_revoke(fcinfo, false);
}

/*
 * Trigger on mq.objects: the rows of pg_shdepend for object <id> name its
 * owner and its grantees (and grantors), all as ACL dependencies of
 * (pg_extension, queue, <id>).  Pinned roles (the bootstrap superuser)
 * get no rows, as elsewhere in PostgreSQL.
 */
Datum
mq_objects_dependencies(PG_FUNCTION_ARGS)
{
	TriggerData *trig = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	HeapTuple	oldtup = NULL;
	HeapTuple	newtup = NULL;
	Oid			extoid;
	int			id_col,
				owner_col,
				acl_col,
				grantee_cols[lengthof(perms_privileges)];
	bool		isnull;
	int			i;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_FOR_ROW(trig->tg_event) ||
		!TRIGGER_FIRED_AFTER(trig->tg_event))
		elog(ERROR, "mq.objects_dependencies() must run as an AFTER ROW trigger");
	desc = RelationGetDescr(trig->tg_relation);
	if (TRIGGER_FIRED_BY_INSERT(trig->tg_event))
		newtup = trig->tg_trigtuple;
	else if (TRIGGER_FIRED_BY_UPDATE(trig->tg_event))
	{
		oldtup = trig->tg_trigtuple;
		newtup = trig->tg_newtuple;
	}
	else
		oldtup = trig->tg_trigtuple;

	extoid = get_extension_oid("queue", false);
	id_col = SPI_fnumber(desc, "id");
	owner_col = SPI_fnumber(desc, "owner");
	/*
	 * Grants are in three arrays, or an aclitem[] in a 0.3.0 catalog; a
	 * schedule (mq.schedules) has an owner only.
	 */
	acl_col = SPI_fnumber(desc, "acl");
	grantee_cols[0] = SPI_fnumber(desc, "senders");
	grantee_cols[1] = SPI_fnumber(desc, "readers");
	grantee_cols[2] = SPI_fnumber(desc, "managers");
	if (id_col <= 0 || owner_col <= 0 ||
		(grantee_cols[0] > 0) != (grantee_cols[1] > 0) ||
		(grantee_cols[0] > 0) != (grantee_cols[2] > 0))
		elog(ERROR, "%s lacks a column the privileges need",
			 RelationGetRelationName(trig->tg_relation));

	if (oldtup != NULL)
		deleteSharedDependencyRecordsFor(ExtensionRelationId, extoid,
										 DatumGetInt32(heap_getattr(oldtup, id_col, desc, &isnull)));
	if (newtup != NULL)
	{
		int32		id = DatumGetInt32(heap_getattr(newtup, id_col, desc, &isnull));
		Oid			owner = DatumGetObjectId(heap_getattr(newtup, owner_col, desc, &isnull));
		Acl		   *acl;
		Oid		   *grantees = NULL;
		int			ngrantees = 0;
		Oid		   *members;
		Oid		   *none = palloc(sizeof(Oid));
		int			n = 0;

		if (id == 0)
			elog(ERROR, "object id 0 is reserved");
		if (grantee_cols[0] > 0)
		{
			Datum		arrays[lengthof(perms_privileges)];
			bool		nulls[lengthof(perms_privileges)];

			for (i = 0; i < lengthof(perms_privileges); i++)
				arrays[i] = heap_getattr(newtup, grantee_cols[i], desc, &nulls[i]);
			acl = perms_acl_from_arrays(owner, arrays, nulls);
		}
		else if (acl_col > 0)
		{
			Datum		d = heap_getattr(newtup, acl_col, desc, &isnull);

			acl = isnull ? NULL : DatumGetAclP(d);
		}
		else
			acl = NULL;
		if (acl != NULL)
			ngrantees = aclmembers(acl, &grantees);
		members = palloc((ngrantees + 1) * sizeof(Oid));
		members[n++] = owner;
		for (i = 0; i < ngrantees; i++)
			members[n++] = grantees[i];
		qsort(members, n, sizeof(Oid), oid_cmp);
		n = qunique(members, n, sizeof(Oid), oid_cmp);
		updateAclDependencies(ExtensionRelationId, extoid, id, InvalidOid,
							  0, none, n, members);
	}
	return PointerGetDatum(NULL);
}
