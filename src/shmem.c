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
 * Statistics: a shared hash keyed by (database, table) holds each queue's
 * counters since server start and its row-count gauges (unfinished, done,
 * dead).  Like wake-ups, changes are collected per (sub)transaction and
 * applied by the commit callback, so an aborted transaction changes
 * nothing.  Gauges start invalid after a restart and are rebuilt by the
 * worker (pgq_stats_set_gauges); a gauge that would go negative has
 * drifted (e.g. a Go client finished rows behind pgq's back) and is marked
 * invalid for the next rebuild.
 *
 * Locking: the condition variables need no lock.  PgqShared.lock guards
 * the database array and the stats hash's membership: exclusive to add or
 * remove entries, shared to find one; an entry's numbers are guarded by its
 * spinlock.
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
#include "storage/spin.h"
#include "utils/hsearch.h"
#include "utils/timestamp.h"
#include "utils/memutils.h"

#include "pgq.h"

PgqShared  *pgq_shared = NULL;

static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

#if PG_VERSION_NUM >= 150000
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif

static HTAB *pgq_stats_hash = NULL;

/* A queue's changes in the current (sub)transaction, applied at commit. */
typedef struct PendingChange
{
	Oid			relid;
	int			nest_level;
	int			wake;			/* consumers to wake */
	bool		created;		/* the queue was created: gauges start at 0 */
	int64		counters[PGQ_NUM_COUNTERS];
	int64		gauges[PGQ_NUM_GAUGES];
} PendingChange;

static List *pending_changes = NIL; /* in TopTransactionContext */
static bool callbacks_registered = false;

static Size
stats_hash_size(void)
{
	return hash_estimate_size(pgq_max_queues, sizeof(PgqQueueStats));
}

static void
pgq_shmem_request(void)
{
#if PG_VERSION_NUM >= 150000
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(MAXALIGN(sizeof(PgqShared)) + stats_hash_size());
	RequestNamedLWLockTranche("pgq", 1);
}

static void
pgq_shmem_startup(void)
{
	bool		found;
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	pgq_shared = ShmemInitStruct("pgq", sizeof(PgqShared), &found);
	info.keysize = sizeof(PgqQueueStatsKey);
	info.entrysize = sizeof(PgqQueueStats);
	pgq_stats_hash = ShmemInitHash("pgq queue stats", pgq_max_queues,
								   pgq_max_queues, &info,
								   HASH_ELEM | HASH_BLOBS);
	if (!found)
	{
		memset(pgq_shared, 0, sizeof(PgqShared));
		pgq_shared->lock = &(GetNamedLWLockTranche("pgq"))->lock;
		pgq_shared->started_at = GetCurrentTimestamp();
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

/*
 * Find or add the stats entry of a queue of the current database.  With
 * create, a new entry starts with invalid gauges.  NULL when absent (or the
 * hash is full).  Takes and releases PgqShared.lock itself.
 */
static PgqQueueStats *
stats_entry(Oid relid, bool create)
{
	PgqQueueStatsKey key;
	PgqQueueStats *entry;
	bool		found;

	memset(&key, 0, sizeof(key));
	key.dboid = MyDatabaseId;
	key.relid = relid;
	LWLockAcquire(pgq_shared->lock, LW_SHARED);
	entry = hash_search(pgq_stats_hash, &key, HASH_FIND, NULL);
	LWLockRelease(pgq_shared->lock);
	if (entry != NULL || !create)
		return entry;

	LWLockAcquire(pgq_shared->lock, LW_EXCLUSIVE);
	entry = hash_search(pgq_stats_hash, &key, HASH_ENTER_NULL, &found);
	if (entry != NULL && !found)
	{
		SpinLockInit(&entry->mutex);
		memset(entry->counters, 0, sizeof(entry->counters));
		memset(entry->sampled, 0, sizeof(entry->sampled));
		memset(entry->gauges, 0, sizeof(entry->gauges));
		entry->gauges_valid = false;
		entry->rebuilt_at = 0;
		entry->last_sampled = 0;
	}
	LWLockRelease(pgq_shared->lock);
	return entry;
}

/* Apply one committed transaction's changes to a queue. */
static void
apply_change(PendingChange *c)
{
	PgqQueueStats *entry = stats_entry(c->relid, true);

	if (entry != NULL)
	{
		SpinLockAcquire(&entry->mutex);
		for (int i = 0; i < PGQ_NUM_COUNTERS; i++)
			entry->counters[i] += c->counters[i];
		if (c->created)
		{
			memset(entry->gauges, 0, sizeof(entry->gauges));
			entry->gauges_valid = true;
			entry->rebuilt_at = GetCurrentTimestamp();
		}
		if (entry->gauges_valid)
		{
			for (int i = 0; i < PGQ_NUM_GAUGES; i++)
			{
				entry->gauges[i] += c->gauges[i];
				if (entry->gauges[i] < 0)
					entry->gauges_valid = false;	/* drifted: rebuild */
			}
		}
		SpinLockRelease(&entry->mutex);
	}
	if (c->wake > 0)
		pgq_wake(c->relid, c->wake);
}

static void
pgq_xact_changes_callback(XactEvent event, void *arg)
{
	ListCell   *lc;

	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			foreach(lc, pending_changes)
				apply_change((PendingChange *) lfirst(lc));
			pending_changes = NIL;
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:

			/*
			 * A prepared transaction commits elsewhere: consumers' timeouts
			 * find its messages, and the gauges are rebuilt when they drift.
			 */
			pending_changes = NIL;
			break;
		default:
			break;
	}
}

static void
pgq_subxact_changes_callback(SubXactEvent event, SubTransactionId mySubid,
							 SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	ListCell   *lc;

	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		foreach(lc, pending_changes)
		{
			PendingChange *c = (PendingChange *) lfirst(lc);

			if (c->nest_level >= level)
				pending_changes = foreach_delete_current(pending_changes, lc);
		}
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		foreach(lc, pending_changes)
		{
			PendingChange *c = (PendingChange *) lfirst(lc);

			if (c->nest_level >= level)
				c->nest_level = level - 1;
		}
	}
}

/* The pending change of a queue at the current nesting level. */
static PendingChange *
pending_change(Oid relid)
{
	int			level = GetCurrentTransactionNestLevel();
	ListCell   *lc;
	PendingChange *c;
	MemoryContext old;

	if (!callbacks_registered)
	{
		RegisterXactCallback(pgq_xact_changes_callback, NULL);
		RegisterSubXactCallback(pgq_subxact_changes_callback, NULL);
		callbacks_registered = true;
	}
	foreach(lc, pending_changes)
	{
		c = (PendingChange *) lfirst(lc);
		if (c->relid == relid && c->nest_level == level)
			return c;
	}
	old = MemoryContextSwitchTo(TopTransactionContext);
	c = palloc0(sizeof(PendingChange));
	c->relid = relid;
	c->nest_level = level;
	pending_changes = lappend(pending_changes, c);
	MemoryContextSwitchTo(old);
	return c;
}

/* Wake count consumers of a queue once the current transaction commits. */
void
pgq_note_wake(Oid relid, int count)
{
	PendingChange *c;

	if (pgq_shared == NULL || count <= 0)
		return;
	c = pending_change(relid);
	c->wake = Min(c->wake + count, PGQ_WAKE_ALL_THRESHOLD);
}

/* Count n events of a queue, at commit. */
void
pgq_note_count(Oid relid, PgqCounter counter, int64 n)
{
	if (pgq_shared == NULL || n == 0)
		return;
	pending_change(relid)->counters[counter] += n;
}

/* Change a queue's row-count gauge by n, at commit. */
void
pgq_note_gauge(Oid relid, PgqGauge gauge, int64 n)
{
	if (pgq_shared == NULL || n == 0)
		return;
	pending_change(relid)->gauges[gauge] += n;
}

/* n messages published: counted, in the gauges, and waking consumers. */
void
pgq_note_published(Oid relid, int64 n)
{
	pgq_note_count(relid, PGQ_C_PUBLISHED, n);
	pgq_note_gauge(relid, PGQ_G_UNFINISHED, n);
	pgq_note_wake(relid, (int) Min(n, PGQ_WAKE_ALL_THRESHOLD));
}

/*
 * n messages finished by why (ack, nack, discard, lease expiry), as dead
 * or done, their rows kept or deleted (retention zero).
 */
void
pgq_note_finished(Oid relid, PgqCounter why, int64 n, bool dead, bool deleted)
{
	pgq_note_count(relid, why, n);
	if (dead)
		pgq_note_count(relid, PGQ_C_DIED, n);
	pgq_note_gauge(relid, PGQ_G_UNFINISHED, -n);
	if (deleted)
		pgq_note_count(relid, PGQ_C_DELETED, n);
	else
		pgq_note_gauge(relid, dead ? PGQ_G_DEAD : PGQ_G_DONE, n);
}

/* Finished rows deleted (purge, retention). */
void
pgq_note_deleted(Oid relid, int64 done, int64 dead)
{
	pgq_note_count(relid, PGQ_C_DELETED, done + dead);
	pgq_note_gauge(relid, PGQ_G_DONE, -done);
	pgq_note_gauge(relid, PGQ_G_DEAD, -dead);
}

/* A new, empty queue: its gauges are exact from zero once this commits. */
void
pgq_note_created(Oid relid)
{
	if (pgq_shared == NULL)
		return;
	pending_change(relid)->created = true;
}

/* Copy a queue's stats; false when there are none. */
bool
pgq_stats_read(Oid dboid, Oid relid, PgqQueueStats *copy)
{
	PgqQueueStatsKey key;
	PgqQueueStats *entry;

	if (pgq_shared == NULL)
		return false;
	memset(&key, 0, sizeof(key));
	key.dboid = dboid;
	key.relid = relid;
	LWLockAcquire(pgq_shared->lock, LW_SHARED);
	entry = hash_search(pgq_stats_hash, &key, HASH_FIND, NULL);
	if (entry != NULL)
	{
		SpinLockAcquire(&entry->mutex);
		memcpy(copy, entry, sizeof(PgqQueueStats));
		SpinLockRelease(&entry->mutex);
	}
	LWLockRelease(pgq_shared->lock);
	return entry != NULL;
}

/*
 * Set a queue's gauges from an exact count.  The caller counted while
 * holding a lock that excludes writers, whose deltas are applied before
 * their locks are released, so nothing is counted twice or missed.
 */
void
pgq_stats_set_gauges(Oid relid, const int64 *gauges)
{
	PgqQueueStats *entry = stats_entry(relid, true);

	if (entry == NULL)
		return;
	SpinLockAcquire(&entry->mutex);
	memcpy(entry->gauges, gauges, sizeof(entry->gauges));
	entry->gauges_valid = true;
	entry->rebuilt_at = GetCurrentTimestamp();
	SpinLockRelease(&entry->mutex);
}

/*
 * Take a history sample of a queue: the counter increments since the last
 * sample (*since; 0 for the first since start) into deltas.  False when
 * the queue has no stats entry yet.
 */
bool
pgq_stats_take_sample(Oid relid, TimestampTz now, int64 *deltas,
					  TimestampTz *since)
{
	PgqQueueStats *entry = stats_entry(relid, true);

	if (entry == NULL)
		return false;
	SpinLockAcquire(&entry->mutex);
	for (int i = 0; i < PGQ_NUM_COUNTERS; i++)
	{
		deltas[i] = entry->counters[i] - entry->sampled[i];
		entry->sampled[i] = entry->counters[i];
	}
	*since = entry->last_sampled;
	entry->last_sampled = now;
	SpinLockRelease(&entry->mutex);
	return true;
}

/* Drop the stats of this database's queues that are not in relids. */
void
pgq_stats_forget_others(List *relids)
{
	HASH_SEQ_STATUS status;
	PgqQueueStats *entry;

	if (pgq_shared == NULL)
		return;
	LWLockAcquire(pgq_shared->lock, LW_EXCLUSIVE);
	hash_seq_init(&status, pgq_stats_hash);
	while ((entry = hash_seq_search(&status)) != NULL)
	{
		if (entry->key.dboid == MyDatabaseId &&
			!list_member_oid(relids, entry->key.relid))
			hash_search(pgq_stats_hash, &entry->key, HASH_REMOVE, NULL);
	}
	LWLockRelease(pgq_shared->lock);
}

/*
 * The shared state of a database, claimed if absent (taking over the entry
 * of a database without pgq when the array is full).  The caller holds
 * pgq_shared->lock exclusively to create, shared to look.  NULL when there
 * is none.
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
	if (create && free_slot == NULL)
	{
		/* full: reuse the entry of a database without pgq, checked longest ago */
		for (int i = 0; i < PGQ_MAX_DATABASES; i++)
		{
			PgqDbState *db = &pgq_shared->dbs[i];

			if (!db->has_extension && db->pid == 0 &&
				(free_slot == NULL || db->last_checked < free_slot->last_checked))
				free_slot = db;
		}
	}
	if (create && free_slot != NULL)
	{
		memset(free_slot, 0, sizeof(PgqDbState));
		free_slot->dboid = dboid;
	}
	return create ? free_slot : NULL;
}
