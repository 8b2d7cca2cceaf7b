/*-------------------------------------------------------------------------
 *
 * stats.c
 *	  The monitoring functions behind pgq_queue_stats, pgq_in_flight and
 *	  pgq_failures.
 *
 * Cheap by construction: row counts that would need a scan of the whole
 * table (unfinished, done, dead) come from shared memory, kept exact at
 * commit (shmem.c); what depends on the clock (in flight, scheduled,
 * expired leases, oldest ready, next expiry) is read live through the
 * queue's partial indexes, whose size is that of the leased and scheduled
 * rows only.  Without shared memory the counts are taken live instead.
 *
 * Visibility: a role sees the queues whose tables it may SELECT; members
 * of pg_monitor see every queue.  The table queries of a queue the role
 * cannot read run as the table's owner in a restricted security context,
 * and no function here returns payloads.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "pgq.h"

PG_FUNCTION_INFO_V1(pgq_queue_stats);
PG_FUNCTION_INFO_V1(pgq_in_flight_messages);
PG_FUNCTION_INFO_V1(pgq_failed_messages);

typedef void (*QueueVisitor) (PgqQueue *queue, ReturnSetInfo *rsinfo,
							  TimestampTz now);

typedef struct VisitArgs
{
	QueueVisitor visit;
	ReturnSetInfo *rsinfo;
	TimestampTz now;
} VisitArgs;

/*
 * Visit one queue.  Its table is read as the table's owner in a restricted
 * context, whoever asks: reading a queue must never run its owner's code
 * with a superuser's rights.
 */
static void
visit_one(Oid relid, void *arg)
{
	VisitArgs  *args = (VisitArgs *) arg;
	PgqQueue   *queue = pgq_open_queue(relid, AccessShareLock);
	PgqSavedUser saved;

	pgq_become_owner(relid, &saved);
	args->visit(queue, args->rsinfo, args->now);
	pgq_restore_user(&saved);
}

/*
 * Call visit for every queue the current role may watch: the queues whose
 * tables it may read, every queue for members of pg_monitor.  SPI is
 * connected; a queue its owner broke is skipped with a warning.
 */
static void
for_each_visible_queue(ReturnSetInfo *rsinfo, QueueVisitor visit)
{
	bool		monitor = has_privs_of_role(GetUserId(), ROLE_PG_MONITOR);
	VisitArgs	args;
	ListCell   *lc;
	List	   *queues = pgq_all_queues();

	args.visit = visit;
	args.rsinfo = rsinfo;
	args.now = pgq_now();
	pgq_begin_call();
	SPI_connect();
	foreach(lc, queues)
	{
		Oid			relid = lfirst_oid(lc);

		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
			continue;
		if (!monitor &&
			pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
			continue;
		(void) pgq_try_queue(relid, visit_one, &args);
	}
	SPI_finish();
	pgq_end_call();
}

static int64
get_int64(int col, bool *isnull)
{
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
								  col, isnull);

	return *isnull ? 0 : DatumGetInt64(d);
}

/* Columns of pgq_queue_stats(), in order. */
enum
{
	SC_QUEUE, SC_NAME, SC_READY, SC_SCHEDULED, SC_IN_FLIGHT, SC_EXPIRED,
	SC_DEAD, SC_DONE, SC_OLDEST_AGE, SC_NEXT_EXPIRY,
	SC_FIRST_COUNTER,			/* then one column per reported counter */
	SC_COUNTERS_SINCE = SC_FIRST_COUNTER + 10,
	SC_GAUGES_AS_OF,
	STATS_COLS
};

/* The counters pgq_queue_stats reports, in column order. */
static const PgqCounter reported_counters[10] = {
	PGQ_C_PUBLISHED, PGQ_C_CONSUMED, PGQ_C_ACKED, PGQ_C_NACKED,
	PGQ_C_DISCARDED, PGQ_C_EXTENDED, PGQ_C_RECLAIMED, PGQ_C_EXPIRED_DEAD,
	PGQ_C_REQUEUED, PGQ_C_DELETED
};

