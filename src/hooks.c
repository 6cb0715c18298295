/*-------------------------------------------------------------------------
 *
 * hooks.c
 *	  The utility hook: what the extension does before some commands.
 *
 *	  DROP EXTENSION queue		refused (2BP01) while queues or streams hold
 *								data, unless CASCADE
 *	  DROP OWNED BY				revokes the roles' grants and drops their
 *								objects in this database
 *	  REASSIGN OWNED BY			hands their objects to the new role
 *	  DROP ROLE					says which objects a role owns or holds
 *								grants on (pg_shdepend stops it anyway)
 *	  DROP DATABASE, CREATE DATABASE ... TEMPLATE, ALTER DATABASE ...
 *	  RENAME/SET TABLESPACE		make the database's worker step aside first
 *	  CREATE EXTENSION queue	wakes the launcher when it commits
 *
 * Each acts only for a caller who may run the command: anyone else meets
 * the command's own error and learns nothing here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/syscache.h"

#include "catalog.h"
#include "compat.h"
#include "hooks.h"
#include "perms.h"
#include "privileges.h"
#include "worker.h"

static ProcessUtility_hook_type prev_utility_hook = NULL;

/*
 * DROP EXTENSION queue without CASCADE while queues or streams hold data:
 * refuse (2BP01) and say what would be lost.  Called before the drop runs.
 */
void
hooks_check_drop_extension(DropStmt *stmt)
{
	ListCell   *lc;
	bool		ours = false;
	Oid			extoid;
	CatalogContext cxt;
	char		sql[1024];
	const char *schema;
	int64		figures[4] = {0, 0, 0, 0};
	int			i;

	if (stmt->removeType != OBJECT_EXTENSION || stmt->behavior == DROP_CASCADE)
		return;
	foreach(lc, stmt->objects)
		if (strcmp(strVal(lfirst(lc)), "queue") == 0)
			ours = true;
	if (!ours || !OidIsValid(extoid = get_extension_oid("queue", true)))
		return;
	/* Only for a caller who may drop it: anyone else learns nothing here. */
	if (!compat_owns_extension(extoid, GetUserId()))
		return;
	catalog_enter(&cxt);
	{
		Datum		arg = ObjectIdGetDatum(extoid);
		Oid			type = OIDOID;

		catalog_exec("SELECT n.nspname FROM pg_catalog.pg_extension e"
					 " JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace"
					 " WHERE e.oid OPERATOR(pg_catalog.=) $1", 1, &type, &arg, NULL);
		if (SPI_processed != 1)
			elog(ERROR, "could not find the schema of extension \"queue\"");
		schema = quote_identifier(SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	}
	snprintf(sql, sizeof(sql),
			 "SELECT (SELECT count(*) FROM %s.mq_queues WHERE depth > 0),"
			 " (SELECT coalesce(sum(depth), 0)::pg_catalog.int8 FROM %s.mq_queues),"
			 " (SELECT count(DISTINCT stream) FROM %s.mq_streams WHERE records > 0),"
			 " (SELECT coalesce(sum(records), 0)::pg_catalog.int8 FROM %s.mq_streams)",
			 schema, schema, schema, schema);
	catalog_exec(sql, 0, NULL, NULL, NULL);
	for (i = 0; i < 4 && SPI_processed == 1; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1, &isnull);

		if (!isnull)
			figures[i] = DatumGetInt64(d);
	}
	catalog_leave(&cxt);
	if (figures[0] == 0 && figures[2] == 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
			 errmsg("cannot drop extension queue because its queues or streams hold data"),
			 errdetail("%lld message%s in %lld queue%s and %lld record%s in %lld stream%s would be lost.",
					   (long long) figures[1], figures[1] == 1 ? "" : "s",
					   (long long) figures[0], figures[0] == 1 ? "" : "s",
					   (long long) figures[3], figures[3] == 1 ? "" : "s",
					   (long long) figures[2], figures[2] == 1 ? "" : "s"),
			 errhint("Empty them first (mq_purge, mq_drop_stream), or use DROP EXTENSION queue CASCADE to drop them with it.")));
}

/* The OIDs of a list of RoleSpecs (roles that do not exist are left out). */
List *
hooks_role_oids(List *roles)
{
	List	   *oids = NIL;
	ListCell   *lc;

	foreach(lc, roles)
	{
		Oid			roleid = get_rolespec_oid(lfirst(lc), true);

		if (OidIsValid(roleid))
			oids = lappend_oid(oids, roleid);
	}
	return oids;
}

/*
 * The objects of kind that a role owns (with leaves_only, only queues that
 * are no other queue's dead-letter queue), or (kind 0) on which it holds a
 * grant, under the DDL lock: names, in the caller's memory.
 */
