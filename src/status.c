/*-------------------------------------------------------------------------
 *
 * status.c
 *	  pgq_worker_status(), behind the pgq_workers view: what the background
 *	  worker did in each database, read from shared memory.
 *
 * Reads the database array under a shared lock into a tuplestore.  Without
 * shared_preload_libraries there is no shared memory: the function returns
 * one row saying so and how to enable the worker.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "catalog/pg_authid.h"
#include "utils/acl.h"
#include "commands/dbcommands.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "pgq.h"

PG_FUNCTION_INFO_V1(pgq_worker_status);

#define STATUS_COLS 12

static void
put_row(ReturnSetInfo *rsinfo, Oid dboid, PgqDbState *db, int launcher_pid,
		const char *status)
{
	Datum		values[STATUS_COLS];
	bool		nulls[STATUS_COLS];
	char	   *dbname = get_database_name(dboid);

	memset(nulls, true, sizeof(nulls));
	if (dbname == NULL)
		return;					/* dropped since the worker visited it */
	values[0] = CStringGetTextDatum(dbname);
	nulls[0] = false;
	values[11] = CStringGetTextDatum(status);
	nulls[11] = false;
	if (launcher_pid != 0)
	{
		values[1] = Int32GetDatum(launcher_pid);
		nulls[1] = false;
	}
	if (db != NULL)
	{
		if (db->pid != 0)
		{
			values[2] = Int32GetDatum(db->pid);
			nulls[2] = false;
		}
		if (db->passes > 0)
		{
			values[3] = TimestampTzGetDatum(db->last_run);
			values[4] = Int64GetDatum(db->passes);
			values[5] = Int64GetDatum(db->last_reclaimed);
			values[6] = Int64GetDatum(db->last_deleted);
			values[7] = Int64GetDatum(db->total_reclaimed);
			values[8] = Int64GetDatum(db->total_deleted);
			for (int i = 3; i <= 8; i++)
				nulls[i] = false;
		}
		if (db->last_error[0] != '\0' &&
			has_privs_of_role(GetUserId(), ROLE_PG_MONITOR))
		{
			values[9] = CStringGetTextDatum(db->last_error);
			values[10] = TimestampTzGetDatum(db->last_error_at);
			nulls[9] = nulls[10] = false;
		}
	}
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * pgq_worker_status() returns table(database, launcher_pid, worker_pid,
 *	 last_run, passes, last_reclaimed, last_deleted, total_reclaimed,
 *	 total_deleted, last_error, last_error_at, status)
 */
Datum
pgq_worker_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	PgqDbState	dbs[PGQ_MAX_DATABASES];
	int			launcher_pid;
	bool		seen_current = false;
	const char *idle_status;

	InitMaterializedSRF(fcinfo, 0);
	if (pgq_shared == NULL)
	{
		put_row(rsinfo, MyDatabaseId, NULL, 0,
				"not running: add pgq to shared_preload_libraries and restart the server");
		return (Datum) 0;
	}

	LWLockAcquire(pgq_shared->lock, LW_SHARED);
	memcpy(dbs, pgq_shared->dbs, sizeof(dbs));
	launcher_pid = pgq_shared->launcher_pid;
	LWLockRelease(pgq_shared->lock);

	if (RecoveryInProgress())
		idle_status = "not running: standby server, starts after promotion";
	else if (!pgq_enabled)
		idle_status = "disabled: pgq.enabled is off";
	else
		idle_status = "idle";

	for (int i = 0; i < PGQ_MAX_DATABASES; i++)
	{
		PgqDbState *db = &dbs[i];

		if (db->dboid == InvalidOid || !db->has_extension)
			continue;
		if (db->dboid == MyDatabaseId)
			seen_current = true;
		put_row(rsinfo, db->dboid, db, launcher_pid,
				db->pid != 0 ? "running" : idle_status);
	}
	if (!seen_current)
		put_row(rsinfo, MyDatabaseId, NULL, launcher_pid,
				strcmp(idle_status, "idle") == 0 ? "waiting for the first pass" : idle_status);
	return (Datum) 0;
}
