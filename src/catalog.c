/*-------------------------------------------------------------------------
 *
 * catalog.c
 *	  The catalog: SQL as the owner, invalidation, object look-up.
 *
 * Queues, topics and streams share one namespace per database, the table
 * mq.objects (unique name); mq.queues holds a queue's options (queue_ddl.c
 * creates, alters and drops them).  A queue's messages live in its own heap
 * table mq.q_<id> with primary key mq.q_<id>_pkey and id sequence
 * mq.q_<id>_seq -- named by number, never by the user's string, so no input
 * ever becomes part of an SQL identifier.
 *
 * Every backend caches what it looked up (queue_info.c for queues, topic.c
 * and stream.c for the others).  DDL sends a relcache invalidation for
 * mq.objects; the callback here (and the one for a storage table a cache
 * holds) bumps catalog_generation and calls the caches that registered, and
 * the next lookup loads again from the latest committed catalog state.  The
 * generation also tells a cache that an invalidation arrived while it was
 * loading an entry.
 *
 * DDL runs as the extension's owner, under SECURITY_RESTRICTED_OPERATION and
 * with search_path pinned to pg_catalog, so storage is owned by one role and
 * nothing a caller put on its search_path is ever resolved.  Queue DDL is
 * serialised by a SHARE ROW EXCLUSIVE lock on mq.objects.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/int128.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/array.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "catalog.h"
#include "compat.h"
#include "match.h"
#include "perms.h"
#include "util.h"

uint64		catalog_generation = 0;
static Oid	mq_namespace = InvalidOid;
static Oid	mq_objects_relid = InvalidOid;
static Oid	mq_owner = InvalidOid;
static int	mq_grants_form = -1;	/* GrantsForm of mq.objects; -1: not known */
static bool callbacks_registered = false;

/* ---------------------------------------------------------------------
 * Running catalog SQL safely
 * ---------------------------------------------------------------------
 */


/*
 * The extension's owner, looked up once per backend: any change of owner
 * (REASSIGN OWNED also gives mq.objects its new owner) or a new install
 * invalidates mq.objects, and with it this.  Called connected to SPI.
 */
static Oid
extension_owner(void)
{
	Oid			extoid;
	int			ret;
	Datum		arg;
	Oid			argtype = OIDOID;
	bool		isnull;

	catalog_cache_ready();
	if (OidIsValid(mq_owner))
		return mq_owner;
	extoid = get_extension_oid("queue", true);
	if (!OidIsValid(extoid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("extension \"queue\" is not installed in this database"),
				 errhint("Run CREATE EXTENSION queue.")));
	arg = ObjectIdGetDatum(extoid);
	ret = SPI_execute_with_args("SELECT extowner FROM pg_catalog.pg_extension WHERE oid OPERATOR(pg_catalog.=) $1",
								1, &argtype, &arg, NULL, true, 1);
	if (ret != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not find the owner of extension \"queue\"");
	mq_owner = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	return mq_owner;
}

/*
 * The settings that steer what catalog statements do, pinned while they
 * run: where names resolve, and where and how the tables they create are
 * stored (the C code writes storage with heap_insert, and a caller's
 * default_tablespace must not place the extension owner's tables).
 */
static const char *const pinned_settings[][2] = {
	{"search_path", "pg_catalog, pg_temp"},
	{"default_tablespace", ""},
	{"temp_tablespaces", ""},
	{"default_table_access_method", "heap"},
	{"default_toast_compression", "pglz"},
};

/*
 * Connect to SPI and act as the extension owner with pinned settings until
 * catalog_leave().  An error unwinds both with the transaction.
 */