List *
hooks_objects_of_role(Oid roleid, char kind, bool leaves_only)
{
	MemoryContext caller = CurrentMemoryContext;
	CatalogContext cxt;
	Datum		args[3];
	Oid			types[3] = {OIDOID, CHAROID, BOOLOID};
	List	   *names;

	args[0] = ObjectIdGetDatum(roleid);
	args[1] = CharGetDatum(kind);
	args[2] = BoolGetDatum(leaves_only);
	catalog_enter(&cxt);
	catalog_lock();
	if (kind == 0)
		catalog_exec(psprintf("SELECT name FROM mq.objects o"
							  " WHERE $1::pg_catalog.regrole OPERATOR(pg_catalog.=) ANY (%s)"
							  " ORDER BY name", catalog_grantees_column()),
					 1, types, args, NULL);
	else
		catalog_exec("SELECT name FROM mq.objects o"
					 " WHERE owner OPERATOR(pg_catalog.=) $1::pg_catalog.regrole"
					 "   AND kind OPERATOR(pg_catalog.=) $2"
					 "   AND (NOT $3 OR NOT EXISTS (SELECT 1 FROM mq.queues r"
					 "          WHERE r.dead_letter_queue OPERATOR(pg_catalog.=) o.id))"
					 " ORDER BY name", 3, types, args, NULL);
	names = catalog_result_names(caller);
	catalog_leave(&cxt);
	return names;
}

extern Datum mq_drop_queue(PG_FUNCTION_ARGS);
extern Datum mq_drop_topic(PG_FUNCTION_ARGS);
extern Datum mq_drop_stream(PG_FUNCTION_ARGS);

/*
 * The schedules of role roleid pass to newrole, or are dropped
 * (InvalidOid).  Nothing before schedules came in (0.4.0).
 */
static void
hooks_schedules_of_role(Oid roleid, Oid newrole)
{
	CatalogContext cxt;
	Datum		args[2];
	Oid			types[2] = {OIDOID, OIDOID};

	if (!catalog_has_column("schedules", "owner"))
		return;
	args[0] = ObjectIdGetDatum(roleid);
	args[1] = ObjectIdGetDatum(newrole);
	catalog_enter(&cxt);
	catalog_lock();
	if (OidIsValid(newrole))
		catalog_exec("UPDATE mq.schedules SET owner = $2::pg_catalog.regrole"
					 " WHERE owner OPERATOR(pg_catalog.=) $1::pg_catalog.regrole",
					 2, types, args, NULL);
	else
		catalog_exec("DELETE FROM mq.schedules"
					 " WHERE owner OPERATOR(pg_catalog.=) $1::pg_catalog.regrole",
					 1, types, args, NULL);
	catalog_leave(&cxt);
}

/*
 * DROP OWNED BY: in this database, revoke every grant to the roles and
 * drop the objects and schedules they own (as DROP OWNED does with
 * tables), so that the
 * rest of the command finds none of our rows in pg_shdepend.  A caller
 * without the privileges of a role is left to the command's own error.
 */
void
hooks_drop_owned(DropOwnedStmt *stmt)
{
	ListCell   *lc;
	List	   *roles;

	if (catalog_grants_form() == GRANTS_NONE)
		return;
	roles = hooks_role_oids(stmt->roles);
	foreach(lc, roles)
		if (!has_privs_of_role(GetUserId(), lfirst_oid(lc)))
			return;
	foreach(lc, roles)
	{
		Oid			roleid = lfirst_oid(lc);
		static const char kinds[] = {'t', 's', 'q'};
		ListCell   *nc;
		int			k;

		List	   *names;

		hooks_schedules_of_role(roleid, InvalidOid);
		foreach(nc, hooks_objects_of_role(roleid, 0, false))
			privileges_change(lfirst(nc), roleid, PERMS_ALL, false, false);
		for (k = 0; k < lengthof(kinds); k++)
		{
			PGFunction drop = kinds[k] == 'q' ? mq_drop_queue :
			kinds[k] == 't' ? mq_drop_topic : mq_drop_stream;

			/*
			 * Queues go from the ends of dead-letter chains inwards; one that
			 * another role's queue still uses is dropped last, and the drop
			 * raises 2BP01 for it, which ends the command.
			 */
			while ((names = hooks_objects_of_role(roleid, kinds[k], kinds[k] == 'q')) != NIL ||
				   (names = hooks_objects_of_role(roleid, kinds[k], false)) != NIL)
			{
				foreach(nc, names)
					DirectFunctionCall2(drop, CStringGetTextDatum(lfirst(nc)),
										BoolGetDatum(false));
			}
		}
	}
}

/*
 * REASSIGN OWNED BY ... TO: in this database, the objects of the old roles
 * pass to the new one (grants they made go with them), and so do their
 * schedules.
 */
