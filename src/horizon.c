/*-------------------------------------------------------------------------
 *
 * horizon.c
 *	  Long polls that hold back neither vacuum nor the xmin horizon.
 *
 * A statement runs with a snapshot, and the backend's xmin
 * (pg_stat_activity.backend_xmin) stays at that snapshot's xmin until the
 * statement ends: no row deleted since can be vacuumed, anywhere in the
 * database.  A long poll that sleeps for up to queue.max_wait inside
 * mq_read or mq_consume would hold the horizon back for all that time, and
 * consumers that poll all day would hold it back all day.
 *
 * PostgreSQL itself waits without a horizon in two ways: commands that
 * run their own transactions (VACUUM, CREATE INDEX CONCURRENTLY) drop
 * their snapshots and commit before they wait, and procedures that wait
 * (pg_wal_replay_wait) run without an active or registered snapshot, which
 * is why they must be CALLed in a non-atomic context.  A function called
 * by a SELECT can do neither: the portal and the executor hold the
 * statement's snapshot until the statement ends.
 *
 * But the snapshot is needed only by what reads tables with it.  Every
 * read the queue makes takes its own view of the latest committed state
 * (SnapshotSelf, or GetLatestSnapshot for the catalog), before and after
 * the sleep.  So when nothing else in the transaction can read with an
 * older snapshot, the backend's xmin may be cleared for the sleep, as
 * SnapshotResetXmin() clears it when the last snapshot goes; the next
 * snapshot taken after the wake sets it again.  That is the case when
 *
 *	  - the isolation level is READ COMMITTED (the transaction holds no
 *		snapshot of its own between statements);
 *	  - the running statement is one SELECT whose plan is nothing but a
 *		scan of this one function call: no join, subquery, CTE or row
 *		lock, and a target list and filter of immutable expressions over
 *		the returned rows, which read no table;
 *	  - no other cursor of the transaction is open (it holds a snapshot
 *		it may still read with).
 *
 * So SELECT * FROM mq_read('q', 10, wait => '20 s'), alone or in a
 * transaction block, sleeps with no xmin; inside a PL/pgSQL function, in a
 * join, or beside an open cursor it keeps its snapshot, as any statement
 * does (docs/operations.md lists the shapes).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "nodes/plannodes.h"
#include "optimizer/optimizer.h"
#include "storage/proc.h"
#include "tcop/pquery.h"
#include "utils/portal.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"

#include "horizon.h"

/*
 * Is no cursor of the transaction open (READY: created, not running)?
 * ThereAreNoReadyPortals() leaves its scan of the portal table open when it
 * finds one, which commit would report as leaked; inside a subtransaction
 * that is rolled back, the scan is ended quietly (AtEOSubXact_HashTables).
 */
static bool
no_open_cursor(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	bool		none;

	BeginInternalSubTransaction(NULL);
	none = ThereAreNoReadyPortals();
	RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return none;
}

/*
 * May the call (a long poll about to sleep) release the backend's xmin
 * while it sleeps?  See the file header for when.
 */
bool
horizon_call_stands_alone(FunctionCallInfo fcinfo)
{
	Portal		portal = ActivePortal;
	PlannedStmt *stmt;
	FunctionScan *scan;
	RangeTblFunction *rtfunc;

	if (IsolationUsesXactSnapshot() || fcinfo->flinfo == NULL ||
		fcinfo->flinfo->fn_expr == NULL)
		return false;
	if (portal == NULL || portal->strategy != PORTAL_ONE_SELECT ||
		list_length(portal->stmts) != 1 || !IsA(linitial(portal->stmts), PlannedStmt))
		return false;
	stmt = (PlannedStmt *) linitial(portal->stmts);
	if (stmt->commandType != CMD_SELECT || stmt->subplans != NIL ||
		stmt->rowMarks != NIL || stmt->planTree == NULL ||
		!IsA(stmt->planTree, FunctionScan))
		return false;
	scan = (FunctionScan *) stmt->planTree;
	if (list_length(scan->functions) != 1 || scan->scan.plan.initPlan != NIL)
		return false;
	rtfunc = (RangeTblFunction *) linitial(scan->functions);
	if (rtfunc->funcexpr != fcinfo->flinfo->fn_expr)
		return false;
	if (contain_mutable_functions((Node *) scan->scan.plan.targetlist) ||
		contain_mutable_functions((Node *) scan->scan.plan.qual))
		return false;
	/* Another open cursor may still read with its snapshot. */
	return no_open_cursor();
}

/*
 * Clear the backend's xmin for a sleep (the caller checked
 * horizon_call_stands_alone).  The catalog snapshot goes too; the next
 * snapshot taken sets the xmin again.
 */
void
horizon_release(void)
{
	InvalidateCatalogSnapshot();
	MyProc->xmin = InvalidTransactionId;
}