void
catalog_enter(CatalogContext *cxt)
{
	Oid			owner;
	int			i;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	owner = extension_owner();
	GetUserIdAndSecContext(&cxt->save_userid, &cxt->save_sec_context);
	SetUserIdAndSecContext(owner, cxt->save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	cxt->save_nestlevel = NewGUCNestLevel();
	for (i = 0; i < lengthof(pinned_settings); i++)
		(void) set_config_option(pinned_settings[i][0], pinned_settings[i][1],
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
								 true, 0, false);
}

void
catalog_leave(CatalogContext *cxt)
{
	AtEOXact_GUC(true, cxt->save_nestlevel);
	SetUserIdAndSecContext(cxt->save_userid, cxt->save_sec_context);
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
}

/* Run one catalog statement against the latest committed state. */
int
catalog_exec(const char *sql, int nargs, Oid *types, Datum *values,
			 const char *nulls)
{
	SPIPlanPtr	plan = SPI_prepare(sql, nargs, types);
	int			ret;

	if (plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql,
			 SPI_result_code_string(SPI_result));
	ret = SPI_execute_snapshot(plan, values, nulls, GetLatestSnapshot(),
							   InvalidSnapshot, false, true, 0);
	if (ret < 0)
		elog(ERROR, "SPI failed for \"%s\": %s", sql, SPI_result_code_string(ret));
	SPI_freeplan(plan);
	return ret;
}

/*
 * The plan in *plan, prepared from sql and kept for the life of the backend
 * the first time; callers cache it in a static or a hash entry.
 */
SPIPlanPtr
catalog_keep_plan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *types)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, nargs, types);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql,
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "SPI_keepplan failed for \"%s\"", sql);
		*plan = p;
	}
	return *plan;
}

/* Run a plan prepared (and kept) by the caller, as catalog_exec does. */
int
catalog_exec_plan(SPIPlanPtr plan, Datum *values, const char *nulls)
{
	int			ret = SPI_execute_snapshot(plan, values, nulls, GetLatestSnapshot(),
										   InvalidSnapshot, false, true, 0);

	if (ret < 0)
		elog(ERROR, "SPI failed: %s", SPI_result_code_string(ret));
	return ret;
}

void
catalog_ddl(const char *sql)
{
	int			ret = SPI_execute(sql, false, 0);

	if (ret < 0)
		elog(ERROR, "SPI failed for \"%s\": %s", sql, SPI_result_code_string(ret));
}

static Oid
mq_schema(void)
{
	if (!OidIsValid(mq_namespace))
	{
		mq_namespace = get_namespace_oid("mq", true);
		if (!OidIsValid(mq_namespace))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("extension \"queue\" is not installed in this database"),
					 errhint("Run CREATE EXTENSION queue.")));
	}
	return mq_namespace;
}

static Oid
objects_relid(void)
{
	if (!OidIsValid(mq_objects_relid))
		mq_objects_relid = get_relname_relid("objects", mq_schema());
	return mq_objects_relid;
}

/*
 * Has the catalog table mq.<table> the column?  (A catalog not yet brought
 * up to the library's version by ALTER EXTENSION queue UPDATE may not.)
 */
bool
catalog_has_column(const char *table, const char *column)
{
	Oid			relid = get_relname_relid(table, mq_schema());

	return OidIsValid(relid) && get_attnum(relid, column) != InvalidAttrNumber;
}

/*
 * How the catalog keeps owners and grants.  Until ALTER EXTENSION queue
 * UPDATE has brought it to 0.3.0 there are no grants and no owner to check
 * (perms_allow lets everything through), so that installing a new library
 * does not break a database that has not run the update yet; a 0.3.0
 * catalog keeps grants as aclitem[], which the library reads but no longer
 * writes (privileges.c).
 */
GrantsForm
catalog_grants_form(void)
{
	if (mq_grants_form < 0)
	{
		Oid			relid;

		if (!OidIsValid(get_extension_oid("queue", true)))
			return GRANTS_NONE;
		relid = objects_relid();
		if (get_attnum(relid, "senders") != InvalidAttrNumber)
			mq_grants_form = GRANTS_ARRAYS;
		else if (get_attnum(relid, "acl") != InvalidAttrNumber)
			mq_grants_form = GRANTS_ACLITEM;
		else
			mq_grants_form = GRANTS_NONE;
	}
	return (GrantsForm) mq_grants_form;
}