static void
visit_stats(PgqQueue *queue, ReturnSetInfo *rsinfo, TimestampTz now)
{
	Datum		values[STATS_COLS];
	bool		nulls[STATS_COLS];
	Datum		arg = TimestampTzGetDatum(now);
	PgqQueueStats stats;
	bool		have_stats = pgq_stats_read(MyDatabaseId, queue->relid, &stats);
	bool		exact_now = pgq_shared == NULL;
	int64		in_flight,
				pending;
	bool		isnull;
	Datum		oldest;
	int			rc;

	memset(nulls, false, sizeof(nulls));
	values[SC_QUEUE] = ObjectIdGetDatum(queue->relid);
	values[SC_NAME] = CStringGetTextDatum(queue->relname);

	/* what depends on the clock, through the partial indexes */
	rc = SPI_execute_plan(pgq_plan(queue, PGQ_PLAN_STATS), &arg, NULL, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "pgq: stats of \"%s\" failed", queue->relname);
	in_flight = get_int64(1, &isnull);
	pending = get_int64(2, &isnull);
	values[SC_IN_FLIGHT] = Int64GetDatum(in_flight);
	values[SC_SCHEDULED] = Int64GetDatum(pending - in_flight);
	values[SC_EXPIRED] = Int64GetDatum(get_int64(3, &isnull));
	oldest = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4,
						   &nulls[SC_OLDEST_AGE]);
	if (!nulls[SC_OLDEST_AGE])
		values[SC_OLDEST_AGE] = DirectFunctionCall2(timestamp_mi, arg, oldest);
	values[SC_NEXT_EXPIRY] = SPI_getbinval(SPI_tuptable->vals[0],
										   SPI_tuptable->tupdesc, 5,
										   &nulls[SC_NEXT_EXPIRY]);

	/* row counts: gauges kept at commit, or counted when there are none */
	if (exact_now)
	{
		rc = SPI_execute_plan(pgq_plan(queue, PGQ_PLAN_COUNT), NULL, NULL, true, 1);
		if (rc != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "pgq: count of \"%s\" failed", queue->relname);
		stats.gauges[PGQ_G_UNFINISHED] = get_int64(1, &isnull);
		stats.gauges[PGQ_G_DONE] = get_int64(2, &isnull);
		stats.gauges[PGQ_G_DEAD] = get_int64(3, &isnull);
	}
	if (exact_now || (have_stats && stats.gauges_valid))
	{
		values[SC_READY] = Int64GetDatum(Max(stats.gauges[PGQ_G_UNFINISHED] - pending, 0));
		values[SC_DEAD] = Int64GetDatum(stats.gauges[PGQ_G_DEAD]);
		values[SC_DONE] = Int64GetDatum(stats.gauges[PGQ_G_DONE]);
		values[SC_GAUGES_AS_OF] = exact_now ? arg : TimestampTzGetDatum(stats.rebuilt_at);
	}
	else
		nulls[SC_READY] = nulls[SC_DEAD] = nulls[SC_DONE] = nulls[SC_GAUGES_AS_OF] = true;

	/* counters since server start: only with shared memory */
	for (int i = 0; i < lengthof(reported_counters); i++)
	{
		values[SC_FIRST_COUNTER + i] =
			Int64GetDatum(have_stats ? stats.counters[reported_counters[i]] : 0);
		nulls[SC_FIRST_COUNTER + i] = exact_now;
	}
	if (exact_now)
		nulls[SC_COUNTERS_SINCE] = true;
	else
		values[SC_COUNTERS_SINCE] = TimestampTzGetDatum(pgq_shared->started_at);

	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * pgq_queue_stats() returns one row per queue the role may watch; see the
 * pgq_queue_stats view for the columns.
 */
Datum
pgq_queue_stats(PG_FUNCTION_ARGS)
{
	InitMaterializedSRF(fcinfo, 0);
	for_each_visible_queue((ReturnSetInfo *) fcinfo->resultinfo, visit_stats);
	return (Datum) 0;
}

/* Copy every row of the last SPI result, prefixed with the queue. */
static void
put_rows_with_queue(PgqQueue *queue, ReturnSetInfo *rsinfo)
{
	TupleDesc	desc = SPI_tuptable->tupdesc;
	int			natts = desc->natts;
	Datum	   *values = palloc((natts + 1) * sizeof(Datum));
	bool	   *nulls = palloc((natts + 1) * sizeof(bool));

	for (uint64 r = 0; r < SPI_processed; r++)
	{
		values[0] = ObjectIdGetDatum(queue->relid);
		nulls[0] = false;
		for (int c = 0; c < natts; c++)
			values[c + 1] = SPI_getbinval(SPI_tuptable->vals[r], desc, c + 1,
										  &nulls[c + 1]);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	pfree(values);
	pfree(nulls);
}

static void
visit_in_flight(PgqQueue *queue, ReturnSetInfo *rsinfo, TimestampTz now)
{
	Datum		arg = TimestampTzGetDatum(now);

	if (SPI_execute_plan(pgq_plan(queue, PGQ_PLAN_IN_FLIGHT), &arg, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pgq: in-flight list of \"%s\" failed", queue->relname);
	put_rows_with_queue(queue, rsinfo);
}

/* pgq_in_flight_messages(): behind the pgq_in_flight view. */
Datum
pgq_in_flight_messages(PG_FUNCTION_ARGS)
{
	InitMaterializedSRF(fcinfo, 0);
	for_each_visible_queue((ReturnSetInfo *) fcinfo->resultinfo, visit_in_flight);
	return (Datum) 0;
}

static void
visit_failed(PgqQueue *queue, ReturnSetInfo *rsinfo, TimestampTz now)
{
	if (SPI_execute_plan(pgq_plan(queue, PGQ_PLAN_FAILED), NULL, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "pgq: failure list of \"%s\" failed", queue->relname);
	put_rows_with_queue(queue, rsinfo);
}

/* pgq_failed_messages(): behind the pgq_failures view. */
Datum
pgq_failed_messages(PG_FUNCTION_ARGS)
{
	InitMaterializedSRF(fcinfo, 0);
	for_each_visible_queue((ReturnSetInfo *) fcinfo->resultinfo, visit_failed);
	return (Datum) 0;
}
