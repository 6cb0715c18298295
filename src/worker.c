/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The background worker: a launcher and one worker per database.
 *
 * The launcher starts with the server (and after the promotion of a
 * standby: it is registered for BgWorkerStart_RecoveryFinished, so it does
 * nothing on a standby).  Every naptime it lists the databases that accept
 * connections and are not templates, and serves every one where the
 * extension is created with a worker process, at most queue.max_workers at
 * a time.  Whether a database has the extension only a process connected to
 * it can tell: a worker started for a database without it says so and
 * exits, and the launcher asks again a minute later -- or at once when
 * CREATE EXTENSION queue runs anywhere (the utility hook, hooks.c, wakes it).
 * When more databases need a worker than there are places, each worker
 * gives its place up after a round and the databases take turns.
 *
 * A worker's round, every naptime, one short transaction per queue (an
 * error in one queue is logged and the others go on):
 *	  - messages past message_ttl leave their queue as dead letters ("ttl"),
 *		at most queue.worker_batch per queue per round;
 *	  - streams rotate, seal and drop whole segments for retention
 *		(retention.c);
 *	  - about once a minute, idempotency keys past their window are removed
 *		(at most queue.worker_batch per queue, topic or stream per round);
 *	  - schedules due by now make their runs (schedule.c), each run in a
 *		transaction of its own.
 * Between rounds it sleeps for naptime, or until the earliest time a
 * schedule is due if that comes first.
 *
 * A worker exits on SIGTERM at once, reloads settings on SIGHUP, and leaves
 * when the extension is dropped.  An error outside a queue's work ends the
 * process; the launcher starts it again after a back-off.
 *
 * A worker must never make DROP DATABASE, CREATE DATABASE ... TEMPLATE,
 * ALTER DATABASE ... RENAME/SET TABLESPACE fail because it is connected:
 * those commands pass through the utility hook (hooks.c), which tells the
 * launcher to leave the database alone for a while, stops its worker and
 * waits for it to exit before the command runs (worker_step_aside).
 *
 * Locking: WorkerShared is protected by its spinlock; slots are written by
 * the launcher (starting a worker) and by the worker itself (its result).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <unistd.h>

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/procsignal.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "catalog.h"
#include "compat.h"
#include "delivery.h"
#include "privileges.h"
#include "queue_info.h"
#include "retention.h"
#include "schedule.h"
#include "topic.h"
#include "util.h"
#include "worker.h"

#define MAX_WORKER_SLOTS	64
#define MAX_PAUSED			16
#define RECHECK_MSECS		60000	/* ask a database without the extension again */
#define BACKOFF_MSECS		10000	/* after a worker failed */

/* Settings. */
int			queue_naptime = 1000;
int			queue_prune_interval = 60000;
int			queue_step_aside_interval = 30000;	/* away from a database being dropped */
int			queue_max_workers = 4;
int			queue_worker_batch = 1000;
bool		queue_worker_enabled = true;

typedef enum SlotResult
{
	RESULT_RUNNING = 0,
	RESULT_NO_EXTENSION,		/* the database has no queue extension */
	RESULT_YIELDED				/* gave its place to another database */
} SlotResult;

typedef struct WorkerSlot
{
	bool		in_use;
	Oid			dbid;
	pid_t		pid;
	bool		yield;			/* launcher: give the place up after a round */
	SlotResult	result;
} WorkerSlot;

typedef struct WorkerShared
{
	slock_t		mutex;
	int			launcher_pgprocno;	/* -1 while no launcher runs */
	bool		rescan;			/* ask every database again */
	Oid			paused_db[MAX_PAUSED];
	TimestampTz paused_until[MAX_PAUSED];
	WorkerSlot	slots[MAX_WORKER_SLOTS];
} WorkerShared;

static WorkerShared *worker_shared = NULL;
static bool rescan_at_commit = false;

PGDLLEXPORT void queue_launcher_main(Datum arg);
PGDLLEXPORT void queue_worker_main(Datum arg);

/* ---------------------------------------------------------------------
 * Shared memory and registration
 * ---------------------------------------------------------------------
 */

Size
worker_shmem_size(void)
{
	return MAXALIGN(sizeof(WorkerShared));
}

