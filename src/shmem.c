/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  pgq's shared memory: wake-up slots for waiting consumers and the
 *	  background worker's per-database state.
 *
 * Shared memory exists only when pgq is in shared_preload_libraries;
 * pgq_shared is NULL otherwise and every user copes (waiting consumers poll,
 * pgq_workers says the worker is not running).
 *
 * Wake-ups: a queue maps to one of PGQ_WAIT_SLOTS condition variables by a
 * hash of (database, table); collisions only cost a spurious wake-up.
 * Consumers without a metadata filter sleep on the plain variable of the
 * slot and are woken one per committed message; filtered consumers sleep on
 * the slot's second variable and are all woken, since only they can tell
 * whether a message matches.  Publishes are remembered per (sub)transaction
 * and announced by the commit callback, after the commit is visible: an
 * uncommitted or rolled-back publish wakes no one.
 *
 * Locking: the condition variables need no lock.  PgqShared.lock guards
 * the database array: exclusive to claim or change an entry, shared to read.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/condition_variable.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/memutils.h"

#include "pgq.h"

PgqShared  *pgq_shared = NULL;

static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif

/* Publishes of the current transaction, announced at commit. */
typedef struct PendingWake
{
	Oid			relid;
	int			count;
	int			nest_level;
} PendingWake;

static List *pending_wakes = NIL;	/* in TopTransactionContext */
static bool wake_callbacks_registered = false;

static void
pgq_shmem_request(void)
{
#if PG_VERSION_NUM >= 150000
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(MAXALIGN(sizeof(PgqShared)));
	RequestNamedLWLockTranche("pgq", 1);
}

static void
pgq_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	pgq_shared = ShmemInitStruct("pgq", sizeof(PgqShared), &found);
	if (!found)
	{
		memset(pgq_shared, 0, sizeof(PgqShared));
		pgq_shared->lock = &(GetNamedLWLockTranche("pgq"))->lock;
		for (int i = 0; i < PGQ_WAIT_SLOTS; i++)
		{
			ConditionVariableInit(&pgq_shared->slots[i].plain);
			ConditionVariableInit(&pgq_shared->slots[i].filtered);
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Called from _PG_init while shared_preload_libraries are processed. */
void
pgq_shmem_init(void)
{
#if PG_VERSION_NUM >= 150000
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = pgq_shmem_request;
#else
	pgq_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = pgq_shmem_startup;
}

/* The wake-up slot of a queue in the current database. */
PgqWaitSlot *
pgq_wait_slot(Oid relid)
{
	uint32		h;

	if (pgq_shared == NULL)
		return NULL;
	h = hash_combine((uint32) MyDatabaseId, (uint32) relid);
	h = (h ^ (h >> 16)) * 0x45d9f3b;
	return &pgq_shared->slots[h % PGQ_WAIT_SLOTS];
}

/* Wake consumers waiting on a queue: count plain waiters, all filtered. */
void
pgq_wake(Oid relid, int count)
{
	PgqWaitSlot *slot = pgq_wait_slot(relid);

	if (slot == NULL)
		return;
	ConditionVariableBroadcast(&slot->filtered);
	if (count >= PGQ_WAKE_ALL_THRESHOLD)
		ConditionVariableBroadcast(&slot->plain);
	else
		for (int i = 0; i < count; i++)
			ConditionVariableSignal(&slot->plain);
}

static void
pgq_wake_xact_callback(XactEvent event, void *arg)
{
	ListCell   *lc;

	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			foreach(lc, pending_wakes)
			{
				PendingWake *w = (PendingWake *) lfirst(lc);

				pgq_wake(w->relid, w->count);
			}
			pending_wakes = NIL;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			/* a prepared transaction commits elsewhere: consumers' timeouts find it */
			pending_wakes = NIL;
			break;
		default:
			break;
	}
}

static void
pgq_wake_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
						  SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	ListCell   *lc;

	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		foreach(lc, pending_wakes)
		{
			PendingWake *w = (PendingWake *) lfirst(lc);

			if (w->nest_level >= level)
				pending_wakes = foreach_delete_current(pending_wakes, lc);
		}
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		foreach(lc, pending_wakes)
		{
			PendingWake *w = (PendingWake *) lfirst(lc);

			if (w->nest_level >= level)
				w->nest_level = level - 1;
		}
	}
}

/*
 * Remember that the current transaction published count messages to a
 * queue, so that its commit wakes waiting consumers.
 */
void
pgq_note_publish(Oid relid, int count)
{
	int			level = GetCurrentTransactionNestLevel();
	ListCell   *lc;
	PendingWake *w;
	MemoryContext old;

	if (pgq_shared == NULL || count <= 0)
		return;
	if (!wake_callbacks_registered)
	{
		RegisterXactCallback(pgq_wake_xact_callback, NULL);
		RegisterSubXactCallback(pgq_wake_subxact_callback, NULL);
		wake_callbacks_registered = true;
	}
	foreach(lc, pending_wakes)
	{
		w = (PendingWake *) lfirst(lc);
		if (w->relid == relid && w->nest_level == level)
		{
			if (w->count < PGQ_WAKE_ALL_THRESHOLD)
				w->count += count;
			return;
		}
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	w = palloc(sizeof(PendingWake));
	w->relid = relid;
	w->count = count;
	w->nest_level = level;
	pending_wakes = lappend(pending_wakes, w);
	MemoryContextSwitchTo(old);
}

/*
 * The shared state of a database, claimed if absent.  The caller holds
 * pgq_shared->lock exclusively.  NULL when the array is full.
 */
PgqDbState *
pgq_db_state(Oid dboid, bool create)
{
	PgqDbState *free_slot = NULL;

	for (int i = 0; i < PGQ_MAX_DATABASES; i++)
	{
		PgqDbState *db = &pgq_shared->dbs[i];

		if (db->dboid == dboid)
			return db;
		if (db->dboid == InvalidOid && free_slot == NULL)
			free_slot = db;
	}
	if (create && free_slot != NULL)
	{
		memset(free_slot, 0, sizeof(PgqDbState));
		free_slot->dboid = dboid;
	}
	return create ? free_slot : NULL;
}
