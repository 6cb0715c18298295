/*-------------------------------------------------------------------------
 *
 * queue.c
 *	  Module entry point: settings and shared-memory hooks.
 *
 * The library must be listed in shared_preload_libraries, because leases
 * live in shared memory that can only be reserved while the postmaster
 * starts.  Loading it any other way (CREATE EXTENSION, LOAD, the first call
 * of a function) fails with an error whose hint names the setting, so a
 * misconfigured server is caught at CREATE EXTENSION time instead of on the
 * first read.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/guc.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "args.h"
#include "hooks.h"
#include "lease.h"
#include "position.h"
#include "qstate.h"
#include "retention.h"
#include "successor.h"
#include "util.h"
#include "wakeup.h"
#include "worker.h"
#include "xact.h"

PG_MODULE_MAGIC;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

void		_PG_init(void);

static void
queue_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	lease_shmem_request();
	qstate_shmem_request();
	position_shmem_request();
	RequestAddinShmemSpace(wakeup_shmem_size());
	RequestAddinShmemSpace(worker_shmem_size());
	RequestAddinShmemSpace(successor_shmem_size());
}

static void
queue_shmem_startup(void)
{
	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	lease_shmem_startup();
	qstate_shmem_startup();
	position_shmem_startup();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	wakeup_shmem_startup();
	worker_shmem_startup();
	successor_shmem_startup();
	LWLockRelease(AddinShmemInitLock);
}

void
_PG_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		util_require_preload();

	DefineCustomIntVariable("queue.max_leases",
							"Maximum number of messages leased at once, across all queues and databases.",
							"Each lease takes about 180 bytes of shared memory.",
							&queue_max_leases,
							65536,
							1024,
							INT_MAX / 1024,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("queue.max_wait",
							"Longest time a waiting read (wait => ...) sleeps.",
							"Longer waits are cut to this.",
							&queue_max_wait,
							20000,
							0,
							3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("queue.naptime",
							"Time between two rounds of the background worker.",
							NULL,
							&queue_naptime,
							1000,
							10,
							3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("queue.prune_interval",
							"Time between two prunings of expired idempotency keys by the background worker.",
							NULL,
							&queue_prune_interval,
							60000,
							1000,
							24 * 3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("queue.step_aside_interval",
							"How long workers stay away from a database after DROP DATABASE, CREATE DATABASE ... TEMPLATE or ALTER DATABASE ... RENAME / SET TABLESPACE of it.",
							NULL,
							&queue_step_aside_interval,
							30000,
							1000,
							3600 * 1000,
							PGC_SIGHUP,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomIntVariable("queue.max_workers",
							"Most worker processes serving databases at once (the launcher not counted).",
							"Each takes a background worker slot (max_worker_processes).",
							&queue_max_workers,
							4,
							1,
							64,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("queue.worker_batch",
							"Most messages expired and keys pruned per queue in one round of the worker.",
							NULL,
							&queue_worker_batch,
							1000,
							1,
							1000000,
							PGC_SIGHUP,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("queue.segment_size",
							"Size at which the background worker starts a new segment of a stream.",
							"Retention removes whole segments: smaller segments follow the limits more closely, at the cost of more tables.",
							&queue_segment_size,
							65536,
							64,
							INT_MAX / 2,
							PGC_SIGHUP,
							GUC_UNIT_KB,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("queue.worker_enabled",
							 "Whether the background worker serves databases.",
							 NULL,
							 &queue_worker_enabled,
							 true,
							 PGC_SIGHUP,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("queue.max_queues",
							"Maximum number of queues in use at once, across all databases.",
							"Each takes about 100 bytes of shared memory for its lease count and depth.",
							&queue_max_queues,
							8192,
							64,
							INT_MAX / 1024,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	DefineCustomIntVariable("queue.max_partitions",
							"Maximum number of stream partitions in use at once, across all databases.",
							"Each takes about 600 bytes of shared memory for its position counter and the positions held by open transactions.",
							&queue_max_partitions,
							16384,
							64,
							INT_MAX / 1024,
							PGC_POSTMASTER,
							0,
							NULL, NULL, NULL);

	MarkGUCPrefixReserved("queue");

	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = queue_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = queue_shmem_startup;

	xact_register_callbacks();
	worker_register();
	hooks_register();
}