void
worker_shmem_startup(void)
{
	bool		found;

	worker_shared = ShmemInitStruct("queue workers", worker_shmem_size(), &found);
	if (!found)
	{
		memset(worker_shared, 0, sizeof(WorkerShared));
		SpinLockInit(&worker_shared->mutex);
		worker_shared->launcher_pgprocno = -1;
	}
}

static void
wake_launcher(bool rescan)
{
	int			procno;

	if (worker_shared == NULL)
		return;
	SpinLockAcquire(&worker_shared->mutex);
	if (rescan)
		worker_shared->rescan = true;
	procno = worker_shared->launcher_pgprocno;
	SpinLockRelease(&worker_shared->mutex);
	if (procno >= 0)
		SetLatch(&GetPGProcByNumber(procno)->procLatch);
}

/*
 * Keep workers away from a database for a while and stop the one serving
 * it, waiting (up to 10 s) until it has gone.
 */
void
worker_step_aside(Oid dbid)
{
	TimestampTz until = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
													queue_step_aside_interval);
	int			i;
	int			tries;
	int			oldest = 0;

	if (!OidIsValid(dbid) || worker_shared == NULL)
		return;
	SpinLockAcquire(&worker_shared->mutex);
	for (i = 0; i < MAX_PAUSED; i++)
	{
		if (worker_shared->paused_db[i] == dbid ||
			worker_shared->paused_until[i] < worker_shared->paused_until[oldest])
			oldest = i;
		if (worker_shared->paused_db[i] == dbid)
			break;
	}
	worker_shared->paused_db[oldest] = dbid;
	worker_shared->paused_until[oldest] = until;
	SpinLockRelease(&worker_shared->mutex);

	for (tries = 0; tries < 1000; tries++)
	{
		pid_t		pid = 0;

		SpinLockAcquire(&worker_shared->mutex);
		for (i = 0; i < MAX_WORKER_SLOTS; i++)
			if (worker_shared->slots[i].in_use && worker_shared->slots[i].dbid == dbid)
				pid = worker_shared->slots[i].pid;
		SpinLockRelease(&worker_shared->mutex);
		if (pid == 0 || kill(pid, 0) != 0)
			return;
		if (tries == 0)
			kill(pid, SIGTERM);
		pg_usleep(10000L);
		CHECK_FOR_INTERRUPTS();
	}
}

static bool
is_paused(Oid dbid, TimestampTz now)
{
	bool		paused = false;
	int			i;

	SpinLockAcquire(&worker_shared->mutex);
	for (i = 0; i < MAX_PAUSED; i++)
		if (worker_shared->paused_db[i] == dbid && worker_shared->paused_until[i] > now)
			paused = true;
	SpinLockRelease(&worker_shared->mutex);
	return paused;
}

/* CREATE EXTENSION queue ran: wake the launcher if the transaction commits. */
void
worker_rescan_at_commit(void)
{
	rescan_at_commit = true;
}

/*
 * At the end of a transaction: one that created the extension wakes the
 * launcher when it commits.  (A transaction that is prepared keeps the
 * note for the session's next commit or abort.)
 */
static void
worker_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (rescan_at_commit)
				wake_launcher(true);
			rescan_at_commit = false;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			rescan_at_commit = false;
			break;
		default:
			break;
	}
}

void
worker_register(void)
{
	BackgroundWorker bgw;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = BACKOFF_MSECS / 1000;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "queue");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "queue_launcher_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "queue launcher");
	snprintf(bgw.bgw_type, BGW_MAXLEN, "queue launcher");

	/*
	 * pg_upgrade starts both clusters in binary-upgrade mode, where nothing
	 * but its own commands may change a database (the new cluster's files
	 * are replaced by the old one's afterwards).
	 */
	if (!IsBinaryUpgrade)
		RegisterBackgroundWorker(&bgw);

	RegisterXactCallback(worker_xact_callback, NULL);
}

/* ---------------------------------------------------------------------
 * Launcher
 * ---------------------------------------------------------------------
 */

typedef struct DbEntry
{
	Oid			dbid;
	bool		seen;			/* still listed */
	bool		no_extension;
	TimestampTz checked_at;
	TimestampTz wait_until;		/* back-off after a failure */
	TimestampTz last_run;		/* when its worker last ran (for turns) */
	int			slot;			/* -1: no worker */
	BackgroundWorkerHandle *handle;
} DbEntry;