void
hooks_reassign_owned(ReassignOwnedStmt *stmt)
{
	ListCell   *lc;
	List	   *roles;
	Oid			newrole;
	CatalogContext cxt;

	if (catalog_grants_form() == GRANTS_NONE)
		return;
	roles = hooks_role_oids(stmt->roles);
	newrole = get_rolespec_oid(stmt->newrole, true);
	if (!OidIsValid(newrole) || !has_privs_of_role(GetUserId(), newrole))
		return;
	foreach(lc, roles)
		if (!has_privs_of_role(GetUserId(), lfirst_oid(lc)))
			return;

	foreach(lc, roles)
		hooks_schedules_of_role(lfirst_oid(lc), newrole);
	catalog_enter(&cxt);
	catalog_lock();
	foreach(lc, roles)
	{
		Oid			oldrole = lfirst_oid(lc);
		Datum		args[2];
		Oid			types[2] = {OIDOID, OIDOID};
		uint64		i;
		uint64		n;
		SPITupleTable *found;

		args[0] = ObjectIdGetDatum(oldrole);
		args[1] = ObjectIdGetDatum(newrole);
		catalog_exec(psprintf("SELECT o.id, %s FROM mq.objects o"
							  " WHERE o.owner OPERATOR(pg_catalog.=) $1::pg_catalog.regrole",
							  catalog_perms_columns()),
					 1, types, args, NULL);
		found = SPI_tuptable;
		n = SPI_processed;
		for (i = 0; i < n; i++)
		{
			bool		isnull;
			ObjectPerms perms;

			perms_from_tuple(&perms, found->vals[i], found->tupdesc, 2, CurrentMemoryContext);
			privileges_store(DatumGetInt32(SPI_getbinval(found->vals[i], found->tupdesc, 1, &isnull)),
						 newrole,
						 perms.acl ? aclnewowner((Acl *) perms.acl, oldrole, newrole) : NULL);
		}
	}
	catalog_changed();
	catalog_leave(&cxt);
}

/*
 * DROP ROLE: pg_shdepend already stops it while the role owns or holds a
 * grant on one of our objects, but can only say "privileges for extension
 * queue".  In this database we can say which objects.
 */
void
hooks_check_drop_role(DropRoleStmt *stmt)
{
	ListCell   *lc;
	CatalogContext cxt;

	if (catalog_grants_form() == GRANTS_NONE)
		return;
	foreach(lc, hooks_role_oids(stmt->roles))
	{
		Oid			roleid = lfirst_oid(lc);

		/* Only for a caller who may drop them: anyone else learns nothing. */
		if (!compat_may_drop_role(GetUserId(), roleid))
			return;
	}
	foreach(lc, hooks_role_oids(stmt->roles))
	{
		Oid			roleid = lfirst_oid(lc);
		Datum		arg = ObjectIdGetDatum(roleid);
		Oid			type = OIDOID;
		char	   *owned = NULL;
		char	   *granted = NULL;
		bool		isnull;
		Datum		d;

		catalog_enter(&cxt);
		catalog_exec(psprintf("SELECT pg_catalog.string_agg(CASE kind WHEN 'q' THEN 'queue ' WHEN 't' THEN 'topic '"
							  "        ELSE 'stream ' END OPERATOR(pg_catalog.||) name, ', ' ORDER BY name)"
							  "   FILTER (WHERE owner OPERATOR(pg_catalog.=) $1::pg_catalog.regrole),"
							  "  pg_catalog.string_agg(CASE kind WHEN 'q' THEN 'queue ' WHEN 't' THEN 'topic '"
							  "        ELSE 'stream ' END OPERATOR(pg_catalog.||) name, ', ' ORDER BY name)"
							  "   FILTER (WHERE $1::pg_catalog.regrole OPERATOR(pg_catalog.=) ANY (%s))"
							  "  FROM mq.objects o", catalog_grantees_column()),
					 1, &type, &arg, NULL);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (!isnull)
			owned = TextDatumGetCString(d);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
		if (!isnull)
			granted = TextDatumGetCString(d);
		if (catalog_has_column("schedules", "owner"))
		{
			catalog_exec("SELECT pg_catalog.string_agg('schedule ' OPERATOR(pg_catalog.||) name,"
						 "  ', ' ORDER BY name) FROM mq.schedules"
						 " WHERE owner OPERATOR(pg_catalog.=) $1::pg_catalog.regrole",
						 1, &type, &arg, NULL);
			d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
			if (!isnull)
				owned = owned ? psprintf("%s, %s", owned, TextDatumGetCString(d)) :
					TextDatumGetCString(d);
		}
		catalog_leave(&cxt);
		if (owned != NULL || granted != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST),
					 errmsg("role \"%s\" cannot be dropped because queue objects depend on it",
							GetUserNameFromId(roleid, false)),
					 owned && granted ?
					 errdetail("It owns %s, and holds privileges on %s.", owned, granted) :
					 owned ? errdetail("It owns %s.", owned) :
					 errdetail("It holds privileges on %s.", granted),
					 errhint("Use REASSIGN OWNED BY or DROP OWNED BY (in every database where it has objects), or mq_revoke().")));
	}
}

