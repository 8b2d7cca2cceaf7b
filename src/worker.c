/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The background worker: a launcher and short-lived per-database
 *	  workers that reclaim expired leases with no client running.
 *
 * The launcher ("pgq launcher") connects to no database.  Every
 * pgq.reclaim_interval it reads pg_database and starts, at most
 * pgq.max_workers at a time, one "pgq worker" per database that has pgq
 * installed (or has not been checked for PGQ_RECHECK_INTERVAL).  A worker
 * connects, runs pgq_reclaim_queue() on each queue in a transaction of its
 * own, records what it did in shared memory, and exits, so no connection
 * stays open between passes: DROP DATABASE, DROP EXTENSION and ALTER
 * EXTENSION UPDATE never wait for more than one short pass.
 *
 * Safety: a worker does each queue's table work as the table's owner in a
 * restricted security context with search_path = pg_catalog, pg_temp, so a
 * trigger or index expression on a queue table never runs as superuser;
 * it takes the table lock conditionally and sets lock_timeout, so it never
 * queues behind user locks; an error in one queue is recorded and the pass
 * goes on.  The launcher is registered with BgWorkerStart_RecoveryFinished:
 * it never runs on a standby and starts after promotion; the postmaster
 * restarts it after a crash or pg_terminate_backend.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "pgq.h"

/* A database without pgq is looked at again after this many ms. */
#define PGQ_RECHECK_INTERVAL	10000

/* What the current worker pass did (static: they survive longjmp). */
static List *queues = NIL;
static Oid	history_relid = InvalidOid;
static TimestampTz pass_start = 0;
static int64 pass_reclaimed = 0;
static int64 pass_deleted = 0;
static char *pass_error = NULL;

PGDLLEXPORT void pgq_launcher_main(Datum arg);
PGDLLEXPORT void pgq_worker_main(Datum arg);

/* Register the launcher; called from _PG_init during preload. */
void
pgq_register_launcher(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 1;
	strlcpy(worker.bgw_library_name, "pgq", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "pgq_launcher_main", BGW_MAXLEN);
	strlcpy(worker.bgw_name, "pgq launcher", BGW_MAXLEN);
	strlcpy(worker.bgw_type, "pgq launcher", BGW_MAXLEN);
	RegisterBackgroundWorker(&worker);
}

/* The databases a pass visits: connectable, not templates. */
static List *
databases_to_visit(void)
{
	List	   *result = NIL;
	List	   *existing = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	MemoryContext caller = CurrentMemoryContext;
	TimestampTz now = GetCurrentTimestamp();

	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		PgqDbState *state;
		bool		visit;

		{
			MemoryContext old = MemoryContextSwitchTo(caller);

			existing = lappend_oid(existing, db->oid);
			MemoryContextSwitchTo(old);
		}
		if (!db->datallowconn || db->datistemplate)
			continue;
		LWLockAcquire(pgq_shared->lock, LW_SHARED);
		state = pgq_db_state(db->oid, false);
		visit = state == NULL || state->has_extension ||
			TimestampDifferenceExceeds(state->last_checked, now, PGQ_RECHECK_INTERVAL);
		LWLockRelease(pgq_shared->lock);
		if (visit)
		{
			MemoryContext old = MemoryContextSwitchTo(caller);

			result = lappend_oid(result, db->oid);
			MemoryContextSwitchTo(old);
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();

	/* forget databases that are gone */
	LWLockAcquire(pgq_shared->lock, LW_EXCLUSIVE);
	for (int i = 0; i < PGQ_MAX_DATABASES; i++)
	{
		PgqDbState *db = &pgq_shared->dbs[i];

		if (OidIsValid(db->dboid) && db->pid == 0 &&
			!list_member_oid(existing, db->dboid))
			memset(db, 0, sizeof(PgqDbState));
	}
	LWLockRelease(pgq_shared->lock);
	list_free(existing);
	return result;
}

static BackgroundWorkerHandle *
start_worker(Oid dboid)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	strlcpy(worker.bgw_library_name, "pgq", BGW_MAXLEN);
	strlcpy(worker.bgw_function_name, "pgq_worker_main", BGW_MAXLEN);
	snprintf(worker.bgw_name, BGW_MAXLEN, "pgq worker for database %u", dboid);
	strlcpy(worker.bgw_type, "pgq worker", BGW_MAXLEN);
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	worker.bgw_notify_pid = MyProcPid;
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
		return NULL;			/* no free slot: try again next pass */
	return handle;
}

