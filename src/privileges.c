/*-------------------------------------------------------------------------
 *
 * privileges.c
 *	  Who may do what to a queue, topic or stream (SPEC section 8): owners
 *	  and grants in the catalog.
 *
 * The role that creates an object owns it (mq.objects.owner) and holds
 * every privilege on it; so do the roles that have the owner's privileges
 * (its members) and superusers.  Other roles hold what mq_grant gave them:
 *
 *	  send		mq_send, mq_send_batch, mq_publish, mq_append, mq_append_batch
 *	  read		mq_read, mq_pop, mq_peek, mq_ack, mq_nack, mq_extend,
 *				mq_consume, mq_stream_read, mq_create_group
 *	  manage	mq_alter_*, mq_purge, mq_drop_*, mq_subscribe, mq_unsubscribe,
 *				mq_seek, mq_drop_group, mq_redrive, mq_delete, mq_remove,
 *				mq_delay, mq_move, mq_stats_reset, and
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
 * the owner, or one aclmask().  The SQL functions (mq_grant, mq_revoke,
 * mq.visible, the trigger) are in grants.c.
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

#include "catalog.h"
#include "compat.h"
#include "perms.h"
#include "privileges.h"
#include "util.h"

/*
 * The owner and grants of "mq.objects o" for catalog queries: four columns,
 * the owner and the roles granted send, read and manage (regrole[]), read
 * back by perms_from_tuple.  A catalog at 0.3.0 (aclitem[]) gives the same
 * columns; one from before has neither (see catalog_grants_form).
 */
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
	catalog_lock();
	if (!catalog_find_perms(name, &id, &kind, &perms))
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
								GetUserNameFromId(role, false), util_kind_name(kind), name),
						 errdetail("Only the owner can revoke manage; send and read were revoked.")));
		}
		if (privs & PRIV_MANAGE)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("only the owner of %s \"%s\" can %s the manage privilege",
							util_kind_name(kind), name, grant ? "grant" : "revoke")));
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
	uint64		restored;

	if (catalog_grants_form() == GRANTS_NONE)
		return;
	arg = ObjectIdGetDatum(get_extension_oid("queue", false));
	catalog_enter(&cxt);
	catalog_lock();
	catalog_exec(psprintf("UPDATE mq.objects o SET owner = owner"
						  " WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_shdepend d"
						  "   WHERE d.dbid OPERATOR(pg_catalog.=) %u"
						  "     AND d.classid OPERATOR(pg_catalog.=) %u"
						  "     AND d.objid OPERATOR(pg_catalog.=) $1"
						  "     AND d.objsubid OPERATOR(pg_catalog.=) o.id)"
						  "   AND EXISTS (SELECT 1 FROM pg_catalog.unnest(%s"
						  "       OPERATOR(pg_catalog.||) o.owner) r"
						  "     WHERE r::pg_catalog.oid OPERATOR(pg_catalog.>=) %u)",
						  MyDatabaseId, ExtensionRelationId, catalog_grantees_column(),
						  FirstNormalObjectId),
				 1, &type, &arg, NULL);
	restored = SPI_processed;
	if (catalog_has_column("schedules", "owner"))
	{
		catalog_exec(psprintf("UPDATE mq.schedules s SET owner = owner"
							  " WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_shdepend d"
							  "   WHERE d.dbid OPERATOR(pg_catalog.=) %u"
							  "     AND d.classid OPERATOR(pg_catalog.=) %u"
							  "     AND d.objid OPERATOR(pg_catalog.=) $1"
							  "     AND d.objsubid OPERATOR(pg_catalog.=) s.id)"
							  "   AND s.owner::pg_catalog.oid OPERATOR(pg_catalog.>=) %u",
							  MyDatabaseId, ExtensionRelationId, FirstNormalObjectId),
					 1, &type, &arg, NULL);
		restored += SPI_processed;
	}
	if (restored > 0)
	{
		ereport(LOG,
				(errmsg("queue: restored the role dependencies of %llu objects",
						(unsigned long long) restored),
				 errdetail("Their rows in pg_shdepend were missing, as after pg_upgrade.")));
		catalog_changed();
	}
	catalog_leave(&cxt);
}

/* ---------------------------------------------------------------------
 * DROP OWNED, REASSIGN OWNED, DROP ROLE
 * ---------------------------------------------------------------------
 */

