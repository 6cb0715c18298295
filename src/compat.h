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

#include "access/genam.h"
#include "access/heapam.h"
#include "access/heapam_xlog.h"
#include "access/tableam.h"
#include "catalog/pg_database_d.h"
#include "common/int.h"
#include "catalog/pg_extension_d.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/jsonb.h"

#if PG_VERSION_NUM < 150000
#error "the queue extension needs PostgreSQL 15 or later"
#endif

/* This backend's PGPROC number: MyProcNumber from 17 on. */
#if PG_VERSION_NUM >= 170000
#define compat_my_procno()	((int) MyProcNumber)
#else
#define compat_my_procno()	(MyProc->pgprocno)
#endif

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

/*
 * The number of a relation's current file: it changes when the relation is
 * rewritten (TRUNCATE, VACUUM FULL, CLUSTER), and with it every row's tid.
 */
#if PG_VERSION_NUM >= 160000
#define compat_relfilenumber(rel)	((Oid) (rel)->rd_locator.relNumber)
#else
#define compat_relfilenumber(rel)	((Oid) (rel)->rd_node.relNode)
#endif

/*
 * May the current role create databases (superuser or CREATEDB)?  15 made
 * have_createdb_privilege() visible only in a late minor release (15.18's
 * headers lack it); before 16 the same test is made here.
 */
#if PG_VERSION_NUM >= 160000
#include "commands/dbcommands.h"
#define compat_have_createdb_privilege()	have_createdb_privilege()
#else
#include "catalog/pg_authid.h"
#include "utils/syscache.h"
static inline bool
compat_have_createdb_privilege(void)
{
	HeapTuple	tup;
	bool		result = false;

	if (superuser())
		return true;
	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(GetUserId()));
	if (HeapTupleIsValid(tup))
	{
		result = ((Form_pg_authid) GETSTRUCT(tup))->rolcreatedb;
		ReleaseSysCache(tup);
	}
	return result;
}
#endif

/*
 * Index scans: 18 added the instrumentation argument (NULL: none), 19
 * scan flags (0: none).
 */
#if PG_VERSION_NUM >= 190000
#define compat_index_beginscan(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan((heap), (index), (snapshot), NULL, (nkeys), (norderbys), 0)
#elif PG_VERSION_NUM >= 180000
#define compat_index_beginscan(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan((heap), (index), (snapshot), NULL, (nkeys), (norderbys))
#else
#define compat_index_beginscan(heap, index, snapshot, nkeys, norderbys) \
	index_beginscan((heap), (index), (snapshot), (nkeys), (norderbys))
#endif

/*
 * The next transaction id and the oldest one the commit log keeps: 17
 * renamed the shared struct holding them.  The next id is read without
 * XidGenLock: callers only compare stamps against it (storage.c).
 */
#include "access/transam.h"
#if PG_VERSION_NUM >= 170000
#define COMPAT_TRANSAM TransamVariables
#else
#define COMPAT_TRANSAM ShmemVariableCache
#endif
static inline FullTransactionId
compat_next_full_xid(void)
{
	return ((volatile FullTransactionId *) &COMPAT_TRANSAM->nextXid)[0];
}

static inline TransactionId
compat_oldest_clog_xid(void)
{
	return COMPAT_TRANSAM->oldestClogXid;
}

/*
 * The in-place update WAL record (XLOG_HEAP_INPLACE) as each version's
 * heap_xlog_inplace() reads it.  18 added the database, its tablespace and
 * invalidation messages after the offset; the record carries none (a
 * delivery count is no catalog change), so the fixed part is all of it.
 */
