/*-------------------------------------------------------------------------
 *
 * privileges.c
 *	  Who may do what to a queue, topic or stream (SPEC section 8).
 *
 * The role that creates an object owns it (mq.objects.owner) and holds
 * every privilege on it; so do the roles that have the owner's privileges
 * (its members) and superusers.  Other roles hold what mq_grant gave them:
 *
 *	  send		mq_send, mq_send_batch, mq_publish, mq_append, mq_append_batch
 *	  read		mq_read, mq_pop, mq_peek, mq_ack, mq_nack, mq_extend,
 *				mq_consume, mq_stream_read, mq_create_group
 *	  manage	mq_alter_*, mq_purge, mq_drop_*, mq_subscribe, mq_unsubscribe,
 *				mq_seek, mq_drop_group, mq_redrive, mq_stats_reset, and
 *				granting send and read (only the owner grants manage)
 *
 * Grants are kept as three regrole[] columns of mq.objects, senders,
 * readers and managers: plain OIDs, which pg_upgrade carries across major
 * versions (it refuses aclitem columns from 15 on, whose format changed in
 * 16), dumped as role names.  In memory they are an Acl (send as INSERT,
 * read as SELECT, manage as UPDATE, granted by the owner), so the checks
 * and changes are PostgreSQL's own aclmask() and aclupdate().  Like any ACL
 * in PostgreSQL they are backed by pg_shdepend rows: a trigger on mq.objects
 * records the owner and every grantee of object <id> as a dependency of
 * (pg_extension, queue, <id>).  So DROP ROLE fails while a role owns or
 * holds a grant on an object, and a role created later with the same OID
 * finds nothing waiting for it.  DROP OWNED BY and REASSIGN OWNED BY would
 * not know what to do with such rows; the utility hook (hooks.c) hands
 * them to hooks_drop_owned and hooks_reassign_owned first, which
 * revoke, drop or reassign the objects and so remove the rows.
 *
 * The checks themselves are in perms.c; they use the per-backend caches of
 * queues, topics and streams: a call on an object costs a comparison with
 * the owner, or one aclmask().
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "lib/qunique.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "compat.h"
#include "queue.h"

PG_FUNCTION_INFO_V1(mq_grant);
PG_FUNCTION_INFO_V1(mq_revoke);
PG_FUNCTION_INFO_V1(mq_visible);
PG_FUNCTION_INFO_V1(mq_objects_dependencies);

/*
 * The owner and grants of "mq.objects o" for catalog queries: four columns,
 * the owner and the roles granted send, read and manage (regrole[]), read
 * back by perms_from_tuple.  A catalog at 0.3.0 (aclitem[]) gives the same
 * columns; one from before has neither (see catalog_grants_form).
 */
#define ACL_GRANTEES(mode) \
	"ARRAY(SELECT a.grantee::pg_catalog.regrole FROM pg_catalog.aclexplode(o.acl) a" \
	" WHERE a.privilege_type OPERATOR(pg_catalog.=) '" mode "')"

const char *
perms_columns(void)
{
	switch (catalog_grants_form())
	{
		case GRANTS_ARRAYS:
			return "o.owner, o.senders, o.readers, o.managers";
		case GRANTS_ACLITEM:
			return "o.owner, " ACL_GRANTEES("INSERT") ", " ACL_GRANTEES("SELECT") ", "
				ACL_GRANTEES("UPDATE");
		case GRANTS_NONE:
			break;
	}
	return "NULL::pg_catalog.oid, NULL::pg_catalog.regrole[], NULL::pg_catalog.regrole[],"
		" NULL::pg_catalog.regrole[]";
}

/* Every role granted something on "mq.objects o", as a regrole[]. */
const char *
privileges_grantees_column(void)
{
	if (catalog_grants_form() == GRANTS_ACLITEM)
		return "ARRAY(SELECT a.grantee::pg_catalog.regrole"
			" FROM pg_catalog.aclexplode(o.acl) a)";
	return "(o.senders OPERATOR(pg_catalog.||) o.readers OPERATOR(pg_catalog.||) o.managers)";
}