static DbEntry *dbs = NULL;
static int	ndbs = 0;
static int	maxdbs = 0;

static DbEntry *
db_entry(Oid dbid)
{
	int			i;

	for (i = 0; i < ndbs; i++)
		if (dbs[i].dbid == dbid)
			return &dbs[i];
	if (ndbs == maxdbs)
	{
		maxdbs = Max(16, 2 * maxdbs);
		dbs = dbs == NULL ?
			MemoryContextAlloc(TopMemoryContext, maxdbs * sizeof(DbEntry)) :
			repalloc(dbs, maxdbs * sizeof(DbEntry));
	}
	memset(&dbs[ndbs], 0, sizeof(DbEntry));
	dbs[ndbs].dbid = dbid;
	dbs[ndbs].slot = -1;
	return &dbs[ndbs++];
}

/* Mark the databases that accept connections and are not templates. */
static void
list_databases(void)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	int			i;

	for (i = 0; i < ndbs; i++)
		dbs[i].seen = false;
	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (db->datallowconn && !db->datistemplate)
			db_entry(db->oid)->seen = true;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
}

/* A worker of ours has stopped: learn why and free its slot. */
static void
reap(DbEntry *e, TimestampTz now)
{
	WorkerSlot *slot = &worker_shared->slots[e->slot];
	SlotResult	result;

	SpinLockAcquire(&worker_shared->mutex);
	result = slot->result;
	slot->in_use = false;
	SpinLockRelease(&worker_shared->mutex);

	if (result == RESULT_NO_EXTENSION)
	{
		e->no_extension = true;
		e->checked_at = now;
	}
	else if (result != RESULT_YIELDED)
		e->wait_until = TimestampTzPlusMilliseconds(now, BACKOFF_MSECS);
	pfree(e->handle);
	e->handle = NULL;
	e->slot = -1;
}

static bool
start_worker(DbEntry *e)
{
	BackgroundWorker bgw;
	int			slotno = -1;
	int			i;

	SpinLockAcquire(&worker_shared->mutex);
	for (i = 0; i < Min(queue_max_workers, MAX_WORKER_SLOTS) && slotno < 0; i++)
		if (!worker_shared->slots[i].in_use)
			slotno = i;
	if (slotno >= 0)
	{
		WorkerSlot *slot = &worker_shared->slots[slotno];

		slot->in_use = true;
		slot->dbid = e->dbid;
		slot->pid = 0;
		slot->yield = false;
		slot->result = RESULT_RUNNING;
	}
	SpinLockRelease(&worker_shared->mutex);
	if (slotno < 0)
		return false;

	memset(&bgw, 0, sizeof(bgw));
	bgw.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	bgw.bgw_start_time = BgWorkerStart_RecoveryFinished;
	bgw.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(bgw.bgw_library_name, BGW_MAXLEN, "queue");
	snprintf(bgw.bgw_function_name, BGW_MAXLEN, "queue_worker_main");
	snprintf(bgw.bgw_name, BGW_MAXLEN, "queue worker for database %u", e->dbid);
	snprintf(bgw.bgw_type, BGW_MAXLEN, "queue worker");
	bgw.bgw_main_arg = ObjectIdGetDatum(e->dbid);
	memcpy(bgw.bgw_extra, &slotno, sizeof(int));
	bgw.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&bgw, &e->handle))
	{
		SpinLockAcquire(&worker_shared->mutex);
		worker_shared->slots[slotno].in_use = false;
		SpinLockRelease(&worker_shared->mutex);
		e->handle = NULL;
		ereport(LOG,
				(errmsg("queue launcher could not start a worker: no background worker slot free"),
				 errhint("Raise max_worker_processes.")));
		return false;
	}
	e->slot = slotno;
	e->last_run = GetCurrentTimestamp();
	return true;
}

