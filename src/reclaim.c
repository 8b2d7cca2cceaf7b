/*-------------------------------------------------------------------------
 *
 * reclaim.c
 *	  pgq_reclaim: the sweep the background worker runs on each queue, also
 *	  callable by hand or from a scheduler.
 *
 * An expired lease is deliverable again whether or not the sweep runs
 * (available_at = locked_until is in the past).  The sweep makes it plain:
 * it clears locked_until and lease_holder so SQL readers and Go tools see a
 * waiting message, turns a message whose attempts are used up into a dead
 * one with a reason, and deletes finished rows older than the queue's
 * retention.  It works in statements of at most PGQ_SWEEP_BATCH rows that
 * skip rows other sessions hold (a consumer finishing late simply wins).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/uuid.h"

#include "pgq.h"

PG_FUNCTION_INFO_V1(pgq_reclaim);

/* Upper bound of retention batches per queue and pass. */
#define PGQ_MAX_RETENTION_BATCHES	100

/*
 * Sweep one queue; the caller is connected to SPI and has opened the queue.
 * Returns the number of messages reclaimed (made ready or dead) and adds
 * the number of finished rows deleted to *deleted.
 */
int64
pgq_reclaim_queue(PgqQueue *queue, int64 *deleted)
{
	TimestampTz now = pgq_now();
	Oid			types[1] = {TIMESTAMPTZOID};
	Datum		values[1];
	int64		reclaimed = 0;
	int64		died = 0;
	char	   *used_up;
	char	   *sql;

	values[0] = TimestampTzGetDatum(now);
	used_up = pgq_attempts_used_up(queue, "q");
	sql = psprintf("WITH expired AS ("
				   " SELECT e.id, e.lease_holder IS NOT NULL AS leased FROM %1$s e"
				   " WHERE e.locked_until IS NOT NULL AND e.processed_at IS NULL"
				   " AND e.locked_until OPERATOR(pg_catalog.<) $1"
				   " ORDER BY e.locked_until LIMIT %2$d FOR UPDATE SKIP LOCKED)"
				   " UPDATE %1$s q SET locked_until = NULL, lease_holder = NULL,"
				   " processed_at = CASE WHEN %3$s THEN $1 END,"
				   " error_detail = CASE WHEN %3$s THEN pg_catalog.concat("
				   "'lease expired after ', q.consumed_count,"
				   " CASE WHEN q.consumed_count OPERATOR(pg_catalog.=) 1 THEN ' attempt' ELSE ' attempts' END)"
				   " ELSE q.error_detail END"
				   " FROM expired WHERE q.id OPERATOR(pg_catalog.=) expired.id"
				   " RETURNING q.id, q.consumed_count, q.processed_at IS NOT NULL,"
				   " expired.leased",
				   queue->qualname, PGQ_SWEEP_BATCH, used_up);

	for (;;)
	{
		int			rc = SPI_execute_with_args(sql, 1, types, values, NULL, false, 0);
		uint64		n = SPI_processed;

		if (rc != SPI_OK_UPDATE_RETURNING)
			elog(ERROR, "pgq: reclaim in \"%s\" failed: %s", queue->relname,
				 SPI_result_code_string(rc));
		for (uint64 i = 0; i < n; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;
			bool		isnull;
			bool		dead = DatumGetBool(SPI_getbinval(tup, desc, 3, &isnull));
			bool		leased = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
			int32		attempt = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));

			if (!dead && !leased)
				continue;		/* a nack's retry delay ran out: not a lease */
			reclaimed++;
			if (dead)
				died++;
			ereport(pgq_log_reclaims ? LOG : DEBUG1,
					(errmsg("pgq: reclaimed message %s of queue \"%s\" at attempt %d%s",
							SPI_getvalue(tup, desc, 1), queue->relname, attempt,
							dead ? ": attempts used up, now dead" : "")));
		}
		if (n < PGQ_SWEEP_BATCH)
			break;
	}
	pgq_note_count(queue->relid, PGQ_C_RECLAIMED, reclaimed - died);
	pgq_note_finished(queue->relid, PGQ_C_EXPIRED_DEAD, died, true, false);
	/* messages made ready wake waiting consumers once this commits */
	pgq_note_wake(queue->relid, (int) Min(reclaimed - died, PGQ_WAKE_ALL_THRESHOLD));

	if (queue->has_retention)
	{
		values[0] = TimestampTzGetDatum(pgq_sub_interval(now, &queue->retention));
		sql = psprintf("WITH d AS (DELETE FROM %1$s q WHERE q.id OPERATOR(pg_catalog.=) ANY (ARRAY("
					   " SELECT e.id FROM %1$s e WHERE e.processed_at IS NOT NULL"
					   " AND e.processed_at OPERATOR(pg_catalog.<=) $1"
					   " ORDER BY e.processed_at LIMIT %2$d FOR UPDATE SKIP LOCKED))"
					   " RETURNING q.error_detail IS NULL AS done)"
					   " SELECT pg_catalog.count(*) FILTER (WHERE d.done),"
					   " pg_catalog.count(*) FILTER (WHERE NOT d.done) FROM d",
					   queue->qualname, PGQ_SWEEP_BATCH);
		for (int batch = 0; batch < PGQ_MAX_RETENTION_BATCHES; batch++)
		{
			int			rc = SPI_execute_with_args(sql, 1, types, values, NULL, false, 0);
			bool		isnull;
			int64		done;
			int64		dead;

			if (rc != SPI_OK_SELECT || SPI_processed != 1)
				elog(ERROR, "pgq: retention in \"%s\" failed: %s", queue->relname,
					 SPI_result_code_string(rc));
			done = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 1, &isnull));
			dead = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											   SPI_tuptable->tupdesc, 2, &isnull));
			pgq_note_deleted(queue->relid, done, dead);
			*deleted += done + dead;
			if (done + dead < PGQ_SWEEP_BATCH)
				break;
		}
	}
	return reclaimed;
}