/* One pass of the launcher over every database. */
static void
launcher_pass(void)
{
	List	   *dbs = databases_to_visit();
	List	   *running = NIL;
	ListCell   *lc;

	foreach(lc, dbs)
	{
		BackgroundWorkerHandle *handle;

		/* at most pgq.max_workers at once */
		while (list_length(running) >= pgq_max_workers)
		{
			handle = linitial(running);
			running = list_delete_first(running);
			WaitForBackgroundWorkerShutdown(handle);
			pfree(handle);
		}
		CHECK_FOR_INTERRUPTS();
		handle = start_worker(lfirst_oid(lc));
		if (handle != NULL)
			running = lappend(running, handle);
	}
	foreach(lc, running)
	{
		WaitForBackgroundWorkerShutdown((BackgroundWorkerHandle *) lfirst(lc));
		pfree(lfirst(lc));
	}
	list_free(running);
	list_free(dbs);
}

static void
launcher_exit(int code, Datum arg)
{
	LWLockAcquire(pgq_shared->lock, LW_EXCLUSIVE);
	if (pgq_shared->launcher_pid == MyProcPid)
		pgq_shared->launcher_pid = 0;
	LWLockRelease(pgq_shared->lock);
}

void
pgq_launcher_main(Datum arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_activity(STATE_RUNNING, "pgq launcher");

	LWLockAcquire(pgq_shared->lock, LW_EXCLUSIVE);
	pgq_shared->launcher_pid = MyProcPid;
	LWLockRelease(pgq_shared->lock);
	before_shmem_exit(launcher_exit, (Datum) 0);
	ereport(LOG, (errmsg("pgq launcher started")));

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (pgq_enabled)
		{
			pgstat_report_activity(STATE_RUNNING, "pgq launcher: starting workers");
			launcher_pass();
			pgstat_report_activity(STATE_IDLE, NULL);
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 pgq_reclaim_interval, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

/* Record the end of a worker's visit to its database. */
static void
record_visit(bool has_extension, bool complete, int64 reclaimed,
			 int64 deleted, const char *error)
{
	PgqDbState *state;
	TimestampTz now = GetCurrentTimestamp();

	LWLockAcquire(pgq_shared->lock, LW_EXCLUSIVE);
	state = pgq_db_state(MyDatabaseId, true);
	if (state != NULL)
	{
		state->has_extension = has_extension;
		state->last_checked = now;
		state->pid = 0;
		if (has_extension && complete)
		{
			state->last_run = now;
			state->passes++;
			state->last_reclaimed = reclaimed;
			state->last_deleted = deleted;
			state->total_reclaimed += reclaimed;
			state->total_deleted += deleted;
		}
		if (error != NULL)
		{
			strlcpy(state->last_error, error, PGQ_ERROR_LEN);
			state->last_error_at = now;
		}
	}
	LWLockRelease(pgq_shared->lock);
}

/*
 * Sweep one queue in its own transaction as the table's owner.  Returns
 * false when the queue was skipped (gone, or its table lock not free).
 */
static bool
sweep_queue(Oid relid, int64 *reclaimed, int64 *deleted)
{
	PgqSavedUser saved;
	PgqQueue   *queue;
	int64		n;

	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		return false;
	if (!ConditionalLockRelationOid(relid, RowExclusiveLock))
		return false;

	pgq_become_owner(relid, &saved);
	SPI_connect();
	queue = pgq_open_queue(relid, RowExclusiveLock);
	pgstat_report_activity(STATE_RUNNING, psprintf("pgq worker: reclaim in %s", queue->qualname));
	n = pgq_reclaim_queue(queue, deleted);
	SPI_finish();
	pgq_restore_user(&saved);
	*reclaimed += n;
	return true;
}

static double
get_float8(int col, bool *isnull)
{
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
								  col, isnull);

	return *isnull ? 0.0 : DatumGetFloat8(d);
}

#define HISTORY_COLS 20

/*
 * Statistics work on one queue, in the caller's transaction: recount its
 * rows exactly when its gauges are missing, drifted or old (holding a
 * ShareLock, which waits for running writers and holds new ones back for
 * the length of the count), and take a history sample when one is due.
 */
static void
stats_queue(Oid relid, TimestampTz now, Oid history_relid)
{
	PgqQueueStats stats;
	bool		found = pgq_stats_read(MyDatabaseId, relid, &stats);
	bool		rebuild;
	PgqSavedUser saved;
	PgqQueue   *queue;
	Datum		values[HISTORY_COLS];
	char		nulls[HISTORY_COLS];
	int64		deltas[PGQ_NUM_COUNTERS];
	TimestampTz since;
	Datum		args[2];
	bool		isnull;
	int			i;

	rebuild = !found || !stats.gauges_valid ||
		(pgq_stats_rebuild_interval > 0 &&
		 TimestampDifferenceExceeds(stats.rebuilt_at, now,
									pgq_stats_rebuild_interval * 1000));
	if (!rebuild && !OidIsValid(history_relid))
		return;

	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
		return;
	pgq_become_owner(relid, &saved);
	SPI_connect();
	queue = pgq_open_queue(relid, rebuild ? ShareLock : AccessShareLock);
	if (rebuild)
	{
		int64		gauges[PGQ_NUM_GAUGES];

		pgstat_report_activity(STATE_RUNNING, psprintf("pgq worker: counting %s", queue->qualname));
		/* not read-only: a snapshot taken now, under the lock */
		if (SPI_execute_plan(pgq_plan(queue, PGQ_PLAN_COUNT), NULL, NULL, false, 1) != SPI_OK_SELECT)
			elog(ERROR, "pgq: count of \"%s\" failed", queue->relname);
		for (i = 0; i < PGQ_NUM_GAUGES; i++)
			gauges[i] = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
													SPI_tuptable->tupdesc, i + 1, &isnull));
		pgq_stats_set_gauges(relid, gauges);
	}
	if (!OidIsValid(history_relid) ||
		!pgq_stats_take_sample(relid, now, deltas, &since))
	{
		SPI_finish();
		pgq_restore_user(&saved);
		return;
	}

	/* the sample: counter increments, gauges, and times of finished rows */
	memset(nulls, ' ', sizeof(nulls));
	if (since == 0)
		since = now - (TimestampTz) pgq_history_interval * USECS_PER_SEC;
	values[0] = ObjectIdGetDatum(relid);
	values[1] = TimestampTzGetDatum(now);
	values[2] = TimestampTzGetDatum(since);
	values[3] = Int64GetDatum(deltas[PGQ_C_PUBLISHED]);
	values[4] = Int64GetDatum(deltas[PGQ_C_CONSUMED]);
	values[5] = Int64GetDatum(deltas[PGQ_C_ACKED]);
	values[6] = Int64GetDatum(deltas[PGQ_C_NACKED]);
	values[7] = Int64GetDatum(deltas[PGQ_C_DISCARDED]);
	values[8] = Int64GetDatum(deltas[PGQ_C_RECLAIMED]);
	values[9] = Int64GetDatum(deltas[PGQ_C_DIED]);

	args[0] = TimestampTzGetDatum(now);
	if (SPI_execute_plan(pgq_plan(queue, PGQ_PLAN_STATS), args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "pgq: stats of \"%s\" failed", queue->relname);
	{
		int64		in_flight = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
		int64		pending = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));

		found = pgq_stats_read(MyDatabaseId, relid, &stats);
		if (found && stats.gauges_valid)
		{
			values[10] = Int64GetDatum(Max(stats.gauges[PGQ_G_UNFINISHED] - pending, 0));
			values[13] = Int64GetDatum(stats.gauges[PGQ_G_DEAD]);
			values[14] = Int64GetDatum(stats.gauges[PGQ_G_DONE]);
		}
		else
			nulls[10] = nulls[13] = nulls[14] = 'n';
		values[11] = Int64GetDatum(pending - in_flight);
		values[12] = Int64GetDatum(in_flight);
	}

	args[0] = TimestampTzGetDatum(since);
	args[1] = TimestampTzGetDatum(now);
	if (SPI_execute_plan(pgq_plan(queue, PGQ_PLAN_FINISHED_TIMES), args, NULL, true, 1) != SPI_OK_SELECT)
		elog(ERROR, "pgq: finish times of \"%s\" failed", queue->relname);
	values[15] = Int64GetDatum(DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)));
	for (i = 0; i < 4; i++)
	{
		values[16 + i] = Float8GetDatum(get_float8(2 + i, &isnull));
		nulls[16 + i] = isnull ? 'n' : ' ';
	}
	pgq_restore_user(&saved);

	/* written as the worker itself: the history is pgq's, not the owner's */
	{
		Oid			types[HISTORY_COLS] = {REGCLASSOID, TIMESTAMPTZOID, TIMESTAMPTZOID,
			INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID,
			INT8OID, INT8OID, INT8OID, INT8OID, INT8OID, INT8OID,
		FLOAT8OID, FLOAT8OID, FLOAT8OID, FLOAT8OID};
		char	   *sql = psprintf("INSERT INTO %s VALUES ($1, $2, $3, $4, $5, $6, $7, $8,"
								   " $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
								   pgq_quote_qualified(history_relid));

		if (SPI_execute_with_args(sql, HISTORY_COLS, types, values, nulls, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "pgq: history sample of \"%s\" failed", queue->relname);
	}
	SPI_finish();
}