static void
launcher_round(void)
{
	TimestampTz now = GetCurrentTimestamp();
	bool		rescan;
	bool		waiting = false;
	int			i;

	SpinLockAcquire(&worker_shared->mutex);
	rescan = worker_shared->rescan;
	worker_shared->rescan = false;
	SpinLockRelease(&worker_shared->mutex);

	list_databases();
	for (i = 0; i < ndbs; i++)
	{
		pid_t		pid;

		if (dbs[i].handle != NULL &&
			GetBackgroundWorkerPid(dbs[i].handle, &pid) == BGWH_STOPPED)
			reap(&dbs[i], now);
	}

	/*
	 * Start workers for the databases that need one, those that ran least
	 * recently first, so that a worker that just gave its place up does not
	 * take it straight back.
	 */
	for (;;)
	{
		DbEntry    *next = NULL;

		for (i = 0; i < ndbs; i++)
		{
			DbEntry    *e = &dbs[i];

			if (!e->seen || e->handle != NULL || !queue_worker_enabled)
				continue;
			if (rescan)
				e->no_extension = false;
			if (e->no_extension &&
				!TimestampDifferenceExceeds(e->checked_at, now, RECHECK_MSECS))
				continue;
			if (now < e->wait_until || is_paused(e->dbid, now))
				continue;
			if (next == NULL || e->last_run < next->last_run)
				next = e;
		}
		if (next == NULL)
			break;
		if (!start_worker(next))
		{
			waiting = true;
			break;
		}
	}

	/* Workers in places beyond queue.max_workers (lowered) give them up. */
	for (i = 0; i < ndbs; i++)
		if (dbs[i].handle != NULL && dbs[i].slot >= queue_max_workers)
		{
			SpinLockAcquire(&worker_shared->mutex);
			worker_shared->slots[dbs[i].slot].yield = true;
			SpinLockRelease(&worker_shared->mutex);
		}

	/* Databases wait for a place: the longest-running worker gives way. */
	if (waiting)
	{
		DbEntry    *longest = NULL;

		for (i = 0; i < ndbs; i++)
			if (dbs[i].handle != NULL && (longest == NULL || dbs[i].last_run < longest->last_run))
				longest = &dbs[i];
		if (longest != NULL)
		{
			SpinLockAcquire(&worker_shared->mutex);
			worker_shared->slots[longest->slot].yield = true;
			SpinLockRelease(&worker_shared->mutex);
		}
	}

	/* Workers of databases that are gone, or when disabled, stop. */
	for (i = 0; i < ndbs; i++)
		if (dbs[i].handle != NULL && (!dbs[i].seen || !queue_worker_enabled))
			TerminateBackgroundWorker(dbs[i].handle);
}

static void
launcher_detach(int code, Datum arg)
{
	SpinLockAcquire(&worker_shared->mutex);
	worker_shared->launcher_pgprocno = -1;
	SpinLockRelease(&worker_shared->mutex);
}