/*
 * The database a command needs without other connections, when the caller
 * may run it: it will fail at once otherwise, and must not keep the
 * database's worker away (anyone could then keep expiry and retention off
 * by repeating a command that fails).  NULL when no worker must step aside.
 */
const char *
hooks_database_to_leave(Node *stmt)
{
	const char *dbname = NULL;
	Oid			dbid;
	bool		allowed = false;
	ListCell   *lc;

	switch (nodeTag(stmt))
	{
		case T_DropdbStmt:
			dbname = ((DropdbStmt *) stmt)->dbname;
			break;
		case T_AlterDatabaseStmt:
			/* Of ALTER DATABASE, only SET TABLESPACE needs the database alone. */
			foreach(lc, ((AlterDatabaseStmt *) stmt)->options)
				if (strcmp(lfirst_node(DefElem, lc)->defname, "tablespace") == 0)
					dbname = ((AlterDatabaseStmt *) stmt)->dbname;
			break;
		case T_RenameStmt:
			if (((RenameStmt *) stmt)->renameType == OBJECT_DATABASE)
				dbname = ((RenameStmt *) stmt)->subname;
			break;
		case T_CreatedbStmt:
			foreach(lc, ((CreatedbStmt *) stmt)->options)
			{
				DefElem    *opt = lfirst_node(DefElem, lc);

				if (strcmp(opt->defname, "template") == 0 && opt->arg != NULL)
					dbname = defGetString(opt);
			}
			if (dbname == NULL)
				dbname = "template1";
			break;
		default:
			return NULL;
	}
	if (dbname == NULL || !OidIsValid(dbid = get_database_oid(dbname, true)))
		return NULL;

	/* The permission checks the command itself makes first. */
	switch (nodeTag(stmt))
	{
		case T_DropdbStmt:
		case T_AlterDatabaseStmt:
			allowed = compat_owns_database(dbid, GetUserId());
			break;
		case T_RenameStmt:
			allowed = compat_owns_database(dbid, GetUserId()) && compat_have_createdb_privilege();
			break;
		case T_CreatedbStmt:
			if (compat_have_createdb_privilege())
			{
				HeapTuple	tup = SearchSysCache1(DATABASEOID, ObjectIdGetDatum(dbid));

				if (HeapTupleIsValid(tup))
				{
					allowed = ((Form_pg_database) GETSTRUCT(tup))->datistemplate ||
						compat_owns_database(dbid, GetUserId());
					ReleaseSysCache(tup);
				}
			}
			break;
		default:
			break;
	}
	return allowed ? dbname : NULL;
}

/*
 * Commands that need a database without other connections make its worker
 * step aside first, when the caller may run them; CREATE EXTENSION queue
 * wakes the launcher.  DROP EXTENSION checks for data first, and DROP
 * OWNED, REASSIGN OWNED and DROP ROLE deal with the owners and grants of
 * our objects (privileges.c) -- each only for a caller who may run it.
 */
static void
hooks_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
				   ProcessUtilityContext context, ParamListInfo params,
				   QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;
	const char *dbname = hooks_database_to_leave(stmt);

	switch (nodeTag(stmt))
	{
		case T_DropStmt:
			hooks_check_drop_extension((DropStmt *) stmt);
			break;
		case T_DropOwnedStmt:
			hooks_drop_owned((DropOwnedStmt *) stmt);
			break;
		case T_ReassignOwnedStmt:
			hooks_reassign_owned((ReassignOwnedStmt *) stmt);
			break;
		case T_DropRoleStmt:
			hooks_check_drop_role((DropRoleStmt *) stmt);
			break;
		default:
			break;
	}
	if (dbname != NULL)
		worker_step_aside(get_database_oid(dbname, true));

	if (prev_utility_hook)
		prev_utility_hook(pstmt, queryString, readOnlyTree, context, params,
						  queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params,
								queryEnv, dest, qc);

	if (IsA(stmt, CreateExtensionStmt) &&
		strcmp(((CreateExtensionStmt *) stmt)->extname, "queue") == 0)
		worker_rescan_at_commit();
}

/* Install the utility hook. */
void
hooks_register(void)
{
	prev_utility_hook = ProcessUtility_hook;
	ProcessUtility_hook = hooks_utility;
}