#define ACL_GRANTEES(mode) \
	"ARRAY(SELECT a.grantee::pg_catalog.regrole FROM pg_catalog.aclexplode(o.acl) a" \
	" WHERE a.privilege_type OPERATOR(pg_catalog.=) '" mode "')"

const char *
catalog_perms_columns(void)
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
catalog_grantees_column(void)
{
	if (catalog_grants_form() == GRANTS_ACLITEM)
		return "ARRAY(SELECT a.grantee::pg_catalog.regrole"
			" FROM pg_catalog.aclexplode(o.acl) a)";
	return "(o.senders OPERATOR(pg_catalog.||) o.readers OPERATOR(pg_catalog.||) o.managers)";
}

/* Tell every backend (this one at the next command) that queues changed. */
void
catalog_changed(void)
{
	CacheInvalidateRelcacheByRelid(objects_relid());
}

/* ---------------------------------------------------------------------
 * Per-backend cache
 * ---------------------------------------------------------------------
 */

/*
 * Caches that keep more than the generation lets them see (the queue cache
 * marks its entries invalid) register here: invalidate is called by every
 * invalidation, holds(relid) says whether a relation's invalidation
 * concerns the cache (one of its storage tables).
 */
typedef struct CatalogCacheHooks
{
	void		(*invalidate) (void);
	bool		(*holds) (Oid relid);
} CatalogCacheHooks;

#define MAX_CACHE_HOOKS 4
static CatalogCacheHooks cache_hooks[MAX_CACHE_HOOKS];
static int	ncache_hooks = 0;

void
catalog_register_cache(void (*invalidate) (void), bool (*holds) (Oid relid))
{
	if (ncache_hooks >= MAX_CACHE_HOOKS)
		elog(ERROR, "too many queue caches");
	cache_hooks[ncache_hooks].invalidate = invalidate;
	cache_hooks[ncache_hooks].holds = holds;
	ncache_hooks++;
}

/* Forget everything looked up: every cache loads again at its next use. */
void
catalog_invalidate_all(void)
{
	int			i;

	catalog_generation++;
	mq_namespace = InvalidOid;
	mq_objects_relid = InvalidOid;
	mq_owner = InvalidOid;
	mq_grants_form = -1;
	for (i = 0; i < ncache_hooks; i++)
		cache_hooks[i].invalidate();
}

static void
queue_relcache_callback(Datum arg, Oid relid)
{
	int			i;

	/* Until we know mq.objects again, any relation may be it. */
	if (!OidIsValid(relid) || !OidIsValid(mq_objects_relid) || relid == mq_objects_relid)
	{
		catalog_invalidate_all();
		return;
	}
	for (i = 0; i < ncache_hooks; i++)
		if (cache_hooks[i].holds(relid))
		{
			catalog_invalidate_all();
			return;
		}
}

/*
 * Look a name up in a per-backend cache whose entries begin like a
 * NameCacheEntry (name, generation, cxt), loading (or reloading, after any
 * catalog change) with load, which fills the entry, allocating in its cxt,
 * and returns false if there is no such object.  NULL if there is none.
 */