typedef struct ReclaimTotals
{
	int64		reclaimed;
	int64		deleted;
} ReclaimTotals;

/*
 * Sweep one queue for pgq_reclaim().  The table work runs as the table's
 * owner in a restricted context, so a superuser running pgq_reclaim()
 * never runs a queue owner's trigger with superuser rights.
 */
static void
reclaim_one(Oid relid, void *arg)
{
	ReclaimTotals *totals = (ReclaimTotals *) arg;
	PgqQueue   *queue;
	PgqSavedUser saved;

	if (pg_class_aclcheck(relid, GetUserId(), ACL_UPDATE) != ACLCHECK_OK)
		aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_TABLE, get_rel_name(relid));
	queue = pgq_open_queue(relid, RowExclusiveLock);
	pgq_check_writable("reclaim in", queue);
	pgq_become_owner(relid, &saved);
	totals->reclaimed += pgq_reclaim_queue(queue, &totals->deleted);
	pgq_restore_user(&saved);
}

/*
 * pgq_reclaim(queue regclass default null) returns integer
 *
 * Sweep one queue, or with NULL every queue the caller may update (others
 * are passed over, broken ones skipped with a warning).  Returns the
 * number of messages reclaimed.
 */
Datum
pgq_reclaim(PG_FUNCTION_ARGS)
{
	ReclaimTotals totals = {0, 0};

	pgq_begin_call();
	SPI_connect();
	if (!PG_ARGISNULL(0))
		reclaim_one(PG_GETARG_OID(0), &totals);
	else
	{
		ListCell   *lc;
		List	   *queues = pgq_all_queues();

		foreach(lc, queues)
		{
			Oid			relid = lfirst_oid(lc);

			if (SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)) &&
				pg_class_aclcheck(relid, GetUserId(), ACL_UPDATE) == ACLCHECK_OK)
				(void) pgq_try_queue(relid, reclaim_one, &totals);
		}
	}
	SPI_finish();
	pgq_end_call();
	PG_RETURN_INT32((int32) totals.reclaimed);
}