/*
 * Store an object's grants (acl: NULL or an Acl) and, if owner is valid,
 * its owner.  The catalog must keep grants as arrays: at 0.3.0 the update
 * comes first.
 */
void
privileges_store(int32 id, Oid owner, const Acl *acl)
{
	Datum		args[5];
	Oid			types[5] = {INT4OID, REGROLEOID, REGROLEARRAYOID, REGROLEARRAYOID, REGROLEARRAYOID};
	char		nulls[5] = {' ', OidIsValid(owner) ? ' ' : 'n', ' ', ' ', ' '};

	if (catalog_grants_form() != GRANTS_ARRAYS)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the queue extension's catalog in this database is older than its library"),
				 errdetail("Grants and owners change only once the catalog is at version %s.",
						   QUEUE_VERSION),
				 errhint("Run ALTER EXTENSION queue UPDATE.")));
	args[0] = Int32GetDatum(id);
	args[1] = ObjectIdGetDatum(owner);
	perms_acl_to_arrays(acl, &args[2]);
	catalog_exec("UPDATE mq.objects SET owner = COALESCE($2, owner),"
				 " senders = $3, readers = $4, managers = $5"
				 " WHERE id OPERATOR(pg_catalog.=) $1", 5, types, args, nulls);
}

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

/* ---------------------------------------------------------------------
 * mq_grant, mq_revoke
 * ---------------------------------------------------------------------
 */

/* The privileges named by a text[] argument; 22023 for anything else. */
static int
privs_arg(FunctionCallInfo fcinfo, int argno)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;
	int			privs = 0;

	n = arg_array(fcinfo, argno, "privileges", TEXTOID, -1, false, TYPALIGN_INT,
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

/*
 * Grant or revoke privs on an object for a role, under the DDL lock.  With
 * check, 42501 unless the caller may: the owner grants anything, a holder
 * of manage only send and read.  A revoke of every privilege (privs
 * PERMS_ALL, mq_revoke's default) by a holder of manage revokes what it
 * may, send and read, and warns if the role keeps manage, as REVOKE ALL
 * does for the privileges its caller may not revoke.
 */
void
privileges_change(const char *name, Oid role, int privs, bool grant, bool check)
{
	CatalogContext cxt;
	ObjectPerms perms;
	int32		id;
	char		kind;

	catalog_enter(&cxt);
	lock_catalog();
	if (!find_object_perms(name, &id, &kind, &perms))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no queue, topic or stream named \"%s\" exists", name)));
	if (check && !perms_owns(&perms, cxt.save_userid))
	{
		perms_require(&perms, cxt.save_userid, PRIV_MANAGE, kind, name);
		if (!grant && privs == PERMS_ALL)
		{
			privs &= ~PRIV_MANAGE;
			if (perms.acl != NULL &&
				aclmask((Acl *) perms.acl, role, perms.owner,
						perms_modes(PRIV_MANAGE), ACLMASK_ANY) != 0)
				ereport(WARNING,
						(errcode(ERRCODE_WARNING_PRIVILEGE_NOT_REVOKED),
						 errmsg("role \"%s\" keeps the manage privilege on %s \"%s\"",
								GetUserNameFromId(role, false), kind_name(kind), name),
						 errdetail("Only the owner can revoke manage; send and read were revoked.")));
		}
		if (privs & PRIV_MANAGE)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("only the owner of %s \"%s\" can %s the manage privilege",
							kind_name(kind), name, grant ? "grant" : "revoke")));
	}
	if (privs != 0)
	{
		AclItem		item;

		item.ai_grantee = role;
		item.ai_grantor = perms.owner;
		ACLITEM_SET_PRIVS_GOPTIONS(item, perms_modes(privs), ACL_NO_RIGHTS);
		privileges_store(id, InvalidOid,
					 aclupdate(perms.acl ? (Acl *) perms.acl : make_empty_acl(), &item,
							   grant ? ACL_MODECHG_ADD : ACL_MODECHG_DEL,
							   perms.owner, DROP_RESTRICT));
		catalog_changed();
	}
	catalog_leave(&cxt);
}