void
queue_launcher_main(Datum arg)
{
	pqsignal(SIGTERM, SignalHandlerForShutdownRequest);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	SpinLockAcquire(&worker_shared->mutex);
	worker_shared->launcher_pgprocno = compat_my_procno();
	SpinLockRelease(&worker_shared->mutex);
	before_shmem_exit(launcher_detach, (Datum) 0);

	while (!ShutdownRequestPending)
	{
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		launcher_round();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 queue_naptime, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	proc_exit(0);
}

/* ---------------------------------------------------------------------
 * Worker
 * ---------------------------------------------------------------------
 */

static WorkerSlot *my_slot = NULL;

static void
worker_exit(SlotResult result)
{
	SpinLockAcquire(&worker_shared->mutex);
	my_slot->result = result;
	SpinLockRelease(&worker_shared->mutex);
	proc_exit(0);
}

/* Is the extension (still) created in this database? */
static bool
extension_present(void)
{
	bool		present;

	StartTransactionCommand();
	present = OidIsValid(get_extension_oid("queue", true));
	CommitTransactionCommand();
	return present;
}

/*
 * Run fn(arg) in a transaction of its own.  An error is logged ("queue
 * worker: <what> failed: ...") and the worker goes on with its round.
 */
static void
in_own_transaction(void (*fn) (void *arg), void *arg, const char *what)
{
	MemoryContext cxt = CurrentMemoryContext;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	PG_TRY();
	{
		fn(arg);
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		ereport(LOG,
				(errmsg("queue worker: %s failed: %s", what, edata->message)));
		FreeErrorData(edata);
	}
	PG_END_TRY();
}

typedef struct ServedObject
{
	const char *name;
	char		kind;
	bool		prune;
} ServedObject;

static void
maintain_object(void *arg)
{
	ServedObject *o = arg;
	int64		expired = o->kind == 'q' ? delivery_expire(o->name, queue_worker_batch) :
	o->kind == 's' ? retention_maintain(o->name) : 0;
	int64		pruned = !o->prune ? 0 : o->kind == 'q' ?
	delivery_prune_keys(o->name, queue_worker_batch) : o->kind == 's' ?
	retention_prune_keys(o->name, queue_worker_batch) :
	topic_prune_keys(o->name, queue_worker_batch);

	if (expired > 0 || pruned > 0)
		elog(DEBUG1, "%s \"%s\": %lld expired (segments for a stream), %lld keys pruned",
			 util_kind_name(o->kind), o->name, (long long) expired, (long long) pruned);
}

/* One queue's, topic's or stream's share of a round, in its own transaction. */
static void
serve_object(const char *name, char kind, bool prune)
{
	ServedObject o = {name, kind, prune};

	in_own_transaction(maintain_object, &o,
					   psprintf("maintenance of %s \"%s\"", util_kind_name(kind), name));
}

static void
restore_dependencies(void *arg)
{
	privileges_restore_dependencies();
}

void
queue_worker_main(Datum arg)
{
	Oid			dbid = DatumGetObjectId(arg);
	int			slotno;
	MemoryContext round_cxt;
	TimestampTz last_prune = 0;

	memcpy(&slotno, MyBgworkerEntry->bgw_extra, sizeof(int));
	my_slot = &worker_shared->slots[slotno];
	SpinLockAcquire(&worker_shared->mutex);
	my_slot->pid = MyProcPid;
	SpinLockRelease(&worker_shared->mutex);

	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dbid, InvalidOid, 0);
	pgstat_report_appname("queue worker");

	round_cxt = AllocSetContextCreate(TopMemoryContext, "queue worker round",
									  ALLOCSET_DEFAULT_SIZES);
	if (extension_present())
		in_own_transaction(restore_dependencies, NULL,
						   "restoring the dependencies of owners and grants");
	for (;;)
	{
		TimestampTz now;
		bool		prune;
		bool		yield;
		List	   *names;
		List	   *topics;
		List	   *streams;
		ListCell   *lc;
		TimestampTz next_due = 0;
		long		nap;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (!extension_present())
			worker_exit(RESULT_NO_EXTENSION);

		MemoryContextSwitchTo(round_cxt);
		now = GetCurrentTimestamp();
		prune = TimestampDifferenceExceeds(last_prune, now,
										   queue_prune_interval);
		if (prune)
			last_prune = now;

		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		MemoryContextSwitchTo(round_cxt);
		names = queue_info_names();
		topics = prune ? catalog_object_names('t') : NIL;
		streams = catalog_object_names('s');
		PopActiveSnapshot();
		CommitTransactionCommand();
		MemoryContextSwitchTo(round_cxt);
		foreach(lc, names)
		{
			serve_object((const char *) lfirst(lc), 'q', prune);
			CHECK_FOR_INTERRUPTS();
		}
		foreach(lc, topics)
		{
			serve_object((const char *) lfirst(lc), 't', true);
			CHECK_FOR_INTERRUPTS();
		}
		foreach(lc, streams)
		{
			serve_object((const char *) lfirst(lc), 's', prune);
			CHECK_FOR_INTERRUPTS();
		}
		(void) schedule_fire_due(&next_due);
		pgstat_report_activity(STATE_IDLE, NULL);
		MemoryContextReset(round_cxt);
		MemoryContextSwitchTo(TopMemoryContext);

		SpinLockAcquire(&worker_shared->mutex);
		yield = my_slot->yield;
		SpinLockRelease(&worker_shared->mutex);
		if (yield)
			worker_exit(RESULT_YIELDED);

		/* Until the next round, or sooner when a schedule is due. */
		nap = queue_naptime;
		if (next_due != 0)
		{
			long		until = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), next_due);

			if (until < nap)
				nap = Max(until, 1);
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 nap, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
