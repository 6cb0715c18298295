/*-------------------------------------------------------------------------
 *
 * catalog.h
 *	  The catalog: SQL as the owner, invalidation, object look-up (catalog.c).
 *
 *-------------------------------------------------------------------------
 */
#ifndef QUEUE_CATALOG_H
#define QUEUE_CATALOG_H

#include "nodes/pg_list.h"
#include "utils/palloc.h"
#include "perms.h"
#include "util.h"

/* How mq.objects keeps owners and grants, by catalog version (catalog.c). */
typedef enum GrantsForm
{
	GRANTS_NONE,				/* before 0.3.0: no owners, no grants */
	GRANTS_ACLITEM,				/* 0.3.0: acl aclitem[] */
	GRANTS_ARRAYS				/* 0.4.0 on: senders, readers, managers regrole[] */
} GrantsForm;
extern GrantsForm catalog_grants_form(void);
/* The owner and grants of "mq.objects o" as columns, and every grantee. */
extern const char *catalog_perms_columns(void);
extern const char *catalog_grantees_column(void);
extern bool catalog_has_column(const char *table, const char *column);


/* Invalidation of what the caches hold (catalog.c). */
extern void catalog_invalidate_all(void);
extern void catalog_register_cache(void (*invalidate) (void), bool (*holds) (Oid relid));

/* Catalog SQL, run as the extension owner with a pinned search_path. */
typedef struct CatalogContext
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
} CatalogContext;

extern uint64 catalog_generation;	/* bumped by every invalidation */
extern void catalog_enter(CatalogContext *cxt);
extern void catalog_leave(CatalogContext *cxt);
extern int	catalog_exec(const char *sql, int nargs, Oid *types, Datum *values,
						 const char *nulls);
struct _SPI_plan;
extern struct _SPI_plan *catalog_keep_plan(struct _SPI_plan **plan, const char *sql,
										   int nargs, Oid *types);
extern int	catalog_exec_plan(struct _SPI_plan *plan, Datum *values, const char *nulls);
extern void catalog_ddl(const char *sql);
extern List *catalog_result_names(MemoryContext cxt);
extern void catalog_changed(void);
extern void catalog_cache_ready(void);

/* The beginning of an entry of a per-backend cache of names. */
typedef struct NameCacheEntry
{
	char		name[QUEUE_NAME_MAXLEN + 1];	/* hash key */
	uint64		generation;		/* catalog_generation + 1 when loaded; 0: none */
	MemoryContext cxt;			/* what the entry holds lives here */
} NameCacheEntry;

struct HTAB;
extern void *catalog_name_cache_lookup(struct HTAB **cache, Size entrysize, const char *name,
							   bool (*load) (void *entry));
extern void catalog_lock(void);
extern bool catalog_try_lock(void);
extern bool catalog_find_locked(const char *name, int32 *id, char *kind);
extern bool catalog_find_perms(const char *name, int32 *id, char *kind,
							  ObjectPerms *perms);
extern bool catalog_find_checked(const CatalogContext *cxt, const char *name,
								char kind, int privs, int32 *id);
pg_noreturn extern void catalog_report_missing(const char *what, const char *kinds,
											  const char *name);
extern char catalog_kind_of(const char *name);
extern void catalog_exists_notice(const char *what, const char *name, const char *differ,
								  const char *alter);
extern char *catalog_options_differ(const char *table, int32 id, int n,
									const char *const *names, const char *const *exprs,
									Oid *types, Datum *values, const char *nulls);
extern Oid	catalog_storage_oid(char kind, int32 id, const char *suffix, bool missing_ok);


/* The names of every object of a kind ('q', 't', 's') (catalog.c). */
extern List *catalog_object_names(char kind);

#endif							/* QUEUE_CATALOG_H */