#if PG_VERSION_NUM >= 180000
#define COMPAT_SIZE_OF_HEAP_INPLACE		MinSizeOfHeapInplace
static inline void
compat_heap_inplace_init(xl_heap_inplace *xlrec, OffsetNumber offnum)
{
	memset(xlrec, 0, MinSizeOfHeapInplace);
	xlrec->offnum = offnum;
	xlrec->dbId = MyDatabaseId;
	xlrec->tsId = MyDatabaseTableSpace;
	/* no relcache init file to invalidate, no messages (zeroed above) */
}
#else
#define COMPAT_SIZE_OF_HEAP_INPLACE		SizeOfHeapInplace
static inline void
compat_heap_inplace_init(xl_heap_inplace *xlrec, OffsetNumber offnum)
{
	xlrec->offnum = offnum;
}
#endif

/*
 * Sequential scans, index fetches and shared hash tables: 19 added scan
 * flags (0: none) and dropped ShmemInitHash's initial size (the table is
 * made whole).
 */
#if PG_VERSION_NUM >= 190000
#define compat_table_beginscan(rel, snapshot, nkeys, key) \
	table_beginscan((rel), (snapshot), (nkeys), (key), 0)
#define compat_table_index_fetch_begin(rel) \
	table_index_fetch_begin((rel), 0)
#define compat_shmem_init_hash(name, init_size, max_size, info, flags) \
	ShmemInitHash((name), (max_size), (info), (flags))
#else
#define compat_table_beginscan(rel, snapshot, nkeys, key) \
	table_beginscan((rel), (snapshot), (nkeys), (key))
#define compat_table_index_fetch_begin(rel) \
	table_index_fetch_begin(rel)
#define compat_shmem_init_hash(name, init_size, max_size, info, flags) \
	ShmemInitHash((name), (init_size), (max_size), (info), (flags))
#endif

/*
 * heap_delete() and heap_update() as simple_heap_* call them, with a
 * command id, waiting, and the failure data wanted: 16 added the indexes
 * to update, 19 an options word (0: none) in place of changingPart.
 */
static inline TM_Result
compat_heap_delete(Relation rel, ItemPointer tid, CommandId cid, bool wait,
				   TM_FailureData *tmfd)
{
#if PG_VERSION_NUM >= 190000
	return heap_delete(rel, tid, cid, 0, InvalidSnapshot, wait, tmfd);
#else
	return heap_delete(rel, tid, cid, InvalidSnapshot, wait, tmfd, false);
#endif
}

static inline TM_Result
compat_heap_update(Relation rel, ItemPointer tid, HeapTuple newtup, CommandId cid,
				   TM_FailureData *tmfd, LockTupleMode *lockmode)
{
#if PG_VERSION_NUM >= 190000
	TU_UpdateIndexes update_indexes;

	return heap_update(rel, tid, newtup, cid, 0, InvalidSnapshot, true, tmfd,
					   lockmode, &update_indexes);
#elif PG_VERSION_NUM >= 160000
	TU_UpdateIndexes update_indexes;

	return heap_update(rel, tid, newtup, cid, InvalidSnapshot, true, tmfd,
					   lockmode, &update_indexes);
#else
	return heap_update(rel, tid, newtup, cid, InvalidSnapshot, true, tmfd, lockmode);
#endif
}

/*
 * Building a jsonb value: 19 keeps the parse state and the result in a
 * JsonbInState; before, pushJsonbValue() returned the value it built.
 */
#if PG_VERSION_NUM >= 190000
typedef JsonbInState CompatJsonbBuilder;
static inline void
compat_jsonb_push(CompatJsonbBuilder *b, JsonbIteratorToken tok, JsonbValue *v)
{
	pushJsonbValue(b, tok, v);
}
#else
typedef struct CompatJsonbBuilder
{
	JsonbParseState *parseState;
	JsonbValue *result;
} CompatJsonbBuilder;
static inline void
compat_jsonb_push(CompatJsonbBuilder *b, JsonbIteratorToken tok, JsonbValue *v)
{
	b->result = pushJsonbValue(&b->parseState, tok, v);
}
#endif

#endif							/* QUEUE_COMPAT_H */