void *
catalog_name_cache_lookup(HTAB **cache, Size entrysize, const char *name,
				  bool (*load) (void *entry))
{
	NameCacheEntry *e;
	bool		found;

	catalog_cache_ready();
	if (*cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = QUEUE_NAME_MAXLEN + 1;
		ctl.entrysize = entrysize;
		ctl.hcxt = CacheMemoryContext;
		*cache = hash_create("queue name cache", 16, &ctl,
							 HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	}
	e = hash_search(*cache, name, HASH_ENTER, &found);
	if (!found)
	{
		e->generation = 0;
		e->cxt = NULL;
	}
	while (e->generation != catalog_generation + 1)
	{
		uint64		generation = catalog_generation;

		if (e->cxt == NULL)
			e->cxt = AllocSetContextCreate(CacheMemoryContext, "queue name cache entry",
										   ALLOCSET_SMALL_SIZES);
		MemoryContextReset(e->cxt);
		if (!load(e))
		{
			MemoryContextDelete(e->cxt);
			hash_search(*cache, name, HASH_REMOVE, NULL);
			return NULL;
		}
		/* A change that arrived while loading makes us load again. */
		if (generation == catalog_generation)
			e->generation = generation + 1;
	}
	return e;
}

/*
 * Make sure that this backend hears of catalog changes (catalog_generation
 * moves): every cache of names calls this before it looks.
 */
void
catalog_cache_ready(void)
{
	if (!callbacks_registered)
	{
		CacheRegisterRelcacheCallback(queue_relcache_callback, (Datum) 0);
		callbacks_registered = true;
	}
	(void) objects_relid();
}

/*
 * The OID of relation mq.<kind>_<id><suffix> (kind 'q' for a queue, 't' for
 * a topic), the storage of an object.
 */
Oid
catalog_storage_oid(char kind, int32 id, const char *suffix, bool missing_ok)
{
	char		relname[NAMEDATALEN];
	Oid			relid;

	snprintf(relname, sizeof(relname), "%c_%d%s", kind, id, suffix);
	relid = get_relname_relid(relname, mq_schema());
	if (!OidIsValid(relid) && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("storage of %s %d is missing: relation \"mq.%s\" does not exist",
						util_kind_name(kind), id, relname),
				 errhint("The table was dropped outside the queue functions; drop the object and create it again.")));
	return relid;
}

/* The names of every object of a kind ('q', 't', 's') in the database. */
List *
catalog_object_names(char kind)
{
	MemoryContext caller = CurrentMemoryContext;
	CatalogContext cxt;
	List	   *names;
	Datum		arg = CharGetDatum(kind);
	Oid			argtype = CHAROID;

	catalog_enter(&cxt);
	catalog_exec("SELECT name FROM mq.objects WHERE kind OPERATOR(pg_catalog.=) $1 ORDER BY name",
				 1, &argtype, &arg, NULL);
	names = catalog_result_names(caller);
	catalog_leave(&cxt);
	return names;
}

/*
 * Raise the error for a name that is not an object of the kinds wanted
 * (letters of 'q', 't', 's'): 42809 naming the kind it is when it names
 * another kind of object, else 42704.  "what" names the kinds wanted, as
 * in "queue" or "queue or stream".  Only for error paths: it looks the
 * name up in the catalog.
 */
void
catalog_report_missing(const char *what, const char *kinds, const char *name)
{
	char		kind = catalog_kind_of(name);

	if (kind != '\0' && strchr(kinds, kind) == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is a %s, not a %s", name, util_kind_name(kind), what),
				 errdetail("Queues, topics and streams share one namespace.")));
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("%s \"%s\" does not exist", what, name)));
}

/* The kind of the object of that name ('q', 't', 's'), or '\0' if none. */
char
catalog_kind_of(const char *name)
{
	CatalogContext cxt;
	int32		id;
	char		kind;

	catalog_enter(&cxt);
	if (!catalog_find_locked(name, &id, &kind))
		kind = '\0';
	catalog_leave(&cxt);
	return kind;
}

/*
 * The NOTICE of if_not_exists on an object that exists; differ names the
 * options given that differ from the object's (catalog_options_differ).
 */
void
catalog_exists_notice(const char *what, const char *name, const char *differ,
					  const char *alter)
{
	if (differ == NULL)
		ereport(NOTICE,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("%s \"%s\" already exists, skipping", what, name)));
	else
		ereport(NOTICE,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("%s \"%s\" already exists with different options, skipping",
						what, name),
				 errdetail("Options that differ: %s.", differ),
				 alter != NULL ?
				 errhint("Nothing was changed. Use %s() to change them.", alter) :
				 errhint("Nothing was changed.")));
}

/*
 * For if_not_exists on an object that exists: the names of the options
 * whose stored values differ from those given, comma-separated, or NULL if
 * none does.  exprs[i] is the catalog expression of option i over "o", the
 * row of "table" whose id is id; values/types/nulls are the given values
 * (nulls[i] == 'n': NULL).  Inside a catalog context.
 */