/* Delete history samples older than pgq.history_retention. */
static void
trim_history(Oid history_relid, TimestampTz now)
{
	Oid			types[1] = {TIMESTAMPTZOID};
	Datum		values[1];

	values[0] = TimestampTzGetDatum(now - (TimestampTz) pgq_history_retention * USECS_PER_SEC);
	SPI_connect();
	if (SPI_execute_with_args(psprintf("DELETE FROM %s h WHERE h.sampled_at OPERATOR(pg_catalog.<) $1",
									   pgq_quote_qualified(history_relid)),
							  1, types, values, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "pgq: history retention failed");
	SPI_finish();
}

/* Is a history sample due in this database?  Returns pgq_history's OID. */
static Oid
history_due(TimestampTz now)
{
	Oid			nspid;
	TimestampTz last = 0;
	PgqDbState *state;

	if (pgq_history_interval <= 0)
		return InvalidOid;
	LWLockAcquire(pgq_shared->lock, LW_SHARED);
	state = pgq_db_state(MyDatabaseId, false);
	if (state != NULL)
		last = state->last_sampled;
	LWLockRelease(pgq_shared->lock);
	if (last != 0 &&
		!TimestampDifferenceExceeds(last, now, pgq_history_interval * 1000 - 100))
		return InvalidOid;
	nspid = pgq_extension_schema(NULL);
	return get_relname_relid("pgq_history", nspid);	/* absent before 1.1 */
}

/*
 * Do one kind of work ("reclaim" or "statistics") on one queue in a
 * transaction of its own.  An error is logged and kept as the pass's last
 * error, and the pass goes on with the next queue.
 */
static void
queue_transaction(Oid relid, const char *work, MemoryContext work_cxt)
{
	CHECK_FOR_INTERRUPTS();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	PG_TRY();
	{
		/* the extension may have been dropped since the list was read */
		if (OidIsValid(get_extension_oid(PGQ_EXTENSION_NAME, true)))
		{
			if (strcmp(work, "reclaim") == 0)
				(void) sweep_queue(relid, &pass_reclaimed, &pass_deleted);
			else
				stats_queue(relid, pass_start, history_relid);
		}
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		MemoryContext old = MemoryContextSwitchTo(work_cxt);

		edata = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		pass_error = psprintf("queue %u: %s", relid, edata->message);
		MemoryContextSwitchTo(old);
		ereport(LOG,
				(errmsg("pgq worker: %s of table %u failed: %s",
						work, relid, edata->message)));
	}
	PG_END_TRY();
}

void
pgq_worker_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	ListCell   *lc;
	MemoryContext work_cxt;
	bool		has_pgq;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);

	LWLockAcquire(pgq_shared->lock, LW_EXCLUSIVE);
	{
		PgqDbState *state = pgq_db_state(MyDatabaseId, true);

		if (state != NULL)
			state->pid = MyProcPid;
	}
	LWLockRelease(pgq_shared->lock);

	/* never wait long behind user locks; never run long */
	SetConfigOption("lock_timeout", "1s", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("statement_timeout", "60s", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("application_name", "pgq worker", PGC_SUSET, PGC_S_OVERRIDE);

	pass_start = GetCurrentTimestamp();
	work_cxt = AllocSetContextCreate(TopMemoryContext, "pgq worker",
									 ALLOCSET_DEFAULT_SIZES);

	StartTransactionCommand();
	if (!OidIsValid(get_extension_oid(PGQ_EXTENSION_NAME, true)))
	{
		CommitTransactionCommand();
		record_visit(false, false, 0, 0, NULL);
		proc_exit(0);
	}
	PushActiveSnapshot(GetTransactionSnapshot());
	PG_TRY();
	{
		MemoryContext old = MemoryContextSwitchTo(work_cxt);

		queues = pgq_all_queues();
		MemoryContextSwitchTo(old);
		pgq_stats_forget_others(queues);
		history_relid = history_due(pass_start);
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		/*
		 * DROP EXTENSION won the race for the catalog since the check
		 * above: nothing to do here, and nothing worth an error.
		 */
		FlushErrorState();
		AbortCurrentTransaction();
		StartTransactionCommand();
		has_pgq = OidIsValid(get_extension_oid(PGQ_EXTENSION_NAME, true));
		CommitTransactionCommand();
		if (has_pgq)
			ereport(ERROR,
					(errmsg("pgq worker: could not read the queue catalog")));
		record_visit(false, false, 0, 0, NULL);
		proc_exit(0);
	}
	PG_END_TRY();

	foreach(lc, queues)
		queue_transaction(lfirst_oid(lc), "reclaim", work_cxt);
	/* statistics: rebuild gauges where needed, take history samples */
	foreach(lc, queues)
		queue_transaction(lfirst_oid(lc), "statistics", work_cxt);
	if (OidIsValid(history_relid))
	{
		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		trim_history(history_relid, pass_start);
		PopActiveSnapshot();
		CommitTransactionCommand();
		LWLockAcquire(pgq_shared->lock, LW_EXCLUSIVE);
		{
			PgqDbState *state = pgq_db_state(MyDatabaseId, true);

			if (state != NULL)
				state->last_sampled = pass_start;
		}
		LWLockRelease(pgq_shared->lock);
	}
	pgstat_report_activity(STATE_IDLE, NULL);
	record_visit(true, true, pass_reclaimed, pass_deleted, pass_error);
	proc_exit(0);
}