static Datum
grant_or_revoke(FunctionCallInfo fcinfo, bool grant)
{
	char		name[QUEUE_NAME_MAXLEN + 1];
	Oid			role;
	int			privs;

	arg_not_null(fcinfo, 0, "name");
	queue_check_name("object", PG_GETARG_TEXT_PP(0), name);
	arg_not_null(fcinfo, 1, "role");
	role = PG_GETARG_OID(1);
	if (!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(role)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role with OID %u does not exist", role)));
	if (grant)
		arg_not_null(fcinfo, 2, "privileges");
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

/* ---------------------------------------------------------------------
 * Dependencies on roles
 * ---------------------------------------------------------------------
 */

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
	/* Grants are in three arrays, or an aclitem[] in a 0.3.0 catalog. */
	acl_col = SPI_fnumber(desc, "acl");
	grantee_cols[0] = SPI_fnumber(desc, "senders");
	grantee_cols[1] = SPI_fnumber(desc, "readers");
	grantee_cols[2] = SPI_fnumber(desc, "managers");
	if (id_col <= 0 || owner_col <= 0 ||
		(acl_col <= 0 && (grantee_cols[0] <= 0 || grantee_cols[1] <= 0 || grantee_cols[2] <= 0)))
		elog(ERROR, "mq.objects lacks a column the privileges need");

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
		else
		{
			Datum		d = heap_getattr(newtup, acl_col, desc, &isnull);

			acl = isnull ? NULL : DatumGetAclP(d);
		}
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

/*
 * Give back the pg_shdepend rows of objects that have none although their
 * owner or a grantee is a role that would get one (pinned roles, the
 * bootstrap superuser and the predefined roles, get none).  pg_upgrade
 * moves the catalog's files but not the rows its trigger made, which live
 * in a shared catalog; the worker calls this when it starts in a database.
 */
void
privileges_restore_dependencies(void)
{
	CatalogContext cxt;
	Datum		arg;
	Oid			type = OIDOID;

	if (catalog_grants_form() == GRANTS_NONE)
		return;
	arg = ObjectIdGetDatum(get_extension_oid("queue", false));
	catalog_enter(&cxt);
	lock_catalog();
	catalog_exec(psprintf("UPDATE mq.objects o SET owner = owner"
						  " WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_shdepend d"
						  "   WHERE d.dbid OPERATOR(pg_catalog.=) %u"
						  "     AND d.classid OPERATOR(pg_catalog.=) %u"
						  "     AND d.objid OPERATOR(pg_catalog.=) $1"
						  "     AND d.objsubid OPERATOR(pg_catalog.=) o.id)"
						  "   AND EXISTS (SELECT 1 FROM pg_catalog.unnest(%s"
						  "       OPERATOR(pg_catalog.||) o.owner) r"
						  "     WHERE r::pg_catalog.oid OPERATOR(pg_catalog.>=) %u)",
						  MyDatabaseId, ExtensionRelationId, privileges_grantees_column(),
						  FirstNormalObjectId),
				 1, &type, &arg, NULL);
	if (SPI_processed > 0)
	{
		ereport(LOG,
				(errmsg("queue: restored the role dependencies of %llu objects",
						(unsigned long long) SPI_processed),
				 errdetail("Their rows in pg_shdepend were missing, as after pg_upgrade.")));
		catalog_changed();
	}
	catalog_leave(&cxt);
}

/* ---------------------------------------------------------------------
 * DROP OWNED, REASSIGN OWNED, DROP ROLE
 * ---------------------------------------------------------------------
 */