char *
catalog_options_differ(const char *table, int32 id, int n, const char *const *names,
					   const char *const *exprs, Oid *types, Datum *values,
					   const char *nulls)
{
	StringInfoData sql;
	StringInfoData differ;
	Oid		   *argtypes = palloc((n + 1) * sizeof(Oid));
	Datum	   *args = palloc((n + 1) * sizeof(Datum));
	char	   *argnulls = palloc(n + 2);
	int			i;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "SELECT ");
	argtypes[0] = INT4OID;
	args[0] = Int32GetDatum(id);
	argnulls[0] = ' ';
	for (i = 0; i < n; i++)
	{
		appendStringInfo(&sql, "%s(%s) IS DISTINCT FROM $%d", i > 0 ? ", " : "",
						 exprs[i], i + 2);
		argtypes[i + 1] = types[i];
		args[i + 1] = values[i];
		argnulls[i + 1] = nulls[i];
	}
	argnulls[n + 1] = '\0';
	appendStringInfo(&sql, " FROM %s o WHERE o.id OPERATOR(pg_catalog.=) $1", table);
	catalog_exec(sql.data, n + 1, argtypes, args, argnulls);
	if (SPI_processed != 1)
		return NULL;
	initStringInfo(&differ);
	for (i = 0; i < n; i++)
	{
		bool		isnull;

		if (DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
									   i + 1, &isnull)) && !isnull)
			appendStringInfo(&differ, "%s%s", differ.len > 0 ? ", " : "", names[i]);
	}
	return differ.len > 0 ? differ.data : NULL;
}

/* The first column of the last catalog query's rows, as strings in cxt. */
List *
catalog_result_names(MemoryContext cxt)
{
	List	   *names = NIL;
	uint64		i;

	for (i = 0; i < SPI_processed; i++)
	{
		char	   *name = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		MemoryContext old = MemoryContextSwitchTo(cxt);

		names = lappend(names, pstrdup(name));
		MemoryContextSwitchTo(old);
	}
	return names;
}

/*
 * Look an object up by name under the DDL lock: its id, kind and (perms not
 * NULL) owner and grants, valid until catalog_leave.  False if none.
 */
bool
catalog_find_perms(const char *name, int32 *id, char *kind, ObjectPerms *perms)
{
	Datum		arg = CStringGetTextDatum(name);
	Oid			argtype = TEXTOID;
	bool		isnull;
	char	   *sql;

	sql = psprintf("SELECT o.id, o.kind, %s FROM mq.objects o WHERE o.name OPERATOR(pg_catalog.=) $1",
				   catalog_perms_columns());
	catalog_exec(sql, 1, &argtype, &arg, NULL);
	if (SPI_processed == 0)
		return false;
	*id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	*kind = DatumGetChar(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	if (perms != NULL)
		perms_from_tuple(perms, SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 3,
						 CurrentMemoryContext);
	return true;
}

bool
catalog_find_locked(const char *name, int32 *id, char *kind)
{
	return catalog_find_perms(name, id, kind, NULL);
}

/*
 * Under the DDL lock: the id of the object of that kind and name, if there
 * is one (false if not); 42501 unless the caller of the function that
 * entered the catalog context holds privs on it.
 */
bool
catalog_find_checked(const CatalogContext *cxt, const char *name, char kind,
					int privs, int32 *id)
{
	ObjectPerms perms;
	char		found_kind;

	if (!catalog_find_perms(name, id, &found_kind, &perms) || found_kind != kind)
		return false;
	perms_require(&perms, cxt->save_userid, privs, kind, name);
	return true;
}

void
catalog_lock(void)
{
	catalog_ddl("LOCK TABLE mq.objects, mq.queues, mq.topics, mq.subscriptions IN SHARE ROW EXCLUSIVE MODE");
}

/*
 * The DDL lock, if it can be had at once (the background worker: it must
 * not make DDL wait, nor wait for a transaction that holds the lock open).
 */
bool
catalog_try_lock(void)
{
	return ConditionalLockRelationOid(objects_relid(), ShareRowExclusiveLock);
}

